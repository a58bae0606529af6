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
#include "mem_encoder.h"
#include "runner.h"

#define ACTOR "station-host"

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
    w->enc = mem_encoder_new(&w->card_mem, with_keys);
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
    int live, superseded, other;
    ck_ok(idm_card_get_id(w->card, &id));
    fixture_count_certs(w->ctx, id, &live, &superseded, &other);
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
    /* A negative number that is none of ours is the backend's own. */
    w.card_mem->fail_code = -999;
    ck_assert_idm_error(idm_card_personalize(w.card, ACTOR, w.enc, w.ca, 1), IDM_ERR_BACKEND,
                        "(it returned -999)");
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
