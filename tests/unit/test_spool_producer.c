/*
 * White-box: the spool-directory producer (src/backends/producer/
 * spool_producer.c), made through idm_producer_new_spool() and driven
 * through its ops table, as the external production workflow drives it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <idm/idm.h>

#include "backends/producer/producer_impl.h"
#include "core/error_impl.h"
#include "fixtures.h"
#include "runner.h"

#define ORDER_ID "idm-1-o2-c3-a1"

static char root[512];

/* ---- files ------------------------------------------------------------- */

/* root/rel, in one of a few rotating buffers so that two can be used at once. */
static const char *at(const char *rel)
{
    static char paths[4][1200];
    static unsigned next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", root, rel);
    return p;
}

static void write_bytes(const char *rel, const char *data, size_t len)
{
    int fd = open(at(rel), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    ck_assert_msg(fd >= 0, "cannot create %s: %s", at(rel), strerror(errno));
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void write_text(const char *rel, const char *text)
{
    write_bytes(rel, text, strlen(text));
}

/* The whole file, NUL-terminated; the caller frees it. */
static char *read_text(const char *rel, size_t *len)
{
    FILE *f = fopen(at(rel), "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", at(rel), strerror(errno));
    char *buf = malloc(70000);
    ck_assert_ptr_nonnull(buf);
    size_t n = fread(buf, 1, 70000 - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

static int exists(const char *rel)
{
    struct stat st;
    return lstat(at(rel), &st) == 0;
}

static int count_entries(const char *rel)
{
    DIR *d = opendir(at(rel));
    ck_assert_msg(d != NULL, "cannot open %s: %s", at(rel), strerror(errno));
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void setup(void)
{
    fixture_scratch_dir("spool", root, sizeof root);
    umask(022);
}

static void teardown(void)
{
    fixture_remove_tree(root);
}

/* ---- the producer ------------------------------------------------------ */

static idm_producer_t *new_spool(void)
{
    idm_producer_t *p = NULL;
    ck_ok(idm_producer_new_spool(&p, root));
    ck_assert_ptr_nonnull(p);
    return p;
}

static int submit(idm_producer_t *p, const char *id, const char *json)
{
    idm_backend_call_reset();
    return p->ops.submit(id, json, strlen(json), p->user_data);
}

static int cancel(idm_producer_t *p, const char *id)
{
    idm_backend_call_reset();
    return p->ops.cancel(id, p->user_data);
}

/* What the library's report callback saw. */
struct recorder {
    int calls;
    char ids[16][140];
    idm_bureau_status statuses[16];
    char serial[16][80];
    char shipment[16][300];
    char reason[16][300];
    const char *refuse_id; /* refused with IDM_ERR_NOT_FOUND */
    const char *refusal;   /* the message it is refused with, when not the default */
    int fails_with;        /* every report is answered with this code (0: none) */
};

static void copy_or_null(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "(null)");
}

static int record_report(const char *message_id, idm_bureau_status status,
                         const char *chip_serial, const char *shipment, const char *reason,
                         void *report_data)
{
    struct recorder *r = report_data;
    int i = r->calls++;
    ck_assert_int_lt(i, 16);
    copy_or_null(r->ids[i], sizeof r->ids[i], message_id);
    r->statuses[i] = status;
    copy_or_null(r->serial[i], sizeof r->serial[i], chip_serial);
    copy_or_null(r->shipment[i], sizeof r->shipment[i], shipment);
    copy_or_null(r->reason[i], sizeof r->reason[i], reason);
    if (r->fails_with != 0)
        return IDM_ERR(r->fails_with, "the library could not decide (%s)",
                       idm_strerror_name(r->fails_with));
    if (r->refuse_id != NULL && strcmp(message_id, r->refuse_id) == 0) {
        if (r->refusal != NULL)
            return IDM_ERR(IDM_ERR_STATE, "%s", r->refusal);
        return IDM_ERR(IDM_ERR_NOT_FOUND, "unknown card order %s", message_id);
    }
    return IDM_OK;
}

static int run_status(idm_producer_t *p, struct recorder *r)
{
    idm_backend_call_reset();
    return p->ops.status(NULL, 0, record_report, r, p->user_data);
}

/* A status file for message id, status word and optional extra members. */
static void drop_report(const char *name, const char *id, const char *status, const char *extra)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"message_id\": \"%s\", \"status\": \"%s\"%s}\n", id, status,
             extra != NULL ? extra : "");
    char rel[400];
    snprintf(rel, sizeof rel, "inbox/%s", name);
    write_text(rel, text);
}

/* Asserts that inbox/name went to quarantine/ with a one-line reason that
 * mentions needle. */
static void expect_quarantined(struct faults *f, const char *name, const char *needle)
{
    char rel[600];
    snprintf(rel, sizeof rel, "quarantine/%s", name);
    if (!exists(rel)) {
        fault(f, "%s is not in quarantine/;", name);
        return;
    }
    snprintf(rel, sizeof rel, "quarantine/%s.reason", name);
    if (!exists(rel)) {
        fault(f, "%s has no .reason;", name);
        return;
    }
    size_t len;
    char *reason = read_text(rel, &len);
    if (strstr(reason, needle) == NULL)
        fault(f, "%s: reason \"%s\" does not mention \"%s\";", name, reason, needle);
    if (len == 0 || reason[len - 1] != '\n' || strchr(reason, '\n') != reason + len - 1)
        fault(f, "%s: reason is not one line;", name);
    free(reason);
    snprintf(rel, sizeof rel, "inbox/%s", name);
    if (exists(rel))
        fault(f, "%s is still in inbox/;", name);
}

/* ---- creating ---------------------------------------------------------- */

START_TEST(test_new_refuses_missing_directory)
{
    idm_producer_t *p = (idm_producer_t *)&root;
    ck_assert_idm_error(idm_producer_new_spool(&p, at("missing")), IDM_ERR_IO,
                        "No such file or directory");
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(idm_last_error_message(), at("missing")) != NULL,
                  "message does not name the path: %s", idm_last_error_message());
    ck_assert_msg(strncmp(idm_last_error_message(), "idm_producer_new_spool: ", 24) == 0,
                  "message does not name the function: %s", idm_last_error_message());
}
END_TEST

START_TEST(test_new_refuses_a_file)
{
    write_text("file", "x");
    idm_producer_t *p = NULL;
    ck_assert_idm_error(idm_producer_new_spool(&p, at("file")), IDM_ERR_IO, "Not a directory");
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_new_refuses_empty_and_overlong_paths)
{
    idm_producer_t *p = NULL;
    ck_assert_idm_error(idm_producer_new_spool(&p, ""), IDM_ERR_INVALID_ARG, "0 bytes");
    char *longer = malloc(3002);
    ck_assert_ptr_nonnull(longer);
    memset(longer, 'a', 3001);
    longer[0] = '/';
    longer[3001] = '\0';
    ck_assert_idm_error(idm_producer_new_spool(&p, longer), IDM_ERR_INVALID_ARG, "3001 bytes");
    free(longer);
    ck_assert_idm_error(idm_producer_new_spool(&p, NULL), IDM_ERR_INVALID_ARG, "'dir'");
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_new_creates_folders_with_mode_0700)
{
    idm_producer_t *p = new_spool();
    static const char *const folders[] = {"outbox", "inbox", "processed", "quarantine", "tmp"};
    for (size_t i = 0; i < 5; i++) {
        struct stat st;
        ck_assert_msg(lstat(at(folders[i]), &st) == 0, "%s missing", folders[i]);
        ck_assert_msg(S_ISDIR(st.st_mode), "%s is not a directory", folders[i]);
        ck_assert_msg((st.st_mode & 07777) == 0700, "%s has mode %o", folders[i],
                      (unsigned)(st.st_mode & 07777));
    }
    idm_producer_free(&p);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_new_keeps_existing_folders_and_files)
{
    ck_assert_int_eq(mkdir(at("inbox"), 0755), 0);
    write_text("inbox/waiting.json", "{}");
    idm_producer_t *p = new_spool();
    ck_assert(exists("inbox/waiting.json"));
    struct stat st;
    ck_assert_int_eq(lstat(at("inbox"), &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0755);
    idm_producer_free(&p);
}
END_TEST

/* A process killed between creating its temporary file and renaming it
 * leaves the file; the next producer on the spool removes it when its
 * process is gone, and keeps the files of live processes and foreign ones. */
START_TEST(test_new_removes_temporary_files_of_dead_processes)
{
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    ck_assert_int_eq(mkdir(at("tmp"), 0700), 0);
    char dead[128], live[128];
    snprintf(dead, sizeof dead, "tmp/idm-x-o1-c1-a1.json.%ld.tmp", (long)child);
    snprintf(live, sizeof live, "tmp/idm-x-o1-c2-a1.json.%ld.tmp", (long)getppid());
    write_text(dead, "{\"half");
    write_text(live, "{\"being written");
    write_text("tmp/notes.txt", "not ours");
    idm_producer_t *p = new_spool();
    ck_assert(!exists(dead));
    ck_assert(exists(live));
    ck_assert(exists("tmp/notes.txt"));
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_new_refuses_a_file_in_place_of_a_folder)
{
    write_text("quarantine", "not a folder");
    idm_producer_t *p = NULL;
    ck_assert_idm_error(idm_producer_new_spool(&p, root), IDM_ERR_IO,
                        "quarantine' is a regular file, not a directory");
    ck_assert_ptr_null(p);
    ck_assert_int_eq(unlink(at("quarantine")), 0);
    ck_assert_int_eq(symlink(at("tmp"), at("quarantine")), 0);
    ck_assert_int_eq(mkdir(at("tmp"), 0700), 0);
    ck_assert_idm_error(idm_producer_new_spool(&p, root), IDM_ERR_IO,
                        "quarantine' is a symbolic link, not a directory");
}
END_TEST

START_TEST(test_free_is_null_safe)
{
    idm_producer_t *p = NULL;
    idm_producer_free(&p);
    idm_producer_free(NULL);
    idm_spool_producer_free(NULL);
}
END_TEST

/* ---- submit and cancel ------------------------------------------------- */

START_TEST(test_submit_writes_exact_bytes_to_outbox)
{
    idm_producer_t *p = new_spool();
    const char *json = "{\"format\":\"libidm-card-order/1\"} and bytes after the length";
    ck_assert_int_eq(p->ops.submit(ORDER_ID, json, 33, p->user_data), 0);
    size_t len;
    char *got = read_text("outbox/" ORDER_ID ".json", &len);
    ck_assert_uint_eq(len, 33);
    ck_assert_mem_eq(got, json, 33);
    free(got);
    struct stat st;
    ck_assert_int_eq(lstat(at("outbox/" ORDER_ID ".json"), &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(count_entries("outbox"), 1);
    ck_assert_int_eq(count_entries("tmp"), 0);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_submit_again_replaces_the_order)
{
    idm_producer_t *p = new_spool();
    ck_assert_int_eq(submit(p, ORDER_ID, "{\"first\":\"1\"}"), 0);
    ck_assert_int_eq(submit(p, ORDER_ID, "{\"second\":\"2\"}"), 0);
    char *got = read_text("outbox/" ORDER_ID ".json", NULL);
    ck_assert_str_eq(got, "{\"second\":\"2\"}");
    free(got);
    ck_assert_int_eq(count_entries("outbox"), 1);
    ck_assert_int_eq(count_entries("tmp"), 0);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_submit_replaces_a_stale_temporary_file)
{
    idm_producer_t *p = new_spool();
    char rel[300];
    snprintf(rel, sizeof rel, "tmp/%s.json.%ld.tmp", ORDER_ID, (long)getpid());
    write_text(rel, "left by a crash");
    ck_assert_int_eq(submit(p, ORDER_ID, "{}"), 0);
    char *got = read_text("outbox/" ORDER_ID ".json", NULL);
    ck_assert_str_eq(got, "{}");
    free(got);
    ck_assert_int_eq(count_entries("tmp"), 0);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_submit_and_cancel_refuse_bad_message_ids)
{
    char long_id[131];
    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    const char *const bad[] = {"", "../x", "a/b", long_id, "a b", "J\xc3\xbcrgen", "x\n"};
    idm_producer_t *p = new_spool();
    struct faults f = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int op = 0; op < 2; op++) {
            int rc = op == 0 ? submit(p, bad[i], "{}") : cancel(p, bad[i]);
            char words[512];
            idm_backend_words(words, sizeof words);
            if (rc != IDM_ERR_INVALID_ARG)
                fault(&f, "id %zu, %s: got %s;", i, op == 0 ? "submit" : "cancel",
                      idm_strerror_name(rc));
            if (strstr(words, "is not 1..128 characters of [A-Za-z0-9._-]") == NULL)
                fault(&f, "id %zu: words \"%s\";", i, words);
        }
    }
    ck_assert_no_faults(&f);
    ck_assert_int_eq(count_entries("outbox"), 0);
    ck_assert_int_eq(count_entries("tmp"), 0);
    ck_assert_int_eq(count_entries(""), 5);
    /* The longest id allowed goes through. */
    long_id[128] = '\0';
    ck_assert_int_eq(submit(p, long_id, "{}"), 0);
    ck_assert_int_eq(cancel(p, long_id), 0);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_submit_names_path_when_writing_fails)
{
    idm_producer_t *p = new_spool();
    ck_assert_int_eq(rmdir(at("tmp")), 0);
    int rc = submit(p, ORDER_ID, "{}");
    ck_assert_int_eq(rc, IDM_ERR_IO);
    char words[512];
    idm_backend_words(words, sizeof words);
    ck_assert_msg(strstr(words, at("tmp")) != NULL && strstr(words, "No such file"),
                  "words: %s", words);
    ck_assert_int_eq(count_entries("outbox"), 0);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_cancel_removes_order_and_writes_cancel_request)
{
    idm_producer_t *p = new_spool();
    ck_assert_int_eq(submit(p, ORDER_ID, "{}"), 0);
    ck_assert_int_eq(cancel(p, ORDER_ID), 0);
    ck_assert(!exists("outbox/" ORDER_ID ".json"));
    char *got = read_text("outbox/" ORDER_ID ".cancel.json", NULL);
    ck_assert_str_eq(got, "{\"cancel\":\"" ORDER_ID "\"}\n");
    free(got);
    ck_assert_int_eq(count_entries("outbox"), 1);
    ck_assert_int_eq(count_entries("tmp"), 0);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_cancel_without_order_still_writes_request)
{
    idm_producer_t *p = new_spool();
    ck_assert_int_eq(cancel(p, ORDER_ID), 0);
    ck_assert_int_eq(cancel(p, ORDER_ID), 0);
    ck_assert(exists("outbox/" ORDER_ID ".cancel.json"));
    ck_assert_int_eq(count_entries("outbox"), 1);
    idm_producer_free(&p);
}
END_TEST

/* ---- status ------------------------------------------------------------ */

START_TEST(test_status_applies_files_in_name_order)
{
    idm_producer_t *p = new_spool();
    drop_report("b.json", "m-b", "produced",
                ", \"chip_serial\": \"04A1B2\", \"shipment\": \"DHL \\u00e9 42\"");
    drop_report("a.json", "m-a", "in_production", NULL);
    drop_report("c-1_x.json", "m-c", "failed", ", \"reason\": \"chip broken\"");
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 3);
    ck_assert_str_eq(r.ids[0], "m-a");
    ck_assert_int_eq(r.statuses[0], IDM_BUREAU_IN_PRODUCTION);
    ck_assert_str_eq(r.serial[0], "(null)");
    ck_assert_str_eq(r.shipment[0], "(null)");
    ck_assert_str_eq(r.reason[0], "(null)");
    ck_assert_str_eq(r.ids[1], "m-b");
    ck_assert_int_eq(r.statuses[1], IDM_BUREAU_PRODUCED);
    ck_assert_str_eq(r.serial[1], "04A1B2");
    ck_assert_str_eq(r.shipment[1], "DHL \xc3\xa9 42");
    ck_assert_str_eq(r.ids[2], "m-c");
    ck_assert_int_eq(r.statuses[2], IDM_BUREAU_FAILED);
    ck_assert_str_eq(r.reason[2], "chip broken");
    ck_assert_int_eq(count_entries("inbox"), 0);
    ck_assert(exists("processed/a.json") && exists("processed/b.json") &&
              exists("processed/c-1_x.json"));
    ck_assert_int_eq(count_entries("quarantine"), 0);
    ck_assert_int_eq(count_entries("tmp"), 0);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_does_not_report_a_file_twice)
{
    idm_producer_t *p = new_spool();
    drop_report("a.json", "m-a", "produced", ", \"chip_serial\": \"01\"");
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 1);
    idm_producer_free(&p);
    /* Nor does a new handle on the same spool. */
    p = new_spool();
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 1);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_with_empty_inbox_reports_nothing)
{
    idm_producer_t *p = new_spool();
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 0);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_quarantines_malformed_reports_unapplied)
{
    idm_producer_t *p = new_spool();
    static const struct {
        const char *name;
        const char *text;
        const char *needle;
    } rows[] = {
        {"cut.json", "{\"message_id\": \"m1\", ", "at byte 21: expected a member name"},
        {"array.json", "[\"m1\", \"produced\"]", "at byte 0: expected '{'"},
        {"number.json", "{\"message_id\":\"m1\",\"status\":\"produced\",\"chip_serial\":42}",
         "member 'chip_serial' is not a string"},
        {"nested.json", "{\"message_id\":\"m1\",\"status\":{\"word\":\"produced\"}}",
         "member 'status' is not a string"},
        {"unknown.json", "{\"message_id\":\"m1\",\"status\":\"produced\",\"colour\":\"red\"}",
         "unknown member 'colour'"},
        {"nostatus.json", "{\"message_id\":\"m1\"}", "member 'status' is missing"},
        {"noid.json", "{\"status\":\"failed\"}", "member 'message_id' is missing"},
        {"word.json", "{\"message_id\":\"m1\",\"status\":\"done\"}",
         "status 'done' is not in_production, produced or failed"},
        {"case.json", "{\"message_id\":\"m1\",\"status\":\"Produced\"}", "status 'Produced'"},
        {"badid.json", "{\"message_id\":\"../m1\",\"status\":\"failed\"}",
         "message id '../m1' is not 1..128 characters"},
        {"dup.json", "{\"message_id\":\"m1\",\"status\":\"failed\",\"status\":\"produced\"}",
         "duplicate member 'status'"},
        {"comma.json", "{\"message_id\":\"m1\",\"status\":\"failed\",}", "trailing comma"},
        {"utf8.json", "{\"message_id\":\"m1\",\"status\":\"failed\",\"reason\":\"\xc0\xaf\"}",
         "invalid UTF-8"},
        {"nine.json",
         "{\"a\":\"\",\"b\":\"\",\"c\":\"\",\"d\":\"\",\"e\":\"\",\"f\":\"\",\"g\":\"\",\"h\":\"\","
         "\"i\":\"\"}",
         "more than 8 members"},
        {"empty.json", "", "at byte 0: empty input"},
        {"ctrl.json", "{\"message_id\":\"m1\",\"status\":\"failed\",\"\\u0001\\n\":\"x\"}",
         "unknown member '\\x01\\x0a'"},
    };
    size_t count = sizeof rows / sizeof rows[0];
    for (size_t i = 0; i < count; i++) {
        char rel[300];
        snprintf(rel, sizeof rel, "inbox/%s", rows[i].name);
        write_text(rel, rows[i].text);
    }
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 0);
    struct faults f = {0};
    for (size_t i = 0; i < count; i++)
        expect_quarantined(&f, rows[i].name, rows[i].needle);
    ck_assert_no_faults(&f);
    ck_assert_int_eq(count_entries("inbox"), 0);
    ck_assert_int_eq(count_entries("processed"), 0);
    ck_assert_int_eq(count_entries("quarantine"), (int)(2 * count));
    ck_assert_int_eq(count_entries("tmp"), 0);
    idm_producer_free(&p);
}
END_TEST

/* A valid report padded with blanks to len bytes. */
static void drop_padded_report(const char *rel, size_t len)
{
    char *text = malloc(len);
    ck_assert_ptr_nonnull(text);
    const char *head = "{\"message_id\":\"m-big\",\"status\":\"failed\"}";
    memset(text, ' ', len);
    memcpy(text, head, strlen(head));
    write_bytes(rel, text, len);
    free(text);
}

START_TEST(test_status_quarantines_file_over_64_kib)
{
    idm_producer_t *p = new_spool();
    drop_padded_report("inbox/big.json", 65537);
    drop_padded_report("inbox/fits.json", 65536);
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert(exists("processed/fits.json"));
    struct faults f = {0};
    expect_quarantined(&f, "big.json", "file is 65537 bytes; at most 65536");
    ck_assert_no_faults(&f);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_quarantines_symlink_without_following_it)
{
    idm_producer_t *p = new_spool();
    ck_assert_int_eq(symlink("/etc/passwd", at("inbox/ok.json")), 0);
    /* Even a link to a perfectly good report is not read. */
    write_text("elsewhere.json", "{\"message_id\":\"m1\",\"status\":\"failed\"}");
    ck_assert_int_eq(symlink(at("elsewhere.json"), at("inbox/good.json")), 0);
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 0);
    struct faults f = {0};
    expect_quarantined(&f, "ok.json", "the entry is a symbolic link, not a regular file");
    expect_quarantined(&f, "good.json", "symbolic link");
    ck_assert_no_faults(&f);
    /* The link itself moved; what it points to is untouched. */
    struct stat st;
    ck_assert_int_eq(lstat(at("quarantine/ok.json"), &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    char target[64] = {0};
    ck_assert_int_eq(readlink(at("quarantine/ok.json"), target, sizeof target - 1), 11);
    ck_assert_str_eq(target, "/etc/passwd");
    ck_assert_int_eq(lstat("/etc/passwd", &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert(exists("elsewhere.json"));
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_quarantines_directory_and_fifo)
{
    idm_producer_t *p = new_spool();
    ck_assert_int_eq(mkdir(at("inbox/d.json"), 0700), 0);
    write_text("inbox/d.json/inner.json", "{\"message_id\":\"m1\",\"status\":\"failed\"}");
    ck_assert_int_eq(mkfifo(at("inbox/f.json"), 0600), 0);
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 0);
    struct faults f = {0};
    expect_quarantined(&f, "d.json", "the entry is a directory, not a regular file");
    expect_quarantined(&f, "f.json", "the entry is a FIFO, not a regular file");
    ck_assert_no_faults(&f);
    ck_assert(exists("quarantine/d.json/inner.json"));
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_quarantines_bad_names_unread)
{
    char long_name[140];
    memset(long_name, 'n', 124);
    memcpy(long_name + 124, ".json", 6); /* 129 characters */
    static const char *const reason_tail =
        "' is not 1..128 characters of [A-Za-z0-9._-] ending in \".json\" and not starting "
        "with '.'";
    const struct {
        const char *name;
        const char *shown;
    } rows[] = {
        {"..json", "..json"},
        {".hidden.json", ".hidden.json"},
        {".json", ".json"},
        {"a b.json", "a b.json"},
        {"x.txt", "x.txt"},
        {"x.JSON", "x.JSON"},
        {"x.json.tmp", "x.json.tmp"},
        {"\xff.json", "\\xff.json"},
        {"q\\'\x01.json", "q\\x5c'\\x01.json"},
        {long_name, long_name},
    };
    idm_producer_t *p = new_spool();
    size_t count = sizeof rows / sizeof rows[0];
    for (size_t i = 0; i < count; i++)
        drop_report(rows[i].name, "m1", "failed", NULL);
    /* The longest name allowed is read. */
    drop_report(long_name + 1, "m-long", "failed", NULL);
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_str_eq(r.ids[0], "m-long");
    struct faults f = {0};
    for (size_t i = 0; i < count; i++) {
        char needle[400];
        snprintf(needle, sizeof needle, "file name '%s%s", rows[i].shown, reason_tail);
        expect_quarantined(&f, rows[i].name, needle);
    }
    ck_assert_no_faults(&f);
    ck_assert_int_eq(count_entries("inbox"), 0);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_quarantines_long_foreign_name_under_a_shorter_one)
{
    char name[251];
    memset(name, 'z', 250);
    name[250] = '\0';
    idm_producer_t *p = new_spool();
    char rel[300];
    snprintf(rel, sizeof rel, "inbox/%s", name);
    write_text(rel, "x");
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(count_entries("inbox"), 0);
    /* Cut so that ".reason" and the temporary name fit in NAME_MAX. */
    struct faults f = {0};
    expect_quarantined(&f, name + 50, "file name 'zzz");
    ck_assert_no_faults(&f);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_quarantines_refused_report_with_its_message)
{
    idm_producer_t *p = new_spool();
    drop_report("1.json", "m-known", "in_production", NULL);
    drop_report("2.json", "m-unknown", "produced", ", \"chip_serial\": \"01\"");
    struct recorder r = {0, .refuse_id = "m-unknown"};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 2);
    ck_assert(exists("processed/1.json"));
    struct faults f = {0};
    expect_quarantined(&f, "2.json", "unknown card order m-unknown");
    ck_assert_no_faults(&f);
    /* Quarantined means never offered again. */
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 2);
    idm_producer_free(&p);
}
END_TEST

/* A report the library could not decide on, because its own store, memory
 * or hashing failed, is not a bad report: it stays in the inbox and the run
 * stops.  (IDM_ERR_CRYPTO: the fault sweep found a status file quarantined,
 * and its card stuck in production, when hashing the audit event failed.) */
START_TEST(test_status_keeps_file_when_the_library_cannot_decide)
{
    static const int codes[] = {IDM_ERR_STORE, IDM_ERR_NO_MEMORY, IDM_ERR_CRYPTO,
                                IDM_ERR_INTERNAL, IDM_ERR_INTEGRITY};
    int code = codes[_i];
    idm_producer_t *p = new_spool();
    drop_report("1.json", "m-first", "in_production", NULL);
    drop_report("2.json", "m-second", "in_production", NULL);
    struct recorder r = {0, .fails_with = code};
    ck_assert_int_eq(run_status(p, &r), code);
    ck_assert_msg(strstr(idm_last_error_message(), "could not decide") != NULL, "%s",
                  idm_last_error_message());
    ck_assert_int_eq(r.calls, 1);
    ck_assert(exists("inbox/1.json"));
    ck_assert(exists("inbox/2.json"));
    ck_assert_int_eq(count_entries("quarantine"), 0);
    r.fails_with = 0;
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 3);
    ck_assert(exists("processed/1.json"));
    ck_assert(exists("processed/2.json"));
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_writes_reason_as_one_line)
{
    idm_producer_t *p = new_spool();
    drop_report("a.json", "m1", "failed", NULL);
    struct recorder r = {0, .refuse_id = "m1", .refusal = "first line\nsecond\tline \xe2\x82"};
    ck_assert_int_eq(run_status(p, &r), 0);
    char *reason = read_text("quarantine/a.json.reason", NULL);
    ck_assert_str_eq(reason, "first line second line ??\n");
    free(reason);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_never_overwrites_in_processed_or_quarantine)
{
    idm_producer_t *p = new_spool();
    write_text("processed/a.json", "older a");
    write_text("processed/a.json.1", "older a.1");
    write_text("quarantine/x.txt", "older x");
    write_text("quarantine/x.txt.reason", "older reason\n");
    write_text("quarantine/y.json.reason", "a foreign file of that name");
    write_text("inbox/y.json", "not JSON");
    drop_report("a.json", "m1", "failed", NULL);
    drop_report("x.txt", "m1", "failed", NULL);
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 1);
    char *text = read_text("processed/a.json", NULL);
    ck_assert_str_eq(text, "older a");
    free(text);
    text = read_text("processed/a.json.1", NULL);
    ck_assert_str_eq(text, "older a.1");
    free(text);
    text = read_text("processed/a.json.2", NULL);
    ck_assert(strstr(text, "\"m1\"") != NULL);
    free(text);
    text = read_text("quarantine/x.txt.reason", NULL);
    ck_assert_str_eq(text, "older reason\n");
    free(text);
    struct faults f = {0};
    expect_quarantined(&f, "x.txt.1", "file name 'x.txt'");
    /* y.json's reason would have replaced the foreign y.json.reason. */
    expect_quarantined(&f, "y.json.1", "at byte 0");
    ck_assert_no_faults(&f);
    text = read_text("quarantine/y.json.reason", NULL);
    ck_assert_str_eq(text, "a foreign file of that name");
    free(text);
    /* The same name again takes the next free one. */
    drop_report("a.json", "m1", "failed", NULL);
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert(exists("processed/a.json.3"));
    ck_assert_int_eq(count_entries("processed"), 4);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_fails_when_inbox_cannot_be_read)
{
    idm_producer_t *p = new_spool();
    ck_assert_int_eq(rmdir(at("inbox")), 0);
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), IDM_ERR_IO);
    char words[512];
    idm_backend_words(words, sizeof words);
    ck_assert_msg(strstr(words, at("inbox")) != NULL, "words: %s", words);
    ck_assert_int_eq(r.calls, 0);
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_stops_when_a_file_cannot_be_moved)
{
    idm_producer_t *p = new_spool();
    drop_report("a.json", "m-a", "failed", NULL);
    drop_report("b.json", "m-b", "failed", NULL);
    /* Every name a.json may take in processed/ is taken. */
    write_text("processed/a.json", "taken");
    for (int i = 1; i <= 999; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "processed/a.json.%d", i);
        write_text(rel, "taken");
    }
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), IDM_ERR_IO);
    char words[512];
    idm_backend_words(words, sizeof words);
    ck_assert_msg(strstr(words, "inbox/a.json' to processed/: 1000 files of that name") != NULL,
                  "words: %s", words);
    ck_assert_int_eq(r.calls, 1);
    ck_assert(exists("inbox/a.json") && exists("inbox/b.json"));
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_sees_a_recreated_inbox)
{
    idm_producer_t *p = new_spool();
    ck_assert_int_eq(rmdir(at("inbox")), 0);
    ck_assert_int_eq(mkdir(at("inbox"), 0700), 0);
    drop_report("a.json", "m-a", "failed", NULL);
    struct recorder r = {0};
    ck_assert_int_eq(run_status(p, &r), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert(exists("processed/a.json"));
    idm_producer_free(&p);
}
END_TEST

START_TEST(test_status_through_the_library_wrapper)
{
    idm_producer_t *p = new_spool();
    ck_assert_int_eq(rmdir(at("inbox")), 0);
    struct recorder r = {0};
    idm_backend_call_reset();
    int rc = idm_producer_call_end(p->ops.status(NULL, 0, record_report, &r, p->user_data),
                                   "collect status reports");
    ck_assert_idm_error(rc, IDM_ERR_IO, "the producer failed to collect status reports: cannot");
    ck_assert_idm_error(rc, IDM_ERR_IO, at("inbox"));
    idm_producer_free(&p);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("spool_producer");
    TCase *tc = tcase_create("new");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_new_refuses_missing_directory);
    tcase_add_test(tc, test_new_refuses_a_file);
    tcase_add_test(tc, test_new_refuses_empty_and_overlong_paths);
    tcase_add_test(tc, test_new_creates_folders_with_mode_0700);
    tcase_add_test(tc, test_new_keeps_existing_folders_and_files);
    tcase_add_test(tc, test_new_refuses_a_file_in_place_of_a_folder);
    tcase_add_test(tc, test_new_removes_temporary_files_of_dead_processes);
    tcase_add_test(tc, test_free_is_null_safe);
    suite_add_tcase(s, tc);
    tc = tcase_create("submit_cancel");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_submit_writes_exact_bytes_to_outbox);
    tcase_add_test(tc, test_submit_again_replaces_the_order);
    tcase_add_test(tc, test_submit_replaces_a_stale_temporary_file);
    tcase_add_test(tc, test_submit_and_cancel_refuse_bad_message_ids);
    tcase_add_test(tc, test_submit_names_path_when_writing_fails);
    tcase_add_test(tc, test_cancel_removes_order_and_writes_cancel_request);
    tcase_add_test(tc, test_cancel_without_order_still_writes_request);
    suite_add_tcase(s, tc);
    tc = tcase_create("status");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_status_applies_files_in_name_order);
    tcase_add_test(tc, test_status_does_not_report_a_file_twice);
    tcase_add_test(tc, test_status_with_empty_inbox_reports_nothing);
    tcase_add_test(tc, test_status_quarantines_malformed_reports_unapplied);
    tcase_add_test(tc, test_status_quarantines_file_over_64_kib);
    tcase_add_test(tc, test_status_quarantines_symlink_without_following_it);
    tcase_add_test(tc, test_status_quarantines_directory_and_fifo);
    tcase_add_test(tc, test_status_quarantines_bad_names_unread);
    tcase_add_test(tc, test_status_quarantines_long_foreign_name_under_a_shorter_one);
    tcase_add_test(tc, test_status_quarantines_refused_report_with_its_message);
    tcase_add_loop_test(tc, test_status_keeps_file_when_the_library_cannot_decide, 0, 5);
    tcase_add_test(tc, test_status_writes_reason_as_one_line);
    tcase_add_test(tc, test_status_never_overwrites_in_processed_or_quarantine);
    tcase_add_test(tc, test_status_fails_when_inbox_cannot_be_read);
    tcase_add_test(tc, test_status_stops_when_a_file_cannot_be_moved);
    tcase_add_test(tc, test_status_sees_a_recreated_inbox);
    tcase_add_test(tc, test_status_through_the_library_wrapper);
    suite_add_tcase(s, tc);
    return s;
}
