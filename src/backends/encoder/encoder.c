/*
 * Encoder handles: the copy of a host's ops table, the built-in PC/SC
 * encoder registered as one more user of the same table, the station's
 * settings and the statistics around every ops call.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/encoder/encoder_impl.h"
#include "backends/encoder/pcsc.h"
#include "core/buffer_impl.h"
#include "core/context_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"

#define CHECK_ENCODER(e) IDM_CHECK_HANDLE(e, IDM_MAGIC_ENCODER, "idm_encoder_t")
#define DEFAULT_TIMEOUT_MS 30000
#define MAX_TIMEOUT_MS 3600000

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t idm_encoder_call_start(void)
{
    idm_backend_call_reset();
    return now_us();
}

int idm_encoder_call_end(idm_encoder_t *enc, uint64_t started, int rc, const char *what)
{
    enc->card_us += now_us() - started;
    return idm_backend_result(rc, "encoder", what);
}

IDM_EXPORT const char *idm_piv_slot_name(idm_piv_slot slot)
{
    switch (slot) {
    case IDM_PIV_SLOT_AUTHENTICATION:
        return "9A authentication";
    case IDM_PIV_SLOT_SIGNATURE:
        return "9C signature";
    case IDM_PIV_SLOT_KEY_MANAGEMENT:
        return "9D key management";
    case IDM_PIV_SLOT_CARD_AUTHENTICATION:
        return "9E card authentication";
    }
    return "unknown";
}

unsigned idm_piv_slot_cert_object(unsigned slot)
{
    switch (slot) {
    case IDM_PIV_SLOT_AUTHENTICATION:
        return IDM_PIV_OBJECT_CERT_AUTHENTICATION;
    case IDM_PIV_SLOT_SIGNATURE:
        return IDM_PIV_OBJECT_CERT_SIGNATURE;
    case IDM_PIV_SLOT_KEY_MANAGEMENT:
        return IDM_PIV_OBJECT_CERT_KEY_MANAGEMENT;
    case IDM_PIV_SLOT_CARD_AUTHENTICATION:
        return IDM_PIV_OBJECT_CERT_CARD_AUTHENTICATION;
    }
    return 0;
}

static int encoder_alloc(const idm_encoder_ops *ops, size_t ops_size, void *user_data,
                         void (*destroy)(void *), idm_encoder_t **out)
{
    idm_encoder_t *enc = calloc(1, sizeof *enc);
    if (enc == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate an encoder");
    enc->magic = IDM_MAGIC_ENCODER;
    idm_ops_copy(&enc->ops, sizeof enc->ops, ops, ops_size);
    enc->user_data = user_data;
    enc->destroy = destroy;
    enc->timeout_ms = DEFAULT_TIMEOUT_MS;
    *out = enc;
    return IDM_OK;
}

IDM_EXPORT int idm_encoder_new(idm_encoder_t **out, const idm_encoder_ops *ops, size_t ops_size,
                               void *user_data, void (*destroy)(void *user_data))
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(ops);
    /* Every method of version 1 but generate_key and sign (Digital ID only)
     * is needed, so a version 1 table must be whole. */
    size_t required = offsetof(idm_encoder_ops, close) + sizeof ops->close;
    if (ops_size < required)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'ops_size' is %zu; an idm_encoder_ops "
                        "of version %d has at least %zu bytes", ops_size,
                        IDM_ENCODER_OPS_VERSION, required);
    if (ops->version != IDM_ENCODER_OPS_VERSION)
        return IDM_FAIL(IDM_ERR_UNSUPPORTED, "ops->version is %" PRIu32 "; this library knows "
                        "idm_encoder_ops version %d", ops->version, IDM_ENCODER_OPS_VERSION);
    const struct {
        const char *name;
        int missing;
    } required_methods[] = {
        {"open", ops->open == NULL},
        {"card_serial", ops->card_serial == NULL},
        {"write_certificate", ops->write_certificate == NULL},
        {"write_object", ops->write_object == NULL},
        {"read_object", ops->read_object == NULL},
        {"set_pin", ops->set_pin == NULL},
        {"verify_pin", ops->verify_pin == NULL},
        {"close", ops->close == NULL},
    };
    for (size_t i = 0; i < sizeof required_methods / sizeof required_methods[0]; i++) {
        if (required_methods[i].missing)
            return IDM_FAIL(IDM_ERR_INVALID_ARG, "ops->%s is NULL; only generate_key and sign "
                            "may be left out (Physical ID only)", required_methods[i].name);
    }
    int rc = encoder_alloc(ops, ops_size, user_data, destroy, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_encoder_backend_error(const char *message)
{
    IDM_CHECK_NOT_NULL(message);
    idm_backend_say(message);
    return IDM_OK;
}

IDM_EXPORT void idm_encoder_free(idm_encoder_t **encoder)
{
    if (!IDM_LIVE_HANDLE(encoder, IDM_MAGIC_ENCODER))
        return;
    if ((*encoder)->destroy != NULL)
        (*encoder)->destroy((*encoder)->user_data);
    idm_handle_kill(*encoder);
    free(*encoder);
    *encoder = NULL;
}

IDM_EXPORT int idm_encoder_set_timeout(idm_encoder_t *encoder, int timeout_ms)
{
    CHECK_ENCODER(encoder);
    if (timeout_ms < 0 || timeout_ms > MAX_TIMEOUT_MS)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'timeout_ms' is %d; expected 0..%d",
                        timeout_ms, MAX_TIMEOUT_MS);
    encoder->timeout_ms = timeout_ms;
    return IDM_OK;
}

IDM_EXPORT int idm_encoder_set_pin_callbacks(idm_encoder_t *encoder, idm_pin_entry_fn entry,
                                             idm_pin_delivery_fn delivery, void *user_data)
{
    CHECK_ENCODER(encoder);
    encoder->pin_entry = entry;
    encoder->pin_delivery = delivery;
    encoder->pin_user_data = user_data;
    return IDM_OK;
}

IDM_EXPORT int idm_encoder_get_stats(const idm_encoder_t *encoder, uint64_t *apdus,
                                     uint64_t *bytes, uint64_t *card_us)
{
    CHECK_ENCODER(encoder);
    if (apdus != NULL)
        *apdus = encoder->apdu_stats.apdus;
    if (bytes != NULL)
        *bytes = (uint64_t)encoder->apdu_stats.bytes_out + encoder->apdu_stats.bytes_in;
    if (card_us != NULL)
        *card_us = encoder->card_us;
    return IDM_OK;
}

IDM_EXPORT int idm_encoder_reset_stats(idm_encoder_t *encoder)
{
    CHECK_ENCODER(encoder);
    memset(&encoder->apdu_stats, 0, sizeof encoder->apdu_stats);
    encoder->card_us = 0;
    return IDM_OK;
}

/* ---- the built-in PC/SC encoder ----------------------------------------- */

IDM_EXPORT int idm_encoder_pcsc_list_readers(idm_buffer_t *names, size_t *count)
{
    IDM_CHECK_HANDLE(names, IDM_MAGIC_BUFFER, "idm_buffer_t");
    if (count != NULL)
        *count = 0;
    struct idm_pcsc *p = NULL;
    char **list = NULL;
    size_t n = 0;
    int rc = idm_pcsc_open(&p);
    if (rc == IDM_OK) {
        rc = idm_pcsc_list_readers(p, &list, &n);
        if (rc == IDM_ERR_NOT_FOUND) { /* no reader is an empty list here */
            rc = IDM_OK;
            n = 0;
        }
    }
    size_t total = 0;
    for (size_t i = 0; rc == IDM_OK && i < n; i++)
        total += strlen(list[i]) + 1;
    char *joined = NULL;
    if (rc == IDM_OK && total > 0) {
        joined = malloc(total);
        if (joined == NULL)
            rc = IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate %zu bytes", total);
        for (size_t i = 0, at = 0; rc == IDM_OK && i < n; i++) {
            size_t len = strlen(list[i]) + 1;
            memcpy(joined + at, list[i], len);
            at += len;
        }
    }
    if (rc == IDM_OK)
        rc = idm_buffer_put(names, joined, total);
    if (rc == IDM_OK && count != NULL)
        *count = n;
    free(joined);
    idm_pcsc_free_readers(list);
    idm_pcsc_close(p);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_encoder_pcsc_wait_card(const char *reader, int timeout_ms)
{
    IDM_CHECK_NOT_NULL(reader);
    if (timeout_ms < 0 || timeout_ms > MAX_TIMEOUT_MS)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'timeout_ms' is %d; expected 0..%d",
                        timeout_ms, MAX_TIMEOUT_MS);
    struct idm_pcsc *p = NULL;
    int rc = idm_pcsc_open(&p);
    if (rc == IDM_OK)
        rc = idm_pcsc_wait_card(p, reader, timeout_ms);
    idm_pcsc_close(p);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_encoder_new_pcsc(idm_encoder_t **out, idm_ctx_t *ctx)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_CTX(ctx);
    idm_encoder_t *enc = NULL;
    struct idm_pcsc_encoder *builtin = NULL;
    int rc = encoder_alloc(&idm_pcsc_encoder_ops, sizeof idm_pcsc_encoder_ops, NULL,
                           idm_pcsc_encoder_free, &enc);
    if (rc == IDM_OK)
        rc = idm_pcsc_encoder_new(&builtin, &enc->apdu_stats);
    if (rc != IDM_OK) {
        free(enc);
        return idm_error_prefix(__func__, rc);
    }
    enc->user_data = builtin;
    enc->builtin = builtin;
    *out = enc;
    return IDM_OK;
}

#define CHECK_BUILTIN(e)                                                                    \
    do {                                                                                    \
        CHECK_ENCODER(e);                                                                   \
        if ((e)->builtin == NULL)                                                           \
            return IDM_FAIL(IDM_ERR_UNSUPPORTED, "the encoder is a host encoder; only the " \
                            "built-in PC/SC encoder has this setting");                     \
    } while (0)

static int reader_setting(const char *func, idm_encoder_t *encoder, const char *name, int index,
                          const char *serial)
{
    int rc = idm_pcsc_encoder_set_reader(encoder->builtin, name, index, serial);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(func, rc);
}

IDM_EXPORT int idm_encoder_pcsc_set_reader(idm_encoder_t *encoder, const char *name)
{
    CHECK_BUILTIN(encoder);
    IDM_CHECK_NOT_NULL(name);
    if (name[0] == '\0' || strlen(name) > 255)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'name' must be 1..255 bytes");
    return reader_setting(__func__, encoder, name, -1, NULL);
}

IDM_EXPORT int idm_encoder_pcsc_set_reader_index(idm_encoder_t *encoder, int index)
{
    CHECK_BUILTIN(encoder);
    if (index < 0 || index > 255)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'index' is %d; expected 0..255", index);
    return reader_setting(__func__, encoder, NULL, index, NULL);
}

IDM_EXPORT int idm_encoder_pcsc_set_card_serial(idm_encoder_t *encoder, const char *serial)
{
    CHECK_BUILTIN(encoder);
    IDM_CHECK_NOT_NULL(serial);
    size_t len = strlen(serial);
    if (len == 0 || len > 64)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'serial' is %zu bytes; expected 1..64",
                        len);
    return reader_setting(__func__, encoder, NULL, -1, serial);
}

IDM_EXPORT int idm_encoder_pcsc_set_management_key(idm_encoder_t *encoder, idm_mgmt_key_alg alg,
                                                   const unsigned char *key, size_t len)
{
    CHECK_BUILTIN(encoder);
    IDM_CHECK_NOT_NULL(key);
    size_t want = alg == IDM_MGMT_KEY_3DES     ? 24
                  : alg == IDM_MGMT_KEY_AES128 ? 16
                  : alg == IDM_MGMT_KEY_AES192 ? 24
                  : alg == IDM_MGMT_KEY_AES256 ? 32
                                               : 0;
    if (want == 0)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'alg' is 0x%02X; not an "
                        "idm_mgmt_key_alg", (unsigned)alg);
    if (len != want)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'len' is %zu; a management key for "
                        "%s has %zu bytes", len, alg == IDM_MGMT_KEY_3DES ? "3DES" : "AES", want);
    int rc = idm_pcsc_encoder_set_management_key(encoder->builtin, (unsigned)alg, key, len);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

static int check_secret(const char *func, const char *arg, const char *value, size_t min,
                        size_t max, int digits_only)
{
    size_t len = strlen(value);
    /* Never echo the value: it is a secret. */
    if (len < min || len > max)
        return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument '%s' has %zu characters; "
                             "expected %zu..%zu", arg, len, min, max);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (digits_only ? (c < '0' || c > '9') : (c < 0x20 || c > 0x7E))
            return idm_error_set(func, IDM_ERR_INVALID_ARG, "argument '%s' has a character "
                                 "other than %s at position %zu", arg,
                                 digits_only ? "a digit" : "printable ASCII", i + 1);
    }
    return IDM_OK;
}

IDM_EXPORT int idm_encoder_pcsc_set_factory_secrets(idm_encoder_t *encoder, const char *pin,
                                                    const char *puk)
{
    CHECK_BUILTIN(encoder);
    IDM_CHECK_NOT_NULL(pin);
    IDM_CHECK_NOT_NULL(puk);
    int rc = check_secret(__func__, "pin", pin, 4, 8, 1);
    if (rc == IDM_OK)
        rc = check_secret(__func__, "puk", puk, 1, 8, 0);
    if (rc != IDM_OK)
        return rc;
    rc = idm_pcsc_encoder_set_factory_secrets(encoder->builtin, pin, puk);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}
