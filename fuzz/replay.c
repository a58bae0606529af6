/*
 * The corpus replayer: a main() for the fuzz targets when they are not
 * built for libFuzzer.  It feeds every file named on the command line (and
 * every file in every folder named there) to LLVMFuzzerTestOneInput(), in
 * name order, once each, so that meson test runs the seed corpora (and
 * every input that once crashed a target) under the sanitizers and
 * valgrind.  A crash is the test's failure; it prints the file first.
 *
 *   fuzz_<target> FILE|DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    size_t room = 4096, len = 0;
    unsigned char *data = malloc(room);
    size_t n;
    while (data != NULL && (n = fread(data + len, 1, room - len, f)) > 0) {
        len += n;
        if (len == room) {
            unsigned char *bigger = realloc(data, room * 2);
            if (bigger == NULL) {
                free(data);
                data = NULL;
            }
            data = bigger;
            room *= 2;
        }
    }
    int bad = ferror(f) || data == NULL;
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: cannot read it\n", path);
        free(data);
        return 1;
    }
    /* the name first: if the input crashes the target, the log says which */
    fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    /* an exact-size copy, so that ASan sees a read past the input's end */
    unsigned char *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL) {
        free(data);
        return 1;
    }
    memcpy(exact, data, len);
    free(data);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    (*count)++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, room = 0;
    const struct dirent *e;
    int bad = 0;
    while ((e = readdir(d)) != NULL && !bad) {
        if (e->d_name[0] == '.')
            continue;
        if (n == room) {
            room = room ? room * 2 : 64;
            char **more = realloc(names, room * sizeof *names);
            if (more == NULL) {
                bad = 1;
                break;
            }
            names = more;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if ((names[n] = malloc(len)) == NULL) {
            bad = 1;
            break;
        }
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (!bad)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        if (!bad)
            bad = replay_file(names[i], count);
        free(names[i]);
    }
    free(names);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            bad = 1;
        } else {
            bad = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count)
                                      : replay_file(argv[i], &count);
        }
    }
    fuzz_teardown();
    if (bad)
        return 1;
    printf("%s: %zu inputs replayed, none crashed\n", argv[0], count);
    return count > 0 ? 0 : 1;
}
