/* White-box: the strict JSON readers and the string writer (src/core/json.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/idm.h>

#include "core/buffer_impl.h"
#include "core/json.h"
#include "runner.h"

#define MAX_MEMBERS 8

/* Parses text (strlen bytes) and asserts it gives n members. */
static struct idm_json_member *parse_ok(const char *text, size_t n)
{
    struct idm_json_member *m = NULL;
    size_t got = 99;
    int rc = idm_json_parse_strings(text, strlen(text), MAX_MEMBERS, &m, &got);
    ck_assert_msg(rc == IDM_OK, "%s refused: %s", text, idm_last_error_message());
    ck_assert_uint_eq(got, n);
    return m;
}

struct refusal {
    const char *text;
    size_t len; /* 0: strlen(text) */
    const char *needle;
};

/* Each document must be refused with IDM_ERR_PARSE, a message that
 * contains the needle, and nothing handed out. */
static void expect_refusals(const struct refusal *rows, size_t count, size_t max_members)
{
    struct faults f = {0};
    for (size_t i = 0; i < count; i++) {
        size_t len = rows[i].len != 0 ? rows[i].len : strlen(rows[i].text);
        struct idm_json_member *m = (struct idm_json_member *)&f;
        size_t n = 99;
        int rc = idm_json_parse_strings(rows[i].text, len, max_members, &m, &n);
        if (rc != IDM_ERR_PARSE)
            fault(&f, "row %zu: expected IDM_ERR_PARSE, got %s (%s);", i, idm_strerror_name(rc),
                  idm_last_error_message());
        else if (strstr(idm_last_error_message(), rows[i].needle) == NULL)
            fault(&f, "row %zu: message \"%s\" does not mention \"%s\";", i,
                  idm_last_error_message(), rows[i].needle);
        if (m != NULL || n != 0)
            fault(&f, "row %zu: out %p, n %zu after a refusal;", i, (void *)m, n);
        if (rc == IDM_OK)
            idm_json_members_free(m, n);
    }
    ck_assert_no_faults(&f);
}

START_TEST(test_parse_reads_members_in_document_order)
{
    struct idm_json_member *m =
        parse_ok(" \t\r\n{ \"message_id\" : \"m1\",\n\"status\":\"produced\" , \"x\":\"\"}\n ", 3);
    ck_assert_str_eq(m[0].key, "message_id");
    ck_assert_str_eq(m[0].value, "m1");
    ck_assert_str_eq(m[1].key, "status");
    ck_assert_str_eq(m[1].value, "produced");
    ck_assert_str_eq(m[2].key, "x");
    ck_assert_str_eq(m[2].value, "");
    idm_json_members_free(m, 3);
}
END_TEST

START_TEST(test_parse_accepts_empty_object)
{
    struct idm_json_member *m = parse_ok("{ }", 0);
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_parse_decodes_escapes_and_surrogate_pairs)
{
    struct idm_json_member *m = parse_ok(
        "{\"k\\u00e9\":\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t \\u00e9\\u20AC\\ud83d\\ude00\\u0001\"}",
        1);
    ck_assert_str_eq(m[0].key, "k\xc3\xa9");
    ck_assert_str_eq(m[0].value, "q\"b\\s/b\bf\fn\nr\rt\t \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x01");
    idm_json_members_free(m, 1);
}
END_TEST

START_TEST(test_parse_keeps_raw_utf8)
{
    struct idm_json_member *m = parse_ok("{\"name\":\"J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x98\x80"
                                         " \xf4\x8f\xbf\xbf\"}",
                                         1);
    ck_assert_str_eq(m[0].value, "J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
    idm_json_members_free(m, 1);
}
END_TEST

START_TEST(test_parse_refuses_other_top_levels)
{
    static const struct refusal rows[] = {
        {"", 0, "at byte 0: empty input"},
        {" \n ", 0, "at byte 3: expected '{'"},
        {"[]", 0, "at byte 0: expected '{'"},
        {"\"x\"", 0, "at byte 0: expected '{'"},
        {"42", 0, "expected '{'"},
        {"null", 0, "expected '{'"},
        {"\xef\xbb\xbf{}", 0, "at byte 0: expected '{'"},
        {"{} x", 0, "at byte 3: more data after the object"},
        {"{}{}", 0, "at byte 2: more data after the object"},
        {"{\"a\":\"1\"}}", 0, "at byte 9: more data after the object"},
    };
    expect_refusals(rows, sizeof rows / sizeof rows[0], MAX_MEMBERS);
    /* An empty input from a NULL pointer is the same empty input. */
    struct idm_json_member *m = NULL;
    size_t n = 0;
    ck_assert_idm_error(idm_json_parse_strings(NULL, 0, MAX_MEMBERS, &m, &n), IDM_ERR_PARSE,
                        "empty input");
}
END_TEST

START_TEST(test_parse_refuses_values_that_are_not_strings)
{
    static const struct refusal rows[] = {
        {"{\"a\":{}}", 0, "at byte 5: member 'a' is not a string"},
        {"{\"a\":{\"b\":\"c\"}}", 0, "member 'a' is not a string"},
        {"{\"a\":[]}", 0, "member 'a' is not a string"},
        {"{\"a\":[\"x\"]}", 0, "member 'a' is not a string"},
        {"{\"a\":1}", 0, "member 'a' is not a string"},
        {"{\"a\":-1.5e3}", 0, "member 'a' is not a string"},
        {"{\"a\":true}", 0, "member 'a' is not a string"},
        {"{\"a\":false}", 0, "member 'a' is not a string"},
        {"{\"a\":null}", 0, "member 'a' is not a string"},
        {"{\"ok\":\"1\",\"chip_serial\":42}", 0, "at byte 24: member 'chip_serial' is not"},
        {"{\"a\":'x'}", 0, "member 'a' is not a string"},
        {"{\"a\":}", 0, "at byte 5: member 'a' has no value"},
        {"{\"a\":", 0, "member 'a' has no value"},
    };
    expect_refusals(rows, sizeof rows / sizeof rows[0], MAX_MEMBERS);
}
END_TEST

START_TEST(test_parse_refuses_broken_structure)
{
    static const struct refusal rows[] = {
        {"{\"a\":\"1\",}", 0, "at byte 8: trailing comma"},
        {"{\"a\":\"1\" , }", 0, "at byte 9: trailing comma"},
        {"{,}", 0, "at byte 1: expected a member name"},
        {"{\"a\" \"1\"}", 0, "at byte 5: expected ':' after member 'a'"},
        {"{\"a\"}", 0, "expected ':'"},
        {"{\"a\":\"1\"", 0, "at byte 8: the object is not closed"},
        {"{\"a\":\"1\";\"b\":\"2\"}", 0, "at byte 8: expected ',' or '}'"},
        {"{\"a\":\"1\" \"b\":\"2\"}", 0, "expected ',' or '}'"},
        {"{a:\"1\"}", 0, "at byte 1: expected a member name in double quotes"},
        {"{'a':\"1\"}", 0, "expected a member name"},
        {"{", 0, "at byte 1: expected a member name"},
        {"{\"a\":\"1\",,\"b\":\"2\"}", 0, "expected a member name"},
    };
    expect_refusals(rows, sizeof rows / sizeof rows[0], MAX_MEMBERS);
}
END_TEST

START_TEST(test_parse_refuses_duplicate_members)
{
    static const struct refusal rows[] = {
        {"{\"a\":\"1\",\"a\":\"2\"}", 0, "at byte 9: duplicate member 'a'"},
        /* The same name spelled with an escape is the same name. */
        {"{\"a\":\"1\",\"\\u0061\":\"2\"}", 0, "duplicate member '\\u0061'"},
        {"{\"status\":\"1\",\"b\":\"x\",\"status\":\"2\"}", 0, "duplicate member 'status'"},
    };
    expect_refusals(rows, sizeof rows / sizeof rows[0], MAX_MEMBERS);
}
END_TEST

START_TEST(test_parse_refuses_bad_strings)
{
    static const struct refusal rows[] = {
        {"{\"a\":\"1}", 0, "at byte 8: the string that starts at byte 5 is not closed"},
        {"{\"a", 0, "the string that starts at byte 1 is not closed"},
        {"{\"a\":\"x\\\"}", 0, "is not closed"},
        {"{\"a\":\"\\", 0, "at byte 6: the input ends inside an escape"},
        {"{\"a\":\"x\ny\"}", 0, "at byte 7: control character 0x0a in a string"},
        {"{\"a\":\"x\ty\"}", 0, "control character 0x09"},
        {"{\"a\x1f\":\"x\"}", 0, "at byte 3: control character 0x1f"},
        {"{\"a\":\"\\x\"}", 0, "at byte 6: invalid escape '\\x'"},
        {"{\"a\":\"\\'\"}", 0, "invalid escape '\\''"},
        {"{\"a\":\"\\U0041\"}", 0, "invalid escape '\\U'"},
        {"{\"a\":\"\\u12\"}", 0, "at byte 6: \\u must be followed by 4 hex digits"},
        {"{\"a\":\"\\u12g4\"}", 0, "4 hex digits"},
        {"{\"a\":\"\\u0000\"}", 0, "at byte 6: \\u0000 is not allowed"},
        {"{\"a\":\"\\ud800\"}", 0, "at byte 6: high surrogate \\uD800 is not followed"},
        {"{\"a\":\"\\ud83dx\"}", 0, "high surrogate \\uD83D is not followed"},
        {"{\"a\":\"\\ud800\\u0041\"}", 0, "high surrogate \\uD800 is not followed"},
        {"{\"a\":\"\\ud800\\ud800\"}", 0, "high surrogate \\uD800 is not followed"},
        {"{\"a\":\"\\udc00\"}", 0, "at byte 6: lone low surrogate \\uDC00"},
        {"{\"a\":\"\\ude00\\ud83d\"}", 0, "lone low surrogate \\uDE00"},
    };
    expect_refusals(rows, sizeof rows / sizeof rows[0], MAX_MEMBERS);
}
END_TEST

START_TEST(test_parse_refuses_invalid_utf8_anywhere)
{
    static const struct refusal rows[] = {
        {"{\"a\":\"\xff\"}", 0, "at byte 6: invalid UTF-8 (byte 0xff)"},
        {"{\"a\xfe\":\"x\"}", 0, "at byte 3: invalid UTF-8"},
        {"{\"a\":\"x\"}\xff", 0, "at byte 9: invalid UTF-8"},
        {"\x80{}", 0, "at byte 0: invalid UTF-8"},
        {"{\"a\":\"\xc0\xaf\"}", 0, "invalid UTF-8 (byte 0xc0)"},         /* overlong '/' */
        {"{\"a\":\"\xe0\x80\xaf\"}", 0, "invalid UTF-8 (byte 0xe0)"},     /* overlong, 3 bytes */
        {"{\"a\":\"\xf0\x80\x80\xaf\"}", 0, "invalid UTF-8 (byte 0xf0)"}, /* overlong, 4 bytes */
        {"{\"a\":\"\xf4\x90\x80\x80\"}", 0, "invalid UTF-8 (byte 0xf4)"}, /* U+110000 */
        {"{\"a\":\"\xed\xa0\x80\"}", 0, "invalid UTF-8 (byte 0xed)"},     /* encoded surrogate */
        {"{\"a\":\"\xe2\x82\"}", 0, "at byte 6: invalid UTF-8"},          /* cut short */
        {"{\"a\":\"\xe2\x82", 0, "invalid UTF-8"},
    };
    expect_refusals(rows, sizeof rows / sizeof rows[0], MAX_MEMBERS);
}
END_TEST

START_TEST(test_parse_refuses_nul_bytes)
{
    static const struct refusal rows[] = {
        {"{\"a\":\"b\0c\"}", 11, "at byte 7: NUL byte"},
        {"{\"a\":\"b\"}\0", 10, "at byte 9: NUL byte"},
        {"\0{}", 3, "at byte 0: NUL byte"},
    };
    expect_refusals(rows, sizeof rows / sizeof rows[0], MAX_MEMBERS);
}
END_TEST

START_TEST(test_parse_refuses_more_than_max_members)
{
    static const struct refusal rows[] = {
        {"{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}", 0, "at byte 17: more than 2 members"},
    };
    expect_refusals(rows, sizeof rows / sizeof rows[0], 2);
    struct idm_json_member *m = NULL;
    size_t n = 0;
    const char *two = "{\"a\":\"1\",\"b\":\"2\"}";
    ck_ok(idm_json_parse_strings(two, strlen(two), 2, &m, &n));
    ck_assert_uint_eq(n, 2);
    idm_json_members_free(m, n);
    static const struct refusal none[] = {{"{\"a\":\"1\"}", 0, "more than 0 members"}};
    expect_refusals(none, 1, 0);
}
END_TEST

START_TEST(test_parse_reads_only_len_bytes)
{
    const char *text = "{\"a\":\"1\"} garbage after the length";
    struct idm_json_member *m = NULL;
    size_t n = 0;
    ck_ok(idm_json_parse_strings(text, 9, MAX_MEMBERS, &m, &n));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(m[0].value, "1");
    idm_json_members_free(m, n);
}
END_TEST

START_TEST(test_parse_message_quotes_long_names_cut)
{
    char text[400];
    char key[200];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    snprintf(text, sizeof text, "{\"%s\":1}", key);
    struct idm_json_member *m = NULL;
    size_t n = 0;
    ck_assert_idm_error(idm_json_parse_strings(text, strlen(text), MAX_MEMBERS, &m, &n),
                        IDM_ERR_PARSE, "kkk...' is not a string");
    ck_assert_uint_lt(strlen(idm_last_error_message()), 120);
}
END_TEST

START_TEST(test_member_get_finds_values)
{
    struct idm_json_member *m = parse_ok("{\"a\":\"1\",\"b\":\"2\"}", 2);
    ck_assert_str_eq(idm_json_member_get(m, 2, "a"), "1");
    ck_assert_str_eq(idm_json_member_get(m, 2, "b"), "2");
    ck_assert_ptr_null(idm_json_member_get(m, 2, "c"));
    ck_assert_ptr_null(idm_json_member_get(NULL, 0, "a"));
    idm_json_members_free(m, 2);
    idm_json_members_free(NULL, 0);
}
END_TEST

static idm_buffer_t *new_buffer(void)
{
    idm_buffer_t *b = NULL;
    ck_ok(idm_buffer_new(&b));
    return b;
}

/* The buffer's bytes as a string (the writer never puts a NUL). */
static char *buffer_text(const idm_buffer_t *b)
{
    char *s = malloc(b->len + 1);
    ck_assert_ptr_nonnull(s);
    if (b->len > 0)
        memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    return s;
}

START_TEST(test_put_string_escapes_quotes_backslashes_and_controls)
{
    idm_buffer_t *b = new_buffer();
    ck_ok(idm_json_put_string(b, "a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f \xc3\xa9\xe2\x80\xa8\xe2\x80\xa9"));
    char *s = buffer_text(b);
    ck_assert_str_eq(s, "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\x7f \xc3\xa9\\u2028\\u2029\"");
    free(s);
    idm_buffer_free(&b);
}
END_TEST

START_TEST(test_put_string_appends)
{
    idm_buffer_t *b = new_buffer();
    ck_ok(idm_buffer_set(b, "{\"k\":", 5));
    ck_ok(idm_json_put_string(b, "v"));
    ck_ok(idm_json_put_string(b, ""));
    char *s = buffer_text(b);
    ck_assert_str_eq(s, "{\"k\":\"v\"\"\"");
    free(s);
    idm_buffer_free(&b);
}
END_TEST

START_TEST(test_put_string_round_trips_through_parser)
{
    static const char *const texts[] = {
        "",
        "plain",
        "with \"quotes\" and \\backslashes\\",
        "tab\tnewline\ncr\rbell\x07 esc\x1b del\x7f",
        "\x01\x02\x03\x1f",
        "J\xc3\xbcrgen M\xc3\xbcller \xe2\x82\xac",
        "\xf0\x9f\x98\x80 \xf0\x90\x8d\x88 \xf4\x8f\xbf\xbf",
        "line\xe2\x80\xa8sep\xe2\x80\xa9para",
        "/\\/\"\\\"",
    };
    struct faults f = {0};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        idm_buffer_t *b = new_buffer();
        ck_ok(idm_buffer_set(b, "{\"k\":", 5));
        ck_ok(idm_json_put_string(b, texts[i]));
        char *doc = buffer_text(b);
        size_t len = strlen(doc);
        doc = realloc(doc, len + 2);
        ck_assert_ptr_nonnull(doc);
        memcpy(doc + len, "}", 2);
        struct idm_json_member *m = NULL;
        size_t n = 0;
        if (idm_json_parse_strings(doc, len + 1, 1, &m, &n) != IDM_OK)
            fault(&f, "text %zu: %s refused: %s;", i, doc, idm_last_error_message());
        else if (n != 1 || strcmp(m[0].value, texts[i]) != 0)
            fault(&f, "text %zu does not come back;", i);
        idm_json_members_free(m, n);
        free(doc);
        idm_buffer_free(&b);
    }
    ck_assert_no_faults(&f);
}
END_TEST

START_TEST(test_put_string_refuses_invalid_utf8)
{
    static const char *const bad[] = {"\xff", "ok \xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                      "cut \xe2\x82"};
    idm_buffer_t *b = new_buffer();
    ck_ok(idm_buffer_set(b, "x", 1));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_idm_error(idm_json_put_string(b, bad[i]), IDM_ERR_INVALID_ARG,
                            "is not valid UTF-8");
        ck_assert_uint_eq(b->len, 1);
    }
    ck_assert_idm_error(idm_json_put_string(b, "ok \xc0\xaf"), IDM_ERR_INVALID_ARG,
                        "byte 3 is 0xc0");
    idm_buffer_free(&b);
}
END_TEST

/* ---- documents of any shape (idm_json_parse) --------------------------- */

#define MAX_LEN 4096

static struct idm_json_value *tree_ok(const char *text)
{
    struct idm_json_value *v = NULL;
    int rc = idm_json_parse(text, strlen(text), MAX_LEN, &v);
    ck_assert_msg(rc == IDM_OK, "%s refused: %s", text, idm_last_error_message());
    ck_assert_ptr_nonnull(v);
    return v;
}

/* Each document must be refused by idm_json_parse() with IDM_ERR_PARSE, a
 * message that contains the needle, and *out NULL. */
static void expect_tree_refusals(const struct refusal *rows, size_t count)
{
    struct faults f = {0};
    for (size_t i = 0; i < count; i++) {
        size_t len = rows[i].len != 0 ? rows[i].len : strlen(rows[i].text);
        struct idm_json_value *v = (struct idm_json_value *)&f;
        int rc = idm_json_parse(rows[i].text, len, MAX_LEN, &v);
        if (rc != IDM_ERR_PARSE)
            fault(&f, "row %zu: expected IDM_ERR_PARSE, got %s (%s);", i, idm_strerror_name(rc),
                  idm_last_error_message());
        else if (strstr(idm_last_error_message(), rows[i].needle) == NULL)
            fault(&f, "row %zu: message \"%s\" does not mention \"%s\";", i,
                  idm_last_error_message(), rows[i].needle);
        if (v != NULL)
            fault(&f, "row %zu: out is not NULL after a refusal;", i);
        if (rc == IDM_OK)
            idm_json_free(v);
    }
    ck_assert_no_faults(&f);
}

START_TEST(test_tree_reads_every_type_with_its_offset)
{
    struct idm_json_value *v =
        tree_ok(" {\"s\":\"a\\u00e9\",\"n\":-12.5e1,\"t\":true,\"f\":false,\"z\":null,"
                "\"a\":[1,[],{}],\"o\":{\"k\":\"v\"}} ");
    ck_assert_int_eq(v->type, IDM_JSON_OBJECT);
    ck_assert_uint_eq(v->offset, 1);
    ck_assert_uint_eq(v->nmembers, 7);
    static const char *const keys[] = {"s", "n", "t", "f", "z", "a", "o"};
    for (size_t i = 0; i < 7; i++)
        ck_assert_str_eq(v->members[i].key, keys[i]); /* document order */
    ck_assert_uint_eq(v->members[0].key_offset, 2);

    const struct idm_json_value *s = idm_json_get(v, "s");
    ck_assert_int_eq(s->type, IDM_JSON_STRING);
    ck_assert_str_eq(s->string, "a\xc3\xa9");
    ck_assert_uint_eq(s->length, 3);
    ck_assert_uint_eq(s->offset, 6);
    const struct idm_json_value *n = idm_json_get(v, "n");
    ck_assert_int_eq(n->type, IDM_JSON_NUMBER);
    ck_assert_double_eq(n->number, -125.0);
    ck_assert_uint_eq(n->offset, 20);
    ck_assert_int_eq(idm_json_get(v, "t")->type, IDM_JSON_BOOL);
    ck_assert_int_eq(idm_json_get(v, "t")->boolean, 1);
    ck_assert_int_eq(idm_json_get(v, "f")->boolean, 0);
    ck_assert_int_eq(idm_json_get(v, "z")->type, IDM_JSON_NULL);

    const struct idm_json_value *a = idm_json_get(v, "a");
    ck_assert_int_eq(a->type, IDM_JSON_ARRAY);
    ck_assert_uint_eq(a->nitems, 3);
    ck_assert_double_eq(a->items[0].number, 1);
    ck_assert_uint_eq(a->items[0].offset, 61);
    ck_assert_int_eq(a->items[1].type, IDM_JSON_ARRAY);
    ck_assert_uint_eq(a->items[1].nitems, 0);
    ck_assert_int_eq(a->items[2].type, IDM_JSON_OBJECT);
    ck_assert_uint_eq(a->items[2].nmembers, 0);

    const struct idm_json_value *o = idm_json_get(v, "o");
    ck_assert_str_eq(idm_json_get(o, "k")->string, "v");
    ck_assert_ptr_null(idm_json_get(v, "missing"));
    ck_assert_ptr_null(idm_json_get(a, "k")); /* not an object */
    ck_assert_ptr_null(idm_json_get(NULL, "k"));
    idm_json_free(v);
}
END_TEST

START_TEST(test_tree_takes_any_value_at_the_top)
{
    struct idm_json_value *v = tree_ok("42");
    ck_assert_int_eq(v->type, IDM_JSON_NUMBER);
    ck_assert_double_eq(v->number, 42);
    idm_json_free(v);
    v = tree_ok("\n\"x\"\t");
    ck_assert_int_eq(v->type, IDM_JSON_STRING);
    ck_assert_uint_eq(v->offset, 1);
    idm_json_free(v);
    v = tree_ok("null");
    ck_assert_int_eq(v->type, IDM_JSON_NULL);
    idm_json_free(v);
    v = tree_ok("[\"a\",\"b\"]");
    ck_assert_uint_eq(v->nitems, 2);
    ck_assert_str_eq(v->items[1].string, "b");
    ck_assert_uint_eq(v->items[1].offset, 5);
    idm_json_free(v);
    idm_json_free(NULL);
}
END_TEST

START_TEST(test_tree_reads_numbers_by_the_rfc_grammar)
{
    static const struct {
        const char *text;
        double value;
    } rows[] = {
        {"0", 0},          {"-0", -0.0},        {"7", 7},         {"-12", -12},
        {"1.5", 1.5},      {"0.25", 0.25},      {"1e3", 1000},    {"1E+2", 100},
        {"25e-2", 0.25},   {"-1.5E-1", -0.15},  {"85.60", 85.6},  {"1e-400", 0},
        {"123456789012", 123456789012.0},
    };
    struct faults f = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct idm_json_value *v = NULL;
        if (idm_json_parse(rows[i].text, strlen(rows[i].text), MAX_LEN, &v) != IDM_OK)
            fault(&f, "%s refused: %s;", rows[i].text, idm_last_error_message());
        else if (v->type != IDM_JSON_NUMBER || v->number != rows[i].value)
            fault(&f, "%s read as %.17g;", rows[i].text, v->number);
        idm_json_free(v);
    }
    ck_assert_no_faults(&f);
}
END_TEST

START_TEST(test_tree_refuses_numbers_outside_the_grammar)
{
    char longest[IDM_JSON_MAX_NUMBER + 2];
    memset(longest, '1', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    const struct refusal rows[] = {
        {"01", 0, "at byte 0: a number must not start with 0"},
        {"-01", 0, "at byte 0: a number must not start with 0"},
        {"-", 0, "at byte 1: a digit must follow '-'"},
        {"-a", 0, "at byte 1: a digit must follow '-'"},
        {"1.", 0, "at byte 2: a digit must follow the decimal point"},
        {"1.e5", 0, "at byte 2: a digit must follow the decimal point"},
        {"1e", 0, "at byte 2: a digit must follow the exponent"},
        {"1e+", 0, "at byte 3: a digit must follow the exponent"},
        {".5", 0, "at byte 0: expected a value, not '.'"},
        {"+1", 0, "at byte 0: expected a value, not '+'"},
        {"0x10", 0, "at byte 1: more data after the value"},
        {"[1.5.2]", 0, "at byte 4: expected ',' or ']' after an array element"},
        {"NaN", 0, "at byte 0: 'NaN' is not a value"},
        {"Infinity", 0, "'Infinity' is not a value"},
        {"1e999", 0, "at byte 0: the number 1e999 is out of range"},
        {"-1e999", 0, "the number -1e999 is out of range"},
        {longest, 0, "at byte 0: the number is longer than 256 characters"},
    };
    expect_tree_refusals(rows, sizeof rows / sizeof rows[0]);
    /* 256 characters are a number. */
    struct idm_json_value *v = NULL;
    ck_ok(idm_json_parse(longest, IDM_JSON_MAX_NUMBER, MAX_LEN, &v));
    ck_assert_double_gt(v->number, 1e255);
    idm_json_free(v);
}
END_TEST

START_TEST(test_tree_refuses_broken_structure)
{
    static const struct refusal rows[] = {
        {"", 0, "at byte 0: empty input"},
        {"  \n", 0, "at byte 3: the input ends where a value should be"},
        {"tru", 0, "at byte 0: 'tru' is not a value"},
        {"True", 0, "'True' is not a value"},
        {"nullx", 0, "'nullx' is not a value"},
        {"1 2", 0, "at byte 2: more data after the value"},
        {"{} {}", 0, "at byte 3: more data after the object"},
        {"[1,]", 0, "at byte 2: trailing comma"},
        {"[,1]", 0, "at byte 1: expected a value, not ','"},
        {"[1,,2]", 0, "at byte 3: expected a value, not ','"},
        {"[1 2]", 0, "at byte 3: expected ',' or ']' after an array element"},
        {"[1", 0, "at byte 2: the array is not closed"},
        {"[", 0, "at byte 1: the input ends where a value should be"},
        {"{\"a\":1,}", 0, "at byte 6: trailing comma"},
        {"{\"a\":}", 0, "at byte 5: member 'a' has no value"},
        {"{\"a\" 1}", 0, "at byte 5: expected ':' after member 'a'"},
        {"{\"a\":[}", 0, "at byte 6: expected a value, not '}'"},
        {"{\"a\":1", 0, "at byte 6: the object is not closed"},
        {"{1:2}", 0, "at byte 1: expected a member name in double quotes"},
        {"[#]", 0, "at byte 1: expected a value, not '#'"},
        {"[\"\xc3\xa9\", \x01]", 0, "at byte 7: expected a value, not byte 0x01"},
        {"[\"a\xff\"]", 0, "at byte 3: invalid UTF-8 (byte 0xff)"},
        {"[\"a\0\"]", 6, "at byte 3: NUL byte"},
        {"[\"\\u0000\"]", 0, "at byte 2: \\u0000 is not allowed"},
        {"[\"\\ud800\"]", 0, "at byte 2: high surrogate \\uD800 is not followed"},
        {"[\"a\nb\"]", 0, "at byte 3: control character 0x0a in a string"},
    };
    expect_tree_refusals(rows, sizeof rows / sizeof rows[0]);
}
END_TEST

START_TEST(test_tree_refuses_duplicate_members_at_any_depth)
{
    static const struct refusal rows[] = {
        {"{\"a\":1,\"a\":2}", 0, "at byte 7: duplicate member 'a'"},
        {"{\"o\":{\"b\":1,\"c\":[],\"b\":2}}", 0, "at byte 19: duplicate member 'b'"},
        {"[{\"x\":null},{\"x\":1,\"\\u0078\":2}]", 0, "at byte 19: duplicate member '\\u0078'"},
    };
    expect_tree_refusals(rows, sizeof rows / sizeof rows[0]);
    /* The same key in different objects is no duplicate. */
    struct idm_json_value *v = tree_ok("{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}]}");
    ck_assert_uint_eq(v->nmembers, 2);
    idm_json_free(v);
}
END_TEST

START_TEST(test_tree_names_the_first_repeated_member_of_a_large_object)
{
    /* 600 distinct members, then "k5" and "k3" again: the first repeat in
     * document order is "k5", though "k3" sorts first. */
    size_t size = 16384;
    char *text = malloc(size);
    ck_assert_ptr_nonnull(text);
    size_t used = 0;
    text[used++] = '{';
    for (int i = 0; i < 600; i++)
        used += (size_t)snprintf(text + used, size - used, "\"k%d\":%d,", i, i);
    size_t k5_at = used;
    used += (size_t)snprintf(text + used, size - used, "\"k5\":0,\"k3\":0}");
    struct idm_json_value *v = NULL;
    char want[64];
    snprintf(want, sizeof want, "at byte %zu: duplicate member 'k5'", k5_at);
    ck_assert_idm_error(idm_json_parse(text, used, size, &v), IDM_ERR_PARSE, want);
    ck_assert_ptr_null(v);
    /* Without the repeats it is read whole. */
    memcpy(text + k5_at - 1, "}", 2);
    ck_ok(idm_json_parse(text, k5_at, size, &v));
    ck_assert_uint_eq(v->nmembers, 600);
    ck_assert_str_eq(v->members[599].key, "k599");
    ck_assert_double_eq(idm_json_get(v, "k321")->number, 321);
    idm_json_free(v);
    free(text);
}
END_TEST

START_TEST(test_tree_limits_nesting_depth)
{
    char text[2 * IDM_JSON_MAX_DEPTH + 8];
    size_t n = IDM_JSON_MAX_DEPTH;
    memset(text, '[', n);
    memset(text + n, ']', n);
    struct idm_json_value *v = NULL;
    ck_ok(idm_json_parse(text, 2 * n, MAX_LEN, &v));
    const struct idm_json_value *inner = v;
    for (size_t i = 1; i < n; i++)
        inner = &inner->items[0];
    ck_assert_int_eq(inner->type, IDM_JSON_ARRAY);
    ck_assert_uint_eq(inner->nitems, 0);
    idm_json_free(v);

    n = IDM_JSON_MAX_DEPTH + 1;
    memset(text, '[', n);
    memset(text + n, ']', n);
    ck_assert_idm_error(idm_json_parse(text, 2 * n, MAX_LEN, &v), IDM_ERR_PARSE,
                        "at byte 32: more than 32 nested arrays and objects");
    ck_assert_ptr_null(v);
    static const char objects[] = "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                                  "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                                  "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                                  "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                                  "{\"a\":1";
    ck_assert_idm_error(idm_json_parse(objects, strlen(objects), MAX_LEN, &v), IDM_ERR_PARSE,
                        "at byte 160: more than 32 nested arrays and objects");
}
END_TEST

START_TEST(test_tree_refuses_documents_over_the_size_limit)
{
    static const char text[] = "[\"0123456789\"]";
    struct idm_json_value *v = NULL;
    ck_ok(idm_json_parse(text, strlen(text), strlen(text), &v));
    idm_json_free(v);
    ck_assert_idm_error(idm_json_parse(text, strlen(text), strlen(text) - 1, &v), IDM_ERR_PARSE,
                        "at byte 13: the document is longer than 13 bytes");
    ck_assert_ptr_null(v);
    ck_assert_idm_error(idm_json_parse(NULL, 0, 10, &v), IDM_ERR_PARSE, "at byte 0: empty input");
}
END_TEST

START_TEST(test_tree_names_types_for_messages)
{
    ck_assert_str_eq(idm_json_type_name(IDM_JSON_NULL), "null");
    ck_assert_str_eq(idm_json_type_name(IDM_JSON_BOOL), "a boolean");
    ck_assert_str_eq(idm_json_type_name(IDM_JSON_NUMBER), "a number");
    ck_assert_str_eq(idm_json_type_name(IDM_JSON_STRING), "a string");
    ck_assert_str_eq(idm_json_type_name(IDM_JSON_ARRAY), "an array");
    ck_assert_str_eq(idm_json_type_name(IDM_JSON_OBJECT), "an object");
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_reads_members_in_document_order);
    tcase_add_test(tc, test_parse_accepts_empty_object);
    tcase_add_test(tc, test_parse_decodes_escapes_and_surrogate_pairs);
    tcase_add_test(tc, test_parse_keeps_raw_utf8);
    tcase_add_test(tc, test_parse_refuses_other_top_levels);
    tcase_add_test(tc, test_parse_refuses_values_that_are_not_strings);
    tcase_add_test(tc, test_parse_refuses_broken_structure);
    tcase_add_test(tc, test_parse_refuses_duplicate_members);
    tcase_add_test(tc, test_parse_refuses_bad_strings);
    tcase_add_test(tc, test_parse_refuses_invalid_utf8_anywhere);
    tcase_add_test(tc, test_parse_refuses_nul_bytes);
    tcase_add_test(tc, test_parse_refuses_more_than_max_members);
    tcase_add_test(tc, test_parse_reads_only_len_bytes);
    tcase_add_test(tc, test_parse_message_quotes_long_names_cut);
    tcase_add_test(tc, test_member_get_finds_values);
    suite_add_tcase(s, tc);
    tc = tcase_create("tree");
    tcase_add_test(tc, test_tree_reads_every_type_with_its_offset);
    tcase_add_test(tc, test_tree_takes_any_value_at_the_top);
    tcase_add_test(tc, test_tree_reads_numbers_by_the_rfc_grammar);
    tcase_add_test(tc, test_tree_refuses_numbers_outside_the_grammar);
    tcase_add_test(tc, test_tree_refuses_broken_structure);
    tcase_add_test(tc, test_tree_refuses_duplicate_members_at_any_depth);
    tcase_add_test(tc, test_tree_names_the_first_repeated_member_of_a_large_object);
    tcase_add_test(tc, test_tree_limits_nesting_depth);
    tcase_add_test(tc, test_tree_refuses_documents_over_the_size_limit);
    tcase_add_test(tc, test_tree_names_types_for_messages);
    suite_add_tcase(s, tc);
    tc = tcase_create("put_string");
    tcase_add_test(tc, test_put_string_escapes_quotes_backslashes_and_controls);
    tcase_add_test(tc, test_put_string_appends);
    tcase_add_test(tc, test_put_string_round_trips_through_parser);
    tcase_add_test(tc, test_put_string_refuses_invalid_utf8);
    suite_add_tcase(s, tc);
    return s;
}
