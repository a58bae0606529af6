/*
 * Internal error reporting: every failing path sets the thread-local detail
 * message and returns the code in one statement, so the two cannot drift.
 */
#ifndef IDM_CORE_ERROR_IMPL_H
#define IDM_CORE_ERROR_IMPL_H

#include <stdarg.h>
#include <stddef.h>

#include <idm/error.h>

#if defined(__GNUC__) || defined(__clang__)
#define IDM_PRINTF(fmt_idx, args_idx) __attribute__((format(printf, fmt_idx, args_idx)))
#else
#define IDM_PRINTF(fmt_idx, args_idx)
#endif

/*
 * Sets the calling thread's detail message to "<func>: <formatted text>"
 * and returns code.  A message longer than the buffer is cut and ends
 * in "...".
 */
int idm_error_set(const char *func, int code, const char *fmt, ...) IDM_PRINTF(3, 4);
int idm_error_setv(const char *func, int code, const char *fmt, va_list ap) IDM_PRINTF(3, 0);

/*
 * For internal helpers whose caller knows the context: func may be NULL, and
 * then the message is the formatted text alone.  idm_error_wrap() puts
 * "<func>: <formatted text>: " in front of the current message, so a public
 * function can say where (file, line) an inner failure happened.
 */
int idm_error_wrap(const char *func, int code, const char *fmt, ...) IDM_PRINTF(3, 4);

/* Empties the calling thread's detail message (before a host callback, so
 * that what it leaves there can be told from older text). */
void idm_error_clear(void);

/*
 * A host backend's words about its failure.  idm_backend_call_reset() runs
 * before each ops method (it also empties the detail message);
 * idm_backend_say() is what idm_ca_backend_error() and
 * idm_encoder_backend_error() store; idm_backend_words() gives them after a
 * failed call, else the detail message the method left (a built-in
 * backend's), else "it gave no reason".
 */
void idm_backend_call_reset(void);
void idm_backend_say(const char *message);
void idm_backend_words(char *buf, size_t size);

/* The result of a host backend's method as the library's error: IDM_OK for
 * 0; a method may classify its failure with one of our codes, which stays;
 * any other non-zero value is IDM_ERR_BACKEND.  The message is "the
 * <backend> failed to <what>: <its words>" (no function name). */
int idm_backend_result(int rc, const char *backend, const char *what);

/* Whether a failure is the library refusing on the merits of what it was
 * given (IDM_ERR_INVALID_ARG, _NOT_FOUND, _STATE, _EXISTS, _DISABLED,
 * _PARSE), as opposed to it not being able to decide (its store, memory,
 * crypto, an I/O or internal failure), after which the same request may
 * well succeed. */
int idm_error_is_refusal(int code);

/* Fails an internal helper with IDM_ERR_CRYPTO: "<what>: <OpenSSL's words
 * for its last error>", and empties OpenSSL's error queue. */
int idm_error_crypto(const char *what);

/* Puts "<func>: " in front of the current message and returns code: how a
 * public function passes on the failure of an internal helper.  IDM_OK
 * passes through untouched, so "return idm_error_prefix(__func__, rc);"
 * ends a public function whatever rc is. */
int idm_error_prefix(const char *func, int code);

/* Fails an internal helper: the message has no function name yet; the public
 * function that called the helper adds its own with idm_error_prefix(). */
#define IDM_ERR(code, ...) idm_error_set(NULL, (code), __VA_ARGS__)

/* Fails the enclosing public function with a message naming it. */
#define IDM_FAIL(code, ...) idm_error_set(__func__, (code), __VA_ARGS__)

/* Returns IDM_ERR_INVALID_ARG naming the argument when it is NULL. */
#define IDM_CHECK_NOT_NULL(arg)                                                   \
    do {                                                                          \
        if ((arg) == NULL)                                                        \
            return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument '%s' is NULL", #arg); \
    } while (0)

#endif /* IDM_CORE_ERROR_IMPL_H */
