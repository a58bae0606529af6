/* Appending to the audit trail, inside the caller's transaction. */
#ifndef IDM_MODEL_AUDIT_IMPL_H
#define IDM_MODEL_AUDIT_IMPL_H

#include <stdint.h>

#include <idm/audit.h>

#include "core/error_impl.h"

struct idm_store;

/*
 * Appends one event, chained to the last one, with the context's clock.
 * Must run between begin() and commit() of the change it records, so the two
 * are committed together.  from/to may be NULL.  The detail is formatted
 * from fmt; never pass a secret.  Errors carry no function name.
 */
int idm_audit_append(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                     idm_object_type type, int64_t id, const char *from, const char *to,
                     const char *fmt, ...) IDM_PRINTF(8, 9);

/*
 * Appends one event in a transaction of its own: for a failure, whose
 * record must survive the rollback of what failed.  The detail message the
 * caller is about to return is kept; a failure to audit is only logged.
 */
void idm_audit_append_alone(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                            idm_object_type type, int64_t id, const char *fmt, ...)
    IDM_PRINTF(6, 7);

#endif /* IDM_MODEL_AUDIT_IMPL_H */
