/*
 * The store on SQLite.  WAL with synchronous=FULL so that a committed
 * transaction survives a crash, foreign keys on, and a busy timeout so that
 * two processes writing the same file wait for each other instead of
 * failing.  Write transactions are BEGIN IMMEDIATE: the write lock is taken
 * up front, so a transaction never fails half-way with SQLITE_BUSY.
 */
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/ca.h>

#include "core/error_impl.h"
#include "store/sqlite_schema.h"
#include "store/store.h"

/* How long a writer waits for another one before giving up. */
#define BUSY_TIMEOUT_MS 60000

/* Statements are prepared once and kept; the SQL text pointer is the key. */
#define STMT_CACHE_SIZE 96

struct cached_stmt {
    const char *sql;
    sqlite3_stmt *stmt;
};

struct sqlite_store {
    struct idm_store base;
    sqlite3 *db;
    struct cached_stmt cache[STMT_CACHE_SIZE];
    size_t ncached;
    int depth; /* open transactions: 1 the outer one, more are savepoints */
};

static struct sqlite_store *impl(struct idm_store *s)
{
    return (struct sqlite_store *)s;
}

/* Maps an SQLite failure to an idm error with SQLite's own words. */
static int db_fail(struct sqlite_store *st, int rc, const char *what)
{
    const char *msg = st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return idm_error_set(NULL, IDM_ERR_EXISTS, "%s: %s", what, msg);
    case SQLITE_NOMEM:
        return idm_error_set(NULL, IDM_ERR_NO_MEMORY, "%s: %s", what, msg);
    default:
        return idm_error_set(NULL, IDM_ERR_STORE, "%s: SQLite error %d: %s", what, rc, msg);
    }
}

/* A prepared statement for sql, reset and with no bindings, or NULL. */
static sqlite3_stmt *stmt(struct sqlite_store *st, const char *sql, int *rc)
{
    for (size_t i = 0; i < st->ncached; i++) {
        if (st->cache[i].sql == sql) {
            sqlite3_reset(st->cache[i].stmt);
            sqlite3_clear_bindings(st->cache[i].stmt);
            *rc = SQLITE_OK;
            return st->cache[i].stmt;
        }
    }
    sqlite3_stmt *s = NULL;
    *rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (*rc != SQLITE_OK)
        return NULL;
    if (st->ncached < STMT_CACHE_SIZE) {
        st->cache[st->ncached].sql = sql;
        st->cache[st->ncached].stmt = s;
        st->ncached++;
    }
    return s;
}

/* Statements that did not fit the cache are finalized after use. */
static void release(struct sqlite_store *st, sqlite3_stmt *s)
{
    for (size_t i = 0; i < st->ncached; i++) {
        if (st->cache[i].stmt == s) {
            sqlite3_reset(s);
            return;
        }
    }
    sqlite3_finalize(s);
}

#define PREPARE(st, var, sql, what)                 \
    int var##_rc_;                                  \
    sqlite3_stmt *var = stmt((st), (sql), &var##_rc_); \
    if (var == NULL)                                \
        return db_fail((st), var##_rc_, (what))

static void bind_text_or_null(sqlite3_stmt *s, int idx, const char *text)
{
    if (text != NULL)
        sqlite3_bind_text(s, idx, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, idx);
}

static void bind_id_or_null(sqlite3_stmt *s, int idx, int64_t id)
{
    if (id > 0)
        sqlite3_bind_int64(s, idx, id);
    else
        sqlite3_bind_null(s, idx);
}

/* A copy of a text column; NULL stays NULL.  *ok = 0 when out of memory. */
static char *column_text(sqlite3_stmt *s, int col, int *ok)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (t == NULL)
        return NULL;
    char *copy = strdup((const char *)t);
    if (copy == NULL)
        *ok = 0;
    return copy;
}

/*
 * A row the library did not write (a hand edit, a disk fault, another
 * version) may break the rules it writes rows by: NULL in a NOT NULL
 * column, a number outside its enum, a text with a NUL inside (which a C
 * string would silently cut).  The loaders check what they copy and refuse
 * such a row with IDM_ERR_STORE, naming it, rather than hand the model a
 * record that breaks the promises of the public getters.
 */
struct row_check {
    int ok;        /* 0 when out of memory */
    char why[160]; /* the first value that breaks a rule; "" for none */
};

#define ROW_CHECK_INIT {1, ""}

/* Records that column col, of SQLite type type (as it was before any
 * conversion), breaks a rule. */
static void row_broken(struct row_check *row, sqlite3_stmt *s, int col, int type,
                       const char *expected)
{
    if (row->why[0] != '\0')
        return;
    char value[48];
    switch (type) {
    case SQLITE_NULL: snprintf(value, sizeof value, "NULL"); break;
    case SQLITE_INTEGER:
        snprintf(value, sizeof value, "%lld", (long long)sqlite3_column_int64(s, col));
        break;
    case SQLITE_FLOAT: snprintf(value, sizeof value, "%g", sqlite3_column_double(s, col)); break;
    case SQLITE_TEXT: snprintf(value, sizeof value, "a text"); break;
    default: snprintf(value, sizeof value, "a blob"); break;
    }
    snprintf(row->why, sizeof row->why, "column '%s' holds %s; expected %s",
             sqlite3_column_name(s, col), value, expected);
}

/* A copy of a text column that may be NULL. */
static char *column_text_checked(sqlite3_stmt *s, int col, struct row_check *row)
{
    int type = sqlite3_column_type(s, col);
    const unsigned char *t = sqlite3_column_text(s, col);
    if (t == NULL)
        return NULL;
    if (strlen((const char *)t) != (size_t)sqlite3_column_bytes(s, col)) {
        row_broken(row, s, col, type, "a text without NUL bytes");
        return NULL;
    }
    char *copy = strdup((const char *)t);
    if (copy == NULL)
        row->ok = 0;
    return copy;
}

/* A copy of a NOT NULL text column. */
static char *column_text_required(sqlite3_stmt *s, int col, struct row_check *row)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL) {
        row_broken(row, s, col, SQLITE_NULL, "a text");
        return NULL;
    }
    return column_text_checked(s, col, row);
}

/* An enum column: an integer from 0 to max. */
static int column_enum(sqlite3_stmt *s, int col, int max, struct row_check *row)
{
    int type = sqlite3_column_type(s, col);
    sqlite3_int64 v = sqlite3_column_int64(s, col);
    if (type != SQLITE_INTEGER || v < 0 || v > max) {
        char expected[32];
        snprintf(expected, sizeof expected, "0 to %d", max);
        row_broken(row, s, col, type, expected);
        return 0;
    }
    return (int)v;
}

/* A reference to another row: NULL (none, as 0) or an id. */
static int64_t column_ref(sqlite3_stmt *s, int col, struct row_check *row)
{
    int type = sqlite3_column_type(s, col);
    sqlite3_int64 v = sqlite3_column_int64(s, col);
    if (type == SQLITE_NULL)
        return 0;
    if (type != SQLITE_INTEGER || v < 0) {
        row_broken(row, s, col, type, "NULL or an id");
        return 0;
    }
    return v;
}

/* IDM_OK, or the error for a row of what (e.g. "card") that broke a rule. */
static int row_result(const struct row_check *row, const char *what, int64_t id)
{
    if (!row->ok)
        return idm_error_set(NULL, IDM_ERR_NO_MEMORY, "cannot load %s %lld", what,
                             (long long)id);
    if (row->why[0] != '\0')
        return idm_error_set(NULL, IDM_ERR_STORE, "%s %lld is damaged in the store: %s", what,
                             (long long)id, row->why);
    return IDM_OK;
}

/*
 * Listings go on from the last key they returned and trust SQLite's order.
 * A damaged file can make SQLite hand keys out of order, and going on from
 * a smaller key would list the same rows forever: such a key is refused.
 */
static int key_in_order(int64_t key, int64_t previous, const char *what)
{
    if (key > previous)
        return IDM_OK;
    return idm_error_set(NULL, IDM_ERR_STORE, "%s: the store is damaged: key %lld comes after "
                         "%lld", what, (long long)key, (long long)previous);
}

/* Runs a statement that returns no rows. */
static int exec_done(struct sqlite_store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    int result = rc == SQLITE_DONE ? IDM_OK : db_fail(st, rc, what);
    release(st, s);
    return result;
}

/* Runs an UPDATE that must touch exactly one row. */
static int exec_update_one(struct sqlite_store *st, sqlite3_stmt *s, const char *what,
                           int64_t id)
{
    int rc = exec_done(st, s, what);
    if (rc == IDM_OK && sqlite3_changes(st->db) != 1)
        return idm_error_set(NULL, IDM_ERR_NOT_FOUND, "%s: no row with id %lld", what,
                             (long long)id);
    return rc;
}

/* Runs a query for one integer id; IDM_ERR_NOT_FOUND without a row. */
static int query_id(struct sqlite_store *st, sqlite3_stmt *s, const char *what, const char *key,
                    int64_t *id)
{
    int rc = sqlite3_step(s);
    int result;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        result = IDM_OK;
    } else if (rc == SQLITE_DONE) {
        result = idm_error_set(NULL, IDM_ERR_NOT_FOUND, "%s: '%s' not found", what, key);
    } else {
        result = db_fail(st, rc, what);
    }
    release(st, s);
    return result;
}

static int exec_sql(struct sqlite_store *st, const char *sql, const char *what)
{
    char *err = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &err);
    if (rc == SQLITE_OK)
        return IDM_OK;
    int result = idm_error_set(NULL, rc == SQLITE_NOMEM ? IDM_ERR_NO_MEMORY : IDM_ERR_STORE,
                               "%s: SQLite error %d: %s", what, rc,
                               err != NULL ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return result;
}

/* ---- transactions ---------------------------------------------------- */

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

/* Transactions nest: the outer one is BEGIN IMMEDIATE, an inner one a
 * savepoint, so that a workflow can group steps that commit on their own
 * (a card's certificates, its state and its outcome) into one commit.  An
 * inner commit only releases its savepoint; the outer commit makes it
 * durable.  An inner rollback undoes the inner part only. */
static int store_begin(struct idm_store *s)
{
    struct sqlite_store *st = impl(s);
    if (st->depth > 0 && sqlite3_get_autocommit(st->db))
        return idm_error_set(NULL, IDM_ERR_STORE, "the enclosing transaction was rolled "
                             "back by SQLite; nothing of it was kept");
    int rc;
    if (st->depth > 0) {
        char sql[48];
        snprintf(sql, sizeof sql, "SAVEPOINT idm_%d", st->depth);
        rc = exec_sql(st, sql, "cannot begin a nested transaction");
    } else {
        PREPARE(st, q, SQL_BEGIN, "cannot begin a transaction");
        rc = exec_done(st, q, "cannot begin a transaction");
    }
    if (rc == IDM_OK)
        st->depth++;
    return rc;
}

static int store_commit(struct idm_store *s)
{
    struct sqlite_store *st = impl(s);
    if (st->depth > 1) {
        st->depth--;
        if (sqlite3_get_autocommit(st->db))
            return idm_error_set(NULL, IDM_ERR_STORE, "the enclosing transaction was rolled "
                                 "back by SQLite; nothing of it was kept");
        char sql[48];
        snprintf(sql, sizeof sql, "RELEASE idm_%d", st->depth);
        return exec_sql(st, sql, "cannot commit a nested transaction");
    }
    st->depth = 0;
    PREPARE(st, q, SQL_COMMIT, "cannot commit");
    int rc = exec_done(st, q, "cannot commit");
    /* A failed COMMIT may leave the transaction open; never leave it so. */
    if (rc != IDM_OK && !sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, SQL_ROLLBACK, NULL, NULL, NULL);
    return rc;
}

static void store_rollback(struct idm_store *s)
{
    struct sqlite_store *st = impl(s);
    if (st->depth > 1) {
        st->depth--;
        char sql[96];
        snprintf(sql, sizeof sql, "ROLLBACK TO idm_%d; RELEASE idm_%d", st->depth, st->depth);
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, sql, NULL, NULL, NULL);
        return;
    }
    st->depth = 0;
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, SQL_ROLLBACK, NULL, NULL, NULL);
}

/* ---- identities ------------------------------------------------------ */

static const char SQL_IDENTITY_INSERT[] =
    "INSERT INTO identities (external_id, state, common_name, upn, created_ms, updated_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_ATTR_UPSERT[] =
    "INSERT INTO identity_attributes (identity_id, key, value) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (identity_id, key) DO UPDATE SET value = excluded.value";
static const char SQL_ATTR_DELETE[] =
    "DELETE FROM identity_attributes WHERE identity_id = ?1 AND key = ?2";
static const char SQL_IDENTITY_LOAD[] =
    "SELECT external_id, state, common_name, upn, created_ms, updated_ms"
    " FROM identities WHERE id = ?1";
static const char SQL_ATTR_LOAD[] =
    "SELECT key, value FROM identity_attributes WHERE identity_id = ?1 ORDER BY key";
static const char SQL_ATTR_COUNT[] =
    "SELECT count(*) FROM identity_attributes WHERE identity_id = ?1";
static const char SQL_IDENTITY_FIND[] = "SELECT id FROM identities WHERE external_id = ?1";
static const char SQL_IDENTITY_UPDATE[] =
    "UPDATE identities SET state = ?2, common_name = ?3, upn = ?4, updated_ms = ?5"
    " WHERE id = ?1";

static int store_identity_set_attr(struct idm_store *s, int64_t id, const char *key,
                                   const char *value)
{
    struct sqlite_store *st = impl(s);
    if (value == NULL) {
        PREPARE(st, q, SQL_ATTR_DELETE, "cannot remove an attribute");
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
        return exec_done(st, q, "cannot remove an attribute");
    }
    PREPARE(st, q, SQL_ATTR_UPSERT, "cannot store an attribute");
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, value, -1, SQLITE_STATIC);
    return exec_done(st, q, "cannot store an attribute");
}

static int store_identity_insert(struct idm_store *s, struct idm_identity_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_IDENTITY_INSERT, "cannot store an identity");
    bind_text_or_null(q, 1, rec->external_id);
    sqlite3_bind_int(q, 2, (int)rec->state);
    bind_text_or_null(q, 3, rec->common_name);
    bind_text_or_null(q, 4, rec->upn);
    sqlite3_bind_int64(q, 5, rec->created_ms);
    sqlite3_bind_int64(q, 6, rec->updated_ms);
    int rc = exec_done(st, q, "cannot store an identity");
    if (rc != IDM_OK)
        return rc;
    rec->id = sqlite3_last_insert_rowid(st->db);
    for (size_t i = 0; i < rec->nattrs; i++) {
        rc = store_identity_set_attr(s, rec->id, rec->attrs[i].key, rec->attrs[i].value);
        if (rc != IDM_OK)
            return rc;
    }
    return IDM_OK;
}

static int load_attributes(struct sqlite_store *st, int64_t id, struct idm_identity_rec *rec)
{
    PREPARE(st, c, SQL_ATTR_COUNT, "cannot count attributes");
    sqlite3_bind_int64(c, 1, id);
    int rc = sqlite3_step(c);
    if (rc != SQLITE_ROW) {
        int result = db_fail(st, rc, "cannot count attributes");
        release(st, c);
        return result;
    }
    size_t count = (size_t)sqlite3_column_int64(c, 0);
    release(st, c);
    if (count == 0)
        return IDM_OK;

    rec->attrs = calloc(count, sizeof *rec->attrs);
    if (rec->attrs == NULL)
        return idm_error_set(NULL, IDM_ERR_NO_MEMORY, "cannot load %zu attributes", count);
    PREPARE(st, q, SQL_ATTR_LOAD, "cannot load attributes");
    sqlite3_bind_int64(q, 1, id);
    struct row_check row = ROW_CHECK_INIT;
    while (row.ok && row.why[0] == '\0' && rec->nattrs < count &&
           (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct idm_attr *a = &rec->attrs[rec->nattrs++];
        /* SQLite sorts a blob after every text: the keys are in the order
         * of their text (the records' promise) only when all are texts. */
        int key_type = sqlite3_column_type(q, 0);
        if (key_type != SQLITE_TEXT)
            row_broken(&row, q, 0, key_type, "a text");
        a->key = column_text_required(q, 0, &row);
        a->value = column_text_required(q, 1, &row);
    }
    int result = row_result(&row, "identity", id);
    if (result == IDM_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        result = db_fail(st, rc, "cannot load attributes");
    release(st, q);
    return result;
}

static int store_identity_load(struct idm_store *s, int64_t id, struct idm_identity_rec *rec)
{
    struct sqlite_store *st = impl(s);
    memset(rec, 0, sizeof *rec);
    PREPARE(st, q, SQL_IDENTITY_LOAD, "cannot load an identity");
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        int result = rc == SQLITE_DONE
                         ? idm_error_set(NULL, IDM_ERR_NOT_FOUND, "identity %lld does not exist",
                                         (long long)id)
                         : db_fail(st, rc, "cannot load an identity");
        release(st, q);
        return result;
    }
    struct row_check row = ROW_CHECK_INIT;
    rec->id = id;
    rec->external_id = column_text_checked(q, 0, &row);
    rec->state = (idm_identity_state)column_enum(q, 1, IDM_IDENTITY_TERMINATED, &row);
    rec->common_name = column_text_checked(q, 2, &row);
    rec->upn = column_text_checked(q, 3, &row);
    rec->created_ms = sqlite3_column_int64(q, 4);
    rec->updated_ms = sqlite3_column_int64(q, 5);
    release(st, q);
    int result = row_result(&row, "identity", id);
    if (result == IDM_OK)
        result = load_attributes(st, id, rec);
    if (result != IDM_OK)
        idm_identity_rec_clear(rec);
    return result;
}

static int store_identity_find(struct idm_store *s, const char *external_id, int64_t *id)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_IDENTITY_FIND, "cannot look up an identity");
    sqlite3_bind_text(q, 1, external_id, -1, SQLITE_STATIC);
    return query_id(st, q, "identity with external id", external_id, id);
}

static int store_identity_update(struct idm_store *s, const struct idm_identity_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_IDENTITY_UPDATE, "cannot update an identity");
    sqlite3_bind_int64(q, 1, rec->id);
    sqlite3_bind_int(q, 2, (int)rec->state);
    bind_text_or_null(q, 3, rec->common_name);
    bind_text_or_null(q, 4, rec->upn);
    sqlite3_bind_int64(q, 5, rec->updated_ms);
    return exec_update_one(st, q, "cannot update an identity", rec->id);
}

/* ---- cards ----------------------------------------------------------- */

static const char SQL_CARD_INSERT[] =
    "INSERT INTO cards (number, type, option, production, state, identity_id, name,"
    " chip_serial, order_id, created_ms, updated_ms, requested_by, shipment)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
static const char SQL_CARD_LOAD[] =
    "SELECT number, type, option, production, state, identity_id, name, chip_serial,"
    " order_id, created_ms, updated_ms, requested_by, shipment FROM cards WHERE id = ?1";
static const char SQL_CARD_FIND[] = "SELECT id FROM cards WHERE number = ?1";
static const char SQL_CARD_UPDATE[] =
    "UPDATE cards SET state = ?2, chip_serial = ?3, order_id = ?4, updated_ms = ?5,"
    " identity_id = ?6, requested_by = ?7, shipment = ?8 WHERE id = ?1";
static const char SQL_COUNTER_NEXT[] =
    "UPDATE meta SET value = value + 1 WHERE key = ?1 RETURNING value";

static int store_card_insert(struct idm_store *s, struct idm_card_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_CARD_INSERT, "cannot store a card");
    sqlite3_bind_text(q, 1, rec->number, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, (int)rec->type);
    sqlite3_bind_int(q, 3, (int)rec->option);
    sqlite3_bind_int(q, 4, (int)rec->production);
    sqlite3_bind_int(q, 5, (int)rec->state);
    bind_id_or_null(q, 6, rec->identity_id);
    bind_text_or_null(q, 7, rec->name);
    bind_text_or_null(q, 8, rec->chip_serial);
    bind_id_or_null(q, 9, rec->order_id);
    sqlite3_bind_int64(q, 10, rec->created_ms);
    sqlite3_bind_int64(q, 11, rec->updated_ms);
    bind_text_or_null(q, 12, rec->requested_by);
    bind_text_or_null(q, 13, rec->shipment);
    int rc = exec_done(st, q, "cannot store a card");
    if (rc == IDM_OK)
        rec->id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int store_card_load(struct idm_store *s, int64_t id, struct idm_card_rec *rec)
{
    struct sqlite_store *st = impl(s);
    memset(rec, 0, sizeof *rec);
    PREPARE(st, q, SQL_CARD_LOAD, "cannot load a card");
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        int result = rc == SQLITE_DONE ? idm_error_set(NULL, IDM_ERR_NOT_FOUND,
                                                       "card %lld does not exist", (long long)id)
                                       : db_fail(st, rc, "cannot load a card");
        release(st, q);
        return result;
    }
    struct row_check row = ROW_CHECK_INIT;
    rec->id = id;
    rec->number = column_text_required(q, 0, &row);
    rec->type = (idm_card_type)column_enum(q, 1, IDM_CARD_TEMPORARY, &row);
    rec->option = (idm_card_option)column_enum(q, 2, IDM_CARD_DIGITAL, &row);
    rec->production = (idm_production)column_enum(q, 3, IDM_PRODUCTION_EXTERNAL, &row);
    rec->state = (idm_card_state)column_enum(q, 4, IDM_CARD_ASSIGNED, &row);
    rec->identity_id = column_ref(q, 5, &row);
    rec->name = column_text_checked(q, 6, &row);
    rec->chip_serial = column_text_checked(q, 7, &row);
    rec->order_id = column_ref(q, 8, &row);
    rec->created_ms = sqlite3_column_int64(q, 9);
    rec->updated_ms = sqlite3_column_int64(q, 10);
    rec->requested_by = column_text_checked(q, 11, &row);
    rec->shipment = column_text_checked(q, 12, &row);
    release(st, q);
    int result = row_result(&row, "card", id);
    if (result != IDM_OK)
        idm_card_rec_clear(rec);
    return result;
}

static int store_card_find(struct idm_store *s, const char *number, int64_t *id)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_CARD_FIND, "cannot look up a card");
    sqlite3_bind_text(q, 1, number, -1, SQLITE_STATIC);
    return query_id(st, q, "card number", number, id);
}

static int store_card_update(struct idm_store *s, const struct idm_card_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_CARD_UPDATE, "cannot update a card");
    sqlite3_bind_int64(q, 1, rec->id);
    sqlite3_bind_int(q, 2, (int)rec->state);
    bind_text_or_null(q, 3, rec->chip_serial);
    bind_id_or_null(q, 4, rec->order_id);
    sqlite3_bind_int64(q, 5, rec->updated_ms);
    bind_id_or_null(q, 6, rec->identity_id);
    bind_text_or_null(q, 7, rec->requested_by);
    bind_text_or_null(q, 8, rec->shipment);
    return exec_update_one(st, q, "cannot update a card", rec->id);
}

static int store_counter_next(struct idm_store *s, const char *name, int64_t *value)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_COUNTER_NEXT, "cannot advance a counter");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    return query_id(st, q, "counter", name, value);
}

/* ---- certificates ---------------------------------------------------- */

static const char SQL_CERT_INSERT[] =
    "INSERT INTO certificates (card_id, serial, der, not_before_ms, not_after_ms, state,"
    " created_ms, usage, issuer_key_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_CERT_LOAD[] =
    "SELECT card_id, serial, der, not_before_ms, not_after_ms, state, created_ms, usage,"
    " issuer_key_id, revocation_reason, revoked_ms FROM certificates WHERE id = ?1";
static const char SQL_CERT_FIND[] = "SELECT id FROM certificates WHERE serial = ?1";
static const char SQL_CERT_UPDATE[] =
    "UPDATE certificates SET state = ?2, revocation_reason = ?3, revoked_ms = ?4 WHERE id = ?1";

static int store_cert_insert(struct idm_store *s, struct idm_cert_rec *rec)
{
    struct sqlite_store *st = impl(s);
    if (rec->der_len > INT_MAX)
        return idm_error_set(NULL, IDM_ERR_INVALID_ARG, "certificate of %zu bytes is too large",
                             rec->der_len);
    PREPARE(st, q, SQL_CERT_INSERT, "cannot store a certificate");
    sqlite3_bind_int64(q, 1, rec->card_id);
    sqlite3_bind_text(q, 2, rec->serial, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 3, rec->der, (int)rec->der_len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, rec->not_before_ms);
    sqlite3_bind_int64(q, 5, rec->not_after_ms);
    sqlite3_bind_int(q, 6, (int)rec->state);
    sqlite3_bind_int64(q, 7, rec->created_ms);
    sqlite3_bind_int(q, 8, rec->usage);
    bind_text_or_null(q, 9, rec->issuer_key_id);
    int rc = exec_done(st, q, "cannot store a certificate");
    if (rc == IDM_OK)
        rec->id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

/* A serial as the library records it: upper-case hex of whole bytes. */
static int serial_hex(const char *serial)
{
    size_t len = strlen(serial);
    if (len == 0 || len % 2 != 0)
        return 0;
    return strspn(serial, "0123456789ABCDEF") == len;
}

static int store_cert_load(struct idm_store *s, int64_t id, struct idm_cert_rec *rec)
{
    struct sqlite_store *st = impl(s);
    memset(rec, 0, sizeof *rec);
    PREPARE(st, q, SQL_CERT_LOAD, "cannot load a certificate");
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        int result = rc == SQLITE_DONE
                         ? idm_error_set(NULL, IDM_ERR_NOT_FOUND, "certificate %lld does not exist",
                                         (long long)id)
                         : db_fail(st, rc, "cannot load a certificate");
        release(st, q);
        return result;
    }
    struct row_check row = ROW_CHECK_INIT;
    rec->id = id;
    rec->card_id = sqlite3_column_int64(q, 0);
    int serial_type = sqlite3_column_type(q, 1);
    rec->serial = column_text_required(q, 1, &row);
    if (rec->serial != NULL && !serial_hex(rec->serial))
        row_broken(&row, q, 1, serial_type, "upper-case hex of whole bytes");
    if (sqlite3_column_type(q, 2) == SQLITE_NULL)
        row_broken(&row, q, 2, SQLITE_NULL, "the DER certificate");
    const void *der = sqlite3_column_blob(q, 2);
    rec->der_len = (size_t)sqlite3_column_bytes(q, 2);
    rec->der = malloc(rec->der_len > 0 ? rec->der_len : 1);
    if (rec->der == NULL)
        row.ok = 0;
    else if (rec->der_len > 0)
        memcpy(rec->der, der, rec->der_len);
    rec->not_before_ms = sqlite3_column_int64(q, 3);
    rec->not_after_ms = sqlite3_column_int64(q, 4);
    rec->state = (idm_cert_state)column_enum(q, 5, IDM_CERT_EXPIRED, &row);
    rec->created_ms = sqlite3_column_int64(q, 6);
    rec->usage = column_enum(q, 7, IDM_USAGE_CARD_AUTHENTICATION, &row);
    rec->issuer_key_id = column_text_checked(q, 8, &row);
    rec->revocation_reason = -1;
    if (sqlite3_column_type(q, 9) != SQLITE_NULL) {
        rec->revocation_reason = column_enum(q, 9, IDM_REVOKE_PRIVILEGE_WITHDRAWN, &row);
        if (rec->revocation_reason > IDM_REVOKE_CERTIFICATE_HOLD &&
            rec->revocation_reason != IDM_REVOKE_PRIVILEGE_WITHDRAWN)
            row_broken(&row, q, 9, SQLITE_INTEGER, "NULL or an idm_revocation_reason");
    }
    rec->revoked_ms = sqlite3_column_int64(q, 10);
    release(st, q);
    int result = row_result(&row, "certificate", id);
    if (result != IDM_OK)
        idm_cert_rec_clear(rec);
    return result;
}

static int store_cert_find(struct idm_store *s, const char *serial, int64_t *id)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_CERT_FIND, "cannot look up a certificate");
    sqlite3_bind_text(q, 1, serial, -1, SQLITE_STATIC);
    return query_id(st, q, "certificate serial", serial, id);
}

static int store_cert_update(struct idm_store *s, const struct idm_cert_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_CERT_UPDATE, "cannot update a certificate");
    sqlite3_bind_int64(q, 1, rec->id);
    sqlite3_bind_int(q, 2, (int)rec->state);
    if (rec->revocation_reason >= 0) {
        sqlite3_bind_int(q, 3, rec->revocation_reason);
        sqlite3_bind_int64(q, 4, rec->revoked_ms);
    }
    return exec_update_one(st, q, "cannot update a certificate", rec->id);
}

/* ---- the issue journal ----------------------------------------------- */

static const char SQL_ISSUANCE_FIND[] =
    "SELECT card_id, certificate_id FROM issuances WHERE idempotency_key = ?1";
static const char SQL_ISSUANCE_INSERT[] =
    "INSERT INTO issuances (idempotency_key, card_id, usage, created_ms, updated_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?4)";
static const char SQL_ISSUANCE_COMPLETE[] =
    "UPDATE issuances SET certificate_id = ?2, updated_ms = ?3 WHERE idempotency_key = ?1";

static int store_issuance_find(struct idm_store *s, const char *key, int64_t *card_id,
                               int64_t *cert_id)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_ISSUANCE_FIND, "cannot read the issue journal");
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    int result = IDM_OK;
    if (rc == SQLITE_ROW) {
        *card_id = sqlite3_column_int64(q, 0);
        *cert_id = sqlite3_column_int64(q, 1);
    } else if (rc == SQLITE_DONE) {
        result = idm_error_set(NULL, IDM_ERR_NOT_FOUND, "no issue with key '%s'", key);
    } else {
        result = db_fail(st, rc, "cannot read the issue journal");
    }
    release(st, q);
    return result;
}

static int store_issuance_insert(struct idm_store *s, const char *key, int64_t card_id,
                                 int usage, int64_t time_ms)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_ISSUANCE_INSERT, "cannot write the issue journal");
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, card_id);
    sqlite3_bind_int(q, 3, usage);
    sqlite3_bind_int64(q, 4, time_ms);
    return exec_done(st, q, "cannot write the issue journal");
}

static int store_issuance_complete(struct idm_store *s, const char *key, int64_t cert_id,
                                   int64_t time_ms)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_ISSUANCE_COMPLETE, "cannot complete an issue");
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, cert_id);
    sqlite3_bind_int64(q, 3, time_ms);
    int rc = exec_done(st, q, "cannot complete an issue");
    if (rc == IDM_OK && sqlite3_changes(st->db) != 1)
        return idm_error_set(NULL, IDM_ERR_NOT_FOUND, "no pending issue with key '%s'", key);
    return rc;
}

/* ---- orders ---------------------------------------------------------- */

static const char SQL_ORDER_INSERT[] =
    "INSERT INTO orders (external_id, kind, card_type, card_option, state, options_version,"
    " options_snapshot, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_ORDER_LOAD[] =
    "SELECT external_id, kind, card_type, card_option, state, options_version,"
    " options_snapshot, created_ms, updated_ms FROM orders WHERE id = ?1";
static const char SQL_ORDER_FIND[] = "SELECT id FROM orders WHERE external_id = ?1";
static const char SQL_ORDER_UPDATE[] =
    "UPDATE orders SET state = ?2, updated_ms = ?3 WHERE id = ?1";

static int store_order_insert(struct idm_store *s, struct idm_order_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_ORDER_INSERT, "cannot store an order");
    bind_text_or_null(q, 1, rec->external_id);
    sqlite3_bind_int(q, 2, (int)rec->kind);
    sqlite3_bind_int(q, 3, (int)rec->card_type);
    sqlite3_bind_int(q, 4, (int)rec->card_option);
    sqlite3_bind_int(q, 5, (int)rec->state);
    sqlite3_bind_int64(q, 6, rec->options_version);
    sqlite3_bind_text(q, 7, rec->options_snapshot, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, rec->created_ms);
    sqlite3_bind_int64(q, 9, rec->updated_ms);
    int rc = exec_done(st, q, "cannot store an order");
    if (rc == IDM_OK)
        rec->id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int store_order_load(struct idm_store *s, int64_t id, struct idm_order_rec *rec)
{
    struct sqlite_store *st = impl(s);
    memset(rec, 0, sizeof *rec);
    PREPARE(st, q, SQL_ORDER_LOAD, "cannot load an order");
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        int result = rc == SQLITE_DONE ? idm_error_set(NULL, IDM_ERR_NOT_FOUND,
                                                       "order %lld does not exist", (long long)id)
                                       : db_fail(st, rc, "cannot load an order");
        release(st, q);
        return result;
    }
    struct row_check row = ROW_CHECK_INIT;
    rec->id = id;
    rec->external_id = column_text_checked(q, 0, &row);
    rec->kind = (idm_order_kind)column_enum(q, 1, IDM_ORDER_EXTERNAL, &row);
    rec->card_type = (idm_card_type)column_enum(q, 2, IDM_CARD_TEMPORARY, &row);
    rec->card_option = (idm_card_option)column_enum(q, 3, IDM_CARD_DIGITAL, &row);
    rec->state = (idm_order_state)column_enum(q, 4, IDM_ORDER_ABORTED, &row);
    rec->options_version = sqlite3_column_int64(q, 5);
    rec->options_snapshot = column_text_required(q, 6, &row);
    rec->created_ms = sqlite3_column_int64(q, 7);
    rec->updated_ms = sqlite3_column_int64(q, 8);
    release(st, q);
    int result = row_result(&row, "order", id);
    if (result != IDM_OK)
        idm_order_rec_clear(rec);
    return result;
}

static int store_order_find(struct idm_store *s, const char *external_id, int64_t *id)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_ORDER_FIND, "cannot look up an order");
    sqlite3_bind_text(q, 1, external_id, -1, SQLITE_STATIC);
    return query_id(st, q, "order with external id", external_id, id);
}

static int store_order_update(struct idm_store *s, const struct idm_order_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_ORDER_UPDATE, "cannot update an order");
    sqlite3_bind_int64(q, 1, rec->id);
    sqlite3_bind_int(q, 2, (int)rec->state);
    sqlite3_bind_int64(q, 3, rec->updated_ms);
    return exec_update_one(st, q, "cannot update an order", rec->id);
}

/* ---- the cards of an order -------------------------------------------- */

static const char SQL_ORDER_CARD_ADD[] =
    "INSERT INTO order_cards (order_id, card_id, position, updated_ms)"
    " SELECT ?1, ?2, coalesce(max(position), -1) + 1, ?3 FROM order_cards WHERE order_id = ?1";
static const char SQL_ORDER_CARD_EXISTS[] =
    "SELECT 1 FROM order_cards WHERE order_id = ?1 AND card_id = ?2";
/* A claim to take back first (this station's from before it opened, so that
 * it resumes where it stopped, or another's whose lease ran out), then the
 * first pending card by position: the order of the cards is the order of
 * the work.  Two statements, so that each walks its index instead of
 * sorting the whole order. */
static const char SQL_ORDER_CARD_RECLAIM[] =
    "SELECT card_id FROM order_cards WHERE order_id = ?1 AND outcome = 1"
    " AND ((station = ?2 AND claimed_ms < ?4) OR claimed_ms <= ?3)"
    " ORDER BY position LIMIT 1";
static const char SQL_ORDER_CARD_NEXT[] =
    "SELECT card_id FROM order_cards WHERE order_id = ?1 AND outcome = 0"
    " ORDER BY position LIMIT 1";
static const char SQL_ORDER_CARD_CLAIM[] =
    "UPDATE order_cards SET outcome = 1, station = ?3, claimed_ms = ?4, updated_ms = ?4,"
    " attempt = attempt + 1 WHERE order_id = ?1 AND card_id = ?2";
static const char SQL_ORDER_CARD_FINISH[] =
    "UPDATE order_cards SET outcome = ?3, reason = ?4, updated_ms = ?5"
    " WHERE order_id = ?1 AND card_id = ?2";
static const char SQL_ORDER_CARD_LOAD[] =
    "SELECT position, outcome, reason, attempt, station, claimed_ms, updated_ms"
    " FROM order_cards WHERE order_id = ?1 AND card_id = ?2";
static const char SQL_ORDER_CARD_NEXT_ATTEMPT[] =
    "UPDATE order_cards SET attempt = attempt + 1, updated_ms = ?3"
    " WHERE order_id = ?1 AND card_id = ?2 RETURNING attempt";
static const char SQL_ORDER_CARD_REQUEUE[] =
    "UPDATE order_cards SET outcome = 0, reason = NULL, updated_ms = ?2"
    " WHERE order_id = ?1 AND outcome = 3";
static const char SQL_CARD_LIST_ADDABLE[] =
    "SELECT id FROM cards WHERE id > ?1 AND state = 2 AND production = 0 AND type = ?2"
    " AND option = ?3 AND (order_id IS NULL OR order_id NOT IN"
    " (SELECT id FROM orders WHERE state IN (0, 1))) ORDER BY id LIMIT ?4";
static const char SQL_ORDER_CARD_COUNTS[] =
    "SELECT outcome, count(*) FROM order_cards WHERE order_id = ?1 GROUP BY outcome";

void idm_order_card_rec_clear(struct idm_order_card_rec *rec)
{
    free(rec->reason);
    free(rec->station);
    memset(rec, 0, sizeof *rec);
}

static int store_order_card_add(struct idm_store *s, int64_t order_id, int64_t card_id,
                                int64_t time_ms)
{
    struct sqlite_store *st = impl(s);
    {
        PREPARE(st, q, SQL_ORDER_CARD_EXISTS, "cannot read the cards of an order");
        sqlite3_bind_int64(q, 1, order_id);
        sqlite3_bind_int64(q, 2, card_id);
        int rc = sqlite3_step(q);
        release(st, q);
        if (rc == SQLITE_ROW)
            return idm_error_set(NULL, IDM_ERR_EXISTS, "card %lld is in order %lld already",
                                 (long long)card_id, (long long)order_id);
        if (rc != SQLITE_DONE)
            return db_fail(st, rc, "cannot read the cards of an order");
    }
    PREPARE(st, q, SQL_ORDER_CARD_ADD, "cannot add a card to an order");
    sqlite3_bind_int64(q, 1, order_id);
    sqlite3_bind_int64(q, 2, card_id);
    sqlite3_bind_int64(q, 3, time_ms);
    return exec_done(st, q, "cannot add a card to an order");
}

static int store_order_card_load(struct idm_store *s, int64_t order_id, int64_t card_id,
                                 struct idm_order_card_rec *out)
{
    struct sqlite_store *st = impl(s);
    memset(out, 0, sizeof *out);
    PREPARE(st, q, SQL_ORDER_CARD_LOAD, "cannot read the cards of an order");
    sqlite3_bind_int64(q, 1, order_id);
    sqlite3_bind_int64(q, 2, card_id);
    int rc = sqlite3_step(q);
    int result = IDM_OK;
    if (rc == SQLITE_ROW) {
        struct row_check row = ROW_CHECK_INIT;
        out->order_id = order_id;
        out->card_id = card_id;
        out->position = sqlite3_column_int64(q, 0);
        out->outcome = column_enum(q, 1, IDM_OUTCOME_FAILED, &row);
        out->attempt = column_enum(q, 3, INT_MAX, &row);
        out->claimed_ms = sqlite3_column_int64(q, 5);
        out->updated_ms = sqlite3_column_int64(q, 6);
        out->reason = column_text_checked(q, 2, &row);
        out->station = column_text_checked(q, 4, &row);
        if (!row.ok)
            result = idm_error_set(NULL, IDM_ERR_NO_MEMORY, "cannot copy an order card");
        else if (row.why[0] != '\0')
            result = idm_error_set(NULL, IDM_ERR_STORE, "card %lld of order %lld is damaged "
                                   "in the store: %s", (long long)card_id, (long long)order_id,
                                   row.why);
    } else if (rc == SQLITE_DONE) {
        result = idm_error_set(NULL, IDM_ERR_NOT_FOUND, "card %lld is not in order %lld",
                               (long long)card_id, (long long)order_id);
    } else {
        result = db_fail(st, rc, "cannot read the cards of an order");
    }
    release(st, q);
    if (result != IDM_OK)
        idm_order_card_rec_clear(out);
    return result;
}

static int store_order_card_claim(struct idm_store *s, int64_t order_id, const char *station,
                                  int64_t since_ms, int64_t now_ms, int64_t lease_ms,
                                  struct idm_order_card_rec *out)
{
    struct sqlite_store *st = impl(s);
    memset(out, 0, sizeof *out);
    int64_t card_id = 0;
    const char *const queries[] = {SQL_ORDER_CARD_RECLAIM, SQL_ORDER_CARD_NEXT};
    for (size_t i = 0; card_id == 0 && i < 2; i++) {
        PREPARE(st, q, queries[i], "cannot look for the next card of an order");
        sqlite3_bind_int64(q, 1, order_id);
        if (i == 0) {
            sqlite3_bind_text(q, 2, station, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 3, now_ms - lease_ms);
            sqlite3_bind_int64(q, 4, since_ms);
        }
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            card_id = sqlite3_column_int64(q, 0);
        release(st, q);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return db_fail(st, rc, "cannot look for the next card of an order");
    }
    if (card_id == 0)
        return idm_error_set(NULL, IDM_ERR_NOT_FOUND, "order %lld has no card left to claim",
                             (long long)order_id);
    PREPARE(st, q, SQL_ORDER_CARD_CLAIM, "cannot claim a card of an order");
    sqlite3_bind_int64(q, 1, order_id);
    sqlite3_bind_int64(q, 2, card_id);
    sqlite3_bind_text(q, 3, station, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, now_ms);
    int rc = exec_update_one(st, q, "cannot claim a card of an order", card_id);
    return rc == IDM_OK ? store_order_card_load(s, order_id, card_id, out) : rc;
}

static int store_order_card_finish(struct idm_store *s, int64_t order_id, int64_t card_id,
                                   int outcome, const char *reason, int64_t time_ms)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_ORDER_CARD_FINISH, "cannot record the outcome of a card");
    sqlite3_bind_int64(q, 1, order_id);
    sqlite3_bind_int64(q, 2, card_id);
    sqlite3_bind_int(q, 3, outcome);
    bind_text_or_null(q, 4, reason);
    sqlite3_bind_int64(q, 5, time_ms);
    return exec_update_one(st, q, "cannot record the outcome of a card", card_id);
}

static int store_order_card_counts(struct idm_store *s, int64_t order_id,
                                   struct idm_order_counts *out)
{
    struct sqlite_store *st = impl(s);
    memset(out, 0, sizeof *out);
    PREPARE(st, q, SQL_ORDER_CARD_COUNTS, "cannot count the cards of an order");
    sqlite3_bind_int64(q, 1, order_id);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int outcome = sqlite3_column_int(q, 0);
        if (outcome >= 0 && outcome < 5)
            out->by_outcome[outcome] = sqlite3_column_int64(q, 1);
    }
    release(st, q);
    return rc == SQLITE_DONE ? IDM_OK : db_fail(st, rc, "cannot count the cards of an order");
}

/* ---- options --------------------------------------------------------- */

static const char SQL_OPTIONS_LOAD[] = "SELECT key, value FROM options ORDER BY key";
static const char SQL_OPTIONS_VERSION[] = "SELECT value FROM meta WHERE key = 'options_version'";
static const char SQL_OPTION_UPSERT[] =
    "INSERT INTO options (key, value) VALUES (?1, ?2)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value";
static const char SQL_OPTION_DELETE[] = "DELETE FROM options WHERE key = ?1";
static const char SQL_OPTIONS_BUMP[] =
    "UPDATE meta SET value = value + 1 WHERE key = 'options_version' RETURNING value";

void idm_option_rows_free(struct idm_option_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].key);
        free(rows[i].value);
    }
    free(rows);
}

static int store_options_load(struct idm_store *s, struct idm_option_row **rows, size_t *n,
                              int64_t *version)
{
    struct sqlite_store *st = impl(s);
    *rows = NULL;
    *n = 0;
    PREPARE(st, v, SQL_OPTIONS_VERSION, "cannot read the option set version");
    int rc = query_id(st, v, "option set version", "options_version", version);
    if (rc != IDM_OK)
        return rc;

    PREPARE(st, q, SQL_OPTIONS_LOAD, "cannot load options");
    struct idm_option_row *list = NULL;
    size_t count = 0, cap = 0;
    struct row_check row = ROW_CHECK_INIT;
    int step = SQLITE_DONE;
    while (row.ok && row.why[0] == '\0' && (step = sqlite3_step(q)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            struct idm_option_row *grown = realloc(list, ncap * sizeof *grown);
            if (grown == NULL) {
                row.ok = 0;
                break;
            }
            list = grown;
            cap = ncap;
        }
        list[count].key = column_text_required(q, 0, &row);
        list[count].value = column_text_required(q, 1, &row);
        count++;
    }
    int result = IDM_OK;
    if (!row.ok)
        result = idm_error_set(NULL, IDM_ERR_NO_MEMORY, "cannot load options");
    else if (row.why[0] != '\0')
        result = idm_error_set(NULL, IDM_ERR_STORE, "option '%s' is damaged in the store: %s",
                               list[count - 1].key != NULL ? list[count - 1].key : "?",
                               row.why);
    else if (step != SQLITE_ROW && step != SQLITE_DONE)
        result = db_fail(st, step, "cannot load options");
    release(st, q);
    if (result != IDM_OK) {
        idm_option_rows_free(list, count);
        return result;
    }
    *rows = list;
    *n = count;
    return IDM_OK;
}

static int store_option_save(struct idm_store *s, const char *key, const char *value,
                             int64_t *new_version)
{
    struct sqlite_store *st = impl(s);
    int rc;
    if (value == NULL) {
        PREPARE(st, q, SQL_OPTION_DELETE, "cannot reset an option");
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        rc = exec_done(st, q, "cannot reset an option");
    } else {
        PREPARE(st, q, SQL_OPTION_UPSERT, "cannot store an option");
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
        rc = exec_done(st, q, "cannot store an option");
    }
    if (rc != IDM_OK)
        return rc;
    PREPARE(st, b, SQL_OPTIONS_BUMP, "cannot raise the option set version");
    return query_id(st, b, "option set version", "options_version", new_version);
}

/* ---- audit ----------------------------------------------------------- */

static const char SQL_AUDIT_LAST[] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO audit (seq, time_ms, actor, object_type, object_id, from_state, to_state,"
    " detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_AUDIT_READ[] =
    "SELECT seq, time_ms, actor, object_type, object_id, from_state, to_state, detail,"
    " prev_hash, hash FROM audit"
    " WHERE seq > ?1"
    "   AND (?2 IS NULL OR (object_type = ?2 AND object_id = ?3))"
    "   AND (?4 IS NULL OR time_ms BETWEEN ?4 AND ?5)"
    " ORDER BY seq LIMIT ?6";

static int store_audit_last(struct idm_store *s, int64_t *seq, unsigned char hash[IDM_HASH_SIZE])
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_AUDIT_LAST, "cannot read the audit trail");
    int rc = sqlite3_step(q);
    int result = IDM_OK;
    *seq = 0;
    memset(hash, 0, IDM_HASH_SIZE);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(q, 0);
        const void *h = sqlite3_column_blob(q, 1);
        if (h != NULL && sqlite3_column_bytes(q, 1) == IDM_HASH_SIZE)
            memcpy(hash, h, IDM_HASH_SIZE);
        else
            result = idm_error_set(NULL, IDM_ERR_INTEGRITY,
                                   "audit event %lld has a hash of %d bytes, not %d",
                                   (long long)*seq, sqlite3_column_bytes(q, 1), IDM_HASH_SIZE);
    } else if (rc != SQLITE_DONE) {
        result = db_fail(st, rc, "cannot read the audit trail");
    }
    release(st, q);
    return result;
}

static int store_audit_insert(struct idm_store *s, const struct idm_audit_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_AUDIT_INSERT, "cannot append to the audit trail");
    sqlite3_bind_int64(q, 1, rec->seq);
    sqlite3_bind_int64(q, 2, rec->time_ms);
    sqlite3_bind_text(q, 3, rec->actor, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 4, (int)rec->object_type);
    sqlite3_bind_int64(q, 5, rec->object_id);
    bind_text_or_null(q, 6, rec->from_state);
    bind_text_or_null(q, 7, rec->to_state);
    sqlite3_bind_text(q, 8, rec->detail != NULL ? rec->detail : "", -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 9, rec->prev_hash, IDM_HASH_SIZE, SQLITE_STATIC);
    sqlite3_bind_blob(q, 10, rec->hash, IDM_HASH_SIZE, SQLITE_STATIC);
    return exec_done(st, q, "cannot append to the audit trail");
}

/* Copies a hash column; a wrong size (a tampered row) is zero-filled and
 * flagged so that verification reports it rather than crashes. */
static void column_hash(sqlite3_stmt *q, int col, unsigned char out[IDM_HASH_SIZE], int *bad)
{
    const void *h = sqlite3_column_blob(q, col);
    memset(out, 0, IDM_HASH_SIZE);
    if (h != NULL && sqlite3_column_bytes(q, col) == IDM_HASH_SIZE)
        memcpy(out, h, IDM_HASH_SIZE);
    else
        *bad = 1;
}

static int store_audit_read(struct idm_store *s, const struct idm_audit_filter *f,
                            int64_t after_seq, size_t limit, struct idm_audit_rec *out, size_t *n)
{
    struct sqlite_store *st = impl(s);
    *n = 0;
    PREPARE(st, q, SQL_AUDIT_READ, "cannot read the audit trail");
    sqlite3_bind_int64(q, 1, after_seq);
    if (f != NULL && f->has_object) {
        sqlite3_bind_int(q, 2, (int)f->object_type);
        sqlite3_bind_int64(q, 3, f->object_id);
    }
    if (f != NULL && f->has_time) {
        sqlite3_bind_int64(q, 4, f->from_ms);
        sqlite3_bind_int64(q, 5, f->to_ms);
    }
    sqlite3_bind_int64(q, 6, (sqlite3_int64)limit);
    int rc;
    int ok = 1;
    int result = IDM_OK;
    while (result == IDM_OK && *n < limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct idm_audit_rec *r = &out[(*n)++];
        int64_t previous = *n > 1 ? out[*n - 2].seq : after_seq;
        memset(r, 0, sizeof *r);
        int bad_hash = 0;
        r->seq = sqlite3_column_int64(q, 0);
        r->time_ms = sqlite3_column_int64(q, 1);
        r->actor = column_text(q, 2, &ok);
        r->object_type = (idm_object_type)sqlite3_column_int(q, 3);
        r->object_id = sqlite3_column_int64(q, 4);
        r->from_state = column_text(q, 5, &ok);
        r->to_state = column_text(q, 6, &ok);
        r->detail = column_text(q, 7, &ok);
        column_hash(q, 8, r->prev_hash, &bad_hash);
        column_hash(q, 9, r->hash, &bad_hash);
        /* A NULL where the schema forbids one can only come from tampering;
         * keep the row readable and let verification find it. */
        if (ok && r->actor == NULL)
            ok = (r->actor = strdup("")) != NULL;
        if (ok && r->detail == NULL)
            ok = (r->detail = strdup("")) != NULL;
        if (bad_hash)
            r->hash[0] ^= 0xff; /* can never match a recomputed hash */
        if (!ok)
            break;
        result = key_in_order(r->seq, previous, "cannot read the audit trail");
    }
    if (!ok)
        result = idm_error_set(NULL, IDM_ERR_NO_MEMORY, "cannot read the audit trail");
    else if (result == IDM_OK && *n < limit && rc != SQLITE_DONE)
        result = db_fail(st, rc, "cannot read the audit trail");
    release(st, q);
    if (result != IDM_OK) {
        for (size_t i = 0; i < *n; i++)
            idm_audit_rec_clear(&out[i]);
        *n = 0;
    }
    return result;
}

static int store_order_card_next_attempt(struct idm_store *s, int64_t order_id, int64_t card_id,
                                         int64_t time_ms, int *attempt)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_ORDER_CARD_NEXT_ATTEMPT, "cannot count an attempt");
    sqlite3_bind_int64(q, 1, order_id);
    sqlite3_bind_int64(q, 2, card_id);
    sqlite3_bind_int64(q, 3, time_ms);
    int64_t value = 0;
    char key[64];
    snprintf(key, sizeof key, "card %lld in order %lld", (long long)card_id, (long long)order_id);
    int rc = query_id(st, q, "order card", key, &value);
    *attempt = (int)value;
    return rc;
}

static int store_order_card_requeue_skipped(struct idm_store *s, int64_t order_id,
                                            int64_t time_ms, int64_t *n)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_ORDER_CARD_REQUEUE, "cannot put skipped cards back");
    sqlite3_bind_int64(q, 1, order_id);
    sqlite3_bind_int64(q, 2, time_ms);
    int rc = exec_done(st, q, "cannot put skipped cards back");
    *n = rc == IDM_OK ? sqlite3_changes(st->db) : 0;
    return rc;
}

static int store_card_list_addable(struct idm_store *s, int type, int option, int64_t after_id,
                                   size_t limit, int64_t *ids, size_t *n)
{
    struct sqlite_store *st = impl(s);
    *n = 0;
    PREPARE(st, q, SQL_CARD_LIST_ADDABLE, "cannot list approved cards");
    sqlite3_bind_int64(q, 1, after_id);
    sqlite3_bind_int(q, 2, type);
    sqlite3_bind_int(q, 3, option);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)limit);
    int rc = SQLITE_DONE;
    int result = IDM_OK;
    while (result == IDM_OK && *n < limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        ids[*n] = sqlite3_column_int64(q, 0);
        result = key_in_order(ids[*n], *n > 0 ? ids[*n - 1] : after_id,
                              "cannot list approved cards");
        (*n)++;
    }
    if (result == IDM_OK && *n < limit && rc != SQLITE_DONE)
        result = db_fail(st, rc, "cannot list approved cards");
    release(st, q);
    if (result != IDM_OK)
        *n = 0;
    return result;
}

/* ---- listing --------------------------------------------------------- */

static const char SQL_LIST_IDENTITIES[] =
    "SELECT id FROM identities WHERE id > ?1 AND (?2 IS NULL OR state = ?2)"
    " ORDER BY id LIMIT ?3";
/* One statement per kind with every filter optional ("?N IS NULL OR"), and
 * for the filters a hot path uses (a card's certificates, a holder's cards,
 * an order's cards) one led by that column, so that its index is used: the
 * optional form would walk the whole table from after_id on.  All share the
 * parameter numbers, so they bind alike. */
#define CARD_COLUMN_FILTERS                                                        \
    " AND (?2 IS NULL OR c.state = ?2) AND (?4 IS NULL OR c.type = ?4)"            \
    " AND (?6 IS NULL OR c.identity_id = ?6)"
#define CARD_ORDER_FILTER                                                              \
    " AND (?5 IS NULL OR c.id IN (SELECT card_id FROM order_cards WHERE order_id = ?5" \
    " AND (?10 IS NULL OR outcome = ?10)))"
static const char SQL_LIST_CARDS[] =
    "SELECT c.id FROM cards c WHERE c.id > ?1" CARD_COLUMN_FILTERS CARD_ORDER_FILTER
    " ORDER BY c.id LIMIT ?3";
static const char SQL_LIST_CARDS_OF_IDENTITY[] =
    "SELECT c.id FROM cards c WHERE c.identity_id = ?6 AND c.id > ?1" CARD_COLUMN_FILTERS
    CARD_ORDER_FILTER " ORDER BY c.id LIMIT ?3";
static const char SQL_LIST_CARDS_OF_ORDER[] =
    "SELECT oc.card_id FROM order_cards oc JOIN cards c ON c.id = oc.card_id"
    " WHERE oc.order_id = ?5 AND oc.card_id > ?1 AND (?10 IS NULL OR oc.outcome = ?10)"
    CARD_COLUMN_FILTERS " ORDER BY oc.card_id LIMIT ?3";
static const char SQL_LIST_ORDERS[] =
    "SELECT id FROM orders WHERE id > ?1 AND (?2 IS NULL OR state = ?2)"
    " AND (?4 IS NULL OR card_type = ?4) ORDER BY id LIMIT ?3";
#define CERT_FILTERS                                                              \
    " AND (?2 IS NULL OR state = ?2) AND (?7 IS NULL OR card_id = ?7)"            \
    " AND (?8 IS NULL OR issuer_key_id = ?8) AND (?9 IS NULL OR state IN (1, 2))"
static const char SQL_LIST_CERTS[] =
    "SELECT id FROM certificates WHERE id > ?1" CERT_FILTERS " ORDER BY id LIMIT ?3";
static const char SQL_LIST_CERTS_OF_CARD[] =
    "SELECT id FROM certificates WHERE card_id = ?7 AND id > ?1" CERT_FILTERS
    " ORDER BY id LIMIT ?3";

static int store_list_ids(struct idm_store *s, idm_object_type kind,
                          const struct idm_list_filter *f, int64_t after_id, size_t limit,
                          int64_t *ids, size_t *n)
{
    struct sqlite_store *st = impl(s);
    const char *sql;
    switch (kind) {
    case IDM_OBJECT_IDENTITY: sql = SQL_LIST_IDENTITIES; break;
    case IDM_OBJECT_CARD:
        sql = f->identity_id != 0 ? SQL_LIST_CARDS_OF_IDENTITY
              : f->order_id != 0  ? SQL_LIST_CARDS_OF_ORDER
                                  : SQL_LIST_CARDS;
        break;
    case IDM_OBJECT_ORDER: sql = SQL_LIST_ORDERS; break;
    case IDM_OBJECT_CERTIFICATE:
        sql = f->card_id != 0 ? SQL_LIST_CERTS_OF_CARD : SQL_LIST_CERTS;
        break;
    default:
        return idm_error_set(NULL, IDM_ERR_INTERNAL, "no listing for object type %d", (int)kind);
    }
    *n = 0;
    PREPARE(st, q, sql, "cannot list objects");
    int nparams = sqlite3_bind_parameter_count(q);
    sqlite3_bind_int64(q, 1, after_id);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)limit);
    if (f->has_state)
        sqlite3_bind_int(q, 2, f->state);
    if (nparams >= 4 && f->has_type)
        sqlite3_bind_int(q, 4, f->type);
    if (nparams >= 5)
        bind_id_or_null(q, 5, f->order_id);
    if (nparams >= 6)
        bind_id_or_null(q, 6, f->identity_id);
    if (nparams >= 7)
        bind_id_or_null(q, 7, f->card_id);
    if (nparams >= 8)
        bind_text_or_null(q, 8, f->issuer_key_id);
    if (nparams >= 9 && f->revoked_or_held) /* IDM_CERT_ON_HOLD, IDM_CERT_REVOKED */
        sqlite3_bind_int(q, 9, 1);
    if (nparams >= 10 && f->has_outcome)
        sqlite3_bind_int(q, 10, f->outcome);
    int rc = SQLITE_DONE;
    int result = IDM_OK;
    while (result == IDM_OK && *n < limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        ids[*n] = sqlite3_column_int64(q, 0);
        result = key_in_order(ids[*n], *n > 0 ? ids[*n - 1] : after_id, "cannot list objects");
        (*n)++;
    }
    if (result == IDM_OK && *n < limit && rc != SQLITE_DONE)
        result = db_fail(st, rc, "cannot list objects");
    release(st, q);
    if (result != IDM_OK)
        *n = 0;
    return result;
}

/* ---- external production: bureau messages and notifications ----------- */

static const char SQL_STORE_ID[] = "SELECT value FROM store_info WHERE key = 'store_id'";
static const char SQL_MESSAGE_INSERT[] =
    "INSERT INTO bureau_messages (message_id, card_id, order_id, attempt, state, status,"
    " detail, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
#define MESSAGE_COLUMNS \
    "message_id, card_id, order_id, attempt, state, status, detail, created_ms, updated_ms"
static const char SQL_MESSAGE_LOAD[] =
    "SELECT " MESSAGE_COLUMNS " FROM bureau_messages WHERE message_id = ?1";
static const char SQL_MESSAGE_LAST[] =
    "SELECT " MESSAGE_COLUMNS " FROM bureau_messages WHERE card_id = ?1"
    " ORDER BY attempt DESC LIMIT 1";
static const char SQL_MESSAGE_UPDATE[] =
    "UPDATE bureau_messages SET state = ?2, status = ?3, detail = ?4, updated_ms = ?5"
    " WHERE message_id = ?1";
static const char SQL_MESSAGE_AWAITING[] =
    "SELECT message_id FROM bureau_messages WHERE state = 2 AND message_id > ?1"
    " AND (status IS NULL OR status = 0) ORDER BY message_id LIMIT ?2";
static const char SQL_NOTIFICATION_INSERT[] =
    "INSERT INTO notifications (card_id, kind, state, pin_lost, tries, last_error, created_ms,"
    " updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_NOTIFICATION_LOAD[] =
    "SELECT card_id, kind, state, pin_lost, tries, last_error, created_ms, updated_ms"
    " FROM notifications WHERE id = ?1";
static const char SQL_NOTIFICATION_UPDATE[] =
    "UPDATE notifications SET state = ?2, pin_lost = ?3, tries = ?4, last_error = ?5,"
    " updated_ms = ?6 WHERE id = ?1";
static const char SQL_NOTIFICATION_PENDING[] =
    "SELECT id FROM notifications WHERE state = 0 AND id > ?1 ORDER BY id LIMIT ?2";

void idm_message_rec_clear(struct idm_message_rec *rec)
{
    free(rec->message_id);
    free(rec->detail);
    memset(rec, 0, sizeof *rec);
}

void idm_notification_rec_clear(struct idm_notification_rec *rec)
{
    free(rec->last_error);
    memset(rec, 0, sizeof *rec);
}

static int store_store_id(struct idm_store *s, char *buf, size_t size)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_STORE_ID, "cannot read the store id");
    int rc = sqlite3_step(q);
    int result;
    if (rc == SQLITE_ROW) {
        snprintf(buf, size, "%s", (const char *)sqlite3_column_text(q, 0));
        result = IDM_OK;
    } else {
        result = rc == SQLITE_DONE ? idm_error_set(NULL, IDM_ERR_STORE, "the store has no id")
                                   : db_fail(st, rc, "cannot read the store id");
    }
    release(st, q);
    return result;
}

static int store_message_insert(struct idm_store *s, const struct idm_message_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_MESSAGE_INSERT, "cannot record a bureau message");
    sqlite3_bind_text(q, 1, rec->message_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, rec->card_id);
    sqlite3_bind_int64(q, 3, rec->order_id);
    sqlite3_bind_int(q, 4, rec->attempt);
    sqlite3_bind_int(q, 5, rec->state);
    if (rec->status >= 0)
        sqlite3_bind_int(q, 6, rec->status);
    bind_text_or_null(q, 7, rec->detail);
    sqlite3_bind_int64(q, 8, rec->created_ms);
    sqlite3_bind_int64(q, 9, rec->updated_ms);
    return exec_done(st, q, "cannot record a bureau message");
}

/* Reads one message row of q (bound, not stepped yet). */
static int message_row(struct sqlite_store *st, sqlite3_stmt *q, const char *key,
                       struct idm_message_rec *rec)
{
    memset(rec, 0, sizeof *rec);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        int result = rc == SQLITE_DONE ? idm_error_set(NULL, IDM_ERR_NOT_FOUND, "no bureau "
                                                       "message %s", key)
                                       : db_fail(st, rc, "cannot load a bureau message");
        release(st, q);
        return result;
    }
    int ok = 1;
    rec->message_id = column_text(q, 0, &ok);
    rec->card_id = sqlite3_column_int64(q, 1);
    rec->order_id = sqlite3_column_int64(q, 2);
    rec->attempt = sqlite3_column_int(q, 3);
    rec->state = sqlite3_column_int(q, 4);
    rec->status = sqlite3_column_type(q, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 5);
    rec->detail = column_text(q, 6, &ok);
    rec->created_ms = sqlite3_column_int64(q, 7);
    rec->updated_ms = sqlite3_column_int64(q, 8);
    release(st, q);
    if (!ok || rec->message_id == NULL) {
        idm_message_rec_clear(rec);
        return idm_error_set(NULL, IDM_ERR_NO_MEMORY, "cannot load bureau message %s", key);
    }
    return IDM_OK;
}

static int store_message_load(struct idm_store *s, const char *message_id,
                              struct idm_message_rec *rec)
{
    struct sqlite_store *st = impl(s);
    memset(rec, 0, sizeof *rec);
    PREPARE(st, q, SQL_MESSAGE_LOAD, "cannot load a bureau message");
    sqlite3_bind_text(q, 1, message_id, -1, SQLITE_STATIC);
    return message_row(st, q, message_id, rec);
}

static int store_message_last(struct idm_store *s, int64_t card_id, struct idm_message_rec *rec)
{
    struct sqlite_store *st = impl(s);
    memset(rec, 0, sizeof *rec);
    PREPARE(st, q, SQL_MESSAGE_LAST, "cannot load a bureau message");
    sqlite3_bind_int64(q, 1, card_id);
    char key[48];
    snprintf(key, sizeof key, "for card %lld", (long long)card_id);
    return message_row(st, q, key, rec);
}

static int store_message_update(struct idm_store *s, const struct idm_message_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_MESSAGE_UPDATE, "cannot update a bureau message");
    sqlite3_bind_text(q, 1, rec->message_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, rec->state);
    if (rec->status >= 0)
        sqlite3_bind_int(q, 3, rec->status);
    bind_text_or_null(q, 4, rec->detail);
    sqlite3_bind_int64(q, 5, rec->updated_ms);
    int rc = exec_done(st, q, "cannot update a bureau message");
    if (rc == IDM_OK && sqlite3_changes(st->db) != 1)
        return idm_error_set(NULL, IDM_ERR_NOT_FOUND, "no bureau message %s", rec->message_id);
    return rc;
}

static int store_message_list_awaiting(struct idm_store *s, const char *after, size_t limit,
                                       char **ids, size_t *n)
{
    struct sqlite_store *st = impl(s);
    *n = 0;
    PREPARE(st, q, SQL_MESSAGE_AWAITING, "cannot list bureau messages");
    sqlite3_bind_text(q, 1, after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)limit);
    int rc = SQLITE_DONE, ok = 1;
    while (ok && *n < limit && (rc = sqlite3_step(q)) == SQLITE_ROW)
        if ((ids[*n] = column_text(q, 0, &ok)) != NULL)
            (*n)++;
    int result = !ok ? idm_error_set(NULL, IDM_ERR_NO_MEMORY, "cannot list bureau messages")
                 : (*n == limit || rc == SQLITE_DONE) ? IDM_OK
                                                      : db_fail(st, rc, "cannot list bureau messages");
    release(st, q);
    if (result != IDM_OK) {
        for (size_t i = 0; i < *n; i++)
            free(ids[i]);
        *n = 0;
    }
    return result;
}

static int store_notification_insert(struct idm_store *s, struct idm_notification_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_NOTIFICATION_INSERT, "cannot record a notification");
    sqlite3_bind_int64(q, 1, rec->card_id);
    sqlite3_bind_int(q, 2, rec->kind);
    sqlite3_bind_int(q, 3, rec->state);
    sqlite3_bind_int(q, 4, rec->pin_lost);
    sqlite3_bind_int(q, 5, rec->tries);
    bind_text_or_null(q, 6, rec->last_error);
    sqlite3_bind_int64(q, 7, rec->created_ms);
    sqlite3_bind_int64(q, 8, rec->updated_ms);
    int rc = exec_done(st, q, "cannot record a notification");
    if (rc == IDM_OK)
        rec->id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int store_notification_load(struct idm_store *s, int64_t id,
                                   struct idm_notification_rec *rec)
{
    struct sqlite_store *st = impl(s);
    memset(rec, 0, sizeof *rec);
    PREPARE(st, q, SQL_NOTIFICATION_LOAD, "cannot load a notification");
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        int result = rc == SQLITE_DONE ? idm_error_set(NULL, IDM_ERR_NOT_FOUND, "notification "
                                                       "%lld does not exist", (long long)id)
                                       : db_fail(st, rc, "cannot load a notification");
        release(st, q);
        return result;
    }
    int ok = 1;
    rec->id = id;
    rec->card_id = sqlite3_column_int64(q, 0);
    rec->kind = sqlite3_column_int(q, 1);
    rec->state = sqlite3_column_int(q, 2);
    rec->pin_lost = sqlite3_column_int(q, 3);
    rec->tries = sqlite3_column_int(q, 4);
    rec->last_error = column_text(q, 5, &ok);
    rec->created_ms = sqlite3_column_int64(q, 6);
    rec->updated_ms = sqlite3_column_int64(q, 7);
    release(st, q);
    if (!ok) {
        idm_notification_rec_clear(rec);
        return idm_error_set(NULL, IDM_ERR_NO_MEMORY, "cannot load notification %lld",
                             (long long)id);
    }
    return IDM_OK;
}

static int store_notification_update(struct idm_store *s, const struct idm_notification_rec *rec)
{
    struct sqlite_store *st = impl(s);
    PREPARE(st, q, SQL_NOTIFICATION_UPDATE, "cannot update a notification");
    sqlite3_bind_int64(q, 1, rec->id);
    sqlite3_bind_int(q, 2, rec->state);
    sqlite3_bind_int(q, 3, rec->pin_lost);
    sqlite3_bind_int(q, 4, rec->tries);
    bind_text_or_null(q, 5, rec->last_error);
    sqlite3_bind_int64(q, 6, rec->updated_ms);
    return exec_update_one(st, q, "cannot update a notification", rec->id);
}

static int store_notification_list_pending(struct idm_store *s, int64_t after_id, size_t limit,
                                           int64_t *ids, size_t *n)
{
    struct sqlite_store *st = impl(s);
    *n = 0;
    PREPARE(st, q, SQL_NOTIFICATION_PENDING, "cannot list notifications");
    sqlite3_bind_int64(q, 1, after_id);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)limit);
    int rc = SQLITE_DONE;
    int result = IDM_OK;
    while (result == IDM_OK && *n < limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        ids[*n] = sqlite3_column_int64(q, 0);
        result = key_in_order(ids[*n], *n > 0 ? ids[*n - 1] : after_id,
                              "cannot list notifications");
        (*n)++;
    }
    if (result == IDM_OK && *n < limit && rc != SQLITE_DONE)
        result = db_fail(st, rc, "cannot list notifications");
    release(st, q);
    if (result != IDM_OK)
        *n = 0;
    return result;
}

/* ---- open and close -------------------------------------------------- */

static void store_close(struct idm_store *s)
{
    struct sqlite_store *st = impl(s);
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->ncached; i++)
        sqlite3_finalize(st->cache[i].stmt);
    sqlite3_close_v2(st->db);
    free(st);
}

static const struct idm_store_ops sqlite_ops = {
    .engine = "sqlite",
    .close = store_close,
    .begin = store_begin,
    .commit = store_commit,
    .rollback = store_rollback,
    .identity_insert = store_identity_insert,
    .identity_load = store_identity_load,
    .identity_find = store_identity_find,
    .identity_update = store_identity_update,
    .identity_set_attr = store_identity_set_attr,
    .card_insert = store_card_insert,
    .card_load = store_card_load,
    .card_find = store_card_find,
    .card_update = store_card_update,
    .counter_next = store_counter_next,
    .cert_insert = store_cert_insert,
    .cert_load = store_cert_load,
    .cert_find = store_cert_find,
    .cert_update = store_cert_update,
    .issuance_find = store_issuance_find,
    .issuance_insert = store_issuance_insert,
    .issuance_complete = store_issuance_complete,
    .order_insert = store_order_insert,
    .order_load = store_order_load,
    .order_find = store_order_find,
    .order_update = store_order_update,
    .order_card_add = store_order_card_add,
    .order_card_claim = store_order_card_claim,
    .order_card_finish = store_order_card_finish,
    .order_card_load = store_order_card_load,
    .order_card_counts = store_order_card_counts,
    .options_load = store_options_load,
    .option_save = store_option_save,
    .audit_last = store_audit_last,
    .audit_insert = store_audit_insert,
    .audit_read = store_audit_read,
    .list_ids = store_list_ids,
    .order_card_requeue_skipped = store_order_card_requeue_skipped,
    .order_card_next_attempt = store_order_card_next_attempt,
    .card_list_addable = store_card_list_addable,
    .store_id = store_store_id,
    .message_insert = store_message_insert,
    .message_load = store_message_load,
    .message_last = store_message_last,
    .message_update = store_message_update,
    .message_list_awaiting = store_message_list_awaiting,
    .notification_insert = store_notification_insert,
    .notification_load = store_notification_load,
    .notification_update = store_notification_update,
    .notification_list_pending = store_notification_list_pending,
};

static int pragma_int(struct sqlite_store *st, const char *sql, int64_t *out)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc == SQLITE_OK ? IDM_OK : db_fail(st, rc, sql);
}

/*
 * Creates the schema in a new file or brings an older one forward.  Runs in
 * a write transaction, and reads the version inside it, so two processes
 * opening a new store at once migrate it once.
 */
static int migrate(struct sqlite_store *st)
{
    int rc = exec_sql(st, "BEGIN IMMEDIATE", "cannot lock the store for its schema check");
    if (rc != IDM_OK)
        return rc;
    int64_t app_id = 0, version = 0, tables = 0;
    if ((rc = pragma_int(st, "PRAGMA application_id", &app_id)) != IDM_OK ||
        (rc = pragma_int(st, "PRAGMA user_version", &version)) != IDM_OK ||
        (rc = pragma_int(st, "SELECT count(*) FROM sqlite_schema", &tables)) != IDM_OK)
        goto fail;

    if (app_id != IDM_SQLITE_APPLICATION_ID && (app_id != 0 || tables != 0)) {
        rc = idm_error_set(NULL, IDM_ERR_STORE,
                           "an SQLite database but not a libidm store "
                           "(application_id %lld, %lld tables)",
                           (long long)app_id, (long long)tables);
        goto fail;
    }
    if (version > (int64_t)idm_sqlite_schema_version) {
        rc = idm_error_set(NULL, IDM_ERR_UNSUPPORTED,
                           "schema version %lld; this library knows up to %zu",
                           (long long)version, idm_sqlite_schema_version);
        goto fail;
    }
    for (int64_t v = version; v < (int64_t)idm_sqlite_schema_version; v++) {
        rc = exec_sql(st, idm_sqlite_migrations[v], "cannot migrate the store schema");
        if (rc != IDM_OK)
            goto fail;
    }
    if (version < (int64_t)idm_sqlite_schema_version) {
        char pragmas[128];
        snprintf(pragmas, sizeof pragmas, "PRAGMA application_id = %d; PRAGMA user_version = %zu",
                 IDM_SQLITE_APPLICATION_ID, idm_sqlite_schema_version);
        if ((rc = exec_sql(st, pragmas, "cannot record the schema version")) != IDM_OK)
            goto fail;
    }
    return exec_sql(st, "COMMIT", "cannot commit the store schema");
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int idm_sqlite_store_open(struct idm_store **out, const char *path)
{
    *out = NULL;
    struct sqlite_store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return idm_error_set(NULL, IDM_ERR_NO_MEMORY, "cannot allocate the store");
    st->base.ops = &sqlite_ops;

    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        int result = idm_error_set(NULL, IDM_ERR_STORE, "store '%s': cannot open: %s", path,
                                   st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        store_close(&st->base);
        return result;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);

    int is_memory = strcmp(path, ":memory:") == 0;
    int result = exec_sql(st, "PRAGMA foreign_keys = ON", "cannot enable foreign keys");
    if (result == IDM_OK && !is_memory) {
        /* journal_mode answers with the mode in force: a file that cannot
         * do WAL (some network file systems) must not silently run without. */
        sqlite3_stmt *q = NULL;
        rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &q, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(q);
        if (rc != SQLITE_ROW) {
            result = db_fail(st, rc, "cannot switch the store to WAL");
        } else if (sqlite3_stricmp((const char *)sqlite3_column_text(q, 0), "wal") != 0) {
            result = idm_error_set(NULL, IDM_ERR_STORE,
                                   "cannot use WAL journaling (got '%s'); is it on a "
                                   "network file system?",
                                   (const char *)sqlite3_column_text(q, 0));
        }
        sqlite3_finalize(q);
    }
    if (result == IDM_OK)
        result = exec_sql(st, "PRAGMA synchronous = FULL", "cannot set synchronous=FULL");
    if (result == IDM_OK)
        result = migrate(st);
    if (result != IDM_OK) {
        store_close(&st->base);
        return idm_error_wrap(NULL, result, "store '%s'", path);
    }
    *out = &st->base;
    return IDM_OK;
}
