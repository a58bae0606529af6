/* The in-memory host encoder of the tests (see mem_encoder.h). */
#include "mem_encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "runner.h"

static void called(struct mem_card *c, const char *name)
{
    size_t used = strlen(c->calls);
    snprintf(c->calls + used, sizeof c->calls - used, "%s%s", used ? "," : "", name);
}

/* Returns the fault for method name, if one is set. */
static int fault_for(struct mem_card *c, const char *name)
{
    called(c, name);
    if (c->die_method != NULL && strcmp(c->die_method, name) == 0)
        _exit(0);
    if (c->fail_method != NULL && strcmp(c->fail_method, name) == 0) {
        idm_encoder_backend_error("ribbon empty");
        return c->fail_code;
    }
    return 0;
}

static struct mem_object *object_at(struct mem_card *c, unsigned tag, int create)
{
    for (int i = 0; i < MEM_MAX_OBJECTS; i++) {
        if (c->objects[i].tag == tag)
            return &c->objects[i];
    }
    for (int i = 0; create && i < MEM_MAX_OBJECTS; i++) {
        if (c->objects[i].tag == 0) {
            c->objects[i].tag = tag;
            return &c->objects[i];
        }
    }
    return NULL;
}

/* The card's certificate objects into its file, replaced whole (rename)
 * so that a kill never leaves half a card behind. */
static void persist(struct mem_card *c)
{
    if (c->persist_dir == NULL)
        return;
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s-%04d.certs", c->persist_dir,
             c->serial_prefix != NULL ? c->serial_prefix : "HOST", c->serial_no);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < MEM_MAX_OBJECTS; i++) {
        const struct mem_object *o = &c->objects[i];
        if (o->value == NULL || o->len < 9 || o->value[0] != 0x70)
            continue; /* not a certificate object: 70 82 LL LL <der> ... */
        size_t der_len = ((size_t)o->value[2] << 8) | o->value[3];
        fprintf(f, "%06X ", o->tag);
        for (size_t k = 0; k < der_len; k++)
            fprintf(f, "%02X", o->value[4 + k]);
        fputc('\n', f);
    }
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, path), 0);
}

static int store_object(struct mem_card *c, unsigned tag, const unsigned char *v, size_t len)
{
    struct mem_object *o = object_at(c, tag, 1);
    if (o == NULL)
        return IDM_ERR_CARD;
    free(o->value);
    o->value = malloc(len);
    memcpy(o->value, v, len);
    o->len = len;
    persist(c);
    return 0;
}

static int m_open(int timeout_ms, void *ud)
{
    (void)timeout_ms;
    return fault_for(ud, "open");
}

static int m_serial(char *serial, size_t size, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "card_serial");
    if (rc == 0)
        snprintf(serial, size, "%s-%04d", c->serial_prefix != NULL ? c->serial_prefix : "HOST",
                 c->serial_no);
    return rc;
}

static int m_generate(idm_piv_slot slot, idm_card_key_alg alg, idm_buffer_t *spki, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "generate_key");
    if (rc != 0)
        return rc;
    EVP_PKEY_free(c->keys[slot]);
    c->keys[slot] = alg == IDM_CARD_KEY_RSA_2048 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(c->keys[slot], &der);
    ck_assert_int_gt(len, 0);
    idm_buffer_set(spki, der, (size_t)len);
    OPENSSL_free(der);
    return 0;
}

static int m_write_cert(idm_piv_slot slot, const unsigned char *der, size_t len, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "write_certificate");
    if (rc != 0)
        return rc;
    /* 70 82 LL LL <der> 71 01 00 FE 00, as a PIV card keeps it. */
    unsigned char *obj = malloc(len + 10);
    obj[0] = 0x70;
    obj[1] = 0x82;
    obj[2] = (unsigned char)(len >> 8);
    obj[3] = (unsigned char)len;
    memcpy(obj + 4, der, len);
    memcpy(obj + 4 + len, "\x71\x01\x00\xFE\x00", 5);
    static const unsigned tags[256] = {[0x9A] = 0x5FC105, [0x9C] = 0x5FC10A,
                                       [0x9D] = 0x5FC10B, [0x9E] = 0x5FC101};
    rc = store_object(c, tags[slot], obj, len + 9);
    free(obj);
    return rc;
}

static int m_write_object(idm_piv_object object, const unsigned char *v, size_t len, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "write_object");
    return rc != 0 ? rc : store_object(c, (unsigned)object, v, len);
}

static int m_read_object(idm_piv_object object, idm_buffer_t *value, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "read_object");
    if (rc != 0)
        return rc;
    struct mem_object *o = object_at(c, (unsigned)object, 0);
    if (o == NULL) {
        idm_encoder_backend_error("no such object");
        return IDM_ERR_NOT_FOUND;
    }
    unsigned char *copy = malloc(o->len + 1);
    memcpy(copy, o->value, o->len);
    if (c->corrupt_reads && o->len > 0)
        copy[o->len - 1] ^= 0x01;
    idm_buffer_set(value, copy, o->len);
    free(copy);
    return 0;
}

static int m_set_pin(const char *pin, const char *puk, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "set_pin");
    if (rc == 0) {
        snprintf(c->pin, sizeof c->pin, "%s", pin);
        snprintf(c->puk, sizeof c->puk, "%s", puk);
    }
    return rc;
}

static int m_verify_pin(const char *pin, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "verify_pin");
    if (rc == 0 && strcmp(pin, c->pin) != 0) {
        idm_encoder_backend_error("wrong PIN");
        return IDM_ERR_CARD;
    }
    return rc;
}

static int m_sign(idm_piv_slot slot, idm_card_key_alg alg, const unsigned char *in, size_t len,
                  idm_buffer_t *sig, void *ud)
{
    struct mem_card *c = ud;
    int rc = fault_for(c, "sign");
    if (rc != 0)
        return rc;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(c->keys[slot], NULL);
    ck_assert_int_eq(EVP_PKEY_sign_init(pctx), 1);
    if (alg == IDM_CARD_KEY_RSA_2048)
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_NO_PADDING), 1);
    unsigned char out[512];
    size_t out_len = sizeof out;
    ck_assert_int_eq(EVP_PKEY_sign(pctx, out, &out_len, in, len), 1);
    EVP_PKEY_CTX_free(pctx);
    if (c->bad_signatures)
        out[out_len / 2] ^= 0x40;
    idm_buffer_set(sig, out, out_len);
    return 0;
}

/* The card goes out; the next one is blank. */
static void eject(struct mem_card *c)
{
    for (int i = 0; i < MEM_MAX_OBJECTS; i++) {
        free(c->objects[i].value);
        memset(&c->objects[i], 0, sizeof c->objects[i]);
    }
    for (int i = 0; i < 256; i++) {
        EVP_PKEY_free(c->keys[i]);
        c->keys[i] = NULL;
    }
    c->serial_no++;
}

void mem_card_eject(struct mem_card *c)
{
    eject(c);
}

static int m_close(int success, void *ud)
{
    struct mem_card *c = ud;
    c->closed_with = success;
    int rc = fault_for(c, "close");
    if (rc == 0 && success)
        eject(c);
    return rc;
}

static void mem_card_free(void *ud)
{
    struct mem_card *c = ud;
    eject(c);
    free(c);
}

idm_encoder_t *mem_encoder_new(struct mem_card **card, int with_keys)
{
    idm_encoder_ops ops = IDM_ENCODER_OPS_INIT;
    ops.open = m_open;
    ops.card_serial = m_serial;
    ops.write_certificate = m_write_cert;
    ops.write_object = m_write_object;
    ops.read_object = m_read_object;
    ops.set_pin = m_set_pin;
    ops.verify_pin = m_verify_pin;
    ops.close = m_close;
    if (with_keys) {
        ops.generate_key = m_generate;
        ops.sign = m_sign;
    }
    struct mem_card *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->serial_no = 1;
    idm_encoder_t *enc = NULL;
    ck_ok(idm_encoder_new(&enc, &ops, sizeof ops, c, mem_card_free));
    *card = c;
    return enc;
}

