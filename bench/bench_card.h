/*
 * The bench card: a host encoder (idm_encoder_new()) that keeps the card in
 * memory and does no I/O, for the benchmarks that drive whole orders
 * (idm-bench-mass-production, idm-bench-drive-order, and through the
 * idm-bench-card module the Python driver of python_vs_c.py).
 *
 * generate_key makes a real P-256 key with libcrypto and sign a real ECDSA
 * signature with it, because the library checks each key's signature
 * against its certificate; read_object gives back what was written (a
 * certificate in its PIV container); each card that closes well is
 * followed by a blank one with the next serial (BENCH-00000001, ...).  A
 * card that closes badly stays in the encoder, as in a printer-encoder.
 *
 * Nothing here exits or prints: failures are return codes, so that the
 * same code serves a program and a module loaded into Python.
 */
#ifndef IDM_BENCH_CARD_H
#define IDM_BENCH_CARD_H

#include <openssl/evp.h>

#include <idm/idm.h>

/* ---- P-256 keys ---------------------------------------------------------- */

/* The DER SubjectPublicKeyInfo of a P-256 key: a 26-byte header and the
 * 65-byte uncompressed point. */
#define BENCH_P256_SPKI_LEN 91

/* A key generation context for P-256, set up once for every key; NULL when
 * libcrypto failed (its error queue says why).  EVP_PKEY_CTX_free() it. */
EVP_PKEY_CTX *bench_p256_keygen_new(void);

/* key's SubjectPublicKeyInfo into spki, built from the point by hand as a
 * card's encoder does from what the card returns: that spares OpenSSL 3's
 * encoder framework (i2d_PUBKEY) per key, which would be counted as the
 * card's.  0 when it worked. */
int bench_p256_spki(EVP_PKEY *key, unsigned char spki[BENCH_P256_SPKI_LEN]);

/* ---- the card ------------------------------------------------------------ */

struct bench_card;

/*
 * A new host encoder over a new blank bench card (serial BENCH-00000001).
 * The encoder owns the card: idm_encoder_free() frees both.  *card, when
 * card is not NULL, is left pointing at it for bench_card_counts(); it is
 * valid as long as the encoder.
 *
 * Returns IDM_OK; IDM_ERR_NO_MEMORY; IDM_ERR_CRYPTO when libcrypto could
 * not set up P-256 key generation (its error queue says why); or what
 * idm_encoder_new() returned (idm_last_error_message() says why).  On
 * failure *out and *card are left alone.
 */
int bench_card_encoder_new(idm_encoder_t **out, struct bench_card **card);

/* How many cards closed with success, and how many keys the card made. */
void bench_card_counts(const struct bench_card *card, unsigned long *produced,
                       unsigned long *keys_made);

#endif /* IDM_BENCH_CARD_H */
