/*
 * Notifier handles as the library sees them: a copy of an ops table (the
 * built-in maildir notifier is one more user of it).
 */
#ifndef IDM_BACKENDS_NOTIFIER_NOTIFIER_IMPL_H
#define IDM_BACKENDS_NOTIFIER_NOTIFIER_IMPL_H

#include <stdint.h>

#include <idm/notifier.h>

struct idm_notifier {
    uint32_t magic; /* IDM_MAGIC_NOTIFIER */
    idm_notifier_ops ops;
    void *user_data;
    void (*destroy)(void *user_data);
};

/* As idm_producer_call_end(), for "the notifier failed to <what>". */
int idm_notifier_call_end(int rc, const char *what);

/* ---- the built-in maildir notifier (maildir_notifier.c) --------------- */

extern const idm_notifier_ops idm_maildir_notifier_ops;
/* *out receives the notifier's user data; errors carry no function name. */
int idm_maildir_notifier_new(void **out, const char *dir, const char *from);
void idm_maildir_notifier_free(void *user_data);

#endif /* IDM_BACKENDS_NOTIFIER_NOTIFIER_IMPL_H */
