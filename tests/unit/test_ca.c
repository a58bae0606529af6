/* Placeholder being written; see tests/meson.build. */
#include "runner.h"

Suite *idm_test_suite(void)
{
    return suite_create("ca");
}
