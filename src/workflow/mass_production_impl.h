/*
 * Mass production, inside the library: a station (one process or thread,
 * one encoder) works through the cards of an order step by step, as the
 * seed describes: next ready card (the not-ready ones skipped with their
 * reason), issue, produce, verify, then complete or more.  The public step
 * API and driver of issue 6 will be thin layers over this; until then the
 * white-box tests drive it.  Errors carry no function name.
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

struct idm_mp_station;

/* The host's readiness question: 0 ready, 1 not ready (the reason written
 * into why), anything else cancels (IDM_ERR_CANCELLED). */
typedef int (*idm_mp_ready_fn)(const idm_card_t *card, char *why, size_t size, void *user_data);

/* A station on a mass production order.  ca may be NULL for Physical ID.
 * station names the station in claims (1..64 characters); lease_ms is how
 * long its claim on a card holds against other stations. */
int idm_mp_station_open(struct idm_mp_station **out, idm_ctx_t *ctx, int64_t order_id,
                        const char *station, idm_encoder_t *enc, idm_ca_t *ca,
                        int64_t lease_ms);
void idm_mp_station_set_readiness(struct idm_mp_station *st, idm_mp_ready_fn fn,
                                  void *user_data);

/* Claims the next ready card; *card_id is 0 when no card is left (also in
 * a completed order).  Starts an open order (running).  IDM_ERR_STATE while
 * a card is in production or when the order is aborted. */
int idm_mp_next(struct idm_mp_station *st, const char *actor, int64_t *card_id);

/* The steps for the claimed card, in this order.  A failure of the card
 * (it was written to) fails it, revokes the attempt's certificates, records
 * the outcome failed with the words and aborts the order; a failure before
 * the card was touched lets the card go (pending) and leaves the order
 * running. */
int idm_mp_issue(struct idm_mp_station *st, const char *actor);
int idm_mp_produce(struct idm_mp_station *st, const char *actor);
int idm_mp_verify(struct idm_mp_station *st, const char *actor);

/* The administrator's answer: more (0 cards left is fine, next() goes on)
 * or complete (the order moves to completed, and a completed order stays
 * so; IDM_ERR_STATE while cards are pending or claimed). */
int idm_mp_complete(struct idm_mp_station *st, const char *actor, int more);

/* Frees the station.  A card in the middle of its steps is let go as a
 * killed process would leave it: its claim stays until the lease runs out. */
void idm_mp_station_close(struct idm_mp_station *st);

#endif /* IDM_WORKFLOW_MASS_PRODUCTION_IMPL_H */
