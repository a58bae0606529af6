/*
 * The host half of the secrets check (check-secrets.sh): a host of the
 * library that logs everything, at the most verbose level the library has
 * (IDM_LOG_DEBUG), while it handles every kind of secret a station meets
 * on the PC/SC stack's virtual PIV card:
 *
 *   - the CA key's passphrase, through the passphrase callback that loads
 *     the CA made by `idm ca create`;
 *   - a management key of the card (AES-128, the one the card was made
 *     with), and a wrong one that the card refuses;
 *   - a PIN and PUK the library generates (order A), and a PIN the holder
 *     chooses through the PIN entry callback (order B);
 *   - the factory PIN and PUK the library changes.
 *
 * Orders A and B are produced; order C, with the wrong management key,
 * fails.  The store's write-ahead log is copied to STORE-wal.copy before
 * the store is closed (closing folds it into the file and removes it).  The PIN delivery callback writes the host's PIN letters, the
 * only place the secrets may go, into LETTERS (lines "pin <card number>
 * <PIN>", "puk <card number> <PUK>").  Every log message goes to LOG;
 * stdout and stderr say what happened, without a secret.
 *
 * Usage: security_secrets_host STORE LOG LETTERS READER CA_DIR MGMT_KEY_HEX WRONG_KEY_HEX
 *   $SECRETS_CA_PASSPHRASE  the CA key's passphrase
 *   $SECRETS_USER_PIN       the PIN the holder of order B's card chooses
 * Exit status: 0 when A and B are completed with their cards issued and C
 * failed on the management key; 1 otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/idm.h>

#define ACTOR "operator:secrets-host"
#define ADMIN "admin:secrets-host"

static int fail(const char *what, int rc)
{
    fprintf(stderr, "secrets host: %s failed: %s (%s)\n", what, idm_last_error_message(),
            idm_strerror_name(rc));
    return 1;
}

#define TRY(call)                    \
    do {                             \
        int rc_ = (call);            \
        if (rc_ != IDM_OK)           \
            return fail(#call, rc_); \
    } while (0)

static void log_line(idm_log_level level, const char *component, const char *message,
                     void *user_data)
{
    fprintf((FILE *)user_data, "[%s] %s: %s\n", idm_log_level_name(level), component, message);
    fflush((FILE *)user_data);
}

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *user_data)
{
    const char *number = NULL;
    idm_card_get_number(card, &number);
    FILE *letters = user_data;
    if (pin != NULL)
        fprintf(letters, "pin %s %s\n", number, pin);
    fprintf(letters, "puk %s %s\n", number, puk);
    fflush(letters);
    return 0;
}

static int enter_pin(const idm_card_t *card, char *pin, size_t size, void *user_data)
{
    (void)card;
    (void)user_data;
    const char *chosen = getenv("SECRETS_USER_PIN");
    if (chosen == NULL || strlen(chosen) >= size)
        return -1;
    memcpy(pin, chosen, strlen(chosen) + 1);
    return 0;
}

static int passphrase(char *buf, size_t size, void *user_data)
{
    (void)user_data;
    const char *p = getenv("SECRETS_CA_PASSPHRASE");
    if (p == NULL || strlen(p) > size)
        return -1;
    memcpy(buf, p, strlen(p));
    return (int)strlen(p);
}

static int hex_key(const char *hex, unsigned char *key, size_t *len)
{
    size_t n = strlen(hex) / 2;
    if (n == 0 || n > 32 || strlen(hex) != 2 * n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return 0;
        key[i] = (unsigned char)v;
    }
    *len = n;
    return 1;
}

/* Copies STORE-wal to STORE-wal.copy while the store is open: SQLite folds
 * the log back into the file and removes it when the last connection
 * closes, and the secrets check wants to look at what was in it too. */
static void keep_wal(const char *store)
{
    char from[4096], to[4200];
    snprintf(from, sizeof from, "%s-wal", store);
    snprintf(to, sizeof to, "%s-wal.copy", store);
    FILE *in = fopen(from, "rb"), *out = in != NULL ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    while (out != NULL && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (out != NULL)
        fclose(out);
    if (in != NULL)
        fclose(in);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = f != NULL ? calloc(1, 65536) : NULL;
    *len = buf != NULL ? fread(buf, 1, 65535, f) : 0;
    if (f != NULL)
        fclose(f);
    return buf;
}

/* An approved Digital ID employee card for a new active identity. */
static int approved_card(idm_ctx_t *ctx, const char *id, const char *given, int64_t *card_id)
{
    idm_identity_t *p = NULL;
    idm_card_t *card = NULL;
    int64_t holder = 0;
    char mail[64];
    snprintf(mail, sizeof mail, "%s@corp.example", id);
    TRY(idm_identity_new(ctx, ADMIN, id, &p));
    TRY(idm_identity_set_attribute(p, ADMIN, "givenName", given));
    TRY(idm_identity_set_attribute(p, ADMIN, "surname", "Host"));
    TRY(idm_identity_set_attribute(p, ADMIN, "mail", mail));
    TRY(idm_identity_set_state(p, ADMIN, IDM_IDENTITY_ACTIVE));
    TRY(idm_identity_get_id(p, &holder));
    TRY(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL, holder,
                     NULL, &card));
    TRY(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL));
    TRY(idm_card_set_state(card, ADMIN, IDM_CARD_APPROVED, NULL));
    TRY(idm_card_get_id(card, card_id));
    idm_card_free(&card);
    idm_identity_free(&p);
    return 0;
}

/* An order of one card, with the options as they are now. */
static int one_card_order(idm_ctx_t *ctx, int64_t card_id, idm_order_t **order)
{
    TRY(idm_order_new(ctx, ADMIN, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                      NULL, order));
    TRY(idm_order_add_card(*order, ADMIN, card_id));
    return 0;
}

/* Runs one order on the encoder; returns the run's result, and the card's
 * state in *state. */
static int produce(idm_ctx_t *ctx, idm_order_t *order, idm_encoder_t *enc, idm_ca_t *ca,
                   int64_t card_id, idm_card_state *state)
{
    idm_station_t *st = NULL;
    idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
    int rc = idm_station_open(&st, order, "secrets-host", enc, ca);
    if (rc == IDM_OK)
        rc = idm_production_run(st, ACTOR, &hooks, sizeof hooks, NULL);
    if (rc != IDM_OK)
        printf("production stopped: %s (%s)\n", idm_last_error_message(),
               idm_strerror_name(rc));
    idm_station_free(&st);
    idm_card_t *card = NULL;
    *state = IDM_CARD_REGISTERED;
    if (idm_card_open(ctx, card_id, &card) == IDM_OK)
        idm_card_get_state(card, state);
    idm_card_free(&card);
    printf("card %" PRId64 ": %s\n", card_id, idm_card_state_name(*state));
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: security_secrets_host STORE LOG LETTERS READER CA_DIR "
                        "MGMT_KEY_HEX WRONG_KEY_HEX\n");
        return 2;
    }
    const char *store = argv[1], *reader = argv[4], *ca_dir = argv[5];
    unsigned char key[32], wrong[32];
    size_t key_len = 0, wrong_len = 0;
    if (!hex_key(argv[6], key, &key_len) || !hex_key(argv[7], wrong, &wrong_len)) {
        fprintf(stderr, "secrets host: the keys are hex\n");
        return 2;
    }
    FILE *log = fopen(argv[2], "w"), *letters = fopen(argv[3], "w");
    if (log == NULL || letters == NULL) {
        perror("secrets host");
        return 1;
    }

    idm_ctx_t *ctx = NULL;
    TRY(idm_ctx_new(&ctx));
    TRY(idm_ctx_set_log_callback(ctx, log_line, log));
    TRY(idm_ctx_set_log_level(ctx, IDM_LOG_DEBUG));
    TRY(idm_ctx_open_store(ctx, store));
    TRY(idm_options_set_string(ctx, ADMIN, "card_key_slots", "9A,9C"));

    int64_t a = 0, b = 0, c = 0;
    idm_order_t *order_a = NULL, *order_b = NULL, *order_c = NULL;
    if (approved_card(ctx, "H1", "Ada", &a) || approved_card(ctx, "H2", "Bo", &b) ||
        approved_card(ctx, "H3", "Cy", &c))
        return 1;
    TRY(idm_options_set_string(ctx, ADMIN, "pin_source", "generated"));
    if (one_card_order(ctx, a, &order_a))
        return 1;
    TRY(idm_options_set_string(ctx, ADMIN, "pin_source", "user"));
    if (one_card_order(ctx, b, &order_b))
        return 1;
    TRY(idm_options_set_string(ctx, ADMIN, "pin_source", "generated"));
    if (one_card_order(ctx, c, &order_c))
        return 1;

    /* the CA of `idm ca create`, its key opened with the passphrase */
    char path[4096];
    size_t cert_len = 0, key_pem_len = 0;
    snprintf(path, sizeof path, "%s/ca.crt", ca_dir);
    char *cert_pem = read_file(path, &cert_len);
    snprintf(path, sizeof path, "%s/ca.key", ca_dir);
    char *key_pem = read_file(path, &key_pem_len);
    idm_ca_t *ca = NULL;
    if (cert_pem == NULL || key_pem == NULL) {
        fprintf(stderr, "secrets host: cannot read the CA in %s\n", ca_dir);
        return 1;
    }
    TRY(idm_ca_new_openssl_pem(&ca, ctx, cert_pem, cert_len, key_pem, key_pem_len, passphrase,
                               NULL));

    idm_encoder_t *enc = NULL;
    TRY(idm_encoder_new_pcsc(&enc, ctx));
    TRY(idm_encoder_pcsc_set_reader(enc, reader));
    TRY(idm_encoder_set_timeout(enc, 10000));
    TRY(idm_encoder_pcsc_set_management_key(enc, IDM_MGMT_KEY_AES128, key, key_len));
    TRY(idm_encoder_set_pin_callbacks(enc, enter_pin, deliver, letters));

    idm_card_state state_a, state_b, state_c;
    int rc_a = produce(ctx, order_a, enc, ca, a, &state_a);
    int rc_b = produce(ctx, order_b, enc, ca, b, &state_b);
    /* a station with the wrong management key: the card refuses it */
    TRY(idm_encoder_pcsc_set_management_key(enc, IDM_MGMT_KEY_AES128, wrong, wrong_len));
    int rc_c = produce(ctx, order_c, enc, ca, c, &state_c);

    int64_t broken = 0;
    int audit = idm_audit_verify(ctx, &broken);
    printf("audit chain: %s\n", audit == IDM_OK ? "intact" : idm_last_error_message());
    keep_wal(store);
    idm_encoder_free(&enc);
    idm_ca_free(&ca);
    idm_order_free(&order_a);
    idm_order_free(&order_b);
    idm_order_free(&order_c);
    idm_ctx_free(&ctx);
    free(cert_pem);
    free(key_pem);
    fclose(log);
    fclose(letters);
    int ok = rc_a == IDM_OK && state_a == IDM_CARD_ISSUED && rc_b == IDM_OK &&
             state_b == IDM_CARD_ISSUED && rc_c != IDM_OK && state_c != IDM_CARD_ISSUED &&
             audit == IDM_OK;
    printf("secrets host: %s\n", ok ? "A and B issued, C refused by the card" : "FAILED");
    return ok ? 0 : 1;
}
