#include "model/states.h"

#include <stdio.h>
#include <string.h>

#include <idm/identity.h>
#include <idm/audit.h>
#include <idm/ca.h>
#include <idm/order.h>
#include <idm/production.h>

#include "core/error_impl.h"
#include "core/export.h"

#define BIT(s) (UINT32_C(1) << (s))
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- cards ----------------------------------------------------------- */

static const char *const card_state_names[] = {
    [IDM_CARD_REGISTERED] = "registered",   [IDM_CARD_REQUESTED] = "requested",
    [IDM_CARD_APPROVED] = "approved",       [IDM_CARD_REJECTED] = "rejected",
    [IDM_CARD_ABORTED] = "aborted",         [IDM_CARD_ISSUED] = "issued",
    [IDM_CARD_FAILED] = "failed",           [IDM_CARD_ACTIVE] = "active",
    [IDM_CARD_INACTIVE] = "inactive",       [IDM_CARD_LOCKED] = "locked",
    [IDM_CARD_EXPIRED] = "expired",         [IDM_CARD_PROCESSING] = "processing",
    [IDM_CARD_ORDERED] = "ordered",         [IDM_CARD_IN_PRODUCTION] = "in_production",
    [IDM_CARD_PRODUCED] = "produced",       [IDM_CARD_UNASSIGNED] = "unassigned",
    [IDM_CARD_ASSIGNED] = "assigned",
};

static const struct idm_transition local_transitions[] = {
    {IDM_CARD_REGISTERED, IDM_CARD_REQUESTED},
    {IDM_CARD_REQUESTED, IDM_CARD_APPROVED},
    {IDM_CARD_REQUESTED, IDM_CARD_REJECTED},
    {IDM_CARD_REQUESTED, IDM_CARD_ABORTED},
    {IDM_CARD_APPROVED, IDM_CARD_ISSUED},
    {IDM_CARD_APPROVED, IDM_CARD_FAILED},
    {IDM_CARD_FAILED, IDM_CARD_APPROVED}, /* repeat production */
    {IDM_CARD_ISSUED, IDM_CARD_ACTIVE},
    {IDM_CARD_ACTIVE, IDM_CARD_INACTIVE},
    {IDM_CARD_INACTIVE, IDM_CARD_ACTIVE},
    {IDM_CARD_ACTIVE, IDM_CARD_LOCKED},
    {IDM_CARD_ACTIVE, IDM_CARD_EXPIRED},
    {IDM_CARD_INACTIVE, IDM_CARD_LOCKED},
    {IDM_CARD_INACTIVE, IDM_CARD_EXPIRED},
};

static const struct idm_transition external_transitions[] = {
    {IDM_CARD_REGISTERED, IDM_CARD_REQUESTED},  /* approval step */
    {IDM_CARD_REGISTERED, IDM_CARD_PROCESSING}, /* queued */
    {IDM_CARD_REGISTERED, IDM_CARD_ORDERED},    /* sent to the bureau at once */
    {IDM_CARD_REQUESTED, IDM_CARD_PROCESSING},
    {IDM_CARD_REQUESTED, IDM_CARD_ORDERED},
    {IDM_CARD_REQUESTED, IDM_CARD_REJECTED},
    {IDM_CARD_PROCESSING, IDM_CARD_ORDERED},
    {IDM_CARD_PROCESSING, IDM_CARD_ABORTED},
    {IDM_CARD_PROCESSING, IDM_CARD_FAILED},
    {IDM_CARD_FAILED, IDM_CARD_PROCESSING}, /* repeat */
    {IDM_CARD_ORDERED, IDM_CARD_IN_PRODUCTION},
    {IDM_CARD_IN_PRODUCTION, IDM_CARD_PRODUCED},
    {IDM_CARD_IN_PRODUCTION, IDM_CARD_FAILED},
    {IDM_CARD_PRODUCED, IDM_CARD_ACTIVE}, /* encoded at activation */
    {IDM_CARD_ACTIVE, IDM_CARD_INACTIVE},
    {IDM_CARD_INACTIVE, IDM_CARD_ACTIVE},
    {IDM_CARD_ACTIVE, IDM_CARD_LOCKED},
    {IDM_CARD_ACTIVE, IDM_CARD_EXPIRED},
    {IDM_CARD_INACTIVE, IDM_CARD_LOCKED},
    {IDM_CARD_INACTIVE, IDM_CARD_EXPIRED},
};

static const struct idm_transition temporary_transitions[] = {
    {IDM_CARD_REQUESTED, IDM_CARD_PROCESSING},
    {IDM_CARD_REQUESTED, IDM_CARD_ORDERED},
    {IDM_CARD_PROCESSING, IDM_CARD_ORDERED},
    {IDM_CARD_PROCESSING, IDM_CARD_ABORTED},
    {IDM_CARD_PROCESSING, IDM_CARD_FAILED},
    {IDM_CARD_FAILED, IDM_CARD_PROCESSING},
    {IDM_CARD_ORDERED, IDM_CARD_IN_PRODUCTION},
    {IDM_CARD_IN_PRODUCTION, IDM_CARD_PRODUCED},
    {IDM_CARD_IN_PRODUCTION, IDM_CARD_FAILED},
    {IDM_CARD_PRODUCED, IDM_CARD_UNASSIGNED}, /* initialized: profile, PIN, PUK */
    {IDM_CARD_UNASSIGNED, IDM_CARD_ASSIGNED},
    {IDM_CARD_ASSIGNED, IDM_CARD_UNASSIGNED},
    {IDM_CARD_UNASSIGNED, IDM_CARD_EXPIRED},
    {IDM_CARD_UNASSIGNED, IDM_CARD_LOCKED},
    {IDM_CARD_ASSIGNED, IDM_CARD_EXPIRED},
    {IDM_CARD_ASSIGNED, IDM_CARD_LOCKED},
};

#define CARD_FINALS \
    (BIT(IDM_CARD_REJECTED) | BIT(IDM_CARD_ABORTED) | BIT(IDM_CARD_LOCKED) | BIT(IDM_CARD_EXPIRED))

static const struct idm_graph card_graphs[] = {
    {
        .name = "local",
        .state_names = card_state_names,
        .nstates = (int)N(card_state_names),
        .members = BIT(IDM_CARD_REGISTERED) | BIT(IDM_CARD_REQUESTED) | BIT(IDM_CARD_APPROVED) |
                   BIT(IDM_CARD_REJECTED) | BIT(IDM_CARD_ABORTED) | BIT(IDM_CARD_ISSUED) |
                   BIT(IDM_CARD_FAILED) | BIT(IDM_CARD_ACTIVE) | BIT(IDM_CARD_INACTIVE) |
                   BIT(IDM_CARD_LOCKED) | BIT(IDM_CARD_EXPIRED),
        .finals = CARD_FINALS,
        .initial = IDM_CARD_REGISTERED,
        .transitions = local_transitions,
        .ntransitions = N(local_transitions),
    },
    {
        .name = "external",
        .state_names = card_state_names,
        .nstates = (int)N(card_state_names),
        .members = BIT(IDM_CARD_REGISTERED) | BIT(IDM_CARD_REQUESTED) | BIT(IDM_CARD_REJECTED) |
                   BIT(IDM_CARD_PROCESSING) | BIT(IDM_CARD_ORDERED) | BIT(IDM_CARD_ABORTED) |
                   BIT(IDM_CARD_FAILED) | BIT(IDM_CARD_IN_PRODUCTION) | BIT(IDM_CARD_PRODUCED) |
                   BIT(IDM_CARD_ACTIVE) | BIT(IDM_CARD_INACTIVE) | BIT(IDM_CARD_LOCKED) |
                   BIT(IDM_CARD_EXPIRED),
        .finals = CARD_FINALS,
        .initial = IDM_CARD_REGISTERED,
        .transitions = external_transitions,
        .ntransitions = N(external_transitions),
    },
    {
        .name = "temporary",
        .state_names = card_state_names,
        .nstates = (int)N(card_state_names),
        .members = BIT(IDM_CARD_REQUESTED) | BIT(IDM_CARD_PROCESSING) | BIT(IDM_CARD_ORDERED) |
                   BIT(IDM_CARD_ABORTED) | BIT(IDM_CARD_FAILED) | BIT(IDM_CARD_IN_PRODUCTION) |
                   BIT(IDM_CARD_PRODUCED) | BIT(IDM_CARD_UNASSIGNED) | BIT(IDM_CARD_ASSIGNED) |
                   BIT(IDM_CARD_EXPIRED) | BIT(IDM_CARD_LOCKED),
        .finals = BIT(IDM_CARD_ABORTED) | BIT(IDM_CARD_LOCKED) | BIT(IDM_CARD_EXPIRED),
        .initial = IDM_CARD_REQUESTED,
        .transitions = temporary_transitions,
        .ntransitions = N(temporary_transitions),
    },
};

const struct idm_graph *idm_card_graph(idm_card_type type, idm_production production)
{
    if (type == IDM_CARD_TEMPORARY)
        return &card_graphs[2];
    return production == IDM_PRODUCTION_EXTERNAL ? &card_graphs[1] : &card_graphs[0];
}

/* ---- identities and orders ------------------------------------------ */

static const char *const identity_state_names[] = {
    [IDM_IDENTITY_REGISTERED] = "registered",
    [IDM_IDENTITY_ACTIVE] = "active",
    [IDM_IDENTITY_INACTIVE] = "inactive",
    [IDM_IDENTITY_TERMINATED] = "terminated",
};

static const struct idm_transition identity_transitions[] = {
    {IDM_IDENTITY_REGISTERED, IDM_IDENTITY_ACTIVE},
    {IDM_IDENTITY_REGISTERED, IDM_IDENTITY_TERMINATED},
    {IDM_IDENTITY_ACTIVE, IDM_IDENTITY_INACTIVE},
    {IDM_IDENTITY_INACTIVE, IDM_IDENTITY_ACTIVE},
    {IDM_IDENTITY_ACTIVE, IDM_IDENTITY_TERMINATED},
    {IDM_IDENTITY_INACTIVE, IDM_IDENTITY_TERMINATED},
};

const struct idm_graph idm_identity_graph = {
    .name = "identity",
    .state_names = identity_state_names,
    .nstates = (int)N(identity_state_names),
    .members = BIT(IDM_IDENTITY_REGISTERED) | BIT(IDM_IDENTITY_ACTIVE) |
               BIT(IDM_IDENTITY_INACTIVE) | BIT(IDM_IDENTITY_TERMINATED),
    .finals = BIT(IDM_IDENTITY_TERMINATED),
    .initial = IDM_IDENTITY_REGISTERED,
    .transitions = identity_transitions,
    .ntransitions = N(identity_transitions),
};

static const char *const order_state_names[] = {
    [IDM_ORDER_OPEN] = "open",
    [IDM_ORDER_RUNNING] = "running",
    [IDM_ORDER_COMPLETED] = "completed",
    [IDM_ORDER_ABORTED] = "aborted",
};

static const struct idm_transition order_transitions[] = {
    {IDM_ORDER_OPEN, IDM_ORDER_RUNNING},
    {IDM_ORDER_OPEN, IDM_ORDER_ABORTED},
    {IDM_ORDER_RUNNING, IDM_ORDER_COMPLETED},
    {IDM_ORDER_RUNNING, IDM_ORDER_ABORTED},
    {IDM_ORDER_RUNNING, IDM_ORDER_OPEN}, /* paused; resumes later */
};

const struct idm_graph idm_order_graph = {
    .name = "order",
    .state_names = order_state_names,
    .nstates = (int)N(order_state_names),
    .members = BIT(IDM_ORDER_OPEN) | BIT(IDM_ORDER_RUNNING) | BIT(IDM_ORDER_COMPLETED) |
               BIT(IDM_ORDER_ABORTED),
    .finals = BIT(IDM_ORDER_COMPLETED) | BIT(IDM_ORDER_ABORTED),
    .initial = IDM_ORDER_OPEN,
    .transitions = order_transitions,
    .ntransitions = N(order_transitions),
};

/* ---- queries --------------------------------------------------------- */

int idm_graph_has_state(const struct idm_graph *g, int state)
{
    return state >= 0 && state < g->nstates && (g->members & BIT(state)) != 0;
}

int idm_graph_allows(const struct idm_graph *g, int from, int to)
{
    for (size_t i = 0; i < g->ntransitions; i++) {
        if (g->transitions[i].from == from && g->transitions[i].to == to)
            return 1;
    }
    return 0;
}

const char *idm_graph_state_name(const struct idm_graph *g, int state)
{
    if (state < 0 || state >= g->nstates || g->state_names[state] == NULL)
        return "unknown";
    return g->state_names[state];
}

int idm_graph_refuse(const struct idm_graph *g, const char *object, int from, int to)
{
    const char *from_name = idm_graph_state_name(g, from);
    const char *to_name = idm_graph_state_name(g, to);
    if (!idm_graph_has_state(g, to))
        return IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; '%s' is not a state of the %s graph",
                       object, from_name, to_name, g->name);

    char sources[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < g->ntransitions && used < sizeof sources; i++) {
        if (g->transitions[i].to != to)
            continue;
        int n = snprintf(sources + used, sizeof sources - used, "%s'%s'", used > 0 ? ", " : "",
                         idm_graph_state_name(g, g->transitions[i].from));
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used == 0)
        return IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; '%s' is the initial state of the %s graph and cannot be entered again",
                       object, from_name, to_name, g->name);
    return IDM_ERR(IDM_ERR_STATE, "%s is in state '%s'; '%s' is only reachable from %s", object,
                   from_name, to_name, sources);
}

static int validate_graph(const struct idm_graph *g)
{
    if (!idm_graph_has_state(g, g->initial))
        return IDM_ERR(IDM_ERR_INTERNAL, "%s graph: initial state is not a member", g->name);
    uint32_t has_exit = 0;
    for (size_t i = 0; i < g->ntransitions; i++) {
        const struct idm_transition *t = &g->transitions[i];
        if (!idm_graph_has_state(g, t->from) || !idm_graph_has_state(g, t->to))
            return IDM_ERR(IDM_ERR_INTERNAL, "%s graph: transition %zu leaves the graph",
                           g->name, i);
        if (g->finals & BIT(t->from))
            return IDM_ERR(IDM_ERR_INTERNAL, "%s graph: final state '%s' has an exit to '%s'",
                           g->name, idm_graph_state_name(g, t->from),
                           idm_graph_state_name(g, t->to));
        has_exit |= BIT(t->from);
    }
    uint32_t reached = BIT(g->initial);
    for (int grew = 1; grew;) {
        grew = 0;
        for (size_t i = 0; i < g->ntransitions; i++) {
            const struct idm_transition *t = &g->transitions[i];
            if ((reached & BIT(t->from)) && !(reached & BIT(t->to))) {
                reached |= BIT(t->to);
                grew = 1;
            }
        }
    }
    for (int s = 0; s < g->nstates; s++) {
        if (!(g->members & BIT(s)))
            continue;
        if (!(reached & BIT(s)))
            return IDM_ERR(IDM_ERR_INTERNAL, "%s graph: state '%s' is unreachable", g->name,
                           idm_graph_state_name(g, s));
        if (!(g->finals & BIT(s)) && !(has_exit & BIT(s)))
            return IDM_ERR(IDM_ERR_INTERNAL, "%s graph: state '%s' is a dead end but not final",
                           g->name, idm_graph_state_name(g, s));
    }
    return IDM_OK;
}

int idm_states_validate(void)
{
    const struct idm_graph *all[] = {&card_graphs[0], &card_graphs[1], &card_graphs[2],
                                     &idm_identity_graph, &idm_order_graph};
    for (size_t i = 0; i < N(all); i++) {
        int rc = validate_graph(all[i]);
        if (rc != IDM_OK)
            return rc;
    }
    return IDM_OK;
}

int idm_cert_state_for_card(idm_card_state card_state, idm_cert_state *out)
{
    switch (card_state) {
    case IDM_CARD_ISSUED:
    case IDM_CARD_INACTIVE:
    case IDM_CARD_PRODUCED:
    case IDM_CARD_UNASSIGNED:
        *out = IDM_CERT_ON_HOLD;
        return 1;
    case IDM_CARD_ACTIVE:
    case IDM_CARD_ASSIGNED:
        *out = IDM_CERT_VALID;
        return 1;
    case IDM_CARD_FAILED:
    case IDM_CARD_LOCKED:
    case IDM_CARD_REJECTED:
    case IDM_CARD_ABORTED:
        *out = IDM_CERT_REVOKED;
        return 1;
    case IDM_CARD_EXPIRED:
        *out = IDM_CERT_EXPIRED;
        return 1;
    default:
        return 0;
    }
}

/* ---- public names ---------------------------------------------------- */

static const char *name_at(const char *const *names, size_t n, int value)
{
    if (value < 0 || (size_t)value >= n || names[value] == NULL)
        return "unknown";
    return names[value];
}

IDM_EXPORT const char *idm_card_state_name(idm_card_state state)
{
    return name_at(card_state_names, N(card_state_names), (int)state);
}

IDM_EXPORT const char *idm_identity_state_name(idm_identity_state state)
{
    return name_at(identity_state_names, N(identity_state_names), (int)state);
}

IDM_EXPORT const char *idm_order_state_name(idm_order_state state)
{
    return name_at(order_state_names, N(order_state_names), (int)state);
}

static const char *const card_type_names[] = {
    [IDM_CARD_EMPLOYEE] = "employee",
    [IDM_CARD_CONTRACTOR] = "contractor",
    [IDM_CARD_VISITOR] = "visitor",
    [IDM_CARD_VISITOR_NON_PERSONAL] = "visitor_non_personal",
    [IDM_CARD_NON_PERSONAL] = "non_personal",
    [IDM_CARD_TEMPORARY] = "temporary",
};

IDM_EXPORT const char *idm_card_type_name(idm_card_type type)
{
    return name_at(card_type_names, N(card_type_names), (int)type);
}

IDM_EXPORT const char *idm_card_option_name(idm_card_option option)
{
    static const char *const names[] = {[IDM_CARD_PHYSICAL] = "physical",
                                        [IDM_CARD_DIGITAL] = "digital"};
    return name_at(names, N(names), (int)option);
}

IDM_EXPORT const char *idm_production_name(idm_production production)
{
    static const char *const names[] = {[IDM_PRODUCTION_LOCAL] = "local",
                                        [IDM_PRODUCTION_EXTERNAL] = "external"};
    return name_at(names, N(names), (int)production);
}

IDM_EXPORT const char *idm_order_kind_name(idm_order_kind kind)
{
    static const char *const names[] = {[IDM_ORDER_MASS_PRODUCTION] = "mass_production",
                                        [IDM_ORDER_EXTERNAL] = "external"};
    return name_at(names, N(names), (int)kind);
}

IDM_EXPORT const char *idm_cert_state_name(idm_cert_state state)
{
    static const char *const names[] = {[IDM_CERT_VALID] = "valid",
                                        [IDM_CERT_ON_HOLD] = "on_hold",
                                        [IDM_CERT_REVOKED] = "revoked",
                                        [IDM_CERT_EXPIRED] = "expired"};
    return name_at(names, N(names), (int)state);
}

IDM_EXPORT const char *idm_object_type_name(idm_object_type type)
{
    static const char *const names[] = {[IDM_OBJECT_IDENTITY] = "identity",
                                        [IDM_OBJECT_CARD] = "card",
                                        [IDM_OBJECT_ORDER] = "order",
                                        [IDM_OBJECT_CERTIFICATE] = "certificate",
                                        [IDM_OBJECT_OPTION] = "option",
                                        [IDM_OBJECT_CA] = "ca"};
    return name_at(names, N(names), (int)type);
}

IDM_EXPORT const char *idm_key_usage_name(idm_key_usage usage)
{
    static const char *const names[] = {[IDM_USAGE_AUTHENTICATION] = "authentication",
                                        [IDM_USAGE_SIGNATURE] = "signature",
                                        [IDM_USAGE_ENCRYPTION] = "encryption",
                                        [IDM_USAGE_CARD_AUTHENTICATION] =
                                            "card_authentication"};
    return name_at(names, N(names), (int)usage);
}

/* ---- the ten mass production processes ----------------------------------- */

#define PHYSICAL_STEPS \
    (IDM_STEP_READINESS | IDM_STEP_PRODUCE | IDM_STEP_VERIFY | IDM_STEP_COMPLETE)
#define DIGITAL_STEPS (PHYSICAL_STEPS | IDM_STEP_ISSUE)

/* Nexus' technical references: Physical ID processes start with CCProc,
 * Digital ID ones with PcmProc.  Physical ID has no CA step. */
static const struct process {
    idm_card_type type;
    idm_card_option option;
    const char *name;
    unsigned steps;
} processes[] = {
    {IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, "CCProcMassProductionEmployeeCard", PHYSICAL_STEPS},
    {IDM_CARD_CONTRACTOR, IDM_CARD_PHYSICAL, "CCProcMassProductionContractorCard",
     PHYSICAL_STEPS},
    {IDM_CARD_VISITOR, IDM_CARD_PHYSICAL, "CCProcMassProductionVisitorCard", PHYSICAL_STEPS},
    {IDM_CARD_VISITOR_NON_PERSONAL, IDM_CARD_PHYSICAL,
     "CCProcMassProductionVisitorNonPersonalCard", PHYSICAL_STEPS},
    {IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL, "CCProcMassProductionNonPersonalCard",
     PHYSICAL_STEPS},
    {IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, "PcmProcMassProductionEmployeeCard", DIGITAL_STEPS},
    {IDM_CARD_CONTRACTOR, IDM_CARD_DIGITAL, "PcmProcMassProductionContractorCard",
     DIGITAL_STEPS},
    {IDM_CARD_VISITOR, IDM_CARD_DIGITAL, "PcmProcMassProductionVisitorCard", DIGITAL_STEPS},
    {IDM_CARD_VISITOR_NON_PERSONAL, IDM_CARD_DIGITAL,
     "PcmProcMassProductionVisitorNonPersonalCard", DIGITAL_STEPS},
    {IDM_CARD_NON_PERSONAL, IDM_CARD_DIGITAL, "PcmProcMassProductionNonPersonalCard",
     DIGITAL_STEPS},
};

static int find_process(const char *func, idm_card_type type, idm_card_option option,
                        const struct process **out)
{
    if ((int)option != IDM_CARD_PHYSICAL && (int)option != IDM_CARD_DIGITAL)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument 'option' is %d; expected "
                             "IDM_CARD_PHYSICAL (0) or IDM_CARD_DIGITAL (1)", (int)option);
    for (size_t i = 0; i < N(processes); i++) {
        if (processes[i].type == type && processes[i].option == option) {
            *out = &processes[i];
            return IDM_OK;
        }
    }
    return idm_error_set(func, IDM_ERR_INVALID_ARG,
                         "argument 'type' is %d (%s); only employee, contractor, visitor, "
                         "visitor_non_personal and non_personal cards are mass-produced",
                         (int)type, idm_card_type_name(type));
}

IDM_EXPORT int idm_process_name(idm_card_type type, idm_card_option option, const char **out)
{
    IDM_CHECK_NOT_NULL(out);
    const struct process *p = NULL;
    int rc = find_process(__func__, type, option, &p);
    if (rc == IDM_OK)
        *out = p->name;
    return rc;
}

IDM_EXPORT int idm_process_steps(idm_card_type type, idm_card_option option, unsigned *out)
{
    IDM_CHECK_NOT_NULL(out);
    const struct process *p = NULL;
    int rc = find_process(__func__, type, option, &p);
    if (rc == IDM_OK)
        *out = p->steps;
    return rc;
}

IDM_EXPORT size_t idm_process_count(void)
{
    return N(processes);
}

IDM_EXPORT int idm_process_at(size_t index, idm_card_type *type, idm_card_option *option)
{
    if (index >= N(processes))
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'index' is %zu; there are %zu processes",
                        index, N(processes));
    if (type != NULL)
        *type = processes[index].type;
    if (option != NULL)
        *option = processes[index].option;
    return IDM_OK;
}

IDM_EXPORT const char *idm_order_card_outcome_name(idm_order_card_outcome outcome)
{
    static const char *const names[] = {
        [IDM_OUTCOME_PENDING] = "pending",   [IDM_OUTCOME_CLAIMED] = "claimed",
        [IDM_OUTCOME_PRODUCED] = "produced", [IDM_OUTCOME_SKIPPED] = "skipped",
        [IDM_OUTCOME_FAILED] = "failed"};
    return name_at(names, N(names), (int)outcome);
}
