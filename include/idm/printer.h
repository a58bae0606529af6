/*
 * libidm - printers: the card printer of Physical ID production.
 *
 * A station with a printer (idm_station_set_printer() in
 * <idm/production.h>) prints each card's faces in its produce step, before
 * the chip is encoded: the card is rendered with the station's layout to a
 * print-ready PDF (<idm/layout.h>), one page per face at card size, and
 * handed to the printer, which returns once the job is done.  A printer
 * that fails fails the card and aborts the order, as any other production
 * failure does, and its own words reach the caller and the audit trail.
 *
 * Every print job has a name that names the store, the card and the
 * production attempt ("idm-<store>-c<card>-a<attempt>"), so that a printer
 * (or an operator) can tell a repeat after a crash from a new card.
 *
 * The library ships a CUPS printer (idm_printer_new_cups()); a host plugs
 * in its own (a card printer's SDK) through an ops table
 * (idm_printer_new()).
 *
 * Thread-safety: a printer handle is used by one thread at a time; its
 * print method runs on the thread that called into the library.
 */
#ifndef IDM_PRINTER_H
#define IDM_PRINTER_H

#include <stddef.h>
#include <stdint.h>

#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version of idm_printer_ops these headers describe. */
#define IDM_PRINTER_OPS_VERSION 1

/**
 * The methods of a printer.  Start from IDM_PRINTER_OPS_INIT, fill print
 * and register the table with idm_printer_new(ops, sizeof ops, ...).  A
 * method returns 0 on success; on failure a negative idm_err code or any
 * other non-zero value (IDM_ERR_BACKEND), with its own words given through
 * idm_printer_backend_error() first.
 */
typedef struct idm_printer_ops {
    uint32_t version; /**< IDM_PRINTER_OPS_VERSION */
    uint32_t size;    /**< sizeof(idm_printer_ops) as the host compiled it */
    /** Prints one card and returns when the job is done (printed) or has
     *  failed.  job_name is at most 128 characters of [A-Za-z0-9._-];
     *  pdf (pdf_len bytes) has one page per face, front first, each of
     *  the card's size. */
    int (*print)(const char *job_name, const unsigned char *pdf, size_t pdf_len,
                 void *user_data);
} idm_printer_ops;

/** An ops table with the version and size set and no methods. */
#define IDM_PRINTER_OPS_INIT {IDM_PRINTER_OPS_VERSION, (uint32_t)sizeof(idm_printer_ops), 0}

/**
 * Registers a host printer.
 *
 * @param out        receives the printer, owned by the caller.
 * @param ops        the methods; copied, so it need not outlive the call.
 * @param ops_size   sizeof the host's table.
 * @param user_data  passed to every method; not owned by the library.
 * @param destroy    called with user_data when the handle is freed; may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG if print is missing or ops_size is
 *         too small; IDM_ERR_UNSUPPORTED if ops->version is unknown;
 *         IDM_ERR_NO_MEMORY.
 * Thread-safety: the handle is used by one thread at a time.
 */
int idm_printer_new(idm_printer_t **out, const idm_printer_ops *ops, size_t ops_size,
                    void *user_data, void (*destroy)(void *user_data));

/**
 * Lets a printer method explain its failure: the text becomes part of the
 * error message and of the audit event of the failed card.  Call it
 * inside a method just before returning non-zero.
 *
 * @param message  the printer's own words, e.g. "ribbon out".
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 * Thread-safety: call it on the thread that runs the method.
 */
int idm_printer_backend_error(const char *message);

/**
 * Creates the built-in CUPS printer: each card is one job on a CUPS queue
 * (document format application/pdf, page size the card's, standing up
 * when the PDF's pages do (a portrait layout), one copy),
 * followed until it is completed.  A job that CUPS stops, cancels or
 * aborts, a queue that does not exist or refuses jobs, and a job still
 * not done after timeout_ms fail the print with CUPS's own message (the
 * job's printer-state-message and job-state-reasons, or the IPP status);
 * a job that timed out is cancelled.
 *
 * @param out         receives the printer, owned by the caller.
 * @param queue       the CUPS destination (queue name), 1..127 printable
 *                    ASCII characters without '/', '#' or blanks; copied.
 * @param server      "host", "host:port" or a domain socket path; NULL
 *                    for the default CUPS server (CUPS_SERVER,
 *                    client.conf, or the local scheduler); copied.
 * @param timeout_ms  how long one job may take, 1,000 .. 3,600,000.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NO_MEMORY.  The server is
 *         first contacted by the first print.
 * Thread-safety: the handle is used by one thread at a time.
 */
int idm_printer_new_cups(idm_printer_t **out, const char *queue, const char *server,
                         int64_t timeout_ms);

/**
 * Releases a printer (calling its destroy callback) and sets *printer to
 * NULL.  NULL-safe.
 *
 * @param printer  address of the caller's pointer.
 */
void idm_printer_free(idm_printer_t **printer);

#ifdef __cplusplus
}
#endif

#endif /* IDM_PRINTER_H */
