/*
 * CSV files of identities: the streaming reader (src/model/csv.c) over the
 * whole input, then the import (idm_identity_import_csv_data()) into a store.
 * Besides not crashing: every record's fields are NUL-terminated strings of
 * the length the reader gives, within its limits; an import is all or
 * nothing (a refused file leaves the number of identities as it was).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/csv.h"
#include <idm/idm.h>

/* A fresh store every so many inputs keeps the store small. */
#define INPUTS_PER_STORE 500

static idm_ctx_t *ctx;
static unsigned inputs;
static char store_path[4200];

static void check(int ok)
{
    if (!ok)
        abort();
}

static void read_all(const uint8_t *data, size_t size)
{
    idm_csv_reader *r = NULL;
    check(idm_csv_reader_open_memory(&r, (const char *)data, size) == IDM_OK);
    size_t n = 0, line = 0, last_line = 0;
    const char *const *fields = NULL;
    const size_t *lens = NULL;
    while (idm_csv_next(r, &n, &fields, &lens, &line) == IDM_OK && n > 0) {
        check(n <= IDM_CSV_MAX_FIELDS && line > last_line);
        last_line = line;
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++) {
            check(strlen(fields[i]) == lens[i] && lens[i] <= IDM_CSV_MAX_FIELD);
            bytes += lens[i];
        }
        check(bytes <= IDM_CSV_MAX_RECORD);
    }
    /* at the end (or after an error) it stays there: no record more */
    idm_csv_next(r, &n, &fields, &lens, &line);
    check(n == 0);
    idm_csv_reader_free(&r);
    check(r == NULL);
}

static void open_store(void)
{
    idm_ctx_free(&ctx);
    snprintf(store_path, sizeof store_path, "%s/csv.db", fuzz_scratch_dir());
    remove(store_path);
    char side[4300];
    snprintf(side, sizeof side, "%s-wal", store_path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", store_path);
    remove(side);
    check(idm_ctx_new(&ctx) == IDM_OK && idm_ctx_open_store(ctx, store_path) == IDM_OK);
}

static size_t identities(void)
{
    idm_identity_iter_t *it = NULL;
    idm_identity_t *who = NULL;
    size_t n = 0;
    check(idm_identity_iter_new(ctx, &it) == IDM_OK);
    while (idm_identity_iter_next(it, &who) == IDM_OK && who != NULL) {
        n++;
        idm_identity_free(&who);
    }
    idm_identity_iter_free(&it);
    return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    open_store();
    return 0;
}

void fuzz_teardown(void)
{
    idm_ctx_free(&ctx);
    fuzz_remove_scratch();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_all(data, size);
    if (++inputs % INPUTS_PER_STORE == 0)
        open_store();
    /* the first byte picks the id column: none, employeeNumber, or the
     * first header of the file */
    const char *column = NULL;
    if (size > 0 && data[0] % 3 == 1)
        column = "employeeNumber";
    else if (size > 0 && data[0] % 3 == 2)
        column = "id";
    size_t before = identities(), imported = 0;
    int rc = idm_identity_import_csv_data(ctx, "fuzz", (const char *)data, size, column,
                                          IDM_IDENTITY_ACTIVE, &imported);
    size_t after = identities();
    check(rc == IDM_OK ? after == before + imported : after == before);
    return 0;
}
