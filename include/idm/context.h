/*
 * libidm - the library context.
 *
 * A context holds everything that is global to one embedding of the library:
 * where log messages go, which clock and which random source the library
 * uses, and (once opened) the store, the options and the backends.  Create
 * one per store; a host may create several.
 *
 * Thread-safety: a context and the objects reached through it may be used
 * by one thread at a time.  Different contexts may be used concurrently from
 * different threads.  Callbacks are called on the thread that made the call
 * into the library.
 */
#ifndef IDM_CONTEXT_H
#define IDM_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Severity of a log message; a higher value is more verbose. */
typedef enum idm_log_level {
    IDM_LOG_ERROR = 0,   /**< an operation failed */
    IDM_LOG_WARNING = 1, /**< something unexpected that the library worked around */
    IDM_LOG_INFO = 2,    /**< workflow progress: orders, cards, backend calls */
    IDM_LOG_DEBUG = 3    /**< detail for developers */
} idm_log_level;

/**
 * Receives the library's log messages.  The library never writes to stdout
 * or stderr itself: without a log callback its messages are dropped.
 * Messages never contain secrets (private keys, PINs, PUKs, management keys).
 *
 * @param level      severity of the message.
 * @param component  the part of the library that speaks, e.g. "core",
 *                   "store", "ca"; never NULL.
 * @param message    the message, without a trailing newline; never NULL and
 *                   valid only during the call.
 * @param user_data  the pointer given to idm_ctx_set_log_callback().
 */
typedef void (*idm_log_fn)(idm_log_level level, const char *component,
                           const char *message, void *user_data);

/**
 * Returns the current time in milliseconds since 1970-01-01T00:00:00Z.
 * Hosts install one to make runs reproducible (tests, replays) or to follow
 * a trusted time source.
 *
 * @param user_data  the pointer given to idm_ctx_set_clock().
 * @return the current time in milliseconds since the Unix epoch.
 */
typedef int64_t (*idm_clock_fn)(void *user_data);

/**
 * Fills buf with len random bytes.  The library takes serial numbers,
 * identifiers and generated PINs from it.  A deterministic source is for
 * tests only: production must use unpredictable bytes.
 *
 * @param buf        where to write; never NULL when len > 0.
 * @param len        how many bytes to write.
 * @param user_data  the pointer given to idm_ctx_set_random().
 * @return 0 on success; any other value makes the library call that needed
 *         the bytes fail with IDM_ERR_CRYPTO.
 */
typedef int (*idm_random_fn)(void *buf, size_t len, void *user_data);

/**
 * Creates a context with the defaults: no log callback (messages dropped),
 * log level IDM_LOG_INFO, the system's real-time clock and OpenSSL's
 * cryptographically secure random generator.
 *
 * @param out  receives the new context, owned by the caller and released
 *             with idm_ctx_free(); set to NULL on failure.
 * @return IDM_OK, IDM_ERR_INVALID_ARG if out is NULL, IDM_ERR_NO_MEMORY.
 * Thread-safety: safe to call from any thread.
 */
int idm_ctx_new(idm_ctx_t **out);

/**
 * Releases a context and everything it owns, then sets *ctx to NULL.
 * Does nothing when ctx or *ctx is NULL, or when *ctx does not point to a
 * live context (memory that is not a context is left alone rather than
 * handed to free()).  Objects obtained from the context must be freed
 * before it.
 *
 * @param ctx  address of the caller's context pointer.
 */
void idm_ctx_free(idm_ctx_t **ctx);

/**
 * Sets where log messages go.  Replaces any previous callback.
 *
 * @param ctx        the context.
 * @param fn         the callback, or NULL to drop messages.
 * @param user_data  passed unchanged to fn; not owned by the library.
 * @return IDM_OK, or IDM_ERR_INVALID_ARG if ctx is not a valid context.
 */
int idm_ctx_set_log_callback(idm_ctx_t *ctx, idm_log_fn fn, void *user_data);

/**
 * Sets the most verbose level that reaches the log callback; messages of
 * a higher level are not even formatted.  The default is IDM_LOG_INFO.
 *
 * @param ctx    the context.
 * @param level  one of IDM_LOG_ERROR .. IDM_LOG_DEBUG.
 * @return IDM_OK, or IDM_ERR_INVALID_ARG if ctx is not a valid context or
 *         level is out of range.
 */
int idm_ctx_set_log_level(idm_ctx_t *ctx, idm_log_level level);

/**
 * Name of a log level in lower case: "error", "warning", "info", "debug".
 *
 * @param level  any value; levels the library does not know give "unknown".
 * @return a static string owned by the library; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_log_level_name(idm_log_level level);

/**
 * Replaces the clock the library reads for timestamps, validity periods
 * and timeouts of the workflow.
 *
 * @param ctx        the context.
 * @param fn         the clock, or NULL to go back to the system clock.
 * @param user_data  passed unchanged to fn; not owned by the library.
 * @return IDM_OK, or IDM_ERR_INVALID_ARG if ctx is not a valid context.
 */
int idm_ctx_set_clock(idm_ctx_t *ctx, idm_clock_fn fn, void *user_data);

/**
 * Replaces the random source of the library.
 *
 * @param ctx        the context.
 * @param fn         the source, or NULL to go back to OpenSSL's generator.
 * @param user_data  passed unchanged to fn; not owned by the library.
 * @return IDM_OK, or IDM_ERR_INVALID_ARG if ctx is not a valid context.
 */
int idm_ctx_set_random(idm_ctx_t *ctx, idm_random_fn fn, void *user_data);

/**
 * Reads the context's clock, so that host plug-ins (a CA or encoder backend)
 * see the same time as the library.
 *
 * @param ctx     the context.
 * @param out_ms  receives milliseconds since 1970-01-01T00:00:00Z.
 * @return IDM_OK, or IDM_ERR_INVALID_ARG if ctx is not a valid context or
 *         out_ms is NULL.
 */
int idm_ctx_now(idm_ctx_t *ctx, int64_t *out_ms);

/**
 * Draws bytes from the context's random source, so that host plug-ins use
 * the same (possibly deterministic) source as the library.
 *
 * @param ctx  the context.
 * @param buf  where to write len bytes; may be NULL only when len is 0.
 * @param len  how many bytes to write.
 * @return IDM_OK; IDM_ERR_INVALID_ARG if ctx is not a valid context or buf
 *         is NULL with len > 0; IDM_ERR_CRYPTO if the source failed (buf is
 *         then zeroed).
 */
int idm_ctx_random_bytes(idm_ctx_t *ctx, void *buf, size_t len);

/**
 * Opens the store the context works on, creating it if the file does not
 * exist, and brings its schema up to this library's version.  The store is
 * an SQLite database in WAL mode with synchronous=FULL: a committed change
 * survives a crash or power loss.  Several processes may open the same file
 * at once; their transactions wait for each other instead of failing.
 *
 * @param ctx   the context; it must not have a store open already.
 * @param path  path of the database file, or ":memory:" for a private
 *              in-memory store that ends with the context.
 * @return IDM_OK; IDM_ERR_INVALID_ARG for a bad ctx or path; IDM_ERR_STATE
 *         if a store is already open; IDM_ERR_STORE if the file cannot be
 *         opened or is not a libidm store; IDM_ERR_UNSUPPORTED if its schema
 *         is newer than this library.
 */
int idm_ctx_open_store(idm_ctx_t *ctx, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* IDM_CONTEXT_H */
