/* Error codes, their names and texts, and the thread-local detail message. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <idm/idm.h>

#include "runner.h"

static const int all_codes[] = {
    IDM_OK, IDM_ERR_INVALID_ARG, IDM_ERR_NO_MEMORY, IDM_ERR_STATE, IDM_ERR_NOT_FOUND,
    IDM_ERR_EXISTS, IDM_ERR_CANCELLED, IDM_ERR_BACKEND, IDM_ERR_STORE, IDM_ERR_CRYPTO,
    IDM_ERR_CARD, IDM_ERR_IO, IDM_ERR_PARSE, IDM_ERR_UNSUPPORTED, IDM_ERR_TIMEOUT,
    IDM_ERR_DISABLED, IDM_ERR_INTERNAL, IDM_ERR_INTEGRITY,
};

START_TEST(test_every_code_has_a_distinct_name_and_text)
{
    size_t n = sizeof all_codes / sizeof all_codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *name = idm_strerror_name(all_codes[i]);
        const char *text = idm_strerror(all_codes[i]);
        ck_assert_msg(strncmp(name, "IDM_", 4) == 0, "code %d has name %s", all_codes[i], name);
        ck_assert_str_ne(name, "IDM_ERR_UNKNOWN");
        ck_assert_str_ne(text, "unknown error code");
        for (size_t j = 0; j < i; j++) {
            ck_assert_str_ne(name, idm_strerror_name(all_codes[j]));
            ck_assert_str_ne(text, idm_strerror(all_codes[j]));
        }
    }
    ck_assert_str_eq(idm_strerror_name(IDM_ERR_INVALID_ARG), "IDM_ERR_INVALID_ARG");
    ck_assert_str_eq(idm_strerror(IDM_OK), "success");
}
END_TEST

START_TEST(test_codes_keep_their_abi_values)
{
    /* These numbers are part of the ABI: a renumbering must fail here. */
    ck_assert_int_eq(IDM_OK, 0);
    ck_assert_int_eq(IDM_ERR_INVALID_ARG, -1);
    ck_assert_int_eq(IDM_ERR_NO_MEMORY, -2);
    ck_assert_int_eq(IDM_ERR_STATE, -3);
    ck_assert_int_eq(IDM_ERR_NOT_FOUND, -4);
    ck_assert_int_eq(IDM_ERR_EXISTS, -5);
    ck_assert_int_eq(IDM_ERR_CANCELLED, -6);
    ck_assert_int_eq(IDM_ERR_BACKEND, -7);
    ck_assert_int_eq(IDM_ERR_STORE, -8);
    ck_assert_int_eq(IDM_ERR_CRYPTO, -9);
    ck_assert_int_eq(IDM_ERR_CARD, -10);
    ck_assert_int_eq(IDM_ERR_IO, -11);
    ck_assert_int_eq(IDM_ERR_PARSE, -12);
    ck_assert_int_eq(IDM_ERR_UNSUPPORTED, -13);
    ck_assert_int_eq(IDM_ERR_TIMEOUT, -14);
    ck_assert_int_eq(IDM_ERR_DISABLED, -15);
    ck_assert_int_eq(IDM_ERR_INTERNAL, -16);
    ck_assert_int_eq(IDM_ERR_INTEGRITY, -17);
}
END_TEST

START_TEST(test_unknown_codes_have_fallback_strings)
{
    const int unknown[] = {1, 42, -18, -1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ck_assert_str_eq(idm_strerror(unknown[i]), "unknown error code");
        ck_assert_str_eq(idm_strerror_name(unknown[i]), "IDM_ERR_UNKNOWN");
    }
}
END_TEST

struct thread_view {
    char message[256]; /* the new thread's message, copied before it ends */
};

static void *read_message_in_new_thread(void *arg)
{
    struct thread_view *view = arg;
    const char *msg = idm_last_error_message();
    if (msg != NULL)
        snprintf(view->message, sizeof view->message, "%s", msg);
    else
        snprintf(view->message, sizeof view->message, "(NULL)");
    return NULL;
}

START_TEST(test_last_error_message_is_per_thread)
{
    ck_assert_idm_error(idm_ctx_new(NULL), IDM_ERR_INVALID_ARG, "idm_ctx_new");

    /* A fresh thread has seen no failure: its message is "", not NULL and
     * not the main thread's. */
    struct thread_view view = {"unset"};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, read_message_in_new_thread, &view), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_str_eq(view.message, "");

    /* The main thread keeps its own message. */
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "idm_ctx_new"));
}
END_TEST

START_TEST(test_last_error_message_survives_a_later_success)
{
    idm_ctx_t *ctx = NULL;
    ck_assert_idm_error(idm_ctx_set_log_level(NULL, IDM_LOG_DEBUG), IDM_ERR_INVALID_ARG, "'ctx'");
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "idm_ctx_set_log_level"));
    idm_ctx_free(&ctx);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("codes");
    tcase_add_test(tc, test_every_code_has_a_distinct_name_and_text);
    tcase_add_test(tc, test_codes_keep_their_abi_values);
    tcase_add_test(tc, test_unknown_codes_have_fallback_strings);
    tcase_add_test(tc, test_last_error_message_is_per_thread);
    tcase_add_test(tc, test_last_error_message_survives_a_later_success);
    suite_add_tcase(s, tc);
    return s;
}
