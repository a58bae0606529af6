/* White-box: the PC/SC layer (src/backends/encoder/pcsc.c) against the real
 * stack: pcscd, vsmartcard-vpcd and the virtual PIV card, started by
 * tests/vcard/with-stack.sh, which names the readers in IDM_TEST_READER0
 * (and IDM_TEST_READER1).  Without them every test fails: a suite that
 * quietly skips would look green on a machine where it proved nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <idm/idm.h>

#include "backends/encoder/apdu.h"
#include "backends/encoder/pcsc.h"
#include "backends/encoder/tlv.h"
#include "runner.h"

/* SP 800-73-4: the PIV application and the CHUID object. */
static const unsigned char PIV_AID[] = {0xA0, 0x00, 0x00, 0x03, 0x08, 0x00,
                                        0x00, 0x10, 0x00, 0x01, 0x00};
static const unsigned char PIV_PIX_VERSION[] = {0x00, 0x00, 0x10, 0x00, 0x01, 0x00};
static const unsigned char CHUID_TAG_LIST[] = {0x5C, 0x03, 0x5F, 0xC1, 0x02};
/* The virtual card's PIN, padded with FF to 8 bytes as VERIFY wants it. */
static const unsigned char RIGHT_PIN[8] = {'1', '2', '3', '4', '5', '6', 0xFF, 0xFF};
static const unsigned char WRONG_PIN[8] = {'9', '9', '9', '9', '9', '9', 0xFF, 0xFF};

#define WAIT_MS 5000

/* ---- per-test state ------------------------------------------------- */

static struct idm_pcsc *pcsc;
static struct idm_pcsc_card *card;
static struct idm_apdu_transport transport;

static void setup(void)
{
    pcsc = NULL;
    card = NULL;
    (void)test_stack_reader0(); /* before pcscd is asked: say what is missing first */
    int rc = idm_pcsc_open(&pcsc);
    ck_assert_msg(rc == IDM_OK, "idm_pcsc_open: %s: %s", idm_strerror_name(rc),
                  idm_last_error_message());
}

static void teardown(void)
{
    idm_pcsc_disconnect(card);
    card = NULL;
    idm_pcsc_close(pcsc);
    pcsc = NULL;
}

/* Connects to reader 0 and starts a transaction. */
static void connect_card(void)
{
    int rc = idm_pcsc_connect(pcsc, test_stack_reader0(), &card, &transport);
    ck_assert_msg(rc == IDM_OK, "connect to '%s': %s: %s", test_stack_reader0(), idm_strerror_name(rc),
                  idm_last_error_message());
    rc = idm_pcsc_begin(card);
    ck_assert_msg(rc == IDM_OK, "begin: %s", idm_last_error_message());
}

struct answer {
    unsigned char *data;
    size_t len;
    unsigned sw;
    struct idm_apdu_stats stats;
};

static void send_ok(unsigned char ins, unsigned char p1, unsigned char p2,
                    const unsigned char *data, size_t len, size_t le, struct answer *a)
{
    free(a->data);
    a->data = NULL;
    int rc = idm_apdu_send(&transport, 0x00, ins, p1, p2, data, len, le, &a->data, &a->len,
                           &a->sw, &a->stats);
    ck_assert_msg(rc == IDM_OK, "INS %02X: %s: %s", ins, idm_strerror_name(rc),
                  idm_last_error_message());
}

static void select_piv(struct answer *a)
{
    send_ok(0xA4, 0x04, 0x00, PIV_AID, sizeof PIV_AID, 256, a);
    ck_assert_msg(a->sw == 0x9000, "SELECT PIV: %s", idm_sw_message(a->sw));
}

/* ---- readers and waiting -------------------------------------------- */

START_TEST(test_reader_list_contains_the_stack_reader)
{
    char **names = NULL;
    size_t count = 0;
    ck_assert_int_eq(idm_pcsc_list_readers(pcsc, &names, &count), IDM_OK);
    ck_assert_ptr_nonnull(names);
    ck_assert_uint_ge(count, 1);
    ck_assert_ptr_null(names[count]);
    int found = 0;
    for (size_t i = 0; i < count; i++)
        found |= strcmp(names[i], test_stack_reader0()) == 0;
    ck_assert_msg(found, "'%s' is not among the %zu readers (first '%s')", test_stack_reader0(), count,
                  names[0]);
    idm_pcsc_free_readers(names);
}
END_TEST

START_TEST(test_waiting_for_the_inserted_card_succeeds)
{
    int rc = idm_pcsc_wait_card(pcsc, test_stack_reader0(), WAIT_MS);
    ck_assert_msg(rc == IDM_OK, "%s: %s", idm_strerror_name(rc), idm_last_error_message());
    /* A card already there is seen without waiting at all. */
    ck_assert_int_eq(idm_pcsc_wait_card(pcsc, test_stack_reader0(), 0), IDM_OK);
}
END_TEST

/* vpcd always offers two readers; with-stack.sh started a card only where
 * IDM_TEST_READER0/1 say, so any other reader is empty. */
START_TEST(test_waiting_on_an_empty_reader_times_out)
{
    const char *other = getenv("IDM_TEST_READER1");
    char **names = NULL;
    size_t count = 0;
    ck_assert_int_eq(idm_pcsc_list_readers(pcsc, &names, &count), IDM_OK);
    const char *empty = NULL;
    for (size_t i = 0; i < count && empty == NULL; i++)
        if (strcmp(names[i], test_stack_reader0()) != 0 && (other == NULL || strcmp(names[i], other) != 0))
            empty = names[i];
    ck_assert_msg(empty != NULL, "every one of the %zu readers holds a card; start the stack "
                                 "with fewer cards than vpcd has readers", count);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_idm_error(idm_pcsc_wait_card(pcsc, empty, 500), IDM_ERR_TIMEOUT, "after 500 ms");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_int_ge(ms, 450);
    ck_assert_int_lt(ms, 3000);
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), empty));
    idm_pcsc_free_readers(names);
}
END_TEST

START_TEST(test_unknown_reader_is_not_found_and_named)
{
    const char *bogus = "No Such Reader 99 99";
    ck_assert_idm_error(idm_pcsc_wait_card(pcsc, bogus, 100), IDM_ERR_NOT_FOUND, bogus);
    /* The message lists the readers that do exist. */
    ck_assert_idm_error(idm_pcsc_wait_card(pcsc, bogus, 100), IDM_ERR_NOT_FOUND, test_stack_reader0());
    ck_assert_idm_error(idm_pcsc_connect(pcsc, bogus, &card, &transport), IDM_ERR_NOT_FOUND,
                        bogus);
    ck_assert_ptr_null(card);
}
END_TEST

START_TEST(test_negative_timeout_is_refused)
{
    ck_assert_idm_error(idm_pcsc_wait_card(pcsc, test_stack_reader0(), -1), IDM_ERR_INVALID_ARG, "-1 ms");
}
END_TEST

/* ---- a connected card ----------------------------------------------- */

START_TEST(test_atr_is_the_virtual_cards_in_hex)
{
    connect_card();
    char hex[67];
    ck_assert_int_eq(idm_pcsc_atr(card, hex, sizeof hex), IDM_OK);
    /* virtual_piv.py: 3B 85 80 01 80 73 C0 21 C0 + TCK */
    ck_assert_str_eq(hex, "3B8580018073C021C0D6");
    char small[8] = "x";
    ck_assert_idm_error(idm_pcsc_atr(card, small, sizeof small), IDM_ERR_INVALID_ARG, "needs 21");
    ck_assert_str_eq(small, "");
}
END_TEST

START_TEST(test_select_piv_returns_the_application_template)
{
    connect_card();
    struct answer a = {0};
    select_piv(&a);
    ck_assert_uint_ge(a.len, 2);
    ck_assert_uint_eq(a.data[0], 0x61);
    struct idm_tlv apt, aid;
    ck_assert_int_eq(idm_tlv_find(a.data, a.len, 0x61, &apt), IDM_OK);
    ck_assert_int_eq(idm_tlv_find(apt.value, apt.len, 0x4F, &aid), IDM_OK);
    ck_assert_uint_eq(aid.len, sizeof PIV_PIX_VERSION);
    ck_assert_mem_eq(aid.value, PIV_PIX_VERSION, sizeof PIV_PIX_VERSION);
    ck_assert_int_eq(idm_pcsc_end(card), IDM_OK);
    free(a.data);
}
END_TEST

START_TEST(test_get_chuid_answers_a_known_status)
{
    connect_card();
    struct answer a = {0};
    select_piv(&a);
    send_ok(0xCB, 0x3F, 0xFF, CHUID_TAG_LIST, sizeof CHUID_TAG_LIST, 256, &a);
    const char *words = idm_sw_message(a.sw);
    ck_assert_msg(strstr(words, "unknown") == NULL, "GET DATA CHUID: %s", words);
    if (a.sw == 0x9000) {
        struct idm_tlv object;
        ck_assert_int_eq(idm_tlv_find(a.data, a.len, 0x53, &object), IDM_OK);
    }
    free(a.data);
}
END_TEST

START_TEST(test_second_exclusive_connect_is_in_use)
{
    connect_card();
    struct idm_pcsc *other = NULL;
    struct idm_pcsc_card *second = NULL;
    struct idm_apdu_transport t2;
    ck_assert_int_eq(idm_pcsc_open(&other), IDM_OK);
    ck_assert_idm_error(idm_pcsc_connect(other, test_stack_reader0(), &second, &t2), IDM_ERR_CARD,
                        "in use");
    ck_assert_idm_error(idm_pcsc_connect(other, test_stack_reader0(), &second, &t2), IDM_ERR_CARD,
                        test_stack_reader0());
    ck_assert_ptr_null(second);
    idm_pcsc_close(other);
}
END_TEST

START_TEST(test_wrong_pin_reports_tries_left)
{
    connect_card();
    struct answer a = {0};
    select_piv(&a);
    /* The right PIN first resets the counter to 3, so this runs on any card
     * state, and again afterwards to leave the card as it was. */
    send_ok(0x20, 0x00, 0x80, RIGHT_PIN, sizeof RIGHT_PIN, 0, &a);
    ck_assert_msg(a.sw == 0x9000, "VERIFY right PIN: %s", idm_sw_message(a.sw));
    send_ok(0x20, 0x00, 0x80, WRONG_PIN, sizeof WRONG_PIN, 0, &a);
    ck_assert_uint_eq(a.sw, 0x63C2);
    ck_assert_ptr_nonnull(strstr(idm_sw_message(a.sw), "2 tries left"));
    send_ok(0x20, 0x00, 0x80, RIGHT_PIN, sizeof RIGHT_PIN, 0, &a);
    ck_assert_msg(a.sw == 0x9000, "VERIFY right PIN: %s", idm_sw_message(a.sw));
    free(a.data);
}
END_TEST

/* The fresh card holds no object over 256 bytes, so a small Le makes it keep
 * most of the CHUID back with 61xx: the answer must still arrive whole,
 * through GET RESPONSE over the real reader. */
START_TEST(test_answer_longer_than_le_arrives_through_get_response)
{
    connect_card();
    struct answer whole = {0}, pieces = {0};
    select_piv(&whole);
    send_ok(0xCB, 0x3F, 0xFF, CHUID_TAG_LIST, sizeof CHUID_TAG_LIST, 256, &whole);
    ck_assert_msg(whole.sw == 0x9000, "GET DATA CHUID: %s", idm_sw_message(whole.sw));
    ck_assert_uint_gt(whole.len, 16);

    send_ok(0xCB, 0x3F, 0xFF, CHUID_TAG_LIST, sizeof CHUID_TAG_LIST, 16, &pieces);
    ck_assert_msg(pieces.sw == 0x9000, "GET DATA CHUID, Le 16: %s", idm_sw_message(pieces.sw));
    ck_assert_uint_eq(pieces.len, whole.len);
    ck_assert_mem_eq(pieces.data, whole.data, whole.len);
    ck_assert_uint_ge(pieces.stats.apdus, 2); /* GET DATA + at least one GET RESPONSE */
    free(whole.data);
    free(pieces.data);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("pcsc");
    TCase *tc = tcase_create("stack");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_reader_list_contains_the_stack_reader);
    tcase_add_test(tc, test_waiting_for_the_inserted_card_succeeds);
    tcase_add_test(tc, test_waiting_on_an_empty_reader_times_out);
    tcase_add_test(tc, test_unknown_reader_is_not_found_and_named);
    tcase_add_test(tc, test_negative_timeout_is_refused);
    tcase_add_test(tc, test_atr_is_the_virtual_cards_in_hex);
    tcase_add_test(tc, test_select_piv_returns_the_application_template);
    tcase_add_test(tc, test_get_chuid_answers_a_known_status);
    tcase_add_test(tc, test_second_exclusive_connect_is_in_use);
    tcase_add_test(tc, test_wrong_pin_reports_tries_left);
    tcase_add_test(tc, test_answer_longer_than_le_arrives_through_get_response);
    suite_add_tcase(s, tc);
    return s;
}
