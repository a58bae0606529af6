#include "model/iter.h"

#include <stdlib.h>

#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/handle.h"

int idm_id_iter_new(idm_ctx_t *ctx, const char *func, uint32_t magic, idm_object_type kind,
                    struct idm_id_iter **out)
{
    *out = NULL;
    struct idm_store *s;
    int rc = idm_ctx_store(ctx, &s);
    if (rc != IDM_OK)
        return idm_error_prefix(func, rc);
    struct idm_id_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return idm_error_set(func, IDM_ERR_NO_MEMORY, "cannot allocate an iterator");
    it->magic = magic;
    it->ctx = ctx;
    it->kind = kind;
    *out = it;
    return IDM_OK;
}

int idm_id_iter_check_unstarted(const struct idm_id_iter *it, const char *func)
{
    if (it->started)
        return idm_error_set(func, IDM_ERR_STATE,
                             "filters must be set before the first call of next");
    return IDM_OK;
}

int idm_id_iter_next_id(struct idm_id_iter *it, int64_t *id)
{
    *id = 0;
    it->started = 1;
    if (it->pos == it->n && !it->done) {
        struct idm_store *s;
        int rc = idm_ctx_store(it->ctx, &s);
        if (rc == IDM_OK)
            rc = s->ops->list_ids(s, it->kind, &it->filter, it->after_id, IDM_ITER_PAGE, it->ids,
                                  &it->n);
        if (rc != IDM_OK)
            return rc;
        it->pos = 0;
        it->done = it->n < IDM_ITER_PAGE;
        if (it->n > 0)
            it->after_id = it->ids[it->n - 1];
    }
    if (it->pos < it->n)
        *id = it->ids[it->pos++];
    return IDM_OK;
}

void idm_id_iter_free(struct idm_id_iter *it)
{
    if (it == NULL)
        return;
    idm_handle_kill(it);
    free(it);
}
