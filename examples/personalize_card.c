/*
 * Personalizes one card in a PC/SC reader: a new store, a built-in CA, one
 * employee, an approved Digital ID (or Physical ID) card, and
 * idm_card_personalize() with the built-in PC/SC encoder, which generates
 * the keys on the card, has the CA certify them, writes certificates,
 * CHUID, CCC and Printed Information, sets a generated PIN and PUK and
 * verifies everything it wrote.
 *
 * Run: idm-example-personalize-card [options] STORE.db
 *   --reader NAME     the reader (default: the first one with a card)
 *   --physical        a Physical ID card (no keys, no certificates)
 *   --rsa             RSA-2048 keys instead of P-256
 *   --slots LIST      PIV slots, e.g. 9A,9C (default 9A,9C,9D,9E)
 *   --name "G S"      the cardholder's given name and surname
 *   --secrets FILE    where the PIN letter goes (PIN and PUK, mode 0600);
 *                     without it they are printed, as on a PIN mailer
 *   --ca-out FILE     write the CA certificate (PEM) there
 * The store is created afresh (an existing file is removed first).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <idm/idm.h>

#define ACTOR "station:example"

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

struct options {
    const char *store;
    const char *reader;
    const char *slots;
    const char *given;
    const char *surname;
    const char *secrets;
    const char *ca_out;
    int physical;
    int rsa;
};

/* The PIN letter: the only place the generated secrets go. */
static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *user_data)
{
    const struct options *o = user_data;
    const char *number = NULL;
    idm_card_get_number(card, &number);
    if (o->secrets == NULL) {
        printf("PIN letter for card %s: PIN %s, PUK %s\n", number, pin != NULL ? pin : "(chosen)",
               puk);
        return 0;
    }
    int fd = open(o->secrets, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        idm_encoder_backend_error("cannot write the PIN letter");
        return 1;
    }
    fprintf(f, "PIN=%s\nPUK=%s\n", pin != NULL ? pin : "", puk);
    return fclose(f) == 0 ? 0 : 1;
}

static int parse(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->given = "Ada";
    o->surname = "Lovelace";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--physical") == 0) {
            o->physical = 1;
        } else if (strcmp(a, "--rsa") == 0) {
            o->rsa = 1;
        } else if (next != NULL && strcmp(a, "--reader") == 0) {
            o->reader = argv[++i];
        } else if (next != NULL && strcmp(a, "--slots") == 0) {
            o->slots = argv[++i];
        } else if (next != NULL && strcmp(a, "--secrets") == 0) {
            o->secrets = argv[++i];
        } else if (next != NULL && strcmp(a, "--ca-out") == 0) {
            o->ca_out = argv[++i];
        } else if (next != NULL && strcmp(a, "--name") == 0) {
            static char name[256];
            snprintf(name, sizeof name, "%s", argv[++i]);
            char *space = strchr(name, ' ');
            if (space == NULL)
                return 0;
            *space = '\0';
            o->given = name;
            o->surname = space + 1;
        } else if (a[0] != '-' && o->store == NULL) {
            o->store = a;
        } else {
            return 0;
        }
    }
    return o->store != NULL;
}

static int write_ca(idm_ca_t *ca, const char *path)
{
    idm_buffer_t *der = NULL;
    const unsigned char *p;
    size_t len;
    TRY(idm_buffer_new(&der));
    TRY(idm_ca_get_certificate(ca, der));
    TRY(idm_buffer_get(der, &p, &len));
    X509 *x = d2i_X509(NULL, &p, (long)len);
    FILE *f = fopen(path, "w");
    int ok = x != NULL && f != NULL && PEM_write_X509(f, x) == 1;
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    X509_free(x);
    idm_buffer_free(&der);
    if (!ok)
        fprintf(stderr, "cannot write %s\n", path);
    return ok ? 0 : 1;
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

static int print_certificates(idm_ctx_t *ctx, int64_t card_id)
{
    idm_cert_iter_t *it = NULL;
    idm_cert_t *cert = NULL;
    TRY(idm_cert_iter_new(ctx, card_id, &it));
    while (idm_cert_iter_next(it, &cert) == IDM_OK && cert != NULL) {
        const char *serial;
        idm_key_usage usage;
        idm_cert_state state;
        TRY(idm_cert_get_serial(cert, &serial));
        TRY(idm_cert_get_usage(cert, &usage));
        TRY(idm_cert_get_state(cert, &state));
        printf("  certificate %s: %s, %s\n", serial, idm_key_usage_name(usage),
               idm_cert_state_name(state));
        idm_cert_free(&cert);
    }
    idm_cert_iter_free(&it);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    if (!parse(argc, argv, &o)) {
        fprintf(stderr, "usage: %s [--reader NAME] [--physical] [--rsa] [--slots LIST] "
                "[--name \"GIVEN SURNAME\"] [--secrets FILE] [--ca-out FILE] STORE.db\n",
                argv[0]);
        return 2;
    }
    remove_store(o.store);

    idm_ctx_t *ctx = NULL;
    idm_ca_t *ca = NULL;
    idm_encoder_t *enc = NULL;
    idm_identity_t *person = NULL;
    idm_card_t *card = NULL;
    TRY(idm_ctx_new(&ctx));
    TRY(idm_ctx_open_store(ctx, o.store));
    TRY(idm_options_set_string(ctx, ACTOR, "pin_source", "generated"));
    if (o.rsa)
        TRY(idm_options_set_string(ctx, ACTOR, "card_key_algorithm", "rsa2048"));
    if (o.slots != NULL)
        TRY(idm_options_set_string(ctx, ACTOR, "card_key_slots", o.slots));
    TRY(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Example Issuing CA", 3650));
    if (o.ca_out != NULL && write_ca(ca, o.ca_out) != 0)
        return 1;

    TRY(idm_identity_new(ctx, ACTOR, "E0001", &person));
    TRY(idm_identity_set_attribute(person, ACTOR, "givenName", o.given));
    TRY(idm_identity_set_attribute(person, ACTOR, "surname", o.surname));
    TRY(idm_identity_set_attribute(person, ACTOR, "mail", "holder@example.com"));
    TRY(idm_identity_set_state(person, ACTOR, IDM_IDENTITY_ACTIVE));
    int64_t holder;
    TRY(idm_identity_get_id(person, &holder));
    TRY(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, o.physical ? IDM_CARD_PHYSICAL : IDM_CARD_DIGITAL,
                     IDM_PRODUCTION_LOCAL, holder, NULL, &card));
    TRY(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL));
    TRY(idm_card_set_state(card, "admin:example", IDM_CARD_APPROVED, NULL));

    TRY(idm_encoder_new_pcsc(&enc, ctx));
    if (o.reader != NULL)
        TRY(idm_encoder_pcsc_set_reader(enc, o.reader));
    TRY(idm_encoder_set_timeout(enc, 10000));
    TRY(idm_encoder_set_pin_callbacks(enc, NULL, deliver, &o));
    TRY(idm_card_personalize(card, ACTOR, enc, o.physical ? NULL : ca, 1));

    const char *number, *chip;
    int64_t card_id;
    uint64_t apdus, bytes, card_us;
    TRY(idm_card_get_number(card, &number));
    TRY(idm_card_get_chip_serial(card, &chip));
    TRY(idm_card_get_id(card, &card_id));
    TRY(idm_encoder_get_stats(enc, &apdus, &bytes, &card_us));
    printf("card %s personalized and verified on chip %s: %" PRIu64 " APDUs, %" PRIu64
           " bytes, %.1f ms in the card\n", number, chip, apdus, bytes, (double)card_us / 1000.0);
    if (print_certificates(ctx, card_id) != 0)
        return 1;

    idm_card_free(&card);
    idm_identity_free(&person);
    idm_encoder_free(&enc);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    return 0;
}
