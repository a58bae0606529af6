/*
 * libidm - the audit trail.
 *
 * Every change the library makes to the store appends one event: when, who
 * (the actor), which object, from which state to which, and a detail.  The
 * event and the change it records are committed in the same transaction.
 * Each event stores the SHA-256 of its content and of the previous event's
 * hash, so changing, inserting or deleting an event breaks the chain from
 * that event on, and idm_audit_verify() finds it.  Events never contain
 * secrets (keys, PINs, PUKs) nor attribute values.
 *
 * Thread-safety: an audit iterator, and the events it hands out, belong to
 * the context they came from and are used, like that context, by one thread
 * at a time (<idm/context.h>).
 */
#ifndef IDM_AUDIT_H
#define IDM_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What an event is about. */
typedef enum idm_object_type {
    IDM_OBJECT_IDENTITY = 0,
    IDM_OBJECT_CARD = 1,
    IDM_OBJECT_ORDER = 2,
    IDM_OBJECT_CERTIFICATE = 3,
    IDM_OBJECT_OPTION = 4, /**< object id 0; the detail names the key */
    IDM_OBJECT_CA = 5      /**< object id 0; CRLs and other CA-wide events */
} idm_object_type;

/**
 * Name of an object type: "identity", "card", "order", "certificate",
 * "option", "ca"; "unknown" otherwise.
 *
 * @param type  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_object_type_name(idm_object_type type);

/**
 * Checks the whole audit chain: sequence numbers without gaps, each event's
 * link to the previous hash, and each event's own hash.
 *
 * @param ctx           a context with an open store.
 * @param first_broken  receives the sequence number of the first event that
 *                      fails, or 0 when the chain is intact; may be NULL.
 * @return IDM_OK when intact; IDM_ERR_INTEGRITY when an event fails (the
 *         message names its sequence number and what does not match);
 *         IDM_ERR_INVALID_ARG; IDM_ERR_STATE if no store is open;
 *         IDM_ERR_STORE.
 */
int idm_audit_verify(idm_ctx_t *ctx, int64_t *first_broken);

/**
 * Starts an iteration over audit events in sequence order.
 *
 * @param ctx  a context with an open store.
 * @param out  receives the iterator, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if no store is open;
 *         IDM_ERR_NO_MEMORY.
 */
int idm_audit_iter_new(idm_ctx_t *ctx, idm_audit_iter_t **out);

/**
 * Keeps only the events of one object.
 *
 * @param iter  the iterator, not yet started.
 * @param type  the object type.
 * @param id    the object's id (0 for options and CA events).
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE once iteration began.
 */
int idm_audit_iter_set_object(idm_audit_iter_t *iter, idm_object_type type, int64_t id);

/**
 * Keeps only the events of a time range.
 *
 * @param iter     the iterator, not yet started.
 * @param from_ms  first millisecond included (since the Unix epoch).
 * @param to_ms    last millisecond included; >= from_ms.
 * @return as idm_audit_iter_set_object().
 */
int idm_audit_iter_set_time_range(idm_audit_iter_t *iter, int64_t from_ms, int64_t to_ms);

/**
 * Reads the next event.
 *
 * @param iter  the iterator.
 * @param out   receives the event (owned by the caller), or NULL when there
 *              are no more.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_audit_iter_next(idm_audit_iter_t *iter, idm_audit_event_t **out);

/**
 * Releases an iterator and sets *iter to NULL.  NULL-safe.
 *
 * @param iter  address of the caller's pointer.
 */
void idm_audit_iter_free(idm_audit_iter_t **iter);

/**
 * Releases an event and sets *event to NULL.  NULL-safe.
 *
 * @param event  address of the caller's pointer.
 */
void idm_audit_event_free(idm_audit_event_t **event);

/**
 * The event's sequence number (1, 2, 3, ... without gaps) and time.
 *
 * @param event    the event.
 * @param seq      receives the sequence number; may be NULL.
 * @param time_ms  receives the time in milliseconds since the Unix epoch,
 *                 from the context's clock; may be NULL.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_audit_event_get_seq(const idm_audit_event_t *event, int64_t *seq, int64_t *time_ms);

/**
 * Who made the change.
 *
 * @param event  the event.
 * @param out    receives the actor, owned by the event.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_audit_event_get_actor(const idm_audit_event_t *event, const char **out);

/**
 * The object the event is about.
 *
 * @param event  the event.
 * @param type   receives the object type; may be NULL.
 * @param id     receives the object's id; may be NULL.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_audit_event_get_object(const idm_audit_event_t *event, idm_object_type *type,
                               int64_t *id);

/**
 * The states before and after the change, by name (e.g. "ordered").
 *
 * @param event  the event.
 * @param from   receives the previous state, or NULL for a creation or a
 *               change that is not a state change; owned by the event.
 * @param to     receives the new state, or NULL; owned by the event.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_audit_event_get_states(const idm_audit_event_t *event, const char **from,
                               const char **to);

/**
 * What happened, in words, e.g. "attribute 'surname' set".
 *
 * @param event  the event.
 * @param out    receives the detail, owned by the event; never NULL
 *               (possibly "").
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_audit_event_get_detail(const idm_audit_event_t *event, const char **out);

#ifdef __cplusplus
}
#endif

#endif /* IDM_AUDIT_H */
