/* The load test (issue 10): what its three parts share.  load.c sets up
 * the store, forks the workers, plays the bureau and the watchdog, drains
 * what is left and checks the store; load_worker.c is one worker thread;
 * load_bureau.c the production bureau behind the spool folders. */
#ifndef IDM_TESTS_LOAD_H
#define IDM_TESTS_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <idm/idm.h>

#define LOAD_MAX_PROCESSES 16
#define LOAD_MAX_THREADS 16
#define LOAD_MAX_SLOTS (LOAD_MAX_PROCESSES * LOAD_MAX_THREADS)
/* Identities and cards every worker writes to, to prove no write is lost. */
#define LOAD_SHARED 4
/* A mass production order is completed once it holds this many cards. */
#define LOAD_ORDER_CAP 8
#define LOAD_PATH_MAX 1024

/* What a worker does, one call (or a few) of the public API each. */
enum load_op {
    OP_REQUEST,        /* local cards requested, approved, put into an order */
    OP_PRODUCE,        /* a station runs idm_production_run() on an order */
    OP_EXT_ORDER,      /* a card ordered from the bureau (waits for approval) */
    OP_EXT_APPROVE,    /* requested external cards approved (-> the queue) */
    OP_EXT_ABORT,      /* a queued external card aborted */
    OP_EXT_SYNC,       /* the queue sent to the bureau through the spool */
    OP_EXT_UPDATE,     /* the bureau's status files applied */
    OP_EXT_ACTIVATE,   /* produced external cards activated (encoded) */
    OP_ATTRIBUTE,      /* an attribute of a shared identity written */
    OP_IDENTITY_STATE, /* a shared identity moved active <-> inactive */
    OP_CARD_STATE,     /* a shared card moved active <-> inactive */
    OP_OPTION,         /* the option cert_aia_url written */
    OP_KINDS
};

extern const char *const load_op_names[OP_KINDS];

/* One worker thread as the watchdog sees it, in memory shared by every
 * process. */
struct load_beat {
    int64_t beat_ms; /* last progress, CLOCK_MONOTONIC */
    int op;          /* the operation under way, or -1 */
    int finished;
    int64_t ops;
};

/* Everything a worker needs, set up by the parent before the fork. */
struct load_config {
    int processes, threads;
    double seconds;
    int stall_s;
    unsigned seed;
    /* The watchdog's self-test: worker 0 holds the store's write lock in
     * a readiness hook that never returns, as a host bug would. */
    int self_test_stall;
    char dir[LOAD_PATH_MAX / 2]; /* scratch folder of the run */
    char store[LOAD_PATH_MAX]; /* the store file */
    const char *ca_cert_pem, *ca_key_pem;
    int64_t shared_identities[LOAD_SHARED];
    int64_t shared_cards[LOAD_SHARED];
    int64_t setup_order; /* the order that produced the shared cards */
    struct load_beat *beats; /* [processes * threads], MAP_SHARED */
};

/* Milliseconds of CLOCK_MONOTONIC (the same clock in every process). */
int64_t load_now_ms(void);

/* A worker's spool folder ("<dir>/spool-<slot>"; slot -1: the drain's). */
void load_spool_path(const struct load_config *cfg, int slot, char *out, size_t size);

/* A worker's log file ("<dir>/w<slot>.log"; slot -1: the drain's). */
void load_log_path(const struct load_config *cfg, int slot, char *out, size_t size);

/* The chip serial the bureau reports for a card, which the activating
 * encoder must read: the in-memory encoder's "<prefix>-<number>". */
#define LOAD_BUREAU_PREFIX "BUR"

/* The PIN letter of every encoder of the test: generated PINs go nowhere. */
int load_deliver(const idm_card_t *card, const char *pin, const char *puk, void *ud);

/* The thread of worker slot (process * threads + thread). */
void *load_worker_main(void *arg);

/* Runs the threads of one worker process; returns its exit status. */
int load_worker_process(const struct load_config *cfg, int process);

/* 1 when a failed call's message says the store was busy or locked. */
int load_error_is_busy(const char *message);

/* ---- the bureau (load_bureau.c) ------------------------------------------ */

struct load_bureau;

/* A bureau over spool folders 0..nspools-1, as load_spool_path() names
 * them for slots 0..nspools-2 and the drain (the last). */
struct load_bureau *load_bureau_new(const struct load_config *cfg, int nspools);
void load_bureau_free(struct load_bureau **b);

/* One pass: takes every order and cancel request from the outboxes, and
 * writes the next status file of every order it holds (in_production,
 * then produced on a later pass; nothing for a withdrawn one).  Returns
 * how many files it read or wrote. */
int load_bureau_pass(struct load_bureau *b);

/* What the bureau saw, for the checks. */
struct load_bureau_figures {
    long orders;      /* distinct messages ordered */
    long duplicates;  /* order files for a message it already had */
    long cancels;     /* cancel requests */
    long withdrawn;   /* orders it holds a cancel request for */
    long produced;    /* "produced" reports written */
    long bad_files;   /* order files that were not a whole order for their id */
    long cards_twice; /* cards ordered under more than one message id */
};
void load_bureau_figures(const struct load_bureau *b, struct load_bureau_figures *out);

/* Writes the figures ("bureau <orders> <duplicates> <cancels> <withdrawn>
 * <produced> <bad files> <cards twice>") and one line per message it knows,
 * "M <card> <ordered 0|1> <withdrawn 0|1> <produced 0|1> <message id>". */
void load_bureau_write(const struct load_bureau *b, FILE *f);

/* The card id in "idm-<store>-o<order>-c<card>-a<attempt>", or 0. */
int64_t load_message_card(const char *message_id);

#endif /* IDM_TESTS_LOAD_H */
