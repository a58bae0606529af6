/*
 * idm external order | approve | reject | abort | sync | update | activate |
 *              temporary | initialize | assign | withdraw | flush
 *
 * Ordering cards from an external production bureau through the built-in
 * spool producer (--spool DIR) and maildir notifier (--maildir DIR
 * --mail-from ADDRESS).  Every subcommand takes those three options; the
 * ones that talk to the bureau need --spool.
 */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

/* The options every subcommand shares, then its own. */
#define DESK_OPTIONS                                                                      \
    {"spool", required_argument, NULL, 1001}, {"maildir", required_argument, NULL, 1002}, \
        {"mail-from", required_argument, NULL, 1003}, {"help", no_argument, NULL, 'h'}

struct desk {
    const char *spool, *maildir, *mail_from;
    idm_producer_t *producer;
    idm_notifier_t *notifier;
    idm_external_t *external;
};

/* 1 when opt was one of DESK_OPTIONS (kept in d). */
static int desk_option(struct desk *d, int opt)
{
    switch (opt) {
    case 1001: d->spool = optarg; return 1;
    case 1002: d->maildir = optarg; return 1;
    case 1003: d->mail_from = optarg; return 1;
    }
    return 0;
}

static void desk_close(struct desk *d)
{
    idm_external_free(&d->external);
    idm_notifier_free(&d->notifier);
    idm_producer_free(&d->producer);
}

/* Opens the store and the desk with the backends the options name. */
static int desk_open(struct cli *cli, struct desk *d)
{
    if ((d->maildir == NULL) != (d->mail_from == NULL))
        return cli_usage_error(cli, "--maildir and --mail-from go together");
    int rc = cli_open_store(cli, 0);
    if (rc != EXIT_OK)
        return rc;
    if (d->spool != NULL && idm_producer_new_spool(&d->producer, d->spool) != IDM_OK)
        return cli_fail(cli, "cannot open the spool");
    if (d->maildir != NULL &&
        idm_notifier_new_maildir(&d->notifier, d->maildir, d->mail_from) != IDM_OK)
        return cli_fail(cli, "cannot open the maildir");
    if (idm_external_new(&d->external, cli->ctx, d->producer, d->notifier) != IDM_OK)
        return cli_fail(cli, "cannot open the external production desk");
    return EXIT_OK;
}

/* One card after a step: JSON object or a line "card N (number): state". */
static void print_card_state(const struct cli *cli, struct json *j, const idm_card_t *card)
{
    int64_t id = 0;
    const char *number = NULL, *chip = NULL, *shipment = NULL;
    idm_card_state state = IDM_CARD_REGISTERED;
    idm_card_get_id(card, &id);
    idm_card_get_number(card, &number);
    idm_card_get_state(card, &state);
    idm_card_get_chip_serial(card, &chip);
    idm_card_get_shipment(card, &shipment);
    if (cli->json) {
        json_open(j, NULL, '{');
        json_int(j, "id", id);
        json_str(j, "number", number);
        json_str(j, "state", idm_card_state_name(state));
        json_str(j, "chip_serial", chip);
        json_str(j, "shipment", shipment);
        json_close(j, '}');
    } else {
        printf("card %" PRId64 " (%s): %s%s%s\n", id, number, idm_card_state_name(state),
               chip != NULL ? ", chip " : "", chip != NULL ? chip : "");
    }
}

/* Parses the desk options of a subcommand that has no others;
 * argv[optind..] are then the operands.  -1 after printing the usage for
 * --help. */
static int parse_plain(struct desk *d, int argc, char **argv, const char *usage)
{
    static const struct option longopts[] = {DESK_OPTIONS, {NULL, 0, NULL, 0}};
    int opt;
    optind = 0; /* glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (desk_option(d, opt))
            continue;
        if (opt == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

#define DESK_USAGE                                                                   \
    "desk options: --spool DIR (the bureau's spool), --maildir DIR --mail-from ADDRESS\n" \
    "(where the e-mails go)\n"

/* ---- order ------------------------------------------------------------------- */

static const char ORDER_USAGE[] =
    "usage: idm external order [--type TYPE] [--option OPTION] [desk options] IDENTITY...\n"
    "\n"
    "Orders a card from the bureau for each identity (id or external id), each\n"
    "in its own transaction; a refused identity stops nothing and its reason is\n"
    "printed.  Needs the option external_production_enabled.  With the approval\n"
    "step the cards wait in requested; with queue_orders they wait in processing\n"
    "for 'idm external sync'; else they go to the bureau at once (--spool).\n"
    "Exit code 1 when any identity was refused.\n" DESK_USAGE;

struct batch_print {
    const struct cli *cli;
    struct json *j;
    int refused;
};

static void on_result(size_t index, int64_t identity_id, int result, int64_t card_id,
                      idm_card_state state, const char *reason, void *user_data)
{
    struct batch_print *b = user_data;
    (void)index;
    if (result != IDM_OK)
        b->refused++;
    if (b->cli->json) {
        json_open(b->j, NULL, '{');
        json_int(b->j, "identity_id", identity_id);
        json_int(b->j, "card_id", card_id);
        json_str(b->j, "state", result == IDM_OK ? idm_card_state_name(state) : NULL);
        json_str(b->j, "error", result == IDM_OK ? NULL : idm_strerror_name(result));
        json_str(b->j, "reason", reason);
        json_close(b->j, '}');
    } else if (result == IDM_OK) {
        printf("identity %" PRId64 ": card %" PRId64 " %s\n", identity_id, card_id,
               idm_card_state_name(state));
    } else {
        printf("identity %" PRId64 ": refused: %s\n", identity_id,
               reason != NULL ? reason : idm_strerror(result));
    }
}

static int external_order(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"type", required_argument, NULL, 't'},
                                             {"option", required_argument, NULL, 'o'},
                                             DESK_OPTIONS,
                                             {NULL, 0, NULL, 0}};
    struct desk d;
    memset(&d, 0, sizeof d);
    int type = IDM_CARD_EMPLOYEE, option = IDM_CARD_PHYSICAL, opt, rc = EXIT_OK;
    const char *types[16], *options[4];
    int ntypes = 0, noptions = 0;
    CLI_ENUM_NAMES(idm_card_type_name, idm_card_type, types, 16, ntypes);
    CLI_ENUM_NAMES(idm_card_option_name, idm_card_option, options, 4, noptions);
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (desk_option(&d, opt))
            continue;
        switch (opt) {
        case 't': rc = cli_parse_choice(cli, "--type", optarg, types, ntypes, &type); break;
        case 'o': rc = cli_parse_choice(cli, "--option", optarg, options, noptions, &option); break;
        case 'h': fputs(ORDER_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
        if (rc != EXIT_OK)
            return rc;
    }
    if (optind >= argc)
        return cli_usage_error(cli, "name the identities; see 'idm external order --help'");
    if ((rc = desk_open(cli, &d)) != EXIT_OK) {
        desk_close(&d);
        return rc;
    }
    size_t n = (size_t)(argc - optind);
    int64_t *ids = calloc(n, sizeof *ids);
    for (size_t i = 0; ids != NULL && i < n && rc == EXIT_OK; i++) {
        idm_identity_t *who = NULL;
        if ((rc = cli_open_identity(cli, argv[optind + (int)i], &who)) == EXIT_OK) {
            idm_identity_get_id(who, &ids[i]);
            idm_identity_free(&who);
        }
    }
    if (ids == NULL)
        rc = cli_fail(cli, "out of memory");
    struct json j;
    json_start(&j, stdout);
    struct batch_print b = {cli, &j, 0};
    idm_order_t *order = NULL;
    if (rc == EXIT_OK) {
        if (cli->json)
            json_open(&j, NULL, '[');
        if (idm_external_order_batch(d.external, cli->actor, ids, n, (idm_card_type)type,
                                     (idm_card_option)option, on_result, &b, &order) != IDM_OK)
            rc = cli_fail(cli, "cannot order the cards");
        if (cli->json) {
            json_close(&j, ']');
            json_end(&j);
        }
        if (rc == EXIT_OK && b.refused > 0) {
            fprintf(stderr, "idm %s: %d of %zu identities refused\n", cli->command, b.refused,
                    n);
            rc = EXIT_FAILED;
        }
    }
    idm_order_free(&order);
    free(ids);
    desk_close(&d);
    return rc;
}

/* ---- the steps on cards: approve, reject, abort, withdraw --------------------------- */

enum card_step { STEP_APPROVE, STEP_REJECT, STEP_ABORT, STEP_WITHDRAW };

static int card_step(struct cli *cli, int argc, char **argv, enum card_step step,
                     const char *usage)
{
    static const struct option longopts[] = {{"reason", required_argument, NULL, 'r'},
                                             DESK_OPTIONS,
                                             {NULL, 0, NULL, 0}};
    struct desk d;
    memset(&d, 0, sizeof d);
    const char *reason = NULL;
    int opt, rc = EXIT_OK;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (desk_option(&d, opt))
            continue;
        if (opt == 'r' && step != STEP_APPROVE) {
            reason = optarg;
            continue;
        }
        if (opt == 'h') {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        return opt == 'r' ? cli_usage_error(cli, "--reason is not for approving") : EXIT_USAGE;
    }
    if (optind >= argc)
        return cli_usage_error(cli, "name the cards");
    if ((rc = desk_open(cli, &d)) != EXIT_OK) {
        desk_close(&d);
        return rc;
    }
    struct json j;
    cli_list_begin(cli, &j);
    for (int i = optind; i < argc && rc == EXIT_OK; i++) {
        idm_card_t *card = NULL;
        if ((rc = cli_open_card(cli, argv[i], &card)) != EXIT_OK)
            break;
        int r = step == STEP_APPROVE  ? idm_external_approve(d.external, cli->actor, card)
                : step == STEP_REJECT ? idm_external_reject(d.external, cli->actor, card, reason)
                : step == STEP_ABORT  ? idm_external_abort(d.external, cli->actor, card, reason)
                                      : idm_external_withdraw(d.external, cli->actor, card,
                                                              reason);
        if (r != IDM_OK) {
            char what[300];
            snprintf(what, sizeof what, "card '%s'", argv[i]);
            rc = cli_fail(cli, what);
        } else {
            print_card_state(cli, &j, card);
        }
        idm_card_free(&card);
    }
    cli_list_end(cli, &j);
    desk_close(&d);
    return rc;
}

static const char APPROVE_USAGE[] =
    "usage: idm external approve [desk options] CARD...\n"
    "\n"
    "Approves requested cards (the approval step); the approver (--actor) must\n"
    "not be the one who ordered the card.\n" DESK_USAGE;
static const char REJECT_USAGE[] =
    "usage: idm external reject [--reason TEXT] [desk options] CARD...\n"
    "\n"
    "Rejects requested cards (final).\n" DESK_USAGE;
static const char ABORT_USAGE[] =
    "usage: idm external abort [--reason TEXT] [desk options] CARD...\n"
    "\n"
    "Aborts cards waiting in the queue (processing); a card whose order may\n"
    "already be at the bureau is withdrawn from the spool first (--spool).\n" DESK_USAGE;
static const char WITHDRAW_USAGE[] =
    "usage: idm external withdraw [--reason TEXT] [desk options] CARD...\n"
    "\n"
    "Takes assigned temporary cards back: unassigned, certificates on hold.\n" DESK_USAGE;

static int external_approve(struct cli *cli, int argc, char **argv)
{
    return card_step(cli, argc, argv, STEP_APPROVE, APPROVE_USAGE);
}

static int external_reject(struct cli *cli, int argc, char **argv)
{
    return card_step(cli, argc, argv, STEP_REJECT, REJECT_USAGE);
}

static int external_abort(struct cli *cli, int argc, char **argv)
{
    return card_step(cli, argc, argv, STEP_ABORT, ABORT_USAGE);
}

static int external_withdraw(struct cli *cli, int argc, char **argv)
{
    return card_step(cli, argc, argv, STEP_WITHDRAW, WITHDRAW_USAGE);
}

/* ---- sync, update, flush: two counts each -------------------------------------------- */

enum count_step { COUNT_SYNC, COUNT_UPDATE, COUNT_FLUSH };

/* How many status files the spool has quarantined: the "<name>.reason"
 * files of <spool>/quarantine (0 when there is no such folder). */
static int64_t quarantined(const char *spool)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/quarantine", spool);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return 0;
    int64_t n = 0;
    const struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > 7 && strcmp(e->d_name + len - 7, ".reason") == 0;
    }
    closedir(dir);
    return n;
}

static int count_step(struct cli *cli, int argc, char **argv, enum count_step step,
                      const char *usage)
{
    struct desk d;
    memset(&d, 0, sizeof d);
    int rc = parse_plain(&d, argc, argv, usage);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if ((rc = desk_open(cli, &d)) != EXIT_OK) {
        desk_close(&d);
        return rc;
    }
    size_t a = 0, b = 0;
    /* a report the library refused, or a file the spool could not read as
     * one, is quarantined: the count tells the operator of both */
    int64_t quarantined_before = step == COUNT_UPDATE ? quarantined(d.spool) : 0;
    static const char *const names[][2] = {{"sent", "failed"}, {"applied", "refused"},
                                           {"sent", "pending"}};
    int r = step == COUNT_SYNC     ? idm_external_sync_queue(d.external, cli->actor, 100, &a, &b)
            : step == COUNT_UPDATE ? idm_external_update(d.external, cli->actor, &a, &b)
                                   : idm_external_flush_notifications(d.external, cli->actor,
                                                                      &a, &b);
    const char *detail = idm_last_error_message();
    int64_t new_quarantined =
        step == COUNT_UPDATE ? quarantined(d.spool) - quarantined_before : 0;
    if (r != IDM_OK) {
        rc = cli_fail(cli, "stopped");
    } else if (cli->json) {
        struct json j;
        json_start(&j, stdout);
        json_open(&j, NULL, '{');
        json_int(&j, names[step][0], (int64_t)a);
        json_int(&j, names[step][1], (int64_t)b);
        if (step == COUNT_UPDATE)
            json_int(&j, "quarantined", new_quarantined);
        json_close(&j, '}');
        json_end(&j);
    } else {
        printf("%zu %s, %zu %s\n", a, names[step][0], b, names[step][1]);
    }
    if (new_quarantined > 0)
        fprintf(stderr, "idm %s: %" PRId64 " status file%s quarantined in %s/quarantine; "
                        "each has its reason in a .reason file beside it\n",
                cli->command, new_quarantined, new_quarantined == 1 ? "" : "s", d.spool);
    if (r == IDM_OK && b > 0 && step != COUNT_FLUSH && detail[0] != '\0')
        fprintf(stderr, "idm %s: the last refusal: %s\n", cli->command, detail);
    desk_close(&d);
    return rc;
}

static const char SYNC_USAGE[] =
    "usage: idm external sync --spool DIR [desk options]\n"
    "\n"
    "Sends the queued cards (processing) to the bureau.  Each message is\n"
    "journaled first, so a crash or a repeat never orders a card twice.\n" DESK_USAGE;
static const char UPDATE_USAGE[] =
    "usage: idm external update --spool DIR [desk options]\n"
    "\n"
    "Applies the bureau's status reports from the spool's inbox (ordered ->\n"
    "in_production -> produced or failed).  Refused reports, and files that\n"
    "are not reports, are quarantined with their reason: the count says how\n"
    "many (\"quarantined\" with --json).\n" DESK_USAGE;
static const char FLUSH_USAGE[] =
    "usage: idm external flush --maildir DIR --mail-from ADDRESS [desk options]\n"
    "\n"
    "Delivers the e-mails that could not be delivered when their step ran.\n" DESK_USAGE;

static int external_sync(struct cli *cli, int argc, char **argv)
{
    return count_step(cli, argc, argv, COUNT_SYNC, SYNC_USAGE);
}

static int external_update(struct cli *cli, int argc, char **argv)
{
    return count_step(cli, argc, argv, COUNT_UPDATE, UPDATE_USAGE);
}

static int external_flush(struct cli *cli, int argc, char **argv)
{
    return count_step(cli, argc, argv, COUNT_FLUSH, FLUSH_USAGE);
}

/* ---- temporary cards ---------------------------------------------------------------------- */

static const char TEMPORARY_USAGE[] =
    "usage: idm external temporary --count N --name NAME [--option OPTION] [desk options]\n"
    "\n"
    "Orders N temporary cards (1 .. the option temporary_cards_per_order) named\n"
    "\"NAME 1\", \"NAME 2\", ...; prints the order's cards.\n" DESK_USAGE;

static int external_temporary(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"count", required_argument, NULL, 'c'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"option", required_argument, NULL, 'o'},
                                             DESK_OPTIONS,
                                             {NULL, 0, NULL, 0}};
    struct desk d;
    memset(&d, 0, sizeof d);
    const char *name = NULL, *options[4];
    int option = IDM_CARD_PHYSICAL, noptions = 0, opt, rc = EXIT_OK;
    int64_t count = 0;
    CLI_ENUM_NAMES(idm_card_option_name, idm_card_option, options, 4, noptions);
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (desk_option(&d, opt))
            continue;
        switch (opt) {
        case 'c':
            if ((count = cli_parse_id(optarg)) == 0 || count > 9)
                rc = cli_usage_error(cli, "--count: '%s' is not 1..9", optarg);
            break;
        case 'n': name = optarg; break;
        case 'o': rc = cli_parse_choice(cli, "--option", optarg, options, noptions, &option); break;
        case 'h': fputs(TEMPORARY_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
        if (rc != EXIT_OK)
            return rc;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if (count == 0 || name == NULL)
        return cli_usage_error(cli, "--count and --name are required");
    if ((rc = desk_open(cli, &d)) != EXIT_OK) {
        desk_close(&d);
        return rc;
    }
    idm_order_t *order = NULL;
    if (idm_external_order_temporary(d.external, cli->actor, (idm_card_option)option,
                                     (size_t)count, name, &order) != IDM_OK) {
        desk_close(&d);
        return cli_fail(cli, "cannot order the temporary cards");
    }
    int64_t order_id = 0;
    idm_order_get_id(order, &order_id);
    idm_card_iter_t *it = NULL;
    struct json j;
    cli_list_begin(cli, &j);
    idm_card_t *card = NULL;
    int r = idm_card_iter_new(cli->ctx, &it);
    if (r == IDM_OK)
        r = idm_card_iter_set_order(it, order_id);
    while (r == IDM_OK && (r = idm_card_iter_next(it, &card)) == IDM_OK && card != NULL) {
        print_card_state(cli, &j, card);
        idm_card_free(&card);
    }
    cli_list_end(cli, &j);
    idm_card_iter_free(&it);
    idm_order_free(&order);
    desk_close(&d);
    return r == IDM_OK ? EXIT_OK : cli_fail(cli, "cannot list the temporary cards");
}

static const char ASSIGN_USAGE[] =
    "usage: idm external assign [desk options] CARD IDENTITY\n"
    "\n"
    "Lends an unassigned temporary card to an active identity.\n" DESK_USAGE;

static int external_assign(struct cli *cli, int argc, char **argv)
{
    struct desk d;
    memset(&d, 0, sizeof d);
    int rc = parse_plain(&d, argc, argv, ASSIGN_USAGE);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;
    if (argc - optind != 2)
        return cli_usage_error(cli, "give CARD and IDENTITY");
    if ((rc = desk_open(cli, &d)) != EXIT_OK) {
        desk_close(&d);
        return rc;
    }
    idm_card_t *card = NULL;
    idm_identity_t *who = NULL;
    int64_t who_id = 0;
    if ((rc = cli_open_card(cli, argv[optind], &card)) == EXIT_OK &&
        (rc = cli_open_identity(cli, argv[optind + 1], &who)) == EXIT_OK) {
        idm_identity_get_id(who, &who_id);
        if (idm_external_assign(d.external, cli->actor, card, who_id) != IDM_OK) {
            rc = cli_fail(cli, "cannot assign the card");
        } else {
            struct json j;
            json_start(&j, stdout);
            print_card_state(cli, &j, card);
            if (cli->json)
                json_end(&j);
        }
    }
    idm_identity_free(&who);
    idm_card_free(&card);
    desk_close(&d);
    return rc;
}

/* ---- activate and initialize: the card in a PC/SC reader ----------------------------------- */

static int encode_step(struct cli *cli, int argc, char **argv, int temporary, const char *usage)
{
    static const struct option longopts[] = {
        {"reader", required_argument, NULL, 'r'},  {"ca-dir", required_argument, NULL, 'c'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"pin-dir", required_argument, NULL, 'P'}, DESK_OPTIONS,
        {NULL, 0, NULL, 0}};
    struct desk d;
    memset(&d, 0, sizeof d);
    const char *reader = NULL, *ca_dir = NULL, *passphrase_file = NULL, *pin_dir = NULL;
    int opt, rc = EXIT_OK;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (desk_option(&d, opt))
            continue;
        switch (opt) {
        case 'r': reader = optarg; break;
        case 'c': ca_dir = optarg; break;
        case 'p': passphrase_file = optarg; break;
        case 'P': pin_dir = optarg; break;
        case 'h': fputs(usage, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, "name one card");
    if ((rc = desk_open(cli, &d)) != EXIT_OK) {
        desk_close(&d);
        return rc;
    }
    idm_card_t *card = NULL;
    idm_ca_t *ca = NULL;
    idm_encoder_t *encoder = NULL;
    struct cli_pin_letters letters = {pin_dir, 0, 0};
    if ((rc = cli_open_card(cli, argv[optind], &card)) != EXIT_OK ||
        (ca_dir != NULL && (rc = cli_load_ca(cli, ca_dir, passphrase_file, &ca)) != EXIT_OK)) {
        /* said */
    } else if (idm_encoder_new_pcsc(&encoder, cli->ctx) != IDM_OK ||
               (reader != NULL && idm_encoder_pcsc_set_reader(encoder, reader) != IDM_OK) ||
               idm_encoder_set_pin_callbacks(encoder, NULL,
                                             pin_dir != NULL ? cli_write_pin_letter : NULL,
                                             &letters) != IDM_OK) {
        rc = cli_fail(cli, "cannot set up the encoder");
    } else if ((temporary ? idm_external_initialize_temporary(d.external, cli->actor, card,
                                                              encoder, ca)
                          : idm_external_activate(d.external, cli->actor, card, encoder, ca)) !=
               IDM_OK) {
        rc = cli_fail(cli, temporary ? "cannot initialize the card" : "cannot activate the card");
    } else {
        struct json j;
        json_start(&j, stdout);
        print_card_state(cli, &j, card);
        if (cli->json)
            json_end(&j);
    }
    idm_encoder_free(&encoder);
    idm_ca_free(&ca);
    idm_card_free(&card);
    desk_close(&d);
    return rc;
}

static const char ACTIVATE_USAGE[] =
    "usage: idm external activate [--reader NAME] [--ca-dir DIR] [--pin-dir DIR]\n"
    "                             [--passphrase-file FILE] [desk options] CARD\n"
    "\n"
    "Encodes a card the bureau produced, now in a PC/SC reader (keys,\n"
    "certificates from the CA in DIR for Digital ID, PIN and PUK) and activates\n"
    "it.  The chip must be the one the bureau reported.  PIN letters as for\n"
    "'idm order produce'.\n" DESK_USAGE;
static const char INITIALIZE_USAGE[] =
    "usage: idm external initialize [--reader NAME] [--ca-dir DIR] [--pin-dir DIR]\n"
    "                               [--passphrase-file FILE] [desk options] CARD\n"
    "\n"
    "Encodes a produced temporary card, which becomes unassigned.\n" DESK_USAGE;

static int external_activate(struct cli *cli, int argc, char **argv)
{
    return encode_step(cli, argc, argv, 0, ACTIVATE_USAGE);
}

static int external_initialize(struct cli *cli, int argc, char **argv)
{
    return encode_step(cli, argc, argv, 1, INITIALIZE_USAGE);
}

int cmd_external(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command table[] = {
        {"order", "order cards from the bureau for identities", external_order},
        {"approve", "approve requested cards (approval step)", external_approve},
        {"reject", "reject requested cards", external_reject},
        {"abort", "abort cards waiting in the queue", external_abort},
        {"sync", "send the queued cards to the bureau", external_sync},
        {"update", "apply the bureau's status reports", external_update},
        {"activate", "encode and activate a produced card", external_activate},
        {"temporary", "order temporary cards", external_temporary},
        {"initialize", "encode a produced temporary card", external_initialize},
        {"assign", "lend a temporary card to an identity", external_assign},
        {"withdraw", "take a temporary card back", external_withdraw},
        {"flush", "deliver the e-mails still pending", external_flush},
    };
    return cli_dispatch(cli, "external", table, sizeof table / sizeof table[0], argc, argv);
}
