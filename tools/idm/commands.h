/*
 * The command groups of the idm tool, each in its own cmd_*.c file.  Each
 * gets argv[0] = its own name and returns an exit code (cli.h).
 */
#ifndef IDM_TOOL_COMMANDS_H
#define IDM_TOOL_COMMANDS_H

#include "cli.h"

int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_identity(struct cli *cli, int argc, char **argv);
int cmd_card(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_ca(struct cli *cli, int argc, char **argv);
int cmd_option(struct cli *cli, int argc, char **argv);
int cmd_order(struct cli *cli, int argc, char **argv);
int cmd_external(struct cli *cli, int argc, char **argv);
int cmd_cert(struct cli *cli, int argc, char **argv);

/* idm ca crl and idm audit export (cmd_cert.c), in the ca and audit groups. */
int cli_ca_crl(struct cli *cli, int argc, char **argv);
int cli_audit_export(struct cli *cli, int argc, char **argv);

/* Loads the CA that `idm ca create` wrote into dir (ca.crt, ca.key), with
 * the passphrase from passphrase_file or $IDM_CA_PASSPHRASE. */
int cli_load_ca(struct cli *cli, const char *dir, const char *passphrase_file, idm_ca_t **out);

/* Opens a card named by its id ("12") or, failing that, its card number;
 * prints why not and returns the exit code when there is none. */
int cli_open_card(struct cli *cli, const char *key, idm_card_t **out);

/* Opens an identity named by its id ("12") or, failing that, its external id;
 * prints why not and returns the exit code when there is none. */
int cli_open_identity(struct cli *cli, const char *key, idm_identity_t **out);

#endif /* IDM_TOOL_COMMANDS_H */
