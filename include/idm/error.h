/*
 * libidm - error codes and error details.
 *
 * Every function of the library that can fail returns an int: IDM_OK (0) on
 * success or one of the negative idm_err codes below.  The code says what
 * kind of failure happened; idm_last_error_message() says which object, which
 * value and which backend, in words fit for an operator.
 *
 * Thread-safety: every function here is safe to call from any thread; the
 * detail message is kept per thread.
 */
#ifndef IDM_ERROR_H
#define IDM_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Result codes.  The numeric values are part of the ABI: codes are only
 * ever appended, never renumbered or removed.
 */
typedef enum idm_err {
    IDM_OK = 0,                /**< success */
    IDM_ERR_INVALID_ARG = -1,  /**< an argument is NULL, out of range or malformed */
    IDM_ERR_NO_MEMORY = -2,    /**< a memory allocation failed */
    IDM_ERR_STATE = -3,        /**< the object's state does not allow the operation */
    IDM_ERR_NOT_FOUND = -4,    /**< the named object does not exist */
    IDM_ERR_EXISTS = -5,       /**< an object with the same key already exists */
    IDM_ERR_CANCELLED = -6,    /**< a host callback returned non-zero */
    IDM_ERR_BACKEND = -7,      /**< a CA, encoder, producer or notifier failed */
    IDM_ERR_STORE = -8,        /**< the persistent store failed */
    IDM_ERR_CRYPTO = -9,       /**< a cryptographic operation or the random source failed */
    IDM_ERR_CARD = -10,        /**< the smart card or reader failed */
    IDM_ERR_IO = -11,          /**< a file or device could not be read or written */
    IDM_ERR_PARSE = -12,       /**< input data is malformed */
    IDM_ERR_UNSUPPORTED = -13, /**< the operation or version is not supported */
    IDM_ERR_TIMEOUT = -14,     /**< the operation did not finish in time */
    IDM_ERR_DISABLED = -15,    /**< the use case is disabled by an option */
    IDM_ERR_INTERNAL = -16,    /**< an invariant of the library was violated */
    IDM_ERR_INTEGRITY = -17    /**< stored data fails its integrity check (audit chain) */
} idm_err;

/**
 * Short English description of an error code, e.g. "invalid argument".
 *
 * @param code  any int; codes the library does not know give
 *              "unknown error code".
 * @return a static string owned by the library; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_strerror(int code);

/**
 * Symbolic name of an error code, e.g. "IDM_ERR_INVALID_ARG".
 *
 * @param code  any int; codes the library does not know give "IDM_ERR_UNKNOWN".
 * @return a static string owned by the library; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_strerror_name(int code);

/**
 * Detail of the most recent failure on the calling thread, e.g.
 * "idm_ctx_set_log_level: level 42 is out of range (0..3)".
 *
 * The message is set by every library call that returns an error and is not
 * cleared by calls that succeed, so read it right after the failing call.
 *
 * @return a thread-local string owned by the library, valid until the next
 *         library call on the same thread; "" if no call on this thread has
 *         failed yet.  Never NULL.
 * Thread-safety: each thread has its own message.
 */
const char *idm_last_error_message(void);

#ifdef __cplusplus
}
#endif

#endif /* IDM_ERROR_H */
