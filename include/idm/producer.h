/*
 * libidm - external card producers (production bureaus).
 *
 * A producer carries card orders to a production bureau and brings back
 * what the bureau says about them.  The library ships one that exchanges
 * files through a spool directory (idm_producer_new_spool()); a host that
 * talks to its bureau over HTTP or a vendor SDK plugs in its own through an
 * ops table (idm_producer_new()).  Both are driven by the external
 * production workflow of <idm/external.h>.
 *
 * Every card order travels as one message with an id the library derives
 * from the store, the order, the card and the bureau attempt
 * ("idm-<store>-o<order>-c<card>-a<attempt>").  The library records a
 * message before it submits it and after the producer confirmed it, so a
 * process killed in between submits the same message, with the same id,
 * again.  A bureau (or the producer in front of it) must therefore treat a
 * message whose id it already knows as the order it already has: that is
 * what makes "never ordered twice" hold across crashes.
 *
 * The order message is a JSON document (format "libidm-card-order/1",
 * described in doc/backends.md); status reports come back through
 * idm_bureau_report_fn, one call per report.
 *
 * Thread-safety: a producer handle is used by one thread at a time; its
 * methods, and the report function they call, run on the thread that called
 * into the library.
 */
#ifndef IDM_PRODUCER_H
#define IDM_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a bureau reports about a card order. */
typedef enum idm_bureau_status {
    IDM_BUREAU_IN_PRODUCTION = 0, /**< the bureau is producing the card */
    IDM_BUREAU_PRODUCED = 1,      /**< produced (and shipped): chip serial known */
    IDM_BUREAU_FAILED = 2         /**< the bureau could not produce it */
} idm_bureau_status;

/**
 * The name of a bureau status: "in_production", "produced", "failed", or
 * "unknown".  It is also the word the spool producer's status files use.
 *
 * @param status  any value.
 * @return a static string.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_bureau_status_name(idm_bureau_status status);

/**
 * Hands one status report to the library, which checks it against the
 * card order and applies it in one transaction.
 *
 * @param message_id   the id of the order message the report is about.
 * @param status       what the bureau says.
 * @param chip_serial  the chip serial the bureau read (1..64 printable
 *                     ASCII characters): required with IDM_BUREAU_PRODUCED,
 *                     NULL otherwise.
 * @param shipment     shipment data (carrier, tracking number; UTF-8, one
 *                     line, at most 256 bytes), or NULL.
 * @param reason       why production failed (UTF-8, at most 256 bytes), or
 *                     NULL.
 * @param report_data  the pointer the library passed to the status method.
 * @return IDM_OK when the report was applied or repeats one applied before;
 *         IDM_ERR_INVALID_ARG for a malformed field; IDM_ERR_NOT_FOUND for a
 *         message the library never sent (unknown card order);
 *         IDM_ERR_STATE for a report that does not fit the card's state (an
 *         aborted card, a superseded attempt, a status older than the card's);
 *         IDM_ERR_EXISTS for a chip serial that another card has; or,
 *         when the library could not decide, IDM_ERR_STORE,
 *         IDM_ERR_NO_MEMORY or IDM_ERR_CRYPTO (hashing the audit event).
 *         The detail message says why.  A producer keeps a refused report
 *         (IDM_ERR_INVALID_ARG, _NOT_FOUND, _STATE, _EXISTS) aside (the
 *         spool producer quarantines its file) rather than offer it again;
 *         after any other code the library could not decide, so the report
 *         is offered again on the next run.
 */
typedef int (*idm_bureau_report_fn)(const char *message_id, idm_bureau_status status,
                                    const char *chip_serial, const char *shipment,
                                    const char *reason, void *report_data);

/** The version of idm_producer_ops these headers describe. */
#define IDM_PRODUCER_OPS_VERSION 1

/**
 * The methods of a producer.  Start from IDM_PRODUCER_OPS_INIT, fill the
 * methods and register the table with idm_producer_new(ops, sizeof ops,
 * ...); the library copies what it knows of it.  submit and status are
 * required, cancel is optional.  A method returns 0 on success; on failure
 * one of the negative idm_err codes (seen by the caller as is) or any other
 * non-zero value (IDM_ERR_BACKEND), with its own words given through
 * idm_producer_backend_error() first.  user_data is the pointer given to
 * idm_producer_new().
 */
typedef struct idm_producer_ops {
    uint32_t version; /**< IDM_PRODUCER_OPS_VERSION */
    uint32_t size;    /**< sizeof(idm_producer_ops) as the host compiled it */
    /** Sends one card order: message_id (at most 128 characters of
     *  [A-Za-z0-9._-], starting with a letter or digit) and the order as
     *  a JSON document of len bytes (not NUL-terminated in general).
     *  Success means the bureau has it. */
    int (*submit)(const char *message_id, const char *order_json, size_t len, void *user_data);
    /** Collects status reports and hands each to report(..., report_data).
     *  message_ids lists the count messages the library waits for (cards
     *  ordered or in production); a producer that receives whatever the
     *  bureau sends may ignore it.  What report() returns is the verdict
     *  on that report only; return non-zero only when the bureau itself
     *  could not be asked. */
    int (*status)(const char *const *message_ids, size_t count, idm_bureau_report_fn report,
                  void *report_data, void *user_data);
    /** Optional.  Withdraws a message whose submit may or may not have
     *  reached the bureau, before its card is aborted. */
    int (*cancel)(const char *message_id, void *user_data);
} idm_producer_ops;

/** An ops table with the version and size set and no methods. */
#define IDM_PRODUCER_OPS_INIT \
    {IDM_PRODUCER_OPS_VERSION, (uint32_t)sizeof(idm_producer_ops), 0, 0, 0}

/**
 * Registers a host producer.
 *
 * @param out        receives the producer, owned by the caller.
 * @param ops        the methods; copied, so it need not outlive the call.
 * @param ops_size   sizeof the host's table.
 * @param user_data  passed to every method; not owned by the library.
 * @param destroy    called with user_data when the handle is freed; may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG if submit or status is missing or
 *         ops_size is too small; IDM_ERR_UNSUPPORTED if ops->version is
 *         unknown; IDM_ERR_NO_MEMORY.
 * Thread-safety: the handle is used by one thread at a time.
 */
int idm_producer_new(idm_producer_t **out, const idm_producer_ops *ops, size_t ops_size,
                     void *user_data, void (*destroy)(void *user_data));

/**
 * Lets a producer method explain its failure: the text becomes part of the
 * detail message the caller sees and of the audit event.  Call it inside a
 * method just before returning non-zero.
 *
 * @param message  the producer's own words, e.g. "HTTP 503 from the bureau".
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 * Thread-safety: call it on the thread that runs the method: the words
 * are kept per thread, like the detail message.
 */
int idm_producer_backend_error(const char *message);

/**
 * Creates the built-in spool-directory producer.  Under dir it keeps:
 *
 *   outbox/      order messages, "<message id>.json", each written to tmp/,
 *                fsynced and renamed in, so the bureau never sees half a
 *                file; a cancel request is "<message id>.cancel.json"
 *   inbox/       status files the bureau drops (written elsewhere on the
 *                same file system and renamed in), "*.json", each one object:
 *                {"message_id": "...", "status": "in_production" |
 *                "produced" | "failed", "chip_serial": "...",
 *                "shipment": "...", "reason": "..."} (the last three
 *                optional, no other member, strings only, at most 64 KiB)
 *   processed/   status files the library applied (or that repeat one it had)
 *   quarantine/  status files it refused, each with "<name>.reason" beside
 *                it; a refused file never changes a card
 *   tmp/         files being written
 *
 * The folders are created (mode 0700) when missing.  Inbox entries that are
 * not regular files, or whose names are not 1..128 characters of
 * [A-Za-z0-9._-] ending in ".json" and not starting with '.', are
 * quarantined unread.  A status file the library cannot decide on because
 * its store failed stays in the inbox, and the run stops there.
 *
 * @param out  receives the producer, owned by the caller.
 * @param dir  the spool directory; it must exist.  Copied.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_IO (the message names the
 *         path and the system's words); IDM_ERR_NO_MEMORY.
 * Thread-safety: the handle is used by one thread at a time; one spool
 * directory serves one library process at a time.
 */
int idm_producer_new_spool(idm_producer_t **out, const char *dir);

/**
 * Releases a producer (calling its destroy callback) and sets *producer to
 * NULL.  NULL-safe.
 *
 * @param producer  address of the caller's pointer.
 */
void idm_producer_free(idm_producer_t **producer);

#ifdef __cplusplus
}
#endif

#endif /* IDM_PRODUCER_H */
