/* Fault injection for the fault sweep (tests/reliability/fault/): the Nth
 * call of one kind of dependency fails, the way that dependency fails.
 *
 *   alloc       libidm's own malloc, calloc, realloc, strdup and strndup
 *               (the sweep links the library's objects with ld --wrap);
 *               the call returns NULL.
 *   openssl     every allocation libcrypto makes (CRYPTO_set_mem_functions),
 *               so that whichever OpenSSL call needs it fails as OpenSSL
 *               fails: an error return and its error queue.
 *   sqlite_io   SQLite's file operations, through a VFS over the default
 *               one: a write fails with SQLITE_FULL (disk full), a lock with
 *               SQLITE_BUSY (another process), a read, sync, truncate, size
 *               or shared-memory call with its SQLITE_IOERR_* code, an open
 *               with SQLITE_CANTOPEN.
 *   sqlite_mem  SQLite's own allocations (SQLITE_CONFIG_MALLOC): SQLITE_NOMEM.
 *   pcsc        libidm's PC/SC calls (ld --wrap): SCardTransmit alternately
 *               before the card sees the command (SCARD_E_NOT_TRANSACTED) and
 *               after it answered, the answer lost (SCARD_E_COMM_DATA_LOST);
 *               the others with the error a vanished card or reader gives.
 *
 * fault_install() must run first in main(), before anything touches OpenSSL
 * or SQLite.  One kind is armed at a time; every kind is counted while
 * armed.  Single-threaded. */
#ifndef IDM_TESTS_FAULT_H
#define IDM_TESTS_FAULT_H

enum fault_kind { FAULT_ALLOC, FAULT_OPENSSL, FAULT_SQLITE_IO, FAULT_SQLITE_MEM, FAULT_PCSC,
                  FAULT_KINDS };

/* Installs the OpenSSL allocator and SQLite's VFS and allocator.  Returns 0,
 * or -1 with a message on stderr when a hook could not be installed. */
int fault_install(void);

/* The kind's name ("alloc", ...) and the kind named so (-1 if none). */
const char *fault_kind_name(enum fault_kind kind);
int fault_kind_by_name(const char *name);

/* Starts counting every kind from 0; the nth call of kind from now on fails
 * (n >= 1), or none (n == 0: a counting run). */
void fault_arm(enum fault_kind kind, long n);

/* Stops counting and failing. */
void fault_disarm(void);

/* Calls of kind counted since fault_arm(). */
long fault_calls(enum fault_kind kind);

/* Whether the armed fault happened, and at which call ("SCardTransmit,
 * answer lost", "sqlite xWrite", "malloc", ...); "" when it did not. */
int fault_fired(void);
const char *fault_site(void);

#endif /* IDM_TESTS_FAULT_H */
