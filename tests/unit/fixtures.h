/* Helpers shared by the black-box suites: a context on a fresh store. */
#ifndef IDM_TESTS_FIXTURES_H
#define IDM_TESTS_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include <idm/idm.h>

/*
 * A fresh store file path under $IDM_TEST_TMPDIR (or /tmp), unique per call;
 * any file of that name and its -wal/-shm companions are removed first.
 * Returns a static buffer valid until the next call.
 */
const char *fixture_store_path(const char *name);

/* A context with a deterministic clock (starting at 2026-01-01T00:00:00Z and
 * advancing 1 s per read) and store at path (":memory:" allowed).  Fails the
 * running Check test on error. */
idm_ctx_t *fixture_ctx(const char *path);

/* Removes a store file and its -wal/-shm companions. */
void fixture_remove_store(const char *path);

/* A new empty folder "<name>-XXXXXX" under $IDM_TEST_TMPDIR (or /tmp),
 * made with mkdtemp, into out. */
void fixture_scratch_dir(const char *name, char *out, size_t size);

/* rm -rf path, after giving back the permissions a test took away from
 * its folders; never follows a link.  Nothing for "" or a missing path. */
void fixture_remove_tree(const char *path);

/* An active identity with givenName/surname/employeeNumber set. */
idm_identity_t *fixture_person(idm_ctx_t *ctx, const char *external_id, const char *given,
                               const char *surname);

/*
 * A self-signed DER certificate made with libcrypto (P-256 key), with the
 * given serial (upper-case hex without leading zeros, e.g. "1A2B") and
 * validity [not_before, not_after] in seconds since the epoch.  The caller
 * frees *der with free().
 */
void fixture_certificate(const char *serial_hex, int64_t not_before, int64_t not_after,
                         unsigned char **der, size_t *der_len);

/* A card's certificates, counted: live (valid or on hold), revoked as
 * superseded, revoked for any other reason.  Fails the running test on
 * error. */
void fixture_count_certs(idm_ctx_t *ctx, int64_t card_id, int *live, int *superseded,
                         int *other_revoked);

/* A card's state, read from the store. */
idm_card_state fixture_card_state(idm_ctx_t *ctx, int64_t card_id);

/* A card handle's state after refreshing it. */
idm_card_state fixture_state_of(idm_card_t *card);

/* The number the sqlite3 shell prints for a one-value query on the store
 * file at path (a count, say), read beside the library. */
long fixture_count_rows(const char *path, const char *sql);

/* An order's state, after refreshing the handle. */
idm_order_state fixture_order_state(idm_order_t *order);

/* How many of an order's cards have an outcome. */
int64_t fixture_count_outcome(const idm_order_t *order, idm_order_card_outcome outcome);

/* A card's outcome in an order; its reason into reason (size bytes, may be
 * NULL) and its attempt into *attempt (may be NULL). */
idm_order_card_outcome fixture_card_outcome(const idm_order_t *order, int64_t card_id,
                                            char *reason, size_t size, int *attempt);

/* The passphrase callback for the CA keys fixture_export_ca() writes. */
int fixture_passphrase(char *buf, size_t size, void *user_data);

/* A built-in CA as PEM (certificate, and key encrypted with the fixture
 * passphrase), for stations that load it in contexts of their own.  The
 * caller frees both strings with free(). */
void fixture_export_ca(idm_ca_t *ca, char **cert_pem, char **key_pem);

/* Writes len bytes to a new or truncated file at path; fails the test
 * when it cannot. */
void fixture_write_file(const char *path, const void *data, size_t len);

/* The whole file (caller frees) and its length, or NULL when it cannot be
 * opened. */
unsigned char *fixture_read_file(const char *path, size_t *len);

#endif /* IDM_TESTS_FIXTURES_H */
