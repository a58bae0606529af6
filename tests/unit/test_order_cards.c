/* White-box: the cards of an order in the SQLite store (schema 3), the
 * groundwork of mass production: positions, claims by stations with a
 * lease, attempts, outcomes with reasons, counts; a store of schema 2
 * migrated with its data; and two processes claiming from one order, each
 * card exactly once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"
#include "store/sqlite_schema.h"
#include "store/store.h"

#define ACTOR "test"
#define LEASE_MS 60000

/* A store file with one mass production order and n approved cards; their
 * ids go to cards (room for n). */
static int64_t world(const char *path, int n, int64_t *cards)
{
    idm_ctx_t *ctx = fixture_ctx(path);
    idm_identity_t *p = fixture_person(ctx, "O1", "Ada", "Lovelace");
    int64_t holder;
    ck_ok(idm_identity_get_id(p, &holder));
    ck_ok(idm_options_set_bool(ctx, ACTOR, "allow_multiple_active_cards", 1));
    idm_order_t *order = NULL;
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_DIGITAL, NULL, &order));
    int64_t order_id;
    ck_ok(idm_order_get_id(order, &order_id));
    for (int i = 0; i < n; i++) {
        idm_card_t *c = NULL;
        ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL,
                           holder, NULL, &c));
        ck_ok(idm_card_get_id(c, &cards[i]));
        idm_card_free(&c);
    }
    idm_order_free(&order);
    idm_identity_free(&p);
    idm_ctx_free(&ctx);
    return order_id;
}

static struct idm_store *open_store(const char *path)
{
    struct idm_store *s = NULL;
    ck_ok(idm_sqlite_store_open(&s, path));
    return s;
}

static void add_all(struct idm_store *s, int64_t order, const int64_t *cards, int n)
{
    ck_ok(s->ops->begin(s));
    for (int i = 0; i < n; i++)
        ck_ok(s->ops->order_card_add(s, order, cards[i], 1000));
    ck_ok(s->ops->commit(s));
}

static int64_t claim(struct idm_store *s, int64_t order, const char *station, int64_t now,
                     int *attempt)
{
    struct idm_order_card_rec r;
    ck_ok(s->ops->begin(s));
    int rc = s->ops->order_card_claim(s, order, station, INT64_MAX, now, LEASE_MS, &r);
    ck_ok(s->ops->commit(s));
    if (rc == IDM_ERR_NOT_FOUND)
        return 0;
    ck_ok(rc);
    if (attempt != NULL)
        *attempt = r.attempt;
    int64_t id = r.card_id;
    ck_assert_str_eq(r.station, station);
    ck_assert_int_eq(r.outcome, IDM_OUTCOME_CLAIMED);
    idm_order_card_rec_clear(&r);
    return id;
}

START_TEST(test_cards_are_claimed_in_order_and_once)
{
    const char *path = fixture_store_path("order-cards-claim");
    int64_t cards[3];
    int64_t order = world(path, 3, cards);
    struct idm_store *s = open_store(path);
    add_all(s, order, cards, 3);
    ck_assert_idm_error(s->ops->order_card_add(s, order, cards[1], 2000), IDM_ERR_EXISTS,
                        "already");

    int attempt = 0;
    ck_assert_int_eq(claim(s, order, "station-a", 5000, &attempt), cards[0]);
    ck_assert_int_eq(attempt, 1);
    ck_assert_int_eq(claim(s, order, "station-b", 5001, NULL), cards[1]);
    /* A station that asks again gets its own card back first: it resumes. */
    ck_assert_int_eq(claim(s, order, "station-a", 5002, &attempt), cards[0]);
    ck_assert_int_eq(attempt, 2);

    ck_ok(s->ops->order_card_finish(s, order, cards[0], IDM_OUTCOME_PRODUCED, NULL, 6000));
    ck_ok(s->ops->order_card_finish(s, order, cards[1], IDM_OUTCOME_SKIPPED,
                                    "the holder is not active", 6001));
    ck_assert_int_eq(claim(s, order, "station-a", 6002, NULL), cards[2]);
    ck_ok(s->ops->order_card_finish(s, order, cards[2], IDM_OUTCOME_FAILED,
                                    "PUT DATA 5FC105: 6A84 not enough memory", 6003));
    ck_assert_int_eq(claim(s, order, "station-b", 6004, NULL), 0);

    struct idm_order_card_rec r;
    ck_ok(s->ops->order_card_load(s, order, cards[1], &r));
    ck_assert_int_eq(r.outcome, IDM_OUTCOME_SKIPPED);
    ck_assert_str_eq(r.reason, "the holder is not active");
    ck_assert_int_eq(r.position, 1);
    idm_order_card_rec_clear(&r);
    struct idm_order_counts n;
    ck_ok(s->ops->order_card_counts(s, order, &n));
    ck_assert_int_eq(n.by_outcome[IDM_OUTCOME_PRODUCED], 1);
    ck_assert_int_eq(n.by_outcome[IDM_OUTCOME_SKIPPED], 1);
    ck_assert_int_eq(n.by_outcome[IDM_OUTCOME_FAILED], 1);
    ck_assert_int_eq(n.by_outcome[IDM_OUTCOME_PENDING], 0);
    ck_assert_idm_error(s->ops->order_card_load(s, order, 999999, &r), IDM_ERR_NOT_FOUND,
                        "not in order");
    s->ops->close(s);
    fixture_remove_store(path);
}
END_TEST

START_TEST(test_a_claim_whose_lease_ran_out_goes_to_another_station)
{
    const char *path = fixture_store_path("order-cards-lease");
    int64_t cards[1];
    int64_t order = world(path, 1, cards);
    struct idm_store *s = open_store(path);
    add_all(s, order, cards, 1);
    ck_assert_int_eq(claim(s, order, "station-a", 10000, NULL), cards[0]);
    /* Within the lease, nobody else gets it. */
    ck_assert_int_eq(claim(s, order, "station-b", 10000 + LEASE_MS - 1, NULL), 0);
    /* After it, station b takes over, as the card's second attempt. */
    int attempt = 0;
    ck_assert_int_eq(claim(s, order, "station-b", 10000 + LEASE_MS, &attempt), cards[0]);
    ck_assert_int_eq(attempt, 2);
    /* A card let go (pending) is claimed again by anyone. */
    ck_ok(s->ops->order_card_finish(s, order, cards[0], IDM_OUTCOME_PENDING, NULL, 80000));
    ck_assert_int_eq(claim(s, order, "station-c", 80001, &attempt), cards[0]);
    ck_assert_int_eq(attempt, 3);
    s->ops->close(s);
    fixture_remove_store(path);
}
END_TEST

/* A store made by the schema-2 library: its migrations run by hand. */
START_TEST(test_a_schema_2_store_is_migrated_with_its_data)
{
    const char *path = fixture_store_path("order-cards-migrate");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "sqlite3 '%s'", path);
    FILE *p = popen(cmd, "w");
    ck_assert_ptr_nonnull(p);
    fputs(idm_sqlite_migrations[0], p);
    fputs(idm_sqlite_migrations[1], p);
    fprintf(p, "\nPRAGMA application_id = %d; PRAGMA user_version = 2;\n",
            IDM_SQLITE_APPLICATION_ID);
    fputs("INSERT INTO identities (state, created_ms, updated_ms) VALUES (1, 1, 1);\n", p);
    ck_assert_int_eq(pclose(p), 0);

    struct idm_store *s = open_store(path);
    int64_t ids[4];
    size_t n = 0;
    struct idm_list_filter all;
    memset(&all, 0, sizeof all);
    ck_ok(s->ops->list_ids(s, IDM_OBJECT_IDENTITY, &all, 0, 4, ids, &n));
    ck_assert_uint_eq(n, 1);
    struct idm_order_counts counts;
    ck_ok(s->ops->order_card_counts(s, 1, &counts));
    s->ops->close(s);
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'PRAGMA user_version'", path);
    p = popen(cmd, "r");
    char line[32] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    pclose(p);
    ck_assert_int_eq(atoi(line), (int)idm_sqlite_schema_version);
    fixture_remove_store(path);
}
END_TEST

#define RACE_CARDS 120

/* Claims and finishes cards until none is left; writes the ids to fd. */
static void race_station(const char *path, int64_t order, const char *station, int fd)
{
    struct idm_store *s = NULL;
    if (idm_sqlite_store_open(&s, path) != IDM_OK)
        _exit(2);
    for (int64_t now = 100000;; now++) {
        struct idm_order_card_rec r;
        if (s->ops->begin(s) != IDM_OK)
            _exit(3);
        int rc = s->ops->order_card_claim(s, order, station, INT64_MAX, now, LEASE_MS, &r);
        if (rc == IDM_OK)
            rc = s->ops->order_card_finish(s, order, r.card_id, IDM_OUTCOME_PRODUCED, NULL,
                                           now);
        if (rc == IDM_ERR_NOT_FOUND) {
            s->ops->rollback(s);
            break;
        }
        if (rc != IDM_OK || s->ops->commit(s) != IDM_OK)
            _exit(4);
        if (write(fd, &r.card_id, sizeof r.card_id) != (ssize_t)sizeof r.card_id)
            _exit(5);
        idm_order_card_rec_clear(&r);
    }
    s->ops->close(s);
    _exit(0);
}

START_TEST(test_two_processes_claim_every_card_exactly_once)
{
    const char *path = fixture_store_path("order-cards-race");
    static int64_t cards[RACE_CARDS];
    int64_t order = world(path, RACE_CARDS, cards);
    struct idm_store *s = open_store(path);
    add_all(s, order, cards, RACE_CARDS);
    s->ops->close(s);

    int pipes[2][2];
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pipe(pipes[i]), 0);
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            close(pipes[i][0]);
            race_station(path, order, i == 0 ? "station-a" : "station-b", pipes[i][1]);
        }
        close(pipes[i][1]);
    }
    static int seen[RACE_CARDS];
    memset(seen, 0, sizeof seen);
    int per_station[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        int64_t id;
        while (read(pipes[i][0], &id, sizeof id) == (ssize_t)sizeof id) {
            per_station[i]++;
            for (int k = 0; k < RACE_CARDS; k++) {
                if (cards[k] == id)
                    seen[k]++;
            }
        }
        close(pipes[i][0]);
        int status = 0;
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "station %d ended with status %d", i, status);
    }
    for (int k = 0; k < RACE_CARDS; k++)
        ck_assert_msg(seen[k] == 1, "card %lld was produced %d times", (long long)cards[k],
                      seen[k]);
    ck_assert_int_eq(per_station[0] + per_station[1], RACE_CARDS);
    fixture_remove_store(path);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("order_cards");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cards_are_claimed_in_order_and_once);
    tcase_add_test(tc, test_a_claim_whose_lease_ran_out_goes_to_another_station);
    tcase_add_test(tc, test_a_schema_2_store_is_migrated_with_its_data);
    tcase_add_test(tc, test_two_processes_claim_every_card_exactly_once);
    suite_add_tcase(s, tc);
    return s;
}
