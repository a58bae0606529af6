#include "model/csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"

/* Bytes taken from the input at a time, from fread or from the caller's
 * buffer alike, so that both sources cross chunk boundaries the same way. */
#define CSV_CHUNK 65536

/* What peek_byte() and next_byte() return instead of a byte. */
#define CSV_END (-1)
#define CSV_FAILED (-2)

/* The record text never needs more: every byte of a record plus one NUL per
 * field.  The limits are checked before each byte, so growth stops here. */
#define CSV_MAX_TEXT ((size_t)IDM_CSV_MAX_RECORD + IDM_CSV_MAX_FIELDS)

#define CSV_FIRST_TEXT_CAP 256
#define CSV_FIRST_FIELDS_CAP 16

struct idm_csv_reader {
    /* The source: a file the reader owns, or a buffer the caller owns. */
    FILE *file;
    char *path;
    unsigned char *file_chunk;
    const unsigned char *mem;
    size_t mem_len;
    size_t mem_pos;

    /* The chunk being parsed. */
    const unsigned char *chunk;
    size_t chunk_len;
    size_t chunk_pos;
    int bom_checked;
    int input_ended;

    size_t line; /* physical line of the next unread byte */

    /* The current record: fields back to back, each NUL-terminated.  Offsets
     * rather than pointers while parsing, because realloc moves the text. */
    char *text;
    size_t text_len;
    size_t text_cap;
    size_t record_bytes;
    const char **fields;
    size_t *offsets;
    size_t *lens;
    size_t nfields;
    size_t fields_cap;

    /* Once set, every call repeats it: the position in the input is lost. */
    int error;
    char error_message[1024];
};

static int reader_fail(idm_csv_reader *r, int code, const char *fmt, ...) IDM_PRINTF(3, 4);

static int reader_fail(idm_csv_reader *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error_message, sizeof r->error_message, fmt, ap);
    va_end(ap);
    r->error = code;
    return idm_error_set(NULL, code, "%s", r->error_message);
}

/* strerror_r rather than strerror: readers may run on several threads. */
static void describe_errno(int err, char *buf, size_t size)
{
    if (err == 0)
        snprintf(buf, size, "unknown error");
    else if (strerror_r(err, buf, size) != 0)
        snprintf(buf, size, "error %d", err);
}

/* Makes the next chunk current.  Returns 1, 0 at the end of input, or
 * CSV_FAILED with the reader's error set. */
static int refill(idm_csv_reader *r)
{
    if (r->input_ended)
        return 0;
    size_t n;
    if (r->file != NULL) {
        errno = 0;
        n = fread(r->file_chunk, 1, CSV_CHUNK, r->file);
        if (n == 0 && ferror(r->file)) {
            char reason[256];
            describe_errno(errno, reason, sizeof reason);
            reader_fail(r, IDM_ERR_IO, "line %zu: cannot read '%s': %s", r->line, r->path,
                        reason);
            return CSV_FAILED;
        }
        r->chunk = r->file_chunk;
    } else {
        n = r->mem_len - r->mem_pos;
        if (n > CSV_CHUNK)
            n = CSV_CHUNK;
        /* Not computed for n == 0: the buffer may be NULL then. */
        if (n != 0)
            r->chunk = r->mem + r->mem_pos;
        r->mem_pos += n;
    }
    if (n == 0) {
        r->input_ended = 1;
        return 0;
    }
    r->chunk_len = n;
    r->chunk_pos = 0;
    /* fread fills the whole chunk unless the input ends, so a BOM is never
     * split across the first two chunks. */
    if (!r->bom_checked) {
        r->bom_checked = 1;
        if (n >= 3 && memcmp(r->chunk, "\xEF\xBB\xBF", 3) == 0)
            r->chunk_pos = 3;
    }
    return 1;
}

static int peek_byte(idm_csv_reader *r)
{
    while (r->chunk_pos == r->chunk_len) {
        int rc = refill(r);
        if (rc != 1)
            return rc == 0 ? CSV_END : CSV_FAILED;
    }
    return r->chunk[r->chunk_pos];
}

static int next_byte(idm_csv_reader *r)
{
    int c = peek_byte(r);
    if (c >= 0)
        r->chunk_pos++;
    return c;
}

static int reserve_text(idm_csv_reader *r, size_t need)
{
    if (need <= r->text_cap)
        return IDM_OK;
    size_t cap = r->text_cap != 0 ? r->text_cap : CSV_FIRST_TEXT_CAP;
    while (cap < need)
        cap *= 2;
    if (cap > CSV_MAX_TEXT && need <= CSV_MAX_TEXT)
        cap = CSV_MAX_TEXT;
    char *grown = realloc(r->text, cap);
    if (grown == NULL)
        return reader_fail(r, IDM_ERR_NO_MEMORY, "line %zu: cannot allocate %zu bytes for a record",
                           r->line, cap);
    r->text = grown;
    r->text_cap = cap;
    return IDM_OK;
}

static int reserve_fields(idm_csv_reader *r, size_t need)
{
    if (need <= r->fields_cap)
        return IDM_OK;
    size_t cap = r->fields_cap != 0 ? r->fields_cap * 2 : CSV_FIRST_FIELDS_CAP;
    if (cap > IDM_CSV_MAX_FIELDS)
        cap = IDM_CSV_MAX_FIELDS;
    /* Each array keeps its contents when the next realloc fails, and
     * fields_cap only grows once all three have. */
    const char **fields = realloc(r->fields, cap * sizeof *fields);
    if (fields != NULL)
        r->fields = fields;
    size_t *offsets = fields != NULL ? realloc(r->offsets, cap * sizeof *offsets) : NULL;
    if (offsets != NULL)
        r->offsets = offsets;
    size_t *lens = offsets != NULL ? realloc(r->lens, cap * sizeof *lens) : NULL;
    if (lens == NULL)
        return reader_fail(r, IDM_ERR_NO_MEMORY, "line %zu: cannot allocate room for %zu fields",
                           r->line, cap);
    r->lens = lens;
    r->fields_cap = cap;
    return IDM_OK;
}

/* The field being read is number nfields + 1, counted from 1 as in messages. */
static size_t current_field(const idm_csv_reader *r)
{
    return r->nfields + 1;
}

static int start_field(idm_csv_reader *r)
{
    if (r->nfields == IDM_CSV_MAX_FIELDS)
        return reader_fail(r, IDM_ERR_PARSE, "line %zu: more than %d fields", r->line,
                           IDM_CSV_MAX_FIELDS);
    int rc = reserve_fields(r, r->nfields + 1);
    if (rc != IDM_OK)
        return rc;
    r->offsets[r->nfields] = r->text_len;
    return IDM_OK;
}

static int append_byte(idm_csv_reader *r, int c)
{
    /* Strings are handed out NUL-terminated; an embedded NUL would cut them. */
    if (c == '\0')
        return reader_fail(r, IDM_ERR_PARSE, "line %zu, field %zu: NUL byte in field", r->line,
                           current_field(r));
    if (r->text_len - r->offsets[r->nfields] >= IDM_CSV_MAX_FIELD)
        return reader_fail(r, IDM_ERR_PARSE, "line %zu, field %zu: field longer than %d bytes",
                           r->line, current_field(r), IDM_CSV_MAX_FIELD);
    if (r->record_bytes >= IDM_CSV_MAX_RECORD)
        return reader_fail(r, IDM_ERR_PARSE, "line %zu: record longer than %u bytes", r->line,
                           IDM_CSV_MAX_RECORD);
    int rc = reserve_text(r, r->text_len + 2); /* the byte and the field's NUL */
    if (rc != IDM_OK)
        return rc;
    r->text[r->text_len++] = (char)c;
    r->record_bytes++;
    return IDM_OK;
}

static int end_field(idm_csv_reader *r)
{
    int rc = reserve_text(r, r->text_len + 1);
    if (rc != IDM_OK)
        return rc;
    r->lens[r->nfields] = r->text_len - r->offsets[r->nfields];
    r->text[r->text_len++] = '\0';
    r->nfields++;
    return IDM_OK;
}

/* After a CR: consumes the LF of a CRLF.  Returns 1 if there was one, 0 if
 * the CR stands alone, or CSV_FAILED. */
static int take_lf_after_cr(idm_csv_reader *r)
{
    int c = peek_byte(r);
    if (c == CSV_FAILED)
        return CSV_FAILED;
    if (c != '\n')
        return 0;
    next_byte(r);
    r->line++;
    return 1;
}

/* Reads an unquoted field up to its comma (*more = 1) or the end of the
 * record (*more = 0). */
static int read_unquoted(idm_csv_reader *r, int *more)
{
    for (;;) {
        int c = next_byte(r);
        if (c == CSV_FAILED)
            return r->error;
        if (c == CSV_END) {
            *more = 0;
            return IDM_OK;
        }
        if (c == ',') {
            *more = 1;
            return IDM_OK;
        }
        if (c == '\n') {
            r->line++;
            *more = 0;
            return IDM_OK;
        }
        if (c == '"')
            return reader_fail(r, IDM_ERR_PARSE,
                               "line %zu, field %zu: quote in the middle of an unquoted field",
                               r->line, current_field(r));
        if (c == '\r') {
            int lf = take_lf_after_cr(r);
            if (lf == CSV_FAILED)
                return r->error;
            if (lf) {
                *more = 0;
                return IDM_OK;
            }
        }
        int rc = append_byte(r, c);
        if (rc != IDM_OK)
            return rc;
    }
}

/* What may follow a closing quote: a comma, a line ending or the end. */
static int read_after_closing_quote(idm_csv_reader *r, int *more)
{
    int c = next_byte(r);
    if (c == CSV_FAILED)
        return r->error;
    *more = c == ',';
    if (c == ',' || c == CSV_END)
        return IDM_OK;
    if (c == '\n') {
        r->line++;
        return IDM_OK;
    }
    if (c == '\r') {
        int lf = take_lf_after_cr(r);
        if (lf == CSV_FAILED)
            return r->error;
        if (lf)
            return IDM_OK;
    }
    return reader_fail(r, IDM_ERR_PARSE, "line %zu, field %zu: text after closing quote", r->line,
                       current_field(r));
}

static int read_quoted(idm_csv_reader *r, int *more)
{
    next_byte(r); /* the opening quote, already peeked */
    /* The end of input says nothing about where the quote was left open. */
    size_t open_line = r->line;
    for (;;) {
        int c = next_byte(r);
        if (c == CSV_FAILED)
            return r->error;
        if (c == CSV_END)
            return reader_fail(r, IDM_ERR_PARSE, "line %zu, field %zu: unterminated quoted field",
                               open_line, current_field(r));
        if (c == '"') {
            int after = peek_byte(r);
            if (after == CSV_FAILED)
                return r->error;
            if (after != '"')
                return read_after_closing_quote(r, more);
            next_byte(r); /* "" is one quote */
        }
        int rc = append_byte(r, c);
        if (rc != IDM_OK)
            return rc;
        /* Counted after the append, so a fault there names the line the LF ends. */
        if (c == '\n')
            r->line++;
    }
}

/* Reads the fields of one record; *blank says it was only a line ending. */
static int read_fields(idm_csv_reader *r, int *blank)
{
    for (;;) {
        int rc = start_field(r);
        if (rc != IDM_OK)
            return rc;
        int c = peek_byte(r);
        if (c == CSV_FAILED)
            return r->error;
        int quoted = c == '"';
        int more = 0;
        rc = quoted ? read_quoted(r, &more) : read_unquoted(r, &more);
        if (rc != IDM_OK)
            return rc;
        rc = end_field(r);
        if (rc != IDM_OK)
            return rc;
        if (!more) {
            *blank = !quoted && r->nfields == 1 && r->lens[0] == 0;
            return IDM_OK;
        }
    }
}

/* Reads the next non-blank record; r->nfields is 0 at the end of input. */
static int read_record(idm_csv_reader *r, size_t *start_line)
{
    for (;;) {
        r->text_len = 0;
        r->record_bytes = 0;
        r->nfields = 0;
        int c = peek_byte(r);
        if (c == CSV_FAILED)
            return r->error;
        if (c == CSV_END)
            return IDM_OK;
        *start_line = r->line;
        int blank = 0;
        int rc = read_fields(r, &blank);
        if (rc != IDM_OK)
            return rc;
        if (!blank)
            return IDM_OK;
    }
}

static int reader_new(idm_csv_reader **out)
{
    idm_csv_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return idm_error_set(NULL, IDM_ERR_NO_MEMORY, "cannot allocate a CSV reader of %zu bytes",
                             sizeof *r);
    r->line = 1;
    *out = r;
    return IDM_OK;
}

int idm_csv_reader_open_file(idm_csv_reader **out, const char *path)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(path);

    idm_csv_reader *r = NULL;
    int rc = reader_new(&r);
    if (rc != IDM_OK)
        return rc;
    size_t path_size = strlen(path) + 1;
    r->path = malloc(path_size);
    r->file_chunk = malloc(CSV_CHUNK);
    if (r->path == NULL || r->file_chunk == NULL) {
        idm_csv_reader_free(&r);
        return idm_error_set(NULL, IDM_ERR_NO_MEMORY,
                             "cannot allocate a CSV read buffer of %d bytes for '%s'", CSV_CHUNK,
                             path);
    }
    memcpy(r->path, path, path_size);
    r->file = fopen(path, "rb");
    if (r->file == NULL) {
        char reason[256];
        describe_errno(errno, reason, sizeof reason);
        idm_csv_reader_free(&r);
        return idm_error_set(NULL, IDM_ERR_IO, "cannot open '%s': %s", path, reason);
    }
    *out = r;
    return IDM_OK;
}

int idm_csv_reader_open_memory(idm_csv_reader **out, const char *data, size_t len)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    if (data == NULL && len != 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'data' is NULL but 'len' is %zu", len);

    idm_csv_reader *r = NULL;
    int rc = reader_new(&r);
    if (rc != IDM_OK)
        return rc;
    r->mem = (const unsigned char *)data;
    r->mem_len = len;
    *out = r;
    return IDM_OK;
}

void idm_csv_reader_free(idm_csv_reader **reader)
{
    if (reader == NULL || *reader == NULL)
        return;
    idm_csv_reader *r = *reader;
    if (r->file != NULL)
        fclose(r->file);
    free(r->path);
    free(r->file_chunk);
    free(r->text);
    free(r->fields);
    free(r->offsets);
    free(r->lens);
    free(r);
    *reader = NULL;
}

int idm_csv_next(idm_csv_reader *reader, size_t *nfields, const char *const **fields,
                 const size_t **lens, size_t *line)
{
    IDM_CHECK_NOT_NULL(reader);
    IDM_CHECK_NOT_NULL(nfields);
    IDM_CHECK_NOT_NULL(fields);
    IDM_CHECK_NOT_NULL(lens);
    IDM_CHECK_NOT_NULL(line);
    *nfields = 0;
    if (reader->error != IDM_OK)
        return idm_error_set(NULL, reader->error, "%s", reader->error_message);

    size_t start_line = 0;
    int rc = read_record(reader, &start_line);
    if (rc != IDM_OK)
        return rc;
    if (reader->nfields == 0)
        return IDM_OK;
    for (size_t i = 0; i < reader->nfields; i++)
        reader->fields[i] = reader->text + reader->offsets[i];
    *nfields = reader->nfields;
    *fields = reader->fields;
    *lens = reader->lens;
    *line = start_line;
    return IDM_OK;
}
