"""The common base of the Pythonic handle classes (idm.model).

A Handle owns one C pointer (a ctypes.c_void_p) and the C function that
frees it.  The rules, for every handle class:

* close() frees the C object through its free function (with byref, so the
  C side sets the pointer to NULL) and is idempotent.
* Handles are context managers: leaving the with-block closes.
* __del__ closes a handle nobody closed.  It only touches the instance and
  its class (never module globals, which may already be None during
  interpreter shutdown) and swallows every exception.  Dropping a handle
  without close() is legitimate, so no ResourceWarning is emitted.
* Handles cannot be copied or pickled (TypeError): a copy would free the
  same C object twice.
* Using a closed handle raises ValueError ("... is closed"), as Python's own
  files do; the C library never sees a dangling pointer.
* A child (identity, card, iterator, ...) keeps a strong reference to its
  parent Context, so the context cannot be freed while a child lives.  The
  context also tracks its children weakly: Context.close() closes the live
  children first, because the C API requires every object to be freed before
  its context.  When the garbage collector finalizes a context and its
  children together (a reference cycle), the context's C object is freed by
  the last child's close() instead of before it.
"""

import ctypes

from . import _callbacks

__all__ = ["Handle"]


class Handle:
    """An owned C object.  Subclasses set _release to the C free function."""

    __slots__ = ("_ptr", "_parent", "_users", "_deferred", "__weakref__")

    #: the C free function (void idm_x_free(idm_x_t **)); set by subclasses
    _release = None
    # bound on the class so close() needs no module global (interpreter shutdown)
    _byref = staticmethod(ctypes.byref)
    # an exception a callback raised while the C object was freed
    _report_pending = staticmethod(_callbacks.report_pending)

    def __init__(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} objects are made by idm.Context, "
                        "not constructed directly")

    @classmethod
    def _adopt(cls, ptr, parent):
        """Wraps a non-NULL C pointer the caller owns; parent is the Context."""
        self = cls.__new__(cls)
        self._ptr = ptr
        self._parent = parent
        if parent is not None:
            parent._add_child(self)
        return self

    # ---- life cycle -------------------------------------------------------------

    @property
    def closed(self):
        """True once close() ran."""
        return self._ptr is None

    @property
    def context(self):
        """The Context this object belongs to (None for a Context itself and
        for a backend made without one)."""
        self._handle()
        return self._parent

    def _handle(self):
        """The C pointer; ValueError once closed."""
        ptr = self._ptr
        if ptr is None:
            raise ValueError(f"operation on a closed {type(self).__name__}")
        return ptr

    def _use(self):
        """Another C object (a station, a desk) borrows this one: its C
        object must outlive the user's."""
        self._users = getattr(self, "_users", 0) + 1

    def _unuse(self):
        """A borrower is gone; frees the C object if close() was deferred."""
        self._users = users = getattr(self, "_users", 1) - 1
        ptr = getattr(self, "_deferred", None)
        if users <= 0 and ptr is not None:
            self._deferred = None
            self._ptr = ptr
            self.close()

    def close(self):
        """Frees the C object.  Calling it again does nothing.  While a
        borrower uses it (a Station its Order, Encoder and CA; an External
        desk its Producer and Notifier) the handle is closed at once but the
        C object is freed when the last borrower is."""
        ptr = self._ptr
        if ptr is None:
            return
        self._ptr = None
        if getattr(self, "_users", 0) > 0:
            self._deferred = ptr
            return
        try:
            self._free(ptr)
            self._report_pending()
        finally:
            parent = self._parent
            self._parent = None
            if parent is not None:
                parent._child_closed()

    def _free(self, ptr):
        self._release(self._byref(ptr))

    def __enter__(self):
        self._handle()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()

    def __del__(self):
        try:
            self.close()
        except BaseException:  # noqa: B036 - nothing may escape a finalizer
            pass

    def __reduce_ex__(self, protocol):
        # a copy would share the C pointer and free it twice
        raise TypeError(f"cannot pickle or copy {type(self).__name__} objects")

    def __repr__(self):
        if self._ptr is None:
            return f"<idm.{type(self).__name__} closed>"
        try:
            detail = self._repr_detail()
        except Exception:  # a repr must not fail
            detail = ""
        return f"<idm.{type(self).__name__}{' ' + detail if detail else ''}>"

    def _repr_detail(self):
        return ""
