/*
 * Printer handles: the copy of a host's ops table, and the built-in CUPS
 * printer registered as one more user of the same table.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/printer/printer_impl.h"
#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "model/text.h"

static int printer_alloc(const idm_printer_ops *ops, size_t ops_size, void *user_data,
                         void (*destroy)(void *), idm_printer_t **out)
{
    idm_printer_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a printer");
    p->magic = IDM_MAGIC_PRINTER;
    idm_ops_copy(&p->ops, sizeof p->ops, ops, ops_size);
    p->user_data = user_data;
    p->destroy = destroy;
    *out = p;
    return IDM_OK;
}

IDM_EXPORT int idm_printer_new(idm_printer_t **out, const idm_printer_ops *ops, size_t ops_size,
                               void *user_data, void (*destroy)(void *user_data))
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(ops);
    size_t required = offsetof(idm_printer_ops, print) + sizeof ops->print;
    if (ops_size < required)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'ops_size' is %zu; an idm_printer_ops "
                        "of version %d has at least %zu bytes", ops_size,
                        IDM_PRINTER_OPS_VERSION, required);
    if (ops->version != IDM_PRINTER_OPS_VERSION)
        return IDM_FAIL(IDM_ERR_UNSUPPORTED, "ops->version is %" PRIu32 "; this library knows "
                        "idm_printer_ops version %d", ops->version, IDM_PRINTER_OPS_VERSION);
    if (ops->print == NULL)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "ops->print is NULL");
    int rc = printer_alloc(ops, ops_size, user_data, destroy, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

IDM_EXPORT int idm_printer_backend_error(const char *message)
{
    IDM_CHECK_NOT_NULL(message);
    idm_backend_say(message);
    return IDM_OK;
}

/* A CUPS destination name: what lpadmin accepts, and nothing a URI path
 * or a shell would read differently.  NULL when it is one; otherwise why
 * not. */
static const char *queue_name_problem(const char *queue)
{
    size_t len = strlen(queue);
    if (len == 0)
        return "is empty";
    if (len > 127)
        return "is longer than 127 characters";
    for (const char *c = queue; *c != '\0'; c++) {
        if (*c == '/' || *c == '#')
            return "contains '/' or '#'";
        if (*c <= ' ' || *c >= 0x7f)
            return "contains a blank, a control character or a character that is not ASCII";
    }
    return NULL;
}

IDM_EXPORT int idm_printer_new_cups(idm_printer_t **out, const char *queue, const char *server,
                                    int64_t timeout_ms)
{
    IDM_CHECK_NOT_NULL(out);
    *out = NULL;
    IDM_CHECK_NOT_NULL(queue);
    const char *problem = queue_name_problem(queue);
    if (problem != NULL) {
        char shown[160];
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'queue' \"%s\" %s; a CUPS queue name is "
                        "1..127 printable ASCII characters without '/', '#' or blanks",
                        idm_text_shown(queue, shown, sizeof shown), problem);
    }
    if (server != NULL && (server[0] == '\0' || strlen(server) > 255))
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'server' must be NULL or 1..255 "
                        "characters (host, host:port or a socket path)");
    if (timeout_ms < 1000 || timeout_ms > 3600000)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'timeout_ms' is %" PRId64 "; it must be "
                        "1000 .. 3600000", timeout_ms);
    void *cups = NULL;
    int rc = idm_cups_printer_new(&cups, queue, server, timeout_ms);
    if (rc == IDM_OK) {
        rc = printer_alloc(&idm_cups_printer_ops, sizeof idm_cups_printer_ops, cups,
                           idm_cups_printer_free, out);
        if (rc != IDM_OK)
            idm_cups_printer_free(cups);
    }
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}

int idm_printer_print(idm_printer_t *printer, const char *job_name, const unsigned char *pdf,
                      size_t pdf_len)
{
    char what[200];
    int n = snprintf(what, sizeof what, "print %s", job_name);
    if (n < 0 || (size_t)n >= sizeof what)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "a print job name is too long");
    idm_backend_call_reset();
    int rc = printer->ops.print(job_name, pdf, pdf_len, printer->user_data);
    return idm_backend_result(rc, "printer", what);
}

IDM_EXPORT void idm_printer_free(idm_printer_t **printer)
{
    if (!IDM_LIVE_HANDLE(printer, IDM_MAGIC_PRINTER))
        return;
    if ((*printer)->destroy != NULL)
        (*printer)->destroy((*printer)->user_data);
    idm_handle_kill(*printer);
    free(*printer);
    *printer = NULL;
}
