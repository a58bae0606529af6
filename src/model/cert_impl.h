/* What other parts of the library need of certificate records. */
#ifndef IDM_MODEL_CERT_IMPL_H
#define IDM_MODEL_CERT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <idm/certificate.h>

#include "model/records.h"

struct idm_store;

/*
 * Reads serial, validity and issuer key identifier of a DER certificate
 * into rec (which owns them afterwards; rec->der is not touched).
 * IDM_ERR_PARSE naming argument 'der' for anything unreadable.  With
 * expected_spki, a certificate for another public key is IDM_ERR_INVALID_ARG
 * (one parse serves both: each parse decodes the key, which is slow in
 * OpenSSL 3.0).
 */
int idm_cert_parse(const unsigned char *der, size_t len, const unsigned char *expected_spki,
                   size_t expected_len, struct idm_cert_rec *rec);

/* Moves a record to target, setting or clearing its revocation reason and
 * time as the state implies (hold: certificateHold; revoked: unspecified). */
void idm_cert_follow_state(struct idm_cert_rec *cert, idm_cert_state target, int64_t now_ms);

/*
 * Records rec (parsed, with der) for card inside the caller's transaction:
 * its state is the one the card's state implies (on hold before the card is
 * active), refused with IDM_ERR_STATE when that would be revoked or expired.
 * Sets rec->id and appends the audit event.
 */
int idm_cert_record(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                    const struct idm_card_rec *card, struct idm_cert_rec *rec);

/* A handle on stored record id (errors carry no function name). */
int idm_cert_handle_new(idm_ctx_t *ctx, int64_t id, idm_cert_t **out);
const struct idm_cert_rec *idm_cert_handle_rec(const idm_cert_t *cert);
idm_ctx_t *idm_cert_handle_ctx(const idm_cert_t *cert);
int idm_cert_handle_reload(idm_cert_t *cert);

#endif /* IDM_MODEL_CERT_IMPL_H */
