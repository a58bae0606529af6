#include "bench_order.h"

#include <string.h>

#include "bench_common.h"
#include "bench_crypto.h"

static int on_progress(const idm_order_t *order, int64_t card_id, idm_order_card_outcome outcome,
                       void *user_data)
{
    struct bench_production *p = user_data;
    struct bench_tally *t = &p->tally;
    (void)order;
    (void)card_id;
    if (outcome == IDM_OUTCOME_PRODUCED)
        t->produced++;
    else
        t->other++;
    while (t->tenths < 10 && (t->produced + t->other) * 10 >= p->cards * (t->tenths + 1))
        t->tenth_done[t->tenths++] = bench_now();
    return 0;
}

static int64_t count_outcome(const idm_order_t *order, idm_order_card_outcome outcome)
{
    int64_t n = 0;
    check_idm(idm_order_count_cards(order, outcome, &n), "idm_order_count_cards");
    return n;
}

void bench_production_open(struct bench_production *p, const char *db, int64_t order_id,
                           size_t group)
{
    static const idm_order_card_outcome all[] = {IDM_OUTCOME_PENDING, IDM_OUTCOME_CLAIMED,
                                                 IDM_OUTCOME_PRODUCED, IDM_OUTCOME_SKIPPED,
                                                 IDM_OUTCOME_FAILED};
    memset(p, 0, sizeof *p);
    check_idm(idm_ctx_new(&p->ctx), "idm_ctx_new");
    check_idm(idm_ctx_open_store(p->ctx, db), "idm_ctx_open_store");
    check_idm(idm_ca_new_openssl(&p->ca, p->ctx, IDM_KEY_EC_P256, BENCH_CA_NAME, 3650),
              "idm_ca_new_openssl");
    int rc = bench_card_encoder_new(&p->encoder, &p->card);
    bench_check_crypto(rc != IDM_ERR_CRYPTO, "setting up P-256 key generation");
    check_idm(rc, "bench_card_encoder_new");
    check_idm(idm_encoder_set_pin_callbacks(p->encoder, NULL, bench_discard_secrets, NULL),
              "idm_encoder_set_pin_callbacks");
    check_idm(idm_order_open(p->ctx, order_id, &p->order), "idm_order_open");
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        p->cards += count_outcome(p->order, all[i]);
    if (p->cards == 0)
        die("order %lld in '%s' has no cards", (long long)order_id, db);
    check_idm(idm_station_open(&p->station, p->order, BENCH_STATION, p->encoder, p->ca),
              "idm_station_open");
    check_idm(idm_station_set_group(p->station, group), "idm_station_set_group");
}

void bench_production_run(struct bench_production *p)
{
    idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
    hooks.progress = on_progress;
    double cpu_start = bench_cpu_now();
    p->start = bench_now();
    check_idm(idm_production_run(p->station, BENCH_ACTOR, &hooks, sizeof hooks, p),
              "idm_production_run");
    p->seconds = bench_now() - p->start;
    p->cpu_seconds = bench_cpu_now() - cpu_start;
    uint64_t card_us = 0;
    check_idm(idm_encoder_get_stats(p->encoder, NULL, NULL, &card_us), "idm_encoder_get_stats");
    p->encoder_s = (double)card_us / 1e6;
}

void bench_production_check(struct bench_production *p)
{
    idm_order_state state;
    check_idm(idm_order_refresh(p->order), "idm_order_refresh");
    check_idm(idm_order_get_state(p->order, &state), "idm_order_get_state");
    int64_t produced = count_outcome(p->order, IDM_OUTCOME_PRODUCED);
    if (state != IDM_ORDER_COMPLETED)
        die("the order is %s after idm_production_run(); expected completed",
            idm_order_state_name(state));
    if (produced != p->cards || p->tally.produced != p->cards || p->tally.other != 0)
        die("the order has %lld of %lld cards produced (the progress hook saw %ld produced, "
            "%ld other: %lld skipped, %lld failed)", (long long)produced, (long long)p->cards,
            p->tally.produced, p->tally.other,
            (long long)count_outcome(p->order, IDM_OUTCOME_SKIPPED),
            (long long)count_outcome(p->order, IDM_OUTCOME_FAILED));
    unsigned long closed = 0, keys = 0;
    bench_card_counts(p->card, &closed, &keys);
    if ((int64_t)closed != p->cards || (int64_t)keys != p->cards)
        die("the encoder saw %lu cards go through and made %lu keys; expected %lld of each",
            closed, keys, (long long)p->cards);
}

void bench_production_close(struct bench_production *p)
{
    idm_station_free(&p->station);
    idm_order_free(&p->order);
    idm_encoder_free(&p->encoder);
    idm_ca_free(&p->ca);
    idm_ctx_free(&p->ctx);
    p->card = NULL;
}
