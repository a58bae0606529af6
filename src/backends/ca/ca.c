/*
 * CA handles: the copy of a host's ops table, the built-in CA registered as
 * one more user of the same table, and the request getters host CAs read.
 */
#include <inttypes.h>
#include <stddef.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/ca/ca_impl.h"
#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "model/text.h"

#define CHECK_CA(ca) IDM_CHECK_HANDLE(ca, IDM_MAGIC_CA, "idm_ca_t")
#define CHECK_REQUEST(r) IDM_CHECK_HANDLE(r, IDM_MAGIC_CERT_REQUEST, "idm_cert_request_t")

void idm_ca_backend_reset(void)
{
    idm_backend_call_reset();
}

int idm_ca_backend_failed(const char *what, int code)
{
    char why[512];
    idm_backend_words(why, sizeof why);
    return IDM_ERR(IDM_ERR_BACKEND, "the CA failed to %s (it returned %d): %s", what, code, why);
}

IDM_EXPORT int idm_ca_backend_error(const char *message)
{
    IDM_CHECK_NOT_NULL(message);
    idm_backend_say(message);
    return IDM_OK;
}

static int ca_alloc(const idm_ca_ops *ops, size_t ops_size, void *user_data,
                    void (*destroy)(void *), idm_ca_t **out)
{
    idm_ca_t *ca = calloc(1, sizeof *ca);
    if (ca == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a CA");
    ca->magic = IDM_MAGIC_CA;
    idm_ops_copy(&ca->ops, sizeof ca->ops, ops, ops_size);
    ca->user_data = user_data;
    ca->destroy = destroy;
    *out = ca;
    return IDM_OK;
}

IDM_EXPORT int idm_ca_new(idm_ca_t **out, const idm_ca_ops *ops, size_t ops_size,
                          void *user_data, void (*destroy)(void *user_data))
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(ops);
    size_t required = offsetof(idm_ca_ops, revoke) + sizeof ops->revoke;
    if (ops_size < required)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'ops_size' is %zu; an idm_ca_ops with "
                        "issue and revoke has at least %zu bytes", ops_size, required);
    if (ops->version != IDM_CA_OPS_VERSION)
        return IDM_FAIL(IDM_ERR_UNSUPPORTED, "ops->version is %" PRIu32 "; this library knows "
                        "idm_ca_ops version %d", ops->version, IDM_CA_OPS_VERSION);
    if (ops->issue == NULL || ops->revoke == NULL)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "ops->%s is NULL; issue and revoke are required",
                        ops->issue == NULL ? "issue" : "revoke");
    int rc = ca_alloc(ops, ops_size, user_data, destroy, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_ca_free(idm_ca_t **ca)
{
    if (!IDM_LIVE_HANDLE(ca, IDM_MAGIC_CA))
        return;
    if ((*ca)->destroy != NULL)
        (*ca)->destroy((*ca)->user_data);
    idm_handle_kill(*ca);
    free(*ca);
    *ca = NULL;
}

/* Wraps a built-in CA in a handle that uses the built-in ops table. */
static int builtin_handle(struct idm_openssl_ca *builtin, idm_ca_t **out)
{
    int rc = ca_alloc(&idm_openssl_ca_ops, sizeof idm_openssl_ca_ops, builtin,
                      idm_openssl_ca_free, out);
    if (rc != IDM_OK) {
        idm_openssl_ca_free(builtin);
        return rc;
    }
    (*out)->builtin = builtin;
    return IDM_OK;
}

IDM_EXPORT int idm_ca_new_openssl(idm_ca_t **out, idm_ctx_t *ctx, idm_key_type key_type,
                                  const char *common_name, int validity_days)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_CTX(ctx);
    int rc = idm_check_text(__func__, "common_name", common_name, 64, 0, 1);
    if (rc != IDM_OK)
        return rc;
    if ((int)key_type < IDM_KEY_EC_P256 || (int)key_type > IDM_KEY_RSA_3072)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'key_type' is %d; not an idm_key_type",
                        (int)key_type);
    if (validity_days < 1 || validity_days > 10950)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'validity_days' is %d; expected 1..10950",
                        validity_days);
    struct idm_openssl_ca *builtin = NULL;
    rc = idm_openssl_ca_generate(&builtin, ctx, key_type, common_name, validity_days);
    if (rc == IDM_OK)
        rc = builtin_handle(builtin, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_ca_new_openssl_pem(idm_ca_t **out, idm_ctx_t *ctx, const char *cert_pem,
                                      size_t cert_len, const char *key_pem, size_t key_len,
                                      idm_passphrase_fn passphrase, void *user_data)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(cert_pem);
    IDM_CHECK_NOT_NULL(key_pem);
    if (cert_len == 0 || key_len == 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument '%s' is 0", cert_len == 0 ? "cert_len"
                                                                                 : "key_len");
    struct idm_openssl_ca *builtin = NULL;
    int rc = idm_openssl_ca_load(&builtin, ctx, cert_pem, cert_len, key_pem, key_len, passphrase,
                                 user_data);
    if (rc == IDM_OK)
        rc = builtin_handle(builtin, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_ca_get_certificate(const idm_ca_t *ca, idm_buffer_t *der)
{
    CHECK_CA(ca);
    IDM_CHECK_HANDLE(der, IDM_MAGIC_BUFFER, "idm_buffer_t");
    if (ca->builtin == NULL)
        return IDM_FAIL(IDM_ERR_UNSUPPORTED, "a host CA keeps its own certificate");
    int rc = idm_openssl_ca_certificate(ca->builtin, der);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_ca_export_key(const idm_ca_t *ca, idm_passphrase_fn passphrase,
                                 void *user_data, idm_buffer_t *pem)
{
    CHECK_CA(ca);
    IDM_CHECK_NOT_NULL(passphrase);
    IDM_CHECK_HANDLE(pem, IDM_MAGIC_BUFFER, "idm_buffer_t");
    if (ca->builtin == NULL)
        return IDM_FAIL(IDM_ERR_UNSUPPORTED, "a host CA keeps its own key");
    int rc = idm_openssl_ca_export_key(ca->builtin, passphrase, user_data, pem);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

/* ---- requests ---------------------------------------------------------- */

void idm_cert_request_clear(struct idm_cert_request *req)
{
    free(req->spki);
    free(req->subject);
    for (size_t i = 0; i < req->nrdns; i++)
        free(req->rdns[i].value);
    free(req->rdns);
    free(req->upn);
    free(req->email);
    free(req->idempotency_key);
    free(req->crl_url);
    free(req->aia_url);
    memset(req, 0, sizeof *req);
}

IDM_EXPORT int idm_cert_request_get_public_key(const idm_cert_request_t *request,
                                               const unsigned char **spki, size_t *len)
{
    CHECK_REQUEST(request);
    IDM_CHECK_NOT_NULL(spki);
    IDM_CHECK_NOT_NULL(len);
    *spki = request->spki;
    *len = request->spki_len;
    return IDM_OK;
}

IDM_EXPORT int idm_cert_request_get_subject(const idm_cert_request_t *request, const char **out)
{
    CHECK_REQUEST(request);
    IDM_CHECK_NOT_NULL(out);
    *out = request->subject;
    return IDM_OK;
}

IDM_EXPORT int idm_cert_request_get_names(const idm_cert_request_t *request, const char **upn,
                                          const char **email)
{
    CHECK_REQUEST(request);
    if (upn != NULL)
        *upn = request->upn;
    if (email != NULL)
        *email = request->email;
    return IDM_OK;
}

IDM_EXPORT int idm_cert_request_get_profile(const idm_cert_request_t *request,
                                            idm_card_type *type, idm_key_usage *usage)
{
    CHECK_REQUEST(request);
    if (type != NULL)
        *type = request->type;
    if (usage != NULL)
        *usage = request->usage;
    return IDM_OK;
}

IDM_EXPORT int idm_cert_request_get_validity(const idm_cert_request_t *request,
                                             int64_t *not_before, int64_t *not_after)
{
    CHECK_REQUEST(request);
    if (not_before != NULL)
        *not_before = request->not_before_ms;
    if (not_after != NULL)
        *not_after = request->not_after_ms;
    return IDM_OK;
}

IDM_EXPORT int idm_cert_request_get_idempotency_key(const idm_cert_request_t *request,
                                                    const char **out)
{
    CHECK_REQUEST(request);
    IDM_CHECK_NOT_NULL(out);
    *out = request->idempotency_key;
    return IDM_OK;
}
