/* White-box crash torture of mass production (issue 6 groundwork): a child
 * process runs a station over an order (in-memory host encoder, built-in CA
 * loaded from PEM, the real SQLite store) and is killed with SIGKILL at a
 * random moment after it started, again and again, each new child resuming
 * under the same station name, until IDM_TORTURE_KILLS (default 60) kills
 * have happened; then a last child finishes the order.  Then the invariants: every card
 * produced exactly once and issued; per card exactly one live certificate,
 * every other one revoked as superseded and listed in the CA's CRL; every
 * certificate known to the issue journal; the audit chain intact. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "mem_encoder.h"
#include "runner.h"
#include "store/store.h"
#include "workflow/mass_production_impl.h"

#define ACTOR "torture"
#define CARDS_PER_ORDER 30
#define PASSPHRASE "torture passphrase"

static char *ca_cert_pem, *ca_key_pem;

static int passphrase(char *buf, size_t size, void *ud)
{
    (void)ud;
    size_t n = strlen(PASSPHRASE);
    if (n > size)
        return -1;
    memcpy(buf, PASSPHRASE, n);
    return (int)n;
}

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *ud)
{
    (void)card;
    (void)pin;
    (void)puk;
    (void)ud;
    return 0;
}

/* The child: one station until the order is done.  Tells the parent which
 * step it enters through fd (one byte each), so kills can be counted by
 * step.  Exit 0: the order is complete. */
/* Ends the child with code after saying why (the parent shows stderr). */
static void child_fail(int code)
{
    fprintf(stderr, "station child: %s\n", idm_last_error_message());
    _exit(code);
}

static void station_main(const char *path, int64_t order_id, int fd)
{
    idm_ctx_t *ctx = NULL;
    idm_ca_t *ca = NULL;
    struct mem_card *mem = NULL;
    if (idm_ctx_new(&ctx) != IDM_OK || idm_ctx_open_store(ctx, path) != IDM_OK ||
        idm_ca_new_openssl_pem(&ca, ctx, ca_cert_pem, strlen(ca_cert_pem), ca_key_pem,
                               strlen(ca_key_pem), passphrase, NULL) != IDM_OK)
        child_fail(2);
    idm_encoder_t *enc = mem_encoder_new(&mem, 1);
    /* The reader holds the card after the last one the store calls issued:
     * a card goes out only once the store has recorded it. */
    idm_card_iter_t *it = NULL;
    idm_card_t *c = NULL;
    if (idm_card_iter_new(ctx, &it) != IDM_OK ||
        idm_card_iter_set_state(it, IDM_CARD_ISSUED) != IDM_OK)
        child_fail(9);
    while (idm_card_iter_next(it, &c) == IDM_OK && c != NULL) {
        mem->serial_no++;
        idm_card_free(&c);
    }
    idm_card_iter_free(&it);
    idm_encoder_set_pin_callbacks(enc, NULL, deliver, NULL);
    struct idm_station *st = NULL;
    if (idm_mp_station_open(&st, ctx, order_id, "station-1", enc, ca, INT64_C(3600000)) != 0)
        child_fail(3);
    for (;;) {
        int64_t card = 0;
        char step = 'n';
        if (write(fd, &step, 1) != 1 || idm_mp_next(st, ACTOR, &card) != IDM_OK)
            child_fail(4);
        if (card == 0)
            break;
        step = 'i';
        if (write(fd, &step, 1) != 1 || idm_mp_issue(st, ACTOR) != IDM_OK)
            child_fail(5);
        step = 'p';
        if (write(fd, &step, 1) != 1 || idm_mp_produce(st, ACTOR) != IDM_OK)
            child_fail(6);
        step = 'v';
        if (write(fd, &step, 1) != 1 || idm_mp_verify(st, ACTOR) != IDM_OK)
            child_fail(7);
    }
    char step = 'c';
    if (write(fd, &step, 1) != 1 || idm_mp_complete(st, ACTOR, 0) != IDM_OK)
        child_fail(8);
    idm_mp_station_close(st);
    idm_encoder_free(&enc);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    free(ca_cert_pem);
    free(ca_key_pem);
    _exit(0);
}

static void make_ca(idm_ctx_t *ctx)
{
    idm_ca_t *ca = NULL;
    idm_buffer_t *der = NULL, *key = NULL;
    const unsigned char *p;
    size_t len;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Torture CA", 3650));
    ck_ok(idm_buffer_new(&der));
    ck_ok(idm_buffer_new(&key));
    ck_ok(idm_ca_get_certificate(ca, der));
    ck_ok(idm_ca_export_key(ca, passphrase, NULL, key));
    ck_ok(idm_buffer_get(der, &p, &len));
    X509 *x = d2i_X509(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(x);
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_X509(bio, x), 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    ca_cert_pem = calloc(1, (size_t)n + 1);
    memcpy(ca_cert_pem, data, (size_t)n);
    ck_ok(idm_buffer_get(key, &p, &len));
    ca_key_pem = calloc(1, len + 1);
    memcpy(ca_key_pem, p, len);
    BIO_free(bio);
    X509_free(x);
    idm_buffer_free(&der);
    idm_buffer_free(&key);
    idm_ca_free(&ca);
}

/* A new order of approved Digital ID cards, one per new person. */
static int64_t new_order(idm_ctx_t *ctx, int round, int64_t *cards)
{
    idm_order_t *order = NULL;
    int64_t order_id;
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_DIGITAL, NULL, &order));
    ck_ok(idm_order_get_id(order, &order_id));
    for (int i = 0; i < CARDS_PER_ORDER; i++) {
        char id[32];
        snprintf(id, sizeof id, "T%d-%d", round, i);
        idm_identity_t *p = fixture_person(ctx, id, "Torture", id);
        int64_t holder;
        ck_ok(idm_identity_get_id(p, &holder));
        idm_card_t *c = NULL;
        ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL,
                           holder, NULL, &c));
        ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_REQUESTED, NULL));
        ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_APPROVED, NULL));
        ck_ok(idm_card_get_id(c, &cards[i]));
        ck_ok(idm_order_add_card(order, ACTOR, cards[i]));
        idm_card_free(&c);
        idm_identity_free(&p);
    }
    idm_order_free(&order);
    return order_id;
}

static long count_rows(const char *path, const char *sql)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"%s\"", path, sql);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[64] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    pclose(p);
    return atol(line);
}

START_TEST(test_mass_production_survives_sigkill_at_any_step)
{
    const char *path = fixture_store_path("mp-torture");
    idm_ctx_t *ctx = fixture_ctx(path);
    ck_ok(idm_options_set_string(ctx, ACTOR, "card_key_slots", "9A"));
    ck_ok(idm_options_set_string(ctx, ACTOR, "pin_source", "generated"));
    make_ca(ctx);

    const char *env = getenv("IDM_TORTURE_KILLS");
    int want_kills = env != NULL ? atoi(env) : 60;
    env = getenv("IDM_KILL_PAUSE_MS");
    int pause_ms = env != NULL && atoi(env) > 200 ? atoi(env) / 20 : 40;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int kills = 0, by_step[128] = {0}, rounds = 0, total_cards = 0;
    static int64_t cards[64 * CARDS_PER_ORDER];

    while (kills < want_kills || rounds == 0) {
        int64_t order_id = new_order(ctx, rounds, cards + total_cards);
        total_cards += CARDS_PER_ORDER;
        rounds++;
        ck_assert_int_lt(rounds, 64);
        for (int done = 0; !done;) {
            int fds[2];
            ck_assert_int_eq(pipe(fds), 0);
            pid_t child = fork();
            ck_assert_int_ge(child, 0);
            if (child == 0) {
                close(fds[0]);
                station_main(path, order_id, fds[1]);
            }
            close(fds[1]);
            /* The clock starts when the child has started (its first step
             * byte), so a slow start (valgrind) is not all it ever does;
             * once enough kills happened the child may finish the order. */
            char last = '?', c;
            if (read(fds[0], &c, 1) == 1)
                last = c;
            int killed = 0;
            if (kills < want_kills) {
                long ms = 1 + (long)(rand_r(&seed) % (unsigned)pause_ms);
                struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
                nanosleep(&pause, NULL);
                killed = kill(child, SIGKILL) == 0;
            }
            int status = 0;
            ck_assert_int_eq(waitpid(child, &status, 0), child);
            while (read(fds[0], &c, 1) == 1)
                last = c;
            close(fds[0]);
            if (WIFSIGNALED(status) && killed) {
                kills++;
                by_step[(unsigned char)last]++;
            } else {
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                              "the station failed on its own (status %d, last step %c)", status,
                              last);
                done = 1;
            }
            ck_ok(idm_audit_verify(ctx, NULL));
        }
    }
    fprintf(stderr, "mp torture: %d kills over %d orders of %d cards (in next %d, issue %d, "
            "produce %d, verify %d, complete %d)\n", kills, rounds, CARDS_PER_ORDER,
            by_step['n'], by_step['i'], by_step['p'], by_step['v'], by_step['c']);

    /* Every card produced once, one live certificate each. */
    int superseded_total = 0;
    for (int i = 0; i < total_cards; i++) {
        idm_card_t *c = NULL;
        idm_card_state s;
        ck_ok(idm_card_open(ctx, cards[i], &c));
        ck_ok(idm_card_get_state(c, &s));
        idm_card_free(&c);
        ck_assert_int_eq(s, IDM_CARD_ISSUED);
        int live, superseded, other;
        fixture_count_certs(ctx, cards[i], &live, &superseded, &other);
        ck_assert_int_eq(live, 1);
        ck_assert_int_eq(other, 0);
        superseded_total += superseded;
    }
    ck_assert_int_eq(count_rows(path, "SELECT count(*) FROM order_cards WHERE outcome != 2"), 0);
    ck_assert_int_eq(count_rows(path, "SELECT count(*) FROM orders WHERE state != 2"), 0);
    /* No certificate the issue journal does not know, none twice. */
    ck_assert_int_eq(count_rows(path, "SELECT count(*) FROM certificates WHERE id NOT IN "
                                      "(SELECT certificate_id FROM issuances WHERE "
                                      "certificate_id IS NOT NULL)"), 0);
    ck_assert_int_eq(count_rows(path, "SELECT count(*) - count(DISTINCT certificate_id) FROM "
                                      "issuances WHERE certificate_id IS NOT NULL"), 0);
    /* The CRL lists exactly the superseded certificates. */
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl_pem(&ca, ctx, ca_cert_pem, strlen(ca_cert_pem), ca_key_pem,
                                 strlen(ca_key_pem), passphrase, NULL));
    idm_buffer_t *crl = NULL;
    ck_ok(idm_buffer_new(&crl));
    ck_ok(idm_ca_generate_crl(ca, ctx, 24, crl));
    const unsigned char *p;
    size_t len;
    ck_ok(idm_buffer_get(crl, &p, &len));
    X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(x);
    /* Revoked as superseded, and the issued cards' certificates on hold. */
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(x);
    int crl_superseded = 0, crl_hold = 0;
    for (int i = 0; revoked != NULL && i < sk_X509_REVOKED_num(revoked); i++) {
        ASN1_ENUMERATED *reason =
            X509_REVOKED_get_ext_d2i(sk_X509_REVOKED_value(revoked, i), NID_crl_reason, NULL,
                                     NULL);
        long code = reason != NULL ? ASN1_ENUMERATED_get(reason) : -1;
        crl_superseded += code == 4;
        crl_hold += code == 6;
        ASN1_ENUMERATED_free(reason);
    }
    ck_assert_int_eq(crl_superseded, superseded_total);
    ck_assert_int_eq(crl_hold, total_cards);
    X509_CRL_free(x);
    idm_buffer_free(&crl);
    idm_ca_free(&ca);
    ck_ok(idm_audit_verify(ctx, NULL));
    ck_assert_int_ge(kills, want_kills);
    free(ca_cert_pem);
    free(ca_key_pem);
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("mp_torture");
    TCase *tc = tcase_create("sigkill");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_mass_production_survives_sigkill_at_any_step);
    suite_add_tcase(s, tc);
    return s;
}
