/*
 * Mass production stations (see mass_production_impl.h): claims, readiness
 * and skips, the three personalization steps, outcomes and the order's
 * state, resumable after a crash at any point.
 */
#include "workflow/mass_production_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/printer/printer_impl.h"
#include "core/buffer_impl.h"
#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/handle.h"
#include "model/audit_impl.h"
#include "model/card_impl.h"
#include "model/options_impl.h"
#include "model/records.h"
#include "print/layout_impl.h"
#include "store/store.h"
#include "workflow/personalize_impl.h"
#include "workflow/readiness.h"

#define STATION_MAX 64
#define REASON_MAX 1024

enum step { STEP_NONE, STEP_CLAIMED, STEP_ISSUED, STEP_PRODUCED };

/* A card claimed ahead (group) and found ready, waiting for its turn. */
struct queued {
    int64_t card_id;
    int attempt;
};

struct idm_station {
    uint32_t magic; /* IDM_MAGIC_STATION */
    idm_ctx_t *ctx;
    struct idm_store *store;
    idm_order_t *order;
    int64_t order_id;
    struct idm_optset *options; /* the order's snapshot */
    char station[STATION_MAX + 1];
    idm_encoder_t *enc;
    idm_ca_t *ca;
    idm_printer_t *printer;        /* NULL: the station does not print */
    const struct idm_layout *layout; /* with the printer */
    idm_card_type card_type;       /* the order's */
    int64_t lease_ms;
    int64_t opened_ms; /* its own claims from before are an earlier run's */
    idm_mp_ready_fn ready;
    void *ready_user_data;
    /* cards claimed ahead, in order */
    struct queued queue[IDM_MP_GROUP_MAX];
    size_t group, qhead, qlen;
    /* cards skipped by next(), for the driver's progress hook */
    int keep_skipped;
    int64_t *skipped;
    size_t nskipped, skipped_room, skipped_taken;
    /* the card in production */
    idm_card_t *card;
    int64_t card_id;
    int attempt;
    enum step step;
    struct idm_personalization *p;
};

int idm_mp_station_open(struct idm_station **out, idm_ctx_t *ctx, int64_t order_id,
                        const char *station, idm_encoder_t *enc, idm_ca_t *ca, int64_t lease_ms)
{
    *out = NULL;
    size_t len = strlen(station);
    if (len == 0 || len > STATION_MAX)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "a station name has 1..%d characters, not %zu",
                       STATION_MAX, len);
    if (lease_ms < 1)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "a claim's lease is at least 1 ms");
    struct idm_station *st = calloc(1, sizeof *st);
    if (st == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a station");
    st->magic = IDM_MAGIC_STATION;
    st->group = 1;
    st->ctx = ctx;
    st->order_id = order_id;
    memcpy(st->station, station, len + 1);
    st->enc = enc;
    st->ca = ca;
    st->lease_ms = lease_ms;
    st->opened_ms = idm_ctx_clock_ms(ctx);
    struct idm_order_rec rec;
    memset(&rec, 0, sizeof rec);
    int rc = idm_ctx_store(ctx, &st->store);
    if (rc == IDM_OK)
        rc = st->store->ops->order_load(st->store, order_id, &rec);
    if (rc == IDM_OK && rec.kind != IDM_ORDER_MASS_PRODUCTION)
        rc = IDM_ERR(IDM_ERR_INVALID_ARG, "order %" PRId64 " is an external order, not a mass "
                     "production", order_id);
    st->card_type = rec.card_type;
    if (rc == IDM_OK && rec.card_option == IDM_CARD_DIGITAL && ca == NULL)
        rc = IDM_ERR(IDM_ERR_INVALID_ARG, "order %" PRId64 " is a Digital ID order; argument "
                     "'ca' is NULL", order_id);
    if (rc == IDM_OK)
        rc = idm_optset_parse(rec.options_snapshot, rec.options_version, &st->options);
    if (rc == IDM_OK)
        rc = idm_order_open(ctx, order_id, &st->order);
    idm_order_rec_clear(&rec);
    if (rc != IDM_OK) {
        idm_mp_station_close(st);
        return rc;
    }
    *out = st;
    return IDM_OK;
}

void idm_mp_station_set_readiness(struct idm_station *st, idm_mp_ready_fn fn,
                                  void *user_data)
{
    st->ready = fn;
    st->ready_user_data = user_data;
}

struct idm_mp_readiness idm_mp_station_get_readiness(const struct idm_station *st)
{
    struct idm_mp_readiness r = {st->ready, st->ready_user_data};
    return r;
}

void idm_mp_station_keep_skipped(struct idm_station *st, int keep)
{
    st->keep_skipped = keep;
    st->nskipped = st->skipped_taken = 0;
}

int64_t idm_mp_take_skipped(struct idm_station *st)
{
    if (st->skipped_taken < st->nskipped)
        return st->skipped[st->skipped_taken++];
    st->nskipped = st->skipped_taken = 0;
    return 0;
}

/* Remembers a skipped card for the driver; memory is not worth failing
 * the production over, so a card that cannot be remembered goes unreported
 * to the hook (its outcome is in the store either way). */
static void remember_skip(struct idm_station *st, int64_t card_id)
{
    if (!st->keep_skipped)
        return;
    if (st->nskipped == st->skipped_room) {
        size_t room = st->skipped_room != 0 ? st->skipped_room * 2 : 64;
        int64_t *grown = realloc(st->skipped, room * sizeof *grown);
        if (grown == NULL)
            return;
        st->skipped = grown;
        st->skipped_room = room;
    }
    st->skipped[st->nskipped++] = card_id;
}

void idm_mp_station_set_lease(struct idm_station *st, int64_t lease_ms)
{
    st->lease_ms = lease_ms;
}

void idm_mp_station_set_group(struct idm_station *st, size_t cards)
{
    st->group = cards;
}

/* ---- the store side ----------------------------------------------------- */

/* Records a card's outcome in the order, with an audit event of the card
 * that says so, in one transaction. */
static int record_outcome(struct idm_station *st, const char *actor, int64_t card_id,
                          int outcome, const char *reason)
{
    static const char *const words[] = {"let go", "claimed", "produced", "skipped", "failed"};
    struct idm_store *s = st->store;
    int rc = s->ops->begin(s);
    if (rc != IDM_OK)
        return rc;
    rc = s->ops->order_card_finish(s, st->order_id, card_id, outcome, reason,
                                   idm_ctx_clock_ms(st->ctx));
    if (rc == IDM_OK)
        rc = idm_audit_append(st->ctx, s, actor, IDM_OBJECT_CARD, card_id, NULL, NULL,
                              "%s in order %" PRId64 " by station %s%s%s", words[outcome],
                              st->order_id, st->station, reason != NULL ? ": " : "",
                              reason != NULL ? reason : "");
    if (rc == IDM_OK)
        return s->ops->commit(s);
    s->ops->rollback(s);
    return rc;
}

static int claim(struct idm_station *st, struct idm_order_card_rec *out)
{
    memset(out, 0, sizeof *out);
    struct idm_store *s = st->store;
    int rc = s->ops->begin(s);
    if (rc != IDM_OK)
        return rc;
    rc = s->ops->order_card_claim(s, st->order_id, st->station, st->opened_ms,
                                  idm_ctx_clock_ms(st->ctx), st->lease_ms, out);
    if (rc == IDM_OK && (rc = s->ops->commit(s)) == IDM_OK)
        return IDM_OK;
    /* A claim that did not commit is no claim: nothing goes back (found by
     * the fault sweep: the record leaked when the commit failed). */
    idm_order_card_rec_clear(out);
    s->ops->rollback(s);
    return rc;
}

/* The station holds no card any more. */
static void forget_card(struct idm_station *st)
{
    idm_personalization_free(st->p);
    st->p = NULL;
    idm_card_free(&st->card);
    st->card_id = 0;
    st->step = STEP_NONE;
}

/* ---- next ----------------------------------------------------------------- */

/* The built-in rules, then the host's.  *ready 1, or 0 with why; a
 * cancelling hook is IDM_ERR_CANCELLED. */
static int check_ready(struct idm_station *st, const struct idm_card_rec *card,
                       idm_card_t *handle, int *ready, char *why, size_t size)
{
    int rc = idm_readiness_check(st->store, st->options, card, ready, why, size);
    if (rc != IDM_OK || !*ready || st->ready == NULL)
        return rc;
    why[0] = '\0';
    int verdict = st->ready(handle, why, size, st->ready_user_data);
    why[size - 1] = '\0';
    if (verdict == 0)
        return IDM_OK;
    *ready = 0;
    if (verdict == 1) {
        if (why[0] == '\0')
            snprintf(why, size, "the host's readiness check said no");
        return IDM_OK;
    }
    return IDM_ERR(IDM_ERR_CANCELLED, "the readiness hook returned %d", verdict);
}

static int order_state(struct idm_station *st, idm_order_state *state)
{
    int rc = idm_order_refresh(st->order);
    return rc == IDM_OK ? idm_order_get_state(st->order, state) : rc;
}

/* Runs step(st, actor, arg) inside one write transaction, so that its
 * look at the order and its change of it are one: stations that start or
 * complete the same order at once take turns. */
static int locked(struct idm_station *st, const char *actor, int arg,
                  int (*step)(struct idm_station *st, const char *actor, int arg))
{
    struct idm_store *s = st->store;
    int rc = s->ops->begin(s);
    if (rc != IDM_OK)
        return rc;
    rc = step(st, actor, arg);
    if (rc == IDM_OK)
        return s->ops->commit(s);
    char saved[REASON_MAX];
    snprintf(saved, sizeof saved, "%s", idm_last_error_message());
    s->ops->rollback(s);
    (void)idm_order_refresh(st->order);
    idm_error_set(NULL, rc, "%s", saved);
    return rc;
}

static int start_locked(struct idm_station *st, const char *actor, int unused)
{
    (void)unused;
    idm_order_state state;
    int rc = order_state(st, &state);
    if (rc != IDM_OK || state != IDM_ORDER_OPEN)
        return rc; /* another station started it meanwhile, or finished it */
    return idm_order_set_state(st->order, actor, IDM_ORDER_RUNNING, NULL);
}

/* Open -> running.  *completed tells of an order another station (or this
 * one, before a stop) completed: there is nothing left to do. */
static int start_order(struct idm_station *st, const char *actor, int *completed)
{
    idm_order_state state;
    int rc = order_state(st, &state);
    if (rc == IDM_OK && state == IDM_ORDER_OPEN) {
        rc = locked(st, actor, 0, start_locked);
        if (rc == IDM_OK)
            rc = order_state(st, &state);
    }
    *completed = rc == IDM_OK && state == IDM_ORDER_COMPLETED;
    if (rc != IDM_OK || *completed || state == IDM_ORDER_RUNNING)
        return rc;
    return IDM_ERR(IDM_ERR_STATE, "order %" PRId64 " is '%s'; no card is produced for it",
                   st->order_id, idm_order_state_name(state));
}

/* Claims one card and looks at it: a ready card joins the queue, one that
 * is not is recorded as skipped, one an earlier attempt finished gets its
 * outcome; *none 1 when the order has no card left to claim. */
static int claim_one(struct idm_station *st, const char *actor, int *none)
{
    struct idm_order_card_rec item;
    int rc = claim(st, &item);
    if (rc == IDM_ERR_NOT_FOUND) {
        idm_error_clear();
        *none = 1;
        return IDM_OK;
    }
    if (rc != IDM_OK)
        return rc;
    int64_t id = item.card_id;
    int attempt = item.attempt;
    idm_order_card_rec_clear(&item);

    struct idm_card_rec card;
    memset(&card, 0, sizeof card);
    rc = st->store->ops->card_load(st->store, id, &card);
    /* An earlier attempt got as far as recording the card's own state. */
    if (rc == IDM_OK && card.state == IDM_CARD_ISSUED) {
        rc = record_outcome(st, actor, id, IDM_OUTCOME_PRODUCED, NULL);
    } else if (rc == IDM_OK && card.state == IDM_CARD_FAILED) {
        rc = record_outcome(st, actor, id, IDM_OUTCOME_FAILED,
                            "the card failed in an earlier attempt");
    } else if (rc == IDM_OK) {
        idm_card_t *handle = NULL;
        int ready = 0;
        char why[REASON_MAX];
        rc = idm_card_handle_new(st->ctx, id, &handle);
        if (rc == IDM_OK)
            rc = check_ready(st, &card, handle, &ready, why, sizeof why);
        if (rc == IDM_OK && !ready) {
            rc = record_outcome(st, actor, id, IDM_OUTCOME_SKIPPED, why);
            if (rc == IDM_OK)
                remember_skip(st, id);
        } else if (rc == IDM_OK) {
            st->queue[(st->qhead + st->qlen) % IDM_MP_GROUP_MAX] =
                (struct queued){id, attempt};
            st->qlen++;
        } else if (rc == IDM_ERR_CANCELLED) {
            char saved[REASON_MAX];
            snprintf(saved, sizeof saved, "%s", idm_last_error_message());
            (void)record_outcome(st, actor, id, IDM_OUTCOME_PENDING, saved);
            idm_error_set(NULL, IDM_ERR_CANCELLED, "%s", saved);
        }
        idm_card_free(&handle);
    }
    idm_card_rec_clear(&card);
    return rc;
}

/* Claims up to the group's size of ready cards, in one transaction when
 * the group is larger than one card. */
static int fill_queue(struct idm_station *st, const char *actor)
{
    struct idm_store *s = st->store;
    int grouped = st->group > 1;
    int rc = grouped ? s->ops->begin(s) : IDM_OK;
    int none = 0;
    while (rc == IDM_OK && !none && st->qlen < st->group)
        rc = claim_one(st, actor, &none);
    if (!grouped)
        return rc;
    /* What the claims so far did is kept: a cancelling hook's card went
     * back to pending in its own part. */
    char saved[REASON_MAX];
    snprintf(saved, sizeof saved, "%s", idm_last_error_message());
    int commit_rc = s->ops->commit(s);
    if (commit_rc != IDM_OK) {
        st->qlen = 0; /* the claims are gone with the transaction */
        return commit_rc;
    }
    if (rc != IDM_OK)
        idm_error_set(NULL, rc, "%s", saved);
    return rc;
}

int idm_mp_next(struct idm_station *st, const char *actor, int64_t *card_id)
{
    *card_id = 0;
    if (st->step != STEP_NONE)
        return IDM_ERR(IDM_ERR_STATE, "card %" PRId64 " is still in production at station %s; "
                       "finish it first", st->card_id, st->station);
    int completed = 0;
    int rc = start_order(st, actor, &completed);
    if (rc != IDM_OK || completed)
        return rc;
    if (st->qlen == 0 && (rc = fill_queue(st, actor)) != IDM_OK)
        return rc;
    if (st->qlen == 0)
        return IDM_OK; /* no card left */
    struct queued next = st->queue[st->qhead];
    rc = idm_card_handle_new(st->ctx, next.card_id, &st->card);
    if (rc != IDM_OK)
        return rc;
    st->qhead = (st->qhead + 1) % IDM_MP_GROUP_MAX;
    st->qlen--;
    st->card_id = next.card_id;
    st->attempt = next.attempt;
    st->step = STEP_CLAIMED;
    *card_id = next.card_id;
    return IDM_OK;
}

/* ---- the steps ------------------------------------------------------------ */

/* After a failed step: the personalization records its side (card failed
 * and certificates revoked, or an audit event), the order records the
 * outcome; a failed card aborts the order. */
static int step_failed(struct idm_station *st, const char *actor, int rc)
{
    idm_card_state after = IDM_CARD_APPROVED;
    if (st->p != NULL)
        rc = idm_personalization_end(st->p, actor, rc, NULL, NULL);
    char why[REASON_MAX];
    snprintf(why, sizeof why, "%s", idm_last_error_message());
    if (idm_card_refresh(st->card) == IDM_OK)
        (void)idm_card_get_state(st->card, &after);
    if (after == IDM_CARD_FAILED) {
        (void)record_outcome(st, actor, st->card_id, IDM_OUTCOME_FAILED, why);
        char detail[REASON_MAX + 64];
        snprintf(detail, sizeof detail, "card %" PRId64 " failed: %s", st->card_id, why);
        (void)idm_order_set_state(st->order, actor, IDM_ORDER_ABORTED, detail);
    } else {
        (void)record_outcome(st, actor, st->card_id, IDM_OUTCOME_PENDING, NULL);
    }
    forget_card(st);
    idm_error_set(NULL, rc, "%s", why);
    return rc;
}

static int expect_step(const struct idm_station *st, enum step want, const char *what)
{
    if (st->step == want)
        return IDM_OK;
    static const char *const names[] = {"no card", "a claimed card", "an issued card",
                                        "a produced card"};
    return IDM_ERR(IDM_ERR_STATE, "station %s has %s; %s needs %s", st->station,
                   names[st->step], what, names[want]);
}

int idm_mp_issue(struct idm_station *st, const char *actor)
{
    int rc = expect_step(st, STEP_CLAIMED, "issue");
    if (rc != IDM_OK)
        return rc;
    rc = idm_personalization_revoke_superseded(st->ctx, st->card_id, st->ca, actor);
    if (rc == IDM_OK)
        rc = idm_personalization_begin(&st->p, st->card, actor, st->enc, st->ca, st->attempt,
                                       st->options, NULL);
    if (rc == IDM_OK) /* the earlier attempts' certificates are revoked: a new chip may come */
        idm_personalization_allow_new_chip(st->p);
    if (rc == IDM_OK)
        rc = idm_personalization_issue(st->p, actor);
    if (rc != IDM_OK)
        return step_failed(st, actor, rc);
    st->step = STEP_ISSUED;
    return IDM_OK;
}

int idm_mp_station_set_printer(struct idm_station *st, idm_printer_t *printer,
                               const struct idm_layout *layout)
{
    if (st->step != STEP_NONE)
        return IDM_ERR(IDM_ERR_STATE, "station %s has a card in production; its printer "
                       "changes between cards", st->station);
    if (printer != NULL && !(layout->card_types & (1u << st->card_type)))
        return IDM_ERR(IDM_ERR_INVALID_ARG, "layout '%s' does not serve %s cards, which "
                       "order %" PRId64 " produces", layout->name,
                       idm_card_type_name(st->card_type), st->order_id);
    st->printer = printer;
    st->layout = printer != NULL ? layout : NULL;
    return IDM_OK;
}

/* The card's faces, printed before its chip is written: the job's name
 * tells a repeat after a crash (same attempt) from a new card. */
static int print_card(struct idm_station *st, const char *actor)
{
    char store_id[40], job[128];
    int rc = st->store->ops->store_id(st->store, store_id, sizeof store_id);
    if (rc != IDM_OK)
        return rc;
    int n = snprintf(job, sizeof job, "idm-%s-c%" PRId64 "-a%d", store_id, st->card_id,
                     st->attempt);
    if (n < 0 || (size_t)n >= sizeof job)
        return IDM_ERR(IDM_ERR_INTERNAL, "a print job's name is too long");
    idm_buffer_t *pdf = NULL;
    rc = idm_buffer_new(&pdf);
    if (rc != IDM_OK)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a buffer for the card's faces");
    rc = idm_layout_render_card(st->layout, st->card, IDM_RENDER_PDF, IDM_FACE_FRONT, 300, pdf);
    if (rc == IDM_OK) {
        const unsigned char *bytes = NULL;
        size_t len = 0;
        (void)idm_buffer_get(pdf, &bytes, &len);
        rc = idm_printer_print(st->printer, job, bytes, len);
    }
    idm_buffer_free(&pdf);
    if (rc == IDM_OK)
        idm_audit_append_alone(st->ctx, st->store, actor, IDM_OBJECT_CARD, st->card_id,
                               "printed with layout '%s' as job %s", st->layout->name, job);
    return rc;
}

int idm_mp_produce(struct idm_station *st, const char *actor)
{
    int rc = expect_step(st, STEP_ISSUED, "produce");
    if (rc != IDM_OK)
        return rc;
    if (st->printer != NULL && (rc = print_card(st, actor)) != IDM_OK)
        return step_failed(st, actor, rc);
    rc = idm_personalization_produce(st->p, actor);
    if (rc != IDM_OK)
        return step_failed(st, actor, rc);
    st->step = STEP_PRODUCED;
    return IDM_OK;
}

struct produced_record {
    struct idm_station *st;
    const char *actor;
};

/* The outcome goes into the transaction that records the card as issued. */
static int record_produced(void *arg)
{
    const struct produced_record *r = arg;
    return record_outcome(r->st, r->actor, r->st->card_id, IDM_OUTCOME_PRODUCED, NULL);
}

int idm_mp_verify(struct idm_station *st, const char *actor)
{
    int rc = expect_step(st, STEP_PRODUCED, "verify");
    if (rc != IDM_OK)
        return rc;
    rc = idm_personalization_verify(st->p, actor);
    if (rc != IDM_OK)
        return step_failed(st, actor, rc);
    struct produced_record rec = {st, actor};
    rc = idm_personalization_end(st->p, actor, IDM_OK, record_produced, &rec);
    if (rc != IDM_OK)
        return step_failed(st, actor, rc);
    forget_card(st);
    return IDM_OK;
}

/* "More cards": the skipped ones are looked at again. */
static int requeue_skipped(struct idm_station *st, const char *actor)
{
    struct idm_store *s = st->store;
    int64_t n = 0;
    int rc = s->ops->begin(s);
    if (rc != IDM_OK)
        return rc;
    rc = s->ops->order_card_requeue_skipped(s, st->order_id, idm_ctx_clock_ms(st->ctx), &n);
    if (rc == IDM_OK && n > 0)
        rc = idm_audit_append(st->ctx, s, actor, IDM_OBJECT_ORDER, st->order_id, NULL, NULL,
                              "more cards: %" PRId64 " skipped card%s to check again", n,
                              n == 1 ? "" : "s");
    if (rc == IDM_OK)
        return s->ops->commit(s);
    s->ops->rollback(s);
    return rc;
}

static int complete_locked(struct idm_station *st, const char *actor, int more)
{
    idm_order_state state;
    int rc = order_state(st, &state);
    if (rc != IDM_OK || state == IDM_ORDER_COMPLETED)
        return rc; /* completed already: by another station, or before a stop */
    if (state == IDM_ORDER_ABORTED)
        return IDM_ERR(IDM_ERR_STATE, "order %" PRId64 " was aborted; it is neither complete "
                       "nor has it more cards", st->order_id);
    if (more)
        return requeue_skipped(st, actor);
    struct idm_order_counts n;
    rc = st->store->ops->order_card_counts(st->store, st->order_id, &n);
    if (rc != IDM_OK)
        return rc;
    int64_t open = n.by_outcome[IDM_OUTCOME_PENDING] + n.by_outcome[IDM_OUTCOME_CLAIMED];
    if (open > 0)
        return IDM_ERR(IDM_ERR_STATE, "order %" PRId64 " still has %" PRId64 " card%s to "
                       "produce; answer 'more'", st->order_id, open, open == 1 ? "" : "s");
    char detail[160];
    snprintf(detail, sizeof detail, "%" PRId64 " produced, %" PRId64 " skipped, %" PRId64
             " failed", n.by_outcome[IDM_OUTCOME_PRODUCED],
             n.by_outcome[IDM_OUTCOME_SKIPPED], n.by_outcome[IDM_OUTCOME_FAILED]);
    return idm_order_set_state(st->order, actor, IDM_ORDER_COMPLETED, detail);
}

int idm_mp_complete(struct idm_station *st, const char *actor, int more)
{
    if (st->step != STEP_NONE)
        return expect_step(st, STEP_NONE, more ? "more" : "complete");
    /* The counts and the change in one transaction: no card can join the
     * order, and no other station complete it, in between. */
    return locked(st, actor, more, complete_locked);
}

idm_card_t *idm_mp_card(struct idm_station *st)
{
    return st->card;
}

idm_order_t *idm_mp_order(struct idm_station *st)
{
    return st->order;
}

int idm_mp_cancel(struct idm_station *st, const char *actor, const char *reason)
{
    int rc = IDM_OK;
    if (st->p != NULL)
        rc = idm_personalization_cancel(st->p, actor, reason);
    char saved[REASON_MAX];
    snprintf(saved, sizeof saved, "%s", idm_last_error_message());
    int let_go = IDM_OK;
    if (st->step != STEP_NONE)
        let_go = record_outcome(st, actor, st->card_id, IDM_OUTCOME_PENDING, reason);
    forget_card(st);
    for (; let_go == IDM_OK && st->qlen > 0; st->qlen--) {
        let_go = record_outcome(st, actor, st->queue[st->qhead].card_id, IDM_OUTCOME_PENDING,
                                reason);
        st->qhead = (st->qhead + 1) % IDM_MP_GROUP_MAX;
    }
    if (let_go != IDM_OK)
        return let_go;
    if (rc != IDM_OK)
        idm_error_set(NULL, rc, "%s", saved);
    return rc;
}

void idm_mp_station_close(struct idm_station *st)
{
    if (st == NULL)
        return;
    if (st->p != NULL) /* as a stopped process would: nothing recorded */
        idm_personalization_abandon(st->p);
    forget_card(st);
    idm_order_free(&st->order);
    idm_optset_free(st->options);
    free(st->skipped);
    st->magic = IDM_MAGIC_DEAD;
    free(st);
}
