/*
 * libidm - the option set.
 *
 * Options are typed values with the defaults of Nexus Smart ID, kept in the
 * store and changed by an actor (each change is audited and raises the
 * option set's version).  Every production order takes a snapshot of them
 * when it is created, so an option changed later never alters an order in
 * flight (see idm_order_get_option_bool() and friends in <idm/order.h>).
 *
 * Keys and defaults:
 *   request_approval             bool   1   a card request waits for approval
 *   batch_request_approval       bool   0   batch requests wait for approval
 *   external_production_enabled  bool   0   the external ordering use case is on
 *   external_approval_step       bool   0   external orders wait for approval
 *   production_type_selectable   bool   0   local or external chosen per order
 *   queue_orders                 bool   0   external orders wait in a queue
 *   allow_multiple_orders        bool   0   several open orders per identity and type
 *   allow_multiple_active_cards  bool   0   several active cards per identity and type
 *   send_card_ordered_email      bool   0   e-mail the holder when a card is ordered
 *   pin_length                   int    6   4 or 6
 *   temporary_cards_per_order    int    1   1 .. 9
 *   pin_source                   string "user"        "user" (set at activation) or "generated"
 *   pin_delivery                 string "none"        "print", "email" or "none"
 *   expiry_mail_days             string "60,30,14,7"  days before expiry, descending
 *   common_name_template         string "${givenName} ${surname}"
 *   upn_template                 string ""            e.g. "${employeeNumber}@corp.example";
 *                                                     "" derives no UPN
 *   card_number_format           string "{seq:8}"     "{seq:N}" is a store-wide counter
 *                                                     zero-padded to N digits
 *   cert_validity_days           int    1095  1 .. 3650; certificates of employee,
 *                                             contractor and non-personal cards
 *   visitor_cert_validity_days   int    30    1 .. 3650; visitor and temporary cards
 *   cert_subject_template        string "/CN=${commonName}"  RDNs as in OpenSSL's -subj,
 *                                                     most significant first (C, ST, L,
 *                                                     O, OU, CN, serialNumber, title,
 *                                                     UID, DC); ${commonName} is the
 *                                                     identity's common name
 *   email_attribute              string "mail"        attribute that holds the e-mail
 *                                                     address for rfc822Name; "" none
 *   cert_crl_url                 string ""            CRL distribution point URL; "" none
 *   cert_aia_url                 string ""            CA issuers (AIA) URL; "" none
 *   card_key_algorithm           string "p256"        keys generated on Digital ID cards:
 *                                                     "p256" or "rsa2048"
 *   card_key_slots               string "9A,9C,9D,9E" PIV slots that get a key and a
 *                                                     certificate on Digital ID cards:
 *                                                     9A authentication, 9C signature,
 *                                                     9D key management, 9E card
 *                                                     authentication
 *
 * Templates name identity attributes as ${name}; a value is derived only
 * when every attribute it names is present.
 *
 * All functions need an open store (idm_ctx_open_store()).
 *
 * Thread-safety: the functions that take a context follow its rule
 * (<idm/context.h>): one thread at a time per context.  idm_option_count()
 * and idm_option_key_at() read a constant table and are safe from any
 * thread.
 */
#ifndef IDM_OPTIONS_H
#define IDM_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The type of an option's value. */
typedef enum idm_option_type {
    IDM_OPTION_BOOL = 0,  /**< 0 or 1 */
    IDM_OPTION_INT = 1,   /**< a 64-bit integer within the option's range */
    IDM_OPTION_STRING = 2 /**< UTF-8 text within the option's rules */
} idm_option_type;

/**
 * Number of options the library knows, for enumerating them with
 * idm_option_key_at().
 *
 * @param out  receives the count.
 * @return IDM_OK, or IDM_ERR_INVALID_ARG if out is NULL.
 * Thread-safety: safe to call from any thread.
 */
int idm_option_count(size_t *out);

/**
 * Key and type of the option at a position of the library's list.
 *
 * @param index  0 .. idm_option_count() - 1.
 * @param key    receives the key, a static string; may be NULL.
 * @param type   receives the type; may be NULL.
 * @return IDM_OK, or IDM_ERR_INVALID_ARG if index is out of range.
 * Thread-safety: safe to call from any thread.
 */
int idm_option_key_at(size_t index, const char **key, idm_option_type *type);

/**
 * Reads a boolean option.
 *
 * @param ctx  a context with an open store.
 * @param key  the option's key, e.g. "request_approval".
 * @param out  receives 0 or 1.
 * @return IDM_OK; IDM_ERR_INVALID_ARG for bad arguments, an unknown key or
 *         a key of another type; IDM_ERR_STATE if no store is open;
 *         IDM_ERR_STORE.
 */
int idm_options_get_bool(idm_ctx_t *ctx, const char *key, int *out);

/**
 * Reads an integer option.
 *
 * @param ctx  a context with an open store.
 * @param key  the option's key, e.g. "pin_length".
 * @param out  receives the value.
 * @return as idm_options_get_bool().
 */
int idm_options_get_int(idm_ctx_t *ctx, const char *key, int64_t *out);

/**
 * Reads a string option.
 *
 * @param ctx  a context with an open store.
 * @param key  the option's key, e.g. "pin_delivery".
 * @param out  receives the value, owned by the context and valid until the
 *             next call of an idm_options_ function on it.
 * @return as idm_options_get_bool().
 */
int idm_options_get_string(idm_ctx_t *ctx, const char *key, const char **out);

/**
 * Sets a boolean option, audited as done by actor.
 *
 * @param ctx    a context with an open store.
 * @param actor  who makes the change, e.g. "admin:alice"; 1..128 bytes of
 *               UTF-8 without control characters.
 * @param key    the option's key.
 * @param value  0 or 1.
 * @return IDM_OK; IDM_ERR_INVALID_ARG for bad arguments, an unknown key, a
 *         key of another type or a value out of range (the message names
 *         the key and the allowed values); IDM_ERR_STATE if no store is
 *         open; IDM_ERR_STORE.
 */
int idm_options_set_bool(idm_ctx_t *ctx, const char *actor, const char *key, int value);

/**
 * Sets an integer option, audited as done by actor.
 *
 * @param ctx    a context with an open store.
 * @param actor  who makes the change.
 * @param key    the option's key.
 * @param value  the value, within the option's range.
 * @return as idm_options_set_bool().
 */
int idm_options_set_int(idm_ctx_t *ctx, const char *actor, const char *key, int64_t value);

/**
 * Sets a string option, audited as done by actor.
 *
 * @param ctx    a context with an open store.
 * @param actor  who makes the change.
 * @param key    the option's key.
 * @param value  the value; it must follow the option's rules (a choice, a
 *               template, a day list).  Copied.
 * @return as idm_options_set_bool().
 */
int idm_options_set_string(idm_ctx_t *ctx, const char *actor, const char *key,
                           const char *value);

/**
 * Puts an option back to its default, audited as done by actor.
 *
 * @param ctx    a context with an open store.
 * @param actor  who makes the change.
 * @param key    the option's key.
 * @return as idm_options_set_bool().
 */
int idm_options_reset(idm_ctx_t *ctx, const char *actor, const char *key);

/**
 * Version of the option set: 0 for the defaults, raised by one with every
 * change.  Orders record the version they snapshotted.
 *
 * @param ctx  a context with an open store.
 * @param out  receives the version.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE if no store is open;
 *         IDM_ERR_STORE.
 */
int idm_options_get_version(idm_ctx_t *ctx, int64_t *out);

#ifdef __cplusplus
}
#endif

#endif /* IDM_OPTIONS_H */
