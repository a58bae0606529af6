/* Defects the fault sweep found, each proven fixed by sweeping the faults
 * over just the code that had it, every N, on every run (the sweep itself
 * samples N).  Prints TAP.
 *
 *   1. An OpenSSL allocation failure while reading a certificate's
 *      authority key identifier made idm_cert_parse() record the
 *      certificate without its issuer, so the built-in CA's CRL left it
 *      out once revoked or on hold.
 *   2. The spool producer quarantined a good status file when the library
 *      failed to allocate memory reading it, or its report failed for a
 *      reason that was not the report's (hashing the audit event), so its
 *      card never left production.
 *   3. idm_card_issue_certificate() made the certificate's handle before it
 *      reloaded the card, and when that failed (out of memory) returned an
 *      error with the handle lost: a leak, which the sanitizer and valgrind
 *      runs of this test report at exit.
 *   4. A station's claim whose commit failed (disk full) kept the claimed
 *      card's record: a leak. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <idm/idm.h>

#include "fault.h"
#include "backends/producer/producer_impl.h"
#include "core/error_impl.h"
#include "model/cert_impl.h"
#include "workflow/mass_production_impl.h"
#include "model/records.h"

static int tap_n, tap_failed;

static void tap(int ok, const char *what)
{
    tap_n++;
    tap_failed += !ok;
    printf("%sok %d - %s\n", ok ? "" : "not ", tap_n, what);
}

/* A self-signed P-256 certificate with subject and authority key ids. */
static unsigned char *make_certificate(int *len)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509V3_CTX v3;
    unsigned char *der = NULL;
    *len = 0;
    if (key == NULL || x == NULL || !X509_set_version(x, X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 86400) || !X509_set_pubkey(x, key) ||
        !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                    (const unsigned char *)"Fault Regression", -1, -1, 0) ||
        !X509_set_issuer_name(x, X509_get_subject_name(x)))
        goto out;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    static const char *const exts[][2] = {{"subjectKeyIdentifier", "hash"},
                                          {"authorityKeyIdentifier", "keyid:always"}};
    for (size_t i = 0; i < 2; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        int added = e != NULL && X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        if (!added)
            goto out;
    }
    if (X509_sign(x, key, EVP_sha256()) > 0)
        *len = i2d_X509(x, &der);
out:
    X509_free(x);
    EVP_PKEY_free(key);
    return *len > 0 ? der : NULL;
}

static void cert_parse_keeps_the_issuer(void)
{
    int len = 0;
    unsigned char *der = make_certificate(&len);
    if (der == NULL) {
        tap(0, "idm_cert_parse under OpenSSL allocation failures: no test certificate");
        return;
    }
    struct idm_cert_rec rec;
    memset(&rec, 0, sizeof rec);
    fault_arm(FAULT_OPENSSL, 0);
    int rc = idm_cert_parse(der, (size_t)len, NULL, 0, &rec);
    long calls = fault_calls(FAULT_OPENSSL);
    fault_disarm();
    int ok = rc == IDM_OK && rec.issuer_key_id != NULL && calls > 0;
    idm_cert_rec_clear(&rec);
    long bad = 0, errors = 0;
    for (long n = 1; ok && n <= calls; n++) {
        memset(&rec, 0, sizeof rec);
        fault_arm(FAULT_OPENSSL, n);
        rc = idm_cert_parse(der, (size_t)len, NULL, 0, &rec);
        fault_disarm();
        if (rc != IDM_OK) {
            errors++;
        } else if (rec.issuer_key_id == NULL) {
            printf("#   N=%ld: the certificate parsed without its issuer key id\n", n);
            bad++;
        }
        idm_cert_rec_clear(&rec);
    }
    printf("# %ld OpenSSL allocations swept, %ld errors\n", calls, errors);
    tap(ok && bad == 0, "idm_cert_parse under every OpenSSL allocation failure: an error, or a "
                        "record that names its issuer");
    OPENSSL_free(der);
}

/* A new scratch folder "<name>-XXXXXX" under $IDM_TEST_TMPDIR (or /tmp)
 * into dir; 0, or -1. */
static int scratch_dir(const char *name, char *dir, size_t size)
{
    const char *tmp = getenv("IDM_TEST_TMPDIR");
    if (tmp != NULL && *tmp != '\0')
        (void)mkdir(tmp, 0700);
    else
        tmp = "/tmp";
    int n = snprintf(dir, size, "%s/%s-XXXXXX", tmp, name);
    return n > 0 && (size_t)n < size && mkdtemp(dir) != NULL ? 0 : -1;
}

/* Entries of dir/sub, "." and ".." left out. */
static int entries(const char *dir, const char *sub)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void remove_spool(const char *dir)
{
    static const char *const subs[] = {"outbox", "inbox", "processed", "quarantine", "tmp"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
        DIR *d = opendir(path);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            char file[4500];
            snprintf(file, sizeof file, "%s/%s", path, e->d_name);
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlink(file);
        }
        if (d != NULL)
            closedir(d);
        rmdir(path);
    }
}

static int report_ok(const char *message_id, idm_bureau_status status, const char *chip_serial,
                     const char *shipment, const char *reason, void *report_data)
{
    (void)message_id, (void)status, (void)chip_serial, (void)shipment, (void)reason;
    int *reports = report_data;
    (*reports)++;
    return IDM_OK;
}

/* One status run over a spool holding one good status file. */
static int status_run(const char *dir, int *reports)
{
    idm_producer_t *p = NULL;
    int rc = idm_producer_new_spool(&p, dir);
    if (rc == IDM_OK) {
        idm_backend_call_reset();
        rc = p->ops.status(NULL, 0, report_ok, reports, p->user_data);
    }
    idm_producer_free(&p);
    return rc;
}

static void spool_keeps_good_reports(void)
{
    char dir[4096];
    if (scratch_dir("fault-spool", dir, sizeof dir) != 0) {
        tap(0, "the spool producer under allocation failures: no scratch folder");
        return;
    }
    long calls = 0, bad = 0, kept = 0;
    for (long n = 0; n <= calls; n++) {
        remove_spool(dir);
        char inbox[4200], file[4300];
        snprintf(inbox, sizeof inbox, "%s/inbox", dir);
        snprintf(file, sizeof file, "%s/1.json", inbox);
        FILE *f = mkdir(inbox, 0700) == 0 ? fopen(file, "w") : NULL;
        if (f == NULL || fputs("{\"message_id\": \"m-1\", \"status\": \"produced\", "
                               "\"chip_serial\": \"CHIP-1\"}\n", f) < 0 || fclose(f) != 0) {
            bad++;
            break;
        }
        int reports = 0;
        fault_arm(FAULT_ALLOC, n);
        int rc = status_run(dir, &reports);
        if (n == 0)
            calls = fault_calls(FAULT_ALLOC);
        fault_disarm();
        if (entries(dir, "quarantine") > 0) {
            printf("#   N=%ld: the good status file was quarantined\n", n);
            bad++;
        } else if (rc != IDM_OK) {
            /* It stays, and the next run applies it. */
            kept++;
            reports = 0;
            if (entries(dir, "inbox") != 1 || status_run(dir, &reports) != IDM_OK ||
                reports != 1 || entries(dir, "processed") != 1) {
                printf("#   N=%ld: the status file was not applied by the next run\n", n);
                bad++;
            }
        } else if (reports != 1 || entries(dir, "processed") != 1) {
            printf("#   N=%ld: a run that succeeded did not apply the file\n", n);
            bad++;
        }
    }
    remove_spool(dir);
    rmdir(dir);
    printf("# %ld allocations swept, %ld runs kept the file for the next\n", calls, kept);
    tap(bad == 0 && calls > 0, "the spool producer under every allocation failure: a good status "
                               "file is applied, or stays in the inbox for the next run");
}

/* A clock a second on at each reading: a station opened again after its
 * claim opens later than the claim, which it then takes back. */
static int64_t ticking_clock(void *user_data)
{
    int64_t *now = user_data;
    return *now += 1000;
}

/* A store in a scratch folder with an active holder and an approved card
 * of theirs, on the real clock or on a ticking one. */
struct world {
    char dir[4096];
    idm_ctx_t *ctx;
    idm_identity_t *holder;
    idm_card_t *card;
    int64_t card_id;
    int64_t now; /* the ticking clock's */
};

/* 1, or 0 after saying why. */
static int world_open(struct world *w, const char *name, idm_card_option option, int ticking)
{
    memset(w, 0, sizeof *w);
    w->now = INT64_C(1798761600000);
    char store[4200];
    int64_t holder_id = 0;
    int ready =
        scratch_dir(name, w->dir, sizeof w->dir) == 0 &&
        snprintf(store, sizeof store, "%s/store.db", w->dir) > 0 &&
        idm_ctx_new(&w->ctx) == IDM_OK &&
        (!ticking || idm_ctx_set_clock(w->ctx, ticking_clock, &w->now) == IDM_OK) &&
        idm_ctx_open_store(w->ctx, store) == IDM_OK &&
        idm_identity_new(w->ctx, "test", "F1", &w->holder) == IDM_OK &&
        idm_identity_set_attribute(w->holder, "test", "givenName", "Ada") == IDM_OK &&
        idm_identity_set_attribute(w->holder, "test", "surname", "Lovelace") == IDM_OK &&
        idm_identity_set_state(w->holder, "test", IDM_IDENTITY_ACTIVE) == IDM_OK &&
        idm_identity_get_id(w->holder, &holder_id) == IDM_OK &&
        idm_card_new(w->ctx, "test", IDM_CARD_EMPLOYEE, option, IDM_PRODUCTION_LOCAL, holder_id,
                     NULL, &w->card) == IDM_OK &&
        idm_card_set_state(w->card, "test", IDM_CARD_REQUESTED, NULL) == IDM_OK &&
        idm_card_set_state(w->card, "test", IDM_CARD_APPROVED, NULL) == IDM_OK &&
        idm_card_get_id(w->card, &w->card_id) == IDM_OK;
    if (!ready)
        printf("# %s: set-up failed: %s\n", name, idm_last_error_message());
    return ready;
}

static void world_close(struct world *w)
{
    idm_card_free(&w->card);
    idm_identity_free(&w->holder);
    idm_ctx_free(&w->ctx);
    static const char *const files[] = {"store.db", "store.db-wal", "store.db-shm"};
    for (size_t i = 0; w->dir[0] != '\0' && i < sizeof files / sizeof files[0]; i++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", w->dir, files[i]);
        unlink(path);
    }
    if (w->dir[0] != '\0')
        rmdir(w->dir);
}

/* idm_card_issue_certificate() on an approved Digital ID card with a
 * built-in CA, swept over every allocation it makes, a new attempt each
 * time. */
static void issue_leaves_nothing_behind(void)
{
    struct world w;
    idm_ca_t *ca = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    unsigned char *spki = NULL;
    int spki_len = key != NULL ? i2d_PUBKEY(key, &spki) : -1;
    long calls = 0, bad = 0, issued = 0;
    int ready = world_open(&w, "fault-issue", IDM_CARD_DIGITAL, 0) && spki_len > 0 &&
                idm_ca_new_openssl(&ca, w.ctx, IDM_KEY_EC_P256, "Fault Issue CA", 365) == IDM_OK;
    for (long n = 0; ready && n <= calls; n++) {
        idm_cert_t *cert = NULL;
        fault_arm(FAULT_ALLOC, n);
        int rc = idm_card_issue_certificate(w.card, "test", ca, IDM_USAGE_AUTHENTICATION, spki,
                                            (size_t)spki_len, (int)n + 1, &cert);
        if (n == 0)
            calls = fault_calls(FAULT_ALLOC);
        fault_disarm();
        if (rc == IDM_OK && cert == NULL) {
            printf("#   N=%ld: success without the certificate\n", n);
            bad++;
        } else if (rc != IDM_OK && cert != NULL) {
            printf("#   N=%ld: an error, and a certificate handle\n", n);
            bad++;
        }
        issued += rc == IDM_OK;
        idm_cert_free(&cert);
        if (idm_card_refresh(w.card) != IDM_OK) { /* the handle must still work */
            printf("#   N=%ld: the card handle is broken: %s\n", n, idm_last_error_message());
            bad++;
        }
    }
    printf("# %ld allocations swept, %ld issued\n", calls, issued);
    tap(ready && bad == 0 && calls > 0,
        "idm_card_issue_certificate under every allocation failure: a certificate handle "
        "only with success (a leak would fail the sanitizer and valgrind runs at exit)");
    idm_ca_free(&ca);
    world_close(&w);
    OPENSSL_free(spki);
    EVP_PKEY_free(key);
}

/* One approved card in an order; a station's claim of it (idm_mp_next)
 * swept over every SQLite file operation it makes. */
static void claim_leaves_nothing_behind(void)
{
    struct world w;
    idm_order_t *order = NULL;
    int64_t order_id = 0;
    long calls = 0, bad = 0, claimed = 0;
    int ready = world_open(&w, "fault-claim", IDM_CARD_PHYSICAL, 1) &&
                idm_order_new(w.ctx, "test", IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                              IDM_CARD_PHYSICAL, NULL, &order) == IDM_OK &&
                idm_order_add_card(order, "test", w.card_id) == IDM_OK &&
                idm_order_get_id(order, &order_id) == IDM_OK;
    for (long n = 0; ready && n <= calls; n++) {
        struct idm_station *st = NULL;
        int64_t got = -1;
        if (idm_mp_station_open(&st, w.ctx, order_id, "fault-station", NULL, NULL,
                                INT64_C(86400000)) != IDM_OK) {
            printf("#   N=%ld: cannot open the station: %s\n", n, idm_last_error_message());
            bad++;
            break;
        }
        fault_arm(FAULT_SQLITE_IO, n);
        int rc = idm_mp_next(st, "test", &got);
        if (n == 0)
            calls = fault_calls(FAULT_SQLITE_IO);
        fault_disarm();
        if (rc == IDM_OK && got != w.card_id) {
            printf("#   N=%ld: claimed %lld, not the order's card\n", n, (long long)got);
            bad++;
        }
        claimed += rc == IDM_OK;
        idm_mp_station_close(st);
    }
    printf("# %ld SQLite file operations swept, %ld claims\n", calls, claimed);
    tap(ready && bad == 0 && calls > 0,
        "a station's claim under every SQLite file failure: the card, or an error and nothing "
        "kept (a leak would fail the sanitizer and valgrind runs at exit)");
    idm_order_free(&order);
    world_close(&w);
}

int main(void)
{
    if (fault_install() != 0)
        return 99;
    cert_parse_keeps_the_issuer();
    spool_keeps_good_reports();
    issue_leaves_nothing_behind();
    claim_leaves_nothing_behind();
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}
