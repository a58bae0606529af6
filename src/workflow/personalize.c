/*
 * The PIV personalization profile: what goes on a Physical ID or Digital
 * ID card, in which order, and how the card is checked afterwards.  It
 * talks to the card only through an encoder's ops table, so the built-in
 * PC/SC encoder and a host's printer-encoder get the same profile.
 *
 * Order matters for what a crash or a failure leaves behind:
 *   1. the card is opened and its chip serial recorded (wrong card: stop
 *      before anything is written);
 *   2. issue: per slot, a key generated on the card and its certificate
 *      issued and committed to the store;
 *   3. produce: the certificates written to the card, then CHUID, CCC
 *      (Digital ID) and Printed Information;
 *   4. PIN and PUK: delivered to the host first, then set on the card, so
 *      that no crash leaves a card with secrets nobody knows; last, so that
 *      a card that failed earlier still has its factory PIN for the retry;
 *   5. verification: VERIFY PIN, every object read back, a signature per
 *      key checked against the certificate;
 *   6. the card moves to issued (active or unassigned when an externally
 *      produced card is activated or initialized: see struct
 *      idm_personalization_goal), or, after a failure, to failed (or stays
 *      where it was, for the external goals) with this attempt's
 *      certificates revoked.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <uuid/uuid.h>

#include "backends/ca/ca_impl.h"
#include "backends/encoder/encoder_impl.h"
#include "backends/encoder/tlv.h"
#include "core/buffer_impl.h"
#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "core/log.h"
#include "model/audit_impl.h"
#include "model/card_impl.h"
#include "model/cert_impl.h"
#include "model/options_impl.h"
#include "model/text.h"
#include "store/store.h"
#include "workflow/personalize_impl.h"

#define PUK_LENGTH 8
#define SECRET_ROOM 16
#define MAX_SLOTS 4
#define MS_PER_DAY INT64_C(86400000)
#define ISSUER_IDENTIFICATION "libidm"

/* FASC-N of a non-federal issuer: agency code 9999, all other fields 9 or 0
 * (SP 800-73-4 part 1, 3.1.2, as TIG SCEPACS lays it out). */
static const unsigned char NON_FEDERAL_FASCN[25] = {
    0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68,
    0x58, 0x21, 0x08, 0x42, 0x10, 0x84, 0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB};

/* GSC-RID of the CCC's card identifier (SP 800-73-4 part 1, table 8). */
static const unsigned char GSC_RID[5] = {0xA0, 0x00, 0x00, 0x01, 0x16};

/* The DigestInfo prefix of SHA-256 (RFC 8017, 9.2 note 1). */
static const unsigned char SHA256_DIGEST_INFO[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                     0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                     0x01, 0x05, 0x00, 0x04, 0x20};

/* One object written to the card, kept to compare with what reads back. */
struct written {
    idm_piv_object object;
    unsigned char *value;
    size_t len;
    const unsigned char *cert; /* certificate objects: the DER inside 70 */
    size_t cert_len;
};

struct slot_result {
    idm_piv_slot slot;
    idm_cert_t *cert;
};

/* Everything one personalization needs and produces. */
struct idm_personalization {
    idm_ctx_t *ctx;
    idm_card_t *card;
    const char *actor;
    idm_encoder_t *enc;
    idm_ca_t *ca;
    int attempt;
    const struct idm_optset *options; /* an order's snapshot, or NULL: the current ones */
    const struct idm_personalization_goal *goal;
    void (*pin_sink)(const char *pin, void *arg);
    void *pin_sink_arg;
    char label[64]; /* "card 00000042" */
    /* from the card and the options */
    int digital;
    idm_card_type type;
    int pin_length;
    int pin_generated;
    idm_card_key_alg key_alg;
    unsigned slots[MAX_SLOTS];
    size_t nslots;
    int64_t expiry_ms;
    char *holder_name; /* printed name */
    /* produced */
    char serial[65];
    idm_buffer_t *keys[MAX_SLOTS]; /* the SPKIs generated on the card, by slot index */
    struct slot_result results[MAX_SLOTS];
    size_t nresults;
    struct written objects[MAX_SLOTS + 3];
    size_t nobjects;
    char pin[SECRET_ROOM];
    char puk[SECRET_ROOM];
    int new_chip_ok; /* see idm_personalization_allow_new_chip() */
    int session_open;
    int card_written;
    uint64_t call_started;
};

static void run_clear(struct idm_personalization *r)
{
    for (size_t i = 0; i < r->nresults; i++)
        idm_cert_free(&r->results[i].cert);
    for (size_t i = 0; i < MAX_SLOTS; i++)
        idm_buffer_free(&r->keys[i]);
    for (size_t i = 0; i < r->nobjects; i++)
        free(r->objects[i].value);
    free(r->holder_name);
    OPENSSL_cleanse(r->pin, sizeof r->pin);
    OPENSSL_cleanse(r->puk, sizeof r->puk);
}

static idm_key_usage slot_usage(unsigned slot)
{
    switch (slot) {
    case IDM_PIV_SLOT_SIGNATURE:
        return IDM_USAGE_SIGNATURE;
    case IDM_PIV_SLOT_KEY_MANAGEMENT:
        return IDM_USAGE_ENCRYPTION;
    case IDM_PIV_SLOT_CARD_AUTHENTICATION:
        return IDM_USAGE_CARD_AUTHENTICATION;
    default:
        return IDM_USAGE_AUTHENTICATION;
    }
}


/* ---- reading the card, its holder and the options ----------------------- */

static int load_profile(struct idm_personalization *r)
{
    idm_card_state state;
    idm_production production;
    idm_card_option option;
    int64_t identity_id = 0;
    const char *number = NULL;
    int rc = idm_card_handle_reload(r->card);
    if (rc == IDM_OK && (idm_card_get_state(r->card, &state) != IDM_OK ||
                         idm_card_get_production(r->card, &production) != IDM_OK ||
                         idm_card_get_option(r->card, &option) != IDM_OK ||
                         idm_card_get_type(r->card, &r->type) != IDM_OK ||
                         idm_card_get_identity_id(r->card, &identity_id) != IDM_OK ||
                         idm_card_get_number(r->card, &number) != IDM_OK))
        rc = IDM_ERR(IDM_ERR_INTERNAL, "cannot read the card handle");
    if (rc != IDM_OK)
        return rc;
    snprintf(r->label, sizeof r->label, "card %s", number);
    r->digital = option == IDM_CARD_DIGITAL;
    if (production != r->goal->production)
        return IDM_ERR(IDM_ERR_STATE, "%s is produced %sly; %s is for cards produced %sly",
                       r->label, idm_production_name(production), r->goal->what,
                       idm_production_name(r->goal->production));
    if (state != r->goal->from)
        return IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; %s starts from '%s'", r->label,
                       idm_card_state_name(state), r->goal->what,
                       idm_card_state_name(r->goal->from));
    if (r->digital && r->ca == NULL)
        return IDM_ERR(IDM_ERR_STATE, "%s is a Digital ID card; argument 'ca' is NULL",
                       r->label);
    if (r->enc->pin_delivery == NULL)
        return IDM_ERR(IDM_ERR_STATE, "the encoder has no PIN delivery callback (see "
                       "idm_encoder_set_pin_callbacks()); the generated PUK would be lost");
    if (r->digital && (r->enc->ops.generate_key == NULL || r->enc->ops.sign == NULL))
        return IDM_ERR(IDM_ERR_STATE, "%s is a Digital ID card and the encoder has no %s "
                       "method", r->label, r->enc->ops.generate_key == NULL ? "generate_key"
                                                                            : "sign");

    struct idm_store *s = NULL;
    struct idm_optset *o = NULL;
    int64_t pin_length = 6, days = 0;
    const char *pin_source = NULL, *alg = NULL, *slots = NULL;
    const int visitor = idm_card_type_is_visitor(r->type);
    const struct idm_optset *use = r->options;
    rc = idm_ctx_store(r->ctx, &s);
    if (rc == IDM_OK && use == NULL && (rc = idm_optset_load(s, &o)) == IDM_OK)
        use = o;
    if (rc == IDM_OK)
        rc = idm_optset_int(use, "pin_length", &pin_length);
    if (rc == IDM_OK)
        rc = idm_optset_string(use, "pin_source", &pin_source);
    if (rc == IDM_OK)
        rc = idm_optset_string(use, "card_key_algorithm", &alg);
    if (rc == IDM_OK)
        rc = idm_optset_string(use, "card_key_slots", &slots);
    if (rc == IDM_OK)
        rc = idm_optset_int(use, visitor ? "visitor_cert_validity_days" : "cert_validity_days",
                            &days);
    if (rc == IDM_OK) {
        char why[128];
        r->pin_length = (int)pin_length;
        r->pin_generated = strcmp(pin_source, "generated") == 0;
        r->key_alg = strcmp(alg, "rsa2048") == 0 ? IDM_CARD_KEY_RSA_2048 : IDM_CARD_KEY_EC_P256;
        if (!idm_option_parse_slots(slots, r->slots, &r->nslots, why, sizeof why))
            rc = IDM_ERR(IDM_ERR_INTERNAL, "option card_key_slots: %s", why);
        r->expiry_ms = idm_ctx_clock_ms(r->ctx) + days * MS_PER_DAY;
    }
    idm_optset_free(o);
    if (rc != IDM_OK)
        return rc;
    if (!r->pin_generated && r->enc->pin_entry == NULL)
        return IDM_ERR(IDM_ERR_STATE, "option pin_source is 'user' and the encoder has no PIN "
                       "entry callback (see idm_encoder_set_pin_callbacks())");

    /* The printed name: the holder's common name, or a non-personal card's name. */
    const char *name = NULL;
    idm_identity_t *holder = NULL;
    if (identity_id != 0) {
        rc = idm_identity_open(r->ctx, identity_id, &holder);
        if (rc == IDM_OK && idm_identity_get_common_name(holder, &name) != IDM_OK)
            name = NULL;
        if (rc == IDM_OK && name == NULL)
            rc = IDM_ERR(IDM_ERR_STATE, "the holder of %s has no common name: an attribute "
                         "that common_name_template names is missing", r->label);
    } else if (idm_card_get_name(r->card, &name) != IDM_OK || name == NULL) {
        rc = IDM_ERR(IDM_ERR_STATE, "%s has no name", r->label);
    }
    if (rc == IDM_OK) {
        r->holder_name = strdup(name);
        if (r->holder_name == NULL)
            rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy a name");
    }
    idm_identity_free(&holder);
    return rc;
}

/* ---- the objects -------------------------------------------------------- */

static int append_text(unsigned char **buf, size_t *len, unsigned tag, const char *text,
                       size_t max)
{
    return idm_tlv_append(buf, len, tag, (const unsigned char *)text, idm_utf8_cut(text, max));
}

static void utc_date(int64_t ms, struct tm *tm)
{
    time_t t = (time_t)(ms / 1000);
    gmtime_r(&t, tm);
}

static int build_chuid(struct idm_personalization *r, unsigned char **out, size_t *out_len)
{
    uuid_t guid;
    uuid_generate_random(guid);
    struct tm tm;
    char expiry[16];
    utc_date(r->expiry_ms, &tm);
    strftime(expiry, sizeof expiry, "%Y%m%d", &tm);
    int rc = idm_tlv_append(out, out_len, 0x30, NON_FEDERAL_FASCN, sizeof NON_FEDERAL_FASCN);
    if (rc == IDM_OK)
        rc = idm_tlv_append(out, out_len, 0x34, guid, sizeof guid);
    if (rc == IDM_OK)
        rc = idm_tlv_append(out, out_len, 0x35, (const unsigned char *)expiry, 8);
    if (rc == IDM_OK) /* issuer asymmetric signature: none, the card is not federal */
        rc = idm_tlv_append(out, out_len, 0x3E, NULL, 0);
    if (rc == IDM_OK)
        rc = idm_tlv_append(out, out_len, 0xFE, NULL, 0);
    return rc;
}

static int build_ccc(struct idm_personalization *r, unsigned char **out, size_t *out_len)
{
    unsigned char card_id[21];
    memcpy(card_id, GSC_RID, sizeof GSC_RID);
    card_id[5] = 0xFF; /* manufacturer: not registered */
    card_id[6] = 0x02; /* card type: Java Card */
    int rc = idm_ctx_random_bytes(r->ctx, card_id + 7, sizeof card_id - 7);
    if (rc != IDM_OK)
        return rc;
    static const unsigned char v21 = 0x21, pkcs15 = 0x00, data_model = 0x10;
    static const unsigned empty_tags[] = {0xF3, 0xF6, 0xF7, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE};
    rc = idm_tlv_append(out, out_len, 0xF0, card_id, sizeof card_id);
    if (rc == IDM_OK)
        rc = idm_tlv_append(out, out_len, 0xF1, &v21, 1);
    if (rc == IDM_OK)
        rc = idm_tlv_append(out, out_len, 0xF2, &v21, 1);
    for (size_t i = 0; rc == IDM_OK && i < sizeof empty_tags / sizeof empty_tags[0]; i++) {
        if (empty_tags[i] == 0xF6) { /* F4 and F5 sit between F3 and F6 */
            rc = idm_tlv_append(out, out_len, 0xF4, &pkcs15, 1);
            if (rc == IDM_OK)
                rc = idm_tlv_append(out, out_len, 0xF5, &data_model, 1);
        }
        if (rc == IDM_OK)
            rc = idm_tlv_append(out, out_len, empty_tags[i], NULL, 0);
    }
    return rc;
}

static int build_printed_info(struct idm_personalization *r, unsigned char **out, size_t *out_len)
{
    static const char *const months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                         "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    struct tm tm;
    utc_date(r->expiry_ms, &tm);
    char expiry[16];
    snprintf(expiry, sizeof expiry, "%04d%s%02d", tm.tm_year + 1900, months[tm.tm_mon % 12],
             tm.tm_mday);
    const char *number = NULL;
    (void)idm_card_get_number(r->card, &number);
    /* Field sizes of SP 800-73-4 part 1, table 9. */
    int rc = append_text(out, out_len, 0x01, r->holder_name, 125);
    if (rc == IDM_OK)
        rc = append_text(out, out_len, 0x02, idm_card_type_name(r->type), 20);
    if (rc == IDM_OK)
        rc = append_text(out, out_len, 0x04, expiry, 9);
    if (rc == IDM_OK)
        rc = append_text(out, out_len, 0x05, number != NULL ? number : "", 20);
    if (rc == IDM_OK)
        rc = append_text(out, out_len, 0x06, ISSUER_IDENTIFICATION, 15);
    if (rc == IDM_OK)
        rc = idm_tlv_append(out, out_len, 0xFE, NULL, 0);
    return rc;
}

/* ---- calling the encoder ------------------------------------------------ */

/* The comma sequences the start (which forgets older messages) before the
 * method runs; function arguments alone would be evaluated in any order. */
#define ENC_CALL(r, what, call)                                 \
    ((r)->call_started = idm_encoder_call_start(),              \
     idm_encoder_call_end((r)->enc, (r)->call_started, (r)->enc->ops.call, what))

static int write_data_object(struct idm_personalization *r, idm_piv_object object,
                             int (*build)(struct idm_personalization *, unsigned char **, size_t *))
{
    struct written *w = &r->objects[r->nobjects];
    memset(w, 0, sizeof *w);
    w->object = object;
    int rc = build(r, &w->value, &w->len);
    if (rc != IDM_OK) {
        free(w->value);
        return rc;
    }
    r->nobjects++;
    char what[64];
    snprintf(what, sizeof what, "write object %06X", (unsigned)object);
    return ENC_CALL(r, what, write_object(object, w->value, w->len, r->enc->user_data));
}

/* 1 if needle (len > 0) occurs in hay. */
static int bytes_contain(const unsigned char *hay, size_t hay_len, const unsigned char *needle,
                         size_t len)
{
    for (size_t i = 0; len > 0 && i + len <= hay_len; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, len) == 0)
            return 1;
    return 0;
}

/* Issue, for one slot: the key is generated on the card. */
static int generate_slot_key(struct idm_personalization *r, size_t i)
{
    char what[96];
    snprintf(what, sizeof what, "generate a key in slot %s",
             idm_piv_slot_name((idm_piv_slot)r->slots[i]));
    int rc = r->keys[i] != NULL ? IDM_OK : idm_buffer_new(&r->keys[i]);
    if (rc == IDM_OK)
        rc = ENC_CALL(r, what, generate_key((idm_piv_slot)r->slots[i], r->key_alg, r->keys[i],
                                            r->enc->user_data));
    return rc;
}

/* Issue, for one slot whose key was generated: the key is certified and
 * the certificate recorded in the store (committed, or part of the group's
 * transaction) before anything writes it to the card. */
static int certify_slot(struct idm_personalization *r, size_t i)
{
    unsigned slot = r->slots[i];
    const unsigned char *key = NULL;
    size_t key_len = 0;
    int rc = idm_buffer_get(r->keys[i], &key, &key_len);
    struct slot_result *res = &r->results[r->nresults];
    res->slot = (idm_piv_slot)slot;
    res->cert = NULL;
    if (rc == IDM_OK) {
        rc = idm_card_issue_certificate(r->card, r->actor, r->ca, slot_usage(slot), key, key_len,
                                        r->attempt, &res->cert);
        if (rc == IDM_OK)
            r->nresults++;
    }
    const unsigned char *der = NULL;
    size_t der_len = 0;
    if (rc == IDM_OK)
        rc = idm_cert_get_der(res->cert, &der, &der_len);
    /* An attempt already issued (a repeated call with the same attempt)
     * returns the certificate recorded for it, made for the key an earlier
     * run generated: it must never reach this card.  A certificate that
     * holds the card's SubjectPublicKeyInfo byte for byte is for this key;
     * only one that does not (a CA that encodes the key its own way) needs
     * libcrypto to compare the keys, which costs a decoder (~0.3 ms). */
    if (rc == IDM_OK && !bytes_contain(der, der_len, key, key_len)) {
        struct idm_cert_rec parsed;
        memset(&parsed, 0, sizeof parsed);
        rc = idm_cert_parse(der, der_len, key, key_len, &parsed);
        idm_cert_rec_clear(&parsed);
        if (rc == IDM_ERR_INVALID_ARG)
            rc = IDM_ERR(IDM_ERR_STATE, "%s: attempt %d already has a certificate for slot %s, "
                         "made for another key; personalize again with a new attempt",
                         r->label, r->attempt, idm_piv_slot_name((idm_piv_slot)slot));
    }
    return rc;
}

/* The card's certificates as a group: with the built-in CA, whose state is
 * the store, all of them are issued and committed in one transaction (what
 * a crash leaves is all or nothing, and the store commits once instead of
 * twice per slot).  A host CA may answer slowly or from afar: its
 * certificates are issued one by one, each behind its own journal commit,
 * so that the write lock is never held while it works and a crash after
 * it answered still finds the request in the journal. */
static int certify_slots(struct idm_personalization *r)
{
    struct idm_store *s = NULL;
    int grouped = r->ca->builtin != NULL;
    int rc = grouped ? idm_ctx_store(r->ctx, &s) : IDM_OK;
    if (rc == IDM_OK && grouped)
        rc = s->ops->begin(s);
    if (rc != IDM_OK)
        return rc;
    for (size_t i = 0; rc == IDM_OK && i < r->nslots; i++)
        rc = certify_slot(r, i);
    if (!grouped)
        return rc;
    /* A slot that failed rolled back its own part; what the others did is
     * kept, so that the failure path revokes every certificate it finds. */
    int commit_rc = s->ops->commit(s);
    if (rc == IDM_OK)
        rc = commit_rc;
    for (size_t i = 0; commit_rc != IDM_OK && i < r->nresults; i++)
        idm_cert_free(&r->results[i].cert);
    if (commit_rc != IDM_OK)
        r->nresults = 0;
    return rc;
}

/* Produce, for one issued slot: its certificate goes onto the card. */
static int write_slot_certificate(struct idm_personalization *r, const struct slot_result *res)
{
    const unsigned char *der = NULL;
    size_t der_len = 0;
    int rc = idm_cert_get_der(res->cert, &der, &der_len);
    if (rc != IDM_OK)
        return rc;
    struct written *w = &r->objects[r->nobjects++];
    memset(w, 0, sizeof *w);
    w->object = (idm_piv_object)idm_piv_slot_cert_object(res->slot);
    w->cert = der;
    w->cert_len = der_len;
    char what[96];
    snprintf(what, sizeof what, "write the certificate of slot %s",
             idm_piv_slot_name(res->slot));
    return ENC_CALL(r, what, write_certificate(res->slot, der, der_len, r->enc->user_data));
}

/* Digits from the context's random source, without modulo bias. */
static int random_digits(idm_ctx_t *ctx, char *out, int n)
{
    int have = 0;
    unsigned char pool[32];
    while (have < n) {
        int rc = idm_ctx_random_bytes(ctx, pool, sizeof pool);
        if (rc != IDM_OK)
            return rc;
        for (size_t i = 0; i < sizeof pool && have < n; i++) {
            if (pool[i] < 250)
                out[have++] = (char)('0' + pool[i] % 10);
        }
    }
    out[n] = '\0';
    OPENSSL_cleanse(pool, sizeof pool);
    return IDM_OK;
}

static int pin_is_valid(const char *pin, int length)
{
    for (int i = 0; i < length; i++) {
        if (pin[i] < '0' || pin[i] > '9')
            return 0;
    }
    return pin[length] == '\0';
}

/* Step 4: PIN and PUK. */
static int set_secrets(struct idm_personalization *r)
{
    int rc = IDM_OK;
    if (r->pin_generated) {
        rc = random_digits(r->ctx, r->pin, r->pin_length);
    } else {
        idm_error_clear();
        if (r->enc->pin_entry(r->card, r->pin, sizeof r->pin, r->enc->pin_user_data) != 0)
            return IDM_ERR(IDM_ERR_CANCELLED, "the PIN entry callback cancelled");
        r->pin[sizeof r->pin - 1] = '\0';
        if (!pin_is_valid(r->pin, r->pin_length))
            return IDM_ERR(IDM_ERR_INVALID_ARG, "the PIN entry callback gave a PIN that is not "
                           "%d digits (option pin_length)", r->pin_length);
    }
    if (rc == IDM_OK)
        rc = random_digits(r->ctx, r->puk, PUK_LENGTH);
    if (rc != IDM_OK)
        return rc;
    idm_error_clear();
    if (r->enc->pin_delivery(r->card, r->pin_generated ? r->pin : NULL, r->puk,
                             r->enc->pin_user_data) != 0)
        return IDM_ERR(IDM_ERR_CANCELLED, "the PIN delivery callback cancelled");
    if (r->pin_generated && r->pin_sink != NULL)
        r->pin_sink(r->pin, r->pin_sink_arg);
    return ENC_CALL(r, "set the PIN and PUK", set_pin(r->pin, r->puk, r->enc->user_data));
}

/* ---- verification ------------------------------------------------------- */

static int compare_object(struct idm_personalization *r, const struct written *w, const unsigned char *got,
                          size_t got_len)
{
    const unsigned char *want = w->value;
    size_t want_len = w->len;
    if (w->cert != NULL) {
        struct idm_tlv cert;
        if (idm_tlv_find(got, got_len, 0x70, &cert) != IDM_OK)
            return IDM_ERR(IDM_ERR_INTEGRITY, "%s: object %06X read back holds no certificate "
                           "(tag 70)", r->label, (unsigned)w->object);
        got = cert.value;
        got_len = cert.len;
        want = w->cert;
        want_len = w->cert_len;
    }
    if (got_len != want_len || (want_len > 0 && memcmp(got, want, want_len) != 0))
        return IDM_ERR(IDM_ERR_INTEGRITY, "%s: object %06X read back differs from what was "
                       "written (%zu bytes written, %zu read)", r->label, (unsigned)w->object,
                       want_len, got_len);
    return IDM_OK;
}

static int verify_objects(struct idm_personalization *r)
{
    idm_buffer_t *back = NULL;
    int rc = idm_buffer_new(&back);
    for (size_t i = 0; rc == IDM_OK && i < r->nobjects; i++) {
        const struct written *w = &r->objects[i];
        char what[64];
        snprintf(what, sizeof what, "read object %06X back", (unsigned)w->object);
        rc = ENC_CALL(r, what, read_object(w->object, back, r->enc->user_data));
        const unsigned char *got = NULL;
        size_t got_len = 0;
        if (rc == IDM_OK)
            rc = idm_buffer_get(back, &got, &got_len);
        if (rc == IDM_OK)
            rc = compare_object(r, w, got, got_len);
    }
    idm_buffer_free(&back);
    return rc;
}


/* What the card computes for a signature over digest: the digest itself for
 * EC, a PKCS#1 v1.5 block of the modulus size for RSA. */
static int signature_input(EVP_PKEY *key, const unsigned char digest[32], unsigned char *block,
                           size_t *len)
{
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        memcpy(block, digest, 32);
        *len = 32;
        return IDM_OK;
    }
    size_t k = (size_t)EVP_PKEY_get_size(key);
    size_t t_len = sizeof SHA256_DIGEST_INFO + 32;
    if (k > 512 || k < t_len + 11)
        return IDM_ERR(IDM_ERR_CRYPTO, "an RSA modulus of %zu bytes cannot sign", k);
    block[0] = 0x00;
    block[1] = 0x01;
    memset(block + 2, 0xFF, k - t_len - 3);
    block[k - t_len - 1] = 0x00;
    memcpy(block + k - t_len, SHA256_DIGEST_INFO, sizeof SHA256_DIGEST_INFO);
    memcpy(block + k - 32, digest, 32);
    *len = k;
    return IDM_OK;
}

static int check_signature(struct idm_personalization *r, const struct slot_result *res, EVP_PKEY *key,
                           const unsigned char digest[32], const unsigned char *sig,
                           size_t sig_len)
{
    EVP_PKEY_CTX *vctx = EVP_PKEY_CTX_new(key, NULL);
    int ok = vctx != NULL && EVP_PKEY_verify_init(vctx) == 1 &&
             EVP_PKEY_CTX_set_signature_md(vctx, EVP_sha256()) == 1;
    if (ok && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
        ok = EVP_PKEY_CTX_set_rsa_padding(vctx, RSA_PKCS1_PADDING) == 1;
    int verdict = ok ? EVP_PKEY_verify(vctx, sig, sig_len, digest, 32) : -1;
    EVP_PKEY_CTX_free(vctx);
    if (verdict == 1)
        return IDM_OK;
    if (!ok)
        return idm_error_crypto("cannot set up a signature check");
    ERR_clear_error();
    return IDM_ERR(IDM_ERR_CRYPTO, "%s: the signature the card made with the key in slot %s "
                   "does not verify against its certificate", r->label,
                   idm_piv_slot_name(res->slot));
}

static int verify_key(struct idm_personalization *r, const struct slot_result *res)
{
    const unsigned char *der = NULL;
    size_t der_len = 0;
    int rc = idm_cert_get_der(res->cert, &der, &der_len);
    if (rc != IDM_OK)
        return rc;
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)der_len);
    EVP_PKEY *key = x != NULL ? X509_get0_pubkey(x) : NULL;
    if (key == NULL) {
        X509_free(x);
        return idm_error_crypto("cannot read the certificate back");
    }
    unsigned char challenge[32], digest[32], block[512];
    size_t block_len = 0;
    idm_buffer_t *sig = NULL;
    rc = idm_ctx_random_bytes(r->ctx, challenge, sizeof challenge);
    if (rc == IDM_OK && EVP_Digest(challenge, sizeof challenge, digest, NULL, EVP_sha256(),
                                   NULL) != 1)
        rc = idm_error_crypto("cannot hash the challenge");
    if (rc == IDM_OK)
        rc = signature_input(key, digest, block, &block_len);
    /* The signature key (9C) wants the PIN right before each use. */
    if (rc == IDM_OK && res->slot == IDM_PIV_SLOT_SIGNATURE)
        rc = ENC_CALL(r, "verify the PIN", verify_pin(r->pin, r->enc->user_data));
    if (rc == IDM_OK)
        rc = idm_buffer_new(&sig);
    if (rc == IDM_OK) {
        char what[96];
        snprintf(what, sizeof what, "sign a challenge with the key in slot %s",
                 idm_piv_slot_name(res->slot));
        rc = ENC_CALL(r, what, sign(res->slot, r->key_alg, block, block_len, sig,
                                    r->enc->user_data));
    }
    const unsigned char *s = NULL;
    size_t s_len = 0;
    if (rc == IDM_OK)
        rc = idm_buffer_get(sig, &s, &s_len);
    if (rc == IDM_OK)
        rc = check_signature(r, res, key, digest, s, s_len);
    idm_buffer_free(&sig);
    X509_free(x);
    return rc;
}

static int verify_card(struct idm_personalization *r)
{
    /* The PIN first: a real card lets nobody read Printed Information
     * without it (SP 800-73-4 part 1, table 9: access rule PIN). */
    int rc = ENC_CALL(r, "verify the PIN", verify_pin(r->pin, r->enc->user_data));
    if (rc == IDM_OK)
        rc = verify_objects(r);
    for (size_t i = 0; rc == IDM_OK && i < r->nresults; i++)
        rc = verify_key(r, &r->results[i]);
    return rc;
}

/* ---- the whole run ------------------------------------------------------ */

/* The chip of an interrupted attempt is not the one in the encoder: the
 * card record takes the new chip (see idm_personalization_allow_new_chip()),
 * checked again inside the transaction that changes it. */
static int replace_chip(struct idm_personalization *r, const char *old)
{
    struct idm_store *s = NULL;
    int rc = idm_ctx_store(r->ctx, &s);
    if (rc == IDM_OK)
        rc = s->ops->begin(s);
    if (rc != IDM_OK)
        return rc;
    struct idm_card_rec cur;
    memset(&cur, 0, sizeof cur);
    rc = s->ops->card_load(s, idm_card_handle_id(r->card), &cur);
    if (rc == IDM_OK && (cur.state != r->goal->from || cur.chip_serial == NULL ||
                         strcmp(cur.chip_serial, old) != 0))
        rc = IDM_ERR(IDM_ERR_STATE, "wrong card: %s belongs to chip %s; the encoder holds "
                     "chip %s", r->label, cur.chip_serial != NULL ? cur.chip_serial : "(none)",
                     r->serial);
    if (rc == IDM_OK) {
        char *serial = strdup(r->serial);
        if (serial == NULL) {
            rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy a chip serial");
        } else {
            free(cur.chip_serial);
            cur.chip_serial = serial;
            cur.updated_ms = idm_ctx_clock_ms(r->ctx);
            rc = s->ops->card_update(s, &cur);
            if (rc == IDM_ERR_EXISTS)
                rc = IDM_ERR(IDM_ERR_STATE, "wrong card: chip %s is another card's", r->serial);
        }
    }
    if (rc == IDM_OK)
        rc = idm_audit_append(r->ctx, s, r->actor, IDM_OBJECT_CARD, cur.id, NULL, NULL,
                              "chip serial '%s' recorded in place of '%s', the chip of an "
                              "interrupted attempt (spoiled; its certificates are revoked)",
                              r->serial, old);
    idm_card_rec_clear(&cur);
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    return rc == IDM_OK ? idm_card_handle_reload(r->card) : rc;
}

static int check_serial(struct idm_personalization *r)
{
    int rc = ENC_CALL(r, "read the chip serial",
                      card_serial(r->serial, sizeof r->serial, r->enc->user_data));
    if (rc != IDM_OK)
        return rc;
    r->serial[sizeof r->serial - 1] = '\0';
    const char *known = NULL;
    (void)idm_card_get_chip_serial(r->card, &known);
    if (known != NULL && strcmp(known, r->serial) != 0 && r->new_chip_ok)
        return replace_chip(r, known);
    if (known != NULL && strcmp(known, r->serial) != 0)
        return IDM_ERR(IDM_ERR_STATE, "wrong card: %s belongs to chip %s; the encoder holds "
                       "chip %s", r->label, known, r->serial);
    if (known != NULL)
        return IDM_OK;
    rc = idm_card_set_chip_serial(r->card, r->actor, r->serial);
    if (rc == IDM_ERR_EXISTS)
        return idm_error_wrap(NULL, IDM_ERR_STATE, "wrong card: chip %s is another card's",
                              r->serial);
    return rc;
}

/* The three steps of the seed's workflow on one card, in one session:
 * issue (the card found and checked, its keys made and certified, every
 * certificate committed), produce (certificates, data objects, PIN and PUK
 * onto the card), verify. */
static int issue_step(struct idm_personalization *r)
{
    int rc = ENC_CALL(r, "open the card", open(r->enc->timeout_ms, r->enc->user_data));
    if (rc != IDM_OK)
        return rc;
    r->session_open = 1;
    rc = check_serial(r);
    if (rc != IDM_OK)
        return rc;
    /* From here on a failure fails the card: a key generation, or for
     * Physical ID the first write of the produce step, changes it. */
    r->card_written = 1;
    if (!r->digital)
        return IDM_OK;
    for (size_t i = 0; rc == IDM_OK && i < r->nslots; i++)
        rc = generate_slot_key(r, i);
    return rc == IDM_OK ? certify_slots(r) : rc;
}

static int produce_step(struct idm_personalization *r)
{
    int rc = IDM_OK;
    for (size_t i = 0; rc == IDM_OK && i < r->nresults; i++)
        rc = write_slot_certificate(r, &r->results[i]);
    if (rc == IDM_OK)
        rc = write_data_object(r, IDM_PIV_OBJECT_CHUID, build_chuid);
    if (rc == IDM_OK && r->digital)
        rc = write_data_object(r, IDM_PIV_OBJECT_CCC, build_ccc);
    if (rc == IDM_OK)
        rc = write_data_object(r, IDM_PIV_OBJECT_PRINTED_INFO, build_printed_info);
    if (rc == IDM_OK)
        rc = set_secrets(r);
    return rc;
}


/* A failure after the card was written to: this attempt's certificates are
 * revoked with the CA and the card fails, all audited; the caller's error
 * stays what it was. */
static int revoke_results(struct idm_personalization *r, idm_revocation_reason reason,
                          char *problems, size_t size);

static void fail_card(struct idm_personalization *r, const char *why)
{
    char problems[512] = "";
    (void)revoke_results(r, IDM_REVOKE_CESSATION_OF_OPERATION, problems, sizeof problems);
    char detail[IDM_ATTRIBUTE_VALUE_MAX + 1];
    snprintf(detail, sizeof detail, "%s failed: %s%s", r->goal->what, why, problems);
    detail[idm_utf8_cut(detail, IDM_ATTRIBUTE_VALUE_MAX)] = '\0';
    struct idm_store *s = NULL;
    int rc;
    if (r->goal->fail_card)
        rc = idm_card_set_state(r->card, r->actor, IDM_CARD_FAILED, detail);
    else if ((rc = idm_ctx_store(r->ctx, &s)) == IDM_OK)
        idm_audit_append_alone(r->ctx, s, r->actor, IDM_OBJECT_CARD, idm_card_handle_id(r->card),
                               "%s (the card stays '%s' for another attempt)", detail,
                               idm_card_state_name(r->goal->from));
    if (rc != IDM_OK)
        idm_log_error(r->ctx, "encoder", "%s: cannot record the failed %s: %s", r->label,
                      r->goal->what, idm_last_error_message());
}

int idm_personalization_revoke_superseded(idm_ctx_t *ctx, int64_t card_id, idm_ca_t *ca,
                                          const char *actor)
{
    idm_cert_iter_t *it = NULL;
    idm_cert_t *cert = NULL;
    int rc = idm_cert_iter_new(ctx, card_id, &it);
    while (rc == IDM_OK && (rc = idm_cert_iter_next(it, &cert)) == IDM_OK && cert != NULL) {
        idm_cert_state state;
        rc = idm_cert_get_state(cert, &state);
        if (rc == IDM_OK && (state == IDM_CERT_VALID || state == IDM_CERT_ON_HOLD)) {
            if (ca == NULL)
                rc = IDM_ERR(IDM_ERR_STATE, "card %" PRId64 " has certificates from an "
                             "interrupted attempt and no CA was given to revoke them", card_id);
            else
                rc = idm_cert_revoke(cert, actor, ca, IDM_REVOKE_SUPERSEDED);
        }
        idm_cert_free(&cert);
    }
    idm_cert_iter_free(&it);
    return rc;
}

const struct idm_personalization_goal idm_goal_local_issue = {
    IDM_PRODUCTION_LOCAL, IDM_CARD_APPROVED, IDM_CARD_ISSUED, 1, "personalization"};

int idm_personalization_begin(struct idm_personalization **out, idm_card_t *card,
                              const char *actor, idm_encoder_t *enc, idm_ca_t *ca, int attempt,
                              const struct idm_optset *options,
                              const struct idm_personalization_goal *goal)
{
    struct idm_personalization *r = calloc(1, sizeof *r);
    *out = NULL;
    if (r == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a personalization");
    r->ctx = idm_card_handle_ctx(card);
    r->card = card;
    r->actor = actor;
    r->enc = enc;
    r->ca = ca;
    r->attempt = attempt;
    r->options = options;
    r->goal = goal != NULL ? goal : &idm_goal_local_issue;
    int rc = load_profile(r);
    if (rc != IDM_OK) {
        idm_personalization_free(r);
        return rc;
    }
    *out = r;
    return IDM_OK;
}

void idm_personalization_allow_new_chip(struct idm_personalization *r)
{
    r->new_chip_ok = 1;
}

void idm_personalization_set_pin_sink(struct idm_personalization *r,
                                      void (*sink)(const char *pin, void *arg), void *arg)
{
    r->pin_sink = sink;
    r->pin_sink_arg = arg;
}

int idm_personalization_issue(struct idm_personalization *r, const char *actor)
{
    r->actor = actor;
    return issue_step(r);
}

int idm_personalization_produce(struct idm_personalization *r, const char *actor)
{
    r->actor = actor;
    return produce_step(r);
}

int idm_personalization_verify(struct idm_personalization *r, const char *actor)
{
    r->actor = actor;
    return verify_card(r);
}

int idm_personalization_end(struct idm_personalization *r, const char *actor, int rc,
                            int (*record)(void *arg), void *arg)
{
    r->actor = actor;
    if (rc == IDM_OK) {
        /* The store first, then the card goes: a process that stops in
         * between leaves an issued card in the reader, which the next run
         * recognizes, rather than a finished card gone from the reader that
         * the store still calls approved. */
        char detail[256];
        snprintf(detail, sizeof detail, "personalized and verified on chip %s (%s ID, "
                 "attempt %d, %zu key%s)", r->serial, r->digital ? "Digital" : "Physical",
                 r->attempt, r->nresults, r->nresults == 1 ? "" : "s");
        struct idm_store *s = NULL;
        rc = idm_ctx_store(r->ctx, &s);
        if (rc == IDM_OK)
            rc = s->ops->begin(s);
        if (rc == IDM_OK) {
            rc = idm_card_set_state(r->card, actor, r->goal->to, detail);
            if (rc == IDM_OK && record != NULL)
                rc = record(arg);
            if (rc == IDM_OK)
                rc = s->ops->commit(s);
            else
                s->ops->rollback(s);
        }
        if (rc != IDM_OK) {
            rc = idm_error_wrap(NULL, rc, "%s was personalized on chip %s but cannot be "
                                "recorded as %s", r->label, r->serial,
                                idm_card_state_name(r->goal->to));
            idm_personalization_abandon(r);
            return rc;
        }
        idm_log_info(r->ctx, "encoder", "%s %s", r->label, detail);
        if (r->session_open &&
            ENC_CALL(r, "close the card", close(1, r->enc->user_data)) != IDM_OK)
            idm_log_warning(r->ctx, "encoder", "%s is issued; closing the card afterwards "
                            "failed: %s", r->label, idm_last_error_message());
        r->session_open = 0;
        idm_error_clear();
        return IDM_OK;
    }
    if (r->session_open) {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", idm_last_error_message());
        (void)ENC_CALL(r, "close the card", close(0, r->enc->user_data));
        r->session_open = 0;
        idm_error_set(NULL, rc, "%s", saved);
    }
    char why[1024];
    snprintf(why, sizeof why, "%s", idm_last_error_message());
    struct idm_store *s = NULL;
    if (r->card_written)
        fail_card(r, why);
    else if (idm_ctx_store(r->ctx, &s) == IDM_OK)
        idm_audit_append_alone(r->ctx, s, actor, IDM_OBJECT_CARD, idm_card_handle_id(r->card),
                               "%s did not start: %s", r->goal->what, why);
    idm_error_set(NULL, rc, "%s", why);
    idm_log_warning(r->ctx, "encoder", "%s: %s", r->label, why);
    return idm_error_wrap(NULL, rc, "%s (attempt %d)", r->label, r->attempt);
}

/* Revokes the certificates this attempt issued; their words go into
 * problems.  Returns how many it revoked. */
static int revoke_results(struct idm_personalization *r, idm_revocation_reason reason,
                          char *problems, size_t size)
{
    int revoked = 0;
    for (size_t i = 0; i < r->nresults; i++) {
        idm_cert_state state;
        if (idm_cert_handle_reload(r->results[i].cert) != IDM_OK ||
            idm_cert_get_state(r->results[i].cert, &state) != IDM_OK ||
            state == IDM_CERT_REVOKED)
            continue;
        if (idm_cert_revoke(r->results[i].cert, r->actor, r->ca, reason) == IDM_OK) {
            revoked++;
        } else {
            size_t used = strlen(problems);
            snprintf(problems + used, size - used, "; revoking a certificate of slot %s "
                     "failed: %s", idm_piv_slot_name(r->results[i].slot),
                     idm_last_error_message());
        }
    }
    return revoked;
}

int idm_personalization_cancel(struct idm_personalization *r, const char *actor,
                               const char *reason)
{
    r->actor = actor;
    if (r->session_open)
        (void)ENC_CALL(r, "close the card", close(0, r->enc->user_data));
    r->session_open = 0;
    char problems[512] = "";
    int revoked = revoke_results(r, IDM_REVOKE_SUPERSEDED, problems, sizeof problems);
    struct idm_store *s = NULL;
    int rc = idm_ctx_store(r->ctx, &s);
    if (rc == IDM_OK)
        idm_audit_append_alone(r->ctx, s, actor, IDM_OBJECT_CARD, idm_card_handle_id(r->card),
                               "personalization cancelled (attempt %d, %d certificate%s "
                               "revoked): %s%s", r->attempt, revoked, revoked == 1 ? "" : "s",
                               reason != NULL ? reason : "no reason given", problems);
    if (rc == IDM_OK && problems[0] != '\0')
        rc = IDM_ERR(IDM_ERR_BACKEND, "%s", problems + 2);
    return rc;
}

void idm_personalization_abandon(struct idm_personalization *r)
{
    if (r->session_open)
        (void)ENC_CALL(r, "close the card", close(0, r->enc->user_data));
    r->session_open = 0;
    idm_error_clear();
}

void idm_personalization_free(struct idm_personalization *r)
{
    if (r == NULL)
        return;
    run_clear(r);
    OPENSSL_cleanse(r, sizeof *r);
    free(r);
}

IDM_EXPORT int idm_card_personalize(idm_card_t *card, const char *actor, idm_encoder_t *encoder,
                                    idm_ca_t *ca, int attempt)
{
    IDM_CHECK_HANDLE(card, IDM_MAGIC_CARD, "idm_card_t");
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    IDM_CHECK_HANDLE(encoder, IDM_MAGIC_ENCODER, "idm_encoder_t");
    if (ca != NULL)
        IDM_CHECK_HANDLE(ca, IDM_MAGIC_CA, "idm_ca_t");
    if (attempt < 1)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'attempt' is %d; expected >= 1", attempt);

    struct idm_personalization *r = NULL;
    rc = idm_personalization_begin(&r, card, actor, encoder, ca, attempt, NULL, NULL);
    if (rc != IDM_OK)
        return idm_error_prefix(__func__, rc);
    rc = idm_personalization_issue(r, actor);
    if (rc == IDM_OK)
        rc = idm_personalization_produce(r, actor);
    if (rc == IDM_OK)
        rc = idm_personalization_verify(r, actor);
    rc = idm_personalization_end(r, actor, rc, NULL, NULL);
    idm_personalization_free(r);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}
