/*
 * Cards.  Creation draws the card number from the store's counter; every
 * state change is checked against the stored state and the card's graph,
 * and moves the card's certificates along in the same transaction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/card.h>
#include <idm/external.h>
#include <idm/order.h>

#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "core/log.h"
#include "model/audit_impl.h"
#include "model/card_impl.h"
#include "model/cert_impl.h"
#include "model/identity_impl.h"
#include "model/iter.h"
#include "model/options_impl.h"
#include "model/states.h"
#include "model/text.h"
#include "store/store.h"

/* Tries before giving up when a card number format produces taken numbers. */
#define CARD_NUMBER_TRIES 16
#define CHIP_SERIAL_MAX 64

struct idm_card {
    uint32_t magic; /* IDM_MAGIC_CARD */
    idm_ctx_t *ctx;
    struct idm_card_rec rec;
};

struct idm_card_iter {
    struct idm_id_iter base;
};

#define CHECK_CARD(c) IDM_CHECK_HANDLE(c, IDM_MAGIC_CARD, "idm_card_t")
#define CHECK_ITER(it) IDM_CHECK_HANDLE(it, IDM_MAGIC_CARD_ITER, "idm_card_iter_t")

int idm_card_type_is_personal(idm_card_type type)
{
    return type == IDM_CARD_EMPLOYEE || type == IDM_CARD_CONTRACTOR || type == IDM_CARD_VISITOR;
}

int idm_card_type_is_visitor(idm_card_type type)
{
    return type == IDM_CARD_VISITOR || type == IDM_CARD_VISITOR_NON_PERSONAL ||
           type == IDM_CARD_TEMPORARY;
}

int idm_card_label(const struct idm_card_rec *rec, char *buf, size_t size)
{
    return snprintf(buf, size, "card %s", rec->number != NULL ? rec->number : "(unnumbered)");
}

static int card_load(idm_card_t *card, int64_t id)
{
    struct idm_store *s;
    struct idm_card_rec rec;
    int rc = idm_ctx_store(card->ctx, &s);
    if (rc == IDM_OK)
        rc = s->ops->card_load(s, id, &rec);
    if (rc != IDM_OK)
        return rc;
    idm_card_rec_clear(&card->rec);
    card->rec = rec;
    return IDM_OK;
}

int idm_card_handle_new(idm_ctx_t *ctx, int64_t id, idm_card_t **out)
{
    *out = NULL;
    idm_card_t *card = calloc(1, sizeof *card);
    if (card == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a card");
    card->magic = IDM_MAGIC_CARD;
    card->ctx = ctx;
    int rc = card_load(card, id);
    if (rc != IDM_OK) {
        idm_card_free(&card);
        return rc;
    }
    *out = card;
    return IDM_OK;
}

int64_t idm_card_handle_id(const idm_card_t *card)
{
    return card->rec.id;
}

idm_ctx_t *idm_card_handle_ctx(const idm_card_t *card)
{
    return card->ctx;
}

int idm_card_handle_reload(idm_card_t *card)
{
    return card_load(card, card->rec.id);
}

/* Checks that the arguments of idm_card_new() fit the card type. */
static int check_new_card(const char *func, idm_card_type type, idm_card_option option,
                          idm_production production, int64_t identity_id, const char *name)
{
    if ((int)type < IDM_CARD_EMPLOYEE || (int)type > IDM_CARD_TEMPORARY)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument 'type' is %d; not an "
                             "idm_card_type", (int)type);
    if ((int)option != IDM_CARD_PHYSICAL && (int)option != IDM_CARD_DIGITAL)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument 'option' is %d; not an "
                             "idm_card_option", (int)option);
    if ((int)production != IDM_PRODUCTION_LOCAL && (int)production != IDM_PRODUCTION_EXTERNAL)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument 'production' is %d; not an "
                             "idm_production", (int)production);
    if (type == IDM_CARD_TEMPORARY && production != IDM_PRODUCTION_EXTERNAL)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "temporary cards are produced "
                             "externally; argument 'production' is local");
    if (idm_card_type_is_personal(type)) {
        if (identity_id <= 0)
            return idm_error_set(func, IDM_ERR_INVALID_ARG, "a %s card needs its holder: "
                                 "argument 'identity_id' is %" PRId64,
                                 idm_card_type_name(type), identity_id);
        if (name != NULL)
            return idm_error_set(func, IDM_ERR_INVALID_ARG, "a %s card is named after its "
                                 "holder: argument 'name' must be NULL",
                                 idm_card_type_name(type));
        return IDM_OK;
    }
    if (identity_id != 0)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "a %s card has no holder: argument "
                             "'identity_id' must be 0, not %" PRId64,
                             idm_card_type_name(type), identity_id);
    return idm_check_text(func, "name", name, IDM_ATTRIBUTE_VALUE_MAX, 0, 1);
}

/* Inserts rec with the next free card number of the format. */
static int insert_numbered(struct idm_store *s, const char *format, struct idm_card_rec *rec)
{
    int rc = IDM_OK;
    for (int attempt = 0; attempt < CARD_NUMBER_TRIES; attempt++) {
        int64_t seq;
        if ((rc = s->ops->counter_next(s, "card_seq", &seq)) != IDM_OK)
            return rc;
        free(rec->number);
        if ((rc = idm_card_number_format(format, seq, &rec->number)) != IDM_OK)
            return rc;
        rc = s->ops->card_insert(s, rec);
        /* A number taken under an earlier format: draw the next one. */
        if (rc != IDM_ERR_EXISTS)
            return rc;
    }
    return IDM_ERR(IDM_ERR_EXISTS, "card_number_format '%s' gave %d card numbers in a row that "
                   "are taken", format, CARD_NUMBER_TRIES);
}

IDM_EXPORT int idm_card_new(idm_ctx_t *ctx, const char *actor, idm_card_type type,
                            idm_card_option option, idm_production production,
                            int64_t identity_id, const char *name, idm_card_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    int rc = idm_check_actor(__func__, actor);
    if (rc == IDM_OK)
        rc = check_new_card(__func__, type, option, production, identity_id, name);
    if (rc != IDM_OK)
        return rc;

    struct idm_store *s;
    if ((rc = idm_ctx_store(ctx, &s)) != IDM_OK || (rc = s->ops->begin(s)) != IDM_OK)
        return idm_error_prefix(__func__, rc);
    const struct idm_graph *g = idm_card_graph(type, production);
    struct idm_card_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.type = type;
    rec.option = option;
    rec.production = production;
    rec.state = (idm_card_state)g->initial;
    rec.identity_id = identity_id;
    rec.name = (char *)name; /* borrowed for the insert */
    rec.created_ms = rec.updated_ms = idm_ctx_clock_ms(ctx);

    if (identity_id > 0) {
        struct idm_identity_rec holder;
        rc = s->ops->identity_load(s, identity_id, &holder);
        if (rc == IDM_OK) {
            if (holder.state == IDM_IDENTITY_TERMINATED) {
                char label[160];
                idm_identity_label(&holder, label, sizeof label);
                rc = IDM_ERR(IDM_ERR_STATE, "%s is terminated and cannot get a card", label);
            }
            idm_identity_rec_clear(&holder);
        }
    }
    struct idm_optset *o = NULL;
    const char *format = NULL;
    if (rc == IDM_OK)
        rc = idm_optset_load(s, &o);
    if (rc == IDM_OK)
        rc = idm_optset_string(o, "card_number_format", &format);
    if (rc == IDM_OK)
        rc = insert_numbered(s, format, &rec);
    if (rc == IDM_OK)
        rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_CARD, rec.id, NULL,
                              idm_card_state_name(rec.state), "%s %s card created for %s "
                              "production", idm_card_type_name(type),
                              idm_card_option_name(option), idm_production_name(production));
    idm_optset_free(o);
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    if (rc == IDM_OK)
        idm_log_info(ctx, "card", "%s created card %s (%s, %s)", actor, rec.number,
                     idm_card_type_name(type), idm_card_option_name(option));
    free(rec.number);
    if (rc == IDM_OK)
        rc = idm_card_handle_new(ctx, rec.id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_card_open(idm_ctx_t *ctx, int64_t id, idm_card_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    if (id <= 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'id' is %" PRId64 "; ids are > 0", id);
    int rc = idm_card_handle_new(ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_card_open_number(idm_ctx_t *ctx, const char *number, idm_card_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(number);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    struct idm_store *s;
    int64_t id = 0;
    int rc = idm_ctx_store(ctx, &s);
    if (rc == IDM_OK)
        rc = s->ops->card_find(s, number, &id);
    if (rc == IDM_OK)
        rc = idm_card_handle_new(ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_card_refresh(idm_card_t *card)
{
    CHECK_CARD(card);
    int rc = card_load(card, card->rec.id);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_card_free(idm_card_t **card)
{
    if (!IDM_LIVE_HANDLE(card, IDM_MAGIC_CARD))
        return;
    idm_card_rec_clear(&(*card)->rec);
    idm_handle_kill(*card);
    free(*card);
    *card = NULL;
}

/* ---- getters --------------------------------------------------------- */

#define CARD_GETTER(fn, type, field) \
    IDM_FIELD_GETTER(fn, idm_card_t, card, IDM_MAGIC_CARD, "idm_card_t", type, rec.field)

CARD_GETTER(idm_card_get_id, int64_t, id)
CARD_GETTER(idm_card_get_number, const char *, number)
CARD_GETTER(idm_card_get_type, idm_card_type, type)
CARD_GETTER(idm_card_get_option, idm_card_option, option)
CARD_GETTER(idm_card_get_production, idm_production, production)
CARD_GETTER(idm_card_get_state, idm_card_state, state)
CARD_GETTER(idm_card_get_identity_id, int64_t, identity_id)
CARD_GETTER(idm_card_get_name, const char *, name)
CARD_GETTER(idm_card_get_chip_serial, const char *, chip_serial)
CARD_GETTER(idm_card_get_order_id, int64_t, order_id)
CARD_GETTER(idm_card_get_shipment, const char *, shipment)
CARD_GETTER(idm_card_get_requester, const char *, requested_by)

/* ---- changes --------------------------------------------------------- */

/* Moves the valid and on-hold certificates of a card to the state its new
 * state implies, each with its own audit event. */
static int certificates_follow(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                               const struct idm_card_rec *card)
{
    idm_cert_state target;
    if (!idm_cert_state_for_card(card->state, &target))
        return IDM_OK;
    struct idm_list_filter f = {.card_id = card->id};
    int64_t ids[IDM_ITER_PAGE];
    int64_t after = 0;
    size_t n;
    do {
        int rc = s->ops->list_ids(s, IDM_OBJECT_CERTIFICATE, &f, after, IDM_ITER_PAGE, ids, &n);
        for (size_t i = 0; rc == IDM_OK && i < n; i++) {
            struct idm_cert_rec cert;
            if ((rc = s->ops->cert_load(s, ids[i], &cert)) != IDM_OK)
                break;
            idm_cert_state from = cert.state;
            if ((from == IDM_CERT_VALID || from == IDM_CERT_ON_HOLD) && from != target) {
                idm_cert_follow_state(&cert, target, idm_ctx_clock_ms(ctx));
                rc = s->ops->cert_update(s, &cert);
                if (rc == IDM_OK)
                    rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_CERTIFICATE, cert.id,
                                          idm_cert_state_name(from), idm_cert_state_name(target),
                                          "serial %s follows card %s to '%s'", cert.serial,
                                          card->number, idm_card_state_name(card->state));
            }
            idm_cert_rec_clear(&cert);
        }
        if (rc != IDM_OK)
            return rc;
        if (n > 0)
            after = ids[n - 1];
    } while (n == IDM_ITER_PAGE);
    return IDM_OK;
}

int idm_card_transition(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                        struct idm_card_rec *cur, idm_card_state to, const char *detail)
{
    const struct idm_graph *g = idm_card_graph(cur->type, cur->production);
    if (!idm_graph_allows(g, (int)cur->state, (int)to)) {
        char label[96];
        idm_card_label(cur, label, sizeof label);
        return idm_graph_refuse(g, label, (int)cur->state, (int)to);
    }
    idm_card_state from = cur->state;
    cur->state = to;
    cur->updated_ms = idm_ctx_clock_ms(ctx);
    int rc = s->ops->card_update(s, cur);
    if (rc == IDM_OK)
        rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_CARD, cur->id, idm_card_state_name(from),
                              idm_card_state_name(to), "%s", detail != NULL ? detail : "state changed");
    if (rc == IDM_OK)
        rc = certificates_follow(ctx, s, actor, cur);
    return rc;
}

/* Runs change on the stored card inside one transaction, then reloads the
 * handle. */
static int card_change(idm_card_t *card, int (*change)(idm_card_t *card, struct idm_store *s,
                                                        struct idm_card_rec *cur, void *arg),
                       void *arg)
{
    struct idm_store *s;
    int rc = idm_ctx_store(card->ctx, &s);
    if (rc != IDM_OK || (rc = s->ops->begin(s)) != IDM_OK)
        return rc;
    struct idm_card_rec cur;
    rc = s->ops->card_load(s, card->rec.id, &cur);
    if (rc == IDM_OK) {
        rc = change(card, s, &cur, arg);
        idm_card_rec_clear(&cur);
    }
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    if (rc == IDM_OK)
        rc = card_load(card, card->rec.id);
    return rc;
}

struct state_change {
    const char *actor;
    idm_card_state to;
    const char *detail;
};

static int apply_state(idm_card_t *card, struct idm_store *s, struct idm_card_rec *cur, void *arg)
{
    const struct state_change *c = arg;
    return idm_card_transition(card->ctx, s, c->actor, cur, c->to, c->detail);
}

IDM_EXPORT int idm_card_set_state(idm_card_t *card, const char *actor, idm_card_state to,
                                  const char *detail)
{
    CHECK_CARD(card);
    int rc = idm_check_actor(__func__, actor);
    if (rc == IDM_OK)
        rc = idm_check_text(__func__, "detail", detail, IDM_ATTRIBUTE_VALUE_MAX, 1, 1);
    if (rc != IDM_OK)
        return rc;
    if ((int)to < IDM_CARD_REGISTERED || (int)to > IDM_CARD_ASSIGNED)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'to' is %d; not an idm_card_state", (int)to);
    struct state_change c = {actor, to, detail};
    rc = card_change(card, apply_state, &c);
    if (rc == IDM_OK)
        idm_log_info(card->ctx, "card", "%s moved card %s to %s", actor, card->rec.number,
                     idm_card_state_name(to));
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

struct serial_change {
    const char *actor;
    const char *serial;
};

static int apply_serial(idm_card_t *card, struct idm_store *s, struct idm_card_rec *cur,
                        void *arg)
{
    const struct serial_change *c = arg;
    char label[96];
    idm_card_label(cur, label, sizeof label);
    if (cur->chip_serial != NULL) {
        if (strcmp(cur->chip_serial, c->serial) == 0)
            return IDM_OK;
        return IDM_ERR(IDM_ERR_STATE, "%s already has chip serial '%s', not '%s'", label,
                       cur->chip_serial, c->serial);
    }
    cur->chip_serial = strdup(c->serial);
    if (cur->chip_serial == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy a chip serial");
    cur->updated_ms = idm_ctx_clock_ms(card->ctx);
    int rc = s->ops->card_update(s, cur);
    if (rc == IDM_ERR_EXISTS)
        return IDM_ERR(IDM_ERR_EXISTS, "another card already has chip serial '%s'", c->serial);
    if (rc == IDM_OK)
        rc = idm_audit_append(card->ctx, s, c->actor, IDM_OBJECT_CARD, cur->id, NULL, NULL,
                              "chip serial '%s' recorded", c->serial);
    return rc;
}

IDM_EXPORT int idm_card_set_chip_serial(idm_card_t *card, const char *actor, const char *serial)
{
    CHECK_CARD(card);
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    IDM_CHECK_NOT_NULL(serial);
    size_t len = strnlen(serial, CHIP_SERIAL_MAX + 1);
    if (len == 0 || len > CHIP_SERIAL_MAX)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'serial' must be 1..%d characters",
                        CHIP_SERIAL_MAX);
    for (size_t i = 0; i < len; i++) {
        if (serial[i] < 0x21 || serial[i] > 0x7e)
            return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'serial' has a character that is not "
                            "printable ASCII at position %zu", i);
    }
    struct serial_change c = {actor, serial};
    rc = card_change(card, apply_serial, &c);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

/* ---- iteration ------------------------------------------------------- */

IDM_EXPORT int idm_card_iter_new(idm_ctx_t *ctx, idm_card_iter_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    return idm_id_iter_new(ctx, __func__, IDM_MAGIC_CARD_ITER, IDM_OBJECT_CARD,
                           (struct idm_id_iter **)out);
}

IDM_EXPORT int idm_card_iter_set_state(idm_card_iter_t *iter, idm_card_state state)
{
    CHECK_ITER(iter);
    int rc = idm_id_iter_check_unstarted(&iter->base, __func__);
    if (rc != IDM_OK)
        return rc;
    if ((int)state < IDM_CARD_REGISTERED || (int)state > IDM_CARD_ASSIGNED)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'state' is %d; not an idm_card_state",
                        (int)state);
    iter->base.filter.has_state = 1;
    iter->base.filter.state = (int)state;
    return IDM_OK;
}

IDM_EXPORT int idm_card_iter_set_type(idm_card_iter_t *iter, idm_card_type type)
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

/* The order filter of idm_card_iter_set_order() and _set_order_outcome(),
 * for a checked iterator. */
static int set_order_filter(idm_card_iter_t *iter, const char *func, int64_t order_id)
{
    int rc = idm_id_iter_check_unstarted(&iter->base, func);
    if (rc != IDM_OK)
        return rc;
    if (order_id <= 0)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument 'order_id' is %" PRId64
                             "; ids are > 0", order_id);
    iter->base.filter.order_id = order_id;
    return IDM_OK;
}

IDM_EXPORT int idm_card_iter_set_order(idm_card_iter_t *iter, int64_t order_id)
{
    CHECK_ITER(iter);
    return set_order_filter(iter, __func__, order_id);
}

IDM_EXPORT int idm_card_iter_set_order_outcome(idm_card_iter_t *iter, int64_t order_id,
                                               idm_order_card_outcome outcome)
{
    CHECK_ITER(iter);
    if ((int)outcome < IDM_OUTCOME_PENDING || (int)outcome > IDM_OUTCOME_FAILED)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'outcome' is %d; not an "
                        "idm_order_card_outcome", (int)outcome);
    int rc = set_order_filter(iter, __func__, order_id);
    if (rc != IDM_OK)
        return rc;
    iter->base.filter.has_outcome = 1;
    iter->base.filter.outcome = (int)outcome;
    return IDM_OK;
}

IDM_EXPORT int idm_card_iter_set_identity(idm_card_iter_t *iter, int64_t identity_id)
{
    CHECK_ITER(iter);
    int rc = idm_id_iter_check_unstarted(&iter->base, __func__);
    if (rc != IDM_OK)
        return rc;
    if (identity_id <= 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'identity_id' is %" PRId64 "; ids are > 0",
                        identity_id);
    iter->base.filter.identity_id = identity_id;
    return IDM_OK;
}

IDM_EXPORT int idm_card_iter_next(idm_card_iter_t *iter, idm_card_t **out)
{
    CHECK_ITER(iter);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    int64_t id;
    int rc = idm_id_iter_next_id(&iter->base, &id);
    if (rc == IDM_OK && id != 0)
        rc = idm_card_handle_new(iter->base.ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_card_iter_free(idm_card_iter_t **iter)
{
    if (!IDM_LIVE_HANDLE(iter, IDM_MAGIC_CARD_ITER))
        return;
    idm_id_iter_free(&(*iter)->base);
    *iter = NULL;
}
