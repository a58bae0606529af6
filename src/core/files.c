#include "core/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Fails a step: the temporary file goes, errno stays. */
static int fail(int tmp_dir, const char *tmp_name, const char *what, const char **step)
{
    int err = errno;
    (void)unlinkat(tmp_dir, tmp_name, 0);
    *step = what;
    errno = err;
    return -1;
}

int idm_file_write_atomic(int tmp_dir, const char *tmp_name, int dest_dir, const char *name,
                          const void *data, size_t len, const char **step)
{
    (void)unlinkat(tmp_dir, tmp_name, 0);
    int fd = openat(tmp_dir, tmp_name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
                    0600);
    if (fd < 0) {
        *step = "create";
        return -1;
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return fail(tmp_dir, tmp_name, "write", step);
    }
    if (close(fd) != 0)
        return fail(tmp_dir, tmp_name, "write", step);
    if (renameat(tmp_dir, tmp_name, dest_dir, name) != 0)
        return fail(tmp_dir, tmp_name, "rename", step);
    if (fsync(dest_dir) != 0) {
        *step = "sync";
        return -1;
    }
    return 0;
}

/* The pid in "<anything>.<pid><suffix>", or 0. */
static pid_t writer_pid(const char *name, const char *suffix)
{
    size_t len = strlen(name), sl = strlen(suffix);
    if (len <= sl || strcmp(name + len - sl, suffix) != 0)
        return 0;
    size_t end = len - sl, start = end;
    while (start > 0 && name[start - 1] >= '0' && name[start - 1] <= '9')
        start--;
    if (start == end || start == 0 || name[start - 1] != '.' || end - start > 9)
        return 0;
    return (pid_t)strtol(name + start, NULL, 10);
}

int idm_file_sweep_dead(int dir, const char *suffix)
{
    int fd = dup(dir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        errno = err;
        return -1;
    }
    rewinddir(d); /* the duplicate shares the offset of dir */
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        pid_t pid = writer_pid(e->d_name, suffix);
        if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH &&
            unlinkat(dir, e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
