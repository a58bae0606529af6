/*
 * Production orders.  An order snapshots the option set when it is created
 * and answers option questions from that snapshot for its whole life.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/order.h>

#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "core/log.h"
#include "model/audit_impl.h"
#include "model/card_impl.h"
#include "model/iter.h"
#include "model/order_impl.h"
#include "model/options_impl.h"
#include "model/states.h"
#include "model/text.h"
#include "store/store.h"

struct idm_order {
    uint32_t magic; /* IDM_MAGIC_ORDER */
    idm_ctx_t *ctx;
    struct idm_order_rec rec;
    struct idm_optset *options; /* parsed from rec.options_snapshot */
};

struct idm_order_iter {
    struct idm_id_iter base;
};

#define CHECK_ORDER(o) IDM_CHECK_HANDLE(o, IDM_MAGIC_ORDER, "idm_order_t")
#define CHECK_ITER(it) IDM_CHECK_HANDLE(it, IDM_MAGIC_ORDER_ITER, "idm_order_iter_t")

idm_ctx_t *idm_order_handle_ctx(const idm_order_t *order)
{
    return order->ctx;
}

static void order_label(const struct idm_order_rec *rec, char *buf, size_t size)
{
    if (rec->external_id != NULL)
        snprintf(buf, size, "order %" PRId64 " ('%s')", rec->id, rec->external_id);
    else
        snprintf(buf, size, "order %" PRId64, rec->id);
}

static int order_load(idm_order_t *order, int64_t id)
{
    struct idm_store *s;
    struct idm_order_rec rec;
    struct idm_optset *options = NULL;
    int rc = idm_ctx_store(order->ctx, &s);
    if (rc == IDM_OK)
        rc = s->ops->order_load(s, id, &rec);
    if (rc != IDM_OK)
        return rc;
    if ((rc = idm_optset_parse(rec.options_snapshot, rec.options_version, &options)) != IDM_OK) {
        idm_order_rec_clear(&rec);
        return rc;
    }
    idm_order_rec_clear(&order->rec);
    idm_optset_free(order->options);
    order->rec = rec;
    order->options = options;
    return IDM_OK;
}

static int order_alloc(idm_ctx_t *ctx, int64_t id, idm_order_t **out)
{
    *out = NULL;
    idm_order_t *order = calloc(1, sizeof *order);
    if (order == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate an order");
    order->magic = IDM_MAGIC_ORDER;
    order->ctx = ctx;
    int rc = order_load(order, id);
    if (rc != IDM_OK) {
        idm_order_free(&order);
        return rc;
    }
    *out = order;
    return IDM_OK;
}

IDM_EXPORT int idm_order_new(idm_ctx_t *ctx, const char *actor, idm_order_kind kind,
                             idm_card_type type, idm_card_option option, const char *external_id,
                             idm_order_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    int rc = idm_check_actor(__func__, actor);
    if (rc == IDM_OK)
        rc = idm_check_text(__func__, "external_id", external_id, IDM_ATTRIBUTE_VALUE_MAX, 1, 1);
    if (rc != IDM_OK)
        return rc;
    if ((int)kind != IDM_ORDER_MASS_PRODUCTION && (int)kind != IDM_ORDER_EXTERNAL)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'kind' is %d; not an idm_order_kind",
                        (int)kind);
    if ((int)type < IDM_CARD_EMPLOYEE || (int)type > IDM_CARD_TEMPORARY)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'type' is %d; not an idm_card_type",
                        (int)type);
    if ((int)option != IDM_CARD_PHYSICAL && (int)option != IDM_CARD_DIGITAL)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'option' is %d; not an idm_card_option",
                        (int)option);
    if (type == IDM_CARD_TEMPORARY && kind != IDM_ORDER_EXTERNAL)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'type' is temporary and argument 'kind' "
                        "is mass_production; temporary cards are ordered externally");

    struct idm_store *s;
    if ((rc = idm_ctx_store(ctx, &s)) != IDM_OK || (rc = s->ops->begin(s)) != IDM_OK)
        return idm_error_prefix(__func__, rc);
    struct idm_optset *o = NULL;
    struct idm_order_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.external_id = (char *)external_id; /* borrowed for the insert */
    rec.kind = kind;
    rec.card_type = type;
    rec.card_option = option;
    rec.state = (idm_order_state)idm_order_graph.initial;
    rec.created_ms = rec.updated_ms = idm_ctx_clock_ms(ctx);
    /* The snapshot is read in the transaction that creates the order, so it
     * is exactly the option set in force at that moment. */
    rc = idm_optset_load(s, &o);
    if (rc == IDM_OK) {
        rec.options_version = o->version;
        rc = idm_optset_serialize(o, &rec.options_snapshot);
    }
    if (rc == IDM_OK) {
        rc = s->ops->order_insert(s, &rec);
        if (rc == IDM_ERR_EXISTS)
            rc = IDM_ERR(IDM_ERR_EXISTS, "an order with external id '%s' already exists",
                         external_id);
    }
    if (rc == IDM_OK)
        rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_ORDER, rec.id, NULL,
                              idm_order_state_name(rec.state), "%s order for %s %s cards "
                              "(option set version %" PRId64 ")", idm_order_kind_name(kind),
                              idm_card_option_name(option), idm_card_type_name(type),
                              rec.options_version);
    idm_optset_free(o);
    free(rec.options_snapshot);
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    if (rc == IDM_OK)
        rc = order_alloc(ctx, rec.id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_order_open(idm_ctx_t *ctx, int64_t id, idm_order_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    if (id <= 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'id' is %" PRId64 "; ids are > 0", id);
    int rc = order_alloc(ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_order_open_external(idm_ctx_t *ctx, const char *external_id, idm_order_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(external_id);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    struct idm_store *s;
    int64_t id = 0;
    int rc = idm_ctx_store(ctx, &s);
    if (rc == IDM_OK)
        rc = s->ops->order_find(s, external_id, &id);
    if (rc == IDM_OK)
        rc = order_alloc(ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_order_refresh(idm_order_t *order)
{
    CHECK_ORDER(order);
    int rc = order_load(order, order->rec.id);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_order_free(idm_order_t **order)
{
    if (!IDM_LIVE_HANDLE(order, IDM_MAGIC_ORDER))
        return;
    idm_order_rec_clear(&(*order)->rec);
    idm_optset_free((*order)->options);
    idm_handle_kill(*order);
    free(*order);
    *order = NULL;
}

/* ---- getters --------------------------------------------------------- */

#define ORDER_GETTER(fn, type, field) \
    IDM_FIELD_GETTER(fn, idm_order_t, order, IDM_MAGIC_ORDER, "idm_order_t", type, field)

ORDER_GETTER(idm_order_get_id, int64_t, rec.id)
ORDER_GETTER(idm_order_get_external_id, const char *, rec.external_id)
ORDER_GETTER(idm_order_get_kind, idm_order_kind, rec.kind)
IDM_EXPORT int idm_order_get_card_kind(const idm_order_t *order, idm_card_type *type,
                                       idm_card_option *option)
{
    CHECK_ORDER(order);
    if (type != NULL)
        *type = order->rec.card_type;
    if (option != NULL)
        *option = order->rec.card_option;
    return IDM_OK;
}

ORDER_GETTER(idm_order_get_state, idm_order_state, rec.state)
ORDER_GETTER(idm_order_get_options_version, int64_t, rec.options_version)
IDM_EXPORT int idm_order_get_option_bool(const idm_order_t *order, const char *key, int *out)
{
    CHECK_ORDER(order);
    IDM_CHECK_NOT_NULL(key);
    IDM_CHECK_NOT_NULL(out);
    int rc = idm_optset_bool(order->options, key, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_order_get_option_int(const idm_order_t *order, const char *key, int64_t *out)
{
    CHECK_ORDER(order);
    IDM_CHECK_NOT_NULL(key);
    IDM_CHECK_NOT_NULL(out);
    int rc = idm_optset_int(order->options, key, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_order_get_option_string(const idm_order_t *order, const char *key,
                                           const char **out)
{
    CHECK_ORDER(order);
    IDM_CHECK_NOT_NULL(key);
    IDM_CHECK_NOT_NULL(out);
    int rc = idm_optset_string(order->options, key, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

/* ---- changes --------------------------------------------------------- */

/* Loads the stored order inside a transaction, applies change, commits and
 * reloads the handle. */
static int order_change(idm_order_t *order,
                        int (*change)(idm_order_t *order, struct idm_store *s,
                                      struct idm_order_rec *cur, const void *arg),
                        const void *arg)
{
    struct idm_store *s;
    int rc = idm_ctx_store(order->ctx, &s);
    if (rc != IDM_OK || (rc = s->ops->begin(s)) != IDM_OK)
        return rc;
    struct idm_order_rec cur;
    rc = s->ops->order_load(s, order->rec.id, &cur);
    if (rc == IDM_OK) {
        rc = change(order, s, &cur, arg);
        idm_order_rec_clear(&cur);
    }
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    if (rc == IDM_OK)
        rc = order_load(order, order->rec.id);
    return rc;
}

struct order_state_change {
    const char *actor;
    idm_order_state to;
    const char *detail;
};

static int apply_state(idm_order_t *order, struct idm_store *s, struct idm_order_rec *cur,
                       const void *arg)
{
    const struct order_state_change *c = arg;
    if (!idm_graph_allows(&idm_order_graph, (int)cur->state, (int)c->to)) {
        char label[160];
        order_label(cur, label, sizeof label);
        return idm_graph_refuse(&idm_order_graph, label, (int)cur->state, (int)c->to);
    }
    const char *from = idm_order_state_name(cur->state);
    cur->state = c->to;
    cur->updated_ms = idm_ctx_clock_ms(order->ctx);
    int rc = s->ops->order_update(s, cur);
    if (rc == IDM_OK)
        rc = idm_audit_append(order->ctx, s, c->actor, IDM_OBJECT_ORDER, cur->id, from,
                              idm_order_state_name(c->to), "%s",
                              c->detail != NULL ? c->detail : "state changed");
    return rc;
}

IDM_EXPORT int idm_order_set_state(idm_order_t *order, const char *actor, idm_order_state to,
                                   const char *detail)
{
    CHECK_ORDER(order);
    int rc = idm_check_actor(__func__, actor);
    if (rc == IDM_OK)
        rc = idm_check_text(__func__, "detail", detail, IDM_ATTRIBUTE_VALUE_MAX, 1, 1);
    if (rc != IDM_OK)
        return rc;
    if (!idm_graph_has_state(&idm_order_graph, (int)to))
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'to' is %d; not an idm_order_state",
                        (int)to);
    struct order_state_change c = {actor, to, detail};
    rc = order_change(order, apply_state, &c);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

struct add_card {
    const char *actor;
    int64_t card_id;
};

/* The states of the local graph after mass production made the card. */
static int produced_locally(idm_card_state state)
{
    return state == IDM_CARD_ISSUED || state == IDM_CARD_ACTIVE || state == IDM_CARD_INACTIVE ||
           state == IDM_CARD_LOCKED || state == IDM_CARD_EXPIRED;
}

/* Is the order completed or aborted? */
static int order_is_final(struct idm_store *s, int64_t id, int *final)
{
    struct idm_order_rec other;
    memset(&other, 0, sizeof other);
    int rc = s->ops->order_load(s, id, &other);
    if (rc == IDM_OK)
        *final = other.state == IDM_ORDER_COMPLETED || other.state == IDM_ORDER_ABORTED;
    idm_order_rec_clear(&other);
    return rc;
}

static int apply_add_card(idm_order_t *order, struct idm_store *s, struct idm_order_rec *cur,
                          const void *arg)
{
    const struct add_card *c = arg;
    char label[160];
    order_label(cur, label, sizeof label);
    if (cur->state != IDM_ORDER_OPEN && cur->state != IDM_ORDER_RUNNING)
        return IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; cards are added only while it is "
                       "open or running", label, idm_order_state_name(cur->state));
    struct idm_card_rec card;
    int rc = s->ops->card_load(s, c->card_id, &card);
    if (rc != IDM_OK)
        return rc;
    int final = 0;
    char card_name[96];
    idm_card_label(&card, card_name, sizeof card_name);
    if (card.type != cur->card_type || card.option != cur->card_option) {
        rc = IDM_ERR(IDM_ERR_INVALID_ARG, "%s is a %s %s card; %s takes %s %s cards", card_name,
                     idm_card_option_name(card.option), idm_card_type_name(card.type), label,
                     idm_card_option_name(cur->card_option), idm_card_type_name(cur->card_type));
    } else if (card.order_id != 0 && card.order_id != cur->id &&
               (rc = order_is_final(s, card.order_id, &final)) == IDM_OK && !final) {
        rc = IDM_ERR(IDM_ERR_STATE, "%s already belongs to order %" PRId64, card_name,
                     card.order_id);
    } else if (rc == IDM_OK && card.order_id != cur->id &&
               cur->kind == IDM_ORDER_MASS_PRODUCTION && produced_locally(card.state)) {
        /* A station would find it issued and count it produced in this
         * order too, without producing it (the load test found a host
         * re-adding a card its order had just produced). */
        rc = IDM_ERR(IDM_ERR_STATE, "%s is '%s': it was produced already and joins no other "
                     "order", card_name, idm_card_state_name(card.state));
    } else if (rc == IDM_OK && card.order_id != cur->id) {
        /* A card of a completed or aborted order (a failed one, say) may
         * join a new order: "a later order can repeat production". */
        card.order_id = cur->id;
        card.updated_ms = idm_ctx_clock_ms(order->ctx);
        rc = s->ops->card_update(s, &card);
        if (rc == IDM_OK)
            rc = s->ops->order_card_add(s, cur->id, card.id, card.updated_ms);
        if (rc == IDM_OK)
            rc = idm_audit_append(order->ctx, s, c->actor, IDM_OBJECT_CARD, card.id, NULL, NULL,
                                  "added to %s", label);
    }
    idm_card_rec_clear(&card);
    return rc;
}

#define ADD_MAX 100000

struct add_cards {
    const char *actor;
    const int64_t *ids;
    size_t count;
};

static int apply_add_cards(idm_order_t *order, struct idm_store *s, struct idm_order_rec *cur,
                           const void *arg)
{
    const struct add_cards *c = arg;
    int rc = IDM_OK;
    for (size_t i = 0; rc == IDM_OK && i < c->count; i++) {
        struct add_card one = {c->actor, c->ids[i]};
        rc = apply_add_card(order, s, cur, &one);
    }
    return rc;
}

/* idm_order_add_card() (one: its argument is card_id) and
 * idm_order_add_cards(), whose errors name func. */
static int add_cards(const char *func, idm_order_t *order, const char *actor,
                     const int64_t *card_ids, size_t count, int one)
{
    int rc = idm_check_actor(func, actor);
    if (rc != IDM_OK)
        return rc;
    for (size_t i = 0; i < count; i++) {
        char arg[48] = "card_id";
        if (!one)
            snprintf(arg, sizeof arg, "card_ids[%zu]", i);
        if (card_ids[i] <= 0)
            return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument '%s' is %" PRId64
                                 "; ids are > 0", arg, card_ids[i]);
    }
    struct add_cards c = {actor, card_ids, count};
    rc = order_change(order, apply_add_cards, &c);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(func, rc);
}

IDM_EXPORT int idm_order_add_card(idm_order_t *order, const char *actor, int64_t card_id)
{
    CHECK_ORDER(order);
    return add_cards(__func__, order, actor, &card_id, 1, 1);
}

IDM_EXPORT int idm_order_add_cards(idm_order_t *order, const char *actor, const int64_t *card_ids,
                                   size_t count)
{
    CHECK_ORDER(order);
    IDM_CHECK_NOT_NULL(card_ids);
    if (count < 1 || count > ADD_MAX)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'count' is %zu; expected 1..%d", count,
                        ADD_MAX);
    return add_cards(__func__, order, actor, card_ids, count, 0);
}

struct add_approved {
    const char *actor;
    size_t max;
    size_t added;
};

static int apply_add_approved(idm_order_t *order, struct idm_store *s, struct idm_order_rec *cur,
                              const void *arg)
{
    struct add_approved *c = (struct add_approved *)arg;
    int64_t ids[IDM_ITER_PAGE];
    int64_t after = 0;
    size_t n = 0;
    int rc = IDM_OK;
    c->added = 0;
    do {
        size_t want = IDM_ITER_PAGE;
        if (c->max != 0 && c->max - c->added < want)
            want = c->max - c->added;
        rc = s->ops->card_list_addable(s, (int)cur->card_type, (int)cur->card_option, after,
                                       want, ids, &n);
        for (size_t i = 0; rc == IDM_OK && i < n; i++) {
            struct add_card one = {c->actor, ids[i]};
            rc = apply_add_card(order, s, cur, &one);
            after = ids[i];
            c->added++;
        }
    } while (rc == IDM_OK && n > 0 && (c->max == 0 || c->added < c->max));
    return rc;
}

IDM_EXPORT int idm_order_add_approved(idm_order_t *order, const char *actor, size_t max,
                                      size_t *added)
{
    if (added != NULL)
        *added = 0;
    CHECK_ORDER(order);
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    if (order->rec.kind != IDM_ORDER_MASS_PRODUCTION)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "order %" PRId64 " is an external order; approved "
                        "cards are added to mass production orders", order->rec.id);
    struct add_approved c = {actor, max, 0};
    rc = order_change(order, apply_add_approved, &c);
    if (rc != IDM_OK)
        return idm_error_prefix(__func__, rc);
    if (added != NULL)
        *added = c.added;
    return IDM_OK;
}

/* ---- the cards' outcomes ------------------------------------------------- */

static int check_outcome(const char *func, const char *arg, idm_order_card_outcome outcome)
{
    if ((int)outcome < IDM_OUTCOME_PENDING || (int)outcome > IDM_OUTCOME_FAILED)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument '%s' is %d; not an "
                             "idm_order_card_outcome", arg, (int)outcome);
    return IDM_OK;
}

IDM_EXPORT int idm_order_count_cards(const idm_order_t *order, idm_order_card_outcome outcome,
                                     int64_t *out)
{
    CHECK_ORDER(order);
    IDM_CHECK_NOT_NULL(out);
    int rc = check_outcome(__func__, "outcome", outcome);
    if (rc != IDM_OK)
        return rc;
    struct idm_store *s;
    struct idm_order_counts n;
    rc = idm_ctx_store(order->ctx, &s);
    if (rc == IDM_OK)
        rc = s->ops->order_card_counts(s, order->rec.id, &n);
    if (rc != IDM_OK)
        return idm_error_prefix(__func__, rc);
    *out = n.by_outcome[outcome];
    return IDM_OK;
}

IDM_EXPORT int idm_order_get_card_outcome(const idm_order_t *order, int64_t card_id,
                                          idm_order_card_outcome *outcome, int *attempt,
                                          idm_buffer_t *reason)
{
    CHECK_ORDER(order);
    if (reason != NULL)
        IDM_CHECK_HANDLE(reason, IDM_MAGIC_BUFFER, "idm_buffer_t");
    if (card_id <= 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'card_id' is %" PRId64 "; ids are > 0",
                        card_id);
    struct idm_store *s;
    struct idm_order_card_rec rec;
    memset(&rec, 0, sizeof rec);
    int rc = idm_ctx_store(order->ctx, &s);
    if (rc == IDM_OK)
        rc = s->ops->order_card_load(s, order->rec.id, card_id, &rec);
    if (rc == IDM_OK && reason != NULL)
        rc = idm_buffer_set(reason, rec.reason != NULL ? rec.reason : "",
                            rec.reason != NULL ? strlen(rec.reason) : 0);
    if (rc == IDM_OK && outcome != NULL)
        *outcome = (idm_order_card_outcome)rec.outcome;
    if (rc == IDM_OK && attempt != NULL)
        *attempt = rec.attempt;
    idm_order_card_rec_clear(&rec);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

/* ---- iteration ------------------------------------------------------- */

IDM_EXPORT int idm_order_iter_new(idm_ctx_t *ctx, idm_order_iter_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    return idm_id_iter_new(ctx, __func__, IDM_MAGIC_ORDER_ITER, IDM_OBJECT_ORDER,
                           (struct idm_id_iter **)out);
}

IDM_EXPORT int idm_order_iter_set_state(idm_order_iter_t *iter, idm_order_state state)
{
    CHECK_ITER(iter);
    int rc = idm_id_iter_check_unstarted(&iter->base, __func__);
    if (rc != IDM_OK)
        return rc;
    if (!idm_graph_has_state(&idm_order_graph, (int)state))
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'state' is %d; not an idm_order_state",
                        (int)state);
    iter->base.filter.has_state = 1;
    iter->base.filter.state = (int)state;
    return IDM_OK;
}

IDM_EXPORT int idm_order_iter_set_type(idm_order_iter_t *iter, idm_card_type type)
{
    CHECK_ITER(iter);
    int rc = idm_id_iter_check_unstarted(&iter->base, __func__);
    if (rc != IDM_OK)
        return rc;
    if ((int)type < IDM_CARD_EMPLOYEE || (int)type > IDM_CARD_TEMPORARY)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'type' is %d; not an idm_card_type",
                        (int)type);
    iter->base.filter.has_type = 1;
    iter->base.filter.type = (int)type;
    return IDM_OK;
}

IDM_EXPORT int idm_order_iter_next(idm_order_iter_t *iter, idm_order_t **out)
{
    CHECK_ITER(iter);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    int64_t id;
    int rc = idm_id_iter_next_id(&iter->base, &id);
    if (rc == IDM_OK && id != 0)
        rc = order_alloc(iter->base.ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_order_iter_free(idm_order_iter_t **iter)
{
    if (!IDM_LIVE_HANDLE(iter, IDM_MAGIC_ORDER_ITER))
        return;
    idm_id_iter_free(&(*iter)->base);
    *iter = NULL;
}
