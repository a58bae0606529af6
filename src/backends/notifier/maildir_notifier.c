/*
 * The built-in notifier: each notification becomes an RFC 5322 message
 * delivered into a maildir the classic way (write to tmp/, fsync, rename
 * into new/), so a mail reader or a forwarding agent never sees half a
 * message and a crash leaves at most a stale file in tmp/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "backends/notifier/notifier_impl.h"
#include "backends/producer/producer_impl.h"
#include "core/error_impl.h"
#include "core/files.h"
#include "model/text.h"

#define MAILDIR_DIR_MAX 3000
#define ADDRESS_MAX 254 /* RFC 5321's limit on a forward path's address */
#define LINE_MAX_OCTETS 998 /* RFC 5322 2.1.1, without the CRLF */
/* "=?UTF-8?B?" + base64 + "?=" in at most 75 characters (RFC 2047 2):
 * 60 base64 characters, so 45 bytes of subject per word. */
#define WORD_BYTES 45

/* Error messages show at most this much of the maildir's path (its end),
 * so that the system's words after it still fit. */
#define SHOWN_DIR_MAX 300

/* What may follow "<id>.eml" in a file name (always '.' or an id character
 * for another id, so anything else is this message with reader flags). */
#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

struct maildir {
    int fd; /* the maildir itself: every later path is relative to it */
    char *dir;
    char shown_dir[SHOWN_DIR_MAX + 4];
    char from[ADDRESS_MAX + 1];
};

/* ---- text checks ------------------------------------------------------ */

/* A value as it may appear in a message: printable ASCII, the rest as
 * \xNN, cut with "..." so that a long value leaves room for the reason. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t used = 0;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        size_t need = c >= 0x20 && c < 0x7f ? 1 : 4;
        if (used + need + 4 > size) {
            memcpy(buf + used, "...", 4);
            return buf;
        }
        if (need == 1)
            buf[used] = (char)c;
        else
            snprintf(buf + used, 5, "\\x%02x", c);
        used += need;
    }
    buf[used] = '\0';
    return buf;
}

/* NULL if s is an address this notifier puts in a header as is: one local
 * part, one '@', one domain, nothing that would need quoting or could
 * start a comment, a group or a second address. */
static const char *address_problem(const char *s, char *why, size_t size)
{
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    if (len == 0)
        return "is empty";
    if (len > ADDRESS_MAX) {
        snprintf(why, size, "has %zu characters; at most %d", len, ADDRESS_MAX);
        return why;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t')
            snprintf(why, size, "has a blank at offset %zu", i);
        else if (c < 0x20 || c >= 0x7f)
            snprintf(why, size, "byte %zu is 0x%02x, not printable ASCII", i, c);
        else if (strchr("<>\"(),;:\\", c) != NULL)
            snprintf(why, size, "has '%c' at offset %zu, which needs quoting in a header", c, i);
        else
            continue;
        return why;
    }
    if (at == NULL)
        return "has no '@'";
    if (strchr(at + 1, '@') != NULL)
        return "has more than one '@'";
    if (at == s)
        return "has nothing before the '@'";
    if (at[1] == '\0')
        return "has nothing after the '@'";
    return NULL;
}

/* ---- message composition ---------------------------------------------- */

struct out {
    char *p;
    size_t len;
    size_t cap;
    int failed;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap == 0 ? 4096 : o->cap;
        while (o->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (p == NULL) {
            o->failed = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/*
 * The Subject header.  A subject goes as is only when readers will give
 * back exactly the same text: printable ASCII, no "=?" a reader would take
 * for an encoded word, no leading blank (parsers drop it), and short enough
 * for one line.  Anything else becomes RFC 2047 encoded words, cut between
 * UTF-8 characters because each word must decode on its own (RFC 2047 5),
 * folded one per line so that no line grows past the limit.
 */
static void put_subject(struct out *o, const char *subject)
{
    static const char name[] = "Subject: ";
    size_t len = strlen(subject);
    int plain = strstr(subject, "=?") == NULL && subject[0] != ' ' &&
                sizeof name - 1 + len <= LINE_MAX_OCTETS;
    for (size_t i = 0; plain && i < len; i++)
        plain = (unsigned char)subject[i] >= 0x20 && (unsigned char)subject[i] < 0x7f;
    put_str(o, name);
    if (plain) {
        put(o, subject, len);
        put(o, "\r\n", 2);
        return;
    }
    for (size_t at = 0; at < len;) {
        size_t end = at + WORD_BYTES < len ? at + WORD_BYTES : len;
        while (end < len && ((unsigned char)subject[end] & 0xc0) == 0x80)
            end--; /* back to the first byte of the character cut in two */
        unsigned char b64[4 * WORD_BYTES / 3 + 1];
        int n = EVP_EncodeBlock(b64, (const unsigned char *)subject + at, (int)(end - at));
        if (at > 0)
            put(o, "\r\n ", 3);
        put_str(o, "=?UTF-8?B?");
        put(o, (const char *)b64, (size_t)n);
        put_str(o, "?=");
        at = end;
    }
    put(o, "\r\n", 2);
}

/* RFC 5322 3.3 in UTC, with English names whatever the locale says. */
static void put_date(struct out *o, time_t now)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL) {
        now = 0; /* a clock past year 2^31: the epoch is wrong but well-formed */
        gmtime_r(&now, &tm);
    }
    char line[160]; /* room for any int the compiler thinks tm may hold */
    snprintf(line, sizeof line, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
             days[(unsigned)tm.tm_wday % 7], tm.tm_mday, months[(unsigned)tm.tm_mon % 12],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    put_str(o, line);
}

static void compose(struct out *o, const struct maildir *m, const char *id,
                    idm_notification_kind kind, const char *to, const char *subject,
                    const char *body)
{
    put_str(o, "From: ");
    put_str(o, m->from);
    put_str(o, "\r\nTo: ");
    put_str(o, to);
    put_str(o, "\r\n");
    put_subject(o, subject);
    put_date(o, time(NULL));
    put_str(o, "Message-ID: <");
    put_str(o, id);
    put_str(o, "@libidm>\r\nMIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=UTF-8\r\n"
             "Content-Transfer-Encoding: 8bit\r\n"
             "X-Libidm-Notification: ");
    put_str(o, idm_notification_kind_name(kind));
    put_str(o, "\r\n\r\n");
    /* Lines end in "\n"; a CR is dropped wherever it is, so a host's CRLF
     * text and stray CRs both end up as exactly one CRLF per line. */
    int open_line = 0;
    for (const char *p = body; *p != '\0';) {
        size_t n = strcspn(p, "\r\n");
        put(o, p, n);
        open_line |= n > 0;
        p += n;
        if (*p == '\n') {
            put(o, "\r\n", 2);
            open_line = 0;
        }
        if (*p != '\0')
            p++;
    }
    if (open_line)
        put(o, "\r\n", 2);
}

/* ---- the maildir -------------------------------------------------------- */

/* The send method's words for a failed system call on dir/rel. */
static int say_io(const struct maildir *m, const char *what, const char *rel, int err)
{
    char words[1024]; /* idm_backend_say() keeps 511 bytes, enough for a shown dir */
    snprintf(words, sizeof words, "%s%s/%s: %s", what, m->shown_dir, rel, strerror(err));
    idm_backend_say(words);
    return IDM_ERR_IO;
}

/* 1 if the message is in new/ or, renamed by a reader to "<id>.eml:2,<flags>"
 * (or ",S=<size>:2,<flags>", or with another separator), in cur/; 0 if not;
 * a negative code if a folder cannot be read. */
static int delivered(const struct maildir *m, const char *name)
{
    char rel[256];
    struct stat st;
    snprintf(rel, sizeof rel, "new/%s", name);
    /* The folders themselves are never followed (as in delivery): a new/
     * or cur/ swapped for a link would show a message outside the maildir
     * as delivered, and this one would never be. */
    int new_fd = openat(m->fd, "new", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (new_fd < 0)
        return say_io(m, "", "new", errno);
    int found_new = fstatat(new_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    int err_new = errno;
    close(new_fd);
    if (found_new)
        return 1;
    if (err_new != ENOENT)
        return say_io(m, "", rel, err_new);
    int fd = openat(m->fd, "cur", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return say_io(m, "", "cur", err);
    }
    size_t n = strlen(name);
    int found = 0;
    struct dirent *e;
    errno = 0;
    while (!found && (e = readdir(d)) != NULL)
        found = strncmp(e->d_name, name, n) == 0 &&
                (e->d_name[n] == '\0' || strchr(ID_CHARS, e->d_name[n]) == NULL);
    int err = errno;
    closedir(d);
    if (!found && err != 0)
        return say_io(m, "", "cur", err);
    return found;
}

static int fsync_dir(int dirfd, const char *rel)
{
    int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

/* Maildir delivery of data as new/<name>: complete and on disk before the
 * rename makes it visible, and the rename itself on disk before success. */
static int deliver_atomically(const struct maildir *m, const char *id, const char *name,
                              const char *data, size_t len)
{
    char tmp[256];
    const char *step = "";
    snprintf(tmp, sizeof tmp, "%s.%ld.eml", id, (long)getpid());
    int tmp_fd = openat(m->fd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tmp_fd < 0)
        return say_io(m, "", "tmp", errno);
    int new_fd = openat(m->fd, "new", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (new_fd < 0) {
        int err = errno;
        close(tmp_fd);
        return say_io(m, "", "new", err);
    }
    int rc = idm_file_write_atomic(tmp_fd, tmp, new_fd, name, data, len, &step);
    int err = errno;
    close(tmp_fd);
    close(new_fd);
    if (rc == 0)
        return IDM_OK;
    char where[300];
    if (strcmp(step, "rename") == 0) {
        snprintf(where, sizeof where, "new/%s", name);
        return say_io(m, "cannot move the message to ", where, err);
    }
    if (strcmp(step, "sync") == 0)
        return say_io(m, "", "new", err);
    snprintf(where, sizeof where, "tmp/%s", tmp);
    return say_io(m, "", where, err);
}

/* The number (from 1) of the first body line longer than 8bit allows, CRs
 * not counted as they are dropped; 0 if none.  *octets receives its length. */
static size_t overlong_line(const char *body, size_t *octets)
{
    size_t line = 1;
    *octets = 0;
    for (const char *p = body;; p++) {
        if (*p == '\n' || *p == '\0') {
            if (*octets > LINE_MAX_OCTETS)
                return line;
            if (*p == '\0')
                return 0;
            line++;
            *octets = 0;
        } else if (*p != '\r') {
            (*octets)++;
        }
    }
}

/* Refuses what would make a malformed message rather than sending it; a
 * long body line is refused, not broken, as breaking it changes the text. */
static int check_message(const char *id, const char *to, const char *subject, const char *body)
{
    char words[512], why[128], show[160];
    size_t bad = 0, len, line, octets;
    const char *problem;
    if (id == NULL || to == NULL || subject == NULL || body == NULL)
        snprintf(words, sizeof words, "argument '%s' is NULL",
                 id == NULL ? "message_id" : to == NULL ? "to" : subject == NULL ? "subject"
                                                                                : "body");
    else if (!idm_message_id_valid(id))
        snprintf(words, sizeof words, "argument 'message_id' is '%s': not 1..128 of "
                 "[A-Za-z0-9._-]", shown(id, show, sizeof show));
    else if ((problem = address_problem(to, why, sizeof why)) != NULL)
        snprintf(words, sizeof words, "argument 'to' is '%s': %s", shown(to, show, sizeof show),
                 problem);
    else if ((len = strlen(subject)) > LINE_MAX_OCTETS)
        snprintf(words, sizeof words, "argument 'subject' has %zu bytes; at most %d", len,
                 LINE_MAX_OCTETS);
    else if (!idm_utf8_valid(subject, len, &bad))
        snprintf(words, sizeof words, "argument 'subject' is not valid UTF-8 (byte %zu)", bad);
    else if ((bad = strcspn(subject, "\r\n")) < len)
        snprintf(words, sizeof words, "argument 'subject' has a line break at byte %zu", bad);
    else if (!idm_utf8_valid(body, strlen(body), &bad))
        snprintf(words, sizeof words, "argument 'body' is not valid UTF-8 (byte %zu)", bad);
    else if ((line = overlong_line(body, &octets)) != 0)
        snprintf(words, sizeof words, "line %zu of argument 'body' has %zu bytes; at most %d",
                 line, octets, LINE_MAX_OCTETS);
    else
        return IDM_OK;
    idm_backend_say(words);
    return IDM_ERR_INVALID_ARG;
}

static int maildir_send(const char *message_id, idm_notification_kind kind, const char *to,
                        const char *subject, const char *body, void *user_data)
{
    const struct maildir *m = user_data;
    int rc = check_message(message_id, to, subject, body);
    if (rc != IDM_OK)
        return rc;
    char name[160];
    snprintf(name, sizeof name, "%s.eml", message_id);
    rc = delivered(m, name);
    if (rc != 0)
        return rc > 0 ? IDM_OK : rc; /* a retry of a message that got through */
    struct out o = {NULL, 0, 0, 0};
    compose(&o, m, message_id, kind, to, subject, body);
    if (o.failed) {
        free(o.p);
        idm_backend_say("cannot allocate the message");
        return IDM_ERR_NO_MEMORY;
    }
    rc = deliver_atomically(m, message_id, name, o.p, o.len);
    free(o.p);
    return rc;
}

const idm_notifier_ops idm_maildir_notifier_ops = {
    .version = IDM_NOTIFIER_OPS_VERSION,
    .size = (uint32_t)sizeof(idm_notifier_ops),
    .send = maildir_send,
};

/* Makes a new maildir's own entry durable.  Best effort: a parent the
 * process may write but not read is a usable place for a maildir. */
static void sync_parent_of(const char *dir)
{
    char *parent = strdup(dir);
    if (parent == NULL)
        return;
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash != NULL)
        slash[slash == parent ? 1 : 0] = '\0';
    (void)fsync_dir(AT_FDCWD, slash == NULL ? "." : parent);
    free(parent);
}

static int open_maildir(struct maildir *m)
{
    int created = mkdir(m->dir, 0700) == 0;
    if (!created && errno != EEXIST)
        return IDM_ERR(IDM_ERR_IO, "cannot create the maildir %s: %s", m->shown_dir,
                       strerror(errno));
    m->fd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m->fd < 0)
        return IDM_ERR(IDM_ERR_IO, "cannot open the maildir %s: %s", m->shown_dir,
                       strerror(errno));
    static const char *const folders[] = {"tmp", "new", "cur"};
    int made = 0;
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        if (mkdirat(m->fd, folders[i], 0700) == 0) {
            made = 1;
            continue;
        }
        int err = errno;
        if (err == EEXIST && fstatat(m->fd, folders[i], &st, 0) != 0)
            err = errno;
        else if (err == EEXIST && !S_ISDIR(st.st_mode))
            err = ENOTDIR;
        else if (err == EEXIST)
            continue;
        return IDM_ERR(IDM_ERR_IO, "cannot create %s/%s: %s", m->shown_dir, folders[i],
                       strerror(err));
    }
    if (made && fsync(m->fd) != 0)
        return IDM_ERR(IDM_ERR_IO, "cannot sync %s: %s", m->shown_dir, strerror(errno));
    if (created)
        sync_parent_of(m->dir);
    return IDM_OK;
}

int idm_maildir_notifier_new(void **out, const char *dir, const char *from)
{
    char why[128], show[160];
    const char *problem;
    size_t len = strlen(dir);
    if (len == 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'dir' is empty");
    if (len > MAILDIR_DIR_MAX)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'dir' has %zu bytes; at most %d", len,
                       MAILDIR_DIR_MAX);
    if ((problem = address_problem(from, why, sizeof why)) != NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'from' is '%s': %s",
                       shown(from, show, sizeof show), problem);
    struct maildir *m = calloc(1, sizeof *m);
    if (m == NULL || (m->dir = strdup(dir)) == NULL) {
        free(m);
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a maildir notifier");
    }
    m->fd = -1;
    snprintf(m->shown_dir, sizeof m->shown_dir, "%s%s", len > SHOWN_DIR_MAX ? "..." : "",
             dir + (len > SHOWN_DIR_MAX ? len - SHOWN_DIR_MAX : 0));
    memcpy(m->from, from, strlen(from) + 1);
    int rc = open_maildir(m);
    /* Messages a killed process was writing: it delivers them again. */
    int tmp_fd = rc == IDM_OK ? openat(m->fd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                                         O_CLOEXEC)
                              : -1;
    if (rc == IDM_OK && (tmp_fd < 0 || idm_file_sweep_dead(tmp_fd, ".eml") < 0))
        rc = IDM_ERR(IDM_ERR_IO, "cannot read %s/tmp: %s", m->shown_dir, strerror(errno));
    if (tmp_fd >= 0)
        close(tmp_fd);
    if (rc != IDM_OK) {
        idm_maildir_notifier_free(m);
        return rc;
    }
    *out = m;
    return IDM_OK;
}

void idm_maildir_notifier_free(void *user_data)
{
    struct maildir *m = user_data;
    if (m == NULL)
        return;
    if (m->fd >= 0)
        close(m->fd);
    free(m->dir);
    free(m);
}
