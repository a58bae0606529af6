/* One worker thread of the load test: its own context on the shared store,
 * its own CA handle (the built-in CA loaded from PEM), in-memory encoders
 * whose chip serials carry its slot, its own spool producer and desk; it
 * runs a random mix of operations through the public API until the end
 * time, and writes what the library acknowledged to its log file:
 *
 *   C <op> <ok> <refused> <errors> <busy> <max ms> <total ms>   per kind
 *   R <card> <option>          a local card requested and approved
 *   P <card> <order>           a card this thread's station produced
 *   S <card> <order>           a card a station skipped (never expected)
 *   E <card> <option>          an external card ordered
 *   A <card>                   an external card approved (-> processing)
 *   X <card>                   an external card aborted
 *   V <card>                   an external card activated
 *   U <applied> <refused>      status reports applied and refused by one update
 *   Q <sent> <failed>          cards one queue sync ordered and saw refused
 *   K <i> <seq>                its own attribute of shared identity i: last value
 *   H <i> <count> <last>       the "hot" attribute of shared identity i: writes, last
 *   I <i> <count>              state changes of shared identity i
 *   F <i> <count>              state changes of shared card i
 *   O <count> <last>           cert_aia_url writes, last
 *   N <op> <words>             a business refusal, by the words that told it
 *
 * A call that fails is a failure of the test unless it is a business
 * refusal the operation expects (another worker got there first); each
 * failure is printed with the library's words. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "load.h"
#include "mem_encoder.h"

const char *const load_op_names[OP_KINDS] = {
    "request",   "produce",  "ext_order",      "ext_approve", "ext_abort", "ext_sync",
    "ext_update", "ext_activate", "attribute", "identity_state", "card_state", "option"};

/* How often each operation is picked, out of the sum. */
static const int op_weight[OP_KINDS] = {
    [OP_REQUEST] = 4,   [OP_PRODUCE] = 5,        [OP_EXT_ORDER] = 3, [OP_EXT_APPROVE] = 2,
    [OP_EXT_ABORT] = 1, [OP_EXT_SYNC] = 2,       [OP_EXT_UPDATE] = 2, [OP_EXT_ACTIVATE] = 2,
    [OP_ATTRIBUTE] = 4, [OP_IDENTITY_STATE] = 2, [OP_CARD_STATE] = 3, [OP_OPTION] = 1};

struct op_stats {
    long ok, refused, errors, busy;
    int64_t max_ms, total_ms;
};

struct worker {
    const struct load_config *cfg;
    int slot, slots;
    unsigned seed;
    char actor[32], approver[32], station[32];
    char prefix_digital[24], prefix_physical[24];
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_encoder_t *enc_digital, *enc_physical, *enc_bureau;
    struct mem_card *mem_digital, *mem_physical, *mem_bureau;
    idm_producer_t *producer;
    idm_external_t *desk;
    /* handles kept for the whole run, so they go stale as others write */
    idm_identity_t *identities[LOAD_SHARED];
    idm_card_t *cards[LOAD_SHARED];
    FILE *log;
    long seq;
    struct op_stats stats[OP_KINDS];
    int op;
    int64_t end_ms; /* CLOCK_MONOTONIC: it starts no operation after it */
    /* what the library acknowledged of the shared records */
    long own_last[LOAD_SHARED], hot_count[LOAD_SHARED], hot_last[LOAD_SHARED];
    long identity_flips[LOAD_SHARED], card_flips[LOAD_SHARED];
    long option_count, option_last;
};

int64_t load_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void load_spool_path(const struct load_config *cfg, int slot, char *out, size_t size)
{
    if (slot < 0)
        snprintf(out, size, "%s/spool-drain", cfg->dir);
    else
        snprintf(out, size, "%s/spool-%d", cfg->dir, slot);
}

void load_log_path(const struct load_config *cfg, int slot, char *out, size_t size)
{
    if (slot < 0)
        snprintf(out, size, "%s/drain.log", cfg->dir);
    else
        snprintf(out, size, "%s/w%d.log", cfg->dir, slot);
}

int load_error_is_busy(const char *message)
{
    /* SQLite's words for SQLITE_BUSY and SQLITE_LOCKED, or their codes
     * (extended ones too) as the store reports them */
    if (strstr(message, "database is locked") != NULL ||
        strstr(message, "database table is locked") != NULL)
        return 1;
    const char *p = strstr(message, "SQLite error ");
    while (p != NULL) {
        int code = atoi(p + 13);
        if ((code & 0xff) == 5 || (code & 0xff) == 6) /* SQLITE_BUSY, SQLITE_LOCKED */
            return 1;
        p = strstr(p + 13, "SQLite error ");
    }
    return 0;
}

static void beat(struct worker *w)
{
    struct load_beat *b = &w->cfg->beats[w->slot];
    __atomic_store_n(&b->beat_ms, load_now_ms(), __ATOMIC_RELAXED);
}

static int time_is_up(const struct worker *w)
{
    return load_now_ms() >= w->end_ms;
}

static unsigned pick(struct worker *w, unsigned n)
{
    return n == 0 ? 0 : (unsigned)rand_r(&w->seed) % n;
}

/* A call failed and it was not a refusal the operation expects. */
static void fail(struct worker *w, const char *call, int rc)
{
    const char *msg = idm_last_error_message();
    int busy = load_error_is_busy(msg);
    w->stats[w->op].errors++;
    w->stats[w->op].busy += busy;
    fprintf(stderr, "# worker %d, %s: %s failed: %s (%d)%s: %s\n", w->slot,
            load_op_names[w->op], call, idm_strerror_name(rc), rc,
            busy ? " [BUSY/LOCKED reached the caller]" : "", msg);
}

/* A refusal is expected when its code is IDM_ERR_STATE and the library's
 * words contain one of the phrases (NULL-terminated). */
static int refusal(struct worker *w, int rc, const char *const *phrases)
{
    if (rc != IDM_ERR_STATE)
        return 0;
    const char *msg = idm_last_error_message();
    for (; *phrases != NULL; phrases++) {
        if (strstr(msg, *phrases) != NULL) {
            w->stats[w->op].refused++;
            fprintf(w->log, "N %d %s\n", w->op, *phrases);
            return 1;
        }
    }
    return 0;
}

int load_deliver(const idm_card_t *card, const char *pin, const char *puk, void *ud)
{
    (void)card, (void)pin, (void)puk, (void)ud;
    return 0;
}

static void on_log(idm_log_level level, const char *component, const char *message, void *ud)
{
    const struct worker *w = ud;
    if (level <= IDM_LOG_WARNING)
        fprintf(stderr, "# worker %d: libidm %s (%s): %s\n", w->slot, idm_log_level_name(level),
                component, message);
}

/* A new active person with the attributes the templates need. */
static int new_person(struct worker *w, const char *kind, int64_t *id)
{
    char ext[64];
    snprintf(ext, sizeof ext, "%s%d-%ld", kind, w->slot, ++w->seq);
    idm_identity_t *p = NULL;
    int rc = idm_identity_new(w->ctx, w->actor, ext, &p);
    const char *call = "idm_identity_new";
    if (rc == IDM_OK && (rc = idm_identity_set_attribute(p, w->actor, "givenName", "Load")) != 0)
        call = "idm_identity_set_attribute(givenName)";
    if (rc == IDM_OK && (rc = idm_identity_set_attribute(p, w->actor, "surname", ext)) != 0)
        call = "idm_identity_set_attribute(surname)";
    if (rc == IDM_OK &&
        (rc = idm_identity_set_attribute(p, w->actor, "employeeNumber", ext)) != IDM_OK)
        call = "idm_identity_set_attribute(employeeNumber)";
    if (rc == IDM_OK && (rc = idm_identity_set_state(p, w->actor, IDM_IDENTITY_ACTIVE)) != 0)
        call = "idm_identity_set_state(active)";
    if (rc == IDM_OK && (rc = idm_identity_get_id(p, id)) != IDM_OK)
        call = "idm_identity_get_id";
    if (rc != IDM_OK)
        fail(w, call, rc);
    idm_identity_free(&p);
    return rc;
}

/* ---- mass production ------------------------------------------------------ */

/* An open or running mass production order of the option with room for
 * more cards (any, when room is 0), picked at random; *order NULL when
 * there is none. */
static int find_order(struct worker *w, idm_card_option option, int room, idm_order_t **order)
{
    static const idm_order_state states[] = {IDM_ORDER_RUNNING, IDM_ORDER_OPEN};
    int64_t ids[64];
    int n = 0, rc = IDM_OK;
    *order = NULL;
    for (int s = 0; s < 2 && rc == IDM_OK; s++) {
        idm_order_iter_t *it = NULL;
        idm_order_t *o = NULL;
        rc = idm_order_iter_new(w->ctx, &it);
        if (rc == IDM_OK)
            rc = idm_order_iter_set_state(it, states[s]);
        while (rc == IDM_OK && (rc = idm_order_iter_next(it, &o)) == IDM_OK && o != NULL) {
            idm_order_kind kind;
            idm_card_option opt;
            int64_t id, total = 0, count;
            (void)idm_order_get_kind(o, &kind);
            (void)idm_order_get_card_kind(o, NULL, &opt);
            (void)idm_order_get_id(o, &id);
            for (int k = IDM_OUTCOME_PENDING; room && rc == IDM_OK && k <= IDM_OUTCOME_FAILED; k++)
                if ((rc = idm_order_count_cards(o, (idm_order_card_outcome)k, &count)) == IDM_OK)
                    total += count;
            if (rc == IDM_OK && kind == IDM_ORDER_MASS_PRODUCTION && opt == option &&
                (!room || total < LOAD_ORDER_CAP) && n < 64)
                ids[n++] = id;
            idm_order_free(&o);
        }
        idm_order_iter_free(&it);
    }
    if (rc != IDM_OK) {
        fail(w, "listing the orders", rc);
        return rc;
    }
    if (n == 0)
        return IDM_OK;
    rc = idm_order_open(w->ctx, ids[pick(w, (unsigned)n)], order);
    if (rc != IDM_OK)
        fail(w, "idm_order_open", rc);
    return rc;
}

static int new_order(struct worker *w, idm_card_option option, idm_order_t **order)
{
    int rc = idm_order_new(w->ctx, w->actor, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                           option, NULL, order);
    if (rc != IDM_OK)
        fail(w, "idm_order_new", rc);
    return rc;
}

/* The refusals of adding cards to an order someone else just completed,
 * of a card another worker's idm_order_add_approved() took first, and of
 * a card a station produced meanwhile. */
static const char *const add_refusals[] = {"cards are added only while", "already belongs to order",
                                           "joins no other order", NULL};

/* Each card on its own into a new order; a card another worker's
 * idm_order_add_approved() took meanwhile is in its order already. */
static int add_one_by_one(struct worker *w, idm_card_option option, const int64_t *cards, int n)
{
    idm_order_t *order = NULL;
    int rc = new_order(w, option, &order);
    for (int i = 0; rc == IDM_OK && i < n; i++) {
        rc = idm_order_add_card(order, w->actor, cards[i]);
        if (rc != IDM_OK && refusal(w, rc, add_refusals)) {
            idm_card_t *c = NULL;
            int64_t in = 0;
            rc = idm_card_open(w->ctx, cards[i], &c);
            if (rc == IDM_OK)
                (void)idm_card_get_order_id(c, &in);
            idm_card_free(&c);
            if (rc == IDM_OK && in == 0) {
                fprintf(stderr, "# worker %d: card %lld was refused by a new order but is in "
                        "no order\n", w->slot, (long long)cards[i]);
                w->stats[w->op].errors++;
                rc = IDM_ERR_STATE;
            } else if (rc != IDM_OK) {
                fail(w, "idm_card_open", rc);
            }
        } else if (rc != IDM_OK) {
            fail(w, "idm_order_add_card", rc);
        }
    }
    idm_order_free(&order);
    return rc;
}

static void op_request(struct worker *w)
{
    int hold = w->cfg->self_test_stall && w->slot == 0;
    idm_card_option option = pick(w, 2) || hold ? IDM_CARD_DIGITAL : IDM_CARD_PHYSICAL;
    int64_t cards[3];
    int n = hold ? 3 : 1 + (int)pick(w, 3), rc = IDM_OK;
    for (int i = 0; i < n && rc == IDM_OK; i++) {
        int64_t holder = 0;
        idm_card_t *c = NULL;
        if ((rc = new_person(w, "L", &holder)) != IDM_OK)
            return;
        rc = idm_card_new(w->ctx, w->actor, IDM_CARD_EMPLOYEE, option, IDM_PRODUCTION_LOCAL,
                          holder, NULL, &c);
        if (rc != IDM_OK) {
            fail(w, "idm_card_new", rc);
            return;
        }
        const char *call = "idm_card_set_state(requested)";
        rc = idm_card_set_state(c, w->actor, IDM_CARD_REQUESTED, NULL);
        if (rc == IDM_OK) {
            call = "idm_card_set_state(approved)";
            rc = idm_card_set_state(c, w->approver, IDM_CARD_APPROVED, NULL);
        }
        if (rc == IDM_OK)
            rc = idm_card_get_id(c, &cards[i]);
        idm_card_free(&c);
        if (rc != IDM_OK) {
            fail(w, call, rc);
            return;
        }
        fprintf(w->log, "R %lld %d\n", (long long)cards[i], (int)option);
    }
    idm_order_t *order = NULL;
    if (find_order(w, option, 1, &order) != IDM_OK)
        return;
    if (order == NULL && new_order(w, option, &order) != IDM_OK)
        return;
    if (pick(w, 4) == 0) {
        /* Every approved card of the kind not in an open order, ours and
         * the cards other workers approved and are about to add. */
        size_t added = 0;
        rc = idm_order_add_approved(order, w->actor, 4, &added);
        if (rc != IDM_OK && !refusal(w, rc, add_refusals))
            fail(w, "idm_order_add_approved", rc);
    } else {
        rc = idm_order_add_cards(order, w->actor, cards, (size_t)n);
        if (rc != IDM_OK && !refusal(w, rc, add_refusals)) {
            fail(w, "idm_order_add_cards", rc);
            rc = IDM_OK;
        }
    }
    idm_order_free(&order);
    /* Whatever happened above, each card must end in an order: one still
     * approved whose order is gone (or that is in none) goes into a new
     * one.  As a host would, this reads the card and then its order, so a
     * station may produce the card and complete the order in between: the
     * library must then refuse to add it again ("joins no other order"),
     * or a second order would count it produced without producing it. */
    int left = 0;
    for (int i = 0; i < n; i++) {
        idm_card_t *c = NULL;
        int64_t in = 0;
        if ((rc = idm_card_open(w->ctx, cards[i], &c)) != IDM_OK) {
            fail(w, "idm_card_open", rc);
            return;
        }
        (void)idm_card_get_order_id(c, &in);
        idm_card_state s = IDM_CARD_APPROVED;
        (void)idm_card_get_state(c, &s);
        idm_card_free(&c);
        if (s != IDM_CARD_APPROVED)
            continue; /* produced already */
        idm_order_t *o = NULL;
        idm_order_state os = IDM_ORDER_COMPLETED;
        if (in != 0 && (rc = idm_order_open(w->ctx, in, &o)) == IDM_OK)
            (void)idm_order_get_state(o, &os);
        idm_order_free(&o);
        if (rc != IDM_OK) {
            fail(w, "idm_order_open", rc);
            return;
        }
        if (os != IDM_ORDER_OPEN && os != IDM_ORDER_RUNNING)
            cards[left++] = cards[i];
    }
    if (left > 0)
        (void)add_one_by_one(w, option, cards, left);
}

struct run_state {
    struct worker *w;
    int64_t order_id;
    int produced, max;
};

static int on_progress(const idm_order_t *order, int64_t card_id, idm_order_card_outcome outcome,
                       void *ud)
{
    struct run_state *r = ud;
    (void)order;
    beat(r->w);
    if (outcome == IDM_OUTCOME_PRODUCED) {
        fprintf(r->w->log, "P %lld %lld\n", (long long)card_id, (long long)r->order_id);
        r->produced++;
    } else {
        fprintf(r->w->log, "S %lld %lld\n", (long long)card_id, (long long)r->order_id);
        fprintf(stderr, "# worker %d: card %lld was %s in order %lld\n", r->w->slot,
                (long long)card_id, idm_order_card_outcome_name(outcome),
                (long long)r->order_id);
        r->w->stats[r->w->op].errors++;
    }
    /* Stop after a few cards, so that the station moves on. */
    return r->produced >= r->max || time_is_up(r->w) ? 1 : 0;
}

static int on_complete_or_more(const idm_order_t *order, int *more, void *ud)
{
    struct run_state *r = ud;
    int64_t total = 0, count;
    for (int k = IDM_OUTCOME_PENDING; k <= IDM_OUTCOME_FAILED; k++)
        if (idm_order_count_cards(order, (idm_order_card_outcome)k, &count) == IDM_OK)
            total += count;
    *more = 0;
    beat(r->w);
    /* A full order is complete; one with room waits for more cards: this
     * station stops and comes back later. */
    return total >= LOAD_ORDER_CAP ? 0 : 1;
}

/* The watchdog's self-test: a readiness hook that never returns, inside
 * the store transaction of a group's claims (<idm/production.h> says it
 * must not wait on anything): the store's write lock is held for good,
 * and every worker stops. */
static int hold_the_store(const idm_card_t *card, char *why, size_t size, void *ud)
{
    (void)card, (void)why, (void)size, (void)ud;
    for (;;)
        sleep(60);
    return 0;
}

static void op_produce(struct worker *w)
{
    int hold = w->cfg->self_test_stall && w->slot == 0;
    idm_card_option option = pick(w, 2) || hold ? IDM_CARD_DIGITAL : IDM_CARD_PHYSICAL;
    idm_order_t *order = NULL;
    if (find_order(w, option, 0, &order) != IDM_OK || order == NULL)
        return;
    struct run_state r = {w, 0, 0, 2 + (int)pick(w, 4)};
    (void)idm_order_get_id(order, &r.order_id);
    idm_station_t *st = NULL;
    int rc = idm_station_open(&st, order, w->station,
                              option == IDM_CARD_DIGITAL ? w->enc_digital : w->enc_physical,
                              option == IDM_CARD_DIGITAL ? w->ca : NULL);
    if (rc == IDM_OK)
        rc = idm_station_set_group(st, hold ? 2 : 1 + pick(w, 4));
    if (rc != IDM_OK) {
        fail(w, "idm_station_open", rc);
    } else {
        idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
        hooks.ready = hold ? hold_the_store : NULL;
        hooks.progress = on_progress;
        hooks.complete_or_more = on_complete_or_more;
        rc = idm_production_run(st, w->actor, &hooks, sizeof hooks, &r);
        /* Our own stop; or, while this station asked to complete, another
         * worker added a card ("answer 'more'"). */
        static const char *const refusals[] = {"answer 'more'", NULL};
        if (rc == IDM_ERR_CANCELLED &&
            (strstr(idm_last_error_message(), "the progress hook returned 1") != NULL ||
             strstr(idm_last_error_message(), "the complete_or_more hook returned 1") != NULL))
            rc = IDM_OK;
        if (rc != IDM_OK && !refusal(w, rc, refusals))
            fail(w, "idm_production_run", rc);
    }
    idm_station_free(&st);
    idm_order_free(&order);
}

/* ---- external production -------------------------------------------------- */

static void op_ext_order(struct worker *w)
{
    int64_t holder = 0;
    if (new_person(w, "X", &holder) != IDM_OK)
        return;
    idm_card_option option = pick(w, 2) ? IDM_CARD_DIGITAL : IDM_CARD_PHYSICAL;
    idm_card_t *c = NULL;
    int rc = idm_external_order_card(w->desk, w->actor, holder, IDM_CARD_EMPLOYEE, option,
                                     IDM_PRODUCTION_EXTERNAL, &c);
    int64_t id = 0;
    if (rc == IDM_OK)
        rc = idm_card_get_id(c, &id);
    if (rc == IDM_OK)
        fprintf(w->log, "E %lld %d\n", (long long)id, (int)option);
    else
        fail(w, "idm_external_order_card", rc);
    idm_card_free(&c);
}

/* Up to max external cards in state, from a random point of the list. */
static int external_cards(struct worker *w, idm_card_state state, int64_t *ids, int max)
{
    idm_card_iter_t *it = NULL;
    idm_card_t *c = NULL;
    int n = 0, seen = 0, rc = idm_card_iter_new(w->ctx, &it);
    if (rc == IDM_OK)
        rc = idm_card_iter_set_state(it, state);
    int skip = (int)pick(w, 4);
    while (rc == IDM_OK && n < max && (rc = idm_card_iter_next(it, &c)) == IDM_OK && c != NULL) {
        idm_production prod = IDM_PRODUCTION_LOCAL;
        idm_card_type type = IDM_CARD_EMPLOYEE;
        (void)idm_card_get_production(c, &prod);
        (void)idm_card_get_type(c, &type);
        if (prod == IDM_PRODUCTION_EXTERNAL && type != IDM_CARD_TEMPORARY && seen++ >= skip)
            (void)idm_card_get_id(c, &ids[n++]);
        idm_card_free(&c);
    }
    idm_card_iter_free(&it);
    if (rc != IDM_OK)
        fail(w, "listing the cards", rc);
    return rc == IDM_OK ? n : -1;
}

/* Another worker moved the card first. */
static const char *const moved_on[] = {"is only allowed from", NULL};

static void op_ext_approve(struct worker *w)
{
    int64_t ids[3];
    int n = external_cards(w, IDM_CARD_REQUESTED, ids, 3);
    for (int i = 0; i < n; i++) {
        idm_card_t *c = NULL;
        int rc = idm_card_open(w->ctx, ids[i], &c);
        if (rc == IDM_OK)
            rc = idm_external_approve(w->desk, w->approver, c);
        if (rc == IDM_OK)
            fprintf(w->log, "A %lld\n", (long long)ids[i]);
        else if (!refusal(w, rc, moved_on))
            fail(w, "idm_external_approve", rc);
        idm_card_free(&c);
    }
}

static void op_ext_abort(struct worker *w)
{
    int64_t id;
    /* One in three picks: aborts are rare at a real desk. */
    if (pick(w, 3) != 0 || external_cards(w, IDM_CARD_PROCESSING, &id, 1) != 1)
        return;
    idm_card_t *c = NULL;
    int rc = idm_card_open(w->ctx, id, &c);
    if (rc == IDM_OK)
        rc = idm_external_abort(w->desk, w->actor, c, "load test: the holder left");
    if (rc == IDM_OK)
        fprintf(w->log, "X %lld\n", (long long)id);
    else if (!refusal(w, rc, moved_on))
        fail(w, "idm_external_abort", rc);
    idm_card_free(&c);
}

static void op_ext_sync(struct worker *w)
{
    size_t sent = 0, refused = 0;
    int rc = idm_external_sync_queue(w->desk, w->actor, 1 + pick(w, 8), &sent, &refused);
    if (rc != IDM_OK)
        fail(w, "idm_external_sync_queue", rc);
    else
        fprintf(w->log, "Q %zu %zu\n", sent, refused);
}

static void op_ext_update(struct worker *w)
{
    size_t applied = 0, refused = 0;
    int rc = idm_external_update(w->desk, w->actor, &applied, &refused);
    if (rc != IDM_OK)
        fail(w, "idm_external_update", rc);
    else
        fprintf(w->log, "U %zu %zu\n", applied, refused);
}

static void op_ext_activate(struct worker *w)
{
    int64_t ids[16];
    int n = external_cards(w, IDM_CARD_PRODUCED, ids, 16);
    /* A card is in one encoder at a time: each worker takes its share. */
    for (int i = 0, done = 0; i < n && done < 2; i++) {
        if (ids[i] % w->slots != w->slot)
            continue;
        idm_card_t *c = NULL;
        idm_card_option option = IDM_CARD_PHYSICAL;
        int rc = idm_card_open(w->ctx, ids[i], &c);
        if (rc == IDM_OK) {
            (void)idm_card_get_option(c, &option);
            w->mem_bureau->serial_no = (int)ids[i];
            rc = idm_external_activate(w->desk, w->actor, c, w->enc_bureau,
                                       option == IDM_CARD_DIGITAL ? w->ca : NULL);
        }
        if (rc == IDM_OK)
            fprintf(w->log, "V %lld\n", (long long)ids[i]);
        else
            fail(w, "idm_external_activate", rc);
        idm_card_free(&c);
        done++;
        beat(w);
    }
}

/* ---- updates that could be lost ------------------------------------------- */

static void op_attribute(struct worker *w)
{
    int i = (int)pick(w, LOAD_SHARED);
    char key[32], value[64];
    long n;
    int hot = (int)pick(w, 2);
    if (hot) {
        snprintf(key, sizeof key, "hot");
        n = w->hot_last[i] + 1;
        snprintf(value, sizeof value, "w%d.%ld", w->slot, n);
    } else {
        snprintf(key, sizeof key, "own%d", w->slot);
        n = w->own_last[i] + 1;
        snprintf(value, sizeof value, "w%d.%ld", w->slot, n);
    }
    int rc = idm_identity_set_attribute(w->identities[i], w->actor, key, value);
    if (rc != IDM_OK) {
        fail(w, "idm_identity_set_attribute", rc);
    } else if (hot) {
        w->hot_last[i] = n;
        w->hot_count[i]++;
    } else {
        w->own_last[i] = n;
    }
}

static void op_identity_state(struct worker *w)
{
    int i = (int)pick(w, LOAD_SHARED);
    idm_identity_state s = IDM_IDENTITY_ACTIVE;
    (void)idm_identity_get_state(w->identities[i], &s); /* perhaps stale */
    idm_identity_state to = s == IDM_IDENTITY_ACTIVE ? IDM_IDENTITY_INACTIVE : IDM_IDENTITY_ACTIVE;
    int rc = idm_identity_set_state(w->identities[i], w->actor, to);
    static const char *const refusals[] = {"is only reachable from", NULL};
    if (rc == IDM_OK) {
        w->identity_flips[i]++;
    } else if (refusal(w, rc, refusals)) {
        if ((rc = idm_identity_refresh(w->identities[i])) != IDM_OK)
            fail(w, "idm_identity_refresh", rc);
    } else {
        fail(w, "idm_identity_set_state", rc);
    }
}

static void op_card_state(struct worker *w)
{
    int i = (int)pick(w, LOAD_SHARED);
    idm_card_state s = IDM_CARD_ACTIVE;
    (void)idm_card_get_state(w->cards[i], &s); /* perhaps stale */
    idm_card_state to = s == IDM_CARD_ACTIVE ? IDM_CARD_INACTIVE : IDM_CARD_ACTIVE;
    int rc = idm_card_set_state(w->cards[i], w->actor, to, NULL);
    static const char *const refusals[] = {"is only reachable from", NULL};
    if (rc == IDM_OK) {
        w->card_flips[i]++;
    } else if (refusal(w, rc, refusals)) {
        if ((rc = idm_card_refresh(w->cards[i])) != IDM_OK)
            fail(w, "idm_card_refresh", rc);
    } else {
        fail(w, "idm_card_set_state", rc);
    }
}

static void op_option(struct worker *w)
{
    char value[96];
    long n = w->option_last + 1;
    snprintf(value, sizeof value, "http://aia.example/w%d/%ld", w->slot, n);
    int rc = idm_options_set_string(w->ctx, w->actor, "cert_aia_url", value);
    if (rc != IDM_OK) {
        fail(w, "idm_options_set_string(cert_aia_url)", rc);
    } else {
        w->option_last = n;
        w->option_count++;
    }
}

static void (*const ops[OP_KINDS])(struct worker *w) = {
    [OP_REQUEST] = op_request,         [OP_PRODUCE] = op_produce,
    [OP_EXT_ORDER] = op_ext_order,     [OP_EXT_APPROVE] = op_ext_approve,
    [OP_EXT_ABORT] = op_ext_abort,     [OP_EXT_SYNC] = op_ext_sync,
    [OP_EXT_UPDATE] = op_ext_update,   [OP_EXT_ACTIVATE] = op_ext_activate,
    [OP_ATTRIBUTE] = op_attribute,     [OP_IDENTITY_STATE] = op_identity_state,
    [OP_CARD_STATE] = op_card_state,   [OP_OPTION] = op_option};

/* ---- the thread ------------------------------------------------------------ */

static int setup(struct worker *w)
{
    const struct load_config *cfg = w->cfg;
    char spool[LOAD_PATH_MAX];
    const char *call = "idm_ctx_new";
    int rc = idm_ctx_new(&w->ctx);
    if (rc == IDM_OK) {
        (void)idm_ctx_set_log_callback(w->ctx, on_log, w);
        (void)idm_ctx_set_log_level(w->ctx, IDM_LOG_WARNING);
        call = "idm_ctx_open_store";
        rc = idm_ctx_open_store(w->ctx, cfg->store);
    }
    if (rc == IDM_OK) {
        call = "idm_ca_new_openssl_pem";
        rc = idm_ca_new_openssl_pem(&w->ca, w->ctx, cfg->ca_cert_pem, strlen(cfg->ca_cert_pem),
                                    cfg->ca_key_pem, strlen(cfg->ca_key_pem), fixture_passphrase,
                                    NULL);
    }
    if (rc == IDM_OK) {
        w->enc_digital = mem_encoder_new(&w->mem_digital, 1);
        w->enc_physical = mem_encoder_new(&w->mem_physical, 0);
        w->enc_bureau = mem_encoder_new(&w->mem_bureau, 1);
        w->mem_digital->serial_prefix = w->prefix_digital;
        w->mem_physical->serial_prefix = w->prefix_physical;
        w->mem_bureau->serial_prefix = LOAD_BUREAU_PREFIX;
        call = "idm_encoder_set_pin_callbacks";
        rc = idm_encoder_set_pin_callbacks(w->enc_digital, NULL, load_deliver, NULL);
        if (rc == IDM_OK)
            rc = idm_encoder_set_pin_callbacks(w->enc_physical, NULL, load_deliver, NULL);
        if (rc == IDM_OK)
            rc = idm_encoder_set_pin_callbacks(w->enc_bureau, NULL, load_deliver, NULL);
    }
    if (rc == IDM_OK) {
        load_spool_path(cfg, w->slot, spool, sizeof spool);
        call = "idm_producer_new_spool";
        rc = mkdir(spool, 0700) == 0 ? idm_producer_new_spool(&w->producer, spool) : IDM_ERR_IO;
    }
    if (rc == IDM_OK) {
        call = "idm_external_new";
        rc = idm_external_new(&w->desk, w->ctx, w->producer, NULL);
    }
    for (int i = 0; rc == IDM_OK && i < LOAD_SHARED; i++) {
        call = "opening the shared records";
        rc = idm_identity_open(w->ctx, cfg->shared_identities[i], &w->identities[i]);
        if (rc == IDM_OK)
            rc = idm_card_open(w->ctx, cfg->shared_cards[i], &w->cards[i]);
    }
    if (rc != IDM_OK)
        fail(w, call, rc);
    return rc;
}

static void teardown(struct worker *w)
{
    for (int i = 0; i < LOAD_SHARED; i++) {
        idm_identity_free(&w->identities[i]);
        idm_card_free(&w->cards[i]);
    }
    idm_external_free(&w->desk);
    idm_producer_free(&w->producer);
    idm_encoder_free(&w->enc_digital);
    idm_encoder_free(&w->enc_physical);
    idm_encoder_free(&w->enc_bureau);
    idm_ca_free(&w->ca);
    idm_ctx_free(&w->ctx);
}

static void write_summary(struct worker *w)
{
    for (int k = 0; k < OP_KINDS; k++) {
        const struct op_stats *s = &w->stats[k];
        fprintf(w->log, "C %d %ld %ld %ld %ld %lld %lld\n", k, s->ok, s->refused, s->errors,
                s->busy, (long long)s->max_ms, (long long)s->total_ms);
    }
    for (int i = 0; i < LOAD_SHARED; i++) {
        fprintf(w->log, "K %d %ld\nH %d %ld %ld\nI %d %ld\nF %d %ld\n", i, w->own_last[i], i,
                w->hot_count[i], w->hot_last[i], i, w->identity_flips[i], i, w->card_flips[i]);
    }
    fprintf(w->log, "O %ld %ld\n", w->option_count, w->option_last);
}

void *load_worker_main(void *arg)
{
    struct worker *w = arg;
    struct load_beat *b = &w->cfg->beats[w->slot];
    int total = 0;
    for (int k = 0; k < OP_KINDS; k++)
        total += op_weight[k];
    beat(w);
    w->op = OP_REQUEST; /* where setup failures are counted */
    if (setup(w) != IDM_OK) {
        teardown(w);
        __atomic_store_n(&b->finished, 1, __ATOMIC_RELAXED);
        return w;
    }
    /* The time counts from here: setting up is slow under valgrind. */
    w->end_ms = load_now_ms() + (int64_t)(w->cfg->seconds * 1000);
    /* The watchdog's self-test: worker 0 requests cards and runs a station,
     * again and again whatever the time, until a station claims a group
     * and stops in the readiness hook for good. */
    int hold = w->cfg->self_test_stall && w->slot == 0;
    for (long done = 0; hold || !time_is_up(w); done++) {
        int r = (int)pick(w, (unsigned)total), k = 0;
        while (r >= op_weight[k])
            r -= op_weight[k++];
        if (hold)
            k = done % 2 == 0 ? OP_REQUEST : OP_PRODUCE;
        w->op = k;
        __atomic_store_n(&b->op, k, __ATOMIC_RELAXED);
        long errors = w->stats[k].errors;
        int64_t t0 = load_now_ms();
        ops[k](w);
        int64_t ms = load_now_ms() - t0;
        struct op_stats *s = &w->stats[k];
        s->ok += s->errors == errors;
        s->total_ms += ms;
        s->max_ms = ms > s->max_ms ? ms : s->max_ms;
        __atomic_store_n(&b->op, -1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&b->ops, 1, __ATOMIC_RELAXED);
        beat(w);
    }
    teardown(w);
    __atomic_store_n(&b->finished, 1, __ATOMIC_RELAXED);
    return w;
}

int load_worker_process(const struct load_config *cfg, int process)
{
    static struct worker workers[LOAD_MAX_THREADS];
    pthread_t threads[LOAD_MAX_THREADS];
    int status = 0;
    for (int t = 0; t < cfg->threads; t++) {
        struct worker *w = &workers[t];
        memset(w, 0, sizeof *w);
        w->cfg = cfg;
        w->slot = process * cfg->threads + t;
        w->slots = cfg->processes * cfg->threads;
        w->seed = cfg->seed * 7919u + (unsigned)w->slot * 104729u + 1;
        snprintf(w->actor, sizeof w->actor, "load:w%d", w->slot);
        snprintf(w->approver, sizeof w->approver, "load:a%d", w->slot);
        snprintf(w->station, sizeof w->station, "station-%d", w->slot);
        snprintf(w->prefix_digital, sizeof w->prefix_digital, "W%dD", w->slot);
        snprintf(w->prefix_physical, sizeof w->prefix_physical, "W%dP", w->slot);
        char path[LOAD_PATH_MAX + 32];
        load_log_path(cfg, w->slot, path, sizeof path);
        w->log = fopen(path, "w");
        if (w->log == NULL) {
            perror(path);
            return 3;
        }
        if (pthread_create(&threads[t], NULL, load_worker_main, w) != 0)
            return 4;
    }
    for (int t = 0; t < cfg->threads; t++) {
        struct worker *w = &workers[t];
        if (pthread_join(threads[t], NULL) != 0)
            status = 5;
        write_summary(w);
        if (fclose(w->log) != 0)
            status = 6;
    }
    return status;
}
