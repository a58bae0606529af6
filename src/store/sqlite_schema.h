/* The SQLite schema of the store, as forward migrations. */
#ifndef IDM_STORE_SQLITE_SCHEMA_H
#define IDM_STORE_SQLITE_SCHEMA_H

#include <stddef.h>

/* PRAGMA application_id of a libidm store: "IDM1". */
#define IDM_SQLITE_APPLICATION_ID 0x49444d31

/*
 * idm_sqlite_migrations[i] brings a store from schema version i to i + 1
 * (PRAGMA user_version).  Append only: a released migration never changes.
 */
extern const char *const idm_sqlite_migrations[];
extern const size_t idm_sqlite_schema_version;

#endif /* IDM_STORE_SQLITE_SCHEMA_H */
