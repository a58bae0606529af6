/*
 * The store's invariants, checked from outside the library's code paths:
 * what must hold in a store after any run, however it ended (a crash, a
 * fault, several writers).  The crash, fault and load tests run it after
 * each round; the CLI tests run it on the stores they leave.
 *
 *   check_store STORE
 *
 * Reads the file with SQLite directly (read-only), and through the public
 * API only for the audit chain.  Prints one line per broken invariant and
 * exits 1 if there is any, 0 with "store consistent: ..." otherwise:
 *
 *   - SQLite's own integrity and foreign key checks pass;
 *   - every identity, card and order is in a state of its graph
 *     (src/model/states.c), every certificate in a certificate state;
 *   - a certificate follows its card: valid only on an active or assigned
 *     card, never valid or on hold on a card whose certificates are revoked
 *     (failed, locked, rejected, aborted);
 *   - certificate serials and card numbers and chip serials are unique (the
 *     schema says so; checked again as counts);
 *   - an order's card outcome agrees with the card: produced means the card
 *     went through (issued or later), claimed names a station; a completed
 *     order has no pending or claimed card; a card is pending or claimed in
 *     at most one open or running order;
 *   - a card has at most one live bureau message (pending, refused by the
 *     producer, or sent), and only an external or temporary card has any;
 *   - the audit trail's hash chain is intact (idm_audit_verify()).
 *
 * An empty database (no schema: a store whose creation failed before its
 * schema committed) passes as "ok: an empty store"; a partial schema does
 * not.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/states.h"
#include "store/store.h"
#include <idm/idm.h>

static int broken;

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("broken: ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    broken++;
}

/* Runs sql; for each row calls fn(stmt). */
static void each_row(sqlite3 *db, const char *sql, void (*fn)(sqlite3_stmt *))
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        say("cannot read the store (%s): %s", sql, sqlite3_errmsg(db));
        return;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(st);
    if (rc != SQLITE_DONE)
        say("cannot read the store (%s): %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

/* Every row of sql is a broken invariant, described by its first column. */
static void none(sqlite3 *db, const char *what, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        say("cannot check %s: %s", what, sqlite3_errmsg(db));
        return;
    }
    int rc, shown = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (shown++ < 20)
            say("%s: %s", what, (const char *)sqlite3_column_text(st, 0));
        else
            broken++;
    }
    if (rc != SQLITE_DONE)
        say("cannot check %s: %s", what, sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

static void integrity_row(sqlite3_stmt *st)
{
    const char *text = (const char *)sqlite3_column_text(st, 0);
    if (text == NULL || strcmp(text, "ok") != 0)
        say("SQLite integrity check: %s", text != NULL ? text : "(null)");
}

static void foreign_key_row(sqlite3_stmt *st)
{
    say("foreign key: a row of %s (rowid %lld) names a missing %s",
        (const char *)sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1),
        (const char *)sqlite3_column_text(st, 2));
}

static void identity_row(sqlite3_stmt *st)
{
    int state = sqlite3_column_int(st, 1);
    if (!idm_graph_has_state(&idm_identity_graph, state))
        say("identity %lld is in state %d, not a state of the identity graph",
            (long long)sqlite3_column_int64(st, 0), state);
}

static void order_row(sqlite3_stmt *st)
{
    int state = sqlite3_column_int(st, 1);
    if (!idm_graph_has_state(&idm_order_graph, state))
        say("order %lld is in state %d, not a state of the order graph",
            (long long)sqlite3_column_int64(st, 0), state);
}

static void card_row(sqlite3_stmt *st)
{
    int type = sqlite3_column_int(st, 1), production = sqlite3_column_int(st, 2);
    int state = sqlite3_column_int(st, 3);
    const struct idm_graph *g = idm_card_graph((idm_card_type)type, (idm_production)production);
    if (!idm_graph_has_state(g, state))
        say("card %lld is in state %d ('%s'), not a state of the %s graph",
            (long long)sqlite3_column_int64(st, 0), state, idm_card_state_name(state), g->name);
}

static void cert_row(sqlite3_stmt *st)
{
    long long id = sqlite3_column_int64(st, 0);
    int state = sqlite3_column_int(st, 1), card_state = sqlite3_column_int(st, 2);
    const char *serial = (const char *)sqlite3_column_text(st, 3);
    if (state < IDM_CERT_VALID || state > IDM_CERT_EXPIRED) {
        say("certificate %lld (%s) is in state %d", id, serial, state);
        return;
    }
    idm_cert_state implied = IDM_CERT_VALID;
    int follows = idm_cert_state_for_card((idm_card_state)card_state, &implied);
    int live = state == IDM_CERT_VALID || state == IDM_CERT_ON_HOLD;
    if (state == IDM_CERT_VALID && !(follows && implied == IDM_CERT_VALID))
        say("certificate %s is valid on a card in state '%s'", serial,
            idm_card_state_name(card_state));
    else if (live && follows && (implied == IDM_CERT_REVOKED || implied == IDM_CERT_EXPIRED))
        say("certificate %s is %s on a card in state '%s'", serial, idm_cert_state_name(state),
            idm_card_state_name(card_state));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: check_store STORE\n");
        return 2;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        printf("broken: cannot open %s: %s\n", argv[1], db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return 1;
    }
    sqlite3_busy_timeout(db, 10000);
    /* A store whose creation failed before its schema committed is an
     * empty database: consistent, and opening it creates the schema. */
    sqlite3_stmt *schema = NULL;
    int objects = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &schema, NULL) ==
            SQLITE_OK &&
        sqlite3_step(schema) == SQLITE_ROW)
        objects = sqlite3_column_int(schema, 0);
    sqlite3_finalize(schema);
    if (objects == 0) {
        sqlite3_close(db);
        printf("ok: an empty store (no schema yet)\n");
        return 0;
    }
    each_row(db, "PRAGMA integrity_check", integrity_row);
    each_row(db, "PRAGMA foreign_key_check", foreign_key_row);
    each_row(db, "SELECT id, state FROM identities", identity_row);
    each_row(db, "SELECT id, state FROM orders", order_row);
    each_row(db, "SELECT id, type, production, state FROM cards", card_row);
    each_row(db,
             "SELECT c.id, c.state, k.state, c.serial FROM certificates c "
             "JOIN cards k ON k.id = c.card_id",
             cert_row);
    none(db, "duplicate certificate serial",
         "SELECT serial FROM certificates GROUP BY serial HAVING count(*) > 1");
    none(db, "duplicate chip serial",
         "SELECT chip_serial FROM cards WHERE chip_serial IS NOT NULL "
         "GROUP BY chip_serial HAVING count(*) > 1");
    /* outcomes: 0 pending, 1 claimed, 2 produced, 3 skipped, 4 failed */
    none(db, "a produced card that did not go through",
         "SELECT 'card ' || k.id || ' is produced in order ' || o.order_id || ' but in state ' "
         "|| k.state FROM order_cards o JOIN cards k ON k.id = o.card_id "
         "WHERE o.outcome = 2 AND k.state IN (0, 1, 2, 3, 4)");
    none(db, "a claim without a station",
         "SELECT 'card ' || card_id || ' of order ' || order_id FROM order_cards "
         "WHERE outcome = 1 AND (station IS NULL OR claimed_ms IS NULL)");
    none(db, "a completed order with cards left",
         "SELECT 'order ' || o.id || ' is completed with card ' || c.card_id || ' pending or "
         "claimed' FROM orders o JOIN order_cards c ON c.order_id = o.id "
         "WHERE o.state = 2 AND c.outcome IN (0, 1)");
    none(db, "a card pending in two open orders",
         "SELECT 'card ' || c.card_id || ' in orders ' || group_concat(c.order_id) "
         "FROM order_cards c JOIN orders o ON o.id = c.order_id "
         "WHERE o.state IN (0, 1) AND c.outcome IN (0, 1) "
         "GROUP BY c.card_id HAVING count(*) > 1");
    none(db, "a card with two live bureau messages",
         "SELECT 'card ' || card_id || ': ' || group_concat(message_id) FROM bureau_messages "
         "WHERE state IN (0, 1, 2) GROUP BY card_id HAVING count(*) > 1");
    none(db, "a bureau message for a card made here",
         "SELECT 'card ' || k.id || ': ' || m.message_id FROM bureau_messages m "
         "JOIN cards k ON k.id = m.card_id WHERE k.production = 0 AND k.type != 5");
    sqlite3_int64 cards = 0, certs = 0, events = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM cards), (SELECT count(*) FROM "
                           "certificates), (SELECT count(*) FROM audit)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        cards = sqlite3_column_int64(st, 0);
        certs = sqlite3_column_int64(st, 1);
        events = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);

    idm_ctx_t *ctx = NULL;
    int64_t first_bad = 0;
    if (idm_ctx_new(&ctx) != IDM_OK || idm_ctx_open_store(ctx, argv[1]) != IDM_OK)
        say("the library cannot open the store: %s", idm_last_error_message());
    else if (idm_audit_verify(ctx, &first_bad) != IDM_OK)
        say("the audit chain breaks at event %" PRId64 ": %s", first_bad,
            idm_last_error_message());
    idm_ctx_free(&ctx);

    if (broken > 0) {
        printf("%d invariant%s broken in %s\n", broken, broken == 1 ? "" : "s", argv[1]);
        return 1;
    }
    printf("store consistent: %lld cards, %lld certificates, %lld audit events\n",
           (long long)cards, (long long)certs, (long long)events);
    return 0;
}
