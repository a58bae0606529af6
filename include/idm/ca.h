/*
 * libidm - certificate authorities.
 *
 * A CA backend issues and revokes certificates.  The library ships one
 * built on OpenSSL (idm_ca_new_openssl(), idm_ca_new_openssl_pem()); a host
 * that runs its own CA (EJBCA, AD CS, step-ca, ...) plugs it in with an ops
 * table (idm_ca_new()).  Both are used through the same functions:
 * idm_card_issue_certificate(), idm_cert_revoke(), idm_cert_hold(),
 * idm_cert_release() and idm_ca_generate_crl(), which record every
 * certificate and every revocation in the store, with their audit events.
 *
 * Certificate profiles (what idm_card_issue_certificate() asks for):
 *   authentication  keyUsage digitalSignature; EKU clientAuth and smart-card
 *                   logon (1.3.6.1.4.1.311.20.2.2); SAN UPN otherName
 *                   (1.3.6.1.4.1.311.20.2.3) and rfc822Name
 *   signature       keyUsage digitalSignature, nonRepudiation; EKU
 *                   emailProtection; SAN rfc822Name
 *   encryption      keyUsage keyEncipherment (RSA) or keyAgreement (EC);
 *                   EKU emailProtection; SAN rfc822Name
 *   card authentication  keyUsage digitalSignature; EKU id-PIV-cardAuth
 *                   (2.16.840.1.101.3.6.8); SAN rfc822Name
 * All are X.509 v3 with basicConstraints CA:FALSE (critical), subject and
 * authority key identifiers, a random positive 128-bit serial, and the
 * options' CRL distribution point and AIA URLs when set.  The built-in CA
 * cuts a certificate's validity at its own notAfter.  The subject comes
 * from cert_subject_template and the identity (non-personal cards use the
 * card's name); validity from cert_validity_days, or
 * visitor_cert_validity_days for visitor and temporary cards.
 *
 * Thread-safety: a CA handle is used by one thread at a time, and a call
 * that also takes a card, a certificate or a context follows that context's
 * rule (<idm/context.h>); a station with several readers gives each thread
 * its own CA handle.  The methods of a host CA run on the thread that called
 * into the library, and a request exists only during the method that
 * receives it: the idm_cert_request_get_ functions are called there.
 */
#ifndef IDM_CA_H
#define IDM_CA_H

#include <stddef.h>
#include <stdint.h>

#include <idm/card.h>
#include <idm/certificate.h>
#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Key types of the built-in CA's own key. */
typedef enum idm_key_type {
    IDM_KEY_EC_P256 = 0,
    IDM_KEY_EC_P384 = 1,
    IDM_KEY_RSA_2048 = 2,
    IDM_KEY_RSA_3072 = 3
} idm_key_type;

/** What a card key is for; selects the certificate profile. */
typedef enum idm_key_usage {
    IDM_USAGE_AUTHENTICATION = 0, /**< PIV slot 9A: logon, client authentication */
    IDM_USAGE_SIGNATURE = 1,      /**< PIV slot 9C: digital signature */
    IDM_USAGE_ENCRYPTION = 2,     /**< PIV slot 9D: key management */
    IDM_USAGE_CARD_AUTHENTICATION = 3 /**< PIV slot 9E: the card itself, no PIN */
} idm_key_usage;

/** CRL reason codes (RFC 5280); certificateHold is idm_cert_hold(). */
typedef enum idm_revocation_reason {
    IDM_REVOKE_UNSPECIFIED = 0,
    IDM_REVOKE_KEY_COMPROMISE = 1,
    IDM_REVOKE_CA_COMPROMISE = 2,
    IDM_REVOKE_AFFILIATION_CHANGED = 3,
    IDM_REVOKE_SUPERSEDED = 4,
    IDM_REVOKE_CESSATION_OF_OPERATION = 5,
    IDM_REVOKE_CERTIFICATE_HOLD = 6,
    IDM_REVOKE_PRIVILEGE_WITHDRAWN = 9
} idm_revocation_reason;

/**
 * Name of a key usage: "authentication", "signature", "encryption",
 * "card_authentication";
 * "unknown" otherwise.
 *
 * @param usage  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_key_usage_name(idm_key_usage usage);

/**
 * The key usage (profile) a certificate record was issued for.
 *
 * @param cert  the record.
 * @param out   receives the usage (authentication for certificates recorded
 *              with idm_card_add_certificate()).
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_get_usage(const idm_cert_t *cert, idm_key_usage *out);

/**
 * Why and when a certificate was revoked or put on hold.
 *
 * @param cert     the record.
 * @param reason   receives the reason (IDM_REVOKE_CERTIFICATE_HOLD while on
 *                 hold); may be NULL.
 * @param time_ms  receives the time; may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if the certificate is
 *         neither revoked nor on hold.
 */
int idm_cert_get_revocation(const idm_cert_t *cert, idm_revocation_reason *reason,
                            int64_t *time_ms);

/* ---- requests, as a CA backend reads them ---------------------------- */

/**
 * The public key to certify.
 *
 * @param request  the request.
 * @param spki     receives the DER SubjectPublicKeyInfo, owned by the request.
 * @param len      receives its length.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_request_get_public_key(const idm_cert_request_t *request, const unsigned char **spki,
                                    size_t *len);

/**
 * The subject, as RFC 4514 text with the most significant RDN last
 * (e.g. "CN=Ada Lovelace,O=Example Corp").
 *
 * @param request  the request.
 * @param out      receives the text, owned by the request.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_request_get_subject(const idm_cert_request_t *request, const char **out);

/**
 * The subject alternative names.
 *
 * @param request  the request.
 * @param upn      receives the UPN for the otherName, or NULL; owned by the
 *                 request.  May be NULL.
 * @param email    receives the rfc822Name, or NULL; owned by the request.
 *                 May be NULL.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_request_get_names(const idm_cert_request_t *request, const char **upn,
                               const char **email);

/**
 * The certificate profile: card type and key usage.
 *
 * @param request  the request.
 * @param type     receives the card type; may be NULL.
 * @param usage    receives the key usage; may be NULL.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_request_get_profile(const idm_cert_request_t *request, idm_card_type *type,
                                 idm_key_usage *usage);

/**
 * The validity the options ask for, in milliseconds since the Unix epoch.
 *
 * @param request     the request.
 * @param not_before  receives the start; may be NULL.
 * @param not_after   receives the end; may be NULL.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_request_get_validity(const idm_cert_request_t *request, int64_t *not_before,
                                  int64_t *not_after);

/**
 * The idempotency key, "o<order>-c<card>-a<attempt>-<usage>".  A backend
 * that sees a key again must return the certificate it issued for it the
 * first time instead of issuing a second one.
 *
 * @param request  the request.
 * @param out      receives the key, owned by the request.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_cert_request_get_idempotency_key(const idm_cert_request_t *request, const char **out);

/* ---- host CA backends ------------------------------------------------ */

/** The version of idm_ca_ops these headers describe. */
#define IDM_CA_OPS_VERSION 1

/**
 * The methods of a host CA.  Start from IDM_CA_OPS_INIT, fill the methods
 * you have, and register it with idm_ca_new(ops, sizeof ops, ...).  The
 * library copies what it knows of the table, so methods appended by a later
 * version of the headers stay zero for an older host.  Each method returns 0
 * on success; any other value is a failure the library reports as
 * IDM_ERR_BACKEND, with the text the method put in the detail message via
 * idm_ca_backend_error(), and audits.  user_data is the pointer given to
 * idm_ca_new().
 */
typedef struct idm_ca_ops {
    uint32_t version; /**< IDM_CA_OPS_VERSION */
    uint32_t size;    /**< sizeof(idm_ca_ops) as the host compiled it */
    /** Required: issue a certificate for request into certificate (DER). */
    int (*issue)(const idm_cert_request_t *request, idm_buffer_t *certificate, void *user_data);
    /** Required: revoke the certificate with this serial (upper-case hex). */
    int (*revoke)(const char *serial, idm_revocation_reason reason, int64_t time_ms,
                  void *user_data);
    /** Optional: put the certificate on hold. */
    int (*hold)(const char *serial, int64_t time_ms, void *user_data);
    /** Optional: release a held certificate. */
    int (*release)(const char *serial, void *user_data);
    /** Optional: produce the current CRL (DER). */
    int (*crl)(idm_buffer_t *crl, void *user_data);
} idm_ca_ops;

/** An ops table with the version and size set and no methods. */
#define IDM_CA_OPS_INIT {IDM_CA_OPS_VERSION, (uint32_t)sizeof(idm_ca_ops), 0, 0, 0, 0, 0}

/**
 * Registers a host CA.
 *
 * @param out        receives the CA handle, owned by the caller.
 * @param ops        the methods; copied (min(ops_size, the library's size)
 *                   bytes into a zeroed table), so it need not outlive the call.
 * @param ops_size   sizeof the host's table.
 * @param user_data  passed to every method; not owned by the library.
 * @param destroy    called with user_data when the handle is freed; may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG if a required method is missing or
 *         ops_size is too small for them; IDM_ERR_UNSUPPORTED if
 *         ops->version is unknown; IDM_ERR_NO_MEMORY.
 */
int idm_ca_new(idm_ca_t **out, const idm_ca_ops *ops, size_t ops_size, void *user_data,
               void (*destroy)(void *user_data));

/**
 * Lets a host CA method explain its failure: the text becomes the detail
 * message the caller of the library sees (after the library's own words).
 * Call it from inside an ops method just before returning non-zero.
 *
 * @param message  the CA's own words, e.g. "EJBCA: end entity not found".
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 * Thread-safety: call it on the thread that runs the method: the words
 * are kept per thread, like the detail message.
 */
int idm_ca_backend_error(const char *message);

/**
 * Releases a CA handle (calling its destroy callback, wiping a built-in
 * CA's key) and sets *ca to NULL.  NULL-safe.
 *
 * @param ca  address of the caller's pointer.
 */
void idm_ca_free(idm_ca_t **ca);

/* ---- the built-in OpenSSL CA ----------------------------------------- */

/**
 * Supplies the passphrase of an encrypted PEM key.
 *
 * @param buf        where to write the passphrase (not NUL-terminated).
 * @param size       room in buf.
 * @param user_data  the pointer given with the callback.
 * @return the passphrase's length, or -1 to give up.
 */
typedef int (*idm_passphrase_fn)(char *buf, size_t size, void *user_data);

/**
 * Creates a new self-signed issuing CA with a fresh key.
 *
 * @param out            receives the CA, owned by the caller.
 * @param ctx            the context (clock, random source); must outlive the CA.
 * @param key_type       P-256, P-384, RSA-2048 or RSA-3072.
 * @param common_name    the CA's common name (UTF-8, 1..64 bytes).
 * @param validity_days  1 .. 10950.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_CRYPTO with OpenSSL's words.
 */
int idm_ca_new_openssl(idm_ca_t **out, idm_ctx_t *ctx, idm_key_type key_type,
                       const char *common_name, int validity_days);

/**
 * Loads an issuing CA from its certificate and key in PEM.
 *
 * @param out          receives the CA, owned by the caller.
 * @param ctx          the context; must outlive the CA.
 * @param cert_pem     the CA certificate (PEM).
 * @param cert_len     its length.
 * @param key_pem      the private key (PEM, PKCS#8 or traditional, possibly
 *                     encrypted).  The library keeps no copy of the text.
 * @param key_len      its length.
 * @param passphrase   called for an encrypted key; may be NULL.
 * @param user_data    passed to passphrase.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_PARSE for unreadable PEM or
 *         a wrong passphrase; IDM_ERR_CRYPTO when the certificate is not a
 *         CA certificate, is expired or not yet valid, the key does not
 *         match it, or the key type is not one of idm_key_type.
 */
int idm_ca_new_openssl_pem(idm_ca_t **out, idm_ctx_t *ctx, const char *cert_pem,
                           size_t cert_len, const char *key_pem, size_t key_len,
                           idm_passphrase_fn passphrase, void *user_data);

/**
 * The built-in CA's certificate.
 *
 * @param ca   a built-in CA.
 * @param der  receives the DER certificate.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_UNSUPPORTED for a host CA.
 */
int idm_ca_get_certificate(const idm_ca_t *ca, idm_buffer_t *der);

/**
 * Exports the built-in CA's key as encrypted PKCS#8 PEM (AES-256-CBC,
 * PBKDF2), the only form in which the key ever leaves the library.
 *
 * @param ca          a built-in CA.
 * @param passphrase  supplies the passphrase (at least 8 bytes).
 * @param user_data   passed to passphrase.
 * @param pem         receives the PEM text.
 * @return IDM_OK; IDM_ERR_INVALID_ARG (also for a short passphrase);
 *         IDM_ERR_UNSUPPORTED for a host CA; IDM_ERR_CRYPTO.
 */
int idm_ca_export_key(const idm_ca_t *ca, idm_passphrase_fn passphrase, void *user_data,
                      idm_buffer_t *pem);

/* ---- issuing and revoking, recorded in the store ---------------------- */

/**
 * Issues a certificate for a card's key and records it.  The request is
 * built from the card, its holder and the options; its idempotency key is
 * "o<order>-c<card>-a<attempt>-<usage>".  The issue is recorded as pending
 * before the CA is called and as done, with the certificate and its audit
 * event, in one transaction after: a repeated call with the same key (the
 * same card, order, attempt and usage) returns the recorded certificate
 * without asking the CA again.
 *
 * @param card     a personal card whose holder is active, or a non-personal
 *                 card; not in a final state.
 * @param actor    who asks.
 * @param ca       the CA.
 * @param usage    the key's usage: selects the profile.
 * @param spki     the card key's DER SubjectPublicKeyInfo (EC P-256/P-384
 *                 or RSA 2048..4096).
 * @param spki_len its length.
 * @param attempt  the production attempt (>= 1); a new attempt after a
 *                 failure gets a new certificate.
 * @param out      receives the certificate record, owned by the caller;
 *                 may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG (malformed or unsupported key, bad
 *         arguments); IDM_ERR_STATE (card or holder state, missing common
 *         name); IDM_ERR_BACKEND with the CA's words; IDM_ERR_STORE.
 */
int idm_card_issue_certificate(idm_card_t *card, const char *actor, idm_ca_t *ca,
                               idm_key_usage usage, const unsigned char *spki, size_t spki_len,
                               int attempt, idm_cert_t **out);

/**
 * Revokes a certificate with the CA and records it (state revoked, reason,
 * time) with its audit event.
 *
 * @param cert    the certificate record; valid or on hold.
 * @param actor   who revokes.
 * @param ca      the CA that issued it.
 * @param reason  the CRL reason (not IDM_REVOKE_CERTIFICATE_HOLD).
 * @return IDM_OK; IDM_ERR_INVALID_ARG (also when a built-in CA did not
 *         issue the certificate); IDM_ERR_STATE if it is already revoked or
 *         expired; IDM_ERR_BACKEND; IDM_ERR_STORE.
 */
int idm_cert_revoke(idm_cert_t *cert, const char *actor, idm_ca_t *ca,
                    idm_revocation_reason reason);

/**
 * Puts a valid certificate on hold (certificateHold) and records it.
 *
 * @param cert   the certificate record, valid.
 * @param actor  who holds it.
 * @param ca     the CA that issued it.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if it is not valid;
 *         IDM_ERR_UNSUPPORTED if a host CA has no hold method;
 *         IDM_ERR_BACKEND; IDM_ERR_STORE.
 */
int idm_cert_hold(idm_cert_t *cert, const char *actor, idm_ca_t *ca);

/**
 * Releases a certificate from hold and records it.  Only a certificate of
 * an active (or assigned) card can be released; the certificates of an
 * inactive card are released by activating the card.
 *
 * @param cert   the certificate record, on hold.
 * @param actor  who releases it.
 * @param ca     the CA that issued it.
 * @return as idm_cert_hold(); IDM_ERR_STATE also when the card is not active.
 */
int idm_cert_release(idm_cert_t *cert, const char *actor, idm_ca_t *ca);

/**
 * Produces the CA's current CRL: every certificate of this CA that the
 * store has revoked or on hold, with its reason and time, a CRL number one
 * higher than the last and a nextUpdate hours ahead.  A host CA answers with
 * its crl method.
 *
 * @param ca            the CA.
 * @param ctx           the context whose store holds the certificates.
 * @param next_update_hours  1 .. 8760.
 * @param crl           receives the DER CRL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_UNSUPPORTED if a host CA has
 *         no crl method; IDM_ERR_BACKEND; IDM_ERR_CRYPTO; IDM_ERR_STORE.
 */
int idm_ca_generate_crl(idm_ca_t *ca, idm_ctx_t *ctx, int next_update_hours, idm_buffer_t *crl);

#ifdef __cplusplus
}
#endif

#endif /* IDM_CA_H */
