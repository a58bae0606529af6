#include "fixtures.h"
#include "runner.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t test_clock(void *user_data)
{
    int64_t *now = user_data;
    int64_t t = *now;
    *now += 1000;
    return t;
}

/* One clock per process is enough: tests run one context at a time. */
static int64_t clock_now = INT64_C(1767225600000); /* 2026-01-01T00:00:00Z */

void fixture_remove_store(const char *path)
{
    char side[4096];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static const char *tmp_base(void)
{
    const char *dir = getenv("IDM_TEST_TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    mkdir(dir, 0755);
    return dir;
}

void fixture_scratch_dir(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s-XXXXXX", tmp_base(), name);
    ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp %s: %s", out, strerror(errno));
}

void fixture_remove_tree(const char *path)
{
    struct stat st;
    if (path[0] == '\0' || lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        (void)unlink(path);
        return;
    }
    (void)chmod(path, 0700);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        fixture_remove_tree(child);
    }
    if (d != NULL)
        closedir(d);
    (void)rmdir(path);
}

const char *fixture_store_path(const char *name)
{
    static char path[4096];
    static unsigned counter;
    const char *dir = tmp_base();
    snprintf(path, sizeof path, "%s/%s-%ld-%u.db", dir, name, (long)getpid(), counter++);
    fixture_remove_store(path);
    return path;
}

idm_ctx_t *fixture_ctx(const char *path)
{
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_clock(ctx, test_clock, &clock_now), IDM_OK);
    int rc = idm_ctx_open_store(ctx, path);
    ck_assert_msg(rc == IDM_OK, "cannot open store %s: %s", path, idm_last_error_message());
    return ctx;
}

idm_identity_t *fixture_person(idm_ctx_t *ctx, const char *external_id, const char *given,
                               const char *surname)
{
    idm_identity_t *p = NULL;
    ck_assert_int_eq(idm_identity_new(ctx, "test", external_id, &p), IDM_OK);
    ck_assert_int_eq(idm_identity_set_attribute(p, "test", "givenName", given), IDM_OK);
    ck_assert_int_eq(idm_identity_set_attribute(p, "test", "surname", surname), IDM_OK);
    ck_assert_int_eq(idm_identity_set_attribute(p, "test", "employeeNumber", external_id), IDM_OK);
    ck_assert_int_eq(idm_identity_set_state(p, "test", IDM_IDENTITY_ACTIVE), IDM_OK);
    return p;
}

void fixture_certificate(const char *serial_hex, int64_t not_before, int64_t not_after,
                         unsigned char **der, size_t *der_len)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(key);
    X509 *x = X509_new();
    ck_assert_ptr_nonnull(x);
    BIGNUM *bn = NULL;
    ck_assert_int_ne(BN_hex2bn(&bn, serial_hex), 0);
    ck_assert_ptr_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
    BN_free(bn);
    ck_assert_int_eq(X509_set_version(x, 2), 1);
    ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before));
    ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after));
    X509_NAME *name = X509_get_subject_name(x);
    ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"libidm test", -1, -1, 0),
                     1);
    ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
    ck_assert_int_eq(X509_set_pubkey(x, key), 1);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    unsigned char *buf = NULL;
    int len = i2d_X509(x, &buf);
    ck_assert_int_gt(len, 0);
    *der = malloc((size_t)len);
    ck_assert_ptr_nonnull(*der);
    memcpy(*der, buf, (size_t)len);
    *der_len = (size_t)len;
    OPENSSL_free(buf);
    X509_free(x);
    EVP_PKEY_free(key);
}

void fixture_count_certs(idm_ctx_t *ctx, int64_t card_id, int *live, int *superseded,
                         int *other_revoked)
{
    idm_cert_iter_t *it = NULL;
    idm_cert_t *c = NULL;
    *live = *superseded = *other_revoked = 0;
    ck_assert_int_eq(idm_cert_iter_new(ctx, card_id, &it), IDM_OK);
    while (idm_cert_iter_next(it, &c) == IDM_OK && c != NULL) {
        idm_cert_state s;
        ck_assert_int_eq(idm_cert_get_state(c, &s), IDM_OK);
        if (s == IDM_CERT_REVOKED) {
            idm_revocation_reason why;
            ck_assert_int_eq(idm_cert_get_revocation(c, &why, NULL), IDM_OK);
            *(why == IDM_REVOKE_SUPERSEDED ? superseded : other_revoked) += 1;
        } else {
            (*live)++;
        }
        idm_cert_free(&c);
    }
    idm_cert_iter_free(&it);
}

idm_card_state fixture_card_state(idm_ctx_t *ctx, int64_t card_id)
{
    idm_card_t *c = NULL;
    idm_card_state s;
    ck_ok(idm_card_open(ctx, card_id, &c));
    ck_ok(idm_card_get_state(c, &s));
    idm_card_free(&c);
    return s;
}

idm_order_state fixture_order_state(idm_order_t *order)
{
    idm_order_state s;
    ck_ok(idm_order_refresh(order));
    ck_ok(idm_order_get_state(order, &s));
    return s;
}

int64_t fixture_count_outcome(const idm_order_t *order, idm_order_card_outcome outcome)
{
    int64_t n = -1;
    ck_ok(idm_order_count_cards(order, outcome, &n));
    return n;
}

idm_order_card_outcome fixture_card_outcome(const idm_order_t *order, int64_t card_id,
                                            char *reason, size_t size, int *attempt)
{
    idm_buffer_t *text = NULL;
    idm_order_card_outcome outcome;
    const unsigned char *p;
    size_t len;
    ck_ok(idm_buffer_new(&text));
    ck_ok(idm_order_get_card_outcome(order, card_id, &outcome, attempt, text));
    ck_ok(idm_buffer_get(text, &p, &len));
    if (reason != NULL)
        snprintf(reason, size, "%.*s", (int)len, (const char *)p);
    idm_buffer_free(&text);
    return outcome;
}

#define FIXTURE_PASSPHRASE "fixture CA passphrase"

int fixture_passphrase(char *buf, size_t size, void *user_data)
{
    (void)user_data;
    size_t n = strlen(FIXTURE_PASSPHRASE);
    if (n > size)
        return -1;
    memcpy(buf, FIXTURE_PASSPHRASE, n);
    return (int)n;
}

void fixture_export_ca(idm_ca_t *ca, char **cert_pem, char **key_pem)
{
    idm_buffer_t *der = NULL, *key = NULL;
    const unsigned char *p;
    size_t len;
    ck_ok(idm_buffer_new(&der));
    ck_ok(idm_buffer_new(&key));
    ck_ok(idm_ca_get_certificate(ca, der));
    ck_ok(idm_ca_export_key(ca, fixture_passphrase, NULL, key));
    ck_ok(idm_buffer_get(der, &p, &len));
    X509 *x = d2i_X509(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(x);
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_X509(bio, x), 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    *cert_pem = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(*cert_pem);
    memcpy(*cert_pem, data, (size_t)n);
    ck_ok(idm_buffer_get(key, &p, &len));
    *key_pem = calloc(1, len + 1);
    ck_assert_ptr_nonnull(*key_pem);
    memcpy(*key_pem, p, len);
    BIO_free(bio);
    X509_free(x);
    idm_buffer_free(&der);
    idm_buffer_free(&key);
}

idm_card_state fixture_state_of(idm_card_t *card)
{
    idm_card_state s;
    ck_ok(idm_card_refresh(card));
    ck_ok(idm_card_get_state(card, &s));
    return s;
}

long fixture_count_rows(const char *path, const char *sql)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"%s\"", path, sql);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[64] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    pclose(p);
    return atol(line);
}

void fixture_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

unsigned char *fixture_read_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, used = 0, n;
    unsigned char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    while ((n = fread(buf + used, 1, cap - used, f)) > 0) {
        used += n;
        if (used == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    *len = used;
    return buf;
}
