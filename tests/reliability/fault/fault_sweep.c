/* The fault sweep: a whole workflow runs again and again on a fresh store,
 * each time with the Nth call of one kind of dependency failing (fault.h:
 * libidm's allocations, OpenSSL, SQLite's files and allocations, PC/SC),
 * for every N from 1 to the number of such calls the workflow makes (or an
 * even sample of them, --budget).  After each run:
 *
 *   - the workflow either failed with an error that has a message, or
 *     absorbed the fault (SQLite's busy handler retrying a lock, a PIN
 *     delivery retried...) and finished;
 *   - the store left behind passes the invariant checker (check_store:
 *     integrity, states, certificates following cards, outcomes, audit
 *     chain);
 *   - the same workflow run again without faults, as a host would after
 *     an error, finishes: every holder gets one issued card with its live
 *     certificates; nothing is lost or stuck;
 *   - then the store passes the checker again, the CA's CRL (made from the
 *     store) verifies with the CA's key and lists exactly the certificates
 *     the store has revoked or on hold;
 *   - in a sanitizer build, LeakSanitizer finds no leak (checked after
 *     every run, so a leak is pinned to its N).
 *
 * Workflows:
 *   mass_production  CSV import, card requests and approvals, an order,
 *                    the station driver on the virtual PIV card (keys made
 *                    on the card, certificates from the built-in CA),
 *                    completion.
 *   external         cards ordered from a bureau through the spool, the
 *                    queue sent, the bureau's status files applied (in
 *                    production, produced with a chip serial and a
 *                    shipment), the "card ordered" mails delivered.
 *
 * Usage: fault_sweep --check-store PATH [--budget N | --full | --at N]
 *                    [--kind K]... [--workflow W]... [--seed S] [--keep]
 * (--at N: only the Nth call; --keep: leave the last run's store, spool and
 * mail in the scratch folder, to look at.)
 * Runs inside tests/vcard/with-stack.sh --hopper (IDM_TEST_READER0,
 * IDM_TEST_STACK, PCSC_STACK_DIR).  Prints TAP, one test per workflow and
 * kind, with the figures as comments. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <idm/idm.h>

#include "fault.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define LEAK_CHECK() 0
#endif

#define ACTOR "operator:fault-sweep"
#define STATION "fault-sweep"
#define CARD_WAIT_MS 5000
#define PASSPHRASE "fault sweep CA passphrase"
#define HOLDERS 2
#define MAX_ROUNDS 8

static const char PEOPLE_CSV[] =
    "employeeNumber,givenName,surname,mail\n"
    "F1001,Ada,Lovelace,ada@corp.example\n"
    "F1002,Alan,Turing,alan@corp.example\n";

static struct {
    const char *check_store;
    const char *stack;
    const char *reader;
    const char *stack_dir;
    char dir[4096];
    char *ca_cert_pem, *ca_key_pem;
} cfg;

/* ---- small helpers ----------------------------------------------------- */

/* The first failure of a workflow run, kept with its step. */
struct outcome {
    int rc;
    char step[200];
    char message[512];
};

static int failed_at(struct outcome *o, int rc, const char *step)
{
    if (rc != IDM_OK && o->rc == IDM_OK) {
        o->rc = rc;
        snprintf(o->step, sizeof o->step, "%.*s", (int)sizeof o->step - 1, step);
        snprintf(o->message, sizeof o->message, "%s", idm_last_error_message());
    }
    return rc;
}

#define TRY(o, call)                                   \
    do {                                               \
        if (failed_at((o), (call), #call) != IDM_OK)   \
            goto out;                                  \
    } while (0)

static int passphrase(char *buf, size_t size, void *user_data)
{
    (void)user_data;
    size_t n = strlen(PASSPHRASE);
    if (n > size)
        return -1;
    memcpy(buf, PASSPHRASE, n);
    return (int)n;
}

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *user_data)
{
    (void)card;
    (void)pin;
    (void)puk;
    (void)user_data;
    return 0;
}

/* dir + suffix into out; 0, or -1 when it does not fit. */
static int join(char *out, size_t size, const char *dir, const char *suffix)
{
    int n = snprintf(out, size, "%s%s", dir, suffix);
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

static void remove_store(const char *path)
{
    static const char *const sides[] = {"", "-wal", "-shm", "-journal"};
    char side[4200];
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++)
        if (join(side, sizeof side, path, sides[i]) == 0)
            unlink(side);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[4400];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(sub);
            else
                unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Runs check_store on the store; 0 when every invariant holds, else its
 * output in why. */
static int check_store(const char *store, char *why, size_t size)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "'%s' '%s' 2>&1", cfg.check_store, store);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        snprintf(why, size, "cannot run %s: %s", cfg.check_store, strerror(errno));
        return -1;
    }
    size_t n = fread(why, 1, size - 1, p);
    why[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- the card in reader 0 ---------------------------------------------- */

/* Whether the virtual card in reader 0 is blank: no key, and no object but
 * its CHUID (the state file the virtual card keeps in PCSC_STACK_DIR). */
static int card_is_blank(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/card0.json", cfg.stack_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    static char json[1 << 16];
    size_t n = fread(json, 1, sizeof json - 1, f);
    fclose(f);
    json[n] = '\0';
    return strstr(json, "\"keys\": {}") != NULL && strstr(json, "\"5FC105\"") == NULL &&
           strstr(json, "\"5FC101\"") == NULL && strstr(json, "\"5FC109\"") == NULL &&
           strstr(json, "\"5FC107\"") == NULL;
}

static int card_swaps;

/* A card that was written to, or whose chip the store ties to a card
 * that did not go through, is spoiled: the operator puts a blank one in. */
static int ensure_blank_card(int spoiled)
{
    if (!spoiled && card_is_blank())
        return 0;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "bash '%s' card 0 --timeout 20 --fresh --hopper >/dev/null 2>&1",
             cfg.stack);
    card_swaps++;
    if (system(cmd) != 0) {
        fprintf(stderr, "fault_sweep: '%s' failed\n", cmd);
        return -1;
    }
    return 0;
}

/* Whether the store ties a chip to a card that did not go through (failed,
 * or still in production): that chip may be the one in the reader, which
 * then cannot serve another card. */
static int store_binds_a_spoiled_chip(const char *store)
{
    idm_ctx_t *ctx = NULL;
    idm_card_iter_t *it = NULL;
    idm_card_t *card = NULL;
    int bound = 0;
    struct stat st;
    if (stat(store, &st) != 0)
        return 0;
    if (idm_ctx_new(&ctx) != IDM_OK || idm_ctx_open_store(ctx, store) != IDM_OK ||
        idm_card_iter_new(ctx, &it) != IDM_OK) {
        bound = 1; /* cannot tell: take a blank card */
    }
    while (!bound && idm_card_iter_next(it, &card) == IDM_OK && card != NULL) {
        idm_card_state state;
        const char *chip = NULL;
        bound = idm_card_get_state(card, &state) != IDM_OK ||
                idm_card_get_chip_serial(card, &chip) != IDM_OK ||
                (chip != NULL && state != IDM_CARD_ISSUED);
        idm_card_free(&card);
    }
    idm_card_free(&card);
    idm_card_iter_free(&it);
    idm_ctx_free(&ctx);
    return bound;
}

/* ---- workflow: mass production ---------------------------------------- */

/* The holder's cards by state, counted. */
static int count_cards(idm_ctx_t *ctx, int64_t holder, idm_card_state state, int64_t *last,
                       int *count)
{
    idm_card_iter_t *it = NULL;
    int rc = idm_card_iter_new(ctx, &it);
    if (rc == IDM_OK)
        rc = idm_card_iter_set_identity(it, holder);
    if (rc == IDM_OK)
        rc = idm_card_iter_set_state(it, state);
    *count = 0;
    idm_card_t *card = NULL;
    while (rc == IDM_OK && (rc = idm_card_iter_next(it, &card)) == IDM_OK && card != NULL) {
        (*count)++;
        if (last != NULL)
            rc = idm_card_get_id(card, last);
        idm_card_free(&card);
    }
    idm_card_free(&card);
    idm_card_iter_free(&it);
    return rc;
}

/* The ids of every identity, at most max; their number in *n. */
static int identities(idm_ctx_t *ctx, int64_t *ids, int max, int *n)
{
    idm_identity_iter_t *it = NULL;
    idm_identity_t *p = NULL;
    *n = 0;
    int rc = idm_identity_iter_new(ctx, &it);
    while (rc == IDM_OK && (rc = idm_identity_iter_next(it, &p)) == IDM_OK && p != NULL) {
        if (*n < max)
            rc = idm_identity_get_id(p, &ids[*n]);
        (*n)++;
        idm_identity_free(&p);
    }
    idm_identity_free(&p);
    idm_identity_iter_free(&it);
    return rc;
}

/* The holders' ids (n of them), imported first when the store has none. */
static int holders(idm_ctx_t *ctx, int64_t ids[HOLDERS + 1], int *n, struct outcome *o)
{
    TRY(o, identities(ctx, ids, HOLDERS + 1, n));
    if (*n == 0) {
        size_t imported = 0;
        TRY(o, idm_identity_import_csv_data(ctx, ACTOR, PEOPLE_CSV, sizeof PEOPLE_CSV - 1,
                                            "employeeNumber", IDM_IDENTITY_ACTIVE, &imported));
        TRY(o, identities(ctx, ids, HOLDERS + 1, n));
    }
out:
    return o->rc;
}

/* Each holder gets a card request, approved: unless the holder has a card
 * on its way (requested, approved) or done (issued).  A failed card is
 * replaced by a new request, as the administrator would. */
static int request_cards(idm_ctx_t *ctx, struct outcome *o)
{
    int64_t ids[HOLDERS + 1];
    int n = 0;
    TRY(o, holders(ctx, ids, &n, o));
    if (n != HOLDERS) {
        o->rc = IDM_ERR_STATE;
        snprintf(o->message, sizeof o->message, "%d identities after the import, not %d", n,
                 HOLDERS);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int requested = 0, approved = 0, issued = 0;
        int64_t card_id = 0;
        TRY(o, count_cards(ctx, ids[i], IDM_CARD_ISSUED, NULL, &issued));
        TRY(o, count_cards(ctx, ids[i], IDM_CARD_APPROVED, NULL, &approved));
        TRY(o, count_cards(ctx, ids[i], IDM_CARD_REQUESTED, &card_id, &requested));
        if (issued + approved > 0)
            continue;
        idm_card_t *card = NULL;
        if (requested == 0) {
            int registered = 0;
            TRY(o, count_cards(ctx, ids[i], IDM_CARD_REGISTERED, &card_id, &registered));
            if (registered == 0) {
                TRY(o, idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                                    IDM_PRODUCTION_LOCAL, ids[i], NULL, &card));
            } else {
                TRY(o, idm_card_open(ctx, card_id, &card));
            }
            int rc = idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL);
            if (rc != IDM_OK) {
                idm_card_free(&card);
                TRY(o, rc);
            }
        } else {
            TRY(o, idm_card_open(ctx, card_id, &card));
        }
        int rc = idm_card_set_state(card, ACTOR, IDM_CARD_APPROVED, NULL);
        idm_card_free(&card);
        TRY(o, rc);
    }
out:
    return o->rc;
}

/* Runs every open or running order at this station; then, if approved
 * cards are left outside them, a new order with them. */
static int produce_orders(idm_ctx_t *ctx, idm_ca_t *ca, idm_encoder_t *enc, struct outcome *o)
{
    idm_order_t *order = NULL;
    idm_station_t *station = NULL;
    for (int round = 0; round < MAX_ROUNDS; round++) {
        int64_t order_id = 0;
        for (int s = 0; s < 2 && order_id == 0; s++) {
            idm_order_iter_t *it = NULL;
            TRY(o, idm_order_iter_new(ctx, &it));
            int rc = idm_order_iter_set_state(it, s == 0 ? IDM_ORDER_RUNNING : IDM_ORDER_OPEN);
            while (rc == IDM_OK && order_id == 0 &&
                   (rc = idm_order_iter_next(it, &order)) == IDM_OK && order != NULL) {
                idm_order_kind kind;
                rc = idm_order_get_kind(order, &kind);
                if (rc == IDM_OK && kind == IDM_ORDER_MASS_PRODUCTION)
                    rc = idm_order_get_id(order, &order_id);
                idm_order_free(&order);
            }
            idm_order_iter_free(&it);
            TRY(o, rc);
        }
        if (order_id != 0) {
            TRY(o, idm_order_open(ctx, order_id, &order));
        } else {
            int approved = 0;
            int64_t ids[HOLDERS + 1];
            int n = 0;
            TRY(o, identities(ctx, ids, HOLDERS + 1, &n));
            for (int i = 0; i < n && i <= HOLDERS; i++) {
                int c = 0;
                TRY(o, count_cards(ctx, ids[i], IDM_CARD_APPROVED, NULL, &c));
                approved += c;
            }
            if (approved == 0)
                goto out; /* nothing left to produce */
            size_t added = 0;
            TRY(o, idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                                 IDM_CARD_DIGITAL, NULL, &order));
            TRY(o, idm_order_add_approved(order, ACTOR, 0, &added));
        }
        TRY(o, idm_station_open(&station, order, STATION, enc, ca));
        /* The lease outlives the sweep: only this station works the order. */
        TRY(o, idm_station_set_lease(station, INT64_C(86400000)));
        TRY(o, idm_production_run(station, ACTOR, NULL, 0, NULL));
        idm_station_free(&station);
        idm_order_free(&order);
    }
    o->rc = IDM_ERR_STATE;
    snprintf(o->message, sizeof o->message, "orders still open after %d rounds", MAX_ROUNDS);
out:
    idm_station_free(&station);
    idm_order_free(&order);
    return o->rc;
}

/* The whole mass production workflow, from wherever the store is: what is
 * done is not done again, so the same function is the run and its resume. */
static int mass_production(const char *store, struct outcome *o)
{
    idm_ctx_t *ctx = NULL;
    idm_ca_t *ca = NULL;
    idm_encoder_t *enc = NULL;
    memset(o, 0, sizeof *o);
    TRY(o, idm_ctx_new(&ctx));
    TRY(o, idm_ctx_open_store(ctx, store));
    TRY(o, idm_options_set_string(ctx, ACTOR, "pin_source", "generated"));
    TRY(o, idm_options_set_string(ctx, ACTOR, "card_key_slots", "9A,9E"));
    TRY(o, request_cards(ctx, o));
    TRY(o, idm_ca_new_openssl_pem(&ca, ctx, cfg.ca_cert_pem, strlen(cfg.ca_cert_pem),
                                  cfg.ca_key_pem, strlen(cfg.ca_key_pem), passphrase, NULL));
    TRY(o, idm_encoder_new_pcsc(&enc, ctx));
    TRY(o, idm_encoder_pcsc_set_reader(enc, cfg.reader));
    TRY(o, idm_encoder_set_timeout(enc, CARD_WAIT_MS));
    TRY(o, idm_encoder_set_pin_callbacks(enc, NULL, deliver, NULL));
    TRY(o, produce_orders(ctx, ca, enc, o));
out:
    idm_encoder_free(&enc);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    return o->rc;
}

/* ---- workflow: external ordering -------------------------------------- */

/* What the bureau (this program, between library calls) saw: every order
 * message, by card, and which it answered.  Kept across a run and its
 * resume; reset for each store. */
#define MAX_MESSAGES 64
static struct bureau {
    int n;
    struct {
        char id[160];
        long long card_id;
    } msg[MAX_MESSAGES];
} bureau;

static int bureau_knows(const char *id)
{
    for (int i = 0; i < bureau.n; i++)
        if (strcmp(bureau.msg[i].id, id) == 0)
            return 1;
    return 0;
}

static int write_status(const char *spool, const char *name, const char *json)
{
    char tmp[4400], path[4400];
    snprintf(tmp, sizeof tmp, "%s/bureau-%s", spool, name);
    snprintf(path, sizeof path, "%s/inbox/%s", spool, name);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fputs(json, f);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

/* The bureau takes every new order message from the outbox and answers it:
 * in production, then produced with a chip serial and a shipment. */
static int bureau_answers(const char *spool)
{
    char outbox[4300];
    snprintf(outbox, sizeof outbox, "%s/outbox", spool);
    DIR *d = opendir(outbox);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0 ||
            strstr(e->d_name, ".cancel.json") != NULL)
            continue;
        char id[160];
        snprintf(id, sizeof id, "%.*s", (int)(len - 5), e->d_name);
        if (bureau_knows(id))
            continue;
        if (bureau.n == MAX_MESSAGES)
            return -1;
        /* "idm-<store>-o<order>-c<card>-a<attempt>": the last "-c". */
        const char *c = NULL;
        for (const char *q = strstr(id, "-c"); q != NULL; q = strstr(q + 1, "-c"))
            c = q;
        bureau.msg[bureau.n].card_id = c != NULL ? atoll(c + 2) : -1;
        snprintf(bureau.msg[bureau.n].id, sizeof bureau.msg[bureau.n].id, "%s", id);
        int k = ++bureau.n;
        char name[200], json[600];
        snprintf(name, sizeof name, "%s-1.json", id);
        snprintf(json, sizeof json, "{\"message_id\":\"%s\",\"status\":\"in_production\"}", id);
        rc = write_status(spool, name, json);
        snprintf(name, sizeof name, "%s-2.json", id);
        snprintf(json, sizeof json,
                 "{\"message_id\":\"%s\",\"status\":\"produced\",\"chip_serial\":\"BUREAU-%04d\","
                 "\"shipment\":\"DHL 00340434%02d\"}", id, k, k);
        if (rc == 0)
            rc = write_status(spool, name, json);
    }
    closedir(d);
    return rc;
}

/* The external workflow from wherever the store and spool are. */
static int external_ordering(const char *store, const char *spool, const char *maildir,
                             struct outcome *o)
{
    idm_ctx_t *ctx = NULL;
    idm_producer_t *producer = NULL;
    idm_notifier_t *notifier = NULL;
    idm_external_t *x = NULL;
    idm_card_t *card = NULL;
    memset(o, 0, sizeof *o);
    TRY(o, idm_ctx_new(&ctx));
    TRY(o, idm_ctx_open_store(ctx, store));
    TRY(o, idm_options_set_bool(ctx, ACTOR, "external_production_enabled", 1));
    TRY(o, idm_options_set_bool(ctx, ACTOR, "send_card_ordered_email", 1));
    int64_t ids[HOLDERS + 1];
    int n = 0;
    TRY(o, holders(ctx, ids, &n, o));
    TRY(o, idm_producer_new_spool(&producer, spool));
    TRY(o, idm_notifier_new_maildir(&notifier, maildir, "cards@corp.example"));
    TRY(o, idm_external_new(&x, ctx, producer, notifier));
    for (int round = 0; round < MAX_ROUNDS; round++) {
        int waiting = 0;
        for (int i = 0; i < n && i < HOLDERS; i++) {
            static const idm_card_state on_its_way[] = {
                IDM_CARD_REGISTERED, IDM_CARD_REQUESTED, IDM_CARD_PROCESSING,
                IDM_CARD_ORDERED, IDM_CARD_IN_PRODUCTION};
            int produced = 0, failed = 0, busy = 0;
            int64_t failed_id = 0;
            TRY(o, count_cards(ctx, ids[i], IDM_CARD_PRODUCED, NULL, &produced));
            for (size_t s = 0; s < sizeof on_its_way / sizeof on_its_way[0]; s++) {
                int c = 0;
                TRY(o, count_cards(ctx, ids[i], on_its_way[s], NULL, &c));
                busy += c;
            }
            TRY(o, count_cards(ctx, ids[i], IDM_CARD_FAILED, &failed_id, &failed));
            if (produced > 0)
                continue;
            waiting++;
            if (busy > 0)
                continue;
            if (failed > 0) { /* the bureau refused or the send failed: repeat */
                TRY(o, idm_card_open(ctx, failed_id, &card));
                TRY(o, idm_card_set_state(card, ACTOR, IDM_CARD_PROCESSING, "repeat"));
            } else {
                TRY(o, idm_external_order_card(x, ACTOR, ids[i], IDM_CARD_EMPLOYEE,
                                               IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL, &card));
            }
            idm_card_free(&card);
        }
        if (waiting == 0)
            break;
        size_t sent = 0, send_failed = 0, applied = 0, refused = 0;
        TRY(o, idm_external_sync_queue(x, ACTOR, 10, &sent, &send_failed));
        if (bureau_answers(spool) != 0) {
            o->rc = IDM_ERR_IO;
            snprintf(o->message, sizeof o->message, "the bureau could not answer in %s", spool);
            goto out;
        }
        TRY(o, idm_external_update(x, ACTOR, &applied, &refused));
        if (round == MAX_ROUNDS - 1) {
            o->rc = IDM_ERR_STATE;
            snprintf(o->message, sizeof o->message, "cards still on their way after %d rounds",
                     MAX_ROUNDS);
            goto out;
        }
    }
    size_t delivered = 0, pending = 0;
    TRY(o, idm_external_flush_notifications(x, ACTOR, &delivered, &pending));
out:
    idm_card_free(&card);
    idm_external_free(&x);
    idm_notifier_free(&notifier);
    idm_producer_free(&producer);
    idm_ctx_free(&ctx);
    return o->rc;
}

/* ---- what must hold once a workflow finished -------------------------- */

static int complaint(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -1;
}

/* Each holder has exactly one card in state done (and, for issued cards,
 * two live certificates); every revoked or held certificate of the store,
 * and no other, is on the CA's CRL, which verifies with the CA's key. */
static int workflow_done(const char *store, idm_card_state done, int check_crl, char *why,
                         size_t size)
{
    idm_ctx_t *ctx = NULL;
    idm_ca_t *ca = NULL;
    idm_buffer_t *buf = NULL;
    idm_card_iter_t *cards = NULL;
    idm_card_t *card = NULL;
    idm_cert_iter_t *certs = NULL;
    idm_cert_t *cert = NULL;
    X509_CRL *crl = NULL;
    X509 *ca_cert = NULL;
    BIGNUM *bn = NULL;
    int bad = -1, n = 0, listed = 0;
    int64_t ids[HOLDERS + 1];
    BIO *pem = BIO_new_mem_buf(cfg.ca_cert_pem, -1);
    X509 *ca_pem_cert = pem != NULL ? PEM_read_bio_X509(pem, NULL, NULL, NULL) : NULL;
    EVP_PKEY *ca_key = ca_pem_cert != NULL ? X509_get0_pubkey(ca_pem_cert) : NULL;
    BIO_free(pem);
    if (idm_ctx_new(&ctx) != IDM_OK || idm_ctx_open_store(ctx, store) != IDM_OK ||
        identities(ctx, ids, HOLDERS + 1, &n) != IDM_OK) {
        complaint(why, size, "cannot read the store: %s", idm_last_error_message());
        goto out;
    }
    if (n != HOLDERS) {
        complaint(why, size, "%d identities, not %d", n, HOLDERS);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int count = 0;
        int64_t card_id = 0;
        if (count_cards(ctx, ids[i], done, &card_id, &count) != IDM_OK || count != 1) {
            complaint(why, size, "identity %" PRId64 " has %d cards %s, not 1", ids[i], count,
                      idm_card_state_name(done));
            goto out;
        }
        if (done == IDM_CARD_ISSUED) {
            int live = 0;
            idm_cert_state state;
            if (idm_cert_iter_new(ctx, card_id, &certs) != IDM_OK)
                goto store_error;
            while (idm_cert_iter_next(certs, &cert) == IDM_OK && cert != NULL) {
                const unsigned char *der = NULL;
                size_t der_len = 0;
                if (idm_cert_get_state(cert, &state) != IDM_OK ||
                    idm_cert_get_der(cert, &der, &der_len) != IDM_OK)
                    goto store_error;
                live += state == IDM_CERT_VALID || state == IDM_CERT_ON_HOLD;
                /* A fault the library absorbed must not have left a
                 * certificate that its CA did not sign. */
                X509 *x = d2i_X509(NULL, &der, (long)der_len);
                int signed_by_ca = x != NULL && ca_key != NULL && X509_verify(x, ca_key) == 1;
                X509_free(x);
                if (!signed_by_ca) {
                    complaint(why, size, "a certificate of card %" PRId64
                              " does not verify with the CA's key", card_id);
                    goto out;
                }
                idm_cert_free(&cert);
            }
            idm_cert_iter_free(&certs);
            if (live != 2) {
                complaint(why, size, "issued card %" PRId64 " has %d live certificates, not 2",
                          card_id, live);
                goto out;
            }
        }
    }
    if (!check_crl) {
        bad = 0;
        goto out;
    }

    /* The CRL against the store's revoked and held certificates. */
    const unsigned char *p;
    size_t len;
    if (idm_ca_new_openssl_pem(&ca, ctx, cfg.ca_cert_pem, strlen(cfg.ca_cert_pem),
                               cfg.ca_key_pem, strlen(cfg.ca_key_pem), passphrase, NULL) != IDM_OK ||
        idm_buffer_new(&buf) != IDM_OK || idm_ca_generate_crl(ca, ctx, 24, buf) != IDM_OK ||
        idm_buffer_get(buf, &p, &len) != IDM_OK) {
        complaint(why, size, "no CRL: %s", idm_last_error_message());
        goto out;
    }
    crl = d2i_X509_CRL(NULL, &p, (long)len);
    idm_buffer_free(&buf);
    if (crl == NULL || idm_buffer_new(&buf) != IDM_OK ||
        idm_ca_get_certificate(ca, buf) != IDM_OK || idm_buffer_get(buf, &p, &len) != IDM_OK ||
        (ca_cert = d2i_X509(NULL, &p, (long)len)) == NULL) {
        complaint(why, size, "the CRL or the CA certificate does not parse");
        goto out;
    }
    if (X509_CRL_verify(crl, X509_get0_pubkey(ca_cert)) != 1) {
        complaint(why, size, "the CRL does not verify with the CA's key");
        goto out;
    }
    if (idm_card_iter_new(ctx, &cards) != IDM_OK)
        goto store_error;
    while (idm_card_iter_next(cards, &card) == IDM_OK && card != NULL) {
        int64_t card_id = 0;
        if (idm_card_get_id(card, &card_id) != IDM_OK ||
            idm_cert_iter_new(ctx, card_id, &certs) != IDM_OK)
            goto store_error;
        while (idm_cert_iter_next(certs, &cert) == IDM_OK && cert != NULL) {
            idm_cert_state state;
            const char *serial = NULL;
            if (idm_cert_get_state(cert, &state) != IDM_OK ||
                idm_cert_get_serial(cert, &serial) != IDM_OK || BN_hex2bn(&bn, serial) == 0)
                goto store_error;
            int revoked = state == IDM_CERT_REVOKED || state == IDM_CERT_ON_HOLD;
            ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
            X509_REVOKED *entry = NULL;
            int on_crl = ai != NULL && X509_CRL_get0_by_serial(crl, &entry, ai) == 1;
            ASN1_INTEGER_free(ai);
            if (revoked != on_crl) {
                complaint(why, size, "certificate %s of card %" PRId64 " is %s but %s the CRL",
                          serial, card_id, idm_cert_state_name(state),
                          on_crl ? "on" : "not on");
                goto out;
            }
            listed += on_crl;
            idm_cert_free(&cert);
        }
        idm_cert_iter_free(&certs);
        idm_card_free(&card);
    }
    STACK_OF(X509_REVOKED) *entries = X509_CRL_get_REVOKED(crl);
    int on_list = entries != NULL ? sk_X509_REVOKED_num(entries) : 0;
    if (on_list != listed) {
        complaint(why, size, "the CRL lists %d certificates, the store revoked or held %d",
                  on_list, listed);
        goto out;
    }
    bad = 0;
    goto out;
store_error:
    complaint(why, size, "cannot read the store: %s", idm_last_error_message());
out:
    BN_free(bn);
    X509_free(ca_pem_cert);
    X509_free(ca_cert);
    X509_CRL_free(crl);
    idm_cert_free(&cert);
    idm_cert_iter_free(&certs);
    idm_card_free(&card);
    idm_card_iter_free(&cards);
    idm_buffer_free(&buf);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    return bad;
}

/* Every card the bureau produced came under one message: a card ordered
 * twice would be two cards made. */
static int bureau_orders_once(char *why, size_t size)
{
    for (int i = 0; i < bureau.n; i++)
        for (int j = 0; j < i; j++)
            if (bureau.msg[i].card_id == bureau.msg[j].card_id)
                return complaint(why, size, "card %lld was ordered twice: %s and %s",
                                 bureau.msg[i].card_id, bureau.msg[j].id, bureau.msg[i].id);
    return 0;
}

/* ---- the sweep --------------------------------------------------------- */

enum workflow { WF_MASS_PRODUCTION, WF_EXTERNAL, WORKFLOWS };
static const char *const workflow_names[WORKFLOWS] = {"mass_production", "external"};

struct paths {
    char store[4200], spool[4200], maildir[4200];
};

static int fresh_paths(struct paths *p)
{
    char iter[4200];
    snprintf(iter, sizeof iter, "%s/run", cfg.dir);
    remove_tree(iter);
    if (mkdir(iter, 0700) != 0)
        return -1;
    if (join(p->store, sizeof p->store, iter, "/store.db") != 0 ||
        join(p->spool, sizeof p->spool, iter, "/spool") != 0 ||
        join(p->maildir, sizeof p->maildir, iter, "/mail") != 0)
        return -1;
    memset(&bureau, 0, sizeof bureau);
    return mkdir(p->spool, 0700);
}

static int run_workflow(enum workflow w, const struct paths *p, struct outcome *o)
{
    if (w == WF_MASS_PRODUCTION)
        return mass_production(p->store, o);
    return external_ordering(p->store, p->spool, p->maildir, o);
}

/* Whether LeakSanitizer finds a new leak.  A leak stays unreachable for
 * good, and every later check would report it again: the first one is
 * pinned to its N, and the checks stop there (the run fails anyway). */
static int leak_check(void)
{
    static int leaked;
    if (leaked)
        return 0;
    leaked = LEAK_CHECK();
    return leaked;
}

struct tally {
    long swept, errors, absorbed, not_reached, failures;
    char first_failures[4][700];
};

static void fail(struct tally *t, long n, const char *what, const char *detail)
{
    if (t->failures < 4)
        snprintf(t->first_failures[t->failures], sizeof t->first_failures[0],
                 "N=%ld (%s): %s: %.400s", n, fault_site(), what, detail);
    t->failures++;
}

/* One run with the nth call of kind failing (n = 0: none; returns the
 * number of calls then, or -1), its checks, the resume and its checks. */
static long one_run(enum workflow w, enum fault_kind kind, long n, struct tally *t)
{
    struct paths p;
    struct outcome o;
    char why[2048];
    if (fresh_paths(&p) != 0) {
        fail(t, n, "scratch folder", strerror(errno));
        return -1;
    }
    if (w == WF_MASS_PRODUCTION && ensure_blank_card(0) != 0) {
        fail(t, n, "blank card", "pcsc-stack.sh card failed");
        return -1;
    }
    fault_arm(kind, n);
    int rc = run_workflow(w, &p, &o);
    long calls = fault_calls(kind);
    int fired = fault_fired();
    fault_disarm();
    char site[96];
    snprintf(site, sizeof site, "%s", fault_site());
    if (n == 0) {
        if (rc != IDM_OK) {
            snprintf(why, sizeof why, "%s: %s", o.step, o.message);
            fail(t, 0, "the run without faults failed", why);
            return -1;
        }
        if (workflow_done(p.store, w == WF_MASS_PRODUCTION ? IDM_CARD_ISSUED
                                                            : IDM_CARD_PRODUCED,
                          w == WF_MASS_PRODUCTION, why, sizeof why) != 0 ||
            check_store(p.store, why, sizeof why) != 0) {
            fail(t, 0, "the run without faults", why);
            return -1;
        }
        return calls;
    }
    t->swept++;
    if (!fired) {
        t->not_reached++;
    } else if (rc != IDM_OK) {
        t->errors++;
        if (o.message[0] == '\0')
            fail(t, n, "an error without a message", o.step);
    } else {
        t->absorbed++;
    }
    if (leak_check())
        fail(t, n, "LeakSanitizer found a leak (above)", site);
    struct stat st;
    if (stat(p.store, &st) == 0 && check_store(p.store, why, sizeof why) != 0)
        fail(t, n, "the store after the fault breaks an invariant", why);

    /* Resume, as the host would after the error. */
    if (w == WF_MASS_PRODUCTION && ensure_blank_card(store_binds_a_spoiled_chip(p.store)) != 0) {
        fail(t, n, "blank card", "pcsc-stack.sh card failed");
        return calls;
    }
    if (run_workflow(w, &p, &o) != IDM_OK) {
        snprintf(why, sizeof why, "%s: %s", o.step, o.message);
        fail(t, n, "the resume failed", why);
    } else if (workflow_done(p.store, w == WF_MASS_PRODUCTION ? IDM_CARD_ISSUED
                                                               : IDM_CARD_PRODUCED,
                             w == WF_MASS_PRODUCTION, why, sizeof why) != 0) {
        fail(t, n, "after the resume", why);
    } else if (w == WF_EXTERNAL && bureau_orders_once(why, sizeof why) != 0) {
        fail(t, n, "after the resume", why);
    } else if (check_store(p.store, why, sizeof why) != 0) {
        fail(t, n, "the store after the resume breaks an invariant", why);
    }
    if (leak_check())
        fail(t, n, "LeakSanitizer found a leak after the resume (above)", site);
    return calls;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int tap_n;

/* Sweeps kind over workflow w: every N (budget 0), or budget of them
 * evenly spread from a seeded offset, or just at (> 0). */
static int sweep(enum workflow w, enum fault_kind kind, long budget, unsigned seed, long at)
{
    struct tally t;
    memset(&t, 0, sizeof t);
    double t0 = now_s();
    int swaps0 = card_swaps;
    long total = one_run(w, kind, 0, &t);
    long first = 1, stride = 1, last = total;
    if (total > 0 && at > 0) {
        first = last = at;
    } else if (total > 0 && budget > 0 && total > budget) {
        stride = (total + budget - 1) / budget;
        first = 1 + (long)(seed % (unsigned)stride);
    }
    for (long n = first; total > 0 && n <= last; n += stride)
        (void)one_run(w, kind, n, &t);
    double took = now_s() - t0;
    tap_n++;
    const char *name = workflow_names[w], *kn = fault_kind_name(kind);
    if (t.failures == 0 && total >= 0)
        printf("ok %d - %s, %s: %ld faults of %ld calls swept; %ld errors, %ld absorbed, "
               "%ld not reached; every store consistent and resumed to the end\n",
               tap_n, name, kn, t.swept, total, t.errors, t.absorbed, t.not_reached);
    else
        printf("not ok %d - %s, %s: %ld of %ld faults failed their checks\n", tap_n, name, kn,
               t.failures, t.swept);
    for (long i = 0; i < t.failures && i < 4; i++)
        printf("#   %s\n", t.first_failures[i]);
    printf("# %s %s: calls %ld, swept %ld (first %ld, stride %ld), %.1f s, %d blank cards\n",
           name, kn, total, t.swept, first, stride, took, card_swaps - swaps0);
    fflush(stdout);
    return t.failures == 0 && total >= 0 ? 0 : 1;
}

/* len bytes as a string (not strndup(): the bytes need not end in NUL,
 * and ASan's strict string checks read past them). */
static char *copy_text(const void *bytes, size_t len)
{
    char *s = malloc(len + 1);
    if (s != NULL) {
        memcpy(s, bytes, len);
        s[len] = '\0';
    }
    return s;
}

/* A CA for every run, made once in a scratch store and kept as PEM. */
static int make_ca(void)
{
    char store[4200];
    snprintf(store, sizeof store, "%s/ca.db", cfg.dir);
    idm_ctx_t *ctx = NULL;
    idm_ca_t *ca = NULL;
    idm_buffer_t *der = NULL, *key = NULL;
    BIO *bio = NULL;
    X509 *x = NULL;
    const unsigned char *p;
    size_t len;
    int rc = -1;
    if (idm_ctx_new(&ctx) != IDM_OK || idm_ctx_open_store(ctx, store) != IDM_OK ||
        idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Fault Sweep CA", 3650) != IDM_OK ||
        idm_buffer_new(&der) != IDM_OK || idm_buffer_new(&key) != IDM_OK ||
        idm_ca_get_certificate(ca, der) != IDM_OK ||
        idm_ca_export_key(ca, passphrase, NULL, key) != IDM_OK ||
        idm_buffer_get(der, &p, &len) != IDM_OK)
        goto out;
    x = d2i_X509(NULL, &p, (long)len);
    bio = BIO_new(BIO_s_mem());
    if (x == NULL || bio == NULL || PEM_write_bio_X509(bio, x) != 1)
        goto out;
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    cfg.ca_cert_pem = copy_text(data, (size_t)n);
    if (idm_buffer_get(key, &p, &len) != IDM_OK)
        goto out;
    cfg.ca_key_pem = copy_text(p, len);
    rc = cfg.ca_cert_pem != NULL && cfg.ca_key_pem != NULL ? 0 : -1;
out:
    if (rc != 0)
        fprintf(stderr, "fault_sweep: cannot make the CA: %s\n", idm_last_error_message());
    BIO_free(bio);
    X509_free(x);
    idm_buffer_free(&der);
    idm_buffer_free(&key);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    remove_store(store);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: fault_sweep --check-store PATH [--budget N | --full] [--at N] "
                    "[--seed S] [--keep] [--kind K]... [--workflow W]...\n"
                    "  kinds: alloc openssl sqlite_io sqlite_mem pcsc\n"
                    "  workflows: mass_production external\n");
}

int main(int argc, char **argv)
{
    if (fault_install() != 0)
        return 99;
    long budget = 40, at = 0;
    int keep = 0;
    unsigned seed = (unsigned)time(NULL);
    int kinds[FAULT_KINDS], nkinds = 0, workflows[WORKFLOWS], nworkflows = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--full") == 0) {
            budget = 0;
        } else if (strcmp(a, "--keep") == 0) {
            keep = 1;
        } else if (v == NULL) {
            usage();
            return 2;
        } else if (strcmp(a, "--check-store") == 0) {
            cfg.check_store = v, i++;
        } else if (strcmp(a, "--budget") == 0) {
            budget = atol(v), i++;
        } else if (strcmp(a, "--at") == 0) {
            at = atol(v), i++;
        } else if (strcmp(a, "--seed") == 0) {
            seed = (unsigned)strtoul(v, NULL, 10), i++;
        } else if (strcmp(a, "--kind") == 0 && fault_kind_by_name(v) >= 0 &&
                   nkinds < FAULT_KINDS) {
            kinds[nkinds++] = fault_kind_by_name(v), i++;
        } else if (strcmp(a, "--workflow") == 0 && nworkflows < WORKFLOWS &&
                   (strcmp(v, "mass_production") == 0 || strcmp(v, "external") == 0)) {
            workflows[nworkflows++] = strcmp(v, "external") == 0 ? WF_EXTERNAL
                                                                 : WF_MASS_PRODUCTION;
            i++;
        } else {
            usage();
            return 2;
        }
    }
    cfg.reader = getenv("IDM_TEST_READER0");
    cfg.stack = getenv("IDM_TEST_STACK");
    cfg.stack_dir = getenv("PCSC_STACK_DIR");
    if (cfg.check_store == NULL || cfg.reader == NULL || cfg.stack == NULL ||
        cfg.stack_dir == NULL) {
        fprintf(stderr, "fault_sweep: needs --check-store and the PC/SC test stack "
                        "(tests/vcard/with-stack.sh --hopper; IDM_TEST_STACK)\n");
        usage();
        return 99;
    }
    if (nkinds == 0)
        for (int k = 0; k < FAULT_KINDS; k++)
            kinds[nkinds++] = k;
    if (nworkflows == 0)
        for (int w = 0; w < WORKFLOWS; w++)
            workflows[nworkflows++] = w;
    const char *tmp = getenv("IDM_TEST_TMPDIR");
    snprintf(cfg.dir, sizeof cfg.dir, "%s/fault-sweep-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (tmp != NULL)
        (void)mkdir(tmp, 0700);
    if (mkdtemp(cfg.dir) == NULL) {
        fprintf(stderr, "fault_sweep: cannot make %s: %s\n", cfg.dir, strerror(errno));
        return 99;
    }
    if (make_ca() != 0) {
        remove_tree(cfg.dir);
        return 99;
    }

    int planned = 0;
    for (int w = 0; w < nworkflows; w++)
        for (int k = 0; k < nkinds; k++)
            planned += !(workflows[w] == WF_EXTERNAL && kinds[k] == FAULT_PCSC);
    printf("1..%d\n# seed %u, budget %ld per workflow and kind%s\n", planned, seed, budget,
           budget == 0 ? " (every call)" : "");
    int failed = 0;
    for (int w = 0; w < nworkflows; w++)
        for (int k = 0; k < nkinds; k++)
            if (!(workflows[w] == WF_EXTERNAL && kinds[k] == FAULT_PCSC))
                failed += sweep((enum workflow)workflows[w], (enum fault_kind)kinds[k], budget,
                                seed, at);
    if (keep)
        printf("# kept %s\n", cfg.dir);
    else
        remove_tree(cfg.dir);
    free(cfg.ca_cert_pem);
    free(cfg.ca_key_pem);
    return failed ? 1 : 0;
}
