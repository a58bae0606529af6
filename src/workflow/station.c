/*
 * The public face of mass production (<idm/production.h>): the step API
 * over the stations of mass_production.c, and the driver that runs the
 * seed's loop with the host's hooks, built on the same steps.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/production.h>

#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "model/card_impl.h"
#include "model/order_impl.h"
#include "model/text.h"
#include "workflow/mass_production_impl.h"

#define DEFAULT_LEASE_MS INT64_C(600000)
#define MAX_LEASE_MS INT64_C(86400000)

#define CHECK_STATION(st) IDM_CHECK_HANDLE(st, IDM_MAGIC_STATION, "idm_station_t")

/* Checks the station and the actor, the arguments every step takes. */
#define CHECK_STEP(st, actor, func)                        \
    do {                                                   \
        CHECK_STATION(st);                                 \
        int actor_rc_ = idm_check_actor((func), (actor));  \
        if (actor_rc_ != IDM_OK)                           \
            return actor_rc_;                              \
    } while (0)

IDM_EXPORT int idm_station_open(idm_station_t **out, idm_order_t *order, const char *name,
                                idm_encoder_t *encoder, idm_ca_t *ca)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_HANDLE(order, IDM_MAGIC_ORDER, "idm_order_t");
    IDM_CHECK_NOT_NULL(name);
    IDM_CHECK_HANDLE(encoder, IDM_MAGIC_ENCODER, "idm_encoder_t");
    if (ca != NULL)
        IDM_CHECK_HANDLE(ca, IDM_MAGIC_CA, "idm_ca_t");
    int rc = idm_check_text(__func__, "name", name, 64, 0, 1);
    if (rc != IDM_OK)
        return rc;
    int64_t order_id = 0;
    (void)idm_order_get_id(order, &order_id);
    rc = idm_mp_station_open(out, idm_order_handle_ctx(order), order_id, name, encoder, ca,
                             DEFAULT_LEASE_MS);
    return idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_station_set_lease(idm_station_t *station, int64_t lease_ms)
{
    CHECK_STATION(station);
    if (lease_ms < 1 || lease_ms > MAX_LEASE_MS)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'lease_ms' is %" PRId64 "; expected "
                        "1..%" PRId64, lease_ms, MAX_LEASE_MS);
    idm_mp_station_set_lease(station, lease_ms);
    return IDM_OK;
}

IDM_EXPORT int idm_station_set_readiness(idm_station_t *station, idm_readiness_fn fn,
                                         void *user_data)
{
    CHECK_STATION(station);
    idm_mp_station_set_readiness(station, fn, user_data);
    return IDM_OK;
}

IDM_EXPORT int idm_station_set_printer(idm_station_t *station, idm_printer_t *printer,
                                       const idm_layout_t *layout)
{
    CHECK_STATION(station);
    if (printer != NULL) {
        IDM_CHECK_HANDLE(printer, IDM_MAGIC_PRINTER, "idm_printer_t");
        IDM_CHECK_HANDLE(layout, IDM_MAGIC_LAYOUT, "idm_layout_t");
    } else if (layout != NULL) {
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'layout' is given without a printer");
    }
    return idm_error_prefix(__func__, idm_mp_station_set_printer(station, printer, layout));
}

IDM_EXPORT int idm_station_set_group(idm_station_t *station, size_t cards)
{
    CHECK_STATION(station);
    if (cards < 1 || cards > IDM_MP_GROUP_MAX)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'cards' is %zu; expected 1..%d", cards,
                        IDM_MP_GROUP_MAX);
    idm_mp_station_set_group(station, cards);
    return IDM_OK;
}

IDM_EXPORT int idm_station_next(idm_station_t *station, const char *actor, idm_card_t **card)
{
    IDM_CHECK_NOT_NULL(card);
    *card = NULL;
    CHECK_STEP(station, actor, __func__);
    int64_t id = 0;
    int rc = idm_mp_next(station, actor, &id);
    if (rc == IDM_OK && id != 0)
        rc = idm_card_open(idm_order_handle_ctx(idm_mp_order(station)), id, card);
    return idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_station_issue(idm_station_t *station, const char *actor)
{
    CHECK_STEP(station, actor, __func__);
    return idm_error_prefix(__func__, idm_mp_issue(station, actor));
}

IDM_EXPORT int idm_station_produce(idm_station_t *station, const char *actor)
{
    CHECK_STEP(station, actor, __func__);
    return idm_error_prefix(__func__, idm_mp_produce(station, actor));
}

IDM_EXPORT int idm_station_verify(idm_station_t *station, const char *actor)
{
    CHECK_STEP(station, actor, __func__);
    return idm_error_prefix(__func__, idm_mp_verify(station, actor));
}

IDM_EXPORT int idm_station_cancel(idm_station_t *station, const char *actor, const char *reason)
{
    CHECK_STEP(station, actor, __func__);
    int rc = idm_check_text(__func__, "reason", reason, IDM_ATTRIBUTE_VALUE_MAX, 1, 1);
    if (rc != IDM_OK)
        return rc;
    return idm_error_prefix(__func__, idm_mp_cancel(station, actor, reason));
}

IDM_EXPORT int idm_station_complete(idm_station_t *station, const char *actor, int more)
{
    CHECK_STEP(station, actor, __func__);
    if (more != 0 && more != 1)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'more' is %d; expected 0 (complete) or "
                        "1 (more cards)", more);
    return idm_error_prefix(__func__, idm_mp_complete(station, actor, more));
}

IDM_EXPORT void idm_station_free(idm_station_t **station)
{
    if (!IDM_LIVE_HANDLE(station, IDM_MAGIC_STATION))
        return;
    idm_mp_station_close(*station);
    *station = NULL;
}

/* ---- the driver ------------------------------------------------------------ */

struct run {
    idm_station_t *st;
    const char *actor;
    idm_production_hooks hooks;
    void *user_data;
    int digital;
};

/* A hook said no: the card in hand and the cards claimed ahead are let go,
 * and the run ends with IDM_ERR_CANCELLED naming the hook and the card. */
static int cancelled(struct run *r, const char *hook, int verdict, int64_t card_id)
{
    char reason[160];
    if (card_id != 0)
        snprintf(reason, sizeof reason, "the %s hook returned %d for card %" PRId64, hook,
                 verdict, card_id);
    else
        snprintf(reason, sizeof reason, "the %s hook returned %d", hook, verdict);
    int rc = idm_mp_cancel(r->st, r->actor, reason);
    if (rc != IDM_OK)
        return idm_error_wrap(NULL, rc, "%s; letting go of the cards failed", reason);
    return IDM_ERR(IDM_ERR_CANCELLED, "%s", reason);
}

/* Calls a card hook if the host gave one; non-zero cancels. */
#define CARD_HOOK(r, name, card, card_id)                                      \
    do {                                                                       \
        if ((r)->hooks.name != NULL) {                                         \
            int verdict_ = (r)->hooks.name((card), (r)->user_data);            \
            if (verdict_ != 0)                                                 \
                return cancelled((r), #name, verdict_, (card_id));             \
        }                                                                      \
    } while (0)

static int report(struct run *r, int64_t card_id, idm_order_card_outcome outcome)
{
    if (r->hooks.progress == NULL)
        return IDM_OK;
    idm_order_t *order = idm_mp_order(r->st);
    (void)idm_order_refresh(order);
    int verdict = r->hooks.progress(order, card_id, outcome, r->user_data);
    return verdict == 0 ? IDM_OK : cancelled(r, "progress", verdict, 0);
}

/* The skips that next() recorded, to the progress hook. */
static int report_skips(struct run *r)
{
    int64_t id;
    int rc = IDM_OK;
    while (rc == IDM_OK && (id = idm_mp_take_skipped(r->st)) != 0)
        rc = report(r, id, IDM_OUTCOME_SKIPPED);
    return rc;
}

/* One card through its steps, with the hooks around them. */
static int produce_card(struct run *r, int64_t card_id)
{
    const idm_card_t *card = idm_mp_card(r->st);
    if (r->digital)
        CARD_HOOK(r, before_issue, card, card_id);
    int rc = idm_mp_issue(r->st, r->actor);
    if (rc != IDM_OK)
        return rc;
    if (r->digital)
        CARD_HOOK(r, after_issue, card, card_id);
    CARD_HOOK(r, produce, card, card_id);
    if ((rc = idm_mp_produce(r->st, r->actor)) != IDM_OK)
        return rc;
    CARD_HOOK(r, verify, card, card_id);
    if ((rc = idm_mp_verify(r->st, r->actor)) != IDM_OK)
        return rc;
    return report(r, card_id, IDM_OUTCOME_PRODUCED);
}

/* No card is left to claim, and other stations still work on theirs. */
static int others_still_busy(struct run *r)
{
    int64_t pending = 0, claimed = 0;
    idm_order_t *order = idm_mp_order(r->st);
    if (idm_order_count_cards(order, IDM_OUTCOME_PENDING, &pending) != IDM_OK ||
        idm_order_count_cards(order, IDM_OUTCOME_CLAIMED, &claimed) != IDM_OK)
        return 0;
    if (pending != 0 || claimed == 0)
        return 0;
    idm_error_clear();
    return 1;
}

/* The seed's loop: cards until none is left, then complete or more. */
static int run_loop(struct run *r)
{
    for (;;) {
        int64_t card_id = 0;
        int rc = idm_mp_next(r->st, r->actor, &card_id);
        int skips = report_skips(r);
        if (rc != IDM_OK)
            return rc;
        if (skips != IDM_OK)
            return skips;
        if (card_id != 0) {
            if ((rc = produce_card(r, card_id)) != IDM_OK)
                return rc;
            continue;
        }
        int more = 0;
        if (r->hooks.complete_or_more != NULL) {
            idm_order_t *order = idm_mp_order(r->st);
            (void)idm_order_refresh(order);
            int verdict = r->hooks.complete_or_more(order, &more, r->user_data);
            if (verdict != 0)
                return cancelled(r, "complete_or_more", verdict, 0);
            more = more != 0;
        }
        rc = idm_mp_complete(r->st, r->actor, more);
        if (rc == IDM_ERR_STATE && !more && others_still_busy(r))
            return IDM_OK; /* the last station to finish completes the order */
        if (rc != IDM_OK || !more)
            return rc;
    }
}

IDM_EXPORT int idm_production_run(idm_station_t *station, const char *actor,
                                  const idm_production_hooks *hooks, size_t hooks_size,
                                  void *user_data)
{
    CHECK_STEP(station, actor, __func__);
    struct run r;
    memset(&r, 0, sizeof r);
    if (hooks != NULL) {
        size_t head = offsetof(idm_production_hooks, ready);
        if (hooks_size < head)
            return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'hooks_size' is %zu; an "
                            "idm_production_hooks has at least %zu bytes", hooks_size, head);
        if (hooks->version != IDM_PRODUCTION_HOOKS_VERSION)
            return IDM_FAIL(IDM_ERR_UNSUPPORTED, "hooks->version is %u; this library knows "
                            "idm_production_hooks version %d", (unsigned)hooks->version,
                            IDM_PRODUCTION_HOOKS_VERSION);
        idm_ops_copy(&r.hooks, sizeof r.hooks, hooks, hooks_size);
    }
    r.st = station;
    r.actor = actor;
    r.user_data = user_data;
    idm_card_option option = IDM_CARD_PHYSICAL;
    (void)idm_order_get_card_kind(idm_mp_order(station), NULL, &option);
    r.digital = option == IDM_CARD_DIGITAL;

    struct idm_mp_readiness saved = idm_mp_station_get_readiness(station);
    idm_mp_station_set_readiness(station, r.hooks.ready, user_data);
    idm_mp_station_keep_skipped(station, r.hooks.progress != NULL);
    int rc = run_loop(&r);
    idm_mp_station_keep_skipped(station, 0);
    idm_mp_station_set_readiness(station, saved.fn, saved.user_data);
    return idm_error_prefix(__func__, rc);
}
