/*
 * idm-bench-import-csv [ROWS]: how fast idm_identity_import_csv() imports
 * ROWS identities (default 100000) in one call, how much memory it takes,
 * and how that compares with a reference measured in the same run: the
 * same rows written with plain SQLite by the cheapest correct means (same
 * pragmas, one transaction, prepared statements, tables shaped like the
 * library's).  The reference does not parse CSV nor write audit events, so
 * the ratio is what the library's parsing, checks and hash-chained audit
 * trail cost on top of the bare inserts.
 *
 * Everything lives in a fresh temporary directory under $TMPDIR (or /tmp)
 * that is removed at the end.  Any failure prints its reason and exits 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <idm/idm.h>

#include "bench_common.h"

#define DEFAULT_ROWS 100000
#define MAX_ROWS 100000000UL
#define ACTOR "idm-bench-import-csv"

/* ---- failing ------------------------------------------------------------ */

static void check_sqlite(sqlite3 *db, int rc, int want, const char *what)
{
    if (rc != want)
        die("reference: %s failed: SQLite error %d: %s", what, rc,
            db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

/* ---- measuring ---------------------------------------------------------- */

/* The process's peak resident set so far, in KiB (Linux reports KiB). */
static long peak_rss_kib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        die("getrusage: %s", strerror(errno));
    return ru.ru_maxrss;
}

static long long file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    return (long long)st.st_size;
}

/* ---- the rows ----------------------------------------------------------- */

/* Name pools with realistic lengths and some UTF-8; each name comes with the
 * ASCII form a mail address would use. */
static const char *const given_names[][2] = {
    {"Anna", "anna"},           {"Benjamin", "benjamin"},   {"Chlo\xC3\xA9", "chloe"},
    {"Dmitri", "dmitri"},       {"Emma", "emma"},           {"Felix", "felix"},
    {"Grzegorz", "grzegorz"},   {"Hannah", "hannah"},       {"Ivan", "ivan"},
    {"Julia", "julia"},         {"Karl-Heinz", "karl-heinz"}, {"\xC5\x81ukasz", "lukasz"},
    {"Maria", "maria"},         {"Noah", "noah"},           {"Olivia", "olivia"},
    {"Paul", "paul"},           {"Quentin", "quentin"},     {"Rosa", "rosa"},
    {"Stefan", "stefan"},       {"Tom\xC3\xA1s", "tomas"},  {"Ursula", "ursula"},
    {"Viktor", "viktor"},       {"Wiebke", "wiebke"},       {"Xavier", "xavier"},
    {"Yusuf", "yusuf"},         {"Zo\xC3\xAB", "zoe"},      {"Alexander", "alexander"},
    {"Charlotte", "charlotte"}, {"Maximilian", "maximilian"}, {"Sophie", "sophie"},
    {"Jean-Luc", "jean-luc"},   {"Mei", "mei"},
};

static const char *const surnames[][2] = {
    {"M\xC3\xBCller", "mueller"}, {"Schmidt", "schmidt"},       {"Schneider", "schneider"},
    {"Fischer", "fischer"},       {"Weber", "weber"},           {"Meyer", "meyer"},
    {"Wagner", "wagner"},         {"Becker", "becker"},         {"Schulz", "schulz"},
    {"Hoffmann", "hoffmann"},     {"Kowalski", "kowalski"},     {"Nowak", "nowak"},
    {"Garc\xC3\xAD" "a", "garcia"}, {"Mart\xC3\xADnez", "martinez"}, {"Smith", "smith"},
    {"Johnson", "johnson"},       {"O'Brien", "obrien"},        {"van der Berg", "vanderberg"},
    {"Dubois", "dubois"},         {"Rossi", "rossi"},           {"Yamada", "yamada"},
    {"Tanaka", "tanaka"},         {"Andersson", "andersson"},   {"Nielsen", "nielsen"},
    {"Papadopoulos", "papadopoulos"}, {"Horv\xC3\xA1th", "horvath"}, {"Nov\xC3\xA1k", "novak"},
    {"Silva", "silva"},           {"Jansen", "jansen"},         {"Peeters", "peeters"},
    {"W\xC3\xB3jcik", "wojcik"},  {"Lef\xC3\xA8vre", "lefevre"},
};

static const char *const departments[] = {
    "Finance",           "Human Resources",   "Research, Development", "Sales",
    "Marketing",         "IT Operations",     "Legal & Compliance",    "Customer Service",
    "Production",        "Logistics",         "Quality Assurance",     "Facilities",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Attribute keys in the order the CSV columns come, and sorted, which is
 * how the library stores them (and so the reference too). */
static const char *const csv_columns[] = {"employeeNumber", "givenName", "surname", "mail",
                                          "department"};
enum { NCOLUMNS = 5 };

struct row {
    char employee_number[16];
    const char *given;
    const char *surname;
    char mail[96];
    const char *department;
};

/* splitmix64: row i always gets the same values, in both passes. */
static uint64_t mix(uint64_t x)
{
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static void make_row(size_t i, struct row *r)
{
    uint64_t h = mix((uint64_t)i);
    size_t g = (size_t)(h % COUNT(given_names));
    size_t s = (size_t)((h >> 16) % COUNT(surnames));
    size_t d = (size_t)((h >> 32) % COUNT(departments));
    snprintf(r->employee_number, sizeof r->employee_number, "E%07zu", i + 1);
    r->given = given_names[g][0];
    r->surname = surnames[s][0];
    r->department = departments[d];
    snprintf(r->mail, sizeof r->mail, "%s.%s%zu@example.com", given_names[g][1], surnames[s][1],
             i % 100);
}

static const char *row_value(const struct row *r, size_t column)
{
    switch (column) {
    case 0: return r->employee_number;
    case 1: return r->given;
    case 2: return r->surname;
    case 3: return r->mail;
    default: return r->department;
    }
}

/* Writes a field, quoted (RFC 4180) when it holds a comma or a quote. */
static void put_field(FILE *f, const char *value)
{
    if (strpbrk(value, ",\"\r\n") == NULL) {
        fputs(value, f);
        return;
    }
    fputc('"', f);
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

/* Streams the CSV to path, so generating it takes no memory per row. */
static void write_csv(const char *path, size_t rows)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        die("cannot create '%s': %s", path, strerror(errno));
    for (size_t c = 0; c < NCOLUMNS; c++)
        fprintf(f, "%s%s", c > 0 ? "," : "", csv_columns[c]);
    fputs("\r\n", f);
    for (size_t i = 0; i < rows; i++) {
        struct row r;
        make_row(i, &r);
        for (size_t c = 0; c < NCOLUMNS; c++) {
            if (c > 0)
                fputc(',', f);
            put_field(f, row_value(&r, c));
        }
        fputs("\r\n", f);
    }
    if (ferror(f) || fclose(f) != 0)
        die("cannot write '%s': %s", path, strerror(errno));
}

/* ---- libidm ------------------------------------------------------------- */

struct result {
    double seconds;
    long rss_before_kib;
    long rss_after_kib;
    long long store_bytes;
};

static void run_libidm(const char *csv_path, const char *store_path, size_t rows,
                       struct result *out)
{
    idm_ctx_t *ctx = NULL;
    check_idm(idm_ctx_new(&ctx), "idm_ctx_new");
    check_idm(idm_ctx_open_store(ctx, store_path), "idm_ctx_open_store");

    out->rss_before_kib = peak_rss_kib();
    size_t imported = 0;
    double start = bench_now();
    check_idm(idm_identity_import_csv(ctx, ACTOR, csv_path, "employeeNumber",
                                      IDM_IDENTITY_REGISTERED, &imported),
              "idm_identity_import_csv");
    out->seconds = bench_now() - start;
    out->rss_after_kib = peak_rss_kib();
    if (imported != rows)
        die("idm_identity_import_csv imported %zu identities; expected %zu", imported, rows);

    /* A spot check that the last row arrived whole. */
    struct row last;
    make_row(rows - 1, &last);
    idm_identity_t *p = NULL;
    check_idm(idm_identity_open_external(ctx, last.employee_number, &p),
              "idm_identity_open_external");
    const char *mail = NULL;
    check_idm(idm_identity_get_attribute(p, "mail", &mail), "idm_identity_get_attribute");
    if (strcmp(mail, last.mail) != 0)
        die("identity %s has mail '%s'; expected '%s'", last.employee_number, mail, last.mail);
    idm_identity_free(&p);
    idm_ctx_free(&ctx); /* checkpoints the WAL into the store file */
    out->store_bytes = file_size(store_path);
}

/* ---- the reference: plain SQLite ---------------------------------------- */

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "idm-bench-import-csv: reference: %s: %s\n", sql,
                err != NULL ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        exit(1);
    }
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    check_sqlite(db, sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, sql);
    return q;
}

static void bind_text(sqlite3 *db, sqlite3_stmt *q, int index, const char *value)
{
    check_sqlite(db, sqlite3_bind_text(q, index, value, -1, SQLITE_STATIC), SQLITE_OK,
                 "sqlite3_bind_text");
}

static void step_done(sqlite3 *db, sqlite3_stmt *q, const char *what)
{
    check_sqlite(db, sqlite3_step(q), SQLITE_DONE, what);
    check_sqlite(db, sqlite3_reset(q), SQLITE_OK, what);
}

static void run_reference(const char *path, size_t rows, struct result *out)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    check_sqlite(db, rc, SQLITE_OK, "sqlite3_open_v2");
    exec_sql(db, "PRAGMA foreign_keys = ON");
    exec_sql(db, "PRAGMA journal_mode = WAL");
    exec_sql(db, "PRAGMA synchronous = FULL");
    exec_sql(db, "CREATE TABLE identities ("
                 "  id INTEGER PRIMARY KEY,"
                 "  external_id TEXT UNIQUE,"
                 "  state INTEGER NOT NULL,"
                 "  common_name TEXT,"
                 "  upn TEXT,"
                 "  created_ms INTEGER NOT NULL,"
                 "  updated_ms INTEGER NOT NULL);"
                 "CREATE INDEX identities_state ON identities (state);"
                 "CREATE TABLE identity_attributes ("
                 "  identity_id INTEGER NOT NULL REFERENCES identities (id),"
                 "  key TEXT NOT NULL,"
                 "  value TEXT NOT NULL,"
                 "  PRIMARY KEY (identity_id, key)"
                 ") WITHOUT ROWID;");

    /* Sorted keys, as the library writes them. */
    static const size_t sorted[NCOLUMNS] = {4, 0, 1, 3, 2};
    double start = bench_now();
    exec_sql(db, "BEGIN IMMEDIATE");
    sqlite3_stmt *ins_id = prepare(db, "INSERT INTO identities (external_id, state, common_name,"
                                       " upn, created_ms, updated_ms)"
                                       " VALUES (?, ?, NULL, NULL, ?, ?)");
    sqlite3_stmt *ins_attr = prepare(db, "INSERT INTO identity_attributes (identity_id, key,"
                                         " value) VALUES (?, ?, ?)");
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    for (size_t i = 0; i < rows; i++) {
        struct row r;
        make_row(i, &r);
        bind_text(db, ins_id, 1, r.employee_number);
        check_sqlite(db, sqlite3_bind_int(ins_id, 2, (int)IDM_IDENTITY_REGISTERED), SQLITE_OK,
                     "sqlite3_bind_int");
        check_sqlite(db, sqlite3_bind_int64(ins_id, 3, now_ms), SQLITE_OK, "sqlite3_bind_int64");
        check_sqlite(db, sqlite3_bind_int64(ins_id, 4, now_ms), SQLITE_OK, "sqlite3_bind_int64");
        step_done(db, ins_id, "insert an identity");
        int64_t id = sqlite3_last_insert_rowid(db);
        for (size_t k = 0; k < NCOLUMNS; k++) {
            check_sqlite(db, sqlite3_bind_int64(ins_attr, 1, id), SQLITE_OK,
                         "sqlite3_bind_int64");
            bind_text(db, ins_attr, 2, csv_columns[sorted[k]]);
            bind_text(db, ins_attr, 3, row_value(&r, sorted[k]));
            step_done(db, ins_attr, "insert an attribute");
        }
    }
    check_sqlite(db, sqlite3_finalize(ins_id), SQLITE_OK, "sqlite3_finalize");
    check_sqlite(db, sqlite3_finalize(ins_attr), SQLITE_OK, "sqlite3_finalize");
    exec_sql(db, "COMMIT");
    out->seconds = bench_now() - start;
    out->rss_after_kib = peak_rss_kib();
    check_sqlite(db, sqlite3_close(db), SQLITE_OK, "sqlite3_close");
    out->store_bytes = file_size(path);
}

/* ---- main --------------------------------------------------------------- */

static size_t parse_rows(int argc, char **argv)
{
    if (argc > 2)
        die("usage: idm-bench-import-csv [ROWS]");
    if (argc < 2)
        return DEFAULT_ROWS;
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(argv[1], &end, 10);
    if (errno != 0 || end == argv[1] || *end != '\0' || argv[1][0] == '-' || n == 0 ||
        n > MAX_ROWS)
        die("ROWS is '%s'; expected a number from 1 to %lu", argv[1], MAX_ROWS);
    return (size_t)n;
}

static void remove_store(const char *path)
{
    char side[4200];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static double mib(long long bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

int main(int argc, char **argv)
{
    bench_init("idm-bench-import-csv");
    size_t rows = parse_rows(argc, argv);
    char dir[4096], csv_path[4200], store_path[4200], ref_path[4200];
    bench_temp_dir("idm-bench-import", dir, sizeof dir);
    snprintf(csv_path, sizeof csv_path, "%s/people.csv", dir);
    snprintf(store_path, sizeof store_path, "%s/idm.db", dir);
    snprintf(ref_path, sizeof ref_path, "%s/reference.db", dir);

    write_csv(csv_path, rows);
    printf("rows:                   %zu (CSV %.1f MiB, %s)\n", rows, mib(file_size(csv_path)),
           idm_version_string());

    struct result lib = {0}, ref = {0};
    run_libidm(csv_path, store_path, rows, &lib);
    long growth = lib.rss_after_kib - lib.rss_before_kib;
    printf("libidm import:          %.3f s, %.0f rows/s (idm_identity_import_csv, one call)\n",
           lib.seconds, (double)rows / lib.seconds);
    printf("peak RSS before import: %ld KiB\n", lib.rss_before_kib);
    printf("peak RSS after import:  %ld KiB\n", lib.rss_after_kib);
    printf("peak RSS growth:        %ld KiB (%.2f KiB per 1000 rows)\n", growth,
           (double)growth * 1000.0 / (double)rows);
    printf("store file:             %lld bytes (%.1f MiB, after close)\n", lib.store_bytes,
           mib(lib.store_bytes));

    run_reference(ref_path, rows, &ref);
    printf("reference (SQLite %s, WAL, synchronous=FULL, one transaction, prepared "
           "statements):\n", sqlite3_libversion());
    printf("  inserts:              %.3f s, %.0f rows/s (%zu identity rows, %zu attribute "
           "rows)\n", ref.seconds, (double)rows / ref.seconds, rows, rows * NCOLUMNS);
    printf("  file:                 %lld bytes (%.1f MiB)\n", ref.store_bytes,
           mib(ref.store_bytes));
    printf("ratio libidm/reference: %.2fx the time (%.2fx the rows/s)\n",
           lib.seconds / ref.seconds, ref.seconds / lib.seconds);

    unlink(csv_path);
    remove_store(store_path);
    remove_store(ref_path);
    if (rmdir(dir) != 0)
        die("cannot remove '%s': %s", dir, strerror(errno));
    return 0;
}
