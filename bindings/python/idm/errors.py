"""The exceptions of the bindings: idm.Error and one subclass per error code.

Every int-returning C function is declared with an errcheck (see _capi.py)
that turns a negative result into the class ERROR_CLASSES gives for the code,
carrying the code, its symbolic name (idm_strerror_name()) and the detail
message of the failing call (idm_last_error_message()).
"""

from .enums import ErrorCode

__all__ = [
    "Error", "InvalidArgumentError", "NoMemoryError", "StateError", "NotFoundError",
    "ExistsError", "CancelledError", "BackendError", "StoreError", "CryptoError",
    "CardError", "IoError", "ParseError", "UnsupportedError", "IdmTimeoutError",
    "DisabledError", "InternalError", "IntegrityError", "ERROR_CLASSES", "error_class",
]


class Error(Exception):
    """A libidm call failed: code (negative int), name and detail message."""

    #: the idm_err code of the subclass; None for codes the bindings do not know
    CODE = None

    def __init__(self, code, name=None, message=None):
        if name is None and message is None and isinstance(code, str):
            # raised by Python code (a backend written in Python):
            # idm.CardError("PIN blocked") carries IDM_ERR_CARD
            if self.CODE is None:
                raise TypeError("idm.Error itself needs (code, name, message)")
            code, name, message = int(self.CODE), f"IDM_ERR_{self.CODE.name}", code
        super().__init__(f"{name}: {message}")
        self.code = code
        self.name = name
        self.message = message

    def __reduce__(self):
        return (type(self), (self.code, self.name, self.message))


class InvalidArgumentError(Error):
    """IDM_ERR_INVALID_ARG: an argument is NULL, out of range or malformed."""
    CODE = ErrorCode.INVALID_ARG


class NoMemoryError(Error):
    """IDM_ERR_NO_MEMORY: a memory allocation failed."""
    CODE = ErrorCode.NO_MEMORY


class StateError(Error):
    """IDM_ERR_STATE: the object's state does not allow the operation."""
    CODE = ErrorCode.STATE


class NotFoundError(Error):
    """IDM_ERR_NOT_FOUND: the named object does not exist."""
    CODE = ErrorCode.NOT_FOUND


class ExistsError(Error):
    """IDM_ERR_EXISTS: an object with the same key already exists."""
    CODE = ErrorCode.EXISTS


class CancelledError(Error):
    """IDM_ERR_CANCELLED: a host callback returned non-zero."""
    CODE = ErrorCode.CANCELLED


class BackendError(Error):
    """IDM_ERR_BACKEND: a CA, encoder, producer or notifier failed."""
    CODE = ErrorCode.BACKEND


class StoreError(Error):
    """IDM_ERR_STORE: the persistent store failed."""
    CODE = ErrorCode.STORE


class CryptoError(Error):
    """IDM_ERR_CRYPTO: a cryptographic operation or the random source failed."""
    CODE = ErrorCode.CRYPTO


class CardError(Error):
    """IDM_ERR_CARD: the smart card or reader failed."""
    CODE = ErrorCode.CARD


class IoError(Error):
    """IDM_ERR_IO: a file or device could not be read or written.

    Not named IOError, which is the builtin OSError."""
    CODE = ErrorCode.IO


class ParseError(Error):
    """IDM_ERR_PARSE: input data is malformed."""
    CODE = ErrorCode.PARSE


class UnsupportedError(Error):
    """IDM_ERR_UNSUPPORTED: the operation or version is not supported."""
    CODE = ErrorCode.UNSUPPORTED


class IdmTimeoutError(Error):
    """IDM_ERR_TIMEOUT: the operation did not finish in time.

    Not named TimeoutError, which is a builtin."""
    CODE = ErrorCode.TIMEOUT


class DisabledError(Error):
    """IDM_ERR_DISABLED: the use case is disabled by an option."""
    CODE = ErrorCode.DISABLED


class InternalError(Error):
    """IDM_ERR_INTERNAL: an invariant of the library was violated."""
    CODE = ErrorCode.INTERNAL


class IntegrityError(Error):
    """IDM_ERR_INTEGRITY: stored data fails its integrity check (audit chain)."""
    CODE = ErrorCode.INTEGRITY


#: error code -> exception class, for every negative code of idm_err
ERROR_CLASSES = {
    cls.CODE: cls
    for cls in (InvalidArgumentError, NoMemoryError, StateError, NotFoundError, ExistsError,
                CancelledError, BackendError, StoreError, CryptoError, CardError, IoError,
                ParseError, UnsupportedError, IdmTimeoutError, DisabledError, InternalError,
                IntegrityError)
}


def error_class(code):
    """The exception class for an error code; Error for a code the bindings do not know."""
    return ERROR_CLASSES.get(code, Error)
