/*
 * Readiness of a card for mass production: the built-in rules of the seed's
 * "check whether the card is ready" step.  The mass production workflow
 * (issue 6) records every card that is not ready as skipped with the reason
 * this gives, then asks the host's readiness hook about the others.
 */
#ifndef IDM_WORKFLOW_READINESS_H
#define IDM_WORKFLOW_READINESS_H

#include <stddef.h>

#include "model/options_impl.h"
#include "model/records.h"

struct idm_store;

/*
 * Checks, in this order, and stops at the first that fails:
 *   1. the card is approved and produced locally;
 *   2. a personal card's holder is active;
 *   3. the attributes the options need are present: those named by
 *      common_name_template (unless the holder has an explicit common name;
 *      an empty template derives none), and for a Digital ID card those
 *      named by cert_subject_template (other than ${commonName}; a
 *      non-personal card has no attributes) and by upn_template (unless
 *      the holder has an explicit UPN);
 *   4. a Digital ID card's certificate subject fits: no value longer than
 *      its attribute type takes (a common name of at most 64 characters);
 *   5. unless allow_multiple_active_cards, the holder has no other card of
 *      the same type that is issued or active.
 * *ready is 1, or 0 with the reason in why ("the holder E1001 is 'inactive'",
 * "attribute 'surname' of the holder E1001 is missing (common_name_template)").
 * Returns IDM_OK whether ready or not; an error only when the store fails.
 */
int idm_readiness_check(struct idm_store *s, const struct idm_optset *o,
                        const struct idm_card_rec *card, int *ready, char *why, size_t why_size);

#endif /* IDM_WORKFLOW_READINESS_H */
