/*
 * What the fuzz targets share: a scratch folder of their own, on tmpfs
 * when the machine has one (a store's fsyncs cost nothing there).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include <idm/error.h>

static char scratch[4096];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_scratch(void)
{
    if (scratch[0] != '\0')
        nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    scratch[0] = '\0';
}

const char *fuzz_scratch_dir(void)
{
    if (scratch[0] != '\0')
        return scratch;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/idm-fuzz-XXXXXX", base != NULL ? base : "/tmp");
    if (mkdtemp(scratch) == NULL) {
        perror("fuzz: cannot make a scratch folder");
        exit(1);
    }
    atexit(remove_scratch);
    return scratch;
}

void fuzz_remove_scratch(void)
{
    remove_scratch();
}

/* ---- a reproducible clock and random source ------------------------------ */

static int64_t clock_ms;
static uint64_t random_state = UINT64_C(0x9e3779b97f4a7c15);

void fuzz_sources_reset(int64_t next_clock_ms, uint64_t seed)
{
    clock_ms = next_clock_ms;
    random_state = seed != 0 ? seed : UINT64_C(0x9e3779b97f4a7c15);
}

static int64_t fixed_clock(void *user_data)
{
    (void)user_data;
    int64_t t = clock_ms;
    clock_ms += 1000;
    return t;
}

static int fixed_random(void *buf, size_t len, void *user_data)
{
    (void)user_data;
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        random_state ^= random_state << 13;
        random_state ^= random_state >> 7;
        random_state ^= random_state << 17;
        p[i] = (unsigned char)random_state;
    }
    return 0;
}

int fuzz_sources_use(idm_ctx_t *ctx)
{
    int rc = idm_ctx_set_clock(ctx, fixed_clock, NULL);
    return rc != IDM_OK ? rc : idm_ctx_set_random(ctx, fixed_random, NULL);
}
