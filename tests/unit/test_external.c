/* Black-box: external production through the public API (<idm/external.h>)
 * with the built-in spool producer and maildir notifier on real folders,
 * the built-in CA, and the in-memory host encoder for activation.  Every
 * option of the seed's "Order card (external production)" is tried on and
 * off, following a card through its states; the bureau's answers are
 * status files dropped into the spool's inbox, as a bureau would.  A
 * separate bureau process: test_external_bureau.c; killing the sync:
 * test_external_crash.c. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "mem_encoder.h"
#include "runner.h"

#define OPERATOR "operator"
#define APPROVER "approver"

struct delivered {
    char pin[16];
    char puk[16];
};

struct desk {
    char root[4096];
    char spool[4200];
    char maildir[4200];
    idm_ctx_t *ctx;
    idm_producer_t *producer;
    idm_notifier_t *notifier;
    idm_external_t *x;
    /* for activation, after desk_encoder() */
    idm_ca_t *ca;
    idm_encoder_t *enc;
    struct mem_card *mem;
    struct delivered got; /* what the PIN delivery callback received */
};

static void set_bool(struct desk *d, const char *key, int value)
{
    ck_ok(idm_options_set_bool(d->ctx, "admin", key, value));
}

/* A store, a spool and a maildir under a fresh folder; external production
 * enabled unless told otherwise. */
static void desk_open(struct desk *d, const char *name, int enabled)
{
    memset(d, 0, sizeof *d);
    const char *db = fixture_store_path(name);
    snprintf(d->root, sizeof d->root, "%s.d", db);
    mkdir(d->root, 0700);
    snprintf(d->spool, sizeof d->spool, "%s/spool", d->root);
    snprintf(d->maildir, sizeof d->maildir, "%s/mail", d->root);
    mkdir(d->spool, 0700);
    d->ctx = fixture_ctx(db);
    ck_ok(idm_producer_new_spool(&d->producer, d->spool));
    ck_ok(idm_notifier_new_maildir(&d->notifier, d->maildir, "cards@corp.example"));
    ck_ok(idm_external_new(&d->x, d->ctx, d->producer, d->notifier));
    set_bool(d, "external_production_enabled", enabled);
    ck_ok(idm_options_set_string(d->ctx, "admin", "upn_template",
                                 "${employeeNumber}@corp.example"));
}

static void desk_close(struct desk *d)
{
    idm_encoder_free(&d->enc);
    idm_ca_free(&d->ca);
    idm_external_free(&d->x);
    idm_notifier_free(&d->notifier);
    idm_producer_free(&d->producer);
    idm_ctx_free(&d->ctx);
    fixture_remove_tree(d->root);
}

/* An active identity with a mail address (unless mail is NULL). */
static int64_t person(struct desk *d, const char *id, const char *mail)
{
    idm_identity_t *p = fixture_person(d->ctx, id, "Anna", id);
    if (mail != NULL)
        ck_ok(idm_identity_set_attribute(p, "test", "mail", mail));
    int64_t out;
    ck_ok(idm_identity_get_id(p, &out));
    idm_identity_free(&p);
    return out;
}

static idm_card_t *order(struct desk *d, int64_t who)
{
    idm_card_t *card = NULL;
    ck_ok(idm_external_order_card(d->x, OPERATOR, who, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                                  IDM_PRODUCTION_EXTERNAL, &card));
    return card;
}

static int64_t id_of(idm_card_t *card)
{
    int64_t id;
    ck_ok(idm_card_get_id(card, &id));
    return id;
}

/* How many entries of a folder end in suffix (NULL: any). */
static int count_files(const char *dir, const char *suffix)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        size_t len = strlen(e->d_name), sl = suffix != NULL ? strlen(suffix) : 0;
        if (e->d_name[0] == '.' || len < sl)
            continue;
        if (suffix == NULL || strcmp(e->d_name + len - sl, suffix) == 0)
            n++;
    }
    closedir(dp);
    return n;
}

/* The whole content of a file, or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    ck_assert_ptr_nonnull(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The message id the card was sent with in attempt (from the outbox). */
static void message_of(struct desk *d, int64_t card_id, int attempt, char *out, size_t size)
{
    char dir[4300], needle[64];
    snprintf(dir, sizeof dir, "%s/outbox", d->spool);
    snprintf(needle, sizeof needle, "-c%lld-a%d.json", (long long)card_id, attempt);
    out[0] = '\0';
    DIR *dp = opendir(dir);
    ck_assert_ptr_nonnull(dp);
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        size_t len = strlen(e->d_name), nl = strlen(needle);
        if (len > nl && strcmp(e->d_name + len - nl, needle) == 0)
            snprintf(out, size, "%.*s", (int)(len - 5), e->d_name);
    }
    closedir(dp);
    ck_assert_msg(out[0] != '\0', "no outbox message for card %lld attempt %d",
                  (long long)card_id, attempt);
}

/* Drops a status file into the inbox, as the bureau does. */
static void bureau_says(struct desk *d, const char *name, const char *json)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/inbox/%s", d->spool, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(json, f);
    fclose(f);
}

static void bureau_reports(struct desk *d, const char *name, const char *msg, const char *status,
                           const char *serial)
{
    char json[1024];
    if (serial != NULL)
        snprintf(json, sizeof json, "{\"message_id\":\"%s\",\"status\":\"%s\","
                 "\"chip_serial\":\"%s\",\"shipment\":\"DHL 0034043416\"}", msg, status, serial);
    else
        snprintf(json, sizeof json, "{\"message_id\":\"%s\",\"status\":\"%s\"}", msg, status);
    bureau_says(d, name, json);
}

static void update(struct desk *d, size_t want_applied, size_t want_refused)
{
    size_t applied = 99, refused = 99;
    ck_ok(idm_external_update(d->x, OPERATOR, &applied, &refused));
    ck_assert_uint_eq(applied, want_applied);
    ck_assert_uint_eq(refused, want_refused);
}

/* Whether any audit event of the card mentions text. */
static int audit_mentions(struct desk *d, int64_t card_id, const char *text)
{
    idm_audit_iter_t *it = NULL;
    ck_ok(idm_audit_iter_new(d->ctx, &it));
    ck_ok(idm_audit_iter_set_object(it, IDM_OBJECT_CARD, card_id));
    idm_audit_event_t *ev = NULL;
    int found = 0;
    while (!found && idm_audit_iter_next(it, &ev) == IDM_OK && ev != NULL) {
        const char *detail = NULL, *from = NULL, *to = NULL;
        ck_ok(idm_audit_event_get_detail(ev, &detail));
        ck_ok(idm_audit_event_get_states(ev, &from, &to));
        found = strstr(detail, text) != NULL || (to != NULL && strcmp(to, text) == 0);
        idm_audit_event_free(&ev);
    }
    idm_audit_iter_free(&it);
    return found;
}

/* The card's order, its state and the card's outcome in it. */
static idm_order_state order_of(struct desk *d, idm_card_t *card, idm_order_card_outcome *outcome)
{
    int64_t order_id = 0;
    ck_ok(idm_card_refresh(card));
    ck_ok(idm_card_get_order_id(card, &order_id));
    idm_order_t *o = NULL;
    ck_ok(idm_order_open(d->ctx, order_id, &o));
    idm_order_state state = fixture_order_state(o);
    *outcome = fixture_card_outcome(o, id_of(card), NULL, 0, NULL);
    idm_order_free(&o);
    return state;
}

static int mails(struct desk *d)
{
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/new", d->maildir);
    return count_files(dir, ".eml");
}

static int outbox(struct desk *d)
{
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/outbox", d->spool);
    return count_files(dir, ".json");
}

/* ---- enabling and ordering ---------------------------------------------- */

START_TEST(test_order_refused_while_disabled)
{
    struct desk d;
    desk_open(&d, "ext-disabled", 0);
    int64_t who = person(&d, "E1", "e1@corp.example");
    idm_card_t *card = NULL;
    ck_assert_idm_error(idm_external_order_card(d.x, OPERATOR, who, IDM_CARD_EMPLOYEE,
                                                IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL, &card),
                        IDM_ERR_DISABLED, "external_production_enabled");
    ck_assert_ptr_null(card);
    idm_card_iter_t *it = NULL;
    ck_ok(idm_card_iter_new(d.ctx, &it));
    ck_assert_int_eq(idm_card_iter_next(it, &card), IDM_OK);
    ck_assert_ptr_null(card); /* nothing was created */
    idm_card_iter_free(&it);
    ck_assert_idm_error(idm_external_order_temporary(d.x, OPERATOR, IDM_CARD_PHYSICAL, 1,
                                                     "Temporary card", NULL),
                        IDM_ERR_DISABLED, "external_production_enabled");
    desk_close(&d);
}
END_TEST

START_TEST(test_order_refused_for_inactive_identity)
{
    struct desk d;
    desk_open(&d, "ext-inactive", 1);
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_new(d.ctx, "test", "R1", &p));
    ck_ok(idm_identity_set_attribute(p, "test", "givenName", "Rita"));
    int64_t who;
    ck_ok(idm_identity_get_id(p, &who));
    idm_card_t *card = NULL;
    ck_assert_idm_error(idm_external_order_card(d.x, OPERATOR, who, IDM_CARD_EMPLOYEE,
                                                IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL, &card),
                        IDM_ERR_STATE, "'registered'");
    ck_assert_ptr_null(card);
    ck_assert_idm_error(idm_external_order_card(d.x, OPERATOR, 4711, IDM_CARD_EMPLOYEE,
                                                IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL, &card),
                        IDM_ERR_NOT_FOUND, "4711");
    ck_assert_idm_error(idm_external_order_card(d.x, OPERATOR, who, IDM_CARD_TEMPORARY,
                                                IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL, &card),
                        IDM_ERR_INVALID_ARG, "idm_external_order_temporary");
    idm_card_iter_t *it = NULL;
    ck_ok(idm_card_iter_new(d.ctx, &it));
    ck_assert_int_eq(idm_card_iter_next(it, &card), IDM_OK);
    ck_assert_ptr_null(card);
    idm_card_iter_free(&it);
    idm_order_iter_t *orders = NULL;
    idm_order_t *o = NULL;
    ck_ok(idm_order_iter_new(d.ctx, &orders));
    ck_ok(idm_order_iter_next(orders, &o));
    ck_assert_ptr_null(o); /* no order was left behind either */
    idm_order_iter_free(&orders);
    idm_identity_free(&p);
    desk_close(&d);
}
END_TEST

START_TEST(test_order_without_queue_is_sent_at_once)
{
    struct desk d;
    desk_open(&d, "ext-direct", 1);
    int64_t who = person(&d, "E100", "anna@corp.example");
    idm_card_t *card = order(&d, who);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ORDERED);
    const char *requester = NULL;
    ck_ok(idm_card_get_requester(card, &requester));
    ck_assert_str_eq(requester, OPERATOR);
    /* on its way it passed processing, never requested (no approval step) */
    ck_assert(audit_mentions(&d, id_of(card), "processing"));
    ck_assert(!audit_mentions(&d, id_of(card), "requested"));
    char msg[256], path[4700];
    message_of(&d, id_of(card), 1, msg, sizeof msg);
    ck_assert_int_eq(strncmp(msg, "idm-", 4), 0);
    snprintf(path, sizeof path, "%s/outbox/%s.json", d.spool, msg);
    char *json = slurp(path);
    ck_assert_ptr_nonnull(json);
    /* card data and user data, with the derived common name and UPN */
    const char *number = NULL;
    ck_ok(idm_card_get_number(card, &number));
    char want[128];
    snprintf(want, sizeof want, "\"number\":\"%s\"", number);
    ck_assert_msg(strstr(json, want) != NULL, "%s", json);
    ck_assert(strstr(json, "\"format\":\"libidm-card-order/1\"") != NULL);
    ck_assert(strstr(json, "\"common_name\":\"Anna E100\"") != NULL);
    ck_assert(strstr(json, "\"upn\":\"E100@corp.example\"") != NULL);
    ck_assert(strstr(json, "\"mail\":\"anna@corp.example\"") != NULL);
    ck_assert(strstr(json, "\"requested_by\":\"operator\"") != NULL);
    free(json);
    ck_assert_int_eq(mails(&d), 0); /* send_card_ordered_email is off */
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_order_with_queue_waits_for_sync)
{
    struct desk d;
    desk_open(&d, "ext-queue", 1);
    set_bool(&d, "queue_orders", 1);
    idm_card_t *card = order(&d, person(&d, "Q1", "q1@corp.example"));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_PROCESSING);
    ck_assert_int_eq(outbox(&d), 0);
    size_t sent = 9, failed = 9;
    ck_ok(idm_external_sync_queue(d.x, "scheduler", 10, &sent, &failed));
    ck_assert_uint_eq(sent, 1);
    ck_assert_uint_eq(failed, 0);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ORDERED);
    ck_assert_int_eq(outbox(&d), 1);
    /* nothing left: a second sync sends nothing */
    ck_ok(idm_external_sync_queue(d.x, "scheduler", 10, &sent, &failed));
    ck_assert_uint_eq(sent, 0);
    ck_assert_int_eq(outbox(&d), 1);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_sync_sends_queue_in_batches)
{
    struct desk d;
    desk_open(&d, "ext-batches", 1);
    set_bool(&d, "queue_orders", 1);
    int64_t ids[25];
    for (int i = 0; i < 25; i++) {
        char ext[16];
        snprintf(ext, sizeof ext, "B%02d", i);
        ids[i] = person(&d, ext, NULL);
    }
    ck_ok(idm_external_order_batch(d.x, OPERATOR, ids, 25, IDM_CARD_CONTRACTOR,
                                   IDM_CARD_PHYSICAL, NULL, NULL, NULL));
    size_t sent = 0, failed = 0;
    ck_ok(idm_external_sync_queue(d.x, "scheduler", 10, &sent, &failed));
    ck_assert_uint_eq(sent, 25);
    ck_assert_int_eq(outbox(&d), 25); /* 25 distinct message ids */
    idm_card_iter_t *it = NULL;
    ck_ok(idm_card_iter_new(d.ctx, &it));
    ck_ok(idm_card_iter_set_state(it, IDM_CARD_ORDERED));
    idm_card_t *c = NULL;
    int n = 0;
    while (idm_card_iter_next(it, &c) == IDM_OK && c != NULL) {
        n++;
        idm_card_free(&c);
    }
    idm_card_iter_free(&it);
    ck_assert_int_eq(n, 25);
    ck_assert_idm_error(idm_external_sync_queue(d.x, "scheduler", 0, NULL, NULL),
                        IDM_ERR_INVALID_ARG, "batch_size");
    desk_close(&d);
}
END_TEST

/* ---- the options -------------------------------------------------------- */

/* A card handle of another store with the same id never stands in for
 * the desk's card. */
START_TEST(test_card_of_another_context_is_refused)
{
    struct desk a, b;
    desk_open(&a, "ext-ctx-a", 1);
    desk_open(&b, "ext-ctx-b", 1);
    set_bool(&a, "external_approval_step", 1);
    set_bool(&b, "external_approval_step", 1);
    idm_card_t *card_a = order(&a, person(&a, "CA1", NULL));
    idm_card_t *card_b = order(&b, person(&b, "CB1", NULL));
    ck_assert_int_eq(id_of(card_a), id_of(card_b));
    ck_assert_idm_error(idm_external_reject(a.x, APPROVER, card_b, NULL), IDM_ERR_INVALID_ARG,
                        "another context");
    ck_assert_idm_error(idm_external_approve(a.x, APPROVER, card_b), IDM_ERR_INVALID_ARG,
                        "another context");
    ck_assert_idm_error(idm_external_abort(a.x, APPROVER, card_b, NULL), IDM_ERR_INVALID_ARG,
                        "another context");
    ck_assert_int_eq(fixture_state_of(card_a), IDM_CARD_REQUESTED);
    ck_assert_int_eq(fixture_state_of(card_b), IDM_CARD_REQUESTED);
    idm_card_free(&card_a);
    idm_card_free(&card_b);
    desk_close(&a);
    desk_close(&b);
}
END_TEST

START_TEST(test_approval_step_waits_and_needs_another_actor)
{
    struct desk d;
    desk_open(&d, "ext-approval", 1);
    set_bool(&d, "external_approval_step", 1);
    idm_card_t *card = order(&d, person(&d, "A1", NULL));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_REQUESTED);
    ck_assert_int_eq(outbox(&d), 0);
    ck_assert_idm_error(idm_external_approve(d.x, OPERATOR, card), IDM_ERR_INVALID_ARG,
                        "who requested");
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_REQUESTED);
    ck_ok(idm_external_approve(d.x, APPROVER, card));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ORDERED);
    ck_assert_int_eq(outbox(&d), 1);
    ck_assert_idm_error(idm_external_approve(d.x, APPROVER, card), IDM_ERR_STATE,
                        "approval is only allowed from 'requested'");
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_reject_ends_in_rejected)
{
    struct desk d;
    desk_open(&d, "ext-reject", 1);
    set_bool(&d, "external_approval_step", 1);
    idm_card_t *card = order(&d, person(&d, "J1", NULL));
    ck_assert_idm_error(idm_external_reject(d.x, OPERATOR, card, "no budget"),
                        IDM_ERR_INVALID_ARG, "who requested");
    ck_ok(idm_external_reject(d.x, APPROVER, card, "no budget"));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_REJECTED);
    ck_assert(audit_mentions(&d, id_of(card), "rejected: no budget"));
    ck_assert_int_eq(outbox(&d), 0);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_approved_card_follows_its_order_snapshot)
{
    struct desk d;
    desk_open(&d, "ext-snapshot", 1);
    set_bool(&d, "external_approval_step", 1);
    set_bool(&d, "queue_orders", 1);
    idm_card_t *card = order(&d, person(&d, "S1", NULL));
    /* the option changes while the card waits; its order keeps the queue */
    set_bool(&d, "queue_orders", 0);
    ck_ok(idm_external_approve(d.x, APPROVER, card));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_PROCESSING);
    ck_assert_int_eq(outbox(&d), 0);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_production_type_selectable)
{
    struct desk d;
    desk_open(&d, "ext-selectable", 1);
    int64_t who = person(&d, "T1", NULL);
    idm_card_t *card = NULL;
    ck_assert_idm_error(idm_external_order_card(d.x, OPERATOR, who, IDM_CARD_EMPLOYEE,
                                                IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL, &card),
                        IDM_ERR_DISABLED, "production_type_selectable");
    ck_assert_ptr_null(card);
    set_bool(&d, "production_type_selectable", 1);
    ck_ok(idm_external_order_card(d.x, OPERATOR, who, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                                  IDM_PRODUCTION_LOCAL, &card));
    idm_production production;
    ck_ok(idm_card_get_production(card, &production));
    ck_assert_int_eq(production, IDM_PRODUCTION_LOCAL);
    /* a local request waits for approval (request_approval), then for mass
     * production; the bureau never hears of it */
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_REQUESTED);
    ck_ok(idm_external_approve(d.x, APPROVER, card));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_APPROVED);
    ck_assert_int_eq(outbox(&d), 0);
    idm_card_free(&card);
    /* external production of the same person is still an order of its own */
    set_bool(&d, "allow_multiple_orders", 1);
    card = order(&d, who);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ORDERED);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_multiple_orders_refused_unless_allowed)
{
    struct desk d;
    desk_open(&d, "ext-multiple", 1);
    int64_t who = person(&d, "M1", NULL);
    idm_card_t *first = order(&d, who), *second = NULL;
    ck_assert_idm_error(idm_external_order_card(d.x, OPERATOR, who, IDM_CARD_EMPLOYEE,
                                                IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL,
                                                &second),
                        IDM_ERR_STATE, "allow_multiple_orders");
    ck_assert_ptr_null(second);
    /* another card type is another order */
    ck_ok(idm_external_order_card(d.x, OPERATOR, who, IDM_CARD_VISITOR, IDM_CARD_PHYSICAL,
                                  IDM_PRODUCTION_EXTERNAL, &second));
    idm_card_free(&second);
    set_bool(&d, "allow_multiple_orders", 1);
    second = order(&d, who);
    ck_assert_int_eq(fixture_state_of(second), IDM_CARD_ORDERED);
    ck_assert_int_ne(id_of(first), id_of(second));
    idm_card_free(&first);
    idm_card_free(&second);
    desk_close(&d);
}
END_TEST

START_TEST(test_card_ordered_email_on_and_off)
{
    struct desk d;
    desk_open(&d, "ext-email", 1);
    idm_card_t *card = order(&d, person(&d, "M2", "m2@corp.example"));
    ck_assert_int_eq(mails(&d), 0);
    idm_card_free(&card);
    set_bool(&d, "send_card_ordered_email", 1);
    card = order(&d, person(&d, "M3", "m3@corp.example"));
    ck_assert_int_eq(mails(&d), 1);
    ck_assert(audit_mentions(&d, id_of(card), "sent to m3@corp.example"));
    idm_card_free(&card);
    /* a holder without an address: the step still succeeds, the mail is
     * recorded as undeliverable */
    card = order(&d, person(&d, "M4", NULL));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ORDERED);
    ck_assert(audit_mentions(&d, id_of(card), "undeliverable"));
    ck_assert_int_eq(mails(&d), 1);
    idm_card_free(&card);
    /* with the queue the mail waits until the bureau has the order */
    set_bool(&d, "queue_orders", 1);
    card = order(&d, person(&d, "M5", "m5@corp.example"));
    ck_assert_int_eq(mails(&d), 1);
    ck_ok(idm_external_sync_queue(d.x, "scheduler", 5, NULL, NULL));
    ck_assert_int_eq(mails(&d), 2);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

struct batch_seen {
    int calls;
    int results[8];
    idm_card_state states[8];
    char reasons[8][512];
};

static void on_batch(size_t index, int64_t identity_id, int result, int64_t card_id,
                     idm_card_state state, const char *reason, void *user_data)
{
    struct batch_seen *b = user_data;
    (void)identity_id;
    ck_assert_uint_lt(index, 8);
    ck_assert((result == IDM_OK) == (card_id != 0));
    b->calls++;
    b->results[index] = result;
    b->states[index] = state;
    snprintf(b->reasons[index], sizeof b->reasons[index], "%s", reason != NULL ? reason : "");
}

START_TEST(test_batch_reports_each_identity)
{
    struct desk d;
    desk_open(&d, "ext-batch", 1);
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_new(d.ctx, "test", "INACTIVE", &p));
    int64_t inactive;
    ck_ok(idm_identity_get_id(p, &inactive));
    idm_identity_free(&p);
    int64_t a = person(&d, "BA", NULL), b = person(&d, "BB", NULL);
    int64_t ids[5] = {a, inactive, 99999, b, a};
    struct batch_seen seen = {0};
    idm_order_t *o = NULL;
    ck_ok(idm_external_order_batch(d.x, OPERATOR, ids, 5, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                                   on_batch, &seen, &o));
    ck_assert_int_eq(seen.calls, 5);
    ck_assert_int_eq(seen.results[0], IDM_OK);
    ck_assert_int_eq(seen.states[0], IDM_CARD_ORDERED);
    ck_assert_int_eq(seen.results[1], IDM_ERR_STATE);
    ck_assert(strstr(seen.reasons[1], "'registered'") != NULL);
    ck_assert_int_eq(seen.results[2], IDM_ERR_NOT_FOUND);
    ck_assert_int_eq(seen.results[3], IDM_OK);
    ck_assert_int_eq(seen.results[4], IDM_ERR_STATE); /* a second order for the same person */
    ck_assert(strstr(seen.reasons[4], "allow_multiple_orders") != NULL);
    int64_t in_order = 0;
    ck_ok(idm_order_count_cards(o, IDM_OUTCOME_PENDING, &in_order));
    ck_assert_int_eq(in_order, 2);
    idm_order_kind kind;
    ck_ok(idm_order_get_kind(o, &kind));
    ck_assert_int_eq(kind, IDM_ORDER_EXTERNAL);
    idm_order_free(&o);
    /* with the queue, the outcome is "queued" */
    set_bool(&d, "queue_orders", 1);
    int64_t c = person(&d, "BC", NULL);
    memset(&seen, 0, sizeof seen);
    ck_ok(idm_external_order_batch(d.x, OPERATOR, &c, 1, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                                   on_batch, &seen, NULL));
    ck_assert_int_eq(seen.states[0], IDM_CARD_PROCESSING);
    /* a batch whose every identity is refused leaves a completed, empty order */
    memset(&seen, 0, sizeof seen);
    ck_ok(idm_external_order_batch(d.x, OPERATOR, &inactive, 1, IDM_CARD_EMPLOYEE,
                                   IDM_CARD_DIGITAL, on_batch, &seen, &o));
    ck_assert_int_eq(seen.results[0], IDM_ERR_STATE);
    ck_assert_int_eq(fixture_order_state(o), IDM_ORDER_COMPLETED);
    idm_order_free(&o);
    desk_close(&d);
}
END_TEST

/* ---- abort ---------------------------------------------------------------- */

START_TEST(test_abort_only_from_processing)
{
    struct desk d;
    desk_open(&d, "ext-abort", 1);
    set_bool(&d, "queue_orders", 1);
    idm_card_t *card = order(&d, person(&d, "AB1", NULL));
    ck_ok(idm_external_abort(d.x, OPERATOR, card, "ordered by mistake"));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ABORTED);
    idm_order_card_outcome outcome;
    ck_assert_int_eq(order_of(&d, card, &outcome), IDM_ORDER_COMPLETED);
    ck_assert_int_eq(outcome, IDM_OUTCOME_SKIPPED);
    ck_ok(idm_external_sync_queue(d.x, "scheduler", 5, NULL, NULL));
    ck_assert_int_eq(outbox(&d), 0); /* an aborted card is never sent */
    idm_card_free(&card);
    set_bool(&d, "queue_orders", 0);
    set_bool(&d, "allow_multiple_orders", 1);
    card = order(&d, person(&d, "AB2", NULL));
    const char *number = NULL;
    ck_ok(idm_card_get_number(card, &number));
    char want[128];
    snprintf(want, sizeof want, "card %s is in state 'ordered'; abort is only allowed from "
             "'processing'", number);
    ck_assert_idm_error(idm_external_abort(d.x, OPERATOR, card, NULL), IDM_ERR_STATE, want);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ORDERED);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

/* A host producer whose submit fails on request and counts its calls. */
struct flaky {
    int fail;
    int submits;
    int cancels;
    char last_id[256];
    char ids[8][256];
};

static int flaky_submit(const char *message_id, const char *json, size_t len, void *ud)
{
    struct flaky *f = ud;
    (void)json;
    (void)len;
    if (f->submits < 8)
        snprintf(f->ids[f->submits], sizeof f->ids[0], "%s", message_id);
    f->submits++;
    snprintf(f->last_id, sizeof f->last_id, "%s", message_id);
    if (f->fail) {
        idm_producer_backend_error("bureau gateway timed out");
        return 503;
    }
    return 0;
}

static int flaky_status(const char *const *ids, size_t n, idm_bureau_report_fn report,
                        void *report_data, void *ud)
{
    (void)ids;
    (void)n;
    (void)report;
    (void)report_data;
    (void)ud;
    return 0;
}

static int flaky_cancel(const char *message_id, void *ud)
{
    struct flaky *f = ud;
    (void)message_id;
    f->cancels++;
    return 0;
}

static void desk_with_flaky(struct desk *d, const char *name, struct flaky *f, int cancel)
{
    desk_open(d, name, 1);
    idm_external_free(&d->x);
    idm_producer_free(&d->producer);
    idm_producer_ops ops = IDM_PRODUCER_OPS_INIT;
    ops.submit = flaky_submit;
    ops.status = flaky_status;
    if (cancel)
        ops.cancel = flaky_cancel;
    ck_ok(idm_producer_new(&d->producer, &ops, sizeof ops, f, NULL));
    ck_ok(idm_external_new(&d->x, d->ctx, d->producer, d->notifier));
}

START_TEST(test_bureau_refusal_fails_card_and_repeat_reuses_id)
{
    struct desk d;
    struct flaky f = {0};
    desk_with_flaky(&d, "ext-refusal", &f, 1);
    f.fail = 1;
    idm_card_t *card = order(&d, person(&d, "F1", NULL));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_FAILED);
    ck_assert(audit_mentions(&d, id_of(card), "bureau gateway timed out"));
    /* the operator repeats it: the same message, since the bureau may have it */
    ck_ok(idm_card_set_state(card, OPERATOR, IDM_CARD_PROCESSING, "repeat"));
    f.fail = 0;
    size_t sent = 0;
    ck_ok(idm_external_sync_queue(d.x, "scheduler", 5, &sent, NULL));
    ck_assert_uint_eq(sent, 1);
    ck_assert_int_eq(f.submits, 2);
    ck_assert_str_eq(f.ids[0], f.ids[1]);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ORDERED);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_abort_withdraws_message_in_doubt)
{
    struct desk d;
    struct flaky f = {0};
    desk_with_flaky(&d, "ext-doubt", &f, 1);
    f.fail = 1;
    idm_card_t *card = order(&d, person(&d, "D1", NULL));
    ck_ok(idm_card_set_state(card, OPERATOR, IDM_CARD_PROCESSING, "repeat"));
    ck_ok(idm_external_abort(d.x, OPERATOR, card, "no longer needed"));
    ck_assert_int_eq(f.cancels, 1);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ABORTED);
    ck_assert(audit_mentions(&d, id_of(card), "withdrew message"));
    idm_card_free(&card);
    desk_close(&d);

    /* without a cancel method the abort is refused rather than leave an
     * order at the bureau */
    struct flaky g = {0};
    desk_with_flaky(&d, "ext-doubt-nocancel", &g, 0);
    g.fail = 1;
    card = order(&d, person(&d, "D2", NULL));
    ck_ok(idm_card_set_state(card, OPERATOR, IDM_CARD_PROCESSING, "repeat"));
    ck_assert_idm_error(idm_external_abort(d.x, OPERATOR, card, NULL), IDM_ERR_STATE,
                        "cannot cancel");
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_PROCESSING);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

/* ---- bureau reports ----------------------------------------------------- */

START_TEST(test_update_applies_reports)
{
    struct desk d;
    desk_open(&d, "ext-update", 1);
    idm_card_t *card = order(&d, person(&d, "U1", "u1@corp.example"));
    char msg[256];
    message_of(&d, id_of(card), 1, msg, sizeof msg);
    update(&d, 0, 0);
    bureau_reports(&d, "001.json", msg, "in_production", NULL);
    update(&d, 1, 0);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_IN_PRODUCTION);
    /* a duplicate changes nothing and is not an error */
    bureau_reports(&d, "002.json", msg, "in_production", NULL);
    update(&d, 0, 0);
    bureau_reports(&d, "003.json", msg, "produced", "BUREAU-0001");
    update(&d, 1, 0);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_PRODUCED);
    const char *serial = NULL, *shipment = NULL;
    ck_ok(idm_card_get_chip_serial(card, &serial));
    ck_ok(idm_card_get_shipment(card, &shipment));
    ck_assert_str_eq(serial, "BUREAU-0001");
    ck_assert_str_eq(shipment, "DHL 0034043416");
    ck_assert_int_eq(mails(&d), 1); /* "card produced" */
    idm_order_card_outcome outcome;
    ck_assert_int_eq(order_of(&d, card, &outcome), IDM_ORDER_COMPLETED);
    ck_assert_int_eq(outcome, IDM_OUTCOME_PRODUCED);
    /* a late "in_production" is an old report delivered again: accepted,
     * no change; a produced with another chip, a failure after production,
     * an unknown message, a malformed file: refused, quarantined, no change */
    bureau_reports(&d, "004.json", msg, "in_production", NULL);
    bureau_reports(&d, "005.json", msg, "produced", "OTHER-CHIP");
    bureau_reports(&d, "006.json", "idm-000000000000-o9-c9-a1", "produced", "X1");
    bureau_says(&d, "007.json", "{\"message_id\": \"x\", ");
    bureau_reports(&d, "008.json", msg, "failed", NULL);
    update(&d, 0, 3);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_PRODUCED);
    char dir[4300], reason[4400];
    snprintf(dir, sizeof dir, "%s/quarantine", d.spool);
    ck_assert_int_eq(count_files(dir, ".reason"), 4);
    snprintf(reason, sizeof reason, "%s/quarantine/005.json.reason", d.spool);
    char *text = slurp(reason);
    ck_assert_msg(text != NULL && strstr(text, "another chip") == NULL &&
                  strstr(text, "'produced'") != NULL, "%s", text);
    free(text);
    snprintf(reason, sizeof reason, "%s/quarantine/008.json.reason", d.spool);
    text = slurp(reason);
    ck_assert_msg(text != NULL && strstr(text, "out of date") != NULL, "%s", text);
    free(text);
    snprintf(reason, sizeof reason, "%s/quarantine/006.json.reason", d.spool);
    text = slurp(reason);
    ck_assert_msg(text != NULL && strstr(text, "unknown card") != NULL, "%s", text);
    free(text);
    snprintf(dir, sizeof dir, "%s/processed", d.spool);
    ck_assert_int_eq(count_files(dir, ".json"), 4);
    int64_t broken = -1;
    ck_ok(idm_audit_verify(d.ctx, &broken));
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_bureau_failure_then_repeat_is_a_new_attempt)
{
    struct desk d;
    desk_open(&d, "ext-bureau-fail", 1);
    idm_card_t *card = order(&d, person(&d, "BF1", NULL));
    char first[256], second[256];
    message_of(&d, id_of(card), 1, first, sizeof first);
    bureau_says(&d, "f1.json", "{\"message_id\":\"");
    char json[512];
    snprintf(json, sizeof json, "{\"message_id\":\"%s\",\"status\":\"failed\",\"reason\":"
             "\"chip defective\"}", first);
    bureau_says(&d, "f2.json", json);
    update(&d, 1, 0); /* the malformed file never reaches the library */
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/quarantine", d.spool);
    ck_assert_int_eq(count_files(dir, ".reason"), 1);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_FAILED);
    ck_assert(audit_mentions(&d, id_of(card), "chip defective"));
    idm_order_card_outcome outcome;
    ck_assert_int_eq(order_of(&d, card, &outcome), IDM_ORDER_RUNNING);
    ck_assert_int_eq(outcome, IDM_OUTCOME_FAILED);
    ck_ok(idm_card_set_state(card, OPERATOR, IDM_CARD_PROCESSING, "repeat"));
    ck_ok(idm_external_sync_queue(d.x, "scheduler", 5, NULL, NULL));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ORDERED);
    message_of(&d, id_of(card), 2, second, sizeof second);
    ck_assert_str_ne(first, second);
    /* the failed attempt takes no more news: a late "in_production" is an
     * old report again, a "produced" contradicts it */
    bureau_reports(&d, "f3.json", first, "in_production", NULL);
    bureau_reports(&d, "f3b.json", first, "produced", "CHIP-1");
    update(&d, 0, 1);
    char reason[4400];
    snprintf(reason, sizeof reason, "%s/quarantine/f3b.json.reason", d.spool);
    char *text = slurp(reason);
    ck_assert_msg(text != NULL && strstr(text, "reported failed") != NULL, "%s", text);
    free(text);
    ck_assert_int_eq(order_of(&d, card, &outcome), IDM_ORDER_RUNNING);
    ck_assert_int_eq(outcome, IDM_OUTCOME_PENDING);
    bureau_reports(&d, "f4.json", second, "produced", "CHIP-2");
    update(&d, 1, 0);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_PRODUCED);
    ck_assert_int_eq(order_of(&d, card, &outcome), IDM_ORDER_COMPLETED);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

/* ---- activation --------------------------------------------------------- */

static int enter_pin(const idm_card_t *card, char *pin, size_t size, void *ud)
{
    (void)card;
    (void)ud;
    snprintf(pin, size, "246810");
    return 0;
}

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *ud)
{
    struct delivered *got = ud;
    (void)card;
    snprintf(got->pin, sizeof got->pin, "%s", pin != NULL ? pin : "");
    snprintf(got->puk, sizeof got->puk, "%s", puk);
    return 0;
}

/* The built-in CA and an in-memory encoder (with key methods for Digital
 * ID) whose PIN callbacks enter 246810 and keep what they are given. */
static void desk_encoder(struct desk *d, int with_keys)
{
    ck_ok(idm_ca_new_openssl(&d->ca, d->ctx, IDM_KEY_EC_P256, "External Test CA", 3650));
    d->enc = mem_encoder_new(&d->mem, with_keys);
    ck_ok(idm_encoder_set_pin_callbacks(d->enc, enter_pin, deliver, &d->got));
}

/* A produced Digital ID card whose chip is the next one the encoder holds. */
static idm_card_t *produced_card(struct desk *d, const char *who, const char *chip)
{
    idm_card_t *card = order(d, person(d, who, "holder@corp.example"));
    char msg[256];
    message_of(d, id_of(card), 1, msg, sizeof msg);
    char name[64];
    snprintf(name, sizeof name, "%s.json", who);
    bureau_reports(d, name, msg, "produced", chip);
    update(d, 1, 0);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_PRODUCED);
    return card;
}

/* Whether any mail in the maildir contains text. */
static int mail_contains(struct desk *d, const char *text)
{
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/new", d->maildir);
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *body = slurp(path);
        found = body != NULL && strstr(body, text) != NULL;
        free(body);
    }
    closedir(dp);
    return found;
}

START_TEST(test_activation_encodes_card)
{
    struct desk d;
    desk_open(&d, "ext-activate", 1);
    desk_encoder(&d, 1);
    idm_card_t *card = produced_card(&d, "ACT1", "HOST-0001");
    int live = 0, superseded = 0, other = 0;
    fixture_count_certs(d.ctx, id_of(card), &live, &superseded, &other);
    ck_assert_int_eq(live, 0); /* no keys before activation: the bureau made none */
    ck_ok(idm_external_activate(d.x, OPERATOR, card, d.enc, d.ca));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ACTIVE);
    fixture_count_certs(d.ctx, id_of(card), &live, &superseded, &other);
    ck_assert_int_eq(live, 4);
    idm_cert_iter_t *it = NULL;
    ck_ok(idm_cert_iter_new(d.ctx, id_of(card), &it));
    idm_cert_t *cert = NULL;
    while (idm_cert_iter_next(it, &cert) == IDM_OK && cert != NULL) {
        idm_cert_state s;
        ck_ok(idm_cert_get_state(cert, &s));
        ck_assert_int_eq(s, IDM_CERT_VALID);
        idm_cert_free(&cert);
    }
    idm_cert_iter_free(&it);
    ck_assert_str_eq(d.mem->pin, "246810"); /* pin_source "user" */
    ck_assert(mail_contains(&d, "is active"));
    /* no PIN in any message: PIN delivery by e-mail was not chosen */
    ck_assert(!mail_contains(&d, "246810"));
    ck_assert(!mail_contains(&d, d.got.puk));
    ck_assert_idm_error(idm_external_activate(d.x, OPERATOR, card, d.enc, d.ca), IDM_ERR_STATE,
                        "activation starts from 'produced'");
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_activation_pin_by_email)
{
    struct desk d;
    desk_open(&d, "ext-pin-mail", 1);
    ck_ok(idm_options_set_string(d.ctx, "admin", "pin_source", "generated"));
    ck_ok(idm_options_set_string(d.ctx, "admin", "pin_delivery", "email"));
    ck_ok(idm_options_set_int(d.ctx, "admin", "pin_length", 4));
    desk_encoder(&d, 0);
    ck_ok(idm_encoder_set_pin_callbacks(d.enc, NULL, deliver, &d.got)); /* no PIN entry */
    idm_card_t *card = NULL;
    ck_ok(idm_external_order_card(d.x, OPERATOR, person(&d, "PM1", "pm1@corp.example"),
                                  IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL,
                                  &card));
    char msg[256];
    message_of(&d, id_of(card), 1, msg, sizeof msg);
    bureau_reports(&d, "pm1.json", msg, "produced", "HOST-0001");
    update(&d, 1, 0);
    ck_ok(idm_external_activate(d.x, OPERATOR, card, d.enc, NULL));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ACTIVE);
    ck_assert_uint_eq(strlen(d.got.pin), 4);
    ck_assert_str_eq(d.mem->pin, d.got.pin);
    char line[64];
    snprintf(line, sizeof line, "Your PIN: %s", d.got.pin);
    ck_assert(mail_contains(&d, line));
    ck_assert(!mail_contains(&d, d.got.puk)); /* the PUK never goes by mail */
    ck_assert(!audit_mentions(&d, id_of(card), d.got.pin));
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_activation_refuses_another_chip)
{
    struct desk d;
    desk_open(&d, "ext-wrong-chip", 1);
    desk_encoder(&d, 1);
    idm_card_t *card = produced_card(&d, "WC1", "BUREAU-CHIP-7");
    ck_assert_idm_error(idm_external_activate(d.x, OPERATOR, card, d.enc, d.ca), IDM_ERR_STATE,
                        "wrong card");
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_PRODUCED);
    int live = 0, superseded = 0, other = 0;
    fixture_count_certs(d.ctx, id_of(card), &live, &superseded, &other);
    ck_assert_int_eq(live + superseded + other, 0);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

START_TEST(test_activation_failure_keeps_card_produced)
{
    struct desk d;
    desk_open(&d, "ext-activate-fail", 1);
    desk_encoder(&d, 1);
    idm_card_t *card = produced_card(&d, "AF1", "HOST-0001");
    d.mem->fail_method = "set_pin";
    d.mem->fail_code = IDM_ERR_CARD;
    ck_assert_int_eq(idm_external_activate(d.x, OPERATOR, card, d.enc, d.ca), IDM_ERR_CARD);
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_PRODUCED);
    int live = 0, superseded = 0, other = 0;
    fixture_count_certs(d.ctx, id_of(card), &live, &superseded, &other);
    ck_assert_int_eq(live, 0);
    ck_assert_int_eq(other, 4); /* the attempt's certificates were revoked */
    ck_assert(audit_mentions(&d, id_of(card), "activation failed"));
    d.mem->fail_method = NULL;
    ck_ok(idm_external_activate(d.x, OPERATOR, card, d.enc, d.ca)); /* attempt 2 */
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ACTIVE);
    fixture_count_certs(d.ctx, id_of(card), &live, &superseded, &other);
    ck_assert_int_eq(live, 4);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

/* An activation killed after its certificates were committed (a child
 * process dies in the encoder's first certificate write) leaves them on
 * hold; the activation run again revokes them as superseded, so the active
 * card has only its own.  Found by the crash torture of the idm tool: the
 * card ended with eight valid certificates, four for keys it no longer
 * had. */
START_TEST(test_activation_killed_after_its_certificates_is_resumed_cleanly)
{
    struct desk d;
    desk_open(&d, "ext-activate-killed", 1);
    desk_encoder(&d, 1);
    idm_card_t *card = produced_card(&d, "AK1", "HOST-0001");
    char *cert_pem = NULL, *key_pem = NULL;
    fixture_export_ca(d.ca, &cert_pem, &key_pem);
    char db[4200];
    snprintf(db, sizeof db, "%.*s", (int)strlen(d.root) - 2, d.root); /* root is "<db>.d" */
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        idm_ctx_t *ctx = NULL;
        idm_external_t *x = NULL;
        idm_ca_t *ca = NULL;
        idm_card_t *mine = NULL;
        struct mem_card *mem = NULL;
        struct delivered got;
        idm_encoder_t *enc = mem_encoder_new(&mem, 1);
        mem->die_method = "write_certificate";
        if (idm_ctx_new(&ctx) != IDM_OK || idm_ctx_open_store(ctx, db) != IDM_OK ||
            idm_external_new(&x, ctx, NULL, NULL) != IDM_OK ||
            idm_ca_new_openssl_pem(&ca, ctx, cert_pem, strlen(cert_pem), key_pem,
                                   strlen(key_pem), fixture_passphrase, NULL) != IDM_OK ||
            idm_encoder_set_pin_callbacks(enc, enter_pin, deliver, &got) != IDM_OK ||
            idm_card_open(ctx, id_of(card), &mine) != IDM_OK)
            _exit(2);
        idm_external_activate(x, OPERATOR, mine, enc, ca);
        _exit(3); /* the encoder should have ended the process */
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the child did not die in write_certificate (status %d)", status);
    free(cert_pem);
    free(key_pem);
    int live = 0, superseded = 0, other = 0;
    fixture_count_certs(d.ctx, id_of(card), &live, &superseded, &other);
    ck_assert_int_eq(live, 4); /* on hold, from the killed attempt */
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_PRODUCED);
    ck_ok(idm_external_activate(d.x, OPERATOR, card, d.enc, d.ca));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ACTIVE);
    fixture_count_certs(d.ctx, id_of(card), &live, &superseded, &other);
    ck_assert_int_eq(live, 4);
    ck_assert_int_eq(superseded, 4);
    ck_assert_int_eq(other, 0);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

/* ---- temporary cards ---------------------------------------------------- */

START_TEST(test_temporary_cards_lifecycle)
{
    struct desk d;
    desk_open(&d, "ext-temporary", 1);
    ck_assert_idm_error(idm_external_order_temporary(d.x, OPERATOR, IDM_CARD_PHYSICAL, 3,
                                                     "Temporary card", NULL),
                        IDM_ERR_INVALID_ARG, "temporary_cards_per_order");
    ck_ok(idm_options_set_int(d.ctx, "admin", "temporary_cards_per_order", 9));
    ck_assert_idm_error(idm_external_order_temporary(d.x, OPERATOR, IDM_CARD_PHYSICAL, 10,
                                                     "Temporary card", NULL),
                        IDM_ERR_INVALID_ARG, "1..9");
    set_bool(&d, "queue_orders", 1);
    idm_order_t *o = NULL;
    ck_ok(idm_external_order_temporary(d.x, OPERATOR, IDM_CARD_DIGITAL, 3, "Temporary card",
                                       &o));
    int64_t order_id;
    ck_ok(idm_order_get_id(o, &order_id));
    idm_order_free(&o);
    idm_card_t *cards[3] = {NULL, NULL, NULL};
    idm_card_iter_t *it = NULL;
    ck_ok(idm_card_iter_new(d.ctx, &it));
    ck_ok(idm_card_iter_set_order(it, order_id));
    for (int i = 0; i < 3; i++) {
        ck_ok(idm_card_iter_next(it, &cards[i]));
        ck_assert_ptr_nonnull(cards[i]);
        ck_assert_int_eq(fixture_state_of(cards[i]), IDM_CARD_PROCESSING);
        const char *name = NULL;
        ck_ok(idm_card_get_name(cards[i], &name));
        char want[32];
        snprintf(want, sizeof want, "Temporary card %d", i + 1);
        ck_assert_str_eq(name, want);
    }
    idm_card_iter_free(&it);
    /* one is aborted while it waits in the queue */
    ck_ok(idm_external_abort(d.x, OPERATOR, cards[2], "two are enough"));
    size_t sent = 0;
    ck_ok(idm_external_sync_queue(d.x, "scheduler", 10, &sent, NULL));
    ck_assert_uint_eq(sent, 2);
    char msg[256];
    message_of(&d, id_of(cards[0]), 1, msg, sizeof msg);
    ck_assert_int_eq(count_files(d.spool, NULL), 5); /* the spool's folders only */
    char path[4700];
    snprintf(path, sizeof path, "%s/outbox/%s.json", d.spool, msg);
    char *json = slurp(path);
    ck_assert(strstr(json, "\"holder\":null") != NULL);
    ck_assert(strstr(json, "\"name\":\"Temporary card 1\"") != NULL);
    free(json);
    bureau_reports(&d, "t1.json", msg, "produced", "HOST-0001");
    update(&d, 1, 0);
    ck_assert_int_eq(mails(&d), 0); /* a temporary card has nobody to tell */
    /* a produced card is initialized before it is lent */
    ck_assert_idm_error(idm_external_withdraw(d.x, OPERATOR, cards[0], NULL), IDM_ERR_STATE,
                        "withdrawn only from 'assigned'");
    ck_assert_idm_error(idm_external_assign(d.x, OPERATOR, cards[0], person(&d, "TMP0", NULL)),
                        IDM_ERR_STATE, "assigned only from 'unassigned'");
    ck_assert_int_eq(fixture_state_of(cards[0]), IDM_CARD_PRODUCED);

    desk_encoder(&d, 1);
    ck_assert_idm_error(idm_external_activate(d.x, OPERATOR, cards[0], d.enc, d.ca), IDM_ERR_STATE,
                        "initialized, not activated");
    ck_ok(idm_external_initialize_temporary(d.x, OPERATOR, cards[0], d.enc, d.ca));
    ck_assert_int_eq(fixture_state_of(cards[0]), IDM_CARD_UNASSIGNED);
    int live = 0, superseded = 0, other = 0;
    fixture_count_certs(d.ctx, id_of(cards[0]), &live, &superseded, &other);
    ck_assert_int_eq(live, 4);

    idm_identity_t *p = NULL;
    ck_ok(idm_identity_new(d.ctx, "test", "NOT-ACTIVE", &p));
    int64_t inactive;
    ck_ok(idm_identity_get_id(p, &inactive));
    idm_identity_free(&p);
    ck_assert_idm_error(idm_external_assign(d.x, OPERATOR, cards[0], inactive), IDM_ERR_STATE,
                        "active identity");
    int64_t who = person(&d, "TMP1", NULL);
    ck_ok(idm_external_assign(d.x, OPERATOR, cards[0], who));
    ck_assert_int_eq(fixture_state_of(cards[0]), IDM_CARD_ASSIGNED);
    int64_t holder = 0;
    ck_ok(idm_card_get_identity_id(cards[0], &holder));
    ck_assert_int_eq(holder, who);
    ck_ok(idm_external_withdraw(d.x, OPERATOR, cards[0], "returned at the desk"));
    ck_assert_int_eq(fixture_state_of(cards[0]), IDM_CARD_UNASSIGNED);
    ck_ok(idm_card_get_identity_id(cards[0], &holder));
    ck_assert_int_eq(holder, 0);
    ck_assert_idm_error(idm_external_withdraw(d.x, OPERATOR, cards[0], NULL), IDM_ERR_STATE,
                        "unassigned");
    for (int i = 0; i < 3; i++)
        idm_card_free(&cards[i]);
    desk_close(&d);
}
END_TEST

/* ---- notifications ------------------------------------------------------ */

struct mailbag {
    int fail;
    int sent;
    char ids[8][128];
    char last_body[2048];
};

static int bag_send(const char *message_id, idm_notification_kind kind, const char *to,
                    const char *subject, const char *body, void *ud)
{
    struct mailbag *b = ud;
    (void)kind;
    (void)to;
    (void)subject;
    (void)body;
    if (b->fail == 1) {
        idm_notifier_backend_error("SMTP 451 try again later");
        return 451;
    }
    if (b->fail == 2) {
        idm_notifier_backend_error("SMTP 550 no such mailbox");
        return IDM_ERR_INVALID_ARG;
    }
    if (b->sent < 8)
        snprintf(b->ids[b->sent], sizeof b->ids[0], "%s", message_id);
    snprintf(b->last_body, sizeof b->last_body, "%s", body);
    b->sent++;
    return 0;
}

/* A desk whose notifier is the mail bag, on d's store and producer. */
static idm_external_t *desk_with_bag(struct desk *d, struct mailbag *bag, idm_notifier_t **out)
{
    idm_notifier_ops ops = IDM_NOTIFIER_OPS_INIT;
    ops.send = bag_send;
    ck_ok(idm_notifier_new(out, &ops, sizeof ops, bag, NULL));
    idm_external_t *x = NULL;
    ck_ok(idm_external_new(&x, d->ctx, d->producer, *out));
    return x;
}

START_TEST(test_failing_notifier_never_fails_step)
{
    struct desk d;
    desk_open(&d, "ext-notifier-fail", 1);
    set_bool(&d, "send_card_ordered_email", 1);
    struct mailbag bag = {1, 0, {{0}}, ""};
    idm_notifier_t *smtp = NULL;
    idm_external_t *x = desk_with_bag(&d, &bag, &smtp);
    idm_card_t *card = NULL;
    ck_ok(idm_external_order_card(x, OPERATOR, person(&d, "NF1", "nf1@corp.example"),
                                  IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL,
                                  &card));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ORDERED);
    ck_assert(audit_mentions(&d, id_of(card), "SMTP 451 try again later"));
    size_t sent = 9, pending = 9;
    ck_ok(idm_external_flush_notifications(x, "scheduler", &sent, &pending));
    ck_assert_uint_eq(sent, 0);
    ck_assert_uint_eq(pending, 1);
    bag.fail = 0;
    ck_ok(idm_external_flush_notifications(x, "scheduler", &sent, &pending));
    ck_assert_uint_eq(sent, 1);
    ck_assert_uint_eq(pending, 0);
    ck_assert_int_eq(bag.sent, 1);
    /* delivered once: a further flush sends nothing */
    ck_ok(idm_external_flush_notifications(x, "scheduler", &sent, &pending));
    ck_assert_uint_eq(sent, 0);
    ck_assert_int_eq(bag.sent, 1);
    /* a desk without a notifier records and waits */
    idm_external_t *quiet = NULL;
    ck_ok(idm_external_new(&quiet, d.ctx, d.producer, NULL));
    idm_card_free(&card);
    ck_ok(idm_external_order_card(quiet, OPERATOR, person(&d, "NF2", "nf2@corp.example"),
                                  IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL,
                                  &card));
    ck_assert_idm_error(idm_external_flush_notifications(quiet, "scheduler", NULL, NULL),
                        IDM_ERR_STATE, "notifier");
    ck_ok(idm_external_flush_notifications(x, "scheduler", &sent, &pending));
    ck_assert_uint_eq(sent, 1);
    ck_assert_int_eq(bag.sent, 2);
    ck_assert_str_ne(bag.ids[0], bag.ids[1]);
    idm_external_free(&quiet);
    idm_card_free(&card);
    /* a message the notifier calls wrong for good is not tried again */
    bag.fail = 2;
    ck_ok(idm_external_order_card(x, OPERATOR, person(&d, "NF3", "nobody@corp.example"),
                                  IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL,
                                  &card));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ORDERED);
    ck_assert(audit_mentions(&d, id_of(card), "SMTP 550 no such mailbox"));
    ck_ok(idm_external_flush_notifications(x, "scheduler", &sent, &pending));
    ck_assert_uint_eq(sent, 0);
    ck_assert_uint_eq(pending, 0);
    idm_card_free(&card);
    idm_external_free(&x);
    idm_notifier_free(&smtp);
    desk_close(&d);
}
END_TEST

/* The PIN is never stored: a "card activated" mail whose delivery failed
 * says on its retry that the PIN could not be sent, and carries none. */
START_TEST(test_pin_mail_retried_without_the_pin)
{
    struct desk d;
    desk_open(&d, "ext-pin-retry", 1);
    ck_ok(idm_options_set_string(d.ctx, "admin", "pin_source", "generated"));
    ck_ok(idm_options_set_string(d.ctx, "admin", "pin_delivery", "email"));
    desk_encoder(&d, 0);
    ck_ok(idm_encoder_set_pin_callbacks(d.enc, NULL, deliver, &d.got));
    idm_card_t *card = NULL;
    ck_ok(idm_external_order_card(d.x, OPERATOR, person(&d, "PR1", "pr1@corp.example"),
                                  IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL,
                                  &card));
    char msg[256];
    message_of(&d, id_of(card), 1, msg, sizeof msg);
    bureau_reports(&d, "pr1.json", msg, "produced", "HOST-0001");
    update(&d, 1, 0);
    struct mailbag bag = {1, 0, {{0}}, ""};
    idm_notifier_t *smtp = NULL;
    idm_external_t *x = desk_with_bag(&d, &bag, &smtp);
    ck_ok(idm_external_activate(x, OPERATOR, card, d.enc, NULL));
    ck_assert_int_eq(fixture_state_of(card), IDM_CARD_ACTIVE);
    ck_assert_uint_eq(strlen(d.got.pin), 6);
    bag.fail = 0;
    size_t sent = 0, pending = 0;
    ck_ok(idm_external_flush_notifications(x, "scheduler", &sent, &pending));
    ck_assert_uint_eq(sent, 1);
    ck_assert_msg(strstr(bag.last_body, "could not be sent") != NULL, "%s", bag.last_body);
    ck_assert(strstr(bag.last_body, d.got.pin) == NULL);
    idm_external_free(&x);
    idm_notifier_free(&smtp);
    idm_card_free(&card);
    desk_close(&d);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("external");
    TCase *tc = tcase_create("external");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_order_refused_while_disabled);
    tcase_add_test(tc, test_order_refused_for_inactive_identity);
    tcase_add_test(tc, test_order_without_queue_is_sent_at_once);
    tcase_add_test(tc, test_order_with_queue_waits_for_sync);
    tcase_add_test(tc, test_sync_sends_queue_in_batches);
    tcase_add_test(tc, test_card_of_another_context_is_refused);
    tcase_add_test(tc, test_approval_step_waits_and_needs_another_actor);
    tcase_add_test(tc, test_reject_ends_in_rejected);
    tcase_add_test(tc, test_approved_card_follows_its_order_snapshot);
    tcase_add_test(tc, test_production_type_selectable);
    tcase_add_test(tc, test_multiple_orders_refused_unless_allowed);
    tcase_add_test(tc, test_card_ordered_email_on_and_off);
    tcase_add_test(tc, test_batch_reports_each_identity);
    tcase_add_test(tc, test_abort_only_from_processing);
    tcase_add_test(tc, test_bureau_refusal_fails_card_and_repeat_reuses_id);
    tcase_add_test(tc, test_abort_withdraws_message_in_doubt);
    tcase_add_test(tc, test_update_applies_reports);
    tcase_add_test(tc, test_bureau_failure_then_repeat_is_a_new_attempt);
    tcase_add_test(tc, test_activation_encodes_card);
    tcase_add_test(tc, test_activation_pin_by_email);
    tcase_add_test(tc, test_pin_mail_retried_without_the_pin);
    tcase_add_test(tc, test_activation_refuses_another_chip);
    tcase_add_test(tc, test_activation_failure_keeps_card_produced);
    tcase_add_test(tc, test_activation_killed_after_its_certificates_is_resumed_cleanly);
    tcase_add_test(tc, test_temporary_cards_lifecycle);
    tcase_add_test(tc, test_failing_notifier_never_fails_step);
    suite_add_tcase(s, tc);
    return s;
}
