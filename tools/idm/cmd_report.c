/*
 * idm report: what production has done, across orders.
 *
 * The orders (all, or those of one kind, state, card type or option) with
 * the counts of their cards' outcomes and the totals; every skipped and
 * failed card of those orders with the reason its outcome records; and the
 * cards and certificates of the store counted by state.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "commands.h"

CLI_ENUM_PARSER(parse_kind, idm_order_kind, idm_order_kind_name, "--kind")
CLI_ENUM_PARSER(parse_state, idm_order_state, idm_order_state_name, "--state")
CLI_ENUM_PARSER(parse_type, idm_card_type, idm_card_type_name, "--type")
CLI_ENUM_PARSER(parse_option, idm_card_option, idm_card_option_name, "--option")

/* Room for every value of the state enums (card states end at 16). */
#define N_STATES 32

struct filter {
    int have_kind, have_state, have_type, have_option;
    idm_order_kind kind;
    idm_order_state state;
    idm_card_type type;
    idm_card_option option;
};

static int keeps(const struct filter *f, const idm_order_t *order)
{
    idm_order_kind kind = IDM_ORDER_MASS_PRODUCTION;
    idm_order_state state = IDM_ORDER_OPEN;
    idm_card_type type = IDM_CARD_EMPLOYEE;
    idm_card_option option = IDM_CARD_PHYSICAL;
    idm_order_get_kind(order, &kind);
    idm_order_get_state(order, &state);
    idm_order_get_card_kind(order, &type, &option);
    return (!f->have_kind || kind == f->kind) && (!f->have_state || state == f->state) &&
           (!f->have_type || type == f->type) && (!f->have_option || option == f->option);
}

/* The report, built in memory and written out only when all of it was read:
 * a failure leaves stdout empty. */
struct report {
    struct cli *cli;
    struct filter filter;
    struct json j;     /* over out, for text too */
    int64_t orders;
    int64_t cards[CLI_N_ORDER_OUTCOMES];
    int64_t not_produced;
    int64_t card_states[N_STATES];
    int64_t cert_states[N_STATES];
};

/* The selected orders, each opened in turn: fn(r, order) for each; the
 * first failure stops. */
static int each_order(struct report *r, int (*fn)(struct report *, idm_order_t *))
{
    idm_order_iter_t *it = NULL;
    if (idm_order_iter_new(r->cli->ctx, &it) != IDM_OK) {
        idm_order_iter_free(&it);
        return cli_fail(r->cli, "cannot list the orders");
    }
    idm_order_t *order = NULL;
    int rc = IDM_OK, exit_rc = EXIT_OK;
    while (exit_rc == EXIT_OK && (rc = idm_order_iter_next(it, &order)) == IDM_OK &&
           order != NULL) {
        if (keeps(&r->filter, order))
            exit_rc = fn(r, order);
        idm_order_free(&order);
    }
    idm_order_iter_free(&it);
    if (exit_rc == EXIT_OK && rc != IDM_OK)
        exit_rc = cli_fail(r->cli, "cannot list the orders");
    return exit_rc;
}

/* ---- the orders ------------------------------------------------------------------ */

static int order_row(struct report *r, idm_order_t *order)
{
    r->orders++;
    for (size_t i = 0; i < CLI_N_ORDER_OUTCOMES; i++)
        r->cards[i] += cli_order_count(order, CLI_ORDER_OUTCOMES[i]);
    cli_print_order(r->cli, &r->j, NULL, order);
    return EXIT_OK;
}

/* ---- the cards that did not go through -------------------------------------------- */

static void problem_row(int64_t order_id, idm_order_card_outcome outcome, const idm_card_t *card,
                        int attempt, const char *reason, void *data)
{
    struct report *r = data;
    r->not_produced++;
    cli_print_order_card(r->cli, &r->j, order_id, outcome, card, attempt, reason);
}

static int order_problems(struct report *r, idm_order_t *order)
{
    int rc = EXIT_OK;
    for (size_t k = 0; k < 2 && rc == EXIT_OK; k++)
        rc = cli_order_each_card(r->cli, order, CLI_ORDER_PROBLEMS[k], problem_row, r);
    return rc;
}

/* ---- cards and certificates by state ---------------------------------------------- */

static int count_states(struct report *r)
{
    idm_card_iter_t *it = NULL;
    idm_card_t *card = NULL;
    int rc = idm_card_iter_new(r->cli->ctx, &it);
    while (rc == IDM_OK && (rc = idm_card_iter_next(it, &card)) == IDM_OK && card != NULL) {
        int64_t card_id = 0;
        idm_card_state state = IDM_CARD_REGISTERED;
        idm_card_get_id(card, &card_id);
        idm_card_get_state(card, &state);
        if ((unsigned)state < N_STATES)
            r->card_states[state]++;
        idm_card_free(&card);
        idm_cert_iter_t *certs = NULL;
        idm_cert_t *cert = NULL;
        rc = idm_cert_iter_new(r->cli->ctx, card_id, &certs);
        while (rc == IDM_OK && (rc = idm_cert_iter_next(certs, &cert)) == IDM_OK &&
               cert != NULL) {
            idm_cert_state cert_state = IDM_CERT_VALID;
            idm_cert_get_state(cert, &cert_state);
            if ((unsigned)cert_state < N_STATES)
                r->cert_states[cert_state]++;
            idm_cert_free(&cert);
        }
        idm_cert_iter_free(&certs);
    }
    idm_card_iter_free(&it);
    return rc == IDM_OK ? EXIT_OK : cli_fail(r->cli, "cannot count the cards and certificates");
}

/* The non-zero counts of a tally as a JSON object under key, or a line. */
static void print_states(struct report *r, const char *key, const int64_t *counts,
                         const char *(*name)(int))
{
    struct json *j = &r->j;
    if (r->cli->json)
        json_open(j, key, '{');
    else
        fprintf(j->out, "%s:", key);
    int any = 0;
    for (int s = 0; s < N_STATES; s++) {
        if (counts[s] == 0)
            continue;
        any = 1;
        if (r->cli->json)
            json_int(j, name(s), counts[s]);
        else
            fprintf(j->out, "  %s %" PRId64, name(s), counts[s]);
    }
    if (r->cli->json)
        json_close(j, '}');
    else
        fputs(any ? "\n" : "  none\n", j->out);
}

static const char *card_state_name(int s)
{
    return idm_card_state_name((idm_card_state)s);
}

static const char *cert_state_name(int s)
{
    return idm_cert_state_name((idm_cert_state)s);
}

/* Writes the whole report into r->j.out. */
static int build_report(struct report *r)
{
    struct json *j = &r->j;
    int rc = count_states(r);
    if (rc != EXIT_OK)
        return rc;
    if (r->cli->json) {
        json_open(j, NULL, '{');
        json_open(j, "orders", '[');
    } else {
        fputs("orders:\n", j->out);
    }
    if ((rc = each_order(r, order_row)) != EXIT_OK)
        return rc;
    if (r->cli->json) {
        json_close(j, ']');
        json_open(j, "totals", '{');
        json_int(j, "orders", r->orders);
    } else {
        fprintf(j->out, "total: %" PRId64 " order%s,", r->orders, r->orders == 1 ? "" : "s");
    }
    for (size_t i = 0; i < CLI_N_ORDER_OUTCOMES; i++) {
        const char *name = idm_order_card_outcome_name(CLI_ORDER_OUTCOMES[i]);
        if (r->cli->json)
            json_int(j, name, r->cards[i]);
        else
            fprintf(j->out, " %s %" PRId64, name, r->cards[i]);
    }
    if (r->cli->json) {
        json_close(j, '}');
        json_open(j, "not_produced", '[');
    } else {
        fputs("\n\nskipped and failed cards:\n", j->out);
    }
    if ((rc = each_order(r, order_problems)) != EXIT_OK)
        return rc;
    if (r->cli->json)
        json_close(j, ']');
    else
        fputs(r->not_produced == 0 ? "  none\n\n" : "\n", j->out);
    print_states(r, "cards", r->card_states, card_state_name);
    print_states(r, "certificates", r->cert_states, cert_state_name);
    if (r->cli->json) {
        json_close(j, '}');
        json_end(j);
    }
    return EXIT_OK;
}

/* ---- the command --------------------------------------------------------------------- */

static const char REPORT_USAGE[] =
    "usage: idm report [--kind KIND] [--state STATE] [--type TYPE] [--option OPTION]\n"
    "\n"
    "Reports what production has done, across orders: each order (all, or\n"
    "those of one kind, state, card type and option) with how many of its\n"
    "cards are pending, produced, skipped and failed, and the totals; every\n"
    "skipped and failed card of those orders with its reason; and the cards\n"
    "and certificates of the store counted by state.\n";

int cmd_report(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"kind", required_argument, NULL, 'k'}, {"state", required_argument, NULL, 's'},
        {"type", required_argument, NULL, 't'}, {"option", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    struct report r;
    memset(&r, 0, sizeof r);
    r.cli = cli;
    struct filter *f = &r.filter;
    int opt, rc = EXIT_OK;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'k': rc = parse_kind(cli, optarg, &f->kind); f->have_kind = 1; break;
        case 's': rc = parse_state(cli, optarg, &f->state); f->have_state = 1; break;
        case 't': rc = parse_type(cli, optarg, &f->type); f->have_type = 1; break;
        case 'o': rc = parse_option(cli, optarg, &f->option); f->have_option = 1; break;
        case 'h': fputs(REPORT_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
        if (rc != EXIT_OK)
            return rc;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_open_store(cli, 0)) != EXIT_OK)
        return rc;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL) {
        fprintf(stderr, "idm %s: out of memory\n", cli->command);
        return EXIT_FAILED;
    }
    json_start(&r.j, out);
    rc = build_report(&r);
    if (fclose(out) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "idm %s: out of memory\n", cli->command);
        rc = EXIT_FAILED;
    }
    if (rc == EXIT_OK)
        fwrite(text, 1, len, stdout);
    free(text);
    return rc;
}
