/*
 * Store contents read back: a store file whose rows the library did not
 * write (a disk fault, a hand edit, a bug in another version).
 *
 * Once, a template store is built through the public API: identities with
 * attributes, cards in many states with certificates (issued by a built-in
 * CA, and one made here with libcrypto), a mass production order with a
 * claimed, a skipped and a pending card, an aborted external order,
 * changed options, a CRL, and the audit trail of it all.  Its tables are
 * relaxed (NOT NULL dropped from the schema text, as a hand edit may do)
 * so that a mutation can put NULL anywhere.
 *
 * Each input is a list of mutations applied with the SQLite C API to a
 * fresh copy, on tables and columns read from the template's own schema:
 *   0 table column row value   a value of one row
 *   1 table row                delete a row
 *   2 table row delta          insert a copy of a row with new keys
 *   3 offset(3 bytes) mask     flip bits of the file (mask 0: cut it there)
 *   4 table column value       a value of every row
 *   5 what arg                 user_version, application_id, empty or
 *                              drop a table, drop an index
 * (the op is the first byte modulo 6; a selector picks modulo the count).
 * A value is NULL, an integer (small, 64-bit, or one of the edges), a
 * real, a text (not necessarily UTF-8) or blob, or a long text.  Then the
 * store is opened and everything is read back through the public API:
 * options, identities, cards and their certificates, orders with their
 * counts and outcomes, the audit trail (verified, iterated, filtered), and
 * a CRL of the built-in CA.
 *
 * Besides not crashing, hanging or leaking, every getter keeps its
 * header's contract: enum values in range, strings that are promised stay
 * non-NULL, ids > 0 and in ascending order, attributes in key order and
 * found again by key, serials in upper-case hex of whole bytes, an
 * outcome's reason without NUL, options within their types, ranges and
 * choices, audit events in sequence order and matching the iterator's
 * filter; a row that loaded loads again; idm_audit_verify() names a broken
 * event exactly when it fails, and a CRL appended to an intact trail keeps
 * it intact; every error comes with its message and no OpenSSL error is
 * left queued.  The unmutated store (the empty input) reads back completely
 * without a single error.  With bits of the file flipped, SQLite may answer
 * from an index that disagrees with its table and its own writes may damage
 * other rows: filters and the CRL's chain are not checked then.
 *
 * FUZZ_STORE_DEBUG=1 prints the template's tables, each mutation and each
 * error.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include <idm/idm.h>

#define ACTOR "fuzz"
#define MUTATIONS_MAX 64
#define CLOCK_START INT64_C(1700000000000)

/* ---- properties ----------------------------------------------------- */

static void check(int ok)
{
    if (!ok)
        abort();
}

/* An error return: a known code with its message. */
static void check_error(int rc)
{
    check(rc <= IDM_ERR_INVALID_ARG && rc >= IDM_ERR_INTEGRITY);
    const char *msg = idm_last_error_message();
    check(msg != NULL && msg[0] != '\0');
}

/* Reads every byte of a string the library hands out, so that a dangling
 * or unterminated one shows under the sanitizers. */
static size_t touch(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

static int utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

/* idm_cert_get_serial(): upper-case hex of whole bytes. */
static int serial_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len % 2 != 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    }
    return 1;
}

/* ---- a reproducible clock and random source -------------------------- */

static void reset_sources(void)
{
    fuzz_sources_reset(CLOCK_START + 1000, UINT64_C(0x9e3779b97f4a7c15));
}

static void log_sink(idm_log_level level, const char *component, const char *message,
                     void *user_data)
{
    (void)user_data;
    check((int)level >= IDM_LOG_ERROR && (int)level <= IDM_LOG_DEBUG);
    check(component != NULL && message != NULL);
    touch(component);
    touch(message);
}

static idm_ctx_t *new_ctx(void)
{
    idm_ctx_t *ctx = NULL;
    check(idm_ctx_new(&ctx) == IDM_OK);
    check(fuzz_sources_use(ctx) == IDM_OK);
    check(idm_ctx_set_log_callback(ctx, log_sink, NULL) == IDM_OK);
    check(idm_ctx_set_log_level(ctx, IDM_LOG_DEBUG) == IDM_OK);
    return ctx;
}

/* ---- what Initialize keeps ------------------------------------------- */

struct table {
    char *name;
    int ncols;
    char **cols;
    int *is_key;   /* in the primary key or a unique index */
    int rowid_col; /* the INTEGER PRIMARY KEY column, -1 for none */
    char *key;     /* what picks a row: "rowid" or the primary key columns */
};

struct counts {
    size_t identities, cards, certs, orders, events;
};

static idm_ctx_t *ca_ctx;       /* the CA's clock and random source */
static idm_ca_t *ca;
static unsigned char *template_bytes;
static size_t template_len;
static struct table *tables;
static int ntables;
static char **index_names;
static int nindexes;
static struct counts template_counts;
static char store_path[4200];
static int debug;

/* ---- building the template ------------------------------------------ */

static const char template_csv[] =
    "id,givenName,surname,employeeNumber,mail,department\r\n"
    "E1001,Ada,Lovelace,1001,ada@corp.example,R&D\r\n"
    "E1002,Zoë,Ångström,1002,zoe@corp.example,\"Sales, North\"\r\n"
    "E1003,Grace,Hopper,1003,,Navy\r\n"
    "E1004,Alan,Turing,1004,alan@corp.example,\r\n"
    "E1005,Émile,Noether-Ñ,1005,emile@corp.example,Math\r\n";

/* A self-signed certificate of key, as a host CA might hand one over. */
static unsigned char *self_signed_der(EVP_PKEY *key, int *len)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    int ok = x != NULL && name != NULL && X509_set_version(x, 2) &&
             ASN1_INTEGER_set(X509_get_serialNumber(x), 0x0B0B0C0C) &&
             ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(CLOCK_START / 1000)) != NULL &&
             ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(CLOCK_START / 1000 + 86400 * 365)) !=
                 NULL &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        (const unsigned char *)"Fuzz Self-Signed", -1, -1, 0) &&
             X509_set_subject_name(x, name) && X509_set_issuer_name(x, name) &&
             X509_set_pubkey(x, key) && X509_sign(x, key, EVP_sha256()) > 0;
    unsigned char *der = NULL;
    *len = ok ? i2d_X509(x, &der) : -1;
    X509_NAME_free(name);
    X509_free(x);
    check(*len > 0);
    return der;
}

/* A host encoder that never sees a card: the template's station only
 * claims and skips. */
static int enc_open(int timeout_ms, void *u)
{
    (void)timeout_ms, (void)u;
    return 1;
}
static int enc_serial(char *serial, size_t size, void *u)
{
    (void)serial, (void)size, (void)u;
    return 1;
}
static int enc_genkey(idm_piv_slot slot, idm_card_key_alg alg, idm_buffer_t *spki, void *u)
{
    (void)slot, (void)alg, (void)spki, (void)u;
    return 1;
}
static int enc_write_cert(idm_piv_slot slot, const unsigned char *der, size_t len, void *u)
{
    (void)slot, (void)der, (void)len, (void)u;
    return 1;
}
static int enc_write_object(idm_piv_object object, const unsigned char *value, size_t len, void *u)
{
    (void)object, (void)value, (void)len, (void)u;
    return 1;
}
static int enc_read_object(idm_piv_object object, idm_buffer_t *value, void *u)
{
    (void)object, (void)value, (void)u;
    return 1;
}
static int enc_set_pin(const char *pin, const char *puk, void *u)
{
    (void)pin, (void)puk, (void)u;
    return 1;
}
static int enc_verify_pin(const char *pin, void *u)
{
    (void)pin, (void)u;
    return 1;
}
static int enc_sign(idm_piv_slot slot, idm_card_key_alg alg, const unsigned char *input,
                    size_t len, idm_buffer_t *signature, void *u)
{
    (void)slot, (void)alg, (void)input, (void)len, (void)signature, (void)u;
    return 1;
}
static int enc_close(int success, void *u)
{
    (void)success, (void)u;
    return 0;
}

static idm_card_t *new_card(idm_ctx_t *ctx, idm_card_type type, idm_card_option option,
                            idm_production production, int64_t holder, const char *name)
{
    idm_card_t *card = NULL;
    check(idm_card_new(ctx, ACTOR, type, option, production, holder, name, &card) == IDM_OK);
    return card;
}

static void move_card(idm_card_t *card, const idm_card_state *path, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check(idm_card_set_state(card, ACTOR, path[i], i + 1 == n ? "template" : NULL) ==
              IDM_OK);
}

static int64_t card_id(const idm_card_t *card)
{
    int64_t id = 0;
    check(idm_card_get_id(card, &id) == IDM_OK);
    return id;
}

static int64_t identity_id(idm_ctx_t *ctx, const char *external_id)
{
    idm_identity_t *identity = NULL;
    int64_t id = 0;
    check(idm_identity_open_external(ctx, external_id, &identity) == IDM_OK);
    check(idm_identity_get_id(identity, &id) == IDM_OK);
    idm_identity_free(&identity);
    return id;
}

static void build_options(idm_ctx_t *ctx)
{
    check(idm_options_set_bool(ctx, ACTOR, "allow_multiple_active_cards", 1) == IDM_OK);
    check(idm_options_set_bool(ctx, ACTOR, "external_production_enabled", 1) == IDM_OK);
    check(idm_options_set_string(ctx, ACTOR, "upn_template", "${employeeNumber}@corp.example") ==
          IDM_OK);
    check(idm_options_set_string(ctx, ACTOR, "card_number_format", "IDM-{seq:6}") == IDM_OK);
    check(idm_options_set_string(ctx, ACTOR, "expiry_mail_days", "30,14,7") == IDM_OK);
    check(idm_options_set_string(ctx, ACTOR, "cert_crl_url", "http://crl.example/ca.crl") ==
          IDM_OK);
    check(idm_options_set_int(ctx, ACTOR, "pin_length", 4) == IDM_OK);
    check(idm_options_set_int(ctx, ACTOR, "cert_validity_days", 365) == IDM_OK);
    check(idm_options_reset(ctx, ACTOR, "pin_length") == IDM_OK);
}

static void build_identities(idm_ctx_t *ctx)
{
    size_t imported = 0;
    check(idm_identity_import_csv_data(ctx, ACTOR, template_csv, sizeof template_csv - 1, "id",
                                       IDM_IDENTITY_ACTIVE, &imported) == IDM_OK &&
          imported == 5);
    idm_identity_t *identity = NULL;
    check(idm_identity_open_external(ctx, "E1002", &identity) == IDM_OK);
    check(idm_identity_set_state(identity, ACTOR, IDM_IDENTITY_INACTIVE) == IDM_OK);
    idm_identity_free(&identity);
    check(idm_identity_open_external(ctx, "E1003", &identity) == IDM_OK);
    check(idm_identity_set_common_name(identity, ACTOR, "Rear Admiral Grace Hopper") == IDM_OK);
    check(idm_identity_set_attribute(identity, ACTOR, "department", NULL) == IDM_OK);
    idm_identity_free(&identity);
    check(idm_identity_open_external(ctx, "E1004", &identity) == IDM_OK);
    check(idm_identity_set_upn(identity, ACTOR, "aturing@corp.example") == IDM_OK);
    check(idm_identity_set_attribute(identity, ACTOR, "title", "Dr.") == IDM_OK);
    idm_identity_free(&identity);
    /* without an external id or attributes, and one that is gone */
    check(idm_identity_new(ctx, ACTOR, NULL, &identity) == IDM_OK);
    idm_identity_free(&identity);
    check(idm_identity_new(ctx, ACTOR, "E9999", &identity) == IDM_OK);
    check(idm_identity_set_state(identity, ACTOR, IDM_IDENTITY_TERMINATED) == IDM_OK);
    idm_identity_free(&identity);
}

/* Digital ID cards with certificates of the built-in CA and one of a host. */
static void build_certified_cards(idm_ctx_t *ctx, const unsigned char *spki, size_t spki_len,
                                  const unsigned char *der, size_t der_len)
{
    static const idm_card_state to_approved[] = {IDM_CARD_REQUESTED, IDM_CARD_APPROVED};
    static const idm_card_state to_active[] = {IDM_CARD_ISSUED, IDM_CARD_ACTIVE};
    static const idm_card_state to_failed[] = {IDM_CARD_FAILED};

    idm_card_t *card = new_card(ctx, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL,
                                identity_id(ctx, "E1001"), NULL);
    move_card(card, to_approved, 2);
    idm_cert_t *auth = NULL, *sign = NULL, *enc = NULL;
    check(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_AUTHENTICATION, spki, spki_len, 1,
                                     &auth) == IDM_OK);
    check(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_SIGNATURE, spki, spki_len, 1,
                                     &sign) == IDM_OK);
    check(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_ENCRYPTION, spki, spki_len, 1,
                                     &enc) == IDM_OK);
    move_card(card, to_active, 2);
    check(idm_card_set_chip_serial(card, ACTOR, "04A1B2C3D4E5F6") == IDM_OK);
    check(idm_cert_revoke(auth, ACTOR, ca, IDM_REVOKE_KEY_COMPROMISE) == IDM_OK);
    check(idm_cert_hold(sign, ACTOR, ca) == IDM_OK);
    check(idm_card_add_certificate(card, ACTOR, der, der_len, NULL) == IDM_OK);
    idm_cert_free(&auth);
    idm_cert_free(&sign);
    idm_cert_free(&enc);
    idm_card_free(&card);

    card = new_card(ctx, IDM_CARD_CONTRACTOR, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL,
                    identity_id(ctx, "E1004"), NULL);
    move_card(card, to_approved, 2);
    check(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_CARD_AUTHENTICATION, spki,
                                     spki_len, 1, NULL) == IDM_OK);
    move_card(card, to_failed, 1);
    idm_card_free(&card);
}

static void build_cards_and_orders(idm_ctx_t *ctx)
{
    static const idm_card_state to_rejected[] = {IDM_CARD_REQUESTED, IDM_CARD_REJECTED};
    static const idm_card_state to_approved[] = {IDM_CARD_REQUESTED, IDM_CARD_APPROVED};
    static const idm_card_state to_processing[] = {IDM_CARD_REQUESTED, IDM_CARD_PROCESSING};
    static const idm_card_state to_ordered[] = {IDM_CARD_PROCESSING, IDM_CARD_ORDERED};

    idm_card_t *card = new_card(ctx, IDM_CARD_CONTRACTOR, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL,
                                identity_id(ctx, "E1003"), NULL);
    move_card(card, to_rejected, 2);
    idm_card_free(&card);
    card = new_card(ctx, IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL, 0,
                    "Room 101 — Lab");
    move_card(card, to_approved, 2);
    idm_card_free(&card);
    card = new_card(ctx, IDM_CARD_VISITOR_NON_PERSONAL, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL,
                    0, "Visitor badge 7");
    idm_card_free(&card);
    card = new_card(ctx, IDM_CARD_TEMPORARY, IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, 0,
                    "Temp 1");
    move_card(card, to_ordered, 2);
    idm_card_free(&card);

    /* a mass production order: the first card's holder is inactive (skipped
     * with the library's reason), the second is claimed, the third waits */
    static const char *const holders[] = {"E1002", "E1001", "E1005"};
    for (size_t i = 0; i < 3; i++) {
        card = new_card(ctx, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL,
                        identity_id(ctx, holders[i]), NULL);
        move_card(card, to_approved, 2);
        idm_card_free(&card);
    }
    idm_order_t *order = NULL;
    size_t added = 0;
    check(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_PHYSICAL, "MP-2024-01", &order) == IDM_OK);
    check(idm_order_add_approved(order, ACTOR, 0, &added) == IDM_OK && added == 3);
    idm_encoder_ops ops = IDM_ENCODER_OPS_INIT;
    ops.open = enc_open;
    ops.card_serial = enc_serial;
    ops.generate_key = enc_genkey;
    ops.write_certificate = enc_write_cert;
    ops.write_object = enc_write_object;
    ops.read_object = enc_read_object;
    ops.set_pin = enc_set_pin;
    ops.verify_pin = enc_verify_pin;
    ops.sign = enc_sign;
    ops.close = enc_close;
    idm_encoder_t *encoder = NULL;
    idm_station_t *station = NULL;
    check(idm_encoder_new(&encoder, &ops, sizeof ops, NULL, NULL) == IDM_OK);
    check(idm_station_open(&station, order, "station-1", encoder, NULL) == IDM_OK);
    check(idm_station_next(station, "operator", &card) == IDM_OK && card != NULL);
    idm_card_free(&card);
    idm_station_free(&station);
    idm_encoder_free(&encoder);
    idm_order_free(&order);

    /* an external order that was given up */
    card = new_card(ctx, IDM_CARD_VISITOR, IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL,
                    identity_id(ctx, "E1005"), NULL);
    move_card(card, to_processing, 2);
    check(idm_order_new(ctx, ACTOR, IDM_ORDER_EXTERNAL, IDM_CARD_VISITOR, IDM_CARD_PHYSICAL,
                        "EXT-9", &order) == IDM_OK);
    check(idm_order_add_card(order, ACTOR, card_id(card)) == IDM_OK);
    check(idm_order_set_state(order, ACTOR, IDM_ORDER_ABORTED, "bureau unreachable") == IDM_OK);
    idm_order_free(&order);
    idm_card_free(&card);
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    check(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    return db;
}

static void exec(sqlite3 *db, const char *sql)
{
    check(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
}

/* Drops NOT NULL from the tables' schema text, merges the WAL and keeps
 * the file's bytes. */
static void keep_template(const char *path)
{
    sqlite3 *db = open_db(path);
    exec(db, "PRAGMA writable_schema = ON;"
             "UPDATE sqlite_schema SET sql = replace(sql, ' NOT NULL', '') WHERE type = 'table';"
             "PRAGMA writable_schema = OFF;");
    check(sqlite3_close(db) == SQLITE_OK);
    db = open_db(path);
    sqlite3_stmt *q = NULL;
    check(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK);
    check(sqlite3_step(q) == SQLITE_ROW &&
          strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0);
    sqlite3_finalize(q);
    exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    check(sqlite3_close(db) == SQLITE_OK);

    FILE *f = fopen(path, "rb");
    check(f != NULL);
    struct stat st;
    check(fstat(fileno(f), &st) == 0 && st.st_size > 0);
    template_len = (size_t)st.st_size;
    template_bytes = malloc(template_len);
    check(template_bytes != NULL && fread(template_bytes, 1, template_len, f) == template_len);
    fclose(f);
}

static void build_template(const char *path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    check(key != NULL);
    unsigned char *spki = NULL;
    int spki_len = i2d_PUBKEY(key, &spki);
    check(spki_len > 0);
    int der_len = 0;
    unsigned char *der = self_signed_der(key, &der_len);

    ca_ctx = new_ctx();
    check(idm_ca_new_openssl(&ca, ca_ctx, IDM_KEY_EC_P256, "Fuzz Issuing CA", 3650) == IDM_OK);
    idm_ctx_t *ctx = new_ctx();
    check(idm_ctx_open_store(ctx, path) == IDM_OK);
    build_options(ctx);
    build_identities(ctx);
    build_certified_cards(ctx, spki, (size_t)spki_len, der, (size_t)der_len);
    build_cards_and_orders(ctx);
    idm_buffer_t *crl = NULL;
    check(idm_buffer_new(&crl) == IDM_OK);
    check(idm_ca_generate_crl(ca, ctx, 24, crl) == IDM_OK);
    idm_buffer_free(&crl);
    idm_ctx_free(&ctx);

    OPENSSL_free(der);
    OPENSSL_free(spki);
    EVP_PKEY_free(key);
    keep_template(path);
}

/* ---- the template's tables, for the mutations ----------------------- */

static char *copy_text(const unsigned char *s)
{
    char *c = strdup(s != NULL ? (const char *)s : "");
    check(c != NULL);
    return c;
}

/* "name" with its double quotes doubled, as an SQL identifier. */
static void append_ident(char *buf, size_t size, const char *name)
{
    size_t used = strlen(buf);
    check(used + 2 * strlen(name) + 3 < size);
    buf[used++] = '"';
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '"')
            buf[used++] = '"';
        buf[used++] = *p;
    }
    buf[used++] = '"';
    buf[used] = '\0';
}

static void mark_unique_columns(sqlite3 *db, struct table *t)
{
    char sql[512] = "PRAGMA index_list(";
    append_ident(sql, sizeof sql, t->name);
    strcat(sql, ")");
    sqlite3_stmt *q = NULL;
    check(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (sqlite3_column_int(q, 2) == 0) /* not unique */
            continue;
        char isql[512] = "PRAGMA index_info(";
        append_ident(isql, sizeof isql, (const char *)sqlite3_column_text(q, 1));
        strcat(isql, ")");
        sqlite3_stmt *iq = NULL;
        check(sqlite3_prepare_v2(db, isql, -1, &iq, NULL) == SQLITE_OK);
        while (sqlite3_step(iq) == SQLITE_ROW) {
            const char *col = (const char *)sqlite3_column_text(iq, 2);
            for (int c = 0; col != NULL && c < t->ncols; c++)
                if (strcmp(t->cols[c], col) == 0)
                    t->is_key[c] = 1;
        }
        sqlite3_finalize(iq);
    }
    sqlite3_finalize(q);
}

static void read_table(sqlite3 *db, struct table *t, int without_rowid)
{
    char sql[512] = "PRAGMA table_info(";
    append_ident(sql, sizeof sql, t->name);
    strcat(sql, ")");
    sqlite3_stmt *q = NULL;
    check(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK);
    int npk = 0;
    char key[512] = "";
    t->rowid_col = -1;
    while (sqlite3_step(q) == SQLITE_ROW) {
        t->cols = realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *t->cols);
        t->is_key = realloc(t->is_key, (size_t)(t->ncols + 1) * sizeof *t->is_key);
        check(t->cols != NULL && t->is_key != NULL);
        t->cols[t->ncols] = copy_text(sqlite3_column_text(q, 1));
        int pk = sqlite3_column_int(q, 5);
        t->is_key[t->ncols] = pk > 0;
        if (pk > 0) {
            npk++;
            if (key[0] != '\0')
                strcat(key, ", ");
            append_ident(key, sizeof key, t->cols[t->ncols]);
            const char *type = (const char *)sqlite3_column_text(q, 2);
            if (!without_rowid && type != NULL && sqlite3_stricmp(type, "INTEGER") == 0)
                t->rowid_col = t->ncols;
        }
        t->ncols++;
    }
    sqlite3_finalize(q);
    check(t->ncols > 0);
    if (npk > 1)
        t->rowid_col = -1;
    t->key = copy_text((const unsigned char *)(without_rowid ? key : "rowid"));
    mark_unique_columns(db, t);
}

static void read_schema(const char *path)
{
    sqlite3 *db = open_db(path);
    sqlite3_stmt *q = NULL;
    check(sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE "
                                 "'sqlite%' ORDER BY name", -1, &q, NULL) == SQLITE_OK);
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(q, 0);
        if (strcmp(type, "index") == 0) {
            index_names = realloc(index_names, (size_t)(nindexes + 1) * sizeof *index_names);
            check(index_names != NULL);
            index_names[nindexes++] = copy_text(sqlite3_column_text(q, 1));
            continue;
        }
        if (strcmp(type, "table") != 0)
            continue;
        tables = realloc(tables, (size_t)(ntables + 1) * sizeof *tables);
        check(tables != NULL);
        struct table *t = &tables[ntables++];
        memset(t, 0, sizeof *t);
        t->name = copy_text(sqlite3_column_text(q, 1));
        const char *sql = (const char *)sqlite3_column_text(q, 2);
        read_table(db, t, sql != NULL && strstr(sql, "WITHOUT ROWID") != NULL);
    }
    sqlite3_finalize(q);
    check(sqlite3_close(db) == SQLITE_OK);
    check(ntables > 0);
}

/* ---- decoding the input ---------------------------------------------- */

struct reader {
    const uint8_t *p, *end;
};

static unsigned byte(struct reader *r)
{
    return r->p < r->end ? *r->p++ : 0;
}

static uint64_t u64(struct reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | byte(r);
    return v;
}

static const int64_t edge_integers[] = {
    0, -1, 1, 2, 3, 4, 5, 6, 7, 16, 17, 99, 127, 128, 255, 256, 65536,
    INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MIN, (int64_t)INT32_MIN - 1, UINT32_MAX,
    INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, INT64_C(1) << 53, -(INT64_C(1) << 53),
    INT64_C(4102444800000),   /* 2100-01-01 in ms */
    INT64_C(253402300800000), /* year 10000 in ms */
    INT64_C(-62135596800000), /* year 1 in ms */
    INT64_C(9223372036854775) /* INT64_MAX / 1000 */
};

enum value_kind { VALUE_NULL, VALUE_INTEGER, VALUE_REAL, VALUE_TEXT, VALUE_BLOB, VALUE_LONG_TEXT };

struct value {
    enum value_kind kind;
    int64_t integer;
    double real;
    const uint8_t *bytes; /* text and blob: in the input */
    size_t len;
    int fill;             /* the character of a long text */
};

/* Decodes a value of the input; what describes it for the debug output. */
static void read_value(struct reader *r, struct value *v, char *what, size_t size)
{
    memset(v, 0, sizeof *v);
    unsigned kind = byte(r) % 8;
    switch (kind) {
    case 0:
        v->kind = VALUE_NULL;
        snprintf(what, size, "NULL");
        break;
    case 1:
        v->kind = VALUE_INTEGER;
        v->integer = (signed char)byte(r);
        snprintf(what, size, "%" PRId64, v->integer);
        break;
    case 2:
        v->kind = VALUE_INTEGER;
        v->integer = (int64_t)u64(r);
        snprintf(what, size, "%" PRId64, v->integer);
        break;
    case 3: {
        uint64_t bits = u64(r);
        v->kind = VALUE_REAL;
        memcpy(&v->real, &bits, sizeof v->real);
        snprintf(what, size, "%g", v->real);
        break;
    }
    case 4:
    case 5:
        v->kind = kind == 4 ? VALUE_TEXT : VALUE_BLOB;
        v->len = byte(r);
        if (v->len > (size_t)(r->end - r->p))
            v->len = (size_t)(r->end - r->p);
        v->bytes = r->p;
        r->p += v->len;
        snprintf(what, size, "%s of %zu bytes '%.*s'", kind == 4 ? "text" : "blob", v->len,
                 (int)(v->len > 40 ? 40 : v->len), (const char *)v->bytes);
        break;
    case 6:
        v->kind = VALUE_INTEGER;
        v->integer = edge_integers[byte(r) % (sizeof edge_integers / sizeof edge_integers[0])];
        snprintf(what, size, "%" PRId64, v->integer);
        break;
    default:
        /* one character again and again: longer than any buffer for labels */
        v->kind = VALUE_LONG_TEXT;
        v->len = (size_t)(byte(r) + 1) * 256;
        v->fill = (int)byte(r);
        snprintf(what, size, "text of %zu bytes 0x%02x", v->len, (unsigned)v->fill);
        break;
    }
}

static void bind_value(sqlite3_stmt *q, int idx, const struct value *v)
{
    switch (v->kind) {
    case VALUE_NULL: sqlite3_bind_null(q, idx); break;
    case VALUE_INTEGER: sqlite3_bind_int64(q, idx, v->integer); break;
    case VALUE_REAL: sqlite3_bind_double(q, idx, v->real); break;
    case VALUE_TEXT:
        sqlite3_bind_text(q, idx, (const char *)v->bytes, (int)v->len, SQLITE_TRANSIENT);
        break;
    case VALUE_BLOB: sqlite3_bind_blob(q, idx, v->bytes, (int)v->len, SQLITE_TRANSIENT); break;
    case VALUE_LONG_TEXT: {
        char *text = malloc(v->len);
        check(text != NULL);
        memset(text, v->fill, v->len);
        sqlite3_bind_text(q, idx, text, (int)v->len, free);
        break;
    }
    }
}

static int row_count(sqlite3 *db, const struct table *t)
{
    char sql[256] = "SELECT count(*) FROM ";
    append_ident(sql, sizeof sql, t->name);
    sqlite3_stmt *q = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return n;
}

/* " WHERE (key) = (SELECT key FROM t ORDER BY key LIMIT 1 OFFSET ?n)" */
static void append_row_pick(char *sql, size_t size, const struct table *t, int param)
{
    size_t used = strlen(sql);
    int n = snprintf(sql + used, size - used, " WHERE (%s) = (SELECT %s FROM ", t->key, t->key);
    check(n > 0 && (size_t)n < size - used);
    append_ident(sql, size, t->name);
    used = strlen(sql);
    n = snprintf(sql + used, size - used, " ORDER BY %s LIMIT 1 OFFSET ?%d)", t->key, param);
    check(n > 0 && (size_t)n < size - used);
}

/* A statement on the mutated store, or NULL when its table is gone (an
 * earlier mutation dropped it). */
static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK && debug)
        fprintf(stderr, "  cannot prepare: %s\n", sqlite3_errmsg(db));
    return q;
}

/* Runs the statement; a refusal (constraint, type) is as good as any
 * other outcome. */
static void run(sqlite3 *db, const char *sql, sqlite3_stmt *q, const char *what)
{
    int rc = q != NULL ? sqlite3_step(q) : sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (debug)
        fprintf(stderr, "  %s: %s\n", what,
                rc == SQLITE_DONE || rc == SQLITE_OK ? "done" : sqlite3_errmsg(db));
    sqlite3_finalize(q);
}

/* A mutation reads all its bytes first, so that one that finds nothing to
 * do (its table is empty or gone) leaves the next one as it was. */
static void mutate_value(sqlite3 *db, struct reader *r, int every_row)
{
    const struct table *t = &tables[byte(r) % (unsigned)ntables];
    int col = (int)(byte(r) % (unsigned)t->ncols);
    unsigned pick = every_row ? 0 : byte(r);
    struct value v;
    char value[160], what[400];
    read_value(r, &v, value, sizeof value);
    int rows = every_row ? 0 : row_count(db, t);
    int offset = rows > 0 ? (int)(pick % (unsigned)rows) : 0;
    if (!every_row && rows == 0)
        return;
    char sql[1024] = "UPDATE ";
    append_ident(sql, sizeof sql, t->name);
    strcat(sql, " SET ");
    append_ident(sql, sizeof sql, t->cols[col]);
    strcat(sql, " = ?1");
    if (!every_row)
        append_row_pick(sql, sizeof sql, t, 2);
    sqlite3_stmt *q = prepare(db, sql);
    if (q == NULL)
        return;
    bind_value(q, 1, &v);
    sqlite3_bind_int(q, 2, offset);
    snprintf(what, sizeof what, "%s.%s of %s = %s", t->name, t->cols[col],
             every_row ? "every row" : "one row", value);
    if (!every_row)
        snprintf(what + strlen(what), sizeof what - strlen(what), " (row %d)", offset);
    run(db, sql, q, what);
}

static void delete_row(sqlite3 *db, struct reader *r)
{
    const struct table *t = &tables[byte(r) % (unsigned)ntables];
    unsigned pick = byte(r);
    int rows = row_count(db, t);
    int offset = rows > 0 ? (int)(pick % (unsigned)rows) : 0;
    if (rows == 0)
        return;
    char sql[1024] = "DELETE FROM ";
    append_ident(sql, sizeof sql, t->name);
    append_row_pick(sql, sizeof sql, t, 1);
    sqlite3_stmt *q = prepare(db, sql);
    if (q == NULL)
        return;
    sqlite3_bind_int(q, 1, offset);
    char what[200];
    snprintf(what, sizeof what, "delete row %d of %s", offset, t->name);
    run(db, sql, q, what);
}

/* Inserts a copy of a row; its keys are made new (a fresh rowid, integers
 * moved by a delta, texts with two more hex digits, so that a serial stays
 * one) so that the copy can be stored. */
static void copy_row(sqlite3 *db, struct reader *r)
{
    const struct table *t = &tables[byte(r) % (unsigned)ntables];
    unsigned pick = byte(r);
    int delta = (int)byte(r) + 1;
    int rows = row_count(db, t);
    int offset = rows > 0 ? (int)(pick % (unsigned)rows) : 0;
    if (rows == 0)
        return;
    char sql[4096] = "INSERT INTO ";
    append_ident(sql, sizeof sql, t->name);
    strcat(sql, " SELECT ");
    for (int c = 0; c < t->ncols; c++) {
        char col[256] = "";
        append_ident(col, sizeof col, t->cols[c]);
        size_t used = strlen(sql);
        int n;
        if (c == t->rowid_col)
            n = snprintf(sql + used, sizeof sql - used, "%sNULL", c > 0 ? ", " : "");
        else if (t->is_key[c])
            n = snprintf(sql + used, sizeof sql - used,
                         "%sCASE typeof(%s) WHEN 'integer' THEN %s + ?2 WHEN 'text' THEN %s || "
                         "printf('%%02X', ?2 %% 256) ELSE %s END", c > 0 ? ", " : "", col, col,
                         col, col);
        else
            n = snprintf(sql + used, sizeof sql - used, "%s%s", c > 0 ? ", " : "", col);
        check(n > 0 && (size_t)n < sizeof sql - used);
    }
    strcat(sql, " FROM ");
    append_ident(sql, sizeof sql, t->name);
    append_row_pick(sql, sizeof sql, t, 1);
    sqlite3_stmt *q = prepare(db, sql);
    if (q == NULL)
        return;
    sqlite3_bind_int(q, 1, offset);
    sqlite3_bind_int(q, 2, delta);
    char what[200];
    snprintf(what, sizeof what, "copy row %d of %s (keys + %d)", offset, t->name, delta);
    run(db, sql, q, what);
}

static void change_schema(sqlite3 *db, struct reader *r)
{
    unsigned op = byte(r) % 5;
    unsigned arg = byte(r);
    char sql[512] = "";
    switch (op) {
    case 0:
        snprintf(sql, sizeof sql, "PRAGMA user_version = %u", arg % 8);
        break;
    case 1:
        snprintf(sql, sizeof sql, "PRAGMA application_id = %u", arg);
        break;
    case 2:
        strcpy(sql, "DELETE FROM ");
        append_ident(sql, sizeof sql, tables[arg % (unsigned)ntables].name);
        break;
    case 3:
        strcpy(sql, "DROP TABLE ");
        append_ident(sql, sizeof sql, tables[arg % (unsigned)ntables].name);
        break;
    default:
        if (nindexes == 0)
            return;
        strcpy(sql, "DROP INDEX ");
        append_ident(sql, sizeof sql, index_names[arg % (unsigned)nindexes]);
        break;
    }
    run(db, sql, NULL, sql);
}

struct flip {
    size_t offset;
    unsigned char mask; /* 0: cut the file there */
};

/* Applies the SQL mutations of the input and collects its byte flips. */
static size_t mutate(const uint8_t *data, size_t size, struct flip *flips)
{
    struct reader r = {data, data + size};
    sqlite3 *db = NULL;
    size_t nflips = 0;
    for (int i = 0; i < MUTATIONS_MAX && r.p < r.end; i++) {
        unsigned op = byte(&r) % 6;
        if (op == 3) {
            size_t offset = (size_t)byte(&r) << 16;
            offset |= (size_t)byte(&r) << 8;
            offset |= byte(&r);
            flips[nflips].offset = offset;
            flips[nflips].mask = (unsigned char)byte(&r);
            nflips++;
            continue;
        }
        if (db == NULL)
            db = open_db(store_path);
        switch (op) {
        case 0: mutate_value(db, &r, 0); break;
        case 1: delete_row(db, &r); break;
        case 2: copy_row(db, &r); break;
        case 4: mutate_value(db, &r, 1); break;
        default: change_schema(db, &r); break;
        }
    }
    if (db != NULL)
        check(sqlite3_close(db) == SQLITE_OK);
    return nflips;
}

static void apply_flips(const struct flip *flips, size_t n)
{
    if (n == 0)
        return;
    int fd = open(store_path, O_RDWR);
    check(fd >= 0);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        check(fstat(fd, &st) == 0);
        if (st.st_size == 0)
            break;
        off_t at = (off_t)(flips[i].offset % (size_t)st.st_size);
        if (debug)
            fprintf(stderr, "  %s at %lld\n", flips[i].mask == 0 ? "cut" : "flip",
                    (long long)at);
        if (flips[i].mask == 0) {
            check(ftruncate(fd, at) == 0);
            continue;
        }
        unsigned char b;
        check(pread(fd, &b, 1, at) == 1);
        b ^= flips[i].mask;
        check(pwrite(fd, &b, 1, at) == 1);
    }
    close(fd);
}

/* Removes a database with its WAL and shared memory files: a WAL left
 * from the previous input would be read into the next one. */
static void remove_db(const char *path)
{
    char side[4300];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static void write_store(void)
{
    remove_db(store_path);
    FILE *f = fopen(store_path, "wb");
    check(f != NULL);
    check(fwrite(template_bytes, 1, template_len, f) == template_len);
    check(fclose(f) == 0);
}

/* ---- reading everything back ----------------------------------------- */

struct readback {
    idm_ctx_t *ctx;
    int strict; /* the unmutated store: no call may fail */
    int raw;    /* bytes of the file were flipped: an index may disagree with
                 * its table, so filters are not checked, and SQLite's own
                 * writes may damage other rows */
    struct counts n;
};

/* An error return is fine, unless the store is the template. */
static int ok(const struct readback *rb, int rc)
{
    if (rc == IDM_OK)
        return 1;
    check(!rb->strict);
    check_error(rc);
    if (debug)
        fprintf(stderr, "  %s: %s\n", idm_strerror_name(rc), idm_last_error_message());
    return 0;
}

struct int_range {
    const char *key;
    int64_t min, max;
};

/* The ranges <idm/options.h> gives. */
static const struct int_range int_ranges[] = {
    {"pin_length", 4, 6},
    {"temporary_cards_per_order", 1, 9},
    {"cert_validity_days", 1, 3650},
    {"visitor_cert_validity_days", 1, 3650},
};

static const char *const string_choices[][4] = {
    {"pin_source", "user", "generated", NULL},
    {"pin_delivery", "print", "email", "none"},
    {"card_key_algorithm", "p256", "rsa2048", NULL},
};

static void check_int_option(const char *key, int64_t v)
{
    for (size_t i = 0; i < sizeof int_ranges / sizeof int_ranges[0]; i++)
        if (strcmp(int_ranges[i].key, key) == 0)
            check(v >= int_ranges[i].min && v <= int_ranges[i].max);
    if (strcmp(key, "pin_length") == 0)
        check(v == 4 || v == 6);
}

static void check_string_option(const char *key, const char *v)
{
    check(v != NULL && utf8_valid((const unsigned char *)v, strlen(v)));
    for (size_t i = 0; i < sizeof string_choices / sizeof string_choices[0]; i++) {
        if (strcmp(string_choices[i][0], key) != 0)
            continue;
        int found = 0;
        for (size_t k = 1; k < 4; k++)
            found |= string_choices[i][k] != NULL && strcmp(string_choices[i][k], v) == 0;
        check(found);
    }
}

static void read_options(struct readback *rb)
{
    size_t n = 0;
    check(idm_option_count(&n) == IDM_OK && n > 0);
    for (size_t i = 0; i < n; i++) {
        const char *key = NULL;
        idm_option_type type;
        check(idm_option_key_at(i, &key, &type) == IDM_OK && key != NULL);
        int b = -1;
        int64_t v = 0;
        const char *s = NULL;
        switch (type) {
        case IDM_OPTION_BOOL:
            if (ok(rb, idm_options_get_bool(rb->ctx, key, &b)))
                check(b == 0 || b == 1);
            break;
        case IDM_OPTION_INT:
            if (ok(rb, idm_options_get_int(rb->ctx, key, &v)))
                check_int_option(key, v);
            break;
        case IDM_OPTION_STRING:
            if (ok(rb, idm_options_get_string(rb->ctx, key, &s)))
                check_string_option(key, s);
            break;
        default:
            check(0);
        }
    }
    int64_t version = 0;
    ok(rb, idm_options_get_version(rb->ctx, &version));
}

static void check_identity(const idm_identity_t *identity)
{
    int64_t id = 0;
    const char *text = NULL;
    idm_identity_state state;
    size_t n = 0;
    check(idm_identity_get_id(identity, &id) == IDM_OK && id > 0);
    check(idm_identity_get_external_id(identity, &text) == IDM_OK);
    touch(text);
    check(idm_identity_get_state(identity, &state) == IDM_OK);
    check((int)state >= IDM_IDENTITY_REGISTERED && (int)state <= IDM_IDENTITY_TERMINATED);
    check(idm_identity_get_attribute_count(identity, &n) == IDM_OK);
    const char *previous = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *key = NULL, *value = NULL, *again = NULL;
        check(idm_identity_get_attribute_at(identity, i, &key, &value) == IDM_OK);
        check(key != NULL && value != NULL);
        touch(value);
        check(previous == NULL || strcmp(previous, key) < 0); /* in key order */
        check(idm_identity_get_attribute(identity, key, &again) == IDM_OK && again == value);
        previous = key;
    }
    check(idm_identity_get_attribute_at(identity, n, &text, NULL) == IDM_ERR_INVALID_ARG);
    check(idm_identity_get_common_name(identity, &text) == IDM_OK);
    touch(text);
    check(idm_identity_get_upn(identity, &text) == IDM_OK);
    touch(text);
}

static void read_identities(struct readback *rb)
{
    idm_identity_iter_t *it = NULL;
    check(idm_identity_iter_new(rb->ctx, &it) == IDM_OK);
    int64_t previous = 0;
    for (;;) {
        idm_identity_t *identity = NULL;
        if (!ok(rb, idm_identity_iter_next(it, &identity)) || identity == NULL)
            break;
        rb->n.identities++;
        check_identity(identity);
        int64_t id = 0;
        check(idm_identity_get_id(identity, &id) == IDM_OK && id > previous);
        previous = id;
        check(idm_identity_refresh(identity) == IDM_OK); /* the same row loads again */
        check_identity(identity);
        idm_identity_free(&identity);
    }
    idm_identity_iter_free(&it);

    check(idm_identity_iter_new(rb->ctx, &it) == IDM_OK);
    check(idm_identity_iter_set_state(it, IDM_IDENTITY_ACTIVE) == IDM_OK);
    for (;;) {
        idm_identity_t *identity = NULL;
        if (!ok(rb, idm_identity_iter_next(it, &identity)) || identity == NULL)
            break;
        idm_identity_state state;
        check(idm_identity_get_state(identity, &state) == IDM_OK);
        check(rb->raw || state == IDM_IDENTITY_ACTIVE);
        idm_identity_free(&identity);
    }
    idm_identity_iter_free(&it);
}

static void check_cert(const idm_cert_t *cert, int64_t card)
{
    int64_t v = 0, not_before = 0, not_after = 0;
    const char *serial = NULL;
    const unsigned char *der = NULL;
    size_t len = 0;
    idm_cert_state state;
    idm_key_usage usage;
    idm_revocation_reason reason;
    check(idm_cert_get_id(cert, &v) == IDM_OK && v > 0);
    check(idm_cert_get_card_id(cert, &v) == IDM_OK && v == card);
    check(idm_cert_get_serial(cert, &serial) == IDM_OK && serial != NULL);
    check(serial_valid(serial));
    check(idm_cert_get_der(cert, &der, &len) == IDM_OK);
    check(len == 0 || der != NULL);
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += der[i];
    (void)sum;
    check(idm_cert_get_validity(cert, &not_before, &not_after) == IDM_OK);
    check(idm_cert_get_state(cert, &state) == IDM_OK);
    check((int)state >= IDM_CERT_VALID && (int)state <= IDM_CERT_EXPIRED);
    check(idm_cert_get_usage(cert, &usage) == IDM_OK);
    check((int)usage >= IDM_USAGE_AUTHENTICATION && (int)usage <= IDM_USAGE_CARD_AUTHENTICATION);
    int rc = idm_cert_get_revocation(cert, &reason, &v);
    if (rc == IDM_OK)
        check(((int)reason >= IDM_REVOKE_UNSPECIFIED && (int)reason <= IDM_REVOKE_CERTIFICATE_HOLD) ||
              reason == IDM_REVOKE_PRIVILEGE_WITHDRAWN);
    else
        check(rc == IDM_ERR_STATE && idm_last_error_message()[0] != '\0');
}

static void read_certs(struct readback *rb, int64_t card)
{
    idm_cert_iter_t *it = NULL;
    check(idm_cert_iter_new(rb->ctx, card, &it) == IDM_OK);
    int64_t previous = 0;
    for (;;) {
        idm_cert_t *cert = NULL, *again = NULL;
        if (!ok(rb, idm_cert_iter_next(it, &cert)) || cert == NULL)
            break;
        rb->n.certs++;
        check_cert(cert, card);
        int64_t id = 0;
        const char *serial = NULL;
        check(idm_cert_get_id(cert, &id) == IDM_OK && id > previous);
        previous = id;
        check(idm_cert_open(rb->ctx, id, &again) == IDM_OK);
        check_cert(again, card);
        idm_cert_free(&again);
        check(idm_cert_get_serial(cert, &serial) == IDM_OK);
        if (ok(rb, idm_cert_open_serial(rb->ctx, serial, &again))) {
            int64_t other = 0;
            check(idm_cert_get_card_id(again, &other) == IDM_OK);
            check_cert(again, other);
            idm_cert_free(&again);
        }
        idm_cert_free(&cert);
    }
    idm_cert_iter_free(&it);
}

static void check_card(const idm_card_t *card)
{
    int64_t v = 0;
    const char *text = NULL;
    idm_card_type type;
    idm_card_option option;
    idm_production production;
    idm_card_state state;
    check(idm_card_get_id(card, &v) == IDM_OK && v > 0);
    check(idm_card_get_number(card, &text) == IDM_OK && text != NULL);
    touch(text);
    check(idm_card_get_type(card, &type) == IDM_OK);
    check((int)type >= IDM_CARD_EMPLOYEE && (int)type <= IDM_CARD_TEMPORARY);
    check(idm_card_get_option(card, &option) == IDM_OK);
    check((int)option == IDM_CARD_PHYSICAL || (int)option == IDM_CARD_DIGITAL);
    check(idm_card_get_production(card, &production) == IDM_OK);
    check((int)production == IDM_PRODUCTION_LOCAL || (int)production == IDM_PRODUCTION_EXTERNAL);
    check(idm_card_get_state(card, &state) == IDM_OK);
    check((int)state >= IDM_CARD_REGISTERED && (int)state <= IDM_CARD_ASSIGNED);
    check(idm_card_get_identity_id(card, &v) == IDM_OK && v >= 0);
    check(idm_card_get_order_id(card, &v) == IDM_OK && v >= 0);
    check(idm_card_get_name(card, &text) == IDM_OK);
    touch(text);
    check(idm_card_get_chip_serial(card, &text) == IDM_OK);
    touch(text);
    check(idm_card_get_shipment(card, &text) == IDM_OK);
    touch(text);
    check(idm_card_get_requester(card, &text) == IDM_OK);
    touch(text);
}

static void read_cards(struct readback *rb)
{
    idm_card_iter_t *it = NULL;
    check(idm_card_iter_new(rb->ctx, &it) == IDM_OK);
    int64_t previous = 0;
    for (;;) {
        idm_card_t *card = NULL, *again = NULL;
        if (!ok(rb, idm_card_iter_next(it, &card)) || card == NULL)
            break;
        rb->n.cards++;
        check_card(card);
        int64_t id = 0;
        check(idm_card_get_id(card, &id) == IDM_OK && id > previous);
        previous = id;
        read_certs(rb, id);
        check(idm_card_refresh(card) == IDM_OK);
        check_card(card);
        const char *number = NULL;
        check(idm_card_get_number(card, &number) == IDM_OK);
        if (ok(rb, idm_card_open_number(rb->ctx, number, &again))) {
            check_card(again);
            idm_card_free(&again);
        }
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);

    /* a filter holds for what it lets through */
    check(idm_card_iter_new(rb->ctx, &it) == IDM_OK);
    check(idm_card_iter_set_state(it, IDM_CARD_APPROVED) == IDM_OK);
    check(idm_card_iter_set_type(it, IDM_CARD_EMPLOYEE) == IDM_OK);
    for (;;) {
        idm_card_t *card = NULL;
        if (!ok(rb, idm_card_iter_next(it, &card)) || card == NULL)
            break;
        idm_card_state state;
        idm_card_type type;
        check(idm_card_get_state(card, &state) == IDM_OK);
        check(idm_card_get_type(card, &type) == IDM_OK);
        check(rb->raw || (state == IDM_CARD_APPROVED && type == IDM_CARD_EMPLOYEE));
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);
}

static void check_order(const idm_order_t *order)
{
    int64_t v = 0;
    const char *text = NULL;
    idm_order_kind kind;
    idm_card_type type;
    idm_card_option option;
    idm_order_state state;
    check(idm_order_get_id(order, &v) == IDM_OK && v > 0);
    check(idm_order_get_external_id(order, &text) == IDM_OK);
    touch(text);
    check(idm_order_get_kind(order, &kind) == IDM_OK);
    check((int)kind == IDM_ORDER_MASS_PRODUCTION || (int)kind == IDM_ORDER_EXTERNAL);
    check(idm_order_get_card_kind(order, &type, &option) == IDM_OK);
    check((int)type >= IDM_CARD_EMPLOYEE && (int)type <= IDM_CARD_TEMPORARY);
    check((int)option == IDM_CARD_PHYSICAL || (int)option == IDM_CARD_DIGITAL);
    check(idm_order_get_state(order, &state) == IDM_OK);
    check((int)state >= IDM_ORDER_OPEN && (int)state <= IDM_ORDER_ABORTED);
    check(idm_order_get_options_version(order, &v) == IDM_OK);
    /* the snapshot answers every option of its type */
    size_t n = 0;
    check(idm_option_count(&n) == IDM_OK);
    for (size_t i = 0; i < n; i++) {
        const char *key = NULL;
        idm_option_type otype;
        int b = -1;
        check(idm_option_key_at(i, &key, &otype) == IDM_OK);
        if (otype == IDM_OPTION_BOOL) {
            check(idm_order_get_option_bool(order, key, &b) == IDM_OK && (b == 0 || b == 1));
        } else if (otype == IDM_OPTION_INT) {
            check(idm_order_get_option_int(order, key, &v) == IDM_OK);
            check_int_option(key, v);
        } else {
            check(idm_order_get_option_string(order, key, &text) == IDM_OK);
            check_string_option(key, text);
        }
    }
}

static void read_order_cards(struct readback *rb, const idm_order_t *order, int64_t order_id)
{
    idm_buffer_t *reason = NULL;
    check(idm_buffer_new(&reason) == IDM_OK);
    idm_card_iter_t *it = NULL;
    check(idm_card_iter_new(rb->ctx, &it) == IDM_OK);
    check(idm_card_iter_set_order(it, order_id) == IDM_OK);
    for (;;) {
        idm_card_t *card = NULL;
        if (!ok(rb, idm_card_iter_next(it, &card)) || card == NULL)
            break;
        check_card(card);
        int64_t id = 0;
        idm_order_card_outcome outcome;
        int attempt = -1;
        check(idm_card_get_id(card, &id) == IDM_OK);
        if (ok(rb, idm_order_get_card_outcome(order, id, &outcome, &attempt, reason))) {
            check((int)outcome >= IDM_OUTCOME_PENDING && (int)outcome <= IDM_OUTCOME_FAILED);
            check(attempt >= 0);
            const unsigned char *bytes = NULL;
            size_t len = 0;
            check(idm_buffer_get(reason, &bytes, &len) == IDM_OK);
            check(len == 0 || (bytes != NULL && memchr(bytes, 0, len) == NULL));
        }
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);
    idm_buffer_free(&reason);

    for (int o = IDM_OUTCOME_PENDING; o <= IDM_OUTCOME_FAILED; o++) {
        int64_t count = -1;
        if (ok(rb, idm_order_count_cards(order, (idm_order_card_outcome)o, &count)))
            check(count >= 0);
        check(idm_card_iter_new(rb->ctx, &it) == IDM_OK);
        check(idm_card_iter_set_order_outcome(it, order_id, (idm_order_card_outcome)o) == IDM_OK);
        for (;;) {
            idm_card_t *card = NULL;
            if (!ok(rb, idm_card_iter_next(it, &card)) || card == NULL)
                break;
            idm_order_card_outcome outcome;
            int64_t id = 0;
            check(idm_card_get_id(card, &id) == IDM_OK);
            if (ok(rb, idm_order_get_card_outcome(order, id, &outcome, NULL, NULL)))
                check(rb->raw || (int)outcome == o);
            idm_card_free(&card);
        }
        idm_card_iter_free(&it);
    }
}

static void read_orders(struct readback *rb)
{
    idm_order_iter_t *it = NULL;
    check(idm_order_iter_new(rb->ctx, &it) == IDM_OK);
    int64_t previous = 0;
    for (;;) {
        idm_order_t *order = NULL;
        if (!ok(rb, idm_order_iter_next(it, &order)) || order == NULL)
            break;
        rb->n.orders++;
        check_order(order);
        int64_t id = 0;
        check(idm_order_get_id(order, &id) == IDM_OK && id > previous);
        previous = id;
        read_order_cards(rb, order, id);
        check(idm_order_refresh(order) == IDM_OK);
        check_order(order);
        const char *external_id = NULL;
        idm_order_t *again = NULL;
        check(idm_order_get_external_id(order, &external_id) == IDM_OK);
        if (external_id != NULL && ok(rb, idm_order_open_external(rb->ctx, external_id, &again))) {
            check_order(again);
            idm_order_free(&again);
        }
        idm_order_free(&order);
    }
    idm_order_iter_free(&it);
}

static void check_event(const idm_audit_event_t *e)
{
    int64_t seq = 0, time_ms = 0, id = 0;
    const char *text = NULL, *from = NULL, *to = NULL;
    idm_object_type type;
    check(idm_audit_event_get_seq(e, &seq, &time_ms) == IDM_OK && seq > 0);
    check(idm_audit_event_get_actor(e, &text) == IDM_OK && text != NULL);
    touch(text);
    check(idm_audit_event_get_object(e, &type, &id) == IDM_OK);
    check((int)type >= IDM_OBJECT_IDENTITY && (int)type <= IDM_OBJECT_CA);
    check(idm_audit_event_get_states(e, &from, &to) == IDM_OK);
    touch(from);
    touch(to);
    check(idm_audit_event_get_detail(e, &text) == IDM_OK && text != NULL);
    touch(text);
}

/* Iterates the audit trail, with a filter when filter is 1 (an object) or
 * 2 (a time range); every event must match it. */
static void read_events(struct readback *rb, int filter, idm_object_type type, int64_t id,
                        int64_t from_ms, int64_t to_ms)
{
    idm_audit_iter_t *it = NULL;
    check(idm_audit_iter_new(rb->ctx, &it) == IDM_OK);
    if (filter == 1)
        check(idm_audit_iter_set_object(it, type, id) == IDM_OK);
    else if (filter == 2)
        check(idm_audit_iter_set_time_range(it, from_ms, to_ms) == IDM_OK);
    int64_t previous = 0;
    for (;;) {
        idm_audit_event_t *e = NULL;
        if (!ok(rb, idm_audit_iter_next(it, &e)) || e == NULL)
            break;
        check_event(e);
        int64_t seq = 0, time_ms = 0, object_id = 0;
        idm_object_type object_type;
        check(idm_audit_event_get_seq(e, &seq, &time_ms) == IDM_OK && seq > previous);
        previous = seq;
        check(idm_audit_event_get_object(e, &object_type, &object_id) == IDM_OK);
        if (filter == 0)
            rb->n.events++;
        else if (filter == 1)
            check(rb->raw || (object_type == type && object_id == id));
        else
            check(rb->raw || (time_ms >= from_ms && time_ms <= to_ms));
        idm_audit_event_free(&e);
    }
    idm_audit_iter_free(&it);
}

/* idm_audit_verify(): a broken event is named exactly when it fails. */
static int verify_audit(struct readback *rb)
{
    int64_t broken = -1;
    int rc = idm_audit_verify(rb->ctx, &broken);
    if (rc == IDM_OK) {
        check(broken == 0);
    } else if (rc == IDM_ERR_INTEGRITY) {
        check(broken > 0 && !rb->strict);
        if (debug)
            fprintf(stderr, "  verify: %s\n", idm_last_error_message());
    } else {
        ok(rb, rc);
    }
    return rc;
}

static void generate_crl(struct readback *rb, int intact)
{
    idm_buffer_t *crl = NULL;
    check(idm_buffer_new(&crl) == IDM_OK);
    if (ok(rb, idm_ca_generate_crl(ca, rb->ctx, 24, crl))) {
        const unsigned char *der = NULL;
        size_t len = 0;
        check(idm_buffer_get(crl, &der, &len) == IDM_OK && len > 0);
        const unsigned char *p = der;
        X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)len);
        check(x != NULL && p == der + len);
        X509_CRL_free(x);
        /* the CRL's event extends an intact chain (in a file with flipped
         * bytes, SQLite's own write may damage other rows) */
        if (intact && !rb->raw)
            check(verify_audit(rb) == IDM_OK);
    }
    idm_buffer_free(&crl);
}

static void read_back(struct readback *rb)
{
    rb->ctx = new_ctx();
    if (!ok(rb, idm_ctx_open_store(rb->ctx, store_path))) {
        idm_ctx_free(&rb->ctx);
        return;
    }
    read_options(rb);
    read_identities(rb);
    read_cards(rb);
    read_orders(rb);
    int intact = verify_audit(rb) == IDM_OK;
    read_events(rb, 0, IDM_OBJECT_IDENTITY, 0, 0, 0);
    read_events(rb, 1, IDM_OBJECT_CARD, 1, 0, 0);
    read_events(rb, 1, IDM_OBJECT_OPTION, 0, 0, 0);
    read_events(rb, 2, IDM_OBJECT_IDENTITY, 0, CLOCK_START + 20000, CLOCK_START + 60000);
    generate_crl(rb, intact);
    idm_ctx_free(&rb->ctx);
    check(ERR_peek_error() == 0);
}

/* ---- entry points ---------------------------------------------------- */

/* The selectors of the mutations, for writing seeds. */
static void print_tables(const char *path)
{
    sqlite3 *db = open_db(path);
    for (int i = 0; i < ntables; i++) {
        fprintf(stderr, "table %d %s (%d rows, key %s):", i, tables[i].name,
                row_count(db, &tables[i]), tables[i].key);
        for (int c = 0; c < tables[i].ncols; c++)
            fprintf(stderr, " %d:%s%s", c, tables[i].cols[c], tables[i].is_key[c] ? "*" : "");
        fprintf(stderr, "\n");
    }
    check(sqlite3_close(db) == SQLITE_OK);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    debug = getenv("FUZZ_STORE_DEBUG") != NULL;
    const char *dir = fuzz_scratch_dir();
    char template_path[4200];
    snprintf(template_path, sizeof template_path, "%s/template.db", dir);
    snprintf(store_path, sizeof store_path, "%s/store.db", dir);
    reset_sources();
    build_template(template_path);
    read_schema(template_path);
    if (debug)
        print_tables(template_path);
    remove_db(template_path);

    /* the template reads back completely: the target works */
    struct readback rb = {.strict = 1};
    reset_sources();
    write_store();
    read_back(&rb);
    template_counts = rb.n;
    check(template_counts.identities == 7 && template_counts.cards == 10 &&
          template_counts.orders == 2 && template_counts.certs == 5 &&
          template_counts.events > 50);
    ERR_clear_error();
    return 0;
}

void fuzz_teardown(void)
{
    for (int i = 0; i < ntables; i++) {
        for (int c = 0; c < tables[i].ncols; c++)
            free(tables[i].cols[c]);
        free(tables[i].cols);
        free(tables[i].is_key);
        free(tables[i].name);
        free(tables[i].key);
    }
    free(tables);
    tables = NULL;
    ntables = 0;
    for (int i = 0; i < nindexes; i++)
        free(index_names[i]);
    free(index_names);
    index_names = NULL;
    nindexes = 0;
    free(template_bytes);
    template_bytes = NULL;
    idm_ca_free(&ca);
    idm_ctx_free(&ca_ctx);
    fuzz_remove_scratch();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct flip flips[MUTATIONS_MAX];
    reset_sources();
    write_store();
    if (debug)
        fprintf(stderr, "store: %zu bytes of input\n", size);
    size_t nflips = mutate(data, size, flips);
    apply_flips(flips, nflips);

    struct readback rb = {.strict = size == 0, .raw = nflips > 0};
    read_back(&rb);
    if (size == 0)
        check(memcmp(&rb.n, &template_counts, sizeof rb.n) == 0);
    return 0;
}
