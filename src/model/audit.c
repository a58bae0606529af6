/*
 * The hash-chained audit trail.  An event's hash is SHA-256 over the
 * previous event's hash and a canonical encoding of the event's fields
 * (fixed-width big-endian integers, length-prefixed strings with a marker
 * that tells NULL from ""), so no two different events share an encoding.
 */
#include "model/audit_impl.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "core/log.h"
#include "model/records.h"
#include "store/store.h"

/* Room for a host's reason (IDM_ATTRIBUTE_VALUE_MAX) and the library's words. */
#define AUDIT_DETAIL_MAX 8192
#define AUDIT_PAGE 256

static void put_u64(EVP_MD_CTX *md, uint64_t v)
{
    unsigned char b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    EVP_DigestUpdate(md, b, sizeof b);
}

static void put_str(EVP_MD_CTX *md, const char *s)
{
    unsigned char present = s != NULL;
    EVP_DigestUpdate(md, &present, 1);
    if (s == NULL)
        return;
    size_t len = strlen(s);
    put_u64(md, (uint64_t)len);
    EVP_DigestUpdate(md, s, len);
}

/* SHA-256 of prev_hash and the event's fields into out. */
static int audit_hash(const struct idm_audit_rec *r, const unsigned char prev[IDM_HASH_SIZE],
                      unsigned char out[IDM_HASH_SIZE])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a SHA-256 context");
    unsigned int len = 0;
    int ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    if (ok) {
        EVP_DigestUpdate(md, prev, IDM_HASH_SIZE);
        put_u64(md, (uint64_t)r->seq);
        put_u64(md, (uint64_t)r->time_ms);
        put_str(md, r->actor);
        put_u64(md, (uint64_t)r->object_type);
        put_u64(md, (uint64_t)r->object_id);
        put_str(md, r->from_state);
        put_str(md, r->to_state);
        put_str(md, r->detail);
        ok = EVP_DigestFinal_ex(md, out, &len) == 1 && len == IDM_HASH_SIZE;
    }
    EVP_MD_CTX_free(md);
    return ok ? IDM_OK : IDM_ERR(IDM_ERR_CRYPTO, "SHA-256 of an audit event failed");
}

int idm_audit_append(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                     idm_object_type type, int64_t id, const char *from, const char *to,
                     const char *fmt, ...)
{
    char detail[AUDIT_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (n < 0) {
        detail[0] = '\0';
    } else if ((size_t)n >= sizeof detail) {
        /* Never store half a UTF-8 character: cut before its lead byte. */
        size_t end = sizeof detail - 1;
        while (end > 0 && ((unsigned char)detail[end] & 0xc0) == 0x80)
            end--;
        detail[end] = '\0';
    }

    struct idm_audit_rec r;
    memset(&r, 0, sizeof r);
    int rc = s->ops->audit_last(s, &r.seq, r.prev_hash);
    if (rc != IDM_OK)
        return rc;
    /* Only a damaged store ends its trail there; the next number would wrap. */
    if (r.seq == INT64_MAX)
        return IDM_ERR(IDM_ERR_INTEGRITY, "the audit trail ends with event %" PRId64
                       "; no event can follow it", r.seq);
    r.seq++;
    r.time_ms = idm_ctx_clock_ms(ctx);
    /* The record borrows the strings: it is only read until insertion. */
    r.actor = (char *)actor;
    r.object_type = type;
    r.object_id = id;
    r.from_state = (char *)from;
    r.to_state = (char *)to;
    r.detail = detail;
    rc = audit_hash(&r, r.prev_hash, r.hash);
    if (rc == IDM_OK)
        rc = s->ops->audit_insert(s, &r);
    return rc;
}

void idm_audit_append_alone(const idm_ctx_t *ctx, struct idm_store *s, const char *actor,
                            idm_object_type type, int64_t id, const char *fmt, ...)
{
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", idm_last_error_message());
    char detail[AUDIT_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (n < 0)
        detail[0] = '\0';
    int rc = s->ops->begin(s);
    if (rc == IDM_OK) {
        rc = idm_audit_append(ctx, s, actor, type, id, NULL, NULL, "%s", detail);
        if (rc == IDM_OK)
            rc = s->ops->commit(s);
        else
            s->ops->rollback(s);
    }
    if (rc != IDM_OK)
        idm_log_error(ctx, "audit", "cannot audit a failure of %s %" PRId64 ": %s",
                      idm_object_type_name(type), id, idm_last_error_message());
    idm_error_set(NULL, IDM_ERR_INTERNAL, "%s", saved); /* the message only; no code kept */
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

IDM_EXPORT int idm_audit_verify(idm_ctx_t *ctx, int64_t *first_broken)
{
    IDM_CHECK_CTX(ctx);
    if (first_broken != NULL)
        *first_broken = 0;
    struct idm_store *s;
    int rc = idm_ctx_store(ctx, &s);
    if (rc != IDM_OK)
        return idm_error_prefix(__func__, rc);

    struct idm_audit_rec *page = calloc(AUDIT_PAGE, sizeof *page);
    if (page == NULL)
        return IDM_FAIL(IDM_ERR_NO_MEMORY, "cannot allocate %d audit records", AUDIT_PAGE);
    unsigned char prev[IDM_HASH_SIZE] = {0};
    int64_t expected_seq = 1;
    int64_t broken = 0;
    char why[200] = "";
    size_t n = 0;
    do {
        rc = s->ops->audit_read(s, NULL, expected_seq - 1, AUDIT_PAGE, page, &n);
        for (size_t i = 0; rc == IDM_OK && i < n && broken == 0; i++) {
            const struct idm_audit_rec *r = &page[i];
            unsigned char h[IDM_HASH_SIZE];
            if (r->seq != expected_seq) {
                broken = expected_seq;
                snprintf(why, sizeof why, "event %" PRId64 " is missing (next is %" PRId64 ")",
                         expected_seq, r->seq);
            } else if (memcmp(r->prev_hash, prev, IDM_HASH_SIZE) != 0) {
                broken = r->seq;
                snprintf(why, sizeof why, "its link to event %" PRId64 " does not match",
                         r->seq - 1);
            } else if ((rc = audit_hash(r, prev, h)) == IDM_OK &&
                       memcmp(h, r->hash, IDM_HASH_SIZE) != 0) {
                char stored[2 * IDM_HASH_SIZE + 1], computed[2 * IDM_HASH_SIZE + 1];
                hex(r->hash, IDM_HASH_SIZE, stored);
                hex(h, IDM_HASH_SIZE, computed);
                broken = r->seq;
                snprintf(why, sizeof why, "its content was changed (stored hash %.16s..., "
                         "computed %.16s...)", stored, computed);
            }
            memcpy(prev, r->hash, IDM_HASH_SIZE);
            expected_seq++;
        }
        for (size_t i = 0; i < n; i++)
            idm_audit_rec_clear(&page[i]);
    } while (rc == IDM_OK && broken == 0 && n == AUDIT_PAGE);
    free(page);

    if (rc != IDM_OK)
        return idm_error_prefix(__func__, rc);
    if (broken != 0) {
        if (first_broken != NULL)
            *first_broken = broken;
        idm_log_error(ctx, "audit", "audit chain broken at event %" PRId64 ": %s", broken, why);
        return IDM_FAIL(IDM_ERR_INTEGRITY, "audit chain broken at event %" PRId64 ": %s", broken,
                        why);
    }
    return IDM_OK;
}

/* ---- events and the iterator ----------------------------------------- */

struct idm_audit_event {
    uint32_t magic; /* IDM_MAGIC_AUDIT_EVENT */
    struct idm_audit_rec rec;
};

struct idm_audit_iter {
    uint32_t magic; /* IDM_MAGIC_AUDIT_ITER */
    idm_ctx_t *ctx;
    struct idm_audit_filter filter;
    int started;
    int done;
    int64_t after_seq;
    struct idm_audit_rec page[64];
    size_t n, pos;
};

#define CHECK_EVENT(e) IDM_CHECK_HANDLE(e, IDM_MAGIC_AUDIT_EVENT, "idm_audit_event_t")
#define CHECK_ITER(it) IDM_CHECK_HANDLE(it, IDM_MAGIC_AUDIT_ITER, "idm_audit_iter_t")

IDM_EXPORT int idm_audit_iter_new(idm_ctx_t *ctx, idm_audit_iter_t **out)
{
    IDM_CHECK_CTX(ctx);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    struct idm_store *s;
    int rc = idm_ctx_store(ctx, &s);
    if (rc != IDM_OK)
        return idm_error_prefix(__func__, rc);
    idm_audit_iter_t *it = calloc(1, sizeof *it);
    if (it == NULL)
        return IDM_FAIL(IDM_ERR_NO_MEMORY, "cannot allocate an audit iterator");
    it->magic = IDM_MAGIC_AUDIT_ITER;
    it->ctx = ctx;
    *out = it;
    return IDM_OK;
}

IDM_EXPORT int idm_audit_iter_set_object(idm_audit_iter_t *iter, idm_object_type type, int64_t id)
{
    CHECK_ITER(iter);
    if (iter->started)
        return IDM_FAIL(IDM_ERR_STATE, "filters must be set before the first idm_audit_iter_next()");
    if ((int)type < IDM_OBJECT_IDENTITY || (int)type > IDM_OBJECT_CA)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'type' is %d; not an idm_object_type",
                        (int)type);
    if (id < 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'id' is %" PRId64 "; ids are >= 0", id);
    iter->filter.has_object = 1;
    iter->filter.object_type = type;
    iter->filter.object_id = id;
    return IDM_OK;
}

IDM_EXPORT int idm_audit_iter_set_time_range(idm_audit_iter_t *iter, int64_t from_ms,
                                             int64_t to_ms)
{
    CHECK_ITER(iter);
    if (iter->started)
        return IDM_FAIL(IDM_ERR_STATE, "filters must be set before the first idm_audit_iter_next()");
    if (to_ms < from_ms)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'to_ms' (%" PRId64 ") is before "
                        "'from_ms' (%" PRId64 ")", to_ms, from_ms);
    iter->filter.has_time = 1;
    iter->filter.from_ms = from_ms;
    iter->filter.to_ms = to_ms;
    return IDM_OK;
}

IDM_EXPORT int idm_audit_iter_next(idm_audit_iter_t *iter, idm_audit_event_t **out)
{
    CHECK_ITER(iter);
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    iter->started = 1;
    if (iter->pos == iter->n && !iter->done) {
        struct idm_store *s;
        int rc = idm_ctx_store(iter->ctx, &s);
        size_t cap = sizeof iter->page / sizeof iter->page[0];
        if (rc == IDM_OK)
            rc = s->ops->audit_read(s, &iter->filter, iter->after_seq, cap, iter->page, &iter->n);
        if (rc != IDM_OK)
            return idm_error_prefix(__func__, rc);
        iter->pos = 0;
        iter->done = iter->n < cap;
        if (iter->n > 0)
            iter->after_seq = iter->page[iter->n - 1].seq;
    }
    if (iter->pos == iter->n)
        return IDM_OK;
    /* An object type this library does not know comes from a hand edit or a
     * damaged store (verification names the event): it is reported, not
     * handed out, and the next call goes on after it. */
    const struct idm_audit_rec *r = &iter->page[iter->pos];
    if ((int)r->object_type < IDM_OBJECT_IDENTITY || (int)r->object_type > IDM_OBJECT_CA) {
        int64_t seq = r->seq;
        int type = (int)r->object_type;
        idm_audit_rec_clear(&iter->page[iter->pos]);
        iter->pos++;
        return IDM_FAIL(IDM_ERR_STORE, "audit event %" PRId64 " is damaged in the store: object "
                        "type %d is not an idm_object_type", seq, type);
    }
    idm_audit_event_t *e = calloc(1, sizeof *e);
    if (e == NULL)
        return IDM_FAIL(IDM_ERR_NO_MEMORY, "cannot allocate an audit event");
    e->magic = IDM_MAGIC_AUDIT_EVENT;
    /* Hand the record over; the page slot gives up its strings. */
    e->rec = iter->page[iter->pos];
    memset(&iter->page[iter->pos], 0, sizeof iter->page[iter->pos]);
    iter->pos++;
    *out = e;
    return IDM_OK;
}

IDM_EXPORT void idm_audit_iter_free(idm_audit_iter_t **iter)
{
    if (!IDM_LIVE_HANDLE(iter, IDM_MAGIC_AUDIT_ITER))
        return;
    for (size_t i = 0; i < (*iter)->n; i++)
        idm_audit_rec_clear(&(*iter)->page[i]);
    idm_handle_kill(*iter);
    free(*iter);
    *iter = NULL;
}

IDM_EXPORT void idm_audit_event_free(idm_audit_event_t **event)
{
    if (!IDM_LIVE_HANDLE(event, IDM_MAGIC_AUDIT_EVENT))
        return;
    idm_audit_rec_clear(&(*event)->rec);
    idm_handle_kill(*event);
    free(*event);
    *event = NULL;
}

IDM_EXPORT int idm_audit_event_get_seq(const idm_audit_event_t *event, int64_t *seq,
                                       int64_t *time_ms)
{
    CHECK_EVENT(event);
    if (seq != NULL)
        *seq = event->rec.seq;
    if (time_ms != NULL)
        *time_ms = event->rec.time_ms;
    return IDM_OK;
}

IDM_EXPORT int idm_audit_event_get_actor(const idm_audit_event_t *event, const char **out)
{
    CHECK_EVENT(event);
    IDM_CHECK_NOT_NULL(out);
    *out = event->rec.actor;
    return IDM_OK;
}

IDM_EXPORT int idm_audit_event_get_object(const idm_audit_event_t *event, idm_object_type *type,
                                          int64_t *id)
{
    CHECK_EVENT(event);
    if (type != NULL)
        *type = event->rec.object_type;
    if (id != NULL)
        *id = event->rec.object_id;
    return IDM_OK;
}

IDM_EXPORT int idm_audit_event_get_states(const idm_audit_event_t *event, const char **from,
                                          const char **to)
{
    CHECK_EVENT(event);
    if (from != NULL)
        *from = event->rec.from_state;
    if (to != NULL)
        *to = event->rec.to_state;
    return IDM_OK;
}

IDM_EXPORT int idm_audit_event_get_detail(const idm_audit_event_t *event, const char **out)
{
    CHECK_EVENT(event);
    IDM_CHECK_NOT_NULL(out);
    *out = event->rec.detail;
    return IDM_OK;
}
