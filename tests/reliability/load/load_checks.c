/* The load test's checks after the run: what each worker was told by the
 * library (its log) against the store, its audit trail and the bureau's
 * ledger (run.result), then the store's invariant checker and the audit
 * chain.  Each test reads the files afresh, so they also run in processes
 * of their own (CK_FORK). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fixtures.h"
#include "load_checks.h"
#include "runner.h"

/* ---- the logs --------------------------------------------------------------- */

/* An array by card id (elements of size bytes, *n of them) grown, zeroed,
 * until index id fits; the array. */
static void *by_card_id(void *array, int64_t *n, int64_t id, size_t size)
{
    ck_assert_msg(id > 0 && id < INT64_C(100000000), "a log names card %" PRId64, id);
    if (id < *n)
        return array;
    int64_t grown = *n != 0 ? *n : 1024;
    while (grown <= id)
        grown *= 2;
    unsigned char *bigger = realloc(array, (size_t)grown * size);
    ck_assert_ptr_nonnull(bigger);
    memset(bigger + (size_t)*n * size, 0, (size_t)(grown - *n) * size);
    *n = grown;
    return bigger;
}

static struct load_card_log *card_log(struct load_results *r, int64_t id)
{
    r->cards = by_card_id(r->cards, &r->ncards, id, sizeof *r->cards);
    return &r->cards[id];
}

static void read_log(struct load_results *r, const char *path, int slot)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "# %s: %s\n", path, strerror(errno));
        r->logs_missing++;
        return;
    }
    char line[512];
    int summary = 0;
    long long a, b;
    long c, d, e, g;
    int k, i;
    while (fgets(line, sizeof line, f) != NULL) {
        struct load_card_log *card = NULL;
        switch (line[0]) {
        case 'C':
            ck_assert_int_eq(sscanf(line, "C %d %ld %ld %ld %ld %lld %lld", &k, &c, &d, &e, &g,
                                    &a, &b), 7);
            ck_assert(k >= 0 && k < OP_KINDS);
            r->ops[k].ok += c;
            r->ops[k].refused += d;
            r->ops[k].errors += e;
            r->ops[k].busy += g;
            r->ops[k].max_ms = a > r->ops[k].max_ms ? a : r->ops[k].max_ms;
            r->ops[k].total_ms += b;
            r->errors += e;
            r->busy += g;
            summary = 1;
            break;
        case 'R': case 'E': case 'P': case 'S': case 'A': case 'X': case 'V':
            ck_assert_int_ge(sscanf(line + 2, "%lld %lld", &a, &b), 1);
            card = card_log(r, a);
            if (line[0] == 'R') {
                card->local = (unsigned char)(b + 1);
                r->local_cards++;
            } else if (line[0] == 'E') {
                card->external = (unsigned char)(b + 1);
                r->external_cards++;
            } else if (line[0] == 'P') {
                if (card->produced++ == 0)
                    card->produced_order = b;
                *(slot < 0 ? &r->produced_by_drain : &r->produced_in_run) += 1;
            } else if (line[0] == 'S') {
                card->skipped++;
                r->skipped++;
            } else if (line[0] == 'A') {
                card->approved++;
            } else if (line[0] == 'X') {
                card->aborted++;
                r->aborted++;
            } else {
                card->activated++;
                *(slot < 0 ? &r->activated_by_drain : &r->activated_in_run) += 1;
            }
            break;
        case 'N': {
            int n = 0;
            ck_assert_int_eq(sscanf(line, "N %d %n", &k, &n), 1);
            line[strcspn(line, "\n")] = '\0';
            int j = 0;
            while (j < r->nrefusals &&
                   (r->refusals[j].op != k || strcmp(r->refusals[j].words, line + n) != 0))
                j++;
            ck_assert_int_lt(j, LOAD_REFUSAL_KINDS);
            if (j == r->nrefusals) {
                r->refusals[j].op = k;
                snprintf(r->refusals[j].words, sizeof r->refusals[j].words, "%s", line + n);
                r->nrefusals++;
            }
            r->refusals[j].count++;
            break;
        }
        case 'U':
            ck_assert_int_eq(sscanf(line, "U %lld %lld", &a, &b), 2);
            r->reports_applied += (long)a;
            r->reports_refused += (long)b;
            break;
        case 'Q':
            ck_assert_int_eq(sscanf(line, "Q %lld %lld", &a, &b), 2);
            r->sync_sent += (long)a;
            r->sync_failed += (long)b;
            break;
        case 'K':
            ck_assert_int_eq(sscanf(line, "K %d %ld", &i, &c), 2);
            r->own_last[slot][i] = c;
            break;
        case 'H':
            ck_assert_int_eq(sscanf(line, "H %d %ld %ld", &i, &c, &d), 3);
            r->hot_count[slot][i] = c;
            r->hot_last[slot][i] = d;
            break;
        case 'I':
            ck_assert_int_eq(sscanf(line, "I %d %ld", &i, &c), 2);
            r->identity_flips[i] += c;
            break;
        case 'F':
            ck_assert_int_eq(sscanf(line, "F %d %ld", &i, &c), 2);
            r->card_flips[i] += c;
            break;
        case 'O':
            ck_assert_int_eq(sscanf(line, "O %ld %ld", &c, &d), 2);
            r->option_count[slot] = c;
            r->option_last[slot] = d;
            break;
        default:
            ck_abort_msg("%s: a line the workers never write: %s", path, line);
        }
    }
    fclose(f);
    if (slot >= 0 && !summary) {
        fprintf(stderr, "# %s has no summary: its worker did not finish\n", path);
        r->logs_missing++;
    }
}

void load_results_read(const struct load_config *cfg, struct load_results *r)
{
    memset(r, 0, sizeof *r);
    int slots = cfg->processes * cfg->threads;
    for (int s = -1; s < slots; s++) {
        char path[LOAD_PATH_MAX + 32];
        load_log_path(cfg, s, path, sizeof path);
        read_log(r, path, s);
    }
}

void load_results_free(struct load_results *r)
{
    free(r->cards);
    r->cards = NULL;
}

/* ---- the run's result -------------------------------------------------------- */

struct bureau_card {
    unsigned char messages, withdrawn, produced;
};

struct run_result {
    int stalls, bad_exits;
    long drain_errors, drain_busy;
    int64_t shared_identities[LOAD_SHARED], shared_cards[LOAD_SHARED], setup_order;
    struct load_bureau_figures bureau;
    struct bureau_card *cards; /* by card id */
    int64_t ncards;
    char **withdrawn; /* message ids with a cancel request */
    size_t nwithdrawn;
};

static void read_result(struct run_result *rr)
{
    memset(rr, 0, sizeof *rr);
    char path[LOAD_PATH_MAX + 32], line[512];
    snprintf(path, sizeof path, "%s/run.result", load_cfg.dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: %s (the run did not get that far)", path, strerror(errno));
    long long card, id2;
    int i, ordered, withdrawn, produced;
    char id[200];
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "stalls %d", &rr->stalls) == 1 ||
            sscanf(line, "bad_exits %d", &rr->bad_exits) == 1 ||
            sscanf(line, "drain_errors %ld %ld", &rr->drain_errors, &rr->drain_busy) == 2 ||
            sscanf(line, "setup_order %" SCNd64, &rr->setup_order) == 1)
            continue;
        if (sscanf(line, "shared %d %lld %lld", &i, &card, &id2) == 3) {
            ck_assert(i >= 0 && i < LOAD_SHARED);
            rr->shared_identities[i] = card;
            rr->shared_cards[i] = id2;
        } else if (sscanf(line, "bureau %ld %ld %ld %ld %ld %ld %ld", &rr->bureau.orders,
                          &rr->bureau.duplicates, &rr->bureau.cancels, &rr->bureau.withdrawn,
                          &rr->bureau.produced, &rr->bureau.bad_files,
                          &rr->bureau.cards_twice) == 7) {
            continue;
        } else if (sscanf(line, "M %lld %d %d %d %199s", &card, &ordered, &withdrawn, &produced,
                          id) == 5) {
            rr->cards = by_card_id(rr->cards, &rr->ncards, card, sizeof *rr->cards);
            rr->cards[card].messages += (unsigned char)ordered;
            rr->cards[card].withdrawn += (unsigned char)withdrawn;
            rr->cards[card].produced += (unsigned char)produced;
            if (withdrawn) {
                rr->withdrawn = realloc(rr->withdrawn, (rr->nwithdrawn + 1) * sizeof(char *));
                ck_assert_ptr_nonnull(rr->withdrawn);
                rr->withdrawn[rr->nwithdrawn++] = strdup(id);
            }
        } else {
            ck_abort_msg("%s: a line the run never writes: %s", path, line);
        }
    }
    fclose(f);
}

static void free_result(struct run_result *rr)
{
    for (size_t i = 0; i < rr->nwithdrawn; i++)
        free(rr->withdrawn[i]);
    free(rr->withdrawn);
    free(rr->cards);
}

static struct bureau_card bureau_card(const struct run_result *rr, int64_t id)
{
    struct bureau_card none = {0, 0, 0};
    return id > 0 && id < rr->ncards ? rr->cards[id] : none;
}

static idm_ctx_t *open_store(void)
{
    idm_ctx_t *ctx = NULL;
    ck_ok(idm_ctx_new(&ctx));
    ck_ok(idm_ctx_open_store(ctx, load_cfg.store));
    return ctx;
}

/* runner.c, which has note(), has its own main(): this program takes
 * options.  A failure is noted and the checks go on, so that one run
 * reports every broken card. */
static void note(struct faults *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct faults *f, const char *fmt, ...)
{
    f->count++;
    size_t room = sizeof f->text - f->used;
    if (room < 2)
        return;
    va_list ap;
    va_start(ap, fmt);
    f->text[f->used++] = ' ';
    int n = vsnprintf(f->text + f->used, room - 1, fmt, ap);
    va_end(ap);
    f->used += n < 0 ? 0 : (size_t)n < room - 1 ? (size_t)n : room - 2;
}

/* Fails the test on collected faults: all of them on stderr, the first
 * ones in the TAP line. */
static void assert_no_faults(const struct faults *f)
{
    if (f->count != 0)
        fprintf(stderr, "# %d failure(s):%s\n", f->count, f->text);
    ck_assert_msg(f->count == 0, "%d failure(s):%.2000s", f->count, f->text);
}

/* ---- the checks ------------------------------------------------------------------ */

START_TEST(test_no_busy_or_locked_error_reaches_a_caller)
{
    struct load_results r;
    struct run_result rr;
    load_results_read(&load_cfg, &r);
    read_result(&rr);
    long busy = r.busy + rr.drain_busy;
    load_results_free(&r);
    free_result(&rr);
    ck_assert_msg(busy == 0, "%ld calls failed because the store was busy or locked", busy);
}
END_TEST

START_TEST(test_no_worker_stalls_and_every_worker_finishes)
{
    struct load_results r;
    struct run_result rr;
    load_results_read(&load_cfg, &r);
    read_result(&rr);
    ck_assert_msg(rr.stalls == 0, "a thread made no progress for %d s: deadlock",
                  load_cfg.stall_s);
    ck_assert_msg(rr.bad_exits == 0, "%d worker processes did not exit 0", rr.bad_exits);
    ck_assert_msg(r.logs_missing == 0, "%ld workers did not finish their log", r.logs_missing);
    long ops = 0;
    for (int k = 0; k < OP_KINDS; k++)
        ops += r.ops[k].ok + r.ops[k].errors;
    ck_assert_int_gt(ops, 0);
    load_results_free(&r);
    free_result(&rr);
}
END_TEST

/* Every card of the store is one the logs account for. */
static void for_each_card(idm_ctx_t *ctx, void (*fn)(idm_ctx_t *ctx, idm_card_t *c, void *arg),
                          void *arg)
{
    idm_card_iter_t *it = NULL;
    idm_card_t *c = NULL;
    ck_ok(idm_card_iter_new(ctx, &it));
    int rc;
    while ((rc = idm_card_iter_next(it, &c)) == IDM_OK && c != NULL) {
        fn(ctx, c, arg);
        idm_card_free(&c);
    }
    ck_ok(rc);
    idm_card_iter_free(&it);
}

struct card_check {
    struct load_results *r;
    struct run_result *rr;
    struct faults f;
    long local, external, shared;
    /* by card id: moves to 'ordered' in the audit trail, all and those a
     * queue sync recorded */
    unsigned char *ordered, *ordered_by_sync;
    int64_t ncards;
};

static int is_shared(const struct run_result *rr, int64_t id)
{
    for (int i = 0; i < LOAD_SHARED; i++)
        if (rr->shared_cards[i] == id)
            return 1;
    return 0;
}

static void check_local_card(idm_ctx_t *ctx, idm_card_t *c, void *arg)
{
    struct card_check *k = arg;
    int64_t id, order_id;
    idm_card_state state;
    idm_card_option option;
    idm_production prod;
    ck_ok(idm_card_get_id(c, &id));
    ck_ok(idm_card_get_state(c, &state));
    ck_ok(idm_card_get_option(c, &option));
    ck_ok(idm_card_get_production(c, &prod));
    ck_ok(idm_card_get_order_id(c, &order_id));
    const struct load_card_log *log = id < k->r->ncards ? &k->r->cards[id] : NULL;
    if (is_shared(k->rr, id)) {
        k->shared++;
        return;
    }
    if (log == NULL || (!log->local && !log->external)) {
        note(&k->f, "card %" PRId64 " is in the store ('%s') but no worker was told it was "
              "made;", id, idm_card_state_name(state));
        return;
    }
    if (!log->local) {
        if (log->produced != 0)
            note(&k->f, "external card %" PRId64 " was produced by a station;", id);
        return;
    }
    k->local++;
    if (prod != IDM_PRODUCTION_LOCAL || (int)option != log->local - 1)
        note(&k->f, "card %" PRId64 " is not the local card the worker requested;", id);
    if (log->produced != 1)
        note(&k->f, "card %" PRId64 " was produced %u times;", id, log->produced);
    if (state != IDM_CARD_ISSUED)
        note(&k->f, "card %" PRId64 " is '%s', not issued;", id, idm_card_state_name(state));
    if (log->produced >= 1 && order_id != log->produced_order)
        note(&k->f, "card %" PRId64 " is in order %" PRId64 " but was produced in %" PRId64 ";",
              id, order_id, log->produced_order);
    idm_order_t *order = NULL;
    if (order_id != 0 && idm_order_open(ctx, order_id, &order) == IDM_OK) {
        idm_order_card_outcome outcome = fixture_card_outcome(order, id, NULL, 0, NULL);
        if (outcome != IDM_OUTCOME_PRODUCED)
            note(&k->f, "card %" PRId64 " is '%s' in its order %" PRId64 ";", id,
                  idm_order_card_outcome_name(outcome), order_id);
        idm_order_free(&order);
    } else {
        note(&k->f, "card %" PRId64 " is in no order;", id);
    }
    int live, superseded, other;
    fixture_count_certs(ctx, id, &live, &superseded, &other);
    int want = option == IDM_CARD_DIGITAL ? 1 : 0;
    if (live != want || superseded != 0 || other != 0)
        note(&k->f, "card %" PRId64 " (%s) has %d live, %d superseded, %d other revoked "
              "certificates; expected %d live only;", id, idm_card_option_name(option), live,
              superseded, other, want);
    const char *chip = NULL;
    ck_ok(idm_card_get_chip_serial(c, &chip));
    if (chip == NULL)
        note(&k->f, "issued card %" PRId64 " has no chip serial;", id);
}

START_TEST(test_every_local_card_is_produced_exactly_once)
{
    struct load_results r;
    struct run_result rr;
    load_results_read(&load_cfg, &r);
    read_result(&rr);
    struct card_check k = {&r, &rr, {0, 0, ""}, 0, 0, 0, NULL, NULL, 0};
    idm_ctx_t *ctx = open_store();
    for_each_card(ctx, check_local_card, &k);
    idm_ctx_free(&ctx);
    /* and no station produced a card it was not given */
    for (int64_t id = 1; id < r.ncards; id++) {
        if (r.cards[id].skipped)
            note(&k.f, "card %" PRId64 " was skipped (not ready) %u times;", id,
                  r.cards[id].skipped);
        if (!r.cards[id].local && r.cards[id].produced)
            note(&k.f, "card %" PRId64 " was produced but no worker requested it;", id);
    }
    if (k.local != r.local_cards)
        note(&k.f, "the workers requested %ld local cards, the store has %ld;", r.local_cards,
              k.local);
    ck_assert_int_eq(k.shared, LOAD_SHARED);
    load_results_free(&r);
    free_result(&rr);
    assert_no_faults(&k.f);
}
END_TEST

START_TEST(test_order_outcomes_match_the_stations_reports)
{
    struct load_results r;
    struct run_result rr;
    load_results_read(&load_cfg, &r);
    read_result(&rr);
    struct faults f = {0, 0, ""};
    idm_ctx_t *ctx = open_store();
    idm_order_iter_t *it = NULL;
    idm_order_t *o = NULL;
    long mass = 0, external = 0, produced_total = 0;
    int rc;
    ck_ok(idm_order_iter_new(ctx, &it));
    while ((rc = idm_order_iter_next(it, &o)) == IDM_OK && o != NULL) {
        int64_t id, n[IDM_OUTCOME_FAILED + 1];
        idm_order_kind kind;
        idm_order_state state;
        ck_ok(idm_order_get_id(o, &id));
        ck_ok(idm_order_get_kind(o, &kind));
        ck_ok(idm_order_get_state(o, &state));
        for (int k = 0; k <= IDM_OUTCOME_FAILED; k++)
            ck_ok(idm_order_count_cards(o, (idm_order_card_outcome)k, &n[k]));
        if (state != IDM_ORDER_COMPLETED)
            note(&f, "order %" PRId64 " (%s) is '%s';", id, idm_order_kind_name(kind),
                  idm_order_state_name(state));
        if (n[IDM_OUTCOME_PENDING] + n[IDM_OUTCOME_CLAIMED] + n[IDM_OUTCOME_FAILED] != 0)
            note(&f, "order %" PRId64 " has %" PRId64 " pending, %" PRId64 " claimed, %" PRId64
                  " failed cards;", id, n[IDM_OUTCOME_PENDING], n[IDM_OUTCOME_CLAIMED],
                  n[IDM_OUTCOME_FAILED]);
        if (kind == IDM_ORDER_MASS_PRODUCTION) {
            mass++;
            long reported = 0;
            for (int64_t c = 1; c < r.ncards; c++)
                reported += r.cards[c].produced_order == id ? r.cards[c].produced : 0;
            if (id == rr.setup_order)
                reported += LOAD_SHARED; /* the shared cards, before the run */
            if (n[IDM_OUTCOME_PRODUCED] != reported || n[IDM_OUTCOME_SKIPPED] != 0)
                note(&f, "order %" PRId64 " counts %" PRId64 " produced and %" PRId64
                      " skipped cards; the stations reported %ld produced;", id,
                      n[IDM_OUTCOME_PRODUCED], n[IDM_OUTCOME_SKIPPED], reported);
            produced_total += (long)n[IDM_OUTCOME_PRODUCED];
        } else {
            external++;
            if (n[IDM_OUTCOME_PRODUCED] + n[IDM_OUTCOME_SKIPPED] != 1)
                note(&f, "external order %" PRId64 " has %" PRId64 " cards settled; it was "
                      "made for one;", id, n[IDM_OUTCOME_PRODUCED] + n[IDM_OUTCOME_SKIPPED]);
        }
        idm_order_free(&o);
    }
    ck_ok(rc);
    idm_order_iter_free(&it);
    idm_ctx_free(&ctx);
    if (produced_total != r.produced_in_run + r.produced_by_drain + LOAD_SHARED)
        note(&f, "the orders count %ld cards produced; the stations reported %ld;",
              produced_total, r.produced_in_run + r.produced_by_drain + LOAD_SHARED);
    if (external != r.external_cards)
        note(&f, "%ld external orders for %ld cards ordered;", external, r.external_cards);
    printf("# orders: %ld mass production, %ld external, all completed\n", mass, external);
    load_results_free(&r);
    free_result(&rr);
    assert_no_faults(&f);
}
END_TEST

static void check_external_card(idm_ctx_t *ctx, idm_card_t *c, void *arg)
{
    struct card_check *k = arg;
    int64_t id;
    idm_card_state state;
    idm_card_option option;
    ck_ok(idm_card_get_id(c, &id));
    ck_ok(idm_card_get_state(c, &state));
    ck_ok(idm_card_get_option(c, &option));
    const struct load_card_log *log = id < k->r->ncards ? &k->r->cards[id] : NULL;
    struct bureau_card bc = bureau_card(k->rr, id);
    if (log == NULL || !log->external) {
        if (bc.messages != 0 || bc.withdrawn != 0)
            note(&k->f, "the bureau got messages for card %" PRId64 ", which was not ordered "
                  "from it;", id);
        return;
    }
    k->external++;
    int ordered = id < k->ncards ? k->ordered[id] : 0;
    if (ordered != (log->aborted ? 0 : 1))
        note(&k->f, "card %" PRId64 " was ordered %d times;", id, ordered);
    if (log->approved != 1)
        note(&k->f, "card %" PRId64 " was approved %u times;", id, log->approved);
    if (bc.messages > 1)
        note(&k->f, "card %" PRId64 " reached the bureau under %u message ids;", id,
              bc.messages);
    if (log->aborted) {
        if (state != IDM_CARD_ABORTED || log->activated != 0 || log->aborted != 1)
            note(&k->f, "aborted card %" PRId64 " is '%s' (aborted %u, activated %u times);",
                  id, idm_card_state_name(state), log->aborted, log->activated);
        /* An abort must not leave an order at the bureau. */
        if (bc.messages != 0 && bc.withdrawn == 0)
            note(&k->f, "card %" PRId64 " was aborted but its order stays at the bureau;", id);
        return;
    }
    if (state != IDM_CARD_ACTIVE || log->activated != 1)
        note(&k->f, "card %" PRId64 " is '%s', activated %u times;", id,
              idm_card_state_name(state), log->activated);
    if (bc.messages != 1 || bc.withdrawn != 0 || bc.produced != 1)
        note(&k->f, "card %" PRId64 ": the bureau has %u orders, %u withdrawn, %u produced;",
              id, bc.messages, bc.withdrawn, bc.produced);
    char chip[64];
    snprintf(chip, sizeof chip, "%s-%04" PRId64, LOAD_BUREAU_PREFIX, id);
    const char *serial = NULL;
    ck_ok(idm_card_get_chip_serial(c, &serial));
    if (serial == NULL || strcmp(serial, chip) != 0)
        note(&k->f, "card %" PRId64 " has chip serial %s, the bureau reported %s;", id,
              serial != NULL ? serial : "(none)", chip);
    int live, superseded, other;
    fixture_count_certs(ctx, id, &live, &superseded, &other);
    int want = option == IDM_CARD_DIGITAL ? 1 : 0;
    if (live != want || superseded != 0 || other != 0)
        note(&k->f, "card %" PRId64 " (%s) has %d live, %d superseded, %d other revoked "
              "certificates; expected %d live only;", id, idm_card_option_name(option), live,
              superseded, other, want);
}

/* Status files the desks refused: only those of withdrawn orders. */
static long count_quarantined(const struct run_result *rr, struct faults *f)
{
    long n = 0;
    int slots = load_cfg.processes * load_cfg.threads;
    for (int s = -1; s < slots; s++) {
        char dir[LOAD_PATH_MAX + 32];
        load_spool_path(&load_cfg, s, dir, sizeof dir - 16);
        strcat(dir, "/quarantine");
        DIR *d = opendir(dir);
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (e->d_name[0] == '.' || (len > 7 && strcmp(e->d_name + len - 7, ".reason") == 0))
                continue;
            n++;
            /* "<message id>.s<stage>.json", perhaps with a suffix the spool adds */
            char id[256];
            snprintf(id, sizeof id, "%s", e->d_name);
            char *dot = strstr(id, ".s");
            if (dot != NULL)
                *dot = '\0';
            int withdrawn = 0;
            for (size_t i = 0; i < rr->nwithdrawn && !withdrawn; i++)
                withdrawn = strcmp(rr->withdrawn[i], id) == 0;
            if (!withdrawn)
                note(f, "a desk refused the status file %s/%s, whose order was not withdrawn;",
                      dir, e->d_name);
        }
        closedir(d);
    }
    return n;
}

/* The cards' moves to 'ordered', from one pass over the audit trail (a
 * pass per card would read it all again for each: see the report). */
static void read_ordered(idm_ctx_t *ctx, struct card_check *k)
{
    k->ncards = k->r->ncards;
    k->ordered = calloc((size_t)k->ncards + 1, 1);
    k->ordered_by_sync = calloc((size_t)k->ncards + 1, 1);
    ck_assert(k->ordered != NULL && k->ordered_by_sync != NULL);
    idm_audit_iter_t *it = NULL;
    idm_audit_event_t *ev = NULL;
    int rc;
    ck_ok(idm_audit_iter_new(ctx, &it));
    while ((rc = idm_audit_iter_next(it, &ev)) == IDM_OK && ev != NULL) {
        idm_object_type type;
        int64_t id;
        const char *from = NULL, *to = NULL, *d = "";
        ck_ok(idm_audit_event_get_object(ev, &type, &id));
        ck_ok(idm_audit_event_get_states(ev, &from, &to));
        ck_ok(idm_audit_event_get_detail(ev, &d));
        /* by the sync that recorded the bureau's answer, or by the first
         * status report when another desk syncing at once had submitted
         * the card too and the report came first */
        if (type == IDM_OBJECT_CARD && id > 0 && id < k->ncards && to != NULL &&
            strcmp(to, "ordered") == 0) {
            k->ordered[id]++;
            if (strncmp(d, "ordered from the bureau as message", 34) == 0)
                k->ordered_by_sync[id]++;
        }
        idm_audit_event_free(&ev);
    }
    ck_ok(rc);
    idm_audit_iter_free(&it);
}

START_TEST(test_external_cards_are_ordered_once_and_activated_once)
{
    struct load_results r;
    struct run_result rr;
    load_results_read(&load_cfg, &r);
    read_result(&rr);
    struct card_check k = {&r, &rr, {0, 0, ""}, 0, 0, 0, NULL, NULL, 0};
    idm_ctx_t *ctx = open_store();
    read_ordered(ctx, &k);
    for_each_card(ctx, check_external_card, &k);
    idm_ctx_free(&ctx);
    long ordered_by_sync = 0;
    for (int64_t id = 1; id < k.ncards; id++)
        ordered_by_sync += k.ordered_by_sync[id];
    free(k.ordered);
    free(k.ordered_by_sync);
    if (k.external != r.external_cards)
        note(&k.f, "the workers ordered %ld external cards, the store has %ld;",
              r.external_cards, k.external);
    if (rr.bureau.bad_files != 0 || rr.bureau.cards_twice != 0)
        note(&k.f, "the bureau found %ld order files that were not whole orders and %ld cards "
              "ordered under two message ids;", rr.bureau.bad_files, rr.bureau.cards_twice);
    if (r.sync_failed != 0)
        note(&k.f, "the spool refused %ld cards at a sync;", r.sync_failed);
    if (r.sync_sent != ordered_by_sync)
        note(&k.f, "the queue syncs said they ordered %ld cards; the audit trail has %ld "
             "ordered by a sync;", r.sync_sent, ordered_by_sync);
    long quarantined = count_quarantined(&rr, &k.f);
    if (quarantined != r.reports_refused)
        note(&k.f, "the desks refused %ld status reports and quarantined %ld files;",
              r.reports_refused, quarantined);
    printf("# external: %ld cards, %ld aborted (%ld orders withdrawn from the bureau), %ld "
           "status reports refused for withdrawn orders\n", k.external, r.aborted,
           rr.bureau.withdrawn, r.reports_refused);
    load_results_free(&r);
    free_result(&rr);
    assert_no_faults(&k.f);
}
END_TEST

/* ---- no lost update ------------------------------------------------------------ */

/* The writes of load workers to one thing (an attribute, a state, the
 * option), in the order the audit trail has them. */
struct history {
    long count;
    int last_worker;
    char last_to[128];
    long broken; /* changes that do not start where the one before ended */
};

/* The workers' writes to the shared records, from one pass over the audit
 * trail (filtering it by object reads it all again for each object: see
 * the report). */
struct histories {
    struct history own[LOAD_SHARED][LOAD_MAX_SLOTS]; /* attribute own<slot> */
    struct history hot[LOAD_SHARED], identity_state[LOAD_SHARED], card_state[LOAD_SHARED];
    struct history option; /* cert_aia_url: last_to is the value */
    long option_version;
};

static int worker_of(const char *actor)
{
    return strncmp(actor, "load:w", 6) == 0 ? atoi(actor + 6) : -1;
}

/* One more write; from (may be NULL) must be where the one before ended. */
static void record(struct history *h, int worker, const char *from, const char *to)
{
    if (h->count > 0 && from != NULL && strcmp(from, h->last_to) != 0)
        h->broken++;
    if (to != NULL)
        snprintf(h->last_to, sizeof h->last_to, "%.120s", to);
    h->count++;
    h->last_worker = worker;
}

static int shared_index(const int64_t *ids, int64_t id)
{
    for (int i = 0; i < LOAD_SHARED; i++)
        if (ids[i] == id)
            return i;
    return -1;
}

/* "cert_aia_url: 'old' -> 'new' (option set version V)": each write starts
 * from the value the one before left, with the next version. */
static void record_option(struct histories *h, int worker, const char *d)
{
    static char old[512], now[512];
    long v = 0;
    if (sscanf(d, "cert_aia_url: '%511[^']' -> '%511[^']' (option set version %ld)", old, now,
               &v) != 3) {
        old[0] = '\0';
        ck_assert_msg(sscanf(d, "cert_aia_url: '' -> '%511[^']' (option set version %ld)", now,
                             &v) == 2, "an option event reads '%s'", d);
    }
    if (h->option.count > 0 && v != h->option_version + 1)
        h->option.broken++;
    h->option_version = v;
    record(&h->option, worker, old, now);
}

static void read_histories(idm_ctx_t *ctx, const struct run_result *rr, struct histories *h)
{
    memset(h, 0, sizeof *h);
    idm_audit_iter_t *it = NULL;
    idm_audit_event_t *ev = NULL;
    int rc;
    ck_ok(idm_audit_iter_new(ctx, &it));
    while ((rc = idm_audit_iter_next(it, &ev)) == IDM_OK && ev != NULL) {
        idm_object_type type;
        int64_t id;
        const char *actor = "", *from = NULL, *to = NULL, *d = "";
        ck_ok(idm_audit_event_get_actor(ev, &actor));
        ck_ok(idm_audit_event_get_object(ev, &type, &id));
        ck_ok(idm_audit_event_get_states(ev, &from, &to));
        ck_ok(idm_audit_event_get_detail(ev, &d));
        int w = worker_of(actor), i, slot;
        int state = from != NULL && to != NULL && strcmp(from, to) != 0;
        if (w < 0) {
            /* not a worker's */
        } else if (type == IDM_OBJECT_IDENTITY &&
                   (i = shared_index(rr->shared_identities, id)) >= 0) {
            if (state)
                record(&h->identity_state[i], w, from, to);
            else if (strcmp(d, "attribute 'hot' set") == 0)
                record(&h->hot[i], w, NULL, NULL);
            else if (sscanf(d, "attribute 'own%d' set", &slot) == 1 && slot >= 0 &&
                     slot < LOAD_MAX_SLOTS)
                record(&h->own[i][slot], w, NULL, NULL);
        } else if (type == IDM_OBJECT_CARD && state &&
                   (i = shared_index(rr->shared_cards, id)) >= 0) {
            record(&h->card_state[i], w, from, to);
        } else if (type == IDM_OBJECT_OPTION && strncmp(d, "cert_aia_url: '", 15) == 0) {
            record_option(h, w, d);
        }
        idm_audit_event_free(&ev);
    }
    ck_ok(rc);
    idm_audit_iter_free(&it);
}

static void check_identity(idm_ctx_t *ctx, const struct load_results *r,
                           const struct histories *hs, int i, int64_t id, struct faults *f)
{
    int slots = load_cfg.processes * load_cfg.threads;
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_open(ctx, id, &p));
    char key[32], want[64];
    const char *value = NULL;
    for (int s = 0; s < slots; s++) {
        /* Its own key: the last value the library acknowledged, after as
         * many audited writes as it acknowledged. */
        snprintf(key, sizeof key, "own%d", s);
        snprintf(want, sizeof want, "w%d.%ld", s, r->own_last[s][i]);
        int rc = idm_identity_get_attribute(p, key, &value);
        if (r->own_last[s][i] > 0 && (rc != IDM_OK || strcmp(value, want) != 0))
            note(f, "identity %" PRId64 ": %s is '%s'; worker %d was told '%s' was stored;", id,
                 key, rc == IDM_OK ? value : "(none)", s, want);
        if (r->own_last[s][i] == 0 && rc != IDM_ERR_NOT_FOUND)
            note(f, "identity %" PRId64 " has %s, which worker %d never wrote;", id, key, s);
        if (hs->own[i][s].count != r->own_last[s][i])
            note(f, "identity %" PRId64 ": %ld audited writes of %s, %ld acknowledged;", id,
                 hs->own[i][s].count, key, r->own_last[s][i]);
    }
    /* The key everyone writes: every acknowledged write audited once, and
     * the value the one the last audited writer was told it stored. */
    long hot = 0;
    for (int s = 0; s < slots; s++)
        hot += r->hot_count[s][i];
    const struct history *h = &hs->hot[i];
    if (h->count != hot)
        note(f, "identity %" PRId64 ": %ld audited writes of 'hot', %ld acknowledged;", id,
             h->count, hot);
    int rc = idm_identity_get_attribute(p, "hot", &value);
    if (h->count > 0) {
        snprintf(want, sizeof want, "w%d.%ld", h->last_worker, r->hot_last[h->last_worker][i]);
        if (rc != IDM_OK || strcmp(value, want) != 0)
            note(f, "identity %" PRId64 ": 'hot' is '%s'; the last writer, worker %d, was "
                 "told '%s' was stored;", id, rc == IDM_OK ? value : "(none)", h->last_worker,
                 want);
    } else if (rc != IDM_ERR_NOT_FOUND) {
        note(f, "identity %" PRId64 " has 'hot', which no worker wrote;", id);
    }
    /* States: each acknowledged change audited once, each from the state
     * the one before left, ending where the identity is. */
    h = &hs->identity_state[i];
    idm_identity_state state;
    ck_ok(idm_identity_get_state(p, &state));
    const char *now = idm_identity_state_name(state);
    if (h->count != r->identity_flips[i] || h->broken != 0 ||
        strcmp(h->count > 0 ? h->last_to : "active", now) != 0)
        note(f, "identity %" PRId64 ": %ld state changes audited (%ld not from the state "
             "before), %ld acknowledged; it is '%s';", id, h->count, h->broken,
             r->identity_flips[i], now);
    idm_identity_free(&p);
}

static void check_shared_card(idm_ctx_t *ctx, const struct load_results *r,
                              const struct histories *hs, int i, int64_t id, struct faults *f)
{
    const struct history *h = &hs->card_state[i];
    const char *now = idm_card_state_name(fixture_card_state(ctx, id));
    if (h->count != r->card_flips[i] || h->broken != 0 ||
        strcmp(h->count > 0 ? h->last_to : "active", now) != 0)
        note(f, "card %" PRId64 ": %ld state changes audited (%ld not from the state before), "
             "%ld acknowledged; it is '%s';", id, h->count, h->broken, r->card_flips[i], now);
    int live, superseded, other;
    fixture_count_certs(ctx, id, &live, &superseded, &other);
    if (live != 1 || superseded + other != 0)
        note(f, "card %" PRId64 " has %d live and %d revoked certificates;", id, live,
             superseded + other);
}

/* The option: every acknowledged write audited, each from the value and
 * version the one before left, and the last one's value in force. */
static void check_option(idm_ctx_t *ctx, const struct load_results *r,
                         const struct histories *hs, struct faults *f)
{
    int slots = load_cfg.processes * load_cfg.threads;
    long acked = 0;
    for (int s = 0; s < slots; s++)
        acked += r->option_count[s];
    const struct history *h = &hs->option;
    const char *value = NULL;
    ck_ok(idm_options_get_string(ctx, "cert_aia_url", &value));
    char want[128] = "";
    if (h->count > 0)
        snprintf(want, sizeof want, "http://aia.example/w%d/%ld", h->last_worker,
                 r->option_last[h->last_worker]);
    if (h->count != acked || h->broken != 0 || strcmp(value, want) != 0 ||
        strcmp(h->last_to, want) != 0)
        note(f, "cert_aia_url: %ld writes audited (%ld not from the value and version before), "
             "%ld acknowledged; it is '%s', the last writer was told '%s';", h->count, h->broken,
             acked, value, want);
}

START_TEST(test_no_acknowledged_update_is_lost)
{
    struct load_results r;
    struct run_result rr;
    load_results_read(&load_cfg, &r);
    read_result(&rr);
    struct faults f = {0, 0, ""};
    struct histories *hs = malloc(sizeof *hs);
    ck_assert_ptr_nonnull(hs);
    idm_ctx_t *ctx = open_store();
    read_histories(ctx, &rr, hs);
    long writes = 0;
    for (int i = 0; i < LOAD_SHARED; i++) {
        check_identity(ctx, &r, hs, i, rr.shared_identities[i], &f);
        check_shared_card(ctx, &r, hs, i, rr.shared_cards[i], &f);
        writes += r.identity_flips[i] + r.card_flips[i];
        for (int s = 0; s < load_cfg.processes * load_cfg.threads; s++)
            writes += r.own_last[s][i] + r.hot_count[s][i];
    }
    check_option(ctx, &r, hs, &f);
    idm_ctx_free(&ctx);
    free(hs);
    printf("# no lost update: %ld acknowledged writes to %d shared identities and %d shared "
           "cards found in the store and its audit trail\n", writes, LOAD_SHARED, LOAD_SHARED);
    ck_assert_int_gt(writes, 0);
    load_results_free(&r);
    free_result(&rr);
    assert_no_faults(&f);
}
END_TEST

/* ---- the store as a whole ---------------------------------------------------------- */

START_TEST(test_store_invariants_hold)
{
    char cmd[3 * LOAD_PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%s' '%s' 2>&1", load_check_store_exe, load_cfg.store);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[1024];
    while (fgets(line, sizeof line, p) != NULL)
        printf("# check_store: %s", line);
    int status = pclose(p);
    fflush(stdout);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "check_store %s: wait status %d", load_cfg.store, status);
}
END_TEST

START_TEST(test_audit_chain_is_intact)
{
    idm_ctx_t *ctx = open_store();
    int64_t broken = -1;
    ck_ok(idm_audit_verify(ctx, &broken));
    ck_assert_int_eq(broken, 0);
    idm_ctx_free(&ctx);
}
END_TEST

void load_add_checks(TCase *tc)
{
    tcase_add_test(tc, test_no_busy_or_locked_error_reaches_a_caller);
    tcase_add_test(tc, test_no_worker_stalls_and_every_worker_finishes);
    tcase_add_test(tc, test_every_local_card_is_produced_exactly_once);
    tcase_add_test(tc, test_order_outcomes_match_the_stations_reports);
    tcase_add_test(tc, test_external_cards_are_ordered_once_and_activated_once);
    tcase_add_test(tc, test_no_acknowledged_update_is_lost);
    tcase_add_test(tc, test_store_invariants_hold);
    tcase_add_test(tc, test_audit_chain_is_intact);
}
