/* External production against a bureau that is a separate process: the
 * library orders cards through the spool producer, tests/external/
 * bureau.py takes the outbox and answers into the inbox (good reports and
 * bad files: malformed, an unknown member, an unknown card, a copy, names a
 * spool must refuse, a 70 KiB file, a "failed" after "produced", and an old
 * "in_production" delivered again, which is accepted), and
 * idm_external_update() reads the answers.  At the end every card is in
 * the state the bureau's ledger says, no card was ordered twice, every bad
 * file is in quarantine/ with a reason naming its problem, every good one
 * in processed/, the audit chain is intact and every produced card's
 * holder got one mail.  Then the failed cards are repeated: they go out
 * under a new message id (attempt 2) and end produced. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

#define ACTOR "operator:bureau-test"
#define CARDS 40
#define FAIL_EVERY 5
#define SYNC_BATCH 7
#define MAX_ROUNDS 6

/* ---- the bureau's ledger ------------------------------------------------ */

/* One order the bureau received, as its ledger records it. */
struct ledger_order {
    char message_id[160];
    char card[32];
    int attempt;
    int seen;     /* how often the outbox carried it */
    int produced; /* how often the bureau produced it */
    char status[24];
    char chip_serial[80];
    char shipment[300];
    char reason[300];
};

/* One file the bureau dropped into the inbox. */
struct ledger_file {
    char name[160];
    char expect[16];  /* "processed" or "quarantine" */
    char problem[24]; /* "" for a good report */
};

struct ledger {
    struct ledger_order orders[4 * CARDS];
    size_t norders;
    struct ledger_file files[8 * CARDS];
    size_t nfiles;
};

/* The value of "key" in one record line written by json.dumps(): a string
 * (unescaped) or a bare token (number, null); "" when null or missing. */
static void field(const char *line, const char *key, char *out, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    out[0] = '\0';
    const char *p = strstr(line, pattern);
    if (p == NULL)
        return;
    p += strlen(pattern);
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p != '\0' && *p != '"' && n + 1 < size; p++) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            out[n++] = *p;
        }
    } else if (strncmp(p, "null", 4) != 0) {
        while (*p != '\0' && *p != ',' && *p != '}' && n + 1 < size)
            out[n++] = *p++;
    }
    out[n] = '\0';
}

static int int_field(const char *line, const char *key)
{
    char text[32];
    field(line, key, text, sizeof text);
    return atoi(text);
}

static void read_ledger(const char *path, struct ledger *l)
{
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "the bureau left no ledger %s", path);
    static char line[4096];
    int section = 0; /* 1 orders, 2 files */
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "\"orders\": [") == line + 1)
            section = 1;
        else if (strstr(line, "\"files\": [") == line + 1)
            section = 2;
        else if (strncmp(line, "  {", 3) != 0)
            continue;
        else if (section == 1) {
            ck_assert_uint_lt(l->norders, sizeof l->orders / sizeof l->orders[0]);
            struct ledger_order *o = &l->orders[l->norders++];
            field(line, "message_id", o->message_id, sizeof o->message_id);
            field(line, "card", o->card, sizeof o->card);
            o->attempt = int_field(line, "attempt");
            o->seen = int_field(line, "seen");
            o->produced = int_field(line, "produced");
            field(line, "status", o->status, sizeof o->status);
            field(line, "chip_serial", o->chip_serial, sizeof o->chip_serial);
            field(line, "shipment", o->shipment, sizeof o->shipment);
            field(line, "reason", o->reason, sizeof o->reason);
        } else if (section == 2) {
            ck_assert_uint_lt(l->nfiles, sizeof l->files / sizeof l->files[0]);
            struct ledger_file *b = &l->files[l->nfiles++];
            field(line, "name", b->name, sizeof b->name);
            field(line, "expect", b->expect, sizeof b->expect);
            field(line, "problem", b->problem, sizeof b->problem);
        }
    }
    fclose(f);
    ck_assert_uint_gt(l->norders, 0);
}

/* ---- the bureau process ------------------------------------------------- */

/* Runs one round of the bureau and waits for it; it must exit 0. */
static void run_bureau(const char *spool, const char *ledger, unsigned seed)
{
    const char *script = getenv("IDM_TEST_BUREAU");
    ck_assert_msg(script != NULL && script[0] != '\0',
                  "IDM_TEST_BUREAU is not set: run this suite through meson test");
    char seed_text[32], fail_text[32];
    snprintf(seed_text, sizeof seed_text, "%u", seed);
    snprintf(fail_text, sizeof fail_text, "%d", FAIL_EVERY);
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        /* stdout carries the TAP stream: the bureau talks on stderr. */
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execlp("python3", "python3", script, spool, "--rounds", "1", "--seed", seed_text,
               "--fail-every", fail_text, "--ledger", ledger, (char *)NULL);
        fprintf(stderr, "cannot run python3 %s\n", script);
        _exit(127);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the bureau failed (wait status %d); its words are on stderr", status);
}

/* ---- files -------------------------------------------------------------- */

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int exists(const char *dir, const char *name)
{
    char path[8192];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Reads a whole (small) file into buf, NUL-terminated. */
static void read_text(const char *dir, const char *name, char *buf, size_t size)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* ---- the store's side --------------------------------------------------- */

struct batch {
    int64_t card_ids[CARDS];
    int reported;
};

static void on_result(size_t index, int64_t identity_id, int result, int64_t card_id,
                      idm_card_state state, const char *reason, void *user_data)
{
    struct batch *b = user_data;
    (void)identity_id;
    ck_assert_msg(result == IDM_OK, "identity %zu refused: %s", index,
                  reason != NULL ? reason : "?");
    ck_assert_int_eq(state, IDM_CARD_PROCESSING);
    ck_assert_uint_lt(index, CARDS);
    b->card_ids[index] = card_id;
    b->reported++;
}

/* A card as the store has it. */
struct card_view {
    char number[32];
    idm_card_state state;
    char chip_serial[80];
    char shipment[300];
};

static void view_card(idm_ctx_t *ctx, int64_t id, struct card_view *v)
{
    idm_card_t *c = NULL;
    const char *number = NULL, *chip = NULL, *ship = NULL;
    ck_ok(idm_card_open(ctx, id, &c));
    ck_ok(idm_card_get_number(c, &number));
    ck_ok(idm_card_get_state(c, &v->state));
    ck_ok(idm_card_get_chip_serial(c, &chip));
    ck_ok(idm_card_get_shipment(c, &ship));
    snprintf(v->number, sizeof v->number, "%s", number);
    snprintf(v->chip_serial, sizeof v->chip_serial, "%s", chip != NULL ? chip : "");
    snprintf(v->shipment, sizeof v->shipment, "%s", ship != NULL ? ship : "");
    idm_card_free(&c);
}

/* Whether one of the card's audit events mentions text. */
static int audit_mentions(idm_ctx_t *ctx, int64_t card_id, const char *text)
{
    idm_audit_iter_t *it = NULL;
    idm_audit_event_t *e = NULL;
    int found = 0;
    ck_ok(idm_audit_iter_new(ctx, &it));
    ck_ok(idm_audit_iter_set_object(it, IDM_OBJECT_CARD, card_id));
    while (idm_audit_iter_next(it, &e) == IDM_OK && e != NULL) {
        const char *detail = NULL;
        ck_ok(idm_audit_event_get_detail(e, &detail));
        found |= detail != NULL && strstr(detail, text) != NULL;
        idm_audit_event_free(&e);
    }
    idm_audit_iter_free(&it);
    return found;
}

/* The orders of the ledger for one card number, in the ledger's order. */
static size_t orders_of(const struct ledger *l, const char *number,
                        const struct ledger_order **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < l->norders; i++) {
        if (strcmp(l->orders[i].card, number) == 0) {
            if (n < max)
                out[n] = &l->orders[i];
            n++;
        }
    }
    return n;
}

/* How many mails in the maildir's new/ say subject_tail about card number. */
static int mails_about(const char *maildir, const char *number, const char *subject_tail)
{
    char dir[4200], want[160];
    snprintf(dir, sizeof dir, "%s/new", maildir);
    snprintf(want, sizeof want, "Subject: Your card %s %s", number, subject_tail);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    static char text[16384];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        read_text(dir, e->d_name, text, sizeof text);
        n += strstr(text, want) != NULL;
    }
    closedir(d);
    return n;
}

/* What a quarantined file's reason must say for each problem. */
static const char *reason_names(const char *problem)
{
    static const struct {
        const char *problem, *words;
    } table[] = {
        {"malformed", "at byte"},
        {"unknown_member", "unknown member 'priority'"},
        {"unknown_card", "unknown card"},
        {"path_trick", "file name"},
        {"oversized", "71680 bytes"},
        {"contradicts", "out of date"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].problem, problem) == 0)
            return table[i].words;
    }
    return NULL;
}

/* Every file the bureau wrote is where the ledger expects it, quarantined
 * ones with a reason naming the problem; nothing else is there; the inbox
 * is empty.  Returns how many files belong in quarantine/. */
static int check_files(const char *spool, const struct ledger *l, struct faults *f)
{
    char inbox[4200], processed[4200], quarantine[4200];
    snprintf(inbox, sizeof inbox, "%s/inbox", spool);
    snprintf(processed, sizeof processed, "%s/processed", spool);
    snprintf(quarantine, sizeof quarantine, "%s/quarantine", spool);
    int want_processed = 0, want_quarantined = 0;
    static char reason[4096];
    for (size_t i = 0; i < l->nfiles; i++) {
        const struct ledger_file *b = &l->files[i];
        if (strcmp(b->expect, "processed") == 0) {
            want_processed++;
            if (!exists(processed, b->name))
                fault(f, "%s (%s) is not in processed/%s;", b->name,
                      b->problem[0] != '\0' ? b->problem : "good report",
                      exists(quarantine, b->name) ? " it was quarantined" : "");
            if (exists(quarantine, b->name)) {
                char rname[300];
                snprintf(rname, sizeof rname, "%s.reason", b->name);
                read_text(quarantine, rname, reason, sizeof reason);
                fault(f, "quarantine reason of %s: %s;", b->name, reason);
            }
            continue;
        }
        want_quarantined++;
        char rname[300];
        snprintf(rname, sizeof rname, "%s.reason", b->name);
        if (!exists(quarantine, b->name) || !exists(quarantine, rname)) {
            fault(f, "bad file %s (%s) is not in quarantine/ with its reason%s;", b->name,
                  b->problem, exists(processed, b->name) ? ": it was processed" : "");
            continue;
        }
        read_text(quarantine, rname, reason, sizeof reason);
        const char *words = reason_names(b->problem);
        if (words == NULL || strstr(reason, words) == NULL)
            fault(f, "the reason of quarantined %s (%s) does not say \"%s\": %s", b->name,
                  b->problem, words != NULL ? words : "?", reason);
    }
    if (count_entries(processed) != want_processed)
        fault(f, "processed/ holds %d files, the bureau wrote %d good ones;",
              count_entries(processed), want_processed);
    if (count_entries(quarantine) != 2 * want_quarantined)
        fault(f, "quarantine/ holds %d entries, expected %d bad files and their reasons;",
              count_entries(quarantine), want_quarantined);
    if (count_entries(inbox) != 0)
        fault(f, "inbox/ still holds %d files;", count_entries(inbox));
    return want_quarantined;
}

/* Rounds of sync, bureau, update until no card is on its way; returns how
 * many rounds it took.  Adds the update's counts to *applied, *refused. */
static int run_rounds(idm_external_t *x, idm_ctx_t *ctx, const struct batch *b,
                      const char *spool, const char *ledger, unsigned seed, size_t *sent_total,
                      size_t *applied, size_t *refused)
{
    for (int round = 1; round <= MAX_ROUNDS; round++) {
        size_t sent = 0, failed = 0, ok = 0, no = 0;
        ck_ok(idm_external_sync_queue(x, ACTOR, SYNC_BATCH, &sent, &failed));
        ck_assert_uint_eq(failed, 0);
        *sent_total += sent;
        run_bureau(spool, ledger, seed);
        ck_ok(idm_external_update(x, ACTOR, &ok, &no));
        *applied += ok;
        *refused += no;
        int busy = 0;
        for (int i = 0; i < CARDS; i++) {
            idm_card_state s = fixture_card_state(ctx, b->card_ids[i]);
            busy += s != IDM_CARD_PRODUCED && s != IDM_CARD_FAILED;
        }
        if (busy == 0)
            return round;
    }
    ck_abort_msg("cards still on their way after %d rounds of the bureau", MAX_ROUNDS);
    return 0;
}

/* Fails the test on collected faults: all of them on stderr, the first
 * ones in the TAP line (Check refuses a message of more than a few KiB). */
static void assert_no_faults(const struct faults *f)
{
    if (f->count != 0)
        fprintf(stderr, "# %d failure(s):%s\n", f->count, f->text);
    ck_assert_msg(f->count == 0, "%d failure(s):%.2000s", f->count, f->text);
}

START_TEST(test_bureau_process_ends_every_card_right_and_quarantines_bad_files)
{
    const char *path = fixture_store_path("external-bureau");
    char spool[4200], maildir[4200], ledger_path[4200], dir[4300];
    snprintf(spool, sizeof spool, "%s.spool", path);
    snprintf(maildir, sizeof maildir, "%s.mail", path);
    snprintf(ledger_path, sizeof ledger_path, "%s.ledger.json", path);
    ck_assert_int_eq(mkdir(spool, 0700), 0);
    const char *env = getenv("IDM_TEST_SEED");
    unsigned seed = env != NULL ? (unsigned)strtoul(env, NULL, 10)
                                : (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "# external bureau: seed %u (IDM_TEST_SEED=%u repeats it)\n", seed, seed);

    idm_ctx_t *ctx = fixture_ctx(path);
    ck_ok(idm_options_set_bool(ctx, ACTOR, "external_production_enabled", 1));
    ck_ok(idm_options_set_bool(ctx, ACTOR, "queue_orders", 1));
    ck_ok(idm_options_set_bool(ctx, ACTOR, "send_card_ordered_email", 1));
    idm_producer_t *producer = NULL;
    idm_notifier_t *notifier = NULL;
    idm_external_t *x = NULL;
    ck_ok(idm_producer_new_spool(&producer, spool));
    ck_ok(idm_notifier_new_maildir(&notifier, maildir, "cards@corp.example"));
    ck_ok(idm_external_new(&x, ctx, producer, notifier));

    int64_t holders[CARDS];
    for (int i = 0; i < CARDS; i++) {
        char id[32], surname[32], mail[64];
        snprintf(id, sizeof id, "B%03d", i);
        snprintf(surname, sizeof surname, "Holder%03d", i);
        snprintf(mail, sizeof mail, "holder%03d@corp.example", i);
        idm_identity_t *p = fixture_person(ctx, id, "Bureau", surname);
        ck_ok(idm_identity_set_attribute(p, ACTOR, "mail", mail));
        ck_ok(idm_identity_get_id(p, &holders[i]));
        idm_identity_free(&p);
    }
    struct batch b = {{0}, 0};
    ck_ok(idm_external_order_batch(x, ACTOR, holders, CARDS, IDM_CARD_EMPLOYEE,
                                   IDM_CARD_PHYSICAL, on_result, &b, NULL));
    ck_assert_int_eq(b.reported, CARDS);

    /* ---- the first orders --------------------------------------------- */
    size_t sent = 0, applied = 0, refused = 0;
    int rounds = run_rounds(x, ctx, &b, spool, ledger_path, seed, &sent, &applied, &refused);
    static struct ledger l;
    read_ledger(ledger_path, &l);
    fprintf(stderr, "# external bureau: %d rounds, %zu sent, %zu reports applied, %zu refused, "
            "%zu orders and %zu files in the ledger\n", rounds, sent, applied, refused,
            l.norders, l.nfiles);
    ck_assert_uint_eq(sent, CARDS);
    ck_assert_uint_eq(l.norders, CARDS);

    struct faults f = {0, 0, ""};
    int produced = 0, failed = 0;
    int64_t failed_ids[CARDS];
    for (int i = 0; i < CARDS; i++) {
        struct card_view v;
        view_card(ctx, b.card_ids[i], &v);
        const struct ledger_order *o[4];
        size_t n = orders_of(&l, v.number, o, 4);
        if (n != 1) {
            fault(&f, "card %s is under %zu message ids in the ledger;", v.number, n);
            continue;
        }
        if (o[0]->seen != 1 || o[0]->produced > 1 || o[0]->attempt != 1)
            fault(&f, "order %s: seen %d, produced %d, attempt %d;", o[0]->message_id,
                  o[0]->seen, o[0]->produced, o[0]->attempt);
        if (strcmp(o[0]->status, "produced") == 0) {
            produced++;
            if (v.state != IDM_CARD_PRODUCED || strcmp(v.chip_serial, o[0]->chip_serial) != 0 ||
                strcmp(v.shipment, o[0]->shipment) != 0)
                fault(&f, "card %s is '%s' with chip '%s' and shipment '%s'; the bureau "
                      "produced it with chip '%s' and shipment '%s';", v.number,
                      idm_card_state_name(v.state), v.chip_serial, v.shipment,
                      o[0]->chip_serial, o[0]->shipment);
        } else if (strcmp(o[0]->status, "failed") == 0) {
            failed_ids[failed++] = b.card_ids[i];
            if (v.state != IDM_CARD_FAILED || v.chip_serial[0] != '\0')
                fault(&f, "card %s is '%s' (chip '%s'); the bureau failed it;", v.number,
                      idm_card_state_name(v.state), v.chip_serial);
            if (!audit_mentions(ctx, b.card_ids[i], o[0]->reason))
                fault(&f, "card %s: no audit event gives the bureau's reason '%s';", v.number,
                      o[0]->reason);
        } else {
            fault(&f, "order %s ended '%s' at the bureau;", o[0]->message_id, o[0]->status);
        }
        if (mails_about(maildir, v.number, "has been ordered") != 1)
            fault(&f, "card %s: %d 'ordered' mails;", v.number,
                  mails_about(maildir, v.number, "has been ordered"));
        int want = strcmp(o[0]->status, "produced") == 0;
        if (mails_about(maildir, v.number, "has been produced") != want)
            fault(&f, "card %s: %d 'produced' mails, expected %d;", v.number,
                  mails_about(maildir, v.number, "has been produced"), want);
    }
    assert_no_faults(&f);
    ck_assert_int_eq(failed, CARDS / FAIL_EVERY);
    ck_assert_int_eq(produced + failed, CARDS);
    /* Every good report changed its card once (in production, then produced
     * or failed); the copy and the late "in_production" repeated one (no
     * change); the unknown card and the "failed" after "produced" reached
     * the library and were refused; the other bad files never got past the
     * spool. */
    ck_assert_uint_eq(applied, 2 * CARDS);
    ck_assert_uint_eq(refused, 2);
    ck_assert_int_eq(check_files(spool, &l, &f), 7);
    assert_no_faults(&f);
    snprintf(dir, sizeof dir, "%s/outbox", spool);
    ck_assert_int_eq(count_entries(dir), 0);
    snprintf(dir, sizeof dir, "%s/tmp", spool);
    ck_assert_int_eq(count_entries(dir), 0);
    int64_t broken = -1;
    ck_ok(idm_audit_verify(ctx, &broken));
    ck_assert_int_eq(broken, 0);

    /* ---- the failed cards, repeated ------------------------------------ */
    for (int i = 0; i < failed; i++) {
        idm_card_t *c = NULL;
        ck_ok(idm_card_open(ctx, failed_ids[i], &c));
        ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_PROCESSING, "repeat: the bureau failed it"));
        idm_card_free(&c);
    }
    sent = applied = refused = 0;
    rounds = run_rounds(x, ctx, &b, spool, ledger_path, seed, &sent, &applied, &refused);
    read_ledger(ledger_path, &l);
    fprintf(stderr, "# external bureau: repeat in %d rounds, %zu sent, %zu applied, %zu "
            "refused\n", rounds, sent, applied, refused);
    ck_assert_uint_eq(sent, (size_t)failed);
    ck_assert_uint_eq(applied, 2 * (size_t)failed);
    ck_assert_uint_eq(refused, 0);
    ck_assert_uint_eq(l.norders, (size_t)(CARDS + failed));
    for (int i = 0; i < CARDS; i++) {
        struct card_view v;
        view_card(ctx, b.card_ids[i], &v);
        const struct ledger_order *o[4];
        size_t n = orders_of(&l, v.number, o, 4);
        int was_failed = 0;
        for (int k = 0; k < failed; k++)
            was_failed |= failed_ids[k] == b.card_ids[i];
        if (n != (size_t)(1 + was_failed)) {
            fault(&f, "card %s is under %zu message ids, expected %d;", v.number, n,
                  1 + was_failed);
            continue;
        }
        const struct ledger_order *last = o[n - 1];
        int produced_orders = 0;
        for (size_t k = 0; k < n; k++) {
            produced_orders += o[k]->produced;
            if (o[k]->seen != 1 || o[k]->attempt != (int)k + 1)
                fault(&f, "order %s: seen %d, attempt %d;", o[k]->message_id, o[k]->seen,
                      o[k]->attempt);
        }
        if (produced_orders != 1)
            fault(&f, "card %s was produced %d times by the bureau;", v.number,
                  produced_orders);
        if (was_failed) {
            /* same order and card, the next attempt: "...-a1" becomes "...-a2" */
            size_t len = strlen(o[0]->message_id);
            if (strcmp(o[0]->status, "failed") != 0 || len < 3 ||
                strncmp(o[0]->message_id, last->message_id, len - 1) != 0 ||
                strcmp(last->message_id + len - 3, "-a2") != 0)
                fault(&f, "card %s repeated as %s after %s (%s);", v.number, last->message_id,
                      o[0]->message_id, o[0]->status);
        }
        if (v.state != IDM_CARD_PRODUCED || strcmp(last->status, "produced") != 0 ||
            strcmp(v.chip_serial, last->chip_serial) != 0 ||
            strcmp(v.shipment, last->shipment) != 0)
            fault(&f, "card %s is '%s' with chip '%s'; the bureau says %s '%s' chip '%s';",
                  v.number, idm_card_state_name(v.state), v.chip_serial, last->message_id,
                  last->status, last->chip_serial);
        if (mails_about(maildir, v.number, "has been produced") != 1)
            fault(&f, "card %s: %d 'produced' mails;", v.number,
                  mails_about(maildir, v.number, "has been produced"));
    }
    assert_no_faults(&f);
    ck_assert_int_eq(check_files(spool, &l, &f), 7);
    assert_no_faults(&f);
    ck_ok(idm_audit_verify(ctx, &broken));
    ck_assert_int_eq(broken, 0);

    idm_external_free(&x);
    idm_notifier_free(&notifier);
    idm_producer_free(&producer);
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
    char cmd[13000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", spool, maildir, ledger_path);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("external_bureau");
    TCase *tc = tcase_create("bureau_process");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_bureau_process_ends_every_card_right_and_quarantines_bad_files);
    suite_add_tcase(s, tc);
    return s;
}
