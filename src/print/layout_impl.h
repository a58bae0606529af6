/*
 * Card layouts as the library holds them once parsed (layout.c) and as the
 * renderer (render.c) draws them.  Every length is in millimetres from the
 * top-left corner of the face as the card is seen (after orientation);
 * colours are straight (not premultiplied) RGBA in 0..1.
 */
#ifndef IDM_PRINT_LAYOUT_IMPL_H
#define IDM_PRINT_LAYOUT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <idm/card.h>
#include <idm/layout.h>

/* ISO/IEC 7810 ID-1 (CR80), landscape. */
#define IDM_CARD_WIDTH_MM 85.60
#define IDM_CARD_HEIGHT_MM 53.98

/* Limits of the layout format (doc/layouts.md states them). */
#define IDM_LAYOUT_MAX_JSON (1u << 20)        /* bytes of layout JSON */
#define IDM_LAYOUT_MAX_ELEMENTS 64            /* per face */
#define IDM_LAYOUT_MAX_TEXT 1024              /* bytes of a text or data template */
#define IDM_LAYOUT_MAX_IMAGE (8u << 20)       /* bytes of one image file */
#define IDM_LAYOUT_MIN_FONT_PT 4.0
#define IDM_LAYOUT_MAX_FONT_PT 72.0
#define IDM_LAYOUT_MIN_DPI 72u
#define IDM_LAYOUT_MAX_DPI 1200u

struct idm_layout_color {
    double r, g, b, a;
};

struct idm_layout_box {
    double x, y, width, height; /* mm; inside the face */
};

enum idm_layout_kind {
    IDM_LAYOUT_TEXT,
    IDM_LAYOUT_PHOTO,   /* the holder's photo: a file named by an attribute */
    IDM_LAYOUT_IMAGE,   /* a fixed image, e.g. a logo (bytes loaded with the layout) */
    IDM_LAYOUT_BARCODE
};

enum idm_layout_align { IDM_ALIGN_START, IDM_ALIGN_CENTER, IDM_ALIGN_END };
enum idm_layout_valign { IDM_VALIGN_TOP, IDM_VALIGN_MIDDLE, IDM_VALIGN_BOTTOM };
enum idm_layout_overflow { IDM_OVERFLOW_SHRINK, IDM_OVERFLOW_ELLIPSIZE };
enum idm_layout_fit { IDM_FIT_CONTAIN, IDM_FIT_COVER };
enum idm_layout_symbology { IDM_BARCODE_CODE128, IDM_BARCODE_QR };

/* An image's file, read when the layout is loaded. */
struct idm_layout_image {
    char *path;           /* as resolved (for messages) */
    unsigned char *bytes; /* PNG or JPEG */
    size_t len;
};

struct idm_layout_element {
    enum idm_layout_kind kind;
    char *where;               /* "front.elements[2]", for messages */
    struct idm_layout_box box;
    /* text */
    char *text;                /* template: ${key} */
    char *font_family;         /* default "DejaVu Sans" */
    int bold, italic;
    double font_size;          /* pt */
    double min_font_size;      /* pt; shrink stops here, then ellipsizes */
    struct idm_layout_color color; /* text, barcode bars; default black */
    enum idm_layout_align align;   /* start/end follow the text's direction */
    enum idm_layout_valign valign;
    enum idm_layout_overflow overflow;
    int max_lines;             /* 1 .. 8; default 1 */
    /* photo */
    char *source;              /* the attribute naming the photo file; default "photo" */
    /* image */
    struct idm_layout_image image;
    enum idm_layout_fit fit;   /* default: cover for a photo, contain for an image */
    /* barcode */
    enum idm_layout_symbology symbology;
    char *data;                /* template; default "${card.number}" */
    int human_readable;        /* code128: the data printed under the bars */
    struct idm_layout_color fill; /* photo placeholder, barcode background; default transparent */
};

struct idm_layout_face {
    int present;                       /* the back is optional */
    struct idm_layout_color background; /* default white */
    struct idm_layout_image background_image; /* bytes NULL when none; drawn to cover */
    struct idm_layout_element *elements;
    size_t nelements;
};

struct idm_layout {
    uint32_t magic;            /* IDM_MAGIC_LAYOUT */
    char *name;                /* 1..64 of [A-Za-z0-9._-] */
    unsigned card_types;       /* bit (1u << idm_card_type) per type it serves */
    int portrait;              /* 0 landscape (85.60 x 53.98), 1 portrait (53.98 x 85.60) */
    char *photo_dir;           /* where relative photo paths resolve (absolute) */
    struct idm_layout_face faces[2]; /* IDM_FACE_FRONT, IDM_FACE_BACK */
};

/*
 * Reads the file at path (a layout, its images, a holder's photo), at most
 * max + 1 bytes: one more than allowed tells the caller it is too large
 * without reading all of it.  With regular_only, anything but a regular
 * file is refused unread (a FIFO could block the reader for ever);
 * O_NONBLOCK keeps even the open from waiting for a FIFO's writer.
 * Returns 0 with *out (caller frees) and *len, an errno value, or
 * IDM_LAYOUT_NOT_REGULAR.
 */
#define IDM_LAYOUT_NOT_REGULAR (-1)
int idm_layout_read_file(const char *path, size_t max, int regular_only, unsigned char **out,
                         size_t *len);

/* The face's size in mm, after orientation. */
double idm_layout_face_width(const struct idm_layout *layout);
double idm_layout_face_height(const struct idm_layout *layout);

/* ---- rendering (render.c) --------------------------------------------- */

/* The values templates expand: ${key} takes the value of key; a key
 * without a value expands to "".  Keys: every identity attribute, plus
 * commonName, upn, card.number, card.type, card.option, card.name. */
struct idm_render_value {
    const char *key;
    const char *value;
};

/*
 * Draws one face as PNG (IDM_RENDER_PNG, dpi 72..1200) or every present
 * face as a PDF of one page per face at card size (IDM_RENDER_PDF; face
 * and dpi ignored; images embedded at their own resolution) into out.
 * A photo that is missing or cannot be read or decoded is drawn as a
 * placeholder; text never leaves its box.  IDM_ERR_INVALID_ARG (a face the
 * layout lacks, dpi out of range); IDM_ERR_NO_MEMORY; IDM_ERR_INTERNAL
 * with cairo's words.  Errors carry no function name.
 */
int idm_render(const struct idm_layout *layout, const struct idm_render_value *values,
               size_t nvalues, idm_card_face face, idm_render_format format, unsigned dpi,
               idm_buffer_t *out);

/* A card rendered as idm_layout_render() documents, with the values of
 * the card and its holder (card_render.c); errors carry no function name. */
int idm_layout_render_card(const struct idm_layout *layout, const idm_card_t *card,
                           idm_render_format format, idm_card_face face, unsigned dpi,
                           idm_buffer_t *out);

/* Expands tmpl with values into a new string (caller frees); NULL on
 * out of memory.  "$${" is a literal "${". */
char *idm_layout_expand(const char *tmpl, const struct idm_render_value *values, size_t nvalues);

#endif /* IDM_PRINT_LAYOUT_IMPL_H */
