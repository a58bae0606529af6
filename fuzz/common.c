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
