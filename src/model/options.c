/*
 * The option set: one table row per option (key, type, default, rules).
 * Values travel as text so that the store and the order snapshots need no
 * schema change when an option is appended.
 */
#include "model/options_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/log.h"
#include "model/audit_impl.h"
#include "model/subject.h"
#include "model/text.h"
#include "store/store.h"

#define OPTION_TEXT_MAX 256

typedef int (*option_check_fn)(const char *value, char *why, size_t why_size);

struct option_def {
    const char *key;
    idm_option_type type;
    const char *default_value;
    int64_t min, max;                 /* integers */
    const char *const *choices;       /* NULL-terminated; NULL for free values */
    option_check_fn check;            /* strings with a grammar */
};

static int check_template(const char *value, char *why, size_t why_size);
static int check_day_list(const char *value, char *why, size_t why_size);
static int check_card_number_format(const char *value, char *why, size_t why_size);
static int check_subject(const char *value, char *why, size_t why_size);
static int check_attribute_name(const char *value, char *why, size_t why_size);
static int check_url(const char *value, char *why, size_t why_size);
static int check_slot_list(const char *value, char *why, size_t why_size);

static const char *const pin_lengths[] = {"4", "6", NULL};
static const char *const pin_sources[] = {"user", "generated", NULL};
static const char *const pin_deliveries[] = {"print", "email", "none", NULL};
static const char *const card_key_algorithms[] = {"p256", "rsa2048", NULL};

/* Nexus Smart ID's defaults.  Append only: keys are stored and snapshotted. */
static const struct option_def option_table[] = {
    {"request_approval", IDM_OPTION_BOOL, "1", 0, 1, NULL, NULL},
    {"batch_request_approval", IDM_OPTION_BOOL, "0", 0, 1, NULL, NULL},
    {"external_production_enabled", IDM_OPTION_BOOL, "0", 0, 1, NULL, NULL},
    {"external_approval_step", IDM_OPTION_BOOL, "0", 0, 1, NULL, NULL},
    {"production_type_selectable", IDM_OPTION_BOOL, "0", 0, 1, NULL, NULL},
    {"queue_orders", IDM_OPTION_BOOL, "0", 0, 1, NULL, NULL},
    {"allow_multiple_orders", IDM_OPTION_BOOL, "0", 0, 1, NULL, NULL},
    {"allow_multiple_active_cards", IDM_OPTION_BOOL, "0", 0, 1, NULL, NULL},
    {"send_card_ordered_email", IDM_OPTION_BOOL, "0", 0, 1, NULL, NULL},
    {"pin_length", IDM_OPTION_INT, "6", 4, 6, pin_lengths, NULL},
    {"temporary_cards_per_order", IDM_OPTION_INT, "1", 1, 9, NULL, NULL},
    {"pin_source", IDM_OPTION_STRING, "user", 0, 0, pin_sources, NULL},
    {"pin_delivery", IDM_OPTION_STRING, "none", 0, 0, pin_deliveries, NULL},
    {"expiry_mail_days", IDM_OPTION_STRING, "60,30,14,7", 0, 0, NULL, check_day_list},
    {"common_name_template", IDM_OPTION_STRING, "${givenName} ${surname}", 0, 0, NULL,
     check_template},
    {"upn_template", IDM_OPTION_STRING, "", 0, 0, NULL, check_template},
    {"card_number_format", IDM_OPTION_STRING, "{seq:8}", 0, 0, NULL, check_card_number_format},
    {"cert_validity_days", IDM_OPTION_INT, "1095", 1, 3650, NULL, NULL},
    {"visitor_cert_validity_days", IDM_OPTION_INT, "30", 1, 3650, NULL, NULL},
    {"cert_subject_template", IDM_OPTION_STRING, "/CN=${commonName}", 0, 0, NULL, check_subject},
    {"email_attribute", IDM_OPTION_STRING, "mail", 0, 0, NULL, check_attribute_name},
    {"cert_crl_url", IDM_OPTION_STRING, "", 0, 0, NULL, check_url},
    {"cert_aia_url", IDM_OPTION_STRING, "", 0, 0, NULL, check_url},
    {"card_key_algorithm", IDM_OPTION_STRING, "p256", 0, 0, card_key_algorithms, NULL},
    {"card_key_slots", IDM_OPTION_STRING, "9A,9C,9D,9E", 0, 0, NULL, check_slot_list},
};

#define OPTION_COUNT (sizeof option_table / sizeof option_table[0])

static int option_index(const char *key)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strcmp(option_table[i].key, key) == 0)
            return (int)i;
    }
    return -1;
}

static const char *type_name(idm_option_type type)
{
    switch (type) {
    case IDM_OPTION_BOOL: return "bool";
    case IDM_OPTION_INT: return "int";
    case IDM_OPTION_STRING: return "string";
    }
    return "unknown";
}

/* ---- grammars -------------------------------------------------------- */

static int check_template(const char *value, char *why, size_t why_size)
{
    return idm_template_valid(value, why, why_size);
}

static int check_subject(const char *value, char *why, size_t why_size)
{
    return idm_subject_template_valid(value, why, why_size);
}

static int check_attribute_name(const char *value, char *why, size_t why_size)
{
    if (value[0] == '\0' || idm_check_key(NULL, "value", value) == IDM_OK)
        return 1;
    snprintf(why, why_size, "expected an attribute key, or \"\" for none");
    return 0;
}

/* "" (none) or an http, https or ldap URL without blanks. */
int idm_option_parse_slots(const char *value, unsigned slots[4], size_t *count, char *why,
                           size_t why_size)
{
    static const unsigned known[] = {0x9A, 0x9C, 0x9D, 0x9E};
    size_t n = 0;
    const char *p = value;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        unsigned slot = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
            char name[3];
            snprintf(name, sizeof name, "%02X", known[k]);
            if (len == 2 && strncasecmp(p, name, 2) == 0)
                slot = known[k];
        }
        if (slot == 0) {
            snprintf(why, why_size, "'%.*s' is not a PIV key slot (9A, 9C, 9D or 9E)",
                     (int)(len > 16 ? 16 : len), p);
            return 0;
        }
        for (size_t k = 0; k < n; k++) {
            if (slots[k] == slot) {
                snprintf(why, why_size, "slot %02X is listed twice", slot);
                return 0;
            }
        }
        slots[n++] = slot;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *count = n;
    return 1;
}

static int check_slot_list(const char *value, char *why, size_t why_size)
{
    unsigned slots[4];
    size_t n;
    return idm_option_parse_slots(value, slots, &n, why, why_size);
}

static int check_url(const char *value, char *why, size_t why_size)
{
    if (value[0] == '\0')
        return 1;
    int scheme = strncmp(value, "http://", 7) == 0 || strncmp(value, "https://", 8) == 0 ||
                 strncmp(value, "ldap://", 7) == 0;
    if (!scheme || strpbrk(value, " \t\"<>") != NULL || strlen(value) > 512) {
        snprintf(why, why_size, "expected an http://, https:// or ldap:// URL without blanks "
                                "(at most 512 bytes), or \"\" for none");
        return 0;
    }
    return 1;
}

static int check_day_list(const char *value, char *why, size_t why_size)
{
    const char *p = value;
    long previous = 0;
    int count = 0;
    while (*p != '\0') {
        char *end = (char *)p;
        long days = 0;
        errno = 0;
        /* strtol would skip blanks and take signs; the list is digits and commas. */
        if (*p >= '0' && *p <= '9')
            days = strtol(p, &end, 10);
        if (end == p || errno != 0 || days < 1 || days > 3650) {
            snprintf(why, why_size, "entry %d is not a number of days from 1 to 3650", count + 1);
            return 0;
        }
        if (count > 0 && days >= previous) {
            snprintf(why, why_size, "days must be in descending order (%ld after %ld)", days,
                     previous);
            return 0;
        }
        previous = days;
        if (++count > 10) {
            snprintf(why, why_size, "at most 10 entries");
            return 0;
        }
        if (*end == ',' && end[1] != '\0')
            end++;
        else if (*end != '\0') {
            snprintf(why, why_size, "entries are separated by single commas");
            return 0;
        }
        p = end;
    }
    return 1;
}

/* Finds the one "{seq}" or "{seq:N}" of a card number format. */
static int parse_seq_field(const char *format, size_t *start, size_t *len, int *width)
{
    const char *open = strchr(format, '{');
    if (open == NULL)
        return 0;
    const char *close = strchr(open, '}');
    if (close == NULL || strchr(close + 1, '{') != NULL || strchr(close + 1, '}') != NULL)
        return 0;
    if (memchr(format, '}', (size_t)(open - format)) != NULL)
        return 0;
    size_t inner = (size_t)(close - open - 1);
    *width = 0;
    if (inner == 3 && strncmp(open + 1, "seq", 3) == 0) {
        /* no padding */
    } else if (inner >= 5 && inner <= 6 && strncmp(open + 1, "seq:", 4) == 0) {
        char digits[3] = {0};
        memcpy(digits, open + 5, inner - 4);
        for (size_t i = 0; i < inner - 4; i++) {
            if (digits[i] < '0' || digits[i] > '9')
                return 0;
        }
        *width = atoi(digits);
        if (*width < 1 || *width > 20)
            return 0;
    } else {
        return 0;
    }
    *start = (size_t)(open - format);
    *len = inner + 2;
    return 1;
}

static int check_card_number_format(const char *value, char *why, size_t why_size)
{
    size_t start, len;
    int width;
    if (!parse_seq_field(value, &start, &len, &width)) {
        snprintf(why, why_size, "it needs exactly one '{seq}' or '{seq:N}' (N from 1 to 20) "
                                "and no other braces");
        return 0;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if (*p < 0x21 || *p > 0x7e) {
            snprintf(why, why_size, "card numbers are printable ASCII without spaces");
            return 0;
        }
    }
    if (strlen(value) > 64) {
        snprintf(why, why_size, "at most 64 characters");
        return 0;
    }
    return 1;
}

int idm_card_number_format(const char *format, int64_t seq, char **out)
{
    size_t start, len;
    int width;
    *out = NULL;
    if (!parse_seq_field(format, &start, &len, &width))
        return IDM_ERR(IDM_ERR_INVALID_ARG, "card_number_format '%s' is invalid", format);
    char digits[32];
    snprintf(digits, sizeof digits, "%0*" PRId64, width, seq);
    size_t total = strlen(format) - len + strlen(digits);
    char *number = malloc(total + 1);
    if (number == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot format a card number");
    snprintf(number, total + 1, "%.*s%s%s", (int)start, format, digits, format + start + len);
    *out = number;
    return IDM_OK;
}

/* ---- values ---------------------------------------------------------- */

/* Checks a value's text against its option's rules; why says what is wrong. */
static int value_valid(const struct option_def *d, const char *value, char *why, size_t why_size)
{
    if (d->type == IDM_OPTION_BOOL) {
        if (strcmp(value, "0") == 0 || strcmp(value, "1") == 0)
            return 1;
        snprintf(why, why_size, "expected 0 or 1");
        return 0;
    }
    if (d->type == IDM_OPTION_INT) {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (end == value || *end != '\0' || errno != 0 || v < d->min || v > d->max) {
            snprintf(why, why_size, "expected an integer from %" PRId64 " to %" PRId64, d->min,
                     d->max);
            return 0;
        }
    } else {
        size_t bad;
        size_t len = strnlen(value, OPTION_TEXT_MAX + 1);
        if (len > OPTION_TEXT_MAX) {
            snprintf(why, why_size, "longer than %d bytes", OPTION_TEXT_MAX);
            return 0;
        }
        if (!idm_utf8_valid(value, len, &bad)) {
            snprintf(why, why_size, "not valid UTF-8 at byte %zu", bad);
            return 0;
        }
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
                snprintf(why, why_size, "control character at byte %zu", i);
                return 0;
            }
        }
    }
    if (d->choices != NULL) {
        size_t used = 0;
        char allowed[128] = "";
        for (const char *const *c = d->choices; *c != NULL; c++) {
            if (strcmp(*c, value) == 0)
                return 1;
            int n = snprintf(allowed + used, sizeof allowed - used, "%s'%s'",
                             used > 0 ? ", " : "", *c);
            if (n > 0 && (size_t)n < sizeof allowed - used)
                used += (size_t)n;
        }
        snprintf(why, why_size, "expected one of %s", allowed);
        return 0;
    }
    if (d->check != NULL)
        return d->check(value, why, why_size);
    return 1;
}

void idm_optset_free(struct idm_optset *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->count; i++)
        free(o->values[i]);
    free(o->values);
    free(o);
}

static int optset_defaults(struct idm_optset **out)
{
    struct idm_optset *o = calloc(1, sizeof *o);
    if (o == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate an option set");
    o->values = calloc(OPTION_COUNT, sizeof *o->values);
    if (o->values == NULL) {
        free(o);
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate an option set");
    }
    o->count = OPTION_COUNT;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        o->values[i] = strdup(option_table[i].default_value);
        if (o->values[i] == NULL) {
            idm_optset_free(o);
            return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate an option set");
        }
    }
    *out = o;
    return IDM_OK;
}

/* Puts value in place of the set's value of option i, if it is valid. */
static int optset_put(struct idm_optset *o, size_t i, const char *value, const char *origin)
{
    char why[160];
    if (!value_valid(&option_table[i], value, why, sizeof why))
        return IDM_ERR(IDM_ERR_STORE, "%s holds an invalid value for option '%s': %s", origin,
                       option_table[i].key, why);
    char *copy = strdup(value);
    if (copy == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy option '%s'", option_table[i].key);
    free(o->values[i]);
    o->values[i] = copy;
    return IDM_OK;
}

int idm_optset_load(struct idm_store *s, struct idm_optset **out)
{
    struct idm_option_row *rows = NULL;
    size_t n = 0;
    int64_t version = 0;
    struct idm_optset *o = NULL;
    int rc = s->ops->options_load(s, &rows, &n, &version);
    if (rc == IDM_OK)
        rc = optset_defaults(&o);
    for (size_t r = 0; rc == IDM_OK && r < n; r++) {
        int i = option_index(rows[r].key);
        if (i >= 0) /* an option of a newer library: not ours to judge */
            rc = optset_put(o, (size_t)i, rows[r].value, "the store");
    }
    idm_option_rows_free(rows, n);
    if (rc != IDM_OK) {
        idm_optset_free(o);
        return rc;
    }
    o->version = version;
    *out = o;
    return IDM_OK;
}

int idm_optset_parse(const char *snapshot, int64_t version, struct idm_optset **out)
{
    struct idm_optset *o = NULL;
    int rc = optset_defaults(&o);
    if (rc != IDM_OK)
        return rc;
    const char *line = snapshot;
    while (rc == IDM_OK && *line != '\0') {
        const char *eol = strchr(line, '\n');
        size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
        const char *eq = memchr(line, '=', len);
        if (eq == NULL) {
            rc = IDM_ERR(IDM_ERR_STORE, "an order's option snapshot has a line without '='");
            break;
        }
        char key[64];
        size_t klen = (size_t)(eq - line);
        char *value = strndup(eq + 1, len - klen - 1);
        if (value == NULL) {
            rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot parse an option snapshot");
            break;
        }
        if (klen < sizeof key) {
            memcpy(key, line, klen);
            key[klen] = '\0';
            int i = option_index(key);
            if (i >= 0)
                rc = optset_put(o, (size_t)i, value, "an order's option snapshot");
        }
        free(value);
        line = eol != NULL ? eol + 1 : line + len;
    }
    if (rc != IDM_OK) {
        idm_optset_free(o);
        return rc;
    }
    o->version = version;
    *out = o;
    return IDM_OK;
}

int idm_optset_serialize(const struct idm_optset *o, char **out)
{
    size_t total = 1;
    for (size_t i = 0; i < o->count; i++)
        total += strlen(option_table[i].key) + strlen(o->values[i]) + 2;
    char *text = malloc(total);
    if (text == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot snapshot the options");
    size_t used = 0;
    for (size_t i = 0; i < o->count; i++)
        used += (size_t)snprintf(text + used, total - used, "%s=%s\n", option_table[i].key,
                                 o->values[i]);
    *out = text;
    return IDM_OK;
}

/* The value text of key, checked to be of type. */
static int optset_typed(const struct idm_optset *o, const char *key, idm_option_type type,
                        const char **text)
{
    int i = option_index(key);
    if (i < 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "'%s' is not an option", key);
    if (option_table[i].type != type)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "option '%s' has type %s, not %s", key,
                       type_name(option_table[i].type), type_name(type));
    *text = o->values[i];
    return IDM_OK;
}

int idm_optset_bool(const struct idm_optset *o, const char *key, int *out)
{
    const char *text;
    int rc = optset_typed(o, key, IDM_OPTION_BOOL, &text);
    if (rc == IDM_OK)
        *out = text[0] == '1';
    return rc;
}

int idm_optset_int(const struct idm_optset *o, const char *key, int64_t *out)
{
    const char *text;
    int rc = optset_typed(o, key, IDM_OPTION_INT, &text);
    if (rc == IDM_OK)
        *out = strtoll(text, NULL, 10);
    return rc;
}

int idm_optset_string(const struct idm_optset *o, const char *key, const char **out)
{
    return optset_typed(o, key, IDM_OPTION_STRING, out);
}

/* ---- public API ------------------------------------------------------ */

IDM_EXPORT int idm_option_count(size_t *out)
{
    IDM_CHECK_NOT_NULL(out);
    *out = OPTION_COUNT;
    return IDM_OK;
}

IDM_EXPORT int idm_option_key_at(size_t index, const char **key, idm_option_type *type)
{
    if (index >= OPTION_COUNT)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'index' is %zu; there are %zu options",
                        index, OPTION_COUNT);
    if (key != NULL)
        *key = option_table[index].key;
    if (type != NULL)
        *type = option_table[index].type;
    return IDM_OK;
}

/* Loads the current options into the context's view, which string reads
 * point into. */
static int load_view(idm_ctx_t *ctx)
{
    struct idm_store *s;
    int rc = idm_ctx_store(ctx, &s);
    struct idm_optset *o = NULL;
    if (rc == IDM_OK)
        rc = idm_optset_load(s, &o);
    if (rc != IDM_OK)
        return rc;
    idm_optset_free(ctx->options_view);
    ctx->options_view = o;
    return IDM_OK;
}

IDM_EXPORT int idm_options_get_bool(idm_ctx_t *ctx, const char *key, int *out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(key);
    IDM_CHECK_NOT_NULL(out);
    int rc = load_view(ctx);
    if (rc == IDM_OK)
        rc = idm_optset_bool(ctx->options_view, key, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_options_get_int(idm_ctx_t *ctx, const char *key, int64_t *out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(key);
    IDM_CHECK_NOT_NULL(out);
    int rc = load_view(ctx);
    if (rc == IDM_OK)
        rc = idm_optset_int(ctx->options_view, key, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_options_get_string(idm_ctx_t *ctx, const char *key, const char **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(key);
    IDM_CHECK_NOT_NULL(out);
    int rc = load_view(ctx);
    if (rc == IDM_OK)
        rc = idm_optset_string(ctx->options_view, key, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_options_get_version(idm_ctx_t *ctx, int64_t *out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    int rc = load_view(ctx);
    if (rc != IDM_OK)
        return idm_error_prefix(__func__, rc);
    *out = ctx->options_view->version;
    return IDM_OK;
}

/*
 * Stores value (NULL: the default) for key, in one transaction with its
 * audit event "key: old -> new".
 */
static int save_option(idm_ctx_t *ctx, const char *func, const char *actor, const char *key,
                       idm_option_type type, const char *value)
{
    int rc = idm_check_actor(func, actor);
    if (rc != IDM_OK)
        return rc;
    int i = option_index(key);
    if (i < 0)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "'%s' is not an option", key);
    const struct option_def *d = &option_table[i];
    if (value != NULL && d->type != type)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "option '%s' has type %s, not %s", key,
                             type_name(d->type), type_name(type));
    char why[160], shown[80];
    /* the value as text fit for a message: it may be long, or not UTF-8 */
    if (value != NULL && !value_valid(d, value, why, sizeof why))
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "'%s' is not a valid value of option "
                             "'%s': %s", idm_text_shown(value, shown, sizeof shown), key, why);

    struct idm_store *s;
    if ((rc = idm_ctx_store(ctx, &s)) != IDM_OK)
        return idm_error_prefix(func, rc);
    if ((rc = s->ops->begin(s)) != IDM_OK)
        return idm_error_prefix(func, rc);
    struct idm_optset *current = NULL;
    int64_t version = 0;
    rc = idm_optset_load(s, &current);
    if (rc == IDM_OK)
        rc = s->ops->option_save(s, key, value, &version);
    if (rc == IDM_OK)
        rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_OPTION, 0, NULL, NULL,
                              "%s: '%s' -> '%s' (option set version %" PRId64 ")", key,
                              current->values[i], value != NULL ? value : d->default_value,
                              version);
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    if (rc == IDM_OK)
        idm_log_info(ctx, "options", "%s set %s to '%s' (version %" PRId64 ")", actor, key,
                     value != NULL ? value : d->default_value, version);
    idm_optset_free(current);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(func, rc);
}

IDM_EXPORT int idm_options_set_bool(idm_ctx_t *ctx, const char *actor, const char *key, int value)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(key);
    if (value != 0 && value != 1)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'value' is %d; option '%s' takes 0 or 1",
                        value, key);
    return save_option(ctx, __func__, actor, key, IDM_OPTION_BOOL, value ? "1" : "0");
}

IDM_EXPORT int idm_options_set_int(idm_ctx_t *ctx, const char *actor, const char *key,
                                   int64_t value)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(key);
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, value);
    return save_option(ctx, __func__, actor, key, IDM_OPTION_INT, text);
}

IDM_EXPORT int idm_options_set_string(idm_ctx_t *ctx, const char *actor, const char *key,
                                      const char *value)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(key);
    IDM_CHECK_NOT_NULL(value);
    return save_option(ctx, __func__, actor, key, IDM_OPTION_STRING, value);
}

IDM_EXPORT int idm_options_reset(idm_ctx_t *ctx, const char *actor, const char *key)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(key);
    return save_option(ctx, __func__, actor, key, IDM_OPTION_STRING, NULL);
}
