/*
 * The main() of every Check suite.  Each test file defines idm_test_suite();
 * results go to stdout as TAP so that `meson test` counts every test case,
 * and the exit status says whether all passed.
 */
#include <check.h>
#include <stdlib.h>

#include "runner.h"

int main(void)
{
    SRunner *sr = srunner_create(idm_test_suite());
    if (getenv("CK_TAP_LOG_FILE_NAME") == NULL)
        srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
