/*
 * libidm - cards and their state graphs.
 *
 * A card has a type, an option (Physical ID or Digital ID), a production
 * path (local or external), a unique card number, the chip serial once
 * known, a link to its holder (personal types) or a name (non-personal
 * types), and a state.  Each production path has its own state graph,
 * held as a transition table and checked when a context is created:
 *
 *   local:     registered -> requested -> approved | rejected* | aborted*
 *              approved -> issued | failed;  failed -> approved
 *              issued -> active <-> inactive;  active | inactive -> locked* | expired*
 *   external:  registered -> requested | processing | ordered
 *              requested -> processing | ordered | rejected*
 *              processing -> ordered | aborted* | failed;  failed -> processing
 *              ordered -> in_production -> produced | failed
 *              produced -> active <-> inactive;  active | inactive -> locked* | expired*
 *   temporary: requested -> processing | ordered   (temporary cards start in requested)
 *              processing -> ordered | aborted* | failed;  failed -> processing
 *              ordered -> in_production -> produced | failed
 *              produced -> unassigned <-> assigned
 *              unassigned | assigned -> expired* | locked*
 *
 * (* = final.)  Temporary cards always take the temporary graph (and are
 * produced externally); other cards take the graph of their production.
 * Every state change is one store transaction with its audit event, and
 * the card's certificates follow it: issued, inactive, produced and
 * unassigned cards hold on_hold certificates, active and assigned ones
 * valid certificates, failed and locked ones revoked certificates, expired
 * ones expired certificates.
 *
 * Thread-safety: a card handle or iterator belongs to the context it came
 * from and is used, like that context, by one thread at a time
 * (<idm/context.h>).
 */
#ifndef IDM_CARD_H
#define IDM_CARD_H

#include <stddef.h>
#include <stdint.h>

#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Card types. */
typedef enum idm_card_type {
    IDM_CARD_EMPLOYEE = 0,
    IDM_CARD_CONTRACTOR = 1,
    IDM_CARD_VISITOR = 2,
    IDM_CARD_VISITOR_NON_PERSONAL = 3,
    IDM_CARD_NON_PERSONAL = 4,
    IDM_CARD_TEMPORARY = 5
} idm_card_type;

/** What is produced: a printed card, or a chip with PKI certificates. */
typedef enum idm_card_option {
    IDM_CARD_PHYSICAL = 0, /**< Physical ID */
    IDM_CARD_DIGITAL = 1   /**< Digital ID */
} idm_card_option;

/** Where the card is produced. */
typedef enum idm_production {
    IDM_PRODUCTION_LOCAL = 0,   /**< at a local encoder/printer */
    IDM_PRODUCTION_EXTERNAL = 1 /**< by an external production bureau */
} idm_production;

/** Card states: the union of the three production graphs. */
typedef enum idm_card_state {
    IDM_CARD_REGISTERED = 0,
    IDM_CARD_REQUESTED = 1,
    IDM_CARD_APPROVED = 2,
    IDM_CARD_REJECTED = 3,
    IDM_CARD_ABORTED = 4,
    IDM_CARD_ISSUED = 5,
    IDM_CARD_FAILED = 6,
    IDM_CARD_ACTIVE = 7,
    IDM_CARD_INACTIVE = 8,
    IDM_CARD_LOCKED = 9,
    IDM_CARD_EXPIRED = 10,
    IDM_CARD_PROCESSING = 11,
    IDM_CARD_ORDERED = 12,
    IDM_CARD_IN_PRODUCTION = 13,
    IDM_CARD_PRODUCED = 14,
    IDM_CARD_UNASSIGNED = 15,
    IDM_CARD_ASSIGNED = 16
} idm_card_state;

/**
 * Name of a card type: "employee", "contractor", "visitor",
 * "visitor_non_personal", "non_personal", "temporary"; "unknown" otherwise.
 *
 * @param type  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_card_type_name(idm_card_type type);

/**
 * Name of a card state, e.g. "in_production"; "unknown" for other values.
 *
 * @param state  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_card_state_name(idm_card_state state);

/**
 * Name of a card option: "physical" or "digital"; "unknown" otherwise.
 *
 * @param option  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_card_option_name(idm_card_option option);

/**
 * Name of a production path: "local" or "external"; "unknown" otherwise.
 *
 * @param production  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_production_name(idm_production production);

/**
 * The Nexus technical reference of the mass production process for a card
 * type and option, e.g. "PcmProcMassProductionContractorCard" (Digital ID)
 * or "CCProcMassProductionVisitorNonPersonalCard" (Physical ID).
 *
 * @param type    a card type other than IDM_CARD_TEMPORARY (temporary
 *                cards are ordered, not mass-produced).
 * @param option  IDM_CARD_PHYSICAL or IDM_CARD_DIGITAL.
 * @param out     receives a static string.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 * Thread-safety: safe to call from any thread.
 */
int idm_process_name(idm_card_type type, idm_card_option option, const char **out);

/**
 * Creates a card in the first state of its graph (registered; requested for
 * temporary cards) with the next card number of card_number_format.
 *
 * @param ctx          a context with an open store.
 * @param actor        who creates it.
 * @param type         the card type.
 * @param option       Physical ID or Digital ID.
 * @param production   local or external; temporary cards must be external.
 * @param identity_id  the holder for employee, contractor and visitor cards
 *                     (an identity that is not terminated); 0 for the
 *                     non-personal types.
 * @param name         the function or room of a non-personal card (UTF-8,
 *                     1..IDM_ATTRIBUTE_VALUE_MAX bytes); NULL for personal
 *                     cards.  Copied.
 * @param out          receives the card, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG (the message says which argument
 *         does not fit the type); IDM_ERR_NOT_FOUND if the identity does not
 *         exist; IDM_ERR_STATE if it is terminated or no store is open;
 *         IDM_ERR_STORE.
 */
int idm_card_new(idm_ctx_t *ctx, const char *actor, idm_card_type type, idm_card_option option,
                 idm_production production, int64_t identity_id, const char *name,
                 idm_card_t **out);

/**
 * Loads a card by its id.
 *
 * @param ctx  a context with an open store.
 * @param id   the card's id.
 * @param out  receives the card, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND; IDM_ERR_STATE if
 *         no store is open; IDM_ERR_STORE.
 */
int idm_card_open(idm_ctx_t *ctx, int64_t id, idm_card_t **out);

/**
 * Loads a card by its card number.
 *
 * @param ctx     a context with an open store.
 * @param number  the card number.
 * @param out     receives the card, owned by the caller.
 * @return as idm_card_open().
 */
int idm_card_open_number(idm_ctx_t *ctx, const char *number, idm_card_t **out);

/**
 * Reloads a card from the store.
 *
 * @param card  the card.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND; IDM_ERR_STORE.
 */
int idm_card_refresh(idm_card_t *card);

/**
 * Releases a card handle and sets *card to NULL.  NULL-safe.
 *
 * @param card  address of the caller's pointer.
 */
void idm_card_free(idm_card_t **card);

/**
 * The card's id in the store.
 *
 * @param card  the card.
 * @param out   receives the id (> 0).
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_id(const idm_card_t *card, int64_t *out);

/**
 * The card number.
 *
 * @param card  the card.
 * @param out   receives the number, owned by the handle.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_number(const idm_card_t *card, const char **out);

/**
 * The card type.
 *
 * @param card  the card.
 * @param out   receives the type.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_type(const idm_card_t *card, idm_card_type *out);

/**
 * The card option.
 *
 * @param card  the card.
 * @param out   receives Physical ID or Digital ID.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_option(const idm_card_t *card, idm_card_option *out);

/**
 * The production path.
 *
 * @param card  the card.
 * @param out   receives local or external.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_production(const idm_card_t *card, idm_production *out);

/**
 * The card's state.
 *
 * @param card  the card.
 * @param out   receives the state.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_state(const idm_card_t *card, idm_card_state *out);

/**
 * The holder's identity id.
 *
 * @param card  the card.
 * @param out   receives the id, or 0 for a non-personal card.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_identity_id(const idm_card_t *card, int64_t *out);

/**
 * The name of a non-personal card.
 *
 * @param card  the card.
 * @param out   receives the name, or NULL for a personal card; owned by
 *              the handle.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_name(const idm_card_t *card, const char **out);

/**
 * The chip serial number.
 *
 * @param card  the card.
 * @param out   receives the serial, or NULL while unknown; owned by the
 *              handle.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_chip_serial(const idm_card_t *card, const char **out);

/**
 * The production order the card belongs to.
 *
 * @param card  the card.
 * @param out   receives the order id, or 0 if it is in none.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_card_get_order_id(const idm_card_t *card, int64_t *out);

/**
 * Records the chip serial once it is read from the card.  Audited.
 *
 * @param card    the card.
 * @param actor   who makes the change.
 * @param serial  1..64 printable ASCII characters.  Copied.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_EXISTS if another card has
 *         this serial; IDM_ERR_STATE if the card already has a different
 *         serial; IDM_ERR_STORE.
 */
int idm_card_set_chip_serial(idm_card_t *card, const char *actor, const char *serial);

/**
 * Moves the card to another state of its graph, in one transaction with
 * its audit event and the state changes of its certificates.  The move is
 * checked against the stored state, not the handle's, so a stale handle
 * cannot skip a step.
 *
 * @param card    the card.
 * @param actor   who makes the change.
 * @param to      the new state.
 * @param detail  a reason recorded in the audit (UTF-8, at most
 *                IDM_ATTRIBUTE_VALUE_MAX bytes), or NULL.  Never put a
 *                secret here.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if the move is not in
 *         the card's graph (the message names the card, its state and the
 *         attempted state); IDM_ERR_STORE.
 */
int idm_card_set_state(idm_card_t *card, const char *actor, idm_card_state to,
                       const char *detail);

/**
 * Starts an iteration over the stored cards, in id order.
 *
 * @param ctx  a context with an open store.
 * @param out  receives the iterator, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if no store is open;
 *         IDM_ERR_NO_MEMORY.
 */
int idm_card_iter_new(idm_ctx_t *ctx, idm_card_iter_t **out);

/**
 * Keeps only cards in one state.
 *
 * @param iter   the iterator, not yet started.
 * @param state  the state.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE once iteration began.
 */
int idm_card_iter_set_state(idm_card_iter_t *iter, idm_card_state state);

/**
 * Keeps only cards of one type.
 *
 * @param iter  the iterator, not yet started.
 * @param type  the card type.
 * @return as idm_card_iter_set_state().
 */
int idm_card_iter_set_type(idm_card_iter_t *iter, idm_card_type type);

/**
 * Keeps only the cards of one production order.
 *
 * @param iter      the iterator, not yet started.
 * @param order_id  the order's id (> 0).
 * @return as idm_card_iter_set_state().
 */
int idm_card_iter_set_order(idm_card_iter_t *iter, int64_t order_id);

/**
 * Keeps only the cards of one holder.
 *
 * @param iter         the iterator, not yet started.
 * @param identity_id  the identity's id (> 0).
 * @return as idm_card_iter_set_state().
 */
int idm_card_iter_set_identity(idm_card_iter_t *iter, int64_t identity_id);

/**
 * Loads the next card.
 *
 * @param iter  the iterator.
 * @param out   receives the next card (owned by the caller), or NULL when
 *              there are no more.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_card_iter_next(idm_card_iter_t *iter, idm_card_t **out);

/**
 * Releases an iterator and sets *iter to NULL.  NULL-safe.
 *
 * @param iter  address of the caller's pointer.
 */
void idm_card_iter_free(idm_card_iter_t **iter);

#ifdef __cplusplus
}
#endif

#endif /* IDM_CARD_H */
