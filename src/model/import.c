/*
 * Identity import from CSV.  The whole file is one transaction, so a bad
 * row leaves the store as it was; rows are streamed, so memory does not grow
 * with the file.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/identity.h>

#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/log.h"
#include "model/csv.h"
#include "model/identity_impl.h"
#include "model/text.h"
#include "store/store.h"

struct import {
    const char *source;   /* file name for messages */
    size_t ncolumns;
    char **columns;       /* header names */
    size_t *by_key;       /* column indexes sorted by header name */
    long id_column;       /* -1 for none */
    struct idm_attr *attrs;
};

static void import_clear(struct import *im)
{
    for (size_t i = 0; i < im->ncolumns; i++)
        free(im->columns[i]);
    free(im->columns);
    free(im->by_key);
    free(im->attrs);
}

/* Reads and checks the header row. */
static int read_header(idm_csv_reader *reader, struct import *im, const char *id_column)
{
    size_t n, line;
    const char *const *fields;
    const size_t *lens;
    int rc = idm_csv_next(reader, &n, &fields, &lens, &line);
    if (rc != IDM_OK)
        return rc;
    if (n == 0)
        return IDM_ERR(IDM_ERR_PARSE, "the file is empty; the first line must name the "
                       "attributes");
    im->columns = calloc(n, sizeof *im->columns);
    im->by_key = calloc(n, sizeof *im->by_key);
    im->attrs = calloc(n, sizeof *im->attrs);
    if (im->columns == NULL || im->by_key == NULL || im->attrs == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot hold a header of %zu columns", n);
    im->ncolumns = n;
    im->id_column = -1;
    for (size_t i = 0; i < n; i++) {
        char shown[80]; /* a header is the file's: it may be long, or not UTF-8 */
        if (idm_check_key(NULL, "column", fields[i]) != IDM_OK)
            return IDM_ERR(IDM_ERR_PARSE, "line %zu, column %zu: '%s' is not an attribute key "
                           "(letters, digits, '_', '-', '.'; a letter first)", line, i + 1,
                           idm_text_shown(fields[i], shown, sizeof shown));
        if ((im->columns[i] = strdup(fields[i])) == NULL)
            return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy the header");
        for (size_t j = 0; j < i; j++) {
            if (strcmp(im->columns[j], fields[i]) == 0)
                return IDM_ERR(IDM_ERR_PARSE, "line %zu: column '%s' appears twice (columns "
                               "%zu and %zu)", line, fields[i], j + 1, i + 1);
        }
        if (id_column != NULL && strcmp(fields[i], id_column) == 0)
            im->id_column = (long)i;
        im->by_key[i] = i;
    }
    if (id_column != NULL && im->id_column < 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the header has no column '%s' for the external id",
                       id_column);
    /* Records keep attributes sorted by key; sort the columns once. */
    for (size_t i = 1; i < n; i++) {
        size_t col = im->by_key[i], j = i;
        for (; j > 0 && strcmp(im->columns[im->by_key[j - 1]], im->columns[col]) > 0; j--)
            im->by_key[j] = im->by_key[j - 1];
        im->by_key[j] = col;
    }
    return IDM_OK;
}

/* Inserts one row as an identity; the record borrows the reader's fields. */
static int import_row(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                      struct import *im, idm_identity_state state, const char *const *fields,
                      size_t n, size_t line)
{
    if (n != im->ncolumns)
        return IDM_ERR(IDM_ERR_PARSE, "line %zu: %zu fields, but the header has %zu", line, n,
                       im->ncolumns);
    struct idm_identity_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.state = state;
    rec.attrs = im->attrs;
    for (size_t k = 0; k < n; k++) {
        size_t col = im->by_key[k];
        const char *value = fields[col];
        if (value[0] == '\0')
            continue;
        char why[96];
        if (!idm_text_acceptable(value, IDM_ATTRIBUTE_VALUE_MAX, 0, why, sizeof why))
            return IDM_ERR(IDM_ERR_INVALID_ARG, "line %zu, column '%s': the value %s", line,
                           im->columns[col], why);
        rec.attrs[rec.nattrs].key = im->columns[col];
        rec.attrs[rec.nattrs].value = (char *)value;
        rec.nattrs++;
    }
    if (im->id_column >= 0) {
        rec.external_id = (char *)fields[im->id_column];
        char why[96];
        /* The rule of idm_identity_new(): one line of UTF-8. */
        if (!idm_text_acceptable(rec.external_id, IDM_ATTRIBUTE_VALUE_MAX, 1, why, sizeof why))
            return IDM_ERR(IDM_ERR_INVALID_ARG, "line %zu: the external id column '%s' %s", line,
                           im->columns[im->id_column], why);
    }
    char origin[64];
    snprintf(origin, sizeof origin, "(CSV import, line %zu)", line);
    int rc = idm_identity_insert(ctx, s, actor, &rec, origin);
    if (rc == IDM_ERR_EXISTS)
        return IDM_ERR(IDM_ERR_EXISTS, "line %zu: an identity with external id '%s' already "
                       "exists", line, rec.external_id);
    return rc;
}

static int import_csv(idm_ctx_t *ctx, const char *func, const char *actor, idm_csv_reader *reader,
                      const char *source, const char *id_column, idm_identity_state state,
                      size_t *imported)
{
    struct idm_store *s;
    struct import im;
    memset(&im, 0, sizeof im);
    im.source = source;
    size_t count = 0;
    int rc = idm_ctx_store(ctx, &s);
    if (rc != IDM_OK)
        return idm_error_prefix(func, rc);
    if ((rc = s->ops->begin(s)) != IDM_OK)
        return idm_error_prefix(func, rc);
    rc = read_header(reader, &im, id_column);
    while (rc == IDM_OK) {
        size_t n, line;
        const char *const *fields;
        const size_t *lens;
        rc = idm_csv_next(reader, &n, &fields, &lens, &line);
        if (rc != IDM_OK || n == 0)
            break;
        rc = import_row(ctx, s, actor, &im, state, fields, n, line);
        if (rc == IDM_OK)
            count++;
    }
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    import_clear(&im);
    if (rc != IDM_OK) {
        idm_log_error(ctx, "import", "import of '%s' failed, nothing imported: %s", source,
                      idm_last_error_message());
        return idm_error_wrap(func, rc, "'%s'", source);
    }
    idm_log_info(ctx, "import", "%s imported %zu identities from '%s'", actor, count, source);
    if (imported != NULL)
        *imported = count;
    return IDM_OK;
}

static int check_import_args(const char *func, const char *actor, const char *id_column,
                             idm_identity_state state)
{
    int rc = idm_check_actor(func, actor);
    if (rc == IDM_OK && id_column != NULL)
        rc = idm_check_key(func, "id_column", id_column);
    if (rc == IDM_OK && state != IDM_IDENTITY_REGISTERED && state != IDM_IDENTITY_ACTIVE)
        rc = idm_error_set(func, IDM_ERR_INVALID_ARG, "argument 'initial_state' is %d; imports "
                           "create registered or active identities", (int)state);
    return rc;
}

IDM_EXPORT int idm_identity_import_csv(idm_ctx_t *ctx, const char *actor, const char *path,
                                       const char *id_column, idm_identity_state initial_state,
                                       size_t *imported)
{
    IDM_CHECK_CTX(ctx);
    if (imported != NULL)
        *imported = 0;
    IDM_CHECK_NOT_NULL(path);
    int rc = check_import_args(__func__, actor, id_column, initial_state);
    if (rc != IDM_OK)
        return rc;
    struct idm_store *s;
    if ((rc = idm_ctx_store(ctx, &s)) != IDM_OK)
        return idm_error_prefix(__func__, rc);
    idm_csv_reader *reader = NULL;
    if ((rc = idm_csv_reader_open_file(&reader, path)) != IDM_OK)
        return idm_error_prefix(__func__, rc);
    rc = import_csv(ctx, __func__, actor, reader, path, id_column, initial_state, imported);
    idm_csv_reader_free(&reader);
    return rc;
}

IDM_EXPORT int idm_identity_import_csv_data(idm_ctx_t *ctx, const char *actor, const char *data,
                                            size_t len, const char *id_column,
                                            idm_identity_state initial_state, size_t *imported)
{
    IDM_CHECK_CTX(ctx);
    if (imported != NULL)
        *imported = 0;
    if (data == NULL && len > 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'data' is NULL");
    int rc = check_import_args(__func__, actor, id_column, initial_state);
    if (rc != IDM_OK)
        return rc;
    idm_csv_reader *reader = NULL;
    if ((rc = idm_csv_reader_open_memory(&reader, data != NULL ? data : "", len)) != IDM_OK)
        return idm_error_prefix(__func__, rc);
    rc = import_csv(ctx, __func__, actor, reader, "<memory>", id_column, initial_state, imported);
    idm_csv_reader_free(&reader);
    return rc;
}
