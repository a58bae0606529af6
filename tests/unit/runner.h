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

/* The first reader of the PC/SC test stack, as tests/vcard/with-stack.sh
 * names it in IDM_TEST_READER0; aborts the test when it is not set, so a
 * suite run without the stack fails instead of proving nothing. */
const char *test_stack_reader0(void);

/* Fails the test with the library's message when a call does not succeed. */
#define ck_ok(call)                                                                       \
    do {                                                                                  \
        int ok_rc_ = (call);                                                              \
        ck_assert_msg(ok_rc_ == IDM_OK, "%s: %s (%d): %s", #call,                          \
                      idm_strerror_name(ok_rc_), ok_rc_, idm_last_error_message());       \
    } while (0)

/* Failures collected without stopping, so that one run of a table-driven
 * test reports every bad row.  Messages are joined with blanks: Check
 * prints a failure as one TAP line.  Check carries at most 4 KiB of a
 * failure's message from a forked test (longer ones are lost: "Message
 * string too long", and the test dies without saying why), so the text is
 * cut below that. */
struct faults {
    int count;
    size_t used;
    char text[3900];
};

void fault(struct faults *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ck_assert_no_faults(f) \
    ck_assert_msg((f)->count == 0, "%d failure(s):%s", (f)->count, (f)->text)

#endif /* IDM_TESTS_RUNNER_H */
