"""The workflows as classes: mass production (Station, run_production) and
external production (External).

Hooks and callbacks written in Python follow idm._callbacks: an exception
cancels the step (the library sees a non-zero hook result and lets the card
go as idm_station_cancel() does) and is re-raised to the caller once the C
call returns, chained from the idm.CancelledError the call produced.  A
hook may also return False to cancel without an exception (the caller then
gets idm.CancelledError).  Cards and orders handed to hooks are read-only
views valid during the hook (open ctx.card(card.id) to keep one).
"""

import ctypes
import dataclasses

from . import _callbacks, errors
from ._capi import (ExternalResultFn, HookCardFn, HookCompleteOrMoreFn, HookProgressFn,
                    HookReadyFn, ProductionHooks, ReadinessFn, lib)
from ._handle import Handle
from .backends import CANCEL, Printer, _borrow, _BorrowedCard, _BorrowedOrder
from .enums import CardState, OrderCardOutcome, Production
from .layouts import Layout
from .model import Card, Order, _dec, _enc, _enum, _id

__all__ = ["Station", "run_production", "External", "BatchResult", "BatchResults"]

byref = ctypes.byref
c_void_p = ctypes.c_void_p
c_size_t = ctypes.c_size_t

#: what a readiness callback returns when it raised: neither 0 (ready) nor
#: 1 (skip), so the library cancels (IDM_ERR_CANCELLED)
_READY_CANCEL = -1

_HOOK_NAMES = ("ready", "before_issue", "after_issue", "produce", "verify",
               "complete_or_more", "progress")


def _readiness(fn, card, why, size):
    """Runs a readiness callable: None/True/"" ready -> 0; a str (the
    reason) or False -> 1, not ready."""
    answer = _borrow(_BorrowedCard, card, fn)
    if answer is None or answer is True or answer == "":
        return 0
    reason = "not ready" if answer is False else str(answer)
    data = _enc(reason)[:max(size - 1, 0)]
    ctypes.memmove(why, data + b"\0", len(data) + 1)
    return 1


class _Child(Handle):
    """A handle freed before the other children of its context (it uses them)."""
    __slots__ = ()
    _CLOSE_FIRST = True


class Station(_Child):
    """A mass production station (idm_station_t) on an Order: one encoder,
    one CA (Digital ID), one name, and optionally a Printer with its Layout
    (set_printer()).  It keeps the order, encoder, CA, printer and layout
    alive, and is closed before them when its context closes."""

    __slots__ = ("_order", "_encoder", "_ca", "_printer", "_layout", "_key", "_readiness",
                 "_hooks", "_trampolines")
    _release = staticmethod(lib.idm_station_free)
    _unregister = staticmethod(_callbacks.unregister)

    def __init__(self, order, name, encoder, ca=None):
        ctx = order.context
        out = c_void_p()
        lib.idm_station_open(byref(out), order._handle(), _enc(name), encoder._handle(),
                             None if ca is None else ca._handle())
        self._ptr = out
        self._parent = ctx
        ctx._add_child(self)
        self._order = order
        self._encoder = encoder
        self._ca = ca
        self._printer = None
        self._layout = None
        for used in (order, encoder, ca):
            if used is not None:
                used._use()
        self._readiness = None
        self._hooks = None
        self._key = _callbacks.register(self)
        t = _callbacks.trampoline
        self._trampolines = {
            "readiness": t(ReadinessFn, "_m_readiness", _READY_CANCEL),
            "ready": t(HookReadyFn, "_m_ready", _READY_CANCEL),
            "before_issue": t(HookCardFn, "_m_before_issue", CANCEL),
            "after_issue": t(HookCardFn, "_m_after_issue", CANCEL),
            "produce": t(HookCardFn, "_m_produce", CANCEL),
            "verify": t(HookCardFn, "_m_verify", CANCEL),
            "complete_or_more": t(HookCompleteOrMoreFn, "_m_complete_or_more", CANCEL),
            "progress": t(HookProgressFn, "_m_progress", CANCEL),
        }
        _callbacks.reraise()

    def _free(self, ptr):
        try:
            self._release(self._byref(ptr))
        finally:
            key, self._key = self._key, None
            self._unregister(key)
            self._trampolines = None
            printing, self._printer, self._layout = (self._printer, self._layout), None, None
            for used in (self._order, self._encoder, self._ca) + printing:
                if used is not None:
                    used._unuse()

    @property
    def order(self):
        """The Order this station works on."""
        self._handle()
        return self._order

    @property
    def printer(self):
        """The Printer the station prints with, or None (set_printer())."""
        self._handle()
        return self._printer

    @property
    def layout(self):
        """The Layout the station prints with, or None (set_printer())."""
        self._handle()
        return self._layout

    def set_printer(self, printer, layout):
        """From the next card on, the produce step first renders the card
        with layout to a PDF and prints it on printer (job
        "idm-<store>-c<card>-a<attempt>"), then writes the chip.  A print
        that fails fails the card and aborts the order, with the printer's
        words.  The layout must serve the order's card type.  (None, None)
        stops printing.  The station keeps both alive while it uses them.
        InvalidArgumentError for a layout without a printer or a printer
        without a layout, StateError with a card in production."""
        handle = self._handle()
        if printer is not None and not isinstance(printer, Printer):
            raise TypeError(f"the printer must be an idm.Printer or None, "
                            f"not {type(printer).__name__}")
        if layout is not None and not isinstance(layout, Layout):
            raise TypeError(f"the layout must be an idm.Layout or None, "
                            f"not {type(layout).__name__}")
        lib.idm_station_set_printer(handle, None if printer is None else printer._handle(),
                                    None if layout is None else layout._handle())
        # the new ones first: giving the same printer again must not free it
        for used in (printer, layout):
            if used is not None:
                used._use()
        old, self._printer, self._layout = (self._printer, self._layout), printer, layout
        for used in old:
            if used is not None:
                used._unuse()

    def set_lease(self, lease_ms):
        """How long (1 .. 86,400,000 ms; default ten minutes) this station's
        claim on a card holds against other stations: a station that died
        keeps its cards that long."""
        lib.idm_station_set_lease(self._handle(), lease_ms)

    def set_group(self, cards):
        """Claim up to cards (1 .. 1,000; default 1) ready cards in one store
        transaction, handed out one by one by next(): a commit saved per card.
        Claimed cards wait for this station (or its lease)."""
        lib.idm_station_set_group(self._handle(), cards)

    def set_readiness(self, fn):
        """fn(card) answers whether a card that passed the built-in rules is
        ready: None, True or "" for ready; a str (the reason, recorded with
        the skip) or False for not ready.  None removes it."""
        handle = self._handle()
        if fn is not None and not callable(fn):
            raise TypeError("the readiness callback must be callable or None")
        self._readiness = fn
        if fn is None:
            lib.idm_station_set_readiness(handle, None, None)
        else:
            lib.idm_station_set_readiness(handle, self._trampolines["readiness"], self._key)

    # ---- the step API ----

    def next(self, actor):
        """Claims the next ready card; None when the order has none left."""
        ctx = self._parent
        out = c_void_p()
        lib.idm_station_next(self._handle(), _enc(actor), byref(out))
        card = Card._adopt(out, ctx) if out.value else None
        _callbacks.reraise()
        return card

    def issue(self, actor):
        """Issue: keys made on the card and, for Digital ID, certificates from
        the CA.  A failure after the card changed fails the card and aborts
        the order; one before (no card, the wrong card) lets the card go."""
        lib.idm_station_issue(self._handle(), _enc(actor))

    def produce(self, actor):
        """Produce: with a printer (set_printer()) the card's faces are
        printed first; then certificates, CHUID, CCC (Digital ID), Printed
        Information, PIN and PUK go onto the card; a failure fails the card
        and aborts the order."""
        lib.idm_station_produce(self._handle(), _enc(actor))

    def verify(self, actor):
        """Verify: the PIN, every object read back, a signature per key; then
        the card is issued and released.  A failure fails the card and aborts
        the order."""
        lib.idm_station_verify(self._handle(), _enc(actor))

    def cancel(self, actor, reason=None):
        """Lets go of the card in hand (and those claimed ahead): this
        attempt's certificates are revoked, the card stays approved and
        pending.  reason goes to the audit trail."""
        lib.idm_station_cancel(self._handle(), _enc(actor), _enc(reason))

    def complete(self, actor, more=False):
        """The answer once next() found no card: more=True checks the skipped
        and newly added cards again; False completes the order."""
        lib.idm_station_complete(self._handle(), _enc(actor), 1 if more else 0)

    # ---- the driver ----

    def run(self, actor, hooks=None):
        """idm_production_run(): see run_production()."""
        handle = self._handle()
        table = ProductionHooks.init()
        found = {}
        if hooks is not None:
            for name in _HOOK_NAMES:
                fn = hooks.get(name) if isinstance(hooks, dict) else getattr(hooks, name, None)
                if fn is None:
                    continue
                if not callable(fn):
                    raise TypeError(f"hook {name} is not callable")
                found[name] = fn
                setattr(table, name, self._trampolines[name])
            if isinstance(hooks, dict):
                unknown = set(hooks) - set(_HOOK_NAMES)
                if unknown:
                    raise TypeError(f"unknown hooks: {', '.join(sorted(unknown))}")
        self._hooks = found
        try:
            lib.idm_production_run(handle, _enc(actor), byref(table), ctypes.sizeof(table),
                                   self._key)
        finally:
            self._hooks = None

    # ---- trampoline methods ----

    def _m_readiness(self, card, why, size):
        return _readiness(self._readiness, card, why, size)

    def _m_ready(self, card, why, size):
        return _readiness(self._hooks["ready"], card, why, size)

    def _card_hook(self, name, card):
        answer = _borrow(_BorrowedCard, card, self._hooks[name])
        return CANCEL if answer is False else 0

    def _m_before_issue(self, card):
        return self._card_hook("before_issue", card)

    def _m_after_issue(self, card):
        return self._card_hook("after_issue", card)

    def _m_produce(self, card):
        return self._card_hook("produce", card)

    def _m_verify(self, card):
        return self._card_hook("verify", card)

    def _m_complete_or_more(self, order, more):
        answer = _borrow(_BorrowedOrder, order, self._hooks["complete_or_more"])
        more[0] = 1 if answer else 0
        return 0

    def _m_progress(self, order, card_id, outcome):
        answer = _borrow(_BorrowedOrder, order, self._hooks["progress"], card_id,
                         _enum(OrderCardOutcome, outcome))
        return CANCEL if answer is False else 0

    def _repr_detail(self):
        return f"order={self._order.id}"


def run_production(station, actor, hooks=None):
    """Runs mass production on a station until the order is complete
    (idm_production_run).  hooks is a dict or an object with any of:

      ready(card) -> None/True/"" ready, or a str reason / False to skip
      before_issue(card), after_issue(card)    Digital ID only
      produce(card), verify(card)              before those steps
      complete_or_more(order) -> bool          True: more cards; default complete
      progress(order, card_id, outcome)        after each card

    A hook that raises (or returns False) cancels the run: the card in hand
    is let go (stays approved and pending), and the exception is re-raised
    here, chained from the idm.CancelledError of the run (or the
    CancelledError alone for False)."""
    station.run(actor, hooks)


# ---- external production -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """The outcome of one identity of External.order_batch()."""

    index: int
    identity_id: int
    card_id: int          # 0 when refused
    state: CardState      # None when refused
    error: errors.Error   # None when a card was ordered
    reason: str           # the library's detail message, or None

    @property
    def ok(self):
        """True when the identity got its card."""
        return self.error is None


class BatchResults(list):
    """The BatchResult of each identity, in order; .order is the batch Order."""

    order = None


class External(_Child):
    """The external production desk of a context (idm_external_t), with its
    Producer and Notifier (both optional), which it keeps alive."""

    __slots__ = ("_producer", "_notifier", "_key", "_trampoline", "_results")
    _release = staticmethod(lib.idm_external_free)
    _unregister = staticmethod(_callbacks.unregister)

    def __init__(self, ctx, producer=None, notifier=None):
        out = c_void_p()
        lib.idm_external_new(byref(out), ctx._handle(),
                             None if producer is None else producer._handle(),
                             None if notifier is None else notifier._handle())
        self._ptr = out
        self._parent = ctx
        ctx._add_child(self)
        self._producer = producer
        self._notifier = notifier
        for used in (producer, notifier):
            if used is not None:
                used._use()
        self._results = None
        self._key = _callbacks.register(self)
        self._trampoline = _callbacks.trampoline(ExternalResultFn, "_m_result", None)
        _callbacks.reraise()

    def _free(self, ptr):
        try:
            self._release(self._byref(ptr))
        finally:
            key, self._key = self._key, None
            self._unregister(key)
            self._trampoline = None
            for used in (self._producer, self._notifier):
                if used is not None:
                    used._unuse()

    @property
    def producer(self):
        """The Producer the desk sends to, or None."""
        return self._producer

    @property
    def notifier(self):
        """The Notifier the desk mails through, or None."""
        return self._notifier

    def _card(self, fn, *args):
        ctx = self._parent
        out = c_void_p()
        fn(self._handle(), *args, byref(out))
        card = Card._adopt(out, ctx) if out.value else None
        _callbacks.reraise()
        return card

    def order_card(self, actor, identity, type, option, production=Production.EXTERNAL):
        """Orders a card for one identity (an id or Identity); returns the
        Card (requested, processing, ordered, or failed when the bureau
        refused it).  A Python producer whose submit raised leaves the card
        failed with the exception's words, and the exception is raised here
        (the call itself succeeded)."""
        return self._card(lib.idm_external_order_card, _enc(actor), _id(identity), type,
                          option, production)

    def order_batch(self, actor, identities, type, option):
        """Orders cards for several identities in one order; returns a
        BatchResults list (one BatchResult per identity, .order the Order)."""
        ids = [_id(i) for i in identities]
        array = (ctypes.c_int64 * len(ids))(*ids)
        ctx = self._parent
        handle = self._handle()
        results = BatchResults()
        self._results = results
        out = c_void_p()
        try:
            lib.idm_external_order_batch(handle, _enc(actor), array, len(ids), type, option,
                                         self._trampoline, self._key, byref(out))
        finally:
            self._results = None
        results.order = Order._adopt(out, ctx) if out.value else None
        _callbacks.reraise()
        return results

    def _m_result(self, index, identity_id, result, card_id, state, reason):
        error = None
        text = _dec(reason)
        if result < 0:
            name = lib.idm_strerror_name(result).decode()
            error = errors.error_class(result)(result, name, text or "")
        self._results.append(BatchResult(index, identity_id, card_id,
                                          None if error else _enum(CardState, state),
                                          error, text))

    def approve(self, actor, card):
        """Approves a requested card (approval step); actor must not be the
        one who requested it.  The card is reloaded."""
        lib.idm_external_approve(self._handle(), _enc(actor), card._handle())

    def reject(self, actor, card, reason=None):
        """Rejects a requested card (final); actor must not be the requester."""
        lib.idm_external_reject(self._handle(), _enc(actor), card._handle(), _enc(reason))

    def abort(self, actor, card, reason=None):
        """Aborts a card waiting in the queue (processing -> aborted); a card
        whose message may be at the bureau is withdrawn from it first."""
        lib.idm_external_abort(self._handle(), _enc(actor), card._handle(), _enc(reason))

    def _counts(self, fn, *args):
        a = c_size_t()
        b = c_size_t()
        fn(self._handle(), *args, byref(a), byref(b))
        return a.value, b.value

    def sync_queue(self, actor, batch_size=100):
        """Sends the queued cards to the bureau; returns (sent, failed)."""
        return self._counts(lib.idm_external_sync_queue, _enc(actor), batch_size)

    def update(self, actor):
        """Applies the bureau's status reports; returns (applied, refused)."""
        return self._counts(lib.idm_external_update, _enc(actor))

    def flush_notifications(self, actor):
        """Delivers pending notifications; returns (sent, pending)."""
        return self._counts(lib.idm_external_flush_notifications, _enc(actor))

    def activate(self, actor, card, encoder, ca=None):
        """Encodes and activates a produced card."""
        lib.idm_external_activate(self._handle(), _enc(actor), card._handle(),
                                  encoder._handle(), None if ca is None else ca._handle())

    def order_temporary(self, actor, option, count, name):
        """Orders count temporary cards named "<name> <i>"; returns the Order."""
        ctx = self._parent
        out = c_void_p()
        lib.idm_external_order_temporary(self._handle(), _enc(actor), option, count,
                                         _enc(name), byref(out))
        order = Order._adopt(out, ctx) if out.value else None
        _callbacks.reraise()
        return order

    def initialize_temporary(self, actor, card, encoder, ca=None):
        """Encodes a produced temporary card (profile, keys and certificates
        for Digital ID with ca, PIN, PUK); it becomes unassigned."""
        lib.idm_external_initialize_temporary(self._handle(), _enc(actor), card._handle(),
                                              encoder._handle(),
                                              None if ca is None else ca._handle())

    def assign(self, actor, card, identity):
        """Lends an unassigned temporary card to an active identity (an id or
        Identity); its certificates become valid."""
        lib.idm_external_assign(self._handle(), _enc(actor), card._handle(), _id(identity))

    def withdraw(self, actor, card, reason=None):
        """Takes an assigned temporary card back: unassigned, certificates on
        hold."""
        lib.idm_external_withdraw(self._handle(), _enc(actor), card._handle(), _enc(reason))
