/*
 * The PIV card edge (SP 800-73-4 part 2) over the APDU layer: see piv.h.
 * Each command checks its arguments before the card sees anything, sends
 * one APDU (two for mutual authentication), and turns a status word other
 * than 9000 into a message that names the command and says what the word
 * means for it.  PIN blocks and management-key material on the stack are
 * wiped with OPENSSL_cleanse on every path.
 */
#include "backends/encoder/piv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "backends/encoder/tlv.h"
#include "core/error_impl.h"

#define SW_OK 0x9000u
#define SW_SECURITY 0x6982u
#define SW_BLOCKED 0x6983u
#define SW_WRONG_DATA 0x6A80u
#define SW_FUNC_NOT_SUPPORTED 0x6A81u
#define SW_NOT_FOUND 0x6A82u
#define SW_NO_MEMORY 0x6A84u
#define SW_WRONG_P1P2 0x6A86u
#define SW_REF_NOT_FOUND 0x6A88u
#define SW_INS_NOT_SUPPORTED 0x6D00u
#define SW_CLA_NOT_SUPPORTED 0x6E00u

#define INS_VERIFY 0x20u
#define INS_CHANGE_REFERENCE 0x24u
#define INS_GENERATE 0x47u
#define INS_GENERAL_AUTHENTICATE 0x87u
#define INS_SELECT 0xA4u
#define INS_GET_DATA_GP 0xCAu
#define INS_GET_DATA 0xCBu
#define INS_PUT_DATA 0xDBu

#define REF_PIN 0x80u
#define REF_PUK 0x81u
#define REF_MGMT 0x9Bu

#define ALG_3DES 0x03u
#define ALG_RSA2048 0x07u
#define ALG_AES128 0x08u
#define ALG_AES192 0x0Au
#define ALG_AES256 0x0Cu
#define ALG_P256 0x11u
#define ALG_P384 0x14u

/* PIN and PUK blocks: up to 8 bytes, padded with FF (part 2, 2.4.3). */
#define PIN_BLOCK 8u

/* Short-APDU answers: 256 bytes, the rest through 61xx. */
#define LE_SHORT ((size_t)256)

static const unsigned char PIV_AID[] = {0xA0, 0x00, 0x00, 0x03, 0x08, 0x00,
                                        0x00, 0x10, 0x00, 0x01, 0x00};

/* GlobalPlatform CPLC: 42 bytes; the chip serial is made of these fields. */
#define CPLC_LEN 42u
#define CPLC_TAG 0x9F7Fu
#define CPLC_FABRICATOR 0u   /* IC fabricator, 2 bytes */
#define CPLC_IC_SERIAL 12u   /* IC serial number, 4 bytes */
#define CPLC_IC_BATCH 16u    /* IC batch identifier, 2 bytes */
#define SERIAL_HEX_SIZE 17u  /* 8 bytes in hex + NUL */

/* DER of SubjectPublicKeyInfo for P-256 up to the 65-byte point:
 * SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 00 ... }. */
static const unsigned char P256_SPKI_PREFIX[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01,
    0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
#define P256_POINT_LEN 65u
#define RSA2048_BITS 2048u
#define RSA_EXPONENT_MAX 4u /* bytes; 65537 takes 3 */

/* ---- helpers ---------------------------------------------------------- */

/* An APDU the card answered; the caller frees data. */
struct reply {
    unsigned char *data;
    size_t len;
    unsigned sw;
};

/* Sends one command.  A transport failure keeps its code, with the command
 * named in front of its message. */
static int exchange(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                    const char *command, unsigned char cla, unsigned char ins, unsigned char p1,
                    unsigned char p2, const unsigned char *data, size_t len, size_t le,
                    struct reply *r)
{
    r->data = NULL;
    r->len = 0;
    r->sw = 0;
    int rc = idm_apdu_send(t, cla, ins, p1, p2, data, len, le, &r->data, &r->len, &r->sw, stats);
    if (rc != IDM_OK)
        return idm_error_wrap(NULL, rc, "%s", command);
    return IDM_OK;
}

/* Frees the reply's data after wiping it (it may hold a witness or a
 * signature input the card echoed). */
static void reply_free(struct reply *r)
{
    if (r->data != NULL)
        OPENSSL_cleanse(r->data, r->len);
    free(r->data);
    r->data = NULL;
    r->len = 0;
}

/* The rule for every status word without a meaning of its own. */
static int sw_fail(const char *command, unsigned sw)
{
    return IDM_ERR(IDM_ERR_CARD, "%s: %s", command, idm_sw_message(sw));
}


/* A copy of the current detail message, to quote inside a new one (the
 * message buffer cannot be both source and destination of a format). */
static void copy_message(char *buf, size_t size)
{
    snprintf(buf, size, "%s", idm_last_error_message());
}

/* Writes a 1-3 byte BER tag as bytes; 0 when tag is not well-formed: a
 * first byte with low bits 1F announces more bytes, each but the last with
 * bit 8 set; a one-byte tag must not have low bits 1F. */
static size_t tag_bytes(unsigned tag, unsigned char out[3])
{
    if (tag == 0 || tag > 0xFFFFFFu)
        return 0;
    size_t n = tag > 0xFFFFu ? 3 : tag > 0xFFu ? 2 : 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)(tag >> 8 * (n - 1 - i));
    if (((out[0] & 0x1Fu) == 0x1Fu) != (n > 1))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (((out[i] & 0x80u) != 0) != (i < n - 1))
            return 0;
    return n;
}

/* The key reference of an asymmetric key: 9A, 9C, 9D, 9E and the retired
 * key slots 82-95 (part 1, table 4b). */
static int slot_valid(unsigned slot)
{
    return slot == 0x9A || slot == 0x9C || slot == 0x9D || slot == 0x9E ||
           (slot >= 0x82 && slot <= 0x95);
}

/* Pads a PIN or PUK with FF to 8 bytes.  what names it ("PIN", "new PUK")
 * in the message; the value itself never appears there. */
static int pin_block(const char *what, const char *value, unsigned char block[PIN_BLOCK])
{
    if (value == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the %s is NULL", what);
    size_t n = strnlen(value, PIN_BLOCK + 1);
    if (n == 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the %s is empty; it must be 1 to %u characters",
                       what, PIN_BLOCK);
    if (n > PIN_BLOCK)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the %s is longer than %u characters", what,
                       PIN_BLOCK);
    memset(block, 0xFF, PIN_BLOCK);
    memcpy(block, value, n);
    return IDM_OK;
}

/* The failures of VERIFY and CHANGE REFERENCE DATA: who ("PIN", "PUK")
 * decides the words, since idm_sw_message() says "wrong PIN" for any 63Cx. */
static int reference_fail(const char *command, const char *who, unsigned sw)
{
    if (sw == SW_BLOCKED)
        return IDM_ERR(IDM_ERR_CARD, "the %s is blocked (%s: %s)", who, command,
                       idm_sw_message(sw));
    if ((sw & 0xFFF0u) == 0x63C0u) {
        unsigned left = sw & 0x0Fu;
        char words[64];
        snprintf(words, sizeof words, "%04X wrong %s, %u %s left", sw, who, left,
                 left == 1 ? "try" : "tries");
        if (left == 0)
            return IDM_ERR(IDM_ERR_CARD, "the %s is now blocked (%s: %s)", who, command, words);
        return IDM_ERR(IDM_ERR_CARD, "%s: %s", command, words);
    }
    return sw_fail(command, sw);
}

/* ---- GET DATA CPLC ---------------------------------------------------- */

/* The 42 CPLC bytes in an answer that is either 9F 7F 2A + CPLC or the
 * bare record; NULL when it is neither. */
static const unsigned char *cplc_record(const unsigned char *data, size_t len)
{
    if (len == CPLC_LEN)
        return data;
    if (len >= 2 && data[0] == 0x9F && data[1] == 0x7F) {
        const unsigned char *p = data;
        struct idm_tlv tlv;
        if (idm_tlv_next(&p, data + len, &tlv) == IDM_OK && tlv.tag == CPLC_TAG &&
            tlv.len >= CPLC_LEN)
            return tlv.value;
    }
    return NULL;
}

int idm_piv_read_serial(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                        char *hex, size_t size)
{
    if (hex == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the buffer for the chip serial is NULL");
    if (size < SERIAL_HEX_SIZE) {
        if (size > 0)
            hex[0] = '\0';
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the chip serial needs %u bytes of room, not %zu",
                       SERIAL_HEX_SIZE, size);
    }
    hex[0] = '\0';

    const char *command = "GET DATA CPLC";
    struct reply r;
    int rc = exchange(t, stats, command, 0x80, INS_GET_DATA_GP, 0x9F, 0x7F, NULL, 0, LE_SHORT,
                      &r);
    if (rc != IDM_OK)
        return rc;
    if (r.sw != SW_OK) {
        switch (r.sw) {
        case SW_REF_NOT_FOUND:
        case SW_INS_NOT_SUPPORTED:
        case SW_CLA_NOT_SUPPORTED:
        case SW_NOT_FOUND:
        case SW_FUNC_NOT_SUPPORTED:
            rc = IDM_ERR(IDM_ERR_UNSUPPORTED, "the card has no chip serial (%s: %s)", command,
                         idm_sw_message(r.sw));
            break;
        default:
            rc = sw_fail(command, r.sw);
        }
        reply_free(&r);
        return rc;
    }
    const unsigned char *cplc = cplc_record(r.data, r.len);
    if (cplc == NULL) {
        rc = IDM_ERR(IDM_ERR_CARD,
                     "the card's CPLC data is malformed (%s: %zu bytes, expected 9F 7F 2A "
                     "and %u bytes, or the %u bytes alone)",
                     command, r.len, CPLC_LEN, CPLC_LEN);
        reply_free(&r);
        return rc;
    }
    unsigned char serial[8];
    memcpy(serial, cplc + CPLC_FABRICATOR, 2);
    memcpy(serial + 2, cplc + CPLC_IC_SERIAL, 4);
    memcpy(serial + 6, cplc + CPLC_IC_BATCH, 2);
    for (size_t i = 0; i < sizeof serial; i++)
        snprintf(hex + 2 * i, 3, "%02X", serial[i]);
    reply_free(&r);
    return IDM_OK;
}

/* ---- SELECT ----------------------------------------------------------- */

int idm_piv_select(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats)
{
    const char *command = "SELECT";
    struct reply r;
    int rc = exchange(t, stats, command, 0x00, INS_SELECT, 0x04, 0x00, PIV_AID, sizeof PIV_AID,
                      LE_SHORT, &r);
    if (rc != IDM_OK)
        return rc;
    if (r.sw == SW_NOT_FOUND || r.sw == SW_INS_NOT_SUPPORTED || r.sw == SW_WRONG_P1P2)
        rc = IDM_ERR(IDM_ERR_CARD, "the card has no PIV application (%s: %s)", command,
                     idm_sw_message(r.sw));
    else if (r.sw != SW_OK)
        rc = sw_fail(command, r.sw);
    reply_free(&r);
    return rc;
}

/* ---- management key --------------------------------------------------- */

/* The cipher, key length and block length of a management key algorithm;
 * NULL for an algorithm that is not one. */
static const EVP_CIPHER *mgmt_cipher(unsigned alg, size_t *key_len, size_t *block)
{
    switch (alg) {
    case ALG_3DES:
        *key_len = 24;
        *block = 8;
        return EVP_des_ede3_ecb();
    case ALG_AES128:
        *key_len = 16;
        *block = 16;
        return EVP_aes_128_ecb();
    case ALG_AES192:
        *key_len = 24;
        *block = 16;
        return EVP_aes_192_ecb();
    case ALG_AES256:
        *key_len = 32;
        *block = 16;
        return EVP_aes_256_ecb();
    default:
        return NULL;
    }
}

/* Encrypts or decrypts exactly one block in ECB without padding, as SP
 * 800-73-4 does with witnesses and challenges. */
static int ecb_block(const EVP_CIPHER *cipher, const unsigned char *key, int encrypt,
                     const unsigned char *in, unsigned char *out, size_t block)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, tail = 0;
    int ok = ctx != NULL && EVP_CipherInit_ex(ctx, cipher, NULL, key, NULL, encrypt) == 1 &&
             EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
             EVP_CipherUpdate(ctx, out, &n, in, (int)block) == 1 &&
             EVP_CipherFinal_ex(ctx, out + n, &tail) == 1 && (size_t)(n + tail) == block;
    int rc = ok ? IDM_OK
                : idm_error_crypto(encrypt ? "cannot encrypt the challenge with the management key"
                                      : "cannot decrypt the witness with the management key");
    EVP_CIPHER_CTX_free(ctx); /* also wipes the key schedule */
    return rc;
}

/* Finds 7C { tag } in a GENERAL AUTHENTICATE answer, of exactly want bytes
 * unless want is 0 (then any non-empty length). */
static int dynamic_auth_field(const struct reply *r, const char *command, unsigned tag,
                              size_t want, struct idm_tlv *field)
{
    struct idm_tlv outer;
    const char *why = NULL;
    char detail[256];
    if (idm_tlv_find(r->data, r->len, 0x7C, &outer) != IDM_OK)
        why = "no 7C template";
    else if (idm_tlv_find(outer.value, outer.len, tag, field) != IDM_OK)
        why = "no such field in the 7C template";
    if (why != NULL) {
        copy_message(detail, sizeof detail);
        return IDM_ERR(IDM_ERR_CARD, "the card's answer to %s is malformed (%zu bytes, %s: %s)",
                       command, r->len, why, detail);
    }
    if (want != 0 ? field->len != want : field->len == 0)
        return IDM_ERR(IDM_ERR_CARD,
                       "the card's answer to %s is malformed (field %02X is %zu bytes, "
                       "expected %zu)",
                       command, tag, field->len, want);
    return IDM_OK;
}

int idm_piv_authenticate(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                         unsigned alg, const unsigned char *key, size_t key_len)
{
    size_t want_len = 0, block = 0;
    const EVP_CIPHER *cipher = mgmt_cipher(alg, &want_len, &block);
    if (cipher == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "management key algorithm %02X is not one of 03 (3DES), 08 (AES-128), "
                       "0A (AES-192), 0C (AES-256)",
                       alg);
    if (key == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the management key is NULL");
    if (key_len != want_len)
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "the management key is %zu bytes; algorithm %02X needs %zu", key_len,
                       alg, want_len);

    const char *command = "GENERAL AUTHENTICATE";
    static const unsigned char ask_witness[] = {0x7C, 0x02, 0x80, 0x00};
    struct reply r;
    int rc = exchange(t, stats, command, 0x00, INS_GENERAL_AUTHENTICATE, (unsigned char)alg,
                      REF_MGMT, ask_witness, sizeof ask_witness, LE_SHORT, &r);
    if (rc != IDM_OK)
        return rc;
    if (r.sw != SW_OK) {
        if (r.sw == SW_WRONG_P1P2)
            rc = IDM_ERR(IDM_ERR_CARD,
                         "the card's management key is not of algorithm %02X (%s: %s)", alg,
                         command, idm_sw_message(r.sw));
        else
            rc = sw_fail(command, r.sw);
        reply_free(&r);
        return rc;
    }

    /* Witness and challenge are at most one AES block. */
    unsigned char plain[16], challenge[16], expected[16];
    unsigned char *body = NULL, *inner = NULL;
    size_t body_len = 0, inner_len = 0;
    struct idm_tlv field = {0};
    rc = dynamic_auth_field(&r, command, 0x80, block, &field);
    if (rc == IDM_OK)
        rc = ecb_block(cipher, key, 0, field.value, plain, block);
    reply_free(&r);
    if (rc == IDM_OK && RAND_bytes(challenge, (int)block) != 1)
        rc = idm_error_crypto("cannot draw a challenge for the card");
    if (rc == IDM_OK)
        rc = ecb_block(cipher, key, 1, challenge, expected, block);
    /* 7C { 80 witness, 81 challenge, 82 (empty: the response is asked for) }. */
    if (rc == IDM_OK)
        rc = idm_tlv_append(&inner, &inner_len, 0x80, plain, block);
    if (rc == IDM_OK)
        rc = idm_tlv_append(&inner, &inner_len, 0x81, challenge, block);
    if (rc == IDM_OK)
        rc = idm_tlv_append(&inner, &inner_len, 0x82, NULL, 0);
    if (rc == IDM_OK)
        rc = idm_tlv_append(&body, &body_len, 0x7C, inner, inner_len);
    if (rc == IDM_OK)
        rc = exchange(t, stats, command, 0x00, INS_GENERAL_AUTHENTICATE, (unsigned char)alg,
                      REF_MGMT, body, body_len, LE_SHORT, &r);
    if (rc == IDM_OK) {
        if (r.sw == SW_SECURITY)
            rc = IDM_ERR(IDM_ERR_CARD, "the card refused the management key (%s: %s)", command,
                         idm_sw_message(r.sw));
        else if (r.sw != SW_OK)
            rc = sw_fail(command, r.sw);
        else
            rc = dynamic_auth_field(&r, command, 0x82, block, &field);
        if (rc == IDM_OK && CRYPTO_memcmp(field.value, expected, block) != 0)
            rc = IDM_ERR(IDM_ERR_CARD, "the card failed to prove the management key: its "
                                       "answer to our challenge does not match");
        reply_free(&r);
    }
    if (inner != NULL)
        OPENSSL_cleanse(inner, inner_len);
    if (body != NULL)
        OPENSSL_cleanse(body, body_len);
    free(inner);
    free(body);
    OPENSSL_cleanse(plain, sizeof plain);
    OPENSSL_cleanse(challenge, sizeof challenge);
    OPENSSL_cleanse(expected, sizeof expected);
    return rc;
}

/* ---- GENERATE ASYMMETRIC KEY PAIR ------------------------------------- */

static int key_malformed(const char *fmt, ...) IDM_PRINTF(1, 2);

/* IDM_ERR_CARD "the card's public key is malformed (<formatted detail>)". */
static int key_malformed(const char *fmt, ...)
{
    char detail[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return IDM_ERR(IDM_ERR_CARD, "the card's public key is malformed (%s)", detail);
}

/* A copy of len bytes in a fresh malloc() block. */
static int copy_out(const unsigned char *data, size_t len, unsigned char **out, size_t *out_len)
{
    unsigned char *copy = malloc(len != 0 ? len : 1);
    if (copy == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu bytes", len);
    if (len != 0)
        memcpy(copy, data, len);
    *out = copy;
    *out_len = len;
    return IDM_OK;
}

/* The SPKI of a P-256 public key given as the card's 86 (uncompressed
 * point), checked by OpenSSL: a point off the curve does not decode. */
static int p256_spki(const struct idm_tlv *point, unsigned char **spki, size_t *spki_len)
{
    if (point->len != P256_POINT_LEN || point->value[0] != 0x04)
        return key_malformed("86 is %zu bytes starting %02X; a P-256 point is %u bytes "
                             "starting 04",
                             point->len, point->len != 0 ? point->value[0] : 0u,
                             P256_POINT_LEN);
    size_t len = sizeof P256_SPKI_PREFIX + P256_POINT_LEN;
    unsigned char *der = malloc(len);
    if (der == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu bytes for a public key", len);
    memcpy(der, P256_SPKI_PREFIX, sizeof P256_SPKI_PREFIX);
    memcpy(der + sizeof P256_SPKI_PREFIX, point->value, P256_POINT_LEN);
    const unsigned char *p = der;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)len);
    if (key == NULL) {
        ERR_clear_error();
        free(der);
        return IDM_ERR(IDM_ERR_CARD,
                       "the card's public key is malformed (86 is not a point on P-256)");
    }
    EVP_PKEY_free(key);
    *spki = der;
    *spki_len = len;
    return IDM_OK;
}

/* Leading zero bytes of a big-endian integer do not count. */
static void strip_zeros(struct idm_tlv *n)
{
    while (n->len > 0 && n->value[0] == 0) {
        n->value++;
        n->len--;
    }
}

/* The SPKI of an RSA-2048 public key given as the card's 81 (modulus) and
 * 82 (exponent), encoded by OpenSSL. */
static int rsa_spki(const struct idm_tlv *template, unsigned char **spki, size_t *spki_len)
{
    struct idm_tlv n, e;
    if (idm_tlv_find(template->value, template->len, 0x81, &n) != IDM_OK ||
        idm_tlv_find(template->value, template->len, 0x82, &e) != IDM_OK) {
        char detail[256];
        copy_message(detail, sizeof detail);
        return IDM_ERR(IDM_ERR_CARD, "the card's public key is malformed (7F49 lacks the "
                                     "modulus 81 or the exponent 82: %s)",
                       detail);
    }
    strip_zeros(&n);
    strip_zeros(&e);
    size_t bits = n.len * 8;
    for (unsigned top = n.len != 0 ? n.value[0] : 0x80u; (top & 0x80u) == 0; top <<= 1)
        bits--;
    if (bits != RSA2048_BITS)
        return key_malformed("the modulus has %zu bits; RSA-2048 has %u", bits, RSA2048_BITS);
    if (e.len == 0 || e.len > RSA_EXPONENT_MAX || (e.value[e.len - 1] & 1u) == 0 ||
        (e.len == 1 && e.value[0] < 3))
        return key_malformed("the exponent of %zu bytes is not an odd number of at least 3 "
                             "in 1 to %u bytes",
                             e.len, RSA_EXPONENT_MAX);

    int rc = IDM_OK;
    BIGNUM *bn_n = BN_bin2bn(n.value, (int)n.len, NULL);
    BIGNUM *bn_e = BN_bin2bn(e.value, (int)e.len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    if (bn_n == NULL || bn_e == NULL || bld == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1 ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        rc = idm_error_crypto("cannot make an RSA public key of the card's modulus and exponent");

    unsigned char *der = NULL;
    int der_len = 0;
    if (rc == IDM_OK) {
        der_len = i2d_PUBKEY(key, NULL);
        if (der_len <= 0)
            rc = idm_error_crypto("cannot encode the card's RSA public key");
    }
    if (rc == IDM_OK && (der = malloc((size_t)der_len)) == NULL)
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %d bytes for a public key", der_len);
    if (rc == IDM_OK) {
        unsigned char *p = der;
        if (i2d_PUBKEY(key, &p) != der_len) {
            rc = idm_error_crypto("cannot encode the card's RSA public key");
            free(der);
        } else {
            *spki = der;
            *spki_len = (size_t)der_len;
        }
    }
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return rc;
}

int idm_piv_generate_key(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                         unsigned slot, unsigned alg, unsigned char **spki, size_t *spki_len)
{
    if (spki == NULL || spki_len == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the public key's buffer or its length is NULL");
    *spki = NULL;
    *spki_len = 0;
    if (!slot_valid(slot))
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "key slot %02X is not one of 9A, 9C, 9D, 9E or 82-95", slot);
    if (alg != ALG_RSA2048 && alg != ALG_P256)
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "key algorithm %02X is not one of 07 (RSA-2048) or 11 (P-256)", alg);

    char command[48];
    snprintf(command, sizeof command, "GENERATE ASYMMETRIC KEY PAIR %02X", slot);
    const unsigned char template[] = {0xAC, 0x03, 0x80, 0x01, (unsigned char)alg};
    struct reply r;
    int rc = exchange(t, stats, command, 0x00, INS_GENERATE, 0x00, (unsigned char)slot,
                      template, sizeof template, LE_SHORT, &r);
    if (rc != IDM_OK)
        return rc;
    if (r.sw == SW_SECURITY) {
        rc = IDM_ERR(IDM_ERR_CARD,
                     "the card refused to generate a key in slot %02X: the management key "
                     "was not authenticated (%s: %s)",
                     slot, command, idm_sw_message(r.sw));
    } else if (r.sw != SW_OK) {
        rc = sw_fail(command, r.sw);
    } else {
        struct idm_tlv key;
        if (idm_tlv_find(r.data, r.len, 0x7F49, &key) != IDM_OK) {
            char detail[256];
            copy_message(detail, sizeof detail);
            rc = IDM_ERR(IDM_ERR_CARD,
                         "the card's public key is malformed (no 7F49 in %zu bytes: %s)", r.len,
                         detail);
        } else if (alg == ALG_P256) {
            struct idm_tlv point;
            if (idm_tlv_find(key.value, key.len, 0x86, &point) != IDM_OK) {
                char detail[256];
                copy_message(detail, sizeof detail);
                rc = IDM_ERR(IDM_ERR_CARD,
                             "the card's public key is malformed (7F49 lacks the point 86: %s)",
                             detail);
            } else {
                rc = p256_spki(&point, spki, spki_len);
            }
        } else {
            rc = rsa_spki(&key, spki, spki_len);
        }
    }
    reply_free(&r);
    return rc;
}

/* ---- PUT DATA and GET DATA -------------------------------------------- */

/* The discovery object and the BIT group template are written and read in
 * their own tag, not in 53 (SP 800-73-4 part 1, 3.3.2 and 3.3.3). */
static unsigned object_wrapper(unsigned tag)
{
    return tag == 0x7E || tag == 0x7F61 ? tag : 0x53;
}

/* The tag list 5C <tag bytes> that names an object. */
static int tag_list(unsigned tag, unsigned char **buf, size_t *len)
{
    unsigned char bytes[3];
    size_t n = tag_bytes(tag, bytes);
    if (n == 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "object tag %X is not a well-formed BER tag of 1-3 "
                                            "bytes",
                       tag);
    return idm_tlv_append(buf, len, 0x5C, bytes, n);
}

int idm_piv_put_object(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                       unsigned tag, const unsigned char *value, size_t len)
{
    if (value == NULL && len != 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the value of object %X is NULL but %zu bytes long",
                       tag, len);
    unsigned char *data = NULL;
    size_t data_len = 0;
    int rc = tag_list(tag, &data, &data_len);
    if (rc == IDM_OK)
        rc = idm_tlv_append(&data, &data_len, object_wrapper(tag), value, len);
    if (rc == IDM_OK && data_len > IDM_APDU_DATA_MAX)
        rc = IDM_ERR(IDM_ERR_INVALID_ARG, "object %X is %zu bytes; PUT DATA takes at most %zu "
                                          "bytes with its tags",
                     tag, len, IDM_APDU_DATA_MAX);
    if (rc != IDM_OK) {
        free(data);
        return rc;
    }

    char command[32];
    snprintf(command, sizeof command, "PUT DATA %X", tag);
    struct reply r;
    rc = exchange(t, stats, command, 0x00, INS_PUT_DATA, 0x3F, 0xFF, data, data_len, 0, &r);
    free(data);
    if (rc != IDM_OK)
        return rc;
    if (r.sw == SW_NO_MEMORY)
        rc = IDM_ERR(IDM_ERR_CARD, "the card is full (%s: %s)", command, idm_sw_message(r.sw));
    else if (r.sw == SW_SECURITY)
        rc = IDM_ERR(IDM_ERR_CARD,
                     "the card refused to write object %X: the management key was not "
                     "authenticated (%s: %s)",
                     tag, command, idm_sw_message(r.sw));
    else if (r.sw != SW_OK)
        rc = sw_fail(command, r.sw);
    reply_free(&r);
    return rc;
}

int idm_piv_get_object(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                       unsigned tag, unsigned char **value, size_t *len)
{
    if (value == NULL || len == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the object's buffer or its length is NULL");
    *value = NULL;
    *len = 0;
    unsigned char *data = NULL;
    size_t data_len = 0;
    int rc = tag_list(tag, &data, &data_len);
    if (rc != IDM_OK) {
        free(data);
        return rc;
    }

    char command[32];
    snprintf(command, sizeof command, "GET DATA %X", tag);
    struct reply r;
    rc = exchange(t, stats, command, 0x00, INS_GET_DATA, 0x3F, 0xFF, data, data_len,
                  IDM_APDU_LE_MAX, &r);
    free(data);
    if (rc != IDM_OK)
        return rc;
    unsigned wrapper = object_wrapper(tag);
    if (r.sw == SW_NOT_FOUND) {
        rc = IDM_ERR(IDM_ERR_NOT_FOUND, "the card has no object %X", tag);
    } else if (r.sw != SW_OK) {
        rc = sw_fail(command, r.sw);
    } else if (r.len == 0) {
        rc = IDM_ERR(IDM_ERR_CARD, "%s: the card answered %04X with no data; was it removed?",
                     command, r.sw);
    } else {
        const unsigned char *p = r.data;
        struct idm_tlv object;
        if (idm_tlv_next(&p, r.data + r.len, &object) != IDM_OK) {
            char detail[256];
            copy_message(detail, sizeof detail);
            rc = IDM_ERR(IDM_ERR_CARD, "%s: the card's answer is not one %02X TLV (%s)",
                         command, wrapper, detail);
        } else if (object.tag != wrapper || p != r.data + r.len) {
            rc = IDM_ERR(IDM_ERR_CARD,
                         "%s: the card's answer is not one %02X TLV (tag %02X of %zu bytes, "
                         "%zu bytes in all)",
                         command, wrapper, object.tag, object.len, r.len);
        } else if (object.len != 0) {
            rc = copy_out(object.value, object.len, value, len);
        }
    }
    reply_free(&r);
    return rc;
}

/* ---- PIN and PUK ------------------------------------------------------ */

int idm_piv_verify_pin(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                       const char *pin)
{
    unsigned char block[PIN_BLOCK];
    int rc = pin_block("PIN", pin, block);
    if (rc != IDM_OK)
        return rc;
    const char *command = "VERIFY PIN";
    struct reply r;
    rc = exchange(t, stats, command, 0x00, INS_VERIFY, 0x00, REF_PIN, block, sizeof block, 0,
                  &r);
    OPENSSL_cleanse(block, sizeof block);
    if (rc != IDM_OK)
        return rc;
    if (r.sw != SW_OK)
        rc = reference_fail(command, "PIN", r.sw);
    reply_free(&r);
    return rc;
}

int idm_piv_change_reference(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                             unsigned reference, const char *old_value, const char *new_value)
{
    if (reference != REF_PIN && reference != REF_PUK)
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "key reference %02X is neither the PIN (80) nor the PUK (81)", reference);
    const char *who = reference == REF_PIN ? "PIN" : "PUK";
    unsigned char blocks[2 * PIN_BLOCK];
    int rc = pin_block(reference == REF_PIN ? "current PIN" : "current PUK", old_value, blocks);
    if (rc == IDM_OK)
        rc = pin_block(reference == REF_PIN ? "new PIN" : "new PUK", new_value,
                       blocks + PIN_BLOCK);
    if (rc != IDM_OK) {
        OPENSSL_cleanse(blocks, sizeof blocks);
        return rc;
    }
    char command[40];
    snprintf(command, sizeof command, "CHANGE REFERENCE DATA %s", who);
    struct reply r;
    rc = exchange(t, stats, command, 0x00, INS_CHANGE_REFERENCE, 0x00, (unsigned char)reference,
                  blocks, sizeof blocks, 0, &r);
    OPENSSL_cleanse(blocks, sizeof blocks);
    if (rc != IDM_OK)
        return rc;
    if (r.sw == SW_WRONG_DATA)
        rc = IDM_ERR(IDM_ERR_CARD, "the card refused the new %s as malformed (%s: %s)", who,
                     command, idm_sw_message(r.sw));
    else if (r.sw != SW_OK)
        rc = reference_fail(command, who, r.sw);
    reply_free(&r);
    return rc;
}

/* ---- GENERAL AUTHENTICATE with a private key -------------------------- */

/* The input a PIV key signs: the whole RSA block, or the hash as long as
 * the curve's order (part 2, 3.2.4 and SP 800-78). */
static size_t sign_input_len(unsigned alg)
{
    switch (alg) {
    case ALG_RSA2048:
        return 256;
    case ALG_P256:
        return 32;
    case ALG_P384:
        return 48;
    default:
        return 0;
    }
}

int idm_piv_sign(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                 unsigned slot, unsigned alg, const unsigned char *input, size_t len,
                 unsigned char **out, size_t *out_len)
{
    if (out == NULL || out_len == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the signature's buffer or its length is NULL");
    *out = NULL;
    *out_len = 0;
    if (!slot_valid(slot))
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "key slot %02X is not one of 9A, 9C, 9D, 9E or 82-95", slot);
    size_t want = sign_input_len(alg);
    if (want == 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "key algorithm %02X is not one of 07 (RSA-2048), 11 (P-256), "
                       "14 (P-384)",
                       alg);
    if (input == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the input to sign is NULL");
    if (len != want)
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "the input to sign is %zu bytes; algorithm %02X signs %zu (%s)", len, alg,
                       want, alg == ALG_RSA2048 ? "the padded block" : "the hash");

    unsigned char *inner = NULL, *body = NULL;
    size_t inner_len = 0, body_len = 0;
    int rc = idm_tlv_append(&inner, &inner_len, 0x82, NULL, 0);
    if (rc == IDM_OK)
        rc = idm_tlv_append(&inner, &inner_len, 0x81, input, len);
    if (rc == IDM_OK)
        rc = idm_tlv_append(&body, &body_len, 0x7C, inner, inner_len);
    free(inner);
    if (rc != IDM_OK) {
        free(body);
        return rc;
    }

    const char *command = "GENERAL AUTHENTICATE";
    struct reply r;
    rc = exchange(t, stats, command, 0x00, INS_GENERAL_AUTHENTICATE, (unsigned char)alg,
                  (unsigned char)slot, body, body_len, IDM_APDU_LE_MAX, &r);
    free(body);
    if (rc != IDM_OK)
        return rc;
    struct idm_tlv result = {0};
    if (r.sw == SW_SECURITY)
        rc = IDM_ERR(IDM_ERR_CARD,
                     "the card refused to use the key in slot %02X: PIN not verified (%s: %s)",
                     slot, command, idm_sw_message(r.sw));
    else if (r.sw == SW_REF_NOT_FOUND)
        rc = IDM_ERR(IDM_ERR_CARD, "the card has no key in slot %02X (%s: %s)", slot, command,
                     idm_sw_message(r.sw));
    else if (r.sw == SW_WRONG_P1P2)
        rc = IDM_ERR(IDM_ERR_CARD, "the key in slot %02X is not of algorithm %02X (%s: %s)",
                     slot, alg, command, idm_sw_message(r.sw));
    else if (r.sw != SW_OK)
        rc = IDM_ERR(IDM_ERR_CARD, "%s with slot %02X: %s", command, slot, idm_sw_message(r.sw));
    else
        rc = dynamic_auth_field(&r, command, 0x82, 0, &result);
    if (rc == IDM_OK)
        rc = copy_out(result.value, result.len, out, out_len);
    reply_free(&r);
    return rc;
}
