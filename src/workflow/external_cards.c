/*
 * External production after the bureau: activating a produced card (it is
 * encoded now, with keys made on it and certificates from the CA), and the
 * life of temporary cards: initialization, assignment and withdrawal.
 *
 * An activation attempt is counted in the card's order before the encoder
 * is touched, so a retry after a failure or a crash issues certificates
 * under a new idempotency key instead of colliding with the keys of a card
 * that was wiped or replaced in between.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <idm/external.h>

#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "model/card_impl.h"
#include "model/identity_impl.h"
#include "model/options_impl.h"
#include "model/text.h"
#include "store/store.h"
#include "workflow/external_impl.h"
#include "workflow/personalize_impl.h"

#define CHECK_DESK(x) IDM_CHECK_HANDLE(x, IDM_MAGIC_EXTERNAL, "idm_external_t")

static const struct idm_personalization_goal goal_activate = {
    IDM_PRODUCTION_EXTERNAL, IDM_CARD_PRODUCED, IDM_CARD_ACTIVE, 0, "activation"};
static const struct idm_personalization_goal goal_initialize = {
    IDM_PRODUCTION_EXTERNAL, IDM_CARD_PRODUCED, IDM_CARD_UNASSIGNED, 0, "initialization"};

/* What an encoding run keeps between the steps. */
struct encoding {
    idm_external_t *x;
    const char *actor;
    idm_card_t *card;
    int pin_by_email;
    char pin[16];
    int have_pin;
    int64_t notification;
};

static void keep_pin(const char *pin, void *arg)
{
    struct encoding *e = arg;
    snprintf(e->pin, sizeof e->pin, "%s", pin);
    e->have_pin = 1;
}

/* In the transaction that records the card as active: the "card activated"
 * message. */
static int record_activated(void *arg)
{
    struct encoding *e = arg;
    struct idm_store *s;
    struct idm_card_rec card;
    int rc = idm_ctx_store(e->x->ctx, &s);
    if (rc == IDM_OK && (rc = s->ops->card_load(s, idm_card_handle_id(e->card), &card)) == IDM_OK) {
        rc = idm_ext_notify_record(e->x, s, e->actor, &card, IDM_NOTIFY_CARD_ACTIVATED,
                                   &e->notification);
        idm_card_rec_clear(&card);
    }
    return rc;
}

/* The next attempt of the card in its order, committed on its own; *options
 * receives the order's snapshot. */
static int next_attempt(idm_external_t *x, idm_card_t *card, int *attempt,
                        struct idm_optset **options)
{
    struct idm_store *s;
    int64_t order_id = 0;
    const char *number = "";
    (void)idm_card_get_order_id(card, &order_id);
    (void)idm_card_get_number(card, &number);
    int rc = idm_ctx_store(x->ctx, &s);
    if (rc == IDM_OK && order_id == 0)
        rc = IDM_ERR(IDM_ERR_STATE, "card %s is in no order", number);
    if (rc == IDM_OK && (rc = s->ops->begin(s)) == IDM_OK) {
        rc = s->ops->order_card_next_attempt(s, order_id, idm_card_handle_id(card),
                                             idm_ctx_clock_ms(x->ctx), attempt);
        if (rc == IDM_OK)
            rc = idm_ext_order_options(s, order_id, options);
        if (rc == IDM_OK)
            rc = s->ops->commit(s);
        else
            s->ops->rollback(s);
    }
    return rc;
}

static int encode(idm_external_t *x, const char *actor, idm_card_t *card, idm_encoder_t *encoder,
                  idm_ca_t *ca, const struct idm_personalization_goal *goal)
{
    struct idm_optset *options = NULL;
    struct idm_personalization *p = NULL;
    struct encoding e = {x, actor, card, 0, "", 0, 0};
    int attempt = 0;
    int rc = idm_card_handle_reload(card);
    idm_card_state state = IDM_CARD_REGISTERED;
    const char *number = "";
    (void)idm_card_get_state(card, &state);
    (void)idm_card_get_number(card, &number);
    /* Checked before an attempt is spent on it. */
    if (rc == IDM_OK && state != goal->from)
        rc = IDM_ERR(IDM_ERR_STATE, "card %s is in state '%s'; %s starts from '%s'", number,
                     idm_card_state_name(state), goal->what, idm_card_state_name(goal->from));
    if (rc == IDM_OK)
        rc = next_attempt(x, card, &attempt, &options);
    /* A produced card has certificates only if an earlier attempt was
     * interrupted after they were committed; activation would make them
     * valid next to this attempt's. */
    if (rc == IDM_OK)
        rc = idm_personalization_revoke_superseded(x->ctx, idm_card_handle_id(card), ca, actor);
    const char *source = NULL, *delivery = NULL;
    if (rc == IDM_OK && (rc = idm_optset_string(options, "pin_source", &source)) == IDM_OK &&
        (rc = idm_optset_string(options, "pin_delivery", &delivery)) == IDM_OK)
        e.pin_by_email = goal == &goal_activate && strcmp(source, "generated") == 0 &&
                         strcmp(delivery, "email") == 0;
    if (rc == IDM_OK)
        rc = idm_personalization_begin(&p, card, actor, encoder, ca, attempt, options, goal);
    if (rc == IDM_OK) {
        if (e.pin_by_email)
            idm_personalization_set_pin_sink(p, keep_pin, &e);
        rc = idm_personalization_issue(p, actor);
        if (rc == IDM_OK)
            rc = idm_personalization_produce(p, actor);
        if (rc == IDM_OK)
            rc = idm_personalization_verify(p, actor);
        rc = idm_personalization_end(p, actor, rc, goal == &goal_activate ? record_activated
                                                                          : NULL, &e);
    }
    idm_personalization_free(p);
    idm_optset_free(options);
    if (rc == IDM_OK && e.notification != 0)
        idm_ext_notify_deliver(x, actor, e.notification, e.have_pin ? e.pin : NULL);
    OPENSSL_cleanse(e.pin, sizeof e.pin);
    if (rc == IDM_OK)
        rc = idm_card_refresh(card);
    return rc;
}

/* The argument checks of the two encoding calls. */
static int check_encoding(const char *func, const char *actor, idm_encoder_t *encoder,
                          idm_ca_t *ca)
{
    int rc = idm_check_actor(func, actor);
    if (rc != IDM_OK)
        return rc;
    rc = idm_handle_validate(encoder, IDM_MAGIC_ENCODER, func, "encoder", "idm_encoder_t");
    if (rc == IDM_OK && ca != NULL)
        rc = idm_handle_validate(ca, IDM_MAGIC_CA, func, "ca", "idm_ca_t");
    return rc;
}

static int card_is_temporary(idm_card_t *card, int want, const char *func)
{
    idm_card_type type = IDM_CARD_EMPLOYEE;
    const char *number = "";
    (void)idm_card_get_type(card, &type);
    (void)idm_card_get_number(card, &number);
    if ((type == IDM_CARD_TEMPORARY) == want)
        return IDM_OK;
    return idm_error_set(func, IDM_ERR_STATE, want ? "card %s is a %s card; only temporary "
                         "cards are initialized, assigned and withdrawn"
                         : "card %s is a %s card; temporary cards are initialized, not "
                         "activated", number, idm_card_type_name(type));
}

IDM_EXPORT int idm_external_activate(idm_external_t *external, const char *actor,
                                     idm_card_t *card, idm_encoder_t *encoder, idm_ca_t *ca)
{
    CHECK_DESK(external);
    int rc = idm_ext_check_card(__func__, external, card);
    if (rc == IDM_OK)
        rc = check_encoding(__func__, actor, encoder, ca);
    if (rc == IDM_OK)
        rc = card_is_temporary(card, 0, __func__);
    if (rc != IDM_OK)
        return rc;
    return idm_error_prefix(__func__, encode(external, actor, card, encoder, ca, &goal_activate));
}

IDM_EXPORT int idm_external_initialize_temporary(idm_external_t *external, const char *actor,
                                                 idm_card_t *card, idm_encoder_t *encoder,
                                                 idm_ca_t *ca)
{
    CHECK_DESK(external);
    int rc = idm_ext_check_card(__func__, external, card);
    if (rc == IDM_OK)
        rc = check_encoding(__func__, actor, encoder, ca);
    if (rc == IDM_OK)
        rc = card_is_temporary(card, 1, __func__);
    if (rc != IDM_OK)
        return rc;
    return idm_error_prefix(__func__, encode(external, actor, card, encoder, ca, &goal_initialize));
}

/* ---- lending temporary cards -------------------------------------------- */

struct lending {
    const char *actor;
    int64_t card_id;
    int64_t identity_id; /* 0: withdraw */
    const char *reason;
};

/* The identity a card is assigned to: it exists and is active; its label
 * goes into label. */
static int check_borrower(struct idm_store *s, int64_t identity_id, char *label, size_t size)
{
    struct idm_identity_rec holder;
    int rc = s->ops->identity_load(s, identity_id, &holder);
    if (rc != IDM_OK)
        return rc;
    idm_identity_label(&holder, label, size);
    if (holder.state != IDM_IDENTITY_ACTIVE)
        rc = IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; a temporary card is assigned only to "
                     "an active identity", label, idm_identity_state_name(holder.state));
    idm_identity_rec_clear(&holder);
    return rc;
}

static int lend(idm_external_t *x, struct idm_store *s, const struct lending *l)
{
    char label[160] = "";
    int rc = l->identity_id != 0 ? check_borrower(s, l->identity_id, label, sizeof label)
                                 : IDM_OK;
    struct idm_card_rec card;
    if (rc != IDM_OK || (rc = s->ops->card_load(s, l->card_id, &card)) != IDM_OK)
        return rc;
    /* Assign and withdraw move between these two only: a produced card is
     * initialized first (the graph's produced -> unassigned is that step). */
    idm_card_state need = l->identity_id != 0 ? IDM_CARD_UNASSIGNED : IDM_CARD_ASSIGNED;
    char detail[IDM_ATTRIBUTE_VALUE_MAX + 1];
    if (card.state != need) {
        rc = IDM_ERR(IDM_ERR_STATE, "card %s is in state '%s'; it is %s only from '%s'",
                     card.number, idm_card_state_name(card.state),
                     l->identity_id != 0 ? "assigned" : "withdrawn", idm_card_state_name(need));
    } else if (l->identity_id != 0) {
        snprintf(detail, sizeof detail, "assigned to %s", label);
        card.identity_id = l->identity_id;
    } else {
        snprintf(detail, sizeof detail, "withdrawn from identity %" PRId64 ": %s",
                 card.identity_id, l->reason != NULL ? l->reason : "no reason given");
        card.identity_id = 0;
    }
    if (rc == IDM_OK)
        rc = idm_card_transition(x->ctx, s, l->actor, &card,
                                 l->identity_id != 0 ? IDM_CARD_ASSIGNED : IDM_CARD_UNASSIGNED,
                                 detail);
    idm_card_rec_clear(&card);
    return rc;
}

static int lend_public(const char *func, idm_external_t *x, idm_card_t *card,
                       const struct lending *l)
{
    int rc = idm_check_actor(func, l->actor);
    if (rc == IDM_OK)
        rc = idm_check_text(func, "reason", l->reason, IDM_EXT_REASON_MAX, 1, 1);
    if (rc == IDM_OK)
        rc = card_is_temporary(card, 1, func);
    if (rc != IDM_OK)
        return rc;
    struct idm_store *s;
    rc = idm_ctx_store(x->ctx, &s);
    if (rc == IDM_OK && (rc = s->ops->begin(s)) == IDM_OK) {
        rc = lend(x, s, l);
        if (rc == IDM_OK)
            rc = s->ops->commit(s);
        else
            s->ops->rollback(s);
    }
    if (rc == IDM_OK)
        rc = idm_card_refresh(card);
    return idm_error_prefix(func, rc);
}

IDM_EXPORT int idm_external_assign(idm_external_t *external, const char *actor,
                                   idm_card_t *card, int64_t identity_id)
{
    CHECK_DESK(external);
    int rc = idm_ext_check_card(__func__, external, card);
    if (rc != IDM_OK)
        return rc;
    if (identity_id <= 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'identity_id' is %" PRId64 "; ids are > 0",
                        identity_id);
    struct lending l = {actor, idm_card_handle_id(card), identity_id, NULL};
    return lend_public(__func__, external, card, &l);
}

IDM_EXPORT int idm_external_withdraw(idm_external_t *external, const char *actor,
                                     idm_card_t *card, const char *reason)
{
    CHECK_DESK(external);
    int rc = idm_ext_check_card(__func__, external, card);
    if (rc != IDM_OK)
        return rc;
    struct lending l = {actor, idm_card_handle_id(card), 0, reason};
    return lend_public(__func__, external, card, &l);
}
