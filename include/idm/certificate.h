/*
 * libidm - certificate records.
 *
 * The store keeps every certificate written to a card: its DER encoding,
 * serial number, validity and state.  A certificate is recorded before it
 * is written to the card, so the store always knows every certificate a
 * card carries.  Its state follows its card's state (see <idm/card.h>).
 *
 * Thread-safety: a certificate record or iterator belongs to the context it
 * came from and is used, like that context, by one thread at a time
 * (<idm/context.h>).
 */
#ifndef IDM_CERTIFICATE_H
#define IDM_CERTIFICATE_H

#include <stddef.h>
#include <stdint.h>

#include <idm/card.h>
#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Certificate states. */
typedef enum idm_cert_state {
    IDM_CERT_VALID = 0,
    IDM_CERT_ON_HOLD = 1,
    IDM_CERT_REVOKED = 2,
    IDM_CERT_EXPIRED = 3
} idm_cert_state;

/**
 * Name of a certificate state: "valid", "on_hold", "revoked", "expired";
 * "unknown" otherwise.
 *
 * @param state  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_cert_state_name(idm_cert_state state);

/**
 * Records a certificate for a card.  The DER is parsed (an X.509
 * certificate) for its serial number and validity; its state is the one
 * the card's state implies.  Audited.
 *
 * @param card     the card.
 * @param actor    who records it.
 * @param der      the certificate, DER-encoded.  Copied.
 * @param der_len  its length in bytes (1 .. 65536).
 * @param out      receives the record, owned by the caller; may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_PARSE if der is not a
 *         certificate; IDM_ERR_EXISTS if a certificate with its serial is
 *         already recorded; IDM_ERR_STATE if the card is in a state whose
 *         certificates are revoked or expired (failed, rejected, aborted,
 *         locked, expired); IDM_ERR_STORE.
 */
int idm_card_add_certificate(idm_card_t *card, const char *actor, const unsigned char *der,
                             size_t der_len, idm_cert_t **out);

/**
 * Loads a certificate record by its id.
 *
 * @param ctx  a context with an open store.
 * @param id   the record's id.
 * @param out  receives the record, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND; IDM_ERR_STATE if
 *         no store is open; IDM_ERR_STORE.
 */
int idm_cert_open(idm_ctx_t *ctx, int64_t id, idm_cert_t **out);

/**
 * Loads a certificate record by its serial number.
 *
 * @param ctx     a context with an open store.
 * @param serial  the serial as idm_cert_get_serial() gives it.
 * @param out     receives the record, owned by the caller.
 * @return as idm_cert_open().
 */
int idm_cert_open_serial(idm_ctx_t *ctx, const char *serial, idm_cert_t **out);

/**
 * Releases a certificate record handle and sets *cert to NULL.  NULL-safe.
 *
 * @param cert  address of the caller's pointer.
 */
void idm_cert_free(idm_cert_t **cert);

/**
 * The record's id in the store.
 *
 * @param cert  the record.
 * @param out   receives the id (> 0).
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_get_id(const idm_cert_t *cert, int64_t *out);

/**
 * The id of the card that carries the certificate.
 *
 * @param cert  the record.
 * @param out   receives the card id.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_get_card_id(const idm_cert_t *cert, int64_t *out);

/**
 * The serial number.
 *
 * @param cert  the record.
 * @param out   receives the serial as upper-case hexadecimal of whole
 *              bytes without separators (serial 0xB0B gives "0B0B"), owned
 *              by the handle.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_get_serial(const idm_cert_t *cert, const char **out);

/**
 * The DER encoding.
 *
 * @param cert  the record.
 * @param der   receives a pointer to the bytes, owned by the handle.
 * @param len   receives their number.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_get_der(const idm_cert_t *cert, const unsigned char **der, size_t *len);

/**
 * The validity period, in milliseconds since 1970-01-01T00:00:00Z.
 *
 * @param cert        the record.
 * @param not_before  receives the start; may be NULL.
 * @param not_after   receives the end; may be NULL.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_get_validity(const idm_cert_t *cert, int64_t *not_before, int64_t *not_after);

/**
 * The certificate's state.
 *
 * @param cert  the record.
 * @param out   receives the state.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_get_state(const idm_cert_t *cert, idm_cert_state *out);

/**
 * Starts an iteration over the certificate records of one card, in id order.
 *
 * @param ctx      a context with an open store.
 * @param card_id  the card's id (> 0).
 * @param out      receives the iterator, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if no store is open;
 *         IDM_ERR_NO_MEMORY.
 */
int idm_cert_iter_new(idm_ctx_t *ctx, int64_t card_id, idm_cert_iter_t **out);

/**
 * Loads the next certificate record.
 *
 * @param iter  the iterator.
 * @param out   receives the next record (owned by the caller), or NULL when
 *              there are no more.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_cert_iter_next(idm_cert_iter_t *iter, idm_cert_t **out);

/**
 * Releases an iterator and sets *iter to NULL.  NULL-safe.
 *
 * @param iter  address of the caller's pointer.
 */
void idm_cert_iter_free(idm_cert_iter_t **iter);

#ifdef __cplusplus
}
#endif

#endif /* IDM_CERTIFICATE_H */
