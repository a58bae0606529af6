/* What other parts of the model need of cards. */
#ifndef IDM_MODEL_CARD_IMPL_H
#define IDM_MODEL_CARD_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <idm/card.h>

#include "model/records.h"

struct idm_store;

/* Employee, contractor and visitor cards have a holder; visitor, visitor
 * non-personal and temporary cards take the visitor validity. */
int idm_card_type_is_personal(idm_card_type type);
int idm_card_type_is_visitor(idm_card_type type);

/* "card 00000042" for messages; returns snprintf's count. */
int idm_card_label(const struct idm_card_rec *rec, char *buf, size_t size);

/* A handle on stored card id (errors carry no function name). */
int idm_card_handle_new(idm_ctx_t *ctx, int64_t id, idm_card_t **out);
int64_t idm_card_handle_id(const idm_card_t *card);
idm_ctx_t *idm_card_handle_ctx(const idm_card_t *card);
int idm_card_handle_reload(idm_card_t *card);

/*
 * Moves cur (a card as loaded inside the caller's transaction) to state to:
 * checks its graph, updates it, audits the change with detail, and moves
 * its certificates along.  The workflows use this for every card step.
 */
int idm_card_transition(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                        struct idm_card_rec *cur, idm_card_state to, const char *detail);

#endif /* IDM_MODEL_CARD_IMPL_H */
