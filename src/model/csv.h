/*
 * Internal streaming reader for RFC 4180 CSV, the format identities are
 * imported from.
 *
 * Input is read in fixed-size chunks and only the current record is kept, so
 * memory grows with the longest record (bounded by the limits below), never
 * with the number of records or the size of the input.
 *
 * Format: comma separator; records end at LF or CRLF (a lone CR is data);
 * fields may be quoted with '"', and then hold commas, CR, LF and doubled
 * quotes ("" is one '"').  A closing quote must be followed by a comma, the
 * end of the record or the end of input.  A UTF-8 BOM at the very start is
 * skipped; an empty line is skipped (but counted); the last record may lack a
 * final line ending.  Bytes are not checked for UTF-8: the caller does that.
 *
 * Thread-safety: a reader is used by one thread at a time.
 */
#ifndef IDM_MODEL_CSV_H
#define IDM_MODEL_CSV_H

#include <stddef.h>

typedef struct idm_csv_reader idm_csv_reader;

/* Limits that bound memory whatever the input is. */
#define IDM_CSV_MAX_FIELD 65536       /* bytes in one field, after unquoting */
#define IDM_CSV_MAX_FIELDS 1024       /* fields in one record */
#define IDM_CSV_MAX_RECORD (1u << 20) /* bytes in one record, all fields together */

/*
 * Opens a file for reading (fopen "rb").  The reader owns the file and
 * closes it in idm_csv_reader_free().
 *
 * @return IDM_OK; IDM_ERR_IO with the path and the system's reason when the
 *         file cannot be opened; IDM_ERR_NO_MEMORY; IDM_ERR_INVALID_ARG for a
 *         NULL out or path.  *out is NULL on failure.
 */
int idm_csv_reader_open_file(idm_csv_reader **out, const char *path);

/*
 * Reads from a caller-owned buffer of len bytes that must outlive the reader;
 * nothing is copied but the current record.  data may be NULL when len is 0.
 *
 * @return IDM_OK; IDM_ERR_NO_MEMORY; IDM_ERR_INVALID_ARG.  *out is NULL on
 *         failure.
 */
int idm_csv_reader_open_memory(idm_csv_reader **out, const char *data, size_t len);

/* Frees the reader and closes its file.  NULL-safe; sets *reader to NULL. */
void idm_csv_reader_free(idm_csv_reader **reader);

/*
 * Reads the next record.
 *
 * On IDM_OK: *nfields is the number of fields, or 0 at the end of input (and
 * then nothing else is set; later calls keep returning 0).  (*fields)[i] is
 * field i as a NUL-terminated string and (*lens)[i] its length in bytes (a
 * field may not contain NUL, so the two agree).  *line is the 1-based
 * physical line on which the record starts.  The arrays and strings belong
 * to the reader and stay valid until the next call or idm_csv_reader_free().
 *
 * On error: IDM_ERR_PARSE for malformed input, IDM_ERR_IO for a read error,
 * IDM_ERR_NO_MEMORY (IDM_ERR_INVALID_ARG for a NULL argument); *nfields is 0
 * and the thread's detail message says "line N: <what>" or
 * "line N, field M: <what>" with no function name in front, so the caller
 * can wrap it with the file name.  N is the line on which the fault was
 * found, except for an unterminated quoted field, where it is the line of the
 * opening quote.  After any error but a bad argument, every later call
 * fails the same way, with the same message.
 */
int idm_csv_next(idm_csv_reader *reader, size_t *nfields, const char *const **fields,
                 const size_t **lens, size_t *line);

#endif /* IDM_MODEL_CSV_H */
