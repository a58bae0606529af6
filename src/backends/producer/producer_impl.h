/*
 * Producer handles as the library sees them: a copy of an ops table (the
 * built-in spool producer is one more user of it).
 */
#ifndef IDM_BACKENDS_PRODUCER_PRODUCER_IMPL_H
#define IDM_BACKENDS_PRODUCER_PRODUCER_IMPL_H

#include <stdint.h>

#include <idm/producer.h>

struct idm_producer {
    uint32_t magic; /* IDM_MAGIC_PRODUCER */
    idm_producer_ops ops;
    void *user_data;
    void (*destroy)(void *user_data);
};

/*
 * Turns the result of a producer method into the library's error: IDM_OK,
 * the method's own idm_err code, or IDM_ERR_BACKEND for any other non-zero
 * value, with "the producer failed to <what>: <its words>" (no function
 * name).  Call idm_backend_call_reset() before the method.
 */
int idm_producer_call_end(int rc, const char *what);

/* A message id: 1..128 characters of [A-Za-z0-9._-], the first a letter or
 * a digit. */
int idm_message_id_valid(const char *id);

/* ---- the built-in spool producer (spool_producer.c) ------------------- */

extern const idm_producer_ops idm_spool_producer_ops;
/* *out receives the spool's user data; errors carry no function name. */
int idm_spool_producer_new(void **out, const char *dir);
void idm_spool_producer_free(void *user_data);

#endif /* IDM_BACKENDS_PRODUCER_PRODUCER_IMPL_H */
