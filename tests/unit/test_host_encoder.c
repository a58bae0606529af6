/* Black-box: idm_card_personalize() through a host encoder written here, a
 * card kept in memory with keys made by libcrypto.  The encoder is a hook
 * the host supplies, so a test double is the right thing: it lets the
 * profile's own checks meet what no well-behaved card produces (an object
 * that reads back different, a signature that does not verify) and proves
 * how a host encoder's failures reach the caller, the store and the audit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

#define ACTOR "station-host"
#define MAX_OBJECTS 8

/* ---- the in-memory card -------------------------------------------------- */

struct object {
    unsigned tag;
    unsigned char *value;
    size_t len;
};

struct mem_card {
    struct object objects[MAX_OBJECTS];
    EVP_PKEY *keys[256]; /* by slot */
    char pin[16], puk[16];
    char calls[512];      /* method names in order */
    int closed_with;      /* close's success argument */
    /* faults */
    const char *fail_method;
    int fail_code;
    int corrupt_reads;
    int bad_signatures;
};

static void called(struct mem_card *c, const char *name)
{
    size_t used = strlen(c->calls);
    snprintf(c->calls + used, sizeof c->calls - used, "%s%s", used ? "," : "", name);
}

/* Returns the fault for method name, if one is set. */
static int fault_for(struct mem_card *c, const char *name)
{
    called(c, name);
    if (c->fail_method != NULL && strcmp(c->fail_method, name) == 0) {
        idm_encoder_backend_error("ribbon empty");
        return c->fail_code;
    }
    return 0;
}

static struct object *object_at(struct mem_card *c, unsigned tag, int create)
{
    for (int i = 0; i < MAX_OBJECTS; i++) {
        if (c->objects[i].tag == tag)
            return &c->objects[i];
    }
    for (int i = 0; create && i < MAX_OBJECTS; i++) {
        if (c->objects[i].tag == 0) {
            c->objects[i].tag = tag;
            return &c->objects[i];
        }
    }
    return NULL;
}

static int store_object(struct mem_card *c, unsigned tag, const unsigned char *v, size_t len)
{
    struct object *o = object_at(c, tag, 1);
    if (o == NULL)
        return IDM_ERR_CARD;
    free(o->value);
    o->value = malloc(len);
    memcpy(o->value, v, len);
    o->len = len;
    return 0;
}

static int m_open(int timeout_ms, void *ud)
{
    (void)timeout_ms;
    return fault_for(ud, "open");
}

static int m_serial(char *serial, size_t size, void *ud)
{
    int rc = fault_for(ud, "card_serial");
    if (rc == 0)
        snprintf(serial, size, "%s", "HOST-0001");
    return rc;
}

static int m_generate(idm_piv_slot slot, idm_card_key_alg alg, idm_buffer_t *spki, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "generate_key");
    if (rc != 0)
        return rc;
    EVP_PKEY_free(c->keys[slot]);
    c->keys[slot] = alg == IDM_CARD_KEY_RSA_2048 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(c->keys[slot], &der);
    ck_assert_int_gt(len, 0);
    idm_buffer_set(spki, der, (size_t)len);
    OPENSSL_free(der);
    return 0;
}

static int m_write_cert(idm_piv_slot slot, const unsigned char *der, size_t len, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "write_certificate");
    if (rc != 0)
        return rc;
    /* 70 82 LL LL <der> 71 01 00 FE 00, as a PIV card keeps it. */
    unsigned char *obj = malloc(len + 10);
    obj[0] = 0x70;
    obj[1] = 0x82;
    obj[2] = (unsigned char)(len >> 8);
    obj[3] = (unsigned char)len;
    memcpy(obj + 4, der, len);
    memcpy(obj + 4 + len, "\x71\x01\x00\xFE\x00", 5);
    static const unsigned tags[256] = {[0x9A] = 0x5FC105, [0x9C] = 0x5FC10A,
                                       [0x9D] = 0x5FC10B, [0x9E] = 0x5FC101};
    rc = store_object(c, tags[slot], obj, len + 9);
    free(obj);
    return rc;
}

static int m_write_object(idm_piv_object object, const unsigned char *v, size_t len, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "write_object");
    return rc != 0 ? rc : store_object(c, (unsigned)object, v, len);
}

static int m_read_object(idm_piv_object object, idm_buffer_t *value, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "read_object");
    if (rc != 0)
        return rc;
    struct object *o = object_at(c, (unsigned)object, 0);
    if (o == NULL) {
        idm_encoder_backend_error("no such object");
        return IDM_ERR_NOT_FOUND;
    }
    unsigned char *copy = malloc(o->len + 1);
    memcpy(copy, o->value, o->len);
    if (c->corrupt_reads && o->len > 0)
        copy[o->len - 1] ^= 0x01;
    idm_buffer_set(value, copy, o->len);
    free(copy);
    return 0;
}

static int m_set_pin(const char *pin, const char *puk, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "set_pin");
    if (rc == 0) {
        snprintf(c->pin, sizeof c->pin, "%s", pin);
        snprintf(c->puk, sizeof c->puk, "%s", puk);
    }
    return rc;
}

static int m_verify_pin(const char *pin, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "verify_pin");
    if (rc == 0 && strcmp(pin, c->pin) != 0) {
        idm_encoder_backend_error("wrong PIN");
        return IDM_ERR_CARD;
    }
    return rc;
}

static int m_sign(idm_piv_slot slot, idm_card_key_alg alg, const unsigned char *in, size_t len,
                  idm_buffer_t *sig, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "sign");
    if (rc != 0)
        return rc;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(c->keys[slot], NULL);
    ck_assert_int_eq(EVP_PKEY_sign_init(pctx), 1);
    if (alg == IDM_CARD_KEY_RSA_2048)
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_NO_PADDING), 1);
    unsigned char out[512];
    size_t out_len = sizeof out;
    ck_assert_int_eq(EVP_PKEY_sign(pctx, out, &out_len, in, len), 1);
    EVP_PKEY_CTX_free(pctx);
    if (c->bad_signatures)
        out[out_len / 2] ^= 0x40;
    idm_buffer_set(sig, out, out_len);
    return 0;
}

static int m_close(int success, void *ud)
{
    struct mem_card *c = ud;
    c->closed_with = success;
    return fault_for(c, "close");
}

static void mem_card_free(void *ud)
{
    struct mem_card *c = ud;
    for (int i = 0; i < MAX_OBJECTS; i++)
        free(c->objects[i].value);
    for (int i = 0; i < 256; i++)
        EVP_PKEY_free(c->keys[i]);
    free(c);
}

/* ---- the world -------------------------------------------------------- */

struct delivered {
    int calls;
    char pin[16], puk[16];
    int cancel;
};

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *ud)
{
    (void)card;
    struct delivered *d = ud;
    d->calls++;
    snprintf(d->pin, sizeof d->pin, "%s", pin != NULL ? pin : "");
    snprintf(d->puk, sizeof d->puk, "%s", puk);
    return d->cancel;
}

static int enter_short_pin(const idm_card_t *card, char *pin, size_t size, void *ud)
{
    (void)card;
    (void)ud;
    snprintf(pin, size, "%s", "12a4");
    return 0;
}

static int refuse_pin_entry(const idm_card_t *card, char *pin, size_t size, void *ud)
{
    (void)card;
    (void)pin;
    (void)size;
    (void)ud;
    return 1;
}

struct world {
    char path[4096];
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_encoder_t *enc;
    struct mem_card *card_mem;
    idm_card_t *card;
    struct delivered secrets;
};

static void world_open(struct world *w, idm_card_option option, int with_keys)
{
    memset(w, 0, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", fixture_store_path("host-encoder"));
    w->ctx = fixture_ctx(w->path);
    ck_ok(idm_options_set_string(w->ctx, ACTOR, "pin_source", "generated"));
    ck_ok(idm_ca_new_openssl(&w->ca, w->ctx, IDM_KEY_EC_P256, "Host Test CA", 3650));
    idm_encoder_ops ops = IDM_ENCODER_OPS_INIT;
    ops.open = m_open;
    ops.card_serial = m_serial;
    ops.write_certificate = m_write_cert;
    ops.write_object = m_write_object;
    ops.read_object = m_read_object;
    ops.set_pin = m_set_pin;
    ops.verify_pin = m_verify_pin;
    ops.close = m_close;
    if (with_keys) {
        ops.generate_key = m_generate;
        ops.sign = m_sign;
    }
    w->card_mem = calloc(1, sizeof *w->card_mem);
    ck_ok(idm_encoder_new(&w->enc, &ops, sizeof ops, w->card_mem, mem_card_free));
    ck_ok(idm_encoder_set_pin_callbacks(w->enc, NULL, deliver, &w->secrets));
    idm_identity_t *p = fixture_person(w->ctx, "H1", "Hedy", "Lamarr");
    int64_t holder = 0;
    ck_ok(idm_identity_get_id(p, &holder));
    idm_identity_free(&p);
    ck_ok(idm_card_new(w->ctx, ACTOR, IDM_CARD_EMPLOYEE, option, IDM_PRODUCTION_LOCAL, holder,
                       NULL, &w->card));
    ck_ok(idm_card_set_state(w->card, ACTOR, IDM_CARD_REQUESTED, NULL));
    ck_ok(idm_card_set_state(w->card, ACTOR, IDM_CARD_APPROVED, NULL));
}

static void world_close(struct world *w)
{
    idm_card_free(&w->card);
    idm_encoder_free(&w->enc);
    idm_ca_free(&w->ca);
    idm_ctx_free(&w->ctx);
    fixture_remove_store(w->path);
}

static idm_card_state card_state(struct world *w)
{
    idm_card_state s;
    ck_ok(idm_card_refresh(w->card));
    ck_ok(idm_card_get_state(w->card, &s));
    return s;
}

/* Counts the card's certificates that are not revoked. */
static int live_certs(struct world *w)
{
    int64_t id;
    ck_ok(idm_card_get_id(w->card, &id));
    idm_cert_iter_t *it = NULL;
    idm_cert_t *c = NULL;
    int live = 0;
    ck_ok(idm_cert_iter_new(w->ctx, id, &it));
    while (idm_cert_iter_next(it, &c) == IDM_OK && c != NULL) {
        idm_cert_state s;
        ck_ok(idm_cert_get_state(c, &s));
        live += s != IDM_CERT_REVOKED;
        idm_cert_free(&c);
    }
    idm_cert_iter_free(&it);
    return live;
}

static int audit_mentions(struct world *w, const char *needle)
{
    idm_audit_iter_t *it = NULL;
    idm_audit_event_t *e = NULL;
    int found = 0;
    ck_ok(idm_audit_iter_new(w->ctx, &it));
    while (idm_audit_iter_next(it, &e) == IDM_OK && e != NULL) {
        const char *d = NULL;
        ck_ok(idm_audit_event_get_detail(e, &d));
        found |= strstr(d, needle) != NULL;
        idm_audit_event_free(&e);
    }
    idm_audit_iter_free(&it);
    return found;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(test_host_encoder_is_called_in_profile_order)
{
    struct world w;
    world_open(&w, IDM_CARD_DIGITAL, 1);
    ck_ok(idm_options_set_string(w.ctx, ACTOR, "card_key_slots", "9A,9E"));
    ck_ok(idm_options_set_int(w.ctx, ACTOR, "pin_length", 4));
    ck_ok(idm_card_personalize(w.card, ACTOR, w.enc, w.ca, 1));
    ck_assert_int_eq(card_state(&w), IDM_CARD_ISSUED);
    ck_assert_str_eq(w.card_mem->calls,
                     "open,card_serial,generate_key,generate_key,write_certificate,"
                     "write_certificate,write_object,write_object,write_object,set_pin,"
                     "verify_pin,read_object,read_object,read_object,read_object,read_object,"
                     "sign,sign,close");
    ck_assert_int_eq(w.card_mem->closed_with, 1);
    /* The generated PIN: pin_length digits, delivered, the one the card got. */
    ck_assert_uint_eq(strlen(w.secrets.pin), 4);
    ck_assert_uint_eq(strspn(w.secrets.pin, "0123456789"), 4);
    ck_assert_str_eq(w.secrets.pin, w.card_mem->pin);
    ck_assert_str_eq(w.secrets.puk, w.card_mem->puk);
    ck_assert_int_eq(live_certs(&w), 2);
    uint64_t apdus = 1, card_us = 0;
    ck_ok(idm_encoder_get_stats(w.enc, &apdus, NULL, &card_us));
    ck_assert_uint_eq(apdus, 0);
    ck_assert_uint_gt(card_us, 0);
    const char *chip = NULL;
    ck_ok(idm_card_get_chip_serial(w.card, &chip));
    ck_assert_str_eq(chip, "HOST-0001");
    world_close(&w);
}
END_TEST

START_TEST(test_rsa_keys_are_checked_through_a_host_encoder)
{
    struct world w;
    world_open(&w, IDM_CARD_DIGITAL, 1);
    ck_ok(idm_options_set_string(w.ctx, ACTOR, "card_key_algorithm", "rsa2048"));
    ck_ok(idm_options_set_string(w.ctx, ACTOR, "card_key_slots", "9C"));
    ck_ok(idm_card_personalize(w.card, ACTOR, w.enc, w.ca, 1));
    ck_assert_int_eq(card_state(&w), IDM_CARD_ISSUED);
    /* 9C wants the PIN right before its signature. */
    ck_assert_ptr_nonnull(strstr(w.card_mem->calls, "read_object,verify_pin,sign,close"));
    world_close(&w);
}
END_TEST

START_TEST(test_physical_id_needs_no_key_methods)
{
    struct world w;
    world_open(&w, IDM_CARD_PHYSICAL, 0);
    ck_ok(idm_card_personalize(w.card, ACTOR, w.enc, NULL, 1));
    ck_assert_int_eq(card_state(&w), IDM_CARD_ISSUED);
    ck_assert_str_eq(w.card_mem->calls, "open,card_serial,write_object,write_object,set_pin,"
                                        "verify_pin,read_object,read_object,close");
    world_close(&w);
}
END_TEST

START_TEST(test_host_failure_words_reach_caller_and_audit)
{
    struct world w;
    world_open(&w, IDM_CARD_DIGITAL, 1);
    w.card_mem->fail_method = "write_object";
    w.card_mem->fail_code = 7;
    ck_assert_idm_error(idm_card_personalize(w.card, ACTOR, w.enc, w.ca, 1), IDM_ERR_BACKEND,
                        "the encoder failed to write object 5FC102 (it returned 7): ribbon "
                        "empty");
    ck_assert_int_eq(card_state(&w), IDM_CARD_FAILED);
    ck_assert_int_eq(live_certs(&w), 0);
    ck_assert(audit_mentions(&w, "ribbon empty"));
    ck_assert_int_eq(w.card_mem->closed_with, 0);
    ck_assert_int_eq(w.secrets.calls, 0);
    ck_ok(idm_audit_verify(w.ctx, NULL));
    world_close(&w);
}
END_TEST

START_TEST(test_host_error_code_is_kept_and_nothing_changes_before_writing)
{
    struct world w;
    world_open(&w, IDM_CARD_DIGITAL, 1);
    w.card_mem->fail_method = "open";
    w.card_mem->fail_code = IDM_ERR_TIMEOUT;
    ck_assert_idm_error(idm_card_personalize(w.card, ACTOR, w.enc, w.ca, 1), IDM_ERR_TIMEOUT,
                        "ribbon empty");
    ck_assert_int_eq(card_state(&w), IDM_CARD_APPROVED);
    ck_assert(audit_mentions(&w, "personalization did not start"));
    /* open failed: close is not called for a session that never opened. */
    ck_assert_str_eq(w.card_mem->calls, "open");
    world_close(&w);
}
END_TEST

START_TEST(test_object_that_reads_back_different_fails_the_card)
{
    struct world w;
    world_open(&w, IDM_CARD_DIGITAL, 1);
    w.card_mem->corrupt_reads = 1;
    ck_assert_idm_error(idm_card_personalize(w.card, ACTOR, w.enc, w.ca, 1), IDM_ERR_INTEGRITY,
                        "read back differs");
    ck_assert_int_eq(card_state(&w), IDM_CARD_FAILED);
    ck_assert_int_eq(live_certs(&w), 0);
    world_close(&w);
}
END_TEST

START_TEST(test_signature_that_does_not_verify_fails_the_card)
{
    struct world w;
    world_open(&w, IDM_CARD_DIGITAL, 1);
    w.card_mem->bad_signatures = 1;
    ck_assert_idm_error(idm_card_personalize(w.card, ACTOR, w.enc, w.ca, 1), IDM_ERR_CRYPTO,
                        "does not verify against its certificate");
    ck_assert_int_eq(card_state(&w), IDM_CARD_FAILED);
    ck_assert_int_eq(live_certs(&w), 0);
    world_close(&w);
}
END_TEST

START_TEST(test_pin_callbacks_can_cancel_and_bad_pins_are_refused)
{
    struct world w;
    world_open(&w, IDM_CARD_PHYSICAL, 0);
    w.secrets.cancel = 1;
    ck_assert_idm_error(idm_card_personalize(w.card, ACTOR, w.enc, NULL, 1), IDM_ERR_CANCELLED,
                        "delivery callback cancelled");
    ck_assert_ptr_null(strstr(w.card_mem->calls, "set_pin"));
    ck_assert_int_eq(card_state(&w), IDM_CARD_FAILED);
    world_close(&w);

    world_open(&w, IDM_CARD_PHYSICAL, 0);
    ck_ok(idm_options_set_string(w.ctx, ACTOR, "pin_source", "user"));
    ck_ok(idm_encoder_set_pin_callbacks(w.enc, refuse_pin_entry, deliver, &w.secrets));
    ck_assert_idm_error(idm_card_personalize(w.card, ACTOR, w.enc, NULL, 1), IDM_ERR_CANCELLED,
                        "entry callback cancelled");
    ck_ok(idm_card_set_state(w.card, ACTOR, IDM_CARD_APPROVED, "retry"));
    ck_ok(idm_encoder_set_pin_callbacks(w.enc, enter_short_pin, deliver, &w.secrets));
    ck_assert_idm_error(idm_card_personalize(w.card, ACTOR, w.enc, NULL, 2), IDM_ERR_INVALID_ARG,
                        "not 6 digits");
    /* The refused PIN is not repeated in the message or the audit trail. */
    ck_assert_ptr_null(strstr(idm_last_error_message(), "12a4"));
    ck_assert(!audit_mentions(&w, "12a4"));
    world_close(&w);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("host_encoder");
    TCase *tc = tcase_create("personalize");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_host_encoder_is_called_in_profile_order);
    tcase_add_test(tc, test_rsa_keys_are_checked_through_a_host_encoder);
    tcase_add_test(tc, test_physical_id_needs_no_key_methods);
    tcase_add_test(tc, test_host_failure_words_reach_caller_and_audit);
    tcase_add_test(tc, test_host_error_code_is_kept_and_nothing_changes_before_writing);
    tcase_add_test(tc, test_object_that_reads_back_different_fails_the_card);
    tcase_add_test(tc, test_signature_that_does_not_verify_fails_the_card);
    tcase_add_test(tc, test_pin_callbacks_can_cancel_and_bad_pins_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
