/* The fault injector: see fault.h.  Linked into the sweep with
 * -Wl,--wrap for libidm's allocations and PC/SC calls, so a wrapper reaches
 * the real function through __real_<name>; the wrappers count every call
 * made while armed, by libidm's objects and by the sweep alike (the sweep
 * allocates nothing while a workflow runs). */
#include "fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <PCSC/winscard.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

static const char *const kind_names[FAULT_KINDS] = {"alloc", "openssl", "sqlite_io", "sqlite_mem",
                                                     "pcsc"};

static int armed;
static enum fault_kind armed_kind;
static long fail_at;
static long calls[FAULT_KINDS];
static const char *fired_site = "";

const char *fault_kind_name(enum fault_kind kind)
{
    return (unsigned)kind < FAULT_KINDS ? kind_names[kind] : "?";
}

int fault_kind_by_name(const char *name)
{
    for (int k = 0; k < FAULT_KINDS; k++)
        if (strcmp(kind_names[k], name) == 0)
            return k;
    return -1;
}

void fault_arm(enum fault_kind kind, long n)
{
    memset(calls, 0, sizeof calls);
    armed_kind = kind;
    fail_at = n;
    fired_site = "";
    armed = 1;
}

void fault_disarm(void)
{
    armed = 0;
}

long fault_calls(enum fault_kind kind)
{
    return calls[kind];
}

int fault_fired(void)
{
    return fired_site[0] != '\0';
}

const char *fault_site(void)
{
    return fired_site;
}

/* Counts one call of kind; 1 when this is the call that must fail. */
static int hit(enum fault_kind kind, const char *site)
{
    if (!armed)
        return 0;
    calls[kind]++;
    if (kind != armed_kind || calls[kind] != fail_at)
        return 0;
    fired_site = site;
    return 1;
}

/* ---- alloc: libidm's heap (ld --wrap) ---------------------------------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t size)
{
    return hit(FAULT_ALLOC, "malloc") ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return hit(FAULT_ALLOC, "calloc") ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return hit(FAULT_ALLOC, "realloc") ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
    return hit(FAULT_ALLOC, "strdup") ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return hit(FAULT_ALLOC, "strndup") ? NULL : __real_strndup(s, n);
}

/* ---- openssl: libcrypto's allocator ----------------------------------- */

static void *ossl_malloc(size_t size, const char *file, int line)
{
    (void)file;
    (void)line;
    return hit(FAULT_OPENSSL, "OpenSSL allocation") ? NULL : __real_malloc(size);
}

static void *ossl_realloc(void *p, size_t size, const char *file, int line)
{
    (void)file;
    (void)line;
    return hit(FAULT_OPENSSL, "OpenSSL allocation") ? NULL : __real_realloc(p, size);
}

static void ossl_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

/* ---- sqlite_mem: SQLite's allocator ------------------------------------ */

static sqlite3_mem_methods sqlite_default_mem;

static void *sqlite_malloc(int size)
{
    return hit(FAULT_SQLITE_MEM, "SQLite allocation") ? NULL : sqlite_default_mem.xMalloc(size);
}

static void *sqlite_realloc(void *p, int size)
{
    return hit(FAULT_SQLITE_MEM, "SQLite allocation") ? NULL
                                                        : sqlite_default_mem.xRealloc(p, size);
}

/* ---- sqlite_io: a VFS over the default one ----------------------------- */

/* Our file: SQLite allocates szOsFile bytes; the real file follows ours. */
struct fault_file {
    sqlite3_file base;
    sqlite3_file *real;
};

static sqlite3_vfs *real_vfs;
static sqlite3_io_methods fault_io_v1, fault_io_v2, fault_io_v3;

#define REAL(f) (((struct fault_file *)(f))->real)

static int f_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int f_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
    if (hit(FAULT_SQLITE_IO, "SQLite xRead (SQLITE_IOERR_READ)"))
        return SQLITE_IOERR_READ;
    return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int f_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    if (hit(FAULT_SQLITE_IO, "SQLite xWrite (SQLITE_FULL)"))
        return SQLITE_FULL;
    return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (hit(FAULT_SQLITE_IO, "SQLite xTruncate (SQLITE_IOERR_TRUNCATE)"))
        return SQLITE_IOERR_TRUNCATE;
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
    if (hit(FAULT_SQLITE_IO, "SQLite xSync (SQLITE_IOERR_FSYNC)"))
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    if (hit(FAULT_SQLITE_IO, "SQLite xFileSize (SQLITE_IOERR_FSTAT)"))
        return SQLITE_IOERR_FSTAT;
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int level)
{
    if (hit(FAULT_SQLITE_IO, "SQLite xLock (SQLITE_BUSY)"))
        return SQLITE_BUSY;
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int f_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int f_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int f_device_characteristics(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int f_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
    if (hit(FAULT_SQLITE_IO, "SQLite xShmMap (SQLITE_IOERR_SHMMAP)"))
        return SQLITE_IOERR_SHMMAP;
    return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, out);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    /* Only taking a lock can meet another process; letting go cannot fail. */
    if ((flags & SQLITE_SHM_LOCK) && hit(FAULT_SQLITE_IO, "SQLite xShmLock (SQLITE_BUSY)"))
        return SQLITE_BUSY;
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int f_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
    /* The memory-mapped read: answering "not mapped" makes SQLite read. */
    return REAL(f)->pMethods->xFetch(REAL(f), off, amt, out);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                  int *out_flags)
{
    (void)vfs;
    struct fault_file *ff = (struct fault_file *)file;
    ff->base.pMethods = NULL; /* SQLite calls no xClose when the open fails */
    if (hit(FAULT_SQLITE_IO, "SQLite xOpen (SQLITE_CANTOPEN)"))
        return SQLITE_CANTOPEN;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    if (rc != SQLITE_OK || ff->real->pMethods == NULL)
        return rc;
    switch (ff->real->pMethods->iVersion) {
    case 1:
        ff->base.pMethods = &fault_io_v1;
        break;
    case 2:
        ff->base.pMethods = &fault_io_v2;
        break;
    default:
        ff->base.pMethods = &fault_io_v3;
        break;
    }
    return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    if (hit(FAULT_SQLITE_IO, "SQLite xDelete (SQLITE_IOERR_DELETE)"))
        return SQLITE_IOERR_DELETE;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    if (hit(FAULT_SQLITE_IO, "SQLite xAccess (SQLITE_IOERR_ACCESS)"))
        return SQLITE_IOERR_ACCESS;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static sqlite3_vfs fault_vfs;

static int install_sqlite(void)
{
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default_mem) != SQLITE_OK)
        return -1;
    sqlite3_mem_methods mem = sqlite_default_mem;
    mem.xMalloc = sqlite_malloc;
    mem.xRealloc = sqlite_realloc;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &mem) != SQLITE_OK)
        return -1;
    real_vfs = sqlite3_vfs_find(NULL);
    if (real_vfs == NULL)
        return -1;
    fault_vfs = *real_vfs; /* xRandomness, xSleep, xCurrentTime, ... as they are */
    fault_vfs.zName = "fault";
    fault_vfs.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile;
    fault_vfs.xOpen = v_open;
    fault_vfs.xDelete = v_delete;
    fault_vfs.xAccess = v_access;
    fault_vfs.xFullPathname = v_full_pathname;
    fault_vfs.pAppData = NULL;

    sqlite3_io_methods io = {
        .iVersion = 3,
        .xClose = f_close,
        .xRead = f_read,
        .xWrite = f_write,
        .xTruncate = f_truncate,
        .xSync = f_sync,
        .xFileSize = f_file_size,
        .xLock = f_lock,
        .xUnlock = f_unlock,
        .xCheckReservedLock = f_check_reserved,
        .xFileControl = f_file_control,
        .xSectorSize = f_sector_size,
        .xDeviceCharacteristics = f_device_characteristics,
        .xShmMap = f_shm_map,
        .xShmLock = f_shm_lock,
        .xShmBarrier = f_shm_barrier,
        .xShmUnmap = f_shm_unmap,
        .xFetch = f_fetch,
        .xUnfetch = f_unfetch,
    };
    /* A file offers what its real methods offer, no more. */
    fault_io_v3 = io;
    fault_io_v2 = io;
    fault_io_v2.iVersion = 2;
    fault_io_v2.xFetch = NULL;
    fault_io_v2.xUnfetch = NULL;
    fault_io_v1 = fault_io_v2;
    fault_io_v1.iVersion = 1;
    fault_io_v1.xShmMap = NULL;
    fault_io_v1.xShmLock = NULL;
    fault_io_v1.xShmBarrier = NULL;
    fault_io_v1.xShmUnmap = NULL;
    return sqlite3_vfs_register(&fault_vfs, 1) == SQLITE_OK ? 0 : -1;
}

int fault_install(void)
{
    if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)) {
        fprintf(stderr, "fault: CRYPTO_set_mem_functions refused (OpenSSL allocated before)\n");
        return -1;
    }
    if (install_sqlite() != 0) {
        fprintf(stderr, "fault: cannot install the SQLite allocator and VFS\n");
        return -1;
    }
    return 0;
}

/* ---- pcsc: libidm's PC/SC calls (ld --wrap) ---------------------------- */

LONG __real_SCardEstablishContext(DWORD scope, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT ctx);
LONG __real_SCardListReaders(SCARDCONTEXT ctx, LPCSTR groups, LPSTR readers, LPDWORD len);
LONG __real_SCardGetStatusChange(SCARDCONTEXT ctx, DWORD timeout, SCARD_READERSTATE *states,
                                 DWORD n);
LONG __real_SCardConnect(SCARDCONTEXT ctx, LPCSTR reader, DWORD share, DWORD protocols,
                         LPSCARDHANDLE card, LPDWORD protocol);
LONG __real_SCardBeginTransaction(SCARDHANDLE card);
LONG __real_SCardEndTransaction(SCARDHANDLE card, DWORD disposition);
LONG __real_SCardStatus(SCARDHANDLE card, LPSTR name, LPDWORD name_len, LPDWORD state,
                        LPDWORD protocol, LPBYTE atr, LPDWORD atr_len);
LONG __real_SCardTransmit(SCARDHANDLE card, const SCARD_IO_REQUEST *send_pci, LPCBYTE cmd,
                          DWORD cmd_len, SCARD_IO_REQUEST *recv_pci, LPBYTE resp,
                          LPDWORD resp_len);
LONG __wrap_SCardEstablishContext(DWORD scope, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT ctx);
LONG __wrap_SCardListReaders(SCARDCONTEXT ctx, LPCSTR groups, LPSTR readers, LPDWORD len);
LONG __wrap_SCardGetStatusChange(SCARDCONTEXT ctx, DWORD timeout, SCARD_READERSTATE *states,
                                 DWORD n);
LONG __wrap_SCardConnect(SCARDCONTEXT ctx, LPCSTR reader, DWORD share, DWORD protocols,
                         LPSCARDHANDLE card, LPDWORD protocol);
LONG __wrap_SCardBeginTransaction(SCARDHANDLE card);
LONG __wrap_SCardEndTransaction(SCARDHANDLE card, DWORD disposition);
LONG __wrap_SCardStatus(SCARDHANDLE card, LPSTR name, LPDWORD name_len, LPDWORD state,
                        LPDWORD protocol, LPBYTE atr, LPDWORD atr_len);
LONG __wrap_SCardTransmit(SCARDHANDLE card, const SCARD_IO_REQUEST *send_pci, LPCBYTE cmd,
                          DWORD cmd_len, SCARD_IO_REQUEST *recv_pci, LPBYTE resp,
                          LPDWORD resp_len);

LONG __wrap_SCardEstablishContext(DWORD scope, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT ctx)
{
    if (hit(FAULT_PCSC, "SCardEstablishContext (SCARD_E_NO_SERVICE)"))
        return SCARD_E_NO_SERVICE;
    return __real_SCardEstablishContext(scope, r1, r2, ctx);
}

LONG __wrap_SCardListReaders(SCARDCONTEXT ctx, LPCSTR groups, LPSTR readers, LPDWORD len)
{
    if (hit(FAULT_PCSC, "SCardListReaders (SCARD_E_NO_READERS_AVAILABLE)"))
        return SCARD_E_NO_READERS_AVAILABLE;
    return __real_SCardListReaders(ctx, groups, readers, len);
}

LONG __wrap_SCardGetStatusChange(SCARDCONTEXT ctx, DWORD timeout, SCARD_READERSTATE *states,
                                 DWORD n)
{
    if (hit(FAULT_PCSC, "SCardGetStatusChange (SCARD_E_READER_UNAVAILABLE)"))
        return SCARD_E_READER_UNAVAILABLE;
    return __real_SCardGetStatusChange(ctx, timeout, states, n);
}

LONG __wrap_SCardConnect(SCARDCONTEXT ctx, LPCSTR reader, DWORD share, DWORD protocols,
                         LPSCARDHANDLE card, LPDWORD protocol)
{
    if (hit(FAULT_PCSC, "SCardConnect (SCARD_E_NO_SMARTCARD)"))
        return SCARD_E_NO_SMARTCARD;
    return __real_SCardConnect(ctx, reader, share, protocols, card, protocol);
}

LONG __wrap_SCardBeginTransaction(SCARDHANDLE card)
{
    if (hit(FAULT_PCSC, "SCardBeginTransaction (SCARD_W_RESET_CARD)"))
        return SCARD_W_RESET_CARD;
    return __real_SCardBeginTransaction(card);
}

LONG __wrap_SCardEndTransaction(SCARDHANDLE card, DWORD disposition)
{
    if (hit(FAULT_PCSC, "SCardEndTransaction (SCARD_W_REMOVED_CARD)"))
        return SCARD_W_REMOVED_CARD;
    return __real_SCardEndTransaction(card, disposition);
}

LONG __wrap_SCardStatus(SCARDHANDLE card, LPSTR name, LPDWORD name_len, LPDWORD state,
                        LPDWORD protocol, LPBYTE atr, LPDWORD atr_len)
{
    if (hit(FAULT_PCSC, "SCardStatus (SCARD_W_REMOVED_CARD)"))
        return SCARD_W_REMOVED_CARD;
    return __real_SCardStatus(card, name, name_len, state, protocol, atr, atr_len);
}

LONG __wrap_SCardTransmit(SCARDHANDLE card, const SCARD_IO_REQUEST *send_pci, LPCBYTE cmd,
                          DWORD cmd_len, SCARD_IO_REQUEST *recv_pci, LPBYTE resp,
                          LPDWORD resp_len)
{
    if (!hit(FAULT_PCSC, "SCardTransmit"))
        return __real_SCardTransmit(card, send_pci, cmd, cmd_len, recv_pci, resp, resp_len);
    if (fail_at % 2 == 1) {
        fired_site = "SCardTransmit, not sent (SCARD_E_NOT_TRANSACTED)";
        return SCARD_E_NOT_TRANSACTED;
    }
    /* The card did the command; its answer never came back. */
    (void)__real_SCardTransmit(card, send_pci, cmd, cmd_len, recv_pci, resp, resp_len);
    fired_site = "SCardTransmit, answer lost (SCARD_E_COMM_DATA_LOST)";
    return SCARD_E_COMM_DATA_LOST;
}
