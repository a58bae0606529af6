#include "model/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"

int idm_utf8_valid(const char *str, size_t len, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t need;
        unsigned min;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1, min = 0x80, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2, min = 0x800, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3, min = 0x10000, cp = c & 0x07;
        } else {
            goto bad;
        }
        if (len - i <= need)
            goto bad;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            goto bad;
        i += need + 1;
    }
    return 1;
bad:
    if (bad_offset != NULL)
        *bad_offset = i;
    return 0;
}

int idm_text_acceptable(const char *text, size_t max, int single_line, char *why,
                        size_t why_size)
{
    size_t len = strnlen(text, max + 1);
    size_t bad;
    if (len == 0) {
        snprintf(why, why_size, "is empty");
        return 0;
    }
    if (len > max) {
        snprintf(why, why_size, "is longer than %zu bytes (%zu)", max, strlen(text));
        return 0;
    }
    if (!idm_utf8_valid(text, len, &bad)) {
        snprintf(why, why_size, "is not valid UTF-8 (byte %zu is 0x%02x)", bad,
                 (unsigned)(unsigned char)text[bad]);
        return 0;
    }
    for (size_t i = 0; single_line && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            snprintf(why, why_size, "contains control character 0x%02x at byte %zu", c, i);
            return 0;
        }
    }
    return 1;
}

int idm_check_text(const char *func, const char *arg, const char *text, size_t max,
                   int allow_null, int single_line)
{
    if (text == NULL) {
        if (allow_null)
            return IDM_OK;
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument '%s' is NULL", arg);
    }
    char why[96];
    if (!idm_text_acceptable(text, max, single_line, why, sizeof why))
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument '%s' %s", arg, why);
    return IDM_OK;
}

int idm_check_actor(const char *func, const char *actor)
{
    return idm_check_text(func, "actor", actor, IDM_ACTOR_MAX, 0, 1);
}

size_t idm_utf8_cut(const char *text, size_t max)
{
    size_t len = strlen(text);
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)text[max] & 0xc0) == 0x80)
        max--;
    return max;
}

const char *idm_text_shown(const char *text, char *out, size_t size)
{
    size_t used = 0;
    for (size_t i = 0; text[i] != '\0';) {
        unsigned char c = (unsigned char)text[i];
        size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        int plain = c >= 0x20 && c != 0x7f && c != '\\' && strnlen(text + i, n) == n &&
                    idm_utf8_valid(text + i, n, NULL);
        size_t need = plain ? n : 4;
        if (used + need + 4 > size) {
            memcpy(out + used, "...", 4);
            return out;
        }
        if (plain)
            memcpy(out + used, text + i, n);
        else
            snprintf(out + used, 5, "\\x%02x", c);
        used += need;
        i += plain ? n : 1;
    }
    out[used] = '\0';
    return out;
}

static int is_key_char(char c, int first)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
        return 1;
    if (first)
        return 0;
    return (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Length of a valid key at the start of s, ending before stop (or NUL). */
static size_t key_length(const char *s, char stop)
{
    size_t n = 0;
    while (s[n] != '\0' && s[n] != stop && is_key_char(s[n], n == 0))
        n++;
    return n;
}

int idm_check_key(const char *func, const char *arg, const char *key)
{
    if (key == NULL)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument '%s' is NULL", arg);
    size_t n = key_length(key, '\0');
    if (n == 0 || key[n] != '\0' || n > IDM_ATTRIBUTE_KEY_MAX)
        return idm_error_set(func, IDM_ERR_INVALID_ARG,
                             "argument '%s' is not an attribute key: 1..%d letters, digits, '_', "
                             "'-' or '.', starting with a letter",
                             arg, IDM_ATTRIBUTE_KEY_MAX);
    return IDM_OK;
}

const struct idm_attr *idm_attr_find(const struct idm_attr *attrs, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(attrs[mid].key, key);
        if (c == 0)
            return &attrs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int idm_template_valid(const char *tmpl, char *why, size_t why_size)
{
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (p[0] != '$' || p[1] != '{')
            continue;
        size_t n = key_length(p + 2, '}');
        if (n == 0 || p[2 + n] != '}' || n > IDM_ATTRIBUTE_KEY_MAX) {
            snprintf(why, why_size, "'${' at byte %zu is not followed by an attribute key and '}'",
                     (size_t)(p - tmpl));
            return 0;
        }
        p += 2 + n;
    }
    return 1;
}

int idm_template_expand(const char *tmpl, const struct idm_attr *attrs, size_t n, char **out)
{
    *out = NULL;
    if (tmpl[0] == '\0')
        return IDM_OK;

    /* Two passes: measure, then write. */
    for (int pass = 0; pass < 2; pass++) {
        size_t len = 0;
        for (const char *p = tmpl; *p != '\0'; p++) {
            size_t klen = (p[0] == '$' && p[1] == '{') ? key_length(p + 2, '}') : 0;
            if (klen == 0 || p[2 + klen] != '}') {
                if (pass == 1)
                    (*out)[len] = *p;
                len++;
                continue;
            }
            char key[IDM_ATTRIBUTE_KEY_MAX + 1];
            if (klen > IDM_ATTRIBUTE_KEY_MAX)
                return IDM_OK; /* refused by idm_template_valid(); never derivable */
            memcpy(key, p + 2, klen);
            key[klen] = '\0';
            const struct idm_attr *a = idm_attr_find(attrs, n, key);
            if (a == NULL) {
                free(*out);
                *out = NULL;
                return IDM_OK;
            }
            size_t vlen = strlen(a->value);
            if (pass == 1)
                memcpy(*out + len, a->value, vlen);
            len += vlen;
            p += 2 + klen;
        }
        if (pass == 0) {
            *out = malloc(len + 1);
            if (*out == NULL)
                return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot expand a template");
        } else {
            (*out)[len] = '\0';
        }
    }
    return IDM_OK;
}
