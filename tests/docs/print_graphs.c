/*
 * Prints the library's state graphs from their transition tables
 * (src/model/states.c), for tests/docs/check-workflow-diagrams.py, which
 * holds doc/workflows.md's diagrams to them:
 *
 *   graph <name>
 *   initial <state>
 *   final <state>              (one line per final state)
 *   edge <from> <to>           (one line per transition)
 *   cert <card state> <certificate state>   (after the last graph: what a
 *                                             card's state does to its
 *                                             valid and held certificates)
 */
#include <stdio.h>
#include <string.h>

#include "model/states.h"

static void print_graph(const char *name, const struct idm_graph *g)
{
    printf("graph %s\n", name);
    printf("initial %s\n", idm_graph_state_name(g, g->initial));
    for (int s = 0; s < g->nstates; s++) {
        if ((g->finals & (1u << s)) != 0 && idm_graph_has_state(g, s))
            printf("final %s\n", idm_graph_state_name(g, s));
    }
    for (size_t i = 0; i < g->ntransitions; i++)
        printf("edge %s %s\n", idm_graph_state_name(g, g->transitions[i].from),
               idm_graph_state_name(g, g->transitions[i].to));
}

int main(void)
{
    if (idm_states_validate() != 0) {
        fputs("print_graphs: the state tables do not validate\n", stderr);
        return 1;
    }
    print_graph("card-local", idm_card_graph(IDM_CARD_EMPLOYEE, IDM_PRODUCTION_LOCAL));
    print_graph("card-external", idm_card_graph(IDM_CARD_EMPLOYEE, IDM_PRODUCTION_EXTERNAL));
    print_graph("card-temporary", idm_card_graph(IDM_CARD_TEMPORARY, IDM_PRODUCTION_EXTERNAL));
    print_graph("identity", &idm_identity_graph);
    print_graph("order", &idm_order_graph);
    for (int s = 0; s < 32; s++) {
        const char *name = idm_card_state_name((idm_card_state)s);
        idm_cert_state cert = IDM_CERT_VALID;
        if (strcmp(name, "unknown") != 0 &&
            idm_cert_state_for_card((idm_card_state)s, &cert))
            printf("cert %s %s\n", name, idm_cert_state_name(cert));
    }
    return 0;
}
