/*
 * PC/SC through pcsc-lite: see pcsc.h.  The one place in the library that
 * includes <winscard.h>.
 */
#include "backends/encoder/pcsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winscard.h>

#include "core/error_impl.h"

struct idm_pcsc {
    SCARDCONTEXT ctx;
};

struct idm_pcsc_card {
    SCARDHANDLE handle;
    DWORD protocol;   /* SCARD_PROTOCOL_T0 or _T1: picks the PCI of each transmit */
    char reader[128]; /* for messages; a longer name is cut */
};

/* ---- PC/SC errors in words ------------------------------------------ */

/* What a PC/SC code means to an operator.  The reader's name goes between
 * before and after, unless before says it all (after NULL). */
struct pcsc_error {
    LONG rc;
    int code;
    const char *before;
    const char *after;
};

static const struct pcsc_error pcsc_errors[] = {
    {SCARD_E_NO_SERVICE, IDM_ERR_CARD, "pcscd is not running", NULL},
    {SCARD_E_SERVICE_STOPPED, IDM_ERR_CARD, "pcscd is not running", NULL},
    {SCARD_E_NO_READERS_AVAILABLE, IDM_ERR_NOT_FOUND, "no smart card reader", NULL},
    {SCARD_W_REMOVED_CARD, IDM_ERR_CARD, "the card was removed from reader '", "'"},
    {SCARD_E_NO_SMARTCARD, IDM_ERR_CARD, "the card was removed from reader '", "'"},
    {SCARD_E_SHARING_VIOLATION, IDM_ERR_CARD, "reader '", "' is in use by another program"},
    {SCARD_E_UNKNOWN_READER, IDM_ERR_CARD, "reader '", "' disappeared"},
    {SCARD_E_READER_UNAVAILABLE, IDM_ERR_CARD, "reader '", "' disappeared"},
    {SCARD_E_TIMEOUT, IDM_ERR_TIMEOUT, "reader '", "' did not answer in time"},
    {SCARD_W_RESET_CARD, IDM_ERR_CARD, "the card in reader '", "' was reset by another program"},
    {SCARD_W_UNRESPONSIVE_CARD, IDM_ERR_CARD, "the card in reader '", "' does not answer"},
    {SCARD_W_UNPOWERED_CARD, IDM_ERR_CARD, "the card in reader '", "' is not powered"},
    {SCARD_E_PROTO_MISMATCH, IDM_ERR_CARD, "the card in reader '", "' speaks neither T=0 nor T=1"},
};

/* pcsc-lite's words for rc without the final full stop, so that they read
 * well inside parentheses. */
static void pcsc_words(LONG rc, char *buf, size_t size)
{
    snprintf(buf, size, "%s", pcsc_stringify_error(rc));
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '.')
        buf[n - 1] = '\0';
}

/* Fails with the idm code and message for rc, which call (an SCard
 * function name) returned on reader (NULL when none is involved). */
static int pcsc_fail(LONG rc, const char *call, const char *reader)
{
    char words[128];
    pcsc_words(rc, words, sizeof words);
    unsigned long hex = (unsigned long)rc & 0xFFFFFFFFUL;
    const char *name = reader != NULL ? reader : "?";
    for (size_t i = 0; i < sizeof pcsc_errors / sizeof pcsc_errors[0]; i++) {
        const struct pcsc_error *e = &pcsc_errors[i];
        if (e->rc != rc)
            continue;
        if (e->after == NULL)
            return IDM_ERR(e->code, "%s (%s: %s, 0x%08lX)", e->before, call, words, hex);
        return IDM_ERR(e->code, "%s%s%s (%s: %s, 0x%08lX)", e->before, name, e->after, call,
                       words, hex);
    }
    if (reader != NULL)
        return IDM_ERR(IDM_ERR_CARD, "PC/SC failed on reader '%s' (%s: %s, 0x%08lX)", reader,
                       call, words, hex);
    return IDM_ERR(IDM_ERR_CARD, "PC/SC failed (%s: %s, 0x%08lX)", call, words, hex);
}

/* ---- context and readers -------------------------------------------- */

int idm_pcsc_open(struct idm_pcsc **out)
{
    if (out == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "PC/SC context out-pointer is NULL");
    *out = NULL;
    struct idm_pcsc *p = calloc(1, sizeof *p);
    if (p == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a PC/SC context");
    LONG rc = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->ctx);
    if (rc != SCARD_S_SUCCESS) {
        free(p);
        /* Whatever pcsc-lite says here, the daemon is what is missing. */
        char words[128];
        pcsc_words(rc, words, sizeof words);
        return IDM_ERR(IDM_ERR_CARD, "pcscd is not running (SCardEstablishContext: %s, 0x%08lX)",
                       words, (unsigned long)rc & 0xFFFFFFFFUL);
    }
    *out = p;
    return IDM_OK;
}

void idm_pcsc_close(struct idm_pcsc *p)
{
    if (p == NULL)
        return;
    SCardReleaseContext(p->ctx);
    free(p);
}

/* Reads pcscd's reader multi-string ("a\0b\0\0") into a fresh buffer. */
static int read_multistring(struct idm_pcsc *p, char **out, DWORD *out_len)
{
    /* The list can grow between the size query and the read: try again. */
    for (int attempt = 0; attempt < 4; attempt++) {
        DWORD len = 0;
        LONG rc = SCardListReaders(p->ctx, NULL, NULL, &len);
        if (rc != SCARD_S_SUCCESS)
            return pcsc_fail(rc, "SCardListReaders", NULL);
        char *buf = malloc(len + 1);
        if (buf == NULL)
            return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %lu bytes of reader names",
                           (unsigned long)len);
        rc = SCardListReaders(p->ctx, NULL, buf, &len);
        if (rc == SCARD_S_SUCCESS) {
            buf[len] = '\0';
            *out = buf;
            *out_len = len;
            return IDM_OK;
        }
        free(buf);
        if (rc != SCARD_E_INSUFFICIENT_BUFFER)
            return pcsc_fail(rc, "SCardListReaders", NULL);
    }
    return IDM_ERR(IDM_ERR_CARD, "the reader list kept changing while it was read");
}

int idm_pcsc_list_readers(struct idm_pcsc *p, char ***names, size_t *count)
{
    if (p == NULL || names == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "PC/SC context or names out-pointer is NULL");
    *names = NULL;
    if (count != NULL)
        *count = 0;
    char *multi = NULL;
    DWORD len = 0;
    int rc = read_multistring(p, &multi, &len);
    if (rc != IDM_OK)
        return rc;

    size_t n = 0;
    for (const char *s = multi; s < multi + len && *s != '\0'; s += strlen(s) + 1)
        n++;
    if (n == 0) {
        free(multi);
        return IDM_ERR(IDM_ERR_NOT_FOUND, "no smart card reader");
    }
    /* One block: the pointer array, then the strings it points to. */
    size_t ptrs = (n + 1) * sizeof(char *);
    char **block = malloc(ptrs + len);
    if (block == NULL) {
        free(multi);
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate the names of %zu readers", n);
    }
    char *text = (char *)block + ptrs;
    memcpy(text, multi, len);
    free(multi);
    size_t i = 0;
    for (char *s = text; i < n; s += strlen(s) + 1)
        block[i++] = s;
    block[n] = NULL;
    *names = block;
    if (count != NULL)
        *count = n;
    return IDM_OK;
}

void idm_pcsc_free_readers(char **names)
{
    free(names);
}

/* Fails with IDM_ERR_NOT_FOUND for a reader pcscd does not know, naming the
 * ones it does: the operator has most likely mistyped the name. */
static int unknown_reader(struct idm_pcsc *p, const char *reader)
{
    char **names = NULL;
    size_t count = 0;
    if (idm_pcsc_list_readers(p, &names, &count) != IDM_OK)
        return IDM_ERR(IDM_ERR_NOT_FOUND, "no reader '%s'; pcscd knows no reader", reader);
    char known[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < count && used < sizeof known; i++) {
        int w = snprintf(known + used, sizeof known - used, "%s'%s'", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    idm_pcsc_free_readers(names);
    return IDM_ERR(IDM_ERR_NOT_FOUND, "no reader '%s'; pcscd knows %s", reader, known);
}

/* ---- waiting for a card --------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int idm_pcsc_wait_card(struct idm_pcsc *p, const char *reader, int timeout_ms)
{
    if (p == NULL || reader == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "PC/SC context or reader name is NULL");
    if (timeout_ms < 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "timeout of %d ms for reader '%s' is negative",
                       timeout_ms, reader);

    long long deadline = now_ms() + timeout_ms;
    SCARD_READERSTATE rs = {.szReader = reader, .dwCurrentState = SCARD_STATE_UNAWARE};
    /* The first call only reads the current state (UNAWARE always differs). */
    DWORD wait = 0;
    for (int first = 1;; first = 0) {
        LONG rc = SCardGetStatusChange(p->ctx, wait, &rs, 1);
        if (rc == SCARD_E_TIMEOUT)
            return IDM_ERR(IDM_ERR_TIMEOUT, "no card in reader '%s' after %d ms", reader,
                           timeout_ms);
        if (rc == SCARD_E_UNKNOWN_READER && first)
            return unknown_reader(p, reader);
        if (rc != SCARD_S_SUCCESS)
            return pcsc_fail(rc, "SCardGetStatusChange", reader);

        DWORD state = rs.dwEventState;
        /* pcsc-lite reports a name it does not know as UNKNOWN, not as an error. */
        if (state & (SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE)) {
            if (first)
                return unknown_reader(p, reader);
            return pcsc_fail(SCARD_E_READER_UNAVAILABLE, "SCardGetStatusChange", reader);
        }
        if ((state & SCARD_STATE_PRESENT) && (state & SCARD_STATE_MUTE))
            return IDM_ERR(IDM_ERR_CARD, "the card in reader '%s' does not answer its reset "
                                         "(mute); is it inserted the right way round?",
                           reader);
        if (state & SCARD_STATE_PRESENT)
            return IDM_OK;

        long long left = deadline - now_ms();
        if (left <= 0)
            return IDM_ERR(IDM_ERR_TIMEOUT, "no card in reader '%s' after %d ms", reader,
                           timeout_ms);
        wait = (DWORD)left;
        rs.dwCurrentState = state & ~(DWORD)SCARD_STATE_CHANGED;
    }
}

/* ---- a connected card ----------------------------------------------- */

static int pcsc_transmit(void *ctx, const unsigned char *cmd, size_t cmd_len, unsigned char *resp,
                         size_t *resp_len)
{
    struct idm_pcsc_card *c = ctx;
    const SCARD_IO_REQUEST *pci =
        c->protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    DWORD len = (DWORD)*resp_len;
    LONG rc = SCardTransmit(c->handle, pci, cmd, (DWORD)cmd_len, NULL, resp, &len);
    if (rc == SCARD_E_INSUFFICIENT_BUFFER)
        return IDM_ERR(IDM_ERR_CARD, "the card in reader '%s' answered more than %zu bytes",
                       c->reader, *resp_len);
    if (rc != SCARD_S_SUCCESS)
        return pcsc_fail(rc, "SCardTransmit", c->reader);
    *resp_len = len; /* even under 2 bytes: the APDU layer says what that means */
    return IDM_OK;
}

int idm_pcsc_connect(struct idm_pcsc *p, const char *reader, struct idm_pcsc_card **out,
                     struct idm_apdu_transport *transport)
{
    if (p == NULL || reader == NULL || out == NULL || transport == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "PC/SC context, reader name, card out-pointer or transport is NULL");
    *out = NULL;
    struct idm_pcsc_card *c = calloc(1, sizeof *c);
    if (c == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a card for reader '%s'", reader);
    snprintf(c->reader, sizeof c->reader, "%s", reader);
    LONG rc = SCardConnect(p->ctx, reader, SCARD_SHARE_EXCLUSIVE,
                           SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &c->handle, &c->protocol);
    if (rc != SCARD_S_SUCCESS) {
        free(c);
        if (rc == SCARD_E_UNKNOWN_READER)
            return unknown_reader(p, reader);
        return pcsc_fail(rc, "SCardConnect", reader);
    }
    *transport = (struct idm_apdu_transport){
        .transmit = pcsc_transmit,
        .ctx = c,
        .extended = 0,
        .max_short = 255,
    };
    *out = c;
    return IDM_OK;
}

int idm_pcsc_begin(struct idm_pcsc_card *c)
{
    if (c == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "card is NULL");
    LONG rc = SCardBeginTransaction(c->handle);
    return rc == SCARD_S_SUCCESS ? IDM_OK : pcsc_fail(rc, "SCardBeginTransaction", c->reader);
}

int idm_pcsc_end(struct idm_pcsc_card *c)
{
    if (c == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "card is NULL");
    LONG rc = SCardEndTransaction(c->handle, SCARD_LEAVE_CARD);
    return rc == SCARD_S_SUCCESS ? IDM_OK : pcsc_fail(rc, "SCardEndTransaction", c->reader);
}

int idm_pcsc_atr(struct idm_pcsc_card *c, char *hex, size_t size)
{
    if (c == NULL || hex == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "card or ATR buffer is NULL");
    if (size > 0)
        hex[0] = '\0';
    unsigned char atr[MAX_ATR_SIZE];
    DWORD atr_len = sizeof atr, state = 0, protocol = 0, name_len = 0;
    LONG rc = SCardStatus(c->handle, NULL, &name_len, &state, &protocol, atr, &atr_len);
    if (rc != SCARD_S_SUCCESS)
        return pcsc_fail(rc, "SCardStatus", c->reader);
    if (size < 2 * (size_t)atr_len + 1)
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "the ATR of the card in reader '%s' is %lu bytes; its hex needs %lu "
                       "chars, not %zu",
                       c->reader, (unsigned long)atr_len, 2 * (unsigned long)atr_len + 1, size);
    static const char digits[] = "0123456789ABCDEF";
    for (DWORD i = 0; i < atr_len; i++) {
        hex[2 * i] = digits[atr[i] >> 4];
        hex[2 * i + 1] = digits[atr[i] & 0x0F];
    }
    hex[2 * atr_len] = '\0';
    return IDM_OK;
}

void idm_pcsc_disconnect(struct idm_pcsc_card *c)
{
    if (c == NULL)
        return;
    SCardDisconnect(c->handle, SCARD_LEAVE_CARD);
    free(c);
}

void idm_pcsc_disconnect_reset(struct idm_pcsc_card *c)
{
    if (c == NULL)
        return;
    SCardDisconnect(c->handle, SCARD_RESET_CARD);
    free(c);
}
