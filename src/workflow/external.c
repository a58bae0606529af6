/*
 * External production, the operator's side (<idm/external.h>): the desk,
 * ordering cards for one identity, for a batch of identities and temporary
 * cards, the approval step and aborting a queued order.  Each identity's
 * order is one transaction: the order, the card, its first steps and their
 * audit events are stored together or not at all.  Sending to the bureau
 * happens after that commit (bureau.c), so a bureau that hangs never holds
 * the store's write lock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/external.h>

#include "backends/producer/producer_impl.h"
#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "core/log.h"
#include "model/audit_impl.h"
#include "model/card_impl.h"
#include "model/identity_impl.h"
#include "model/iter.h"
#include "model/options_impl.h"
#include "model/text.h"
#include "store/store.h"
#include "workflow/external_impl.h"

#define CHECK_DESK(x) IDM_CHECK_HANDLE(x, IDM_MAGIC_EXTERNAL, "idm_external_t")
#define BATCH_MAX 100000
#define SEND_CHUNK 100
#define TEMPORARY_NAME_MAX 200
#define TEMPORARY_MAX 9 /* the seed's limit; option temporary_cards_per_order may lower it */

/* ---- the desk ----------------------------------------------------------- */

IDM_EXPORT int idm_external_new(idm_external_t **out, idm_ctx_t *ctx, idm_producer_t *producer,
                                idm_notifier_t *notifier)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_CTX(ctx);
    if (producer != NULL)
        IDM_CHECK_HANDLE(producer, IDM_MAGIC_PRODUCER, "idm_producer_t");
    if (notifier != NULL)
        IDM_CHECK_HANDLE(notifier, IDM_MAGIC_NOTIFIER, "idm_notifier_t");
    struct idm_store *s;
    int rc = idm_ctx_store(ctx, &s);
    if (rc != IDM_OK)
        return idm_error_prefix(__func__, rc);
    idm_external_t *x = calloc(1, sizeof *x);
    if (x == NULL)
        return IDM_FAIL(IDM_ERR_NO_MEMORY, "cannot allocate an external production desk");
    x->magic = IDM_MAGIC_EXTERNAL;
    x->ctx = ctx;
    x->producer = producer;
    x->notifier = notifier;
    *out = x;
    return IDM_OK;
}

IDM_EXPORT void idm_external_free(idm_external_t **external)
{
    if (!IDM_LIVE_HANDLE(external, IDM_MAGIC_EXTERNAL))
        return;
    idm_handle_kill(*external);
    free(*external);
    *external = NULL;
}

int idm_ext_check_card(const char *func, const idm_external_t *x, const idm_card_t *card)
{
    int rc = idm_handle_validate(card, IDM_MAGIC_CARD, func, "card", "idm_card_t");
    if (rc == IDM_OK && idm_card_handle_ctx(card) != x->ctx)
        rc = idm_error_set(func, IDM_ERR_INVALID_ARG, "argument 'card' was opened in another "
                           "context than the desk's");
    return rc;
}

int idm_ext_order_options(struct idm_store *s, int64_t order_id, struct idm_optset **out)
{
    struct idm_order_rec order;
    int rc = s->ops->order_load(s, order_id, &order);
    if (rc != IDM_OK)
        return rc;
    rc = idm_optset_parse(order.options_snapshot, order.options_version, out);
    idm_order_rec_clear(&order);
    return rc;
}

/* ---- outcomes and completion -------------------------------------------- */

int idm_ext_settle(idm_external_t *x, struct idm_store *s, const struct idm_card_rec *card,
                   idm_order_card_outcome outcome, const char *reason)
{
    if (card->order_id == 0)
        return IDM_OK;
    return s->ops->order_card_finish(s, card->order_id, card->id, (int)outcome, reason,
                                     idm_ctx_clock_ms(x->ctx));
}

void idm_ext_touch(struct idm_ext_touched *t, int64_t order_id)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->ids[i] == order_id)
            return;
    }
    if (t->n < sizeof t->ids / sizeof t->ids[0])
        t->ids[t->n++] = order_id;
    else
        t->overflow = 1;
}

/* Completes one order when it is running and none of its cards is pending
 * or failed. */
static void complete_order(idm_external_t *x, const char *actor, int64_t order_id)
{
    idm_order_t *order = NULL;
    idm_order_state state = IDM_ORDER_OPEN;
    int64_t pending = 0, claimed = 0, failed = 0, produced = 0, skipped = 0;
    int rc = idm_order_open(x->ctx, order_id, &order);
    if (rc == IDM_OK)
        rc = idm_order_get_state(order, &state);
    if (rc == IDM_OK && state == IDM_ORDER_RUNNING &&
        (rc = idm_order_count_cards(order, IDM_OUTCOME_PENDING, &pending)) == IDM_OK &&
        (rc = idm_order_count_cards(order, IDM_OUTCOME_CLAIMED, &claimed)) == IDM_OK &&
        (rc = idm_order_count_cards(order, IDM_OUTCOME_FAILED, &failed)) == IDM_OK &&
        (rc = idm_order_count_cards(order, IDM_OUTCOME_PRODUCED, &produced)) == IDM_OK &&
        (rc = idm_order_count_cards(order, IDM_OUTCOME_SKIPPED, &skipped)) == IDM_OK &&
        pending + claimed + failed == 0) {
        char detail[128];
        snprintf(detail, sizeof detail, "every card is settled: %" PRId64 " produced, %" PRId64
                 " aborted or rejected", produced, skipped);
        rc = idm_order_set_state(order, actor, IDM_ORDER_COMPLETED, detail);
    }
    if (rc != IDM_OK)
        idm_log_warning(x->ctx, "external", "order %" PRId64 " could not be completed: %s",
                        order_id, idm_last_error_message());
    idm_order_free(&order);
    idm_error_clear();
}

void idm_ext_complete_orders(idm_external_t *x, const char *actor,
                             const struct idm_ext_touched *t)
{
    for (size_t i = 0; i < t->n; i++)
        complete_order(x, actor, t->ids[i]);
    if (!t->overflow)
        return;
    idm_order_iter_t *it = NULL;
    idm_order_t *order = NULL;
    if (idm_order_iter_new(x->ctx, &it) != IDM_OK ||
        idm_order_iter_set_state(it, IDM_ORDER_RUNNING) != IDM_OK) {
        idm_order_iter_free(&it);
        return;
    }
    while (idm_order_iter_next(it, &order) == IDM_OK && order != NULL) {
        int64_t id = 0;
        idm_order_kind kind = IDM_ORDER_MASS_PRODUCTION;
        (void)idm_order_get_id(order, &id);
        (void)idm_order_get_kind(order, &kind);
        idm_order_free(&order);
        if (kind == IDM_ORDER_EXTERNAL)
            complete_order(x, actor, id);
    }
    idm_order_iter_free(&it);
}

static void complete_one(idm_external_t *x, const char *actor, int64_t order_id)
{
    struct idm_ext_touched t = {{order_id}, 1, 0};
    idm_ext_complete_orders(x, actor, &t);
}

/* ---- what an order needs ------------------------------------------------ */

/* The options an ordering call is checked against: the current set, which
 * the new order snapshots in the same transaction. */
struct order_rules {
    int approval;   /* external_approval_step */
    int queue;      /* queue_orders */
    int multiple;   /* allow_multiple_orders */
    int selectable; /* production_type_selectable */
    int request_approval;
    int64_t temporary_max;
};

static int read_rules(const struct idm_optset *o, struct order_rules *r)
{
    int enabled = 0;
    int rc = idm_optset_bool(o, "external_production_enabled", &enabled);
    if (rc == IDM_OK && !enabled)
        return IDM_ERR(IDM_ERR_DISABLED, "ordering cards for external production is disabled "
                       "(option external_production_enabled is off)");
    if (rc == IDM_OK)
        rc = idm_optset_bool(o, "external_approval_step", &r->approval);
    if (rc == IDM_OK)
        rc = idm_optset_bool(o, "queue_orders", &r->queue);
    if (rc == IDM_OK)
        rc = idm_optset_bool(o, "allow_multiple_orders", &r->multiple);
    if (rc == IDM_OK)
        rc = idm_optset_bool(o, "production_type_selectable", &r->selectable);
    if (rc == IDM_OK)
        rc = idm_optset_bool(o, "request_approval", &r->request_approval);
    if (rc == IDM_OK)
        rc = idm_optset_int(o, "temporary_cards_per_order", &r->temporary_max);
    return rc;
}

static int current_rules(idm_external_t *x, struct order_rules *r)
{
    struct idm_store *s;
    struct idm_optset *o = NULL;
    int rc = idm_ctx_store(x->ctx, &s);
    if (rc == IDM_OK)
        rc = idm_optset_load(s, &o);
    if (rc == IDM_OK)
        rc = read_rules(o, r);
    idm_optset_free(o);
    return rc;
}

/* A card that still counts as an order in flight: it has not become a card
 * in use, and it was not given up. */
static int order_is_open(idm_card_state state)
{
    switch (state) {
    case IDM_CARD_REGISTERED:
    case IDM_CARD_REQUESTED:
    case IDM_CARD_APPROVED:
    case IDM_CARD_PROCESSING:
    case IDM_CARD_ORDERED:
    case IDM_CARD_IN_PRODUCTION:
    case IDM_CARD_PRODUCED:
    case IDM_CARD_FAILED:
        return 1;
    default:
        return 0;
    }
}

/* Checks the holder: it exists, is active, and (unless multiple orders are
 * allowed) has no order of the card type in flight. */
static int check_holder(struct idm_store *s, int64_t identity_id, idm_card_type type,
                        int multiple)
{
    struct idm_identity_rec holder;
    int rc = s->ops->identity_load(s, identity_id, &holder);
    if (rc != IDM_OK)
        return rc;
    char label[160];
    idm_identity_label(&holder, label, sizeof label);
    idm_identity_state state = holder.state;
    idm_identity_rec_clear(&holder);
    if (state != IDM_IDENTITY_ACTIVE)
        return IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; a card is ordered only for an "
                       "active identity", label, idm_identity_state_name(state));
    if (multiple)
        return IDM_OK;
    struct idm_list_filter f = {.identity_id = identity_id, .has_type = 1, .type = (int)type};
    int64_t ids[IDM_ITER_PAGE];
    int64_t after = 0;
    size_t n;
    do {
        rc = s->ops->list_ids(s, IDM_OBJECT_CARD, &f, after, IDM_ITER_PAGE, ids, &n);
        for (size_t i = 0; rc == IDM_OK && i < n; i++) {
            struct idm_card_rec card;
            if ((rc = s->ops->card_load(s, ids[i], &card)) != IDM_OK)
                break;
            if (order_is_open(card.state))
                rc = IDM_ERR(IDM_ERR_STATE, "%s already has an open order of card type '%s': "
                             "card %s is '%s' (option allow_multiple_orders is off)", label,
                             idm_card_type_name(type), card.number,
                             idm_card_state_name(card.state));
            idm_card_rec_clear(&card);
        }
        after = n > 0 ? ids[n - 1] : after;
    } while (rc == IDM_OK && n == IDM_ITER_PAGE);
    return rc;
}

/* Creates an external order for type and option; *order_id receives it. */
static int new_order(idm_external_t *x, const char *actor, idm_card_type type,
                     idm_card_option option, int64_t *order_id)
{
    idm_order_t *order = NULL;
    int rc = idm_order_new(x->ctx, actor, IDM_ORDER_EXTERNAL, type, option, NULL, &order);
    if (rc == IDM_OK)
        rc = idm_order_set_state(order, actor, IDM_ORDER_RUNNING, "cards are being ordered");
    if (rc == IDM_OK)
        (void)idm_order_get_id(order, order_id);
    idm_order_free(&order);
    return rc;
}

/* Creates a card in order_id, with its requester recorded; *card receives
 * it as stored. */
static int new_card(idm_external_t *x, struct idm_store *s, const char *actor, int64_t order_id,
                    idm_card_type type, idm_card_option option, idm_production production,
                    int64_t identity_id, const char *name, struct idm_card_rec *card)
{
    idm_card_t *handle = NULL;
    idm_order_t *order = NULL;
    int64_t id = 0;
    int rc = idm_card_new(x->ctx, actor, type, option, production, identity_id, name, &handle);
    if (rc == IDM_OK)
        (void)idm_card_get_id(handle, &id);
    idm_card_free(&handle);
    if (rc == IDM_OK && order_id != 0 && (rc = idm_order_open(x->ctx, order_id, &order)) == IDM_OK)
        rc = idm_order_add_card(order, actor, id);
    idm_order_free(&order);
    if (rc == IDM_OK)
        rc = s->ops->card_load(s, id, card);
    if (rc == IDM_OK) {
        card->requested_by = strdup(actor);
        rc = card->requested_by != NULL ? s->ops->card_update(s, card)
                                        : IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy the actor");
    }
    return rc;
}

/* The first step of an ordered card after its creation or approval: the
 * approval step, the queue, or on its way to the bureau (processing, sent
 * after the commit: *send is set). */
static int dispatch(idm_external_t *x, struct idm_store *s, const char *actor,
                    struct idm_card_rec *card, const struct order_rules *r, int may_wait,
                    int *send)
{
    *send = 0;
    if (may_wait && r->approval)
        return idm_card_transition(x->ctx, s, actor, card, IDM_CARD_REQUESTED,
                                   "card ordered; waiting for approval");
    if (card->production == IDM_PRODUCTION_LOCAL)
        return idm_card_transition(x->ctx, s, actor, card, IDM_CARD_APPROVED,
                                   "approved for local production");
    *send = !r->queue;
    return idm_card_transition(x->ctx, s, actor, card, IDM_CARD_PROCESSING,
                               r->queue ? "card ordered; queued for the bureau"
                                        : "card ordered; on its way to the bureau");
}

/* Runs body in one store transaction. */
static int in_transaction(idm_external_t *x, int (*body)(idm_external_t *x, struct idm_store *s,
                                                         void *arg),
                          void *arg)
{
    struct idm_store *s;
    int rc = idm_ctx_store(x->ctx, &s);
    if (rc != IDM_OK || (rc = s->ops->begin(s)) != IDM_OK)
        return rc;
    rc = body(x, s, arg);
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    return rc;
}

static int need_producer(const idm_external_t *x, const char *why)
{
    if (x->producer != NULL)
        return IDM_OK;
    return IDM_ERR(IDM_ERR_STATE, "the desk has no producer, and %s", why);
}

/* ---- ordering for identities -------------------------------------------- */

struct one_order {
    const char *actor;
    int64_t order_id; /* 0: create one (for a single identity) */
    int64_t identity_id;
    idm_card_type type;
    idm_card_option option;
    idm_production production;
    struct order_rules rules;
    int64_t card_id; /* out */
    int send;        /* out */
};

static int order_one(idm_external_t *x, struct idm_store *s, void *arg)
{
    struct one_order *o = arg;
    int rc = check_holder(s, o->identity_id, o->type, o->rules.multiple);
    if (rc == IDM_OK && o->order_id == 0 && o->production == IDM_PRODUCTION_EXTERNAL)
        rc = new_order(x, o->actor, o->type, o->option, &o->order_id);
    struct idm_card_rec card;
    memset(&card, 0, sizeof card);
    if (rc == IDM_OK)
        rc = new_card(x, s, o->actor, o->order_id, o->type, o->option, o->production,
                      o->identity_id, NULL, &card);
    if (rc == IDM_OK && o->production == IDM_PRODUCTION_LOCAL) {
        /* "Request card" for local production: mass production takes it
         * from approved. */
        rc = idm_card_transition(x->ctx, s, o->actor, &card, IDM_CARD_REQUESTED,
                                 "card requested for local production");
        if (rc == IDM_OK && !o->rules.request_approval)
            rc = dispatch(x, s, o->actor, &card, &o->rules, 0, &o->send);
    } else if (rc == IDM_OK) {
        rc = dispatch(x, s, o->actor, &card, &o->rules, 1, &o->send);
    }
    o->card_id = card.id;
    idm_card_rec_clear(&card);
    return rc;
}

static int check_personal_type(idm_card_type type, idm_card_option option)
{
    if ((int)type < IDM_CARD_EMPLOYEE || (int)type > IDM_CARD_TEMPORARY)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'type' is %d; not an idm_card_type",
                       (int)type);
    if (!idm_card_type_is_personal(type))
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'type' is %s; cards are ordered for "
                       "identities as employee, contractor or visitor cards (temporary cards "
                       "with idm_external_order_temporary())", idm_card_type_name(type));
    if ((int)option != IDM_CARD_PHYSICAL && (int)option != IDM_CARD_DIGITAL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'option' is %d; not an idm_card_option",
                       (int)option);
    return IDM_OK;
}

IDM_EXPORT int idm_external_order_card(idm_external_t *external, const char *actor,
                                       int64_t identity_id, idm_card_type type,
                                       idm_card_option option, idm_production production,
                                       idm_card_t **out)
{
    CHECK_DESK(external);
    if (out != NULL)
        *out = NULL;
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    if (identity_id <= 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'identity_id' is %" PRId64 "; ids are > 0",
                        identity_id);
    if ((int)production != IDM_PRODUCTION_LOCAL && (int)production != IDM_PRODUCTION_EXTERNAL)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'production' is %d; not an "
                        "idm_production", (int)production);
    struct one_order o = {actor, 0, identity_id, type, option, production, {0}, 0, 0};
    rc = check_personal_type(type, option);
    if (rc == IDM_OK)
        rc = current_rules(external, &o.rules);
    if (rc == IDM_OK && production == IDM_PRODUCTION_LOCAL && !o.rules.selectable)
        rc = IDM_ERR(IDM_ERR_DISABLED, "argument 'production' is local, and the production "
                     "type is not selectable (option production_type_selectable is off)");
    if (rc == IDM_OK && production == IDM_PRODUCTION_EXTERNAL && !o.rules.approval &&
        !o.rules.queue)
        rc = need_producer(external, "with queue_orders off the card goes to the bureau at once");
    if (rc == IDM_OK)
        rc = in_transaction(external, order_one, &o);
    if (rc == IDM_OK && o.send)
        rc = idm_ext_send(external, actor, &o.card_id, 1, NULL, NULL);
    if (rc == IDM_OK && out != NULL)
        rc = idm_card_open(external->ctx, o.card_id, out);
    return idm_error_prefix(__func__, rc);
}

/* One identity's result in a batch, kept until its card was sent. */
struct batch_entry {
    int result;
    int64_t card_id;
    int send;
    char *reason;
};

static void report_batch(idm_external_t *x, const int64_t *ids, struct batch_entry *e,
                         size_t count, idm_external_result_fn report, void *user_data)
{
    for (size_t i = 0; i < count; i++) {
        idm_card_state state = IDM_CARD_REGISTERED;
        idm_card_t *card = NULL;
        if (e[i].card_id != 0 && idm_card_open(x->ctx, e[i].card_id, &card) == IDM_OK)
            (void)idm_card_get_state(card, &state);
        idm_card_free(&card);
        if (report != NULL)
            report(i, ids[i], e[i].result, e[i].card_id, state, e[i].reason, user_data);
    }
}

IDM_EXPORT int idm_external_order_batch(idm_external_t *external, const char *actor,
                                        const int64_t *identity_ids, size_t count,
                                        idm_card_type type, idm_card_option option,
                                        idm_external_result_fn report, void *user_data,
                                        idm_order_t **order)
{
    CHECK_DESK(external);
    if (order != NULL)
        *order = NULL;
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    IDM_CHECK_NOT_NULL(identity_ids);
    if (count < 1 || count > BATCH_MAX)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'count' is %zu; expected 1..%d", count,
                        BATCH_MAX);
    struct one_order o = {actor, 0, 0, type, option, IDM_PRODUCTION_EXTERNAL, {0}, 0, 0};
    rc = check_personal_type(type, option);
    if (rc == IDM_OK)
        rc = current_rules(external, &o.rules);
    if (rc == IDM_OK && !o.rules.approval && !o.rules.queue)
        rc = need_producer(external, "with queue_orders off the cards go to the bureau at once");
    if (rc == IDM_OK)
        rc = new_order(external, actor, type, option, &o.order_id);
    if (rc != IDM_OK)
        return idm_error_prefix(__func__, rc);

    struct batch_entry *e = calloc(count, sizeof *e);
    int64_t *to_send = calloc(count, sizeof *to_send);
    if (e == NULL || to_send == NULL) {
        free(e);
        free(to_send);
        return IDM_FAIL(IDM_ERR_NO_MEMORY, "cannot allocate a batch of %zu", count);
    }
    size_t nsend = 0;
    for (size_t i = 0; rc == IDM_OK && i < count; i++) {
        o.identity_id = identity_ids[i];
        o.card_id = 0;
        o.send = 0;
        e[i].result = identity_ids[i] > 0
                          ? in_transaction(external, order_one, &o)
                          : IDM_ERR(IDM_ERR_INVALID_ARG, "identity id %" PRId64 " is not > 0",
                                    identity_ids[i]);
        if (e[i].result == IDM_OK) {
            e[i].card_id = o.card_id;
            if (o.send)
                to_send[nsend++] = o.card_id;
        } else if (!idm_error_is_refusal(e[i].result)) {
            rc = e[i].result; /* the library itself failed: stop, as the rest would */
        } else if ((e[i].reason = strdup(idm_last_error_message())) == NULL) {
            rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot keep a refusal");
        }
    }
    if (rc == IDM_OK) {
        idm_log_info(external->ctx, "external", "%s ordered %zu of %zu cards in order %" PRId64,
                     actor, nsend, count, o.order_id);
        for (size_t i = 0; rc == IDM_OK && i < nsend; i += SEND_CHUNK)
            rc = idm_ext_send(external, actor, to_send + i,
                              nsend - i < SEND_CHUNK ? nsend - i : SEND_CHUNK, NULL, NULL);
    }
    if (rc == IDM_OK) {
        /* an order whose every identity was refused has nothing to wait for */
        complete_one(external, actor, o.order_id);
        report_batch(external, identity_ids, e, count, report, user_data);
        if (order != NULL)
            rc = idm_order_open(external->ctx, o.order_id, order);
    }
    for (size_t i = 0; i < count; i++)
        free(e[i].reason);
    free(e);
    free(to_send);
    return idm_error_prefix(__func__, rc);
}

/* ---- temporary cards ---------------------------------------------------- */

struct temporary_order {
    const char *actor;
    idm_card_option option;
    size_t count;
    const char *name;
    struct order_rules rules;
    int64_t order_id; /* out */
    int64_t *card_ids; /* out, count */
    int send;          /* out */
};

static int order_temporary(idm_external_t *x, struct idm_store *s, void *arg)
{
    struct temporary_order *t = arg;
    int rc = new_order(x, t->actor, IDM_CARD_TEMPORARY, t->option, &t->order_id);
    for (size_t i = 0; rc == IDM_OK && i < t->count; i++) {
        char name[TEMPORARY_NAME_MAX + 16];
        snprintf(name, sizeof name, "%s %zu", t->name, i + 1);
        struct idm_card_rec card;
        memset(&card, 0, sizeof card);
        rc = new_card(x, s, t->actor, t->order_id, IDM_CARD_TEMPORARY, t->option,
                      IDM_PRODUCTION_EXTERNAL, 0, name, &card);
        /* Temporary cards start requested and have no approval step. */
        if (rc == IDM_OK)
            rc = dispatch(x, s, t->actor, &card, &t->rules, 0, &t->send);
        t->card_ids[i] = card.id;
        idm_card_rec_clear(&card);
    }
    return rc;
}

IDM_EXPORT int idm_external_order_temporary(idm_external_t *external, const char *actor,
                                            idm_card_option option, size_t count,
                                            const char *name, idm_order_t **order)
{
    CHECK_DESK(external);
    if (order != NULL)
        *order = NULL;
    int rc = idm_check_actor(__func__, actor);
    if (rc == IDM_OK)
        rc = idm_check_text(__func__, "name", name, TEMPORARY_NAME_MAX, 0, 1);
    if (rc != IDM_OK)
        return rc;
    if ((int)option != IDM_CARD_PHYSICAL && (int)option != IDM_CARD_DIGITAL)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'option' is %d; not an idm_card_option",
                        (int)option);
    if (count < 1 || count > TEMPORARY_MAX)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'count' is %zu; expected 1..%d", count,
                        TEMPORARY_MAX);
    int64_t card_ids[TEMPORARY_MAX] = {0};
    struct temporary_order t = {actor, option, count, name, {0}, 0, card_ids, 0};
    rc = current_rules(external, &t.rules);
    if (rc == IDM_OK && (count < 1 || count > (size_t)t.rules.temporary_max))
        rc = IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'count' is %zu; expected 1..%" PRId64
                     " (option temporary_cards_per_order)", count, t.rules.temporary_max);
    if (rc == IDM_OK && !t.rules.queue)
        rc = need_producer(external, "with queue_orders off the cards go to the bureau at once");
    if (rc == IDM_OK)
        rc = in_transaction(external, order_temporary, &t);
    if (rc == IDM_OK && t.send)
        rc = idm_ext_send(external, actor, card_ids, count, NULL, NULL);
    if (rc == IDM_OK && order != NULL)
        rc = idm_order_open(external->ctx, t.order_id, order);
    return idm_error_prefix(__func__, rc);
}

/* ---- approval and abort ------------------------------------------------- */

struct card_step {
    const char *actor;
    int64_t card_id;
    const char *reason;
    int approve;
    int send;         /* out */
    int64_t order_id; /* out: the order of a card that settled */
};

/* Loads the card of a step and checks its state; the actor must not be its
 * requester when approving or rejecting. */
static int load_for_step(struct idm_store *s, const struct card_step *c, idm_card_state need,
                         const char *step, int four_eyes, struct idm_card_rec *card)
{
    int rc = s->ops->card_load(s, c->card_id, card);
    if (rc != IDM_OK)
        return rc;
    char label[96];
    idm_card_label(card, label, sizeof label);
    if (card->state != need)
        return IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; %s is only allowed from '%s'",
                       label, idm_card_state_name(card->state), step, idm_card_state_name(need));
    if (four_eyes && card->requested_by != NULL && strcmp(card->requested_by, c->actor) == 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'actor' is '%s', who requested %s; "
                       "another actor must decide on it", c->actor, label);
    return IDM_OK;
}

static int decide(idm_external_t *x, struct idm_store *s, void *arg)
{
    struct card_step *c = arg;
    struct idm_card_rec card;
    int rc = load_for_step(s, c, IDM_CARD_REQUESTED, c->approve ? "approval" : "rejection", 1,
                           &card);
    struct idm_optset *o = NULL;
    struct order_rules rules = {0};
    if (rc == IDM_OK && !c->approve) {
        char detail[IDM_ATTRIBUTE_VALUE_MAX + 1];
        snprintf(detail, sizeof detail, "rejected: %s", c->reason != NULL ? c->reason
                                                                         : "no reason given");
        rc = idm_card_transition(x->ctx, s, c->actor, &card, IDM_CARD_REJECTED, detail);
        if (rc == IDM_OK)
            rc = idm_ext_settle(x, s, &card, IDM_OUTCOME_SKIPPED, detail);
        c->order_id = card.order_id;
    } else if (rc == IDM_OK && card.order_id == 0) {
        /* a local request outside any order: it waits for mass production */
        rc = idm_card_transition(x->ctx, s, c->actor, &card, IDM_CARD_APPROVED,
                                 "approved for local production");
    } else if (rc == IDM_OK && (rc = idm_ext_order_options(s, card.order_id, &o)) == IDM_OK) {
        /* the order's snapshot rules the rest of its way */
        (void)idm_optset_bool(o, "queue_orders", &rules.queue);
        if (!rules.queue && card.production == IDM_PRODUCTION_EXTERNAL)
            rc = need_producer(x, "with queue_orders off the card goes to the bureau at once");
        if (rc == IDM_OK)
            rc = dispatch(x, s, c->actor, &card, &rules, 0, &c->send);
    }
    idm_optset_free(o);
    idm_card_rec_clear(&card);
    return rc;
}

/* Runs decide() for the public approve and reject. */
static int decide_public(const char *func, idm_external_t *x, const char *actor,
                         idm_card_t *card, const char *reason, int approve)
{
    int rc = idm_check_actor(func, actor);
    if (rc == IDM_OK)
        rc = idm_check_text(func, "reason", reason, IDM_EXT_REASON_MAX, 1, 1);
    if (rc != IDM_OK)
        return rc;
    struct card_step c = {actor, idm_card_handle_id(card), reason, approve, 0, 0};
    rc = in_transaction(x, decide, &c);
    if (rc == IDM_OK && c.order_id != 0)
        complete_one(x, actor, c.order_id);
    if (rc == IDM_OK && c.send)
        rc = idm_ext_send(x, actor, &c.card_id, 1, NULL, NULL);
    if (rc == IDM_OK)
        rc = idm_card_refresh(card);
    return idm_error_prefix(func, rc);
}

IDM_EXPORT int idm_external_approve(idm_external_t *external, const char *actor,
                                    idm_card_t *card)
{
    CHECK_DESK(external);
    int rc = idm_ext_check_card(__func__, external, card);
    return rc != IDM_OK ? rc : decide_public(__func__, external, actor, card, NULL, 1);
}

IDM_EXPORT int idm_external_reject(idm_external_t *external, const char *actor,
                                   idm_card_t *card, const char *reason)
{
    CHECK_DESK(external);
    int rc = idm_ext_check_card(__func__, external, card);
    return rc != IDM_OK ? rc : decide_public(__func__, external, actor, card, reason, 0);
}

/* Whether the card's last message may have reached the bureau: a send that
 * was interrupted, or one the producer refused (a refusal may hide a
 * timeout).  *message receives it then. */
static int message_in_doubt(struct idm_store *s, int64_t card_id, struct idm_message_rec *msg,
                            int *doubt)
{
    *doubt = 0;
    int rc = s->ops->message_last(s, card_id, msg);
    if (rc == IDM_ERR_NOT_FOUND) {
        idm_error_clear();
        return IDM_OK;
    }
    if (rc == IDM_OK)
        *doubt = msg->state == IDM_MESSAGE_PENDING || msg->state == IDM_MESSAGE_SUBMIT_FAILED;
    return rc;
}

static int abort_card(idm_external_t *x, struct idm_store *s, void *arg)
{
    struct card_step *c = arg;
    struct idm_card_rec card;
    struct idm_message_rec msg;
    memset(&msg, 0, sizeof msg);
    int doubt = 0;
    int rc = load_for_step(s, c, IDM_CARD_PROCESSING, "abort", 0, &card);
    if (rc == IDM_OK)
        rc = message_in_doubt(s, card.id, &msg, &doubt);
    if (rc == IDM_OK && doubt) {
        /* Withdraw it first: an abort must not leave an order at the bureau. */
        if (x->producer == NULL || x->producer->ops.cancel == NULL) {
            rc = IDM_ERR(IDM_ERR_STATE, "card %s may already be at the bureau (message %s was "
                         "sent without an answer) and the producer cannot cancel it; run "
                         "idm_external_sync_queue() first", card.number, msg.message_id);
        } else {
            idm_backend_call_reset();
            rc = idm_producer_call_end(
                x->producer->ops.cancel(msg.message_id, x->producer->user_data),
                "cancel a card order");
            if (rc == IDM_OK) {
                msg.state = IDM_MESSAGE_CANCELLED;
                msg.updated_ms = idm_ctx_clock_ms(x->ctx);
                rc = s->ops->message_update(s, &msg);
            }
        }
    }
    if (rc == IDM_OK) {
        char detail[IDM_ATTRIBUTE_VALUE_MAX + 1];
        snprintf(detail, sizeof detail, "order aborted%s%s: %s", doubt ? "; withdrew message " : "",
                 doubt ? msg.message_id : "", c->reason != NULL ? c->reason : "no reason given");
        rc = idm_card_transition(x->ctx, s, c->actor, &card, IDM_CARD_ABORTED, detail);
        if (rc == IDM_OK)
            rc = idm_ext_settle(x, s, &card, IDM_OUTCOME_SKIPPED, detail);
        c->order_id = card.order_id;
    }
    idm_message_rec_clear(&msg);
    idm_card_rec_clear(&card);
    return rc;
}

IDM_EXPORT int idm_external_abort(idm_external_t *external, const char *actor, idm_card_t *card,
                                  const char *reason)
{
    CHECK_DESK(external);
    int rc = idm_ext_check_card(__func__, external, card);
    if (rc == IDM_OK)
        rc = idm_check_actor(__func__, actor);
    if (rc == IDM_OK)
        rc = idm_check_text(__func__, "reason", reason, IDM_EXT_REASON_MAX, 1, 1);
    if (rc != IDM_OK)
        return rc;
    struct card_step c = {actor, idm_card_handle_id(card), reason, 0, 0, 0};
    rc = in_transaction(external, abort_card, &c);
    if (rc == IDM_OK && c.order_id != 0)
        complete_one(external, actor, c.order_id);
    if (rc == IDM_OK)
        rc = idm_card_refresh(card);
    return idm_error_prefix(__func__, rc);
}
