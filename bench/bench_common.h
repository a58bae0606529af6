/* What every benchmark program needs: to fail loudly, check libidm calls,
 * take time and name the machine it ran on. */
#ifndef IDM_BENCH_COMMON_H
#define IDM_BENCH_COMMON_H

#include <stddef.h>

#include <idm/idm.h>

/* Names the program in failure messages; call first in main(). */
void bench_init(const char *program_name);

/* Prints "<program>: <message>" on stderr and exits 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Makes a fresh "<prefix>-XXXXXX" directory under $TMPDIR (or /tmp) into
 * out, or dies. */
void bench_temp_dir(const char *prefix, char *out, size_t size);

/* Dies with the library's detail message unless rc is IDM_OK. */
void check_idm(int rc, const char *what);

/* Seconds on the monotonic clock. */
double bench_now(void);

/* The process's CPU time (user and system, all threads) in seconds. */
double bench_cpu_now(void);

/* How many calls in how many seconds. */
struct bench_rate {
    long count;
    double seconds;
};

double bench_per_second(const struct bench_rate *r);
/* Microseconds per call. */
double bench_micros(const struct bench_rate *r);
/* Calls fn(arg) until seconds have passed (at least once). */
struct bench_rate bench_measure(void (*fn)(void *), void *arg, double seconds);

/* A "kB" field of /proc/self/status (VmRSS, VmHWM, ...) in KiB, or dies. */
long bench_status_kib(const char *field);

/* Sets the peak RSS (VmHWM) back to the current RSS (Linux 4.0 and later),
 * so that the peak read later is what came after.  0 when it worked. */
int bench_reset_peak_rss(void);

/* A PIN delivery callback (idm_encoder_set_pin_callbacks()) that does
 * nothing with the secrets. */
int bench_discard_secrets(const idm_card_t *card, const char *pin, const char *puk,
                          void *user_data);

/* Prints the "machine:" line (CPUs, model) and the "software:" line (libidm's
 * version and crypto, e.g. OpenSSL_version(OPENSSL_VERSION)). */
void bench_print_machine(const char *crypto);

#endif /* IDM_BENCH_COMMON_H */
