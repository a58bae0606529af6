/*
 * BER-TLV reading and writing for PIV objects.  Every read checks the bytes
 * left before touching one, because the input comes from a card or a file
 * and a wrong length must end in IDM_ERR_PARSE, not in a read past the end.
 */
#include "backends/encoder/tlv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"

/* PIV tags are at most three bytes (5FC105); longer ones would be a sign of
 * garbage, and three bytes always fit in an unsigned. */
#define TLV_TAG_MAX 3

/* 82 xx xx is the longest length form accepted, so the longest value. */
#define TLV_VALUE_MAX 0xFFFFu

/* Reads a tag from p[0 .. avail); avail > 0.  Bytes after the first follow
 * while bit 8 is set, after a first byte whose low five bits are all ones. */
static int parse_tag(const unsigned char *p, size_t avail, unsigned *tag, size_t *n)
{
    unsigned value = p[0];
    size_t used = 1;
    int more = (p[0] & 0x1F) == 0x1F;
    while (more) {
        if (used == TLV_TAG_MAX)
            return IDM_ERR(IDM_ERR_PARSE, "tag %X... at offset 0 is longer than %d bytes",
                           value, TLV_TAG_MAX);
        if (used == avail)
            return IDM_ERR(IDM_ERR_PARSE, "tag %X... is cut off: the input ends at offset %zu",
                           value, used);
        more = (p[used] & 0x80) != 0;
        value = value << 8 | p[used];
        used++;
    }
    *tag = value;
    *n = used;
    return IDM_OK;
}

/* Reads the length at p[0 .. avail) of the TLV whose tag took `at` bytes. */
static int parse_length(const unsigned char *p, size_t avail, unsigned tag, size_t at,
                        size_t *len, size_t *n)
{
    if (avail == 0)
        return IDM_ERR(IDM_ERR_PARSE, "tag %02X has no length: the input ends at offset %zu",
                       tag, at);
    if (p[0] < 0x80) {
        *len = p[0];
        *n = 1;
        return IDM_OK;
    }
    if (p[0] == 0x80)
        return IDM_ERR(IDM_ERR_PARSE,
                       "tag %02X has an indefinite length (80) at offset %zu; "
                       "PIV objects have definite lengths",
                       tag, at);
    if (p[0] > 0x82)
        return IDM_ERR(IDM_ERR_PARSE,
                       "tag %02X has length form %02X at offset %zu; only 00-7F, 81 and 82 "
                       "are supported",
                       tag, p[0], at);
    size_t count = p[0] & 0x7Fu;
    if (avail - 1 < count)
        return IDM_ERR(IDM_ERR_PARSE,
                       "tag %02X: length form %02X at offset %zu needs %zu more bytes, "
                       "%zu remain",
                       tag, p[0], at, count, avail - 1);
    *len = count == 1 ? p[1] : (size_t)p[1] << 8 | p[2];
    *n = 1 + count;
    return IDM_OK;
}

int idm_tlv_next(const unsigned char **p, const unsigned char *end, struct idm_tlv *out)
{
    if (p == NULL || *p == NULL || end == NULL || out == NULL || *p > end)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "TLV cursor is NULL or past its end");
    const unsigned char *start = *p;
    size_t avail = (size_t)(end - start);
    if (avail == 0)
        return IDM_ERR(IDM_ERR_PARSE, "no TLV at offset 0: the input ends there");

    /* Zeroed because the compiler cannot see that IDM_ERR never returns IDM_OK. */
    unsigned tag = 0;
    size_t tag_n = 0, len = 0, len_n = 0;
    int rc = parse_tag(start, avail, &tag, &tag_n);
    if (rc != IDM_OK)
        return rc;
    rc = parse_length(start + tag_n, avail - tag_n, tag, tag_n, &len, &len_n);
    if (rc != IDM_OK)
        return rc;
    size_t header = tag_n + len_n;
    if (len > avail - header)
        return IDM_ERR(IDM_ERR_PARSE,
                       "tag %02X: length %zu at offset %zu runs past the end: %zu bytes remain",
                       tag, len, tag_n, avail - header);

    out->tag = tag;
    out->value = start + header;
    out->len = len;
    *p = start + header + len;
    return IDM_OK;
}

int idm_tlv_find(const unsigned char *buf, size_t len, unsigned tag, struct idm_tlv *out)
{
    if ((buf == NULL && len != 0) || out == NULL)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "TLV buffer or result is NULL");
    const unsigned char *p = buf;
    /* buf is NULL for an empty card answer, and NULL + 0 is undefined in C. */
    const unsigned char *end = len != 0 ? buf + len : buf;
    while (p != end) {
        size_t at = (size_t)(p - buf);
        struct idm_tlv tlv;
        int rc = idm_tlv_next(&p, end, &tlv);
        if (rc != IDM_OK)
            return idm_error_wrap(NULL, rc, "TLV at offset %zu of %zu", at, len);
        if (tlv.tag == tag) {
            *out = tlv;
            return IDM_OK;
        }
    }
    return IDM_ERR(IDM_ERR_NOT_FOUND, "tag %02X not found among the TLVs of %zu bytes", tag,
                   len);
}

/* Writes the tag's bytes; the tag is well-formed when reading them back
 * gives the same tag from exactly those bytes. */
static int encode_tag(unsigned tag, unsigned char *bytes, size_t *n)
{
    size_t count = tag > 0xFFFFu ? 3 : tag > 0xFFu ? 2 : 1;
    for (size_t i = 0; i < count; i++)
        bytes[i] = (unsigned char)(tag >> 8 * (count - 1 - i));
    unsigned parsed = 0;
    size_t used = 0;
    if (tag > 0xFFFFFFu || parse_tag(bytes, count, &parsed, &used) != IDM_OK || used != count)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "tag %X is not a well-formed BER tag of 1-%d bytes",
                       tag, TLV_TAG_MAX);
    *n = count;
    return IDM_OK;
}

/* Writes the shortest length form for len (<= TLV_VALUE_MAX). */
static size_t encode_length(size_t len, unsigned char *bytes)
{
    if (len < 0x80) {
        bytes[0] = (unsigned char)len;
        return 1;
    }
    if (len <= 0xFF) {
        bytes[0] = 0x81;
        bytes[1] = (unsigned char)len;
        return 2;
    }
    bytes[0] = 0x82;
    bytes[1] = (unsigned char)(len >> 8);
    bytes[2] = (unsigned char)len;
    return 3;
}

int idm_tlv_append(unsigned char **buf, size_t *len, unsigned tag, const unsigned char *value,
                   size_t value_len)
{
    if (buf == NULL || len == NULL || (value == NULL && value_len != 0))
        return IDM_ERR(IDM_ERR_INVALID_ARG, "TLV buffer, its length or the value is NULL");
    if (value_len > TLV_VALUE_MAX)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "value of tag %02X is %zu bytes; at most %u fit",
                       tag, value_len, TLV_VALUE_MAX);
    unsigned char header[TLV_TAG_MAX + 3];
    size_t tag_n = 0;
    int rc = encode_tag(tag, header, &tag_n);
    if (rc != IDM_OK)
        return rc;
    size_t header_n = tag_n + encode_length(value_len, header + tag_n);

    size_t need = header_n + value_len;
    if (need > SIZE_MAX - *len)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "TLV buffer of %zu bytes cannot grow by %zu", *len,
                       need);
    unsigned char *grown = realloc(*buf, *len + need);
    if (grown == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot grow a TLV buffer to %zu bytes", *len + need);
    memcpy(grown + *len, header, header_n);
    if (value_len != 0)
        memcpy(grown + *len + header_n, value, value_len);
    *buf = grown;
    *len += need;
    return IDM_OK;
}
