/*
 * Encoder handles as the library sees them: a copy of an ops table (the
 * built-in PC/SC encoder is one more user of it), the station's settings
 * (card timeout, PIN callbacks) and the statistics the benchmarks read.
 */
#ifndef IDM_BACKENDS_ENCODER_ENCODER_IMPL_H
#define IDM_BACKENDS_ENCODER_ENCODER_IMPL_H

#include <stdint.h>

#include <idm/encoder.h>

#include "backends/encoder/apdu.h"

struct idm_pcsc_encoder;

struct idm_encoder {
    uint32_t magic; /* IDM_MAGIC_ENCODER */
    idm_encoder_ops ops;
    void *user_data;
    void (*destroy)(void *user_data);
    struct idm_pcsc_encoder *builtin; /* NULL for a host encoder */
    int timeout_ms;
    idm_pin_entry_fn pin_entry;
    idm_pin_delivery_fn pin_delivery;
    void *pin_user_data;
    struct idm_apdu_stats apdu_stats; /* the built-in encoder counts here */
    uint64_t card_us;                 /* wall time inside ops methods */
};

/*
 * Around every ops call: idm_encoder_call_start() forgets older messages and
 * starts the clock; idm_encoder_call_end() stops it and turns a failure
 * into the library's error: the method's own idm_err code, or
 * IDM_ERR_BACKEND for any other non-zero value, with "the encoder failed to
 * <what>: <its words>" (no function name).
 */
uint64_t idm_encoder_call_start(void);
int idm_encoder_call_end(idm_encoder_t *enc, uint64_t started, int rc, const char *what);

/* The certificate object of a PIV key slot (5FC105 for 9A, ...), 0 for a
 * value that is not one of the four slots. */
unsigned idm_piv_slot_cert_object(unsigned slot);

/* ---- the built-in PC/SC encoder (pcsc_encoder.c) --------------------- */

extern const idm_encoder_ops idm_pcsc_encoder_ops;
int idm_pcsc_encoder_new(struct idm_pcsc_encoder **out, struct idm_apdu_stats *stats);
void idm_pcsc_encoder_free(void *user_data);
int idm_pcsc_encoder_set_reader(struct idm_pcsc_encoder *e, const char *name, int index,
                                const char *serial);
int idm_pcsc_encoder_set_management_key(struct idm_pcsc_encoder *e, unsigned alg,
                                        const unsigned char *key, size_t len);
int idm_pcsc_encoder_set_factory_secrets(struct idm_pcsc_encoder *e, const char *pin,
                                         const char *puk);

#endif /* IDM_BACKENDS_ENCODER_ENCODER_IMPL_H */
