/* The context: lifetime, log sink, injected clock and random source. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <idm/idm.h>

#include "runner.h"

struct log_capture {
    int count;
    idm_log_level last_level;
    char last_component[32];
    char last_message[256];
};

static void capture_log(idm_log_level level, const char *component, const char *message,
                        void *user_data)
{
    struct log_capture *cap = user_data;
    cap->count++;
    cap->last_level = level;
    snprintf(cap->last_component, sizeof cap->last_component, "%s", component);
    snprintf(cap->last_message, sizeof cap->last_message, "%s", message);
}

static int64_t fixed_clock(void *user_data)
{
    return *(const int64_t *)user_data;
}

/* A deterministic source: 0, 1, 2, ... continuing across calls. */
static int counting_random(void *buf, size_t len, void *user_data)
{
    unsigned char *next = user_data;
    unsigned char *out = buf;
    for (size_t i = 0; i < len; i++)
        out[i] = (*next)++;
    return 0;
}

static int failing_random(void *buf, size_t len, void *user_data)
{
    (void)user_data;
    memset(buf, 0x5a, len); /* partial output the library must not pass on */
    return 7;
}

START_TEST(test_free_nulls_the_callers_pointer)
{
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_ptr_nonnull(ctx);
    idm_ctx_free(&ctx);
    ck_assert_ptr_null(ctx);
    idm_ctx_free(&ctx); /* freeing again is harmless */
    idm_ctx_free(NULL);
}
END_TEST

START_TEST(test_log_callback_receives_messages_up_to_the_level)
{
    idm_ctx_t *ctx = NULL;
    struct log_capture cap = {0};
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_log_callback(ctx, capture_log, &cap), IDM_OK);

    /* Switching the clock is reported at info level, the default. */
    ck_assert_int_eq(idm_ctx_set_clock(ctx, NULL, NULL), IDM_OK);
    ck_assert_int_eq(cap.count, 1);
    ck_assert_int_eq(cap.last_level, IDM_LOG_INFO);
    ck_assert_str_eq(cap.last_component, "core");
    ck_assert_str_eq(cap.last_message, "clock: the system clock");

    /* At error level, info messages are dropped. */
    ck_assert_int_eq(idm_ctx_set_log_level(ctx, IDM_LOG_ERROR), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_random(ctx, NULL, NULL), IDM_OK);
    ck_assert_int_eq(cap.count, 1);

    /* Without a callback nothing is delivered. */
    ck_assert_int_eq(idm_ctx_set_log_level(ctx, IDM_LOG_DEBUG), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_log_callback(ctx, NULL, &cap), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_random(ctx, NULL, NULL), IDM_OK);
    ck_assert_int_eq(cap.count, 1);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_log_level_names)
{
    ck_assert_str_eq(idm_log_level_name(IDM_LOG_ERROR), "error");
    ck_assert_str_eq(idm_log_level_name(IDM_LOG_WARNING), "warning");
    ck_assert_str_eq(idm_log_level_name(IDM_LOG_INFO), "info");
    ck_assert_str_eq(idm_log_level_name(IDM_LOG_DEBUG), "debug");
    ck_assert_str_eq(idm_log_level_name((idm_log_level)4), "unknown");
    ck_assert_str_eq(idm_log_level_name((idm_log_level)-1), "unknown");
}
END_TEST

START_TEST(test_injected_clock_is_used_until_reset)
{
    idm_ctx_t *ctx = NULL;
    int64_t fixed = INT64_C(1700000000123);
    int64_t now = 0;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);

    ck_assert_int_eq(idm_ctx_set_clock(ctx, fixed_clock, &fixed), IDM_OK);
    ck_assert_int_eq(idm_ctx_now(ctx, &now), IDM_OK);
    ck_assert_int_eq(now, fixed);
    fixed += 5000;
    ck_assert_int_eq(idm_ctx_now(ctx, &now), IDM_OK);
    ck_assert_int_eq(now, INT64_C(1700000005123));

    ck_assert_int_eq(idm_ctx_set_clock(ctx, NULL, NULL), IDM_OK);
    int64_t before = (int64_t)time(NULL) * 1000;
    ck_assert_int_eq(idm_ctx_now(ctx, &now), IDM_OK);
    int64_t after = ((int64_t)time(NULL) + 1) * 1000;
    ck_assert_int_ge(now, before);
    ck_assert_int_le(now, after);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_injected_random_source_is_deterministic)
{
    idm_ctx_t *ctx = NULL;
    unsigned char next = 0;
    unsigned char buf[4];
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_random(ctx, counting_random, &next), IDM_OK);

    ck_assert_int_eq(idm_ctx_random_bytes(ctx, buf, sizeof buf), IDM_OK);
    ck_assert_mem_eq(buf, "\x00\x01\x02\x03", 4);
    ck_assert_int_eq(idm_ctx_random_bytes(ctx, buf, sizeof buf), IDM_OK);
    ck_assert_mem_eq(buf, "\x04\x05\x06\x07", 4);
    /* Zero bytes ask nothing of the source, and need no buffer. */
    ck_assert_int_eq(idm_ctx_random_bytes(ctx, NULL, 0), IDM_OK);
    ck_assert_int_eq(next, 8);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_failing_random_source_is_an_error_and_zeroes_output)
{
    idm_ctx_t *ctx = NULL;
    unsigned char buf[16];
    unsigned char zero[16] = {0};
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_random(ctx, failing_random, NULL), IDM_OK);

    ck_assert_idm_error(idm_ctx_random_bytes(ctx, buf, sizeof buf), IDM_ERR_CRYPTO,
                        "random source returned 7 for 16 bytes");
    ck_assert_mem_eq(buf, zero, sizeof buf);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_default_random_source_gives_fresh_bytes)
{
    idm_ctx_t *ctx = NULL;
    unsigned char a[32], b[32];
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_int_eq(idm_ctx_random_bytes(ctx, a, sizeof a), IDM_OK);
    ck_assert_int_eq(idm_ctx_random_bytes(ctx, b, sizeof b), IDM_OK);
    ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
    idm_ctx_free(&ctx);
}
END_TEST

/* The library must never write to stdout or stderr by itself: run every
 * entry point, failing ones included, with both redirected to a file. */
START_TEST(test_library_writes_nothing_to_stdout_or_stderr)
{
    char path[] = "/tmp/idm-test-output-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO);
    int saved_err = dup(STDERR_FILENO);
    ck_assert_int_ge(saved_out, 0);
    ck_assert_int_ge(saved_err, 0);
    ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);

    idm_ctx_t *ctx = NULL;
    unsigned char buf[8];
    int64_t now;
    int rcs[12];
    int n = 0;
    rcs[n++] = idm_ctx_new(NULL);
    rcs[n++] = idm_ctx_new(&ctx);
    rcs[n++] = idm_ctx_set_log_level(ctx, (idm_log_level)99);
    rcs[n++] = idm_ctx_set_log_level(ctx, IDM_LOG_DEBUG);
    rcs[n++] = idm_ctx_set_clock(ctx, NULL, NULL);
    rcs[n++] = idm_ctx_set_random(ctx, failing_random, NULL);
    rcs[n++] = idm_ctx_random_bytes(ctx, buf, sizeof buf);
    rcs[n++] = idm_ctx_random_bytes(ctx, NULL, 3);
    rcs[n++] = idm_ctx_now(NULL, &now);
    rcs[n++] = idm_ctx_set_log_callback(NULL, NULL, NULL);
    (void)idm_strerror(12345);
    (void)idm_strerror_name(-12345);
    (void)idm_last_error_message();
    idm_ctx_free(&ctx);
    fflush(stdout);
    fflush(stderr);

    ck_assert_int_ge(dup2(saved_out, STDOUT_FILENO), 0);
    ck_assert_int_ge(dup2(saved_err, STDERR_FILENO), 0);
    close(saved_out);
    close(saved_err);

    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    close(fd);
    ck_assert_int_eq(st.st_size, 0);
    ck_assert_int_eq(rcs[0], IDM_ERR_INVALID_ARG);
    ck_assert_int_eq(rcs[6], IDM_ERR_CRYPTO);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("context");
    TCase *life = tcase_create("lifetime");
    tcase_add_test(life, test_free_nulls_the_callers_pointer);
    suite_add_tcase(s, life);

    TCase *log = tcase_create("log");
    tcase_add_test(log, test_log_callback_receives_messages_up_to_the_level);
    tcase_add_test(log, test_log_level_names);
    tcase_add_test(log, test_library_writes_nothing_to_stdout_or_stderr);
    suite_add_tcase(s, log);

    TCase *inject = tcase_create("injection");
    tcase_add_test(inject, test_injected_clock_is_used_until_reset);
    tcase_add_test(inject, test_injected_random_source_is_deterministic);
    tcase_add_test(inject, test_failing_random_source_is_an_error_and_zeroes_output);
    tcase_add_test(inject, test_default_random_source_gives_fresh_bytes);
    suite_add_tcase(s, inject);
    return s;
}
