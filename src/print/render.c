/*
 * Card faces drawn with cairo: PNG previews and the print-ready PDF.  One
 * drawing code for both; user space is the face in millimetres.  Text is
 * laid out by pango in user space with hinting off, so a name breaks and
 * shrinks the same way at every resolution and in the PDF.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include "core/buffer_impl.h"
#include "core/error_impl.h"
#include "print/barcode.h"
#include "print/image.h"
#include "print/layout_impl.h"

#define MM_PER_INCH 25.4
#define PT_PER_INCH 72.0

/* What an idm_buffer_t holds. */
#define RENDER_MAX_OUTPUT ((size_t)16 << 20)

#define LINE_SEPARATOR "\xe2\x80\xa8" /* U+2028 */
#define ELLIPSIS "\xe2\x80\xa6"       /* U+2026 */

/* Shrinking goes down in steps of this many points. */
#define SHRINK_STEP_PT 0.25

/* A photo's placeholder when the element has no fill colour. */
static const struct idm_layout_color placeholder_grey = {0.87, 0.87, 0.87, 1.0};

/* ---- output ---------------------------------------------------------------- */

struct sink {
    unsigned char *data;
    size_t len, cap;
    int too_big, no_memory;
};

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int length)
{
    struct sink *s = closure;
    if (length > RENDER_MAX_OUTPUT - s->len) {
        s->too_big = 1;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    if (s->len + length > s->cap) {
        size_t cap = s->cap < 65536 ? 65536 : s->cap;
        while (cap < s->len + length)
            cap *= 2;
        unsigned char *grown = realloc(s->data, cap);
        if (grown == NULL) {
            s->no_memory = 1;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        s->data = grown;
        s->cap = cap;
    }
    memcpy(s->data + s->len, data, length);
    s->len += length;
    return CAIRO_STATUS_SUCCESS;
}

/* ---- one face ------------------------------------------------------------- */

struct job {
    cairo_t *cr;
    PangoContext *pango;
    const struct idm_layout *layout;
    const struct idm_render_value *values;
    size_t nvalues;
    double px_per_mm; /* device pixels a millimetre across; 0 for the PDF */
};

static const char *where(const struct idm_layout_element *el)
{
    return el->where != NULL ? el->where : "element";
}

static void set_color(cairo_t *cr, const struct idm_layout_color *c)
{
    cairo_set_source_rgba(cr, c->r, c->g, c->b, c->a);
}

static void box_path(cairo_t *cr, const struct idm_layout_box *b)
{
    cairo_rectangle(cr, b->x, b->y, b->width, b->height);
}

static const char *value_of(const struct job *job, const char *key)
{
    for (size_t i = 0; i < job->nvalues; i++) {
        if (job->values[i].key != NULL && strcmp(job->values[i].key, key) == 0)
            return job->values[i].value;
    }
    return NULL;
}

static char *expand(const struct job *job, const char *tmpl)
{
    return idm_layout_expand(tmpl != NULL ? tmpl : "", job->values, job->nvalues);
}

/* ---- images ----------------------------------------------------------------- */

/* Draws an image centred in box, scaled to fit inside it (contain) or to
 * fill it (cover), clipped to it. */
static void draw_fitted(const struct job *job, cairo_surface_t *img,
                        const struct idm_layout_box *box, enum idm_layout_fit fit)
{
    cairo_t *cr = job->cr;
    double iw = cairo_image_surface_get_width(img), ih = cairo_image_surface_get_height(img);
    double sx = box->width / iw, sy = box->height / ih;
    double scale = fit == IDM_FIT_COVER ? fmax(sx, sy) : fmin(sx, sy);
    cairo_save(cr);
    box_path(cr, box);
    cairo_clip(cr);
    cairo_translate(cr, box->x + (box->width - iw * scale) / 2,
                    box->y + (box->height - ih * scale) / 2);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, img, 0, 0);
    /* In a raster, padding keeps the image's edges from fading into the
     * face; a PDF draws images without that fade. */
    if (job->px_per_mm > 0)
        cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_rectangle(cr, 0, 0, iw, ih);
    cairo_fill(cr);
    cairo_restore(cr);
}

/* Names an image for the PDF, which then holds it once however many times
 * the faces draw it (the photo or a logo on both sides): cairo knows two
 * surfaces for the same picture by this name. */
static void name_image(cairo_surface_t *img, const char *kind, const char *what)
{
    size_t n = strlen(kind) + strlen(what) + 2;
    char *id = malloc(n);
    if (id == NULL)
        return; /* then it is held twice */
    snprintf(id, n, "%s:%s", kind, what);
    if (cairo_surface_set_mime_data(img, CAIRO_MIME_TYPE_UNIQUE_ID, (unsigned char *)id,
                                    strlen(id), free, id) != CAIRO_STATUS_SUCCESS)
        free(id);
}

/* The holder's photo decoded, or NULL for a missing, unreadable or
 * undecodable file: the caller draws the placeholder instead. */
static cairo_surface_t *load_photo(const struct job *job, const char *path)
{
    char *joined = NULL;
    if (path[0] != '/' && job->layout->photo_dir != NULL) {
        size_t n = strlen(job->layout->photo_dir) + strlen(path) + 2;
        if ((joined = malloc(n)) == NULL)
            return NULL;
        snprintf(joined, n, "%s/%s", job->layout->photo_dir, path);
        path = joined;
    }
    size_t len = 0;
    unsigned char *bytes = NULL;
    if (idm_layout_read_file(path, IDM_LAYOUT_MAX_IMAGE, 1, &bytes, &len) != 0 || len == 0 ||
        len > IDM_LAYOUT_MAX_IMAGE) {
        free(bytes);
        bytes = NULL;
    }
    char why[256];
    cairo_surface_t *img = bytes != NULL ? idm_image_decode(bytes, len, why, sizeof why) : NULL;
    free(bytes);
    if (img != NULL)
        name_image(img, "photo", path);
    free(joined);
    return img;
}

/* A head and shoulders in a darker shade of the fill, standing on the
 * bottom of the box. */
static void draw_placeholder(cairo_t *cr, const struct idm_layout_element *el)
{
    const struct idm_layout_box *b = &el->box;
    const struct idm_layout_color *fill = el->fill.a > 0 ? &el->fill : &placeholder_grey;
    set_color(cr, fill);
    box_path(cr, b);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, fill->r * 0.62, fill->g * 0.62, fill->b * 0.62);
    double s = fmin(b->width, b->height), cx = b->x + b->width / 2, bottom = b->y + b->height;
    cairo_new_sub_path(cr);
    cairo_arc(cr, cx, bottom - 0.62 * s, 0.2 * s, 0, 2 * G_PI);
    cairo_fill(cr);
    cairo_save(cr);
    cairo_translate(cr, cx, bottom);
    cairo_scale(cr, 0.4 * s, 0.36 * s);
    cairo_arc(cr, 0, 0, 1, G_PI, 2 * G_PI);
    cairo_restore(cr);
    cairo_fill(cr);
}

static int draw_photo(const struct job *job, const struct idm_layout_element *el)
{
    const char *path = value_of(job, el->source != NULL ? el->source : "photo");
    cairo_surface_t *img = path != NULL && *path != '\0' ? load_photo(job, path) : NULL;
    if (img == NULL) {
        draw_placeholder(job->cr, el);
        return IDM_OK;
    }
    draw_fitted(job, img, &el->box, el->fit);
    cairo_surface_destroy(img);
    return IDM_OK;
}

/* A layout's own image (logo, background): the layout was checked when it
 * was loaded, so bytes that do not decode are its fault. */
static int draw_layout_image(const struct job *job, const char *what,
                             const struct idm_layout_image *image, const struct idm_layout_box *box,
                             enum idm_layout_fit fit)
{
    if (image->bytes == NULL)
        return IDM_OK;
    char why[256];
    cairo_surface_t *img = idm_image_decode(image->bytes, image->len, why, sizeof why);
    if (img == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "%s: the image '%s' cannot be drawn: %s", what,
                       image->path != NULL ? image->path : "", why);
    char id[64]; /* the layout holds the bytes for as long as the rendering */
    snprintf(id, sizeof id, "%p+%zu", (const void *)image->bytes, image->len);
    name_image(img, "layout", id);
    draw_fitted(job, img, box, fit);
    cairo_surface_destroy(img);
    return IDM_OK;
}

/* ---- text ------------------------------------------------------------------- */

static int pango_units(double mm)
{
    return (int)lround(mm * PANGO_SCALE);
}

static void set_font_size(PangoLayout *pl, PangoFontDescription *fd, double pt)
{
    pango_font_description_set_absolute_size(fd, pt * MM_PER_INCH / PT_PER_INCH * PANGO_SCALE);
    pango_layout_set_font_description(pl, fd);
}

/* Whether the text set in pl, at pt points, takes at most lines lines and
 * the box's height. */
static int fits(PangoLayout *pl, PangoFontDescription *fd, double pt, int lines, double height)
{
    set_font_size(pl, fd, pt);
    PangoRectangle logical;
    pango_layout_get_extents(pl, NULL, &logical);
    return pango_layout_get_line_count(pl) <= lines && logical.height <= pango_units(height);
}

/*
 * Cuts the text in pl (one paragraph, at its size) to the lines that are
 * allowed and fit in the height, the last of them ending in an ellipsis.
 * Pango does that for a paragraph (a negative height is a number of
 * lines), but on the last line it runs the rest of the text together,
 * forced breaks dropped ("Gebäude 7Raum 0.12"); so the text is first cut at
 * the first forced break after the start of the last line, an ellipsis
 * put in place of what followed, and pango left to cut that line.
 */
static void ellipsize(PangoLayout *pl, int lines, double height)
{
    PangoRectangle line;
    pango_layout_line_get_extents(pango_layout_get_line_readonly(pl, 0), NULL, &line);
    int fitting = line.height > 0 ? pango_units(height) / line.height : 1;
    if (lines > fitting)
        lines = fitting > 1 ? fitting : 1;
    if (pango_layout_get_line_count(pl) > lines) {
        const char *text = pango_layout_get_text(pl);
        const char *last = text + pango_layout_get_line_readonly(pl, lines - 1)->start_index;
        const char *cut = strstr(last, LINE_SEPARATOR);
        if (cut != NULL) {
            size_t keep = (size_t)(cut - text);
            char *shorter = malloc(keep + sizeof ELLIPSIS);
            if (shorter != NULL) {
                memcpy(shorter, text, keep);
                memcpy(shorter + keep, ELLIPSIS, sizeof ELLIPSIS);
                pango_layout_set_text(pl, shorter, -1);
                free(shorter);
            }
        }
    }
    pango_layout_set_ellipsize(pl, PANGO_ELLIPSIZE_END);
    pango_layout_set_height(pl, -lines);
}

/*
 * Sets pl's font size so that the text fits: font_size if it does; with
 * overflow "shrink", the largest size on the SHRINK_STEP_PT grid down to
 * min_font_size that does (found by bisection: a smaller size never takes
 * more room); failing that, or with "ellipsize", cut with an ellipsis at the
 * end of the last line that fits.
 */
static void fit_text(PangoLayout *pl, PangoFontDescription *fd, const struct idm_layout_element *el)
{
    int lines = el->max_lines < 1 ? 1 : el->max_lines > 8 ? 8 : el->max_lines;
    double size = fmin(fmax(el->font_size, IDM_LAYOUT_MIN_FONT_PT), IDM_LAYOUT_MAX_FONT_PT);
    double min = fmin(fmax(el->min_font_size, IDM_LAYOUT_MIN_FONT_PT), size);
    double height = el->box.height;
    if (fits(pl, fd, size, lines, height))
        return;
    if (el->overflow == IDM_OVERFLOW_SHRINK) {
        int steps = (int)ceil((size - min) / SHRINK_STEP_PT - 1e-9);
        if (fits(pl, fd, min, lines, height)) {
            int too_big = 0, small_enough = steps; /* in steps below size */
            while (small_enough - too_big > 1) {
                int mid = (too_big + small_enough) / 2;
                if (fits(pl, fd, size - mid * SHRINK_STEP_PT, lines, height))
                    small_enough = mid;
                else
                    too_big = mid;
            }
            set_font_size(pl, fd, fmax(size - small_enough * SHRINK_STEP_PT, min));
            return;
        }
        size = min;
    }
    set_font_size(pl, fd, size);
    ellipsize(pl, lines, height);
}

/*
 * The text as one paragraph: its line breaks (LF, CR, CRLF, U+2029) become
 * U+2028, a break inside the paragraph.  Pango's line limit (a negative
 * height) counts the lines of each paragraph, so an address on four lines
 * would otherwise take four lines in a box that allows two.  NULL when out
 * of memory.
 */
static char *one_paragraph(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(3 * n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\r' && p[1] == '\n')
            continue; /* the LF that follows makes the break */
        if (*p == '\n' || *p == '\r' || strncmp(p, "\xe2\x80\xa9", 3) == 0) {
            if (*p != '\n' && *p != '\r')
                p += 2;
            memcpy(o, LINE_SEPARATOR, 3);
            o += 3;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static int draw_text(const struct job *job, const struct idm_layout_element *el)
{
    char *expanded = expand(job, el->text);
    char *text = expanded != NULL ? one_paragraph(expanded) : NULL;
    free(expanded);
    if (text == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "%s: cannot expand the text", where(el));
    if (*text == '\0') {
        free(text);
        return IDM_OK;
    }
    PangoLayout *pl = pango_layout_new(job->pango);
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd,
                                      el->font_family != NULL ? el->font_family : "DejaVu Sans");
    pango_font_description_set_weight(fd, el->bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_font_description_set_style(fd, el->italic ? PANGO_STYLE_ITALIC : PANGO_STYLE_NORMAL);
    pango_layout_set_text(pl, text, -1);
    free(text);
    pango_layout_set_width(pl, pango_units(el->box.width));
    pango_layout_set_wrap(pl, PANGO_WRAP_WORD_CHAR);
    /* With auto_dir, pango swaps left and right in a right-to-left
     * paragraph: "start" is the right edge of a Hebrew or Arabic name. */
    pango_layout_set_auto_dir(pl, TRUE);
    pango_layout_set_alignment(pl, el->align == IDM_ALIGN_CENTER ? PANGO_ALIGN_CENTER
                                   : el->align == IDM_ALIGN_END  ? PANGO_ALIGN_RIGHT
                                                                 : PANGO_ALIGN_LEFT);
    fit_text(pl, fd, el);
    pango_font_description_free(fd);

    PangoRectangle logical;
    pango_layout_get_extents(pl, NULL, &logical);
    double room = el->box.height - (double)logical.height / PANGO_SCALE;
    double dy = el->valign == IDM_VALIGN_MIDDLE   ? room / 2
                : el->valign == IDM_VALIGN_BOTTOM ? room
                                                  : 0;
    cairo_t *cr = job->cr;
    set_color(cr, &el->color);
    cairo_move_to(cr, el->box.x, el->box.y + dy - (double)logical.y / PANGO_SCALE);
    pango_cairo_show_layout(cr, pl);
    g_object_unref(pl);
    return IDM_OK;
}

/* ---- barcodes --------------------------------------------------------------- */

static int draw_barcode(const struct job *job, const struct idm_layout_element *el)
{
    char *data = expand(job, el->data != NULL ? el->data : "${card.number}");
    if (data == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "%s: cannot expand the barcode's data", where(el));
    if (el->fill.a > 0) {
        set_color(job->cr, &el->fill);
        box_path(job->cr, &el->box);
        cairo_fill(job->cr);
    }
    /* no value, no barcode: like text, an empty value draws nothing */
    int rc = IDM_OK;
    if (*data != '\0') {
        struct idm_barcode_canvas canvas = {job->cr, job->pango, job->px_per_mm};
        rc = idm_barcode_draw(&canvas, el, data);
    }
    free(data);
    return rc;
}

/* ---- faces ------------------------------------------------------------------ */

static int draw_element(const struct job *job, const struct idm_layout_element *el)
{
    if (!(el->box.width > 0 && el->box.height > 0))
        return IDM_OK;
    cairo_t *cr = job->cr;
    cairo_save(cr);
    /* the last guard: nothing an element draws leaves its box */
    box_path(cr, &el->box);
    cairo_clip(cr);
    int rc = IDM_OK;
    switch (el->kind) {
    case IDM_LAYOUT_TEXT:
        rc = draw_text(job, el);
        break;
    case IDM_LAYOUT_PHOTO:
        rc = draw_photo(job, el);
        break;
    case IDM_LAYOUT_IMAGE:
        rc = draw_layout_image(job, where(el), &el->image, &el->box, el->fit);
        break;
    case IDM_LAYOUT_BARCODE:
        rc = draw_barcode(job, el);
        break;
    }
    cairo_restore(cr);
    return rc;
}

static int cairo_failure(cairo_status_t status)
{
    if (status == CAIRO_STATUS_NO_MEMORY)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cairo: %s", cairo_status_to_string(status));
    return IDM_ERR(IDM_ERR_INTERNAL, "cairo: %s", cairo_status_to_string(status));
}

static int draw_face(const struct job *job, idm_card_face face)
{
    const struct idm_layout_face *f = &job->layout->faces[face];
    const char *name = face == IDM_FACE_FRONT ? "front" : "back";
    struct idm_layout_box all = {0, 0, idm_layout_face_width(job->layout),
                                 idm_layout_face_height(job->layout)};
    set_color(job->cr, &f->background);
    cairo_paint(job->cr);
    char what[32];
    snprintf(what, sizeof what, "%s.background", name);
    int rc = draw_layout_image(job, what, &f->background_image, &all, IDM_FIT_COVER);
    for (size_t i = 0; rc == IDM_OK && i < f->nelements; i++)
        rc = draw_element(job, &f->elements[i]);
    if (rc == IDM_OK && cairo_status(job->cr) != CAIRO_STATUS_SUCCESS)
        rc = cairo_failure(cairo_status(job->cr));
    return rc;
}

/*
 * The text options that make the layout the same at every scale.  A font
 * map of its own per rendering rather than pango's default one a thread:
 * nothing outlives the call.  The default map's caches stay with each
 * thread for good, and valgrind and LeakSanitizer report them as lost
 * (some 100 KB after five cards), which would drown a real leak.  The
 * price is some 15 ms a rendering (a two-page PDF in 27 ms instead of 13,
 * a PNG at 300 dpi in 80 instead of 55), small beside a card printer's
 * pace.
 */
static PangoContext *text_context(cairo_t *cr)
{
    PangoFontMap *map = pango_cairo_font_map_new();
    PangoContext *pango = pango_font_map_create_context(map);
    g_object_unref(map); /* the context holds it */
    pango_cairo_update_context(cr, pango);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    pango_cairo_context_set_font_options(pango, fo);
    cairo_font_options_destroy(fo);
    pango_context_set_round_glyph_positions(pango, FALSE);
    return pango;
}

/* Draws the faces (one, or every present one with a page each) on surface. */
static int draw_faces(struct job *job, cairo_surface_t *surface, double sx, double sy,
                      int one_face, idm_card_face face)
{
    job->cr = cairo_create(surface);
    cairo_scale(job->cr, sx, sy);
    job->pango = text_context(job->cr);
    int rc = IDM_OK;
    for (int f = IDM_FACE_FRONT; rc == IDM_OK && f <= IDM_FACE_BACK; f++) {
        if (one_face ? f != (int)face : !job->layout->faces[f].present)
            continue;
        rc = draw_face(job, (idm_card_face)f);
        if (rc == IDM_OK && !one_face)
            cairo_show_page(job->cr);
    }
    if (rc == IDM_OK && cairo_status(job->cr) != CAIRO_STATUS_SUCCESS)
        rc = cairo_failure(cairo_status(job->cr));
    g_object_unref(job->pango);
    cairo_destroy(job->cr);
    return rc;
}

int idm_render(const struct idm_layout *layout, const struct idm_render_value *values,
               size_t nvalues, idm_card_face face, idm_render_format format, unsigned dpi,
               idm_buffer_t *out)
{
    if (layout == NULL || out == NULL || (values == NULL && nvalues > 0))
        return IDM_ERR(IDM_ERR_INVALID_ARG, "no layout, values or output to render with");
    if (format != IDM_RENDER_PNG && format != IDM_RENDER_PDF)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "format %d is neither PNG nor PDF", (int)format);
    if (!layout->faces[IDM_FACE_FRONT].present)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the layout '%s' has no front",
                       layout->name != NULL ? layout->name : "");
    if (format == IDM_RENDER_PNG) {
        if (face != IDM_FACE_FRONT && face != IDM_FACE_BACK)
            return IDM_ERR(IDM_ERR_INVALID_ARG, "face %d is neither the front nor the back",
                           (int)face);
        if (!layout->faces[face].present)
            return IDM_ERR(IDM_ERR_INVALID_ARG, "the layout '%s' has no back",
                           layout->name != NULL ? layout->name : "");
        if (dpi < IDM_LAYOUT_MIN_DPI || dpi > IDM_LAYOUT_MAX_DPI)
            return IDM_ERR(IDM_ERR_INVALID_ARG, "a resolution of %u dpi is outside %u..%u", dpi,
                           IDM_LAYOUT_MIN_DPI, IDM_LAYOUT_MAX_DPI);
    }
    double w = idm_layout_face_width(layout), h = idm_layout_face_height(layout);
    struct job job = {NULL, NULL, layout, values, nvalues, 0};
    struct sink sink = {0};
    cairo_surface_t *surface;
    int rc;
    if (format == IDM_RENDER_PNG) {
        /* The face fills the image: its scale is the resolution's, moved by
         * the rounding of each side to whole pixels (0.1% at most), so that
         * no half-covered column or row is left at the right or bottom. */
        int pw = (int)lround(w / MM_PER_INCH * dpi), ph = (int)lround(h / MM_PER_INCH * dpi);
        job.px_per_mm = pw / w;
        surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, pw, ph);
        if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
            rc = cairo_failure(cairo_surface_status(surface));
            cairo_surface_destroy(surface);
            return rc;
        }
        rc = draw_faces(&job, surface, pw / w, ph / h, 1, face);
        if (rc == IDM_OK) {
            cairo_status_t st = cairo_surface_write_to_png_stream(surface, sink_write, &sink);
            if (st != CAIRO_STATUS_SUCCESS && !sink.too_big && !sink.no_memory)
                rc = cairo_failure(st);
        }
    } else {
        surface = cairo_pdf_surface_create_for_stream(
            sink_write, &sink, w / MM_PER_INCH * PT_PER_INCH, h / MM_PER_INCH * PT_PER_INCH);
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, "card");
        rc = draw_faces(&job, surface, PT_PER_INCH / MM_PER_INCH, PT_PER_INCH / MM_PER_INCH, 0,
                        face);
        cairo_surface_finish(surface); /* writes the document */
        if (rc == IDM_OK && cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS &&
            !sink.too_big && !sink.no_memory)
            rc = cairo_failure(cairo_surface_status(surface));
    }
    cairo_surface_destroy(surface);
    if (rc == IDM_OK && sink.too_big)
        rc = IDM_ERR(IDM_ERR_INVALID_ARG, "the %s would be larger than %zu bytes%s",
                     format == IDM_RENDER_PNG ? "PNG" : "PDF", RENDER_MAX_OUTPUT,
                     format == IDM_RENDER_PNG ? "; choose a lower resolution" : "");
    else if (rc == IDM_OK && sink.no_memory)
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu bytes of output", sink.len);
    if (rc == IDM_OK)
        rc = idm_buffer_put(out, sink.data, sink.len);
    free(sink.data);
    return rc;
}
