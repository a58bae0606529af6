/*
 * The store under attack and under stress: audit rows edited with the
 * sqlite3 shell, two processes writing at once, and a writer killed with
 * SIGKILL in the middle of its transactions.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

/* Runs the sqlite3 shell on a store; fails the test if it fails. */
static void sqlite3_shell(const char *path, const char *sql)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"%s\"", path, sql);
    int status = system(cmd);
    ck_assert_msg(status == 0, "'%s' exited with %d", cmd, status);
}

/* Reads one line of output of the sqlite3 shell. */
static void sqlite3_query(const char *path, const char *sql, char *out, size_t size)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"%s\"", path, sql);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    out[0] = '\0';
    if (fgets(out, (int)size, p) != NULL)
        out[strcspn(out, "\n")] = '\0';
    ck_assert_int_eq(pclose(p), 0);
}

/* Creates a non-personal local card and walks it n steps along the local
 * graph, adding a certificate once it is approved. */
static const idm_card_state walk[] = {
    IDM_CARD_REQUESTED, IDM_CARD_APPROVED, IDM_CARD_ISSUED, IDM_CARD_ACTIVE,
    IDM_CARD_INACTIVE,  IDM_CARD_ACTIVE,   IDM_CARD_LOCKED,
};

static int produce_card(idm_ctx_t *ctx, const char *actor, unsigned serial, size_t steps)
{
    idm_card_t *card = NULL;
    int rc = idm_card_new(ctx, actor, IDM_CARD_NON_PERSONAL, IDM_CARD_DIGITAL,
                          IDM_PRODUCTION_LOCAL, 0, "Reception desk", &card);
    for (size_t i = 0; rc == IDM_OK && i < steps && i < sizeof walk / sizeof walk[0]; i++) {
        rc = idm_card_set_state(card, actor, walk[i], NULL);
        if (rc == IDM_OK && walk[i] == IDM_CARD_APPROVED) {
            char hex[32];
            unsigned char *der;
            size_t len;
            snprintf(hex, sizeof hex, "%X", serial);
            fixture_certificate(hex, 1767225600, 1798761600, &der, &len);
            rc = idm_card_add_certificate(card, actor, der, len, NULL);
            free(der);
        }
    }
    idm_card_free(&card);
    return rc;
}

static idm_ctx_t *ctx_with_history(const char *path, int cards)
{
    idm_ctx_t *ctx = fixture_ctx(path);
    for (int i = 0; i < cards; i++)
        ck_assert_int_eq(produce_card(ctx, "operator", (unsigned)i + 1, 7), IDM_OK);
    return ctx;
}

START_TEST(test_editing_an_audit_row_breaks_the_chain_at_that_row)
{
    const char *path = fixture_store_path("tamper");
    idm_ctx_t *ctx = ctx_with_history(path, 3);
    int64_t broken = -1;
    ck_assert_int_eq(idm_audit_verify(ctx, &broken), IDM_OK);
    ck_assert_int_eq(broken, 0);
    idm_ctx_free(&ctx);

    sqlite3_shell(path, "UPDATE audit SET detail = 'nothing happened' WHERE seq = 12");

    ctx = fixture_ctx(path);
    ck_assert_idm_error(idm_audit_verify(ctx, &broken), IDM_ERR_INTEGRITY, "event 12");
    ck_assert_int_eq(broken, 12);
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "content was changed"));
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
}
END_TEST

START_TEST(test_each_kind_of_tampering_is_found_at_its_row)
{
    static const struct {
        const char *sql;
        int64_t first_broken;
        const char *why;
    } cases[] = {
        {"UPDATE audit SET actor = 'mallory' WHERE seq = 7", 7, "content was changed"},
        {"UPDATE audit SET to_state = 'active' WHERE seq = 9", 9, "content was changed"},
        {"UPDATE audit SET time_ms = time_ms + 1 WHERE seq = 3", 3, "content was changed"},
        {"DELETE FROM audit WHERE seq = 10", 10, "is missing"},
        {"UPDATE audit SET prev_hash = zeroblob(32) WHERE seq = 5", 5, "link"},
        {"UPDATE audit SET hash = x'00' WHERE seq = 6", 6, "content was changed"},
        {"UPDATE audit SET detail = NULL WHERE seq = 8", 8, "content was changed"},
    };
    char message[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = fixture_store_path("tamper-kinds");
        idm_ctx_t *ctx = ctx_with_history(path, 2);
        idm_ctx_free(&ctx);
        /* A NULL detail needs the NOT NULL constraint out of the way: the
         * shell can rewrite the schema, so the library must not trust it. */
        if (strstr(cases[i].sql, "NULL") != NULL)
            sqlite3_shell(path, "PRAGMA writable_schema=ON; UPDATE sqlite_schema SET sql = "
                                "replace(sql, 'detail TEXT NOT NULL', 'detail TEXT') WHERE "
                                "name = 'audit'");
        sqlite3_shell(path, cases[i].sql);
        ctx = fixture_ctx(path);
        int64_t broken = 0;
        snprintf(message, sizeof message, "event %" PRId64, cases[i].first_broken);
        ck_assert_idm_error(idm_audit_verify(ctx, &broken), IDM_ERR_INTEGRITY, message);
        ck_assert_msg(broken == cases[i].first_broken, "%s: broken at %" PRId64 ", expected %"
                      PRId64, cases[i].sql, broken, cases[i].first_broken);
        ck_assert_ptr_nonnull(strstr(idm_last_error_message(), cases[i].why));
        idm_ctx_free(&ctx);
        fixture_remove_store(path);
    }
}
END_TEST

/* Every card's state is the 'to' of its last audit event, the chain is
 * intact, and SQLite itself finds the file sound. */
static void assert_store_consistent(const char *path, size_t *ncards)
{
    idm_ctx_t *ctx = fixture_ctx(path);
    int64_t broken = 0;
    int rc = idm_audit_verify(ctx, &broken);
    ck_assert_msg(rc == IDM_OK, "audit chain broken at %" PRId64 ": %s", broken,
                  idm_last_error_message());

    idm_card_iter_t *it = NULL;
    idm_card_t *card = NULL;
    *ncards = 0;
    ck_assert_int_eq(idm_card_iter_new(ctx, &it), IDM_OK);
    while (idm_card_iter_next(it, &card) == IDM_OK && card != NULL) {
        int64_t id;
        idm_card_state state;
        ck_assert_int_eq(idm_card_get_id(card, &id), IDM_OK);
        ck_assert_int_eq(idm_card_get_state(card, &state), IDM_OK);

        idm_audit_iter_t *events = NULL;
        idm_audit_event_t *ev = NULL;
        char last_to[32] = "";
        ck_assert_int_eq(idm_audit_iter_new(ctx, &events), IDM_OK);
        ck_assert_int_eq(idm_audit_iter_set_object(events, IDM_OBJECT_CARD, id), IDM_OK);
        while (idm_audit_iter_next(events, &ev) == IDM_OK && ev != NULL) {
            const char *to = NULL;
            ck_assert_int_eq(idm_audit_event_get_states(ev, NULL, &to), IDM_OK);
            if (to != NULL)
                snprintf(last_to, sizeof last_to, "%s", to);
            idm_audit_event_free(&ev);
        }
        idm_audit_iter_free(&events);
        ck_assert_msg(strcmp(last_to, idm_card_state_name(state)) == 0,
                      "card %" PRId64 " is '%s' but its last audit event says '%s'", id,
                      idm_card_state_name(state), last_to);
        idm_card_free(&card);
        (*ncards)++;
    }
    idm_card_iter_free(&it);
    idm_ctx_free(&ctx);

    char result[64];
    sqlite3_query(path, "PRAGMA integrity_check", result, sizeof result);
    ck_assert_str_eq(result, "ok");
}

/* A child process that produces cards until it is killed or has made
 * `limit` cards (0: no limit); exits 0 on success. */
static void run_writer(const char *path, const char *actor, unsigned first_serial, int limit)
{
    idm_ctx_t *ctx = NULL;
    if (idm_ctx_new(&ctx) != IDM_OK || idm_ctx_open_store(ctx, path) != IDM_OK)
        _exit(10);
    for (int i = 0; limit == 0 || i < limit; i++) {
        if (produce_card(ctx, actor, first_serial + (unsigned)i, 7) != IDM_OK) {
            fprintf(stderr, "%s: %s\n", actor, idm_last_error_message());
            _exit(11);
        }
    }
    idm_ctx_free(&ctx);
    _exit(0);
}

START_TEST(test_two_processes_write_one_store_without_errors)
{
    const char *path = fixture_store_path("two-writers");
    idm_ctx_t *ctx = fixture_ctx(path); /* creates the schema */
    idm_ctx_free(&ctx);

    enum { CARDS_EACH = 15 };
    pid_t a = fork();
    if (a == 0)
        run_writer(path, "station-a", 0x10000, CARDS_EACH);
    pid_t b = fork();
    if (b == 0)
        run_writer(path, "station-b", 0x20000, CARDS_EACH);
    ck_assert_int_gt(a, 0);
    ck_assert_int_gt(b, 0);
    int sa, sb;
    ck_assert_int_eq(waitpid(a, &sa, 0), a);
    ck_assert_int_eq(waitpid(b, &sb, 0), b);
    ck_assert_msg(WIFEXITED(sa) && WEXITSTATUS(sa) == 0, "writer a failed (status %d)", sa);
    ck_assert_msg(WIFEXITED(sb) && WEXITSTATUS(sb) == 0, "writer b failed (status %d)", sb);

    size_t ncards = 0;
    assert_store_consistent(path, &ncards);
    ck_assert_uint_eq(ncards, 2 * CARDS_EACH);

    /* Every step of both writers is in the one chain: per card its creation,
     * 7 moves, its certificate and that certificate's 4 changes (valid,
     * on_hold, valid, revoked). */
    char count[32];
    sqlite3_query(path, "SELECT count(*) FROM audit", count, sizeof count);
    ck_assert_int_eq(atoi(count), 2 * CARDS_EACH * (1 + 7 + 1 + 4));
    fixture_remove_store(path);
}
END_TEST

START_TEST(test_store_survives_sigkill_in_the_middle_of_transactions)
{
    const char *path = fixture_store_path("sigkill");
    idm_ctx_t *ctx = fixture_ctx(path);
    idm_ctx_free(&ctx);

    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    const char *env = getenv("IDM_KILL_ROUNDS");
    int rounds = env != NULL ? atoi(env) : 12;
    /* Slower runs (valgrind) need longer before the first commit. */
    env = getenv("IDM_KILL_PAUSE_MS");
    int pause_ms = env != NULL ? atoi(env) : 200;
    size_t before = 0;
    for (int round = 0; round < rounds; round++) {
        pid_t child = fork();
        if (child == 0)
            run_writer(path, "station-k", 0x100000u * (unsigned)(round + 1), 0);
        ck_assert_int_gt(child, 0);
        /* A random moment: long enough to be mid-work, never predictable. */
        long ms = 20 + (long)(rand_r(&seed) % (unsigned)pause_ms);
        struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
        ck_assert_int_eq(kill(child, SIGKILL), 0);
        int status;
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert_msg(WIFSIGNALED(status), "the writer ended by itself (status %d)", status);

        size_t ncards = 0;
        assert_store_consistent(path, &ncards);
        ck_assert_uint_ge(ncards, before);
        before = ncards;
    }
    ck_assert_msg(before > 0, "no card was committed in %d rounds", rounds);
    fixture_remove_store(path);
}
END_TEST

/* Collects the sequence numbers and times an iterator yields. */
static size_t collect_events(idm_audit_iter_t *it, int64_t *seqs, int64_t *times, size_t max)
{
    size_t n = 0;
    idm_audit_event_t *ev = NULL;
    while (idm_audit_iter_next(it, &ev) == IDM_OK && ev != NULL) {
        ck_assert_uint_lt(n, max);
        ck_assert_int_eq(idm_audit_event_get_seq(ev, &seqs[n], &times[n]), IDM_OK);
        n++;
        idm_audit_event_free(&ev);
    }
    return n;
}

START_TEST(test_audit_iterator_reads_a_time_range_and_an_object)
{
    const char *path = fixture_store_path("audit-range");
    idm_ctx_t *ctx = ctx_with_history(path, 2); /* 13 events per card */
    int64_t seqs[64], times[64];

    idm_audit_iter_t *it = NULL;
    ck_assert_int_eq(idm_audit_iter_new(ctx, &it), IDM_OK);
    size_t all = collect_events(it, seqs, times, 64);
    idm_audit_iter_free(&it);
    ck_assert_uint_eq(all, 26);
    for (size_t i = 0; i < all; i++) {
        ck_assert_int_eq(seqs[i], (int64_t)i + 1);
        if (i > 0)
            ck_assert_int_ge(times[i], times[i - 1]);
    }

    /* Events 5..9 by time, both ends included. */
    int64_t from = times[4], to = times[8];
    int64_t rseqs[64], rtimes[64];
    ck_assert_int_eq(idm_audit_iter_new(ctx, &it), IDM_OK);
    ck_assert_int_eq(idm_audit_iter_set_time_range(it, from, to), IDM_OK);
    size_t n = collect_events(it, rseqs, rtimes, 64);
    idm_audit_iter_free(&it);
    size_t expected = 0;
    for (size_t i = 0; i < all; i++)
        expected += times[i] >= from && times[i] <= to;
    ck_assert_uint_eq(n, expected);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_ge(rtimes[i], from);
        ck_assert_int_le(rtimes[i], to);
    }

    /* The second card's events, within a range that covers everything. */
    ck_assert_int_eq(idm_audit_iter_new(ctx, &it), IDM_OK);
    ck_assert_int_eq(idm_audit_iter_set_object(it, IDM_OBJECT_CARD, 2), IDM_OK);
    ck_assert_int_eq(idm_audit_iter_set_time_range(it, times[0], times[all - 1]), IDM_OK);
    n = collect_events(it, rseqs, rtimes, 64);
    idm_audit_iter_free(&it);
    ck_assert_uint_eq(n, 8); /* created + 7 moves; certificate events are their own objects */
    ck_assert_int_eq(rseqs[0], 14);

    idm_ctx_free(&ctx);
    fixture_remove_store(path);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("store_integrity");
    TCase *tamper = tcase_create("tamper");
    tcase_add_test(tamper, test_editing_an_audit_row_breaks_the_chain_at_that_row);
    tcase_add_test(tamper, test_each_kind_of_tampering_is_found_at_its_row);
    tcase_add_test(tamper, test_audit_iterator_reads_a_time_range_and_an_object);
    tcase_set_timeout(tamper, 120);
    suite_add_tcase(s, tamper);

    TCase *stress = tcase_create("stress");
    tcase_add_test(stress, test_two_processes_write_one_store_without_errors);
    tcase_add_test(stress, test_store_survives_sigkill_in_the_middle_of_transactions);
    tcase_set_timeout(stress, 600);
    suite_add_tcase(s, stress);
    return s;
}
