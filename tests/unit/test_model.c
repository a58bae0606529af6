/*
 * The domain model through the public API: the state graphs of cards,
 * identities and orders (every legal move persists together with its audit
 * event; illegal ones are refused by name and leave no trace), certificates
 * following their card, identity attributes and derived names, card
 * creation rules and numbers, the option set and its snapshot in orders,
 * and the store itself.
 *
 * The graphs below are this suite's own copy of the documented tables
 * (<idm/card.h>, <idm/identity.h>, <idm/order.h>), not the library's: a
 * change to src/model/states.c that the documentation does not follow
 * fails here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define ACTOR "test:model"
#define MAX_STATES 32
#define MAX_EDGES 32

/* ---- small helpers ---------------------------------------------------- */

static void store_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s", fixture_store_path(name));
}

static int contains(const char *haystack, const char *needle)
{
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

static const char *or_null(const char *s)
{
    return s != NULL ? s : "(null)";
}

/* What the audit trail holds about one object. */
struct audit_summary {
    size_t count;
    int from_null, to_null;
    char from[64], to[64], actor[160];
    char detail[IDM_ATTRIBUTE_VALUE_MAX + 256]; /* of the last event */
};

static void audit_summary(idm_ctx_t *ctx, idm_object_type type, int64_t id,
                          struct audit_summary *out)
{
    memset(out, 0, sizeof *out);
    idm_audit_iter_t *it = NULL;
    ck_ok(idm_audit_iter_new(ctx, &it));
    ck_ok(idm_audit_iter_set_object(it, type, id));
    for (;;) {
        idm_audit_event_t *e = NULL;
        ck_ok(idm_audit_iter_next(it, &e));
        if (e == NULL)
            break;
        const char *from = NULL, *to = NULL, *actor = NULL, *detail = NULL;
        idm_object_type etype;
        int64_t eid;
        ck_ok(idm_audit_event_get_object(e, &etype, &eid));
        ck_assert_int_eq(etype, type);
        ck_assert_int_eq(eid, id);
        ck_ok(idm_audit_event_get_states(e, &from, &to));
        ck_ok(idm_audit_event_get_actor(e, &actor));
        ck_ok(idm_audit_event_get_detail(e, &detail));
        out->count++;
        out->from_null = from == NULL;
        out->to_null = to == NULL;
        snprintf(out->from, sizeof out->from, "%s", from != NULL ? from : "");
        snprintf(out->to, sizeof out->to, "%s", to != NULL ? to : "");
        snprintf(out->actor, sizeof out->actor, "%s", actor);
        snprintf(out->detail, sizeof out->detail, "%s", or_null(detail));
        idm_audit_event_free(&e);
        ck_assert_ptr_null(e);
    }
    idm_audit_iter_free(&it);
    ck_assert_ptr_null(it);
}

static int64_t card_id(const idm_card_t *card)
{
    int64_t id = 0;
    ck_ok(idm_card_get_id(card, &id));
    return id;
}

static int64_t identity_id(const idm_identity_t *identity)
{
    int64_t id = 0;
    ck_ok(idm_identity_get_id(identity, &id));
    return id;
}

static int64_t order_id(const idm_order_t *order)
{
    int64_t id = 0;
    ck_ok(idm_order_get_id(order, &id));
    return id;
}

static idm_card_state card_state(const idm_card_t *card)
{
    idm_card_state s;
    ck_ok(idm_card_get_state(card, &s));
    return s;
}

/* The holder of this suite's personal cards: one per store. */
static int64_t holder(idm_ctx_t *ctx)
{
    idm_identity_t *h = NULL;
    if (idm_identity_open_external(ctx, "holder", &h) != IDM_OK)
        h = fixture_person(ctx, "holder", "Ada", "Lovelace");
    int64_t id = identity_id(h);
    idm_identity_free(&h);
    return id;
}

static idm_card_t *new_employee_card(idm_ctx_t *ctx, idm_card_option option,
                                     idm_production production)
{
    idm_card_t *card = NULL;
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, option, production, holder(ctx), NULL,
                       &card));
    return card;
}

static idm_card_t *new_temporary_card(idm_ctx_t *ctx)
{
    idm_card_t *card = NULL;
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_TEMPORARY, IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL,
                       0, "Visitor desk", &card));
    return card;
}

/* Moves a card along states[], asserting each step. */
static void walk_card(idm_card_t *card, const idm_card_state *states, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = idm_card_set_state(card, "setup", states[i], NULL);
        ck_assert_msg(rc == IDM_OK, "moving to '%s': %s", idm_card_state_name(states[i]),
                      idm_last_error_message());
        ck_assert_int_eq(card_state(card), states[i]);
    }
}

/* ---- the graphs, as documented --------------------------------------- */

struct edge {
    int from, to;
};

struct graph {
    const char *name;
    int initial;
    const struct edge *edges;
    size_t nedges;
    const char *(*state_name)(int state);
};

static const char *card_state_name(int s)
{
    return idm_card_state_name((idm_card_state)s);
}

static const char *identity_state_name(int s)
{
    return idm_identity_state_name((idm_identity_state)s);
}

static const char *order_state_name(int s)
{
    return idm_order_state_name((idm_order_state)s);
}

static const struct edge local_edges[] = {
    {IDM_CARD_REGISTERED, IDM_CARD_REQUESTED}, {IDM_CARD_REQUESTED, IDM_CARD_APPROVED},
    {IDM_CARD_REQUESTED, IDM_CARD_REJECTED},   {IDM_CARD_REQUESTED, IDM_CARD_ABORTED},
    {IDM_CARD_APPROVED, IDM_CARD_ISSUED},      {IDM_CARD_APPROVED, IDM_CARD_FAILED},
    {IDM_CARD_FAILED, IDM_CARD_APPROVED},      {IDM_CARD_ISSUED, IDM_CARD_ACTIVE},
    {IDM_CARD_ACTIVE, IDM_CARD_INACTIVE},      {IDM_CARD_INACTIVE, IDM_CARD_ACTIVE},
    {IDM_CARD_ACTIVE, IDM_CARD_LOCKED},        {IDM_CARD_ACTIVE, IDM_CARD_EXPIRED},
    {IDM_CARD_INACTIVE, IDM_CARD_LOCKED},      {IDM_CARD_INACTIVE, IDM_CARD_EXPIRED},
};

static const struct edge external_edges[] = {
    {IDM_CARD_REGISTERED, IDM_CARD_REQUESTED},   {IDM_CARD_REGISTERED, IDM_CARD_PROCESSING},
    {IDM_CARD_REGISTERED, IDM_CARD_ORDERED},     {IDM_CARD_REQUESTED, IDM_CARD_PROCESSING},
    {IDM_CARD_REQUESTED, IDM_CARD_ORDERED},      {IDM_CARD_REQUESTED, IDM_CARD_REJECTED},
    {IDM_CARD_PROCESSING, IDM_CARD_ORDERED},     {IDM_CARD_PROCESSING, IDM_CARD_ABORTED},
    {IDM_CARD_PROCESSING, IDM_CARD_FAILED},      {IDM_CARD_FAILED, IDM_CARD_PROCESSING},
    {IDM_CARD_ORDERED, IDM_CARD_IN_PRODUCTION},  {IDM_CARD_IN_PRODUCTION, IDM_CARD_PRODUCED},
    {IDM_CARD_IN_PRODUCTION, IDM_CARD_FAILED},   {IDM_CARD_PRODUCED, IDM_CARD_ACTIVE},
    {IDM_CARD_ACTIVE, IDM_CARD_INACTIVE},        {IDM_CARD_INACTIVE, IDM_CARD_ACTIVE},
    {IDM_CARD_ACTIVE, IDM_CARD_LOCKED},          {IDM_CARD_ACTIVE, IDM_CARD_EXPIRED},
    {IDM_CARD_INACTIVE, IDM_CARD_LOCKED},        {IDM_CARD_INACTIVE, IDM_CARD_EXPIRED},
};

static const struct edge temporary_edges[] = {
    {IDM_CARD_REQUESTED, IDM_CARD_PROCESSING},  {IDM_CARD_REQUESTED, IDM_CARD_ORDERED},
    {IDM_CARD_PROCESSING, IDM_CARD_ORDERED},    {IDM_CARD_PROCESSING, IDM_CARD_ABORTED},
    {IDM_CARD_PROCESSING, IDM_CARD_FAILED},     {IDM_CARD_FAILED, IDM_CARD_PROCESSING},
    {IDM_CARD_ORDERED, IDM_CARD_IN_PRODUCTION}, {IDM_CARD_IN_PRODUCTION, IDM_CARD_PRODUCED},
    {IDM_CARD_IN_PRODUCTION, IDM_CARD_FAILED},  {IDM_CARD_PRODUCED, IDM_CARD_UNASSIGNED},
    {IDM_CARD_UNASSIGNED, IDM_CARD_ASSIGNED},   {IDM_CARD_ASSIGNED, IDM_CARD_UNASSIGNED},
    {IDM_CARD_UNASSIGNED, IDM_CARD_EXPIRED},    {IDM_CARD_UNASSIGNED, IDM_CARD_LOCKED},
    {IDM_CARD_ASSIGNED, IDM_CARD_EXPIRED},      {IDM_CARD_ASSIGNED, IDM_CARD_LOCKED},
};

static const struct edge identity_edges[] = {
    {IDM_IDENTITY_REGISTERED, IDM_IDENTITY_ACTIVE},
    {IDM_IDENTITY_REGISTERED, IDM_IDENTITY_TERMINATED},
    {IDM_IDENTITY_ACTIVE, IDM_IDENTITY_INACTIVE},
    {IDM_IDENTITY_INACTIVE, IDM_IDENTITY_ACTIVE},
    {IDM_IDENTITY_ACTIVE, IDM_IDENTITY_TERMINATED},
    {IDM_IDENTITY_INACTIVE, IDM_IDENTITY_TERMINATED},
};

static const struct edge order_edges[] = {
    {IDM_ORDER_OPEN, IDM_ORDER_RUNNING},      {IDM_ORDER_OPEN, IDM_ORDER_ABORTED},
    {IDM_ORDER_RUNNING, IDM_ORDER_COMPLETED}, {IDM_ORDER_RUNNING, IDM_ORDER_ABORTED},
    {IDM_ORDER_RUNNING, IDM_ORDER_OPEN},
};

static const struct graph local_graph = {"local", IDM_CARD_REGISTERED, local_edges,
                                         N(local_edges), card_state_name};
static const struct graph external_graph = {"external", IDM_CARD_REGISTERED, external_edges,
                                            N(external_edges), card_state_name};
static const struct graph temporary_graph = {"temporary", IDM_CARD_REQUESTED, temporary_edges,
                                             N(temporary_edges), card_state_name};
static const struct graph identity_graph = {"identity", IDM_IDENTITY_REGISTERED, identity_edges,
                                            N(identity_edges), identity_state_name};
static const struct graph order_graph = {"order", IDM_ORDER_OPEN, order_edges, N(order_edges),
                                         order_state_name};

/*
 * The shortest run of legal moves from g's initial state to target (the
 * initial state itself excluded), by breadth-first search over the table.
 */
static size_t path_to(const struct graph *g, int target, int path[MAX_STATES])
{
    int prev[MAX_STATES], queue[MAX_STATES];
    int seen[MAX_STATES] = {0};
    size_t head = 0, tail = 0;
    seen[g->initial] = 1;
    queue[tail++] = g->initial;
    while (head < tail) {
        int s = queue[head++];
        for (size_t i = 0; i < g->nedges; i++) {
            int to = g->edges[i].to;
            if (g->edges[i].from == s && !seen[to]) {
                seen[to] = 1;
                prev[to] = s;
                queue[tail++] = to;
            }
        }
    }
    ck_assert_msg(seen[target], "%s graph: '%s' is unreachable", g->name, g->state_name(target));
    int reversed[MAX_STATES];
    size_t n = 0;
    for (int s = target; s != g->initial; s = prev[s])
        reversed[n++] = s;
    for (size_t i = 0; i < n; i++)
        path[i] = reversed[n - 1 - i];
    return n;
}

/* ---- the objects that follow a graph --------------------------------- */

struct subject;

struct move_result {
    int rc;
    int handle_state; /* the state the handle shows after the call */
    char message[1024];
};

struct subject {
    const char *name;
    const struct graph *graph;
    idm_object_type object;
    idm_card_type card_type;   /* cards only */
    idm_production production; /* cards only */
    int64_t (*create)(idm_ctx_t *ctx, const struct subject *s);
    /* Loads the object afresh and tries one move through a handle. */
    void (*move)(idm_ctx_t *ctx, int64_t id, const char *actor, int to, struct move_result *r);
    int (*state)(idm_ctx_t *ctx, int64_t id); /* loaded afresh */
    /* The words a refusal must use to name the object. */
    void (*label)(idm_ctx_t *ctx, int64_t id, char *buf, size_t size);
};

static int64_t card_create(idm_ctx_t *ctx, const struct subject *s)
{
    idm_card_t *card = s->card_type == IDM_CARD_TEMPORARY
                           ? new_temporary_card(ctx)
                           : new_employee_card(ctx, IDM_CARD_DIGITAL, s->production);
    ck_assert_int_eq(card_state(card), s->graph->initial);
    int64_t id = card_id(card);
    idm_card_free(&card);
    ck_assert_ptr_null(card);
    return id;
}

static void card_move(idm_ctx_t *ctx, int64_t id, const char *actor, int to,
                      struct move_result *r)
{
    idm_card_t *card = NULL;
    ck_ok(idm_card_open(ctx, id, &card));
    r->rc = idm_card_set_state(card, actor, (idm_card_state)to, NULL);
    snprintf(r->message, sizeof r->message, "%s", r->rc != IDM_OK ? idm_last_error_message() : "");
    r->handle_state = (int)card_state(card);
    idm_card_free(&card);
}

static int card_load_state(idm_ctx_t *ctx, int64_t id)
{
    idm_card_t *card = NULL;
    ck_ok(idm_card_open(ctx, id, &card));
    int s = (int)card_state(card);
    idm_card_free(&card);
    return s;
}

static void card_label(idm_ctx_t *ctx, int64_t id, char *buf, size_t size)
{
    idm_card_t *card = NULL;
    const char *number = NULL;
    ck_ok(idm_card_open(ctx, id, &card));
    ck_ok(idm_card_get_number(card, &number));
    snprintf(buf, size, "%s", number);
    idm_card_free(&card);
}

static int64_t identity_create(idm_ctx_t *ctx, const struct subject *s)
{
    (void)s;
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_new(ctx, ACTOR, NULL, &p));
    int64_t id = identity_id(p);
    idm_identity_free(&p);
    return id;
}

static void identity_move(idm_ctx_t *ctx, int64_t id, const char *actor, int to,
                          struct move_result *r)
{
    idm_identity_t *p = NULL;
    idm_identity_state now;
    ck_ok(idm_identity_open(ctx, id, &p));
    r->rc = idm_identity_set_state(p, actor, (idm_identity_state)to);
    snprintf(r->message, sizeof r->message, "%s", r->rc != IDM_OK ? idm_last_error_message() : "");
    ck_ok(idm_identity_get_state(p, &now));
    r->handle_state = (int)now;
    idm_identity_free(&p);
}

static int identity_load_state(idm_ctx_t *ctx, int64_t id)
{
    idm_identity_t *p = NULL;
    idm_identity_state s;
    ck_ok(idm_identity_open(ctx, id, &p));
    ck_ok(idm_identity_get_state(p, &s));
    idm_identity_free(&p);
    return (int)s;
}

static void identity_label(idm_ctx_t *ctx, int64_t id, char *buf, size_t size)
{
    (void)ctx;
    snprintf(buf, size, "identity %lld", (long long)id);
}

static int64_t order_create(idm_ctx_t *ctx, const struct subject *s)
{
    (void)s;
    idm_order_t *o = NULL;
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_PHYSICAL, NULL, &o));
    int64_t id = order_id(o);
    idm_order_free(&o);
    return id;
}

static void order_move(idm_ctx_t *ctx, int64_t id, const char *actor, int to,
                       struct move_result *r)
{
    idm_order_t *o = NULL;
    idm_order_state now;
    ck_ok(idm_order_open(ctx, id, &o));
    r->rc = idm_order_set_state(o, actor, (idm_order_state)to, NULL);
    snprintf(r->message, sizeof r->message, "%s", r->rc != IDM_OK ? idm_last_error_message() : "");
    ck_ok(idm_order_get_state(o, &now));
    r->handle_state = (int)now;
    idm_order_free(&o);
}

static int order_load_state(idm_ctx_t *ctx, int64_t id)
{
    idm_order_t *o = NULL;
    idm_order_state s;
    ck_ok(idm_order_open(ctx, id, &o));
    ck_ok(idm_order_get_state(o, &s));
    idm_order_free(&o);
    return (int)s;
}

static void order_label(idm_ctx_t *ctx, int64_t id, char *buf, size_t size)
{
    (void)ctx;
    snprintf(buf, size, "order %lld", (long long)id);
}

static const struct subject local_card = {"local-card", &local_graph, IDM_OBJECT_CARD,
                                          IDM_CARD_EMPLOYEE, IDM_PRODUCTION_LOCAL, card_create,
                                          card_move, card_load_state, card_label};
static const struct subject external_card = {"external-card", &external_graph, IDM_OBJECT_CARD,
                                             IDM_CARD_EMPLOYEE, IDM_PRODUCTION_EXTERNAL,
                                             card_create, card_move, card_load_state,
                                             card_label};
static const struct subject temporary_card = {"temporary-card", &temporary_graph,
                                              IDM_OBJECT_CARD, IDM_CARD_TEMPORARY,
                                              IDM_PRODUCTION_EXTERNAL, card_create, card_move,
                                              card_load_state, card_label};
static const struct subject identity_subject = {"identity", &identity_graph,
                                                IDM_OBJECT_IDENTITY, IDM_CARD_EMPLOYEE,
                                                IDM_PRODUCTION_LOCAL, identity_create,
                                                identity_move, identity_load_state,
                                                identity_label};
static const struct subject order_subject = {"order", &order_graph, IDM_OBJECT_ORDER,
                                             IDM_CARD_EMPLOYEE, IDM_PRODUCTION_LOCAL,
                                             order_create, order_move, order_load_state,
                                             order_label};

/* Drives a fresh object to state; returns the number of moves, or -1 with a fault. */
static int drive(idm_ctx_t *ctx, const struct subject *s, int64_t id, int state,
                 struct faults *f)
{
    int path[MAX_STATES];
    size_t n = path_to(s->graph, state, path);
    for (size_t i = 0; i < n; i++) {
        struct move_result r;
        s->move(ctx, id, "setup", path[i], &r);
        if (r.rc != IDM_OK) {
            fault(f, "%s: legal move towards '%s' ('%s') refused: %s", s->name,
                  s->graph->state_name(state), s->graph->state_name(path[i]), r.message);
            return -1;
        }
    }
    return (int)n;
}

/*
 * Every legal move of s's graph: made on a fresh object driven to its
 * source, then checked in a new context on the same store: the object is in
 * the target state and its last audit event records exactly that move.
 */
static void check_legal_moves(const struct subject *s)
{
    const struct graph *g = s->graph;
    char path[4096];
    store_path(path, sizeof path, s->name);
    struct faults f = {0};
    int64_t ids[MAX_EDGES] = {0};
    size_t events[MAX_EDGES] = {0};
    char actors[MAX_EDGES][64];
    ck_assert_uint_le(g->nedges, MAX_EDGES);

    idm_ctx_t *ctx = fixture_ctx(path);
    for (size_t i = 0; i < g->nedges; i++) {
        const struct edge *e = &g->edges[i];
        const char *from = g->state_name(e->from), *to = g->state_name(e->to);
        int64_t id = s->create(ctx, s);
        int moves = drive(ctx, s, id, e->from, &f);
        if (moves < 0)
            continue;
        snprintf(actors[i], sizeof actors[i], "operator:%s-%zu", s->name, i);
        struct move_result r;
        s->move(ctx, id, actors[i], e->to, &r);
        if (r.rc != IDM_OK) {
            fault(&f, "%s: legal move '%s' -> '%s' refused with %s: %s", s->name, from, to,
                  idm_strerror_name(r.rc), r.message);
            continue;
        }
        if (r.handle_state != e->to)
            fault(&f, "%s: after '%s' -> '%s' the handle shows '%s'", s->name, from, to,
                  g->state_name(r.handle_state));
        ids[i] = id;
        events[i] = (size_t)moves + 2; /* creation, the path, the move */
    }
    idm_ctx_free(&ctx);
    ck_assert_ptr_null(ctx);

    ctx = fixture_ctx(path);
    for (size_t i = 0; i < g->nedges; i++) {
        if (ids[i] == 0)
            continue;
        const struct edge *e = &g->edges[i];
        const char *from = g->state_name(e->from), *to = g->state_name(e->to);
        int now = s->state(ctx, ids[i]);
        if (now != e->to)
            fault(&f, "%s: after '%s' -> '%s' and a reopen, the state is '%s'", s->name, from,
                  to, g->state_name(now));
        struct audit_summary a;
        audit_summary(ctx, s->object, ids[i], &a);
        if (a.count != events[i])
            fault(&f, "%s: '%s' -> '%s': %zu audit events, expected %zu", s->name, from, to,
                  a.count, events[i]);
        if (a.from_null || strcmp(a.from, from) != 0 || a.to_null || strcmp(a.to, to) != 0 ||
            strcmp(a.actor, actors[i]) != 0)
            fault(&f, "%s: '%s' -> '%s' by '%s': last audit event is '%s' -> '%s' by '%s'",
                  s->name, from, to, actors[i], a.from_null ? "(null)" : a.from,
                  a.to_null ? "(null)" : a.to, a.actor);
    }
    int64_t broken = -1;
    int rc = idm_audit_verify(ctx, &broken);
    if (rc != IDM_OK || broken != 0)
        fault(&f, "audit chain: %s, first broken %lld: %s", idm_strerror_name(rc),
              (long long)broken, idm_last_error_message());
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
    ck_assert_no_faults(&f);
}

struct illegal_move {
    int from, to;
    const char *why; /* what makes it illegal, for the report */
};

/*
 * Each move is refused with IDM_ERR_STATE and a message naming the object,
 * its state and the attempted one; after a reopen the object is still in
 * its state and the audit trail has no event for the refused move.
 */
static void check_illegal_moves(const struct subject *s, const struct illegal_move *moves,
                                size_t n)
{
    const struct graph *g = s->graph;
    char path[4096];
    store_path(path, sizeof path, s->name);
    struct faults f = {0};
    int64_t ids[MAX_EDGES] = {0};
    size_t events[MAX_EDGES] = {0};
    ck_assert_uint_le(n, MAX_EDGES);

    idm_ctx_t *ctx = fixture_ctx(path);
    for (size_t i = 0; i < n; i++) {
        const struct illegal_move *m = &moves[i];
        const char *from = g->state_name(m->from), *to = g->state_name(m->to);
        int64_t id = s->create(ctx, s);
        if (drive(ctx, s, id, m->from, &f) < 0)
            continue;
        struct audit_summary before;
        audit_summary(ctx, s->object, id, &before);
        char label[128], quoted_from[64], quoted_to[64];
        s->label(ctx, id, label, sizeof label);
        snprintf(quoted_from, sizeof quoted_from, "'%s'", from);
        snprintf(quoted_to, sizeof quoted_to, "'%s'", to);

        struct move_result r;
        s->move(ctx, id, "operator:illegal", m->to, &r);
        if (r.rc != IDM_ERR_STATE)
            fault(&f, "%s: '%s' -> '%s' (%s) gave %s, expected IDM_ERR_STATE: %s", s->name, from,
                  to, m->why, idm_strerror_name(r.rc), r.message);
        else if (!contains(r.message, label) || !contains(r.message, quoted_from) ||
                 !contains(r.message, quoted_to))
            fault(&f, "%s: refusal of '%s' -> '%s' (%s) does not name %s, %s and %s: \"%s\"",
                  s->name, from, to, m->why, label, quoted_from, quoted_to, r.message);
        if (r.handle_state != m->from)
            fault(&f, "%s: after the refused '%s' -> '%s' the handle shows '%s'", s->name, from,
                  to, g->state_name(r.handle_state));
        ids[i] = id;
        events[i] = before.count;
    }
    idm_ctx_free(&ctx);

    ctx = fixture_ctx(path);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == 0)
            continue;
        const struct illegal_move *m = &moves[i];
        const char *from = g->state_name(m->from), *to = g->state_name(m->to);
        int now = s->state(ctx, ids[i]);
        if (now != m->from)
            fault(&f, "%s: after the refused '%s' -> '%s' and a reopen, the state is '%s'",
                  s->name, from, to, g->state_name(now));
        struct audit_summary a;
        audit_summary(ctx, s->object, ids[i], &a);
        if (a.count != events[i] || strcmp(a.actor, "operator:illegal") == 0)
            fault(&f, "%s: the refused '%s' -> '%s' left an audit event (%zu events, %zu "
                  "before; last by '%s')", s->name, from, to, a.count, events[i], a.actor);
    }
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
    ck_assert_no_faults(&f);
}

/* ---- 1. every legal move persists with its audit event --------------- */

START_TEST(test_every_legal_local_card_move_persists_with_its_audit_event)
{
    check_legal_moves(&local_card);
}
END_TEST

START_TEST(test_every_legal_external_card_move_persists_with_its_audit_event)
{
    check_legal_moves(&external_card);
}
END_TEST

START_TEST(test_every_legal_temporary_card_move_persists_with_its_audit_event)
{
    check_legal_moves(&temporary_card);
}
END_TEST

START_TEST(test_every_legal_identity_move_persists_with_its_audit_event)
{
    check_legal_moves(&identity_subject);
}
END_TEST

START_TEST(test_every_legal_order_move_persists_with_its_audit_event)
{
    check_legal_moves(&order_subject);
}
END_TEST

/* ---- 2. illegal moves are refused by name and leave no trace --------- */

START_TEST(test_illegal_local_card_moves_refused_without_trace)
{
    static const struct illegal_move moves[] = {
        {IDM_CARD_REGISTERED, IDM_CARD_APPROVED, "skips 'requested'"},
        {IDM_CARD_APPROVED, IDM_CARD_ACTIVE, "skips 'issued'"},
        {IDM_CARD_REJECTED, IDM_CARD_REQUESTED, "leaves a final state"},
        {IDM_CARD_LOCKED, IDM_CARD_ACTIVE, "leaves a final state"},
        {IDM_CARD_EXPIRED, IDM_CARD_INACTIVE, "leaves a final state"},
        {IDM_CARD_REQUESTED, IDM_CARD_REGISTERED, "enters the initial state again"},
        {IDM_CARD_ACTIVE, IDM_CARD_REGISTERED, "enters the initial state again"},
        {IDM_CARD_REGISTERED, IDM_CARD_ORDERED, "not a state of the local graph"},
        {IDM_CARD_ISSUED, IDM_CARD_PRODUCED, "not a state of the local graph"},
        {IDM_CARD_ACTIVE, IDM_CARD_ASSIGNED, "not a state of the local graph"},
        {IDM_CARD_ACTIVE, IDM_CARD_ISSUED, "goes backwards"},
        {IDM_CARD_ISSUED, IDM_CARD_ISSUED, "stays in place"},
    };
    check_illegal_moves(&local_card, moves, N(moves));
}
END_TEST

START_TEST(test_illegal_external_card_moves_refused_without_trace)
{
    static const struct illegal_move moves[] = {
        {IDM_CARD_REGISTERED, IDM_CARD_IN_PRODUCTION, "skips 'ordered'"},
        {IDM_CARD_ORDERED, IDM_CARD_PRODUCED, "skips 'in_production'"},
        {IDM_CARD_ABORTED, IDM_CARD_PROCESSING, "leaves a final state"},
        {IDM_CARD_REJECTED, IDM_CARD_ORDERED, "leaves a final state"},
        {IDM_CARD_EXPIRED, IDM_CARD_ACTIVE, "leaves a final state"},
        {IDM_CARD_PROCESSING, IDM_CARD_REGISTERED, "enters the initial state again"},
        {IDM_CARD_ORDERED, IDM_CARD_APPROVED, "not a state of the external graph"},
        {IDM_CARD_PRODUCED, IDM_CARD_ISSUED, "not a state of the external graph"},
        {IDM_CARD_PRODUCED, IDM_CARD_UNASSIGNED, "not a state of the external graph"},
        {IDM_CARD_FAILED, IDM_CARD_ORDERED, "a failed card is processed again first"},
    };
    check_illegal_moves(&external_card, moves, N(moves));
}
END_TEST

START_TEST(test_illegal_temporary_card_moves_refused_without_trace)
{
    static const struct illegal_move moves[] = {
        {IDM_CARD_REQUESTED, IDM_CARD_IN_PRODUCTION, "skips 'ordered'"},
        {IDM_CARD_ORDERED, IDM_CARD_UNASSIGNED, "skips production"},
        {IDM_CARD_ABORTED, IDM_CARD_PROCESSING, "leaves a final state"},
        {IDM_CARD_LOCKED, IDM_CARD_ASSIGNED, "leaves a final state"},
        {IDM_CARD_EXPIRED, IDM_CARD_UNASSIGNED, "leaves a final state"},
        {IDM_CARD_PROCESSING, IDM_CARD_REQUESTED, "enters the initial state again"},
        {IDM_CARD_REQUESTED, IDM_CARD_REGISTERED, "not a state of the temporary graph"},
        {IDM_CARD_PRODUCED, IDM_CARD_ACTIVE, "not a state of the temporary graph"},
        {IDM_CARD_ASSIGNED, IDM_CARD_REJECTED, "not a state of the temporary graph"},
    };
    check_illegal_moves(&temporary_card, moves, N(moves));
}
END_TEST

START_TEST(test_illegal_identity_moves_refused_without_trace)
{
    static const struct illegal_move moves[] = {
        {IDM_IDENTITY_REGISTERED, IDM_IDENTITY_INACTIVE, "skips 'active'"},
        {IDM_IDENTITY_TERMINATED, IDM_IDENTITY_ACTIVE, "leaves a final state"},
        {IDM_IDENTITY_TERMINATED, IDM_IDENTITY_REGISTERED, "leaves a final state"},
        {IDM_IDENTITY_ACTIVE, IDM_IDENTITY_REGISTERED, "enters the initial state again"},
        {IDM_IDENTITY_INACTIVE, IDM_IDENTITY_REGISTERED, "enters the initial state again"},
    };
    check_illegal_moves(&identity_subject, moves, N(moves));
}
END_TEST

START_TEST(test_illegal_order_moves_refused_without_trace)
{
    static const struct illegal_move moves[] = {
        {IDM_ORDER_OPEN, IDM_ORDER_COMPLETED, "skips 'running'"},
        {IDM_ORDER_COMPLETED, IDM_ORDER_OPEN, "leaves a final state"},
        {IDM_ORDER_ABORTED, IDM_ORDER_RUNNING, "leaves a final state"},
        {IDM_ORDER_COMPLETED, IDM_ORDER_ABORTED, "leaves a final state"},
        {IDM_ORDER_RUNNING, IDM_ORDER_RUNNING, "stays in place"},
    };
    check_illegal_moves(&order_subject, moves, N(moves));
}
END_TEST

START_TEST(test_state_values_outside_the_enums_are_invalid_arguments)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_card_t *card = new_employee_card(ctx, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL);
    ck_assert_idm_error(idm_card_set_state(card, ACTOR, (idm_card_state)17, NULL),
                        IDM_ERR_INVALID_ARG, "'to'");
    ck_assert_idm_error(idm_card_set_state(card, ACTOR, (idm_card_state)-1, NULL),
                        IDM_ERR_INVALID_ARG, "'to'");
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_new(ctx, ACTOR, NULL, &p));
    ck_assert_idm_error(idm_identity_set_state(p, ACTOR, (idm_identity_state)4),
                        IDM_ERR_INVALID_ARG, "'to'");
    idm_order_t *o = NULL;
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_EXTERNAL, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL,
                        NULL, &o));
    ck_assert_idm_error(idm_order_set_state(o, ACTOR, (idm_order_state)9, NULL),
                        IDM_ERR_INVALID_ARG, "'to'");
    ck_assert_int_eq(card_state(card), IDM_CARD_REGISTERED);
    idm_order_free(&o);
    idm_identity_free(&p);
    idm_card_free(&card);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_stale_card_handle_cannot_skip_a_step)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_card_t *fresh = new_employee_card(ctx, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL);
    idm_card_t *stale = NULL;
    ck_ok(idm_card_open(ctx, card_id(fresh), &stale));
    static const idm_card_state to_rejected[] = {IDM_CARD_REQUESTED, IDM_CARD_REJECTED};
    walk_card(fresh, to_rejected, N(to_rejected));
    /* registered -> requested is legal for the stale handle's state, not the stored one. */
    ck_assert_int_eq(card_state(stale), IDM_CARD_REGISTERED);
    ck_assert_idm_error(idm_card_set_state(stale, ACTOR, IDM_CARD_REQUESTED, NULL), IDM_ERR_STATE,
                        "'rejected'");
    ck_ok(idm_card_refresh(stale));
    ck_assert_int_eq(card_state(stale), IDM_CARD_REJECTED);
    idm_card_free(&stale);
    idm_card_free(&fresh);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_state_change_reason_recorded_whole_in_audit)
{
    /* The longest reason idm_card_set_state() accepts, in two-byte characters. */
    char *reason = malloc(IDM_ATTRIBUTE_VALUE_MAX + 1);
    ck_assert_ptr_nonnull(reason);
    for (size_t i = 0; i < IDM_ATTRIBUTE_VALUE_MAX; i += 2)
        memcpy(reason + i, "\xc3\xa9", 2);
    reason[IDM_ATTRIBUTE_VALUE_MAX] = '\0';

    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_card_t *card = new_employee_card(ctx, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL);
    int rc = idm_card_set_state(card, "operator:reason", IDM_CARD_REQUESTED, reason);
    struct audit_summary a;
    if (rc == IDM_OK)
        audit_summary(ctx, IDM_OBJECT_CARD, card_id(card), &a);
    idm_card_free(&card);
    idm_ctx_free(&ctx);
    size_t recorded = rc == IDM_OK ? strlen(a.detail) : 0;
    int same = rc == IDM_OK && strcmp(a.detail, reason) == 0;
    free(reason);

    ck_assert_msg(rc == IDM_OK, "a %d-byte reason was refused", IDM_ATTRIBUTE_VALUE_MAX);
    ck_assert_msg(same, "the audit kept %zu of the reason's %d bytes", recorded,
                  IDM_ATTRIBUTE_VALUE_MAX);
}
END_TEST

/* ---- 3. certificates follow their card ------------------------------- */

#define NOT_BEFORE INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define NOT_AFTER INT64_C(1798761600)  /* 2027-01-01T00:00:00Z */

static idm_cert_state cert_state_of(idm_ctx_t *ctx, int64_t cert_id)
{
    idm_cert_t *cert = NULL;
    idm_cert_state s;
    ck_ok(idm_cert_open(ctx, cert_id, &cert));
    ck_ok(idm_cert_get_state(cert, &s));
    idm_cert_free(&cert);
    return s;
}

static idm_cert_t *add_cert(idm_card_t *card, const char *serial)
{
    unsigned char *der = NULL;
    size_t len = 0;
    idm_cert_t *cert = NULL;
    fixture_certificate(serial, NOT_BEFORE, NOT_AFTER, &der, &len);
    int rc = idm_card_add_certificate(card, ACTOR, der, len, &cert);
    free(der);
    ck_assert_msg(rc == IDM_OK, "adding certificate %s: %s", serial, idm_last_error_message());
    return cert;
}

/* Moves card to `to` and checks the certificate's state and audit trail:
 * `changed` says whether the move must add a certificate event. */
static void expect_cert_follows(idm_ctx_t *ctx, idm_card_t *card, int64_t cert_id,
                                idm_card_state to, idm_cert_state expected, int changed)
{
    struct audit_summary before, after;
    audit_summary(ctx, IDM_OBJECT_CERTIFICATE, cert_id, &before);
    idm_cert_state old = cert_state_of(ctx, cert_id);
    ck_ok(idm_card_set_state(card, "operator:cert", to, NULL));
    idm_cert_state now = cert_state_of(ctx, cert_id);
    ck_assert_msg(now == expected, "card to '%s': certificate is '%s', expected '%s'",
                  idm_card_state_name(to), idm_cert_state_name(now),
                  idm_cert_state_name(expected));
    audit_summary(ctx, IDM_OBJECT_CERTIFICATE, cert_id, &after);
    if (!changed) {
        ck_assert_msg(after.count == before.count, "card to '%s': a certificate event was "
                      "added though the certificate stayed '%s'", idm_card_state_name(to),
                      idm_cert_state_name(now));
        return;
    }
    ck_assert_uint_eq(after.count, before.count + 1);
    ck_assert_str_eq(after.from, idm_cert_state_name(old));
    ck_assert_str_eq(after.to, idm_cert_state_name(expected));
    ck_assert_str_eq(after.actor, "operator:cert");
}

START_TEST(test_certificate_on_local_card_follows_card_states)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_card_t *card = new_employee_card(ctx, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL);
    static const idm_card_state to_approved[] = {IDM_CARD_REQUESTED, IDM_CARD_APPROVED};
    walk_card(card, to_approved, N(to_approved));

    idm_cert_t *cert = add_cert(card, "1A2B3C");
    const char *serial = NULL;
    int64_t nb = 0, na = 0, cid = 0, owner = 0;
    idm_cert_state s;
    ck_ok(idm_cert_get_serial(cert, &serial));
    ck_assert_str_eq(serial, "1A2B3C");
    ck_ok(idm_cert_get_validity(cert, &nb, &na));
    ck_assert_int_eq(nb, NOT_BEFORE * 1000);
    ck_assert_int_eq(na, NOT_AFTER * 1000);
    ck_ok(idm_cert_get_card_id(cert, &owner));
    ck_assert_int_eq(owner, card_id(card));
    ck_ok(idm_cert_get_state(cert, &s));
    ck_assert_int_eq(s, IDM_CERT_ON_HOLD);
    ck_ok(idm_cert_get_id(cert, &cid));

    struct audit_summary a;
    audit_summary(ctx, IDM_OBJECT_CERTIFICATE, cid, &a);
    ck_assert_uint_eq(a.count, 1);
    ck_assert(a.from_null);
    ck_assert_str_eq(a.to, "on_hold");
    ck_assert_msg(contains(a.detail, "1A2B3C"), "creation event: %s", a.detail);

    expect_cert_follows(ctx, card, cid, IDM_CARD_ISSUED, IDM_CERT_ON_HOLD, 0);
    expect_cert_follows(ctx, card, cid, IDM_CARD_ACTIVE, IDM_CERT_VALID, 1);
    expect_cert_follows(ctx, card, cid, IDM_CARD_INACTIVE, IDM_CERT_ON_HOLD, 1);
    expect_cert_follows(ctx, card, cid, IDM_CARD_ACTIVE, IDM_CERT_VALID, 1);
    expect_cert_follows(ctx, card, cid, IDM_CARD_LOCKED, IDM_CERT_REVOKED, 1);

    /* A locked card takes no new certificate. */
    unsigned char *der = NULL;
    size_t len = 0;
    idm_cert_t *none = NULL;
    fixture_certificate("7777", NOT_BEFORE, NOT_AFTER, &der, &len);
    const char *number = NULL;
    ck_ok(idm_card_get_number(card, &number));
    ck_assert_idm_error(idm_card_add_certificate(card, ACTOR, der, len, &none), IDM_ERR_STATE,
                        number);
    ck_assert_ptr_null(none);
    free(der);

    idm_cert_free(&cert);
    ck_assert_ptr_null(cert);
    idm_card_free(&card);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_revoked_certificate_stays_revoked_forever)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_card_t *card = new_employee_card(ctx, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL);
    static const idm_card_state to_approved[] = {IDM_CARD_REQUESTED, IDM_CARD_APPROVED};
    walk_card(card, to_approved, N(to_approved));
    idm_cert_t *cert = add_cert(card, "2B");
    int64_t cid = 0;
    ck_ok(idm_cert_get_id(cert, &cid));
    idm_cert_free(&cert);

    expect_cert_follows(ctx, card, cid, IDM_CARD_FAILED, IDM_CERT_REVOKED, 1);
    /* Repeating production and activating the card never revives it. */
    expect_cert_follows(ctx, card, cid, IDM_CARD_APPROVED, IDM_CERT_REVOKED, 0);
    expect_cert_follows(ctx, card, cid, IDM_CARD_ISSUED, IDM_CERT_REVOKED, 0);
    expect_cert_follows(ctx, card, cid, IDM_CARD_ACTIVE, IDM_CERT_REVOKED, 0);
    expect_cert_follows(ctx, card, cid, IDM_CARD_INACTIVE, IDM_CERT_REVOKED, 0);
    expect_cert_follows(ctx, card, cid, IDM_CARD_EXPIRED, IDM_CERT_REVOKED, 0);
    idm_card_free(&card);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_certificate_on_temporary_card_follows_assignment_and_expiry)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_card_t *card = new_temporary_card(ctx);
    static const idm_card_state to_ordered[] = {IDM_CARD_ORDERED};
    walk_card(card, to_ordered, N(to_ordered));
    idm_cert_t *cert = add_cert(card, "3C3C");
    int64_t cid = 0;
    ck_ok(idm_cert_get_id(cert, &cid));
    idm_cert_free(&cert);
    ck_assert_int_eq(cert_state_of(ctx, cid), IDM_CERT_ON_HOLD);

    expect_cert_follows(ctx, card, cid, IDM_CARD_IN_PRODUCTION, IDM_CERT_ON_HOLD, 0);
    expect_cert_follows(ctx, card, cid, IDM_CARD_PRODUCED, IDM_CERT_ON_HOLD, 0);
    expect_cert_follows(ctx, card, cid, IDM_CARD_UNASSIGNED, IDM_CERT_ON_HOLD, 0);
    expect_cert_follows(ctx, card, cid, IDM_CARD_ASSIGNED, IDM_CERT_VALID, 1);
    expect_cert_follows(ctx, card, cid, IDM_CARD_UNASSIGNED, IDM_CERT_ON_HOLD, 1);
    expect_cert_follows(ctx, card, cid, IDM_CARD_ASSIGNED, IDM_CERT_VALID, 1);
    expect_cert_follows(ctx, card, cid, IDM_CARD_EXPIRED, IDM_CERT_EXPIRED, 1);
    idm_card_free(&card);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_certificate_on_external_card_revoked_when_production_fails)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_card_t *card = new_employee_card(ctx, IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL);
    static const idm_card_state to_in_production[] = {IDM_CARD_ORDERED, IDM_CARD_IN_PRODUCTION};
    walk_card(card, to_in_production, N(to_in_production));
    idm_cert_t *cert = add_cert(card, "4D");
    int64_t cid = 0;
    ck_ok(idm_cert_get_id(cert, &cid));
    idm_cert_free(&cert);
    expect_cert_follows(ctx, card, cid, IDM_CARD_FAILED, IDM_CERT_REVOKED, 1);
    expect_cert_follows(ctx, card, cid, IDM_CARD_PROCESSING, IDM_CERT_REVOKED, 0);
    idm_card_free(&card);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_certificate_records_refuse_duplicates_and_garbage)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_card_t *card = new_employee_card(ctx, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL);
    idm_card_t *other = new_employee_card(ctx, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL);
    idm_cert_t *first = add_cert(card, "ABCDEF01");
    int64_t first_id = 0;
    ck_ok(idm_cert_get_id(first, &first_id));

    /* Another certificate (another key) with the same serial, on either card. */
    unsigned char *der = NULL;
    size_t len = 0;
    idm_cert_t *out = NULL;
    fixture_certificate("ABCDEF01", NOT_BEFORE, NOT_AFTER, &der, &len);
    ck_assert_idm_error(idm_card_add_certificate(card, ACTOR, der, len, &out), IDM_ERR_EXISTS,
                        "ABCDEF01");
    ck_assert_idm_error(idm_card_add_certificate(other, ACTOR, der, len, &out), IDM_ERR_EXISTS,
                        "ABCDEF01");
    ck_assert_ptr_null(out);

    /* The DER must be exactly one certificate. */
    static const unsigned char garbage[] = "not a certificate at all";
    ck_assert_idm_error(idm_card_add_certificate(card, ACTOR, garbage, sizeof garbage, &out),
                        IDM_ERR_PARSE, "der");
    ck_assert_idm_error(idm_card_add_certificate(card, ACTOR, der, len - 1, &out), IDM_ERR_PARSE,
                        "der");
    unsigned char *longer = malloc(len + 1);
    ck_assert_ptr_nonnull(longer);
    memcpy(longer, der, len);
    longer[len] = 0x00;
    ck_assert_idm_error(idm_card_add_certificate(card, ACTOR, longer, len + 1, &out),
                        IDM_ERR_PARSE, "der");
    free(longer);
    free(der);
    ck_assert_ptr_null(out);

    /* Found by serial; nothing but the first was recorded. */
    idm_cert_t *found = NULL;
    int64_t found_id = 0;
    ck_ok(idm_cert_open_serial(ctx, "ABCDEF01", &found));
    ck_ok(idm_cert_get_id(found, &found_id));
    ck_assert_int_eq(found_id, first_id);
    const unsigned char *d1 = NULL, *d2 = NULL;
    size_t l1 = 0, l2 = 0;
    ck_ok(idm_cert_get_der(first, &d1, &l1));
    ck_ok(idm_cert_get_der(found, &d2, &l2));
    ck_assert_uint_eq(l1, l2);
    ck_assert(memcmp(d1, d2, l1) == 0);
    idm_cert_free(&found);
    ck_assert_idm_error(idm_cert_open_serial(ctx, "FFFF", &found), IDM_ERR_NOT_FOUND, "");
    ck_assert_ptr_null(found);

    /* The iterator lists the card's certificates, in id order, and no other card's. */
    idm_cert_t *second = add_cert(card, "B0B0");
    idm_cert_t *foreign = add_cert(other, "C0C0");
    idm_cert_iter_t *it = NULL;
    ck_ok(idm_cert_iter_new(ctx, card_id(card), &it));
    const char *expected[] = {"ABCDEF01", "B0B0"};
    size_t n = 0;
    for (;;) {
        idm_cert_t *c = NULL;
        ck_ok(idm_cert_iter_next(it, &c));
        if (c == NULL)
            break;
        const char *serial = NULL;
        int64_t owner = 0;
        ck_ok(idm_cert_get_serial(c, &serial));
        ck_ok(idm_cert_get_card_id(c, &owner));
        ck_assert_uint_lt(n, N(expected));
        ck_assert_str_eq(serial, expected[n]);
        ck_assert_int_eq(owner, card_id(card));
        n++;
        idm_cert_free(&c);
    }
    ck_assert_uint_eq(n, N(expected));
    idm_cert_iter_free(&it);
    ck_assert_ptr_null(it);

    idm_cert_free(&foreign);
    idm_cert_free(&second);
    idm_cert_free(&first);
    idm_card_free(&other);
    idm_card_free(&card);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- 4. identities ---------------------------------------------------- */

static const char *attr(const idm_identity_t *p, const char *key)
{
    const char *value = NULL;
    int rc = idm_identity_get_attribute(p, key, &value);
    ck_assert_msg(rc == IDM_OK || rc == IDM_ERR_NOT_FOUND, "get_attribute %s: %s", key,
                  idm_last_error_message());
    return rc == IDM_OK ? value : NULL;
}

static const char *common_name(const idm_identity_t *p)
{
    const char *cn = NULL;
    ck_ok(idm_identity_get_common_name(p, &cn));
    return cn;
}

static const char *upn(const idm_identity_t *p)
{
    const char *value = NULL;
    ck_ok(idm_identity_get_upn(p, &value));
    return value;
}

START_TEST(test_identity_attributes_set_get_remove_in_key_order)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_new(ctx, ACTOR, "E100", &p));
    idm_identity_state s;
    ck_ok(idm_identity_get_state(p, &s));
    ck_assert_int_eq(s, IDM_IDENTITY_REGISTERED);
    size_t count = 99;
    ck_ok(idm_identity_get_attribute_count(p, &count));
    ck_assert_uint_eq(count, 0);

    ck_ok(idm_identity_set_attribute(p, ACTOR, "surname", "Lovelace"));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "givenName", "Ada"));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "department", "Analytical Engines"));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "employeeNumber", "E100"));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "mail", "ada@example.org"));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "department", "Difference Engines"));

    static const char *const keys[] = {"department", "employeeNumber", "givenName", "mail",
                                       "surname"};
    static const char *const values[] = {"Difference Engines", "E100", "Ada",
                                         "ada@example.org", "Lovelace"};
    ck_ok(idm_identity_get_attribute_count(p, &count));
    ck_assert_uint_eq(count, N(keys));
    for (size_t i = 0; i < N(keys); i++) {
        const char *k = NULL, *v = NULL;
        ck_ok(idm_identity_get_attribute_at(p, i, &k, &v));
        ck_assert_str_eq(k, keys[i]);
        ck_assert_str_eq(v, values[i]);
        ck_assert_str_eq(attr(p, keys[i]), values[i]);
    }
    ck_assert_idm_error(idm_identity_get_attribute_at(p, N(keys), NULL, NULL),
                        IDM_ERR_INVALID_ARG, "index");

    ck_ok(idm_identity_set_attribute(p, ACTOR, "mail", NULL));
    ck_ok(idm_identity_get_attribute_count(p, &count));
    ck_assert_uint_eq(count, N(keys) - 1);
    const char *value = NULL;
    ck_assert_idm_error(idm_identity_get_attribute(p, "mail", &value), IDM_ERR_NOT_FOUND, "mail");
    const char *k3 = NULL;
    ck_ok(idm_identity_get_attribute_at(p, 3, &k3, NULL));
    ck_assert_str_eq(k3, "surname");

    /* Another handle reads the same from the store. */
    idm_identity_t *again = NULL;
    ck_ok(idm_identity_open(ctx, identity_id(p), &again));
    ck_ok(idm_identity_get_attribute_count(again, &count));
    ck_assert_uint_eq(count, N(keys) - 1);
    ck_assert_str_eq(attr(again, "department"), "Difference Engines");
    ck_assert_ptr_null(attr(again, "mail"));

    idm_identity_free(&again);
    idm_identity_free(&p);
    ck_assert_ptr_null(p);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_identity_attribute_keys_and_values_validated)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_new(ctx, ACTOR, NULL, &p));

    ck_assert_idm_error(idm_identity_set_attribute(p, ACTOR, "givenName", "\xc3\x28"),
                        IDM_ERR_INVALID_ARG, "'value'");
    char *big = malloc(IDM_ATTRIBUTE_VALUE_MAX + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', IDM_ATTRIBUTE_VALUE_MAX + 1);
    big[IDM_ATTRIBUTE_VALUE_MAX + 1] = '\0';
    ck_assert_idm_error(idm_identity_set_attribute(p, ACTOR, "notes", big), IDM_ERR_INVALID_ARG,
                        "'value'");
    ck_assert_idm_error(idm_identity_set_attribute(p, ACTOR, "1abc", "x"), IDM_ERR_INVALID_ARG,
                        "'key'");
    ck_assert_idm_error(idm_identity_set_attribute(p, ACTOR, "a b", "x"), IDM_ERR_INVALID_ARG,
                        "'key'");
    ck_assert_idm_error(idm_identity_set_attribute(p, ACTOR, "", "x"), IDM_ERR_INVALID_ARG,
                        "'key'");
    ck_assert_idm_error(idm_identity_set_attribute(p, ACTOR, "given$Name", "x"),
                        IDM_ERR_INVALID_ARG, "'key'");
    size_t count = 99;
    ck_ok(idm_identity_get_attribute_count(p, &count));
    ck_assert_uint_eq(count, 0);

    char key[67];
    key[0] = 'k';
    memset(key + 1, 'y', 64);
    key[65] = '\0';
    ck_assert_idm_error(idm_identity_set_attribute(p, ACTOR, key, "x"), IDM_ERR_INVALID_ARG,
                        "'key'");
    ck_ok(idm_identity_get_attribute_count(p, &count));
    ck_assert_uint_eq(count, 0);

    /* The limits themselves are accepted. */
    key[64] = '\0';
    ck_ok(idm_identity_set_attribute(p, ACTOR, key, "64-byte key"));
    big[IDM_ATTRIBUTE_VALUE_MAX] = '\0';
    ck_ok(idm_identity_set_attribute(p, ACTOR, "notes", big));
    ck_assert_uint_eq(strlen(attr(p, "notes")), IDM_ATTRIBUTE_VALUE_MAX);
    ck_ok(idm_identity_set_attribute(p, ACTOR, "x-Legacy_id.2", "\xc3\xa9t\xc3\xa9"));
    ck_assert_str_eq(attr(p, "x-Legacy_id.2"), "\xc3\xa9t\xc3\xa9");
    free(big);
    idm_identity_free(&p);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_common_name_derived_and_recomputed_from_attributes)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_new(ctx, ACTOR, NULL, &p));
    ck_assert_ptr_null(common_name(p));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "givenName", "Ada"));
    ck_assert_ptr_null(common_name(p)); /* surname still missing */
    ck_ok(idm_identity_set_attribute(p, ACTOR, "surname", "Lovelace"));
    ck_assert_str_eq(common_name(p), "Ada Lovelace");
    ck_ok(idm_identity_set_attribute(p, ACTOR, "surname", "King"));
    ck_assert_str_eq(common_name(p), "Ada King");
    ck_ok(idm_identity_set_attribute(p, ACTOR, "givenName", NULL));
    ck_assert_ptr_null(common_name(p));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "givenName", "Augusta Ada"));
    ck_assert_str_eq(common_name(p), "Augusta Ada King");

    /* An explicit name survives attribute changes; NULL derives it again. */
    ck_ok(idm_identity_set_common_name(p, ACTOR, "Countess of Lovelace"));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "surname", "Byron"));
    ck_assert_str_eq(common_name(p), "Countess of Lovelace");
    idm_identity_t *again = NULL;
    ck_ok(idm_identity_open(ctx, identity_id(p), &again));
    ck_assert_str_eq(common_name(again), "Countess of Lovelace");
    idm_identity_free(&again);
    ck_ok(idm_identity_set_common_name(p, ACTOR, NULL));
    ck_assert_str_eq(common_name(p), "Augusta Ada Byron");
    ck_ok(idm_options_set_string(ctx, "admin", "common_name_template", "${surname}, ${givenName}"));
    ck_ok(idm_identity_refresh(p));
    ck_assert_str_eq(common_name(p), "Byron, Augusta Ada");
    ck_ok(idm_identity_set_attribute(p, ACTOR, "surname", NULL));
    ck_assert_ptr_null(common_name(p));
    idm_identity_free(&p);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_upn_derived_once_upn_template_is_set)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_identity_t *p = fixture_person(ctx, "E200", "Grace", "Hopper");
    ck_assert_ptr_null(upn(p));
    ck_ok(idm_options_set_string(ctx, "admin", "upn_template", "${employeeNumber}@corp.example"));
    ck_ok(idm_identity_refresh(p));
    ck_assert_str_eq(upn(p), "E200@corp.example");
    idm_identity_t *again = NULL;
    ck_ok(idm_identity_open_external(ctx, "E200", &again));
    ck_assert_str_eq(upn(again), "E200@corp.example");
    idm_identity_free(&again);

    ck_ok(idm_identity_set_attribute(p, ACTOR, "employeeNumber", "E201"));
    ck_assert_str_eq(upn(p), "E201@corp.example");
    ck_ok(idm_identity_set_upn(p, ACTOR, "grace@navy.example"));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "employeeNumber", "E202"));
    ck_assert_str_eq(upn(p), "grace@navy.example");
    ck_ok(idm_identity_set_upn(p, ACTOR, NULL));
    ck_assert_str_eq(upn(p), "E202@corp.example");
    ck_ok(idm_identity_set_attribute(p, ACTOR, "employeeNumber", NULL));
    ck_assert_ptr_null(upn(p));
    idm_identity_free(&p);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_terminated_identity_refuses_changes_and_new_cards)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_identity_t *p = fixture_person(ctx, "E300", "Alan", "Turing");
    idm_card_t *card = NULL;
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL,
                       identity_id(p), NULL, &card));
    idm_card_free(&card);
    ck_ok(idm_identity_set_state(p, ACTOR, IDM_IDENTITY_TERMINATED));

    ck_assert_idm_error(idm_identity_set_attribute(p, ACTOR, "surname", "Other"), IDM_ERR_STATE,
                        "terminated");
    ck_assert_idm_error(idm_identity_set_attribute(p, ACTOR, "surname", NULL), IDM_ERR_STATE,
                        "terminated");
    ck_assert_idm_error(idm_identity_set_common_name(p, ACTOR, "Someone"), IDM_ERR_STATE,
                        "terminated");
    ck_assert_idm_error(idm_identity_set_upn(p, ACTOR, "x@example.org"), IDM_ERR_STATE,
                        "terminated");
    ck_assert_idm_error(idm_card_new(ctx, ACTOR, IDM_CARD_CONTRACTOR, IDM_CARD_DIGITAL,
                                     IDM_PRODUCTION_EXTERNAL, identity_id(p), NULL, &card),
                        IDM_ERR_STATE, "terminated");
    ck_assert_ptr_null(card);
    ck_ok(idm_identity_refresh(p));
    ck_assert_str_eq(attr(p, "surname"), "Turing");
    ck_assert_str_eq(common_name(p), "Alan Turing");

    /* Only the first card exists. */
    idm_card_iter_t *it = NULL;
    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_set_identity(it, identity_id(p)));
    size_t n = 0;
    for (;;) {
        ck_ok(idm_card_iter_next(it, &card));
        if (card == NULL)
            break;
        n++;
        idm_card_free(&card);
    }
    ck_assert_uint_eq(n, 1);
    idm_card_iter_free(&it);
    idm_identity_free(&p);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_identity_found_by_unique_external_id)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_identity_t *p = NULL, *found = NULL, *dup = NULL, *anon = NULL;
    ck_ok(idm_identity_new(ctx, ACTOR, "HR-0042", &p));
    ck_ok(idm_identity_open_external(ctx, "HR-0042", &found));
    ck_assert_int_eq(identity_id(found), identity_id(p));
    const char *ext = NULL;
    ck_ok(idm_identity_get_external_id(found, &ext));
    ck_assert_str_eq(ext, "HR-0042");

    ck_assert_idm_error(idm_identity_new(ctx, ACTOR, "HR-0042", &dup), IDM_ERR_EXISTS, "HR-0042");
    ck_assert_ptr_null(dup);
    ck_assert_idm_error(idm_identity_open_external(ctx, "HR-9999", &dup), IDM_ERR_NOT_FOUND, "");
    ck_assert_ptr_null(dup);
    ck_assert_idm_error(idm_identity_open(ctx, identity_id(p) + 100, &dup), IDM_ERR_NOT_FOUND, "");

    /* Identities without an external id do not collide with each other. */
    ck_ok(idm_identity_new(ctx, ACTOR, NULL, &anon));
    ck_ok(idm_identity_get_external_id(anon, &ext));
    ck_assert_ptr_null(ext);
    idm_identity_free(&anon);
    ck_ok(idm_identity_new(ctx, ACTOR, NULL, &anon));

    /* The state filter of the iterator. */
    ck_ok(idm_identity_set_state(p, ACTOR, IDM_IDENTITY_ACTIVE));
    idm_identity_iter_t *it = NULL;
    ck_ok(idm_identity_iter_new(ctx, &it));
    ck_ok(idm_identity_iter_set_state(it, IDM_IDENTITY_ACTIVE));
    idm_identity_t *next = NULL;
    ck_ok(idm_identity_iter_next(it, &next));
    ck_assert_ptr_nonnull(next);
    ck_assert_int_eq(identity_id(next), identity_id(p));
    idm_identity_free(&next);
    ck_ok(idm_identity_iter_next(it, &next));
    ck_assert_ptr_null(next);
    ck_assert_idm_error(idm_identity_iter_set_state(it, IDM_IDENTITY_REGISTERED), IDM_ERR_STATE,
                        "");
    idm_identity_iter_free(&it);

    idm_identity_free(&anon);
    idm_identity_free(&found);
    idm_identity_free(&p);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_audit_records_attribute_keys_never_values)
{
    static const char *const secrets[] = {"Zyx-given-Qwv", "Zyx-surname-Qwv",
                                          "Zyx-phone-Qwv", "Zyx-cn-Qwv", "Zyx-upn-Qwv"};
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_new(ctx, ACTOR, NULL, &p));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "givenName", secrets[0]));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "surname", secrets[1]));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "telephoneNumber", secrets[2]));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "telephoneNumber", NULL));
    ck_ok(idm_identity_set_common_name(p, ACTOR, secrets[3]));
    ck_ok(idm_identity_set_upn(p, ACTOR, secrets[4]));

    int saw_given = 0, saw_surname = 0, saw_phone = 0;
    size_t n = 0;
    idm_audit_iter_t *it = NULL;
    ck_ok(idm_audit_iter_new(ctx, &it));
    for (;;) {
        idm_audit_event_t *e = NULL;
        ck_ok(idm_audit_iter_next(it, &e));
        if (e == NULL)
            break;
        const char *detail = NULL, *actor = NULL, *from = NULL, *to = NULL;
        ck_ok(idm_audit_event_get_detail(e, &detail));
        ck_ok(idm_audit_event_get_actor(e, &actor));
        ck_ok(idm_audit_event_get_states(e, &from, &to));
        for (size_t i = 0; i < N(secrets); i++) {
            ck_assert_msg(!contains(detail, secrets[i]) && !contains(actor, secrets[i]) &&
                              !contains(from, secrets[i]) && !contains(to, secrets[i]),
                          "audit event \"%s\" holds the value %s", detail, secrets[i]);
        }
        ck_assert_msg(!contains(detail, "Zyx"), "audit event \"%s\" holds a value", detail);
        saw_given |= contains(detail, "givenName");
        saw_surname |= contains(detail, "surname");
        saw_phone += contains(detail, "telephoneNumber");
        n++;
        idm_audit_event_free(&e);
    }
    idm_audit_iter_free(&it);
    ck_assert_uint_eq(n, 7); /* creation and six changes */
    ck_assert(saw_given);
    ck_assert(saw_surname);
    ck_assert_int_eq(saw_phone, 2); /* set, then removed */
    idm_identity_free(&p);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- 5. cards ---------------------------------------------------------- */

START_TEST(test_card_creation_rules_name_the_argument)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    int64_t h = holder(ctx);
    idm_card_t *card = NULL;
    struct {
        idm_card_type type;
        idm_production production;
        int64_t identity;
        const char *name;
        int code;
        const char *needle;
    } const refused[] = {
        {IDM_CARD_EMPLOYEE, IDM_PRODUCTION_LOCAL, 0, NULL, IDM_ERR_INVALID_ARG, "identity_id"},
        {IDM_CARD_VISITOR, IDM_PRODUCTION_LOCAL, -5, NULL, IDM_ERR_INVALID_ARG, "identity_id"},
        {IDM_CARD_CONTRACTOR, IDM_PRODUCTION_LOCAL, h, "Room 1", IDM_ERR_INVALID_ARG, "name"},
        {IDM_CARD_NON_PERSONAL, IDM_PRODUCTION_LOCAL, h, "Room 1", IDM_ERR_INVALID_ARG,
         "identity_id"},
        {IDM_CARD_VISITOR_NON_PERSONAL, IDM_PRODUCTION_LOCAL, 0, NULL, IDM_ERR_INVALID_ARG,
         "name"},
        {IDM_CARD_NON_PERSONAL, IDM_PRODUCTION_EXTERNAL, 0, "", IDM_ERR_INVALID_ARG, "name"},
        {IDM_CARD_NON_PERSONAL, IDM_PRODUCTION_LOCAL, 0, "bad\xff", IDM_ERR_INVALID_ARG, "name"},
        {IDM_CARD_TEMPORARY, IDM_PRODUCTION_LOCAL, 0, "Desk", IDM_ERR_INVALID_ARG, "production"},
        {IDM_CARD_TEMPORARY, IDM_PRODUCTION_EXTERNAL, h, NULL, IDM_ERR_INVALID_ARG,
         "identity_id"},
        {(idm_card_type)6, IDM_PRODUCTION_LOCAL, 0, "X", IDM_ERR_INVALID_ARG, "type"},
        {IDM_CARD_NON_PERSONAL, (idm_production)2, 0, "X", IDM_ERR_INVALID_ARG, "production"},
        {IDM_CARD_EMPLOYEE, IDM_PRODUCTION_LOCAL, h + 1000, NULL, IDM_ERR_NOT_FOUND, ""},
    };
    for (size_t i = 0; i < N(refused); i++) {
        int rc = idm_card_new(ctx, ACTOR, refused[i].type, IDM_CARD_PHYSICAL,
                              refused[i].production, refused[i].identity, refused[i].name,
                              &card);
        ck_assert_msg(rc == refused[i].code, "case %zu: expected %s, got %s: %s", i,
                      idm_strerror_name(refused[i].code), idm_strerror_name(rc),
                      idm_last_error_message());
        ck_assert_msg(contains(idm_last_error_message(), refused[i].needle),
                      "case %zu: \"%s\" does not name '%s'", i, idm_last_error_message(),
                      refused[i].needle);
        ck_assert_ptr_null(card);
    }
    ck_assert_idm_error(idm_card_new(ctx, ACTOR, IDM_CARD_NON_PERSONAL, (idm_card_option)2,
                                     IDM_PRODUCTION_LOCAL, 0, "X", &card),
                        IDM_ERR_INVALID_ARG, "option");

    /* What the accepted ones look like. */
    idm_card_type type;
    idm_card_option option;
    idm_production production;
    int64_t who = -1, order = -1;
    const char *name = NULL, *serial = NULL;
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_VISITOR, IDM_CARD_DIGITAL, IDM_PRODUCTION_EXTERNAL, h,
                       NULL, &card));
    ck_ok(idm_card_get_type(card, &type));
    ck_ok(idm_card_get_option(card, &option));
    ck_ok(idm_card_get_production(card, &production));
    ck_ok(idm_card_get_identity_id(card, &who));
    ck_ok(idm_card_get_name(card, &name));
    ck_ok(idm_card_get_chip_serial(card, &serial));
    ck_ok(idm_card_get_order_id(card, &order));
    ck_assert_int_eq(type, IDM_CARD_VISITOR);
    ck_assert_int_eq(option, IDM_CARD_DIGITAL);
    ck_assert_int_eq(production, IDM_PRODUCTION_EXTERNAL);
    ck_assert_int_eq(who, h);
    ck_assert_ptr_null(name);
    ck_assert_ptr_null(serial);
    ck_assert_int_eq(order, 0);
    ck_assert_int_eq(card_state(card), IDM_CARD_REGISTERED);
    idm_card_free(&card);

    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_VISITOR_NON_PERSONAL, IDM_CARD_PHYSICAL,
                       IDM_PRODUCTION_LOCAL, 0, "Reception", &card));
    ck_ok(idm_card_get_name(card, &name));
    ck_assert_str_eq(name, "Reception");
    ck_ok(idm_card_get_identity_id(card, &who));
    ck_assert_int_eq(who, 0);
    idm_card_free(&card);

    card = new_temporary_card(ctx);
    ck_assert_int_eq(card_state(card), IDM_CARD_REQUESTED);
    ck_ok(idm_card_get_production(card, &production));
    ck_assert_int_eq(production, IDM_PRODUCTION_EXTERNAL);
    idm_card_free(&card);

    /* The refused calls created nothing. */
    idm_card_iter_t *it = NULL;
    size_t n = 0;
    ck_ok(idm_card_iter_new(ctx, &it));
    for (;;) {
        ck_ok(idm_card_iter_next(it, &card));
        if (card == NULL)
            break;
        n++;
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);
    ck_assert_uint_eq(n, 3);
    idm_ctx_free(&ctx);
}
END_TEST

static void expect_card_number(idm_ctx_t *ctx, const char *expected, int64_t *id)
{
    idm_card_t *card = NULL;
    const char *number = NULL;
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL,
                       0, "Server room", &card));
    ck_ok(idm_card_get_number(card, &number));
    ck_assert_str_eq(number, expected);
    if (id != NULL)
        *id = card_id(card);
    idm_card_free(&card);
}

START_TEST(test_card_numbers_follow_card_number_format)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    int64_t first = 0, second = 0;
    expect_card_number(ctx, "00000001", &first);
    ck_ok(idm_options_set_string(ctx, "admin", "card_number_format", "EMP-{seq:6}"));
    expect_card_number(ctx, "EMP-000002", &second);
    expect_card_number(ctx, "EMP-000003", NULL);

    idm_card_t *card = NULL;
    ck_ok(idm_card_open_number(ctx, "EMP-000002", &card));
    ck_assert_int_eq(card_id(card), second);
    idm_card_free(&card);
    ck_ok(idm_card_open_number(ctx, "00000001", &card));
    ck_assert_int_eq(card_id(card), first);
    idm_card_free(&card);
    ck_assert_idm_error(idm_card_open_number(ctx, "EMP-000099", &card), IDM_ERR_NOT_FOUND, "");
    ck_assert_ptr_null(card);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_card_number_skips_numbers_taken_under_an_earlier_format)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    ck_ok(idm_options_set_string(ctx, "admin", "card_number_format", "{seq:1}0"));
    expect_card_number(ctx, "10", NULL);
    ck_ok(idm_options_set_string(ctx, "admin", "card_number_format", "{seq:2}"));
    char expected[8];
    for (int seq = 2; seq <= 9; seq++) {
        snprintf(expected, sizeof expected, "%02d", seq);
        expect_card_number(ctx, expected, NULL);
    }
    /* Sequence 10 would give "10", which the first card holds. */
    expect_card_number(ctx, "11", NULL);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_chip_serial_recorded_once_and_unique)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_card_t *a = new_employee_card(ctx, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL);
    idm_card_t *b = new_employee_card(ctx, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL);
    const char *serial = NULL, *number = NULL;
    char number_a[64];
    ck_ok(idm_card_get_number(a, &number));
    snprintf(number_a, sizeof number_a, "%s", number); /* the handle reloads on change */

    ck_ok(idm_card_set_chip_serial(a, ACTOR, "04A1B2C3D4"));
    ck_ok(idm_card_get_chip_serial(a, &serial));
    ck_assert_str_eq(serial, "04A1B2C3D4");
    ck_ok(idm_card_set_chip_serial(a, ACTOR, "04A1B2C3D4")); /* the same again */
    ck_assert_idm_error(idm_card_set_chip_serial(a, ACTOR, "FFEEDD"), IDM_ERR_STATE, number_a);
    ck_assert_msg(contains(idm_last_error_message(), "04A1B2C3D4"), "%s",
                  idm_last_error_message());
    ck_assert_idm_error(idm_card_set_chip_serial(b, ACTOR, "04A1B2C3D4"), IDM_ERR_EXISTS,
                        "04A1B2C3D4");
    ck_assert_idm_error(idm_card_set_chip_serial(b, ACTOR, "has space"), IDM_ERR_INVALID_ARG,
                        "serial");
    ck_assert_idm_error(idm_card_set_chip_serial(b, ACTOR, ""), IDM_ERR_INVALID_ARG, "serial");

    idm_card_t *again = NULL;
    ck_ok(idm_card_open(ctx, card_id(a), &again));
    ck_ok(idm_card_get_chip_serial(again, &serial));
    ck_assert_str_eq(serial, "04A1B2C3D4");
    idm_card_free(&again);
    ck_ok(idm_card_refresh(b));
    ck_ok(idm_card_get_chip_serial(b, &serial));
    ck_assert_ptr_null(serial);

    /* Recorded once: creation plus one event. */
    struct audit_summary s;
    audit_summary(ctx, IDM_OBJECT_CARD, card_id(a), &s);
    ck_assert_uint_eq(s.count, 2);
    ck_assert_msg(contains(s.detail, "04A1B2C3D4"), "%s", s.detail);
    idm_card_free(&b);
    idm_card_free(&a);
    idm_ctx_free(&ctx);
}
END_TEST

/* The ids of the cards an iterator yields, in order; frees the iterator. */
static size_t collect_cards(idm_card_iter_t *it, int64_t *ids, size_t max)
{
    size_t n = 0;
    for (;;) {
        idm_card_t *card = NULL;
        ck_ok(idm_card_iter_next(it, &card));
        if (card == NULL)
            break;
        ck_assert_uint_lt(n, max);
        ids[n++] = card_id(card);
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);
    return n;
}

START_TEST(test_card_iterators_filter_by_state_type_order_and_identity)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_identity_t *p1 = fixture_person(ctx, "P1", "Ada", "Lovelace");
    idm_identity_t *p2 = fixture_person(ctx, "P2", "Grace", "Hopper");
    idm_card_t *c[4] = {NULL};
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL,
                       identity_id(p1), NULL, &c[0]));
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_CONTRACTOR, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL,
                       identity_id(p1), NULL, &c[1]));
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL,
                       identity_id(p2), NULL, &c[2]));
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL,
                       IDM_PRODUCTION_LOCAL, 0, "Lab", &c[3]));
    ck_ok(idm_card_set_state(c[0], ACTOR, IDM_CARD_REQUESTED, NULL));
    ck_ok(idm_card_set_state(c[3], ACTOR, IDM_CARD_REQUESTED, NULL));
    idm_order_t *o = NULL;
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_PHYSICAL, NULL, &o));
    ck_ok(idm_order_add_card(o, ACTOR, card_id(c[0])));
    ck_ok(idm_order_add_card(o, ACTOR, card_id(c[2])));

    int64_t ids[8];
    idm_card_iter_t *it = NULL;

    ck_ok(idm_card_iter_new(ctx, &it));
    ck_assert_uint_eq(collect_cards(it, ids, N(ids)), 4);

    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_set_state(it, IDM_CARD_REQUESTED));
    ck_assert_uint_eq(collect_cards(it, ids, N(ids)), 2);
    ck_assert_int_eq(ids[0], card_id(c[0]));
    ck_assert_int_eq(ids[1], card_id(c[3]));

    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_set_type(it, IDM_CARD_EMPLOYEE));
    ck_assert_uint_eq(collect_cards(it, ids, N(ids)), 2);
    ck_assert_int_eq(ids[0], card_id(c[0]));
    ck_assert_int_eq(ids[1], card_id(c[2]));

    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_set_order(it, order_id(o)));
    ck_assert_uint_eq(collect_cards(it, ids, N(ids)), 2);
    ck_assert_int_eq(ids[0], card_id(c[0]));
    ck_assert_int_eq(ids[1], card_id(c[2]));

    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_set_identity(it, identity_id(p1)));
    ck_assert_uint_eq(collect_cards(it, ids, N(ids)), 2);
    ck_assert_int_eq(ids[0], card_id(c[0]));
    ck_assert_int_eq(ids[1], card_id(c[1]));

    /* Filters combine. */
    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_set_identity(it, identity_id(p2)));
    ck_ok(idm_card_iter_set_type(it, IDM_CARD_EMPLOYEE));
    ck_assert_uint_eq(collect_cards(it, ids, N(ids)), 1);
    ck_assert_int_eq(ids[0], card_id(c[2]));

    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_set_state(it, IDM_CARD_REQUESTED));
    ck_ok(idm_card_iter_set_type(it, IDM_CARD_CONTRACTOR));
    ck_assert_uint_eq(collect_cards(it, ids, N(ids)), 0);

    /* Filters are set before the iteration starts. */
    idm_card_t *first = NULL;
    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_next(it, &first));
    ck_assert_idm_error(idm_card_iter_set_state(it, IDM_CARD_ACTIVE), IDM_ERR_STATE, "");
    idm_card_free(&first);
    idm_card_iter_free(&it);

    idm_order_free(&o);
    for (size_t i = 0; i < N(c); i++)
        idm_card_free(&c[i]);
    idm_identity_free(&p2);
    idm_identity_free(&p1);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_process_name_for_every_type_and_option)
{
    static const struct {
        idm_card_type type;
        idm_card_option option;
        const char *name;
    } names[] = {
        {IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, "CCProcMassProductionEmployeeCard"},
        {IDM_CARD_CONTRACTOR, IDM_CARD_PHYSICAL, "CCProcMassProductionContractorCard"},
        {IDM_CARD_VISITOR, IDM_CARD_PHYSICAL, "CCProcMassProductionVisitorCard"},
        {IDM_CARD_VISITOR_NON_PERSONAL, IDM_CARD_PHYSICAL,
         "CCProcMassProductionVisitorNonPersonalCard"},
        {IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL, "CCProcMassProductionNonPersonalCard"},
        {IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, "PcmProcMassProductionEmployeeCard"},
        {IDM_CARD_CONTRACTOR, IDM_CARD_DIGITAL, "PcmProcMassProductionContractorCard"},
        {IDM_CARD_VISITOR, IDM_CARD_DIGITAL, "PcmProcMassProductionVisitorCard"},
        {IDM_CARD_VISITOR_NON_PERSONAL, IDM_CARD_DIGITAL,
         "PcmProcMassProductionVisitorNonPersonalCard"},
        {IDM_CARD_NON_PERSONAL, IDM_CARD_DIGITAL, "PcmProcMassProductionNonPersonalCard"},
    };
    for (size_t i = 0; i < N(names); i++) {
        const char *name = NULL;
        ck_ok(idm_process_name(names[i].type, names[i].option, &name));
        ck_assert_str_eq(name, names[i].name);
    }
    const char *name = NULL;
    ck_assert_idm_error(idm_process_name(IDM_CARD_TEMPORARY, IDM_CARD_DIGITAL, &name),
                        IDM_ERR_INVALID_ARG, "type");
    ck_assert_idm_error(idm_process_name(IDM_CARD_EMPLOYEE, (idm_card_option)2, &name),
                        IDM_ERR_INVALID_ARG, "option");
    ck_assert_idm_error(idm_process_name((idm_card_type)-1, IDM_CARD_DIGITAL, &name),
                        IDM_ERR_INVALID_ARG, "type");
}
END_TEST

/* ---- 6. options ---------------------------------------------------------- */

static int64_t option_version(idm_ctx_t *ctx)
{
    int64_t v = -1;
    ck_ok(idm_options_get_version(ctx, &v));
    return v;
}

static int get_bool(idm_ctx_t *ctx, const char *key)
{
    int v = -1;
    ck_ok(idm_options_get_bool(ctx, key, &v));
    return v;
}

static int64_t get_int(idm_ctx_t *ctx, const char *key)
{
    int64_t v = -1;
    ck_ok(idm_options_get_int(ctx, key, &v));
    return v;
}

static void expect_string(idm_ctx_t *ctx, const char *key, const char *expected)
{
    const char *v = NULL;
    ck_ok(idm_options_get_string(ctx, key, &v));
    ck_assert_msg(v != NULL && strcmp(v, expected) == 0, "option %s is '%s', expected '%s'", key,
                  or_null(v), expected);
}

START_TEST(test_options_start_with_nexus_defaults)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    ck_assert_int_eq(option_version(ctx), 0);
    ck_assert_int_eq(get_bool(ctx, "request_approval"), 1);
    ck_assert_int_eq(get_bool(ctx, "batch_request_approval"), 0);
    ck_assert_int_eq(get_bool(ctx, "external_production_enabled"), 0);
    ck_assert_int_eq(get_bool(ctx, "queue_orders"), 0);
    ck_assert_int_eq(get_int(ctx, "pin_length"), 6);
    ck_assert_int_eq(get_int(ctx, "temporary_cards_per_order"), 1);
    expect_string(ctx, "pin_delivery", "none");
    expect_string(ctx, "pin_source", "user");
    expect_string(ctx, "expiry_mail_days", "60,30,14,7");
    expect_string(ctx, "common_name_template", "${givenName} ${surname}");
    expect_string(ctx, "upn_template", "");
    expect_string(ctx, "card_number_format", "{seq:8}");
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_options_enumerated_with_their_types)
{
    static const struct {
        const char *key;
        idm_option_type type;
    } documented[] = {
        {"request_approval", IDM_OPTION_BOOL},
        {"batch_request_approval", IDM_OPTION_BOOL},
        {"external_production_enabled", IDM_OPTION_BOOL},
        {"external_approval_step", IDM_OPTION_BOOL},
        {"production_type_selectable", IDM_OPTION_BOOL},
        {"queue_orders", IDM_OPTION_BOOL},
        {"allow_multiple_orders", IDM_OPTION_BOOL},
        {"allow_multiple_active_cards", IDM_OPTION_BOOL},
        {"send_card_ordered_email", IDM_OPTION_BOOL},
        {"pin_length", IDM_OPTION_INT},
        {"temporary_cards_per_order", IDM_OPTION_INT},
        {"pin_source", IDM_OPTION_STRING},
        {"pin_delivery", IDM_OPTION_STRING},
        {"expiry_mail_days", IDM_OPTION_STRING},
        {"common_name_template", IDM_OPTION_STRING},
        {"upn_template", IDM_OPTION_STRING},
        {"card_number_format", IDM_OPTION_STRING},
    };
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    size_t count = 0;
    ck_ok(idm_option_count(&count));
    ck_assert_uint_ge(count, N(documented));
    int seen[N(documented)] = {0};
    for (size_t i = 0; i < count; i++) {
        const char *key = NULL;
        idm_option_type type = (idm_option_type)-1;
        ck_ok(idm_option_key_at(i, &key, &type));
        ck_assert_ptr_nonnull(key);
        /* Each key reads back through the getter of its type. */
        int b;
        int64_t v;
        const char *s;
        if (type == IDM_OPTION_BOOL)
            ck_ok(idm_options_get_bool(ctx, key, &b));
        else if (type == IDM_OPTION_INT)
            ck_ok(idm_options_get_int(ctx, key, &v));
        else
            ck_ok(idm_options_get_string(ctx, key, &s));
        for (size_t d = 0; d < N(documented); d++) {
            if (strcmp(documented[d].key, key) == 0) {
                ck_assert_msg(type == documented[d].type, "option %s has type %d", key,
                              (int)type);
                seen[d]++;
            }
        }
    }
    for (size_t d = 0; d < N(documented); d++)
        ck_assert_msg(seen[d] == 1, "option %s listed %d times", documented[d].key, seen[d]);
    ck_assert_idm_error(idm_option_key_at(count, NULL, NULL), IDM_ERR_INVALID_ARG, "index");
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_invalid_option_values_refused_naming_the_key)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    ck_assert_idm_error(idm_options_set_int(ctx, "admin", "pin_length", 5), IDM_ERR_INVALID_ARG,
                        "pin_length");
    ck_assert_idm_error(idm_options_set_int(ctx, "admin", "temporary_cards_per_order", 10),
                        IDM_ERR_INVALID_ARG, "temporary_cards_per_order");
    ck_assert_idm_error(idm_options_set_int(ctx, "admin", "temporary_cards_per_order", 0),
                        IDM_ERR_INVALID_ARG, "temporary_cards_per_order");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "pin_delivery", "fax"),
                        IDM_ERR_INVALID_ARG, "pin_delivery");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "pin_source", "random"),
                        IDM_ERR_INVALID_ARG, "pin_source");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "expiry_mail_days", "7,14"),
                        IDM_ERR_INVALID_ARG, "expiry_mail_days");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "expiry_mail_days", "30,,7"),
                        IDM_ERR_INVALID_ARG, "expiry_mail_days");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "expiry_mail_days", "30,x"),
                        IDM_ERR_INVALID_ARG, "expiry_mail_days");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "expiry_mail_days", "+30,7"),
                        IDM_ERR_INVALID_ARG, "expiry_mail_days");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "common_name_template", "${bad"),
                        IDM_ERR_INVALID_ARG, "common_name_template");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "upn_template", "${1x}@corp"),
                        IDM_ERR_INVALID_ARG, "upn_template");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "card_number_format", "EMP-"),
                        IDM_ERR_INVALID_ARG, "card_number_format");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "card_number_format", "{seq}{seq}"),
                        IDM_ERR_INVALID_ARG, "card_number_format");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "card_number_format", "A {seq}"),
                        IDM_ERR_INVALID_ARG, "card_number_format");
    ck_assert_idm_error(idm_options_set_bool(ctx, "admin", "request_approval", 2),
                        IDM_ERR_INVALID_ARG, "request_approval");
    ck_assert_idm_error(idm_options_set_bool(ctx, "admin", "no_such_option", 1),
                        IDM_ERR_INVALID_ARG, "no_such_option");
    ck_assert_idm_error(idm_options_reset(ctx, "admin", "no_such_option"), IDM_ERR_INVALID_ARG,
                        "no_such_option");
    /* Nothing changed. */
    ck_assert_int_eq(option_version(ctx), 0);
    ck_assert_int_eq(get_int(ctx, "pin_length"), 6);
    expect_string(ctx, "expiry_mail_days", "60,30,14,7");
    expect_string(ctx, "card_number_format", "{seq:8}");
    struct audit_summary a;
    audit_summary(ctx, IDM_OBJECT_OPTION, 0, &a);
    ck_assert_uint_eq(a.count, 0);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_expiry_mail_days_refuses_blanks_and_signs)
{
    /* Entries are digits separated by single commas ("+30" is refused already). */
    static const char *const lists[] = {"60, 30", " 30,7", " +30,7", "60,\t30"};
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    struct faults f = {0};
    for (size_t i = 0; i < N(lists); i++) {
        int rc = idm_options_set_string(ctx, "admin", "expiry_mail_days", lists[i]);
        if (rc != IDM_ERR_INVALID_ARG)
            fault(&f, "expiry_mail_days '%s' gave %s", lists[i], idm_strerror_name(rc));
        else if (!contains(idm_last_error_message(), "expiry_mail_days"))
            fault(&f, "refusal of '%s' does not name the key: %s", lists[i],
                  idm_last_error_message());
    }
    idm_ctx_free(&ctx);
    ck_assert_no_faults(&f);
}
END_TEST

START_TEST(test_option_of_another_type_refused)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    int64_t v = 0;
    int b = 0;
    const char *s = NULL;
    ck_assert_idm_error(idm_options_get_int(ctx, "request_approval", &v), IDM_ERR_INVALID_ARG,
                        "request_approval");
    ck_assert_idm_error(idm_options_get_bool(ctx, "pin_length", &b), IDM_ERR_INVALID_ARG,
                        "pin_length");
    ck_assert_idm_error(idm_options_get_string(ctx, "pin_length", &s), IDM_ERR_INVALID_ARG,
                        "pin_length");
    ck_assert_idm_error(idm_options_get_bool(ctx, "no_such_option", &b), IDM_ERR_INVALID_ARG,
                        "no_such_option");
    ck_assert_idm_error(idm_options_set_int(ctx, "admin", "pin_delivery", 4), IDM_ERR_INVALID_ARG,
                        "pin_delivery");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "pin_length", "4"),
                        IDM_ERR_INVALID_ARG, "pin_length");
    ck_assert_idm_error(idm_options_set_bool(ctx, "admin", "pin_length", 1), IDM_ERR_INVALID_ARG,
                        "pin_length");
    ck_assert_int_eq(option_version(ctx), 0);
    ck_assert_int_eq(get_int(ctx, "pin_length"), 6);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_card_key_slots_are_checked)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    ck_assert_int_eq(idm_options_set_string(ctx, "admin", "card_key_slots", "9a,9E"), IDM_OK);
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "card_key_slots", "9A,9B"),
                        IDM_ERR_INVALID_ARG, "'9B' is not a PIV key slot");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "card_key_slots", "9C,9c"),
                        IDM_ERR_INVALID_ARG, "slot 9C is listed twice");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "card_key_slots", ""),
                        IDM_ERR_INVALID_ARG, "is not a PIV key slot");
    ck_assert_idm_error(idm_options_set_string(ctx, "admin", "card_key_algorithm", "p384"),
                        IDM_ERR_INVALID_ARG, "card_key_algorithm");
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_option_changes_raise_version_persist_and_reset)
{
    char path[4096];
    store_path(path, sizeof path, "options");
    idm_ctx_t *ctx = fixture_ctx(path);
    ck_ok(idm_options_set_int(ctx, "admin:alice", "pin_length", 4));
    ck_assert_int_eq(option_version(ctx), 1);
    ck_ok(idm_options_set_string(ctx, "admin:alice", "pin_delivery", "email"));
    ck_assert_int_eq(option_version(ctx), 2);
    ck_ok(idm_options_set_bool(ctx, "admin:alice", "request_approval", 0));
    ck_assert_int_eq(option_version(ctx), 3);
    ck_ok(idm_options_set_string(ctx, "admin:alice", "expiry_mail_days", "30,7,1"));
    ck_assert_int_eq(option_version(ctx), 4);
    idm_ctx_free(&ctx);

    ctx = fixture_ctx(path);
    ck_assert_int_eq(option_version(ctx), 4);
    ck_assert_int_eq(get_int(ctx, "pin_length"), 4);
    expect_string(ctx, "pin_delivery", "email");
    ck_assert_int_eq(get_bool(ctx, "request_approval"), 0);
    expect_string(ctx, "expiry_mail_days", "30,7,1");
    ck_ok(idm_options_reset(ctx, "admin:bob", "pin_length"));
    ck_assert_int_eq(option_version(ctx), 5);
    ck_assert_int_eq(get_int(ctx, "pin_length"), 6);
    ck_ok(idm_options_reset(ctx, "admin:bob", "pin_delivery"));
    ck_assert_int_eq(option_version(ctx), 6);
    idm_ctx_free(&ctx);

    ctx = fixture_ctx(path);
    ck_assert_int_eq(option_version(ctx), 6);
    ck_assert_int_eq(get_int(ctx, "pin_length"), 6);
    expect_string(ctx, "pin_delivery", "none");
    ck_assert_int_eq(get_bool(ctx, "request_approval"), 0);
    /* One audit event per change, naming the key. */
    struct audit_summary a;
    audit_summary(ctx, IDM_OBJECT_OPTION, 0, &a);
    ck_assert_uint_eq(a.count, 6);
    ck_assert_str_eq(a.actor, "admin:bob");
    ck_assert_msg(contains(a.detail, "pin_delivery"), "%s", a.detail);
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
}
END_TEST

static void expect_order_options(idm_order_t *o, int64_t version, int64_t pin_length,
                                 const char *delivery, int approval, const char *days)
{
    int64_t v = -1, n = -1;
    int b = -1;
    const char *s = NULL;
    ck_ok(idm_order_get_options_version(o, &v));
    ck_assert_int_eq(v, version);
    ck_ok(idm_order_get_option_int(o, "pin_length", &n));
    ck_assert_int_eq(n, pin_length);
    ck_ok(idm_order_get_option_string(o, "pin_delivery", &s));
    ck_assert_str_eq(s, delivery);
    ck_ok(idm_order_get_option_bool(o, "request_approval", &b));
    ck_assert_int_eq(b, approval);
    ck_ok(idm_order_get_option_string(o, "expiry_mail_days", &s));
    ck_assert_str_eq(s, days);
}

START_TEST(test_order_keeps_its_snapshot_of_the_options)
{
    char path[4096];
    store_path(path, sizeof path, "snapshot");
    idm_ctx_t *ctx = fixture_ctx(path);
    ck_ok(idm_options_set_int(ctx, "admin", "pin_length", 4));
    idm_order_t *old = NULL, *young = NULL;
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_EXTERNAL, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                        "PO-OLD", &old));
    expect_order_options(old, 1, 4, "none", 1, "60,30,14,7");

    ck_ok(idm_options_set_int(ctx, "admin", "pin_length", 6));
    ck_ok(idm_options_set_string(ctx, "admin", "pin_delivery", "print"));
    ck_ok(idm_options_set_bool(ctx, "admin", "request_approval", 0));
    ck_ok(idm_options_set_string(ctx, "admin", "expiry_mail_days", "30,7"));
    expect_order_options(old, 1, 4, "none", 1, "60,30,14,7");
    ck_ok(idm_order_refresh(old));
    expect_order_options(old, 1, 4, "none", 1, "60,30,14,7");
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_EXTERNAL, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                        "PO-YOUNG", &young));
    expect_order_options(young, 5, 6, "print", 0, "30,7");

    /* The snapshot answers only its own types and keys. */
    int64_t n = 0;
    ck_assert_idm_error(idm_order_get_option_int(old, "request_approval", &n),
                        IDM_ERR_INVALID_ARG, "request_approval");
    ck_assert_idm_error(idm_order_get_option_int(old, "no_such_option", &n),
                        IDM_ERR_INVALID_ARG, "no_such_option");
    idm_order_free(&old);
    idm_order_free(&young);
    idm_ctx_free(&ctx);

    ctx = fixture_ctx(path);
    ck_ok(idm_options_reset(ctx, "admin", "pin_delivery"));
    ck_ok(idm_order_open_external(ctx, "PO-OLD", &old));
    expect_order_options(old, 1, 4, "none", 1, "60,30,14,7");
    ck_ok(idm_order_open_external(ctx, "PO-YOUNG", &young));
    expect_order_options(young, 5, 6, "print", 0, "30,7");
    idm_order_free(&old);
    idm_order_free(&young);
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
}
END_TEST

/* ---- 7. orders ------------------------------------------------------------ */

START_TEST(test_order_created_with_external_id_and_found_again)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_order_t *o = NULL, *found = NULL, *dup = NULL;
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_CONTRACTOR,
                        IDM_CARD_DIGITAL, "PO-1", &o));
    idm_order_kind kind;
    idm_order_state state;
    idm_card_type type;
    idm_card_option option;
    const char *ext = NULL;
    ck_ok(idm_order_get_kind(o, &kind));
    ck_ok(idm_order_get_state(o, &state));
    ck_ok(idm_order_get_card_kind(o, &type, &option));
    ck_ok(idm_order_get_external_id(o, &ext));
    ck_assert_int_eq(kind, IDM_ORDER_MASS_PRODUCTION);
    ck_assert_int_eq(state, IDM_ORDER_OPEN);
    ck_assert_int_eq(type, IDM_CARD_CONTRACTOR);
    ck_assert_int_eq(option, IDM_CARD_DIGITAL);
    ck_assert_str_eq(ext, "PO-1");

    ck_ok(idm_order_open(ctx, order_id(o), &found));
    ck_assert_int_eq(order_id(found), order_id(o));
    idm_order_free(&found);
    ck_ok(idm_order_open_external(ctx, "PO-1", &found));
    ck_assert_int_eq(order_id(found), order_id(o));
    idm_order_free(&found);
    ck_assert_idm_error(idm_order_open_external(ctx, "PO-404", &found), IDM_ERR_NOT_FOUND, "");
    ck_assert_idm_error(idm_order_open(ctx, order_id(o) + 50, &found), IDM_ERR_NOT_FOUND, "");
    ck_assert_ptr_null(found);

    ck_assert_idm_error(idm_order_new(ctx, ACTOR, IDM_ORDER_EXTERNAL, IDM_CARD_EMPLOYEE,
                                      IDM_CARD_PHYSICAL, "PO-1", &dup),
                        IDM_ERR_EXISTS, "PO-1");
    ck_assert_ptr_null(dup);
    ck_assert_idm_error(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_TEMPORARY,
                                      IDM_CARD_DIGITAL, "PO-2", &dup),
                        IDM_ERR_INVALID_ARG, "temporary");
    ck_assert_ptr_null(dup);
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_EXTERNAL, IDM_CARD_TEMPORARY, IDM_CARD_DIGITAL,
                        "PO-2", &dup));

    /* The order iterator's filters. */
    idm_order_iter_t *it = NULL;
    idm_order_t *next = NULL;
    ck_ok(idm_order_iter_new(ctx, &it));
    ck_ok(idm_order_iter_set_type(it, IDM_CARD_TEMPORARY));
    ck_ok(idm_order_iter_next(it, &next));
    ck_assert_ptr_nonnull(next);
    ck_assert_int_eq(order_id(next), order_id(dup));
    idm_order_free(&next);
    ck_ok(idm_order_iter_next(it, &next));
    ck_assert_ptr_null(next);
    idm_order_iter_free(&it);
    ck_ok(idm_order_set_state(o, ACTOR, IDM_ORDER_RUNNING, NULL));
    ck_ok(idm_order_iter_new(ctx, &it));
    ck_ok(idm_order_iter_set_state(it, IDM_ORDER_RUNNING));
    ck_ok(idm_order_iter_next(it, &next));
    ck_assert_ptr_nonnull(next);
    ck_assert_int_eq(order_id(next), order_id(o));
    idm_order_free(&next);
    ck_ok(idm_order_iter_next(it, &next));
    ck_assert_ptr_null(next);
    idm_order_iter_free(&it);

    idm_order_free(&dup);
    idm_order_free(&o);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_order_takes_only_fitting_cards_while_open)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    int64_t h = holder(ctx);
    idm_order_t *o1 = NULL, *o2 = NULL;
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_PHYSICAL, "PO-A", &o1));
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_PHYSICAL, "PO-B", &o2));
    idm_card_t *fits = new_employee_card(ctx, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL);
    idm_card_t *late = new_employee_card(ctx, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL);
    idm_card_t *digital = new_employee_card(ctx, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL);
    idm_card_t *contractor = NULL;
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_CONTRACTOR, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL, h,
                       NULL, &contractor));
    char num_fits[64], num_digital[64], num_contractor[64];
    card_label(ctx, card_id(fits), num_fits, sizeof num_fits);
    card_label(ctx, card_id(digital), num_digital, sizeof num_digital);
    card_label(ctx, card_id(contractor), num_contractor, sizeof num_contractor);

    ck_ok(idm_order_add_card(o1, ACTOR, card_id(fits)));
    ck_ok(idm_card_refresh(fits));
    int64_t in = 0;
    ck_ok(idm_card_get_order_id(fits, &in));
    ck_assert_int_eq(in, order_id(o1));
    struct audit_summary a;
    audit_summary(ctx, IDM_OBJECT_CARD, card_id(fits), &a);
    ck_assert_msg(contains(a.detail, "order"), "%s", a.detail);

    ck_assert_idm_error(idm_order_add_card(o1, ACTOR, card_id(contractor)), IDM_ERR_INVALID_ARG,
                        num_contractor);
    ck_assert_idm_error(idm_order_add_card(o1, ACTOR, card_id(digital)), IDM_ERR_INVALID_ARG,
                        num_digital);
    ck_assert_idm_error(idm_order_add_card(o2, ACTOR, card_id(fits)), IDM_ERR_STATE, num_fits);
    ck_assert_idm_error(idm_order_add_card(o1, ACTOR, card_id(fits) + 1000), IDM_ERR_NOT_FOUND,
                        "");
    /* A running order takes more cards; a completed one none. */
    ck_ok(idm_order_set_state(o1, ACTOR, IDM_ORDER_RUNNING, NULL));
    ck_ok(idm_order_set_state(o1, ACTOR, IDM_ORDER_COMPLETED, NULL));
    ck_assert_idm_error(idm_order_add_card(o1, ACTOR, card_id(late)), IDM_ERR_STATE,
                        "'completed'; cards are added only while it is open or running");

    /* Nothing moved but the one card. */
    int64_t ids[4];
    idm_card_iter_t *it = NULL;
    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_set_order(it, order_id(o1)));
    ck_assert_uint_eq(collect_cards(it, ids, N(ids)), 1);
    ck_assert_int_eq(ids[0], card_id(fits));
    ck_ok(idm_card_iter_new(ctx, &it));
    ck_ok(idm_card_iter_set_order(it, order_id(o2)));
    ck_assert_uint_eq(collect_cards(it, ids, N(ids)), 0);
    idm_card_t *cards[] = {late, digital, contractor};
    for (size_t i = 0; i < N(cards); i++) {
        ck_ok(idm_card_refresh(cards[i]));
        ck_ok(idm_card_get_order_id(cards[i], &in));
        ck_assert_int_eq(in, 0);
    }

    idm_card_free(&contractor);
    idm_card_free(&digital);
    idm_card_free(&late);
    idm_card_free(&fits);
    idm_order_free(&o2);
    idm_order_free(&o1);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- 8. the store ---------------------------------------------------------- */

START_TEST(test_second_context_sees_committed_changes)
{
    char path[4096];
    store_path(path, sizeof path, "shared");
    idm_ctx_t *a = fixture_ctx(path);
    idm_ctx_t *b = fixture_ctx(path);

    idm_identity_t *pa = fixture_person(a, "SHARED-1", "Ada", "Lovelace");
    idm_card_t *ca = NULL;
    ck_ok(idm_card_new(a, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL,
                       identity_id(pa), NULL, &ca));
    char number[64];
    card_label(a, card_id(ca), number, sizeof number);

    idm_identity_t *pb = NULL;
    idm_card_t *cb = NULL;
    ck_ok(idm_identity_open_external(b, "SHARED-1", &pb));
    ck_assert_int_eq(identity_id(pb), identity_id(pa));
    ck_assert_str_eq(common_name(pb), "Ada Lovelace");
    ck_ok(idm_card_open_number(b, number, &cb));
    ck_assert_int_eq(card_id(cb), card_id(ca));

    ck_ok(idm_card_set_state(cb, "station-b", IDM_CARD_REQUESTED, NULL));
    ck_ok(idm_options_set_int(b, "admin", "pin_length", 4));
    ck_ok(idm_identity_set_attribute(pb, "station-b", "surname", "King"));

    ck_assert_int_eq(get_int(a, "pin_length"), 4);
    ck_assert_int_eq(option_version(a), 1);
    ck_ok(idm_card_refresh(ca));
    ck_assert_int_eq(card_state(ca), IDM_CARD_REQUESTED);
    ck_ok(idm_identity_refresh(pa));
    ck_assert_str_eq(common_name(pa), "Ada King");
    /* A's stale view cannot undo B's move: the stored state decides. */
    ck_ok(idm_card_set_state(ca, "station-a", IDM_CARD_APPROVED, NULL));
    ck_ok(idm_card_refresh(cb));
    ck_assert_int_eq(card_state(cb), IDM_CARD_APPROVED);
    int64_t broken = -1;
    ck_ok(idm_audit_verify(b, &broken));
    ck_assert_int_eq(broken, 0);

    idm_card_free(&cb);
    idm_identity_free(&pb);
    idm_card_free(&ca);
    idm_identity_free(&pa);
    idm_ctx_free(&b);
    idm_ctx_free(&a);
    fixture_remove_store(path);
}
END_TEST

/* A store file with one header field changed after the library closed it. */
static void store_with_patched_header(char *path, size_t size, const char *name, long offset,
                                      const unsigned char value[4])
{
    store_path(path, size, name);
    idm_ctx_t *ctx = fixture_ctx(path);
    idm_identity_t *p = fixture_person(ctx, "X", "Ada", "Lovelace");
    idm_identity_free(&p);
    idm_ctx_free(&ctx);
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", path);
    ck_assert_msg(access(wal, F_OK) != 0, "the WAL outlived the last connection");
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, offset, SEEK_SET), 0);
    ck_assert_uint_eq(fwrite(value, 1, 4, f), 4);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_store_refuses_a_file_that_is_not_a_database)
{
    char path[4096];
    store_path(path, sizeof path, "garbage");
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)("this is not an SQLite database; "[i % 32]);
    write_file(path, junk, sizeof junk);

    idm_ctx_t *ctx = NULL;
    ck_ok(idm_ctx_new(&ctx));
    int rc = idm_ctx_open_store(ctx, path);
    char message[1024];
    snprintf(message, sizeof message, "%s", idm_last_error_message());
    /* The context stays usable: a good store still opens on it. */
    int64_t version = -1;
    int no_store = idm_options_get_version(ctx, &version);
    int reopened = idm_ctx_open_store(ctx, ":memory:");
    idm_ctx_free(&ctx);
    fixture_remove_store(path);

    ck_assert_msg(rc == IDM_ERR_STORE, "expected IDM_ERR_STORE, got %s: %s", idm_strerror_name(rc),
                  message);
    ck_assert_msg(contains(message, path), "error message \"%s\" does not name the file %s",
                  message, path);
    ck_assert_int_eq(no_store, IDM_ERR_STATE);
    ck_assert_int_eq(reopened, IDM_OK);
}
END_TEST

START_TEST(test_store_refuses_the_database_of_another_application)
{
    /* The same SQLite file with another application id (header bytes 68..71). */
    char path[4096];
    static const unsigned char other_app[4] = {0x0f, 0x05, 0x51, 0x3e};
    store_with_patched_header(path, sizeof path, "foreign", 68, other_app);
    idm_ctx_t *ctx = NULL;

    ck_ok(idm_ctx_new(&ctx));
    ck_assert_idm_error(idm_ctx_open_store(ctx, path), IDM_ERR_STORE, path);
    ck_assert_msg(contains(idm_last_error_message(), "not a libidm store"), "%s",
                  idm_last_error_message());
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
}
END_TEST

START_TEST(test_store_refuses_a_newer_schema)
{
    char path[4096];
    static const unsigned char version_999[4] = {0x00, 0x00, 0x03, 0xe7};
    store_with_patched_header(path, sizeof path, "newer", 60, version_999); /* user_version */
    idm_ctx_t *ctx = NULL;
    ck_ok(idm_ctx_new(&ctx));
    ck_assert_idm_error(idm_ctx_open_store(ctx, path), IDM_ERR_UNSUPPORTED, path);
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
}
END_TEST

START_TEST(test_store_refuses_a_path_it_cannot_open)
{
    char dir[4096], missing[4200];
    store_path(dir, sizeof dir, "not-a-file");
    snprintf(missing, sizeof missing, "%s/no/such/dir/store.db", dir);
    idm_ctx_t *ctx = NULL;
    ck_ok(idm_ctx_new(&ctx));
    ck_assert_idm_error(idm_ctx_open_store(ctx, missing), IDM_ERR_STORE, missing);
    ck_assert_idm_error(idm_ctx_open_store(ctx, ""), IDM_ERR_INVALID_ARG, "path");
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_store_opened_once_per_context)
{
    char path[4096];
    store_path(path, sizeof path, "twice");
    idm_ctx_t *ctx = fixture_ctx(path);
    ck_assert_idm_error(idm_ctx_open_store(ctx, path), IDM_ERR_STATE, "already");
    ck_assert_idm_error(idm_ctx_open_store(ctx, ":memory:"), IDM_ERR_STATE, "already");
    ck_assert_int_eq(option_version(ctx), 0); /* still on the first store */
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
}
END_TEST

START_TEST(test_memory_store_works_and_ends_with_its_context)
{
    idm_ctx_t *ctx = fixture_ctx(":memory:");
    idm_identity_t *p = fixture_person(ctx, "MEM-1", "Ada", "Lovelace");
    idm_card_t *card = new_employee_card(ctx, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL);
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL));
    ck_ok(idm_options_set_int(ctx, "admin", "pin_length", 4));
    idm_card_free(&card);
    idm_identity_free(&p);
    idm_ctx_free(&ctx);

    ctx = fixture_ctx(":memory:");
    ck_assert_idm_error(idm_identity_open_external(ctx, "MEM-1", &p), IDM_ERR_NOT_FOUND, "");
    ck_assert_int_eq(get_int(ctx, "pin_length"), 6);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_audit_chain_verifies_after_many_operations)
{
    char path[4096];
    store_path(path, sizeof path, "chain");
    idm_ctx_t *ctx = fixture_ctx(path);
    idm_order_t *o = NULL;
    ck_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                        IDM_CARD_DIGITAL, "PO-CHAIN", &o));
    static const idm_card_state life[] = {IDM_CARD_REQUESTED, IDM_CARD_APPROVED,
                                          IDM_CARD_ISSUED,    IDM_CARD_ACTIVE,
                                          IDM_CARD_INACTIVE,  IDM_CARD_LOCKED};
    for (int i = 0; i < 8; i++) {
        char ext[16], serial[16];
        snprintf(ext, sizeof ext, "CH-%d", i);
        snprintf(serial, sizeof serial, "C4A1%02X", i);
        idm_identity_t *p = fixture_person(ctx, ext, "Chain", ext);
        idm_card_t *card = NULL;
        ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL,
                           identity_id(p), NULL, &card));
        ck_ok(idm_order_add_card(o, ACTOR, card_id(card)));
        walk_card(card, life, 2);
        idm_cert_t *cert = add_cert(card, serial);
        idm_cert_free(&cert);
        walk_card(card, life + 2, N(life) - 2);
        ck_ok(idm_options_set_int(ctx, "admin", "pin_length", i % 2 ? 6 : 4));
        idm_card_free(&card);
        idm_identity_free(&p);
    }
    ck_ok(idm_order_set_state(o, ACTOR, IDM_ORDER_RUNNING, NULL));
    ck_ok(idm_order_set_state(o, ACTOR, IDM_ORDER_COMPLETED, NULL));
    idm_order_free(&o);
    idm_ctx_free(&ctx);

    ctx = fixture_ctx(path);
    int64_t broken = -1;
    ck_ok(idm_audit_verify(ctx, &broken));
    ck_assert_int_eq(broken, 0);
    /* Sequence numbers run 1, 2, 3, ... and times never go back. */
    idm_audit_iter_t *it = NULL;
    ck_ok(idm_audit_iter_new(ctx, &it));
    int64_t expected = 1, last_time = 0;
    for (;;) {
        idm_audit_event_t *e = NULL;
        ck_ok(idm_audit_iter_next(it, &e));
        if (e == NULL)
            break;
        int64_t seq = 0, t = 0;
        ck_ok(idm_audit_event_get_seq(e, &seq, &t));
        ck_assert_int_eq(seq, expected);
        ck_assert_int_ge(t, last_time);
        expected++;
        last_time = t;
        idm_audit_event_free(&e);
    }
    idm_audit_iter_free(&it);
    ck_assert_int_gt(expected, 100);
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("model");

    TCase *graphs = tcase_create("graphs");
    tcase_set_timeout(graphs, 120);
    tcase_add_test(graphs, test_every_legal_local_card_move_persists_with_its_audit_event);
    tcase_add_test(graphs, test_every_legal_external_card_move_persists_with_its_audit_event);
    tcase_add_test(graphs, test_every_legal_temporary_card_move_persists_with_its_audit_event);
    tcase_add_test(graphs, test_every_legal_identity_move_persists_with_its_audit_event);
    tcase_add_test(graphs, test_every_legal_order_move_persists_with_its_audit_event);
    tcase_add_test(graphs, test_illegal_local_card_moves_refused_without_trace);
    tcase_add_test(graphs, test_illegal_external_card_moves_refused_without_trace);
    tcase_add_test(graphs, test_illegal_temporary_card_moves_refused_without_trace);
    tcase_add_test(graphs, test_illegal_identity_moves_refused_without_trace);
    tcase_add_test(graphs, test_illegal_order_moves_refused_without_trace);
    tcase_add_test(graphs, test_state_values_outside_the_enums_are_invalid_arguments);
    tcase_add_test(graphs, test_stale_card_handle_cannot_skip_a_step);
    tcase_add_test(graphs, test_state_change_reason_recorded_whole_in_audit);
    suite_add_tcase(s, graphs);

    TCase *certs = tcase_create("certificates");
    tcase_set_timeout(certs, 60);
    tcase_add_test(certs, test_certificate_on_local_card_follows_card_states);
    tcase_add_test(certs, test_revoked_certificate_stays_revoked_forever);
    tcase_add_test(certs, test_certificate_on_temporary_card_follows_assignment_and_expiry);
    tcase_add_test(certs, test_certificate_on_external_card_revoked_when_production_fails);
    tcase_add_test(certs, test_certificate_records_refuse_duplicates_and_garbage);
    suite_add_tcase(s, certs);

    TCase *identities = tcase_create("identities");
    tcase_set_timeout(identities, 60);
    tcase_add_test(identities, test_identity_attributes_set_get_remove_in_key_order);
    tcase_add_test(identities, test_identity_attribute_keys_and_values_validated);
    tcase_add_test(identities, test_common_name_derived_and_recomputed_from_attributes);
    tcase_add_test(identities, test_upn_derived_once_upn_template_is_set);
    tcase_add_test(identities, test_terminated_identity_refuses_changes_and_new_cards);
    tcase_add_test(identities, test_identity_found_by_unique_external_id);
    tcase_add_test(identities, test_audit_records_attribute_keys_never_values);
    suite_add_tcase(s, identities);

    TCase *cards = tcase_create("cards");
    tcase_set_timeout(cards, 60);
    tcase_add_test(cards, test_card_creation_rules_name_the_argument);
    tcase_add_test(cards, test_card_numbers_follow_card_number_format);
    tcase_add_test(cards, test_card_number_skips_numbers_taken_under_an_earlier_format);
    tcase_add_test(cards, test_chip_serial_recorded_once_and_unique);
    tcase_add_test(cards, test_card_iterators_filter_by_state_type_order_and_identity);
    tcase_add_test(cards, test_process_name_for_every_type_and_option);
    suite_add_tcase(s, cards);

    TCase *options = tcase_create("options");
    tcase_set_timeout(options, 60);
    tcase_add_test(options, test_options_start_with_nexus_defaults);
    tcase_add_test(options, test_options_enumerated_with_their_types);
    tcase_add_test(options, test_invalid_option_values_refused_naming_the_key);
    tcase_add_test(options, test_expiry_mail_days_refuses_blanks_and_signs);
    tcase_add_test(options, test_option_of_another_type_refused);
    tcase_add_test(options, test_card_key_slots_are_checked);
    tcase_add_test(options, test_option_changes_raise_version_persist_and_reset);
    tcase_add_test(options, test_order_keeps_its_snapshot_of_the_options);
    suite_add_tcase(s, options);

    TCase *orders = tcase_create("orders");
    tcase_set_timeout(orders, 60);
    tcase_add_test(orders, test_order_created_with_external_id_and_found_again);
    tcase_add_test(orders, test_order_takes_only_fitting_cards_while_open);
    suite_add_tcase(s, orders);

    TCase *store = tcase_create("store");
    tcase_set_timeout(store, 60);
    tcase_add_test(store, test_second_context_sees_committed_changes);
    tcase_add_test(store, test_store_refuses_a_file_that_is_not_a_database);
    tcase_add_test(store, test_store_refuses_the_database_of_another_application);
    tcase_add_test(store, test_store_refuses_a_newer_schema);
    tcase_add_test(store, test_store_refuses_a_path_it_cannot_open);
    tcase_add_test(store, test_store_opened_once_per_context);
    tcase_add_test(store, test_memory_store_works_and_ends_with_its_context);
    tcase_add_test(store, test_audit_chain_verifies_after_many_operations);
    suite_add_tcase(s, store);

    return s;
}
