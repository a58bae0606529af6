/*
 * libidm - production orders.
 *
 * An order is a batch of cards of one type and option moving through one
 * workflow: mass production or external ordering.  It takes a snapshot of
 * the option set when it is created and answers option questions from that
 * snapshot for its whole life.
 *
 * States: open -> running | aborted*;  running -> completed* | aborted* | open
 * (* = final; running -> open pauses a run that will resume).
 *
 * Thread-safety: an order handle or iterator belongs to the context it came
 * from and is used, like that context, by one thread at a time
 * (<idm/context.h>).
 */
#ifndef IDM_ORDER_H
#define IDM_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include <idm/buffer.h>
#include <idm/card.h>
#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The workflow an order runs. */
typedef enum idm_order_kind {
    IDM_ORDER_MASS_PRODUCTION = 0, /**< local mass production */
    IDM_ORDER_EXTERNAL = 1         /**< ordering from a production bureau */
} idm_order_kind;

/** Order states. */
typedef enum idm_order_state {
    IDM_ORDER_OPEN = 0,
    IDM_ORDER_RUNNING = 1,
    IDM_ORDER_COMPLETED = 2,
    IDM_ORDER_ABORTED = 3
} idm_order_state;

/** What happened to a card of an order. */
typedef enum idm_order_card_outcome {
    IDM_OUTCOME_PENDING = 0,  /**< not produced yet (or let go to be tried again) */
    IDM_OUTCOME_CLAIMED = 1,  /**< a station works on it */
    IDM_OUTCOME_PRODUCED = 2, /**< personalized and verified */
    IDM_OUTCOME_SKIPPED = 3,  /**< not ready; the reason says why */
    IDM_OUTCOME_FAILED = 4    /**< production failed; the reason has the backend's words */
} idm_order_card_outcome;

/**
 * Name of an order kind: "mass_production" or "external"; "unknown" otherwise.
 *
 * @param kind  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_order_kind_name(idm_order_kind kind);

/**
 * Name of an order state: "open", "running", "completed", "aborted";
 * "unknown" otherwise.
 *
 * @param state  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_order_state_name(idm_order_state state);

/**
 * Name of a card's outcome in an order: "pending", "claimed", "produced",
 * "skipped", "failed"; "unknown" otherwise.
 *
 * @param outcome  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_order_card_outcome_name(idm_order_card_outcome outcome);

/**
 * Creates an open order and snapshots the current option set into it.
 *
 * @param ctx          a context with an open store.
 * @param actor        who creates it.
 * @param kind         mass production or external.
 * @param type         the type of the order's cards.
 * @param option       the option of the order's cards.
 * @param external_id  the host's key for the order, unique, or NULL.  Copied.
 * @param out          receives the order, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_EXISTS if external_id is
 *         taken; IDM_ERR_STATE if no store is open; IDM_ERR_STORE.
 */
int idm_order_new(idm_ctx_t *ctx, const char *actor, idm_order_kind kind, idm_card_type type,
                  idm_card_option option, const char *external_id, idm_order_t **out);

/**
 * Loads an order by its id.
 *
 * @param ctx  a context with an open store.
 * @param id   the order's id.
 * @param out  receives the order, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND; IDM_ERR_STATE if
 *         no store is open; IDM_ERR_STORE.
 */
int idm_order_open(idm_ctx_t *ctx, int64_t id, idm_order_t **out);

/**
 * Loads an order by the host's external id.
 *
 * @param ctx          a context with an open store.
 * @param external_id  the external id given at creation.
 * @param out          receives the order, owned by the caller.
 * @return as idm_order_open().
 */
int idm_order_open_external(idm_ctx_t *ctx, const char *external_id, idm_order_t **out);

/**
 * Reloads an order from the store.
 *
 * @param order  the order.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND; IDM_ERR_STORE.
 */
int idm_order_refresh(idm_order_t *order);

/**
 * Releases an order handle and sets *order to NULL.  NULL-safe.
 *
 * @param order  address of the caller's pointer.
 */
void idm_order_free(idm_order_t **order);

/**
 * The order's id in the store.
 *
 * @param order  the order.
 * @param out    receives the id (> 0).
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_order_get_id(const idm_order_t *order, int64_t *out);

/**
 * The host's external id.
 *
 * @param order  the order.
 * @param out    receives the external id or NULL; owned by the handle.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_order_get_external_id(const idm_order_t *order, const char **out);

/**
 * The order's kind.
 *
 * @param order  the order.
 * @param out    receives the kind.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_order_get_kind(const idm_order_t *order, idm_order_kind *out);

/**
 * The type and option of the order's cards.
 *
 * @param order   the order.
 * @param type    receives the card type; may be NULL.
 * @param option  receives the card option; may be NULL.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_order_get_card_kind(const idm_order_t *order, idm_card_type *type,
                            idm_card_option *option);

/**
 * The order's state.
 *
 * @param order  the order.
 * @param out    receives the state.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_order_get_state(const idm_order_t *order, idm_order_state *out);

/**
 * Version of the option set the order snapshotted.
 *
 * @param order  the order.
 * @param out    receives the version (see idm_options_get_version()).
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_order_get_options_version(const idm_order_t *order, int64_t *out);

/**
 * Reads a boolean option from the order's snapshot.
 *
 * @param order  the order.
 * @param key    the option's key (<idm/options.h>).
 * @param out    receives 0 or 1.
 * @return IDM_OK; IDM_ERR_INVALID_ARG for bad arguments, an unknown key or
 *         a key of another type.
 */
int idm_order_get_option_bool(const idm_order_t *order, const char *key, int *out);

/**
 * Reads an integer option from the order's snapshot.
 *
 * @param order  the order.
 * @param key    the option's key.
 * @param out    receives the value.
 * @return as idm_order_get_option_bool().
 */
int idm_order_get_option_int(const idm_order_t *order, const char *key, int64_t *out);

/**
 * Reads a string option from the order's snapshot.
 *
 * @param order  the order.
 * @param key    the option's key.
 * @param out    receives the value, owned by the handle.
 * @return as idm_order_get_option_bool().
 */
int idm_order_get_option_string(const idm_order_t *order, const char *key, const char **out);

/**
 * Moves the order to another state, in one transaction with its audit event.
 *
 * @param order   the order.
 * @param actor   who makes the change.
 * @param to      the new state.
 * @param detail  a reason for the audit, or NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if the move is not
 *         legal (the message names the order, its state and the attempted
 *         one); IDM_ERR_STORE.
 */
int idm_order_set_state(idm_order_t *order, const char *actor, idm_order_state to,
                        const char *detail);

/**
 * Adds a card to an order that is open, or running (a mass production
 * order takes more cards while it runs: see idm_station_complete()).
 * Audited.
 *
 * @param order    the order, open or running.
 * @param actor    who adds it.
 * @param card_id  a card of the order's type and option that is in no
 *                 other order that is still open or running (a card of a
 *                 completed or aborted order, e.g. one that failed there,
 *                 may join a new order, unless it was produced: issued or
 *                 later).  Adding it again is a no-op.
 * @return IDM_OK; IDM_ERR_INVALID_ARG if the card does not fit the order;
 *         IDM_ERR_NOT_FOUND; IDM_ERR_STATE if the order is completed or
 *         aborted, the card is in another open or running order, or (mass
 *         production) the card was produced already; IDM_ERR_STORE.
 */
int idm_order_add_card(idm_order_t *order, const char *actor, int64_t card_id);

/**
 * Adds several cards, all or none, in one transaction (as
 * idm_order_add_card() for each; the message of a refusal names the card).
 *
 * @param order     the order, open or running.
 * @param actor     who adds them.
 * @param card_ids  the cards' ids.
 * @param count     how many (1 .. 100,000).
 * @return as idm_order_add_card().
 */
int idm_order_add_cards(idm_order_t *order, const char *actor, const int64_t *card_ids,
                        size_t count);

/**
 * Adds every card of the order's type and option that is approved, produced
 * locally and in no other open or running order, in card id order, in one
 * transaction.  For "all approved cards of a type", create one order per
 * option and call this on each.
 *
 * @param order  the order, open or running, of kind mass production.
 * @param actor  who adds them.
 * @param max    at most this many cards; 0 for no limit.
 * @param added  receives how many were added; may be NULL.
 * @return IDM_OK (also when none was found); IDM_ERR_INVALID_ARG for an
 *         external order; IDM_ERR_STATE if the order is completed or
 *         aborted; IDM_ERR_STORE.
 */
int idm_order_add_approved(idm_order_t *order, const char *actor, size_t max, size_t *added);

/**
 * How many of the order's cards have an outcome, read from the store.
 *
 * @param order    the order.
 * @param outcome  the outcome.
 * @param out      receives the count.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_order_count_cards(const idm_order_t *order, idm_order_card_outcome outcome,
                          int64_t *out);

/**
 * A card's outcome in the order, read from the store.
 *
 * @param order    the order.
 * @param card_id  a card of the order.
 * @param outcome  receives the outcome; may be NULL.
 * @param attempt  receives how many times a station claimed the card; may
 *                 be NULL.
 * @param reason   receives the reason of a skip or a failure (UTF-8, no
 *                 NUL; empty for none); may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND if the card is
 *         not in the order; IDM_ERR_STORE.
 */
int idm_order_get_card_outcome(const idm_order_t *order, int64_t card_id,
                               idm_order_card_outcome *outcome, int *attempt,
                               idm_buffer_t *reason);

/**
 * Keeps only the cards that have an outcome in one order: with it a card
 * iterator lists, for example, an order's skipped cards.
 *
 * @param iter      a card iterator (<idm/card.h>), not yet started.
 * @param order_id  the order's id (> 0).
 * @param outcome   the outcome.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE once iteration began.
 */
int idm_card_iter_set_order_outcome(idm_card_iter_t *iter, int64_t order_id,
                                    idm_order_card_outcome outcome);

/**
 * Starts an iteration over the stored orders, in id order.
 *
 * @param ctx  a context with an open store.
 * @param out  receives the iterator, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if no store is open;
 *         IDM_ERR_NO_MEMORY.
 */
int idm_order_iter_new(idm_ctx_t *ctx, idm_order_iter_t **out);

/**
 * Keeps only orders in one state.
 *
 * @param iter   the iterator, not yet started.
 * @param state  the state.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE once iteration began.
 */
int idm_order_iter_set_state(idm_order_iter_t *iter, idm_order_state state);

/**
 * Keeps only orders whose cards have one type.
 *
 * @param iter  the iterator, not yet started.
 * @param type  the card type.
 * @return as idm_order_iter_set_state().
 */
int idm_order_iter_set_type(idm_order_iter_t *iter, idm_card_type type);

/**
 * Loads the next order.
 *
 * @param iter  the iterator.
 * @param out   receives the next order (owned by the caller), or NULL when
 *              there are no more.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_order_iter_next(idm_order_iter_t *iter, idm_order_t **out);

/**
 * Releases an iterator and sets *iter to NULL.  NULL-safe.
 *
 * @param iter  address of the caller's pointer.
 */
void idm_order_iter_free(idm_order_iter_t **iter);

#ifdef __cplusplus
}
#endif

#endif /* IDM_ORDER_H */
