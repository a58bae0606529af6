/* A host encoder for tests: a card kept in memory, keys made by libcrypto,
 * faults on request.  Each personalization that ends well ejects the card
 * and feeds a blank one with the next serial (HOST-0001, HOST-0002, ...),
 * like a printer-encoder; one that ends badly leaves the same card in.
 * Stations that share a store give their encoders different prefixes. */
#ifndef IDM_TESTS_MEM_ENCODER_H
#define IDM_TESTS_MEM_ENCODER_H

#include <openssl/evp.h>

#include <idm/idm.h>

#define MEM_MAX_OBJECTS 8

struct mem_object {
    unsigned tag;
    unsigned char *value;
    size_t len;
};

struct mem_card {
    struct mem_object objects[MEM_MAX_OBJECTS];
    EVP_PKEY *keys[256]; /* by slot */
    char pin[16], puk[16]; /* what set_pin wrote last (kept when the card goes) */
    int serial_no;        /* of the card in the encoder */
    const char *serial_prefix; /* "HOST" unless set: one per station sharing a store */
    /* When set, every write also leaves the card's certificates in
     * <persist_dir>/<serial>.certs ("<object tag> <DER in hex>" lines), as
     * a real card keeps them when the process that wrote it dies. */
    const char *persist_dir;
    char calls[512];      /* method names in order, since the last reset */
    int closed_with;      /* close's success argument */
    /* faults */
    const char *fail_method;
    int fail_code;
    const char *die_method; /* the process ends (_exit(0)) in this method: a kill */
    int corrupt_reads;
    int bad_signatures;
};

/* A feeder takes the card out (as it is) and puts a blank one in, with the
 * next serial. */
void mem_card_eject(struct mem_card *card);

/* An encoder over a new mem_card (*card; freed with the encoder).
 * with_keys 0 leaves generate_key and sign out (Physical ID only). */
idm_encoder_t *mem_encoder_new(struct mem_card **card, int with_keys);

#endif /* IDM_TESTS_MEM_ENCODER_H */
