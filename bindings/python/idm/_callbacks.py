"""The one mechanism behind every Python callback the C library calls.

Keeping callbacks alive
    The Python object that owns a C handle (a Context with a log callback, a
    CA, Encoder, Producer or Notifier written in Python, a Station, an
    External desk) registers itself with register(), which hands out an
    integer key.  That key is the C user data: never a Python object's
    address.  The registry holds only a weak reference to the owner, so a
    callback that refers back to its owner does not make it immortal.  The
    owner makes its ctypes function pointers with trampoline() once, stores
    them on itself, and unregisters its key when its C handle is freed: the
    pointers live exactly as long as C may call them.

Exceptions
    A trampoline runs the owner's method inside a guard.  An exception (any
    BaseException, KeyboardInterrupt included) is captured with its
    traceback in a per-thread list and the trampoline returns a failure to
    C: for a hook or a PIN/readiness callback a non-zero value, which the
    library turns into IDM_ERR_CANCELLED; for a backend method a non-zero
    code after handing "<ExceptionType>: <text>" to the matching
    *_backend_error(), so the library's detail message and audit trail carry
    the exception's words (an idm.Error raised by the method returns its own
    code, e.g. CardError -> IDM_ERR_CARD).

    When the outermost C call returns, the errcheck of the C layer
    (idm._capi.check) re-raises the captured exception to the Python caller:

    * the C call failed: the captured exception is raised *from* the
      idm.Error the call produced (exc.__cause__ is that idm.Error, so
      its code, name and detail message stay at hand);
    * the C call succeeded (a log callback, a notifier or a producer's
      submit, whose failures do not fail the call): the captured exception
      is raised alone.  A call that hands back a new handle defers this
      until the wrapper has adopted the handle (reraise()), so nothing
      leaks.

    If several callbacks raised during one C call, the first exception is
    raised and the others are listed in its notes.  Calls a callback makes
    into the library itself (reading a card in a hook) are nested: they
    never pick up the exceptions of the outer call.
"""

import itertools
import sys
import threading
import weakref

__all__ = ["register", "unregister", "trampoline", "reraise", "report_pending",
           "backend_text", "failure_code"]

_state = threading.local()
_owners = {}
_keys = itertools.count(1)


def register(owner):
    """A new integer key (C user data) for owner, held weakly."""
    key = next(_keys)
    _owners[key] = weakref.ref(owner)
    return key


def unregister(key, _owners=_owners):
    """Forgets a key; C must no longer call with it.  Safe at shutdown."""
    if key is not None:
        _owners.pop(key, None)


def registered(key):
    """True while the key is registered (for tests)."""
    return key in _owners


def _pending():
    pending = getattr(_state, "pending", None)
    if pending is None:
        pending = _state.pending = []
    return pending


def depth():
    """How many Python callbacks are running in this thread."""
    return getattr(_state, "depth", 0)


def capture(exc):
    """Records an exception raised in a callback for the caller of the C call."""
    _pending().append(exc)


def backend_text(exc):
    """The words a backend's failure gives the library: '<Type>: <text>'."""
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def failure_code(exc):
    """The code a backend method returns for exc: an idm.Error's own
    (negative) code, else 1, which the library reports as IDM_ERR_BACKEND."""
    code = getattr(exc, "code", None)
    if isinstance(code, int) and code < 0 and getattr(type(exc), "CODE", None) is not None:
        return code
    return 1


def trampoline(cftype, method, failure, backend_error=None):
    """A ctypes function pointer of type cftype that calls
    getattr(owner, method)(*args) on the owner registered under its last
    argument (the user data).  On an exception it captures it, calls
    backend_error(text) if given, and returns failure (or failure(exc) if
    failure is callable; None for a void callback)."""

    def call(*args, _owners=_owners, _state=_state, _capture=capture,
             _text=backend_text):
        *args, key = args
        try:
            ref = _owners.get(key)
            owner = ref() if ref is not None else None
        except BaseException:  # interpreter shutdown
            owner = None
        if owner is None:
            return failure(None) if callable(failure) else failure
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            return getattr(owner, method)(*args)
        except BaseException as exc:  # noqa: B036 - nothing may unwind into C
            try:
                _capture(exc)
                if backend_error is not None:
                    backend_error(_text(exc).encode("utf-8", "replace")[:1000])
            except BaseException:  # noqa: B036
                pass
            return failure(exc) if callable(failure) else failure
        finally:
            _state.depth -= 1

    return cftype(call)


def take():
    """Removes and returns the exceptions captured in this thread."""
    pending = getattr(_state, "pending", None)
    if not pending:
        return []
    _state.pending = []
    return pending


def _combine(captured):
    first = captured[0]
    for other in captured[1:]:
        try:
            first.add_note(f"also raised in a callback: {backend_text(other)}")
        except AttributeError:  # Python < 3.11
            pass
    return first


def raise_pending(error=None):
    """Raises the captured exception (from error, an idm.Error, if given);
    returns if there is none or a callback of this thread is running."""
    if depth():
        return
    captured = take()
    if not captured:
        return
    exc = _combine(captured)
    if error is not None:
        raise exc from error
    raise exc


def reraise():
    """Raises the exception a callback captured during the last C call, if
    any (used by wrappers after they adopted a returned handle)."""
    raise_pending(None)


def has_pending():
    return bool(getattr(_state, "pending", None)) and not depth()


def report_pending(_state=_state, _sys=sys):
    """After a void C call (a free function): an exception a callback raised
    there cannot reach a caller; it goes to sys.unraisablehook."""
    try:
        if getattr(_state, "depth", 0):
            return
        pending = getattr(_state, "pending", None)
        if not pending:
            return
        _state.pending = []
        for exc in pending:
            _sys.unraisablehook(_Unraisable(exc))
    except BaseException:  # noqa: B036 - called from finalizers
        pass


class _Unraisable:
    """The argument of sys.unraisablehook."""

    def __init__(self, exc):
        self.exc_type = type(exc)
        self.exc_value = exc
        self.exc_traceback = exc.__traceback__
        self.err_msg = "Exception raised in an idm callback while a handle was freed"
        self.object = None
