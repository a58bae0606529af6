#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
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

double bench_cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        die("clock_gettime(CLOCK_PROCESS_CPUTIME_ID): %s", strerror(errno));
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

long bench_status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        die("cannot open /proc/self/status: %s", strerror(errno));
    char line[256];
    size_t n = strlen(field);
    long kib = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kib = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    if (kib < 0)
        die("no %s in /proc/self/status", field);
    return kib;
}

int bench_reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t written = write(fd, "5", 1);
    close(fd);
    return written == 1 ? 0 : -1;
}

int bench_discard_secrets(const idm_card_t *card, const char *pin, const char *puk,
                          void *user_data)
{
    (void)card;
    (void)pin;
    (void)puk;
    (void)user_data;
    return 0;
}
