/*
 * Card layouts: the JSON document of doc/layouts.md read into the struct
 * of layout_impl.h.  Every member is checked as it is read, and a refusal
 * names its path ("front.elements[2].font.size") and the reason.  The
 * images a layout names are read now, so that rendering needs no file but
 * the holder's photo.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h> /* HUGE_VAL; no libm function is called */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "core/json.h"
#include "model/text.h"
#include "print/image.h"
#include "print/layout_impl.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define LAYOUT_FORMAT "libidm-card-layout"
#define LAYOUT_VERSION 1
#define LAYOUT_NAME_MAX 64
#define FONT_FAMILY_MAX 128
#define FILE_NAME_MAX 4095  /* a path in the layout, as written */
#define SOURCE_KEY_MAX 64   /* a photo's attribute key */
#define MAX_LINES 8
#define DEFAULT_FAMILY "DejaVu Sans"
#define DEFAULT_FONT_PT 10.0
#define DEFAULT_MIN_FONT_PT 6.0
#define DEFAULT_BARCODE_DATA "${card.number}"
#define DEFAULT_PHOTO_SOURCE "photo"
/* Rounding: a box computed as 0.1 + 85.5 must still fit 85.60 mm. */
#define MM_SLACK 1e-9

#define PATH_SIZE 96  /* "back.elements[63].background.image" and the like */
#define SHOWN_SIZE 72 /* document text quoted in a message */
#define FILE_SHOWN 320

static const struct idm_layout_color black = {0, 0, 0, 1};
static const struct idm_layout_color white = {1, 1, 1, 1};
static const struct idm_layout_color transparent = {0, 0, 0, 0};
static const struct idm_layout_color light_grey = {0xd0 / 255.0, 0xd0 / 255.0, 0xd0 / 255.0, 1};

/* What the reader needs besides the document. */
struct build {
    struct idm_layout *layout;
    const char *base_dir; /* NULL: the current directory */
};

/* ---- messages ---------------------------------------------------------- */

static int member_fail(int code, const char *path, const char *fmt, ...) IDM_PRINTF(3, 4);

/* Fails with "<path>: <what>" (just "<what>" for the document itself). */
static int member_fail(int code, const char *path, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (path[0] == '\0')
        return IDM_ERR(code, "%s", what);
    return IDM_ERR(code, "%s: %s", path, what);
}

#define REFUSE(path, ...) member_fail(IDM_ERR_INVALID_ARG, (path), __VA_ARGS__)

/* parent.key, or key at the top.  Paths of this format are short: the
 * buffer always holds them. */
static const char *join_path(char out[PATH_SIZE], const char *parent, const char *key)
{
    int n = snprintf(out, PATH_SIZE, "%s%s%s", parent, parent[0] != '\0' ? "." : "", key);
    if (n < 0)
        out[0] = '\0';
    return out;
}

static const char *index_path(char out[PATH_SIZE], const char *parent, size_t i)
{
    int n = snprintf(out, PATH_SIZE, "%s[%zu]", parent, i);
    if (n < 0)
        out[0] = '\0';
    return out;
}

/* A number as a message shows it: 200, 4.5, 1e+300. */
static const char *show_number(double v, char out[32])
{
    int n = snprintf(out, 32, "%.10g", v);
    if (n < 0)
        out[0] = '\0';
    return out;
}

/* A length in mm: two decimals ("90.00") unless that would hide the
 * difference that matters ("85.601"). */
static const char *show_mm(double v, char out[32])
{
    double hundredths = v * 100;
    int n = -1;
    if (v > -1e6 && v < 1e6) {
        double off = hundredths - (double)(long long)(hundredths + (v < 0 ? -0.5 : 0.5));
        if (off > -1e-6 && off < 1e-6)
            n = snprintf(out, 32, "%.2f", v);
    }
    if (n < 0)
        n = snprintf(out, 32, "%.10g", v);
    if (n < 0)
        out[0] = '\0';
    return out;
}

/* strerror_r rather than strerror: layouts may load on several threads. */
static const char *describe_errno(int err, char *buf, size_t size)
{
    if (strerror_r(err, buf, size) != 0)
        snprintf(buf, size, "error %d", err);
    return buf;
}

/* ---- typed members ----------------------------------------------------- */

/* The member key of obj, which must have the type when present; *out NULL
 * when it is absent (refused when required). */
static int get_member(const struct idm_json_value *obj, const char *path, const char *key,
                      enum idm_json_type type, int required, const struct idm_json_value **out)
{
    *out = idm_json_get(obj, key);
    if (*out == NULL)
        return required ? REFUSE(path, "'%s' is missing", key) : IDM_OK;
    if ((*out)->type != type) {
        char sub[PATH_SIZE];
        return REFUSE(join_path(sub, path, key), "must be %s, not %s", idm_json_type_name(type),
                      idm_json_type_name((*out)->type));
    }
    return IDM_OK;
}

/* A string member; *out NULL when absent. */
static int get_string(const struct idm_json_value *obj, const char *path, const char *key,
                      int required, const char **out)
{
    const struct idm_json_value *v;
    int rc = get_member(obj, path, key, IDM_JSON_STRING, required, &v);
    *out = v != NULL ? v->string : NULL;
    return rc;
}

/* A string member that must pass idm_text_acceptable() (one line, 1..max
 * bytes); *out NULL when absent. */
static int get_text(const struct idm_json_value *obj, const char *path, const char *key,
                    size_t max, int required, const char **out)
{
    int rc = get_string(obj, path, key, required, out);
    char why[96];
    if (rc == IDM_OK && *out != NULL && !idm_text_acceptable(*out, max, 1, why, sizeof why)) {
        char sub[PATH_SIZE];
        *out = NULL;
        return REFUSE(join_path(sub, path, key), "%s", why);
    }
    return rc;
}

/* A number member in [lo, hi], unit for messages; *out unchanged when
 * absent. */
static int get_number(const struct idm_json_value *obj, const char *path, const char *key,
                      double lo, double hi, const char *unit, int required, double *out)
{
    const struct idm_json_value *v;
    int rc = get_member(obj, path, key, IDM_JSON_NUMBER, required, &v);
    if (rc != IDM_OK || v == NULL)
        return rc;
    char sub[PATH_SIZE], a[32], b[32];
    if (v->number < lo)
        return REFUSE(join_path(sub, path, key), "%s is below %s%s", show_number(v->number, a),
                      show_number(lo, b), unit);
    if (v->number > hi)
        return REFUSE(join_path(sub, path, key), "%s is above %s%s", show_number(v->number, a),
                      show_number(hi, b), unit);
    *out = v->number;
    return IDM_OK;
}

/* A whole-number member in [lo, hi]; *out unchanged when absent. */
static int get_count(const struct idm_json_value *obj, const char *path, const char *key,
                     int lo, int hi, int *out)
{
    double d = 0;
    const struct idm_json_value *v = idm_json_get(obj, key);
    int rc = get_number(obj, path, key, lo, hi, "", 0, &d);
    if (rc != IDM_OK || v == NULL)
        return rc;
    if (d != (double)(int)d) { /* in [lo, hi] by now: (int) cannot overflow */
        char sub[PATH_SIZE], a[32];
        return REFUSE(join_path(sub, path, key), "%s is not a whole number", show_number(d, a));
    }
    *out = (int)d;
    return IDM_OK;
}

/* A boolean member; *out unchanged when absent. */
static int get_bool(const struct idm_json_value *obj, const char *path, const char *key,
                    int *out)
{
    const struct idm_json_value *v;
    int rc = get_member(obj, path, key, IDM_JSON_BOOL, 0, &v);
    if (rc == IDM_OK && v != NULL)
        *out = v->boolean;
    return rc;
}

/* names, for a message: "a, b, c". */
static const char *list_names(const char *const *names, size_t n, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        int k = snprintf(out + used, size - used, "%s%s", i > 0 ? ", " : "", names[i]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
    return out;
}

/* A string member that must be one of names (n of them); *out receives
 * its index, unchanged when absent. */
static int get_choice(const struct idm_json_value *obj, const char *path, const char *key,
                      const char *const *names, size_t n, int required, int *out)
{
    const char *s;
    int rc = get_string(obj, path, key, required, &s);
    if (rc != IDM_OK || s == NULL)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return IDM_OK;
        }
    }
    char sub[PATH_SIZE], shown[SHOWN_SIZE], list[256];
    return REFUSE(join_path(sub, path, key), "'%s' is not one of %s",
                  idm_text_shown(s, shown, sizeof shown), list_names(names, n, list, sizeof list));
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "#RRGGBB" or "#RRGGBBAA" into *c; 0 if s is neither. */
static int parse_color(const char *s, struct idm_layout_color *c)
{
    size_t len = strlen(s);
    if (s[0] != '#' || (len != 7 && len != 9))
        return 0;
    double channel[4] = {0, 0, 0, 1};
    for (size_t i = 0; i < (len - 1) / 2; i++) {
        int hi = hex_digit(s[1 + 2 * i]);
        int lo = hex_digit(s[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            return 0;
        channel[i] = (hi * 16 + lo) / 255.0;
    }
    c->r = channel[0];
    c->g = channel[1];
    c->b = channel[2];
    c->a = channel[3];
    return 1;
}

/* A colour member; *out unchanged when absent. */
static int get_color(const struct idm_json_value *obj, const char *path, const char *key,
                     struct idm_layout_color *out)
{
    const char *s;
    int rc = get_string(obj, path, key, 0, &s);
    if (rc != IDM_OK || s == NULL || parse_color(s, out))
        return rc;
    char sub[PATH_SIZE], shown[SHOWN_SIZE];
    return REFUSE(join_path(sub, path, key), "'%s' is not a colour: write #RRGGBB or #RRGGBBAA "
                  "in hex digits", idm_text_shown(s, shown, sizeof shown));
}

/* Refuses the first member of obj that is not in known (NULL-terminated);
 * what names the object for the message ("a text element"). */
static int check_known(const struct idm_json_value *obj, const char *path, const char *what,
                       const char *const *known)
{
    size_t n = 0;
    while (known[n] != NULL)
        n++;
    for (size_t i = 0; i < obj->nmembers; i++) {
        const char *key = obj->members[i].key;
        size_t k = 0;
        while (k < n && strcmp(known[k], key) != 0)
            k++;
        if (k == n) {
            char shown[SHOWN_SIZE], list[256];
            return REFUSE(path, "unknown member '%s' (%s has %s)",
                          idm_text_shown(key, shown, sizeof shown), what,
                          list_names(known, n, list, sizeof list));
        }
    }
    return IDM_OK;
}

/* ---- templates --------------------------------------------------------- */

/* A piece of a template: literal text, or the key of a ${key} reference. */
struct piece {
    const char *start;
    size_t len;
    int is_key;
};

static int is_key_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

/*
 * The piece of tmpl at *pos, advancing *pos past it: 1; 0 at the end; -1
 * on a syntax error, with *pos left on the '$' of the faulty reference and
 * why (if not NULL) saying what is wrong.  The one reading of the syntax,
 * for the check at load and for expansion.
 */
static int next_piece(const char *tmpl, size_t *pos, struct piece *pc, char *why,
                      size_t why_size)
{
    const char *s = tmpl + *pos;
    if (*s == '\0')
        return 0;
    if (s[0] == '$' && s[1] == '$' && s[2] == '{') { /* "$${": a literal "${" */
        *pc = (struct piece){s + 1, 2, 0};
        *pos += 3;
        return 1;
    }
    if (s[0] == '$' && s[1] == '{') {
        size_t n = 0;
        while (is_key_char(s[2 + n]))
            n++;
        if (s[2 + n] == '}' && n > 0) {
            *pc = (struct piece){s + 2, n, 1};
            *pos += n + 3;
            return 1;
        }
        if (why == NULL)
            return -1;
        if (s[2 + n] == '\0') {
            snprintf(why, why_size, "the ${ at byte %zu is not closed with '}'", *pos);
        } else if (s[2 + n] == '}') {
            snprintf(why, why_size, "the ${} at byte %zu names no key", *pos);
        } else {
            /* The character as a message may show it, whole. */
            unsigned char c = (unsigned char)s[2 + n];
            size_t clen = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            char one[8], shown[32];
            memcpy(one, s + 2 + n, clen);
            one[clen] = '\0';
            snprintf(why, why_size, "in the ${ at byte %zu, '%s' cannot be part of a key "
                     "(letters, digits, '.', '_' and '-')", *pos,
                     idm_text_shown(one, shown, sizeof shown));
        }
        return -1;
    }
    size_t n = 0;
    while (s[n] != '\0' && !(s[n] == '$' && (s[n + 1] == '{' || (s[n + 1] == '$' &&
                                                                 s[n + 2] == '{'))))
        n++;
    *pc = (struct piece){s, n, 0};
    *pos += n;
    return 1;
}

/* A template member: one line of UTF-8, 1..IDM_LAYOUT_MAX_TEXT bytes, and
 * well-formed references.  *out NULL when absent. */
static int get_template(const struct idm_json_value *obj, const char *path, const char *key,
                        int required, const char **out)
{
    int rc = get_text(obj, path, key, IDM_LAYOUT_MAX_TEXT, required, out);
    if (rc != IDM_OK || *out == NULL)
        return rc;
    size_t pos = 0;
    struct piece pc;
    char why[160];
    int r;
    while ((r = next_piece(*out, &pos, &pc, why, sizeof why)) > 0)
        ;
    if (r < 0) {
        char sub[PATH_SIZE];
        *out = NULL;
        return REFUSE(join_path(sub, path, key), "%s", why);
    }
    return IDM_OK;
}

static const char *lookup(const struct idm_render_value *values, size_t nvalues,
                          const char *key, size_t len)
{
    for (size_t i = 0; i < nvalues; i++) {
        const char *k = values[i].key;
        if (k != NULL && strncmp(k, key, len) == 0 && k[len] == '\0')
            return values[i].value != NULL ? values[i].value : "";
    }
    return "";
}

char *idm_layout_expand(const char *tmpl, const struct idm_render_value *values, size_t nvalues)
{
    if (tmpl == NULL)
        tmpl = "";
    /* Twice through: to size the result, then to fill it. */
    char *out = NULL;
    size_t size = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t pos = 0, used = 0;
        struct piece pc;
        int r;
        while ((r = next_piece(tmpl, &pos, &pc, NULL, 0)) != 0) {
            if (r < 0) { /* checked at load; should one slip through, it stays as written */
                pc = (struct piece){tmpl + pos, strlen(tmpl + pos), 0};
                pos += pc.len;
            }
            const char *text = pc.start;
            size_t len = pc.len;
            if (pc.is_key) {
                text = lookup(values, nvalues, pc.start, pc.len);
                len = strlen(text);
            }
            if (out != NULL)
                memcpy(out + used, text, len);
            used += len;
        }
        if (out != NULL) {
            out[used] = '\0';
            break;
        }
        size = used + 1;
        if ((out = malloc(size)) == NULL)
            return NULL;
    }
    return out;
}

/* ---- files ------------------------------------------------------------- */

/* dir/name, or name when it is absolute or dir is NULL or empty. */
static char *join_dir(const char *dir, const char *name)
{
    if (name[0] == '/' || dir == NULL || dir[0] == '\0')
        return strdup(name);
    size_t dlen = strlen(dir), nlen = strlen(name);
    int slash = dir[dlen - 1] != '/';
    char *out = malloc(dlen + (size_t)slash + nlen + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, dir, dlen);
    if (slash)
        out[dlen] = '/';
    memcpy(out + dlen + (size_t)slash, name, nlen + 1);
    return out;
}

#define NOT_REGULAR IDM_LAYOUT_NOT_REGULAR

int idm_layout_read_file(const char *path, size_t max, int regular_only, unsigned char **out,
                         size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (regular_only ? O_NONBLOCK : 0));
    if (fd < 0)
        return errno;
    struct stat st;
    int err = 0;
    if (fstat(fd, &st) != 0)
        err = errno;
    else if (S_ISDIR(st.st_mode))
        err = EISDIR;
    else if (regular_only && !S_ISREG(st.st_mode))
        err = NOT_REGULAR;
    /* A regular file's size sizes the buffer; anything else grows it. */
    size_t cap = err == 0 && S_ISREG(st.st_mode) && (unsigned long long)st.st_size <= max
                     ? (size_t)st.st_size + 1
                     : 65536;
    if (cap > max + 1)
        cap = max + 1;
    unsigned char *buf = err == 0 ? malloc(cap) : NULL;
    if (err == 0 && buf == NULL)
        err = ENOMEM;
    size_t used = 0;
    while (err == 0 && used < max + 1) {
        if (used == cap) { /* a file that grew, or one that is not regular */
            size_t want = cap > (max + 1) / 2 ? max + 1 : cap * 2;
            unsigned char *bigger = realloc(buf, want);
            if (bigger == NULL) {
                err = ENOMEM;
                break;
            }
            buf = bigger;
            cap = want;
        }
        ssize_t got = read(fd, buf + used, cap - used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            err = errno;
        else if (got == 0)
            break;
        else
            used += (size_t)got;
    }
    close(fd);
    if (err != 0) {
        free(buf);
        return err;
    }
    *out = buf;
    *len = used;
    return 0;
}

/* A failed read as the library's error, naming member (may be "") and
 * file. */
static int read_error(int err, const char *member, const char *file)
{
    char shown[FILE_SHOWN], words[128];
    if (err == NOT_REGULAR)
        return member_fail(IDM_ERR_IO, member, "cannot read '%s': it is not a regular file",
                           idm_text_shown(file, shown, sizeof shown));
    if (err == ENOMEM)
        return member_fail(IDM_ERR_NO_MEMORY, member, "cannot allocate memory to read '%s'",
                           idm_text_shown(file, shown, sizeof shown));
    return member_fail(IDM_ERR_IO, member, "cannot read '%s': %s",
                       idm_text_shown(file, shown, sizeof shown),
                       describe_errno(err, words, sizeof words));
}

static int is_png_or_jpeg(const unsigned char *b, size_t len)
{
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const unsigned char jpeg[3] = {0xff, 0xd8, 0xff};
    return (len >= sizeof png && memcmp(b, png, sizeof png) == 0) ||
           (len >= sizeof jpeg && memcmp(b, jpeg, sizeof jpeg) == 0);
}

/* The image file named by the string member key of obj (required), read
 * into *img. */
static int read_image(const struct build *b, const struct idm_json_value *obj,
                      const char *path, const char *key, struct idm_layout_image *img)
{
    const char *name;
    int rc = get_text(obj, path, key, FILE_NAME_MAX, 1, &name);
    if (rc != IDM_OK)
        return rc;
    char member[PATH_SIZE], shown[FILE_SHOWN];
    join_path(member, path, key);
    if ((img->path = join_dir(b->base_dir, name)) == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate an image path");
    int err = idm_layout_read_file(img->path, IDM_LAYOUT_MAX_IMAGE, 1, &img->bytes, &img->len);
    if (err != 0)
        return read_error(err, member, img->path);
    if (img->len > IDM_LAYOUT_MAX_IMAGE)
        return REFUSE(member, "'%s' is larger than %u MiB", idm_text_shown(img->path, shown,
                      sizeof shown), IDM_LAYOUT_MAX_IMAGE >> 20);
    if (!is_png_or_jpeg(img->bytes, img->len))
        return REFUSE(member, "'%s' is neither a PNG nor a JPEG file",
                      idm_text_shown(img->path, shown, sizeof shown));
    /* Decoded once now, so that a damaged image is refused with the layout
     * rather than failing every card at rendering. */
    char why[256];
    cairo_surface_t *decoded = idm_image_decode(img->bytes, img->len, why, sizeof why);
    if (decoded == NULL)
        return REFUSE(member, "'%s' cannot be decoded: %s",
                      idm_text_shown(img->path, shown, sizeof shown), why);
    cairo_surface_destroy(decoded);
    return IDM_OK;
}

/* ---- elements ---------------------------------------------------------- */

static const char *const align_names[] = {"start", "center", "end"};
static const char *const valign_names[] = {"top", "middle", "bottom"};
static const char *const overflow_names[] = {"shrink", "ellipsize"};
static const char *const fit_names[] = {"contain", "cover"};
static const char *const symbology_names[] = {"code128", "qr"};
static const char *const weight_names[] = {"normal", "bold"};
static const char *const style_names[] = {"normal", "italic"};
static const char *const orientation_names[] = {"landscape", "portrait"};

double idm_layout_face_width(const struct idm_layout *layout)
{
    return layout->portrait ? IDM_CARD_HEIGHT_MM : IDM_CARD_WIDTH_MM;
}

double idm_layout_face_height(const struct idm_layout *layout)
{
    return layout->portrait ? IDM_CARD_WIDTH_MM : IDM_CARD_HEIGHT_MM;
}

static int read_box(const struct build *b, const struct idm_json_value *el, const char *path,
                    struct idm_layout_box *box)
{
    static const char *const members[] = {"x", "y", "width", "height", NULL};
    const struct idm_json_value *v;
    int rc = get_member(el, path, "box", IDM_JSON_OBJECT, 1, &v);
    char bpath[PATH_SIZE], sub[PATH_SIZE], a[32], c[32];
    join_path(bpath, path, "box");
    if (rc == IDM_OK)
        rc = check_known(v, bpath, "a box", members);
    double *fields[] = {&box->x, &box->y, &box->width, &box->height};
    for (size_t i = 0; i < N(fields) && rc == IDM_OK; i++)
        rc = get_number(v, bpath, members[i], -HUGE_VAL, HUGE_VAL, "", 1, fields[i]);
    if (rc != IDM_OK)
        return rc;
    for (size_t i = 0; i < 2; i++) {
        if (*fields[i] < 0)
            return REFUSE(join_path(sub, bpath, members[i]), "%s mm is outside the face, which "
                          "starts at 0", show_mm(*fields[i], a));
        if (*fields[i + 2] <= 0)
            return REFUSE(join_path(sub, bpath, members[i + 2]), "must be above 0 mm, not %s",
                          show_mm(*fields[i + 2], a));
    }
    double fw = idm_layout_face_width(b->layout), fh = idm_layout_face_height(b->layout);
    if (box->x + box->width > fw + MM_SLACK)
        return REFUSE(bpath, "reaches x = %s mm, beyond the face's width of %s mm",
                      show_mm(box->x + box->width, a), show_mm(fw, c));
    if (box->y + box->height > fh + MM_SLACK)
        return REFUSE(bpath, "reaches y = %s mm, beyond the face's height of %s mm",
                      show_mm(box->y + box->height, a), show_mm(fh, c));
    return IDM_OK;
}

static int copy_string(char **dst, const char *src)
{
    if ((*dst = strdup(src)) == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a layout string");
    return IDM_OK;
}

static int read_font(const struct idm_json_value *el, const char *path,
                     struct idm_layout_element *e)
{
    static const char *const members[] = {"family", "size", "weight", "style", NULL};
    const struct idm_json_value *font;
    const char *family = DEFAULT_FAMILY;
    int bold = 0, italic = 0;
    char fpath[PATH_SIZE];
    join_path(fpath, path, "font");
    int rc = get_member(el, path, "font", IDM_JSON_OBJECT, 0, &font);
    if (rc == IDM_OK && font != NULL) {
        const char *given = NULL;
        rc = check_known(font, fpath, "a font", members);
        if (rc == IDM_OK)
            rc = get_text(font, fpath, "family", FONT_FAMILY_MAX, 0, &given);
        if (rc == IDM_OK)
            rc = get_number(font, fpath, "size", IDM_LAYOUT_MIN_FONT_PT, IDM_LAYOUT_MAX_FONT_PT,
                            " pt", 0, &e->font_size);
        if (rc == IDM_OK)
            rc = get_choice(font, fpath, "weight", weight_names, N(weight_names), 0, &bold);
        if (rc == IDM_OK)
            rc = get_choice(font, fpath, "style", style_names, N(style_names), 0, &italic);
        if (given != NULL)
            family = given;
    }
    e->bold = bold;
    e->italic = italic;
    return rc == IDM_OK ? copy_string(&e->font_family, family) : rc;
}

static int read_text(const struct build *b, const struct idm_json_value *el, const char *path,
                     struct idm_layout_element *e)
{
    (void)b;
    const char *text;
    int overflow = IDM_OVERFLOW_SHRINK, align = IDM_ALIGN_START, valign = IDM_VALIGN_MIDDLE;
    e->font_size = DEFAULT_FONT_PT;
    e->color = black;
    e->max_lines = 1;
    int rc = get_template(el, path, "text", 1, &text);
    if (rc == IDM_OK)
        rc = copy_string(&e->text, text);
    if (rc == IDM_OK)
        rc = read_font(el, path, e);
    if (rc == IDM_OK)
        rc = get_color(el, path, "color", &e->color);
    if (rc == IDM_OK)
        rc = get_choice(el, path, "align", align_names, N(align_names), 0, &align);
    if (rc == IDM_OK)
        rc = get_choice(el, path, "valign", valign_names, N(valign_names), 0, &valign);
    if (rc == IDM_OK)
        rc = get_choice(el, path, "overflow", overflow_names, N(overflow_names), 0, &overflow);
    e->align = (enum idm_layout_align)align;
    e->valign = (enum idm_layout_valign)valign;
    e->overflow = (enum idm_layout_overflow)overflow;
    e->min_font_size = e->font_size < DEFAULT_MIN_FONT_PT ? e->font_size : DEFAULT_MIN_FONT_PT;
    char sub[PATH_SIZE], a[32], c[32];
    if (rc == IDM_OK && idm_json_get(el, "min_size") != NULL) {
        if (overflow != IDM_OVERFLOW_SHRINK)
            return REFUSE(join_path(sub, path, "min_size"), "applies only with \"overflow\": "
                          "\"shrink\"");
        rc = get_number(el, path, "min_size", IDM_LAYOUT_MIN_FONT_PT, IDM_LAYOUT_MAX_FONT_PT,
                        " pt", 0, &e->min_font_size);
        if (rc == IDM_OK && e->min_font_size > e->font_size)
            return REFUSE(join_path(sub, path, "min_size"), "%s is above the font size of %s pt",
                          show_number(e->min_font_size, a), show_number(e->font_size, c));
    }
    if (rc == IDM_OK)
        rc = get_count(el, path, "max_lines", 1, MAX_LINES, &e->max_lines);
    return rc;
}

static int read_photo(const struct build *b, const struct idm_json_value *el, const char *path,
                      struct idm_layout_element *e)
{
    (void)b;
    const char *source;
    int fit = IDM_FIT_COVER;
    e->fill = light_grey;
    int rc = get_text(el, path, "source", SOURCE_KEY_MAX, 0, &source);
    if (rc == IDM_OK && source != NULL) {
        for (size_t i = 0; source[i] != '\0'; i++) {
            if (!is_key_char(source[i])) {
                char sub[PATH_SIZE], shown[SHOWN_SIZE];
                return REFUSE(join_path(sub, path, "source"), "'%s' is not an attribute key "
                              "(letters, digits, '.', '_' and '-')",
                              idm_text_shown(source, shown, sizeof shown));
            }
        }
    }
    if (rc == IDM_OK)
        rc = copy_string(&e->source, source != NULL ? source : DEFAULT_PHOTO_SOURCE);
    if (rc == IDM_OK)
        rc = get_choice(el, path, "fit", fit_names, N(fit_names), 0, &fit);
    e->fit = (enum idm_layout_fit)fit;
    if (rc == IDM_OK)
        rc = get_color(el, path, "placeholder", &e->fill);
    return rc;
}

static int read_image_element(const struct build *b, const struct idm_json_value *el,
                              const char *path, struct idm_layout_element *e)
{
    int fit = IDM_FIT_CONTAIN;
    int rc = get_choice(el, path, "fit", fit_names, N(fit_names), 0, &fit);
    e->fit = (enum idm_layout_fit)fit;
    /* Last: the file is read only for an element that is otherwise right. */
    return rc == IDM_OK ? read_image(b, el, path, "path", &e->image) : rc;
}

static int read_barcode(const struct build *b, const struct idm_json_value *el,
                        const char *path, struct idm_layout_element *e)
{
    (void)b;
    int symbology = IDM_BARCODE_CODE128;
    const char *data;
    e->color = black;
    e->fill = transparent;
    int rc = get_choice(el, path, "symbology", symbology_names, N(symbology_names), 1, &symbology);
    e->symbology = (enum idm_layout_symbology)symbology;
    if (rc == IDM_OK)
        rc = get_template(el, path, "data", 0, &data);
    if (rc == IDM_OK)
        rc = copy_string(&e->data, data != NULL ? data : DEFAULT_BARCODE_DATA);
    if (rc == IDM_OK)
        rc = get_color(el, path, "color", &e->color);
    if (rc == IDM_OK)
        rc = get_color(el, path, "background", &e->fill);
    if (rc == IDM_OK)
        rc = get_bool(el, path, "human_readable", &e->human_readable);
    if (rc == IDM_OK && e->human_readable && e->symbology != IDM_BARCODE_CODE128) {
        char sub[PATH_SIZE];
        return REFUSE(join_path(sub, path, "human_readable"), "true applies only to "
                      "\"symbology\": \"code128\"");
    }
    return rc;
}

/* The element types: their names (in the order of enum idm_layout_kind),
 * members and readers. */
static const struct kind {
    const char *name;
    const char *what;
    const char *const *members;
    int (*read)(const struct build *, const struct idm_json_value *, const char *,
                struct idm_layout_element *);
} kinds[] = {
    [IDM_LAYOUT_TEXT] = {"text", "a text element",
                         (const char *const[]){"type", "box", "text", "font", "color", "align",
                                               "valign", "overflow", "min_size", "max_lines",
                                               NULL},
                         read_text},
    [IDM_LAYOUT_PHOTO] = {"photo", "a photo element",
                          (const char *const[]){"type", "box", "source", "fit", "placeholder",
                                                NULL},
                          read_photo},
    [IDM_LAYOUT_IMAGE] = {"image", "an image element",
                          (const char *const[]){"type", "box", "path", "fit", NULL},
                          read_image_element},
    [IDM_LAYOUT_BARCODE] = {"barcode", "a barcode element",
                            (const char *const[]){"type", "box", "symbology", "data", "color",
                                                  "background", "human_readable", NULL},
                            read_barcode},
};

static int read_element(const struct build *b, const struct idm_json_value *v, const char *path,
                        struct idm_layout_element *e)
{
    if (v->type != IDM_JSON_OBJECT)
        return REFUSE(path, "must be an object, not %s", idm_json_type_name(v->type));
    int rc = copy_string(&e->where, path);
    if (rc != IDM_OK)
        return rc;
    const char *names[N(kinds)];
    for (size_t i = 0; i < N(kinds); i++)
        names[i] = kinds[i].name;
    int kind = 0;
    if ((rc = get_choice(v, path, "type", names, N(names), 1, &kind)) != IDM_OK)
        return rc;
    e->kind = (enum idm_layout_kind)kind;
    rc = check_known(v, path, kinds[kind].what, kinds[kind].members);
    if (rc == IDM_OK)
        rc = read_box(b, v, path, &e->box);
    return rc == IDM_OK ? kinds[kind].read(b, v, path, e) : rc;
}

/* ---- faces and the layout ---------------------------------------------- */

static int read_background(const struct build *b, const struct idm_json_value *face,
                           const char *path, struct idm_layout_face *f)
{
    static const char *const members[] = {"color", "image", NULL};
    const struct idm_json_value *bg;
    char bpath[PATH_SIZE];
    join_path(bpath, path, "background");
    f->background = white;
    int rc = get_member(face, path, "background", IDM_JSON_OBJECT, 0, &bg);
    if (rc != IDM_OK || bg == NULL)
        return rc;
    rc = check_known(bg, bpath, "a background", members);
    if (rc == IDM_OK)
        rc = get_color(bg, bpath, "color", &f->background);
    if (rc == IDM_OK && idm_json_get(bg, "image") != NULL)
        rc = read_image(b, bg, bpath, "image", &f->background_image);
    return rc;
}

static int read_face(const struct build *b, const struct idm_json_value *root, const char *key,
                     int required, struct idm_layout_face *f)
{
    static const char *const members[] = {"background", "elements", NULL};
    const struct idm_json_value *face, *list;
    int rc = get_member(root, "", key, IDM_JSON_OBJECT, required, &face);
    if (rc != IDM_OK || face == NULL)
        return rc;
    f->present = 1;
    if ((rc = check_known(face, key, "a face", members)) != IDM_OK ||
        (rc = read_background(b, face, key, f)) != IDM_OK ||
        (rc = get_member(face, key, "elements", IDM_JSON_ARRAY, 0, &list)) != IDM_OK ||
        list == NULL || list->nitems == 0)
        return rc;
    char lpath[PATH_SIZE], epath[PATH_SIZE];
    join_path(lpath, key, "elements");
    if (list->nitems > IDM_LAYOUT_MAX_ELEMENTS)
        return REFUSE(lpath, "has %zu elements; a face has at most %d", list->nitems,
                      IDM_LAYOUT_MAX_ELEMENTS);
    if ((f->elements = calloc(list->nitems, sizeof *f->elements)) == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu elements", list->nitems);
    for (size_t i = 0; i < list->nitems && rc == IDM_OK; i++) {
        f->nelements = i + 1; /* counted before it is read, so that a failure frees it */
        rc = read_element(b, &list->items[i], index_path(epath, lpath, i), &f->elements[i]);
    }
    return rc;
}

static int read_name(const struct idm_json_value *root, struct idm_layout *l)
{
    const char *name;
    int rc = get_string(root, "", "name", 1, &name);
    if (rc != IDM_OK)
        return rc;
    char shown[SHOWN_SIZE];
    size_t len = strlen(name);
    if (len == 0)
        return REFUSE("name", "is empty; a name has 1 to %d bytes", LAYOUT_NAME_MAX);
    if (len > LAYOUT_NAME_MAX)
        return REFUSE("name", "is %zu bytes long; a name has 1 to %d bytes", len,
                      LAYOUT_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return REFUSE("name", "'%s' may hold only letters, digits, '.', '_' and '-'",
                          idm_text_shown(name, shown, sizeof shown));
    }
    return copy_string(&l->name, name);
}

static int read_card_types(const struct idm_json_value *root, struct idm_layout *l)
{
    const struct idm_json_value *list;
    int rc = get_member(root, "", "card_types", IDM_JSON_ARRAY, 1, &list);
    if (rc != IDM_OK)
        return rc;
    if (list->nitems == 0)
        return REFUSE("card_types", "lists no card type");
    const char *names[IDM_CARD_TEMPORARY + 1];
    for (int t = 0; t <= IDM_CARD_TEMPORARY; t++)
        names[t] = idm_card_type_name((idm_card_type)t);
    for (size_t i = 0; i < list->nitems; i++) {
        const struct idm_json_value *item = &list->items[i];
        char ipath[PATH_SIZE], shown[SHOWN_SIZE], all[160];
        index_path(ipath, "card_types", i);
        if (item->type != IDM_JSON_STRING)
            return REFUSE(ipath, "must be a string, not %s", idm_json_type_name(item->type));
        int t = 0;
        while (t < (int)N(names) && strcmp(names[t], item->string) != 0)
            t++;
        if (t == (int)N(names))
            return REFUSE(ipath, "'%s' is not a card type (%s)",
                          idm_text_shown(item->string, shown, sizeof shown),
                          list_names(names, N(names), all, sizeof all));
        if (l->card_types & (1u << t))
            return REFUSE(ipath, "'%s' is listed twice", names[t]);
        l->card_types |= 1u << t;
    }
    return IDM_OK;
}

/* Where relative photo paths resolve: photo_dir against base_dir, made
 * absolute, so that a host changing its directory later does not move
 * them. */
static int read_photo_dir(const struct build *b, const struct idm_json_value *root,
                          struct idm_layout *l)
{
    const char *given;
    int rc = get_text(root, "", "photo_dir", FILE_NAME_MAX, 0, &given);
    if (rc != IDM_OK)
        return rc;
    char *dir = given != NULL ? join_dir(b->base_dir, given)
                              : strdup(b->base_dir != NULL && b->base_dir[0] != '\0'
                                           ? b->base_dir
                                           : ".");
    if (dir != NULL && dir[0] != '/') {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd) != NULL) {
            char *absolute = strcmp(dir, ".") == 0 ? strdup(cwd) : join_dir(cwd, dir);
            free(dir);
            dir = absolute;
        }
    }
    if (dir == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate the photo folder's path");
    l->photo_dir = dir;
    return IDM_OK;
}

static int read_layout(const struct build *b, const struct idm_json_value *root)
{
    static const char *const members[] = {"format", "version", "name", "card_types",
                                          "orientation", "photo_dir", "front", "back", NULL};
    struct idm_layout *l = b->layout;
    if (root->type != IDM_JSON_OBJECT)
        return REFUSE("", "a layout is a JSON object, not %s", idm_json_type_name(root->type));
    const char *format;
    double version = 0;
    char shown[SHOWN_SIZE], a[32];
    int rc = get_string(root, "", "format", 1, &format);
    if (rc != IDM_OK)
        return rc;
    if (strcmp(format, LAYOUT_FORMAT) != 0)
        return REFUSE("format", "'%s' is not \"" LAYOUT_FORMAT "\"",
                      idm_text_shown(format, shown, sizeof shown));
    if ((rc = get_number(root, "", "version", -HUGE_VAL, HUGE_VAL, "", 1, &version)) != IDM_OK)
        return rc;
    if (version != LAYOUT_VERSION)
        return member_fail(IDM_ERR_UNSUPPORTED, "version", "%s is not supported; this library "
                           "reads version %d", show_number(version, a), LAYOUT_VERSION);
    int portrait = 0;
    if ((rc = check_known(root, "", "a layout", members)) != IDM_OK ||
        (rc = read_name(root, l)) != IDM_OK || (rc = read_card_types(root, l)) != IDM_OK ||
        (rc = get_choice(root, "", "orientation", orientation_names, N(orientation_names), 0,
                         &portrait)) != IDM_OK)
        return rc;
    l->portrait = portrait;
    if ((rc = read_photo_dir(b, root, l)) != IDM_OK ||
        (rc = read_face(b, root, "front", 1, &l->faces[IDM_FACE_FRONT])) != IDM_OK)
        return rc;
    return read_face(b, root, "back", 0, &l->faces[IDM_FACE_BACK]);
}

static void image_clear(struct idm_layout_image *img)
{
    free(img->path);
    free(img->bytes);
}

/* Frees a layout, whole or as far as a failed read built it. */
static void layout_destroy(struct idm_layout *l)
{
    if (l == NULL)
        return;
    for (size_t f = 0; f < N(l->faces); f++) {
        struct idm_layout_face *face = &l->faces[f];
        for (size_t i = 0; i < face->nelements; i++) {
            struct idm_layout_element *e = &face->elements[i];
            free(e->where);
            free(e->text);
            free(e->font_family);
            free(e->source);
            free(e->data);
            image_clear(&e->image);
        }
        free(face->elements);
        image_clear(&face->background_image);
    }
    free(l->name);
    free(l->photo_dir);
    free(l);
}

static int layout_parse(const char *json, size_t len, const char *base_dir,
                        idm_layout_t **out)
{
    struct idm_json_value *root = NULL;
    int rc = idm_json_parse(json, len, IDM_LAYOUT_MAX_JSON, &root);
    if (rc != IDM_OK)
        return rc;
    struct idm_layout *l = calloc(1, sizeof *l);
    if (l == NULL) {
        idm_json_free(root);
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a layout");
    }
    struct build b = {l, base_dir};
    rc = read_layout(&b, root);
    idm_json_free(root);
    if (rc != IDM_OK) {
        layout_destroy(l);
        return rc;
    }
    l->magic = IDM_MAGIC_LAYOUT;
    *out = l;
    return IDM_OK;
}

/* ---- public functions -------------------------------------------------- */

IDM_EXPORT int idm_layout_new(idm_layout_t **out, const char *json, size_t len,
                              const char *base_dir)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(json);
    if (len > IDM_LAYOUT_MAX_JSON)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'len' is %zu; a layout has at most %u "
                        "bytes", len, IDM_LAYOUT_MAX_JSON);
    return idm_error_prefix(__func__, layout_parse(json, len, base_dir, out));
}

IDM_EXPORT int idm_layout_load(idm_layout_t **out, const char *path)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(path);
    unsigned char *json = NULL;
    size_t len = 0;
    int err = idm_layout_read_file(path, IDM_LAYOUT_MAX_JSON, 0, &json, &len);
    if (err != 0)
        return idm_error_prefix(__func__, read_error(err, "", path));
    /* The file's folder: "a/b.json" -> "a", "/b.json" -> "/", "b.json" -> none. */
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    int rc = IDM_OK;
    if (slash != NULL &&
        (dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))) == NULL)
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a folder name");
    if (rc == IDM_OK)
        rc = layout_parse((const char *)json, len, dir, out);
    free(dir);
    free(json);
    if (rc == IDM_OK)
        return IDM_OK;
    char shown[FILE_SHOWN];
    return idm_error_wrap(__func__, rc, "%s", idm_text_shown(path, shown, sizeof shown));
}

IDM_FIELD_GETTER(idm_layout_get_name, idm_layout_t, layout, IDM_MAGIC_LAYOUT, "idm_layout_t",
                 const char *, name)

IDM_EXPORT int idm_layout_serves(const idm_layout_t *layout, idm_card_type type, int *out)
{
    IDM_CHECK_HANDLE(layout, IDM_MAGIC_LAYOUT, "idm_layout_t");
    IDM_CHECK_NOT_NULL(out);
    if ((int)type < IDM_CARD_EMPLOYEE || (int)type > IDM_CARD_TEMPORARY)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'type' is %d, not a card type "
                        "(IDM_CARD_EMPLOYEE .. IDM_CARD_TEMPORARY)", (int)type);
    *out = (layout->card_types >> (unsigned)type) & 1u;
    return IDM_OK;
}

IDM_EXPORT int idm_layout_has_face(const idm_layout_t *layout, idm_card_face face, int *out)
{
    IDM_CHECK_HANDLE(layout, IDM_MAGIC_LAYOUT, "idm_layout_t");
    IDM_CHECK_NOT_NULL(out);
    if ((int)face != IDM_FACE_FRONT && (int)face != IDM_FACE_BACK)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'face' is %d; it must be IDM_FACE_FRONT "
                        "(0) or IDM_FACE_BACK (1)", (int)face);
    *out = layout->faces[face].present;
    return IDM_OK;
}

IDM_EXPORT void idm_layout_free(idm_layout_t **layout)
{
    if (!IDM_LIVE_HANDLE(layout, IDM_MAGIC_LAYOUT))
        return;
    idm_handle_kill(*layout);
    layout_destroy(*layout);
    *layout = NULL;
}
