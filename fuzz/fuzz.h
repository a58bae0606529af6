/*
 * What every fuzz target defines (libFuzzer's entry points) and what the
 * corpus replayer (replay.c) adds.  A target must not crash, leak, or read
 * or write out of bounds on any input; errors are fine.
 */
#ifndef IDM_FUZZ_H
#define IDM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <idm/context.h>

/* One input; returns 0 (libFuzzer ignores anything else). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Once, before the first input: sets up what the target keeps across
 * inputs (a store, a context).  Returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* After the last input (the replayer; libFuzzer exits without it): frees
 * what LLVMFuzzerInitialize() kept, so that LeakSanitizer and valgrind see
 * only the target's own leaks. */
void fuzz_teardown(void);

/* A scratch folder of the target's own, made on first use under $TMPDIR
 * (tmpfs when there is one: /dev/shm), removed by fuzz_teardown() or at
 * exit.  Never NULL (exits when it cannot make one). */
const char *fuzz_scratch_dir(void);

/* A reproducible clock and random source for the library, so that a store
 * built at start-up is the same in every run: fuzz_sources_reset() sets
 * the clock's next reading (each reading is 1 s after the last) and seeds
 * the random bytes (xorshift64); fuzz_sources_use() gives both to ctx.
 * Returns as idm_ctx_set_clock(). */
void fuzz_sources_reset(int64_t clock_ms, uint64_t seed);
int fuzz_sources_use(idm_ctx_t *ctx);

/* Removes the scratch folder now (a target's fuzz_teardown() calls it). */
void fuzz_remove_scratch(void);

#endif /* IDM_FUZZ_H */
