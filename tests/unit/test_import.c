/*
 * Black-box: importing identities from CSV (idm_identity_import_csv and
 * idm_identity_import_csv_data) through the public API only.
 *
 * The big test's row count comes from IDM_TEST_IMPORT_ROWS (default 20000),
 * so that a slow machine can run it smaller without skipping it.  With the
 * default the suite takes about 1.5 s, and 75 to 100 s under
 * `meson test --setup valgrind import` (2 CPUs, 2.5 GHz).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

#define ACTOR "importer"
#define HEADER "givenName,surname,employeeNumber,mail\n"
#define BIG_ROWS_DEFAULT 20000

/* ---- helpers ------------------------------------------------------------ */

/* A context on a fresh store file holding two people (P1, P2), so that "the
 * store is as before" is not just "the store is empty". */
static idm_ctx_t *ctx_with_two_people(const char *name, char **path_out)
{
    const char *path = fixture_store_path(name);
    *path_out = strdup(path);
    ck_assert_ptr_nonnull(*path_out);
    idm_ctx_t *ctx = fixture_ctx(*path_out);
    idm_identity_t *p = fixture_person(ctx, "P1", "Ada", "Lovelace");
    idm_identity_free(&p);
    p = fixture_person(ctx, "P2", "Alan", "Turing");
    idm_identity_free(&p);
    return ctx;
}

static void close_store(idm_ctx_t **ctx, char **path)
{
    idm_ctx_free(ctx);
    fixture_remove_store(*path);
    free(*path);
    *path = NULL;
}

static size_t count_identities(idm_ctx_t *ctx)
{
    idm_identity_iter_t *it = NULL;
    ck_assert_int_eq(idm_identity_iter_new(ctx, &it), IDM_OK);
    size_t n = 0;
    for (;;) {
        idm_identity_t *p = NULL;
        ck_assert_int_eq(idm_identity_iter_next(it, &p), IDM_OK);
        if (p == NULL)
            break;
        idm_identity_free(&p);
        n++;
    }
    idm_identity_iter_free(&it);
    return n;
}

static size_t count_audit_events(idm_ctx_t *ctx)
{
    idm_audit_iter_t *it = NULL;
    ck_assert_int_eq(idm_audit_iter_new(ctx, &it), IDM_OK);
    size_t n = 0;
    for (;;) {
        idm_audit_event_t *e = NULL;
        ck_assert_int_eq(idm_audit_iter_next(it, &e), IDM_OK);
        if (e == NULL)
            break;
        idm_audit_event_free(&e);
        n++;
    }
    idm_audit_iter_free(&it);
    return n;
}

static void expect_audit_intact(idm_ctx_t *ctx)
{
    int64_t broken = -1;
    int rc = idm_audit_verify(ctx, &broken);
    ck_assert_msg(rc == IDM_OK, "audit chain broken at %lld: %s", (long long)broken,
                  idm_last_error_message());
    ck_assert_int_eq(broken, 0);
}

static size_t import_text(idm_ctx_t *ctx, const char *csv, const char *id_column,
                          idm_identity_state state)
{
    size_t imported = 12345;
    int rc = idm_identity_import_csv_data(ctx, ACTOR, csv, strlen(csv), id_column, state,
                                          &imported);
    ck_assert_msg(rc == IDM_OK, "import failed with %s: %s", idm_strerror_name(rc),
                  idm_last_error_message());
    return imported;
}

static idm_identity_t *open_external(idm_ctx_t *ctx, const char *external_id)
{
    idm_identity_t *p = NULL;
    int rc = idm_identity_open_external(ctx, external_id, &p);
    ck_assert_msg(rc == IDM_OK, "cannot open '%s': %s: %s", external_id, idm_strerror_name(rc),
                  idm_last_error_message());
    return p;
}

static void expect_attribute(const idm_identity_t *p, const char *key, const char *want)
{
    const char *value = NULL;
    int rc = idm_identity_get_attribute(p, key, &value);
    if (want == NULL) {
        ck_assert_msg(rc == IDM_ERR_NOT_FOUND, "attribute '%s' should be unset, got %s ('%s')",
                      key, idm_strerror_name(rc), rc == IDM_OK ? value : "");
        return;
    }
    ck_assert_msg(rc == IDM_OK, "attribute '%s': %s: %s", key, idm_strerror_name(rc),
                  idm_last_error_message());
    ck_assert_str_eq(value, want);
}

static void expect_common_name(const idm_identity_t *p, const char *want)
{
    const char *cn = "unset";
    ck_assert_int_eq(idm_identity_get_common_name(p, &cn), IDM_OK);
    if (want == NULL)
        ck_assert_ptr_null(cn);
    else
        ck_assert_str_eq(cn, want);
}

static void expect_state(const idm_identity_t *p, idm_identity_state want)
{
    idm_identity_state state = IDM_IDENTITY_TERMINATED;
    ck_assert_int_eq(idm_identity_get_state(p, &state), IDM_OK);
    ck_assert_str_eq(idm_identity_state_name(state), idm_identity_state_name(want));
}

/* The identity's events: exactly one, its creation by the import, with the
 * detail naming the line the row started on. */
static void expect_one_creation_event(idm_ctx_t *ctx, const idm_identity_t *p, size_t line,
                                      const char *state)
{
    int64_t id = 0;
    ck_assert_int_eq(idm_identity_get_id(p, &id), IDM_OK);
    idm_audit_iter_t *it = NULL;
    ck_assert_int_eq(idm_audit_iter_new(ctx, &it), IDM_OK);
    ck_assert_int_eq(idm_audit_iter_set_object(it, IDM_OBJECT_IDENTITY, id), IDM_OK);
    idm_audit_event_t *e = NULL;
    ck_assert_int_eq(idm_audit_iter_next(it, &e), IDM_OK);
    ck_assert_ptr_nonnull(e);

    char want[96];
    snprintf(want, sizeof want, "identity created (CSV import, line %zu)", line);
    const char *detail = NULL, *actor = NULL, *from = "x", *to = NULL;
    ck_assert_int_eq(idm_audit_event_get_detail(e, &detail), IDM_OK);
    ck_assert_str_eq(detail, want);
    ck_assert_int_eq(idm_audit_event_get_actor(e, &actor), IDM_OK);
    ck_assert_str_eq(actor, ACTOR);
    ck_assert_int_eq(idm_audit_event_get_states(e, &from, &to), IDM_OK);
    ck_assert_ptr_null(from);
    ck_assert_str_eq(to, state);
    idm_object_type type = IDM_OBJECT_CARD;
    int64_t object = 0;
    ck_assert_int_eq(idm_audit_event_get_object(e, &type, &object), IDM_OK);
    ck_assert_int_eq(type, IDM_OBJECT_IDENTITY);
    ck_assert_int_eq(object, id);
    idm_audit_event_free(&e);

    ck_assert_int_eq(idm_audit_iter_next(it, &e), IDM_OK);
    ck_assert_msg(e == NULL, "identity %lld has more than one audit event", (long long)id);
    idm_audit_iter_free(&it);
}

/*
 * Runs an import of csv that must fail with code and a message naming the
 * function, "<memory>" and each of the NULL-terminated needles (the line,
 * e.g. "line 4:", and what was wrong), and asserts that it changed nothing:
 * same identities, no new audit event, chain intact, imported 0.
 */
static void import_refused(idm_ctx_t *ctx, const char *csv, size_t len, const char *id_column,
                           int code, ...)
{
    size_t identities = count_identities(ctx);
    size_t events = count_audit_events(ctx);
    size_t imported = 777;
    int rc = idm_identity_import_csv_data(ctx, ACTOR, csv, len, id_column,
                                          IDM_IDENTITY_REGISTERED, &imported);
    ck_assert_idm_error(rc, code, "idm_identity_import_csv_data");
    ck_assert_idm_error(rc, code, "'<memory>'");
    va_list ap;
    va_start(ap, code);
    for (const char *needle = va_arg(ap, const char *); needle != NULL;
         needle = va_arg(ap, const char *))
        ck_assert_idm_error(rc, code, needle);
    va_end(ap);
    ck_assert_uint_eq(imported, 0);
    ck_assert_uint_eq(count_identities(ctx), identities);
    ck_assert_uint_eq(count_audit_events(ctx), events);
    expect_audit_intact(ctx);
}

#define expect_import_refused(ctx, csv, len, id_column, code, ...) \
    import_refused(ctx, csv, len, id_column, code, __VA_ARGS__, (const char *)NULL)
#define expect_text_refused(ctx, csv, id_column, code, ...) \
    expect_import_refused(ctx, csv, strlen(csv), id_column, code, __VA_ARGS__)

/* A temporary file holding len bytes of data; the caller unlinks and frees
 * the returned path. */
static char *temp_file(const char *data, size_t len)
{
    const char *dir = getenv("IDM_TEST_TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    mkdir(dir, 0755);
    char *path = malloc(strlen(dir) + 32);
    ck_assert_ptr_nonnull(path);
    sprintf(path, "%s/import-XXXXXX", dir);
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp %s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        ck_assert_msg(n > 0, "write %s: %s", path, strerror(errno));
        done += (size_t)n;
    }
    ck_assert_int_eq(close(fd), 0);
    return path;
}

/* rows generated rows after HEADER: givenName "Given<i>", surname
 * "Surname<i>", employeeNumber "E<i>" (i from 1), mail.  Row i is on line
 * i + 1.  The caller frees the text. */
static char *generate_rows(size_t rows, size_t *len_out)
{
    size_t cap = strlen(HEADER) + rows * 96 + 1;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    size_t len = (size_t)sprintf(text, "%s", HEADER);
    for (size_t i = 1; i <= rows; i++) {
        int n = snprintf(text + len, cap - len,
                         "Given%zu,Surname%zu,E%zu,given%zu.surname@example.com\n", i, i, i, i);
        ck_assert(n > 0 && (size_t)n < cap - len);
        len += (size_t)n;
    }
    *len_out = len;
    return text;
}

static size_t big_rows(void)
{
    const char *env = getenv("IDM_TEST_IMPORT_ROWS");
    if (env == NULL || env[0] == '\0')
        return BIG_ROWS_DEFAULT;
    char *end = NULL;
    unsigned long n = strtoul(env, &end, 10);
    ck_assert_msg(*end == '\0' && n > 0, "IDM_TEST_IMPORT_ROWS='%s' is not a row count", env);
    return (size_t)n;
}

/* ---- well-formed input -------------------------------------------------- */

/* BOM, CRLF, quoted commas, doubled quotes, an embedded newline, UTF-8
 * names, an empty field and no final line ending, all in one file. */
static const char rich_csv[] =
    "\xEF\xBB\xBF"
    "givenName,surname,employeeNumber,mail\r\n"              /* line 1 */
    "Zo\xC3\xAB,Smith,E001,zoe@example.com\r\n"              /* line 2: Zoë */
    "\xC5\x81ukasz,\"Nowak, Jr.\",E002,lukasz@example.com\r\n" /* line 3: Łukasz */
    "\xE5\xB1\xB1\xE7\x94\xB0,\xE5\xA4\xAA\xE9\x83\x8E,E003,\r\n" /* line 4: 山田 太郎 */
    "\"Anna \"\"Ann\"\"\",Berg,E004,\"anna@example.com\"\r\n" /* line 5 */
    "Piet,\"van der\nBerg\",E005,piet@example.com\r\n"        /* lines 6-7 */
    ",Solo,E006,";                                           /* line 8 */

START_TEST(test_rfc4180_utf8_crlf_bom_csv_imports_every_row_with_its_attributes)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    ck_assert_uint_eq(import_text(ctx, rich_csv, "employeeNumber", IDM_IDENTITY_REGISTERED), 6);
    ck_assert_uint_eq(count_identities(ctx), 6);

    idm_identity_t *p = open_external(ctx, "E001");
    expect_attribute(p, "givenName", "Zo\xC3\xAB");
    expect_attribute(p, "surname", "Smith");
    expect_attribute(p, "employeeNumber", "E001");
    expect_attribute(p, "mail", "zoe@example.com");
    expect_common_name(p, "Zo\xC3\xAB Smith");
    expect_state(p, IDM_IDENTITY_REGISTERED);
    const char *ext = NULL;
    ck_assert_int_eq(idm_identity_get_external_id(p, &ext), IDM_OK);
    ck_assert_str_eq(ext, "E001");
    idm_identity_free(&p);

    p = open_external(ctx, "E002");
    expect_attribute(p, "givenName", "\xC5\x81ukasz");
    expect_attribute(p, "surname", "Nowak, Jr.");
    expect_common_name(p, "\xC5\x81ukasz Nowak, Jr.");
    idm_identity_free(&p);

    p = open_external(ctx, "E003");
    expect_attribute(p, "givenName", "\xE5\xB1\xB1\xE7\x94\xB0");
    expect_attribute(p, "surname", "\xE5\xA4\xAA\xE9\x83\x8E");
    expect_attribute(p, "mail", NULL);
    expect_common_name(p, "\xE5\xB1\xB1\xE7\x94\xB0 \xE5\xA4\xAA\xE9\x83\x8E");
    size_t nattrs = 0;
    ck_assert_int_eq(idm_identity_get_attribute_count(p, &nattrs), IDM_OK);
    ck_assert_uint_eq(nattrs, 3);
    idm_identity_free(&p);

    p = open_external(ctx, "E004");
    expect_attribute(p, "givenName", "Anna \"Ann\"");
    expect_attribute(p, "mail", "anna@example.com");
    idm_identity_free(&p);

    p = open_external(ctx, "E005");
    expect_attribute(p, "surname", "van der\nBerg");
    expect_attribute(p, "mail", "piet@example.com");
    idm_identity_free(&p);

    p = open_external(ctx, "E006");
    expect_attribute(p, "givenName", NULL);
    expect_attribute(p, "surname", "Solo");
    expect_attribute(p, "mail", NULL);
    expect_common_name(p, NULL); /* the template needs givenName */
    idm_identity_free(&p);

    expect_audit_intact(ctx);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_import_as_active_creates_active_identities)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    ck_assert_uint_eq(import_text(ctx, rich_csv, "employeeNumber", IDM_IDENTITY_ACTIVE), 6);
    static const char *const ids[] = {"E001", "E002", "E003", "E004", "E005", "E006"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        idm_identity_t *p = open_external(ctx, ids[i]);
        expect_state(p, IDM_IDENTITY_ACTIVE);
        idm_identity_free(&p);
    }
    idm_identity_iter_t *it = NULL;
    ck_assert_int_eq(idm_identity_iter_new(ctx, &it), IDM_OK);
    ck_assert_int_eq(idm_identity_iter_set_state(it, IDM_IDENTITY_REGISTERED), IDM_OK);
    idm_identity_t *p = NULL;
    ck_assert_int_eq(idm_identity_iter_next(it, &p), IDM_OK);
    ck_assert_ptr_null(p);
    idm_identity_iter_free(&it);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_import_without_id_column_creates_identities_without_external_id)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    ck_assert_uint_eq(import_text(ctx, HEADER "Zo\xC3\xAB,Smith,E1,\nZo\xC3\xAB,Smith,E1,\n",
                                  NULL, IDM_IDENTITY_REGISTERED),
                      2);
    idm_identity_iter_t *it = NULL;
    ck_assert_int_eq(idm_identity_iter_new(ctx, &it), IDM_OK);
    size_t n = 0;
    idm_identity_t *p = NULL;
    while (idm_identity_iter_next(it, &p) == IDM_OK && p != NULL) {
        const char *ext = "unset";
        ck_assert_int_eq(idm_identity_get_external_id(p, &ext), IDM_OK);
        ck_assert_ptr_null(ext);
        expect_attribute(p, "employeeNumber", "E1");
        expect_common_name(p, "Zo\xC3\xAB Smith");
        idm_identity_free(&p);
        n++;
    }
    ck_assert_uint_eq(n, 2);
    idm_identity_iter_free(&it);
    idm_identity_t *none = NULL;
    ck_assert_int_eq(idm_identity_open_external(ctx, "E1", &none), IDM_ERR_NOT_FOUND);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_header_alone_imports_nothing_and_succeeds)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    ck_assert_uint_eq(import_text(ctx, HEADER, "employeeNumber", IDM_IDENTITY_REGISTERED), 0);
    ck_assert_uint_eq(import_text(ctx, HEADER "\n\n", "employeeNumber", IDM_IDENTITY_REGISTERED),
                      0);
    ck_assert_uint_eq(count_identities(ctx), 0);
    ck_assert_uint_eq(count_audit_events(ctx), 0);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_value_of_4096_bytes_is_imported_whole)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    size_t cap = IDM_ATTRIBUTE_VALUE_MAX + 128;
    char *csv = malloc(cap);
    char *value = malloc(IDM_ATTRIBUTE_VALUE_MAX + 1);
    ck_assert_ptr_nonnull(csv);
    ck_assert_ptr_nonnull(value);
    memset(value, 'm', IDM_ATTRIBUTE_VALUE_MAX);
    value[IDM_ATTRIBUTE_VALUE_MAX] = '\0';
    snprintf(csv, cap, "%sAda,Lovelace,E1,%s\n", HEADER, value);
    ck_assert_uint_eq(import_text(ctx, csv, "employeeNumber", IDM_IDENTITY_REGISTERED), 1);
    idm_identity_t *p = open_external(ctx, "E1");
    expect_attribute(p, "mail", value);
    idm_identity_free(&p);
    free(value);
    free(csv);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_data_is_read_to_len_without_needing_a_nul)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    static const char text[] = HEADER "Ada,King,E1,ada@example.com\nBob,Ross,E2,bob@example.com";
    /* An exact-size copy without NUL, so a read past len is a memory error
     * under ASan and valgrind; the last row has no line ending. */
    size_t len = sizeof text - 1 - strlen(",bob@example.com");
    char *data = malloc(len);
    ck_assert_ptr_nonnull(data);
    memcpy(data, text, len);
    size_t imported = 0;
    int rc = idm_identity_import_csv_data(ctx, ACTOR, data, len, "employeeNumber",
                                          IDM_IDENTITY_REGISTERED, &imported);
    ck_assert_idm_error(rc, IDM_ERR_PARSE, "line 3:");
    ck_assert_idm_error(rc, IDM_ERR_PARSE, "3 fields");
    len = sizeof text - 1;
    char *whole = realloc(data, len);
    ck_assert_ptr_nonnull(whole);
    memcpy(whole, text, len);
    rc = idm_identity_import_csv_data(ctx, ACTOR, whole, len, "employeeNumber",
                                      IDM_IDENTITY_REGISTERED, &imported);
    ck_assert_msg(rc == IDM_OK, "%s: %s", idm_strerror_name(rc), idm_last_error_message());
    ck_assert_uint_eq(imported, 2);
    idm_identity_t *p = open_external(ctx, "E2");
    expect_attribute(p, "mail", "bob@example.com");
    idm_identity_free(&p);
    free(whole);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- all or nothing ----------------------------------------------------- */

START_TEST(test_row_with_too_few_fields_fails_naming_its_line_and_imports_nothing)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-fields", &path);
    expect_text_refused(ctx,
                        HEADER "Ada,King,E1,ada@example.com\n"
                               "Bob,Ross,E2,bob@example.com\n"
                               "Cy,Twombly,E3\n"
                               "Dee,Dee,E4,dee@example.com\n",
                        "employeeNumber", IDM_ERR_PARSE, "line 4:", "3 fields");
    /* Nothing of the good rows before it was kept. */
    idm_identity_t *p = NULL;
    ck_assert_int_eq(idm_identity_open_external(ctx, "E1", &p), IDM_ERR_NOT_FOUND);
    ck_assert_int_eq(idm_identity_open_external(ctx, "E2", &p), IDM_ERR_NOT_FOUND);
    ck_assert_uint_eq(count_identities(ctx), 2);
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_row_with_too_many_fields_fails_naming_its_line)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-fields-many", &path);
    expect_text_refused(ctx,
                        HEADER "Ada,King,E1,ada@example.com\n"
                               "Bob,Ross,E2,bob@example.com,extra\n"
                               "Cy,Twombly,E3,cy@example.com\n",
                        "employeeNumber", IDM_ERR_PARSE, "line 3:", "5 fields");
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_invalid_utf8_value_fails_naming_line_and_column)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-utf8", &path);
    expect_text_refused(ctx,
                        HEADER "Ada,King,E1,ada@example.com\n"
                               "Bob,Ross,E2,bob@example.com\n"
                               "Cy,Tw\xffombly,E3,cy@example.com\n"
                               "Dee,Dee,E4,dee@example.com\n",
                        "employeeNumber", IDM_ERR_INVALID_ARG, "line 4,", "'surname'", "UTF-8");
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_value_of_4097_bytes_fails_naming_line_and_column)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-long", &path);
    size_t cap = IDM_ATTRIBUTE_VALUE_MAX + 256;
    char *csv = malloc(cap);
    char *value = malloc(IDM_ATTRIBUTE_VALUE_MAX + 2);
    ck_assert_ptr_nonnull(csv);
    ck_assert_ptr_nonnull(value);
    memset(value, 'm', IDM_ATTRIBUTE_VALUE_MAX + 1);
    value[IDM_ATTRIBUTE_VALUE_MAX + 1] = '\0';
    snprintf(csv, cap, "%sAda,King,E1,ada@example.com\nBob,Ross,E2,%s\nCy,Twombly,E3,\n",
             HEADER, value);
    expect_text_refused(ctx, csv, "employeeNumber", IDM_ERR_INVALID_ARG, "line 3,", "'mail'",
                        "4096");
    free(value);
    free(csv);
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_external_id_twice_in_the_file_fails_at_the_second_and_imports_nothing)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-dup", &path);
    expect_text_refused(ctx,
                        HEADER "Ada,King,E1,ada@example.com\n"
                               "Bob,Ross,E2,bob@example.com\n"
                               "Cy,Twombly,E3,cy@example.com\n"
                               "Bobby,Ross,E2,bobby@example.com\n"
                               "Dee,Dee,E4,dee@example.com\n",
                        "employeeNumber", IDM_ERR_EXISTS, "line 5:", "'E2'");
    idm_identity_t *p = NULL;
    ck_assert_int_eq(idm_identity_open_external(ctx, "E2", &p), IDM_ERR_NOT_FOUND);
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_external_id_already_in_the_store_fails_and_leaves_it_untouched)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-exists", &path);
    expect_text_refused(ctx,
                        HEADER "Ada,King,E1,ada@example.com\n"
                               "Bob,Ross,E2,bob@example.com\n"
                               "Alan,Imposter,P2,alan@example.com\n",
                        "employeeNumber", IDM_ERR_EXISTS, "line 4:", "'P2'");
    idm_identity_t *p = open_external(ctx, "P2");
    expect_attribute(p, "surname", "Turing");
    expect_attribute(p, "mail", NULL);
    expect_state(p, IDM_IDENTITY_ACTIVE);
    idm_identity_free(&p);
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_empty_external_id_fails_naming_line_and_column)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-empty-id", &path);
    expect_text_refused(ctx,
                        HEADER "Ada,King,E1,ada@example.com\n"
                               "Bob,Ross,E2,bob@example.com\n"
                               "Cy,Twombly,,cy@example.com\n",
                        "employeeNumber", IDM_ERR_INVALID_ARG, "line 4:", "'employeeNumber'", "empty");
    close_store(&ctx, &path);
}
END_TEST

/* An external id with a line break was imported although idm_identity_new()
 * refuses the same id: both now apply the same rule. */
START_TEST(test_external_id_with_a_control_character_is_refused)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-ctl-id", &path);
    expect_text_refused(ctx,
                        HEADER "Ada,King,E1,ada@example.com\n"
                               "Bob,Ross,\"E2\nX\",bob@example.com\n",
                        "employeeNumber", IDM_ERR_INVALID_ARG, "line 3:", "'employeeNumber'",
                        "control character 0x0a");
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_error_line_counts_newlines_inside_quoted_fields_and_blank_lines)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-lines", &path);
    /* Records start on lines 2, 3 (spanning 3-5), 7 (after a blank 6), 8. */
    expect_text_refused(ctx,
                        HEADER "Ada,King,E1,ada@example.com\r\n"
                               "Bob,\"Ross\r\nthe\nPainter\",E2,bob@example.com\r\n"
                               "\r\n"
                               "Cy,Twombly,E3,cy@example.com\r\n"
                               "Dee,Dee,E1,dee@example.com\r\n",
                        "employeeNumber", IDM_ERR_EXISTS, "line 8:", "'E1'");
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_unterminated_quote_fails_naming_the_line_it_opened_on)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-quote", &path);
    expect_text_refused(ctx,
                        HEADER "Ada,King,E1,ada@example.com\n"
                               "Bob,\"Ross,E2,bob@example.com\n"
                               "Cy,Twombly,E3,cy@example.com\n",
                        "employeeNumber", IDM_ERR_PARSE, "line 3,", "unterminated");
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_bad_row_after_thousands_of_good_rows_imports_nothing)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-late", &path);
    /* 3000 rows span several of the reader's 64 KiB chunks. */
    size_t len = 0;
    char *csv = generate_rows(3000, &len);
    char *bad = realloc(csv, len + 64);
    ck_assert_ptr_nonnull(bad);
    csv = bad;
    len += (size_t)sprintf(csv + len, "Last,Row,E17,\xff\n");
    expect_import_refused(ctx, csv, len, "employeeNumber", IDM_ERR_INVALID_ARG, "line 3002,",
                          "'mail'");
    idm_identity_t *p = NULL;
    ck_assert_int_eq(idm_identity_open_external(ctx, "E1", &p), IDM_ERR_NOT_FOUND);
    ck_assert_int_eq(idm_identity_open_external(ctx, "E3000", &p), IDM_ERR_NOT_FOUND);
    free(csv);
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_store_accepts_the_corrected_file_after_a_failed_import)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-retry", &path);
    expect_text_refused(ctx, HEADER "Ada,King,E1,\nBob,Ross,E1,\n", "employeeNumber",
                        IDM_ERR_EXISTS, "line 3:", "'E1'");
    ck_assert_uint_eq(
        import_text(ctx, HEADER "Ada,King,E1,\nBob,Ross,E2,\n", "employeeNumber",
                    IDM_IDENTITY_REGISTERED),
        2);
    ck_assert_uint_eq(count_identities(ctx), 4);
    idm_identity_t *p = open_external(ctx, "E1");
    expect_one_creation_event(ctx, p, 2, "registered");
    idm_identity_free(&p);
    expect_audit_intact(ctx);
    close_store(&ctx, &path);
}
END_TEST

/* ---- header and arguments ----------------------------------------------- */

START_TEST(test_header_name_with_a_space_is_refused)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-hdr-space", &path);
    expect_text_refused(ctx, "first name,surname,employeeNumber\nAda,King,E1\n", "employeeNumber",
                        IDM_ERR_PARSE, "line 1, column 1", "'first name'");
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_empty_header_name_is_refused)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-hdr-empty", &path);
    expect_text_refused(ctx, "givenName,,employeeNumber\nAda,King,E1\n", "employeeNumber",
                        IDM_ERR_PARSE, "line 1, column 2", "attribute key");
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_column_named_twice_is_refused)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-hdr-dup", &path);
    expect_text_refused(ctx, "givenName,surname,employeeNumber,surname\nAda,King,E1,K\n",
                        "employeeNumber", IDM_ERR_PARSE, "line 1:", "'surname' appears twice");
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_id_column_missing_from_the_header_is_refused)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-hdr-id", &path);
    expect_text_refused(ctx, HEADER "Ada,King,E1,ada@example.com\n", "personnelNumber",
                        IDM_ERR_INVALID_ARG, "'personnelNumber'");
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_empty_input_is_refused_as_having_no_header)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-empty", &path);
    expect_import_refused(ctx, NULL, 0, "employeeNumber", IDM_ERR_PARSE, "empty");
    expect_text_refused(ctx, "", NULL, IDM_ERR_PARSE, "empty");
    expect_text_refused(ctx, "\xEF\xBB\xBF", NULL, IDM_ERR_PARSE, "empty");
    expect_text_refused(ctx, "\r\n\n", NULL, IDM_ERR_PARSE, "empty");
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_bad_arguments_are_refused_before_reading)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    const char *csv = HEADER "Ada,King,E1,\n";
    size_t len = strlen(csv), imported = 5;
    ck_assert_idm_error(idm_identity_import_csv_data(ctx, ACTOR, csv, len, "employeeNumber",
                                                     IDM_IDENTITY_TERMINATED, &imported),
                        IDM_ERR_INVALID_ARG, "initial_state");
    ck_assert_uint_eq(imported, 0);
    ck_assert_idm_error(idm_identity_import_csv_data(ctx, ACTOR, csv, len, "employeeNumber",
                                                     IDM_IDENTITY_INACTIVE, NULL),
                        IDM_ERR_INVALID_ARG, "initial_state");
    ck_assert_idm_error(idm_identity_import_csv_data(ctx, NULL, csv, len, "employeeNumber",
                                                     IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_INVALID_ARG, "actor");
    ck_assert_idm_error(idm_identity_import_csv_data(ctx, ACTOR, csv, len, "employee number",
                                                     IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_INVALID_ARG, "id_column");
    ck_assert_idm_error(idm_identity_import_csv_data(ctx, ACTOR, NULL, 3, "employeeNumber",
                                                     IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_INVALID_ARG, "data");
    ck_assert_idm_error(idm_identity_import_csv(ctx, ACTOR, NULL, "employeeNumber",
                                                IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_INVALID_ARG, "path");
    ck_assert_idm_error(idm_identity_import_csv_data(NULL, ACTOR, csv, len, "employeeNumber",
                                                     IDM_IDENTITY_ACTIVE, NULL),
                        IDM_ERR_INVALID_ARG, "ctx");
    ck_assert_uint_eq(count_identities(ctx), 0);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_import_without_an_open_store_is_a_state_error)
{
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    const char *csv = HEADER "Ada,King,E1,\n";
    size_t imported = 5;
    ck_assert_int_eq(idm_identity_import_csv_data(ctx, ACTOR, csv, strlen(csv), "employeeNumber",
                                                  IDM_IDENTITY_ACTIVE, &imported),
                     IDM_ERR_STATE);
    ck_assert_uint_eq(imported, 0);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- files -------------------------------------------------------------- */

START_TEST(test_csv_file_on_disk_is_imported)
{
    char *csv_path = temp_file(rich_csv, sizeof rich_csv - 1);
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-file", &path);
    size_t imported = 0;
    int rc = idm_identity_import_csv(ctx, ACTOR, csv_path, "employeeNumber",
                                     IDM_IDENTITY_ACTIVE, &imported);
    ck_assert_msg(rc == IDM_OK, "%s: %s", idm_strerror_name(rc), idm_last_error_message());
    ck_assert_uint_eq(imported, 6);
    ck_assert_uint_eq(count_identities(ctx), 8);
    idm_identity_t *p = open_external(ctx, "E005");
    expect_attribute(p, "surname", "van der\nBerg");
    expect_state(p, IDM_IDENTITY_ACTIVE);
    expect_one_creation_event(ctx, p, 6, "active");
    idm_identity_free(&p);
    expect_audit_intact(ctx);
    close_store(&ctx, &path);
    unlink(csv_path);
    free(csv_path);
}
END_TEST

START_TEST(test_bad_row_in_a_file_fails_naming_the_path_and_line)
{
    static const char csv[] = HEADER "Ada,King,E1,\nBob,Ross,E2\n";
    char *csv_path = temp_file(csv, sizeof csv - 1);
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-file-bad", &path);
    size_t imported = 9;
    int rc = idm_identity_import_csv(ctx, ACTOR, csv_path, "employeeNumber",
                                     IDM_IDENTITY_REGISTERED, &imported);
    ck_assert_idm_error(rc, IDM_ERR_PARSE, "idm_identity_import_csv");
    ck_assert_idm_error(rc, IDM_ERR_PARSE, csv_path);
    ck_assert_idm_error(rc, IDM_ERR_PARSE, "line 3:");
    ck_assert_uint_eq(imported, 0);
    ck_assert_uint_eq(count_identities(ctx), 2);
    expect_audit_intact(ctx);
    close_store(&ctx, &path);
    unlink(csv_path);
    free(csv_path);
}
END_TEST

START_TEST(test_missing_file_is_an_io_error_naming_the_path)
{
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-missing", &path);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s.no-such.csv", path);
    size_t imported = 9;
    int rc = idm_identity_import_csv(ctx, ACTOR, missing, "employeeNumber",
                                     IDM_IDENTITY_REGISTERED, &imported);
    ck_assert_idm_error(rc, IDM_ERR_IO, missing);
    ck_assert_idm_error(rc, IDM_ERR_IO, "idm_identity_import_csv");
    ck_assert_uint_eq(imported, 0);
    ck_assert_uint_eq(count_identities(ctx), 2);
    close_store(&ctx, &path);
}
END_TEST

START_TEST(test_directory_given_as_file_is_an_io_error_naming_the_path)
{
    const char *dir = getenv("IDM_TEST_TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    mkdir(dir, 0755);
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    int rc = idm_identity_import_csv(ctx, ACTOR, dir, "employeeNumber", IDM_IDENTITY_REGISTERED,
                                     NULL);
    ck_assert_idm_error(rc, IDM_ERR_IO, dir);
    ck_assert_uint_eq(count_identities(ctx), 0);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- audit -------------------------------------------------------------- */

START_TEST(test_each_imported_identity_has_one_creation_event_naming_its_line)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    ck_assert_uint_eq(import_text(ctx, rich_csv, "employeeNumber", IDM_IDENTITY_REGISTERED), 6);
    static const struct {
        const char *id;
        size_t line;
    } rows[] = {{"E001", 2}, {"E002", 3}, {"E003", 4}, {"E004", 5}, {"E005", 6}, {"E006", 8}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        idm_identity_t *p = open_external(ctx, rows[i].id);
        expect_one_creation_event(ctx, p, rows[i].line, "registered");
        idm_identity_free(&p);
    }
    ck_assert_uint_eq(count_audit_events(ctx), 6);
    expect_audit_intact(ctx);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- volume ------------------------------------------------------------- */

START_TEST(test_many_rows_import_in_one_call)
{
    size_t rows = big_rows();
    size_t len = 0;
    char *csv = generate_rows(rows, &len);
    char *csv_path = temp_file(csv, len);
    free(csv);
    char *path = NULL;
    idm_ctx_t *ctx = ctx_with_two_people("import-big", &path);
    size_t imported = 0;
    int rc = idm_identity_import_csv(ctx, ACTOR, csv_path, "employeeNumber",
                                     IDM_IDENTITY_ACTIVE, &imported);
    ck_assert_msg(rc == IDM_OK, "%s: %s", idm_strerror_name(rc), idm_last_error_message());
    ck_assert_uint_eq(imported, rows);

    char id[32], given[32];
    size_t probes[] = {1, rows / 2 + 1, rows};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        snprintf(id, sizeof id, "E%zu", probes[i]);
        snprintf(given, sizeof given, "Given%zu", probes[i]);
        idm_identity_t *p = open_external(ctx, id);
        expect_attribute(p, "givenName", given);
        expect_state(p, IDM_IDENTITY_ACTIVE);
        expect_one_creation_event(ctx, p, probes[i] + 1, "active");
        idm_identity_free(&p);
    }
    ck_assert_uint_eq(count_identities(ctx), rows + 2);
    expect_audit_intact(ctx);
    close_store(&ctx, &path);
    unlink(csv_path);
    free(csv_path);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("import");

    TCase *input = tcase_create("input");
    tcase_add_test(input, test_rfc4180_utf8_crlf_bom_csv_imports_every_row_with_its_attributes);
    tcase_add_test(input, test_import_as_active_creates_active_identities);
    tcase_add_test(input, test_import_without_id_column_creates_identities_without_external_id);
    tcase_add_test(input, test_header_alone_imports_nothing_and_succeeds);
    tcase_add_test(input, test_value_of_4096_bytes_is_imported_whole);
    tcase_add_test(input, test_data_is_read_to_len_without_needing_a_nul);
    suite_add_tcase(s, input);

    TCase *atomic = tcase_create("all_or_nothing");
    tcase_add_test(atomic, test_row_with_too_few_fields_fails_naming_its_line_and_imports_nothing);
    tcase_add_test(atomic, test_row_with_too_many_fields_fails_naming_its_line);
    tcase_add_test(atomic, test_invalid_utf8_value_fails_naming_line_and_column);
    tcase_add_test(atomic, test_value_of_4097_bytes_fails_naming_line_and_column);
    tcase_add_test(atomic,
                   test_external_id_twice_in_the_file_fails_at_the_second_and_imports_nothing);
    tcase_add_test(atomic, test_external_id_already_in_the_store_fails_and_leaves_it_untouched);
    tcase_add_test(atomic, test_empty_external_id_fails_naming_line_and_column);
    tcase_add_test(atomic, test_external_id_with_a_control_character_is_refused);
    tcase_add_test(atomic, test_error_line_counts_newlines_inside_quoted_fields_and_blank_lines);
    tcase_add_test(atomic, test_unterminated_quote_fails_naming_the_line_it_opened_on);
    tcase_add_test(atomic, test_bad_row_after_thousands_of_good_rows_imports_nothing);
    tcase_add_test(atomic, test_store_accepts_the_corrected_file_after_a_failed_import);
    suite_add_tcase(s, atomic);

    TCase *header = tcase_create("header_and_arguments");
    tcase_add_test(header, test_header_name_with_a_space_is_refused);
    tcase_add_test(header, test_empty_header_name_is_refused);
    tcase_add_test(header, test_column_named_twice_is_refused);
    tcase_add_test(header, test_id_column_missing_from_the_header_is_refused);
    tcase_add_test(header, test_empty_input_is_refused_as_having_no_header);
    tcase_add_test(header, test_bad_arguments_are_refused_before_reading);
    tcase_add_test(header, test_import_without_an_open_store_is_a_state_error);
    suite_add_tcase(s, header);

    TCase *files = tcase_create("files");
    tcase_add_test(files, test_csv_file_on_disk_is_imported);
    tcase_add_test(files, test_bad_row_in_a_file_fails_naming_the_path_and_line);
    tcase_add_test(files, test_missing_file_is_an_io_error_naming_the_path);
    tcase_add_test(files, test_directory_given_as_file_is_an_io_error_naming_the_path);
    suite_add_tcase(s, files);

    TCase *audit = tcase_create("audit");
    tcase_add_test(audit, test_each_imported_identity_has_one_creation_event_naming_its_line);
    suite_add_tcase(s, audit);

    TCase *volume = tcase_create("volume");
    /* Generous for valgrind (CK_FORK=no, timeout_multiplier 10). */
    tcase_set_timeout(volume, 300);
    tcase_add_test(volume, test_many_rows_import_in_one_call);
    suite_add_tcase(s, volume);
    return s;
}
