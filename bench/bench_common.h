/* What every benchmark program needs to fail loudly and check libidm calls. */
#ifndef IDM_BENCH_COMMON_H
#define IDM_BENCH_COMMON_H

/* Names the program in failure messages; call first in main(). */
void bench_init(const char *program_name);

/* Prints "<program>: <message>" on stderr and exits 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Dies with the library's detail message unless rc is IDM_OK. */
void check_idm(int rc, const char *what);

#endif /* IDM_BENCH_COMMON_H */
