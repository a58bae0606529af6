/* The bench card: see bench_card.h. */
#include "bench_card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>

/* ---- P-256 keys ----------------------------------------------------------- */

/* The header of a P-256 SubjectPublicKeyInfo; the point follows. */
static const unsigned char P256_SPKI_HEAD[26] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01,
    0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
#define P256_POINT_LEN 65

_Static_assert(sizeof P256_SPKI_HEAD + P256_POINT_LEN == BENCH_P256_SPKI_LEN,
               "a P-256 SubjectPublicKeyInfo is its header and the point");

EVP_PKEY_CTX *bench_p256_keygen_new(void)
{
    EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (kctx == NULL || EVP_PKEY_keygen_init(kctx) != 1 ||
        EVP_PKEY_CTX_set_group_name(kctx, "P-256") != 1) {
        EVP_PKEY_CTX_free(kctx);
        return NULL;
    }
    return kctx;
}

int bench_p256_spki(EVP_PKEY *key, unsigned char spki[BENCH_P256_SPKI_LEN])
{
    size_t len = 0;
    unsigned char *point = spki + sizeof P256_SPKI_HEAD;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, P256_POINT_LEN,
                                        &len) != 1 ||
        len != P256_POINT_LEN || point[0] != 0x04)
        return -1;
    memcpy(spki, P256_SPKI_HEAD, sizeof P256_SPKI_HEAD);
    return 0;
}

/* ---- the card: in memory, no I/O ------------------------------------------ */

#define MAX_OBJECTS 8 /* CHUID, CCC, Printed Information, four certificates */

struct object {
    unsigned tag; /* 0: unused */
    unsigned char *value;
    size_t len;
    size_t room; /* kept from card to card, so a card allocates nothing */
};

struct bench_card {
    EVP_PKEY_CTX *keygen;
    EVP_PKEY *keys[256]; /* by slot, on the card in the encoder */
    struct object objects[MAX_OBJECTS];
    char pin[16];
    unsigned long serial;   /* of the card in the encoder, from 1 */
    unsigned long produced; /* cards closed with success */
    unsigned long keys_made;
};

/* Room for len bytes as the content of object tag, replacing what it held;
 * NULL when the card is full or memory is out. */
static unsigned char *object_room(struct bench_card *c, unsigned tag, size_t len)
{
    struct object *o = NULL;
    for (size_t i = 0; i < MAX_OBJECTS && o == NULL; i++) {
        if (c->objects[i].tag == tag)
            o = &c->objects[i];
    }
    for (size_t i = 0; i < MAX_OBJECTS && o == NULL; i++) {
        if (c->objects[i].tag == 0)
            o = &c->objects[i];
    }
    if (o == NULL)
        return NULL;
    if (o->room < len || o->value == NULL) {
        unsigned char *grown = realloc(o->value, len > 0 ? len : 1);
        if (grown == NULL)
            return NULL;
        o->value = grown;
        o->room = len > 0 ? len : 1;
    }
    o->tag = tag;
    o->len = len;
    return o->value;
}

static int card_full(void)
{
    idm_encoder_backend_error("the bench card has no room for another object");
    return IDM_ERR_CARD;
}

static int enc_open(int timeout_ms, void *user_data)
{
    (void)timeout_ms;
    (void)user_data;
    return 0;
}

static int enc_card_serial(char *serial, size_t size, void *user_data)
{
    const struct bench_card *c = user_data;
    snprintf(serial, size, "BENCH-%08lu", c->serial);
    return 0;
}

static int enc_generate_key(idm_piv_slot slot, idm_card_key_alg alg, idm_buffer_t *spki,
                            void *user_data)
{
    struct bench_card *c = user_data;
    if (alg != IDM_CARD_KEY_EC_P256) {
        idm_encoder_backend_error("the bench card makes P-256 keys only");
        return IDM_ERR_CARD;
    }
    EVP_PKEY *key = NULL;
    unsigned char der[BENCH_P256_SPKI_LEN];
    if (EVP_PKEY_generate(c->keygen, &key) != 1 || bench_p256_spki(key, der) != 0) {
        EVP_PKEY_free(key);
        idm_encoder_backend_error("libcrypto could not make a P-256 key");
        return IDM_ERR_CARD;
    }
    EVP_PKEY_free(c->keys[slot]);
    c->keys[slot] = key;
    c->keys_made++;
    return idm_buffer_set(spki, der, sizeof der);
}

/* The object a slot's certificate lives in; 0 for a slot that has none. */
static unsigned certificate_object(idm_piv_slot slot)
{
    switch (slot) {
    case IDM_PIV_SLOT_AUTHENTICATION: return IDM_PIV_OBJECT_CERT_AUTHENTICATION;
    case IDM_PIV_SLOT_SIGNATURE: return IDM_PIV_OBJECT_CERT_SIGNATURE;
    case IDM_PIV_SLOT_KEY_MANAGEMENT: return IDM_PIV_OBJECT_CERT_KEY_MANAGEMENT;
    case IDM_PIV_SLOT_CARD_AUTHENTICATION: return IDM_PIV_OBJECT_CERT_CARD_AUTHENTICATION;
    }
    return 0;
}

/* Kept as a PIV card keeps it, so that reading the object back gives the
 * certificate in tag 70: 70 82 LL LL <der> 71 01 00 FE 00. */
static int enc_write_certificate(idm_piv_slot slot, const unsigned char *der, size_t len,
                                 void *user_data)
{
    static const unsigned char tail[5] = {0x71, 0x01, 0x00, 0xFE, 0x00};
    unsigned tag = certificate_object(slot);
    if (tag == 0 || len > 0xFFFF) {
        idm_encoder_backend_error("the bench card has no such certificate slot or room");
        return IDM_ERR_CARD;
    }
    unsigned char *obj = object_room(user_data, tag, 4 + len + sizeof tail);
    if (obj == NULL)
        return card_full();
    obj[0] = 0x70;
    obj[1] = 0x82;
    obj[2] = (unsigned char)(len >> 8);
    obj[3] = (unsigned char)len;
    memcpy(obj + 4, der, len);
    memcpy(obj + 4 + len, tail, sizeof tail);
    return 0;
}

static int enc_write_object(idm_piv_object object, const unsigned char *value, size_t len,
                            void *user_data)
{
    unsigned char *obj = object_room(user_data, (unsigned)object, len);
    if (obj == NULL)
        return card_full();
    if (len > 0)
        memcpy(obj, value, len);
    return 0;
}

static int enc_read_object(idm_piv_object object, idm_buffer_t *value, void *user_data)
{
    const struct bench_card *c = user_data;
    for (size_t i = 0; i < MAX_OBJECTS; i++) {
        if (c->objects[i].tag == (unsigned)object)
            return idm_buffer_set(value, c->objects[i].value, c->objects[i].len);
    }
    idm_encoder_backend_error("the bench card has no such object");
    return IDM_ERR_NOT_FOUND;
}

static int enc_set_pin(const char *pin, const char *puk, void *user_data)
{
    struct bench_card *c = user_data;
    (void)puk;
    if (strlen(pin) >= sizeof c->pin) {
        idm_encoder_backend_error("the PIN is too long for the bench card");
        return IDM_ERR_CARD;
    }
    strcpy(c->pin, pin);
    return 0;
}

static int enc_verify_pin(const char *pin, void *user_data)
{
    const struct bench_card *c = user_data;
    if (strcmp(pin, c->pin) != 0) {
        idm_encoder_backend_error("wrong PIN");
        return IDM_ERR_CARD;
    }
    return 0;
}

/* For EC the input is the digest; the result is a DER ECDSA-Sig-Value. */
static int enc_sign(idm_piv_slot slot, idm_card_key_alg alg, const unsigned char *input,
                    size_t len, idm_buffer_t *signature, void *user_data)
{
    struct bench_card *c = user_data;
    unsigned char sig[80]; /* a DER P-256 signature takes at most 72 bytes */
    size_t sig_len = sizeof sig;
    EVP_PKEY_CTX *sctx = NULL;
    if (alg == IDM_CARD_KEY_EC_P256 && c->keys[slot] != NULL)
        sctx = EVP_PKEY_CTX_new_from_pkey(NULL, c->keys[slot], NULL);
    int ok = sctx != NULL && EVP_PKEY_sign_init(sctx) == 1 &&
             EVP_PKEY_sign(sctx, sig, &sig_len, input, len) == 1;
    EVP_PKEY_CTX_free(sctx);
    if (!ok) {
        idm_encoder_backend_error("the bench card could not sign with that slot");
        return IDM_ERR_CARD;
    }
    return idm_buffer_set(signature, sig, sig_len);
}

/* A card that went through leaves; the next is blank.  One that did not
 * stays in the encoder, as in a printer-encoder. */
static int enc_close(int success, void *user_data)
{
    struct bench_card *c = user_data;
    if (!success)
        return 0;
    for (size_t i = 0; i < MAX_OBJECTS; i++) {
        c->objects[i].tag = 0;
        c->objects[i].len = 0;
    }
    for (size_t i = 0; i < 256; i++) {
        EVP_PKEY_free(c->keys[i]);
        c->keys[i] = NULL;
    }
    c->pin[0] = '\0';
    c->produced++;
    c->serial++;
    return 0;
}

static void bench_card_free(void *user_data)
{
    struct bench_card *c = user_data;
    for (size_t i = 0; i < MAX_OBJECTS; i++)
        free(c->objects[i].value);
    for (size_t i = 0; i < 256; i++)
        EVP_PKEY_free(c->keys[i]);
    EVP_PKEY_CTX_free(c->keygen);
    free(c);
}

int bench_card_encoder_new(idm_encoder_t **out, struct bench_card **card)
{
    struct bench_card *c = calloc(1, sizeof *c);
    if (c == NULL)
        return IDM_ERR_NO_MEMORY;
    c->serial = 1;
    c->keygen = bench_p256_keygen_new();
    if (c->keygen == NULL) {
        free(c);
        return IDM_ERR_CRYPTO;
    }
    idm_encoder_ops ops = IDM_ENCODER_OPS_INIT;
    ops.open = enc_open;
    ops.card_serial = enc_card_serial;
    ops.generate_key = enc_generate_key;
    ops.write_certificate = enc_write_certificate;
    ops.write_object = enc_write_object;
    ops.read_object = enc_read_object;
    ops.set_pin = enc_set_pin;
    ops.verify_pin = enc_verify_pin;
    ops.sign = enc_sign;
    ops.close = enc_close;
    idm_encoder_t *enc = NULL;
    int rc = idm_encoder_new(&enc, &ops, sizeof ops, c, bench_card_free);
    if (rc != IDM_OK) {
        bench_card_free(c);
        return rc;
    }
    *out = enc;
    if (card != NULL)
        *card = c;
    return IDM_OK;
}

void bench_card_counts(const struct bench_card *card, unsigned long *produced,
                       unsigned long *keys_made)
{
    *produced = card->produced;
    *keys_made = card->keys_made;
}
