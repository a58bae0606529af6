/* The load test's checks after the run (load_checks.c), and what they read:
 * the workers' logs and the run's result file. */
#ifndef IDM_TESTS_LOAD_CHECKS_H
#define IDM_TESTS_LOAD_CHECKS_H

#include <check.h>

#include "load.h"

/* Set by main() before the suite runs (so every test process has them). */
extern struct load_config load_cfg;
extern const char *load_check_store_exe;

struct load_op_figures {
    long ok, refused, errors, busy;
    int64_t max_ms, total_ms;
};

/* What the logs say of one card. */
struct load_card_log {
    unsigned char local;    /* requested and approved for mass production: option + 1 */
    unsigned char external; /* ordered from the bureau: option + 1 */
    unsigned short produced, skipped, approved, aborted, activated;
    int64_t produced_order; /* the order of its first "P" */
};

/* Business refusals of one kind, by the words that told them. */
struct load_refusal {
    int op;
    char words[64];
    long count;
};

#define LOAD_REFUSAL_KINDS 16

/* Every worker's log and the drain's, added up. */
struct load_results {
    struct load_refusal refusals[LOAD_REFUSAL_KINDS];
    int nrefusals;
    struct load_op_figures ops[OP_KINDS];
    long errors, busy, logs_missing;
    struct load_card_log *cards; /* by card id, 0 .. ncards - 1 */
    int64_t ncards;
    long local_cards, external_cards, aborted, skipped;
    long produced_in_run, produced_by_drain, activated_in_run, activated_by_drain;
    long reports_applied, reports_refused, sync_sent, sync_failed;
    /* per worker slot and shared record: what the library acknowledged */
    long own_last[LOAD_MAX_SLOTS][LOAD_SHARED];
    long hot_count[LOAD_MAX_SLOTS][LOAD_SHARED], hot_last[LOAD_MAX_SLOTS][LOAD_SHARED];
    long identity_flips[LOAD_SHARED], card_flips[LOAD_SHARED];
    long option_count[LOAD_MAX_SLOTS], option_last[LOAD_MAX_SLOTS];
};

/* Reads every log of the run in cfg->dir. */
void load_results_read(const struct load_config *cfg, struct load_results *r);
void load_results_free(struct load_results *r);

/* Adds the checks that follow the run to the test case. */
void load_add_checks(TCase *tc);

#endif /* IDM_TESTS_LOAD_CHECKS_H */
