/*
 * idm-bench-ca-issue [SECONDS]: how many certificates per second one core
 * issues with the built-in OpenSSL CA (idm_ca_new_openssl()) through the
 * public API, for a P-256 and for an RSA-2048 CA key, each measurement
 * running SECONDS (default 3, fractions allowed), and how that compares
 * with references measured in the same run:
 *
 *   library   idm_card_issue_certificate() on a ":memory:" store, a new
 *             attempt number per call so that each call issues a new
 *             certificate (one approved employee card of an active identity,
 *             usage authentication, one P-256 card key);
 *   naive     the same certificate built the naive way with plain libcrypto:
 *             X509_new, every field set, the card key decoded (d2i_PUBKEY)
 *             and every extension rebuilt from text (X509V3_EXT_conf_nid)
 *             per certificate, X509_sign with EVP_sha256();
 *   raw sign  `openssl speed -seconds N ecdsap256` / `rsa2048`: the bare
 *             signature speed of the CA key type.
 *
 * Two more measurements split the library figure into the CA and the rest:
 *
 *   repeat    idm_card_issue_certificate() with an attempt already issued:
 *             the library finds the key in its journal and returns the
 *             recorded certificate without asking the CA;
 *   echo CA   idm_card_issue_certificate() with a host CA (idm_ca_new())
 *             that signs nothing: it returns the library's first certificate
 *             with a new serial patched in.  Everything but the CA runs as in
 *             "library" (journal, request, key check, parse, record, audit),
 *             so 1/library - 1/echo is what the built-in CA's issue costs.
 *
 * One more reference explains most of the figures: the time libcrypto takes
 * to decode the card's SubjectPublicKeyInfo (d2i_PUBKEY), which the library
 * path and the naive path both do (see README.md).
 *
 * Single-threaded: the figures are per core.  Each measurement runs in
 * ROUNDS slices interleaved with the others (a load change on the machine
 * hits them all alike) and the median slice is reported, with the range.
 * The naive certificate is checked against the library's (same subject,
 * issuer, key, validity span, extensions byte for byte, signature
 * algorithm; both verify with the CA key) before it is timed.  Any failure
 * prints its reason and exits 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <idm/idm.h>

#include "bench_common.h"
#include "bench_crypto.h"

#define DEFAULT_SECONDS 3.0
#define ROUNDS 3 /* each measurement in this many interleaved slices */
#define MAX_SECONDS 3600.0
#define ACTOR "idm-bench-ca-issue"
#define CA_NAME "libidm Bench Issuing CA"
#define GIVEN_NAME "Ada"
#define SURNAME "Lovelace"
#define COMMON_NAME GIVEN_NAME " " SURNAME /* the default common_name_template */
#define MAIL "ada.lovelace@example.com"
#define UPN "ada.lovelace@corp.example"
#define VALIDITY_DAYS 1095 /* the default cert_validity_days */
#define PASSPHRASE "bench-passphrase"

/* ---- the raw signature speed: openssl speed ------------------------------ */

/*
 * Runs `openssl speed -seconds N ALG` and returns its sign/s, or -1 (with
 * why saying why) when openssl is missing or its output is not understood.
 * The column is found by its header, counted from the right, since OpenSSL
 * 3.2 added encrypt/decrypt columns to the RSA table.
 */
static double openssl_speed(const char *alg, int seconds, char *why, size_t why_size)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "openssl speed -seconds %d %s 2>/dev/null", seconds, alg);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        snprintf(why, why_size, "cannot run openssl speed %s: %s", alg, strerror(errno));
        return -1;
    }
    char line[512];
    int from_right = 0;
    double sign_per_s = -1;
    while (fgets(line, sizeof line, p) != NULL) {
        char *tok[32];
        int n = 0;
        for (char *t = strtok(line, " \t\n"); t != NULL && n < 32; t = strtok(NULL, " \t\n"))
            tok[n++] = t;
        if (n == 0)
            continue;
        int header = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(tok[i], "sign/s") == 0) {
                from_right = n - i;
                header = 1;
            }
        }
        if (header || from_right == 0 || n < from_right)
            continue;
        char *end = NULL;
        double v = strtod(tok[n - from_right], &end);
        if (end != tok[n - from_right] && *end == '\0' && v > 0)
            sign_per_s = v; /* the last data line wins */
    }
    int status = pclose(p);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
            snprintf(why, why_size, "the openssl command is missing");
        else
            snprintf(why, why_size, "openssl speed %s failed (status %d)", alg, status);
        return -1;
    }
    if (sign_per_s < 0)
        snprintf(why, why_size, "no sign/s column in the output of openssl speed %s", alg);
    return sign_per_s;
}

/* ---- the library: a card to issue for ------------------------------------ */

struct setup {
    idm_ctx_t *ctx;
    idm_card_t *card;
    idm_ca_t *ca;
    const unsigned char *spki;
    size_t spki_len;
    int *next_attempt; /* shared by the setups of one card */
};

static void make_card(struct setup *s)
{
    check_idm(idm_ctx_new(&s->ctx), "idm_ctx_new");
    check_idm(idm_ctx_open_store(s->ctx, ":memory:"), "idm_ctx_open_store");
    idm_identity_t *who = NULL;
    check_idm(idm_identity_new(s->ctx, ACTOR, "E0000001", &who), "idm_identity_new");
    check_idm(idm_identity_set_attribute(who, ACTOR, "givenName", GIVEN_NAME),
              "idm_identity_set_attribute");
    check_idm(idm_identity_set_attribute(who, ACTOR, "surname", SURNAME),
              "idm_identity_set_attribute");
    check_idm(idm_identity_set_attribute(who, ACTOR, "mail", MAIL), "idm_identity_set_attribute");
    check_idm(idm_identity_set_upn(who, ACTOR, UPN), "idm_identity_set_upn");
    check_idm(idm_identity_set_state(who, ACTOR, IDM_IDENTITY_ACTIVE), "idm_identity_set_state");
    int64_t who_id = 0;
    check_idm(idm_identity_get_id(who, &who_id), "idm_identity_get_id");
    idm_identity_free(&who);
    check_idm(idm_card_new(s->ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                           IDM_PRODUCTION_LOCAL, who_id, NULL, &s->card),
              "idm_card_new");
    check_idm(idm_card_set_state(s->card, ACTOR, IDM_CARD_REQUESTED, NULL), "idm_card_set_state");
    check_idm(idm_card_set_state(s->card, ACTOR, IDM_CARD_APPROVED, NULL), "idm_card_set_state");
}

/* One library issue with a new attempt: a new certificate each call. */
static void issue_new(void *arg)
{
    struct setup *s = arg;
    idm_cert_t *cert = NULL;
    check_idm(idm_card_issue_certificate(s->card, ACTOR, s->ca, IDM_USAGE_AUTHENTICATION, s->spki,
                                         s->spki_len, (*s->next_attempt)++, &cert),
              "idm_card_issue_certificate");
    idm_cert_free(&cert);
}

struct repeat {
    struct setup *s;
    int64_t cert_id; /* the certificate of attempt 1 */
};

/* One library issue of attempt 1 again: the recorded certificate back. */
static void issue_again(void *arg)
{
    struct repeat *r = arg;
    idm_cert_t *cert = NULL;
    int64_t id = 0;
    check_idm(idm_card_issue_certificate(r->s->card, ACTOR, r->s->ca, IDM_USAGE_AUTHENTICATION,
                                         r->s->spki, r->s->spki_len, 1, &cert),
              "idm_card_issue_certificate (repeated attempt)");
    check_idm(idm_cert_get_id(cert, &id), "idm_cert_get_id");
    if (id != r->cert_id)
        die("a repeated attempt returned certificate %lld; expected %lld", (long long)id,
            (long long)r->cert_id);
    idm_cert_free(&cert);
}

/* Counts the card's certificates in the store. */
static long count_certificates(struct setup *s)
{
    int64_t card_id = 0;
    check_idm(idm_card_get_id(s->card, &card_id), "idm_card_get_id");
    idm_cert_iter_t *it = NULL;
    idm_cert_t *cert = NULL;
    long n = 0;
    check_idm(idm_cert_iter_new(s->ctx, card_id, &it), "idm_cert_iter_new");
    for (;;) {
        check_idm(idm_cert_iter_next(it, &cert), "idm_cert_iter_next");
        if (cert == NULL)
            break;
        n++;
        idm_cert_free(&cert);
    }
    idm_cert_iter_free(&it);
    return n;
}

/* ---- the naive reference: plain libcrypto, everything per certificate ---- */

struct naive {
    X509 *ca_cert;
    EVP_PKEY *ca_key;
    const unsigned char *spki;
    size_t spki_len;
    X509 *keep; /* the last certificate, freed by the next call */
};

static void naive_ext(X509 *issuer, X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    bench_check_crypto(ext != NULL && X509_add_ext(x, ext, -1) == 1, "naive: an extension");
    X509_EXTENSION_free(ext);
}

static void naive_issue(void *arg)
{
    struct naive *nv = arg;
    X509 *x = X509_new();
    bench_check_crypto(x != NULL, "naive: X509_new");
    bench_check_crypto(X509_set_version(x, X509_VERSION_3), "naive: X509_set_version");

    /* A random positive 128-bit serial. */
    BIGNUM *bn = BN_new();
    bench_check_crypto(bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
                     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL,
                 "naive: serial");
    BN_free(bn);

    bench_check_crypto(X509_set_issuer_name(x, X509_get_subject_name(nv->ca_cert)),
                 "naive: X509_set_issuer_name");
    time_t now = time(NULL);
    bench_check_crypto(ASN1_TIME_set(X509_getm_notBefore(x), now) != NULL &&
                     ASN1_TIME_set(X509_getm_notAfter(x),
                                   now + (time_t)VALIDITY_DAYS * 86400) != NULL,
                 "naive: validity");
    bench_check_crypto(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                            (const unsigned char *)COMMON_NAME, -1, -1, 0),
                 "naive: subject");

    /* The card key, decoded from its SPKI. */
    const unsigned char *p = nv->spki;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)nv->spki_len);
    bench_check_crypto(pub != NULL && X509_set_pubkey(x, pub), "naive: d2i_PUBKEY/X509_set_pubkey");
    EVP_PKEY_free(pub);

    /* Every extension from text, in the library's order. */
    naive_ext(nv->ca_cert, x, NID_basic_constraints, "critical,CA:FALSE");
    naive_ext(nv->ca_cert, x, NID_key_usage, "critical,digitalSignature");
    naive_ext(nv->ca_cert, x, NID_ext_key_usage, "clientAuth,1.3.6.1.4.1.311.20.2.2");
    naive_ext(nv->ca_cert, x, NID_authority_key_identifier, "keyid:always");
    naive_ext(nv->ca_cert, x, NID_subject_key_identifier, "hash");
    naive_ext(nv->ca_cert, x, NID_subject_alt_name,
              "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:" UPN ",email:" MAIL);

    bench_check_crypto(X509_sign(x, nv->ca_key, EVP_sha256()) > 0, "naive: X509_sign");
    /* The library hands back DER; so does the reference. */
    unsigned char *der = NULL;
    bench_check_crypto(i2d_X509(x, &der) > 0, "naive: i2d_X509");
    OPENSSL_free(der);
    if (nv->keep != NULL)
        X509_free(nv->keep);
    nv->keep = x;
}

/* Dies unless the naive certificate is the library's but for serial,
 * times and signature value. */
static void compare_certificates(X509 *lib, X509 *ref, EVP_PKEY *ca_pub)
{
    bench_check_crypto(X509_verify(lib, ca_pub) == 1, "verifying the library's certificate");
    bench_check_crypto(X509_verify(ref, ca_pub) == 1, "verifying the naive certificate");
    if (X509_NAME_cmp(X509_get_subject_name(lib), X509_get_subject_name(ref)) != 0)
        die("the naive certificate's subject differs from the library's");
    if (X509_NAME_cmp(X509_get_issuer_name(lib), X509_get_issuer_name(ref)) != 0)
        die("the naive certificate's issuer differs from the library's");
    if (X509_get_signature_nid(lib) != X509_get_signature_nid(ref))
        die("the naive certificate's signature algorithm differs from the library's");
    if (X509_get_version(lib) != X509_get_version(ref))
        die("the naive certificate's version differs from the library's");
    unsigned char *a = NULL, *b = NULL;
    int alen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(lib), &a);
    int blen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ref), &b);
    int same_key = alen > 0 && alen == blen && memcmp(a, b, (size_t)alen) == 0;
    OPENSSL_free(a);
    OPENSSL_free(b);
    if (!same_key)
        die("the naive certificate's public key differs from the library's");
    int ldays, lsecs, rdays, rsecs;
    bench_check_crypto(ASN1_TIME_diff(&ldays, &lsecs, X509_get0_notBefore(lib), X509_get0_notAfter(lib)) &&
                     ASN1_TIME_diff(&rdays, &rsecs, X509_get0_notBefore(ref),
                                    X509_get0_notAfter(ref)),
                 "ASN1_TIME_diff");
    if (ldays != rdays || lsecs != rsecs)
        die("the validity spans differ: library %d days %d s, naive %d days %d s", ldays, lsecs,
            rdays, rsecs);
    int n = X509_get_ext_count(lib);
    if (n != X509_get_ext_count(ref))
        die("the library's certificate has %d extensions, the naive one %d", n,
            X509_get_ext_count(ref));
    for (int i = 0; i < n; i++) {
        X509_EXTENSION *le = X509_get_ext(lib, i);
        X509_EXTENSION *re = X509_get_ext(ref, i);
        char name[80];
        OBJ_obj2txt(name, sizeof name, X509_EXTENSION_get_object(le), 0);
        if (OBJ_cmp(X509_EXTENSION_get_object(le), X509_EXTENSION_get_object(re)) != 0 ||
            X509_EXTENSION_get_critical(le) != X509_EXTENSION_get_critical(re) ||
            ASN1_STRING_cmp(X509_EXTENSION_get_data(le), X509_EXTENSION_get_data(re)) != 0)
            die("extension %d (%s) differs between the library's and the naive certificate", i,
                name);
    }
}

/* ---- decoding the card key ---------------------------------------------- */

struct spki_ref {
    const unsigned char *spki;
    size_t len;
};

static void decode_spki(void *arg)
{
    const struct spki_ref *r = arg;
    const unsigned char *p = r->spki;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)r->len);
    bench_check_crypto(key != NULL, "d2i_PUBKEY");
    EVP_PKEY_free(key);
}

/* ---- one CA key type ----------------------------------------------------- */

/* A measurement taken in ROUNDS rounds, interleaved with the others so that
 * a change in the machine's load hits them all alike; the median counts. */
struct series {
    struct bench_rate round[ROUNDS];
};

static void add_round(struct series *se, int i, void (*fn)(void *), void *arg, double seconds)
{
    se->round[i] = bench_measure(fn, arg, seconds);
}

static int by_rate(const void *a, const void *b)
{
    double x = bench_per_second(a), y = bench_per_second(b);
    return (x > y) - (x < y);
}

/* The round with the median rate; lo and hi receive the extremes (may be NULL). */
static struct bench_rate median(const struct series *se, double *lo, double *hi)
{
    struct bench_rate sorted[ROUNDS];
    memcpy(sorted, se->round, sizeof sorted);
    qsort(sorted, ROUNDS, sizeof sorted[0], by_rate);
    if (lo != NULL)
        *lo = bench_per_second(&sorted[0]);
    if (hi != NULL)
        *hi = bench_per_second(&sorted[ROUNDS - 1]);
    return sorted[ROUNDS / 2];
}

static long total_count(const struct series *se)
{
    long n = 0;
    for (int i = 0; i < ROUNDS; i++)
        n += se->round[i].count;
    return n;
}

struct key_result {
    const char *name;
    struct series library, repeat, echo, naive, decode;
    size_t lib_der_len, naive_der_len;
    double raw_sign;
    char raw_why[160]; /* why there is no raw_sign */
};

static int passphrase(char *buf, size_t size, void *user_data)
{
    (void)user_data;
    size_t n = strlen(PASSPHRASE);
    if (n > size)
        return -1;
    memcpy(buf, PASSPHRASE, n);
    return (int)n;
}

static int passphrase_pem(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    return passphrase(buf, (size_t)size, u);
}

/* The built-in CA's certificate and key, as plain libcrypto objects. */
static void load_ca_for_naive(idm_ca_t *ca, struct naive *nv)
{
    idm_buffer_t *buf = NULL;
    const unsigned char *data = NULL;
    size_t len = 0;
    check_idm(idm_buffer_new(&buf), "idm_buffer_new");
    check_idm(idm_ca_get_certificate(ca, buf), "idm_ca_get_certificate");
    check_idm(idm_buffer_get(buf, &data, &len), "idm_buffer_get");
    const unsigned char *p = data;
    nv->ca_cert = d2i_X509(NULL, &p, (long)len);
    bench_check_crypto(nv->ca_cert != NULL, "decoding the CA certificate");
    check_idm(idm_ca_export_key(ca, passphrase, NULL, buf), "idm_ca_export_key");
    check_idm(idm_buffer_get(buf, &data, &len), "idm_buffer_get");
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    bench_check_crypto(bio != NULL, "BIO_new_mem_buf");
    nv->ca_key = PEM_read_bio_PrivateKey(bio, NULL, passphrase_pem, NULL);
    bench_check_crypto(nv->ca_key != NULL, "reading the exported CA key");
    BIO_free(bio);
    idm_buffer_free(&buf);
}

static void run_key(idm_key_type type, const char *speed_alg, const unsigned char *spki,
                    size_t spki_len, double seconds, struct key_result *out)
{
    /* One card; the built-in CA and the echo issue for it in turn, each
     * call with the next attempt number. */
    int next_attempt = 2;
    struct setup lib;
    memset(&lib, 0, sizeof lib);
    lib.spki = spki;
    lib.spki_len = spki_len;
    lib.next_attempt = &next_attempt;
    make_card(&lib);
    check_idm(idm_ca_new_openssl(&lib.ca, lib.ctx, type, CA_NAME, 3650), "idm_ca_new_openssl");

    /* Attempt 1: the certificate the others are compared with. */
    idm_cert_t *first = NULL;
    check_idm(idm_card_issue_certificate(lib.card, ACTOR, lib.ca, IDM_USAGE_AUTHENTICATION, spki,
                                         spki_len, 1, &first),
              "idm_card_issue_certificate");
    const unsigned char *first_der = NULL;
    size_t first_len = 0;
    int64_t first_id = 0;
    check_idm(idm_cert_get_der(first, &first_der, &first_len), "idm_cert_get_der");
    check_idm(idm_cert_get_id(first, &first_id), "idm_cert_get_id");
    const unsigned char *p = first_der;
    X509 *lib_cert = d2i_X509(NULL, &p, (long)first_len);
    bench_check_crypto(lib_cert != NULL, "decoding the library's certificate");
    out->lib_der_len = first_len;

    /* The same attempt again: the recorded certificate, no CA call. */
    struct repeat rep = {&lib, first_id};

    /* An echo CA: everything but the signing, for the (a - echo) figure. */
    struct bench_echo_ca st;
    struct setup echo = lib;
    echo.ca = NULL;
    bench_echo_ca_new(&st, first_der, first_len, &echo.ca);

    /* The naive reference, with the same CA key and certificate, checked
     * against the library's certificate before it is timed. */
    struct naive nv = {NULL, NULL, spki, spki_len, NULL};
    load_ca_for_naive(lib.ca, &nv);
    naive_issue(&nv);
    compare_certificates(lib_cert, nv.keep, X509_get0_pubkey(nv.ca_cert));
    unsigned char *der = NULL;
    int der_len = i2d_X509(nv.keep, &der);
    bench_check_crypto(der_len > 0, "i2d_X509");
    OPENSSL_free(der);
    out->naive_der_len = (size_t)der_len;

    struct spki_ref card_spki = {spki, spki_len};

    /* Warm-ups, then the rounds. */
    issue_new(&lib);
    issue_again(&rep);
    issue_new(&echo);
    decode_spki(&card_spki);
    double slice = seconds / ROUNDS;
    for (int i = 0; i < ROUNDS; i++) {
        add_round(&out->library, i, issue_new, &lib, slice);    /* (a) */
        add_round(&out->repeat, i, issue_again, &rep, slice);
        add_round(&out->echo, i, issue_new, &echo, slice);
        add_round(&out->naive, i, naive_issue, &nv, slice);     /* (b) */
        add_round(&out->decode, i, decode_spki, &card_spki, slice);
    }

    /* Every new-attempt call issued and recorded a certificate of its own. */
    long expected = 1 + 2 + total_count(&out->library) + total_count(&out->echo);
    long stored = count_certificates(&lib);
    if (stored != expected)
        die("the store holds %ld certificates of the card; expected %ld", stored, expected);

    /* (c) the raw signature speed of this key type. */
    int speed_seconds = (int)seconds; /* openssl speed takes whole seconds: round up */
    if ((double)speed_seconds < seconds)
        speed_seconds++;
    out->raw_sign = openssl_speed(speed_alg, speed_seconds, out->raw_why, sizeof out->raw_why);

    X509_free(nv.keep);
    X509_free(nv.ca_cert);
    EVP_PKEY_free(nv.ca_key);
    X509_free(lib_cert);
    idm_cert_free(&first);
    idm_ca_free(&echo.ca);
    free(st.der);
    idm_card_free(&lib.card);
    idm_ca_free(&lib.ca);
    idm_ctx_free(&lib.ctx);
}

/* ---- main --------------------------------------------------------------- */

static double parse_seconds(int argc, char **argv)
{
    if (argc > 2)
        die("usage: idm-bench-ca-issue [SECONDS]");
    if (argc < 2)
        return DEFAULT_SECONDS;
    char *end = NULL;
    errno = 0;
    double v = strtod(argv[1], &end);
    if (errno != 0 || end == argv[1] || *end != '\0' || !(v > 0.0) || v > MAX_SECONDS)
        die("SECONDS is '%s'; expected a number above 0 and at most %.0f", argv[1], MAX_SECONDS);
    return v;
}

static void print_series(const char *label, const struct series *se)
{
    double lo, hi;
    struct bench_rate m = median(se, &lo, &hi);
    printf("  %-38s %8.0f /s %8.1f us   (%ld calls; rounds %.0f..%.0f /s)\n", label,
           bench_per_second(&m), bench_micros(&m), total_count(se), lo, hi);
}

static void print_details(const struct key_result *r)
{
    printf("\n%s CA key, P-256 card key, authentication profile:\n", r->name);
    print_series("(a) library, new attempt per call", &r->library);
    print_series("    library, repeated attempt", &r->repeat);
    print_series("    library, echo CA (signs nothing)", &r->echo);
    print_series("(b) naive libcrypto reference", &r->naive);
    print_series("    d2i_PUBKEY of the card key", &r->decode);
    struct bench_rate lib = median(&r->library, NULL, NULL), rep = median(&r->repeat, NULL, NULL);
    struct bench_rate echo = median(&r->echo, NULL, NULL);
    double ca_us = bench_micros(&lib) - bench_micros(&echo);
    if (ca_us > 0)
        printf("  => built-in CA's issue (a - echo)      %8.0f /s %8.1f us\n", 1e6 / ca_us, ca_us);
    else
        printf("  => built-in CA's issue (a - echo)      below the noise\n");
    printf("  => a new certificate over a repeat     %8s    %8.1f us\n", "",
           bench_micros(&lib) - bench_micros(&rep));
    if (r->raw_sign > 0)
        printf("(c) raw signature (openssl speed)        %8.0f /s %8.1f us\n", r->raw_sign,
               1e6 / r->raw_sign);
    else
        printf("(c) raw signature (openssl speed)        n/a: %s\n", r->raw_why);
    printf("  certificate: library %zu bytes, naive %zu bytes (same fields and extensions)\n",
           r->lib_der_len, r->naive_der_len);
}

int main(int argc, char **argv)
{
    bench_init("idm-bench-ca-issue");
    double seconds = parse_seconds(argc, argv);
    bench_print_machine(OpenSSL_version(OPENSSL_VERSION));
    printf("timing:    %g s per measurement, one thread, in %d interleaved rounds; "
           "medians shown\n", seconds, ROUNDS);

    /* The card's key: P-256, made once. */
    EVP_PKEY *card_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    unsigned char *spki = NULL;
    int spki_len = card_key != NULL ? i2d_PUBKEY(card_key, &spki) : -1;
    bench_check_crypto(spki_len > 0, "making the card's P-256 key");

    struct key_result results[2];
    memset(results, 0, sizeof results);
    results[0].name = "P-256";
    results[1].name = "RSA-2048";
    run_key(IDM_KEY_EC_P256, "ecdsap256", spki, (size_t)spki_len, seconds, &results[0]);
    print_details(&results[0]);
    run_key(IDM_KEY_RSA_2048, "rsa2048", spki, (size_t)spki_len, seconds, &results[1]);
    print_details(&results[1]);

    printf("\n%-9s %15s %13s %14s %21s %17s\n", "CA key", "library cert/s", "naive cert/s",
           "library/naive", "openssl speed sign/s", "library/raw sign");
    for (size_t i = 0; i < 2; i++) {
        const struct key_result *r = &results[i];
        struct bench_rate a = median(&r->library, NULL, NULL), b = median(&r->naive, NULL, NULL);
        double lib = bench_per_second(&a), naive = bench_per_second(&b);
        char raw[32] = "n/a", frac[32] = "n/a";
        if (r->raw_sign > 0) {
            snprintf(raw, sizeof raw, "%.0f", r->raw_sign);
            snprintf(frac, sizeof frac, "%.3f", lib / r->raw_sign);
        }
        printf("%-9s %15.0f %13.0f %13.2fx %21s %17s\n", r->name, lib, naive, lib / naive, raw,
               frac);
    }

    OPENSSL_free(spki);
    EVP_PKEY_free(card_key);
    return 0;
}
