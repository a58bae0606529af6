/*
 * idm - the libidm command-line tool, built on the public API only.
 *
 * Exit codes: 0 success, 1 a library call failed (the detail is printed on
 * stderr), 2 the command line was wrong.
 */
#include <stdio.h>
#include <string.h>

#include <idm/idm.h>

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fputs("usage: idm [--help] [--version] <command> [<args>]\n"
          "\n"
          "commands:\n"
          "  version    print the versions of the tool and of the loaded library\n"
          "\n"
          "exit codes: 0 success, 1 a library call failed, 2 bad command line\n",
          out);
}

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        puts("usage: idm version\n\nPrints the versions of the tool and of the loaded library.");
        return EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "idm version: unexpected argument '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    printf("idm %s (libidm %s)\n", IDM_VERSION_STRING, idm_version_string());
    if (idm_version() != IDM_VERSION_NUMBER) {
        fprintf(stderr, "idm: built with libidm %s but running with %s\n", IDM_VERSION_STRING,
                idm_version_string());
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0)
        return cmd_version(argc - 1, argv + 1);

    fprintf(stderr, "idm: unknown command '%s'; see 'idm --help'\n", cmd);
    return EXIT_USAGE;
}
