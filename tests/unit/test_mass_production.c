/* White-box: mass production stations (src/workflow/mass_production.c) with
 * the in-memory host encoder: readiness and skips with reasons, the three
 * steps, failure aborting the order and revoking, resuming after an
 * interruption at each point, two stations on one order, complete or more.
 * Groundwork of issue 6: the public step API and driver will sit on this. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "mem_encoder.h"
#include "runner.h"
#include "store/store.h"
#include "workflow/mass_production_impl.h"

#define ACTOR "operator"
#define LONG_LEASE INT64_C(1000000000000)

struct world {
    char path[4096];
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_encoder_t *enc;
    struct mem_card *mem;
    idm_order_t *order;
    int64_t order_id;
    int64_t cards[8];
    int ncards;
};

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *ud)
{
    (void)card;
    (void)pin;
    (void)puk;
    (void)ud;
    return 0;
}

static int64_t new_card(struct world *w, idm_identity_t *holder, idm_card_option option)
{
    int64_t holder_id;
    ck_ok(idm_identity_get_id(holder, &holder_id));
    idm_card_t *c = NULL;
    ck_ok(idm_card_new(w->ctx, ACTOR, IDM_CARD_EMPLOYEE, option, IDM_PRODUCTION_LOCAL, holder_id,
                       NULL, &c));
    ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_REQUESTED, NULL));
    ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_APPROVED, NULL));
    int64_t id;
    ck_ok(idm_card_get_id(c, &id));
    idm_card_free(&c);
    return id;
}

/* n employees with an approved card each, all in one new order. */
static void world_open(struct world *w, const char *name, int n, idm_card_option option)
{
    memset(w, 0, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", fixture_store_path(name));
    w->ctx = fixture_ctx(w->path);
    ck_ok(idm_options_set_string(w->ctx, ACTOR, "pin_source", "generated"));
    ck_ok(idm_options_set_string(w->ctx, ACTOR, "card_key_slots", "9A"));
    ck_ok(idm_ca_new_openssl(&w->ca, w->ctx, IDM_KEY_EC_P256, "MP Test CA", 3650));
    w->enc = mem_encoder_new(&w->mem, 1);
    ck_ok(idm_encoder_set_pin_callbacks(w->enc, NULL, deliver, NULL));
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "E%d", i + 1);
        idm_identity_t *p = fixture_person(w->ctx, id, "Person", id);
        w->cards[w->ncards++] = new_card(w, p, option);
        idm_identity_free(&p);
    }
    ck_ok(idm_order_new(w->ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE, option,
                        NULL, &w->order));
    ck_ok(idm_order_get_id(w->order, &w->order_id));
    for (int i = 0; i < n; i++)
        ck_ok(idm_order_add_card(w->order, ACTOR, w->cards[i]));
}

static void world_close(struct world *w)
{
    idm_order_free(&w->order);
    idm_encoder_free(&w->enc);
    idm_ca_free(&w->ca);
    idm_ctx_free(&w->ctx);
    fixture_remove_store(w->path);
}

static struct idm_station *station(struct world *w, const char *name, int64_t lease)
{
    struct idm_station *st = NULL;
    ck_ok(idm_mp_station_open(&st, w->ctx, w->order_id, name, w->enc, w->ca, lease));
    return st;
}

static void produce_one(struct idm_station *st)
{
    ck_ok(idm_mp_issue(st, ACTOR));
    ck_ok(idm_mp_produce(st, ACTOR));
    ck_ok(idm_mp_verify(st, ACTOR));
}

/* ---- hooks ------------------------------------------------------------ */

struct hook {
    int64_t refuse; /* card id the hook calls not ready */
    int cancel;     /* cancel once */
};

static int readiness_hook(const idm_card_t *card, char *why, size_t size, void *ud)
{
    struct hook *h = ud;
    int64_t id;
    idm_card_get_id(card, &id);
    if (h->cancel) {
        h->cancel = 0;
        return -1;
    }
    if (id == h->refuse) {
        snprintf(why, size, "no photo on file");
        return 1;
    }
    return 0;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(test_order_runs_with_skips_and_completes)
{
    struct world w;
    world_open(&w, "mp-basic", 4, IDM_CARD_DIGITAL);
    /* Card 2's holder leaves; the host refuses card 3. */
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_open_external(w.ctx, "E2", &p));
    ck_ok(idm_identity_set_state(p, ACTOR, IDM_IDENTITY_INACTIVE));
    idm_identity_free(&p);
    struct hook h = {w.cards[2], 0};
    struct idm_station *st = station(&w, "station-1", LONG_LEASE);
    idm_mp_station_set_readiness(st, readiness_hook, &h);

    int64_t got;
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, w.cards[0]);
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_RUNNING);
    ck_assert_idm_error(idm_mp_next(st, ACTOR, &got), IDM_ERR_STATE, "still in production");
    ck_assert_idm_error(idm_mp_produce(st, ACTOR), IDM_ERR_STATE, "produce needs an issued card");
    produce_one(st);
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, w.cards[3]); /* 1 and 2 skipped on the way */
    ck_assert_idm_error(idm_mp_complete(st, ACTOR, 0), IDM_ERR_STATE, "complete needs no card");
    produce_one(st);
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, 0);

    char why[512];
    ck_assert_int_eq(fixture_card_outcome(w.order, w.cards[0], NULL, 0, NULL), IDM_OUTCOME_PRODUCED);
    ck_assert_int_eq(fixture_card_outcome(w.order, w.cards[1], why, sizeof why, NULL), IDM_OUTCOME_SKIPPED);
    ck_assert_ptr_nonnull(strstr(why, "'inactive'"));
    ck_assert_int_eq(fixture_card_outcome(w.order, w.cards[2], why, sizeof why, NULL), IDM_OUTCOME_SKIPPED);
    ck_assert_str_eq(why, "no photo on file");
    ck_assert_int_eq(fixture_card_state(w.ctx, w.cards[0]), IDM_CARD_ISSUED);
    ck_assert_int_eq(fixture_card_state(w.ctx, w.cards[1]), IDM_CARD_APPROVED);
    /* "More cards" checks the skipped ones again: card 2 is still not
     * ready, card 3 now is. */
    h.refuse = 0;
    ck_ok(idm_mp_complete(st, ACTOR, 1));
    ck_assert_int_eq(fixture_card_outcome(w.order, w.cards[1], NULL, 0, NULL), IDM_OUTCOME_PENDING);
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, w.cards[2]);
    produce_one(st);
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, 0);
    ck_assert_int_eq(fixture_card_outcome(w.order, w.cards[1], NULL, 0, NULL), IDM_OUTCOME_SKIPPED);
    ck_ok(idm_mp_complete(st, ACTOR, 0));
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_COMPLETED);
    /* A completed order has nothing left, for this station or a late one;
     * completing it again changes nothing. */
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, 0);
    ck_ok(idm_mp_complete(st, ACTOR, 0));
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_COMPLETED);
    ck_ok(idm_audit_verify(w.ctx, NULL));
    idm_mp_station_close(st);
    world_close(&w);
}
END_TEST

START_TEST(test_failed_card_aborts_the_order_and_a_later_order_repeats_it)
{
    struct world w;
    world_open(&w, "mp-failure", 2, IDM_CARD_DIGITAL);
    struct idm_station *st = station(&w, "station-1", LONG_LEASE);
    int64_t got;
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_ok(idm_mp_issue(st, ACTOR));
    w.mem->fail_method = "write_object";
    w.mem->fail_code = 7;
    ck_assert_idm_error(idm_mp_produce(st, ACTOR), IDM_ERR_BACKEND, "ribbon empty");
    w.mem->fail_method = NULL;
    char why[512];
    ck_assert_int_eq(fixture_card_outcome(w.order, got, why, sizeof why, NULL), IDM_OUTCOME_FAILED);
    ck_assert_ptr_nonnull(strstr(why, "ribbon empty"));
    ck_assert_int_eq(fixture_card_state(w.ctx, got), IDM_CARD_FAILED);
    int live, superseded, other;
    fixture_count_certs(w.ctx, got, &live, &superseded, &other);
    ck_assert_int_eq(live, 0);
    ck_assert_int_eq(other, 1);
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_ABORTED);
    ck_assert_idm_error(idm_mp_next(st, ACTOR, &got), IDM_ERR_STATE, "'aborted'");
    idm_mp_station_close(st);

    /* A later order takes the failed card again. */
    idm_card_t *c = NULL;
    ck_ok(idm_card_open(w.ctx, w.cards[0], &c));
    ck_ok(idm_card_set_state(c, ACTOR, IDM_CARD_APPROVED, "repeat production"));
    idm_card_free(&c);
    idm_order_free(&w.order);
    ck_ok(idm_order_new(w.ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_DIGITAL, NULL, &w.order));
    ck_ok(idm_order_get_id(w.order, &w.order_id));
    ck_ok(idm_order_add_card(w.order, ACTOR, w.cards[0]));
    st = station(&w, "station-1", LONG_LEASE);
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, w.cards[0]);
    produce_one(st);
    ck_assert_int_eq(fixture_card_state(w.ctx, got), IDM_CARD_ISSUED);
    fixture_count_certs(w.ctx, got, &live, &superseded, &other);
    ck_assert_int_eq(live, 1);
    idm_mp_station_close(st);
    world_close(&w);
}
END_TEST

/* A station stops after each step in turn (as a killed process would) and
 * comes back under its name: the card is produced once, with a new attempt,
 * and the interrupted attempt's certificate is revoked as superseded. */
START_TEST(test_interrupted_station_resumes_its_card)
{
    for (int stop_after = 1; stop_after <= 2; stop_after++) {
        struct world w;
        world_open(&w, "mp-resume", 1, IDM_CARD_DIGITAL);
        struct idm_station *st = station(&w, "station-1", LONG_LEASE);
        int64_t got;
        ck_ok(idm_mp_next(st, ACTOR, &got));
        ck_ok(idm_mp_issue(st, ACTOR));
        if (stop_after == 2)
            ck_ok(idm_mp_produce(st, ACTOR));
        idm_mp_station_close(st); /* the process is gone */

        st = station(&w, "station-1", LONG_LEASE);
        int attempt = 0;
        ck_ok(idm_mp_next(st, ACTOR, &got));
        ck_assert_int_eq(got, w.cards[0]);
        fixture_card_outcome(w.order, got, NULL, 0, &attempt);
        ck_assert_int_eq(attempt, 2);
        produce_one(st);
        int live, superseded, other;
        fixture_count_certs(w.ctx, got, &live, &superseded, &other);
        ck_assert_int_eq(live, 1);
        ck_assert_int_eq(superseded, 1);
        ck_assert_int_eq(other, 0);
        ck_assert_int_eq(fixture_card_state(w.ctx, got), IDM_CARD_ISSUED);
        ck_assert_int_eq(fixture_card_outcome(w.order, got, NULL, 0, NULL), IDM_OUTCOME_PRODUCED);
        ck_ok(idm_mp_next(st, ACTOR, &got));
        ck_assert_int_eq(got, 0);
        idm_mp_station_close(st);
        world_close(&w);
    }
}
END_TEST

/* The process died mid-card and the feeder ejected the half-made card (a
 * printer-encoder does when pcscd resets it): the station that opens again
 * personalizes the card on the blank chip now in the encoder, the spoiled
 * chip's certificates revoked, the change audited.  Found by the crash
 * torture of the idm tool: every resume failed with "wrong card" and the
 * order stayed running for good. */
START_TEST(test_interrupted_card_moves_to_the_chip_the_feeder_gives)
{
    struct world w;
    world_open(&w, "mp-new-chip", 1, IDM_CARD_DIGITAL);
    struct idm_station *st = station(&w, "station-1", LONG_LEASE);
    int64_t got;
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_ok(idm_mp_issue(st, ACTOR));
    ck_ok(idm_mp_produce(st, ACTOR));
    idm_mp_station_close(st); /* the process is gone */
    mem_card_eject(w.mem);    /* and so is its card: HOST-0002 is in the encoder */

    st = station(&w, "station-1", LONG_LEASE);
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, w.cards[0]);
    produce_one(st);
    idm_card_t *card = NULL;
    const char *chip = NULL;
    ck_ok(idm_card_open(w.ctx, got, &card));
    ck_ok(idm_card_get_chip_serial(card, &chip));
    ck_assert_str_eq(chip, "HOST-0002");
    idm_card_free(&card);
    int live, superseded, other;
    fixture_count_certs(w.ctx, got, &live, &superseded, &other);
    ck_assert_int_eq(live, 1);
    ck_assert_int_eq(superseded, 1); /* the spoiled chip's */
    ck_assert_int_eq(other, 0);
    ck_assert_int_eq(fixture_card_state(w.ctx, got), IDM_CARD_ISSUED);
    idm_audit_iter_t *it = NULL;
    idm_audit_event_t *ev = NULL;
    int audited = 0;
    ck_ok(idm_audit_iter_new(w.ctx, &it));
    while (idm_audit_iter_next(it, &ev) == IDM_OK && ev != NULL) {
        const char *detail = NULL;
        ck_ok(idm_audit_event_get_detail(ev, &detail));
        audited += strstr(detail, "'HOST-0002' recorded in place of 'HOST-0001'") != NULL;
        idm_audit_event_free(&ev);
    }
    idm_audit_iter_free(&it);
    ck_assert_int_eq(audited, 1);
    idm_mp_station_close(st);
    world_close(&w);
}
END_TEST

/* A card its order produced joins no other order: a station would count it
 * produced there too without producing it.  Found by the load test: a host
 * read its card as approved, found the order completed meanwhile, and
 * added the card again. */
START_TEST(test_a_produced_card_joins_no_other_order)
{
    struct world w;
    world_open(&w, "mp-produced-once", 1, IDM_CARD_DIGITAL);
    struct idm_station *st = station(&w, "station-1", LONG_LEASE);
    int64_t got;
    ck_ok(idm_mp_next(st, ACTOR, &got));
    produce_one(st);
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, 0);
    ck_ok(idm_mp_complete(st, ACTOR, 0));
    idm_mp_station_close(st);
    idm_order_t *again = NULL;
    ck_ok(idm_order_new(w.ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_DIGITAL, NULL, &again));
    ck_assert_idm_error(idm_order_add_card(again, ACTOR, w.cards[0]), IDM_ERR_STATE,
                        "produced already");
    ck_assert_idm_error(idm_order_add_cards(again, ACTOR, w.cards, 1), IDM_ERR_STATE,
                        "produced already");
    int64_t count = -1;
    ck_ok(idm_order_count_cards(again, IDM_OUTCOME_PENDING, &count));
    ck_assert_int_eq(count, 0);
    idm_order_free(&again);
    world_close(&w);
}
END_TEST

/* Stopped after the card was recorded issued and before the order heard of
 * it: the card is not personalized again. */
START_TEST(test_card_issued_before_the_stop_is_only_marked_produced)
{
    struct world w;
    world_open(&w, "mp-resume-issued", 1, IDM_CARD_DIGITAL);
    struct idm_station *st = station(&w, "station-1", LONG_LEASE);
    int64_t got;
    ck_ok(idm_mp_next(st, ACTOR, &got));
    produce_one(st);
    idm_mp_station_close(st);
    /* Put the order back where the stop would have left it. */
    struct idm_store *s = NULL;
    ck_ok(idm_sqlite_store_open(&s, w.path));
    ck_ok(s->ops->order_card_finish(s, w.order_id, got, IDM_OUTCOME_CLAIMED, NULL, 1));
    s->ops->close(s);
    int opens_before = (int)(strlen(w.mem->calls) > 0);
    w.mem->calls[0] = '\0';

    st = station(&w, "station-1", LONG_LEASE);
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, 0);
    ck_assert_str_eq(w.mem->calls, ""); /* the encoder was not touched */
    ck_assert_int_eq(opens_before, 1);
    ck_assert_int_eq(fixture_card_outcome(w.order, w.cards[0], NULL, 0, NULL), IDM_OUTCOME_PRODUCED);
    idm_mp_station_close(st);
    world_close(&w);
}
END_TEST

START_TEST(test_two_stations_share_an_order_and_take_over_a_dead_claim)
{
    struct world w;
    world_open(&w, "mp-stations", 2, IDM_CARD_PHYSICAL);
    idm_ca_free(&w.ca); /* Physical ID: no CA */
    /* The fixture clock moves 1 s per reading: a 5 min lease outlives a few
     * steps but not a few hundred readings. */
    struct idm_station *a = station(&w, "station-a", 300000);
    struct idm_station *b = station(&w, "station-b", 300000);
    int64_t got_a, got_b;
    ck_ok(idm_mp_next(a, ACTOR, &got_a));
    ck_ok(idm_mp_next(b, ACTOR, &got_b));
    ck_assert_int_eq(got_a, w.cards[0]);
    ck_assert_int_eq(got_b, w.cards[1]);
    idm_mp_station_close(a); /* station a dies holding card 0 */
    produce_one(b);
    ck_ok(idm_mp_next(b, ACTOR, &got_b));
    ck_assert_int_eq(got_b, 0); /* a's claim still holds */
    for (int i = 0; i < 400; i++) { /* time passes */
        int64_t now;
        ck_ok(idm_ctx_now(w.ctx, &now));
    }
    ck_ok(idm_mp_next(b, ACTOR, &got_b));
    ck_assert_int_eq(got_b, w.cards[0]);
    produce_one(b);
    ck_ok(idm_mp_complete(b, ACTOR, 0));
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_COMPLETED);
    idm_mp_station_close(b);
    world_close(&w);
}
END_TEST

START_TEST(test_cancelling_readiness_hook_lets_the_card_go)
{
    struct world w;
    world_open(&w, "mp-cancel", 1, IDM_CARD_DIGITAL);
    struct hook h = {0, 1};
    struct idm_station *st = station(&w, "station-1", LONG_LEASE);
    idm_mp_station_set_readiness(st, readiness_hook, &h);
    int64_t got;
    ck_assert_idm_error(idm_mp_next(st, ACTOR, &got), IDM_ERR_CANCELLED, "readiness hook");
    ck_assert_int_eq(got, 0);
    ck_assert_int_eq(fixture_card_outcome(w.order, w.cards[0], NULL, 0, NULL), IDM_OUTCOME_PENDING);
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_RUNNING);
    ck_ok(idm_mp_next(st, ACTOR, &got));
    ck_assert_int_eq(got, w.cards[0]);
    idm_mp_station_close(st);
    world_close(&w);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("mass_production");
    TCase *tc = tcase_create("station");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_order_runs_with_skips_and_completes);
    tcase_add_test(tc, test_failed_card_aborts_the_order_and_a_later_order_repeats_it);
    tcase_add_test(tc, test_interrupted_station_resumes_its_card);
    tcase_add_test(tc, test_interrupted_card_moves_to_the_chip_the_feeder_gives);
    tcase_add_test(tc, test_a_produced_card_joins_no_other_order);
    tcase_add_test(tc, test_card_issued_before_the_stop_is_only_marked_produced);
    tcase_add_test(tc, test_two_stations_share_an_order_and_take_over_a_dead_claim);
    tcase_add_test(tc, test_cancelling_readiness_hook_lets_the_card_go);
    suite_add_tcase(s, tc);
    return s;
}
