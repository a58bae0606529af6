/*
 * The notifications of external production: "card ordered", "card
 * produced", "card activated".  A notification is recorded in the
 * transaction of the step that causes it and delivered after the commit;
 * a delivery that fails leaves it pending for idm_external_flush_
 * notifications() and is audited, and never fails the step.  The message
 * is composed when it is sent, from the card and its holder as they are
 * then, so the store holds no message text, and no PIN.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <idm/external.h>

#include "backends/notifier/notifier_impl.h"
#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "core/log.h"
#include "model/audit_impl.h"
#include "model/options_impl.h"
#include "model/text.h"
#include "store/store.h"
#include "workflow/external_impl.h"

#define CHECK_DESK(x) IDM_CHECK_HANDLE(x, IDM_MAGIC_EXTERNAL, "idm_external_t")
#define FLUSH_PAGE 256
#define BODY_MAX 2048
#define GREETING_NAME_MAX 256

/* The holder's e-mail address (option email_attribute), copied into
 * address; empty when the holder has none. */
static int holder_address(struct idm_store *s, int64_t identity_id, char *address, size_t size)
{
    address[0] = '\0';
    struct idm_optset *o = NULL;
    const char *key = NULL;
    int rc = idm_optset_load(s, &o);
    if (rc == IDM_OK)
        rc = idm_optset_string(o, "email_attribute", &key);
    if (rc == IDM_OK && key[0] != '\0') {
        struct idm_identity_rec rec;
        if ((rc = s->ops->identity_load(s, identity_id, &rec)) == IDM_OK) {
            const struct idm_attr *a = idm_attr_find(rec.attrs, rec.nattrs, key);
            if (a != NULL)
                snprintf(address, size, "%s", a->value);
            idm_identity_rec_clear(&rec);
        }
    }
    idm_optset_free(o);
    return rc;
}

int idm_ext_notify_record(idm_external_t *x, struct idm_store *s, const char *actor,
                          const struct idm_card_rec *card, idm_notification_kind kind,
                          int64_t *id)
{
    *id = 0;
    if (card->identity_id == 0)
        return IDM_OK; /* a card without a holder has nobody to tell */
    char address[IDM_ATTRIBUTE_VALUE_MAX + 1];
    int rc = holder_address(s, card->identity_id, address, sizeof address);
    if (rc != IDM_OK)
        return rc;
    struct idm_notification_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.card_id = card->id;
    rec.kind = (int)kind;
    rec.state = address[0] != '\0' ? IDM_NOTIFICATION_PENDING : IDM_NOTIFICATION_UNDELIVERABLE;
    rec.last_error = address[0] != '\0' ? NULL : (char *)"the holder has no e-mail address";
    rec.created_ms = rec.updated_ms = idm_ctx_clock_ms(x->ctx);
    rc = s->ops->notification_insert(s, &rec);
    if (rc == IDM_ERR_EXISTS) {
        idm_error_clear(); /* one notification of a kind per card */
        return IDM_OK;
    }
    if (rc == IDM_OK)
        rc = idm_audit_append(x->ctx, s, actor, IDM_OBJECT_CARD, card->id, NULL, NULL,
                              "notification n%" PRId64 " (%s) %s%s", rec.id,
                              idm_notification_kind_name(kind),
                              address[0] != '\0' ? "recorded for " : "undeliverable: ",
                              address[0] != '\0' ? address : rec.last_error);
    if (rc == IDM_OK && rec.state == IDM_NOTIFICATION_PENDING)
        *id = rec.id;
    return rc;
}

/* ---- the message -------------------------------------------------------- */

struct message {
    char to[IDM_ATTRIBUTE_VALUE_MAX + 1];
    char subject[256];
    char body[BODY_MAX];
};

static int compose(idm_external_t *x, struct idm_store *s, const struct idm_notification_rec *n,
                   const char *pin, struct message *m)
{
    struct idm_card_rec card;
    int rc = s->ops->card_load(s, n->card_id, &card);
    if (rc != IDM_OK)
        return rc;
    const char *cn = NULL;
    idm_identity_t *holder = NULL;
    rc = holder_address(s, card.identity_id, m->to, sizeof m->to);
    if (rc == IDM_OK && m->to[0] == '\0')
        rc = IDM_ERR(IDM_ERR_STATE, "the holder of card %s has no e-mail address", card.number);
    if (rc == IDM_OK && idm_identity_open(x->ctx, card.identity_id, &holder) == IDM_OK)
        (void)idm_identity_get_common_name(holder, &cn);
    if (rc != IDM_OK) {
        idm_identity_free(&holder);
        idm_card_rec_clear(&card);
        return rc;
    }
    const char *what = idm_card_option_name(card.option);
    /* A common name may be longer than the body (two attributes of 4096
     * bytes in the default template) or a mail line: the greeting keeps
     * GREETING_NAME_MAX bytes of it, cut between two characters. */
    const char *name = cn != NULL ? cn : "";
    size_t name_len = idm_utf8_cut(name, GREETING_NAME_MAX);
    int len = snprintf(m->body, sizeof m->body, "Hello %.*s,\n\n", (int)name_len, name);
    size_t used = len > 0 ? (size_t)len : 0;
    switch ((idm_notification_kind)n->kind) {
    case IDM_NOTIFY_CARD_ORDERED:
        snprintf(m->subject, sizeof m->subject, "Your card %s has been ordered", card.number);
        snprintf(m->body + used, sizeof m->body - used,
                 "your %s card %s (%s ID) has been ordered from the card production bureau.\n"
                 "You will be told when it has been produced.\n",
                 idm_card_type_name(card.type), card.number, what);
        break;
    case IDM_NOTIFY_CARD_PRODUCED:
        snprintf(m->subject, sizeof m->subject, "Your card %s has been produced", card.number);
        snprintf(m->body + used, sizeof m->body - used,
                 "your %s card %s (%s ID) has been produced%s%s.\n"
                 "It will be activated when you collect it.\n",
                 idm_card_type_name(card.type), card.number, what,
                 card.shipment != NULL ? " and shipped: " : "",
                 card.shipment != NULL ? card.shipment : "");
        break;
    case IDM_NOTIFY_CARD_ACTIVATED:
        snprintf(m->subject, sizeof m->subject, "Your card %s is active", card.number);
        len = snprintf(m->body + used, sizeof m->body - used,
                       "your %s card %s (%s ID) is active.\n", idm_card_type_name(card.type),
                       card.number, what);
        used += len > 0 ? (size_t)len : 0;
        if (pin != NULL)
            snprintf(m->body + used, sizeof m->body - used, "\nYour PIN: %s\n"
                     "Keep it secret and delete this message once you have it.\n", pin);
        else if (n->pin_lost)
            snprintf(m->body + used, sizeof m->body - used, "\nYour PIN could not be sent by "
                     "e-mail; ask your card operator to reset it.\n");
        break;
    default:
        rc = IDM_ERR(IDM_ERR_INTERNAL, "notification kind %d is unknown", n->kind);
    }
    idm_identity_free(&holder);
    idm_card_rec_clear(&card);
    return rc;
}

/* ---- delivery ----------------------------------------------------------- */

/* Records the outcome of one delivery, with its audit event. */
static void record_delivery(idm_external_t *x, struct idm_store *s, const char *actor,
                            int64_t id, const char *to, int result, const char *words,
                            int pin_given)
{
    struct idm_notification_rec n;
    int rc = s->ops->begin(s);
    if (rc == IDM_OK && (rc = s->ops->notification_load(s, id, &n)) == IDM_OK) {
        n.tries++;
        n.updated_ms = idm_ctx_clock_ms(x->ctx);
        if (result == IDM_OK) {
            n.state = IDM_NOTIFICATION_SENT;
        } else {
            /* The notifier calls the message itself wrong (a bad address,
             * say): trying again would fail again. */
            if (result == IDM_ERR_INVALID_ARG)
                n.state = IDM_NOTIFICATION_UNDELIVERABLE;
            free(n.last_error);
            n.last_error = strdup(words);
            n.pin_lost = n.pin_lost || pin_given;
        }
        rc = s->ops->notification_update(s, &n);
        if (rc == IDM_OK)
            rc = idm_audit_append(x->ctx, s, actor, IDM_OBJECT_CARD, n.card_id, NULL, NULL,
                                  result == IDM_OK ? "notification n%" PRId64 " (%s) sent to %s"
                                                   : "notification n%" PRId64 " (%s) to %s "
                                                     "failed (try %d): %s",
                                  id, idm_notification_kind_name((idm_notification_kind)n.kind),
                                  to, n.tries, words);
        idm_notification_rec_clear(&n);
    }
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    if (rc != IDM_OK)
        idm_log_error(x->ctx, "external", "cannot record the delivery of notification n%" PRId64
                      ": %s", id, idm_last_error_message());
}

void idm_ext_notify_deliver(idm_external_t *x, const char *actor, int64_t id, const char *pin)
{
    struct idm_store *s;
    if (x->notifier == NULL || idm_ctx_store(x->ctx, &s) != IDM_OK)
        return;
    struct idm_notification_rec n;
    if (s->ops->notification_load(s, id, &n) != IDM_OK)
        return;
    struct message *m = calloc(1, sizeof *m);
    char store_id[40], message_id[96];
    int rc = m != NULL ? IDM_OK : IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a message");
    if (rc == IDM_OK && n.state == IDM_NOTIFICATION_PENDING)
        rc = compose(x, s, &n, pin, m);
    if (rc == IDM_OK && n.state == IDM_NOTIFICATION_PENDING)
        rc = s->ops->store_id(s, store_id, sizeof store_id);
    if (rc == IDM_OK && n.state == IDM_NOTIFICATION_PENDING) {
        snprintf(message_id, sizeof message_id, "idm-%s-n%" PRId64, store_id, id);
        idm_backend_call_reset();
        rc = idm_notifier_call_end(x->notifier->ops.send(message_id,
                                                         (idm_notification_kind)n.kind, m->to,
                                                         m->subject, m->body,
                                                         x->notifier->user_data),
                                   "deliver a message");
    }
    if (n.state == IDM_NOTIFICATION_PENDING) {
        char words[512];
        snprintf(words, sizeof words, "%s", rc == IDM_OK ? "" : idm_last_error_message());
        if (rc != IDM_OK)
            idm_log_warning(x->ctx, "external", "notification n%" PRId64 ": %s", id, words);
        record_delivery(x, s, actor, id, m != NULL && m->to[0] != '\0' ? m->to : "nobody", rc,
                        words, pin != NULL);
    }
    if (m != NULL) {
        OPENSSL_cleanse(m, sizeof *m); /* it may have held a PIN */
        free(m);
    }
    idm_notification_rec_clear(&n);
    idm_error_clear();
}

IDM_EXPORT int idm_external_flush_notifications(idm_external_t *external, const char *actor,
                                                size_t *sent, size_t *pending)
{
    CHECK_DESK(external);
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    if (external->notifier == NULL)
        return IDM_FAIL(IDM_ERR_STATE, "the desk has no notifier to deliver with");
    struct idm_store *s;
    rc = idm_ctx_store(external->ctx, &s);
    int64_t ids[FLUSH_PAGE];
    int64_t after = 0;
    size_t n = 0, done = 0, left = 0;
    do {
        if (rc == IDM_OK)
            rc = s->ops->notification_list_pending(s, after, FLUSH_PAGE, ids, &n);
        for (size_t i = 0; rc == IDM_OK && i < n; i++) {
            idm_ext_notify_deliver(external, actor, ids[i], NULL);
            struct idm_notification_rec rec;
            if ((rc = s->ops->notification_load(s, ids[i], &rec)) == IDM_OK) {
                if (rec.state == IDM_NOTIFICATION_SENT)
                    done++;
                else
                    left++;
                idm_notification_rec_clear(&rec);
            }
            after = ids[i];
        }
    } while (rc == IDM_OK && n == FLUSH_PAGE);
    if (sent != NULL)
        *sent = done;
    if (pending != NULL)
        *pending = left;
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}
