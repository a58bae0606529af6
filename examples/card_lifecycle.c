/*
 * Card lifecycle on a real store: imports identities from CSV, requests a
 * Digital ID employee card for each, approves them, and takes the first one
 * through issue and activation with a logon certificate from the built-in
 * CA; then prints what the store and its audit trail say.
 * Run: idm-example-card-lifecycle [--new] STORE.db PEOPLE.csv
 * (--new starts from an empty store, removing STORE.db first).
 *
 * No card reader is needed: a key made with libcrypto stands in for the
 * key a card generates, and the states are moved by hand to show the
 * model.  personalize_card.c does the same on a real card with
 * idm_card_personalize().
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include <idm/idm.h>

#define ACTOR "operator:demo"

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s failed: %s (%s)\n", what, idm_last_error_message(),
            idm_strerror_name(rc));
    return 1;
}

#define TRY(call)                  \
    do {                           \
        int rc_ = (call);          \
        if (rc_ != IDM_OK)         \
            return fail(#call, rc_); \
    } while (0)

static int request_cards(idm_ctx_t *ctx, size_t *requested)
{
    idm_identity_iter_t *it = NULL;
    idm_identity_t *person = NULL;
    TRY(idm_identity_iter_new(ctx, &it));
    TRY(idm_identity_iter_set_state(it, IDM_IDENTITY_ACTIVE));
    while (idm_identity_iter_next(it, &person) == IDM_OK && person != NULL) {
        int64_t id;
        const char *cn;
        idm_card_t *card = NULL;
        TRY(idm_identity_get_id(person, &id));
        TRY(idm_identity_get_common_name(person, &cn));
        TRY(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL, id,
                         NULL, &card));
        TRY(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, "requested by the demo"));
        TRY(idm_card_set_state(card, "admin:demo", IDM_CARD_APPROVED, "approved by the demo"));
        const char *number;
        TRY(idm_card_get_number(card, &number));
        printf("  card %s for %s: approved\n", number, cn != NULL ? cn : "(no name)");
        idm_card_free(&card);
        idm_identity_free(&person);
        (*requested)++;
    }
    idm_identity_iter_free(&it);
    return 0;
}

/* Removes a store and the -wal and -shm files SQLite keeps beside it. */
static void remove_store(const char *path)
{
    char side[4096];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

int main(int argc, char **argv)
{
    int fresh = argc > 1 && strcmp(argv[1], "--new") == 0;
    if (argc != 3 + fresh) {
        fprintf(stderr, "usage: %s [--new] STORE.db PEOPLE.csv\n", argv[0]);
        return 2;
    }
    const char *store = argv[1 + fresh], *people = argv[2 + fresh];
    if (fresh)
        remove_store(store);
    idm_ctx_t *ctx = NULL;
    TRY(idm_ctx_new(&ctx));
    TRY(idm_ctx_open_store(ctx, store));

    size_t imported = 0, requested = 0;
    TRY(idm_options_set_string(ctx, "admin:demo", "upn_template",
                               "${employeeNumber}@corp.example"));
    TRY(idm_identity_import_csv(ctx, "admin:demo", people, "employeeNumber", IDM_IDENTITY_ACTIVE,
                                &imported));
    printf("imported %zu identities from %s into %s\n", imported, people, store);
    if (request_cards(ctx, &requested) != 0)
        return 1;

    /* One card all the way to active: its state, and its audit trail. */
    idm_card_iter_t *it = NULL;
    idm_card_t *card = NULL;
    TRY(idm_card_iter_new(ctx, &it));
    TRY(idm_card_iter_set_state(it, IDM_CARD_APPROVED));
    TRY(idm_card_iter_next(it, &card));
    idm_card_iter_free(&it);
    if (card == NULL)
        return fail("finding an approved card", IDM_ERR_NOT_FOUND);
    /* Digital ID: the CA certifies the card's key; the store records the
     * certificate before it would be written to the card. */
    idm_ca_t *ca = NULL;
    idm_cert_t *cert = NULL;
    TRY(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "libidm Demo Issuing CA", 3650));
    EVP_PKEY *card_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    unsigned char *spki = NULL;
    int spki_len = card_key != NULL ? i2d_PUBKEY(card_key, &spki) : -1;
    if (spki_len <= 0)
        return fail("making a stand-in card key", IDM_ERR_CRYPTO);
    TRY(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_AUTHENTICATION, spki,
                                   (size_t)spki_len, 1, &cert));
    const char *serial_ref;
    char serial[64];
    TRY(idm_cert_get_serial(cert, &serial_ref));
    snprintf(serial, sizeof serial, "%s", serial_ref); /* outlives the handle below */
    printf("logon certificate %s issued by the built-in CA\n", serial);
    OPENSSL_free(spki);
    EVP_PKEY_free(card_key);

    TRY(idm_card_set_state(card, ACTOR, IDM_CARD_ISSUED, "produced and verified"));
    TRY(idm_card_set_state(card, ACTOR, IDM_CARD_ACTIVE, "handed to the holder"));
    /* The certificate followed its card: on hold while issued, valid now. */
    int64_t cert_id;
    idm_cert_state cert_state;
    TRY(idm_cert_get_id(cert, &cert_id));
    idm_cert_free(&cert);
    TRY(idm_cert_open(ctx, cert_id, &cert));
    TRY(idm_cert_get_state(cert, &cert_state));
    printf("certificate %s is now %s\n", serial, idm_cert_state_name(cert_state));

    /* An illegal move is refused with the card, its state and the target. */
    int rc = idm_card_set_state(card, ACTOR, IDM_CARD_ORDERED, NULL);
    printf("illegal move refused: %s: %s\n", idm_strerror_name(rc), idm_last_error_message());

    int64_t card_id;
    const char *number;
    TRY(idm_card_get_id(card, &card_id));
    TRY(idm_card_get_number(card, &number));
    printf("audit trail of card %s:\n", number);
    idm_audit_iter_t *events = NULL;
    idm_audit_event_t *ev = NULL;
    TRY(idm_audit_iter_new(ctx, &events));
    TRY(idm_audit_iter_set_object(events, IDM_OBJECT_CARD, card_id));
    while (idm_audit_iter_next(events, &ev) == IDM_OK && ev != NULL) {
        int64_t seq;
        const char *actor, *from, *to, *detail;
        TRY(idm_audit_event_get_seq(ev, &seq, NULL));
        TRY(idm_audit_event_get_actor(ev, &actor));
        TRY(idm_audit_event_get_states(ev, &from, &to));
        TRY(idm_audit_event_get_detail(ev, &detail));
        printf("  #%-5" PRId64 " %-14s %-10s -> %-10s %s\n", seq, actor, from ? from : "-",
               to ? to : "-", detail);
        idm_audit_event_free(&ev);
    }
    idm_audit_iter_free(&events);
    idm_card_free(&card);
    idm_cert_free(&cert);
    idm_ca_free(&ca);

    int64_t broken = 0;
    TRY(idm_audit_verify(ctx, &broken));
    printf("%zu cards approved; audit chain verified\n", requested);
    idm_ctx_free(&ctx);
    return 0;
}
