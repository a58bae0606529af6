/* The buffer's layout, for the library's own writers. */
#ifndef IDM_CORE_BUFFER_IMPL_H
#define IDM_CORE_BUFFER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <idm/buffer.h>

struct idm_buffer {
    uint32_t magic; /* IDM_MAGIC_BUFFER */
    unsigned char *data;
    size_t len;
    size_t cap; /* room allocated at data; idm_buffer_put() leaves it len */
};

/* idm_buffer_set() without the argument checks; errors carry no function name. */
int idm_buffer_put(idm_buffer_t *b, const void *data, size_t len);
/* Appends len bytes, growing the room geometrically. */
int idm_buffer_append(idm_buffer_t *b, const void *data, size_t len);

#endif /* IDM_CORE_BUFFER_IMPL_H */
