/*
 * The idm-bench-card module: the bench card (bench_card.h) for a process
 * that loads it with dlopen(), such as Python with ctypes, so that a driver
 * written in Python runs the very encoder the C driver runs.  Everything
 * else in the module is hidden (gnu_symbol_visibility 'hidden'); these two
 * functions are its whole interface.
 *
 * The module links libidm.so.1 by its soname, so in a process that already
 * loaded libidm (Python's idm package, from IDM_LIBRARY) it uses that very
 * library rather than a second copy: one library, one encoder type, one
 * thread-local error.
 */
#include "bench_card.h"

#define BENCH_CARD_EXPORT __attribute__((visibility("default")))

/*
 * A new bench card encoder in *out, the caller's (idm_encoder_free(), or
 * idm.Encoder.adopt() in Python, which frees it on close); *card, when
 * card is not NULL, receives the card for idm_bench_card_counts(), valid as
 * long as the encoder.  Returns what bench_card_encoder_new() returns, or
 * IDM_ERR_INVALID_ARG when out is NULL.
 */
BENCH_CARD_EXPORT int idm_bench_card_encoder_new(idm_encoder_t **out, void **card);

/* The card's counters (bench_card_counts()); IDM_ERR_INVALID_ARG when an
 * argument is NULL, else IDM_OK. */
BENCH_CARD_EXPORT int idm_bench_card_counts(const void *card, unsigned long *produced,
                                            unsigned long *keys_made);

int idm_bench_card_encoder_new(idm_encoder_t **out, void **card)
{
    if (out == NULL)
        return IDM_ERR_INVALID_ARG;
    struct bench_card *c = NULL;
    int rc = bench_card_encoder_new(out, &c);
    if (rc == IDM_OK && card != NULL)
        *card = c;
    return rc;
}

int idm_bench_card_counts(const void *card, unsigned long *produced, unsigned long *keys_made)
{
    if (card == NULL || produced == NULL || keys_made == NULL)
        return IDM_ERR_INVALID_ARG;
    bench_card_counts(card, produced, keys_made);
    return IDM_OK;
}
