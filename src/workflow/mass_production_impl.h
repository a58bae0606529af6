/*
 * Mass production, inside the library: a station (one process or thread,
 * one encoder) works through the cards of an order step by step, as the
 * seed describes: next ready card (the not-ready ones skipped with their
 * reason), issue, produce, verify, then complete or more.  The public step
 * API and the driver (station.c, <idm/production.h>) are thin layers over
 * this.  Errors carry no function name.
 *
 * Crash safety comes from the store: a card is claimed in order_cards by
 * the station's name (schema 3); a station that comes back under the same
 * name gets its card again, and any other station gets it once the claim's
 * lease has run out.  Either way the card's next attempt revokes the
 * certificates an interrupted attempt left (superseded) and personalizes
 * the card again; a card the interrupted attempt had already recorded as
 * issued is only marked produced.
 */
#ifndef IDM_WORKFLOW_MASS_PRODUCTION_IMPL_H
#define IDM_WORKFLOW_MASS_PRODUCTION_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <idm/idm.h>

struct idm_station;

/* The host's readiness question: 0 ready, 1 not ready (the reason written
 * into why), anything else cancels (IDM_ERR_CANCELLED). */
typedef int (*idm_mp_ready_fn)(const idm_card_t *card, char *why, size_t size, void *user_data);

/* A station on a mass production order.  ca may be NULL for Physical ID.
 * station names the station in claims (1..64 characters); lease_ms is how
 * long its claim on a card holds against other stations. */
int idm_mp_station_open(struct idm_station **out, idm_ctx_t *ctx, int64_t order_id,
                        const char *station, idm_encoder_t *enc, idm_ca_t *ca,
                        int64_t lease_ms);
void idm_mp_station_set_readiness(struct idm_station *st, idm_mp_ready_fn fn,
                                  void *user_data);
void idm_mp_station_set_lease(struct idm_station *st, int64_t lease_ms);
/* The printer the produce step prints each card's faces on, with layout,
 * before the chip is written (NULL: no printing).  IDM_ERR_INVALID_ARG if
 * the layout does not serve the order's card type; IDM_ERR_STATE with a
 * card in production. */
struct idm_layout;
int idm_mp_station_set_printer(struct idm_station *st, idm_printer_t *printer,
                               const struct idm_layout *layout);

struct idm_mp_readiness {
    idm_mp_ready_fn fn;
    void *user_data;
};
struct idm_mp_readiness idm_mp_station_get_readiness(const struct idm_station *st);

/* With keep 1, next() remembers the cards it skipped, for the driver's
 * progress hook; take_skipped() hands them out (0 when none is left). */
void idm_mp_station_keep_skipped(struct idm_station *st, int keep);
int64_t idm_mp_take_skipped(struct idm_station *st);

/* The most cards a station claims ahead. */
#define IDM_MP_GROUP_MAX 1000
/* How many ready cards next() claims ahead, in one transaction (1..max). */
void idm_mp_station_set_group(struct idm_station *st, size_t cards);

/* Claims the next ready card; *card_id is 0 when no card is left (also in
 * a completed order).  Starts an open order (running).  IDM_ERR_STATE while
 * a card is in production or when the order is aborted. */
int idm_mp_next(struct idm_station *st, const char *actor, int64_t *card_id);

/* The steps for the claimed card, in this order (the order's option
 * snapshot rules the personalization).  A failure of the card
 * (it was written to) fails it, revokes the attempt's certificates, records
 * the outcome failed with the words and aborts the order; a failure before
 * the card was touched lets the card go (pending) and leaves the order
 * running. */
int idm_mp_issue(struct idm_station *st, const char *actor);
int idm_mp_produce(struct idm_station *st, const char *actor);
int idm_mp_verify(struct idm_station *st, const char *actor);

/* The administrator's answer: more (the skipped cards go back to pending
 * to be checked again; next() goes on) or complete (the order moves to completed, and a completed order stays
 * so; IDM_ERR_STATE while cards are pending or claimed). */
int idm_mp_complete(struct idm_station *st, const char *actor, int more);

/* The station's card in production (NULL for none), and its order. */
idm_card_t *idm_mp_card(struct idm_station *st);
idm_order_t *idm_mp_order(struct idm_station *st);

/* Lets go of the card in production and the cards claimed ahead: the
 * session closed, this attempt's certificates revoked (superseded), the
 * cards pending again; reason (may be NULL) goes into the audit. */
int idm_mp_cancel(struct idm_station *st, const char *actor, const char *reason);

/* Frees the station.  A card in the middle of its steps is let go as a
 * killed process would leave it: its claim stays until the lease runs out. */
void idm_mp_station_close(struct idm_station *st);

#endif /* IDM_WORKFLOW_MASS_PRODUCTION_IMPL_H */
