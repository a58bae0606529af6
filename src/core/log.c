#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/export.h"
#include "model/text.h"

/* Long enough for any message the library writes; longer ones end in "...". */
#define IDM_LOG_MESSAGE_MAX 2048

static const char *const level_names[] = {
    [IDM_LOG_ERROR] = "error",
    [IDM_LOG_WARNING] = "warning",
    [IDM_LOG_INFO] = "info",
    [IDM_LOG_DEBUG] = "debug",
};

IDM_EXPORT const char *idm_log_level_name(idm_log_level level)
{
    if ((int)level < IDM_LOG_ERROR || (int)level > IDM_LOG_DEBUG)
        return "unknown";
    return level_names[level];
}

void idm_log(const idm_ctx_t *ctx, idm_log_level level, const char *component,
             const char *fmt, ...)
{
    if (ctx == NULL || ctx->log_fn == NULL || level > ctx->log_level)
        return;

    char message[IDM_LOG_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(message, sizeof message, "(unformattable log message)");
    else if ((size_t)n >= sizeof message) /* "..." never cuts a character */
        memcpy(message + idm_utf8_cut(message, sizeof message - 4), "...", 4);

    ctx->log_fn(level, component, message, ctx->log_user_data);
}
