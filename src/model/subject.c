#include "model/subject.h"

#include <openssl/objects.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"
#include "model/text.h"

#define SUBJECT_MAX_RDNS 16

/* The attribute types a subject may use, by the names RFC 4514 and OpenSSL
 * print. */
static const struct {
    const char *name;
    int nid;
} rdn_types[] = {
    {"C", NID_countryName},       {"ST", NID_stateOrProvinceName},
    {"L", NID_localityName},      {"O", NID_organizationName},
    {"OU", NID_organizationalUnitName}, {"CN", NID_commonName},
    {"serialNumber", NID_serialNumber}, {"title", NID_title},
    {"UID", NID_userId},          {"DC", NID_domainComponent},
};

static int rdn_type(const char *name, size_t len, const char **canonical)
{
    for (size_t i = 0; i < sizeof rdn_types / sizeof rdn_types[0]; i++) {
        if (strlen(rdn_types[i].name) == len && strncmp(rdn_types[i].name, name, len) == 0) {
            *canonical = rdn_types[i].name;
            return rdn_types[i].nid;
        }
    }
    return NID_undef;
}

/* Walks "/TYPE=value/TYPE=value"; calls visit for each RDN. */
static int walk(const char *tmpl, char *why, size_t why_size,
                int (*visit)(int nid, const char *type, const char *value, void *arg), void *arg)
{
    if (tmpl[0] != '/') {
        snprintf(why, why_size, "it must start with '/', as in '/CN=${commonName}'");
        return 0;
    }
    const char *p = tmpl + 1;
    int count = 0;
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        const char *type;
        int nid = eq != NULL ? rdn_type(p, (size_t)(eq - p), &type) : NID_undef;
        if (nid == NID_undef) {
            snprintf(why, why_size, "RDN %d '%.*s' is not TYPE=value with a TYPE of C, ST, L, O, "
                     "OU, CN, serialNumber, title, UID or DC", count + 1, (int)len, p);
            return 0;
        }
        char value[512];
        size_t vlen = len - (size_t)(eq + 1 - p);
        if (vlen == 0 || vlen >= sizeof value) {
            snprintf(why, why_size, "RDN %d has an empty or over-long value", count + 1);
            return 0;
        }
        memcpy(value, eq + 1, vlen);
        value[vlen] = '\0';
        if (++count > SUBJECT_MAX_RDNS) {
            snprintf(why, why_size, "more than %d RDNs", SUBJECT_MAX_RDNS);
            return 0;
        }
        if (!visit(nid, type, value, arg)) {
            snprintf(why, why_size, "RDN %d: ", count);
            return 0;
        }
        p = end != NULL ? end + 1 : p + len;
    }
    if (count == 0) {
        snprintf(why, why_size, "it names no RDN");
        return 0;
    }
    return 1;
}

static int check_rdn(int nid, const char *type, const char *value, void *arg)
{
    (void)nid;
    (void)type;
    char *why = arg;
    return idm_template_valid(value, why, 160);
}

int idm_subject_template_valid(const char *tmpl, char *why, size_t why_size)
{
    char inner[160] = "";
    if (walk(tmpl, why, why_size, check_rdn, inner))
        return 1;
    if (inner[0] != '\0') {
        size_t used = strlen(why);
        snprintf(why + used, why_size - used, "%s", inner);
    }
    return 0;
}

/* RFC 4514 escaping of one attribute value into out. */
static size_t escape_value(const char *v, char *out)
{
    size_t n = 0, len = strlen(v);
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        int special = strchr(",+\"\\<>;=", c) != NULL || (i == 0 && (c == '#' || c == ' ')) ||
                      (i == len - 1 && c == ' ');
        if (special && out != NULL)
            out[n] = '\\';
        n += (size_t)special;
        if (out != NULL)
            out[n] = c;
        n++;
    }
    return n;
}

struct build {
    const struct idm_attr *attrs;
    size_t nattrs;
    struct idm_cert_request *req;
    int rc;
};

static int build_rdn(int nid, const char *type, const char *value, void *arg)
{
    struct build *b = arg;
    (void)type;
    char *expanded = NULL;
    b->rc = idm_template_expand(value, b->attrs, b->nattrs, &expanded);
    if (b->rc != IDM_OK)
        return 0;
    if (expanded == NULL || expanded[0] == '\0') {
        free(expanded);
        b->rc = IDM_ERR(IDM_ERR_STATE, "cert_subject_template value '%s' cannot be filled: an "
                        "attribute it names is missing or empty", value);
        return 0;
    }
    struct idm_rdn *grown = realloc(b->req->rdns, (b->req->nrdns + 1) * sizeof *grown);
    if (grown == NULL) {
        free(expanded);
        b->rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot build a subject");
        return 0;
    }
    b->req->rdns = grown;
    grown[b->req->nrdns].nid = nid;
    grown[b->req->nrdns].value = expanded;
    b->req->nrdns++;
    return 1;
}

static int attr_cmp(const void *a, const void *b)
{
    return strcmp(((const struct idm_attr *)a)->key, ((const struct idm_attr *)b)->key);
}

int idm_subject_build(const char *tmpl, const char *common_name, const struct idm_attr *attrs,
                      size_t nattrs, struct idm_cert_request *req)
{
    /* The attributes plus commonName, sorted for idm_template_expand(). */
    struct idm_attr *all = calloc(nattrs + 1, sizeof *all);
    if (all == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot build a subject");
    size_t n = 0;
    for (size_t i = 0; i < nattrs; i++) {
        if (strcmp(attrs[i].key, "commonName") != 0)
            all[n++] = attrs[i];
    }
    if (common_name != NULL) {
        all[n].key = (char *)"commonName";
        all[n].value = (char *)common_name;
        n++;
    }
    qsort(all, n, sizeof *all, attr_cmp);

    struct build b = {all, n, req, IDM_OK};
    char why[200];
    int ok = walk(tmpl, why, sizeof why, build_rdn, &b);
    free(all);
    if (!ok)
        return b.rc != IDM_OK ? b.rc
                              : IDM_ERR(IDM_ERR_STATE, "cert_subject_template is invalid: %s", why);

    /* RFC 4514 text: most significant RDN last. */
    size_t total = 1;
    for (size_t i = 0; i < req->nrdns; i++)
        total += strlen(OBJ_nid2sn(req->rdns[i].nid)) + 2 + escape_value(req->rdns[i].value, NULL);
    if ((req->subject = malloc(total)) == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot build a subject");
    size_t used = 0;
    for (size_t i = req->nrdns; i-- > 0;) {
        used += (size_t)sprintf(req->subject + used, "%s%s=", used > 0 ? "," : "",
                                OBJ_nid2sn(req->rdns[i].nid));
        used += escape_value(req->rdns[i].value, req->subject + used);
    }
    req->subject[used] = '\0';
    return IDM_OK;
}
