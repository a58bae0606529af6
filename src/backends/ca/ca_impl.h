/*
 * CA handles and requests as the library sees them.  A CA handle holds a
 * copy of an ops table; the built-in OpenSSL CA is one more user of it, with
 * a few extra abilities (its certificate, its key export, CRLs from the
 * store) reached through `builtin`.
 */
#ifndef IDM_BACKENDS_CA_CA_IMPL_H
#define IDM_BACKENDS_CA_CA_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <idm/ca.h>

/* One relative distinguished name of a subject, most significant first. */
struct idm_rdn {
    int nid;     /* OpenSSL's NID of the attribute type */
    char *value; /* UTF-8 */
};

struct idm_cert_request {
    uint32_t magic; /* IDM_MAGIC_CERT_REQUEST */
    unsigned char *spki;
    size_t spki_len;
    int spki_is_rsa;       /* selects keyEncipherment or keyAgreement */
    char *subject;         /* RFC 4514 text for host CAs */
    struct idm_rdn *rdns;  /* the same subject for the built-in CA */
    size_t nrdns;
    char *upn;             /* NULL for none */
    char *email;           /* NULL for none */
    idm_card_type type;
    idm_key_usage usage;
    int64_t not_before_ms;
    int64_t not_after_ms;
    char *idempotency_key;
    char *crl_url;         /* NULL for none */
    char *aia_url;         /* NULL for none */
};

void idm_cert_request_clear(struct idm_cert_request *req);

struct idm_openssl_ca;

struct idm_ca {
    uint32_t magic; /* IDM_MAGIC_CA */
    idm_ca_ops ops;
    void *user_data;
    void (*destroy)(void *user_data);
    struct idm_openssl_ca *builtin; /* NULL for a host CA */
};

/*
 * Calls an ops method's result through: before the call the host's message
 * is cleared; after a non-zero return this sets IDM_ERR_BACKEND (no function
 * name) with what, the code and the host's words.
 */
void idm_ca_backend_reset(void);
int idm_ca_backend_failed(const char *what, int code);

/* ---- the built-in CA (openssl_ca.c) ---------------------------------- */

struct idm_crl_entry {
    const char *serial; /* upper-case hex */
    int reason;         /* idm_revocation_reason */
    int64_t time_ms;
};

int idm_openssl_ca_generate(struct idm_openssl_ca **out, idm_ctx_t *ctx, idm_key_type type,
                            const char *common_name, int validity_days);
int idm_openssl_ca_load(struct idm_openssl_ca **out, idm_ctx_t *ctx, const char *cert_pem,
                        size_t cert_len, const char *key_pem, size_t key_len,
                        idm_passphrase_fn passphrase, void *user_data);
void idm_openssl_ca_free(void *ca);
extern const idm_ca_ops idm_openssl_ca_ops;
/* The CA's subject key identifier as upper-case hex: what the certificates
 * it issues carry as authority key identifier. */
const char *idm_openssl_ca_key_id(const struct idm_openssl_ca *ca);
int idm_openssl_ca_certificate(const struct idm_openssl_ca *ca, idm_buffer_t *der);
int idm_openssl_ca_export_key(const struct idm_openssl_ca *ca, idm_passphrase_fn passphrase,
                              void *user_data, idm_buffer_t *pem);
int idm_openssl_ca_crl(struct idm_openssl_ca *ca, const struct idm_crl_entry *entries, size_t n,
                       int64_t crl_number, int64_t this_update_ms, int64_t next_update_ms,
                       idm_buffer_t *crl);

/*
 * Checks a DER SubjectPublicKeyInfo: it must parse completely and hold an
 * EC P-256/P-384 or RSA 2048..4096 key.  *is_rsa tells which.  IDM_ERR_INVALID_ARG
 * naming argument 'spki' otherwise (no function name).
 */
int idm_spki_check(const unsigned char *spki, size_t len, int *is_rsa);

#endif /* IDM_BACKENDS_CA_CA_IMPL_H */
