#include "model/records.h"

#include <stdlib.h>
#include <string.h>

char *idm_strdup_or_null(const char *s, int *ok)
{
    if (s == NULL)
        return NULL;
    char *copy = strdup(s);
    if (copy == NULL)
        *ok = 0;
    return copy;
}

void idm_identity_rec_clear(struct idm_identity_rec *rec)
{
    free(rec->external_id);
    free(rec->common_name);
    free(rec->upn);
    for (size_t i = 0; i < rec->nattrs; i++) {
        free(rec->attrs[i].key);
        free(rec->attrs[i].value);
    }
    free(rec->attrs);
    memset(rec, 0, sizeof *rec);
}

void idm_card_rec_clear(struct idm_card_rec *rec)
{
    free(rec->number);
    free(rec->name);
    free(rec->chip_serial);
    free(rec->requested_by);
    free(rec->shipment);
    memset(rec, 0, sizeof *rec);
}

void idm_cert_rec_clear(struct idm_cert_rec *rec)
{
    free(rec->serial);
    free(rec->der);
    free(rec->issuer_key_id);
    memset(rec, 0, sizeof *rec);
}

void idm_order_rec_clear(struct idm_order_rec *rec)
{
    free(rec->external_id);
    free(rec->options_snapshot);
    memset(rec, 0, sizeof *rec);
}

void idm_audit_rec_clear(struct idm_audit_rec *rec)
{
    free(rec->actor);
    free(rec->from_state);
    free(rec->to_state);
    free(rec->detail);
    memset(rec, 0, sizeof *rec);
}
