/*
 * Black-box: the security review of inputs (issue 10, doc/reliability.md).
 * What reaches the library from outside (a bureau's spool, a maildir, a
 * CSV file, a host's text, a holder's attributes) is tried in the forms an
 * attacker or a broken system would give it:
 *
 *  - paths: spool and maildir folders that are links (from the start, or
 *    swapped in later), inbox entries that are links to a valid report
 *    outside, FIFOs or folders, file names with line breaks, bytes that are
 *    not UTF-8 or a leading dot, message ids that are paths.  Nothing is
 *    read or written outside the folder the host named; each bad entry is
 *    quarantined with a reason that names it;
 *  - SQL and printf directives in every kind of text: stored and read back
 *    byte for byte, a lookup by such a key finds its own row only, the
 *    schema intact, and logs and audit keep the directives as text;
 *  - text over the limits of each public setter and bytes that are not
 *    UTF-8: refused with IDM_ERR_INVALID_ARG naming the argument, nothing
 *    stored; text at the limit kept exactly; no message, log line, mail or
 *    stored text cut in the middle of a character; a holder's name longer
 *    than a mail line or a certificate's common name costs that card only;
 *  - CSV files with a field of many megabytes, too many columns, an
 *    overlong record, thousands of rows: refused early naming the line and
 *    the limit, or imported; all or nothing; in memory that does not grow
 *    with the file.
 *
 * Every store a test leaves is checked by check_store ($IDM_CHECK_STORE).
 * The secrets part of the review (PINs, PUKs, keys and passphrases never in
 * logs, store, audit, spool or mails) runs on the PC/SC stack:
 * check-secrets.sh.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "mem_encoder.h"
#include "runner.h"

#define ADMIN "admin"
#define OPERATOR "operator"
#define APPROVER "approver"

/* ---- the test's own view of files, text and the store -------------------- */

/* 1 if s[0..len) is well-formed UTF-8, written apart from the library's
 * checker so that the two do not share a mistake. */
static int utf8_ok(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i], cp;
        size_t n;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            n = 1, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            n = 2, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            n = 3, cp = c & 0x07;
        else
            return 0;
        if (i + n >= len)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const unsigned least[] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

static int utf8_str_ok(const char *s)
{
    return utf8_ok(s, strlen(s));
}

/* The whole content of a file (NUL-terminated; *len without it), or NULL. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n - 1 == 0) {
            buf = realloc(buf, cap *= 2);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* Entries of a folder, "." and ".." aside; -1 when it cannot be read. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* The name of the first entry of dir that contains needle, into out. */
static int find_entry(const char *dir, const char *needle, char *out, size_t size)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        if (strstr(e->d_name, needle) != NULL) {
            snprintf(out, size, "%s", e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

/* One number from the store file, read beside the library. */
static long long store_count(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(h));
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    long long v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(h);
    return v;
}

/* The store's invariants, by tests/reliability/check_store. */
static void check_store_ok(const char *db)
{
    const char *tool = getenv("IDM_CHECK_STORE");
    ck_assert_msg(tool != NULL && tool[0] != '\0',
                  "IDM_CHECK_STORE is not set: meson test sets it to the check_store program");
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(out[0]);
        execl(tool, tool, db, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char said[4096];
    size_t n = 0;
    ssize_t k;
    while ((k = read(out[0], said + n, sizeof said - 1 - n)) > 0)
        n += (size_t)k;
    said[n] = '\0';
    close(out[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "check_store %s: %s", db, said);
}

/* ---- a store with a desk, a log and an outside folder --------------------- */

struct logbook {
    char *text;
    size_t len, cap;
    int lines;
    int not_utf8; /* messages that were not valid UTF-8 */
    char first_bad[160]; /* the start of the first one, bytes >= 0x80 as '?' */
    int cut;      /* messages the library cut ("..." at the end) */
};

static void on_log(idm_log_level level, const char *component, const char *message,
                   void *user_data)
{
    struct logbook *b = user_data;
    size_t need = strlen(component) + strlen(message) + 32;
    if (b->len + need >= b->cap) {
        b->cap = (b->len + need) * 2;
        b->text = realloc(b->text, b->cap);
        ck_assert_ptr_nonnull(b->text);
    }
    b->len += (size_t)snprintf(b->text + b->len, b->cap - b->len, "[%s] %s: %s\n",
                               idm_log_level_name(level), component, message);
    b->lines++;
    if (!utf8_str_ok(message) && b->not_utf8++ == 0) {
        snprintf(b->first_bad, sizeof b->first_bad, "%s", message);
        for (char *p = b->first_bad; *p != '\0'; p++)
            *p = (unsigned char)*p >= 0x80 || *p == '\n' ? '?' : *p;
    }
    size_t m = strlen(message);
    b->cut += m >= 3 && strcmp(message + m - 3, "...") == 0;
}

struct env {
    char root[4096];
    char db[4200], spool[4200], mail[4200], outside[4200];
    idm_ctx_t *ctx;
    idm_producer_t *producer;
    idm_notifier_t *notifier;
    idm_external_t *x;
    struct logbook log;
    int people;
};

/* A store in a scratch folder, its log at the most verbose level, and a
 * folder beside it, "outside", where nothing may ever appear. */
static void env_open(struct env *e, const char *name)
{
    memset(e, 0, sizeof *e);
    fixture_scratch_dir(name, e->root, sizeof e->root);
    snprintf(e->db, sizeof e->db, "%s/store.db", e->root);
    snprintf(e->spool, sizeof e->spool, "%s/spool", e->root);
    snprintf(e->mail, sizeof e->mail, "%s/mail", e->root);
    snprintf(e->outside, sizeof e->outside, "%s/outside", e->root);
    ck_assert_int_eq(mkdir(e->outside, 0700), 0);
    e->ctx = fixture_ctx(e->db);
    ck_ok(idm_ctx_set_log_callback(e->ctx, on_log, &e->log));
    ck_ok(idm_ctx_set_log_level(e->ctx, IDM_LOG_DEBUG));
}

/* The external production desk on the built-in spool and maildir. */
static void env_desk(struct env *e)
{
    ck_assert_int_eq(mkdir(e->spool, 0700), 0);
    ck_ok(idm_producer_new_spool(&e->producer, e->spool));
    ck_ok(idm_notifier_new_maildir(&e->notifier, e->mail, "cards@corp.example"));
    ck_ok(idm_external_new(&e->x, e->ctx, e->producer, e->notifier));
    ck_ok(idm_options_set_bool(e->ctx, ADMIN, "external_production_enabled", 1));
}

static void env_close(struct env *e)
{
    idm_external_free(&e->x);
    idm_notifier_free(&e->notifier);
    idm_producer_free(&e->producer);
    idm_ctx_free(&e->ctx);
    check_store_ok(e->db);
    ck_assert_msg(e->log.not_utf8 == 0, "%d log messages were not UTF-8, the first: %s",
                  e->log.not_utf8, e->log.first_bad);
    free(e->log.text);
    fixture_remove_tree(e->root);
}

/* An active identity; mail NULL for none. */
static int64_t person(struct env *e, const char *given, const char *mail)
{
    char id[32];
    snprintf(id, sizeof id, "E%04d", ++e->people);
    idm_identity_t *p = fixture_person(e->ctx, id, given, "Berg");
    if (mail != NULL)
        ck_ok(idm_identity_set_attribute(p, ADMIN, "mail", mail));
    int64_t out;
    ck_ok(idm_identity_get_id(p, &out));
    idm_identity_free(&p);
    return out;
}

static int64_t order_card(struct env *e, int64_t who)
{
    idm_card_t *card = NULL;
    ck_ok(idm_external_order_card(e->x, OPERATOR, who, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL,
                                  IDM_PRODUCTION_EXTERNAL, &card));
    int64_t id;
    ck_ok(idm_card_get_id(card, &id));
    idm_card_free(&card);
    return id;
}

/* The message id a card was ordered with (from the outbox). */
static void message_of(const struct env *e, int64_t card_id, char *out, size_t size)
{
    char dir[4300], needle[48];
    snprintf(dir, sizeof dir, "%s/outbox", e->spool);
    snprintf(needle, sizeof needle, "-c%lld-a1.json", (long long)card_id);
    ck_assert_msg(find_entry(dir, needle, out, size), "no outbox message for card %lld",
                  (long long)card_id);
    out[strlen(out) - 5] = '\0';
}

static void inbox_file(const struct env *e, const char *name, const char *text)
{
    char path[4600];
    snprintf(path, sizeof path, "%s/inbox/%s", e->spool, name);
    spit(path, text, strlen(text));
}

static void produced_report(char *out, size_t size, const char *msg, const char *chip)
{
    snprintf(out, size, "{\"message_id\":\"%s\",\"status\":\"produced\",\"chip_serial\":\"%s\"}",
             msg, chip);
}

/* Some audit event's detail contains needle (NULL: any) and, when actor is
 * not NULL, its actor is exactly actor. */
static int audit_has(idm_ctx_t *ctx, const char *actor, const char *needle)
{
    idm_audit_iter_t *it = NULL;
    idm_audit_event_t *ev = NULL;
    int found = 0;
    ck_ok(idm_audit_iter_new(ctx, &it));
    while (!found && idm_audit_iter_next(it, &ev) == IDM_OK && ev != NULL) {
        const char *a = NULL, *d = NULL;
        ck_ok(idm_audit_event_get_actor(ev, &a));
        ck_ok(idm_audit_event_get_detail(ev, &d));
        found = (actor == NULL || strcmp(a, actor) == 0) &&
                (needle == NULL || (d != NULL && strstr(d, needle) != NULL));
        idm_audit_event_free(&ev);
    }
    idm_audit_iter_free(&it);
    return found;
}

/* Every audit event's actor and detail are valid UTF-8. */
static void audit_all_utf8(idm_ctx_t *ctx)
{
    idm_audit_iter_t *it = NULL;
    idm_audit_event_t *ev = NULL;
    ck_ok(idm_audit_iter_new(ctx, &it));
    while (idm_audit_iter_next(it, &ev) == IDM_OK && ev != NULL) {
        const char *a = NULL, *d = NULL;
        int64_t seq = 0, t = 0;
        ck_ok(idm_audit_event_get_seq(ev, &seq, &t));
        ck_ok(idm_audit_event_get_actor(ev, &a));
        ck_ok(idm_audit_event_get_detail(ev, &d));
        ck_assert_msg(utf8_str_ok(a) && (d == NULL || utf8_str_ok(d)),
                      "audit event %lld is not UTF-8", (long long)seq);
        idm_audit_event_free(&ev);
    }
    idm_audit_iter_free(&it);
    int64_t broken = 0;
    ck_ok(idm_audit_verify(ctx, &broken));
}

/* ==== 1. paths ============================================================== */

static const char *const SPOOL_FOLDERS[] = {"outbox", "inbox", "processed", "quarantine", "tmp"};

START_TEST(test_spool_with_a_folder_that_is_a_link_is_refused_naming_it)
{
    struct env e;
    env_open(&e, "sec-spool-link");
    for (size_t i = 0; i < 5; i++) {
        char spool[4300], link[4400];
        snprintf(spool, sizeof spool, "%s/spool-%s", e.root, SPOOL_FOLDERS[i]);
        ck_assert_int_eq(mkdir(spool, 0700), 0);
        snprintf(link, sizeof link, "%s/%s", spool, SPOOL_FOLDERS[i]);
        ck_assert_int_eq(symlink(e.outside, link), 0);
        idm_producer_t *p = NULL;
        ck_assert_idm_error(idm_producer_new_spool(&p, spool), IDM_ERR_IO, SPOOL_FOLDERS[i]);
        ck_assert_msg(strstr(idm_last_error_message(), "symbolic link") != NULL, "%s",
                      idm_last_error_message());
        ck_assert_ptr_null(p);
    }
    ck_assert_int_eq(entries(e.outside), 0);
    env_close(&e);
}
END_TEST

START_TEST(test_spool_folder_swapped_for_a_link_is_never_written_through)
{
    struct env e;
    env_open(&e, "sec-spool-swap");
    env_desk(&e);
    const char *const swapped[] = {"outbox", "tmp"};
    for (size_t i = 0; i < 2; i++) {
        char real[4400], link[4400];
        snprintf(link, sizeof link, "%s/%s", e.spool, swapped[i]);
        snprintf(real, sizeof real, "%s/%s.real", e.spool, swapped[i]);
        ck_assert_int_eq(rename(link, real), 0);
        ck_assert_int_eq(symlink(e.outside, link), 0);
        int64_t who = person(&e, "Anna", NULL);
        idm_card_t *card = NULL;
        int rc = idm_external_order_card(e.x, OPERATOR, who, IDM_CARD_EMPLOYEE,
                                         IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, &card);
        char needle[64];
        snprintf(needle, sizeof needle, "/%s", swapped[i]);
        if (rc == IDM_OK) {
            /* the order stands; the card did not reach the bureau, and says why */
            ck_assert_int_eq(fixture_state_of(card), IDM_CARD_FAILED);
            ck_assert_msg(audit_has(e.ctx, NULL, needle), "no audit event names %s", needle);
        } else {
            ck_assert_msg(strstr(idm_last_error_message(), needle) != NULL, "%s",
                          idm_last_error_message());
        }
        idm_card_free(&card);
        ck_assert_int_eq(entries(e.outside), 0);
        ck_assert_int_eq(unlink(link), 0);
        ck_assert_int_eq(rename(real, link), 0);
    }

    /* the inbox swapped for a link to a folder holding a valid report */
    int64_t card = order_card(&e, person(&e, "Bo", NULL));
    ck_assert_int_eq(fixture_card_state(e.ctx, card), IDM_CARD_ORDERED);
    char msg[256], report[512], planted[4400], inbox[4400], real[4400];
    message_of(&e, card, msg, sizeof msg);
    produced_report(report, sizeof report, msg, "CHIP-OUTSIDE");
    snprintf(planted, sizeof planted, "%s/planted.json", e.outside);
    spit(planted, report, strlen(report));
    snprintf(inbox, sizeof inbox, "%s/inbox", e.spool);
    snprintf(real, sizeof real, "%s/inbox.real", e.spool);
    ck_assert_int_eq(rename(inbox, real), 0);
    ck_assert_int_eq(symlink(e.outside, inbox), 0);
    size_t applied = 9, refused = 9;
    ck_assert_idm_error(idm_external_update(e.x, OPERATOR, &applied, &refused), IDM_ERR_IO,
                        "inbox");
    ck_assert_uint_eq(applied, 0);
    ck_assert_int_eq(fixture_card_state(e.ctx, card), IDM_CARD_ORDERED);
    ck_assert_int_eq(entries(e.outside), 1);
    char *still = slurp(planted, NULL);
    ck_assert_str_eq(still, report);
    free(still);
    env_close(&e);
}
END_TEST

START_TEST(test_inbox_entries_that_are_not_plain_files_are_quarantined_never_followed)
{
    struct env e;
    env_open(&e, "sec-inbox-kinds");
    env_desk(&e);
    int64_t card = order_card(&e, person(&e, "Anna", NULL));
    char msg[256], report[512], planted[4400], path[4600];
    message_of(&e, card, msg, sizeof msg);
    produced_report(report, sizeof report, msg, "CHIP-OUTSIDE");
    snprintf(planted, sizeof planted, "%s/report.json", e.outside);
    spit(planted, report, strlen(report));

    snprintf(path, sizeof path, "%s/inbox/a-link.json", e.spool);
    ck_assert_int_eq(symlink(planted, path), 0);
    snprintf(path, sizeof path, "%s/inbox/b-folder-link.json", e.spool);
    ck_assert_int_eq(symlink(e.outside, path), 0);
    snprintf(path, sizeof path, "%s/inbox/c-dangling.json", e.spool);
    ck_assert_int_eq(symlink("../../outside/nothing-here.json", path), 0);
    snprintf(path, sizeof path, "%s/inbox/d-fifo.json", e.spool);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    snprintf(path, sizeof path, "%s/inbox/e-folder.json", e.spool);
    ck_assert_int_eq(mkdir(path, 0700), 0);

    size_t applied = 9, refused = 9;
    ck_ok(idm_external_update(e.x, OPERATOR, &applied, &refused));
    ck_assert_uint_eq(applied, 0);
    ck_assert_int_eq(fixture_card_state(e.ctx, card), IDM_CARD_ORDERED);

    static const struct {
        const char *name, *why;
    } kept[] = {{"a-link.json", "symbolic link"}, {"b-folder-link.json", "symbolic link"},
                {"c-dangling.json", "symbolic link"}, {"d-fifo.json", "FIFO"},
                {"e-folder.json", "directory"}};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/quarantine/%s", e.spool, kept[i].name);
        ck_assert_msg(lstat(path, &st) == 0, "%s is not in quarantine/", kept[i].name);
        snprintf(path, sizeof path, "%s/quarantine/%s.reason", e.spool, kept[i].name);
        char *why = slurp(path, NULL);
        ck_assert_msg(why != NULL && strstr(why, kept[i].why) != NULL, "%s: reason '%s'",
                      kept[i].name, why != NULL ? why : "(none)");
        free(why);
    }
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/inbox", e.spool);
    ck_assert_int_eq(entries(dir), 0);
    snprintf(dir, sizeof dir, "%s/processed", e.spool);
    ck_assert_int_eq(entries(dir), 0);
    /* the outside is as it was: the report there, untouched, and no more */
    ck_assert_int_eq(entries(e.outside), 1);
    char *still = slurp(planted, NULL);
    ck_assert_str_eq(still, report);
    free(still);

    /* and the desk still works: the same report as a plain file applies */
    produced_report(report, sizeof report, msg, "CHIP-INSIDE");
    inbox_file(&e, "z-plain.json", report);
    ck_ok(idm_external_update(e.x, OPERATOR, &applied, &refused));
    ck_assert_uint_eq(applied, 1);
    ck_assert_int_eq(fixture_card_state(e.ctx, card), IDM_CARD_PRODUCED);
    env_close(&e);
}
END_TEST

START_TEST(test_inbox_names_outside_the_rules_are_quarantined_with_the_name_escaped)
{
    struct env e;
    env_open(&e, "sec-inbox-names");
    env_desk(&e);
    int64_t card = order_card(&e, person(&e, "Anna", NULL));
    char msg[256], report[512];
    message_of(&e, card, msg, sizeof msg);
    produced_report(report, sizeof report, msg, "CHIP-1");
    char longest[256];
    memset(longest, 'a', 250);
    memcpy(longest + 250, ".json", 6);
    static const struct {
        const char *name, *shown;
    } bad[] = {
        {".hidden.json", ".hidden.json"},
        {"line\nbreak.json", "line\\x0abreak.json"},
        {"carriage\rreturn.json", "carriage\\x0dreturn.json"},
        {"bad\xff" "byte.json", "bad\\xffbyte.json"},
        {"\xc3\xa9t\xc3\xa9.json", "\\xc3\\xa9t\\xc3\\xa9.json"},
        {"esc\x1b[31m.json", "esc\\x1b[31m.json"},
        {"sp ace.json", "sp ace.json"},
        {"%s%n%x.json", "%s%n%x.json"},
        {"back\\slash.json", "back\\x5cslash.json"},
        {"x.txt", "x.txt"},
        {"..json", "..json"},
    };
    size_t n = sizeof bad / sizeof bad[0];
    for (size_t i = 0; i < n; i++)
        inbox_file(&e, bad[i].name, report);
    inbox_file(&e, longest, report);
    size_t applied = 9, refused = 9;
    ck_ok(idm_external_update(e.x, OPERATOR, &applied, &refused));
    ck_assert_uint_eq(applied, 0);
    ck_assert_int_eq(fixture_card_state(e.ctx, card), IDM_CARD_ORDERED);
    char dir[4400], path[4700];
    snprintf(dir, sizeof dir, "%s/quarantine", e.spool);
    ck_assert_int_eq(entries(dir), 2 * (int)(n + 1));
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s.reason", dir, bad[i].name);
        size_t len = 0;
        char *why = slurp(path, &len);
        ck_assert_msg(why != NULL, "no reason for '%s'", bad[i].shown);
        /* one line of UTF-8 that names the file as printable text */
        ck_assert_msg(utf8_ok(why, len) && len > 0 && why[len - 1] == '\n' &&
                          strchr(why, '\n') == why + len - 1,
                      "reason of '%s' is not one line of UTF-8", bad[i].shown);
        ck_assert_msg(strstr(why, "file name") != NULL && strstr(why, bad[i].shown) != NULL,
                      "reason of '%s': %s", bad[i].shown, why);
        free(why);
    }
    /* the long one is kept under its first 200 bytes */
    char cut[256];
    snprintf(cut, sizeof cut, "%.200s", longest);
    snprintf(path, sizeof path, "%s/%s.reason", dir, cut);
    ck_assert_msg(access(path, F_OK) == 0, "no reason for the 255-byte name");
    ck_assert_int_eq(entries(e.outside), 0);
    snprintf(dir, sizeof dir, "%s/processed", e.spool);
    ck_assert_int_eq(entries(dir), 0);
    env_close(&e);
}
END_TEST

START_TEST(test_status_reports_whose_message_id_is_a_path_are_refused)
{
    struct env e;
    env_open(&e, "sec-status-ids");
    env_desk(&e);
    int64_t card = order_card(&e, person(&e, "Anna", NULL));
    static const char *const ids[] = {
        "../../outside/x", "/etc/passwd", "a/b", "..", ".", "x\\u0000y", "", "x\\ny",
        "idm-%s%n", "' OR '1'='1",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 129 */
    };
    size_t n = sizeof ids / sizeof ids[0];
    for (size_t i = 0; i < n; i++) {
        char name[32], report[512];
        snprintf(name, sizeof name, "r%02zu.json", i);
        produced_report(report, sizeof report, ids[i], "CHIP-1");
        inbox_file(&e, name, report);
    }
    size_t applied = 9, refused = 9;
    ck_ok(idm_external_update(e.x, OPERATOR, &applied, &refused));
    ck_assert_uint_eq(applied, 0);
    ck_assert_int_eq(fixture_card_state(e.ctx, card), IDM_CARD_ORDERED);
    char dir[4400], path[4700];
    snprintf(dir, sizeof dir, "%s/quarantine", e.spool);
    ck_assert_int_eq(entries(dir), 2 * (int)n);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/r%02zu.json.reason", dir, i);
        size_t len = 0;
        char *why = slurp(path, &len);
        ck_assert_msg(why != NULL && utf8_ok(why, len), "r%02zu: no UTF-8 reason", i);
        ck_assert_msg(strstr(why, "message id") != NULL || strstr(why, "message_id") != NULL ||
                          strstr(why, "\\u0000 is not allowed") != NULL,
                      "r%02zu (%s): %s", i, ids[i], why);
        free(why);
    }
    ck_assert_int_eq(entries(e.outside), 0);
    env_close(&e);
}
END_TEST

/* A notifier whose maildir has new/ or cur/ swapped for a link to a folder
 * outside, where a message of the same name already sits: the link is not
 * followed, so the notification is not taken for delivered. */
START_TEST(test_maildir_folders_that_are_links_are_not_followed)
{
    struct env e;
    env_open(&e, "sec-maildir-links");
    char dir[4400], link[4500];
    /* tmp/ a link from the start: refused when the notifier is made */
    snprintf(dir, sizeof dir, "%s/mail-tmp", e.root);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(link, sizeof link, "%s/tmp", dir);
    ck_assert_int_eq(symlink(e.outside, link), 0);
    idm_notifier_t *n = NULL;
    ck_assert_idm_error(idm_notifier_new_maildir(&n, dir, "cards@corp.example"), IDM_ERR_IO,
                        "tmp");
    ck_assert_ptr_null(n);

    env_desk(&e);
    ck_ok(idm_options_set_bool(e.ctx, ADMIN, "send_card_ordered_email", 1));
    int64_t first = order_card(&e, person(&e, "Anna", "anna@corp.example"));
    char msg[256], store_id[256];
    message_of(&e, first, msg, sizeof msg); /* idm-<store>-o1-c1-a1 */
    snprintf(store_id, sizeof store_id, "%s", msg + 4);
    *strstr(store_id, "-o") = '\0';
    char mail_new[4400], mail_cur[4400];
    snprintf(mail_new, sizeof mail_new, "%s/new", e.mail);
    snprintf(mail_cur, sizeof mail_cur, "%s/cur", e.mail);
    ck_assert_int_eq(entries(mail_new), 1);

    static const char *const swapped[] = {"new", "cur"};
    for (int i = 0; i < 2; i++) {
        /* the next notification is n<i+2>; a message of its name waits outside */
        char planted[4600], real[4400];
        snprintf(planted, sizeof planted, "%s/idm-%s-n%d.eml%s", e.outside, store_id, i + 2,
                 i == 1 ? ":2,S" : "");
        spit(planted, "planted\n", 8);
        snprintf(link, sizeof link, "%s/%s", e.mail, swapped[i]);
        snprintf(real, sizeof real, "%s/%s.real", e.mail, swapped[i]);
        ck_assert_int_eq(rename(link, real), 0);
        ck_assert_int_eq(symlink(e.outside, link), 0);
        int64_t card = order_card(&e, person(&e, "Bo", "bo@corp.example"));
        ck_assert_int_eq(fixture_card_state(e.ctx, card), IDM_CARD_ORDERED);
        ck_assert_int_eq(unlink(link), 0);
        ck_assert_int_eq(rename(real, link), 0);
        char sent[128];
        snprintf(sent, sizeof sent, "notification n%d (card_ordered) sent", i + 2);
        ck_assert_msg(!audit_has(e.ctx, NULL, sent),
                      "through a link, a message outside counted as delivered (%s)", sent);
        ck_assert_int_eq(entries(e.outside), i + 1); /* nothing written there */
    }
    /* the two are still due, and go out once the folders are real again */
    size_t sent = 0, pending = 9;
    ck_ok(idm_external_flush_notifications(e.x, OPERATOR, &sent, &pending));
    ck_assert_uint_eq(sent, 2);
    ck_assert_uint_eq(pending, 0);
    ck_assert_int_eq(entries(mail_new), 3);
    env_close(&e);
}
END_TEST

/* A holder's mail address and name are data: a line break in them never
 * becomes a header of the message. */
START_TEST(test_line_breaks_in_a_holders_address_or_name_make_no_header)
{
    struct env e;
    env_open(&e, "sec-mail-headers");
    env_desk(&e);
    ck_ok(idm_options_set_bool(e.ctx, ADMIN, "send_card_ordered_email", 1));
    static const char *const bad[] = {
        "anna@corp.example\r\nBcc: eve@evil.example",
        "anna@corp.example\nBcc: eve@evil.example",
        "anna@corp.example>, eve@evil.example",
        "anna@corp.example, eve@evil.example",
        "Anna <anna@corp.example>",
    };
    char new_dir[4400];
    snprintf(new_dir, sizeof new_dir, "%s/new", e.mail);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t card = order_card(&e, person(&e, "Anna", bad[i]));
        ck_assert_int_eq(fixture_card_state(e.ctx, card), IDM_CARD_ORDERED);
        ck_assert_int_eq(entries(new_dir) < 0 ? 0 : entries(new_dir), 0);
    }
    ck_assert_msg(audit_has(e.ctx, NULL, "failed"), "no audit event says a delivery failed");
    /* a name with a header in it goes to the body, below the headers */
    order_card(&e, person(&e, "Anna\r\nBcc: eve@evil.example\r\n", "anna@corp.example"));
    ck_assert_int_eq(entries(new_dir), 1);
    char name[512], path[5000];
    ck_assert(find_entry(new_dir, ".eml", name, sizeof name));
    snprintf(path, sizeof path, "%s/%s", new_dir, name);
    char *m = slurp(path, NULL);
    char *body = strstr(m, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    *body = '\0';
    ck_assert_msg(strstr(m, "Bcc") == NULL && strstr(m, "eve@") == NULL, "headers: %s", m);
    ck_assert_msg(strstr(m, "To: anna@corp.example\r\n") != NULL, "headers: %s", m);
    free(m);
    ck_assert_int_eq(entries(e.outside), 0);
    env_close(&e);
}
END_TEST

/* ==== 2. SQL and format directives ========================================== */

static const char *const HOSTILE[] = {
    "O'Brien",
    "'; DROP TABLE identities; --",
    "\"; DELETE FROM audit; --",
    "Robert'); DROP TABLE cards;--",
    "' OR '1'='1",
    "x' || (SELECT value FROM store_info) || '",
    "1; ATTACH DATABASE '/tmp/pwned.db' AS p; --",
    "%s%s%s%n%n%x%p%99999999d",
    "\\' \\\" \\\\ \\0 \\x00",
    "\t' UNION SELECT * FROM options --",
    "NULL",
    "\xc5\x81\xc3\xb3" "d\xc5\xba \xe2\x80\x94 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80",
};
#define N_HOSTILE (sizeof HOSTILE / sizeof HOSTILE[0])

static const char *const TABLES =
    "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema ORDER BY name)";

static char *schema_of(const char *db)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, TABLES, -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    char *s = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(h);
    return s;
}

START_TEST(test_hostile_text_is_stored_and_read_back_byte_for_byte)
{
    struct env e;
    env_open(&e, "sec-sql");
    env_desk(&e);
    char *schema = schema_of(e.db);
    int64_t ids[N_HOSTILE], cards[N_HOSTILE];
    char actors[N_HOSTILE][160];
    ck_ok(idm_options_set_string(e.ctx, ADMIN, "common_name_template",
                                 "${givenName} '; DROP TABLE options; -- %s%n"));
    for (size_t i = 0; i < N_HOSTILE; i++) {
        const char *h = HOSTILE[i];
        snprintf(actors[i], sizeof actors[i], "admin:%s", h);
        const char *actor = actors[i];
        idm_identity_t *p = NULL;
        ck_ok(idm_identity_new(e.ctx, actor, h, &p));
        ck_ok(idm_identity_set_attribute(p, actor, "givenName", h));
        ck_ok(idm_identity_set_attribute(p, actor, "note", h));
        ck_ok(idm_identity_set_upn(p, actor, h));
        ck_ok(idm_identity_get_id(p, &ids[i]));
        idm_identity_free(&p);
        idm_card_t *card = NULL;
        ck_ok(idm_card_new(e.ctx, actor, IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL,
                           IDM_PRODUCTION_LOCAL, 0, h, &card));
        ck_ok(idm_card_set_state(card, actor, IDM_CARD_REQUESTED, h));
        ck_ok(idm_card_get_id(card, &cards[i]));
        idm_card_free(&card);
        idm_order_t *order = NULL;
        ck_ok(idm_order_new(e.ctx, actor, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_NON_PERSONAL,
                            IDM_CARD_PHYSICAL, h, &order));
        ck_ok(idm_order_set_state(order, actor, IDM_ORDER_ABORTED, h));
        idm_order_free(&order);
    }
    /* a bureau's shipment and failure reason with the same text */
    for (size_t i = 0; i < N_HOSTILE; i++) {
        if (strchr(HOSTILE[i], '\t') != NULL || strchr(HOSTILE[i], '\\') != NULL)
            continue; /* kept for the JSON below: one string without escapes */
        int64_t card = order_card(&e, person(&e, "Anna", NULL));
        char msg[256], json[1024], name[32];
        message_of(&e, card, msg, sizeof msg);
        const char *q = strchr(HOSTILE[i], '"') != NULL ? "it said \\\"no\\\"" : HOSTILE[i];
        snprintf(json, sizeof json, "{\"message_id\":\"%s\",\"status\":\"produced\","
                 "\"chip_serial\":\"CHIP-%zu\",\"shipment\":\"%s\"}", msg, i, q);
        snprintf(name, sizeof name, "s%02zu.json", i);
        inbox_file(&e, name, json);
    }
    size_t applied = 0, refused = 0;
    ck_ok(idm_external_update(e.x, OPERATOR, &applied, &refused));
    ck_assert_uint_eq(refused, 0);
    ck_assert_uint_ge(applied, N_HOSTILE - 3);

    /* a new context reads it all back, byte for byte */
    idm_ctx_t *again = fixture_ctx(e.db);
    for (size_t i = 0; i < N_HOSTILE; i++) {
        const char *h = HOSTILE[i];
        idm_identity_t *p = NULL;
        const char *v = NULL;
        ck_ok(idm_identity_open_external(again, h, &p));
        int64_t id = 0;
        ck_ok(idm_identity_get_id(p, &id));
        ck_assert_int_eq(id, ids[i]);
        ck_ok(idm_identity_get_external_id(p, &v));
        ck_assert_str_eq(v, h);
        ck_ok(idm_identity_get_attribute(p, "note", &v));
        ck_assert_str_eq(v, h);
        ck_ok(idm_identity_get_upn(p, &v));
        ck_assert_str_eq(v, h);
        char cn[512];
        snprintf(cn, sizeof cn, "%s '; DROP TABLE options; -- %%s%%n", h);
        ck_ok(idm_identity_get_common_name(p, &v));
        ck_assert_str_eq(v, cn);
        idm_identity_free(&p);
        idm_card_t *card = NULL;
        ck_ok(idm_card_open(again, cards[i], &card));
        ck_ok(idm_card_get_name(card, &v));
        ck_assert_str_eq(v, h);
        idm_card_free(&card);
        idm_order_t *order = NULL;
        ck_ok(idm_order_open_external(again, h, &order));
        ck_ok(idm_order_get_external_id(order, &v));
        ck_assert_str_eq(v, h);
        idm_order_free(&order);
        ck_assert_msg(audit_has(again, actors[i], h), "no event by actor '%s' with '%s'",
                      actors[i], h);
    }
    const char *tmpl = NULL;
    ck_ok(idm_options_get_string(again, "common_name_template", &tmpl));
    ck_assert_str_eq(tmpl, "${givenName} '; DROP TABLE options; -- %s%n");
    /* the shipments, as the bureau sent them */
    int shipments = 0;
    idm_card_iter_t *it = NULL;
    idm_card_t *c = NULL;
    ck_ok(idm_card_iter_new(again, &it));
    ck_ok(idm_card_iter_set_state(it, IDM_CARD_PRODUCED));
    while (idm_card_iter_next(it, &c) == IDM_OK && c != NULL) {
        const char *ship = NULL;
        ck_ok(idm_card_get_shipment(c, &ship));
        int known = 0;
        for (size_t i = 0; ship != NULL && i < N_HOSTILE; i++)
            known |= strcmp(ship, HOSTILE[i]) == 0 || strcmp(ship, "it said \"no\"") == 0;
        ck_assert_msg(known, "shipment '%s' is not what the bureau sent", ship ? ship : "NULL");
        shipments++;
        idm_card_free(&c);
    }
    idm_card_iter_free(&it);
    ck_assert_int_eq(shipments, (int)applied);
    audit_all_utf8(again);
    idm_ctx_free(&again);

    /* the schema is the one the library made, every table there */
    char *after = schema_of(e.db);
    ck_assert_str_eq(after, schema);
    ck_assert_int_eq(store_count(e.db, "SELECT count(*) FROM identities"),
                     (long long)N_HOSTILE + e.people);
    free(schema);
    free(after);
    ck_assert_int_eq(access("/tmp/pwned.db", F_OK), -1);

    /* printf directives reached the log as text */
    ck_assert_msg(strstr(e.log.text, "admin:%s%s%s%n%n%x%p%99999999d created card") != NULL,
                  "log:\n%s", e.log.text);
    ck_assert_msg(strstr(e.log.text, "-- %s%n'") != NULL, "log:\n%s", e.log.text);
    env_close(&e);
}
END_TEST

START_TEST(test_lookups_by_hostile_keys_find_only_their_own_row)
{
    struct env e;
    env_open(&e, "sec-lookup");
    idm_identity_t *p = fixture_person(e.ctx, "E1", "Anna", "Berg");
    idm_identity_free(&p);
    idm_card_t *card = NULL;
    ck_ok(idm_card_new(e.ctx, ADMIN, IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL,
                       IDM_PRODUCTION_LOCAL, 0, "Room 1", &card));
    idm_card_free(&card);
    idm_order_t *order = NULL;
    ck_ok(idm_order_new(e.ctx, ADMIN, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_PHYSICAL, "batch-1", &order));
    idm_order_free(&order);
    static const char *const keys[] = {"x' OR '1'='1", "' OR 1=1 --", "%", "_", "*",
                                       "E1' --", "batch-1' OR 'a'='a", "00000001' --",
                                       "E%", "batch_1"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int rc = idm_identity_open_external(e.ctx, keys[i], &p);
        ck_assert_msg(rc == IDM_ERR_NOT_FOUND && p == NULL, "identity '%s': %s", keys[i],
                      idm_strerror_name(rc));
        rc = idm_card_open_number(e.ctx, keys[i], &card);
        ck_assert_msg(rc == IDM_ERR_NOT_FOUND && card == NULL, "card '%s': %s", keys[i],
                      idm_strerror_name(rc));
        rc = idm_order_open_external(e.ctx, keys[i], &order);
        ck_assert_msg(rc == IDM_ERR_NOT_FOUND && order == NULL, "order '%s': %s", keys[i],
                      idm_strerror_name(rc));
        idm_cert_t *cert = NULL;
        rc = idm_cert_open_serial(e.ctx, keys[i], &cert);
        ck_assert_msg((rc == IDM_ERR_NOT_FOUND || rc == IDM_ERR_INVALID_ARG) && cert == NULL,
                      "certificate '%s': %s", keys[i], idm_strerror_name(rc));
    }
    env_close(&e);
}
END_TEST

/* ==== 3. overlong text and bytes that are not UTF-8 ========================= */

/* One public setter that takes text: it makes what it needs, calls the
 * setter with value and, when that succeeds, reads the stored text back
 * through the public API into *back (exact) or the newest audit detail
 * of the object (*back then contains the value). */
struct setter {
    const char *name;
    const char *arg; /* what the refusal must name */
    size_t max;
    int multi_line; /* line breaks allowed */
    int ascii;      /* printable ASCII only */
    int contains;   /* *back contains the value rather than being it */
    int (*put)(struct env *e, const char *value, char **back);
    int no_tab;     /* a tab is a control character too */
};

static long long events(const struct env *e)
{
    return store_count(e->db, "SELECT count(*) FROM audit");
}

/* Runs the setter call, and checks that a refusal stored nothing. */
#define CALL(e, call)                                                                     \
    do {                                                                                  \
        long long before_ = events(e);                                                    \
        rc = (call);                                                                      \
        if (rc != IDM_OK)                                                                 \
            ck_assert_msg(events(e) == before_, "%s refused but changed the audit", #call); \
    } while (0)

static char *copy_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static char *newest_detail(idm_ctx_t *ctx, idm_object_type type, int64_t id)
{
    idm_audit_iter_t *it = NULL;
    idm_audit_event_t *ev = NULL;
    char *last = NULL;
    ck_ok(idm_audit_iter_new(ctx, &it));
    ck_ok(idm_audit_iter_set_object(it, type, id));
    while (idm_audit_iter_next(it, &ev) == IDM_OK && ev != NULL) {
        const char *d = NULL;
        ck_ok(idm_audit_event_get_detail(ev, &d));
        free(last);
        last = copy_or_null(d);
        idm_audit_event_free(&ev);
    }
    idm_audit_iter_free(&it);
    return last;
}

static int put_actor(struct env *e, const char *v, char **back)
{
    idm_identity_t *p = NULL;
    int rc;
    CALL(e, idm_identity_new(e->ctx, v, NULL, &p));
    if (rc == IDM_OK) {
        int64_t id = 0;
        ck_ok(idm_identity_get_id(p, &id));
        idm_audit_iter_t *it = NULL;
        idm_audit_event_t *ev = NULL;
        const char *a = NULL;
        ck_ok(idm_audit_iter_new(e->ctx, &it));
        ck_ok(idm_audit_iter_set_object(it, IDM_OBJECT_IDENTITY, id));
        ck_ok(idm_audit_iter_next(it, &ev));
        ck_ok(idm_audit_event_get_actor(ev, &a));
        *back = strdup(a);
        idm_audit_event_free(&ev);
        idm_audit_iter_free(&it);
    }
    idm_identity_free(&p);
    return rc;
}

static int put_external_id(struct env *e, const char *v, char **back)
{
    idm_identity_t *p = NULL, *q = NULL;
    int rc;
    CALL(e, idm_identity_new(e->ctx, ADMIN, v, &p));
    if (rc == IDM_OK) {
        int64_t id = 0;
        const char *s = NULL;
        ck_ok(idm_identity_get_id(p, &id));
        ck_ok(idm_identity_open(e->ctx, id, &q));
        ck_ok(idm_identity_get_external_id(q, &s));
        *back = copy_or_null(s);
    }
    idm_identity_free(&p);
    idm_identity_free(&q);
    return rc;
}

enum identity_field { ATTRIBUTE, COMMON_NAME, UPN };

static int put_identity_text(struct env *e, enum identity_field f, const char *v, char **back)
{
    idm_identity_t *p = NULL, *q = NULL;
    int rc;
    ck_ok(idm_identity_new(e->ctx, ADMIN, NULL, &p));
    if (f == ATTRIBUTE)
        CALL(e, idm_identity_set_attribute(p, ADMIN, "note", v));
    else if (f == COMMON_NAME)
        CALL(e, idm_identity_set_common_name(p, ADMIN, v));
    else
        CALL(e, idm_identity_set_upn(p, ADMIN, v));
    if (rc == IDM_OK) {
        int64_t id = 0;
        const char *s = NULL;
        ck_ok(idm_identity_get_id(p, &id));
        ck_ok(idm_identity_open(e->ctx, id, &q));
        if (f == ATTRIBUTE)
            ck_ok(idm_identity_get_attribute(q, "note", &s));
        else if (f == COMMON_NAME)
            ck_ok(idm_identity_get_common_name(q, &s));
        else
            ck_ok(idm_identity_get_upn(q, &s));
        *back = copy_or_null(s);
    }
    idm_identity_free(&p);
    idm_identity_free(&q);
    return rc;
}

static int put_attribute(struct env *e, const char *v, char **back)
{
    return put_identity_text(e, ATTRIBUTE, v, back);
}

static int put_common_name(struct env *e, const char *v, char **back)
{
    return put_identity_text(e, COMMON_NAME, v, back);
}

static int put_upn(struct env *e, const char *v, char **back)
{
    return put_identity_text(e, UPN, v, back);
}

static int put_card_name(struct env *e, const char *v, char **back)
{
    idm_card_t *card = NULL, *again = NULL;
    int rc;
    CALL(e, idm_card_new(e->ctx, ADMIN, IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL,
                         IDM_PRODUCTION_LOCAL, 0, v, &card));
    if (rc == IDM_OK) {
        int64_t id = 0;
        const char *s = NULL;
        ck_ok(idm_card_get_id(card, &id));
        ck_ok(idm_card_open(e->ctx, id, &again));
        ck_ok(idm_card_get_name(again, &s));
        *back = copy_or_null(s);
    }
    idm_card_free(&card);
    idm_card_free(&again);
    return rc;
}

static idm_card_t *room_card(struct env *e)
{
    idm_card_t *card = NULL;
    ck_ok(idm_card_new(e->ctx, ADMIN, IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL,
                       IDM_PRODUCTION_LOCAL, 0, "Room 1", &card));
    return card;
}

static int put_card_detail(struct env *e, const char *v, char **back)
{
    idm_card_t *card = room_card(e);
    int rc;
    CALL(e, idm_card_set_state(card, ADMIN, IDM_CARD_REQUESTED, v));
    if (rc == IDM_OK) {
        int64_t id = 0;
        ck_ok(idm_card_get_id(card, &id));
        *back = newest_detail(e->ctx, IDM_OBJECT_CARD, id);
    }
    idm_card_free(&card);
    return rc;
}

static int put_chip_serial(struct env *e, const char *v, char **back)
{
    idm_card_t *card = room_card(e), *again = NULL;
    int rc;
    CALL(e, idm_card_set_chip_serial(card, ADMIN, v));
    if (rc == IDM_OK) {
        int64_t id = 0;
        const char *s = NULL;
        ck_ok(idm_card_get_id(card, &id));
        ck_ok(idm_card_open(e->ctx, id, &again));
        ck_ok(idm_card_get_chip_serial(again, &s));
        *back = copy_or_null(s);
    }
    idm_card_free(&card);
    idm_card_free(&again);
    return rc;
}

static int put_option(struct env *e, const char *v, char **back)
{
    int rc;
    CALL(e, idm_options_set_string(e->ctx, ADMIN, "upn_template", v));
    if (rc == IDM_OK) {
        idm_ctx_t *again = fixture_ctx(e->db);
        const char *s = NULL;
        ck_ok(idm_options_get_string(again, "upn_template", &s));
        *back = copy_or_null(s);
        idm_ctx_free(&again);
    }
    return rc;
}

static int put_order_external_id(struct env *e, const char *v, char **back)
{
    idm_order_t *order = NULL, *again = NULL;
    int rc;
    CALL(e, idm_order_new(e->ctx, ADMIN, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                          IDM_CARD_PHYSICAL, v, &order));
    if (rc == IDM_OK) {
        const char *s = NULL;
        ck_ok(idm_order_open_external(e->ctx, v, &again));
        ck_ok(idm_order_get_external_id(again, &s));
        *back = copy_or_null(s);
    }
    idm_order_free(&order);
    idm_order_free(&again);
    return rc;
}

static int put_order_detail(struct env *e, const char *v, char **back)
{
    idm_order_t *order = NULL;
    int rc;
    ck_ok(idm_order_new(e->ctx, ADMIN, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_PHYSICAL, NULL, &order));
    CALL(e, idm_order_set_state(order, ADMIN, IDM_ORDER_ABORTED, v));
    if (rc == IDM_OK) {
        int64_t id = 0;
        ck_ok(idm_order_get_id(order, &id));
        *back = newest_detail(e->ctx, IDM_OBJECT_ORDER, id);
    }
    idm_order_free(&order);
    return rc;
}

/* A card the desk holds in requested (approval step) or processing (queue). */
static idm_card_t *desk_card(struct env *e, int approval)
{
    ck_ok(idm_options_set_bool(e->ctx, ADMIN, "external_approval_step", approval));
    ck_ok(idm_options_set_bool(e->ctx, ADMIN, "queue_orders", !approval));
    idm_card_t *card = NULL;
    ck_ok(idm_external_order_card(e->x, OPERATOR, person(e, "Anna", NULL), IDM_CARD_EMPLOYEE,
                                  IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, &card));
    return card;
}

static int put_desk_reason(struct env *e, int reject, const char *v, char **back)
{
    idm_card_t *card = desk_card(e, reject);
    int rc;
    if (reject)
        CALL(e, idm_external_reject(e->x, APPROVER, card, v));
    else
        CALL(e, idm_external_abort(e->x, OPERATOR, card, v));
    if (rc == IDM_OK) {
        int64_t id = 0;
        ck_ok(idm_card_get_id(card, &id));
        *back = newest_detail(e->ctx, IDM_OBJECT_CARD, id);
    }
    idm_card_free(&card);
    return rc;
}

static int put_reject_reason(struct env *e, const char *v, char **back)
{
    return put_desk_reason(e, 1, v, back);
}

static int put_abort_reason(struct env *e, const char *v, char **back)
{
    return put_desk_reason(e, 0, v, back);
}

static int put_temporary_name(struct env *e, const char *v, char **back)
{
    ck_ok(idm_options_set_bool(e->ctx, ADMIN, "external_approval_step", 0));
    ck_ok(idm_options_set_bool(e->ctx, ADMIN, "queue_orders", 1));
    idm_order_t *order = NULL;
    int rc;
    CALL(e, idm_external_order_temporary(e->x, ADMIN, IDM_CARD_PHYSICAL, 1, v, &order));
    if (rc == IDM_OK) {
        int64_t id = 0;
        idm_card_iter_t *it = NULL;
        idm_card_t *card = NULL;
        const char *s = NULL;
        ck_ok(idm_order_get_id(order, &id));
        ck_ok(idm_card_iter_new(e->ctx, &it));
        ck_ok(idm_card_iter_set_order(it, id));
        ck_ok(idm_card_iter_next(it, &card));
        ck_ok(idm_card_get_name(card, &s));
        *back = copy_or_null(s);
        idm_card_free(&card);
        idm_card_iter_free(&it);
    }
    idm_order_free(&order);
    return rc;
}

static const struct setter SETTERS[] = {
    {"idm_identity_new actor", "'actor'", 128, 0, 0, 0, put_actor},
    {"idm_identity_new external_id", "'external_id'", 4096, 0, 0, 0, put_external_id},
    {"idm_identity_set_attribute", "'value'", 4096, 1, 0, 0, put_attribute},
    {"idm_identity_set_common_name", "'value'", 4096, 0, 0, 0, put_common_name},
    {"idm_identity_set_upn", "'value'", 4096, 0, 0, 0, put_upn},
    {"idm_card_new name", "'name'", 4096, 0, 0, 0, put_card_name},
    {"idm_card_set_state detail", "'detail'", 4096, 0, 0, 1, put_card_detail},
    {"idm_card_set_chip_serial", "'serial'", 64, 0, 1, 0, put_chip_serial},
    {"idm_options_set_string", "upn_template", 256, 0, 0, 0, put_option, 1},
    {"idm_order_new external_id", "'external_id'", 4096, 0, 0, 0, put_order_external_id},
    {"idm_order_set_state detail", "'detail'", 4096, 0, 0, 1, put_order_detail},
    {"idm_external_reject reason", "'reason'", 1024, 0, 0, 1, put_reject_reason},
    {"idm_external_abort reason", "'reason'", 1024, 0, 0, 1, put_abort_reason},
    {"idm_external_order_temporary name", "'name'", 200, 0, 0, 1, put_temporary_name},
};
#define N_SETTERS (sizeof SETTERS / sizeof SETTERS[0])

/* n bytes of 'a' then tail: a value of exactly n + strlen(tail) bytes. */
static char *padded(size_t n, const char *tail)
{
    size_t t = strlen(tail);
    char *s = malloc(n + t + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, 'a', n);
    memcpy(s + n, tail, t + 1);
    return s;
}

/* text of exactly len bytes made of whole UTF-8 characters of 1..4 bytes */
static char *mixed_utf8(size_t len)
{
    static const char *const chars[] = {"\xf0\x9f\x98\x80", "\xe2\x82\xac", "\xc3\xa9", "'",
                                        "%", "\"", ";"};
    char *s = malloc(len + 1);
    ck_assert_ptr_nonnull(s);
    size_t at = 0, k = 0;
    while (at < len) {
        const char *c = chars[k++ % 7];
        size_t n = strlen(c);
        if (at + n > len)
            c = "b", n = 1;
        memcpy(s + at, c, n);
        at += n;
    }
    s[len] = '\0';
    return s;
}

START_TEST(test_text_setters_refuse_bad_utf8_and_overlong_text_naming_the_argument)
{
    struct env e;
    env_open(&e, "sec-refuse");
    env_desk(&e);
    struct faults f = {0};
    static const char *const not_utf8[] = {
        "\xff", "abc\xc3", "\xe2\x82", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
        "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "ok\x80ok", "\xc3\x28"};
    static const char *const controls[] = {"a\nb", "a\rb", "a\x1b[31mb", "a\x7f", "a\x01"};
    for (size_t s = 0; s < N_SETTERS; s++) {
        const struct setter *t = &SETTERS[s];
        char *values[32];
        size_t nv = 0;
        for (size_t i = 0; i < sizeof not_utf8 / sizeof not_utf8[0]; i++)
            values[nv++] = strdup(not_utf8[i]);
        if (!t->multi_line) {
            for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++)
                values[nv++] = strdup(controls[i]);
        }
        values[nv++] = padded(t->max + 1, "");               /* one byte too many */
        values[nv++] = padded(t->max - 1, "\xc3\xa9");       /* ends in a 2-byte character */
        values[nv++] = padded(t->max - 2, "\xf0\x9f\x98\x80"); /* a 4-byte one over the end */
        values[nv++] = padded(1 << 20, "");                  /* a megabyte */
        if (t->ascii)
            values[nv++] = strdup("caf\xc3\xa9");
        for (size_t i = 0; i < nv; i++) {
            char *back = NULL;
            int rc = t->put(&e, values[i], &back);
            const char *why = idm_last_error_message();
            if (rc != IDM_ERR_INVALID_ARG)
                fault(&f, "[%s, value %zu (%zu bytes)]: %s, not IDM_ERR_INVALID_ARG;", t->name,
                      i, strlen(values[i]), idm_strerror_name(rc));
            else if (strstr(why, t->arg) == NULL)
                fault(&f, "[%s, value %zu]: the message does not name %s: %s;", t->name, i,
                      t->arg, why);
            else if (!utf8_str_ok(why))
                fault(&f, "[%s, value %zu]: the message is not UTF-8;", t->name, i);
            free(back);
            free(values[i]);
        }
    }
    ck_assert_no_faults(&f);
    env_close(&e);
}
END_TEST

START_TEST(test_text_setters_keep_text_at_the_limit_byte_for_byte)
{
    struct env e;
    env_open(&e, "sec-keep");
    env_desk(&e);
    struct faults f = {0};
    for (size_t s = 0; s < N_SETTERS; s++) {
        const struct setter *t = &SETTERS[s];
        char *values[8];
        size_t nv = 0;
        if (t->ascii) {
            values[nv++] = strdup("'%s%n\";--DROP_TABLE_cards;`$(id)`|&<>*?[]{}~^!#=+,./:@\\X");
            values[nv++] = padded(t->max, "");
        } else {
            values[nv++] = mixed_utf8(t->max);
            values[nv++] = padded(t->max - 3, "\xe2\x82\xac");
            values[nv++] = padded(t->max - 4, "\xf0\x9f\x98\x80");
            if (!t->no_tab)
                values[nv++] = strdup("tab\there; quote ' and \" and %s%n");
            if (t->multi_line)
                values[nv++] = strdup("line 1\nline 2\r\nline 3\n");
        }
        for (size_t i = 0; i < nv; i++) {
            char *back = NULL;
            int rc = t->put(&e, values[i], &back);
            int kept = back != NULL && (t->contains ? strstr(back, values[i]) != NULL
                                                    : strcmp(back, values[i]) == 0);
            if (rc != IDM_OK)
                fault(&f, "[%s, value %zu (%zu bytes)]: %s: %s;", t->name, i, strlen(values[i]),
                      idm_strerror_name(rc), idm_last_error_message());
            else if (!kept)
                fault(&f, "[%s, value %zu (%zu bytes)]: read back %zu bytes, not the value;",
                      t->name, i, strlen(values[i]), back != NULL ? strlen(back) : 0);
            free(back);
            free(values[i]);
        }
    }
    ck_assert_no_faults(&f);
    audit_all_utf8(e.ctx);
    env_close(&e);
}
END_TEST

START_TEST(test_bureau_text_over_its_limit_is_quarantined_and_at_it_is_kept)
{
    struct env e;
    env_open(&e, "sec-bureau-text");
    env_desk(&e);
    char *at_limit = mixed_utf8(256);
    for (char *c = at_limit; *c != '\0'; c++)
        *c = *c == '"' ? '\'' : *c; /* one JSON string without escapes */
    char *over = padded(257, "");
    char *over_mb = padded(254, "\xc3\xa9"); /* 256 bytes, then one more character */
    over_mb = realloc(over_mb, 260);
    strcat(over_mb, "\xc3\xa9");
    static const char *const bad_json[] = {"bad\xff", "two\\nlines", "nul\\u0000", "ctl\\u001b"};
    struct {
        const char *name, *field, *value, *status;
        int ok;
    } cases[] = {
        {"a-ship-over.json", "shipment", over, "produced", 0},
        {"b-ship-over-mb.json", "shipment", over_mb, "produced", 0},
        {"c-reason-over.json", "reason", over, "failed", 0},
        {"d-ship-bad0.json", "shipment", bad_json[0], "produced", 0},
        {"e-ship-bad1.json", "shipment", bad_json[1], "produced", 0},
        {"f-ship-bad2.json", "shipment", bad_json[2], "produced", 0},
        {"g-reason-bad3.json", "reason", bad_json[3], "failed", 0},
        {"h-chip-over.json", "chip_serial",
         "C1234567890123456789012345678901234567890123456789012345678901234", "produced", 0},
        {"i-ship-at-limit.json", "shipment", at_limit, "produced", 1},
        {"j-reason-at-limit.json", "reason", at_limit, "failed", 1},
    };
    size_t n = sizeof cases / sizeof cases[0];
    int64_t cards[16];
    for (size_t i = 0; i < n; i++) {
        cards[i] = order_card(&e, person(&e, "Anna", NULL));
        char msg[256], json[2048];
        message_of(&e, cards[i], msg, sizeof msg);
        int chip = strcmp(cases[i].field, "chip_serial") == 0;
        if (strcmp(cases[i].status, "produced") == 0 && !chip)
            snprintf(json, sizeof json, "{\"message_id\":\"%s\",\"status\":\"produced\","
                     "\"chip_serial\":\"CHIP-%zu\",\"%s\":\"%s\"}", msg, i, cases[i].field,
                     cases[i].value);
        else
            snprintf(json, sizeof json, "{\"message_id\":\"%s\",\"status\":\"%s\",\"%s\":\"%s\"}",
                     msg, cases[i].status, cases[i].field, cases[i].value);
        inbox_file(&e, cases[i].name, json);
    }
    size_t applied = 0, refused = 0;
    ck_ok(idm_external_update(e.x, OPERATOR, &applied, &refused));
    ck_assert_uint_eq(applied, 2);
    char path[4700];
    for (size_t i = 0; i < n; i++) {
        idm_card_state want = !cases[i].ok                             ? IDM_CARD_ORDERED
                              : strcmp(cases[i].status, "produced") == 0 ? IDM_CARD_PRODUCED
                                                                        : IDM_CARD_FAILED;
        ck_assert_msg(fixture_card_state(e.ctx, cards[i]) == want, "%s: card %s",
                      cases[i].name, idm_card_state_name(fixture_card_state(e.ctx, cards[i])));
        snprintf(path, sizeof path, "%s/quarantine/%s.reason", e.spool, cases[i].name);
        size_t len = 0;
        char *why = slurp(path, &len);
        if (cases[i].ok) {
            ck_assert_msg(why == NULL, "%s quarantined: %s", cases[i].name, why);
            continue;
        }
        ck_assert_msg(why != NULL && utf8_ok(why, len), "%s: no UTF-8 reason", cases[i].name);
        ck_assert_msg(strstr(why, cases[i].field) != NULL || strstr(why, "chip serial") != NULL ||
                          strstr(why, "UTF-8") != NULL ||
                          strstr(why, "control") != NULL || strstr(why, "\\u0000") != NULL,
                      "%s: reason does not say what is wrong: %s", cases[i].name, why);
        free(why);
    }
    idm_card_t *c = NULL;
    const char *ship = NULL;
    ck_ok(idm_card_open(e.ctx, cards[8], &c));
    ck_ok(idm_card_get_shipment(c, &ship));
    ck_assert_str_eq(ship, at_limit);
    idm_card_free(&c);
    ck_assert_msg(audit_has(e.ctx, NULL, at_limit), "the failure reason is not in the audit");
    audit_all_utf8(e.ctx);
    free(at_limit);
    free(over);
    free(over_mb);
    env_close(&e);
}
END_TEST

/* A host producer that refuses every order with long words in the host's
 * language, or with bytes that are not UTF-8 at all. */
static const char *refusal_words;

static int refusing_submit(const char *message_id, const char *json, size_t len, void *ud)
{
    (void)message_id, (void)json, (void)len, (void)ud;
    idm_producer_backend_error(refusal_words);
    return IDM_ERR_BACKEND;
}

static int quiet_status(const char *const *ids, size_t count, idm_bureau_report_fn report,
                        void *report_data, void *ud)
{
    (void)ids, (void)count, (void)report, (void)report_data, (void)ud;
    return 0;
}

START_TEST(test_error_messages_are_never_cut_mid_character)
{
    struct env e;
    env_open(&e, "sec-cut");
    /* duplicate external ids of 4 kB of 3-byte characters, after 0, 1 and 2
     * ASCII bytes, so that the message's cut meets every place in a character */
    char *euro = malloc(4096);
    for (int shift = 0; shift < 3; shift++) {
        memset(euro, 'x', (size_t)shift);
        for (int i = 0; i < 1364; i++)
            memcpy(euro + shift + 3 * i, "\xe2\x82\xac", 3);
        euro[shift + 3 * 1364] = '\0';
        idm_identity_t *p = NULL;
        ck_ok(idm_identity_new(e.ctx, ADMIN, euro, &p));
        idm_identity_free(&p);
        ck_assert_idm_error(idm_identity_new(e.ctx, ADMIN, euro, &p), IDM_ERR_EXISTS,
                            "external id");
        ck_assert_msg(utf8_str_ok(idm_last_error_message()), "shift %d: cut mid-character",
                      shift);
        idm_order_t *o = NULL;
        ck_ok(idm_order_new(e.ctx, ADMIN, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                            IDM_CARD_PHYSICAL, euro, &o));
        idm_order_free(&o);
        ck_assert_idm_error(idm_order_new(e.ctx, ADMIN, IDM_ORDER_MASS_PRODUCTION,
                                          IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, euro, &o),
                            IDM_ERR_EXISTS, "external id");
        ck_assert_msg(utf8_str_ok(idm_last_error_message()), "shift %d: cut mid-character",
                      shift);
    }

    audit_all_utf8(e.ctx);
    free(euro);
    env_close(&e);
}
END_TEST

/* A host producer's long or broken words: the card fails with them, and
 * the message, the outcome reason and the audit stay UTF-8. */
START_TEST(test_a_host_backends_words_are_kept_as_utf8)
{
    struct env e;
    env_open(&e, "sec-words");
    idm_producer_ops ops = IDM_PRODUCER_OPS_INIT;
    ops.submit = refusing_submit;
    ops.status = quiet_status;
    ck_ok(idm_producer_new(&e.producer, &ops, sizeof ops, NULL, NULL));
    ck_ok(idm_external_new(&e.x, e.ctx, e.producer, NULL));
    ck_ok(idm_options_set_bool(e.ctx, ADMIN, "external_production_enabled", 1));
    char *umlauts = malloc(1201);
    for (int i = 0; i < 600; i++)
        memcpy(umlauts + 2 * i, "\xc3\xa4", 2);
    umlauts[1200] = '\0';
    const char *const words[] = {umlauts, "Fehler: Kapazit\xe4t ersch\xf6pft", "\xff\xfe"};
    struct faults f = {0};
    for (size_t i = 0; i < 3; i++) {
        refusal_words = words[i];
        idm_card_t *card = NULL;
        int rc = idm_external_order_card(e.x, OPERATOR, person(&e, "Anna", NULL),
                                         IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL,
                                         IDM_PRODUCTION_EXTERNAL, &card);
        if (!utf8_str_ok(idm_last_error_message()))
            fault(&f, "words %zu: the message is not UTF-8;", i);
        if (rc != IDM_OK || fixture_state_of(card) != IDM_CARD_FAILED) {
            fault(&f, "words %zu: %s, the card not failed;", i, idm_strerror_name(rc));
            idm_card_free(&card);
            continue;
        }
        int64_t order_id = 0, card_id = 0;
        ck_ok(idm_card_get_order_id(card, &order_id));
        ck_ok(idm_card_get_id(card, &card_id));
        idm_order_t *order = NULL;
        idm_buffer_t *reason = NULL;
        const unsigned char *r = NULL;
        size_t len = 0;
        ck_ok(idm_order_open(e.ctx, order_id, &order));
        ck_ok(idm_buffer_new(&reason));
        ck_ok(idm_order_get_card_outcome(order, card_id, NULL, NULL, reason));
        ck_ok(idm_buffer_get(reason, &r, &len));
        if (!utf8_ok((const char *)r, len))
            fault(&f, "words %zu: the outcome reason is not UTF-8;", i);
        char *detail = newest_detail(e.ctx, IDM_OBJECT_CARD, card_id);
        if (detail == NULL || !utf8_str_ok(detail))
            fault(&f, "words %zu: the card's audit is not UTF-8;", i);
        else if (i == 1 && strstr(detail, "Fehler: Kapazit") == NULL)
            fault(&f, "words %zu: the audit lost the host's words: %s;", i, detail);
        free(detail);
        idm_buffer_free(&reason);
        idm_order_free(&order);
        idm_card_free(&card);
    }
    ck_assert_no_faults(&f);
    audit_all_utf8(e.ctx);
    free(umlauts);
    env_close(&e);
}
END_TEST

START_TEST(test_log_lines_are_never_cut_mid_character)
{
    struct env e;
    env_open(&e, "sec-log-cut");
    /* a CSV file under a path of more than 2 kB of 2-byte characters */
    char path[4096];
    size_t at = (size_t)snprintf(path, sizeof path, "%s", e.root);
    for (int level = 0; level < 9; level++) {
        path[at++] = '/';
        for (int i = 0; i < 125; i++, at += 2)
            memcpy(path + at, "\xc3\xa9", 2);
        path[at] = '\0';
        ck_assert_msg(mkdir(path, 0700) == 0, "mkdir: %s", strerror(errno));
    }
    snprintf(path + at, sizeof path - at, "/p.csv");
    spit(path, "employeeNumber,givenName\nE1,\xff\n", 29);
    ck_assert_int_eq(idm_identity_import_csv(e.ctx, ADMIN, path, "employeeNumber",
                                             IDM_IDENTITY_ACTIVE, NULL),
                     IDM_ERR_INVALID_ARG);
    ck_assert_msg(utf8_str_ok(idm_last_error_message()), "message cut mid-character");
    ck_assert_int_ge(e.log.cut, 1); /* the case was met: a log line was cut */
    env_close(&e); /* checks every log line is UTF-8 */
}
END_TEST

/* A holder's name far longer than a line of mail: the "card ordered"
 * notification greets them without writing past its buffer, in lines a
 * mail reader takes, and in UTF-8. */
START_TEST(test_a_holders_name_longer_than_a_mail_line_is_cut_between_characters)
{
    struct env e;
    env_open(&e, "sec-long-name");
    env_desk(&e);
    ck_ok(idm_options_set_bool(e.ctx, ADMIN, "send_card_ordered_email", 1));
    char *given = malloc(4097);
    for (int i = 0; i < 1365; i++)
        memcpy(given + 3 * i, "\xe2\x82\xac", 3);
    memcpy(given + 4095, "x", 2);
    order_card(&e, person(&e, given, "anna@corp.example"));
    char new_dir[4400], name[512], file[5000];
    snprintf(new_dir, sizeof new_dir, "%s/new", e.mail);
    ck_assert_msg(find_entry(new_dir, ".eml", name, sizeof name), "no message was delivered");
    snprintf(file, sizeof file, "%s/%s", new_dir, name);
    size_t len = 0;
    char *m = slurp(file, &len);
    ck_assert_msg(utf8_ok(m, len), "the message is not UTF-8");
    for (char *line = m; *line != '\0';) {
        char *end = strstr(line, "\r\n");
        size_t n = end != NULL ? (size_t)(end - line) : strlen(line);
        ck_assert_msg(n <= 998, "a line of %zu bytes", n);
        line += n + (end != NULL ? 2 : 0);
    }
    ck_assert_msg(strstr(m, "Hello \xe2\x82\xac\xe2\x82\xac") != NULL, "no greeting: %.200s",
                  m);
    ck_assert_msg(strstr(m, "has been ordered") != NULL, "the message lost its text");
    free(m);
    free(given);
    env_close(&e);
}
END_TEST

static int deliver_nothing(const idm_card_t *card, const char *pin, const char *puk, void *ud)
{
    (void)card, (void)pin, (void)puk, (void)ud;
    return 0;
}

/* A Digital ID order where one holder's name is longer than a certificate
 * subject takes (64 characters, RFC 5280's ub-common-name): that card is
 * skipped or fails with the reason, and the others are produced; the order
 * is not lost to one name.  64 characters of two bytes each fit. */
START_TEST(test_a_name_too_long_for_a_certificate_costs_its_card_only)
{
    struct env e;
    env_open(&e, "sec-cert-name");
    ck_ok(idm_options_set_string(e.ctx, ADMIN, "pin_source", "generated"));
    ck_ok(idm_options_set_string(e.ctx, ADMIN, "card_key_slots", "9A"));
    char long_name[128], wide_name[160];
    memset(long_name, 'L', 90);
    long_name[90] = '\0'; /* with " Berg": 95 characters */
    for (int i = 0; i < 59; i++)
        memcpy(wide_name + 2 * i, "\xc3\xa9", 2);
    wide_name[118] = '\0'; /* with " Berg": 64 characters, 123 bytes */
    const char *given[] = {"Anna", long_name, wide_name, "Bo"};
    int64_t cards[4];
    for (int i = 0; i < 4; i++) {
        idm_card_t *c = NULL;
        ck_ok(idm_card_new(e.ctx, OPERATOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                           IDM_PRODUCTION_LOCAL, person(&e, given[i], NULL), NULL, &c));
        ck_ok(idm_card_set_state(c, OPERATOR, IDM_CARD_REQUESTED, NULL));
        ck_ok(idm_card_set_state(c, APPROVER, IDM_CARD_APPROVED, NULL));
        ck_ok(idm_card_get_id(c, &cards[i]));
        idm_card_free(&c);
    }
    idm_order_t *order = NULL;
    ck_ok(idm_order_new(e.ctx, ADMIN, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_DIGITAL, NULL, &order));
    ck_ok(idm_order_add_approved(order, ADMIN, 0, NULL));
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, e.ctx, IDM_KEY_EC_P256, "Security Test CA", 365));
    struct mem_card *mem = NULL;
    idm_encoder_t *enc = mem_encoder_new(&mem, 1);
    ck_ok(idm_encoder_set_pin_callbacks(enc, NULL, deliver_nothing, NULL));
    idm_station_t *st = NULL;
    ck_ok(idm_station_open(&st, order, "station", enc, ca));
    idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
    int rc = idm_production_run(st, OPERATOR, &hooks, sizeof hooks, NULL);
    char why[1024] = "";
    idm_order_card_outcome outcome = fixture_card_outcome(order, cards[1], why, sizeof why, NULL);
    fprintf(stderr, "# a name of 95 characters: run %s, the card %s: %s\n",
            idm_strerror_name(rc), idm_order_card_outcome_name(outcome), why);
    ck_assert_msg(outcome == IDM_OUTCOME_SKIPPED || outcome == IDM_OUTCOME_FAILED,
                  "the card with the long name is %s", idm_order_card_outcome_name(outcome));
    ck_assert_msg(strstr(why, "64") != NULL && utf8_str_ok(why), "reason: %s", why);
    for (int i = 0; i < 4; i++) {
        if (i != 1)
            ck_assert_msg(fixture_card_outcome(order, cards[i], NULL, 0, NULL) ==
                              IDM_OUTCOME_PRODUCED,
                          "card %d (%s) not produced: the order is lost to one name (%s)", i,
                          given[i], idm_strerror_name(rc));
    }
    idm_station_free(&st);
    idm_order_free(&order);

    /* the same for the name of a non-personal card */
    char room[80];
    memset(room, 'R', 70);
    room[70] = '\0';
    const char *names[] = {room, "Room 1"};
    for (int i = 0; i < 2; i++) {
        idm_card_t *c = NULL;
        ck_ok(idm_card_new(e.ctx, OPERATOR, IDM_CARD_NON_PERSONAL, IDM_CARD_DIGITAL,
                           IDM_PRODUCTION_LOCAL, 0, names[i], &c));
        ck_ok(idm_card_set_state(c, OPERATOR, IDM_CARD_REQUESTED, NULL));
        ck_ok(idm_card_set_state(c, APPROVER, IDM_CARD_APPROVED, NULL));
        ck_ok(idm_card_get_id(c, &cards[i]));
        idm_card_free(&c);
    }
    ck_ok(idm_order_new(e.ctx, ADMIN, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_NON_PERSONAL,
                        IDM_CARD_DIGITAL, NULL, &order));
    ck_ok(idm_order_add_approved(order, ADMIN, 0, NULL));
    ck_ok(idm_station_open(&st, order, "station", enc, ca));
    rc = idm_production_run(st, OPERATOR, &hooks, sizeof hooks, NULL);
    outcome = fixture_card_outcome(order, cards[0], why, sizeof why, NULL);
    ck_assert_msg(outcome == IDM_OUTCOME_SKIPPED && strstr(why, "64") != NULL,
                  "the room card of 70 characters: %s: %s (run %s)",
                  idm_order_card_outcome_name(outcome), why, idm_strerror_name(rc));
    ck_assert_int_eq(fixture_card_outcome(order, cards[1], NULL, 0, NULL), IDM_OUTCOME_PRODUCED);
    idm_station_free(&st);
    idm_order_free(&order);
    idm_encoder_free(&enc);
    idm_ca_free(&ca);
    env_close(&e);
}
END_TEST

/* ==== 4. huge CSV input ===================================================== */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A CSV file: header, one good row, then a row whose second field has size
 * bytes (quoted, with line breaks in it, when quoted). */
static void write_huge_field(const char *path, size_t size, int quoted)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("employeeNumber,givenName\nE1,Anna\nE2,", f);
    if (quoted)
        fputc('"', f);
    char chunk[65536];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = quoted && i % 100 == 99 ? '\n' : 'x';
    for (size_t left = size; left > 0;) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        ck_assert_uint_eq(fwrite(chunk, 1, n, f), n);
        left -= n;
    }
    if (quoted)
        fputc('"', f);
    fputs("\nE3,Bo\n", f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_a_csv_field_of_many_megabytes_is_refused_early_naming_line_and_limit)
{
    struct env e;
    env_open(&e, "sec-csv-huge");
    char path[4300];
    snprintf(path, sizeof path, "%s/huge.csv", e.root);
    const size_t sizes[] = {1u << 20, 16u << 20, 64u << 20};
    double took[3];
    for (int quoted = 0; quoted < 2; quoted++) {
        for (int i = 0; i < 3; i++) {
            write_huge_field(path, sizes[i], quoted);
            size_t imported = 9;
            double t0 = now_s();
            int rc = idm_identity_import_csv(e.ctx, ADMIN, path, "employeeNumber",
                                             IDM_IDENTITY_ACTIVE, &imported);
            took[i] = now_s() - t0;
            /* the line where the limit is met: a quoted field's line breaks count */
            char where[96];
            snprintf(where, sizeof where, "line %d, field 2: field longer than 65536 bytes",
                     quoted ? 3 + 65536 / 100 : 3);
            ck_assert_idm_error(rc, IDM_ERR_PARSE, where);
            ck_assert_msg(strstr(idm_last_error_message(), path) != NULL, "%s",
                          idm_last_error_message());
            ck_assert_uint_eq(imported, 0);
            ck_assert_int_eq(store_count(e.db, "SELECT count(*) FROM identities"), 0);
            fprintf(stderr, "# a %s field of %zu MiB refused in %.3f s\n",
                    quoted ? "quoted" : "plain", sizes[i] >> 20, took[i]);
        }
        /* the times are figures, not checks (speed is bench/'s business):
         * the reader stops at the limit, so 64 MiB costs about what 1 does */
    }
    /* the same from memory */
    size_t len = (8u << 20) + 64;
    char *data = malloc(len);
    int n = snprintf(data, len, "employeeNumber,givenName\nE1,");
    memset(data + n, 'y', len - (size_t)n);
    ck_assert_idm_error(idm_identity_import_csv_data(e.ctx, ADMIN, data, len, "employeeNumber",
                                                     IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_PARSE, "line 2, field 2: field longer than 65536");
    free(data);
    ck_assert_int_eq(store_count(e.db, "SELECT count(*) FROM identities"), 0);
    env_close(&e);
}
END_TEST

START_TEST(test_csv_with_too_many_columns_or_an_overlong_record_is_refused)
{
    struct env e;
    env_open(&e, "sec-csv-wide");
    /* 1024 columns: imported, every attribute kept */
    size_t cap = 8u << 20, used = 0;
    char *csv = malloc(cap);
    for (int i = 0; i < 1024; i++)
        used += (size_t)snprintf(csv + used, cap - used, "%sc%04d", i ? "," : "", i);
    used += (size_t)snprintf(csv + used, cap - used, "\n");
    for (int i = 0; i < 1024; i++)
        used += (size_t)snprintf(csv + used, cap - used, "%sv%d'%%s", i ? "," : "", i);
    used += (size_t)snprintf(csv + used, cap - used, "\n");
    size_t imported = 0;
    ck_ok(idm_identity_import_csv_data(e.ctx, ADMIN, csv, used, "c0000", IDM_IDENTITY_ACTIVE,
                                       &imported));
    ck_assert_uint_eq(imported, 1);
    idm_identity_t *p = NULL;
    const char *v = NULL;
    size_t count = 0;
    ck_ok(idm_identity_open_external(e.ctx, "v0'%s", &p));
    ck_ok(idm_identity_get_attribute_count(p, &count));
    ck_assert_uint_eq(count, 1024);
    ck_ok(idm_identity_get_attribute(p, "c1023", &v));
    ck_assert_str_eq(v, "v1023'%s");
    idm_identity_free(&p);

    /* 1025 columns: refused at the header */
    used = 0;
    for (int i = 0; i < 1025; i++)
        used += (size_t)snprintf(csv + used, cap - used, "%sd%04d", i ? "," : "", i);
    used += (size_t)snprintf(csv + used, cap - used, "\nx\n");
    ck_assert_idm_error(idm_identity_import_csv_data(e.ctx, ADMIN, csv, used, NULL,
                                                     IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_PARSE, "line 1: more than 1024 fields");

    /* a record of more than 1 MiB in fields within their own limit */
    used = (size_t)snprintf(csv, cap, "employeeNumber");
    for (int i = 0; i < 300; i++)
        used += (size_t)snprintf(csv + used, cap - used, ",a%03d", i);
    used += (size_t)snprintf(csv + used, cap - used, "\nE9");
    for (int i = 0; i < 300; i++) {
        csv[used++] = ',';
        memset(csv + used, 'z', 4000);
        used += 4000;
    }
    csv[used++] = '\n';
    ck_assert_idm_error(idm_identity_import_csv_data(e.ctx, ADMIN, csv, used, "employeeNumber",
                                                     IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_PARSE, "line 2: record longer than 1048576 bytes");
    ck_assert_int_eq(store_count(e.db, "SELECT count(*) FROM identities"), 1);

    /* a header name of a megabyte, and one that is not UTF-8 */
    memset(csv, 'h', 1u << 20);
    memcpy(csv + (1u << 20), "\nx\n", 3);
    ck_assert_idm_error(idm_identity_import_csv_data(e.ctx, ADMIN, csv, (1u << 20) + 3, NULL,
                                                     IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_PARSE, "line 1");
    ck_assert_idm_error(idm_identity_import_csv_data(e.ctx, ADMIN, "name\xff,b\nx,y\n", 13,
                                                     NULL, IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_PARSE, "line 1, column 1");
    /* a value that is not UTF-8, or of 4097 bytes, names its line and column */
    ck_assert_idm_error(idm_identity_import_csv_data(e.ctx, ADMIN, "a,b\n1,2\n3,\xc3\x28\n", 14,
                                                     NULL, IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_INVALID_ARG, "line 3, column 'b'");
    free(csv);
    ck_assert_int_eq(store_count(e.db, "SELECT count(*) FROM identities"), 1);
    env_close(&e);
}
END_TEST

/* How much the peak resident memory of a child process grows while it
 * imports path into db, in kB; the import's result into *rc and *imported. */
static long import_peak_kb(const char *db, const char *path, size_t *imported, int *rc)
{
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(out[0]);
        idm_ctx_t *ctx = NULL;
        struct rusage before, after;
        long result[3] = {-1, 0, 0};
        if (idm_ctx_new(&ctx) == IDM_OK && idm_ctx_open_store(ctx, db) == IDM_OK) {
            size_t n = 0;
            getrusage(RUSAGE_SELF, &before);
            result[1] = idm_identity_import_csv(ctx, ADMIN, path, "employeeNumber",
                                                IDM_IDENTITY_ACTIVE, &n);
            getrusage(RUSAGE_SELF, &after);
            result[0] = after.ru_maxrss - before.ru_maxrss;
            result[2] = (long)n;
        }
        idm_ctx_free(&ctx);
        ssize_t w = write(out[1], result, sizeof result);
        _exit(w == (ssize_t)sizeof result ? 0 : 1);
    }
    close(out[1]);
    long result[3] = {-1, 0, 0};
    ck_assert_int_eq(read(out[0], result, sizeof result), (ssize_t)sizeof result);
    close(out[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *rc = (int)result[1];
    *imported = (size_t)result[2];
    return result[0];
}

static void write_rows(const char *path, size_t rows, int last_bad)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("employeeNumber,givenName,surname,mail,note\n", f);
    for (size_t i = 1; i <= rows; i++) {
        if (last_bad && i == rows)
            fprintf(f, "E%zu,Anna,\xff,a%zu@corp.example,x\n", i, i);
        else
            fprintf(f, "E%zu,Anna,\"O'Berg, %zu\",a%zu@corp.example,\"%%s%%n ; DROP TABLE x\"\n",
                    i, i, i);
    }
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_thousands_of_rows_import_all_or_nothing_in_bounded_memory)
{
    struct env e;
    env_open(&e, "sec-csv-rows");
    char path[4300];
    snprintf(path, sizeof path, "%s/rows.csv", e.root);
    /* valgrind's own memory grows with what it watches, and it is slow */
    const char *preload = getenv("LD_PRELOAD");
    int valgrind = preload != NULL && strstr(preload, "vgpreload") != NULL;
    const size_t small = valgrind ? 500 : 2000, large = valgrind ? 5000 : 20000;
    size_t imported = 0;
    int rc = 0;
    /* the last row bad: nothing of the file stays */
    write_rows(path, large, 1);
    double t0 = now_s();
    long bad_kb = import_peak_kb(e.db, path, &imported, &rc);
    ck_assert_int_eq(rc, IDM_ERR_INVALID_ARG);
    ck_assert_uint_eq(imported, 0);
    ck_assert_int_eq(store_count(e.db, "SELECT count(*) FROM identities"), 0);
    fprintf(stderr, "# %zu rows, the last bad: refused in %.2f s, peak +%ld kB\n", large,
            now_s() - t0, bad_kb);
    write_rows(path, small, 0);
    long small_kb = import_peak_kb(e.db, path, &imported, &rc);
    ck_assert_int_eq(rc, IDM_OK);
    ck_assert_uint_eq(imported, small);
    write_rows(path, large, 0);
    char other[4400];
    snprintf(other, sizeof other, "%s/other.db", e.root);
    idm_ctx_t *fresh = fixture_ctx(other);
    idm_ctx_free(&fresh);
    t0 = now_s();
    long large_kb = import_peak_kb(other, path, &imported, &rc);
    ck_assert_int_eq(rc, IDM_OK);
    ck_assert_uint_eq(imported, large);
    fprintf(stderr, "# %zu rows imported in %.2f s: peak +%ld kB; %zu rows: +%ld kB\n", large,
            now_s() - t0, large_kb, small, small_kb);
    ck_assert_int_eq(store_count(other, "SELECT count(*) FROM identities"), (long long)large);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed memory in quarantine: resident size says nothing here */
#else
    /* ten times the rows: not ten times the memory (SQLite's page cache
     * and the reader's record buffer are bounded) */
    if (!valgrind)
        ck_assert_msg(large_kb < small_kb + 16 * 1024, "%zu rows: +%ld kB; %zu rows: +%ld kB",
                      small, small_kb, large, large_kb);
#endif
    check_store_ok(other);
    fixture_remove_store(other);
    env_close(&e);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("security_inputs");
    TCase *paths = tcase_create("paths");
    tcase_add_test(paths, test_spool_with_a_folder_that_is_a_link_is_refused_naming_it);
    tcase_add_test(paths, test_spool_folder_swapped_for_a_link_is_never_written_through);
    tcase_add_test(paths,
                   test_inbox_entries_that_are_not_plain_files_are_quarantined_never_followed);
    tcase_add_test(paths, test_inbox_names_outside_the_rules_are_quarantined_with_the_name_escaped);
    tcase_add_test(paths, test_status_reports_whose_message_id_is_a_path_are_refused);
    tcase_add_test(paths, test_maildir_folders_that_are_links_are_not_followed);
    tcase_add_test(paths, test_line_breaks_in_a_holders_address_or_name_make_no_header);
    tcase_set_timeout(paths, 60);
    suite_add_tcase(s, paths);
    TCase *sql = tcase_create("sql");
    tcase_add_test(sql, test_hostile_text_is_stored_and_read_back_byte_for_byte);
    tcase_add_test(sql, test_lookups_by_hostile_keys_find_only_their_own_row);
    tcase_set_timeout(sql, 60);
    suite_add_tcase(s, sql);
    TCase *text = tcase_create("text");
    tcase_add_test(text, test_text_setters_refuse_bad_utf8_and_overlong_text_naming_the_argument);
    tcase_add_test(text, test_text_setters_keep_text_at_the_limit_byte_for_byte);
    tcase_add_test(text, test_bureau_text_over_its_limit_is_quarantined_and_at_it_is_kept);
    tcase_add_test(text, test_error_messages_are_never_cut_mid_character);
    tcase_add_test(text, test_a_host_backends_words_are_kept_as_utf8);
    tcase_add_test(text, test_log_lines_are_never_cut_mid_character);
    tcase_add_test(text, test_a_holders_name_longer_than_a_mail_line_is_cut_between_characters);
    tcase_add_test(text, test_a_name_too_long_for_a_certificate_costs_its_card_only);
    tcase_set_timeout(text, 120);
    suite_add_tcase(s, text);
    TCase *csv = tcase_create("csv");
    tcase_add_test(csv, test_a_csv_field_of_many_megabytes_is_refused_early_naming_line_and_limit);
    tcase_add_test(csv, test_csv_with_too_many_columns_or_an_overlong_record_is_refused);
    tcase_add_test(csv, test_thousands_of_rows_import_all_or_nothing_in_bounded_memory);
    tcase_set_timeout(csv, 240);
    suite_add_tcase(s, csv);
    return s;
}
