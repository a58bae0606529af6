/*
 * libidm - card production for identity management.
 *
 * The umbrella header: include this one.  Link with the flags of
 * `pkg-config --cflags --libs idm`.
 */
#ifndef IDM_IDM_H
#define IDM_IDM_H

#include <idm/types.h>
#include <idm/version.h>
#include <idm/error.h>
#include <idm/context.h>
#include <idm/options.h>
#include <idm/identity.h>
#include <idm/card.h>
#include <idm/certificate.h>
#include <idm/order.h>
#include <idm/audit.h>
#include <idm/buffer.h>
#include <idm/ca.h>
#include <idm/encoder.h>
#include <idm/production.h>
#include <idm/producer.h>
#include <idm/notifier.h>
#include <idm/layout.h>
#include <idm/printer.h>
#include <idm/external.h>

#endif /* IDM_IDM_H */
