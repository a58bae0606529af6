/*
 * idm cert list | show | export | revoke, idm ca crl, idm audit export
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char *const REASONS[] = {"unspecified", "key_compromise", "ca_compromise",
                                      "affiliation_changed", "superseded",
                                      "cessation_of_operation", "certificate_hold", NULL, NULL,
                                      "privilege_withdrawn"};
#define N_REASONS (int)(sizeof REASONS / sizeof REASONS[0])

static const char *reason_name(idm_revocation_reason r)
{
    return (int)r >= 0 && (int)r < N_REASONS && REASONS[r] != NULL ? REASONS[r] : "unknown";
}

static int open_cert(struct cli *cli, const char *serial, idm_cert_t **out)
{
    if (idm_cert_open_serial(cli->ctx, serial, out) != IDM_OK) {
        char what[300];
        snprintf(what, sizeof what, "no certificate '%s'", serial);
        return cli_fail(cli, what);
    }
    return EXIT_OK;
}

/* Writes data to path (a new file) or, without one, to stdout. */
static int emit(struct cli *cli, const char *path, const void *data, size_t len)
{
    if (path != NULL)
        return cli_write_new_file(cli, path, data, len, 0644);
    if (fwrite(data, 1, len, stdout) != len) {
        fprintf(stderr, "idm %s: cannot write the output\n", cli->command);
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

/* ---- cert list ---------------------------------------------------------------------- */

void cli_print_cert(const struct cli *cli, struct json *j, const idm_cert_t *cert,
                    int64_t card_id)
{
    const char *serial = NULL;
    idm_key_usage usage = IDM_USAGE_AUTHENTICATION;
    idm_cert_state state = IDM_CERT_VALID;
    int64_t not_before = 0, not_after = 0;
    char from[32], until[32];
    idm_cert_get_serial(cert, &serial);
    idm_cert_get_usage(cert, &usage);
    idm_cert_get_state(cert, &state);
    idm_cert_get_validity(cert, &not_before, &not_after);
    cli_format_time(not_before, from, sizeof from);
    cli_format_time(not_after, until, sizeof until);
    if (cli->json) {
        json_open(j, NULL, '{');
        json_str(j, "serial", serial);
        if (card_id > 0)
            json_int(j, "card_id", card_id);
        json_str(j, "usage", idm_key_usage_name(usage));
        json_str(j, "state", idm_cert_state_name(state));
        json_str(j, "not_before", from);
        json_str(j, "not_after", until);
        json_close(j, '}');
    } else {
        if (card_id > 0)
            printf("%6" PRId64 "  ", card_id);
        else
            fputs("  ", stdout);
        printf("%-34s %-16s %-8s %s .. %s\n", serial, idm_key_usage_name(usage),
               idm_cert_state_name(state), from, until);
    }
}

/* Prints the card's certificates (of state want; -1: all); an IDM_ code. */
static int list_card_certs(const struct cli *cli, struct json *j, const idm_card_t *card,
                           int want)
{
    int64_t card_id = 0;
    idm_card_get_id(card, &card_id);
    idm_cert_iter_t *it = NULL;
    idm_cert_t *cert = NULL;
    int rc = idm_cert_iter_new(cli->ctx, card_id, &it);
    while (rc == IDM_OK && (rc = idm_cert_iter_next(it, &cert)) == IDM_OK && cert != NULL) {
        idm_cert_state state = IDM_CERT_VALID;
        idm_cert_get_state(cert, &state);
        if (want < 0 || (int)state == want)
            cli_print_cert(cli, j, cert, card_id);
        idm_cert_free(&cert);
    }
    idm_cert_iter_free(&it);
    return rc;
}

CLI_ENUM_PARSER(parse_cert_state, idm_cert_state, idm_cert_state_name, "--state")

static const char LIST_USAGE[] =
    "usage: idm cert list [--card CARD] [--state STATE]\n"
    "\n"
    "Lists the certificate records, of every card or of one (id or number), in\n"
    "card order: card, serial, usage, state and validity.  --state keeps one\n"
    "state: valid, on_hold, revoked or expired.\n";

static int cert_list(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"card", required_argument, NULL, 'c'},
                                             {"state", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *card_key = NULL;
    idm_cert_state want = IDM_CERT_VALID;
    int have_state = 0, opt, rc = EXIT_OK;
    optind = 0; /* glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': card_key = optarg; break;
        case 's': rc = parse_cert_state(cli, optarg, &want); have_state = 1; break;
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
    idm_card_t *card = NULL;
    idm_card_iter_t *cards = NULL;
    if (card_key != NULL && (rc = cli_open_card(cli, card_key, &card)) != EXIT_OK)
        return rc;
    if (card == NULL && idm_card_iter_new(cli->ctx, &cards) != IDM_OK)
        return cli_fail(cli, "cannot list the cards");
    struct json j;
    cli_list_begin(cli, &j);
    int lib_rc = IDM_OK;
    if (card != NULL) {
        lib_rc = list_card_certs(cli, &j, card, have_state ? (int)want : -1);
        idm_card_free(&card);
    }
    while (cards != NULL && lib_rc == IDM_OK &&
           (lib_rc = idm_card_iter_next(cards, &card)) == IDM_OK && card != NULL) {
        lib_rc = list_card_certs(cli, &j, card, have_state ? (int)want : -1);
        idm_card_free(&card);
    }
    idm_card_iter_free(&cards);
    cli_list_end(cli, &j);
    return lib_rc == IDM_OK ? EXIT_OK : cli_fail(cli, "cannot list the certificates");
}

/* ---- cert show ---------------------------------------------------------------------- */

static const char SHOW_USAGE[] =
    "usage: idm cert show SERIAL\n"
    "\n"
    "Shows a certificate record by its serial (hex, as 'idm card show' lists\n"
    "it): card, usage, state, validity and revocation.\n";

static int cert_show(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, SHOW_USAGE, 1, 1, "name one certificate serial",
                          &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    rc = cli_open_store(cli, 0);
    idm_cert_t *cert = NULL;
    if (rc != EXIT_OK || (rc = open_cert(cli, argv[first], &cert)) != EXIT_OK)
        return rc;
    const char *serial = NULL;
    int64_t card_id = 0, nb = 0, na = 0, revoked_at = 0;
    idm_key_usage usage = IDM_USAGE_AUTHENTICATION;
    idm_cert_state state = IDM_CERT_VALID;
    idm_revocation_reason reason = IDM_REVOKE_UNSPECIFIED;
    char from[32], until[32], when[32] = "";
    idm_cert_get_serial(cert, &serial);
    idm_cert_get_card_id(cert, &card_id);
    idm_cert_get_usage(cert, &usage);
    idm_cert_get_state(cert, &state);
    idm_cert_get_validity(cert, &nb, &na);
    int revoked = idm_cert_get_revocation(cert, &reason, &revoked_at) == IDM_OK && revoked_at > 0;
    cli_format_time(nb, from, sizeof from);
    cli_format_time(na, until, sizeof until);
    if (revoked)
        cli_format_time(revoked_at, when, sizeof when);
    if (cli->json) {
        struct json j;
        json_start(&j, stdout);
        json_open(&j, NULL, '{');
        json_str(&j, "serial", serial);
        json_int(&j, "card_id", card_id);
        json_str(&j, "usage", idm_key_usage_name(usage));
        json_str(&j, "state", idm_cert_state_name(state));
        json_str(&j, "not_before", from);
        json_str(&j, "not_after", until);
        json_str(&j, "revocation_reason", revoked ? reason_name(reason) : NULL);
        json_str(&j, "revoked_at", revoked ? when : NULL);
        json_close(&j, '}');
        json_end(&j);
    } else {
        printf("certificate %s\n  card      %" PRId64 "\n  usage     %s\n  state     %s\n"
               "  validity  %s .. %s\n",
               serial, card_id, idm_key_usage_name(usage), idm_cert_state_name(state), from,
               until);
        if (revoked)
            printf("  revoked   %s (%s)\n", when, reason_name(reason));
    }
    idm_cert_free(&cert);
    return EXIT_OK;
}

/* ---- cert export -------------------------------------------------------------------- */

static const char EXPORT_USAGE[] =
    "usage: idm cert export [--pem] [--out FILE] SERIAL\n"
    "\n"
    "Writes a certificate, DER (or PEM with --pem), to FILE (a new file) or to\n"
    "standard output.\n";

static int cert_export(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"pem", no_argument, NULL, 'p'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int pem = 0, opt;
    const char *out = NULL;
    optind = 0; /* glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p': pem = 1; break;
        case 'o': out = optarg; break;
        case 'h': fputs(EXPORT_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, "name one certificate serial");
    int rc = cli_open_store(cli, 0);
    idm_cert_t *cert = NULL;
    if (rc != EXIT_OK || (rc = open_cert(cli, argv[optind], &cert)) != EXIT_OK)
        return rc;
    const unsigned char *der = NULL;
    size_t len = 0, pem_len = 0;
    if (idm_cert_get_der(cert, &der, &len) != IDM_OK) {
        rc = cli_fail(cli, "cannot read the certificate");
    } else if (pem) {
        char *text = cli_pem_encode(der, len, "CERTIFICATE", &pem_len);
        rc = text != NULL ? emit(cli, out, text, pem_len) : cli_fail(cli, "out of memory");
        free(text);
    } else {
        rc = emit(cli, out, der, len);
    }
    idm_cert_free(&cert);
    return rc;
}

/* ---- cert revoke -------------------------------------------------------------------- */

static const char REVOKE_USAGE[] =
    "usage: idm cert revoke --ca-dir DIR [--reason REASON] [--passphrase-file FILE] SERIAL...\n"
    "\n"
    "Revokes certificates with the CA that issued them (see 'idm ca create') and\n"
    "records it.  REASON: unspecified (default), key_compromise, ca_compromise,\n"
    "affiliation_changed, superseded, cessation_of_operation,\n"
    "privilege_withdrawn.  Each certificate is its own step; the first that\n"
    "cannot be revoked stops the command.  'idm ca crl' then lists them.\n";

static int cert_revoke(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"ca-dir", required_argument, NULL, 'c'},
                                             {"reason", required_argument, NULL, 'r'},
                                             {"passphrase-file", required_argument, NULL, 'p'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *ca_dir = NULL, *passphrase_file = NULL;
    int reason = IDM_REVOKE_UNSPECIFIED, opt, rc = EXIT_OK;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': ca_dir = optarg; break;
        case 'p': passphrase_file = optarg; break;
        case 'r':
            rc = cli_parse_choice(cli, "--reason", optarg, REASONS, N_REASONS, &reason);
            if (rc == EXIT_OK && reason == IDM_REVOKE_CERTIFICATE_HOLD)
                rc = cli_usage_error(cli, "--reason: a hold is not a revocation");
            break;
        case 'h': fputs(REVOKE_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
        if (rc != EXIT_OK)
            return rc;
    }
    if (ca_dir == NULL || optind >= argc)
        return cli_usage_error(cli, "give --ca-dir and the serials; see 'idm cert revoke --help'");
    idm_ca_t *ca = NULL;
    if ((rc = cli_open_store(cli, 0)) != EXIT_OK ||
        (rc = cli_load_ca(cli, ca_dir, passphrase_file, &ca)) != EXIT_OK)
        return rc;
    struct json j;
    cli_list_begin(cli, &j);
    for (int i = optind; i < argc && rc == EXIT_OK; i++) {
        idm_cert_t *cert = NULL;
        if ((rc = open_cert(cli, argv[i], &cert)) != EXIT_OK)
            break;
        if (idm_cert_revoke(cert, cli->actor, ca, (idm_revocation_reason)reason) != IDM_OK) {
            char what[300];
            snprintf(what, sizeof what, "cannot revoke '%s'", argv[i]);
            rc = cli_fail(cli, what);
        } else if (cli->json) {
            json_str(&j, NULL, argv[i]);
        } else {
            printf("revoked %s (%s)\n", argv[i], REASONS[reason]);
        }
        idm_cert_free(&cert);
    }
    cli_list_end(cli, &j);
    idm_ca_free(&ca);
    return rc;
}

int cmd_cert(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command table[] = {
        {"list", "list the certificate records", cert_list},
        {"show", "show a certificate record", cert_show},
        {"export", "write a certificate, DER or PEM", cert_export},
        {"revoke", "revoke certificates with their CA", cert_revoke},
    };
    return cli_dispatch(cli, "cert", table, sizeof table / sizeof table[0], argc, argv);
}

/* ---- ca crl ----------------------------------------------------------------------------- */

static const char CRL_USAGE[] =
    "usage: idm ca crl --ca-dir DIR [--hours N] [--pem] [--out FILE] [--passphrase-file FILE]\n"
    "\n"
    "Signs a CRL of the CA's revoked and held certificates, valid for N hours\n"
    "(default 24), and writes it, DER (or PEM), to FILE (a new file) or to\n"
    "standard output.\n";

int cli_ca_crl(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"ca-dir", required_argument, NULL, 'c'},
                                             {"hours", required_argument, NULL, 'H'},
                                             {"pem", no_argument, NULL, 'p'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"passphrase-file", required_argument, NULL, 'P'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *ca_dir = NULL, *out = NULL, *passphrase_file = NULL;
    int64_t hours = 24;
    int pem = 0, opt, rc = EXIT_OK;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': ca_dir = optarg; break;
        case 'H':
            if ((hours = cli_parse_id(optarg)) == 0 || hours > 24 * 366)
                return cli_usage_error(cli, "--hours: '%s' is not 1..8784", optarg);
            break;
        case 'p': pem = 1; break;
        case 'o': out = optarg; break;
        case 'P': passphrase_file = optarg; break;
        case 'h': fputs(CRL_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if (ca_dir == NULL)
        return cli_usage_error(cli, "--ca-dir is required");
    idm_ca_t *ca = NULL;
    idm_buffer_t *crl = NULL;
    if ((rc = cli_open_store(cli, 0)) != EXIT_OK ||
        (rc = cli_load_ca(cli, ca_dir, passphrase_file, &ca)) != EXIT_OK)
        return rc;
    const unsigned char *der = NULL;
    size_t len = 0, pem_len = 0;
    if (idm_buffer_new(&crl) != IDM_OK ||
        idm_ca_generate_crl(ca, cli->ctx, (int)hours, crl) != IDM_OK ||
        idm_buffer_get(crl, &der, &len) != IDM_OK) {
        rc = cli_fail(cli, "cannot make the CRL");
    } else if (pem) {
        char *text = cli_pem_encode(der, len, "X509 CRL", &pem_len);
        rc = text != NULL ? emit(cli, out, text, pem_len) : cli_fail(cli, "out of memory");
        free(text);
    } else {
        rc = emit(cli, out, der, len);
    }
    idm_buffer_free(&crl);
    idm_ca_free(&ca);
    return rc;
}

/* ---- audit export ------------------------------------------------------------------------ */

static const char AUDIT_EXPORT_USAGE[] =
    "usage: idm audit export [--object TYPE:ID] [--since MS] [--until MS]\n"
    "\n"
    "Prints the audit events in sequence order: sequence, time, actor, object,\n"
    "states and detail (with --json, one array of objects).  TYPE: identity,\n"
    "card, order, certificate, option or ca; MS: milliseconds since the Unix\n"
    "epoch.  The trail holds no secrets.\n";

int cli_audit_export(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"object", required_argument, NULL, 'o'},
                                             {"since", required_argument, NULL, 's'},
                                             {"until", required_argument, NULL, 'u'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *types[8];
    int ntypes = 0, type = -1, opt, rc = EXIT_OK;
    int64_t id = 0, since = -1, until = -1;
    CLI_ENUM_NAMES(idm_object_type_name, idm_object_type, types, 8, ntypes);
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': {
            char name[32];
            const char *colon = strchr(optarg, ':');
            size_t n = colon != NULL ? (size_t)(colon - optarg) : strlen(optarg);
            if (n >= sizeof name)
                return cli_usage_error(cli, "--object: '%s' is not TYPE:ID", optarg);
            memcpy(name, optarg, n);
            name[n] = '\0';
            if ((rc = cli_parse_choice(cli, "--object", name, types, ntypes, &type)) != EXIT_OK)
                return rc;
            id = colon != NULL ? (strcmp(colon + 1, "0") == 0 ? 0 : cli_parse_id(colon + 1)) : 0;
            if (colon != NULL && id == 0 && strcmp(colon + 1, "0") != 0)
                return cli_usage_error(cli, "--object: '%s' is not TYPE:ID", optarg);
            break;
        }
        case 's':
        case 'u': {
            char *end = NULL;
            errno = 0;
            long long v = strtoll(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || v < 0)
                return cli_usage_error(cli, "--%s: '%s' is not milliseconds",
                                       opt == 's' ? "since" : "until", optarg);
            *(opt == 's' ? &since : &until) = v;
            break;
        }
        case 'h': fputs(AUDIT_EXPORT_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_open_store(cli, 0)) != EXIT_OK)
        return rc;
    idm_audit_iter_t *it = NULL;
    int r = idm_audit_iter_new(cli->ctx, &it);
    if (r == IDM_OK && type >= 0)
        r = idm_audit_iter_set_object(it, (idm_object_type)type, id);
    if (r == IDM_OK && (since >= 0 || until >= 0))
        r = idm_audit_iter_set_time_range(it, since >= 0 ? since : 0,
                                          until >= 0 ? until : INT64_MAX);
    struct json j;
    cli_list_begin(cli, &j);
    idm_audit_event_t *ev = NULL;
    while (r == IDM_OK && (r = idm_audit_iter_next(it, &ev)) == IDM_OK && ev != NULL) {
        int64_t seq = 0, time_ms = 0, object_id = 0;
        const char *actor = NULL, *from = NULL, *to = NULL, *detail = NULL;
        idm_object_type object = IDM_OBJECT_IDENTITY;
        char when[32];
        idm_audit_event_get_seq(ev, &seq, &time_ms);
        idm_audit_event_get_actor(ev, &actor);
        idm_audit_event_get_object(ev, &object, &object_id);
        idm_audit_event_get_states(ev, &from, &to);
        idm_audit_event_get_detail(ev, &detail);
        cli_format_time(time_ms, when, sizeof when);
        if (cli->json) {
            json_open(&j, NULL, '{');
            json_int(&j, "seq", seq);
            json_int(&j, "time_ms", time_ms);
            json_str(&j, "actor", actor);
            json_str(&j, "object", idm_object_type_name(object));
            json_int(&j, "object_id", object_id);
            json_str(&j, "from", from);
            json_str(&j, "to", to);
            json_str(&j, "detail", detail);
            json_close(&j, '}');
        } else {
            printf("%6" PRId64 "  %s  %-24s %s %" PRId64 "  %s -> %s  %s\n", seq, when,
                   actor != NULL ? actor : "-", idm_object_type_name(object), object_id,
                   from != NULL ? from : "-", to != NULL ? to : "-",
                   detail != NULL ? detail : "");
        }
        idm_audit_event_free(&ev);
    }
    idm_audit_iter_free(&it);
    cli_list_end(cli, &j);
    return r == IDM_OK ? EXIT_OK : cli_fail(cli, "cannot read the audit trail");
}
