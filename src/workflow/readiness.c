/*
 * The built-in readiness rules of mass production (see readiness.h).
 */
#include "workflow/readiness.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"
#include "model/card_impl.h"
#include "model/identity_impl.h"
#include "model/subject.h"
#include "model/text.h"
#include "store/store.h"

#define SIBLINGS_PAGE 64

/* The first attribute a template names that attrs lack, copied into name;
 * 0 when every one is there.  A reference to filled (NULL: none) is no
 * attribute: the library fills it itself. */
static int missing_attribute(const char *tmpl, const struct idm_attr *attrs, size_t n,
                             const char *filled, char *name, size_t size)
{
    for (const char *p = strstr(tmpl, "${"); p != NULL; p = strstr(p, "${")) {
        const char *start = p + 2;
        const char *end = strchr(start, '}');
        if (end == NULL)
            return 0; /* the option checker refuses such templates */
        snprintf(name, size, "%.*s", (int)(end - start), start);
        if ((filled == NULL || strcmp(name, filled) != 0) && idm_attr_find(attrs, n, name) == NULL)
            return 1;
        p = end + 1;
    }
    return 0;
}

/* Whether every value of the certificate subject the card would get fits
 * its attribute type (X.520's upper bounds, which OpenSSL enforces when it
 * issues: a common name takes 64 characters).  A value that does not fit
 * would fail the card after its keys were made, and the failure would
 * abort the whole order.  cn is the common name, or NULL to derive it with
 * cn_template; *fits 0 with the reason in why. */
static int subject_fits(const char *tmpl, const char *cn, const char *cn_template,
                        const struct idm_attr *attrs, size_t nattrs, const char *who, int *fits,
                        char *why, size_t why_size)
{
    char *derived = NULL;
    struct idm_cert_request req;
    memset(&req, 0, sizeof req);
    *fits = 1;
    int rc = cn != NULL ? IDM_OK : idm_template_expand(cn_template, attrs, nattrs, &derived);
    if (rc == IDM_OK)
        rc = idm_subject_build(tmpl, cn != NULL ? cn : derived, attrs, nattrs, &req);
    for (size_t i = 0; rc == IDM_OK && *fits && i < req.nrdns; i++) {
        const ASN1_STRING_TABLE *t = ASN1_STRING_TABLE_get(req.rdns[i].nid);
        size_t chars = 0;
        for (const unsigned char *p = (const unsigned char *)req.rdns[i].value; *p != 0; p++)
            chars += (*p & 0xc0) != 0x80;
        if (t != NULL && t->maxsize >= 0 && chars > (size_t)t->maxsize) {
            *fits = 0;
            snprintf(why, why_size, "the certificate subject of %s would have a %s of %zu "
                     "characters; at most %ld fit (cert_subject_template)", who,
                     OBJ_nid2sn(req.rdns[i].nid), chars, t->maxsize);
        }
    }
    idm_cert_request_clear(&req);
    free(derived);
    return rc;
}

/* Is another card of the holder, of the same type, issued or active? */
static int other_card_in_use(struct idm_store *s, const struct idm_card_rec *card, int *in_use,
                             char *number, size_t size)
{
    struct idm_list_filter f;
    memset(&f, 0, sizeof f);
    f.identity_id = card->identity_id;
    f.has_type = 1;
    f.type = (int)card->type;
    int64_t ids[SIBLINGS_PAGE], after = 0;
    size_t n = 0;
    *in_use = 0;
    do {
        int rc = s->ops->list_ids(s, IDM_OBJECT_CARD, &f, after, SIBLINGS_PAGE, ids, &n);
        if (rc != IDM_OK)
            return rc;
        for (size_t i = 0; i < n && !*in_use; i++) {
            after = ids[i];
            if (ids[i] == card->id)
                continue;
            struct idm_card_rec other;
            memset(&other, 0, sizeof other);
            rc = s->ops->card_load(s, ids[i], &other);
            if (rc != IDM_OK)
                return rc;
            if (other.state == IDM_CARD_ISSUED || other.state == IDM_CARD_ACTIVE) {
                *in_use = 1;
                snprintf(number, size, "%s", other.number);
            }
            idm_card_rec_clear(&other);
        }
    } while (n == SIBLINGS_PAGE && !*in_use);
    return IDM_OK;
}

int idm_readiness_check(struct idm_store *s, const struct idm_optset *o,
                        const struct idm_card_rec *card, int *ready, char *why, size_t why_size)
{
    *ready = 0;
    why[0] = '\0';
    char label[96];
    idm_card_label(card, label, sizeof label);
    if (card->state != IDM_CARD_APPROVED) {
        snprintf(why, why_size, "%s is in state '%s'; mass production takes approved cards",
                 label, idm_card_state_name(card->state));
        return IDM_OK;
    }
    if (card->production != IDM_PRODUCTION_LOCAL) {
        snprintf(why, why_size, "%s is produced externally", label);
        return IDM_OK;
    }
    /* A Digital ID card's certificate subject is filled from its holder's
     * attributes; ${commonName} is the holder's common name, or the name of
     * a non-personal card, which has no attributes. */
    const char *subject_template = NULL;
    char attr[128];
    int digital = card->option == IDM_CARD_DIGITAL;
    int rc = idm_optset_string(o, "cert_subject_template", &subject_template);
    if (rc != IDM_OK)
        return rc;
    int fits = 1;
    if (!idm_card_type_is_personal(card->type)) {
        if (digital && missing_attribute(subject_template, NULL, 0, "commonName", attr,
                                         sizeof attr))
            snprintf(why, why_size, "%s has no attribute '%s' (cert_subject_template); a "
                     "non-personal card has none", label, attr);
        else if (!digital || ((rc = subject_fits(subject_template, card->name, NULL, NULL, 0,
                                                 label, &fits, why, why_size)) == IDM_OK &&
                              fits))
            *ready = 1;
        return rc;
    }

    const char *cn_template = NULL, *upn_template = NULL;
    int multiple = 0;
    rc = idm_optset_string(o, "common_name_template", &cn_template);
    if (rc == IDM_OK)
        rc = idm_optset_string(o, "upn_template", &upn_template);
    if (rc == IDM_OK)
        rc = idm_optset_bool(o, "allow_multiple_active_cards", &multiple);
    if (rc != IDM_OK)
        return rc;

    struct idm_identity_rec holder;
    memset(&holder, 0, sizeof holder);
    rc = s->ops->identity_load(s, card->identity_id, &holder);
    if (rc != IDM_OK)
        return rc;
    char who[160];
    idm_identity_label(&holder, who, sizeof who);
    int in_use = 0;
    char other[64] = "";
    if (holder.state != IDM_IDENTITY_ACTIVE) {
        snprintf(why, why_size, "%s of %s is '%s'; only active holders get cards", who, label,
                 idm_identity_state_name(holder.state));
    } else if (holder.common_name == NULL && cn_template[0] == '\0') {
        snprintf(why, why_size, "%s has no common name: common_name_template is empty", who);
    } else if (holder.common_name == NULL &&
               missing_attribute(cn_template, holder.attrs, holder.nattrs, NULL, attr,
                                 sizeof attr)) {
        snprintf(why, why_size, "attribute '%s' of %s is missing (common_name_template)", attr,
                 who);
    } else if (digital && missing_attribute(subject_template, holder.attrs, holder.nattrs,
                                            "commonName", attr, sizeof attr)) {
        snprintf(why, why_size, "attribute '%s' of %s is missing (cert_subject_template)", attr,
                 who);
    } else if (digital && holder.upn == NULL &&
               missing_attribute(upn_template, holder.attrs, holder.nattrs, NULL, attr,
                                 sizeof attr)) {
        snprintf(why, why_size, "attribute '%s' of %s is missing (upn_template)", attr, who);
    } else if (digital &&
               ((rc = subject_fits(subject_template, holder.common_name, cn_template,
                                   holder.attrs, holder.nattrs, who, &fits, why, why_size)) !=
                    IDM_OK ||
                !fits)) {
        /* why names the value that does not fit, or rc the failure */
    } else if (!multiple &&
               (rc = other_card_in_use(s, card, &in_use, other, sizeof other)) == IDM_OK &&
               in_use) {
        snprintf(why, why_size, "%s already has %s card %s in use, and "
                 "allow_multiple_active_cards is off", who, idm_card_type_name(card->type), other);
    } else if (rc == IDM_OK) {
        *ready = 1;
    }
    idm_identity_rec_clear(&holder);
    return rc;
}
