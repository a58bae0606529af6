/*
 * libidm - external production: ordering cards from a production bureau.
 *
 * The second workflow of the seed ("Order card (external production)",
 * CardsAddonExtProdProcOrder).  It is disabled by default: set the option
 * external_production_enabled.  A card moves through the external graph of
 * <idm/card.h>:
 *
 *   order      registered -> requested            (external_approval_step)
 *              registered | requested -> processing (queue_orders, or on
 *                                                  its way to the bureau)
 *   send       processing -> ordered | failed     (the producer's answer)
 *   bureau     ordered -> in_production -> produced | failed
 *   repeat     failed -> processing               (idm_card_set_state())
 *   abort      processing -> aborted
 *   activate   produced -> active                 (encoded at activation)
 *
 * Temporary cards (1..temporary_cards_per_order per order, non-personal)
 * take the same path to produced, are initialized to unassigned, and are
 * then assigned to and withdrawn from identities.
 *
 * Each order is an idm_order_t of kind IDM_ORDER_EXTERNAL holding its
 * cards and a snapshot of the options, so changing an option never alters
 * an order in flight.  A card ordered without the queue passes through
 * processing on its way to the bureau; the message is recorded before the
 * producer is called (see <idm/producer.h>), so a process killed there
 * leaves a processing card that the next idm_external_sync_queue() sends
 * with the same message id.
 *
 * Notifications ("card ordered" when send_card_ordered_email is on, "card
 * produced", "card activated") are recorded with the step and delivered
 * after it; see <idm/notifier.h>.
 *
 * Thread-safety: an idm_external_t, like its context, is used by one thread
 * at a time; several processes may work on one store.
 */
#ifndef IDM_EXTERNAL_H
#define IDM_EXTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <idm/ca.h>
#include <idm/card.h>
#include <idm/encoder.h>
#include <idm/notifier.h>
#include <idm/order.h>
#include <idm/producer.h>
#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The external production desk: a context with its producer and notifier. */
typedef struct idm_external idm_external_t;

/**
 * Receives the outcome of one identity of a batch order.
 *
 * @param index        the identity's position in the batch.
 * @param identity_id  the identity.
 * @param result       IDM_OK when a card was ordered (or queued, or waits
 *                     for approval), else the error that refused it.
 * @param card_id      the new card, or 0 when refused.
 * @param state        the card's state (requested, processing, ordered or
 *                     failed); meaningless when refused.
 * @param reason       why it was refused or failed (the library's detail
 *                     message), or NULL; valid during the call.
 * @param user_data    the pointer given with the callback.
 */
typedef void (*idm_external_result_fn)(size_t index, int64_t identity_id, int result,
                                       int64_t card_id, idm_card_state state,
                                       const char *reason, void *user_data);

/**
 * Opens the external production desk of a context.
 *
 * @param out       receives the desk, owned by the caller.
 * @param ctx       a context with an open store; borrowed, must outlive the desk.
 * @param producer  the bureau; borrowed, may be NULL (queueing, approval and
 *                  abort need none; sending and status updates fail with
 *                  IDM_ERR_STATE until one is given).
 * @param notifier  the e-mail channel; borrowed, may be NULL (notifications
 *                  are recorded and wait until a desk with a notifier
 *                  flushes them).
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if no store is open;
 *         IDM_ERR_NO_MEMORY.
 */
int idm_external_new(idm_external_t **out, idm_ctx_t *ctx, idm_producer_t *producer,
                     idm_notifier_t *notifier);

/**
 * Releases a desk and sets *external to NULL.  NULL-safe.  The context,
 * producer and notifier stay the caller's.
 *
 * @param external  address of the caller's pointer.
 */
void idm_external_free(idm_external_t **external);

/**
 * Orders a card for one identity ("Order card"), in one order of its own.
 * The identity must be active; its common name and UPN are derived; with
 * the approval step the card waits in requested, otherwise it is queued
 * (processing) or sent to the bureau at once (ordered, or failed with the
 * producer's words when the bureau refuses it).
 *
 * @param external    the desk.
 * @param actor       the operator; recorded as the requester.
 * @param identity_id the holder.
 * @param type        employee, contractor or visitor.
 * @param option      Physical ID or Digital ID.
 * @param production  IDM_PRODUCTION_EXTERNAL; IDM_PRODUCTION_LOCAL only when
 *                    production_type_selectable is on (the card then is a
 *                    local request: requested, or approved without
 *                    request_approval, for mass production).
 * @param out         receives the card, owned by the caller; may be NULL.
 * @return IDM_OK (also when the bureau refused: the card is failed and the
 *         detail message says why); IDM_ERR_DISABLED naming the option when
 *         external production is off or the production type is not
 *         selectable; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND (identity);
 *         IDM_ERR_STATE if the identity is not active or, without
 *         allow_multiple_orders, already has an open order for the type,
 *         or a card must be sent and the desk has no producer;
 *         IDM_ERR_STORE.  On an error nothing was created.
 */
int idm_external_order_card(idm_external_t *external, const char *actor, int64_t identity_id,
                            idm_card_type type, idm_card_option option,
                            idm_production production, idm_card_t **out);

/**
 * Orders cards for a list of identities in one batch order.  Each identity
 * is handled as idm_external_order_card() would (with production external)
 * and reported to the callback; one refused identity does not stop the
 * others.
 *
 * @param external      the desk.
 * @param actor         the operator.
 * @param identity_ids  the holders; an identity listed twice is refused the
 *                      second time unless allow_multiple_orders is on.
 * @param count         1..100000.
 * @param type          employee, contractor or visitor.
 * @param option        Physical ID or Digital ID.
 * @param report        receives each identity's outcome; may be NULL.
 * @param user_data     passed to report.
 * @param order         receives the batch order, owned by the caller; may
 *                      be NULL.
 * @return IDM_OK when every identity was handled (some may be refused);
 *         IDM_ERR_DISABLED; IDM_ERR_INVALID_ARG; IDM_ERR_STORE (the
 *         identities reported so far keep their cards).
 */
int idm_external_order_batch(idm_external_t *external, const char *actor,
                             const int64_t *identity_ids, size_t count, idm_card_type type,
                             idm_card_option option, idm_external_result_fn report,
                             void *user_data, idm_order_t **order);

/**
 * Approves a requested card (approval step): an external card goes on to
 * processing or the bureau as its order's options say; a local card (see
 * production_type_selectable) moves to approved.
 *
 * @param external  the desk.
 * @param actor     the approver; not the actor who requested the card.
 * @param card      a card in requested; reloaded on return.
 * @return IDM_OK; IDM_ERR_INVALID_ARG (also when actor requested the card);
 *         IDM_ERR_STATE (not requested, or no producer to send it);
 *         IDM_ERR_STORE.
 */
int idm_external_approve(idm_external_t *external, const char *actor, idm_card_t *card);

/**
 * Rejects a requested card: it moves to rejected (final).
 *
 * @param external  the desk.
 * @param actor     the approver; not the actor who requested the card.
 * @param card      a card in requested; reloaded on return.
 * @param reason    recorded in the audit trail (UTF-8, one line, at most
 *                  1024 bytes), or NULL.
 * @return as idm_external_approve().
 */
int idm_external_reject(idm_external_t *external, const char *actor, idm_card_t *card,
                        const char *reason);

/**
 * Aborts a card order while it waits in the queue: processing -> aborted.
 * A card whose message may already have reached the bureau (a send that
 * was interrupted) is withdrawn with the producer's cancel method first.
 *
 * @param external  the desk.
 * @param actor     the operator.
 * @param card      a card in processing; reloaded on return.
 * @param reason    recorded in the audit trail (UTF-8, one line, at most
 *                  1024 bytes), or NULL.
 * @return IDM_OK; IDM_ERR_STATE naming the card and its state when it is
 *         not in processing, or when its message may be at the bureau and
 *         the producer cannot cancel it; IDM_ERR_BACKEND (cancel failed);
 *         IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_external_abort(idm_external_t *external, const char *actor, idm_card_t *card,
                       const char *reason);

/**
 * Sends every queued card (state processing) to the bureau: the scheduled
 * batch sync of the seed.  Cards go in batches of batch_size: the batch's
 * messages are recorded in one transaction, submitted one by one, and the
 * answers recorded in one transaction: ordered, or failed with the
 * producer's words (the operator repeats a failed card by moving it back
 * to processing).  Running it again after a crash submits the messages of
 * the interrupted batch again, with the same ids.
 *
 * @param external    the desk, with a producer.
 * @param actor       who runs the sync.
 * @param batch_size  1..1000 cards per batch.
 * @param sent        receives how many cards were ordered; may be NULL.
 * @param failed      receives how many the producer refused; may be NULL.
 * @return IDM_OK (also when cards failed); IDM_ERR_STATE without a
 *         producer; IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_external_sync_queue(idm_external_t *external, const char *actor, size_t batch_size,
                            size_t *sent, size_t *failed);

/**
 * Updates card orders from the bureau ("Update card order"): asks the
 * producer for the status of every ordered or in-production card and
 * applies each report: in_production, produced (the chip serial the bureau
 * read and the shipment data are stored) or failed.  A report that repeats
 * one already applied, or comes late for a stage the order has passed
 * ("in_production" after "produced"), changes nothing and is accepted; a
 * report for an unknown message, a withdrawn or superseded attempt, or one
 * that contradicts the card ("produced" with another chip, "failed" after
 * "produced") is refused (the producer sets it aside) and changes nothing.
 *
 * @param external  the desk, with a producer.
 * @param actor     who runs the update.
 * @param applied   receives how many reports changed a card; may be NULL.
 * @param refused   receives how many reports were refused; may be NULL.
 * @return IDM_OK; IDM_ERR_STATE without a producer; IDM_ERR_BACKEND (or the
 *         producer's own code) when the bureau could not be asked;
 *         IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_external_update(idm_external_t *external, const char *actor, size_t *applied,
                        size_t *refused);

/**
 * Activates a produced card: the card in the encoder is personalized (keys
 * generated on it, certificates from the CA, CHUID, PIN and PUK as the
 * options pin_source and pin_length say) and verified, and the card moves
 * to active with its certificates valid.  The chip must be the one the
 * bureau reported.  On a failure after the card was written to, the
 * attempt's certificates are revoked and the card stays produced, so
 * activation can be repeated.
 *
 * @param external  the desk.
 * @param actor     who activates.
 * @param card      a produced personal card; reloaded on return.
 * @param encoder   the encoder holding the card, with PIN callbacks.
 * @param ca        the CA for a Digital ID card; NULL for Physical ID.
 * @return IDM_OK; the errors of idm_card_personalize(); IDM_ERR_STATE when
 *         the card is not produced or is temporary.
 */
int idm_external_activate(idm_external_t *external, const char *actor, idm_card_t *card,
                          idm_encoder_t *encoder, idm_ca_t *ca);

/**
 * Orders temporary cards: count non-personal cards named "<name> <i>" in one
 * order, queued or sent to the bureau as the options say.
 *
 * @param external  the desk.
 * @param actor     the operator.
 * @param option    Physical ID or Digital ID.
 * @param count     1..temporary_cards_per_order (at most 9).
 * @param name      the cards' name (UTF-8, one line, at most 200 bytes),
 *                  e.g. "Temporary card"; copied.
 * @param order     receives the order, owned by the caller; may be NULL.
 * @return IDM_OK; IDM_ERR_DISABLED; IDM_ERR_INVALID_ARG (count above the
 *         option names it); IDM_ERR_STATE (no producer to send them);
 *         IDM_ERR_STORE.
 */
int idm_external_order_temporary(idm_external_t *external, const char *actor,
                                 idm_card_option option, size_t count, const char *name,
                                 idm_order_t **order);

/**
 * Initializes a produced temporary card: the encoder writes the profile,
 * keys and certificates (Digital ID), PIN and PUK; the card moves to
 * unassigned with its certificates on hold.  Failures as for
 * idm_external_activate().
 *
 * @param external  the desk.
 * @param actor     who initializes.
 * @param card      a produced temporary card; reloaded on return.
 * @param encoder   the encoder holding the card, with PIN callbacks.
 * @param ca        the CA for a Digital ID card; NULL for Physical ID.
 * @return as idm_external_activate().
 */
int idm_external_initialize_temporary(idm_external_t *external, const char *actor,
                                      idm_card_t *card, idm_encoder_t *encoder, idm_ca_t *ca);

/**
 * Assigns an unassigned temporary card to an active identity: the card
 * moves to assigned and its certificates become valid.
 *
 * @param external     the desk.
 * @param actor        the operator.
 * @param card         an unassigned temporary card; reloaded on return.
 * @param identity_id  the identity that borrows it.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND (identity);
 *         IDM_ERR_STATE (card not unassigned, identity not active);
 *         IDM_ERR_STORE.
 */
int idm_external_assign(idm_external_t *external, const char *actor, idm_card_t *card,
                        int64_t identity_id);

/**
 * Withdraws an assigned temporary card from its identity: it moves back to
 * unassigned and its certificates go on hold.
 *
 * @param external  the desk.
 * @param actor     the operator.
 * @param card      an assigned temporary card; reloaded on return.
 * @param reason    recorded in the audit trail (UTF-8, one line, at most
 *                  1024 bytes), or NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE; IDM_ERR_STORE.
 */
int idm_external_withdraw(idm_external_t *external, const char *actor, idm_card_t *card,
                          const char *reason);

/**
 * Delivers the notifications still pending (their earlier delivery failed,
 * or they were recorded without a notifier).  A failure is audited and the
 * notification stays pending.
 *
 * @param external  the desk, with a notifier.
 * @param actor     recorded in the audit trail.
 * @param sent      receives how many were delivered; may be NULL.
 * @param pending   receives how many are still pending; may be NULL.
 * @return IDM_OK (also when deliveries failed); IDM_ERR_STATE without a
 *         notifier; IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_external_flush_notifications(idm_external_t *external, const char *actor,
                                     size_t *sent, size_t *pending);

/**
 * The shipment data the bureau reported for a card.
 *
 * @param card  the card.
 * @param out   receives the text, or NULL while unknown; owned by the handle.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_shipment(const idm_card_t *card, const char **out);

/**
 * Who ordered or requested the card (external production).
 *
 * @param card  the card.
 * @param out   receives the actor, or NULL; owned by the handle.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_requester(const idm_card_t *card, const char **out);

#ifdef __cplusplus
}
#endif

#endif /* IDM_EXTERNAL_H */
