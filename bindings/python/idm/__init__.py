"""Python bindings for libidm, over ctypes (standard library only).

The shared library is found through, in order: the IDM_LIBRARY environment
variable (a path to libidm.so.1), the build tree this package sits in, and the
system's library search path.  The bindings grow with the C API; every C
function is declared once, in _FUNCTIONS below.
"""

import ctypes
import ctypes.util
import os
from pathlib import Path

__all__ = ["Error", "InvalidArgumentError", "library_version", "strerror", "strerror_name"]

_SONAME = "libidm.so.1"
_ABI_MAJOR = 1


class Error(Exception):
    """A libidm call failed: code (negative int), name and detail message."""

    def __init__(self, code, name, message):
        super().__init__(f"{name}: {message}")
        self.code = code
        self.name = name
        self.message = message


class InvalidArgumentError(Error):
    """IDM_ERR_INVALID_ARG."""


_ERROR_CLASSES = {-1: InvalidArgumentError}


def _candidates():
    env = os.environ.get("IDM_LIBRARY")
    if env:
        yield env
        return
    here = Path(__file__).resolve().parent
    for build in ("build", "builddir"):
        yield str(here.parents[2] / build / "src" / _SONAME)
    yield _SONAME
    found = ctypes.util.find_library("idm")
    if found:
        yield found


def _load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(f"{path}: no such file")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as exc:
            errors.append(str(exc))
    raise ImportError("cannot load libidm: " + "; ".join(errors))


_lib = _load()


def _check(rc, func, args):
    if rc < 0:
        code = int(rc)
        name = _lib.idm_strerror_name(code).decode()
        message = _lib.idm_last_error_message().decode("utf-8", "replace")
        raise _ERROR_CLASSES.get(code, Error)(code, name, message)
    return rc


_c_char_p = ctypes.c_char_p
_c_int = ctypes.c_int
_c_void_p = ctypes.c_void_p

# name: (restype, argtypes, errcheck)
_FUNCTIONS = {
    "idm_version": (ctypes.c_ulong, [], None),
    "idm_version_string": (_c_char_p, [], None),
    "idm_strerror": (_c_char_p, [_c_int], None),
    "idm_strerror_name": (_c_char_p, [_c_int], None),
    "idm_last_error_message": (_c_char_p, [], None),
    "idm_log_level_name": (_c_char_p, [_c_int], None),
    "idm_ctx_new": (_c_int, [ctypes.POINTER(_c_void_p)], _check),
    "idm_ctx_free": (None, [ctypes.POINTER(_c_void_p)], None),
    "idm_ctx_set_log_level": (_c_int, [_c_void_p, _c_int], _check),
    "idm_ctx_now": (_c_int, [_c_void_p, ctypes.POINTER(ctypes.c_int64)], _check),
    "idm_ctx_random_bytes": (_c_int, [_c_void_p, _c_void_p, ctypes.c_size_t], _check),
}

for _name, (_restype, _argtypes, _errcheck) in _FUNCTIONS.items():
    _fn = getattr(_lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes
    if _errcheck is not None:
        _fn.errcheck = _errcheck

if _lib.idm_version() >> 16 != _ABI_MAJOR:
    raise ImportError(
        f"libidm {_lib.idm_version_string().decode()} has ABI major "
        f"{_lib.idm_version() >> 16}; these bindings need {_ABI_MAJOR}")


def library_version():
    """The version string of the loaded libidm, e.g. '1.0.0'."""
    return _lib.idm_version_string().decode()


def strerror(code):
    """Short English description of an error code."""
    return _lib.idm_strerror(code).decode()


def strerror_name(code):
    """Symbolic name of an error code, e.g. 'IDM_ERR_INVALID_ARG'."""
    return _lib.idm_strerror_name(code).decode()
