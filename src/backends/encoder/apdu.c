/*
 * Command APDUs over a transport function: encoding of the four ISO 7816-4
 * cases in short and extended form, command chaining, and the two status
 * words that ask the host to act (61xx: fetch the rest; 6Cxx: ask again
 * with the right Le).  Every other status word goes back to the caller,
 * which knows what the command meant.
 */
#include "backends/encoder/apdu.h"

#include <stdio.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"

#define SW_OK 0x9000u
#define CLA_CHAINING 0x10u
#define INS_GET_RESPONSE 0xC0u
#define SHORT_DATA_MAX 255u
#define SHORT_LE_MAX 256u

/* Room for the largest answer: 65536 data bytes and SW1 SW2, so that no
 * card answer (even one longer than asked) is cut off by a short buffer. */
#define RESP_ROOM (IDM_APDU_LE_MAX + 2)

/* A card that keeps saying 61xx or 6Cxx must not keep the host busy forever:
 * no PIV object is larger than 64 KiB. */
#define ANSWER_DATA_MAX ((size_t)65536)
#define FOLLOW_UP_ROUNDS_MAX 256

/* One command as built on the wire; kept so 6Cxx can resend it. */
struct command {
    unsigned char cla, ins, p1, p2;
    const unsigned char *data;
    size_t len;
    size_t le;    /* 0 = no Le field */
    int extended; /* extended Lc/Le fields */
};

/* The state of one idm_apdu_send() call. */
struct exchange {
    const struct idm_apdu_transport *t;
    struct idm_apdu_stats *stats;
    unsigned char *cmd; /* room for the largest command of this call */
    unsigned char *resp;
    size_t resp_len;
    unsigned sw;
    unsigned char *data; /* the answer collected so far */
    size_t data_len, data_cap;
};

/* Writes the command in ISO 7816-4 form (5.1): case 1 has no body; Lc comes
 * before the data; an extended body starts with one 00 byte, then two-byte
 * Lc and/or Le; Le 00 (0000) means 256 (65536). */
static size_t encode_command(const struct command *c, unsigned char *buf)
{
    size_t n = 0;
    buf[n++] = c->cla;
    buf[n++] = c->ins;
    buf[n++] = c->p1;
    buf[n++] = c->p2;
    if (c->extended && (c->len != 0 || c->le != 0))
        buf[n++] = 0x00;
    if (c->len != 0) {
        if (c->extended)
            buf[n++] = (unsigned char)(c->len >> 8);
        buf[n++] = (unsigned char)c->len;
        memcpy(buf + n, c->data, c->len);
        n += c->len;
    }
    if (c->le != 0) {
        if (c->extended)
            buf[n++] = (unsigned char)(c->le >> 8); /* 65536 wraps to 00 00 */
        buf[n++] = (unsigned char)c->le;            /* 256 wraps to 00 */
    }
    return n;
}

/* Sends one command and checks the answer carries at least SW1 SW2. */
static int transmit(struct exchange *x, const struct command *c)
{
    size_t cmd_len = encode_command(c, x->cmd);
    x->resp_len = RESP_ROOM;
    int rc = x->t->transmit(x->t->ctx, x->cmd, cmd_len, x->resp, &x->resp_len);
    if (rc != IDM_OK)
        return rc < 0 ? rc
                      : IDM_ERR(IDM_ERR_CARD, "the transport returned %d to INS %02X", rc,
                                c->ins);
    if (x->resp_len > RESP_ROOM)
        return IDM_ERR(IDM_ERR_CARD, "the transport reported %zu bytes in %zu bytes of room",
                       x->resp_len, (size_t)RESP_ROOM);
    if (x->stats != NULL) {
        x->stats->apdus++;
        x->stats->bytes_out += cmd_len;
        x->stats->bytes_in += x->resp_len;
    }
    if (x->resp_len < 2)
        return IDM_ERR(IDM_ERR_CARD, "the card answered with %zu byte%s to INS %02X; "
                                     "was it removed?",
                       x->resp_len, x->resp_len == 1 ? "" : "s", c->ins);
    x->sw = (unsigned)x->resp[x->resp_len - 2] << 8 | x->resp[x->resp_len - 1];
    return IDM_OK;
}

/* Appends the data part of the last answer to the collected answer. */
static int keep_answer_data(struct exchange *x, unsigned char ins)
{
    size_t n = x->resp_len - 2;
    if (n == 0)
        return IDM_OK;
    if (n > ANSWER_DATA_MAX - x->data_len)
        return IDM_ERR(IDM_ERR_CARD, "the card's answer to INS %02X exceeds 64 KiB "
                                     "(%zu bytes and %zu more)",
                       ins, x->data_len, n);
    if (x->data_len + n > x->data_cap) {
        size_t cap = x->data_cap != 0 ? x->data_cap : 256;
        while (cap < x->data_len + n)
            cap *= 2;
        /* Not realloc: the old block may hold a secret and must be wiped. */
        unsigned char *grown = malloc(cap);
        if (grown == NULL)
            return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot grow an APDU answer to %zu bytes", cap);
        if (x->data_len > 0)
            memcpy(grown, x->data, x->data_len);
        if (x->data != NULL)
            OPENSSL_cleanse(x->data, x->data_cap);
        free(x->data);
        x->data = grown;
        x->data_cap = cap;
    }
    memcpy(x->data + x->data_len, x->resp, n);
    x->data_len += n;
    return IDM_OK;
}

/* Sends all but the last max_short piece with the chaining bit set (ISO
 * 7816-4 5.3.3) and moves c to the last piece.  *done is set when the card
 * refused a piece: its status word is then the answer. */
static int send_chain(struct exchange *x, struct command *c, size_t piece, int *done)
{
    struct command link = *c;
    link.cla = (unsigned char)(c->cla | CLA_CHAINING);
    link.le = 0;
    link.len = piece;
    while (c->len > piece) {
        link.data = c->data;
        int rc = transmit(x, &link);
        if (rc != IDM_OK)
            return rc;
        if (x->sw != SW_OK) {
            *done = 1;
            return keep_answer_data(x, c->ins);
        }
        c->data += piece;
        c->len -= piece;
    }
    return IDM_OK;
}

/* Follows 61xx with GET RESPONSE and 6Cxx with the same command and the Le
 * the card named, until another status word ends the answer.  The data of
 * each 61xx answer is kept before the limits are checked, so a card sending
 * too much is told apart from one that never stops asking. */
static int follow_up(struct exchange *x, struct command *c)
{
    for (int rounds = 0;; rounds++) {
        unsigned sw1 = x->sw >> 8;
        if (sw1 != 0x6C) {
            int rc = keep_answer_data(x, c->ins);
            if (rc != IDM_OK)
                return rc;
        }
        if (sw1 != 0x61 && sw1 != 0x6C)
            return IDM_OK;
        if (rounds == FOLLOW_UP_ROUNDS_MAX)
            return IDM_ERR(IDM_ERR_CARD, "the card still answered %04X to INS %02X after %d "
                                         "rounds of GET RESPONSE or resending",
                           x->sw, c->ins, FOLLOW_UP_ROUNDS_MAX);
        unsigned count = (x->sw & 0xFFu) != 0 ? (x->sw & 0xFFu) : SHORT_LE_MAX;
        if (sw1 == 0x61)
            *c = (struct command){.cla = 0x00, .ins = INS_GET_RESPONSE, .le = count};
        else
            c->le = count;
        int rc = transmit(x, c);
        if (rc != IDM_OK)
            return rc;
    }
}

static int check_send_args(const struct idm_apdu_transport *t, const unsigned char *data,
                           size_t len, size_t le, unsigned char **out, size_t *out_len,
                           unsigned *sw)
{
    if (t == NULL || t->transmit == NULL || out == NULL || out_len == NULL || sw == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "APDU transport, its transmit function, out, "
                                            "out_len or sw is NULL");
    if (data == NULL && len != 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "APDU data is NULL but its length is %zu", len);
    if (len > IDM_APDU_DATA_MAX)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "APDU data is %zu bytes; at most %zu fit", len,
                       IDM_APDU_DATA_MAX);
    if (le > IDM_APDU_LE_MAX)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "APDU Le is %zu; at most %zu", le,
                       IDM_APDU_LE_MAX);
    if (t->max_short > SHORT_DATA_MAX)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "transport max_short is %zu; at most %u",
                       t->max_short, SHORT_DATA_MAX);
    return IDM_OK;
}

static int run_exchange(struct exchange *x, struct command *c)
{
    size_t piece = x->t->max_short != 0 ? x->t->max_short : SHORT_DATA_MAX;
    c->extended = x->t->extended && (c->len > piece || c->le > SHORT_LE_MAX);
    if (!c->extended && c->le > SHORT_LE_MAX)
        c->le = SHORT_LE_MAX; /* the rest comes through 61xx */
    int done = 0;
    int rc = c->extended ? IDM_OK : send_chain(x, c, piece, &done);
    if (rc != IDM_OK || done)
        return rc;
    rc = transmit(x, c);
    return rc != IDM_OK ? rc : follow_up(x, c);
}

int idm_apdu_send(const struct idm_apdu_transport *t, unsigned char cla, unsigned char ins,
                  unsigned char p1, unsigned char p2, const unsigned char *data, size_t len,
                  size_t le, unsigned char **out, size_t *out_len, unsigned *sw,
                  struct idm_apdu_stats *stats)
{
    int rc = check_send_args(t, data, len, le, out, out_len, sw);
    if (rc != IDM_OK)
        return rc;
    *out = NULL;
    *out_len = 0;
    *sw = 0;

    struct command c = {cla, ins, p1, p2, data, len, le, 0};
    struct exchange x = {.t = t, .stats = stats};
    /* Header, 00, two-byte Lc, data, two-byte Le. */
    const size_t cmd_room = 4 + 3 + len + 2;
    x.cmd = malloc(cmd_room);
    x.resp = malloc(RESP_ROOM);
    if (x.cmd == NULL || x.resp == NULL)
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate APDU buffers for INS %02X", ins);
    else
        rc = run_exchange(&x, &c);
    /* They carried PIN blocks, keys and challenges: wipe before freeing. */
    if (x.cmd != NULL)
        OPENSSL_cleanse(x.cmd, cmd_room);
    if (x.resp != NULL)
        OPENSSL_cleanse(x.resp, RESP_ROOM);
    free(x.cmd);
    free(x.resp);
    if (rc != IDM_OK) {
        if (x.data != NULL)
            OPENSSL_cleanse(x.data, x.data_cap);
        free(x.data);
        return rc;
    }
    *out = x.data;
    *out_len = x.data_len;
    *sw = x.sw;
    return IDM_OK;
}

/* A status word matches when sw & mask == value; the bits outside the mask
 * are a count, printed between text and the noun. */
struct sw_entry {
    unsigned value;
    unsigned mask;
    const char *text;
    unsigned count_if_zero; /* 61 00 and 6C 00 mean 256 bytes */
    const char *one, *many;
};

static const struct sw_entry sw_table[] = {
    {0x9000, 0xFFFF, "success", 0, NULL, NULL},
    {0x6100, 0xFF00, "more data available:", 256, "byte", "bytes"},
    {0x6281, 0xFFFF, "part of the returned data may be corrupted", 0, NULL, NULL},
    {0x6282, 0xFFFF, "end of file reached before reading Le bytes", 0, NULL, NULL},
    {0x6283, 0xFFFF, "selected file invalidated", 0, NULL, NULL},
    {0x6300, 0xFFFF, "verification failed", 0, NULL, NULL},
    {0x63C0, 0xFFF0, "wrong PIN,", 0, "try left", "tries left"},
    {0x6400, 0xFFFF, "execution error", 0, NULL, NULL},
    {0x6581, 0xFFFF, "memory failure", 0, NULL, NULL},
    {0x6700, 0xFFFF, "wrong length", 0, NULL, NULL},
    {0x6882, 0xFFFF, "secure messaging not supported", 0, NULL, NULL},
    {0x6883, 0xFFFF, "last command of the chain expected", 0, NULL, NULL},
    {0x6884, 0xFFFF, "command chaining not supported", 0, NULL, NULL},
    {0x6982, 0xFFFF, "security status not satisfied", 0, NULL, NULL},
    {0x6983, 0xFFFF, "authentication method blocked", 0, NULL, NULL},
    {0x6984, 0xFFFF, "reference data not usable", 0, NULL, NULL},
    {0x6985, 0xFFFF, "conditions of use not satisfied", 0, NULL, NULL},
    {0x6986, 0xFFFF, "command not allowed", 0, NULL, NULL},
    {0x6987, 0xFFFF, "expected secure messaging data objects missing", 0, NULL, NULL},
    {0x6988, 0xFFFF, "incorrect secure messaging data objects", 0, NULL, NULL},
    {0x6A80, 0xFFFF, "incorrect data", 0, NULL, NULL},
    {0x6A81, 0xFFFF, "function not supported", 0, NULL, NULL},
    {0x6A82, 0xFFFF, "file or application not found", 0, NULL, NULL},
    {0x6A83, 0xFFFF, "record not found", 0, NULL, NULL},
    {0x6A84, 0xFFFF, "not enough memory in the card", 0, NULL, NULL},
    {0x6A86, 0xFFFF, "incorrect P1/P2", 0, NULL, NULL},
    {0x6A87, 0xFFFF, "Lc inconsistent with P1/P2", 0, NULL, NULL},
    {0x6A88, 0xFFFF, "referenced data not found", 0, NULL, NULL},
    {0x6B00, 0xFFFF, "wrong parameters P1/P2", 0, NULL, NULL},
    {0x6C00, 0xFF00, "wrong Le; the card has", 256, "byte", "bytes"},
    {0x6D00, 0xFFFF, "instruction not supported", 0, NULL, NULL},
    {0x6E00, 0xFFFF, "class not supported", 0, NULL, NULL},
    {0x6F00, 0xFFFF, "no precise diagnosis", 0, NULL, NULL},
};

const char *idm_sw_message(unsigned sw)
{
    static _Thread_local char text[96];
    sw &= 0xFFFFu;
    for (size_t i = 0; i < sizeof sw_table / sizeof sw_table[0]; i++) {
        const struct sw_entry *e = &sw_table[i];
        if ((sw & e->mask) != e->value)
            continue;
        if (e->mask == 0xFFFF) {
            snprintf(text, sizeof text, "%04X %s", sw, e->text);
        } else {
            unsigned count = sw & ~e->mask;
            if (count == 0)
                count = e->count_if_zero;
            snprintf(text, sizeof text, "%04X %s %u %s", sw, e->text, count,
                     count == 1 ? e->one : e->many);
        }
        return text;
    }
    snprintf(text, sizeof text, "%04X unknown status", sw);
    return text;
}
