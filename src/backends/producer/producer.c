/*
 * Producer handles: the copy of a host's ops table, and the built-in spool
 * producer registered as one more user of the same table.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/producer/producer_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"

#define MESSAGE_ID_MAX 128

IDM_EXPORT const char *idm_bureau_status_name(idm_bureau_status status)
{
    switch (status) {
    case IDM_BUREAU_IN_PRODUCTION:
        return "in_production";
    case IDM_BUREAU_PRODUCED:
        return "produced";
    case IDM_BUREAU_FAILED:
        return "failed";
    }
    return "unknown";
}

int idm_message_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n] != '\0'; n++) {
        char c = id[n];
        if (n == MESSAGE_ID_MAX || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                     (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    /* a leading letter or digit: no hidden file, no "." or ".." */
    char first = id[0];
    return n > 0 && ((first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z') ||
                     (first >= '0' && first <= '9'));
}

int idm_producer_call_end(int rc, const char *what)
{
    return idm_backend_result(rc, "producer", what);
}

static int producer_alloc(const idm_producer_ops *ops, size_t ops_size, void *user_data,
                          void (*destroy)(void *), idm_producer_t **out)
{
    idm_producer_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a producer");
    p->magic = IDM_MAGIC_PRODUCER;
    idm_ops_copy(&p->ops, sizeof p->ops, ops, ops_size);
    p->user_data = user_data;
    p->destroy = destroy;
    *out = p;
    return IDM_OK;
}

IDM_EXPORT int idm_producer_new(idm_producer_t **out, const idm_producer_ops *ops,
                                size_t ops_size, void *user_data, void (*destroy)(void *user_data))
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(ops);
    size_t required = offsetof(idm_producer_ops, status) + sizeof ops->status;
    if (ops_size < required)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'ops_size' is %zu; an idm_producer_ops "
                        "of version %d has at least %zu bytes", ops_size,
                        IDM_PRODUCER_OPS_VERSION, required);
    if (ops->version != IDM_PRODUCER_OPS_VERSION)
        return IDM_FAIL(IDM_ERR_UNSUPPORTED, "ops->version is %" PRIu32 "; this library knows "
                        "idm_producer_ops version %d", ops->version, IDM_PRODUCER_OPS_VERSION);
    if (ops->submit == NULL || ops->status == NULL)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "ops->%s is NULL; only cancel may be left out",
                        ops->submit == NULL ? "submit" : "status");
    int rc = producer_alloc(ops, ops_size, user_data, destroy, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_producer_backend_error(const char *message)
{
    IDM_CHECK_NOT_NULL(message);
    idm_backend_say(message);
    return IDM_OK;
}

IDM_EXPORT int idm_producer_new_spool(idm_producer_t **out, const char *dir)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(dir);
    void *spool = NULL;
    int rc = idm_spool_producer_new(&spool, dir);
    if (rc == IDM_OK) {
        rc = producer_alloc(&idm_spool_producer_ops, sizeof idm_spool_producer_ops, spool,
                            idm_spool_producer_free, out);
        if (rc != IDM_OK)
            idm_spool_producer_free(spool);
    }
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_producer_free(idm_producer_t **producer)
{
    if (!IDM_LIVE_HANDLE(producer, IDM_MAGIC_PRODUCER))
        return;
    if ((*producer)->destroy != NULL)
        (*producer)->destroy((*producer)->user_data);
    idm_handle_kill(*producer);
    free(*producer);
    *producer = NULL;
}
