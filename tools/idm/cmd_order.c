/*
 * idm order create | list | show | produce
 *
 * produce runs mass production of an order on the built-in PC/SC encoder
 * (and, for Digital ID, the CA of `idm ca create`): a progress line on a
 * terminal, Ctrl-C stopping cleanly between cards (run it again to resume:
 * the store knows what is done), and a summary at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

CLI_ENUM_PARSER(parse_type, idm_card_type, idm_card_type_name, "--type")
CLI_ENUM_PARSER(parse_option, idm_card_option, idm_card_option_name, "--option")
CLI_ENUM_PARSER(parse_state, idm_order_state, idm_order_state_name, "--state")

static int open_order(struct cli *cli, const char *key, idm_order_t **out)
{
    int64_t id = cli_parse_id(key);
    int rc = id > 0 ? idm_order_open(cli->ctx, id, out) : IDM_ERR_NOT_FOUND;
    if (rc == IDM_ERR_NOT_FOUND)
        rc = idm_order_open_external(cli->ctx, key, out);
    if (rc != IDM_OK) {
        char what[300];
        snprintf(what, sizeof what, "no order '%s'", key);
        return cli_fail(cli, what);
    }
    return EXIT_OK;
}

int64_t cli_order_count(const idm_order_t *order, idm_order_card_outcome outcome)
{
    int64_t n = 0;
    idm_order_count_cards(order, outcome, &n);
    return n;
}

const idm_order_card_outcome CLI_ORDER_OUTCOMES[CLI_N_ORDER_OUTCOMES] = {
    IDM_OUTCOME_PENDING, IDM_OUTCOME_PRODUCED, IDM_OUTCOME_SKIPPED, IDM_OUTCOME_FAILED};

void cli_print_order(const struct cli *cli, struct json *j, const char *key,
                        const idm_order_t *order)
{
    int64_t id = 0;
    const char *ext = NULL;
    idm_order_kind kind = IDM_ORDER_MASS_PRODUCTION;
    idm_order_state state = IDM_ORDER_OPEN;
    idm_card_type type = IDM_CARD_EMPLOYEE;
    idm_card_option option = IDM_CARD_PHYSICAL;
    idm_order_get_id(order, &id);
    idm_order_get_external_id(order, &ext);
    idm_order_get_kind(order, &kind);
    idm_order_get_state(order, &state);
    idm_order_get_card_kind(order, &type, &option);
    if (cli->json) {
        json_open(j, key, '{');
        json_int(j, "id", id);
        json_str(j, "external_id", ext);
        json_str(j, "kind", idm_order_kind_name(kind));
        json_str(j, "state", idm_order_state_name(state));
        json_str(j, "card_type", idm_card_type_name(type));
        json_str(j, "card_option", idm_card_option_name(option));
        json_open(j, "cards", '{');
        for (size_t i = 0; i < CLI_N_ORDER_OUTCOMES; i++)
            json_int(j, idm_order_card_outcome_name(CLI_ORDER_OUTCOMES[i]), cli_order_count(order, CLI_ORDER_OUTCOMES[i]));
        json_close(j, '}');
        json_close(j, '}');
    } else {
        fprintf(j->out, "%6" PRId64 "  %-16s %-10s %-10s %-8s", id, idm_order_kind_name(kind),
                idm_order_state_name(state), idm_card_type_name(type),
                idm_card_option_name(option));
        for (size_t i = 0; i < CLI_N_ORDER_OUTCOMES; i++)
            fprintf(j->out, " %s %" PRId64, idm_order_card_outcome_name(CLI_ORDER_OUTCOMES[i]),
                    cli_order_count(order, CLI_ORDER_OUTCOMES[i]));
        fputc('\n', j->out);
    }
}

/* ---- create ---------------------------------------------------------------- */

static const char CREATE_USAGE[] =
    "usage: idm order create [--type TYPE] [--option physical|digital] [--limit N]\n"
    "                        [--external-id ID]\n"
    "\n"
    "Opens a mass production order for the approved cards of one type and\n"
    "option (default employee, physical), at most N of them (default all), and\n"
    "prints it.  The order snapshots the current options.\n";

static int order_create(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"type", required_argument, NULL, 't'},  {"option", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, 'l'}, {"external-id", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    idm_card_type type = IDM_CARD_EMPLOYEE;
    idm_card_option option = IDM_CARD_PHYSICAL;
    const char *external_id = NULL;
    int64_t limit = 0;
    int opt, rc = EXIT_OK;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': rc = parse_type(cli, optarg, &type); break;
        case 'o': rc = parse_option(cli, optarg, &option); break;
        case 'l':
            if ((limit = cli_parse_id(optarg)) == 0)
                rc = cli_usage_error(cli, "--limit: '%s' is not a positive number", optarg);
            break;
        case 'e': external_id = optarg; break;
        case 'h': fputs(CREATE_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
        if (rc != EXIT_OK)
            return rc;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_open_store(cli, 0)) != EXIT_OK)
        return rc;
    idm_order_t *order = NULL;
    size_t added = 0;
    if (idm_order_new(cli->ctx, cli->actor, IDM_ORDER_MASS_PRODUCTION, type, option, external_id,
                      &order) != IDM_OK)
        return cli_fail(cli, "cannot open the order");
    if (idm_order_add_approved(order, cli->actor, (size_t)limit, &added) != IDM_OK) {
        idm_order_free(&order);
        return cli_fail(cli, "the order was opened but its cards were not added");
    }
    struct json j;
    json_start(&j, stdout);
    cli_print_order(cli, &j, NULL, order);
    if (cli->json)
        json_end(&j);
    idm_order_free(&order);
    if (added == 0)
        fprintf(stderr, "idm %s: note: no approved %s %s card was waiting; the order is empty\n",
                cli->command, idm_card_type_name(type), idm_card_option_name(option));
    return EXIT_OK;
}

/* ---- list ---------------------------------------------------------------------- */

static const char LIST_USAGE[] =
    "usage: idm order list [--state STATE]\n"
    "\n"
    "Lists the orders: id, kind, state, card type and option, and how many\n"
    "cards are pending, produced, skipped and failed.\n";

static int order_list(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"state", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    idm_order_state state = IDM_ORDER_OPEN;
    int have_state = 0, opt, rc = EXIT_OK;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': rc = parse_state(cli, optarg, &state); have_state = 1; break;
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
    idm_order_iter_t *it = NULL;
    if (idm_order_iter_new(cli->ctx, &it) != IDM_OK ||
        (have_state && idm_order_iter_set_state(it, state) != IDM_OK)) {
        idm_order_iter_free(&it);
        return cli_fail(cli, "cannot list the orders");
    }
    struct json j;
    cli_list_begin(cli, &j);
    idm_order_t *order = NULL;
    while ((rc = idm_order_iter_next(it, &order)) == IDM_OK && order != NULL) {
        cli_print_order(cli, &j, NULL, order);
        idm_order_free(&order);
    }
    idm_order_iter_free(&it);
    cli_list_end(cli, &j);
    return rc == IDM_OK ? EXIT_OK : cli_fail(cli, "cannot list the orders");
}

/* ---- an order's cards that did not go through -------------------------------------- */

const idm_order_card_outcome CLI_ORDER_PROBLEMS[2] = {IDM_OUTCOME_SKIPPED, IDM_OUTCOME_FAILED};

int cli_order_each_card(struct cli *cli, const idm_order_t *order,
                        idm_order_card_outcome outcome, cli_order_card_fn fn, void *data)
{
    int64_t order_id = 0;
    idm_order_get_id(order, &order_id);
    idm_buffer_t *reason = NULL;
    idm_card_iter_t *it = NULL;
    int rc = idm_buffer_new(&reason);
    if (rc == IDM_OK)
        rc = idm_card_iter_new(cli->ctx, &it);
    if (rc == IDM_OK)
        rc = idm_card_iter_set_order_outcome(it, order_id, outcome);
    idm_card_t *card = NULL;
    while (rc == IDM_OK && (rc = idm_card_iter_next(it, &card)) == IDM_OK && card != NULL) {
        int64_t card_id = 0;
        const unsigned char *text = NULL;
        size_t len = 0;
        int attempt = 0;
        idm_card_get_id(card, &card_id);
        rc = idm_order_get_card_outcome(order, card_id, NULL, &attempt, reason);
        if (rc == IDM_OK)
            rc = idm_buffer_get(reason, &text, &len);
        if (rc == IDM_OK) {
            /* the buffer's bytes have no NUL after them: copied by length,
             * not with strndup(), which may look past them for one */
            char *copy = malloc(len + 1);
            if (copy == NULL) {
                rc = IDM_ERR_NO_MEMORY;
            } else {
                if (len > 0)
                    memcpy(copy, text, len);
                copy[len] = '\0';
                fn(order_id, outcome, card, attempt, copy, data);
            }
            free(copy);
        }
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);
    idm_buffer_free(&reason);
    return rc == IDM_OK ? EXIT_OK : cli_fail(cli, "cannot list the order's cards");
}

void cli_print_order_card(const struct cli *cli, struct json *j, int64_t order_id,
                          idm_order_card_outcome outcome, const idm_card_t *card, int attempt,
                          const char *reason)
{
    int64_t card_id = 0;
    const char *number = NULL;
    idm_card_get_id(card, &card_id);
    idm_card_get_number(card, &number);
    if (cli->json) {
        json_open(j, NULL, '{');
        if (order_id > 0) {
            json_int(j, "order_id", order_id);
            json_str(j, "outcome", idm_order_card_outcome_name(outcome));
        }
        json_int(j, "card_id", card_id);
        json_str(j, "number", number);
        json_int(j, "attempt", attempt);
        json_str(j, "reason", reason);
        json_close(j, '}');
        return;
    }
    if (order_id > 0)
        fprintf(j->out, "  order %-5" PRId64, order_id);
    fprintf(j->out, "  %-8s card %-6" PRId64 " %-14s %s\n", idm_order_card_outcome_name(outcome),
            card_id, number, reason);
}

struct show {
    const struct cli *cli;
    struct json *j;
};

static void show_card(int64_t order_id, idm_order_card_outcome outcome, const idm_card_t *card,
                      int attempt, const char *reason, void *data)
{
    const struct show *show = data;
    (void)order_id;
    cli_print_order_card(show->cli, show->j, 0, outcome, card, attempt, reason);
}

/* Prints (or adds to the JSON) the order's counts and its skipped and
 * failed cards with their reasons. */
static int print_report(struct cli *cli, struct json *j, idm_order_t *order)
{
    if (idm_order_refresh(order) != IDM_OK)
        return cli_fail(cli, "cannot read the order");
    cli_print_order(cli, j, cli->json ? "order" : NULL, order);
    int rc = EXIT_OK;
    for (size_t k = 0; k < 2 && rc == EXIT_OK; k++) {
        if (cli->json)
            json_open(j, idm_order_card_outcome_name(CLI_ORDER_PROBLEMS[k]), '[');
        struct show show = {cli, j};
        rc = cli_order_each_card(cli, order, CLI_ORDER_PROBLEMS[k], show_card, &show);
        if (cli->json)
            json_close(j, ']');
    }
    return rc;
}

static const char SHOW_USAGE[] =
    "usage: idm order show ORDER\n"
    "\n"
    "Shows an order (by id or external id): its state, the counts of its\n"
    "cards, and the skipped and failed cards with their reasons.\n";

static int order_show(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, SHOW_USAGE, 1, 1, "name one order",
                          &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    rc = cli_open_store(cli, 0);
    if (rc != EXIT_OK)
        return rc;
    idm_order_t *order = NULL;
    if ((rc = open_order(cli, argv[first], &order)) != EXIT_OK)
        return rc;
    struct json j;
    json_start(&j, stdout);
    if (cli->json)
        json_open(&j, NULL, '{');
    rc = print_report(cli, &j, order);
    if (cli->json) {
        json_close(&j, '}');
        json_end(&j);
    }
    idm_order_free(&order);
    return rc;
}

/* ---- produce ----------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct run {
    struct cli *cli;
    struct cli_pin_letters letters;
    int tty;               /* progress on stderr */
    int64_t total;         /* cards in the order when the run started */
    int64_t done_before;   /* produced, skipped or failed before the run */
    int64_t produced, skipped;
    struct timespec start;
};

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void show_progress(const struct run *r, const idm_order_t *order, int final)
{
    if (!r->tty)
        return;
    int64_t failed = cli_order_count(order, IDM_OUTCOME_FAILED);
    int64_t done = r->done_before + r->produced + r->skipped;
    double s = seconds_since(&r->start);
    double rate = s > 0 ? (double)(r->produced + r->skipped) / s : 0;
    long eta = rate > 0 ? (long)((double)(r->total - done) / rate) : -1;
    fprintf(stderr, "\r%" PRId64 "/%" PRId64 " cards  %.2f cards/s  ETA %s%ld:%02ld  "
                    "skipped %" PRId64 "  failed %" PRId64 "   ",
            done, r->total, rate, eta < 0 ? "-" : "", eta < 0 ? 0 : eta / 60,
            eta < 0 ? 0 : eta % 60, cli_order_count(order, IDM_OUTCOME_SKIPPED), failed);
    if (final)
        fputc('\n', stderr);
}

static int on_ready(const idm_card_t *card, char *why, size_t size, void *user_data)
{
    (void)card;
    (void)why;
    (void)size;
    (void)user_data;
    return interrupted ? -1 : 0; /* other than 0 and 1: cancel before the card is taken */
}

static int on_progress(const idm_order_t *order, int64_t card_id, idm_order_card_outcome outcome,
                       void *user_data)
{
    struct run *r = user_data;
    (void)card_id;
    if (outcome == IDM_OUTCOME_PRODUCED)
        r->produced++;
    else
        r->skipped++;
    show_progress(r, order, 0);
    return 0;
}

static const char PRODUCE_USAGE[] =
    "usage: idm order produce ORDER [--reader NAME | --reader-index N] [--ca-dir DIR]\n"
    "                         [--passphrase-file FILE] [--pin-dir DIR] [--station NAME]\n"
    "                         [--group N] [--timeout SECONDS]\n"
    "                         [--printer QUEUE --layout FILE [--cups-server HOST[:PORT]]\n"
    "                          [--print-timeout SECONDS]]\n"
    "\n"
    "Runs mass production of an order on the built-in PC/SC encoder: each\n"
    "ready card is issued (Digital ID: keys made on the card, certificates from\n"
    "the CA in DIR, see 'idm ca create'), produced and verified; then the order\n"
    "is completed.  Without --reader or --reader-index the first reader with a\n"
    "card is used.  Generated PINs and PUKs go into PIN letters, DIR/<card\n"
    "number>.pin (mode 0600), never to the screen or the store.\n"
    "\n"
    "On a terminal a progress line shows cards done, rate, ETA, skipped and\n"
    "failed.  Ctrl-C stops between two cards (exit 130); run the same command\n"
    "again to resume.  A failed card aborts the order (exit 1).  A summary with\n"
    "the skipped and failed cards and their reasons ends the run.\n"
    "\n"
    "With --printer each card is first printed: rendered with the layout in\n"
    "FILE (doc/layouts.md; it must serve the order's card type) and sent to\n"
    "the CUPS queue QUEUE (on the default CUPS server, or HOST:PORT), which\n"
    "must finish the job within --print-timeout seconds (default 120); a\n"
    "print that fails fails the card and aborts the order with CUPS's words.\n";

static int order_produce(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"reader", required_argument, NULL, 'r'},  {"reader-index", required_argument, NULL, 'i'},
        {"ca-dir", required_argument, NULL, 'c'},  {"passphrase-file", required_argument, NULL, 'p'},
        {"pin-dir", required_argument, NULL, 'P'}, {"station", required_argument, NULL, 's'},
        {"group", required_argument, NULL, 'g'},   {"timeout", required_argument, NULL, 't'},
        {"printer", required_argument, NULL, 'Q'}, {"layout", required_argument, NULL, 'L'},
        {"cups-server", required_argument, NULL, 'S'},
        {"print-timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *queue = NULL, *layout_path = NULL, *cups_server = NULL;
    int64_t print_timeout_s = 120;
    const char *reader = NULL, *ca_dir = NULL, *passphrase_file = NULL, *station_name = NULL;
    struct run r;
    memset(&r, 0, sizeof r);
    r.cli = cli;
    int64_t reader_index = -1, group = 1, timeout_s = 30;
    int opt, rc = EXIT_OK;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r': reader = optarg; break;
        case 'i':
            reader_index = strcmp(optarg, "0") == 0 ? 0 : cli_parse_id(optarg);
            if (reader_index < 0 || reader_index > 255 ||
                (reader_index == 0 && strcmp(optarg, "0") != 0))
                rc = cli_usage_error(cli, "--reader-index: '%s' is not 0..255", optarg);
            break;
        case 'c': ca_dir = optarg; break;
        case 'p': passphrase_file = optarg; break;
        case 'P': r.letters.dir = optarg; break;
        case 's': station_name = optarg; break;
        case 'g':
            if ((group = cli_parse_id(optarg)) == 0 || group > 1000)
                rc = cli_usage_error(cli, "--group: '%s' is not 1..1000", optarg);
            break;
        case 't':
            if ((timeout_s = cli_parse_id(optarg)) == 0 || timeout_s > 3600)
                rc = cli_usage_error(cli, "--timeout: '%s' is not 1..3600 seconds", optarg);
            break;
        case 'Q': queue = optarg; break;
        case 'L': layout_path = optarg; break;
        case 'S': cups_server = optarg; break;
        case 'T':
            if ((print_timeout_s = cli_parse_id(optarg)) == 0 || print_timeout_s > 3600)
                rc = cli_usage_error(cli, "--print-timeout: '%s' is not 1..3600 seconds",
                                     optarg);
            break;
        case 'h': fputs(PRODUCE_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
        if (rc != EXIT_OK)
            return rc;
    }
    if (optind != argc - 1)
        return cli_usage_error(cli, "name one order; see 'idm order produce --help'");
    if ((queue == NULL) != (layout_path == NULL))
        return cli_usage_error(cli, "--printer and --layout go together");
    if (queue == NULL && cups_server != NULL)
        return cli_usage_error(cli, "--cups-server needs --printer");
    if (reader != NULL && reader_index >= 0)
        return cli_usage_error(cli, "--reader and --reader-index exclude each other");
    struct stat st;
    if (r.letters.dir != NULL && (stat(r.letters.dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        return cli_usage_error(cli, "--pin-dir: '%s' is not a folder", r.letters.dir);
    if ((rc = cli_open_store(cli, 0)) != EXIT_OK)
        return rc;
    idm_order_t *order = NULL;
    if ((rc = open_order(cli, argv[optind], &order)) != EXIT_OK)
        return rc;
    idm_card_type type = IDM_CARD_EMPLOYEE;
    idm_card_option option = IDM_CARD_PHYSICAL;
    idm_order_get_card_kind(order, &type, &option);
    idm_ca_t *ca = NULL;
    idm_encoder_t *encoder = NULL;
    idm_station_t *station = NULL;
    idm_printer_t *printer = NULL;
    idm_layout_t *layout = NULL;
    char default_station[300];
    if (station_name == NULL) {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(default_station, sizeof default_station, "idm@%s", host);
        station_name = default_station;
    }
    if (option == IDM_CARD_DIGITAL && ca_dir == NULL) {
        rc = cli_usage_error(cli, "a Digital ID order needs --ca-dir (see 'idm ca create')");
    } else if (ca_dir != NULL &&
               (rc = cli_load_ca(cli, ca_dir, passphrase_file, &ca)) != EXIT_OK) {
        /* said */
    } else if (idm_encoder_new_pcsc(&encoder, cli->ctx) != IDM_OK ||
               (reader != NULL && idm_encoder_pcsc_set_reader(encoder, reader) != IDM_OK) ||
               (reader_index >= 0 &&
                idm_encoder_pcsc_set_reader_index(encoder, (unsigned)reader_index) != IDM_OK) ||
               idm_encoder_set_timeout(encoder, (int)(timeout_s * 1000)) != IDM_OK ||
               idm_encoder_set_pin_callbacks(encoder, NULL,
                                             r.letters.dir != NULL ? cli_write_pin_letter
                                                                   : NULL,
                                             &r.letters) != IDM_OK) {
        rc = cli_fail(cli, "cannot set up the encoder");
    } else if (idm_station_open(&station, order, station_name, encoder, ca) != IDM_OK ||
               idm_station_set_group(station, (size_t)group) != IDM_OK) {
        rc = cli_fail(cli, "cannot open the station");
    } else if (queue != NULL) {
        if (idm_layout_load(&layout, layout_path) != IDM_OK) {
            char what[300];
            snprintf(what, sizeof what, "layout '%s' is refused", layout_path);
            rc = cli_fail(cli, what);
        } else if (idm_printer_new_cups(&printer, queue, cups_server,
                                        print_timeout_s * 1000) != IDM_OK ||
                   idm_station_set_printer(station, printer, layout) != IDM_OK) {
            rc = cli_fail(cli, "cannot set up the printer");
        }
    }
    if (rc != EXIT_OK)
        goto done;

    r.tty = isatty(STDERR_FILENO);
    r.total = 0;
    for (size_t i = 0; i < CLI_N_ORDER_OUTCOMES; i++)
        r.total += cli_order_count(order, CLI_ORDER_OUTCOMES[i]);
    r.done_before = r.total - cli_order_count(order, IDM_OUTCOME_PENDING);
    clock_gettime(CLOCK_MONOTONIC, &r.start);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
    hooks.ready = on_ready;
    hooks.progress = on_progress;
    show_progress(&r, order, 0);
    int run_rc = idm_production_run(station, cli->actor, &hooks, sizeof hooks, &r);
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", idm_last_error_message());
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    show_progress(&r, order, 1);

    struct json j;
    json_start(&j, stdout);
    if (cli->json) {
        json_open(&j, NULL, '{');
        json_int(&j, "produced_now", r.produced);
        json_int(&j, "skipped_now", r.skipped);
        json_int(&j, "pin_letters", r.letters.written);
        json_bool(&j, "interrupted", run_rc == IDM_ERR_CANCELLED && interrupted);
        json_str(&j, "error", run_rc == IDM_OK ? NULL : detail);
    } else {
        printf("%s: %" PRId64 " produced and %" PRId64 " skipped in %.1f s\n",
               run_rc == IDM_OK ? "done" : "stopped", r.produced, r.skipped,
               seconds_since(&r.start));
    }
    rc = print_report(cli, &j, order);
    if (cli->json) {
        json_close(&j, '}');
        json_end(&j);
    }
    if (run_rc == IDM_ERR_CANCELLED && interrupted) {
        fprintf(stderr, "idm %s: interrupted between two cards; run the same command again "
                        "to resume\n", cli->command);
        rc = EXIT_INTERRUPTED;
    } else if (run_rc != IDM_OK) {
        fprintf(stderr, "idm %s: production stopped: %s\n", cli->command, detail);
        if (r.letters.error != 0)
            fprintf(stderr, "idm %s: a PIN letter could not be written in '%s': %s\n",
                    cli->command, r.letters.dir, strerror(r.letters.error));
        rc = EXIT_FAILED;
    }
done:
    idm_station_free(&station);
    idm_printer_free(&printer);
    idm_layout_free(&layout);
    idm_encoder_free(&encoder);
    idm_ca_free(&ca);
    idm_order_free(&order);
    return rc;
}

int cmd_order(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command table[] = {
        {"create", "open a mass production order of approved cards", order_create},
        {"list", "list the orders", order_list},
        {"show", "show an order and its skipped and failed cards", order_show},
        {"produce", "run mass production of an order on a PC/SC reader", order_produce},
    };
    return cli_dispatch(cli, "order", table, sizeof table / sizeof table[0], argc, argv);
}
