/*
 * Files the library hands to other programs (bureau spools, maildirs):
 * written whole or not at all, and what a killed writer leaves behind
 * cleaned up.  Plain POSIX; errors are errno values, so that each caller
 * words them with its own paths.
 */
#ifndef IDM_CORE_FILES_H
#define IDM_CORE_FILES_H

#include <stddef.h>

/* Writes data into tmp_dir/tmp_name (created exclusively, mode 0600,
 * fsynced), renames it to dest_dir/name (replacing a file of that name)
 * and fsyncs dest_dir.  A stale tmp_name (left by an earlier process with
 * the same pid) is removed first.  Returns 0, or -1 with errno set, *step
 * naming what failed ("create", "write", "rename" or "sync"), and the
 * temporary file removed. */
int idm_file_write_atomic(int tmp_dir, const char *tmp_name, int dest_dir, const char *name,
                          const void *data, size_t len, const char **step);

/* Removes from dir the files named "<anything>.<pid><suffix>" whose process
 * no longer runs: what a writer killed between create and rename left.
 * Files of live processes and other names are kept.  Returns how many were
 * removed, or -1 with errno set when dir cannot be read. */
int idm_file_sweep_dead(int dir, const char *suffix);

#endif /* IDM_CORE_FILES_H */
