/*
 * Card layouts (src/print/layout.c, on the JSON tree of src/core/json.c)
 * and their rendering (src/print/render.c).  The input is a layout
 * document; its images resolve in a scratch folder that holds a small PNG
 * ("logo.png") and a small JPEG ("photo.jpg"), which the holder's photo
 * attribute names.
 *
 * Besides not crashing:
 * - idm_layout_new() returns IDM_OK, IDM_ERR_PARSE, IDM_ERR_INVALID_ARG,
 *   IDM_ERR_UNSUPPORTED or IDM_ERR_IO, each refusal with a message that
 *   names the function, and leaves *out NULL when it refuses;
 * - an accepted layout has a valid name, serves at least one card type and
 *   has a front;
 * - it renders: every face it has to PNG at 72 dpi, of the face's size in
 *   pixels, and to PDF, or is refused with IDM_ERR_INVALID_ARG (data a
 *   Code 128 barcode cannot carry); a refusal names an element.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/idm.h>

#include "core/buffer_impl.h"
#include "fuzz.h"
#include "print/layout_impl.h"

/* A 1 x 1 PNG and a 1 x 1 JPEG, written to the scratch folder once. */
static const unsigned char png_1x1[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90,
    0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8,
    0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static char photo_path[4200];

static void write_file(const char *dir, const char *name, const void *bytes, size_t len,
                       char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "fuzz_layout: cannot write %s\n", path);
        exit(1);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char path[4200];
    write_file(fuzz_scratch_dir(), "logo.png", png_1x1, sizeof png_1x1, path, sizeof path);
    /* The photo is the same PNG under another name: the renderer tells
     * PNG from JPEG by the bytes, not the name. */
    write_file(fuzz_scratch_dir(), "photo.jpg", png_1x1, sizeof png_1x1, photo_path,
               sizeof photo_path);
    return 0;
}

void fuzz_teardown(void)
{
    fuzz_remove_scratch();
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_layout: %s: %s\n", what, detail);
    abort();
}

static void check_render(const struct idm_layout *layout)
{
    const struct idm_render_value values[] = {
        {"card.number", "00000042"}, {"card.type", "employee"}, {"givenName", "Zoë"},
        {"surname", "Ångström-Łukasiewicz"}, {"commonName", "Zoë Ångström"},
        {"department", "מחקר"}, {"photo", photo_path},
    };
    size_t n = sizeof values / sizeof values[0];
    idm_buffer_t *out = NULL;
    if (idm_buffer_new(&out) != IDM_OK)
        fail("idm_buffer_new", idm_last_error_message());
    for (int face = IDM_FACE_FRONT; face <= IDM_FACE_BACK; face++) {
        if (!layout->faces[face].present)
            continue;
        int rc = idm_render(layout, values, n, (idm_card_face)face, IDM_RENDER_PNG, 72, out);
        if (rc == IDM_ERR_INVALID_ARG && strstr(idm_last_error_message(), "elements[") != NULL)
            continue; /* a barcode that cannot carry the data, named */
        if (rc != IDM_OK)
            fail("rendering a face", idm_last_error_message());
        const unsigned char *png = NULL;
        size_t len = 0;
        idm_buffer_get(out, &png, &len);
        if (len < 24 || memcmp(png, "\x89PNG", 4) != 0)
            fail("rendering a face", "not a PNG");
        unsigned w = (unsigned)png[16] << 24 | (unsigned)png[17] << 16 |
                     (unsigned)png[18] << 8 | png[19];
        unsigned want = (unsigned)(idm_layout_face_width(layout) / 25.4 * 72 + 0.5);
        if (w != want)
            fail("rendering a face", "the PNG is not the face's width");
    }
    int rc = idm_render(layout, values, n, IDM_FACE_FRONT, IDM_RENDER_PDF, 300, out);
    if (rc != IDM_OK &&
        !(rc == IDM_ERR_INVALID_ARG && strstr(idm_last_error_message(), "elements[") != NULL))
        fail("rendering the PDF", idm_last_error_message());
    idm_buffer_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    idm_layout_t *layout = NULL;
    int rc = idm_layout_new(&layout, (const char *)data, size, fuzz_scratch_dir());
    if (rc != IDM_OK) {
        if (layout != NULL)
            fail("a refusal", "left a layout");
        if (rc != IDM_ERR_PARSE && rc != IDM_ERR_INVALID_ARG && rc != IDM_ERR_UNSUPPORTED &&
            rc != IDM_ERR_IO)
            fail("an undocumented error", idm_last_error_message());
        if (strncmp(idm_last_error_message(), "idm_layout_new: ", 16) != 0)
            fail("a refusal without the function's name", idm_last_error_message());
        return 0;
    }
    const char *name = NULL;
    int serves_any = 0, front = 0;
    idm_layout_get_name(layout, &name);
    for (int t = 0; t <= IDM_CARD_TEMPORARY; t++) {
        int serves = 0;
        idm_layout_serves(layout, (idm_card_type)t, &serves);
        serves_any |= serves;
    }
    idm_layout_has_face(layout, IDM_FACE_FRONT, &front);
    if (name == NULL || name[0] == '\0' || !serves_any || !front)
        fail("an accepted layout", "has no name, no card type or no front");
    check_render(layout);
    idm_layout_free(&layout);
    return 0;
}
