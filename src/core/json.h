/*
 * The little JSON the library speaks with the outside: it writes order
 * messages, and it reads status files that are one flat object of string
 * members, strictly (RFC 8259; anything else is refused with the byte
 * where it went wrong).  Errors carry no function name.
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

#endif /* IDM_CORE_JSON_H */
