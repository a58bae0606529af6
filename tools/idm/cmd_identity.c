/*
 * idm identity import | list | show
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

CLI_ENUM_PARSER(parse_identity_state, idm_identity_state, idm_identity_state_name, "--state")

/* Opens an identity named by its id ("12") or, failing that, its external id. */
int cli_open_identity(struct cli *cli, const char *key, idm_identity_t **out)
{
    int64_t id = cli_parse_id(key);
    int rc = id > 0 ? idm_identity_open(cli->ctx, id, out) : IDM_ERR_NOT_FOUND;
    if (rc == IDM_ERR_NOT_FOUND)
        rc = idm_identity_open_external(cli->ctx, key, out);
    if (rc != IDM_OK) {
        char what[300];
        snprintf(what, sizeof what, "no identity '%s'", key);
        return cli_fail(cli, what);
    }
    return EXIT_OK;
}

/* ---- import ----------------------------------------------------------------- */

static const char IMPORT_USAGE[] =
    "usage: idm identity import [--id-column COLUMN] [--state registered|active] FILE.csv\n"
    "\n"
    "Imports one identity per row of a CSV file (RFC 4180, UTF-8, a header row\n"
    "naming the attributes).  COLUMN is the header of the column holding each\n"
    "person's id in your directory (e.g. employeeNumber); the identities start\n"
    "in STATE (default registered; cards are produced for active ones).  The\n"
    "whole file is one transaction: a bad row imports nothing and names the row.\n";

static int identity_import(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"id-column", required_argument, NULL, 'c'},
                                             {"state", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *column = NULL;
    idm_identity_state state = IDM_IDENTITY_REGISTERED;
    int opt, rc;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': column = optarg; break;
        case 's':
            if ((rc = parse_identity_state(cli, optarg, &state)) != EXIT_OK)
                return rc;
            break;
        case 'h': fputs(IMPORT_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(cli, "name one CSV file; see 'idm identity import --help'");
    if ((rc = cli_open_store(cli, 0)) != EXIT_OK)
        return rc;
    size_t imported = 0;
    if (idm_identity_import_csv(cli->ctx, cli->actor, argv[optind], column, state, &imported) !=
        IDM_OK)
        return cli_fail(cli, "import failed, nothing was imported");
    if (cli->json) {
        struct json j;
        json_start(&j, stdout);
        json_open(&j, NULL, '{');
        json_int(&j, "imported", (int64_t)imported);
        json_str(&j, "state", idm_identity_state_name(state));
        json_close(&j, '}');
        json_end(&j);
    } else {
        printf("imported %zu identities (%s) from %s\n", imported,
               idm_identity_state_name(state), argv[optind]);
    }
    return EXIT_OK;
}

/* ---- list --------------------------------------------------------------------- */

static const char LIST_USAGE[] =
    "usage: idm identity list [--state STATE]\n"
    "\n"
    "Lists the identities in id order: id, external id, state, common name.\n";

static int identity_list(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"state", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int have_state = 0, opt, rc;
    idm_identity_state state = IDM_IDENTITY_REGISTERED;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if ((rc = parse_identity_state(cli, optarg, &state)) != EXIT_OK)
                return rc;
            have_state = 1;
            break;
        case 'h': fputs(LIST_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_open_store(cli, 0)) != EXIT_OK)
        return rc;
    idm_identity_iter_t *it = NULL;
    if (idm_identity_iter_new(cli->ctx, &it) != IDM_OK ||
        (have_state && idm_identity_iter_set_state(it, state) != IDM_OK)) {
        idm_identity_iter_free(&it);
        return cli_fail(cli, "cannot list the identities");
    }
    struct json j;
    cli_list_begin(cli, &j);
    idm_identity_t *who = NULL;
    while ((rc = idm_identity_iter_next(it, &who)) == IDM_OK && who != NULL) {
        int64_t id = 0;
        const char *ext = NULL, *cn = NULL;
        idm_identity_state st = IDM_IDENTITY_REGISTERED;
        idm_identity_get_id(who, &id);
        idm_identity_get_external_id(who, &ext);
        idm_identity_get_state(who, &st);
        idm_identity_get_common_name(who, &cn);
        if (cli->json) {
            json_open(&j, NULL, '{');
            json_int(&j, "id", id);
            json_str(&j, "external_id", ext);
            json_str(&j, "state", idm_identity_state_name(st));
            json_str(&j, "common_name", cn);
            json_close(&j, '}');
        } else {
            printf("%6" PRId64 "  %-16s %-12s %s\n", id, ext != NULL ? ext : "-",
                   idm_identity_state_name(st), cn != NULL ? cn : "-");
        }
        idm_identity_free(&who);
    }
    idm_identity_iter_free(&it);
    cli_list_end(cli, &j);
    return rc == IDM_OK ? EXIT_OK : cli_fail(cli, "cannot list the identities");
}

/* ---- show --------------------------------------------------------------------- */

static const char SHOW_USAGE[] =
    "usage: idm identity show ID|EXTERNAL-ID\n"
    "\n"
    "Shows one identity: its state, names and every attribute.\n";

static int identity_show(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, SHOW_USAGE, 1, 1, "name one identity",
                          &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    rc = cli_open_store(cli, 0);
    if (rc != EXIT_OK)
        return rc;
    idm_identity_t *who = NULL;
    if ((rc = cli_open_identity(cli, argv[first], &who)) != EXIT_OK)
        return rc;
    int64_t id = 0;
    const char *ext = NULL, *cn = NULL, *upn = NULL;
    idm_identity_state st = IDM_IDENTITY_REGISTERED;
    size_t count = 0;
    idm_identity_get_id(who, &id);
    idm_identity_get_external_id(who, &ext);
    idm_identity_get_state(who, &st);
    idm_identity_get_common_name(who, &cn);
    idm_identity_get_upn(who, &upn);
    idm_identity_get_attribute_count(who, &count);
    struct json j;
    if (cli->json) {
        json_start(&j, stdout);
        json_open(&j, NULL, '{');
        json_int(&j, "id", id);
        json_str(&j, "external_id", ext);
        json_str(&j, "state", idm_identity_state_name(st));
        json_str(&j, "common_name", cn);
        json_str(&j, "upn", upn);
        json_open(&j, "attributes", '{');
    } else {
        printf("identity %" PRId64 "\n  external id  %s\n  state        %s\n"
               "  common name  %s\n  upn          %s\n  attributes\n",
               id, ext != NULL ? ext : "-", idm_identity_state_name(st),
               cn != NULL ? cn : "-", upn != NULL ? upn : "-");
    }
    for (size_t i = 0; i < count; i++) {
        const char *key = NULL, *value = NULL;
        if (idm_identity_get_attribute_at(who, i, &key, &value) != IDM_OK)
            continue;
        if (cli->json)
            json_str(&j, key, value);
        else
            printf("    %-20s %s\n", key, value);
    }
    if (cli->json) {
        json_close(&j, '}');
        json_close(&j, '}');
        json_end(&j);
    }
    idm_identity_free(&who);
    return EXIT_OK;
}

/* ---- set-state -------------------------------------------------------------- */

static const char SET_STATE_USAGE[] =
    "usage: idm identity set-state STATE IDENTITY...\n"
    "\n"
    "Moves identities (id or external id) to STATE: registered, active,\n"
    "inactive or terminated, as the identity graph allows (audited).  Each is\n"
    "its own transaction; the first that cannot move stops the command.\n";

static int identity_set_state(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, SET_STATE_USAGE, 2, -1, "give STATE and the identities",
                          &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    idm_identity_state state = IDM_IDENTITY_REGISTERED;
    rc = parse_identity_state(cli, argv[first], &state);
    if (rc != EXIT_OK || (rc = cli_open_store(cli, 0)) != EXIT_OK)
        return rc;
    struct json j;
    cli_list_begin(cli, &j);
    for (int i = first + 1; i < argc && rc == EXIT_OK; i++) {
        idm_identity_t *who = NULL;
        if ((rc = cli_open_identity(cli, argv[i], &who)) != EXIT_OK)
            break;
        int64_t id = 0;
        idm_identity_get_id(who, &id);
        if (idm_identity_set_state(who, cli->actor, state) != IDM_OK) {
            char what[300];
            snprintf(what, sizeof what, "identity '%s'", argv[i]);
            rc = cli_fail(cli, what);
        } else if (cli->json) {
            json_open(&j, NULL, '{');
            json_int(&j, "id", id);
            json_str(&j, "state", idm_identity_state_name(state));
            json_close(&j, '}');
        } else {
            printf("identity %" PRId64 ": %s\n", id, idm_identity_state_name(state));
        }
        idm_identity_free(&who);
    }
    cli_list_end(cli, &j);
    return rc;
}

int cmd_identity(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command table[] = {
        {"import", "import identities from a CSV file", identity_import},
        {"list", "list the identities", identity_list},
        {"show", "show one identity and its attributes", identity_show},
        {"set-state", "move identities to another state", identity_set_state},
    };
    return cli_dispatch(cli, "identity", table, sizeof table / sizeof table[0], argc, argv);
}
