/*
 * BER-TLV objects read from cards (src/backends/encoder/tlv.c): walks the
 * input as PIV objects are walked, descending into constructed values, and
 * holds the parser to two properties besides not crashing: every value lies
 * inside the input, and every element re-encodes (idm_tlv_append) to
 * bytes that parse back to the same tag and value.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/encoder/tlv.h"
#include "fuzz.h"
#include <idm/error.h>

#define DEPTH_MAX 8

static const unsigned char *input_start, *input_end;

static void check(int ok)
{
    if (!ok)
        abort();
}

/* 1 when the first tag byte says constructed (bit 6 of the first byte). */
static int constructed(unsigned tag)
{
    unsigned first = tag;
    while (first > 0xFF)
        first >>= 8;
    return (first & 0x20) != 0;
}

static void round_trip(const struct idm_tlv *e)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    if (idm_tlv_append(&buf, &len, e->tag, e->value, e->len) != IDM_OK)
        return; /* a tag or length the writer does not make (a parse-only form) */
    const unsigned char *p = buf;
    struct idm_tlv again;
    check(idm_tlv_next(&p, buf + len, &again) == IDM_OK);
    check(p == buf + len && again.tag == e->tag && again.len == e->len &&
          memcmp(again.value, e->value, e->len) == 0);
    free(buf);
}

static void walk(const unsigned char *p, const unsigned char *end, int depth)
{
    struct idm_tlv e;
    while (p < end && idm_tlv_next(&p, end, &e) == IDM_OK) {
        check(e.value >= input_start && e.value + e.len <= input_end && e.value + e.len <= p);
        round_trip(&e);
        if (constructed(e.tag) && depth < DEPTH_MAX)
            walk(e.value, e.value + e.len, depth + 1);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

void fuzz_teardown(void)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_start = data;
    input_end = data + size;
    walk(data, data + size, 0);
    /* the tags libidm looks for in PIV objects and card answers */
    static const unsigned tags[] = {0x53, 0x7C, 0x7F49, 0x30, 0x34, 0x3E, 0xFE, 0x5FC102,
                                    0x5FC105, 0x9F7F, 0x81, 0x82, 0x86};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        struct idm_tlv e;
        if (idm_tlv_find(data, size, tags[i], &e) == IDM_OK)
            check(e.tag == tags[i] && e.value >= data && e.value + e.len <= data + size);
    }
    return 0;
}
