/*
 * Bureau status files (src/backends/producer/spool_producer.c, the JSON
 * reader of src/core/json.c, and the reports applied by
 * idm_external_update() in src/workflow/bureau.c).  The input is dropped
 * into the inbox of a spool, as a bureau would drop it, and the store's
 * desk collects it.  The store holds cards at every stage of the bureau's
 * path: ordered, in production, produced, failed, a failed card repeated
 * under a second attempt, and a temporary card; their message ids are
 * read from the outbox.
 *
 * The input is one to four files separated by a line "@@".  A file that
 * starts with "#" has a header line: '#', a kind ('l' a symbolic link, 'd'
 * a directory, 'p' a FIFO, any other byte a regular file) and the entry's
 * name; without it the file is "status-<i>.json".
 *
 * Besides not crashing, each run is held to these properties:
 * - idm_external_update() returns IDM_OK, or IDM_ERR_STORE or
 *   IDM_ERR_NO_MEMORY with the file that could not be decided still in
 *   the inbox; the inbox is empty after IDM_OK;
 * - every entry ended up in processed/ or quarantine/, the latter with a
 *   ".reason" beside it that is one line of UTF-8; a regular file moved
 *   unchanged;
 * - a file in processed/ is a well-formed report (only the five members,
 *   strings, a known status) about a message the store sent;
 * - a card changed only along the bureau's edges of the external graph
 *   (processing -> ordered -> in_production -> produced | failed, see
 *   doc/workflows.md), a produced card has a chip serial, and nothing
 *   changed when no file was processed;
 * - the counts agree: applied <= processed files, refused <= quarantined;
 * - idm_audit_verify() passes.
 *
 * After an input whose reports reached the store, the store is put back
 * to its initial copy, so every input meets the same cards.  The store's
 * id, a part of every message id, comes from SQLite's random generator,
 * which is seeded (SQLITE_TESTCTRL_PRNG_SEED) so that the ids the seed
 * corpus names are the same in every run.
 */
#define _GNU_SOURCE /* strndup, mkfifo, openat */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <idm/idm.h>

#include "backends/producer/producer_impl.h"
#include "core/json.h"
#include "fuzz.h"
#include "model/text.h"

#define ACTOR "operator:fuzz"
#define FILES_MAX 4
#define NAME_MAX_BYTES 255
#define CARDS_MAX 32
#define IDS_MAX 32
#define CHIP_PRODUCED "FUZZ-CHIP-0005"

static const char SEPARATOR[] = "\n@@\n";

struct card_view {
    int64_t id;
    idm_card_state state;
    char chip[80];
    char shipment[300];
    int has_chip, has_shipment;
};

struct fuzz_state {
    char dir[4096];      /* the scratch folder */
    char store[4200];    /* the store the inputs work on */
    char initial[4200];  /* its initial copy */
    char spool[4200];
    char incoming[4200]; /* where files are written before they are renamed in */
    idm_ctx_t *ctx;
    idm_producer_t *producer;
    idm_external_t *desk;
    char *ids[IDS_MAX]; /* the message ids of the outbox */
    size_t nids;
    int verbose; /* $FUZZ_VERBOSE: the setup and each input's outcome on stderr */
};

static struct fuzz_state st;

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Stops the run when the setup fails: the target cannot work without it. */
static void need(int rc, const char *what)
{
    if (rc != IDM_OK) {
        fprintf(stderr, "fuzz_bureau_status: %s: %s (%s)\n", what, idm_last_error_message(),
                idm_strerror(rc));
        abort();
    }
}

/* ---- files ------------------------------------------------------------ */

static void path_of(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    check(n > 0 && (size_t)n < size);
}

/* Removes everything inside dir (one level of folders is enough here: the
 * target makes nothing deeper). */
static void clear_folder(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    int fd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(fd, e->d_name, 0) != 0 && (errno == EISDIR || errno == EPERM)) {
            char sub[4600];
            path_of(sub, sizeof sub, dir, e->d_name);
            clear_folder(sub);
            unlinkat(fd, e->d_name, AT_REMOVEDIR);
        }
    }
    closedir(d);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    check(in != NULL && out != NULL);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        check(fwrite(buf, 1, n, out) == n);
    check(!ferror(in));
    fclose(in);
    check(fclose(out) == 0);
}

static void remove_store_files(const char *path)
{
    char side[4300];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* The whole file at dir/name into a new buffer; NULL if it cannot be read. */
static char *read_whole(const char *dir, const char *name, size_t *len)
{
    char path[4600];
    path_of(path, sizeof path, dir, name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat sb;
    char *data = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        (data = malloc((size_t)sb.st_size + 1)) != NULL) {
        ssize_t n = read(fd, data, (size_t)sb.st_size);
        if (n != (ssize_t)sb.st_size) {
            free(data);
            data = NULL;
        } else {
            data[n] = '\0';
            *len = (size_t)n;
        }
    }
    close(fd);
    return data;
}

/* The entry names of dir, sorted; returns the count. */
static size_t list_folder(const char *dir, char ***names)
{
    *names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    check(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            *names = realloc(*names, cap * sizeof **names);
            check(*names != NULL);
        }
        (*names)[n] = strdup(e->d_name);
        check((*names)[n] != NULL);
        n++;
    }
    closedir(d);
    return n;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- the store and the desk -------------------------------------------- */

static void close_desk(void)
{
    idm_external_free(&st.desk);
    idm_producer_free(&st.producer);
    idm_ctx_free(&st.ctx);
}

static void open_desk(const char *store)
{
    need(idm_ctx_new(&st.ctx), "idm_ctx_new");
    need(fuzz_sources_use(st.ctx), "fuzz_sources_use");
    need(idm_ctx_open_store(st.ctx, store), "idm_ctx_open_store");
    need(idm_producer_new_spool(&st.producer, st.spool), "idm_producer_new_spool");
    need(idm_external_new(&st.desk, st.ctx, st.producer, NULL), "idm_external_new");
}

/* The working store back to the initial copy, with the clock and random
 * source where they were after the setup. */
static void reset_store(void)
{
    close_desk();
    remove_store_files(st.store);
    copy_file(st.initial, st.store);
    fuzz_sources_reset(INT64_C(1767225600000) + INT64_C(86400000), UINT64_C(0x5eed0fb17ea0005));
    open_desk(st.store);
}

static size_t cards_view(struct card_view *v, size_t max)
{
    idm_card_iter_t *it = NULL;
    need(idm_card_iter_new(st.ctx, &it), "idm_card_iter_new");
    size_t n = 0;
    idm_card_t *card = NULL;
    while (idm_card_iter_next(it, &card) == IDM_OK && card != NULL) {
        check(n < max);
        struct card_view *c = &v[n++];
        memset(c, 0, sizeof *c);
        const char *chip = NULL, *shipment = NULL;
        check(idm_card_get_id(card, &c->id) == IDM_OK);
        check(idm_card_get_state(card, &c->state) == IDM_OK);
        check(idm_card_get_chip_serial(card, &chip) == IDM_OK);
        check(idm_card_get_shipment(card, &shipment) == IDM_OK);
        if ((c->has_chip = chip != NULL) != 0) {
            check(strlen(chip) < sizeof c->chip);
            snprintf(c->chip, sizeof c->chip, "%s", chip);
        }
        if ((c->has_shipment = shipment != NULL) != 0) {
            check(strlen(shipment) < sizeof c->shipment);
            snprintf(c->shipment, sizeof c->shipment, "%s", shipment);
        }
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);
    return n;
}

/* Drops one regular status file into the inbox as a bureau does: written
 * beside it, then renamed in. */
static void drop_file(const char *name, const char *data, size_t len)
{
    char tmp[4600], final[4600];
    path_of(tmp, sizeof tmp, st.incoming, "next.tmp");
    char inbox[4300];
    path_of(inbox, sizeof inbox, st.spool, "inbox");
    path_of(final, sizeof final, inbox, name);
    FILE *f = fopen(tmp, "wb");
    check(f != NULL);
    check(len == 0 || fwrite(data, 1, len, f) == len);
    check(fclose(f) == 0);
    check(rename(tmp, final) == 0);
}

/* During the setup: one report, applied. */
static void setup_report(const char *id, const char *status, const char *extra)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"message_id\": \"%s\", \"status\": \"%s\"%s}\n", id, status,
             extra);
    drop_file("setup.json", text, strlen(text));
    size_t applied = 0, refused = 0;
    need(idm_external_update(st.desk, ACTOR, &applied, &refused), "setup: idm_external_update");
    check(applied == 1 && refused == 0);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The message ids of the outbox's order messages. */
static void read_outbox(void)
{
    char outbox[4300];
    path_of(outbox, sizeof outbox, st.spool, "outbox");
    char **names = NULL;
    size_t n = list_folder(outbox, &names);
    for (size_t i = 0; i < st.nids; i++)
        free(st.ids[i]);
    st.nids = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (len > 5 && strcmp(names[i] + len - 5, ".json") == 0 &&
            strstr(names[i], ".cancel.") == NULL) {
            check(st.nids < IDS_MAX);
            st.ids[st.nids] = strndup(names[i], len - 5);
            check(st.ids[st.nids] != NULL);
            st.nids++;
        }
    }
    free_names(names, n);
    qsort(st.ids, st.nids, sizeof *st.ids, compare_strings);
}

/* The message id of a card's attempt, from the outbox. */
static const char *message_of(int64_t card_id, int attempt)
{
    char tail[64];
    snprintf(tail, sizeof tail, "-c%" PRId64 "-a%d", card_id, attempt);
    for (size_t i = 0; i < st.nids; i++) {
        size_t len = strlen(st.ids[i]), tlen = strlen(tail);
        if (len > tlen && strcmp(st.ids[i] + len - tlen, tail) == 0)
            return st.ids[i];
    }
    fprintf(stderr, "fuzz_bureau_status: no message for card %" PRId64 " attempt %d\n",
            card_id, attempt);
    abort();
}

static int64_t order_one(int64_t holder, idm_card_type type, idm_card_option option)
{
    idm_card_t *card = NULL;
    need(idm_external_order_card(st.desk, ACTOR, holder, type, option, IDM_PRODUCTION_EXTERNAL,
                                 &card),
         "idm_external_order_card");
    int64_t id = 0;
    idm_card_state state = IDM_CARD_REGISTERED;
    check(idm_card_get_id(card, &id) == IDM_OK && idm_card_get_state(card, &state) == IDM_OK);
    check(state == IDM_CARD_ORDERED);
    idm_card_free(&card);
    return id;
}

static int64_t person(const char *external_id, const char *given, const char *surname)
{
    idm_identity_t *p = NULL;
    need(idm_identity_new(st.ctx, ACTOR, external_id, &p), "idm_identity_new");
    need(idm_identity_set_attribute(p, ACTOR, "givenName", given), "set givenName");
    need(idm_identity_set_attribute(p, ACTOR, "surname", surname), "set surname");
    need(idm_identity_set_attribute(p, ACTOR, "employeeNumber", external_id), "set number");
    need(idm_identity_set_state(p, ACTOR, IDM_IDENTITY_ACTIVE), "activate identity");
    int64_t id = 0;
    check(idm_identity_get_id(p, &id) == IDM_OK);
    idm_identity_free(&p);
    return id;
}

/* The initial store: cards at every stage of the bureau's path. */
static void make_initial_store(void)
{
    /* SQLite draws the store id from its own generator; seeded, the id and
     * so every message id is the same in every run. */
    sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, 0x1d3b5eed, (sqlite3 *)NULL);
    fuzz_sources_reset(INT64_C(1767225600000), UINT64_C(0x5eed0fb17ea0001));
    open_desk(st.initial);
    need(idm_options_set_bool(st.ctx, ACTOR, "external_production_enabled", 1), "option");
    need(idm_options_set_bool(st.ctx, ACTOR, "allow_multiple_orders", 1), "option");
    int64_t ada = person("E1001", "Ada", "Lovelace");
    int64_t alan = person("E1002", "Alan", "Turing");
    int64_t grace = person("E1003", "Grace", "Hopper");
    int64_t edsger = person("E1004", "Edsger", "Dijkstra");

    int64_t ordered = order_one(ada, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL);
    int64_t ordered_digital = order_one(alan, IDM_CARD_CONTRACTOR, IDM_CARD_DIGITAL);
    int64_t in_production = order_one(grace, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL);
    int64_t in_production2 = order_one(edsger, IDM_CARD_VISITOR, IDM_CARD_PHYSICAL);
    int64_t produced = order_one(ada, IDM_CARD_CONTRACTOR, IDM_CARD_PHYSICAL);
    int64_t repeated = order_one(alan, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL);
    int64_t failed = order_one(grace, IDM_CARD_VISITOR, IDM_CARD_DIGITAL);
    need(idm_external_order_temporary(st.desk, ACTOR, IDM_CARD_PHYSICAL, 1, "Temporary card",
                                      NULL),
         "idm_external_order_temporary");
    read_outbox();

    setup_report(message_of(in_production, 1), "in_production", "");
    setup_report(message_of(in_production2, 1), "in_production", "");
    setup_report(message_of(produced, 1), "produced",
                 ", \"chip_serial\": \"" CHIP_PRODUCED "\", \"shipment\": \"DHL 0042\"");
    setup_report(message_of(failed, 1), "failed", ", \"reason\": \"printer jam\"");
    setup_report(message_of(repeated, 1), "failed", ", \"reason\": \"chip defect\"");
    /* the operator repeats it: attempt 2 goes out under a new message id */
    idm_card_t *card = NULL;
    need(idm_card_open(st.ctx, repeated, &card), "idm_card_open");
    need(idm_card_set_state(card, ACTOR, IDM_CARD_PROCESSING, "repeat"), "repeat a card");
    idm_card_free(&card);
    size_t sent = 0, refused = 0;
    need(idm_external_sync_queue(st.desk, ACTOR, 10, &sent, &refused), "sync the queue");
    check(sent == 1 && refused == 0);
    read_outbox();
    (void)message_of(repeated, 2);
    (void)ordered;
    (void)ordered_digital;

    if (st.verbose) {
        struct card_view v[CARDS_MAX];
        size_t n = cards_view(v, CARDS_MAX);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "card %" PRId64 ": %s\n", v[i].id, idm_card_state_name(v[i].state));
        for (size_t i = 0; i < st.nids; i++)
            fprintf(stderr, "message %s\n", st.ids[i]);
    }
    close_desk();
    char dir[4300];
    static const char *const folders[] = {"inbox", "processed", "quarantine"};
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
        path_of(dir, sizeof dir, st.spool, folders[i]);
        clear_folder(dir);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(st.dir, sizeof st.dir, "%s", fuzz_scratch_dir());
    path_of(st.store, sizeof st.store, st.dir, "store.db");
    path_of(st.initial, sizeof st.initial, st.dir, "initial.db");
    path_of(st.spool, sizeof st.spool, st.dir, "spool");
    path_of(st.incoming, sizeof st.incoming, st.dir, "incoming");
    check(mkdir(st.spool, 0700) == 0 && mkdir(st.incoming, 0700) == 0);
    st.verbose = getenv("FUZZ_VERBOSE") != NULL;
    make_initial_store();
    reset_store();
    return 0;
}

void fuzz_teardown(void)
{
    close_desk();
    for (size_t i = 0; i < st.nids; i++)
        free(st.ids[i]);
    st.nids = 0;
    fuzz_remove_scratch();
}

/* ---- one input ---------------------------------------------------------- */

struct dropped {
    char name[NAME_MAX_BYTES + 1];
    char kind; /* 'f' regular, 'l' link, 'd' directory, 'p' FIFO */
    const char *data;
    size_t len;
};

static int is_known_id(const char *id)
{
    for (size_t i = 0; i < st.nids; i++) {
        if (strcmp(st.ids[i], id) == 0)
            return 1;
    }
    return 0;
}

/* The name a section asks for, made into one the file system takes. */
static void entry_name(const char *header, size_t len, size_t index, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len && header[i] != '\0' && n < NAME_MAX_BYTES; i++)
        out[n++] = header[i] == '/' ? '_' : header[i];
    out[n] = '\0';
    if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        snprintf(out, NAME_MAX_BYTES + 1, "status-%zu.json", index);
}

/* Splits the input into its files. */
static size_t split_input(const uint8_t *data, size_t size, struct dropped *files)
{
    const char *p = (const char *)data, *end = p + size;
    size_t n = 0;
    while (n < FILES_MAX) {
        const char *sep = memmem(p, (size_t)(end - p), SEPARATOR, sizeof SEPARATOR - 1);
        const char *stop = sep != NULL && n + 1 < FILES_MAX ? sep : end;
        struct dropped *f = &files[n];
        f->kind = 'f';
        f->data = p;
        f->len = (size_t)(stop - p);
        if (f->len > 0 && p[0] == '#') {
            const char *eol = memchr(p, '\n', f->len);
            size_t hlen = eol != NULL ? (size_t)(eol - p) : f->len;
            if (hlen >= 2 && strchr("ldp", p[1]) != NULL)
                f->kind = p[1];
            entry_name(p + 2, hlen >= 2 ? hlen - 2 : 0, n, f->name);
            f->data = eol != NULL ? eol + 1 : p + hlen;
            f->len = (size_t)(stop - f->data);
        } else {
            entry_name("", 0, n, f->name);
        }
        int taken = 0;
        for (size_t k = 0; k < n; k++)
            taken |= strcmp(files[k].name, f->name) == 0;
        if (!taken)
            n++;
        if (stop == end)
            break;
        p = stop + sizeof SEPARATOR - 1;
    }
    return n;
}

static void drop_entry(const struct dropped *f)
{
    char tmp[4600], final[4600], inbox[4300];
    path_of(tmp, sizeof tmp, st.incoming, "next.tmp");
    path_of(inbox, sizeof inbox, st.spool, "inbox");
    path_of(final, sizeof final, inbox, f->name);
    switch (f->kind) {
    case 'l': {
        char target[4600];
        path_of(target, sizeof target, st.incoming, "target.json");
        FILE *t = fopen(target, "wb");
        check(t != NULL);
        check(f->len == 0 || fwrite(f->data, 1, f->len, t) == f->len);
        check(fclose(t) == 0);
        check(symlink(target, tmp) == 0);
        break;
    }
    case 'd':
        check(mkdir(tmp, 0700) == 0);
        break;
    case 'p':
        check(mkfifo(tmp, 0600) == 0);
        break;
    default: {
        FILE *t = fopen(tmp, "wb");
        check(t != NULL);
        check(f->len == 0 || fwrite(f->data, 1, f->len, t) == f->len);
        check(fclose(t) == 0);
        break;
    }
    }
    check(rename(tmp, final) == 0);
}

/* A processed file is a report the library had to take: well-formed, and
 * about a message it sent. */
static void check_processed(const char *data, size_t len)
{
    struct idm_json_member *m = NULL;
    size_t n = 0;
    check(len <= 65536 && idm_json_parse_strings(data, len, 8, &m, &n) == IDM_OK);
    static const char *const known[] = {"message_id", "status", "chip_serial", "shipment",
                                        "reason"};
    for (size_t i = 0; i < n; i++) {
        int ok = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            ok |= strcmp(m[i].key, known[k]) == 0;
        check(ok);
    }
    const char *id = idm_json_member_get(m, n, "message_id");
    const char *status = idm_json_member_get(m, n, "status");
    check(id != NULL && is_known_id(id));
    check(status != NULL &&
          (strcmp(status, "in_production") == 0 || strcmp(status, "produced") == 0 ||
           strcmp(status, "failed") == 0));
    check((strcmp(status, "produced") == 0) == (idm_json_member_get(m, n, "chip_serial") != NULL));
    idm_json_members_free(m, n);
}

/* A reason is one line of UTF-8 without control characters. */
static void check_reason(const char *data, size_t len)
{
    check(len >= 2 && data[len - 1] == '\n');
    check(idm_utf8_valid(data, len - 1, NULL));
    for (size_t i = 0; i + 1 < len; i++)
        check((unsigned char)data[i] >= 0x20 && data[i] != 0x7f);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Where each dropped entry went; returns how many were processed. */
static size_t check_folders(const struct dropped *files, size_t nfiles, int rc,
                            size_t *quarantined)
{
    char inbox[4300], processed[4300], quarantine[4300];
    path_of(inbox, sizeof inbox, st.spool, "inbox");
    path_of(processed, sizeof processed, st.spool, "processed");
    path_of(quarantine, sizeof quarantine, st.spool, "quarantine");
    char **in = NULL, **done = NULL, **aside = NULL;
    size_t nin = list_folder(inbox, &in);
    size_t ndone = list_folder(processed, &done);
    size_t naside = list_folder(quarantine, &aside);
    /* Only a store failure leaves a file in the inbox, and it stops the run. */
    if (rc == IDM_OK)
        check(nin == 0);
    else
        check(nin > 0);
    /* Every quarantined entry has its reason, which is one line. */
    size_t reasons = 0;
    for (size_t i = 0; i < naside; i++) {
        char reason[NAME_MAX_BYTES + 16];
        snprintf(reason, sizeof reason, "%s.reason", aside[i]);
        int has_reason = 0;
        for (size_t k = 0; k < naside && !has_reason; k++)
            has_reason = strcmp(aside[k], reason) == 0;
        if (!has_reason) {
            check(has_suffix(aside[i], ".reason"));
            size_t len = 0;
            char *text = read_whole(quarantine, aside[i], &len);
            check(text != NULL);
            check_reason(text, len);
            free(text);
            reasons++;
        }
    }
    check(naside == 2 * reasons);
    *quarantined = reasons;
    check(ndone + reasons + nin == nfiles);
    for (size_t i = 0; i < ndone; i++) {
        check(!has_suffix(done[i], ".reason"));
        size_t len = 0;
        char *text = read_whole(processed, done[i], &len);
        check(text != NULL);
        check_processed(text, len);
        free(text);
    }
    /* A regular file moved unchanged, under its name (or that name with a
     * suffix when a name of quarantine/ was taken). */
    for (size_t i = 0; i < nfiles && rc == IDM_OK; i++) {
        if (files[i].kind != 'f' || strlen(files[i].name) > 200)
            continue;
        char *text = NULL;
        size_t len = 0;
        for (int suffix = 0; text == NULL && suffix < 4; suffix++) {
            char name[NAME_MAX_BYTES + 16];
            if (suffix == 0)
                snprintf(name, sizeof name, "%s", files[i].name);
            else
                snprintf(name, sizeof name, "%s.%d", files[i].name, suffix);
            text = read_whole(processed, name, &len);
            /* in quarantine/, a name is a status file only with a reason
             * beside it (else it is another file's reason) */
            char reason[NAME_MAX_BYTES + 32];
            snprintf(reason, sizeof reason, "%s.reason", name);
            size_t ignored = 0;
            char *beside = text == NULL ? read_whole(quarantine, reason, &ignored) : NULL;
            if (beside != NULL)
                text = read_whole(quarantine, name, &len);
            free(beside);
        }
        check(text != NULL);
        check(len == files[i].len && memcmp(text, files[i].data, len) == 0);
        free(text);
    }
    free_names(in, nin);
    free_names(done, ndone);
    free_names(aside, naside);
    return ndone;
}

/* How far a card is on the bureau's path; -1 off it. */
static int bureau_step(idm_card_state s)
{
    switch (s) {
    case IDM_CARD_PROCESSING: return 0;
    case IDM_CARD_ORDERED: return 1;
    case IDM_CARD_IN_PRODUCTION: return 2;
    case IDM_CARD_PRODUCED:
    case IDM_CARD_FAILED: return 3;
    default: return -1;
    }
}

/* Returns how many cards changed. */
static size_t check_cards(const struct card_view *before, size_t nbefore,
                          const struct card_view *after, size_t nafter)
{
    check(nbefore == nafter);
    size_t changed = 0;
    for (size_t i = 0; i < nafter; i++) {
        const struct card_view *b = &before[i], *a = &after[i];
        check(a->id == b->id);
        if (a->state == b->state) {
            /* a card that stays keeps what the bureau said of it */
            check(a->has_chip == b->has_chip && strcmp(a->chip, b->chip) == 0);
            check(a->has_shipment == b->has_shipment && strcmp(a->shipment, b->shipment) == 0);
            continue;
        }
        changed++;
        /* only forward along processing -> ordered -> in_production ->
         * produced | failed; produced and failed are the ends */
        int from = bureau_step(b->state), to = bureau_step(a->state);
        check(from >= 0 && from <= 2 && to > from);
        if (a->state == IDM_CARD_PRODUCED) {
            size_t len = strlen(a->chip);
            check(a->has_chip && len >= 1 && len <= 64);
            for (size_t k = 0; k < len; k++)
                check(a->chip[k] > ' ' && a->chip[k] < 0x7f);
        } else {
            check(a->has_chip == b->has_chip && strcmp(a->chip, b->chip) == 0);
        }
    }
    return changed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dropped files[FILES_MAX];
    size_t nfiles = split_input(data, size, files);
    struct card_view before[CARDS_MAX], after[CARDS_MAX];
    size_t nbefore = cards_view(before, CARDS_MAX);
    for (size_t i = 0; i < nfiles; i++)
        drop_entry(&files[i]);

    size_t applied = 0, refused = 0;
    int rc = idm_external_update(st.desk, ACTOR, &applied, &refused);
    check(rc == IDM_OK || rc == IDM_ERR_STORE || rc == IDM_ERR_NO_MEMORY);

    size_t quarantined = 0;
    size_t processed = check_folders(files, nfiles, rc, &quarantined);
    check(applied <= processed && refused <= quarantined);

    size_t nafter = cards_view(after, CARDS_MAX);
    size_t changed = check_cards(before, nbefore, after, nafter);
    check(changed <= applied);
    if (processed == 0)
        check(changed == 0);
    if (st.verbose)
        fprintf(stderr, "  rc %d, %zu applied, %zu refused; %zu processed, %zu quarantined; "
                "%zu cards changed\n", rc, applied, refused, processed, quarantined, changed);

    int64_t broken = -1;
    check(idm_audit_verify(st.ctx, &broken) == IDM_OK && broken == 0);

    char dir[4300];
    static const char *const folders[] = {"inbox", "processed", "quarantine"};
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
        path_of(dir, sizeof dir, st.spool, folders[i]);
        clear_folder(dir);
    }
    clear_folder(st.incoming);
    /* The store back to its initial copy when a report reached it (an
     * applied one changed a card, a refused one was audited); after the
     * input rather than before the next, so that what the input allocated
     * and what the reset frees balance within it, which keeps libFuzzer's
     * leak check from running after every input. */
    if (applied + refused > 0)
        reset_store();
    return 0;
}
