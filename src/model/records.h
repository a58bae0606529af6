/*
 * The records the model and the store exchange: plain copies of rows, each
 * owning its strings.  The model never sees SQL; the store never applies a
 * business rule.
 */
#ifndef IDM_MODEL_RECORDS_H
#define IDM_MODEL_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include <idm/audit.h>
#include <idm/card.h>
#include <idm/certificate.h>
#include <idm/identity.h>
#include <idm/order.h>

#define IDM_HASH_SIZE 32 /* SHA-256 */

struct idm_attr {
    char *key;
    char *value;
};

struct idm_identity_rec {
    int64_t id;
    char *external_id;   /* NULL for none */
    idm_identity_state state;
    char *common_name;   /* the explicit value, NULL when derived */
    char *upn;           /* likewise */
    struct idm_attr *attrs; /* sorted by key */
    size_t nattrs;
    int64_t created_ms;
    int64_t updated_ms;
};

struct idm_card_rec {
    int64_t id;
    char *number;
    idm_card_type type;
    idm_card_option option;
    idm_production production;
    idm_card_state state;
    int64_t identity_id; /* 0 for none */
    char *name;          /* non-personal cards */
    char *chip_serial;   /* NULL while unknown */
    int64_t order_id;    /* 0 for none */
    int64_t created_ms;
    int64_t updated_ms;
    char *requested_by;  /* who ordered it (external production), NULL for none */
    char *shipment;      /* the bureau's shipment data, NULL while unknown */
};

struct idm_cert_rec {
    int64_t id;
    int64_t card_id;
    char *serial;
    unsigned char *der;
    size_t der_len;
    int64_t not_before_ms;
    int64_t not_after_ms;
    idm_cert_state state;
    int64_t created_ms;
    int usage;               /* idm_key_usage */
    char *issuer_key_id;     /* hex authority key identifier, NULL if unknown */
    int revocation_reason;   /* idm_revocation_reason; -1 while not revoked or held */
    int64_t revoked_ms;      /* 0 while not revoked or held */
};

struct idm_order_rec {
    int64_t id;
    char *external_id;
    idm_order_kind kind;
    idm_card_type card_type;
    idm_card_option card_option;
    idm_order_state state;
    int64_t options_version;
    char *options_snapshot; /* "key=value\n" lines, see model/options_impl.h */
    int64_t created_ms;
    int64_t updated_ms;
};

struct idm_audit_rec {
    int64_t seq;
    int64_t time_ms;
    char *actor;
    idm_object_type object_type;
    int64_t object_id;
    char *from_state; /* NULL for none */
    char *to_state;   /* NULL for none */
    char *detail;
    unsigned char prev_hash[IDM_HASH_SIZE];
    unsigned char hash[IDM_HASH_SIZE];
};

void idm_identity_rec_clear(struct idm_identity_rec *rec);
void idm_card_rec_clear(struct idm_card_rec *rec);
void idm_cert_rec_clear(struct idm_cert_rec *rec);
void idm_order_rec_clear(struct idm_order_rec *rec);
void idm_audit_rec_clear(struct idm_audit_rec *rec);

/* strdup that keeps NULL as NULL; sets *ok = 0 when allocation fails. */
char *idm_strdup_or_null(const char *s, int *ok);

#endif /* IDM_MODEL_RECORDS_H */
