#include "bench_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <idm/idm.h>

static const char *program = "idm-bench";

void bench_init(const char *program_name)
{
    program = program_name;
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void check_idm(int rc, const char *what)
{
    if (rc != IDM_OK)
        die("%s failed: %s: %s", what, idm_strerror_name(rc), idm_last_error_message());
}

double bench_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime: %s", strerror(errno));
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_per_second(const struct bench_rate *r)
{
    return (double)r->count / r->seconds;
}

double bench_micros(const struct bench_rate *r)
{
    return r->seconds * 1e6 / (double)r->count;
}

struct bench_rate bench_measure(void (*fn)(void *), void *arg, double seconds)
{
    struct bench_rate r = {0, 0.0};
    double start = bench_now(), now;
    do {
        fn(arg);
        r.count++;
        now = bench_now();
    } while (now - start < seconds);
    r.seconds = now - start;
    return r;
}

void bench_print_machine(const char *crypto)
{
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof line, f) != NULL) {
            const char *colon = strchr(line, ':');
            if (strncmp(line, "model name", 10) != 0 || colon == NULL)
                continue;
            colon += strspn(colon + 1, " \t") + 1;
            snprintf(model, sizeof model, "%s", colon);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
        fclose(f);
    }
    printf("machine:   nproc %ld, %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
    printf("software:  libidm %s, %s\n", idm_version_string(), crypto);
}

void bench_temp_dir(const char *prefix, char *out, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    snprintf(out, size, "%s/%s-XXXXXX", tmp, prefix);
    if (mkdtemp(out) == NULL)
        die("cannot create a directory from '%s': %s", out, strerror(errno));
}
