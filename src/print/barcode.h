/*
 * The barcodes of card faces: Code 128 (ISO/IEC 15417), encoded here with
 * code sets B and C chosen for the fewest symbols, and QR codes (from
 * libqrencode), drawn into an element's box for render.c.
 */
#ifndef IDM_PRINT_BARCODE_H
#define IDM_PRINT_BARCODE_H

#include <stddef.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "print/layout_impl.h"

/* Symbol values with a meaning of their own. */
#define IDM_CODE128_CODE_C 99  /* switch to code set C (from B) */
#define IDM_CODE128_CODE_B 100 /* switch to code set B (from C) */
#define IDM_CODE128_START_B 104
#define IDM_CODE128_START_C 105
#define IDM_CODE128_STOP 106

/* Modules of quiet zone each side of the bars, as the standard asks. */
#define IDM_CODE128_QUIET 10

/*
 * Encodes len bytes of data as Code 128 symbol values: the start, the data
 * (with code set switches), the check symbol and the stop.  Digits go in
 * pairs through code set C wherever that makes the symbol shorter, so the
 * result is as short as sets B and C allow.  *symbols receives a new array
 * (caller frees) and *count its length.  Returns 0; -1 when a byte is not
 * printable ASCII (*bad_offset receives its offset, nothing is handed out);
 * -2 when out of memory.
 */
int idm_code128_encode(const char *data, size_t len, int **symbols, size_t *count,
                       size_t *bad_offset);

/* The bar and space widths of a symbol value (0..106), in modules, bar
 * first: six digits '1'..'4', seven for the stop.  NULL for other values. */
const char *idm_code128_pattern(int symbol);

/*
 * Expands symbols into modules, 1 for a bar and 0 for a space, without the
 * quiet zones.  Writes at most cap modules into modules (which may be NULL
 * when cap is 0) and returns how many there are in all: 11 a symbol, 13 for
 * the stop.  0 when a value is out of range.
 */
size_t idm_code128_modules(const int *symbols, size_t count, unsigned char *modules, size_t cap);

/* Where a barcode is drawn: cr's user space is the face in millimetres;
 * px_per_mm is the raster's pixels a millimetre across (modules then take
 * whole pixels) or 0 for a PDF; pango lays out the human-readable line. */
struct idm_barcode_canvas {
    cairo_t *cr;
    PangoContext *pango;
    double px_per_mm;
};

/*
 * Draws data (not empty) as the element's symbology in its box, in its
 * colour, centred: Code 128 as wide as the box allows with 10 modules of
 * quiet zone each side and, when human_readable, the data in DejaVu Sans
 * Mono under the bars (a quarter of the height at most); QR (error
 * correction M, the smallest version that holds it) as the largest square
 * that fits, 4 modules of quiet zone included.  Returns IDM_OK;
 * IDM_ERR_INVALID_ARG for data the symbology cannot hold ("<where>: '...'
 * cannot be encoded in Code 128 (character U+00E9); ...", or too long for
 * a QR code); IDM_ERR_NO_MEMORY; errors carry no function name.
 */
int idm_barcode_draw(const struct idm_barcode_canvas *canvas, const struct idm_layout_element *el,
                     const char *data);

#endif /* IDM_PRINT_BARCODE_H */
