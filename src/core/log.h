/*
 * Internal logging.  Messages go to the host's log callback and nowhere
 * else; the library never writes to stdout or stderr.  Never pass a secret
 * (key, PIN, PUK, management key) to these functions.
 */
#ifndef IDM_CORE_LOG_H
#define IDM_CORE_LOG_H

#include "core/context_impl.h"
#include "core/error_impl.h"

void idm_log(const idm_ctx_t *ctx, idm_log_level level, const char *component,
             const char *fmt, ...) IDM_PRINTF(4, 5);

#define idm_log_error(ctx, comp, ...) idm_log((ctx), IDM_LOG_ERROR, (comp), __VA_ARGS__)
#define idm_log_warning(ctx, comp, ...) idm_log((ctx), IDM_LOG_WARNING, (comp), __VA_ARGS__)
#define idm_log_info(ctx, comp, ...) idm_log((ctx), IDM_LOG_INFO, (comp), __VA_ARGS__)
#define idm_log_debug(ctx, comp, ...) idm_log((ctx), IDM_LOG_DEBUG, (comp), __VA_ARGS__)

#endif /* IDM_CORE_LOG_H */
