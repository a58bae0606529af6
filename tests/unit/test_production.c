/* Black-box: mass production through the public API (<idm/production.h>)
 * with test backends: the in-memory host encoder (tests/unit/mem_encoder.c)
 * and the built-in CA, or a host CA that fails.  Every one of the ten
 * processes runs a larger order; skips, encoder, verification and CA
 * failures, and a cancel from each hook show the resulting card states,
 * outcomes, revocations and audit events; several stations (threads with
 * their own contexts, and processes) share one order.  The same processes
 * on the real PC/SC stack: test_production_pcsc.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "mem_encoder.h"
#include "runner.h"

#define ACTOR "operator"
#define MAX_CARDS 256

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *ud)
{
    (void)card;
    (void)pin;
    (void)puk;
    (void)ud;
    return 0;
}

struct world {
    char path[4096];
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_encoder_t *enc;
    struct mem_card *mem;
    idm_order_t *order;
    idm_card_type type;
    idm_card_option option;
    int64_t cards[MAX_CARDS];
    int ncards;
};

/* A new approved card of the world's type and option: personal types get
 * a new person, non-personal ones a name. */
static int64_t new_card(struct world *w, int n)
{
    char ext[32];
    snprintf(ext, sizeof ext, "P%d-%d-%d", (int)w->type, (int)w->option, n);
    int64_t holder_id = 0;
    const char *name = NULL;
    char room[48];
    if (w->type == IDM_CARD_VISITOR_NON_PERSONAL || w->type == IDM_CARD_NON_PERSONAL) {
        snprintf(room, sizeof room, "Meeting room %d", n);
        name = room;
    } else {
        idm_identity_t *p = fixture_person(w->ctx, ext, "Person", ext);
        ck_ok(idm_identity_get_id(p, &holder_id));
        idm_identity_free(&p);
    }
    idm_card_t *c = NULL;
    ck_ok(idm_card_new(w->ctx, ACTOR, w->type, w->option, IDM_PRODUCTION_LOCAL, holder_id, name,
                       &c));
    ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_REQUESTED, NULL));
    ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_APPROVED, NULL));
    int64_t id;
    ck_ok(idm_card_get_id(c, &id));
    idm_card_free(&c);
    return id;
}

/* n approved cards of a type and option, and an order of all of them made
 * with idm_order_add_approved(). */
static void world_open(struct world *w, const char *name, idm_card_type type,
                       idm_card_option option, int n)
{
    memset(w, 0, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", fixture_store_path(name));
    w->ctx = fixture_ctx(w->path);
    w->type = type;
    w->option = option;
    ck_ok(idm_options_set_string(w->ctx, ACTOR, "pin_source", "generated"));
    ck_ok(idm_options_set_string(w->ctx, ACTOR, "card_key_slots", "9A"));
    ck_ok(idm_ca_new_openssl(&w->ca, w->ctx, IDM_KEY_EC_P256, "Production Test CA", 3650));
    w->enc = mem_encoder_new(&w->mem, option == IDM_CARD_DIGITAL);
    ck_ok(idm_encoder_set_pin_callbacks(w->enc, NULL, deliver, NULL));
    for (int i = 0; i < n; i++)
        w->cards[w->ncards++] = new_card(w, i);
    ck_ok(idm_order_new(w->ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, type, option, NULL,
                        &w->order));
    size_t added = 0;
    ck_ok(idm_order_add_approved(w->order, ACTOR, 0, &added));
    ck_assert_uint_eq(added, (size_t)n);
}

static void world_close(struct world *w)
{
    idm_order_free(&w->order);
    idm_encoder_free(&w->enc);
    idm_ca_free(&w->ca);
    idm_ctx_free(&w->ctx);
    fixture_remove_store(w->path);
}

static idm_station_t *station(struct world *w, const char *name, idm_ca_t *ca)
{
    idm_station_t *st = NULL;
    ck_ok(idm_station_open(&st, w->order, name, w->enc, ca));
    /* The fixture clock moves a second per read: a day of lease. */
    ck_ok(idm_station_set_lease(st, INT64_C(86400000)));
    return st;
}

/* One card through the step API, by hand; its id. */
static int64_t produce_by_hand(idm_station_t *st)
{
    idm_card_t *card = NULL;
    int64_t id = 0;
    ck_ok(idm_station_next(st, ACTOR, &card));
    ck_assert_ptr_nonnull(card);
    ck_ok(idm_card_get_id(card, &id));
    idm_card_free(&card);
    ck_ok(idm_station_issue(st, ACTOR));
    ck_ok(idm_station_produce(st, ACTOR));
    ck_ok(idm_station_verify(st, ACTOR));
    return id;
}

/* 1 when one audit event of an object mentions text. */
static int audited(idm_ctx_t *ctx, idm_object_type type, int64_t id, const char *text)
{
    idm_audit_iter_t *it = NULL;
    idm_audit_event_t *ev = NULL;
    int found = 0;
    ck_ok(idm_audit_iter_new(ctx, &it));
    ck_ok(idm_audit_iter_set_object(it, type, id));
    while (!found && idm_audit_iter_next(it, &ev) == IDM_OK && ev != NULL) {
        const char *detail = NULL;
        ck_ok(idm_audit_event_get_detail(ev, &detail));
        found = detail != NULL && strstr(detail, text) != NULL;
        idm_audit_event_free(&ev);
    }
    idm_audit_iter_free(&it);
    return found;
}

/* ---- hooks that record what they saw ---------------------------------- */

struct seen {
    char calls[8192];     /* one letter per hook call */
    int64_t produced[MAX_CARDS];
    int nproduced;
    int64_t skipped[MAX_CARDS];
    int nskipped;
    int64_t refuse;       /* ready: this card is not ready */
    const char *cancel_in; /* the hook that cancels, once */
    int more_rounds;       /* complete_or_more says "more" this often */
    struct world *fix;     /* complete_or_more: reactivates a holder here */
    int pause_us;          /* progress: as long as a printer takes, so that
                            * stations on one order overlap */
    int64_t reactivate;
};

static void saw(struct seen *s, char c)
{
    size_t n = strlen(s->calls);
    if (n + 1 < sizeof s->calls)
        s->calls[n] = c;
}

static int letters(const struct seen *s, char c)
{
    int n = 0;
    for (const char *p = s->calls; *p != '\0'; p++)
        n += *p == c;
    return n;
}

static int cancels(struct seen *s, const char *hook)
{
    if (s->cancel_in == NULL || strcmp(s->cancel_in, hook) != 0)
        return 0;
    s->cancel_in = NULL;
    return -7;
}

static int h_ready(const idm_card_t *card, char *why, size_t size, void *ud)
{
    struct seen *s = ud;
    int64_t id = 0;
    ck_ok(idm_card_get_id(card, &id));
    saw(s, 'R');
    if (cancels(s, "ready"))
        return 42;
    if (id == s->refuse) {
        snprintf(why, size, "no photo on file");
        return 1;
    }
    return 0;
}

#define CARD_HOOK(fn, letter, name)                                  \
    static int fn(const idm_card_t *card, void *ud)                  \
    {                                                                \
        struct seen *s = ud;                                         \
        (void)card;                                                  \
        saw(s, letter);                                              \
        return cancels(s, name);                                     \
    }
CARD_HOOK(h_before_issue, 'B', "before_issue")
CARD_HOOK(h_after_issue, 'A', "after_issue")
CARD_HOOK(h_produce, 'P', "produce")
CARD_HOOK(h_verify, 'V', "verify")

static int h_complete(const idm_order_t *order, int *more, void *ud)
{
    struct seen *s = ud;
    (void)order;
    saw(s, 'C');
    if (cancels(s, "complete_or_more"))
        return -7;
    if (s->more_rounds > 0) {
        s->more_rounds--;
        *more = 1;
        if (s->reactivate != 0) { /* the administrator fixed a holder meanwhile */
            idm_identity_t *p = NULL;
            ck_ok(idm_identity_open(s->fix->ctx, s->reactivate, &p));
            ck_ok(idm_identity_set_state(p, ACTOR, IDM_IDENTITY_ACTIVE));
            idm_identity_free(&p);
        }
    }
    return 0;
}

static int h_progress(const idm_order_t *order, int64_t card_id,
                      idm_order_card_outcome outcome, void *ud)
{
    struct seen *s = ud;
    (void)order;
    saw(s, 'G');
    if (outcome == IDM_OUTCOME_PRODUCED && s->nproduced < MAX_CARDS)
        s->produced[s->nproduced++] = card_id;
    if (outcome == IDM_OUTCOME_SKIPPED && s->nskipped < MAX_CARDS)
        s->skipped[s->nskipped++] = card_id;
    if (s->pause_us > 0) {
        struct timespec pause = {0, (long)s->pause_us * 1000L};
        nanosleep(&pause, NULL);
    }
    return cancels(s, "progress");
}

static idm_production_hooks all_hooks(void)
{
    idm_production_hooks h = IDM_PRODUCTION_HOOKS_INIT;
    h.ready = h_ready;
    h.before_issue = h_before_issue;
    h.after_issue = h_after_issue;
    h.produce = h_produce;
    h.verify = h_verify;
    h.complete_or_more = h_complete;
    h.progress = h_progress;
    return h;
}

static int run(idm_station_t *st, struct seen *s)
{
    idm_production_hooks h = all_hooks();
    return idm_production_run(st, ACTOR, &h, sizeof h, s);
}

/* Every card of the world issued, with `keys` live certificates and
 * nothing revoked, produced in the order. */
static void assert_all_produced(struct world *w, int keys)
{
    for (int i = 0; i < w->ncards; i++) {
        ck_assert_int_eq(fixture_card_state(w->ctx, w->cards[i]), IDM_CARD_ISSUED);
        ck_assert_int_eq(fixture_card_outcome(w->order, w->cards[i], NULL, 0, NULL), IDM_OUTCOME_PRODUCED);
        int live, superseded, other;
        fixture_count_certs(w->ctx, w->cards[i], &live, &superseded, &other);
        ck_assert_int_eq(live, keys);
        ck_assert_int_eq(other, 0);
    }
    ck_assert_int_eq(fixture_count_outcome(w->order, IDM_OUTCOME_PRODUCED), w->ncards);
}

/* ---- the ten processes ---------------------------------------------------- */

/* Cards per process: 40, fewer under valgrind (IDM_PRODUCTION_CARDS). */
static int process_cards(void)
{
    const char *env = getenv("IDM_PRODUCTION_CARDS");
    int n = env != NULL ? atoi(env) : 40;
    return n >= 8 && n <= MAX_CARDS ? n : 40;
}

START_TEST(test_every_process_produces_a_larger_order_with_test_backends)
{
    idm_card_type type;
    idm_card_option option;
    ck_ok(idm_process_at((size_t)_i, &type, &option));
    const char *name = NULL;
    unsigned steps = 0;
    ck_ok(idm_process_name(type, option, &name));
    ck_ok(idm_process_steps(type, option, &steps));
    ck_assert_int_eq((steps & IDM_STEP_ISSUE) != 0, option == IDM_CARD_DIGITAL);

    struct world w;
    const int n = process_cards();
    world_open(&w, "prod-process", type, option, n);
    ck_ok(idm_options_set_string(w.ctx, ACTOR, "card_key_slots", "9A,9C,9D,9E"));
    /* The order snapshotted one slot before the change: it rules. */
    idm_station_t *st = station(&w, "station-1", option == IDM_CARD_DIGITAL ? w.ca : NULL);
    ck_ok(idm_station_set_group(st, 8));
    struct seen s;
    memset(&s, 0, sizeof s);
    ck_ok(run(st, &s));
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_COMPLETED);
    assert_all_produced(&w, option == IDM_CARD_DIGITAL ? 1 : 0);
    ck_assert_int_eq(s.nproduced, n);
    /* Each hook once per card (the CA's two only for Digital ID; the
     * group asks readiness ahead), then complete once, last. */
    int issues = option == IDM_CARD_DIGITAL ? n : 0;
    ck_assert_int_eq(letters(&s, 'R'), n);
    ck_assert_int_eq(letters(&s, 'B'), issues);
    ck_assert_int_eq(letters(&s, 'A'), issues);
    ck_assert_int_eq(letters(&s, 'P'), n);
    ck_assert_int_eq(letters(&s, 'V'), n);
    ck_assert_int_eq(letters(&s, 'G'), n);
    ck_assert_int_eq(letters(&s, 'C'), 1);
    ck_assert_int_eq(s.calls[strlen(s.calls) - 1], 'C');
    ck_assert_int_eq(strncmp(s.calls, "RRRRRRRR", 8), 0);
    ck_ok(idm_audit_verify(w.ctx, NULL));
    fprintf(stderr, "# process %d %s: %d cards produced\n", _i, name, n);
    idm_station_free(&st);
    ck_assert_ptr_null(st);
    world_close(&w);
}
END_TEST

/* ---- skips ---------------------------------------------------------------- */

START_TEST(test_skips_are_recorded_with_reasons_and_more_checks_them_again)
{
    struct world w;
    world_open(&w, "prod-skips", IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, 6);
    /* Card 1's holder left for now; the host refuses every third card. */
    idm_card_t *c = NULL;
    int64_t holder = 0;
    ck_ok(idm_card_open(w.ctx, w.cards[1], &c));
    ck_ok(idm_card_get_identity_id(c, &holder));
    idm_card_free(&c);
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_open(w.ctx, holder, &p));
    ck_ok(idm_identity_set_state(p, ACTOR, IDM_IDENTITY_INACTIVE));
    idm_identity_free(&p);

    idm_station_t *st = station(&w, "station-1", w.ca);
    struct seen s;
    memset(&s, 0, sizeof s);
    s.refuse = w.cards[3]; /* the host: no photo on file */
    s.more_rounds = 1;     /* "more" once, after the holder is back */
    s.fix = &w;
    s.reactivate = holder;
    ck_ok(run(st, &s));

    /* Round 1 skipped cards 1 (the rule) and 3 (the host); "more" looked
     * at both again: card 1 was produced, card 3 is still not ready. */
    char why[512];
    ck_assert_int_eq(fixture_card_outcome(w.order, w.cards[3], why, sizeof why, NULL), IDM_OUTCOME_SKIPPED);
    ck_assert_str_eq(why, "no photo on file");
    ck_assert_int_eq(fixture_card_state(w.ctx, w.cards[3]), IDM_CARD_APPROVED);
    int live, superseded, other;
    fixture_count_certs(w.ctx, w.cards[3], &live, &superseded, &other);
    ck_assert_int_eq(live + superseded + other, 0);
    ck_assert_int_eq(fixture_card_outcome(w.order, w.cards[1], why, sizeof why, NULL), IDM_OUTCOME_PRODUCED);
    ck_assert(audited(w.ctx, IDM_OBJECT_CARD, w.cards[1], "skipped in order"));
    ck_assert(audited(w.ctx, IDM_OBJECT_CARD, w.cards[1], "'inactive'"));
    int64_t order_id;
    ck_ok(idm_order_get_id(w.order, &order_id));
    ck_assert(audited(w.ctx, IDM_OBJECT_ORDER, order_id, "more cards: 2 skipped cards"));
    ck_assert(audited(w.ctx, IDM_OBJECT_ORDER, order_id, "5 produced, 1 skipped, 0 failed"));
    ck_assert_int_eq(fixture_count_outcome(w.order, IDM_OUTCOME_SKIPPED), 1);
    ck_assert_int_eq(fixture_count_outcome(w.order, IDM_OUTCOME_PRODUCED), 5);
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_COMPLETED);
    ck_assert_int_eq(s.nskipped, 3); /* 1 and 3, then 3 again */
    /* The iterator lists the order's skipped cards. */
    idm_card_iter_t *it = NULL;
    ck_ok(idm_card_iter_new(w.ctx, &it));
    ck_ok(idm_card_iter_set_order_outcome(it, order_id, IDM_OUTCOME_SKIPPED));
    ck_ok(idm_card_iter_next(it, &c));
    ck_assert_ptr_nonnull(c);
    int64_t listed;
    ck_ok(idm_card_get_id(c, &listed));
    ck_assert_int_eq(listed, w.cards[3]);
    idm_card_free(&c);
    ck_ok(idm_card_iter_next(it, &c));
    ck_assert_ptr_null(c);
    idm_card_iter_free(&it);
    ck_ok(idm_audit_verify(w.ctx, NULL));
    idm_station_free(&st);
    world_close(&w);
}
END_TEST

/* ---- failures: encoder, verification, CA ---------------------------------- */

/* The seed: a failed production aborts the workflow.  Card 2 of 4 fails;
 * what it shows afterwards. */
static void assert_card_failed_and_order_aborted(struct world *w, int64_t card,
                                                 const char *words, int revoked)
{
    char why[1024];
    ck_assert_int_eq(fixture_card_state(w->ctx, card), IDM_CARD_FAILED);
    ck_assert_int_eq(fixture_card_outcome(w->order, card, why, sizeof why, NULL), IDM_OUTCOME_FAILED);
    ck_assert_msg(strstr(why, words) != NULL, "reason '%s' lacks '%s'", why, words);
    int live, superseded, other;
    fixture_count_certs(w->ctx, card, &live, &superseded, &other);
    ck_assert_int_eq(live, 0);
    ck_assert_int_eq(superseded, 0);
    ck_assert_int_eq(other, revoked); /* cessationOfOperation */
    ck_assert_int_eq(fixture_order_state(w->order), IDM_ORDER_ABORTED);
    ck_assert(audited(w->ctx, IDM_OBJECT_CARD, card, "personalization failed"));
    ck_assert(audited(w->ctx, IDM_OBJECT_CARD, card, words));
    int64_t order_id;
    ck_ok(idm_order_get_id(w->order, &order_id));
    ck_assert(audited(w->ctx, IDM_OBJECT_ORDER, order_id, "failed"));
    /* The card before it is done, the ones after it untouched. */
    ck_assert_int_eq(fixture_card_state(w->ctx, w->cards[0]), IDM_CARD_ISSUED);
    ck_assert_int_eq(fixture_card_state(w->ctx, w->cards[2]), IDM_CARD_APPROVED);
    ck_assert_int_eq(fixture_card_outcome(w->order, w->cards[2], NULL, 0, NULL), IDM_OUTCOME_PENDING);
    ck_ok(idm_audit_verify(w->ctx, NULL));
}

/* A later order repeats production for the failed card. */
static void repeat_in_a_new_order(struct world *w, int64_t card)
{
    idm_card_t *c = NULL;
    ck_ok(idm_card_open(w->ctx, card, &c));
    ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_APPROVED, "second try"));
    idm_card_free(&c);
    idm_order_free(&w->order);
    ck_ok(idm_order_new(w->ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, w->type, w->option, NULL,
                        &w->order));
    size_t added = 0;
    ck_ok(idm_order_add_approved(w->order, ACTOR, 0, &added));
    ck_assert_uint_eq(added, 3); /* the failed card and the two never reached */
    idm_station_t *st = station(w, "station-1", w->ca);
    struct seen s;
    memset(&s, 0, sizeof s);
    ck_ok(run(st, &s));
    idm_station_free(&st);
    ck_assert_int_eq(fixture_card_state(w->ctx, card), IDM_CARD_ISSUED);
    ck_assert_int_eq(fixture_order_state(w->order), IDM_ORDER_COMPLETED);
}

struct encoder_fault {
    const char *name;
    const char *method; /* fail this method */
    int corrupt_reads;
    int bad_signatures;
    int code;
    const char *words;
};

static const struct encoder_fault encoder_faults[] = {
    {"produce: write_object fails", "write_object", 0, 0, IDM_ERR_CARD, "ribbon empty"},
    {"issue: generate_key fails", "generate_key", 0, 0, IDM_ERR_CARD, "ribbon empty"},
    {"verify: objects read back differ", NULL, 1, 0, IDM_ERR_INTEGRITY, "differs"},
    {"verify: a key signs wrongly", NULL, 0, 1, IDM_ERR_CRYPTO, "signature"},
};

START_TEST(test_encoder_and_verification_failures_fail_the_card_and_abort_the_order)
{
    const struct encoder_fault *f = &encoder_faults[_i];
    struct world w;
    world_open(&w, "prod-encoder-fault", IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, 4);
    idm_station_t *st = station(&w, "station-1", w.ca);
    idm_card_t *card = NULL;
    /* Card 1 goes through by hand with the step API. */
    ck_assert_int_eq(produce_by_hand(st), w.cards[0]);
    /* Card 2 meets the fault. */
    w.mem->fail_method = f->method;
    w.mem->fail_code = IDM_ERR_CARD;
    w.mem->corrupt_reads = f->corrupt_reads;
    w.mem->bad_signatures = f->bad_signatures;
    struct seen s;
    memset(&s, 0, sizeof s);
    int rc = run(st, &s);
    ck_assert_msg(rc == f->code, "%s: got %s: %s", f->name, idm_strerror_name(rc),
                  idm_last_error_message());
    ck_assert_msg(strstr(idm_last_error_message(), f->words) != NULL, "%s: '%s'", f->name,
                  idm_last_error_message());
    /* A key generation failure comes before any certificate. */
    assert_card_failed_and_order_aborted(&w, w.cards[1], f->words,
                                         f->method != NULL && !strcmp(f->method, "generate_key")
                                             ? 0 : 1);
    ck_assert_idm_error(idm_station_next(st, ACTOR, &card), IDM_ERR_STATE, "'aborted'");
    idm_station_free(&st);
    w.mem->fail_method = NULL;
    w.mem->corrupt_reads = w.mem->bad_signatures = 0;
    repeat_in_a_new_order(&w, w.cards[1]);
    int live, superseded, other;
    fixture_count_certs(w.ctx, w.cards[1], &live, &superseded, &other);
    ck_assert_int_eq(live, 1);
    world_close(&w);
}
END_TEST

/* A host CA that refuses (an HSM that is offline) and records revocations. */
struct host_ca {
    int revokes;
};

static int ca_issue_refuses(const idm_cert_request_t *req, idm_buffer_t *der, void *ud)
{
    (void)req;
    (void)der;
    (void)ud;
    idm_ca_backend_error("HSM offline");
    return 17;
}

static int ca_revoke(const char *serial, idm_revocation_reason reason, int64_t t, void *ud)
{
    (void)serial;
    (void)reason;
    (void)t;
    ((struct host_ca *)ud)->revokes++;
    return 0;
}

START_TEST(test_ca_failure_fails_the_card_and_aborts_the_order)
{
    struct world w;
    world_open(&w, "prod-ca-fault", IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, 4);
    /* Card 1 with the built-in CA, card 2 with the CA that refuses. */
    idm_station_t *st = station(&w, "station-1", w.ca);
    ck_assert_int_eq(produce_by_hand(st), w.cards[0]);
    idm_station_free(&st);

    struct host_ca host = {0};
    idm_ca_ops ops = IDM_CA_OPS_INIT;
    ops.issue = ca_issue_refuses;
    ops.revoke = ca_revoke;
    idm_ca_t *refusing = NULL;
    ck_ok(idm_ca_new(&refusing, &ops, sizeof ops, &host, NULL));
    st = station(&w, "station-2", refusing);
    struct seen s;
    memset(&s, 0, sizeof s);
    int rc = run(st, &s);
    ck_assert_idm_error(rc, IDM_ERR_BACKEND, "HSM offline");
    /* The card's key was generated before the CA was asked: it failed. */
    assert_card_failed_and_order_aborted(&w, w.cards[1], "HSM offline", 0);
    ck_assert(audited(w.ctx, IDM_OBJECT_CARD, w.cards[1], "CA failed to issue"));
    ck_assert_str_eq(s.calls, "RB"); /* never after_issue */
    ck_assert_int_eq(host.revokes, 0);
    idm_station_free(&st);
    idm_ca_free(&refusing);
    repeat_in_a_new_order(&w, w.cards[1]);
    world_close(&w);
}
END_TEST

/* ---- cancels from hooks ---------------------------------------------------- */

static const struct {
    const char *hook;
    int produced;      /* cards done before the hook said no */
    int after_issue;   /* card 1 had its certificate when the hook said no */
    int card_in_hand;  /* ... was open in the encoder */
    int let_go;        /* the card whose audit names the hook (-1: none) */
} cancel_points[] = {
    {"ready", 0, 0, 0, 0},       {"before_issue", 0, 0, 0, 0},
    {"after_issue", 0, 1, 1, 0}, {"produce", 0, 1, 1, 0},
    {"verify", 0, 1, 1, 0},      {"progress", 1, 0, 0, 1},
    {"complete_or_more", 3, 0, 0, -1},
};

START_TEST(test_a_hook_cancels_cleanly_and_the_order_resumes)
{
    const char *hook = cancel_points[_i].hook;
    /* The readiness hook of the step API is the driver's ready hook. */
    const char *named = strcmp(hook, "ready") == 0 ? "readiness hook" : hook;
    struct world w;
    world_open(&w, "prod-cancel", IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, 3);
    idm_station_t *st = station(&w, "station-1", w.ca);
    ck_ok(idm_station_set_group(st, 3));
    struct seen s;
    memset(&s, 0, sizeof s);
    s.cancel_in = hook;
    int rc = run(st, &s);
    ck_assert_idm_error(rc, IDM_ERR_CANCELLED, named);
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "returned"));

    /* Nothing failed, nothing aborted, nothing left claimed. */
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_RUNNING);
    ck_assert_int_eq(fixture_count_outcome(w.order, IDM_OUTCOME_FAILED), 0);
    ck_assert_int_eq(fixture_count_outcome(w.order, IDM_OUTCOME_CLAIMED), 0);
    int produced = cancel_points[_i].produced;
    ck_assert_int_eq(fixture_count_outcome(w.order, IDM_OUTCOME_PRODUCED), produced);
    ck_assert_int_eq(fixture_count_outcome(w.order, IDM_OUTCOME_PENDING), w.ncards - produced);
    ck_assert_int_eq(fixture_card_state(w.ctx, w.cards[0]),
                     produced > 0 ? IDM_CARD_ISSUED : IDM_CARD_APPROVED);
    int live, superseded, other;
    fixture_count_certs(w.ctx, w.cards[0], &live, &superseded, &other);
    ck_assert_int_eq(live, produced > 0 ? 1 : 0);
    ck_assert_int_eq(superseded, cancel_points[_i].after_issue);
    ck_assert_int_eq(other, 0);
    ck_assert_int_eq(audited(w.ctx, IDM_OBJECT_CARD, w.cards[0], "personalization cancelled"),
                     cancel_points[_i].card_in_hand);
    if (cancel_points[_i].let_go >= 0)
        ck_assert(audited(w.ctx, IDM_OBJECT_CARD, w.cards[cancel_points[_i].let_go], named));
    if (cancel_points[_i].card_in_hand)
        ck_assert_int_eq(w.mem->closed_with, 0);

    /* The same station runs again without the cancel and finishes. */
    memset(&s, 0, sizeof s);
    ck_ok(run(st, &s));
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_COMPLETED);
    assert_all_produced(&w, 1);
    ck_ok(idm_audit_verify(w.ctx, NULL));
    idm_station_free(&st);
    world_close(&w);
}
END_TEST

START_TEST(test_station_cancel_lets_the_card_go_and_revokes_its_certificates)
{
    struct world w;
    world_open(&w, "prod-station-cancel", IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, 2);
    idm_station_t *st = station(&w, "station-1", w.ca);
    idm_card_t *card = NULL;
    ck_ok(idm_station_next(st, ACTOR, &card));
    int64_t id;
    ck_ok(idm_card_get_id(card, &id));
    idm_card_free(&card);
    ck_ok(idm_station_issue(st, ACTOR));
    ck_ok(idm_station_cancel(st, ACTOR, "printer jammed"));
    ck_assert_int_eq(fixture_card_state(w.ctx, id), IDM_CARD_APPROVED);
    ck_assert_int_eq(fixture_card_outcome(w.order, id, NULL, 0, NULL), IDM_OUTCOME_PENDING);
    int live, superseded, other;
    fixture_count_certs(w.ctx, id, &live, &superseded, &other);
    ck_assert_int_eq(live, 0);
    ck_assert_int_eq(superseded, 1);
    ck_assert(audited(w.ctx, IDM_OBJECT_CARD, id, "printer jammed"));
    /* No step on a card that is gone; a cancel with no card is a no-op. */
    ck_assert_idm_error(idm_station_produce(st, ACTOR), IDM_ERR_STATE, "no card");
    ck_ok(idm_station_cancel(st, ACTOR, NULL));
    /* The card comes back with its next attempt and is produced. */
    ck_ok(idm_station_next(st, ACTOR, &card));
    int64_t again;
    ck_ok(idm_card_get_id(card, &again));
    idm_card_free(&card);
    ck_assert_int_eq(again, id);
    int attempt = 0;
    ck_ok(idm_order_get_card_outcome(w.order, id, NULL, &attempt, NULL));
    ck_assert_int_eq(attempt, 2);
    ck_ok(idm_station_issue(st, ACTOR));
    ck_ok(idm_station_produce(st, ACTOR));
    ck_ok(idm_station_verify(st, ACTOR));
    ck_assert_idm_error(idm_station_complete(st, ACTOR, 0), IDM_ERR_STATE, "1 card");
    ck_assert_int_eq(produce_by_hand(st), w.cards[1]);
    ck_ok(idm_station_next(st, ACTOR, &card));
    ck_assert_ptr_null(card);
    ck_ok(idm_station_complete(st, ACTOR, 0));
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_COMPLETED);
    assert_all_produced(&w, 1);
    idm_station_free(&st);
    world_close(&w);
}
END_TEST

/* ---- several stations on one order --------------------------------------- */

static char *ca_cert_pem, *ca_key_pem;

struct station_job {
    const char *path;
    int64_t order_id;
    char name[16];
    int group;
    /* Called once the station is open, before it runs: the stations start
     * their runs together, so that one whose set-up was slow (the CA's
     * key, a busy machine) still finds cards to produce. */
    void (*ready)(struct station_job *job);
    pthread_barrier_t *barrier; /* threads */
    int ready_fd, go_fd;        /* processes */
    int rc;
    char error[512];
    struct seen seen;
};

static void wait_at_barrier(struct station_job *j)
{
    pthread_barrier_wait(j->barrier);
}

/* A process says it is ready, then waits for the parent's word. */
static void wait_for_go(struct station_job *j)
{
    char byte = 'r';
    ck_assert_int_eq(write(j->ready_fd, &byte, 1), 1);
    ck_assert_int_eq(read(j->go_fd, &byte, 1), 1);
}

/* One station in its own context, as another process or thread would run
 * it; its encoder's serials carry the station's name. */
static void *station_main(void *arg)
{
    struct station_job *j = arg;
    idm_ctx_t *ctx = NULL;
    idm_ca_t *ca = NULL;
    idm_order_t *order = NULL;
    idm_station_t *st = NULL;
    struct mem_card *mem = NULL;
    idm_encoder_t *enc = NULL;
    int rc = idm_ctx_new(&ctx);
    if (rc == IDM_OK)
        rc = idm_ctx_open_store(ctx, j->path);
    if (rc == IDM_OK)
        rc = idm_ca_new_openssl_pem(&ca, ctx, ca_cert_pem, strlen(ca_cert_pem), ca_key_pem,
                                    strlen(ca_key_pem), fixture_passphrase, NULL);
    if (rc == IDM_OK)
        rc = idm_order_open(ctx, j->order_id, &order);
    if (rc == IDM_OK) {
        enc = mem_encoder_new(&mem, 1);
        mem->serial_prefix = j->name;
        rc = idm_encoder_set_pin_callbacks(enc, NULL, deliver, NULL);
    }
    if (rc == IDM_OK)
        rc = idm_station_open(&st, order, j->name, enc, ca);
    if (rc == IDM_OK)
        rc = idm_station_set_group(st, (size_t)j->group);
    if (j->ready != NULL)
        j->ready(j); /* also after a failed set-up: the others must not wait for ever */
    if (rc == IDM_OK) {
        idm_production_hooks h = IDM_PRODUCTION_HOOKS_INIT;
        h.progress = h_progress;
        j->seen.pause_us = 2000;
        rc = idm_production_run(st, ACTOR, &h, sizeof h, &j->seen);
    }
    j->rc = rc;
    snprintf(j->error, sizeof j->error, "%s", rc != IDM_OK ? idm_last_error_message() : "");
    idm_station_free(&st);
    idm_order_free(&order);
    idm_encoder_free(&enc);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    return NULL;
}

#define STATIONS 3
#define SHARED_CARDS 90

/* Every card produced by exactly one station: the stations' progress
 * reports cover the order once; each card issued with one certificate. */
static void assert_each_card_once(struct world *w, struct station_job *jobs, int n)
{
    static int owner[MAX_CARDS];
    memset(owner, 0, sizeof owner);
    int total = 0;
    for (int k = 0; k < n; k++) {
        ck_assert_msg(jobs[k].rc == IDM_OK, "%s: %s", jobs[k].name, jobs[k].error);
        for (int i = 0; i < jobs[k].seen.nproduced; i++) {
            int idx = -1;
            for (int c = 0; c < w->ncards; c++)
                if (w->cards[c] == jobs[k].seen.produced[i])
                    idx = c;
            ck_assert_int_ge(idx, 0);
            ck_assert_msg(owner[idx] == 0, "card %d produced by %s and station %d", idx,
                          jobs[k].name, owner[idx]);
            owner[idx] = k + 1;
            total++;
        }
    }
    ck_assert_int_eq(total, w->ncards);
    for (int k = 0; k < n; k++)
        ck_assert_msg(jobs[k].seen.nproduced > 0, "%s produced nothing", jobs[k].name);
    assert_all_produced(w, 1);
    ck_assert_int_eq(fixture_order_state(w->order), IDM_ORDER_COMPLETED);
    ck_ok(idm_audit_verify(w->ctx, NULL));
}

START_TEST(test_stations_in_threads_claim_each_card_once)
{
    struct world w;
    world_open(&w, "prod-threads", IDM_CARD_CONTRACTOR, IDM_CARD_DIGITAL, SHARED_CARDS);
    fixture_export_ca(w.ca, &ca_cert_pem, &ca_key_pem);
    int64_t order_id;
    ck_ok(idm_order_get_id(w.order, &order_id));
    static struct station_job jobs[STATIONS];
    pthread_t threads[STATIONS];
    pthread_barrier_t barrier;
    ck_assert_int_eq(pthread_barrier_init(&barrier, NULL, STATIONS), 0);
    for (int k = 0; k < STATIONS; k++) {
        memset(&jobs[k], 0, sizeof jobs[k]);
        jobs[k].path = w.path;
        jobs[k].order_id = order_id;
        jobs[k].ready = wait_at_barrier;
        jobs[k].barrier = &barrier;
        jobs[k].group = k == 0 ? 1 : 4 * k;
        snprintf(jobs[k].name, sizeof jobs[k].name, "T%d", k + 1);
        ck_assert_int_eq(pthread_create(&threads[k], NULL, station_main, &jobs[k]), 0);
    }
    for (int k = 0; k < STATIONS; k++)
        ck_assert_int_eq(pthread_join(threads[k], NULL), 0);
    pthread_barrier_destroy(&barrier);
    assert_each_card_once(&w, jobs, STATIONS);
    free(ca_cert_pem);
    free(ca_key_pem);
    world_close(&w);
}
END_TEST

START_TEST(test_stations_in_processes_claim_each_card_once)
{
    struct world w;
    world_open(&w, "prod-processes", IDM_CARD_VISITOR, IDM_CARD_DIGITAL, SHARED_CARDS);
    fixture_export_ca(w.ca, &ca_cert_pem, &ca_key_pem);
    int64_t order_id;
    ck_ok(idm_order_get_id(w.order, &order_id));
    static struct station_job jobs[STATIONS];
    pid_t pids[STATIONS];
    int fds[STATIONS][2], ready[2], go[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(go), 0);
    for (int k = 0; k < STATIONS; k++) {
        memset(&jobs[k], 0, sizeof jobs[k]);
        jobs[k].path = w.path;
        jobs[k].order_id = order_id;
        jobs[k].ready = wait_for_go;
        jobs[k].ready_fd = ready[1];
        jobs[k].go_fd = go[0];
        jobs[k].group = 1 + 3 * k;
        snprintf(jobs[k].name, sizeof jobs[k].name, "P%d", k + 1);
        ck_assert_int_eq(pipe(fds[k]), 0);
        pids[k] = fork();
        ck_assert_int_ge(pids[k], 0);
        if (pids[k] == 0) {
            close(fds[k][0]);
            station_main(&jobs[k]);
            ssize_t wrote = write(fds[k][1], &jobs[k], sizeof jobs[k]);
            _exit(wrote == (ssize_t)sizeof jobs[k] ? 0 : 3);
        }
        close(fds[k][1]);
    }
    /* Every station open: all go at once. */
    for (int k = 0; k < STATIONS; k++) {
        char byte;
        ck_assert_int_eq(read(ready[0], &byte, 1), 1);
    }
    for (int k = 0; k < STATIONS; k++)
        ck_assert_int_eq(write(go[1], "g", 1), 1);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    for (int k = 0; k < STATIONS; k++) {
        size_t got = 0;
        ssize_t n;
        while (got < sizeof jobs[k] &&
               (n = read(fds[k][0], (char *)&jobs[k] + got, sizeof jobs[k] - got)) > 0)
            got += (size_t)n;
        close(fds[k][0]);
        int status = 0;
        ck_assert_int_eq(waitpid(pids[k], &status, 0), pids[k]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "station %d: status %d",
                      k + 1, status);
        ck_assert_uint_eq(got, sizeof jobs[k]);
    }
    assert_each_card_once(&w, jobs, STATIONS);
    free(ca_cert_pem);
    free(ca_key_pem);
    world_close(&w);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("production");
    TCase *tc = tcase_create("processes");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_every_process_produces_a_larger_order_with_test_backends, 0,
                        (int)idm_process_count());
    suite_add_tcase(s, tc);
    tc = tcase_create("outcomes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_skips_are_recorded_with_reasons_and_more_checks_them_again);
    tcase_add_loop_test(tc,
                        test_encoder_and_verification_failures_fail_the_card_and_abort_the_order,
                        0, (int)(sizeof encoder_faults / sizeof encoder_faults[0]));
    tcase_add_test(tc, test_ca_failure_fails_the_card_and_aborts_the_order);
    tcase_add_loop_test(tc, test_a_hook_cancels_cleanly_and_the_order_resumes, 0,
                        (int)(sizeof cancel_points / sizeof cancel_points[0]));
    tcase_add_test(tc, test_station_cancel_lets_the_card_go_and_revokes_its_certificates);
    suite_add_tcase(s, tc);
    tc = tcase_create("stations");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_stations_in_threads_claim_each_card_once);
    tcase_add_test(tc, test_stations_in_processes_claim_each_card_once);
    suite_add_tcase(s, tc);
    return s;
}
