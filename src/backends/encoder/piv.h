/*
 * The PIV card edge (NIST SP 800-73-4 part 2) over the APDU layer: the
 * commands the built-in encoder needs to personalize and verify a card.
 * It knows nothing of PC/SC, so it runs against any transport.
 *
 * Every function fails like an internal helper (IDM_ERR, no function
 * name): a status word other than 9000 becomes IDM_ERR_CARD with the
 * command and idm_sw_message(), e.g. "VERIFY PIN: 63C2 wrong PIN, 2 tries
 * left"; special cases name themselves ("the card has no PIV application
 * (SELECT: 6A82 ...)", "the card is full (PUT DATA 5FC105: 6A84 ...)",
 * "the PIN is blocked (...)").  No secret ever appears in a message.
 * stats may be NULL everywhere; it counts the APDUs sent.
 */
#ifndef IDM_BACKENDS_ENCODER_PIV_H
#define IDM_BACKENDS_ENCODER_PIV_H

#include <stddef.h>

#include "backends/encoder/apdu.h"

/* GET DATA CPLC (GlobalPlatform card production life cycle, 80 CA 9F 7F,
 * Le 00): the chip serial as upper-case hex of IC fabricator (2 bytes), IC
 * serial number (4) and IC batch identifier (2), e.g. "47901A2B3C4D0001".
 * The answer may be 9F 7F 2A + the 42-byte record or the record alone.
 * The CPLC is the card manager's data: a card whose PIV application is
 * selected may refuse CLA 80, which then reads as "no chip serial".
 * size must be at least 17 (IDM_ERR_INVALID_ARG otherwise; hex is then "");
 * IDM_ERR_UNSUPPORTED "the card has no chip serial (...)" for 6A88, 6D00,
 * 6E00, 6A82, 6A81; IDM_ERR_CARD for an answer shorter than the record. */
int idm_piv_read_serial(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                        char *hex, size_t size);

/* SELECT the PIV application by its AID (A0 00 00 03 08 00 00 10 00 01 00).
 * 6A82, 6D00 and 6A86 give IDM_ERR_CARD "the card has no PIV application
 * (SELECT: ...)". */
int idm_piv_select(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats);

/* Mutual authentication with the management key (GENERAL AUTHENTICATE,
 * P2 9B: 7C{80} asks for the witness; 7C{80 witness, 81 challenge, 82
 * empty} returns it decrypted and asks the card to encrypt our challenge;
 * the card's 82 must match, compared in constant time): alg is a PIV
 * algorithm id (03 3DES, 08/0A/0C AES-128/192/256), key its key of the
 * matching length (24, 16, 24, 32 bytes; IDM_ERR_INVALID_ARG otherwise).
 * A refused key gives IDM_ERR_CARD "the card refused the management key
 * (...)"; a card whose key is of another algorithm (6A86) "the card's
 * management key is not of algorithm 08 (...)"; a card whose answer does
 * not match our challenge "the card failed to prove the management key";
 * OpenSSL failures IDM_ERR_CRYPTO.  Key material is wiped after use. */
int idm_piv_authenticate(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                         unsigned alg, const unsigned char *key, size_t key_len);

/* GENERATE ASYMMETRIC KEY PAIR in slot (9A/9C/9D/9E, or a retired slot
 * 82-95) for alg (07 RSA-2048, 11 P-256; anything else IDM_ERR_INVALID_ARG);
 * the public key (7F49 with 81/82 or 86) is returned as a DER
 * SubjectPublicKeyInfo the caller free()s (NULL after a failure).  6982 gives
 * IDM_ERR_CARD "... the management key was not authenticated (...)"; a
 * modulus that is not 2048 bits, a bad exponent, or a point that is not 65
 * bytes starting 04 on P-256 gives IDM_ERR_CARD "the card's public key is
 * malformed (...)". */
int idm_piv_generate_key(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                         unsigned slot, unsigned alg, unsigned char **spki, size_t *spki_len);

/* PUT DATA 5C <tag> 53 <value>: value is the object's content (an empty
 * one deletes the object on most cards).  tag is a 1-3 byte BER tag
 * (5FC105, 7E).  The discovery object 7E and the BIT group template 7F61
 * go in their own tag instead of 53 (SP 800-73-4 part 1, 3.3).  6A84 gives
 * IDM_ERR_CARD "the card is full (PUT DATA 5FC105: ...)"; 6982 "... the
 * management key was not authenticated (...)". */
int idm_piv_put_object(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                       unsigned tag, const unsigned char *value, size_t len);

/* GET DATA 5C <tag>: *value (free()d by the caller, NULL when empty)
 * receives the content of the 53 the card returns (of the 7E or 7F61 for
 * those two objects).  IDM_ERR_NOT_FOUND "the card has no object 5FC102"
 * when the card does not have the object (6A82); IDM_ERR_CARD when the
 * answer is not exactly one 53 TLV, or is 9000 with no data at all (what a
 * card pulled out mid-APDU can leave). */
int idm_piv_get_object(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                       unsigned tag, unsigned char **value, size_t *len);

/* VERIFY the PIN (key reference 80), padded with FF to 8 bytes; pin must be
 * 1 to 8 characters (IDM_ERR_INVALID_ARG, the PIN never quoted).  63Cx gives
 * IDM_ERR_CARD "VERIFY PIN: 63C2 wrong PIN, 2 tries left" (63C0: "the PIN is
 * now blocked (...)"); 6983 "the PIN is blocked (VERIFY PIN: 6983 ...)". */
int idm_piv_verify_pin(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                       const char *pin);

/* CHANGE REFERENCE DATA for the PIN (reference 0x80) or the PUK (0x81):
 * old and new, each 1 to 8 characters padded with FF to 8 bytes.  Errors as
 * for VERIFY, naming the PIN or the PUK ("CHANGE REFERENCE DATA PUK: 63C2
 * wrong PUK, 2 tries left", "the PUK is blocked (...)"); 6A80 gives "the
 * card refused the new PIN as malformed (...)" (PIV PINs are 6-8 digits). */
int idm_piv_change_reference(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                             unsigned reference, const char *old_value, const char *new_value);

/* GENERAL AUTHENTICATE with the slot's private key: 7C { 82 00, 81 input };
 * *out (free()d by the caller) receives the content of the answer's 82 (a
 * DER ECDSA signature, or the raw RSA result).  input is what the key
 * signs: the 256-byte padded block for 07 (RSA-2048), the hash as long as
 * the curve's order for 11 (P-256, 32 bytes) and 14 (P-384, 48 bytes);
 * other lengths and algorithms are IDM_ERR_INVALID_ARG.  6982 gives
 * IDM_ERR_CARD "the card refused to use the key in slot 9C: PIN not
 * verified (GENERAL AUTHENTICATE: 6982 ...)" (slot 9C wants VERIFY right
 * before each use); 6A88 "the card has no key in slot 9C (...)"; 6A86 "the
 * key in slot 9C is not of algorithm 11 (...)". */
int idm_piv_sign(const struct idm_apdu_transport *t, struct idm_apdu_stats *stats,
                 unsigned slot, unsigned alg, const unsigned char *input, size_t len,
                 unsigned char **out, size_t *out_len);

#endif /* IDM_BACKENDS_ENCODER_PIV_H */
