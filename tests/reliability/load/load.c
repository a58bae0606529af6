/* Load (issue 10): several processes and threads producing and ordering
 * against one store at once for a bounded time; no lost update, no
 * deadlock, no SQLITE_BUSY reaching the caller.
 *
 *   load [--seconds S] [--processes P] [--threads T] [--stall S] [--seed N]
 *        [--check-store PATH] [--keep] [--self-test-stall]
 *
 * (or IDM_LOAD_SECONDS, IDM_LOAD_PROCESSES, IDM_LOAD_THREADS,
 * IDM_LOAD_STALL_SECONDS, IDM_LOAD_SEED, IDM_LOAD_CHECK_STORE; defaults 8 s,
 * 3 processes, 2 threads, 30 s.)  P worker processes of T threads each,
 * every thread with its own context on one SQLite store, run a random mix
 * of the public API for S seconds from the end of their setting up
 * (load_worker.c): mass production
 * stations (idm_production_run() with the in-memory host encoder and the
 * built-in CA loaded from PEM) on orders that other threads keep filling
 * with cards they request and approve; external ordering through each
 * thread's spool producer (order, approve, abort, queue sync, status
 * updates, activation) while this process plays the bureau behind the
 * spools (load_bureau.c); and writes that could be lost: attributes and
 * states of shared identities, states of shared cards, an option.  A
 * watchdog fails the run when a thread makes no progress for the stall
 * time.  Then this process drains what is left (every order produced and
 * completed, every external card through the bureau and activated) and
 * the checks (load_checks.c) compare what the library acknowledged to each
 * worker with the store, its audit trail and the bureau's ledger, run the
 * store's invariant checker and verify the audit chain.  The figures
 * (operations per kind and per second) are printed as TAP comments.
 * --self-test-stall makes worker 0 hold the store's write lock for good
 * (the meson test load_watchdog): the run must then end by the watchdog. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "load_checks.h"
#include "mem_encoder.h"
#include "runner.h"

struct load_config load_cfg;
const char *load_check_store_exe;
static int keep_dir;

#define ACTOR "load:setup"

static void on_log(idm_log_level level, const char *component, const char *message, void *ud)
{
    (void)ud;
    if (level <= IDM_LOG_WARNING)
        fprintf(stderr, "# drain: libidm %s (%s): %s\n", idm_log_level_name(level), component,
                message);
}

/* ---- the store before the run ---------------------------------------------- */

static int64_t person(idm_ctx_t *ctx, const char *external_id)
{
    idm_identity_t *p = fixture_person(ctx, external_id, "Shared", external_id);
    int64_t id;
    ck_ok(idm_identity_get_id(p, &id));
    idm_identity_free(&p);
    return id;
}

/* The options, the CA (as PEM, for every thread to load), the shared
 * identities, and the shared cards: Digital ID, produced and active. */
static void set_up_store(struct load_config *cfg)
{
    idm_ctx_t *ctx = fixture_ctx(cfg->store);
    ck_ok(idm_ctx_set_clock(ctx, NULL, NULL)); /* leases run on real time */
    ck_ok(idm_options_set_string(ctx, ACTOR, "pin_source", "generated"));
    ck_ok(idm_options_set_string(ctx, ACTOR, "card_key_slots", "9A"));
    ck_ok(idm_options_set_bool(ctx, ACTOR, "external_production_enabled", 1));
    ck_ok(idm_options_set_bool(ctx, ACTOR, "external_approval_step", 1));
    ck_ok(idm_options_set_bool(ctx, ACTOR, "queue_orders", 1));
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Load Test CA", 3650));
    char *cert = NULL, *key = NULL;
    fixture_export_ca(ca, &cert, &key);
    cfg->ca_cert_pem = cert;
    cfg->ca_key_pem = key;

    idm_order_t *order = NULL;
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_DIGITAL, NULL, &order));
    ck_ok(idm_order_get_id(order, &cfg->setup_order));
    for (int i = 0; i < LOAD_SHARED; i++) {
        char name[32];
        snprintf(name, sizeof name, "shared-%d", i);
        cfg->shared_identities[i] = person(ctx, name);
        snprintf(name, sizeof name, "holder-%d", i);
        idm_card_t *c = NULL;
        ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL,
                           person(ctx, name), NULL, &c));
        ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_REQUESTED, NULL));
        ck_ok(idm_card_set_state(c, "load:setup-approver", IDM_CARD_APPROVED, NULL));
        ck_ok(idm_card_get_id(c, &cfg->shared_cards[i]));
        ck_ok(idm_order_add_card(order, ACTOR, cfg->shared_cards[i]));
        idm_card_free(&c);
    }
    struct mem_card *mem = NULL;
    idm_encoder_t *enc = mem_encoder_new(&mem, 1);
    mem->serial_prefix = "SETUP";
    ck_ok(idm_encoder_set_pin_callbacks(enc, NULL, load_deliver, NULL));
    idm_station_t *st = NULL;
    ck_ok(idm_station_open(&st, order, "setup", enc, ca));
    ck_ok(idm_production_run(st, ACTOR, NULL, 0, NULL));
    idm_station_free(&st);
    ck_assert_int_eq(fixture_order_state(order), IDM_ORDER_COMPLETED);
    for (int i = 0; i < LOAD_SHARED; i++) {
        idm_card_t *c = NULL;
        ck_ok(idm_card_open(ctx, cfg->shared_cards[i], &c));
        ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_ACTIVE, NULL));
        idm_card_free(&c);
    }
    idm_order_free(&order);
    idm_encoder_free(&enc);
    idm_ca_free(&ca);
    /* No connection crosses the fork. */
    idm_ctx_free(&ctx);
}

/* ---- the drain: what the workers left, finished by one desk ------------------ */

struct drain {
    const struct load_config *cfg;
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_encoder_t *enc_digital, *enc_physical, *enc_bureau;
    struct mem_card *mem_digital, *mem_physical, *mem_bureau;
    FILE *log;
    long errors, busy;
    int64_t order_id;
};

static void drain_fail(struct drain *d, const char *call, int rc)
{
    int busy = load_error_is_busy(idm_last_error_message());
    d->errors++;
    d->busy += busy;
    fprintf(stderr, "# drain: %s failed: %s (%d)%s: %s\n", call, idm_strerror_name(rc), rc,
            busy ? " [BUSY/LOCKED reached the caller]" : "", idm_last_error_message());
}

static int drain_progress(const idm_order_t *order, int64_t card_id,
                          idm_order_card_outcome outcome, void *ud)
{
    struct drain *d = ud;
    (void)order;
    fprintf(d->log, "%c %lld %lld\n", outcome == IDM_OUTCOME_PRODUCED ? 'P' : 'S',
            (long long)card_id, (long long)d->order_id);
    return 0;
}

/* Every mass production order still open or running, produced and
 * completed by one station. */
static void drain_orders(struct drain *d)
{
    for (int round = 0; round < 10000; round++) {
        idm_order_iter_t *it = NULL;
        idm_order_t *o = NULL, *order = NULL;
        int rc = idm_order_iter_new(d->ctx, &it);
        for (int s = 0; rc == IDM_OK && order == NULL && s < 2; s++) {
            idm_order_iter_free(&it);
            rc = idm_order_iter_new(d->ctx, &it);
            if (rc == IDM_OK)
                rc = idm_order_iter_set_state(it, s == 0 ? IDM_ORDER_RUNNING : IDM_ORDER_OPEN);
            while (rc == IDM_OK && order == NULL && (rc = idm_order_iter_next(it, &o)) == IDM_OK &&
                   o != NULL) {
                idm_order_kind kind;
                (void)idm_order_get_kind(o, &kind);
                if (kind == IDM_ORDER_MASS_PRODUCTION)
                    order = o;
                else
                    idm_order_free(&o);
            }
        }
        idm_order_iter_free(&it);
        if (rc != IDM_OK) {
            drain_fail(d, "listing the orders", rc);
            return;
        }
        if (order == NULL)
            return;
        idm_card_option option;
        (void)idm_order_get_card_kind(order, NULL, &option);
        (void)idm_order_get_id(order, &d->order_id);
        idm_station_t *st = NULL;
        rc = idm_station_open(&st, order, "drain",
                              option == IDM_CARD_DIGITAL ? d->enc_digital : d->enc_physical,
                              option == IDM_CARD_DIGITAL ? d->ca : NULL);
        idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
        hooks.progress = drain_progress;
        if (rc == IDM_OK)
            rc = idm_production_run(st, "load:drain", &hooks, sizeof hooks, d);
        idm_station_free(&st);
        idm_order_state state = IDM_ORDER_RUNNING;
        if (rc == IDM_OK && (rc = idm_order_refresh(order)) == IDM_OK)
            (void)idm_order_get_state(order, &state);
        idm_order_free(&order);
        if (rc != IDM_OK) {
            drain_fail(d, "idm_production_run", rc);
            return;
        }
        if (state != IDM_ORDER_COMPLETED) {
            fprintf(stderr, "# drain: order %lld is '%s' after its last station (a claim "
                    "nobody lets go?)\n", (long long)d->order_id, idm_order_state_name(state));
            d->errors++;
            return;
        }
    }
}

/* Every external card in state, its id into ids (up to max); the count. */
static int drain_cards(struct drain *d, idm_card_state state, int64_t *ids, int max)
{
    idm_card_iter_t *it = NULL;
    idm_card_t *c = NULL;
    int n = 0, rc = idm_card_iter_new(d->ctx, &it);
    if (rc == IDM_OK)
        rc = idm_card_iter_set_state(it, state);
    while (rc == IDM_OK && (rc = idm_card_iter_next(it, &c)) == IDM_OK && c != NULL) {
        idm_production prod;
        (void)idm_card_get_production(c, &prod);
        if (prod == IDM_PRODUCTION_EXTERNAL && n < max)
            (void)idm_card_get_id(c, &ids[n++]);
        idm_card_free(&c);
    }
    idm_card_iter_free(&it);
    if (rc != IDM_OK)
        drain_fail(d, "listing the cards", rc);
    return n;
}

/* Status reports from every spool, read by a desk of this process. */
static void drain_updates(struct drain *d, struct load_bureau *b)
{
    int slots = d->cfg->processes * d->cfg->threads;
    load_bureau_pass(b);
    for (int s = -1; s < slots; s++) {
        char spool[LOAD_PATH_MAX];
        load_spool_path(d->cfg, s, spool, sizeof spool);
        idm_producer_t *p = NULL;
        idm_external_t *x = NULL;
        size_t applied = 0, refused = 0;
        int rc = idm_producer_new_spool(&p, spool);
        if (rc == IDM_OK)
            rc = idm_external_new(&x, d->ctx, p, NULL);
        if (rc == IDM_OK)
            rc = idm_external_update(x, "load:drain", &applied, &refused);
        if (rc == IDM_OK)
            fprintf(d->log, "U %zu %zu\n", applied, refused);
        else
            drain_fail(d, "idm_external_update", rc);
        idm_external_free(&x);
        idm_producer_free(&p);
    }
}

#define DRAIN_MAX 100000

static void drain_external(struct drain *d, struct load_bureau *b)
{
    static int64_t ids[DRAIN_MAX];
    char spool[LOAD_PATH_MAX];
    load_spool_path(d->cfg, -1, spool, sizeof spool);
    idm_producer_t *p = NULL;
    idm_external_t *x = NULL;
    int rc = mkdir(spool, 0700) == 0 || errno == EEXIST ? idm_producer_new_spool(&p, spool)
                                                         : IDM_ERR_IO;
    if (rc == IDM_OK)
        rc = idm_external_new(&x, d->ctx, p, NULL);
    if (rc != IDM_OK) {
        drain_fail(d, "opening the drain's desk", rc);
        goto out;
    }
    for (int round = 0; round < 20; round++) {
        int n = drain_cards(d, IDM_CARD_REQUESTED, ids, DRAIN_MAX);
        for (int i = 0; i < n; i++) {
            idm_card_t *c = NULL;
            rc = idm_card_open(d->ctx, ids[i], &c);
            if (rc == IDM_OK)
                rc = idm_external_approve(x, "load:drain-approver", c);
            if (rc == IDM_OK)
                fprintf(d->log, "A %lld\n", (long long)ids[i]);
            else
                drain_fail(d, "idm_external_approve", rc);
            idm_card_free(&c);
        }
        size_t sent = 0, failed = 0;
        rc = idm_external_sync_queue(x, "load:drain", 100, &sent, &failed);
        if (rc == IDM_OK)
            fprintf(d->log, "Q %zu %zu\n", sent, failed);
        else
            drain_fail(d, "idm_external_sync_queue", rc);
        /* The bureau answers in two passes: in production, then produced. */
        drain_updates(d, b);
        drain_updates(d, b);
        int left = 0;
        static const idm_card_state waiting[] = {IDM_CARD_REQUESTED, IDM_CARD_PROCESSING,
                                                 IDM_CARD_ORDERED, IDM_CARD_IN_PRODUCTION};
        for (int k = 0; k < 4; k++)
            left += drain_cards(d, waiting[k], ids, DRAIN_MAX);
        if (left == 0)
            break;
    }
    int n = drain_cards(d, IDM_CARD_PRODUCED, ids, DRAIN_MAX);
    for (int i = 0; i < n; i++) {
        idm_card_t *c = NULL;
        idm_card_option option = IDM_CARD_PHYSICAL;
        rc = idm_card_open(d->ctx, ids[i], &c);
        if (rc == IDM_OK) {
            (void)idm_card_get_option(c, &option);
            d->mem_bureau->serial_no = (int)ids[i];
            rc = idm_external_activate(x, "load:drain", c, d->enc_bureau,
                                       option == IDM_CARD_DIGITAL ? d->ca : NULL);
        }
        if (rc == IDM_OK)
            fprintf(d->log, "V %lld\n", (long long)ids[i]);
        else
            drain_fail(d, "idm_external_activate", rc);
        idm_card_free(&c);
    }
out:
    idm_external_free(&x);
    idm_producer_free(&p);
}

static long drain(const struct load_config *cfg, struct load_bureau *b, long *busy)
{
    struct drain d;
    memset(&d, 0, sizeof d);
    d.cfg = cfg;
    char path[LOAD_PATH_MAX + 32];
    load_log_path(cfg, -1, path, sizeof path);
    d.log = fopen(path, "w");
    ck_assert_msg(d.log != NULL, "%s: %s", path, strerror(errno));
    int rc = idm_ctx_new(&d.ctx);
    if (rc == IDM_OK) {
        (void)idm_ctx_set_log_callback(d.ctx, on_log, NULL);
        (void)idm_ctx_set_log_level(d.ctx, IDM_LOG_WARNING);
        rc = idm_ctx_open_store(d.ctx, cfg->store);
    }
    if (rc == IDM_OK)
        rc = idm_ca_new_openssl_pem(&d.ca, d.ctx, cfg->ca_cert_pem, strlen(cfg->ca_cert_pem),
                                    cfg->ca_key_pem, strlen(cfg->ca_key_pem), fixture_passphrase,
                                    NULL);
    if (rc != IDM_OK) {
        drain_fail(&d, "opening the drain's context", rc);
    } else {
        d.enc_digital = mem_encoder_new(&d.mem_digital, 1);
        d.enc_physical = mem_encoder_new(&d.mem_physical, 0);
        d.enc_bureau = mem_encoder_new(&d.mem_bureau, 1);
        d.mem_digital->serial_prefix = "DRAIN-D";
        d.mem_physical->serial_prefix = "DRAIN-P";
        d.mem_bureau->serial_prefix = LOAD_BUREAU_PREFIX;
        ck_ok(idm_encoder_set_pin_callbacks(d.enc_digital, NULL, load_deliver, NULL));
        ck_ok(idm_encoder_set_pin_callbacks(d.enc_physical, NULL, load_deliver, NULL));
        ck_ok(idm_encoder_set_pin_callbacks(d.enc_bureau, NULL, load_deliver, NULL));
        drain_orders(&d);
        drain_external(&d, b);
    }
    idm_encoder_free(&d.enc_digital);
    idm_encoder_free(&d.enc_physical);
    idm_encoder_free(&d.enc_bureau);
    idm_ca_free(&d.ca);
    idm_ctx_free(&d.ctx);
    ck_assert_int_eq(fclose(d.log), 0);
    *busy = d.busy;
    return d.errors;
}

/* ---- the run ------------------------------------------------------------------ */

static const char *op_name(int op)
{
    if (op >= 0 && op < OP_KINDS)
        return load_op_names[op];
    return op == -1 ? "between operations" : "setting up";
}

/* Forks the workers, plays the bureau and the watchdog until they are
 * gone; the number of stalled threads (then every worker is killed) and
 * of workers that did not exit 0. */
static void run_workers(struct load_config *cfg, struct load_bureau *b, int *stalls,
                        int *bad_exits)
{
    pid_t pids[LOAD_MAX_PROCESSES];
    int alive = 0, killed = 0, slots = cfg->processes * cfg->threads;
    int64_t start = load_now_ms();
    for (int s = 0; s < slots; s++) {
        cfg->beats[s].beat_ms = start;
        cfg->beats[s].op = -2;
        cfg->beats[s].finished = 0;
        cfg->beats[s].ops = 0;
    }
    fflush(stdout);
    fflush(stderr);
    for (int p = 0; p < cfg->processes; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0)
            exit(load_worker_process(cfg, p));
        alive++;
    }
    *stalls = *bad_exits = 0;
    while (alive > 0) {
        load_bureau_pass(b);
        int64_t now = load_now_ms();
        for (int s = 0; s < slots && !killed; s++) {
            struct load_beat *beat = &cfg->beats[s];
            int64_t last = __atomic_load_n(&beat->beat_ms, __ATOMIC_RELAXED);
            if (__atomic_load_n(&beat->finished, __ATOMIC_RELAXED) ||
                now - last < (int64_t)cfg->stall_s * 1000)
                continue;
            fprintf(stderr, "# watchdog: worker %d (process %d, thread %d) made no progress "
                    "for %lld s, %s\n", s, s / cfg->threads, s % cfg->threads,
                    (long long)((now - last) / 1000),
                    op_name(__atomic_load_n(&beat->op, __ATOMIC_RELAXED)));
            (*stalls)++;
        }
        if (*stalls > 0 && !killed) {
            for (int s = 0; s < slots; s++)
                if (!__atomic_load_n(&cfg->beats[s].finished, __ATOMIC_RELAXED))
                    fprintf(stderr, "# watchdog: worker %d was %s, its last progress %.1f s "
                            "ago\n", s, op_name(__atomic_load_n(&cfg->beats[s].op,
                                                                 __ATOMIC_RELAXED)),
                            (double)(now - __atomic_load_n(&cfg->beats[s].beat_ms,
                                                           __ATOMIC_RELAXED)) / 1000.0);
            fprintf(stderr, "# watchdog: killing every worker\n");
            for (int p = 0; p < cfg->processes; p++)
                if (pids[p] > 0)
                    kill(pids[p], SIGKILL);
            killed = 1;
        }
        for (int p = 0; p < cfg->processes; p++) {
            int status;
            if (pids[p] <= 0 || waitpid(pids[p], &status, WNOHANG) != pids[p])
                continue;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "# worker process %d ended with wait status %d\n", p, status);
                (*bad_exits)++;
            }
            pids[p] = 0;
            alive--;
        }
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

/* The figures of the run, as TAP comments. */
static void print_figures(const struct load_config *cfg, const struct load_results *r,
                          const struct load_bureau_figures *bf, double elapsed)
{
    printf("# load: %d processes x %d threads on one store for %.1f s (seed %u; the workers "
           "took %.1f s to finish)\n", cfg->processes, cfg->threads, cfg->seconds, cfg->seed,
           elapsed);
    printf("# %-15s %8s %8s %7s %8s %8s %8s\n", "operation", "ok", "refused", "errors", "per s",
           "mean ms", "max ms");
    long total = 0;
    for (int k = 0; k < OP_KINDS; k++) {
        const struct load_op_figures *o = &r->ops[k];
        long n = o->ok + o->errors;
        total += n;
        printf("# %-15s %8ld %8ld %7ld %8.1f %8.1f %8lld\n", load_op_names[k], o->ok, o->refused,
               o->errors, (double)n / cfg->seconds, n > 0 ? (double)o->total_ms / (double)n : 0.0,
               (long long)o->max_ms);
    }
    printf("# all             %8ld operations, %.1f per second\n", total,
           (double)total / cfg->seconds);
    for (int j = 0; j < r->nrefusals; j++)
        printf("# refused: %ld %s, \"%s\"\n", r->refusals[j].count,
               load_op_names[r->refusals[j].op], r->refusals[j].words);
    printf("# cards: %ld local requested and approved, %ld produced by stations during the run "
           "and %ld by the drain; %ld external ordered, %ld aborted, %ld activated during the "
           "run and %ld by the drain\n", r->local_cards, r->produced_in_run, r->produced_by_drain,
           r->external_cards, r->aborted, r->activated_in_run, r->activated_by_drain);
    printf("# bureau: %ld orders, %ld sent twice by desks syncing at once (same message id), "
           "%ld cancel requests, %ld produced; status reports applied %ld, refused %ld\n",
           bf->orders, bf->duplicates, bf->cancels, bf->produced, r->reports_applied,
           r->reports_refused);
    printf("# busy waits: not observable through the public API (SQLite waits in its busy "
           "handler, up to 60 s; the slowest call of each kind is 'max ms'); %ld busy or "
           "locked errors reached a caller\n", r->busy);
    fflush(stdout);
}

/* Where the next tests find what the run saw (they may run in processes
 * of their own). */
static void write_result(const struct load_config *cfg, int stalls, int bad_exits,
                         long drain_errors, long drain_busy, const struct load_bureau *b)
{
    char path[LOAD_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/run.result", cfg->dir);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fprintf(f, "stalls %d\nbad_exits %d\ndrain_errors %ld %ld\n", stalls, bad_exits,
            drain_errors, drain_busy);
    fprintf(f, "setup_order %lld\n", (long long)cfg->setup_order);
    for (int i = 0; i < LOAD_SHARED; i++)
        fprintf(f, "shared %d %lld %lld\n", i, (long long)cfg->shared_identities[i],
                (long long)cfg->shared_cards[i]);
    load_bureau_write(b, f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_workers_run_their_mix_without_errors)
{
    struct load_config *cfg = &load_cfg;
    set_up_store(cfg);
    int slots = cfg->processes * cfg->threads;
    cfg->beats = mmap(NULL, (size_t)slots * sizeof *cfg->beats, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(cfg->beats, MAP_FAILED);
    struct load_bureau *b = load_bureau_new(cfg, slots + 1);
    int stalls = 0, bad_exits = 0;
    int64_t t0 = load_now_ms();
    run_workers(cfg, b, &stalls, &bad_exits);
    double elapsed = (double)(load_now_ms() - t0) / 1000.0;
    long drain_busy = 0;
    long drain_errors = stalls == 0 ? drain(cfg, b, &drain_busy) : 0;
    write_result(cfg, stalls, bad_exits, drain_errors, drain_busy, b);

    struct load_results r;
    load_results_read(cfg, &r);
    struct load_bureau_figures bf;
    load_bureau_figures(b, &bf);
    if (!cfg->self_test_stall)
        print_figures(cfg, &r, &bf, elapsed);
    load_bureau_free(&b);
    munmap(cfg->beats, (size_t)slots * sizeof *cfg->beats);
    cfg->beats = NULL;
    free((char *)cfg->ca_cert_pem);
    free((char *)cfg->ca_key_pem);

    if (cfg->self_test_stall) {
        /* The watchdog's self-test: it must fail the run, not hang it. */
        printf("# watchdog self-test: %d stalled threads seen, %d worker processes killed, "
               "after %.1f s\n", stalls, bad_exits, elapsed);
        ck_assert_msg(stalls > 0, "worker 0 held the store for good and the watchdog saw "
                      "nothing in %.1f s", elapsed);
        /* (a process whose threads all reached the end time may be gone) */
        ck_assert_msg(bad_exits >= 1, "no worker process was killed");
        ck_assert_msg(elapsed < cfg->seconds + 3.0 * cfg->stall_s + 60,
                      "the watchdog took %.1f s", elapsed);
        load_results_free(&r);
        return;
    }
    ck_assert_msg(stalls == 0, "the watchdog killed the workers: a thread made no progress "
                  "for %d s (see the log)", cfg->stall_s);
    ck_assert_msg(bad_exits == 0, "%d worker processes did not exit 0", bad_exits);
    ck_assert_msg(r.logs_missing == 0, "%ld worker threads left no log", r.logs_missing);
    ck_assert_msg(r.errors == 0, "%ld calls failed (each is on stderr with the library's words)",
                  r.errors);
    ck_assert_msg(drain_errors == 0, "%ld calls of the drain failed", drain_errors);
    /* The mix ran: cards went through both workflows. */
    ck_assert_int_gt(r.local_cards, 0);
    ck_assert_int_gt(r.external_cards, 0);
    load_results_free(&r);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("load");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, load_cfg.seconds + 4.0 * load_cfg.stall_s + 120);
    tcase_add_test(tc, test_workers_run_their_mix_without_errors);
    if (!load_cfg.self_test_stall)
        load_add_checks(tc);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- main ------------------------------------------------------------------- */

static const char *setting(const char *env, const char *def)
{
    const char *v = getenv(env);
    return v != NULL && *v != '\0' ? v : def;
}

static void usage_error(const char *what)
{
    fprintf(stderr, "load: %s\nusage: load [--seconds S] [--processes P] [--threads T] "
            "[--stall S] [--seed N] [--check-store PATH] [--keep] [--self-test-stall]\n", what);
    exit(2);
}

int main(int argc, char **argv)
{
    struct load_config *cfg = &load_cfg;
    const char *seconds = setting("IDM_LOAD_SECONDS", "8");
    const char *processes = setting("IDM_LOAD_PROCESSES", "3");
    const char *threads = setting("IDM_LOAD_THREADS", "2");
    const char *stall = setting("IDM_LOAD_STALL_SECONDS", "30");
    const char *seed = getenv("IDM_LOAD_SEED");
    load_check_store_exe = getenv("IDM_LOAD_CHECK_STORE");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **into = strcmp(a, "--seconds") == 0       ? &seconds
                            : strcmp(a, "--processes") == 0   ? &processes
                            : strcmp(a, "--threads") == 0     ? &threads
                            : strcmp(a, "--stall") == 0       ? &stall
                            : strcmp(a, "--seed") == 0        ? &seed
                            : strcmp(a, "--check-store") == 0 ? &load_check_store_exe
                                                              : NULL;
        if (strcmp(a, "--keep") == 0)
            keep_dir = 1;
        else if (strcmp(a, "--self-test-stall") == 0)
            cfg->self_test_stall = 1;
        else if (into == NULL || i + 1 == argc)
            usage_error(into == NULL ? "unknown argument" : "an option needs a value");
        else
            *into = argv[++i];
    }
    cfg->seconds = atof(seconds);
    cfg->processes = atoi(processes);
    cfg->threads = atoi(threads);
    cfg->stall_s = atoi(stall);
    cfg->seed = seed != NULL ? (unsigned)strtoul(seed, NULL, 10)
                             : (unsigned)time(NULL) ^ (unsigned)getpid();
    if (cfg->seconds <= 0 || cfg->processes < 1 || cfg->processes > LOAD_MAX_PROCESSES ||
        cfg->threads < 1 || cfg->threads > LOAD_MAX_THREADS || cfg->stall_s < 1)
        usage_error("seconds > 0, 1..16 processes, 1..16 threads, stall >= 1 s");
    if (load_check_store_exe == NULL)
        usage_error("no check_store program (--check-store or IDM_LOAD_CHECK_STORE)");

    const char *base = setting("IDM_TEST_TMPDIR", "/tmp");
    mkdir(base, 0755);
    if (strlen(base) > sizeof cfg->dir - 16)
        usage_error("IDM_TEST_TMPDIR is too long a path");
    snprintf(cfg->dir, sizeof cfg->dir, "%.400s/load-XXXXXX", base);
    if (mkdtemp(cfg->dir) == NULL)
        usage_error("cannot make the scratch folder");
    snprintf(cfg->store, sizeof cfg->store, "%.500s/store.db", cfg->dir);
    printf("# load: seed %u (--seed %u repeats the mix), folder %s\n", cfg->seed, cfg->seed,
           cfg->dir);
    fflush(stdout);

    SRunner *sr = srunner_create(idm_test_suite());
    if (getenv("CK_TAP_LOG_FILE_NAME") == NULL)
        srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed == 0 && !keep_dir)
        fixture_remove_tree(cfg->dir);
    else
        printf("# load: the store, the spools and the workers' logs are in %s\n", cfg->dir);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
