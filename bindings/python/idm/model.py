"""Pythonic classes for the core model: Context, Identity, Card, Certificate,
Order and AuditEvent, over the raw declarations of idm._capi.

Conventions:
* Strings go in as str (encoded UTF-8; bytes are passed through) and come out
  as str (decoded UTF-8); a C NULL string is None.
* Enums come back as the IntEnum members of idm.enums; any int is accepted.
* Failing C calls raise idm.Error subclasses (idm.errors).
* Every object that owns a C pointer is an idm._handle.Handle: close(),
  context manager, guarded __del__, and ValueError once closed.  Identities,
  cards, certificates, orders and iterators keep their Context alive.
* Identity, Card, Certificate and Order are snapshots, like their C handles:
  their own changes update them, refresh() reloads changes made elsewhere.
* Iterators (Context.identities() and friends) are handles too: they free
  their C iterator when exhausted, on close() or when dropped.
* AuditEvent is an immutable value: the C event is read and freed at once.
"""

import collections.abc
import ctypes
import dataclasses
import os
import weakref

from . import _callbacks, errors
from ._capi import LogFn, lib
from ._handle import Handle
from .enums import (CardOption, CardState, CardType, CertState, IdentityState, KeyUsage,
                    LogLevel, ObjectType, OptionType, OrderCardOutcome, OrderKind, OrderState,
                    Production, RevocationReason)

__all__ = ["Context", "Options", "Identity", "Attributes", "Card", "Certificate", "Order",
           "AuditEvent"]

byref = ctypes.byref
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_int = ctypes.c_int
c_int64 = ctypes.c_int64
c_size_t = ctypes.c_size_t

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

# ---- conversions ---------------------------------------------------------------


def _enc(value):
    """str -> UTF-8 bytes; bytes pass; None stays None (a C NULL)."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"expected str, bytes or None, not {type(value).__name__}")


def _dec(value):
    """C string (bytes or None) -> str or None."""
    return None if value is None else value.decode("utf-8")


def _path(path):
    return os.fsencode(path)


def _id(obj):
    """An int id, or the .id of an Identity, Card, Order or Certificate."""
    if isinstance(obj, Handle):
        return obj.id
    return int(obj)


def _get_str(fn, handle):
    out = c_char_p()
    fn(handle, byref(out))
    return _dec(out.value)


def _get_int64(fn, handle):
    out = c_int64()
    fn(handle, byref(out))
    return out.value


def _get_enum(fn, handle, enum):
    out = c_int()
    fn(handle, byref(out))
    return _enum(enum, out.value)


def _field(getter, fn, *extra, doc):
    """A read-only property that reads one field of the handle with fn."""
    return property(lambda self: getter(fn, self._handle(), *extra), doc=doc)


def _enum(enum, value):
    try:
        return enum(value)
    except ValueError:  # a value a newer library knows and these bindings do not
        return value


def _open(fn, cls, ctx, *args):
    """Calls a C constructor idm_x_open(ctx, ..., &out) and wraps the result."""
    out = c_void_p()
    fn(ctx._handle(), *args, byref(out))
    obj = cls._adopt(out, ctx)
    _callbacks.reraise()  # an exception a callback raised during the call
    return obj


class _Buffer:
    """A scratch idm_buffer_t for one call: with _Buffer() as buf: ...; buf.bytes()."""

    def __enter__(self):
        self.ptr = c_void_p()
        lib.idm_buffer_new(byref(self.ptr))
        return self

    def bytes(self):
        data = c_void_p()
        size = c_size_t()
        lib.idm_buffer_get(self.ptr, byref(data), byref(size))
        return ctypes.string_at(data.value, size.value) if size.value else b""

    def __exit__(self, *exc):
        lib.idm_buffer_free(byref(self.ptr))


_OPTION_TYPES = None


def option_types():
    """{key: OptionType} of every option the library knows, in its order."""
    global _OPTION_TYPES
    if _OPTION_TYPES is None:
        count = c_size_t()
        lib.idm_option_count(byref(count))
        types = {}
        for i in range(count.value):
            key = c_char_p()
            kind = c_int()
            lib.idm_option_key_at(i, byref(key), byref(kind))
            types[key.value.decode()] = OptionType(kind.value)
        _OPTION_TYPES = types
    return _OPTION_TYPES


def _option_type(key):
    try:
        return option_types()[key]
    except KeyError:
        raise KeyError(key) from None


# ---- iterators -------------------------------------------------------------------


class _Iterator(Handle):
    """A C iterator: yields handles (children of the context) until the C
    side says there are no more, then frees itself.  After close() or
    exhaustion it raises StopIteration, like a closed generator."""

    __slots__ = ()
    _next = None   # the C next function, set by subclasses
    _item = None   # the Handle class of the items

    @classmethod
    def _start(cls, ctx, new, filters):
        """Creates the C iterator with new(ctx, &out) and applies each
        (setter, args) of filters; frees it if a filter fails."""
        out = c_void_p()
        new(ctx._handle(), byref(out))
        it = cls._adopt(out, ctx)
        try:
            _callbacks.reraise()
            for setter, args in filters:
                setter(out, *args)
        except BaseException:
            it.close()
            raise
        return it

    def __iter__(self):
        return self

    def __next__(self):
        ptr = self._ptr
        if ptr is None:
            raise StopIteration
        out = c_void_p()
        try:
            self._next(ptr, byref(out))
        except BaseException:
            self.close()
            raise
        if not out.value:
            try:
                _callbacks.reraise()
            finally:
                self.close()
            raise StopIteration
        item = self._wrap(out)
        _callbacks.reraise()
        return item

    def _wrap(self, out):
        return self._item._adopt(out, self._parent)


# ---- context ----------------------------------------------------------------------


class Context(Handle):
    """A libidm context (idm_ctx_t), optionally with its store open.

    Context(path) opens (or creates) the store at path; Context() leaves it
    to open_store().  close() first closes every live object obtained from
    the context, since the C API frees those before their context.
    """

    __slots__ = ("_children", "_nchildren", "_pending", "_log_key", "_log_fn", "_log_level",
                 "_log_trampoline")

    _release = staticmethod(lib.idm_ctx_free)
    # bound on the class so close() needs no module global (interpreter shutdown)
    _unregister = staticmethod(_callbacks.unregister)

    def __init__(self, path=None):
        out = c_void_p()
        lib.idm_ctx_new(byref(out))
        self._ptr = out
        self._parent = None
        self._children = weakref.WeakSet()
        self._nchildren = 0
        self._pending = None
        self._log_key = None
        self._log_fn = None
        self._log_trampoline = None
        self._log_level = LogLevel.INFO
        if path is not None:
            try:
                self.open_store(path)
            except BaseException:
                self.close()
                raise

    # ---- children and closing ----

    def _add_child(self, child):
        self._children.add(child)
        self._nchildren += 1

    def _child_closed(self):
        self._nchildren -= 1
        if self._nchildren <= 0 and self._pending is not None:
            ptr, self._pending = self._pending, None
            self._free(ptr)

    def close(self):
        """Closes every live child, then frees the context.  Idempotent."""
        ptr = self._ptr
        if ptr is None:
            return
        try:
            # stations and desks first: they use the other children
            children = sorted(self._children,
                              key=lambda c: not getattr(c, "_CLOSE_FIRST", False))
            for child in children:
                child.close()
        finally:
            self._ptr = None
            if self._nchildren > 0:
                # children the garbage collector has not finalized yet (a
                # cycle): the last one to close frees the context
                self._pending = ptr
            else:
                self._free(ptr)

    def _free(self, ptr):
        key, self._log_key = self._log_key, None
        try:
            self._release(self._byref(ptr))
        finally:
            # only now: freeing the context may still log
            self._log_fn = None
            self._log_trampoline = None
            self._unregister(key)

    def _repr_detail(self):
        return f"children={self._nchildren}"

    # ---- the context itself ----

    def open_store(self, path):
        """Opens (creating if needed) the store at path; ":memory:" for a
        private in-memory store."""
        lib.idm_ctx_open_store(self._handle(), _path(path))

    @property
    def log_level(self):
        """The most verbose LogLevel that reaches the log callback (INFO by
        default).  The C API has no getter: this is the last value set here."""
        self._handle()
        return self._log_level

    @log_level.setter
    def log_level(self, level):
        lib.idm_ctx_set_log_level(self._handle(), level)
        self._log_level = LogLevel(level)

    def set_log_callback(self, callback):
        """Sends the library's log messages to callback(level, component,
        message) (a LogLevel and two str), or drops them with None.  The
        context keeps the callable alive.  An exception raised by the
        callback does not stop the C call (log callbacks cannot fail one);
        it is re-raised to the caller once that call returned, or, during a
        free function, handed to sys.unraisablehook (idm._callbacks)."""
        handle = self._handle()
        if callback is None:
            lib.idm_ctx_set_log_callback(handle, None, None)
            self._log_fn = None
            return
        if not callable(callback):
            raise TypeError("the log callback must be callable or None")
        if self._log_key is None:
            # the registry holds the context weakly: a callback that refers
            # to the context does not make it immortal
            self._log_key = _callbacks.register(self)
            self._log_trampoline = _callbacks.trampoline(LogFn, "_log_message", None)
        self._log_fn = callback
        lib.idm_ctx_set_log_callback(handle, self._log_trampoline, self._log_key)

    def _log_message(self, level, component, message, _levels=LogLevel):
        # the log trampoline's method; _levels bound for interpreter shutdown
        callback = self._log_fn
        if callback is None:
            return
        try:
            level = _levels(level)
        except ValueError:
            pass
        callback(level, component.decode("utf-8", "replace"),
                 message.decode("utf-8", "replace"))

    def now(self):
        """The context clock: milliseconds since the Unix epoch."""
        return _get_int64(lib.idm_ctx_now, self._handle())

    def random_bytes(self, n):
        """n bytes from the context's random source."""
        n = int(n)
        if n < 0:
            raise ValueError("n must be >= 0")
        buf = ctypes.create_string_buffer(n)
        lib.idm_ctx_random_bytes(self._handle(), buf, n)
        return buf.raw

    # ---- options ----

    @property
    def options(self):
        """The option set as a read-only mapping of key -> bool, int or str."""
        self._handle()
        return Options(self)  # not cached: that would be a reference cycle

    def set_option(self, actor, key, value):
        """Sets an option (audited as actor); the value must suit its type."""
        handle = self._handle()
        kind = _option_type(key)
        if kind == OptionType.BOOL:
            if not isinstance(value, (bool, int)):
                raise TypeError(f"option {key} takes a bool")
            lib.idm_options_set_bool(handle, _enc(actor), _enc(key), 1 if value else 0)
        elif kind == OptionType.INT:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"option {key} takes an int")
            lib.idm_options_set_int(handle, _enc(actor), _enc(key), value)
        else:
            if not isinstance(value, str):
                raise TypeError(f"option {key} takes a str")
            lib.idm_options_set_string(handle, _enc(actor), _enc(key), _enc(value))

    def reset_option(self, actor, key):
        """Puts an option back to its default (audited as actor)."""
        _option_type(key)
        lib.idm_options_reset(self._handle(), _enc(actor), _enc(key))

    @property
    def options_version(self):
        """Version of the option set: 0 for the defaults, +1 per change."""
        return _get_int64(lib.idm_options_get_version, self._handle())

    # ---- identities ----

    def create_identity(self, actor, external_id=None):
        """A new identity in state REGISTERED."""
        return _open(lib.idm_identity_new, Identity, self, _enc(actor), _enc(external_id))

    def identity(self, id):
        """The identity with this id (NotFoundError if none)."""
        return _open(lib.idm_identity_open, Identity, self, int(id))

    def identity_by_external_id(self, external_id):
        """The identity with this external id (NotFoundError if none)."""
        return _open(lib.idm_identity_open_external, Identity, self, _enc(external_id))

    def import_csv(self, actor, source, id_column=None,
                   initial_state=IdentityState.REGISTERED):
        """Imports identities from CSV, all or none; returns how many.

        source is a path (os.PathLike, or a str without a newline) or the CSV
        text itself (a str with a newline, or bytes).  A malformed file raises
        ParseError whose message names the line."""
        handle = self._handle()
        count = c_size_t()
        if isinstance(source, bytes) or (isinstance(source, str) and "\n" in source):
            data = _enc(source)
            lib.idm_identity_import_csv_data(handle, _enc(actor), data, len(data),
                                             _enc(id_column), initial_state, byref(count))
        else:
            lib.idm_identity_import_csv(handle, _enc(actor), _path(source), _enc(id_column),
                                        initial_state, byref(count))
        return count.value

    def identities(self, state=None):
        """Iterates over the stored identities in id order."""
        filters = []
        if state is not None:
            filters.append((lib.idm_identity_iter_set_state, (state,)))
        return _IdentityIterator._start(self, lib.idm_identity_iter_new, filters)

    # ---- cards ----

    def create_card(self, actor, type, option, production, identity_id=0, name=None):
        """A new card in the first state of its graph.  identity_id may be an
        Identity; 0 (and a name) for the non-personal types."""
        return _open(lib.idm_card_new, Card, self, _enc(actor), type, option, production,
                     _id(identity_id), _enc(name))

    def card(self, id):
        """The card with this id (NotFoundError if none)."""
        return _open(lib.idm_card_open, Card, self, int(id))

    def card_by_number(self, number):
        """The card with this card number (NotFoundError if none)."""
        return _open(lib.idm_card_open_number, Card, self, _enc(number))

    def cards(self, state=None, type=None, order_id=None, identity_id=None, outcome=None):
        """Iterates over the stored cards in id order, narrowed by any of the
        filters; outcome (with order_id) keeps the cards with that outcome in
        the order."""
        filters = []
        if state is not None:
            filters.append((lib.idm_card_iter_set_state, (state,)))
        if type is not None:
            filters.append((lib.idm_card_iter_set_type, (type,)))
        if outcome is not None:
            if order_id is None:
                raise ValueError("outcome needs order_id")
            filters.append((lib.idm_card_iter_set_order_outcome, (_id(order_id), outcome)))
        elif order_id is not None:
            filters.append((lib.idm_card_iter_set_order, (_id(order_id),)))
        if identity_id is not None:
            filters.append((lib.idm_card_iter_set_identity, (_id(identity_id),)))
        return _CardIterator._start(self, lib.idm_card_iter_new, filters)

    # ---- certificates ----

    def certificate(self, key):
        """The certificate record with this id (an int) or serial (a str of
        upper-case hex, as Certificate.serial gives it)."""
        if isinstance(key, (str, bytes)):
            return _open(lib.idm_cert_open_serial, Certificate, self, _enc(key))
        return _open(lib.idm_cert_open, Certificate, self, int(key))

    def certificates(self, card_id):
        """Iterates over the certificate records of one card (an id or Card)."""
        card_id = _id(card_id)

        def new(ctx, out):
            lib.idm_cert_iter_new(ctx, card_id, out)
        return _CertificateIterator._start(self, new, [])

    # ---- orders ----

    def create_order(self, actor, kind, type, option, external_id=None):
        """A new open order; it snapshots the current option set."""
        return _open(lib.idm_order_new, Order, self, _enc(actor), kind, type, option,
                     _enc(external_id))

    def order(self, id):
        """The order with this id (NotFoundError if none)."""
        return _open(lib.idm_order_open, Order, self, int(id))

    def order_by_external_id(self, external_id):
        """The order with this external id (NotFoundError if none)."""
        return _open(lib.idm_order_open_external, Order, self, _enc(external_id))

    def orders(self, state=None, type=None):
        """Iterates over the stored orders in id order."""
        filters = []
        if state is not None:
            filters.append((lib.idm_order_iter_set_state, (state,)))
        if type is not None:
            filters.append((lib.idm_order_iter_set_type, (type,)))
        return _OrderIterator._start(self, lib.idm_order_iter_new, filters)

    # ---- audit ----

    def audit(self, object_type=None, object_id=None, since_ms=None, until_ms=None):
        """Iterates over the audit events (AuditEvent) in sequence order.
        object_id without object_type is refused; object_type alone means
        object id 0 (option and CA events).  since_ms and until_ms are both
        inclusive; either may be left out."""
        filters = []
        if object_type is not None:
            filters.append((lib.idm_audit_iter_set_object,
                            (object_type, 0 if object_id is None else _id(object_id))))
        elif object_id is not None:
            raise ValueError("object_id needs object_type")
        if since_ms is not None or until_ms is not None:
            filters.append((lib.idm_audit_iter_set_time_range,
                            (INT64_MIN if since_ms is None else since_ms,
                             INT64_MAX if until_ms is None else until_ms)))
        return _AuditIterator._start(self, lib.idm_audit_iter_new, filters)

    def verify_audit(self):
        """Checks the whole audit chain.  Returns None when intact; raises
        IntegrityError otherwise, with first_broken set to the sequence
        number of the first event that fails."""
        first = c_int64()
        try:
            lib.idm_audit_verify(self._handle(), byref(first))
        except errors.IntegrityError as exc:
            exc.first_broken = first.value
            raise


class Options(collections.abc.Mapping):
    """Read-only view of a context's option set: key -> bool, int or str,
    typed by the option's OptionType.  Set with Context.set_option()."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx):
        self._ctx = ctx

    def __getitem__(self, key):
        kind = _option_type(key)
        handle = self._ctx._handle()
        if kind == OptionType.BOOL:
            out = c_int()
            lib.idm_options_get_bool(handle, _enc(key), byref(out))
            return bool(out.value)
        if kind == OptionType.INT:
            out = c_int64()
            lib.idm_options_get_int(handle, _enc(key), byref(out))
            return out.value
        out = c_char_p()
        lib.idm_options_get_string(handle, _enc(key), byref(out))
        return _dec(out.value)

    def __iter__(self):
        return iter(option_types())

    def __len__(self):
        return len(option_types())

    def type(self, key):
        """The OptionType of a key (KeyError if unknown)."""
        return _option_type(key)

    def __repr__(self):
        return f"<idm.Options {dict(self)!r}>"


# ---- identities ----------------------------------------------------------------------


class Identity(Handle):
    """A snapshot of a stored identity (idm_identity_t)."""

    __slots__ = ()
    _release = staticmethod(lib.idm_identity_free)

    id = _field(_get_int64, lib.idm_identity_get_id, doc="The store id (int).")
    external_id = _field(_get_str, lib.idm_identity_get_external_id,
                         doc="The id in the host's directory (str), or None.")
    state = _field(_get_enum, lib.idm_identity_get_state, IdentityState,
                   doc="The IdentityState as last loaded.")

    @property
    def common_name(self):
        """Set explicitly or derived by common_name_template; None if it
        cannot be derived."""
        return _get_str(lib.idm_identity_get_common_name, self._handle())

    upn = _field(_get_str, lib.idm_identity_get_upn,
                 doc="The user principal name for certificates (str), or None.")

    @property
    def attributes(self):
        """A live read-only mapping of the attributes (key -> str)."""
        self._handle()
        return Attributes(self)

    def set_attribute(self, actor, key, value):
        """Sets an attribute, or removes it with value None (audited)."""
        lib.idm_identity_set_attribute(self._handle(), _enc(actor), _enc(key), _enc(value))

    def set_common_name(self, actor, value):
        """Sets the common name explicitly; None goes back to deriving it."""
        lib.idm_identity_set_common_name(self._handle(), _enc(actor), _enc(value))

    def set_upn(self, actor, value):
        """Sets the UPN explicitly; None goes back to deriving it."""
        lib.idm_identity_set_upn(self._handle(), _enc(actor), _enc(value))

    def set_state(self, actor, state):
        """Moves to another IdentityState; StateError names both states
        when the move is not legal."""
        lib.idm_identity_set_state(self._handle(), _enc(actor), state)

    def refresh(self):
        """Reloads the snapshot from the store."""
        lib.idm_identity_refresh(self._handle())

    def cards(self, **filters):
        """The identity's cards (Context.cards(identity_id=self.id, ...))."""
        identity_id = self.id
        return self._parent.cards(identity_id=identity_id, **filters)

    def _repr_detail(self):
        return f"id={self.id} state={self.state.name}"


class Attributes(collections.abc.Mapping):
    """The attributes of an Identity as a read-only mapping, read live from
    the handle; items() gives (key, value) pairs in key order.  Change them
    with Identity.set_attribute()."""

    __slots__ = ("_identity",)

    def __init__(self, identity):
        self._identity = identity

    def __getitem__(self, key):
        out = c_char_p()
        try:
            lib.idm_identity_get_attribute(self._identity._handle(), _enc(key), byref(out))
        except errors.NotFoundError:
            raise KeyError(key) from None
        return _dec(out.value)

    def __len__(self):
        count = c_size_t()
        lib.idm_identity_get_attribute_count(self._identity._handle(), byref(count))
        return count.value

    def _at(self, index):
        key = c_char_p()
        value = c_char_p()
        lib.idm_identity_get_attribute_at(self._identity._handle(), index, byref(key),
                                          byref(value))
        return _dec(key.value), _dec(value.value)

    def __iter__(self):
        for i in range(len(self)):
            yield self._at(i)[0]

    def items(self):
        return [self._at(i) for i in range(len(self))]

    def __repr__(self):
        return f"<idm.Attributes {dict(self.items())!r}>"


class _IdentityIterator(_Iterator):
    __slots__ = ()
    _next = staticmethod(lib.idm_identity_iter_next)
    _release = staticmethod(lib.idm_identity_iter_free)
    _item = Identity


# ---- cards -------------------------------------------------------------------------


class Card(Handle):
    """A snapshot of a stored card (idm_card_t)."""

    __slots__ = ()
    _release = staticmethod(lib.idm_card_free)

    id = _field(_get_int64, lib.idm_card_get_id, doc="The store id (int).")
    number = _field(_get_str, lib.idm_card_get_number, doc="The card number (str).")
    type = _field(_get_enum, lib.idm_card_get_type, CardType, doc="The CardType.")
    option = _field(_get_enum, lib.idm_card_get_option, CardOption,
                    doc="CardOption: Physical ID or Digital ID.")
    production = _field(_get_enum, lib.idm_card_get_production, Production,
                        doc="Production: local (mass production) or external.")
    state = _field(_get_enum, lib.idm_card_get_state, CardState,
                   doc="The CardState as last loaded (see refresh()).")

    @property
    def identity_id(self):
        """The holder's identity id; 0 for a non-personal card."""
        return _get_int64(lib.idm_card_get_identity_id, self._handle())

    @property
    def name(self):
        """The name of a non-personal card; None for a personal one."""
        return _get_str(lib.idm_card_get_name, self._handle())

    @property
    def chip_serial(self):
        """The chip serial, None while unknown."""
        return _get_str(lib.idm_card_get_chip_serial, self._handle())

    @property
    def order_id(self):
        """The production order of the card; 0 if none."""
        return _get_int64(lib.idm_card_get_order_id, self._handle())

    @property
    def shipment(self):
        """The shipment data a bureau reported; None while unknown."""
        return _get_str(lib.idm_card_get_shipment, self._handle())

    @property
    def requester(self):
        """Who ordered or requested the card (external production), or None."""
        return _get_str(lib.idm_card_get_requester, self._handle())

    def identity(self):
        """The holder as an Identity; None for a non-personal card."""
        identity_id = self.identity_id
        return self._parent.identity(identity_id) if identity_id else None

    def set_state(self, actor, to, detail=None):
        """Moves the card along its graph (audited, with detail as reason);
        StateError names the card and both states when not legal."""
        lib.idm_card_set_state(self._handle(), _enc(actor), to, _enc(detail))

    def set_chip_serial(self, actor, serial):
        """Records the chip serial once read from the chip."""
        lib.idm_card_set_chip_serial(self._handle(), _enc(actor), _enc(serial))

    def add_certificate(self, actor, der):
        """Records a DER certificate for the card; returns its Certificate."""
        der = bytes(der)
        out = c_void_p()
        lib.idm_card_add_certificate(self._handle(), _enc(actor), der, len(der), byref(out))
        cert = Certificate._adopt(out, self._parent)
        _callbacks.reraise()
        return cert

    def certificates(self):
        """Iterates over the card's certificate records."""
        card_id = self.id
        return self._parent.certificates(card_id)

    def refresh(self):
        """Reloads the snapshot from the store."""
        lib.idm_card_refresh(self._handle())

    def _repr_detail(self):
        return f"id={self.id} number={self.number!r} state={self.state.name}"


class _CardIterator(_Iterator):
    __slots__ = ()
    _next = staticmethod(lib.idm_card_iter_next)
    _release = staticmethod(lib.idm_card_iter_free)
    _item = Card


# ---- certificates ----------------------------------------------------------------------


class Certificate(Handle):
    """A snapshot of a stored certificate record (idm_cert_t)."""

    __slots__ = ()
    _release = staticmethod(lib.idm_cert_free)

    id = _field(_get_int64, lib.idm_cert_get_id, doc="The store id (int).")
    card_id = _field(_get_int64, lib.idm_cert_get_card_id,
                     doc="The id of the card the certificate belongs to.")

    @property
    def serial(self):
        """Upper-case hex of whole bytes, e.g. '0B0B'."""
        return _get_str(lib.idm_cert_get_serial, self._handle())

    @property
    def der(self):
        """The certificate, DER-encoded (bytes)."""
        data = c_void_p()
        size = c_size_t()
        lib.idm_cert_get_der(self._handle(), byref(data), byref(size))
        return ctypes.string_at(data.value, size.value)

    @property
    def validity(self):
        """(not_before, not_after) in milliseconds since the Unix epoch."""
        before = c_int64()
        after = c_int64()
        lib.idm_cert_get_validity(self._handle(), byref(before), byref(after))
        return before.value, after.value

    @property
    def not_before(self):
        """Start of validity, in milliseconds since the Unix epoch."""
        return self.validity[0]

    @property
    def not_after(self):
        """End of validity, in milliseconds since the Unix epoch."""
        return self.validity[1]

    state = _field(_get_enum, lib.idm_cert_get_state, CertState,
                   doc="CertState: valid, on hold, revoked or expired.")

    @property
    def usage(self):
        """The KeyUsage (certificate profile) of the record."""
        return _get_enum(lib.idm_cert_get_usage, self._handle(), KeyUsage)

    @property
    def revocation(self):
        """(RevocationReason, time_ms) of a revoked or on-hold certificate,
        None otherwise."""
        if self.state not in (CertState.REVOKED, CertState.ON_HOLD):
            return None
        reason = c_int()
        when = c_int64()
        lib.idm_cert_get_revocation(self._handle(), byref(reason), byref(when))
        return _enum(RevocationReason, reason.value), when.value

    def _repr_detail(self):
        return f"id={self.id} serial={self.serial!r} state={self.state.name}"


class _CertificateIterator(_Iterator):
    __slots__ = ()
    _next = staticmethod(lib.idm_cert_iter_next)
    _release = staticmethod(lib.idm_cert_iter_free)
    _item = Certificate


# ---- orders ----------------------------------------------------------------------------


class Order(Handle):
    """A snapshot of a stored production order (idm_order_t)."""

    __slots__ = ()
    _release = staticmethod(lib.idm_order_free)

    id = _field(_get_int64, lib.idm_order_get_id, doc="The store id (int).")
    external_id = _field(_get_str, lib.idm_order_get_external_id,
                         doc="The host's id for the order (str), or None.")
    kind = _field(_get_enum, lib.idm_order_get_kind, OrderKind,
                  doc="OrderKind: mass production or external.")

    def _card_kind(self):
        card_type = c_int()
        option = c_int()
        lib.idm_order_get_card_kind(self._handle(), byref(card_type), byref(option))
        return _enum(CardType, card_type.value), _enum(CardOption, option.value)

    @property
    def card_type(self):
        """The CardType of the order's cards."""
        return self._card_kind()[0]

    @property
    def card_option(self):
        """The CardOption of the order's cards."""
        return self._card_kind()[1]

    state = _field(_get_enum, lib.idm_order_get_state, OrderState,
                   doc="The OrderState as last loaded (see refresh()).")

    @property
    def options_version(self):
        """The version of the option set the order snapshotted."""
        return _get_int64(lib.idm_order_get_options_version, self._handle())

    def option(self, key):
        """An option from the order's snapshot, typed like Context.options."""
        kind = _option_type(key)
        handle = self._handle()
        if kind == OptionType.BOOL:
            out = c_int()
            lib.idm_order_get_option_bool(handle, _enc(key), byref(out))
            return bool(out.value)
        if kind == OptionType.INT:
            out = c_int64()
            lib.idm_order_get_option_int(handle, _enc(key), byref(out))
            return out.value
        out = c_char_p()
        lib.idm_order_get_option_string(handle, _enc(key), byref(out))
        return _dec(out.value)

    def set_state(self, actor, to, detail=None):
        """Moves the order to another OrderState; StateError names both
        states when the move is not legal."""
        lib.idm_order_set_state(self._handle(), _enc(actor), to, _enc(detail))

    def add_card(self, actor, card):
        """Adds a card (an id or a Card) to the order."""
        lib.idm_order_add_card(self._handle(), _enc(actor), _id(card))

    def add_cards(self, actor, cards):
        """Adds several cards (ids or Cards), all or none."""
        ids = [_id(card) for card in cards]
        array = (c_int64 * len(ids))(*ids)
        lib.idm_order_add_cards(self._handle(), _enc(actor), array, len(ids))

    def add_approved(self, actor, limit=0):
        """Adds the approved, locally produced cards of the order's type and
        option that are in no other open order, at most limit (0: all);
        returns how many."""
        added = c_size_t()
        lib.idm_order_add_approved(self._handle(), _enc(actor), limit, byref(added))
        return added.value

    def count_cards(self, outcome):
        """How many of the order's cards have this OrderCardOutcome."""
        out = c_int64()
        lib.idm_order_count_cards(self._handle(), outcome, byref(out))
        return out.value

    def card_outcome(self, card):
        """(OrderCardOutcome, attempt, reason) of a card (an id or Card) of the
        order; reason is '' when there is none."""
        handle = self._handle()
        outcome = c_int()
        attempt = c_int()
        with _Buffer() as reason:
            lib.idm_order_get_card_outcome(handle, _id(card), byref(outcome), byref(attempt),
                                           reason.ptr)
            text = reason.bytes().decode("utf-8")
        return _enum(OrderCardOutcome, outcome.value), attempt.value, text

    def cards(self, outcome=None, **filters):
        """Iterates over the order's cards, optionally only those with an
        outcome."""
        order_id = self.id
        return self._parent.cards(order_id=order_id, outcome=outcome, **filters)

    def refresh(self):
        """Reloads the snapshot from the store."""
        lib.idm_order_refresh(self._handle())

    def _repr_detail(self):
        return f"id={self.id} kind={self.kind.name} state={self.state.name}"


class _OrderIterator(_Iterator):
    __slots__ = ()
    _next = staticmethod(lib.idm_order_iter_next)
    _release = staticmethod(lib.idm_order_iter_free)
    _item = Order


# ---- audit -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AuditEvent:
    """One event of the audit trail, read from the store (an immutable value:
    the C event is freed once read)."""

    seq: int
    time_ms: int
    actor: str
    object_type: ObjectType
    object_id: int
    from_state: str  # None for a creation or a change that is not a state change
    to_state: str    # None likewise
    detail: str

    @classmethod
    def _read(cls, ptr):
        seq = c_int64()
        when = c_int64()
        lib.idm_audit_event_get_seq(ptr, byref(seq), byref(when))
        actor = _get_str(lib.idm_audit_event_get_actor, ptr)
        object_type = c_int()
        object_id = c_int64()
        lib.idm_audit_event_get_object(ptr, byref(object_type), byref(object_id))
        before = c_char_p()
        after = c_char_p()
        lib.idm_audit_event_get_states(ptr, byref(before), byref(after))
        detail = _get_str(lib.idm_audit_event_get_detail, ptr)
        return cls(seq.value, when.value, actor, _enum(ObjectType, object_type.value),
                   object_id.value, _dec(before.value), _dec(after.value), detail)


class _AuditIterator(_Iterator):
    __slots__ = ()
    _next = staticmethod(lib.idm_audit_iter_next)
    _release = staticmethod(lib.idm_audit_iter_free)

    def _wrap(self, out):
        try:
            return AuditEvent._read(out)
        finally:
            lib.idm_audit_event_free(byref(out))
