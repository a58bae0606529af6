/*
 * libidm - card encoders and PIV personalization.
 *
 * A card encoder writes a card in a reader.  The library ships one that
 * speaks PC/SC to cards with the PIV application of NIST SP 800-73-4
 * (idm_encoder_new_pcsc()); a host with a printer-encoder or a vendor SDK
 * plugs in its own through an ops table (idm_encoder_new()).  Both are
 * driven by idm_card_personalize(), which holds the personalization profile:
 *
 *   Physical ID  CHUID (a GUID from libuuid and an expiration date) and
 *                Printed Information (name, affiliation, expiry, card number)
 *   Digital ID   the same, plus CCC, and for every slot of the option
 *                card_key_slots a key pair generated on the card
 *                (card_key_algorithm), its certificate from the CA, stored
 *                in the store before it is written to the card
 *   both         a new PIN (pin_length digits; entered by the host when
 *                pin_source is "user", generated otherwise) and a generated
 *                8-digit PUK
 *
 * then verifies the card: the PIN is VERIFYed, every written object is read
 * back and compared, and each key signs a fresh random challenge that is
 * checked against its certificate.
 *
 * Secrets: the library never logs, stores or audits a PIN, PUK or
 * management key.  Generated PINs and PUKs reach the host only through its
 * delivery callback and are wiped from the library's memory after use.
 *
 * Thread-safety: an encoder is used by one thread at a time, and
 * idm_card_personalize() also follows the rule of its card's context
 * (<idm/context.h>); a station with several readers gives each thread its
 * own encoder.  The methods of a host encoder and the PIN callbacks run on
 * the thread that called into the library.
 */
#ifndef IDM_ENCODER_H
#define IDM_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include <idm/buffer.h>
#include <idm/ca.h>
#include <idm/card.h>
#include <idm/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** PIV key slots (key references of SP 800-73-4 part 1, 3.1). */
typedef enum idm_piv_slot {
    IDM_PIV_SLOT_AUTHENTICATION = 0x9A,     /**< PIV authentication: logon */
    IDM_PIV_SLOT_SIGNATURE = 0x9C,          /**< digital signature (PIN before each use) */
    IDM_PIV_SLOT_KEY_MANAGEMENT = 0x9D,     /**< key management: encryption */
    IDM_PIV_SLOT_CARD_AUTHENTICATION = 0x9E /**< card authentication: no PIN */
} idm_piv_slot;

/** Card key algorithms (PIV algorithm identifiers). */
typedef enum idm_card_key_alg {
    IDM_CARD_KEY_RSA_2048 = 0x07,
    IDM_CARD_KEY_EC_P256 = 0x11
} idm_card_key_alg;

/** Management key algorithms (PIV algorithm identifiers). */
typedef enum idm_mgmt_key_alg {
    IDM_MGMT_KEY_3DES = 0x03,
    IDM_MGMT_KEY_AES128 = 0x08,
    IDM_MGMT_KEY_AES192 = 0x0A,
    IDM_MGMT_KEY_AES256 = 0x0C
} idm_mgmt_key_alg;

/** PIV data objects the profile writes (their BER-TLV tags). */
typedef enum idm_piv_object {
    IDM_PIV_OBJECT_CHUID = 0x5FC102,
    IDM_PIV_OBJECT_CCC = 0x5FC107,
    IDM_PIV_OBJECT_PRINTED_INFO = 0x5FC109,
    IDM_PIV_OBJECT_CERT_AUTHENTICATION = 0x5FC105,     /**< slot 9A */
    IDM_PIV_OBJECT_CERT_SIGNATURE = 0x5FC10A,          /**< slot 9C */
    IDM_PIV_OBJECT_CERT_KEY_MANAGEMENT = 0x5FC10B,     /**< slot 9D */
    IDM_PIV_OBJECT_CERT_CARD_AUTHENTICATION = 0x5FC101 /**< slot 9E */
} idm_piv_object;

/**
 * Name of a PIV slot: "9A authentication", "9C signature", "9D key
 * management", "9E card authentication"; "unknown" otherwise.
 *
 * @param slot  any value.
 * @return a static string; never NULL.
 * Thread-safety: safe to call from any thread.
 */
const char *idm_piv_slot_name(idm_piv_slot slot);

/* ---- host encoder backends ------------------------------------------- */

/** The version of idm_encoder_ops these headers describe. */
#define IDM_ENCODER_OPS_VERSION 1

/**
 * The methods of an encoder.  Start from IDM_ENCODER_OPS_INIT, fill the
 * methods, and register the table with idm_encoder_new(ops, sizeof ops,
 * ...).  The library copies what it knows of the table.  All methods are
 * required except where marked; generate_key and sign are needed only for
 * Digital ID cards.  A method returns 0 on success.  On failure it may
 * return one of the negative idm_err codes (IDM_ERR_CARD, IDM_ERR_TIMEOUT,
 * IDM_ERR_NOT_FOUND, ...), which the caller sees as is; any other non-zero
 * value becomes IDM_ERR_BACKEND.  Either way the method's own words, given
 * with idm_encoder_backend_error() before returning, reach the caller and
 * the audit trail.  The library calls open first and, when open succeeded,
 * close last (also after a failure); every call in between concerns the
 * card open holds.  user_data is the pointer
 * given to idm_encoder_new().
 */
typedef struct idm_encoder_ops {
    uint32_t version; /**< IDM_ENCODER_OPS_VERSION */
    uint32_t size;    /**< sizeof(idm_encoder_ops) as the host compiled it */
    /** Waits up to timeout_ms for a card and takes exclusive use of it. */
    int (*open)(int timeout_ms, void *user_data);
    /** Writes the chip's serial number (NUL-terminated, 1..64 printable
     *  ASCII characters) into serial, which has size bytes. */
    int (*card_serial)(char *serial, size_t size, void *user_data);
    /** Generates a key pair on the card; the DER SubjectPublicKeyInfo of its
     *  public key goes into spki. */
    int (*generate_key)(idm_piv_slot slot, idm_card_key_alg alg, idm_buffer_t *spki,
                        void *user_data);
    /** Stores the DER certificate of the slot's key on the card, in the
     *  slot's certificate object as a PIV card keeps it: 70 (the DER),
     *  71 01 00 (not compressed), FE 00 (SP 800-73-4 part 1, table 10). */
    int (*write_certificate)(idm_piv_slot slot, const unsigned char *der, size_t len,
                             void *user_data);
    /** Writes a data object: value is its content (the bytes inside the
     *  object's 53 tag), e.g. the TLVs of a CHUID. */
    int (*write_object)(idm_piv_object object, const unsigned char *value, size_t len,
                        void *user_data);
    /** Reads a data object back into value: its content, as written by
     *  write_object, or for a certificate object the container above
     *  (the library compares the DER inside tag 70). */
    int (*read_object)(idm_piv_object object, idm_buffer_t *value, void *user_data);
    /** Replaces the card's PIN and PUK (their current values are the
     *  encoder's business, e.g. the factory ones). */
    int (*set_pin)(const char *pin, const char *puk, void *user_data);
    /** Presents the PIN (VERIFY). */
    int (*verify_pin)(const char *pin, void *user_data);
    /** Makes the card's key compute: for EC, input is a digest and signature
     *  receives the DER ECDSA-Sig-Value; for RSA, input is a padded block of
     *  the modulus size and signature receives the raw result. */
    int (*sign)(idm_piv_slot slot, idm_card_key_alg alg, const unsigned char *input, size_t len,
                idm_buffer_t *signature, void *user_data);
    /** Releases the card; success is 1 when the personalization succeeded. */
    int (*close)(int success, void *user_data);
} idm_encoder_ops;

/** An ops table with the version and size set and no methods. */
#define IDM_ENCODER_OPS_INIT \
    {IDM_ENCODER_OPS_VERSION, (uint32_t)sizeof(idm_encoder_ops), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

/**
 * Registers a host encoder.
 *
 * @param out        receives the encoder, owned by the caller.
 * @param ops        the methods; copied (min(ops_size, the library's size)
 *                   bytes into a zeroed table), so it need not outlive the call.
 * @param ops_size   sizeof the host's table.
 * @param user_data  passed to every method; not owned by the library.
 * @param destroy    called with user_data when the handle is freed; may be NULL.
 * @return IDM_OK; IDM_ERR_INVALID_ARG if a required method is missing (the
 *         message names it) or ops_size is too small; IDM_ERR_UNSUPPORTED if
 *         ops->version is unknown; IDM_ERR_NO_MEMORY.
 */
int idm_encoder_new(idm_encoder_t **out, const idm_encoder_ops *ops, size_t ops_size,
                    void *user_data, void (*destroy)(void *user_data));

/**
 * Lets an encoder method explain its failure: the text becomes part of the
 * detail message the caller of the library sees, and of the audit event.
 * Call it from inside an ops method just before returning non-zero.  Never
 * put a PIN or key in it.
 *
 * @param message  the encoder's own words, e.g. "ribbon empty".
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 * Thread-safety: call it on the thread that runs the method: the words
 * are kept per thread, like the detail message.
 */
int idm_encoder_backend_error(const char *message);

/**
 * Releases an encoder (calling its destroy callback; the built-in one wipes
 * its management key and factory PIN/PUK) and sets *encoder to NULL.
 * NULL-safe.
 *
 * @param encoder  address of the caller's pointer.
 */
void idm_encoder_free(idm_encoder_t **encoder);

/**
 * How long the encoder waits for a card when a personalization starts.
 *
 * @param encoder     the encoder.
 * @param timeout_ms  0 (the card must be there) .. 3,600,000; the default
 *                    is 30,000.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_encoder_set_timeout(idm_encoder_t *encoder, int timeout_ms);

/**
 * Supplies a PIN the cardholder chose, when the option pin_source is "user".
 *
 * @param card       the card being personalized.
 * @param pin        where to write the PIN: pin_length digits, NUL-terminated.
 *                   The library wipes it after use.
 * @param size       room in pin.
 * @param user_data  the pointer given with the callback.
 * @return 0, or non-zero to cancel the personalization (IDM_ERR_CANCELLED).
 */
typedef int (*idm_pin_entry_fn)(const idm_card_t *card, char *pin, size_t size,
                                void *user_data);

/**
 * Receives the secrets the library generated for a card: the only place
 * they ever leave it.  Copy what is needed (to a PIN letter, a secure
 * channel, ...); the strings are wiped when the callback returns.  It is
 * called before the card takes the new PIN and PUK, so a crash cannot lose
 * them; if the personalization then fails, they are void.
 *
 * @param card       the card being personalized.
 * @param pin        the generated PIN, or NULL when the cardholder chose it.
 * @param puk        the generated PUK (8 digits).
 * @param user_data  the pointer given with the callback.
 * @return 0, or non-zero to cancel the personalization (IDM_ERR_CANCELLED).
 */
typedef int (*idm_pin_delivery_fn)(const idm_card_t *card, const char *pin, const char *puk,
                                   void *user_data);

/**
 * Sets the PIN callbacks used by idm_card_personalize().  A delivery
 * callback is required (the PUK is always generated); an entry callback
 * only when pin_source is "user".
 *
 * @param encoder    the encoder.
 * @param entry      supplies a user-chosen PIN; may be NULL.
 * @param delivery   receives generated secrets; may be NULL (personalizing
 *                   then fails with IDM_ERR_STATE).
 * @param user_data  passed to both.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_encoder_set_pin_callbacks(idm_encoder_t *encoder, idm_pin_entry_fn entry,
                                  idm_pin_delivery_fn delivery, void *user_data);

/**
 * What the encoder did since it was created or last reset: the APDUs it
 * exchanged (built-in encoder only; 0 for a host encoder), the bytes sent
 * and received with them, and the wall time spent inside encoder methods
 * (card I/O), in microseconds.
 *
 * @param encoder  the encoder.
 * @param apdus    receives the number of command APDUs; may be NULL.
 * @param bytes    receives the bytes sent plus received; may be NULL.
 * @param card_us  receives the time inside the encoder; may be NULL.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_encoder_get_stats(const idm_encoder_t *encoder, uint64_t *apdus, uint64_t *bytes,
                          uint64_t *card_us);

/**
 * Sets the encoder's statistics back to zero.
 *
 * @param encoder  the encoder.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 */
int idm_encoder_reset_stats(idm_encoder_t *encoder);

/* ---- the built-in PC/SC encoder -------------------------------------- */

/**
 * Lists the smart card readers pcscd knows.
 *
 * @param names  receives the names, each followed by a NUL byte, in pcscd's
 *               order (an empty buffer when there are none).
 * @param count  receives the number of readers; may be NULL.
 * @return IDM_OK; IDM_ERR_CARD when pcscd is not running or fails;
 *         IDM_ERR_INVALID_ARG; IDM_ERR_NO_MEMORY.
 * Thread-safety: safe to call from any thread (each call opens its own
 * PC/SC context); names is used by one thread at a time.
 */
int idm_encoder_pcsc_list_readers(idm_buffer_t *names, size_t *count);

/**
 * Waits for a card in a reader: a station asks it before it starts on a
 * reader, an enrolment UI to say "insert a card".  Returns as soon as pcscd
 * sees the card (it polls its readers about every 400 ms).
 *
 * @param reader      the reader's name as idm_encoder_pcsc_list_readers()
 *                    gives it.
 * @param timeout_ms  0 (just look) .. 3,600,000.
 * @return IDM_OK when a card that answered its reset is in the reader;
 *         IDM_ERR_TIMEOUT when none came in time; IDM_ERR_NOT_FOUND when
 *         pcscd knows no such reader (the message lists the ones it
 *         knows); IDM_ERR_CARD for a mute card or when pcscd is not
 *         running or fails; IDM_ERR_INVALID_ARG.
 * Thread-safety: safe to call from any thread (each call opens its own
 * PC/SC context).
 */
int idm_encoder_pcsc_wait_card(const char *reader, int timeout_ms);

/**
 * Creates the built-in PC/SC encoder for PIV cards.  It uses the first
 * reader that holds a card unless told otherwise, authenticates with the
 * default management key (3DES 010203..08 three times) and expects the
 * factory PIN 123456 and PUK 12345678; the setters below change that.  It
 * connects only when a personalization starts.
 *
 * @param out  receives the encoder, owned by the caller.
 * @param ctx  the context (log); must outlive the encoder.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_NO_MEMORY.
 */
int idm_encoder_new_pcsc(idm_encoder_t **out, idm_ctx_t *ctx);

/**
 * Uses the reader with this exact name.
 *
 * @param encoder  a built-in PC/SC encoder.
 * @param name     the reader's name as idm_encoder_pcsc_list_readers() gives it.  Copied.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_UNSUPPORTED for a host encoder.
 */
int idm_encoder_pcsc_set_reader(idm_encoder_t *encoder, const char *name);

/**
 * Uses the index'th reader of idm_encoder_pcsc_list_readers() (0 first), looked up
 * when a personalization starts.
 *
 * @param encoder  a built-in PC/SC encoder.
 * @param index    0 .. 255.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_UNSUPPORTED for a host encoder.
 */
int idm_encoder_pcsc_set_reader_index(idm_encoder_t *encoder, int index);

/**
 * Uses whichever reader holds the card with this chip serial (as
 * idm_card_get_chip_serial() gives it).
 *
 * @param encoder  a built-in PC/SC encoder.
 * @param serial   the chip serial.  Copied.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_UNSUPPORTED for a host encoder.
 */
int idm_encoder_pcsc_set_card_serial(idm_encoder_t *encoder, const char *serial);

/**
 * Sets the management key the cards carry.  Kept in memory only, wiped
 * when the encoder is freed.
 *
 * @param encoder  a built-in PC/SC encoder.
 * @param alg      3DES (24-byte key) or AES-128/192/256.
 * @param key      the key.  Copied.
 * @param len      its length, which must fit alg.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_UNSUPPORTED for a host encoder.
 */
int idm_encoder_pcsc_set_management_key(idm_encoder_t *encoder, idm_mgmt_key_alg alg,
                                        const unsigned char *key, size_t len);

/**
 * Sets the PIN and PUK blank cards come with.  Kept in memory only, wiped
 * when the encoder is freed.
 *
 * @param encoder  a built-in PC/SC encoder.
 * @param pin      4..8 digits.  Copied.
 * @param puk      8 digits or characters (1..8 bytes).  Copied.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_UNSUPPORTED for a host encoder.
 */
int idm_encoder_pcsc_set_factory_secrets(idm_encoder_t *encoder, const char *pin,
                                         const char *puk);

/* ---- personalization ------------------------------------------------- */

/**
 * Personalizes and verifies the card in the encoder as the card's option
 * asks (see the top of this header), in one exclusive session.
 *
 * Store: the chip serial is recorded (a card that already has another
 * serial, or a chip that belongs to another card, is refused as the wrong
 * card before anything is written); each certificate is recorded before it
 * is written to the card (idempotency key
 * "o<order>-c<card>-a<attempt>-<usage>"); on success the card moves from
 * approved to issued.  On a failure after the card was written to, the
 * certificates of this attempt are revoked with the CA
 * (cessationOfOperation) and the card moves to failed, with the encoder's
 * words in the audit trail; a later attempt (attempt + 1, after failed ->
 * approved) can repeat it.  A failure before that (no reader, no card,
 * wrong card, no PIV application, management key refused) changes no state
 * and is audited.
 *
 * @param card     an approved card with local production.
 * @param actor    who personalizes.
 * @param encoder  the encoder, with a PIN delivery callback.
 * @param ca       the CA for a Digital ID card; NULL for Physical ID.
 * @param attempt  the production attempt, >= 1.
 * @return IDM_OK; IDM_ERR_INVALID_ARG; IDM_ERR_STATE (card state or
 *         production, wrong card, missing callback or CA, an attempt that
 *         already has certificates for other keys); IDM_ERR_CANCELLED
 *         when a PIN callback returned non-zero; IDM_ERR_TIMEOUT (no card);
 *         IDM_ERR_NOT_FOUND (no such reader); IDM_ERR_UNSUPPORTED (a card
 *         without a chip serial);
 *         IDM_ERR_CARD with the card's or reader's words (no PIV
 *         application, wrong or blocked PIN, card full, card removed, ...);
 *         IDM_ERR_BACKEND with a host encoder's or CA's words;
 *         IDM_ERR_CRYPTO when a signature made by the card does not verify;
 *         IDM_ERR_INTEGRITY when an object read back differs from what was
 *         written; IDM_ERR_STORE.
 * Thread-safety: an encoder is used by one thread at a time.
 */
int idm_card_personalize(idm_card_t *card, const char *actor, idm_encoder_t *encoder,
                         idm_ca_t *ca, int attempt);

#ifdef __cplusplus
}
#endif

#endif /* IDM_ENCODER_H */
