/* Black-box: the ten mass production processes end to end (<idm/production.h>)
 * with the built-in PC/SC encoder on the real stack: pcscd, vsmartcard-vpcd
 * and the virtual PIV card in hopper mode (tests/vcard/with-stack.sh
 * --hopper), so every card that went through is replaced by a blank one,
 * like a printer-encoder's feeder.
 *
 * For each process (idm_process_at()) an order of a few cards of its type
 * and option runs through idm_production_run() with hooks that record what
 * was called when; then the store (card states, outcomes, certificates,
 * audit chain) and the card itself are checked.  The card is read back
 * independently of the library: the virtual card keeps its content in
 * $PCSC_STACK_DIR/card0.json, which the verify hook reads between produce
 * and verify (once the card is through, the hopper feeds the next blank). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

#define ACTOR "operator"
#define STATION "station-pcsc"
#define CARDS 2
#define CARD_WAIT_MS 5000
/* The fixture clock moves 1 s per reading: a day's lease outlives the run. */
#define LEASE_MS INT64_C(86400000)
#define KEY_SLOTS "9A,9E"
#define ALL_STEPS \
    (IDM_STEP_READINESS | IDM_STEP_ISSUE | IDM_STEP_PRODUCE | IDM_STEP_VERIFY | IDM_STEP_COMPLETE)

/* ---- the card in reader 0, read from the virtual card's state file ---- */

/* The objects the personalization profile may write, as the virtual card
 * names them in its state file. */
static const struct piv_object {
    const char *tag;
    int certificate;
} piv_objects[] = {
    {"5FC102", 0}, /* CHUID */
    {"5FC107", 0}, /* CCC: Digital ID only */
    {"5FC109", 0}, /* Printed Information */
    {"5FC105", 1}, /* 9A */
    {"5FC10A", 1}, /* 9C */
    {"5FC10B", 1}, /* 9D */
    {"5FC101", 1}, /* 9E */
};
#define N_OBJECTS (sizeof piv_objects / sizeof piv_objects[0])
#define OBJ_BIT(i) (1u << (i))
#define OBJ_CHUID OBJ_BIT(0)
#define OBJ_CCC OBJ_BIT(1)
#define OBJ_PRINTED OBJ_BIT(2)
#define OBJ_CERT_9A OBJ_BIT(3)
#define OBJ_CERT_9E OBJ_BIT(6)

#define CERT_MAX 2048

/* What the card in the reader held at one moment. */
struct card_seen {
    int64_t card_id;   /* the card record the library was working on */
    char serial[17];   /* the chip serial, from the card's CPLC */
    unsigned present;  /* OBJ_BIT(i) for each piv_objects[i] on the card */
    int pin_is_factory;
    int ncerts;
    unsigned char cert[4][CERT_MAX];
    size_t cert_len[4];
};

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The string value of "key" in the card's JSON (the virtual card writes it
 * with json.dump: "key": "value"), without its quotes; NULL when absent. */
static const char *json_value(const char *json, const char *key, size_t *len)
{
    char quoted[32];
    snprintf(quoted, sizeof quoted, "\"%s\":", key);
    const char *p = strstr(json, quoted);
    if (p == NULL)
        return NULL;
    p = strchr(p + strlen(quoted), '"');
    if (p == NULL)
        return NULL;
    p++;
    const char *end = strchr(p, '"');
    if (end == NULL)
        return NULL;
    *len = (size_t)(end - p);
    return p;
}

/* One BER-TLV with a one-byte tag: its value; advances *p.  0 when malformed. */
static int tlv_next(const unsigned char **p, const unsigned char *end, unsigned *tag,
                    const unsigned char **value, size_t *len)
{
    if (end - *p < 2)
        return 0;
    *tag = *(*p)++;
    size_t n = *(*p)++;
    if (n == 0x81 || n == 0x82) {
        size_t k = n - 0x80;
        if ((size_t)(end - *p) < k)
            return 0;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = n << 8 | *(*p)++;
    } else if (n > 0x7F) {
        return 0;
    }
    if ((size_t)(end - *p) < n)
        return 0;
    *value = *p;
    *len = n;
    *p += n;
    return 1;
}

/* The certificate inside a certificate object (53 { 70 cert, 71, FE }),
 * given as the hex of the object. */
static void take_certificate(struct card_seen *seen, const char *hex, size_t hex_len,
                             const char *tag, struct faults *f)
{
    unsigned char *bytes = malloc(hex_len / 2 + 1);
    ck_assert_ptr_nonnull(bytes);
    size_t n = hex_len / 2;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            fault(f, "object %s on the card is not hex", tag);
            free(bytes);
            return;
        }
        bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    const unsigned char *p = bytes, *outer = NULL, *value = NULL;
    size_t outer_len = 0, len = 0;
    unsigned t = 0;
    if (!tlv_next(&p, bytes + n, &t, &outer, &outer_len) || t != 0x53) {
        fault(f, "object %s on the card is not a 53 TLV", tag);
        free(bytes);
        return;
    }
    int found = 0;
    p = outer;
    while (!found && tlv_next(&p, outer + outer_len, &t, &value, &len))
        found = t == 0x70;
    if (!found) {
        fault(f, "object %s on the card has no certificate (70)", tag);
    } else if (len > CERT_MAX || seen->ncerts == 4) {
        fault(f, "object %s on the card: certificate of %zu bytes does not fit the test", tag,
              len);
    } else {
        memcpy(seen->cert[seen->ncerts], value, len);
        seen->cert_len[seen->ncerts++] = len;
    }
    free(bytes);
}

/* Reads what the card in reader 0 holds now; failures go to f. */
static void read_card_in_reader(struct card_seen *seen, struct faults *f)
{
    const char *dir = getenv("PCSC_STACK_DIR");
    if (dir == NULL || dir[0] == '\0') {
        fault(f, "PCSC_STACK_DIR is not set: run through tests/vcard/with-stack.sh");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/card0.json", dir);
    FILE *in = fopen(path, "r");
    if (in == NULL) {
        fault(f, "cannot open the virtual card's state %s", path);
        return;
    }
    size_t size = 0, room = 65536;
    char *json = malloc(room);
    ck_assert_ptr_nonnull(json);
    size_t got;
    while ((got = fread(json + size, 1, room - size - 1, in)) > 0) {
        size += got;
        if (size + 1 == room) {
            room *= 2;
            json = realloc(json, room);
            ck_assert_ptr_nonnull(json);
        }
    }
    fclose(in);
    json[size] = '\0';

    size_t len = 0;
    const char *cplc = json_value(json, "cplc", &len);
    if (cplc == NULL || len != 84) {
        fault(f, "no CPLC of 42 bytes in %s", path);
    } else {
        /* The chip serial as the library builds it: IC fabricator (bytes
         * 0-1), IC serial (12-15), IC batch (16-17). */
        snprintf(seen->serial, sizeof seen->serial, "%.4s%.8s%.4s", cplc, cplc + 24, cplc + 32);
        for (char *c = seen->serial; *c != '\0'; c++)
            *c = (char)toupper((unsigned char)*c);
    }
    const char *pin = json_value(json, "pin", &len);
    seen->pin_is_factory = pin != NULL && len == 16 && strncmp(pin, "313233343536ffff", 16) == 0;
    for (size_t i = 0; i < N_OBJECTS; i++) {
        const char *hex = json_value(json, piv_objects[i].tag, &len);
        if (hex == NULL)
            continue;
        seen->present |= OBJ_BIT(i);
        if (piv_objects[i].certificate)
            take_certificate(seen, hex, len, piv_objects[i].tag, f);
    }
    free(json);
}

/* A test that failed half-way leaves a written card in the reader, which
 * the hopper only replaces after a card that went through: start from a
 * blank one. */
static void ensure_blank_card(void)
{
    struct faults f;
    memset(&f, 0, sizeof f);
    struct card_seen seen;
    memset(&seen, 0, sizeof seen);
    read_card_in_reader(&seen, &f);
    ck_assert_no_faults(&f);
    if (seen.pin_is_factory && seen.present == OBJ_CHUID)
        return;
    const char *stack = getenv("IDM_TEST_STACK");
    ck_assert_msg(stack != NULL, "IDM_TEST_STACK (scripts/pcsc-stack.sh) is not set");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash '%s' card 0 --timeout 20 --fresh --hopper >&2", stack);
    ck_assert_msg(system(cmd) == 0, "'%s' failed", cmd);
}

/* ---- a world: store, CA, encoder, an order of approved cards, a station - */

struct world {
    char path[4096];
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_encoder_t *enc;
    idm_order_t *order;
    idm_station_t *station;
    idm_card_type type;
    idm_card_option option;
    int64_t cards[CARDS];
    int ncards;
    int deliveries;
};

static int deliver(const idm_card_t *card, const char *pin, const char *puk, void *user_data)
{
    (void)card;
    (void)pin;
    (void)puk;
    struct world *w = user_data;
    w->deliveries++;
    return 0;
}

static int personal(idm_card_type type)
{
    return type == IDM_CARD_EMPLOYEE || type == IDM_CARD_CONTRACTOR || type == IDM_CARD_VISITOR;
}

/* An approved card: a personal one for a holder of its own (one card in
 * use per holder and type), a non-personal one with a name. */
static int64_t approved_card(struct world *w, int n)
{
    int64_t holder = 0;
    char name[32] = "";
    if (personal(w->type)) {
        char external_id[16];
        snprintf(external_id, sizeof external_id, "P%d", n);
        idm_identity_t *p = fixture_person(w->ctx, external_id, "Grace", external_id);
        ck_ok(idm_identity_get_id(p, &holder));
        idm_identity_free(&p);
    } else {
        snprintf(name, sizeof name, "Reception desk %d", n);
    }
    idm_card_t *card = NULL;
    ck_ok(idm_card_new(w->ctx, ACTOR, w->type, w->option, IDM_PRODUCTION_LOCAL, holder,
                       holder == 0 ? name : NULL, &card));
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL));
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_APPROVED, NULL));
    int64_t id = 0;
    ck_ok(idm_card_get_id(card, &id));
    idm_card_free(&card);
    return id;
}

static void world_open(struct world *w, const char *name, idm_card_type type,
                       idm_card_option option, int ncards)
{
    memset(w, 0, sizeof *w);
    ck_assert_int_le(ncards, CARDS);
    w->type = type;
    w->option = option;
    snprintf(w->path, sizeof w->path, "%s", fixture_store_path(name));
    w->ctx = fixture_ctx(w->path);
    ck_ok(idm_options_set_string(w->ctx, ACTOR, "pin_source", "generated"));
    ck_ok(idm_options_set_string(w->ctx, ACTOR, "card_key_slots", KEY_SLOTS));
    if (option == IDM_CARD_DIGITAL)
        ck_ok(idm_ca_new_openssl(&w->ca, w->ctx, IDM_KEY_EC_P256, "Production Test CA", 3650));
    ck_ok(idm_encoder_new_pcsc(&w->enc, w->ctx));
    ck_ok(idm_encoder_pcsc_set_reader(w->enc, test_stack_reader0()));
    ck_ok(idm_encoder_set_timeout(w->enc, CARD_WAIT_MS));
    ck_ok(idm_encoder_set_pin_callbacks(w->enc, NULL, deliver, w));
    for (int i = 0; i < ncards; i++)
        w->cards[w->ncards++] = approved_card(w, i + 1);
    ck_ok(idm_order_new(w->ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, type, option, NULL,
                        &w->order));
    size_t added = 0;
    ck_ok(idm_order_add_approved(w->order, ACTOR, 0, &added));
    ck_assert_uint_eq(added, (size_t)ncards);
    ck_ok(idm_station_open(&w->station, w->order, STATION, w->enc, w->ca));
    ck_ok(idm_station_set_lease(w->station, LEASE_MS));
}

static void world_close(struct world *w)
{
    idm_station_free(&w->station);
    ck_assert_ptr_null(w->station);
    idm_order_free(&w->order);
    idm_encoder_free(&w->enc);
    idm_ca_free(&w->ca);
    idm_ctx_free(&w->ctx);
    fixture_remove_store(w->path);
}

/* The card on the chip holds exactly the objects of its option, and its
 * certificates are the card record's live ones in the store. */
static void assert_card_holds_its_objects(struct world *w, const struct card_seen *seen)
{
    int digital = w->option == IDM_CARD_DIGITAL;
    unsigned want = OBJ_CHUID | OBJ_PRINTED;
    if (digital)
        want |= OBJ_CCC | OBJ_CERT_9A | OBJ_CERT_9E;
    ck_assert_msg(seen->present == want, "card %" PRId64 ": objects 0x%02X on the chip, "
                  "expected 0x%02X (bits: CHUID CCC PI 9A 9C 9D 9E)",
                  seen->card_id, seen->present, want);
    ck_assert_int_eq(seen->ncerts, digital ? 2 : 0);

    int matched[4] = {0, 0, 0, 0}, live = 0;
    idm_cert_iter_t *it = NULL;
    idm_cert_t *c = NULL;
    ck_ok(idm_cert_iter_new(w->ctx, seen->card_id, &it));
    while (idm_cert_iter_next(it, &c) == IDM_OK && c != NULL) {
        idm_cert_state s;
        ck_ok(idm_cert_get_state(c, &s));
        if (s != IDM_CERT_REVOKED) {
            const unsigned char *der = NULL;
            size_t len = 0;
            ck_ok(idm_cert_get_der(c, &der, &len));
            live++;
            for (int i = 0; i < seen->ncerts; i++) {
                if (seen->cert_len[i] == len && memcmp(seen->cert[i], der, len) == 0)
                    matched[i]++;
            }
        }
        idm_cert_free(&c);
    }
    idm_cert_iter_free(&it);
    ck_assert_int_eq(live, seen->ncerts);
    for (int i = 0; i < seen->ncerts; i++)
        ck_assert_msg(matched[i] == 1, "card %" PRId64 ": certificate %d on the chip matches "
                      "%d live certificate(s) of the store, not 1", seen->card_id, i,
                      matched[i]);
}

/* ---- hooks that record the run ---------------------------------------- */

struct run_log {
    char seq[64];           /* one letter per hook call */
    int64_t seq_card[64];   /* the card of each call (0 for complete) */
    size_t n;
    int64_t produced_at_progress[CARDS];
    int progress;
    struct card_seen seen[CARDS];
    int nseen;
    struct faults faults;
};

static int64_t id_of(struct run_log *log, const idm_card_t *card)
{
    int64_t id = 0;
    if (idm_card_get_id(card, &id) != IDM_OK)
        fault(&log->faults, "a hook's card: idm_card_get_id: %s", idm_last_error_message());
    return id;
}

static void note(struct run_log *log, char hook, int64_t card_id)
{
    if (log->n + 1 >= sizeof log->seq) {
        fault(&log->faults, "more hook calls than the test expects: %s", log->seq);
        return;
    }
    log->seq[log->n] = hook;
    log->seq_card[log->n++] = card_id;
    log->seq[log->n] = '\0';
}

static int on_ready(const idm_card_t *card, char *why, size_t size, void *user_data)
{
    (void)why;
    (void)size;
    note(user_data, 'R', id_of(user_data, card));
    return 0;
}

static int on_before_issue(const idm_card_t *card, void *user_data)
{
    note(user_data, 'B', id_of(user_data, card));
    return 0;
}

static int on_after_issue(const idm_card_t *card, void *user_data)
{
    note(user_data, 'A', id_of(user_data, card));
    return 0;
}

static int on_produce(const idm_card_t *card, void *user_data)
{
    note(user_data, 'P', id_of(user_data, card));
    return 0;
}

/* Between produce and verify: what the library wrote is on the card, and
 * the hopper has not yet taken it away. */
static int on_verify(const idm_card_t *card, void *user_data)
{
    struct run_log *log = user_data;
    int64_t id = id_of(log, card);
    note(log, 'V', id);
    if (log->nseen == CARDS) {
        fault(&log->faults, "verify hook called for more than %d cards", CARDS);
        return 0;
    }
    struct card_seen *seen = &log->seen[log->nseen++];
    seen->card_id = id;
    read_card_in_reader(seen, &log->faults);
    return 0;
}

static int on_progress(const idm_order_t *order, int64_t card_id, idm_order_card_outcome outcome,
                       void *user_data)
{
    struct run_log *log = user_data;
    note(log, 'G', card_id);
    if (outcome != IDM_OUTCOME_PRODUCED)
        fault(&log->faults, "progress of card %" PRId64 ": outcome '%s', expected 'produced'",
              card_id, idm_order_card_outcome_name(outcome));
    int64_t produced = -1;
    if (idm_order_count_cards(order, IDM_OUTCOME_PRODUCED, &produced) != IDM_OK)
        fault(&log->faults, "progress: idm_order_count_cards: %s", idm_last_error_message());
    if (log->progress < CARDS)
        log->produced_at_progress[log->progress] = produced;
    log->progress++;
    return 0;
}

static int on_complete_or_more(const idm_order_t *order, int *more, void *user_data)
{
    (void)order;
    struct run_log *log = user_data;
    note(log, 'C', 0);
    if (*more != 0)
        fault(&log->faults, "complete_or_more: *more is %d on entry, expected 0", *more);
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- the processes ------------------------------------------------------ */

START_TEST(test_the_ten_processes_are_five_types_times_two_options)
{
    ck_assert_uint_eq(idm_process_count(), 10);
    int seen[5][2];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < idm_process_count(); i++) {
        idm_card_type type;
        idm_card_option option;
        ck_ok(idm_process_at(i, &type, &option));
        ck_assert_int_ne(type, IDM_CARD_TEMPORARY);
        ck_assert_int_ge(type, IDM_CARD_EMPLOYEE);
        ck_assert_int_le(type, IDM_CARD_NON_PERSONAL);
        ck_assert(option == IDM_CARD_PHYSICAL || option == IDM_CARD_DIGITAL);
        ck_assert_int_eq(seen[type][option]++, 0);
    }
    ck_assert_idm_error(idm_process_at(idm_process_count(), NULL, NULL), IDM_ERR_INVALID_ARG,
                        "index");
}
END_TEST

/* Process number _i: an order of CARDS cards of its type and option runs
 * through the driver on the PC/SC stack. */
START_TEST(test_each_process_produces_its_order_end_to_end)
{
    idm_card_type type;
    idm_card_option option;
    ck_ok(idm_process_at((size_t)_i, &type, &option));
    int digital = option == IDM_CARD_DIGITAL;
    const char *process = NULL;
    ck_ok(idm_process_name(type, option, &process));
    ck_assert_ptr_nonnull(process);
    ck_assert_uint_gt(strlen(process), 0);
    unsigned steps = 0;
    ck_ok(idm_process_steps(type, option, &steps));
    ck_assert_uint_eq(steps, digital ? ALL_STEPS : ALL_STEPS & ~(unsigned)IDM_STEP_ISSUE);

    ensure_blank_card();
    struct world w;
    char store_name[32];
    snprintf(store_name, sizeof store_name, "production-pcsc-%d", _i);
    world_open(&w, store_name, type, option, CARDS);

    struct run_log *log = calloc(1, sizeof *log);
    ck_assert_ptr_nonnull(log);
    idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
    hooks.ready = on_ready;
    hooks.before_issue = on_before_issue;
    hooks.after_issue = on_after_issue;
    hooks.produce = on_produce;
    hooks.verify = on_verify;
    hooks.complete_or_more = on_complete_or_more;
    hooks.progress = on_progress;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_ok(idm_production_run(w.station, ACTOR, &hooks, sizeof hooks, log));
    double took = seconds_since(&t0);
    printf("# process %d: %s (%s, %s): %d cards in %.2f s\n", _i, process,
           idm_card_type_name(type), idm_card_option_name(option), CARDS, took);
    fflush(stdout);
    ck_assert_no_faults(&log->faults);

    /* The hooks: the process's steps for each card in order, then the
     * administrator's answer once. */
    const char *per_card = digital ? "RBAPVG" : "RPVG";
    char expected[64] = "";
    for (int i = 0; i < CARDS; i++)
        strcat(expected, per_card);
    strcat(expected, "C");
    ck_assert_str_eq(log->seq, expected);
    size_t len = strlen(per_card);
    for (int i = 0; i < CARDS; i++) {
        int64_t card = log->seq_card[(size_t)i * len];
        for (size_t k = 1; k < len; k++)
            ck_assert_int_eq(log->seq_card[(size_t)i * len + k], card);
        int ours = 0;
        for (int j = 0; j < CARDS; j++)
            ours += w.cards[j] == card;
        ck_assert_msg(ours == 1, "hooks were called for card %" PRId64 ", not of the order",
                      card);
        if (i > 0)
            ck_assert_int_ne(card, log->seq_card[(size_t)(i - 1) * len]);
        ck_assert_int_eq(log->produced_at_progress[i], i + 1);
    }

    /* The order and its cards in the store. */
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_COMPLETED);
    ck_assert_int_eq(fixture_count_outcome(w.order, IDM_OUTCOME_PRODUCED), CARDS);
    ck_assert_int_eq(fixture_count_outcome(w.order, IDM_OUTCOME_SKIPPED), 0);
    ck_assert_int_eq(fixture_count_outcome(w.order, IDM_OUTCOME_FAILED), 0);
    ck_assert_int_eq(w.deliveries, CARDS);
    char serials[CARDS][17];
    for (int i = 0; i < CARDS; i++) {
        idm_card_t *card = NULL;
        idm_card_state state;
        const char *serial = NULL;
        ck_ok(idm_card_open(w.ctx, w.cards[i], &card));
        ck_ok(idm_card_get_state(card, &state));
        ck_assert_int_eq(state, IDM_CARD_ISSUED);
        ck_ok(idm_card_get_chip_serial(card, &serial));
        ck_assert_ptr_nonnull(serial);
        ck_assert_uint_eq(strlen(serial), 16);
        snprintf(serials[i], sizeof serials[i], "%s", serial);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(serials[j], serials[i]);
        idm_card_free(&card);

        idm_order_card_outcome outcome;
        int attempt = 0;
        ck_ok(idm_order_get_card_outcome(w.order, w.cards[i], &outcome, &attempt, NULL));
        ck_assert_int_eq(outcome, IDM_OUTCOME_PRODUCED);
        ck_assert_int_eq(attempt, 1);
        int live = -1, superseded = -1, other = -1;
        fixture_count_certs(w.ctx, w.cards[i], &live, &superseded, &other);
        ck_assert_int_eq(live, digital ? 2 : 0); /* KEY_SLOTS */
        ck_assert_int_eq(superseded + other, 0);
    }

    /* The chips, as the card saw them before verify. */
    ck_assert_int_eq(log->nseen, CARDS);
    for (int i = 0; i < CARDS; i++) {
        const struct card_seen *seen = &log->seen[i];
        int k = seen->card_id == w.cards[0] ? 0 : 1;
        ck_assert_int_eq(seen->card_id, w.cards[k]);
        ck_assert_str_eq(seen->serial, serials[k]);
        ck_assert_msg(!seen->pin_is_factory, "card %" PRId64 " still has the factory PIN",
                      seen->card_id);
        assert_card_holds_its_objects(&w, seen);
    }
    ck_ok(idm_audit_verify(w.ctx, NULL));
    free(log);
    world_close(&w);
}
END_TEST

/* ---- the step API by hand ---------------------------------------------- */

START_TEST(test_step_api_produces_one_card_by_hand)
{
    ensure_blank_card();
    struct world w;
    world_open(&w, "production-pcsc-steps", IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, 1);
    struct faults f;
    memset(&f, 0, sizeof f);

    idm_card_t *card = NULL;
    ck_ok(idm_station_next(w.station, ACTOR, &card));
    ck_assert_ptr_nonnull(card);
    int64_t id = 0;
    ck_ok(idm_card_get_id(card, &id));
    ck_assert_int_eq(id, w.cards[0]);
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_RUNNING);
    idm_order_card_outcome outcome;
    int attempt = 0;
    ck_ok(idm_order_get_card_outcome(w.order, id, &outcome, &attempt, NULL));
    ck_assert_int_eq(outcome, IDM_OUTCOME_CLAIMED);
    ck_assert_int_eq(attempt, 1);

    /* Issue: the keys are made and certified, the certificates are in the
     * store, and none of them is on the card yet. */
    ck_ok(idm_station_issue(w.station, ACTOR));
    int live = -1, superseded = -1, other = -1;
    fixture_count_certs(w.ctx, id, &live, &superseded, &other);
    ck_assert_int_eq(live, 2);
    struct card_seen issued;
    memset(&issued, 0, sizeof issued);
    read_card_in_reader(&issued, &f);
    ck_assert_no_faults(&f);
    ck_assert_uint_eq(issued.present, OBJ_CHUID);
    ck_assert_int_eq(issued.pin_is_factory, 1);

    /* Produce: the certificates and objects are on the card. */
    ck_ok(idm_station_produce(w.station, ACTOR));
    struct card_seen produced;
    memset(&produced, 0, sizeof produced);
    produced.card_id = id;
    read_card_in_reader(&produced, &f);
    ck_assert_no_faults(&f);
    ck_assert_str_eq(produced.serial, issued.serial);
    ck_assert_int_eq(produced.pin_is_factory, 0);
    assert_card_holds_its_objects(&w, &produced);

    /* Verify: the card is issued and produced in the order. */
    ck_ok(idm_station_verify(w.station, ACTOR));
    idm_card_state state;
    const char *serial = NULL;
    ck_ok(idm_card_refresh(card));
    ck_ok(idm_card_get_state(card, &state));
    ck_assert_int_eq(state, IDM_CARD_ISSUED);
    ck_ok(idm_card_get_chip_serial(card, &serial));
    ck_assert_ptr_nonnull(serial);
    ck_assert_str_eq(serial, produced.serial);
    ck_ok(idm_order_get_card_outcome(w.order, id, &outcome, &attempt, NULL));
    ck_assert_int_eq(outcome, IDM_OUTCOME_PRODUCED);
    ck_assert_int_eq(attempt, 1);
    idm_card_free(&card);

    /* No card is left; the administrator completes the order. */
    ck_ok(idm_station_next(w.station, ACTOR, &card));
    ck_assert_ptr_null(card);
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_RUNNING);
    ck_ok(idm_station_complete(w.station, ACTOR, 0));
    ck_assert_int_eq(fixture_order_state(w.order), IDM_ORDER_COMPLETED);
    ck_assert_int_eq(fixture_count_outcome(w.order, IDM_OUTCOME_PRODUCED), 1);
    ck_assert_int_eq(w.deliveries, 1);
    ck_ok(idm_audit_verify(w.ctx, NULL));
    world_close(&w);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("production_pcsc");
    TCase *tc = tcase_create("processes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_the_ten_processes_are_five_types_times_two_options);
    tcase_add_loop_test(tc, test_each_process_produces_its_order_end_to_end, 0,
                        (int)idm_process_count());
    tcase_add_test(tc, test_step_api_produces_one_card_by_hand);
    suite_add_tcase(s, tc);
    return s;
}
