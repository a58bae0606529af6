#include <idm/buffer.h>

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"

/* Larger than any certificate, CRL or key the library handles. */
#define BUFFER_MAX ((size_t)16 << 20)

#define CHECK_BUFFER(b) IDM_CHECK_HANDLE(b, IDM_MAGIC_BUFFER, "idm_buffer_t")

IDM_EXPORT int idm_buffer_new(idm_buffer_t **out)
{
    IDM_CHECK_NOT_NULL(out);
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return IDM_FAIL(IDM_ERR_NO_MEMORY, "cannot allocate a buffer");
    (*out)->magic = IDM_MAGIC_BUFFER;
    return IDM_OK;
}

static void buffer_clear(idm_buffer_t *b)
{
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->len);
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

IDM_EXPORT void idm_buffer_free(idm_buffer_t **buffer)
{
    if (!IDM_LIVE_HANDLE(buffer, IDM_MAGIC_BUFFER))
        return;
    buffer_clear(*buffer);
    idm_handle_kill(*buffer);
    free(*buffer);
    *buffer = NULL;
}

int idm_buffer_put(idm_buffer_t *b, const void *data, size_t len)
{
    unsigned char *copy = NULL;
    if (len > 0) {
        if ((copy = malloc(len)) == NULL)
            return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu bytes", len);
        memcpy(copy, data, len);
    }
    buffer_clear(b);
    b->data = copy;
    b->len = b->cap = len;
    return IDM_OK;
}

int idm_buffer_append(idm_buffer_t *b, const void *data, size_t len)
{
    if (len > BUFFER_MAX - b->len)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "a buffer holds at most %zu bytes", BUFFER_MAX);
    if (b->len + len > b->cap) {
        size_t cap = b->cap < 256 ? 256 : b->cap;
        while (cap < b->len + len)
            cap *= 2;
        /* a new block rather than realloc, so the old bytes can be wiped */
        unsigned char *grown = malloc(cap);
        if (grown == NULL)
            return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu bytes", cap);
        size_t used = b->len;
        if (used > 0)
            memcpy(grown, b->data, used);
        buffer_clear(b);
        b->data = grown;
        b->len = used;
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return IDM_OK;
}

IDM_EXPORT int idm_buffer_set(idm_buffer_t *buffer, const void *data, size_t len)
{
    CHECK_BUFFER(buffer);
    if (data == NULL && len > 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'data' is NULL");
    if (len > BUFFER_MAX)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'len' is %zu; at most %zu bytes", len,
                        BUFFER_MAX);
    int rc = idm_buffer_put(buffer, data, len);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_buffer_get(const idm_buffer_t *buffer, const unsigned char **data, size_t *len)
{
    CHECK_BUFFER(buffer);
    IDM_CHECK_NOT_NULL(data);
    IDM_CHECK_NOT_NULL(len);
    *data = buffer->data;
    *len = buffer->len;
    return IDM_OK;
}
