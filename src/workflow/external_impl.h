/*
 * External production inside the library: the desk, and what its parts
 * (external.c: ordering, approval, abort; bureau.c: sending and status
 * reports; external_cards.c: activation and temporary cards; notify.c:
 * notifications) need of each other.  Errors carry no function name.
 */
#ifndef IDM_WORKFLOW_EXTERNAL_IMPL_H
#define IDM_WORKFLOW_EXTERNAL_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <idm/external.h>

#include "model/records.h"

struct idm_store;
struct idm_optset;

struct idm_external {
    uint32_t magic; /* IDM_MAGIC_EXTERNAL */
    idm_ctx_t *ctx;
    idm_producer_t *producer; /* borrowed, may be NULL */
    idm_notifier_t *notifier; /* borrowed, may be NULL */
};

/* How long a reason an operator gives (reject, abort, withdraw) may be. */
#define IDM_EXT_REASON_MAX 1024

/* Checks that card is a live card handle of the desk's context (a card of
 * another store with the same id must not stand in for it); errors name
 * func. */
int idm_ext_check_card(const char *func, const idm_external_t *x, const idm_card_t *card);

/* The option snapshot of an order. */
int idm_ext_order_options(struct idm_store *s, int64_t order_id, struct idm_optset **out);

/* Inside the caller's transaction: the card's outcome in its order
 * (<idm/order.h>): produced, skipped (aborted, rejected) or failed with a
 * reason, or pending again when it is sent once more. */
int idm_ext_settle(idm_external_t *x, struct idm_store *s, const struct idm_card_rec *card,
                   idm_order_card_outcome outcome, const char *reason);

/* The orders whose cards a call touched, to complete those that are done. */
struct idm_ext_touched {
    int64_t ids[16];
    size_t n;
    int overflow; /* more than fit: every running external order is checked */
};

void idm_ext_touch(struct idm_ext_touched *t, int64_t order_id);

/* After the commit: completes each touched order none of whose cards is
 * pending or failed any more.  Failures are logged, not returned. */
void idm_ext_complete_orders(idm_external_t *x, const char *actor,
                             const struct idm_ext_touched *t);

/* ---- bureau.c ---------------------------------------------------------- */

/* Sends the cards ids[0..n) that are in processing as one batch (cards in
 * any other state are left alone): messages recorded in one transaction,
 * submitted, answers recorded in one transaction.  Adds to *sent and
 * *failed.  Runs its own transactions: never call it inside one. */
int idm_ext_send(idm_external_t *x, const char *actor, const int64_t *ids, size_t n,
                 size_t *sent, size_t *failed);

/* ---- notify.c ---------------------------------------------------------- */

/* Inside the caller's transaction: records a notification of kind about
 * card for its holder (cards without a holder get none; a holder without
 * an address gets an undeliverable one, audited).  *id receives the
 * notification to deliver after the commit, or 0. */
int idm_ext_notify_record(idm_external_t *x, struct idm_store *s, const char *actor,
                          const struct idm_card_rec *card, idm_notification_kind kind,
                          int64_t *id);

/* After the commit: delivers notification id if the desk has a notifier.
 * pin, when not NULL, goes into the message (PIN delivery by e-mail); if
 * the delivery fails it is marked lost.  A failure is audited and the
 * notification stays pending; nothing is returned. */
void idm_ext_notify_deliver(idm_external_t *x, const char *actor, int64_t id, const char *pin);

#endif /* IDM_WORKFLOW_EXTERNAL_IMPL_H */
