/*
 * Notifier handles: the copy of a host's ops table, and the built-in
 * maildir notifier registered as one more user of the same table.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/notifier/notifier_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"

IDM_EXPORT const char *idm_notification_kind_name(idm_notification_kind kind)
{
    switch (kind) {
    case IDM_NOTIFY_CARD_ORDERED:
        return "card_ordered";
    case IDM_NOTIFY_CARD_PRODUCED:
        return "card_produced";
    case IDM_NOTIFY_CARD_ACTIVATED:
        return "card_activated";
    }
    return "unknown";
}

int idm_notifier_call_end(int rc, const char *what)
{
    return idm_backend_result(rc, "notifier", what);
}

static int notifier_alloc(const idm_notifier_ops *ops, size_t ops_size, void *user_data,
                          void (*destroy)(void *), idm_notifier_t **out)
{
    idm_notifier_t *n = calloc(1, sizeof *n);
    if (n == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a notifier");
    n->magic = IDM_MAGIC_NOTIFIER;
    idm_ops_copy(&n->ops, sizeof n->ops, ops, ops_size);
    n->user_data = user_data;
    n->destroy = destroy;
    *out = n;
    return IDM_OK;
}

IDM_EXPORT int idm_notifier_new(idm_notifier_t **out, const idm_notifier_ops *ops,
                                size_t ops_size, void *user_data, void (*destroy)(void *user_data))
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(ops);
    size_t required = offsetof(idm_notifier_ops, send) + sizeof ops->send;
    if (ops_size < required)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'ops_size' is %zu; an idm_notifier_ops "
                        "of version %d has at least %zu bytes", ops_size,
                        IDM_NOTIFIER_OPS_VERSION, required);
    if (ops->version != IDM_NOTIFIER_OPS_VERSION)
        return IDM_FAIL(IDM_ERR_UNSUPPORTED, "ops->version is %" PRIu32 "; this library knows "
                        "idm_notifier_ops version %d", ops->version, IDM_NOTIFIER_OPS_VERSION);
    if (ops->send == NULL)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "ops->send is NULL");
    int rc = notifier_alloc(ops, ops_size, user_data, destroy, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_notifier_backend_error(const char *message)
{
    IDM_CHECK_NOT_NULL(message);
    idm_backend_say(message);
    return IDM_OK;
}

IDM_EXPORT int idm_notifier_new_maildir(idm_notifier_t **out, const char *dir, const char *from)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(dir);
    IDM_CHECK_NOT_NULL(from);
    void *maildir = NULL;
    int rc = idm_maildir_notifier_new(&maildir, dir, from);
    if (rc == IDM_OK) {
        rc = notifier_alloc(&idm_maildir_notifier_ops, sizeof idm_maildir_notifier_ops, maildir,
                            idm_maildir_notifier_free, out);
        if (rc != IDM_OK)
            idm_maildir_notifier_free(maildir);
    }
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_notifier_free(idm_notifier_t **notifier)
{
    if (!IDM_LIVE_HANDLE(notifier, IDM_MAGIC_NOTIFIER))
        return;
    if ((*notifier)->destroy != NULL)
        (*notifier)->destroy((*notifier)->user_data);
    idm_handle_kill(*notifier);
    free(*notifier);
    *notifier = NULL;
}
