/*
 * idm init, idm audit verify
 */
#include <inttypes.h>

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
    if (cli_wants_help(argc, argv)) {
        fputs(INIT_USAGE, stdout);
        return EXIT_OK;
    }
    if (argc > 1)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
    int rc = cli_open_store(cli, 1);
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

/* ---- audit ----------------------------------------------------------------- */

static const char VERIFY_USAGE[] =
    "usage: idm audit verify\n"
    "\n"
    "Checks the audit trail's hash chain from the first event to the last.\n"
    "Exit code 1 names the first event that does not chain.\n";

static int audit_verify(struct cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(VERIFY_USAGE, stdout);
        return EXIT_OK;
    }
    if (argc > 1)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
    int rc = cli_open_store(cli, 0);
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
    };
    return cli_dispatch(cli, "audit", table, sizeof table / sizeof table[0], argc, argv);
}
