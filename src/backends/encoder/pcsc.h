/*
 * PC/SC (pcsc-lite) for the card encoder: a context, its readers, waiting
 * for a card, and one exclusive connection that feeds the APDU layer
 * (apdu.h).  <winscard.h> stays inside pcsc.c: the handles are opaque, so
 * nothing else in the library depends on pcsc-lite's types.
 *
 * Every function fails like an internal helper: it returns an idm code and
 * sets the detail message without a function name (IDM_ERR), and the public
 * function that called it puts its own name in front.  PC/SC failures carry
 * pcsc-lite's own words and code in parentheses, e.g. "reader 'Virtual PCD
 * 00 00' is in use by another program (SCardConnect: Sharing violation,
 * 0x8010000B)".
 *
 * Thread-safety: a context and the cards connected through it belong to one
 * thread at a time (pcsc-lite serialises per context, and a blocked wait
 * would hold up the others); separate contexts may be used concurrently.
 * Nothing here writes to stdout or stderr.
 */
#ifndef IDM_BACKENDS_ENCODER_PCSC_H
#define IDM_BACKENDS_ENCODER_PCSC_H

#include <stddef.h>

#include "backends/encoder/apdu.h"

struct idm_pcsc;      /* a PC/SC context */
struct idm_pcsc_card; /* a card connected exclusively through a context */

/*
 * Establishes a PC/SC context (SCardEstablishContext, system scope).
 *
 * @param out  receives the context, released with idm_pcsc_close(); NULL
 *             after a failure.
 * @return IDM_OK; IDM_ERR_CARD "pcscd is not running (...)";
 *         IDM_ERR_NO_MEMORY; IDM_ERR_INVALID_ARG for a NULL out.
 */
int idm_pcsc_open(struct idm_pcsc **out);

/* Releases the context.  Cards connected through it must be disconnected
 * first.  NULL-safe. */
void idm_pcsc_close(struct idm_pcsc *p);

/*
 * Lists the readers pcscd knows, in its order.
 *
 * @param names  receives a NULL-terminated array of NUL-terminated names,
 *               allocated in one block: free it with idm_pcsc_free_readers();
 *               NULL after a failure.
 * @param count  receives the number of names (may be NULL).
 * @return IDM_OK; IDM_ERR_NOT_FOUND "no smart card reader" when there is
 *         none; IDM_ERR_CARD when pcscd fails; IDM_ERR_NO_MEMORY;
 *         IDM_ERR_INVALID_ARG.
 */
int idm_pcsc_list_readers(struct idm_pcsc *p, char ***names, size_t *count);

/* Frees what idm_pcsc_list_readers() returned.  NULL-safe. */
void idm_pcsc_free_readers(char **names);

/*
 * Waits up to timeout_ms (0: just look) for a card in the named reader.
 * Blocks in SCardGetStatusChange, so it returns as soon as pcscd notices the
 * card (pcscd polls its readers about every 400 ms).
 *
 * @return IDM_OK when a card that answered its reset is present;
 *         IDM_ERR_TIMEOUT "no card in reader 'X' after N ms";
 *         IDM_ERR_NOT_FOUND when pcscd knows no reader by that name (the
 *         message lists the ones it knows);
 *         IDM_ERR_CARD when the card is mute, the reader disappears while
 *         waiting, or pcscd fails; IDM_ERR_INVALID_ARG (NULL, negative
 *         timeout).
 */
int idm_pcsc_wait_card(struct idm_pcsc *p, const char *reader, int timeout_ms);

/*
 * Connects to the card in the named reader exclusively (SCARD_SHARE_EXCLUSIVE,
 * T=0 or T=1, whichever the card and reader agree on) and fills transport so
 * that idm_apdu_send() talks to it: short APDUs only (extended = 0), chaining
 * past 255 bytes.  A transmit that succeeds with fewer than 2 bytes is passed
 * up as is; the APDU layer reports it.
 *
 * @param out        receives the card, released with idm_pcsc_disconnect();
 *                   it must not outlive p.  NULL after a failure.
 * @param transport  filled on success; valid until the card is disconnected.
 * @return IDM_OK; IDM_ERR_CARD "reader 'X' is in use by another program",
 *         "the card was removed from reader 'X'" (or no card was there), ...;
 *         IDM_ERR_NOT_FOUND for a reader name pcscd does not know;
 *         IDM_ERR_NO_MEMORY; IDM_ERR_INVALID_ARG.
 */
int idm_pcsc_connect(struct idm_pcsc *p, const char *reader, struct idm_pcsc_card **out,
                     struct idm_apdu_transport *transport);

/* Starts a transaction (SCardBeginTransaction), so that a sequence of APDUs
 * (VERIFY then a signature, a command chain) is not interleaved with another
 * connection's.  @return IDM_OK or IDM_ERR_CARD. */
int idm_pcsc_begin(struct idm_pcsc_card *c);

/* Ends the transaction, leaving the card as it is (SCARD_LEAVE_CARD).
 * @return IDM_OK or IDM_ERR_CARD. */
int idm_pcsc_end(struct idm_pcsc_card *c);

/*
 * Writes the card's ATR as upper-case hex without spaces ("3B8580...").
 *
 * @param hex   receives the NUL-terminated text.
 * @param size  room in hex: 2 per ATR byte + 1 (67 always suffices).
 * @return IDM_OK; IDM_ERR_INVALID_ARG when hex is too small (the message
 *         says how much is needed; hex is then "") or NULL;
 *         IDM_ERR_CARD when the card is gone.
 */
int idm_pcsc_atr(struct idm_pcsc_card *c, char *hex, size_t size);

/* Disconnects, leaving the card powered (SCARD_LEAVE_CARD), and frees c.
 * NULL-safe. */
void idm_pcsc_disconnect(struct idm_pcsc_card *c);

/* Disconnects and resets the card (SCARD_RESET_CARD), which clears its
 * security status (PIN verified, management key authenticated) so that the
 * next program to connect starts from nothing.  Frees c.  NULL-safe. */
void idm_pcsc_disconnect_reset(struct idm_pcsc_card *c);

#endif /* IDM_BACKENDS_ENCODER_PCSC_H */
