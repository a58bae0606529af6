/*
 * Issuing and revoking certificates through a CA backend, with the store as
 * the record of truth.
 *
 * Issuing is journaled so that it is idempotent across crashes: the
 * idempotency key is recorded as pending (with an audit event) before the
 * CA is called, outside any transaction, and the certificate is recorded
 * with the key marked done in one transaction after.  A repeated call finds
 * the key done and returns the recorded certificate; a call after a crash
 * finds it pending and asks the CA again with the same key, which a CA
 * honouring idempotency keys answers with the same certificate.
 */
#include <inttypes.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/ca.h>

#include "backends/ca/ca_impl.h"
#include "core/buffer_impl.h"
#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "core/log.h"
#include "model/audit_impl.h"
#include "model/card_impl.h"
#include "model/cert_impl.h"
#include "model/identity_impl.h"
#include "model/options_impl.h"
#include "model/states.h"
#include "model/subject.h"
#include "model/text.h"
#include "store/store.h"

#define CHECK_CA(ca) IDM_CHECK_HANDLE(ca, IDM_MAGIC_CA, "idm_ca_t")
#define MS_PER_DAY INT64_C(86400000)


static char *dup_or_null(const char *s, int *ok)
{
    return s != NULL && s[0] != '\0' ? idm_strdup_or_null(s, ok) : NULL;
}

/*
 * Fills req from the card, its holder and the options, inside the caller's
 * transaction.  Refuses cards whose state or holder cannot take a
 * certificate now.
 */
static int build_request(const idm_ctx_t *ctx, struct idm_store *s,
                         const struct idm_card_rec *card, idm_key_usage usage,
                         struct idm_cert_request *req)
{
    char label[96];
    idm_card_label(card, label, sizeof label);
    idm_cert_state implied = IDM_CERT_ON_HOLD;
    idm_cert_state_for_card(card->state, &implied);
    if (implied == IDM_CERT_REVOKED || implied == IDM_CERT_EXPIRED)
        return IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; it cannot take a certificate", label,
                       idm_card_state_name(card->state));

    struct idm_optset *o = NULL;
    int rc = idm_optset_load(s, &o);
    if (rc != IDM_OK)
        return rc;
    const char *subject_template, *cn_template, *upn_template, *email_key, *crl, *aia;
    int64_t days = 0;
    rc = idm_optset_string(o, "cert_subject_template", &subject_template);
    if (rc == IDM_OK)
        rc = idm_optset_string(o, "common_name_template", &cn_template);
    if (rc == IDM_OK)
        rc = idm_optset_string(o, "upn_template", &upn_template);
    if (rc == IDM_OK)
        rc = idm_optset_string(o, "email_attribute", &email_key);
    if (rc == IDM_OK)
        rc = idm_optset_string(o, "cert_crl_url", &crl);
    if (rc == IDM_OK)
        rc = idm_optset_string(o, "cert_aia_url", &aia);
    if (rc == IDM_OK)
        rc = idm_optset_int(o,
                            idm_card_type_is_visitor(card->type) ? "visitor_cert_validity_days"
                                                                 : "cert_validity_days",
                            &days);

    struct idm_identity_rec holder;
    memset(&holder, 0, sizeof holder);
    char *cn = NULL, *upn = NULL;
    const char *email = NULL;
    if (rc == IDM_OK && idm_card_type_is_personal(card->type)) {
        rc = s->ops->identity_load(s, card->identity_id, &holder);
        char who[160];
        if (rc == IDM_OK)
            idm_identity_label(&holder, who, sizeof who);
        if (rc == IDM_OK && holder.state != IDM_IDENTITY_ACTIVE)
            rc = IDM_ERR(IDM_ERR_STATE, "%s of %s is '%s'; certificates are issued only for "
                         "active identities", who, label, idm_identity_state_name(holder.state));
        if (rc == IDM_OK && holder.common_name == NULL)
            rc = idm_template_expand(cn_template, holder.attrs, holder.nattrs, &cn);
        if (rc == IDM_OK && holder.upn == NULL)
            rc = idm_template_expand(upn_template, holder.attrs, holder.nattrs, &upn);
        const char *name = holder.common_name != NULL ? holder.common_name : cn;
        if (rc == IDM_OK && name == NULL)
            rc = IDM_ERR(IDM_ERR_STATE, "%s has no common name: an attribute that "
                         "common_name_template names is missing", who);
        if (rc == IDM_OK)
            rc = idm_subject_build(subject_template, name, holder.attrs, holder.nattrs, req);
        const struct idm_attr *mail =
            email_key[0] != '\0' ? idm_attr_find(holder.attrs, holder.nattrs, email_key) : NULL;
        email = mail != NULL ? mail->value : NULL;
    } else if (rc == IDM_OK) {
        rc = idm_subject_build(subject_template, card->name, NULL, 0, req);
    }

    int ok = 1;
    if (rc == IDM_OK) {
        const char *the_upn = holder.upn != NULL ? holder.upn : upn;
        /* Only the logon certificate names the Windows account. */
        if (usage == IDM_USAGE_AUTHENTICATION)
            req->upn = dup_or_null(the_upn, &ok);
        req->email = dup_or_null(email, &ok);
        req->crl_url = dup_or_null(crl, &ok);
        req->aia_url = dup_or_null(aia, &ok);
        req->type = card->type;
        req->usage = usage;
        req->not_before_ms = idm_ctx_clock_ms(ctx);
        req->not_after_ms = req->not_before_ms + days * MS_PER_DAY;
        if (!ok)
            rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot build a certificate request");
    }
    free(cn);
    free(upn);
    idm_identity_rec_clear(&holder);
    idm_optset_free(o);
    return rc;
}

/* Audits a failed backend call (the record must survive the failure it
 * reports) and leaves the caller's IDM_ERR_BACKEND message in place. */
static void audit_alone(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                        idm_object_type type, int64_t id, const char *what, const char *why)
{
    idm_audit_append_alone(ctx, s, actor, type, id, "%s: %s", what, why);
}

/* Phase 1: the journal.  *done_cert is the certificate already recorded
 * for key, or 0 when the CA must be asked (and req is then filled). */
static int journal_issue(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                         int64_t card_id, idm_key_usage usage, int attempt, char *key,
                         size_t key_size, struct idm_cert_request *req, int64_t *done_cert)
{
    int rc = s->ops->begin(s);
    if (rc != IDM_OK)
        return rc;
    struct idm_card_rec card;
    rc = s->ops->card_load(s, card_id, &card);
    if (rc == IDM_OK) {
        snprintf(key, key_size, "o%" PRId64 "-c%" PRId64 "-a%d-%s", card.order_id, card.id,
                 attempt, idm_key_usage_name(usage));
        int64_t journal_card = 0;
        *done_cert = 0;
        rc = s->ops->issuance_find(s, key, &journal_card, done_cert);
        int found = rc == IDM_OK;
        if (rc == IDM_ERR_NOT_FOUND)
            rc = IDM_OK;
        if (rc == IDM_OK && *done_cert == 0)
            rc = build_request(ctx, s, &card, usage, req);
        if (rc == IDM_OK && !found)
            rc = s->ops->issuance_insert(s, key, card.id, (int)usage, idm_ctx_clock_ms(ctx));
        if (rc == IDM_OK && *done_cert == 0)
            rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_CARD, card.id, NULL, NULL,
                                  "CA asked for a certificate for %s (key %s%s)",
                                  idm_key_usage_name(usage), key, found ? ", again" : "");
        idm_card_rec_clear(&card);
    }
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    return rc;
}

/* Phase 3: the certificate (parsed, with its DER) and the journal's
 * completion, in one transaction. */
static int record_issue(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                        int64_t card_id, const char *key, struct idm_cert_rec *rec,
                        int64_t *cert_id)
{
    int rc = s->ops->begin(s);
    if (rc == IDM_OK) {
        int64_t journal_card = 0, existing = 0;
        struct idm_card_rec card;
        rc = s->ops->issuance_find(s, key, &journal_card, &existing);
        if (rc == IDM_OK && existing != 0) {
            /* Another process recorded this key meanwhile: keep the first. */
            *cert_id = existing;
        } else if (rc == IDM_OK && (rc = s->ops->card_load(s, card_id, &card)) == IDM_OK) {
            rc = idm_cert_record(ctx, s, actor, &card, rec);
            if (rc == IDM_OK)
                rc = s->ops->issuance_complete(s, key, rec->id, idm_ctx_clock_ms(ctx));
            *cert_id = rec->id;
            idm_card_rec_clear(&card);
        }
        if (rc == IDM_OK)
            rc = s->ops->commit(s);
        else
            s->ops->rollback(s);
    }
    return rc;
}

IDM_EXPORT int idm_card_issue_certificate(idm_card_t *card, const char *actor, idm_ca_t *ca,
                                          idm_key_usage usage, const unsigned char *spki,
                                          size_t spki_len, int attempt, idm_cert_t **out)
{
    if (out != NULL)
        *out = NULL;
    IDM_CHECK_HANDLE(card, IDM_MAGIC_CARD, "idm_card_t");
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    CHECK_CA(ca);
    IDM_CHECK_NOT_NULL(spki);
    if ((int)usage < IDM_USAGE_AUTHENTICATION || (int)usage > IDM_USAGE_CARD_AUTHENTICATION)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'usage' is %d; not an idm_key_usage",
                        (int)usage);
    if (attempt < 1)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'attempt' is %d; attempts count from 1",
                        attempt);
    int is_rsa = 0;
    if ((rc = idm_spki_check(spki, spki_len, &is_rsa)) != IDM_OK)
        return idm_error_prefix(__func__, rc);

    idm_ctx_t *ctx = idm_card_handle_ctx(card);
    int64_t card_id = idm_card_handle_id(card);
    struct idm_store *s;
    if ((rc = idm_ctx_store(ctx, &s)) != IDM_OK)
        return idm_error_prefix(__func__, rc);

    struct idm_cert_request req;
    memset(&req, 0, sizeof req);
    req.magic = IDM_MAGIC_CERT_REQUEST;
    char key[96];
    int64_t cert_id = 0;
    rc = journal_issue(ctx, s, actor, card_id, usage, attempt, key, sizeof key, &req, &cert_id);
    if (rc == IDM_OK && cert_id != 0) {
        idm_log_info(ctx, "ca", "key %s was issued before: certificate %" PRId64 " returned",
                     key, cert_id);
    } else if (rc == IDM_OK) {
        req.spki = malloc(spki_len);
        req.idempotency_key = strdup(key);
        idm_buffer_t *der = NULL;
        if (req.spki == NULL || req.idempotency_key == NULL || idm_buffer_new(&der) != IDM_OK) {
            rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot build a certificate request");
        } else {
            memcpy(req.spki, spki, spki_len);
            req.spki_len = spki_len;
            req.spki_is_rsa = is_rsa;
            idm_ca_backend_reset();
            int ca_rc = ca->ops.issue(&req, der, ca->user_data);
            struct idm_cert_rec rec;
            memset(&rec, 0, sizeof rec);
            if (ca_rc != 0) {
                rc = idm_ca_backend_failed("issue a certificate", ca_rc);
                audit_alone(ctx, s, actor, IDM_OBJECT_CARD, card_id, "CA failed to issue",
                            idm_last_error_message());
            } else if ((rc = idm_cert_parse(der->data, der->len, spki, spki_len, &rec)) !=
                       IDM_OK) {
                rc = idm_error_wrap(NULL, IDM_ERR_BACKEND, "the CA's answer to key %s is refused",
                                    key);
                audit_alone(ctx, s, actor, IDM_OBJECT_CARD, card_id, "CA answer refused",
                            idm_last_error_message());
            } else {
                rec.der = der->data; /* borrowed for the insert */
                rec.der_len = der->len;
                rec.usage = (int)usage;
                rc = record_issue(ctx, s, actor, card_id, key, &rec, &cert_id);
                rec.der = NULL;
            }
            idm_cert_rec_clear(&rec);
        }
        idm_buffer_free(&der);
        if (rc == IDM_OK)
            idm_log_info(ctx, "ca", "%s certificate issued for card %" PRId64 " (key %s)",
                         idm_key_usage_name(usage), card_id, key);
    }
    idm_cert_request_clear(&req);
    /* The card first: a handle made before a reload that fails would be
     * handed to no one (found by the fault sweep, a leak). */
    if (rc == IDM_OK)
        rc = idm_card_handle_reload(card);
    if (rc == IDM_OK && out != NULL)
        rc = idm_cert_handle_new(ctx, cert_id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

/* ---- revocation, hold and release --------------------------------------- */

enum cert_change { CHANGE_REVOKE, CHANGE_HOLD, CHANGE_RELEASE };

static const char *const change_verbs[] = {"revoke", "hold", "release"};

/* Asks the CA, then records the new state with its audit event. */
static int change_certificate(idm_cert_t *cert, const char *actor, idm_ca_t *ca,
                              enum cert_change what, idm_revocation_reason reason)
{
    idm_ctx_t *ctx = idm_cert_handle_ctx(cert);
    struct idm_store *s;
    int rc = idm_ctx_store(ctx, &s);
    if (rc == IDM_OK)
        rc = idm_cert_handle_reload(cert);
    if (rc != IDM_OK)
        return rc;
    const struct idm_cert_rec *cur = idm_cert_handle_rec(cert);
    idm_cert_state needed = what == CHANGE_RELEASE ? IDM_CERT_ON_HOLD : IDM_CERT_VALID;
    if (cur->state != needed && !(what == CHANGE_REVOKE && cur->state == IDM_CERT_ON_HOLD))
        return IDM_ERR(IDM_ERR_STATE, "certificate %s is %s; only %s certificates can be %s",
                       cur->serial, idm_cert_state_name(cur->state),
                       what == CHANGE_REVOKE ? "valid or on_hold" : idm_cert_state_name(needed),
                       what == CHANGE_REVOKE  ? "revoked"
                       : what == CHANGE_HOLD ? "held"
                                             : "released");
    /* A held certificate of a card that is not active stays held: releasing
     * it would make it valid on a card that may not be used. */
    if (what == CHANGE_RELEASE) {
        struct idm_card_rec card;
        idm_cert_state implied = IDM_CERT_VALID;
        rc = s->ops->card_load(s, cur->card_id, &card);
        if (rc != IDM_OK)
            return rc;
        int follows = idm_cert_state_for_card(card.state, &implied);
        char label[96];
        idm_card_label(&card, label, sizeof label);
        idm_card_state card_state = card.state;
        idm_card_rec_clear(&card);
        if (!follows || implied != IDM_CERT_VALID)
            return IDM_ERR(IDM_ERR_STATE, "certificate %s stays on hold: %s is in state '%s', "
                           "not active", cur->serial, label, idm_card_state_name(card_state));
    }
    /* A built-in CA knows its key: refuse to act on another CA's certificate. */
    if (ca->builtin != NULL && (cur->issuer_key_id == NULL ||
                                strcmp(cur->issuer_key_id, idm_openssl_ca_key_id(ca->builtin)) != 0))
        return IDM_ERR(IDM_ERR_INVALID_ARG, "certificate %s was issued by CA key %s, not by this "
                       "CA (key %s)", cur->serial,
                       cur->issuer_key_id != NULL ? cur->issuer_key_id : "(unknown)",
                       idm_openssl_ca_key_id(ca->builtin));
    int64_t now = idm_ctx_clock_ms(ctx);
    char serial[128];
    snprintf(serial, sizeof serial, "%s", cur->serial);
    int64_t id = cur->id;

    idm_ca_backend_reset();
    int ca_rc = what == CHANGE_REVOKE ? ca->ops.revoke(serial, reason, now, ca->user_data)
                : what == CHANGE_HOLD ? ca->ops.hold(serial, now, ca->user_data)
                                      : ca->ops.release(serial, ca->user_data);
    if (ca_rc != 0) {
        char what_text[192];
        snprintf(what_text, sizeof what_text, "%s certificate %s", change_verbs[what], serial);
        rc = idm_ca_backend_failed(what_text, ca_rc);
        audit_alone(ctx, s, actor, IDM_OBJECT_CERTIFICATE, id, "CA failed",
                    idm_last_error_message());
        return rc;
    }

    if ((rc = s->ops->begin(s)) != IDM_OK)
        return rc;
    struct idm_cert_rec rec;
    rc = s->ops->cert_load(s, id, &rec);
    if (rc == IDM_OK) {
        idm_cert_state from = rec.state;
        idm_cert_state to = what == CHANGE_REVOKE ? IDM_CERT_REVOKED
                            : what == CHANGE_HOLD ? IDM_CERT_ON_HOLD
                                                  : IDM_CERT_VALID;
        idm_cert_follow_state(&rec, to, now);
        if (what == CHANGE_REVOKE)
            rec.revocation_reason = (int)reason;
        rc = s->ops->cert_update(s, &rec);
        if (rc == IDM_OK)
            rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_CERTIFICATE, id,
                                  idm_cert_state_name(from), idm_cert_state_name(to),
                                  "serial %s: CA did %s (reason %d)", serial, change_verbs[what],
                                  rec.revocation_reason);
        idm_cert_rec_clear(&rec);
    }
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    if (rc == IDM_OK)
        rc = idm_cert_handle_reload(cert);
    return rc;
}

static int check_change_args(const char *func, idm_cert_t *cert, const char *actor, idm_ca_t *ca)
{
    int rc = idm_handle_validate(cert, IDM_MAGIC_CERT, func, "cert", "idm_cert_t");
    if (rc == IDM_OK)
        rc = idm_check_actor(func, actor);
    if (rc == IDM_OK)
        rc = idm_handle_validate(ca, IDM_MAGIC_CA, func, "ca", "idm_ca_t");
    return rc;
}

IDM_EXPORT int idm_cert_revoke(idm_cert_t *cert, const char *actor, idm_ca_t *ca,
                               idm_revocation_reason reason)
{
    int rc = check_change_args(__func__, cert, actor, ca);
    if (rc != IDM_OK)
        return rc;
    int r = (int)reason;
    if (r < 0 || r > IDM_REVOKE_PRIVILEGE_WITHDRAWN || r == 7 || r == 8 ||
        r == IDM_REVOKE_CERTIFICATE_HOLD)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'reason' is %d; use a revocation reason "
                        "(certificateHold is idm_cert_hold())", r);
    rc = change_certificate(cert, actor, ca, CHANGE_REVOKE, reason);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_cert_hold(idm_cert_t *cert, const char *actor, idm_ca_t *ca)
{
    int rc = check_change_args(__func__, cert, actor, ca);
    if (rc != IDM_OK)
        return rc;
    if (ca->ops.hold == NULL)
        return IDM_FAIL(IDM_ERR_UNSUPPORTED, "this CA has no hold method");
    rc = change_certificate(cert, actor, ca, CHANGE_HOLD, IDM_REVOKE_CERTIFICATE_HOLD);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_cert_release(idm_cert_t *cert, const char *actor, idm_ca_t *ca)
{
    int rc = check_change_args(__func__, cert, actor, ca);
    if (rc != IDM_OK)
        return rc;
    if (ca->ops.release == NULL)
        return IDM_FAIL(IDM_ERR_UNSUPPORTED, "this CA has no release method");
    rc = change_certificate(cert, actor, ca, CHANGE_RELEASE, IDM_REVOKE_UNSPECIFIED);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

/* ---- CRLs ----------------------------------------------------------------- */

/* The revoked and held certificates of the built-in CA, with a new CRL
 * number, in one transaction with the CRL's audit event. */
static int builtin_crl(idm_ca_t *ca, const idm_ctx_t *ctx, struct idm_store *s, int hours,
                       idm_buffer_t *crl)
{
    int rc = s->ops->begin(s);
    if (rc != IDM_OK)
        return rc;
    struct idm_list_filter f = {.issuer_key_id = idm_openssl_ca_key_id(ca->builtin),
                                .revoked_or_held = 1};
    struct idm_cert_rec *recs = NULL;
    size_t n = 0, cap = 0, page;
    int64_t ids[128], after = 0, number = 0;
    do {
        rc = s->ops->list_ids(s, IDM_OBJECT_CERTIFICATE, &f, after, 128, ids, &page);
        for (size_t i = 0; rc == IDM_OK && i < page; i++) {
            if (n == cap) {
                size_t ncap = cap == 0 ? 64 : 2 * cap;
                struct idm_cert_rec *grown = realloc(recs, ncap * sizeof *grown);
                if (grown == NULL) {
                    rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot hold %zu CRL entries", ncap);
                    break;
                }
                recs = grown;
                cap = ncap;
            }
            if ((rc = s->ops->cert_load(s, ids[i], &recs[n])) == IDM_OK)
                n++;
        }
        if (page > 0)
            after = ids[page - 1];
    } while (rc == IDM_OK && page == 128);

    struct idm_crl_entry *entries = rc == IDM_OK ? calloc(n + 1, sizeof *entries) : NULL;
    if (rc == IDM_OK && entries == NULL)
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot hold %zu CRL entries", n);
    for (size_t i = 0; rc == IDM_OK && i < n; i++) {
        entries[i].serial = recs[i].serial;
        entries[i].reason = recs[i].revocation_reason < 0 ? 0 : recs[i].revocation_reason;
        entries[i].time_ms = recs[i].revoked_ms;
    }
    int64_t now = idm_ctx_clock_ms(ctx);
    if (rc == IDM_OK)
        rc = s->ops->counter_next(s, "crl_number", &number);
    if (rc == IDM_OK)
        rc = idm_openssl_ca_crl(ca->builtin, entries, n, number, now,
                                now + (int64_t)hours * 3600000, crl);
    if (rc == IDM_OK)
        rc = idm_audit_append(ctx, s, "system", IDM_OBJECT_CA, 0, NULL, NULL,
                              "CRL number %" PRId64 " of CA %s with %zu entries", number,
                              idm_openssl_ca_key_id(ca->builtin), n);
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    free(entries);
    for (size_t i = 0; i < n; i++)
        idm_cert_rec_clear(&recs[i]);
    free(recs);
    return rc;
}

IDM_EXPORT int idm_ca_generate_crl(idm_ca_t *ca, idm_ctx_t *ctx, int next_update_hours,
                                   idm_buffer_t *crl)
{
    CHECK_CA(ca);
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_HANDLE(crl, IDM_MAGIC_BUFFER, "idm_buffer_t");
    if (next_update_hours < 1 || next_update_hours > 8760)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'next_update_hours' is %d; expected "
                        "1..8760", next_update_hours);
    struct idm_store *s;
    int rc = idm_ctx_store(ctx, &s);
    if (rc != IDM_OK)
        return idm_error_prefix(__func__, rc);
    if (ca->builtin != NULL) {
        rc = builtin_crl(ca, ctx, s, next_update_hours, crl);
    } else if (ca->ops.crl == NULL) {
        return IDM_FAIL(IDM_ERR_UNSUPPORTED, "this CA has no crl method");
    } else {
        idm_ca_backend_reset();
        int ca_rc = ca->ops.crl(crl, ca->user_data);
        rc = ca_rc == 0 ? IDM_OK : idm_ca_backend_failed("produce a CRL", ca_rc);
        audit_alone(ctx, s, "system", IDM_OBJECT_CA, 0, "CA asked for its CRL",
                    rc == IDM_OK ? "done" : idm_last_error_message());
    }
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}
