/*
 * The persistence interface.  The model calls these operations and nothing
 * else; src/store/sqlite_store.c implements them on SQLite, and another
 * engine (PostgreSQL, for several stations sharing one queue) can follow by
 * filling the same table.
 *
 * Every operation returns IDM_OK or an idm_err code with the detail message
 * set (func NULL, so the public function can wrap it): IDM_ERR_NOT_FOUND for
 * a missing row, IDM_ERR_EXISTS for a unique key already taken, IDM_ERR_STORE
 * for the engine's own failures in its own words.  Writes happen only
 * between begin() and commit()/rollback().  Loaded records own their memory;
 * the caller clears them with the idm_*_rec_clear() functions.
 */
#ifndef IDM_STORE_STORE_H
#define IDM_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "model/records.h"

struct idm_store;

/* Which rows list_ids() returns; a zero field does not filter. */
struct idm_list_filter {
    int has_state;
    int state;
    int has_type;
    int type;
    int64_t order_id;
    int64_t identity_id;
    int64_t card_id;
    int has_outcome;           /* cards: with this outcome in order_id (order_cards) */
    int outcome;
    const char *issuer_key_id; /* certificates of one CA */
    int revoked_or_held;       /* certificates in a CRL: revoked or on hold */
};

struct idm_audit_filter {
    int has_object;
    idm_object_type object_type;
    int64_t object_id;
    int has_time;
    int64_t from_ms;
    int64_t to_ms;
};

struct idm_order_card_rec {
    int64_t order_id;
    int64_t card_id;
    int64_t position;
    int outcome;        /* idm_order_card_outcome (<idm/order.h>) */
    char *reason;       /* NULL for none */
    int attempt;        /* claims so far: the production attempt */
    char *station;      /* NULL while never claimed */
    int64_t claimed_ms;
    int64_t updated_ms;
};

void idm_order_card_rec_clear(struct idm_order_card_rec *rec);

/* How many cards of an order have each outcome, indexed by outcome. */
struct idm_order_counts {
    int64_t by_outcome[5];
};

/* External production: one row per card order message to the bureau.  The
 * row is written before the producer is called and updated after, so a
 * process that dies in between finds the message and submits it again with
 * the same id. */
enum idm_message_state {
    IDM_MESSAGE_PENDING = 0,       /* about to be submitted; outcome unknown */
    IDM_MESSAGE_SUBMIT_FAILED = 1, /* the producer said no; a retry reuses the id */
    IDM_MESSAGE_SENT = 2,          /* the bureau has it */
    IDM_MESSAGE_FAILED = 3,        /* the bureau could not produce it; the next
                                      attempt is a new message */
    IDM_MESSAGE_CANCELLED = 4      /* withdrawn when its card was aborted */
};

struct idm_message_rec {
    char *message_id;
    int64_t card_id;
    int64_t order_id;
    int attempt;
    int state;    /* enum idm_message_state */
    int status;   /* the last idm_bureau_status applied, -1 for none */
    char *detail; /* the producer's or bureau's words, NULL for none */
    int64_t created_ms;
    int64_t updated_ms;
};

void idm_message_rec_clear(struct idm_message_rec *rec);

enum idm_notification_state {
    IDM_NOTIFICATION_PENDING = 0,
    IDM_NOTIFICATION_SENT = 1,
    IDM_NOTIFICATION_UNDELIVERABLE = 2 /* no address: nothing to retry */
};

struct idm_notification_rec {
    int64_t id;
    int64_t card_id;
    int kind;     /* idm_notification_kind */
    int state;    /* enum idm_notification_state */
    int pin_lost; /* it was to carry a PIN that is gone now */
    int tries;
    char *last_error;
    int64_t created_ms;
    int64_t updated_ms;
};

void idm_notification_rec_clear(struct idm_notification_rec *rec);

struct idm_option_row {
    char *key;
    char *value;
};

struct idm_store_ops {
    const char *engine;
    void (*close)(struct idm_store *s);

    /* A write transaction; waits for other writers (other processes too). */
    int (*begin)(struct idm_store *s);
    int (*commit)(struct idm_store *s);
    void (*rollback)(struct idm_store *s);

    int (*identity_insert)(struct idm_store *s, struct idm_identity_rec *rec); /* sets id */
    int (*identity_load)(struct idm_store *s, int64_t id, struct idm_identity_rec *rec);
    int (*identity_find)(struct idm_store *s, const char *external_id, int64_t *id);
    /* state, explicit common name and UPN, updated_ms */
    int (*identity_update)(struct idm_store *s, const struct idm_identity_rec *rec);
    /* value NULL removes the attribute */
    int (*identity_set_attr)(struct idm_store *s, int64_t id, const char *key, const char *value);

    int (*card_insert)(struct idm_store *s, struct idm_card_rec *rec); /* sets id */
    int (*card_load)(struct idm_store *s, int64_t id, struct idm_card_rec *rec);
    int (*card_find)(struct idm_store *s, const char *number, int64_t *id);
    /* state, chip serial, order, updated_ms */
    int (*card_update)(struct idm_store *s, const struct idm_card_rec *rec);
    /* The next value of a store-wide counter: "card_seq", "crl_number". */
    int (*counter_next)(struct idm_store *s, const char *name, int64_t *value);

    int (*cert_insert)(struct idm_store *s, struct idm_cert_rec *rec); /* sets id */
    int (*cert_load)(struct idm_store *s, int64_t id, struct idm_cert_rec *rec);
    int (*cert_find)(struct idm_store *s, const char *serial, int64_t *id);
    /* state, revocation reason and time */
    int (*cert_update)(struct idm_store *s, const struct idm_cert_rec *rec);

    /* The issue journal: one row per idempotency key, pending (certificate
     * id 0) from before the CA is called until its certificate is recorded. */
    int (*issuance_find)(struct idm_store *s, const char *key, int64_t *card_id,
                         int64_t *cert_id);
    int (*issuance_insert)(struct idm_store *s, const char *key, int64_t card_id, int usage,
                           int64_t time_ms);
    int (*issuance_complete)(struct idm_store *s, const char *key, int64_t cert_id,
                             int64_t time_ms);

    int (*order_insert)(struct idm_store *s, struct idm_order_rec *rec); /* sets id */
    int (*order_load)(struct idm_store *s, int64_t id, struct idm_order_rec *rec);
    int (*order_find)(struct idm_store *s, const char *external_id, int64_t *id);
    int (*order_update)(struct idm_store *s, const struct idm_order_rec *rec); /* state, updated_ms */

    /* The cards of an order.  add: at the end (position = the last one + 1),
     * IDM_ERR_EXISTS if the card is in the order already. */
    int (*order_card_add)(struct idm_store *s, int64_t order_id, int64_t card_id,
                          int64_t time_ms);
    /* Claims the first card, by position, that is pending, or claimed by
     * this station before since_ms (an earlier run of it that stopped), or
     * claimed by another whose claim is older than lease_ms: outcome
     * claimed, station, claimed_ms now, attempt + 1.  IDM_ERR_NOT_FOUND
     * when no card is left.  Run it inside begin/commit so that two
     * stations never claim the same card. */
    int (*order_card_claim)(struct idm_store *s, int64_t order_id, const char *station,
                            int64_t since_ms, int64_t now_ms, int64_t lease_ms,
                            struct idm_order_card_rec *out);
    /* Records a final outcome (produced, skipped, failed) or lets the card
     * go (pending); reason may be NULL.  IDM_ERR_NOT_FOUND if the card is
     * not in the order. */
    int (*order_card_finish)(struct idm_store *s, int64_t order_id, int64_t card_id,
                             int outcome, const char *reason, int64_t time_ms);
    int (*order_card_load)(struct idm_store *s, int64_t order_id, int64_t card_id,
                           struct idm_order_card_rec *out);
    int (*order_card_counts)(struct idm_store *s, int64_t order_id,
                             struct idm_order_counts *out);
    /* Skipped cards back to pending (reason cleared): "more cards" checks
     * them again.  *n receives how many. */
    int (*order_card_requeue_skipped)(struct idm_store *s, int64_t order_id, int64_t time_ms,
                                      int64_t *n);
    /* Raises a card's attempt in an order by one (an activation of an
     * externally produced card); *attempt receives the new value. */
    int (*order_card_next_attempt)(struct idm_store *s, int64_t order_id, int64_t card_id,
                                   int64_t time_ms, int *attempt);
    /* Up to limit ids > after_id of cards of a type and option that are
     * approved, produced locally and in no open or running order. */
    int (*card_list_addable)(struct idm_store *s, int type, int option, int64_t after_id,
                             size_t limit, int64_t *ids, size_t *n);

    /* Options that differ from their defaults, and the option set version. */
    int (*options_load)(struct idm_store *s, struct idm_option_row **rows, size_t *n,
                        int64_t *version);
    /* value NULL deletes (back to default); raises the version */
    int (*option_save)(struct idm_store *s, const char *key, const char *value,
                       int64_t *new_version);

    /* seq 0 and an all-zero hash for an empty trail */
    int (*audit_last)(struct idm_store *s, int64_t *seq, unsigned char hash[IDM_HASH_SIZE]);
    int (*audit_insert)(struct idm_store *s, const struct idm_audit_rec *rec);
    /* up to limit events with seq > after_seq matching f (NULL: all), in seq order */
    int (*audit_read)(struct idm_store *s, const struct idm_audit_filter *f, int64_t after_seq,
                      size_t limit, struct idm_audit_rec *out, size_t *n);

    /* A random hex id of this store, fixed when it was created. */
    int (*store_id)(struct idm_store *s, char *buf, size_t size);

    /* The bureau message journal.  last: the card's message with the
     * highest attempt (IDM_ERR_NOT_FOUND if it has none).  update: state,
     * status, detail, updated_ms.  awaiting: up to limit ids > after (""
     * for the first page), ascending, of sent messages whose card the
     * bureau has not finished (status none or in production); the caller
     * frees each id. */
    int (*message_insert)(struct idm_store *s, const struct idm_message_rec *rec);
    int (*message_load)(struct idm_store *s, const char *message_id, struct idm_message_rec *rec);
    int (*message_last)(struct idm_store *s, int64_t card_id, struct idm_message_rec *rec);
    int (*message_update)(struct idm_store *s, const struct idm_message_rec *rec);
    int (*message_list_awaiting)(struct idm_store *s, const char *after, size_t limit,
                                 char **ids, size_t *n);

    /* Notifications.  insert sets id; IDM_ERR_EXISTS if the card already
     * has one of that kind.  update: state, pin_lost, tries, last_error,
     * updated_ms.  pending: up to limit ids > after_id, ascending. */
    int (*notification_insert)(struct idm_store *s, struct idm_notification_rec *rec);
    int (*notification_load)(struct idm_store *s, int64_t id, struct idm_notification_rec *rec);
    int (*notification_update)(struct idm_store *s, const struct idm_notification_rec *rec);
    int (*notification_list_pending)(struct idm_store *s, int64_t after_id, size_t limit,
                                     int64_t *ids, size_t *n);

    /* up to limit ids > after_id of one kind of object matching f, ascending */
    int (*list_ids)(struct idm_store *s, idm_object_type kind, const struct idm_list_filter *f,
                    int64_t after_id, size_t limit, int64_t *ids, size_t *n);
};

struct idm_store {
    const struct idm_store_ops *ops;
};

/* Opens (creating and migrating) an SQLite store.  *out NULL on failure. */
int idm_sqlite_store_open(struct idm_store **out, const char *path);

void idm_option_rows_free(struct idm_option_row *rows, size_t n);

#endif /* IDM_STORE_STORE_H */
