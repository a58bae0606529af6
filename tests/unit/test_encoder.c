/* Black-box: PIV personalization through the public API (idm_card_personalize
 * with the built-in PC/SC encoder) on the real stack: pcscd, vsmartcard-vpcd
 * and the virtual PIV card, started by tests/vcard/with-stack.sh.  Each test
 * puts the card it needs into reader 0 with `scripts/pcsc-stack.sh card`
 * (IDM_TEST_STACK names the script), so the failures a production station
 * meets (no PIV application, a full card, a card pulled out, a PIN that is
 * not the factory one) are real card behaviour, not a mock.
 *
 * The store is checked after every failure: the card's state, its
 * certificates, the audit trail, and that no PIN or PUK reached it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

#define ACTOR "station-1"
#define CARD_WAIT_MS 5000

/* Replaces the card in reader 0: options for virtual_piv.py, plus --fresh
 * (blank card) or --remove (empty reader). */
static void swap_card(const char *options)
{
    const char *stack = getenv("IDM_TEST_STACK");
    ck_assert_msg(stack != NULL, "IDM_TEST_STACK (scripts/pcsc-stack.sh) is not set");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash '%s' card 0 --timeout 20 %s >&2", stack, options);
    ck_assert_msg(system(cmd) == 0, "'%s' failed", cmd);
}

/* ---- a world: store, CA, encoder, a delivery callback that keeps secrets */

struct delivered {
    int calls;
    char pin[16];
    char puk[16];
};

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *user_data)
{
    (void)card;
    struct delivered *d = user_data;
    d->calls++;
    snprintf(d->pin, sizeof d->pin, "%s", pin != NULL ? pin : "");
    snprintf(d->puk, sizeof d->puk, "%s", puk);
    return 0;
}

static int enter_pin(const idm_card_t *card, char *pin, size_t size, void *user_data)
{
    (void)card;
    (void)user_data;
    snprintf(pin, size, "%s", "271828");
    return 0;
}

/* Every log line of the run, to look for secrets in. */
static char log_text[65536];

static void collect_log(idm_log_level level, const char *component, const char *message,
                        void *user_data)
{
    (void)level;
    (void)user_data;
    size_t used = strlen(log_text);
    snprintf(log_text + used, sizeof log_text - used, "%s: %s\n", component, message);
}

struct world {
    char path[4096];
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_encoder_t *enc;
    idm_identity_t *person;
    struct delivered secrets;
};

static void world_open(struct world *w, const char *name)
{
    memset(w, 0, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", fixture_store_path(name));
    w->ctx = fixture_ctx(w->path);
    log_text[0] = '\0';
    ck_ok(idm_ctx_set_log_callback(w->ctx, collect_log, NULL));
    ck_ok(idm_ctx_set_log_level(w->ctx, IDM_LOG_DEBUG));
    ck_ok(idm_options_set_string(w->ctx, ACTOR, "pin_source", "generated"));
    ck_ok(idm_ca_new_openssl(&w->ca, w->ctx, IDM_KEY_EC_P256, "Test Issuing CA", 3650));
    ck_ok(idm_encoder_new_pcsc(&w->enc, w->ctx));
    ck_ok(idm_encoder_pcsc_set_reader(w->enc, test_stack_reader0()));
    ck_ok(idm_encoder_set_timeout(w->enc, CARD_WAIT_MS));
    ck_ok(idm_encoder_set_pin_callbacks(w->enc, NULL, deliver, &w->secrets));
    w->person = fixture_person(w->ctx, "E1001", "Ada", "Lovelace");
}

static void world_close(struct world *w)
{
    idm_identity_free(&w->person);
    idm_encoder_free(&w->enc);
    idm_ca_free(&w->ca);
    idm_ctx_free(&w->ctx);
    fixture_remove_store(w->path);
}

static idm_card_t *approved_card(struct world *w, idm_card_option option)
{
    int64_t holder = 0;
    ck_ok(idm_identity_get_id(w->person, &holder));
    idm_card_t *card = NULL;
    ck_ok(idm_card_new(w->ctx, ACTOR, IDM_CARD_EMPLOYEE, option, IDM_PRODUCTION_LOCAL, holder,
                       NULL, &card));
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL));
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_APPROVED, NULL));
    return card;
}

/* The card's certificates, counted by state. */
static void count_certs(struct world *w, idm_card_t *card, int *valid_or_held, int *revoked)
{
    int64_t id = 0;
    int superseded = 0, other = 0;
    ck_ok(idm_card_get_id(card, &id));
    fixture_count_certs(w->ctx, id, valid_or_held, &superseded, &other);
    *revoked = superseded + other;
}

/* Every audit detail of the store mentions neither secret, and the
 * chain is intact. */
static void assert_audit_clean(struct world *w, const char *needle)
{
    ck_ok(idm_audit_verify(w->ctx, NULL));
    idm_audit_iter_t *it = NULL;
    ck_ok(idm_audit_iter_new(w->ctx, &it));
    idm_audit_event_t *e = NULL;
    int found = needle == NULL;
    while (idm_audit_iter_next(it, &e) == IDM_OK && e != NULL) {
        const char *detail = NULL;
        ck_ok(idm_audit_event_get_detail(e, &detail));
        if (w->secrets.pin[0] != '\0')
            ck_assert_msg(strstr(detail, w->secrets.pin) == NULL, "PIN in audit: %s", detail);
        if (w->secrets.puk[0] != '\0')
            ck_assert_msg(strstr(detail, w->secrets.puk) == NULL, "PUK in audit: %s", detail);
        if (needle != NULL && strstr(detail, needle) != NULL)
            found = 1;
        idm_audit_event_free(&e);
    }
    idm_audit_iter_free(&it);
    ck_assert_msg(found, "no audit event mentions '%s'", needle);
}

/* The store file itself: neither secret appears anywhere in its bytes. */
static void assert_store_has_no_secret(struct world *w)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' .dump", w->path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[8192];
    while (fgets(line, sizeof line, p) != NULL) {
        ck_assert_msg(strstr(line, w->secrets.puk) == NULL, "PUK in the store");
        if (strlen(w->secrets.pin) >= 6)
            ck_assert_msg(strstr(line, w->secrets.pin) == NULL, "PIN in the store");
    }
    pclose(p);
}

/* ---- success ----------------------------------------------------------- */

START_TEST(test_digital_id_card_is_personalized_and_verified)
{
    swap_card("--fresh");
    struct world w;
    world_open(&w, "encoder-digital");
    idm_card_t *card = approved_card(&w, IDM_CARD_DIGITAL);
    ck_ok(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1));

    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ISSUED);
    const char *serial = NULL;
    ck_ok(idm_card_get_chip_serial(card, &serial));
    ck_assert_ptr_nonnull(serial);
    ck_assert_uint_eq(strlen(serial), 16);
    int live = 0, revoked = 0;
    count_certs(&w, card, &live, &revoked);
    ck_assert_int_eq(live, 4); /* 9A 9C 9D 9E */
    ck_assert_int_eq(revoked, 0);
    ck_assert_int_eq(w.secrets.calls, 1);
    ck_assert_uint_eq(strlen(w.secrets.pin), 6);
    ck_assert_uint_eq(strlen(w.secrets.puk), 8);

    uint64_t apdus = 0, bytes = 0, card_us = 0;
    ck_ok(idm_encoder_get_stats(w.enc, &apdus, &bytes, &card_us));
    ck_assert_uint_gt(apdus, 20);
    ck_assert_uint_gt(bytes, 4 * 400);
    ck_assert_uint_gt(card_us, 0);
    assert_audit_clean(&w, "personalized and verified on chip");
    assert_store_has_no_secret(&w);
    ck_assert_msg(log_text[0] != '\0', "the run logged nothing at debug level");
    ck_assert_msg(strstr(log_text, w.secrets.pin) == NULL, "PIN in the log");
    ck_assert_msg(strstr(log_text, w.secrets.puk) == NULL, "PUK in the log");

    /* A second personalization of the same card is refused by its state. */
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 2), IDM_ERR_STATE,
                        "'issued'");
    idm_card_free(&card);
    world_close(&w);
}
END_TEST

START_TEST(test_rsa_keys_and_user_pin_with_aes_management_key)
{
    swap_card("--fresh --mgmt-alg aes256 --mgmt-key "
              "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF");
    struct world w;
    world_open(&w, "encoder-rsa");
    static const unsigned char aes_key[32] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                              0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
                                              0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                              0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};
    ck_ok(idm_encoder_pcsc_set_management_key(w.enc, IDM_MGMT_KEY_AES256, aes_key,
                                              sizeof aes_key));
    ck_ok(idm_options_set_string(w.ctx, ACTOR, "card_key_algorithm", "rsa2048"));
    ck_ok(idm_options_set_string(w.ctx, ACTOR, "card_key_slots", "9A,9C"));
    ck_ok(idm_options_set_string(w.ctx, ACTOR, "pin_source", "user"));
    ck_ok(idm_encoder_set_pin_callbacks(w.enc, enter_pin, deliver, &w.secrets));
    idm_card_t *card = approved_card(&w, IDM_CARD_DIGITAL);
    ck_ok(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ISSUED);
    int live = 0, revoked = 0;
    count_certs(&w, card, &live, &revoked);
    ck_assert_int_eq(live, 2);
    /* A chosen PIN is not delivered; only the PUK is. */
    ck_assert_str_eq(w.secrets.pin, "");
    ck_assert_uint_eq(strlen(w.secrets.puk), 8);
    idm_card_free(&card);
    world_close(&w);
}
END_TEST

START_TEST(test_physical_id_card_gets_chuid_and_printed_information_only)
{
    swap_card("--fresh");
    struct world w;
    world_open(&w, "encoder-physical");
    idm_card_t *card = approved_card(&w, IDM_CARD_PHYSICAL);
    ck_ok(idm_card_personalize(card, ACTOR, w.enc, NULL, 1));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ISSUED);
    int live = 0, revoked = 0;
    count_certs(&w, card, &live, &revoked);
    ck_assert_int_eq(live, 0);
    idm_card_free(&card);
    world_close(&w);
}
END_TEST

/* ---- failures before the card is written: no state changes ------------- */

START_TEST(test_card_without_piv_application_changes_nothing)
{
    swap_card("--fresh --no-piv");
    struct world w;
    world_open(&w, "encoder-nopiv");
    idm_card_t *card = approved_card(&w, IDM_CARD_DIGITAL);
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1), IDM_ERR_CARD,
                        "no PIV application");
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_APPROVED);
    int live = 0, revoked = 0;
    count_certs(&w, card, &live, &revoked);
    ck_assert_int_eq(live + revoked, 0);
    ck_assert_int_eq(w.secrets.calls, 0);
    assert_audit_clean(&w, "personalization did not start");
    idm_card_free(&card);
    world_close(&w);
}
END_TEST

START_TEST(test_empty_reader_times_out)
{
    const char *reader = test_stack_reader0();
    ck_ok(idm_encoder_pcsc_wait_card(reader, 0));
    swap_card("--remove");
    ck_assert_idm_error(idm_encoder_pcsc_wait_card(reader, 0), IDM_ERR_TIMEOUT, reader);
    ck_assert_idm_error(idm_encoder_pcsc_wait_card(reader, 300), IDM_ERR_TIMEOUT, "300 ms");
    ck_assert_idm_error(idm_encoder_pcsc_wait_card("No Such Reader 99", 0), IDM_ERR_NOT_FOUND,
                        "No Such Reader 99");
    struct world w;
    world_open(&w, "encoder-nocard");
    ck_ok(idm_encoder_set_timeout(w.enc, 300));
    idm_card_t *card = approved_card(&w, IDM_CARD_DIGITAL);
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1), IDM_ERR_TIMEOUT,
                        "no card in reader");
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_APPROVED);
    idm_card_free(&card);
    world_close(&w);
    swap_card("--fresh");
}
END_TEST

START_TEST(test_unknown_reader_is_named)
{
    struct world w;
    world_open(&w, "encoder-noreader");
    ck_ok(idm_encoder_pcsc_set_reader(w.enc, "No Such Reader 99"));
    idm_card_t *card = approved_card(&w, IDM_CARD_DIGITAL);
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1), IDM_ERR_NOT_FOUND,
                        "No Such Reader 99");
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_APPROVED);
    /* And by index: pcscd has fewer readers than that. */
    ck_ok(idm_encoder_pcsc_set_reader_index(w.enc, 7));
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1), IDM_ERR_NOT_FOUND,
                        "no reader number 7");
    idm_card_free(&card);
    world_close(&w);
}
END_TEST

/* A PIV token without a GlobalPlatform card manager has no CPLC serial. */
START_TEST(test_card_without_chip_serial_is_refused_with_the_reason)
{
    swap_card("--fresh --no-cplc");
    struct world w;
    world_open(&w, "encoder-nocplc");
    idm_card_t *card = approved_card(&w, IDM_CARD_DIGITAL);
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1), IDM_ERR_UNSUPPORTED,
                        "no chip serial");
    /* Looking for any reader with a card says why this one was passed over. */
    idm_encoder_t *any = NULL;
    ck_ok(idm_encoder_new_pcsc(&any, w.ctx));
    ck_ok(idm_encoder_set_timeout(any, 300));
    ck_ok(idm_encoder_set_pin_callbacks(any, NULL, deliver, &w.secrets));
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, any, w.ca, 1), IDM_ERR_TIMEOUT,
                        "no chip serial");
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_APPROVED);
    idm_encoder_free(&any);
    idm_card_free(&card);
    world_close(&w);
    swap_card("--fresh");
}
END_TEST

START_TEST(test_wrong_management_key_changes_nothing)
{
    swap_card("--fresh");
    struct world w;
    world_open(&w, "encoder-mgmt");
    static const unsigned char wrong[24] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
                                            9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
    ck_ok(idm_encoder_pcsc_set_management_key(w.enc, IDM_MGMT_KEY_3DES, wrong, sizeof wrong));
    idm_card_t *card = approved_card(&w, IDM_CARD_DIGITAL);
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1), IDM_ERR_CARD,
                        "management key");
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_APPROVED);
    idm_card_free(&card);
    world_close(&w);
}
END_TEST

START_TEST(test_card_of_another_card_record_is_the_wrong_card)
{
    swap_card("--fresh");
    struct world w;
    world_open(&w, "encoder-wrongcard");
    idm_card_t *first = approved_card(&w, IDM_CARD_PHYSICAL);
    ck_ok(idm_card_personalize(first, ACTOR, w.enc, NULL, 1));
    const char *chip = NULL;
    ck_ok(idm_card_get_chip_serial(first, &chip));
    /* The same chip offered for another card record. */
    idm_card_t *second = approved_card(&w, IDM_CARD_PHYSICAL);
    ck_assert_idm_error(idm_card_personalize(second, ACTOR, w.enc, NULL, 1), IDM_ERR_STATE,
                        "wrong card");
    ck_assert_int_eq(fixture_state_of(second), IDM_CARD_APPROVED);
    /* Choosing the reader by the chip's serial finds it. */
    ck_ok(idm_encoder_pcsc_set_card_serial(w.enc, "0000000000000000"));
    ck_ok(idm_encoder_set_timeout(w.enc, 300));
    ck_assert_idm_error(idm_card_personalize(second, ACTOR, w.enc, NULL, 1), IDM_ERR_TIMEOUT,
                        chip);
    idm_card_free(&first);
    idm_card_free(&second);
    world_close(&w);
}
END_TEST

/* ---- failures after the card was written: failed, certificates revoked -- */

static void assert_failed_consistently(struct world *w, idm_card_t *card, const char *why)
{
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_FAILED);
    int live = 0, revoked = 0;
    count_certs(w, card, &live, &revoked);
    ck_assert_int_eq(live, 0);
    assert_audit_clean(w, why);
    /* A later attempt is possible: failed -> approved. */
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_APPROVED, "retry"));
}

START_TEST(test_full_card_fails_and_revokes_its_certificates)
{
    swap_card("--fresh --full");
    struct world w;
    world_open(&w, "encoder-full");
    idm_card_t *card = approved_card(&w, IDM_CARD_DIGITAL);
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1), IDM_ERR_CARD,
                        "card is full");
    assert_failed_consistently(&w, card, "card is full");
    int live = 0, revoked = 0;
    count_certs(&w, card, &live, &revoked);
    ck_assert_int_eq(revoked, 4); /* all four were issued and recorded before any write */
    /* The same attempt again would get attempt 1's certificate, made for a
     * key the card no longer has: refused before it reaches the card. */
    swap_card("");
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1), IDM_ERR_STATE,
                        "made for another key");
    assert_failed_consistently(&w, card, "new attempt");
    /* Attempt 2 on a card with room succeeds and gets new certificates. */
    ck_ok(idm_card_personalize(card, ACTOR, w.enc, w.ca, 2));
    count_certs(&w, card, &live, &revoked);
    ck_assert_int_eq(live, 4);
    ck_assert_int_eq(revoked, 4);
    idm_card_free(&card);
    world_close(&w);
}
END_TEST

START_TEST(test_card_removed_midway_fails_cleanly)
{
    swap_card("--fresh --vanish-after 12");
    struct world w;
    world_open(&w, "encoder-vanish");
    idm_card_t *card = approved_card(&w, IDM_CARD_DIGITAL);
    int rc = idm_card_personalize(card, ACTOR, w.enc, w.ca, 1);
    ck_assert_msg(rc == IDM_ERR_CARD, "got %s: %s", idm_strerror_name(rc),
                  idm_last_error_message());
    assert_failed_consistently(&w, card, "personalization failed");
    idm_card_free(&card);
    world_close(&w);
    swap_card("--fresh");
}
END_TEST

/* Sets the virtual card's PIN away from the factory value, or blocks it,
 * with a personalization that succeeded (it changes PIN and PUK). */
START_TEST(test_used_card_with_other_pin_fails_with_wrong_pin)
{
    swap_card("--fresh");
    struct world w;
    world_open(&w, "encoder-wrongpin");
    idm_card_t *used = approved_card(&w, IDM_CARD_PHYSICAL);
    ck_ok(idm_card_personalize(used, ACTOR, w.enc, NULL, 1));
    idm_card_free(&used);
    world_close(&w);
    /* The chip now has another PIN: a new store tries it as a blank card. */
    world_open(&w, "encoder-wrongpin2");
    idm_card_t *card = approved_card(&w, IDM_CARD_DIGITAL);
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 1), IDM_ERR_CARD,
                        "wrong PIN, 2 tries left");
    assert_failed_consistently(&w, card, "wrong PIN");
    /* Two more tries block the PIN; the message says so. */
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 2), IDM_ERR_CARD,
                        "1 try left");
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_APPROVED, "retry"));
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 3), IDM_ERR_CARD,
                        "PIN");
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_APPROVED, "retry"));
    ck_assert_idm_error(idm_card_personalize(card, ACTOR, w.enc, w.ca, 4), IDM_ERR_CARD,
                        "blocked");
    assert_failed_consistently(&w, card, "blocked");
    idm_card_free(&card);
    world_close(&w);
    swap_card("--fresh");
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("encoder");
    TCase *tc = tcase_create("personalize");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_digital_id_card_is_personalized_and_verified);
    tcase_add_test(tc, test_rsa_keys_and_user_pin_with_aes_management_key);
    tcase_add_test(tc, test_physical_id_card_gets_chuid_and_printed_information_only);
    tcase_add_test(tc, test_card_without_piv_application_changes_nothing);
    tcase_add_test(tc, test_empty_reader_times_out);
    tcase_add_test(tc, test_unknown_reader_is_named);
    tcase_add_test(tc, test_card_without_chip_serial_is_refused_with_the_reason);
    tcase_add_test(tc, test_wrong_management_key_changes_nothing);
    tcase_add_test(tc, test_card_of_another_card_record_is_the_wrong_card);
    tcase_add_test(tc, test_full_card_fails_and_revokes_its_certificates);
    tcase_add_test(tc, test_card_removed_midway_fails_cleanly);
    tcase_add_test(tc, test_used_card_with_other_pin_fails_with_wrong_pin);
    suite_add_tcase(s, tc);
    return s;
}
