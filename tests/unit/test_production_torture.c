/* Crash torture of mass production through the public driver
 * (idm_production_run): a child process runs a station over an order
 * (in-memory host encoder whose cards are files, as real cards outlive the
 * process that writes them; built-in CA loaded from PEM; the real SQLite
 * store) and is killed with SIGKILL at a random moment, again and again,
 * each new child resuming under the same station name with a random group
 * size, until IDM_TORTURE_KILLS (default 60) kills have happened across
 * all steps; then a last child finishes the order.  Then the invariants:
 * every card produced exactly once and issued; per card exactly one live
 * certificate, every other one revoked as superseded and listed in the
 * CA's CRL; every certificate known to the issue journal and issued once;
 * on every card (file) exactly the live certificate of the card the store
 * gives that chip, and no card the store does not know; the audit chain
 * intact. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "mem_encoder.h"
#include "runner.h"

#define ACTOR "torture"
#define CARDS_PER_ORDER 30

static char *ca_cert_pem, *ca_key_pem;

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *ud)
{
    (void)card;
    (void)pin;
    (void)puk;
    (void)ud;
    return 0;
}

/* Ends the child with code after saying why (the parent shows stderr). */
static void child_fail(int code)
{
    fprintf(stderr, "station child: %s\n", idm_last_error_message());
    _exit(code);
}

/* The child tells the parent which step it enters through this pipe (one
 * letter per hook), so kills can be counted by step. */
static int step_fd = -1;

static void step(char letter)
{
    if (write(step_fd, &letter, 1) != 1)
        _exit(10);
}

static int h_ready(const idm_card_t *card, char *why, size_t size, void *ud)
{
    (void)card, (void)why, (void)size, (void)ud;
    step('R');
    return 0;
}

#define STEP_HOOK(fn, letter)                     \
    static int fn(const idm_card_t *card, void *ud) \
    {                                             \
        (void)card, (void)ud;                     \
        step(letter);                             \
        return 0;                                 \
    }
STEP_HOOK(h_before_issue, 'B')
STEP_HOOK(h_after_issue, 'A')
STEP_HOOK(h_produce, 'P')
STEP_HOOK(h_verify, 'V')

static int h_progress(const idm_order_t *order, int64_t card_id, idm_order_card_outcome outcome,
                      void *ud)
{
    (void)order, (void)card_id, (void)outcome, (void)ud;
    step('G');
    return 0;
}

static int h_complete(const idm_order_t *order, int *more, void *ud)
{
    (void)order, (void)ud;
    step('C');
    *more = 0;
    return 0;
}

/* The child: one station until the order is done.  Exit 0: completed. */
static void station_main(const char *path, const char *cards_dir, int64_t order_id, int group)
{
    idm_ctx_t *ctx = NULL;
    idm_ca_t *ca = NULL;
    idm_order_t *order = NULL;
    struct mem_card *mem = NULL;
    if (idm_ctx_new(&ctx) != IDM_OK || idm_ctx_open_store(ctx, path) != IDM_OK ||
        idm_ca_new_openssl_pem(&ca, ctx, ca_cert_pem, strlen(ca_cert_pem), ca_key_pem,
                               strlen(ca_key_pem), fixture_passphrase, NULL) != IDM_OK ||
        idm_order_open(ctx, order_id, &order) != IDM_OK)
        child_fail(2);
    idm_encoder_t *enc = mem_encoder_new(&mem, 1);
    mem->persist_dir = cards_dir;
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
    idm_station_t *st = NULL;
    if (idm_station_open(&st, order, "station-1", enc, ca) != IDM_OK ||
        idm_station_set_group(st, (size_t)group) != IDM_OK)
        child_fail(3);
    idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
    hooks.ready = h_ready;
    hooks.before_issue = h_before_issue;
    hooks.after_issue = h_after_issue;
    hooks.produce = h_produce;
    hooks.verify = h_verify;
    hooks.progress = h_progress;
    hooks.complete_or_more = h_complete;
    step('O');
    if (idm_production_run(st, ACTOR, &hooks, sizeof hooks, NULL) != IDM_OK)
        child_fail(4);
    step('E');
    idm_station_free(&st);
    idm_order_free(&order);
    idm_encoder_free(&enc);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    free(ca_cert_pem);
    free(ca_key_pem);
    _exit(0);
}

/* The CA the stations load from PEM, as separate processes would. */
static void make_ca(idm_ctx_t *ctx)
{
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Torture CA", 3650));
    fixture_export_ca(ca, &ca_cert_pem, &ca_key_pem);
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

/* The live certificate of a card, in hex. */
static void live_certificate_hex(idm_ctx_t *ctx, int64_t card_id, char *hex, size_t size)
{
    idm_cert_iter_t *it = NULL;
    idm_cert_t *cert = NULL;
    hex[0] = '\0';
    ck_ok(idm_cert_iter_new(ctx, card_id, &it));
    while (idm_cert_iter_next(it, &cert) == IDM_OK && cert != NULL) {
        idm_cert_state state;
        ck_ok(idm_cert_get_state(cert, &state));
        if (state == IDM_CERT_VALID || state == IDM_CERT_ON_HOLD) {
            const unsigned char *der;
            size_t len;
            ck_ok(idm_cert_get_der(cert, &der, &len));
            ck_assert_uint_lt(2 * len, size);
            for (size_t k = 0; k < len; k++)
                snprintf(hex + 2 * k, 3, "%02X", der[k]);
        }
        idm_cert_free(&cert);
    }
    idm_cert_iter_free(&it);
}

/* The card (file) of the chip the store gives the card holds exactly the
 * card's live certificate, in slot 9A. */
static void assert_card_holds_its_live_certificate(idm_ctx_t *ctx, const char *dir,
                                                   int64_t card_id)
{
    idm_card_t *c = NULL;
    const char *chip = NULL;
    ck_ok(idm_card_open(ctx, card_id, &c));
    ck_ok(idm_card_get_chip_serial(c, &chip));
    ck_assert_ptr_nonnull(chip);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.certs", dir, chip);
    idm_card_free(&c);
    static char live[8192], line[8300];
    live_certificate_hex(ctx, card_id, live, sizeof live);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "card %lld: no card file %s", (long long)card_id, path);
    int lines = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        ck_assert_msg(strncmp(line, "5FC105 ", 7) == 0, "%s: %.20s", path, line);
        ck_assert_msg(strcmp(line + 7, live) == 0, "card %lld: the certificate on chip %s is "
                      "not its live one", (long long)card_id, path);
        lines++;
    }
    fclose(f);
    ck_assert_int_eq(lines, 1);
}

static int count_card_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > 6 && strcmp(e->d_name + len - 6, ".certs") == 0;
    }
    closedir(d);
    return n;
}

/* Reads the child's step letters until it entered `target` for the n-th
 * time (or ended); returns the last letter read. */
static char wait_for_step(int fd, char target, int n)
{
    char last = '?', c;
    while (n > 0 && read(fd, &c, 1) == 1) {
        last = c;
        if (c == target)
            n--;
    }
    return last;
}

START_TEST(test_mass_production_survives_sigkill_at_any_step)
{
    const char *path = fixture_store_path("production-torture");
    char cards_dir[4200];
    snprintf(cards_dir, sizeof cards_dir, "%s.cards", path);
    ck_assert_int_eq(mkdir(cards_dir, 0700), 0);
    idm_ctx_t *ctx = fixture_ctx(path);
    ck_ok(idm_options_set_string(ctx, ACTOR, "card_key_slots", "9A"));
    ck_ok(idm_options_set_string(ctx, ACTOR, "pin_source", "generated"));
    make_ca(ctx);

    const char *env = getenv("IDM_TORTURE_KILLS");
    int want_kills = env != NULL ? atoi(env) : 60;
    /* How far past a step's start a kill may land; slower under valgrind. */
    env = getenv("IDM_KILL_PAUSE_MS");
    long spread_us = env != NULL && atoi(env) > 200 ? atol(env) * 5 : 1000;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "# production torture: seed %u\n", seed);
    /* Each kill aims at one step, in turn, at a random occurrence of it:
     * before issue, produce, verify, the station's start, readiness, after
     * issue, progress, completion (the writing steps first, for the short
     * runs under valgrind). */
    static const char targets[] = "BPVORAGC";
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
            int group = rand_r(&seed) % 2 == 0 ? 1 : 1 + rand_r(&seed) % 6;
            pid_t child = fork();
            ck_assert_int_ge(child, 0);
            if (child == 0) {
                close(fds[0]);
                step_fd = fds[1];
                station_main(path, cards_dir, order_id, group);
            }
            close(fds[1]);
            char last = '?';
            int killed = 0;
            if (kills < want_kills) {
                char target = targets[kills % (sizeof targets - 1)];
                /* start and completion come once per child */
                int nth = target == 'O' || target == 'C' ? 1 : 1 + rand_r(&seed) % 4;
                last = wait_for_step(fds[0], target, nth);
                long us = (long)(rand_r(&seed) % (unsigned)spread_us);
                struct timespec pause = {us / 1000000, (us % 1000000) * 1000L};
                nanosleep(&pause, NULL);
                killed = kill(child, SIGKILL) == 0;
            }
            int status = 0;
            ck_assert_int_eq(waitpid(child, &status, 0), child);
            char c;
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
    fprintf(stderr, "# production torture: %d kills over %d orders of %d cards, by the last "
            "step entered: start %d, ready %d, before issue %d, after issue %d, produce %d, "
            "verify %d, progress %d, complete %d\n", kills, rounds, CARDS_PER_ORDER,
            by_step['O'], by_step['R'], by_step['B'], by_step['A'], by_step['P'], by_step['V'],
            by_step['G'], by_step['C']);

    /* The kills landed inside the steps that write: issue, produce, verify
     * (with two rounds of targets at least; valgrind runs only a few). */
    if (want_kills >= 2 * (int)(sizeof targets - 1)) {
        ck_assert_int_gt(by_step['B'], 0);
        ck_assert_int_gt(by_step['P'], 0);
        ck_assert_int_gt(by_step['V'], 0);
    }

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
        assert_card_holds_its_live_certificate(ctx, cards_dir, cards[i]);
    }
    /* No card the store does not know: one file per chip, one chip per card. */
    ck_assert_int_eq(count_card_files(cards_dir), total_cards);
    ck_assert_int_eq(fixture_count_rows(path, "SELECT count(*) FROM order_cards WHERE outcome != 2"), 0);
    ck_assert_int_eq(fixture_count_rows(path, "SELECT count(*) FROM orders WHERE state != 2"), 0);
    /* No certificate the issue journal does not know, none twice. */
    ck_assert_int_eq(fixture_count_rows(path, "SELECT count(*) FROM certificates WHERE id NOT IN "
                                      "(SELECT certificate_id FROM issuances WHERE "
                                      "certificate_id IS NOT NULL)"), 0);
    ck_assert_int_eq(fixture_count_rows(path, "SELECT count(*) - count(DISTINCT certificate_id) FROM "
                                      "issuances WHERE certificate_id IS NOT NULL"), 0);
    /* The CRL lists exactly the superseded certificates. */
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl_pem(&ca, ctx, ca_cert_pem, strlen(ca_cert_pem), ca_key_pem,
                                 strlen(ca_key_pem), fixture_passphrase, NULL));
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
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cards_dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("production_torture");
    TCase *tc = tcase_create("sigkill");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_mass_production_survives_sigkill_at_any_step);
    suite_add_tcase(s, tc);
    return s;
}
