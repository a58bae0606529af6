/* White-box: the PIV card edge (src/backends/encoder/piv.c).
 *
 * The "stack" case runs against the real stack: pcscd, vsmartcard-vpcd and
 * the virtual PIV card, started by tests/vcard/with-stack.sh, which names
 * the reader in IDM_TEST_READER0.  Without them every test there fails: a
 * suite that quietly skips would look green on a machine where it proved
 * nothing.  The card's state lives on between the tests of one run (the
 * stack starts --fresh for each run), so every test that changes the PIN,
 * the PUK or their counters puts them back: PIN 123456, PUK 12345678, three
 * tries each.
 *
 * The "scripted" case feeds piv.c answers a healthy card never gives (a bare
 * CPLC record, malformed keys, a card that cannot prove the management key)
 * through a fake transport. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <idm/idm.h>

#include "backends/encoder/apdu.h"
#include "backends/encoder/pcsc.h"
#include "backends/encoder/piv.h"
#include "runner.h"

#define ALG_3DES 0x03u
#define ALG_AES128 0x08u
#define ALG_RSA2048 0x07u
#define ALG_P256 0x11u
#define ALG_P384 0x14u

#define TAG_CHUID 0x5FC102u
#define TAG_CERT_9A 0x5FC105u
#define TAG_CERT_9E 0x5FC101u
#define TAG_RETIRED_1 0x5FC10Du /* never written by these tests */
#define TAG_DISCOVERY 0x7Eu

/* The virtual card's defaults (tests/vcard/virtual_piv.py). */
#define PIN "123456"
#define PUK "12345678"
static const unsigned char MGMT_KEY[24] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4,
                                           5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};

/* ---- per-test state: one exclusive connection in a transaction ------- */

static struct idm_pcsc *pcsc;
static struct idm_pcsc_card *card;
static struct idm_apdu_transport transport;
static const struct idm_apdu_transport *t = &transport;

static void setup(void)
{
    pcsc = NULL;
    card = NULL;
    (void)test_stack_reader0(); /* before pcscd is asked: say what is missing first */
    int rc = idm_pcsc_open(&pcsc);
    ck_assert_msg(rc == IDM_OK, "idm_pcsc_open: %s: %s", idm_strerror_name(rc),
                  idm_last_error_message());
    rc = idm_pcsc_connect(pcsc, test_stack_reader0(), &card, &transport);
    ck_assert_msg(rc == IDM_OK, "connect to '%s': %s: %s", test_stack_reader0(), idm_strerror_name(rc),
                  idm_last_error_message());
    ck_ok(idm_pcsc_begin(card));
}

static void teardown(void)
{
    idm_pcsc_disconnect(card);
    card = NULL;
    idm_pcsc_close(pcsc);
    pcsc = NULL;
}

/* SELECT and mutual authentication with the default management key. */
static void select_and_authenticate(void)
{
    ck_ok(idm_piv_select(t, NULL));
    ck_ok(idm_piv_authenticate(t, NULL, ALG_3DES, MGMT_KEY, sizeof MGMT_KEY));
}

/* Generates a key and parses the SPKI; the caller EVP_PKEY_free()s it. */
static EVP_PKEY *generate(unsigned slot, unsigned alg, struct idm_apdu_stats *stats)
{
    unsigned char *spki = NULL;
    size_t spki_len = 0;
    ck_ok(idm_piv_generate_key(t, stats, slot, alg, &spki, &spki_len));
    ck_assert_ptr_nonnull(spki);
    const unsigned char *p = spki;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)spki_len);
    ck_assert_msg(key != NULL, "the SPKI of %zu bytes does not parse", spki_len);
    ck_assert_msg(p == spki + spki_len, "the SPKI has %td bytes after its end",
                  (spki + spki_len) - p);
    free(spki);
    return key;
}

static void sha256(const void *data, size_t len, unsigned char digest[32])
{
    unsigned int n = 0;
    ck_assert_int_eq(EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL), 1);
    ck_assert_uint_eq(n, 32);
}

/* 1 if signature verifies over tbs with key (RSA: PKCS#1 v1.5, SHA-256). */
static int verifies(EVP_PKEY *key, const unsigned char *sig, size_t sig_len,
                    const unsigned char *tbs, size_t tbs_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_PKEY_verify_init(ctx), 1);
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
        ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
    }
    int ok = EVP_PKEY_verify(ctx, sig, sig_len, tbs, tbs_len);
    EVP_PKEY_CTX_free(ctx);
    return ok == 1;
}

/* Copies the detail message, which the next call overwrites. */
static void keep_message(char *buf, size_t size)
{
    snprintf(buf, size, "%s", idm_last_error_message());
}

/* ---- GET DATA CPLC and SELECT --------------------------------------- */

START_TEST(test_serial_is_16_hex_digits_and_stable)
{
    char first[17], second[17], third[17];
    struct idm_apdu_stats stats = {0};
    /* Before SELECT: the CPLC is the card manager's, not PIV's. */
    ck_ok(idm_piv_read_serial(t, &stats, first, sizeof first));
    ck_assert_uint_eq(stats.apdus, 1);
    ck_assert_uint_eq(strlen(first), 16);
    ck_assert_uint_eq(strspn(first, "0123456789ABCDEF"), 16);
    ck_assert_msg(strncmp(first, "4790", 4) == 0, "IC fabricator of '%s' is not 4790", first);
    ck_ok(idm_piv_read_serial(t, NULL, second, sizeof second));
    ck_assert_str_eq(second, first);
    ck_ok(idm_piv_select(t, NULL));
    ck_ok(idm_piv_read_serial(t, NULL, third, sizeof third));
    ck_assert_str_eq(third, first);
}
END_TEST

START_TEST(test_serial_needs_room_for_17_bytes)
{
    char small[16] = "x";
    ck_assert_idm_error(idm_piv_read_serial(t, NULL, small, sizeof small), IDM_ERR_INVALID_ARG,
                        "17");
    ck_assert_str_eq(small, "");
    ck_assert_idm_error(idm_piv_read_serial(t, NULL, NULL, 17), IDM_ERR_INVALID_ARG, "NULL");
}
END_TEST

START_TEST(test_select_finds_the_piv_application)
{
    struct idm_apdu_stats stats = {0};
    ck_ok(idm_piv_select(t, &stats));
    ck_assert_uint_eq(stats.apdus, 1);
    ck_assert_uint_gt(stats.bytes_in, 2);
}
END_TEST

/* ---- the management key --------------------------------------------- */

START_TEST(test_authenticate_with_the_default_3des_key)
{
    struct idm_apdu_stats stats = {0};
    ck_ok(idm_piv_select(t, NULL));
    ck_ok(idm_piv_authenticate(t, &stats, ALG_3DES, MGMT_KEY, sizeof MGMT_KEY));
    ck_assert_uint_eq(stats.apdus, 2);
}
END_TEST

/* A refused key also undoes an earlier authentication, so writing and
 * generating are refused afterwards, with words saying why. */
START_TEST(test_wrong_management_key_is_refused)
{
    unsigned char wrong[24];
    memcpy(wrong, MGMT_KEY, sizeof wrong);
    wrong[23] ^= 0x80; /* not bit 0: DES ignores it (parity) */
    select_and_authenticate();
    ck_assert_idm_error(idm_piv_authenticate(t, NULL, ALG_3DES, wrong, sizeof wrong),
                        IDM_ERR_CARD, "the card refused the management key (GENERAL "
                                      "AUTHENTICATE: 6982");
    unsigned char *spki = NULL;
    size_t spki_len = 0;
    ck_assert_idm_error(idm_piv_generate_key(t, NULL, 0x9E, ALG_P256, &spki, &spki_len),
                        IDM_ERR_CARD, "the management key was not authenticated");
    ck_assert_ptr_null(spki);
    ck_assert_idm_error(idm_piv_put_object(t, NULL, TAG_CERT_9E, (const unsigned char *)"x", 1),
                        IDM_ERR_CARD, "the management key was not authenticated");
    ck_assert_idm_error(idm_piv_put_object(t, NULL, TAG_CERT_9E, (const unsigned char *)"x", 1),
                        IDM_ERR_CARD, "PUT DATA 5FC101: 6982");
}
END_TEST

START_TEST(test_management_key_arguments_are_checked)
{
    ck_ok(idm_piv_select(t, NULL));
    ck_assert_idm_error(idm_piv_authenticate(t, NULL, ALG_3DES, MGMT_KEY, 16),
                        IDM_ERR_INVALID_ARG, "16 bytes; algorithm 03 needs 24");
    ck_assert_idm_error(idm_piv_authenticate(t, NULL, 0x42, MGMT_KEY, sizeof MGMT_KEY),
                        IDM_ERR_INVALID_ARG, "algorithm 42");
    ck_assert_idm_error(idm_piv_authenticate(t, NULL, ALG_3DES, NULL, 24), IDM_ERR_INVALID_ARG,
                        "NULL");
    /* A well-formed AES key the card does not have: its key is 3DES. */
    ck_assert_idm_error(idm_piv_authenticate(t, NULL, ALG_AES128, MGMT_KEY, 16), IDM_ERR_CARD,
                        "not of algorithm 08 (GENERAL AUTHENTICATE: 6A86");
    /* No key byte ever appears in a message. */
    ck_assert_ptr_null(strstr(idm_last_error_message(), "0102030405"));
}
END_TEST

/* ---- GENERATE ASYMMETRIC KEY PAIR ----------------------------------- */

START_TEST(test_generate_p256_gives_its_spki)
{
    select_and_authenticate();
    EVP_PKEY *key = generate(0x9A, ALG_P256, NULL);
    ck_assert_int_eq(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
    ck_assert_int_eq(EVP_PKEY_get_bits(key), 256);
    char group[32] = "";
    ck_assert_int_eq(EVP_PKEY_get_group_name(key, group, sizeof group, NULL), 1);
    ck_assert_str_eq(group, "prime256v1");
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_generate_rsa2048_gives_its_spki)
{
    select_and_authenticate();
    struct idm_apdu_stats stats = {0};
    EVP_PKEY *key = generate(0x9D, ALG_RSA2048, &stats);
    ck_assert_int_eq(EVP_PKEY_get_base_id(key), EVP_PKEY_RSA);
    ck_assert_int_eq(EVP_PKEY_get_bits(key), 2048);
    ck_assert_uint_ge(stats.apdus, 2); /* ~270 bytes: GET RESPONSE after 61xx */
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_generate_arguments_are_checked)
{
    unsigned char *spki = (unsigned char *)"not touched";
    size_t spki_len = 7;
    ck_assert_idm_error(idm_piv_generate_key(t, NULL, 0x9A, ALG_P384, &spki, &spki_len),
                        IDM_ERR_INVALID_ARG, "algorithm 14");
    ck_assert_ptr_null(spki);
    ck_assert_uint_eq(spki_len, 0);
    ck_assert_idm_error(idm_piv_generate_key(t, NULL, 0x9B, ALG_P256, &spki, &spki_len),
                        IDM_ERR_INVALID_ARG, "slot 9B");
    ck_assert_idm_error(idm_piv_generate_key(t, NULL, 0x19A, ALG_P256, &spki, &spki_len),
                        IDM_ERR_INVALID_ARG, "slot 19A");
    ck_assert_idm_error(idm_piv_generate_key(t, NULL, 0x9A, ALG_P256, NULL, &spki_len),
                        IDM_ERR_INVALID_ARG, "NULL");
}
END_TEST

/* ---- PUT DATA and GET DATA ------------------------------------------ */

/* 2000 bytes take 8 chained PUT DATA pieces and come back in 8 answers
 * (61xx, GET RESPONSE); an empty value deletes the object. */
START_TEST(test_object_round_trip_with_chaining)
{
    unsigned char value[2000];
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (unsigned char)(i * 7 + 3);
    select_and_authenticate();
    struct idm_apdu_stats put = {0}, get = {0};
    ck_ok(idm_piv_put_object(t, &put, TAG_CERT_9A, value, sizeof value));
    ck_assert_uint_eq(put.apdus, 8);

    unsigned char *back = NULL;
    size_t back_len = 0;
    ck_ok(idm_piv_get_object(t, &get, TAG_CERT_9A, &back, &back_len));
    ck_assert_uint_eq(back_len, sizeof value);
    ck_assert_mem_eq(back, value, sizeof value);
    ck_assert_uint_eq(get.apdus, 8);
    free(back);

    ck_ok(idm_piv_put_object(t, NULL, TAG_CERT_9A, NULL, 0));
    back = (unsigned char *)"not touched";
    ck_assert_idm_error(idm_piv_get_object(t, NULL, TAG_CERT_9A, &back, &back_len),
                        IDM_ERR_NOT_FOUND, "the card has no object 5FC105");
    ck_assert_ptr_null(back);
    ck_assert_uint_eq(back_len, 0);
}
END_TEST

START_TEST(test_missing_object_is_not_found)
{
    ck_ok(idm_piv_select(t, NULL));
    unsigned char *value = NULL;
    size_t len = 0;
    ck_assert_idm_error(idm_piv_get_object(t, NULL, TAG_RETIRED_1, &value, &len),
                        IDM_ERR_NOT_FOUND, "5FC10D");
    ck_assert_ptr_null(value);
}
END_TEST

START_TEST(test_chuid_and_discovery_objects_are_read)
{
    ck_ok(idm_piv_select(t, NULL));
    unsigned char *value = NULL;
    size_t len = 0;
    ck_ok(idm_piv_get_object(t, NULL, TAG_CHUID, &value, &len));
    ck_assert_uint_gt(len, 20);
    ck_assert_uint_eq(value[0], 0x30); /* FASC-N first */
    free(value);
    /* The discovery object comes in its own tag 7E, not in 53. */
    static const unsigned char aid[] = {0x4F, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00};
    ck_ok(idm_piv_get_object(t, NULL, TAG_DISCOVERY, &value, &len));
    ck_assert_uint_gt(len, sizeof aid);
    ck_assert_mem_eq(value, aid, sizeof aid);
    free(value);
}
END_TEST

START_TEST(test_object_tags_are_checked)
{
    unsigned char *value = NULL;
    size_t len = 0;
    ck_assert_idm_error(idm_piv_get_object(t, NULL, 0x5F, &value, &len), IDM_ERR_INVALID_ARG,
                        "tag 5F");
    ck_assert_idm_error(idm_piv_get_object(t, NULL, 0x5F4101, &value, &len),
                        IDM_ERR_INVALID_ARG, "tag 5F4101");
    ck_assert_idm_error(idm_piv_put_object(t, NULL, 0, NULL, 0), IDM_ERR_INVALID_ARG, "tag 0");
    ck_assert_idm_error(idm_piv_put_object(t, NULL, 0x5FC1020A, NULL, 0), IDM_ERR_INVALID_ARG,
                        "tag 5FC1020A");
    ck_assert_idm_error(idm_piv_put_object(t, NULL, TAG_CERT_9A, NULL, 3), IDM_ERR_INVALID_ARG,
                        "NULL");
    ck_assert_idm_error(idm_piv_get_object(t, NULL, TAG_CHUID, NULL, &len), IDM_ERR_INVALID_ARG,
                        "NULL");
}
END_TEST

/* ---- VERIFY and CHANGE REFERENCE DATA ------------------------------- */

START_TEST(test_verify_pin_right_and_wrong)
{
    ck_ok(idm_piv_select(t, NULL));
    ck_ok(idm_piv_verify_pin(t, NULL, PIN));
    ck_assert_idm_error(idm_piv_verify_pin(t, NULL, "999999"), IDM_ERR_CARD,
                        "VERIFY PIN: 63C2 wrong PIN, 2 tries left");
    ck_assert_ptr_null(strstr(idm_last_error_message(), "999999"));
    /* The right PIN resets the counter: a wrong one then leaves 2 again. */
    ck_ok(idm_piv_verify_pin(t, NULL, PIN));
    ck_assert_idm_error(idm_piv_verify_pin(t, NULL, "999999"), IDM_ERR_CARD, "2 tries left");
    ck_ok(idm_piv_verify_pin(t, NULL, PIN));
}
END_TEST

START_TEST(test_pin_arguments_are_checked_without_echo)
{
    ck_assert_idm_error(idm_piv_verify_pin(t, NULL, ""), IDM_ERR_INVALID_ARG, "empty");
    ck_assert_idm_error(idm_piv_verify_pin(t, NULL, "123456789"), IDM_ERR_INVALID_ARG,
                        "longer than 8");
    ck_assert_ptr_null(strstr(idm_last_error_message(), "123456789"));
    ck_assert_idm_error(idm_piv_verify_pin(t, NULL, NULL), IDM_ERR_INVALID_ARG, "NULL");
    ck_assert_idm_error(idm_piv_change_reference(t, NULL, 0x9B, PIN, PIN), IDM_ERR_INVALID_ARG,
                        "9B");
    ck_assert_idm_error(idm_piv_change_reference(t, NULL, 0x80, PIN, "1234567890"),
                        IDM_ERR_INVALID_ARG, "new PIN");
    ck_assert_ptr_null(strstr(idm_last_error_message(), "1234567890"));
    ck_assert_idm_error(idm_piv_change_reference(t, NULL, 0x81, "", PUK), IDM_ERR_INVALID_ARG,
                        "current PUK");
}
END_TEST

/* Blocks the PIN and unblocks it with the PUK (RESET RETRY COUNTER, raw)
 * before asserting anything, so a failure leaves the card usable. */
START_TEST(test_blocked_pin_is_named)
{
    char msg[4][512];
    int rc[4];
    ck_ok(idm_piv_select(t, NULL));
    ck_ok(idm_piv_verify_pin(t, NULL, PIN));
    for (int i = 0; i < 3; i++) {
        rc[i] = idm_piv_verify_pin(t, NULL, "000000");
        keep_message(msg[i], sizeof msg[i]);
    }
    rc[3] = idm_piv_verify_pin(t, NULL, PIN);
    keep_message(msg[3], sizeof msg[3]);

    static const unsigned char unblock[16] = {'1', '2', '3', '4', '5', '6', '7', '8',
                                              '1', '2', '3', '4', '5', '6', 0xFF, 0xFF};
    unsigned char *out = NULL;
    size_t out_len = 0;
    unsigned sw = 0;
    ck_ok(idm_apdu_send(t, 0x00, 0x2C, 0x00, 0x80, unblock, sizeof unblock, 0, &out, &out_len,
                        &sw, NULL));
    free(out);
    ck_assert_uint_eq(sw, 0x9000);
    ck_ok(idm_piv_verify_pin(t, NULL, PIN));

    for (int i = 0; i < 4; i++)
        ck_assert_msg(rc[i] == IDM_ERR_CARD, "try %d: %s: %s", i, idm_strerror_name(rc[i]),
                      msg[i]);
    ck_assert_ptr_nonnull(strstr(msg[1], "VERIFY PIN: 63C1 wrong PIN, 1 try left"));
    ck_assert_ptr_nonnull(strstr(msg[2], "the PIN is now blocked (VERIFY PIN: 63C0"));
    ck_assert_ptr_nonnull(strstr(msg[3], "the PIN is blocked (VERIFY PIN: 6983"));
}
END_TEST

/* The PIN changes and changes back before anything is asserted. */
START_TEST(test_change_pin_and_back)
{
    char msg[3][512];
    ck_ok(idm_piv_select(t, NULL));
    int changed = idm_piv_change_reference(t, NULL, 0x80, PIN, "87654321");
    keep_message(msg[0], sizeof msg[0]);
    int verified = idm_piv_verify_pin(t, NULL, "87654321");
    keep_message(msg[1], sizeof msg[1]);
    int back = idm_piv_change_reference(t, NULL, 0x80, "87654321", PIN);
    keep_message(msg[2], sizeof msg[2]);
    ck_assert_msg(changed == IDM_OK, "change: %s", msg[0]);
    ck_assert_msg(verified == IDM_OK, "verify new PIN: %s", msg[1]);
    ck_assert_msg(back == IDM_OK, "change back: %s", msg[2]);
    ck_ok(idm_piv_verify_pin(t, NULL, PIN));

    ck_assert_idm_error(idm_piv_change_reference(t, NULL, 0x80, "999999", "111111"),
                        IDM_ERR_CARD, "CHANGE REFERENCE DATA PIN: 63C2 wrong PIN, 2 tries left");
    ck_ok(idm_piv_verify_pin(t, NULL, PIN)); /* 3 tries again */
    /* The card checks the new PIN's form: 6 to 8 digits. */
    ck_assert_idm_error(idm_piv_change_reference(t, NULL, 0x80, PIN, "12a"), IDM_ERR_CARD,
                        "the card refused the new PIN as malformed");
    ck_ok(idm_piv_verify_pin(t, NULL, PIN));
}
END_TEST

START_TEST(test_change_puk_and_back)
{
    ck_ok(idm_piv_select(t, NULL));
    ck_assert_idm_error(idm_piv_change_reference(t, NULL, 0x81, "00000000", "11111111"),
                        IDM_ERR_CARD, "CHANGE REFERENCE DATA PUK: 63C2 wrong PUK, 2 tries left");
    /* The right PUK resets its counter too. */
    int changed = idm_piv_change_reference(t, NULL, 0x81, PUK, "87654321");
    char msg[512];
    keep_message(msg, sizeof msg);
    int back = idm_piv_change_reference(t, NULL, 0x81, "87654321", PUK);
    ck_assert_msg(changed == IDM_OK, "change: %s", msg);
    ck_assert_msg(back == IDM_OK, "change back: %s", idm_last_error_message());
}
END_TEST

/* ---- GENERAL AUTHENTICATE with a private key ------------------------ */

START_TEST(test_p256_signature_verifies)
{
    select_and_authenticate();
    EVP_PKEY *key = generate(0x9A, ALG_P256, NULL);
    static const char message[] = "libidm signs with slot 9A";
    unsigned char digest[32];
    sha256(message, sizeof message - 1, digest);
    ck_ok(idm_piv_verify_pin(t, NULL, PIN));
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    ck_ok(idm_piv_sign(t, NULL, 0x9A, ALG_P256, digest, sizeof digest, &sig, &sig_len));
    ck_assert_uint_ge(sig_len, 8);
    ck_assert_uint_le(sig_len, 72);
    ck_assert_uint_eq(sig[0], 0x30); /* DER ECDSA-Sig-Value */
    ck_assert_msg(verifies(key, sig, sig_len, digest, sizeof digest),
                  "the card's signature does not verify with the generated key");
    digest[0] ^= 1;
    ck_assert(!verifies(key, sig, sig_len, digest, sizeof digest));
    free(sig);
    EVP_PKEY_free(key);
}
END_TEST

/* Slot 9C wants the PIN right before each use. */
START_TEST(test_rsa_pkcs1_signature_verifies)
{
    select_and_authenticate();
    EVP_PKEY *key = generate(0x9C, ALG_RSA2048, NULL);
    static const char message[] = "libidm signs with slot 9C";
    static const unsigned char digest_info[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                0x01, 0x05, 0x00, 0x04, 0x20};
    unsigned char digest[32], block[256];
    sha256(message, sizeof message - 1, digest);
    /* EMSA-PKCS1-v1_5: 00 01 FF.. 00 DigestInfo */
    size_t info_at = sizeof block - sizeof digest_info - sizeof digest;
    block[0] = 0x00;
    block[1] = 0x01;
    memset(block + 2, 0xFF, info_at - 3);
    block[info_at - 1] = 0x00;
    memcpy(block + info_at, digest_info, sizeof digest_info);
    memcpy(block + info_at + sizeof digest_info, digest, sizeof digest);

    ck_ok(idm_piv_verify_pin(t, NULL, PIN));
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    struct idm_apdu_stats stats = {0};
    ck_ok(idm_piv_sign(t, &stats, 0x9C, ALG_RSA2048, block, sizeof block, &sig, &sig_len));
    ck_assert_uint_eq(sig_len, 256);
    ck_assert_uint_ge(stats.apdus, 3); /* 2 chained pieces in, 61xx out */
    ck_assert_msg(verifies(key, sig, sig_len, digest, sizeof digest),
                  "the card's RSA signature does not verify with the generated key");
    free(sig);

    sig = (unsigned char *)"not touched";
    ck_assert_idm_error(idm_piv_sign(t, NULL, 0x9C, ALG_RSA2048, block, sizeof block, &sig,
                                     &sig_len),
                        IDM_ERR_CARD, "the card refused to use the key in slot 9C: PIN not "
                                      "verified (GENERAL AUTHENTICATE: 6982");
    ck_assert_ptr_null(sig);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_sign_arguments_and_empty_slot)
{
    unsigned char input[256] = {0};
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    ck_assert_idm_error(idm_piv_sign(t, NULL, 0x9A, ALG_P256, input, 20, &sig, &sig_len),
                        IDM_ERR_INVALID_ARG, "20 bytes; algorithm 11 signs 32");
    ck_assert_idm_error(idm_piv_sign(t, NULL, 0x9A, ALG_RSA2048, input, 255, &sig, &sig_len),
                        IDM_ERR_INVALID_ARG, "255 bytes");
    ck_assert_idm_error(idm_piv_sign(t, NULL, 0x9A, 0x03, input, 8, &sig, &sig_len),
                        IDM_ERR_INVALID_ARG, "algorithm 03");
    ck_assert_idm_error(idm_piv_sign(t, NULL, 0x9B, ALG_P256, input, 32, &sig, &sig_len),
                        IDM_ERR_INVALID_ARG, "slot 9B");
    ck_assert_idm_error(idm_piv_sign(t, NULL, 0x9A, ALG_P256, NULL, 32, &sig, &sig_len),
                        IDM_ERR_INVALID_ARG, "NULL");
    ck_ok(idm_piv_select(t, NULL));
    /* No test generates into retired slot 95. */
    ck_assert_idm_error(idm_piv_sign(t, NULL, 0x95, ALG_P256, input, 32, &sig, &sig_len),
                        IDM_ERR_CARD, "the card has no key in slot 95 (GENERAL AUTHENTICATE: "
                                      "6A88");
    ck_assert_ptr_null(sig);
}
END_TEST

/* ---- scripted answers ----------------------------------------------- */

#define SCRIPT_MAX 8
#define SCRIPT_BYTES 600

/* A fake card answering from a script, one answer per command; the last
 * command is kept for checks. */
static struct script {
    unsigned char resp[SCRIPT_MAX][SCRIPT_BYTES];
    size_t resp_len[SCRIPT_MAX];
    size_t n, pos;
    unsigned char cmd[SCRIPT_BYTES];
    size_t cmd_len;
} script;

static int script_transmit(void *ctx, const unsigned char *cmd, size_t cmd_len,
                           unsigned char *resp, size_t *resp_len)
{
    (void)ctx;
    ck_assert_msg(script.pos < script.n, "command %zu after the end of the script",
                  script.pos + 1);
    ck_assert_uint_le(cmd_len, SCRIPT_BYTES);
    memcpy(script.cmd, cmd, cmd_len);
    script.cmd_len = cmd_len;
    size_t n = script.resp_len[script.pos];
    ck_assert_uint_le(n, *resp_len);
    memcpy(resp, script.resp[script.pos], n);
    *resp_len = n;
    script.pos++;
    return IDM_OK;
}

static const struct idm_apdu_transport scripted = {script_transmit, NULL, 0, 255};

static void script_reset(void)
{
    memset(&script, 0, sizeof script);
}

/* Appends an answer: hex (spaces ignored), then fill bytes of value fill. */
static void answer(const char *hex, size_t fill, unsigned char fill_value, const char *tail)
{
    ck_assert_uint_lt(script.n, SCRIPT_MAX);
    unsigned char *r = script.resp[script.n];
    size_t n = 0;
    const char *parts[2] = {hex, tail};
    for (int part = 0; part < 2; part++) {
        for (const char *p = parts[part]; p != NULL && *p != '\0';) {
            if (*p == ' ') {
                p++;
                continue;
            }
            unsigned v;
            ck_assert_int_eq(sscanf(p, "%2x", &v), 1);
            ck_assert_uint_lt(n, SCRIPT_BYTES);
            r[n++] = (unsigned char)v;
            p += 2;
        }
        if (part == 0) {
            ck_assert_uint_le(n + fill, SCRIPT_BYTES);
            memset(r + n, fill_value, fill);
            n += fill;
        }
    }
    script.resp_len[script.n++] = n;
}

/* Checks the last command against hex (spaces ignored). */
static void expect_command(const char *hex)
{
    char got[2 * SCRIPT_BYTES + 1] = "", want[2 * SCRIPT_BYTES + 1] = "";
    for (size_t i = 0; i < script.cmd_len; i++)
        sprintf(got + 2 * i, "%02X", script.cmd[i]);
    size_t n = 0;
    for (const char *p = hex; *p != '\0' && n < sizeof want - 1; p++)
        if (*p != ' ')
            want[n++] = *p;
    want[n] = '\0';
    ck_assert_str_eq(got, want);
}

START_TEST(test_scripted_cplc_forms)
{
    char hex[17];
    /* The bare 42-byte record: fabricator 1234, serial at 12, batch at 16. */
    answer("1234 5678 0000 0000 0000 0000 A1B2C3D4 E5F6", 24, 0x00, "9000");
    ck_ok(idm_piv_read_serial(&scripted, NULL, hex, sizeof hex));
    ck_assert_str_eq(hex, "1234A1B2C3D4E5F6");
    expect_command("80CA9F7F00");

    answer("9F7F05 0102030405", 0, 0, "9000");
    ck_assert_idm_error(idm_piv_read_serial(&scripted, NULL, hex, sizeof hex), IDM_ERR_CARD,
                        "CPLC data is malformed (GET DATA CPLC: 8 bytes");
    ck_assert_str_eq(hex, "");

    answer("6D00", 0, 0, NULL);
    ck_assert_idm_error(idm_piv_read_serial(&scripted, NULL, hex, sizeof hex),
                        IDM_ERR_UNSUPPORTED,
                        "the card has no chip serial (GET DATA CPLC: 6D00 instruction not "
                        "supported)");
    answer("6F00", 0, 0, NULL);
    ck_assert_idm_error(idm_piv_read_serial(&scripted, NULL, hex, sizeof hex), IDM_ERR_CARD,
                        "GET DATA CPLC: 6F00 no precise diagnosis");
}
END_TEST

START_TEST(test_scripted_select_and_full_card)
{
    answer("6A82", 0, 0, NULL);
    ck_assert_idm_error(idm_piv_select(&scripted, NULL), IDM_ERR_CARD,
                        "the card has no PIV application (SELECT: 6A82");
    expect_command("00A404000BA00000030800001000010000");
    answer("6A84", 0, 0, NULL);
    ck_assert_idm_error(idm_piv_put_object(&scripted, NULL, TAG_CERT_9A,
                                           (const unsigned char *)"AB", 2),
                        IDM_ERR_CARD, "the card is full (PUT DATA 5FC105: 6A84");
    expect_command("00DB3FFF095C035FC105530241 42");
}
END_TEST

START_TEST(test_scripted_get_object_answers)
{
    unsigned char *value = NULL;
    size_t len = 0;
    answer("9000", 0, 0, NULL);
    ck_assert_idm_error(idm_piv_get_object(&scripted, NULL, TAG_CHUID, &value, &len),
                        IDM_ERR_CARD, "GET DATA 5FC102: the card answered 9000 with no data");
    expect_command("00CB3FFF055C035FC10200");
    answer("5301AA00", 0, 0, "9000");
    ck_assert_idm_error(idm_piv_get_object(&scripted, NULL, TAG_CHUID, &value, &len),
                        IDM_ERR_CARD, "not one 53 TLV");
    answer("5305AA", 0, 0, "9000");
    ck_assert_idm_error(idm_piv_get_object(&scripted, NULL, TAG_CHUID, &value, &len),
                        IDM_ERR_CARD, "not one 53 TLV");
    answer("7001AA", 0, 0, "9000");
    ck_assert_idm_error(idm_piv_get_object(&scripted, NULL, TAG_CHUID, &value, &len),
                        IDM_ERR_CARD, "tag 70");
    answer("5300", 0, 0, "9000");
    ck_ok(idm_piv_get_object(&scripted, NULL, TAG_CHUID, &value, &len));
    ck_assert_ptr_null(value);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_null(value);
}
END_TEST

START_TEST(test_scripted_public_keys)
{
    unsigned char *spki = NULL;
    size_t len = 0;
    /* A modulus with a leading 00 (257 bytes) is the same 2048-bit key. */
    answer("7F49 82 010A 81 820101 00 C1", 254, 0x5A, "03 82 03 010001 9000");
    ck_ok(idm_piv_generate_key(&scripted, NULL, 0x9A, ALG_RSA2048, &spki, &len));
    expect_command("004700 9A 05AC03800107 00");
    const unsigned char *p = spki;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(key);
    ck_assert_int_eq(EVP_PKEY_get_bits(key), 2048);
    EVP_PKEY_free(key);
    free(spki);

    /* 256 bytes, but the first is 41: a 2047-bit modulus. */
    answer("7F49 82 0109 81 820100 41", 255, 0x5A, "82 03 010001 9000");
    ck_assert_idm_error(idm_piv_generate_key(&scripted, NULL, 0x9A, ALG_RSA2048, &spki, &len),
                        IDM_ERR_CARD, "the card's public key is malformed (the modulus has 2047 "
                                      "bits; RSA-2048 has 2048)");
    answer("7F49 0A 81 03 C10001 82 03 010001", 0, 0, "9000");
    ck_assert_idm_error(idm_piv_generate_key(&scripted, NULL, 0x9A, ALG_RSA2048, &spki, &len),
                        IDM_ERR_CARD, "the modulus has 24 bits");
    answer("7F49 82 0109 81 820100 C1", 255, 0x5B, "82 03 010000 9000");
    ck_assert_idm_error(idm_piv_generate_key(&scripted, NULL, 0x9A, ALG_RSA2048, &spki, &len),
                        IDM_ERR_CARD, "the exponent of 3 bytes is not an odd number");
    answer("7F49 03 820100", 0, 0, "9000");
    ck_assert_idm_error(idm_piv_generate_key(&scripted, NULL, 0x9A, ALG_RSA2048, &spki, &len),
                        IDM_ERR_CARD, "lacks the modulus 81");
    answer("7F49 43 86 41 04", 64, 0x01, "9000");
    ck_assert_idm_error(idm_piv_generate_key(&scripted, NULL, 0x9A, ALG_P256, &spki, &len),
                        IDM_ERR_CARD, "not a point on P-256");
    ck_assert_ptr_null(spki);
}
END_TEST

START_TEST(test_scripted_card_that_cannot_prove_the_key)
{
    answer("7C0A 8008 0011223344556677", 0, 0, "9000");
    answer("7C0A 8208 0000000000000000", 0, 0, "9000");
    ck_assert_idm_error(idm_piv_authenticate(&scripted, NULL, ALG_3DES, MGMT_KEY,
                                             sizeof MGMT_KEY),
                        IDM_ERR_CARD, "the card failed to prove the management key");
    ck_assert_uint_eq(script.cmd_len, 4 + 1 + 2 + 10 + 10 + 2 + 1);
    ck_assert_mem_eq(script.cmd, "\x00\x87\x03\x9B\x18\x7C\x16\x80\x08", 9);

    answer("7C0A 8008 0011223344556677", 0, 0, "9000");
    answer("7C03 820100", 0, 0, "9000");
    ck_assert_idm_error(idm_piv_authenticate(&scripted, NULL, ALG_3DES, MGMT_KEY,
                                             sizeof MGMT_KEY),
                        IDM_ERR_CARD, "field 82 is 1 bytes, expected 8");
    answer("7C06 8004 00112233", 0, 0, "9000");
    ck_assert_idm_error(idm_piv_authenticate(&scripted, NULL, ALG_3DES, MGMT_KEY,
                                             sizeof MGMT_KEY),
                        IDM_ERR_CARD, "field 80 is 4 bytes, expected 8");
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("piv");
    TCase *tc = tcase_create("stack");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_serial_is_16_hex_digits_and_stable);
    tcase_add_test(tc, test_serial_needs_room_for_17_bytes);
    tcase_add_test(tc, test_select_finds_the_piv_application);
    tcase_add_test(tc, test_authenticate_with_the_default_3des_key);
    tcase_add_test(tc, test_wrong_management_key_is_refused);
    tcase_add_test(tc, test_management_key_arguments_are_checked);
    tcase_add_test(tc, test_generate_p256_gives_its_spki);
    tcase_add_test(tc, test_generate_rsa2048_gives_its_spki);
    tcase_add_test(tc, test_generate_arguments_are_checked);
    tcase_add_test(tc, test_object_round_trip_with_chaining);
    tcase_add_test(tc, test_missing_object_is_not_found);
    tcase_add_test(tc, test_chuid_and_discovery_objects_are_read);
    tcase_add_test(tc, test_object_tags_are_checked);
    tcase_add_test(tc, test_verify_pin_right_and_wrong);
    tcase_add_test(tc, test_pin_arguments_are_checked_without_echo);
    tcase_add_test(tc, test_blocked_pin_is_named);
    tcase_add_test(tc, test_change_pin_and_back);
    tcase_add_test(tc, test_change_puk_and_back);
    tcase_add_test(tc, test_p256_signature_verifies);
    tcase_add_test(tc, test_rsa_pkcs1_signature_verifies);
    tcase_add_test(tc, test_sign_arguments_and_empty_slot);
    suite_add_tcase(s, tc);

    TCase *sc = tcase_create("scripted");
    tcase_add_checked_fixture(sc, script_reset, NULL);
    tcase_add_test(sc, test_scripted_cplc_forms);
    tcase_add_test(sc, test_scripted_select_and_full_card);
    tcase_add_test(sc, test_scripted_get_object_answers);
    tcase_add_test(sc, test_scripted_public_keys);
    tcase_add_test(sc, test_scripted_card_that_cannot_prove_the_key);
    suite_add_tcase(s, sc);
    return s;
}
