#include "core/handle.h"

#include <string.h>

#include <stddef.h>

int idm_handle_validate(const void *h, uint32_t magic, const char *func, const char *arg,
                        const char *type_name)
{
    if (h == NULL)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument '%s' is NULL", arg);
    if (((const struct idm_handle_head *)h)->magic != magic)
        return idm_error_set(func, IDM_ERR_INVALID_ARG,
                             "argument '%s' does not point to a live %s "
                             "(freed, uninitialised or another handle type)",
                             arg, type_name);
    return IDM_OK;
}

void idm_handle_kill(void *h)
{
    /* Volatile, so the store survives dead-store elimination before free():
     * a stale copy of the pointer is then more likely refused than used
     * (best effort; ASan catches every such use). */
    *(volatile uint32_t *)&((struct idm_handle_head *)h)->magic = IDM_MAGIC_DEAD;
}

void idm_ops_copy(void *table, size_t table_size, const void *host, size_t host_size)
{
    memcpy(table, host, host_size < table_size ? host_size : table_size);
    uint32_t size = (uint32_t)table_size;
    memcpy((unsigned char *)table + sizeof(uint32_t), &size, sizeof size);
}
