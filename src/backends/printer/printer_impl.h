/*
 * Printer handles as the library sees them: a copy of an ops table (the
 * built-in CUPS printer is one more user of it).
 */
#ifndef IDM_BACKENDS_PRINTER_PRINTER_IMPL_H
#define IDM_BACKENDS_PRINTER_PRINTER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <idm/printer.h>

struct idm_printer {
    uint32_t magic; /* IDM_MAGIC_PRINTER */
    idm_printer_ops ops;
    void *user_data;
    void (*destroy)(void *user_data);
};

/*
 * Prints pdf as job_name through the printer's method: the backend's
 * result as idm_backend_result() makes it ("the printer failed to print
 * <job>: <its words>").  Errors carry no function name.
 */
int idm_printer_print(idm_printer_t *printer, const char *job_name, const unsigned char *pdf,
                      size_t pdf_len);

/* ---- the built-in CUPS printer (cups_printer.c) ------------------------ */

extern const idm_printer_ops idm_cups_printer_ops;
/* *out receives the printer's user data; arguments already checked by the
 * caller (queue, server, timeout as idm_printer_new_cups() documents);
 * errors carry no function name. */
int idm_cups_printer_new(void **out, const char *queue, const char *server, int64_t timeout_ms);
void idm_cups_printer_free(void *user_data);

#endif /* IDM_BACKENDS_PRINTER_PRINTER_IMPL_H */
