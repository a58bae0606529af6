/*
 * Every public function, called with NULL and with garbage: each must answer
 * with an error code and a message naming the function and the argument,
 * never crash.  tests/scripts/check-arg-coverage.sh fails when a symbol of
 * src/libidm.map is not called in this file, so a new function cannot skip it.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <idm/idm.h>

#include "runner.h"

/* Memory that is not a context: zeroed, or filled with a pattern as freed or
 * uninitialised memory would be. */
static uint64_t zeroed_memory[64];
static uint64_t patterned_memory[64];

static idm_ctx_t *garbage_ctx(int which)
{
    memset(patterned_memory, 0xa5, sizeof patterned_memory);
    return (idm_ctx_t *)(void *)(which == 0 ? zeroed_memory : patterned_memory);
}

static void log_sink(idm_log_level level, const char *component, const char *message,
                     void *user_data)
{
    (void)level;
    (void)component;
    (void)message;
    (void)user_data;
}

static int64_t clock_source(void *user_data)
{
    (void)user_data;
    return 0;
}

static int random_source(void *buf, size_t len, void *user_data)
{
    (void)user_data;
    memset(buf, 1, len);
    return 0;
}

/* One entry per context function: how to call it with a given context. */
struct ctx_call {
    const char *name;
    int (*call)(idm_ctx_t *ctx);
};

static int call_set_log_callback(idm_ctx_t *ctx)
{
    return idm_ctx_set_log_callback(ctx, log_sink, NULL);
}
static int call_set_log_level(idm_ctx_t *ctx)
{
    return idm_ctx_set_log_level(ctx, IDM_LOG_DEBUG);
}
static int call_set_clock(idm_ctx_t *ctx)
{
    return idm_ctx_set_clock(ctx, clock_source, NULL);
}
static int call_set_random(idm_ctx_t *ctx)
{
    return idm_ctx_set_random(ctx, random_source, NULL);
}
static int call_now(idm_ctx_t *ctx)
{
    int64_t now;
    return idm_ctx_now(ctx, &now);
}
static int call_random_bytes(idm_ctx_t *ctx)
{
    unsigned char buf[4];
    return idm_ctx_random_bytes(ctx, buf, sizeof buf);
}

static const struct ctx_call ctx_calls[] = {
    {"idm_ctx_set_log_callback", call_set_log_callback},
    {"idm_ctx_set_log_level", call_set_log_level},
    {"idm_ctx_set_clock", call_set_clock},
    {"idm_ctx_set_random", call_set_random},
    {"idm_ctx_now", call_now},
    {"idm_ctx_random_bytes", call_random_bytes},
};
#define N_CTX_CALLS (sizeof ctx_calls / sizeof ctx_calls[0])

START_TEST(test_ctx_functions_refuse_null_ctx)
{
    const struct ctx_call *c = &ctx_calls[_i];
    ck_assert_idm_error(c->call(NULL), IDM_ERR_INVALID_ARG, c->name);
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "'ctx' is NULL"));
}
END_TEST

START_TEST(test_ctx_functions_refuse_garbage_ctx)
{
    const struct ctx_call *c = &ctx_calls[_i];
    for (int which = 0; which < 2; which++) {
        ck_assert_idm_error(c->call(garbage_ctx(which)), IDM_ERR_INVALID_ARG, c->name);
        ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "not point to a live idm_ctx_t"));
    }
}
END_TEST

START_TEST(test_ctx_functions_accept_a_valid_ctx)
{
    const struct ctx_call *c = &ctx_calls[_i];
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_int_eq(c->call(ctx), IDM_OK);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_ctx_new_refuses_null_out)
{
    ck_assert_idm_error(idm_ctx_new(NULL), IDM_ERR_INVALID_ARG, "idm_ctx_new: argument 'out' is NULL");
}
END_TEST

START_TEST(test_ctx_free_accepts_null)
{
    idm_ctx_t *ctx = NULL;
    idm_ctx_free(NULL);
    idm_ctx_free(&ctx);
    ck_assert_ptr_null(ctx);
}
END_TEST

START_TEST(test_ctx_free_leaves_garbage_alone)
{
    for (int which = 0; which < 2; which++) {
        idm_ctx_t *not_a_ctx = garbage_ctx(which);
        idm_ctx_free(&not_a_ctx); /* must not hand it to free() */
        ck_assert_ptr_eq(not_a_ctx, garbage_ctx(which));
    }
}
END_TEST

START_TEST(test_set_log_level_refuses_out_of_range_levels)
{
    const int bad[] = {-1, 4, 99, INT_MIN, INT_MAX};
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char value[32];
        snprintf(value, sizeof value, "'level' is %d", bad[i]);
        ck_assert_idm_error(idm_ctx_set_log_level(ctx, (idm_log_level)bad[i]),
                            IDM_ERR_INVALID_ARG, value);
    }
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_now_refuses_null_out)
{
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_idm_error(idm_ctx_now(ctx, NULL), IDM_ERR_INVALID_ARG, "'out_ms' is NULL");
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_random_bytes_refuses_null_buffer)
{
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_idm_error(idm_ctx_random_bytes(ctx, NULL, 16), IDM_ERR_INVALID_ARG, "'buf' is NULL");
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_setters_accept_null_callbacks)
{
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_log_callback(ctx, NULL, NULL), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_clock(ctx, NULL, NULL), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_random(ctx, NULL, NULL), IDM_OK);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_string_functions_never_return_null)
{
    const int codes[] = {INT_MIN, -18, -1, 0, 1, INT_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        ck_assert_ptr_nonnull(idm_strerror(codes[i]));
        ck_assert_ptr_nonnull(idm_strerror_name(codes[i]));
        ck_assert_ptr_nonnull(idm_log_level_name((idm_log_level)codes[i]));
    }
    ck_assert_ptr_nonnull(idm_last_error_message());
    ck_assert_ptr_nonnull(idm_version_string());
}
END_TEST

START_TEST(test_version_matches_the_headers)
{
    ck_assert_uint_eq(idm_version(), IDM_VERSION_NUMBER);
    ck_assert_str_eq(idm_version_string(), IDM_VERSION_STRING);
    ck_assert_uint_eq(idm_version() >> 16, IDM_VERSION_MAJOR);
    ck_assert_uint_eq((idm_version() >> 8) & 0xff, IDM_VERSION_MINOR);
    ck_assert_uint_eq(idm_version() & 0xff, IDM_VERSION_PATCH);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("api_args");
    TCase *ctx = tcase_create("context");
    tcase_add_loop_test(ctx, test_ctx_functions_refuse_null_ctx, 0, (int)N_CTX_CALLS);
    tcase_add_loop_test(ctx, test_ctx_functions_refuse_garbage_ctx, 0, (int)N_CTX_CALLS);
    tcase_add_loop_test(ctx, test_ctx_functions_accept_a_valid_ctx, 0, (int)N_CTX_CALLS);
    tcase_add_test(ctx, test_ctx_new_refuses_null_out);
    tcase_add_test(ctx, test_ctx_free_accepts_null);
    tcase_add_test(ctx, test_ctx_free_leaves_garbage_alone);
    tcase_add_test(ctx, test_set_log_level_refuses_out_of_range_levels);
    tcase_add_test(ctx, test_now_refuses_null_out);
    tcase_add_test(ctx, test_random_bytes_refuses_null_buffer);
    tcase_add_test(ctx, test_setters_accept_null_callbacks);
    suite_add_tcase(s, ctx);

    TCase *plain = tcase_create("plain");
    tcase_add_test(plain, test_string_functions_never_return_null);
    tcase_add_test(plain, test_version_matches_the_headers);
    suite_add_tcase(s, plain);
    return s;
}
