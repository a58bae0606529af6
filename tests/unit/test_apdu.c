/* White-box: APDU encoding and exchange (src/backends/encoder/apdu.c) over a
 * scripted fake card, and the BER-TLV reader and writer (tlv.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/idm.h>

#include "backends/encoder/apdu.h"
#include "backends/encoder/tlv.h"
#include "core/error_impl.h"
#include "runner.h"

/* ---- bytes ---------------------------------------------------------- */

struct bytes {
    unsigned char *data;
    size_t len;
};

static void bytes_add(struct bytes *b, const unsigned char *data, size_t len)
{
    b->data = realloc(b->data, b->len + len + 1);
    ck_assert_ptr_nonnull(b->data);
    if (len != 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* Appends hex digits, spaces ignored: "00 A4 04 00". */
static void bytes_hex(struct bytes *b, const char *hex)
{
    while (*hex != '\0') {
        if (*hex == ' ') {
            hex++;
            continue;
        }
        unsigned v;
        ck_assert_msg(sscanf(hex, "%2x", &v) == 1, "bad hex in test: %s", hex);
        unsigned char byte = (unsigned char)v;
        bytes_add(b, &byte, 1);
        hex += 2;
    }
}

/* count bytes first, first + 1, ... wrapping at 256. */
static void bytes_pattern(struct bytes *b, size_t count, unsigned first)
{
    b->data = realloc(b->data, b->len + count + 1);
    ck_assert_ptr_nonnull(b->data);
    for (size_t i = 0; i < count; i++)
        b->data[b->len++] = (unsigned char)(first + i);
}

static struct bytes hex(const char *text)
{
    struct bytes b = {NULL, 0};
    bytes_hex(&b, text);
    return b;
}

static struct bytes pattern(size_t count, unsigned first)
{
    struct bytes b = {NULL, 0};
    bytes_pattern(&b, count, first);
    return b;
}

static void bytes_free(struct bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static char *to_hex(const unsigned char *data, size_t len)
{
    char *s = malloc(len * 3 + 1);
    ck_assert_ptr_nonnull(s);
    s[0] = '\0';
    for (size_t i = 0; i < len && i < 40; i++)
        sprintf(s + i * 3, "%02X ", data[i]);
    return s;
}

/* ---- the scripted fake card ---------------------------------------- */

/* One expected command and what the card does about it, `repeat` times. */
struct step {
    struct bytes cmd;
    struct bytes resp;
    int rc;          /* not IDM_OK: the transport fails with this code */
    unsigned repeat; /* 0 counts as 1 */
};

#define FAKE_STEPS_MAX 8

struct fake_card {
    struct step steps[FAKE_STEPS_MAX];
    size_t n, pos;
    unsigned done_in_step;
    size_t calls;
};

static struct fake_card card;

static void fake_reset(void)
{
    for (size_t i = 0; i < card.n; i++) {
        bytes_free(&card.steps[i].cmd);
        bytes_free(&card.steps[i].resp);
    }
    memset(&card, 0, sizeof card);
}

/* Scripts the next command; takes ownership of cmd and resp. */
static void expect_bytes(struct bytes cmd, struct bytes resp, unsigned repeat)
{
    ck_assert_uint_lt(card.n, FAKE_STEPS_MAX);
    card.steps[card.n++] = (struct step){cmd, resp, IDM_OK, repeat};
}

static void expect(const char *cmd_hex, const char *resp_hex)
{
    expect_bytes(hex(cmd_hex), hex(resp_hex), 1);
}

static void expect_failure(const char *cmd_hex, int rc)
{
    expect_bytes(hex(cmd_hex), hex(""), 1);
    card.steps[card.n - 1].rc = rc;
}

static int fake_transmit(void *ctx, const unsigned char *cmd, size_t cmd_len,
                         unsigned char *resp, size_t *resp_len)
{
    ck_assert_ptr_eq(ctx, &card);
    card.calls++;
    char *got = to_hex(cmd, cmd_len);
    ck_assert_msg(card.pos < card.n, "unexpected command %s(%zu bytes) after the script",
                  got, cmd_len);
    struct step *s = &card.steps[card.pos];
    char *want = to_hex(s->cmd.data, s->cmd.len);
    ck_assert_msg(cmd_len == s->cmd.len && memcmp(cmd, s->cmd.data, cmd_len) == 0,
                  "command %zu: got %s(%zu bytes), expected %s(%zu bytes)", card.calls, got,
                  cmd_len, want, s->cmd.len);
    free(got);
    free(want);
    if (++card.done_in_step >= (s->repeat != 0 ? s->repeat : 1)) {
        card.pos++;
        card.done_in_step = 0;
    }
    if (s->rc != IDM_OK)
        return idm_error_set(NULL, s->rc, "SCardTransmit: the reader is unavailable");
    ck_assert_uint_le(s->resp.len, *resp_len);
    if (s->resp.len != 0)
        memcpy(resp, s->resp.data, s->resp.len);
    *resp_len = s->resp.len;
    return IDM_OK;
}

static void expect_script_done(void)
{
    ck_assert_msg(card.pos == card.n, "the card still expected command %zu of %zu",
                  card.pos + 1, card.n);
}

static struct idm_apdu_transport short_card = {fake_transmit, &card, 0, 255};
static struct idm_apdu_transport extended_card = {fake_transmit, &card, 1, 255};

/* One exchange's results. */
struct answer {
    unsigned char *data;
    size_t len;
    unsigned sw;
};

static int send_apdu(const struct idm_apdu_transport *t, const char *header_hex,
                     const struct bytes *data, size_t le, struct answer *a,
                     struct idm_apdu_stats *stats)
{
    struct bytes h = hex(header_hex);
    ck_assert_uint_eq(h.len, 4);
    int rc = idm_apdu_send(t, h.data[0], h.data[1], h.data[2], h.data[3],
                           data != NULL ? data->data : NULL, data != NULL ? data->len : 0, le,
                           &a->data, &a->len, &a->sw, stats);
    bytes_free(&h);
    return rc;
}

/* Sends and asserts the card answered with sw and exactly the data in want. */
static void send_ok(const struct idm_apdu_transport *t, const char *header_hex,
                    const struct bytes *data, size_t le, unsigned sw, const struct bytes *want)
{
    struct answer a;
    int rc = send_apdu(t, header_hex, data, le, &a, NULL);
    ck_assert_msg(rc == IDM_OK, "send failed: %s", idm_last_error_message());
    ck_assert_uint_eq(a.sw, sw);
    size_t want_len = want != NULL ? want->len : 0;
    ck_assert_uint_eq(a.len, want_len);
    if (want_len == 0)
        ck_assert_ptr_null(a.data);
    else
        ck_assert_mem_eq(a.data, want->data, want_len);
    free(a.data);
    expect_script_done();
}

static void setup(void)
{
    fake_reset();
    idm_error_clear();
}

static void teardown(void)
{
    fake_reset();
}

/* ---- encoding ------------------------------------------------------- */

START_TEST(test_case_1_is_the_header_alone)
{
    expect("00 20 00 80", "63 C3");
    send_ok(&short_card, "00 20 00 80", NULL, 0, 0x63C3, NULL);
}
END_TEST

START_TEST(test_case_2_short_has_one_le_byte_and_00_means_256)
{
    struct bytes d16 = pattern(16, 0), d256 = pattern(256, 0);
    expect("00 B0 00 00 10", "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 90 00");
    send_ok(&short_card, "00 B0 00 00", NULL, 16, 0x9000, &d16);
    fake_reset();
    expect_bytes(hex("00 B0 00 00 00"), pattern(256, 0), 1);
    bytes_hex(&card.steps[0].resp, "90 00");
    send_ok(&short_card, "00 B0 00 00", NULL, 256, 0x9000, &d256);
    fake_reset();
    /* More than 256 on a short card asks for 256; 61xx brings the rest. */
    expect("00 B0 00 00 00", "90 00");
    send_ok(&short_card, "00 B0 00 00", NULL, IDM_APDU_LE_MAX, 0x9000, NULL);
    bytes_free(&d16);
    bytes_free(&d256);
}
END_TEST

START_TEST(test_case_3_short_has_lc_and_data)
{
    struct bytes data = hex("01 02 03");
    expect("00 DA 3F FF 03 01 02 03", "90 00");
    send_ok(&short_card, "00 DA 3F FF", &data, 0, 0x9000, NULL);
    bytes_free(&data);
}
END_TEST

START_TEST(test_case_4_short_has_lc_data_and_le)
{
    struct bytes data = hex("5C 03 5F C1 05"), want = hex("53 00");
    expect("00 CB 3F FF 05 5C 03 5F C1 05 00", "53 00 90 00");
    send_ok(&short_card, "00 CB 3F FF", &data, IDM_APDU_LE_MAX, 0x9000, &want);
    bytes_free(&data);
    bytes_free(&want);
}
END_TEST

START_TEST(test_extended_card_uses_short_form_when_it_fits)
{
    struct bytes data = hex("5C 03 5F C1 05");
    expect("00 20 00 80", "90 00");
    send_ok(&extended_card, "00 20 00 80", NULL, 0, 0x9000, NULL);
    fake_reset();
    expect("00 CB 3F FF 05 5C 03 5F C1 05 10", "90 00");
    send_ok(&extended_card, "00 CB 3F FF", &data, 16, 0x9000, NULL);
    bytes_free(&data);
}
END_TEST

START_TEST(test_case_2_extended_has_00_and_two_le_bytes_0000_meaning_65536)
{
    expect("00 B0 00 00 00 02 00", "90 00");
    send_ok(&extended_card, "00 B0 00 00", NULL, 512, 0x9000, NULL);
    fake_reset();
    expect("00 B0 00 00 00 00 00", "90 00");
    send_ok(&extended_card, "00 B0 00 00", NULL, IDM_APDU_LE_MAX, 0x9000, NULL);
}
END_TEST

START_TEST(test_case_3_extended_has_00_and_two_lc_bytes)
{
    struct bytes data = pattern(300, 0);
    struct bytes cmd = hex("00 DB 3F FF 00 01 2C");
    bytes_add(&cmd, data.data, data.len);
    expect_bytes(cmd, hex("90 00"), 1);
    send_ok(&extended_card, "00 DB 3F FF", &data, 0, 0x9000, NULL);
    bytes_free(&data);
}
END_TEST

START_TEST(test_case_4_extended_has_lc_data_and_two_le_bytes)
{
    struct bytes data = pattern(300, 7);
    struct bytes cmd = hex("00 DB 3F FF 00 01 2C");
    bytes_add(&cmd, data.data, data.len);
    bytes_hex(&cmd, "00 00");
    expect_bytes(cmd, hex("90 00"), 1);
    send_ok(&extended_card, "00 DB 3F FF", &data, IDM_APDU_LE_MAX, 0x9000, NULL);
    bytes_free(&data);
}
END_TEST

START_TEST(test_65535_data_bytes_pass_and_65536_are_refused)
{
    struct bytes data = pattern(65536, 0);
    data.len = 65535;
    struct bytes cmd = hex("00 DB 3F FF 00 FF FF");
    bytes_add(&cmd, data.data, data.len);
    expect_bytes(cmd, hex("90 00"), 1);
    send_ok(&extended_card, "00 DB 3F FF", &data, 0, 0x9000, NULL);

    data.len = 65536;
    struct answer a;
    ck_assert_idm_error(send_apdu(&extended_card, "00 DB 3F FF", &data, 0, &a, NULL),
                        IDM_ERR_INVALID_ARG, "65536 bytes");
    ck_assert_idm_error(send_apdu(&short_card, "00 DB 3F FF", &data, 0, &a, NULL),
                        IDM_ERR_INVALID_ARG, "65536 bytes");
    ck_assert_uint_eq(card.calls, 1);
    bytes_free(&data);
}
END_TEST

START_TEST(test_bad_arguments_are_refused_before_anything_is_sent)
{
    struct answer a;
    struct idm_apdu_transport wide = short_card;
    wide.max_short = 256;
    ck_assert_idm_error(send_apdu(&short_card, "00 B0 00 00", NULL, 65537, &a, NULL),
                        IDM_ERR_INVALID_ARG, "65537");
    ck_assert_idm_error(send_apdu(&wide, "00 B0 00 00", NULL, 0, &a, NULL),
                        IDM_ERR_INVALID_ARG, "max_short is 256");
    ck_assert_idm_error(idm_apdu_send(&short_card, 0, 0xDA, 0, 0, NULL, 3, 0, &a.data, &a.len,
                                      &a.sw, NULL),
                        IDM_ERR_INVALID_ARG, "length is 3");
    ck_assert_idm_error(idm_apdu_send(NULL, 0, 0xDA, 0, 0, NULL, 0, 0, &a.data, &a.len, &a.sw,
                                      NULL),
                        IDM_ERR_INVALID_ARG, "NULL");
    ck_assert_uint_eq(card.calls, 0);
}
END_TEST

/* ---- chaining ------------------------------------------------------- */

static struct bytes chained_piece(const char *header_hex, const struct bytes *data,
                                  size_t from, size_t count)
{
    struct bytes cmd = hex(header_hex);
    bytes_add(&cmd, data->data + from, count);
    return cmd;
}

START_TEST(test_600_byte_put_data_is_chained_as_255_255_90)
{
    struct bytes data = pattern(600, 0);
    struct idm_apdu_stats stats = {0, 0, 0};
    expect_bytes(chained_piece("10 DB 3F FF FF", &data, 0, 255), hex("90 00"), 1);
    expect_bytes(chained_piece("10 DB 3F FF FF", &data, 255, 255), hex("90 00"), 1);
    expect_bytes(chained_piece("00 DB 3F FF 5A", &data, 510, 90), hex("90 00"), 1);
    struct answer a;
    ck_assert_int_eq(send_apdu(&short_card, "00 DB 3F FF", &data, 0, &a, &stats), IDM_OK);
    ck_assert_uint_eq(a.sw, 0x9000);
    ck_assert_ptr_null(a.data);
    expect_script_done();
    ck_assert_uint_eq(stats.apdus, 3);
    ck_assert_uint_eq(stats.bytes_out, 600 + 3 * 5);
    bytes_free(&data);
}
END_TEST

START_TEST(test_only_the_last_chained_piece_carries_le)
{
    struct bytes data = pattern(300, 0), want = hex("AA BB");
    expect_bytes(chained_piece("10 87 07 9A FF", &data, 0, 255), hex("90 00"), 1);
    struct bytes last = chained_piece("00 87 07 9A 2D", &data, 255, 45);
    bytes_hex(&last, "00");
    expect_bytes(last, hex("AA BB 90 00"), 1);
    send_ok(&short_card, "00 87 07 9A", &data, 256, 0x9000, &want);
    bytes_free(&data);
    bytes_free(&want);
}
END_TEST

START_TEST(test_a_refused_chain_piece_ends_the_chain_with_its_status)
{
    struct bytes data = pattern(600, 0);
    expect_bytes(chained_piece("10 DB 3F FF FF", &data, 0, 255), hex("90 00"), 1);
    expect_bytes(chained_piece("10 DB 3F FF FF", &data, 255, 255), hex("6A 84"), 1);
    send_ok(&short_card, "00 DB 3F FF", &data, 0, 0x6A84, NULL);
    bytes_free(&data);
}
END_TEST

START_TEST(test_a_smaller_max_short_cuts_smaller_pieces)
{
    struct bytes data = pattern(10, 0);
    struct idm_apdu_transport small = short_card;
    small.max_short = 4;
    expect_bytes(chained_piece("10 DB 3F FF 04", &data, 0, 4), hex("90 00"), 1);
    expect_bytes(chained_piece("10 DB 3F FF 04", &data, 4, 4), hex("90 00"), 1);
    expect_bytes(chained_piece("00 DB 3F FF 02", &data, 8, 2), hex("90 00"), 1);
    send_ok(&small, "00 DB 3F FF", &data, 0, 0x9000, NULL);
    bytes_free(&data);
}
END_TEST

/* ---- 61xx and 6Cxx -------------------------------------------------- */

START_TEST(test_61xx_is_followed_by_get_response_until_9000)
{
    struct bytes data = hex("5C 03 5F C1 05");
    struct bytes want = pattern(16 + 16 + 256 + 4, 0);
    struct bytes r1 = pattern(16, 0), r2 = pattern(16, 16), r3 = pattern(256, 32),
                 r4 = pattern(4, 32 + 256);
    bytes_hex(&r1, "61 10");
    bytes_hex(&r2, "61 00");
    bytes_hex(&r3, "61 04");
    bytes_hex(&r4, "90 00");
    expect_bytes(hex("00 CB 3F FF 05 5C 03 5F C1 05 00"), r1, 1);
    expect_bytes(hex("00 C0 00 00 10"), r2, 1);
    expect_bytes(hex("00 C0 00 00 00"), r3, 1);
    expect_bytes(hex("00 C0 00 00 04"), r4, 1);
    send_ok(&short_card, "00 CB 3F FF", &data, IDM_APDU_LE_MAX, 0x9000, &want);
    bytes_free(&data);
    bytes_free(&want);
}
END_TEST

START_TEST(test_6cxx_resends_the_command_with_the_le_the_card_named)
{
    struct bytes data = hex("5C 01 7E"), want = pattern(10, 0);
    struct bytes resp = pattern(10, 0);
    bytes_hex(&resp, "90 00");
    expect("00 CB 3F FF 03 5C 01 7E 00", "6C 0A");
    expect_bytes(hex("00 CB 3F FF 03 5C 01 7E 0A"), resp, 1);
    send_ok(&short_card, "00 CB 3F FF", &data, 256, 0x9000, &want);
    bytes_free(&data);
    bytes_free(&want);
}
END_TEST

START_TEST(test_other_status_words_come_back_with_ok_and_their_data)
{
    struct bytes want = hex("01 02");
    expect("00 A4 04 00 00", "6A 82");
    send_ok(&short_card, "00 A4 04 00", NULL, 256, 0x6A82, NULL);
    fake_reset();
    expect("00 B0 00 00 00", "01 61 01");
    expect("00 C0 00 00 01", "02 62 82");
    send_ok(&short_card, "00 B0 00 00", NULL, 256, 0x6282, &want);
    bytes_free(&want);
}
END_TEST

/* ---- failures ------------------------------------------------------- */

START_TEST(test_empty_answer_is_a_card_error_naming_the_ins)
{
    struct answer a = {(unsigned char *)&a, 9, 9};
    expect("00 CB 3F FF 00", "");
    ck_assert_idm_error(send_apdu(&short_card, "00 CB 3F FF", NULL, 256, &a, NULL),
                        IDM_ERR_CARD, "INS CB");
    ck_assert_str_eq(idm_last_error_message(),
                     "the card answered with 0 bytes to INS CB; was it removed?");
    ck_assert_ptr_null(a.data);
    ck_assert_uint_eq(a.len, 0);
}
END_TEST

START_TEST(test_one_byte_answer_is_a_card_error_naming_the_ins)
{
    struct answer a;
    expect("00 87 07 9A", "90");
    ck_assert_idm_error(send_apdu(&short_card, "00 87 07 9A", NULL, 0, &a, NULL),
                        IDM_ERR_CARD, "1 byte to INS 87");
}
END_TEST

START_TEST(test_transport_error_passes_through_with_its_message)
{
    struct answer a;
    expect_failure("00 20 00 80", IDM_ERR_CARD);
    ck_assert_idm_error(send_apdu(&short_card, "00 20 00 80", NULL, 0, &a, NULL),
                        IDM_ERR_CARD, "SCardTransmit");
    ck_assert_str_eq(idm_last_error_message(), "SCardTransmit: the reader is unavailable");
    fake_reset();
    /* A failure after part of the answer arrived frees that part. */
    expect("00 B0 00 00 00", "01 02 03 61 05");
    expect_failure("00 C0 00 00 05", IDM_ERR_TIMEOUT);
    ck_assert_idm_error(send_apdu(&short_card, "00 B0 00 00", NULL, 256, &a, NULL),
                        IDM_ERR_TIMEOUT, "SCardTransmit");
    ck_assert_ptr_null(a.data);
}
END_TEST

START_TEST(test_get_response_loop_stops_after_256_rounds)
{
    struct idm_apdu_stats stats = {0, 0, 0};
    struct answer a;
    expect("00 B0 00 00 00", "01 61 01");
    expect_bytes(hex("00 C0 00 00 01"), hex("01 61 01"), 256);
    ck_assert_idm_error(send_apdu(&short_card, "00 B0 00 00", NULL, 256, &a, &stats),
                        IDM_ERR_CARD, "after 256 rounds");
    ck_assert_ptr_null(a.data);
    ck_assert_uint_eq(stats.apdus, 257);
    expect_script_done();
}
END_TEST

START_TEST(test_6cxx_loop_stops_after_256_rounds)
{
    struct answer a;
    expect("00 B0 00 00 00", "6C 10");
    expect_bytes(hex("00 B0 00 00 10"), hex("6C 10"), 256);
    ck_assert_idm_error(send_apdu(&short_card, "00 B0 00 00", NULL, 256, &a, NULL),
                        IDM_ERR_CARD, "6C10 to INS B0 after 256 rounds");
    expect_script_done();
}
END_TEST

START_TEST(test_answer_over_64_kib_is_a_card_error)
{
    struct answer a;
    struct bytes chunk = pattern(256, 0);
    bytes_hex(&chunk, "61 00");
    struct bytes first = {NULL, 0};
    bytes_add(&first, chunk.data, chunk.len);
    expect_bytes(hex("00 B0 00 00 00"), first, 1);
    /* 256 chunks of 256 bytes are exactly 64 KiB; the 257th is too much. */
    expect_bytes(hex("00 C0 00 00 00"), chunk, 256);
    ck_assert_idm_error(send_apdu(&short_card, "00 B0 00 00", NULL, 256, &a, NULL),
                        IDM_ERR_CARD, "exceeds 64 KiB (65536 bytes and 256 more)");
    ck_assert_ptr_null(a.data);
    expect_script_done();
}
END_TEST

START_TEST(test_stats_count_every_apdu_and_byte_across_calls)
{
    struct idm_apdu_stats stats = {0, 0, 0};
    struct answer a;
    expect("00 20 00 80", "63 C3");
    expect("00 B0 00 00 00", "01 02 61 03");
    expect("00 C0 00 00 03", "03 04 05 90 00");
    ck_assert_int_eq(send_apdu(&short_card, "00 20 00 80", NULL, 0, &a, &stats), IDM_OK);
    ck_assert_int_eq(send_apdu(&short_card, "00 B0 00 00", NULL, 256, &a, &stats), IDM_OK);
    ck_assert_uint_eq(a.len, 5);
    free(a.data);
    ck_assert_uint_eq(stats.apdus, 3);
    ck_assert_uint_eq(stats.bytes_out, 4 + 5 + 5);
    ck_assert_uint_eq(stats.bytes_in, 2 + 4 + 5);
}
END_TEST

/* ---- status words --------------------------------------------------- */

START_TEST(test_sw_messages_name_the_listed_status_words)
{
    static const char *const want[] = {
        "9000 success",
        "6982 security status not satisfied",
        "63C2 wrong PIN, 2 tries left",
        "6983 authentication method blocked",
        "6A82 file or application not found",
        "6A84 not enough memory in the card",
        "6A80 incorrect data",
        "6A86 incorrect P1/P2",
        "6D00 instruction not supported",
        "6E00 class not supported",
        "6700 wrong length",
        "6985 conditions of use not satisfied",
        "6A88 referenced data not found",
        "6581 memory failure",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        unsigned sw = (unsigned)strtoul(want[i], NULL, 16);
        ck_assert_str_eq(idm_sw_message(sw), want[i]);
    }
}
END_TEST

START_TEST(test_sw_messages_carry_the_count_in_the_low_bits)
{
    ck_assert_str_eq(idm_sw_message(0x63C0), "63C0 wrong PIN, 0 tries left");
    ck_assert_str_eq(idm_sw_message(0x63C1), "63C1 wrong PIN, 1 try left");
    ck_assert_str_eq(idm_sw_message(0x63CF), "63CF wrong PIN, 15 tries left");
    ck_assert_str_eq(idm_sw_message(0x6110), "6110 more data available: 16 bytes");
    ck_assert_str_eq(idm_sw_message(0x6100), "6100 more data available: 256 bytes");
    ck_assert_str_eq(idm_sw_message(0x6C01), "6C01 wrong Le; the card has 1 byte");
}
END_TEST

START_TEST(test_unknown_status_word_is_named_unknown)
{
    ck_assert_str_eq(idm_sw_message(0x1234), "1234 unknown status");
    ck_assert_str_eq(idm_sw_message(0x6A85), "6A85 unknown status");
    ck_assert_str_eq(idm_sw_message(0x0000), "0000 unknown status");
}
END_TEST

/* ---- TLV ------------------------------------------------------------ */

/* Appends one TLV to an empty buffer, checks the header bytes, reads it back. */
static void check_round_trip(unsigned tag, size_t value_len, const char *header_hex)
{
    struct bytes value = pattern(value_len, 3), want = hex(header_hex);
    bytes_add(&want, value.data, value.len);
    unsigned char *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(idm_tlv_append(&buf, &len, tag, value.data, value.len), IDM_OK);
    ck_assert_uint_eq(len, want.len);
    ck_assert_mem_eq(buf, want.data, len);

    const unsigned char *p = buf;
    struct idm_tlv tlv;
    ck_assert_int_eq(idm_tlv_next(&p, buf + len, &tlv), IDM_OK);
    ck_assert_uint_eq(tlv.tag, tag);
    ck_assert_uint_eq(tlv.len, value_len);
    ck_assert_ptr_eq(p, buf + len);
    if (value_len != 0)
        ck_assert_mem_eq(tlv.value, value.data, value_len);
    free(buf);
    bytes_free(&value);
    bytes_free(&want);
}

START_TEST(test_tlv_round_trips_with_1_2_and_3_byte_lengths)
{
    check_round_trip(0x53, 0, "53 00");
    check_round_trip(0x53, 127, "53 7F");
    check_round_trip(0x53, 128, "53 81 80");
    check_round_trip(0x53, 255, "53 81 FF");
    check_round_trip(0x53, 256, "53 82 01 00");
    check_round_trip(0x53, 65535, "53 82 FF FF");
}
END_TEST

START_TEST(test_tlv_round_trips_with_multi_byte_tags)
{
    check_round_trip(0x7F49, 3, "7F 49 03");
    check_round_trip(0x5FC105, 300, "5F C1 05 82 01 2C");
    check_round_trip(0x5F2D, 2, "5F 2D 02");
}
END_TEST

/* 53 { 70 { cert } 71 01 00 FE 00 }: a PIV certificate container. */
static void build_container(const struct bytes *cert, unsigned char **buf, size_t *len)
{
    unsigned char *inner = NULL;
    size_t inner_len = 0;
    static const unsigned char cert_info = 0x00;
    ck_assert_int_eq(idm_tlv_append(&inner, &inner_len, 0x70, cert->data, cert->len), IDM_OK);
    ck_assert_int_eq(idm_tlv_append(&inner, &inner_len, 0x71, &cert_info, 1), IDM_OK);
    ck_assert_int_eq(idm_tlv_append(&inner, &inner_len, 0xFE, NULL, 0), IDM_OK);
    *buf = NULL;
    *len = 0;
    ck_assert_int_eq(idm_tlv_append(buf, len, 0x53, inner, inner_len), IDM_OK);
    free(inner);
}

START_TEST(test_nested_certificate_container_is_built_and_found)
{
    struct bytes cert = pattern(300, 0x30);
    unsigned char *buf;
    size_t len;
    build_container(&cert, &buf, &len);

    struct bytes want = hex("53 82 01 35 70 82 01 2C");
    bytes_add(&want, cert.data, cert.len);
    bytes_hex(&want, "71 01 00 FE 00");
    ck_assert_uint_eq(len, want.len);
    ck_assert_mem_eq(buf, want.data, len);

    struct idm_tlv outer, tlv;
    ck_assert_int_eq(idm_tlv_find(buf, len, 0x53, &outer), IDM_OK);
    ck_assert_int_eq(idm_tlv_find(outer.value, outer.len, 0x70, &tlv), IDM_OK);
    ck_assert_uint_eq(tlv.len, 300);
    ck_assert_mem_eq(tlv.value, cert.data, 300);
    ck_assert_int_eq(idm_tlv_find(outer.value, outer.len, 0x71, &tlv), IDM_OK);
    ck_assert_uint_eq(tlv.len, 1);
    ck_assert_uint_eq(tlv.value[0], 0x00);
    ck_assert_int_eq(idm_tlv_find(outer.value, outer.len, 0xFE, &tlv), IDM_OK);
    ck_assert_uint_eq(tlv.len, 0);
    /* find stays at the top level: 70 is inside 53. */
    ck_assert_idm_error(idm_tlv_find(buf, len, 0x70, &tlv), IDM_ERR_NOT_FOUND, "tag 70");
    ck_assert_idm_error(idm_tlv_find(outer.value, outer.len, 0x72, &tlv), IDM_ERR_NOT_FOUND,
                        "tag 72 not found");
    free(buf);
    bytes_free(&cert);
    bytes_free(&want);
}
END_TEST

START_TEST(test_find_returns_the_first_of_repeated_tags)
{
    struct bytes b = hex("4F 01 AA 5F C1 05 01 BB 4F 01 CC");
    struct idm_tlv tlv;
    ck_assert_int_eq(idm_tlv_find(b.data, b.len, 0x4F, &tlv), IDM_OK);
    ck_assert_ptr_eq(tlv.value, b.data + 2);
    ck_assert_int_eq(idm_tlv_find(b.data, b.len, 0x5FC105, &tlv), IDM_OK);
    ck_assert_uint_eq(tlv.value[0], 0xBB);
    ck_assert_idm_error(idm_tlv_find(b.data, 0, 0x4F, &tlv), IDM_ERR_NOT_FOUND, "0 bytes");
    bytes_free(&b);
}
END_TEST

/* Parses hex copied into a heap block of exactly its size, so that ASan
 * reports any read past the end, and asserts a parse error naming needle. */
static void expect_malformed(const char *input_hex, const char *needle)
{
    struct bytes in = hex(input_hex);
    unsigned char *exact = malloc(in.len != 0 ? in.len : 1);
    ck_assert_ptr_nonnull(exact);
    if (in.len != 0)
        memcpy(exact, in.data, in.len);
    const unsigned char *p = exact;
    struct idm_tlv tlv;
    ck_assert_idm_error(idm_tlv_next(&p, exact + in.len, &tlv), IDM_ERR_PARSE, needle);
    ck_assert_ptr_eq(p, exact);
    free(exact);
    bytes_free(&in);
}

START_TEST(test_malformed_tlvs_are_parse_errors_without_reading_past_the_end)
{
    expect_malformed("", "input ends");
    expect_malformed("53", "tag 53 has no length");
    expect_malformed("5F C1", "tag 5FC1... is cut off");
    expect_malformed("5F C1 C1 01 00", "longer than 3 bytes");
    expect_malformed("53 81", "needs 1 more bytes, 0 remain");
    expect_malformed("53 82 01", "needs 2 more bytes, 1 remain");
    expect_malformed("53 05 01 02", "length 5 at offset 1 runs past the end: 2 bytes remain");
    expect_malformed("53 82 01 00 01", "length 256");
    expect_malformed("53 80 01 00 00 00", "indefinite length (80)");
    expect_malformed("53 83 00 00 01 00", "length form 83");
}
END_TEST

START_TEST(test_every_truncation_of_a_container_is_a_parse_error)
{
    struct bytes cert = pattern(200, 0);
    unsigned char *buf;
    size_t len;
    build_container(&cert, &buf, &len);
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *exact = malloc(cut != 0 ? cut : 1);
        ck_assert_ptr_nonnull(exact);
        memcpy(exact, buf, cut);
        const unsigned char *p = exact;
        struct idm_tlv tlv;
        ck_assert_int_eq(idm_tlv_next(&p, exact + cut, &tlv), IDM_ERR_PARSE);
        free(exact);
    }
    free(buf);
    bytes_free(&cert);
}
END_TEST

START_TEST(test_find_names_the_offset_of_a_malformed_tlv)
{
    struct bytes b = hex("4F 01 AA 53 05 01");
    struct idm_tlv tlv;
    ck_assert_idm_error(idm_tlv_find(b.data, b.len, 0x53, &tlv), IDM_ERR_PARSE,
                        "TLV at offset 3 of 6: tag 53: length 5");
    /* A tag before the damage is still found. */
    ck_assert_int_eq(idm_tlv_find(b.data, b.len, 0x4F, &tlv), IDM_OK);
    bytes_free(&b);
}
END_TEST

START_TEST(test_append_refuses_malformed_tags_and_long_values)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    static const unsigned char v = 1;
    ck_assert_int_eq(idm_tlv_append(&buf, &len, 0x4F, &v, 1), IDM_OK);
    ck_assert_idm_error(idm_tlv_append(&buf, &len, 0x1F, &v, 1), IDM_ERR_INVALID_ARG,
                        "tag 1F");
    ck_assert_idm_error(idm_tlv_append(&buf, &len, 0x5380, &v, 1), IDM_ERR_INVALID_ARG,
                        "tag 5380");
    ck_assert_idm_error(idm_tlv_append(&buf, &len, 0x5FC180, &v, 1), IDM_ERR_INVALID_ARG,
                        "tag 5FC180");
    ck_assert_idm_error(idm_tlv_append(&buf, &len, 0x5FC1C105, &v, 1), IDM_ERR_INVALID_ARG,
                        "tag 5FC1C105");
    struct bytes big = pattern(65536, 0);
    ck_assert_idm_error(idm_tlv_append(&buf, &len, 0x53, big.data, big.len),
                        IDM_ERR_INVALID_ARG, "65536 bytes");
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(buf, "\x4F\x01\x01", 3);
    free(buf);
    bytes_free(&big);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("apdu");

    TCase *encoding = tcase_create("encoding");
    tcase_add_checked_fixture(encoding, setup, teardown);
    tcase_add_test(encoding, test_case_1_is_the_header_alone);
    tcase_add_test(encoding, test_case_2_short_has_one_le_byte_and_00_means_256);
    tcase_add_test(encoding, test_case_3_short_has_lc_and_data);
    tcase_add_test(encoding, test_case_4_short_has_lc_data_and_le);
    tcase_add_test(encoding, test_extended_card_uses_short_form_when_it_fits);
    tcase_add_test(encoding, test_case_2_extended_has_00_and_two_le_bytes_0000_meaning_65536);
    tcase_add_test(encoding, test_case_3_extended_has_00_and_two_lc_bytes);
    tcase_add_test(encoding, test_case_4_extended_has_lc_data_and_two_le_bytes);
    tcase_add_test(encoding, test_65535_data_bytes_pass_and_65536_are_refused);
    tcase_add_test(encoding, test_bad_arguments_are_refused_before_anything_is_sent);
    suite_add_tcase(s, encoding);

    TCase *exchange = tcase_create("exchange");
    tcase_add_checked_fixture(exchange, setup, teardown);
    tcase_add_test(exchange, test_600_byte_put_data_is_chained_as_255_255_90);
    tcase_add_test(exchange, test_only_the_last_chained_piece_carries_le);
    tcase_add_test(exchange, test_a_refused_chain_piece_ends_the_chain_with_its_status);
    tcase_add_test(exchange, test_a_smaller_max_short_cuts_smaller_pieces);
    tcase_add_test(exchange, test_61xx_is_followed_by_get_response_until_9000);
    tcase_add_test(exchange, test_6cxx_resends_the_command_with_the_le_the_card_named);
    tcase_add_test(exchange, test_other_status_words_come_back_with_ok_and_their_data);
    tcase_add_test(exchange, test_stats_count_every_apdu_and_byte_across_calls);
    suite_add_tcase(s, exchange);

    TCase *failures = tcase_create("failures");
    tcase_add_checked_fixture(failures, setup, teardown);
    tcase_add_test(failures, test_empty_answer_is_a_card_error_naming_the_ins);
    tcase_add_test(failures, test_one_byte_answer_is_a_card_error_naming_the_ins);
    tcase_add_test(failures, test_transport_error_passes_through_with_its_message);
    tcase_add_test(failures, test_get_response_loop_stops_after_256_rounds);
    tcase_add_test(failures, test_6cxx_loop_stops_after_256_rounds);
    tcase_add_test(failures, test_answer_over_64_kib_is_a_card_error);
    suite_add_tcase(s, failures);

    TCase *sw = tcase_create("status_words");
    tcase_add_test(sw, test_sw_messages_name_the_listed_status_words);
    tcase_add_test(sw, test_sw_messages_carry_the_count_in_the_low_bits);
    tcase_add_test(sw, test_unknown_status_word_is_named_unknown);
    suite_add_tcase(s, sw);

    TCase *tlv = tcase_create("tlv");
    tcase_add_test(tlv, test_tlv_round_trips_with_1_2_and_3_byte_lengths);
    tcase_add_test(tlv, test_tlv_round_trips_with_multi_byte_tags);
    tcase_add_test(tlv, test_nested_certificate_container_is_built_and_found);
    tcase_add_test(tlv, test_find_returns_the_first_of_repeated_tags);
    tcase_add_test(tlv, test_malformed_tlvs_are_parse_errors_without_reading_past_the_end);
    tcase_add_test(tlv, test_every_truncation_of_a_container_is_a_parse_error);
    tcase_add_test(tlv, test_find_names_the_offset_of_a_malformed_tlv);
    tcase_add_test(tlv, test_append_refuses_malformed_tags_and_long_values);
    suite_add_tcase(s, tlv);
    return s;
}
