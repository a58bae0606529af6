/*
 * What every subcommand of the idm tool shares: the global options, the
 * store, the exit codes, error reporting and the two output forms (text for
 * people, one JSON document for scripts with --json).
 */
#ifndef IDM_TOOL_CLI_H
#define IDM_TOOL_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <idm/idm.h>

/* Exit codes (idm --help and doc/cli.md list them). */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,   /* a library call failed; its detail message is on stderr */
    EXIT_USAGE = 2,    /* the command line was wrong */
    EXIT_NO_STORE = 3, /* there is no store at the path (see idm init) */
    EXIT_INTERRUPTED = 130 /* stopped by Ctrl-C between two cards; resumable */
};

struct cli {
    const char *command; /* "card list", for messages */
    const char *store;   /* --store, $IDM_STORE, or "idm.db" */
    const char *actor;   /* --actor, $IDM_ACTOR, or "cli:<login>" */
    int json;            /* --json */
    idm_ctx_t *ctx;      /* with the store open, after cli_open_store() */
    char actor_buf[128];
};

/* One subcommand: name, one line for the list, and its function, which gets
 * argv[0] = its own name. */
struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(struct cli *cli, int argc, char **argv);
};

/* Prints "idm <command>: <what>: <the library's detail message>" on stderr
 * and returns EXIT_FAILED. */
int cli_fail(const struct cli *cli, const char *what);

/* Prints "idm <command>: <message>" on stderr and returns EXIT_USAGE. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Opens the existing store at cli->store into cli->ctx (with create, makes
 * a new one and refuses one that exists).  EXIT_OK, or the exit code after
 * the message was printed. */
int cli_open_store(struct cli *cli, int create);

/* Frees cli->ctx. */
void cli_close(struct cli *cli);

/* Parses a positive 64-bit id ("12"); 0 when it is not one. */
int64_t cli_parse_id(const char *text);

/* A time in milliseconds since the Unix epoch as ISO 8601 UTC
 * ("2026-11-22T12:00:00Z") into buf. */
void cli_format_time(int64_t ms, char *buf, size_t size);

/* Runs the subcommand argv[0] of table (n entries); prints the table for
 * --help or no subcommand.  group is "card", "identity", ... */
int cli_dispatch(struct cli *cli, const char *group, const struct cli_command *table, size_t n,
                 int argc, char **argv);

/* Finds text among names[0..n) (as the library's *_name() functions spell
 * them) into *out; otherwise prints "<option>: '<text>' is not one of ..."
 * and returns EXIT_USAGE. */
int cli_parse_choice(const struct cli *cli, const char *option, const char *text,
                     const char *const *names, int n, int *out);

/* The names fn((type)0), fn((type)1), ... up to the first "unknown", into
 * the array names of room entries; n receives how many. */
#define CLI_ENUM_NAMES(fn, type, names, room, n)                                     \
    do {                                                                             \
        (n) = 0;                                                                     \
        for (int v_ = 0; v_ < (room); v_++) {                                        \
            const char *s_ = fn((type)v_);                                           \
            if (strcmp(s_, "unknown") == 0)                                          \
                break;                                                               \
            (names)[(n)++] = s_;                                                     \
        }                                                                            \
    } while (0)

/* Defines static int fn_name(const struct cli *, const char *text, type *out):
 * text as one of the names name_fn gives the values of type, or a usage
 * error naming option and listing the names. */
#define CLI_ENUM_PARSER(fn_name, type, name_fn, option)                               \
    static int fn_name(const struct cli *cli, const char *text, type *out)            \
    {                                                                                 \
        const char *names[32];                                                        \
        int n = 0, v = 0;                                                             \
        CLI_ENUM_NAMES(name_fn, type, names, 32, n);                                  \
        int rc = cli_parse_choice(cli, option, text, names, n, &v);                   \
        *out = (type)v;                                                               \
        return rc;                                                                    \
    }

/* The command line of a command that takes no option but --help: with -h
 * or --help it prints usage and returns EXIT_OK with *first 0; an unknown
 * option, or a number of operands outside min..max (max -1: no limit), is
 * a usage error (EXIT_USAGE; too few says what, "name one card").
 * Otherwise EXIT_OK with the operands in argv[*first .. argc) (*first >= 1;
 * "--" ends the options, for an operand that starts with '-'). */
int cli_operands(const struct cli *cli, int argc, char **argv, const char *usage, int min,
                 int max, const char *what, int *first);

/* ---- files ------------------------------------------------------------------ */

/* Writes data into a new file with mode (never over an existing one: O_EXCL),
 * fsynced; EXIT_OK, or EXIT_FAILED after saying why (and removing it). */
int cli_write_new_file(const struct cli *cli, const char *path, const void *data, size_t len,
                       mode_t mode);

/* DER as PEM ("-----BEGIN <label>-----", 64 columns); malloc'ed, NULL when
 * out of memory.  *out_len receives its length. */
char *cli_pem_encode(const unsigned char *der, size_t len, const char *label, size_t *out_len);

/* ---- PIN letters ------------------------------------------------------------ */

/* Where generated PINs go: one letter per card, <dir>/<card number>.pin,
 * mode 0600, never overwritten, holding the PIN and PUK for the
 * cardholder's envelope; never the screen, the logs or the store. */
struct cli_pin_letters {
    const char *dir;
    int written; /* letters written */
    int error;   /* errno of the last letter that could not be written */
};

/* A PIN delivery callback (idm_encoder_set_pin_callbacks()) over a
 * struct cli_pin_letters. */
int cli_write_pin_letter(const idm_card_t *card, const char *pin, const char *puk,
                         void *user_data);

/* ---- JSON output (--json) ---------------------------------------------- */

/* A small streaming writer: values go inside the object or array opened
 * last; key is NULL inside arrays.  Strings are escaped (UTF-8 passes
 * through, control characters become \u00XX). */
struct json {
    FILE *out;
    int depth;
    int count[16]; /* values written at each depth, for the commas */
};

void json_start(struct json *j, FILE *out);
void json_open(struct json *j, const char *key, char bracket); /* '{' or '[' */
void json_close(struct json *j, char bracket);                 /* '}' or ']' */
void json_str(struct json *j, const char *key, const char *value); /* NULL: null */
void json_int(struct json *j, const char *key, int64_t value);
void json_bool(struct json *j, const char *key, int value);
/* Ends the document with a newline. */
void json_end(struct json *j);

/* A command's list: with --json, one array on stdout (start and '['), and
 * its end (']' and the newline); without, nothing. */
void cli_list_begin(const struct cli *cli, struct json *j);
void cli_list_end(const struct cli *cli, struct json *j);

#endif /* IDM_TOOL_CLI_H */
