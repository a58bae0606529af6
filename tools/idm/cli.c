/*
 * The shared parts of the idm tool: errors, the store, dispatch, JSON.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const struct cli *cli, const char *what)
{
    const char *detail = idm_last_error_message();
    fprintf(stderr, "idm %s: %s: %s\n", cli->command, what,
            detail[0] != '\0' ? detail : "failed");
    return EXIT_FAILED;
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "idm %s: ", cli->command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

int cli_open_store(struct cli *cli, int create)
{
    struct stat st;
    int exists = stat(cli->store, &st) == 0;
    if (!exists && errno != ENOENT) {
        fprintf(stderr, "idm %s: cannot look at the store '%s': %s\n", cli->command, cli->store,
                strerror(errno));
        return EXIT_FAILED;
    }
    if (create && exists) {
        fprintf(stderr, "idm %s: '%s' already exists; a store is never overwritten\n",
                cli->command, cli->store);
        return EXIT_FAILED;
    }
    if (!create && !exists) {
        fprintf(stderr, "idm %s: no store at '%s' (make one with 'idm --store %s init', or "
                        "name another with --store or IDM_STORE)\n",
                cli->command, cli->store, cli->store);
        return EXIT_NO_STORE;
    }
    if (!create && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "idm %s: '%s' is not a file\n", cli->command, cli->store);
        return EXIT_FAILED;
    }
    if (idm_ctx_new(&cli->ctx) != IDM_OK)
        return cli_fail(cli, "cannot make a library context");
    if (idm_ctx_open_store(cli->ctx, cli->store) != IDM_OK) {
        int rc = cli_fail(cli, "cannot open the store");
        idm_ctx_free(&cli->ctx);
        return rc;
    }
    return EXIT_OK;
}

void cli_close(struct cli *cli)
{
    idm_ctx_free(&cli->ctx);
}

int64_t cli_parse_id(const char *text)
{
    if (text == NULL || text[0] < '1' || text[0] > '9')
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0)
        return 0;
    return (int64_t)v;
}

int cli_parse_choice(const struct cli *cli, const char *option, const char *text,
                     const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return EXIT_OK;
        }
    }
    fprintf(stderr, "idm %s: %s: '%s' is not one of", cli->command, option, text);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s %s", i > 0 ? "," : "", names[i]);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

void cli_format_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "%lld ms", (long long)ms);
}

int cli_operands(const struct cli *cli, int argc, char **argv, const char *usage, int min,
                 int max, const char *what, int *first)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    *first = 0;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt != 'h')
            return EXIT_USAGE; /* getopt named the option */
        fputs(usage, stdout);
        return EXIT_OK;
    }
    int n = argc - optind;
    if (max >= 0 && n > max)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind + max]);
    if (n < min)
        return cli_usage_error(cli, "%s; see 'idm %s --help'", what, cli->command);
    *first = optind;
    return EXIT_OK;
}

static void group_usage(FILE *out, const char *group, const struct cli_command *table, size_t n)
{
    fprintf(out, "usage: idm [global options] %s <command> [<args>]\n\ncommands:\n", group);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-12s %s\n", table[i].name, table[i].summary);
    fprintf(out, "\n'idm %s <command> --help' describes one.\n", group);
}

int cli_dispatch(struct cli *cli, const char *group, const struct cli_command *table, size_t n,
                 int argc, char **argv)
{
    if (argc < 2) {
        group_usage(stderr, group, table, n);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        group_usage(stdout, group, table, n);
        return EXIT_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], table[i].name) == 0) {
            /* argv[0] of the subcommand is its full name, which getopt's
             * own messages ("unrecognized option") then start with */
            static char program[80];
            snprintf(program, sizeof program, "idm %s %s", group, table[i].name);
            cli->command = program + 4;
            argv[1] = program;
            return table[i].run(cli, argc - 1, argv + 1);
        }
    }
    return cli_usage_error(cli, "unknown command '%s'; see 'idm %s --help'", argv[1], group);
}

/* ---- JSON ------------------------------------------------------------------ */

void json_start(struct json *j, FILE *out)
{
    memset(j, 0, sizeof *j);
    j->out = out;
}

static void put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

/* The comma and key before a value at the current depth. */
static void member(struct json *j, const char *key)
{
    if (j->count[j->depth]++ > 0)
        fputc(',', j->out);
    if (key != NULL) {
        put_string(j->out, key);
        fputc(':', j->out);
    }
}

void json_open(struct json *j, const char *key, char bracket)
{
    member(j, key);
    fputc(bracket, j->out);
    if (j->depth + 1 < (int)(sizeof j->count / sizeof j->count[0]))
        j->depth++;
    j->count[j->depth] = 0;
}

void json_close(struct json *j, char bracket)
{
    fputc(bracket, j->out);
    if (j->depth > 0)
        j->depth--;
}

void json_str(struct json *j, const char *key, const char *value)
{
    member(j, key);
    if (value == NULL)
        fputs("null", j->out);
    else
        put_string(j->out, value);
}

void json_int(struct json *j, const char *key, int64_t value)
{
    member(j, key);
    fprintf(j->out, "%" PRId64, value);
}

void json_bool(struct json *j, const char *key, int value)
{
    member(j, key);
    fputs(value ? "true" : "false", j->out);
}

void json_end(struct json *j)
{
    fputc('\n', j->out);
    fflush(j->out);
}

void cli_list_begin(const struct cli *cli, struct json *j)
{
    json_start(j, stdout);
    if (cli->json)
        json_open(j, NULL, '[');
}

void cli_list_end(const struct cli *cli, struct json *j)
{
    if (cli->json) {
        json_close(j, ']');
        json_end(j);
    }
}

/* ---- PIN letters --------------------------------------------------------------- */

/* A letter an earlier attempt at the card left (a run stopped after the
 * PIN was delivered and before the card was recorded, or a card produced
 * again) holds the PIN of a chip that is spoiled or personalized anew: it
 * is kept as <letter>.<n>, the first n free, never overwritten, and the new
 * letter takes the name.  0, or -1 with errno. */
static int set_aside(const char *path)
{
    char aside[4200];
    for (unsigned n = 1; n < 1000; n++) {
        snprintf(aside, sizeof aside, "%s.%u", path, n);
        if (link(path, aside) == 0)
            return unlink(path);
        if (errno == ENOENT)
            return 0; /* no letter there */
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

int cli_write_pin_letter(const idm_card_t *card, const char *pin, const char *puk,
                         void *user_data)
{
    struct cli_pin_letters *l = user_data;
    const char *number = NULL;
    char path[4096], tmp[4200];
    idm_card_get_number(card, &number);
    /* card_number_format allows any printable ASCII: a number with a '/'
     * would name a file outside the folder (security review, issue 10) */
    if (number != NULL && strchr(number, '/') != NULL) {
        fprintf(stderr, "idm: card number '%s' has a '/': a PIN letter in '%s' cannot be "
                        "named after it\n", number, l->dir != NULL ? l->dir : "");
        l->error = EINVAL;
        return -1;
    }
    if (l->dir == NULL || number == NULL ||
        snprintf(path, sizeof path, "%s/%s.pin", l->dir, number) >= (int)sizeof path) {
        l->error = ENAMETOOLONG;
        return -1;
    }
    /* Written whole under a name of its own, then renamed: a run killed
     * meanwhile leaves no half letter.  One station works a card at a
     * time, so the name needs no more than the card's number. */
    snprintf(tmp, sizeof tmp, "%s/.%s.pin.tmp", l->dir, number);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        l->error = errno;
        return -1;
    }
    char letter[128];
    int n = snprintf(letter, sizeof letter, "card %s\nPIN %s\nPUK %s\n", number,
                     pin != NULL ? pin : "(chosen by the cardholder)", puk != NULL ? puk : "");
    int ok = fchmod(fd, 0600) == 0 && n > 0 && n < (int)sizeof letter &&
             write(fd, letter, (size_t)n) == n && fsync(fd) == 0;
    memset(letter, 0, sizeof letter);
    if (close(fd) != 0 || !ok || set_aside(path) != 0 || rename(tmp, path) != 0) {
        l->error = errno != 0 ? errno : EIO;
        unlink(tmp);
        return -1;
    }
    l->written++;
    return 0;
}

/* ---- files ------------------------------------------------------------------ */

int cli_write_new_file(const struct cli *cli, const char *path, const void *data, size_t len,
                          mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "idm %s: cannot create '%s': %s\n", cli->command, path,
                strerror(errno));
        return EXIT_FAILED;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    if (left > 0 || fsync(fd) != 0 || close(fd) != 0) {
        fprintf(stderr, "idm %s: cannot write '%s': %s\n", cli->command, path, strerror(errno));
        unlink(path);
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

char *cli_pem_encode(const unsigned char *der, size_t len, const char *label, size_t *out_len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t room = 64 + 2 * strlen(label) + (len + 2) / 3 * 4 + len / 48 + 2;
    char *pem = malloc(room);
    if (pem == NULL)
        return NULL;
    size_t n = (size_t)snprintf(pem, room, "-----BEGIN %s-----\n", label);
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)der[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)der[i + 1] << 8;
        if (i + 2 < len)
            v |= der[i + 2];
        pem[n++] = b64[(v >> 18) & 63];
        pem[n++] = b64[(v >> 12) & 63];
        pem[n++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        pem[n++] = i + 2 < len ? b64[v & 63] : '=';
        if ((i / 3 + 1) % 16 == 0 || i + 3 >= len)
            pem[n++] = '\n';
    }
    n += (size_t)snprintf(pem + n, room - n, "-----END %s-----\n", label);
    *out_len = n;
    return pem;
}

