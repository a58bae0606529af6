/*
 * The built-in issuing CA on libcrypto 3.
 *
 * Issuing is the hot path of a Digital ID run, so the parts of a
 * certificate that do not change between requests are built once: the
 * digest is fetched once, and each profile's fixed extensions
 * (basicConstraints, keyUsage, extendedKeyUsage, authority key identifier,
 * CRL distribution point, AIA) are encoded once and only copied per
 * certificate.  The subject's public key goes into the certificate as the
 * bytes the card sent (X509_PUBKEY_set0_param), never decoded and
 * re-encoded.
 *
 * The CA key lives only in the EVP_PKEY: it is exported only encrypted, and
 * OpenSSL wipes it when the key is freed.
 */
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/ca/ca_impl.h"
#include "core/buffer_impl.h"
#include "core/context_impl.h"
#include "core/error_impl.h"

#define SERIAL_BYTES 16 /* 128 bits */

/* Fixed extensions of one profile, encoded once. */
struct profile {
    int built;
    char *crl_url; /* the URLs the extensions were built for */
    char *aia_url;
    STACK_OF(X509_EXTENSION) *exts;
};

enum { PROFILE_AUTH, PROFILE_SIGN, PROFILE_ENC_RSA, PROFILE_ENC_EC, PROFILE_CARD_AUTH, PROFILE_COUNT };

struct idm_openssl_ca {
    idm_ctx_t *ctx;
    X509 *cert;
    EVP_PKEY *key;
    EVP_MD *md;          /* fetched once */
    char key_id[2 * SHA_DIGEST_LENGTH + 1];
    struct profile profiles[PROFILE_COUNT];
};


/* ---- keys -------------------------------------------------------------- */

/* 1 if key is one the built-in CA signs with: EC P-256/P-384, RSA 2048/3072. */
static int key_supported(const EVP_PKEY *key, char *why, size_t why_size)
{
    if (EVP_PKEY_is_a(key, "EC")) {
        char group[64] = "";
        size_t len = 0;
        if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                            &len))
            snprintf(group, sizeof group, "unknown");
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0)
            return 1;
        snprintf(why, why_size, "EC curve %s is not supported (P-256 or P-384)", group);
        return 0;
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
        int bits = EVP_PKEY_get_bits(key);
        if (bits == 2048 || bits == 3072)
            return 1;
        snprintf(why, why_size, "RSA keys of %d bits are not supported (2048 or 3072)", bits);
        return 0;
    }
    snprintf(why, why_size, "%s keys are not supported (EC P-256, P-384 or RSA)",
             EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key) : "these");
    return 0;
}

/*
 * A SubjectPublicKeyInfo taken apart without OpenSSL's key decoder: in
 * OpenSSL 3.0 every decode builds a decoder context (hundreds of
 * microseconds), which would dominate issuing.  The structure, the
 * algorithm and its parameters, the key size and (for EC) the point itself
 * are checked; the bits are then placed into the certificate as they came.
 */
struct spki_parts {
    X509_ALGOR *alg;
    ASN1_BIT_STRING *bits;
    int is_rsa;
};

static void spki_parts_free(struct spki_parts *sp)
{
    X509_ALGOR_free(sp->alg);
    ASN1_BIT_STRING_free(sp->bits);
    memset(sp, 0, sizeof *sp);
}

/* The size in bits of an RSAPublicKey's modulus, or 0 if it is malformed. */
static int rsa_modulus_bits(const unsigned char *der, int len)
{
    const unsigned char *p = der;
    ASN1_SEQUENCE_ANY *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, len);
    int bits = 0;
    if (seq != NULL && p == der + len && sk_ASN1_TYPE_num(seq) == 2) {
        const ASN1_TYPE *n = sk_ASN1_TYPE_value(seq, 0);
        const ASN1_TYPE *e = sk_ASN1_TYPE_value(seq, 1);
        if (n->type == V_ASN1_INTEGER && e->type == V_ASN1_INTEGER) {
            BIGNUM *bn = ASN1_INTEGER_to_BN(n->value.integer, NULL);
            BIGNUM *be = ASN1_INTEGER_to_BN(e->value.integer, NULL);
            if (bn != NULL && be != NULL && BN_is_odd(be) && BN_num_bits(be) >= 2)
                bits = BN_num_bits(bn);
            BN_free(bn);
            BN_free(be);
        }
    }
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return bits;
}

/* 1 if the octets are a point on the curve. */
static int ec_point_valid(int curve_nid, const unsigned char *octets, int len)
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name(curve_nid);
    EC_POINT *point = group != NULL ? EC_POINT_new(group) : NULL;
    int ok = point != NULL && EC_POINT_oct2point(group, point, octets, (size_t)len, NULL) == 1 &&
             !EC_POINT_is_at_infinity(group, point);
    EC_POINT_free(point);
    EC_GROUP_free(group);
    return ok;
}

static int spki_parse(const unsigned char *spki, size_t len, struct spki_parts *sp)
{
    memset(sp, 0, sizeof *sp);
    if (len == 0 || len > INT_MAX)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'spki' has %zu bytes", len);
    const unsigned char *p = spki, *end = spki + len;
    long body = 0;
    int tag = 0, cls = 0;
    int r = ASN1_get_object(&p, &body, &tag, &cls, (long)len);
    if ((r & 0x80) != 0 || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL ||
        p + body != end ||
        (sp->alg = d2i_X509_ALGOR(NULL, &p, (long)(end - p))) == NULL ||
        (sp->bits = d2i_ASN1_BIT_STRING(NULL, &p, (long)(end - p))) == NULL || p != end) {
        ERR_clear_error();
        spki_parts_free(sp);
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'spki' is not a DER SubjectPublicKeyInfo "
                       "(SEQUENCE of an AlgorithmIdentifier and a BIT STRING, nothing after)");
    }
    const ASN1_OBJECT *obj;
    int ptype;
    const void *pval;
    X509_ALGOR_get0(&obj, &ptype, &pval, sp->alg);
    int nid = OBJ_obj2nid(obj);
    const unsigned char *key = ASN1_STRING_get0_data(sp->bits);
    int key_len = ASN1_STRING_length(sp->bits);
    int rc = IDM_OK;
    if (nid == NID_X9_62_id_ecPublicKey) {
        int curve = ptype == V_ASN1_OBJECT ? OBJ_obj2nid(pval) : NID_undef;
        if (curve != NID_X9_62_prime256v1 && curve != NID_secp384r1)
            rc = IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'spki': EC curve %s is not supported "
                         "(P-256 or P-384)", curve != NID_undef ? OBJ_nid2sn(curve) : "(explicit)");
        else if (!ec_point_valid(curve, key, key_len))
            rc = IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'spki': the EC public key is not a "
                         "point on %s", OBJ_nid2sn(curve));
    } else if (nid == NID_rsaEncryption) {
        int bits = rsa_modulus_bits(key, key_len);
        sp->is_rsa = 1;
        if (bits == 0)
            rc = IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'spki': the RSA public key is malformed");
        else if (bits != 2048 && bits != 3072 && bits != 4096)
            rc = IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'spki': RSA keys of %d bits are not "
                         "supported (2048, 3072 or 4096)", bits);
    } else {
        char name[80];
        OBJ_obj2txt(name, sizeof name, obj, 0);
        rc = IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'spki': %s keys are not supported (EC P-256, "
                     "P-384 or RSA)", name);
    }
    ERR_clear_error();
    if (rc != IDM_OK)
        spki_parts_free(sp);
    return rc;
}

int idm_spki_check(const unsigned char *spki, size_t len, int *is_rsa)
{
    struct spki_parts sp;
    int rc = spki_parse(spki, len, &sp);
    if (rc == IDM_OK)
        *is_rsa = sp.is_rsa;
    spki_parts_free(&sp);
    return rc;
}

/* ---- the CA certificate ------------------------------------------------ */

static int set_random_serial(idm_ctx_t *ctx, X509 *x)
{
    unsigned char bytes[SERIAL_BYTES];
    int rc = idm_ctx_random_bytes(ctx, bytes, sizeof bytes);
    if (rc != IDM_OK)
        return rc;
    /* Positive, and exactly 128 bits long (no leading zero byte in DER). */
    bytes[0] = (unsigned char)((bytes[0] & 0x7f) | 0x40);
    BIGNUM *bn = BN_bin2bn(bytes, sizeof bytes, NULL);
    int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    OPENSSL_cleanse(bytes, sizeof bytes);
    return ok ? IDM_OK : idm_error_crypto("cannot set a serial number");
}

static int add_ext(X509 *issuer, X509 *subject, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, subject, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    int ok = ext != NULL && X509_add_ext(subject, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

static int set_validity_ms(X509 *x, int64_t not_before_ms, int64_t not_after_ms)
{
    return ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(not_before_ms / 1000)) != NULL &&
           ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(not_after_ms / 1000)) != NULL;
}

/* Fills key_id with the hex of the CA certificate's subject key identifier. */
static int read_key_id(struct idm_openssl_ca *ca)
{
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(ca->cert);
    if (skid == NULL || ASN1_STRING_length(skid) > SHA_DIGEST_LENGTH)
        return IDM_ERR(IDM_ERR_CRYPTO, "the CA certificate has no usable subject key identifier");
    const unsigned char *b = ASN1_STRING_get0_data(skid);
    int n = ASN1_STRING_length(skid);
    for (int i = 0; i < n; i++)
        snprintf(ca->key_id + 2 * i, 3, "%02X", b[i]);
    return IDM_OK;
}

static int fetch_digest(struct idm_openssl_ca *ca)
{
    /* SHA-384 for a P-384 key, SHA-256 otherwise. */
    const char *name = "SHA256";
    if (EVP_PKEY_is_a(ca->key, "EC") && EVP_PKEY_get_bits(ca->key) == 384)
        name = "SHA384";
    ca->md = EVP_MD_fetch(NULL, name, NULL);
    return ca->md != NULL ? IDM_OK : idm_error_crypto("cannot fetch the signature digest");
}

static struct idm_openssl_ca *ca_alloc(idm_ctx_t *ctx)
{
    struct idm_openssl_ca *ca = calloc(1, sizeof *ca);
    if (ca != NULL)
        ca->ctx = ctx;
    return ca;
}

void idm_openssl_ca_free(void *p)
{
    struct idm_openssl_ca *ca = p;
    if (ca == NULL)
        return;
    for (int i = 0; i < PROFILE_COUNT; i++) {
        sk_X509_EXTENSION_pop_free(ca->profiles[i].exts, X509_EXTENSION_free);
        free(ca->profiles[i].crl_url);
        free(ca->profiles[i].aia_url);
    }
    EVP_MD_free(ca->md);
    EVP_PKEY_free(ca->key); /* OpenSSL clears the key material */
    X509_free(ca->cert);
    free(ca);
}

int idm_openssl_ca_generate(struct idm_openssl_ca **out, idm_ctx_t *ctx, idm_key_type type,
                            const char *common_name, int validity_days)
{
    *out = NULL;
    struct idm_openssl_ca *ca = ca_alloc(ctx);
    if (ca == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a CA");
    switch (type) {
    case IDM_KEY_EC_P256: ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
    case IDM_KEY_EC_P384: ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
    case IDM_KEY_RSA_2048: ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); break;
    case IDM_KEY_RSA_3072: ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072); break;
    }
    int rc = ca->key != NULL ? IDM_OK : idm_error_crypto("cannot generate the CA key");
    if (rc == IDM_OK)
        rc = fetch_digest(ca);
    if (rc == IDM_OK && (ca->cert = X509_new()) == NULL)
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate the CA certificate");
    if (rc == IDM_OK)
        rc = set_random_serial(ctx, ca->cert);
    if (rc == IDM_OK) {
        int64_t now = idm_ctx_clock_ms(ctx);
        X509_NAME *name = X509_get_subject_name(ca->cert);
        int ok = X509_set_version(ca->cert, X509_VERSION_3) &&
                 X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                            (const unsigned char *)common_name, -1, -1, 0) &&
                 X509_set_issuer_name(ca->cert, name) &&
                 set_validity_ms(ca->cert, now, now + (int64_t)validity_days * 86400000) &&
                 X509_set_pubkey(ca->cert, ca->key) &&
                 add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
                 add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign") &&
                 add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash") &&
                 add_ext(ca->cert, ca->cert, NID_authority_key_identifier, "keyid:always") &&
                 X509_sign(ca->cert, ca->key, ca->md) > 0;
        if (!ok)
            rc = idm_error_crypto("cannot make the CA certificate");
    }
    if (rc == IDM_OK)
        rc = read_key_id(ca);
    if (rc != IDM_OK) {
        idm_openssl_ca_free(ca);
        return rc;
    }
    *out = ca;
    return IDM_OK;
}

struct passphrase_bridge {
    idm_passphrase_fn fn;
    void *user_data;
};

static int pem_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const struct passphrase_bridge *b = u;
    if (b == NULL || b->fn == NULL || size <= 0)
        return -1;
    int n = b->fn(buf, (size_t)size, b->user_data);
    return n < 0 || n > size ? -1 : n;
}

/* Checks that cert may act as this CA at the context's time. */
static int check_ca_certificate(struct idm_openssl_ca *ca)
{
    /* RFC 5280 4.2.1.9: a CA certificate carries basicConstraints CA:TRUE.
     * X509_check_ca() also accepts v1 certificates and keyCertSign alone,
     * which an issuing CA must not rely on. */
    uint32_t flags = X509_get_extension_flags(ca->cert);
    if (!(flags & EXFLAG_BCONS) || !(flags & EXFLAG_CA))
        return IDM_ERR(IDM_ERR_CRYPTO, "the certificate is not a CA certificate "
                       "(it has no basicConstraints CA:TRUE%s)",
                       X509_get_version(ca->cert) != X509_VERSION_3 ? "; it is not X.509 v3" : "");
    if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(ca->cert) & KU_KEY_CERT_SIGN))
        return IDM_ERR(IDM_ERR_CRYPTO, "the CA certificate's keyUsage lacks keyCertSign");
    time_t now = (time_t)(idm_ctx_clock_ms(ca->ctx) / 1000);
    if (X509_cmp_time(X509_get0_notAfter(ca->cert), &now) <= 0)
        return IDM_ERR(IDM_ERR_CRYPTO, "the CA certificate has expired");
    if (X509_cmp_time(X509_get0_notBefore(ca->cert), &now) > 0)
        return IDM_ERR(IDM_ERR_CRYPTO, "the CA certificate is not valid yet");
    char why[128];
    if (!key_supported(ca->key, why, sizeof why))
        return IDM_ERR(IDM_ERR_CRYPTO, "the CA key: %s", why);
    if (X509_check_private_key(ca->cert, ca->key) != 1) {
        ERR_clear_error();
        return IDM_ERR(IDM_ERR_CRYPTO, "the private key does not match the CA certificate");
    }
    return IDM_OK;
}

int idm_openssl_ca_load(struct idm_openssl_ca **out, idm_ctx_t *ctx, const char *cert_pem,
                        size_t cert_len, const char *key_pem, size_t key_len,
                        idm_passphrase_fn passphrase, void *user_data)
{
    *out = NULL;
    if (cert_len > INT_MAX || key_len > INT_MAX)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "PEM input larger than %d bytes", INT_MAX);
    struct idm_openssl_ca *ca = ca_alloc(ctx);
    if (ca == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a CA");
    struct passphrase_bridge bridge = {passphrase, user_data};
    /* Memory BIOs read the caller's text in place: no copy of the key PEM. */
    BIO *cb = BIO_new_mem_buf(cert_pem, (int)cert_len);
    BIO *kb = BIO_new_mem_buf(key_pem, (int)key_len);
    int rc = IDM_OK;
    if (cb == NULL || kb == NULL)
        rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot read PEM input");
    if (rc == IDM_OK && (ca->cert = PEM_read_bio_X509(cb, NULL, NULL, NULL)) == NULL)
        rc = idm_error_crypto("argument 'cert_pem' is not a PEM certificate");
    if (rc == IDM_OK &&
        (ca->key = PEM_read_bio_PrivateKey(kb, NULL, pem_passphrase, &bridge)) == NULL)
        rc = idm_error_crypto("argument 'key_pem' cannot be read (not a PEM private key, or a wrong "
                         "passphrase)");
    if (rc == IDM_ERR_CRYPTO && (ca->cert == NULL || ca->key == NULL))
        rc = idm_error_wrap(NULL, IDM_ERR_PARSE, "cannot load the CA");
    BIO_free(cb);
    BIO_free(kb);
    if (rc == IDM_OK)
        rc = check_ca_certificate(ca);
    if (rc == IDM_OK)
        rc = fetch_digest(ca);
    if (rc == IDM_OK)
        rc = read_key_id(ca);
    if (rc != IDM_OK) {
        idm_openssl_ca_free(ca);
        return rc;
    }
    *out = ca;
    return IDM_OK;
}

const char *idm_openssl_ca_key_id(const struct idm_openssl_ca *ca)
{
    return ca->key_id;
}

int idm_openssl_ca_certificate(const struct idm_openssl_ca *ca, idm_buffer_t *der)
{
    unsigned char *buf = NULL;
    int len = i2d_X509(ca->cert, &buf);
    if (len <= 0)
        return idm_error_crypto("cannot encode the CA certificate");
    int rc = idm_buffer_put(der, buf, (size_t)len);
    OPENSSL_free(buf);
    return rc;
}

int idm_openssl_ca_export_key(const struct idm_openssl_ca *ca, idm_passphrase_fn passphrase,
                              void *user_data, idm_buffer_t *pem)
{
    char pass[1024];
    int n = passphrase(pass, sizeof pass, user_data);
    if (n < 8 || n > (int)sizeof pass) {
        OPENSSL_cleanse(pass, sizeof pass);
        return IDM_ERR(IDM_ERR_INVALID_ARG, "the passphrase must be 8 to %zu bytes",
                       sizeof pass);
    }
    BIO *out = BIO_new(BIO_s_secmem());
    int ok = out != NULL && PEM_write_bio_PKCS8PrivateKey(out, ca->key, EVP_aes_256_cbc(), pass,
                                                          n, NULL, NULL) == 1;
    OPENSSL_cleanse(pass, sizeof pass);
    int rc = IDM_OK;
    if (!ok) {
        rc = idm_error_crypto("cannot encrypt the CA key");
    } else {
        char *data = NULL;
        long len = BIO_get_mem_data(out, &data);
        rc = idm_buffer_put(pem, data, (size_t)len);
    }
    BIO_free(out);
    return rc;
}

/* ---- issuing ----------------------------------------------------------- */

static const char *const profile_key_usage[PROFILE_COUNT] = {
    [PROFILE_AUTH] = "critical,digitalSignature",
    [PROFILE_SIGN] = "critical,digitalSignature,nonRepudiation",
    [PROFILE_ENC_RSA] = "critical,keyEncipherment",
    [PROFILE_ENC_EC] = "critical,keyAgreement",
    [PROFILE_CARD_AUTH] = "critical,digitalSignature",
};

static const char *const profile_ext_key_usage[PROFILE_COUNT] = {
    [PROFILE_AUTH] = "clientAuth,1.3.6.1.4.1.311.20.2.2",
    [PROFILE_SIGN] = "emailProtection",
    [PROFILE_ENC_RSA] = "emailProtection",
    [PROFILE_ENC_EC] = "emailProtection",
    [PROFILE_CARD_AUTH] = "2.16.840.1.101.3.6.8", /* id-PIV-cardAuth */
};

/* A URI general name holding url as it is. */
static GENERAL_NAME *uri_name(const char *url)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    if (gn == NULL || ia5 == NULL || !ASN1_STRING_set(ia5, url, -1)) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(ia5);
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
    return gn;
}

/* The URLs go into their extensions as data, never through OpenSSL's
 * configuration syntax: there a comma, which LDAP URLs have, would end
 * the URI and start another name ("...,URI:http://elsewhere"). */
static int add_crl_url(X509 *x, const char *url)
{
    CRL_DIST_POINTS *points = CRL_DIST_POINTS_new();
    DIST_POINT *point = DIST_POINT_new();
    DIST_POINT_NAME *name = DIST_POINT_NAME_new();
    GENERAL_NAMES *full = GENERAL_NAMES_new();
    GENERAL_NAME *gn = uri_name(url);
    int ok = points != NULL && point != NULL && name != NULL && full != NULL && gn != NULL &&
             sk_GENERAL_NAME_push(full, gn) > 0;
    if (ok) {
        gn = NULL;
        name->type = 0; /* fullName */
        name->name.fullname = full;
        full = NULL;
        point->distpoint = name;
        name = NULL;
        ok = sk_DIST_POINT_push(points, point) > 0;
    }
    if (ok)
        point = NULL;
    ok = ok && X509_add1_ext_i2d(x, NID_crl_distribution_points, points, 0,
                                 X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(full);
    DIST_POINT_NAME_free(name);
    DIST_POINT_free(point);
    CRL_DIST_POINTS_free(points);
    return ok;
}

static int add_aia_url(X509 *x, const char *url)
{
    AUTHORITY_INFO_ACCESS *info = AUTHORITY_INFO_ACCESS_new();
    ACCESS_DESCRIPTION *access = ACCESS_DESCRIPTION_new();
    GENERAL_NAME *gn = uri_name(url);
    int ok = info != NULL && access != NULL && gn != NULL;
    if (ok) {
        ASN1_OBJECT_free(access->method);
        access->method = OBJ_nid2obj(NID_ad_ca_issuers);
        GENERAL_NAME_free(access->location);
        access->location = gn;
        gn = NULL;
        ok = sk_ACCESS_DESCRIPTION_push(info, access) > 0;
    }
    if (ok)
        access = NULL;
    ok = ok && X509_add1_ext_i2d(x, NID_info_access, info, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAME_free(gn);
    ACCESS_DESCRIPTION_free(access);
    AUTHORITY_INFO_ACCESS_free(info);
    return ok;
}

static int same_url(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The fixed extensions of a profile for these URLs, built on first use. */
static int profile_for(struct idm_openssl_ca *ca, int which, const struct idm_cert_request *req,
                       const STACK_OF(X509_EXTENSION) **out)
{
    struct profile *p = &ca->profiles[which];
    if (p->built && same_url(p->crl_url, req->crl_url) && same_url(p->aia_url, req->aia_url)) {
        *out = p->exts;
        return IDM_OK;
    }
    sk_X509_EXTENSION_pop_free(p->exts, X509_EXTENSION_free);
    free(p->crl_url);
    free(p->aia_url);
    memset(p, 0, sizeof *p);

    /* A scratch certificate carries the extensions while they are built;
     * X509V3 needs the issuer for the authority key identifier. */
    X509 *scratch = X509_new();
    int ok = scratch != NULL &&
             add_ext(ca->cert, scratch, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(ca->cert, scratch, NID_key_usage, profile_key_usage[which]) &&
             add_ext(ca->cert, scratch, NID_ext_key_usage, profile_ext_key_usage[which]) &&
             add_ext(ca->cert, scratch, NID_authority_key_identifier, "keyid:always");
    if (ok && req->crl_url != NULL)
        ok = add_crl_url(scratch, req->crl_url);
    if (ok && req->aia_url != NULL)
        ok = add_aia_url(scratch, req->aia_url);
    if (ok) {
        p->exts = sk_X509_EXTENSION_new_null();
        ok = p->exts != NULL;
        for (int i = 0; ok && i < X509_get_ext_count(scratch); i++) {
            X509_EXTENSION *e = X509_EXTENSION_dup(X509_get_ext(scratch, i));
            ok = e != NULL && sk_X509_EXTENSION_push(p->exts, e) > 0;
            if (!ok)
                X509_EXTENSION_free(e);
        }
    }
    if (ok && req->crl_url != NULL)
        ok = (p->crl_url = strdup(req->crl_url)) != NULL;
    if (ok && req->aia_url != NULL)
        ok = (p->aia_url = strdup(req->aia_url)) != NULL;
    X509_free(scratch);
    if (!ok) {
        sk_X509_EXTENSION_pop_free(p->exts, X509_EXTENSION_free);
        free(p->crl_url);
        free(p->aia_url);
        memset(p, 0, sizeof *p);
        return idm_error_crypto("cannot build a certificate profile");
    }
    p->built = 1;
    *out = p->exts;
    return IDM_OK;
}

/* Puts the SubjectPublicKeyInfo into the certificate as it came, and its
 * subject key identifier: SHA-1 of the key bits (RFC 5280 4.2.1.2). */
static int set_public_key(X509 *x, const unsigned char *spki, size_t len)
{
    struct spki_parts sp;
    if (spki_parse(spki, len, &sp) != IDM_OK)
        return 0;
    const ASN1_OBJECT *obj;
    int ptype;
    const void *pval;
    X509_ALGOR_get0(&obj, &ptype, &pval, sp.alg);
    const unsigned char *bits = ASN1_STRING_get0_data(sp.bits);
    int bits_len = ASN1_STRING_length(sp.bits);
    void *param = ptype == V_ASN1_OBJECT ? (void *)OBJ_dup(pval) : NULL;
    ASN1_OBJECT *alg_obj = OBJ_dup(obj);
    unsigned char *copy = OPENSSL_memdup(bits, (size_t)bits_len);
    int ok = alg_obj != NULL && copy != NULL && (ptype != V_ASN1_OBJECT || param != NULL) &&
             X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), alg_obj,
                                    ptype == V_ASN1_OBJECT ? V_ASN1_OBJECT : V_ASN1_NULL, param,
                                    copy, bits_len) == 1;
    if (!ok) {
        ASN1_OBJECT_free(alg_obj);
        ASN1_OBJECT_free(param);
        OPENSSL_free(copy);
    }
    unsigned char digest[SHA_DIGEST_LENGTH];
    ASN1_OCTET_STRING *skid = ASN1_OCTET_STRING_new();
    ok = ok && skid != NULL && EVP_Digest(bits, (size_t)bits_len, digest, NULL, EVP_sha1(), NULL) &&
         ASN1_OCTET_STRING_set(skid, digest, sizeof digest) &&
         X509_add1_ext_i2d(x, NID_subject_key_identifier, skid, 0, X509V3_ADD_DEFAULT) == 1;
    ASN1_OCTET_STRING_free(skid);
    spki_parts_free(&sp);
    return ok;
}

/* subjectAltName: the UPN as otherName and the e-mail as rfc822Name. */
static int add_subject_alt_names(X509 *x, const struct idm_cert_request *req)
{
    if (req->upn == NULL && req->email == NULL)
        return 1;
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    int ok = names != NULL;
    if (ok && req->upn != NULL) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_TYPE *value = ASN1_TYPE_new();
        ASN1_UTF8STRING *utf8 = ASN1_UTF8STRING_new();
        ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1);
        ok = gn != NULL && value != NULL && utf8 != NULL && oid != NULL &&
             ASN1_STRING_set(utf8, req->upn, -1);
        if (ok) {
            ASN1_TYPE_set(value, V_ASN1_UTF8STRING, utf8);
            utf8 = NULL;
            ok = GENERAL_NAME_set0_othername(gn, oid, value) == 1;
        }
        if (ok) {
            oid = NULL;
            value = NULL;
            ok = sk_GENERAL_NAME_push(names, gn) > 0;
        }
        if (ok)
            gn = NULL;
        GENERAL_NAME_free(gn);
        ASN1_TYPE_free(value);
        ASN1_UTF8STRING_free(utf8);
        ASN1_OBJECT_free(oid);
    }
    if (ok && req->email != NULL) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
        ok = gn != NULL && ia5 != NULL && ASN1_STRING_set(ia5, req->email, -1);
        if (ok) {
            GENERAL_NAME_set0_value(gn, GEN_EMAIL, ia5);
            ia5 = NULL;
            ok = sk_GENERAL_NAME_push(names, gn) > 0;
        }
        if (ok)
            gn = NULL;
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(ia5);
    }
    ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(names);
    return ok;
}

static int issue(const idm_cert_request_t *req, idm_buffer_t *out, void *user_data)
{
    struct idm_openssl_ca *ca = user_data;
    int which = req->usage == IDM_USAGE_AUTHENTICATION        ? PROFILE_AUTH
                : req->usage == IDM_USAGE_SIGNATURE           ? PROFILE_SIGN
                : req->usage == IDM_USAGE_CARD_AUTHENTICATION ? PROFILE_CARD_AUTH
                : req->spki_is_rsa                            ? PROFILE_ENC_RSA
                                                              : PROFILE_ENC_EC;
    const STACK_OF(X509_EXTENSION) *fixed = NULL;
    int rc = profile_for(ca, which, req, &fixed);
    if (rc != IDM_OK)
        return rc;
    X509 *x = X509_new();
    if (x == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a certificate");
    rc = set_random_serial(ca->ctx, x);
    if (rc == IDM_OK) {
        X509_NAME *subject = X509_get_subject_name(x);
        /* A certificate never outlives its CA: cut its validity there. */
        int64_t not_after = req->not_after_ms;
        int days = 0, secs = 0;
        ASN1_TIME *end = ASN1_TIME_set(NULL, (time_t)(not_after / 1000));
        if (end != NULL && ASN1_TIME_diff(&days, &secs, X509_get0_notAfter(ca->cert), end) == 1 &&
            (days > 0 || secs > 0))
            not_after -= ((int64_t)days * 86400 + secs) * 1000;
        ASN1_TIME_free(end);
        int ok = X509_set_version(x, X509_VERSION_3) &&
                 X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) &&
                 set_validity_ms(x, req->not_before_ms, not_after);
        for (size_t i = 0; ok && i < req->nrdns; i++)
            ok = X509_NAME_add_entry_by_NID(subject, req->rdns[i].nid, MBSTRING_UTF8,
                                            (const unsigned char *)req->rdns[i].value, -1, -1, 0);
        for (int i = 0; ok && i < sk_X509_EXTENSION_num(fixed); i++)
            ok = X509_add_ext(x, sk_X509_EXTENSION_value(fixed, i), -1) == 1;
        ok = ok && set_public_key(x, req->spki, req->spki_len) && add_subject_alt_names(x, req) &&
             X509_sign(x, ca->key, ca->md) > 0;
        if (!ok)
            rc = idm_error_crypto("cannot build the certificate");
    }
    if (rc == IDM_OK) {
        unsigned char *der = NULL;
        int len = i2d_X509(x, &der);
        rc = len > 0 ? idm_buffer_put(out, der, (size_t)len) : idm_error_crypto("cannot encode");
        OPENSSL_free(der);
    }
    X509_free(x);
    return rc;
}

/* The built-in CA keeps no revocation state of its own: the store does, and
 * idm_ca_generate_crl() builds the CRL from it. */
static int no_external_state(const char *serial, idm_revocation_reason reason, int64_t time_ms,
                             void *user_data)
{
    (void)serial;
    (void)reason;
    (void)time_ms;
    (void)user_data;
    return 0;
}

static int no_external_hold(const char *serial, int64_t time_ms, void *user_data)
{
    return no_external_state(serial, IDM_REVOKE_CERTIFICATE_HOLD, time_ms, user_data);
}

static int no_external_release(const char *serial, void *user_data)
{
    return no_external_state(serial, IDM_REVOKE_UNSPECIFIED, 0, user_data);
}

/* The methods fail with idm error codes and leave OpenSSL's words in the
 * detail message, which idm_ca_backend_failed() passes on to the caller. */
const idm_ca_ops idm_openssl_ca_ops = {
    .version = IDM_CA_OPS_VERSION,
    .size = sizeof(idm_ca_ops),
    .issue = issue,
    .revoke = no_external_state,
    .hold = no_external_hold,
    .release = no_external_release,
    .crl = NULL,
};

/* ---- CRLs -------------------------------------------------------------- */

static int add_revoked(X509_CRL *crl, const struct idm_crl_entry *e)
{
    X509_REVOKED *r = X509_REVOKED_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)(e->time_ms / 1000));
    ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
    /* RFC 5280 5.3.1: the reason code unspecified is left out. */
    int ok = r != NULL && when != NULL && reason != NULL && BN_hex2bn(&bn, e->serial) > 0 &&
             (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
             X509_REVOKED_set_serialNumber(r, serial) && X509_REVOKED_set_revocationDate(r, when) &&
             (e->reason == IDM_REVOKE_UNSPECIFIED ||
              (ASN1_ENUMERATED_set(reason, e->reason) &&
               X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0) == 1)) &&
             X509_CRL_add0_revoked(crl, r) == 1;
    if (ok)
        r = NULL;
    X509_REVOKED_free(r);
    BN_free(bn);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    ASN1_ENUMERATED_free(reason);
    return ok;
}

int idm_openssl_ca_crl(struct idm_openssl_ca *ca, const struct idm_crl_entry *entries, size_t n,
                       int64_t crl_number, int64_t this_update_ms, int64_t next_update_ms,
                       idm_buffer_t *out)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *last = ASN1_TIME_set(NULL, (time_t)(this_update_ms / 1000));
    ASN1_TIME *next = ASN1_TIME_set(NULL, (time_t)(next_update_ms / 1000));
    ASN1_INTEGER *number = ASN1_INTEGER_new();
    int ok = crl != NULL && last != NULL && next != NULL && number != NULL &&
             X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) &&
             X509_CRL_set1_lastUpdate(crl, last) && X509_CRL_set1_nextUpdate(crl, next) &&
             ASN1_INTEGER_set_int64(number, crl_number) &&
             X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) == 1;
    if (ok) {
        X509V3_CTX v3;
        X509V3_set_ctx(&v3, ca->cert, NULL, NULL, crl, 0);
        X509_EXTENSION *akid = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier,
                                                   "keyid:always");
        ok = akid != NULL && X509_CRL_add_ext(crl, akid, -1) == 1;
        X509_EXTENSION_free(akid);
    }
    for (size_t i = 0; ok && i < n; i++)
        ok = add_revoked(crl, &entries[i]);
    ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, ca->key, ca->md) > 0;
    int rc = IDM_OK;
    if (!ok) {
        rc = idm_error_crypto("cannot build the CRL");
    } else {
        unsigned char *der = NULL;
        int len = i2d_X509_CRL(crl, &der);
        rc = len > 0 ? idm_buffer_put(out, der, (size_t)len) : idm_error_crypto("cannot encode the CRL");
        OPENSSL_free(der);
    }
    X509_CRL_free(crl);
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    ASN1_INTEGER_free(number);
    return rc;
}
