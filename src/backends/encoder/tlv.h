/*
 * BER-TLV as PIV uses it (SP 800-73-4 part 1, appendix A; ISO 7816-4 5.2):
 * tags of one to three bytes (53, 7F49, 5FC105), kept as one unsigned that
 * reads the tag bytes big-endian; lengths in short form (00-7F) or as
 * 81 xx / 82 xx xx.  The indefinite form (80) and longer length forms never
 * occur in PIV objects and are refused, so a reader never has to guess.
 */
#ifndef IDM_BACKENDS_ENCODER_TLV_H
#define IDM_BACKENDS_ENCODER_TLV_H

#include <stddef.h>

/* One parsed element; value points into the caller's buffer (no copy). */
struct idm_tlv {
    unsigned tag;
    const unsigned char *value;
    size_t len;
};

/*
 * Reads the TLV at *p, which must lie within [*p, end), and advances *p past
 * it.  Never reads at or past end.
 *
 * @return IDM_OK; IDM_ERR_PARSE (message with the offset, counted from *p)
 *         for empty, truncated or malformed input, *p then unchanged;
 *         IDM_ERR_INVALID_ARG for NULL arguments or *p > end.
 */
int idm_tlv_next(const unsigned char **p, const unsigned char *end, struct idm_tlv *out);

/*
 * Finds the first TLV with tag at the top level of [buf, buf + len): it does
 * not descend into constructed values (call it again on out->value for that).
 *
 * @return IDM_OK; IDM_ERR_NOT_FOUND if no top-level TLV has the tag;
 *         IDM_ERR_PARSE when a TLV before it is malformed (the message gives
 *         the offset in buf); IDM_ERR_INVALID_ARG.
 */
int idm_tlv_find(const unsigned char *buf, size_t len, unsigned tag, struct idm_tlv *out);

/*
 * Appends tag, length and value to the growing buffer *buf of *len bytes
 * (*buf may be NULL with *len 0; the caller free()s it).  value must not
 * point into *buf, which may move.  On failure *buf and *len are unchanged.
 *
 * @return IDM_OK; IDM_ERR_NO_MEMORY; IDM_ERR_INVALID_ARG for a tag that is
 *         not a well-formed 1-3 byte BER tag, a value longer than 65535
 *         bytes (82 xx xx is the longest length form), or NULL pointers.
 */
int idm_tlv_append(unsigned char **buf, size_t *len, unsigned tag, const unsigned char *value,
                   size_t value_len);

#endif /* IDM_BACKENDS_ENCODER_TLV_H */
