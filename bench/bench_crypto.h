/*
 * What the benchmarks that call libcrypto share: a check that dies with
 * OpenSSL's reason, and an echo CA: a host CA that signs nothing and returns
 * the library's first certificate with a new serial patched in, so that
 * idm_card_issue_certificate() with it runs everything the built-in CA's
 * issue runs but the signing.  1/library - 1/echo is then what the
 * built-in CA's own issue costs.
 */
#ifndef IDM_BENCH_CRYPTO_H
#define IDM_BENCH_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <idm/idm.h>

/* For libcrypto calls: dies with OpenSSL's last error unless ok. */
void bench_check_crypto(int ok, const char *what);

struct bench_echo_ca {
    unsigned char *der; /* the library's first certificate */
    size_t len;
    size_t serial_at;   /* offset of the serial's content bytes */
    size_t serial_len;
    uint64_t counter;
};

/* Copies the certificate and finds its serial (it leads the TBS), then
 * registers the echo CA in *out.  Dies on failure. */
void bench_echo_ca_new(struct bench_echo_ca *e, const unsigned char *der, size_t len,
                       idm_ca_t **out);

/* Frees what bench_echo_ca_new() copied (the CA handle is the caller's). */
void bench_echo_ca_clear(struct bench_echo_ca *e);

#endif /* IDM_BENCH_CRYPTO_H */
