/*
 * A PIV card's answers to the card edge (src/backends/encoder/piv.c over
 * apdu.c): a fake card answers every command the library sends with what
 * the input says, while the library runs one command of piv.h, a raw
 * idm_apdu_send(), or a whole personalization session.
 *
 * Input: a flags byte (bit 0: the reader takes extended APDUs; bits 1-2:
 * max_short 0 (255), 1, 16 or 100; bit 3: when the input runs out the
 * reader fails instead of the card answering 6F00), a byte choosing the
 * command, a byte choosing its arguments (slot, object tag, algorithm, Lc
 * and Le), then one record per answer:
 *   hi lo <bytes>   (hi < F0) a literal answer of hi lo bytes, data and
 *                   SW1 SW2, cut short where the input ends
 *   F0 nn s1 s2     nn * 256 bytes of data (nn 00: 65536) and SW s1 s2
 *   F1 nn           the previous answer again, for nn + 1 commands
 *   F2 xx           a card that knows the management key: the encrypted
 *                   witness, or our challenge encrypted (one bit wrong
 *                   when xx is odd); 9000 to any other command
 *   F3 xx           the transport fails, with a code chosen by xx
 *   F4 xx           the transport reports one byte more than its room
 * (F5-FF act as F0-F4, hi - F0 modulo 5).
 *
 * Besides not crashing or leaking:
 * - every command is a well-formed ISO 7816-4 APDU: extended only when the
 *   reader takes them, no short data field over max_short, chained pieces
 *   of exactly max_short with no Le, pieces that add up to the data;
 * - 61xx is followed by GET RESPONSE 00 C0 00 00 xx, 6Cxx by the same
 *   command with Le xx, never more than 256 such rounds in a row, and
 *   nothing is sent after the transport failed or an answer was short;
 * - idm_apdu_send() returns exactly the data of the answers it collected,
 *   with the last status word, and sends the APDU form its header promises;
 * - each function returns only the codes its header names (the
 *   transport's own code when the transport failed, IDM_ERR_UNSUPPORTED
 *   and IDM_ERR_NOT_FOUND for exactly their status words, IDM_OK only
 *   after 9000), leaves a message that never quotes the PIN or PUK,
 *   returns NULL buffers after a failure, counts the answered APDUs in
 *   stats and leaves no OpenSSL error queued;
 * - a chip serial is 16 upper-case hex digits of the card's CPLC fields; a
 *   public key is an SPKI that d2i_PUBKEY() reads as RSA-2048 or P-256 (of
 *   the card's point); an object or a signature is the content of the
 *   card's TLV; mutual authentication succeeds exactly when the card
 *   encrypted our challenge, after we sent back its witness decrypted.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/encoder/apdu.h"
#include "backends/encoder/piv.h"
#include "core/error_impl.h"
#include "fuzz.h"
#include <idm/error.h>

#define SW_OK 0x9000u
#define FOLLOW_UP_MAX 256u
#define CMD_MAX (4 + 3 + IDM_APDU_DATA_MAX + 2)
/* The fake keeps more than the library may accept, to see it refuse. */
#define COLLECT_MAX (2 * IDM_APDU_LE_MAX + 4)

#define PIN "Qz#8pW"
#define NEW_PIN "Hy@5nB"
#define PUK "Kv%3jX7r"
#define READER_WORDS "fake reader"

/* A bit per documented error code, for the sets each function may return. */
#define CODE(rc) (1u << -(rc))

static void check(int ok)
{
    if (!ok)
        abort();
}

/* ---- the test management keys ------------------------------------------ */

static const unsigned char MGMT_KEY[32] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                           0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10,
                                           0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
                                           0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20};
static const unsigned char WITNESS[] = "fake-card-witness"; /* 8 or 16 bytes used */

struct mgmt {
    unsigned alg;
    const EVP_CIPHER *(*cipher)(void);
    size_t key_len, block;
};

static const struct mgmt mgmt_algs[] = {
    {0x03, EVP_des_ede3_ecb, 24, 8},
    {0x08, EVP_aes_128_ecb, 16, 16},
    {0x0A, EVP_aes_192_ecb, 24, 16},
    {0x0C, EVP_aes_256_ecb, 32, 16},
};

static const struct mgmt *mgmt_of(unsigned alg)
{
    for (size_t i = 0; i < sizeof mgmt_algs / sizeof mgmt_algs[0]; i++)
        if (mgmt_algs[i].alg == alg)
            return &mgmt_algs[i];
    return NULL;
}

/* One block in ECB with the test key, as the card does it. */
static void ecb(const struct mgmt *m, int encrypt, const unsigned char *in, unsigned char *out)
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int n = 0, tail = 0;
    check(x != NULL && EVP_CipherInit_ex(x, m->cipher(), NULL, MGMT_KEY, NULL, encrypt) == 1 &&
          EVP_CIPHER_CTX_set_padding(x, 0) == 1 &&
          EVP_CipherUpdate(x, out, &n, in, (int)m->block) == 1 &&
          EVP_CipherFinal_ex(x, out + n, &tail) == 1 && (size_t)(n + tail) == m->block);
    EVP_CIPHER_CTX_free(x);
}

/* ---- command APDUs as the card reads them ------------------------------ */

struct apdu {
    unsigned char cla, ins, p1, p2;
    const unsigned char *data;
    size_t lc, le; /* le 0: no Le field */
    int extended;
};

/* ISO 7816-4 5.1: 1 when cmd is one of the four cases, short or extended. */
static int parse_apdu(const unsigned char *cmd, size_t n, struct apdu *a)
{
    memset(a, 0, sizeof *a);
    if (n < 4)
        return 0;
    a->cla = cmd[0];
    a->ins = cmd[1];
    a->p1 = cmd[2];
    a->p2 = cmd[3];
    const unsigned char *b = cmd + 4;
    size_t body = n - 4;
    if (body == 0)
        return 1;
    if (body == 1) {
        a->le = b[0] != 0 ? b[0] : 256;
        return 1;
    }
    if (b[0] != 0) {
        a->lc = b[0];
        a->data = b + 1;
        if (body == 1 + a->lc)
            return 1;
        if (body != 2 + a->lc)
            return 0;
        a->le = b[body - 1] != 0 ? b[body - 1] : 256;
        return 1;
    }
    a->extended = 1;
    if (body < 3)
        return 0;
    size_t two = (size_t)b[1] << 8 | b[2];
    if (body == 3) {
        a->le = two != 0 ? two : 65536;
        return 1;
    }
    a->lc = two;
    a->data = b + 3;
    if (two == 0)
        return 0;
    if (body == 3 + two)
        return 1;
    if (body != 5 + two)
        return 0;
    two = (size_t)b[body - 2] << 8 | b[body - 1];
    a->le = two != 0 ? two : 65536;
    return 1;
}

/* ---- the fake card ------------------------------------------------------ */

enum kind { LITERAL, BULK, REPEAT, PROOF, FAIL, OVERSIZE };

/* One answer as the input describes it. */
struct answer {
    enum kind kind;
    const uint8_t *bytes;
    size_t len;  /* LITERAL: bytes; BULK: data bytes */
    unsigned sw; /* BULK */
    unsigned arg;
};

/* How the last transmit went. */
enum outcome { NONE, DELIVERED, SHORT_ANSWER, FAILED, OVERSIZED };

enum proof { NO_PROOF, WITNESS_SENT, RIGHT_PROOF, WRONG_PROOF };

static const uint8_t NO_DIAGNOSIS[] = {0x6F, 0x00};

static const int fail_codes[] = {IDM_ERR_CARD, IDM_ERR_TIMEOUT, IDM_ERR_IO, 1};

static struct card {
    const uint8_t *p, *end;
    int end_fails;
    struct answer last;
    unsigned repeat;
    size_t piece; /* the transport's max_short as the library reads it */

    /* the call in progress */
    unsigned transmits;
    enum outcome outcome;
    int fail_code;
    unsigned long apdus, bytes_out, bytes_in;
    int have_prev, prev_link;
    struct apdu prev;
    unsigned prev_sw;
    unsigned streak;

    /* the exchange (one idm_apdu_send) in progress */
    size_t assembled_len; /* the command data, chained pieces joined */
    size_t collected_len; /* the answer data idm_apdu_send keeps */
    unsigned last_sw;
    int final_seen; /* the last piece (not a link) was sent */
    size_t final_le;
    int final_extended;

    enum proof proof;  /* what the last answer was */
    int proof_alone;   /* ... and it is all the exchange collected */
    int witness_alone; /* the last exchange collected exactly our witness */
} card;

static unsigned char prev_cmd[CMD_MAX];
static unsigned char assembled[IDM_APDU_DATA_MAX];
static unsigned char collected[COLLECT_MAX];

/* Data the library sends: PUT DATA values, signature inputs, raw APDUs. */
static unsigned char pattern[IDM_APDU_DATA_MAX];

static struct idm_apdu_transport transport;
static struct idm_apdu_stats stats;

static struct answer next_answer(void)
{
    if (card.repeat > 0) {
        card.repeat--;
        return card.last;
    }
    struct answer a = {.kind = LITERAL};
    size_t left = (size_t)(card.end - card.p);
    if (left < 2) {
        card.p = card.end;
        if (card.end_fails) {
            a.kind = FAIL;
            a.arg = 0;
        } else {
            a.bytes = NO_DIAGNOSIS;
            a.len = sizeof NO_DIAGNOSIS;
        }
        return a; /* not kept as the last: a repeat of the end is the end */
    }
    unsigned hi = card.p[0], lo = card.p[1];
    card.p += 2;
    left -= 2;
    if (hi < 0xF0) {
        a.len = (size_t)hi << 8 | lo;
        if (a.len > left)
            a.len = left;
        a.bytes = card.p;
        card.p += a.len;
    } else {
        a.kind = (enum kind)(BULK + (hi - 0xF0) % 5);
        a.arg = lo;
        if (a.kind == REPEAT) {
            card.repeat = lo;
            return card.last;
        }
        if (a.kind == BULK) {
            a.len = (lo != 0 ? lo : 256) * (size_t)256;
            unsigned sw1 = left > 0 ? card.p[0] : 0x90, sw2 = left > 1 ? card.p[1] : 0x00;
            card.p += left < 2 ? left : 2;
            a.sw = sw1 << 8 | sw2;
        }
    }
    card.last = a;
    return a;
}

/* The data of a management key command: 7C 02 80 00 asks for the witness;
 * 7C { 80 witness, 81 challenge, 82 } asks for the challenge encrypted. */
static int is_ask_witness(const unsigned char *d, size_t n)
{
    return n == 4 && d[0] == 0x7C && d[1] == 0x02 && d[2] == 0x80 && d[3] == 0x00;
}

static int is_challenge(const unsigned char *d, size_t n, size_t b)
{
    return n == 8 + 2 * b && d[0] == 0x7C && d[1] == 6 + 2 * b && d[2] == 0x80 && d[3] == b &&
           d[4 + b] == 0x81 && d[5 + b] == b && d[6 + 2 * b] == 0x82 && d[7 + 2 * b] == 0x00;
}

/* The answer of a card that knows the management key, into resp. */
static size_t proof_answer(const struct apdu *a, unsigned arg, unsigned char *resp)
{
    const struct mgmt *m = mgmt_of(a->p1);
    size_t n = 0;
    if ((a->cla & 0x10) == 0 && a->ins == 0x87 && a->p2 == 0x9B && m != NULL) {
        size_t b = m->block;
        if (is_ask_witness(assembled, card.assembled_len)) {
            resp[n++] = 0x7C;
            resp[n++] = (unsigned char)(2 + b);
            resp[n++] = 0x80;
            resp[n++] = (unsigned char)b;
            ecb(m, 1, WITNESS, resp + n);
            n += b;
            card.proof = WITNESS_SENT;
        } else if (is_challenge(assembled, card.assembled_len, b)) {
            resp[n++] = 0x7C;
            resp[n++] = (unsigned char)(2 + b);
            resp[n++] = 0x82;
            resp[n++] = (unsigned char)b;
            ecb(m, 1, assembled + 6 + b, resp + n);
            resp[n] ^= (unsigned char)(arg & 1);
            n += b;
            card.proof = arg & 1 ? WRONG_PROOF : RIGHT_PROOF;
        }
    }
    resp[n++] = 0x90;
    resp[n++] = 0x00;
    return n;
}

/* The framing rules every command keeps, and where it stands in its
 * exchange: a follow-up (after 61xx or 6Cxx), a further chained piece, or
 * the start of a new exchange.  Returns 1 for a follow-up. */
static int check_command(const struct apdu *a)
{
    int link = (a->cla & 0x10) != 0;
    check(!a->extended || transport.extended);
    check(a->extended || a->lc <= card.piece);
    if (link)
        check(!a->extended && a->lc == card.piece && a->le == 0);
    /* a failed exchange ends the call */
    check(card.outcome == NONE || card.outcome == DELIVERED);

    unsigned sw1 = card.prev_sw >> 8;
    unsigned count = (card.prev_sw & 0xFFu) != 0 ? card.prev_sw & 0xFFu : 256;
    if (card.have_prev && !card.prev_link && sw1 == 0x61) {
        check(a->cla == 0x00 && a->ins == 0xC0 && a->p1 == 0x00 && a->p2 == 0x00 &&
              a->lc == 0 && a->le == count && !a->extended);
    } else if (card.have_prev && !card.prev_link && sw1 == 0x6C) {
        const struct apdu *p = &card.prev;
        check(a->cla == p->cla && a->ins == p->ins && a->p1 == p->p1 && a->p2 == p->p2 &&
              a->lc == p->lc && a->extended == p->extended && a->le == count);
        check(a->lc == 0 || memcmp(a->data, p->data, a->lc) == 0);
    } else if (card.have_prev && card.prev_link && card.prev_sw == SW_OK) {
        check(a->ins == card.prev.ins && a->p1 == card.prev.p1 && a->p2 == card.prev.p2 &&
              (a->cla | 0x10) == card.prev.cla);
        card.streak = 0;
        return 0;
    } else {
        card.assembled_len = 0;
        card.collected_len = 0;
        card.final_seen = 0;
        card.streak = 0;
        return 0;
    }
    check(++card.streak <= FOLLOW_UP_MAX);
    return 1;
}

/* The management key commands as SP 800-73-4 part 2, 3.2.4 has them; our
 * witness comes back decrypted when the card's answer was only it. */
static void check_mgmt_command(const struct apdu *a)
{
    const struct mgmt *m = mgmt_of(a->p1);
    if (a->ins != 0x87 || a->p2 != 0x9B)
        return;
    check(m != NULL);
    if (is_ask_witness(assembled, card.assembled_len))
        return;
    check(is_challenge(assembled, card.assembled_len, m->block));
    if (card.witness_alone)
        check(memcmp(assembled + 4, WITNESS, m->block) == 0);
}

static void keep(const unsigned char *data, size_t n)
{
    if (card.collected_len < COLLECT_MAX) {
        size_t room = COLLECT_MAX - card.collected_len;
        memcpy(collected + card.collected_len, data, n < room ? n : room);
    }
    card.collected_len += n;
}

static int fake_transmit(void *ctx, const unsigned char *cmd, size_t cmd_len, unsigned char *resp,
                         size_t *resp_len)
{
    check(ctx == &card && cmd != NULL && resp != NULL && resp_len != NULL);
    struct apdu a;
    check(cmd_len <= CMD_MAX && parse_apdu(cmd, cmd_len, &a));
    int link = (a.cla & 0x10) != 0;
    int follow_up = check_command(&a);
    if (!follow_up) {
        check(a.lc <= IDM_APDU_DATA_MAX - card.assembled_len);
        if (a.lc != 0)
            memcpy(assembled + card.assembled_len, a.data, a.lc);
        card.assembled_len += a.lc;
        if (!link) {
            card.final_seen = 1;
            card.final_le = a.le;
            card.final_extended = a.extended;
            check_mgmt_command(&a);
        }
    }
    memcpy(prev_cmd, cmd, cmd_len);
    parse_apdu(prev_cmd, cmd_len, &card.prev);
    card.have_prev = 1;
    card.prev_link = link;
    card.transmits++;

    struct answer ans = next_answer();
    size_t room = *resp_len, n = 0;
    card.proof = NO_PROOF;
    switch (ans.kind) {
    case LITERAL:
    case REPEAT: /* never: next_answer() gives the repeated answer */
        n = ans.len;
        if (n <= room)
            memcpy(resp, ans.bytes, n);
        break;
    case BULK:
        n = ans.len + 2;
        if (n <= room) {
            for (size_t i = 0; i < ans.len; i++)
                resp[i] = (unsigned char)(i * 31u + card.transmits);
            resp[ans.len] = (unsigned char)(ans.sw >> 8);
            resp[ans.len + 1] = (unsigned char)ans.sw;
        }
        break;
    case PROOF:
        check(room >= 2 + 2 + 16 + 2);
        n = proof_answer(&a, ans.arg, resp);
        break;
    case FAIL:
        card.outcome = FAILED;
        card.fail_code = fail_codes[ans.arg % (sizeof fail_codes / sizeof fail_codes[0])];
        if (card.fail_code < 0)
            return IDM_ERR(card.fail_code, READER_WORDS " %u: the card was pulled", ans.arg);
        return card.fail_code;
    case OVERSIZE:
        card.outcome = OVERSIZED;
        *resp_len = room + 1;
        return IDM_OK;
    }
    if (n > room) {
        card.outcome = FAILED;
        card.fail_code = IDM_ERR_CARD;
        return IDM_ERR(IDM_ERR_CARD, READER_WORDS ": %zu bytes in %zu bytes of room", n, room);
    }
    *resp_len = n;
    card.apdus++;
    card.bytes_out += cmd_len;
    card.bytes_in += n;
    if (n < 2) {
        card.outcome = SHORT_ANSWER;
        return IDM_OK;
    }
    card.outcome = DELIVERED;
    unsigned sw = (unsigned)resp[n - 2] << 8 | resp[n - 1];
    card.prev_sw = sw;
    card.last_sw = sw;
    /* what idm_apdu_send keeps: a refused piece's answer, and every
     * answer to the last piece but 6Cxx */
    if (link ? sw != SW_OK : sw >> 8 != 0x6C)
        keep(resp, n - 2);
    card.proof_alone = card.proof != NO_PROOF && card.collected_len == n - 2;
    if (!link)
        card.witness_alone = card.proof == WITNESS_SENT && card.proof_alone;
    return IDM_OK;
}

/* ---- the checks after each call ---------------------------------------- */

static void begin(void)
{
    card.transmits = 0;
    card.outcome = NONE;
    card.fail_code = 0;
    card.apdus = card.bytes_out = card.bytes_in = 0;
    card.have_prev = 0;
    card.prev_link = 0;
    card.prev_sw = 0;
    card.streak = 0;
    card.assembled_len = card.collected_len = 0;
    card.last_sw = 0;
    card.final_seen = 0;
    card.proof = NO_PROOF;
    card.proof_alone = 0;
    card.witness_alone = 0;
    memset(&stats, 0, sizeof stats);
    ERR_clear_error();
    idm_error_clear();
}

/* What every call promises: documented is the set of its codes besides
 * IDM_OK and IDM_ERR_NO_MEMORY; piv is 1 for the card edge (IDM_OK only
 * after 9000). */
static void finish(int rc, unsigned documented, int piv)
{
    check(ERR_peek_error() == 0);
    check(stats.apdus == card.apdus && stats.bytes_out == card.bytes_out &&
          stats.bytes_in == card.bytes_in);
    if (card.outcome == FAILED)
        check(rc == (card.fail_code < 0 ? card.fail_code : IDM_ERR_CARD));
    else if (card.outcome == SHORT_ANSWER || card.outcome == OVERSIZED)
        check(rc == IDM_ERR_CARD);
    else if (rc != IDM_OK)
        check(rc == IDM_ERR_NO_MEMORY || (rc < 0 && rc > -32 && (documented & CODE(rc)) != 0));
    if (rc == IDM_OK) {
        check(card.outcome == DELIVERED);
        if (piv)
            check(card.last_sw == SW_OK);
        return;
    }
    const char *msg = idm_last_error_message();
    check(msg != NULL && msg[0] != '\0');
    check(strstr(msg, PIN) == NULL && strstr(msg, NEW_PIN) == NULL && strstr(msg, PUK) == NULL);
    if (card.outcome == FAILED && card.fail_code < 0)
        check(strstr(msg, READER_WORDS) != NULL);
}

/* A call refused for its arguments: nothing reaches the card. */
static void refused(int rc)
{
    check(rc == IDM_ERR_INVALID_ARG && card.transmits == 0);
    const char *msg = idm_last_error_message();
    check(msg[0] != '\0' && strstr(msg, PIN) == NULL && strstr(msg, PUK) == NULL);
}

static int contains(const unsigned char *hay, size_t hay_len, const unsigned char *needle,
                    size_t len)
{
    for (size_t i = 0; len <= hay_len && i <= hay_len - len; i++)
        if (memcmp(hay + i, needle, len) == 0)
            return 1;
    return 0;
}

/* An output buffer's state before a call: not NULL, so that the call must
 * reset it. */
static unsigned char sentinel;

/* ---- the commands ------------------------------------------------------ */

static const unsigned slots[] = {0x9A, 0x9C, 0x9D, 0x9E};
static const unsigned tags[] = {0x5FC102, 0x5FC105, 0x7E, 0x7F61};
static const size_t value_lens[] = {0, 20, 300, 1000};
static const unsigned sign_algs[] = {0x07, 0x11, 0x14};
static const size_t sign_lens[] = {256, 32, 48};
static const size_t raw_les[] = {0, 1, 255, 256, 257, 4096, 65535, 65536};
static const size_t raw_lens[] = {0, 1, 15, 16, 255, 256, 600, 65535};
static const size_t max_shorts[] = {0, 1, 16, 100};

static void run_select(void)
{
    begin();
    finish(idm_piv_select(&transport, &stats), CODE(IDM_ERR_CARD), 1);
}

static int no_chip_serial(unsigned sw)
{
    return sw == 0x6A88 || sw == 0x6D00 || sw == 0x6E00 || sw == 0x6A82 || sw == 0x6A81;
}

static void check_serial(const char *hex)
{
    check(strlen(hex) == 16);
    for (size_t i = 0; i < 16; i++)
        check((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'A' && hex[i] <= 'F'));
    const unsigned char *rec = collected;
    if (card.collected_len != 42) {
        check(card.collected_len > 3 && collected[0] == 0x9F && collected[1] == 0x7F);
        size_t off = collected[2] < 0x80 ? 3 : collected[2] == 0x81 ? 4 : 5;
        check(off + 42 <= card.collected_len);
        rec = collected + off;
    }
    const unsigned char want[8] = {rec[0], rec[1], rec[12], rec[13], rec[14], rec[15], rec[16],
                                   rec[17]};
    char want_hex[17];
    for (size_t i = 0; i < 8; i++)
        snprintf(want_hex + 2 * i, 3, "%02X", want[i]);
    check(strcmp(hex, want_hex) == 0);
}

static void run_read_serial(void)
{
    char hex[24];
    memset(hex, 'x', sizeof hex);
    begin();
    int rc = idm_piv_read_serial(&transport, &stats, hex, sizeof hex);
    finish(rc, CODE(IDM_ERR_CARD) | CODE(IDM_ERR_UNSUPPORTED), 1);
    if (card.outcome == DELIVERED)
        check((rc == IDM_ERR_UNSUPPORTED) == no_chip_serial(card.last_sw));
    if (rc == IDM_OK)
        check_serial(hex);
    else
        check(hex[0] == '\0');
}

static void run_authenticate(unsigned alg)
{
    const struct mgmt *m = mgmt_of(alg);
    begin();
    int rc = idm_piv_authenticate(&transport, &stats, alg, MGMT_KEY, m->key_len);
    finish(rc, CODE(IDM_ERR_CARD) | CODE(IDM_ERR_CRYPTO), 1);
    if (rc == IDM_OK)
        check(card.proof == RIGHT_PROOF);
    if (card.proof == RIGHT_PROOF && card.proof_alone)
        check(rc == IDM_OK);
}

static void run_generate(unsigned slot, unsigned alg)
{
    unsigned char *spki = &sentinel;
    size_t len = 1;
    begin();
    int rc = idm_piv_generate_key(&transport, &stats, slot, alg, &spki, &len);
    finish(rc, CODE(IDM_ERR_CARD), 1);
    if (rc != IDM_OK) {
        check(spki == NULL && len == 0);
        return;
    }
    check(spki != NULL && len > 0 && len < 1024);
    const unsigned char *p = spki;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)len);
    check(key != NULL && p == spki + len);
    if (alg == 0x07) {
        check(EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) == 2048);
    } else {
        check(EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 256);
        check(len > 65 && contains(collected, card.collected_len, spki + len - 65, 65));
    }
    EVP_PKEY_free(key);
    free(spki);
    check(ERR_peek_error() == 0);
}

static void run_put_object(unsigned tag, size_t len)
{
    begin();
    finish(idm_piv_put_object(&transport, &stats, tag, len != 0 ? pattern : NULL, len),
           CODE(IDM_ERR_CARD), 1);
}

static void run_get_object(unsigned tag)
{
    unsigned char *value = &sentinel;
    size_t len = 1;
    begin();
    int rc = idm_piv_get_object(&transport, &stats, tag, &value, &len);
    finish(rc, CODE(IDM_ERR_CARD) | CODE(IDM_ERR_NOT_FOUND), 1);
    if (card.outcome == DELIVERED)
        check((rc == IDM_ERR_NOT_FOUND) == (card.last_sw == 0x6A82));
    if (rc != IDM_OK) {
        check(value == NULL && len == 0);
        return;
    }
    check((value == NULL) == (len == 0));
    /* the whole answer is one TLV: its content ends the answer */
    check(len < card.collected_len &&
          (len == 0 || memcmp(value, collected + card.collected_len - len, len) == 0));
    free(value);
}

static void run_verify_pin(void)
{
    begin();
    finish(idm_piv_verify_pin(&transport, &stats, PIN), CODE(IDM_ERR_CARD), 1);
}

static void run_change_reference(int puk)
{
    begin();
    int rc = puk ? idm_piv_change_reference(&transport, &stats, 0x81, PUK, PUK)
                 : idm_piv_change_reference(&transport, &stats, 0x80, PIN, NEW_PIN);
    finish(rc, CODE(IDM_ERR_CARD), 1);
}

static void run_sign(unsigned slot, size_t which)
{
    unsigned char *out = &sentinel;
    size_t len = 1;
    begin();
    int rc = idm_piv_sign(&transport, &stats, slot, sign_algs[which], pattern, sign_lens[which],
                          &out, &len);
    finish(rc, CODE(IDM_ERR_CARD), 1);
    if (rc != IDM_OK) {
        check(out == NULL && len == 0);
        return;
    }
    check(out != NULL && len > 0 && contains(collected, card.collected_len, out, len));
    free(out);
}

static void run_apdu(size_t len, size_t le)
{
    unsigned char *out = &sentinel;
    size_t out_len = 1;
    unsigned sw = 0;
    begin();
    int rc = idm_apdu_send(&transport, 0x00, 0xCB, 0x3F, 0xFF, pattern, len, le, &out, &out_len,
                           &sw, &stats);
    finish(rc, CODE(IDM_ERR_CARD), 0);
    if (rc != IDM_OK) {
        check(out == NULL && out_len == 0);
        return;
    }
    check(sw == card.last_sw && out_len == card.collected_len && out_len <= IDM_APDU_LE_MAX);
    check((out == NULL) == (out_len == 0));
    check(out_len == 0 || memcmp(out, collected, out_len) == 0);
    if (card.prev_link) {
        /* the card refused a piece: what it got so far is the data's start */
        check(sw != SW_OK && card.assembled_len < len);
    } else {
        check(card.final_seen && card.assembled_len == len);
        check(card.final_extended == (transport.extended && (len > card.piece || le > 256)));
        check(card.final_le == (!card.final_extended && le > 256 ? 256 : le));
    }
    check(card.assembled_len == 0 || memcmp(assembled, pattern, card.assembled_len) == 0);
    free(out);
}

/* Arguments no card may see: every function refuses them first. */
static void run_refusals(void)
{
    char hex[16];
    unsigned char *buf = &sentinel;
    size_t len = 1;
    begin();
    refused(idm_piv_read_serial(&transport, &stats, hex, sizeof hex));
    check(hex[0] == '\0');
    refused(idm_piv_authenticate(&transport, &stats, 0x08, MGMT_KEY, 24));
    refused(idm_piv_generate_key(&transport, &stats, 0x9A, 0x14, &buf, &len));
    check(buf == NULL && len == 0);
    buf = &sentinel;
    refused(idm_piv_sign(&transport, &stats, 0x9C, 0x11, pattern, 48, &buf, &len));
    check(buf == NULL && len == 0);
    refused(idm_piv_verify_pin(&transport, &stats, ""));
    refused(idm_piv_change_reference(&transport, &stats, 0x81, PUK, "123456789"));
    refused(idm_piv_put_object(&transport, &stats, 0x5F, pattern, 1));
}

enum op {
    OP_SELECT,
    OP_READ_SERIAL,
    OP_AUTH_3DES,
    OP_AUTH_AES128,
    OP_AUTH_AES192,
    OP_AUTH_AES256,
    OP_GENERATE_RSA,
    OP_GENERATE_P256,
    OP_PUT_OBJECT,
    OP_GET_OBJECT,
    OP_VERIFY_PIN,
    OP_CHANGE_REFERENCE,
    OP_SIGN,
    OP_APDU,
    OP_SESSION,
    OP_COUNT
};

static void run(enum op op, unsigned arg)
{
    unsigned slot = slots[arg & 3];
    switch (op) {
    case OP_SELECT:
        run_select();
        break;
    case OP_READ_SERIAL:
        run_read_serial();
        break;
    case OP_AUTH_3DES:
    case OP_AUTH_AES128:
    case OP_AUTH_AES192:
    case OP_AUTH_AES256:
        run_authenticate(mgmt_algs[op - OP_AUTH_3DES].alg);
        break;
    case OP_GENERATE_RSA:
        run_generate(slot, 0x07);
        break;
    case OP_GENERATE_P256:
        run_generate(slot, 0x11);
        break;
    case OP_PUT_OBJECT:
        run_put_object(tags[arg & 3], value_lens[arg >> 2 & 3]);
        break;
    case OP_GET_OBJECT:
        run_get_object(tags[arg & 3]);
        break;
    case OP_VERIFY_PIN:
        run_verify_pin();
        break;
    case OP_CHANGE_REFERENCE:
        run_change_reference(arg >> 4 & 1);
        break;
    case OP_SIGN:
        run_sign(slot, (arg >> 5) % 3);
        break;
    case OP_APDU:
        run_apdu(raw_lens[arg >> 3 & 7], raw_les[arg & 7]);
        break;
    case OP_SESSION:
        /* as the encoder personalizes a card, going on after failures */
        run_refusals();
        run_select();
        run_read_serial();
        run_authenticate(mgmt_algs[arg >> 6].alg);
        run_generate(slot, arg & 0x20 ? 0x07 : 0x11);
        run_put_object(tags[arg >> 2 & 3], value_lens[arg >> 4 & 1]);
        run_get_object(tags[arg >> 2 & 3]);
        run_verify_pin();
        run_change_reference(arg >> 4 & 1);
        run_sign(slot, (arg >> 5) % 3);
        break;
    case OP_COUNT:
        break;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (unsigned char)(i * 7u + 1u);
    return 0;
}

void fuzz_teardown(void)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned flags = size > 0 ? data[0] : 0, op = size > 1 ? data[1] : 0,
             arg = size > 2 ? data[2] : 0;
    size_t head = size < 3 ? size : 3;
    memset(&card, 0, sizeof card);
    card.p = data + head;
    card.end = data + size;
    card.end_fails = (flags & 8) != 0;
    card.last = (struct answer){.kind = LITERAL, .bytes = NO_DIAGNOSIS, .len = 2};
    transport = (struct idm_apdu_transport){fake_transmit, &card, (int)(flags & 1),
                                            max_shorts[flags >> 1 & 3]};
    card.piece = transport.max_short != 0 ? transport.max_short : 255;
    run((enum op)(op % OP_COUNT), arg);
    return 0;
}
