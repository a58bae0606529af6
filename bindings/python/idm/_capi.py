"""The C API of libidm as ctypes sees it: the loader, the callback types, the
ops and hooks tables, and FUNCTIONS, the one table that declares every
exported function (src/libidm.map) with its restype, argtypes and errcheck.

Conventions (../shared/STYLE.md, "Python binding"):
  opaque handles          c_void_p; out-handles POINTER(c_void_p)
  const char * in         c_char_p (bytes or None)
  const char ** out       POINTER(c_char_p)
  byte data in            c_void_p (bytes, a ctypes buffer or an address)
  byte data out           POINTER(c_void_p) + POINTER(c_size_t); read with string_at
  enums                   c_int (C_ENUM), out-enums POINTER(c_int)
  int-returning calls     restype c_int, errcheck check(): a negative code raises
                          the idm.Error subclass for it
  const char *-returning  restype c_char_p, no errcheck (static names)
  void calls              restype None
Nothing relies on ctypes' default int restype.  tests/test_declarations.py
checks every entry against the headers.

This module is the raw layer: the Pythonic classes are built on it.
"""

import ctypes
import ctypes.util
import os
import re
from pathlib import Path

from . import _callbacks, errors

SONAME = "libidm.so.1"
ABI_MAJOR = 1

# ---- loading ---------------------------------------------------------------


def _candidates():
    env = os.environ.get("IDM_LIBRARY")
    if env:
        yield env
        return
    here = Path(__file__).resolve().parent
    for build in ("build", "builddir"):
        yield str(here.parents[2] / build / "src" / SONAME)
    yield SONAME
    found = ctypes.util.find_library("idm")
    if found:
        yield found


def _load():
    failures = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            failures.append(f"{path}: no such file")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as exc:
            failures.append(str(exc))
    raise ImportError("cannot load libidm: " + "; ".join(failures))


lib = _load()

# ---- scalar types ----------------------------------------------------------

_P = ctypes.POINTER
c_char_p = ctypes.c_char_p
c_int = ctypes.c_int
c_uint = ctypes.c_uint
c_ulong = ctypes.c_ulong
c_int64 = ctypes.c_int64
c_uint32 = ctypes.c_uint32
c_uint64 = ctypes.c_uint64
c_size_t = ctypes.c_size_t
c_void_p = ctypes.c_void_p
#: every C enum crosses the ABI as an int
C_ENUM = ctypes.c_int

HANDLE = c_void_p              # idm_ctx_t *, idm_card_t *, ...
OUT_HANDLE = _P(c_void_p)      # idm_ctx_t **out, and the free functions' idm_x_t **
OUT_STR = _P(c_char_p)         # const char **out
OUT_BYTES = _P(c_void_p)       # const unsigned char **data
OUT_INT = _P(c_int)
OUT_ENUM = _P(C_ENUM)
OUT_INT64 = _P(c_int64)
OUT_UINT64 = _P(c_uint64)
OUT_SIZE = _P(c_size_t)
BYTES = c_void_p               # const unsigned char *data, const void *data
BUFFER = c_void_p              # idm_buffer_t *
WRITABLE = _P(ctypes.c_char)   # char *buf the callee fills (callbacks)
CBYTES = _P(ctypes.c_ubyte)    # const unsigned char * handed to a callback

# ---- constants of the headers ----------------------------------------------

ATTRIBUTE_VALUE_MAX = 4096
CA_OPS_VERSION = 1
ENCODER_OPS_VERSION = 1
PRODUCTION_HOOKS_VERSION = 1
PRODUCER_OPS_VERSION = 1
NOTIFIER_OPS_VERSION = 1
PRINTER_OPS_VERSION = 1

#: the integer #defines of the headers, by their C name
CONSTANTS = {
    "IDM_ATTRIBUTE_VALUE_MAX": ATTRIBUTE_VALUE_MAX,
    "IDM_CA_OPS_VERSION": CA_OPS_VERSION,
    "IDM_ENCODER_OPS_VERSION": ENCODER_OPS_VERSION,
    "IDM_PRODUCTION_HOOKS_VERSION": PRODUCTION_HOOKS_VERSION,
    "IDM_PRODUCER_OPS_VERSION": PRODUCER_OPS_VERSION,
    "IDM_NOTIFIER_OPS_VERSION": NOTIFIER_OPS_VERSION,
    "IDM_PRINTER_OPS_VERSION": PRINTER_OPS_VERSION,
}

# ---- callback types ----------------------------------------------------------

_callback_cache = {}


def _callback(restype, *argtypes):
    """ctypes.CFUNCTYPE(restype, *argtypes), whose from_param also takes None
    (a NULL function pointer) where the C API allows "NULL for none".  One
    class per signature, like CFUNCTYPE itself."""
    key = (restype, argtypes)
    if key in _callback_cache:
        return _callback_cache[key]
    base = ctypes.CFUNCTYPE(restype, *argtypes)

    class Callback(base):
        _flags_ = base._flags_
        _restype_ = base._restype_
        _argtypes_ = base._argtypes_

        @classmethod
        def from_param(cls, obj):
            if obj is None:
                return cls()
            return base.from_param(obj)

    Callback.__name__ = Callback.__qualname__ = "Callback"
    _callback_cache[key] = Callback
    return Callback


# <idm/context.h>
LogFn = _callback(None, C_ENUM, c_char_p, c_char_p, c_void_p)          # idm_log_fn
ClockFn = _callback(c_int64, c_void_p)                                  # idm_clock_fn
RandomFn = _callback(c_int, c_void_p, c_size_t, c_void_p)               # idm_random_fn
# void (*destroy)(void *user_data) of idm_ca_new() and the other _new() of host backends
DestroyFn = _callback(None, c_void_p)
# <idm/ca.h>
PassphraseFn = _callback(c_int, WRITABLE, c_size_t, c_void_p)           # idm_passphrase_fn
# <idm/encoder.h>
PinEntryFn = _callback(c_int, HANDLE, WRITABLE, c_size_t, c_void_p)     # idm_pin_entry_fn
PinDeliveryFn = _callback(c_int, HANDLE, c_char_p, c_char_p, c_void_p)  # idm_pin_delivery_fn
# <idm/production.h>
ReadinessFn = _callback(c_int, HANDLE, WRITABLE, c_size_t, c_void_p)    # idm_readiness_fn
# <idm/producer.h>
BureauReportFn = _callback(c_int, c_char_p, C_ENUM, c_char_p, c_char_p, c_char_p,
                           c_void_p)                                    # idm_bureau_report_fn
# <idm/external.h>
ExternalResultFn = _callback(None, c_size_t, c_int64, c_int, c_int64, C_ENUM, c_char_p,
                             c_void_p)                                  # idm_external_result_fn

#: the function pointer typedefs of the headers, by their C name
CALLBACKS = {
    "idm_log_fn": LogFn,
    "idm_clock_fn": ClockFn,
    "idm_random_fn": RandomFn,
    "idm_passphrase_fn": PassphraseFn,
    "idm_pin_entry_fn": PinEntryFn,
    "idm_pin_delivery_fn": PinDeliveryFn,
    "idm_readiness_fn": ReadinessFn,
    "idm_bureau_report_fn": BureauReportFn,
    "idm_external_result_fn": ExternalResultFn,
}

# ---- ops and hooks tables ----------------------------------------------------

# idm_ca_ops
CaIssueFn = _callback(c_int, HANDLE, BUFFER, c_void_p)
CaRevokeFn = _callback(c_int, c_char_p, C_ENUM, c_int64, c_void_p)
CaHoldFn = _callback(c_int, c_char_p, c_int64, c_void_p)
CaReleaseFn = _callback(c_int, c_char_p, c_void_p)
CaCrlFn = _callback(c_int, BUFFER, c_void_p)

# idm_encoder_ops
EncoderOpenFn = _callback(c_int, c_int, c_void_p)
EncoderCardSerialFn = _callback(c_int, WRITABLE, c_size_t, c_void_p)
EncoderGenerateKeyFn = _callback(c_int, C_ENUM, C_ENUM, BUFFER, c_void_p)
EncoderWriteCertificateFn = _callback(c_int, C_ENUM, CBYTES, c_size_t, c_void_p)
EncoderWriteObjectFn = _callback(c_int, C_ENUM, CBYTES, c_size_t, c_void_p)
EncoderReadObjectFn = _callback(c_int, C_ENUM, BUFFER, c_void_p)
EncoderSetPinFn = _callback(c_int, c_char_p, c_char_p, c_void_p)
EncoderVerifyPinFn = _callback(c_int, c_char_p, c_void_p)
EncoderSignFn = _callback(c_int, C_ENUM, C_ENUM, CBYTES, c_size_t, BUFFER, c_void_p)
EncoderCloseFn = _callback(c_int, c_int, c_void_p)

# idm_producer_ops; order_json is not NUL-terminated, hence a plain char pointer
ProducerSubmitFn = _callback(c_int, c_char_p, WRITABLE, c_size_t, c_void_p)
ProducerStatusFn = _callback(c_int, _P(c_char_p), c_size_t, BureauReportFn, c_void_p,
                             c_void_p)
ProducerCancelFn = _callback(c_int, c_char_p, c_void_p)

# idm_notifier_ops
NotifierSendFn = _callback(c_int, c_char_p, C_ENUM, c_char_p, c_char_p, c_char_p, c_void_p)

# idm_printer_ops
PrinterPrintFn = _callback(c_int, c_char_p, CBYTES, c_size_t, c_void_p)

# idm_production_hooks
HookReadyFn = _callback(c_int, HANDLE, WRITABLE, c_size_t, c_void_p)   # same as ReadinessFn
HookCardFn = _callback(c_int, HANDLE, c_void_p)      # before_issue, after_issue, produce, verify
HookCompleteOrMoreFn = _callback(c_int, HANDLE, OUT_INT, c_void_p)
HookProgressFn = _callback(c_int, HANDLE, c_int64, C_ENUM, c_void_p)


class _Table(ctypes.Structure):
    """A versioned table of function pointers: version, size, then the methods."""
    VERSION = None

    @classmethod
    def init(cls):
        """A table with version and size set and no methods, like the C *_INIT macros."""
        return cls(version=cls.VERSION, size=ctypes.sizeof(cls))


class CaOps(_Table):
    """struct idm_ca_ops (<idm/ca.h>)."""
    VERSION = CA_OPS_VERSION
    _fields_ = [
        ("version", c_uint32),
        ("size", c_uint32),
        ("issue", CaIssueFn),
        ("revoke", CaRevokeFn),
        ("hold", CaHoldFn),
        ("release", CaReleaseFn),
        ("crl", CaCrlFn),
    ]


class EncoderOps(_Table):
    """struct idm_encoder_ops (<idm/encoder.h>)."""
    VERSION = ENCODER_OPS_VERSION
    _fields_ = [
        ("version", c_uint32),
        ("size", c_uint32),
        ("open", EncoderOpenFn),
        ("card_serial", EncoderCardSerialFn),
        ("generate_key", EncoderGenerateKeyFn),
        ("write_certificate", EncoderWriteCertificateFn),
        ("write_object", EncoderWriteObjectFn),
        ("read_object", EncoderReadObjectFn),
        ("set_pin", EncoderSetPinFn),
        ("verify_pin", EncoderVerifyPinFn),
        ("sign", EncoderSignFn),
        ("close", EncoderCloseFn),
    ]


class ProducerOps(_Table):
    """struct idm_producer_ops (<idm/producer.h>)."""
    VERSION = PRODUCER_OPS_VERSION
    _fields_ = [
        ("version", c_uint32),
        ("size", c_uint32),
        ("submit", ProducerSubmitFn),
        ("status", ProducerStatusFn),
        ("cancel", ProducerCancelFn),
    ]


class NotifierOps(_Table):
    """struct idm_notifier_ops (<idm/notifier.h>)."""
    VERSION = NOTIFIER_OPS_VERSION
    _fields_ = [
        ("version", c_uint32),
        ("size", c_uint32),
        ("send", NotifierSendFn),
    ]


class PrinterOps(_Table):
    """struct idm_printer_ops (<idm/printer.h>)."""
    VERSION = PRINTER_OPS_VERSION
    _fields_ = [
        ("version", c_uint32),
        ("size", c_uint32),
        ("print", PrinterPrintFn),
    ]


class ProductionHooks(_Table):
    """struct idm_production_hooks (<idm/production.h>)."""
    VERSION = PRODUCTION_HOOKS_VERSION
    _fields_ = [
        ("version", c_uint32),
        ("size", c_uint32),
        ("ready", HookReadyFn),
        ("before_issue", HookCardFn),
        ("after_issue", HookCardFn),
        ("produce", HookCardFn),
        ("verify", HookCardFn),
        ("complete_or_more", HookCompleteOrMoreFn),
        ("progress", HookProgressFn),
    ]


def ca_ops_init():
    """IDM_CA_OPS_INIT."""
    return CaOps.init()


def encoder_ops_init():
    """IDM_ENCODER_OPS_INIT."""
    return EncoderOps.init()


def producer_ops_init():
    """IDM_PRODUCER_OPS_INIT."""
    return ProducerOps.init()


def notifier_ops_init():
    """IDM_NOTIFIER_OPS_INIT."""
    return NotifierOps.init()


def printer_ops_init():
    """IDM_PRINTER_OPS_INIT."""
    return PrinterOps.init()


def production_hooks_init():
    """IDM_PRODUCTION_HOOKS_INIT."""
    return ProductionHooks.init()


#: the ops and hooks tables of the headers, by their C name
STRUCTS = {
    "idm_ca_ops": CaOps,
    "idm_encoder_ops": EncoderOps,
    "idm_producer_ops": ProducerOps,
    "idm_notifier_ops": NotifierOps,
    "idm_printer_ops": PrinterOps,
    "idm_production_hooks": ProductionHooks,
}

# ---- errors --------------------------------------------------------------------


def check(result, func, args):
    """errcheck of every int-returning function: a negative result raises the
    idm.Error subclass of the code with its name and the call's detail message."""
    if result < 0:
        code = int(result)
        message = lib.idm_last_error_message().decode("utf-8", "replace")
        name = lib.idm_strerror_name(code).decode()
        error = errors.error_class(code)(code, name, message)
        # an exception a Python callback raised during the call comes first,
        # chained from the error it caused (see idm._callbacks)
        _callbacks.raise_pending(error)
        raise error
    if _callbacks.has_pending() and func.__name__ not in RETURNS_HANDLE:
        # a callback raised but the call succeeded; a call that returned a
        # new handle leaves it to the wrapper, after adopting the handle
        _callbacks.raise_pending(None)
    return result


# ---- the function table ----------------------------------------------------------

def _int(*argtypes):
    return (c_int, list(argtypes), check)


def _name(*argtypes):
    """A function returning a static const char *; never NULL, never fails."""
    return (c_char_p, list(argtypes), None)


def _void(*argtypes):
    return (None, list(argtypes), None)


# name: (restype, argtypes, errcheck), in the order of src/libidm.map
FUNCTIONS = {
    # <idm/version.h>, <idm/error.h>
    "idm_version": (c_ulong, [], None),
    "idm_version_string": _name(),
    "idm_strerror": _name(c_int),
    "idm_strerror_name": _name(c_int),
    "idm_last_error_message": _name(),
    # <idm/context.h>
    "idm_ctx_new": _int(OUT_HANDLE),
    "idm_ctx_free": _void(OUT_HANDLE),
    "idm_ctx_set_log_callback": _int(HANDLE, LogFn, c_void_p),
    "idm_ctx_set_log_level": _int(HANDLE, C_ENUM),
    "idm_log_level_name": _name(C_ENUM),
    "idm_ctx_set_clock": _int(HANDLE, ClockFn, c_void_p),
    "idm_ctx_set_random": _int(HANDLE, RandomFn, c_void_p),
    "idm_ctx_now": _int(HANDLE, OUT_INT64),
    "idm_ctx_random_bytes": _int(HANDLE, c_void_p, c_size_t),
    "idm_ctx_open_store": _int(HANDLE, c_char_p),
    # <idm/options.h>
    "idm_option_count": _int(OUT_SIZE),
    "idm_option_key_at": _int(c_size_t, OUT_STR, OUT_ENUM),
    "idm_options_get_bool": _int(HANDLE, c_char_p, OUT_INT),
    "idm_options_get_int": _int(HANDLE, c_char_p, OUT_INT64),
    "idm_options_get_string": _int(HANDLE, c_char_p, OUT_STR),
    "idm_options_set_bool": _int(HANDLE, c_char_p, c_char_p, c_int),
    "idm_options_set_int": _int(HANDLE, c_char_p, c_char_p, c_int64),
    "idm_options_set_string": _int(HANDLE, c_char_p, c_char_p, c_char_p),
    "idm_options_reset": _int(HANDLE, c_char_p, c_char_p),
    "idm_options_get_version": _int(HANDLE, OUT_INT64),
    # <idm/identity.h>
    "idm_identity_state_name": _name(C_ENUM),
    "idm_identity_new": _int(HANDLE, c_char_p, c_char_p, OUT_HANDLE),
    "idm_identity_open": _int(HANDLE, c_int64, OUT_HANDLE),
    "idm_identity_open_external": _int(HANDLE, c_char_p, OUT_HANDLE),
    "idm_identity_refresh": _int(HANDLE),
    "idm_identity_free": _void(OUT_HANDLE),
    "idm_identity_get_id": _int(HANDLE, OUT_INT64),
    "idm_identity_get_external_id": _int(HANDLE, OUT_STR),
    "idm_identity_get_state": _int(HANDLE, OUT_ENUM),
    "idm_identity_set_state": _int(HANDLE, c_char_p, C_ENUM),
    "idm_identity_set_attribute": _int(HANDLE, c_char_p, c_char_p, c_char_p),
    "idm_identity_get_attribute": _int(HANDLE, c_char_p, OUT_STR),
    "idm_identity_get_attribute_count": _int(HANDLE, OUT_SIZE),
    "idm_identity_get_attribute_at": _int(HANDLE, c_size_t, OUT_STR, OUT_STR),
    "idm_identity_get_common_name": _int(HANDLE, OUT_STR),
    "idm_identity_get_upn": _int(HANDLE, OUT_STR),
    "idm_identity_set_common_name": _int(HANDLE, c_char_p, c_char_p),
    "idm_identity_set_upn": _int(HANDLE, c_char_p, c_char_p),
    "idm_identity_import_csv": _int(HANDLE, c_char_p, c_char_p, c_char_p, C_ENUM, OUT_SIZE),
    "idm_identity_import_csv_data": _int(HANDLE, c_char_p, c_char_p, c_size_t, c_char_p,
                                         C_ENUM, OUT_SIZE),
    "idm_identity_iter_new": _int(HANDLE, OUT_HANDLE),
    "idm_identity_iter_set_state": _int(HANDLE, C_ENUM),
    "idm_identity_iter_next": _int(HANDLE, OUT_HANDLE),
    "idm_identity_iter_free": _void(OUT_HANDLE),
    # <idm/card.h>
    "idm_card_type_name": _name(C_ENUM),
    "idm_card_state_name": _name(C_ENUM),
    "idm_card_option_name": _name(C_ENUM),
    "idm_production_name": _name(C_ENUM),
    "idm_process_name": _int(C_ENUM, C_ENUM, OUT_STR),
    "idm_card_new": _int(HANDLE, c_char_p, C_ENUM, C_ENUM, C_ENUM, c_int64, c_char_p,
                         OUT_HANDLE),
    "idm_card_open": _int(HANDLE, c_int64, OUT_HANDLE),
    "idm_card_open_number": _int(HANDLE, c_char_p, OUT_HANDLE),
    "idm_card_refresh": _int(HANDLE),
    "idm_card_free": _void(OUT_HANDLE),
    "idm_card_get_id": _int(HANDLE, OUT_INT64),
    "idm_card_get_number": _int(HANDLE, OUT_STR),
    "idm_card_get_type": _int(HANDLE, OUT_ENUM),
    "idm_card_get_option": _int(HANDLE, OUT_ENUM),
    "idm_card_get_production": _int(HANDLE, OUT_ENUM),
    "idm_card_get_state": _int(HANDLE, OUT_ENUM),
    "idm_card_get_identity_id": _int(HANDLE, OUT_INT64),
    "idm_card_get_name": _int(HANDLE, OUT_STR),
    "idm_card_get_chip_serial": _int(HANDLE, OUT_STR),
    "idm_card_get_order_id": _int(HANDLE, OUT_INT64),
    "idm_card_set_chip_serial": _int(HANDLE, c_char_p, c_char_p),
    "idm_card_set_state": _int(HANDLE, c_char_p, C_ENUM, c_char_p),
    "idm_card_iter_new": _int(HANDLE, OUT_HANDLE),
    "idm_card_iter_set_state": _int(HANDLE, C_ENUM),
    "idm_card_iter_set_type": _int(HANDLE, C_ENUM),
    "idm_card_iter_set_order": _int(HANDLE, c_int64),
    "idm_card_iter_set_identity": _int(HANDLE, c_int64),
    "idm_card_iter_next": _int(HANDLE, OUT_HANDLE),
    "idm_card_iter_free": _void(OUT_HANDLE),
    # <idm/certificate.h>
    "idm_cert_state_name": _name(C_ENUM),
    "idm_card_add_certificate": _int(HANDLE, c_char_p, BYTES, c_size_t, OUT_HANDLE),
    "idm_cert_open": _int(HANDLE, c_int64, OUT_HANDLE),
    "idm_cert_open_serial": _int(HANDLE, c_char_p, OUT_HANDLE),
    "idm_cert_free": _void(OUT_HANDLE),
    "idm_cert_get_id": _int(HANDLE, OUT_INT64),
    "idm_cert_get_card_id": _int(HANDLE, OUT_INT64),
    "idm_cert_get_serial": _int(HANDLE, OUT_STR),
    "idm_cert_get_der": _int(HANDLE, OUT_BYTES, OUT_SIZE),
    "idm_cert_get_validity": _int(HANDLE, OUT_INT64, OUT_INT64),
    "idm_cert_get_state": _int(HANDLE, OUT_ENUM),
    "idm_cert_iter_new": _int(HANDLE, c_int64, OUT_HANDLE),
    "idm_cert_iter_next": _int(HANDLE, OUT_HANDLE),
    "idm_cert_iter_free": _void(OUT_HANDLE),
    # <idm/order.h>
    "idm_order_kind_name": _name(C_ENUM),
    "idm_order_state_name": _name(C_ENUM),
    "idm_order_new": _int(HANDLE, c_char_p, C_ENUM, C_ENUM, C_ENUM, c_char_p, OUT_HANDLE),
    "idm_order_open": _int(HANDLE, c_int64, OUT_HANDLE),
    "idm_order_open_external": _int(HANDLE, c_char_p, OUT_HANDLE),
    "idm_order_refresh": _int(HANDLE),
    "idm_order_free": _void(OUT_HANDLE),
    "idm_order_get_id": _int(HANDLE, OUT_INT64),
    "idm_order_get_external_id": _int(HANDLE, OUT_STR),
    "idm_order_get_kind": _int(HANDLE, OUT_ENUM),
    "idm_order_get_card_kind": _int(HANDLE, OUT_ENUM, OUT_ENUM),
    "idm_order_get_state": _int(HANDLE, OUT_ENUM),
    "idm_order_get_options_version": _int(HANDLE, OUT_INT64),
    "idm_order_get_option_bool": _int(HANDLE, c_char_p, OUT_INT),
    "idm_order_get_option_int": _int(HANDLE, c_char_p, OUT_INT64),
    "idm_order_get_option_string": _int(HANDLE, c_char_p, OUT_STR),
    "idm_order_set_state": _int(HANDLE, c_char_p, C_ENUM, c_char_p),
    "idm_order_add_card": _int(HANDLE, c_char_p, c_int64),
    "idm_order_iter_new": _int(HANDLE, OUT_HANDLE),
    "idm_order_iter_set_state": _int(HANDLE, C_ENUM),
    "idm_order_iter_set_type": _int(HANDLE, C_ENUM),
    "idm_order_iter_next": _int(HANDLE, OUT_HANDLE),
    "idm_order_iter_free": _void(OUT_HANDLE),
    # <idm/audit.h>
    "idm_object_type_name": _name(C_ENUM),
    "idm_audit_verify": _int(HANDLE, OUT_INT64),
    "idm_audit_iter_new": _int(HANDLE, OUT_HANDLE),
    "idm_audit_iter_set_object": _int(HANDLE, C_ENUM, c_int64),
    "idm_audit_iter_set_time_range": _int(HANDLE, c_int64, c_int64),
    "idm_audit_iter_next": _int(HANDLE, OUT_HANDLE),
    "idm_audit_iter_free": _void(OUT_HANDLE),
    "idm_audit_event_free": _void(OUT_HANDLE),
    "idm_audit_event_get_seq": _int(HANDLE, OUT_INT64, OUT_INT64),
    "idm_audit_event_get_actor": _int(HANDLE, OUT_STR),
    "idm_audit_event_get_object": _int(HANDLE, OUT_ENUM, OUT_INT64),
    "idm_audit_event_get_states": _int(HANDLE, OUT_STR, OUT_STR),
    "idm_audit_event_get_detail": _int(HANDLE, OUT_STR),
    # <idm/buffer.h>
    "idm_buffer_new": _int(OUT_HANDLE),
    "idm_buffer_free": _void(OUT_HANDLE),
    "idm_buffer_set": _int(BUFFER, BYTES, c_size_t),
    "idm_buffer_get": _int(BUFFER, OUT_BYTES, OUT_SIZE),
    # <idm/ca.h>
    "idm_key_usage_name": _name(C_ENUM),
    "idm_cert_get_usage": _int(HANDLE, OUT_ENUM),
    "idm_cert_get_revocation": _int(HANDLE, OUT_ENUM, OUT_INT64),
    "idm_cert_request_get_public_key": _int(HANDLE, OUT_BYTES, OUT_SIZE),
    "idm_cert_request_get_subject": _int(HANDLE, OUT_STR),
    "idm_cert_request_get_names": _int(HANDLE, OUT_STR, OUT_STR),
    "idm_cert_request_get_profile": _int(HANDLE, OUT_ENUM, OUT_ENUM),
    "idm_cert_request_get_validity": _int(HANDLE, OUT_INT64, OUT_INT64),
    "idm_cert_request_get_idempotency_key": _int(HANDLE, OUT_STR),
    "idm_ca_new": _int(OUT_HANDLE, _P(CaOps), c_size_t, c_void_p, DestroyFn),
    "idm_ca_backend_error": _int(c_char_p),
    "idm_ca_free": _void(OUT_HANDLE),
    "idm_ca_new_openssl": _int(OUT_HANDLE, HANDLE, C_ENUM, c_char_p, c_int),
    "idm_ca_new_openssl_pem": _int(OUT_HANDLE, HANDLE, c_char_p, c_size_t, c_char_p, c_size_t,
                                   PassphraseFn, c_void_p),
    "idm_ca_get_certificate": _int(HANDLE, BUFFER),
    "idm_ca_export_key": _int(HANDLE, PassphraseFn, c_void_p, BUFFER),
    "idm_card_issue_certificate": _int(HANDLE, c_char_p, HANDLE, C_ENUM, BYTES, c_size_t,
                                       c_int, OUT_HANDLE),
    "idm_cert_revoke": _int(HANDLE, c_char_p, HANDLE, C_ENUM),
    "idm_cert_hold": _int(HANDLE, c_char_p, HANDLE),
    "idm_cert_release": _int(HANDLE, c_char_p, HANDLE),
    "idm_ca_generate_crl": _int(HANDLE, HANDLE, c_int, BUFFER),
    # <idm/encoder.h>
    "idm_piv_slot_name": _name(C_ENUM),
    "idm_encoder_new": _int(OUT_HANDLE, _P(EncoderOps), c_size_t, c_void_p, DestroyFn),
    "idm_encoder_backend_error": _int(c_char_p),
    "idm_encoder_free": _void(OUT_HANDLE),
    "idm_encoder_set_timeout": _int(HANDLE, c_int),
    "idm_encoder_set_pin_callbacks": _int(HANDLE, PinEntryFn, PinDeliveryFn, c_void_p),
    "idm_encoder_get_stats": _int(HANDLE, OUT_UINT64, OUT_UINT64, OUT_UINT64),
    "idm_encoder_reset_stats": _int(HANDLE),
    "idm_encoder_pcsc_list_readers": _int(BUFFER, OUT_SIZE),
    "idm_encoder_new_pcsc": _int(OUT_HANDLE, HANDLE),
    "idm_encoder_pcsc_set_reader": _int(HANDLE, c_char_p),
    "idm_encoder_pcsc_set_reader_index": _int(HANDLE, c_int),
    "idm_encoder_pcsc_set_card_serial": _int(HANDLE, c_char_p),
    "idm_encoder_pcsc_set_management_key": _int(HANDLE, C_ENUM, BYTES, c_size_t),
    "idm_encoder_pcsc_set_factory_secrets": _int(HANDLE, c_char_p, c_char_p),
    "idm_card_personalize": _int(HANDLE, c_char_p, HANDLE, HANDLE, c_int),
    # <idm/production.h>, <idm/order.h>
    "idm_process_count": (c_size_t, [], None),
    "idm_process_at": _int(c_size_t, OUT_ENUM, OUT_ENUM),
    "idm_process_steps": _int(C_ENUM, C_ENUM, _P(c_uint)),
    "idm_order_card_outcome_name": _name(C_ENUM),
    "idm_order_add_cards": _int(HANDLE, c_char_p, _P(c_int64), c_size_t),
    "idm_order_add_approved": _int(HANDLE, c_char_p, c_size_t, OUT_SIZE),
    "idm_order_count_cards": _int(HANDLE, C_ENUM, OUT_INT64),
    "idm_order_get_card_outcome": _int(HANDLE, c_int64, OUT_ENUM, OUT_INT, BUFFER),
    "idm_card_iter_set_order_outcome": _int(HANDLE, c_int64, C_ENUM),
    "idm_station_open": _int(OUT_HANDLE, HANDLE, c_char_p, HANDLE, HANDLE),
    "idm_station_set_lease": _int(HANDLE, c_int64),
    "idm_station_set_readiness": _int(HANDLE, ReadinessFn, c_void_p),
    "idm_station_set_group": _int(HANDLE, c_size_t),
    "idm_station_next": _int(HANDLE, c_char_p, OUT_HANDLE),
    "idm_station_issue": _int(HANDLE, c_char_p),
    "idm_station_produce": _int(HANDLE, c_char_p),
    "idm_station_verify": _int(HANDLE, c_char_p),
    "idm_station_cancel": _int(HANDLE, c_char_p, c_char_p),
    "idm_station_complete": _int(HANDLE, c_char_p, c_int),
    "idm_station_free": _void(OUT_HANDLE),
    "idm_production_run": _int(HANDLE, c_char_p, _P(ProductionHooks), c_size_t, c_void_p),
    "idm_encoder_pcsc_wait_card": _int(c_char_p, c_int),
    # <idm/producer.h>
    "idm_bureau_status_name": _name(C_ENUM),
    "idm_producer_new": _int(OUT_HANDLE, _P(ProducerOps), c_size_t, c_void_p, DestroyFn),
    "idm_producer_backend_error": _int(c_char_p),
    "idm_producer_new_spool": _int(OUT_HANDLE, c_char_p),
    "idm_producer_free": _void(OUT_HANDLE),
    # <idm/notifier.h>
    "idm_notification_kind_name": _name(C_ENUM),
    "idm_notifier_new": _int(OUT_HANDLE, _P(NotifierOps), c_size_t, c_void_p, DestroyFn),
    "idm_notifier_backend_error": _int(c_char_p),
    "idm_notifier_new_maildir": _int(OUT_HANDLE, c_char_p, c_char_p),
    "idm_notifier_free": _void(OUT_HANDLE),
    # <idm/external.h>
    "idm_external_new": _int(OUT_HANDLE, HANDLE, HANDLE, HANDLE),
    "idm_external_free": _void(OUT_HANDLE),
    "idm_external_order_card": _int(HANDLE, c_char_p, c_int64, C_ENUM, C_ENUM, C_ENUM,
                                    OUT_HANDLE),
    "idm_external_order_batch": _int(HANDLE, c_char_p, _P(c_int64), c_size_t, C_ENUM, C_ENUM,
                                     ExternalResultFn, c_void_p, OUT_HANDLE),
    "idm_external_approve": _int(HANDLE, c_char_p, HANDLE),
    "idm_external_reject": _int(HANDLE, c_char_p, HANDLE, c_char_p),
    "idm_external_abort": _int(HANDLE, c_char_p, HANDLE, c_char_p),
    "idm_external_sync_queue": _int(HANDLE, c_char_p, c_size_t, OUT_SIZE, OUT_SIZE),
    "idm_external_update": _int(HANDLE, c_char_p, OUT_SIZE, OUT_SIZE),
    "idm_external_activate": _int(HANDLE, c_char_p, HANDLE, HANDLE, HANDLE),
    "idm_external_order_temporary": _int(HANDLE, c_char_p, C_ENUM, c_size_t, c_char_p,
                                         OUT_HANDLE),
    "idm_external_initialize_temporary": _int(HANDLE, c_char_p, HANDLE, HANDLE, HANDLE),
    "idm_external_assign": _int(HANDLE, c_char_p, HANDLE, c_int64),
    "idm_external_withdraw": _int(HANDLE, c_char_p, HANDLE, c_char_p),
    "idm_external_flush_notifications": _int(HANDLE, c_char_p, OUT_SIZE, OUT_SIZE),
    "idm_card_get_shipment": _int(HANDLE, OUT_STR),
    "idm_card_get_requester": _int(HANDLE, OUT_STR),
    # <idm/layout.h>
    "idm_layout_new": _int(OUT_HANDLE, c_char_p, c_size_t, c_char_p),
    "idm_layout_load": _int(OUT_HANDLE, c_char_p),
    "idm_layout_get_name": _int(HANDLE, OUT_STR),
    "idm_layout_serves": _int(HANDLE, C_ENUM, OUT_INT),
    "idm_layout_has_face": _int(HANDLE, C_ENUM, OUT_INT),
    "idm_layout_render": _int(HANDLE, HANDLE, C_ENUM, C_ENUM, c_uint, BUFFER),
    "idm_layout_free": _void(OUT_HANDLE),
    # <idm/printer.h>, <idm/production.h>
    "idm_printer_new": _int(OUT_HANDLE, _P(PrinterOps), c_size_t, c_void_p, DestroyFn),
    "idm_printer_backend_error": _int(c_char_p),
    "idm_printer_new_cups": _int(OUT_HANDLE, c_char_p, c_char_p, c_int64),
    "idm_printer_free": _void(OUT_HANDLE),
    "idm_station_set_printer": _int(HANDLE, HANDLE, HANDLE),
}


#: the functions that hand back a new handle through an idm_x_t **out
RETURNS_HANDLE = frozenset(
    name for name, (restype, argtypes, errcheck) in FUNCTIONS.items()
    if errcheck is check and OUT_HANDLE in argtypes and not re.search(r"_get(_|$)", name))


def _declare():
    missing = []
    for name, (restype, argtypes, errcheck) in FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
        if errcheck is not None:
            fn.errcheck = errcheck
    if missing:
        raise ImportError(f"{lib._name} lacks {len(missing)} declared functions, e.g. "
                          + ", ".join(missing[:5]))


_declare()

if lib.idm_version() >> 16 != ABI_MAJOR:
    raise ImportError(
        f"libidm {lib.idm_version_string().decode()} has ABI major "
        f"{lib.idm_version() >> 16}; these bindings need {ABI_MAJOR}")
