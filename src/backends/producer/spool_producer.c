/*
 * The built-in producer: card orders and status reports travel as files in
 * a spool directory that the bureau (or a transfer job in front of it)
 * shares with the library.  Every file appears under its final name in
 * one rename, after its bytes and then its folder reached the disk, so
 * neither side ever reads half a file or loses one in a crash.  Paths are
 * resolved from a descriptor of the spool taken once, its folders opened
 * again for each call (a folder an operator replaced is seen, not an old
 * one written into unseen), and nothing is followed: a status file is
 * whatever entry sits in the inbox, never what it points to.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/producer/producer_impl.h"
#include "core/buffer_impl.h"
#include "core/error_impl.h"
#include "core/files.h"
#include "core/handle.h"
#include "core/json.h"
#include "model/text.h"

#define DIR_PATH_MAX 3000
#define STATUS_FILE_MAX 65536
#define STATUS_NAME_MAX 128
#define STATUS_MEMBERS_MAX 8
/* A quarantined name keeps at most this many bytes, so that its suffix,
 * ".reason" and the temporary name around it stay within NAME_MAX (255). */
#define KEPT_NAME_MAX 200
#define SUFFIX_MAX 999
#define REASON_MAX 2048

enum folder { OUTBOX, INBOX, PROCESSED, QUARANTINE, TMP, FOLDERS };

static const char *const folder_names[FOLDERS] = {"outbox", "inbox", "processed", "quarantine",
                                                  "tmp"};

struct spool {
    char *dir;
    int spool_fd;
    int fd[FOLDERS]; /* open during a call, else -1 */
    char data[STATUS_FILE_MAX + 1]; /* one status file, and one byte to see it is too long */
};

static const char NAME_RULES[] = "1..128 characters of [A-Za-z0-9._-] ending in \".json\" and "
                                 "not starting with '.'";

/* Fails an ops method.  The words go where idm_producer_call_end() looks
 * first, which a report callback may have filled with another backend's
 * words, and into the detail message as well. */
static int say(int code, const char *fmt, ...) IDM_PRINTF(2, 3);

static int say(int code, const char *fmt, ...)
{
    char words[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(words, sizeof words, fmt, ap);
    va_end(ap);
    idm_backend_say(words);
    return IDM_ERR(code, "%s", words);
}

/* A file name for messages: printable ASCII as is, everything else \xNN
 * (names need not be UTF-8), cut with "..." when out is full. */
static void show(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (n + 8 > size) {
            snprintf(out + n, size - n, "...");
            return;
        }
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            out[n++] = (char)*p;
        else
            n += (size_t)snprintf(out + n, size - n, "\\x%02x", *p);
    }
    out[n] = '\0';
}

static int check_message_id(const char *id)
{
    if (id != NULL && idm_message_id_valid(id))
        return IDM_OK;
    char shown[400];
    show(id != NULL ? id : "", shown, sizeof shown);
    return say(IDM_ERR_INVALID_ARG, "message id '%s' is not 1..128 characters of [A-Za-z0-9._-]",
               shown);
}

static void close_folders(struct spool *s)
{
    for (int f = 0; f < FOLDERS; f++) {
        if (s->fd[f] >= 0)
            close(s->fd[f]);
        s->fd[f] = -1;
    }
}

static int open_folders(struct spool *s)
{
    for (int f = 0; f < FOLDERS; f++) {
        s->fd[f] = openat(s->spool_fd, folder_names[f],
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s->fd[f] < 0) {
            int err = errno;
            close_folders(s);
            return say(IDM_ERR_IO, "cannot open '%s/%s': %s", s->dir, folder_names[f],
                       strerror(err));
        }
    }
    return IDM_OK;
}

/* Writes folder/name through tmp/ so it appears whole or not at all; an
 * existing file of that name is replaced. */
static int write_atomic(struct spool *s, enum folder folder, const char *name, const char *data,
                        size_t len)
{
    char tmp[300];
    const char *step = "";
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", name, (long)getpid());
    if (idm_file_write_atomic(s->fd[TMP], tmp, s->fd[folder], name, data, len, &step) == 0)
        return IDM_OK;
    return say(IDM_ERR_IO, "cannot %s '%s/%s/%s' (through tmp/%s): %s", step, s->dir,
               folder_names[folder], name, tmp, strerror(errno));
}

/* Moves inbox/name into folder under the first free name of name, name.1,
 * name.2, ... whose ".reason" is free too (a foreign file may be called
 * "x.json.reason"); the final name goes to moved.  Checking before the
 * rename is enough: only this process writes into processed/ and
 * quarantine/. */
static int move_unique(struct spool *s, const char *name, enum folder folder, char *moved,
                       size_t size)
{
    char shown[1100];
    show(name, shown, sizeof shown);
    struct stat st;
    char reason[KEPT_NAME_MAX + 16];
    for (int suffix = 0; suffix <= SUFFIX_MAX; suffix++) {
        if (suffix == 0)
            snprintf(moved, size, "%.*s", KEPT_NAME_MAX, name);
        else
            snprintf(moved, size, "%.*s.%d", KEPT_NAME_MAX, name, suffix);
        snprintf(reason, sizeof reason, "%s.reason", moved);
        if (fstatat(s->fd[folder], moved, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
            (errno == ENOENT && fstatat(s->fd[folder], reason, &st, AT_SYMLINK_NOFOLLOW) == 0))
            continue;
        if (errno != ENOENT)
            return say(IDM_ERR_IO, "cannot move '%s/inbox/%s' to %s/: %s", s->dir, shown,
                       folder_names[folder], strerror(errno));
        if (renameat(s->fd[INBOX], name, s->fd[folder], moved) != 0)
            return say(IDM_ERR_IO, "cannot move '%s/inbox/%s' to %s/: %s", s->dir, shown,
                       folder_names[folder], strerror(errno));
        if (fsync(s->fd[folder]) != 0 || fsync(s->fd[INBOX]) != 0)
            return say(IDM_ERR_IO, "cannot sync the folders of '%s': %s", s->dir, strerror(errno));
        return IDM_OK;
    }
    return say(IDM_ERR_IO, "cannot move '%s/inbox/%s' to %s/: %d files of that name are there",
               s->dir, shown, folder_names[folder], SUFFIX_MAX + 1);
}

/* Keeps a refused status file aside with its reason as one line of UTF-8
 * beside it, whatever bytes the reason came with. */
static int quarantine(struct spool *s, const char *name, const char *reason)
{
    char moved[KEPT_NAME_MAX + 8];
    int rc = move_unique(s, name, QUARANTINE, moved, sizeof moved);
    if (rc != IDM_OK)
        return rc;
    char line[REASON_MAX + 1];
    size_t len = (size_t)snprintf(line, sizeof line - 1, "%s", reason);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = ' ';
    }
    size_t bad;
    while (!idm_utf8_valid(line, len, &bad))
        line[bad] = '?';
    line[len++] = '\n';
    char reason_name[KEPT_NAME_MAX + 16];
    snprintf(reason_name, sizeof reason_name, "%s.reason", moved);
    return write_atomic(s, QUARANTINE, reason_name, line, len);
}

static int name_acceptable(const char *name)
{
    size_t n = strlen(name);
    if (n < 6 || n > STATUS_NAME_MAX || name[0] == '.' || strcmp(name + n - 5, ".json") != 0)
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static const char *file_kind(mode_t mode)
{
    return S_ISLNK(mode)    ? "a symbolic link"
           : S_ISDIR(mode)  ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISSOCK(mode) ? "a socket"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
                            : "of an unknown kind";
}

static int refuse_kind(mode_t mode, char *why, size_t why_size)
{
    snprintf(why, why_size, "the entry is %s, not a regular file", file_kind(mode));
    return 0;
}

/* Reads inbox/name into s->data.  1: read (*len bytes); 0: refused, with
 * the reason in why; -1: the entry vanished. */
static int read_status_file(struct spool *s, const char *name, size_t *len, char *why,
                            size_t why_size)
{
    struct stat st;
    if (fstatat(s->fd[INBOX], name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return -1;
        snprintf(why, why_size, "cannot look at the file: %s", strerror(errno));
        return 0;
    }
    if (!S_ISREG(st.st_mode))
        return refuse_kind(st.st_mode, why, why_size);
    /* The entry may have been swapped since: O_NOFOLLOW refuses a link,
     * O_NONBLOCK keeps a FIFO from hanging us, and fstat says what it is. */
    int fd = openat(s->fd[INBOX], name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return -1;
        snprintf(why, why_size, "cannot open the file: %s", strerror(errno));
        return 0;
    }
    if (fstat(fd, &st) != 0)
        st.st_mode = 0;
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return refuse_kind(st.st_mode, why, why_size);
    }
    size_t n = 0;
    int err = 0;
    while (st.st_size <= STATUS_FILE_MAX && n <= STATUS_FILE_MAX) {
        ssize_t k = read(fd, s->data + n, sizeof s->data - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            err = k < 0 ? errno : 0;
            break;
        }
        n += (size_t)k;
    }
    close(fd);
    if (st.st_size > STATUS_FILE_MAX || n > STATUS_FILE_MAX) {
        snprintf(why, why_size, "file is %lld bytes; at most %d",
                 (long long)(n > (size_t)st.st_size ? (off_t)n : st.st_size), STATUS_FILE_MAX);
        return 0;
    }
    if (err != 0) {
        snprintf(why, why_size, "cannot read the file: %s", strerror(err));
        return 0;
    }
    *len = n;
    return 1;
}

/* Checks the members of a status file; IDM_OK, or a reason in why. */
static int check_report(const struct idm_json_member *m, size_t n, idm_bureau_status *status,
                        char *why, size_t why_size)
{
    static const char *const known[] = {"message_id", "status", "chip_serial", "shipment",
                                        "reason"};
    char shown[400];
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(m[i].key, known[k]) != 0)
            k++;
        if (k == sizeof known / sizeof known[0]) {
            show(m[i].key, shown, sizeof shown);
            snprintf(why, why_size, "unknown member '%s'; a status file has message_id, status, "
                     "chip_serial, shipment and reason", shown);
            return IDM_ERR_PARSE;
        }
    }
    const char *id = idm_json_member_get(m, n, "message_id");
    const char *word = idm_json_member_get(m, n, "status");
    if (id == NULL || word == NULL) {
        snprintf(why, why_size, "member '%s' is missing", id == NULL ? "message_id" : "status");
        return IDM_ERR_PARSE;
    }
    if (!idm_message_id_valid(id)) {
        show(id, shown, sizeof shown);
        snprintf(why, why_size, "message id '%s' is not 1..128 characters of [A-Za-z0-9._-]",
                 shown);
        return IDM_ERR_PARSE;
    }
    const idm_bureau_status all[] = {IDM_BUREAU_IN_PRODUCTION, IDM_BUREAU_PRODUCED,
                                     IDM_BUREAU_FAILED};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        if (strcmp(word, idm_bureau_status_name(all[k])) == 0) {
            *status = all[k];
            return IDM_OK;
        }
    }
    show(word, shown, sizeof shown);
    snprintf(why, why_size, "status '%s' is not in_production, produced or failed", shown);
    return IDM_ERR_PARSE;
}

/* One inbox entry: applied and moved to processed/, or quarantined. */
static int take_status_file(struct spool *s, const char *name, idm_bureau_report_fn report,
                            void *report_data)
{
    char why[REASON_MAX];
    if (!name_acceptable(name)) {
        char shown[1100];
        show(name, shown, sizeof shown);
        snprintf(why, sizeof why, "file name '%s' is not %s", shown, NAME_RULES);
        return quarantine(s, name, why);
    }
    size_t len = 0;
    int got = read_status_file(s, name, &len, why, sizeof why);
    if (got <= 0)
        return got < 0 ? IDM_OK : quarantine(s, name, why);
    struct idm_json_member *m = NULL;
    size_t n = 0;
    idm_bureau_status status = IDM_BUREAU_FAILED;
    int parsed = idm_json_parse_strings(s->data, len, STATUS_MEMBERS_MAX, &m, &n);
    if (parsed != IDM_OK) {
        snprintf(why, sizeof why, "%s", idm_last_error_message());
        /* Out of memory is not a bad file (found by the fault sweep). */
        if (!idm_error_is_refusal(parsed))
            return say(parsed, "status file '%s' stays in the inbox: %s", name, why);
        return quarantine(s, name, why);
    }
    int rc = check_report(m, n, &status, why, sizeof why);
    if (rc == IDM_OK) {
        idm_error_clear();
        rc = report(idm_json_member_get(m, n, "message_id"), status,
                    idm_json_member_get(m, n, "chip_serial"), idm_json_member_get(m, n, "shipment"),
                    idm_json_member_get(m, n, "reason"), report_data);
        if (rc != 0)
            snprintf(why, sizeof why, "%s", *idm_last_error_message() != '\0'
                                                ? idm_last_error_message()
                                                : "the library refused the report");
    }
    idm_json_members_free(m, n);
    /* The library could not decide (its store, memory or hashing failed):
     * the report is not bad, so it stays in the inbox for the next run, and
     * the run stops.  Only a refusal on the report's merits quarantines. */
    if (rc != 0 && !idm_error_is_refusal(rc))
        return say(rc, "status file '%s' stays in the inbox: %s", name, why);
    if (rc != 0)
        return quarantine(s, name, why);
    char moved[KEPT_NAME_MAX + 8];
    return move_unique(s, name, PROCESSED, moved, sizeof moved);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The inbox's entry names, sorted, so that reports about one card made in
 * order and named in order are applied in order. */
static int list_inbox(struct spool *s, char ***names, size_t *count)
{
    *names = NULL;
    *count = 0;
    int fd = openat(s->fd[INBOX], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return say(IDM_ERR_IO, "cannot open '%s/inbox': %s", s->dir, strerror(err));
    }
    size_t cap = 0;
    int rc = IDM_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0)
                rc = say(IDM_ERR_IO, "cannot read '%s/inbox': %s", s->dir, strerror(errno));
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (*count == cap) {
            cap = cap != 0 ? cap * 2 : 16;
            char **grown = realloc(*names, cap * sizeof *grown);
            if (grown == NULL) {
                rc = say(IDM_ERR_NO_MEMORY, "cannot list '%s/inbox'", s->dir);
                break;
            }
            *names = grown;
        }
        if (((*names)[*count] = strdup(e->d_name)) == NULL) {
            rc = say(IDM_ERR_NO_MEMORY, "cannot list '%s/inbox'", s->dir);
            break;
        }
        (*count)++;
    }
    closedir(d);
    if (*count > 0)
        qsort(*names, *count, sizeof **names, compare_names);
    return rc;
}

static int spool_status(const char *const *message_ids, size_t count, idm_bureau_report_fn report,
                        void *report_data, void *user_data)
{
    (void)message_ids;
    (void)count;
    struct spool *s = user_data;
    char **names = NULL;
    size_t n = 0;
    int rc = open_folders(s);
    if (rc != IDM_OK)
        return rc;
    rc = list_inbox(s, &names, &n);
    for (size_t i = 0; i < n; i++) {
        /* One file that cannot be moved stops the run: going on would
         * report the rest while that one stays and is reported again. */
        if (rc == IDM_OK)
            rc = take_status_file(s, names[i], report, report_data);
        free(names[i]);
    }
    free(names);
    close_folders(s);
    return rc;
}

static int spool_submit(const char *message_id, const char *order_json, size_t len,
                        void *user_data)
{
    struct spool *s = user_data;
    int rc = check_message_id(message_id);
    if (rc != IDM_OK)
        return rc;
    if ((rc = open_folders(s)) != IDM_OK)
        return rc;
    char name[STATUS_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s.json", message_id);
    rc = write_atomic(s, OUTBOX, name, order_json, len);
    close_folders(s);
    return rc;
}

/* The order goes if the bureau has not taken it yet; the request covers the
 * case that it has. */
static int write_cancel(struct spool *s, const char *message_id)
{
    char name[STATUS_NAME_MAX + 16];
    snprintf(name, sizeof name, "%s.json", message_id);
    if (unlinkat(s->fd[OUTBOX], name, 0) != 0 && errno != ENOENT)
        return say(IDM_ERR_IO, "cannot remove '%s/outbox/%s': %s", s->dir, name, strerror(errno));
    struct idm_buffer quoted = {.magic = IDM_MAGIC_BUFFER};
    if (idm_json_put_string(&quoted, message_id) != IDM_OK)
        return say(IDM_ERR_NO_MEMORY, "cannot write the cancel request for '%s'", message_id);
    char text[STATUS_NAME_MAX + 32];
    int len = snprintf(text, sizeof text, "{\"cancel\":%.*s}\n", (int)quoted.len,
                       (const char *)quoted.data);
    free(quoted.data);
    snprintf(name, sizeof name, "%s.cancel.json", message_id);
    return write_atomic(s, OUTBOX, name, text, (size_t)len);
}

static int spool_cancel(const char *message_id, void *user_data)
{
    struct spool *s = user_data;
    int rc = check_message_id(message_id);
    if (rc != IDM_OK || (rc = open_folders(s)) != IDM_OK)
        return rc;
    rc = write_cancel(s, message_id);
    close_folders(s);
    return rc;
}

const idm_producer_ops idm_spool_producer_ops = {IDM_PRODUCER_OPS_VERSION,
                                                 (uint32_t)sizeof(idm_producer_ops), spool_submit,
                                                 spool_status, spool_cancel};

/* Creates dir/<folder> (mode 0700) unless it is there; a folder is never
 * a link, so that no call is led out of the spool. */
static int create_folder(const struct spool *s, enum folder f)
{
    const char *name = folder_names[f];
    if (mkdirat(s->spool_fd, name, 0700) != 0 && errno != EEXIST)
        return IDM_ERR(IDM_ERR_IO, "cannot create '%s/%s': %s", s->dir, name, strerror(errno));
    struct stat st;
    if (fstatat(s->spool_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return IDM_ERR(IDM_ERR_IO, "cannot look at '%s/%s': %s", s->dir, name, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return IDM_ERR(IDM_ERR_IO, "'%s/%s' is %s, not a directory", s->dir, name,
                       S_ISREG(st.st_mode) ? "a regular file" : file_kind(st.st_mode));
    return IDM_OK;
}

int idm_spool_producer_new(void **out, const char *dir)
{
    *out = NULL;
    size_t len = strlen(dir);
    if (len == 0 || len > DIR_PATH_MAX)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'dir' has %zu bytes; 1..%d "
                       "are allowed", len, DIR_PATH_MAX);
    struct spool *s = calloc(1, sizeof *s);
    if (s == NULL || (s->dir = strdup(dir)) == NULL) {
        free(s);
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a spool producer");
    }
    for (int f = 0; f < FOLDERS; f++)
        s->fd[f] = -1;
    int rc = IDM_OK;
    s->spool_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->spool_fd < 0)
        rc = IDM_ERR(IDM_ERR_IO, "cannot open the spool directory '%s': %s", dir,
                     strerror(errno));
    for (int f = 0; f < FOLDERS && rc == IDM_OK; f++)
        rc = create_folder(s, (enum folder)f);
    /* Orders a killed process was writing: it submits them again with the
     * same id when it runs again, so the half-written copies can go. */
    if (rc == IDM_OK && (rc = open_folders(s)) == IDM_OK) {
        if (idm_file_sweep_dead(s->fd[TMP], ".tmp") < 0)
            rc = say(IDM_ERR_IO, "cannot read '%s/tmp': %s", s->dir, strerror(errno));
        close_folders(s);
    }
    if (rc != IDM_OK) {
        idm_spool_producer_free(s);
        return rc;
    }
    *out = s;
    return IDM_OK;
}

void idm_spool_producer_free(void *user_data)
{
    struct spool *s = user_data;
    if (s == NULL)
        return;
    close_folders(s);
    if (s->spool_fd >= 0)
        close(s->spool_fd);
    free(s->dir);
    free(s);
}
