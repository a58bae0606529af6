/*
 * idm-bench-personalize [CARDS] [rsa]: what a PIV personalization costs per
 * card, through idm_card_personalize() with the built-in PC/SC encoder, on
 * one reader and on every reader pcscd has, in parallel (one thread, context
 * and encoder per reader, one store file).  CARDS per reader (default 10);
 * "rsa" makes RSA-2048 keys instead of P-256.  Each card is a Digital ID
 * employee card with keys in 9A, 9C, 9D and 9E.
 *
 * Per card it prints the APDUs and bytes exchanged, the wall time, and how
 * that time splits between card I/O (the time spent inside encoder methods:
 * PC/SC round trips plus the card's own work) and the library (the rest:
 * the CA, the store, building and checking objects, verifying signatures).
 *
 * Reference, measured in the same run on reader 0: the round trip of one
 * bare APDU (GET DATA CPLC, 5 bytes out, 47 back) sent with SCardTransmit
 * directly, so that "APDUs x round trip" is the floor of the card I/O
 * time for that many exchanges; the rest of the card I/O is the card
 * computing (key generation, signatures).
 *
 * Run it on the project's stack with a card feeder, so that every
 * personalization gets a blank card (the virtual card's --hopper mode):
 *   tests/vcard/with-stack.sh . --readers 2 --hopper -- build/bench/idm-bench-personalize 20
 * Any failure prints its reason and exits 1.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <winscard.h>

#include <idm/idm.h>

#include "bench_common.h"

#define ACTOR "bench"
#define MAX_READERS 8
#define REFERENCE_APDUS 200

struct station {
    pthread_t thread;
    const char *store;
    const char *reader;
    int cards;
    int run;            /* which measurement: part of the identities' ids */
    const char *ca_pem; /* each station loads its own handle of the one CA */
    const char *key_pem;
    /* results */
    uint64_t apdus, bytes, card_us, wall_us;
    int failed;
    char error[512];
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#define PASSPHRASE "bench passphrase"

static int passphrase(char *buf, size_t size, void *user_data)
{
    (void)user_data;
    size_t len = strlen(PASSPHRASE);
    if (len > size)
        return -1;
    memcpy(buf, PASSPHRASE, len);
    return (int)len;
}

static int station_fail(struct station *s, const char *what)
{
    snprintf(s->error, sizeof s->error, "%s: %s", what, idm_last_error_message());
    s->failed = 1;
    return 1;
}

#define STEP(s, call)                        \
    do {                                     \
        if ((call) != IDM_OK)                \
            return station_fail((s), #call); \
    } while (0)

static int run_station(struct station *s)
{
    idm_ctx_t *ctx = NULL;
    idm_encoder_t *enc = NULL;
    idm_ca_t *ca = NULL;
    STEP(s, idm_ctx_new(&ctx));
    STEP(s, idm_ctx_open_store(ctx, s->store));
    STEP(s, idm_ca_new_openssl_pem(&ca, ctx, s->ca_pem, strlen(s->ca_pem), s->key_pem,
                                   strlen(s->key_pem), passphrase, NULL));
    STEP(s, idm_encoder_new_pcsc(&enc, ctx));
    STEP(s, idm_encoder_pcsc_set_reader(enc, s->reader));
    STEP(s, idm_encoder_set_timeout(enc, 10000));
    STEP(s, idm_encoder_set_pin_callbacks(enc, NULL, bench_discard_secrets, NULL));
    for (int i = 0; i < s->cards; i++) {
        idm_identity_t *person = NULL;
        idm_card_t *card = NULL;
        char id[64];
        int64_t holder;
        snprintf(id, sizeof id, "run%d-%s-%d", s->run, s->reader, i);
        STEP(s, idm_identity_new(ctx, ACTOR, id, &person));
        STEP(s, idm_identity_set_attribute(person, ACTOR, "givenName", "Bench"));
        STEP(s, idm_identity_set_attribute(person, ACTOR, "surname", id));
        STEP(s, idm_identity_set_state(person, ACTOR, IDM_IDENTITY_ACTIVE));
        STEP(s, idm_identity_get_id(person, &holder));
        STEP(s, idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                             IDM_PRODUCTION_LOCAL, holder, NULL, &card));
        STEP(s, idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL));
        STEP(s, idm_card_set_state(card, ACTOR, IDM_CARD_APPROVED, NULL));
        uint64_t t0 = now_us();
        STEP(s, idm_card_personalize(card, ACTOR, enc, ca, 1));
        s->wall_us += now_us() - t0;
        idm_card_free(&card);
        idm_identity_free(&person);
    }
    STEP(s, idm_encoder_get_stats(enc, &s->apdus, &s->bytes, &s->card_us));
    idm_encoder_free(&enc);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    return 0;
}

static void *station_main(void *arg)
{
    run_station(arg);
    return NULL;
}

/* The reference: bare round trips of one short APDU on reader. */
static double apdu_round_trip_us(const char *reader)
{
    SCARDCONTEXT pc;
    SCARDHANDLE h;
    DWORD proto;
    if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &pc) != SCARD_S_SUCCESS)
        die("reference: SCardEstablishContext failed");
    if (SCardConnect(pc, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                     &h, &proto) != SCARD_S_SUCCESS)
        die("reference: SCardConnect to '%s' failed", reader);
    const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    static const BYTE cplc[] = {0x80, 0xCA, 0x9F, 0x7F, 0x00};
    BYTE resp[258];
    uint64_t t0 = now_us();
    for (int i = 0; i < REFERENCE_APDUS; i++) {
        DWORD len = sizeof resp;
        if (SCardTransmit(h, pci, cplc, sizeof cplc, NULL, resp, &len) != SCARD_S_SUCCESS ||
            len < 2)
            die("reference: SCardTransmit failed");
    }
    double per = (double)(now_us() - t0) / REFERENCE_APDUS;
    SCardDisconnect(h, SCARD_LEAVE_CARD);
    SCardReleaseContext(pc);
    return per;
}

static void report(const char *title, struct station *st, int n, uint64_t elapsed_us, double rtt)
{
    uint64_t apdus = 0, bytes = 0, card_us = 0, wall_us = 0;
    int cards = 0;
    for (int i = 0; i < n; i++) {
        apdus += st[i].apdus;
        bytes += st[i].bytes;
        card_us += st[i].card_us;
        wall_us += st[i].wall_us;
        cards += st[i].cards;
    }
    double per_wall = (double)wall_us / cards / 1000.0;
    double per_card = (double)card_us / cards / 1000.0;
    double per_apdus = (double)apdus / cards;
    printf("%s: %d card(s) on %d reader(s) in %.2f s = %.2f cards/s\n", title, cards, n,
           (double)elapsed_us / 1e6, cards / ((double)elapsed_us / 1e6));
    printf("  per card: %.0f APDUs, %.0f bytes, %.1f ms wall = %.1f ms card I/O (%.0f%%) + "
           "%.1f ms library (%.0f%%)\n", per_apdus, (double)bytes / cards, per_wall, per_card,
           100.0 * per_card / per_wall, per_wall - per_card,
           100.0 * (per_wall - per_card) / per_wall);
    printf("  of the card I/O: %.1f ms is %.0f bare round trips of %.0f us (the reference), "
           "%.1f ms the card computing\n", per_apdus * rtt / 1000.0, per_apdus, rtt,
           per_card - per_apdus * rtt / 1000.0);
}

static void run(const char *title, const char *store, const char *ca_pem, const char *key_pem,
                char **readers, int n, int cards, double rtt)
{
    static int runs;
    struct station st[MAX_READERS];
    memset(st, 0, sizeof st);
    runs++;
    uint64_t t0 = now_us();
    for (int i = 0; i < n; i++) {
        st[i].store = store;
        st[i].reader = readers[i];
        st[i].cards = cards;
        st[i].run = runs;
        st[i].ca_pem = ca_pem;
        st[i].key_pem = key_pem;
        if (pthread_create(&st[i].thread, NULL, station_main, &st[i]) != 0)
            die("cannot start a thread");
    }
    for (int i = 0; i < n; i++)
        pthread_join(st[i].thread, NULL);
    uint64_t elapsed = now_us() - t0;
    for (int i = 0; i < n; i++) {
        if (st[i].failed)
            die("station on '%s': %s", st[i].reader, st[i].error);
    }
    report(title, st, n, elapsed, rtt);
}

/* A NUL-terminated copy of len bytes that need not be terminated. */
static char *copy_text(const void *data, size_t len)
{
    char *t = malloc(len + 1);
    if (t == NULL)
        die("out of memory");
    memcpy(t, data, len);
    t[len] = '\0';
    return t;
}

/* The CA as PEM texts, so that every station loads a handle of its own. */
static void export_ca(idm_ca_t *ca, char **cert_pem, char **key_pem)
{
    idm_buffer_t *der = NULL, *key = NULL;
    const unsigned char *p;
    size_t len;
    check_idm(idm_buffer_new(&der), "idm_buffer_new");
    check_idm(idm_buffer_new(&key), "idm_buffer_new");
    check_idm(idm_ca_get_certificate(ca, der), "idm_ca_get_certificate");
    check_idm(idm_ca_export_key(ca, passphrase, NULL, key), "idm_ca_export_key");
    check_idm(idm_buffer_get(der, &p, &len), "idm_buffer_get");
    X509 *x = d2i_X509(NULL, &p, (long)len);
    BIO *bio = BIO_new(BIO_s_mem());
    if (x == NULL || bio == NULL || PEM_write_bio_X509(bio, x) != 1)
        die("cannot convert the CA certificate to PEM");
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    *cert_pem = copy_text(data, (size_t)n);
    check_idm(idm_buffer_get(key, &p, &len), "idm_buffer_get");
    *key_pem = copy_text(p, len);
    BIO_free(bio);
    X509_free(x);
    idm_buffer_free(&der);
    idm_buffer_free(&key);
}

int main(int argc, char **argv)
{
    bench_init("idm-bench-personalize");
    int cards = argc > 1 ? atoi(argv[1]) : 10;
    int rsa = argc > 2 && strcmp(argv[2], "rsa") == 0;
    if (cards < 1 || cards > 100000)
        die("usage: idm-bench-personalize [CARDS] [rsa]");

    idm_buffer_t *list = NULL;
    size_t nreaders = 0;
    const unsigned char *names = NULL;
    size_t names_len = 0;
    check_idm(idm_buffer_new(&list), "idm_buffer_new");
    check_idm(idm_encoder_pcsc_list_readers(list, &nreaders), "idm_encoder_pcsc_list_readers");
    check_idm(idm_buffer_get(list, &names, &names_len), "idm_buffer_get");
    if (nreaders == 0)
        die("pcscd knows no reader; run under tests/vcard/with-stack.sh --readers 2 --hopper");
    char *readers[MAX_READERS];
    int n = 0;
    for (size_t at = 0; at < names_len && n < MAX_READERS; at += strlen((const char *)names + at) + 1)
        readers[n++] = strdup((const char *)names + at);

    char store[256];
    snprintf(store, sizeof store, "%s/idm-bench-personalize-%d.db",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp", (int)getpid());
    idm_ctx_t *ctx = NULL;
    idm_ca_t *ca = NULL;
    check_idm(idm_ctx_new(&ctx), "idm_ctx_new");
    check_idm(idm_ctx_open_store(ctx, store), "idm_ctx_open_store");
    check_idm(idm_options_set_string(ctx, ACTOR, "pin_source", "generated"),
              "idm_options_set_string");
    if (rsa)
        check_idm(idm_options_set_string(ctx, ACTOR, "card_key_algorithm", "rsa2048"),
                  "idm_options_set_string");
    check_idm(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Bench CA", 3650),
              "idm_ca_new_openssl");

    char *ca_pem = NULL, *key_pem = NULL;
    export_ca(ca, &ca_pem, &key_pem);
    double rtt = apdu_round_trip_us(readers[0]);
    printf("reference: one bare APDU round trip on '%s': %.0f us (%d round trips)\n", readers[0],
           rtt, REFERENCE_APDUS);
    printf("keys: %s in 9A 9C 9D 9E\n", rsa ? "RSA-2048" : "P-256");
    run("one reader", store, ca_pem, key_pem, readers, 1, cards, rtt);
    if (n > 1)
        run("all readers in parallel", store, ca_pem, key_pem, readers, n, cards, rtt);
    free(ca_pem);
    free(key_pem);

    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    for (int i = 0; i < n; i++)
        free(readers[i]);
    idm_buffer_free(&list);
    remove(store);
    char side[300];
    snprintf(side, sizeof side, "%s-wal", store);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", store);
    remove(side);
    return 0;
}
