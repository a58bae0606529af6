/*
 * A card encoder of the host's own, plugged into libidm through its ops
 * table (idm_encoder_ops, <idm/encoder.h>): the way a printer-encoder's
 * chip driver or a vendor SDK is wired in.  The "card" here lives in
 * memory, but it behaves as the library needs a PIV card to: it generates
 * real P-256 key pairs (libcrypto) and signs with them, keeps a PIN and a
 * PUK and wants the PIN before a key signs, and gives back every object as
 * it was written, certificates in the PIV container (tags 70, 71, FE).
 *
 * idm_card_personalize() drives it as it drives a card in a PC/SC reader:
 * keys generated on the card, certificates from the built-in CA recorded
 * in the store before they are written, CHUID, CCC and Printed
 * Information, a generated PIN and PUK; then it verifies the card: the
 * PIN, every object read back and compared, and a signature by each key
 * checked against its certificate.  The card prints each call it gets, so
 * the output shows the protocol.  At the end the program checks what the
 * card holds against what the store says.
 *
 * Run: idm-example-custom-encoder STORE.db
 * The store is created afresh (an existing file is removed first).
 * Exit status: 0 when the card is issued and carries every certificate
 * the store recorded for it, with the matching keys; 1 otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <idm/idm.h>

#define ACTOR "station:example"
#define ADMIN "admin:example"

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s failed: %s (%s)\n", what, idm_last_error_message(),
            idm_strerror_name(rc));
    return 1;
}

#define TRY(call)                    \
    do {                             \
        int rc_ = (call);            \
        if (rc_ != IDM_OK)           \
            return fail(#call, rc_); \
    } while (0)

/* The example's own checks of what it got. */
#define CHECK(cond)                                       \
    do {                                                  \
        if (!(cond)) {                                    \
            fprintf(stderr, "check failed: %s\n", #cond); \
            return 1;                                     \
        }                                                 \
    } while (0)

/* ---- the card in the encoder ---------------------------------------------- */

#define SLOTS 4       /* 9A, 9C, 9D, 9E */
#define MAX_OBJECTS 8 /* CHUID, CCC, Printed Information, four certificates */
#define PIN_TRIES 3

/* The PIV slots and the objects their certificates live in. */
static const struct {
    idm_piv_slot slot;
    idm_piv_object certificate;
} slots[SLOTS] = {
    {IDM_PIV_SLOT_AUTHENTICATION, IDM_PIV_OBJECT_CERT_AUTHENTICATION},
    {IDM_PIV_SLOT_SIGNATURE, IDM_PIV_OBJECT_CERT_SIGNATURE},
    {IDM_PIV_SLOT_KEY_MANAGEMENT, IDM_PIV_OBJECT_CERT_KEY_MANAGEMENT},
    {IDM_PIV_SLOT_CARD_AUTHENTICATION, IDM_PIV_OBJECT_CERT_CARD_AUTHENTICATION},
};

struct object {
    unsigned tag; /* 0: unused */
    unsigned char *value;
    size_t len;
};

struct card {
    char serial[32];
    EVP_PKEY *keys[SLOTS]; /* by index into slots[] */
    struct object objects[MAX_OBJECTS];
    char pin[9];
    char puk[9];
    int tries_left;
    int pin_verified; /* since the card was opened */
    int pin_fresh;    /* verified since the last signature by 9C (PIN always) */
};

/* For the trace: what the library writes and reads. */
static const char *object_name(idm_piv_object object)
{
    switch (object) {
    case IDM_PIV_OBJECT_CHUID: return "CHUID";
    case IDM_PIV_OBJECT_CCC: return "CCC";
    case IDM_PIV_OBJECT_PRINTED_INFO: return "Printed Information";
    case IDM_PIV_OBJECT_CERT_AUTHENTICATION: return "certificate 9A";
    case IDM_PIV_OBJECT_CERT_SIGNATURE: return "certificate 9C";
    case IDM_PIV_OBJECT_CERT_KEY_MANAGEMENT: return "certificate 9D";
    case IDM_PIV_OBJECT_CERT_CARD_AUTHENTICATION: return "certificate 9E";
    }
    return "unknown object";
}

static int slot_index(idm_piv_slot slot)
{
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].slot == slot)
            return i;
    }
    return -1;
}

/* A method's failure: IDM_ERR_CARD with the card's words. */
static int card_error(const char *why)
{
    idm_encoder_backend_error(why);
    return IDM_ERR_CARD;
}

static struct object *find_object(struct card *c, unsigned tag)
{
    for (int i = 0; i < MAX_OBJECTS; i++) {
        if (c->objects[i].tag == tag)
            return &c->objects[i];
    }
    return NULL;
}

/* Replaces the object's content (or creates the object). */
static int store_object(struct card *c, unsigned tag, const unsigned char *value, size_t len)
{
    struct object *o = find_object(c, tag);
    if (o == NULL)
        o = find_object(c, 0);
    if (o == NULL)
        return card_error("the card has no room for another object");
    unsigned char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return card_error("the card has no room for the object");
    if (len > 0)
        memcpy(copy, value, len);
    free(o->value);
    o->tag = tag;
    o->value = copy;
    o->len = len;
    return 0;
}

/* A BER-TLV length: one byte below 128, else 81 or 82 and the length. */
static size_t put_length(unsigned char *out, size_t len)
{
    if (len < 0x80) {
        out[0] = (unsigned char)len;
        return 1;
    }
    if (len < 0x100) {
        out[0] = 0x81;
        out[1] = (unsigned char)len;
        return 2;
    }
    out[0] = 0x82;
    out[1] = (unsigned char)(len >> 8);
    out[2] = (unsigned char)len;
    return 3;
}

/* Reads a BER-TLV length at in; 0 when malformed or beyond end. */
static size_t get_length(const unsigned char *in, const unsigned char *end, size_t *len)
{
    if (in >= end)
        return 0;
    if (in[0] < 0x80) {
        *len = in[0];
        return 1;
    }
    if (in[0] == 0x81 && end - in >= 2) {
        *len = in[1];
        return 2;
    }
    if (in[0] == 0x82 && end - in >= 3) {
        *len = ((size_t)in[1] << 8) | in[2];
        return 3;
    }
    return 0;
}

static int enc_open(int timeout_ms, void *user_data)
{
    struct card *c = user_data;
    printf("  card: open (waits up to %d ms; the card is there)\n", timeout_ms);
    c->pin_verified = c->pin_fresh = 0;
    return 0;
}

static int enc_card_serial(char *serial, size_t size, void *user_data)
{
    const struct card *c = user_data;
    printf("  card: card_serial -> %s\n", c->serial);
    if ((size_t)snprintf(serial, size, "%s", c->serial) >= size)
        return card_error("the chip serial does not fit");
    return 0;
}

static int enc_generate_key(idm_piv_slot slot, idm_card_key_alg alg, idm_buffer_t *spki,
                            void *user_data)
{
    struct card *c = user_data;
    int i = slot_index(slot);
    printf("  card: generate_key %s\n", idm_piv_slot_name(slot));
    if (i < 0)
        return card_error("the card has no such key slot");
    if (alg != IDM_CARD_KEY_EC_P256)
        return card_error("the card generates P-256 keys only");
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    unsigned char *der = NULL;
    int len = key != NULL ? i2d_PUBKEY(key, &der) : -1;
    int rc = len > 0 ? idm_buffer_set(spki, der, (size_t)len) : card_error("key generation failed");
    OPENSSL_free(der);
    if (rc != 0) {
        EVP_PKEY_free(key);
        return rc;
    }
    EVP_PKEY_free(c->keys[i]);
    c->keys[i] = key;
    return 0;
}

/* Kept as a PIV card keeps it: 70 <the DER> 71 01 00 (not compressed)
 * FE 00 (no error detection code). */
static int enc_write_certificate(idm_piv_slot slot, const unsigned char *der, size_t len,
                                 void *user_data)
{
    int i = slot_index(slot);
    printf("  card: write_certificate %s (%zu bytes)\n", idm_piv_slot_name(slot), len);
    if (i < 0 || len > 0xFFFF)
        return card_error("the card has no such certificate slot, or no room");
    static const unsigned char tail[] = {0x71, 0x01, 0x00, 0xFE, 0x00};
    unsigned char *container = malloc(4 + len + sizeof tail);
    if (container == NULL)
        return card_error("the card has no room for the certificate");
    size_t used = 0;
    container[used++] = 0x70;
    used += put_length(container + used, len);
    memcpy(container + used, der, len);
    used += len;
    memcpy(container + used, tail, sizeof tail);
    used += sizeof tail;
    int rc = store_object(user_data, slots[i].certificate, container, used);
    free(container);
    return rc;
}

static int enc_write_object(idm_piv_object object, const unsigned char *value, size_t len,
                            void *user_data)
{
    printf("  card: write_object %06X %s (%zu bytes)\n", (unsigned)object, object_name(object),
           len);
    return store_object(user_data, (unsigned)object, value, len);
}

static int enc_read_object(idm_piv_object object, idm_buffer_t *value, void *user_data)
{
    const struct object *o = find_object(user_data, (unsigned)object);
    printf("  card: read_object %06X %s\n", (unsigned)object, object_name(object));
    if (o == NULL) {
        idm_encoder_backend_error("the card has no such object");
        return IDM_ERR_NOT_FOUND;
    }
    return idm_buffer_set(value, o->value, o->len);
}

/* The card came with the factory PIN and PUK; it takes the new ones as a
 * PIV card's CHANGE REFERENCE DATA would. */
static int enc_set_pin(const char *pin, const char *puk, void *user_data)
{
    struct card *c = user_data;
    printf("  card: set_pin\n");
    size_t pin_len = strlen(pin), puk_len = strlen(puk);
    if (pin_len < 4 || pin_len > 8 || puk_len < 1 || puk_len > 8)
        return card_error("the card takes a PIN of 4 to 8 and a PUK of 1 to 8 characters");
    memcpy(c->pin, pin, pin_len + 1);
    memcpy(c->puk, puk, puk_len + 1);
    c->tries_left = PIN_TRIES;
    return 0;
}

static int enc_verify_pin(const char *pin, void *user_data)
{
    struct card *c = user_data;
    printf("  card: verify_pin\n");
    if (c->tries_left == 0)
        return card_error("the PIN is blocked");
    if (strlen(pin) != strlen(c->pin) || CRYPTO_memcmp(pin, c->pin, strlen(pin)) != 0) {
        c->tries_left--;
        return card_error(c->tries_left > 0 ? "wrong PIN" : "wrong PIN; the PIN is now blocked");
    }
    c->tries_left = PIN_TRIES;
    c->pin_verified = c->pin_fresh = 1;
    return 0;
}

/* For EC the input is the digest, the answer a DER ECDSA-Sig-Value.  Keys
 * want the PIN (9C right before each signature) except the card
 * authentication key, which a reader uses without one. */
static int enc_sign(idm_piv_slot slot, idm_card_key_alg alg, const unsigned char *input,
                    size_t len, idm_buffer_t *signature, void *user_data)
{
    struct card *c = user_data;
    int i = slot_index(slot);
    printf("  card: sign with %s\n", idm_piv_slot_name(slot));
    if (i < 0 || c->keys[i] == NULL || alg != IDM_CARD_KEY_EC_P256)
        return card_error("the card has no such key");
    if ((slot == IDM_PIV_SLOT_SIGNATURE && !c->pin_fresh) ||
        (slot != IDM_PIV_SLOT_CARD_AUTHENTICATION && !c->pin_verified))
        return card_error("security status not satisfied: the key wants the PIN");
    unsigned char sig[80]; /* a DER P-256 signature takes at most 72 bytes */
    size_t sig_len = sizeof sig;
    EVP_PKEY_CTX *sctx = EVP_PKEY_CTX_new_from_pkey(NULL, c->keys[i], NULL);
    int ok = sctx != NULL && EVP_PKEY_sign_init(sctx) == 1 &&
             EVP_PKEY_sign(sctx, sig, &sig_len, input, len) == 1;
    EVP_PKEY_CTX_free(sctx);
    if (!ok)
        return card_error("the key could not sign");
    if (slot == IDM_PIV_SLOT_SIGNATURE)
        c->pin_fresh = 0;
    return idm_buffer_set(signature, sig, sig_len);
}

static int enc_close(int success, void *user_data)
{
    struct card *c = user_data;
    printf("  card: close (%s)\n", success ? "personalized" : "failed");
    c->pin_verified = c->pin_fresh = 0;
    return 0;
}

/* The encoder's destroy callback: the card's keys and PIN go with it. */
static void card_free(void *user_data)
{
    struct card *c = user_data;
    for (int i = 0; i < SLOTS; i++)
        EVP_PKEY_free(c->keys[i]);
    for (int i = 0; i < MAX_OBJECTS; i++)
        free(c->objects[i].value);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

/* A blank card with the factory PIN and PUK, in a new host encoder. */
static int encoder_new(idm_encoder_t **out, struct card **card)
{
    struct card *c = calloc(1, sizeof *c);
    if (c == NULL)
        return IDM_ERR_NO_MEMORY;
    snprintf(c->serial, sizeof c->serial, "EXAMPLE-0001");
    snprintf(c->pin, sizeof c->pin, "123456");
    snprintf(c->puk, sizeof c->puk, "12345678");
    c->tries_left = PIN_TRIES;
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
    int rc = idm_encoder_new(out, &ops, sizeof ops, c, card_free);
    if (rc != IDM_OK) {
        card_free(c);
        return rc;
    }
    *card = c;
    return IDM_OK;
}

/* ---- the program ---------------------------------------------------------- */

/* The PIN letter: the only place the generated secrets go.  Kept here so
 * that the program can check the card took them; a real host prints a
 * PIN mailer and keeps nothing. */
struct pin_letter {
    char pin[16];
    char puk[16];
};

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *user_data)
{
    struct pin_letter *letter = user_data;
    const char *number = NULL;
    idm_card_get_number(card, &number);
    snprintf(letter->pin, sizeof letter->pin, "%s", pin != NULL ? pin : "");
    snprintf(letter->puk, sizeof letter->puk, "%s", puk);
    printf("  PIN letter for card %s: a %zu-digit PIN and an %zu-digit PUK (not shown)\n",
           number, strlen(letter->pin), strlen(letter->puk));
    return 0;
}

static void remove_store(const char *path)
{
    char side[4096];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

/* Whether the card holds this certificate in the slot its usage names,
 * inside the PIV container, with the key it certifies. */
static int on_card(struct card *c, idm_key_usage usage, const unsigned char *der, size_t len)
{
    static const idm_piv_slot slot_of[] = {
        [IDM_USAGE_AUTHENTICATION] = IDM_PIV_SLOT_AUTHENTICATION,
        [IDM_USAGE_SIGNATURE] = IDM_PIV_SLOT_SIGNATURE,
        [IDM_USAGE_ENCRYPTION] = IDM_PIV_SLOT_KEY_MANAGEMENT,
        [IDM_USAGE_CARD_AUTHENTICATION] = IDM_PIV_SLOT_CARD_AUTHENTICATION,
    };
    if ((size_t)usage >= sizeof slot_of / sizeof slot_of[0])
        return 0;
    int i = slot_index(slot_of[usage]);
    const struct object *o = find_object(c, slots[i].certificate);
    if (o == NULL || o->len < 2 || o->value[0] != 0x70)
        return 0;
    size_t inner, at = get_length(o->value + 1, o->value + o->len, &inner);
    if (at == 0 || inner != len || 1 + at + inner > o->len ||
        memcmp(o->value + 1 + at, der, len) != 0)
        return 0;
    X509 *x = d2i_X509(NULL, &der, (long)len);
    int same_key = x != NULL && c->keys[i] != NULL &&
                   EVP_PKEY_eq(X509_get0_pubkey(x), c->keys[i]) == 1;
    X509_free(x);
    return same_key;
}

/* Prints the card's certificates from the store and checks each is on the
 * card; returns how many, or -1. */
static int show_certificates(idm_ctx_t *ctx, int64_t card_id, struct card *chip)
{
    idm_cert_iter_t *it = NULL;
    idm_cert_t *cert = NULL;
    int count = 0;
    if (idm_cert_iter_new(ctx, card_id, &it) != IDM_OK)
        return -1;
    while (idm_cert_iter_next(it, &cert) == IDM_OK && cert != NULL) {
        const char *serial;
        const unsigned char *der;
        size_t len;
        idm_key_usage usage;
        idm_cert_state state;
        if (idm_cert_get_serial(cert, &serial) != IDM_OK ||
            idm_cert_get_der(cert, &der, &len) != IDM_OK ||
            idm_cert_get_usage(cert, &usage) != IDM_OK ||
            idm_cert_get_state(cert, &state) != IDM_OK || !on_card(chip, usage, der, len)) {
            fprintf(stderr, "certificate %d is not on the card as the store has it\n", count);
            count = -1;
        } else {
            printf("  certificate %s: %s, %s, on the card\n", serial, idm_key_usage_name(usage),
                   idm_cert_state_name(state));
            count++;
        }
        idm_cert_free(&cert);
        if (count < 0)
            break;
    }
    idm_cert_iter_free(&it);
    return count;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s STORE.db\n", argv[0]);
        return 2;
    }
    remove_store(argv[1]);
    idm_ctx_t *ctx = NULL;
    TRY(idm_ctx_new(&ctx));
    TRY(idm_ctx_open_store(ctx, argv[1]));
    TRY(idm_options_set_string(ctx, ADMIN, "pin_source", "generated"));
    idm_ca_t *ca = NULL;
    TRY(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Example Issuing CA", 3650));

    /* A holder and an approved Digital ID card. */
    idm_identity_t *person = NULL;
    idm_card_t *card = NULL;
    int64_t holder, card_id;
    TRY(idm_identity_new(ctx, ADMIN, "E1003", &person));
    TRY(idm_identity_set_attribute(person, ADMIN, "givenName", "Grace"));
    TRY(idm_identity_set_attribute(person, ADMIN, "surname", "Hopper"));
    TRY(idm_identity_set_attribute(person, ADMIN, "mail", "grace.hopper@corp.example"));
    TRY(idm_identity_set_state(person, ADMIN, IDM_IDENTITY_ACTIVE));
    TRY(idm_identity_get_id(person, &holder));
    TRY(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL, holder,
                     NULL, &card));
    TRY(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL));
    TRY(idm_card_set_state(card, ADMIN, IDM_CARD_APPROVED, NULL));
    TRY(idm_card_get_id(card, &card_id));

    /* The encoder: the library copies the ops table and calls card_free()
     * when the encoder is freed. */
    idm_encoder_t *enc = NULL;
    struct card *chip = NULL; /* the encoder's; valid until idm_encoder_free() */
    struct pin_letter letter = {{0}, {0}};
    TRY(encoder_new(&enc, &chip));
    TRY(idm_encoder_set_pin_callbacks(enc, NULL, deliver, &letter));

    printf("personalizing a Digital ID card for Grace Hopper:\n");
    TRY(idm_card_personalize(card, ACTOR, enc, ca, 1));

    idm_card_state state;
    const char *number, *serial;
    TRY(idm_card_refresh(card));
    TRY(idm_card_get_state(card, &state));
    TRY(idm_card_get_number(card, &number));
    TRY(idm_card_get_chip_serial(card, &serial));
    printf("card %s: %s, chip %s\n", number, idm_card_state_name(state),
           serial != NULL ? serial : "(none)");
    CHECK(state == IDM_CARD_ISSUED);
    CHECK(serial != NULL && strcmp(serial, chip->serial) == 0);
    /* The card took the PIN the letter carries. */
    CHECK(letter.pin[0] != '\0' && strcmp(letter.pin, chip->pin) == 0 &&
          strcmp(letter.puk, chip->puk) == 0);
    int certificates = show_certificates(ctx, card_id, chip);
    CHECK(certificates == SLOTS);
    printf("summary: card %s issued on chip %s with %d certificates, each on the card with "
           "its key\n", number, serial, certificates);

    OPENSSL_cleanse(&letter, sizeof letter);
    idm_card_free(&card);
    idm_identity_free(&person);
    idm_encoder_free(&enc); /* calls card_free() */
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    return 0;
}
