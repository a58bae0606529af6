/*
 * libidm - identities.
 *
 * An identity is a person who holds cards.  It has a state, UTF-8
 * attributes (key/value), and a common name and UPN derived from the
 * attributes by the templates of the options (common_name_template,
 * upn_template) unless the host sets them explicitly.
 *
 * An idm_identity_t is a snapshot of the stored identity, owned by the
 * caller.  Every change goes to the store in one transaction together with
 * its audit event, and then updates the snapshot; idm_identity_refresh()
 * reloads it to see changes made elsewhere.  An identity handle must be
 * freed before its context.
 *
 * Attribute keys: 1..64 bytes of ASCII letters, digits, '_', '-' and '.',
 * starting with a letter.  Values: valid UTF-8 without NUL, at most
 * IDM_ATTRIBUTE_VALUE_MAX bytes.
 *
 * Thread-safety: an identity handle or iterator belongs to the context it
 * came from and is used, like that context, by one thread at a time
 * (<idm/context.h>).
 */
#ifndef IDM_IDENTITY_H
#define IDM_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest attribute value, in bytes. */
#define IDM_ATTRIBUTE_VALUE_MAX 4096

/** States of an identity.  Legal moves: registered -> active | terminated,
 *  active <-> inactive, active | inactive -> terminated (final). */
typedef enum idm_identity_state {
    IDM_IDENTITY_REGISTERED = 0,
    IDM_IDENTITY_ACTIVE = 1,
    IDM_IDENTITY_INACTIVE = 2,
    IDM_IDENTITY_TERMINATED = 3
} idm_identity_state;

/**
 * Name of an identity state: "registered", "active", "inactive",
 * "terminated"; "unknown" for any other value.
 *
 * @param state  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_identity_state_name(idm_identity_state state);

/**
 * Creates an identity in state registered.
 *
 * @param ctx          a context with an open store.
 * @param actor        who creates it (1..128 bytes of UTF-8).
 * @param external_id  the host's key for this person, unique in the store,
 *                     or NULL for none.  Copied.
 * @param out          receives the new identity, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_EXISTS if external_id is
 *         taken; IDM_ERR_STATE if no store is open; IDM_ERR_STORE.
 */
int idm_identity_new(idm_ctx_t *ctx, const char *actor, const char *external_id,
                     idm_identity_t **out);

/**
 * Loads an identity by its id.
 *
 * @param ctx  a context with an open store.
 * @param id   the identity's id (idm_identity_get_id()).
 * @param out  receives the identity, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND; IDM_ERR_STATE if
 *         no store is open; IDM_ERR_STORE.
 */
int idm_identity_open(idm_ctx_t *ctx, int64_t id, idm_identity_t **out);

/**
 * Loads an identity by the host's external id.
 *
 * @param ctx          a context with an open store.
 * @param external_id  the external id given at creation or import.
 * @param out          receives the identity, owned by the caller.
 * @return as idm_identity_open().
 */
int idm_identity_open_external(idm_ctx_t *ctx, const char *external_id,
                               idm_identity_t **out);

/**
 * Reloads an identity from the store.
 *
 * @param identity  the identity.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND; IDM_ERR_STORE.
 */
int idm_identity_refresh(idm_identity_t *identity);

/**
 * Releases an identity handle (not the stored identity) and sets
 * *identity to NULL.  NULL-safe.
 *
 * @param identity  address of the caller's pointer.
 */
void idm_identity_free(idm_identity_t **identity);

/**
 * The identity's id in the store.
 *
 * @param identity  the identity.
 * @param out       receives the id (> 0).
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_identity_get_id(const idm_identity_t *identity, int64_t *out);

/**
 * The host's external id.
 *
 * @param identity  the identity.
 * @param out       receives the external id, or NULL if it has none; owned
 *                  by the handle.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_identity_get_external_id(const idm_identity_t *identity, const char **out);

/**
 * The identity's state.
 *
 * @param identity  the identity.
 * @param out       receives the state.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_identity_get_state(const idm_identity_t *identity, idm_identity_state *out);

/**
 * Moves the identity to another state, audited as done by actor.
 *
 * @param identity  the identity.
 * @param actor     who makes the change.
 * @param to        the new state.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if the move is not
 *         legal (the message names the identity, its state and the attempted
 *         one); IDM_ERR_STORE.
 */
int idm_identity_set_state(idm_identity_t *identity, const char *actor,
                           idm_identity_state to);

/**
 * Sets or removes an attribute, audited as done by actor (the audit names
 * the key, not the value).  A derived common name or UPN is recomputed.
 *
 * @param identity  the identity.
 * @param actor     who makes the change.
 * @param key       the attribute's key, e.g. "givenName".
 * @param value     the new value, or NULL to remove the attribute.  Copied.
 * @return IDM_OK; IDM_ERR_INVALID_ARG for a bad key, invalid UTF-8 or a
 *         value longer than IDM_ATTRIBUTE_VALUE_MAX; IDM_ERR_STATE for a
 *         terminated identity; IDM_ERR_STORE.
 */
int idm_identity_set_attribute(idm_identity_t *identity, const char *actor, const char *key,
                               const char *value);

/**
 * Reads an attribute.
 *
 * @param identity  the identity.
 * @param key       the attribute's key.
 * @param out       receives the value, owned by the handle and valid until
 *                  it changes or is freed.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NOT_FOUND if the identity
 *         has no such attribute.
 */
int idm_identity_get_attribute(const idm_identity_t *identity, const char *key,
                               const char **out);

/**
 * Number of attributes, for enumerating them with
 * idm_identity_get_attribute_at().
 *
 * @param identity  the identity.
 * @param out       receives the count.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_identity_get_attribute_count(const idm_identity_t *identity, size_t *out);

/**
 * The attribute at a position, in key order.
 *
 * @param identity  the identity.
 * @param index     0 .. count - 1.
 * @param key       receives the key, owned by the handle; may be NULL.
 * @param value     receives the value, owned by the handle; may be NULL.
 * @return IDM_OK or IDM_ERR_INVALID_ARG (also for an index out of range).
 */
int idm_identity_get_attribute_at(const idm_identity_t *identity, size_t index,
                                  const char **key, const char **value);

/**
 * The common name: set explicitly, or derived by common_name_template.
 *
 * @param identity  the identity.
 * @param out       receives the name, or NULL if it cannot be derived (an
 *                  attribute the template names is missing); owned by the
 *                  handle.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_identity_get_common_name(const idm_identity_t *identity, const char **out);

/**
 * The user principal name: set explicitly, or derived by upn_template.
 *
 * @param identity  the identity.
 * @param out       receives the UPN, or NULL if none; owned by the handle.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_identity_get_upn(const idm_identity_t *identity, const char **out);

/**
 * Sets the common name explicitly, so attribute changes no longer alter
 * it; NULL goes back to deriving it.  Audited as done by actor.
 *
 * @param identity  the identity.
 * @param actor     who makes the change.
 * @param value     the common name (UTF-8, 1..IDM_ATTRIBUTE_VALUE_MAX bytes)
 *                  or NULL.  Copied.
 * @return as idm_identity_set_attribute().
 */
int idm_identity_set_common_name(idm_identity_t *identity, const char *actor,
                                 const char *value);

/**
 * Sets the UPN explicitly, or with NULL goes back to deriving it.
 * Audited as done by actor.
 *
 * @param identity  the identity.
 * @param actor     who makes the change.
 * @param value     the UPN or NULL.  Copied.
 * @return as idm_identity_set_attribute().
 */
int idm_identity_set_upn(idm_identity_t *identity, const char *actor, const char *value);

/**
 * Imports identities from a CSV file in one transaction: either every row
 * is imported or none is.  The header row names the attributes; fields may
 * be quoted (RFC 4180); empty fields leave the attribute unset.  Memory use
 * does not grow with the number of rows.
 *
 * @param ctx            a context with an open store.
 * @param actor          who imports.
 * @param path           the CSV file (UTF-8).
 * @param id_column      the header of the column that holds each row's
 *                       external id, or NULL for none.
 * @param initial_state  IDM_IDENTITY_REGISTERED or IDM_IDENTITY_ACTIVE.
 * @param imported       receives the number of identities created; may be
 *                       NULL.  0 on failure.
 * @return IDM_OK; IDM_ERR_IO if the file cannot be read; IDM_ERR_PARSE for
 *         malformed CSV; IDM_ERR_INVALID_ARG for bad arguments or a bad
 *         value; IDM_ERR_EXISTS for a duplicate external id.  The message
 *         names the file and the line.  IDM_ERR_STATE if no store is open;
 *         IDM_ERR_STORE.
 */
int idm_identity_import_csv(idm_ctx_t *ctx, const char *actor, const char *path,
                            const char *id_column, idm_identity_state initial_state,
                            size_t *imported);

/**
 * Like idm_identity_import_csv(), from CSV text in memory.
 *
 * @param ctx            a context with an open store.
 * @param actor          who imports.
 * @param data           the CSV text; need not be NUL-terminated.
 * @param len            its length in bytes.
 * @param id_column      the header of the external id column, or NULL.
 * @param initial_state  IDM_IDENTITY_REGISTERED or IDM_IDENTITY_ACTIVE.
 * @param imported       receives the number created; may be NULL.
 * @return as idm_identity_import_csv(); messages name "<memory>" as file.
 */
int idm_identity_import_csv_data(idm_ctx_t *ctx, const char *actor, const char *data,
                                 size_t len, const char *id_column,
                                 idm_identity_state initial_state, size_t *imported);

/**
 * Starts an iteration over the stored identities, in id order.  Filters
 * set before the first idm_identity_iter_next() narrow it.
 *
 * @param ctx  a context with an open store.
 * @param out  receives the iterator, owned by the caller.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if no store is open;
 *         IDM_ERR_NO_MEMORY.
 */
int idm_identity_iter_new(idm_ctx_t *ctx, idm_identity_iter_t **out);

/**
 * Keeps only identities in one state.
 *
 * @param iter   the iterator, not yet started.
 * @param state  the state.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE once iteration began.
 */
int idm_identity_iter_set_state(idm_identity_iter_t *iter, idm_identity_state state);

/**
 * Loads the next identity.  Identities are read from the store in small
 * pages, so an iteration over many does not hold them all in memory.
 *
 * @param iter  the iterator.
 * @param out   receives the next identity (owned by the caller), or NULL
 *              when there are no more.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STORE.
 */
int idm_identity_iter_next(idm_identity_iter_t *iter, idm_identity_t **out);

/**
 * Releases an iterator and sets *iter to NULL.  NULL-safe.
 *
 * @param iter  address of the caller's pointer.
 */
void idm_identity_iter_free(idm_identity_iter_t **iter);

#ifdef __cplusplus
}
#endif

#endif /* IDM_IDENTITY_H */
