/*
 * The little JSON the library speaks with the outside: it writes order
 * messages, reads status files that are one flat object of string members,
 * and reads documents of any shape (card layouts) into a tree.  Reading is
 * strict (RFC 8259; anything else is refused with the byte where it went
 * wrong), and both readers share one grammar.  Errors carry no function
 * name.
 */
#ifndef IDM_CORE_JSON_H
#define IDM_CORE_JSON_H

#include <stddef.h>

#include <idm/buffer.h>

/* Appends s as a JSON string to what b holds (unlike idm_buffer_put(),
 * which replaces it): quoted, '"' '\\' and control characters escaped
 * (\n, \t, ... or \u00XX), U+2028 and U+2029 as \u2028 and \u2029 (raw,
 * they end a JavaScript line); other UTF-8 as is.  IDM_ERR_INVALID_ARG if
 * s is not valid UTF-8 (b unchanged) or b would outgrow a buffer's limit;
 * IDM_ERR_NO_MEMORY.  After a failure to grow, b may hold part of it. */
int idm_json_put_string(idm_buffer_t *b, const char *s);

struct idm_json_member {
    char *key;
    char *value; /* decoded UTF-8, NUL-terminated */
};

/*
 * Parses len bytes as exactly one JSON object whose member values are all
 * strings, with optional whitespace around it: valid UTF-8 only, no
 * duplicate keys, no trailing commas, escapes decoded (surrogate pairs to
 * UTF-8; \u0000 and lone surrogates refused), at most max_members members.
 * On success *out (n members, in document order; NULL when n is 0) is
 * owned by the caller, to free with idm_json_members_free().  On failure
 * IDM_ERR_PARSE with "at byte N: <what>" (N counted from 0) or
 * IDM_ERR_NO_MEMORY, and *out NULL, *n 0.  text may be NULL when len is 0.
 */
int idm_json_parse_strings(const char *text, size_t len, size_t max_members,
                           struct idm_json_member **out, size_t *n);
/* NULL-safe. */
void idm_json_members_free(struct idm_json_member *members, size_t n);
/* The value of key, or NULL. */
const char *idm_json_member_get(const struct idm_json_member *members, size_t n,
                                const char *key);

/* ---- documents of any shape ------------------------------------------ */

/* Containers nest at most this deep ("[[1]]" is 2). */
#define IDM_JSON_MAX_DEPTH 32
/* A number is at most this many characters ("-1.5e3" is 6). */
#define IDM_JSON_MAX_NUMBER 256

enum idm_json_type {
    IDM_JSON_NULL,
    IDM_JSON_BOOL,
    IDM_JSON_NUMBER,
    IDM_JSON_STRING,
    IDM_JSON_ARRAY,
    IDM_JSON_OBJECT
};

struct idm_json_pair;

/* A value of a document.  offset is the byte of the input where it starts
 * (counted from 0), for messages that point into the document. */
struct idm_json_value {
    enum idm_json_type type;
    size_t offset;
    union {
        int boolean;   /* IDM_JSON_BOOL: 0 or 1 */
        double number; /* IDM_JSON_NUMBER: finite */
        struct {       /* IDM_JSON_STRING: decoded UTF-8, NUL-terminated, no NUL inside */
            char *string;
            size_t length; /* bytes, without the terminating NUL */
        };
        struct { /* IDM_JSON_ARRAY */
            struct idm_json_value *items;
            size_t nitems;
        };
        struct { /* IDM_JSON_OBJECT: in document order, no two with the same key */
            struct idm_json_pair *members;
            size_t nmembers;
        };
    };
};

/* A member of an object. */
struct idm_json_pair {
    char *key;         /* decoded UTF-8, NUL-terminated */
    size_t key_offset; /* the byte of its opening quote */
    struct idm_json_value value;
};

/*
 * Parses len bytes as exactly one JSON value of any type, with optional
 * whitespace around it, under the rules of idm_json_parse_strings() (valid
 * UTF-8, no NUL byte, no duplicate keys in an object, no trailing commas,
 * \u0000 and lone surrogates refused), plus: containers nest at most
 * IDM_JSON_MAX_DEPTH deep; numbers follow RFC 8259's grammar (no leading
 * zeros, '+', '.5', hex, NaN or Infinity), are at most IDM_JSON_MAX_NUMBER
 * characters, are read whatever the process's locale, and must be finite
 * as doubles ("1e999" is refused); the document is at most max_len bytes.
 * On success *out is owned by the caller, to free with idm_json_free().
 * On failure IDM_ERR_PARSE with "at byte N: <what>" (N counted from 0; a
 * document over max_len is refused at byte max_len) or IDM_ERR_NO_MEMORY,
 * and *out NULL.  text may be NULL when len is 0.
 */
int idm_json_parse(const char *text, size_t len, size_t max_len, struct idm_json_value **out);
/* Frees a tree from idm_json_parse().  NULL-safe. */
void idm_json_free(struct idm_json_value *value);
/* The member of an object named key, or NULL (also when value is not an
 * object). */
const struct idm_json_value *idm_json_get(const struct idm_json_value *value, const char *key);
/* The type as messages name it: "null", "a boolean", "a number", "a
 * string", "an array", "an object". */
const char *idm_json_type_name(enum idm_json_type type);

#endif /* IDM_CORE_JSON_H */
