/*
 * Code 128 encoded here, QR codes by libqrencode; both drawn with cairo as
 * one filled path of modules (no seams between neighbours), with their
 * quiet zones inside the element's box.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "core/error_impl.h"
#include "model/text.h"
#include "print/barcode.h"

/* Bar and space widths of symbol values 0..106 (ISO/IEC 15417 table 1). */
/* clang-format off */
static const char *const patterns[107] = {
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
};
/* clang-format on */

enum { SET_B, SET_C };

#define UNREACHABLE (INT_MAX / 4)

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Symbols needed to encode data[i..len) from set s, the first of them in s
 * itself (no switch first); cost[] holds the best from each later position. */
static int cost_in(const char *data, size_t len, size_t i, int s, const int (*cost)[2])
{
    if (s == SET_B)
        return 1 + cost[i + 1][SET_B];
    if (i + 1 < len && is_digit(data[i]) && is_digit(data[i + 1]))
        return 1 + cost[i + 2][SET_C];
    return UNREACHABLE;
}

int idm_code128_encode(const char *data, size_t len, int **symbols, size_t *count,
                       size_t *bad_offset)
{
    *symbols = NULL;
    *count = 0;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)data[i] < 32 || (unsigned char)data[i] > 126) {
            *bad_offset = i;
            return -1;
        }
    }
    /* cost[i][s]: the fewest symbols for data[i..len) when set s is current.
     * Shortest path over (position, set): a switch is one symbol, a byte in
     * B one, a digit pair in C one. */
    int(*cost)[2] = malloc((len + 1) * sizeof *cost);
    /* start + each byte + a switch per byte at worst + check + stop */
    int *out = malloc((2 * len + 3) * sizeof *out);
    if (cost == NULL || out == NULL) {
        free(cost);
        free(out);
        return -2;
    }
    cost[len][SET_B] = cost[len][SET_C] = 0;
    for (size_t i = len; i-- > 0;) {
        for (int s = SET_B; s <= SET_C; s++) {
            int stay = cost_in(data, len, i, s, (const int(*)[2])cost);
            int other = cost_in(data, len, i, !s, (const int(*)[2])cost);
            cost[i][s] = stay <= other + 1 ? stay : other + 1;
        }
    }
    const int(*c)[2] = (const int(*)[2])cost;
    int set = len > 0 && cost_in(data, len, 0, SET_C, c) <= cost_in(data, len, 0, SET_B, c) ? SET_C
                                                                                            : SET_B;
    size_t n = 0;
    out[n++] = set == SET_C ? IDM_CODE128_START_C : IDM_CODE128_START_B;
    for (size_t i = 0; i < len;) {
        if (cost_in(data, len, i, set, c) > cost_in(data, len, i, !set, c) + 1) {
            set = !set;
            out[n++] = set == SET_C ? IDM_CODE128_CODE_C : IDM_CODE128_CODE_B;
        }
        if (set == SET_C) {
            out[n++] = (data[i] - '0') * 10 + (data[i + 1] - '0');
            i += 2;
        } else {
            out[n++] = (unsigned char)data[i] - 32;
            i++;
        }
    }
    unsigned long sum = (unsigned long)out[0];
    for (size_t k = 1; k < n; k++)
        sum += (unsigned long)k * (unsigned long)out[k];
    out[n++] = (int)(sum % 103);
    out[n++] = IDM_CODE128_STOP;
    free(cost);
    *symbols = out;
    *count = n;
    return 0;
}

const char *idm_code128_pattern(int symbol)
{
    return symbol >= 0 && symbol <= IDM_CODE128_STOP ? patterns[symbol] : NULL;
}

size_t idm_code128_modules(const int *symbols, size_t count, unsigned char *modules, size_t cap)
{
    size_t n = 0;
    for (size_t k = 0; k < count; k++) {
        const char *p = idm_code128_pattern(symbols[k]);
        if (p == NULL)
            return 0;
        for (size_t e = 0; p[e] != '\0'; e++) {
            for (int w = 0; w < p[e] - '0'; w++) {
                if (n < cap)
                    modules[n] = (e % 2 == 0);
                n++;
            }
        }
    }
    return n;
}

/* ---- drawing ------------------------------------------------------------------ */

static const char *name(const struct idm_layout_element *el)
{
    return el->where != NULL ? el->where : "barcode";
}

/* A point moved onto the device's pixel grid (raster only), so that
 * modules of whole pixels start on a pixel's edge. */
static void snap(const struct idm_barcode_canvas *c, double *x, double *y)
{
    if (c->px_per_mm <= 0)
        return;
    cairo_user_to_device(c->cr, x, y);
    *x = round(*x);
    *y = round(*y);
    cairo_device_to_user(c->cr, x, y);
}

/* The module size that makes count modules fit in room: whole device
 * pixels when there are enough of them. */
static double module_size(const struct idm_barcode_canvas *c, double room, size_t count)
{
    double m = room / (double)count;
    if (c->px_per_mm > 0) {
        double px = floor(room * c->px_per_mm / (double)count);
        if (px >= 1)
            m = px / c->px_per_mm;
    }
    return m;
}

/* The character at the start of s for a message: U+XXXX, or the byte. */
static void describe_char(const unsigned char *s, char *out, size_t size)
{
    unsigned cp = 0;
    int n = s[0] < 0x80             ? 1
            : (s[0] & 0xe0) == 0xc0 ? 2
            : (s[0] & 0xf0) == 0xe0 ? 3
            : (s[0] & 0xf8) == 0xf0 ? 4
                                    : 0;
    if (n > 0)
        cp = n == 1 ? s[0] : s[0] & (0x7fu >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            n = 0;
            break;
        }
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (n == 0)
        snprintf(out, size, "byte 0x%02x", s[0]);
    else
        snprintf(out, size, "character U+%04X", cp);
}

/* The data in DejaVu Sans Mono under the bars, as large as fits in a
 * quarter of the box's height and the bars' width; returns the height it
 * takes. */
static double draw_human_readable(const struct idm_barcode_canvas *c,
                                  const struct idm_layout_element *el, const char *data,
                                  double width)
{
    PangoLayout *pl = pango_layout_new(c->pango);
    PangoFontDescription *fd = pango_font_description_from_string("DejaVu Sans Mono");
    const double probe = 10.0; /* mm */
    pango_font_description_set_absolute_size(fd, probe * PANGO_SCALE);
    pango_layout_set_font_description(pl, fd);
    pango_layout_set_text(pl, data, -1);
    PangoRectangle logical;
    pango_layout_get_extents(pl, NULL, &logical);
    double scale = fmin(0.25 * el->box.height / ((double)logical.height / PANGO_SCALE),
                        width / ((double)logical.width / PANGO_SCALE));
    pango_font_description_set_absolute_size(fd, probe * scale * PANGO_SCALE);
    pango_layout_set_font_description(pl, fd);
    pango_font_description_free(fd);
    pango_layout_get_extents(pl, NULL, &logical);
    double h = (double)logical.height / PANGO_SCALE, w = (double)logical.width / PANGO_SCALE;
    cairo_set_source_rgba(c->cr, el->color.r, el->color.g, el->color.b, el->color.a);
    cairo_move_to(c->cr, el->box.x + (el->box.width - w) / 2 - (double)logical.x / PANGO_SCALE,
                  el->box.y + el->box.height - h - (double)logical.y / PANGO_SCALE);
    pango_cairo_show_layout(c->cr, pl);
    g_object_unref(pl);
    return h;
}

static int draw_code128(const struct idm_barcode_canvas *c, const struct idm_layout_element *el,
                        const char *data)
{
    int *symbols = NULL;
    size_t count = 0, bad = 0;
    int r = idm_code128_encode(data, strlen(data), &symbols, &count, &bad);
    if (r == -2)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "%s: cannot encode the barcode", name(el));
    if (r != 0) {
        char shown[128], ch[32];
        describe_char((const unsigned char *)data + bad, ch, sizeof ch);
        return IDM_ERR(IDM_ERR_INVALID_ARG,
                       "%s: '%s' cannot be encoded in Code 128 (%s); it takes printable ASCII",
                       name(el), idm_text_shown(data, shown, sizeof shown), ch);
    }
    size_t nmodules = idm_code128_modules(symbols, count, NULL, 0);
    unsigned char *modules = malloc(nmodules);
    if (modules == NULL) {
        free(symbols);
        return IDM_ERR(IDM_ERR_NO_MEMORY, "%s: cannot encode the barcode", name(el));
    }
    idm_code128_modules(symbols, count, modules, nmodules);
    free(symbols);

    const struct idm_layout_box *b = &el->box;
    size_t total = nmodules + 2 * IDM_CODE128_QUIET;
    double m = module_size(c, b->width, total);
    double x0 = b->x + (b->width - (double)total * m) / 2, y0 = b->y;
    snap(c, &x0, &y0);
    x0 += IDM_CODE128_QUIET * m;
    double bars = b->height;
    if (el->human_readable)
        bars -= 1.1 * draw_human_readable(c, el, data, (double)nmodules * m);
    cairo_set_source_rgba(c->cr, el->color.r, el->color.g, el->color.b, el->color.a);
    for (size_t i = 0; i < nmodules;) {
        size_t run = 0;
        while (i + run < nmodules && modules[i + run] == modules[i])
            run++;
        if (modules[i])
            cairo_rectangle(c->cr, x0 + (double)i * m, y0, (double)run * m, bars - (y0 - b->y));
        i += run;
    }
    cairo_fill(c->cr); /* one path: no seams between adjacent bars */
    free(modules);
    return IDM_OK;
}

static int draw_qr(const struct idm_barcode_canvas *c, const struct idm_layout_element *el,
                   const char *data)
{
    errno = 0;
    QRcode *qr = QRcode_encodeString(data, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL) {
        char shown[64];
        if (errno == ERANGE)
            return IDM_ERR(IDM_ERR_INVALID_ARG, "%s: '%s' (%zu bytes) is too long for a QR code",
                           name(el), idm_text_shown(data, shown, sizeof shown), strlen(data));
        if (errno == ENOMEM)
            return IDM_ERR(IDM_ERR_NO_MEMORY, "%s: cannot encode the QR code", name(el));
        return IDM_ERR(IDM_ERR_INTERNAL, "%s: libqrencode failed: %s", name(el), strerror(errno));
    }
    const struct idm_layout_box *b = &el->box;
    size_t n = (size_t)qr->width, total = n + 8; /* 4 modules of quiet zone a side */
    double m = module_size(c, fmin(b->width, b->height), total);
    double x0 = b->x + (b->width - (double)total * m) / 2;
    double y0 = b->y + (b->height - (double)total * m) / 2;
    snap(c, &x0, &y0);
    x0 += 4 * m;
    y0 += 4 * m;
    cairo_set_source_rgba(c->cr, el->color.r, el->color.g, el->color.b, el->color.a);
    for (size_t y = 0; y < n; y++) {
        const unsigned char *row = qr->data + y * n;
        for (size_t x = 0; x < n;) {
            size_t run = 0;
            while (x + run < n && (row[x + run] & 1) == (row[x] & 1))
                run++;
            if (row[x] & 1)
                cairo_rectangle(c->cr, x0 + (double)x * m, y0 + (double)y * m, (double)run * m, m);
            x += run;
        }
    }
    cairo_fill(c->cr);
    QRcode_free(qr);
    return IDM_OK;
}

int idm_barcode_draw(const struct idm_barcode_canvas *c, const struct idm_layout_element *el,
                     const char *data)
{
    return el->symbology == IDM_BARCODE_QR ? draw_qr(c, el, data) : draw_code128(c, el, data);
}
