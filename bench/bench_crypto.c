#include "bench_crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "bench_common.h"

void bench_check_crypto(int ok, const char *what)
{
    if (!ok) {
        char reason[256] = "no detail from OpenSSL";
        unsigned long e = ERR_peek_last_error();
        if (e != 0)
            ERR_error_string_n(e, reason, sizeof reason);
        die("%s failed: %s", what, reason);
    }
}

static int echo_issue(const idm_cert_request_t *request, idm_buffer_t *certificate,
                      void *user_data)
{
    (void)request;
    struct bench_echo_ca *e = user_data;
    uint64_t c = ++e->counter;
    unsigned char *tail = e->der + e->serial_at + e->serial_len - 8;
    for (int i = 7; i >= 0; i--, c >>= 8)
        tail[i] = (unsigned char)c;
    return idm_buffer_set(certificate, e->der, e->len) == IDM_OK ? 0 : 1;
}

static int echo_revoke(const char *serial, idm_revocation_reason reason, int64_t time_ms,
                       void *user_data)
{
    (void)serial;
    (void)reason;
    (void)time_ms;
    (void)user_data;
    return 0;
}

void bench_echo_ca_new(struct bench_echo_ca *e, const unsigned char *der, size_t len,
                       idm_ca_t **out)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL)
        die("cannot decode the library's certificate");
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    const unsigned char *v = ASN1_STRING_get0_data(sn);
    size_t n = (size_t)ASN1_STRING_length(sn);
    if (n < 9)
        die("the library's serial has %zu bytes; expected 16", n);
    memset(e, 0, sizeof *e);
    e->der = malloc(len);
    if (e->der == NULL)
        die("out of memory");
    memcpy(e->der, der, len);
    e->len = len;
    e->serial_len = n;
    for (size_t i = 2; i + n <= len && e->serial_at == 0; i++) {
        if (der[i - 2] == 0x02 && der[i - 1] == n && memcmp(der + i, v, n) == 0)
            e->serial_at = i;
    }
    X509_free(x);
    if (e->serial_at == 0)
        die("cannot find the serial number in the library's certificate");
    idm_ca_ops ops = IDM_CA_OPS_INIT;
    ops.issue = echo_issue;
    ops.revoke = echo_revoke;
    check_idm(idm_ca_new(out, &ops, sizeof ops, e, NULL), "idm_ca_new");
}

void bench_echo_ca_clear(struct bench_echo_ca *e)
{
    free(e->der);
    e->der = NULL;
}
