/*
 * PNG and JPEG images decoded for cairo: the holder's photo, logos and
 * background images of card layouts.  Decoding never exits or prints,
 * whatever the bytes; what cannot be decoded is refused with a reason.
 */
#ifndef IDM_PRINT_IMAGE_H
#define IDM_PRINT_IMAGE_H

#include <stddef.h>

#include <cairo.h>

/* Larger images are refused before any pixel is decoded. */
#define IDM_IMAGE_MAX_SIDE 10000

/*
 * Decodes len bytes of PNG or JPEG (told apart by their signature) into a
 * new image surface: CAIRO_FORMAT_ARGB32 for PNG, CAIRO_FORMAT_RGB24 for
 * JPEG.  Grey, RGB and CMYK JPEGs are read; a JPEG's bytes are attached
 * to the surface as its CAIRO_MIME_TYPE_JPEG data (a copy), so that a PDF
 * embeds them as they are instead of the pixels.  Returns the surface
 * (caller destroys), or NULL with a reason in why (at least 64 bytes, e.g.
 * "JPEG: Premature end of JPEG file") for bytes that are neither format,
 * corrupt or truncated data, more than IDM_LAYOUT_MAX_IMAGE bytes, a side
 * above IDM_IMAGE_MAX_SIDE pixels, or no memory.
 * Thread-safety: safe to call from any thread.
 */
cairo_surface_t *idm_image_decode(const unsigned char *bytes, size_t len, char *why,
                                  size_t why_size);

#endif /* IDM_PRINT_IMAGE_H */
