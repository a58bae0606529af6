#include "core/context_impl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "core/error_impl.h"
#include "core/export.h"
#include "core/log.h"
#include "model/options_impl.h"
#include "model/states.h"
#include "store/store.h"

IDM_EXPORT int idm_ctx_new(idm_ctx_t **out)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;

    idm_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return IDM_FAIL(IDM_ERR_NO_MEMORY, "cannot allocate a context of %zu bytes",
                        sizeof *ctx);
    ctx->magic = IDM_MAGIC_CTX;
    ctx->log_level = IDM_LOG_INFO;

    /* The state graphs are data; a broken table must not reach a store. */
    int rc = idm_states_validate();
    if (rc != IDM_OK) {
        free(ctx);
        return idm_error_prefix(__func__, rc);
    }
    *out = ctx;
    return IDM_OK;
}

IDM_EXPORT void idm_ctx_free(idm_ctx_t **ctx)
{
    if (ctx == NULL || *ctx == NULL)
        return;
    /* Freeing memory that is not a context would corrupt the host's heap;
     * leaking it is the lesser harm. */
    if (!IDM_LIVE_HANDLE(ctx, IDM_MAGIC_CTX))
        return;
    if ((*ctx)->store != NULL)
        (*ctx)->store->ops->close((*ctx)->store);
    idm_optset_free((*ctx)->options_view);
    idm_handle_kill(*ctx);
    free(*ctx);
    *ctx = NULL;
}

IDM_EXPORT int idm_ctx_set_log_callback(idm_ctx_t *ctx, idm_log_fn fn, void *user_data)
{
    IDM_CHECK_CTX(ctx);
    ctx->log_fn = fn;
    ctx->log_user_data = user_data;
    return IDM_OK;
}

IDM_EXPORT int idm_ctx_set_log_level(idm_ctx_t *ctx, idm_log_level level)
{
    IDM_CHECK_CTX(ctx);
    if ((int)level < IDM_LOG_ERROR || (int)level > IDM_LOG_DEBUG)
        return IDM_FAIL(IDM_ERR_INVALID_ARG,
                        "argument 'level' is %d; expected IDM_LOG_ERROR (%d) .. IDM_LOG_DEBUG (%d)",
                        (int)level, IDM_LOG_ERROR, IDM_LOG_DEBUG);
    ctx->log_level = level;
    return IDM_OK;
}

IDM_EXPORT int idm_ctx_set_clock(idm_ctx_t *ctx, idm_clock_fn fn, void *user_data)
{
    IDM_CHECK_CTX(ctx);
    ctx->clock_fn = fn;
    ctx->clock_user_data = fn != NULL ? user_data : NULL;
    idm_log_info(ctx, "core", "clock: %s", fn != NULL ? "the host's callback" : "the system clock");
    return IDM_OK;
}

IDM_EXPORT int idm_ctx_set_random(idm_ctx_t *ctx, idm_random_fn fn, void *user_data)
{
    IDM_CHECK_CTX(ctx);
    ctx->random_fn = fn;
    ctx->random_user_data = fn != NULL ? user_data : NULL;
    idm_log_info(ctx, "core", "random source: %s",
                 fn != NULL ? "the host's callback" : "OpenSSL's generator");
    return IDM_OK;
}

static int64_t system_clock_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (int64_t)time(NULL) * 1000;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t idm_ctx_clock_ms(const idm_ctx_t *ctx)
{
    return ctx->clock_fn != NULL ? ctx->clock_fn(ctx->clock_user_data) : system_clock_ms();
}

IDM_EXPORT int idm_ctx_now(idm_ctx_t *ctx, int64_t *out_ms)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out_ms);
    *out_ms = idm_ctx_clock_ms(ctx);
    return IDM_OK;
}

/* Returns 0, or -1 with OpenSSL's own words in reason. */
static int openssl_random(unsigned char *buf, size_t len, char *reason, size_t reason_size)
{
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(buf, chunk) != 1) {
            ERR_error_string_n(ERR_get_error(), reason, reason_size);
            ERR_clear_error();
            return -1;
        }
        buf += chunk;
        len -= (size_t)chunk;
    }
    return 0;
}

IDM_EXPORT int idm_ctx_random_bytes(idm_ctx_t *ctx, void *buf, size_t len)
{
    IDM_CHECK_CTX(ctx);
    if (len == 0)
        return IDM_OK;
    IDM_CHECK_NOT_NULL(buf);

    int rc = IDM_OK;
    if (ctx->random_fn == NULL) {
        char reason[256];
        if (openssl_random(buf, len, reason, sizeof reason) != 0) {
            idm_log_error(ctx, "core", "OpenSSL random generator failed: %s", reason);
            rc = IDM_FAIL(IDM_ERR_CRYPTO, "OpenSSL RAND_bytes failed: %s", reason);
        }
    } else {
        int host_rc = ctx->random_fn(buf, len, ctx->random_user_data);
        if (host_rc != 0)
            rc = IDM_FAIL(IDM_ERR_CRYPTO, "the host's random source returned %d for %zu bytes",
                          host_rc, len);
    }
    /* Never hand out half-random bytes that a caller might use anyway. */
    if (rc != IDM_OK)
        memset(buf, 0, len);
    return rc;
}

int idm_ctx_store(const idm_ctx_t *ctx, struct idm_store **out)
{
    if (ctx->store == NULL)
        return IDM_ERR(IDM_ERR_STATE, "no store is open; call idm_ctx_open_store() first");
    *out = ctx->store;
    return IDM_OK;
}

IDM_EXPORT int idm_ctx_open_store(idm_ctx_t *ctx, const char *path)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(path);
    if (path[0] == '\0')
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'path' is empty");
    if (ctx->store != NULL)
        return IDM_FAIL(IDM_ERR_STATE, "a store is already open on this context");

    int rc = idm_sqlite_store_open(&ctx->store, path);
    if (rc != IDM_OK) {
        idm_log_error(ctx, "store", "%s", idm_last_error_message());
        return idm_error_prefix(__func__, rc);
    }
    idm_log_info(ctx, "store", "opened store '%s' (%s)", path, ctx->store->ops->engine);
    return IDM_OK;
}
