/*
 * Certificate and SubjectPublicKeyInfo bytes from outside: the DER a host
 * CA returns for a card's key (idm_cert_parse(), with and without the key it
 * must certify) and the SPKI a card or a host hands over (idm_spki_check()).
 * Besides not crashing: a certificate that parses has a serial (a CA may
 * sign anything else it likes), and no call leaves OpenSSL errors queued for
 * the next caller.
 */
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "backends/ca/ca_impl.h"
#include "fuzz.h"
#include "model/cert_impl.h"
#include "model/records.h"
#include <idm/error.h>

static unsigned char *spki;
static int spki_len;

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* the key a host CA is asked to certify: a fixed P-256 key */
    EVP_PKEY *key = EVP_EC_gen("P-256");
    spki_len = key != NULL ? i2d_PUBKEY(key, &spki) : -1;
    EVP_PKEY_free(key);
    check(spki_len > 0);
    return 0;
}

void fuzz_teardown(void)
{
    OPENSSL_free(spki);
    spki = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct idm_cert_rec rec;
    for (int with_key = 0; with_key < 2; with_key++) {
        memset(&rec, 0, sizeof rec);
        int rc = idm_cert_parse(data, size, with_key ? spki : NULL, with_key ? (size_t)spki_len : 0,
                                &rec);
        if (rc == IDM_OK)
            check(rec.serial != NULL && rec.serial[0] != '\0');
        check(ERR_peek_error() == 0);
        idm_cert_rec_clear(&rec);
    }
    int is_rsa = -1;
    if (idm_spki_check(data, size, &is_rsa) == IDM_OK)
        check(is_rsa == 0 || is_rsa == 1);
    check(ERR_peek_error() == 0);
    return 0;
}
