/*
 * idm card request | approve | set-state | list | show
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

CLI_ENUM_PARSER(parse_type, idm_card_type, idm_card_type_name, "--type")
CLI_ENUM_PARSER(parse_option, idm_card_option, idm_card_option_name, "--option")
CLI_ENUM_PARSER(parse_production, idm_production, idm_production_name, "--production")
CLI_ENUM_PARSER(parse_state, idm_card_state, idm_card_state_name, "--state")

int cli_open_card(struct cli *cli, const char *key, idm_card_t **out)
{
    int64_t id = cli_parse_id(key);
    int rc = id > 0 ? idm_card_open(cli->ctx, id, out) : IDM_ERR_NOT_FOUND;
    if (rc == IDM_ERR_NOT_FOUND)
        rc = idm_card_open_number(cli->ctx, key, out);
    if (rc != IDM_OK) {
        char what[300];
        snprintf(what, sizeof what, "no card '%s'", key);
        return cli_fail(cli, what);
    }
    return EXIT_OK;
}

/* One card, as a JSON object (under key; NULL in an array) or a line. */
static void print_card(const struct cli *cli, struct json *j, const char *key,
                       const idm_card_t *card)
{
    int64_t id = 0, who = 0, order = 0;
    const char *number = NULL, *chip = NULL;
    idm_card_type type = IDM_CARD_EMPLOYEE;
    idm_card_option option = IDM_CARD_PHYSICAL;
    idm_production production = IDM_PRODUCTION_LOCAL;
    idm_card_state state = IDM_CARD_REGISTERED;
    idm_card_get_id(card, &id);
    idm_card_get_number(card, &number);
    idm_card_get_type(card, &type);
    idm_card_get_option(card, &option);
    idm_card_get_production(card, &production);
    idm_card_get_state(card, &state);
    idm_card_get_identity_id(card, &who);
    idm_card_get_chip_serial(card, &chip);
    idm_card_get_order_id(card, &order);
    if (cli->json) {
        json_open(j, key, '{');
        json_int(j, "id", id);
        json_str(j, "number", number);
        json_str(j, "type", idm_card_type_name(type));
        json_str(j, "option", idm_card_option_name(option));
        json_str(j, "production", idm_production_name(production));
        json_str(j, "state", idm_card_state_name(state));
        json_int(j, "identity_id", who);
        json_int(j, "order_id", order);
        json_str(j, "chip_serial", chip);
        json_close(j, '}');
    } else {
        printf("%6" PRId64 "  %-14s %-10s %-8s %-8s %-13s identity %-6" PRId64 " chip %s\n", id,
               number, idm_card_type_name(type), idm_card_option_name(option),
               idm_production_name(production), idm_card_state_name(state), who,
               chip != NULL ? chip : "-");
    }
}

/* ---- request -------------------------------------------------------------- */

static const char REQUEST_USAGE[] =
    "usage: idm card request --identity ID|EXTERNAL-ID [--type TYPE] [--option OPTION]\n"
    "                        [--production local|external] [--name NAME]\n"
    "\n"
    "Creates a card for an identity and requests it (registered -> requested).\n"
    "TYPE: employee (default), contractor, visitor, ...; OPTION: physical\n"
    "(default) or digital.  Prints the new card.\n";

static int card_request(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"identity", required_argument, NULL, 'i'}, {"type", required_argument, NULL, 't'},
        {"option", required_argument, NULL, 'o'},   {"production", required_argument, NULL, 'p'},
        {"name", required_argument, NULL, 'n'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *identity = NULL, *name = NULL;
    idm_card_type type = IDM_CARD_EMPLOYEE;
    idm_card_option option = IDM_CARD_PHYSICAL;
    idm_production production = IDM_PRODUCTION_LOCAL;
    int opt, rc = EXIT_OK;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'i': identity = optarg; break;
        case 't': rc = parse_type(cli, optarg, &type); break;
        case 'o': rc = parse_option(cli, optarg, &option); break;
        case 'p': rc = parse_production(cli, optarg, &production); break;
        case 'n': name = optarg; break;
        case 'h': fputs(REQUEST_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
        if (rc != EXIT_OK)
            return rc;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if (identity == NULL)
        return cli_usage_error(cli, "--identity is required; see 'idm card request --help'");
    if ((rc = cli_open_store(cli, 0)) != EXIT_OK)
        return rc;
    idm_identity_t *who = NULL;
    if ((rc = cli_open_identity(cli, identity, &who)) != EXIT_OK)
        return rc;
    int64_t who_id = 0;
    idm_identity_get_id(who, &who_id);
    idm_identity_free(&who);
    idm_card_t *card = NULL;
    if (idm_card_new(cli->ctx, cli->actor, type, option, production, who_id, name, &card) !=
        IDM_OK)
        return cli_fail(cli, "cannot create the card");
    if (idm_card_set_state(card, cli->actor, IDM_CARD_REQUESTED, NULL) != IDM_OK) {
        idm_card_free(&card);
        return cli_fail(cli, "the card was created but not requested");
    }
    struct json j;
    json_start(&j, stdout);
    print_card(cli, &j, NULL, card);
    if (cli->json)
        json_end(&j);
    idm_card_free(&card);
    return EXIT_OK;
}

/* ---- approve, set-state ---------------------------------------------------- */

/* Moves the cards named by argv[first..argc) to state, each in its own
 * transaction, printing each card moved; the first that cannot move stops
 * with the library's reason. */
static int move_cards(struct cli *cli, int argc, char **argv, int first, idm_card_state state,
                      const char *detail)
{
    int rc = cli_open_store(cli, 0);
    if (rc != EXIT_OK)
        return rc;
    struct json j;
    cli_list_begin(cli, &j);
    for (int i = first; i < argc && rc == EXIT_OK; i++) {
        idm_card_t *card = NULL;
        if ((rc = cli_open_card(cli, argv[i], &card)) != EXIT_OK)
            break;
        if (idm_card_set_state(card, cli->actor, state, detail) != IDM_OK) {
            char what[300];
            snprintf(what, sizeof what, "cannot move card '%s' to %s", argv[i],
                     idm_card_state_name(state));
            rc = cli_fail(cli, what);
        } else {
            print_card(cli, &j, NULL, card);
        }
        idm_card_free(&card);
    }
    cli_list_end(cli, &j);
    return rc;
}

static const char APPROVE_USAGE[] =
    "usage: idm card approve CARD...\n"
    "\n"
    "Approves requested cards (requested -> approved), each named by its id or\n"
    "number; each card is its own transaction, and the first that cannot be\n"
    "approved stops the command with the reason (those before it stay approved).\n";

static int card_approve(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, APPROVE_USAGE, 1, -1, "name the cards to approve",
                          &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    return move_cards(cli, argc, argv, first, IDM_CARD_APPROVED, NULL);
}

static const char SET_STATE_USAGE[] =
    "usage: idm card set-state [--reason TEXT] STATE CARD...\n"
    "\n"
    "Moves cards (id or number) to STATE as the card's graph allows, with the\n"
    "state changes of their certificates (issued -> active: handed out, the\n"
    "certificates become valid; active -> inactive: on hold; -> locked:\n"
    "revoked), audited with the reason.  Each card is its own transaction; the\n"
    "first that cannot move stops the command with the reason.\n";

static int card_set_state(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"reason", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *reason = NULL;
    int opt, rc = EXIT_OK;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r': reason = optarg; break;
        case 'h': fputs(SET_STATE_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (argc - optind < 2)
        return cli_usage_error(cli, "give STATE and the cards; see 'idm card set-state --help'");
    idm_card_state state = IDM_CARD_REGISTERED;
    if ((rc = parse_state(cli, argv[optind], &state)) != EXIT_OK)
        return rc;
    return move_cards(cli, argc, argv, optind + 1, state, reason);
}

/* ---- list ------------------------------------------------------------------- */

static const char LIST_USAGE[] =
    "usage: idm card list [--state STATE] [--type TYPE] [--order ID] [--identity ID]\n"
    "\n"
    "Lists the cards in id order: id, number, type, option, production, state,\n"
    "holder and chip serial.\n";

static int card_list(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'}, {"type", required_argument, NULL, 't'},
        {"order", required_argument, NULL, 'o'}, {"identity", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    int have_state = 0, have_type = 0, opt, rc = EXIT_OK;
    idm_card_state state = IDM_CARD_REGISTERED;
    idm_card_type type = IDM_CARD_EMPLOYEE;
    int64_t order = 0, identity = 0;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': rc = parse_state(cli, optarg, &state); have_state = 1; break;
        case 't': rc = parse_type(cli, optarg, &type); have_type = 1; break;
        case 'o':
            if ((order = cli_parse_id(optarg)) == 0)
                rc = cli_usage_error(cli, "--order: '%s' is not an order id", optarg);
            break;
        case 'i':
            if ((identity = cli_parse_id(optarg)) == 0)
                rc = cli_usage_error(cli, "--identity: '%s' is not an identity id", optarg);
            break;
        case 'h': fputs(LIST_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
        if (rc != EXIT_OK)
            return rc;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_open_store(cli, 0)) != EXIT_OK)
        return rc;
    idm_card_iter_t *it = NULL;
    if (idm_card_iter_new(cli->ctx, &it) != IDM_OK ||
        (have_state && idm_card_iter_set_state(it, state) != IDM_OK) ||
        (have_type && idm_card_iter_set_type(it, type) != IDM_OK) ||
        (order > 0 && idm_card_iter_set_order(it, order) != IDM_OK) ||
        (identity > 0 && idm_card_iter_set_identity(it, identity) != IDM_OK)) {
        idm_card_iter_free(&it);
        return cli_fail(cli, "cannot list the cards");
    }
    struct json j;
    cli_list_begin(cli, &j);
    idm_card_t *card = NULL;
    while ((rc = idm_card_iter_next(it, &card)) == IDM_OK && card != NULL) {
        print_card(cli, &j, NULL, card);
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);
    cli_list_end(cli, &j);
    return rc == IDM_OK ? EXIT_OK : cli_fail(cli, "cannot list the cards");
}

/* ---- show ------------------------------------------------------------------- */

static const char SHOW_USAGE[] =
    "usage: idm card show CARD\n"
    "\n"
    "Shows one card, named by its id or number, with its certificates.\n";

static int card_show(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, SHOW_USAGE, 1, 1, "name one card",
                          &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    rc = cli_open_store(cli, 0);
    if (rc != EXIT_OK)
        return rc;
    idm_card_t *card = NULL;
    if ((rc = cli_open_card(cli, argv[first], &card)) != EXIT_OK)
        return rc;
    int64_t card_id = 0;
    idm_card_get_id(card, &card_id);
    idm_cert_iter_t *it = NULL;
    if (idm_cert_iter_new(cli->ctx, card_id, &it) != IDM_OK) {
        idm_card_free(&card);
        return cli_fail(cli, "cannot list the card's certificates");
    }
    struct json j;
    json_start(&j, stdout);
    if (cli->json)
        json_open(&j, NULL, '{');
    print_card(cli, &j, "card", card);
    if (cli->json)
        json_open(&j, "certificates", '[');
    else
        printf("certificates\n");
    idm_cert_t *cert = NULL;
    while ((rc = idm_cert_iter_next(it, &cert)) == IDM_OK && cert != NULL) {
        cli_print_cert(cli, &j, cert, 0);
        idm_cert_free(&cert);
    }
    idm_cert_iter_free(&it);
    idm_card_free(&card);
    if (cli->json) {
        json_close(&j, ']');
        json_close(&j, '}');
        json_end(&j);
    }
    return rc == IDM_OK ? EXIT_OK : cli_fail(cli, "cannot list the card's certificates");
}

int cmd_card(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command table[] = {
        {"request", "create a card for an identity and request it", card_request},
        {"approve", "approve requested cards", card_approve},
        {"set-state", "move cards to another state (activate, lock, ...)", card_set_state},
        {"list", "list the cards", card_list},
        {"show", "show one card and its certificates", card_show},
    };
    return cli_dispatch(cli, "card", table, sizeof table / sizeof table[0], argc, argv);
}
