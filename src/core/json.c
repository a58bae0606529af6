#include "core/json.h"

#include <stdarg.h>
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

struct parser {
    const unsigned char *s;
    size_t len;
    size_t pos;
};

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

/* A member name as the document spells it, cut at a character boundary:
 * the input is known to be UTF-8 without control characters by then, so
 * the message stays one line of valid text. */
static void show_name(const struct parser *p, size_t start, size_t end, char *out,
                      size_t size)
{
    size_t n = end - start;
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
        unsigned cp;
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

/* A string at p->pos (on the quote) into a new NUL-terminated *out.
 * Decoding never makes it longer than its source, which sizes the copy. */
static int parse_string(struct parser *p, char **out)
{
    size_t start = p->pos++;
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"')
        end += p->s[end] == '\\' && end + 1 < p->len ? 2 : 1;
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
    return IDM_OK;
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

static int add_member(struct parser *p, struct idm_json_member **members, size_t *n,
                      size_t max_members, size_t key_at, char *key)
{
    char shown[SHOWN_NAME_MAX + 4];
    show_name(p, key_at + 1, p->pos - 1, shown, sizeof shown);
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*members)[i].key, key) == 0) {
            free(key);
            return parse_fail(key_at, "duplicate member '%s'", shown);
        }
    }
    if (*n == max_members) {
        free(key);
        return parse_fail(key_at, "more than %zu members", max_members);
    }
    skip_space(p);
    if (p->pos == p->len || p->s[p->pos] != ':') {
        free(key);
        return parse_fail(p->pos, "expected ':' after member '%s'", shown);
    }
    p->pos++;
    skip_space(p);
    if (p->pos == p->len || p->s[p->pos] != '"') {
        free(key);
        if (p->pos == p->len || p->s[p->pos] == ',' || p->s[p->pos] == '}')
            return parse_fail(p->pos, "member '%s' has no value", shown);
        return parse_fail(p->pos, "member '%s' is not a string", shown);
    }
    struct idm_json_member *grown = realloc(*members, (*n + 1) * sizeof **members);
    if (grown == NULL) {
        free(key);
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu members", *n + 1);
    }
    *members = grown;
    char *value = NULL;
    int rc = parse_string(p, &value);
    if (rc != IDM_OK) {
        free(key);
        return rc;
    }
    grown[*n].key = key;
    grown[*n].value = value;
    (*n)++;
    return IDM_OK;
}

static int parse_object(struct parser *p, size_t max_members, struct idm_json_member **members,
                        size_t *n)
{
    skip_space(p);
    if (p->len == 0)
        return parse_fail(0, "empty input");
    if (p->pos == p->len || p->s[p->pos] != '{')
        return parse_fail(p->pos, "expected '{': the document must be one object");
    p->pos++;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        return IDM_OK;
    }
    for (size_t comma_at = 0;;) {
        if (comma_at > 0 && p->pos < p->len && p->s[p->pos] == '}')
            return parse_fail(comma_at, "trailing comma");
        if (p->pos == p->len || p->s[p->pos] != '"')
            return parse_fail(p->pos, "expected a member name in double quotes");
        size_t key_at = p->pos;
        char *key = NULL;
        int rc = parse_string(p, &key);
        if (rc == IDM_OK)
            rc = add_member(p, members, n, max_members, key_at, key);
        if (rc != IDM_OK)
            return rc;
        skip_space(p);
        if (p->pos == p->len)
            return parse_fail(p->pos, "the object is not closed");
        if (p->s[p->pos] == '}') {
            p->pos++;
            return IDM_OK;
        }
        if (p->s[p->pos] != ',')
            return parse_fail(p->pos, "expected ',' or '}' after a member");
        comma_at = p->pos++;
        skip_space(p);
    }
}

int idm_json_parse_strings(const char *text, size_t len, size_t max_members,
                           struct idm_json_member **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct parser p = {(const unsigned char *)text, text != NULL ? len : 0, 0};
    struct idm_json_member *members = NULL;
    size_t count = 0;
    int rc = p.len > 0 ? check_bytes(text, len) : IDM_OK;
    if (rc == IDM_OK)
        rc = parse_object(&p, max_members, &members, &count);
    if (rc == IDM_OK) {
        skip_space(&p);
        if (p.pos != p.len)
            rc = parse_fail(p.pos, "more data after the object");
    }
    if (rc != IDM_OK) {
        idm_json_members_free(members, count);
        return rc;
    }
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
