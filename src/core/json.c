#include "core/json.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buffer_impl.h"
#include "core/error_impl.h"
#include "model/text.h"

/* How much of a member name an error message quotes. */
#define SHOWN_NAME_MAX 64

/* ---- writing ----------------------------------------------------------- */

/* The escape for the character at p (U+2028 and U+2029 too: JavaScript
 * takes them raw as line ends), or NULL when it stands for itself. */
static const char *escape_for(const unsigned char *p, char tmp[8])
{
    switch (*p) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        break;
    }
    if (*p < 0x20) {
        snprintf(tmp, 8, "\\u%04x", *p);
        return tmp;
    }
    if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
        return p[2] == 0xa8 ? "\\u2028" : "\\u2029";
    return NULL;
}

/* Bytes of input an escape replaces: the line separators are three. */
static size_t escaped_span(const unsigned char *p)
{
    return *p == 0xe2 ? 3 : 1;
}

int idm_json_put_string(idm_buffer_t *b, const char *s)
{
    size_t len = strlen(s);
    size_t bad;
    if (!idm_utf8_valid(s, len, &bad))
        return IDM_ERR(IDM_ERR_INVALID_ARG, "text is not valid UTF-8 (byte %zu is 0x%02x)", bad,
                       (unsigned)(unsigned char)s[bad]);
    const unsigned char *u = (const unsigned char *)s;
    char tmp[8];
    int rc = idm_buffer_append(b, "\"", 1);
    size_t plain = 0; /* where the bytes not yet appended start */
    for (size_t i = 0; i < len && rc == IDM_OK;) {
        const char *esc = escape_for(u + i, tmp);
        if (esc == NULL) {
            i++;
            continue;
        }
        rc = idm_buffer_append(b, s + plain, i - plain);
        if (rc == IDM_OK)
            rc = idm_buffer_append(b, esc, strlen(esc));
        i += escaped_span(u + i);
        plain = i;
    }
    if (rc == IDM_OK)
        rc = idm_buffer_append(b, s + plain, len - plain);
    return rc == IDM_OK ? idm_buffer_append(b, "\"", 1) : rc;
}

/* ---- reading ----------------------------------------------------------- */

/* One grammar serves both readers: idm_json_parse() takes any value,
 * idm_json_parse_strings() one object of string members, which it then
 * hands out as a flat array. */
struct parser {
    const unsigned char *s;
    size_t len;
    size_t pos;
    int strings_only;     /* the document is one object of string members */
    size_t max_members;   /* per object */
    locale_t c_numeric;   /* made at the first number: strtod in the "C" locale */
};

static int parse_value(struct parser *p, struct idm_json_value *v, int depth);

static int parse_fail(size_t at, const char *fmt, ...) IDM_PRINTF(2, 3);

static int parse_fail(size_t at, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return IDM_ERR(IDM_ERR_PARSE, "at byte %zu: %s", at, what);
}

static void skip_space(struct parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

/* The closing quote of the string whose opening quote is at start, or len
 * when it is not closed. */
static size_t string_end(const struct parser *p, size_t start)
{
    size_t end = start + 1;
    while (end < p->len && p->s[end] != '"')
        end += p->s[end] == '\\' && end + 1 < p->len ? 2 : 1;
    return end;
}

/* The member name whose opening quote is at key_at, as the document spells
 * it, cut at a character boundary: the input is known to be UTF-8 without
 * control characters by then, so the message stays one line of valid
 * text. */
static void show_name(const struct parser *p, size_t key_at, char *out, size_t size)
{
    size_t start = key_at + 1;
    size_t n = string_end(p, key_at) - start;
    const char *more = "";
    if (n > SHOWN_NAME_MAX) {
        n = SHOWN_NAME_MAX;
        while (n > 0 && (p->s[start + n] & 0xc0) == 0x80)
            n--;
        more = "...";
    }
    snprintf(out, size, "%.*s%s", (int)n, (const char *)p->s + start, more);
}

static int hex4(const unsigned char *h, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = h[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return 0;
        v = v << 4 | d;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A \u escape at p->pos (on the backslash), with the low half that must
 * follow a high surrogate; advances past it. */
static int parse_unicode(struct parser *p, unsigned *cp)
{
    size_t at = p->pos;
    if (p->len - at < 6 || !hex4(p->s + at + 2, cp))
        return parse_fail(at, "\\u must be followed by 4 hex digits");
    p->pos += 6;
    if (*cp == 0)
        return parse_fail(at, "\\u0000 is not allowed");
    if (*cp >= 0xdc00 && *cp <= 0xdfff)
        return parse_fail(at, "lone low surrogate \\u%04X", *cp);
    if (*cp < 0xd800 || *cp > 0xdbff)
        return IDM_OK;
    unsigned low;
    if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
        !hex4(p->s + p->pos + 2, &low) || low < 0xdc00 || low > 0xdfff)
        return parse_fail(at, "high surrogate \\u%04X is not followed by a low one", *cp);
    p->pos += 6;
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (low - 0xdc00);
    return IDM_OK;
}

static int parse_escape(struct parser *p, char *out, size_t *n)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    size_t at = p->pos;
    if (at + 1 == p->len)
        return parse_fail(at, "the input ends inside an escape");
    unsigned char c = p->s[at + 1];
    if (c == 'u') {
        unsigned cp = 0; /* set when parse_unicode() succeeds; gcc -O3 cannot tell */
        int rc = parse_unicode(p, &cp);
        if (rc == IDM_OK)
            *n += put_utf8(cp, out + *n);
        return rc;
    }
    const char *hit = c != '\0' ? strchr(from, c) : NULL;
    if (hit == NULL) {
        if (c >= 0x20 && c < 0x7f)
            return parse_fail(at, "invalid escape '\\%c'", c);
        return parse_fail(at, "invalid escape: byte 0x%02x after '\\'", c);
    }
    out[(*n)++] = to[hit - from];
    p->pos += 2;
    return IDM_OK;
}

/* A string at p->pos (on the quote) into a new NUL-terminated *out of
 * *len bytes.  Decoding never makes it longer than its source, which sizes
 * the copy. */
static int parse_string(struct parser *p, char **out, size_t *len)
{
    size_t start = p->pos++;
    size_t end = string_end(p, start);
    char *text = malloc(end - start);
    if (text == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu bytes", end - start);
    size_t n = 0;
    int rc = IDM_OK;
    while (rc == IDM_OK) {
        if (p->pos == p->len) {
            rc = parse_fail(p->pos, "the string that starts at byte %zu is not closed", start);
            break;
        }
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c == '\\') {
            rc = parse_escape(p, text, &n);
        } else if (c < 0x20) {
            rc = parse_fail(p->pos, "control character 0x%02x in a string", c);
        } else {
            text[n++] = (char)c;
            p->pos++;
        }
    }
    if (rc != IDM_OK) {
        free(text);
        return rc;
    }
    text[n] = '\0';
    *out = text;
    *len = n;
    return IDM_OK;
}

static int is_digit(const struct parser *p, size_t at)
{
    return at < p->len && p->s[at] >= '0' && p->s[at] <= '9';
}

static size_t skip_digits(const struct parser *p, size_t at)
{
    while (is_digit(p, at))
        at++;
    return at;
}

/* The text of a number (grammar checked) as a double, in the "C" locale
 * whatever the host set: "1.5" must not depend on LC_NUMERIC. */
static int number_value(struct parser *p, size_t start, size_t end, double *out)
{
    if (end - start > IDM_JSON_MAX_NUMBER)
        return parse_fail(start, "the number is longer than %d characters", IDM_JSON_MAX_NUMBER);
    if (p->c_numeric == (locale_t)0) {
        p->c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (p->c_numeric == (locale_t)0)
            return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot make the C locale to read numbers");
    }
    char text[IDM_JSON_MAX_NUMBER + 1];
    memcpy(text, p->s + start, end - start);
    text[end - start] = '\0';
    locale_t old = uselocale(p->c_numeric);
    double d = strtod(text, NULL);
    uselocale(old);
    if (!isfinite(d))
        return parse_fail(start, "the number %s is out of range", text);
    *out = d;
    return IDM_OK;
}

static int parse_number(struct parser *p, struct idm_json_value *v)
{
    size_t start = p->pos;
    size_t at = start;
    if (p->s[at] == '-') {
        at++;
        if (!is_digit(p, at))
            return parse_fail(at, "a digit must follow '-'");
    }
    if (p->s[at] == '0') {
        at++;
        if (is_digit(p, at))
            return parse_fail(start, "a number must not start with 0 (leading zero)");
    } else {
        at = skip_digits(p, at);
    }
    if (at < p->len && p->s[at] == '.') {
        if (!is_digit(p, ++at))
            return parse_fail(at, "a digit must follow the decimal point");
        at = skip_digits(p, at);
    }
    if (at < p->len && (p->s[at] == 'e' || p->s[at] == 'E')) {
        at++;
        if (at < p->len && (p->s[at] == '+' || p->s[at] == '-'))
            at++;
        if (!is_digit(p, at))
            return parse_fail(at, "a digit must follow the exponent");
        at = skip_digits(p, at);
    }
    v->type = IDM_JSON_NUMBER;
    int rc = number_value(p, start, at, &v->number);
    if (rc == IDM_OK)
        p->pos = at;
    return rc;
}

static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int parse_literal(struct parser *p, struct idm_json_value *v)
{
    static const struct {
        const char *word;
        enum idm_json_type type;
        int boolean;
    } literals[] = {{"null", IDM_JSON_NULL, 0}, {"true", IDM_JSON_BOOL, 1},
                    {"false", IDM_JSON_BOOL, 0}};
    size_t end = p->pos;
    while (end < p->len && is_word_byte(p->s[end]))
        end++;
    size_t n = end - p->pos;
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        if (strlen(literals[i].word) == n && memcmp(literals[i].word, p->s + p->pos, n) == 0) {
            v->type = literals[i].type;
            v->boolean = literals[i].boolean;
            p->pos = end;
            return IDM_OK;
        }
    }
    return parse_fail(p->pos, "'%.*s%s' is not a value (true, false, null, a number, a string, "
                      "an array or an object)",
                      (int)(n > 16 ? 16 : n), (const char *)p->s + p->pos, n > 16 ? "..." : "");
}

/* vec, which holds n elements of elem_size with room for *cap, with room
 * for one more; NULL (vec untouched, the error set) when that fails. */
static void *grow(void *vec, size_t *cap, size_t n, size_t elem_size)
{
    if (n < *cap)
        return vec;
    size_t want = *cap == 0 ? 4 : *cap * 2;
    void *bigger = realloc(vec, want * elem_size);
    if (bigger == NULL) {
        IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu JSON values", want);
        return NULL;
    }
    *cap = want;
    return bigger;
}

static int pair_order(const void *a, const void *b)
{
    const struct idm_json_pair *x = *(const struct idm_json_pair *const *)a;
    const struct idm_json_pair *y = *(const struct idm_json_pair *const *)b;
    int c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return x->key_offset < y->key_offset ? -1 : x->key_offset > y->key_offset;
}

/* Refuses the first member (in document order) whose name an earlier one
 * has.  Once the object is read, by sorting: comparing each new name with
 * all before it would let a 1 MiB object take minutes. */
static int check_duplicates(const struct parser *p, const struct idm_json_value *obj)
{
    size_t n = obj->nmembers;
    if (n < 2)
        return IDM_OK;
    const struct idm_json_pair **order = malloc(n * sizeof *order);
    if (order == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu pointers", n);
    for (size_t i = 0; i < n; i++)
        order[i] = &obj->members[i];
    qsort(order, n, sizeof *order, pair_order);
    const struct idm_json_pair *again = NULL;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(order[i]->key, order[i - 1]->key) == 0 &&
            (again == NULL || order[i]->key_offset < again->key_offset))
            again = order[i];
    }
    free(order);
    if (again == NULL)
        return IDM_OK;
    char shown[SHOWN_NAME_MAX + 4];
    show_name(p, again->key_offset, shown, sizeof shown);
    return parse_fail(again->key_offset, "duplicate member '%s'", shown);
}

/* A member at p->pos (on the quote of its name), appended to obj as soon
 * as its name is read, so that a failure leaves everything to free in
 * obj. */
static int parse_member(struct parser *p, struct idm_json_value *obj, size_t *cap, int depth)
{
    size_t key_at = p->pos;
    char *key = NULL;
    size_t key_len;
    int rc = parse_string(p, &key, &key_len);
    if (rc != IDM_OK)
        return rc;
    if (obj->nmembers == p->max_members) {
        free(key);
        return parse_fail(key_at, "more than %zu members", p->max_members);
    }
    struct idm_json_pair *members = grow(obj->members, cap, obj->nmembers, sizeof *members);
    if (members == NULL) {
        free(key);
        return IDM_ERR_NO_MEMORY;
    }
    obj->members = members;
    struct idm_json_pair *m = &members[obj->nmembers++];
    memset(m, 0, sizeof *m);
    m->key = key;
    m->key_offset = key_at;
    char shown[SHOWN_NAME_MAX + 4];
    skip_space(p);
    if (p->pos == p->len || p->s[p->pos] != ':') {
        show_name(p, key_at, shown, sizeof shown);
        return parse_fail(p->pos, "expected ':' after member '%s'", shown);
    }
    p->pos++;
    skip_space(p);
    if (p->pos == p->len || p->s[p->pos] == ',' || p->s[p->pos] == '}') {
        show_name(p, key_at, shown, sizeof shown);
        return parse_fail(p->pos, "member '%s' has no value", shown);
    }
    if (p->strings_only && p->s[p->pos] != '"') {
        show_name(p, key_at, shown, sizeof shown);
        return parse_fail(p->pos, "member '%s' is not a string", shown);
    }
    return parse_value(p, &m->value, depth);
}

/* An object at p->pos (on its '{'); its members are at depth. */
static int parse_object(struct parser *p, struct idm_json_value *v, int depth)
{
    v->type = IDM_JSON_OBJECT;
    p->pos++;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        return IDM_OK;
    }
    size_t cap = 0;
    for (size_t comma_at = 0;;) {
        if (comma_at > 0 && p->pos < p->len && p->s[p->pos] == '}')
            return parse_fail(comma_at, "trailing comma");
        if (p->pos == p->len || p->s[p->pos] != '"')
            return parse_fail(p->pos, "expected a member name in double quotes");
        int rc = parse_member(p, v, &cap, depth);
        if (rc != IDM_OK)
            return rc;
        skip_space(p);
        if (p->pos == p->len)
            return parse_fail(p->pos, "the object is not closed");
        if (p->s[p->pos] == '}') {
            p->pos++;
            return check_duplicates(p, v);
        }
        if (p->s[p->pos] != ',')
            return parse_fail(p->pos, "expected ',' or '}' after a member");
        comma_at = p->pos++;
        skip_space(p);
    }
}

/* An array at p->pos (on its '['); its items are at depth. */
static int parse_array(struct parser *p, struct idm_json_value *v, int depth)
{
    v->type = IDM_JSON_ARRAY;
    p->pos++;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        return IDM_OK;
    }
    size_t cap = 0;
    for (size_t comma_at = 0;;) {
        if (comma_at > 0 && p->pos < p->len && p->s[p->pos] == ']')
            return parse_fail(comma_at, "trailing comma");
        struct idm_json_value *items = grow(v->items, &cap, v->nitems, sizeof *items);
        if (items == NULL)
            return IDM_ERR_NO_MEMORY;
        v->items = items;
        struct idm_json_value *item = &items[v->nitems++];
        memset(item, 0, sizeof *item);
        int rc = parse_value(p, item, depth);
        if (rc != IDM_OK)
            return rc;
        skip_space(p);
        if (p->pos == p->len)
            return parse_fail(p->pos, "the array is not closed");
        if (p->s[p->pos] == ']') {
            p->pos++;
            return IDM_OK;
        }
        if (p->s[p->pos] != ',')
            return parse_fail(p->pos, "expected ',' or ']' after an array element");
        comma_at = p->pos++;
        skip_space(p);
    }
}

/* A value at p->pos (not on blank space) inside depth containers.  On
 * failure v holds what was read, for value_clear(). */
static int parse_value(struct parser *p, struct idm_json_value *v, int depth)
{
    v->offset = p->pos;
    if (p->pos == p->len)
        return parse_fail(p->pos, "the input ends where a value should be");
    unsigned char c = p->s[p->pos];
    if (c == '{' || c == '[') {
        if (depth == IDM_JSON_MAX_DEPTH)
            return parse_fail(p->pos, "more than %d nested arrays and objects",
                              IDM_JSON_MAX_DEPTH);
        return c == '{' ? parse_object(p, v, depth + 1) : parse_array(p, v, depth + 1);
    }
    if (c == '"') {
        v->type = IDM_JSON_STRING;
        return parse_string(p, &v->string, &v->length);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p, v);
    if (is_word_byte(c))
        return parse_literal(p, v);
    if (c >= 0x20 && c < 0x7f)
        return parse_fail(p->pos, "expected a value, not '%c'", c);
    return parse_fail(p->pos, "expected a value, not byte 0x%02x", c);
}

/* Whole-input checks first, so the grammar below sees ASCII structure
 * around well-formed UTF-8 and names no byte it cannot print. */
static int check_bytes(const char *text, size_t len)
{
    const char *nul = memchr(text, '\0', len);
    if (nul != NULL)
        return parse_fail((size_t)(nul - text), "NUL byte");
    size_t bad;
    if (!idm_utf8_valid(text, len, &bad))
        return parse_fail(bad, "invalid UTF-8 (byte 0x%02x)", (unsigned)(unsigned char)text[bad]);
    return IDM_OK;
}

static void value_clear(struct idm_json_value *v)
{
    switch (v->type) {
    case IDM_JSON_STRING:
        free(v->string);
        break;
    case IDM_JSON_ARRAY:
        for (size_t i = 0; i < v->nitems; i++)
            value_clear(&v->items[i]);
        free(v->items);
        break;
    case IDM_JSON_OBJECT:
        for (size_t i = 0; i < v->nmembers; i++) {
            free(v->members[i].key);
            value_clear(&v->members[i].value);
        }
        free(v->members);
        break;
    default:
        break;
    }
}

void idm_json_free(struct idm_json_value *value)
{
    if (value == NULL)
        return;
    value_clear(value);
    free(value);
}

/* The document as a tree, for both readers. */
static int parse_document(const char *text, size_t len, struct parser *p,
                          struct idm_json_value **out)
{
    *out = NULL;
    int rc = p->len > 0 ? check_bytes(text, len) : IDM_OK;
    if (rc != IDM_OK)
        return rc;
    skip_space(p);
    if (p->len == 0)
        return parse_fail(0, "empty input");
    if (p->strings_only && (p->pos == p->len || p->s[p->pos] != '{'))
        return parse_fail(p->pos, "expected '{': the document must be one object");
    struct idm_json_value *v = calloc(1, sizeof *v);
    if (v == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a JSON value");
    rc = parse_value(p, v, 0);
    if (rc == IDM_OK) {
        skip_space(p);
        if (p->pos != p->len)
            rc = parse_fail(p->pos, "more data after the %s",
                            v->type == IDM_JSON_OBJECT ? "object" : "value");
    }
    if (p->c_numeric != (locale_t)0)
        freelocale(p->c_numeric);
    if (rc != IDM_OK) {
        idm_json_free(v);
        return rc;
    }
    *out = v;
    return IDM_OK;
}

int idm_json_parse(const char *text, size_t len, size_t max_len, struct idm_json_value **out)
{
    *out = NULL;
    if (text != NULL && len > max_len)
        return parse_fail(max_len, "the document is longer than %zu bytes", max_len);
    struct parser p = {(const unsigned char *)text, text != NULL ? len : 0, 0, 0, SIZE_MAX,
                       (locale_t)0};
    return parse_document(text, len, &p, out);
}

int idm_json_parse_strings(const char *text, size_t len, size_t max_members,
                           struct idm_json_member **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct parser p = {(const unsigned char *)text, text != NULL ? len : 0, 0, 1, max_members,
                       (locale_t)0};
    struct idm_json_value *root = NULL;
    int rc = parse_document(text, len, &p, &root);
    if (rc != IDM_OK)
        return rc;
    struct idm_json_member *members = NULL;
    size_t count = root->nmembers;
    if (count > 0 && (members = calloc(count, sizeof *members)) == NULL) {
        idm_json_free(root);
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu members", count);
    }
    /* The tree's strings move into the flat array. */
    for (size_t i = 0; i < count; i++) {
        members[i].key = root->members[i].key;
        members[i].value = root->members[i].value.string;
        root->members[i].key = NULL;
        root->members[i].value.string = NULL;
    }
    idm_json_free(root);
    *out = members;
    *n = count;
    return IDM_OK;
}

void idm_json_members_free(struct idm_json_member *members, size_t n)
{
    if (members == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(members[i].key);
        free(members[i].value);
    }
    free(members);
}

const char *idm_json_member_get(const struct idm_json_member *members, size_t n,
                                const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(members[i].key, key) == 0)
            return members[i].value;
    }
    return NULL;
}

const struct idm_json_value *idm_json_get(const struct idm_json_value *value, const char *key)
{
    if (value == NULL || value->type != IDM_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < value->nmembers; i++) {
        if (strcmp(value->members[i].key, key) == 0)
            return &value->members[i].value;
    }
    return NULL;
}

const char *idm_json_type_name(enum idm_json_type type)
{
    switch (type) {
    case IDM_JSON_NULL:
        return "null";
    case IDM_JSON_BOOL:
        return "a boolean";
    case IDM_JSON_NUMBER:
        return "a number";
    case IDM_JSON_STRING:
        return "a string";
    case IDM_JSON_ARRAY:
        return "an array";
    case IDM_JSON_OBJECT:
        return "an object";
    }
    return "an unknown type";
}
