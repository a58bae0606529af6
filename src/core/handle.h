/*
 * Handle tags.  Every handle struct starts with a uint32_t magic, so a
 * NULL, freed, zeroed or wrongly cast handle is refused with
 * IDM_ERR_INVALID_ARG instead of being used.  The values spell the type in
 * ASCII ("idmC" for a context).
 */
#ifndef IDM_CORE_HANDLE_H
#define IDM_CORE_HANDLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error_impl.h"

#define IDM_MAGIC_CTX 0x69646d43u           /* "idmC" */
#define IDM_MAGIC_IDENTITY 0x69646d49u      /* "idmI" */
#define IDM_MAGIC_CARD 0x69646d4bu          /* "idmK" */
#define IDM_MAGIC_ORDER 0x69646d4fu         /* "idmO" */
#define IDM_MAGIC_CERT 0x69646d58u          /* "idmX" */
#define IDM_MAGIC_AUDIT_EVENT 0x69646d41u   /* "idmA" */
#define IDM_MAGIC_IDENTITY_ITER 0x69646d31u /* "idm1" */
#define IDM_MAGIC_CARD_ITER 0x69646d32u     /* "idm2" */
#define IDM_MAGIC_CERT_ITER 0x69646d33u     /* "idm3" */
#define IDM_MAGIC_ORDER_ITER 0x69646d34u    /* "idm4" */
#define IDM_MAGIC_AUDIT_ITER 0x69646d35u    /* "idm5" */
#define IDM_MAGIC_BUFFER 0x69646d42u        /* "idmB" */
#define IDM_MAGIC_CA 0x69646d63u            /* "idmc" */
#define IDM_MAGIC_CERT_REQUEST 0x69646d52u  /* "idmR" */
#define IDM_MAGIC_ENCODER 0x69646d45u       /* "idmE" */
#define IDM_MAGIC_STATION 0x69646d53u       /* "idmS" */
#define IDM_MAGIC_PRODUCER 0x69646d50u      /* "idmP" */
#define IDM_MAGIC_NOTIFIER 0x69646d4eu      /* "idmN" */
#define IDM_MAGIC_EXTERNAL 0x69646d78u      /* "idmx" */
#define IDM_MAGIC_PRINTER 0x69646d70u       /* "idmp" */
#define IDM_MAGIC_LAYOUT 0x69646d4cu        /* "idmL" */
#define IDM_MAGIC_DEAD 0xdeadbeefu          /* written into a handle as it is freed */

/* The first member of every handle. */
struct idm_handle_head {
    uint32_t magic;
};

/* IDM_OK if h is a live handle of the given type; otherwise the detail
 * message names func, the argument and the expected type. */
int idm_handle_validate(const void *h, uint32_t magic, const char *func, const char *arg,
                        const char *type_name);

/*
 * Copies a host's backend ops table (which starts with uint32_t version,
 * uint32_t size) into the library's: what the library knows of it, the rest
 * zero, so methods appended by later headers stay NULL for a host compiled
 * against older ones; size then says the library's size.  table must be
 * zeroed first.
 */
void idm_ops_copy(void *table, size_t table_size, const void *host, size_t host_size);

/* Marks a handle dead before it is freed; volatile so the store is kept. */
void idm_handle_kill(void *h);

#define IDM_CHECK_HANDLE(h, tag, type_name)                                          \
    do {                                                                             \
        int check_rc_ = idm_handle_validate((h), (tag), __func__, #h, (type_name));   \
        if (check_rc_ != IDM_OK)                                                     \
            return check_rc_;                                                        \
    } while (0)

/*
 * Defines an exported getter that copies one field of a handle:
 *   int fn(const handle_type *param, out_type *out)
 * with the argument checks every public function makes.
 */
#define IDM_FIELD_GETTER(fn, handle_type, param, tag, type_name, out_type, field) \
    IDM_EXPORT int fn(const handle_type *param, out_type *out)                  \
    {                                                                           \
        IDM_CHECK_HANDLE(param, tag, type_name);                                \
        IDM_CHECK_NOT_NULL(out);                                                \
        *out = param->field;                                                    \
        return IDM_OK;                                                          \
    }

/* For destructors: true when *pp holds a live handle of the type. */
#define IDM_LIVE_HANDLE(pp, tag)                                                     \
    ((pp) != NULL && *(pp) != NULL &&                                                \
     ((const struct idm_handle_head *)(const void *)*(pp))->magic == (tag))

#endif /* IDM_CORE_HANDLE_H */
