#include "store/sqlite_schema.h"

/*
 * States and kinds are stored as the numeric values of the public enums,
 * which the ABI already fixes.  Times are milliseconds since the Unix epoch.
 */
static const char migration_1[] =
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO meta (key, value) VALUES ('card_seq', 0), ('options_version', 0);"

    "CREATE TABLE identities ("
    "  id INTEGER PRIMARY KEY,"
    "  external_id TEXT UNIQUE,"
    "  state INTEGER NOT NULL,"
    "  common_name TEXT,"
    "  upn TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX identities_state ON identities (state);"

    "CREATE TABLE identity_attributes ("
    "  identity_id INTEGER NOT NULL REFERENCES identities (id),"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (identity_id, key)"
    ") WITHOUT ROWID;"

    "CREATE TABLE orders ("
    "  id INTEGER PRIMARY KEY,"
    "  external_id TEXT UNIQUE,"
    "  kind INTEGER NOT NULL,"
    "  card_type INTEGER NOT NULL,"
    "  card_option INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  options_version INTEGER NOT NULL,"
    "  options_snapshot TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX orders_state ON orders (state);"

    "CREATE TABLE cards ("
    "  id INTEGER PRIMARY KEY,"
    "  number TEXT NOT NULL UNIQUE,"
    "  type INTEGER NOT NULL,"
    "  option INTEGER NOT NULL,"
    "  production INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  identity_id INTEGER REFERENCES identities (id),"
    "  name TEXT,"
    "  chip_serial TEXT UNIQUE,"
    "  order_id INTEGER REFERENCES orders (id),"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX cards_state ON cards (state);"
    "CREATE INDEX cards_identity ON cards (identity_id);"
    "CREATE INDEX cards_order ON cards (order_id);"

    "CREATE TABLE certificates ("
    "  id INTEGER PRIMARY KEY,"
    "  card_id INTEGER NOT NULL REFERENCES cards (id),"
    "  serial TEXT NOT NULL UNIQUE,"
    "  der BLOB NOT NULL,"
    "  not_before_ms INTEGER NOT NULL,"
    "  not_after_ms INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX certificates_card ON certificates (card_id);"

    "CREATE TABLE options ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL"
    ") WITHOUT ROWID;"

    "CREATE TABLE audit ("
    "  seq INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  object_type INTEGER NOT NULL,"
    "  object_id INTEGER NOT NULL,"
    "  from_state TEXT,"
    "  to_state TEXT,"
    "  detail TEXT NOT NULL,"
    "  prev_hash BLOB NOT NULL,"
    "  hash BLOB NOT NULL"
    ");"
    "CREATE INDEX audit_object ON audit (object_type, object_id);"
    "CREATE INDEX audit_time ON audit (time_ms);";

/* Certificate authorities: which CA issued a certificate (its key
 * identifier), revocation reason and time, the issue journal that makes
 * issuing idempotent, and the CRL number counter. */
static const char migration_2[] =
    "ALTER TABLE certificates ADD COLUMN usage INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE certificates ADD COLUMN issuer_key_id TEXT;"
    "ALTER TABLE certificates ADD COLUMN revocation_reason INTEGER;"
    "ALTER TABLE certificates ADD COLUMN revoked_ms INTEGER;"
    "CREATE INDEX certificates_issuer ON certificates (issuer_key_id, state);"
    "CREATE TABLE issuances ("
    "  idempotency_key TEXT PRIMARY KEY,"
    "  card_id INTEGER NOT NULL REFERENCES cards (id),"
    "  usage INTEGER NOT NULL,"
    "  certificate_id INTEGER REFERENCES certificates (id),"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO meta (key, value) VALUES ('crl_number', 0);";

/* Mass production (groundwork): the cards of an order with their outcome
 * and reason, the production attempt, and which station holds the card
 * since when, so that stations claim each card exactly once and a station
 * that died lets go of its card when its lease runs out. */
static const char migration_3[] =
    "CREATE TABLE order_cards ("
    "  order_id INTEGER NOT NULL REFERENCES orders (id),"
    "  card_id INTEGER NOT NULL REFERENCES cards (id),"
    "  position INTEGER NOT NULL,"
    "  outcome INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT,"
    "  attempt INTEGER NOT NULL DEFAULT 0,"
    "  station TEXT,"
    "  claimed_ms INTEGER,"
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (order_id, card_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX order_cards_next ON order_cards (order_id, outcome, position);"
    /* the cards that joined orders before schema 3, in card id order */
    "INSERT INTO order_cards (order_id, card_id, position, updated_ms)"
    "  SELECT order_id, id, row_number() OVER (PARTITION BY order_id ORDER BY id) - 1,"
    "  updated_ms FROM cards WHERE order_id IS NOT NULL;";

/* A card joins an order at the end: finding the end must not read the
 * whole order (a 100,000-card order was quadratic to fill). */
static const char migration_4[] =
    "CREATE INDEX order_cards_position ON order_cards (order_id, position);";

/* External production: who ordered a card and its shipment; the bureau
 * message journal (one row per card order message, recorded before it is
 * submitted, so a retry after a crash sends the same message id); the
 * notifications, recorded with the step that causes them and delivered
 * afterwards; and a random id of this store that makes message ids unique
 * across stores talking to one bureau. */
static const char migration_5[] =
    "ALTER TABLE cards ADD COLUMN requested_by TEXT;"
    "ALTER TABLE cards ADD COLUMN shipment TEXT;"
    "CREATE TABLE store_info ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO store_info (key, value) VALUES ('store_id', lower(hex(randomblob(6))));"
    "CREATE TABLE bureau_messages ("
    "  message_id TEXT PRIMARY KEY,"
    "  card_id INTEGER NOT NULL REFERENCES cards (id),"
    "  order_id INTEGER NOT NULL REFERENCES orders (id),"
    "  attempt INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  status INTEGER,"
    "  detail TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  UNIQUE (card_id, attempt)"
    ");"
    "CREATE INDEX bureau_messages_state ON bureau_messages (state, status);"
    "CREATE TABLE notifications ("
    "  id INTEGER PRIMARY KEY,"
    "  card_id INTEGER NOT NULL REFERENCES cards (id),"
    "  kind INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  pin_lost INTEGER NOT NULL DEFAULT 0,"
    "  tries INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  UNIQUE (card_id, kind)"
    ");"
    "CREATE INDEX notifications_state ON notifications (state);";

const char *const idm_sqlite_migrations[] = {
    migration_1,
    migration_2,
    migration_3,
    migration_4,
    migration_5,
};

const size_t idm_sqlite_schema_version =
    sizeof idm_sqlite_migrations / sizeof idm_sqlite_migrations[0];
