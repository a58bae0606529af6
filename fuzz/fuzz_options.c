/*
 * Option values set on a store (src/model/options.c, the template and
 * subject grammars of src/model/text.c and src/model/subject.c) and what
 * consumes them.  The first input byte chooses one of the options
 * (idm_option_key_at()), a holder and a key usage; the rest is the value:
 * set with the setter of the option's type (text as is, cut at a NUL; an
 * integer parsed from the text or taken from the bytes; a boolean), then
 * always as text with idm_options_set_string().  Then the options are
 * used: a card is numbered by card_number_format, a certificate is issued
 * for it by the built-in CA (common_name_template, upn_template,
 * cert_subject_template, email_attribute, the URLs, the validity days),
 * and a mass production station checks its readiness (the templates'
 * attributes).
 *
 * Besides not crashing:
 * - a setter returns IDM_OK or IDM_ERR_INVALID_ARG; a refused value
 *   changes nothing (every option reads back as before, the version is
 *   the same); an accepted one reads back exactly, raises the version by
 *   one and changes no other option;
 * - what is accepted follows the rules of <idm/options.h>: the documented
 *   ranges and choices exactly, and for the grammars at least their shape
 *   (balanced ${key} references, "/TYPE=value" RDNs of the listed types,
 *   one {seq} field, descending day lists, distinct PIV slots, URL
 *   schemes), as UTF-8 without control characters;
 * - an order made afterwards snapshots every option as it reads now, and
 *   reads them back so when opened from the store;
 * - each holder's derived common name and UPN are the name templates
 *   filled with its attributes (none when one is missing);
 * - a new card's number is card_number_format with the digits in place;
 * - issuing returns IDM_OK (a DER certificate whose subject has one entry
 *   per RDN of the template, valid for the option's days) or a documented
 *   error; no call leaves OpenSSL errors queued;
 * - readiness claims the card or skips it with a reason, and claims it
 *   only when issuing found every name and attribute it needs.
 *
 * The order, the card, the certificate and readiness are tried only when
 * the value was taken (a refused one leaves the defaults); the store is
 * then put back to its initial copy, so each input starts from the same
 * store.
 */
#define _GNU_SOURCE /* strndup */
#include <errno.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <idm/idm.h>

#include "fuzz.h"
#include "model/text.h"

#define ACTOR "admin:fuzz"
#define OPTIONS_MAX 64
#define HOLDERS 4 /* three identities and a non-personal card */
#define MS_PER_DAY INT64_C(86400000)

struct fuzz_state {
    char store[4200];
    char initial[4200];
    idm_ctx_t *ctx;
    idm_ca_t *ca;
    idm_encoder_t *encoder;
    int64_t holders[HOLDERS - 1];
    unsigned char *spki;
    int spki_len;
    size_t noptions;
    char *defaults[OPTIONS_MAX]; /* each option's value on a new store */
    int verbose; /* $FUZZ_VERBOSE: each input's outcome on stderr */
};

static struct fuzz_state st;

/* What the options read as: the text of each value and the version. */
struct view {
    char *values[OPTIONS_MAX];
    int64_t version;
};

static void view_read(struct view *v);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void need(int rc, const char *what)
{
    if (rc != IDM_OK) {
        fprintf(stderr, "fuzz_options: %s: %s (%s)\n", what, idm_last_error_message(),
                idm_strerror(rc));
        abort();
    }
}

/* ---- an encoder that is never used: a station needs one ------------------ */

static int no_open(int timeout_ms, void *user_data)
{
    (void)timeout_ms;
    (void)user_data;
    return IDM_ERR_CARD;
}

static int no_serial(char *serial, size_t size, void *user_data)
{
    (void)serial;
    (void)size;
    (void)user_data;
    return IDM_ERR_CARD;
}

static int no_write_certificate(idm_piv_slot slot, const unsigned char *der, size_t len,
                                void *user_data)
{
    (void)slot;
    (void)der;
    (void)len;
    (void)user_data;
    return IDM_ERR_CARD;
}

static int no_write_object(idm_piv_object object, const unsigned char *value, size_t len,
                           void *user_data)
{
    (void)object;
    (void)value;
    (void)len;
    (void)user_data;
    return IDM_ERR_CARD;
}

static int no_read_object(idm_piv_object object, idm_buffer_t *value, void *user_data)
{
    (void)object;
    (void)value;
    (void)user_data;
    return IDM_ERR_CARD;
}

static int no_set_pin(const char *pin, const char *puk, void *user_data)
{
    (void)pin;
    (void)puk;
    (void)user_data;
    return IDM_ERR_CARD;
}

static int no_verify_pin(const char *pin, void *user_data)
{
    (void)pin;
    (void)user_data;
    return IDM_ERR_CARD;
}

static int no_close(int success, void *user_data)
{
    (void)success;
    (void)user_data;
    return 0;
}

/* ---- the store ---------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    check(in != NULL && out != NULL);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        check(fwrite(buf, 1, n, out) == n);
    check(!ferror(in));
    fclose(in);
    check(fclose(out) == 0);
}

static void remove_store_files(const char *path)
{
    char side[4300];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static void close_store(void)
{
    idm_encoder_free(&st.encoder);
    idm_ca_free(&st.ca);
    idm_ctx_free(&st.ctx);
}

static void open_store(const char *path)
{
    need(idm_ctx_new(&st.ctx), "idm_ctx_new");
    need(fuzz_sources_use(st.ctx), "fuzz_sources_use");
    need(idm_ctx_open_store(st.ctx, path), "idm_ctx_open_store");
    need(idm_ca_new_openssl(&st.ca, st.ctx, IDM_KEY_EC_P256, "Fuzz Issuing CA", 3650),
         "idm_ca_new_openssl");
    idm_encoder_ops ops = IDM_ENCODER_OPS_INIT;
    ops.open = no_open;
    ops.card_serial = no_serial;
    ops.write_certificate = no_write_certificate;
    ops.write_object = no_write_object;
    ops.read_object = no_read_object;
    ops.set_pin = no_set_pin;
    ops.verify_pin = no_verify_pin;
    ops.close = no_close;
    need(idm_encoder_new(&st.encoder, &ops, sizeof ops, NULL, NULL), "idm_encoder_new");
}

static void reset_store(void)
{
    close_store();
    remove_store_files(st.store);
    copy_file(st.initial, st.store);
    fuzz_sources_reset(INT64_C(1767225600000) + MS_PER_DAY, UINT64_C(0x5eed0fb17ea0002));
    open_store(st.store);
}

/* The holders, with attributes that fill the templates in every way:
 * plain, with the characters RFC 4514 escapes and non-ASCII, and sparse.
 * Each list is key, value, ..., NULL. */
static const char *const holder_attrs[HOLDERS - 1][24] = {
    {"c", "GB", "dc", "example", "employeeNumber", "E1001", "givenName", "Ada", "mail",
     "ada@example.com", "o", "Example Corp", "ou", "R&D", "surname", "Lovelace", "title",
     "Countess", "uid", "ada", NULL},
    {"c", "Sweden", "employeeNumber", "E1002", "givenName", "#J\xc3\xb6rg, \"Jr\"+", "mail",
     "j\xc3\xb6rg@example.com", "o", "A/B=C", "surname", " O'Brien; <Esq> = \\ ", "title",
     "\xe6\x97\xa5\xe6\x9c\xac", NULL},
    {"givenName", "Grace", NULL},
};

/* An active identity with the attributes of holder_attrs[h]. */
static int64_t person(size_t h)
{
    char external_id[16];
    snprintf(external_id, sizeof external_id, "E%zu", 1001 + h);
    idm_identity_t *p = NULL;
    need(idm_identity_new(st.ctx, ACTOR, external_id, &p), "idm_identity_new");
    for (const char *const *a = holder_attrs[h]; *a != NULL; a += 2)
        need(idm_identity_set_attribute(p, ACTOR, a[0], a[1]), "idm_identity_set_attribute");
    need(idm_identity_set_state(p, ACTOR, IDM_IDENTITY_ACTIVE), "activate an identity");
    int64_t id = 0;
    check(idm_identity_get_id(p, &id) == IDM_OK);
    idm_identity_free(&p);
    return id;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = fuzz_scratch_dir();
    snprintf(st.store, sizeof st.store, "%s/store.db", dir);
    snprintf(st.initial, sizeof st.initial, "%s/initial.db", dir);
    check(idm_option_count(&st.noptions) == IDM_OK && st.noptions <= OPTIONS_MAX);
    st.verbose = getenv("FUZZ_VERBOSE") != NULL;

    /* the key the cards hand over for certification: a fixed P-256 key */
    EVP_PKEY *key = EVP_EC_gen("P-256");
    st.spki_len = key != NULL ? i2d_PUBKEY(key, &st.spki) : -1;
    EVP_PKEY_free(key);
    check(st.spki_len > 0);

    fuzz_sources_reset(INT64_C(1767225600000), UINT64_C(0x5eed0fb17ea0001));
    open_store(st.initial);
    for (size_t h = 0; h < HOLDERS - 1; h++)
        st.holders[h] = person(h);
    close_store();
    reset_store();
    struct view defaults;
    memset(&defaults, 0, sizeof defaults);
    view_read(&defaults);
    for (size_t i = 0; i < st.noptions; i++)
        st.defaults[i] = defaults.values[i];
    return 0;
}

void fuzz_teardown(void)
{
    close_store();
    for (size_t i = 0; i < st.noptions; i++) {
        free(st.defaults[i]);
        st.defaults[i] = NULL;
    }
    OPENSSL_free(st.spki);
    st.spki = NULL;
    fuzz_remove_scratch();
}

/* ---- reading the options ------------------------------------------------ */

static void view_free(struct view *v)
{
    for (size_t i = 0; i < st.noptions; i++) {
        free(v->values[i]);
        v->values[i] = NULL;
    }
}

/* Reads every option with its getter, as text. */
static void view_read(struct view *v)
{
    for (size_t i = 0; i < st.noptions; i++) {
        const char *key = NULL;
        idm_option_type type;
        check(idm_option_key_at(i, &key, &type) == IDM_OK);
        char text[32];
        const char *s = text;
        if (type == IDM_OPTION_BOOL) {
            int b = -1;
            check(idm_options_get_bool(st.ctx, key, &b) == IDM_OK && (b == 0 || b == 1));
            snprintf(text, sizeof text, "%d", b);
        } else if (type == IDM_OPTION_INT) {
            int64_t n = 0;
            check(idm_options_get_int(st.ctx, key, &n) == IDM_OK);
            snprintf(text, sizeof text, "%" PRId64, n);
        } else {
            check(idm_options_get_string(st.ctx, key, &s) == IDM_OK && s != NULL);
        }
        v->values[i] = strdup(s);
        check(v->values[i] != NULL);
    }
    check(idm_options_get_version(st.ctx, &v->version) == IDM_OK);
}

/* The same option values, and a version, read from an order's snapshot. */
static void check_snapshot(const idm_order_t *order, const struct view *now)
{
    int64_t version = -1;
    check(idm_order_get_options_version(order, &version) == IDM_OK && version == now->version);
    for (size_t i = 0; i < st.noptions; i++) {
        const char *key = NULL;
        idm_option_type type;
        check(idm_option_key_at(i, &key, &type) == IDM_OK);
        char text[32];
        const char *s = text;
        if (type == IDM_OPTION_BOOL) {
            int b = -1;
            check(idm_order_get_option_bool(order, key, &b) == IDM_OK);
            snprintf(text, sizeof text, "%d", b);
        } else if (type == IDM_OPTION_INT) {
            int64_t n = 0;
            check(idm_order_get_option_int(order, key, &n) == IDM_OK);
            snprintf(text, sizeof text, "%" PRId64, n);
        } else {
            check(idm_order_get_option_string(order, key, &s) == IDM_OK && s != NULL);
        }
        check(strcmp(s, now->values[i]) == 0);
    }
}

/* ---- the rules of <idm/options.h>, written again -------------------------- */

static int is_key_char(char c, int first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && ((c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'));
}

/* Length of an attribute key at s, 0 if none. */
static size_t key_at(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0' && is_key_char(s[n], n == 0))
        n++;
    return n;
}

/* Every "${" opens a reference ${key}. */
static int template_shaped(const char *t)
{
    for (const char *p = strstr(t, "${"); p != NULL; p = strstr(p, "${")) {
        size_t n = key_at(p + 2);
        if (n == 0 || p[2 + n] != '}')
            return 0;
        p += 3 + n;
    }
    return 1;
}

/* "/TYPE=value..." with the listed TYPEs and template values. */
static int subject_shaped(const char *t)
{
    static const char *const types[] = {"C", "ST", "L", "O", "OU", "CN", "serialNumber",
                                        "title", "UID", "DC"};
    if (t[0] != '/')
        return 0;
    size_t rdns = 0;
    const char *p = t + 1;
    while (*p != '\0') {
        const char *end = strchrnul(p, '/');
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq == NULL || eq + 1 == end)
            return 0;
        int known = 0;
        size_t tlen = (size_t)(eq - p);
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            known |= strlen(types[i]) == tlen && strncmp(types[i], p, tlen) == 0;
        char *value = strndup(eq + 1, (size_t)(end - eq - 1));
        check(value != NULL);
        int ok = known && template_shaped(value);
        free(value);
        if (!ok)
            return 0;
        rdns++;
        p = *end == '/' ? end + 1 : end;
    }
    return rdns > 0;
}

static size_t subject_rdns(const char *t)
{
    size_t n = 0;
    for (const char *p = t; *p != '\0'; p++)
        n += *p == '/' && p[1] != '\0';
    return n;
}

/* One "{seq}" or "{seq:N}" and no other braces; its prefix and suffix. */
static int number_format_shaped(const char *f, size_t *prefix, size_t *suffix_at, int *width)
{
    const char *open = strchr(f, '{'), *close = strchr(f, '}');
    if (open == NULL || close == NULL || close < open || strchr(open + 1, '{') != NULL ||
        strchr(close + 1, '}') != NULL)
        return 0;
    *width = 0;
    if ((size_t)(close - open) == 4 && strncmp(open, "{seq}", 5) == 0) {
        /* no padding */
    } else if (strncmp(open, "{seq:", 5) == 0 && close - open >= 6 && close - open <= 7) {
        for (const char *d = open + 5; d < close; d++) {
            if (*d < '0' || *d > '9')
                return 0;
            *width = *width * 10 + (*d - '0');
        }
        if (*width < 1)
            return 0;
    } else {
        return 0;
    }
    *prefix = (size_t)(open - f);
    *suffix_at = (size_t)(close - f) + 1;
    return 1;
}

/* Numbers, strictly descending, at least 1, separated by single commas. */
static int day_list_shaped(const char *s)
{
    long previous = 0;
    int count = 0;
    const char *p = s;
    while (*p != '\0') {
        if (*p < '0' || *p > '9')
            return 0;
        char *end;
        errno = 0;
        long days = strtol(p, &end, 10);
        if (errno != 0 || days < 1 || (count > 0 && days >= previous))
            return 0;
        previous = days;
        count++;
        if (*end == ',' && end[1] != '\0')
            end++;
        else if (*end != '\0')
            return 0;
        p = end;
    }
    return 1;
}

/* Distinct PIV slots among 9A, 9C, 9D and 9E, separated by commas. */
static int slot_list_shaped(const char *s)
{
    static const char *const slots[] = {"9A", "9C", "9D", "9E"};
    int seen[4] = {0, 0, 0, 0};
    const char *p = s;
    for (;;) {
        const char *end = strchrnul(p, ',');
        int which = -1;
        for (int k = 0; k < 4; k++) {
            if (end - p == 2 && strncasecmp(p, slots[k], 2) == 0)
                which = k;
        }
        if (which < 0 || seen[which]++)
            return 0;
        if (*end == '\0')
            return 1;
        p = end + 1;
    }
}

static int url_shaped(const char *s)
{
    return s[0] == '\0' || ((strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 ||
                             strncmp(s, "ldap://", 7) == 0) &&
                            strpbrk(s, " \t") == NULL);
}

static int one_of(const char *s, const char *const *choices)
{
    for (; *choices != NULL; choices++) {
        if (strcmp(s, *choices) == 0)
            return 1;
    }
    return 0;
}

static int format_shaped(const char *s)
{
    size_t prefix, suffix_at;
    int width;
    return number_format_shaped(s, &prefix, &suffix_at, &width);
}

static int attribute_or_none(const char *s)
{
    return s[0] == '\0' || key_at(s) == strlen(s);
}

static const char *const pin_sources[] = {"user", "generated", NULL};
static const char *const pin_deliveries[] = {"print", "email", "none", NULL};
static const char *const key_algorithms[] = {"p256", "rsa2048", NULL};

/* The rules of the string options: a list of choices (taken exactly), or
 * a shape every taken value has. */
static const struct {
    const char *key;
    const char *const *choices;
    int (*shaped)(const char *value);
} string_rules[] = {
    {"pin_source", pin_sources, NULL},
    {"pin_delivery", pin_deliveries, NULL},
    {"card_key_algorithm", key_algorithms, NULL},
    {"expiry_mail_days", NULL, day_list_shaped},
    {"common_name_template", NULL, template_shaped},
    {"upn_template", NULL, template_shaped},
    {"card_number_format", NULL, format_shaped},
    {"cert_subject_template", NULL, subject_shaped},
    {"email_attribute", NULL, attribute_or_none},
    {"cert_crl_url", NULL, url_shaped},
    {"cert_aia_url", NULL, url_shaped},
    {"card_key_slots", NULL, slot_list_shaped},
};

/* The documented range of an integer option. */
static int int_allowed(const char *key, int64_t v)
{
    if (strcmp(key, "pin_length") == 0)
        return v == 4 || v == 6;
    if (strcmp(key, "temporary_cards_per_order") == 0)
        return v >= 1 && v <= 9;
    if (strcmp(key, "cert_validity_days") == 0 || strcmp(key, "visitor_cert_validity_days") == 0)
        return v >= 1 && v <= 3650;
    return 1; /* an option this target does not know yet */
}

/* For an accepted string: UTF-8 without control characters, and the
 * shape its option's rules give it. */
static int string_shaped(const char *key, const char *v)
{
    size_t len = strlen(v);
    if (!idm_utf8_valid(v, len, NULL))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return 0;
    }
    for (size_t i = 0; i < sizeof string_rules / sizeof string_rules[0]; i++) {
        if (strcmp(key, string_rules[i].key) == 0)
            return string_rules[i].choices != NULL ? one_of(v, string_rules[i].choices)
                                                   : string_rules[i].shaped(v);
    }
    return 1;
}

/* For a refused string: it is none of the documented choices, and no list
 * of distinct PIV slots. */
static int string_must_be_taken(const char *key, const char *v)
{
    if (strcmp(key, "card_key_slots") == 0)
        return slot_list_shaped(v);
    for (size_t i = 0; i < sizeof string_rules / sizeof string_rules[0]; i++) {
        if (strcmp(key, string_rules[i].key) == 0 && string_rules[i].choices != NULL)
            return one_of(v, string_rules[i].choices);
    }
    return 0;
}

/* ---- setting one option --------------------------------------------------- */

/*
 * Checks what a setter did: rc, and the options read after it against
 * those read before.  expected is the text the option must read back when
 * the value was taken.
 */
static void check_set(int rc, size_t index, const char *expected, struct view *before)
{
    check(rc == IDM_OK || rc == IDM_ERR_INVALID_ARG);
    check(ERR_peek_error() == 0);
    struct view after;
    memset(&after, 0, sizeof after);
    view_read(&after);
    for (size_t i = 0; i < st.noptions; i++) {
        if (rc == IDM_OK && i == index)
            check(strcmp(after.values[i], expected) == 0);
        else
            check(strcmp(after.values[i], before->values[i]) == 0);
    }
    check(after.version == before->version + (rc == IDM_OK ? 1 : 0));
    view_free(before);
    *before = after;
}

static void set_option(size_t index, const uint8_t *data, size_t size, const char *text,
                       struct view *now)
{
    const char *key = NULL;
    idm_option_type type;
    check(idm_option_key_at(index, &key, &type) == IDM_OK);
    char expected[32];
    int rc;
    char *end = NULL;
    errno = 0;
    long long parsed = text[0] != '\0' ? strtoll(text, &end, 10) : 0;
    int parses = text[0] != '\0' && *end == '\0' && errno == 0;
    if (type == IDM_OPTION_BOOL) {
        int value = parses && parsed >= INT32_MIN && parsed <= INT32_MAX ? (int)parsed
                    : size > 0                                           ? (int8_t)data[0]
                                                                         : 0;
        rc = idm_options_set_bool(st.ctx, ACTOR, key, value);
        check((rc == IDM_OK) == (value == 0 || value == 1));
        snprintf(expected, sizeof expected, "%d", value);
        check_set(rc, index, expected, now);
    } else if (type == IDM_OPTION_INT) {
        int64_t value = 0;
        if (parses) {
            value = parsed;
        } else if (size >= 8) {
            memcpy(&value, data, 8);
        } else {
            for (size_t i = 0; i < size; i++)
                value = value << 8 | data[i];
        }
        rc = idm_options_set_int(st.ctx, ACTOR, key, value);
        check((rc == IDM_OK) == int_allowed(key, value));
        snprintf(expected, sizeof expected, "%" PRId64, value);
        check_set(rc, index, expected, now);
    } else {
        rc = idm_options_set_string(st.ctx, ACTOR, key, text);
        if (st.verbose)
            fprintf(stderr, "  set %s: %s\n", key,
                    rc == IDM_OK ? "taken" : idm_last_error_message());
        if (rc == IDM_OK)
            check(string_shaped(key, text));
        else
            check(!string_must_be_taken(key, text));
        check_set(rc, index, text, now);
    }
    /* the text again, as a string: refused for any other type */
    rc = idm_options_set_string(st.ctx, ACTOR, key, text);
    if (type != IDM_OPTION_STRING)
        check(rc == IDM_ERR_INVALID_ARG);
    check_set(rc, index, text, now);
}

/* ---- what uses the options ------------------------------------------------ */

static void check_order(const struct view *now, idm_card_type type, int64_t *order_id)
{
    idm_order_t *order = NULL;
    need(idm_order_new(st.ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, type, IDM_CARD_DIGITAL, NULL,
                       &order),
         "idm_order_new");
    check_snapshot(order, now);
    check(idm_order_get_id(order, order_id) == IDM_OK);
    idm_order_free(&order);
    /* and as parsed from the store */
    need(idm_order_open(st.ctx, *order_id, &order), "idm_order_open");
    check_snapshot(order, now);
    idm_order_free(&order);
}

/* The card's number is the format with digits for its field. */
static void check_number(const idm_card_t *card, const char *format)
{
    const char *number = NULL;
    check(idm_card_get_number(card, &number) == IDM_OK && number != NULL);
    size_t prefix = 0, suffix_at = 0;
    int width = 0;
    check(number_format_shaped(format, &prefix, &suffix_at, &width));
    size_t nlen = strlen(number), suffix = strlen(format) - suffix_at;
    check(nlen >= prefix + suffix + (size_t)(width > 0 ? width : 1));
    check(strncmp(number, format, prefix) == 0);
    check(strcmp(number + nlen - suffix, format + suffix_at) == 0);
    for (size_t i = prefix; i < nlen - suffix; i++)
        check(number[i] >= '0' && number[i] <= '9');
}

/* The one URI of a GENERAL_NAMES, or NULL. */
static const char *only_uri(const GENERAL_NAMES *names)
{
    if (names == NULL || sk_GENERAL_NAME_num(names) != 1)
        return NULL;
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, 0);
    if (gn->type != GEN_URI)
        return NULL;
    return (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
}

/* The certificate names the options' URLs, each as one URI and nothing
 * else: the CRL distribution point and the CA issuers' access. */
static void check_urls(X509 *x, const char *crl, const char *aia)
{
    int crit = 0;
    CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, &crit, NULL);
    if (crl[0] == '\0') {
        check(dps == NULL && crit == -1);
    } else {
        check(dps != NULL && sk_DIST_POINT_num(dps) == 1);
        const DIST_POINT *dp = sk_DIST_POINT_value(dps, 0);
        check(dp->distpoint != NULL && dp->distpoint->type == 0);
        const char *uri = only_uri(dp->distpoint->name.fullname);
        check(uri != NULL && strcmp(uri, crl) == 0);
    }
    CRL_DIST_POINTS_free(dps);
    AUTHORITY_INFO_ACCESS *info = X509_get_ext_d2i(x, NID_info_access, &crit, NULL);
    if (aia[0] == '\0') {
        check(info == NULL && crit == -1);
    } else {
        check(info != NULL && sk_ACCESS_DESCRIPTION_num(info) == 1);
        const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(info, 0);
        check(OBJ_obj2nid(ad->method) == NID_ad_ca_issuers);
        check(ad->location->type == GEN_URI);
        const ASN1_IA5STRING *uri = ad->location->d.uniformResourceIdentifier;
        check(strcmp((const char *)ASN1_STRING_get0_data(uri), aia) == 0);
    }
    AUTHORITY_INFO_ACCESS_free(info);
    ERR_clear_error();
}

static size_t option_index(const char *key);

static int issue(idm_card_t *card, idm_key_usage usage, const struct view *now,
                 size_t subject_index, size_t days_index)
{
    idm_cert_t *cert = NULL;
    int rc = idm_card_issue_certificate(card, ACTOR, st.ca, usage, st.spki, (size_t)st.spki_len,
                                        1, &cert);
    check(ERR_peek_error() == 0);
    /* a holder without an attribute a template names: IDM_ERR_STATE; a
     * value OpenSSL will not put in a name (a country of three letters):
     * the CA's error */
    if (st.verbose)
        fprintf(stderr, "  issue: %s\n", rc == IDM_OK ? "issued" : idm_last_error_message());
    check(rc == IDM_OK || rc == IDM_ERR_STATE || rc == IDM_ERR_BACKEND || rc == IDM_ERR_CRYPTO);
    if (rc != IDM_OK)
        return rc;
    const unsigned char *der = NULL;
    size_t len = 0;
    check(idm_cert_get_der(cert, &der, &len) == IDM_OK && der != NULL && len > 0);
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    check(x != NULL && p == der + len);
    check((size_t)X509_NAME_entry_count(X509_get_subject_name(x)) ==
          subject_rdns(now->values[subject_index]));
    check_urls(x, now->values[option_index("cert_crl_url")],
               now->values[option_index("cert_aia_url")]);
    X509_free(x);
    int64_t from = 0, to = 0;
    check(idm_cert_get_validity(cert, &from, &to) == IDM_OK);
    check(to - from <= strtoll(now->values[days_index], NULL, 10) * MS_PER_DAY);
    idm_cert_free(&cert);
    return rc;
}

/* A station asks readiness of the card in an order of its own.  A card it
 * claims has what its certificate needs: issuing it did not fail for a
 * missing name or attribute (IDM_ERR_STATE, the only state error here:
 * the card is new, its holder active). */
static void readiness(idm_card_t *card, idm_card_type type, int issued)
{
    int64_t card_id = 0;
    check(idm_card_get_id(card, &card_id) == IDM_OK);
    need(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL), "request the card");
    need(idm_card_set_state(card, ACTOR, IDM_CARD_APPROVED, NULL), "approve the card");
    idm_order_t *order = NULL;
    need(idm_order_new(st.ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, type, IDM_CARD_DIGITAL, NULL,
                       &order),
         "idm_order_new");
    need(idm_order_add_card(order, ACTOR, card_id), "idm_order_add_card");
    idm_station_t *station = NULL;
    need(idm_station_open(&station, order, "fuzz", st.encoder, st.ca), "idm_station_open");
    idm_card_t *claimed = NULL;
    need(idm_station_next(station, ACTOR, &claimed), "idm_station_next");
    idm_order_card_outcome outcome = IDM_OUTCOME_PENDING;
    idm_buffer_t *reason = NULL;
    need(idm_buffer_new(&reason), "idm_buffer_new");
    need(idm_order_get_card_outcome(order, card_id, &outcome, NULL, reason),
         "idm_order_get_card_outcome");
    const unsigned char *why = NULL;
    size_t why_len = 0;
    check(idm_buffer_get(reason, &why, &why_len) == IDM_OK);
    if (st.verbose)
        fprintf(stderr, "  readiness: %s %.*s\n", idm_order_card_outcome_name(outcome),
                (int)why_len, (const char *)why);
    if (claimed != NULL) {
        check(outcome == IDM_OUTCOME_CLAIMED && issued != IDM_ERR_STATE);
        need(idm_station_cancel(station, ACTOR, "fuzz: readiness only"), "idm_station_cancel");
    } else {
        check(outcome == IDM_OUTCOME_SKIPPED && why_len > 0);
        check(idm_utf8_valid((const char *)why, why_len, NULL));
    }
    idm_buffer_free(&reason);
    idm_card_free(&claimed);
    idm_station_free(&station);
    idm_order_free(&order);
}

static size_t option_index(const char *key)
{
    for (size_t i = 0; i < st.noptions; i++) {
        const char *k = NULL;
        check(idm_option_key_at(i, &k, NULL) == IDM_OK);
        if (strcmp(k, key) == 0)
            return i;
    }
    abort();
}

/* The value of attribute key (n bytes) in a holder_attrs list, or NULL. */
static const char *attr_value(const char *const *attrs, const char *key, size_t n)
{
    for (; *attrs != NULL; attrs += 2) {
        if (strlen(attrs[0]) == n && strncmp(attrs[0], key, n) == 0)
            return attrs[1];
    }
    return NULL;
}

/* A name template filled in as <idm/options.h> says: each ${key} by the
 * attribute's value; NULL when one is missing or the template is empty. */
static char *fill(const char *tmpl, const char *const *attrs)
{
    if (tmpl[0] == '\0')
        return NULL;
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    check(out != NULL);
    for (const char *p = tmpl; *p != '\0';) {
        const char *piece = p;
        size_t n = 1, k = p[0] == '$' && p[1] == '{' ? key_at(p + 2) : 0;
        if (k > 0 && p[2 + k] == '}') {
            if ((piece = attr_value(attrs, p + 2, k)) == NULL) {
                free(out);
                return NULL;
            }
            n = strlen(piece);
            p += 3 + k;
        } else {
            p++;
        }
        while (len + n + 1 > cap) {
            cap *= 2;
            check((out = realloc(out, cap)) != NULL);
        }
        memcpy(out + len, piece, n);
        len += n;
    }
    out[len] = '\0';
    return out;
}

/* Each holder's derived common name and UPN are the templates filled. */
static void check_names(const struct view *now)
{
    const char *cn_template = now->values[option_index("common_name_template")];
    const char *upn_template = now->values[option_index("upn_template")];
    for (size_t h = 0; h < HOLDERS - 1; h++) {
        idm_identity_t *p = NULL;
        need(idm_identity_open(st.ctx, st.holders[h], &p), "idm_identity_open");
        const char *cn = NULL, *upn = NULL;
        check(idm_identity_get_common_name(p, &cn) == IDM_OK);
        check(idm_identity_get_upn(p, &upn) == IDM_OK);
        char *want_cn = fill(cn_template, holder_attrs[h]);
        char *want_upn = fill(upn_template, holder_attrs[h]);
        check(want_cn != NULL ? cn != NULL && strcmp(cn, want_cn) == 0 : cn == NULL);
        check(want_upn != NULL ? upn != NULL && strcmp(upn, want_upn) == 0 : upn == NULL);
        free(want_cn);
        free(want_upn);
        idm_identity_free(&p);
    }
}

/* The options a card number, a certificate or readiness reads. */
static int used_by_certificates(const char *key)
{
    static const char *const used[] = {
        "common_name_template", "upn_template", "card_number_format", "cert_validity_days",
        "cert_subject_template", "email_attribute", "cert_crl_url", "cert_aia_url",
        "allow_multiple_active_cards", "request_approval", NULL};
    return one_of(key, used);
}

static void use_options(const struct view *now, unsigned holder, idm_key_usage usage)
{
    idm_card_type type = holder < HOLDERS - 1 ? IDM_CARD_EMPLOYEE : IDM_CARD_NON_PERSONAL;

    idm_card_t *card = NULL;
    int rc = holder < HOLDERS - 1
                 ? idm_card_new(st.ctx, ACTOR, type, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL,
                                st.holders[holder], NULL, &card)
                 : idm_card_new(st.ctx, ACTOR, type, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL, 0,
                                "Reception, desk #1 <main>", &card);
    if (st.verbose)
        fprintf(stderr, "  card: %s\n", rc == IDM_OK ? "made" : idm_last_error_message());
    /* every number a format gives may be taken by earlier formats' cards */
    check(rc == IDM_OK || rc == IDM_ERR_EXISTS);
    if (rc != IDM_OK)
        return;
    check_number(card, now->values[option_index("card_number_format")]);
    int issued = issue(card, usage, now, option_index("cert_subject_template"),
                       option_index("cert_validity_days"));
    readiness(card, type, issued);
    idm_card_free(&card);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t index = data[0] % st.noptions;
    unsigned holder = (unsigned)(data[0] / st.noptions) % HOLDERS;
    idm_key_usage usage = (idm_key_usage)(data[0] / (st.noptions * HOLDERS) % 4);
    /* the value as a C string (cut at a NUL): not strndup(), which may
     * look for the NUL past the input's end (ASan's strict_string_checks) */
    char *text = malloc(size);
    check(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    const char *key = NULL;
    check(idm_option_key_at(index, &key, NULL) == IDM_OK);

    struct view now;
    memset(&now, 0, sizeof now);
    view_read(&now);
    int64_t first_version = now.version;
    set_option(index, data + 1, size - 1, text, &now);
    /* A refused value left the defaults, which the seeds use already. */
    int taken = now.version != first_version;
    if (taken) {
        int64_t order_id = 0;
        check_order(&now, IDM_CARD_EMPLOYEE, &order_id);
        check_names(&now);
        if (used_by_certificates(key))
            use_options(&now, holder, usage);
        check(ERR_peek_error() == 0);
        check_set(idm_options_reset(st.ctx, ACTOR, key), index, st.defaults[index], &now);
    }
    view_free(&now);
    free(text);
    /* The store back to its initial copy after an input that changed it;
     * after, not before the next, so that what the input allocated and
     * what the reset frees balance within it, which keeps libFuzzer's leak
     * check from running after every input. */
    if (taken) {
        int64_t broken = -1;
        check(idm_audit_verify(st.ctx, &broken) == IDM_OK && broken == 0);
        reset_store();
    }
    return 0;
}
