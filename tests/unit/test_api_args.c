/*
 * Every public function, called with NULL and with garbage: each must answer
 * with an error code and a message naming the function and the argument,
 * never crash.  tests/scripts/check-arg-coverage.sh fails when a symbol of
 * src/libidm.map is not called in this file, so a new function cannot skip it.
 */
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

/* Memory that is not a context: zeroed, or filled with a pattern as freed or
 * uninitialised memory would be. */
static uint64_t zeroed_memory[64];
static uint64_t patterned_memory[64];

static void *garbage(int which)
{
    memset(zeroed_memory, 0, sizeof zeroed_memory);
    memset(patterned_memory, 0xa5, sizeof patterned_memory);
    return which == 0 ? (void *)zeroed_memory : (void *)patterned_memory;
}

static idm_ctx_t *garbage_ctx(int which)
{
    return garbage(which);
}

static void log_sink(idm_log_level level, const char *component, const char *message,
                     void *user_data)
{
    (void)level;
    (void)component;
    (void)message;
    (void)user_data;
}

static int64_t clock_source(void *user_data)
{
    (void)user_data;
    return 0;
}

static int random_source(void *buf, size_t len, void *user_data)
{
    (void)user_data;
    memset(buf, 1, len);
    return 0;
}

/* One entry per context function: how to call it with a given context. */
struct ctx_call {
    const char *name;
    int (*call)(idm_ctx_t *ctx);
};

static int call_set_log_callback(idm_ctx_t *ctx)
{
    return idm_ctx_set_log_callback(ctx, log_sink, NULL);
}
static int call_set_log_level(idm_ctx_t *ctx)
{
    return idm_ctx_set_log_level(ctx, IDM_LOG_DEBUG);
}
static int call_set_clock(idm_ctx_t *ctx)
{
    return idm_ctx_set_clock(ctx, clock_source, NULL);
}
static int call_set_random(idm_ctx_t *ctx)
{
    return idm_ctx_set_random(ctx, random_source, NULL);
}
static int call_now(idm_ctx_t *ctx)
{
    int64_t now;
    return idm_ctx_now(ctx, &now);
}
static int call_random_bytes(idm_ctx_t *ctx)
{
    unsigned char buf[4];
    return idm_ctx_random_bytes(ctx, buf, sizeof buf);
}

static const struct ctx_call ctx_calls[] = {
    {"idm_ctx_set_log_callback", call_set_log_callback},
    {"idm_ctx_set_log_level", call_set_log_level},
    {"idm_ctx_set_clock", call_set_clock},
    {"idm_ctx_set_random", call_set_random},
    {"idm_ctx_now", call_now},
    {"idm_ctx_random_bytes", call_random_bytes},
};
#define N_CTX_CALLS (sizeof ctx_calls / sizeof ctx_calls[0])

START_TEST(test_ctx_functions_refuse_null_ctx)
{
    const struct ctx_call *c = &ctx_calls[_i];
    ck_assert_idm_error(c->call(NULL), IDM_ERR_INVALID_ARG, c->name);
    ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "'ctx' is NULL"));
}
END_TEST

START_TEST(test_ctx_functions_refuse_garbage_ctx)
{
    const struct ctx_call *c = &ctx_calls[_i];
    for (int which = 0; which < 2; which++) {
        ck_assert_idm_error(c->call(garbage_ctx(which)), IDM_ERR_INVALID_ARG, c->name);
        ck_assert_ptr_nonnull(strstr(idm_last_error_message(), "not point to a live idm_ctx_t"));
    }
}
END_TEST

START_TEST(test_ctx_functions_accept_a_valid_ctx)
{
    const struct ctx_call *c = &ctx_calls[_i];
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_int_eq(c->call(ctx), IDM_OK);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_ctx_new_refuses_null_out)
{
    ck_assert_idm_error(idm_ctx_new(NULL), IDM_ERR_INVALID_ARG, "idm_ctx_new: argument 'out' is NULL");
}
END_TEST

START_TEST(test_ctx_free_accepts_null)
{
    idm_ctx_t *ctx = NULL;
    idm_ctx_free(NULL);
    idm_ctx_free(&ctx);
    ck_assert_ptr_null(ctx);
}
END_TEST

START_TEST(test_ctx_free_leaves_garbage_alone)
{
    for (int which = 0; which < 2; which++) {
        idm_ctx_t *not_a_ctx = garbage_ctx(which);
        idm_ctx_free(&not_a_ctx); /* must not hand it to free() */
        ck_assert_ptr_eq(not_a_ctx, garbage_ctx(which));
    }
}
END_TEST

START_TEST(test_set_log_level_refuses_out_of_range_levels)
{
    const int bad[] = {-1, 4, 99, INT_MIN, INT_MAX};
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char value[32];
        snprintf(value, sizeof value, "'level' is %d", bad[i]);
        ck_assert_idm_error(idm_ctx_set_log_level(ctx, (idm_log_level)bad[i]),
                            IDM_ERR_INVALID_ARG, value);
    }
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_now_refuses_null_out)
{
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_idm_error(idm_ctx_now(ctx, NULL), IDM_ERR_INVALID_ARG, "'out_ms' is NULL");
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_random_bytes_refuses_null_buffer)
{
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_idm_error(idm_ctx_random_bytes(ctx, NULL, 16), IDM_ERR_INVALID_ARG, "'buf' is NULL");
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_setters_accept_null_callbacks)
{
    idm_ctx_t *ctx = NULL;
    ck_assert_int_eq(idm_ctx_new(&ctx), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_log_callback(ctx, NULL, NULL), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_clock(ctx, NULL, NULL), IDM_OK);
    ck_assert_int_eq(idm_ctx_set_random(ctx, NULL, NULL), IDM_OK);
    idm_ctx_free(&ctx);
}
END_TEST

START_TEST(test_string_functions_never_return_null)
{
    const int codes[] = {INT_MIN, -18, -1, 0, 1, INT_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        ck_assert_ptr_nonnull(idm_strerror(codes[i]));
        ck_assert_ptr_nonnull(idm_strerror_name(codes[i]));
        ck_assert_ptr_nonnull(idm_log_level_name((idm_log_level)codes[i]));
    }
    ck_assert_ptr_nonnull(idm_last_error_message());
    ck_assert_ptr_nonnull(idm_version_string());
}
END_TEST

START_TEST(test_version_matches_the_headers)
{
    ck_assert_uint_eq(idm_version(), IDM_VERSION_NUMBER);
    ck_assert_str_eq(idm_version_string(), IDM_VERSION_STRING);
    ck_assert_uint_eq(idm_version() >> 16, IDM_VERSION_MAJOR);
    ck_assert_uint_eq((idm_version() >> 8) & 0xff, IDM_VERSION_MINOR);
    ck_assert_uint_eq(idm_version() & 0xff, IDM_VERSION_PATCH);
}
END_TEST

/* ======================================================================
 * Every other export.  The tables below hold one small thunk per function,
 * so each test states a rule once and applies it to every function the
 * rule concerns.
 * ====================================================================== */

#define ACTOR "admin:alice"
#define CSV_TEXT "givenName,surname\nGrace,Hopper\n"

#define ck_assert_message_mentions(needle)                                            \
    ck_assert_msg(strstr(idm_last_error_message(), (needle)) != NULL,                 \
                  "error message \"%s\" does not mention \"%s\"",                     \
                  idm_last_error_message(), (needle))

#define ck_assert_idm_ok(call)                                                        \
    ck_assert_msg((call) == IDM_OK, "%s failed: %s", #call, idm_last_error_message())

/* The handle types.  Every kind before K_CERT_REQUEST has a live handle in a
 * world, and a destructor; a certificate request exists only while a CA
 * backend's issue method runs, so only NULL, garbage and wrongly typed
 * request handles are tried.  The world's encoder is the built-in PC/SC one:
 * it talks to pcscd only when a personalization gets past its checks, which
 * none here does.  The world's station works the world's order, which has
 * no card: no step gets as far as the encoder.  The world's producer is the
 * built-in spool producer and its notifier the built-in maildir notifier,
 * each on a folder of its own; its external production desk uses both, on
 * a store where external production is off (the default).  The world's
 * layout is parsed, never rendered here but once (rendering loads fonts);
 * its printer is a host printer whose print method must never run: no
 * card reaches a produce step, so nothing is printed. */
enum handle_kind {
    K_NONE,
    K_CTX,
    K_IDENTITY,
    K_IDENTITY_ITER,
    K_CARD,
    K_CARD_ITER,
    K_CERT_ITER,
    K_ORDER,
    K_ORDER_ITER,
    K_AUDIT_ITER,
    K_EVENT,
    K_CERT,
    K_BUFFER,
    K_CA,
    K_ENCODER,
    K_PRINTER, /* before the station, which borrows it: freed after it */
    K_LAYOUT,
    K_STATION,
    K_PRODUCER,
    K_NOTIFIER,
    K_EXTERNAL,
    K_CERT_REQUEST,
    N_KINDS
};
#define FIRST_KIND K_CTX
#define FIRST_KIND_WITHOUT_LIVE_HANDLE K_CERT_REQUEST
#define N_DESTRUCTORS (FIRST_KIND_WITHOUT_LIVE_HANDLE - FIRST_KIND)

/* The destructors, each called with the address of a copy of h (or with
 * NULL); they return what is left in the copy. */
static void *free_ctx(void *h, int null_address)
{
    idm_ctx_t *p = h;
    idm_ctx_free(null_address ? NULL : &p);
    return p;
}
static void *free_identity(void *h, int null_address)
{
    idm_identity_t *p = h;
    idm_identity_free(null_address ? NULL : &p);
    return p;
}
static void *free_identity_iter(void *h, int null_address)
{
    idm_identity_iter_t *p = h;
    idm_identity_iter_free(null_address ? NULL : &p);
    return p;
}
static void *free_card(void *h, int null_address)
{
    idm_card_t *p = h;
    idm_card_free(null_address ? NULL : &p);
    return p;
}
static void *free_card_iter(void *h, int null_address)
{
    idm_card_iter_t *p = h;
    idm_card_iter_free(null_address ? NULL : &p);
    return p;
}
static void *free_cert_iter(void *h, int null_address)
{
    idm_cert_iter_t *p = h;
    idm_cert_iter_free(null_address ? NULL : &p);
    return p;
}
static void *free_order(void *h, int null_address)
{
    idm_order_t *p = h;
    idm_order_free(null_address ? NULL : &p);
    return p;
}
static void *free_order_iter(void *h, int null_address)
{
    idm_order_iter_t *p = h;
    idm_order_iter_free(null_address ? NULL : &p);
    return p;
}
static void *free_audit_iter(void *h, int null_address)
{
    idm_audit_iter_t *p = h;
    idm_audit_iter_free(null_address ? NULL : &p);
    return p;
}
static void *free_event(void *h, int null_address)
{
    idm_audit_event_t *p = h;
    idm_audit_event_free(null_address ? NULL : &p);
    return p;
}
static void *free_cert(void *h, int null_address)
{
    idm_cert_t *p = h;
    idm_cert_free(null_address ? NULL : &p);
    return p;
}
static void *free_buffer(void *h, int null_address)
{
    idm_buffer_t *p = h;
    idm_buffer_free(null_address ? NULL : &p);
    return p;
}
static void *free_ca(void *h, int null_address)
{
    idm_ca_t *p = h;
    idm_ca_free(null_address ? NULL : &p);
    return p;
}
static void *free_encoder(void *h, int null_address)
{
    idm_encoder_t *p = h;
    idm_encoder_free(null_address ? NULL : &p);
    return p;
}
static void *free_printer(void *h, int null_address)
{
    idm_printer_t *p = h;
    idm_printer_free(null_address ? NULL : &p);
    return p;
}
static void *free_layout(void *h, int null_address)
{
    idm_layout_t *p = h;
    idm_layout_free(null_address ? NULL : &p);
    return p;
}
static void *free_station(void *h, int null_address)
{
    idm_station_t *p = h;
    idm_station_free(null_address ? NULL : &p);
    return p;
}
static void *free_producer(void *h, int null_address)
{
    idm_producer_t *p = h;
    idm_producer_free(null_address ? NULL : &p);
    return p;
}
static void *free_notifier(void *h, int null_address)
{
    idm_notifier_t *p = h;
    idm_notifier_free(null_address ? NULL : &p);
    return p;
}
static void *free_external(void *h, int null_address)
{
    idm_external_t *p = h;
    idm_external_free(null_address ? NULL : &p);
    return p;
}

struct kind_info {
    const char *type;      /* as the "does not point to a live ..." message names it */
    const char *arg;       /* the name functions give an argument of this type */
    const char *free_name; /* its destructor */
    void *(*free)(void *h, int null_address);
};

static const struct kind_info kinds[N_KINDS] = {
    [K_CTX] = {"idm_ctx_t", "ctx", "idm_ctx_free", free_ctx},
    [K_IDENTITY] = {"idm_identity_t", "identity", "idm_identity_free", free_identity},
    [K_IDENTITY_ITER] = {"idm_identity_iter_t", "iter", "idm_identity_iter_free",
                         free_identity_iter},
    [K_CARD] = {"idm_card_t", "card", "idm_card_free", free_card},
    [K_CARD_ITER] = {"idm_card_iter_t", "iter", "idm_card_iter_free", free_card_iter},
    [K_CERT_ITER] = {"idm_cert_iter_t", "iter", "idm_cert_iter_free", free_cert_iter},
    [K_ORDER] = {"idm_order_t", "order", "idm_order_free", free_order},
    [K_ORDER_ITER] = {"idm_order_iter_t", "iter", "idm_order_iter_free", free_order_iter},
    [K_AUDIT_ITER] = {"idm_audit_iter_t", "iter", "idm_audit_iter_free", free_audit_iter},
    [K_EVENT] = {"idm_audit_event_t", "event", "idm_audit_event_free", free_event},
    [K_CERT] = {"idm_cert_t", "cert", "idm_cert_free", free_cert},
    [K_BUFFER] = {"idm_buffer_t", "buffer", "idm_buffer_free", free_buffer},
    [K_CA] = {"idm_ca_t", "ca", "idm_ca_free", free_ca},
    [K_ENCODER] = {"idm_encoder_t", "encoder", "idm_encoder_free", free_encoder},
    [K_PRINTER] = {"idm_printer_t", "printer", "idm_printer_free", free_printer},
    [K_LAYOUT] = {"idm_layout_t", "layout", "idm_layout_free", free_layout},
    [K_STATION] = {"idm_station_t", "station", "idm_station_free", free_station},
    [K_PRODUCER] = {"idm_producer_t", "producer", "idm_producer_free", free_producer},
    [K_NOTIFIER] = {"idm_notifier_t", "notifier", "idm_notifier_free", free_notifier},
    [K_EXTERNAL] = {"idm_external_t", "external", "idm_external_free", free_external},
    [K_CERT_REQUEST] = {"idm_cert_request_t", "request", NULL, NULL},
};

/* Where a function puts its result. */
union out_slot {
    void *handle;
    int64_t i64;
    int i;
    size_t size;
    const char *str;
    const unsigned char *bytes;
};

/* Frees a handle a call returned through out, if any. */
static void release(enum handle_kind kind, union out_slot *out)
{
    if (kind != K_NONE && out->handle != NULL)
        kinds[kind].free(out->handle, 0);
    memset(out, 0, sizeof *out);
}

/* A context on ":memory:" with one live object of each kind, a context
 * without a store, a host CA with only the required methods and a host
 * encoder without the Digital ID methods.  The station is opened on the
 * order with the built-in encoder and CA; the spool producer and the
 * maildir notifier each have a fresh folder, removed with the world. */
struct world {
    idm_ctx_t *bare;     /* idm_ctx_new() only */
    void *live[N_KINDS]; /* live[K_CTX] is the context with the store */
    idm_ca_t *host_ca;   /* idm_ca_new() with issue and revoke only */
    idm_encoder_t *host_encoder; /* idm_encoder_new() without generate_key and sign */
    int64_t identity_id, card_id, order_id;
    char card_number[64];
    char spool_dir[512]; /* the producer's spool directory */
    char maildir[512];   /* the notifier's maildir */
};

/* The world's notifier's sender. */
#define MAIL_FROM "cards@corp.example"

/* An EC P-256 SubjectPublicKeyInfo (the curve's generator as the key). */
static const unsigned char p256_spki[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
    0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    /* x */
    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4,
    0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45,
    0xd8, 0x98, 0xc2, 0x96,
    /* y */
    0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f,
    0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68,
    0x37, 0xbf, 0x51, 0xf5};

/* A host CA that is never asked: the calls under test refuse before. */
static int host_issue(const idm_cert_request_t *request, idm_buffer_t *certificate,
                      void *user_data)
{
    (void)request;
    (void)certificate;
    (void)user_data;
    return 1;
}
static int host_revoke(const char *serial, idm_revocation_reason reason, int64_t time_ms,
                       void *user_data)
{
    (void)serial;
    (void)reason;
    (void)time_ms;
    (void)user_data;
    return 1;
}
static const idm_ca_ops host_ops = {
    .version = IDM_CA_OPS_VERSION,
    .size = sizeof(idm_ca_ops),
    .issue = host_issue,
    .revoke = host_revoke,
};

/* A host encoder whose methods only count their calls: every
 * personalization here must be refused before the encoder is used. */
static int host_encoder_calls;
static int enc_open(int timeout_ms, void *user_data)
{
    (void)timeout_ms;
    (void)user_data;
    host_encoder_calls++;
    return 0;
}
static int enc_card_serial(char *serial, size_t size, void *user_data)
{
    (void)serial;
    (void)size;
    (void)user_data;
    host_encoder_calls++;
    return 0;
}
static int enc_write_certificate(idm_piv_slot slot, const unsigned char *der, size_t len,
                                 void *user_data)
{
    (void)slot;
    (void)der;
    (void)len;
    (void)user_data;
    host_encoder_calls++;
    return 0;
}
static int enc_write_object(idm_piv_object object, const unsigned char *value, size_t len,
                            void *user_data)
{
    (void)object;
    (void)value;
    (void)len;
    (void)user_data;
    host_encoder_calls++;
    return 0;
}
static int enc_read_object(idm_piv_object object, idm_buffer_t *value, void *user_data)
{
    (void)object;
    (void)value;
    (void)user_data;
    host_encoder_calls++;
    return 0;
}
static int enc_set_pin(const char *pin, const char *puk, void *user_data)
{
    (void)pin;
    (void)puk;
    (void)user_data;
    host_encoder_calls++;
    return 0;
}
static int enc_verify_pin(const char *pin, void *user_data)
{
    (void)pin;
    (void)user_data;
    host_encoder_calls++;
    return 0;
}
static int enc_close(int success, void *user_data)
{
    (void)success;
    (void)user_data;
    host_encoder_calls++;
    return 0;
}
/* generate_key and sign are left out: a Physical ID encoder. */
static const idm_encoder_ops host_encoder_ops = {
    .version = IDM_ENCODER_OPS_VERSION,
    .size = sizeof(idm_encoder_ops),
    .open = enc_open,
    .card_serial = enc_card_serial,
    .write_certificate = enc_write_certificate,
    .write_object = enc_write_object,
    .read_object = enc_read_object,
    .set_pin = enc_set_pin,
    .verify_pin = enc_verify_pin,
    .close = enc_close,
};

/* A host printer whose method only counts its calls: nothing here may
 * print (no CUPS runs either).  world_close() checks the count. */
static int host_printer_calls;
static int host_print(const char *job_name, const unsigned char *pdf, size_t pdf_len,
                      void *user_data)
{
    (void)job_name;
    (void)pdf;
    (void)pdf_len;
    (void)user_data;
    host_printer_calls++;
    return 0;
}
static const idm_printer_ops host_printer_ops = {
    .version = IDM_PRINTER_OPS_VERSION,
    .size = sizeof(idm_printer_ops),
    .print = host_print,
};

/* A minimal layout named name serving the card types types (a JSON list's
 * members): one text element on the front, no back. */
#define LAYOUT_JSON(name, types)                                                         \
    "{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"" name "\","             \
    "\"card_types\":[" types "],\"front\":{\"elements\":[{\"type\":\"text\","               \
    "\"text\":\"${givenName}\",\"box\":{\"x\":5,\"y\":5,\"width\":70,\"height\":10}}]}}"
/* The world's layout serves the world's order's card type. */
#define WORLD_LAYOUT_NAME "t"
#define WORLD_LAYOUT LAYOUT_JSON(WORLD_LAYOUT_NAME, "\"employee\"")

/* PIN callbacks that would accept anything; never reached here. */
static int enter_pin(const idm_card_t *card, char *pin, size_t size, void *user_data)
{
    (void)card;
    (void)user_data;
    snprintf(pin, size, "%s", "123456");
    return 0;
}
static int deliver_pin(const idm_card_t *card, const char *pin, const char *puk,
                       void *user_data)
{
    (void)card;
    (void)pin;
    (void)puk;
    (void)user_data;
    return 0;
}

/* A reader pcscd does not have: the world's built-in encoder names it, so
 * that a personalization that got past its checks by mistake would fail on
 * the reader instead of writing to a card someone put in a real one. */
#define NO_SUCH_READER "libidm test_api_args: no such reader"

/* Supplies the NUL-terminated passphrase user_data points to. */
static int passphrase_from(char *buf, size_t size, void *user_data)
{
    const char *passphrase = user_data;
    size_t n = strlen(passphrase);
    if (n > size)
        return -1;
    memcpy(buf, passphrase, n);
    return (int)n;
}
#define PASSPHRASE "correct horse battery"

/* For calls that must fail on their handle before they use anything else:
 * ids and numbers that look valid, and no store anywhere. */
static struct world offline = {
    .identity_id = 1, .card_id = 1, .order_id = 1, .card_number = "00000001"};

static void world_open(struct world *w)
{
    idm_ctx_t *ctx = NULL;
    idm_identity_t *identity = NULL;
    idm_card_t *card = NULL;
    idm_order_t *order = NULL;
    idm_identity_iter_t *identities = NULL;
    idm_card_iter_t *cards = NULL;
    idm_cert_iter_t *certs = NULL;
    idm_order_iter_t *orders = NULL;
    idm_audit_iter_t *audit = NULL, *first_events = NULL;
    idm_audit_event_t *event = NULL;
    idm_buffer_t *buffer = NULL;
    idm_ca_t *ca = NULL;
    idm_card_t *room = NULL;
    idm_cert_t *cert = NULL;
    const char *number = NULL;

    memset(w, 0, sizeof *w);
    ck_assert_idm_ok(idm_ctx_new(&w->bare));
    ck_assert_idm_ok(idm_ctx_new(&ctx));
    w->live[K_CTX] = ctx;
    ck_assert_idm_ok(idm_ctx_open_store(ctx, ":memory:"));

    ck_assert_idm_ok(idm_identity_new(ctx, ACTOR, "E1", &identity));
    w->live[K_IDENTITY] = identity;
    ck_assert_idm_ok(idm_identity_set_attribute(identity, ACTOR, "givenName", "Ada"));
    ck_assert_idm_ok(idm_identity_get_id(identity, &w->identity_id));

    ck_assert_idm_ok(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL,
                                  IDM_PRODUCTION_LOCAL, w->identity_id, NULL, &card));
    w->live[K_CARD] = card;
    ck_assert_idm_ok(idm_card_get_id(card, &w->card_id));
    ck_assert_idm_ok(idm_card_get_number(card, &number));
    snprintf(w->card_number, sizeof w->card_number, "%s", number);

    ck_assert_idm_ok(idm_order_new(ctx, ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                                   IDM_CARD_PHYSICAL, "O1", &order));
    w->live[K_ORDER] = order;
    ck_assert_idm_ok(idm_order_get_id(order, &w->order_id));

    ck_assert_idm_ok(idm_identity_iter_new(ctx, &identities));
    w->live[K_IDENTITY_ITER] = identities;
    ck_assert_idm_ok(idm_card_iter_new(ctx, &cards));
    w->live[K_CARD_ITER] = cards;
    ck_assert_idm_ok(idm_cert_iter_new(ctx, w->card_id, &certs));
    w->live[K_CERT_ITER] = certs;
    ck_assert_idm_ok(idm_order_iter_new(ctx, &orders));
    w->live[K_ORDER_ITER] = orders;
    ck_assert_idm_ok(idm_audit_iter_new(ctx, &audit));
    w->live[K_AUDIT_ITER] = audit;

    ck_assert_idm_ok(idm_audit_iter_new(ctx, &first_events));
    ck_assert_idm_ok(idm_audit_iter_next(first_events, &event));
    idm_audit_iter_free(&first_events);
    ck_assert_ptr_nonnull(event);
    w->live[K_EVENT] = event;

    ck_assert_idm_ok(idm_buffer_new(&buffer));
    w->live[K_BUFFER] = buffer;
    ck_assert_idm_ok(idm_buffer_set(buffer, "abc", 3));
    ck_assert_idm_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Test CA", 30));
    w->live[K_CA] = ca;
    ck_assert_idm_ok(idm_ca_new(&w->host_ca, &host_ops, sizeof host_ops, NULL, NULL));
    idm_encoder_t *encoder = NULL;
    ck_assert_idm_ok(idm_encoder_new_pcsc(&encoder, ctx));
    w->live[K_ENCODER] = encoder;
    ck_assert_idm_ok(idm_encoder_pcsc_set_reader(encoder, NO_SUCH_READER));
    ck_assert_idm_ok(idm_encoder_set_timeout(encoder, 0));
    ck_assert_idm_ok(idm_encoder_new(&w->host_encoder, &host_encoder_ops,
                                     sizeof host_encoder_ops, NULL, NULL));
    host_encoder_calls = 0;
    idm_station_t *station = NULL;
    ck_assert_idm_ok(idm_station_open(&station, order, "Station 1", encoder, ca));
    w->live[K_STATION] = station;
    idm_layout_t *layout = NULL;
    ck_assert_idm_ok(idm_layout_new(&layout, WORLD_LAYOUT, strlen(WORLD_LAYOUT), NULL));
    w->live[K_LAYOUT] = layout;
    idm_printer_t *printer = NULL;
    ck_assert_idm_ok(idm_printer_new(&printer, &host_printer_ops, sizeof host_printer_ops, NULL,
                                     NULL));
    w->live[K_PRINTER] = printer;
    host_printer_calls = 0;

    fixture_scratch_dir("api-args-spool", w->spool_dir, sizeof w->spool_dir);
    fixture_scratch_dir("api-args-maildir", w->maildir, sizeof w->maildir);
    idm_producer_t *producer = NULL;
    ck_assert_idm_ok(idm_producer_new_spool(&producer, w->spool_dir));
    w->live[K_PRODUCER] = producer;
    idm_notifier_t *notifier = NULL;
    ck_assert_idm_ok(idm_notifier_new_maildir(&notifier, w->maildir, MAIL_FROM));
    w->live[K_NOTIFIER] = notifier;
    idm_external_t *external = NULL;
    ck_assert_idm_ok(idm_external_new(&external, ctx, producer, notifier));
    w->live[K_EXTERNAL] = external;

    /* A certificate of a non-personal card: it needs no active holder, and
     * leaves the world's card and identity as they are.  The card is made
     * active and the certificate then held by hand, so that it can be
     * released (only an active card's certificate can). */
    static const idm_card_state to_active[] = {IDM_CARD_REQUESTED, IDM_CARD_APPROVED,
                                               IDM_CARD_ISSUED, IDM_CARD_ACTIVE};
    ck_assert_idm_ok(idm_card_new(ctx, ACTOR, IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL,
                                  IDM_PRODUCTION_LOCAL, 0, "Room 1", &room));
    ck_assert_idm_ok(idm_card_issue_certificate(room, ACTOR, ca, IDM_USAGE_AUTHENTICATION,
                                                p256_spki, sizeof p256_spki, 1, &cert));
    for (size_t i = 0; i < sizeof to_active / sizeof to_active[0]; i++)
        ck_assert_idm_ok(idm_card_set_state(room, ACTOR, to_active[i], NULL));
    ck_assert_idm_ok(idm_cert_hold(cert, ACTOR, ca));
    idm_card_free(&room);
    w->live[K_CERT] = cert;
}

/* Objects first (the desk before the producer and notifier it borrows, the
 * station before its printer and layout), their context last, then the
 * folders. */
static void world_close(struct world *w)
{
    ck_assert_msg(host_printer_calls == 0, "the world's printer was asked to print %d time(s)",
                  host_printer_calls);
    for (int k = N_KINDS - 1; k > K_CTX; k--) {
        if (w->live[k] != NULL)
            kinds[k].free(w->live[k], 0);
    }
    if (w->host_ca != NULL)
        idm_ca_free(&w->host_ca);
    if (w->host_encoder != NULL)
        idm_encoder_free(&w->host_encoder);
    if (w->live[K_CTX] != NULL)
        kinds[K_CTX].free(w->live[K_CTX], 0);
    if (w->bare != NULL)
        idm_ctx_free(&w->bare);
    fixture_remove_tree(w->spool_dir);
    fixture_remove_tree(w->maildir);
    memset(w, 0, sizeof *w);
}

/* Hands a live handle over to the caller; for a context, the bare one,
 * which owns no objects. */
static void *world_take(struct world *w, enum handle_kind kind)
{
    void **slot = kind == K_CTX ? (void **)&w->bare : &w->live[kind];
    void *h = *slot;
    *slot = NULL;
    return h;
}

/* ---- one thunk per function that takes a handle ----------------------- */

/* A call's arguments: the handle under test and its kind, an actor for
 * functions that take one, and the out argument (NULL to see it refused or
 * accepted).  Every other argument is valid. */
struct call_args {
    struct world *w;
    void *h;
    enum handle_kind kind;
    const char *actor;
    void *out;
};

/* For functions with several handle arguments: the handle under test for
 * the argument of its kind, the world's live ones for the others. */
static void *handle(const struct call_args *a, enum handle_kind kind)
{
    return kind == a->kind ? a->h : a->w->live[kind];
}

static const unsigned char not_der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
static const char not_pem[] = "-----BEGIN NOTHING-----\n";

static int api_open_store(const struct call_args *a)
{
    return idm_ctx_open_store(a->h, ":memory:");
}
static int api_options_get_bool(const struct call_args *a)
{
    return idm_options_get_bool(a->h, "request_approval", a->out);
}
static int api_options_get_int(const struct call_args *a)
{
    return idm_options_get_int(a->h, "pin_length", a->out);
}
static int api_options_get_string(const struct call_args *a)
{
    return idm_options_get_string(a->h, "pin_source", a->out);
}
static int api_options_set_bool(const struct call_args *a)
{
    return idm_options_set_bool(a->h, a->actor, "queue_orders", 1);
}
static int api_options_set_int(const struct call_args *a)
{
    return idm_options_set_int(a->h, a->actor, "pin_length", 4);
}
static int api_options_set_string(const struct call_args *a)
{
    return idm_options_set_string(a->h, a->actor, "pin_delivery", "print");
}
static int api_options_reset(const struct call_args *a)
{
    return idm_options_reset(a->h, a->actor, "pin_length");
}
static int api_options_get_version(const struct call_args *a)
{
    return idm_options_get_version(a->h, a->out);
}
static int api_identity_new(const struct call_args *a)
{
    return idm_identity_new(a->h, a->actor, NULL, a->out);
}
static int api_identity_open(const struct call_args *a)
{
    return idm_identity_open(a->h, a->w->identity_id, a->out);
}
static int api_identity_open_external(const struct call_args *a)
{
    return idm_identity_open_external(a->h, "E1", a->out);
}
static int api_identity_import_csv(const struct call_args *a)
{
    /* An empty file: past the checks, the import refuses it. */
    return idm_identity_import_csv(a->h, a->actor, "/dev/null", NULL, IDM_IDENTITY_REGISTERED,
                                   a->out);
}
static int api_identity_import_csv_data(const struct call_args *a)
{
    return idm_identity_import_csv_data(a->h, a->actor, CSV_TEXT, strlen(CSV_TEXT), NULL,
                                        IDM_IDENTITY_REGISTERED, a->out);
}
static int api_identity_iter_new(const struct call_args *a)
{
    return idm_identity_iter_new(a->h, a->out);
}
static int api_card_new(const struct call_args *a)
{
    return idm_card_new(a->h, a->actor, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL,
                        IDM_PRODUCTION_LOCAL, a->w->identity_id, NULL, a->out);
}
static int api_card_open(const struct call_args *a)
{
    return idm_card_open(a->h, a->w->card_id, a->out);
}
static int api_card_open_number(const struct call_args *a)
{
    return idm_card_open_number(a->h, a->w->card_number, a->out);
}
static int api_card_iter_new(const struct call_args *a)
{
    return idm_card_iter_new(a->h, a->out);
}
/* Id 1 is the world's certificate. */
static int api_cert_open(const struct call_args *a)
{
    return idm_cert_open(a->h, 1, a->out);
}
static int api_cert_open_serial(const struct call_args *a)
{
    return idm_cert_open_serial(a->h, "01", a->out);
}
static int api_cert_iter_new(const struct call_args *a)
{
    return idm_cert_iter_new(a->h, a->w->card_id, a->out);
}
static int api_order_new(const struct call_args *a)
{
    return idm_order_new(a->h, a->actor, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                         IDM_CARD_PHYSICAL, NULL, a->out);
}
static int api_order_open(const struct call_args *a)
{
    return idm_order_open(a->h, a->w->order_id, a->out);
}
static int api_order_open_external(const struct call_args *a)
{
    return idm_order_open_external(a->h, "O1", a->out);
}
static int api_order_iter_new(const struct call_args *a)
{
    return idm_order_iter_new(a->h, a->out);
}
static int api_audit_verify(const struct call_args *a)
{
    return idm_audit_verify(a->h, a->out);
}
static int api_audit_iter_new(const struct call_args *a)
{
    return idm_audit_iter_new(a->h, a->out);
}

static int api_identity_refresh(const struct call_args *a)
{
    return idm_identity_refresh(a->h);
}
static int api_identity_get_id(const struct call_args *a)
{
    return idm_identity_get_id(a->h, a->out);
}
static int api_identity_get_external_id(const struct call_args *a)
{
    return idm_identity_get_external_id(a->h, a->out);
}
static int api_identity_get_state(const struct call_args *a)
{
    return idm_identity_get_state(a->h, a->out);
}
static int api_identity_set_state(const struct call_args *a)
{
    return idm_identity_set_state(a->h, a->actor, IDM_IDENTITY_ACTIVE);
}
static int api_identity_set_attribute(const struct call_args *a)
{
    return idm_identity_set_attribute(a->h, a->actor, "surname", "Lovelace");
}
static int api_identity_get_attribute(const struct call_args *a)
{
    return idm_identity_get_attribute(a->h, "givenName", a->out);
}
static int api_identity_get_attribute_count(const struct call_args *a)
{
    return idm_identity_get_attribute_count(a->h, a->out);
}
static int api_identity_get_attribute_at(const struct call_args *a)
{
    return idm_identity_get_attribute_at(a->h, 0, a->out, NULL);
}
static int api_identity_get_common_name(const struct call_args *a)
{
    return idm_identity_get_common_name(a->h, a->out);
}
static int api_identity_get_upn(const struct call_args *a)
{
    return idm_identity_get_upn(a->h, a->out);
}
static int api_identity_set_common_name(const struct call_args *a)
{
    return idm_identity_set_common_name(a->h, a->actor, "Ada Lovelace");
}
static int api_identity_set_upn(const struct call_args *a)
{
    return idm_identity_set_upn(a->h, a->actor, "ada@corp.example");
}
static int api_identity_iter_set_state(const struct call_args *a)
{
    return idm_identity_iter_set_state(a->h, IDM_IDENTITY_ACTIVE);
}
static int api_identity_iter_next(const struct call_args *a)
{
    return idm_identity_iter_next(a->h, a->out);
}

static int api_card_refresh(const struct call_args *a)
{
    return idm_card_refresh(a->h);
}
static int api_card_get_id(const struct call_args *a)
{
    return idm_card_get_id(a->h, a->out);
}
static int api_card_get_number(const struct call_args *a)
{
    return idm_card_get_number(a->h, a->out);
}
static int api_card_get_type(const struct call_args *a)
{
    return idm_card_get_type(a->h, a->out);
}
static int api_card_get_option(const struct call_args *a)
{
    return idm_card_get_option(a->h, a->out);
}
static int api_card_get_production(const struct call_args *a)
{
    return idm_card_get_production(a->h, a->out);
}
static int api_card_get_state(const struct call_args *a)
{
    return idm_card_get_state(a->h, a->out);
}
static int api_card_get_identity_id(const struct call_args *a)
{
    return idm_card_get_identity_id(a->h, a->out);
}
static int api_card_get_name(const struct call_args *a)
{
    return idm_card_get_name(a->h, a->out);
}
static int api_card_get_chip_serial(const struct call_args *a)
{
    return idm_card_get_chip_serial(a->h, a->out);
}
static int api_card_get_order_id(const struct call_args *a)
{
    return idm_card_get_order_id(a->h, a->out);
}
static int api_card_set_chip_serial(const struct call_args *a)
{
    return idm_card_set_chip_serial(a->h, a->actor, "CHIP-0001");
}
static int api_card_set_state(const struct call_args *a)
{
    return idm_card_set_state(a->h, a->actor, IDM_CARD_REQUESTED, NULL);
}
static int api_card_add_certificate(const struct call_args *a)
{
    /* Not a certificate: past the checks, the DER parser refuses it. */
    return idm_card_add_certificate(a->h, a->actor, not_der, sizeof not_der, a->out);
}
static int api_card_iter_set_state(const struct call_args *a)
{
    return idm_card_iter_set_state(a->h, IDM_CARD_REQUESTED);
}
static int api_card_iter_set_type(const struct call_args *a)
{
    return idm_card_iter_set_type(a->h, IDM_CARD_EMPLOYEE);
}
static int api_card_iter_set_order(const struct call_args *a)
{
    return idm_card_iter_set_order(a->h, a->w->order_id);
}
static int api_card_iter_set_identity(const struct call_args *a)
{
    return idm_card_iter_set_identity(a->h, a->w->identity_id);
}
static int api_card_iter_next(const struct call_args *a)
{
    return idm_card_iter_next(a->h, a->out);
}

static int api_cert_get_id(const struct call_args *a)
{
    return idm_cert_get_id(a->h, a->out);
}
static int api_cert_get_card_id(const struct call_args *a)
{
    return idm_cert_get_card_id(a->h, a->out);
}
static int api_cert_get_serial(const struct call_args *a)
{
    return idm_cert_get_serial(a->h, a->out);
}
static int api_cert_get_der(const struct call_args *a)
{
    size_t len;
    return idm_cert_get_der(a->h, a->out, &len);
}
static int api_cert_get_validity(const struct call_args *a)
{
    return idm_cert_get_validity(a->h, a->out, NULL);
}
static int api_cert_get_state(const struct call_args *a)
{
    return idm_cert_get_state(a->h, a->out);
}
static int api_cert_iter_next(const struct call_args *a)
{
    return idm_cert_iter_next(a->h, a->out);
}

static int api_order_refresh(const struct call_args *a)
{
    return idm_order_refresh(a->h);
}
static int api_order_get_id(const struct call_args *a)
{
    return idm_order_get_id(a->h, a->out);
}
static int api_order_get_external_id(const struct call_args *a)
{
    return idm_order_get_external_id(a->h, a->out);
}
static int api_order_get_kind(const struct call_args *a)
{
    return idm_order_get_kind(a->h, a->out);
}
static int api_order_get_card_kind(const struct call_args *a)
{
    return idm_order_get_card_kind(a->h, a->out, NULL);
}
static int api_order_get_state(const struct call_args *a)
{
    return idm_order_get_state(a->h, a->out);
}
static int api_order_get_options_version(const struct call_args *a)
{
    return idm_order_get_options_version(a->h, a->out);
}
static int api_order_get_option_bool(const struct call_args *a)
{
    return idm_order_get_option_bool(a->h, "request_approval", a->out);
}
static int api_order_get_option_int(const struct call_args *a)
{
    return idm_order_get_option_int(a->h, "pin_length", a->out);
}
static int api_order_get_option_string(const struct call_args *a)
{
    return idm_order_get_option_string(a->h, "pin_source", a->out);
}
static int api_order_set_state(const struct call_args *a)
{
    return idm_order_set_state(a->h, a->actor, IDM_ORDER_RUNNING, NULL);
}
static int api_order_add_card(const struct call_args *a)
{
    return idm_order_add_card(a->h, a->actor, a->w->card_id);
}
static int api_order_iter_set_state(const struct call_args *a)
{
    return idm_order_iter_set_state(a->h, IDM_ORDER_OPEN);
}
static int api_order_iter_set_type(const struct call_args *a)
{
    return idm_order_iter_set_type(a->h, IDM_CARD_EMPLOYEE);
}
static int api_order_iter_next(const struct call_args *a)
{
    return idm_order_iter_next(a->h, a->out);
}

static int api_audit_iter_set_object(const struct call_args *a)
{
    return idm_audit_iter_set_object(a->h, IDM_OBJECT_IDENTITY, a->w->identity_id);
}
static int api_audit_iter_set_time_range(const struct call_args *a)
{
    return idm_audit_iter_set_time_range(a->h, 0, INT64_MAX);
}
static int api_audit_iter_next(const struct call_args *a)
{
    return idm_audit_iter_next(a->h, a->out);
}
static int api_event_get_seq(const struct call_args *a)
{
    return idm_audit_event_get_seq(a->h, a->out, NULL);
}
static int api_event_get_actor(const struct call_args *a)
{
    return idm_audit_event_get_actor(a->h, a->out);
}
static int api_event_get_object(const struct call_args *a)
{
    return idm_audit_event_get_object(a->h, a->out, NULL);
}
static int api_event_get_states(const struct call_args *a)
{
    return idm_audit_event_get_states(a->h, a->out, NULL);
}
static int api_event_get_detail(const struct call_args *a)
{
    return idm_audit_event_get_detail(a->h, a->out);
}

static int api_buffer_set(const struct call_args *a)
{
    return idm_buffer_set(a->h, "xyz", 3);
}
static int api_buffer_get(const struct call_args *a)
{
    size_t len;
    return idm_buffer_get(a->h, a->out, &len);
}
static int api_cert_get_usage(const struct call_args *a)
{
    return idm_cert_get_usage(a->h, a->out);
}
static int api_cert_get_revocation(const struct call_args *a)
{
    return idm_cert_get_revocation(a->h, a->out, NULL);
}
static int api_cert_request_get_public_key(const struct call_args *a)
{
    size_t len;
    return idm_cert_request_get_public_key(a->h, a->out, &len);
}
static int api_cert_request_get_subject(const struct call_args *a)
{
    return idm_cert_request_get_subject(a->h, a->out);
}
static int api_cert_request_get_names(const struct call_args *a)
{
    return idm_cert_request_get_names(a->h, a->out, NULL);
}
static int api_cert_request_get_profile(const struct call_args *a)
{
    return idm_cert_request_get_profile(a->h, a->out, NULL);
}
static int api_cert_request_get_validity(const struct call_args *a)
{
    return idm_cert_request_get_validity(a->h, a->out, NULL);
}
static int api_cert_request_get_idempotency_key(const struct call_args *a)
{
    return idm_cert_request_get_idempotency_key(a->h, a->out);
}
static int api_ca_new_openssl(const struct call_args *a)
{
    return idm_ca_new_openssl(a->out, a->h, IDM_KEY_EC_P256, "Other CA", 30);
}
static int api_ca_new_openssl_pem(const struct call_args *a)
{
    /* Not PEM: past the checks, the PEM reader refuses it. */
    return idm_ca_new_openssl_pem(a->out, a->h, not_pem, strlen(not_pem), not_pem,
                                  strlen(not_pem), NULL, NULL);
}
static int api_ca_get_certificate(const struct call_args *a)
{
    return idm_ca_get_certificate(handle(a, K_CA), handle(a, K_BUFFER));
}
static int api_ca_export_key(const struct call_args *a)
{
    return idm_ca_export_key(handle(a, K_CA), passphrase_from, PASSPHRASE, handle(a, K_BUFFER));
}
static int api_ca_generate_crl(const struct call_args *a)
{
    return idm_ca_generate_crl(handle(a, K_CA), handle(a, K_CTX), 24, handle(a, K_BUFFER));
}
static int api_card_issue_certificate(const struct call_args *a)
{
    /* The world's card has a holder that is not active: past the checks,
     * the request is refused. */
    return idm_card_issue_certificate(handle(a, K_CARD), a->actor, handle(a, K_CA),
                                      IDM_USAGE_SIGNATURE, p256_spki, sizeof p256_spki, 1,
                                      a->out);
}
static int api_cert_revoke(const struct call_args *a)
{
    return idm_cert_revoke(handle(a, K_CERT), a->actor, handle(a, K_CA),
                           IDM_REVOKE_KEY_COMPROMISE);
}
/* The world's certificate is on hold: it cannot be held again, but can be
 * released. */
static int api_cert_hold(const struct call_args *a)
{
    return idm_cert_hold(handle(a, K_CERT), a->actor, handle(a, K_CA));
}
static int api_cert_release(const struct call_args *a)
{
    return idm_cert_release(handle(a, K_CERT), a->actor, handle(a, K_CA));
}
static int api_encoder_new_pcsc(const struct call_args *a)
{
    return idm_encoder_new_pcsc(a->out, a->h);
}
static int api_encoder_set_timeout(const struct call_args *a)
{
    return idm_encoder_set_timeout(a->h, 1000);
}
static int api_encoder_set_pin_callbacks(const struct call_args *a)
{
    return idm_encoder_set_pin_callbacks(a->h, enter_pin, deliver_pin, NULL);
}
static int api_encoder_get_stats(const struct call_args *a)
{
    return idm_encoder_get_stats(a->h, a->out, NULL, NULL);
}
static int api_encoder_reset_stats(const struct call_args *a)
{
    return idm_encoder_reset_stats(a->h);
}
static int api_encoder_pcsc_list_readers(const struct call_args *a)
{
    return idm_encoder_pcsc_list_readers(a->h, a->out);
}
static int api_encoder_pcsc_set_reader(const struct call_args *a)
{
    return idm_encoder_pcsc_set_reader(a->h, NO_SUCH_READER);
}
static int api_encoder_pcsc_set_reader_index(const struct call_args *a)
{
    return idm_encoder_pcsc_set_reader_index(a->h, 0);
}
static int api_encoder_pcsc_set_card_serial(const struct call_args *a)
{
    return idm_encoder_pcsc_set_card_serial(a->h, "CHIP-0001");
}
static const unsigned char mgmt_key_24[24] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4,
                                              5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};
static int api_encoder_pcsc_set_management_key(const struct call_args *a)
{
    return idm_encoder_pcsc_set_management_key(a->h, IDM_MGMT_KEY_3DES, mgmt_key_24,
                                               sizeof mgmt_key_24);
}
static int api_encoder_pcsc_set_factory_secrets(const struct call_args *a)
{
    return idm_encoder_pcsc_set_factory_secrets(a->h, "654321", "87654321");
}
static int api_card_personalize(const struct call_args *a)
{
    /* The world's card is registered, not approved: past the checks, the
     * personalization is refused before the encoder is opened. */
    return idm_card_personalize(handle(a, K_CARD), a->actor, handle(a, K_ENCODER),
                                handle(a, K_CA), 1);
}
static int api_order_add_cards(const struct call_args *a)
{
    const int64_t ids[] = {a->w->card_id};
    return idm_order_add_cards(a->h, a->actor, ids, 1);
}
static int api_order_add_approved(const struct call_args *a)
{
    return idm_order_add_approved(a->h, a->actor, 0, a->out);
}
static int api_order_count_cards(const struct call_args *a)
{
    return idm_order_count_cards(a->h, IDM_OUTCOME_PENDING, a->out);
}
static int api_order_get_card_outcome(const struct call_args *a)
{
    /* The world's card is not in the world's order: past the checks, it is
     * not found. */
    return idm_order_get_card_outcome(a->h, a->w->card_id, a->out, NULL, NULL);
}
static int api_card_iter_set_order_outcome(const struct call_args *a)
{
    return idm_card_iter_set_order_outcome(a->h, a->w->order_id, IDM_OUTCOME_SKIPPED);
}
static int api_station_open(const struct call_args *a)
{
    return idm_station_open(a->out, handle(a, K_ORDER), "Station 2", handle(a, K_ENCODER),
                            handle(a, K_CA));
}
/* A readiness hook that is never asked: the world's order has no card. */
static int never_ready(const idm_card_t *card, char *why, size_t size, void *user_data)
{
    (void)card;
    (void)user_data;
    snprintf(why, size, "%s", "asked by mistake");
    return 1;
}
static int api_station_set_lease(const struct call_args *a)
{
    return idm_station_set_lease(a->h, 60000);
}
static int api_station_set_readiness(const struct call_args *a)
{
    return idm_station_set_readiness(a->h, never_ready, NULL);
}
static int api_station_set_group(const struct call_args *a)
{
    return idm_station_set_group(a->h, 1);
}
static int api_station_next(const struct call_args *a)
{
    /* The order has no card: past the checks, the station starts it and
     * hands out none. */
    return idm_station_next(a->h, a->actor, a->out);
}
/* Without a claimed card, the steps are out of order past their checks. */
static int api_station_issue(const struct call_args *a)
{
    return idm_station_issue(a->h, a->actor);
}
static int api_station_produce(const struct call_args *a)
{
    return idm_station_produce(a->h, a->actor);
}
static int api_station_verify(const struct call_args *a)
{
    return idm_station_verify(a->h, a->actor);
}
static int api_station_cancel(const struct call_args *a)
{
    return idm_station_cancel(a->h, a->actor, "the operator went home");
}
static int api_station_complete(const struct call_args *a)
{
    return idm_station_complete(a->h, a->actor, 1);
}
static int api_production_run(const struct call_args *a)
{
    /* No card: the run completes the order. */
    const idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
    return idm_production_run(a->h, a->actor, &hooks, sizeof hooks, NULL);
}
static int api_station_set_printer(const struct call_args *a)
{
    /* The world's layout serves the order's card type. */
    return idm_station_set_printer(handle(a, K_STATION), handle(a, K_PRINTER),
                                   handle(a, K_LAYOUT));
}
static int api_layout_get_name(const struct call_args *a)
{
    return idm_layout_get_name(a->h, a->out);
}
static int api_layout_serves(const struct call_args *a)
{
    return idm_layout_serves(a->h, IDM_CARD_CONTRACTOR, a->out);
}
static int api_layout_has_face(const struct call_args *a)
{
    return idm_layout_has_face(a->h, IDM_FACE_BACK, a->out);
}
/* The world's card's front at the lowest resolution, into the world's
 * buffer: the only rendering in this file (see RUNS_ELSEWHERE). */
static int api_layout_render(const struct call_args *a)
{
    return idm_layout_render(handle(a, K_LAYOUT), handle(a, K_CARD), IDM_RENDER_PNG,
                             IDM_FACE_FRONT, 72, handle(a, K_BUFFER));
}
static int api_card_get_shipment(const struct call_args *a)
{
    return idm_card_get_shipment(a->h, a->out);
}
static int api_card_get_requester(const struct call_args *a)
{
    return idm_card_get_requester(a->h, a->out);
}
static int api_external_new(const struct call_args *a)
{
    return idm_external_new(a->out, a->h, a->w->live[K_PRODUCER], a->w->live[K_NOTIFIER]);
}
/* External production is off in the world's store: past the checks, the
 * orders are refused. */
static int api_external_order_card(const struct call_args *a)
{
    return idm_external_order_card(a->h, a->actor, a->w->identity_id, IDM_CARD_EMPLOYEE,
                                   IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, a->out);
}
static int api_external_order_batch(const struct call_args *a)
{
    const int64_t ids[] = {a->w->identity_id};
    return idm_external_order_batch(a->h, a->actor, ids, 1, IDM_CARD_EMPLOYEE,
                                    IDM_CARD_PHYSICAL, NULL, NULL, a->out);
}
static int api_external_order_temporary(const struct call_args *a)
{
    return idm_external_order_temporary(a->h, a->actor, IDM_CARD_PHYSICAL, 1, "Temporary card",
                                        a->out);
}
/* The world's card is a registered employee card of local production: past
 * the checks, each step finds it in the wrong state (or not temporary). */
static int api_external_approve(const struct call_args *a)
{
    return idm_external_approve(handle(a, K_EXTERNAL), a->actor, handle(a, K_CARD));
}
static int api_external_reject(const struct call_args *a)
{
    return idm_external_reject(handle(a, K_EXTERNAL), a->actor, handle(a, K_CARD),
                               "not needed after all");
}
static int api_external_abort(const struct call_args *a)
{
    return idm_external_abort(handle(a, K_EXTERNAL), a->actor, handle(a, K_CARD),
                              "the holder left");
}
static int api_external_activate(const struct call_args *a)
{
    return idm_external_activate(handle(a, K_EXTERNAL), a->actor, handle(a, K_CARD),
                                 handle(a, K_ENCODER), NULL);
}
static int api_external_initialize_temporary(const struct call_args *a)
{
    return idm_external_initialize_temporary(handle(a, K_EXTERNAL), a->actor, handle(a, K_CARD),
                                             handle(a, K_ENCODER), NULL);
}
static int api_external_assign(const struct call_args *a)
{
    return idm_external_assign(handle(a, K_EXTERNAL), a->actor, handle(a, K_CARD),
                               a->w->identity_id);
}
static int api_external_withdraw(const struct call_args *a)
{
    return idm_external_withdraw(handle(a, K_EXTERNAL), a->actor, handle(a, K_CARD),
                                 "returned at the desk");
}
/* Nothing queued, an empty inbox, no notification pending: each succeeds. */
static int api_external_sync_queue(const struct call_args *a)
{
    return idm_external_sync_queue(a->h, a->actor, 100, a->out, NULL);
}
static int api_external_update(const struct call_args *a)
{
    return idm_external_update(a->h, a->actor, a->out, NULL);
}
static int api_external_flush_notifications(const struct call_args *a)
{
    return idm_external_flush_notifications(a->h, a->actor, a->out, NULL);
}

enum {
    NEEDS_STORE = 1 << 0,   /* IDM_ERR_STATE on a context without a store */
    TAKES_ACTOR = 1 << 1,   /* checks an actor argument */
    OPTIONAL_OUT = 1 << 2,  /* its out argument may be NULL */
    CHECKED_LATER = 1 << 3, /* another handle argument is checked before this one */
    ASKS_PCSCD = 1 << 4,    /* with valid arguments it asks pcscd, so it may also
                             * answer IDM_ERR_CARD (no pcscd on this machine) */
    RUNS_ELSEWHERE = 1 << 5, /* not run with valid arguments here: its thunk is
                              * slow (it renders), and one test runs it once */
};

struct api_call {
    const char *name;
    enum handle_kind kind;     /* the type of its handle argument */
    unsigned flags;
    const char *out_arg;       /* the out argument that must not be NULL, or NULL */
    enum handle_kind out_kind; /* the handle it returns through out, or K_NONE */
    int live_rc;               /* its answer with live handles and valid arguments */
    int (*call)(const struct call_args *a);
    const char *arg;           /* its handle argument's name, if not kinds[kind].arg */
};

#define STORE_ACTOR (NEEDS_STORE | TAKES_ACTOR)

static const struct api_call api_calls[] = {
    {"idm_ctx_open_store", K_CTX, 0, NULL, K_NONE, IDM_ERR_STATE, api_open_store},
    {"idm_options_get_bool", K_CTX, NEEDS_STORE, "out", K_NONE, IDM_OK, api_options_get_bool},
    {"idm_options_get_int", K_CTX, NEEDS_STORE, "out", K_NONE, IDM_OK, api_options_get_int},
    {"idm_options_get_string", K_CTX, NEEDS_STORE, "out", K_NONE, IDM_OK,
     api_options_get_string},
    {"idm_options_set_bool", K_CTX, STORE_ACTOR, NULL, K_NONE, IDM_OK, api_options_set_bool},
    {"idm_options_set_int", K_CTX, STORE_ACTOR, NULL, K_NONE, IDM_OK, api_options_set_int},
    {"idm_options_set_string", K_CTX, STORE_ACTOR, NULL, K_NONE, IDM_OK,
     api_options_set_string},
    {"idm_options_reset", K_CTX, STORE_ACTOR, NULL, K_NONE, IDM_OK, api_options_reset},
    {"idm_options_get_version", K_CTX, NEEDS_STORE, "out", K_NONE, IDM_OK,
     api_options_get_version},
    {"idm_identity_new", K_CTX, STORE_ACTOR, "out", K_IDENTITY, IDM_OK, api_identity_new},
    {"idm_identity_open", K_CTX, NEEDS_STORE, "out", K_IDENTITY, IDM_OK, api_identity_open},
    {"idm_identity_open_external", K_CTX, NEEDS_STORE, "out", K_IDENTITY, IDM_OK,
     api_identity_open_external},
    {"idm_identity_import_csv", K_CTX, STORE_ACTOR | OPTIONAL_OUT, NULL, K_NONE,
     IDM_ERR_PARSE, api_identity_import_csv},
    {"idm_identity_import_csv_data", K_CTX, STORE_ACTOR | OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_identity_import_csv_data},
    {"idm_identity_iter_new", K_CTX, NEEDS_STORE, "out", K_IDENTITY_ITER, IDM_OK,
     api_identity_iter_new},
    {"idm_card_new", K_CTX, STORE_ACTOR, "out", K_CARD, IDM_OK, api_card_new},
    {"idm_card_open", K_CTX, NEEDS_STORE, "out", K_CARD, IDM_OK, api_card_open},
    {"idm_card_open_number", K_CTX, NEEDS_STORE, "out", K_CARD, IDM_OK, api_card_open_number},
    {"idm_card_iter_new", K_CTX, NEEDS_STORE, "out", K_CARD_ITER, IDM_OK, api_card_iter_new},
    {"idm_cert_open", K_CTX, NEEDS_STORE, "out", K_CERT, IDM_OK, api_cert_open},
    {"idm_cert_open_serial", K_CTX, NEEDS_STORE, "out", K_CERT, IDM_ERR_NOT_FOUND,
     api_cert_open_serial},
    {"idm_cert_iter_new", K_CTX, NEEDS_STORE, "out", K_CERT_ITER, IDM_OK, api_cert_iter_new},
    {"idm_order_new", K_CTX, STORE_ACTOR, "out", K_ORDER, IDM_OK, api_order_new},
    {"idm_order_open", K_CTX, NEEDS_STORE, "out", K_ORDER, IDM_OK, api_order_open},
    {"idm_order_open_external", K_CTX, NEEDS_STORE, "out", K_ORDER, IDM_OK,
     api_order_open_external},
    {"idm_order_iter_new", K_CTX, NEEDS_STORE, "out", K_ORDER_ITER, IDM_OK, api_order_iter_new},
    {"idm_audit_verify", K_CTX, NEEDS_STORE | OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_audit_verify},
    {"idm_audit_iter_new", K_CTX, NEEDS_STORE, "out", K_AUDIT_ITER, IDM_OK, api_audit_iter_new},
    {"idm_ca_new_openssl", K_CTX, 0, "out", K_CA, IDM_OK, api_ca_new_openssl},
    {"idm_ca_new_openssl_pem", K_CTX, 0, "out", K_CA, IDM_ERR_PARSE, api_ca_new_openssl_pem},
    {"idm_encoder_new_pcsc", K_CTX, 0, "out", K_ENCODER, IDM_OK, api_encoder_new_pcsc},
    {"idm_ca_generate_crl", K_CTX, NEEDS_STORE | CHECKED_LATER, NULL, K_NONE, IDM_OK,
     api_ca_generate_crl},
    /* Its producer and notifier may be NULL: garbage or wrongly typed ones
     * are tried in bad_calls. */
    {"idm_external_new", K_CTX, NEEDS_STORE, "out", K_EXTERNAL, IDM_OK, api_external_new},

    {"idm_identity_refresh", K_IDENTITY, 0, NULL, K_NONE, IDM_OK, api_identity_refresh},
    {"idm_identity_get_id", K_IDENTITY, 0, "out", K_NONE, IDM_OK, api_identity_get_id},
    {"idm_identity_get_external_id", K_IDENTITY, 0, "out", K_NONE, IDM_OK,
     api_identity_get_external_id},
    {"idm_identity_get_state", K_IDENTITY, 0, "out", K_NONE, IDM_OK, api_identity_get_state},
    {"idm_identity_set_state", K_IDENTITY, TAKES_ACTOR, NULL, K_NONE, IDM_OK,
     api_identity_set_state},
    {"idm_identity_set_attribute", K_IDENTITY, TAKES_ACTOR, NULL, K_NONE, IDM_OK,
     api_identity_set_attribute},
    {"idm_identity_get_attribute", K_IDENTITY, 0, "out", K_NONE, IDM_OK,
     api_identity_get_attribute},
    {"idm_identity_get_attribute_count", K_IDENTITY, 0, "out", K_NONE, IDM_OK,
     api_identity_get_attribute_count},
    {"idm_identity_get_attribute_at", K_IDENTITY, OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_identity_get_attribute_at},
    {"idm_identity_get_common_name", K_IDENTITY, 0, "out", K_NONE, IDM_OK,
     api_identity_get_common_name},
    {"idm_identity_get_upn", K_IDENTITY, 0, "out", K_NONE, IDM_OK, api_identity_get_upn},
    {"idm_identity_set_common_name", K_IDENTITY, TAKES_ACTOR, NULL, K_NONE, IDM_OK,
     api_identity_set_common_name},
    {"idm_identity_set_upn", K_IDENTITY, TAKES_ACTOR, NULL, K_NONE, IDM_OK,
     api_identity_set_upn},
    {"idm_identity_iter_set_state", K_IDENTITY_ITER, 0, NULL, K_NONE, IDM_OK,
     api_identity_iter_set_state},
    {"idm_identity_iter_next", K_IDENTITY_ITER, 0, "out", K_IDENTITY, IDM_OK,
     api_identity_iter_next},

    {"idm_card_refresh", K_CARD, 0, NULL, K_NONE, IDM_OK, api_card_refresh},
    {"idm_card_get_id", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_id},
    {"idm_card_get_number", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_number},
    {"idm_card_get_type", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_type},
    {"idm_card_get_option", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_option},
    {"idm_card_get_production", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_production},
    {"idm_card_get_state", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_state},
    {"idm_card_get_identity_id", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_identity_id},
    {"idm_card_get_name", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_name},
    {"idm_card_get_chip_serial", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_chip_serial},
    {"idm_card_get_order_id", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_order_id},
    {"idm_card_set_chip_serial", K_CARD, TAKES_ACTOR, NULL, K_NONE, IDM_OK,
     api_card_set_chip_serial},
    {"idm_card_set_state", K_CARD, TAKES_ACTOR, NULL, K_NONE, IDM_OK, api_card_set_state},
    {"idm_card_add_certificate", K_CARD, TAKES_ACTOR | OPTIONAL_OUT, NULL, K_CERT,
     IDM_ERR_PARSE, api_card_add_certificate},
    {"idm_card_iter_set_state", K_CARD_ITER, 0, NULL, K_NONE, IDM_OK, api_card_iter_set_state},
    {"idm_card_iter_set_type", K_CARD_ITER, 0, NULL, K_NONE, IDM_OK, api_card_iter_set_type},
    {"idm_card_iter_set_order", K_CARD_ITER, 0, NULL, K_NONE, IDM_OK, api_card_iter_set_order},
    {"idm_card_iter_set_identity", K_CARD_ITER, 0, NULL, K_NONE, IDM_OK,
     api_card_iter_set_identity},
    {"idm_card_iter_next", K_CARD_ITER, 0, "out", K_CARD, IDM_OK, api_card_iter_next},
    {"idm_card_iter_set_order_outcome", K_CARD_ITER, 0, NULL, K_NONE, IDM_OK,
     api_card_iter_set_order_outcome},
    {"idm_card_issue_certificate", K_CARD, TAKES_ACTOR | OPTIONAL_OUT, NULL, K_CERT,
     IDM_ERR_STATE, api_card_issue_certificate},
    {"idm_card_personalize", K_CARD, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE,
     api_card_personalize},
    {"idm_card_get_shipment", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_shipment},
    {"idm_card_get_requester", K_CARD, 0, "out", K_NONE, IDM_OK, api_card_get_requester},
    {"idm_external_approve", K_CARD, CHECKED_LATER, NULL, K_NONE, IDM_ERR_STATE,
     api_external_approve},
    {"idm_external_reject", K_CARD, CHECKED_LATER, NULL, K_NONE, IDM_ERR_STATE,
     api_external_reject},
    {"idm_external_abort", K_CARD, CHECKED_LATER, NULL, K_NONE, IDM_ERR_STATE,
     api_external_abort},
    {"idm_external_activate", K_CARD, CHECKED_LATER, NULL, K_NONE, IDM_ERR_STATE,
     api_external_activate},
    {"idm_external_initialize_temporary", K_CARD, CHECKED_LATER, NULL, K_NONE, IDM_ERR_STATE,
     api_external_initialize_temporary},
    {"idm_external_assign", K_CARD, CHECKED_LATER, NULL, K_NONE, IDM_ERR_STATE,
     api_external_assign},
    {"idm_external_withdraw", K_CARD, CHECKED_LATER, NULL, K_NONE, IDM_ERR_STATE,
     api_external_withdraw},
    {"idm_layout_render", K_CARD, CHECKED_LATER | RUNS_ELSEWHERE, NULL, K_NONE, IDM_OK,
     api_layout_render},

    {"idm_cert_get_id", K_CERT, 0, "out", K_NONE, IDM_OK, api_cert_get_id},
    {"idm_cert_get_card_id", K_CERT, 0, "out", K_NONE, IDM_OK, api_cert_get_card_id},
    {"idm_cert_get_serial", K_CERT, 0, "out", K_NONE, IDM_OK, api_cert_get_serial},
    {"idm_cert_get_der", K_CERT, 0, "der", K_NONE, IDM_OK, api_cert_get_der},
    {"idm_cert_get_validity", K_CERT, OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_cert_get_validity},
    {"idm_cert_get_state", K_CERT, 0, "out", K_NONE, IDM_OK, api_cert_get_state},
    {"idm_cert_iter_next", K_CERT_ITER, 0, "out", K_CERT, IDM_OK, api_cert_iter_next},
    {"idm_cert_get_usage", K_CERT, 0, "out", K_NONE, IDM_OK, api_cert_get_usage},
    {"idm_cert_get_revocation", K_CERT, OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_cert_get_revocation},
    {"idm_cert_revoke", K_CERT, TAKES_ACTOR, NULL, K_NONE, IDM_OK, api_cert_revoke},
    {"idm_cert_hold", K_CERT, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE, api_cert_hold},
    {"idm_cert_release", K_CERT, TAKES_ACTOR, NULL, K_NONE, IDM_OK, api_cert_release},

    {"idm_order_refresh", K_ORDER, 0, NULL, K_NONE, IDM_OK, api_order_refresh},
    {"idm_order_get_id", K_ORDER, 0, "out", K_NONE, IDM_OK, api_order_get_id},
    {"idm_order_get_external_id", K_ORDER, 0, "out", K_NONE, IDM_OK,
     api_order_get_external_id},
    {"idm_order_get_kind", K_ORDER, 0, "out", K_NONE, IDM_OK, api_order_get_kind},
    {"idm_order_get_card_kind", K_ORDER, OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_order_get_card_kind},
    {"idm_order_get_state", K_ORDER, 0, "out", K_NONE, IDM_OK, api_order_get_state},
    {"idm_order_get_options_version", K_ORDER, 0, "out", K_NONE, IDM_OK,
     api_order_get_options_version},
    {"idm_order_get_option_bool", K_ORDER, 0, "out", K_NONE, IDM_OK,
     api_order_get_option_bool},
    {"idm_order_get_option_int", K_ORDER, 0, "out", K_NONE, IDM_OK, api_order_get_option_int},
    {"idm_order_get_option_string", K_ORDER, 0, "out", K_NONE, IDM_OK,
     api_order_get_option_string},
    {"idm_order_set_state", K_ORDER, TAKES_ACTOR, NULL, K_NONE, IDM_OK, api_order_set_state},
    {"idm_order_add_card", K_ORDER, TAKES_ACTOR, NULL, K_NONE, IDM_OK, api_order_add_card},
    {"idm_order_add_cards", K_ORDER, TAKES_ACTOR, NULL, K_NONE, IDM_OK, api_order_add_cards},
    {"idm_order_add_approved", K_ORDER, TAKES_ACTOR | OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_order_add_approved},
    {"idm_order_count_cards", K_ORDER, 0, "out", K_NONE, IDM_OK, api_order_count_cards},
    /* Its reason may be NULL: a garbage or wrongly typed one is tried in
     * bad_calls. */
    {"idm_order_get_card_outcome", K_ORDER, OPTIONAL_OUT, NULL, K_NONE, IDM_ERR_NOT_FOUND,
     api_order_get_card_outcome},
    {"idm_station_open", K_ORDER, 0, "out", K_STATION, IDM_OK, api_station_open},
    {"idm_order_iter_set_state", K_ORDER_ITER, 0, NULL, K_NONE, IDM_OK,
     api_order_iter_set_state},
    {"idm_order_iter_set_type", K_ORDER_ITER, 0, NULL, K_NONE, IDM_OK, api_order_iter_set_type},
    {"idm_order_iter_next", K_ORDER_ITER, 0, "out", K_ORDER, IDM_OK, api_order_iter_next},

    {"idm_audit_iter_set_object", K_AUDIT_ITER, 0, NULL, K_NONE, IDM_OK,
     api_audit_iter_set_object},
    {"idm_audit_iter_set_time_range", K_AUDIT_ITER, 0, NULL, K_NONE, IDM_OK,
     api_audit_iter_set_time_range},
    {"idm_audit_iter_next", K_AUDIT_ITER, 0, "out", K_EVENT, IDM_OK, api_audit_iter_next},
    {"idm_audit_event_get_seq", K_EVENT, OPTIONAL_OUT, NULL, K_NONE, IDM_OK, api_event_get_seq},
    {"idm_audit_event_get_actor", K_EVENT, 0, "out", K_NONE, IDM_OK, api_event_get_actor},
    {"idm_audit_event_get_object", K_EVENT, OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_event_get_object},
    {"idm_audit_event_get_states", K_EVENT, OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_event_get_states},
    {"idm_audit_event_get_detail", K_EVENT, 0, "out", K_NONE, IDM_OK, api_event_get_detail},

    {"idm_buffer_set", K_BUFFER, 0, NULL, K_NONE, IDM_OK, api_buffer_set},
    {"idm_buffer_get", K_BUFFER, 0, "data", K_NONE, IDM_OK, api_buffer_get},
    {"idm_ca_get_certificate", K_BUFFER, CHECKED_LATER, NULL, K_NONE, IDM_OK,
     api_ca_get_certificate, "der"},
    {"idm_ca_export_key", K_BUFFER, CHECKED_LATER, NULL, K_NONE, IDM_OK, api_ca_export_key,
     "pem"},
    {"idm_ca_generate_crl", K_BUFFER, CHECKED_LATER, NULL, K_NONE, IDM_OK, api_ca_generate_crl,
     "crl"},
    /* The buffer is checked before pcscd is asked; with a live one the
     * answer is IDM_OK, or IDM_ERR_CARD where no pcscd runs. */
    {"idm_encoder_pcsc_list_readers", K_BUFFER, OPTIONAL_OUT | ASKS_PCSCD, NULL, K_NONE, IDM_OK,
     api_encoder_pcsc_list_readers, "names"},
    {"idm_layout_render", K_BUFFER, CHECKED_LATER | RUNS_ELSEWHERE, NULL, K_NONE, IDM_OK,
     api_layout_render, "out"},

    {"idm_ca_get_certificate", K_CA, 0, NULL, K_NONE, IDM_OK, api_ca_get_certificate},
    {"idm_ca_export_key", K_CA, 0, NULL, K_NONE, IDM_OK, api_ca_export_key},
    {"idm_ca_generate_crl", K_CA, 0, NULL, K_NONE, IDM_OK, api_ca_generate_crl},
    {"idm_card_issue_certificate", K_CA, CHECKED_LATER, NULL, K_CERT, IDM_ERR_STATE,
     api_card_issue_certificate},
    {"idm_cert_revoke", K_CA, CHECKED_LATER, NULL, K_NONE, IDM_OK, api_cert_revoke},
    {"idm_cert_hold", K_CA, CHECKED_LATER, NULL, K_NONE, IDM_ERR_STATE, api_cert_hold},
    {"idm_cert_release", K_CA, CHECKED_LATER, NULL, K_NONE, IDM_OK, api_cert_release},
    /* A NULL ca is valid (Physical ID): a garbage or wrongly typed one is
     * tried in bad_calls. */

    {"idm_encoder_set_timeout", K_ENCODER, 0, NULL, K_NONE, IDM_OK, api_encoder_set_timeout},
    {"idm_encoder_set_pin_callbacks", K_ENCODER, 0, NULL, K_NONE, IDM_OK,
     api_encoder_set_pin_callbacks},
    {"idm_encoder_get_stats", K_ENCODER, OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_encoder_get_stats},
    {"idm_encoder_reset_stats", K_ENCODER, 0, NULL, K_NONE, IDM_OK, api_encoder_reset_stats},
    {"idm_encoder_pcsc_set_reader", K_ENCODER, 0, NULL, K_NONE, IDM_OK,
     api_encoder_pcsc_set_reader},
    {"idm_encoder_pcsc_set_reader_index", K_ENCODER, 0, NULL, K_NONE, IDM_OK,
     api_encoder_pcsc_set_reader_index},
    {"idm_encoder_pcsc_set_card_serial", K_ENCODER, 0, NULL, K_NONE, IDM_OK,
     api_encoder_pcsc_set_card_serial},
    {"idm_encoder_pcsc_set_management_key", K_ENCODER, 0, NULL, K_NONE, IDM_OK,
     api_encoder_pcsc_set_management_key},
    {"idm_encoder_pcsc_set_factory_secrets", K_ENCODER, 0, NULL, K_NONE, IDM_OK,
     api_encoder_pcsc_set_factory_secrets},
    {"idm_card_personalize", K_ENCODER, CHECKED_LATER, NULL, K_NONE, IDM_ERR_STATE,
     api_card_personalize},
    {"idm_station_open", K_ENCODER, CHECKED_LATER, NULL, K_STATION, IDM_OK, api_station_open},
    {"idm_external_activate", K_ENCODER, CHECKED_LATER, NULL, K_NONE, IDM_ERR_STATE,
     api_external_activate},
    {"idm_external_initialize_temporary", K_ENCODER, CHECKED_LATER, NULL, K_NONE,
     IDM_ERR_STATE, api_external_initialize_temporary},
    /* Their ca may be NULL (Physical ID): a garbage or wrongly typed one is
     * tried in bad_calls. */
    /* idm_station_open()'s ca may be NULL (Physical ID): a garbage or
     * wrongly typed one is tried in bad_calls. */

    {"idm_station_set_lease", K_STATION, 0, NULL, K_NONE, IDM_OK, api_station_set_lease},
    {"idm_station_set_readiness", K_STATION, 0, NULL, K_NONE, IDM_OK,
     api_station_set_readiness},
    {"idm_station_set_group", K_STATION, 0, NULL, K_NONE, IDM_OK, api_station_set_group},
    {"idm_station_next", K_STATION, TAKES_ACTOR, "card", K_CARD, IDM_OK, api_station_next},
    {"idm_station_issue", K_STATION, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE,
     api_station_issue},
    {"idm_station_produce", K_STATION, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE,
     api_station_produce},
    {"idm_station_verify", K_STATION, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE,
     api_station_verify},
    {"idm_station_cancel", K_STATION, TAKES_ACTOR, NULL, K_NONE, IDM_OK, api_station_cancel},
    {"idm_station_complete", K_STATION, TAKES_ACTOR, NULL, K_NONE, IDM_OK,
     api_station_complete},
    {"idm_production_run", K_STATION, TAKES_ACTOR, NULL, K_NONE, IDM_OK, api_production_run},
    {"idm_station_set_printer", K_STATION, 0, NULL, K_NONE, IDM_OK, api_station_set_printer},
    /* The layout is required with a printer; a NULL printer is valid (no
     * printing): a garbage or wrongly typed one is tried in bad_calls. */
    {"idm_station_set_printer", K_LAYOUT, CHECKED_LATER, NULL, K_NONE, IDM_OK,
     api_station_set_printer},

    {"idm_layout_get_name", K_LAYOUT, 0, "out", K_NONE, IDM_OK, api_layout_get_name},
    {"idm_layout_serves", K_LAYOUT, 0, "out", K_NONE, IDM_OK, api_layout_serves},
    {"idm_layout_has_face", K_LAYOUT, 0, "out", K_NONE, IDM_OK, api_layout_has_face},
    {"idm_layout_render", K_LAYOUT, RUNS_ELSEWHERE, NULL, K_NONE, IDM_OK, api_layout_render},
    /* No function takes a printer but idm_station_set_printer() (above). */

    /* No function takes a producer or a notifier but idm_external_new(),
     * where both may be NULL (see above). */
    {"idm_external_order_card", K_EXTERNAL, TAKES_ACTOR | OPTIONAL_OUT, NULL, K_CARD,
     IDM_ERR_DISABLED, api_external_order_card},
    {"idm_external_order_batch", K_EXTERNAL, TAKES_ACTOR | OPTIONAL_OUT, NULL, K_ORDER,
     IDM_ERR_DISABLED, api_external_order_batch},
    {"idm_external_order_temporary", K_EXTERNAL, TAKES_ACTOR | OPTIONAL_OUT, NULL, K_ORDER,
     IDM_ERR_DISABLED, api_external_order_temporary},
    {"idm_external_approve", K_EXTERNAL, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE,
     api_external_approve},
    {"idm_external_reject", K_EXTERNAL, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE,
     api_external_reject},
    {"idm_external_abort", K_EXTERNAL, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE,
     api_external_abort},
    {"idm_external_activate", K_EXTERNAL, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE,
     api_external_activate},
    {"idm_external_initialize_temporary", K_EXTERNAL, TAKES_ACTOR, NULL, K_NONE,
     IDM_ERR_STATE, api_external_initialize_temporary},
    {"idm_external_assign", K_EXTERNAL, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE,
     api_external_assign},
    {"idm_external_withdraw", K_EXTERNAL, TAKES_ACTOR, NULL, K_NONE, IDM_ERR_STATE,
     api_external_withdraw},
    {"idm_external_sync_queue", K_EXTERNAL, TAKES_ACTOR | OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_external_sync_queue},
    {"idm_external_update", K_EXTERNAL, TAKES_ACTOR | OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_external_update},
    {"idm_external_flush_notifications", K_EXTERNAL, TAKES_ACTOR | OPTIONAL_OUT, NULL, K_NONE,
     IDM_OK, api_external_flush_notifications},

    {"idm_cert_request_get_public_key", K_CERT_REQUEST, 0, "spki", K_NONE, IDM_OK,
     api_cert_request_get_public_key},
    {"idm_cert_request_get_subject", K_CERT_REQUEST, 0, "out", K_NONE, IDM_OK,
     api_cert_request_get_subject},
    {"idm_cert_request_get_names", K_CERT_REQUEST, OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_cert_request_get_names},
    {"idm_cert_request_get_profile", K_CERT_REQUEST, OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_cert_request_get_profile},
    {"idm_cert_request_get_validity", K_CERT_REQUEST, OPTIONAL_OUT, NULL, K_NONE, IDM_OK,
     api_cert_request_get_validity},
    {"idm_cert_request_get_idempotency_key", K_CERT_REQUEST, 0, "out", K_NONE, IDM_OK,
     api_cert_request_get_idempotency_key},
};
#define N_API_CALLS (sizeof api_calls / sizeof api_calls[0])

/* Calls c with handle h, an actor and (with_out) a place for its result;
 * frees any handle the call returns. */
static int run(const struct api_call *c, struct world *w, void *h, const char *actor,
               int with_out)
{
    union out_slot out;
    memset(&out, 0, sizeof out);
    const struct call_args a = {w, h, c->kind, actor, with_out ? &out : NULL};
    int rc = c->call(&a);
    release(c->out_kind, &out);
    return rc;
}

static int has_live_handle(enum handle_kind kind)
{
    return kind < FIRST_KIND_WITHOUT_LIVE_HANDLE;
}

/* Whether rc is c's answer with live handles and valid arguments. */
static int is_live_answer(const struct api_call *c, int rc)
{
    return rc == c->live_rc || ((c->flags & ASKS_PCSCD) != 0 && rc == IDM_ERR_CARD);
}

/* The entries of api_calls a rule applies to, filled when the suite is built. */
struct selection {
    int n;
    unsigned char at[N_API_CALLS];
};

static struct selection select_calls(int (*applies)(const struct api_call *c))
{
    struct selection s;
    memset(&s, 0, sizeof s);
    for (size_t i = 0; i < N_API_CALLS; i++) {
        if (applies(&api_calls[i]))
            s.at[s.n++] = (unsigned char)i;
    }
    return s;
}

static int checks_its_out(const struct api_call *c)
{
    return c->out_arg != NULL && has_live_handle(c->kind);
}
static int has_optional_out(const struct api_call *c)
{
    return (c->flags & OPTIONAL_OUT) != 0 && has_live_handle(c->kind);
}
static int needs_store(const struct api_call *c)
{
    return (c->flags & NEEDS_STORE) != 0;
}
static int takes_actor(const struct api_call *c)
{
    return (c->flags & TAKES_ACTOR) != 0;
}
static int can_run_live(const struct api_call *c)
{
    return has_live_handle(c->kind) && (c->flags & RUNS_ELSEWHERE) == 0;
}

static struct selection out_calls, optional_out_calls, store_calls, actor_calls, live_calls;

static const char *handle_arg(const struct api_call *c)
{
    return c->arg != NULL ? c->arg : kinds[c->kind].arg;
}

/* Where a call runs when its handle is refused: offline, or in w (opened
 * here) when another handle argument is checked first and must be live. */
static struct world *world_for(const struct api_call *c, struct world *w)
{
    if ((c->flags & CHECKED_LATER) == 0)
        return &offline;
    world_open(w);
    return w;
}
static void world_done(struct world *w)
{
    if (w != &offline)
        world_close(w);
}

START_TEST(test_functions_refuse_a_null_handle)
{
    const struct api_call *c = &api_calls[_i];
    char needle[64];
    snprintf(needle, sizeof needle, "'%s' is NULL", handle_arg(c));
    struct world live, *w = world_for(c, &live);
    ck_assert_idm_error(run(c, w, NULL, ACTOR, 1), IDM_ERR_INVALID_ARG, c->name);
    ck_assert_message_mentions(needle);
    world_done(w);
}
END_TEST

START_TEST(test_functions_refuse_a_garbage_handle)
{
    const struct api_call *c = &api_calls[_i];
    char needle[96];
    snprintf(needle, sizeof needle, "'%s' does not point to a live %s", handle_arg(c),
             kinds[c->kind].type);
    struct world live, *w = world_for(c, &live);
    for (int which = 0; which < 2; which++) {
        ck_assert_idm_error(run(c, w, garbage(which), ACTOR, 1), IDM_ERR_INVALID_ARG, c->name);
        ck_assert_message_mentions(needle);
    }
    world_done(w);
}
END_TEST

START_TEST(test_functions_refuse_a_handle_of_another_type)
{
    const struct api_call *c = &api_calls[_i];
    char needle[96];
    snprintf(needle, sizeof needle, "'%s' does not point to a live %s", handle_arg(c),
             kinds[c->kind].type);
    struct world w;
    world_open(&w);
    for (int k = FIRST_KIND; k < FIRST_KIND_WITHOUT_LIVE_HANDLE; k++) {
        if ((enum handle_kind)k == c->kind)
            continue;
        ck_assert_idm_error(run(c, &w, w.live[k], ACTOR, 1), IDM_ERR_INVALID_ARG, c->name);
        ck_assert_message_mentions(needle);
    }
    world_close(&w);
}
END_TEST

START_TEST(test_functions_refuse_a_null_out)
{
    const struct api_call *c = &api_calls[out_calls.at[_i]];
    char needle[64];
    snprintf(needle, sizeof needle, "'%s' is NULL", c->out_arg);
    struct world w;
    world_open(&w);
    ck_assert_idm_error(run(c, &w, w.live[c->kind], ACTOR, 0), IDM_ERR_INVALID_ARG, c->name);
    ck_assert_message_mentions(needle);
    world_close(&w);
}
END_TEST

START_TEST(test_optional_outs_may_be_null)
{
    const struct api_call *c = &api_calls[optional_out_calls.at[_i]];
    struct world w;
    world_open(&w);
    int rc = run(c, &w, w.live[c->kind], ACTOR, 0);
    ck_assert_msg(is_live_answer(c, rc), "%s: expected %s, got %s: %s", c->name,
                  idm_strerror_name(c->live_rc), idm_strerror_name(rc), idm_last_error_message());
    world_close(&w);
}
END_TEST

START_TEST(test_store_functions_refuse_a_context_without_store)
{
    const struct api_call *c = &api_calls[store_calls.at[_i]];
    struct world w;
    world_open(&w);
    ck_assert_idm_error(run(c, &w, w.bare, ACTOR, 1), IDM_ERR_STATE, c->name);
    ck_assert_message_mentions("no store is open");
    world_close(&w);
}
END_TEST

/* The other tests rely on the thunks' arguments being valid apart from the
 * one under test: with live handles, each call gets past every check. */
START_TEST(test_functions_get_past_the_checks_with_valid_arguments)
{
    const struct api_call *c = &api_calls[live_calls.at[_i]];
    struct world w;
    world_open(&w);
    int rc = run(c, &w, w.live[c->kind], ACTOR, 1);
    ck_assert_msg(is_live_answer(c, rc), "%s: expected %s, got %s: %s", c->name,
                  idm_strerror_name(c->live_rc), idm_strerror_name(rc), idm_last_error_message());
    world_close(&w);
}
END_TEST

START_TEST(test_functions_refuse_bad_actors)
{
    const struct api_call *c = &api_calls[actor_calls.at[_i]];
    char too_long[130], longest[129];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    const struct {
        const char *actor;
        const char *needle;
    } bad[] = {
        {NULL, "'actor' is NULL"},
        {"", "'actor' is empty"},
        {too_long, "'actor' is longer than 128 bytes"},
        {"\xff", "'actor' is not valid UTF-8"},
        {"adm\xc3", "'actor' is not valid UTF-8"},
        {"\xed\xa0\x80", "'actor' is not valid UTF-8"},     /* a surrogate */
        {"\xf4\x90\x80\x80", "'actor' is not valid UTF-8"}, /* above U+10FFFF */
        {"a\nb", "'actor' contains control character"},
        {"a\x7f", "'actor' contains control character"},
    };
    struct world w;
    world_open(&w);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_idm_error(run(c, &w, w.live[c->kind], bad[i].actor, 1), IDM_ERR_INVALID_ARG,
                            c->name);
        ck_assert_message_mentions(bad[i].needle);
    }
    /* 128 bytes is the longest actor, and still accepted. */
    int rc = run(c, &w, w.live[c->kind], longest, 1);
    ck_assert_msg(is_live_answer(c, rc), "%s with a 128-byte actor: expected %s, got %s: %s",
                  c->name, idm_strerror_name(c->live_rc), idm_strerror_name(rc),
                  idm_last_error_message());
    world_close(&w);
}
END_TEST

/* ---- enumerations ------------------------------------------------------ */

/* One entry per enumeration argument: the call with that argument set to v
 * and every other argument valid. */
struct enum_call {
    const char *name;
    const char *arg;
    int last;                  /* the highest value accepted */
    enum handle_kind out_kind; /* the handle it returns through out, or K_NONE */
    int (*call)(struct world *w, int v, void *out);
    int holes[3];              /* values in 1..last refused too; 0 ends the list */
};

static int enum_identity_set_state(struct world *w, int v, void *out)
{
    (void)out;
    return idm_identity_set_state(w->live[K_IDENTITY], ACTOR, (idm_identity_state)v);
}
static int enum_identity_iter_set_state(struct world *w, int v, void *out)
{
    (void)out;
    return idm_identity_iter_set_state(w->live[K_IDENTITY_ITER], (idm_identity_state)v);
}
static int enum_import_csv_state(struct world *w, int v, void *out)
{
    return idm_identity_import_csv(w->live[K_CTX], ACTOR, "/dev/null", NULL,
                                   (idm_identity_state)v, out);
}
static int enum_import_csv_data_state(struct world *w, int v, void *out)
{
    return idm_identity_import_csv_data(w->live[K_CTX], ACTOR, CSV_TEXT, strlen(CSV_TEXT), NULL,
                                        (idm_identity_state)v, out);
}
static int enum_card_new_type(struct world *w, int v, void *out)
{
    return idm_card_new(w->live[K_CTX], ACTOR, (idm_card_type)v, IDM_CARD_PHYSICAL,
                        IDM_PRODUCTION_LOCAL, w->identity_id, NULL, out);
}
static int enum_card_new_option(struct world *w, int v, void *out)
{
    return idm_card_new(w->live[K_CTX], ACTOR, IDM_CARD_EMPLOYEE, (idm_card_option)v,
                        IDM_PRODUCTION_LOCAL, w->identity_id, NULL, out);
}
static int enum_card_new_production(struct world *w, int v, void *out)
{
    return idm_card_new(w->live[K_CTX], ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL,
                        (idm_production)v, w->identity_id, NULL, out);
}
static int enum_card_set_state(struct world *w, int v, void *out)
{
    (void)out;
    return idm_card_set_state(w->live[K_CARD], ACTOR, (idm_card_state)v, NULL);
}
static int enum_card_iter_set_state(struct world *w, int v, void *out)
{
    (void)out;
    return idm_card_iter_set_state(w->live[K_CARD_ITER], (idm_card_state)v);
}
static int enum_card_iter_set_type(struct world *w, int v, void *out)
{
    (void)out;
    return idm_card_iter_set_type(w->live[K_CARD_ITER], (idm_card_type)v);
}
static int enum_order_new_kind(struct world *w, int v, void *out)
{
    return idm_order_new(w->live[K_CTX], ACTOR, (idm_order_kind)v, IDM_CARD_EMPLOYEE,
                         IDM_CARD_PHYSICAL, NULL, out);
}
static int enum_order_new_type(struct world *w, int v, void *out)
{
    return idm_order_new(w->live[K_CTX], ACTOR, IDM_ORDER_EXTERNAL, (idm_card_type)v,
                         IDM_CARD_PHYSICAL, NULL, out);
}
static int enum_order_new_option(struct world *w, int v, void *out)
{
    return idm_order_new(w->live[K_CTX], ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                         (idm_card_option)v, NULL, out);
}
static int enum_order_set_state(struct world *w, int v, void *out)
{
    (void)out;
    return idm_order_set_state(w->live[K_ORDER], ACTOR, (idm_order_state)v, NULL);
}
static int enum_order_iter_set_state(struct world *w, int v, void *out)
{
    (void)out;
    return idm_order_iter_set_state(w->live[K_ORDER_ITER], (idm_order_state)v);
}
static int enum_order_iter_set_type(struct world *w, int v, void *out)
{
    (void)out;
    return idm_order_iter_set_type(w->live[K_ORDER_ITER], (idm_card_type)v);
}
static int enum_audit_iter_set_object(struct world *w, int v, void *out)
{
    (void)out;
    return idm_audit_iter_set_object(w->live[K_AUDIT_ITER], (idm_object_type)v, 0);
}
static int enum_ca_new_openssl_key_type(struct world *w, int v, void *out)
{
    return idm_ca_new_openssl(out, w->live[K_CTX], (idm_key_type)v, "Other CA", 30);
}
static int enum_card_issue_certificate_usage(struct world *w, int v, void *out)
{
    return idm_card_issue_certificate(w->live[K_CARD], ACTOR, w->live[K_CA], (idm_key_usage)v,
                                      p256_spki, sizeof p256_spki, 1, out);
}
static int enum_cert_revoke_reason(struct world *w, int v, void *out)
{
    (void)out;
    return idm_cert_revoke(w->live[K_CERT], ACTOR, w->live[K_CA], (idm_revocation_reason)v);
}
static int enum_process_name_type(struct world *w, int v, void *out)
{
    (void)w;
    return idm_process_name((idm_card_type)v, IDM_CARD_PHYSICAL, out);
}
static int enum_process_name_option(struct world *w, int v, void *out)
{
    (void)w;
    return idm_process_name(IDM_CARD_EMPLOYEE, (idm_card_option)v, out);
}
static int enum_process_steps_type(struct world *w, int v, void *out)
{
    unsigned steps;
    (void)w;
    (void)out;
    return idm_process_steps((idm_card_type)v, IDM_CARD_PHYSICAL, &steps);
}
static int enum_process_steps_option(struct world *w, int v, void *out)
{
    unsigned steps;
    (void)w;
    (void)out;
    return idm_process_steps(IDM_CARD_EMPLOYEE, (idm_card_option)v, &steps);
}
static int enum_order_count_cards_outcome(struct world *w, int v, void *out)
{
    return idm_order_count_cards(w->live[K_ORDER], (idm_order_card_outcome)v, out);
}
static int enum_card_iter_set_order_outcome(struct world *w, int v, void *out)
{
    (void)out;
    return idm_card_iter_set_order_outcome(w->live[K_CARD_ITER], w->order_id,
                                           (idm_order_card_outcome)v);
}

static int enum_external_order_card_type(struct world *w, int v, void *out)
{
    return idm_external_order_card(w->live[K_EXTERNAL], ACTOR, w->identity_id, (idm_card_type)v,
                                   IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, out);
}
static int enum_external_order_card_option(struct world *w, int v, void *out)
{
    return idm_external_order_card(w->live[K_EXTERNAL], ACTOR, w->identity_id,
                                   IDM_CARD_EMPLOYEE, (idm_card_option)v,
                                   IDM_PRODUCTION_EXTERNAL, out);
}
static int enum_external_order_card_production(struct world *w, int v, void *out)
{
    return idm_external_order_card(w->live[K_EXTERNAL], ACTOR, w->identity_id,
                                   IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, (idm_production)v, out);
}
static int enum_external_order_batch_type(struct world *w, int v, void *out)
{
    const int64_t ids[] = {w->identity_id};
    return idm_external_order_batch(w->live[K_EXTERNAL], ACTOR, ids, 1, (idm_card_type)v,
                                    IDM_CARD_PHYSICAL, NULL, NULL, out);
}
static int enum_external_order_batch_option(struct world *w, int v, void *out)
{
    const int64_t ids[] = {w->identity_id};
    return idm_external_order_batch(w->live[K_EXTERNAL], ACTOR, ids, 1, IDM_CARD_EMPLOYEE,
                                    (idm_card_option)v, NULL, NULL, out);
}
static int enum_external_order_temporary_option(struct world *w, int v, void *out)
{
    return idm_external_order_temporary(w->live[K_EXTERNAL], ACTOR, (idm_card_option)v, 1,
                                        "Temporary card", out);
}
static int enum_layout_serves_type(struct world *w, int v, void *out)
{
    return idm_layout_serves(w->live[K_LAYOUT], (idm_card_type)v, out);
}
static int enum_layout_has_face_face(struct world *w, int v, void *out)
{
    return idm_layout_has_face(w->live[K_LAYOUT], (idm_card_face)v, out);
}

static const struct enum_call enum_calls[] = {
    {"idm_identity_set_state", "to", IDM_IDENTITY_TERMINATED, K_NONE, enum_identity_set_state},
    {"idm_identity_iter_set_state", "state", IDM_IDENTITY_TERMINATED, K_NONE,
     enum_identity_iter_set_state},
    /* Imports create registered or active identities only. */
    {"idm_identity_import_csv", "initial_state", IDM_IDENTITY_ACTIVE, K_NONE,
     enum_import_csv_state},
    {"idm_identity_import_csv_data", "initial_state", IDM_IDENTITY_ACTIVE, K_NONE,
     enum_import_csv_data_state},
    {"idm_card_new", "type", IDM_CARD_TEMPORARY, K_CARD, enum_card_new_type},
    {"idm_card_new", "option", IDM_CARD_DIGITAL, K_CARD, enum_card_new_option},
    {"idm_card_new", "production", IDM_PRODUCTION_EXTERNAL, K_CARD, enum_card_new_production},
    {"idm_card_set_state", "to", IDM_CARD_ASSIGNED, K_NONE, enum_card_set_state},
    {"idm_card_iter_set_state", "state", IDM_CARD_ASSIGNED, K_NONE, enum_card_iter_set_state},
    {"idm_card_iter_set_type", "type", IDM_CARD_TEMPORARY, K_NONE, enum_card_iter_set_type},
    {"idm_order_new", "kind", IDM_ORDER_EXTERNAL, K_ORDER, enum_order_new_kind},
    {"idm_order_new", "type", IDM_CARD_TEMPORARY, K_ORDER, enum_order_new_type},
    {"idm_order_new", "option", IDM_CARD_DIGITAL, K_ORDER, enum_order_new_option},
    {"idm_order_set_state", "to", IDM_ORDER_ABORTED, K_NONE, enum_order_set_state},
    {"idm_order_iter_set_state", "state", IDM_ORDER_ABORTED, K_NONE, enum_order_iter_set_state},
    {"idm_order_iter_set_type", "type", IDM_CARD_TEMPORARY, K_NONE, enum_order_iter_set_type},
    {"idm_audit_iter_set_object", "type", IDM_OBJECT_CA, K_NONE, enum_audit_iter_set_object},
    {"idm_ca_new_openssl", "key_type", IDM_KEY_RSA_3072, K_CA, enum_ca_new_openssl_key_type},
    {"idm_card_issue_certificate", "usage", IDM_USAGE_CARD_AUTHENTICATION, K_CERT,
     enum_card_issue_certificate_usage},
    /* RFC 5280 leaves 7 unused and 8 (removeFromCRL) is for delta CRLs;
     * certificateHold is idm_cert_hold()'s. */
    {"idm_cert_revoke", "reason", IDM_REVOKE_PRIVILEGE_WITHDRAWN, K_NONE, enum_cert_revoke_reason,
     {IDM_REVOKE_CERTIFICATE_HOLD, 7, 8}},
    /* Temporary cards are ordered, not mass-produced: the last type with a
     * process is non_personal. */
    {"idm_process_name", "type", IDM_CARD_NON_PERSONAL, K_NONE, enum_process_name_type},
    {"idm_process_name", "option", IDM_CARD_DIGITAL, K_NONE, enum_process_name_option},
    {"idm_process_steps", "type", IDM_CARD_NON_PERSONAL, K_NONE, enum_process_steps_type},
    {"idm_process_steps", "option", IDM_CARD_DIGITAL, K_NONE, enum_process_steps_option},
    {"idm_order_count_cards", "outcome", IDM_OUTCOME_FAILED, K_NONE,
     enum_order_count_cards_outcome},
    {"idm_card_iter_set_order_outcome", "outcome", IDM_OUTCOME_FAILED, K_NONE,
     enum_card_iter_set_order_outcome},
    /* Accepted, the orders meet a store where external production is off.
     * Cards are ordered for identities as employee, contractor or visitor
     * cards: the other types are idm_card_types, refused by name in
     * bad_calls, so the values refused by number start after temporary. */
    {"idm_external_order_card", "type", IDM_CARD_TEMPORARY, K_CARD,
     enum_external_order_card_type},
    {"idm_external_order_card", "option", IDM_CARD_DIGITAL, K_CARD,
     enum_external_order_card_option},
    {"idm_external_order_card", "production", IDM_PRODUCTION_EXTERNAL, K_CARD,
     enum_external_order_card_production},
    {"idm_external_order_batch", "type", IDM_CARD_TEMPORARY, K_ORDER,
     enum_external_order_batch_type},
    {"idm_external_order_batch", "option", IDM_CARD_DIGITAL, K_ORDER,
     enum_external_order_batch_option},
    {"idm_external_order_temporary", "option", IDM_CARD_DIGITAL, K_ORDER,
     enum_external_order_temporary_option},
    {"idm_layout_serves", "type", IDM_CARD_TEMPORARY, K_NONE, enum_layout_serves_type},
    {"idm_layout_has_face", "face", IDM_FACE_BACK, K_NONE, enum_layout_has_face_face},
    /* idm_layout_render()'s format and face are tried in bad_calls: a value
     * accepted here would be rendered. */
};
#define N_ENUM_CALLS (sizeof enum_calls / sizeof enum_calls[0])

START_TEST(test_functions_refuse_out_of_range_enums)
{
    const struct enum_call *e = &enum_calls[_i];
    int bad[4 + sizeof e->holes / sizeof e->holes[0]] = {-1, e->last + 1, INT_MAX, INT_MIN};
    size_t n_bad = 4;
    for (size_t i = 0; i < sizeof e->holes / sizeof e->holes[0] && e->holes[i] != 0; i++)
        bad[n_bad++] = e->holes[i];
    union out_slot out;
    memset(&out, 0, sizeof out);
    struct world w;
    world_open(&w);
    for (size_t i = 0; i < n_bad; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "'%s' is %d", e->arg, bad[i]);
        int rc = e->call(&w, bad[i], &out);
        release(e->out_kind, &out);
        ck_assert_idm_error(rc, IDM_ERR_INVALID_ARG, e->name);
        ck_assert_message_mentions(needle);
    }
    /* The first value is accepted, so the refusals above were the enum's. */
    int rc = e->call(&w, 0, &out);
    release(e->out_kind, &out);
    ck_assert_msg(rc != IDM_ERR_INVALID_ARG, "%s with %s = 0 refused: %s", e->name, e->arg,
                  idm_last_error_message());
    world_close(&w);
}
END_TEST

/* ---- ids ----------------------------------------------------------------- */

struct id_call {
    const char *name;
    const char *arg;
    int64_t min;               /* the smallest id accepted */
    enum handle_kind out_kind; /* the handle it returns through out, or K_NONE */
    int (*call)(struct world *w, int64_t id, void *out);
};

static int id_identity_open(struct world *w, int64_t id, void *out)
{
    return idm_identity_open(w->live[K_CTX], id, out);
}
static int id_card_open(struct world *w, int64_t id, void *out)
{
    return idm_card_open(w->live[K_CTX], id, out);
}
static int id_cert_open(struct world *w, int64_t id, void *out)
{
    return idm_cert_open(w->live[K_CTX], id, out);
}
static int id_order_open(struct world *w, int64_t id, void *out)
{
    return idm_order_open(w->live[K_CTX], id, out);
}
static int id_cert_iter_new(struct world *w, int64_t id, void *out)
{
    return idm_cert_iter_new(w->live[K_CTX], id, out);
}
static int id_card_new_holder(struct world *w, int64_t id, void *out)
{
    return idm_card_new(w->live[K_CTX], ACTOR, IDM_CARD_CONTRACTOR, IDM_CARD_DIGITAL,
                        IDM_PRODUCTION_EXTERNAL, id, NULL, out);
}
static int id_card_iter_set_order(struct world *w, int64_t id, void *out)
{
    (void)out;
    return idm_card_iter_set_order(w->live[K_CARD_ITER], id);
}
static int id_card_iter_set_identity(struct world *w, int64_t id, void *out)
{
    (void)out;
    return idm_card_iter_set_identity(w->live[K_CARD_ITER], id);
}
static int id_order_add_card(struct world *w, int64_t id, void *out)
{
    (void)out;
    return idm_order_add_card(w->live[K_ORDER], ACTOR, id);
}
static int id_audit_iter_set_object(struct world *w, int64_t id, void *out)
{
    (void)out;
    return idm_audit_iter_set_object(w->live[K_AUDIT_ITER], IDM_OBJECT_CA, id);
}
static int id_order_add_cards(struct world *w, int64_t id, void *out)
{
    /* The second of two: the message names its place in the array. */
    const int64_t ids[] = {w->card_id, id};
    (void)out;
    return idm_order_add_cards(w->live[K_ORDER], ACTOR, ids, 2);
}
static int id_order_get_card_outcome(struct world *w, int64_t id, void *out)
{
    return idm_order_get_card_outcome(w->live[K_ORDER], id, out, NULL, NULL);
}
static int id_card_iter_set_order_outcome(struct world *w, int64_t id, void *out)
{
    (void)out;
    return idm_card_iter_set_order_outcome(w->live[K_CARD_ITER], id, IDM_OUTCOME_PENDING);
}

static int id_external_order_card(struct world *w, int64_t id, void *out)
{
    return idm_external_order_card(w->live[K_EXTERNAL], ACTOR, id, IDM_CARD_EMPLOYEE,
                                   IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, out);
}
static int id_external_assign(struct world *w, int64_t id, void *out)
{
    (void)out;
    return idm_external_assign(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD], id);
}

static const struct id_call id_calls[] = {
    {"idm_identity_open", "id", 1, K_IDENTITY, id_identity_open},
    {"idm_card_open", "id", 1, K_CARD, id_card_open},
    {"idm_cert_open", "id", 1, K_CERT, id_cert_open},
    {"idm_order_open", "id", 1, K_ORDER, id_order_open},
    {"idm_cert_iter_new", "card_id", 1, K_CERT_ITER, id_cert_iter_new},
    {"idm_card_new", "identity_id", 1, K_CARD, id_card_new_holder},
    {"idm_card_iter_set_order", "order_id", 1, K_NONE, id_card_iter_set_order},
    {"idm_card_iter_set_identity", "identity_id", 1, K_NONE, id_card_iter_set_identity},
    {"idm_order_add_card", "card_id", 1, K_NONE, id_order_add_card},
    /* CA events, like option events, have object id 0 (and the last object
     * type is accepted). */
    {"idm_audit_iter_set_object", "id", 0, K_NONE, id_audit_iter_set_object},
    {"idm_order_add_cards", "card_ids[1]", 1, K_NONE, id_order_add_cards},
    {"idm_order_get_card_outcome", "card_id", 1, K_NONE, id_order_get_card_outcome},
    {"idm_card_iter_set_order_outcome", "order_id", 1, K_NONE, id_card_iter_set_order_outcome},
    {"idm_external_order_card", "identity_id", 1, K_CARD, id_external_order_card},
    {"idm_external_assign", "identity_id", 1, K_NONE, id_external_assign},
};
#define N_ID_CALLS (sizeof id_calls / sizeof id_calls[0])

START_TEST(test_functions_refuse_ids_out_of_range)
{
    const struct id_call *c = &id_calls[_i];
    const int64_t bad[] = {c->min - 1, c->min - 2, INT64_MIN};
    union out_slot out;
    memset(&out, 0, sizeof out);
    struct world w;
    world_open(&w);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "'%s' is %" PRId64, c->arg, bad[i]);
        int rc = c->call(&w, bad[i], &out);
        release(c->out_kind, &out);
        ck_assert_idm_error(rc, IDM_ERR_INVALID_ARG, c->name);
        ck_assert_message_mentions(needle);
    }
    /* The smallest id is accepted (and may then not be found). */
    int rc = c->call(&w, c->min, &out);
    release(c->out_kind, &out);
    ck_assert_msg(rc != IDM_ERR_INVALID_ARG, "%s with %s = %" PRId64 " refused: %s", c->name,
                  c->arg, c->min, idm_last_error_message());
    world_close(&w);
}
END_TEST

/* ---- counts and durations ------------------------------------------------ */

/* One entry per int argument with a range: the call with that argument set
 * to v and every other argument valid. */
struct range_call {
    const char *name;
    const char *arg;
    int min, max;              /* the range accepted; max INT_MAX: no upper bound */
    enum handle_kind out_kind; /* the handle it returns through out, or K_NONE */
    int (*call)(struct world *w, int v, void *out);
};

static int range_card_issue_certificate_attempt(struct world *w, int v, void *out)
{
    return idm_card_issue_certificate(w->live[K_CARD], ACTOR, w->live[K_CA],
                                      IDM_USAGE_AUTHENTICATION, p256_spki, sizeof p256_spki, v,
                                      out);
}
static int range_ca_new_openssl_validity_days(struct world *w, int v, void *out)
{
    return idm_ca_new_openssl(out, w->live[K_CTX], IDM_KEY_EC_P256, "Other CA", v);
}
static int range_ca_generate_crl_next_update_hours(struct world *w, int v, void *out)
{
    (void)out;
    return idm_ca_generate_crl(w->live[K_CA], w->live[K_CTX], v, w->live[K_BUFFER]);
}

static int range_encoder_set_timeout(struct world *w, int v, void *out)
{
    (void)out;
    return idm_encoder_set_timeout(w->live[K_ENCODER], v);
}
static int range_encoder_pcsc_set_reader_index(struct world *w, int v, void *out)
{
    (void)out;
    return idm_encoder_pcsc_set_reader_index(w->live[K_ENCODER], v);
}
static int range_card_personalize_attempt(struct world *w, int v, void *out)
{
    (void)out;
    /* Accepted, the attempt meets the world's card, which is not approved. */
    return idm_card_personalize(w->live[K_CARD], ACTOR, w->live[K_ENCODER], NULL, v);
}

static int range_station_set_lease(struct world *w, int v, void *out)
{
    (void)out;
    return idm_station_set_lease(w->live[K_STATION], v);
}
static int range_station_complete_more(struct world *w, int v, void *out)
{
    (void)out;
    /* Accepted, the answer meets an order that is open (complete) or has
     * no skipped card (more). */
    return idm_station_complete(w->live[K_STATION], ACTOR, v);
}

static const struct range_call range_calls[] = {
    {"idm_card_issue_certificate", "attempt", 1, INT_MAX, K_CERT,
     range_card_issue_certificate_attempt},
    {"idm_ca_new_openssl", "validity_days", 1, 10950, K_CA, range_ca_new_openssl_validity_days},
    {"idm_ca_generate_crl", "next_update_hours", 1, 8760, K_NONE,
     range_ca_generate_crl_next_update_hours},
    {"idm_encoder_set_timeout", "timeout_ms", 0, 3600000, K_NONE, range_encoder_set_timeout},
    {"idm_encoder_pcsc_set_reader_index", "index", 0, 255, K_NONE,
     range_encoder_pcsc_set_reader_index},
    {"idm_card_personalize", "attempt", 1, INT_MAX, K_NONE, range_card_personalize_attempt},
    {"idm_station_set_lease", "lease_ms", 1, 86400000, K_NONE, range_station_set_lease},
    {"idm_station_complete", "more", 0, 1, K_NONE, range_station_complete_more},
};
#define N_RANGE_CALLS (sizeof range_calls / sizeof range_calls[0])

START_TEST(test_functions_refuse_numbers_out_of_range)
{
    const struct range_call *c = &range_calls[_i];
    int bad[4] = {c->min - 1, INT_MIN};
    size_t n_bad = 2;
    if (c->max < INT_MAX) {
        bad[n_bad++] = c->max + 1;
        bad[n_bad++] = INT_MAX;
    }
    union out_slot out;
    memset(&out, 0, sizeof out);
    struct world w;
    world_open(&w);
    for (size_t i = 0; i < n_bad; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "'%s' is %d", c->arg, bad[i]);
        int rc = c->call(&w, bad[i], &out);
        release(c->out_kind, &out);
        ck_assert_idm_error(rc, IDM_ERR_INVALID_ARG, c->name);
        ck_assert_message_mentions(needle);
    }
    /* Both ends of the range are accepted. */
    const int ends[] = {c->min, c->max};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        int rc = c->call(&w, ends[i], &out);
        release(c->out_kind, &out);
        ck_assert_msg(rc != IDM_ERR_INVALID_ARG, "%s with %s = %d refused: %s", c->name, c->arg,
                      ends[i], idm_last_error_message());
    }
    world_close(&w);
}
END_TEST

/* ---- other malformed arguments ---------------------------------------- */

/* One entry per malformed argument: the call must answer
 * IDM_ERR_INVALID_ARG with a message naming the function and the needle. */
struct bad_call {
    const char *name;
    const char *needle;
    int (*call)(struct world *w);
};

static int bad_option_count_out(struct world *w)
{
    (void)w;
    return idm_option_count(NULL);
}
static int bad_option_key_at_index(struct world *w)
{
    size_t n = 0;
    (void)w;
    ck_assert_int_eq(idm_option_count(&n), IDM_OK);
    return idm_option_key_at(n, NULL, NULL);
}
static int bad_process_name_out(struct world *w)
{
    (void)w;
    return idm_process_name(IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL, NULL);
}
static int bad_open_store_null_path(struct world *w)
{
    return idm_ctx_open_store(w->bare, NULL);
}
static int bad_open_store_empty_path(struct world *w)
{
    return idm_ctx_open_store(w->bare, "");
}
static int bad_options_get_bool_key(struct world *w)
{
    int v;
    return idm_options_get_bool(w->live[K_CTX], NULL, &v);
}
static int bad_options_get_int_key(struct world *w)
{
    int64_t v;
    return idm_options_get_int(w->live[K_CTX], NULL, &v);
}
static int bad_options_get_string_key(struct world *w)
{
    const char *v;
    return idm_options_get_string(w->live[K_CTX], NULL, &v);
}
static int bad_options_set_bool_key(struct world *w)
{
    return idm_options_set_bool(w->live[K_CTX], ACTOR, NULL, 1);
}
static int bad_options_set_int_key(struct world *w)
{
    return idm_options_set_int(w->live[K_CTX], ACTOR, NULL, 4);
}
static int bad_options_set_string_key(struct world *w)
{
    return idm_options_set_string(w->live[K_CTX], ACTOR, NULL, "print");
}
static int bad_options_reset_key(struct world *w)
{
    return idm_options_reset(w->live[K_CTX], ACTOR, NULL);
}
static int bad_options_get_unknown_key(struct world *w)
{
    int v;
    return idm_options_get_bool(w->live[K_CTX], "no_such_option", &v);
}
static int bad_options_get_key_of_another_type(struct world *w)
{
    int v;
    return idm_options_get_bool(w->live[K_CTX], "pin_length", &v);
}
static int bad_options_set_bool_value(struct world *w)
{
    return idm_options_set_bool(w->live[K_CTX], ACTOR, "queue_orders", 2);
}
static int bad_options_set_int_value(struct world *w)
{
    return idm_options_set_int(w->live[K_CTX], ACTOR, "pin_length", 5);
}
static int bad_options_set_string_value(struct world *w)
{
    return idm_options_set_string(w->live[K_CTX], ACTOR, "pin_delivery", NULL);
}
static int bad_options_reset_unknown_key(struct world *w)
{
    return idm_options_reset(w->live[K_CTX], ACTOR, "no_such_option");
}
static int bad_identity_new_external_id(struct world *w)
{
    idm_identity_t *identity = NULL;
    int rc = idm_identity_new(w->live[K_CTX], ACTOR, "", &identity);
    idm_identity_free(&identity);
    return rc;
}
static int bad_identity_open_external_id(struct world *w)
{
    idm_identity_t *identity = NULL;
    int rc = idm_identity_open_external(w->live[K_CTX], NULL, &identity);
    idm_identity_free(&identity);
    return rc;
}
static int bad_identity_set_attribute_null_key(struct world *w)
{
    return idm_identity_set_attribute(w->live[K_IDENTITY], ACTOR, NULL, "x");
}
static int bad_identity_set_attribute_key(struct world *w)
{
    return idm_identity_set_attribute(w->live[K_IDENTITY], ACTOR, "1st name", "x");
}
static int bad_identity_set_attribute_value(struct world *w)
{
    return idm_identity_set_attribute(w->live[K_IDENTITY], ACTOR, "surname", "\xff");
}
/* A string of n 'x' (n < 5000), valid until the next call. */
static const char *text_of_length(size_t n)
{
    static char text[5000];
    ck_assert_uint_lt(n, sizeof text);
    memset(text, 'x', n);
    text[n] = '\0';
    return text;
}
static int bad_identity_set_attribute_long_key(struct world *w)
{
    return idm_identity_set_attribute(w->live[K_IDENTITY], ACTOR, text_of_length(65), "x");
}
static int bad_identity_set_attribute_long_value(struct world *w)
{
    return idm_identity_set_attribute(w->live[K_IDENTITY], ACTOR, "surname",
                                      text_of_length(IDM_ATTRIBUTE_VALUE_MAX + 1));
}
static int bad_identity_get_attribute_key(struct world *w)
{
    const char *v;
    return idm_identity_get_attribute(w->live[K_IDENTITY], NULL, &v);
}
static int bad_identity_get_attribute_at_index(struct world *w)
{
    return idm_identity_get_attribute_at(w->live[K_IDENTITY], 1, NULL, NULL);
}
static int bad_identity_set_common_name(struct world *w)
{
    return idm_identity_set_common_name(w->live[K_IDENTITY], ACTOR, "");
}
static int bad_identity_set_upn(struct world *w)
{
    return idm_identity_set_upn(w->live[K_IDENTITY], ACTOR, "a\nb");
}
static int bad_import_csv_path(struct world *w)
{
    return idm_identity_import_csv(w->live[K_CTX], ACTOR, NULL, NULL, IDM_IDENTITY_REGISTERED,
                                   NULL);
}
static int bad_import_csv_id_column(struct world *w)
{
    return idm_identity_import_csv(w->live[K_CTX], ACTOR, "/dev/null", "not a key",
                                   IDM_IDENTITY_REGISTERED, NULL);
}
static int bad_import_csv_terminated(struct world *w)
{
    return idm_identity_import_csv(w->live[K_CTX], ACTOR, "/dev/null", NULL,
                                   IDM_IDENTITY_TERMINATED, NULL);
}
static int bad_import_csv_data(struct world *w)
{
    return idm_identity_import_csv_data(w->live[K_CTX], ACTOR, NULL, 4, NULL,
                                        IDM_IDENTITY_REGISTERED, NULL);
}
static int bad_import_csv_data_id_column(struct world *w)
{
    return idm_identity_import_csv_data(w->live[K_CTX], ACTOR, CSV_TEXT, strlen(CSV_TEXT), "",
                                        IDM_IDENTITY_REGISTERED, NULL);
}
static int new_card(struct world *w, idm_card_type type, idm_production production,
                    int64_t identity_id, const char *name)
{
    idm_card_t *card = NULL;
    int rc = idm_card_new(w->live[K_CTX], ACTOR, type, IDM_CARD_PHYSICAL, production,
                          identity_id, name, &card);
    idm_card_free(&card);
    return rc;
}
static int bad_card_new_personal_with_name(struct world *w)
{
    return new_card(w, IDM_CARD_EMPLOYEE, IDM_PRODUCTION_LOCAL, w->identity_id, "Room 1");
}
static int bad_card_new_non_personal_without_name(struct world *w)
{
    return new_card(w, IDM_CARD_NON_PERSONAL, IDM_PRODUCTION_LOCAL, 0, NULL);
}
static int bad_card_new_non_personal_empty_name(struct world *w)
{
    return new_card(w, IDM_CARD_NON_PERSONAL, IDM_PRODUCTION_LOCAL, 0, "");
}
static int bad_card_new_non_personal_with_holder(struct world *w)
{
    return new_card(w, IDM_CARD_VISITOR_NON_PERSONAL, IDM_PRODUCTION_LOCAL, w->identity_id,
                    "Visitor 1");
}
static int bad_card_new_temporary_local(struct world *w)
{
    return new_card(w, IDM_CARD_TEMPORARY, IDM_PRODUCTION_LOCAL, 0, "Pool 1");
}
static int bad_card_new_out(struct world *w)
{
    return idm_card_new(w->live[K_CTX], ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL,
                        IDM_PRODUCTION_LOCAL, w->identity_id, NULL, NULL);
}
static int bad_card_open_number(struct world *w)
{
    idm_card_t *card = NULL;
    int rc = idm_card_open_number(w->live[K_CTX], NULL, &card);
    idm_card_free(&card);
    return rc;
}
static int bad_card_set_chip_serial_null(struct world *w)
{
    return idm_card_set_chip_serial(w->live[K_CARD], ACTOR, NULL);
}
static int bad_card_set_chip_serial_empty(struct world *w)
{
    return idm_card_set_chip_serial(w->live[K_CARD], ACTOR, "");
}
static int bad_card_set_chip_serial_too_long(struct world *w)
{
    char serial[66];
    memset(serial, 'A', sizeof serial - 1);
    serial[sizeof serial - 1] = '\0';
    return idm_card_set_chip_serial(w->live[K_CARD], ACTOR, serial);
}
static int bad_card_set_chip_serial_space(struct world *w)
{
    return idm_card_set_chip_serial(w->live[K_CARD], ACTOR, "CHIP 1");
}
static int bad_card_set_state_long_detail(struct world *w)
{
    return idm_card_set_state(w->live[K_CARD], ACTOR, IDM_CARD_REQUESTED,
                              text_of_length(IDM_ATTRIBUTE_VALUE_MAX + 1));
}
static int bad_options_set_string_template(struct world *w)
{
    return idm_options_set_string(w->live[K_CTX], ACTOR, "common_name_template", "${");
}
static int bad_card_set_state_detail(struct world *w)
{
    return idm_card_set_state(w->live[K_CARD], ACTOR, IDM_CARD_REQUESTED, "\xff");
}
static int bad_card_add_certificate_der(struct world *w)
{
    return idm_card_add_certificate(w->live[K_CARD], ACTOR, NULL, 100, NULL);
}
static int bad_card_add_certificate_empty(struct world *w)
{
    return idm_card_add_certificate(w->live[K_CARD], ACTOR, not_der, 0, NULL);
}
static int bad_card_add_certificate_too_long(struct world *w)
{
    /* The length is refused before the bytes are read. */
    return idm_card_add_certificate(w->live[K_CARD], ACTOR, not_der, 65537, NULL);
}
static int bad_cert_open_serial(struct world *w)
{
    idm_cert_t *cert = NULL;
    int rc = idm_cert_open_serial(w->live[K_CTX], NULL, &cert);
    idm_cert_free(&cert);
    return rc;
}
static int bad_order_new_external_id(struct world *w)
{
    idm_order_t *order = NULL;
    int rc = idm_order_new(w->live[K_CTX], ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_EMPLOYEE,
                           IDM_CARD_PHYSICAL, "a\nb", &order);
    idm_order_free(&order);
    return rc;
}
static int bad_order_new_temporary_mass_production(struct world *w)
{
    idm_order_t *order = NULL;
    int rc = idm_order_new(w->live[K_CTX], ACTOR, IDM_ORDER_MASS_PRODUCTION, IDM_CARD_TEMPORARY,
                           IDM_CARD_PHYSICAL, NULL, &order);
    idm_order_free(&order);
    return rc;
}
static int bad_order_open_external(struct world *w)
{
    idm_order_t *order = NULL;
    int rc = idm_order_open_external(w->live[K_CTX], NULL, &order);
    idm_order_free(&order);
    return rc;
}
static int bad_order_get_option_bool_key(struct world *w)
{
    int v;
    return idm_order_get_option_bool(w->live[K_ORDER], NULL, &v);
}
static int bad_order_get_option_int_key(struct world *w)
{
    int64_t v;
    return idm_order_get_option_int(w->live[K_ORDER], NULL, &v);
}
static int bad_order_get_option_string_key(struct world *w)
{
    const char *v;
    return idm_order_get_option_string(w->live[K_ORDER], NULL, &v);
}
static int bad_order_get_option_unknown_key(struct world *w)
{
    const char *v;
    return idm_order_get_option_string(w->live[K_ORDER], "no_such_option", &v);
}
static int bad_order_set_state_detail(struct world *w)
{
    return idm_order_set_state(w->live[K_ORDER], ACTOR, IDM_ORDER_RUNNING, "a\nb");
}
static int bad_audit_iter_time_range(struct world *w)
{
    return idm_audit_iter_set_time_range(w->live[K_AUDIT_ITER], 2000, 1999);
}
static int bad_cert_iter_new_out(struct world *w)
{
    return idm_cert_iter_new(w->live[K_CTX], w->card_id, NULL);
}
static int bad_buffer_new_out(struct world *w)
{
    (void)w;
    return idm_buffer_new(NULL);
}
static int bad_buffer_set_data(struct world *w)
{
    return idm_buffer_set(w->live[K_BUFFER], NULL, 4);
}
static int bad_buffer_set_too_long(struct world *w)
{
    /* The length is refused before the bytes are read. */
    return idm_buffer_set(w->live[K_BUFFER], "abc", ((size_t)16 << 20) + 1);
}
static int bad_buffer_get_len(struct world *w)
{
    const unsigned char *data;
    return idm_buffer_get(w->live[K_BUFFER], &data, NULL);
}
static int bad_ca_backend_error_message(struct world *w)
{
    (void)w;
    return idm_ca_backend_error(NULL);
}
/* idm_ca_new(); the CA it makes, if any, is freed. */
static int new_host_ca(const idm_ca_ops *ops, size_t ops_size, int null_out)
{
    idm_ca_t *ca = NULL;
    int rc = idm_ca_new(null_out ? NULL : &ca, ops, ops_size, NULL, NULL);
    idm_ca_free(&ca);
    return rc;
}
static int bad_ca_new_out(struct world *w)
{
    (void)w;
    return new_host_ca(&host_ops, sizeof host_ops, 1);
}
static int bad_ca_new_ops(struct world *w)
{
    (void)w;
    return new_host_ca(NULL, sizeof host_ops, 0);
}
static int bad_ca_new_ops_size(struct world *w)
{
    (void)w;
    /* Version and size, but no room for issue and revoke. */
    return new_host_ca(&host_ops, 8, 0);
}
static int bad_ca_new_without_issue(struct world *w)
{
    idm_ca_ops ops = host_ops;
    (void)w;
    ops.issue = NULL;
    return new_host_ca(&ops, sizeof ops, 0);
}
static int bad_ca_new_without_revoke(struct world *w)
{
    idm_ca_ops ops = host_ops;
    (void)w;
    ops.revoke = NULL;
    return new_host_ca(&ops, sizeof ops, 0);
}
static int new_builtin_ca(struct world *w, const char *common_name)
{
    idm_ca_t *ca = NULL;
    int rc = idm_ca_new_openssl(&ca, w->live[K_CTX], IDM_KEY_EC_P256, common_name, 30);
    idm_ca_free(&ca);
    return rc;
}
static int bad_ca_new_openssl_out(struct world *w)
{
    return idm_ca_new_openssl(NULL, w->live[K_CTX], IDM_KEY_EC_P256, "Other CA", 30);
}
static int bad_ca_new_openssl_null_name(struct world *w)
{
    return new_builtin_ca(w, NULL);
}
static int bad_ca_new_openssl_empty_name(struct world *w)
{
    return new_builtin_ca(w, "");
}
static int bad_ca_new_openssl_long_name(struct world *w)
{
    return new_builtin_ca(w, text_of_length(65));
}
static int bad_ca_new_openssl_name_line(struct world *w)
{
    return new_builtin_ca(w, "Test\nCA");
}
static int load_ca(struct world *w, const char *cert_pem, size_t cert_len, const char *key_pem,
                   size_t key_len)
{
    idm_ca_t *ca = NULL;
    int rc = idm_ca_new_openssl_pem(&ca, w->live[K_CTX], cert_pem, cert_len, key_pem, key_len,
                                    passphrase_from, PASSPHRASE);
    idm_ca_free(&ca);
    return rc;
}
static int bad_ca_new_openssl_pem_cert(struct world *w)
{
    return load_ca(w, NULL, strlen(not_pem), not_pem, strlen(not_pem));
}
static int bad_ca_new_openssl_pem_key(struct world *w)
{
    return load_ca(w, not_pem, strlen(not_pem), NULL, strlen(not_pem));
}
static int bad_ca_new_openssl_pem_cert_len(struct world *w)
{
    return load_ca(w, not_pem, 0, not_pem, strlen(not_pem));
}
static int bad_ca_new_openssl_pem_key_len(struct world *w)
{
    return load_ca(w, not_pem, strlen(not_pem), not_pem, 0);
}
static int bad_ca_export_key_passphrase(struct world *w)
{
    return idm_ca_export_key(w->live[K_CA], NULL, NULL, w->live[K_BUFFER]);
}
static int bad_ca_export_key_short_passphrase(struct world *w)
{
    return idm_ca_export_key(w->live[K_CA], passphrase_from, "1234567", w->live[K_BUFFER]);
}
static int issue_for_key(struct world *w, const unsigned char *spki, size_t spki_len)
{
    idm_cert_t *cert = NULL;
    int rc = idm_card_issue_certificate(w->live[K_CARD], ACTOR, w->live[K_CA],
                                        IDM_USAGE_AUTHENTICATION, spki, spki_len, 1, &cert);
    idm_cert_free(&cert);
    return rc;
}
static int bad_card_issue_certificate_spki(struct world *w)
{
    return issue_for_key(w, NULL, sizeof p256_spki);
}
static int bad_card_issue_certificate_spki_len(struct world *w)
{
    return issue_for_key(w, p256_spki, 0);
}
static int bad_card_issue_certificate_short_spki(struct world *w)
{
    return issue_for_key(w, p256_spki, sizeof p256_spki - 1);
}
static int bad_card_issue_certificate_not_spki(struct world *w)
{
    return issue_for_key(w, not_der, sizeof not_der);
}
static int bad_card_issue_certificate_trailing_byte(struct world *w)
{
    unsigned char longer[sizeof p256_spki + 1];
    memcpy(longer, p256_spki, sizeof p256_spki);
    longer[sizeof p256_spki] = 0;
    return issue_for_key(w, longer, sizeof longer);
}
static int bad_card_issue_certificate_ed25519(struct world *w)
{
    /* RFC 8032's first test key: a key, but not one a card certificate takes. */
    static const unsigned char ed25519_spki[] = {
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3,
        0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25,
        0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
    return issue_for_key(w, ed25519_spki, sizeof ed25519_spki);
}
static int bad_encoder_backend_error_message(struct world *w)
{
    (void)w;
    return idm_encoder_backend_error(NULL);
}
/* idm_encoder_new(); the encoder it makes, if any, is freed. */
static int new_host_encoder(const idm_encoder_ops *ops, size_t ops_size, int null_out)
{
    idm_encoder_t *encoder = NULL;
    int rc = idm_encoder_new(null_out ? NULL : &encoder, ops, ops_size, NULL, NULL);
    idm_encoder_free(&encoder);
    return rc;
}
static int bad_encoder_new_out(struct world *w)
{
    (void)w;
    return new_host_encoder(&host_encoder_ops, sizeof host_encoder_ops, 1);
}
static int bad_encoder_new_ops(struct world *w)
{
    (void)w;
    return new_host_encoder(NULL, sizeof host_encoder_ops, 0);
}
static int bad_encoder_new_ops_size(struct world *w)
{
    (void)w;
    /* Version and size, but no room for the methods. */
    return new_host_encoder(&host_encoder_ops, 8, 0);
}
static int bad_encoder_new_ops_size_without_close(struct world *w)
{
    (void)w;
    /* Every method but the last. */
    return new_host_encoder(&host_encoder_ops, offsetof(idm_encoder_ops, close), 0);
}
static int bad_encoder_new_pcsc_out(struct world *w)
{
    return idm_encoder_new_pcsc(NULL, w->live[K_CTX]);
}
static int bad_encoder_pcsc_set_reader_null(struct world *w)
{
    return idm_encoder_pcsc_set_reader(w->live[K_ENCODER], NULL);
}
static int bad_encoder_pcsc_set_reader_empty(struct world *w)
{
    return idm_encoder_pcsc_set_reader(w->live[K_ENCODER], "");
}
static int bad_encoder_pcsc_set_reader_too_long(struct world *w)
{
    return idm_encoder_pcsc_set_reader(w->live[K_ENCODER], text_of_length(256));
}
static int bad_encoder_pcsc_set_card_serial_null(struct world *w)
{
    return idm_encoder_pcsc_set_card_serial(w->live[K_ENCODER], NULL);
}
static int bad_encoder_pcsc_set_card_serial_empty(struct world *w)
{
    return idm_encoder_pcsc_set_card_serial(w->live[K_ENCODER], "");
}
static int bad_encoder_pcsc_set_card_serial_too_long(struct world *w)
{
    return idm_encoder_pcsc_set_card_serial(w->live[K_ENCODER], text_of_length(65));
}
static int bad_encoder_pcsc_set_management_key_null(struct world *w)
{
    return idm_encoder_pcsc_set_management_key(w->live[K_ENCODER], IDM_MGMT_KEY_3DES, NULL,
                                               sizeof mgmt_key_24);
}
static int bad_encoder_pcsc_set_factory_secrets_pin(struct world *w)
{
    return idm_encoder_pcsc_set_factory_secrets(w->live[K_ENCODER], NULL, "12345678");
}
static int bad_encoder_pcsc_set_factory_secrets_puk(struct world *w)
{
    return idm_encoder_pcsc_set_factory_secrets(w->live[K_ENCODER], "123456", NULL);
}
static int personalize_with_ca(struct world *w, void *ca)
{
    return idm_card_personalize(w->live[K_CARD], ACTOR, w->live[K_ENCODER], ca, 1);
}
static int bad_card_personalize_zeroed_ca(struct world *w)
{
    return personalize_with_ca(w, garbage(0));
}
static int bad_card_personalize_patterned_ca(struct world *w)
{
    return personalize_with_ca(w, garbage(1));
}
static int bad_card_personalize_buffer_as_ca(struct world *w)
{
    return personalize_with_ca(w, w->live[K_BUFFER]);
}
static int bad_card_personalize_encoder_as_ca(struct world *w)
{
    return personalize_with_ca(w, w->live[K_ENCODER]);
}
static int bad_wait_card_null_reader(struct world *w)
{
    (void)w;
    return idm_encoder_pcsc_wait_card(NULL, 0);
}
static int bad_wait_card_negative_timeout(struct world *w)
{
    (void)w;
    return idm_encoder_pcsc_wait_card("Some Reader", -1);
}
static int bad_wait_card_long_timeout(struct world *w)
{
    (void)w;
    return idm_encoder_pcsc_wait_card("Some Reader", 3600001);
}
static int bad_process_at_index(struct world *w)
{
    (void)w;
    return idm_process_at(idm_process_count(), NULL, NULL);
}
static int bad_process_steps_out(struct world *w)
{
    (void)w;
    return idm_process_steps(IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, NULL);
}
static int bad_order_add_cards_null(struct world *w)
{
    return idm_order_add_cards(w->live[K_ORDER], ACTOR, NULL, 1);
}
static int bad_order_add_cards_none(struct world *w)
{
    const int64_t ids[] = {w->card_id};
    return idm_order_add_cards(w->live[K_ORDER], ACTOR, ids, 0);
}
static int bad_order_add_cards_too_many(struct world *w)
{
    /* The count is refused before the ids are read. */
    const int64_t ids[] = {w->card_id};
    return idm_order_add_cards(w->live[K_ORDER], ACTOR, ids, 100001);
}
/* A new external order of the world's card type and option. */
static idm_order_t *external_order(struct world *w)
{
    idm_order_t *order = NULL;
    ck_assert_idm_ok(idm_order_new(w->live[K_CTX], ACTOR, IDM_ORDER_EXTERNAL, IDM_CARD_EMPLOYEE,
                                   IDM_CARD_PHYSICAL, NULL, &order));
    return order;
}
static int bad_order_add_approved_external(struct world *w)
{
    size_t added = 99;
    idm_order_t *order = external_order(w);
    int rc = idm_order_add_approved(order, ACTOR, 0, &added);
    idm_order_free(&order);
    ck_assert_uint_eq(added, 0);
    return rc;
}
static int card_outcome_with_reason(struct world *w, void *reason)
{
    return idm_order_get_card_outcome(w->live[K_ORDER], w->card_id, NULL, NULL, reason);
}
static int bad_order_get_card_outcome_zeroed_reason(struct world *w)
{
    return card_outcome_with_reason(w, garbage(0));
}
static int bad_order_get_card_outcome_patterned_reason(struct world *w)
{
    return card_outcome_with_reason(w, garbage(1));
}
static int bad_order_get_card_outcome_station_as_reason(struct world *w)
{
    return card_outcome_with_reason(w, w->live[K_STATION]);
}
/* idm_station_open() on the world's order and encoder; the station it
 * opens, if any, is freed. */
static int open_station(idm_order_t *order, const char *name, idm_encoder_t *encoder, void *ca)
{
    idm_station_t *station = NULL;
    int rc = idm_station_open(&station, order, name, encoder, ca);
    idm_station_free(&station);
    return rc;
}
static int bad_station_open_null_name(struct world *w)
{
    return open_station(w->live[K_ORDER], NULL, w->live[K_ENCODER], w->live[K_CA]);
}
static int bad_station_open_empty_name(struct world *w)
{
    return open_station(w->live[K_ORDER], "", w->live[K_ENCODER], w->live[K_CA]);
}
static int bad_station_open_long_name(struct world *w)
{
    return open_station(w->live[K_ORDER], text_of_length(65), w->live[K_ENCODER],
                        w->live[K_CA]);
}
static int bad_station_open_name_line(struct world *w)
{
    return open_station(w->live[K_ORDER], "Station\n1", w->live[K_ENCODER], w->live[K_CA]);
}
static int bad_station_open_zeroed_ca(struct world *w)
{
    return open_station(w->live[K_ORDER], "Station 2", w->live[K_ENCODER], garbage(0));
}
static int bad_station_open_patterned_ca(struct world *w)
{
    return open_station(w->live[K_ORDER], "Station 2", w->live[K_ENCODER], garbage(1));
}
static int bad_station_open_station_as_ca(struct world *w)
{
    return open_station(w->live[K_ORDER], "Station 2", w->live[K_ENCODER], w->live[K_STATION]);
}
static int bad_station_open_external_order(struct world *w)
{
    idm_order_t *order = external_order(w);
    int rc = open_station(order, "Station 2", w->live[K_ENCODER], w->live[K_CA]);
    idm_order_free(&order);
    return rc;
}
static int bad_station_open_digital_without_ca(struct world *w)
{
    idm_order_t *order = NULL;
    ck_assert_idm_ok(idm_order_new(w->live[K_CTX], ACTOR, IDM_ORDER_MASS_PRODUCTION,
                                   IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, NULL, &order));
    int rc = open_station(order, "Station 2", w->live[K_ENCODER], NULL);
    idm_order_free(&order);
    return rc;
}
static int bad_station_set_group_none(struct world *w)
{
    return idm_station_set_group(w->live[K_STATION], 0);
}
static int bad_station_set_group_too_many(struct world *w)
{
    return idm_station_set_group(w->live[K_STATION], 1001);
}
static int bad_station_cancel_reason(struct world *w)
{
    return idm_station_cancel(w->live[K_STATION], ACTOR, "\xff");
}
static int bad_station_cancel_long_reason(struct world *w)
{
    return idm_station_cancel(w->live[K_STATION], ACTOR,
                              text_of_length(IDM_ATTRIBUTE_VALUE_MAX + 1));
}
static int run_with_hooks_size(struct world *w, size_t hooks_size)
{
    const idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
    return idm_production_run(w->live[K_STATION], ACTOR, &hooks, hooks_size, NULL);
}
static int bad_production_run_hooks_size(struct world *w)
{
    /* The version, but not the size. */
    return run_with_hooks_size(w, 4);
}
static int bad_production_run_no_hooks_size(struct world *w)
{
    return run_with_hooks_size(w, 0);
}

/* ---- producers, notifiers and the external production desk ------------- */

/* A host producer and a host notifier that fail whatever they are asked,
 * in words of their own. */
static int host_submit(const char *message_id, const char *order_json, size_t len,
                       void *user_data)
{
    (void)message_id;
    (void)order_json;
    (void)len;
    (void)user_data;
    return 1;
}
static int host_status(const char *const *message_ids, size_t count, idm_bureau_report_fn report,
                       void *report_data, void *user_data)
{
    (void)message_ids;
    (void)count;
    (void)report;
    (void)report_data;
    (void)user_data;
    idm_producer_backend_error("the bureau did not answer");
    return 1;
}
static int host_cancel(const char *message_id, void *user_data)
{
    (void)message_id;
    (void)user_data;
    return 1;
}
static const idm_producer_ops host_producer_ops = {
    .version = IDM_PRODUCER_OPS_VERSION,
    .size = sizeof(idm_producer_ops),
    .submit = host_submit,
    .status = host_status,
    .cancel = host_cancel,
};
static int host_send(const char *message_id, idm_notification_kind kind, const char *to,
                     const char *subject, const char *body, void *user_data)
{
    (void)message_id;
    (void)kind;
    (void)to;
    (void)subject;
    (void)body;
    (void)user_data;
    return 1;
}
static const idm_notifier_ops host_notifier_ops = {
    .version = IDM_NOTIFIER_OPS_VERSION,
    .size = sizeof(idm_notifier_ops),
    .send = host_send,
};

/* idm_producer_new(); the producer it makes, if any, is freed. */
static int new_host_producer(const idm_producer_ops *ops, size_t ops_size, int null_out)
{
    idm_producer_t *producer = NULL;
    int rc = idm_producer_new(null_out ? NULL : &producer, ops, ops_size, NULL, NULL);
    idm_producer_free(&producer);
    return rc;
}
static int bad_producer_new_out(struct world *w)
{
    (void)w;
    return new_host_producer(&host_producer_ops, sizeof host_producer_ops, 1);
}
static int bad_producer_new_ops(struct world *w)
{
    (void)w;
    return new_host_producer(NULL, sizeof host_producer_ops, 0);
}
static int bad_producer_new_ops_size(struct world *w)
{
    (void)w;
    /* Version and size, but no room for the methods. */
    return new_host_producer(&host_producer_ops, 8, 0);
}
static int bad_producer_new_ops_size_without_status(struct world *w)
{
    (void)w;
    return new_host_producer(&host_producer_ops, offsetof(idm_producer_ops, status), 0);
}
static int bad_producer_new_without_submit(struct world *w)
{
    idm_producer_ops ops = host_producer_ops;
    (void)w;
    ops.submit = NULL;
    return new_host_producer(&ops, sizeof ops, 0);
}
static int bad_producer_new_without_status(struct world *w)
{
    idm_producer_ops ops = host_producer_ops;
    (void)w;
    ops.status = NULL;
    return new_host_producer(&ops, sizeof ops, 0);
}
static int bad_producer_backend_error_message(struct world *w)
{
    (void)w;
    return idm_producer_backend_error(NULL);
}
/* idm_producer_new_spool(); the producer it makes, if any, is freed. */
static int new_spool(const char *dir, int null_out)
{
    idm_producer_t *producer = NULL;
    int rc = idm_producer_new_spool(null_out ? NULL : &producer, dir);
    idm_producer_free(&producer);
    return rc;
}
static int bad_producer_new_spool_out(struct world *w)
{
    return new_spool(w->spool_dir, 1);
}
static int bad_producer_new_spool_null_dir(struct world *w)
{
    (void)w;
    return new_spool(NULL, 0);
}
static int bad_producer_new_spool_empty_dir(struct world *w)
{
    (void)w;
    return new_spool("", 0);
}
static int bad_producer_new_spool_long_dir(struct world *w)
{
    (void)w;
    return new_spool(text_of_length(3001), 0);
}

/* idm_notifier_new(); the notifier it makes, if any, is freed. */
static int new_host_notifier(const idm_notifier_ops *ops, size_t ops_size, int null_out)
{
    idm_notifier_t *notifier = NULL;
    int rc = idm_notifier_new(null_out ? NULL : &notifier, ops, ops_size, NULL, NULL);
    idm_notifier_free(&notifier);
    return rc;
}
static int bad_notifier_new_out(struct world *w)
{
    (void)w;
    return new_host_notifier(&host_notifier_ops, sizeof host_notifier_ops, 1);
}
static int bad_notifier_new_ops(struct world *w)
{
    (void)w;
    return new_host_notifier(NULL, sizeof host_notifier_ops, 0);
}
static int bad_notifier_new_ops_size(struct world *w)
{
    (void)w;
    /* Version and size, but no room for send. */
    return new_host_notifier(&host_notifier_ops, 8, 0);
}
static int bad_notifier_new_without_send(struct world *w)
{
    idm_notifier_ops ops = host_notifier_ops;
    (void)w;
    ops.send = NULL;
    return new_host_notifier(&ops, sizeof ops, 0);
}
static int bad_notifier_backend_error_message(struct world *w)
{
    (void)w;
    return idm_notifier_backend_error(NULL);
}
/* idm_notifier_new_maildir(); the notifier it makes, if any, is freed. */
static int new_maildir(const char *dir, const char *from, int null_out)
{
    idm_notifier_t *notifier = NULL;
    int rc = idm_notifier_new_maildir(null_out ? NULL : &notifier, dir, from);
    idm_notifier_free(&notifier);
    return rc;
}
static int bad_notifier_new_maildir_out(struct world *w)
{
    return new_maildir(w->maildir, MAIL_FROM, 1);
}
static int bad_notifier_new_maildir_null_dir(struct world *w)
{
    (void)w;
    return new_maildir(NULL, MAIL_FROM, 0);
}
static int bad_notifier_new_maildir_empty_dir(struct world *w)
{
    (void)w;
    return new_maildir("", MAIL_FROM, 0);
}
static int bad_notifier_new_maildir_long_dir(struct world *w)
{
    (void)w;
    return new_maildir(text_of_length(3001), MAIL_FROM, 0);
}
static int bad_notifier_new_maildir_null_from(struct world *w)
{
    return new_maildir(w->maildir, NULL, 0);
}
static int bad_notifier_new_maildir_empty_from(struct world *w)
{
    return new_maildir(w->maildir, "", 0);
}
static int bad_notifier_new_maildir_from_without_at(struct world *w)
{
    return new_maildir(w->maildir, "no-at-sign", 0);
}
static int bad_notifier_new_maildir_from_with_blank(struct world *w)
{
    return new_maildir(w->maildir, "a b@c", 0);
}
static int bad_notifier_new_maildir_from_in_brackets(struct world *w)
{
    return new_maildir(w->maildir, "<x@y>", 0);
}
static int bad_notifier_new_maildir_from_two_ats(struct world *w)
{
    return new_maildir(w->maildir, "cards@corp@example", 0);
}
static int bad_notifier_new_maildir_from_without_local_part(struct world *w)
{
    return new_maildir(w->maildir, "@corp.example", 0);
}
static int bad_notifier_new_maildir_from_without_domain(struct world *w)
{
    return new_maildir(w->maildir, "cards@", 0);
}
static int bad_notifier_new_maildir_from_line(struct world *w)
{
    return new_maildir(w->maildir, "cards@corp.example\nBcc: x@y", 0);
}
static int bad_notifier_new_maildir_from_utf8(struct world *w)
{
    return new_maildir(w->maildir, "k\xc3\xa4rt@corp.example", 0);
}
/* A sender of len characters: 'x's and "@corp.example". */
static const char *sender_of_length(char *from, size_t len)
{
    static const char domain[] = "@corp.example";
    memset(from, 'x', len - (sizeof domain - 1));
    memcpy(from + len - (sizeof domain - 1), domain, sizeof domain);
    return from;
}
static int bad_notifier_new_maildir_long_from(struct world *w)
{
    char from[300];
    /* One more than an address has. */
    return new_maildir(w->maildir, sender_of_length(from, 255), 0);
}

/* idm_external_new() on the world's context; the desk it makes, if any, is
 * freed. */
static int new_desk(struct world *w, void *producer, void *notifier)
{
    idm_external_t *external = NULL;
    int rc = idm_external_new(&external, w->live[K_CTX], producer, notifier);
    idm_external_free(&external);
    return rc;
}
static int bad_external_new_out(struct world *w)
{
    return idm_external_new(NULL, w->live[K_CTX], w->live[K_PRODUCER], w->live[K_NOTIFIER]);
}
static int bad_external_new_zeroed_producer(struct world *w)
{
    return new_desk(w, garbage(0), w->live[K_NOTIFIER]);
}
static int bad_external_new_patterned_producer(struct world *w)
{
    return new_desk(w, garbage(1), w->live[K_NOTIFIER]);
}
static int bad_external_new_notifier_as_producer(struct world *w)
{
    return new_desk(w, w->live[K_NOTIFIER], w->live[K_NOTIFIER]);
}
static int bad_external_new_encoder_as_producer(struct world *w)
{
    return new_desk(w, w->live[K_ENCODER], NULL);
}
static int bad_external_new_zeroed_notifier(struct world *w)
{
    return new_desk(w, w->live[K_PRODUCER], garbage(0));
}
static int bad_external_new_patterned_notifier(struct world *w)
{
    return new_desk(w, w->live[K_PRODUCER], garbage(1));
}
static int bad_external_new_producer_as_notifier(struct world *w)
{
    return new_desk(w, w->live[K_PRODUCER], w->live[K_PRODUCER]);
}
static int bad_external_new_desk_as_notifier(struct world *w)
{
    return new_desk(w, NULL, w->live[K_EXTERNAL]);
}

/* Turns external production on in the world's store. */
static void enable_external(struct world *w)
{
    ck_assert_idm_ok(idm_options_set_bool(w->live[K_CTX], ACTOR, "external_production_enabled",
                                          1));
}
/* Makes the world's identity active: cards are ordered for active ones. */
static void activate_holder(struct world *w)
{
    ck_assert_idm_ok(idm_identity_set_state(w->live[K_IDENTITY], ACTOR, IDM_IDENTITY_ACTIVE));
}

/* idm_external_order_card() for the world's identity; the card, if any, is
 * freed. */
static int order_card(struct world *w, idm_external_t *desk, idm_card_type type,
                      idm_production production)
{
    idm_card_t *card = NULL;
    int rc = idm_external_order_card(desk, ACTOR, w->identity_id, type, IDM_CARD_PHYSICAL,
                                     production, &card);
    idm_card_free(&card);
    return rc;
}
static int bad_external_order_card_visitor_non_personal(struct world *w)
{
    return order_card(w, w->live[K_EXTERNAL], IDM_CARD_VISITOR_NON_PERSONAL,
                      IDM_PRODUCTION_EXTERNAL);
}
static int bad_external_order_card_non_personal(struct world *w)
{
    return order_card(w, w->live[K_EXTERNAL], IDM_CARD_NON_PERSONAL, IDM_PRODUCTION_EXTERNAL);
}
static int bad_external_order_card_temporary(struct world *w)
{
    return order_card(w, w->live[K_EXTERNAL], IDM_CARD_TEMPORARY, IDM_PRODUCTION_EXTERNAL);
}
/* idm_external_order_batch() on the world's desk; the order, if any, is
 * freed. */
static int order_batch(struct world *w, const int64_t *ids, size_t count, idm_card_type type)
{
    idm_order_t *order = NULL;
    int rc = idm_external_order_batch(w->live[K_EXTERNAL], ACTOR, ids, count, type,
                                      IDM_CARD_PHYSICAL, NULL, NULL, &order);
    idm_order_free(&order);
    return rc;
}
static int bad_external_order_batch_null_ids(struct world *w)
{
    return order_batch(w, NULL, 1, IDM_CARD_EMPLOYEE);
}
static int bad_external_order_batch_none(struct world *w)
{
    const int64_t ids[] = {w->identity_id};
    return order_batch(w, ids, 0, IDM_CARD_EMPLOYEE);
}
static int bad_external_order_batch_too_many(struct world *w)
{
    /* The count is refused before the ids are read. */
    const int64_t ids[] = {w->identity_id};
    return order_batch(w, ids, 100001, IDM_CARD_EMPLOYEE);
}
static int bad_external_order_batch_temporary(struct world *w)
{
    const int64_t ids[] = {w->identity_id};
    return order_batch(w, ids, 1, IDM_CARD_TEMPORARY);
}
static int bad_external_order_batch_non_personal(struct world *w)
{
    const int64_t ids[] = {w->identity_id};
    return order_batch(w, ids, 1, IDM_CARD_NON_PERSONAL);
}
/* idm_external_order_temporary() on the world's desk; the order, if any,
 * is freed. */
static int order_temporary(struct world *w, size_t count, const char *name)
{
    idm_order_t *order = NULL;
    int rc = idm_external_order_temporary(w->live[K_EXTERNAL], ACTOR, IDM_CARD_PHYSICAL, count,
                                          name, &order);
    idm_order_free(&order);
    return rc;
}
static int bad_external_order_temporary_null_name(struct world *w)
{
    return order_temporary(w, 1, NULL);
}
static int bad_external_order_temporary_empty_name(struct world *w)
{
    return order_temporary(w, 1, "");
}
static int bad_external_order_temporary_name_line(struct world *w)
{
    return order_temporary(w, 1, "Temporary\ncard");
}
static int bad_external_order_temporary_name_utf8(struct world *w)
{
    return order_temporary(w, 1, "Temporary \xff");
}
static int bad_external_order_temporary_long_name(struct world *w)
{
    return order_temporary(w, 1, text_of_length(201));
}
/* The count's range is an option's: it is checked once external
 * production is on (and then before anything is ordered). */
static int bad_external_order_temporary_none(struct world *w)
{
    enable_external(w);
    return order_temporary(w, 0, "Temporary card");
}
static int bad_external_order_temporary_too_many(struct world *w)
{
    enable_external(w);
    ck_assert_idm_ok(idm_options_set_int(w->live[K_CTX], ACTOR, "temporary_cards_per_order", 9));
    return order_temporary(w, 10, "Temporary card");
}
static int bad_external_order_temporary_above_the_option(struct world *w)
{
    /* temporary_cards_per_order is 1 by default. */
    enable_external(w);
    return order_temporary(w, 2, "Temporary card");
}
static int bad_external_reject_reason_line(struct world *w)
{
    return idm_external_reject(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD], "a\nb");
}
static int bad_external_reject_reason_utf8(struct world *w)
{
    return idm_external_reject(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD], "\xff");
}
static int bad_external_reject_long_reason(struct world *w)
{
    return idm_external_reject(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD],
                               text_of_length(IDM_ATTRIBUTE_VALUE_MAX + 1));
}
static int bad_external_abort_reason_line(struct world *w)
{
    return idm_external_abort(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD], "a\nb");
}
static int bad_external_abort_long_reason(struct world *w)
{
    return idm_external_abort(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD],
                              text_of_length(IDM_ATTRIBUTE_VALUE_MAX + 1));
}
static int bad_external_withdraw_reason_line(struct world *w)
{
    return idm_external_withdraw(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD], "a\nb");
}
static int bad_external_withdraw_long_reason(struct world *w)
{
    return idm_external_withdraw(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD],
                                 text_of_length(IDM_ATTRIBUTE_VALUE_MAX + 1));
}
static int bad_external_sync_queue_no_batch(struct world *w)
{
    return idm_external_sync_queue(w->live[K_EXTERNAL], ACTOR, 0, NULL, NULL);
}
static int bad_external_sync_queue_batch_too_large(struct world *w)
{
    return idm_external_sync_queue(w->live[K_EXTERNAL], ACTOR, 1001, NULL, NULL);
}
static int activate_with_ca(struct world *w, void *ca)
{
    return idm_external_activate(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD],
                                 w->live[K_ENCODER], ca);
}
static int bad_external_activate_zeroed_ca(struct world *w)
{
    return activate_with_ca(w, garbage(0));
}
static int bad_external_activate_patterned_ca(struct world *w)
{
    return activate_with_ca(w, garbage(1));
}
static int bad_external_activate_desk_as_ca(struct world *w)
{
    return activate_with_ca(w, w->live[K_EXTERNAL]);
}
static int initialize_with_ca(struct world *w, void *ca)
{
    return idm_external_initialize_temporary(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD],
                                             w->live[K_ENCODER], ca);
}
static int bad_external_initialize_zeroed_ca(struct world *w)
{
    return initialize_with_ca(w, garbage(0));
}
static int bad_external_initialize_patterned_ca(struct world *w)
{
    return initialize_with_ca(w, garbage(1));
}
static int bad_external_initialize_producer_as_ca(struct world *w)
{
    return initialize_with_ca(w, w->live[K_PRODUCER]);
}
/* With external production on and the approval step, a card ordered by
 * ACTOR for the world's identity: it waits in requested. */
static idm_card_t *requested_card(struct world *w)
{
    idm_card_t *card = NULL;
    enable_external(w);
    activate_holder(w);
    ck_assert_idm_ok(idm_options_set_bool(w->live[K_CTX], ACTOR, "external_approval_step", 1));
    ck_assert_idm_ok(idm_external_order_card(w->live[K_EXTERNAL], ACTOR, w->identity_id,
                                             IDM_CARD_CONTRACTOR, IDM_CARD_PHYSICAL,
                                             IDM_PRODUCTION_EXTERNAL, &card));
    return card;
}
static int bad_external_approve_own_request(struct world *w)
{
    idm_card_t *card = requested_card(w);
    int rc = idm_external_approve(w->live[K_EXTERNAL], ACTOR, card);
    idm_card_free(&card);
    return rc;
}
static int bad_external_reject_own_request(struct world *w)
{
    idm_card_t *card = requested_card(w);
    int rc = idm_external_reject(w->live[K_EXTERNAL], ACTOR, card, NULL);
    idm_card_free(&card);
    return rc;
}

/* ---- layouts and printers ------------------------------------------------ */

/* idm_layout_new() on len bytes of json; the layout it makes, if any, is
 * freed. */
static int new_layout(const char *json, size_t len)
{
    idm_layout_t *layout = NULL;
    int rc = idm_layout_new(&layout, json, len, NULL);
    idm_layout_free(&layout);
    return rc;
}
static int bad_layout_new_out(struct world *w)
{
    (void)w;
    return idm_layout_new(NULL, WORLD_LAYOUT, strlen(WORLD_LAYOUT), NULL);
}
static int bad_layout_new_json(struct world *w)
{
    (void)w;
    /* Not even an empty document: NULL is refused whatever the length. */
    return new_layout(NULL, 0);
}
static int bad_layout_new_too_long(struct world *w)
{
    (void)w;
    /* The length is refused before the bytes are read. */
    return new_layout(WORLD_LAYOUT, ((size_t)1 << 20) + 1);
}
static int bad_layout_new_font_size(struct world *w)
{
    /* The header's own example of a valid document that is not a layout. */
    static const char json[] =
        "{\"format\":\"libidm-card-layout\",\"version\":1,\"name\":\"t\","
        "\"card_types\":[\"employee\"],\"front\":{\"elements\":[{\"type\":\"text\","
        "\"text\":\"x\",\"font\":{\"size\":200},"
        "\"box\":{\"x\":5,\"y\":5,\"width\":70,\"height\":10}}]}}";
    (void)w;
    return new_layout(json, strlen(json));
}
static int bad_layout_load_out(struct world *w)
{
    (void)w;
    return idm_layout_load(NULL, "/nonexistent/layout.json");
}
static int bad_layout_load_path(struct world *w)
{
    idm_layout_t *layout = NULL;
    (void)w;
    int rc = idm_layout_load(&layout, NULL);
    idm_layout_free(&layout);
    return rc;
}
/* idm_layout_render() of the world's card with the world's layout into
 * the world's buffer; each refused before anything is drawn. */
static int render(struct world *w, int format, int face, unsigned dpi)
{
    return idm_layout_render(w->live[K_LAYOUT], w->live[K_CARD], (idm_render_format)format,
                             (idm_card_face)face, dpi, w->live[K_BUFFER]);
}
static int bad_layout_render_format_negative(struct world *w)
{
    return render(w, -1, IDM_FACE_FRONT, 72);
}
static int bad_layout_render_format_past_the_last(struct world *w)
{
    return render(w, IDM_RENDER_PDF + 1, IDM_FACE_FRONT, 72);
}
static int bad_layout_render_face_negative(struct world *w)
{
    return render(w, IDM_RENDER_PNG, -1, 72);
}
static int bad_layout_render_face_past_the_last(struct world *w)
{
    return render(w, IDM_RENDER_PNG, IDM_FACE_BACK + 1, 72);
}
static int bad_layout_render_missing_back(struct world *w)
{
    /* The world's layout has a front only. */
    return render(w, IDM_RENDER_PNG, IDM_FACE_BACK, 72);
}
static int bad_layout_render_dpi_too_low(struct world *w)
{
    return render(w, IDM_RENDER_PNG, IDM_FACE_FRONT, 71);
}
static int bad_layout_render_dpi_too_high(struct world *w)
{
    return render(w, IDM_RENDER_PNG, IDM_FACE_FRONT, 1201);
}
static int bad_layout_render_dpi_zero(struct world *w)
{
    return render(w, IDM_RENDER_PNG, IDM_FACE_FRONT, 0);
}
static int bad_layout_render_dpi_max(struct world *w)
{
    return render(w, IDM_RENDER_PNG, IDM_FACE_FRONT, UINT_MAX);
}
static int bad_layout_get_name_out(struct world *w)
{
    return idm_layout_get_name(w->live[K_LAYOUT], NULL);
}

/* idm_printer_new(); the printer it makes, if any, is freed. */
static int new_host_printer(const idm_printer_ops *ops, size_t ops_size, int null_out)
{
    idm_printer_t *printer = NULL;
    int rc = idm_printer_new(null_out ? NULL : &printer, ops, ops_size, NULL, NULL);
    idm_printer_free(&printer);
    return rc;
}
static int bad_printer_new_out(struct world *w)
{
    (void)w;
    return new_host_printer(&host_printer_ops, sizeof host_printer_ops, 1);
}
static int bad_printer_new_ops(struct world *w)
{
    (void)w;
    return new_host_printer(NULL, sizeof host_printer_ops, 0);
}
static int bad_printer_new_ops_size(struct world *w)
{
    (void)w;
    /* Version and size, but no room for print. */
    return new_host_printer(&host_printer_ops, 8, 0);
}
static int bad_printer_new_no_ops_size(struct world *w)
{
    (void)w;
    return new_host_printer(&host_printer_ops, 0, 0);
}
static int bad_printer_new_without_print(struct world *w)
{
    idm_printer_ops ops = host_printer_ops;
    (void)w;
    ops.print = NULL;
    return new_host_printer(&ops, sizeof ops, 0);
}
static int bad_printer_backend_error_message(struct world *w)
{
    (void)w;
    return idm_printer_backend_error(NULL);
}
/* idm_printer_new_cups(); the printer it makes, if any, is freed.  None
 * prints, so no CUPS server is needed. */
static int new_cups(const char *queue, const char *server, int64_t timeout_ms, int null_out)
{
    idm_printer_t *printer = NULL;
    int rc = idm_printer_new_cups(null_out ? NULL : &printer, queue, server, timeout_ms);
    idm_printer_free(&printer);
    return rc;
}
#define CUPS_QUEUE "Card_Printer-1"
/* What the refusal of a queue name says. */
#define QUEUE_RULE "a CUPS queue name is 1..127 printable ASCII characters"
#define CUPS_TIMEOUT 60000
static int bad_printer_new_cups_out(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, NULL, CUPS_TIMEOUT, 1);
}
static int bad_printer_new_cups_null_queue(struct world *w)
{
    (void)w;
    return new_cups(NULL, NULL, CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_empty_queue(struct world *w)
{
    (void)w;
    return new_cups("", NULL, CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_queue_slash(struct world *w)
{
    (void)w;
    return new_cups("a/b", NULL, CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_queue_hash(struct world *w)
{
    (void)w;
    return new_cups("a#b", NULL, CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_queue_blank(struct world *w)
{
    (void)w;
    return new_cups("a b", NULL, CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_queue_tab(struct world *w)
{
    (void)w;
    return new_cups("a\tb", NULL, CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_queue_utf8(struct world *w)
{
    (void)w;
    return new_cups("K\xc3\xa4rten", NULL, CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_long_queue(struct world *w)
{
    (void)w;
    return new_cups(text_of_length(128), NULL, CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_empty_server(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, "", CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_port_zero(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, "cups:0", CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_port_too_high(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, "cups:65536", CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_port_missing(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, "cups:", CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_no_host(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, ":631", CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_unclosed_ipv6(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, "[::1", CUPS_TIMEOUT, 0);
}
static int bad_printer_new_cups_short_timeout(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, NULL, 999, 0);
}
static int bad_printer_new_cups_long_timeout(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, NULL, 3600001, 0);
}
static int bad_printer_new_cups_negative_timeout(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, NULL, INT64_MIN, 0);
}
static int bad_printer_new_cups_huge_timeout(struct world *w)
{
    (void)w;
    return new_cups(CUPS_QUEUE, NULL, INT64_MAX, 0);
}

static int set_printer(struct world *w, void *printer, void *layout)
{
    return idm_station_set_printer(w->live[K_STATION], printer, layout);
}
static int bad_station_set_printer_layout_without_printer(struct world *w)
{
    return set_printer(w, NULL, w->live[K_LAYOUT]);
}
static int bad_station_set_printer_printer_without_layout(struct world *w)
{
    return set_printer(w, w->live[K_PRINTER], NULL);
}
static int bad_station_set_printer_zeroed_printer(struct world *w)
{
    return set_printer(w, garbage(0), w->live[K_LAYOUT]);
}
static int bad_station_set_printer_patterned_printer(struct world *w)
{
    return set_printer(w, garbage(1), w->live[K_LAYOUT]);
}
static int bad_station_set_printer_layout_as_printer(struct world *w)
{
    return set_printer(w, w->live[K_LAYOUT], w->live[K_LAYOUT]);
}
static int bad_station_set_printer_encoder_as_printer(struct world *w)
{
    return set_printer(w, w->live[K_ENCODER], w->live[K_LAYOUT]);
}
/* The world's order is of employee cards. */
#define CONTRACTOR_LAYOUT LAYOUT_JSON("contractors", "\"contractor\",\"visitor\"")
static int bad_station_set_printer_layout_for_another_type(struct world *w)
{
    idm_layout_t *layout = NULL;
    ck_assert_idm_ok(idm_layout_new(&layout, CONTRACTOR_LAYOUT, strlen(CONTRACTOR_LAYOUT),
                                    NULL));
    int rc = set_printer(w, w->live[K_PRINTER], layout);
    idm_layout_free(&layout);
    return rc;
}

static const struct bad_call bad_calls[] = {
    {"idm_option_count", "'out' is NULL", bad_option_count_out},
    {"idm_option_key_at", "'index' is", bad_option_key_at_index},
    {"idm_process_name", "'out' is NULL", bad_process_name_out},
    {"idm_ctx_open_store", "'path' is NULL", bad_open_store_null_path},
    {"idm_ctx_open_store", "'path' is empty", bad_open_store_empty_path},
    {"idm_options_get_bool", "'key' is NULL", bad_options_get_bool_key},
    {"idm_options_get_int", "'key' is NULL", bad_options_get_int_key},
    {"idm_options_get_string", "'key' is NULL", bad_options_get_string_key},
    {"idm_options_set_bool", "'key' is NULL", bad_options_set_bool_key},
    {"idm_options_set_int", "'key' is NULL", bad_options_set_int_key},
    {"idm_options_set_string", "'key' is NULL", bad_options_set_string_key},
    {"idm_options_reset", "'key' is NULL", bad_options_reset_key},
    {"idm_options_get_bool", "'no_such_option' is not an option", bad_options_get_unknown_key},
    {"idm_options_get_bool", "option 'pin_length'", bad_options_get_key_of_another_type},
    {"idm_options_set_bool", "'value' is 2", bad_options_set_bool_value},
    {"idm_options_set_int", "option 'pin_length'", bad_options_set_int_value},
    {"idm_options_set_string", "'value' is NULL", bad_options_set_string_value},
    {"idm_options_reset", "'no_such_option' is not an option", bad_options_reset_unknown_key},
    {"idm_identity_new", "'external_id' is empty", bad_identity_new_external_id},
    {"idm_identity_open_external", "'external_id' is NULL", bad_identity_open_external_id},
    {"idm_identity_set_attribute", "'key' is NULL", bad_identity_set_attribute_null_key},
    {"idm_identity_set_attribute", "'key' is not an attribute key",
     bad_identity_set_attribute_key},
    {"idm_identity_set_attribute", "'value' is not valid UTF-8",
     bad_identity_set_attribute_value},
    {"idm_identity_set_attribute", "'key' is not an attribute key: 1..64",
     bad_identity_set_attribute_long_key},
    {"idm_identity_set_attribute", "'value' is longer than 4096 bytes (4097)",
     bad_identity_set_attribute_long_value},
    {"idm_identity_get_attribute", "'key' is NULL", bad_identity_get_attribute_key},
    {"idm_identity_get_attribute_at", "'index' is 1", bad_identity_get_attribute_at_index},
    {"idm_identity_set_common_name", "'value' is empty", bad_identity_set_common_name},
    {"idm_identity_set_upn", "'value' contains control character", bad_identity_set_upn},
    {"idm_identity_import_csv", "'path' is NULL", bad_import_csv_path},
    {"idm_identity_import_csv", "'id_column' is not an attribute key",
     bad_import_csv_id_column},
    {"idm_identity_import_csv", "'initial_state' is 3", bad_import_csv_terminated},
    {"idm_identity_import_csv_data", "'data' is NULL", bad_import_csv_data},
    {"idm_identity_import_csv_data", "'id_column' is not an attribute key",
     bad_import_csv_data_id_column},
    {"idm_card_new", "'name' must be NULL", bad_card_new_personal_with_name},
    {"idm_card_new", "'name' is NULL", bad_card_new_non_personal_without_name},
    {"idm_card_new", "'name' is empty", bad_card_new_non_personal_empty_name},
    {"idm_card_new", "'identity_id' must be 0", bad_card_new_non_personal_with_holder},
    {"idm_card_new", "'production' is local", bad_card_new_temporary_local},
    {"idm_card_new", "'out' is NULL", bad_card_new_out},
    {"idm_card_open_number", "'number' is NULL", bad_card_open_number},
    {"idm_card_set_chip_serial", "'serial' is NULL", bad_card_set_chip_serial_null},
    {"idm_card_set_chip_serial", "'serial' must be 1..64", bad_card_set_chip_serial_empty},
    {"idm_card_set_chip_serial", "'serial' must be 1..64", bad_card_set_chip_serial_too_long},
    {"idm_card_set_chip_serial", "'serial' has a character", bad_card_set_chip_serial_space},
    {"idm_card_set_state", "'detail' is not valid UTF-8", bad_card_set_state_detail},
    {"idm_card_set_state", "'detail' is longer than 4096 bytes", bad_card_set_state_long_detail},
    {"idm_options_set_string", "option 'common_name_template'", bad_options_set_string_template},
    {"idm_card_add_certificate", "'der' is NULL", bad_card_add_certificate_der},
    {"idm_card_add_certificate", "'der_len' is 0", bad_card_add_certificate_empty},
    {"idm_card_add_certificate", "'der_len' is 65537", bad_card_add_certificate_too_long},
    {"idm_cert_open_serial", "'serial' is NULL", bad_cert_open_serial},
    {"idm_cert_iter_new", "'out' is NULL", bad_cert_iter_new_out},
    {"idm_order_new", "'external_id' contains control character", bad_order_new_external_id},
    {"idm_order_open_external", "'external_id' is NULL", bad_order_open_external},
    {"idm_order_get_option_bool", "'key' is NULL", bad_order_get_option_bool_key},
    {"idm_order_get_option_int", "'key' is NULL", bad_order_get_option_int_key},
    {"idm_order_get_option_string", "'key' is NULL", bad_order_get_option_string_key},
    {"idm_order_get_option_string", "'no_such_option' is not an option",
     bad_order_get_option_unknown_key},
    {"idm_order_set_state", "'detail' contains control character", bad_order_set_state_detail},
    {"idm_audit_iter_set_time_range", "'to_ms' (1999) is before 'from_ms' (2000)",
     bad_audit_iter_time_range},
    {"idm_buffer_new", "'out' is NULL", bad_buffer_new_out},
    {"idm_buffer_set", "'data' is NULL", bad_buffer_set_data},
    {"idm_buffer_set", "'len' is 16777217", bad_buffer_set_too_long},
    {"idm_buffer_get", "'len' is NULL", bad_buffer_get_len},
    {"idm_ca_backend_error", "'message' is NULL", bad_ca_backend_error_message},
    {"idm_ca_new", "'out' is NULL", bad_ca_new_out},
    {"idm_ca_new", "'ops' is NULL", bad_ca_new_ops},
    {"idm_ca_new", "'ops_size' is 8", bad_ca_new_ops_size},
    {"idm_ca_new", "ops->issue is NULL", bad_ca_new_without_issue},
    {"idm_ca_new", "ops->revoke is NULL", bad_ca_new_without_revoke},
    {"idm_ca_new_openssl", "'out' is NULL", bad_ca_new_openssl_out},
    {"idm_ca_new_openssl", "'common_name' is NULL", bad_ca_new_openssl_null_name},
    {"idm_ca_new_openssl", "'common_name' is empty", bad_ca_new_openssl_empty_name},
    {"idm_ca_new_openssl", "'common_name' is longer than 64 bytes", bad_ca_new_openssl_long_name},
    {"idm_ca_new_openssl", "'common_name' contains control character",
     bad_ca_new_openssl_name_line},
    {"idm_ca_new_openssl_pem", "'cert_pem' is NULL", bad_ca_new_openssl_pem_cert},
    {"idm_ca_new_openssl_pem", "'key_pem' is NULL", bad_ca_new_openssl_pem_key},
    {"idm_ca_new_openssl_pem", "'cert_len' is 0", bad_ca_new_openssl_pem_cert_len},
    {"idm_ca_new_openssl_pem", "'key_len' is 0", bad_ca_new_openssl_pem_key_len},
    {"idm_ca_export_key", "'passphrase' is NULL", bad_ca_export_key_passphrase},
    {"idm_ca_export_key", "passphrase must be 8 to", bad_ca_export_key_short_passphrase},
    {"idm_card_issue_certificate", "'spki' is NULL", bad_card_issue_certificate_spki},
    {"idm_card_issue_certificate", "'spki' has 0 bytes", bad_card_issue_certificate_spki_len},
    {"idm_card_issue_certificate", "'spki' is not a DER SubjectPublicKeyInfo",
     bad_card_issue_certificate_short_spki},
    {"idm_card_issue_certificate", "'spki' is not a DER SubjectPublicKeyInfo",
     bad_card_issue_certificate_not_spki},
    {"idm_card_issue_certificate", "nothing after",
     bad_card_issue_certificate_trailing_byte},
    {"idm_card_issue_certificate", "keys are not supported", bad_card_issue_certificate_ed25519},
    {"idm_encoder_backend_error", "'message' is NULL", bad_encoder_backend_error_message},
    {"idm_encoder_new", "'out' is NULL", bad_encoder_new_out},
    {"idm_encoder_new", "'ops' is NULL", bad_encoder_new_ops},
    {"idm_encoder_new", "'ops_size' is 8", bad_encoder_new_ops_size},
    {"idm_encoder_new", "an idm_encoder_ops of version 1 has at least",
     bad_encoder_new_ops_size_without_close},
    {"idm_encoder_new_pcsc", "'out' is NULL", bad_encoder_new_pcsc_out},
    {"idm_encoder_pcsc_set_reader", "'name' is NULL", bad_encoder_pcsc_set_reader_null},
    {"idm_encoder_pcsc_set_reader", "'name' must be 1..255 bytes",
     bad_encoder_pcsc_set_reader_empty},
    {"idm_encoder_pcsc_set_reader", "'name' must be 1..255 bytes",
     bad_encoder_pcsc_set_reader_too_long},
    {"idm_encoder_pcsc_set_card_serial", "'serial' is NULL",
     bad_encoder_pcsc_set_card_serial_null},
    {"idm_encoder_pcsc_set_card_serial", "'serial' is 0 bytes; expected 1..64",
     bad_encoder_pcsc_set_card_serial_empty},
    {"idm_encoder_pcsc_set_card_serial", "'serial' is 65 bytes; expected 1..64",
     bad_encoder_pcsc_set_card_serial_too_long},
    {"idm_encoder_pcsc_set_management_key", "'key' is NULL",
     bad_encoder_pcsc_set_management_key_null},
    {"idm_encoder_pcsc_set_factory_secrets", "'pin' is NULL",
     bad_encoder_pcsc_set_factory_secrets_pin},
    {"idm_encoder_pcsc_set_factory_secrets", "'puk' is NULL",
     bad_encoder_pcsc_set_factory_secrets_puk},
    {"idm_card_personalize", "'ca' does not point to a live idm_ca_t",
     bad_card_personalize_zeroed_ca},
    {"idm_card_personalize", "'ca' does not point to a live idm_ca_t",
     bad_card_personalize_patterned_ca},
    {"idm_card_personalize", "'ca' does not point to a live idm_ca_t",
     bad_card_personalize_buffer_as_ca},
    {"idm_card_personalize", "'ca' does not point to a live idm_ca_t",
     bad_card_personalize_encoder_as_ca},
    {"idm_process_at", "'index' is 10", bad_process_at_index},
    {"idm_encoder_pcsc_wait_card", "'reader' is NULL", bad_wait_card_null_reader},
    {"idm_encoder_pcsc_wait_card", "'timeout_ms' is -1", bad_wait_card_negative_timeout},
    {"idm_encoder_pcsc_wait_card", "'timeout_ms' is 3600001", bad_wait_card_long_timeout},
    {"idm_process_steps", "'out' is NULL", bad_process_steps_out},
    {"idm_order_add_cards", "'card_ids' is NULL", bad_order_add_cards_null},
    {"idm_order_add_cards", "'count' is 0", bad_order_add_cards_none},
    {"idm_order_add_cards", "'count' is 100001", bad_order_add_cards_too_many},
    {"idm_order_add_approved", "is an external order", bad_order_add_approved_external},
    {"idm_order_get_card_outcome", "'reason' does not point to a live idm_buffer_t",
     bad_order_get_card_outcome_zeroed_reason},
    {"idm_order_get_card_outcome", "'reason' does not point to a live idm_buffer_t",
     bad_order_get_card_outcome_patterned_reason},
    {"idm_order_get_card_outcome", "'reason' does not point to a live idm_buffer_t",
     bad_order_get_card_outcome_station_as_reason},
    {"idm_station_open", "'name' is NULL", bad_station_open_null_name},
    {"idm_station_open", "'name' is empty", bad_station_open_empty_name},
    {"idm_station_open", "'name' is longer than 64 bytes", bad_station_open_long_name},
    {"idm_station_open", "'name' contains control character", bad_station_open_name_line},
    {"idm_station_open", "'ca' does not point to a live idm_ca_t", bad_station_open_zeroed_ca},
    {"idm_station_open", "'ca' does not point to a live idm_ca_t",
     bad_station_open_patterned_ca},
    {"idm_station_open", "'ca' does not point to a live idm_ca_t",
     bad_station_open_station_as_ca},
    {"idm_station_open", "is an external order", bad_station_open_external_order},
    {"idm_station_open", "'ca' is NULL", bad_station_open_digital_without_ca},
    {"idm_station_set_group", "'cards' is 0", bad_station_set_group_none},
    {"idm_station_set_group", "'cards' is 1001", bad_station_set_group_too_many},
    {"idm_station_cancel", "'reason' is not valid UTF-8", bad_station_cancel_reason},
    {"idm_station_cancel", "'reason' is longer than 4096 bytes",
     bad_station_cancel_long_reason},
    {"idm_production_run", "'hooks_size' is 4", bad_production_run_hooks_size},
    {"idm_production_run", "'hooks_size' is 0", bad_production_run_no_hooks_size},
    {"idm_producer_new", "'out' is NULL", bad_producer_new_out},
    {"idm_producer_new", "'ops' is NULL", bad_producer_new_ops},
    {"idm_producer_new", "'ops_size' is 8", bad_producer_new_ops_size},
    {"idm_producer_new", "an idm_producer_ops of version 1 has at least",
     bad_producer_new_ops_size_without_status},
    {"idm_producer_new", "ops->submit is NULL", bad_producer_new_without_submit},
    {"idm_producer_new", "ops->status is NULL", bad_producer_new_without_status},
    {"idm_producer_backend_error", "'message' is NULL", bad_producer_backend_error_message},
    {"idm_producer_new_spool", "'out' is NULL", bad_producer_new_spool_out},
    {"idm_producer_new_spool", "'dir' is NULL", bad_producer_new_spool_null_dir},
    {"idm_producer_new_spool", "argument 'dir' has 0 bytes", bad_producer_new_spool_empty_dir},
    {"idm_producer_new_spool", "argument 'dir' has 3001 bytes",
     bad_producer_new_spool_long_dir},
    {"idm_notifier_new", "'out' is NULL", bad_notifier_new_out},
    {"idm_notifier_new", "'ops' is NULL", bad_notifier_new_ops},
    {"idm_notifier_new", "'ops_size' is 8", bad_notifier_new_ops_size},
    {"idm_notifier_new", "ops->send is NULL", bad_notifier_new_without_send},
    {"idm_notifier_backend_error", "'message' is NULL", bad_notifier_backend_error_message},
    {"idm_notifier_new_maildir", "'out' is NULL", bad_notifier_new_maildir_out},
    {"idm_notifier_new_maildir", "'dir' is NULL", bad_notifier_new_maildir_null_dir},
    {"idm_notifier_new_maildir", "'dir' is empty", bad_notifier_new_maildir_empty_dir},
    {"idm_notifier_new_maildir", "'dir' has 3001 bytes", bad_notifier_new_maildir_long_dir},
    {"idm_notifier_new_maildir", "'from' is NULL", bad_notifier_new_maildir_null_from},
    {"idm_notifier_new_maildir", "'from' is '': is empty", bad_notifier_new_maildir_empty_from},
    {"idm_notifier_new_maildir", "'from' is 'no-at-sign': has no '@'",
     bad_notifier_new_maildir_from_without_at},
    {"idm_notifier_new_maildir", "'from' is 'a b@c': has a blank",
     bad_notifier_new_maildir_from_with_blank},
    {"idm_notifier_new_maildir", "'from' is '<x@y>': has '<'",
     bad_notifier_new_maildir_from_in_brackets},
    {"idm_notifier_new_maildir", "has more than one '@'", bad_notifier_new_maildir_from_two_ats},
    {"idm_notifier_new_maildir", "has nothing before the '@'",
     bad_notifier_new_maildir_from_without_local_part},
    {"idm_notifier_new_maildir", "has nothing after the '@'",
     bad_notifier_new_maildir_from_without_domain},
    {"idm_notifier_new_maildir", "not printable ASCII", bad_notifier_new_maildir_from_line},
    {"idm_notifier_new_maildir", "not printable ASCII", bad_notifier_new_maildir_from_utf8},
    {"idm_notifier_new_maildir", "has 255 characters", bad_notifier_new_maildir_long_from},
    {"idm_external_new", "'out' is NULL", bad_external_new_out},
    {"idm_external_new", "'producer' does not point to a live idm_producer_t",
     bad_external_new_zeroed_producer},
    {"idm_external_new", "'producer' does not point to a live idm_producer_t",
     bad_external_new_patterned_producer},
    {"idm_external_new", "'producer' does not point to a live idm_producer_t",
     bad_external_new_notifier_as_producer},
    {"idm_external_new", "'producer' does not point to a live idm_producer_t",
     bad_external_new_encoder_as_producer},
    {"idm_external_new", "'notifier' does not point to a live idm_notifier_t",
     bad_external_new_zeroed_notifier},
    {"idm_external_new", "'notifier' does not point to a live idm_notifier_t",
     bad_external_new_patterned_notifier},
    {"idm_external_new", "'notifier' does not point to a live idm_notifier_t",
     bad_external_new_producer_as_notifier},
    {"idm_external_new", "'notifier' does not point to a live idm_notifier_t",
     bad_external_new_desk_as_notifier},
    {"idm_external_order_card", "'type' is visitor_non_personal",
     bad_external_order_card_visitor_non_personal},
    {"idm_external_order_card", "'type' is non_personal", bad_external_order_card_non_personal},
    {"idm_external_order_card", "'type' is temporary", bad_external_order_card_temporary},
    {"idm_external_order_batch", "'identity_ids' is NULL", bad_external_order_batch_null_ids},
    {"idm_external_order_batch", "'count' is 0", bad_external_order_batch_none},
    {"idm_external_order_batch", "'count' is 100001", bad_external_order_batch_too_many},
    {"idm_external_order_batch", "'type' is temporary", bad_external_order_batch_temporary},
    {"idm_external_order_batch", "'type' is non_personal",
     bad_external_order_batch_non_personal},
    {"idm_external_order_temporary", "'name' is NULL", bad_external_order_temporary_null_name},
    {"idm_external_order_temporary", "'name' is empty", bad_external_order_temporary_empty_name},
    {"idm_external_order_temporary", "'name' contains control character",
     bad_external_order_temporary_name_line},
    {"idm_external_order_temporary", "'name' is not valid UTF-8",
     bad_external_order_temporary_name_utf8},
    {"idm_external_order_temporary", "'name' is longer than 200 bytes",
     bad_external_order_temporary_long_name},
    {"idm_external_order_temporary", "'count' is 0", bad_external_order_temporary_none},
    {"idm_external_order_temporary", "'count' is 10", bad_external_order_temporary_too_many},
    {"idm_external_order_temporary", "'count' is 2; expected 1..1",
     bad_external_order_temporary_above_the_option},
    {"idm_external_reject", "'reason' contains control character",
     bad_external_reject_reason_line},
    {"idm_external_reject", "'reason' is not valid UTF-8", bad_external_reject_reason_utf8},
    {"idm_external_reject", "'reason' is longer than", bad_external_reject_long_reason},
    {"idm_external_abort", "'reason' contains control character",
     bad_external_abort_reason_line},
    {"idm_external_abort", "'reason' is longer than", bad_external_abort_long_reason},
    {"idm_external_withdraw", "'reason' contains control character",
     bad_external_withdraw_reason_line},
    {"idm_external_withdraw", "'reason' is longer than", bad_external_withdraw_long_reason},
    {"idm_external_sync_queue", "'batch_size' is 0", bad_external_sync_queue_no_batch},
    {"idm_external_sync_queue", "'batch_size' is 1001",
     bad_external_sync_queue_batch_too_large},
    {"idm_external_activate", "'ca' does not point to a live idm_ca_t",
     bad_external_activate_zeroed_ca},
    {"idm_external_activate", "'ca' does not point to a live idm_ca_t",
     bad_external_activate_patterned_ca},
    {"idm_external_activate", "'ca' does not point to a live idm_ca_t",
     bad_external_activate_desk_as_ca},
    {"idm_external_initialize_temporary", "'ca' does not point to a live idm_ca_t",
     bad_external_initialize_zeroed_ca},
    {"idm_external_initialize_temporary", "'ca' does not point to a live idm_ca_t",
     bad_external_initialize_patterned_ca},
    {"idm_external_initialize_temporary", "'ca' does not point to a live idm_ca_t",
     bad_external_initialize_producer_as_ca},
    {"idm_external_approve", "another actor must decide", bad_external_approve_own_request},
    {"idm_external_reject", "another actor must decide", bad_external_reject_own_request},
    {"idm_layout_new", "'out' is NULL", bad_layout_new_out},
    {"idm_layout_new", "'json' is NULL", bad_layout_new_json},
    {"idm_layout_new", "'len' is 1048577", bad_layout_new_too_long},
    {"idm_layout_new", "front.elements[0].font.size: 200 is above 72 pt",
     bad_layout_new_font_size},
    {"idm_layout_load", "'out' is NULL", bad_layout_load_out},
    {"idm_layout_load", "'path' is NULL", bad_layout_load_path},
    {"idm_layout_get_name", "'out' is NULL", bad_layout_get_name_out},
    {"idm_layout_render", "'format' is -1", bad_layout_render_format_negative},
    {"idm_layout_render", "'format' is 2", bad_layout_render_format_past_the_last},
    {"idm_layout_render", "'face' is -1", bad_layout_render_face_negative},
    {"idm_layout_render", "'face' is 2", bad_layout_render_face_past_the_last},
    {"idm_layout_render", "the layout 't' has no back", bad_layout_render_missing_back},
    {"idm_layout_render", "71 dpi is outside 72..1200", bad_layout_render_dpi_too_low},
    {"idm_layout_render", "1201 dpi is outside 72..1200", bad_layout_render_dpi_too_high},
    {"idm_layout_render", "0 dpi is outside", bad_layout_render_dpi_zero},
    {"idm_layout_render", "4294967295 dpi is outside", bad_layout_render_dpi_max},
    {"idm_printer_new", "'out' is NULL", bad_printer_new_out},
    {"idm_printer_new", "'ops' is NULL", bad_printer_new_ops},
    {"idm_printer_new", "'ops_size' is 8", bad_printer_new_ops_size},
    {"idm_printer_new", "'ops_size' is 0", bad_printer_new_no_ops_size},
    {"idm_printer_new", "ops->print is NULL", bad_printer_new_without_print},
    {"idm_printer_backend_error", "'message' is NULL", bad_printer_backend_error_message},
    {"idm_printer_new_cups", "'out' is NULL", bad_printer_new_cups_out},
    {"idm_printer_new_cups", "'queue' is NULL", bad_printer_new_cups_null_queue},
    {"idm_printer_new_cups", QUEUE_RULE, bad_printer_new_cups_empty_queue},
    {"idm_printer_new_cups", QUEUE_RULE, bad_printer_new_cups_queue_slash},
    {"idm_printer_new_cups", QUEUE_RULE, bad_printer_new_cups_queue_hash},
    {"idm_printer_new_cups", QUEUE_RULE, bad_printer_new_cups_queue_blank},
    {"idm_printer_new_cups", QUEUE_RULE, bad_printer_new_cups_queue_tab},
    {"idm_printer_new_cups", QUEUE_RULE, bad_printer_new_cups_queue_utf8},
    {"idm_printer_new_cups", QUEUE_RULE, bad_printer_new_cups_long_queue},
    {"idm_printer_new_cups", "'server' must be NULL or 1..", bad_printer_new_cups_empty_server},
    {"idm_printer_new_cups", "'server' is 'cups:0': the port is not 1..65535",
     bad_printer_new_cups_port_zero},
    {"idm_printer_new_cups", "'server' is 'cups:65536': the port is not 1..65535",
     bad_printer_new_cups_port_too_high},
    {"idm_printer_new_cups", "'server' is 'cups:': the port is not 1..65535",
     bad_printer_new_cups_port_missing},
    {"idm_printer_new_cups", "'server' is ':631': no host name", bad_printer_new_cups_no_host},
    {"idm_printer_new_cups", "'server' is '[::1': an IPv6 address goes as",
     bad_printer_new_cups_unclosed_ipv6},
    {"idm_printer_new_cups", "'timeout_ms' is 999", bad_printer_new_cups_short_timeout},
    {"idm_printer_new_cups", "'timeout_ms' is 3600001", bad_printer_new_cups_long_timeout},
    {"idm_printer_new_cups", "'timeout_ms' is -9223372036854775808",
     bad_printer_new_cups_negative_timeout},
    {"idm_printer_new_cups", "'timeout_ms' is 9223372036854775807",
     bad_printer_new_cups_huge_timeout},
    {"idm_station_set_printer", "'layout' is given without a printer",
     bad_station_set_printer_layout_without_printer},
    {"idm_station_set_printer", "'layout' is NULL",
     bad_station_set_printer_printer_without_layout},
    {"idm_station_set_printer", "'printer' does not point to a live idm_printer_t",
     bad_station_set_printer_zeroed_printer},
    {"idm_station_set_printer", "'printer' does not point to a live idm_printer_t",
     bad_station_set_printer_patterned_printer},
    {"idm_station_set_printer", "'printer' does not point to a live idm_printer_t",
     bad_station_set_printer_layout_as_printer},
    {"idm_station_set_printer", "'printer' does not point to a live idm_printer_t",
     bad_station_set_printer_encoder_as_printer},
    {"idm_station_set_printer", "layout 'contractors' does not serve employee cards",
     bad_station_set_printer_layout_for_another_type},
};
#define N_BAD_CALLS (sizeof bad_calls / sizeof bad_calls[0])

START_TEST(test_functions_refuse_malformed_arguments)
{
    const struct bad_call *c = &bad_calls[_i];
    struct world w;
    world_open(&w);
    ck_assert_idm_error(c->call(&w), IDM_ERR_INVALID_ARG, c->name);
    ck_assert_message_mentions(c->needle);
    world_close(&w);
}
END_TEST

/* A call that must fail with code and a message naming the function and
 * the needle. */
struct coded_call {
    const char *name;
    int code;
    const char *needle;
    int (*call)(struct world *w);
};

/* ---- what a CA cannot do ------------------------------------------------ */

static int unsupported_ca_new_version(struct world *w)
{
    idm_ca_ops ops = host_ops;
    (void)w;
    ops.version = 99;
    return new_host_ca(&ops, sizeof ops, 0);
}
static int unsupported_host_ca_get_certificate(struct world *w)
{
    return idm_ca_get_certificate(w->host_ca, w->live[K_BUFFER]);
}
static int unsupported_host_ca_export_key(struct world *w)
{
    return idm_ca_export_key(w->host_ca, passphrase_from, PASSPHRASE, w->live[K_BUFFER]);
}
static int unsupported_host_ca_hold(struct world *w)
{
    return idm_cert_hold(w->live[K_CERT], ACTOR, w->host_ca);
}
static int unsupported_host_ca_release(struct world *w)
{
    return idm_cert_release(w->live[K_CERT], ACTOR, w->host_ca);
}
static int unsupported_host_ca_crl(struct world *w)
{
    return idm_ca_generate_crl(w->host_ca, w->live[K_CTX], 24, w->live[K_BUFFER]);
}
static int unsupported_encoder_new_version(struct world *w)
{
    idm_encoder_ops ops = host_encoder_ops;
    (void)w;
    ops.version = 2;
    return new_host_encoder(&ops, sizeof ops, 0);
}
static int unsupported_host_encoder_set_reader(struct world *w)
{
    return idm_encoder_pcsc_set_reader(w->host_encoder, NO_SUCH_READER);
}
static int unsupported_host_encoder_set_reader_index(struct world *w)
{
    return idm_encoder_pcsc_set_reader_index(w->host_encoder, 0);
}
static int unsupported_host_encoder_set_card_serial(struct world *w)
{
    return idm_encoder_pcsc_set_card_serial(w->host_encoder, "CHIP-0001");
}
static int unsupported_host_encoder_set_management_key(struct world *w)
{
    return idm_encoder_pcsc_set_management_key(w->host_encoder, IDM_MGMT_KEY_3DES, mgmt_key_24,
                                               sizeof mgmt_key_24);
}
static int unsupported_host_encoder_set_factory_secrets(struct world *w)
{
    return idm_encoder_pcsc_set_factory_secrets(w->host_encoder, "123456", "12345678");
}
static int no_revocation_of_a_valid_certificate(struct world *w)
{
    idm_revocation_reason reason = IDM_REVOKE_UNSPECIFIED;
    ck_assert_idm_ok(idm_cert_release(w->live[K_CERT], ACTOR, w->live[K_CA]));
    return idm_cert_get_revocation(w->live[K_CERT], &reason, NULL);
}

static int unsupported_production_hooks_version(struct world *w)
{
    idm_production_hooks hooks = IDM_PRODUCTION_HOOKS_INIT;
    hooks.version = 99;
    return idm_production_run(w->live[K_STATION], ACTOR, &hooks, sizeof hooks, NULL);
}

static int unsupported_producer_new_version(struct world *w)
{
    idm_producer_ops ops = host_producer_ops;
    (void)w;
    ops.version = 99;
    return new_host_producer(&ops, sizeof ops, 0);
}
static int unsupported_notifier_new_version(struct world *w)
{
    idm_notifier_ops ops = host_notifier_ops;
    (void)w;
    ops.version = 99;
    return new_host_notifier(&ops, sizeof ops, 0);
}
static int no_spool_directory(struct world *w)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/missing", w->spool_dir);
    return new_spool(dir, 0);
}
static int spool_directory_not_a_folder(struct world *w)
{
    (void)w;
    return new_spool("/dev/null", 0);
}
static int no_maildir_parent(struct world *w)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/missing/maildir", w->maildir);
    return new_maildir(dir, MAIL_FROM, 0);
}
static int maildir_not_a_folder(struct world *w)
{
    (void)w;
    return new_maildir("/dev/null", MAIL_FROM, 0);
}

static const struct coded_call unsupported_calls[] = {
    {"idm_ca_new", IDM_ERR_UNSUPPORTED, "ops->version is 99", unsupported_ca_new_version},
    {"idm_ca_get_certificate", IDM_ERR_UNSUPPORTED, "a host CA keeps its own certificate",
     unsupported_host_ca_get_certificate},
    {"idm_ca_export_key", IDM_ERR_UNSUPPORTED, "a host CA keeps its own key",
     unsupported_host_ca_export_key},
    {"idm_cert_hold", IDM_ERR_UNSUPPORTED, "no hold method", unsupported_host_ca_hold},
    {"idm_cert_release", IDM_ERR_UNSUPPORTED, "no release method", unsupported_host_ca_release},
    {"idm_ca_generate_crl", IDM_ERR_UNSUPPORTED, "no crl method", unsupported_host_ca_crl},
    {"idm_cert_get_revocation", IDM_ERR_STATE, "neither revoked nor on hold",
     no_revocation_of_a_valid_certificate},
    {"idm_encoder_new", IDM_ERR_UNSUPPORTED, "ops->version is 2", unsupported_encoder_new_version},
    {"idm_encoder_pcsc_set_reader", IDM_ERR_UNSUPPORTED, "the encoder is a host encoder",
     unsupported_host_encoder_set_reader},
    {"idm_encoder_pcsc_set_reader_index", IDM_ERR_UNSUPPORTED, "the encoder is a host encoder",
     unsupported_host_encoder_set_reader_index},
    {"idm_encoder_pcsc_set_card_serial", IDM_ERR_UNSUPPORTED, "the encoder is a host encoder",
     unsupported_host_encoder_set_card_serial},
    {"idm_encoder_pcsc_set_management_key", IDM_ERR_UNSUPPORTED,
     "the encoder is a host encoder", unsupported_host_encoder_set_management_key},
    {"idm_encoder_pcsc_set_factory_secrets", IDM_ERR_UNSUPPORTED,
     "the encoder is a host encoder", unsupported_host_encoder_set_factory_secrets},
    {"idm_production_run", IDM_ERR_UNSUPPORTED, "hooks->version is 99",
     unsupported_production_hooks_version},
    {"idm_producer_new", IDM_ERR_UNSUPPORTED, "ops->version is 99",
     unsupported_producer_new_version},
    {"idm_notifier_new", IDM_ERR_UNSUPPORTED, "ops->version is 99",
     unsupported_notifier_new_version},
    {"idm_producer_new_spool", IDM_ERR_IO, "cannot open the spool directory", no_spool_directory},
    {"idm_producer_new_spool", IDM_ERR_IO, "cannot open the spool directory '/dev/null'",
     spool_directory_not_a_folder},
    {"idm_notifier_new_maildir", IDM_ERR_IO, "cannot create the maildir", no_maildir_parent},
    {"idm_notifier_new_maildir", IDM_ERR_IO, "cannot open the maildir /dev/null",
     maildir_not_a_folder},
};
#define N_UNSUPPORTED_CALLS (sizeof unsupported_calls / sizeof unsupported_calls[0])

START_TEST(test_backends_refuse_what_they_cannot_do)
{
    const struct coded_call *c = &unsupported_calls[_i];
    struct world w;
    world_open(&w);
    ck_assert_idm_error(c->call(&w), c->code, c->name);
    ck_assert_message_mentions(c->needle);
    world_close(&w);
}
END_TEST

static int destroyed;
static void count_destroy(void *user_data)
{
    ck_assert_ptr_eq(user_data, &destroyed);
    destroyed++;
}

START_TEST(test_ca_new_accepts_the_smallest_table_and_free_destroys_once)
{
    /* A host compiled against a table of issue and revoke only. */
    const size_t smallest = offsetof(idm_ca_ops, revoke) + sizeof host_ops.revoke;
    idm_ca_t *ca = NULL;
    destroyed = 0;
    ck_assert_idm_ok(idm_ca_new(&ca, &host_ops, smallest, &destroyed, count_destroy));
    ck_assert_ptr_nonnull(ca);
    ck_assert_int_eq(destroyed, 0);
    idm_ca_free(&ca);
    ck_assert_ptr_null(ca);
    ck_assert_int_eq(destroyed, 1);
    idm_ca_free(&ca);
    idm_ca_free(NULL);
    ck_assert_int_eq(destroyed, 1);
    ck_assert_idm_ok(idm_ca_backend_error("outside a method: kept for the next one"));
}
END_TEST

/* ---- encoders ------------------------------------------------------------ */

START_TEST(test_encoder_new_takes_a_whole_table_and_free_destroys_once)
{
    /* Every method of version 1 but generate_key and sign is required, and
     * close is the last: the smallest table is the whole of it. */
    const size_t smallest = offsetof(idm_encoder_ops, close) + sizeof host_encoder_ops.close;
    idm_encoder_t *encoder = NULL;
    destroyed = 0;
    ck_assert_idm_ok(idm_encoder_new(&encoder, &host_encoder_ops, smallest, &destroyed,
                                     count_destroy));
    ck_assert_ptr_nonnull(encoder);
    ck_assert_int_eq(destroyed, 0);
    idm_encoder_free(&encoder);
    ck_assert_ptr_null(encoder);
    ck_assert_int_eq(destroyed, 1);
    idm_encoder_free(&encoder);
    idm_encoder_free(NULL);
    ck_assert_int_eq(destroyed, 1);
    ck_assert_idm_ok(idm_encoder_backend_error("outside a method: kept for the next one"));

    /* A host compiled against newer headers, with a longer table. */
    struct {
        idm_encoder_ops ops;
        void (*later[4])(void);
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.ops = host_encoder_ops;
    newer.ops.size = (uint32_t)sizeof newer;
    ck_assert_idm_ok(idm_encoder_new(&encoder, &newer.ops, sizeof newer, NULL, NULL));
    idm_encoder_free(&encoder);
    ck_assert_ptr_null(encoder);
}
END_TEST

/* The methods idm_encoder_new() requires, in the order it checks them. */
static const char *const required_encoder_methods[] = {
    "open", "card_serial", "write_certificate", "write_object",
    "read_object", "set_pin", "verify_pin", "close"};
#define N_REQUIRED_ENCODER_METHODS \
    (sizeof required_encoder_methods / sizeof required_encoder_methods[0])

static void drop_encoder_method(idm_encoder_ops *ops, size_t i)
{
    switch (i) {
    case 0: ops->open = NULL; break;
    case 1: ops->card_serial = NULL; break;
    case 2: ops->write_certificate = NULL; break;
    case 3: ops->write_object = NULL; break;
    case 4: ops->read_object = NULL; break;
    case 5: ops->set_pin = NULL; break;
    case 6: ops->verify_pin = NULL; break;
    default: ops->close = NULL; break;
    }
}

START_TEST(test_encoder_new_names_a_missing_method)
{
    idm_encoder_ops ops = host_encoder_ops;
    char needle[64];
    drop_encoder_method(&ops, (size_t)_i);
    snprintf(needle, sizeof needle, "ops->%s is NULL", required_encoder_methods[_i]);
    ck_assert_idm_error(new_host_encoder(&ops, sizeof ops, 0), IDM_ERR_INVALID_ARG,
                        "idm_encoder_new");
    ck_assert_message_mentions(needle);
}
END_TEST

START_TEST(test_host_encoders_take_the_common_settings)
{
    struct world w;
    uint64_t apdus = 1, bytes = 1, card_us = 1;
    world_open(&w);
    ck_assert_idm_ok(idm_encoder_set_timeout(w.host_encoder, 0));
    ck_assert_idm_ok(idm_encoder_set_timeout(w.host_encoder, 3600000));
    ck_assert_idm_ok(idm_encoder_set_pin_callbacks(w.host_encoder, NULL, NULL, NULL));
    ck_assert_idm_ok(idm_encoder_set_pin_callbacks(w.host_encoder, enter_pin, deliver_pin, &w));
    ck_assert_idm_ok(idm_encoder_get_stats(w.host_encoder, &apdus, &bytes, &card_us));
    ck_assert_uint_eq(apdus, 0);
    ck_assert_uint_eq(bytes, 0);
    ck_assert_uint_eq(card_us, 0);
    ck_assert_idm_ok(idm_encoder_get_stats(w.host_encoder, NULL, NULL, NULL));
    ck_assert_idm_ok(idm_encoder_reset_stats(w.host_encoder));
    ck_assert_int_eq(host_encoder_calls, 0);
    world_close(&w);
}
END_TEST

START_TEST(test_management_key_must_fit_its_algorithm)
{
    static const unsigned char key[40] = {0};
    const struct {
        idm_mgmt_key_alg alg;
        size_t len;
    } algs[] = {{IDM_MGMT_KEY_3DES, 24},
                {IDM_MGMT_KEY_AES128, 16},
                {IDM_MGMT_KEY_AES192, 24},
                {IDM_MGMT_KEY_AES256, 32}};
    /* PIV algorithm identifiers that are not management keys (0x07 and 0x11
     * are card keys), and values no enum has. */
    const int bad_algs[] = {0x00, 0x01, 0x02, 0x04, 0x07, 0x09, 0x0B, 0x0D, 0x11, -1, INT_MAX};
    struct world w;
    world_open(&w);
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        const size_t wrong[] = {0, 1, algs[i].len - 1, algs[i].len + 1, 8, sizeof key};
        for (size_t j = 0; j < sizeof wrong / sizeof wrong[0]; j++) {
            char needle[64];
            snprintf(needle, sizeof needle, "'len' is %zu;", wrong[j]);
            ck_assert_idm_error(idm_encoder_pcsc_set_management_key(w.live[K_ENCODER],
                                                                    algs[i].alg, key, wrong[j]),
                                IDM_ERR_INVALID_ARG, "idm_encoder_pcsc_set_management_key");
            ck_assert_message_mentions(needle);
            snprintf(needle, sizeof needle, "has %zu bytes", algs[i].len);
            ck_assert_message_mentions(needle);
        }
        ck_assert_idm_ok(idm_encoder_pcsc_set_management_key(w.live[K_ENCODER], algs[i].alg,
                                                             key, algs[i].len));
    }
    for (size_t i = 0; i < sizeof bad_algs / sizeof bad_algs[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "'alg' is 0x%02X", (unsigned)bad_algs[i]);
        ck_assert_idm_error(idm_encoder_pcsc_set_management_key(
                                w.live[K_ENCODER], (idm_mgmt_key_alg)bad_algs[i], key, 24),
                            IDM_ERR_INVALID_ARG, "idm_encoder_pcsc_set_management_key");
        ck_assert_message_mentions(needle);
    }
    world_close(&w);
}
END_TEST

/* Malformed factory secrets: the message says what is wrong, never what the
 * secret is. */
static const struct {
    const char *pin, *puk;
    const char *needle;
    const char *secret; /* must not appear in the message */
} bad_factory_secrets[] = {
    {"937", "12345678", "'pin' has 3 characters; expected 4..8", "937"},
    {"937051846", "12345678", "'pin' has 9 characters; expected 4..8", "937051846"},
    {"", "12345678", "'pin' has 0 characters; expected 4..8", NULL},
    {"93a7", "12345678", "'pin' has a character other than a digit at position 3", "93a7"},
    {"9371 ", "12345678", "'pin' has a character other than a digit at position 5", "9371"},
    {"123456", "864208642", "'puk' has 9 characters; expected 1..8", "864208642"},
    {"123456", "", "'puk' has 0 characters; expected 1..8", NULL},
    {"123456", "8642\t86", "'puk' has a character other than printable ASCII at position 5",
     "8642"},
    {"123456", "8642\xc3\xa9", "'puk' has a character other than printable ASCII at position 5",
     "8642"},
};
#define N_BAD_FACTORY_SECRETS (sizeof bad_factory_secrets / sizeof bad_factory_secrets[0])

START_TEST(test_factory_secrets_are_refused_without_being_echoed)
{
    struct world w;
    world_open(&w);
    ck_assert_idm_error(idm_encoder_pcsc_set_factory_secrets(w.live[K_ENCODER],
                                                             bad_factory_secrets[_i].pin,
                                                             bad_factory_secrets[_i].puk),
                        IDM_ERR_INVALID_ARG, "idm_encoder_pcsc_set_factory_secrets");
    ck_assert_message_mentions(bad_factory_secrets[_i].needle);
    if (bad_factory_secrets[_i].secret != NULL)
        ck_assert_msg(strstr(idm_last_error_message(), bad_factory_secrets[_i].secret) == NULL,
                      "error message \"%s\" gives the secret away",
                      idm_last_error_message());
    /* The ends of the ranges are accepted. */
    ck_assert_idm_ok(idm_encoder_pcsc_set_factory_secrets(w.live[K_ENCODER], "1234", "x"));
    ck_assert_idm_ok(idm_encoder_pcsc_set_factory_secrets(w.live[K_ENCODER], "12345678",
                                                          "a b~!@#$"));
    world_close(&w);
}
END_TEST

START_TEST(test_list_readers_answers_whether_or_not_pcscd_runs)
{
    /* With a live buffer the answer depends on the machine: pcscd's readers
     * (maybe none), or IDM_ERR_CARD when no pcscd runs.  Either way the
     * count and the buffer agree. */
    idm_buffer_t *names = NULL;
    size_t count = 99;
    ck_assert_idm_ok(idm_buffer_new(&names));
    ck_assert_idm_ok(idm_buffer_set(names, "old", 3));
    int rc = idm_encoder_pcsc_list_readers(names, &count);
    ck_assert_msg(rc == IDM_OK || rc == IDM_ERR_CARD, "expected IDM_OK or IDM_ERR_CARD, got %s: %s",
                  idm_strerror_name(rc), idm_last_error_message());
    if (rc == IDM_ERR_CARD) {
        ck_assert_message_mentions("idm_encoder_pcsc_list_readers");
        ck_assert_uint_eq(count, 0);
    } else {
        const unsigned char *data = NULL;
        size_t len = 0, seen = 0;
        ck_assert_idm_ok(idm_buffer_get(names, &data, &len));
        for (size_t at = 0; at < len; seen++) {
            const unsigned char *end = memchr(data + at, '\0', len - at);
            ck_assert_msg(end != NULL, "reader name %zu is not NUL-terminated", seen);
            ck_assert_msg(end > data + at, "reader name %zu is empty", seen);
            at = (size_t)(end - data) + 1;
        }
        ck_assert_uint_eq(seen, count);
    }
    idm_buffer_free(&names);
}
END_TEST

START_TEST(test_piv_slots_have_their_documented_names)
{
    const int unknown[] = {0, 0x99, 0x9B, 0x9F, 0x82, -1, INT_MAX, INT_MIN};
    ck_assert_str_eq(idm_piv_slot_name(IDM_PIV_SLOT_AUTHENTICATION), "9A authentication");
    ck_assert_str_eq(idm_piv_slot_name(IDM_PIV_SLOT_SIGNATURE), "9C signature");
    ck_assert_str_eq(idm_piv_slot_name(IDM_PIV_SLOT_KEY_MANAGEMENT), "9D key management");
    ck_assert_str_eq(idm_piv_slot_name(IDM_PIV_SLOT_CARD_AUTHENTICATION),
                     "9E card authentication");
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *name = idm_piv_slot_name((idm_piv_slot)unknown[i]);
        ck_assert_msg(name != NULL && strcmp(name, "unknown") == 0,
                      "idm_piv_slot_name(%d) gave \"%s\"", unknown[i],
                      name != NULL ? name : "(null)");
    }
}
END_TEST

/* ---- personalizations refused before the encoder is opened --------------- */

/* The message of the last personalization below, kept across the calls
 * that check the card afterwards. */
static char personalize_message[2048];

/* Personalizes card with encoder and ca; the refusal must leave the card's
 * state alone. */
static int personalize_and_keep_state(idm_card_t *card, idm_encoder_t *encoder, idm_ca_t *ca)
{
    idm_card_state before, after;
    ck_assert_idm_ok(idm_card_get_state(card, &before));
    int rc = idm_card_personalize(card, ACTOR, encoder, ca, 1);
    snprintf(personalize_message, sizeof personalize_message, "%s", idm_last_error_message());
    ck_assert_idm_ok(idm_card_refresh(card));
    ck_assert_idm_ok(idm_card_get_state(card, &after));
    ck_assert_int_eq(after, before);
    return rc;
}

/* The same with a card made for it: non-personal, moved to approved unless
 * produced externally. */
static int personalize_new_card(struct world *w, idm_card_option option,
                                idm_production production, idm_encoder_t *encoder, idm_ca_t *ca)
{
    static const idm_card_state to_approved[] = {IDM_CARD_REQUESTED, IDM_CARD_APPROVED};
    idm_card_t *card = NULL;
    ck_assert_idm_ok(idm_card_new(w->live[K_CTX], ACTOR, IDM_CARD_NON_PERSONAL, option,
                                  production, 0, "Room 2", &card));
    for (size_t i = 0; production == IDM_PRODUCTION_LOCAL && i < 2; i++)
        ck_assert_idm_ok(idm_card_set_state(card, ACTOR, to_approved[i], NULL));
    int rc = personalize_and_keep_state(card, encoder, ca);
    idm_card_free(&card);
    return rc;
}

static int refused_registered_card(struct world *w)
{
    /* The host encoder has both callbacks: only the card's state is wrong. */
    ck_assert_idm_ok(idm_encoder_set_pin_callbacks(w->host_encoder, enter_pin, deliver_pin,
                                                   NULL));
    return personalize_and_keep_state(w->live[K_CARD], w->host_encoder, NULL);
}
static int refused_registered_card_builtin(struct world *w)
{
    ck_assert_idm_ok(idm_encoder_set_pin_callbacks(w->live[K_ENCODER], enter_pin, deliver_pin,
                                                   NULL));
    return personalize_and_keep_state(w->live[K_CARD], w->live[K_ENCODER], w->live[K_CA]);
}
static int refused_external_card(struct world *w)
{
    ck_assert_idm_ok(idm_encoder_set_pin_callbacks(w->host_encoder, enter_pin, deliver_pin,
                                                   NULL));
    return personalize_new_card(w, IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, w->host_encoder,
                                NULL);
}
static int refused_without_delivery(struct world *w)
{
    ck_assert_idm_ok(idm_encoder_set_pin_callbacks(w->host_encoder, enter_pin, NULL, NULL));
    return personalize_new_card(w, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL, w->host_encoder,
                                NULL);
}
static int refused_without_delivery_builtin(struct world *w)
{
    /* The world's built-in encoder has no callbacks. */
    return personalize_new_card(w, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL, w->live[K_ENCODER],
                                NULL);
}
static int refused_without_entry(struct world *w)
{
    /* pin_source is 'user' by default: the cardholder's PIN is entered. */
    ck_assert_idm_ok(idm_encoder_set_pin_callbacks(w->host_encoder, NULL, deliver_pin, NULL));
    return personalize_new_card(w, IDM_CARD_PHYSICAL, IDM_PRODUCTION_LOCAL, w->host_encoder,
                                NULL);
}
static int refused_digital_without_ca(struct world *w)
{
    ck_assert_idm_ok(idm_encoder_set_pin_callbacks(w->live[K_ENCODER], enter_pin, deliver_pin,
                                                   NULL));
    return personalize_new_card(w, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL, w->live[K_ENCODER],
                                NULL);
}
static int refused_digital_without_generate_key(struct world *w)
{
    ck_assert_idm_ok(idm_encoder_set_pin_callbacks(w->host_encoder, enter_pin, deliver_pin,
                                                   NULL));
    return personalize_new_card(w, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL, w->host_encoder,
                                w->live[K_CA]);
}

static const struct coded_call personalize_refusals[] = {
    {"idm_card_personalize", IDM_ERR_STATE, "personalization starts from 'approved'",
     refused_registered_card},
    {"idm_card_personalize", IDM_ERR_STATE, "personalization starts from 'approved'",
     refused_registered_card_builtin},
    {"idm_card_personalize", IDM_ERR_STATE, "produced externally", refused_external_card},
    {"idm_card_personalize", IDM_ERR_STATE, "no PIN delivery callback", refused_without_delivery},
    {"idm_card_personalize", IDM_ERR_STATE, "no PIN delivery callback",
     refused_without_delivery_builtin},
    {"idm_card_personalize", IDM_ERR_STATE, "no PIN entry callback", refused_without_entry},
    {"idm_card_personalize", IDM_ERR_STATE, "argument 'ca' is NULL", refused_digital_without_ca},
    {"idm_card_personalize", IDM_ERR_STATE, "has no generate_key method",
     refused_digital_without_generate_key},
};
#define N_PERSONALIZE_REFUSALS (sizeof personalize_refusals / sizeof personalize_refusals[0])

START_TEST(test_personalize_refuses_before_the_encoder_is_opened)
{
    const struct coded_call *c = &personalize_refusals[_i];
    uint64_t apdus = 1, bytes = 1, card_us = 1;
    struct world w;
    world_open(&w);
    int rc = c->call(&w);
    ck_assert_msg(rc == c->code, "expected %s, got %s: %s", idm_strerror_name(c->code),
                  idm_strerror_name(rc), personalize_message);
    ck_assert_msg(strstr(personalize_message, c->name) != NULL &&
                      strstr(personalize_message, c->needle) != NULL,
                  "error message \"%s\" does not mention \"%s\" and \"%s\"",
                  personalize_message, c->name, c->needle);
    /* Neither encoder did anything: no method called, no APDU, no time. */
    ck_assert_int_eq(host_encoder_calls, 0);
    ck_assert_idm_ok(idm_encoder_get_stats(w.live[K_ENCODER], &apdus, &bytes, &card_us));
    ck_assert_uint_eq(apdus, 0);
    ck_assert_uint_eq(bytes, 0);
    ck_assert_uint_eq(card_us, 0);
    world_close(&w);
}
END_TEST

/* ---- stations ------------------------------------------------------------- */

START_TEST(test_station_settings_take_the_ends_of_their_ranges)
{
    char needle[64];
    idm_station_t *station = NULL;
    struct world w;
    world_open(&w);
    ck_assert_idm_ok(idm_station_set_group(w.live[K_STATION], 1));
    ck_assert_idm_ok(idm_station_set_group(w.live[K_STATION], 1000));
    snprintf(needle, sizeof needle, "'cards' is %zu", (size_t)SIZE_MAX);
    ck_assert_idm_error(idm_station_set_group(w.live[K_STATION], SIZE_MAX), IDM_ERR_INVALID_ARG,
                        "idm_station_set_group");
    ck_assert_message_mentions(needle);
    ck_assert_idm_error(idm_station_set_lease(w.live[K_STATION], INT64_MAX), IDM_ERR_INVALID_ARG,
                        "idm_station_set_lease");
    ck_assert_message_mentions("'lease_ms' is 9223372036854775807");
    ck_assert_idm_ok(idm_station_set_readiness(w.live[K_STATION], NULL, NULL));
    /* The reason may be NULL; without a card, cancelling is a no-op. */
    ck_assert_idm_ok(idm_station_cancel(w.live[K_STATION], ACTOR, NULL));
    /* The longest name, and no CA for a Physical ID order. */
    ck_assert_idm_ok(idm_station_open(&station, w.live[K_ORDER], text_of_length(64),
                                      w.live[K_ENCODER], NULL));
    ck_assert_ptr_nonnull(station);
    idm_station_free(&station);
    ck_assert_ptr_null(station);
    idm_station_free(&station);
    world_close(&w);
}
END_TEST

/* Counts its calls in the int user_data points to; asks for no more cards. */
static int count_complete_or_more(const idm_order_t *order, int *more, void *user_data)
{
    (void)order;
    *more = 0;
    (*(int *)user_data)++;
    return 0;
}

START_TEST(test_production_run_takes_older_and_newer_hooks_tables)
{
    struct world w;
    int calls = 0;
    world_open(&w);
    /* No table: the size is not looked at.  The order has no card, so the
     * run completes it, and later runs find it completed. */
    ck_assert_idm_ok(idm_production_run(w.live[K_STATION], ACTOR, NULL, 0, NULL));

    /* A host compiled against a table of version and size only: the
     * library reads no further, so the hook past the size is not called. */
    idm_production_hooks older = IDM_PRODUCTION_HOOKS_INIT;
    older.complete_or_more = count_complete_or_more;
    older.size = (uint32_t)offsetof(idm_production_hooks, ready);
    ck_assert_idm_ok(idm_production_run(w.live[K_STATION], ACTOR, &older,
                                        offsetof(idm_production_hooks, ready), &calls));
    ck_assert_int_eq(calls, 0);

    /* A host compiled against newer headers, with a longer table. */
    struct {
        idm_production_hooks hooks;
        void (*later[4])(void);
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.hooks.version = IDM_PRODUCTION_HOOKS_VERSION;
    newer.hooks.size = (uint32_t)sizeof newer;
    newer.hooks.complete_or_more = count_complete_or_more;
    ck_assert_idm_ok(idm_production_run(w.live[K_STATION], ACTOR, &newer.hooks, sizeof newer,
                                        &calls));
    ck_assert_int_eq(calls, 1);
    world_close(&w);
}
END_TEST

/* ---- layouts, printers and stations that print ------------------------------ */

/* The message of a refusal, kept across the calls that follow it; empty
 * when the refusal's own message is still the thread's. */
static char print_refusal_message[1024];

static int unparsable_layout(struct world *w)
{
    (void)w;
    return new_layout("{\"format\":", strlen("{\"format\":"));
}
static int empty_layout(struct world *w)
{
    (void)w;
    return new_layout("", 0);
}
static int layout_cut_short_by_len(struct world *w)
{
    (void)w;
    /* Everything but the closing brace: the bytes past len are not read. */
    return new_layout(WORLD_LAYOUT, strlen(WORLD_LAYOUT) - 1);
}
#define MISSING_LAYOUT "/nonexistent/libidm-test/layout.json"
static int missing_layout_file(struct world *w)
{
    idm_layout_t *layout = NULL;
    (void)w;
    int rc = idm_layout_load(&layout, MISSING_LAYOUT);
    ck_assert_ptr_null(layout);
    return rc;
}
static int layout_file_is_a_folder(struct world *w)
{
    idm_layout_t *layout = NULL;
    int rc = idm_layout_load(&layout, w->spool_dir);
    ck_assert_ptr_null(layout);
    return rc;
}
static int unsupported_printer_new_version(struct world *w)
{
    idm_printer_ops ops = host_printer_ops;
    (void)w;
    ops.version = 99;
    return new_host_printer(&ops, sizeof ops, 0);
}
/* The world's card, approved for its holder, made ready, and added to the
 * world's order, claimed by the world's station: the station has a card in
 * production. */
static int station_set_printer_with_a_card_in_production(struct world *w)
{
    idm_card_t *claimed = NULL;
    /* The common name template takes the surname. */
    ck_assert_idm_ok(idm_identity_set_attribute(w->live[K_IDENTITY], ACTOR, "surname",
                                                "Lovelace"));
    activate_holder(w);
    ck_assert_idm_ok(idm_card_set_state(w->live[K_CARD], ACTOR, IDM_CARD_REQUESTED, NULL));
    ck_assert_idm_ok(idm_card_set_state(w->live[K_CARD], ACTOR, IDM_CARD_APPROVED, NULL));
    ck_assert_idm_ok(idm_order_add_card(w->live[K_ORDER], ACTOR, w->card_id));
    ck_assert_idm_ok(idm_station_next(w->live[K_STATION], ACTOR, &claimed));
    ck_assert_ptr_nonnull(claimed);
    idm_card_free(&claimed);
    int rc = set_printer(w, w->live[K_PRINTER], w->live[K_LAYOUT]);
    char message[1024];
    snprintf(message, sizeof message, "%s", idm_last_error_message());
    /* Stopping the printing is refused too; the card goes back. */
    ck_assert_int_eq(set_printer(w, NULL, NULL), IDM_ERR_STATE);
    ck_assert_idm_ok(idm_station_cancel(w->live[K_STATION], ACTOR, NULL));
    ck_assert_idm_ok(set_printer(w, w->live[K_PRINTER], w->live[K_LAYOUT]));
    ck_assert_idm_ok(set_printer(w, NULL, NULL));
    snprintf(print_refusal_message, sizeof print_refusal_message, "%s", message);
    return rc;
}

static const struct coded_call print_refusals[] = {
    {"idm_layout_new", IDM_ERR_PARSE, "at byte", unparsable_layout},
    {"idm_layout_new", IDM_ERR_PARSE, "at byte", empty_layout},
    {"idm_layout_new", IDM_ERR_PARSE, "at byte", layout_cut_short_by_len},
    {"idm_layout_load", IDM_ERR_IO, MISSING_LAYOUT, missing_layout_file},
    {"idm_layout_load", IDM_ERR_IO, "api-args-spool", layout_file_is_a_folder},
    {"idm_printer_new", IDM_ERR_UNSUPPORTED, "ops->version is 99",
     unsupported_printer_new_version},
    {"idm_station_set_printer", IDM_ERR_STATE, "has a card in production",
     station_set_printer_with_a_card_in_production},
};
#define N_PRINT_REFUSALS (sizeof print_refusals / sizeof print_refusals[0])

START_TEST(test_layouts_printers_and_stations_refuse_with_their_documented_codes)
{
    const struct coded_call *c = &print_refusals[_i];
    struct world w;
    world_open(&w);
    print_refusal_message[0] = '\0';
    int rc = c->call(&w);
    const char *message =
        print_refusal_message[0] != '\0' ? print_refusal_message : idm_last_error_message();
    ck_assert_msg(rc == c->code, "expected %s, got %s: %s", idm_strerror_name(c->code),
                  idm_strerror_name(rc), message);
    ck_assert_msg(strstr(message, c->name) != NULL && strstr(message, c->needle) != NULL,
                  "error message \"%s\" does not mention \"%s\" and \"%s\"", message, c->name,
                  c->needle);
    world_close(&w);
}
END_TEST

START_TEST(test_layout_getters_answer_for_the_world_layout)
{
    const char *name = NULL;
    int yes = -1;
    struct world w;
    world_open(&w);
    const idm_layout_t *layout = w.live[K_LAYOUT];
    ck_assert_idm_ok(idm_layout_get_name(layout, &name));
    ck_assert_str_eq(name, WORLD_LAYOUT_NAME);
    for (int type = IDM_CARD_EMPLOYEE; type <= IDM_CARD_TEMPORARY; type++) {
        yes = -1;
        ck_assert_idm_ok(idm_layout_serves(layout, (idm_card_type)type, &yes));
        ck_assert_int_eq(yes, type == IDM_CARD_EMPLOYEE);
    }
    ck_assert_idm_ok(idm_layout_has_face(layout, IDM_FACE_FRONT, &yes));
    ck_assert_int_eq(yes, 1);
    ck_assert_idm_ok(idm_layout_has_face(layout, IDM_FACE_BACK, &yes));
    ck_assert_int_eq(yes, 0);
    /* Refused, the outs are left alone. */
    yes = 7;
    ck_assert_idm_error(idm_layout_serves(layout, (idm_card_type)-1, &yes), IDM_ERR_INVALID_ARG,
                        "idm_layout_serves");
    ck_assert_idm_error(idm_layout_has_face(layout, (idm_card_face)2, &yes),
                        IDM_ERR_INVALID_ARG, "idm_layout_has_face");
    ck_assert_int_eq(yes, 7);
    world_close(&w);
}
END_TEST

/* A layout document of up to 1 MiB and one byte. */
static char long_layout[((size_t)1 << 20) + 1];

START_TEST(test_layout_new_reads_len_bytes_up_to_a_mebibyte)
{
    const size_t most = (size_t)1 << 20;
    char *json = long_layout;
    /* The longest document: the layout, then blanks. */
    memset(json, ' ', most + 1);
    memcpy(json, WORLD_LAYOUT, strlen(WORLD_LAYOUT));
    ck_assert_idm_ok(new_layout(json, most));
    ck_assert_idm_error(new_layout(json, most + 1), IDM_ERR_INVALID_ARG, "idm_layout_new");
    snprintf(json + strlen(WORLD_LAYOUT), 16, "%s", "not JSON");
    /* Neither the bytes past len nor a terminating NUL are looked for. */
    ck_assert_idm_ok(new_layout(json, strlen(WORLD_LAYOUT)));

    char dir[512];
    idm_layout_t *layout = NULL;
    fixture_scratch_dir("api-args-layout", dir, sizeof dir);
    ck_assert_idm_ok(idm_layout_new(&layout, WORLD_LAYOUT, strlen(WORLD_LAYOUT), dir));
    ck_assert_ptr_nonnull(layout);
    idm_layout_free(&layout);
    ck_assert_ptr_null(layout);
    idm_layout_free(&layout);
    fixture_remove_tree(dir);
}
END_TEST

START_TEST(test_layout_load_reads_a_file)
{
    char dir[512], path[600];
    const char *name = NULL;
    idm_layout_t *layout = NULL;
    fixture_scratch_dir("api-args-layout", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/world.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(WORLD_LAYOUT, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_idm_ok(idm_layout_load(&layout, path));
    ck_assert_idm_ok(idm_layout_get_name(layout, &name));
    ck_assert_str_eq(name, WORLD_LAYOUT_NAME);
    idm_layout_free(&layout);
    ck_assert_ptr_null(layout);
    fixture_remove_tree(dir);
}
END_TEST

static uint32_t big_endian_32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The one rendering of this file, through the thunk the table's
 * RUNS_ELSEWHERE rows share: their arguments are valid. */
START_TEST(test_layout_render_draws_the_front_into_the_buffer)
{
    static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const unsigned char *data = NULL;
    size_t len = 0;
    struct world w;
    world_open(&w);
    const struct call_args a = {&w, w.live[K_LAYOUT], K_LAYOUT, ACTOR, NULL};
    ck_assert_idm_ok(api_layout_render(&a));
    /* The buffer's "abc" is replaced by a PNG of the landscape card at
     * 72 dpi: 85.60 x 53.98 mm is 242.6 x 153.0 pixels, rounded as the
     * header's 1011 x 638 at 300 dpi are. */
    ck_assert_idm_ok(idm_buffer_get(w.live[K_BUFFER], &data, &len));
    ck_assert_uint_gt(len, 24);
    ck_assert_int_eq(memcmp(data, png_signature, sizeof png_signature), 0);
    ck_assert_int_eq(memcmp(data + 12, "IHDR", 4), 0);
    ck_assert_uint_eq(big_endian_32(data + 16), 243);
    ck_assert_uint_eq(big_endian_32(data + 20), 153);
    world_close(&w);
}
END_TEST

START_TEST(test_printer_new_takes_the_whole_table_and_free_destroys_once)
{
    /* print is the only method, and the last. */
    const size_t smallest = offsetof(idm_printer_ops, print) + sizeof host_printer_ops.print;
    idm_printer_t *printer = NULL;
    char needle[96];
    snprintf(needle, sizeof needle, "'ops_size' is %zu", smallest - 1);
    ck_assert_idm_error(new_host_printer(&host_printer_ops, smallest - 1, 0), IDM_ERR_INVALID_ARG,
                        "idm_printer_new");
    ck_assert_message_mentions(needle);
    destroyed = 0;
    ck_assert_idm_ok(idm_printer_new(&printer, &host_printer_ops, smallest, &destroyed,
                                     count_destroy));
    ck_assert_ptr_nonnull(printer);
    ck_assert_int_eq(destroyed, 0);
    idm_printer_free(&printer);
    ck_assert_ptr_null(printer);
    ck_assert_int_eq(destroyed, 1);
    idm_printer_free(&printer);
    idm_printer_free(NULL);
    ck_assert_int_eq(destroyed, 1);
    ck_assert_idm_ok(idm_printer_backend_error("outside a method: kept for the next one"));

    /* A host compiled against newer headers, with a longer table. */
    struct {
        idm_printer_ops ops;
        void (*later[4])(void);
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.ops = host_printer_ops;
    newer.ops.size = (uint32_t)sizeof newer;
    ck_assert_idm_ok(idm_printer_new(&printer, &newer.ops, sizeof newer, NULL, NULL));
    idm_printer_free(&printer);
    ck_assert_ptr_null(printer);
    ck_assert_int_eq(host_printer_calls, 0);
}
END_TEST

START_TEST(test_cups_printer_takes_the_ends_of_its_ranges)
{
    char longest[128];
    memset(longest, 'q', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    /* Nothing is printed, so no CUPS server is contacted. */
    ck_assert_idm_ok(new_cups("q", NULL, 1000, 0));
    ck_assert_idm_ok(new_cups(longest, NULL, 3600000, 0));
    ck_assert_idm_ok(new_cups("Card_Printer-1.~!$%&*+=@", NULL, CUPS_TIMEOUT, 0));
    ck_assert_idm_ok(new_cups(CUPS_QUEUE, "localhost", CUPS_TIMEOUT, 0));
    ck_assert_idm_ok(new_cups(CUPS_QUEUE, "cups.corp.example:631", CUPS_TIMEOUT, 0));
    ck_assert_idm_ok(new_cups(CUPS_QUEUE, "cups:1", CUPS_TIMEOUT, 0));
    ck_assert_idm_ok(new_cups(CUPS_QUEUE, "cups:65535", CUPS_TIMEOUT, 0));
    ck_assert_idm_ok(new_cups(CUPS_QUEUE, "[::1]", CUPS_TIMEOUT, 0));
    ck_assert_idm_ok(new_cups(CUPS_QUEUE, "[::1]:631", CUPS_TIMEOUT, 0));
    ck_assert_idm_ok(new_cups(CUPS_QUEUE, "/run/cups/cups.sock", CUPS_TIMEOUT, 0));
}
END_TEST

START_TEST(test_station_takes_and_drops_a_printer)
{
    static const char all_types[] = LAYOUT_JSON("all", "\"visitor\",\"employee\"");
    idm_layout_t *layout = NULL;
    struct world w;
    world_open(&w);
    ck_assert_idm_ok(set_printer(&w, NULL, NULL));
    ck_assert_idm_ok(set_printer(&w, w.live[K_PRINTER], w.live[K_LAYOUT]));
    ck_assert_idm_ok(set_printer(&w, w.live[K_PRINTER], w.live[K_LAYOUT]));
    /* A layout serving the order's type among others. */
    ck_assert_idm_ok(idm_layout_new(&layout, all_types, strlen(all_types), NULL));
    ck_assert_idm_ok(set_printer(&w, w.live[K_PRINTER], layout));
    ck_assert_idm_ok(set_printer(&w, NULL, NULL));
    idm_layout_free(&layout);
    /* A run without cards prints nothing (world_close() checks). */
    ck_assert_idm_ok(set_printer(&w, w.live[K_PRINTER], w.live[K_LAYOUT]));
    ck_assert_idm_ok(idm_production_run(w.live[K_STATION], ACTOR, NULL, 0, NULL));
    world_close(&w);
}
END_TEST

/* ---- the external production desk ------------------------------------------ */

/* A desk on the world's context without producer or notifier; the caller
 * frees it. */
static idm_external_t *desk_without_backends(struct world *w)
{
    idm_external_t *desk = NULL;
    ck_assert_idm_ok(idm_external_new(&desk, w->live[K_CTX], NULL, NULL));
    ck_assert_ptr_nonnull(desk);
    return desk;
}

/* With external production and the queue on, a temporary card ordered for
 * the queue: it waits in processing.  The caller frees it. */
static idm_card_t *queued_temporary_card(struct world *w)
{
    idm_order_t *order = NULL;
    idm_card_iter_t *cards = NULL;
    idm_card_t *card = NULL;
    int64_t order_id = 0;
    idm_card_state state = IDM_CARD_REGISTERED;
    enable_external(w);
    ck_assert_idm_ok(idm_options_set_bool(w->live[K_CTX], ACTOR, "queue_orders", 1));
    ck_assert_idm_ok(idm_external_order_temporary(w->live[K_EXTERNAL], ACTOR, IDM_CARD_PHYSICAL,
                                                  1, "Temporary card", &order));
    ck_assert_idm_ok(idm_order_get_id(order, &order_id));
    idm_order_free(&order);
    ck_assert_idm_ok(idm_card_iter_new(w->live[K_CTX], &cards));
    ck_assert_idm_ok(idm_card_iter_set_order(cards, order_id));
    ck_assert_idm_ok(idm_card_iter_next(cards, &card));
    idm_card_iter_free(&cards);
    ck_assert_ptr_nonnull(card);
    ck_assert_idm_ok(idm_card_get_state(card, &state));
    ck_assert_int_eq(state, IDM_CARD_PROCESSING);
    return card;
}

static int refused_order_card_disabled(struct world *w)
{
    return order_card(w, w->live[K_EXTERNAL], IDM_CARD_EMPLOYEE, IDM_PRODUCTION_EXTERNAL);
}
static int refused_order_batch_disabled(struct world *w)
{
    const int64_t ids[] = {w->identity_id};
    return order_batch(w, ids, 1, IDM_CARD_EMPLOYEE);
}
static int refused_order_temporary_disabled(struct world *w)
{
    return order_temporary(w, 1, "Temporary card");
}
static int refused_order_card_local(struct world *w)
{
    enable_external(w);
    activate_holder(w);
    return order_card(w, w->live[K_EXTERNAL], IDM_CARD_CONTRACTOR, IDM_PRODUCTION_LOCAL);
}
static int refused_order_card_inactive_holder(struct world *w)
{
    /* The world's identity is registered. */
    enable_external(w);
    return order_card(w, w->live[K_EXTERNAL], IDM_CARD_CONTRACTOR, IDM_PRODUCTION_EXTERNAL);
}
static int refused_order_card_open_order(struct world *w)
{
    /* The world's card is a registered employee card of the identity. */
    enable_external(w);
    activate_holder(w);
    return order_card(w, w->live[K_EXTERNAL], IDM_CARD_EMPLOYEE, IDM_PRODUCTION_EXTERNAL);
}
static int refused_order_card_unknown_identity(struct world *w)
{
    idm_card_t *card = NULL;
    enable_external(w);
    int rc = idm_external_order_card(w->live[K_EXTERNAL], ACTOR, 999999, IDM_CARD_CONTRACTOR,
                                     IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, &card);
    idm_card_free(&card);
    return rc;
}
static int refused_order_card_without_producer(struct world *w)
{
    idm_external_t *desk = desk_without_backends(w);
    enable_external(w);
    activate_holder(w);
    int rc = order_card(w, desk, IDM_CARD_CONTRACTOR, IDM_PRODUCTION_EXTERNAL);
    idm_external_free(&desk);
    return rc;
}
static int refused_order_batch_without_producer(struct world *w)
{
    const int64_t ids[] = {w->identity_id};
    idm_external_t *desk = desk_without_backends(w);
    enable_external(w);
    activate_holder(w);
    int rc = idm_external_order_batch(desk, ACTOR, ids, 1, IDM_CARD_CONTRACTOR,
                                      IDM_CARD_PHYSICAL, NULL, NULL, NULL);
    idm_external_free(&desk);
    return rc;
}
static int refused_order_temporary_without_producer(struct world *w)
{
    idm_external_t *desk = desk_without_backends(w);
    enable_external(w);
    int rc = idm_external_order_temporary(desk, ACTOR, IDM_CARD_PHYSICAL, 1, "Temporary card",
                                          NULL);
    idm_external_free(&desk);
    return rc;
}
static int refused_approve_without_producer(struct world *w)
{
    /* queue_orders is off: an approved card goes to the bureau at once. */
    idm_card_t *card = requested_card(w);
    idm_external_t *desk = desk_without_backends(w);
    int rc = idm_external_approve(desk, "admin:bob", card);
    idm_external_free(&desk);
    idm_card_free(&card);
    return rc;
}
static int refused_approve_registered(struct world *w)
{
    return idm_external_approve(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD]);
}
static int refused_reject_registered(struct world *w)
{
    return idm_external_reject(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD], NULL);
}
static int refused_abort_registered(struct world *w)
{
    return idm_external_abort(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD], NULL);
}
static int refused_abort_requested(struct world *w)
{
    idm_card_t *card = requested_card(w);
    int rc = idm_external_abort(w->live[K_EXTERNAL], "admin:bob", card, NULL);
    idm_card_free(&card);
    return rc;
}
static int refused_activate_registered(struct world *w)
{
    return idm_external_activate(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD],
                                 w->host_encoder, NULL);
}
static int refused_initialize_personal(struct world *w)
{
    return idm_external_initialize_temporary(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD],
                                             w->host_encoder, NULL);
}
static int refused_assign_personal(struct world *w)
{
    return idm_external_assign(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD], w->identity_id);
}
static int refused_withdraw_personal(struct world *w)
{
    return idm_external_withdraw(w->live[K_EXTERNAL], ACTOR, w->live[K_CARD], NULL);
}
/* The message of a refusal, kept across the calls that check the card
 * afterwards; empty when the refusal's own message is still the thread's. */
static char refusal_message[2048];

/* The steps below must leave the queued card in processing. */
static int still_processing(idm_card_t *card, int rc)
{
    idm_card_state state = IDM_CARD_REGISTERED;
    snprintf(refusal_message, sizeof refusal_message, "%s", idm_last_error_message());
    ck_assert_idm_ok(idm_card_refresh(card));
    ck_assert_idm_ok(idm_card_get_state(card, &state));
    ck_assert_int_eq(state, IDM_CARD_PROCESSING);
    idm_card_free(&card);
    return rc;
}
static int refused_activate_temporary(struct world *w)
{
    idm_card_t *card = queued_temporary_card(w);
    return still_processing(card, idm_external_activate(w->live[K_EXTERNAL], ACTOR, card,
                                                        w->host_encoder, NULL));
}
static int refused_initialize_queued(struct world *w)
{
    idm_card_t *card = queued_temporary_card(w);
    return still_processing(card, idm_external_initialize_temporary(w->live[K_EXTERNAL], ACTOR,
                                                                    card, w->host_encoder, NULL));
}
static int refused_assign_queued(struct world *w)
{
    idm_card_t *card = queued_temporary_card(w);
    activate_holder(w);
    return still_processing(card, idm_external_assign(w->live[K_EXTERNAL], ACTOR, card,
                                                      w->identity_id));
}
static int refused_assign_to_inactive_holder(struct world *w)
{
    idm_card_t *card = queued_temporary_card(w);
    return still_processing(card, idm_external_assign(w->live[K_EXTERNAL], ACTOR, card,
                                                      w->identity_id));
}
static int refused_assign_to_unknown_identity(struct world *w)
{
    idm_card_t *card = queued_temporary_card(w);
    return still_processing(card, idm_external_assign(w->live[K_EXTERNAL], ACTOR, card, 999999));
}
static int refused_withdraw_queued(struct world *w)
{
    idm_card_t *card = queued_temporary_card(w);
    return still_processing(card, idm_external_withdraw(w->live[K_EXTERNAL], ACTOR, card, NULL));
}
static int refused_sync_queue_without_producer(struct world *w)
{
    idm_external_t *desk = desk_without_backends(w);
    int rc = idm_external_sync_queue(desk, ACTOR, 100, NULL, NULL);
    idm_external_free(&desk);
    return rc;
}
static int refused_update_without_producer(struct world *w)
{
    idm_external_t *desk = desk_without_backends(w);
    int rc = idm_external_update(desk, ACTOR, NULL, NULL);
    idm_external_free(&desk);
    return rc;
}
static int refused_update_by_host_producer(struct world *w)
{
    idm_producer_t *producer = NULL;
    idm_external_t *desk = NULL;
    ck_assert_idm_ok(idm_producer_new(&producer, &host_producer_ops, sizeof host_producer_ops,
                                      NULL, NULL));
    ck_assert_idm_ok(idm_external_new(&desk, w->live[K_CTX], producer, NULL));
    int rc = idm_external_update(desk, ACTOR, NULL, NULL);
    idm_external_free(&desk);
    idm_producer_free(&producer);
    return rc;
}
static int refused_flush_without_notifier(struct world *w)
{
    idm_external_t *desk = desk_without_backends(w);
    int rc = idm_external_flush_notifications(desk, ACTOR, NULL, NULL);
    idm_external_free(&desk);
    return rc;
}

static const struct coded_call external_refusals[] = {
    {"idm_external_order_card", IDM_ERR_DISABLED, "option external_production_enabled is off",
     refused_order_card_disabled},
    {"idm_external_order_batch", IDM_ERR_DISABLED, "option external_production_enabled is off",
     refused_order_batch_disabled},
    {"idm_external_order_temporary", IDM_ERR_DISABLED,
     "option external_production_enabled is off", refused_order_temporary_disabled},
    {"idm_external_order_card", IDM_ERR_DISABLED, "option production_type_selectable is off",
     refused_order_card_local},
    {"idm_external_order_card", IDM_ERR_STATE, "only for an active identity",
     refused_order_card_inactive_holder},
    {"idm_external_order_card", IDM_ERR_STATE, "already has an open order",
     refused_order_card_open_order},
    {"idm_external_order_card", IDM_ERR_NOT_FOUND, "999999",
     refused_order_card_unknown_identity},
    {"idm_external_order_card", IDM_ERR_STATE, "the desk has no producer",
     refused_order_card_without_producer},
    {"idm_external_order_batch", IDM_ERR_STATE, "the desk has no producer",
     refused_order_batch_without_producer},
    {"idm_external_order_temporary", IDM_ERR_STATE, "the desk has no producer",
     refused_order_temporary_without_producer},
    {"idm_external_approve", IDM_ERR_STATE, "the desk has no producer",
     refused_approve_without_producer},
    {"idm_external_approve", IDM_ERR_STATE, "approval is only allowed from 'requested'",
     refused_approve_registered},
    {"idm_external_reject", IDM_ERR_STATE, "rejection is only allowed from 'requested'",
     refused_reject_registered},
    {"idm_external_abort", IDM_ERR_STATE, "abort is only allowed from 'processing'",
     refused_abort_registered},
    {"idm_external_abort", IDM_ERR_STATE, "abort is only allowed from 'processing'",
     refused_abort_requested},
    {"idm_external_activate", IDM_ERR_STATE, "activation starts from 'produced'",
     refused_activate_registered},
    {"idm_external_initialize_temporary", IDM_ERR_STATE, "only temporary cards are initialized",
     refused_initialize_personal},
    {"idm_external_assign", IDM_ERR_STATE, "only temporary cards are initialized",
     refused_assign_personal},
    {"idm_external_withdraw", IDM_ERR_STATE, "only temporary cards are initialized",
     refused_withdraw_personal},
    {"idm_external_activate", IDM_ERR_STATE, "temporary cards are initialized, not activated",
     refused_activate_temporary},
    {"idm_external_initialize_temporary", IDM_ERR_STATE, "initialization starts from 'produced'",
     refused_initialize_queued},
    {"idm_external_assign", IDM_ERR_STATE, "processing", refused_assign_queued},
    {"idm_external_assign", IDM_ERR_STATE, "only to an active identity",
     refused_assign_to_inactive_holder},
    {"idm_external_assign", IDM_ERR_NOT_FOUND, "999999", refused_assign_to_unknown_identity},
    {"idm_external_withdraw", IDM_ERR_STATE, "processing", refused_withdraw_queued},
    {"idm_external_sync_queue", IDM_ERR_STATE, "the desk has no producer",
     refused_sync_queue_without_producer},
    {"idm_external_update", IDM_ERR_STATE, "the desk has no producer",
     refused_update_without_producer},
    {"idm_external_flush_notifications", IDM_ERR_STATE, "the desk has no notifier",
     refused_flush_without_notifier},
    {"idm_external_update", IDM_ERR_BACKEND, "the bureau did not answer",
     refused_update_by_host_producer},
};
#define N_EXTERNAL_REFUSALS (sizeof external_refusals / sizeof external_refusals[0])

START_TEST(test_external_desk_refuses_what_the_state_forbids)
{
    const struct coded_call *c = &external_refusals[_i];
    struct world w;
    world_open(&w);
    refusal_message[0] = '\0';
    int rc = c->call(&w);
    const char *message = refusal_message[0] != '\0' ? refusal_message : idm_last_error_message();
    ck_assert_msg(rc == c->code, "expected %s, got %s: %s", idm_strerror_name(c->code),
                  idm_strerror_name(rc), message);
    ck_assert_msg(strstr(message, c->name) != NULL && strstr(message, c->needle) != NULL,
                  "error message \"%s\" does not mention \"%s\" and \"%s\"", message, c->name,
                  c->needle);
    /* No encoder was asked. */
    ck_assert_int_eq(host_encoder_calls, 0);
    world_close(&w);
}
END_TEST

/* Checks the outcomes of a batch of the world's identity and id 0. */
static size_t batch_reports;
static void check_batch_report(size_t index, int64_t identity_id, int result, int64_t card_id,
                               idm_card_state state, const char *reason, void *user_data)
{
    const struct world *w = user_data;
    ck_assert_uint_eq(index, batch_reports);
    if (index == 0) {
        ck_assert_int_eq(identity_id, w->identity_id);
        ck_assert_msg(result == IDM_OK, "identity %" PRId64 " refused: %s", identity_id,
                      reason != NULL ? reason : "(no reason)");
        ck_assert_int_gt(card_id, 0);
        ck_assert_int_eq(state, IDM_CARD_ORDERED);
    } else {
        ck_assert_int_eq(identity_id, 0);
        ck_assert_int_eq(result, IDM_ERR_INVALID_ARG);
        ck_assert_int_eq(card_id, 0);
        ck_assert_ptr_nonnull(reason);
    }
    batch_reports++;
}

static idm_card_state state_of(idm_card_t *card)
{
    idm_card_state state = IDM_CARD_REGISTERED;
    ck_assert_idm_ok(idm_card_get_state(card, &state));
    return state;
}

/* The thunks' arguments are valid: with external production on, the same
 * calls get all the way through. */
START_TEST(test_external_desk_takes_valid_arguments_when_enabled)
{
    struct world w;
    idm_card_t *card = NULL;
    idm_order_t *order = NULL;
    const char *text = "untouched";
    size_t sent = 99, failed = 99, applied = 99, refused = 99, pending = 99;
    world_open(&w);
    idm_external_t *desk = w.live[K_EXTERNAL];
    enable_external(&w);
    activate_holder(&w);

    /* Straight to the bureau: the spool producer takes the order. */
    ck_assert_idm_ok(idm_external_order_card(desk, ACTOR, w.identity_id, IDM_CARD_CONTRACTOR,
                                             IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, &card));
    ck_assert_ptr_nonnull(card);
    ck_assert_int_eq(state_of(card), IDM_CARD_ORDERED);
    ck_assert_idm_ok(idm_card_get_requester(card, &text));
    ck_assert_str_eq(text, ACTOR);
    ck_assert_idm_ok(idm_card_get_shipment(card, &text));
    ck_assert_ptr_null(text);
    idm_card_free(&card);

    /* A batch: the second id is refused on its own. */
    const int64_t ids[] = {w.identity_id, 0};
    batch_reports = 0;
    ck_assert_idm_ok(idm_external_order_batch(desk, ACTOR, ids, 2, IDM_CARD_VISITOR,
                                              IDM_CARD_DIGITAL, check_batch_report, &w, &order));
    ck_assert_uint_eq(batch_reports, 2);
    ck_assert_ptr_nonnull(order);
    idm_order_free(&order);

    /* Temporary cards with the longest name. */
    ck_assert_idm_ok(idm_external_order_temporary(desk, ACTOR, IDM_CARD_PHYSICAL, 1,
                                                  text_of_length(200), &order));
    ck_assert_ptr_nonnull(order);
    idm_order_free(&order);

    /* The approval step: another actor decides. */
    ck_assert_idm_ok(idm_options_set_bool(w.live[K_CTX], ACTOR, "external_approval_step", 1));
    ck_assert_idm_ok(idm_options_set_bool(w.live[K_CTX], ACTOR, "allow_multiple_orders", 1));
    ck_assert_idm_ok(idm_external_order_card(desk, ACTOR, w.identity_id, IDM_CARD_CONTRACTOR,
                                             IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, &card));
    ck_assert_int_eq(state_of(card), IDM_CARD_REQUESTED);
    ck_assert_idm_ok(idm_external_approve(desk, "admin:bob", card));
    ck_assert_int_eq(state_of(card), IDM_CARD_ORDERED);
    idm_card_free(&card);
    ck_assert_idm_ok(idm_external_order_card(desk, ACTOR, w.identity_id, IDM_CARD_CONTRACTOR,
                                             IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, &card));
    ck_assert_idm_ok(idm_external_reject(desk, "admin:bob", card, NULL));
    ck_assert_int_eq(state_of(card), IDM_CARD_REJECTED);
    idm_card_free(&card);

    /* The queue: one card aborted, the other sent. */
    ck_assert_idm_ok(idm_options_set_bool(w.live[K_CTX], ACTOR, "external_approval_step", 0));
    ck_assert_idm_ok(idm_options_set_bool(w.live[K_CTX], ACTOR, "queue_orders", 1));
    ck_assert_idm_ok(idm_external_order_card(desk, ACTOR, w.identity_id, IDM_CARD_VISITOR,
                                             IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, &card));
    ck_assert_int_eq(state_of(card), IDM_CARD_PROCESSING);
    ck_assert_idm_ok(idm_external_abort(desk, ACTOR, card, NULL));
    ck_assert_int_eq(state_of(card), IDM_CARD_ABORTED);
    idm_card_free(&card);
    ck_assert_idm_ok(idm_external_order_card(desk, ACTOR, w.identity_id, IDM_CARD_VISITOR,
                                             IDM_CARD_PHYSICAL, IDM_PRODUCTION_EXTERNAL, &card));
    ck_assert_idm_ok(idm_external_sync_queue(desk, ACTOR, 1, &sent, &failed));
    ck_assert_uint_eq(sent, 1);
    ck_assert_uint_eq(failed, 0);
    ck_assert_idm_ok(idm_card_refresh(card));
    ck_assert_int_eq(state_of(card), IDM_CARD_ORDERED);
    idm_card_free(&card);

    /* Nothing in the inbox, nothing pending. */
    ck_assert_idm_ok(idm_external_update(desk, ACTOR, &applied, &refused));
    ck_assert_uint_eq(applied, 0);
    ck_assert_uint_eq(refused, 0);
    ck_assert_idm_ok(idm_external_flush_notifications(desk, ACTOR, &sent, &pending));
    ck_assert_uint_eq(sent, 0);
    ck_assert_uint_eq(pending, 0);
    world_close(&w);
}
END_TEST

START_TEST(test_external_counts_take_the_ends_of_their_ranges)
{
    char needle[64];
    struct world w;
    world_open(&w);
    idm_external_t *desk = w.live[K_EXTERNAL];
    ck_assert_idm_ok(idm_external_sync_queue(desk, ACTOR, 1, NULL, NULL));
    ck_assert_idm_ok(idm_external_sync_queue(desk, ACTOR, 1000, NULL, NULL));
    snprintf(needle, sizeof needle, "'batch_size' is %zu", (size_t)SIZE_MAX);
    ck_assert_idm_error(idm_external_sync_queue(desk, ACTOR, SIZE_MAX, NULL, NULL),
                        IDM_ERR_INVALID_ARG, "idm_external_sync_queue");
    ck_assert_message_mentions(needle);

    /* The largest batch is accepted, and meets external production off. */
    int64_t *ids = calloc(100000, sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < 100000; i++)
        ids[i] = w.identity_id;
    ck_assert_idm_error(idm_external_order_batch(desk, ACTOR, ids, 100000, IDM_CARD_EMPLOYEE,
                                                 IDM_CARD_PHYSICAL, NULL, NULL, NULL),
                        IDM_ERR_DISABLED, "idm_external_order_batch");
    snprintf(needle, sizeof needle, "'count' is %zu", (size_t)SIZE_MAX);
    ck_assert_idm_error(idm_external_order_batch(desk, ACTOR, ids, SIZE_MAX, IDM_CARD_EMPLOYEE,
                                                 IDM_CARD_PHYSICAL, NULL, NULL, NULL),
                        IDM_ERR_INVALID_ARG, "idm_external_order_batch");
    ck_assert_message_mentions(needle);
    free(ids);

    /* Temporary cards: as many as the option says, at most 9. */
    enable_external(&w);
    ck_assert_idm_ok(idm_options_set_bool(w.live[K_CTX], ACTOR, "queue_orders", 1));
    ck_assert_idm_ok(idm_options_set_int(w.live[K_CTX], ACTOR, "temporary_cards_per_order", 9));
    ck_assert_idm_ok(idm_external_order_temporary(desk, ACTOR, IDM_CARD_DIGITAL, 9,
                                                  "Temporary card", NULL));
    ck_assert_idm_ok(idm_external_order_temporary(desk, ACTOR, IDM_CARD_PHYSICAL, 1,
                                                  "Temporary card", NULL));
    ck_assert_idm_error(idm_external_order_temporary(desk, ACTOR, IDM_CARD_PHYSICAL, SIZE_MAX,
                                                     "Temporary card", NULL),
                        IDM_ERR_INVALID_ARG, "idm_external_order_temporary");
    ck_assert_message_mentions(needle);
    world_close(&w);
}
END_TEST

START_TEST(test_external_new_takes_no_producer_and_no_notifier)
{
    struct world w;
    idm_external_t *desk = NULL;
    world_open(&w);
    ck_assert_idm_ok(idm_external_new(&desk, w.live[K_CTX], NULL, NULL));
    ck_assert_ptr_nonnull(desk);
    idm_external_free(&desk);
    ck_assert_ptr_null(desk);
    idm_external_free(&desk);
    idm_external_free(NULL);
    ck_assert_idm_ok(idm_external_new(&desk, w.live[K_CTX], w.live[K_PRODUCER], NULL));
    idm_external_free(&desk);
    ck_assert_idm_ok(idm_external_new(&desk, w.live[K_CTX], NULL, w.live[K_NOTIFIER]));
    idm_external_free(&desk);
    /* A desk leaves its producer and notifier alone: the world's are freed
     * by world_close(), after its desk. */
    world_close(&w);
}
END_TEST

START_TEST(test_card_shipment_and_requester_are_null_until_known)
{
    const char *shipment = "untouched", *requester = "untouched";
    struct world w;
    world_open(&w);
    /* The world's card was made by idm_card_new(), not ordered. */
    ck_assert_idm_ok(idm_card_get_shipment(w.live[K_CARD], &shipment));
    ck_assert_idm_ok(idm_card_get_requester(w.live[K_CARD], &requester));
    ck_assert_ptr_null(shipment);
    ck_assert_ptr_null(requester);
    world_close(&w);
}
END_TEST

START_TEST(test_producer_new_accepts_the_smallest_table_and_free_destroys_once)
{
    /* A host compiled against a table of submit and status only. */
    const size_t smallest = offsetof(idm_producer_ops, status) + sizeof host_producer_ops.status;
    idm_producer_t *producer = NULL;
    destroyed = 0;
    ck_assert_idm_ok(idm_producer_new(&producer, &host_producer_ops, smallest, &destroyed,
                                      count_destroy));
    ck_assert_ptr_nonnull(producer);
    ck_assert_int_eq(destroyed, 0);
    idm_producer_free(&producer);
    ck_assert_ptr_null(producer);
    ck_assert_int_eq(destroyed, 1);
    idm_producer_free(&producer);
    idm_producer_free(NULL);
    ck_assert_int_eq(destroyed, 1);
    ck_assert_idm_ok(idm_producer_backend_error("outside a method: kept for the next one"));

    /* cancel is optional. */
    idm_producer_ops ops = host_producer_ops;
    ops.cancel = NULL;
    ck_assert_idm_ok(idm_producer_new(&producer, &ops, sizeof ops, NULL, NULL));
    idm_producer_free(&producer);

    /* A host compiled against newer headers, with a longer table. */
    struct {
        idm_producer_ops ops;
        void (*later[4])(void);
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.ops = host_producer_ops;
    newer.ops.size = (uint32_t)sizeof newer;
    ck_assert_idm_ok(idm_producer_new(&producer, &newer.ops, sizeof newer, NULL, NULL));
    idm_producer_free(&producer);
    ck_assert_ptr_null(producer);
}
END_TEST

START_TEST(test_notifier_new_accepts_the_smallest_table_and_free_destroys_once)
{
    const size_t smallest = offsetof(idm_notifier_ops, send) + sizeof host_notifier_ops.send;
    idm_notifier_t *notifier = NULL;
    destroyed = 0;
    ck_assert_idm_ok(idm_notifier_new(&notifier, &host_notifier_ops, smallest, &destroyed,
                                      count_destroy));
    ck_assert_ptr_nonnull(notifier);
    ck_assert_int_eq(destroyed, 0);
    idm_notifier_free(&notifier);
    ck_assert_ptr_null(notifier);
    ck_assert_int_eq(destroyed, 1);
    idm_notifier_free(&notifier);
    idm_notifier_free(NULL);
    ck_assert_int_eq(destroyed, 1);
    ck_assert_idm_ok(idm_notifier_backend_error("outside a method: kept for the next one"));

    struct {
        idm_notifier_ops ops;
        void (*later[4])(void);
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.ops = host_notifier_ops;
    newer.ops.size = (uint32_t)sizeof newer;
    ck_assert_idm_ok(idm_notifier_new(&notifier, &newer.ops, sizeof newer, NULL, NULL));
    idm_notifier_free(&notifier);
    ck_assert_ptr_null(notifier);
}
END_TEST

START_TEST(test_maildir_notifier_takes_the_longest_sender)
{
    char from[300];
    struct world w;
    world_open(&w);
    /* The most an address has. */
    ck_assert_uint_eq(strlen(sender_of_length(from, 254)), 254);
    ck_assert_idm_ok(new_maildir(w.maildir, from, 0));
    world_close(&w);
}
END_TEST

/* ---- regressions ------------------------------------------------------------ */

/*
 * Library bugs this file found, each with the call that showed it and the
 * answer the documentation promises; fixed, and kept so they stay fixed.
 */

static int bug_import_csv_without_store(struct world *w)
{
    return idm_identity_import_csv(w->bare, ACTOR, "/nonexistent/identities.csv", NULL,
                                   IDM_IDENTITY_REGISTERED, NULL);
}

static const struct coded_call regression_calls[] = {
    /* The refusal of temporary cards in a mass production order named
     * neither 'kind' nor 'type'. */
    {"idm_order_new", IDM_ERR_INVALID_ARG, "'kind'", bad_order_new_temporary_mass_production},
    /* The file was opened before the store was looked at, so a context
     * without a store answered IDM_ERR_IO for a missing file. */
    {"idm_identity_import_csv", IDM_ERR_STATE, "no store is open",
     bug_import_csv_without_store},
};
#define N_REGRESSIONS (sizeof regression_calls / sizeof regression_calls[0])

START_TEST(test_fixed_bugs_stay_fixed)
{
    const struct coded_call *b = &regression_calls[_i];
    struct world w;
    world_open(&w);
    ck_assert_idm_error(b->call(&w), b->code, b->name);
    ck_assert_message_mentions(b->needle);
    world_close(&w);
}
END_TEST

/* ---- functions that name a value --------------------------------------- */

struct name_call {
    const char *name;
    int last; /* the highest value with a name */
    const char *(*call)(int v);
};

static const char *name_log_level(int v)
{
    return idm_log_level_name((idm_log_level)v);
}
static const char *name_identity_state(int v)
{
    return idm_identity_state_name((idm_identity_state)v);
}
static const char *name_card_type(int v)
{
    return idm_card_type_name((idm_card_type)v);
}
static const char *name_card_state(int v)
{
    return idm_card_state_name((idm_card_state)v);
}
static const char *name_card_option(int v)
{
    return idm_card_option_name((idm_card_option)v);
}
static const char *name_production(int v)
{
    return idm_production_name((idm_production)v);
}
static const char *name_cert_state(int v)
{
    return idm_cert_state_name((idm_cert_state)v);
}
static const char *name_order_kind(int v)
{
    return idm_order_kind_name((idm_order_kind)v);
}
static const char *name_order_state(int v)
{
    return idm_order_state_name((idm_order_state)v);
}
static const char *name_object_type(int v)
{
    return idm_object_type_name((idm_object_type)v);
}
static const char *name_key_usage(int v)
{
    return idm_key_usage_name((idm_key_usage)v);
}
static const char *name_order_card_outcome(int v)
{
    return idm_order_card_outcome_name((idm_order_card_outcome)v);
}

static const char *name_bureau_status(int v)
{
    return idm_bureau_status_name((idm_bureau_status)v);
}
static const char *name_notification_kind(int v)
{
    return idm_notification_kind_name((idm_notification_kind)v);
}

static const struct name_call name_calls[] = {
    {"idm_log_level_name", IDM_LOG_DEBUG, name_log_level},
    {"idm_identity_state_name", IDM_IDENTITY_TERMINATED, name_identity_state},
    {"idm_card_type_name", IDM_CARD_TEMPORARY, name_card_type},
    {"idm_card_state_name", IDM_CARD_ASSIGNED, name_card_state},
    {"idm_card_option_name", IDM_CARD_DIGITAL, name_card_option},
    {"idm_production_name", IDM_PRODUCTION_EXTERNAL, name_production},
    {"idm_cert_state_name", IDM_CERT_EXPIRED, name_cert_state},
    {"idm_order_kind_name", IDM_ORDER_EXTERNAL, name_order_kind},
    {"idm_order_state_name", IDM_ORDER_ABORTED, name_order_state},
    {"idm_object_type_name", IDM_OBJECT_CA, name_object_type},
    {"idm_key_usage_name", IDM_USAGE_CARD_AUTHENTICATION, name_key_usage},
    {"idm_order_card_outcome_name", IDM_OUTCOME_FAILED, name_order_card_outcome},
    {"idm_bureau_status_name", IDM_BUREAU_FAILED, name_bureau_status},
    {"idm_notification_kind_name", IDM_NOTIFY_CARD_ACTIVATED, name_notification_kind},
};
#define N_NAME_CALLS (sizeof name_calls / sizeof name_calls[0])

START_TEST(test_name_functions_say_unknown_for_out_of_range_values)
{
    const struct name_call *c = &name_calls[_i];
    const int bad[] = {-1, c->last + 1, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *name = c->call(bad[i]);
        ck_assert_msg(name != NULL && strcmp(name, "unknown") == 0, "%s(%d) gave \"%s\"",
                      c->name, bad[i], name != NULL ? name : "(null)");
    }
    for (int v = 0; v <= c->last; v++) {
        const char *name = c->call(v);
        ck_assert_msg(name != NULL && name[0] != '\0' && strcmp(name, "unknown") != 0,
                      "%s(%d) has no name", c->name, v);
    }
}
END_TEST

START_TEST(test_new_values_have_their_documented_names)
{
    ck_assert_str_eq(idm_object_type_name(IDM_OBJECT_CA), "ca");
    ck_assert_str_eq(idm_object_type_name((idm_object_type)6), "unknown");
    ck_assert_str_eq(idm_key_usage_name(IDM_USAGE_AUTHENTICATION), "authentication");
    ck_assert_str_eq(idm_key_usage_name(IDM_USAGE_SIGNATURE), "signature");
    ck_assert_str_eq(idm_key_usage_name(IDM_USAGE_ENCRYPTION), "encryption");
    ck_assert_str_eq(idm_key_usage_name(IDM_USAGE_CARD_AUTHENTICATION), "card_authentication");
    ck_assert_str_eq(idm_key_usage_name((idm_key_usage)4), "unknown");
}
END_TEST

START_TEST(test_process_name_refuses_temporary_cards)
{
    const char *name = "untouched";
    for (int option = IDM_CARD_PHYSICAL; option <= IDM_CARD_DIGITAL; option++) {
        ck_assert_idm_error(idm_process_name(IDM_CARD_TEMPORARY, (idm_card_option)option, &name),
                            IDM_ERR_INVALID_ARG, "idm_process_name");
        ck_assert_message_mentions("'type' is 5 (temporary)");
    }
    ck_assert_str_eq(name, "untouched");
}
END_TEST

START_TEST(test_process_name_names_every_mass_produced_card)
{
    for (int type = IDM_CARD_EMPLOYEE; type <= IDM_CARD_NON_PERSONAL; type++) {
        const char *physical = NULL, *digital = NULL;
        ck_assert_int_eq(idm_process_name((idm_card_type)type, IDM_CARD_PHYSICAL, &physical),
                         IDM_OK);
        ck_assert_int_eq(idm_process_name((idm_card_type)type, IDM_CARD_DIGITAL, &digital),
                         IDM_OK);
        ck_assert_int_eq(strncmp(physical, "CCProcMassProduction", 20), 0);
        ck_assert_int_eq(strncmp(digital, "PcmProcMassProduction", 21), 0);
    }
}
END_TEST

START_TEST(test_processes_are_the_ten_mass_produced_cards)
{
    char needle[64];
    unsigned seen = 0;
    ck_assert_uint_eq(idm_process_count(), 10);
    for (size_t i = 0; i < idm_process_count(); i++) {
        idm_card_type type = IDM_CARD_TEMPORARY;
        idm_card_option option = (idm_card_option)-1;
        unsigned steps = 0;
        const char *name = NULL;
        ck_assert_idm_ok(idm_process_at(i, NULL, NULL));
        ck_assert_idm_ok(idm_process_at(i, &type, &option));
        ck_assert_int_ne(type, IDM_CARD_TEMPORARY);
        ck_assert_idm_ok(idm_process_name(type, option, &name));
        ck_assert_idm_ok(idm_process_steps(type, option, &steps));
        /* Digital ID has all five steps; Physical ID has no CA step. */
        const unsigned all = IDM_STEP_READINESS | IDM_STEP_ISSUE | IDM_STEP_PRODUCE |
                             IDM_STEP_VERIFY | IDM_STEP_COMPLETE;
        ck_assert_uint_eq(steps, option == IDM_CARD_DIGITAL ? all : all & ~IDM_STEP_ISSUE);
        /* Each type and option once. */
        unsigned bit = 1u << ((unsigned)type * 2 + (unsigned)option);
        ck_assert_msg((seen & bit) == 0, "process %zu (%s) is listed twice", i, name);
        seen |= bit;
    }
    /* The last index is refused however large, and the outs are left alone. */
    idm_card_type type = IDM_CARD_VISITOR;
    idm_card_option option = IDM_CARD_DIGITAL;
    snprintf(needle, sizeof needle, "'index' is %zu", (size_t)SIZE_MAX);
    ck_assert_idm_error(idm_process_at(SIZE_MAX, &type, &option), IDM_ERR_INVALID_ARG,
                        "idm_process_at");
    ck_assert_message_mentions(needle);
    ck_assert_int_eq(type, IDM_CARD_VISITOR);
    ck_assert_int_eq(option, IDM_CARD_DIGITAL);
}
END_TEST

START_TEST(test_process_steps_refuses_temporary_cards)
{
    unsigned steps = 12345;
    for (int option = IDM_CARD_PHYSICAL; option <= IDM_CARD_DIGITAL; option++) {
        ck_assert_idm_error(idm_process_steps(IDM_CARD_TEMPORARY, (idm_card_option)option,
                                              &steps),
                            IDM_ERR_INVALID_ARG, "idm_process_steps");
        ck_assert_message_mentions("'type' is 5 (temporary)");
    }
    ck_assert_uint_eq(steps, 12345);
}
END_TEST

START_TEST(test_order_card_outcomes_have_their_documented_names)
{
    ck_assert_str_eq(idm_order_card_outcome_name(IDM_OUTCOME_PENDING), "pending");
    ck_assert_str_eq(idm_order_card_outcome_name(IDM_OUTCOME_CLAIMED), "claimed");
    ck_assert_str_eq(idm_order_card_outcome_name(IDM_OUTCOME_PRODUCED), "produced");
    ck_assert_str_eq(idm_order_card_outcome_name(IDM_OUTCOME_SKIPPED), "skipped");
    ck_assert_str_eq(idm_order_card_outcome_name(IDM_OUTCOME_FAILED), "failed");
    ck_assert_str_eq(idm_order_card_outcome_name((idm_order_card_outcome)5), "unknown");
}
END_TEST

START_TEST(test_bureau_statuses_and_notification_kinds_have_their_documented_names)
{
    ck_assert_str_eq(idm_bureau_status_name(IDM_BUREAU_IN_PRODUCTION), "in_production");
    ck_assert_str_eq(idm_bureau_status_name(IDM_BUREAU_PRODUCED), "produced");
    ck_assert_str_eq(idm_bureau_status_name(IDM_BUREAU_FAILED), "failed");
    ck_assert_str_eq(idm_bureau_status_name((idm_bureau_status)3), "unknown");
    ck_assert_str_eq(idm_notification_kind_name(IDM_NOTIFY_CARD_ORDERED), "card_ordered");
    ck_assert_str_eq(idm_notification_kind_name(IDM_NOTIFY_CARD_PRODUCED), "card_produced");
    ck_assert_str_eq(idm_notification_kind_name(IDM_NOTIFY_CARD_ACTIVATED), "card_activated");
    ck_assert_str_eq(idm_notification_kind_name((idm_notification_kind)3), "unknown");
}
END_TEST

START_TEST(test_option_enumeration_accepts_null_outs)
{
    size_t n = 0;
    const char *key = NULL;
    idm_option_type type = IDM_OPTION_STRING;
    ck_assert_int_eq(idm_option_count(&n), IDM_OK);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(idm_option_key_at(0, NULL, NULL), IDM_OK);
    ck_assert_int_eq(idm_option_key_at(n - 1, &key, &type), IDM_OK);
    ck_assert_ptr_nonnull(key);
    ck_assert_idm_error(idm_option_key_at(SIZE_MAX, &key, &type), IDM_ERR_INVALID_ARG,
                        "idm_option_key_at: argument 'index'");
}
END_TEST

/* ---- destructors --------------------------------------------------------- */

START_TEST(test_destructors_accept_null)
{
    const struct kind_info *k = &kinds[FIRST_KIND + _i];
    ck_assert_ptr_null(k->free(NULL, 1));
    ck_assert_ptr_null(k->free(NULL, 0));
}
END_TEST

START_TEST(test_destructors_leave_garbage_alone)
{
    const struct kind_info *k = &kinds[FIRST_KIND + _i];
    for (int which = 0; which < 2; which++) {
        void *not_a_handle = garbage(which);
        unsigned char before[sizeof patterned_memory];
        memcpy(before, not_a_handle, sizeof before);
        /* Handed to free() or marked dead, the memory would change or crash. */
        ck_assert_msg(k->free(not_a_handle, 0) == not_a_handle, "%s cleared garbage",
                      k->free_name);
        ck_assert_msg(memcmp(before, not_a_handle, sizeof before) == 0, "%s wrote into garbage",
                      k->free_name);
    }
}
END_TEST

START_TEST(test_destructors_leave_a_handle_of_another_type_alone)
{
    const struct kind_info *k = &kinds[FIRST_KIND + _i];
    struct world w;
    world_open(&w);
    for (int other = FIRST_KIND; other < FIRST_KIND_WITHOUT_LIVE_HANDLE; other++) {
        if (other == FIRST_KIND + _i)
            continue;
        /* world_close() frees it again: a destructor that freed it here would
         * make that a double free. */
        ck_assert_msg(k->free(w.live[other], 0) == w.live[other], "%s freed a %s",
                      k->free_name, kinds[other].type);
    }
    world_close(&w);
}
END_TEST

START_TEST(test_destructors_free_a_live_handle_and_clear_the_pointer)
{
    const struct kind_info *k = &kinds[FIRST_KIND + _i];
    struct world w;
    world_open(&w);
    void *h = world_take(&w, (enum handle_kind)(FIRST_KIND + _i));
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_null(k->free(h, 0));
    world_close(&w);
}
END_TEST

Suite *idm_test_suite(void)
{
    out_calls = select_calls(checks_its_out);
    optional_out_calls = select_calls(has_optional_out);
    store_calls = select_calls(needs_store);
    actor_calls = select_calls(takes_actor);
    live_calls = select_calls(can_run_live);

    Suite *s = suite_create("api_args");
    TCase *ctx = tcase_create("context");
    tcase_add_loop_test(ctx, test_ctx_functions_refuse_null_ctx, 0, (int)N_CTX_CALLS);
    tcase_add_loop_test(ctx, test_ctx_functions_refuse_garbage_ctx, 0, (int)N_CTX_CALLS);
    tcase_add_loop_test(ctx, test_ctx_functions_accept_a_valid_ctx, 0, (int)N_CTX_CALLS);
    tcase_add_test(ctx, test_ctx_new_refuses_null_out);
    tcase_add_test(ctx, test_ctx_free_accepts_null);
    tcase_add_test(ctx, test_ctx_free_leaves_garbage_alone);
    tcase_add_test(ctx, test_set_log_level_refuses_out_of_range_levels);
    tcase_add_test(ctx, test_now_refuses_null_out);
    tcase_add_test(ctx, test_random_bytes_refuses_null_buffer);
    tcase_add_test(ctx, test_setters_accept_null_callbacks);
    suite_add_tcase(s, ctx);

    TCase *plain = tcase_create("plain");
    tcase_add_test(plain, test_string_functions_never_return_null);
    tcase_add_test(plain, test_version_matches_the_headers);
    tcase_add_loop_test(plain, test_name_functions_say_unknown_for_out_of_range_values, 0,
                        (int)N_NAME_CALLS);
    tcase_add_test(plain, test_new_values_have_their_documented_names);
    tcase_add_test(plain, test_process_name_refuses_temporary_cards);
    tcase_add_test(plain, test_process_name_names_every_mass_produced_card);
    tcase_add_test(plain, test_processes_are_the_ten_mass_produced_cards);
    tcase_add_test(plain, test_process_steps_refuses_temporary_cards);
    tcase_add_test(plain, test_order_card_outcomes_have_their_documented_names);
    tcase_add_test(plain, test_bureau_statuses_and_notification_kinds_have_their_documented_names);
    tcase_add_test(plain, test_option_enumeration_accepts_null_outs);
    tcase_add_test(plain, test_piv_slots_have_their_documented_names);
    suite_add_tcase(s, plain);

    TCase *handles = tcase_create("handles");
    tcase_add_loop_test(handles, test_functions_refuse_a_null_handle, 0, (int)N_API_CALLS);
    tcase_add_loop_test(handles, test_functions_refuse_a_garbage_handle, 0, (int)N_API_CALLS);
    tcase_add_loop_test(handles, test_functions_refuse_a_handle_of_another_type, 0,
                        (int)N_API_CALLS);
    tcase_add_loop_test(handles, test_functions_refuse_a_null_out, 0, out_calls.n);
    tcase_add_loop_test(handles, test_optional_outs_may_be_null, 0, optional_out_calls.n);
    tcase_add_loop_test(handles, test_functions_get_past_the_checks_with_valid_arguments, 0,
                        live_calls.n);
    suite_add_tcase(s, handles);

    TCase *store = tcase_create("store");
    tcase_add_loop_test(store, test_store_functions_refuse_a_context_without_store, 0,
                        store_calls.n);
    suite_add_tcase(s, store);

    TCase *args = tcase_create("arguments");
    tcase_add_loop_test(args, test_functions_refuse_bad_actors, 0, actor_calls.n);
    tcase_add_loop_test(args, test_functions_refuse_out_of_range_enums, 0, (int)N_ENUM_CALLS);
    tcase_add_loop_test(args, test_functions_refuse_ids_out_of_range, 0, (int)N_ID_CALLS);
    tcase_add_loop_test(args, test_functions_refuse_numbers_out_of_range, 0, (int)N_RANGE_CALLS);
    tcase_add_loop_test(args, test_functions_refuse_malformed_arguments, 0, (int)N_BAD_CALLS);
    suite_add_tcase(s, args);

    TCase *destructors = tcase_create("destructors");
    tcase_add_loop_test(destructors, test_destructors_accept_null, 0, N_DESTRUCTORS);
    tcase_add_loop_test(destructors, test_destructors_leave_garbage_alone, 0, N_DESTRUCTORS);
    tcase_add_loop_test(destructors, test_destructors_leave_a_handle_of_another_type_alone, 0,
                        N_DESTRUCTORS);
    tcase_add_loop_test(destructors, test_destructors_free_a_live_handle_and_clear_the_pointer,
                        0, N_DESTRUCTORS);
    suite_add_tcase(s, destructors);

    TCase *backends = tcase_create("backends");
    tcase_add_loop_test(backends, test_backends_refuse_what_they_cannot_do, 0,
                        (int)N_UNSUPPORTED_CALLS);
    tcase_add_test(backends, test_ca_new_accepts_the_smallest_table_and_free_destroys_once);
    suite_add_tcase(s, backends);

    TCase *encoders = tcase_create("encoder");
    tcase_add_test(encoders, test_encoder_new_takes_a_whole_table_and_free_destroys_once);
    tcase_add_loop_test(encoders, test_encoder_new_names_a_missing_method, 0,
                        (int)N_REQUIRED_ENCODER_METHODS);
    tcase_add_test(encoders, test_host_encoders_take_the_common_settings);
    tcase_add_test(encoders, test_management_key_must_fit_its_algorithm);
    tcase_add_loop_test(encoders, test_factory_secrets_are_refused_without_being_echoed, 0,
                        (int)N_BAD_FACTORY_SECRETS);
    tcase_add_test(encoders, test_list_readers_answers_whether_or_not_pcscd_runs);
    tcase_add_loop_test(encoders, test_personalize_refuses_before_the_encoder_is_opened, 0,
                        (int)N_PERSONALIZE_REFUSALS);
    suite_add_tcase(s, encoders);

    TCase *stations = tcase_create("stations");
    tcase_add_test(stations, test_station_settings_take_the_ends_of_their_ranges);
    tcase_add_test(stations, test_production_run_takes_older_and_newer_hooks_tables);
    suite_add_tcase(s, stations);

    TCase *printing = tcase_create("printing");
    tcase_add_loop_test(printing,
                        test_layouts_printers_and_stations_refuse_with_their_documented_codes, 0,
                        (int)N_PRINT_REFUSALS);
    tcase_add_test(printing, test_layout_getters_answer_for_the_world_layout);
    tcase_add_test(printing, test_layout_new_reads_len_bytes_up_to_a_mebibyte);
    tcase_add_test(printing, test_layout_load_reads_a_file);
    tcase_add_test(printing, test_layout_render_draws_the_front_into_the_buffer);
    tcase_add_test(printing, test_printer_new_takes_the_whole_table_and_free_destroys_once);
    tcase_add_test(printing, test_cups_printer_takes_the_ends_of_its_ranges);
    tcase_add_test(printing, test_station_takes_and_drops_a_printer);
    suite_add_tcase(s, printing);

    TCase *external = tcase_create("external");
    tcase_add_loop_test(external, test_external_desk_refuses_what_the_state_forbids, 0,
                        (int)N_EXTERNAL_REFUSALS);
    tcase_add_test(external, test_external_desk_takes_valid_arguments_when_enabled);
    tcase_add_test(external, test_external_counts_take_the_ends_of_their_ranges);
    tcase_add_test(external, test_external_new_takes_no_producer_and_no_notifier);
    tcase_add_test(external, test_card_shipment_and_requester_are_null_until_known);
    tcase_add_test(external, test_producer_new_accepts_the_smallest_table_and_free_destroys_once);
    tcase_add_test(external, test_notifier_new_accepts_the_smallest_table_and_free_destroys_once);
    tcase_add_test(external, test_maildir_notifier_takes_the_longest_sender);
    suite_add_tcase(s, external);

    TCase *regressions = tcase_create("regressions");
    tcase_add_loop_test(regressions, test_fixed_bugs_stay_fixed, 0, (int)N_REGRESSIONS);
    suite_add_tcase(s, regressions);
    return s;
}
