/*
 * libidm - notifiers: the e-mails of the external production workflow.
 *
 * The workflow of <idm/external.h> tells card holders when their card was
 * ordered (option send_card_ordered_email), produced and activated.  Each
 * notification is recorded in the store in the same transaction as the
 * card's step, then handed to the notifier; a notifier that fails never
 * fails the step: the notification stays pending, the failure is audited,
 * and idm_external_flush_notifications() tries again later.  Every
 * notification has an id ("idm-<store>-n<notification>") that stays the
 * same across retries, so a receiver can drop a repeat.
 *
 * Messages carry no PIN unless the options say the generated PIN is
 * delivered by e-mail (pin_source "generated", pin_delivery "email"); the
 * PIN is never stored, so a card-activated message retried after a failed
 * delivery says the PIN could not be sent instead of carrying it.
 *
 * The library ships a notifier that writes RFC 5322 messages into a
 * maildir (idm_notifier_new_maildir()); a host plugs in its own (SMTP, a
 * message queue) through an ops table (idm_notifier_new()).
 *
 * Thread-safety: a notifier handle is used by one thread at a time; its send
 * method runs on the thread that called into the library.
 */
#ifndef IDM_NOTIFIER_H
#define IDM_NOTIFIER_H

#include <stddef.h>
#include <stdint.h>

#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a notification is about. */
typedef enum idm_notification_kind {
    IDM_NOTIFY_CARD_ORDERED = 0,  /**< the card was ordered from the bureau */
    IDM_NOTIFY_CARD_PRODUCED = 1, /**< the bureau produced it */
    IDM_NOTIFY_CARD_ACTIVATED = 2 /**< it was encoded and activated */
} idm_notification_kind;

/**
 * The name of a notification kind: "card_ordered", "card_produced",
 * "card_activated", or "unknown".
 *
 * @param kind  any value.
 * @return a static string.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_notification_kind_name(idm_notification_kind kind);

/** The version of idm_notifier_ops these headers describe. */
#define IDM_NOTIFIER_OPS_VERSION 1

/**
 * The methods of a notifier.  Start from IDM_NOTIFIER_OPS_INIT, fill send
 * and register the table with idm_notifier_new(ops, sizeof ops, ...).  A
 * method returns 0 on success; on failure a negative idm_err code or any
 * other non-zero value (IDM_ERR_BACKEND), with its own words given through
 * idm_notifier_backend_error() first.  IDM_ERR_INVALID_ARG says the message
 * can never be delivered (a bad address, a line too long): the notification
 * is then recorded as undeliverable and not tried again; any other failure
 * leaves it pending for a retry.
 */
typedef struct idm_notifier_ops {
    uint32_t version; /**< IDM_NOTIFIER_OPS_VERSION */
    uint32_t size;    /**< sizeof(idm_notifier_ops) as the host compiled it */
    /** Delivers one message.  message_id is the notification's id (at most
     *  128 characters of [A-Za-z0-9._-], the same on a retry); to is one
     *  e-mail address; subject is one line of UTF-8; body is UTF-8 text
     *  with lines separated by "\n".  Success means the message is
     *  delivered or durably queued. */
    int (*send)(const char *message_id, idm_notification_kind kind, const char *to,
                const char *subject, const char *body, void *user_data);
} idm_notifier_ops;

/** An ops table with the version and size set and no methods. */
#define IDM_NOTIFIER_OPS_INIT {IDM_NOTIFIER_OPS_VERSION, (uint32_t)sizeof(idm_notifier_ops), 0}

/**
 * Registers a host notifier.
 *
 * @param out        receives the notifier, owned by the caller.
 * @param ops        the methods; copied, so it need not outlive the call.
 * @param ops_size   sizeof the host's table.
 * @param user_data  passed to every method; not owned by the library.
 * @param destroy    called with user_data when the handle is freed; may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG if send is missing or ops_size is too
 *         small; IDM_ERR_UNSUPPORTED if ops->version is unknown;
 *         IDM_ERR_NO_MEMORY.
 * Thread-safety: the handle is used by one thread at a time.
 */
int idm_notifier_new(idm_notifier_t **out, const idm_notifier_ops *ops, size_t ops_size,
                     void *user_data, void (*destroy)(void *user_data));

/**
 * Lets a notifier method explain its failure: the text becomes part of the
 * audit event of the failed delivery.  Call it inside a method just before
 * returning non-zero.
 *
 * @param message  the notifier's own words, e.g. "SMTP 451 try later".
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 * Thread-safety: call it on the thread that runs the method: the words
 * are kept per thread, like the detail message.
 */
int idm_notifier_backend_error(const char *message);

/**
 * Creates the built-in maildir notifier.  Each message is an RFC 5322
 * message (From, To, Subject encoded per RFC 2047 when it is not ASCII,
 * Date, Message-ID "<message id@libidm>", MIME-Version, a text/plain UTF-8
 * body in 8bit, CRLF line ends), written to dir/tmp/, fsynced and renamed
 * to dir/new/ as "<message id>.eml" (maildir delivery).  A message whose
 * file is already in new/ or cur/ is not written again.
 *
 * @param out   receives the notifier, owned by the caller.
 * @param dir   the maildir; it and its tmp/, new/ and cur/ folders are
 *              created (mode 0700) when missing.  Copied.
 * @param from  the sender address, e.g. "cards@corp.example" (printable
 *              ASCII, one '@', no blanks or angle brackets).  Copied.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_IO (path and the system's
 *         words); IDM_ERR_NO_MEMORY.
 * Thread-safety: the handle is used by one thread at a time.
 */
int idm_notifier_new_maildir(idm_notifier_t **out, const char *dir, const char *from);

/**
 * Releases a notifier (calling its destroy callback) and sets *notifier to
 * NULL.  NULL-safe.
 *
 * @param notifier  address of the caller's pointer.
 */
void idm_notifier_free(idm_notifier_t **notifier);

#ifdef __cplusplus
}
#endif

#endif /* IDM_NOTIFIER_H */
