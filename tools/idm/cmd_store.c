/*
 * idm init, idm option list | set | reset, idm audit verify
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char INIT_USAGE[] =
    "usage: idm [--store PATH] init\n"
    "\n"
    "Creates a new, empty store at PATH (default idm.db, or $IDM_STORE): an\n"
    "SQLite database in WAL mode with synchronous=FULL.  An existing file is\n"
    "never touched.\n";

int cmd_init(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, INIT_USAGE, 0, 0, "",
                          &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    rc = cli_open_store(cli, 1);
    if (rc != EXIT_OK)
        return rc;
    if (cli->json) {
        struct json j;
        json_start(&j, stdout);
        json_open(&j, NULL, '{');
        json_str(&j, "store", cli->store);
        json_bool(&j, "created", 1);
        json_close(&j, '}');
        json_end(&j);
    } else {
        printf("created the store %s\n", cli->store);
    }
    return EXIT_OK;
}

/* ---- options --------------------------------------------------------------- */

/* The type of option key; -1 with a message when the library has no such option. */
static int option_type(const struct cli *cli, const char *key, idm_option_type *type)
{
    size_t n = 0;
    idm_option_count(&n);
    for (size_t i = 0; i < n; i++) {
        const char *k = NULL;
        if (idm_option_key_at(i, &k, type) == IDM_OK && strcmp(k, key) == 0)
            return 0;
    }
    fprintf(stderr, "idm %s: no option '%s'; 'idm option list' shows them\n", cli->command,
            key);
    return -1;
}

/* One option's value: JSON member or "key = value" line. */
static int print_option(struct cli *cli, struct json *j, const char *key, idm_option_type type)
{
    int b = 0;
    int64_t v = 0;
    const char *s = NULL;
    int rc = type == IDM_OPTION_BOOL  ? idm_options_get_bool(cli->ctx, key, &b)
             : type == IDM_OPTION_INT ? idm_options_get_int(cli->ctx, key, &v)
                                      : idm_options_get_string(cli->ctx, key, &s);
    if (rc != IDM_OK)
        return cli_fail(cli, "cannot read the option");
    if (cli->json) {
        if (type == IDM_OPTION_BOOL)
            json_bool(j, key, b);
        else if (type == IDM_OPTION_INT)
            json_int(j, key, v);
        else
            json_str(j, key, s);
    } else if (type == IDM_OPTION_BOOL) {
        printf("%-32s %s\n", key, b ? "true" : "false");
    } else if (type == IDM_OPTION_INT) {
        printf("%-32s %" PRId64 "\n", key, v);
    } else {
        printf("%-32s %s\n", key, s);
    }
    return EXIT_OK;
}

static const char OPTION_LIST_USAGE[] =
    "usage: idm option list\n"
    "\n"
    "Shows every option of the store with its current value.\n";

static int option_list(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, OPTION_LIST_USAGE, 0, 0, "",
                          &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    rc = cli_open_store(cli, 0);
    if (rc != EXIT_OK)
        return rc;
    struct json j;
    json_start(&j, stdout);
    if (cli->json)
        json_open(&j, NULL, '{');
    size_t n = 0;
    idm_option_count(&n);
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        const char *key = NULL;
        idm_option_type type = IDM_OPTION_BOOL;
        if (idm_option_key_at(i, &key, &type) == IDM_OK)
            rc = print_option(cli, &j, key, type);
    }
    if (cli->json) {
        json_close(&j, '}');
        json_end(&j);
    }
    return rc;
}

static const char OPTION_SET_USAGE[] =
    "usage: idm option set KEY VALUE\n"
    "\n"
    "Sets an option (audited): true/false for a yes-no option, a number or a\n"
    "text as the option needs.  Orders opened later snapshot it.\n";

static int option_set(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, OPTION_SET_USAGE, 2, 2, "give KEY and VALUE",
                          &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    const char *key = argv[first], *text = argv[first + 1];
    idm_option_type type = IDM_OPTION_BOOL;
    rc = cli_open_store(cli, 0);
    if (rc != EXIT_OK)
        return rc;
    if (option_type(cli, key, &type) != 0)
        return EXIT_USAGE;
    if (type == IDM_OPTION_BOOL) {
        int b = strcmp(text, "true") == 0 ? 1 : strcmp(text, "false") == 0 ? 0 : -1;
        if (b < 0)
            return cli_usage_error(cli, "%s: '%s' is not true or false", key, text);
        rc = idm_options_set_bool(cli->ctx, cli->actor, key, b);
    } else if (type == IDM_OPTION_INT) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0')
            return cli_usage_error(cli, "%s: '%s' is not a number", key, text);
        rc = idm_options_set_int(cli->ctx, cli->actor, key, v);
    } else {
        rc = idm_options_set_string(cli->ctx, cli->actor, key, text);
    }
    if (rc != IDM_OK)
        return cli_fail(cli, "cannot set the option");
    struct json j;
    json_start(&j, stdout);
    if (cli->json)
        json_open(&j, NULL, '{');
    rc = print_option(cli, &j, key, type);
    if (cli->json) {
        json_close(&j, '}');
        json_end(&j);
    }
    return rc;
}

int cmd_option(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command table[] = {
        {"list", "show every option and its value", option_list},
        {"set", "set an option", option_set},
    };
    return cli_dispatch(cli, "option", table, sizeof table / sizeof table[0], argc, argv);
}

/* ---- audit ----------------------------------------------------------------- */

static const char VERIFY_USAGE[] =
    "usage: idm audit verify\n"
    "\n"
    "Checks the audit trail's hash chain from the first event to the last.\n"
    "Exit code 1 names the first event that does not chain.\n";

static int audit_verify(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, VERIFY_USAGE, 0, 0, "",
                          &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    rc = cli_open_store(cli, 0);
    if (rc != EXIT_OK)
        return rc;
    int64_t broken = 0;
    rc = idm_audit_verify(cli->ctx, &broken);
    if (rc != IDM_OK && rc != IDM_ERR_INTEGRITY)
        return cli_fail(cli, "cannot verify the audit trail");
    if (cli->json) {
        struct json j;
        json_start(&j, stdout);
        json_open(&j, NULL, '{');
        json_bool(&j, "intact", rc == IDM_OK);
        json_int(&j, "first_broken", broken);
        json_close(&j, '}');
        json_end(&j);
    } else if (rc == IDM_OK) {
        printf("the audit trail is intact\n");
    }
    if (rc != IDM_OK) {
        fprintf(stderr, "idm %s: the audit trail is broken at event %" PRId64 ": %s\n",
                cli->command, broken, idm_last_error_message());
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

int cmd_audit(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command table[] = {
        {"verify", "check the audit trail's hash chain", audit_verify},
        {"export", "print the audit events", cli_audit_export},
    };
    return cli_dispatch(cli, "audit", table, sizeof table / sizeof table[0], argc, argv);
}
