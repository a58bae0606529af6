/*
 * Certificate records.  The DER is parsed with libcrypto for the serial and
 * validity, so the store never records a certificate it cannot read.
 */
#include <inttypes.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/ca.h>
#include <idm/certificate.h>

#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "model/audit_impl.h"
#include "model/card_impl.h"
#include "model/cert_impl.h"
#include "model/iter.h"
#include "model/states.h"
#include "model/text.h"
#include "store/store.h"

#define CERT_DER_MAX 65536

struct idm_cert {
    uint32_t magic; /* IDM_MAGIC_CERT */
    idm_ctx_t *ctx;
    struct idm_cert_rec rec;
};

struct idm_cert_iter {
    struct idm_id_iter base;
};

#define CHECK_CERT(c) IDM_CHECK_HANDLE(c, IDM_MAGIC_CERT, "idm_cert_t")
#define CHECK_ITER(it) IDM_CHECK_HANDLE(it, IDM_MAGIC_CERT_ITER, "idm_cert_iter_t")

/* Milliseconds since the Unix epoch of an ASN.1 time. */
static int asn1_time_ms(const ASN1_TIME *t, int64_t *out)
{
    int days = 0, seconds = 0;
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int ok = t != NULL && epoch != NULL && ASN1_TIME_diff(&days, &seconds, epoch, t) == 1;
    ASN1_TIME_free(epoch);
    if (ok)
        *out = ((int64_t)days * 86400 + seconds) * 1000;
    return ok;
}

/* Upper-case hex of bytes, NUL-terminated, in a new string. */
static char *hex_upper(const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    char *out = malloc(2 * n + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 0x0f];
    }
    out[2 * n] = '\0';
    return out;
}

/* 1 if the certificate's SubjectPublicKeyInfo is exactly spki. */
static int certifies(X509 *x, const unsigned char *spki, size_t len)
{
    unsigned char *enc = NULL;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &enc);
    int same = n > 0 && (size_t)n == len && memcmp(enc, spki, len) == 0;
    OPENSSL_free(enc);
    return same;
}

int idm_cert_parse(const unsigned char *der, size_t len, const unsigned char *expected_spki,
                   size_t expected_len, struct idm_cert_rec *rec)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL || p != der + len) {
        char reason[256] = "trailing bytes after the certificate";
        if (x == NULL)
            ERR_error_string_n(ERR_peek_last_error(), reason, sizeof reason);
        ERR_clear_error();
        X509_free(x);
        return IDM_ERR(IDM_ERR_PARSE, "argument 'der' is not a DER certificate: %s", reason);
    }
    int rc = IDM_OK;
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    /* Decoded here rather than through X509_get0_authority_key_id(), which
     * answers NULL both for "no such extension" and for a failure to cache
     * the extensions: a certificate recorded without its issuer would be
     * left off its CA's CRL (found by the fault sweep). */
    int akid_where = -1;
    AUTHORITY_KEYID *akid_ext =
        X509_get_ext_d2i(x, NID_authority_key_identifier, &akid_where, NULL);
    const ASN1_OCTET_STRING *akid = akid_ext != NULL ? akid_ext->keyid : NULL;
    if (akid_ext == NULL && akid_where != -1) {
        rc = IDM_ERR(IDM_ERR_PARSE, "argument 'der' has %s", akid_where == -2
                     ? "two authority key identifiers"
                     : "an authority key identifier that cannot be decoded");
    } else if (hex == NULL) {
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot read the certificate's serial number");
    } else if (expected_spki != NULL && !certifies(x, expected_spki, expected_len)) {
        rc = IDM_ERR(IDM_ERR_INVALID_ARG, "the certificate does not certify the requested key");
    } else if (!asn1_time_ms(X509_get0_notBefore(x), &rec->not_before_ms) ||
               !asn1_time_ms(X509_get0_notAfter(x), &rec->not_after_ms)) {
        rc = IDM_ERR(IDM_ERR_PARSE, "argument 'der' has an unreadable validity period");
    } else if ((rec->serial = strdup(hex)) == NULL ||
               (akid != NULL && (rec->issuer_key_id = hex_upper(ASN1_STRING_get0_data(akid),
                                                                 (size_t)ASN1_STRING_length(akid))) ==
                                    NULL)) {
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy the certificate's serial number");
    }
    AUTHORITY_KEYID_free(akid_ext);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

void idm_cert_follow_state(struct idm_cert_rec *cert, idm_cert_state target, int64_t now_ms)
{
    cert->state = target;
    if (target == IDM_CERT_ON_HOLD) {
        cert->revocation_reason = IDM_REVOKE_CERTIFICATE_HOLD;
        cert->revoked_ms = now_ms;
    } else if (target == IDM_CERT_REVOKED) {
        if (cert->revocation_reason < 0 || cert->revocation_reason == IDM_REVOKE_CERTIFICATE_HOLD)
            cert->revocation_reason = IDM_REVOKE_UNSPECIFIED;
        cert->revoked_ms = now_ms;
    } else {
        cert->revocation_reason = -1;
        cert->revoked_ms = 0;
    }
}

int idm_cert_record(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                    const struct idm_card_rec *card, struct idm_cert_rec *rec)
{
    /* A new certificate waits on hold until its card becomes active. */
    idm_cert_state state = IDM_CERT_ON_HOLD;
    idm_cert_state_for_card(card->state, &state);
    if (state == IDM_CERT_REVOKED || state == IDM_CERT_EXPIRED) {
        char label[96];
        idm_card_label(card, label, sizeof label);
        return IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; it cannot take a certificate", label,
                       idm_card_state_name(card->state));
    }
    rec->revocation_reason = -1;
    idm_cert_follow_state(rec, state, idm_ctx_clock_ms(ctx));
    rec->card_id = card->id;
    rec->created_ms = idm_ctx_clock_ms(ctx);
    int rc = s->ops->cert_insert(s, rec);
    if (rc == IDM_ERR_EXISTS)
        return IDM_ERR(IDM_ERR_EXISTS, "a certificate with serial %s is already recorded",
                       rec->serial);
    if (rc == IDM_OK && state == IDM_CERT_ON_HOLD)
        rc = s->ops->cert_update(s, rec); /* the hold's reason and time */
    if (rc != IDM_OK)
        return rc;
    return idm_audit_append(ctx, s, actor, IDM_OBJECT_CERTIFICATE, rec->id, NULL,
                            idm_cert_state_name(state), "serial %s (%s) recorded for card %s",
                            rec->serial, idm_key_usage_name((idm_key_usage)rec->usage),
                            card->number);
}

int idm_cert_handle_new(idm_ctx_t *ctx, int64_t id, idm_cert_t **out)
{
    *out = NULL;
    struct idm_store *s;
    int rc = idm_ctx_store(ctx, &s);
    if (rc != IDM_OK)
        return rc;
    idm_cert_t *cert = calloc(1, sizeof *cert);
    if (cert == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a certificate record");
    cert->magic = IDM_MAGIC_CERT;
    cert->ctx = ctx;
    if ((rc = s->ops->cert_load(s, id, &cert->rec)) != IDM_OK) {
        free(cert);
        return rc;
    }
    *out = cert;
    return IDM_OK;
}

IDM_EXPORT int idm_card_add_certificate(idm_card_t *card, const char *actor,
                                        const unsigned char *der, size_t der_len, idm_cert_t **out)
{
    IDM_CHECK_HANDLE(card, IDM_MAGIC_CARD, "idm_card_t");
    if (out != NULL)
        *out = NULL;
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    IDM_CHECK_NOT_NULL(der);
    if (der_len == 0 || der_len > CERT_DER_MAX)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'der_len' is %zu; expected 1..%d", der_len,
                        CERT_DER_MAX);

    struct idm_cert_rec rec;
    memset(&rec, 0, sizeof rec);
    if ((rc = idm_cert_parse(der, der_len, NULL, 0, &rec)) != IDM_OK) {
        idm_cert_rec_clear(&rec);
        return idm_error_prefix(__func__, rc);
    }
    idm_ctx_t *ctx = idm_card_handle_ctx(card);
    struct idm_store *s;
    if ((rc = idm_ctx_store(ctx, &s)) == IDM_OK && (rc = s->ops->begin(s)) == IDM_OK) {
        struct idm_card_rec holder;
        rc = s->ops->card_load(s, idm_card_handle_id(card), &holder);
        if (rc == IDM_OK) {
            rec.der = (unsigned char *)der; /* borrowed for the insert */
            rec.der_len = der_len;
            rc = idm_cert_record(ctx, s, actor, &holder, &rec);
            rec.der = NULL;
            idm_card_rec_clear(&holder);
        }
        if (rc == IDM_OK)
            rc = s->ops->commit(s);
        else
            s->ops->rollback(s);
    }
    int64_t id = rec.id;
    idm_cert_rec_clear(&rec);
    if (rc == IDM_OK && out != NULL)
        rc = idm_cert_handle_new(ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_cert_open(idm_ctx_t *ctx, int64_t id, idm_cert_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    if (id <= 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'id' is %" PRId64 "; ids are > 0", id);
    int rc = idm_cert_handle_new(ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_cert_open_serial(idm_ctx_t *ctx, const char *serial, idm_cert_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(serial);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    struct idm_store *s;
    int64_t id = 0;
    int rc = idm_ctx_store(ctx, &s);
    if (rc == IDM_OK)
        rc = s->ops->cert_find(s, serial, &id);
    if (rc == IDM_OK)
        rc = idm_cert_handle_new(ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_cert_free(idm_cert_t **cert)
{
    if (!IDM_LIVE_HANDLE(cert, IDM_MAGIC_CERT))
        return;
    idm_cert_rec_clear(&(*cert)->rec);
    idm_handle_kill(*cert);
    free(*cert);
    *cert = NULL;
}

#define CERT_GETTER(fn, type, field) \
    IDM_FIELD_GETTER(fn, idm_cert_t, cert, IDM_MAGIC_CERT, "idm_cert_t", type, field)

CERT_GETTER(idm_cert_get_id, int64_t, rec.id)
CERT_GETTER(idm_cert_get_card_id, int64_t, rec.card_id)
CERT_GETTER(idm_cert_get_serial, const char *, rec.serial)
IDM_EXPORT int idm_cert_get_der(const idm_cert_t *cert, const unsigned char **der, size_t *len)
{
    CHECK_CERT(cert);
    IDM_CHECK_NOT_NULL(der);
    IDM_CHECK_NOT_NULL(len);
    *der = cert->rec.der;
    *len = cert->rec.der_len;
    return IDM_OK;
}

IDM_EXPORT int idm_cert_get_validity(const idm_cert_t *cert, int64_t *not_before,
                                     int64_t *not_after)
{
    CHECK_CERT(cert);
    if (not_before != NULL)
        *not_before = cert->rec.not_before_ms;
    if (not_after != NULL)
        *not_after = cert->rec.not_after_ms;
    return IDM_OK;
}

CERT_GETTER(idm_cert_get_state, idm_cert_state, rec.state)
IDM_EXPORT int idm_cert_iter_new(idm_ctx_t *ctx, int64_t card_id, idm_cert_iter_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    if (card_id <= 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'card_id' is %" PRId64 "; ids are > 0",
                        card_id);
    int rc = idm_id_iter_new(ctx, __func__, IDM_MAGIC_CERT_ITER, IDM_OBJECT_CERTIFICATE,
                             (struct idm_id_iter **)out);
    if (rc == IDM_OK)
        (*out)->base.filter.card_id = card_id;
    return rc;
}

IDM_EXPORT int idm_cert_iter_next(idm_cert_iter_t *iter, idm_cert_t **out)
{
    CHECK_ITER(iter);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    int64_t id;
    int rc = idm_id_iter_next_id(&iter->base, &id);
    if (rc == IDM_OK && id != 0)
        rc = idm_cert_handle_new(iter->base.ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_cert_iter_free(idm_cert_iter_t **iter)
{
    if (!IDM_LIVE_HANDLE(iter, IDM_MAGIC_CERT_ITER))
        return;
    idm_id_iter_free(&(*iter)->base);
    *iter = NULL;
}

const struct idm_cert_rec *idm_cert_handle_rec(const idm_cert_t *cert)
{
    return &cert->rec;
}

idm_ctx_t *idm_cert_handle_ctx(const idm_cert_t *cert)
{
    return cert->ctx;
}

int idm_cert_handle_reload(idm_cert_t *cert)
{
    struct idm_store *s;
    struct idm_cert_rec rec;
    int rc = idm_ctx_store(cert->ctx, &s);
    if (rc == IDM_OK)
        rc = s->ops->cert_load(s, cert->rec.id, &rec);
    if (rc != IDM_OK)
        return rc;
    idm_cert_rec_clear(&cert->rec);
    cert->rec = rec;
    return IDM_OK;
}

CERT_GETTER(idm_cert_get_usage, idm_key_usage, rec.usage)

IDM_EXPORT int idm_cert_get_revocation(const idm_cert_t *cert, idm_revocation_reason *reason,
                                       int64_t *time_ms)
{
    CHECK_CERT(cert);
    if (cert->rec.revocation_reason < 0)
        return IDM_FAIL(IDM_ERR_STATE, "certificate %s is %s, neither revoked nor on hold",
                        cert->rec.serial, idm_cert_state_name(cert->rec.state));
    if (reason != NULL)
        *reason = (idm_revocation_reason)cert->rec.revocation_reason;
    if (time_ms != NULL)
        *time_ms = cert->rec.revoked_ms;
    return IDM_OK;
}
