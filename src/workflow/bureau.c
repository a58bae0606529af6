/*
 * External production, the bureau's side: sending card orders (at once or
 * from the queue) and applying the bureau's status reports.
 *
 * Sending is journaled so that no crash orders a card twice: the batch's
 * messages are recorded as pending in one transaction, then submitted,
 * then the answers are recorded in one transaction.  A process killed
 * between the two finds its cards still processing with a pending message
 * and submits that message again under the same id, which the bureau knows.
 * A message's id changes only when the bureau reported the attempt failed
 * (the operator then repeats the card), never for a retry of a submit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/external.h>

#include "backends/producer/producer_impl.h"
#include "core/buffer_impl.h"
#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "core/json.h"
#include "core/log.h"
#include "model/audit_impl.h"
#include "model/card_impl.h"
#include "model/options_impl.h"
#include "model/text.h"
#include "store/store.h"
#include "workflow/external_impl.h"

#define CHECK_DESK(x) IDM_CHECK_HANDLE(x, IDM_MAGIC_EXTERNAL, "idm_external_t")
#define BATCH_SIZE_MAX 1000
#define STATUS_PAGE 256
#define BUREAU_TEXT_MAX 256
#define SERIAL_MAX 64

/* ---- the order message -------------------------------------------------- */

static int put(idm_buffer_t *b, const char *text)
{
    return idm_buffer_append(b, text, strlen(text));
}

/* Appends ,"key":"value" (or without the comma for the first member). */
static int put_member(idm_buffer_t *b, int first, const char *key, const char *value)
{
    int rc = put(b, first ? "" : ",");
    if (rc == IDM_OK)
        rc = idm_json_put_string(b, key);
    if (rc == IDM_OK)
        rc = put(b, ":");
    if (rc == IDM_OK)
        rc = value != NULL ? idm_json_put_string(b, value) : put(b, "null");
    return rc;
}

/* The holder part of an order message: who the card is for. */
static int put_holder(idm_external_t *x, idm_buffer_t *b, const struct idm_card_rec *card)
{
    if (card->identity_id == 0) {
        int rc = put(b, ",\"holder\":null");
        return rc == IDM_OK ? put_member(b, 0, "name", card->name) : rc;
    }
    idm_identity_t *holder = NULL;
    int rc = idm_identity_open(x->ctx, card->identity_id, &holder);
    const char *external_id = NULL, *cn = NULL, *upn = NULL;
    size_t nattrs = 0;
    if (rc == IDM_OK) {
        (void)idm_identity_get_external_id(holder, &external_id);
        (void)idm_identity_get_common_name(holder, &cn);
        (void)idm_identity_get_upn(holder, &upn);
        (void)idm_identity_get_attribute_count(holder, &nattrs);
        rc = put(b, ",\"holder\":{");
    }
    if (rc == IDM_OK)
        rc = put_member(b, 1, "external_id", external_id);
    if (rc == IDM_OK)
        rc = put_member(b, 0, "common_name", cn);
    if (rc == IDM_OK)
        rc = put_member(b, 0, "upn", upn);
    if (rc == IDM_OK)
        rc = put(b, ",\"attributes\":{");
    for (size_t i = 0; rc == IDM_OK && i < nattrs; i++) {
        const char *key = NULL, *value = NULL;
        rc = idm_identity_get_attribute_at(holder, i, &key, &value);
        if (rc == IDM_OK)
            rc = put_member(b, i == 0, key, value);
    }
    if (rc == IDM_OK)
        rc = put(b, "}}");
    idm_identity_free(&holder);
    return rc;
}

/* The JSON document of one card order ("libidm-card-order/1"). */
static int build_message(idm_external_t *x, const struct idm_card_rec *card,
                         const struct idm_message_rec *msg, idm_buffer_t *b)
{
    char number[32];
    snprintf(number, sizeof number, "{\"order_id\":%" PRId64 ",\"attempt\":%d", msg->order_id,
             msg->attempt);
    int rc = put(b, "{\"format\":\"libidm-card-order/1\",");
    if (rc == IDM_OK)
        rc = put_member(b, 1, "message_id", msg->message_id);
    if (rc == IDM_OK)
        rc = put(b, ",\"order\":");
    if (rc == IDM_OK)
        rc = put(b, number);
    if (rc == IDM_OK)
        rc = put(b, "},\"card\":{");
    if (rc == IDM_OK)
        rc = put_member(b, 1, "number", card->number);
    if (rc == IDM_OK)
        rc = put_member(b, 0, "type", idm_card_type_name(card->type));
    if (rc == IDM_OK)
        rc = put_member(b, 0, "option", idm_card_option_name(card->option));
    if (rc == IDM_OK)
        rc = put(b, "}");
    if (rc == IDM_OK)
        rc = put_holder(x, b, card);
    if (rc == IDM_OK)
        rc = put_member(b, 0, "requested_by", card->requested_by);
    if (rc == IDM_OK)
        rc = put(b, "}\n");
    return rc;
}

/* ---- sending ------------------------------------------------------------ */

/* One card of a batch on its way to the bureau. */
struct outgoing {
    int64_t card_id;
    struct idm_message_rec msg;
    idm_buffer_t *json;
    int result; /* the producer's answer */
    char *words;
    int recorded; /* the answer moved the card (it was still processing) */
};

/* "idm-<store>-o<order>-c<card>-a<attempt>" */
static int message_id(struct idm_store *s, int64_t order_id, int64_t card_id, int attempt,
                      char **out)
{
    char store_id[40], id[128];
    int rc = s->ops->store_id(s, store_id, sizeof store_id);
    if (rc != IDM_OK)
        return rc;
    snprintf(id, sizeof id, "idm-%s-o%" PRId64 "-c%" PRId64 "-a%d", store_id, order_id, card_id,
             attempt);
    *out = strdup(id);
    return *out != NULL ? IDM_OK : IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy a message id");
}

/* Inside the first transaction: the message a processing card is sent
 * with, recorded as pending: the pending or refused one it has, or a new
 * attempt after a failed or cancelled one.  *skip is set for a card that
 * is no longer processing (aborted meanwhile, say). */
static int prepare_one(idm_external_t *x, struct idm_store *s, struct outgoing *o, int *skip)
{
    struct idm_card_rec card;
    int rc = s->ops->card_load(s, o->card_id, &card);
    if (rc != IDM_OK)
        return rc;
    *skip = card.state != IDM_CARD_PROCESSING;
    int64_t now = idm_ctx_clock_ms(x->ctx);
    if (!*skip) {
        /* a repeated card is pending in its order again */
        rc = idm_ext_settle(x, s, &card, IDM_OUTCOME_PENDING, NULL);
        if (rc == IDM_OK)
            rc = s->ops->message_last(s, card.id, &o->msg);
        if (rc == IDM_OK && (o->msg.state == IDM_MESSAGE_PENDING ||
                             o->msg.state == IDM_MESSAGE_SUBMIT_FAILED ||
                             o->msg.state == IDM_MESSAGE_SENT)) {
            o->msg.state = IDM_MESSAGE_PENDING;
            o->msg.updated_ms = now;
            rc = s->ops->message_update(s, &o->msg);
        } else if (rc == IDM_OK || rc == IDM_ERR_NOT_FOUND) {
            int attempt = rc == IDM_OK ? o->msg.attempt + 1 : 1;
            idm_message_rec_clear(&o->msg);
            o->msg.card_id = card.id;
            o->msg.order_id = card.order_id;
            o->msg.attempt = attempt;
            o->msg.state = IDM_MESSAGE_PENDING;
            o->msg.status = -1;
            o->msg.created_ms = o->msg.updated_ms = now;
            rc = card.order_id != 0 ? message_id(s, card.order_id, card.id, attempt,
                                                 &o->msg.message_id)
                                    : IDM_ERR(IDM_ERR_STATE, "card %s is in no order",
                                              card.number);
            if (rc == IDM_OK)
                rc = s->ops->message_insert(s, &o->msg);
            if (rc == IDM_OK)
                rc = idm_audit_append(x->ctx, s, "libidm", IDM_OBJECT_CARD, card.id, NULL, NULL,
                                      "bureau message %s recorded (attempt %d)",
                                      o->msg.message_id, attempt);
        }
    }
    if (rc == IDM_OK && !*skip && (rc = idm_buffer_new(&o->json)) == IDM_OK)
        rc = build_message(x, &card, &o->msg, o->json);
    idm_card_rec_clear(&card);
    return rc;
}

/* Inside the second transaction: the producer's answer for one card. */
static int record_answer(idm_external_t *x, struct idm_store *s, const char *actor,
                         struct outgoing *o, int64_t *notification)
{
    struct idm_card_rec card;
    int rc = s->ops->card_load(s, o->card_id, &card);
    if (rc != IDM_OK)
        return rc;
    if (card.state != IDM_CARD_PROCESSING) {
        /* aborted while it was being sent (the abort withdrew the message),
         * or another desk syncing at once sent it too and recorded it
         * first: not this sync's card to count */
        idm_card_rec_clear(&card);
        return IDM_OK;
    }
    o->recorded = 1;
    char detail[IDM_ATTRIBUTE_VALUE_MAX + 1];
    o->msg.updated_ms = idm_ctx_clock_ms(x->ctx);
    if (o->result == IDM_OK) {
        o->msg.state = IDM_MESSAGE_SENT;
        snprintf(detail, sizeof detail, "ordered from the bureau as message %s",
                 o->msg.message_id);
        rc = s->ops->message_update(s, &o->msg);
        if (rc == IDM_OK)
            rc = idm_card_transition(x->ctx, s, actor, &card, IDM_CARD_ORDERED, detail);
        struct idm_optset *opts = NULL;
        int email = 0;
        if (rc == IDM_OK && (rc = idm_ext_order_options(s, card.order_id, &opts)) == IDM_OK)
            rc = idm_optset_bool(opts, "send_card_ordered_email", &email);
        idm_optset_free(opts);
        if (rc == IDM_OK && email)
            rc = idm_ext_notify_record(x, s, actor, &card, IDM_NOTIFY_CARD_ORDERED,
                                       notification);
    } else {
        o->msg.state = IDM_MESSAGE_SUBMIT_FAILED;
        free(o->msg.detail);
        o->msg.detail = o->words;
        o->words = NULL;
        snprintf(detail, sizeof detail, "the bureau did not take message %s: %s",
                 o->msg.message_id, o->msg.detail != NULL ? o->msg.detail : "no reason");
        detail[IDM_ATTRIBUTE_VALUE_MAX] = '\0';
        rc = s->ops->message_update(s, &o->msg);
        if (rc == IDM_OK)
            rc = idm_card_transition(x->ctx, s, actor, &card, IDM_CARD_FAILED, detail);
        if (rc == IDM_OK)
            rc = idm_ext_settle(x, s, &card, IDM_OUTCOME_FAILED, detail);
    }
    idm_card_rec_clear(&card);
    return rc;
}

static void outgoing_clear(struct outgoing *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        idm_message_rec_clear(&o[i].msg);
        idm_buffer_free(&o[i].json);
        free(o[i].words);
    }
}

int idm_ext_send(idm_external_t *x, const char *actor, const int64_t *ids, size_t n,
                 size_t *sent, size_t *failed)
{
    if (x->producer == NULL)
        return IDM_ERR(IDM_ERR_STATE, "the desk has no producer to send cards to the bureau");
    struct idm_store *s;
    int rc = idm_ctx_store(x->ctx, &s);
    if (rc != IDM_OK)
        return rc;
    struct outgoing *out = calloc(n, sizeof *out);
    int64_t *notifications = calloc(n, sizeof *notifications);
    if (out == NULL || notifications == NULL) {
        free(out);
        free(notifications);
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a batch of %zu cards", n);
    }
    size_t m = 0;
    if ((rc = s->ops->begin(s)) == IDM_OK) {
        for (size_t i = 0; rc == IDM_OK && i < n; i++) {
            int skip = 0;
            out[m].card_id = ids[i];
            rc = prepare_one(x, s, &out[m], &skip);
            if (rc == IDM_OK && !skip)
                m++;
            else
                outgoing_clear(&out[m], 1);
        }
        if (rc == IDM_OK)
            rc = s->ops->commit(s);
        else
            s->ops->rollback(s);
    }
    /* The messages are on record: now the bureau may have them. */
    for (size_t i = 0; rc == IDM_OK && i < m; i++) {
        const idm_buffer_t *b = out[i].json;
        const unsigned char *data = NULL;
        size_t len = 0;
        (void)idm_buffer_get(b, &data, &len);
        idm_backend_call_reset();
        out[i].result = idm_producer_call_end(
            x->producer->ops.submit(out[i].msg.message_id, (const char *)data, len,
                                    x->producer->user_data),
            "submit a card order");
        if (out[i].result != IDM_OK) {
            out[i].words = strdup(idm_last_error_message());
            idm_log_warning(x->ctx, "external", "message %s: %s", out[i].msg.message_id,
                            idm_last_error_message());
        }
    }
    if (rc == IDM_OK && m > 0 && (rc = s->ops->begin(s)) == IDM_OK) {
        for (size_t i = 0; rc == IDM_OK && i < m; i++)
            rc = record_answer(x, s, actor, &out[i], &notifications[i]);
        if (rc == IDM_OK)
            rc = s->ops->commit(s);
        else
            s->ops->rollback(s);
    }
    for (size_t i = 0; rc == IDM_OK && i < m; i++) {
        if (out[i].recorded && out[i].result == IDM_OK && sent != NULL)
            (*sent)++;
        if (out[i].recorded && out[i].result != IDM_OK && failed != NULL)
            (*failed)++;
        if (notifications[i] != 0)
            idm_ext_notify_deliver(x, actor, notifications[i], NULL);
    }
    outgoing_clear(out, m);
    free(out);
    free(notifications);
    return rc;
}

IDM_EXPORT int idm_external_sync_queue(idm_external_t *external, const char *actor,
                                       size_t batch_size, size_t *sent, size_t *failed)
{
    CHECK_DESK(external);
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    if (batch_size < 1 || batch_size > BATCH_SIZE_MAX)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'batch_size' is %zu; expected 1..%d",
                        batch_size, BATCH_SIZE_MAX);
    if (sent != NULL)
        *sent = 0;
    if (failed != NULL)
        *failed = 0;
    if (external->producer == NULL)
        return IDM_FAIL(IDM_ERR_STATE, "the desk has no producer to send the queue to");
    struct idm_store *s;
    rc = idm_ctx_store(external->ctx, &s);
    int64_t *ids = rc == IDM_OK ? calloc(batch_size, sizeof *ids) : NULL;
    if (rc == IDM_OK && ids == NULL)
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a batch of %zu", batch_size);
    struct idm_list_filter f = {.has_state = 1, .state = IDM_CARD_PROCESSING};
    int64_t after = 0;
    size_t n = 0, total_sent = 0, total_failed = 0;
    /* Cards the producer refused become failed, so each page moves on. */
    do {
        if (rc == IDM_OK)
            rc = s->ops->list_ids(s, IDM_OBJECT_CARD, &f, after, batch_size, ids, &n);
        if (rc == IDM_OK && n > 0) {
            rc = idm_ext_send(external, actor, ids, n, &total_sent, &total_failed);
            after = ids[n - 1];
        }
    } while (rc == IDM_OK && n == batch_size);
    free(ids);
    if (sent != NULL)
        *sent = total_sent;
    if (failed != NULL)
        *failed = total_failed;
    if (rc == IDM_OK)
        idm_log_info(external->ctx, "external", "%s synced the queue: %zu ordered, %zu refused",
                     actor, total_sent, total_failed);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

/* ---- status reports ----------------------------------------------------- */

struct update_run {
    idm_external_t *x;
    const char *actor;
    size_t applied;
    size_t refused;
    struct idm_ext_touched touched;
};

static int check_report_fields(const char *message_id, idm_bureau_status status,
                               const char *chip_serial, const char *shipment,
                               const char *reason)
{
    char why[128];
    if (message_id == NULL || !idm_message_id_valid(message_id))
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the message id is not 1..128 characters of "
                       "[A-Za-z0-9._-]");
    if ((int)status < IDM_BUREAU_IN_PRODUCTION || (int)status > IDM_BUREAU_FAILED)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "status %d is not an idm_bureau_status", (int)status);
    if (status == IDM_BUREAU_PRODUCED && chip_serial == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "a 'produced' report for message %s has no chip "
                       "serial", message_id);
    if (status != IDM_BUREAU_PRODUCED && chip_serial != NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "a '%s' report for message %s has a chip serial; "
                       "only 'produced' has one", idm_bureau_status_name(status), message_id);
    if (chip_serial != NULL) {
        size_t len = strlen(chip_serial);
        int printable = len >= 1 && len <= SERIAL_MAX;
        for (size_t i = 0; printable && i < len; i++)
            printable = chip_serial[i] > ' ' && chip_serial[i] < 0x7f;
        if (!printable)
            return IDM_ERR(IDM_ERR_INVALID_ARG, "the chip serial of message %s is not 1..%d "
                           "printable ASCII characters", message_id, SERIAL_MAX);
    }
    if (shipment != NULL && !idm_text_acceptable(shipment, BUREAU_TEXT_MAX, 1, why, sizeof why))
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the shipment of message %s: %s", message_id, why);
    if (reason != NULL && !idm_text_acceptable(reason, BUREAU_TEXT_MAX, 1, why, sizeof why))
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the reason of message %s: %s", message_id, why);
    return IDM_OK;
}

/* How far along the bureau's path a card is: ordered 1, in production 2,
 * produced or failed 3; 0 for a card off the path. */
static int progress(idm_card_state state)
{
    switch (state) {
    case IDM_CARD_PROCESSING: return 0;
    case IDM_CARD_ORDERED: return 1;
    case IDM_CARD_IN_PRODUCTION: return 2;
    case IDM_CARD_PRODUCED:
    case IDM_CARD_FAILED: return 3;
    default: return -1;
    }
}

/* The order of the bureau's reports: in production, then produced or
 * failed. */
static int stage(idm_bureau_status status)
{
    return status == IDM_BUREAU_IN_PRODUCTION ? 1 : 2;
}

struct report {
    const char *message_id;
    idm_bureau_status status;
    const char *chip_serial;
    const char *shipment;
    const char *reason;
    int changed; /* out */
    int64_t notification; /* out */
};

/* Walks the card along ordered -> in_production -> produced | failed to the
 * reported state, one audited transition per step. */
static int walk(struct update_run *u, struct idm_store *s, struct idm_card_rec *card,
                const struct report *r, const char *detail)
{
    idm_card_state target = r->status == IDM_BUREAU_IN_PRODUCTION ? IDM_CARD_IN_PRODUCTION
                            : r->status == IDM_BUREAU_PRODUCED    ? IDM_CARD_PRODUCED
                                                                  : IDM_CARD_FAILED;
    int rc = IDM_OK;
    if (card->state == IDM_CARD_PROCESSING)
        rc = idm_card_transition(u->x->ctx, s, u->actor, card, IDM_CARD_ORDERED,
                                 "the bureau reports on it, so it has the order");
    if (rc == IDM_OK && card->state == IDM_CARD_ORDERED)
        rc = idm_card_transition(u->x->ctx, s, u->actor, card, IDM_CARD_IN_PRODUCTION,
                                 target == IDM_CARD_IN_PRODUCTION ? detail
                                 : "the bureau started production");
    if (rc == IDM_OK && target != IDM_CARD_IN_PRODUCTION) {
        if (target == IDM_CARD_PRODUCED) {
            free(card->chip_serial);
            card->chip_serial = strdup(r->chip_serial);
            free(card->shipment);
            card->shipment = r->shipment != NULL ? strdup(r->shipment) : NULL;
            if (card->chip_serial == NULL || (r->shipment != NULL && card->shipment == NULL))
                return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy the bureau's report");
        }
        rc = idm_card_transition(u->x->ctx, s, u->actor, card, target, detail);
        if (rc == IDM_ERR_EXISTS)
            rc = idm_error_wrap(NULL, rc, "chip serial %s is another card's", r->chip_serial);
    }
    return rc;
}

static int apply_report(struct update_run *u, struct idm_store *s, struct report *r)
{
    struct idm_message_rec msg;
    int rc = s->ops->message_load(s, r->message_id, &msg);
    if (rc == IDM_ERR_NOT_FOUND)
        return IDM_ERR(IDM_ERR_NOT_FOUND, "no card order was sent as message %s (unknown card)",
                       r->message_id);
    if (rc != IDM_OK)
        return rc;
    struct idm_card_rec card;
    memset(&card, 0, sizeof card);
    rc = s->ops->card_load(s, msg.card_id, &card);
    const char *word = idm_bureau_status_name(r->status);
    int reported = r->status == IDM_BUREAU_IN_PRODUCTION ? 2 : 3;
    int at = rc == IDM_OK ? progress(card.state) : 0;
    if (rc != IDM_OK) {
        /* the card of a known message is always there */
    } else if (msg.state == IDM_MESSAGE_CANCELLED || msg.state == IDM_MESSAGE_SUBMIT_FAILED) {
        rc = IDM_ERR(IDM_ERR_STATE, "message %s was %s; card %s is '%s' and takes no report "
                     "of '%s' for it", r->message_id,
                     msg.state == IDM_MESSAGE_CANCELLED ? "withdrawn" : "refused when sent",
                     card.number, idm_card_state_name(card.state), word);
    } else if (msg.status == (int)r->status &&
               (r->status != IDM_BUREAU_PRODUCED ||
                (card.chip_serial != NULL && strcmp(card.chip_serial, r->chip_serial) == 0))) {
        r->changed = 0; /* a repeat of a report already applied */
    } else if (msg.status >= 0 && stage(r->status) < stage((idm_bureau_status)msg.status)) {
        r->changed = 0; /* a late repeat of a stage the order has passed */
    } else if (msg.state == IDM_MESSAGE_FAILED) {
        rc = IDM_ERR(IDM_ERR_STATE, "message %s is an attempt the bureau reported failed; "
                     "card %s has moved on and takes no report of '%s' for it", r->message_id,
                     card.number, word);
    } else {
        struct idm_message_rec last;
        int superseded = s->ops->message_last(s, card.id, &last) == IDM_OK &&
                         strcmp(last.message_id, msg.message_id) != 0;
        idm_message_rec_clear(&last);
        if (superseded)
            rc = IDM_ERR(IDM_ERR_STATE, "message %s is a superseded attempt of card %s",
                         r->message_id, card.number);
        else if (at < 0 || at > reported || (at == reported && at == 3))
            rc = IDM_ERR(IDM_ERR_STATE, "card %s is '%s'; a report of '%s' for message %s is "
                         "out of date", card.number, idm_card_state_name(card.state), word,
                         r->message_id);
    }
    if (rc == IDM_OK && r->changed) {
        char detail[IDM_ATTRIBUTE_VALUE_MAX + 1];
        snprintf(detail, sizeof detail, "the bureau reports '%s' for message %s%s%s%s%s", word,
                 r->message_id, r->chip_serial != NULL ? " (chip " : "",
                 r->chip_serial != NULL ? r->chip_serial : "", r->chip_serial != NULL ? ")" : "",
                 r->reason != NULL ? ": " : "");
        size_t used = strlen(detail);
        if (r->reason != NULL)
            snprintf(detail + used, sizeof detail - used, "%s", r->reason);
        rc = walk(u, s, &card, r, detail);
        msg.state = r->status == IDM_BUREAU_FAILED ? IDM_MESSAGE_FAILED : IDM_MESSAGE_SENT;
        msg.status = (int)r->status;
        if (r->reason != NULL) {
            free(msg.detail);
            msg.detail = strdup(r->reason);
        }
        msg.updated_ms = idm_ctx_clock_ms(u->x->ctx);
        if (rc == IDM_OK)
            rc = s->ops->message_update(s, &msg);
        if (rc == IDM_OK && r->status != IDM_BUREAU_IN_PRODUCTION)
            rc = idm_ext_settle(u->x, s, &card, r->status == IDM_BUREAU_PRODUCED
                                                    ? IDM_OUTCOME_PRODUCED
                                                    : IDM_OUTCOME_FAILED, detail);
        if (rc == IDM_OK && r->status != IDM_BUREAU_IN_PRODUCTION)
            idm_ext_touch(&u->touched, card.order_id);
        if (rc == IDM_OK && r->status == IDM_BUREAU_PRODUCED)
            rc = idm_ext_notify_record(u->x, s, u->actor, &card, IDM_NOTIFY_CARD_PRODUCED,
                                       &r->notification);
    }
    idm_card_rec_clear(&card);
    idm_message_rec_clear(&msg);
    return rc;
}

/* The idm_bureau_report_fn the producer calls: each report in a transaction
 * of its own, so one bad report never undoes the good ones. */
static int on_report(const char *message_id, idm_bureau_status status, const char *chip_serial,
                     const char *shipment, const char *reason, void *report_data)
{
    struct update_run *u = report_data;
    struct report r = {message_id, status, chip_serial, shipment, reason, 1, 0};
    struct idm_store *s;
    int rc = check_report_fields(message_id, status, chip_serial, shipment, reason);
    if (rc == IDM_OK)
        rc = idm_ctx_store(u->x->ctx, &s);
    if (rc == IDM_OK && (rc = s->ops->begin(s)) == IDM_OK) {
        rc = apply_report(u, s, &r);
        if (rc == IDM_OK)
            rc = s->ops->commit(s);
        else
            s->ops->rollback(s);
    }
    if (rc == IDM_OK && r.changed)
        u->applied++;
    if (rc != IDM_OK) {
        u->refused++;
        char words[1024];
        snprintf(words, sizeof words, "%s", idm_last_error_message());
        if (idm_ctx_store(u->x->ctx, &s) == IDM_OK)
            idm_audit_append_alone(u->x->ctx, s, u->actor, IDM_OBJECT_ORDER, 0,
                                   "bureau report refused: %s", words);
        idm_log_warning(u->x->ctx, "external", "bureau report refused: %s", words);
        idm_error_set(NULL, rc, "%s", words);
    }
    if (r.notification != 0) {
        idm_ext_notify_deliver(u->x, u->actor, r.notification, NULL);
        idm_error_clear();
    }
    return rc;
}

IDM_EXPORT int idm_external_update(idm_external_t *external, const char *actor, size_t *applied,
                                   size_t *refused)
{
    CHECK_DESK(external);
    if (applied != NULL)
        *applied = 0;
    if (refused != NULL)
        *refused = 0;
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    if (external->producer == NULL)
        return IDM_FAIL(IDM_ERR_STATE, "the desk has no producer to ask the bureau");
    struct idm_store *s;
    rc = idm_ctx_store(external->ctx, &s);
    /* The messages the library waits for, all of them, for producers that
     * ask the bureau one message at a time. */
    char **ids = NULL;
    size_t n = 0, cap = 0, got = 0;
    do {
        if (rc == IDM_OK && n + STATUS_PAGE > cap) {
            char **grown = realloc(ids, (cap + STATUS_PAGE) * sizeof *ids);
            if (grown == NULL)
                rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot list the awaited messages");
            else
                ids = grown, cap += STATUS_PAGE;
        }
        if (rc == IDM_OK)
            rc = s->ops->message_list_awaiting(s, n > 0 ? ids[n - 1] : "", STATUS_PAGE, ids + n,
                                               &got);
        if (rc == IDM_OK)
            n += got;
    } while (rc == IDM_OK && got == STATUS_PAGE);
    struct update_run u = {external, actor, 0, 0, {{0}, 0, 0}};
    if (rc == IDM_OK) {
        idm_backend_call_reset();
        rc = idm_producer_call_end(
            external->producer->ops.status((const char *const *)ids, n, on_report, &u,
                                           external->producer->user_data),
            "collect status reports");
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    idm_ext_complete_orders(external, actor, &u.touched);
    if (applied != NULL)
        *applied = u.applied;
    if (refused != NULL)
        *refused = u.refused;
    if (rc == IDM_OK)
        idm_log_info(external->ctx, "external", "%s updated from the bureau: %zu applied, %zu "
                     "refused", actor, u.applied, u.refused);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}
