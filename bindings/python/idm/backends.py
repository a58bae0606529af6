"""The backends as classes: CA, Encoder, Producer, Notifier and Printer.

Each is an idm._handle.Handle (close(), with, guarded __del__) and comes in
two kinds: the library's built-in one (CA.openssl(), CA.from_pem(),
Encoder.pcsc(), Producer.spool(), Notifier.maildir(), Printer.cups(); an
encoder made by C code, Encoder.adopt(), is handled as one) and one written
in Python: CA(impl), Encoder(impl), Producer(impl), Notifier(impl),
Printer(impl), where impl is a plain object with the methods of the C ops
table (see each class).

A backend written in Python keeps impl and its ctypes trampolines alive as
long as its C handle; the C user data is an integer key (idm._callbacks).
A method that raises fails the C method: the exception's words go to the
matching *_backend_error() (so they reach the detail message and the audit
trail), the method returns a failure code (an idm.Error's own code, e.g.
idm.CardError from an encoder; else one the library reports as
IDM_ERR_BACKEND), and the exception is re-raised to the Python caller of the
library once the C call returns, chained from the idm.Error the call
produced (see idm._callbacks).

Certificates, keys and objects are bytes (DER); strings are str.
"""

import ctypes
import dataclasses
import os

from . import _callbacks
from ._capi import (CaCrlFn, CaHoldFn, CaIssueFn, CaOps, CaReleaseFn, CaRevokeFn,
                    EncoderCardSerialFn, EncoderCloseFn, EncoderGenerateKeyFn, EncoderOpenFn,
                    EncoderOps, EncoderReadObjectFn, EncoderSetPinFn, EncoderSignFn,
                    EncoderVerifyPinFn, EncoderWriteCertificateFn, EncoderWriteObjectFn,
                    NotifierOps, NotifierSendFn, PassphraseFn, PinDeliveryFn, PinEntryFn,
                    PrinterOps, PrinterPrintFn, ProducerCancelFn, ProducerOps, ProducerStatusFn,
                    ProducerSubmitFn, lib)
from ._handle import Handle
from .enums import (BureauStatus, CardKeyAlg, CardType, KeyType, KeyUsage, NotificationKind,
                    PivObject, PivSlot, RevocationReason)
from .model import Card, Certificate, Order, _Buffer, _dec, _enc, _enum

__all__ = ["CA", "CertRequest", "Encoder", "Producer", "Notifier", "Printer"]

byref = ctypes.byref
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
c_int = ctypes.c_int
c_int64 = ctypes.c_int64
c_size_t = ctypes.c_size_t
c_uint64 = ctypes.c_uint64

#: what a hook or PIN callback returns when it raised: non-zero, which the
#: library turns into IDM_ERR_CANCELLED
CANCEL = 1


# ---- helpers ---------------------------------------------------------------------------


def _bytes(value, what):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must return bytes, not {type(value).__name__}")


def _set_buffer(buffer, data):
    """Fills a C idm_buffer_t (an address) with bytes."""
    lib.idm_buffer_set(buffer, data, len(data))


def _write_text(buf, size, text, what):
    """Writes text NUL-terminated into a C char buffer of size bytes."""
    data = _enc(text)
    if len(data) + 1 > size:
        raise ValueError(f"{what} is longer than the {size - 1} bytes the library allows")
    ctypes.memmove(buf, data + b"\0", len(data) + 1)


def _out_bytes(fn, *args):
    with _Buffer() as buf:
        fn(*args, buf.ptr)
        return buf.bytes()


class _BorrowedCard(Card):
    """A card the library lends a callback for its duration: read-only, and
    closed (unusable) once the callback returns.  Open it with
    ctx.card(card.id) to keep it."""
    __slots__ = ()

    def _free(self, ptr):
        pass  # the library's


class _BorrowedOrder(Order):
    """An order lent to a hook for its duration (see _BorrowedCard)."""
    __slots__ = ()

    def _free(self, ptr):
        pass


def _borrow(cls, ptr, fn, *args):
    """Calls fn(view, *args) with a borrowed view of a C handle."""
    view = cls._adopt(c_void_p(ptr), None)
    try:
        return fn(view, *args)
    finally:
        view.close()


class _Backend(Handle):
    """A backend handle; a Python-written one registers itself under _key
    and keeps its impl and trampolines."""

    __slots__ = ("_impl", "_key", "_trampolines", "_extra")

    _unregister = staticmethod(_callbacks.unregister)
    #: (ops field, ctypes type, impl method, method of this class)
    _METHODS = ()
    _OPS = None
    _NEW = None
    _BACKEND_ERROR = None

    def _init_python(self, impl):
        self._ptr = None
        self._parent = None
        self._impl = impl
        self._extra = None
        self._key = _callbacks.register(self)
        ops = self._OPS.init()
        trampolines = []
        for field, cftype, name, method in self._METHODS:
            if getattr(impl, name, None) is None:
                continue  # the library names a missing required method
            fn = _callbacks.trampoline(cftype, method, _callbacks.failure_code,
                                       self._BACKEND_ERROR)
            setattr(ops, field, fn)
            trampolines.append(fn)
        self._trampolines = trampolines
        out = c_void_p()
        try:
            self._NEW(byref(out), byref(ops), ctypes.sizeof(ops), self._key, None)
        except BaseException:
            self._unregister(self._key)
            self._key = None
            self._trampolines = None
            raise
        self._ptr = out

    @classmethod
    def _builtin(cls, out, parent):
        self = cls._adopt(out, parent)
        self._impl = None
        self._key = None
        self._trampolines = None
        self._extra = None
        _callbacks.reraise()  # e.g. a log callback that raised while it was made
        return self

    def _free(self, ptr):
        try:
            self._release(self._byref(ptr))
        finally:
            # only once the C handle is gone: nothing can call them now
            key, self._key = self._key, None
            self._unregister(key)
            self._trampolines = None
            self._extra = None

    @property
    def impl(self):
        """The Python object behind a Python-written backend; None for a
        built-in one."""
        return self._impl

    def _repr_detail(self):
        return "built-in" if self._impl is None else f"impl={type(self._impl).__name__}"


# ---- CA --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CertRequest:
    """What the library asks a CA to certify (idm_cert_request_t, read
    when the request arrives)."""

    public_key: bytes      # DER SubjectPublicKeyInfo
    subject: str           # RFC 4514, most significant RDN last
    upn: str               # or None
    email: str             # or None
    card_type: CardType
    usage: KeyUsage
    not_before: int        # ms since the Unix epoch
    not_after: int
    idempotency_key: str   # "o<order>-c<card>-a<attempt>-<usage>"

    @classmethod
    def _read(cls, ptr):
        data = c_void_p()
        size = c_size_t()
        lib.idm_cert_request_get_public_key(ptr, byref(data), byref(size))
        spki = ctypes.string_at(data.value, size.value)
        subject = c_char_p()
        lib.idm_cert_request_get_subject(ptr, byref(subject))
        upn = c_char_p()
        email = c_char_p()
        lib.idm_cert_request_get_names(ptr, byref(upn), byref(email))
        card_type = c_int()
        usage = c_int()
        lib.idm_cert_request_get_profile(ptr, byref(card_type), byref(usage))
        before = c_int64()
        after = c_int64()
        lib.idm_cert_request_get_validity(ptr, byref(before), byref(after))
        key = c_char_p()
        lib.idm_cert_request_get_idempotency_key(ptr, byref(key))
        return cls(spki, _dec(subject.value), _dec(upn.value), _dec(email.value),
                   _enum(CardType, card_type.value), _enum(KeyUsage, usage.value),
                   before.value, after.value, _dec(key.value))


class _Passphrase:
    """The owner of a passphrase trampoline for one call."""

    def __init__(self, passphrase):
        self.passphrase = passphrase
        self.key = _callbacks.register(self)
        self.fn = _callbacks.trampoline(PassphraseFn, "supply", -1)

    def supply(self, buf, size):
        value = self.passphrase() if callable(self.passphrase) else self.passphrase
        data = _enc(value)
        if len(data) > size:
            raise ValueError("the passphrase is too long")
        ctypes.memmove(buf, data, len(data))
        return len(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _callbacks.unregister(self.key)


class CA(_Backend):
    """A certificate authority (idm_ca_t).

    CA.openssl(ctx, ...) and CA.from_pem(ctx, ...) are the built-in CA; CA(impl)
    (or CA(ctx, impl)) plugs in one written in Python, where impl has

      issue(request: CertRequest) -> bytes       the DER certificate (required)
      revoke(serial: str, reason: RevocationReason, time_ms: int)  (required)
      hold(serial, time_ms), release(serial), crl() -> bytes        (optional)

    as idm_ca_ops says.  The idempotency key of a request seen again must
    give the certificate issued the first time.
    """

    __slots__ = ()
    _release = staticmethod(lib.idm_ca_free)
    _OPS = CaOps
    _NEW = staticmethod(lib.idm_ca_new)
    _BACKEND_ERROR = staticmethod(lib.idm_ca_backend_error)
    _METHODS = (("issue", CaIssueFn, "issue", "_m_issue"),
                ("revoke", CaRevokeFn, "revoke", "_m_revoke"),
                ("hold", CaHoldFn, "hold", "_m_hold"),
                ("release", CaReleaseFn, "release", "_m_release"),
                ("crl", CaCrlFn, "crl", "_m_crl"))

    def __init__(self, ctx_or_impl, impl=None):
        if impl is None:
            impl = ctx_or_impl  # the context is optional: a host CA needs none
        self._init_python(impl)

    @classmethod
    def openssl(cls, ctx, key_type=KeyType.EC_P256, common_name="libidm CA",
                validity_days=3650):
        """A new self-signed built-in CA with a fresh key; ctx must outlive it
        (the CA is closed with the context)."""
        out = c_void_p()
        lib.idm_ca_new_openssl(byref(out), ctx._handle(), key_type, _enc(common_name),
                               validity_days)
        return cls._builtin(out, ctx)

    @classmethod
    def from_pem(cls, ctx, cert_pem, key_pem, passphrase=None):
        """The built-in CA from its certificate and key in PEM (str or
        bytes); passphrase (str, bytes, or a callable returning one) for an
        encrypted key."""
        cert = _enc(cert_pem)
        key = _enc(key_pem)
        out = c_void_p()
        if passphrase is None:
            lib.idm_ca_new_openssl_pem(byref(out), ctx._handle(), cert, len(cert), key,
                                       len(key), None, None)
        else:
            with _Passphrase(passphrase) as supplier:
                lib.idm_ca_new_openssl_pem(byref(out), ctx._handle(), cert, len(cert), key,
                                           len(key), supplier.fn, supplier.key)
        self = cls._builtin(out, ctx)
        _callbacks.reraise()
        return self

    # ---- the built-in CA ----

    @property
    def certificate(self):
        """The built-in CA's certificate, DER (UnsupportedError for a host CA)."""
        return _out_bytes(lib.idm_ca_get_certificate, self._handle())

    def export_key(self, passphrase):
        """The built-in CA's key as encrypted PKCS#8 PEM (str)."""
        handle = self._handle()
        with _Passphrase(passphrase) as supplier:
            pem = _out_bytes(lib.idm_ca_export_key, handle, supplier.fn, supplier.key)
        return pem.decode("ascii")

    # ---- issuing and revoking, recorded in the store ----

    def issue(self, card, actor, usage, spki, attempt=1):
        """Issues a certificate for a card's key (DER SubjectPublicKeyInfo)
        and records it (idm_card_issue_certificate); returns the Certificate."""
        spki = bytes(spki)
        out = c_void_p()
        lib.idm_card_issue_certificate(card._handle(), _enc(actor), self._handle(), usage,
                                       spki, len(spki), attempt, byref(out))
        cert = Certificate._adopt(out, card.context)
        _callbacks.reraise()
        return cert

    def revoke(self, cert, actor, reason=RevocationReason.UNSPECIFIED):
        """Revokes a certificate with this CA and records it."""
        lib.idm_cert_revoke(cert._handle(), _enc(actor), self._handle(), reason)

    def hold(self, cert, actor):
        """Puts a valid certificate on hold and records it."""
        lib.idm_cert_hold(cert._handle(), _enc(actor), self._handle())

    def release(self, cert, actor):
        """Releases a held certificate and records it."""
        lib.idm_cert_release(cert._handle(), _enc(actor), self._handle())

    def generate_crl(self, ctx, next_update_hours=24):
        """The current CRL, DER."""
        return _out_bytes(lib.idm_ca_generate_crl, self._handle(), ctx._handle(),
                          next_update_hours)

    # ---- trampoline methods of a Python CA ----

    def _m_issue(self, request, buffer):
        der = _bytes(self._impl.issue(CertRequest._read(request)), "issue()")
        _set_buffer(buffer, der)
        return 0

    def _m_revoke(self, serial, reason, time_ms):
        self._impl.revoke(_dec(serial), _enum(RevocationReason, reason), time_ms)
        return 0

    def _m_hold(self, serial, time_ms):
        self._impl.hold(_dec(serial), time_ms)
        return 0

    def _m_release(self, serial):
        self._impl.release(_dec(serial))
        return 0

    def _m_crl(self, buffer):
        _set_buffer(buffer, _bytes(self._impl.crl(), "crl()"))
        return 0


# ---- encoder ------------------------------------------------------------------------


class Encoder(_Backend):
    """A card encoder (idm_encoder_t).

    Encoder.pcsc(ctx, ...) is the built-in PC/SC encoder for PIV cards;
    Encoder.adopt(address) takes one made by C code (a host's C plug-in);
    Encoder(impl) plugs in one written in Python, where impl has (as
    idm_encoder_ops says; generate_key and sign only for Digital ID):

      open(timeout_ms)                      wait for a card, take it
      card_serial() -> str                  the chip serial
      generate_key(slot: PivSlot, alg: CardKeyAlg) -> bytes   DER SPKI
      write_certificate(slot, der: bytes)
      write_object(obj: PivObject, value: bytes)
      read_object(obj) -> bytes
      set_pin(pin: str, puk: str)
      verify_pin(pin: str)
      sign(slot, alg, data: bytes) -> bytes
      close(success: bool)

    Failures are exceptions: an idm.Error subclass keeps its code (e.g.
    raise idm.CardError("wrong PIN")); any other exception is
    IDM_ERR_BACKEND with the exception's words.

    PIN callbacks (set_pin_callbacks) receive the card being personalized
    as a read-only Card valid during the call.
    """

    __slots__ = ("_pin_entry", "_pin_delivery")
    _release = staticmethod(lib.idm_encoder_free)
    _OPS = EncoderOps
    _NEW = staticmethod(lib.idm_encoder_new)
    _BACKEND_ERROR = staticmethod(lib.idm_encoder_backend_error)
    _METHODS = (("open", EncoderOpenFn, "open", "_m_open"),
                ("card_serial", EncoderCardSerialFn, "card_serial", "_m_card_serial"),
                ("generate_key", EncoderGenerateKeyFn, "generate_key", "_m_generate_key"),
                ("write_certificate", EncoderWriteCertificateFn, "write_certificate",
                 "_m_write_certificate"),
                ("write_object", EncoderWriteObjectFn, "write_object", "_m_write_object"),
                ("read_object", EncoderReadObjectFn, "read_object", "_m_read_object"),
                ("set_pin", EncoderSetPinFn, "set_pin", "_m_set_pin"),
                ("verify_pin", EncoderVerifyPinFn, "verify_pin", "_m_verify_pin"),
                ("sign", EncoderSignFn, "sign", "_m_sign"),
                ("close", EncoderCloseFn, "close", "_m_close"))

    def __init__(self, impl):
        self._pin_entry = None
        self._pin_delivery = None
        self._init_python(impl)

    @classmethod
    def _builtin(cls, out, parent):
        self = super()._builtin(out, parent)
        self._pin_entry = None
        self._pin_delivery = None
        return self

    @classmethod
    def adopt(cls, address, context=None):
        """Takes ownership of an encoder (an idm_encoder_t *) made by C code,
        e.g. by a host's C plug-in loaded with ctypes that makes its encoder
        with idm_encoder_new().  address is the pointer as an int or a
        ctypes.c_void_p; None or 0 raises ValueError.

        The Encoder frees it (idm_encoder_free()) on close(), so the C code
        must not free it too, nor use it once it is closed.  context: the
        Context the C code made the encoder with, if any (as with
        idm_encoder_new_pcsc()): it is kept alive while the Encoder lives,
        and closing it closes the Encoder.  Everything else works as for a
        built-in encoder (set_pin_callbacks, stats, personalize, Station)."""
        if isinstance(address, c_void_p):
            address = address.value
        elif address is not None and (isinstance(address, bool) or
                                      not isinstance(address, int)):
            raise TypeError("the encoder's address must be an int or a ctypes.c_void_p, "
                            f"not {type(address).__name__}")
        if not address:
            raise ValueError("the encoder's address is NULL: no encoder to adopt")
        if context is not None:
            context._handle()
        return cls._builtin(c_void_p(address), context)

    @classmethod
    def pcsc(cls, ctx, reader=None, reader_index=None, card_serial=None,
             management_key=None, factory_pin=None, factory_puk=None, timeout_ms=None):
        """The built-in PC/SC encoder; the keyword arguments call the setters.
        management_key is (MgmtKeyAlg, bytes)."""
        out = c_void_p()
        lib.idm_encoder_new_pcsc(byref(out), ctx._handle())
        self = cls._builtin(out, ctx)
        try:
            if reader is not None:
                self.set_reader(reader)
            if reader_index is not None:
                self.set_reader_index(reader_index)
            if card_serial is not None:
                self.set_card_serial(card_serial)
            if management_key is not None:
                self.set_management_key(*management_key)
            if factory_pin is not None or factory_puk is not None:
                self.set_factory_secrets(factory_pin, factory_puk)
            if timeout_ms is not None:
                self.set_timeout(timeout_ms)
        except BaseException:
            self.close()
            raise
        return self

    @staticmethod
    def list_readers():
        """The names of the readers pcscd knows."""
        with _Buffer() as buf:
            count = c_size_t()
            lib.idm_encoder_pcsc_list_readers(buf.ptr, byref(count))
            names = buf.bytes()
        return [n.decode("utf-8", "replace") for n in names.split(b"\0")[:count.value]]

    @staticmethod
    def wait_card(reader, timeout_ms=0):
        """Waits for a card in a reader (IdmTimeoutError if none came)."""
        lib.idm_encoder_pcsc_wait_card(_enc(reader), timeout_ms)

    def set_reader(self, name):
        """PC/SC: use the reader with this exact name (see list_readers())."""
        lib.idm_encoder_pcsc_set_reader(self._handle(), _enc(name))

    def set_reader_index(self, index):
        """PC/SC: use the index'th reader of list_readers() (0 first), looked
        up when a personalization starts."""
        lib.idm_encoder_pcsc_set_reader_index(self._handle(), index)

    def set_card_serial(self, serial):
        """PC/SC: use whichever reader holds the card with this chip serial
        (as Card.chip_serial gives it)."""
        lib.idm_encoder_pcsc_set_card_serial(self._handle(), _enc(serial))

    def set_management_key(self, alg, key):
        """PC/SC: the management key the cards carry (MgmtKeyAlg, bytes of
        the algorithm's length).  Kept in memory only, wiped on close."""
        key = bytes(key)
        lib.idm_encoder_pcsc_set_management_key(self._handle(), alg, key, len(key))

    def set_factory_secrets(self, pin, puk):
        """PC/SC: the PIN (4..8 digits) and PUK (1..8 bytes) blank cards come
        with.  Kept in memory only, wiped on close."""
        lib.idm_encoder_pcsc_set_factory_secrets(self._handle(), _enc(pin), _enc(puk))

    def set_timeout(self, timeout_ms):
        """How long a personalization waits for a card (ms)."""
        lib.idm_encoder_set_timeout(self._handle(), timeout_ms)

    def set_pin_callbacks(self, entry=None, delivery=None):
        """entry(card) -> str supplies a PIN the cardholder chose (pin_source
        "user"); delivery(card, pin, puk) receives the generated secrets
        (pin is None when the cardholder chose it).  Either may be None.
        A callback that raises cancels the personalization
        (IDM_ERR_CANCELLED) and its exception is re-raised to the caller."""
        handle = self._handle()
        for fn in (entry, delivery):
            if fn is not None and not callable(fn):
                raise TypeError("PIN callbacks must be callable or None")
        if self._key is None:  # a built-in encoder gets a key on first use
            self._key = _callbacks.register(self)
        if self._extra is None:
            self._extra = (_callbacks.trampoline(PinEntryFn, "_m_pin_entry", CANCEL),
                           _callbacks.trampoline(PinDeliveryFn, "_m_pin_delivery", CANCEL))
        lib.idm_encoder_set_pin_callbacks(handle, self._extra[0] if entry else None,
                                          self._extra[1] if delivery else None, self._key)
        self._pin_entry = entry
        self._pin_delivery = delivery

    @property
    def stats(self):
        """(apdus, bytes, card_us) since creation or reset_stats()."""
        apdus = c_uint64()
        nbytes = c_uint64()
        card_us = c_uint64()
        lib.idm_encoder_get_stats(self._handle(), byref(apdus), byref(nbytes), byref(card_us))
        return apdus.value, nbytes.value, card_us.value

    def reset_stats(self):
        """Sets the statistics (see stats) back to zero."""
        lib.idm_encoder_reset_stats(self._handle())

    def personalize(self, card, actor, ca=None, attempt=1):
        """Personalizes and verifies the card in the encoder
        (idm_card_personalize); the card moves to issued."""
        lib.idm_card_personalize(card._handle(), _enc(actor), self._handle(),
                                 None if ca is None else ca._handle(), attempt)

    # ---- trampoline methods ----

    def _m_pin_entry(self, card, buf, size):
        pin = _borrow(_BorrowedCard, card, self._pin_entry)
        _write_text(buf, size, pin, "the PIN")
        return 0

    def _m_pin_delivery(self, card, pin, puk):
        _borrow(_BorrowedCard, card, self._pin_delivery, _dec(pin), _dec(puk))
        return 0

    def _m_open(self, timeout_ms):
        self._impl.open(timeout_ms)
        return 0

    def _m_card_serial(self, buf, size):
        _write_text(buf, size, self._impl.card_serial(), "the card serial")
        return 0

    def _m_generate_key(self, slot, alg, buffer):
        spki = self._impl.generate_key(_enum(PivSlot, slot), _enum(CardKeyAlg, alg))
        _set_buffer(buffer, _bytes(spki, "generate_key()"))
        return 0

    def _m_write_certificate(self, slot, der, size):
        self._impl.write_certificate(_enum(PivSlot, slot), ctypes.string_at(der, size))
        return 0

    def _m_write_object(self, obj, value, size):
        self._impl.write_object(_enum(PivObject, obj), ctypes.string_at(value, size))
        return 0

    def _m_read_object(self, obj, buffer):
        _set_buffer(buffer, _bytes(self._impl.read_object(_enum(PivObject, obj)),
                                   "read_object()"))
        return 0

    def _m_set_pin(self, pin, puk):
        self._impl.set_pin(_dec(pin), _dec(puk))
        return 0

    def _m_verify_pin(self, pin):
        self._impl.verify_pin(_dec(pin))
        return 0

    def _m_sign(self, slot, alg, data, size, buffer):
        signature = self._impl.sign(_enum(PivSlot, slot), _enum(CardKeyAlg, alg),
                                    ctypes.string_at(data, size))
        _set_buffer(buffer, _bytes(signature, "sign()"))
        return 0

    def _m_close(self, success):
        self._impl.close(bool(success))
        return 0


# ---- producer ----------------------------------------------------------------------


class Producer(_Backend):
    """A production bureau connection (idm_producer_t).

    Producer.spool(dir) is the built-in spool-directory producer;
    Producer(impl) plugs in one written in Python, where impl has

      submit(message_id: str, order_json: str)          required
      status(message_ids: list[str], report)            required; calls
          report(message_id, status: BureauStatus, chip_serial=None,
                 shipment=None, reason=None) -> int (0, or the negative code
          with which the library refused that report) once per report
      cancel(message_id)                                 optional
    """

    __slots__ = ()
    _release = staticmethod(lib.idm_producer_free)
    _OPS = ProducerOps
    _NEW = staticmethod(lib.idm_producer_new)
    _BACKEND_ERROR = staticmethod(lib.idm_producer_backend_error)
    _METHODS = (("submit", ProducerSubmitFn, "submit", "_m_submit"),
                ("status", ProducerStatusFn, "status", "_m_status"),
                ("cancel", ProducerCancelFn, "cancel", "_m_cancel"))

    def __init__(self, impl):
        self._init_python(impl)

    @classmethod
    def spool(cls, directory):
        """The spool-directory producer on an existing directory."""
        out = c_void_p()
        lib.idm_producer_new_spool(byref(out), os.fsencode(directory))
        return cls._builtin(out, None)

    def _m_submit(self, message_id, order_json, size):
        self._impl.submit(_dec(message_id), ctypes.string_at(order_json, size).decode("utf-8"))
        return 0

    def _m_status(self, message_ids, count, report, report_data):
        ids = [_dec(message_ids[i]) for i in range(count)]

        def report_one(message_id, status, chip_serial=None, shipment=None, reason=None):
            return report(_enc(message_id), int(BureauStatus(status)), _enc(chip_serial),
                          _enc(shipment), _enc(reason), report_data)

        self._impl.status(ids, report_one)
        return 0

    def _m_cancel(self, message_id):
        self._impl.cancel(_dec(message_id))
        return 0


# ---- notifier ----------------------------------------------------------------------


class Notifier(_Backend):
    """The e-mail channel of external production (idm_notifier_t).

    Notifier.maildir(dir, from_) is the built-in maildir notifier;
    Notifier(impl) plugs in one written in Python, where impl has

      send(message_id: str, kind: NotificationKind, to: str, subject: str, body: str)

    An exception leaves the notification pending for a retry; an
    idm.InvalidArgumentError marks it undeliverable.  Notifier failures
    never fail the workflow step, so the exception is re-raised to the
    caller after a call that succeeded.
    """

    __slots__ = ()
    _release = staticmethod(lib.idm_notifier_free)
    _OPS = NotifierOps
    _NEW = staticmethod(lib.idm_notifier_new)
    _BACKEND_ERROR = staticmethod(lib.idm_notifier_backend_error)
    _METHODS = (("send", NotifierSendFn, "send", "_m_send"),)

    def __init__(self, impl):
        self._init_python(impl)

    @classmethod
    def maildir(cls, directory, from_):
        """The maildir notifier (the maildir is created when missing)."""
        out = c_void_p()
        lib.idm_notifier_new_maildir(byref(out), os.fsencode(directory), _enc(from_))
        return cls._builtin(out, None)

    def _m_send(self, message_id, kind, to, subject, body):
        self._impl.send(_dec(message_id), _enum(NotificationKind, kind), _dec(to),
                        _dec(subject), _dec(body))
        return 0


# ---- printer -----------------------------------------------------------------------


class Printer(_Backend):
    """The card printer of Physical ID production (idm_printer_t): a
    Station with a printer (Station.set_printer()) prints each card's faces
    in its produce step, before the chip is written.

    Printer.cups(queue) is the built-in CUPS printer; Printer(impl) plugs in
    one written in Python (a card printer's SDK), where impl has

      print(job_name: str, pdf: bytes)    required

    job_name ("idm-<store>-c<card>-a<attempt>", at most 128 characters of
    [A-Za-z0-9._-]) tells a repeat after a crash from a new card; pdf has
    one page per face, front first, at card size.  print() returns once the
    card is printed.  An exception fails the print, and with it the card
    (the order is aborted): the exception's words reach the library's
    message and the audit trail (idm_printer_backend_error()), an idm.Error
    keeps its code, and the exception is re-raised to the caller of the
    production step.
    """

    __slots__ = ()
    _release = staticmethod(lib.idm_printer_free)
    _OPS = PrinterOps
    _NEW = staticmethod(lib.idm_printer_new)
    _BACKEND_ERROR = staticmethod(lib.idm_printer_backend_error)
    _METHODS = (("print", PrinterPrintFn, "print", "_m_print"),)

    def __init__(self, impl):
        self._init_python(impl)

    @classmethod
    def cups(cls, queue, server=None, timeout_ms=120_000):
        """The built-in CUPS printer: each card is one PDF job on the CUPS
        queue (1..127 printable ASCII characters without '/', '#' or
        blanks), followed until it is done.  server is "host",
        "host:port" or a domain socket path (None: the default CUPS
        server); timeout_ms (1,000 .. 3,600,000) is how long one job may
        take.  The server is first contacted by the first print."""
        if isinstance(server, os.PathLike):
            server = os.fsencode(server)
        out = c_void_p()
        lib.idm_printer_new_cups(byref(out), _enc(queue), _enc(server), timeout_ms)
        return cls._builtin(out, None)

    def _m_print(self, job_name, pdf, size):
        self._impl.print(_dec(job_name), ctypes.string_at(pdf, size))
        return 0
