/*
 * Command APDUs (ISO/IEC 7816-4, 5.1 and 5.3) over a pluggable transport:
 * the PC/SC card encoder supplies a transmit function around SCardTransmit,
 * the unit tests a scripted fake card, so this layer never includes
 * <winscard.h> and runs without a reader.
 */
#ifndef IDM_BACKENDS_ENCODER_APDU_H
#define IDM_BACKENDS_ENCODER_APDU_H

#include <stddef.h>

/* Le meaning "as many bytes as the card gives": 256 in a short APDU (Le 00),
 * 65536 in an extended one (Le 0000). */
#define IDM_APDU_LE_MAX ((size_t)65536)

/* The longest data field of one APDU (extended Lc is two bytes). */
#define IDM_APDU_DATA_MAX ((size_t)65535)

struct idm_apdu_transport {
    /* Sends one command APDU, receives the raw response (data + SW1 SW2).
     * Returns IDM_OK or an idm error with the detail message set.
     * *resp_len in: room, out: bytes. */
    int (*transmit)(void *ctx, const unsigned char *cmd, size_t cmd_len, unsigned char *resp,
                    size_t *resp_len);
    void *ctx;
    int extended;     /* 1 if the card takes extended-length APDUs */
    size_t max_short; /* largest data field in one short APDU before chaining:
                         255; 0 means 255 */
};

/* Running totals; the caller zeroes them and may share them across calls. */
struct idm_apdu_stats {
    unsigned long apdus;
    unsigned long bytes_out;
    unsigned long bytes_in;
};

/*
 * Sends CLA INS P1 P2 with len bytes of data and collects the answer.
 *
 * Data longer than t->max_short goes as one extended APDU when t->extended,
 * else as a chain of max_short pieces with CLA | 0x10 on all but the last;
 * a piece answered with anything but 9000 ends the chain there.  The short
 * form is used whenever data and le fit, as every card accepts it.
 * le is the number of bytes expected back: 0 for none, up to
 * IDM_APDU_LE_MAX; more than 256 on a card without extended APDUs asks for
 * 256 (Le 00), the rest arrives through 61xx.  The answers 61xx (GET
 * RESPONSE 00 C0 00 00 xx, appending until another status) and 6Cxx
 * (the same command again with Le xx) are handled here.
 *
 * @param out      receives all response data, NULL when there is none; the
 *                 caller free()s it; NULL after a failure.
 * @param sw       the final status word (0x9000, 0x6A82, ...).
 * @param stats    may be NULL; counts each APDU the transport sent.
 * @return IDM_OK whenever the card answered, whatever the status word;
 *         IDM_ERR_CARD for an answer shorter than 2 bytes, or when the
 *         answer outgrows 64 KiB or 256 GET RESPONSE / resend rounds;
 *         the transport's own code and message when it fails;
 *         IDM_ERR_INVALID_ARG (data over IDM_APDU_DATA_MAX bytes, le over
 *         IDM_APDU_LE_MAX, max_short over 255, NULL pointers);
 *         IDM_ERR_NO_MEMORY.
 * Thread-safety: as safe as the transport; the detail message is per thread.
 */
int idm_apdu_send(const struct idm_apdu_transport *t, unsigned char cla, unsigned char ins,
                  unsigned char p1, unsigned char p2, const unsigned char *data, size_t len,
                  size_t le, unsigned char **out, size_t *out_len, unsigned *sw,
                  struct idm_apdu_stats *stats);

/*
 * Says what a status word means, with the word first: "9000 success",
 * "63C2 wrong PIN, 2 tries left", "6A82 file or application not found",
 * "1234 unknown status".  The text lives in a per-thread buffer, valid until
 * the next call on the same thread; never NULL.
 */
const char *idm_sw_message(unsigned sw);

#endif /* IDM_BACKENDS_ENCODER_APDU_H */
