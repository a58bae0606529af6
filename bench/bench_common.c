#include "bench_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
