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
int cmd_layout(struct cli *cli, int argc, char **argv);

/* idm ca crl and idm audit export (cmd_cert.c), in the ca and audit groups. */
int cli_ca_crl(struct cli *cli, int argc, char **argv);
int cli_audit_export(struct cli *cli, int argc, char **argv);

/* Loads the CA that `idm ca create` wrote into dir (ca.crt, ca.key), with
 * the passphrase from passphrase_file or $IDM_CA_PASSPHRASE. */
int cli_load_ca(struct cli *cli, const char *dir, const char *passphrase_file, idm_ca_t **out);

/* A certificate as a JSON object in the open array, or a line of text:
 * serial, usage, state, validity; with card_id > 0 its card first. */
void cli_print_cert(const struct cli *cli, struct json *j, const idm_cert_t *cert,
                    int64_t card_id);

/* Opens a card named by its id ("12") or, failing that, its card number;
 * prints why not and returns the exit code when there is none. */
int cli_open_card(struct cli *cli, const char *key, idm_card_t **out);

/* Opens an identity named by its id ("12") or, failing that, its external id;
 * prints why not and returns the exit code when there is none. */
int cli_open_identity(struct cli *cli, const char *key, idm_identity_t **out);

/* ---- orders (cmd_order.c), shared with idm report (cmd_report.c) ---- */

/* The outcomes an order's cards are counted by, in the order they are
 * shown: pending, produced, skipped, failed. */
#define CLI_N_ORDER_OUTCOMES 4
extern const idm_order_card_outcome CLI_ORDER_OUTCOMES[CLI_N_ORDER_OUTCOMES];

/* How many of the order's cards have outcome (0 when it cannot be read). */
int64_t cli_order_count(const idm_order_t *order, idm_order_card_outcome outcome);

/* The order as a JSON object (under key; NULL inside an array) or as one
 * line of text, into j->out (json_start() was called either way). */
void cli_print_order(const struct cli *cli, struct json *j, const char *key,
                     const idm_order_t *order);

/* The outcomes of the cards that did not go through: skipped, failed. */
extern const idm_order_card_outcome CLI_ORDER_PROBLEMS[2];

/* Called for one card of an order with its outcome, the attempt it was
 * recorded at and the reason it records ("" for none). */
typedef void (*cli_order_card_fn)(int64_t order_id, idm_order_card_outcome outcome,
                                  const idm_card_t *card, int attempt, const char *reason,
                                  void *data);

/* A card of an order that did not go through, as a JSON object in the open
 * array or a line of text into j->out: its number, outcome, attempt and
 * reason; with order_id > 0 the order (and, in JSON, the outcome) too. */
void cli_print_order_card(const struct cli *cli, struct json *j, int64_t order_id,
                          idm_order_card_outcome outcome, const idm_card_t *card, int attempt,
                          const char *reason);

/* Calls fn for each of the order's cards with outcome, in card id order.
 * EXIT_OK, or EXIT_FAILED after saying why. */
int cli_order_each_card(struct cli *cli, const idm_order_t *order,
                        idm_order_card_outcome outcome, cli_order_card_fn fn, void *data);

int cmd_report(struct cli *cli, int argc, char **argv);

#endif /* IDM_TOOL_COMMANDS_H */
