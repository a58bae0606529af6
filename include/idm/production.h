/*
 * libidm - mass production of Physical ID and Digital ID cards.
 *
 * The seed's workflow, for a card production administrator: a production
 * order (<idm/order.h>) holds the cards; for each card the library checks
 * whether it is ready and skips it with the reason when it is not; for
 * Digital ID the CA issues the card's certificates, which go into the store
 * before they go onto the card; the card is produced and verified, and a
 * failure aborts the order; then the administrator says whether the order
 * is complete or there are more cards, and "more" starts again from the
 * readiness check.
 *
 * A station (idm_station_t) is one place where cards are produced: one
 * encoder, one CA, one name.  Interactive stations drive it step by step
 * (idm_station_next(), _issue(), _produce(), _verify(), _complete()); the
 * driver idm_production_run() runs the same steps in a loop and calls the
 * host's hooks around each.  Several stations (processes, or threads with
 * their own contexts) may work one order at once: each card is claimed in
 * the store by exactly one station.
 *
 * Crash safety: every step commits what it did before the next one touches
 * the card.  A process killed at any point leaves an order that a station
 * opened again under the same name (or any station, once the claim's lease
 * ran out) resumes: a half-personalized card is personalized again and the
 * certificates of the interrupted attempt are revoked (superseded); a card
 * recorded as issued is only counted.  When the half-personalized chip is
 * gone (a feeder ejects the card pcscd resets as the process dies), the
 * card, still approved, is personalized on the blank chip in the encoder
 * instead, its chip serial replaced in the store and audited.
 *
 * The ten processes are data: the five mass-produced card types times the
 * two options, each with its Nexus technical reference (idm_process_name()
 * in <idm/card.h>) and its steps (Physical ID has no CA step).
 *
 * Thread-safety: a station, with its order and the context they belong to,
 * is used by one thread at a time; several stations, each with its own
 * context, may work one order at once from different threads or processes.
 * Hooks run on the station's thread.
 */
#ifndef IDM_PRODUCTION_H
#define IDM_PRODUCTION_H

#include <stddef.h>
#include <stdint.h>

#include <idm/card.h>
#include <idm/encoder.h>
#include <idm/layout.h>
#include <idm/order.h>
#include <idm/printer.h>
#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The steps of a mass production process, as bits. */
typedef enum idm_production_step {
    IDM_STEP_READINESS = 0x01, /**< is the card ready? skipped if not */
    IDM_STEP_ISSUE = 0x02,     /**< the CA issues the card's certificates (Digital ID) */
    IDM_STEP_PRODUCE = 0x04,   /**< the card is encoded */
    IDM_STEP_VERIFY = 0x08,    /**< the card is read back and checked */
    IDM_STEP_COMPLETE = 0x10   /**< the order is complete, or there are more cards */
} idm_production_step;

/**
 * How many mass production processes there are (ten: five card types
 * times Physical ID and Digital ID).
 *
 * @return the count.
 * Thread-safety: safe to call from any thread.
 */
size_t idm_process_count(void);

/**
 * One mass production process by its index.
 *
 * @param index   0 .. idm_process_count() - 1.
 * @param type    receives the card type; may be NULL.
 * @param option  receives the option; may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG if index is out of range.
 * Thread-safety: safe to call from any thread.
 */
int idm_process_at(size_t index, idm_card_type *type, idm_card_option *option);

/**
 * The steps of the mass production process of a card type and option: an
 * OR of idm_production_step.  Digital ID has all five; Physical ID has no
 * IDM_STEP_ISSUE.
 *
 * @param type    a mass-produced card type (not IDM_CARD_TEMPORARY).
 * @param option  IDM_CARD_PHYSICAL or IDM_CARD_DIGITAL.
 * @param out     receives the steps.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 * Thread-safety: safe to call from any thread.
 */
int idm_process_steps(idm_card_type type, idm_card_option option, unsigned *out);

/* ---- a station: the step API ------------------------------------------ */

/**
 * The host's readiness question for a card that passed the built-in rules
 * (card approved and produced locally; a personal card's holder active; the
 * attributes the certificate and name templates need present; no other
 * issued or active card of the type unless allow_multiple_active_cards).
 *
 * @param card       the card; valid during the call.
 * @param why        where to write why the card is not ready (NUL-terminated;
 *                   recorded as the skip's reason).
 * @param size       room in why.
 * @param user_data  the pointer given with the hook.
 * @return 0 ready; 1 not ready (skipped); any other value cancels the
 *         step (IDM_ERR_CANCELLED; the card stays pending).
 */
typedef int (*idm_readiness_fn)(const idm_card_t *card, char *why, size_t size,
                                void *user_data);

/**
 * Opens a station on a mass production order.
 *
 * @param out      receives the station, owned by the caller.
 * @param order    an order of kind IDM_ORDER_MASS_PRODUCTION; the station
 *                 uses its context (one station per context and thread).
 *                 Not owned; must outlive the station.
 * @param name     the station's name in the claims of the store, 1..64
 *                 characters; copied.  A station that opens again under
 *                 the same name gets back the card it was working on.
 * @param encoder  the encoder; not owned; must outlive the station.
 * @param ca       the CA; required for Digital ID orders, may be NULL for
 *                 Physical ID; not owned; must outlive the station.
 * @return IDM_OK; IDM_ERR_INVALID_ARG (an external order, a bad name, a
 *         Digital ID order without a CA); IDM_ERR_STATE if no store is
 *         open; IDM_ERR_STORE; IDM_ERR_NO_MEMORY.
 * Thread-safety: a station is used by one thread at a time.
 */
int idm_station_open(idm_station_t **out, idm_order_t *order, const char *name,
                     idm_encoder_t *encoder, idm_ca_t *ca);

/**
 * How long the station's claim on a card holds against other stations
 * (a station that died keeps its cards that long).  The default is
 * 600,000 (ten minutes).
 *
 * @param station   the station.
 * @param lease_ms  1 .. 86,400,000.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_station_set_lease(idm_station_t *station, int64_t lease_ms);

/**
 * Sets the host's readiness hook (NULL removes it).
 *
 * @param station    the station.
 * @param fn         the hook, or NULL.
 * @param user_data  passed to the hook; not owned.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_station_set_readiness(idm_station_t *station, idm_readiness_fn fn, void *user_data);

/**
 * Gives the station a card printer (<idm/printer.h>): from the next card
 * on, the produce step first renders the card with layout to a PDF and
 * prints it as job "idm-<store>-c<card>-a<attempt>", then writes the
 * chip; the print is audited with the layout and the job.  A print that
 * fails fails the card and aborts the order, as any failure of the
 * produce step does, with the printer's words.  A card whose run died
 * after its print and before it was recorded as issued is printed again
 * when it is resumed (the job name shows the repeat).  Physical ID
 * production is print + encode; a Digital ID station may print too.
 *
 * @param station  the station, without a card in production.
 * @param printer  the printer, or NULL to stop printing; not owned; must
 *                 outlive the station (or the next call).
 * @param layout   the layout, required with a printer and NULL without
 *                 one; it must serve the order's card type; not owned;
 *                 must outlive the station (or the next call).
 * @return IDM_OK; IDM_ERR_INVALID_ARG (a layout that does not serve the
 *         order's card type, a layout without a printer or a printer
 *         without a layout); IDM_ERR_STATE with a card in production.
 */
int idm_station_set_printer(idm_station_t *station, idm_printer_t *printer,
                            const idm_layout_t *layout);

/**
 * Sets the group size: idm_station_next() checks and claims up to this
 * many ready cards in one store transaction and hands them out one by one,
 * which saves a commit per card where commits are dear.  Claimed cards
 * wait for this station; if it dies, other stations get them when the
 * lease runs out, and a station that opens again under its name takes
 * them back.  (Whatever the group, a card's certificates are issued and
 * committed in one transaction with the built-in CA.)  The default is 1.
 *
 * @param station  the station.
 * @param cards    1 .. 1,000.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_station_set_group(idm_station_t *station, size_t cards);

/**
 * Claims the next ready card.  Cards that are not ready are recorded as
 * skipped with their reason (idm_order_get_card_outcome()) and passed
 * over.  Starts an open order (-> running).
 *
 * @param station  the station.
 * @param actor    who works the station.
 * @param card     receives the claimed card (owned by the caller; free it
 *                 with idm_card_free() at any time), or NULL when the
 *                 order has no card left for this station (also when the
 *                 order was completed).
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if a card is still
 *         in production at this station or the order is aborted;
 *         IDM_ERR_CANCELLED if the readiness hook cancelled; IDM_ERR_STORE.
 */
int idm_station_next(idm_station_t *station, const char *actor, idm_card_t **card);

/**
 * Issue: opens the claimed card in the encoder and checks its chip; for
 * Digital ID generates the keys on the card and has the CA certify them,
 * every certificate committed to the store before anything is written to
 * the card.  Certificates an interrupted attempt left for the card are
 * revoked (superseded) first.
 *
 * A failure after the card was changed (the first key generation changes
 * it, so a CA that refuses counts) fails the card: it moves to failed,
 * the attempt's certificates are revoked, the order records the outcome
 * failed with the backend's words and is aborted.  A failure before that
 * (no card in the reader, the wrong card) lets the card go (pending) and
 * leaves the order running.  Either way the error is returned and audited.
 *
 * @param station  a station with a claimed card.
 * @param actor    who works the station.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE out of step order;
 *         the encoder's or CA's error (IDM_ERR_CARD, IDM_ERR_BACKEND,
 *         IDM_ERR_TIMEOUT, ...).
 */
int idm_station_issue(idm_station_t *station, const char *actor);

/**
 * Produce: with a printer (idm_station_set_printer()) the card's faces are
 * printed first; then certificates, CHUID, CCC (Digital ID), Printed
 * Information, PIN and PUK go onto the card.  A failure fails the card and aborts the order
 * as for idm_station_issue().
 *
 * @param station  a station whose card was issued.
 * @param actor    who works the station.
 * @return as idm_station_issue().
 */
int idm_station_produce(idm_station_t *station, const char *actor);

/**
 * Verify: PIN, every object read back, a signature per key.  Success
 * records the card as issued and its outcome produced, in one transaction,
 * then releases the card.  A failure fails the card and aborts the order
 * as for idm_station_issue().
 *
 * @param station  a station whose card was produced.
 * @param actor    who works the station.
 * @return as idm_station_issue(); IDM_ERR_INTEGRITY or IDM_ERR_CRYPTO when
 *         the card does not hold what was written.
 */
int idm_station_verify(idm_station_t *station, const char *actor);

/**
 * Lets go of the station's card, cleanly: the encoder session is closed,
 * the certificates of this attempt are revoked (cessationOfOperation), the
 * card stays approved and pending in the order for a later attempt, and
 * an audit event gives the reason.  Cards claimed ahead (group) are let go
 * too.  A no-op for a station without a card.
 *
 * @param station  the station.
 * @param actor    who cancels.
 * @param reason   why, for the audit; may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_station_cancel(idm_station_t *station, const char *actor, const char *reason);

/**
 * The administrator's answer once idm_station_next() found no card.
 *
 * more = 1: there are more cards to produce; the cards skipped so far are
 * checked again (they go back to pending), and cards added to the order
 * since (idm_order_add_cards()) are produced too.  more = 0: the order is
 * complete (-> completed), with its counts in the audit; a completed order
 * stays so.
 *
 * @param station  a station without a card in production.
 * @param actor    who answers.
 * @param more     0 complete, 1 more.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if a card is in
 *         production here, or (complete) cards are still pending or
 *         claimed, or the order is aborted; IDM_ERR_STORE.
 */
int idm_station_complete(idm_station_t *station, const char *actor, int more);

/**
 * Frees a station and sets *station to NULL.  NULL-safe.  A card in the
 * middle of its steps is left as a killed process would leave it: the
 * claim holds until the lease runs out, and the next attempt personalizes
 * it again.  Call idm_station_cancel() first to let it go at once.
 *
 * @param station  address of the caller's pointer.
 */
void idm_station_free(idm_station_t **station);

/* ---- the driver ------------------------------------------------------- */

/** The version of idm_production_hooks these headers describe. */
#define IDM_PRODUCTION_HOOKS_VERSION 1

/**
 * The host's hooks for idm_production_run().  Every hook is optional.  A
 * hook returns 0 to go on; any other value cancels the run cleanly: the
 * card in hand is let go as by idm_station_cancel() and the run returns
 * IDM_ERR_CANCELLED.  user_data is the pointer given to the run.
 *
 * Hooks run in the station's thread and may call the library with the
 * station's context (read a card, an identity, the order's counts).  Only
 * the readiness hook of a station with a group larger than one card runs
 * inside the store transaction of the group's claims: it must not wait for
 * a write through another context or process on the same store.
 */
typedef struct idm_production_hooks {
    uint32_t version; /**< IDM_PRODUCTION_HOOKS_VERSION */
    uint32_t size;    /**< sizeof(idm_production_hooks) as the host compiled it */
    /** Readiness, as idm_readiness_fn (0 ready, 1 skip with why, other: cancel). */
    int (*ready)(const idm_card_t *card, char *why, size_t size, void *user_data);
    /** Before the issue step (Digital ID only: Physical ID has no CA step). */
    int (*before_issue)(const idm_card_t *card, void *user_data);
    /** After the issue step (Digital ID only). */
    int (*after_issue)(const idm_card_t *card, void *user_data);
    /** Before the card is produced (e.g. the printer takes the blank). */
    int (*produce)(const idm_card_t *card, void *user_data);
    /** Before the card is verified. */
    int (*verify)(const idm_card_t *card, void *user_data);
    /** No card is left for this station: set *more to 1 for "more cards"
     *  (skipped cards are checked again and the loop starts again from the
     *  readiness check), leave it 0 for "complete".  Without this hook the
     *  order is completed.  With several stations it is asked of each, also
     *  while others still produce their last cards; "complete" then only
     *  ends this station's run, and a hook that always answers "more" keeps
     *  the station looking. */
    int (*complete_or_more)(const idm_order_t *order, int *more, void *user_data);
    /** After each card: its id, its outcome in the order (produced or
     *  skipped), and the order with its counts (idm_order_count_cards()). */
    int (*progress)(const idm_order_t *order, int64_t card_id,
                    idm_order_card_outcome outcome, void *user_data);
} idm_production_hooks;

/** A hooks table with the version and size set and no hooks. */
#define IDM_PRODUCTION_HOOKS_INIT \
    {IDM_PRODUCTION_HOOKS_VERSION, (uint32_t)sizeof(idm_production_hooks), 0, 0, 0, 0, 0, 0, 0}

/**
 * Runs the mass production loop on a station until the order is complete:
 * next ready card, [before_issue] issue [after_issue], [produce] produce,
 * [verify] verify, [progress]; when no card is left, [complete_or_more].
 * Built on the step API; the station's readiness hook is replaced by the
 * table's for the run.
 *
 * @param station     the station; no card in production.
 * @param actor       who runs it.
 * @param hooks       the hooks, or NULL for none; copied (min(hooks_size,
 *                    the library's size) bytes into a zeroed table).
 * @param hooks_size  sizeof the host's table.
 * @param user_data   passed to every hook; not owned.
 * @return IDM_OK when the order is completed, or when, with several
 *         stations on the order, no card is left to claim and the others
 *         are still producing theirs (the last station to finish
 *         completes the order; see idm_order_get_state());
 *         IDM_ERR_CANCELLED when a hook cancelled (the message names the
 *         hook and the card); a step's error when a card failed (the
 *         order is then aborted) or a card could not start (it stays
 *         pending; the order running);
 *         IDM_ERR_INVALID_ARG; IDM_ERR_UNSUPPORTED for an unknown hooks
 *         version.
 */
int idm_production_run(idm_station_t *station, const char *actor,
                       const idm_production_hooks *hooks, size_t hooks_size, void *user_data);

#ifdef __cplusplus
}
#endif

#endif /* IDM_PRODUCTION_H */
