/*
 * Certificate subjects from cert_subject_template, written like OpenSSL's
 * -subj: "/C=SE/O=Example Corp/CN=${commonName}", the most significant RDN
 * first.  Each value is an attribute template; ${commonName} is the
 * identity's common name (a non-personal card's name).
 */
#ifndef IDM_MODEL_SUBJECT_H
#define IDM_MODEL_SUBJECT_H

#include <stddef.h>

#include "backends/ca/ca_impl.h"
#include "model/records.h"

/* 1 if tmpl is a valid subject template; otherwise 0 and why. */
int idm_subject_template_valid(const char *tmpl, char *why, size_t why_size);

/*
 * Expands tmpl: ${commonName} is common_name, other ${key} are attributes.
 * Fills req->rdns and req->subject (RFC 4514, most significant RDN last).
 * IDM_ERR_STATE naming the missing attribute when one is absent (no
 * function name); IDM_ERR_NO_MEMORY.
 */
int idm_subject_build(const char *tmpl, const char *common_name, const struct idm_attr *attrs,
                      size_t nattrs, struct idm_cert_request *req);

#endif /* IDM_MODEL_SUBJECT_H */
