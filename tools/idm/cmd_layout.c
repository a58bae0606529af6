/*
 * idm layout check | preview
 *
 * Card layouts (doc/layouts.md) are files; check says whether one is valid
 * and what it holds, preview renders a card with one to PNG and PDF files
 * so that an operator sees the card before it is printed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

static const idm_card_face FACES[] = {IDM_FACE_FRONT, IDM_FACE_BACK};
static const char *const FACE_NAMES[] = {"front", "back"};

static int load_layout(struct cli *cli, const char *path, idm_layout_t **out)
{
    if (idm_layout_load(out, path) != IDM_OK) {
        char what[300];
        snprintf(what, sizeof what, "layout '%s' is refused", path);
        return cli_fail(cli, what);
    }
    return EXIT_OK;
}

/* ---- check ------------------------------------------------------------------ */

static const char CHECK_USAGE[] =
    "usage: idm layout check FILE\n"
    "\n"
    "Reads a card layout (doc/layouts.md) and its images, and says whether it is\n"
    "valid: its name, the card types it serves and its faces; or the member\n"
    "that is wrong and why (exit 1).  Needs no store.\n";

static int layout_check(struct cli *cli, int argc, char **argv)
{
    int first = 0;
    int rc = cli_operands(cli, argc, argv, CHECK_USAGE, 1, 1, "name one layout file", &first);
    if (rc != EXIT_OK || first == 0)
        return rc;
    idm_layout_t *layout = NULL;
    if ((rc = load_layout(cli, argv[first], &layout)) != EXIT_OK)
        return rc;
    const char *name = NULL;
    idm_layout_get_name(layout, &name);
    struct json j;
    json_start(&j, stdout);
    if (cli->json) {
        json_open(&j, NULL, '{');
        json_str(&j, "name", name);
        json_open(&j, "card_types", '[');
    } else {
        printf("layout %s: valid; serves", name);
    }
    for (int t = 0; strcmp(idm_card_type_name((idm_card_type)t), "unknown") != 0; t++) {
        int serves = 0;
        idm_layout_serves(layout, (idm_card_type)t, &serves);
        if (!serves)
            continue;
        if (cli->json)
            json_str(&j, NULL, idm_card_type_name((idm_card_type)t));
        else
            printf(" %s", idm_card_type_name((idm_card_type)t));
    }
    if (cli->json) {
        json_close(&j, ']');
        json_open(&j, "faces", '[');
    } else {
        printf("; faces");
    }
    for (size_t f = 0; f < 2; f++) {
        int has = 0;
        idm_layout_has_face(layout, FACES[f], &has);
        if (!has)
            continue;
        if (cli->json)
            json_str(&j, NULL, FACE_NAMES[f]);
        else
            printf(" %s", FACE_NAMES[f]);
    }
    if (cli->json) {
        json_close(&j, ']');
        json_close(&j, '}');
        json_end(&j);
    } else {
        putchar('\n');
    }
    idm_layout_free(&layout);
    return EXIT_OK;
}

/* ---- preview ---------------------------------------------------------------- */

static const char PREVIEW_USAGE[] =
    "usage: idm layout preview FILE CARD [--out PREFIX] [--dpi N] [--force]\n"
    "\n"
    "Renders a card (id or number) with the layout in FILE, as it would be\n"
    "printed: PREFIX-front.png and, when the layout has a back, PREFIX-back.png\n"
    "at N dots per inch (default 300: 1011 x 638 pixels), and PREFIX.pdf, the\n"
    "print-ready PDF at card size, one page per face.  PREFIX defaults to the\n"
    "card number.  Existing files are kept unless --force.  The layout need not\n"
    "serve the card's type.  Prints the files written.\n";

/* Renders one file and writes it; with force an old one goes first. */
static int write_rendering(struct cli *cli, const idm_layout_t *layout, const idm_card_t *card,
                           idm_render_format format, idm_card_face face, unsigned dpi,
                           const char *path, int force, struct json *j)
{
    idm_buffer_t *bytes = NULL;
    if (idm_buffer_new(&bytes) != IDM_OK ||
        idm_layout_render(layout, card, format, face, dpi, bytes) != IDM_OK) {
        idm_buffer_free(&bytes);
        return cli_fail(cli, "cannot render the card");
    }
    const unsigned char *data = NULL;
    size_t len = 0;
    idm_buffer_get(bytes, &data, &len);
    if (force)
        (void)unlink(path);
    int rc = cli_write_new_file(cli, path, data, len, 0644);
    idm_buffer_free(&bytes);
    if (rc == EXIT_OK) {
        if (cli->json)
            json_str(j, NULL, path);
        else
            printf("%s\n", path);
    }
    return rc;
}

static int layout_preview(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'}, {"dpi", required_argument, NULL, 'd'},
        {"force", no_argument, NULL, 'f'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *prefix = NULL;
    int64_t dpi = 300;
    int force = 0, opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': prefix = optarg; break;
        case 'd':
            if ((dpi = cli_parse_id(optarg)) < 72 || dpi > 1200)
                return cli_usage_error(cli, "--dpi: '%s' is not 72..1200", optarg);
            break;
        case 'f': force = 1; break;
        case 'h': fputs(PREVIEW_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc - 2)
        return cli_usage_error(cli, "name a layout file and a card; see 'idm layout preview "
                               "--help'");
    int rc = cli_open_store(cli, 0);
    if (rc != EXIT_OK)
        return rc;
    idm_layout_t *layout = NULL;
    idm_card_t *card = NULL;
    if ((rc = load_layout(cli, argv[optind], &layout)) != EXIT_OK ||
        (rc = cli_open_card(cli, argv[optind + 1], &card)) != EXIT_OK) {
        idm_layout_free(&layout);
        return rc;
    }
    if (prefix == NULL)
        idm_card_get_number(card, &prefix);
    struct json j;
    json_start(&j, stdout);
    if (cli->json)
        json_open(&j, NULL, '[');
    char path[4096];
    for (size_t f = 0; rc == EXIT_OK && f < 2; f++) {
        int has = 0;
        idm_layout_has_face(layout, FACES[f], &has);
        if (!has)
            continue;
        int n = snprintf(path, sizeof path, "%s-%s.png", prefix, FACE_NAMES[f]);
        if (n < 0 || (size_t)n >= sizeof path)
            rc = cli_usage_error(cli, "--out: the prefix is too long");
        else
            rc = write_rendering(cli, layout, card, IDM_RENDER_PNG, FACES[f], (unsigned)dpi,
                                 path, force, &j);
    }
    if (rc == EXIT_OK) {
        int n = snprintf(path, sizeof path, "%s.pdf", prefix);
        if (n < 0 || (size_t)n >= sizeof path)
            rc = cli_usage_error(cli, "--out: the prefix is too long");
        else
            rc = write_rendering(cli, layout, card, IDM_RENDER_PDF, IDM_FACE_FRONT, 300, path,
                                 force, &j);
    }
    if (cli->json) {
        json_close(&j, ']');
        json_end(&j);
    }
    idm_card_free(&card);
    idm_layout_free(&layout);
    return rc;
}

int cmd_layout(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command table[] = {
        {"check", "check a card layout file", layout_check},
        {"preview", "render a card with a layout to PNG and PDF files", layout_preview},
    };
    return cli_dispatch(cli, "layout", table, sizeof table / sizeof table[0], argc, argv);
}
