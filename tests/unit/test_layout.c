/* White-box: card layouts read from JSON and checked (src/print/layout.c). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <idm/idm.h>

#include "core/handle.h"
#include "fixtures.h"
#include "print/layout_impl.h"
#include "runner.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The members every valid layout starts with, and a one-element front. */
#define HEAD                                                                          \
    "\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"t\","                 \
    "\"card_types\":[\"employee\"]"
#define TEXT_EL(x, y, w, h)                                                           \
    "{\"type\":\"text\",\"box\":{\"x\":" #x ",\"y\":" #y ",\"width\":" #w ",\"height\":" #h \
    "},\"text\":\"t\"}"
#define FRONT "\"front\":{\"elements\":[" TEXT_EL(1, 1, 10, 5) "]}"
#define BOX "\"box\":{\"x\":1,\"y\":1,\"width\":10,\"height\":5}"

/* The absolute path of rel in the source tree.  Meson names this file to
 * the compiler relative to the build folder, where meson test runs the
 * suite. */
static const char *source_path(const char *rel, char *out, size_t size)
{
    const char *self = __FILE__;
    const char *tail = strstr(self, "tests/unit/test_layout.c");
    ck_assert_ptr_nonnull(tail);
    char cwd[1024] = "";
    if (self[0] != '/')
        ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    int n = snprintf(out, size, "%s%s%.*s%s", cwd, cwd[0] != '\0' ? "/" : "",
                     (int)(tail - self), self, rel);
    ck_assert_msg(n > 0 && (size_t)n < size, "path too long");
    ck_assert_msg(access(out, R_OK) == 0, "%s cannot be read", out);
    return out;
}

static const char *fixture_dir(char *out, size_t size)
{
    return source_path("tests/data/layouts", out, size);
}

static idm_layout_t *layout_ok(const char *json, const char *base_dir)
{
    idm_layout_t *l = NULL;
    int rc = idm_layout_new(&l, json, strlen(json), base_dir);
    ck_assert_msg(rc == IDM_OK, "refused: %s (%s)", idm_last_error_message(), json);
    ck_assert_ptr_nonnull(l);
    return l;
}

static void assert_color(struct idm_layout_color c, double r, double g, double b, double a)
{
    ck_assert_double_eq_tol(c.r, r, 1e-9);
    ck_assert_double_eq_tol(c.g, g, 1e-9);
    ck_assert_double_eq_tol(c.b, b, 1e-9);
    ck_assert_double_eq_tol(c.a, a, 1e-9);
}

static void assert_box(struct idm_layout_box box, double x, double y, double w, double h)
{
    ck_assert_double_eq_tol(box.x, x, 1e-9);
    ck_assert_double_eq_tol(box.y, y, 1e-9);
    ck_assert_double_eq_tol(box.width, w, 1e-9);
    ck_assert_double_eq_tol(box.height, h, 1e-9);
}

static size_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (size_t)st.st_size;
}

/* ---- reading ----------------------------------------------------------- */

START_TEST(test_full_layout_reads_every_member)
{
    static const char json[] =
        "{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"Full-1.x_y\","
        "\"card_types\":[\"visitor\",\"temporary\",\"employee\"],"
        "\"orientation\":\"landscape\",\"photo_dir\":\"/srv/photos\","
        "\"front\":{\"background\":{\"color\":\"#102030\",\"image\":\"pixel.jpg\"},"
        "\"elements\":["
        "{\"type\":\"text\",\"box\":{\"x\":1.5,\"y\":2,\"width\":40,\"height\":10.25},"
        "\"text\":\"${givenName} $${literal}\",\"font\":{\"family\":\"DejaVu Serif\","
        "\"size\":14,\"weight\":\"bold\",\"style\":\"italic\"},\"color\":\"#FF000080\","
        "\"align\":\"end\",\"valign\":\"bottom\",\"overflow\":\"shrink\",\"min_size\":8,"
        "\"max_lines\":3},"
        "{\"type\":\"text\",\"box\":{\"x\":50,\"y\":20,\"width\":10,\"height\":5},\"text\":\"x\","
        "\"overflow\":\"ellipsize\",\"align\":\"center\",\"valign\":\"top\","
        "\"font\":{\"weight\":\"normal\",\"style\":\"normal\"}},"
        "{\"type\":\"photo\",\"box\":{\"x\":0,\"y\":0,\"width\":20,\"height\":25},"
        "\"source\":\"portrait.file\",\"fit\":\"contain\",\"placeholder\":\"#aabbcc\"},"
        "{\"type\":\"image\",\"box\":{\"x\":60,\"y\":0,\"width\":25.6,\"height\":10},"
        "\"path\":\"pixel.png\",\"fit\":\"cover\"},"
        "{\"type\":\"barcode\",\"box\":{\"x\":0,\"y\":40,\"width\":85.6,\"height\":13.98},"
        "\"symbology\":\"code128\",\"data\":\"${employeeNumber}\",\"color\":\"#000080\","
        "\"background\":\"#ffffff\",\"human_readable\":true}]},"
        "\"back\":{\"background\":{\"color\":\"#00000000\"},\"elements\":["
        "{\"type\":\"barcode\",\"box\":{\"x\":10,\"y\":10,\"width\":20,\"height\":20},"
        "\"symbology\":\"qr\",\"human_readable\":false}]}}";
    char dir[1024], path[1200];
    fixture_dir(dir, sizeof dir);
    idm_layout_t *l = layout_ok(json, dir);

    ck_assert_uint_eq(l->magic, IDM_MAGIC_LAYOUT);
    ck_assert_str_eq(l->name, "Full-1.x_y");
    ck_assert_uint_eq(l->card_types,
                      1u << IDM_CARD_VISITOR | 1u << IDM_CARD_TEMPORARY | 1u << IDM_CARD_EMPLOYEE);
    ck_assert_int_eq(l->portrait, 0);
    ck_assert_str_eq(l->photo_dir, "/srv/photos");

    const struct idm_layout_face *front = &l->faces[IDM_FACE_FRONT];
    ck_assert_int_eq(front->present, 1);
    assert_color(front->background, 0x10 / 255.0, 0x20 / 255.0, 0x30 / 255.0, 1);
    snprintf(path, sizeof path, "%s/pixel.jpg", dir);
    ck_assert_str_eq(front->background_image.path, path);
    ck_assert_uint_eq(front->background_image.len, file_size(path));
    ck_assert_int_eq(front->background_image.bytes[0], 0xff);
    ck_assert_uint_eq(front->nelements, 5);

    const struct idm_layout_element *t = &front->elements[0];
    ck_assert_int_eq(t->kind, IDM_LAYOUT_TEXT);
    ck_assert_str_eq(t->where, "front.elements[0]");
    assert_box(t->box, 1.5, 2, 40, 10.25);
    ck_assert_str_eq(t->text, "${givenName} $${literal}");
    ck_assert_str_eq(t->font_family, "DejaVu Serif");
    ck_assert_int_eq(t->bold, 1);
    ck_assert_int_eq(t->italic, 1);
    ck_assert_double_eq(t->font_size, 14);
    ck_assert_double_eq(t->min_font_size, 8);
    assert_color(t->color, 1, 0, 0, 0x80 / 255.0);
    ck_assert_int_eq(t->align, IDM_ALIGN_END);
    ck_assert_int_eq(t->valign, IDM_VALIGN_BOTTOM);
    ck_assert_int_eq(t->overflow, IDM_OVERFLOW_SHRINK);
    ck_assert_int_eq(t->max_lines, 3);

    const struct idm_layout_element *t2 = &front->elements[1];
    ck_assert_str_eq(t2->where, "front.elements[1]");
    ck_assert_int_eq(t2->overflow, IDM_OVERFLOW_ELLIPSIZE);
    ck_assert_int_eq(t2->align, IDM_ALIGN_CENTER);
    ck_assert_int_eq(t2->valign, IDM_VALIGN_TOP);
    ck_assert_int_eq(t2->bold, 0);
    ck_assert_int_eq(t2->italic, 0);

    const struct idm_layout_element *p = &front->elements[2];
    ck_assert_int_eq(p->kind, IDM_LAYOUT_PHOTO);
    ck_assert_str_eq(p->where, "front.elements[2]");
    ck_assert_str_eq(p->source, "portrait.file");
    ck_assert_int_eq(p->fit, IDM_FIT_CONTAIN);
    assert_color(p->fill, 0xaa / 255.0, 0xbb / 255.0, 0xcc / 255.0, 1);

    const struct idm_layout_element *im = &front->elements[3];
    ck_assert_int_eq(im->kind, IDM_LAYOUT_IMAGE);
    assert_box(im->box, 60, 0, 25.6, 10);
    ck_assert_int_eq(im->fit, IDM_FIT_COVER);
    snprintf(path, sizeof path, "%s/pixel.png", dir);
    ck_assert_str_eq(im->image.path, path);
    ck_assert_uint_eq(im->image.len, file_size(path));
    ck_assert_int_eq(memcmp(im->image.bytes, "\x89PNG\r\n\x1a\n", 8), 0);

    const struct idm_layout_element *bc = &front->elements[4];
    ck_assert_int_eq(bc->kind, IDM_LAYOUT_BARCODE);
    assert_box(bc->box, 0, 40, 85.6, 13.98); /* reaches both edges exactly */
    ck_assert_int_eq(bc->symbology, IDM_BARCODE_CODE128);
    ck_assert_str_eq(bc->data, "${employeeNumber}");
    assert_color(bc->color, 0, 0, 0x80 / 255.0, 1);
    assert_color(bc->fill, 1, 1, 1, 1);
    ck_assert_int_eq(bc->human_readable, 1);

    const struct idm_layout_face *back = &l->faces[IDM_FACE_BACK];
    ck_assert_int_eq(back->present, 1);
    assert_color(back->background, 0, 0, 0, 0);
    ck_assert_ptr_null(back->background_image.bytes);
    ck_assert_uint_eq(back->nelements, 1);
    ck_assert_str_eq(back->elements[0].where, "back.elements[0]");
    ck_assert_int_eq(back->elements[0].symbology, IDM_BARCODE_QR);
    ck_assert_int_eq(back->elements[0].human_readable, 0);
    idm_layout_free(&l);
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(test_defaults_apply_to_members_left_out)
{
    static const char json[] =
        "{" HEAD ",\"front\":{\"elements\":["
        "{\"type\":\"text\"," BOX ",\"text\":\"${surname}\"},"
        "{\"type\":\"text\"," BOX ",\"text\":\"small\",\"font\":{\"size\":5}},"
        "{\"type\":\"photo\"," BOX "},"
        "{\"type\":\"image\"," BOX ",\"path\":\"pixel.png\"},"
        "{\"type\":\"barcode\"," BOX ",\"symbology\":\"qr\"}]}}";
    char dir[1024];
    fixture_dir(dir, sizeof dir);
    idm_layout_t *l = layout_ok(json, dir);
    ck_assert_int_eq(l->portrait, 0);
    ck_assert_str_eq(l->photo_dir, dir); /* the base folder (absolute already) */
    const struct idm_layout_face *front = &l->faces[IDM_FACE_FRONT];
    assert_color(front->background, 1, 1, 1, 1);
    ck_assert_ptr_null(front->background_image.bytes);
    ck_assert_ptr_null(front->background_image.path);
    ck_assert_int_eq(l->faces[IDM_FACE_BACK].present, 0);
    ck_assert_uint_eq(l->faces[IDM_FACE_BACK].nelements, 0);

    const struct idm_layout_element *t = &front->elements[0];
    ck_assert_str_eq(t->font_family, "DejaVu Sans");
    ck_assert_double_eq(t->font_size, 10);
    ck_assert_double_eq(t->min_font_size, 6);
    ck_assert_int_eq(t->bold, 0);
    ck_assert_int_eq(t->italic, 0);
    assert_color(t->color, 0, 0, 0, 1);
    ck_assert_int_eq(t->align, IDM_ALIGN_START);
    ck_assert_int_eq(t->valign, IDM_VALIGN_MIDDLE);
    ck_assert_int_eq(t->overflow, IDM_OVERFLOW_SHRINK);
    ck_assert_int_eq(t->max_lines, 1);
    /* A font smaller than 6 pt shrinks no further than itself. */
    ck_assert_double_eq(front->elements[1].font_size, 5);
    ck_assert_double_eq(front->elements[1].min_font_size, 5);

    const struct idm_layout_element *p = &front->elements[2];
    ck_assert_str_eq(p->source, "photo");
    ck_assert_int_eq(p->fit, IDM_FIT_COVER);
    assert_color(p->fill, 0xd0 / 255.0, 0xd0 / 255.0, 0xd0 / 255.0, 1);

    ck_assert_int_eq(front->elements[3].fit, IDM_FIT_CONTAIN);

    const struct idm_layout_element *bc = &front->elements[4];
    ck_assert_str_eq(bc->data, "${card.number}");
    assert_color(bc->color, 0, 0, 0, 1);
    assert_color(bc->fill, 0, 0, 0, 0);
    ck_assert_int_eq(bc->human_readable, 0);
    idm_layout_free(&l);
}
END_TEST

START_TEST(test_faces_may_have_no_elements)
{
    idm_layout_t *l = layout_ok("{" HEAD ",\"front\":{},\"back\":{\"elements\":[]}}", NULL);
    ck_assert_int_eq(l->faces[IDM_FACE_FRONT].present, 1);
    ck_assert_uint_eq(l->faces[IDM_FACE_FRONT].nelements, 0);
    ck_assert_int_eq(l->faces[IDM_FACE_BACK].present, 1);
    ck_assert_ptr_null(l->faces[IDM_FACE_BACK].elements);
    idm_layout_free(&l);
}
END_TEST

START_TEST(test_portrait_swaps_the_face_size)
{
    /* 50 x 80 mm fits only a portrait card. */
    static const char portrait[] =
        "{" HEAD ",\"orientation\":\"portrait\",\"front\":{\"elements\":["
        TEXT_EL(0, 0, 50, 80) "]}}";
    idm_layout_t *l = layout_ok(portrait, NULL);
    ck_assert_int_eq(l->portrait, 1);
    ck_assert_double_eq(idm_layout_face_width(l), IDM_CARD_HEIGHT_MM);
    ck_assert_double_eq(idm_layout_face_height(l), IDM_CARD_WIDTH_MM);
    idm_layout_free(&l);

    l = layout_ok("{" HEAD "," FRONT "}", NULL);
    ck_assert_int_eq(l->portrait, 0);
    ck_assert_double_eq(idm_layout_face_width(l), 85.60);
    ck_assert_double_eq(idm_layout_face_height(l), 53.98);
    idm_layout_free(&l);

    static const char landscape[] =
        "{" HEAD ",\"orientation\":\"landscape\",\"front\":{\"elements\":["
        TEXT_EL(0, 0, 50, 80) "]}}";
    ck_assert_idm_error(idm_layout_new(&l, landscape, strlen(landscape), NULL),
                        IDM_ERR_INVALID_ARG,
                        "idm_layout_new: front.elements[0].box: reaches y = 80.00 mm, beyond "
                        "the face's height of 53.98 mm");
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(test_photo_dir_resolves_against_the_base_folder)
{
    char cwd[1024];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    char want[1200];
    static const char rel[] = "{" HEAD ",\"photo_dir\":\"photos\"," FRONT "}";
    static const char abs[] = "{" HEAD ",\"photo_dir\":\"/var/photos\"," FRONT "}";
    static const char none[] = "{" HEAD "," FRONT "}";

    idm_layout_t *l = layout_ok(rel, "/base/dir/");
    ck_assert_str_eq(l->photo_dir, "/base/dir/photos");
    idm_layout_free(&l);
    l = layout_ok(abs, "/base/dir");
    ck_assert_str_eq(l->photo_dir, "/var/photos");
    idm_layout_free(&l);
    /* Relative folders are made absolute against the current one. */
    l = layout_ok(rel, "cards");
    snprintf(want, sizeof want, "%s/cards/photos", cwd);
    ck_assert_str_eq(l->photo_dir, want);
    idm_layout_free(&l);
    l = layout_ok(rel, NULL);
    snprintf(want, sizeof want, "%s/photos", cwd);
    ck_assert_str_eq(l->photo_dir, want);
    idm_layout_free(&l);
    l = layout_ok(none, NULL);
    ck_assert_str_eq(l->photo_dir, cwd);
    idm_layout_free(&l);
}
END_TEST

/* ---- refusals ---------------------------------------------------------- */

struct refusal {
    const char *json;    /* a whole document, or (element) one element */
    int element;         /* json is front.elements[1], after a valid one */
    int code;
    const char *message; /* what follows "idm_layout_new: " */
};

/* Each row must be refused with its code and a message that starts with
 * "idm_layout_new: " and the row's text (path and reason), leaving *out
 * NULL. */
static void expect_refusals(const struct refusal *rows, size_t count, const char *base_dir)
{
    struct faults f = {0};
    for (size_t i = 0; i < count; i++) {
        char json[8192], want[1024];
        if (rows[i].element)
            snprintf(json, sizeof json, "{" HEAD ",\"front\":{\"elements\":[" TEXT_EL(1, 1, 5, 5)
                     ",%s]}}", rows[i].json);
        else
            snprintf(json, sizeof json, "%s", rows[i].json);
        snprintf(want, sizeof want, "idm_layout_new: %s", rows[i].message);
        idm_layout_t *l = (idm_layout_t *)&f;
        int rc = idm_layout_new(&l, json, strlen(json), base_dir);
        const char *got = idm_last_error_message();
        if (rc != rows[i].code)
            fault(&f, "row %zu: expected %s, got %s (%s);", i, idm_strerror_name(rows[i].code),
                  idm_strerror_name(rc), got);
        else if (strncmp(got, want, strlen(want)) != 0)
            fault(&f, "row %zu: message \"%s\" does not start with \"%s\";", i, got, want);
        if (l != NULL)
            fault(&f, "row %zu: *out is not NULL after a refusal;", i);
        if (rc == IDM_OK)
            idm_layout_free(&l);
    }
    ck_assert_no_faults(&f);
}

START_TEST(test_refuses_bad_document_members)
{
    static const struct refusal rows[] = {
        {"[]", 0, IDM_ERR_INVALID_ARG, "a layout is a JSON object, not an array"},
        {"\"layout\"", 0, IDM_ERR_INVALID_ARG, "a layout is a JSON object, not a string"},
        {"{}", 0, IDM_ERR_INVALID_ARG, "'format' is missing"},
        {"{\"format\":1}", 0, IDM_ERR_INVALID_ARG, "format: must be a string, not a number"},
        {"{\"format\":\"libidm-layout\"}", 0, IDM_ERR_INVALID_ARG,
         "format: 'libidm-layout' is not \"libidm-card-layout\""},
        {"{\"format\":\"libidm-card-layout\"}", 0, IDM_ERR_INVALID_ARG, "'version' is missing"},
        {"{\"format\":\"libidm-card-layout\",\"version\":\"1\"}", 0, IDM_ERR_INVALID_ARG,
         "version: must be a number, not a string"},
        {"{\"format\":\"libidm-card-layout\",\"version\":2}", 0, IDM_ERR_UNSUPPORTED,
         "version: 2 is not supported; this library reads version 1"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1.5}", 0, IDM_ERR_UNSUPPORTED,
         "version: 1.5 is not supported"},
        {"{" HEAD "," FRONT ",\"colour\":\"red\"}", 0, IDM_ERR_INVALID_ARG,
         "unknown member 'colour' (a layout has format, version, name, card_types, "
         "orientation, photo_dir, front, back)"},
        /* Member names are quoted as text_shown() shows them. */
        {"{" HEAD "," FRONT ",\"a\\u0007\\\\b\":1}", 0, IDM_ERR_INVALID_ARG,
         "unknown member 'a\\x07\\x5cb'"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1," FRONT "}", 0, IDM_ERR_INVALID_ARG,
         "'name' is missing"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":7}", 0, IDM_ERR_INVALID_ARG,
         "name: must be a string, not a number"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"\"}", 0,
         IDM_ERR_INVALID_ARG, "name: is empty; a name has 1 to 64 bytes"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":"
         "\"a123456789b123456789c123456789d123456789e123456789f123456789g1234\"}",
         0, IDM_ERR_INVALID_ARG, "name: is 65 bytes long; a name has 1 to 64 bytes"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"bad name\"}", 0,
         IDM_ERR_INVALID_ARG, "name: 'bad name' may hold only letters, digits, '.', '_' and '-'"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"caf\\u00e9\\n\"}", 0,
         IDM_ERR_INVALID_ARG, "name: 'caf\xc3\xa9\\x0a' may hold only"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"t\"}", 0,
         IDM_ERR_INVALID_ARG, "'card_types' is missing"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"t\",\"card_types\":"
         "\"employee\"}", 0, IDM_ERR_INVALID_ARG, "card_types: must be an array, not a string"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"t\",\"card_types\":[]}",
         0, IDM_ERR_INVALID_ARG, "card_types: lists no card type"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"t\",\"card_types\":"
         "[\"employee\",\"manager\"]}", 0, IDM_ERR_INVALID_ARG,
         "card_types[1]: 'manager' is not a card type (employee, contractor, visitor, "
         "visitor_non_personal, non_personal, temporary)"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"t\",\"card_types\":"
         "[\"visitor\",\"employee\",\"visitor\"]}", 0, IDM_ERR_INVALID_ARG,
         "card_types[2]: 'visitor' is listed twice"},
        {"{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"t\",\"card_types\":[0]}",
         0, IDM_ERR_INVALID_ARG, "card_types[0]: must be a string, not a number"},
        {"{" HEAD ",\"orientation\":\"sideways\"," FRONT "}", 0, IDM_ERR_INVALID_ARG,
         "orientation: 'sideways' is not one of landscape, portrait"},
        {"{" HEAD ",\"photo_dir\":\"\"," FRONT "}", 0, IDM_ERR_INVALID_ARG,
         "photo_dir: is empty"},
        {"{" HEAD ",\"photo_dir\":5," FRONT "}", 0, IDM_ERR_INVALID_ARG,
         "photo_dir: must be a string, not a number"},
        {"{" HEAD "}", 0, IDM_ERR_INVALID_ARG, "'front' is missing"},
        {"{" HEAD ",\"front\":[]}", 0, IDM_ERR_INVALID_ARG,
         "front: must be an object, not an array"},
        {"{" HEAD "," FRONT ",\"back\":null}", 0, IDM_ERR_INVALID_ARG,
         "back: must be an object, not null"},
    };
    expect_refusals(rows, N(rows), NULL);
}
END_TEST

START_TEST(test_refuses_bad_faces)
{
    static const struct refusal rows[] = {
        {"{" HEAD ",\"front\":{\"elemnts\":[]}}", 0, IDM_ERR_INVALID_ARG,
         "front: unknown member 'elemnts' (a face has background, elements)"},
        {"{" HEAD ",\"front\":{\"background\":\"#ffffff\"}}", 0, IDM_ERR_INVALID_ARG,
         "front.background: must be an object, not a string"},
        {"{" HEAD ",\"front\":{\"background\":{\"colour\":\"#ffffff\"}}}", 0,
         IDM_ERR_INVALID_ARG,
         "front.background: unknown member 'colour' (a background has color, image)"},
        {"{" HEAD ",\"front\":{\"background\":{\"color\":\"red\"}}}", 0, IDM_ERR_INVALID_ARG,
         "front.background.color: 'red' is not a colour: write #RRGGBB or #RRGGBBAA in hex "
         "digits"},
        {"{" HEAD ",\"front\":{\"background\":{\"color\":\"#12345\"}}}", 0, IDM_ERR_INVALID_ARG,
         "front.background.color: '#12345' is not a colour"},
        {"{" HEAD ",\"front\":{\"background\":{\"color\":\"#1234567\"}}}", 0,
         IDM_ERR_INVALID_ARG, "front.background.color: '#1234567' is not a colour"},
        {"{" HEAD ",\"front\":{\"background\":{\"color\":\"#12345g\"}}}", 0,
         IDM_ERR_INVALID_ARG, "front.background.color: '#12345g' is not a colour"},
        {"{" HEAD ",\"front\":{\"background\":{\"color\":\"123456\"}}}", 0, IDM_ERR_INVALID_ARG,
         "front.background.color: '123456' is not a colour"},
        {"{" HEAD ",\"front\":{\"background\":{\"image\":\"\"}}}", 0, IDM_ERR_INVALID_ARG,
         "front.background.image: is empty"},
        {"{" HEAD ",\"front\":{\"elements\":{}}}", 0, IDM_ERR_INVALID_ARG,
         "front.elements: must be an array, not an object"},
        {"{" HEAD ",\"front\":{\"elements\":[" TEXT_EL(1, 1, 5, 5) ",5]}}", 0,
         IDM_ERR_INVALID_ARG, "front.elements[1]: must be an object, not a number"},
        {"{" HEAD "," FRONT ",\"back\":{\"elements\":[" TEXT_EL(1, 1, 5, 5) ","
         TEXT_EL(1, 1, 5, 5) ",{\"type\":\"text\",\"box\":{\"x\":80,\"y\":0,\"width\":10,"
         "\"height\":5},\"text\":\"x\"}]}}", 0, IDM_ERR_INVALID_ARG,
         "back.elements[2].box: reaches x = 90.00 mm, beyond the face's width of 85.60 mm"},
        {"{" HEAD ",\"orientation\":\"portrait\",\"front\":{\"elements\":["
         TEXT_EL(10, 0, 50, 5) "]}}", 0, IDM_ERR_INVALID_ARG,
         "front.elements[0].box: reaches x = 60.00 mm, beyond the face's width of 53.98 mm"},
    };
    expect_refusals(rows, N(rows), NULL);
}
END_TEST

/* A layout whose front has count text elements. */
static char *layout_with_elements(int count)
{
    size_t size = 256 + (size_t)count * 80;
    char *json = malloc(size);
    ck_assert_ptr_nonnull(json);
    size_t used = (size_t)snprintf(json, size, "{" HEAD ",\"front\":{\"elements\":[");
    for (int i = 0; i < count; i++)
        used += (size_t)snprintf(json + used, size - used, "%s" TEXT_EL(1, 1, 5, 5),
                                 i > 0 ? "," : "");
    ck_assert_uint_lt(used + 4, size);
    snprintf(json + used, size - used, "]}}");
    return json;
}

START_TEST(test_refuses_too_many_elements)
{
    char *json = layout_with_elements(IDM_LAYOUT_MAX_ELEMENTS + 1);
    idm_layout_t *l = NULL;
    ck_assert_idm_error(idm_layout_new(&l, json, strlen(json), NULL), IDM_ERR_INVALID_ARG,
                        "idm_layout_new: front.elements: has 65 elements; a face has at most 64");
    ck_assert_ptr_null(l);
    free(json);
    json = layout_with_elements(IDM_LAYOUT_MAX_ELEMENTS);
    l = layout_ok(json, NULL);
    ck_assert_uint_eq(l->faces[IDM_FACE_FRONT].nelements, 64);
    ck_assert_str_eq(l->faces[IDM_FACE_FRONT].elements[63].where, "front.elements[63]");
    idm_layout_free(&l);
    free(json);
}
END_TEST

START_TEST(test_refuses_bad_element_members)
{
    static const struct refusal rows[] = {
        {"{" BOX "}", 1, IDM_ERR_INVALID_ARG, "front.elements[1]: 'type' is missing"},
        {"{\"type\":1," BOX "}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].type: must be a string, not a number"},
        {"{\"type\":\"qr\"," BOX "}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].type: 'qr' is not one of text, photo, image, barcode"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"colour\":\"#000000\"}", 1,
         IDM_ERR_INVALID_ARG,
         "front.elements[1]: unknown member 'colour' (a text element has type, box, text, font, "
         "color, align, valign, overflow, min_size, max_lines)"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"fit\":\"cover\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1]: unknown member 'fit' (a text element has"},
        {"{\"type\":\"photo\"," BOX ",\"text\":\"x\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1]: unknown member 'text' (a photo element has type, box, source, fit, "
         "placeholder)"},
        {"{\"type\":\"image\"," BOX ",\"path\":\"x.png\",\"source\":\"photo\"}", 1,
         IDM_ERR_INVALID_ARG,
         "front.elements[1]: unknown member 'source' (an image element has type, box, path, "
         "fit)"},
        {"{\"type\":\"barcode\"," BOX ",\"symbology\":\"qr\",\"font\":{}}", 1,
         IDM_ERR_INVALID_ARG,
         "front.elements[1]: unknown member 'font' (a barcode element has type, box, symbology, "
         "data, color, background, human_readable)"},
        /* box */
        {"{\"type\":\"text\",\"text\":\"x\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1]: 'box' is missing"},
        {"{\"type\":\"text\",\"box\":[1,1,5,5],\"text\":\"x\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].box: must be an object, not an array"},
        {"{\"type\":\"text\",\"box\":{\"x\":1,\"y\":1,\"w\":5,\"height\":5},\"text\":\"x\"}", 1,
         IDM_ERR_INVALID_ARG,
         "front.elements[1].box: unknown member 'w' (a box has x, y, width, height)"},
        {"{\"type\":\"text\",\"box\":{\"y\":1,\"width\":5,\"height\":5},\"text\":\"x\"}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].box: 'x' is missing"},
        {"{\"type\":\"text\",\"box\":{\"x\":\"1\",\"y\":1,\"width\":5,\"height\":5},"
         "\"text\":\"x\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].box.x: must be a number, not a string"},
        {"{\"type\":\"text\",\"box\":{\"x\":1,\"y\":1,\"width\":-3,\"height\":5},\"text\":\"x\"}",
         1, IDM_ERR_INVALID_ARG, "front.elements[1].box.width: must be above 0 mm, not -3.00"},
        {"{\"type\":\"text\",\"box\":{\"x\":1,\"y\":1,\"width\":5,\"height\":0},\"text\":\"x\"}",
         1, IDM_ERR_INVALID_ARG, "front.elements[1].box.height: must be above 0 mm, not 0.00"},
        {"{\"type\":\"text\",\"box\":{\"x\":-1,\"y\":1,\"width\":5,\"height\":5},\"text\":\"x\"}",
         1, IDM_ERR_INVALID_ARG,
         "front.elements[1].box.x: -1.00 mm is outside the face, which starts at 0"},
        {"{\"type\":\"text\",\"box\":{\"x\":1,\"y\":-0.5,\"width\":5,\"height\":5},"
         "\"text\":\"x\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].box.y: -0.50 mm is outside the face, which starts at 0"},
        {"{\"type\":\"text\",\"box\":{\"x\":40,\"y\":1,\"width\":50,\"height\":5},\"text\":\"x\"}",
         1, IDM_ERR_INVALID_ARG,
         "front.elements[1].box: reaches x = 90.00 mm, beyond the face's width of 85.60 mm"},
        {"{\"type\":\"text\",\"box\":{\"x\":0.001,\"y\":1,\"width\":85.6,\"height\":5},"
         "\"text\":\"x\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].box: reaches x = 85.601 mm, beyond the face's width of 85.60 mm"},
        {"{\"type\":\"text\",\"box\":{\"x\":1,\"y\":50,\"width\":5,\"height\":10},\"text\":\"x\"}",
         1, IDM_ERR_INVALID_ARG,
         "front.elements[1].box: reaches y = 60.00 mm, beyond the face's height of 53.98 mm"},
    };
    expect_refusals(rows, N(rows), NULL);
}
END_TEST

START_TEST(test_refuses_bad_text_elements)
{
    static const struct refusal rows[] = {
        {"{\"type\":\"text\"," BOX "}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1]: 'text' is missing"},
        {"{\"type\":\"text\"," BOX ",\"text\":5}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].text: must be a string, not a number"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].text: is empty"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"a\\nb\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].text: contains control character 0x0a at byte 1"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"${surname\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].text: the ${ at byte 0 is not closed with '}'"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"Name: ${\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].text: the ${ at byte 6 is not closed with '}'"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"a ${}\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].text: the ${} at byte 2 names no key"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"${given name}\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].text: in the ${ at byte 0, ' ' cannot be part of a key (letters, "
         "digits, '.', '_' and '-')"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"ok ${a} ${\\u00fc}\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].text: in the ${ at byte 8, '\xc3\xbc' cannot be part of a key"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"$${ok} ${x{y}\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].text: in the ${ at byte 7, '{' cannot be part of a key"},
        /* font */
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":\"bold\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].font: must be an object, not a string"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"colour\":\"red\"}}", 1,
         IDM_ERR_INVALID_ARG,
         "front.elements[1].font: unknown member 'colour' (a font has family, size, weight, "
         "style)"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"size\":\"12\"}}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].font.size: must be a number, not a string"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"size\":200}}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].font.size: 200 is above 72 pt"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"size\":72.5}}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].font.size: 72.5 is above 72 pt"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"size\":3.5}}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].font.size: 3.5 is below 4 pt"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"size\":-10}}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].font.size: -10 is below 4 pt"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"weight\":\"heavy\"}}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].font.weight: 'heavy' is not one of normal, bold"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"style\":\"oblique\"}}", 1,
         IDM_ERR_INVALID_ARG,
         "front.elements[1].font.style: 'oblique' is not one of normal, italic"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"family\":\"\"}}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].font.family: is empty"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"family\":true}}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].font.family: must be a string, not a boolean"},
        /* colour and placement */
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"color\":\"#12345\"}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].color: '#12345' is not a colour: write "
         "#RRGGBB or #RRGGBBAA in hex digits"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"color\":\"red\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].color: 'red' is not a colour"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"color\":[0,0,0]}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].color: must be a string, not an array"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"align\":\"left\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].align: 'left' is not one of start, center, end"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"valign\":\"center\"}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].valign: 'center' is not one of top, middle, "
         "bottom"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"overflow\":\"clip\"}", 1,
         IDM_ERR_INVALID_ARG,
         "front.elements[1].overflow: 'clip' is not one of shrink, ellipsize"},
        /* min_size and max_lines */
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"min_size\":12}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].min_size: 12 is above the font size of 10 pt"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"size\":20},\"min_size\":20.5}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].min_size: 20.5 is above the font size of 20 pt"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"min_size\":3}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].min_size: 3 is below 4 pt"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"min_size\":\"6\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].min_size: must be a number, not a string"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"overflow\":\"ellipsize\",\"min_size\":6}",
         1, IDM_ERR_INVALID_ARG,
         "front.elements[1].min_size: applies only with \"overflow\": \"shrink\""},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"max_lines\":0}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].max_lines: 0 is below 1"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"max_lines\":9}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].max_lines: 9 is above 8"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"max_lines\":1.5}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].max_lines: 1.5 is not a whole number"},
        {"{\"type\":\"text\"," BOX ",\"text\":\"x\",\"max_lines\":true}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].max_lines: must be a number, not a boolean"},
    };
    expect_refusals(rows, N(rows), NULL);
}
END_TEST

START_TEST(test_refuses_text_longer_than_1024_bytes)
{
    static const char head[] = "{" HEAD ",\"front\":{\"elements\":[{\"type\":\"text\"," BOX
                               ",\"text\":\"";
    char json[2048];
    size_t n = strlen(head);
    memcpy(json, head, n);
    memset(json + n, 'x', IDM_LAYOUT_MAX_TEXT + 1);
    snprintf(json + n + IDM_LAYOUT_MAX_TEXT + 1, sizeof json - n - IDM_LAYOUT_MAX_TEXT - 1,
             "\"}]}}");
    idm_layout_t *l = NULL;
    ck_assert_idm_error(idm_layout_new(&l, json, strlen(json), NULL), IDM_ERR_INVALID_ARG,
                        "idm_layout_new: front.elements[0].text: is longer than 1024 bytes "
                        "(1025)");
    /* 1024 bytes are accepted. */
    snprintf(json + n + IDM_LAYOUT_MAX_TEXT, sizeof json - n - IDM_LAYOUT_MAX_TEXT, "\"}]}}");
    l = layout_ok(json, NULL);
    ck_assert_uint_eq(strlen(l->faces[0].elements[0].text), IDM_LAYOUT_MAX_TEXT);
    idm_layout_free(&l);
}
END_TEST

START_TEST(test_refuses_bad_photo_image_and_barcode_elements)
{
    static const struct refusal rows[] = {
        {"{\"type\":\"photo\"," BOX ",\"source\":\"\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].source: is empty"},
        {"{\"type\":\"photo\"," BOX ",\"source\":\"${photo}\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].source: '${photo}' is not an attribute key (letters, digits, '.', "
         "'_' and '-')"},
        {"{\"type\":\"photo\"," BOX ",\"fit\":\"fill\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].fit: 'fill' is not one of contain, cover"},
        {"{\"type\":\"photo\"," BOX ",\"placeholder\":\"grey\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].placeholder: 'grey' is not a colour"},
        {"{\"type\":\"image\"," BOX "}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1]: 'path' is missing"},
        {"{\"type\":\"image\"," BOX ",\"path\":\"\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].path: is empty"},
        {"{\"type\":\"image\"," BOX ",\"path\":\"pixel.png\",\"fit\":\"stretch\"}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].fit: 'stretch' is not one of contain, cover"},
        {"{\"type\":\"barcode\"," BOX "}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1]: 'symbology' is missing"},
        {"{\"type\":\"barcode\"," BOX ",\"symbology\":\"ean13\"}", 1, IDM_ERR_INVALID_ARG,
         "front.elements[1].symbology: 'ean13' is not one of code128, qr"},
        {"{\"type\":\"barcode\"," BOX ",\"symbology\":\"qr\",\"data\":\"\"}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].data: is empty"},
        {"{\"type\":\"barcode\"," BOX ",\"symbology\":\"qr\",\"data\":\"${card.number\"}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].data: the ${ at byte 0 is not closed"},
        {"{\"type\":\"barcode\"," BOX ",\"symbology\":\"qr\",\"color\":\"#0000\"}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].color: '#0000' is not a colour"},
        {"{\"type\":\"barcode\"," BOX ",\"symbology\":\"qr\",\"background\":\"#zzzzzz\"}", 1,
         IDM_ERR_INVALID_ARG, "front.elements[1].background: '#zzzzzz' is not a colour"},
        {"{\"type\":\"barcode\"," BOX ",\"symbology\":\"code128\",\"human_readable\":\"yes\"}",
         1, IDM_ERR_INVALID_ARG,
         "front.elements[1].human_readable: must be a boolean, not a string"},
        {"{\"type\":\"barcode\"," BOX ",\"symbology\":\"qr\",\"human_readable\":true}", 1,
         IDM_ERR_INVALID_ARG,
         "front.elements[1].human_readable: true applies only to \"symbology\": \"code128\""},
    };
    char dir[1024];
    expect_refusals(rows, N(rows), fixture_dir(dir, sizeof dir));
}
END_TEST

START_TEST(test_refuses_malformed_json_with_the_byte)
{
    static const struct refusal rows[] = {
        {"", 0, IDM_ERR_PARSE, "at byte 0: empty input"},
        {"{\"format\": }", 0, IDM_ERR_PARSE, "at byte 11: member 'format' has no value"},
        {"{\"format\":\"libidm-card-layout\",}", 0, IDM_ERR_PARSE, "at byte 30: trailing comma"},
        {"{" HEAD "," FRONT ",\"name\":\"u\"}", 0, IDM_ERR_PARSE, "at byte 172: duplicate member "
         "'name'"},
        /* Text that is not UTF-8 never gets as far as the layout. */
        {"{" HEAD ",\"front\":{\"elements\":[{\"type\":\"text\"," BOX ",\"text\":\"J\xfcrgen\"}]}}",
         0, IDM_ERR_PARSE, "at byte 167: invalid UTF-8 (byte 0xfc)"},
        {"{" HEAD "," FRONT "} x", 0, IDM_ERR_PARSE, "at byte 173: more data after the object"},
    };
    expect_refusals(rows, N(rows), NULL);
}
END_TEST

START_TEST(test_refuses_documents_over_1_mib)
{
    size_t len = IDM_LAYOUT_MAX_JSON + 1;
    char *json = malloc(len);
    ck_assert_ptr_nonnull(json);
    memset(json, ' ', len);
    idm_layout_t *l = NULL;
    ck_assert_idm_error(idm_layout_new(&l, json, len, NULL), IDM_ERR_INVALID_ARG,
                        "idm_layout_new: argument 'len' is 1048577; a layout has at most "
                        "1048576 bytes");
    ck_assert_ptr_null(l);
    /* 1 MiB of blank space around a valid layout is still a layout. */
    static const char doc[] = "{" HEAD "," FRONT "}";
    memcpy(json + len - 1 - strlen(doc), doc, strlen(doc));
    ck_assert_int_eq(idm_layout_new(&l, json, len - 1, NULL), IDM_OK);
    idm_layout_free(&l);
    free(json);
}
END_TEST

/* ---- images ------------------------------------------------------------ */

START_TEST(test_image_that_cannot_be_read_is_an_io_error)
{
    char dir[1024], want[1400];
    fixture_dir(dir, sizeof dir);
    static const char json[] = "{" HEAD ",\"front\":{\"elements\":[" TEXT_EL(1, 1, 5, 5)
                               ",{\"type\":\"image\"," BOX ",\"path\":\"missing.png\"}]}}";
    idm_layout_t *l = NULL;
    snprintf(want, sizeof want, "idm_layout_new: front.elements[1].path: cannot read "
             "'%s/missing.png': No such file or directory", dir);
    ck_assert_idm_error(idm_layout_new(&l, json, strlen(json), dir), IDM_ERR_IO, want);
    ck_assert_ptr_null(l);
    /* A folder is not an image file either. */
    static const char folder[] = "{" HEAD ",\"front\":{\"background\":{\"image\":\"/\"}}}";
    ck_assert_idm_error(idm_layout_new(&l, folder, strlen(folder), dir), IDM_ERR_IO,
                        "idm_layout_new: front.background.image: cannot read '/': Is a "
                        "directory");
    /* Nor is a device, or a FIFO, which is not even opened for waiting. */
    static const char device[] = "{" HEAD ",\"front\":{\"background\":{\"image\":"
                                 "\"/dev/zero\"}}}";
    ck_assert_idm_error(idm_layout_new(&l, device, strlen(device), dir), IDM_ERR_IO,
                        "idm_layout_new: front.background.image: cannot read '/dev/zero': it is "
                        "not a regular file");
    char scratch[1024], fifo[1200];
    fixture_scratch_dir("layout-fifo", scratch, sizeof scratch);
    snprintf(fifo, sizeof fifo, "%s/logo.png", scratch);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    static const char named[] = "{" HEAD ",\"front\":{\"elements\":[{\"type\":\"image\","
                                BOX ",\"path\":\"logo.png\"}]}}";
    ck_assert_idm_error(idm_layout_new(&l, named, strlen(named), scratch), IDM_ERR_IO,
                        "logo.png': it is not a regular file");
    ck_assert_ptr_null(l);
    fixture_remove_tree(scratch);
}
END_TEST

START_TEST(test_image_that_is_not_png_or_jpeg_is_refused)
{
    char dir[1024], want[1400];
    fixture_dir(dir, sizeof dir);
    static const char json[] = "{" HEAD ",\"front\":{\"elements\":[{\"type\":\"image\"," BOX
                               ",\"path\":\"not-an-image.png\"}]}}";
    idm_layout_t *l = NULL;
    snprintf(want, sizeof want, "idm_layout_new: front.elements[0].path: '%s/not-an-image.png' "
             "is neither a PNG nor a JPEG file", dir);
    ck_assert_idm_error(idm_layout_new(&l, json, strlen(json), dir), IDM_ERR_INVALID_ARG, want);
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(test_image_over_8_mib_is_refused)
{
    char dir[1024], path[1200], want[1400], pixel[1200];
    fixture_scratch_dir("layout-big", dir, sizeof dir);
    fixture_dir(pixel, sizeof pixel);
    strcat(pixel, "/pixel.png");
    /* Exactly 8 MiB (a real PNG, then zeros after its end) is allowed; one
     * byte more is not. */
    size_t pixel_len = file_size(pixel);
    unsigned char *png = malloc(pixel_len);
    ck_assert_ptr_nonnull(png);
    FILE *f = fopen(pixel, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(png, 1, pixel_len, f), pixel_len);
    fclose(f);
    snprintf(path, sizeof path, "%s/big.png", dir);
    fixture_write_file(path, png, pixel_len);
    free(png);
    ck_assert_int_eq(truncate(path, IDM_LAYOUT_MAX_IMAGE), 0);
    static const char json[] = "{" HEAD ",\"front\":{\"background\":{\"image\":\"big.png\"}}}";
    idm_layout_t *l = layout_ok(json, dir);
    ck_assert_uint_eq(l->faces[0].background_image.len, IDM_LAYOUT_MAX_IMAGE);
    idm_layout_free(&l);

    ck_assert_int_eq(truncate(path, IDM_LAYOUT_MAX_IMAGE + 1), 0);
    snprintf(want, sizeof want, "idm_layout_new: front.background.image: '%s' is larger than "
             "8 MiB", path);
    ck_assert_idm_error(idm_layout_new(&l, json, strlen(json), dir), IDM_ERR_INVALID_ARG, want);
    ck_assert_ptr_null(l);
    fixture_remove_tree(dir);
}
END_TEST

/* A file that looks like a PNG but cannot be decoded is refused when the
 * layout is loaded, not at every card's rendering. */
START_TEST(test_image_that_cannot_be_decoded_is_refused)
{
    char dir[1024], path[1200], want[1400];
    fixture_scratch_dir("layout-damaged", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/damaged.png", dir);
    fixture_write_file(path, "\x89PNG\r\n\x1a\n\0\0\0\0garbage", 20);
    static const char json[] = "{" HEAD ",\"front\":{\"background\":{\"image\":\"damaged.png\"}}}";
    idm_layout_t *l = NULL;
    snprintf(want, sizeof want, "idm_layout_new: front.background.image: '%s' cannot be "
             "decoded: PNG", path);
    ck_assert_idm_error(idm_layout_new(&l, json, strlen(json), dir), IDM_ERR_INVALID_ARG, want);
    ck_assert_ptr_null(l);
    fixture_remove_tree(dir);
}
END_TEST

START_TEST(test_jpeg_and_absolute_image_paths_are_read)
{
    char dir[1024], json[2048];
    fixture_dir(dir, sizeof dir);
    snprintf(json, sizeof json, "{" HEAD ",\"front\":{\"elements\":[{\"type\":\"image\"," BOX
             ",\"path\":\"%s/pixel.jpg\"}]}}", dir);
    /* An absolute path ignores the base folder. */
    idm_layout_t *l = layout_ok(json, "/nonexistent");
    char path[1200];
    snprintf(path, sizeof path, "%s/pixel.jpg", dir);
    ck_assert_str_eq(l->faces[0].elements[0].image.path, path);
    ck_assert_uint_eq(l->faces[0].elements[0].image.len, file_size(path));
    ck_assert_int_eq(memcmp(l->faces[0].elements[0].image.bytes, "\xff\xd8\xff", 3), 0);
    idm_layout_free(&l);
}
END_TEST

START_TEST(test_refusal_after_images_were_read_frees_them)
{
    /* Under ASan this proves the partly built layout is freed whole. */
    char dir[1024];
    fixture_dir(dir, sizeof dir);
    static const char json[] =
        "{" HEAD ",\"front\":{\"background\":{\"image\":\"pixel.png\"},\"elements\":["
        "{\"type\":\"image\"," BOX ",\"path\":\"pixel.jpg\"},"
        "{\"type\":\"text\"," BOX ",\"text\":\"${a}\",\"font\":{\"family\":\"Serif\"}},"
        "{\"type\":\"photo\"," BOX "},{\"type\":\"barcode\"," BOX ",\"symbology\":\"qr\"}]},"
        "\"back\":{\"elements\":[{\"type\":\"text\"," BOX ",\"text\":\"x\",\"max_lines\":0}]}}";
    idm_layout_t *l = NULL;
    ck_assert_idm_error(idm_layout_new(&l, json, strlen(json), dir), IDM_ERR_INVALID_ARG,
                        "idm_layout_new: back.elements[0].max_lines: 0 is below 1");
    ck_assert_ptr_null(l);
}
END_TEST

/* ---- loading files ----------------------------------------------------- */

START_TEST(test_load_reads_the_example_layout)
{
    char path[1024], logo[1024];
    source_path("examples/data/layouts/employee.json", path, sizeof path);
    source_path("examples/data/layouts/logo.png", logo, sizeof logo);
    idm_layout_t *l = NULL;
    ck_ok(idm_layout_load(&l, path));
    const char *name = NULL;
    ck_ok(idm_layout_get_name(l, &name));
    ck_assert_str_eq(name, "employee");
    int yes = -1;
    ck_ok(idm_layout_serves(l, IDM_CARD_EMPLOYEE, &yes));
    ck_assert_int_eq(yes, 1);
    ck_ok(idm_layout_serves(l, IDM_CARD_CONTRACTOR, &yes));
    ck_assert_int_eq(yes, 1);
    ck_ok(idm_layout_serves(l, IDM_CARD_VISITOR, &yes));
    ck_assert_int_eq(yes, 0);
    ck_ok(idm_layout_has_face(l, IDM_FACE_BACK, &yes));
    ck_assert_int_eq(yes, 1);
    /* The logo, named relative to the file, was read from beside it. */
    const struct idm_layout_element *first = &l->faces[IDM_FACE_FRONT].elements[0];
    ck_assert_int_eq(first->kind, IDM_LAYOUT_IMAGE);
    ck_assert_str_eq(first->image.path, logo);
    ck_assert_uint_eq(first->image.len, file_size(logo));
    /* Its templates use the example people's attributes and the card's number. */
    int photo = 0, barcodes = 0;
    for (size_t f = 0; f < 2; f++) {
        for (size_t i = 0; i < l->faces[f].nelements; i++) {
            const struct idm_layout_element *e = &l->faces[f].elements[i];
            photo += e->kind == IDM_LAYOUT_PHOTO && strcmp(e->source, "photo") == 0;
            barcodes += e->kind == IDM_LAYOUT_BARCODE && strcmp(e->data, "${card.number}") == 0;
        }
    }
    ck_assert_int_eq(photo, 1);
    ck_assert_int_eq(barcodes, 2);
    idm_layout_free(&l);
}
END_TEST

START_TEST(test_load_resolves_images_beside_the_file)
{
    char dir[1024], path[1200], src[1024], want[1400];
    fixture_scratch_dir("layout-load", dir, sizeof dir);
    source_path("tests/data/layouts/pixel.png", src, sizeof src);
    FILE *in = fopen(src, "rb");
    ck_assert_ptr_nonnull(in);
    unsigned char png[256];
    size_t n = fread(png, 1, sizeof png, in);
    fclose(in);
    snprintf(path, sizeof path, "%s/logo.png", dir);
    fixture_write_file(path, png, n);
    static const char good[] = "{" HEAD ",\"front\":{\"elements\":[{\"type\":\"image\"," BOX
                               ",\"path\":\"logo.png\"}]}}";
    snprintf(path, sizeof path, "%s/card.json", dir);
    fixture_write_file(path, good, strlen(good));
    idm_layout_t *l = NULL;
    ck_ok(idm_layout_load(&l, path));
    ck_assert_uint_eq(l->faces[0].elements[0].image.len, n);
    idm_layout_free(&l);

    /* A refusal names the file, then the member. */
    static const char bad[] = "{" HEAD ",\"front\":{\"elements\":[" TEXT_EL(1, 1, 5, 5) ","
                              "{\"type\":\"text\"," BOX ",\"text\":\"x\",\"font\":{\"size\":200}}"
                              "]}}";
    fixture_write_file(path, bad, strlen(bad));
    snprintf(want, sizeof want, "idm_layout_load: %s: front.elements[1].font.size: 200 is above "
             "72 pt", path);
    ck_assert_idm_error(idm_layout_load(&l, path), IDM_ERR_INVALID_ARG, want);
    ck_assert_ptr_null(l);
    fixture_write_file(path, "{\n  \"format\": x", 15);
    snprintf(want, sizeof want, "idm_layout_load: %s: at byte 14: 'x' is not a value", path);
    ck_assert_idm_error(idm_layout_load(&l, path), IDM_ERR_PARSE, want);
    fixture_remove_tree(dir);
}
END_TEST

START_TEST(test_load_of_an_unreadable_file_is_an_io_error)
{
    idm_layout_t *l = (idm_layout_t *)&l;
    ck_assert_idm_error(idm_layout_load(&l, "/nonexistent/layout.json"), IDM_ERR_IO,
                        "idm_layout_load: cannot read '/nonexistent/layout.json': No such file "
                        "or directory");
    ck_assert_ptr_null(l);
    ck_assert_idm_error(idm_layout_load(&l, "/"), IDM_ERR_IO,
                        "idm_layout_load: cannot read '/': Is a directory");
}
END_TEST

/* ---- templates --------------------------------------------------------- */

static void expect_expansion(const char *tmpl, const struct idm_render_value *values, size_t n,
                             const char *want)
{
    char *got = idm_layout_expand(tmpl, values, n);
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(strcmp(got, want) == 0, "\"%s\" expanded to \"%s\", not \"%s\"", tmpl, got,
                  want);
    free(got);
}

START_TEST(test_expand_replaces_keys_with_values)
{
    static const struct idm_render_value v[] = {
        {"givenName", "Ada"},
        {"surname", "Lovelace"},
        {"card.number", "C-000042"},
        {"department", NULL},
        {"givenName", "shadowed"},
    };
    expect_expansion("${givenName} ${surname}", v, N(v), "Ada Lovelace");
    expect_expansion("No. ${card.number}.", v, N(v), "No. C-000042.");
    expect_expansion("${givenName}${surname}${givenName}", v, N(v), "AdaLovelaceAda");
    expect_expansion("plain text", v, N(v), "plain text");
    expect_expansion("", v, N(v), "");
}
END_TEST

START_TEST(test_expand_gives_empty_text_for_missing_keys)
{
    static const struct idm_render_value v[] = {{"card.number", "C-1"}, {"department", NULL}};
    expect_expansion("[${missing}]", v, N(v), "[]");
    expect_expansion("[${department}]", v, N(v), "[]"); /* a key without a value */
    /* A key is matched whole, never by prefix. */
    expect_expansion("[${card.num}][${card.number.x}]", v, N(v), "[][]");
    expect_expansion("${a}${b}", NULL, 0, "");
}
END_TEST

START_TEST(test_expand_keeps_literal_dollars)
{
    static const struct idm_render_value v[] = {{"x", "X"}};
    expect_expansion("$${x}", v, N(v), "${x}");
    expect_expansion("$$${x}", v, N(v), "$${x}");
    expect_expansion("cost $5, $$ and $ {x} and ${x}$", v, N(v), "cost $5, $$ and $ {x} and X$");
    expect_expansion("$", v, N(v), "$");
    expect_expansion("$$", v, N(v), "$$");
    expect_expansion("a $${x} b ${x}", v, N(v), "a ${x} b X");
}
END_TEST

START_TEST(test_expand_copies_utf8_values_unchanged)
{
    static const struct idm_render_value v[] = {
        {"givenName", "J\xc3\xbcrgen"},
        {"surname", "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf"}, /* Arabic, right-to-left */
        {"title", "\xf0\x9f\x98\x80"},
    };
    expect_expansion("\xc2\xbb${givenName} ${surname}\xc2\xab ${title}", v, N(v),
                     "\xc2\xbbJ\xc3\xbcrgen \xd9\x85\xd8\xad\xd9\x85\xd8\xaf\xc2\xab "
                     "\xf0\x9f\x98\x80");
}
END_TEST

START_TEST(test_expand_leaves_malformed_references_as_written)
{
    /* Templates are checked at load; should a bad one reach expansion, its
     * text is kept rather than lost. */
    static const struct idm_render_value v[] = {{"x", "X"}};
    expect_expansion("${x} ${unclosed", v, N(v), "X ${unclosed");
    expect_expansion("${} ${x}", v, N(v), "${} ${x}");
    char *empty = idm_layout_expand(NULL, v, N(v));
    ck_assert_str_eq(empty, "");
    free(empty);
}
END_TEST

START_TEST(test_templates_with_valid_references_load)
{
    static const char json[] =
        "{" HEAD ",\"front\":{\"elements\":[{\"type\":\"text\"," BOX
        ",\"text\":\"${givenName} ${cost-center} ${card.type}/${card.option} $${x} $ 5 $$ \\t\"}]}}";
    idm_layout_t *l = layout_ok(json, NULL);
    ck_assert_str_eq(l->faces[0].elements[0].text,
                     "${givenName} ${cost-center} ${card.type}/${card.option} $${x} $ 5 $$ \t");
    idm_layout_free(&l);
}
END_TEST

/* ---- the handle -------------------------------------------------------- */

START_TEST(test_serves_and_has_face_answer_from_the_layout)
{
    static const char json[] = "{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"v\","
                               "\"card_types\":[\"visitor\",\"temporary\"]," FRONT "}";
    idm_layout_t *l = layout_ok(json, NULL);
    struct faults f = {0};
    for (int t = IDM_CARD_EMPLOYEE; t <= IDM_CARD_TEMPORARY; t++) {
        int yes = -1;
        ck_ok(idm_layout_serves(l, (idm_card_type)t, &yes));
        int want = t == IDM_CARD_VISITOR || t == IDM_CARD_TEMPORARY;
        if (yes != want)
            fault(&f, "%s: serves %d, expected %d;", idm_card_type_name((idm_card_type)t), yes,
                  want);
    }
    ck_assert_no_faults(&f);
    int yes = -1;
    ck_ok(idm_layout_has_face(l, IDM_FACE_FRONT, &yes));
    ck_assert_int_eq(yes, 1);
    ck_ok(idm_layout_has_face(l, IDM_FACE_BACK, &yes));
    ck_assert_int_eq(yes, 0);
    ck_assert_idm_error(idm_layout_serves(l, (idm_card_type)6, &yes), IDM_ERR_INVALID_ARG,
                        "idm_layout_serves: argument 'type' is 6, not a card type");
    ck_assert_idm_error(idm_layout_serves(l, (idm_card_type)-1, &yes), IDM_ERR_INVALID_ARG,
                        "argument 'type' is -1");
    ck_assert_idm_error(idm_layout_has_face(l, (idm_card_face)2, &yes), IDM_ERR_INVALID_ARG,
                        "idm_layout_has_face: argument 'face' is 2");
    idm_layout_free(&l);
}
END_TEST

START_TEST(test_public_functions_refuse_null_arguments)
{
    static const char json[] = "{" HEAD "," FRONT "}";
    idm_layout_t *l = (idm_layout_t *)&l;
    ck_assert_idm_error(idm_layout_new(NULL, json, strlen(json), NULL), IDM_ERR_INVALID_ARG,
                        "idm_layout_new: argument 'out' is NULL");
    ck_assert_idm_error(idm_layout_new(&l, NULL, 0, NULL), IDM_ERR_INVALID_ARG,
                        "idm_layout_new: argument 'json' is NULL");
    ck_assert_ptr_null(l);
    ck_assert_idm_error(idm_layout_load(NULL, "x.json"), IDM_ERR_INVALID_ARG,
                        "idm_layout_load: argument 'out' is NULL");
    ck_assert_idm_error(idm_layout_load(&l, NULL), IDM_ERR_INVALID_ARG,
                        "idm_layout_load: argument 'path' is NULL");

    const char *name = NULL;
    int yes = -1;
    ck_assert_idm_error(idm_layout_get_name(NULL, &name), IDM_ERR_INVALID_ARG,
                        "idm_layout_get_name");
    ck_assert_idm_error(idm_layout_serves(NULL, IDM_CARD_EMPLOYEE, &yes), IDM_ERR_INVALID_ARG,
                        "idm_layout_serves");
    ck_assert_idm_error(idm_layout_has_face(NULL, IDM_FACE_FRONT, &yes), IDM_ERR_INVALID_ARG,
                        "idm_layout_has_face");
    l = layout_ok(json, NULL);
    ck_assert_idm_error(idm_layout_get_name(l, NULL), IDM_ERR_INVALID_ARG,
                        "idm_layout_get_name: argument 'out' is NULL");
    ck_assert_idm_error(idm_layout_serves(l, IDM_CARD_EMPLOYEE, NULL), IDM_ERR_INVALID_ARG,
                        "idm_layout_serves: argument 'out' is NULL");
    ck_assert_idm_error(idm_layout_has_face(l, IDM_FACE_FRONT, NULL), IDM_ERR_INVALID_ARG,
                        "idm_layout_has_face: argument 'out' is NULL");
    /* Some other handle is not a layout. */
    uint32_t not_a_layout[8] = {0x69646d43u}; /* a context's tag */
    ck_assert_idm_error(idm_layout_get_name((const idm_layout_t *)not_a_layout, &name),
                        IDM_ERR_INVALID_ARG, "idm_layout_t");
    idm_layout_free(&l);
}
END_TEST

START_TEST(test_free_is_null_safe_and_clears_the_pointer)
{
    idm_layout_free(NULL);
    idm_layout_t *l = NULL;
    idm_layout_free(&l);
    ck_assert_ptr_null(l);
    l = layout_ok("{" HEAD "," FRONT "}", NULL);
    idm_layout_free(&l);
    ck_assert_ptr_null(l);
    idm_layout_free(&l); /* twice: the pointer is NULL by now */
    ck_assert_ptr_null(l);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("layout");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, test_full_layout_reads_every_member);
    tcase_add_test(tc, test_defaults_apply_to_members_left_out);
    tcase_add_test(tc, test_faces_may_have_no_elements);
    tcase_add_test(tc, test_portrait_swaps_the_face_size);
    tcase_add_test(tc, test_photo_dir_resolves_against_the_base_folder);
    suite_add_tcase(s, tc);
    tc = tcase_create("refuse");
    tcase_add_test(tc, test_refuses_bad_document_members);
    tcase_add_test(tc, test_refuses_bad_faces);
    tcase_add_test(tc, test_refuses_too_many_elements);
    tcase_add_test(tc, test_refuses_bad_element_members);
    tcase_add_test(tc, test_refuses_bad_text_elements);
    tcase_add_test(tc, test_refuses_text_longer_than_1024_bytes);
    tcase_add_test(tc, test_refuses_bad_photo_image_and_barcode_elements);
    tcase_add_test(tc, test_refuses_malformed_json_with_the_byte);
    tcase_add_test(tc, test_refuses_documents_over_1_mib);
    suite_add_tcase(s, tc);
    tc = tcase_create("images");
    tcase_add_test(tc, test_image_that_cannot_be_read_is_an_io_error);
    tcase_add_test(tc, test_image_that_is_not_png_or_jpeg_is_refused);
    tcase_add_test(tc, test_image_over_8_mib_is_refused);
    tcase_add_test(tc, test_image_that_cannot_be_decoded_is_refused);
    tcase_add_test(tc, test_jpeg_and_absolute_image_paths_are_read);
    tcase_add_test(tc, test_refusal_after_images_were_read_frees_them);
    suite_add_tcase(s, tc);
    tc = tcase_create("load");
    tcase_add_test(tc, test_load_reads_the_example_layout);
    tcase_add_test(tc, test_load_resolves_images_beside_the_file);
    tcase_add_test(tc, test_load_of_an_unreadable_file_is_an_io_error);
    suite_add_tcase(s, tc);
    tc = tcase_create("templates");
    tcase_add_test(tc, test_expand_replaces_keys_with_values);
    tcase_add_test(tc, test_expand_gives_empty_text_for_missing_keys);
    tcase_add_test(tc, test_expand_keeps_literal_dollars);
    tcase_add_test(tc, test_expand_copies_utf8_values_unchanged);
    tcase_add_test(tc, test_expand_leaves_malformed_references_as_written);
    tcase_add_test(tc, test_templates_with_valid_references_load);
    suite_add_tcase(s, tc);
    tc = tcase_create("handle");
    tcase_add_test(tc, test_serves_and_has_face_answer_from_the_layout);
    tcase_add_test(tc, test_public_functions_refuse_null_arguments);
    tcase_add_test(tc, test_free_is_null_safe_and_clears_the_pointer);
    suite_add_tcase(s, tc);
    return s;
}
