/* White-box: the detail message buffer itself (links the library objects). */
#include <string.h>

#include <idm/idm.h>

#include "core/error_impl.h"
#include "runner.h"

START_TEST(test_message_names_the_function)
{
    ck_assert_int_eq(idm_error_set("idm_card_abort", IDM_ERR_STATE, "card %d is in state '%s'",
                                   4711, "ordered"),
                     IDM_ERR_STATE);
    ck_assert_str_eq(idm_last_error_message(), "idm_card_abort: card 4711 is in state 'ordered'");
}
END_TEST

/* A public function ends with idm_error_prefix() whatever its result: a
 * failure gets the function's name in front, success passes untouched. */
START_TEST(test_prefix_names_a_failure_and_passes_success)
{
    idm_error_set(NULL, IDM_ERR_STATE, "card 7 is in state 'ordered'");
    ck_assert_int_eq(idm_error_prefix("idm_external_abort", IDM_ERR_STATE), IDM_ERR_STATE);
    ck_assert_str_eq(idm_last_error_message(),
                     "idm_external_abort: card 7 is in state 'ordered'");
    ck_assert_int_eq(idm_error_prefix("idm_external_abort", IDM_OK), IDM_OK);
    ck_assert_str_eq(idm_last_error_message(),
                     "idm_external_abort: card 7 is in state 'ordered'");
}
END_TEST

START_TEST(test_overlong_message_is_cut_with_an_ellipsis)
{
    char longtext[4096];
    memset(longtext, 'x', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    idm_error_set("f", IDM_ERR_PARSE, "%s", longtext);
    const char *msg = idm_last_error_message();
    size_t len = strlen(msg);
    ck_assert_uint_lt(len, sizeof longtext);
    ck_assert_str_eq(msg + len - 3, "...");
    ck_assert_int_eq(strncmp(msg, "f: xxx", 6), 0);
}
END_TEST

START_TEST(test_overlong_function_name_does_not_overflow)
{
    char longname[3000];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    idm_error_set(longname, IDM_ERR_PARSE, "detail");
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "detail"));
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("error_message");
    TCase *tc = tcase_create("buffer");
    tcase_add_test(tc, test_message_names_the_function);
    tcase_add_test(tc, test_prefix_names_a_failure_and_passes_success);
    tcase_add_test(tc, test_overlong_message_is_cut_with_an_ellipsis);
    tcase_add_test(tc, test_overlong_function_name_does_not_overflow);
    suite_add_tcase(s, tc);
    return s;
}
