/*
 * One mass production order produced the way idm-bench-mass-production and
 * idm-bench-drive-order produce it (and python_vs_c.py from Python): a
 * fresh context on the store, the built-in CA (P-256), the bench card
 * (bench_card.h) as the encoder with a PIN delivery callback that does
 * nothing, one station with a group, one idm_production_run() call with a
 * progress hook that counts the outcomes; then the checks that the order
 * ended completed with every card produced.  Every failure dies.
 */
#ifndef IDM_BENCH_ORDER_H
#define IDM_BENCH_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include <idm/idm.h>

#include "bench_card.h"

/* The names the order is set up and produced under (python_vs_c.py uses
 * the same). */
#define BENCH_ACTOR "idm-bench-mass-production"
#define BENCH_STATION "bench-station"
#define BENCH_CA_NAME "libidm Bench Issuing CA"

/* What the progress hook saw: the counts, and when each tenth of the order
 * was done (bench_now()), which shows whether a card costs more late in a
 * large order. */
struct bench_tally {
    long produced, other;
    int tenths; /* how many of tenth_done are set */
    double tenth_done[10];
};

struct bench_production {
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_encoder_t *encoder;
    struct bench_card *card; /* the encoder's */
    idm_order_t *order;
    idm_station_t *station;
    int64_t cards; /* in the order when it was opened, whatever their outcome */
    struct bench_tally tally;
    double start;       /* bench_now() when idm_production_run() was called */
    double seconds;     /* its wall time */
    double cpu_seconds; /* the process's CPU time in it */
    double encoder_s;   /* the part of the wall time inside the encoder */
};

/* Opens the store at db, the CA, the encoder, order order_id (which must
 * have cards) and the station with a group of group cards into *p. */
void bench_production_open(struct bench_production *p, const char *db, int64_t order_id,
                           size_t group);

/* Produces the order with one idm_production_run() call and fills in the
 * tally and the times. */
void bench_production_run(struct bench_production *p);

/* Dies unless the order is completed, every one of its cards produced and
 * seen produced by the progress hook, and the bench card closed that many
 * cards well with one key each: a run that produced nothing would be fast
 * and worthless. */
void bench_production_check(struct bench_production *p);

/* Frees what bench_production_open() made. */
void bench_production_close(struct bench_production *p);

#endif /* IDM_BENCH_ORDER_H */
