#include <inttypes.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "print/image.h"
#include "print/layout_impl.h"

/* What libjpeg may hold besides the pixels (a progressive image keeps all
 * its coefficients): enough for any sensible photo, and a cap on what a
 * crafted file can make it allocate. */
#define JPEG_MAX_MEMORY ((long)320 << 20)

static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static uint32_t read_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* ---- PNG ----------------------------------------------------------------- */

struct png_reader {
    const unsigned char *bytes;
    size_t len, at;
};

static cairo_status_t png_read(void *closure, unsigned char *data, unsigned int length)
{
    struct png_reader *r = closure;
    if (length > r->len - r->at)
        return CAIRO_STATUS_READ_ERROR;
    memcpy(data, r->bytes + r->at, length);
    r->at += length;
    return CAIRO_STATUS_SUCCESS;
}

static cairo_surface_t *decode_png(const unsigned char *bytes, size_t len, char *why,
                                   size_t why_size)
{
    /* The size from IHDR, checked before cairo allocates the pixels. */
    if (len < 24 || memcmp(bytes + 12, "IHDR", 4) != 0) {
        snprintf(why, why_size, "PNG: no image header");
        return NULL;
    }
    uint32_t width = read_be32(bytes + 16), height = read_be32(bytes + 20);
    if (width == 0 || height == 0 || width > IDM_IMAGE_MAX_SIDE || height > IDM_IMAGE_MAX_SIDE) {
        snprintf(why, why_size, "PNG: %" PRIu32 " x %" PRIu32 " pixels; a side may be 1 to %d",
                 width, height, IDM_IMAGE_MAX_SIDE);
        return NULL;
    }
    struct png_reader r = {bytes, len, 0};
    cairo_surface_t *s = cairo_image_surface_create_from_png_stream(png_read, &r);
    cairo_status_t status = cairo_surface_status(s);
    if (status != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        snprintf(why, why_size, "PNG: %s",
                 status == CAIRO_STATUS_NO_MEMORY ? "out of memory" : "corrupt or truncated data");
        return NULL;
    }
    return s;
}

/* ---- JPEG ---------------------------------------------------------------- */

struct jpeg_failure {
    struct jpeg_error_mgr pub; /* first: libjpeg hands it back as cinfo->err */
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr cinfo)
{
    struct jpeg_failure *f = (struct jpeg_failure *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, f->message);
    longjmp(f->jump, 1);
}

/* libjpeg reports damaged data as warnings and goes on with grey or
 * garbled pixels; a photo with a grey half is no photo, so those warnings
 * fail the decoding (bytes before a marker are what damaged entropy-coded
 * data leaves).  Warnings about headers (an unusual JFIF version, an odd
 * Adobe transform) do not. */
static void jpeg_warn(j_common_ptr cinfo, int level)
{
    if (level >= 0)
        return; /* trace messages */
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
        jpeg_fail(cinfo);
        break;
    default:
        cinfo->err->num_warnings++;
    }
}

static void jpeg_quiet(j_common_ptr cinfo)
{
    (void)cinfo; /* the library never writes to stderr */
}

static void attach_jpeg_bytes(cairo_surface_t *s, const unsigned char *bytes, size_t len)
{
    /* Without them the PDF holds the decoded pixels: larger, same picture. */
    unsigned char *copy = malloc(len);
    if (copy == NULL)
        return;
    memcpy(copy, bytes, len);
    if (cairo_surface_set_mime_data(s, CAIRO_MIME_TYPE_JPEG, copy, len, free, copy) !=
        CAIRO_STATUS_SUCCESS)
        free(copy);
}

static uint32_t rgb_pixel(unsigned r, unsigned g, unsigned b)
{
    return (uint32_t)r << 16 | (uint32_t)g << 8 | (uint32_t)b;
}

static cairo_surface_t *decode_jpeg(const unsigned char *bytes, size_t len, char *why,
                                    size_t why_size)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_failure failure;
    /* volatile: set after setjmp() and released on the longjmp() path */
    cairo_surface_t *volatile surface = NULL;
    JSAMPLE *volatile row = NULL;

    cinfo.err = jpeg_std_error(&failure.pub);
    failure.pub.error_exit = jpeg_fail;
    failure.pub.emit_message = jpeg_warn;
    failure.pub.output_message = jpeg_quiet;
    if (setjmp(failure.jump)) {
        snprintf(why, why_size, "JPEG: %s", failure.message);
        jpeg_destroy_decompress(&cinfo);
        if (surface != NULL)
            cairo_surface_destroy(surface);
        free(row);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    cinfo.mem->max_memory_to_use = JPEG_MAX_MEMORY;
    jpeg_mem_src(&cinfo, bytes, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.image_width > IDM_IMAGE_MAX_SIDE || cinfo.image_height > IDM_IMAGE_MAX_SIDE) {
        snprintf(why, why_size, "JPEG: %u x %u pixels; a side may be at most %d",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, IDM_IMAGE_MAX_SIDE);
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    /* Adobe's CMYK JPEGs store the inks inverted. */
    int inverted = cmyk && cinfo.saw_Adobe_marker;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);

    unsigned width = cinfo.output_width, height = cinfo.output_height;
    surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)width, (int)height);
    row = malloc((size_t)width * (size_t)cinfo.output_components);
    if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS || row == NULL) {
        snprintf(failure.message, sizeof failure.message, "out of memory");
        longjmp(failure.jump, 1);
    }
    unsigned char *pixels = cairo_image_surface_get_data(surface);
    int stride = cairo_image_surface_get_stride(surface);
    while (cinfo.output_scanline < height) {
        JSAMPROW rows[1] = {row};
        uint32_t *out = (uint32_t *)(void *)(pixels + (size_t)stride * cinfo.output_scanline);
        if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) {
            /* a suspension, which a memory source never asks for */
            snprintf(failure.message, sizeof failure.message, "no scanline read");
            longjmp(failure.jump, 1);
        }
        const JSAMPLE *p = row;
        for (unsigned x = 0; x < width; x++) {
            if (!cmyk) {
                out[x] = rgb_pixel(p[0], p[1], p[2]);
                p += 3;
                continue;
            }
            unsigned c = p[0], m = p[1], y = p[2], k = p[3];
            if (!inverted) {
                c = 255 - c;
                m = 255 - m;
                y = 255 - y;
                k = 255 - k;
            }
            out[x] = rgb_pixel(c * k / 255, m * k / 255, y * k / 255);
            p += 4;
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    cairo_surface_mark_dirty(surface);
    /* A PDF reader draws 1- and 3-component JPEGs as they are; CMYK ones
     * differ between readers, so those go as pixels. */
    if (!cmyk)
        attach_jpeg_bytes(surface, bytes, len);
    return surface;
}

cairo_surface_t *idm_image_decode(const unsigned char *bytes, size_t len, char *why,
                                  size_t why_size)
{
    if (len > IDM_LAYOUT_MAX_IMAGE) {
        snprintf(why, why_size, "%zu bytes; an image may have at most %u", len,
                 IDM_LAYOUT_MAX_IMAGE);
        return NULL;
    }
    if (len >= sizeof png_signature && memcmp(bytes, png_signature, sizeof png_signature) == 0)
        return decode_png(bytes, len, why, why_size);
    if (len >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
        return decode_jpeg(bytes, len, why, why_size);
    snprintf(why, why_size, "neither PNG nor JPEG");
    return NULL;
}
