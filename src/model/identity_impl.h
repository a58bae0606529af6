/* What other parts of the model need of identities. */
#ifndef IDM_MODEL_IDENTITY_IMPL_H
#define IDM_MODEL_IDENTITY_IMPL_H

#include <stddef.h>

#include "model/records.h"

struct idm_store;

/* "identity 42 ('E123')" for messages; returns snprintf's count. */
int idm_identity_label(const struct idm_identity_rec *rec, char *buf, size_t size);

/*
 * Inserts rec (state, external id, attributes sorted by key) and its
 * creation audit event, inside the caller's transaction; sets rec->id.
 * origin, if not NULL, is appended to the audit detail.
 */
int idm_identity_insert(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                        struct idm_identity_rec *rec, const char *origin);

#endif /* IDM_MODEL_IDENTITY_IMPL_H */
