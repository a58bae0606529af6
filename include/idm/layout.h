/*
 * libidm - card layouts: what is printed on a card's faces.
 *
 * A layout is data, a JSON document (its format is in doc/layouts.md):
 * the card types it serves, the orientation of a CR80 card (85.60 x 53.98
 * mm), and for the front and (optionally) the back a background colour or
 * image and the elements drawn on it: text bound to identity and card
 * attributes through templates ("${givenName} ${surname}",
 * "${card.number}"), with font, size, alignment and an overflow rule
 * (shrink, then ellipsize, or ellipsize); the holder's photo; a fixed
 * image such as a logo; a Code 128 or QR barcode.  A layout is checked
 * when it is loaded: an invalid one is refused with the member that is
 * wrong and why ("front.elements[2].font.size: 200 is above 72 pt").
 *
 * The library renders a card with its layout to PNG previews (one face,
 * at a chosen resolution) and to a print-ready PDF (one page per face, at
 * card size, vector text and barcodes, images at their own resolution),
 * which the printers of <idm/printer.h> print.  Text is laid out with
 * pango: accented, right-to-left and mixed-direction names are shaped
 * and never leave their box.  A photo that is missing or unreadable is
 * drawn as a placeholder.
 *
 * Thread-safety: a layout is immutable once loaded; it may be used from
 * several threads at once (each rendering a card of its own context).
 */
#ifndef IDM_LAYOUT_H
#define IDM_LAYOUT_H

#include <stddef.h>

#include <idm/buffer.h>
#include <idm/card.h>
#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A face of a card. */
typedef enum idm_card_face {
    IDM_FACE_FRONT = 0, /**< the front */
    IDM_FACE_BACK = 1   /**< the back */
} idm_card_face;

/** What idm_layout_render() produces. */
typedef enum idm_render_format {
    IDM_RENDER_PNG = 0, /**< one face as a PNG image */
    IDM_RENDER_PDF = 1  /**< every face, one PDF page each, at card size */
} idm_render_format;

/**
 * Parses and checks a layout.
 *
 * @param out       receives the layout, owned by the caller.
 * @param json      the layout document, UTF-8 JSON, at most 1 MiB.
 * @param len       its length in bytes.
 * @param base_dir  where the images the layout names by relative path
 *                  (and its photo_dir) are found; NULL for the current
 *                  directory.  Image files are read now, so the layout
 *                  needs no file later; photos are read at rendering.
 * @return IDM_OK; IDM_ERR_PARSE for malformed JSON ("at byte N: ...");
 *         IDM_ERR_INVALID_ARG for a well-formed document that is not a
 *         valid layout, the message naming the member and the reason;
 *         IDM_ERR_IO when an image file cannot be read (path and the
 *         system's words); IDM_ERR_NO_MEMORY.
 * Thread-safety: safe to call from any thread.
 */
int idm_layout_new(idm_layout_t **out, const char *json, size_t len, const char *base_dir);

/**
 * Reads a layout file and parses it as idm_layout_new(), with the file's
 * directory as base_dir.
 *
 * @param out   receives the layout, owned by the caller.
 * @param path  the file.
 * @return as idm_layout_new(); IDM_ERR_IO when the file cannot be read.
 * Thread-safety: safe to call from any thread.
 */
int idm_layout_load(idm_layout_t **out, const char *path);

/**
 * The layout's name.
 *
 * @param layout  the layout.
 * @param out     receives the name, owned by the layout.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_layout_get_name(const idm_layout_t *layout, const char **out);

/**
 * Whether the layout serves a card type (its "card_types").
 *
 * @param layout  the layout.
 * @param type    a card type.
 * @param out     receives 1 or 0.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_layout_serves(const idm_layout_t *layout, idm_card_type type, int *out);

/**
 * Whether the layout has a face (every layout has a front; the back is
 * optional).
 *
 * @param layout  the layout.
 * @param face    the face.
 * @param out     receives 1 or 0.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_layout_has_face(const idm_layout_t *layout, idm_card_face face, int *out);

/**
 * Renders a card with the layout.  Templates take the card's values
 * (card.number, card.type, card.option, card.name) and its holder's
 * (every attribute, commonName, upn), read from the card's context; an
 * attribute without a value renders as nothing.
 *
 * @param layout  the layout; it need not serve the card's type (a preview).
 * @param card    the card; its context must have a store open.
 * @param format  IDM_RENDER_PNG: face at dpi; IDM_RENDER_PDF: every face
 *                of the layout, face and dpi ignored.
 * @param face    the face, for PNG.
 * @param dpi     72 .. 1200, for PNG (300 gives 1011 x 638 pixels
 *                landscape).
 * @param out     receives the bytes (replacing what it held).
 * @return IDM_OK; IDM_ERR_INVALID_ARG (a face the layout lacks, dpi out
 *         of range); IDM_ERR_STATE if the context has no store;
 *         IDM_ERR_STORE; IDM_ERR_NO_MEMORY; IDM_ERR_INTERNAL with
 *         cairo's words.
 * Thread-safety: the card's context is used by one thread at a time.
 */
int idm_layout_render(const idm_layout_t *layout, const idm_card_t *card,
                      idm_render_format format, idm_card_face face, unsigned dpi,
                      idm_buffer_t *out);

/**
 * Releases a layout and sets *layout to NULL.  NULL-safe.
 *
 * @param layout  address of the caller's pointer.
 */
void idm_layout_free(idm_layout_t **layout);

#ifdef __cplusplus
}
#endif

#endif /* IDM_LAYOUT_H */
