/* White-box: the streaming CSV reader (src/model/csv.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <idm/idm.h>

#include "core/error_impl.h"
#include "model/csv.h"
#include "runner.h"

/* The reader's read size (CSV_CHUNK in csv.c): the boundary tests put the
 * interesting bytes on either side of it. */
#define READ_CHUNK 65536

struct record {
    size_t n;
    const char *const *fields;
    const size_t *lens;
    size_t line;
};

static int next_record(idm_csv_reader *r, struct record *rec)
{
    return idm_csv_next(r, &rec->n, &rec->fields, &rec->lens, &rec->line);
}

static idm_csv_reader *open_bytes(const char *data, size_t len)
{
    idm_csv_reader *r = NULL;
    ck_assert_int_eq(idm_csv_reader_open_memory(&r, data, len), IDM_OK);
    ck_assert_ptr_nonnull(r);
    return r;
}

static idm_csv_reader *open_text(const char *text)
{
    return open_bytes(text, strlen(text));
}

/* Reads the next record and asserts its line and fields (NULL-terminated list). */
static void expect_record(idm_csv_reader *r, size_t line, ...)
{
    struct record rec;
    int rc = next_record(r, &rec);
    ck_assert_msg(rc == IDM_OK, "expected the record on line %zu, got %s: %s", line,
                  idm_strerror_name(rc), idm_last_error_message());
    ck_assert_uint_eq(rec.line, line);
    va_list ap;
    va_start(ap, line);
    size_t i = 0;
    for (const char *want = va_arg(ap, const char *); want != NULL;
         want = va_arg(ap, const char *), i++) {
        ck_assert_msg(i < rec.n, "line %zu: only %zu fields", line, rec.n);
        ck_assert_uint_eq(rec.lens[i], strlen(want));
        ck_assert_mem_eq(rec.fields[i], want, rec.lens[i] + 1);
    }
    va_end(ap);
    ck_assert_uint_eq(rec.n, i);
}

static void expect_end(idm_csv_reader *r)
{
    struct record rec = {99, NULL, NULL, 99};
    ck_assert_int_eq(next_record(r, &rec), IDM_OK);
    ck_assert_uint_eq(rec.n, 0);
    ck_assert_ptr_null(rec.fields);
    ck_assert_uint_eq(rec.line, 99);
}

static void expect_error(idm_csv_reader *r, int code, const char *message)
{
    struct record rec;
    int rc = next_record(r, &rec);
    ck_assert_idm_error(rc, code, message);
    ck_assert_str_eq(idm_last_error_message(), message);
    ck_assert_uint_eq(rec.n, 0);
}

/* A growable byte string for the large inputs. */
struct text {
    char *data;
    size_t len;
    size_t cap;
};

static void text_reserve(struct text *t, size_t more)
{
    if (t->len + more <= t->cap)
        return;
    size_t cap = t->cap != 0 ? t->cap : 4096;
    while (cap < t->len + more)
        cap *= 2;
    t->data = realloc(t->data, cap);
    ck_assert_ptr_nonnull(t->data);
    t->cap = cap;
}

static void text_add(struct text *t, const char *data, size_t len)
{
    text_reserve(t, len);
    memcpy(t->data + t->len, data, len);
    t->len += len;
}

static void text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

static void text_repeat(struct text *t, char c, size_t count)
{
    text_reserve(t, count);
    memset(t->data + t->len, c, count);
    t->len += count;
}

static void write_temp_file(char *path, size_t path_size, const char *data, size_t len)
{
    snprintf(path, path_size, "/tmp/idm_test_csv_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static idm_csv_reader *open_as_file(char *path, size_t path_size, const char *data, size_t len)
{
    write_temp_file(path, path_size, data, len);
    idm_csv_reader *r = NULL;
    ck_assert_int_eq(idm_csv_reader_open_file(&r, path), IDM_OK);
    ck_assert_ptr_nonnull(r);
    return r;
}

START_TEST(test_simple_records_are_split_at_commas_and_line_feeds)
{
    idm_csv_reader *r = open_text("id,name,role\n1,Ada,admin\n2,Bob,user\n");
    expect_record(r, 1, "id", "name", "role", NULL);
    expect_record(r, 2, "1", "Ada", "admin", NULL);
    expect_record(r, 3, "2", "Bob", "user", NULL);
    expect_end(r);
    idm_csv_reader_free(&r);
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_quoted_fields_keep_commas_and_doubled_quotes_become_one)
{
    idm_csv_reader *r = open_text("\"Doe, Jane\",\"say \"\"hi\"\"\",\"\"\"\",plain\n");
    expect_record(r, 1, "Doe, Jane", "say \"hi\"", "\"", "plain", NULL);
    expect_end(r);
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_quoted_line_breaks_are_data_and_still_counted)
{
    idm_csv_reader *r = open_text("1,\"two\r\nlines\nand a third\",x\r\n"
                                  "2,\"\n\",y\n"
                                  "3,z\n");
    expect_record(r, 1, "1", "two\r\nlines\nand a third", "x", NULL);
    expect_record(r, 4, "2", "\n", "y", NULL);
    expect_record(r, 6, "3", "z", NULL);
    expect_end(r);
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_crlf_and_lf_endings_give_the_same_records)
{
    idm_csv_reader *r = open_text("a,b\r\nc,d\ne,\"f\"\r\ng,h");
    expect_record(r, 1, "a", "b", NULL);
    expect_record(r, 2, "c", "d", NULL);
    expect_record(r, 3, "e", "f", NULL);
    expect_record(r, 4, "g", "h", NULL);
    expect_end(r);
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_lone_cr_in_unquoted_field_is_data)
{
    idm_csv_reader *r = open_text("a\rb,c\r\r\nd\n");
    expect_record(r, 1, "a\rb", "c\r", NULL);
    expect_record(r, 2, "d", NULL);
    expect_end(r);
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_bom_at_start_is_skipped_and_elsewhere_is_data)
{
    idm_csv_reader *r = open_text("\xEF\xBB\xBFid,name\n\xEF\xBB\xBF" "1,x\n");
    expect_record(r, 1, "id", "name", NULL);
    expect_record(r, 2, "\xEF\xBB\xBF" "1", "x", NULL);
    expect_end(r);
    idm_csv_reader_free(&r);

    r = open_text("\xEF\xBB\xBF");
    expect_end(r);
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_empty_lines_are_skipped_but_counted)
{
    idm_csv_reader *r = open_text("\na,b\n\r\n\nc,d\n\n\r\n");
    expect_record(r, 2, "a", "b", NULL);
    expect_record(r, 5, "c", "d", NULL);
    expect_end(r);
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_last_record_may_lack_a_final_line_ending)
{
    idm_csv_reader *r = open_text("a,b\nc,d");
    expect_record(r, 1, "a", "b", NULL);
    expect_record(r, 2, "c", "d", NULL);
    expect_end(r);
    idm_csv_reader_free(&r);

    r = open_text("x,\"y\"");
    expect_record(r, 1, "x", "y", NULL);
    expect_end(r);
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_empty_fields_are_kept)
{
    idm_csv_reader *r = open_text("a,,c\na,b,\n,\n\"\"\n\"\",\n");
    expect_record(r, 1, "a", "", "c", NULL);
    expect_record(r, 2, "a", "b", "", NULL);
    expect_record(r, 3, "", "", NULL);
    /* A quoted empty field is a record, not a blank line. */
    expect_record(r, 4, "", NULL);
    expect_record(r, 5, "", "", NULL);
    expect_end(r);
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_calls_after_the_end_keep_returning_no_fields)
{
    idm_csv_reader *r = open_text("a\n");
    expect_record(r, 1, "a", NULL);
    expect_end(r);
    expect_end(r);
    expect_end(r);
    idm_csv_reader_free(&r);

    r = open_bytes(NULL, 0);
    expect_end(r);
    expect_end(r);
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_unterminated_quote_names_the_line_it_opened_on)
{
    idm_csv_reader *r = open_text("h\n1\n2\n3\n4\n5\nx,y,\"open\nstill open\n");
    for (size_t line = 1; line <= 6; line++) {
        struct record rec;
        ck_assert_int_eq(next_record(r, &rec), IDM_OK);
        ck_assert_uint_eq(rec.line, line);
    }
    expect_error(r, IDM_ERR_PARSE, "line 7, field 3: unterminated quoted field");
    idm_csv_reader_free(&r);

    r = open_text("\"");
    expect_error(r, IDM_ERR_PARSE, "line 1, field 1: unterminated quoted field");
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_quote_inside_unquoted_field_is_refused)
{
    idm_csv_reader *r = open_text("ok\nab\"c,d\n");
    expect_record(r, 1, "ok", NULL);
    expect_error(r, IDM_ERR_PARSE, "line 2, field 1: quote in the middle of an unquoted field");
    idm_csv_reader_free(&r);

    r = open_text("a, \"b\"\n");
    expect_error(r, IDM_ERR_PARSE, "line 1, field 2: quote in the middle of an unquoted field");
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_text_after_closing_quote_is_refused)
{
    idm_csv_reader *r = open_text("a,\"b\"c\n");
    expect_error(r, IDM_ERR_PARSE, "line 1, field 2: text after closing quote");
    idm_csv_reader_free(&r);

    /* A CR after a closing quote must start a CRLF. */
    r = open_text("x\n\"multi\nline\"\rz\n");
    expect_record(r, 1, "x", NULL);
    expect_error(r, IDM_ERR_PARSE, "line 3, field 1: text after closing quote");
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_field_of_65536_bytes_passes_and_65537_is_refused)
{
    struct text t = {0};
    text_str(&t, "a,");
    text_repeat(&t, 'x', IDM_CSV_MAX_FIELD);
    text_str(&t, ",\"");
    text_repeat(&t, 'q', IDM_CSV_MAX_FIELD);
    text_str(&t, "\"\n");
    for (int i = 0; i < 7; i++)
        text_str(&t, "pad\n");
    text_str(&t, "a,");
    text_repeat(&t, 'y', IDM_CSV_MAX_FIELD + 1);
    text_str(&t, "\n");

    idm_csv_reader *r = open_bytes(t.data, t.len);
    struct record rec;
    ck_assert_int_eq(next_record(r, &rec), IDM_OK);
    ck_assert_uint_eq(rec.n, 3);
    ck_assert_uint_eq(rec.lens[1], IDM_CSV_MAX_FIELD);
    ck_assert_uint_eq(strlen(rec.fields[1]), IDM_CSV_MAX_FIELD);
    ck_assert_uint_eq(rec.lens[2], IDM_CSV_MAX_FIELD);
    ck_assert_int_eq(rec.fields[2][IDM_CSV_MAX_FIELD - 1], 'q');
    for (size_t line = 2; line <= 8; line++)
        expect_record(r, line, "pad", NULL);
    expect_error(r, IDM_ERR_PARSE, "line 9, field 2: field longer than 65536 bytes");
    idm_csv_reader_free(&r);
    free(t.data);
}
END_TEST

START_TEST(test_1024_fields_pass_and_1025_are_refused)
{
    struct text t = {0};
    text_str(&t, "a\nb\n");
    text_repeat(&t, ',', IDM_CSV_MAX_FIELDS - 1);
    text_str(&t, "\n");
    text_repeat(&t, ',', IDM_CSV_MAX_FIELDS);
    text_str(&t, "\n");

    idm_csv_reader *r = open_bytes(t.data, t.len);
    expect_record(r, 1, "a", NULL);
    expect_record(r, 2, "b", NULL);
    struct record rec;
    ck_assert_int_eq(next_record(r, &rec), IDM_OK);
    ck_assert_uint_eq(rec.line, 3);
    ck_assert_uint_eq(rec.n, IDM_CSV_MAX_FIELDS);
    ck_assert_uint_eq(rec.lens[IDM_CSV_MAX_FIELDS - 1], 0);
    expect_error(r, IDM_ERR_PARSE, "line 4: more than 1024 fields");
    idm_csv_reader_free(&r);
    free(t.data);
}
END_TEST

START_TEST(test_record_of_1_mib_passes_and_one_byte_more_is_refused)
{
    /* 16 full fields make exactly IDM_CSV_MAX_RECORD bytes. */
    size_t full_fields = IDM_CSV_MAX_RECORD / IDM_CSV_MAX_FIELD;
    struct text t = {0};
    for (size_t i = 0; i < full_fields; i++) {
        if (i > 0)
            text_str(&t, ",");
        text_repeat(&t, (char)('a' + i), IDM_CSV_MAX_FIELD);
    }
    text_str(&t, "\n");
    for (size_t i = 0; i < full_fields; i++) {
        text_repeat(&t, (char)('a' + i), IDM_CSV_MAX_FIELD);
        text_str(&t, ",");
    }
    text_str(&t, "z\n");

    idm_csv_reader *r = open_bytes(t.data, t.len);
    struct record rec;
    ck_assert_int_eq(next_record(r, &rec), IDM_OK);
    ck_assert_uint_eq(rec.n, full_fields);
    size_t total = 0;
    for (size_t i = 0; i < rec.n; i++) {
        total += rec.lens[i];
        ck_assert_int_eq(rec.fields[i][0], 'a' + (int)i);
    }
    ck_assert_uint_eq(total, IDM_CSV_MAX_RECORD);
    expect_error(r, IDM_ERR_PARSE, "line 2: record longer than 1048576 bytes");
    idm_csv_reader_free(&r);
    free(t.data);
}
END_TEST

START_TEST(test_nul_byte_in_a_field_is_refused)
{
    static const char unquoted[] = "1\n2\n3\n4\n\0x\n";
    idm_csv_reader *r = open_bytes(unquoted, sizeof unquoted - 1);
    for (size_t line = 1; line <= 4; line++) {
        struct record rec;
        ck_assert_int_eq(next_record(r, &rec), IDM_OK);
        ck_assert_uint_eq(rec.line, line);
    }
    expect_error(r, IDM_ERR_PARSE, "line 5, field 1: NUL byte in field");
    idm_csv_reader_free(&r);

    static const char quoted[] = "a,\"b\n\0\"\n";
    r = open_bytes(quoted, sizeof quoted - 1);
    expect_error(r, IDM_ERR_PARSE, "line 2, field 2: NUL byte in field");
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_an_error_is_repeated_by_every_later_call)
{
    idm_csv_reader *r = open_text("a\"b\nfine\n");
    expect_error(r, IDM_ERR_PARSE, "line 1, field 1: quote in the middle of an unquoted field");
    idm_error_set(NULL, IDM_ERR_STATE, "something else failed meanwhile");
    expect_error(r, IDM_ERR_PARSE, "line 1, field 1: quote in the middle of an unquoted field");
    expect_error(r, IDM_ERR_PARSE, "line 1, field 1: quote in the middle of an unquoted field");
    idm_csv_reader_free(&r);
}
END_TEST

START_TEST(test_file_written_to_a_temp_file_is_read)
{
    static const char content[] = "\xEF\xBB\xBFid,name\r\n1,\"Doe, Jane\"\r\n\r\n2,\"multi\nline\"";
    char path[64];
    idm_csv_reader *r = open_as_file(path, sizeof path, content, sizeof content - 1);
    expect_record(r, 1, "id", "name", NULL);
    expect_record(r, 2, "1", "Doe, Jane", NULL);
    expect_record(r, 4, "2", "multi\nline", NULL);
    expect_end(r);
    expect_end(r);
    idm_csv_reader_free(&r);
    ck_assert_ptr_null(r);
    unlink(path);
}
END_TEST

START_TEST(test_missing_file_is_an_io_error_naming_the_path)
{
    static char not_a_reader;
    idm_csv_reader *r = (idm_csv_reader *)&not_a_reader; /* must be reset to NULL */
    ck_assert_idm_error(idm_csv_reader_open_file(&r, "/nonexistent/idm/people.csv"), IDM_ERR_IO,
                        "/nonexistent/idm/people.csv");
    ck_assert_str_eq(idm_last_error_message(),
                     "cannot open '/nonexistent/idm/people.csv': No such file or directory");
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_read_failure_is_an_io_error_naming_the_path)
{
    /* fopen accepts a directory; the first read is what fails. */
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/idm_test_csv_dir_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    idm_csv_reader *r = NULL;
    ck_assert_int_eq(idm_csv_reader_open_file(&r, dir), IDM_OK);
    char expected[160];
    snprintf(expected, sizeof expected, "line 1: cannot read '%s': Is a directory", dir);
    expect_error(r, IDM_ERR_IO, expected);
    expect_error(r, IDM_ERR_IO, expected);
    idm_csv_reader_free(&r);
    rmdir(dir);
}
END_TEST

/* 50 fields of 4000 bytes each, about 200 KB: four chunks in one record. */
static void check_record_spanning_chunks(idm_csv_reader *r)
{
    expect_record(r, 1, "head", NULL);
    struct record rec;
    ck_assert_int_eq(next_record(r, &rec), IDM_OK);
    ck_assert_uint_eq(rec.line, 2);
    ck_assert_uint_eq(rec.n, 50);
    for (size_t i = 0; i < rec.n; i++) {
        ck_assert_uint_eq(rec.lens[i], 4000);
        ck_assert_uint_eq(strspn(rec.fields[i], (char[]){(char)('A' + i % 26), '\0'}), 4000);
        ck_assert_int_eq(rec.fields[i][4000], '\0');
    }
    expect_record(r, 3, "tail", NULL);
    expect_end(r);
}

START_TEST(test_record_spanning_several_chunks_is_read_whole)
{
    struct text t = {0};
    text_str(&t, "head\n");
    for (size_t i = 0; i < 50; i++) {
        if (i > 0)
            text_str(&t, ",");
        text_repeat(&t, (char)('A' + i % 26), 4000);
    }
    text_str(&t, "\r\ntail\n");
    ck_assert_uint_gt(t.len, 3 * READ_CHUNK);

    idm_csv_reader *r = open_bytes(t.data, t.len);
    check_record_spanning_chunks(r);
    idm_csv_reader_free(&r);

    char path[64];
    r = open_as_file(path, sizeof path, t.data, t.len);
    check_record_spanning_chunks(r);
    idm_csv_reader_free(&r);
    unlink(path);
    free(t.data);
}
END_TEST

static void check_crlf_split(idm_csv_reader *r)
{
    struct record rec;
    ck_assert_int_eq(next_record(r, &rec), IDM_OK);
    ck_assert_uint_eq(rec.n, 1);
    ck_assert_uint_eq(rec.lens[0], READ_CHUNK - 1);
    ck_assert_int_eq(rec.fields[0][READ_CHUNK - 2], 'x');
    ck_assert_int_eq(next_record(r, &rec), IDM_OK);
    ck_assert_uint_eq(rec.line, 2);
    ck_assert_uint_eq(rec.n, 1);
    ck_assert_uint_eq(rec.lens[0], READ_CHUNK - 4);
    ck_assert_int_eq(rec.fields[0][READ_CHUNK - 5], 'q');
    expect_record(r, 3, "next", NULL);
    expect_end(r);
}

START_TEST(test_crlf_split_between_chunks_ends_the_record)
{
    /* An unquoted record whose CR is the last byte of the first chunk, then a
     * quoted one whose CR after the closing quote ends the second chunk. */
    struct text t = {0};
    text_repeat(&t, 'x', READ_CHUNK - 1);
    text_str(&t, "\r\n\"");
    text_repeat(&t, 'q', READ_CHUNK - 4);
    text_str(&t, "\"\r\nnext\r\n");
    ck_assert_int_eq(t.data[READ_CHUNK - 1], '\r');
    ck_assert_int_eq(t.data[READ_CHUNK], '\n');
    ck_assert_int_eq(t.data[2 * READ_CHUNK - 1], '\r');
    ck_assert_int_eq(t.data[2 * READ_CHUNK], '\n');

    idm_csv_reader *r = open_bytes(t.data, t.len);
    check_crlf_split(r);
    idm_csv_reader_free(&r);

    char path[64];
    r = open_as_file(path, sizeof path, t.data, t.len);
    check_crlf_split(r);
    idm_csv_reader_free(&r);
    unlink(path);
    free(t.data);
}
END_TEST

static void check_doubled_quote_split(idm_csv_reader *r)
{
    struct record rec;
    ck_assert_int_eq(next_record(r, &rec), IDM_OK);
    ck_assert_uint_eq(rec.n, 2);
    ck_assert_uint_eq(rec.lens[0], READ_CHUNK);
    ck_assert_int_eq(rec.fields[0][READ_CHUNK - 3], 'y');
    ck_assert_str_eq(rec.fields[0] + READ_CHUNK - 2, "\"z");
    ck_assert_str_eq(rec.fields[1], "end");
    expect_end(r);
}

START_TEST(test_doubled_quote_split_between_chunks_is_one_quote)
{
    struct text t = {0};
    text_str(&t, "\"");
    text_repeat(&t, 'y', READ_CHUNK - 2);
    text_str(&t, "\"\"z\",end\n");
    ck_assert_int_eq(t.data[READ_CHUNK - 1], '"');
    ck_assert_int_eq(t.data[READ_CHUNK], '"');

    idm_csv_reader *r = open_bytes(t.data, t.len);
    check_doubled_quote_split(r);
    idm_csv_reader_free(&r);

    char path[64];
    r = open_as_file(path, sizeof path, t.data, t.len);
    check_doubled_quote_split(r);
    idm_csv_reader_free(&r);
    unlink(path);
    free(t.data);
}
END_TEST

static int field_is(const struct record *rec, size_t i, const char *want)
{
    return i < rec->n && rec->lens[i] == strlen(want) && strcmp(rec->fields[i], want) == 0;
}

START_TEST(test_50000_records_are_all_read_in_order)
{
    enum { RECORDS = 50000 };
    struct text t = {0};
    text_str(&t, "id,name,note\n");
    for (int i = 0; i < RECORDS; i++) {
        char line[96];
        snprintf(line, sizeof line, "%d,name %d,\"note, %d\"\r\n", i, i, i);
        text_str(&t, line);
    }

    idm_csv_reader *r = open_bytes(t.data, t.len);
    expect_record(r, 1, "id", "name", "note", NULL);
    for (int i = 0; i < RECORDS; i++) {
        char id[16], name[32], note[32];
        snprintf(id, sizeof id, "%d", i);
        snprintf(name, sizeof name, "name %d", i);
        snprintf(note, sizeof note, "note, %d", i);
        struct record rec;
        int rc = next_record(r, &rec);
        /* Compared in plain C: a Check assertion costs a message even when
         * it passes, which makes 50,000 records slow under valgrind. */
        if (rc != IDM_OK || rec.line != (size_t)i + 2 || rec.n != 3 || !field_is(&rec, 0, id) ||
            !field_is(&rec, 1, name) || !field_is(&rec, 2, note))
            ck_abort_msg("record %d was not read back as line %d: %s, %zu fields, line %zu", i,
                         i + 2, rc == IDM_OK ? "IDM_OK" : idm_last_error_message(), rec.n,
                         rec.line);
    }
    expect_end(r);
    idm_csv_reader_free(&r);
    free(t.data);
}
END_TEST

START_TEST(test_null_arguments_are_refused)
{
    idm_csv_reader *r = NULL;
    ck_assert_idm_error(idm_csv_reader_open_memory(NULL, "a", 1), IDM_ERR_INVALID_ARG, "'out'");
    ck_assert_idm_error(idm_csv_reader_open_memory(&r, NULL, 1), IDM_ERR_INVALID_ARG, "'data'");
    ck_assert_ptr_null(r);
    ck_assert_idm_error(idm_csv_reader_open_file(&r, NULL), IDM_ERR_INVALID_ARG, "'path'");
    ck_assert_ptr_null(r);

    struct record rec;
    ck_assert_idm_error(idm_csv_next(NULL, &rec.n, &rec.fields, &rec.lens, &rec.line),
                        IDM_ERR_INVALID_ARG, "'reader'");
    r = open_text("a\n");
    ck_assert_idm_error(idm_csv_next(r, &rec.n, NULL, &rec.lens, &rec.line),
                        IDM_ERR_INVALID_ARG, "'fields'");
    /* A bad argument is not a parse error: the record is still there. */
    expect_record(r, 1, "a", NULL);
    idm_csv_reader_free(&r);
    idm_csv_reader_free(&r);
    idm_csv_reader_free(NULL);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("csv");

    TCase *format = tcase_create("format");
    tcase_add_test(format, test_simple_records_are_split_at_commas_and_line_feeds);
    tcase_add_test(format, test_quoted_fields_keep_commas_and_doubled_quotes_become_one);
    tcase_add_test(format, test_quoted_line_breaks_are_data_and_still_counted);
    tcase_add_test(format, test_crlf_and_lf_endings_give_the_same_records);
    tcase_add_test(format, test_lone_cr_in_unquoted_field_is_data);
    tcase_add_test(format, test_bom_at_start_is_skipped_and_elsewhere_is_data);
    tcase_add_test(format, test_empty_lines_are_skipped_but_counted);
    tcase_add_test(format, test_last_record_may_lack_a_final_line_ending);
    tcase_add_test(format, test_empty_fields_are_kept);
    tcase_add_test(format, test_calls_after_the_end_keep_returning_no_fields);
    suite_add_tcase(s, format);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_unterminated_quote_names_the_line_it_opened_on);
    tcase_add_test(errors, test_quote_inside_unquoted_field_is_refused);
    tcase_add_test(errors, test_text_after_closing_quote_is_refused);
    tcase_add_test(errors, test_nul_byte_in_a_field_is_refused);
    tcase_add_test(errors, test_an_error_is_repeated_by_every_later_call);
    tcase_add_test(errors, test_null_arguments_are_refused);
    suite_add_tcase(s, errors);

    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_field_of_65536_bytes_passes_and_65537_is_refused);
    tcase_add_test(limits, test_1024_fields_pass_and_1025_are_refused);
    tcase_add_test(limits, test_record_of_1_mib_passes_and_one_byte_more_is_refused);
    suite_add_tcase(s, limits);

    TCase *streaming = tcase_create("streaming");
    /* Megabyte inputs read byte by byte: generous under valgrind. */
    tcase_set_timeout(streaming, 60);
    tcase_add_test(streaming, test_file_written_to_a_temp_file_is_read);
    tcase_add_test(streaming, test_missing_file_is_an_io_error_naming_the_path);
    tcase_add_test(streaming, test_read_failure_is_an_io_error_naming_the_path);
    tcase_add_test(streaming, test_record_spanning_several_chunks_is_read_whole);
    tcase_add_test(streaming, test_crlf_split_between_chunks_ends_the_record);
    tcase_add_test(streaming, test_doubled_quote_split_between_chunks_is_one_quote);
    tcase_add_test(streaming, test_50000_records_are_all_read_in_order);
    suite_add_tcase(s, streaming);
    return s;
}
