/*
 * Mass production, the main job of libidm, on a real store with real card
 * readers: a new store, the built-in CA, the identities of a CSV file and an
 * approved Digital ID employee card for each; one mass production order
 * with all of them; then one station per PC/SC reader that holds a card,
 * each in a thread of its own, runs the order with idm_production_run():
 * keys generated on the card, certificates from the CA recorded in the
 * store before they go onto the card, CHUID, CCC, Printed Information, a
 * generated PIN and PUK, everything read back and verified.  The stations
 * share the order; the store gives each card to exactly one of them.  At
 * the end it prints the order, every card, and the audit chain's check.
 *
 * Run: idm-example-mass-production [--readers N] STORE.db PEOPLE.csv
 *   --readers N   use at most N readers (default: every reader with a card)
 * The store is created afresh (an existing file is removed first); the CSV
 * has a header row and an employeeNumber column (examples/data/people.csv).
 * Each reader needs a blank card for every card of the order, as a
 * printer-encoder's feeder gives them; the project's virtual cards do that
 * in hopper mode:
 *   tests/vcard/with-stack.sh . --readers 2 --hopper -- \
 *     build/examples/idm-example-mass-production build/mp.db examples/data/people.csv
 * Exit status: 0 when the order is completed and every card issued.
 */
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <idm/idm.h>

#define ACTOR "operator:example"
#define ADMIN "admin:example"
#define MAX_READERS 16
#define CARD_WAIT_MS 10000
#define PASSPHRASE_SIZE 33 /* 16 random bytes in hex */

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

/* The stations print from their threads: one line at a time. */
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

/* What a station thread needs, and what it reports back. */
struct station {
    pthread_t thread;
    char name[32];            /* "station-<the reader's place in pcscd's list>" */
    char reader[256];
    const char *store;
    int64_t order_id;
    size_t cards;             /* in the order */
    const char *ca_pem;       /* the one CA, loaded by each station for itself */
    const char *key_pem;
    const char *passphrase;
    idm_ctx_t *ctx;           /* the station's own context, for its hooks */
    int produced;
    int rc;
    char error[768];
};

/* ---- the station's hooks ----------------------------------------------- */

/* The holder's common name, read in the station's own context. */
static void holder_name(idm_ctx_t *ctx, const idm_card_t *card, char *out, size_t size)
{
    int64_t holder = 0;
    idm_identity_t *person = NULL;
    const char *cn = NULL;
    snprintf(out, size, "no holder");
    if (idm_card_get_identity_id(card, &holder) == IDM_OK && holder != 0 &&
        idm_identity_open(ctx, holder, &person) == IDM_OK &&
        idm_identity_get_common_name(person, &cn) == IDM_OK && cn != NULL)
        snprintf(out, size, "%s", cn);
    idm_identity_free(&person);
}

/* The PIN letter: the only place the generated secrets ever go.  The
 * library calls this before the card takes them, so a crash cannot lose
 * them; if the card then fails, the letter is void. */
static int print_pin_letter(const idm_card_t *card, const char *pin, const char *puk,
                            void *user_data)
{
    struct station *s = user_data;
    const char *number = NULL;
    char holder[128];
    idm_card_get_number(card, &number);
    holder_name(s->ctx, card, holder, sizeof holder);
    pthread_mutex_lock(&print_lock);
    printf("%s: PIN letter for card %s (%s): PIN %s, PUK %s\n", s->name, number, holder,
           pin != NULL ? pin : "(chosen by the holder)", puk);
    pthread_mutex_unlock(&print_lock);
    return 0;
}

/* After each card: the chip it went onto, read from the store. */
static int on_progress(const idm_order_t *order, int64_t card_id,
                       idm_order_card_outcome outcome, void *user_data)
{
    struct station *s = user_data;
    idm_card_t *card = NULL;
    const char *number = "?", *chip = NULL;
    char holder[128] = "?";
    if (idm_card_open(s->ctx, card_id, &card) == IDM_OK) {
        idm_card_get_number(card, &number);
        idm_card_get_chip_serial(card, &chip);
        holder_name(s->ctx, card, holder, sizeof holder);
    }
    int64_t done = 0;
    idm_order_count_cards(order, IDM_OUTCOME_PRODUCED, &done);
    if (outcome == IDM_OUTCOME_PRODUCED)
        s->produced++;
    pthread_mutex_lock(&print_lock);
    if (outcome == IDM_OUTCOME_PRODUCED) {
        printf("%s: card %s (%s) produced on chip %s [%" PRId64 "/%zu]\n", s->name, number,
               holder, chip != NULL ? chip : "?", done, s->cards);
    } else {
        idm_buffer_t *why = NULL;
        const unsigned char *text = NULL;
        size_t len = 0;
        if (idm_buffer_new(&why) == IDM_OK &&
            idm_order_get_card_outcome(order, card_id, NULL, NULL, why) == IDM_OK)
            idm_buffer_get(why, &text, &len);
        printf("%s: card %s (%s) %s: %.*s\n", s->name, number, holder,
               idm_order_card_outcome_name(outcome), (int)len,
               text != NULL ? (const char *)text : "");
        idm_buffer_free(&why);
    }
    pthread_mutex_unlock(&print_lock);
    idm_card_free(&card);
    return 0;
}

/* The administrator's answer once no card is left.  An example has no
 * administrator to ask, so the order is complete: skipped cards stay
 * skipped (*more = 1 would check them again). */
static int on_no_card_left(const idm_order_t *order, int *more, void *user_data)
{
    (void)order;
    (void)more;
    (void)user_data;
    return 0;
}

/* ---- a station thread --------------------------------------------------- */

static int passphrase_cb(char *buf, size_t size, void *user_data)
{
    const char *p = user_data;
    size_t len = strlen(p);
    if (len > size)
        return -1;
    memcpy(buf, p, len);
    return (int)len;
}

#define STEP(s, call)                                                              \
    do {                                                                           \
        int rc_ = (call);                                                          \
        if (rc_ != IDM_OK) {                                                       \
            (s)->rc = rc_;                                                         \
            snprintf((s)->error, sizeof (s)->error, "%s failed: %s (%s)", #call,   \
                     idm_last_error_message(), idm_strerror_name(rc_));            \
            goto out;                                                              \
        }                                                                          \
    } while (0)

/* One station, as another process could run it: its own context on the
 * store, its own handle of the CA and of the order, its own encoder. */
static void *station_main(void *arg)
{
    struct station *s = arg;
    idm_ca_t *ca = NULL;
    idm_order_t *order = NULL;
    idm_encoder_t *enc = NULL;
    idm_station_t *st = NULL;
    STEP(s, idm_ctx_new(&s->ctx));
    STEP(s, idm_ctx_open_store(s->ctx, s->store));
    STEP(s, idm_ca_new_openssl_pem(&ca, s->ctx, s->ca_pem, strlen(s->ca_pem), s->key_pem,
                                   strlen(s->key_pem), passphrase_cb, (void *)s->passphrase));
    STEP(s, idm_order_open(s->ctx, s->order_id, &order));
    STEP(s, idm_encoder_new_pcsc(&enc, s->ctx));
    STEP(s, idm_encoder_pcsc_set_reader(enc, s->reader));
    /* How long a station waits for the feeder's next blank card. */
    STEP(s, idm_encoder_set_timeout(enc, CARD_WAIT_MS));
    STEP(s, idm_encoder_set_pin_callbacks(enc, NULL, print_pin_letter, s));
    STEP(s, idm_station_open(&st, order, s->name, enc, ca));

    idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
    hooks.progress = on_progress;
    hooks.complete_or_more = on_no_card_left;
    STEP(s, idm_production_run(st, ACTOR, &hooks, sizeof hooks, s));
out:
    idm_station_free(&st);
    idm_encoder_free(&enc);
    idm_order_free(&order);
    idm_ca_free(&ca);
    idm_ctx_free(&s->ctx);
    return NULL;
}

/* ---- setting up --------------------------------------------------------- */

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

/* A Digital ID employee card for every active identity, approved. */
static int request_cards(idm_ctx_t *ctx, size_t *approved)
{
    idm_identity_iter_t *it = NULL;
    idm_identity_t *person = NULL;
    TRY(idm_identity_iter_new(ctx, &it));
    TRY(idm_identity_iter_set_state(it, IDM_IDENTITY_ACTIVE));
    while (idm_identity_iter_next(it, &person) == IDM_OK && person != NULL) {
        int64_t holder;
        idm_card_t *card = NULL;
        TRY(idm_identity_get_id(person, &holder));
        TRY(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL,
                         holder, NULL, &card));
        TRY(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, "requested by the example"));
        TRY(idm_card_set_state(card, ADMIN, IDM_CARD_APPROVED, "approved by the example"));
        idm_card_free(&card);
        idm_identity_free(&person);
        (*approved)++;
    }
    idm_identity_iter_free(&it);
    return 0;
}

/* A NUL-terminated copy of len bytes. */
static char *copy_text(const void *data, size_t len)
{
    char *t = malloc(len + 1);
    if (t != NULL) {
        memcpy(t, data, len);
        t[len] = '\0';
    }
    return t;
}

/* The CA as PEM texts, its key encrypted with a passphrase made for this
 * run, so that every station loads a CA handle of its own (a handle
 * belongs to one context).  The key never touches the disk. */
static int export_ca(idm_ctx_t *ctx, idm_ca_t *ca, char passphrase[PASSPHRASE_SIZE],
                     char **cert_pem, char **key_pem)
{
    unsigned char random[(PASSPHRASE_SIZE - 1) / 2];
    TRY(idm_ctx_random_bytes(ctx, random, sizeof random));
    for (size_t i = 0; i < sizeof random; i++)
        snprintf(passphrase + 2 * i, 3, "%02x", random[i]);
    OPENSSL_cleanse(random, sizeof random);

    idm_buffer_t *der = NULL, *key = NULL;
    const unsigned char *p;
    size_t len;
    TRY(idm_buffer_new(&der));
    TRY(idm_buffer_new(&key));
    TRY(idm_ca_get_certificate(ca, der));
    TRY(idm_ca_export_key(ca, passphrase_cb, passphrase, key));
    /* idm_ca_new_openssl_pem() takes PEM; the certificate comes as DER. */
    TRY(idm_buffer_get(der, &p, &len));
    X509 *x = d2i_X509(NULL, &p, (long)len);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = 0;
    if (x != NULL && bio != NULL && PEM_write_bio_X509(bio, x) == 1)
        n = BIO_get_mem_data(bio, &data);
    *cert_pem = n > 0 ? copy_text(data, (size_t)n) : NULL;
    TRY(idm_buffer_get(key, &p, &len));
    *key_pem = copy_text(p, len);
    BIO_free(bio);
    X509_free(x);
    idm_buffer_free(&der);
    idm_buffer_free(&key);
    if (*cert_pem == NULL || *key_pem == NULL) {
        fprintf(stderr, "cannot convert the CA certificate to PEM\n");
        return 1;
    }
    return 0;
}

/* The readers that hold a card, in pcscd's order, at most max of them. */
static int readers_with_card(struct station *st, int max, int *count)
{
    idm_buffer_t *list = NULL;
    const unsigned char *names;
    size_t names_len, nreaders = 0;
    TRY(idm_buffer_new(&list));
    TRY(idm_encoder_pcsc_list_readers(list, &nreaders));
    TRY(idm_buffer_get(list, &names, &names_len));
    *count = 0;
    int index = 0;
    for (size_t at = 0; at < names_len && *count < max && *count < MAX_READERS; index++) {
        const char *name = (const char *)names + at;
        at += strlen(name) + 1;
        int rc = idm_encoder_pcsc_wait_card(name, 0); /* one look, no waiting */
        if (rc == IDM_ERR_TIMEOUT)
            continue; /* an empty reader */
        if (rc != IDM_OK) {
            idm_buffer_free(&list);
            return fail("idm_encoder_pcsc_wait_card", rc);
        }
        struct station *s = &st[(*count)++];
        snprintf(s->name, sizeof s->name, "station-%d", index);
        snprintf(s->reader, sizeof s->reader, "%s", name);
    }
    idm_buffer_free(&list);
    if (*count == 0) {
        fprintf(stderr, "no reader holds a card (pcscd knows %zu reader%s)\n", nreaders,
                nreaders == 1 ? "" : "s");
        return 1;
    }
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- after the run ------------------------------------------------------- */

/* The order's state and counts, every card, the audit chain.  0 when the
 * order is completed and every card issued. */
static int report(idm_ctx_t *ctx, idm_order_t *order, int64_t order_id)
{
    idm_order_state state;
    int64_t produced, skipped, failed;
    TRY(idm_order_refresh(order));
    TRY(idm_order_get_state(order, &state));
    TRY(idm_order_count_cards(order, IDM_OUTCOME_PRODUCED, &produced));
    TRY(idm_order_count_cards(order, IDM_OUTCOME_SKIPPED, &skipped));
    TRY(idm_order_count_cards(order, IDM_OUTCOME_FAILED, &failed));
    printf("order %" PRId64 " is %s: %" PRId64 " produced, %" PRId64 " skipped, %" PRId64
           " failed\n", order_id, idm_order_state_name(state), produced, skipped, failed);

    int all_issued = 1;
    idm_card_iter_t *it = NULL;
    idm_card_t *card = NULL;
    TRY(idm_card_iter_new(ctx, &it));
    TRY(idm_card_iter_set_order(it, order_id));
    while (idm_card_iter_next(it, &card) == IDM_OK && card != NULL) {
        const char *number, *chip;
        idm_card_state cs;
        TRY(idm_card_get_number(card, &number));
        TRY(idm_card_get_state(card, &cs));
        TRY(idm_card_get_chip_serial(card, &chip));
        printf("  card %s: %-8s chip %s\n", number, idm_card_state_name(cs),
               chip != NULL ? chip : "-");
        if (cs != IDM_CARD_ISSUED)
            all_issued = 0;
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);

    int64_t broken = 0;
    int rc = idm_audit_verify(ctx, &broken);
    if (rc == IDM_OK)
        printf("audit chain verified\n");
    else
        printf("audit chain broken at event %" PRId64 ": %s\n", broken,
               idm_last_error_message());
    return state == IDM_ORDER_COMPLETED && all_issued && rc == IDM_OK ? 0 : 1;
}

static int parse(int argc, char **argv, int *max_readers, const char **store,
                 const char **people)
{
    *max_readers = MAX_READERS;
    *store = *people = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--readers") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end != '\0' || n < 1 || n > MAX_READERS)
                return 0;
            *max_readers = (int)n;
        } else if (argv[i][0] != '-' && *store == NULL) {
            *store = argv[i];
        } else if (argv[i][0] != '-' && *people == NULL) {
            *people = argv[i];
        } else {
            return 0;
        }
    }
    return *store != NULL && *people != NULL;
}

int main(int argc, char **argv)
{
    int max_readers;
    const char *store, *people;
    if (!parse(argc, argv, &max_readers, &store, &people)) {
        fprintf(stderr, "usage: %s [--readers N] STORE.db PEOPLE.csv  (N: 1..%d)\n", argv[0],
                MAX_READERS);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* the stations' lines as they come */

    /* The readers first: without a card to write there is nothing to do. */
    static struct station stations[MAX_READERS];
    int nstations = 0;
    if (readers_with_card(stations, max_readers, &nstations) != 0)
        return 1;
    remove_store(store);

    /* The store, its options, the CA, the people and their cards. */
    idm_ctx_t *ctx = NULL;
    idm_ca_t *ca = NULL;
    size_t imported = 0, approved = 0;
    TRY(idm_ctx_new(&ctx));
    TRY(idm_ctx_open_store(ctx, store));
    TRY(idm_options_set_string(ctx, ADMIN, "pin_source", "generated"));
    TRY(idm_options_set_string(ctx, ADMIN, "pin_delivery", "print"));
    TRY(idm_options_set_string(ctx, ADMIN, "upn_template", "${employeeNumber}@corp.example"));
    TRY(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Example Issuing CA", 3650));
    TRY(idm_identity_import_csv(ctx, ADMIN, people, "employeeNumber", IDM_IDENTITY_ACTIVE,
                                &imported));
    if (request_cards(ctx, &approved) != 0)
        return 1;
    printf("imported %zu identities from %s into %s; %zu Digital ID cards approved\n", imported,
           people, store, approved);

    /* The order: every approved card of its type and option. */
    idm_order_t *order = NULL;
    int64_t order_id;
    size_t added = 0;
    const char *process;
    TRY(idm_order_new(ctx, ADMIN, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                      NULL, &order));
    TRY(idm_order_add_approved(order, ADMIN, 0, &added));
    TRY(idm_order_get_id(order, &order_id));
    TRY(idm_process_name(IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, &process));
    printf("order %" PRId64 " (%s): %zu cards\n", order_id, process, added);

    /* One station per reader with a card, each in its own thread. */
    char passphrase[PASSPHRASE_SIZE] = "";
    char *ca_pem = NULL, *key_pem = NULL;
    if (export_ca(ctx, ca, passphrase, &ca_pem, &key_pem) != 0)
        return 1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < nstations; i++) {
        struct station *s = &stations[i];
        s->store = store;
        s->order_id = order_id;
        s->cards = added;
        s->ca_pem = ca_pem;
        s->key_pem = key_pem;
        s->passphrase = passphrase;
        printf("%s on reader '%s'\n", s->name, s->reader);
        if (pthread_create(&s->thread, NULL, station_main, s) != 0) {
            fprintf(stderr, "cannot start the thread of %s\n", s->name);
            return 1;
        }
    }
    for (int i = 0; i < nstations; i++)
        pthread_join(stations[i].thread, NULL);
    double elapsed = seconds_since(&t0);
    OPENSSL_cleanse(key_pem, strlen(key_pem));
    OPENSSL_cleanse(passphrase, sizeof passphrase);
    free(key_pem);
    free(ca_pem);

    int stations_ok = 1, produced = 0;
    for (int i = 0; i < nstations; i++) {
        const struct station *s = &stations[i];
        if (s->rc != IDM_OK) {
            fprintf(stderr, "%s: %s\n", s->name, s->error);
            stations_ok = 0;
        }
        printf("%s produced %d card%s\n", s->name, s->produced, s->produced == 1 ? "" : "s");
        produced += s->produced;
    }
    printf("%d of %zu cards produced on %d station%s in %.1f s (%.1f cards/s)\n", produced,
           added, nstations, nstations == 1 ? "" : "s", elapsed,
           elapsed > 0 ? produced / elapsed : 0.0);
    int status = report(ctx, order, order_id);

    idm_order_free(&order);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    return status == 0 && stations_ok ? 0 : 1;
}
