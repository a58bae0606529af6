/*
 * One card's personalization, step by step, for the workflows that drive
 * it: idm_card_personalize() runs all steps at once; mass production will
 * run them one at a time for its step API.  Errors carry no function name;
 * the public caller adds its own.
 *
 *   begin    the card, its holder and the options are read and checked
 *   issue    the card is opened; its keys are generated and certified, each
 *            certificate committed to the store
 *   produce  certificates, CHUID, CCC, Printed Information, PIN and PUK go
 *            onto the card
 *   verify   PIN, every object read back, a signature per key
 *   end      with rc IDM_OK the card moves to issued (with whatever record()
 *            adds, in the same transaction), then the session is
 *            closed (a close that fails then is only logged); otherwise the
 *            session is closed and the card fails (certificates revoked) or,
 *            when the card was not touched yet, the failure is audited;
 *            returns the outcome
 */
#ifndef IDM_WORKFLOW_PERSONALIZE_IMPL_H
#define IDM_WORKFLOW_PERSONALIZE_IMPL_H

#include <idm/encoder.h>

struct idm_personalization;

struct idm_optset;

/* Where a personalization takes a card, and what a failure does to it. */
struct idm_personalization_goal {
    idm_production production; /* the production path it serves */
    idm_card_state from;       /* the state it starts from */
    idm_card_state to;         /* the state a verified card moves to */
    int fail_card;             /* a failure after the card was written to moves it to
                                  failed; otherwise it keeps its state for a retry */
    const char *what;          /* "personalization", "activation", ... for messages */
};

/* Local production: approved -> issued, or failed. */
extern const struct idm_personalization_goal idm_goal_local_issue;

/* Before a card is personalized again: the live certificates an interrupted
 * attempt left (a process killed after they were committed) are for keys
 * the card is about to lose, and are revoked as superseded with ca (an
 * error without one).  A card that never got that far has none. */
int idm_personalization_revoke_superseded(idm_ctx_t *ctx, int64_t card_id, idm_ca_t *ca,
                                          const char *actor);

/* options: an order's snapshot (not copied; must outlive the run), or NULL
 * for the current option set.  goal: not copied; NULL for
 * idm_goal_local_issue. */
int idm_personalization_begin(struct idm_personalization **out, idm_card_t *card,
                              const char *actor, idm_encoder_t *enc, idm_ca_t *ca, int attempt,
                              const struct idm_optset *options,
                              const struct idm_personalization_goal *goal);
/* Receives a generated PIN just before the card takes it (the host's
 * delivery callback has had it already); the PIN is wiped afterwards. */
void idm_personalization_set_pin_sink(struct idm_personalization *p,
                                      void (*sink)(const char *pin, void *arg), void *arg);
/* Lets the issue step put a card whose chip serial an interrupted attempt
 * recorded onto the chip in the encoder instead (audited), when the card
 * is still in the goal's from-state: that chip is spoiled and gone (a
 * feeder ejects the card pcscd resets when the process dies).  Only for a
 * caller that revoked every certificate of the earlier attempts first, so
 * that the spoiled chip carries nothing live. */
void idm_personalization_allow_new_chip(struct idm_personalization *p);
int idm_personalization_issue(struct idm_personalization *p, const char *actor);
int idm_personalization_produce(struct idm_personalization *p, const char *actor);
int idm_personalization_verify(struct idm_personalization *p, const char *actor);
int idm_personalization_end(struct idm_personalization *p, const char *actor, int rc,
                            int (*record)(void *arg), void *arg);
/* Lets go of the card on the host's word: the session is closed, this
 * attempt's certificates are revoked (superseded: the card will get new
 * ones), the card keeps its state, and an audit event gives the reason. */
int idm_personalization_cancel(struct idm_personalization *p, const char *actor,
                               const char *reason);
/* Lets go of the card without recording anything, as a process that stops
 * here would: the store keeps what the steps so far committed, and a later
 * attempt takes over from it. */
void idm_personalization_abandon(struct idm_personalization *p);
/* Wipes the PIN and PUK it held.  NULL-safe. */
void idm_personalization_free(struct idm_personalization *p);

#endif /* IDM_WORKFLOW_PERSONALIZE_IMPL_H */
