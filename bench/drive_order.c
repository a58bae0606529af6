/*
 * idm-bench-drive-order DB ORDER_ID GROUP: produces a mass production order
 * that is already in the store at DB, driven from C, and prints one JSON
 * line with what it took.  It is the C half of python_vs_c.py, which
 * produces the same order in a copy of the store from Python.  Both
 * drivers do what idm-bench-mass-production does (bench_order.h): open the
 * store, make the built-in CA (P-256), take the bench card (bench_card.h)
 * as their encoder, deliver the PINs to a callback that does nothing, open
 * one station with a group of GROUP cards and make one
 * idm_production_run() call with a progress hook that counts the outcomes.
 *
 * The JSON line: {"driver": "C", "cards": N, "group": G, "seconds": S,
 * "cpu_seconds": U, "encoder_seconds": E, "rss_start_kib": R,
 * "peak_rss_kib": P, "peak_rss_reset": true, "libidm": "/path/libidm.so.1"}.
 * seconds is the wall time of the idm_production_run() call, cpu_seconds
 * the process's CPU time in it (user and system: what waiting for the disk
 * or for another process's turn on the CPU does not inflate),
 * encoder_seconds the part of the wall time inside the encoder's methods
 * (idm_encoder_get_stats()); the peak RSS is VmHWM, reset when the store is
 * opened (peak_rss_reset false: the kernel could not, and the peak is the
 * whole process's), and rss_start_kib the RSS then.  libidm is the file
 * the library was loaded from, so that the caller can check that both
 * drivers ran the same one.
 *
 * The order must end completed with every one of its cards produced, seen
 * produced by the progress hook, and closed well by the bench card with
 * one key each; otherwise it prints the reason and exits 1.
 */
#define _GNU_SOURCE /* dladdr() */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <idm/idm.h>

#include "bench_common.h"
#include "bench_order.h"

/* s as a JSON string, quotes included. */
static void print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static long long parse_number(const char *text, const char *what, long long max)
{
    char *end = NULL;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || n < 1 || n > max)
        die("%s is '%s'; expected a number from 1 to %lld", what, text, max);
    return n;
}

int main(int argc, char **argv)
{
    bench_init("idm-bench-drive-order");
    if (argc != 4)
        die("usage: idm-bench-drive-order DB ORDER_ID GROUP");
    const char *db = argv[1];
    int64_t order_id = parse_number(argv[2], "ORDER_ID", INT64_MAX);
    size_t group = (size_t)parse_number(argv[3], "GROUP", 1000);
    if (access(db, R_OK | W_OK) != 0) /* opening would make an empty store */
        die("no store at '%s': %s", db, strerror(errno));

    int rss_reset = bench_reset_peak_rss() == 0;
    long rss_start_kib = bench_status_kib("VmRSS");
    struct bench_production p;
    bench_production_open(&p, db, order_id, group);
    bench_production_run(&p);
    long rss_peak_kib = bench_status_kib("VmHWM");
    bench_production_check(&p);
    int64_t cards = p.cards;
    bench_production_close(&p);

    Dl_info lib;
    if (dladdr((void *)idm_version_string, &lib) == 0 || lib.dli_fname == NULL)
        die("dladdr cannot tell which file libidm was loaded from");
    printf("{\"driver\": \"C\", \"cards\": %" PRId64 ", \"group\": %zu, \"seconds\": %.6f, "
           "\"cpu_seconds\": %.6f, \"encoder_seconds\": %.6f, \"rss_start_kib\": %ld, "
           "\"peak_rss_kib\": %ld, \"peak_rss_reset\": %s, \"libidm\": ",
           cards, group, p.seconds, p.cpu_seconds, p.encoder_s, rss_start_kib, rss_peak_kib,
           rss_reset ? "true" : "false");
    print_json_string(lib.dli_fname);
    printf("}\n");
    return 0;
}
