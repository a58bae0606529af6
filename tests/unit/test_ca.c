/*
 * Certificate authorities through the public API: the built-in OpenSSL CA
 * and a host CA written here on libcrypto, both driven by the same calls
 * (idm_card_issue_certificate(), idm_cert_revoke(), idm_cert_hold(),
 * idm_cert_release(), idm_ca_generate_crl()).
 *
 * What the CA issues is read back by parsers that are not the library's:
 * the OpenSSL command line (`openssl verify`, `x509 -text`, `crl -verify`)
 * and tests/ca/check_certs.py (python3-cryptography), which derives each
 * profile's expectations on its own.  Idempotency is proved by counting what
 * a CA is asked, bad input by the error code and its words, and secrecy by
 * searching the store file for the CA's private scalar.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define ACTOR "test:ca"
#define SUBJECT_TEMPLATE "/C=SE/O=Example Corp/CN=${commonName}"
#define UPN_TEMPLATE "${employeeNumber}@corp.example"
#define CRL_URL "http://pki.corp.example/crl/issuing.crl"
#define AIA_URL "http://pki.corp.example/aia/issuing.crt"
#define PASSPHRASE "correct horse battery staple"

/* ---- failures collected without stopping ------------------------------ */

/* Check prints failure messages as TAP lines: no newlines in them. */
static char *flat(char *text)
{
    for (char *p = text; *p != '\0'; p++) {
        if (*p == '\n')
            *p = ' ';
    }
    return text;
}


/* ---- the context: a frozen clock ---------------------------------------- */

/* Frozen so that validity periods and revocation times are known to the
 * second; tests move it by hand.  It starts at the wall clock so that the
 * OpenSSL command line finds short-lived visitor certificates valid too. */
static int64_t now_ms;

static int64_t frozen_clock(void *user_data)
{
    (void)user_data;
    return now_ms;
}

static idm_ctx_t *new_ctx(const char *path)
{
    idm_ctx_t *ctx = fixture_ctx(path);
    now_ms = (int64_t)time(NULL) * 1000;
    ck_ok(idm_ctx_set_clock(ctx, frozen_clock, NULL));
    return ctx;
}

static void set_cert_options(idm_ctx_t *ctx)
{
    ck_ok(idm_options_set_string(ctx, ACTOR, "upn_template", UPN_TEMPLATE));
    ck_ok(idm_options_set_string(ctx, ACTOR, "cert_subject_template", SUBJECT_TEMPLATE));
    ck_ok(idm_options_set_string(ctx, ACTOR, "cert_crl_url", CRL_URL));
    ck_ok(idm_options_set_string(ctx, ACTOR, "cert_aia_url", AIA_URL));
}

/* Counts the library's draws from the random source (a built-in CA draws
 * one serial per certificate it signs). */
static int counting_random(void *buf, size_t len, void *user_data)
{
    int *draws = user_data;
    (*draws)++;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

/* ---- card keys ----------------------------------------------------------- */

enum subject_key { KEY_P256, KEY_P384, KEY_RSA2048, KEY_COUNT };

static const char *const subject_key_names[KEY_COUNT] = {"p256", "p384", "rsa2048"};

/* Made on first use and kept for the test case: RSA generation is slow. */
static EVP_PKEY *subject_keys[KEY_COUNT];
static unsigned char *subject_spkis[KEY_COUNT];
static size_t subject_spki_lens[KEY_COUNT];

static unsigned char *spki_der(EVP_PKEY *key, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    ck_assert_int_gt(n, 0);
    *len = (size_t)n;
    return der; /* OPENSSL_free() */
}

static EVP_PKEY *subject_key(enum subject_key k)
{
    if (subject_keys[k] == NULL) {
        subject_keys[k] = k == KEY_P256   ? EVP_EC_gen("P-256")
                          : k == KEY_P384 ? EVP_EC_gen("P-384")
                                          : EVP_RSA_gen(2048);
        ck_assert_ptr_nonnull(subject_keys[k]);
        subject_spkis[k] = spki_der(subject_keys[k], &subject_spki_lens[k]);
    }
    return subject_keys[k];
}

static const unsigned char *subject_spki(enum subject_key k, size_t *len)
{
    subject_key(k);
    *len = subject_spki_lens[k];
    return subject_spkis[k];
}

static void free_subject_keys(void)
{
    for (int k = 0; k < KEY_COUNT; k++) {
        EVP_PKEY_free(subject_keys[k]);
        OPENSSL_free(subject_spkis[k]);
        subject_keys[k] = NULL;
        subject_spkis[k] = NULL;
    }
}

static void no_setup(void)
{
}

/* ---- identities, cards, certificates -------------------------------------- */

static idm_identity_t *new_person(idm_ctx_t *ctx, const char *employee_number, const char *given,
                                  const char *surname, const char *mail)
{
    idm_identity_t *p = fixture_person(ctx, employee_number, given, surname);
    ck_ok(idm_identity_set_attribute(p, ACTOR, "mail", mail));
    return p;
}

/* A Digital ID card; holder for personal types, name for the others. */
static idm_card_t *new_card(idm_ctx_t *ctx, idm_card_type type, const idm_identity_t *holder,
                            const char *name)
{
    int64_t holder_id = 0;
    if (holder != NULL)
        ck_ok(idm_identity_get_id(holder, &holder_id));
    idm_card_t *card = NULL;
    ck_ok(idm_card_new(ctx, ACTOR, type, IDM_CARD_DIGITAL,
                       type == IDM_CARD_TEMPORARY ? IDM_PRODUCTION_EXTERNAL
                                                  : IDM_PRODUCTION_LOCAL,
                       holder_id, holder != NULL ? NULL : name, &card));
    return card;
}

/* The local graph up to active: certificates become valid. */
static void activate(idm_card_t *card)
{
    static const idm_card_state path[] = {IDM_CARD_REQUESTED, IDM_CARD_APPROVED,
                                          IDM_CARD_ISSUED, IDM_CARD_ACTIVE};
    for (size_t i = 0; i < N(path); i++)
        ck_ok(idm_card_set_state(card, ACTOR, path[i], NULL));
}

static int64_t card_id(const idm_card_t *card)
{
    int64_t id = 0;
    ck_ok(idm_card_get_id(card, &id));
    return id;
}

static idm_cert_t *issue(idm_card_t *card, idm_ca_t *ca, idm_key_usage usage, enum subject_key k,
                         int attempt)
{
    size_t len;
    const unsigned char *spki = subject_spki(k, &len);
    idm_cert_t *cert = NULL;
    int rc = idm_card_issue_certificate(card, ACTOR, ca, usage, spki, len, attempt, &cert);
    ck_assert_msg(rc == IDM_OK, "issuing %s/%s attempt %d: %s: %s", idm_key_usage_name(usage),
                  subject_key_names[k], attempt, idm_strerror_name(rc),
                  idm_last_error_message());
    ck_assert_ptr_nonnull(cert);
    return cert;
}

static const char *serial_of(const idm_cert_t *cert)
{
    const char *serial = NULL;
    ck_ok(idm_cert_get_serial(cert, &serial));
    return serial;
}

static int64_t cert_id(const idm_cert_t *cert)
{
    int64_t id = 0;
    ck_ok(idm_cert_get_id(cert, &id));
    return id;
}

/* The state the store holds now (a handle may be older). */
static idm_cert_state stored_state(idm_ctx_t *ctx, const idm_cert_t *cert)
{
    idm_cert_t *fresh = NULL;
    ck_ok(idm_cert_open(ctx, cert_id(cert), &fresh));
    idm_cert_state state;
    ck_ok(idm_cert_get_state(fresh, &state));
    idm_cert_free(&fresh);
    return state;
}

static size_t count_certs(idm_ctx_t *ctx, int64_t card)
{
    idm_cert_iter_t *it = NULL;
    ck_ok(idm_cert_iter_new(ctx, card, &it));
    size_t n = 0;
    for (;;) {
        idm_cert_t *c = NULL;
        ck_ok(idm_cert_iter_next(it, &c));
        if (c == NULL)
            break;
        n++;
        idm_cert_free(&c);
    }
    idm_cert_iter_free(&it);
    return n;
}

/* Audit events of one object whose detail contains needle. */
static size_t count_audit(idm_ctx_t *ctx, idm_object_type type, int64_t id, const char *needle)
{
    idm_audit_iter_t *it = NULL;
    ck_ok(idm_audit_iter_new(ctx, &it));
    ck_ok(idm_audit_iter_set_object(it, type, id));
    size_t n = 0;
    for (;;) {
        idm_audit_event_t *e = NULL;
        ck_ok(idm_audit_iter_next(it, &e));
        if (e == NULL)
            break;
        const char *detail = NULL;
        ck_ok(idm_audit_event_get_detail(e, &detail));
        n += strstr(detail, needle) != NULL;
        idm_audit_event_free(&e);
    }
    idm_audit_iter_free(&it);
    return n;
}

/* ---- files and the command line -------------------------------------------- */

static void write_pem_cert(const char *path, const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(x);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_X509(f, x), 1);
    ck_assert_int_eq(fclose(f), 0);
    X509_free(x);
}

static void buffer_bytes(const idm_buffer_t *b, const unsigned char **data, size_t *len)
{
    ck_ok(idm_buffer_get(b, data, len));
    ck_assert_uint_gt(*len, 0);
}

/* Writes the built-in CA's certificate as dir/stem.der and dir/stem.pem. */
static void write_ca_cert(const idm_ca_t *ca, const char *dir, const char *stem)
{
    idm_buffer_t *b = NULL;
    ck_ok(idm_buffer_new(&b));
    ck_ok(idm_ca_get_certificate(ca, b));
    const unsigned char *der;
    size_t len;
    buffer_bytes(b, &der, &len);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.der", dir, stem);
    fixture_write_file(path, der, len);
    snprintf(path, sizeof path, "%s/%s.pem", dir, stem);
    write_pem_cert(path, der, len);
    idm_buffer_free(&b);
}

/* Runs a shell command; returns its output (stdout and stderr, free()) and
 * sets *status to its exit status (-1 if it did not exit). */
static char *run(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *run(int *status, const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd - 8, fmt, ap);
    va_end(ap);
    ck_assert_msg(n > 0 && (size_t)n < sizeof cmd - 8, "command too long");
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    size_t cap = 4096, used = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    size_t got;
    while ((got = fread(out + used, 1, cap - used - 1, p)) > 0) {
        used += got;
        if (used + 1 == cap) {
            cap *= 2;
            out = realloc(out, cap);
            ck_assert_ptr_nonnull(out);
        }
    }
    out[used] = '\0';
    int st = pclose(p);
    *status = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/* The trimmed line after the first line that contains header; "" if none. */
static void line_after(const char *text, const char *header, char *out, size_t size)
{
    out[0] = '\0';
    const char *h = strstr(text, header);
    const char *nl = h != NULL ? strchr(h, '\n') : NULL;
    if (nl == NULL)
        return;
    const char *s = nl + 1;
    while (*s == ' ')
        s++;
    size_t len = strcspn(s, "\n");
    while (len > 0 && s[len - 1] == ' ')
        len--;
    snprintf(out, size, "%.*s", (int)len, s);
}

static void json_string(FILE *f, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* ---- what a certificate should say ------------------------------------------ */

struct expected {
    char file[32];
    char ca_file[32];
    idm_card_type type;
    idm_key_usage usage;
    enum subject_key key;
    char common_name[64];
    char upn[64];   /* "" for none */
    char email[96]; /* "" for none */
    int64_t not_before, not_after, days;
};

static int is_personal(idm_card_type type)
{
    return type == IDM_CARD_EMPLOYEE || type == IDM_CARD_CONTRACTOR || type == IDM_CARD_VISITOR;
}

static int is_visitor_like(idm_card_type type)
{
    return type == IDM_CARD_VISITOR || type == IDM_CARD_VISITOR_NON_PERSONAL ||
           type == IDM_CARD_TEMPORARY;
}

static void manifest_entry(FILE *m, const struct expected *e, int first)
{
    fprintf(m, "%s\n  {\"file\": ", first ? "" : ",");
    json_string(m, e->file);
    fputs(", \"ca\": ", m);
    json_string(m, e->ca_file);
    fprintf(m, ", \"card_type\": \"%s\", \"usage\": \"%s\", \"subject_key\": \"%s\", ",
            idm_card_type_name(e->type), idm_key_usage_name(e->usage), subject_key_names[e->key]);
    fputs("\"subject_c\": \"SE\", \"subject_o\": \"Example Corp\", \"common_name\": ", m);
    json_string(m, e->common_name);
    fputs(", \"upn\": ", m);
    json_string(m, e->upn);
    fputs(", \"email\": ", m);
    json_string(m, e->email);
    fprintf(m, ", \"not_before\": %lld, \"not_after\": %lld, \"validity_days\": %lld, ",
            (long long)e->not_before, (long long)e->not_after, (long long)e->days);
    fputs("\"crl_url\": ", m);
    json_string(m, CRL_URL);
    fputs(", \"aia_url\": ", m);
    json_string(m, AIA_URL);
    fputc('}', m);
}

/* `openssl x509 -text` of dir/<file>.pem against the profile. */
static void check_x509_text(struct faults *f, const char *dir, const struct expected *e)
{
    char pem[64];
    snprintf(pem, sizeof pem, "%.*s.pem", (int)(strlen(e->file) - 4), e->file);
    int status;
    char *text = run(&status, "openssl x509 -noout -text -in '%s/%s'", dir, pem);
    char line[512], want[512];
    if (status != 0) {
        fault(f, "%s: openssl x509 exit %d: %s", pem, status, text);
        free(text);
        return;
    }
    if (strstr(text, "Version: 3 (0x2)") == NULL)
        fault(f, "%s: not X.509 v3", pem);
    snprintf(want, sizeof want, "Subject: C = SE, O = Example Corp, CN = %s\n", e->common_name);
    if (strstr(text, want) == NULL)
        fault(f, "%s: no '%.*s'", pem, (int)strlen(want) - 1, want);

    line_after(text, "X509v3 Basic Constraints: critical", line, sizeof line);
    if (strcmp(line, "CA:FALSE") != 0)
        fault(f, "%s: basicConstraints (critical) is '%s'", pem, line);

    const char *ku = e->usage == IDM_USAGE_AUTHENTICATION        ? "Digital Signature"
                     : e->usage == IDM_USAGE_CARD_AUTHENTICATION ? "Digital Signature"
                     : e->usage == IDM_USAGE_SIGNATURE ? "Digital Signature, Non Repudiation"
                     : e->key == KEY_RSA2048           ? "Key Encipherment"
                                                       : "Key Agreement";
    line_after(text, "X509v3 Key Usage: critical", line, sizeof line);
    if (strcmp(line, ku) != 0)
        fault(f, "%s: critical keyUsage is '%s', expected '%s'", pem, line, ku);

    const char *eku = e->usage == IDM_USAGE_AUTHENTICATION
                          ? "TLS Web Client Authentication, Microsoft Smartcard Login"
                      : e->usage == IDM_USAGE_CARD_AUTHENTICATION ? "2.16.840.1.101.3.6.8"
                                                                  : "E-mail Protection";
    line_after(text, "X509v3 Extended Key Usage:", line, sizeof line);
    if (strcmp(line, eku) != 0)
        fault(f, "%s: extendedKeyUsage is '%s', expected '%s'", pem, line, eku);

    line_after(text, "X509v3 Subject Alternative Name:", line, sizeof line);
    if (!is_personal(e->type)) {
        if (strstr(text, "Subject Alternative Name") != NULL)
            fault(f, "%s: a non-personal card has subjectAltName '%s'", pem, line);
    } else {
        if (e->upn[0] != '\0')
            snprintf(want, sizeof want, "othername: UPN::%s, email:%s", e->upn, e->email);
        else
            snprintf(want, sizeof want, "email:%s", e->email);
        if (strcmp(line, want) != 0)
            fault(f, "%s: subjectAltName is '%s', expected '%s'", pem, line, want);
    }
    line_after(text, "Full Name:", line, sizeof line);
    if (strcmp(line, "URI:" CRL_URL) != 0)
        fault(f, "%s: CRL distribution point is '%s'", pem, line);
    line_after(text, "Authority Information Access:", line, sizeof line);
    if (strcmp(line, "CA Issuers - URI:" AIA_URL) != 0)
        fault(f, "%s: AIA is '%s'", pem, line);
    if (strstr(text, "X509v3 Subject Key Identifier:") == NULL ||
        strstr(text, "X509v3 Authority Key Identifier:") == NULL)
        fault(f, "%s: a key identifier is missing", pem);
    free(text);
}

/* Runs tests/ca/check_certs.py on dir; returns its exit status and output. */
static char *run_checker(const char *dir, int *status)
{
    const char *checker = getenv("IDM_TEST_CERT_CHECKER");
    ck_assert_msg(checker != NULL && checker[0] != '\0', "IDM_TEST_CERT_CHECKER is not set");
    return run(status, "/usr/bin/python3 '%s' '%s'", checker, dir);
}

/* ---- 1. every profile ------------------------------------------------------- */

struct profile_card {
    idm_card_type type;
    const char *employee_number, *given, *surname, *mail; /* personal cards */
    const char *name;                                     /* the others */
};

static const struct profile_card profile_cards[] = {
    {IDM_CARD_EMPLOYEE, "E100", "Ada", "Lovelace", "ada.lovelace@corp.example", NULL},
    {IDM_CARD_CONTRACTOR, "C200", "Grace", "Hopper", "grace.hopper@contractor.example", NULL},
    {IDM_CARD_VISITOR, "V300", "Alan", "Turing", "alan.turing@visitor.example", NULL},
    {IDM_CARD_VISITOR_NON_PERSONAL, NULL, NULL, NULL, NULL, "Visitor Pass 7"},
    {IDM_CARD_NON_PERSONAL, NULL, NULL, NULL, NULL, "Reception Desk"},
    {IDM_CARD_TEMPORARY, NULL, NULL, NULL, NULL, "Temporary Card 3"},
};

static const idm_key_type ca_key_types[] = {IDM_KEY_EC_P256, IDM_KEY_EC_P384, IDM_KEY_RSA_2048,
                                            IDM_KEY_RSA_3072};

#define PROFILE_CERTS (N(ca_key_types) * N(profile_cards) * 4)

/*
 * Every card type x usage, each with every card key type and from every
 * built-in CA key type (the key rotates with the CA, so each CA signs each
 * usage for each key type): 72 certificates, checked by openssl and by the
 * Python checker.
 */
START_TEST(test_every_profile_verifies_with_openssl_and_the_checker)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    set_cert_options(ctx);
    char dir[1024];
    fixture_scratch_dir("ca-profiles", dir, sizeof dir);

    idm_ca_t *cas[N(ca_key_types)];
    for (size_t c = 0; c < N(ca_key_types); c++) {
        char name[64], stem[16];
        snprintf(name, sizeof name, "Example Issuing CA %zu", c);
        ck_ok(idm_ca_new_openssl(&cas[c], ctx, ca_key_types[c], name, 3650));
        snprintf(stem, sizeof stem, "ca%zu", c);
        write_ca_cert(cas[c], dir, stem);
    }
    idm_identity_t *people[N(profile_cards)] = {NULL};
    idm_card_t *cards[N(profile_cards)];
    for (size_t t = 0; t < N(profile_cards); t++) {
        const struct profile_card *pc = &profile_cards[t];
        if (is_personal(pc->type))
            people[t] = new_person(ctx, pc->employee_number, pc->given, pc->surname, pc->mail);
        cards[t] = new_card(ctx, pc->type, people[t], pc->name);
        idm_card_type type;
        ck_ok(idm_card_get_type(cards[t], &type));
        ck_assert_int_eq(type, pc->type);
    }

    static struct expected expect[PROFILE_CERTS];
    struct faults f = {0};
    char path[4096];
    size_t n = 0;
    char manifest_path[4096];
    snprintf(manifest_path, sizeof manifest_path, "%s/manifest.json", dir);
    FILE *m = fopen(manifest_path, "w");
    ck_assert_ptr_nonnull(m);
    fputs("{\"cas\": [\"ca0.der\", \"ca1.der\", \"ca2.der\", \"ca3.der\"],\n\"certs\": [", m);
    for (size_t c = 0; c < N(ca_key_types); c++) {
        for (size_t t = 0; t < N(profile_cards); t++) {
            const struct profile_card *pc = &profile_cards[t];
            for (int u = IDM_USAGE_AUTHENTICATION; u <= IDM_USAGE_CARD_AUTHENTICATION; u++) {
                struct expected *e = &expect[n];
                memset(e, 0, sizeof *e);
                e->type = pc->type;
                e->usage = (idm_key_usage)u;
                e->key = (enum subject_key)((c + t + (size_t)u) % KEY_COUNT);
                snprintf(e->file, sizeof e->file, "cert-%03zu.der", n);
                snprintf(e->ca_file, sizeof e->ca_file, "ca%zu.der", c);
                if (is_personal(pc->type)) {
                    snprintf(e->common_name, sizeof e->common_name, "%s %s", pc->given,
                             pc->surname);
                    snprintf(e->email, sizeof e->email, "%s", pc->mail);
                    if (u == IDM_USAGE_AUTHENTICATION)
                        snprintf(e->upn, sizeof e->upn, "%s@corp.example",
                                 pc->employee_number);
                } else {
                    snprintf(e->common_name, sizeof e->common_name, "%s", pc->name);
                }
                ck_ok(idm_options_get_int(ctx, is_visitor_like(pc->type)
                                                   ? "visitor_cert_validity_days"
                                                   : "cert_validity_days",
                                          &e->days));
                e->not_before = now_ms / 1000;
                e->not_after = e->not_before + e->days * 86400;

                /* Attempt = CA, so each CA gets its own idempotency key. */
                idm_cert_t *cert = issue(cards[t], cas[c], e->usage, e->key, (int)c + 1);
                const unsigned char *der;
                size_t len;
                ck_ok(idm_cert_get_der(cert, &der, &len));
                snprintf(path, sizeof path, "%s/%s", dir, e->file);
                fixture_write_file(path, der, len);
                snprintf(path, sizeof path, "%s/cert-%03zu.pem", dir, n);
                write_pem_cert(path, der, len);

                int64_t nb, na;
                idm_key_usage usage;
                idm_cert_state state;
                ck_ok(idm_cert_get_validity(cert, &nb, &na));
                ck_ok(idm_cert_get_usage(cert, &usage));
                ck_ok(idm_cert_get_state(cert, &state));
                if (nb != e->not_before * 1000 || na != e->not_after * 1000)
                    fault(&f, "%s: record validity %lld..%lld, expected %lld..%lld", e->file,
                          (long long)nb, (long long)na, (long long)e->not_before * 1000,
                          (long long)e->not_after * 1000);
                if (usage != e->usage)
                    fault(&f, "%s: record usage %d, expected %d", e->file, usage, e->usage);
                /* Cards not yet active keep their new certificates on hold. */
                if (state != IDM_CERT_ON_HOLD)
                    fault(&f, "%s: record state %s, expected on_hold", e->file,
                          idm_cert_state_name(state));
                manifest_entry(m, e, n == 0);
                idm_cert_free(&cert);
                n++;
            }
        }
    }
    fputs("\n]}\n", m);
    ck_assert_int_eq(fclose(m), 0);
    ck_assert_uint_eq(n, PROFILE_CERTS);

    /* openssl verify, one CA at a time, each leaf by name. */
    for (size_t c = 0; c < N(ca_key_types); c++) {
        char files[8192] = "";
        size_t used = 0;
        for (size_t i = 0; i < n; i++) {
            if (expect[i].ca_file[2] != (char)('0' + c))
                continue;
            used += (size_t)snprintf(files + used, sizeof files - used, " cert-%03zu.pem", i);
        }
        int status;
        char *out = run(&status, "cd '%s' && openssl verify -x509_strict -attime %lld "
                        "-CAfile ca%zu.pem%s", dir, (long long)(now_ms / 1000 + 1), c, files);
        if (status != 0)
            fault(&f, "openssl verify with ca%zu: exit %d: %s", c, status, out);
        for (size_t i = 0; i < n; i++) {
            if (expect[i].ca_file[2] != (char)('0' + c))
                continue;
            char ok_line[64];
            snprintf(ok_line, sizeof ok_line, "cert-%03zu.pem: OK\n", i);
            if (strstr(out, ok_line) == NULL)
                fault(&f, "openssl verify did not say '%.*s' (CA %zu)", (int)strlen(ok_line) - 1,
                      ok_line, c);
        }
        free(out);
    }
    for (size_t i = 0; i < n; i++)
        check_x509_text(&f, dir, &expect[i]);

    int status;
    char *out = run_checker(dir, &status);
    if (status != 0)
        fault(&f, "check_certs.py %s exit %d: %s", dir, status, out);
    free(out);
    ck_assert_no_faults(&f);

    for (size_t t = 0; t < N(profile_cards); t++) {
        idm_card_free(&cards[t]);
        idm_identity_free(&people[t]);
    }
    for (size_t c = 0; c < N(ca_key_types); c++)
        idm_ca_free(&cas[c]);
    idm_ctx_free(&ctx);
}
END_TEST

/* The checker is not vacuous: a wrong expectation or a repeated serial
 * makes it fail, by name. */
START_TEST(test_checker_rejects_a_wrong_expectation)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    set_cert_options(ctx);
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Checker CA", 365));
    idm_identity_t *p = new_person(ctx, "E1", "Ada", "Lovelace", "ada@corp.example");
    idm_card_t *card = new_card(ctx, IDM_CARD_EMPLOYEE, p, NULL);
    idm_cert_t *cert = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);
    char dir[1024], path[4096];
    fixture_scratch_dir("ca-checker", dir, sizeof dir);
    write_ca_cert(ca, dir, "ca0");
    const unsigned char *der;
    size_t len;
    ck_ok(idm_cert_get_der(cert, &der, &len));
    snprintf(path, sizeof path, "%s/cert-000.der", dir);
    fixture_write_file(path, der, len);

    struct expected e = {.file = "cert-000.der", .ca_file = "ca0.der",
                         .type = IDM_CARD_EMPLOYEE, .usage = IDM_USAGE_AUTHENTICATION,
                         .key = KEY_P256, .common_name = "Ada Lovelace",
                         .upn = "E999@corp.example", /* wrong: E1 */
                         .email = "ada@corp.example", .days = 1095};
    e.not_before = now_ms / 1000;
    e.not_after = e.not_before + 1095 * 86400;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *m = fopen(path, "w");
    ck_assert_ptr_nonnull(m);
    fputs("{\"cas\": [\"ca0.der\"], \"certs\": [", m);
    manifest_entry(m, &e, 1);
    manifest_entry(m, &e, 0); /* the same certificate twice: its serial repeats */
    fputs("]}\n", m);
    ck_assert_int_eq(fclose(m), 0);

    int status;
    char *out = run_checker(dir, &status);
    ck_assert_msg(status == 1, "checker exit %d: %s", status, flat(out));
    ck_assert_msg(strstr(out, "UPN is 'E1@corp.example'; expected 'E999@corp.example'") != NULL,
                  "checker output does not name the UPN: %s", flat(out));
    ck_assert_msg(strstr(out, "is also the serial of cert-000.der") != NULL,
                  "checker output does not name the repeated serial: %s", flat(out));
    free(out);
    idm_cert_free(&cert);
    idm_card_free(&card);
    idm_identity_free(&p);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
}
END_TEST

/* cert_validity_days is read at issue time, not fixed at 1095. */
START_TEST(test_validity_follows_the_options)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    ck_ok(idm_options_set_int(ctx, ACTOR, "cert_validity_days", 365));
    ck_ok(idm_options_set_int(ctx, ACTOR, "visitor_cert_validity_days", 7));
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Validity CA", 3650));
    idm_card_t *desk = new_card(ctx, IDM_CARD_NON_PERSONAL, NULL, "Desk");
    idm_card_t *pass = new_card(ctx, IDM_CARD_VISITOR_NON_PERSONAL, NULL, "Pass");
    idm_cert_t *a = issue(desk, ca, IDM_USAGE_SIGNATURE, KEY_P256, 1);
    idm_cert_t *b = issue(pass, ca, IDM_USAGE_SIGNATURE, KEY_P256, 1);
    int64_t nb, na;
    ck_ok(idm_cert_get_validity(a, &nb, &na));
    ck_assert_int_eq(nb, now_ms);
    ck_assert_int_eq(na - nb, INT64_C(365) * 86400000);
    ck_ok(idm_cert_get_validity(b, &nb, &na));
    ck_assert_int_eq(na - nb, INT64_C(7) * 86400000);
    idm_cert_free(&a);
    idm_cert_free(&b);
    idm_card_free(&desk);
    idm_card_free(&pass);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- 2. revocation and CRLs -------------------------------------------------- */

/* A context with options set, a P-256 CA, an employee with an active card. */
struct crl_world {
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_identity_t *person;
    idm_card_t *card;
    char dir[1024];
};

static void crl_world_new(struct crl_world *w, const char *stem)
{
    w->ctx = new_ctx(":memory:");
    set_cert_options(w->ctx);
    ck_ok(idm_ca_new_openssl(&w->ca, w->ctx, IDM_KEY_EC_P256, "CRL Test CA", 3650));
    w->person = new_person(w->ctx, "E42", "Ada", "Lovelace", "ada.lovelace@corp.example");
    w->card = new_card(w->ctx, IDM_CARD_EMPLOYEE, w->person, NULL);
    activate(w->card);
    fixture_scratch_dir(stem, w->dir, sizeof w->dir);
    write_ca_cert(w->ca, w->dir, "ca");
}

static void crl_world_free(struct crl_world *w)
{
    idm_card_free(&w->card);
    idm_identity_free(&w->person);
    idm_ca_free(&w->ca);
    idm_ctx_free(&w->ctx);
}

/* A new CRL, written as dir/<stem>.der and .pem; returns its CRL number. */
static int64_t make_crl(struct crl_world *w, const char *stem)
{
    idm_buffer_t *b = NULL;
    ck_ok(idm_buffer_new(&b));
    ck_ok(idm_ca_generate_crl(w->ca, w->ctx, 24, b));
    const unsigned char *der;
    size_t len;
    buffer_bytes(b, &der, &len);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.der", w->dir, stem);
    fixture_write_file(path, der, len);

    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
    ck_assert_ptr_nonnull(crl);
    ck_assert_msg(p == der + len, "trailing bytes after the CRL");
    snprintf(path, sizeof path, "%s/%s.pem", w->dir, stem);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_X509_CRL(f, crl), 1);
    ck_assert_int_eq(fclose(f), 0);
    ASN1_INTEGER *number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    ck_assert_msg(number != NULL, "the CRL has no CRL number");
    int64_t n = -1;
    ck_assert_int_eq(ASN1_INTEGER_get_int64(&n, number), 1);
    ASN1_INTEGER_free(number);
    X509_CRL_free(crl);
    idm_buffer_free(&b);

    /* The signature, checked by openssl against the CA certificate. */
    int status;
    char *out = run(&status, "openssl crl -inform der -in '%s/%s.der' -CAfile '%s/ca.pem' "
                    "-noout -verify", w->dir, stem, w->dir);
    ck_assert_msg(status == 0 && strstr(out, "verify OK") != NULL,
                  "openssl crl -verify of %s: exit %d: %s", stem, status, flat(out));
    free(out);
    return n;
}

/* `openssl crl -text` of dir/<stem>.der; free(). */
static char *crl_text(const struct crl_world *w, const char *stem)
{
    int status;
    char *out = run(&status, "openssl crl -inform der -in '%s/%s.der' -noout -text", w->dir,
                    stem);
    ck_assert_msg(status == 0, "openssl crl -text: %s", flat(out));
    return out;
}

/* The part of a CRL's text about one serial; "" when it is not listed. */
static void crl_entry(const char *text, const char *serial, char *out, size_t size)
{
    char key[128];
    snprintf(key, sizeof key, "Serial Number: %s\n", serial);
    out[0] = '\0';
    const char *s = strstr(text, key);
    if (s == NULL)
        return;
    const char *end = strstr(s + strlen(key), "Serial Number:");
    const char *sig = strstr(s + strlen(key), "Signature Algorithm");
    if (end == NULL || (sig != NULL && sig < end))
        end = sig != NULL ? sig : s + strlen(s);
    snprintf(out, size, "%.*s", (int)(end - s), s);
}

static void assert_listed(char *text, const idm_cert_t *cert, const char *reason)
{
    char entry[1024];
    crl_entry(text, serial_of(cert), entry, sizeof entry);
    ck_assert_msg(entry[0] != '\0', "serial %s is not in the CRL: %s", serial_of(cert), flat(text));
    if (reason != NULL)
        ck_assert_msg(strstr(entry, reason) != NULL, "serial %s is listed without reason '%s': %s",
                      serial_of(cert), reason, flat(entry));
}

static void assert_not_listed(char *text, const idm_cert_t *cert)
{
    char entry[1024];
    crl_entry(text, serial_of(cert), entry, sizeof entry);
    ck_assert_msg(entry[0] == '\0', "serial %s is still in the CRL: %s", serial_of(cert),
                  flat(entry));
}

/* `openssl verify -crl_check` of a leaf against the CA and a CRL. */
static char *verify_with_crl(const struct crl_world *w, const idm_cert_t *cert, const char *crl,
                             int *status)
{
    const unsigned char *der;
    size_t len;
    ck_ok(idm_cert_get_der(cert, &der, &len));
    char path[4096];
    snprintf(path, sizeof path, "%s/leaf-%s.pem", w->dir, serial_of(cert));
    write_pem_cert(path, der, len);
    return run(status, "openssl verify -crl_check -attime %lld -CAfile '%s/ca.pem' "
               "-CRLfile '%s/%s.pem' '%s'", (long long)(now_ms / 1000 + 60), w->dir, w->dir, crl,
               path);
}

START_TEST(test_crl_lists_revoked_and_held_serials_with_their_reasons)
{
    struct crl_world w;
    crl_world_new(&w, "ca-crl");
    idm_cert_t *revoked = issue(w.card, w.ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);
    idm_cert_t *held = issue(w.card, w.ca, IDM_USAGE_SIGNATURE, KEY_RSA2048, 1);
    idm_cert_t *untouched = issue(w.card, w.ca, IDM_USAGE_ENCRYPTION, KEY_P384, 1);
    ck_assert_int_eq(stored_state(w.ctx, revoked), IDM_CERT_VALID);

    now_ms += 60000;
    int64_t revoked_at = now_ms;
    ck_ok(idm_cert_revoke(revoked, ACTOR, w.ca, IDM_REVOKE_KEY_COMPROMISE));
    now_ms += 60000;
    int64_t held_at = now_ms;
    ck_ok(idm_cert_hold(held, ACTOR, w.ca));

    idm_revocation_reason reason;
    int64_t when;
    ck_ok(idm_cert_get_revocation(revoked, &reason, &when));
    ck_assert_int_eq(reason, IDM_REVOKE_KEY_COMPROMISE);
    ck_assert_int_eq(when, revoked_at);
    ck_assert_int_eq(stored_state(w.ctx, revoked), IDM_CERT_REVOKED);
    ck_ok(idm_cert_get_revocation(held, &reason, &when));
    ck_assert_int_eq(reason, IDM_REVOKE_CERTIFICATE_HOLD);
    ck_assert_int_eq(when, held_at);
    ck_assert_int_eq(stored_state(w.ctx, held), IDM_CERT_ON_HOLD);
    ck_assert_idm_error(idm_cert_get_revocation(untouched, &reason, &when), IDM_ERR_STATE,
                        "valid");

    now_ms += 60000;
    int64_t first = make_crl(&w, "crl1");
    char *text = crl_text(&w, "crl1");
    assert_listed(text, revoked, "Key Compromise");
    assert_listed(text, held, "Certificate Hold");
    assert_not_listed(text, untouched);
    free(text);

    /* Once revoked, always revoked. */
    ck_assert_idm_error(idm_cert_revoke(revoked, ACTOR, w.ca, IDM_REVOKE_SUPERSEDED),
                        IDM_ERR_STATE, "revoked");
    ck_assert_idm_error(idm_cert_hold(revoked, ACTOR, w.ca), IDM_ERR_STATE, "revoked");
    ck_assert_idm_error(idm_cert_release(untouched, ACTOR, w.ca), IDM_ERR_STATE, "valid");

    now_ms += 60000;
    ck_ok(idm_cert_release(held, ACTOR, w.ca));
    ck_assert_int_eq(stored_state(w.ctx, held), IDM_CERT_VALID);
    ck_assert_idm_error(idm_cert_get_revocation(held, &reason, &when), IDM_ERR_STATE, "valid");

    now_ms += 60000;
    int64_t second = make_crl(&w, "crl2");
    ck_assert_int_eq(second, first + 1);
    text = crl_text(&w, "crl2");
    assert_listed(text, revoked, "Key Compromise");
    assert_not_listed(text, held);
    assert_not_listed(text, untouched);
    free(text);

    /* A relying party with the new CRL: the released one is valid again. */
    int status;
    char *out = verify_with_crl(&w, held, "crl2", &status);
    ck_assert_msg(status == 0 && strstr(out, ": OK") != NULL, "released: exit %d: %s", status,
                  flat(out));
    free(out);
    out = verify_with_crl(&w, revoked, "crl2", &status);
    ck_assert_msg(status != 0 && strstr(out, "certificate revoked") != NULL,
                  "revoked: exit %d: %s", status, flat(out));
    free(out);

    idm_cert_free(&revoked);
    idm_cert_free(&held);
    idm_cert_free(&untouched);
    crl_world_free(&w);
}
END_TEST

START_TEST(test_locked_card_certificates_are_revoked_and_in_the_next_crl)
{
    struct crl_world w;
    crl_world_new(&w, "ca-locked");
    idm_cert_t *a = issue(w.card, w.ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);
    idm_cert_t *b = issue(w.card, w.ca, IDM_USAGE_ENCRYPTION, KEY_RSA2048, 1);
    int64_t before = make_crl(&w, "crl0");
    char *text = crl_text(&w, "crl0");
    assert_not_listed(text, a);
    assert_not_listed(text, b);
    free(text);

    now_ms += 3600000;
    int64_t locked_at = now_ms;
    ck_ok(idm_card_set_state(w.card, ACTOR, IDM_CARD_LOCKED, "reported stolen"));
    const idm_cert_t *both[] = {a, b};
    for (size_t i = 0; i < N(both); i++) {
        ck_assert_int_eq(stored_state(w.ctx, both[i]), IDM_CERT_REVOKED);
        idm_cert_t *fresh = NULL;
        ck_ok(idm_cert_open(w.ctx, cert_id(both[i]), &fresh));
        idm_revocation_reason reason;
        int64_t when;
        ck_ok(idm_cert_get_revocation(fresh, &reason, &when));
        ck_assert_int_ne(reason, IDM_REVOKE_CERTIFICATE_HOLD);
        ck_assert_int_eq(when, locked_at);
        idm_cert_free(&fresh);
    }
    now_ms += 60000;
    ck_assert_int_eq(make_crl(&w, "crl1"), before + 1);
    text = crl_text(&w, "crl1");
    assert_listed(text, a, NULL);
    assert_listed(text, b, NULL);
    ck_assert_msg(strstr(text, "Certificate Hold") == NULL, "a locked card's certificate is "
                  "listed as held: %s", flat(text));
    /* Regression: the reason unspecified was written out; RFC 5280 5.3.1
     * says to leave it out. */
    ck_assert_msg(strstr(text, "Reason Code") == NULL && strstr(text, "Unspecified") == NULL,
                  "a CRL entry carries the reason unspecified: %s", flat(text));
    free(text);

    int status;
    char *out = verify_with_crl(&w, a, "crl1", &status);
    ck_assert_msg(status != 0 && strstr(out, "certificate revoked") != NULL, "exit %d: %s",
                  status, flat(out));
    free(out);
    idm_cert_free(&a);
    idm_cert_free(&b);
    crl_world_free(&w);
}
END_TEST

START_TEST(test_inactive_card_certificates_are_held_in_the_crl_until_reactivated)
{
    struct crl_world w;
    crl_world_new(&w, "ca-inactive");
    idm_cert_t *a = issue(w.card, w.ca, IDM_USAGE_AUTHENTICATION, KEY_RSA2048, 1);
    idm_cert_t *b = issue(w.card, w.ca, IDM_USAGE_SIGNATURE, KEY_P256, 1);

    now_ms += 60000;
    ck_ok(idm_card_set_state(w.card, ACTOR, IDM_CARD_INACTIVE, NULL));
    ck_assert_int_eq(stored_state(w.ctx, a), IDM_CERT_ON_HOLD);
    ck_assert_int_eq(stored_state(w.ctx, b), IDM_CERT_ON_HOLD);
    now_ms += 60000;
    int64_t n1 = make_crl(&w, "crl1");
    char *text = crl_text(&w, "crl1");
    assert_listed(text, a, "Certificate Hold");
    assert_listed(text, b, "Certificate Hold");
    free(text);

    /* Regression: a held certificate of an inactive card could be released
     * by hand, making it valid on a card that may not be used. */
    ck_assert_idm_error(idm_cert_release(a, ACTOR, w.ca), IDM_ERR_STATE, "is in state 'inactive'");
    ck_assert_int_eq(stored_state(w.ctx, a), IDM_CERT_ON_HOLD);

    now_ms += 60000;
    ck_ok(idm_card_set_state(w.card, ACTOR, IDM_CARD_ACTIVE, NULL));
    ck_assert_int_eq(stored_state(w.ctx, a), IDM_CERT_VALID);
    now_ms += 60000;
    ck_assert_int_eq(make_crl(&w, "crl2"), n1 + 1);
    text = crl_text(&w, "crl2");
    assert_not_listed(text, a);
    assert_not_listed(text, b);
    free(text);
    idm_cert_free(&a);
    idm_cert_free(&b);
    crl_world_free(&w);
}
END_TEST

/* Regression: the built-in CA issued leaves that outlived its own
 * certificate; their validity now ends with the CA's. */
START_TEST(test_certificates_never_outlive_the_built_in_ca)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    set_cert_options(ctx);
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Short-lived CA", 100));
    idm_identity_t *person = new_person(ctx, "E77", "Grace", "Hopper", "grace@corp.example");
    idm_card_t *card = new_card(ctx, IDM_CARD_EMPLOYEE, person, NULL);
    idm_cert_t *cert = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);

    idm_buffer_t *b = NULL;
    ck_ok(idm_buffer_new(&b));
    ck_ok(idm_ca_get_certificate(ca, b));
    const unsigned char *der;
    size_t len;
    buffer_bytes(b, &der, &len);
    X509 *ca_x = d2i_X509(NULL, &der, (long)len);
    ck_assert_ptr_nonnull(ca_x);
    ck_ok(idm_cert_get_der(cert, &der, &len));
    X509 *leaf = d2i_X509(NULL, &der, (long)len);
    ck_assert_ptr_nonnull(leaf);
    /* cert_validity_days (1095) asks for more than the CA's 100 days. */
    ck_assert_int_eq(ASN1_TIME_compare(X509_get0_notAfter(leaf), X509_get0_notAfter(ca_x)), 0);
    int64_t not_after = 0;
    ck_ok(idm_cert_get_validity(cert, NULL, &not_after));
    ck_assert_int_le(not_after, now_ms + INT64_C(100) * 86400000 + 1000);
    X509_free(leaf);
    X509_free(ca_x);
    idm_buffer_free(&b);
    idm_cert_free(&cert);
    idm_card_free(&card);
    idm_identity_free(&person);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
}
END_TEST

/* A built-in CA refuses to revoke, hold or release another CA's certificate. */
START_TEST(test_built_in_ca_refuses_another_cas_certificate)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    set_cert_options(ctx);
    idm_ca_t *issuer = NULL, *other = NULL;
    ck_ok(idm_ca_new_openssl(&issuer, ctx, IDM_KEY_EC_P256, "Issuing CA", 3650));
    ck_ok(idm_ca_new_openssl(&other, ctx, IDM_KEY_EC_P256, "Other CA", 3650));
    idm_identity_t *person = new_person(ctx, "E78", "Edsger", "Dijkstra", "ewd@corp.example");
    idm_card_t *card = new_card(ctx, IDM_CARD_EMPLOYEE, person, NULL);
    activate(card);
    idm_cert_t *cert = issue(card, issuer, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);

    ck_assert_idm_error(idm_cert_revoke(cert, ACTOR, other, IDM_REVOKE_SUPERSEDED),
                        IDM_ERR_INVALID_ARG, "not by this CA");
    ck_assert_idm_error(idm_cert_hold(cert, ACTOR, other), IDM_ERR_INVALID_ARG, "not by this CA");
    ck_assert_int_eq(stored_state(ctx, cert), IDM_CERT_VALID);
    ck_ok(idm_cert_revoke(cert, ACTOR, issuer, IDM_REVOKE_SUPERSEDED));
    ck_assert_int_eq(stored_state(ctx, cert), IDM_CERT_REVOKED);

    idm_cert_free(&cert);
    idm_card_free(&card);
    idm_identity_free(&person);
    idm_ca_free(&other);
    idm_ca_free(&issuer);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- 3. idempotency with the built-in CA ---------------------------------------- */

START_TEST(test_repeated_issue_returns_the_recorded_certificate_without_asking_the_ca)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    int draws = 0;
    ck_ok(idm_ctx_set_random(ctx, counting_random, &draws));
    set_cert_options(ctx);
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Idempotent CA", 3650));
    idm_identity_t *p = new_person(ctx, "E7", "Ada", "Lovelace", "ada@corp.example");
    idm_card_t *card = new_card(ctx, IDM_CARD_EMPLOYEE, p, NULL);
    int64_t id = card_id(card);

    int before = draws;
    idm_cert_t *first = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);
    ck_assert_int_gt(draws, before); /* the CA drew a serial */
    size_t asked = count_audit(ctx, IDM_OBJECT_CARD, id, "CA asked for");
    ck_assert_uint_eq(asked, 1);

    before = draws;
    idm_cert_t *again = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);
    ck_assert_int_eq(draws, before); /* the CA signed nothing */
    ck_assert_str_eq(serial_of(again), serial_of(first));
    ck_assert_int_eq(cert_id(again), cert_id(first));
    const unsigned char *d1, *d2;
    size_t l1, l2;
    ck_ok(idm_cert_get_der(first, &d1, &l1));
    ck_ok(idm_cert_get_der(again, &d2, &l2));
    ck_assert_uint_eq(l1, l2);
    ck_assert_mem_eq(d1, d2, l1);
    ck_assert_uint_eq(count_certs(ctx, id), 1);
    ck_assert_uint_eq(count_audit(ctx, IDM_OBJECT_CARD, id, "CA asked for"), 1);

    /* Another attempt is another certificate. */
    before = draws;
    idm_cert_t *second = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 2);
    ck_assert_int_gt(draws, before);
    ck_assert_str_ne(serial_of(second), serial_of(first));
    ck_assert_uint_eq(count_certs(ctx, id), 2);
    /* So is another usage in the same attempt. */
    idm_cert_t *other = issue(card, ca, IDM_USAGE_SIGNATURE, KEY_P256, 1);
    ck_assert_str_ne(serial_of(other), serial_of(first));
    ck_assert_uint_eq(count_certs(ctx, id), 3);

    idm_cert_free(&first);
    idm_cert_free(&again);
    idm_cert_free(&second);
    idm_cert_free(&other);
    idm_card_free(&card);
    idm_identity_free(&p);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- 3. a host CA ------------------------------------------------------------------ */

#define HOST_MAX 16

/* A host CA on libcrypto: its own P-256 key and self-signed certificate,
 * idempotency keys mapped to what it issued, and a record of every call. */
struct host_ca {
    EVP_PKEY *key;
    X509 *cert;
    int issue_calls, revoke_calls, hold_calls, release_calls, crl_calls, destroyed;
    int fail_issues;        /* the next N issues fail with fail_message */
    const char *fail_message;
    int lose_answers;       /* the next N issues succeed but report a failure */
    int certify_other_key;  /* certify the host's own key instead of the card's */
    char keys_seen[HOST_MAX][96];
    struct {
        char key[96];
        unsigned char *der;
        int len;
    } issued[HOST_MAX];
    int nissued;
    /* The last request as the host read it. */
    char subject[256], upn[96], email[96];
    idm_card_type type;
    idm_key_usage usage;
    int64_t not_before, not_after;
    /* Its own revocation list: serial and reason (6 = hold). */
    struct {
        char serial[80];
        int reason;
        int64_t time_ms;
    } revoked[HOST_MAX];
    int nrevoked;
};

static void host_init(struct host_ca *h)
{
    memset(h, 0, sizeof *h);
    h->key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(h->key);
    h->cert = X509_new();
    ck_assert_ptr_nonnull(h->cert);
    X509_NAME *name = X509_get_subject_name(h->cert);
    ck_assert_int_eq(X509_set_version(h->cert, X509_VERSION_3), 1);
    ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(h->cert), 1), 1);
    ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"Host CA", -1, -1, 0), 1);
    ck_assert_int_eq(X509_set_issuer_name(h->cert, name), 1);
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(h->cert), -3600));
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(h->cert), 86400L * 3650));
    ck_assert_int_eq(X509_set_pubkey(h->cert, h->key), 1);
    ck_assert_int_gt(X509_sign(h->cert, h->key, EVP_sha256()), 0);
}

static void host_clear(struct host_ca *h)
{
    for (int i = 0; i < h->nissued; i++)
        OPENSSL_free(h->issued[i].der);
    X509_free(h->cert);
    EVP_PKEY_free(h->key);
    memset(h, 0, sizeof *h);
}

static void host_destroy(void *user_data)
{
    struct host_ca *h = user_data;
    h->destroyed++;
}

static int host_issue(const idm_cert_request_t *req, idm_buffer_t *certificate, void *user_data)
{
    struct host_ca *h = user_data;
    const char *key = NULL, *subject = NULL, *upn = NULL, *email = NULL;
    const unsigned char *spki = NULL;
    size_t spki_len = 0;
    if (idm_cert_request_get_idempotency_key(req, &key) != IDM_OK ||
        idm_cert_request_get_subject(req, &subject) != IDM_OK ||
        idm_cert_request_get_names(req, &upn, &email) != IDM_OK ||
        idm_cert_request_get_profile(req, &h->type, &h->usage) != IDM_OK ||
        idm_cert_request_get_validity(req, &h->not_before, &h->not_after) != IDM_OK ||
        idm_cert_request_get_public_key(req, &spki, &spki_len) != IDM_OK) {
        idm_ca_backend_error("host: cannot read the request");
        return 1;
    }
    if (h->issue_calls < HOST_MAX)
        snprintf(h->keys_seen[h->issue_calls], sizeof h->keys_seen[0], "%s", key);
    h->issue_calls++;
    snprintf(h->subject, sizeof h->subject, "%s", subject);
    snprintf(h->upn, sizeof h->upn, "%s", upn != NULL ? upn : "");
    snprintf(h->email, sizeof h->email, "%s", email != NULL ? email : "");
    if (h->fail_issues > 0) {
        h->fail_issues--;
        idm_ca_backend_error(h->fail_message);
        return 42;
    }
    for (int i = 0; i < h->nissued; i++) {
        if (strcmp(h->issued[i].key, key) == 0)
            return idm_buffer_set(certificate, h->issued[i].der, (size_t)h->issued[i].len) ==
                           IDM_OK
                       ? 0
                       : 1;
    }
    if (h->nissued == HOST_MAX) {
        idm_ca_backend_error("host: full");
        return 1;
    }

    const unsigned char *p = spki;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)spki_len);
    X509 *x = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    int ok = pub != NULL && x != NULL && RAND_bytes(serial, sizeof serial) == 1;
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
    ok = ok && (bn = BN_bin2bn(serial, sizeof serial, NULL)) != NULL &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
         X509_set_version(x, X509_VERSION_3) &&
         X509_set_issuer_name(x, X509_get_subject_name(h->cert)) &&
         X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                    (const unsigned char *)"host-issued", -1, -1, 0) &&
         ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(h->not_before / 1000)) != NULL &&
         ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(h->not_after / 1000)) != NULL &&
         X509_set_pubkey(x, h->certify_other_key ? h->key : pub) &&
         X509_sign(x, h->key, EVP_sha256()) > 0;
    unsigned char *der = NULL;
    int len = ok ? i2d_X509(x, &der) : -1;
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(pub);
    if (len <= 0) {
        idm_ca_backend_error("host: cannot make the certificate");
        return 1;
    }
    snprintf(h->issued[h->nissued].key, sizeof h->issued[0].key, "%s", key);
    h->issued[h->nissued].der = der;
    h->issued[h->nissued].len = len;
    h->nissued++;
    if (h->lose_answers > 0) {
        /* Issued and kept, but the answer never reaches the library. */
        h->lose_answers--;
        idm_ca_backend_error("host: connection reset after issuing");
        return 5;
    }
    return idm_buffer_set(certificate, der, (size_t)len) == IDM_OK ? 0 : 1;
}

/* Puts serial on the host's own list, or updates its entry. */
static int host_list(struct host_ca *h, const char *serial, int reason, int64_t time_ms)
{
    int i = 0;
    while (i < h->nrevoked && strcmp(h->revoked[i].serial, serial) != 0)
        i++;
    if (i == HOST_MAX) {
        idm_ca_backend_error("host: revocation list full");
        return 1;
    }
    if (i == h->nrevoked) {
        snprintf(h->revoked[i].serial, sizeof h->revoked[i].serial, "%s", serial);
        h->nrevoked++;
    }
    h->revoked[i].reason = reason;
    h->revoked[i].time_ms = time_ms;
    return 0;
}

static int host_revoke(const char *serial, idm_revocation_reason reason, int64_t time_ms,
                       void *user_data)
{
    struct host_ca *h = user_data;
    h->revoke_calls++;
    return host_list(h, serial, (int)reason, time_ms);
}

static int host_hold(const char *serial, int64_t time_ms, void *user_data)
{
    struct host_ca *h = user_data;
    h->hold_calls++;
    return host_list(h, serial, IDM_REVOKE_CERTIFICATE_HOLD, time_ms);
}

static int host_release(const char *serial, void *user_data)
{
    struct host_ca *h = user_data;
    h->release_calls++;
    for (int i = 0; i < h->nrevoked; i++) {
        if (strcmp(h->revoked[i].serial, serial) == 0 &&
            h->revoked[i].reason == IDM_REVOKE_CERTIFICATE_HOLD) {
            h->revoked[i] = h->revoked[--h->nrevoked];
            return 0;
        }
    }
    idm_ca_backend_error("host: that certificate is not on hold");
    return 1;
}

/* The host's own CRL from its own list, signed with its own key. */
static int host_crl(idm_buffer_t *out, void *user_data)
{
    struct host_ca *h = user_data;
    h->crl_calls++;
    X509_CRL *crl = X509_CRL_new();
    int ok = crl != NULL && X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(h->cert));
    ASN1_TIME *t = X509_gmtime_adj(NULL, 0);
    ok = ok && t != NULL && X509_CRL_set1_lastUpdate(crl, t);
    ASN1_TIME_free(t);
    for (int i = 0; ok && i < h->nrevoked; i++) {
        X509_REVOKED *r = X509_REVOKED_new();
        BIGNUM *bn = NULL;
        ASN1_INTEGER *serial = NULL;
        ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
        ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)(h->revoked[i].time_ms / 1000));
        ok = r != NULL && reason != NULL && when != NULL &&
             BN_hex2bn(&bn, h->revoked[i].serial) > 0 &&
             (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
             X509_REVOKED_set_serialNumber(r, serial) &&
             X509_REVOKED_set_revocationDate(r, when) &&
             ASN1_ENUMERATED_set(reason, h->revoked[i].reason) &&
             X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0) == 1 &&
             X509_CRL_add0_revoked(crl, r) == 1;
        if (ok)
            r = NULL;
        X509_REVOKED_free(r);
        BN_free(bn);
        ASN1_INTEGER_free(serial);
        ASN1_ENUMERATED_free(reason);
        ASN1_TIME_free(when);
    }
    ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, h->key, EVP_sha256()) > 0;
    unsigned char *der = NULL;
    int len = ok ? i2d_X509_CRL(crl, &der) : -1;
    X509_CRL_free(crl);
    int rc = len > 0 && idm_buffer_set(out, der, (size_t)len) == IDM_OK ? 0 : 1;
    OPENSSL_free(der);
    if (rc != 0)
        idm_ca_backend_error("host: cannot make the CRL");
    return rc;
}

static idm_ca_t *host_ca_new(struct host_ca *h, int with_optional)
{
    idm_ca_ops ops = IDM_CA_OPS_INIT;
    ops.issue = host_issue;
    ops.revoke = host_revoke;
    if (with_optional) {
        ops.hold = host_hold;
        ops.release = host_release;
        ops.crl = host_crl;
    }
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new(&ca, &ops, sizeof ops, h, host_destroy));
    return ca;
}

/* 1 if der is a certificate the host signed, for the card key spki. */
static int host_signed(const struct host_ca *h, const unsigned char *der, size_t len,
                       const unsigned char *spki, size_t spki_len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    unsigned char *pub = NULL;
    int n = x != NULL ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &pub) : -1;
    int ok = x != NULL && X509_verify(x, h->key) == 1 && n > 0 && (size_t)n == spki_len &&
             memcmp(pub, spki, spki_len) == 0;
    OPENSSL_free(pub);
    X509_free(x);
    return ok;
}

START_TEST(test_host_ca_serves_issue_revoke_hold_release_and_crl)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    set_cert_options(ctx);
    struct host_ca h;
    host_init(&h);
    idm_ca_t *ca = host_ca_new(&h, 1);
    idm_identity_t *p = new_person(ctx, "E100", "Ada", "Lovelace", "ada.lovelace@corp.example");
    idm_card_t *card = new_card(ctx, IDM_CARD_EMPLOYEE, p, NULL);
    activate(card);
    int64_t id = card_id(card);

    /* The request as the host reads it. */
    idm_cert_t *auth = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);
    ck_assert_int_eq(h.issue_calls, 1);
    ck_assert_str_eq(h.subject, "CN=Ada Lovelace,O=Example Corp,C=SE");
    ck_assert_str_eq(h.upn, "E100@corp.example");
    ck_assert_str_eq(h.email, "ada.lovelace@corp.example");
    ck_assert_int_eq(h.type, IDM_CARD_EMPLOYEE);
    ck_assert_int_eq(h.usage, IDM_USAGE_AUTHENTICATION);
    ck_assert_int_eq(h.not_before, now_ms);
    ck_assert_int_eq(h.not_after - h.not_before, INT64_C(1095) * 86400000);
    char want_key[96];
    snprintf(want_key, sizeof want_key, "o0-c%lld-a1-authentication", (long long)id);
    ck_assert_str_eq(h.keys_seen[0], want_key);
    size_t spki_len;
    const unsigned char *spki = subject_spki(KEY_P256, &spki_len);
    const unsigned char *der;
    size_t len;
    ck_ok(idm_cert_get_der(auth, &der, &len));
    ck_assert_uint_eq(len, (size_t)h.issued[0].len);
    ck_assert_mem_eq(der, h.issued[0].der, len);
    ck_assert(host_signed(&h, der, len, spki, spki_len));
    ck_assert_int_eq(stored_state(ctx, auth), IDM_CERT_VALID);

    /* Asked again with the same key: the record, not the host. */
    idm_cert_t *again = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);
    ck_assert_int_eq(h.issue_calls, 1);
    ck_assert_str_eq(serial_of(again), serial_of(auth));
    ck_assert_uint_eq(count_certs(ctx, id), 1);
    idm_cert_free(&again);

    /* The signature profile names no UPN; attempt 2 is a new certificate. */
    idm_cert_t *sign = issue(card, ca, IDM_USAGE_SIGNATURE, KEY_RSA2048, 1);
    ck_assert_str_eq(h.upn, "");
    ck_assert_str_eq(h.email, "ada.lovelace@corp.example");
    idm_cert_t *auth2 = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 2);
    ck_assert_int_eq(h.issue_calls, 3);
    ck_assert_str_ne(serial_of(auth2), serial_of(auth));
    ck_assert_uint_eq(count_certs(ctx, id), 3);

    now_ms += 60000;
    ck_ok(idm_cert_revoke(auth, ACTOR, ca, IDM_REVOKE_KEY_COMPROMISE));
    ck_assert_int_eq(h.revoke_calls, 1);
    ck_assert_int_eq(h.nrevoked, 1);
    ck_assert_str_eq(h.revoked[0].serial, serial_of(auth));
    ck_assert_int_eq(h.revoked[0].reason, IDM_REVOKE_KEY_COMPROMISE);
    ck_assert_int_eq(h.revoked[0].time_ms, now_ms);
    ck_assert_int_eq(stored_state(ctx, auth), IDM_CERT_REVOKED);

    ck_ok(idm_cert_hold(sign, ACTOR, ca));
    ck_assert_int_eq(h.hold_calls, 1);
    ck_assert_int_eq(stored_state(ctx, sign), IDM_CERT_ON_HOLD);

    idm_buffer_t *crl = NULL;
    ck_ok(idm_buffer_new(&crl));
    ck_ok(idm_ca_generate_crl(ca, ctx, 24, crl));
    ck_assert_int_eq(h.crl_calls, 1);
    ck_assert_uint_eq(count_audit(ctx, IDM_OBJECT_CA, 0, "CA asked for its CRL"), 1);
    const unsigned char *cd;
    size_t cl;
    buffer_bytes(crl, &cd, &cl);
    const unsigned char *cp = cd;
    X509_CRL *x = d2i_X509_CRL(NULL, &cp, (long)cl);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_CRL_verify(x, h.key), 1);
    ck_assert_int_eq(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(x)), 2);
    X509_CRL_free(x);

    ck_ok(idm_cert_release(sign, ACTOR, ca));
    ck_assert_int_eq(h.release_calls, 1);
    ck_assert_int_eq(h.nrevoked, 1);
    ck_assert_int_eq(stored_state(ctx, sign), IDM_CERT_VALID);

    idm_buffer_free(&crl);
    idm_cert_free(&auth);
    idm_cert_free(&sign);
    idm_cert_free(&auth2);
    idm_card_free(&card);
    idm_identity_free(&p);
    ck_assert_int_eq(h.destroyed, 0);
    idm_ca_free(&ca);
    ck_assert_ptr_null(ca);
    ck_assert_int_eq(h.destroyed, 1);
    host_clear(&h);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_host_ca_without_hold_cannot_hold_or_release)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    struct host_ca h;
    host_init(&h);
    idm_ca_t *ca = host_ca_new(&h, 0);
    idm_card_t *card = new_card(ctx, IDM_CARD_NON_PERSONAL, NULL, "Server Room");
    activate(card);
    idm_cert_t *cert = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P384, 1);
    ck_assert_idm_error(idm_cert_hold(cert, ACTOR, ca), IDM_ERR_UNSUPPORTED, "hold");
    ck_assert_idm_error(idm_cert_release(cert, ACTOR, ca), IDM_ERR_UNSUPPORTED, "release");
    idm_buffer_t *crl = NULL;
    ck_ok(idm_buffer_new(&crl));
    ck_assert_idm_error(idm_ca_generate_crl(ca, ctx, 24, crl), IDM_ERR_UNSUPPORTED, "crl");
    idm_buffer_free(&crl);
    ck_assert_int_eq(stored_state(ctx, cert), IDM_CERT_VALID);
    ck_ok(idm_cert_revoke(cert, ACTOR, ca, IDM_REVOKE_CESSATION_OF_OPERATION));
    ck_assert_int_eq(h.revoke_calls, 1);
    ck_assert_int_eq(h.revoked[0].reason, IDM_REVOKE_CESSATION_OF_OPERATION);
    idm_cert_free(&cert);
    idm_card_free(&card);
    idm_ca_free(&ca);
    host_clear(&h);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_host_ca_failure_is_a_backend_error_in_its_own_words_and_audited)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    set_cert_options(ctx);
    struct host_ca h;
    host_init(&h);
    h.fail_issues = 1;
    h.fail_message = "EJBCA: end entity not found";
    idm_ca_t *ca = host_ca_new(&h, 1);
    idm_identity_t *p = new_person(ctx, "E5", "Ada", "Lovelace", "ada@corp.example");
    idm_card_t *card = new_card(ctx, IDM_CARD_CONTRACTOR, p, NULL);
    size_t len;
    const unsigned char *spki = subject_spki(KEY_P256, &len);
    idm_cert_t *cert = NULL;
    ck_assert_idm_error(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_AUTHENTICATION,
                                                   spki, len, 1, &cert),
                        IDM_ERR_BACKEND, "EJBCA: end entity not found");
    ck_assert_ptr_null(cert);
    ck_assert_int_eq(h.issue_calls, 1);
    ck_assert_uint_eq(count_certs(ctx, card_id(card)), 0);
    ck_assert_uint_eq(count_audit(ctx, IDM_OBJECT_CARD, card_id(card),
                                  "EJBCA: end entity not found"),
                      1);

    /* The failure was the host's only one: the next request succeeds. */
    idm_cert_t *ok = issue(card, ca, IDM_USAGE_SIGNATURE, KEY_P256, 1);
    ck_assert_int_eq(h.issue_calls, 2);
    idm_ca_free(&ca);
    host_clear(&h);
    idm_cert_free(&ok);
    idm_card_free(&card);
    idm_identity_free(&p);
    idm_ctx_free(&ctx);
}
END_TEST

static int failing_revoke(const char *serial, idm_revocation_reason reason, int64_t time_ms,
                          void *user_data)
{
    (void)serial;
    (void)reason;
    (void)time_ms;
    (void)user_data;
    idm_ca_backend_error("EJBCA: revocation service unavailable");
    return 3;
}

START_TEST(test_host_ca_failed_revoke_leaves_the_certificate_valid_and_is_audited)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    struct host_ca h;
    host_init(&h);
    idm_ca_ops ops = IDM_CA_OPS_INIT;
    ops.issue = host_issue;
    ops.revoke = failing_revoke;
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new(&ca, &ops, sizeof ops, &h, NULL));
    idm_card_t *card = new_card(ctx, IDM_CARD_NON_PERSONAL, NULL, "Lab");
    activate(card);
    idm_cert_t *cert = issue(card, ca, IDM_USAGE_SIGNATURE, KEY_P256, 1);
    ck_assert_idm_error(idm_cert_revoke(cert, ACTOR, ca, IDM_REVOKE_KEY_COMPROMISE),
                        IDM_ERR_BACKEND, "EJBCA: revocation service unavailable");
    ck_assert_int_eq(stored_state(ctx, cert), IDM_CERT_VALID);
    ck_assert_uint_eq(count_audit(ctx, IDM_OBJECT_CERTIFICATE, cert_id(cert),
                                  "EJBCA: revocation service unavailable"),
                      1);
    idm_cert_free(&cert);
    idm_card_free(&card);
    idm_ca_free(&ca);
    host_clear(&h);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_host_ca_certificate_for_another_key_is_refused)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    struct host_ca h;
    host_init(&h);
    h.certify_other_key = 1;
    idm_ca_t *ca = host_ca_new(&h, 1);
    idm_card_t *card = new_card(ctx, IDM_CARD_NON_PERSONAL, NULL, "Reception");
    size_t len;
    const unsigned char *spki = subject_spki(KEY_P256, &len);
    ck_assert_idm_error(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_AUTHENTICATION,
                                                   spki, len, 1, NULL),
                        IDM_ERR_BACKEND, "does not certify the requested key");
    ck_assert_int_eq(h.issue_calls, 1);
    ck_assert_uint_eq(count_certs(ctx, card_id(card)), 0);
    ck_assert_uint_eq(count_audit(ctx, IDM_OBJECT_CARD, card_id(card), "CA answer refused"), 1);
    idm_card_free(&card);
    idm_ca_free(&ca);
    host_clear(&h);
    idm_ctx_free(&ctx);
}
END_TEST

static int never_called_hold(const char *serial, int64_t time_ms, void *user_data)
{
    (void)serial;
    (void)time_ms;
    (void)user_data;
    ck_abort_msg("a method beyond ops_size was called");
    return 1;
}

static int never_called_release(const char *serial, void *user_data)
{
    return never_called_hold(serial, 0, user_data);
}

static int never_called_crl(idm_buffer_t *crl, void *user_data)
{
    (void)crl;
    return never_called_hold(NULL, 0, user_data);
}

START_TEST(test_ca_new_refuses_unknown_version_and_missing_methods)
{
    struct host_ca h;
    memset(&h, 0, sizeof h);
    idm_ca_ops ops = IDM_CA_OPS_INIT;
    ops.issue = host_issue;
    ops.revoke = host_revoke;
    idm_ca_t *ca = (idm_ca_t *)&h;

    ops.version = 99;
    ck_assert_idm_error(idm_ca_new(&ca, &ops, sizeof ops, &h, host_destroy), IDM_ERR_UNSUPPORTED,
                        "99");
    ck_assert_ptr_null(ca);
    ops.version = IDM_CA_OPS_VERSION;

    ops.issue = NULL;
    ck_assert_idm_error(idm_ca_new(&ca, &ops, sizeof ops, &h, host_destroy), IDM_ERR_INVALID_ARG,
                        "issue");
    ops.issue = host_issue;
    ops.revoke = NULL;
    ck_assert_idm_error(idm_ca_new(&ca, &ops, sizeof ops, &h, host_destroy), IDM_ERR_INVALID_ARG,
                        "revoke");
    ops.revoke = host_revoke;
    ck_assert_idm_error(idm_ca_new(&ca, &ops, offsetof(idm_ca_ops, revoke), &h, host_destroy),
                        IDM_ERR_INVALID_ARG, "ops_size");
    ck_assert_idm_error(idm_ca_new(&ca, NULL, sizeof ops, &h, host_destroy), IDM_ERR_INVALID_ARG,
                        "ops");
    ck_assert_int_eq(h.destroyed, 0); /* nothing was registered */
}
END_TEST

/* A host compiled against older headers: its table ends before hold. */
START_TEST(test_ca_new_accepts_a_smaller_older_table_without_optional_methods)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    struct host_ca h;
    host_init(&h);
    idm_ca_ops ops = IDM_CA_OPS_INIT;
    ops.size = (uint32_t)offsetof(idm_ca_ops, hold);
    ops.issue = host_issue;
    ops.revoke = host_revoke;
    /* Beyond the host's size: the library must not read these. */
    ops.hold = never_called_hold;
    ops.release = never_called_release;
    ops.crl = never_called_crl;
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new(&ca, &ops, offsetof(idm_ca_ops, hold), &h, host_destroy));

    idm_card_t *card = new_card(ctx, IDM_CARD_NON_PERSONAL, NULL, "Old Host Desk");
    activate(card);
    idm_cert_t *cert = issue(card, ca, IDM_USAGE_ENCRYPTION, KEY_RSA2048, 1);
    ck_assert_int_eq(h.issue_calls, 1);
    ck_assert_idm_error(idm_cert_hold(cert, ACTOR, ca), IDM_ERR_UNSUPPORTED, "hold");
    ck_assert_idm_error(idm_cert_release(cert, ACTOR, ca), IDM_ERR_UNSUPPORTED, "release");
    idm_buffer_t *crl = NULL;
    ck_ok(idm_buffer_new(&crl));
    ck_assert_idm_error(idm_ca_generate_crl(ca, ctx, 24, crl), IDM_ERR_UNSUPPORTED, "crl");
    idm_buffer_free(&crl);
    ck_ok(idm_cert_revoke(cert, ACTOR, ca, IDM_REVOKE_SUPERSEDED));
    ck_assert_int_eq(h.revoke_calls, 1);
    ck_assert_int_eq(stored_state(ctx, cert), IDM_CERT_REVOKED);
    idm_cert_free(&cert);
    idm_card_free(&card);
    idm_ca_free(&ca);
    ck_assert_int_eq(h.destroyed, 1);
    host_clear(&h);
    idm_ctx_free(&ctx);
}
END_TEST

/*
 * The journal: a failed call leaves its key pending, and the next call
 * asks the CA again with the same key; a CA that honours keys then answers
 * with the certificate it issued the first time.
 */
START_TEST(test_pending_issue_is_retried_with_the_same_idempotency_key)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    struct host_ca h;
    host_init(&h);
    h.fail_issues = 1;
    h.fail_message = "EJBCA: timeout";
    idm_ca_t *ca = host_ca_new(&h, 1);
    idm_card_t *card = new_card(ctx, IDM_CARD_NON_PERSONAL, NULL, "Front Door");
    ck_assert_int_eq(card_id(card), 1); /* the first card of a fresh store */
    size_t len;
    const unsigned char *spki = subject_spki(KEY_P256, &len);

    ck_assert_idm_error(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_AUTHENTICATION,
                                                   spki, len, 1, NULL),
                        IDM_ERR_BACKEND, "EJBCA: timeout");
    idm_cert_t *cert = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);
    ck_assert_int_eq(h.issue_calls, 2);
    ck_assert_str_eq(h.keys_seen[0], "o0-c1-a1-authentication");
    ck_assert_str_eq(h.keys_seen[1], "o0-c1-a1-authentication");
    ck_assert_uint_eq(count_certs(ctx, 1), 1);
    ck_assert_uint_eq(count_audit(ctx, IDM_OBJECT_CARD, 1, "again"), 1);

    /* The CA issued, but its answer was lost: the retry gets that same
     * certificate, and the library records it once. */
    h.lose_answers = 1;
    ck_assert_idm_error(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_SIGNATURE, spki,
                                                   len, 1, NULL),
                        IDM_ERR_BACKEND, "connection reset");
    ck_assert_int_eq(h.nissued, 2);
    ck_assert_uint_eq(count_certs(ctx, 1), 1);
    idm_cert_t *sign = issue(card, ca, IDM_USAGE_SIGNATURE, KEY_P256, 1);
    ck_assert_int_eq(h.issue_calls, 4);
    ck_assert_str_eq(h.keys_seen[2], "o0-c1-a1-signature");
    ck_assert_str_eq(h.keys_seen[3], "o0-c1-a1-signature");
    ck_assert_int_eq(h.nissued, 2);
    const unsigned char *der;
    size_t dl;
    ck_ok(idm_cert_get_der(sign, &der, &dl));
    ck_assert_uint_eq(dl, (size_t)h.issued[1].len);
    ck_assert_mem_eq(der, h.issued[1].der, dl);
    ck_assert_uint_eq(count_certs(ctx, 1), 2);

    /* Done keys are not sent again. */
    idm_cert_t *again = issue(card, ca, IDM_USAGE_SIGNATURE, KEY_P256, 1);
    ck_assert_int_eq(h.issue_calls, 4);
    ck_assert_str_eq(serial_of(again), serial_of(sign));
    idm_cert_free(&again);
    idm_cert_free(&sign);
    idm_cert_free(&cert);
    idm_card_free(&card);
    idm_ca_free(&ca);
    host_clear(&h);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- 4. bad input ------------------------------------------------------------------- */

static char *mem_bio_string(BIO *b, size_t *len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    ck_assert_int_gt(n, 0);
    char *copy = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, data, (size_t)n);
    copy[n] = '\0';
    *len = (size_t)n;
    return copy;
}

struct ca_cert_spec {
    long version;                   /* X509_VERSION_1 or X509_VERSION_3 */
    const char *basic_constraints;  /* NULL: none */
    const char *key_usage;          /* NULL: none */
    int64_t not_before_s, not_after_s;
};

/* A self-signed certificate for key, as PEM (free()). */
static char *make_cert_pem(EVP_PKEY *key, const struct ca_cert_spec *spec, size_t *len)
{
    X509 *x = X509_new();
    ck_assert_ptr_nonnull(x);
    X509_NAME *name = X509_get_subject_name(x);
    ck_assert_int_eq(X509_set_version(x, spec->version), 1);
    ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 4711), 1);
    ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"Loaded CA", -1, -1, 0), 1);
    ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
    ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)spec->not_before_s));
    ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)spec->not_after_s));
    ck_assert_int_eq(X509_set_pubkey(x, key), 1);
    if (spec->version == X509_VERSION_3) {
        struct {
            int nid;
            const char *value;
        } exts[] = {{NID_basic_constraints, spec->basic_constraints},
                    {NID_key_usage, spec->key_usage},
                    {NID_subject_key_identifier, "hash"}};
        for (size_t i = 0; i < N(exts); i++) {
            if (exts[i].value == NULL)
                continue;
            X509V3_CTX v3;
            X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
            X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].value);
            ck_assert_ptr_nonnull(e);
            ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
            X509_EXTENSION_free(e);
        }
    }
    const EVP_MD *md = EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256();
    ck_assert_int_gt(X509_sign(x, key, md), 0);
    BIO *b = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_X509(b, x), 1);
    char *pem = mem_bio_string(b, len);
    BIO_free(b);
    X509_free(x);
    return pem;
}

/* The key as PKCS#8 PEM, encrypted with AES-256-CBC if passphrase is set. */
static char *make_key_pem(EVP_PKEY *key, const char *passphrase, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    ck_assert_ptr_nonnull(b);
    if (passphrase != NULL)
        ck_assert_int_eq(PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_256_cbc(), passphrase,
                                                       (int)strlen(passphrase), NULL, NULL),
                         1);
    else
        ck_assert_int_eq(PEM_write_bio_PKCS8PrivateKey(b, key, NULL, NULL, 0, NULL, NULL), 1);
    char *pem = mem_bio_string(b, len);
    BIO_free(b);
    return pem;
}

static int give_passphrase(char *buf, size_t size, void *user_data)
{
    const char *pass = user_data;
    size_t n = strlen(pass);
    if (n > size)
        return -1;
    memcpy(buf, pass, n);
    return (int)n;
}

/* A CA certificate valid around the frozen clock. */
static struct ca_cert_spec good_ca_spec(void)
{
    struct ca_cert_spec s = {X509_VERSION_3, "critical,CA:TRUE", "critical,keyCertSign,cRLSign",
                             now_ms / 1000 - 86400, now_ms / 1000 + 86400 * 365};
    return s;
}

/* idm_ca_new_openssl_pem() of key with a certificate made by spec. */
static int load_ca(idm_ctx_t *ctx, EVP_PKEY *cert_key, EVP_PKEY *key,
                   const struct ca_cert_spec *spec, idm_ca_t **out)
{
    size_t cl, kl;
    char *cert = make_cert_pem(cert_key, spec, &cl);
    char *pem = make_key_pem(key, NULL, &kl);
    int rc = idm_ca_new_openssl_pem(out, ctx, cert, cl, pem, kl, NULL, NULL);
    free(cert);
    OPENSSL_cleanse(pem, kl);
    free(pem);
    return rc;
}

/* Loads a self-signed P-256 certificate made with these extensions. */
static int load_ca_variant(idm_ctx_t *ctx, long version, const char *basic_constraints,
                           const char *key_usage)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(key);
    struct ca_cert_spec spec = good_ca_spec();
    spec.version = version;
    spec.basic_constraints = basic_constraints;
    spec.key_usage = key_usage;
    idm_ca_t *ca = NULL;
    int rc = load_ca(ctx, key, key, &spec, &ca);
    ck_assert_msg(rc != IDM_OK || ca != NULL, "IDM_OK without a CA");
    idm_ca_free(&ca);
    EVP_PKEY_free(key);
    return rc;
}

/* Loads a variant in a context of its own, freed before the verdict, so
 * that a failing check leaks nothing. */
static int load_variant_alone(long version, const char *basic_constraints, const char *key_usage)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    int rc = load_ca_variant(ctx, version, basic_constraints, key_usage);
    idm_ctx_free(&ctx); /* the thread's detail message stays */
    return rc;
}

START_TEST(test_pem_ca_that_is_not_a_ca_certificate_is_refused)
{
    /* The control: a real CA certificate loads. */
    ck_ok(load_variant_alone(X509_VERSION_3, "critical,CA:TRUE", "critical,keyCertSign,cRLSign"));
    ck_assert_idm_error(load_variant_alone(X509_VERSION_3, "critical,CA:FALSE",
                                           "critical,keyCertSign,cRLSign"),
                        IDM_ERR_CRYPTO, "not a CA certificate");
    ck_assert_idm_error(load_variant_alone(X509_VERSION_3, "CA:FALSE", NULL), IDM_ERR_CRYPTO,
                        "not a CA certificate");
    ck_assert_idm_error(load_variant_alone(X509_VERSION_3, NULL, NULL), IDM_ERR_CRYPTO,
                        "not a CA certificate");
}
END_TEST

/* RFC 5280 4.2.1.9: a CA certificate carries basicConstraints CA:TRUE;
 * keyUsage keyCertSign alone does not make one. */
START_TEST(test_pem_ca_without_basic_constraints_is_refused_despite_key_cert_sign)
{
    ck_assert_idm_error(load_variant_alone(X509_VERSION_3, NULL, "critical,keyCertSign,cRLSign"),
                        IDM_ERR_CRYPTO, "not a CA certificate");
}
END_TEST

/* A v1 certificate has no basicConstraints at all. */
START_TEST(test_pem_ca_v1_certificate_is_refused_as_not_a_ca)
{
    ck_assert_idm_error(load_variant_alone(X509_VERSION_1, NULL, NULL), IDM_ERR_CRYPTO,
                        "not a CA certificate");
}
END_TEST

/* CA:TRUE is there; what is missing is keyCertSign, and the message says so. */
START_TEST(test_pem_ca_without_key_cert_sign_is_refused_naming_key_usage)
{
    ck_assert_idm_error(load_variant_alone(X509_VERSION_3, "critical,CA:TRUE",
                                           "critical,digitalSignature,cRLSign"),
                        IDM_ERR_CRYPTO, "keyCertSign");
}
END_TEST

START_TEST(test_pem_ca_whose_key_does_not_match_is_refused)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    EVP_PKEY *other = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(key);
    ck_assert_ptr_nonnull(other);
    struct ca_cert_spec spec = good_ca_spec();
    idm_ca_t *ca = NULL;
    ck_assert_idm_error(load_ca(ctx, key, other, &spec, &ca), IDM_ERR_CRYPTO, "does not match");
    ck_assert_ptr_null(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_pem_ca_that_expired_or_is_not_yet_valid_is_refused)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    EVP_PKEY *key = EVP_EC_gen("P-384");
    ck_assert_ptr_nonnull(key);
    idm_ca_t *ca = NULL;
    struct ca_cert_spec spec = good_ca_spec();
    spec.not_before_s = now_ms / 1000 - 86400 * 30;
    spec.not_after_s = now_ms / 1000 - 86400;
    ck_assert_idm_error(load_ca(ctx, key, key, &spec, &ca), IDM_ERR_CRYPTO, "expired");

    /* A valid certificate, with the context's clock moved past its end. */
    spec = good_ca_spec();
    ck_ok(load_ca(ctx, key, key, &spec, &ca));
    idm_ca_free(&ca);
    int64_t saved = now_ms;
    now_ms = (spec.not_after_s + 1) * 1000;
    ck_assert_idm_error(load_ca(ctx, key, key, &spec, &ca), IDM_ERR_CRYPTO, "expired");
    now_ms = (spec.not_before_s - 3600) * 1000;
    ck_assert_idm_error(load_ca(ctx, key, key, &spec, &ca), IDM_ERR_CRYPTO, "not valid yet");
    now_ms = saved;
    EVP_PKEY_free(key);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_pem_ca_with_an_unsupported_key_type_is_refused_by_name)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    struct ca_cert_spec spec = good_ca_spec();
    idm_ca_t *ca = NULL;
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ck_assert_ptr_nonnull(ed);
    ck_assert_idm_error(load_ca(ctx, ed, ed, &spec, &ca), IDM_ERR_CRYPTO, "ED25519");
    EVP_PKEY_free(ed);
    EVP_PKEY *small = EVP_RSA_gen(1024);
    ck_assert_ptr_nonnull(small);
    ck_assert_idm_error(load_ca(ctx, small, small, &spec, &ca), IDM_ERR_CRYPTO, "1024");
    EVP_PKEY_free(small);
    EVP_PKEY *k1 = EVP_EC_gen("secp256k1");
    ck_assert_ptr_nonnull(k1);
    ck_assert_idm_error(load_ca(ctx, k1, k1, &spec, &ca), IDM_ERR_CRYPTO, "secp256k1");
    EVP_PKEY_free(k1);
    ck_assert_ptr_null(ca);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_encrypted_pem_key_needs_the_right_passphrase)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(key);
    struct ca_cert_spec spec = good_ca_spec();
    size_t cl, kl;
    char *cert = make_cert_pem(key, &spec, &cl);
    char *pem = make_key_pem(key, PASSPHRASE, &kl);
    ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl_pem(&ca, ctx, cert, cl, pem, kl, give_passphrase,
                                 (void *)PASSPHRASE));
    ck_assert_ptr_nonnull(ca);
    idm_ca_free(&ca);
    ck_assert_idm_error(idm_ca_new_openssl_pem(&ca, ctx, cert, cl, pem, kl, give_passphrase,
                                               (void *)"wrong horse battery staple"),
                        IDM_ERR_PARSE, "key_pem");
    ck_assert_ptr_null(ca);
    ck_assert_idm_error(idm_ca_new_openssl_pem(&ca, ctx, cert, cl, pem, kl, NULL, NULL),
                        IDM_ERR_PARSE, "key_pem");
    free(cert);
    free(pem);
    EVP_PKEY_free(key);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_garbage_pem_is_a_parse_error)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(key);
    struct ca_cert_spec spec = good_ca_spec();
    size_t cl, kl;
    char *cert = make_cert_pem(key, &spec, &cl);
    char *pem = make_key_pem(key, NULL, &kl);
    static const char garbage[] = "this is not PEM at all\n";
    static const char bad_base64[] = "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n"
                                     "-----END CERTIFICATE-----\n";
    static const char bad_key[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    idm_ca_t *ca = NULL;
    ck_assert_idm_error(idm_ca_new_openssl_pem(&ca, ctx, garbage, sizeof garbage - 1, pem, kl,
                                               NULL, NULL),
                        IDM_ERR_PARSE, "cert_pem");
    ck_assert_idm_error(idm_ca_new_openssl_pem(&ca, ctx, bad_base64, sizeof bad_base64 - 1, pem,
                                               kl, NULL, NULL),
                        IDM_ERR_PARSE, "cert_pem");
    ck_assert_idm_error(idm_ca_new_openssl_pem(&ca, ctx, cert, cl, garbage, sizeof garbage - 1,
                                               NULL, NULL),
                        IDM_ERR_PARSE, "key_pem");
    ck_assert_idm_error(idm_ca_new_openssl_pem(&ca, ctx, cert, cl, bad_key, sizeof bad_key - 1,
                                               NULL, NULL),
                        IDM_ERR_PARSE, "key_pem");
    ck_assert_ptr_null(ca);
    free(cert);
    free(pem);
    EVP_PKEY_free(key);
    idm_ctx_free(&ctx);
}
END_TEST

/* A context, a P-256 CA and an employee card for the issue-time checks. */
struct issue_world {
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_identity_t *person;
    idm_card_t *card;
};

static void issue_world_new(struct issue_world *w)
{
    w->ctx = new_ctx(":memory:");
    ck_ok(idm_ca_new_openssl(&w->ca, w->ctx, IDM_KEY_EC_P256, "Issue CA", 3650));
    w->person = new_person(w->ctx, "E9", "Ada", "Lovelace", "ada@corp.example");
    w->card = new_card(w->ctx, IDM_CARD_EMPLOYEE, w->person, NULL);
}

static void issue_world_free(struct issue_world *w)
{
    idm_card_free(&w->card);
    idm_identity_free(&w->person);
    idm_ca_free(&w->ca);
    idm_ctx_free(&w->ctx);
}

static int issue_raw(struct issue_world *w, const unsigned char *spki, size_t len)
{
    idm_cert_t *cert = NULL;
    int rc = idm_card_issue_certificate(w->card, ACTOR, w->ca, IDM_USAGE_AUTHENTICATION, spki,
                                        len, 1, &cert);
    ck_assert_ptr_null(cert);
    return rc;
}

START_TEST(test_malformed_spki_is_refused_naming_spki)
{
    struct issue_world w;
    issue_world_new(&w);
    size_t len;
    const unsigned char *good = subject_spki(KEY_P256, &len);
    static const unsigned char garbage[] = "\x30\x03garbage";
    ck_assert_idm_error(issue_raw(&w, garbage, sizeof garbage - 1), IDM_ERR_INVALID_ARG,
                        "'spki'");
    ck_assert_idm_error(issue_raw(&w, good, len - 5), IDM_ERR_INVALID_ARG, "'spki'");
    ck_assert_idm_error(issue_raw(&w, good, 1), IDM_ERR_INVALID_ARG, "'spki'");
    unsigned char *longer = malloc(len + 1);
    ck_assert_ptr_nonnull(longer);
    memcpy(longer, good, len);
    longer[len] = 0x00;
    ck_assert_idm_error(issue_raw(&w, longer, len + 1), IDM_ERR_INVALID_ARG, "'spki'");
    ck_assert_idm_error(issue_raw(&w, good, 0), IDM_ERR_INVALID_ARG, "'spki'");
    free(longer);
    ck_assert_uint_eq(count_certs(w.ctx, card_id(w.card)), 0);
    issue_world_free(&w);
}
END_TEST

START_TEST(test_unsupported_subject_key_is_refused_naming_the_key_type)
{
    struct issue_world w;
    issue_world_new(&w);
    const struct {
        EVP_PKEY *key;
        const char *needle;
    } bad[] = {
        {EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), "ED25519"},
        {EVP_RSA_gen(1024), "1024"},
        {EVP_EC_gen("secp256k1"), "secp256k1"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        ck_assert_ptr_nonnull(bad[i].key);
        size_t len;
        unsigned char *spki = spki_der(bad[i].key, &len);
        int rc = issue_raw(&w, spki, len);
        OPENSSL_free(spki);
        EVP_PKEY_free(bad[i].key);
        ck_assert_idm_error(rc, IDM_ERR_INVALID_ARG, bad[i].needle);
        ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "'spki'"));
    }
    ck_assert_uint_eq(count_certs(w.ctx, card_id(w.card)), 0);
    issue_world_free(&w);
}
END_TEST

START_TEST(test_holder_that_is_not_active_gets_no_certificate)
{
    struct issue_world w;
    issue_world_new(&w);
    size_t len;
    const unsigned char *spki = subject_spki(KEY_P256, &len);
    ck_ok(idm_identity_set_state(w.person, ACTOR, IDM_IDENTITY_INACTIVE));
    ck_assert_idm_error(issue_raw(&w, spki, len), IDM_ERR_STATE, "inactive");

    /* Registered, never activated. */
    idm_identity_t *fresh = NULL;
    ck_ok(idm_identity_new(w.ctx, ACTOR, "E10", &fresh));
    ck_ok(idm_identity_set_attribute(fresh, ACTOR, "givenName", "Bob"));
    ck_ok(idm_identity_set_attribute(fresh, ACTOR, "surname", "Builder"));
    idm_card_t *card = new_card(w.ctx, IDM_CARD_VISITOR, fresh, NULL);
    ck_assert_idm_error(idm_card_issue_certificate(card, ACTOR, w.ca, IDM_USAGE_SIGNATURE, spki,
                                                   len, 1, NULL),
                        IDM_ERR_STATE, "registered");
    ck_assert_uint_eq(count_certs(w.ctx, card_id(card)), 0);
    ck_assert_uint_eq(count_certs(w.ctx, card_id(w.card)), 0);
    idm_card_free(&card);
    idm_identity_free(&fresh);
    issue_world_free(&w);
}
END_TEST

START_TEST(test_locked_card_gets_no_certificate)
{
    struct issue_world w;
    issue_world_new(&w);
    activate(w.card);
    ck_ok(idm_card_set_state(w.card, ACTOR, IDM_CARD_LOCKED, NULL));
    size_t len;
    const unsigned char *spki = subject_spki(KEY_P256, &len);
    ck_assert_idm_error(issue_raw(&w, spki, len), IDM_ERR_STATE, "locked");
    ck_assert_uint_eq(count_certs(w.ctx, card_id(w.card)), 0);
    issue_world_free(&w);
}
END_TEST

/* ---- export of the CA key -------------------------------------------------------------- */

static char *export_key(const idm_ca_t *ca, const char *passphrase, size_t *len)
{
    idm_buffer_t *b = NULL;
    ck_ok(idm_buffer_new(&b));
    ck_ok(idm_ca_export_key(ca, give_passphrase, (void *)passphrase, b));
    const unsigned char *data;
    buffer_bytes(b, &data, len);
    char *pem = malloc(*len + 1);
    ck_assert_ptr_nonnull(pem);
    memcpy(pem, data, *len);
    pem[*len] = '\0';
    idm_buffer_free(&b);
    return pem;
}

static char *ca_cert_pem(const idm_ca_t *ca, size_t *len)
{
    idm_buffer_t *b = NULL;
    ck_ok(idm_buffer_new(&b));
    ck_ok(idm_ca_get_certificate(ca, b));
    const unsigned char *der;
    size_t dl;
    buffer_bytes(b, &der, &dl);
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)dl);
    ck_assert_ptr_nonnull(x);
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_X509(bio, x), 1);
    char *pem = mem_bio_string(bio, len);
    BIO_free(bio);
    X509_free(x);
    idm_buffer_free(&b);
    return pem;
}

START_TEST(test_exported_key_loads_and_issues_certificates_that_chain_to_the_same_ca)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    set_cert_options(ctx);
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P384, "Exported CA", 3650));
    size_t kl, cl;
    char *key = export_key(ca, PASSPHRASE, &kl);
    ck_assert_ptr_nonnull(strstr(key, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    ck_assert_ptr_null(strstr(key, "-----BEGIN PRIVATE KEY-----"));
    ck_assert_ptr_null(strstr(key, "-----BEGIN EC PRIVATE KEY-----"));
    char *cert = ca_cert_pem(ca, &cl);

    idm_ca_t *loaded = NULL;
    ck_ok(idm_ca_new_openssl_pem(&loaded, ctx, cert, cl, key, kl, give_passphrase,
                                 (void *)PASSPHRASE));
    char *cert2 = ca_cert_pem(loaded, &cl);
    ck_assert_str_eq(cert2, cert);
    idm_ca_t *wrong = NULL;
    ck_assert_idm_error(idm_ca_new_openssl_pem(&wrong, ctx, cert, cl, key, kl, give_passphrase,
                                               (void *)"not the passphrase"),
                        IDM_ERR_PARSE, "key_pem");

    idm_identity_t *p = new_person(ctx, "E11", "Ada", "Lovelace", "ada@corp.example");
    idm_card_t *card = new_card(ctx, IDM_CARD_EMPLOYEE, p, NULL);
    idm_cert_t *leaf = issue(card, loaded, IDM_USAGE_AUTHENTICATION, KEY_RSA2048, 1);
    char dir[1024], path[4096];
    fixture_scratch_dir("ca-export", dir, sizeof dir);
    write_ca_cert(ca, dir, "ca");
    const unsigned char *der;
    size_t dl;
    ck_ok(idm_cert_get_der(leaf, &der, &dl));
    snprintf(path, sizeof path, "%s/leaf.pem", dir);
    write_pem_cert(path, der, dl);
    int status;
    char *out = run(&status, "openssl verify -x509_strict -CAfile '%s/ca.pem' '%s'", dir, path);
    ck_assert_msg(status == 0 && strstr(out, ": OK") != NULL, "exit %d: %s", status, flat(out));
    free(out);

    idm_cert_free(&leaf);
    idm_card_free(&card);
    idm_identity_free(&p);
    free(cert2);
    free(cert);
    OPENSSL_cleanse(key, kl);
    free(key);
    idm_ca_free(&loaded);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_export_refuses_a_short_passphrase_and_host_cas)
{
    idm_ctx_t *ctx = new_ctx(":memory:");
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Short CA", 3650));
    idm_buffer_t *b = NULL;
    ck_ok(idm_buffer_new(&b));
    ck_assert_idm_error(idm_ca_export_key(ca, give_passphrase, (void *)"1234567", b),
                        IDM_ERR_INVALID_ARG, "passphrase");
    ck_assert_idm_error(idm_ca_export_key(ca, give_passphrase, (void *)"", b),
                        IDM_ERR_INVALID_ARG, "passphrase");
    size_t len;
    const unsigned char *data;
    ck_ok(idm_buffer_get(b, &data, &len));
    ck_assert_uint_eq(len, 0);
    ck_ok(idm_ca_export_key(ca, give_passphrase, (void *)"12345678", b)); /* 8 is enough */

    struct host_ca h;
    host_init(&h);
    idm_ca_t *host = host_ca_new(&h, 1);
    ck_assert_idm_error(idm_ca_export_key(host, give_passphrase, (void *)PASSPHRASE, b),
                        IDM_ERR_UNSUPPORTED, "host CA");
    ck_assert_idm_error(idm_ca_get_certificate(host, b), IDM_ERR_UNSUPPORTED, "host CA");
    idm_ca_free(&host);
    host_clear(&h);
    idm_buffer_free(&b);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
}
END_TEST

/* ---- 5. secrets ---------------------------------------------------------------------- */

static int contains(const unsigned char *hay, size_t hay_len, const void *needle, size_t len)
{
    if (len == 0 || hay_len < len)
        return 0;
    for (size_t i = 0; i + len <= hay_len; i++) {
        if (hay[i] == ((const unsigned char *)needle)[0] && memcmp(hay + i, needle, len) == 0)
            return 1;
    }
    return 0;
}

/* Searches the store file and its WAL for each form of the secret. */
static void search_store(struct faults *f, const char *store, const unsigned char *scalar,
                         size_t scalar_len, const char *when)
{
    char hex[2 * 66 + 1], lower[sizeof hex];
    for (size_t i = 0; i < scalar_len; i++) {
        snprintf(hex + 2 * i, 3, "%02X", scalar[i]);
        snprintf(lower + 2 * i, 3, "%02x", scalar[i]);
    }
    const char *suffixes[] = {"", "-wal"};
    for (size_t s = 0; s < N(suffixes); s++) {
        char path[4096];
        snprintf(path, sizeof path, "%s%s", store, suffixes[s]);
        size_t len;
        unsigned char *bytes = fixture_read_file(path, &len);
        if (bytes == NULL)
            continue;
        if (contains(bytes, len, scalar, scalar_len))
            fault(f, "%s: %s holds the CA's private scalar", when, path);
        if (contains(bytes, len, hex, strlen(hex)) || contains(bytes, len, lower, strlen(lower)))
            fault(f, "%s: %s holds the CA's private scalar in hex", when, path);
        if (contains(bytes, len, "PRIVATE KEY", 11))
            fault(f, "%s: %s holds a PEM private key", when, path);
        free(bytes);
    }
}

START_TEST(test_ca_private_key_never_reaches_the_store)
{
    const char *path = fixture_store_path("ca-secrets");
    char store[1024];
    snprintf(store, sizeof store, "%s", path);
    idm_ctx_t *ctx = new_ctx(store);
    set_cert_options(ctx);
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Secret CA", 3650));

    /* The life of a CA: issue, revoke, hold, release, lock, CRLs, export,
     * reload, a failing host. */
    idm_identity_t *p = new_person(ctx, "E12", "Ada", "Lovelace", "ada@corp.example");
    idm_card_t *card = new_card(ctx, IDM_CARD_EMPLOYEE, p, NULL);
    activate(card);
    idm_cert_t *a = issue(card, ca, IDM_USAGE_AUTHENTICATION, KEY_P256, 1);
    idm_cert_t *s = issue(card, ca, IDM_USAGE_SIGNATURE, KEY_RSA2048, 1);
    idm_cert_t *e = issue(card, ca, IDM_USAGE_ENCRYPTION, KEY_P384, 1);
    ck_ok(idm_cert_revoke(a, ACTOR, ca, IDM_REVOKE_KEY_COMPROMISE));
    ck_ok(idm_cert_hold(s, ACTOR, ca));
    ck_ok(idm_cert_release(s, ACTOR, ca));
    idm_buffer_t *crl = NULL;
    ck_ok(idm_buffer_new(&crl));
    ck_ok(idm_ca_generate_crl(ca, ctx, 24, crl));

    size_t kl, cl;
    char *key_pem = export_key(ca, PASSPHRASE, &kl);
    char *cert_pem = ca_cert_pem(ca, &cl);
    idm_ca_t *loaded = NULL;
    ck_ok(idm_ca_new_openssl_pem(&loaded, ctx, cert_pem, cl, key_pem, kl, give_passphrase,
                                 (void *)PASSPHRASE));
    idm_cert_t *s2 = issue(card, loaded, IDM_USAGE_SIGNATURE, KEY_P256, 2);
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_LOCKED, NULL));
    ck_ok(idm_ca_generate_crl(loaded, ctx, 24, crl));

    struct host_ca h;
    host_init(&h);
    h.fail_issues = 1;
    h.fail_message = "EJBCA: end entity not found";
    idm_ca_t *host = host_ca_new(&h, 1);
    idm_card_t *desk = new_card(ctx, IDM_CARD_NON_PERSONAL, NULL, "Desk");
    size_t spki_len;
    const unsigned char *spki = subject_spki(KEY_P256, &spki_len);
    ck_assert_int_eq(idm_card_issue_certificate(desk, ACTOR, host, IDM_USAGE_AUTHENTICATION, spki,
                                                spki_len, 1, NULL),
                     IDM_ERR_BACKEND);

    /* The private scalar, read from the export with the passphrase. */
    BIO *bio = BIO_new_mem_buf(key_pem, (int)kl);
    ck_assert_ptr_nonnull(bio);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)PASSPHRASE);
    BIO_free(bio);
    ck_assert_ptr_nonnull(key);
    BIGNUM *priv = NULL;
    ck_assert_int_eq(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv), 1);
    unsigned char scalar[32], raw[32];
    ck_assert_int_eq(BN_bn2binpad(priv, scalar, sizeof scalar), 32);
    int raw_len = BN_bn2bin(priv, raw);
    ck_assert_int_gt(raw_len, 16);
    BN_clear_free(priv);
    /* The control: the search finds the scalar where it is, in the key's DER. */
    unsigned char *key_der = NULL;
    int key_der_len = i2d_PrivateKey(key, &key_der);
    ck_assert_int_gt(key_der_len, 0);
    ck_assert(contains(key_der, (size_t)key_der_len, scalar, sizeof scalar));
    OPENSSL_clear_free(key_der, (size_t)key_der_len);
    EVP_PKEY_free(key);

    struct faults f = {0};
    search_store(&f, store, scalar, sizeof scalar, "open store");
    search_store(&f, store, raw, (size_t)raw_len, "open store");

    idm_audit_iter_t *it = NULL;
    ck_ok(idm_audit_iter_new(ctx, &it));
    size_t events = 0;
    for (;;) {
        idm_audit_event_t *ev = NULL;
        ck_ok(idm_audit_iter_next(it, &ev));
        if (ev == NULL)
            break;
        const char *detail;
        ck_ok(idm_audit_event_get_detail(ev, &detail));
        if (strstr(detail, "PRIVATE KEY") != NULL || strstr(detail, PASSPHRASE) != NULL)
            fault(&f, "audit event %zu: \"%s\"", events, detail);
        events++;
        idm_audit_event_free(&ev);
    }
    idm_audit_iter_free(&it);
    ck_assert_uint_gt(events, 20);

    idm_card_free(&desk);
    idm_ca_free(&host);
    host_clear(&h);
    idm_cert_free(&a);
    idm_cert_free(&s);
    idm_cert_free(&e);
    idm_cert_free(&s2);
    idm_card_free(&card);
    idm_identity_free(&p);
    idm_buffer_free(&crl);
    idm_ca_free(&loaded);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    /* Closed: everything checkpointed into the main file. */
    search_store(&f, store, scalar, sizeof scalar, "closed store");
    search_store(&f, store, raw, (size_t)raw_len, "closed store");
    OPENSSL_cleanse(scalar, sizeof scalar);
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(key_pem, kl);
    free(key_pem);
    free(cert_pem);
    fixture_remove_store(store);
    ck_assert_no_faults(&f);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------------- */

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    /* Key generation and the openssl/python runs; valgrind runs in-process
     * (CK_FORK=no), where Check applies no timeout. */
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, no_setup, free_subject_keys);
    return tc;
}

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("ca");

    TCase *tc = tcase("profiles");
    tcase_add_test(tc, test_every_profile_verifies_with_openssl_and_the_checker);
    tcase_add_test(tc, test_checker_rejects_a_wrong_expectation);
    tcase_add_test(tc, test_validity_follows_the_options);
    suite_add_tcase(s, tc);

    tc = tcase("revocation");
    tcase_add_test(tc, test_crl_lists_revoked_and_held_serials_with_their_reasons);
    tcase_add_test(tc, test_locked_card_certificates_are_revoked_and_in_the_next_crl);
    tcase_add_test(tc, test_inactive_card_certificates_are_held_in_the_crl_until_reactivated);
    tcase_add_test(tc, test_certificates_never_outlive_the_built_in_ca);
    tcase_add_test(tc, test_built_in_ca_refuses_another_cas_certificate);
    suite_add_tcase(s, tc);

    tc = tcase("idempotency");
    tcase_add_test(tc, test_repeated_issue_returns_the_recorded_certificate_without_asking_the_ca);
    tcase_add_test(tc, test_pending_issue_is_retried_with_the_same_idempotency_key);
    suite_add_tcase(s, tc);

    tc = tcase("host_ca");
    tcase_add_test(tc, test_host_ca_serves_issue_revoke_hold_release_and_crl);
    tcase_add_test(tc, test_host_ca_without_hold_cannot_hold_or_release);
    tcase_add_test(tc, test_host_ca_failure_is_a_backend_error_in_its_own_words_and_audited);
    tcase_add_test(tc, test_host_ca_failed_revoke_leaves_the_certificate_valid_and_is_audited);
    tcase_add_test(tc, test_host_ca_certificate_for_another_key_is_refused);
    tcase_add_test(tc, test_ca_new_refuses_unknown_version_and_missing_methods);
    tcase_add_test(tc, test_ca_new_accepts_a_smaller_older_table_without_optional_methods);
    suite_add_tcase(s, tc);

    tc = tcase("bad_input");
    tcase_add_test(tc, test_pem_ca_that_is_not_a_ca_certificate_is_refused);
    tcase_add_test(tc, test_pem_ca_without_basic_constraints_is_refused_despite_key_cert_sign);
    tcase_add_test(tc, test_pem_ca_v1_certificate_is_refused_as_not_a_ca);
    tcase_add_test(tc, test_pem_ca_without_key_cert_sign_is_refused_naming_key_usage);
    tcase_add_test(tc, test_pem_ca_whose_key_does_not_match_is_refused);
    tcase_add_test(tc, test_pem_ca_that_expired_or_is_not_yet_valid_is_refused);
    tcase_add_test(tc, test_pem_ca_with_an_unsupported_key_type_is_refused_by_name);
    tcase_add_test(tc, test_encrypted_pem_key_needs_the_right_passphrase);
    tcase_add_test(tc, test_garbage_pem_is_a_parse_error);
    tcase_add_test(tc, test_malformed_spki_is_refused_naming_spki);
    tcase_add_test(tc, test_unsupported_subject_key_is_refused_naming_the_key_type);
    tcase_add_test(tc, test_holder_that_is_not_active_gets_no_certificate);
    tcase_add_test(tc, test_locked_card_gets_no_certificate);
    suite_add_tcase(s, tc);

    tc = tcase("keys");
    tcase_add_test(tc, test_exported_key_loads_and_issues_certificates_that_chain_to_the_same_ca);
    tcase_add_test(tc, test_export_refuses_a_short_passphrase_and_host_cas);
    tcase_add_test(tc, test_ca_private_key_never_reaches_the_store);
    suite_add_tcase(s, tc);
    return s;
}
