#include "core/error_impl.h"

#include <openssl/err.h>

#include <stdio.h>
#include <string.h>

#include "core/export.h"
#include "model/text.h"

/* Large enough for a card number, two state names and a backend's words. */
#define IDM_ERROR_MESSAGE_MAX 1024

static _Thread_local char last_message[IDM_ERROR_MESSAGE_MAX];

struct error_entry {
    int code;
    const char *name;
    const char *text;
};

/* One row per idm_err value; the order follows the enum. */
static const struct error_entry error_table[] = {
    {IDM_OK, "IDM_OK", "success"},
    {IDM_ERR_INVALID_ARG, "IDM_ERR_INVALID_ARG", "invalid argument"},
    {IDM_ERR_NO_MEMORY, "IDM_ERR_NO_MEMORY", "out of memory"},
    {IDM_ERR_STATE, "IDM_ERR_STATE", "operation not allowed in the current state"},
    {IDM_ERR_NOT_FOUND, "IDM_ERR_NOT_FOUND", "not found"},
    {IDM_ERR_EXISTS, "IDM_ERR_EXISTS", "already exists"},
    {IDM_ERR_CANCELLED, "IDM_ERR_CANCELLED", "cancelled by a host callback"},
    {IDM_ERR_BACKEND, "IDM_ERR_BACKEND", "backend failure"},
    {IDM_ERR_STORE, "IDM_ERR_STORE", "store failure"},
    {IDM_ERR_CRYPTO, "IDM_ERR_CRYPTO", "cryptographic failure"},
    {IDM_ERR_CARD, "IDM_ERR_CARD", "smart card or reader failure"},
    {IDM_ERR_IO, "IDM_ERR_IO", "input/output failure"},
    {IDM_ERR_PARSE, "IDM_ERR_PARSE", "malformed input"},
    {IDM_ERR_UNSUPPORTED, "IDM_ERR_UNSUPPORTED", "not supported"},
    {IDM_ERR_TIMEOUT, "IDM_ERR_TIMEOUT", "timed out"},
    {IDM_ERR_DISABLED, "IDM_ERR_DISABLED", "disabled by an option"},
    {IDM_ERR_INTERNAL, "IDM_ERR_INTERNAL", "internal error"},
    {IDM_ERR_INTEGRITY, "IDM_ERR_INTEGRITY", "integrity check failed"},
};

static const struct error_entry *find_error(int code)
{
    for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++) {
        if (error_table[i].code == code)
            return &error_table[i];
    }
    return NULL;
}

IDM_EXPORT const char *idm_strerror(int code)
{
    const struct error_entry *e = find_error(code);
    return e != NULL ? e->text : "unknown error code";
}

IDM_EXPORT const char *idm_strerror_name(int code)
{
    const struct error_entry *e = find_error(code);
    return e != NULL ? e->name : "IDM_ERR_UNKNOWN";
}

IDM_EXPORT const char *idm_last_error_message(void)
{
    return last_message;
}

int idm_error_setv(const char *func, int code, const char *fmt, va_list ap)
{
    int prefix = func != NULL ? snprintf(last_message, sizeof last_message, "%s: ", func) : 0;
    if (prefix < 0 || (size_t)prefix >= sizeof last_message)
        prefix = 0;
    int n = vsnprintf(last_message + prefix, sizeof last_message - (size_t)prefix, fmt, ap);
    if (n >= 0 && (size_t)n >= sizeof last_message - (size_t)prefix) {
        /* Cut before the character "..." would land in (a value the
         * message quotes may be long UTF-8), never inside it. */
        memcpy(last_message + idm_utf8_cut(last_message, sizeof last_message - 4), "...", 4);
    }
    return code;
}

int idm_error_set(const char *func, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    idm_error_setv(func, code, fmt, ap);
    va_end(ap);
    return code;
}

int idm_error_wrap(const char *func, int code, const char *fmt, ...)
{
    /* func may be NULL: the message then starts with the formatted text. */
    char inner[IDM_ERROR_MESSAGE_MAX];
    memcpy(inner, last_message, sizeof inner);
    char outer[IDM_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(outer, sizeof outer, fmt, ap);
    va_end(ap);
    if (n < 0)
        outer[0] = '\0';
    return idm_error_set(func, code, "%s: %s", outer, inner);
}

int idm_error_is_refusal(int code)
{
    switch (code) {
    case IDM_ERR_INVALID_ARG:
    case IDM_ERR_NOT_FOUND:
    case IDM_ERR_STATE:
    case IDM_ERR_EXISTS:
    case IDM_ERR_DISABLED:
    case IDM_ERR_PARSE:
        return 1;
    default:
        return 0;
    }
}

int idm_error_prefix(const char *func, int code)
{
    if (code == IDM_OK)
        return IDM_OK;
    char inner[IDM_ERROR_MESSAGE_MAX];
    memcpy(inner, last_message, sizeof inner);
    return idm_error_set(func, code, "%s", inner);
}

void idm_error_clear(void)
{
    last_message[0] = '\0';
}

/* What a host backend method said about its last failure on this thread. */
static _Thread_local char backend_message[512];

void idm_backend_call_reset(void)
{
    backend_message[0] = '\0';
    idm_error_clear();
}

void idm_backend_say(const char *message)
{
    /* A host's words end up in messages, outcome reasons and the audit
     * trail, which are UTF-8: a cut falls between two characters, and
     * bytes that are not UTF-8 (a host writing Latin-1) become '?'. */
    size_t len = idm_utf8_cut(message, sizeof backend_message - 1), bad;
    memcpy(backend_message, message, len);
    backend_message[len] = '\0';
    while (!idm_utf8_valid(backend_message, len, &bad))
        backend_message[bad] = '?';
}

void idm_backend_words(char *buf, size_t size)
{
    const char *why = backend_message[0] != '\0' ? backend_message
                      : last_message[0] != '\0'  ? last_message
                                                 : "it gave no reason";
    snprintf(buf, size, "%s", why);
}

int idm_backend_result(int rc, const char *backend, const char *what)
{
    if (rc == 0)
        return IDM_OK;
    char why[1024];
    idm_backend_words(why, sizeof why);
    if (rc < 0 && strcmp(idm_strerror_name(rc), "IDM_ERR_UNKNOWN") != 0)
        return idm_error_set(NULL, rc, "the %s failed to %s: %s", backend, what, why);
    return idm_error_set(NULL, IDM_ERR_BACKEND, "the %s failed to %s (it returned %d): %s",
                         backend, what, rc, why);
}

int idm_error_crypto(const char *what)
{
    char reason[256] = "no detail from OpenSSL";
    unsigned long e = ERR_peek_last_error();
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    return idm_error_set(NULL, IDM_ERR_CRYPTO, "%s: %s", what, reason);
}
