/*
 * idm-bench-mass-production [CARDS]: how many Digital ID cards per second
 * the public mass production driver idm_production_run() gets through,
 * with a host encoder that does no I/O, the built-in CA (P-256) and the
 * SQLite store in a file, and how much memory it takes as the order grows.
 * CARDS defaults to 100000.
 *
 * Each card is an employee card of its own active identity (imported with
 * idm_identity_import_csv()), created, moved requested -> approved, and put
 * into one order with idm_order_add_approved().  Options: card_key_slots
 * "9A" (one P-256 key and one certificate per card), pin_source
 * "generated", a PIN delivery callback that does nothing.  That setup is
 * timed on its own and not counted in the cards/s.
 *
 * The encoder is the bench card (bench_card.h), which keeps the card in
 * memory: generate_key makes a real P-256 key with libcrypto and sign a
 * real ECDSA signature with it, because the library checks each key's
 * signature against its certificate; read_object gives back what was
 * written; each card that closes well is followed by a blank one with the
 * next serial (BENCH-00000001, ...).  Its time is reported apart
 * (idm_encoder_get_stats()), so the rest is the library's.
 *
 * Runs, each in a forked child with its own store (so that no two share a
 * peak-RSS high-water mark):
 *   - CARDS/10 cards with a group of 1 (one card per claim transaction);
 *   - CARDS/10 cards with a group of GROUP;
 *   - CARDS cards with a group of GROUP.
 * Each child resets its high-water mark after the setup and reports the
 * peak RSS of the production alone; the two GROUP runs show whether that
 * peak grows with the order.  After each run the order must be completed
 * with every card produced, or the program fails.
 *
 * Reference, measured in the same run: the built-in CA's own certificates
 * per second, as idm-bench-ca-issue measures it (idm_card_issue_certificate()
 * with the built-in CA minus the same call with an echo CA that signs
 * nothing, on a ":memory:" store, in interleaved rounds).  Each card needs
 * one certificate, so that rate is the ceiling of cards/s if all else were
 * free.
 *
 * Everything lives in a fresh temporary directory under $TMPDIR (or /tmp)
 * that is removed at the end.  Any failure prints its reason and exits 1.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <idm/idm.h>

#include "bench_card.h"
#include "bench_common.h"
#include "bench_crypto.h"
#include "bench_order.h"

#define DEFAULT_CARDS 100000
#define MAX_CARDS 10000000UL /* the encoder's serials have eight digits */
#define GROUP 64
#define REF_SECONDS 1.5 /* per reference measurement, in ROUNDS slices */
#define ROUNDS 3

/* ---- the reference: the built-in CA's own issue ------------------------- */

static int by_rate(const void *a, const void *b)
{
    double x = bench_per_second(a), y = bench_per_second(b);
    return (x > y) - (x < y);
}

static struct bench_rate median(struct bench_rate rounds[ROUNDS])
{
    qsort(rounds, ROUNDS, sizeof rounds[0], by_rate);
    return rounds[ROUNDS / 2];
}

struct issuer {
    idm_card_t *card;
    idm_ca_t *ca;
    const unsigned char *spki;
    int *next_attempt; /* shared by the issuers of one card */
};

/* One issue with a new attempt: a new certificate each call. */
static void issue_new(void *arg)
{
    struct issuer *is = arg;
    idm_cert_t *cert = NULL;
    check_idm(idm_card_issue_certificate(is->card, BENCH_ACTOR, is->ca,
                                         IDM_USAGE_AUTHENTICATION, is->spki, BENCH_P256_SPKI_LEN,
                                         (*is->next_attempt)++, &cert),
              "idm_card_issue_certificate");
    idm_cert_free(&cert);
}

struct reference {
    double library_per_s; /* idm_card_issue_certificate, built-in CA */
    double echo_per_s;    /* the same with the echo CA */
    double own_per_s;     /* the built-in CA's own issue: the difference */
    long calls;
};

static void run_reference(struct reference *out)
{
    idm_ctx_t *ctx = NULL;
    idm_identity_t *who = NULL;
    idm_card_t *card = NULL;
    int64_t who_id = 0;
    check_idm(idm_ctx_new(&ctx), "idm_ctx_new");
    check_idm(idm_ctx_open_store(ctx, ":memory:"), "idm_ctx_open_store");
    check_idm(idm_identity_new(ctx, BENCH_ACTOR, "E0000001", &who), "idm_identity_new");
    check_idm(idm_identity_set_attribute(who, BENCH_ACTOR, "givenName", "Ada"),
              "idm_identity_set_attribute");
    check_idm(idm_identity_set_attribute(who, BENCH_ACTOR, "surname", "Lovelace"),
              "idm_identity_set_attribute");
    check_idm(idm_identity_set_attribute(who, BENCH_ACTOR, "mail", "ada.lovelace@example.com"),
              "idm_identity_set_attribute");
    check_idm(idm_identity_set_state(who, BENCH_ACTOR, IDM_IDENTITY_ACTIVE),
              "idm_identity_set_state");
    check_idm(idm_identity_get_id(who, &who_id), "idm_identity_get_id");
    idm_identity_free(&who);
    check_idm(idm_card_new(ctx, BENCH_ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                           IDM_PRODUCTION_LOCAL, who_id, NULL, &card),
              "idm_card_new");
    check_idm(idm_card_set_state(card, BENCH_ACTOR, IDM_CARD_REQUESTED, NULL),
              "idm_card_set_state");
    check_idm(idm_card_set_state(card, BENCH_ACTOR, IDM_CARD_APPROVED, NULL),
              "idm_card_set_state");

    EVP_PKEY_CTX *keygen = bench_p256_keygen_new();
    EVP_PKEY *key = NULL;
    unsigned char spki[BENCH_P256_SPKI_LEN];
    bench_check_crypto(keygen != NULL && EVP_PKEY_generate(keygen, &key) == 1 &&
                     bench_p256_spki(key, spki) == 0,
                 "making the card's P-256 key");

    int next_attempt = 1;
    struct issuer lib = {card, NULL, spki, &next_attempt};
    check_idm(idm_ca_new_openssl(&lib.ca, ctx, IDM_KEY_EC_P256, BENCH_CA_NAME, 3650),
              "idm_ca_new_openssl");
    idm_cert_t *first = NULL;
    const unsigned char *der = NULL;
    size_t der_len = 0;
    check_idm(idm_card_issue_certificate(card, BENCH_ACTOR, lib.ca, IDM_USAGE_AUTHENTICATION, spki,
                                         sizeof spki, next_attempt++, &first),
              "idm_card_issue_certificate");
    check_idm(idm_cert_get_der(first, &der, &der_len), "idm_cert_get_der");
    struct bench_echo_ca e;
    struct issuer echo = lib;
    echo.ca = NULL;
    bench_echo_ca_new(&e, der, der_len, &echo.ca);
    idm_cert_free(&first);

    /* A warm-up each, then interleaved rounds so that a change in the
     * machine's load hits both alike. */
    struct bench_rate lib_rounds[ROUNDS], echo_rounds[ROUNDS];
    issue_new(&lib);
    issue_new(&echo);
    out->calls = 0;
    for (int i = 0; i < ROUNDS; i++) {
        lib_rounds[i] = bench_measure(issue_new, &lib, REF_SECONDS / ROUNDS);
        echo_rounds[i] = bench_measure(issue_new, &echo, REF_SECONDS / ROUNDS);
        out->calls += lib_rounds[i].count;
    }
    struct bench_rate a = median(lib_rounds), b = median(echo_rounds);
    out->library_per_s = bench_per_second(&a);
    out->echo_per_s = bench_per_second(&b);
    double own_us = 1e6 / out->library_per_s - 1e6 / out->echo_per_s;
    out->own_per_s = own_us > 0 ? 1e6 / own_us : -1;

    idm_ca_free(&echo.ca);
    bench_echo_ca_clear(&e);
    idm_ca_free(&lib.ca);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(keygen);
    idm_card_free(&card);
    idm_ctx_free(&ctx);
}

/* ---- one order: setup ----------------------------------------------------- */

static const char *const given_names[] = {"Anna", "Benjamin", "Chlo\xC3\xA9", "Dmitri",
                                          "Emma", "\xC5\x81ukasz", "Maria", "Yusuf"};
static const char *const surnames[] = {"M\xC3\xBCller", "Schmidt", "Nowak", "Garc\xC3\xAD" "a",
                                       "O'Brien", "van der Berg", "Tanaka", "Silva"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Identity i's external id, also its employeeNumber. */
static void employee_number(size_t i, char *out, size_t size)
{
    snprintf(out, size, "E%08zu", i + 1);
}

/* Streams the people of the order to a CSV, so it takes no memory per row. */
static void write_people(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        die("cannot create '%s': %s", path, strerror(errno));
    fputs("employeeNumber,givenName,surname,mail\r\n", f);
    for (size_t i = 0; i < n; i++) {
        char number[24];
        employee_number(i, number, sizeof number);
        fprintf(f, "%s,%s,%s,%s@example.com\r\n", number, given_names[i % COUNT(given_names)],
                surnames[(i / COUNT(given_names)) % COUNT(surnames)], number);
    }
    if (ferror(f) || fclose(f) != 0)
        die("cannot write '%s': %s", path, strerror(errno));
}

struct setup_times {
    double import_s, cards_s, order_s;
};

/* Creates the store at db with n active employees, an approved Digital ID
 * card each, and one mass production order of them all; returns its id. */
static int64_t set_up_order(const char *db, const char *csv, size_t n, struct setup_times *t)
{
    idm_ctx_t *ctx = NULL;
    check_idm(idm_ctx_new(&ctx), "idm_ctx_new");
    check_idm(idm_ctx_open_store(ctx, db), "idm_ctx_open_store");
    check_idm(idm_options_set_string(ctx, BENCH_ACTOR, "card_key_slots", "9A"),
              "idm_options_set_string(card_key_slots)");
    check_idm(idm_options_set_string(ctx, BENCH_ACTOR, "pin_source", "generated"),
              "idm_options_set_string(pin_source)");

    write_people(csv, n);
    double start = bench_now();
    size_t imported = 0;
    check_idm(idm_identity_import_csv(ctx, BENCH_ACTOR, csv, "employeeNumber", IDM_IDENTITY_ACTIVE,
                                      &imported),
              "idm_identity_import_csv");
    if (imported != n)
        die("idm_identity_import_csv imported %zu identities; expected %zu", imported, n);
    unlink(csv);
    t->import_s = bench_now() - start;

    start = bench_now();
    for (size_t i = 0; i < n; i++) {
        char number[24];
        idm_identity_t *who = NULL;
        idm_card_t *card = NULL;
        int64_t who_id = 0;
        employee_number(i, number, sizeof number);
        check_idm(idm_identity_open_external(ctx, number, &who), "idm_identity_open_external");
        check_idm(idm_identity_get_id(who, &who_id), "idm_identity_get_id");
        idm_identity_free(&who);
        check_idm(idm_card_new(ctx, BENCH_ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                               IDM_PRODUCTION_LOCAL, who_id, NULL, &card),
                  "idm_card_new");
        check_idm(idm_card_set_state(card, BENCH_ACTOR, IDM_CARD_REQUESTED, NULL),
                  "idm_card_set_state(requested)");
        check_idm(idm_card_set_state(card, BENCH_ACTOR, IDM_CARD_APPROVED, NULL),
                  "idm_card_set_state(approved)");
        idm_card_free(&card);
    }
    t->cards_s = bench_now() - start;

    start = bench_now();
    idm_order_t *order = NULL;
    size_t added = 0;
    int64_t order_id = 0;
    check_idm(idm_order_new(ctx, BENCH_ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                            IDM_CARD_DIGITAL, NULL, &order),
              "idm_order_new");
    check_idm(idm_order_add_approved(order, BENCH_ACTOR, 0, &added), "idm_order_add_approved");
    if (added != n)
        die("idm_order_add_approved added %zu cards; expected %zu", added, n);
    check_idm(idm_order_get_id(order, &order_id), "idm_order_get_id");
    t->order_s = bench_now() - start;
    idm_order_free(&order);
    idm_ctx_free(&ctx);
    return order_id;
}

/* ---- one order: production ----------------------------------------------- */

struct run_result {
    size_t cards, group;
    struct setup_times setup;
    double seconds;    /* idm_production_run() */
    double encoder_s;  /* of which inside the encoder */
    double tenth_per_s[10]; /* cards/s over each tenth of the order; 0 if too small */
    long rss_start_kib; /* when the production started */
    long rss_peak_kib;  /* the peak since then (or since the start: rss_reset 0) */
    int rss_reset;
};

/* Produces order_id with a fresh context, so that nothing of the setup is
 * in the peak RSS, and checks that every card was produced. */
static void produce_order(const char *db, int64_t order_id, struct run_result *r)
{
#ifdef __GLIBC__
    malloc_trim(0); /* hand what the setup freed back, so it is not in the baseline */
#endif
    r->rss_reset = bench_reset_peak_rss() == 0;
    r->rss_start_kib = bench_status_kib("VmRSS");

    struct bench_production p;
    bench_production_open(&p, db, order_id, r->group);
    if (p.cards != (int64_t)r->cards)
        die("the order has %lld cards; expected %zu", (long long)p.cards, r->cards);
    bench_production_run(&p);
    r->seconds = p.seconds;
    for (int i = 0; r->cards >= 10 && i < p.tally.tenths; i++) {
        double from = i > 0 ? p.tally.tenth_done[i - 1] : p.start;
        size_t done = r->cards * (size_t)(i + 1) / 10 - r->cards * (size_t)i / 10;
        r->tenth_per_s[i] = (double)done / (p.tally.tenth_done[i] - from);
    }
    r->rss_peak_kib = bench_status_kib("VmHWM");
    r->encoder_s = p.encoder_s;
    bench_production_check(&p);
    bench_production_close(&p);
}

/* ---- the runs, each in a child process ----------------------------------- */

static void remove_store(const char *path)
{
    char side[4300];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

struct job {
    const char *dir;
    int index;
    size_t cards, group; /* 0 cards: the reference */
};

static void job_paths(const struct job *j, char *db, char *csv, size_t size)
{
    snprintf(db, size, "%s/run%d.db", j->dir, j->index);
    snprintf(csv, size, "%s/run%d.csv", j->dir, j->index);
}

/* Runs one job in a forked child, which prints its own lines and hands its
 * figures back through a pipe; dies if the child failed. */
static void run_job(const struct job *j, void *result, size_t size)
{
    int fds[2];
    if (pipe(fds) != 0)
        die("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        if (j->cards == 0) {
            run_reference(result);
        } else {
            struct run_result *r = result;
            char db[4200], csv[4200];
            job_paths(j, db, csv, sizeof db);
            r->cards = j->cards;
            r->group = j->group;
            int64_t order_id = set_up_order(db, csv, j->cards, &r->setup);
            produce_order(db, order_id, r);
            remove_store(db);
        }
        if (write(fds[1], result, size) != (ssize_t)size)
            die("cannot hand the figures to the parent: %s", strerror(errno));
        close(fds[1]);
        exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fds[0], (char *)result + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    }
    if (j->cards > 0) {
        char db[4200], csv[4200];
        job_paths(j, db, csv, sizeof db);
        remove_store(db);
        unlink(csv);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != size) {
        rmdir(j->dir);
        if (j->cards == 0)
            die("the reference failed (status %d)", status);
        die("the run of %zu cards with group %zu failed (status %d)", j->cards, j->group, status);
    }
}

/* ---- main --------------------------------------------------------------- */

static size_t parse_cards(int argc, char **argv)
{
    if (argc > 2)
        die("usage: idm-bench-mass-production [CARDS]");
    if (argc < 2)
        return DEFAULT_CARDS;
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(argv[1], &end, 10);
    if (errno != 0 || end == argv[1] || *end != '\0' || argv[1][0] == '-' || n == 0 ||
        n > MAX_CARDS)
        die("CARDS is '%s'; expected a number from 1 to %lu", argv[1], MAX_CARDS);
    return (size_t)n;
}

static void print_run(const char *label, const struct run_result *r,
                      const struct reference *ref)
{
    double per_s = (double)r->cards / r->seconds;
    double ms = r->seconds * 1e3 / (double)r->cards;
    double enc_ms = r->encoder_s * 1e3 / (double)r->cards;
    printf("\n%s: %zu cards, group %zu\n", label, r->cards, r->group);
    printf("  setup (not timed below): import %.2f s, cards %.2f s (new, requested, approved), "
           "order %.2f s\n", r->setup.import_s, r->setup.cards_s, r->setup.order_s);
    printf("  production:  %.2f s, %.1f cards/s, %.3f ms per card = %.3f ms encoder + "
           "%.3f ms library\n", r->seconds, per_s, ms, enc_ms, ms - enc_ms);
    if (ref->own_per_s > 0)
        printf("  reference:   the built-in CA's own issue %.0f certificates/s; cards/s is "
               "%.3f of it\n", ref->own_per_s, per_s / ref->own_per_s);
    if (r->tenth_per_s[9] > 0) {
        printf("  by tenth:   ");
        for (int i = 0; i < 10; i++)
            printf(" %.0f", r->tenth_per_s[i]);
        printf(" cards/s, from the first tenth of the order to the last\n");
    }
    printf("  peak RSS:    %ld KiB (%ld KiB when production started%s)\n", r->rss_peak_kib,
           r->rss_start_kib, r->rss_reset ? "" : "; not reset: includes the setup");
    printf("  checked:     order completed, %zu of %zu cards produced, 1 key each\n", r->cards,
           r->cards);
}

int main(int argc, char **argv)
{
    bench_init("idm-bench-mass-production");
    size_t cards = parse_cards(argc, argv);
    size_t small = cards / 10 > 0 ? cards / 10 : 1;
    char dir[4096];
    bench_temp_dir("idm-bench-mp", dir, sizeof dir);

    bench_print_machine(OpenSSL_version(OPENSSL_VERSION));
    printf("order:     Digital ID employee cards, card_key_slots \"9A\": one P-256 key and one "
           "certificate per card\n");
    printf("           pin_source \"generated\", delivered to a callback that does nothing\n");
    printf("encoder:   host encoder in memory, no I/O (real P-256 keys and signatures)\n");
    printf("CA, store: built-in CA (P-256); SQLite file under %s (WAL, synchronous=FULL)\n",
           dir);

    struct reference ref;
    memset(&ref, 0, sizeof ref);
    struct job job = {dir, 0, 0, 0};
    run_job(&job, &ref, sizeof ref);
    printf("\nreference: idm_card_issue_certificate() on \":memory:\", %d rounds of %.2f s, "
           "medians:\n", ROUNDS, REF_SECONDS / ROUNDS);
    printf("  built-in CA                     %8.0f certificates/s  (%ld calls)\n",
           ref.library_per_s, ref.calls);
    printf("  echo CA (signs nothing)         %8.0f certificates/s\n", ref.echo_per_s);
    if (ref.own_per_s > 0)
        printf("  => the built-in CA's own issue  %8.0f certificates/s  (%.1f us)\n",
               ref.own_per_s, 1e6 / ref.own_per_s);
    else
        printf("  => the built-in CA's own issue  below the noise\n");

    struct run_result runs[3];
    memset(runs, 0, sizeof runs);
    char labels[3][32];
    snprintf(labels[0], sizeof labels[0], "group 1, CARDS/10");
    snprintf(labels[1], sizeof labels[1], "group %d, CARDS/10", GROUP);
    snprintf(labels[2], sizeof labels[2], "group %d", GROUP);
    struct job jobs[3] = {{dir, 1, small, 1}, {dir, 2, small, GROUP}, {dir, 3, cards, GROUP}};
    for (size_t i = 0; i < 3; i++) {
        run_job(&jobs[i], &runs[i], sizeof runs[i]);
        print_run(labels[i], &runs[i], &ref);
    }
    if (rmdir(dir) != 0)
        die("cannot remove '%s': %s", dir, strerror(errno));

    printf("\n%-18s %7s %5s %8s %8s %8s %8s %8s %8s %12s\n", "run", "cards", "group",
           "cards/s", "1st 10%", "last 10%", "ms/card", "encoder", "library", "peak RSS KiB");
    for (size_t i = 0; i < 3; i++) {
        const struct run_result *r = &runs[i];
        double ms = r->seconds * 1e3 / (double)r->cards;
        double enc_ms = r->encoder_s * 1e3 / (double)r->cards;
        printf("%-18s %7zu %5zu %8.1f %8.1f %8.1f %8.3f %8.3f %8.3f %12ld\n", labels[i],
               r->cards, r->group, (double)r->cards / r->seconds, r->tenth_per_s[0],
               r->tenth_per_s[9], ms, enc_ms, ms - enc_ms, r->rss_peak_kib);
    }
    if (ref.own_per_s > 0)
        printf("%-18s %7s %5s %8.0f   (the built-in CA's own certificates/s; one per card)\n",
               "reference", "", "", ref.own_per_s);
    long growth = runs[2].rss_peak_kib - runs[1].rss_peak_kib;
    printf("peak RSS of production: %zu cards %ld KiB, %zu cards %ld KiB, difference %+ld KiB\n",
           small, runs[1].rss_peak_kib, cards, runs[2].rss_peak_kib, growth);
    return 0;
}
