/* The context's private layout, shared by the files of src/. */
#ifndef IDM_CORE_CONTEXT_IMPL_H
#define IDM_CORE_CONTEXT_IMPL_H

#include <stdint.h>

#include <idm/context.h>

#include "core/handle.h"

struct idm_store;
struct idm_optset;

struct idm_ctx {
    uint32_t magic; /* IDM_MAGIC_CTX */
    idm_log_fn log_fn;
    void *log_user_data;
    idm_log_level log_level;
    idm_clock_fn clock_fn;
    void *clock_user_data;
    idm_random_fn random_fn;
    void *random_user_data;
    struct idm_store *store;          /* NULL until idm_ctx_open_store() */
    struct idm_optset *options_view;  /* what idm_options_get_string() pointed into */
};

#define IDM_CHECK_CTX(ctx) IDM_CHECK_HANDLE(ctx, IDM_MAGIC_CTX, "idm_ctx_t")

/* The context's clock, in milliseconds since the Unix epoch. */
int64_t idm_ctx_clock_ms(const idm_ctx_t *ctx);

/*
 * The open store of a context, or IDM_ERR_STATE (message without a function
 * name) when none is open.
 */
int idm_ctx_store(const idm_ctx_t *ctx, struct idm_store **out);

#endif /* IDM_CORE_CONTEXT_IMPL_H */
