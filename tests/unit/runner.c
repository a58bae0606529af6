/*
 * The main() of every Check suite.  Each test file defines idm_test_suite();
 * results go to stdout as TAP so that `meson test` counts every test case,
 * and the exit status says whether all passed.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
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

void fault(struct faults *f, const char *fmt, ...)
{
    f->count++;
    if (f->used + 2 >= sizeof f->text)
        return;
    f->text[f->used++] = ' ';
    f->text[f->used] = '\0';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(f->text + f->used, sizeof f->text - f->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        f->used += (size_t)n < sizeof f->text - f->used ? (size_t)n : sizeof f->text - f->used - 1;
    /* One TAP line: no line breaks inside. */
    for (char *p = f->text; *p != '\0'; p++) {
        if (*p == '\n')
            *p = ' ';
    }
}

const char *test_stack_reader0(void)
{
    const char *r = getenv("IDM_TEST_READER0");
    if (r == NULL || *r == '\0')
        ck_abort_msg("IDM_TEST_READER0 is not set: run this suite through "
                     "tests/vcard/with-stack.sh SOURCE_ROOT -- COMMAND");
    return r;
}
