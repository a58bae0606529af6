/*
 * Identities.  A handle is a snapshot of the stored row; every change is
 * checked against the row as stored (not the snapshot), written in one
 * transaction with its audit event, and then the snapshot is reloaded.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/identity.h>

#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "model/audit_impl.h"
#include "model/identity_impl.h"
#include "model/iter.h"
#include "model/options_impl.h"
#include "model/states.h"
#include "model/text.h"
#include "store/store.h"

struct idm_identity {
    uint32_t magic; /* IDM_MAGIC_IDENTITY */
    idm_ctx_t *ctx;
    struct idm_identity_rec rec;
    char *derived_cn;  /* from common_name_template when rec.common_name is NULL */
    char *derived_upn; /* from upn_template when rec.upn is NULL */
};

struct idm_identity_iter {
    struct idm_id_iter base;
};

#define CHECK_IDENTITY(i) IDM_CHECK_HANDLE(i, IDM_MAGIC_IDENTITY, "idm_identity_t")
#define CHECK_ITER(it) IDM_CHECK_HANDLE(it, IDM_MAGIC_IDENTITY_ITER, "idm_identity_iter_t")

/* Loads row id into the handle and derives the names the templates give. */
static int identity_load(idm_identity_t *identity, int64_t id)
{
    struct idm_store *s;
    int rc = idm_ctx_store(identity->ctx, &s);
    if (rc != IDM_OK)
        return rc;
    struct idm_identity_rec rec;
    if ((rc = s->ops->identity_load(s, id, &rec)) != IDM_OK)
        return rc;

    struct idm_optset *o = NULL;
    const char *cn_template = "", *upn_template = "";
    char *cn = NULL, *upn = NULL;
    rc = idm_optset_load(s, &o);
    if (rc == IDM_OK)
        rc = idm_optset_string(o, "common_name_template", &cn_template);
    if (rc == IDM_OK)
        rc = idm_optset_string(o, "upn_template", &upn_template);
    if (rc == IDM_OK && rec.common_name == NULL)
        rc = idm_template_expand(cn_template, rec.attrs, rec.nattrs, &cn);
    if (rc == IDM_OK && rec.upn == NULL)
        rc = idm_template_expand(upn_template, rec.attrs, rec.nattrs, &upn);
    idm_optset_free(o);
    if (rc != IDM_OK) {
        free(cn);
        idm_identity_rec_clear(&rec);
        return rc;
    }
    idm_identity_rec_clear(&identity->rec);
    free(identity->derived_cn);
    free(identity->derived_upn);
    identity->rec = rec;
    identity->derived_cn = cn;
    identity->derived_upn = upn;
    return IDM_OK;
}

static int identity_alloc(idm_ctx_t *ctx, int64_t id, idm_identity_t **out)
{
    *out = NULL;
    idm_identity_t *identity = calloc(1, sizeof *identity);
    if (identity == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate an identity");
    identity->magic = IDM_MAGIC_IDENTITY;
    identity->ctx = ctx;
    int rc = identity_load(identity, id);
    if (rc != IDM_OK) {
        idm_identity_free(&identity);
        return rc;
    }
    *out = identity;
    return IDM_OK;
}

int idm_identity_label(const struct idm_identity_rec *rec, char *buf, size_t size)
{
    if (rec->external_id != NULL)
        return snprintf(buf, size, "identity %" PRId64 " ('%s')", rec->id, rec->external_id);
    return snprintf(buf, size, "identity %" PRId64, rec->id);
}

int idm_identity_insert(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                        struct idm_identity_rec *rec, const char *origin)
{
    rec->created_ms = rec->updated_ms = idm_ctx_clock_ms(ctx);
    int rc = s->ops->identity_insert(s, rec);
    if (rc != IDM_OK)
        return rc;
    return idm_audit_append(ctx, s, actor, IDM_OBJECT_IDENTITY, rec->id, NULL,
                            idm_identity_state_name(rec->state), "identity created%s%s",
                            origin != NULL ? " " : "", origin != NULL ? origin : "");
}

IDM_EXPORT int idm_identity_new(idm_ctx_t *ctx, const char *actor, const char *external_id,
                                idm_identity_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    int rc = idm_check_actor(__func__, actor);
    if (rc == IDM_OK)
        rc = idm_check_text(__func__, "external_id", external_id, IDM_ATTRIBUTE_VALUE_MAX, 1, 1);
    if (rc != IDM_OK)
        return rc;

    struct idm_store *s;
    if ((rc = idm_ctx_store(ctx, &s)) != IDM_OK || (rc = s->ops->begin(s)) != IDM_OK)
        return idm_error_prefix(__func__, rc);
    struct idm_identity_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.external_id = (char *)external_id; /* borrowed for the insert */
    rec.state = (idm_identity_state)idm_identity_graph.initial;
    rc = idm_identity_insert(ctx, s, actor, &rec, NULL);
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    if (rc == IDM_ERR_EXISTS)
        return IDM_FAIL(rc, "an identity with external id '%s' already exists", external_id);
    if (rc == IDM_OK)
        rc = identity_alloc(ctx, rec.id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_identity_open(idm_ctx_t *ctx, int64_t id, idm_identity_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    if (id <= 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'id' is %" PRId64 "; ids are > 0", id);
    int rc = identity_alloc(ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_identity_open_external(idm_ctx_t *ctx, const char *external_id,
                                          idm_identity_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(external_id);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    struct idm_store *s;
    int64_t id = 0;
    int rc = idm_ctx_store(ctx, &s);
    if (rc == IDM_OK)
        rc = s->ops->identity_find(s, external_id, &id);
    if (rc == IDM_OK)
        rc = identity_alloc(ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_identity_refresh(idm_identity_t *identity)
{
    CHECK_IDENTITY(identity);
    int rc = identity_load(identity, identity->rec.id);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_identity_free(idm_identity_t **identity)
{
    if (!IDM_LIVE_HANDLE(identity, IDM_MAGIC_IDENTITY))
        return;
    idm_identity_rec_clear(&(*identity)->rec);
    free((*identity)->derived_cn);
    free((*identity)->derived_upn);
    idm_handle_kill(*identity);
    free(*identity);
    *identity = NULL;
}

/* ---- getters --------------------------------------------------------- */

#define IDENTITY_GETTER(fn, type, field) \
    IDM_FIELD_GETTER(fn, idm_identity_t, identity, IDM_MAGIC_IDENTITY, "idm_identity_t", type, \
                     field)

IDENTITY_GETTER(idm_identity_get_id, int64_t, rec.id)
IDENTITY_GETTER(idm_identity_get_external_id, const char *, rec.external_id)
IDENTITY_GETTER(idm_identity_get_state, idm_identity_state, rec.state)
IDM_EXPORT int idm_identity_get_attribute(const idm_identity_t *identity, const char *key,
                                          const char **out)
{
    CHECK_IDENTITY(identity);
    IDM_CHECK_NOT_NULL(key);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    const struct idm_attr *a = idm_attr_find(identity->rec.attrs, identity->rec.nattrs, key);
    if (a == NULL) {
        char label[160];
        idm_identity_label(&identity->rec, label, sizeof label);
        return IDM_FAIL(IDM_ERR_NOT_FOUND, "%s has no attribute '%s'", label, key);
    }
    *out = a->value;
    return IDM_OK;
}

IDENTITY_GETTER(idm_identity_get_attribute_count, size_t, rec.nattrs)
IDM_EXPORT int idm_identity_get_attribute_at(const idm_identity_t *identity, size_t index,
                                             const char **key, const char **value)
{
    CHECK_IDENTITY(identity);
    if (index >= identity->rec.nattrs)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'index' is %zu; the identity has %zu "
                        "attributes", index, identity->rec.nattrs);
    if (key != NULL)
        *key = identity->rec.attrs[index].key;
    if (value != NULL)
        *value = identity->rec.attrs[index].value;
    return IDM_OK;
}

IDM_EXPORT int idm_identity_get_common_name(const idm_identity_t *identity, const char **out)
{
    CHECK_IDENTITY(identity);
    IDM_CHECK_NOT_NULL(out);
    *out = identity->rec.common_name != NULL ? identity->rec.common_name : identity->derived_cn;
    return IDM_OK;
}

IDM_EXPORT int idm_identity_get_upn(const idm_identity_t *identity, const char **out)
{
    CHECK_IDENTITY(identity);
    IDM_CHECK_NOT_NULL(out);
    *out = identity->rec.upn != NULL ? identity->rec.upn : identity->derived_upn;
    return IDM_OK;
}

/* ---- changes --------------------------------------------------------- */

enum identity_change { CHANGE_STATE, CHANGE_ATTRIBUTE, CHANGE_COMMON_NAME, CHANGE_UPN };

/*
 * Applies one change to the stored identity in one transaction with its
 * audit event, then reloads the handle.  Arguments are already checked.
 */
static int identity_change(idm_identity_t *identity, const char *actor,
                           enum identity_change what, idm_identity_state to, const char *key,
                           const char *value)
{
    struct idm_store *s;
    int rc = idm_ctx_store(identity->ctx, &s);
    if (rc != IDM_OK || (rc = s->ops->begin(s)) != IDM_OK)
        return rc;
    const idm_ctx_t *ctx = identity->ctx;
    struct idm_identity_rec cur;
    rc = s->ops->identity_load(s, identity->rec.id, &cur);
    if (rc != IDM_OK) {
        s->ops->rollback(s);
        return rc;
    }
    char label[160];
    idm_identity_label(&cur, label, sizeof label);
    const char *from = idm_identity_state_name(cur.state);

    if (what != CHANGE_STATE && cur.state == IDM_IDENTITY_TERMINATED) {
        rc = IDM_ERR(IDM_ERR_STATE, "%s is terminated; it can no longer change", label);
    } else if (what == CHANGE_STATE) {
        if (!idm_graph_allows(&idm_identity_graph, (int)cur.state, (int)to)) {
            rc = idm_graph_refuse(&idm_identity_graph, label, (int)cur.state, (int)to);
        } else {
            cur.state = to;
            cur.updated_ms = idm_ctx_clock_ms(ctx);
            rc = s->ops->identity_update(s, &cur);
            if (rc == IDM_OK)
                rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_IDENTITY, cur.id, from,
                                      idm_identity_state_name(to), "state changed");
        }
    } else if (what == CHANGE_ATTRIBUTE) {
        rc = s->ops->identity_set_attr(s, cur.id, key, value);
        if (rc == IDM_OK) {
            cur.updated_ms = idm_ctx_clock_ms(ctx);
            rc = s->ops->identity_update(s, &cur);
        }
        /* The audit names the key only: attribute values are personal data. */
        if (rc == IDM_OK)
            rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_IDENTITY, cur.id, NULL, NULL,
                                  "attribute '%s' %s", key, value != NULL ? "set" : "removed");
    } else {
        char **field = what == CHANGE_COMMON_NAME ? &cur.common_name : &cur.upn;
        const char *name = what == CHANGE_COMMON_NAME ? "common name" : "UPN";
        char *copy = value != NULL ? strdup(value) : NULL;
        if (value != NULL && copy == NULL) {
            rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot copy the %s", name);
        } else {
            free(*field);
            *field = copy;
            cur.updated_ms = idm_ctx_clock_ms(ctx);
            rc = s->ops->identity_update(s, &cur);
            if (rc == IDM_OK)
                rc = idm_audit_append(ctx, s, actor, IDM_OBJECT_IDENTITY, cur.id, NULL, NULL,
                                      "%s %s", name,
                                      value != NULL ? "set explicitly" : "derived again");
        }
    }
    idm_identity_rec_clear(&cur);
    if (rc == IDM_OK)
        rc = s->ops->commit(s);
    else
        s->ops->rollback(s);
    if (rc == IDM_OK)
        rc = identity_load(identity, identity->rec.id);
    return rc;
}

IDM_EXPORT int idm_identity_set_state(idm_identity_t *identity, const char *actor,
                                      idm_identity_state to)
{
    CHECK_IDENTITY(identity);
    int rc = idm_check_actor(__func__, actor);
    if (rc != IDM_OK)
        return rc;
    if (!idm_graph_has_state(&idm_identity_graph, (int)to))
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'to' is %d; not an idm_identity_state",
                        (int)to);
    rc = identity_change(identity, actor, CHANGE_STATE, to, NULL, NULL);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_identity_set_attribute(idm_identity_t *identity, const char *actor,
                                          const char *key, const char *value)
{
    CHECK_IDENTITY(identity);
    int rc = idm_check_actor(__func__, actor);
    if (rc == IDM_OK)
        rc = idm_check_key(__func__, "key", key);
    if (rc == IDM_OK)
        rc = idm_check_text(__func__, "value", value, IDM_ATTRIBUTE_VALUE_MAX, 1, 0);
    if (rc != IDM_OK)
        return rc;
    rc = identity_change(identity, actor, CHANGE_ATTRIBUTE, IDM_IDENTITY_REGISTERED, key, value);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

/* Sets the explicit common name or UPN (value NULL: derive it again). */
static int set_name(idm_identity_t *identity, const char *func, const char *actor,
                    enum identity_change what, const char *value)
{
    int rc = idm_check_actor(func, actor);
    if (rc == IDM_OK)
        rc = idm_check_text(func, "value", value, IDM_ATTRIBUTE_VALUE_MAX, 1, 1);
    if (rc != IDM_OK)
        return rc;
    rc = identity_change(identity, actor, what, IDM_IDENTITY_REGISTERED, NULL, value);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(func, rc);
}

IDM_EXPORT int idm_identity_set_common_name(idm_identity_t *identity, const char *actor,
                                            const char *value)
{
    CHECK_IDENTITY(identity);
    return set_name(identity, __func__, actor, CHANGE_COMMON_NAME, value);
}

IDM_EXPORT int idm_identity_set_upn(idm_identity_t *identity, const char *actor, const char *value)
{
    CHECK_IDENTITY(identity);
    return set_name(identity, __func__, actor, CHANGE_UPN, value);
}

/* ---- iteration ------------------------------------------------------- */

IDM_EXPORT int idm_identity_iter_new(idm_ctx_t *ctx, idm_identity_iter_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    return idm_id_iter_new(ctx, __func__, IDM_MAGIC_IDENTITY_ITER, IDM_OBJECT_IDENTITY,
                           (struct idm_id_iter **)out);
}

IDM_EXPORT int idm_identity_iter_set_state(idm_identity_iter_t *iter, idm_identity_state state)
{
    CHECK_ITER(iter);
    int rc = idm_id_iter_check_unstarted(&iter->base, __func__);
    if (rc != IDM_OK)
        return rc;
    if (!idm_graph_has_state(&idm_identity_graph, (int)state))
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'state' is %d; not an idm_identity_state",
                        (int)state);
    iter->base.filter.has_state = 1;
    iter->base.filter.state = (int)state;
    return IDM_OK;
}

IDM_EXPORT int idm_identity_iter_next(idm_identity_iter_t *iter, idm_identity_t **out)
{
    CHECK_ITER(iter);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    int64_t id;
    int rc = idm_id_iter_next_id(&iter->base, &id);
    if (rc == IDM_OK && id != 0)
        rc = identity_alloc(iter->base.ctx, id, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT void idm_identity_iter_free(idm_identity_iter_t **iter)
{
    if (!IDM_LIVE_HANDLE(iter, IDM_MAGIC_IDENTITY_ITER))
        return;
    idm_id_iter_free(&(*iter)->base);
    *iter = NULL;
}
