/*
 * State graphs as data: one transition table per production path of a card,
 * one for identities and one for orders.  idm_states_validate() checks them
 * when a context is created.
 */
#ifndef IDM_MODEL_STATES_H
#define IDM_MODEL_STATES_H

#include <stddef.h>
#include <stdint.h>

#include <idm/card.h>
#include <idm/certificate.h>

struct idm_transition {
    int from;
    int to;
};

struct idm_graph {
    const char *name;                 /* "local", "external", "temporary", ... */
    const char *const *state_names;   /* indexed by state value */
    int nstates;                      /* values 0 .. nstates - 1 exist */
    uint32_t members;                 /* bit s: state s belongs to the graph */
    uint32_t finals;                  /* bit s: state s is final */
    int initial;
    const struct idm_transition *transitions;
    size_t ntransitions;
};

extern const struct idm_graph idm_identity_graph;
extern const struct idm_graph idm_order_graph;

/* The graph a card follows: temporary cards the temporary one, others the
 * one of their production. */
const struct idm_graph *idm_card_graph(idm_card_type type, idm_production production);

int idm_graph_allows(const struct idm_graph *g, int from, int to);
int idm_graph_has_state(const struct idm_graph *g, int state);

/* Name of a state of g, "unknown" when out of range. */
const char *idm_graph_state_name(const struct idm_graph *g, int state);

/*
 * Sets the detail message for a refused move of object (e.g. "card 00000042"):
 * it names the current and attempted states and the states from which the
 * attempted one can be reached.  Returns IDM_ERR_STATE.
 */
int idm_graph_refuse(const struct idm_graph *g, const char *object, int from, int to);

/* Checks every graph: states reachable from the initial one, finals without
 * exits, other states with at least one.  IDM_ERR_INTERNAL naming the flaw. */
int idm_states_validate(void);

/*
 * The state a valid or on-hold certificate takes when its card enters
 * card_state; returns 0 when the card state leaves certificates alone.
 * Revoked and expired certificates never change.
 */
int idm_cert_state_for_card(idm_card_state card_state, idm_cert_state *out);

#endif /* IDM_MODEL_STATES_H */
