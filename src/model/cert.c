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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/certificate.h>

#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "model/audit_impl.h"
#include "model/card_impl.h"
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

/* The serial (upper-case hex) and validity of a DER certificate. */
static int parse_der(const unsigned char *der, size_t len, char **serial, int64_t *not_before,
                     int64_t *not_after)
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
    if (hex == NULL) {
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot read the certificate's serial number");
    } else if (!asn1_time_ms(X509_get0_notBefore(x), not_before) ||
               !asn1_time_ms(X509_get0_notAfter(x), not_after)) {
        rc = IDM_ERR(IDM_ERR_PARSE, "argument 'der' has an unreadable validity period");
    } else if ((*serial = strdup(hex)) == NULL) {
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy the serial number");
    }
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

static int cert_alloc(idm_ctx_t *ctx, int64_t id, idm_cert_t **out)
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
    if ((rc = parse_der(der, der_len, &rec.serial, &rec.not_before_ms, &rec.not_after_ms)) !=
        IDM_OK)
        return idm_error_prefix(__func__, rc);
    rec.der = (unsigned char *)der; /* borrowed for the insert */
    rec.der_len = der_len;

    idm_ctx_t *ctx = idm_card_handle_ctx(card);
    struct idm_store *s;
    if ((rc = idm_ctx_store(ctx, &s)) != IDM_OK || (rc = s->ops->begin(s)) != IDM_OK) {
        free(rec.serial);
        return idm_error_prefix(__func__, rc);
    }
    struct idm_card_rec holder;
    rc = s->ops->card_load(s, idm_card_handle_id(card), &holder);
    if (rc == IDM_OK) {
        /* A new certificate waits on hold until its card becomes active. */
        idm_cert_state state = IDM_CERT_ON_HOLD;
        idm_cert_state_for_card(holder.state, &state);
        if (state == IDM_CERT_REVOKED || state == IDM_CERT_EXPIRED) {
            char label[96];
            idm_card_label(&holder, label, sizeof label);
            rc = IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; it cannot take a certificate",
                         label, idm_card_state_name(holder.state));
        }
        rec.state = state;
        rec.card_id = holder.id;
        rec.created_ms = idm_ctx_clock_ms(ctx);
        if (rc == IDM_OK) {
            rc = s->ops->cert_insert(s, &rec);
            if (rc == IDM_ERR_EXISTS)
                rc = IDM_ERR(IDM_ERR_EXISTS, "a certificate with serial %s is already recorded",
                             rec.serial);
        }
        if (rc == IDM_OK)
            rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_CERTIFICATE, rec.id, NULL,
                                  idm_cert_state_name(state), "serial %s recorded for card %s",
                                  rec.serial, holder.number);
        idm_card_rec_clear(&holder);
    }
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    free(rec.serial);
    if (rc == IDM_OK && out != NULL)
        rc = cert_alloc(ctx, rec.id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_cert_open(idm_ctx_t *ctx, int64_t id, idm_cert_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    if (id <= 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'id' is %" PRId64 "; ids are > 0", id);
    int rc = cert_alloc(ctx, id, out);
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
        rc = cert_alloc(ctx, id, out);
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
        rc = cert_alloc(iter->base.ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_cert_iter_free(idm_cert_iter_t **iter)
{
    if (!IDM_LIVE_HANDLE(iter, IDM_MAGIC_CERT_ITER))
        return;
    idm_id_iter_free(&(*iter)->base);
    *iter = NULL;
}
