/*
 * The built-in encoder: PIV cards (piv.c) in PC/SC readers (pcsc.c),
 * registered through the same ops table as a host encoder.  A session is
 * one exclusive connection with one PC/SC transaction around it, so no
 * other program can slip an APDU between our VERIFY and our signature.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "backends/encoder/encoder_impl.h"
#include "backends/encoder/pcsc.h"
#include "backends/encoder/piv.h"
#include "backends/encoder/tlv.h"
#include "core/buffer_impl.h"
#include "core/error_impl.h"

/* How often the reader list is looked at again while no reader is chosen. */
#define SCAN_PAUSE_MS 100
#define SERIAL_MAX 65

struct idm_pcsc_encoder {
    /* Which reader: a name, an index, a card serial, or the first with a card. */
    char *reader_name;
    int reader_index; /* -1: none */
    char *card_serial;
    unsigned mgmt_alg;
    unsigned char mgmt_key[32];
    size_t mgmt_len;
    char factory_pin[9];
    char factory_puk[9];
    struct idm_apdu_stats *stats; /* the handle's */
    /* The open session. */
    struct idm_pcsc *pcsc;
    struct idm_pcsc_card *card;
    struct idm_apdu_transport t;
    int in_transaction;
    char serial[SERIAL_MAX];
};

static const unsigned char DEFAULT_MGMT_KEY[24] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4,
                                                   5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};

int idm_pcsc_encoder_new(struct idm_pcsc_encoder **out, struct idm_apdu_stats *stats)
{
    struct idm_pcsc_encoder *e = calloc(1, sizeof *e);
    if (e == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a PC/SC encoder");
    e->reader_index = -1;
    e->mgmt_alg = IDM_MGMT_KEY_3DES;
    memcpy(e->mgmt_key, DEFAULT_MGMT_KEY, sizeof DEFAULT_MGMT_KEY);
    e->mgmt_len = sizeof DEFAULT_MGMT_KEY;
    snprintf(e->factory_pin, sizeof e->factory_pin, "%s", "123456");
    snprintf(e->factory_puk, sizeof e->factory_puk, "%s", "12345678");
    e->stats = stats;
    *out = e;
    return IDM_OK;
}

/* reset: after a personalization that went through, the card is reset so
 * that no PIN or management key authentication outlives the session.  After
 * a failure it is left as it is: it may be gone, and a reset sent into a
 * vanished card leaves vpcd's reader empty for good. */
static void end_session(struct idm_pcsc_encoder *e, int reset)
{
    if (e->in_transaction)
        (void)idm_pcsc_end(e->card);
    e->in_transaction = 0;
    if (reset)
        idm_pcsc_disconnect_reset(e->card);
    else
        idm_pcsc_disconnect(e->card);
    e->card = NULL;
    idm_pcsc_close(e->pcsc);
    e->pcsc = NULL;
    memset(&e->t, 0, sizeof e->t);
    e->serial[0] = '\0';
}

void idm_pcsc_encoder_free(void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    if (e == NULL)
        return;
    end_session(e, 0);
    free(e->reader_name);
    free(e->card_serial);
    OPENSSL_cleanse(e, sizeof *e);
    free(e);
}

int idm_pcsc_encoder_set_reader(struct idm_pcsc_encoder *e, const char *name, int index,
                                const char *serial)
{
    char *name_copy = name != NULL ? strdup(name) : NULL;
    char *serial_copy = serial != NULL ? strdup(serial) : NULL;
    if ((name != NULL && name_copy == NULL) || (serial != NULL && serial_copy == NULL)) {
        free(name_copy);
        free(serial_copy);
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy the reader setting");
    }
    /* One way of choosing at a time: the last one set wins. */
    free(e->reader_name);
    free(e->card_serial);
    e->reader_name = name_copy;
    e->card_serial = serial_copy;
    e->reader_index = index;
    return IDM_OK;
}

int idm_pcsc_encoder_set_management_key(struct idm_pcsc_encoder *e, unsigned alg,
                                        const unsigned char *key, size_t len)
{
    OPENSSL_cleanse(e->mgmt_key, sizeof e->mgmt_key);
    memcpy(e->mgmt_key, key, len);
    e->mgmt_len = len;
    e->mgmt_alg = alg;
    return IDM_OK;
}

int idm_pcsc_encoder_set_factory_secrets(struct idm_pcsc_encoder *e, const char *pin,
                                         const char *puk)
{
    OPENSSL_cleanse(e->factory_pin, sizeof e->factory_pin);
    OPENSSL_cleanse(e->factory_puk, sizeof e->factory_puk);
    snprintf(e->factory_pin, sizeof e->factory_pin, "%s", pin);
    snprintf(e->factory_puk, sizeof e->factory_puk, "%s", puk);
    return IDM_OK;
}

/* ---- choosing the reader ------------------------------------------------ */

static long long clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Connects to reader and reads the chip serial; leaves the session open. */
static int connect_reader(struct idm_pcsc_encoder *e, const char *reader)
{
    int rc = idm_pcsc_connect(e->pcsc, reader, &e->card, &e->t);
    if (rc == IDM_OK)
        rc = idm_piv_read_serial(&e->t, e->stats, e->serial, sizeof e->serial);
    if (rc != IDM_OK) {
        idm_pcsc_disconnect(e->card);
        e->card = NULL;
    }
    return rc;
}

/* The reader named by index, looked up now. */
static int reader_at_index(struct idm_pcsc_encoder *e, char *name, size_t size)
{
    char **names = NULL;
    size_t n = 0;
    int rc = idm_pcsc_list_readers(e->pcsc, &names, &n);
    if (rc == IDM_OK && (size_t)e->reader_index >= n)
        rc = IDM_ERR(IDM_ERR_NOT_FOUND, "there is no reader number %d: pcscd knows %zu "
                     "reader%s, numbered from 0", e->reader_index, n, n == 1 ? "" : "s");
    if (rc == IDM_OK)
        snprintf(name, size, "%s", names[e->reader_index]);
    idm_pcsc_free_readers(names);
    return rc;
}

/* Adds to the notes kept for the timeout message, while room lasts. */
static void note(char *notes, size_t size, const char *fmt, ...) IDM_PRINTF(3, 4);
static void note(char *notes, size_t size, const char *fmt, ...)
{
    size_t used = strlen(notes);
    if (used + 3 >= size)
        return;
    if (used > 0)
        used += (size_t)snprintf(notes + used, size - used, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(notes + used, size - used, fmt, ap);
    va_end(ap);
}

/* Looks at every reader once: the first with a card (and the right serial,
 * when one is asked for) is connected.  IDM_ERR_NOT_FOUND when none fits;
 * notes then says what was found instead. */
static int scan_readers(struct idm_pcsc_encoder *e, char *notes, size_t notes_size)
{
    char **names = NULL;
    size_t n = 0;
    int rc = idm_pcsc_list_readers(e->pcsc, &names, &n);
    if (rc != IDM_OK)
        return rc;
    notes[0] = '\0';
    rc = IDM_ERR_NOT_FOUND;
    for (size_t i = 0; i < n && rc != IDM_OK; i++) {
        if (idm_pcsc_wait_card(e->pcsc, names[i], 0) != IDM_OK)
            continue;
        if (connect_reader(e, names[i]) != IDM_OK) {
            /* In use, mute, no serial: not a card we can take; say why. */
            note(notes, notes_size, "'%s': %s", names[i], idm_last_error_message());
            continue;
        }
        if (e->card_serial == NULL || strcmp(e->serial, e->card_serial) == 0) {
            rc = IDM_OK;
        } else {
            note(notes, notes_size, "'%s' holds chip %s", names[i], e->serial);
            idm_pcsc_disconnect(e->card);
            e->card = NULL;
        }
    }
    idm_pcsc_free_readers(names);
    return rc;
}

static int wait_any_reader(struct idm_pcsc_encoder *e, int timeout_ms)
{
    long long deadline = clock_ms() + timeout_ms;
    char notes[512];
    for (;;) {
        int rc = scan_readers(e, notes, sizeof notes);
        if (rc != IDM_ERR_NOT_FOUND)
            return rc; /* connected, or pcscd failed (no reader at all included) */
        long long left = deadline - clock_ms();
        if (left <= 0) {
            char wanted[96] = "no usable card";
            if (e->card_serial != NULL)
                snprintf(wanted, sizeof wanted, "no card with chip serial '%s'", e->card_serial);
            return IDM_ERR(IDM_ERR_TIMEOUT, "%s in any reader after %d ms%s%s%s", wanted,
                           timeout_ms, notes[0] ? " (" : "", notes, notes[0] ? ")" : "");
        }
        pause_ms(left < SCAN_PAUSE_MS ? (int)left : SCAN_PAUSE_MS);
    }
}

static int open_session(int timeout_ms, void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    end_session(e, 0); /* a session left open by a failed close */
    int rc = idm_pcsc_open(&e->pcsc);
    if (rc == IDM_OK) {
        if (e->reader_name != NULL || e->reader_index >= 0) {
            char name[256];
            if (e->reader_name != NULL)
                snprintf(name, sizeof name, "%s", e->reader_name);
            else
                rc = reader_at_index(e, name, sizeof name);
            if (rc == IDM_OK)
                rc = idm_pcsc_wait_card(e->pcsc, name, timeout_ms);
            if (rc == IDM_OK)
                rc = connect_reader(e, name);
        } else {
            rc = wait_any_reader(e, timeout_ms);
        }
    }
    if (rc == IDM_OK) {
        rc = idm_pcsc_begin(e->card);
        e->in_transaction = rc == IDM_OK;
    }
    if (rc == IDM_OK)
        rc = idm_piv_select(&e->t, e->stats);
    if (rc == IDM_OK)
        rc = idm_piv_authenticate(&e->t, e->stats, e->mgmt_alg, e->mgmt_key, e->mgmt_len);
    if (rc != IDM_OK) {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", idm_last_error_message());
        end_session(e, 0);
        return idm_error_set(NULL, rc, "%s", saved);
    }
    return IDM_OK;
}

static int card_serial(char *serial, size_t size, void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    if (e->card == NULL)
        return IDM_ERR(IDM_ERR_STATE, "no card is open");
    if (strlen(e->serial) + 1 > size)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the serial needs %zu bytes", strlen(e->serial) + 1);
    snprintf(serial, size, "%s", e->serial);
    return IDM_OK;
}

static int generate_key(idm_piv_slot slot, idm_card_key_alg alg, idm_buffer_t *spki,
                        void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    unsigned char *der = NULL;
    size_t len = 0;
    int rc = idm_piv_generate_key(&e->t, e->stats, (unsigned)slot, (unsigned)alg, &der, &len);
    if (rc == IDM_OK)
        rc = idm_buffer_put(spki, der, len);
    free(der);
    return rc;
}


/* SP 800-73-4 part 1, appendix A: 70 certificate, 71 CertInfo (00: not
 * compressed), FE error detection code (empty). */
static int write_certificate(idm_piv_slot slot, const unsigned char *der, size_t len,
                             void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    unsigned tag = idm_piv_slot_cert_object((unsigned)slot);
    if (tag == 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "0x%02X is not a PIV key slot", (unsigned)slot);
    unsigned char *obj = NULL;
    size_t obj_len = 0;
    static const unsigned char not_compressed = 0x00;
    int rc = idm_tlv_append(&obj, &obj_len, 0x70, der, len);
    if (rc == IDM_OK)
        rc = idm_tlv_append(&obj, &obj_len, 0x71, &not_compressed, 1);
    if (rc == IDM_OK)
        rc = idm_tlv_append(&obj, &obj_len, 0xFE, NULL, 0);
    if (rc == IDM_OK)
        rc = idm_piv_put_object(&e->t, e->stats, tag, obj, obj_len);
    free(obj);
    return rc;
}

static int write_object(idm_piv_object object, const unsigned char *value, size_t len,
                        void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    return idm_piv_put_object(&e->t, e->stats, (unsigned)object, value, len);
}

static int read_object(idm_piv_object object, idm_buffer_t *value, void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = idm_piv_get_object(&e->t, e->stats, (unsigned)object, &data, &len);
    if (rc == IDM_OK)
        rc = idm_buffer_put(value, data, len);
    free(data);
    return rc;
}

static int set_pin(const char *pin, const char *puk, void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    int rc = idm_piv_change_reference(&e->t, e->stats, 0x80, e->factory_pin, pin);
    if (rc == IDM_OK)
        rc = idm_piv_change_reference(&e->t, e->stats, 0x81, e->factory_puk, puk);
    return rc;
}

static int verify_pin(const char *pin, void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    return idm_piv_verify_pin(&e->t, e->stats, pin);
}

static int sign(idm_piv_slot slot, idm_card_key_alg alg, const unsigned char *input, size_t len,
                idm_buffer_t *signature, void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    unsigned char *out = NULL;
    size_t out_len = 0;
    int rc = idm_piv_sign(&e->t, e->stats, (unsigned)slot, (unsigned)alg, input, len, &out,
                          &out_len);
    if (rc == IDM_OK)
        rc = idm_buffer_put(signature, out, out_len);
    free(out);
    return rc;
}

static int close_session(int success, void *user_data)
{
    struct idm_pcsc_encoder *e = user_data;
    int rc = IDM_OK;
    if (e->in_transaction) {
        rc = idm_pcsc_end(e->card);
        e->in_transaction = 0;
    }
    end_session(e, success && rc == IDM_OK);
    return rc;
}

const idm_encoder_ops idm_pcsc_encoder_ops = {
    .version = IDM_ENCODER_OPS_VERSION,
    .size = sizeof(idm_encoder_ops),
    .open = open_session,
    .card_serial = card_serial,
    .generate_key = generate_key,
    .write_certificate = write_certificate,
    .write_object = write_object,
    .read_object = read_object,
    .set_pin = set_pin,
    .verify_pin = verify_pin,
    .sign = sign,
    .close = close_session,
};
