/* Checks of the text that hosts hand the library, and attribute templates. */
#ifndef IDM_MODEL_TEXT_H
#define IDM_MODEL_TEXT_H

#include <stddef.h>

#include "model/records.h"

#define IDM_ACTOR_MAX 128
#define IDM_ATTRIBUTE_KEY_MAX 64

/* 1 if s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF); *bad_offset receives the first bad byte. */
int idm_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/*
 * Argument checks for public functions: IDM_OK, or IDM_ERR_INVALID_ARG with
 * a message naming func and the argument.
 *   actor: 1..IDM_ACTOR_MAX bytes of UTF-8 without control characters.
 *   key:   an attribute key (letters, digits, '_', '-', '.'; a letter first).
 *   text:  UTF-8 without NUL (or control characters other than tab when
 *          single_line), 1..max bytes; NULL allowed when allow_null.
 */
int idm_check_actor(const char *func, const char *actor);

/* 1 if text (non-NULL) passes the text rules above; otherwise 0 and why
 * says what is wrong, e.g. "is not valid UTF-8 (byte 3 is 0xff)". */
int idm_text_acceptable(const char *text, size_t max, int single_line, char *why,
                        size_t why_size);
int idm_check_key(const char *func, const char *arg, const char *key);

/* text as a message may quote it: its UTF-8 characters as they are; control
 * characters, backslashes and bytes that are not UTF-8 as \xNN; cut between
 * characters with "..." when out (size bytes, at least 8) is full.  Returns
 * out. */
const char *idm_text_shown(const char *text, char *out, size_t size);

/* How many bytes of UTF-8 text (NUL-terminated) to keep, to keep at most
 * max: all of it when it fits, else max moved back to the start of the
 * character it falls in, so that no character is cut. */
size_t idm_utf8_cut(const char *text, size_t max);
int idm_check_text(const char *func, const char *arg, const char *text, size_t max,
                   int allow_null, int single_line);

/* The attribute of a key in a sorted array, or NULL. */
const struct idm_attr *idm_attr_find(const struct idm_attr *attrs, size_t n, const char *key);

/*
 * Expands "${name}" references of tmpl with attribute values.  *out receives
 * a new string, or NULL when tmpl is empty or names a missing attribute.
 * Returns IDM_OK or IDM_ERR_NO_MEMORY.
 */
int idm_template_expand(const char *tmpl, const struct idm_attr *attrs, size_t n, char **out);

/* 1 if tmpl is a valid template (balanced ${key} references with valid
 * keys); otherwise 0 and a reason in why. */
int idm_template_valid(const char *tmpl, char *why, size_t why_size);

#endif /* IDM_MODEL_TEXT_H */
