/* The context's private layout, shared by the files of src/. */
#ifndef IDM_CORE_CONTEXT_IMPL_H
#define IDM_CORE_CONTEXT_IMPL_H

#include <stdint.h>

#include <idm/context.h>

/*
 * Each handle type starts with its own magic number, so a freed, zeroed or
 * wrongly cast handle is refused with IDM_ERR_INVALID_ARG instead of being
 * used.  The values spell the type in ASCII.
 */
#define IDM_MAGIC_CTX 0x69646d43u  /* "idmC" */
#define IDM_MAGIC_DEAD 0xdeadbeefu /* written into a handle as it is freed */

struct idm_ctx {
    uint32_t magic;
    idm_log_fn log_fn;
    void *log_user_data;
    idm_log_level log_level;
    idm_clock_fn clock_fn;
    void *clock_user_data;
    idm_random_fn random_fn;
    void *random_user_data;
};

/*
 * Returns IDM_OK if ctx is a live context; otherwise sets the detail message
 * (naming func) and returns IDM_ERR_INVALID_ARG.
 */
int idm_ctx_validate(const idm_ctx_t *ctx, const char *func);

#define IDM_CHECK_CTX(ctx)                                 \
    do {                                                   \
        int check_rc_ = idm_ctx_validate((ctx), __func__); \
        if (check_rc_ != IDM_OK)                           \
            return check_rc_;                              \
    } while (0)

#endif /* IDM_CORE_CONTEXT_IMPL_H */
