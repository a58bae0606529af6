/*
 * idm - the libidm command-line tool, built on the public API only.
 *
 *   idm [--store PATH] [--actor NAME] [--json] <command> [<args>]
 *
 * Exit codes (cli.h): 0 success, 1 a library call failed (the library's
 * detail message is on stderr), 2 the command line was wrong, 3 no store at
 * the path, 130 stopped by Ctrl-C (the work can be resumed).
 */
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

static int cmd_version(struct cli *cli, int argc, char **argv);

static const struct cli_command commands[] = {
    {"init", "create a new store", cmd_init},
    {"option", "show and set the store's options", cmd_option},
    {"identity", "import, list and show identities", cmd_identity},
    {"card", "request, approve, list and show cards", cmd_card},
    {"ca", "make the issuing CA and its CRLs", cmd_ca},
    {"cert", "show, export and revoke certificates", cmd_cert},
    {"order", "open, list, show and produce mass production orders", cmd_order},
    {"layout", "check card layouts and preview cards before printing", cmd_layout},
    {"external", "order cards from a production bureau, and what follows", cmd_external},
    {"report", "report on production across orders", cmd_report},
    {"audit", "verify and export the audit trail", cmd_audit},
    {"version", "print the versions of the tool and of the loaded library", cmd_version},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fputs("usage: idm [--store PATH] [--actor NAME] [--json] <command> [<args>]\n"
          "\n"
          "global options:\n"
          "  --store PATH   the store (default $IDM_STORE, else idm.db)\n"
          "  --actor NAME   who acts, for the audit trail (default $IDM_ACTOR, else\n"
          "                 cli:<login name>)\n"
          "  --json         print one JSON document on stdout instead of text\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\n'idm <command> --help' describes one.\n"
          "\n"
          "exit codes: 0 success, 1 a library call failed (its message is on stderr),\n"
          "2 bad command line, 3 no store at the path, 130 interrupted (resumable)\n",
          out);
}

static int cmd_version(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv,
                          "usage: idm version\n\n"
                          "Prints the versions of the tool and of the loaded library.\n",
                          0, 0, "", &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    if (cli->json) {
        struct json j;
        json_start(&j, stdout);
        json_open(&j, NULL, '{');
        json_str(&j, "tool", IDM_VERSION_STRING);
        json_str(&j, "library", idm_version_string());
        json_close(&j, '}');
        json_end(&j);
    } else {
        printf("idm %s (libidm %s)\n", IDM_VERSION_STRING, idm_version_string());
    }
    if (idm_version() != IDM_VERSION_NUMBER) {
        fprintf(stderr, "idm: built with libidm %s but running with %s\n", IDM_VERSION_STRING,
                idm_version_string());
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

/* The default actor: cli:<login name>. */
static const char *default_actor(struct cli *cli)
{
    const char *env = getenv("IDM_ACTOR");
    if (env != NULL && env[0] != '\0')
        return env;
    const struct passwd *pw = getpwuid(geteuid());
    const char *login = pw != NULL ? pw->pw_name : getenv("USER");
    snprintf(cli->actor_buf, sizeof cli->actor_buf, "cli:%s", login != NULL ? login : "unknown");
    return cli->actor_buf;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
                                             {"actor", required_argument, NULL, 'a'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    struct cli cli;
    memset(&cli, 0, sizeof cli);
    cli.command = "";
    const char *store = getenv("IDM_STORE");
    cli.store = store != NULL && store[0] != '\0' ? store : "idm.db";
    cli.actor = NULL;
    argv[0] = "idm";
    int opt;
    while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': cli.store = optarg; break;
        case 'a': cli.actor = optarg; break;
        case 'j': cli.json = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case 'V': return cmd_version(&cli, 1, argv);
        default:
            fputs("idm: see 'idm --help'\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cli.actor == NULL)
        cli.actor = default_actor(&cli);
    if (cli.actor[0] == '\0' || cli.store[0] == '\0') {
        fprintf(stderr, "idm: %s must not be empty\n", cli.actor[0] == '\0' ? "--actor" : "--store");
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    int rc = -1;
    for (size_t i = 0; i < N_COMMANDS && rc < 0; i++) {
        if (strcmp(name, commands[i].name) == 0) {
            /* argv[0] of the command is its full name, which getopt's own
             * messages ("unrecognized option") start with */
            static char program[64];
            snprintf(program, sizeof program, "idm %s", commands[i].name);
            argv[optind] = program;
            cli.command = commands[i].name;
            rc = commands[i].run(&cli, argc - optind, argv + optind);
        }
    }
    if (rc < 0) {
        fprintf(stderr, "idm: unknown command '%s'; see 'idm --help'\n", name);
        rc = EXIT_USAGE;
    }
    cli_close(&cli);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "idm: cannot write the output\n");
        return EXIT_FAILED;
    }
    return rc;
}
