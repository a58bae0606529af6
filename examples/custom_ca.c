/*
 * A certificate authority of the host's own, plugged into libidm through
 * its ops table (idm_ca_ops, <idm/ca.h>).  It stands for the CA a site
 * already runs: an offline root that signed an issuing CA once and went
 * back into the safe, and the issuing key, held by the host (here in
 * memory; in real life in an HSM, or behind a CA server's API).  It signs
 * with OpenSSL's X509 API what the library's request asks for (subject,
 * public key, validity, key usage and extended key usage of the profile,
 * UPN and e-mail as subject alternative names), keeps a table of its own
 * with every certificate it issued, keyed by the request's idempotency
 * key as the ops contract demands, records holds and revocations there,
 * and makes its CRL from that table.
 *
 * The program registers the CA and asks it for a logon certificate for a
 * card's key (a P-256 key made with libcrypto stands in for the key a card
 * generates: custom_encoder.c has a card).  The first answer is lost on
 * the way, as over a network that fails; asked again with the same
 * idempotency key, the CA returns the certificate it issued, so the card
 * never gets two.  The program checks the certificate against the issuing
 * CA's key and the chain up to the root, puts it on hold, releases it,
 * revokes it, and checks that the CA's CRL lists it.
 *
 * Run: idm-example-custom-ca STORE.db
 * The store is created afresh (an existing file is removed first).
 * Exit status: 0 when every check passed; 1 with the reason otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <idm/idm.h>

#define ACTOR "operator:example"
#define ADMIN "admin:example"

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s failed: %s (%s)\n", what, idm_last_error_message(),
            idm_strerror_name(rc));
    return 1;
}

#define TRY(call)                    \
    do {                             \
        int rc_ = (call);            \
        if (rc_ != IDM_OK)           \
            return fail(#call, rc_); \
    } while (0)

/* The example's own checks of what it got. */
#define CHECK(cond)                                              \
    do {                                                         \
        if (!(cond)) {                                           \
            fprintf(stderr, "check failed: %s\n", #cond);        \
            return 1;                                            \
        }                                                        \
    } while (0)

/* ---- the host's CA -------------------------------------------------------- */

enum status { STATUS_VALID, STATUS_ON_HOLD, STATUS_REVOKED };

/* One row of the CA's own table: what it issued, for which request, and
 * what became of it. */
struct issued {
    char *request_key; /* the library's idempotency key */
    char *serial;      /* upper-case hex, as the library names certificates */
    unsigned char *der;
    size_t der_len;
    enum status status;
    idm_revocation_reason reason; /* when revoked (certificateHold when held) */
    int64_t since_ms;             /* when revoked or held */
};

struct host_ca {
    X509 *root;    /* the offline root's certificate; its key is not here */
    X509 *cert;    /* the issuing CA's certificate, signed by the root */
    EVP_PKEY *key; /* the issuing key */
    struct issued *rows;
    size_t count;
    long crl_number;
    size_t requests;      /* issue calls, for the program to count */
    int lose_next_answer; /* the program's way to play a network failure */
};

/* A method's failure: its words go to the library's caller and the audit. */
static int refuse(const char *why)
{
    ERR_clear_error();
    idm_ca_backend_error(why);
    return 1;
}

static struct issued *find_request(struct host_ca *ca, const char *request_key)
{
    for (size_t i = 0; i < ca->count; i++) {
        if (strcmp(ca->rows[i].request_key, request_key) == 0)
            return &ca->rows[i];
    }
    return NULL;
}

static struct issued *find_serial(struct host_ca *ca, const char *serial)
{
    for (size_t i = 0; i < ca->count; i++) {
        if (strcmp(ca->rows[i].serial, serial) == 0)
            return &ca->rows[i];
    }
    return NULL;
}

/* What the CA's table says of a serial; -1 when it has no such row. */
static int status_of(struct host_ca *ca, const char *serial)
{
    const struct issued *row = find_serial(ca, serial);
    return row != NULL ? (int)row->status : -1;
}

/* Adds an extension written as in openssl.cnf, e.g. "critical,CA:TRUE". */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &v3, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* A random positive 127-bit serial number. */
static int set_random_serial(X509 *x)
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        return 0;
    bytes[0] &= 0x7F;
    BIGNUM *bn = BN_bin2bn(bytes, sizeof bytes, NULL);
    int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

/* A CA certificate for key, signed by issuer_key: by itself (a root) when
 * issuer is NULL. */
static X509 *make_ca_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                          int days, const char *constraints)
{
    X509 *x = X509_new();
    if (x == NULL)
        return NULL;
    X509_NAME *name = X509_get_subject_name(x);
    X509 *signer = issuer != NULL ? issuer : x;
    int ok = X509_set_version(x, X509_VERSION_3) && set_random_serial(x) &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                        (const unsigned char *)"Example Corp", -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                        -1, -1, 0) &&
             X509_set_issuer_name(x, X509_get_subject_name(signer)) &&
             X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
             X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) != NULL &&
             X509_set_pubkey(x, key) &&
             add_ext(x, signer, NID_basic_constraints, constraints) &&
             add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             add_ext(x, signer, NID_subject_key_identifier, "hash") &&
             add_ext(x, signer, NID_authority_key_identifier, "keyid:always") &&
             X509_sign(x, issuer_key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static void host_ca_free(void *user_data)
{
    struct host_ca *ca = user_data;
    for (size_t i = 0; i < ca->count; i++) {
        free(ca->rows[i].request_key);
        free(ca->rows[i].serial);
        free(ca->rows[i].der);
    }
    free(ca->rows);
    X509_free(ca->root);
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    free(ca);
}

/* The root signs the issuing CA once; then its key goes offline (here: it
 * is freed).  Only its certificate stays, as the anchor of the chain. */
static struct host_ca *host_ca_new(void)
{
    struct host_ca *ca = calloc(1, sizeof *ca);
    EVP_PKEY *root_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    if (ca != NULL && root_key != NULL) {
        ca->root = make_ca_cert("Example Offline Root CA", root_key, NULL, root_key, 7300,
                                "critical,CA:TRUE");
        ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    }
    if (ca != NULL && ca->root != NULL && ca->key != NULL)
        ca->cert = make_ca_cert("Example Issuing CA 1", ca->key, ca->root, root_key, 3650,
                                "critical,CA:TRUE,pathlen:0");
    EVP_PKEY_free(root_key);
    if (ca != NULL && ca->cert == NULL) {
        host_ca_free(ca);
        ca = NULL;
    }
    return ca;
}

/* The request's subject is RFC 4514 text, the most significant RDN last
 * ("CN=Ada Lovelace,O=Example Corp,C=SE"), special characters escaped
 * with a backslash.  X509_NAME wants the RDNs the other way round and
 * unescaped. */
static int set_subject(X509_NAME *name, const char *text)
{
    char *copy = strdup(text);
    char *rdns[16];
    size_t n = 0;
    int ok = copy != NULL;
    /* Cut at the commas that are not escaped. */
    for (char *p = copy, *start = copy; ok; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
        } else if (*p == ',' || *p == '\0') {
            int last = *p == '\0';
            *p = '\0';
            ok = n < sizeof rdns / sizeof rdns[0];
            if (ok)
                rdns[n++] = start;
            start = p + 1;
            if (last)
                break;
        }
    }
    for (size_t i = n; ok && i-- > 0;) {
        char *value = strchr(rdns[i], '=');
        ok = value != NULL;
        if (!ok)
            break;
        *value++ = '\0';
        char *out = value;
        for (const char *in = value; *in != '\0'; in++) {
            if (*in == '\\' && in[1] != '\0')
                in++;
            *out++ = *in;
        }
        *out = '\0';
        ok = X509_NAME_add_entry_by_txt(name, rdns[i], MBSTRING_UTF8,
                                        (const unsigned char *)value, -1, -1, 0) == 1;
    }
    free(copy);
    return ok;
}

/* The validity the request asks for; a certificate never outlives its CA. */
static int set_validity(X509 *x, const X509 *issuer, int64_t not_before_ms, int64_t not_after_ms)
{
    time_t end = (time_t)(not_after_ms / 1000);
    if (ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(not_before_ms / 1000)) == NULL)
        return 0;
    if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(issuer), end) < 0)
        return X509_set1_notAfter(x, X509_get0_notAfter(issuer));
    return ASN1_TIME_set(X509_getm_notAfter(x), end) != NULL;
}

/* The profiles of <idm/ca.h>, by key usage. */
static int add_profile(X509 *x, X509 *issuer, idm_key_usage usage, int rsa)
{
    static const struct {
        const char *key_usage;
        const char *ext_key_usage;
    } profiles[] = {
        [IDM_USAGE_AUTHENTICATION] = {"critical,digitalSignature",
                                      "clientAuth,1.3.6.1.4.1.311.20.2.2"},
        [IDM_USAGE_SIGNATURE] = {"critical,digitalSignature,nonRepudiation", "emailProtection"},
        [IDM_USAGE_ENCRYPTION] = {"critical,keyAgreement", "emailProtection"},
        [IDM_USAGE_CARD_AUTHENTICATION] = {"critical,digitalSignature", "2.16.840.1.101.3.6.8"},
    };
    if ((size_t)usage >= sizeof profiles / sizeof profiles[0])
        return 0;
    const char *key_usage = usage == IDM_USAGE_ENCRYPTION && rsa ? "critical,keyEncipherment"
                                                                 : profiles[usage].key_usage;
    return add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
           add_ext(x, issuer, NID_key_usage, key_usage) &&
           add_ext(x, issuer, NID_ext_key_usage, profiles[usage].ext_key_usage) &&
           add_ext(x, issuer, NID_subject_key_identifier, "hash") &&
           add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
}

/* The UPN as Microsoft's otherName (1.3.6.1.4.1.311.20.2.3, UTF8String). */
static GENERAL_NAME *upn_name(const char *upn)
{
    GENERAL_NAME *name = GENERAL_NAME_new();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1);
    ASN1_UTF8STRING *text = ASN1_UTF8STRING_new();
    ASN1_TYPE *value = ASN1_TYPE_new();
    int ok = name != NULL && oid != NULL && text != NULL && value != NULL &&
             ASN1_STRING_set(text, upn, -1) == 1 &&
             ASN1_TYPE_set1(value, V_ASN1_UTF8STRING, text) == 1 &&
             GENERAL_NAME_set0_othername(name, oid, value) == 1;
    ASN1_UTF8STRING_free(text); /* value holds a copy */
    if (ok)
        return name; /* which owns oid and value now */
    ASN1_TYPE_free(value);
    ASN1_OBJECT_free(oid);
    GENERAL_NAME_free(name);
    return NULL;
}

/* The e-mail address as rfc822Name. */
static GENERAL_NAME *email_name(const char *email)
{
    GENERAL_NAME *name = GENERAL_NAME_new();
    ASN1_IA5STRING *address = ASN1_IA5STRING_new();
    if (name == NULL || address == NULL || ASN1_STRING_set(address, email, -1) != 1) {
        ASN1_IA5STRING_free(address);
        GENERAL_NAME_free(name);
        return NULL;
    }
    GENERAL_NAME_set0_value(name, GEN_EMAIL, address);
    return name;
}

/* Appends a name to names, which owns it then (it is freed on failure). */
static int push_name(GENERAL_NAMES *names, GENERAL_NAME *name)
{
    if (name != NULL && sk_GENERAL_NAME_push(names, name) > 0)
        return 1;
    GENERAL_NAME_free(name);
    return 0;
}

/* subjectAltName: the names the request gives. */
static int add_names(X509 *x, const char *upn, const char *email)
{
    if (upn == NULL && email == NULL)
        return 1;
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    int ok = names != NULL && (upn == NULL || push_name(names, upn_name(upn))) &&
             (email == NULL || push_name(names, email_name(email))) &&
             X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(names);
    return ok;
}

/* Keeps what was issued for a request in the CA's table. */
static int record(struct host_ca *ca, const char *request_key, const X509 *x,
                  const unsigned char *der, size_t der_len)
{
    struct issued *grown = realloc(ca->rows, (ca->count + 1) * sizeof *grown);
    if (grown == NULL)
        return 0;
    ca->rows = grown;
    struct issued *row = &ca->rows[ca->count];
    memset(row, 0, sizeof *row);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    row->request_key = strdup(request_key);
    row->serial = hex != NULL ? strdup(hex) : NULL;
    row->der = malloc(der_len);
    OPENSSL_free(hex);
    BN_free(bn);
    if (row->request_key == NULL || row->serial == NULL || row->der == NULL) {
        free(row->request_key);
        free(row->serial);
        free(row->der);
        return 0;
    }
    memcpy(row->der, der, der_len);
    row->der_len = der_len;
    ca->count++;
    return 1;
}

/* ops.issue: a certificate for the request, or the one issued for it before. */
static int ca_issue(const idm_cert_request_t *req, idm_buffer_t *certificate, void *user_data)
{
    struct host_ca *ca = user_data;
    const char *request_key, *subject, *upn, *email;
    const unsigned char *spki;
    size_t spki_len;
    idm_card_type type;
    idm_key_usage usage;
    int64_t not_before, not_after;
    if (idm_cert_request_get_idempotency_key(req, &request_key) != IDM_OK ||
        idm_cert_request_get_subject(req, &subject) != IDM_OK ||
        idm_cert_request_get_names(req, &upn, &email) != IDM_OK ||
        idm_cert_request_get_public_key(req, &spki, &spki_len) != IDM_OK ||
        idm_cert_request_get_profile(req, &type, &usage) != IDM_OK ||
        idm_cert_request_get_validity(req, &not_before, &not_after) != IDM_OK)
        return refuse("the request cannot be read");
    ca->requests++;

    /* A request seen before (the library stopped after asking and before
     * recording the answer): the same certificate again, not a second one. */
    const struct issued *row = find_request(ca, request_key);
    if (row != NULL) {
        printf("  CA: request %s again: certificate %s once more\n", request_key, row->serial);
        return idm_buffer_set(certificate, row->der, row->der_len) == IDM_OK
                   ? 0
                   : refuse("no memory for the certificate");
    }
    printf("  CA: %s certificate for \"%s\" (%s card), request %s\n",
           idm_key_usage_name(usage), subject, idm_card_type_name(type), request_key);

    const unsigned char *p = spki;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)spki_len);
    X509 *x = X509_new();
    int ok = key != NULL && x != NULL && X509_set_version(x, X509_VERSION_3) &&
             set_random_serial(x) && set_subject(X509_get_subject_name(x), subject) &&
             X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) &&
             set_validity(x, ca->cert, not_before, not_after) && X509_set_pubkey(x, key) &&
             add_profile(x, ca->cert, usage, EVP_PKEY_is_a(key, "RSA")) &&
             add_names(x, upn, email) && X509_sign(x, ca->key, EVP_sha256()) > 0;
    unsigned char *der = NULL;
    int der_len = ok ? i2d_X509(x, &der) : -1;
    ok = der_len > 0 && record(ca, request_key, x, der, (size_t)der_len) &&
         idm_buffer_set(certificate, der, (size_t)der_len) == IDM_OK;
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(key);
    if (!ok)
        return refuse("OpenSSL could not make the certificate");
    if (ca->lose_next_answer) {
        /* Issued and in the table, but the library never hears of it. */
        ca->lose_next_answer = 0;
        return refuse("timed out waiting for the CA's answer");
    }
    return 0;
}

/* ops.revoke, ops.hold, ops.release: the CA's table follows. */
static int ca_revoke(const char *serial, idm_revocation_reason reason, int64_t time_ms,
                     void *user_data)
{
    struct issued *row = find_serial(user_data, serial);
    if (row == NULL)
        return refuse("the CA never issued a certificate with this serial");
    printf("  CA: revoke %s (reason %d)\n", serial, (int)reason);
    row->status = STATUS_REVOKED;
    row->reason = reason;
    row->since_ms = time_ms;
    return 0;
}

static int ca_hold(const char *serial, int64_t time_ms, void *user_data)
{
    struct issued *row = find_serial(user_data, serial);
    if (row == NULL || row->status != STATUS_VALID)
        return refuse("the CA has no valid certificate with this serial");
    printf("  CA: hold %s\n", serial);
    row->status = STATUS_ON_HOLD;
    row->reason = IDM_REVOKE_CERTIFICATE_HOLD;
    row->since_ms = time_ms;
    return 0;
}

static int ca_release(const char *serial, void *user_data)
{
    struct issued *row = find_serial(user_data, serial);
    if (row == NULL || row->status != STATUS_ON_HOLD)
        return refuse("the CA has no certificate on hold with this serial");
    printf("  CA: release %s\n", serial);
    row->status = STATUS_VALID;
    return 0;
}

/* One entry of the CRL: serial, date, and the reason unless unspecified. */
static int add_revoked(X509_CRL *crl, const struct issued *row)
{
    X509_REVOKED *entry = X509_REVOKED_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = BN_hex2bn(&bn, row->serial) > 0 ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)(row->since_ms / 1000));
    ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
    int ok = entry != NULL && serial != NULL && when != NULL && reason != NULL &&
             X509_REVOKED_set_serialNumber(entry, serial) == 1 &&
             X509_REVOKED_set_revocationDate(entry, when) == 1;
    if (ok && row->reason != IDM_REVOKE_UNSPECIFIED)
        ok = ASN1_ENUMERATED_set(reason, (long)row->reason) == 1 &&
             X509_REVOKED_add1_ext_i2d(entry, NID_crl_reason, reason, 0, 0) == 1;
    if (ok && X509_CRL_add0_revoked(crl, entry) == 1)
        entry = NULL; /* the CRL owns it */
    else
        ok = 0;
    X509_REVOKED_free(entry);
    ASN1_ENUMERATED_free(reason);
    ASN1_TIME_free(when);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return ok;
}

/* ops.crl: every certificate of the table that is revoked or on hold,
 * signed by the issuing key, valid for a day. */
static int ca_crl(idm_buffer_t *out, void *user_data)
{
    struct host_ca *ca = user_data;
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
    ASN1_TIME *next = X509_time_adj_ex(NULL, 1, 0, NULL);
    ASN1_INTEGER *number = ASN1_INTEGER_new();
    int ok = crl != NULL && now != NULL && next != NULL && number != NULL &&
             X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) &&
             X509_CRL_set1_lastUpdate(crl, now) && X509_CRL_set1_nextUpdate(crl, next);
    for (size_t i = 0; ok && i < ca->count; i++) {
        if (ca->rows[i].status != STATUS_VALID)
            ok = add_revoked(crl, &ca->rows[i]);
    }
    ok = ok && ASN1_INTEGER_set(number, ca->crl_number + 1) == 1 &&
         X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) == 1 && X509_CRL_sort(crl) &&
         X509_CRL_sign(crl, ca->key, EVP_sha256()) > 0;
    unsigned char *der = NULL;
    int len = ok ? i2d_X509_CRL(crl, &der) : -1;
    ok = len > 0 && idm_buffer_set(out, der, (size_t)len) == IDM_OK;
    if (ok)
        ca->crl_number++;
    OPENSSL_free(der);
    ASN1_INTEGER_free(number);
    ASN1_TIME_free(next);
    ASN1_TIME_free(now);
    X509_CRL_free(crl);
    return ok ? 0 : refuse("OpenSSL could not make the CRL");
}

/* ---- the program ---------------------------------------------------------- */

static void remove_store(const char *path)
{
    char side[4096];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

/* As a relying party checks it: signed by the issuing CA, and a chain from
 * there to the offline root. */
static int verify_chain(const struct host_ca *host, X509 *x)
{
    if (X509_verify(x, X509_get0_pubkey(host->cert)) != 1)
        return 0;
    X509_STORE *anchors = X509_STORE_new();
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int ok = anchors != NULL && vctx != NULL && untrusted != NULL &&
             X509_STORE_add_cert(anchors, host->root) == 1 &&
             sk_X509_push(untrusted, host->cert) > 0 &&
             X509_STORE_CTX_init(vctx, anchors, x, untrusted) == 1;
    if (ok && X509_verify_cert(vctx) != 1) {
        fprintf(stderr, "chain: %s\n",
                X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
        ok = 0;
    }
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(anchors);
    return ok;
}

/* The CRL as a relying party reads it: signed by the issuing CA, and the
 * reason it gives for serial (-1 when the serial is not listed). */
static int crl_reason(const struct host_ca *host, const idm_buffer_t *der, const X509 *x,
                      long *crl_number)
{
    const unsigned char *p;
    size_t len;
    X509_CRL *crl = NULL;
    if (idm_buffer_get(der, &p, &len) == IDM_OK)
        crl = d2i_X509_CRL(NULL, &p, (long)len);
    int reason = -1;
    X509_REVOKED *entry = NULL;
    if (crl != NULL && X509_CRL_verify(crl, X509_get0_pubkey(host->cert)) == 1 &&
        X509_CRL_get0_by_serial(crl, &entry, X509_get0_serialNumber(x)) == 1) {
        ASN1_ENUMERATED *code = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, NULL, NULL);
        reason = code != NULL ? (int)ASN1_ENUMERATED_get(code) : 0;
        ASN1_ENUMERATED_free(code);
        ASN1_INTEGER *number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
        *crl_number = number != NULL ? ASN1_INTEGER_get(number) : -1;
        ASN1_INTEGER_free(number);
    }
    X509_CRL_free(crl);
    return reason;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s STORE.db\n", argv[0]);
        return 2;
    }
    remove_store(argv[1]);
    idm_ctx_t *ctx = NULL;
    TRY(idm_ctx_new(&ctx));
    TRY(idm_ctx_open_store(ctx, argv[1]));
    TRY(idm_options_set_string(ctx, ADMIN, "cert_subject_template",
                               "/C=SE/O=Example Corp/CN=${commonName}"));
    TRY(idm_options_set_string(ctx, ADMIN, "upn_template", "${employeeNumber}@corp.example"));

    /* The CA: the library copies the ops table and calls host_ca_free()
     * with the CA's state when the handle is freed. */
    struct host_ca *host = host_ca_new();
    if (host == NULL) {
        fprintf(stderr, "cannot create the host CA's keys and certificates\n");
        return 1;
    }
    idm_ca_ops ops = IDM_CA_OPS_INIT;
    ops.issue = ca_issue;
    ops.revoke = ca_revoke;
    ops.hold = ca_hold;
    ops.release = ca_release;
    ops.crl = ca_crl;
    idm_ca_t *ca = NULL;
    int rc = idm_ca_new(&ca, &ops, sizeof ops, host, host_ca_free);
    if (rc != IDM_OK) {
        host_ca_free(host);
        return fail("idm_ca_new", rc);
    }
    printf("host CA: Example Issuing CA 1, under Example Offline Root CA (its key is offline)\n");

    /* A holder and an approved Digital ID card. */
    idm_identity_t *person = NULL;
    idm_card_t *card = NULL;
    int64_t holder;
    TRY(idm_identity_new(ctx, ADMIN, "E1001", &person));
    TRY(idm_identity_set_attribute(person, ADMIN, "employeeNumber", "E1001"));
    TRY(idm_identity_set_attribute(person, ADMIN, "givenName", "Ada"));
    TRY(idm_identity_set_attribute(person, ADMIN, "surname", "Lovelace"));
    TRY(idm_identity_set_attribute(person, ADMIN, "mail", "ada.lovelace@corp.example"));
    TRY(idm_identity_set_state(person, ADMIN, IDM_IDENTITY_ACTIVE));
    TRY(idm_identity_get_id(person, &holder));
    TRY(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL, holder,
                     NULL, &card));
    TRY(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL));
    TRY(idm_card_set_state(card, ADMIN, IDM_CARD_APPROVED, NULL));

    /* The key to certify: a card makes its own; libcrypto stands in here. */
    EVP_PKEY *card_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    unsigned char *spki = NULL;
    int spki_len = card_key != NULL ? i2d_PUBKEY(card_key, &spki) : -1;
    if (spki_len <= 0) {
        fprintf(stderr, "cannot make a P-256 key for the card\n");
        return 1;
    }

    /* The first answer is lost: the library reports the CA's failure and
     * keeps the request pending.  Asked again for the same card, order,
     * attempt and usage, it sends the same idempotency key, and the CA
     * answers with what it issued the first time.  Once recorded, a third
     * call is answered from the store: the CA is not asked. */
    idm_cert_t *cert = NULL, *again = NULL;
    const char *text;
    char serial[80];
    host->lose_next_answer = 1;
    rc = idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_AUTHENTICATION, spki,
                                    (size_t)spki_len, 1, &cert);
    CHECK(rc == IDM_ERR_BACKEND);
    printf("first try: %s: %s\n", idm_strerror_name(rc), idm_last_error_message());
    TRY(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_AUTHENTICATION, spki,
                                   (size_t)spki_len, 1, &cert));
    TRY(idm_cert_get_serial(cert, &text));
    snprintf(serial, sizeof serial, "%s", text); /* the handle's copy changes as it reloads */
    TRY(idm_card_issue_certificate(card, ACTOR, ca, IDM_USAGE_AUTHENTICATION, spki,
                                   (size_t)spki_len, 1, &again));
    TRY(idm_cert_get_serial(again, &text));
    CHECK(strcmp(serial, text) == 0 && host->count == 1 && host->requests == 2);
    idm_cert_free(&again);
    OPENSSL_free(spki);

    /* What a relying party sees. */
    const unsigned char *der;
    size_t der_len;
    TRY(idm_cert_get_der(cert, &der, &der_len));
    X509 *x = d2i_X509(NULL, &der, (long)der_len);
    CHECK(x != NULL);
    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    CHECK(strcmp(cn, "Ada Lovelace") == 0);
    CHECK(EVP_PKEY_eq(X509_get0_pubkey(x), card_key) == 1);
    CHECK(verify_chain(host, x));
    printf("certificate %s recorded: %zu requests to the CA, %zu certificate issued\n", serial,
           host->requests, host->count);
    printf("  subject: ");
    X509_NAME_print_ex_fp(stdout, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
    printf("\n  issuer:  ");
    X509_NAME_print_ex_fp(stdout, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253);
    printf("\n  verified: signed by the issuing CA's key, chained to the offline root\n");

    /* The card's state moves its certificate in the store (on hold while
     * the card is issued, valid once it is active) without a call to the
     * CA, whose table keeps it valid all along.  A hold, a release or a
     * revocation asked for goes through the CA first, then the store. */
    idm_cert_state state;
    TRY(idm_card_set_state(card, ACTOR, IDM_CARD_ISSUED, "produced"));
    TRY(idm_card_set_state(card, ACTOR, IDM_CARD_ACTIVE, "handed to the holder"));
    TRY(idm_cert_hold(cert, ACTOR, ca));
    TRY(idm_cert_get_state(cert, &state));
    CHECK(state == IDM_CERT_ON_HOLD && status_of(host, serial) == STATUS_ON_HOLD);
    TRY(idm_cert_release(cert, ACTOR, ca));
    TRY(idm_cert_get_state(cert, &state));
    CHECK(state == IDM_CERT_VALID && status_of(host, serial) == STATUS_VALID);
    TRY(idm_cert_revoke(cert, ACTOR, ca, IDM_REVOKE_KEY_COMPROMISE));
    TRY(idm_cert_get_state(cert, &state));
    CHECK(state == IDM_CERT_REVOKED && status_of(host, serial) == STATUS_REVOKED);
    printf("certificate %s held, released and revoked: %s in the store and in the CA's table\n",
           serial, idm_cert_state_name(state));

    /* The CA's CRL, through the library. */
    idm_buffer_t *crl = NULL;
    long crl_number = -1;
    TRY(idm_buffer_new(&crl));
    TRY(idm_ca_generate_crl(ca, ctx, 24, crl));
    int reason = crl_reason(host, crl, x, &crl_number);
    CHECK(reason == IDM_REVOKE_KEY_COMPROMISE);
    printf("CRL %ld of the host CA: signed by the issuing CA, lists %s (reason %d, "
           "keyCompromise)\n", crl_number, serial, reason);
    printf("summary: certificate %s for CN=%s issued by the host CA, verified, revoked and "
           "listed in its CRL\n", serial, cn);

    idm_buffer_free(&crl);
    X509_free(x);
    EVP_PKEY_free(card_key);
    idm_cert_free(&cert);
    idm_card_free(&card);
    idm_identity_free(&person);
    idm_ca_free(&ca); /* calls host_ca_free() */
    idm_ctx_free(&ctx);
    return 0;
}
