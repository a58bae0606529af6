/*
 * libidm - opaque handle types shared by every public header.
 *
 * Every object of the library is reached through a pointer to one of these
 * incomplete types.  Their layout is private to the library, so it can change
 * without breaking the ABI; hosts create them with the matching
 * idm_<noun>_new() or idm_<noun>_open() and release them with
 * idm_<noun>_free(&p), which is NULL-safe and sets *p to NULL.
 */
#ifndef IDM_TYPES_H
#define IDM_TYPES_H

#ifdef __cplusplus
extern "C" {
#endif

/** Library context: options, log sink, clock, random source and store. */
typedef struct idm_ctx idm_ctx_t;
/** A person, or a named function or room for non-personal cards. */
typedef struct idm_identity idm_identity_t;
/** A physical or digital card and its production state. */
typedef struct idm_card idm_card_t;
/** A production order: a batch of cards moving through one workflow. */
typedef struct idm_order idm_order_t;
/** A certificate authority backend (built-in OpenSSL CA or host-supplied). */
typedef struct idm_ca idm_ca_t;
/** A card encoder backend (built-in PC/SC encoder or host-supplied). */
typedef struct idm_encoder idm_encoder_t;
/** An external card producer (production bureau) backend. */
typedef struct idm_producer idm_producer_t;
/** A notifier backend that delivers e-mails such as "card ordered". */
typedef struct idm_notifier idm_notifier_t;
/** A card printer backend (built-in CUPS printer or host-supplied; <idm/printer.h>). */
typedef struct idm_printer idm_printer_t;
/** A card layout: what is printed on a card's faces (<idm/layout.h>). */
typedef struct idm_layout idm_layout_t;
/** A production station working one mass production order (<idm/production.h>). */
typedef struct idm_station idm_station_t;
/** A certificate record: DER, serial, validity and state, linked to a card. */
typedef struct idm_cert idm_cert_t;
/** One event of the audit trail. */
typedef struct idm_audit_event idm_audit_event_t;
/** A byte buffer the library fills or a host backend fills for it. */
typedef struct idm_buffer idm_buffer_t;
/** A certificate request as a CA backend sees it: public key, subject,
 *  names, profile, validity and idempotency key. */
typedef struct idm_cert_request idm_cert_request_t;
/* Iterators over the store, each with its own filters. */
/** Iterator over the stored identities (idm_identity_iter_new()). */
typedef struct idm_identity_iter idm_identity_iter_t;
/** Iterator over the stored cards (idm_card_iter_new()). */
typedef struct idm_card_iter idm_card_iter_t;
/** Iterator over the certificate records of a card (idm_cert_iter_new()). */
typedef struct idm_cert_iter idm_cert_iter_t;
/** Iterator over the stored orders (idm_order_iter_new()). */
typedef struct idm_order_iter idm_order_iter_t;
/** Iterator over the audit trail (idm_audit_iter_new()). */
typedef struct idm_audit_iter idm_audit_iter_t;

#ifdef __cplusplus
}
#endif

#endif /* IDM_TYPES_H */
