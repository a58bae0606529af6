/* Crash torture of the queue sync of external production: a child process
 * opens its own context on the store and its own spool producer on the
 * shared spool, runs idm_external_sync_queue(), and is killed with SIGKILL
 * after a random delay, again and again (IDM_TORTURE_KILLS, default 20);
 * between two children the parent plays the bureau: it takes every order
 * file from the outbox and notes its message id.  When a child finishes
 * the queue while kills are still owed, new cards are queued.  Then every
 * card is ordered, the outbox carried each card under a single message id
 * (a resubmission after a crash reuses the id, so the bureau never sees a
 * second order), the audit chain is intact and the spool's tmp/ is empty. */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

#define ACTOR "operator:crash-test"
#define CARDS_PER_ROUND 60
#define MAX_ROUNDS 40
#define MAX_CARDS (CARDS_PER_ROUND * MAX_ROUNDS)
#define SYNC_BATCH 5
#define KILL_DELAY_MS 30

/* What the parent's bureau saw of one card. */
struct seen {
    int64_t card_id;
    char message_id[160]; /* the first id seen */
    int ids;              /* distinct message ids seen */
    int files;            /* order files taken, repeats included */
};

static struct seen seen[MAX_CARDS];
static int64_t card_ids[MAX_CARDS];
static int ncards;

static struct seen *seen_card(int64_t card_id)
{
    for (int i = 0; i < ncards; i++) {
        if (seen[i].card_id == card_id)
            return &seen[i];
    }
    return NULL;
}

/* The child: a process of its own syncing the queue.  Exit 0: done. */
static void sync_main(const char *path, const char *spool)
{
    idm_ctx_t *ctx = NULL;
    idm_producer_t *producer = NULL;
    idm_external_t *x = NULL;
    if (idm_ctx_new(&ctx) != IDM_OK || idm_ctx_open_store(ctx, path) != IDM_OK ||
        idm_producer_new_spool(&producer, spool) != IDM_OK ||
        idm_external_new(&x, ctx, producer, NULL) != IDM_OK ||
        idm_external_sync_queue(x, ACTOR, SYNC_BATCH, NULL, NULL) != IDM_OK) {
        fprintf(stderr, "sync child: %s\n", idm_last_error_message());
        _exit(2);
    }
    idm_external_free(&x);
    idm_producer_free(&producer);
    idm_ctx_free(&ctx);
    _exit(0);
}

/* The card id in "idm-<store>-o<order>-c<card>-a<attempt>", or 0.  Read
 * from the end: the store id is hex and may itself start with 'c'. */
static int64_t card_of(const char *message_id)
{
    const char *a = strrchr(message_id, '-');
    const char *c = a;
    while (c != NULL && c > message_id && *--c != '-')
        ;
    if (a == NULL || c == NULL || a[1] != 'a' || c[0] != '-' || c[1] != 'c')
        return 0;
    return strtoll(c + 2, NULL, 10);
}

/* The parent's bureau: takes every order in the outbox (a whole file, as
 * the spool writes it through tmp/), notes its message id, removes it.
 * Returns how many it took. */
static int take_outbox(const char *spool, struct faults *f)
{
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/outbox", spool);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    static char text[65536];
    int taken = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char file[4600], id[160];
        snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
        size_t len = strlen(e->d_name);
        if (len < 6 || len - 5 >= sizeof id || strcmp(e->d_name + len - 5, ".json") != 0 ||
            strstr(e->d_name, ".cancel.json") != NULL) {
            fault(f, "unexpected outbox entry %s;", e->d_name);
            unlink(file);
            continue;
        }
        snprintf(id, sizeof id, "%.*s", (int)(len - 5), e->d_name);
        FILE *in = fopen(file, "r");
        ck_assert_ptr_nonnull(in);
        size_t n = fread(text, 1, sizeof text - 1, in);
        text[n] = '\0';
        fclose(in);
        char member[200];
        snprintf(member, sizeof member, "\"message_id\":\"%s\"", id);
        if (n < 2 || strcmp(text + n - 2, "}\n") != 0 || strstr(text, member) == NULL)
            fault(f, "outbox/%s is not a whole order for its id (%zu bytes);", e->d_name, n);
        struct seen *s = seen_card(card_of(id));
        if (s == NULL) {
            fault(f, "outbox/%s names no card of the test;", e->d_name);
        } else {
            if (s->ids == 0) {
                snprintf(s->message_id, sizeof s->message_id, "%s", id);
                s->ids = 1;
            } else if (strcmp(s->message_id, id) != 0) {
                fault(f, "card %" PRId64 " ordered again as %s after %s;", s->card_id, id,
                      s->message_id);
                s->ids++;
            }
            s->files++;
        }
        ck_assert_int_eq(unlink(file), 0);
        taken++;
    }
    closedir(d);
    return taken;
}

/* Queues CARDS_PER_ROUND new cards, one per new person. */
static void queue_cards(idm_ctx_t *ctx, idm_external_t *x, int round)
{
    int64_t holders[CARDS_PER_ROUND];
    for (int i = 0; i < CARDS_PER_ROUND; i++) {
        char id[32];
        snprintf(id, sizeof id, "K%d-%d", round, i);
        idm_identity_t *p = fixture_person(ctx, id, "Crash", id);
        ck_ok(idm_identity_get_id(p, &holders[i]));
        idm_identity_free(&p);
    }
    idm_order_t *order = NULL;
    int64_t order_id;
    ck_ok(idm_external_order_batch(x, ACTOR, holders, CARDS_PER_ROUND, IDM_CARD_EMPLOYEE,
                                   IDM_CARD_PHYSICAL, NULL, NULL, &order));
    ck_ok(idm_order_get_id(order, &order_id));
    idm_order_free(&order);
    idm_card_iter_t *it = NULL;
    idm_card_t *c = NULL;
    int queued = 0;
    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_set_order(it, order_id));
    while (idm_card_iter_next(it, &c) == IDM_OK && c != NULL) {
        idm_card_state s;
        ck_ok(idm_card_get_state(c, &s));
        ck_assert_int_eq(s, IDM_CARD_PROCESSING);
        ck_assert_int_lt(ncards, MAX_CARDS);
        ck_ok(idm_card_get_id(c, &card_ids[ncards]));
        seen[ncards].card_id = card_ids[ncards];
        ncards++;
        queued++;
        idm_card_free(&c);
    }
    idm_card_iter_free(&it);
    ck_assert_int_eq(queued, CARDS_PER_ROUND);
}

/* How many of the test's cards are in state. */
static int count_state(idm_ctx_t *ctx, idm_card_state state)
{
    int n = 0;
    for (int i = 0; i < ncards; i++)
        n += fixture_card_state(ctx, card_ids[i]) == state;
    return n;
}

static int count_entries(const char *spool, const char *folder, char *first, size_t size)
{
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/%.64s", spool, folder);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n++ == 0 && first != NULL)
            snprintf(first, size, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

/* Fails the test on collected faults: all of them on stderr, the first
 * ones in the TAP line (Check refuses a message of more than a few KiB). */
static void assert_no_faults(const struct faults *f)
{
    if (f->count != 0)
        fprintf(stderr, "# %d failure(s):%s\n", f->count, f->text);
    ck_assert_msg(f->count == 0, "%d failure(s):%.2000s", f->count, f->text);
}

START_TEST(test_killed_queue_sync_orders_each_card_exactly_once)
{
    const char *path = fixture_store_path("external-crash");
    char spool[4200];
    snprintf(spool, sizeof spool, "%s.spool", path);
    ck_assert_int_eq(mkdir(spool, 0700), 0);
    idm_ctx_t *ctx = fixture_ctx(path);
    ck_ok(idm_options_set_bool(ctx, ACTOR, "external_production_enabled", 1));
    ck_ok(idm_options_set_bool(ctx, ACTOR, "queue_orders", 1));
    idm_producer_t *producer = NULL;
    idm_external_t *x = NULL;
    ck_ok(idm_producer_new_spool(&producer, spool));
    ck_ok(idm_external_new(&x, ctx, producer, NULL));
    ncards = 0;
    memset(seen, 0, sizeof seen);

    const char *env = getenv("IDM_TORTURE_KILLS");
    int want_kills = env != NULL ? atoi(env) : 20;
    env = getenv("IDM_TEST_SEED");
    unsigned seed = env != NULL ? (unsigned)strtoul(env, NULL, 10)
                                : (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "# external crash: seed %u (IDM_TEST_SEED=%u repeats it)\n", seed, seed);

    struct faults f = {0, 0, ""};
    int kills = 0, rounds = 0, children = 0, taken = 0;
    /* What the kills interrupted: before the child ordered a card, after it
     * ordered some, and after it recorded new messages of which some were
     * still unanswered (a batch caught between its two transactions). */
    int killed_before = 0, killed_midway = 0, killed_in_doubt = 0;
    while (kills < want_kills || rounds == 0) {
        ck_assert_int_lt(rounds, MAX_ROUNDS);
        queue_cards(ctx, x, rounds++);
        for (int done = 0; !done;) {
            int before = count_state(ctx, IDM_CARD_ORDERED);
            long messages = fixture_count_rows(path, "SELECT count(*) FROM bureau_messages");
            fflush(stdout);
            fflush(stderr);
            pid_t child = fork();
            ck_assert_int_ge(child, 0);
            if (child == 0)
                sync_main(path, spool);
            children++;
            int killed = 0;
            if (kills < want_kills) {
                long us = (long)(rand_r(&seed) % (KILL_DELAY_MS * 1000 + 1));
                struct timespec pause = {us / 1000000, (us % 1000000) * 1000L};
                nanosleep(&pause, NULL);
                killed = kill(child, SIGKILL) == 0;
            }
            int status = 0;
            ck_assert_int_eq(waitpid(child, &status, 0), child);
            if (WIFSIGNALED(status) && killed) {
                kills++;
                int after = count_state(ctx, IDM_CARD_ORDERED);
                killed_before += after == before;
                killed_midway += after > before && after < ncards;
                killed_in_doubt +=
                    fixture_count_rows(path, "SELECT count(*) FROM bureau_messages") > messages &&
                    fixture_count_rows(path, "SELECT count(*) FROM bureau_messages WHERE state = 0") > 0;
            } else {
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                              "the sync child failed on its own (wait status %d)", status);
                done = 1;
            }
            taken += take_outbox(spool, &f);
            ck_ok(idm_audit_verify(ctx, NULL));
        }
    }
    fprintf(stderr, "# external crash: %d kills of %d children over %d rounds of %d cards: "
            "%d before the child ordered a card, %d midway, %d with new messages pending; "
            "the bureau took %d order files for %d cards\n", kills, children, rounds,
            CARDS_PER_ROUND, killed_before, killed_midway, killed_in_doubt, taken, ncards);

    /* Every card ordered, under one message id: the first attempt's. */
    for (int i = 0; i < ncards; i++) {
        idm_card_state s = fixture_card_state(ctx, card_ids[i]);
        char tail[64];
        snprintf(tail, sizeof tail, "-c%" PRId64 "-a1", card_ids[i]);
        size_t len = strlen(seen[i].message_id), tlen = strlen(tail);
        if (s != IDM_CARD_ORDERED)
            fault(&f, "card %" PRId64 " is '%s';", card_ids[i], idm_card_state_name(s));
        if (seen[i].ids != 1 || len < tlen || strcmp(seen[i].message_id + len - tlen, tail) != 0)
            fault(&f, "card %" PRId64 " reached the bureau under %d message ids (first '%s');",
                  card_ids[i], seen[i].ids, seen[i].message_id);
    }
    assert_no_faults(&f);
    ck_assert_int_ge(taken, ncards);
    ck_assert_int_ge(kills, want_kills);
    /* The journal: one message per card, sent. */
    ck_assert_int_eq(fixture_count_rows(path, "SELECT count(*) FROM bureau_messages"), ncards);
    ck_assert_int_eq(fixture_count_rows(path, "SELECT count(*) FROM bureau_messages WHERE state != 2"),
                     0);
    ck_ok(idm_audit_verify(ctx, NULL));
    ck_assert_int_eq(count_entries(spool, "outbox", NULL, 0), 0);
    ck_assert_int_eq(count_entries(spool, "inbox", NULL, 0), 0);
    /* A process killed while it writes an order leaves
     * "<message id>.json.<pid>.tmp" in tmp/; the next spool producer opened
     * on the folder removes the files of processes that are gone (this
     * assertion found it: tmp/ grew with every such kill). */
    char first[512] = "";
    int left = count_entries(spool, "tmp", first, sizeof first);

    idm_external_free(&x);
    idm_producer_free(&producer);
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", spool);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(left == 0, "%d files left in the spool's tmp/ after %d kills, e.g. %s", left,
                  kills, first);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("external_crash");
    TCase *tc = tcase_create("sigkill");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_killed_queue_sync_orders_each_card_exactly_once);
    suite_add_tcase(s, tc);
    return s;
}
