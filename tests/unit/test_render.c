/*
 * White-box: card faces drawn by src/print/render.c, with the Code 128
 * encoder (barcode.c) and the image decoder (image.c).  Layouts are built
 * here in C, as the parser (layout.c) would leave them.
 *
 * Reference images: tests/data/render/<name>.png, faces at 150 dpi.  A
 * rendering matches its reference when the mean absolute difference over
 * all channels of all pixels is below 2.0 (of 255), and at most 0.05% of
 * the pixels of either image (80 of a face) have no pixel of the other
 * within one pixel's distance that comes within 64 of them in every
 * channel.  That leaves room for a cairo, pango, FreeType or libjpeg update
 * that moves antialiasing by a shade or a glyph by a fraction of a pixel,
 * none for a word, a line break, a bar or a photo that moved, appeared or
 * went missing (one short line of 8 pt text is about 1000 pixels).  A failing
 * comparison leaves the rendering beside the test's scratch files
 * (<name>.actual.png) to look at.  After a deliberate change, rewrite the
 * references and look at each before committing:
 *     IDM_RENDER_UPDATE_REFERENCES=1 meson test -C <build> render
 * The references are found through IDM_TEST_SOURCE_DIR (the source tree)
 * when it is set, else through __FILE__: meson compiles in the build root
 * with a path relative to it, and the build root is two folders above
 * IDM_TEST_TMPDIR (<build>/tests/tmp).
 *
 * QR codes and Code 128 bars are read back by zbarimg (zbar-tools), a
 * decoder of its own; the suite fails when it is not installed.
 *
 * fontconfig leaks a few hundred bytes once a process when pango first
 * loads it: tests/lsan.supp (the asan setup) and tests/valgrind-print.supp
 * suppress that, and nothing else of the libraries the renderer uses.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cairo.h>
#include <jpeglib.h>

#include <idm/idm.h>

#include "core/buffer_impl.h"
#include "core/handle.h"
#include "model/text.h"
#include "print/barcode.h"
#include "print/image.h"
#include "print/layout_impl.h"
#include "fixtures.h"
#include "runner.h"

#define REF_DPI 150u
#define PI 3.14159265358979323846
#define WHITE 0xffffffffu

static const struct idm_layout_color black = {0, 0, 0, 1};
static const struct idm_layout_color white = {1, 1, 1, 1};

/* snprintf() that fails the test rather than cut a path or a command */
#define FORMAT(out, size, ...)                                                                     \
    do {                                                                                           \
        int n_ = snprintf((out), (size), __VA_ARGS__);                                             \
        ck_assert_msg(n_ >= 0 && (size_t)n_ < (size_t)(size), "too long: %s", (out));              \
    } while (0)

/* ---- files -------------------------------------------------------------------- */

static const char *scratch_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0] == '\0') {
        const char *base = getenv("IDM_TEST_TMPDIR");
        if (base == NULL || base[0] == '\0')
            base = "/tmp";
        mkdir(base, 0755);
        /* made before the tests run, where Check's assertions cannot */
        int n = snprintf(dir, sizeof dir, "%s/render-XXXXXX", base);
        if (n < 0 || (size_t)n >= sizeof dir || mkdtemp(dir) == NULL) {
            fprintf(stderr, "cannot make a folder in %s: %s\n", base, strerror(errno));
            abort();
        }
    }
    return dir;
}

static void scratch_path(const char *name, char *out, size_t size)
{
    FORMAT(out, size, "%s/%s", scratch_dir(), name);
}

/* tests/data/render, found as the comment at the top says. */
static void reference_path(const char *name, char *out, size_t size)
{
    const char *src = getenv("IDM_TEST_SOURCE_DIR");
    if (src != NULL && src[0] != '\0') {
        FORMAT(out, size, "%s/tests/data/render/%s.png", src, name);
        return;
    }
    char file[PATH_MAX];
    if (__FILE__[0] == '/') {
        FORMAT(file, sizeof file, "%s", __FILE__);
    } else {
        const char *tmp = getenv("IDM_TEST_TMPDIR");
        ck_assert_msg(tmp != NULL && tmp[0] == '/',
                      "set IDM_TEST_SOURCE_DIR or IDM_TEST_TMPDIR to find tests/data/render");
        FORMAT(file, sizeof file, "%s/../../%s", tmp, __FILE__);
    }
    char *slash = strrchr(file, '/');
    *slash = '\0';
    FORMAT(out, size, "%s/../data/render/%s.png", file, name);
}

/* ---- layouts built by hand ---------------------------------------------- */

#define MAX_ELEMENTS 12

/* A layout and the storage its pointers point into: not to be copied. */
struct test_layout {
    struct idm_layout layout;
    struct idm_layout_element elements[2][MAX_ELEMENTS];
    char where[2][MAX_ELEMENTS][32];
};

static void layout_init(struct test_layout *t, int portrait, int with_back)
{
    memset(t, 0, sizeof *t);
    t->layout.magic = IDM_MAGIC_LAYOUT;
    t->layout.name = (char *)"test";
    t->layout.portrait = portrait;
    for (int f = 0; f < 2; f++) {
        t->layout.faces[f].present = f == IDM_FACE_FRONT || with_back;
        t->layout.faces[f].background = white;
        t->layout.faces[f].elements = t->elements[f];
    }
}

/* An element with the parser's defaults. */
static struct idm_layout_element *add_element(struct test_layout *t, idm_card_face face,
                                              enum idm_layout_kind kind, double x, double y,
                                              double w, double h)
{
    struct idm_layout_face *f = &t->layout.faces[face];
    ck_assert_uint_lt(f->nelements, MAX_ELEMENTS);
    size_t i = f->nelements++;
    struct idm_layout_element *el = &t->elements[face][i];
    snprintf(t->where[face][i], sizeof t->where[face][i], "%s.elements[%zu]",
             face == IDM_FACE_FRONT ? "front" : "back", i);
    el->kind = kind;
    el->where = t->where[face][i];
    el->box = (struct idm_layout_box){x, y, w, h};
    el->font_size = 10;
    el->min_font_size = 6;
    el->color = black;
    el->max_lines = 1;
    el->valign = IDM_VALIGN_MIDDLE;
    el->source = (char *)"photo";
    el->data = (char *)"${card.number}";
    return el;
}

static struct idm_layout_element *add_text(struct test_layout *t, idm_card_face face,
                                           const char *tmpl, double x, double y, double w, double h,
                                           double size)
{
    struct idm_layout_element *el = add_element(t, face, IDM_LAYOUT_TEXT, x, y, w, h);
    el->text = (char *)tmpl;
    el->font_size = size;
    return el;
}

/* ---- images made here -------------------------------------------------------- */

/* A stand-in for a passport photo: a person against a blue backdrop. */
static cairo_surface_t *portrait_surface(void)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 240, 300);
    cairo_t *cr = cairo_create(s);
    cairo_pattern_t *sky = cairo_pattern_create_linear(0, 0, 0, 300);
    cairo_pattern_add_color_stop_rgb(sky, 0, 0.55, 0.75, 0.95);
    cairo_pattern_add_color_stop_rgb(sky, 1, 0.25, 0.45, 0.75);
    cairo_set_source(cr, sky);
    cairo_paint(cr);
    cairo_pattern_destroy(sky);
    cairo_set_source_rgb(cr, 0.15, 0.2, 0.35); /* jacket */
    cairo_save(cr);
    cairo_translate(cr, 120, 300);
    cairo_scale(cr, 105, 85);
    cairo_arc(cr, 0, 0, 1, PI, 2 * PI);
    cairo_restore(cr);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.93, 0.76, 0.62); /* face */
    cairo_arc(cr, 120, 130, 62, 0, 2 * PI);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.35, 0.22, 0.12); /* hair */
    cairo_arc(cr, 120, 115, 64, PI, 2 * PI);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1); /* eyes */
    cairo_arc(cr, 98, 135, 6, 0, 2 * PI);
    cairo_fill(cr);
    cairo_arc(cr, 142, 135, 6, 0, 2 * PI);
    cairo_fill(cr);
    cairo_destroy(cr);
    return s;
}

static cairo_status_t collect(void *closure, const unsigned char *data, unsigned int len)
{
    idm_buffer_t *b = closure;
    return idm_buffer_append(b, data, len) == IDM_OK ? CAIRO_STATUS_SUCCESS
                                                     : CAIRO_STATUS_WRITE_ERROR;
}

static unsigned char *png_bytes(cairo_surface_t *s, size_t *len)
{
    idm_buffer_t *b = NULL;
    ck_ok(idm_buffer_new(&b));
    ck_assert_int_eq(cairo_surface_write_to_png_stream(s, collect, b), CAIRO_STATUS_SUCCESS);
    unsigned char *copy = malloc(b->len);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, b->data, b->len);
    *len = b->len;
    idm_buffer_free(&b);
    return copy;
}

static unsigned char *jpeg_bytes(cairo_surface_t *s, int quality, size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = (JDIMENSION)cairo_image_surface_get_width(s);
    c.image_height = (JDIMENSION)cairo_image_surface_get_height(s);
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)c.image_width * 3);
    ck_assert_ptr_nonnull(row);
    cairo_surface_flush(s);
    const unsigned char *pixels = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    while (c.next_scanline < c.image_height) {
        const uint32_t *in =
            (const uint32_t *)(const void *)(pixels + (size_t)stride * c.next_scanline);
        for (JDIMENSION x = 0; x < c.image_width; x++) {
            row[3 * x] = (unsigned char)(in[x] >> 16);
            row[3 * x + 1] = (unsigned char)(in[x] >> 8);
            row[3 * x + 2] = (unsigned char)in[x];
        }
        JSAMPROW rows[1] = {row};
        jpeg_write_scanlines(&c, rows, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    *len = outlen;
    return out;
}

/* The test photo as a file of the given kind: "png", "jpg", "truncated.jpg"
 * (the first half of the JPEG) or "garbage.png" (text named like a PNG). */
static void photo_file(const char *kind, char *path, size_t size)
{
    scratch_path(kind, path, size);
    struct stat st;
    if (stat(path, &st) == 0)
        return;
    cairo_surface_t *s = portrait_surface();
    size_t len = 0;
    unsigned char *bytes = NULL;
    if (strcmp(kind, "png") == 0) {
        bytes = png_bytes(s, &len);
    } else if (strcmp(kind, "jpg") == 0) {
        bytes = jpeg_bytes(s, 90, &len);
    } else if (strcmp(kind, "truncated.jpg") == 0) {
        bytes = jpeg_bytes(s, 90, &len);
        len /= 2;
    } else {
        const char *text = "not an image, whatever its name says\n";
        bytes = (unsigned char *)strdup(text);
        len = strlen(text);
    }
    fixture_write_file(path, bytes, len);
    free(bytes);
    cairo_surface_destroy(s);
}

/* A logo: a red disc and a blue bar on a transparent ground. */
static unsigned char *logo_png(size_t *len)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 200, 80);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 0.8, 0.1, 0.1);
    cairo_arc(cr, 40, 40, 36, 0, 2 * PI);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.2, 0.6);
    cairo_rectangle(cr, 88, 22, 108, 36);
    cairo_fill(cr);
    cairo_destroy(cr);
    unsigned char *bytes = png_bytes(s, len);
    cairo_surface_destroy(s);
    return bytes;
}

/* ---- rendering and reading back ------------------------------------------------ */

static idm_buffer_t *render(const struct idm_layout *l, const struct idm_render_value *v, size_t n,
                            idm_card_face face, idm_render_format format, unsigned dpi)
{
    idm_buffer_t *out = NULL;
    ck_ok(idm_buffer_new(&out));
    ck_ok(idm_render(l, v, n, face, format, dpi, out));
    ck_assert_uint_gt(out->len, 0);
    return out;
}

struct png_source {
    const unsigned char *data;
    size_t len, at;
};

static cairo_status_t png_source_read(void *closure, unsigned char *data, unsigned int len)
{
    struct png_source *s = closure;
    if (len > s->len - s->at)
        return CAIRO_STATUS_READ_ERROR;
    memcpy(data, s->data + s->at, len);
    s->at += len;
    return CAIRO_STATUS_SUCCESS;
}

/* The PNG's pixels, decoded by cairo itself (not by the code under test). */
static cairo_surface_t *png_pixels(const unsigned char *data, size_t len)
{
    struct png_source src = {data, len, 0};
    cairo_surface_t *s = cairo_image_surface_create_from_png_stream(png_source_read, &src);
    ck_assert_msg(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "not a PNG: %s",
                  cairo_status_to_string(cairo_surface_status(s)));
    /* cairo writes an opaque image without alpha and reads it as RGB24 */
    ck_assert(cairo_image_surface_get_format(s) == CAIRO_FORMAT_ARGB32 ||
              cairo_image_surface_get_format(s) == CAIRO_FORMAT_RGB24);
    return s;
}

/* The pixel as 0xAARRGGBB (premultiplied), opaque for RGB24. */
static uint32_t pixel(cairo_surface_t *s, int x, int y)
{
    const unsigned char *data = cairo_image_surface_get_data(s);
    uint32_t px =
        ((const uint32_t *)(const void *)(data + (size_t)y * cairo_image_surface_get_stride(s)))[x];
    return cairo_image_surface_get_format(s) == CAIRO_FORMAT_RGB24 ? px | 0xff000000u : px;
}

static int channel(uint32_t px, int shift)
{
    return (int)((px >> shift) & 0xff);
}

static int is_dark(uint32_t px)
{
    return channel(px, 16) + channel(px, 8) + channel(px, 0) < 3 * 128;
}

/* The width and height a PNG's header states. */
static void png_size(const idm_buffer_t *png, unsigned *w, unsigned *h)
{
    ck_assert_uint_ge(png->len, 24);
    ck_assert_int_eq(memcmp(png->data + 1, "PNG", 3), 0);
    const unsigned char *p = png->data + 16;
    *w = (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
    p += 4;
    *h = (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

/* The pixels whose square lies wholly outside the box that are not white,
 * and the bounding box of the non-white pixels inside it. */
struct ink {
    long outside;
    long inside;
    int x0, y0, x1, y1; /* inclusive; x0 > x1 when no ink */
};

static struct ink ink_of(cairo_surface_t *s, const struct idm_layout_box *box)
{
    /* the face fills the image (a landscape one here) */
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    double sx = w / IDM_CARD_WIDTH_MM, sy = h / IDM_CARD_HEIGHT_MM;
    double bx0 = box->x * sx, by0 = box->y * sy;
    double bx1 = (box->x + box->width) * sx, by1 = (box->y + box->height) * sy;
    struct ink ink = {0, 0, INT_MAX, INT_MAX, -1, -1};
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            if (pixel(s, x, y) == WHITE)
                continue;
            if (x + 1 <= bx0 || x >= bx1 || y + 1 <= by0 || y >= by1) {
                ink.outside++;
                continue;
            }
            ink.inside++;
            ink.x0 = x < ink.x0 ? x : ink.x0;
            ink.y0 = y < ink.y0 ? y : ink.y0;
            ink.x1 = x > ink.x1 ? x : ink.x1;
            ink.y1 = y > ink.y1 ? y : ink.y1;
        }
    }
    return ink;
}

/* ---- reference images ------------------------------------------------------------ */

/* The largest channel difference between two pixels. */
static int pixel_distance(uint32_t a, uint32_t b)
{
    int worst = 0;
    for (int shift = 0; shift < 32; shift += 8) {
        int d = abs(channel(a, shift) - channel(b, shift));
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* The pixels of a that no pixel of b within one pixel comes within 64 of:
 * what a shift of a fraction of a pixel cannot explain. */
static long unexplained(cairo_surface_t *a, cairo_surface_t *b)
{
    int w = cairo_image_surface_get_width(a), h = cairo_image_surface_get_height(a);
    long count = 0;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int best = 255;
            for (int dy = -1; dy <= 1 && best > 64; dy++) {
                for (int dx = -1; dx <= 1 && best > 64; dx++) {
                    if (x + dx < 0 || x + dx >= w || y + dy < 0 || y + dy >= h)
                        continue;
                    int d = pixel_distance(pixel(a, x, y), pixel(b, x + dx, y + dy));
                    best = d < best ? d : best;
                }
            }
            count += best > 64;
        }
    }
    return count;
}

static void check_reference(const char *name, const idm_buffer_t *png)
{
    char path[PATH_MAX];
    reference_path(name, path, sizeof path);
    const char *update = getenv("IDM_RENDER_UPDATE_REFERENCES");
    if (update != NULL && strcmp(update, "1") == 0) {
        fixture_write_file(path, png->data, png->len);
        printf("# rewrote %s\n", path);
        return;
    }
    size_t len = 0;
    unsigned char *ref_bytes = fixture_read_file(path, &len);
    ck_assert_msg(ref_bytes != NULL, "cannot read the reference %s: %s", path, strerror(errno));
    cairo_surface_t *want = png_pixels(ref_bytes, len);
    cairo_surface_t *got = png_pixels(png->data, png->len);
    int w = cairo_image_surface_get_width(want), h = cairo_image_surface_get_height(want);
    ck_assert_int_eq(cairo_image_surface_get_width(got), w);
    ck_assert_int_eq(cairo_image_surface_get_height(got), h);
    double sum = 0;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint32_t a = pixel(want, x, y), b = pixel(got, x, y);
            for (int shift = 0; shift < 32; shift += 8)
                sum += abs(channel(a, shift) - channel(b, shift));
        }
    }
    double mean = sum / (4.0 * w * h);
    long missing = unexplained(want, got), added = unexplained(got, want);
    long allowed = (long)w * h / 2000; /* 0.05% */
    char actual[PATH_MAX];
    scratch_path(name, actual, sizeof actual - 16);
    strcat(actual, ".actual.png");
    int same = mean < 2.0 && missing <= allowed && added <= allowed;
    if (!same)
        fixture_write_file(actual, png->data, png->len);
    ck_assert_msg(same,
                  "%s differs from its reference: mean difference %.3f; %ld pixels of the "
                  "reference and %ld of the rendering have no match nearby (%ld allowed); "
                  "the rendering is in %s",
                  name, mean, missing, added, allowed, actual);
    cairo_surface_destroy(want);
    cairo_surface_destroy(got);
    free(ref_bytes);
}

/*
 * The card the references show: an organisation line, a logo, the photo,
 * the name (12 pt bold, one line, shrinking to 7 pt, then an ellipsis), the
 * card number and a Code 128 barcode of it.
 */
struct card_values {
    struct idm_render_value v[5];
};

static void standard_front(struct test_layout *t, unsigned char *logo, size_t logo_len)
{
    layout_init(t, 0, 1);
    struct idm_layout_element *org =
        add_text(t, IDM_FACE_FRONT, "ACME Corporation", 4, 2.5, 50, 6, 9);
    org->color = (struct idm_layout_color){0.1, 0.2, 0.6, 1};
    org->bold = 1;
    struct idm_layout_element *logo_el =
        add_element(t, IDM_FACE_FRONT, IDM_LAYOUT_IMAGE, 62, 2, 20, 8);
    logo_el->image = (struct idm_layout_image){(char *)"logo.png", logo, logo_len};
    add_element(t, IDM_FACE_FRONT, IDM_LAYOUT_PHOTO, 4, 12, 22, 29)->fit = IDM_FIT_COVER;
    struct idm_layout_element *name =
        add_text(t, IDM_FACE_FRONT, "${givenName} ${surname}", 30, 12, 51.6, 8, 12);
    name->bold = 1;
    name->min_font_size = 7;
    add_text(t, IDM_FACE_FRONT, "No. ${card.number}", 30, 21, 51.6, 5, 8)->color =
        (struct idm_layout_color){0.3, 0.3, 0.3, 1};
    struct idm_layout_element *bar =
        add_element(t, IDM_FACE_FRONT, IDM_LAYOUT_BARCODE, 30, 30, 51.6, 14);
    bar->human_readable = 1;
    struct idm_layout_element *back_text = add_text(
        t, IDM_FACE_BACK,
        "This card remains the property of ACME Corporation. If found, please return it to "
        "any ACME office or post it to ACME Security, 1 Main Street, Springfield.",
        4, 6, 50, 20, 8);
    back_text->max_lines = 4;
    back_text->valign = IDM_VALIGN_TOP;
    struct idm_layout_element *qr =
        add_element(t, IDM_FACE_BACK, IDM_LAYOUT_BARCODE, 60, 4, 22, 22);
    qr->symbology = IDM_BARCODE_QR;
    qr->data = (char *)"https://id.example/card/${card.number}";
    add_text(t, IDM_FACE_BACK, "${upn}", 4, 44, 78, 5, 8)->align = IDM_ALIGN_END;
}

static void card_values(struct card_values *cv, const char *given, const char *surname,
                        const char *photo)
{
    cv->v[0] = (struct idm_render_value){"givenName", given};
    cv->v[1] = (struct idm_render_value){"surname", surname};
    cv->v[2] = (struct idm_render_value){"card.number", "IDM-000042"};
    cv->v[3] = (struct idm_render_value){"photo", photo};
    cv->v[4] = (struct idm_render_value){"upn", "anna.schmidt@acme.example"};
}

static void check_card_reference(const char *name, const char *given, const char *surname,
                                 const char *photo, idm_card_face face)
{
    size_t logo_len = 0;
    unsigned char *logo = logo_png(&logo_len);
    struct test_layout t;
    standard_front(&t, logo, logo_len);
    struct card_values cv;
    card_values(&cv, given, surname, photo);
    idm_buffer_t *png = render(&t.layout, cv.v, 5, face, IDM_RENDER_PNG, REF_DPI);
    check_reference(name, png);
    idm_buffer_free(&png);
    free(logo);
}

/* ---- sizes and refusals --------------------------------------------------------- */

static void check_png_size(int portrait, unsigned dpi, unsigned want_w, unsigned want_h)
{
    struct test_layout t;
    layout_init(&t, portrait, 0);
    add_text(&t, IDM_FACE_FRONT, "Anna", 5, 5, 40, 10, 10);
    idm_buffer_t *png = render(&t.layout, NULL, 0, IDM_FACE_FRONT, IDM_RENDER_PNG, dpi);
    unsigned w = 0, h = 0;
    png_size(png, &w, &h);
    ck_assert_msg(w == want_w && h == want_h, "%s at %u dpi: %u x %u, expected %u x %u",
                  portrait ? "portrait" : "landscape", dpi, w, h, want_w, want_h);
    idm_buffer_free(&png);
}

START_TEST(test_png_size_is_card_size_at_the_resolution)
{
    check_png_size(0, 300, 1011, 638);
    check_png_size(1, 300, 638, 1011);
    check_png_size(0, 600, 2022, 1275);
    check_png_size(0, 72, 243, 153);
    check_png_size(1, 1200, 2550, 4044);
}
END_TEST

START_TEST(test_resolution_outside_72_to_1200_refused)
{
    struct test_layout t;
    layout_init(&t, 0, 0);
    idm_buffer_t *out = NULL;
    ck_ok(idm_buffer_new(&out));
    ck_ok(idm_buffer_set(out, "old", 3));
    ck_assert_idm_error(idm_render(&t.layout, NULL, 0, IDM_FACE_FRONT, IDM_RENDER_PNG, 71, out),
                        IDM_ERR_INVALID_ARG, "71 dpi");
    ck_assert_idm_error(idm_render(&t.layout, NULL, 0, IDM_FACE_FRONT, IDM_RENDER_PNG, 1201, out),
                        IDM_ERR_INVALID_ARG, "1201 dpi");
    ck_assert_idm_error(idm_render(&t.layout, NULL, 0, IDM_FACE_FRONT, IDM_RENDER_PNG, 0, out),
                        IDM_ERR_INVALID_ARG, "72..1200");
    /* a refusal leaves the output as it was */
    ck_assert_uint_eq(out->len, 3);
    ck_assert_int_eq(memcmp(out->data, "old", 3), 0);
    /* the PDF has no resolution to refuse */
    ck_ok(idm_render(&t.layout, NULL, 0, IDM_FACE_FRONT, IDM_RENDER_PDF, 0, out));
    idm_buffer_free(&out);
}
END_TEST

START_TEST(test_face_the_layout_lacks_refused)
{
    struct test_layout t;
    layout_init(&t, 0, 0);
    idm_buffer_t *out = NULL;
    ck_ok(idm_buffer_new(&out));
    ck_assert_idm_error(idm_render(&t.layout, NULL, 0, IDM_FACE_BACK, IDM_RENDER_PNG, 300, out),
                        IDM_ERR_INVALID_ARG, "has no back");
    ck_assert_idm_error(idm_render(&t.layout, NULL, 0, (idm_card_face)2, IDM_RENDER_PNG, 300, out),
                        IDM_ERR_INVALID_ARG, "face 2");
    ck_assert_uint_eq(out->len, 0);
    idm_buffer_free(&out);
}
END_TEST

/* ---- PDF ----------------------------------------------------------------------------- */

/* The first line of a command's output that starts with prefix, after it. */
static int command_line(const char *cmd, const char *prefix, char *out, size_t size)
{
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, p) != NULL) {
        if (!found && strncmp(line, prefix, strlen(prefix)) == 0) {
            snprintf(out, size, "%s", line + strlen(prefix));
            out[strcspn(out, "\n")] = '\0';
            found = 1;
        }
    }
    ck_assert_msg(pclose(p) == 0, "%s failed (poppler-utils installed?)", cmd);
    return found;
}

static void write_scratch(const char *name, const idm_buffer_t *b, char *path, size_t size)
{
    scratch_path(name, path, size);
    fixture_write_file(path, b->data, b->len);
}

START_TEST(test_pdf_has_a_card_sized_page_per_face)
{
    size_t logo_len = 0;
    unsigned char *logo = logo_png(&logo_len);
    struct test_layout t;
    standard_front(&t, logo, logo_len);
    struct card_values cv;
    card_values(&cv, "Anna", "Schmidt", NULL);
    idm_buffer_t *pdf = render(&t.layout, cv.v, 5, IDM_FACE_FRONT, IDM_RENDER_PDF, 0);
    ck_assert_int_eq(memcmp(pdf->data, "%PDF-", 5), 0);
    char path[PATH_MAX], cmd[PATH_MAX + 64], value[256];
    write_scratch("two-faces.pdf", pdf, path, sizeof path);
    FORMAT(cmd, sizeof cmd, "pdfinfo '%s'", path);
    ck_assert(command_line(cmd, "Pages:", value, sizeof value));
    ck_assert_int_eq(atoi(value), 2);
    ck_assert(command_line(cmd, "Page size:", value, sizeof value));
    double w = 0, h = 0;
    ck_assert_int_eq(sscanf(value, " %lf x %lf pts", &w, &h), 2);
    ck_assert_msg(fabs(w - 242.65) < 0.01 && fabs(h - 153.01) < 0.01,
                  "page size %s, expected 242.65 x 153.01 pts", value);
    ck_assert(command_line(cmd, "Title:", value, sizeof value));
    ck_assert_str_eq(value + strspn(value, " "), "card");
    idm_buffer_free(&pdf);

    /* without a back, one page */
    t.layout.faces[IDM_FACE_BACK].present = 0;
    pdf = render(&t.layout, cv.v, 5, IDM_FACE_FRONT, IDM_RENDER_PDF, 0);
    write_scratch("front-only.pdf", pdf, path, sizeof path);
    FORMAT(cmd, sizeof cmd, "pdfinfo '%s'", path);
    ck_assert(command_line(cmd, "Pages:", value, sizeof value));
    ck_assert_int_eq(atoi(value), 1);
    idm_buffer_free(&pdf);
    free(logo);
}
END_TEST

/* Whether pdftotext finds needle in the PDF's text. */
static int pdf_text_has(const char *path, const char *needle)
{
    char cmd[PATH_MAX + 64], line[1024];
    FORMAT(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s' -", path);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    int found = 0;
    while (fgets(line, sizeof line, p) != NULL)
        found |= strstr(line, needle) != NULL;
    ck_assert_msg(pclose(p) == 0, "%s failed", cmd);
    return found;
}

START_TEST(test_pdf_keeps_name_and_number_as_text)
{
    size_t logo_len = 0;
    unsigned char *logo = logo_png(&logo_len);
    struct test_layout t;
    standard_front(&t, logo, logo_len);
    struct card_values cv;
    card_values(&cv, "Zoë", "Ångström-Łukasiewicz", NULL);
    idm_buffer_t *pdf = render(&t.layout, cv.v, 5, IDM_FACE_FRONT, IDM_RENDER_PDF, 0);
    char path[PATH_MAX];
    write_scratch("text.pdf", pdf, path, sizeof path);
    ck_assert_msg(pdf_text_has(path, "Zoë Ångström-Łukasiewicz"), "no name in %s", path);
    ck_assert_msg(pdf_text_has(path, "No. IDM-000042"), "no card number in %s", path);
    ck_assert_msg(pdf_text_has(path, "If found, please return it to"), "no back text in %s", path);
    idm_buffer_free(&pdf);
    free(logo);
}
END_TEST

/* How many times the bytes hold needle. */
static int count_in(const idm_buffer_t *b, const char *needle)
{
    size_t n = strlen(needle);
    int count = 0;
    for (size_t i = 0; i + n <= b->len; i++)
        count += memcmp(b->data + i, needle, n) == 0;
    return count;
}

START_TEST(test_pdf_embeds_a_jpeg_photo_as_it_is)
{
    char jpg[PATH_MAX], png[PATH_MAX];
    photo_file("jpg", jpg, sizeof jpg);
    photo_file("png", png, sizeof png);
    struct test_layout t;
    layout_init(&t, 0, 0);
    add_element(&t, IDM_FACE_FRONT, IDM_LAYOUT_PHOTO, 4, 12, 22, 29);
    struct idm_render_value v = {"photo", jpg};
    idm_buffer_t *pdf = render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PDF, 0);
    ck_assert_int_eq(count_in(pdf, "/DCTDecode"), 1);
    size_t jpeg_pdf = pdf->len;
    idm_buffer_free(&pdf);
    v.value = png;
    pdf = render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PDF, 0);
    ck_assert_int_eq(count_in(pdf, "/DCTDecode"), 0);
    printf("# PDF with a 240 x 300 photo: %zu bytes from JPEG, %zu bytes from PNG\n", jpeg_pdf,
           pdf->len);
    idm_buffer_free(&pdf);
}
END_TEST

START_TEST(test_pdf_holds_an_image_once_for_both_faces)
{
    char jpg[PATH_MAX];
    photo_file("jpg", jpg, sizeof jpg);
    size_t logo_len = 0;
    unsigned char *logo = logo_png(&logo_len);
    struct test_layout t;
    layout_init(&t, 0, 1);
    for (int f = IDM_FACE_FRONT; f <= IDM_FACE_BACK; f++) {
        add_element(&t, (idm_card_face)f, IDM_LAYOUT_PHOTO, 4, 12, 22, 29);
        add_element(&t, (idm_card_face)f, IDM_LAYOUT_IMAGE, 62, 2, 20, 8)->image =
            (struct idm_layout_image){(char *)"logo.png", logo, logo_len};
    }
    struct idm_render_value v = {"photo", jpg};
    idm_buffer_t *pdf = render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PDF, 0);
    /* the photo as JPEG once; the logo once, as pixels and their alpha */
    ck_assert_int_eq(count_in(pdf, "/DCTDecode"), 1);
    ck_assert_int_eq(count_in(pdf, "/Subtype /Image"), 3);
    idm_buffer_free(&pdf);
    free(logo);
}
END_TEST

/* ---- reference images -------------------------------------------------------------- */

START_TEST(test_reference_plain_name_with_png_photo)
{
    char photo[PATH_MAX];
    photo_file("png", photo, sizeof photo);
    check_card_reference("plain-name", "Anna", "Schmidt", photo, IDM_FACE_FRONT);
}
END_TEST

START_TEST(test_reference_accented_name_shrinks_with_jpeg_photo)
{
    char photo[PATH_MAX];
    photo_file("jpg", photo, sizeof photo);
    check_card_reference("accented-name", "Zoë", "Ångström-Łukasiewicz", photo, IDM_FACE_FRONT);
}
END_TEST

static const char long_given[] = "Maximiliane Alexandra";
static const char long_surname[] = "Konstantinopoulou-Wittgenstein von Hohenzollern-Sigmaringen";

START_TEST(test_reference_long_name_ellipsized_at_min_size)
{
    char photo[PATH_MAX];
    photo_file("png", photo, sizeof photo);
    check_card_reference("long-name", long_given, long_surname, photo, IDM_FACE_FRONT);
}
END_TEST

START_TEST(test_reference_hebrew_name_starts_at_the_right)
{
    char photo[PATH_MAX];
    photo_file("png", photo, sizeof photo);
    check_card_reference("hebrew-name", "שרה", "כהן", photo, IDM_FACE_FRONT);
}
END_TEST

START_TEST(test_reference_arabic_name_starts_at_the_right)
{
    char photo[PATH_MAX];
    photo_file("png", photo, sizeof photo);
    check_card_reference("arabic-name", "محمد", "عبد الله", photo, IDM_FACE_FRONT);
}
END_TEST

START_TEST(test_reference_missing_photo_drawn_as_placeholder)
{
    char photo[PATH_MAX];
    scratch_path("no-such-photo.jpg", photo, sizeof photo);
    check_card_reference("missing-photo", "Anna", "Schmidt", photo, IDM_FACE_FRONT);
}
END_TEST

START_TEST(test_reference_back_with_qr_code)
{
    check_card_reference("back", "Anna", "Schmidt", NULL, IDM_FACE_BACK);
}
END_TEST

/* ---- text stays in its box ------------------------------------------------------------ */

/* The words pdftotext finds in a PDF's first page with their boxes (pt). */
struct pdf_word {
    double x0, y0, x1, y1;
};

static size_t pdf_words(const idm_buffer_t *pdf, struct pdf_word *words, size_t cap)
{
    char path[PATH_MAX], cmd[PATH_MAX + 64], line[4096];
    write_scratch("words.pdf", pdf, path, sizeof path);
    FORMAT(cmd, sizeof cmd, "pdftotext -bbox -l 1 '%s' -", path);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    size_t n = 0;
    while (fgets(line, sizeof line, p) != NULL) {
        struct pdf_word w;
        if (sscanf(line, " <word xMin=\"%lf\" yMin=\"%lf\" xMax=\"%lf\" yMax=\"%lf\"", &w.x0, &w.y0,
                   &w.x1, &w.y1) == 4 &&
            n < cap)
            words[n++] = w;
    }
    ck_assert_msg(pclose(p) == 0, "%s failed (poppler-utils installed?)", cmd);
    return n;
}

/*
 * One text element on a white face.  In the PNG, no pixel outside its box
 * and some text inside it.  In the PDF, where the clip does not hide what
 * was laid out, every word pdftotext finds lies inside the box (its box is
 * the font's line height by the glyphs' advance, as pango's is) on at most
 * max_lines lines: the text was made to fit, not cut by the clip.
 */
static void check_text_in_box(const char *text, int max_lines, enum idm_layout_overflow overflow,
                              enum idm_layout_align align, double min_size, struct faults *f)
{
    const unsigned dpi = 300;
    if (f->count >= 8)
        return; /* enough to see what is wrong, and short enough for Check */
    struct test_layout t;
    layout_init(&t, 0, 0);
    struct idm_layout_element *el = add_text(&t, IDM_FACE_FRONT, "${name}", 30, 12, 50, 9, 12);
    el->bold = 1;
    el->max_lines = max_lines;
    el->overflow = overflow;
    el->align = align;
    el->min_font_size = min_size;
    struct idm_render_value v = {"name", text};
    char shown[64];
    idm_text_shown(text, shown, sizeof shown);

    idm_buffer_t *png = render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PNG, dpi);
    cairo_surface_t *s = png_pixels(png->data, png->len);
    struct ink ink = ink_of(s, &el->box);
    if (ink.outside != 0)
        fault(f, "'%s' (%d lines): %ld pixels outside the box;", shown, max_lines, ink.outside);
    if (ink.inside < 200)
        fault(f, "'%s' (%d lines): only %ld pixels of text;", shown, max_lines, ink.inside);
    cairo_surface_destroy(s);
    idm_buffer_free(&png);

    idm_buffer_t *pdf = render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PDF, 0);
    struct pdf_word words[256];
    size_t n = pdf_words(pdf, words, 256);
    const double pt = 72 / 25.4, tol = 0.3;
    double bx0 = el->box.x * pt, by0 = el->box.y * pt;
    double bx1 = (el->box.x + el->box.width) * pt, by1 = (el->box.y + el->box.height) * pt;
    double tops[256];
    size_t lines = 0;
    if (n == 0)
        fault(f, "'%s' (%d lines): no word in the PDF;", shown, max_lines);
    for (size_t i = 0; i < n; i++) {
        const struct pdf_word *w = &words[i];
        if (w->x0 < bx0 - tol || w->x1 > bx1 + tol || w->y0 < by0 - tol || w->y1 > by1 + tol) {
            fault(f,
                  "'%s' (%d lines): a word at %.2f,%.2f..%.2f,%.2f pt leaves the box "
                  "%.2f,%.2f..%.2f,%.2f;",
                  shown, max_lines, w->x0, w->y0, w->x1, w->y1, bx0, by0, bx1, by1);
            break;
        }
        size_t k = 0;
        while (k < lines && fabs(tops[k] - w->y0) > 0.5)
            k++;
        if (k == lines)
            tops[lines++] = w->y0;
    }
    if (lines > (size_t)max_lines)
        fault(f, "'%s': %zu lines, at most %d allowed;", shown, lines, max_lines);
    idm_buffer_free(&pdf);
}

START_TEST(test_long_names_render_without_overflow)
{
    char long_name[256];
    snprintf(long_name, sizeof long_name, "%s %s", long_given, long_surname);
    /* 500 characters, one word of them 120 long: broken inside the word */
    char huge[600] = "";
    while (strlen(huge) < 380)
        strcat(huge, "Wolfeschlegelsteinhausen ");
    memset(huge + strlen(huge), 'W', 500 - strlen(huge));
    huge[500] = '\0';
    const char *rtl_long = "محمد بن عبد الرحمن بن عبد العزيز بن عبد الله آل سعود الفيصل";
    const char *hebrew_long = "שרה רבקה רחל לאה כהן-לוינסון בן-גוריון מרכוס ויינשטיין";
    /* line breaks in a value: paragraphs, each of which pango would give
     * the lines a negative height allows */
    const char *broken = "Forschung und Entwicklung\nStandort Nord\nGebäude 7\nRaum 0.12";
    const char *names[] = {long_name,   huge,   rtl_long,
                           hebrew_long, broken, "Zoë Ångström-Łukasiewicz"};
    struct faults f = {0};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (int lines = 1; lines <= 3; lines++) {
            check_text_in_box(names[i], lines, IDM_OVERFLOW_SHRINK, IDM_ALIGN_START, 6, &f);
            check_text_in_box(names[i], lines, IDM_OVERFLOW_ELLIPSIZE, IDM_ALIGN_END, 6, &f);
        }
        check_text_in_box(names[i], 8, IDM_OVERFLOW_SHRINK, IDM_ALIGN_CENTER, 4, &f);
    }
    ck_assert_no_faults(&f);
}
END_TEST

/* The horizontal extent of the ink of one text element on a white face. */
static struct ink text_ink(const char *text, enum idm_layout_align align)
{
    struct test_layout t;
    layout_init(&t, 0, 0);
    struct idm_layout_element *el = add_text(&t, IDM_FACE_FRONT, "${name}", 10, 10, 60, 10, 12);
    el->align = align;
    struct idm_render_value v = {"name", text};
    idm_buffer_t *png = render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PNG, 300);
    cairo_surface_t *s = png_pixels(png->data, png->len);
    struct ink ink = ink_of(s, &el->box);
    cairo_surface_destroy(s);
    idm_buffer_free(&png);
    return ink;
}

START_TEST(test_start_alignment_follows_text_direction)
{
    const double ppm = 300 / 25.4;
    const int left = (int)(10 * ppm), right = (int)(70 * ppm), slack = (int)(3 * ppm);
    struct {
        const char *text;
        enum idm_layout_align align;
        int at_right;
    } rows[] = {
        {"Anna Schmidt", IDM_ALIGN_START, 0},  {"Anna Schmidt", IDM_ALIGN_END, 1},
        {"שרה כהן", IDM_ALIGN_START, 1},       {"שרה כהן", IDM_ALIGN_END, 0},
        {"محمد عبد الله", IDM_ALIGN_START, 1}, {"محمد عبد الله", IDM_ALIGN_END, 0},
    };
    struct faults f = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct ink ink = text_ink(rows[i].text, rows[i].align);
        int ok = rows[i].at_right ? ink.x1 > right - slack && ink.x0 > left + 4 * slack
                                  : ink.x0 < left + slack && ink.x1 < right - 4 * slack;
        if (!ok)
            fault(&f, "'%s' %s: ink x %d..%d in a box %d..%d, expected at the %s;", rows[i].text,
                  rows[i].align == IDM_ALIGN_START ? "start" : "end", ink.x0, ink.x1, left, right,
                  rows[i].at_right ? "right" : "left");
    }
    /* centred: equal margins within a pixel or two */
    struct ink c = text_ink("שרה כהן", IDM_ALIGN_CENTER);
    if (abs((c.x0 - left) - (right - c.x1)) > 3)
        fault(&f, "centred ink x %d..%d in a box %d..%d;", c.x0, c.x1, left, right);
    ck_assert_no_faults(&f);
}
END_TEST

START_TEST(test_text_shrinks_before_it_ellipsizes)
{
    /* the same name at 12 pt, shrunk and ellipsized: shrinking keeps every
     * letter (the ink is wider), ellipsizing at 12 pt cuts it */
    struct test_layout t;
    layout_init(&t, 0, 0);
    struct idm_layout_element *el = add_text(&t, IDM_FACE_FRONT, "${name}", 10, 10, 60, 10, 12);
    struct idm_render_value v = {"name", "Zoë Ångström-Łukasiewicz Nowak"};
    idm_buffer_t *shrunk = render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PNG, 300);
    el->overflow = IDM_OVERFLOW_ELLIPSIZE;
    idm_buffer_t *cut = render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PNG, 300);
    cairo_surface_t *a = png_pixels(shrunk->data, shrunk->len);
    cairo_surface_t *b = png_pixels(cut->data, cut->len);
    struct ink ia = ink_of(a, &el->box), ib = ink_of(b, &el->box);
    /* shrunk: shorter glyphs; ellipsized: full height, and ending in "…" */
    ck_assert_int_lt(ia.y1 - ia.y0, ib.y1 - ib.y0);
    ck_assert_int_gt(ia.x1 - ia.x0, (int)(55 * 300 / 25.4));
    cairo_surface_destroy(a);
    cairo_surface_destroy(b);
    idm_buffer_free(&shrunk);
    idm_buffer_free(&cut);
}
END_TEST

START_TEST(test_line_breaks_in_a_value_survive_the_ellipsis)
{
    /* four lines in a box that allows three: the third ends in "…" where
     * the fourth was, not with the fourth run into it */
    struct test_layout t;
    layout_init(&t, 0, 0);
    struct idm_layout_element *el = add_text(&t, IDM_FACE_FRONT, "${address}", 30, 12, 50, 14, 12);
    el->max_lines = 3;
    struct idm_render_value v = {
        "address", "Forschung und Entwicklung\r\nStandort Nord\nGebäude 7\nRaum 0.12"};
    idm_buffer_t *pdf = render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PDF, 0);
    char path[PATH_MAX];
    write_scratch("address.pdf", pdf, path, sizeof path);
    ck_assert_msg(pdf_text_has(path, "Standort Nord"), "no second line in %s", path);
    ck_assert_msg(pdf_text_has(path, "Gebäude 7…"), "no ellipsis after the third line in %s", path);
    ck_assert_msg(!pdf_text_has(path, "Raum"), "the fourth line is in %s", path);
    struct pdf_word words[32];
    size_t n = pdf_words(pdf, words, 32);
    double tops[4] = {0};
    size_t lines = 0;
    for (size_t i = 0; i < n && lines < 4; i++) {
        if (lines == 0 || fabs(tops[lines - 1] - words[i].y0) > 0.5)
            tops[lines++] = words[i].y0;
    }
    ck_assert_uint_eq(lines, 3);
    idm_buffer_free(&pdf);
}
END_TEST

START_TEST(test_same_card_renders_to_the_same_bytes)
{
    size_t logo_len = 0;
    unsigned char *logo = logo_png(&logo_len);
    struct test_layout t;
    standard_front(&t, logo, logo_len);
    struct card_values cv;
    card_values(&cv, "Zoë", "Ångström-Łukasiewicz", NULL);
    idm_buffer_t *a = render(&t.layout, cv.v, 5, IDM_FACE_FRONT, IDM_RENDER_PNG, 300);
    idm_buffer_t *b = render(&t.layout, cv.v, 5, IDM_FACE_FRONT, IDM_RENDER_PNG, 300);
    ck_assert_uint_eq(a->len, b->len);
    ck_assert_int_eq(memcmp(a->data, b->data, a->len), 0);
    idm_buffer_free(&a);
    idm_buffer_free(&b);
    free(logo);
}
END_TEST

/* ---- photos ------------------------------------------------------------------------- */

/* The front with the photo element alone, from value (NULL: no value). */
static idm_buffer_t *photo_face(const char *photo_dir, const char *value)
{
    struct test_layout t;
    layout_init(&t, 0, 0);
    t.layout.photo_dir = (char *)photo_dir;
    add_element(&t, IDM_FACE_FRONT, IDM_LAYOUT_PHOTO, 4, 12, 22, 29);
    struct idm_render_value v = {"photo", value};
    return render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PNG, REF_DPI);
}

static int same_bytes(const idm_buffer_t *a, const idm_buffer_t *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

START_TEST(test_unusable_photo_drawn_as_placeholder)
{
    char truncated[PATH_MAX], garbage[PATH_MAX], missing[PATH_MAX], good[PATH_MAX];
    photo_file("truncated.jpg", truncated, sizeof truncated);
    photo_file("garbage.png", garbage, sizeof garbage);
    photo_file("png", good, sizeof good);
    scratch_path("missing.png", missing, sizeof missing);
    idm_buffer_t *placeholder = photo_face(NULL, NULL);
    idm_buffer_t *with_photo = photo_face(NULL, good);
    ck_assert(!same_bytes(placeholder, with_photo));
    /* the placeholder's silhouette: darker than its ground in the middle */
    cairo_surface_t *s = png_pixels(placeholder->data, placeholder->len);
    double ppm = REF_DPI / 25.4;
    uint32_t ground = pixel(s, (int)(5 * ppm), (int)(13 * ppm));
    uint32_t body = pixel(s, (int)(15 * ppm), (int)(40 * ppm));
    uint32_t head = pixel(s, (int)(15 * ppm), (int)((41 - 0.62 * 22) * ppm));
    ck_assert_int_lt(channel(body, 8), channel(ground, 8) - 40);
    ck_assert_int_lt(channel(head, 8), channel(ground, 8) - 40);
    ck_assert_uint_eq(pixel(s, (int)(30 * ppm), (int)(20 * ppm)), WHITE);
    cairo_surface_destroy(s);
    const char *bad[] = {"", truncated, garbage, missing, "/", "/dev/zero", "relative/none.jpg"};
    struct faults f = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        idm_buffer_t *out = photo_face(scratch_dir(), bad[i]);
        if (!same_bytes(out, placeholder))
            fault(&f, "'%s' is not drawn as the placeholder;", bad[i]);
        idm_buffer_free(&out);
    }
    ck_assert_no_faults(&f);
    idm_buffer_free(&placeholder);
    idm_buffer_free(&with_photo);
}
END_TEST

START_TEST(test_relative_photo_path_resolves_in_photo_dir)
{
    char good[PATH_MAX];
    photo_file("png", good, sizeof good);
    idm_buffer_t *absolute = photo_face(NULL, good);
    idm_buffer_t *relative = photo_face(scratch_dir(), "png");
    ck_assert(same_bytes(absolute, relative));
    idm_buffer_free(&absolute);
    idm_buffer_free(&relative);
}
END_TEST

START_TEST(test_photo_fit_contain_and_cover)
{
    /* a 240 x 300 photo in a 40 x 20 mm box: contained, it keeps white
     * bands left and right; covering, it fills the box */
    char good[PATH_MAX];
    photo_file("png", good, sizeof good);
    struct test_layout t;
    layout_init(&t, 0, 0);
    struct idm_layout_element *el =
        add_element(&t, IDM_FACE_FRONT, IDM_LAYOUT_PHOTO, 10, 10, 40, 20);
    struct idm_render_value v = {"photo", good};
    struct faults f = {0};
    for (int cover = 0; cover <= 1; cover++) {
        el->fit = cover ? IDM_FIT_COVER : IDM_FIT_CONTAIN;
        idm_buffer_t *png = render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PNG, 300);
        cairo_surface_t *s = png_pixels(png->data, png->len);
        struct ink ink = ink_of(s, &el->box);
        double ppm = 300 / 25.4;
        double want_w = cover ? 40 : 20.0 * 240 / 300;
        if (ink.outside != 0)
            fault(&f, "fit %d: %ld pixels outside;", cover, ink.outside);
        if (fabs((ink.x1 - ink.x0 + 1) / ppm - want_w) > 0.2)
            fault(&f, "fit %d: %.2f mm wide, expected %.2f;", cover, (ink.x1 - ink.x0 + 1) / ppm,
                  want_w);
        if (fabs((ink.y1 - ink.y0 + 1) / ppm - 20) > 0.2)
            fault(&f, "fit %d: %.2f mm high, expected 20;", cover, (ink.y1 - ink.y0 + 1) / ppm);
        if (fabs((ink.x0 + ink.x1) / 2.0 / ppm - 30) > 0.2)
            fault(&f, "fit %d: not centred;", cover);
        cairo_surface_destroy(s);
        idm_buffer_free(&png);
    }
    ck_assert_no_faults(&f);
}
END_TEST

/* ---- the image decoder ---------------------------------------------------------------- */

START_TEST(test_image_decodes_png_and_jpeg)
{
    cairo_surface_t *src = portrait_surface();
    size_t plen = 0, jlen = 0;
    unsigned char *png = png_bytes(src, &plen), *jpg = jpeg_bytes(src, 95, &jlen);
    char why[128];
    cairo_surface_t *a = idm_image_decode(png, plen, why, sizeof why);
    ck_assert_msg(a != NULL, "PNG refused: %s", why);
    cairo_surface_t *b = idm_image_decode(jpg, jlen, why, sizeof why);
    ck_assert_msg(b != NULL, "JPEG refused: %s", why);
    ck_assert_int_eq(cairo_image_surface_get_width(a), 240);
    ck_assert_int_eq(cairo_image_surface_get_height(a), 300);
    ck_assert_int_eq(cairo_image_surface_get_width(b), 240);
    ck_assert_int_eq(cairo_image_surface_get_height(b), 300);
    ck_assert_int_eq(cairo_image_surface_get_format(b), CAIRO_FORMAT_RGB24);
    /* the JPEG's pixels are the picture's, within its loss */
    const int pts[][2] = {{120, 130}, {10, 10}, {120, 290}, {98, 135}, {200, 250}};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        uint32_t want = pixel(src, pts[i][0], pts[i][1]), got = pixel(b, pts[i][0], pts[i][1]);
        for (int shift = 0; shift < 24; shift += 8)
            ck_assert_msg(abs(channel(want, shift) - channel(got, shift)) < 24,
                          "pixel %d,%d: %06x, expected %06x", pts[i][0], pts[i][1], got & 0xffffff,
                          want & 0xffffff);
    }
    /* its bytes ride along for the PDF */
    const unsigned char *mime = NULL;
    unsigned long mime_len = 0;
    cairo_surface_get_mime_data(b, CAIRO_MIME_TYPE_JPEG, &mime, &mime_len);
    ck_assert_uint_eq(mime_len, jlen);
    ck_assert_int_eq(memcmp(mime, jpg, jlen), 0);
    cairo_surface_destroy(a);
    cairo_surface_destroy(b);
    cairo_surface_destroy(src);
    free(png);
    free(jpg);
}
END_TEST

START_TEST(test_image_refuses_damaged_and_foreign_bytes)
{
    cairo_surface_t *src = portrait_surface();
    size_t plen = 0, jlen = 0;
    unsigned char *png = png_bytes(src, &plen), *jpg = jpeg_bytes(src, 90, &jlen);
    unsigned char *flipped = malloc(jlen);
    ck_assert_ptr_nonnull(flipped);
    memcpy(flipped, jpg, jlen);
    for (size_t i = jlen / 3; i < jlen / 3 + 64; i++)
        flipped[i] ^= 0x5a;
    unsigned char *bad_png = malloc(plen);
    ck_assert_ptr_nonnull(bad_png);
    memcpy(bad_png, png, plen);
    for (size_t i = plen / 2; i < plen / 2 + 64; i++)
        bad_png[i] ^= 0x5a;
    static const unsigned char text[] = "GIF89a, or any text at all";
    struct {
        const char *what;
        const unsigned char *bytes;
        size_t len;
        const char *reason;
    } rows[] = {
        {"JPEG cut in half", jpg, jlen / 2, "JPEG"},
        {"JPEG cut after its header", jpg, 200, "JPEG"},
        {"JPEG with damaged data", flipped, jlen, "JPEG"},
        {"JPEG signature alone", jpg, 3, "JPEG"},
        {"PNG cut in half", png, plen / 2, "PNG"},
        {"PNG with damaged data", bad_png, plen, "PNG"},
        {"PNG signature alone", png, 8, "PNG"},
        {"not an image", text, sizeof text - 1, "neither PNG nor JPEG"},
        {"nothing", text, 0, "neither PNG nor JPEG"},
    };
    struct faults f = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char why[128] = "";
        cairo_surface_t *s = idm_image_decode(rows[i].bytes, rows[i].len, why, sizeof why);
        if (s != NULL) {
            fault(&f, "%s: decoded;", rows[i].what);
            cairo_surface_destroy(s);
        } else if (strstr(why, rows[i].reason) == NULL) {
            fault(&f, "%s: reason \"%s\" does not say \"%s\";", rows[i].what, why, rows[i].reason);
        }
    }
    ck_assert_no_faults(&f);
    free(flipped);
    free(bad_png);
    free(png);
    free(jpg);
    cairo_surface_destroy(src);
}
END_TEST

/* The offset of a JPEG's SOF0 marker segment. */
static size_t sof0(const unsigned char *jpg, size_t len)
{
    for (size_t i = 2; i + 9 < len; i++) {
        if (jpg[i] == 0xff && jpg[i + 1] == 0xc0)
            return i;
    }
    ck_abort_msg("no SOF0 in the JPEG");
    return 0;
}

START_TEST(test_image_refuses_absurd_sizes)
{
    cairo_surface_t *src = portrait_surface();
    size_t plen = 0, jlen = 0;
    unsigned char *png = png_bytes(src, &plen), *jpg = jpeg_bytes(src, 90, &jlen);
    char why[128];
    /* a header that claims 20000 pixels: refused before any pixel */
    png[16] = 0, png[17] = 0, png[18] = 0x4e, png[19] = 0x20;
    ck_assert_ptr_null(idm_image_decode(png, plen, why, sizeof why));
    ck_assert_msg(strstr(why, "20000 x 300") != NULL, "reason: %s", why);
    size_t at = sof0(jpg, jlen);
    jpg[at + 5] = 0x4e, jpg[at + 6] = 0x20; /* height */
    ck_assert_ptr_null(idm_image_decode(jpg, jlen, why, sizeof why));
    ck_assert_msg(strstr(why, "240 x 20000") != NULL, "reason: %s", why);
    /* more bytes than an image may have */
    size_t big = IDM_LAYOUT_MAX_IMAGE + 1;
    unsigned char *huge = calloc(1, big);
    ck_assert_ptr_nonnull(huge);
    memcpy(huge, jpg, 3);
    ck_assert_ptr_null(idm_image_decode(huge, big, why, sizeof why));
    ck_assert_msg(strstr(why, "8388609 bytes") != NULL, "reason: %s", why);
    free(huge);
    free(png);
    free(jpg);
    cairo_surface_destroy(src);
}
END_TEST

START_TEST(test_background_image_covers_the_face)
{
    cairo_surface_t *src = portrait_surface();
    size_t len = 0;
    unsigned char *png = png_bytes(src, &len);
    struct test_layout t;
    layout_init(&t, 0, 0);
    t.layout.faces[IDM_FACE_FRONT].background_image =
        (struct idm_layout_image){(char *)"backdrop.png", png, len};
    idm_buffer_t *out = render(&t.layout, NULL, 0, IDM_FACE_FRONT, IDM_RENDER_PNG, 150);
    char path[PATH_MAX];
    write_scratch("background.png", out, path, sizeof path);
    cairo_surface_t *s = png_pixels(out->data, out->len);
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    /* a portrait picture on a landscape face: scaled to its width, the
     * middle third of its height shown; the corners are the backdrop's
     * blue, the centre the face's skin */
    const int corners[][2] = {{0, 0}, {w - 1, 0}, {0, h - 1}, {w - 1, h - 1}};
    for (size_t i = 0; i < 4; i++) {
        uint32_t px = pixel(s, corners[i][0], corners[i][1]);
        ck_assert_msg(channel(px, 0) > channel(px, 16) + 60, "corner %zu is %06x, not blue", i,
                      px & 0xffffff);
    }
    uint32_t centre = pixel(s, w / 2, h / 2 - h / 10);
    ck_assert_msg(channel(centre, 16) > 200 && channel(centre, 0) < 180, "centre is %06x",
                  centre & 0xffffff);
    cairo_surface_destroy(s);
    idm_buffer_free(&out);
    /* bytes that do not decode: the layout's fault, named */
    t.layout.faces[IDM_FACE_FRONT].background_image.len = 40;
    ck_ok(idm_buffer_new(&out));
    ck_assert_idm_error(idm_render(&t.layout, NULL, 0, IDM_FACE_FRONT, IDM_RENDER_PDF, 0, out),
                        IDM_ERR_INVALID_ARG, "front.background: the image 'backdrop.png'");
    idm_buffer_free(&out);
    free(png);
    cairo_surface_destroy(src);
}
END_TEST

START_TEST(test_undecodable_logo_refused_with_its_path)
{
    struct test_layout t;
    layout_init(&t, 0, 0);
    struct idm_layout_element *logo =
        add_element(&t, IDM_FACE_FRONT, IDM_LAYOUT_IMAGE, 2, 2, 20, 8);
    static unsigned char junk[] = "\x89PNG\r\n\x1a\n not really";
    logo->image =
        (struct idm_layout_image){(char *)"/layouts/acme-logo.png", junk, sizeof junk - 1};
    idm_buffer_t *out = NULL;
    ck_ok(idm_buffer_new(&out));
    ck_assert_idm_error(idm_render(&t.layout, NULL, 0, IDM_FACE_FRONT, IDM_RENDER_PNG, 150, out),
                        IDM_ERR_INVALID_ARG,
                        "front.elements[0]: the image '/layouts/acme-logo.png'");
    idm_buffer_free(&out);
}
END_TEST

/* ---- Code 128 -------------------------------------------------------------------------- */

static void check_symbols(const char *data, const int *want, size_t nwant)
{
    int *got = NULL;
    size_t n = 0, bad = 0;
    ck_assert_int_eq(idm_code128_encode(data, strlen(data), &got, &n, &bad), 0);
    char text[512] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), " %d", got[i]);
    ck_assert_msg(n == nwant && memcmp(got, want, n * sizeof *got) == 0, "%s encoded as%s", data,
                  text);
    free(got);
}

START_TEST(test_code128_symbols_match_known_vectors)
{
    /* Start B, I D M -, Code C, 00 00 42, check (104 + 41 + 2*36 + 3*45 +
     * 4*13 + 5*99 + 8*42) mod 103 = 102, stop */
    const int idm[] = {104, 41, 36, 45, 13, 99, 0, 0, 42, 102, 106};
    check_symbols("IDM-000042", idm, sizeof idm / sizeof idm[0]);
    /* Start C, five pairs, check (105 + 12 + 2*34 + 3*56 + 4*78 + 5*90)
     * mod 103 = 85, stop */
    const int digits[] = {105, 12, 34, 56, 78, 90, 85, 106};
    check_symbols("1234567890", digits, sizeof digits / sizeof digits[0]);
    /* letters alone stay in code set B: check 3281 mod 103 = 88 */
    const int wiki[] = {104, 55, 73, 75, 73, 80, 69, 68, 73, 65, 88, 106};
    check_symbols("Wikipedia", wiki, sizeof wiki / sizeof wiki[0]);
    /* three digits are not worth a switch into C and back */
    const int short_run[] = {104, 33, 17, 18, 19, 34, 59, 106};
    check_symbols("A123B", short_run, sizeof short_run / sizeof short_run[0]);
}
END_TEST

START_TEST(test_code128_is_as_short_as_sets_b_and_c_allow)
{
    struct {
        const char *data;
        size_t symbols; /* with start, check and stop */
    } rows[] = {
        {"", 3},       {"1", 4},         {"12", 4},           {"12345", 7},
        {"123456", 6}, {"A1234", 7},     {"A12345", 8},       {"ABC123456", 10},
        {"1234AB", 8}, {"12ab34cd", 11}, {"000000000000", 9}, {"X99999999Y", 11},
    };
    struct faults f = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int *s = NULL;
        size_t n = 0, bad = 0;
        if (idm_code128_encode(rows[i].data, strlen(rows[i].data), &s, &n, &bad) != 0)
            fault(&f, "'%s' refused;", rows[i].data);
        else if (n != rows[i].symbols)
            fault(&f, "'%s': %zu symbols, expected %zu;", rows[i].data, n, rows[i].symbols);
        free(s);
    }
    ck_assert_no_faults(&f);
}
END_TEST

START_TEST(test_code128_refuses_bytes_outside_printable_ascii)
{
    int *s = (int *)&s;
    size_t n = 99, bad = 0;
    ck_assert_int_eq(idm_code128_encode("IDM-\xc3\xa9", 6, &s, &n, &bad), -1);
    ck_assert_uint_eq(bad, 4);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(idm_code128_encode("A\tB", 3, &s, &n, &bad), -1);
    ck_assert_uint_eq(bad, 1);
}
END_TEST

START_TEST(test_code128_modules_follow_the_patterns)
{
    const int symbols[] = {104, 33, 106};
    unsigned char modules[64];
    size_t n = idm_code128_modules(symbols, 3, modules, sizeof modules);
    ck_assert_uint_eq(n, 11 + 11 + 13);
    /* 104 = 211214, 33 = 111323, stop = 2331112 */
    const char *want = "11010010000"
                       "10100011000"
                       "1100011101011";
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(modules[i] == (want[i] == '1'), "module %zu", i);
    const int bad[] = {104, 107};
    ck_assert_uint_eq(idm_code128_modules(bad, 2, modules, sizeof modules), 0);
}
END_TEST

/*
 * A decoder of its own for one row of pixels: the runs of dark and light
 * between the first and the last bar, sized in modules from their total,
 * looked up in the pattern table, then the code sets and the check symbol.
 * Returns the data, or NULL with why.
 */
static char *decode_row(cairo_surface_t *s, int y, char *why, size_t why_size)
{
    int w = cairo_image_surface_get_width(s), first = -1, last = -1;
    for (int x = 0; x < w; x++) {
        if (is_dark(pixel(s, x, y))) {
            first = first < 0 ? x : first;
            last = x;
        }
    }
    if (first < 0) {
        snprintf(why, why_size, "no bar in row %d", y);
        return NULL;
    }
    int runs[1024], nruns = 0;
    for (int x = first; x <= last && nruns < 1024;) {
        int dark = is_dark(pixel(s, x, y)), len = 0;
        while (x <= last && is_dark(pixel(s, x, y)) == dark) {
            x++;
            len++;
        }
        runs[nruns++] = len;
    }
    if (nruns < 13 || (nruns - 7) % 6 != 0) {
        snprintf(why, why_size, "%d bars and spaces", nruns);
        return NULL;
    }
    int nsym = (nruns - 7) / 6;
    double module = (double)(last - first + 1) / (11.0 * nsym + 13);
    int values[200];
    for (int k = 0; k <= nsym; k++) {
        char pattern[8] = "";
        int elements = k < nsym ? 6 : 7;
        for (int e = 0; e < elements; e++)
            pattern[e] = (char)('0' + (int)lround(runs[6 * k + e] / module));
        values[k] = -1;
        for (int v = 0; v <= IDM_CODE128_STOP; v++) {
            if (strcmp(idm_code128_pattern(v), pattern) == 0)
                values[k] = v;
        }
        if (values[k] < 0) {
            snprintf(why, why_size, "symbol %d reads %s", k, pattern);
            return NULL;
        }
    }
    if (values[nsym] != IDM_CODE128_STOP) {
        snprintf(why, why_size, "no stop");
        return NULL;
    }
    long sum = values[0];
    for (int k = 1; k < nsym - 1; k++)
        sum += (long)k * values[k];
    if (sum % 103 != values[nsym - 1]) {
        snprintf(why, why_size, "check symbol %d, computed %ld", values[nsym - 1], sum % 103);
        return NULL;
    }
    char *out = calloc(2 * (size_t)nsym + 1, 1);
    ck_assert_ptr_nonnull(out);
    int set_c = values[0] == IDM_CODE128_START_C;
    size_t n = 0;
    for (int k = 1; k < nsym - 1; k++) {
        int v = values[k];
        if (v == IDM_CODE128_CODE_C || v == IDM_CODE128_CODE_B) {
            set_c = v == IDM_CODE128_CODE_C;
        } else if (set_c) {
            out[n++] = (char)('0' + v / 10);
            out[n++] = (char)('0' + v % 10);
        } else {
            out[n++] = (char)(v + 32);
        }
    }
    return out;
}

/* zbarimg's reading of a PNG (raw data), or "" when it finds no code. */
static void zbar_read(const char *path, char *out, size_t size)
{
    char cmd[PATH_MAX + 64];
    ck_assert_msg(system("command -v zbarimg >/dev/null") == 0,
                  "zbarimg is needed to read the codes back (apt-get install zbar-tools)");
    FORMAT(cmd, sizeof cmd, "zbarimg --quiet --raw '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    out[0] = '\0';
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static idm_buffer_t *barcode_face(enum idm_layout_symbology sym, const char *data, double w,
                                  double h, int human_readable, unsigned dpi,
                                  struct idm_layout_box *box)
{
    struct test_layout t;
    layout_init(&t, 0, 0);
    struct idm_layout_element *el =
        add_element(&t, IDM_FACE_FRONT, IDM_LAYOUT_BARCODE, 10, 10, w, h);
    el->symbology = sym;
    el->human_readable = human_readable;
    struct idm_render_value v = {"card.number", data};
    *box = el->box;
    return render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PNG, dpi);
}

START_TEST(test_code128_bars_read_back_as_the_data)
{
    struct {
        const char *data;
        double width;
        unsigned dpi;
    } rows[] = {
        {"IDM-000042", 50, 300}, {"1234567890", 40, 300}, {"Card #7 of 12: ok", 70, 300},
        {"IDM-000042", 50, 150}, {"A123B", 30, 600},
    };
    struct faults f = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct idm_layout_box box;
        idm_buffer_t *png = barcode_face(IDM_BARCODE_CODE128, rows[i].data, rows[i].width, 15, 1,
                                         rows[i].dpi, &box);
        cairo_surface_t *s = png_pixels(png->data, png->len);
        struct ink ink = ink_of(s, &box);
        if (ink.outside != 0)
            fault(&f, "'%s': %ld pixels outside the box;", rows[i].data, ink.outside);
        /* quiet zones: 10 modules of white each side inside the box */
        double ppm = rows[i].dpi / 25.4;
        if (ink.x0 - box.x * ppm < 5 || (box.x + box.width) * ppm - ink.x1 < 5)
            fault(&f, "'%s': bars %d..%d leave no quiet zone in the box;", rows[i].data, ink.x0,
                  ink.x1);
        char why[128];
        char *got = decode_row(s, (int)((box.y + 3) * ppm), why, sizeof why);
        if (got == NULL)
            fault(&f, "'%s' at %u dpi: %s;", rows[i].data, rows[i].dpi, why);
        else if (strcmp(got, rows[i].data) != 0)
            fault(&f, "'%s' at %u dpi read back as '%s';", rows[i].data, rows[i].dpi, got);
        free(got);
        char path[PATH_MAX], zbar[256];
        snprintf(why, sizeof why, "code128-%zu.png", i);
        write_scratch(why, png, path, sizeof path);
        zbar_read(path, zbar, sizeof zbar);
        if (strcmp(zbar, rows[i].data) != 0)
            fault(&f, "zbarimg reads '%s' as '%s';", rows[i].data, zbar);
        cairo_surface_destroy(s);
        idm_buffer_free(&png);
    }
    ck_assert_no_faults(&f);
}
END_TEST

START_TEST(test_code128_refuses_data_outside_ascii_naming_the_element)
{
    struct test_layout t;
    layout_init(&t, 0, 0);
    for (int i = 0; i < 4; i++)
        add_text(&t, IDM_FACE_FRONT, "x", 1, 1 + i * 5, 10, 4, 8);
    add_element(&t, IDM_FACE_FRONT, IDM_LAYOUT_BARCODE, 10, 30, 50, 12);
    struct idm_render_value v = {"card.number", "IDM-00é"};
    idm_buffer_t *out = NULL;
    ck_ok(idm_buffer_new(&out));
    ck_assert_idm_error(idm_render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PNG, 150, out),
                        IDM_ERR_INVALID_ARG,
                        "front.elements[4]: 'IDM-00é' cannot be encoded in Code 128 "
                        "(character U+00E9)");
    ck_assert_idm_error(idm_render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PDF, 0, out),
                        IDM_ERR_INVALID_ARG, "U+00E9");
    ck_assert_uint_eq(out->len, 0);
    idm_buffer_free(&out);
}
END_TEST

START_TEST(test_qr_code_reads_back_as_the_data)
{
    const char *rows[] = {"IDM-000042", "https://id.example/card/IDM-000042?holder=anna.schmidt",
                          "0123456789012345678901234567890123456789"};
    struct faults f = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct idm_layout_box box;
        idm_buffer_t *png = barcode_face(IDM_BARCODE_QR, rows[i], 30, 20, 0, 300, &box);
        cairo_surface_t *s = png_pixels(png->data, png->len);
        struct ink ink = ink_of(s, &box);
        double ppm = 300 / 25.4;
        /* square, centred, inside the box's height */
        if (ink.outside != 0 || abs((ink.x1 - ink.x0) - (ink.y1 - ink.y0)) > 1 ||
            fabs((ink.x0 + ink.x1) / 2.0 - (box.x + box.width / 2) * ppm) > 2 ||
            (ink.y1 - ink.y0 + 1) > box.height * ppm)
            fault(&f, "'%s': modules at %d,%d..%d,%d;", rows[i], ink.x0, ink.y0, ink.x1, ink.y1);
        char path[PATH_MAX], name[32], zbar[512];
        snprintf(name, sizeof name, "qr-%zu.png", i);
        write_scratch(name, png, path, sizeof path);
        zbar_read(path, zbar, sizeof zbar);
        if (strcmp(zbar, rows[i]) != 0)
            fault(&f, "zbarimg reads '%s' as '%s';", rows[i], zbar);
        cairo_surface_destroy(s);
        idm_buffer_free(&png);
    }
    ck_assert_no_faults(&f);
}
END_TEST

START_TEST(test_qr_code_refuses_data_beyond_its_capacity)
{
    /* version 40 at level M holds 2331 bytes */
    char data[2400];
    memset(data, 'x', sizeof data - 1);
    data[sizeof data - 1] = '\0';
    struct test_layout t;
    layout_init(&t, 0, 0);
    add_element(&t, IDM_FACE_FRONT, IDM_LAYOUT_BARCODE, 10, 10, 40, 40)->symbology =
        IDM_BARCODE_QR;
    struct idm_render_value v = {"card.number", data};
    idm_buffer_t *out = NULL;
    ck_ok(idm_buffer_new(&out));
    ck_assert_idm_error(idm_render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PNG, 150, out),
                        IDM_ERR_INVALID_ARG, "(2399 bytes) is too long for a QR code");
    data[2331] = '\0';
    ck_ok(idm_render(&t.layout, &v, 1, IDM_FACE_FRONT, IDM_RENDER_PNG, 150, out));
    idm_buffer_free(&out);
}
END_TEST

START_TEST(test_empty_barcode_data_draws_only_the_fill)
{
    struct test_layout t;
    layout_init(&t, 0, 0);
    struct idm_layout_element *el =
        add_element(&t, IDM_FACE_FRONT, IDM_LAYOUT_BARCODE, 10, 10, 40, 12);
    el->fill = (struct idm_layout_color){1, 1, 0, 1};
    idm_buffer_t *png = render(&t.layout, NULL, 0, IDM_FACE_FRONT, IDM_RENDER_PNG, 150);
    cairo_surface_t *s = png_pixels(png->data, png->len);
    struct ink ink = ink_of(s, &el->box);
    ck_assert_int_eq(ink.outside, 0);
    ck_assert_int_gt(ink.inside, 0);
    /* yellow throughout, but for the antialiased edge pixels */
    for (int y = ink.y0 + 1; y < ink.y1; y++) {
        for (int x = ink.x0 + 1; x < ink.x1; x++)
            ck_assert_uint_eq(pixel(s, x, y), 0xffffff00u);
    }
    cairo_surface_destroy(s);
    idm_buffer_free(&png);
}
END_TEST

Suite *idm_test_suite(void)
{
    (void)scratch_dir(); /* made once, before the tests fork */
    Suite *s = suite_create("render");
    TCase *tc = tcase_create("render");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_png_size_is_card_size_at_the_resolution);
    tcase_add_test(tc, test_resolution_outside_72_to_1200_refused);
    tcase_add_test(tc, test_face_the_layout_lacks_refused);
    tcase_add_test(tc, test_pdf_has_a_card_sized_page_per_face);
    tcase_add_test(tc, test_pdf_keeps_name_and_number_as_text);
    tcase_add_test(tc, test_pdf_embeds_a_jpeg_photo_as_it_is);
    tcase_add_test(tc, test_pdf_holds_an_image_once_for_both_faces);
    tcase_add_test(tc, test_reference_plain_name_with_png_photo);
    tcase_add_test(tc, test_reference_accented_name_shrinks_with_jpeg_photo);
    tcase_add_test(tc, test_reference_long_name_ellipsized_at_min_size);
    tcase_add_test(tc, test_reference_hebrew_name_starts_at_the_right);
    tcase_add_test(tc, test_reference_arabic_name_starts_at_the_right);
    tcase_add_test(tc, test_reference_missing_photo_drawn_as_placeholder);
    tcase_add_test(tc, test_reference_back_with_qr_code);
    tcase_add_test(tc, test_long_names_render_without_overflow);
    tcase_add_test(tc, test_start_alignment_follows_text_direction);
    tcase_add_test(tc, test_text_shrinks_before_it_ellipsizes);
    tcase_add_test(tc, test_line_breaks_in_a_value_survive_the_ellipsis);
    tcase_add_test(tc, test_same_card_renders_to_the_same_bytes);
    tcase_add_test(tc, test_unusable_photo_drawn_as_placeholder);
    tcase_add_test(tc, test_relative_photo_path_resolves_in_photo_dir);
    tcase_add_test(tc, test_photo_fit_contain_and_cover);
    tcase_add_test(tc, test_image_decodes_png_and_jpeg);
    tcase_add_test(tc, test_image_refuses_damaged_and_foreign_bytes);
    tcase_add_test(tc, test_image_refuses_absurd_sizes);
    tcase_add_test(tc, test_background_image_covers_the_face);
    tcase_add_test(tc, test_undecodable_logo_refused_with_its_path);
    tcase_add_test(tc, test_code128_symbols_match_known_vectors);
    tcase_add_test(tc, test_code128_is_as_short_as_sets_b_and_c_allow);
    tcase_add_test(tc, test_code128_refuses_bytes_outside_printable_ascii);
    tcase_add_test(tc, test_code128_modules_follow_the_patterns);
    tcase_add_test(tc, test_code128_bars_read_back_as_the_data);
    tcase_add_test(tc, test_code128_refuses_data_outside_ascii_naming_the_element);
    tcase_add_test(tc, test_qr_code_reads_back_as_the_data);
    tcase_add_test(tc, test_qr_code_refuses_data_beyond_its_capacity);
    tcase_add_test(tc, test_empty_barcode_data_draws_only_the_fill);
    suite_add_tcase(s, tc);
    return s;
}
