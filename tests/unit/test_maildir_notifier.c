/* White-box: the built-in maildir notifier (src/backends/notifier/maildir_notifier.c),
 * driven through the ops table of the handle that idm_notifier_new_maildir() makes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <idm/idm.h>
#include <idm/notifier.h>

#include "backends/notifier/notifier_impl.h"
#include "core/error_impl.h"
#include "model/text.h"
#include "fixtures.h"
#include "runner.h"

#define FROM "cards@corp.example"
#define TO "jane.doe@example.org"
#define LONG_SUBJECT                                                                         \
    "Ihre Karte f\xc3\xbcr J\xc3\xbcrgen M\xc3\xbcller-L\xc3\xbc" "denscheidt ist bestellt "  \
    "\xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9"  \
    "\xe3\x83\x88 mit genug L\xc3\xa4nge f\xc3\xbcr zwei W\xc3\xb6rter"

/* ---- scratch directories ---------------------------------------------- */

static char scratch[512];

static void scratch_make(void)
{
    fixture_scratch_dir("maildir-notifier", scratch, sizeof scratch);
}

static void scratch_remove(void)
{
    fixture_remove_tree(scratch);
}

/* scratch/<rel>, in a rotating set of buffers so that a few can be alive. */
static const char *at(const char *rel)
{
    static char bufs[4][2048];
    static unsigned next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", scratch, rel);
    return b;
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot list %s: %s", dir, strerror(errno));
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    char *data = malloc(1 << 16);
    ck_assert_ptr_nonnull(data);
    *len = fread(data, 1, (1 << 16) - 1, f);
    ck_assert(feof(f));
    fclose(f);
    data[*len] = '\0';
    return data;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- the notifier ------------------------------------------------------ */

static idm_notifier_t *maildir_open(const char *dir)
{
    idm_notifier_t *n = NULL;
    ck_ok(idm_notifier_new_maildir(&n, dir, FROM));
    ck_assert_ptr_nonnull(n);
    return n;
}

/* One call of the send method, as the workflow makes it. */
static int send_one(idm_notifier_t *n, const char *id, const char *to, const char *subject,
                    const char *body)
{
    idm_backend_call_reset();
    return n->ops.send(id, IDM_NOTIFY_CARD_ORDERED, to, subject, body, n->user_data);
}

/* Every line ends in CRLF, no CR or LF elsewhere, no line over 998 octets. */
static void assert_crlf_lines(const char *msg, size_t len)
{
    ck_assert_msg(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n',
                  "the message does not end in CRLF");
    size_t line_start = 0;
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '\r')
            ck_assert_msg(i + 1 < len && msg[i + 1] == '\n', "a lone CR at byte %zu", i);
        if (msg[i] == '\n') {
            ck_assert_msg(i > 0 && msg[i - 1] == '\r', "a lone LF at byte %zu", i);
            ck_assert_msg(i - 1 - line_start <= 998, "a line of %zu octets at byte %zu",
                          i - 1 - line_start, line_start);
            line_start = i + 1;
        }
    }
}

/* The unfolded value of a header field (CRLFs before continuation blanks
 * taken out), or NULL.  Free it. */
static char *header(const char *msg, const char *name)
{
    const char *end = strstr(msg, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    size_t n = strlen(name);
    for (const char *line = msg; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncmp(line, name, n) != 0 || line[n] != ':')
            continue;
        const char *v = line + n + 1;
        while (*v == ' ')
            v++;
        char *out = malloc(strlen(v) + 1);
        ck_assert_ptr_nonnull(out);
        size_t o = 0;
        for (;;) {
            size_t k = (size_t)(strstr(v, "\r\n") - v);
            memcpy(out + o, v, k);
            o += k;
            v += k + 2;
            if (*v != ' ' && *v != '\t')
                break;
        }
        out[o] = '\0';
        return out;
    }
    return NULL;
}

static void assert_header(const char *msg, const char *name, const char *value)
{
    char *got = header(msg, name);
    ck_assert_msg(got != NULL, "no %s header in:\n%s", name, msg);
    ck_assert_str_eq(got, value);
    free(got);
}

/* Decodes a Subject of "=?UTF-8?B?...?=" words, each checked on its own. */
static char *decode_words(const char *value)
{
    char *out = calloc(1, strlen(value) + 1);
    ck_assert_ptr_nonnull(out);
    size_t used = 0;
    for (const char *w = value; *w != '\0';) {
        size_t wlen = strcspn(w, " ");
        ck_assert_msg(wlen <= 75, "an encoded word of %zu characters: %.*s", wlen, (int)wlen, w);
        ck_assert_msg(wlen > 12 && strncmp(w, "=?UTF-8?B?", 10) == 0 &&
                          strncmp(w + wlen - 2, "?=", 2) == 0,
                      "not an encoded word: %.*s", (int)wlen, w);
        size_t b64 = wlen - 12;
        ck_assert_uint_eq(b64 % 4, 0);
        int n = EVP_DecodeBlock((unsigned char *)out + used, (const unsigned char *)w + 10,
                                (int)b64);
        ck_assert_int_ge(n, 0);
        n -= (w[wlen - 3] == '=') + (w[wlen - 4] == '=');
        size_t bad = 0;
        ck_assert_msg(idm_utf8_valid(out + used, (size_t)n, &bad),
                      "the word %.*s splits a UTF-8 character", (int)wlen, w);
        used += (size_t)n;
        w += wlen;
        w += strspn(w, " ");
    }
    out[used] = '\0';
    return out;
}

/* Python's email package, the reference reader: the message must parse
 * without defects and give back subject and body.  0 when python3 is missing. */
static const char python_check[] =
    "import sys, email, email.policy\n"
    "raw = open(sys.argv[1], 'rb').read()\n"
    "subject = bytes.fromhex(sys.argv[2]).decode()\n"
    "body = bytes.fromhex(sys.argv[3]).decode()\n"
    "m = email.message_from_bytes(raw, policy=email.policy.default)\n"
    "bad = [repr(d) for d in m.defects]\n"
    "bad += ['%s: %r' % (k, v.defects) for k, v in m.items() if v.defects]\n"
    "want = {'Subject': subject, 'From': sys.argv[4], 'To': sys.argv[5],\n"
    "        'Message-ID': '<%s@libidm>' % sys.argv[6]}\n"
    "bad += ['%s is %r, not %r' % (k, str(m[k]), v) for k, v in want.items() if str(m[k]) != v]\n"
    "if m['Date'].datetime is None: bad.append('Date does not parse')\n"
    "if m.get_content_type() != 'text/plain': bad.append(m.get_content_type())\n"
    "if m.get_content() != body: bad.append('body %r' % m.get_content())\n"
    "for b in bad: print('python3 email:', b, file=sys.stderr)\n"
    "sys.exit(1 if bad else 0)\n";

static int hex_of(const char *s, char *hex, size_t size)
{
    size_t i = 0;
    for (; s[i] != '\0' && 2 * i + 2 < size; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
    hex[2 * i] = '\0';
    return s[i] == '\0';
}

static int python_accepts(const char *path, const char *id, const char *subject,
                          const char *body)
{
    static char subject_hex[4096], body_hex[4096];
    ck_assert(hex_of(subject, subject_hex, sizeof subject_hex));
    ck_assert(hex_of(body, body_hex, sizeof body_hex));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/usr/bin/python3", "python3", "-I", "-c", python_check, path, subject_hex,
              body_hex, FROM, TO, id, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void assert_python_parses(const char *path, const char *id, const char *subject,
                                 const char *body)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        return; /* the sub-check needs python3; the C checks still ran */
    /* The email package hands back the body bytes as they are, CRLFs included. */
    ck_assert_msg(python_accepts(path, id, subject, body) == 0,
                  "python3's email package disagrees with %s (see stderr)", path);
}

/* ---- creation ---------------------------------------------------------- */

START_TEST(test_missing_maildir_and_folders_are_created_with_mode_0700)
{
    scratch_make();
    const char *dir = at("mail");
    idm_notifier_t *n = maildir_open(dir);
    const char *const paths[] = {"mail", "mail/tmp", "mail/new", "mail/cur"};
    for (size_t i = 0; i < 4; i++) {
        struct stat st;
        ck_assert_int_eq(stat(at(paths[i]), &st), 0);
        ck_assert_msg(S_ISDIR(st.st_mode), "%s is not a directory", paths[i]);
        ck_assert_uint_eq(st.st_mode & 07777, 0700);
    }
    idm_notifier_free(&n);
    ck_assert_ptr_null(n);
    /* An existing maildir is used as it is. */
    n = maildir_open(dir);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

START_TEST(test_bad_from_addresses_are_refused_with_the_reason)
{
    char long_ok[256], too_long[257];
    memset(long_ok, 'a', 254);
    memcpy(long_ok + 241, "@corp.example", 14); /* 254 characters */
    memset(too_long, 'a', 255);
    memcpy(too_long + 242, "@corp.example", 14);
    static const struct {
        const char *from, *why;
    } bad[] = {
        {"", "is empty"},
        {"cards", "has no '@'"},
        {"cards@corp@example", "more than one '@'"},
        {"@corp.example", "nothing before the '@'"},
        {"cards@", "nothing after the '@'"},
        {"cards @corp.example", "a blank at offset 5"},
        {"cards\t@corp.example", "a blank at offset 5"},
        {"c\x01@corp.example", "byte 1 is 0x01"},
        {"c\x7f@corp.example", "byte 1 is 0x7f"},
        {"j\xc3\xbcrgen@corp.example", "byte 1 is 0xc3"},
        {"<cards@corp.example>", "'<' at offset 0"},
        {"cards>@corp.example", "'>'"},
        {"\"cards\"@corp.example", "'\"'"},
        {"cards(x)@corp.example", "'('"},
        {"cards)@corp.example", "')'"},
        {"a@b.example,c@d.example", "','"},
        {"a@b.example;", "';'"},
        {"group:a@b.example", "':'"},
        {"a\\b@corp.example", "'\\'"},
    };
    struct faults f = {0};
    scratch_make();
    const char *dir = at("mail");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] + 1; i++) {
        const char *from = i < sizeof bad / sizeof bad[0] ? bad[i].from : too_long;
        const char *why = i < sizeof bad / sizeof bad[0] ? bad[i].why : "has 255 characters";
        idm_notifier_t *n = NULL;
        int rc = idm_notifier_new_maildir(&n, dir, from);
        const char *msg = idm_last_error_message();
        if (rc != IDM_ERR_INVALID_ARG || n != NULL)
            fault(&f, "from #%zu: got %s, %s;", i, idm_strerror_name(rc), msg);
        else if (strstr(msg, "idm_notifier_new_maildir: argument 'from' is '") != msg ||
                 strstr(msg, why) == NULL)
            fault(&f, "from #%zu: message \"%s\" lacks \"%s\";", i, msg, why);
        idm_notifier_free(&n);
    }
    struct stat st;
    if (stat(dir, &st) == 0)
        fault(&f, "the maildir was created for a refused sender;");
    idm_notifier_t *n = NULL;
    ck_assert_uint_eq(strlen(long_ok), 254);
    if (idm_notifier_new_maildir(&n, dir, long_ok) != IDM_OK)
        fault(&f, "a 254-character sender was refused: %s", idm_last_error_message());
    idm_notifier_free(&n);
    scratch_remove();
    ck_assert_no_faults(&f);
}
END_TEST

START_TEST(test_unusable_dir_is_an_io_error_naming_the_path)
{
    scratch_make();
    idm_notifier_t *n = NULL;
    const char *file = at("plain-file");
    write_file(file, "not a maildir\n");
    ck_assert_idm_error(idm_notifier_new_maildir(&n, file, FROM), IDM_ERR_IO, file);
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "Not a directory"));
    ck_assert_ptr_null(n);

    const char *orphan = at("no-such-parent/mail");
    ck_assert_idm_error(idm_notifier_new_maildir(&n, orphan, FROM), IDM_ERR_IO, orphan);
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "No such file or directory"));
    ck_assert_ptr_null(n);

    /* A file where a folder belongs. */
    ck_assert_int_eq(mkdir(at("mail"), 0700), 0);
    write_file(at("mail/cur"), "");
    ck_assert_idm_error(idm_notifier_new_maildir(&n, at("mail"), FROM), IDM_ERR_IO,
                        at("mail/cur: Not a directory"));
    ck_assert_ptr_null(n);
    scratch_remove();
}
END_TEST

START_TEST(test_a_long_dir_is_shown_by_its_end_so_the_reason_fits)
{
    scratch_make();
    char rel[600];
    memset(rel, 'p', 250);
    rel[250] = '\0';
    ck_assert_int_eq(mkdir(at(rel), 0700), 0);
    rel[250] = '/';
    memset(rel + 251, 'm', 250);
    rel[501] = '\0';
    ck_assert_int_eq(mkdir(at(rel), 0700), 0);
    strcat(rel, "/cur");
    write_file(at(rel), "");
    rel[501] = '\0';
    idm_notifier_t *n = NULL;
    ck_assert_idm_error(idm_notifier_new_maildir(&n, at(rel), FROM), IDM_ERR_IO,
                        "mmmm/cur: Not a directory");
    const char *msg = idm_last_error_message();
    ck_assert_msg(strstr(msg, "cannot create ...") != NULL && strstr(msg, scratch) == NULL,
                  "the path is not cut from the front: %s", msg);
    scratch_remove();
}
END_TEST

START_TEST(test_empty_or_overlong_dir_is_refused)
{
    idm_notifier_t *n = NULL;
    ck_assert_idm_error(idm_notifier_new_maildir(&n, "", FROM), IDM_ERR_INVALID_ARG,
                        "argument 'dir' is empty");
    static char dir[3002];
    memset(dir, 'd', 3001);
    dir[0] = '/';
    ck_assert_idm_error(idm_notifier_new_maildir(&n, dir, FROM), IDM_ERR_INVALID_ARG,
                        "argument 'dir' has 3001 bytes; at most 3000");
    ck_assert_idm_error(idm_notifier_new_maildir(&n, NULL, FROM), IDM_ERR_INVALID_ARG, "dir");
    ck_assert_idm_error(idm_notifier_new_maildir(&n, "/tmp", NULL), IDM_ERR_INVALID_ARG, "from");
    ck_assert_ptr_null(n);
    idm_maildir_notifier_free(NULL);
    idm_notifier_free(&n);
    idm_notifier_free(NULL);
}
END_TEST

/* ---- delivery ---------------------------------------------------------- */

static int date_matches(const char *date, time_t from, time_t to)
{
    for (time_t t = from; t <= to; t++) {
        struct tm tm;
        char want[64];
        gmtime_r(&t, &tm);
        strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S +0000", &tm); /* the C locale */
        if (strcmp(date, want) == 0)
            return 1;
    }
    return 0;
}

START_TEST(test_message_lands_in_new_as_crlf_rfc5322)
{
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    const char *body = "Hello Jane,\n\nyour card was ordered.\r\nA lone\rCR goes.\n.\nBye";
    const char *crlf_body =
        "Hello Jane,\r\n\r\nyour card was ordered.\r\nA loneCR goes.\r\n.\r\nBye\r\n";
    time_t before = time(NULL);
    ck_ok(send_one(n, "idm-s1-n1", TO, "Your card was ordered", body));
    time_t after = time(NULL);
    ck_assert_int_eq(entries(at("mail/tmp")), 0);
    ck_assert_int_eq(entries(at("mail/new")), 1);
    ck_assert_int_eq(entries(at("mail/cur")), 0);

    size_t len;
    const char *path = at("mail/new/idm-s1-n1.eml");
    char *msg = slurp(path, &len);
    ck_assert_uint_eq(strlen(msg), len);
    assert_crlf_lines(msg, len);
    assert_header(msg, "From", FROM);
    assert_header(msg, "To", TO);
    assert_header(msg, "Subject", "Your card was ordered");
    assert_header(msg, "Message-ID", "<idm-s1-n1@libidm>");
    assert_header(msg, "MIME-Version", "1.0");
    assert_header(msg, "Content-Type", "text/plain; charset=UTF-8");
    assert_header(msg, "Content-Transfer-Encoding", "8bit");
    assert_header(msg, "X-Libidm-Notification", "card_ordered");
    char *date = header(msg, "Date");
    ck_assert_ptr_nonnull(date);
    ck_assert_msg(date_matches(date, before, after), "Date: %s", date);
    free(date);
    ck_assert_str_eq(strstr(msg, "\r\n\r\n") + 4, crlf_body);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    assert_python_parses(path, "idm-s1-n1", "Your card was ordered", crlf_body);
    free(msg);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

START_TEST(test_a_second_send_of_the_same_id_writes_nothing)
{
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    ck_ok(send_one(n, "idm-s1-n2", TO, "first", "first body"));
    size_t len1, len2;
    char *first = slurp(at("mail/new/idm-s1-n2.eml"), &len1);
    ck_ok(send_one(n, "idm-s1-n2", TO, "second", "second body"));
    char *again = slurp(at("mail/new/idm-s1-n2.eml"), &len2);
    ck_assert_uint_eq(len1, len2);
    ck_assert_mem_eq(first, again, len1);
    ck_assert_int_eq(entries(at("mail/new")), 1);
    ck_assert_int_eq(entries(at("mail/tmp")), 0);

    /* A mail reader took it: new/x becomes cur/x:2,S. */
    ck_assert_int_eq(rename(at("mail/new/idm-s1-n2.eml"),
                            at("mail/cur/idm-s1-n2.eml:2,S")), 0);
    ck_ok(send_one(n, "idm-s1-n2", TO, "third", "third body"));
    ck_assert_int_eq(entries(at("mail/new")), 0);
    ck_assert_int_eq(entries(at("mail/tmp")), 0);
    ck_assert_int_eq(entries(at("mail/cur")), 1);
    /* Dovecot adds the size before the flags. */
    ck_assert_int_eq(rename(at("mail/cur/idm-s1-n2.eml:2,S"),
                            at("mail/cur/idm-s1-n2.eml,S=312:2,S")), 0);
    ck_ok(send_one(n, "idm-s1-n2", TO, "fourth", "fourth body"));
    ck_assert_int_eq(entries(at("mail/new")), 0);
    free(first);
    free(again);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

START_TEST(test_a_read_message_does_not_hide_an_id_it_starts_with)
{
    /* "n3" must not count as delivered because of "n3.eml"'s file. */
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    write_file(at("mail/cur/n3.eml.eml:2,S"), "From: x@y\r\n\r\n");
    write_file(at("mail/cur/n3.emlx"), "From: x@y\r\n\r\n");
    ck_ok(send_one(n, "n3", TO, "hello", "body"));
    ck_assert_int_eq(entries(at("mail/new")), 1);
    ck_assert_int_eq(access(at("mail/new/n3.eml"), F_OK), 0);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

START_TEST(test_non_ascii_subject_becomes_encoded_words_that_decode_back)
{
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    const char *body = "Gr\xc3\xbc\xc3\x9f" "e,\nJ\xc3\xbcrgen";
    ck_ok(send_one(n, "idm-s1-n4", TO, LONG_SUBJECT, body));
    size_t len;
    const char *path = at("mail/new/idm-s1-n4.eml");
    char *msg = slurp(path, &len);
    assert_crlf_lines(msg, len);
    char *subject = header(msg, "Subject");
    ck_assert_ptr_nonnull(subject);
    ck_assert_msg(strchr(subject, ' ') != NULL, "one word only: %s", subject);
    char *decoded = decode_words(subject);
    ck_assert_str_eq(decoded, LONG_SUBJECT);
    ck_assert_str_eq(strstr(msg, "\r\n\r\n") + 4, "Gr\xc3\xbc\xc3\x9f" "e,\r\nJ\xc3\xbcrgen\r\n");
    assert_python_parses(path, "idm-s1-n4", LONG_SUBJECT,
                         "Gr\xc3\xbc\xc3\x9f" "e,\r\nJ\xc3\xbcrgen\r\n");
    free(decoded);
    free(subject);
    free(msg);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

START_TEST(test_ascii_subjects_readers_would_change_are_encoded_too)
{
    /* "=?" would be decoded by a reader, a leading blank dropped, and a
     * 998-byte subject makes a header line over the limit. */
    static char longest[999];
    memset(longest, 'x', 998);
    const char *const subjects[] = {"=?UTF-8?B?SGk=?=", " leading blank", "tab\there",
                                    longest};
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    for (size_t i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "s-%zu", i);
        ck_ok(send_one(n, id, TO, subjects[i], "x"));
        char rel[64];
        size_t len;
        snprintf(rel, sizeof rel, "mail/new/%s.eml", id);
        char *msg = slurp(at(rel), &len);
        assert_crlf_lines(msg, len);
        char *subject = header(msg, "Subject");
        char *decoded = decode_words(subject);
        ck_assert_str_eq(decoded, subjects[i]);
        assert_python_parses(at(rel), id, subjects[i], "x\r\n");
        free(decoded);
        free(subject);
        free(msg);
    }
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

START_TEST(test_bad_arguments_are_refused_and_nothing_is_written)
{
    static char long_id[130], long_line[1000], long_subject[1000];
    memset(long_id, 'i', 129);
    memset(long_line, 'b', 999);
    memset(long_subject, 's', 999);
    static const char *const ok = "fine";
    struct {
        const char *id, *to, *subject, *body, *needle;
    } bad[] = {
        {"", TO, ok, ok, "argument 'message_id' is ''"},
        {long_id, TO, ok, ok, "argument 'message_id'"},
        {"a/b", TO, ok, ok, "argument 'message_id' is 'a/b'"},
        {"a b", TO, ok, ok, "argument 'message_id'"},
        {"j\xc3\xbcrgen", TO, ok, ok, "argument 'message_id' is 'j\\xc3\\xbcrgen'"},
        {"n", "jane", ok, ok, "argument 'to' is 'jane': has no '@'"},
        {"n", "jane doe@example.org", ok, ok, "argument 'to'"},
        {"n", "Jane <jane@example.org>", ok, ok, "argument 'to'"},
        {"n", "a@b.example, c@d.example", ok, ok, "argument 'to'"},
        {"n", TO, "two\nlines", ok, "argument 'subject' has a line break at byte 3"},
        {"n", TO, "carriage\rreturn", ok, "argument 'subject' has a line break at byte 8"},
        {"n", TO, "bad \xff utf-8", ok, "argument 'subject' is not valid UTF-8 (byte 4)"},
        {"n", TO, long_subject, ok, "argument 'subject' has 999 bytes; at most 998"},
        {"n", TO, ok, "caf\xc3", "argument 'body' is not valid UTF-8"},
        {"n", TO, ok, "\xed\xa0\x80 surrogate", "argument 'body' is not valid UTF-8 (byte 0)"},
        {"n", TO, ok, long_line, "line 1 of argument 'body' has 999 bytes; at most 998"},
        {"n", TO, NULL, ok, "argument 'subject' is NULL"},
    };
    struct faults f = {0};
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = send_one(n, bad[i].id, bad[i].to, bad[i].subject, bad[i].body);
        int end = idm_notifier_call_end(rc, "deliver");
        const char *msg = idm_last_error_message();
        if (rc != IDM_ERR_INVALID_ARG || end != IDM_ERR_INVALID_ARG)
            fault(&f, "#%zu: got %s/%s: %s;", i, idm_strerror_name(rc), idm_strerror_name(end),
                  msg);
        else if (strstr(msg, "the notifier failed to deliver: ") != msg ||
                 strstr(msg, bad[i].needle) == NULL)
            fault(&f, "#%zu: message \"%s\" lacks \"%s\";", i, msg, bad[i].needle);
    }
    if (entries(at("mail/new")) != 0 || entries(at("mail/tmp")) != 0)
        fault(&f, "a refused message left a file;");
    idm_notifier_free(&n);
    scratch_remove();
    ck_assert_no_faults(&f);
}
END_TEST

START_TEST(test_body_lines_of_998_bytes_pass_and_carriage_returns_do_not_count)
{
    static char body[2100];
    memset(body, 'b', 998);
    memcpy(body + 998, "\r\n", 2);
    memset(body + 1000, 'c', 998);
    memcpy(body + 1998, "\r\n.\r\n", 5);
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    ck_ok(send_one(n, "long", TO, "long lines", body));
    size_t len;
    char *msg = slurp(at("mail/new/long.eml"), &len);
    assert_crlf_lines(msg, len);
    ck_assert_str_eq(strstr(msg, "\r\n\r\n") + 4, body); /* already CRLF */
    free(msg);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

/* ---- failures of the file system --------------------------------------- */

static void expect_io_error(idm_notifier_t *n, const char *id, const char *needle,
                            const char *why)
{
    int rc = send_one(n, id, TO, "subject", "body");
    ck_assert_int_eq(rc, IDM_ERR_IO);
    ck_assert_idm_error(idm_notifier_call_end(rc, "deliver"), IDM_ERR_IO, needle);
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "the notifier failed to deliver: "));
    ck_assert_msg(strstr(idm_last_error_message(), why) != NULL, "%s lacks %s",
                  idm_last_error_message(), why);
}

START_TEST(test_unwritable_new_is_an_io_error_naming_the_path)
{
    if (geteuid() == 0)
        return; /* root writes whatever the mode says; the tests below cover root */
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    ck_assert_int_eq(chmod(at("mail/new"), 0500), 0);
    expect_io_error(n, "n5", at("mail/new/n5.eml"), "Permission denied");
    ck_assert_int_eq(entries(at("mail/tmp")), 0);
    ck_assert_int_eq(entries(at("mail/new")), 0);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

START_TEST(test_vanished_new_is_an_io_error_and_tmp_is_cleaned)
{
    /* new/ turned into a dangling symbolic link: the delivery fails before
     * anything is written, and never follows the link. */
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    ck_assert_int_eq(rmdir(at("mail/new")), 0);
    ck_assert_int_eq(symlink("gone", at("mail/new")), 0);
    expect_io_error(n, "n6", at("mail/new"), "Not a directory");
    ck_assert_int_eq(entries(at("mail/tmp")), 0);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

START_TEST(test_unusable_tmp_or_cur_is_an_io_error_naming_the_path)
{
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    /* Something that is not a stale file where the temporary file goes. */
    char rel[64];
    snprintf(rel, sizeof rel, "mail/tmp/n7.%ld.eml", (long)getpid());
    ck_assert_int_eq(mkdir(at(rel), 0700), 0);
    expect_io_error(n, "n7", at(rel), "File exists");
    ck_assert_int_eq(rmdir(at(rel)), 0);

    ck_assert_int_eq(rmdir(at("mail/cur")), 0);
    write_file(at("mail/cur"), "");
    expect_io_error(n, "n8", at("mail/cur"), "Not a directory");
    ck_assert_int_eq(entries(at("mail/new")), 0);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

START_TEST(test_stale_temporary_file_of_this_process_is_replaced)
{
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    char rel[64];
    snprintf(rel, sizeof rel, "mail/tmp/n9.%ld.eml", (long)getpid());
    write_file(at(rel), "half a mess");
    ck_ok(send_one(n, "n9", TO, "subject", "body"));
    ck_assert_int_eq(entries(at("mail/tmp")), 0);
    size_t len;
    char *msg = slurp(at("mail/new/n9.eml"), &len);
    ck_assert_str_eq(strstr(msg, "\r\n\r\n") + 4, "body\r\n");
    free(msg);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

/* A message a killed process was writing is removed when the maildir is
 * opened again; that process delivers it again when it runs again. */
START_TEST(test_open_removes_temporary_files_of_dead_processes)
{
    scratch_make();
    idm_notifier_t *n = maildir_open(at("mail"));
    idm_notifier_free(&n);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    char dead[64], live[64];
    snprintf(dead, sizeof dead, "mail/tmp/n10.%ld.eml", (long)child);
    snprintf(live, sizeof live, "mail/tmp/n11.%ld.eml", (long)getppid());
    write_file(at(dead), "half a message");
    write_file(at(live), "being written");
    n = maildir_open(at("mail"));
    ck_assert_int_eq(access(at(dead), F_OK), -1);
    ck_assert_int_eq(access(at(live), F_OK), 0);
    idm_notifier_free(&n);
    scratch_remove();
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("maildir_notifier");

    TCase *create = tcase_create("create");
    tcase_add_test(create, test_missing_maildir_and_folders_are_created_with_mode_0700);
    tcase_add_test(create, test_bad_from_addresses_are_refused_with_the_reason);
    tcase_add_test(create, test_unusable_dir_is_an_io_error_naming_the_path);
    tcase_add_test(create, test_a_long_dir_is_shown_by_its_end_so_the_reason_fits);
    tcase_add_test(create, test_empty_or_overlong_dir_is_refused);
    suite_add_tcase(s, create);

    TCase *deliver = tcase_create("deliver");
    tcase_set_timeout(deliver, 30); /* python3 starts for some checks */
    tcase_add_test(deliver, test_message_lands_in_new_as_crlf_rfc5322);
    tcase_add_test(deliver, test_a_second_send_of_the_same_id_writes_nothing);
    tcase_add_test(deliver, test_a_read_message_does_not_hide_an_id_it_starts_with);
    tcase_add_test(deliver, test_non_ascii_subject_becomes_encoded_words_that_decode_back);
    tcase_add_test(deliver, test_ascii_subjects_readers_would_change_are_encoded_too);
    tcase_add_test(deliver, test_bad_arguments_are_refused_and_nothing_is_written);
    tcase_add_test(deliver, test_body_lines_of_998_bytes_pass_and_carriage_returns_do_not_count);
    suite_add_tcase(s, deliver);

    TCase *failures = tcase_create("failures");
    tcase_add_test(failures, test_unwritable_new_is_an_io_error_naming_the_path);
    tcase_add_test(failures, test_vanished_new_is_an_io_error_and_tmp_is_cleaned);
    tcase_add_test(failures, test_unusable_tmp_or_cur_is_an_io_error_naming_the_path);
    tcase_add_test(failures, test_stale_temporary_file_of_this_process_is_replaced);
    tcase_add_test(failures, test_open_removes_temporary_files_of_dead_processes);
    suite_add_tcase(s, failures);
    return s;
}
