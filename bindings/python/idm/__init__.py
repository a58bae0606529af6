"""Python bindings for libidm, over ctypes (standard library only).

The shared library is found through, in order: the IDM_LIBRARY environment
variable (a path to libidm.so.1), the build tree this package sits in, and the
system's library search path; its ABI major version is checked on import.
Every C function is declared once, in idm._capi.FUNCTIONS; failing calls raise
idm.Error subclasses (idm.errors); the C enums are idm.enums.  The Pythonic
classes of the core model (Context, Identity, Card, Certificate, Order,
AuditEvent) are idm.model, the backends (CA, Encoder, Producer, Notifier,
Printer) idm.backends, card layouts (Layout) idm.layouts and the workflows
(Station, run_production, External) idm.workflows, all re-exported here;
idm._handle gives their rules and idm._callbacks how Python callbacks are
kept alive and how their exceptions reach the caller.
"""

from . import _callbacks, _capi, backends, enums, errors, layouts, model, workflows
from ._capi import lib as _lib
from .enums import *  # noqa: F401,F403
from .errors import *  # noqa: F401,F403
from .model import *  # noqa: F401,F403
from .backends import *  # noqa: F401,F403
from .layouts import *  # noqa: F401,F403
from .workflows import *  # noqa: F401,F403

__all__ = (["library_version", "strerror", "strerror_name"]
           + [n for n in errors.__all__ if n not in ("ERROR_CLASSES", "error_class")]
           + enums.__all__
           + model.__all__
           + backends.__all__
           + layouts.__all__
           + workflows.__all__)


def library_version():
    """The version string of the loaded libidm, e.g. '1.0.0'."""
    return _lib.idm_version_string().decode()


def strerror(code):
    """Short English description of an error code."""
    return _lib.idm_strerror(code).decode()


def strerror_name(code):
    """Symbolic name of an error code, e.g. 'IDM_ERR_INVALID_ARG'."""
    return _lib.idm_strerror_name(code).decode()
