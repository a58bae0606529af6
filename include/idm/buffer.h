/*
 * libidm - byte buffers.
 *
 * Binary data (DER certificates, CRLs, PEM keys) crosses the API as
 * pointer + length.  Where the library or a host backend must hand over
 * bytes of a size known only at that moment, it fills an idm_buffer_t that
 * the receiver owns.
 *
 * Thread-safety: a buffer belongs to no context; it is used by one thread at
 * a time, and different buffers may be used from different threads at once.
 */
#ifndef IDM_BUFFER_H
#define IDM_BUFFER_H

#include <stddef.h>

#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Creates an empty buffer.
 *
 * @param out  receives the buffer, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG if out is NULL; IDM_ERR_NO_MEMORY.
 * Thread-safety: safe to call from any thread.
 */
int idm_buffer_new(idm_buffer_t **out);

/**
 * Releases a buffer, wiping its bytes first (it may have held a key), and
 * sets *buffer to NULL.  NULL-safe.
 *
 * @param buffer  address of the caller's pointer.
 */
void idm_buffer_free(idm_buffer_t **buffer);

/**
 * Replaces the buffer's content with a copy of len bytes (the old content is
 * wiped).
 *
 * @param buffer  the buffer.
 * @param data    the bytes; may be NULL only when len is 0.
 * @param len     their number, at most 16 MiB.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NO_MEMORY.
 */
int idm_buffer_set(idm_buffer_t *buffer, const void *data, size_t len);

/**
 * The buffer's content.
 *
 * @param buffer  the buffer.
 * @param data    receives a pointer to the bytes (NULL when empty), owned by
 *                the buffer and valid until it changes or is freed.
 * @param len     receives their number.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_buffer_get(const idm_buffer_t *buffer, const unsigned char **data, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* IDM_BUFFER_H */
