/*
 * The paged id iterator behind idm_identity_iter_t, idm_card_iter_t,
 * idm_cert_iter_t and idm_order_iter_t: it reads ids from the store a page
 * at a time (no long-lived statement, bounded memory) and each public
 * iterator loads the objects.
 */
#ifndef IDM_MODEL_ITER_H
#define IDM_MODEL_ITER_H

#include <stdint.h>

#include <idm/audit.h>

#include "store/store.h"

#define IDM_ITER_PAGE 128

struct idm_id_iter {
    uint32_t magic; /* the public type's magic */
    idm_ctx_t *ctx;
    idm_object_type kind;
    struct idm_list_filter filter;
    int started;
    int done;
    int64_t after_id;
    int64_t ids[IDM_ITER_PAGE];
    size_t n, pos;
};

/* Allocates an iterator of a kind; errors name func. */
int idm_id_iter_new(idm_ctx_t *ctx, const char *func, uint32_t magic, idm_object_type kind,
                    struct idm_id_iter **out);
/* IDM_ERR_STATE naming func once the iteration began. */
int idm_id_iter_check_unstarted(const struct idm_id_iter *it, const char *func);
/* The next id, or 0 at the end.  Errors carry no function name. */
int idm_id_iter_next_id(struct idm_id_iter *it, int64_t *id);
void idm_id_iter_free(struct idm_id_iter *it);

#endif /* IDM_MODEL_ITER_H */
