/*
 * idm-bench-external-ordering [CARDS]: how fast the external production
 * workflow orders cards, sends the queue to a bureau and takes the bureau's
 * answers, with the built-in spool producer and maildir notifier on the
 * same disk as the SQLite store.  CARDS defaults to 10000.
 *
 * Setup (not timed in the rates): CARDS active identities with a mail
 * attribute, imported from CSV; options external_production_enabled,
 * queue_orders and send_card_ordered_email on.
 *
 * Timed, each a single call of the public API:
 *   1. order    idm_external_order_batch() for all identities: one order,
 *               one transaction per identity (card, requester, order row,
 *               audit events), every card queued (processing);
 *   2. sync     idm_external_sync_queue() with batches of BATCH: per card a
 *               journal row before and after, an order file written to
 *               tmp/, fsynced and renamed into outbox/, and a "card ordered"
 *               mail delivered the same way into the maildir;
 *   3. update   idm_external_update() over CARDS "produced" status files
 *               that the program drops into inbox/ as a bureau would (not
 *               timed): per report one transaction, the file moved to
 *               processed/, a "card produced" mail delivered.
 * Peak RSS of the process is printed after each step.
 *
 * Reference, measured in the same run on the same folder: how many small
 * files per second this disk takes when each is written to a temporary
 * name, fsynced, renamed and its folder fsynced, the floor under every
 * order file, status file move and mail above (sync writes two such files
 * per card).
 *
 * Everything lives in a fresh temporary directory under $TMPDIR (or /tmp)
 * that is removed at the end.  Any failure prints its reason and exits 1;
 * at the end every card must be produced.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <idm/idm.h>

#include "bench_common.h"

#define DEFAULT_CARDS 10000
#define MAX_CARDS 1000000L
#define BATCH 100
#define ACTOR "idm-bench-external-ordering"
#define REF_SECONDS 1.5

static char root[4096];

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void path_in(char *out, size_t size, const char *rel)
{
    snprintf(out, size, "%s/%s", root, rel);
}

/* Writes data to dir/name the durable way: a temporary name, fsync,
 * rename, folder fsync. */
static void write_durably(const char *dir, int dir_fd, const char *name, const char *data,
                          size_t len)
{
    char tmp[4400], final[4400];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(final, sizeof final, "%s/%s", dir, name);
    int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0)
        die("cannot write %s", tmp);
    if (rename(tmp, final) != 0 || fsync(dir_fd) != 0)
        die("cannot rename %s", tmp);
}

struct ref_state {
    char dir[4200];
    int dir_fd;
    long n;
};

static void ref_one(void *arg)
{
    struct ref_state *r = arg;
    char name[64], body[700];
    snprintf(name, sizeof name, "ref-%ld.json", r->n++);
    memset(body, 'x', sizeof body);
    write_durably(r->dir, r->dir_fd, name, body, sizeof body);
}

static void import_people(idm_ctx_t *ctx, long cards)
{
    char csv[4400];
    path_in(csv, sizeof csv, "people.csv");
    FILE *f = fopen(csv, "w");
    if (f == NULL)
        die("cannot write %s", csv);
    fprintf(f, "employeeNumber,givenName,surname,mail\n");
    for (long i = 0; i < cards; i++)
        fprintf(f, "E%07ld,Anna,Berg%ld,anna.berg%ld@corp.example\n", i, i, i);
    if (fclose(f) != 0)
        die("cannot write %s", csv);
    size_t imported = 0;
    check_idm(idm_identity_import_csv(ctx, ACTOR, csv, "employeeNumber", IDM_IDENTITY_ACTIVE,
                                      &imported),
              "idm_identity_import_csv");
    if ((long)imported != cards)
        die("imported %zu identities; expected %ld", imported, cards);
}

/* Drops a "produced" status file for every order file in the outbox and
 * takes the order files away, as a bureau would. */
static long bureau_answers(void)
{
    char outbox[4400], inbox[4400];
    path_in(outbox, sizeof outbox, "spool/outbox");
    path_in(inbox, sizeof inbox, "spool/inbox");
    int inbox_fd = open(inbox, O_RDONLY | O_DIRECTORY);
    DIR *d = opendir(outbox);
    if (d == NULL || inbox_fd < 0)
        die("cannot open the spool");
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char id[256], json[512], name[300], file[4700];
        snprintf(id, sizeof id, "%.*s", (int)(len - 5), e->d_name);
        int m = snprintf(json, sizeof json, "{\"message_id\":\"%s\",\"status\":\"produced\","
                         "\"chip_serial\":\"CHIP%08ld\",\"shipment\":\"DHL %010ld\"}\n", id,
                         n, n);
        snprintf(name, sizeof name, "%08ld.json", n);
        write_durably(inbox, inbox_fd, name, json, (size_t)m);
        snprintf(file, sizeof file, "%s/%s", outbox, e->d_name);
        unlink(file);
        n++;
    }
    closedir(d);
    close(inbox_fd);
    return n;
}

static void report(const char *step, long count, double seconds, double ref_per_s,
                   double files_per_card)
{
    double rate = count / seconds;
    printf("%-7s %8ld cards in %7.2f s: %9.0f cards/s", step, count, seconds, rate);
    if (files_per_card > 0)
        printf("  (%.1f durable files/card; the disk's floor: %.0f cards/s, %.0f%% of it)",
               files_per_card, ref_per_s / files_per_card,
               100.0 * rate / (ref_per_s / files_per_card));
    printf("  peak RSS %ld KiB\n", peak_rss_kib());
}

int main(int argc, char **argv)
{
    bench_init("idm-bench-external-ordering");
    long cards = argc > 1 ? strtol(argv[1], NULL, 10) : DEFAULT_CARDS;
    if (cards < 1 || cards > MAX_CARDS)
        die("CARDS must be 1..%ld", MAX_CARDS);
    bench_temp_dir("idm-bench-ext", root, sizeof root);
    bench_print_machine("no crypto in these steps");
    printf("folder:    %s (store, spool and maildir)\n", root);

    /* the reference: durable small files on this disk */
    struct ref_state ref = {"", -1, 0};
    path_in(ref.dir, sizeof ref.dir, "ref");
    mkdir(ref.dir, 0700);
    ref.dir_fd = open(ref.dir, O_RDONLY | O_DIRECTORY);
    if (ref.dir_fd < 0)
        die("cannot open %s", ref.dir);
    struct bench_rate r = bench_measure(ref_one, &ref, REF_SECONDS);
    double ref_per_s = bench_per_second(&r);
    close(ref.dir_fd);
    printf("reference: %.0f durable file writes/s (write, fsync, rename, folder fsync)\n",
           ref_per_s);

    char db[4400], spool[4400], mail[4400];
    path_in(db, sizeof db, "store.db");
    path_in(spool, sizeof spool, "spool");
    path_in(mail, sizeof mail, "mail");
    mkdir(spool, 0700);
    idm_ctx_t *ctx = NULL;
    check_idm(idm_ctx_new(&ctx), "idm_ctx_new");
    check_idm(idm_ctx_open_store(ctx, db), "idm_ctx_open_store");
    idm_producer_t *producer = NULL;
    idm_notifier_t *notifier = NULL;
    idm_external_t *x = NULL;
    check_idm(idm_producer_new_spool(&producer, spool), "idm_producer_new_spool");
    check_idm(idm_notifier_new_maildir(&notifier, mail, "cards@corp.example"),
              "idm_notifier_new_maildir");
    check_idm(idm_external_new(&x, ctx, producer, notifier), "idm_external_new");
    check_idm(idm_options_set_bool(ctx, ACTOR, "external_production_enabled", 1), "options");
    check_idm(idm_options_set_bool(ctx, ACTOR, "queue_orders", 1), "options");
    check_idm(idm_options_set_bool(ctx, ACTOR, "send_card_ordered_email", 1), "options");
    double t0 = bench_now();
    import_people(ctx, cards);
    printf("setup   %8ld identities imported in %.2f s\n", cards, bench_now() - t0);

    int64_t *ids = calloc((size_t)cards, sizeof *ids);
    if (ids == NULL)
        die("out of memory");
    for (long i = 0; i < cards; i++)
        ids[i] = i + 1; /* a fresh store numbers them from 1 */
    t0 = bench_now();
    check_idm(idm_external_order_batch(x, ACTOR, ids, (size_t)cards, IDM_CARD_EMPLOYEE,
                                       IDM_CARD_DIGITAL, NULL, NULL, NULL),
              "idm_external_order_batch");
    report("order", cards, bench_now() - t0, ref_per_s, 0);

    size_t sent = 0, failed = 0;
    t0 = bench_now();
    check_idm(idm_external_sync_queue(x, ACTOR, BATCH, &sent, &failed), "idm_external_sync_queue");
    report("sync", (long)sent, bench_now() - t0, ref_per_s, 2);
    if ((long)sent != cards || failed != 0)
        die("the sync ordered %zu cards and %zu failed; expected %ld", sent, failed, cards);

    long answers = bureau_answers();
    if (answers != cards)
        die("the outbox held %ld orders; expected %ld", answers, cards);
    size_t applied = 0, refused = 0;
    t0 = bench_now();
    check_idm(idm_external_update(x, ACTOR, &applied, &refused), "idm_external_update");
    report("update", (long)applied, bench_now() - t0, ref_per_s, 2);
    if ((long)applied != cards || refused != 0)
        die("the update applied %zu reports and refused %zu; expected %ld", applied, refused,
            cards);

    idm_card_iter_t *it = NULL;
    idm_card_t *card = NULL;
    long produced = 0;
    check_idm(idm_card_iter_new(ctx, &it), "idm_card_iter_new");
    check_idm(idm_card_iter_set_state(it, IDM_CARD_PRODUCED), "idm_card_iter_set_state");
    while (idm_card_iter_next(it, &card) == IDM_OK && card != NULL) {
        produced++;
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);
    if (produced != cards)
        die("%ld cards are produced; expected %ld", produced, cards);
    free(ids);
    idm_external_free(&x);
    idm_notifier_free(&notifier);
    idm_producer_free(&producer);
    idm_ctx_free(&ctx);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        die("cannot remove %s", root);
    return 0;
}
