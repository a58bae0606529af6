#ifndef IDM_TESTS_RUNNER_H
#define IDM_TESTS_RUNNER_H

#include <check.h>
#include <string.h>

/* Defined by each test file: the suite that runner.c runs. */
Suite *idm_test_suite(void);

/* Asserts that a call failed with `code` and that the thread's detail
 * message mentions `needle` (a function or argument name, a value). */
#define ck_assert_idm_error(rc, code, needle)                                     \
    do {                                                                          \
        int rc_ = (rc);                                                           \
        ck_assert_msg(rc_ == (code), "expected %s, got %s (%d): %s",              \
                      idm_strerror_name(code), idm_strerror_name(rc_), rc_,       \
                      idm_last_error_message());                                  \
        ck_assert_msg(strstr(idm_last_error_message(), (needle)) != NULL,         \
                      "error message \"%s\" does not mention \"%s\"",             \
                      idm_last_error_message(), (needle));                        \
    } while (0)

#endif /* IDM_TESTS_RUNNER_H */
