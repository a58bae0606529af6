"""Each error code becomes its idm.Error subclass, with the code, the name the
library gives it and the detail message of the call that failed."""

import builtins
import contextlib
import ctypes
import os
import pickle
import sqlite3
import tempfile
import unittest

import idm
from idm import _capi, errors
from idm.enums import CardOption, CardType, ErrorCode, IdentityState, OrderKind, Production

lib = idm._lib
byref = ctypes.byref
ACTOR = b"admin:python-test"

EXPECTED_CLASSES = {
    ErrorCode.INVALID_ARG: "InvalidArgumentError",
    ErrorCode.NO_MEMORY: "NoMemoryError",
    ErrorCode.STATE: "StateError",
    ErrorCode.NOT_FOUND: "NotFoundError",
    ErrorCode.EXISTS: "ExistsError",
    ErrorCode.CANCELLED: "CancelledError",
    ErrorCode.BACKEND: "BackendError",
    ErrorCode.STORE: "StoreError",
    ErrorCode.CRYPTO: "CryptoError",
    ErrorCode.CARD: "CardError",
    ErrorCode.IO: "IoError",
    ErrorCode.PARSE: "ParseError",
    ErrorCode.UNSUPPORTED: "UnsupportedError",
    ErrorCode.TIMEOUT: "IdmTimeoutError",
    ErrorCode.DISABLED: "DisabledError",
    ErrorCode.INTERNAL: "InternalError",
    ErrorCode.INTEGRITY: "IntegrityError",
}


class MappingTest(unittest.TestCase):
    def test_each_code_has_its_own_class(self):
        codes = [c for c in ErrorCode if c < 0]
        self.assertEqual(sorted(errors.ERROR_CLASSES), sorted(codes))
        self.assertEqual(sorted(EXPECTED_CLASSES), sorted(codes))
        for code in codes:
            cls = errors.ERROR_CLASSES[code]
            with self.subTest(code.name):
                self.assertEqual(cls.__name__, EXPECTED_CLASSES[code])
                self.assertIs(getattr(idm, cls.__name__), cls)
                self.assertTrue(issubclass(cls, idm.Error))
                self.assertEqual(cls.CODE, code)
                self.assertFalse(hasattr(builtins, cls.__name__),
                                 f"{cls.__name__} shadows a builtin")
                self.assertIs(errors.error_class(code), cls)
        self.assertEqual(len(set(errors.ERROR_CLASSES.values())), len(codes))

    def test_errcheck_raises_the_class_with_the_library_name(self):
        for code in (c for c in ErrorCode if c < 0):
            with self.subTest(code.name):
                with self.assertRaises(errors.ERROR_CLASSES[code]) as cm:
                    _capi.check(int(code), None, ())
                err = cm.exception
                self.assertEqual(err.code, code)
                self.assertEqual(err.name, idm.strerror_name(code))
                self.assertEqual(err.name, "IDM_ERR_" + code.name)
                self.assertEqual(err.message, lib.idm_last_error_message().decode())

    def test_success_and_unknown_codes(self):
        self.assertEqual(_capi.check(0, None, ()), 0)
        with self.assertRaises(idm.Error) as cm:
            _capi.check(-99, None, ())
        self.assertIs(type(cm.exception), idm.Error)
        self.assertEqual(cm.exception.name, "IDM_ERR_UNKNOWN")
        self.assertEqual(errors.error_class(-99), idm.Error)

    def test_errors_pickle_and_print(self):
        err = idm.NotFoundError(-4, "IDM_ERR_NOT_FOUND", "card 7 does not exist")
        self.assertEqual(str(err), "IDM_ERR_NOT_FOUND: card 7 does not exist")
        copy = pickle.loads(pickle.dumps(err))
        self.assertIs(type(copy), idm.NotFoundError)
        self.assertEqual((copy.code, copy.name, copy.message), (err.code, err.name, err.message))


class _Handles:
    """C handles freed in reverse order of creation."""

    def __init__(self, test):
        self.test = test

    def new(self, free_fn):
        handle = ctypes.c_void_p()
        self.test.addCleanup(self._free, free_fn, handle)
        return handle

    def _free(self, free_fn, handle):
        free_fn(byref(handle))
        self.test.assertIsNone(handle.value)


class FailingCallTest(unittest.TestCase):
    """Real calls that fail, one per error code the library can be made to return."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="idm-py-errors-")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.h = _Handles(self)
        self.keep = []  # ops tables (and the callbacks in them) outlive the handles
        self.ctx = self.h.new(lib.idm_ctx_free)
        lib.idm_ctx_new(byref(self.ctx))

    def open_store(self, ctx=None, name="store.db"):
        path = os.path.join(self.dir, name)
        lib.idm_ctx_open_store(ctx or self.ctx, path.encode())
        return path

    def new_identity(self, external_id=None):
        identity = self.h.new(lib.idm_identity_free)
        lib.idm_identity_new(self.ctx, ACTOR, external_id, byref(identity))
        return identity

    def assertFails(self, cls, call, *args):
        with self.assertRaises(cls) as cm:
            call(*args)
        err = cm.exception
        self.assertIs(type(err), cls)
        self.assertEqual(err.code, cls.CODE)
        self.assertEqual(err.name, idm.strerror_name(cls.CODE))
        self.assertIn(call.__name__, err.message, "the message names the function")
        return err.message

    def test_invalid_argument_names_the_argument(self):
        message = self.assertFails(idm.InvalidArgumentError, lib.idm_ctx_new, None)
        self.assertIn("'out'", message)

    def test_state_without_a_store(self):
        card = self.h.new(lib.idm_card_free)
        message = self.assertFails(idm.StateError, lib.idm_card_open, self.ctx, 1, byref(card))
        self.assertIn("no store is open", message)

    def test_not_found_names_the_card(self):
        self.open_store()
        card = self.h.new(lib.idm_card_free)
        message = self.assertFails(idm.NotFoundError, lib.idm_card_open, self.ctx, 4242,
                                   byref(card))
        self.assertIn("card 4242", message)
        self.assertIsNone(card.value)

    def test_exists_names_the_external_id(self):
        self.open_store()
        self.new_identity(b"E-1001")
        again = self.h.new(lib.idm_identity_free)
        message = self.assertFails(idm.ExistsError, lib.idm_identity_new, self.ctx, ACTOR,
                                   b"E-1001", byref(again))
        self.assertIn("'E-1001'", message)

    def test_disabled_names_the_option(self):
        self.open_store()
        identity = self.new_identity()
        identity_id = ctypes.c_int64()
        lib.idm_identity_get_id(identity, byref(identity_id))
        lib.idm_identity_set_state(identity, ACTOR, IdentityState.ACTIVE)
        desk = self.h.new(lib.idm_external_free)
        lib.idm_external_new(byref(desk), self.ctx, None, None)
        message = self.assertFails(idm.DisabledError, lib.idm_external_order_card, desk, ACTOR,
                                   identity_id, CardType.EMPLOYEE, CardOption.PHYSICAL,
                                   Production.EXTERNAL, None)
        self.assertIn("external_production_enabled", message)

    def test_io_names_the_file(self):
        self.open_store()
        path = os.path.join(self.dir, "missing", "people.csv")
        message = self.assertFails(idm.IoError, lib.idm_identity_import_csv, self.ctx, ACTOR,
                                   path.encode(), None, IdentityState.ACTIVE, None)
        self.assertIn(path, message)

    def test_parse_names_the_line(self):
        self.open_store()
        data = b'givenName,surname\n"Ada,Lovelace\n'
        imported = ctypes.c_size_t(99)
        message = self.assertFails(idm.ParseError, lib.idm_identity_import_csv_data, self.ctx,
                                   ACTOR, data, len(data), None, IdentityState.ACTIVE,
                                   byref(imported))
        self.assertIn("line 2", message)
        self.assertEqual(imported.value, 0)

    def test_store_names_the_file(self):
        path = os.path.join(self.dir, "not-a-store.db")
        with open(path, "wb") as f:
            f.write(b"this is not an SQLite database\n" * 64)
        message = self.assertFails(idm.StoreError, lib.idm_ctx_open_store, self.ctx,
                                   path.encode())
        self.assertIn(path, message)

    def test_integrity_names_the_event(self):
        path = self.open_store()
        self.new_identity(b"E-1")
        self.new_identity(b"E-2")
        first = ctypes.c_int64(-1)
        lib.idm_audit_verify(self.ctx, byref(first))
        self.assertEqual(first.value, 0)
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
        message = self.assertFails(idm.IntegrityError, lib.idm_audit_verify, self.ctx,
                                   byref(first))
        self.assertEqual(first.value, 2)
        self.assertIn("2", message)

    def test_crypto_from_a_failing_random_source(self):
        random = _capi.RandomFn(lambda buf, size, user_data: 1)
        self.keep.append(random)
        lib.idm_ctx_set_random(self.ctx, random, None)
        self.addCleanup(lib.idm_ctx_set_random, self.ctx, None, None)
        buf = ctypes.create_string_buffer(16)
        message = self.assertFails(idm.CryptoError, lib.idm_ctx_random_bytes, self.ctx, buf, 16)
        self.assertIn("random source", message)

    def _python_ca(self, crl=None, version=_capi.CA_OPS_VERSION):
        ops = _capi.CaOps.init()
        ops.version = version
        ops.issue = _capi.CaIssueFn(lambda request, certificate, user_data: 1)
        ops.revoke = _capi.CaRevokeFn(lambda serial, reason, time_ms, user_data: 1)
        if crl is not None:
            ops.crl = _capi.CaCrlFn(crl)
        self.keep.append(ops)
        return ops

    def test_unsupported_ops_version(self):
        ops = self._python_ca(version=99)
        ca = self.h.new(lib.idm_ca_free)
        message = self.assertFails(idm.UnsupportedError, lib.idm_ca_new, byref(ca), byref(ops),
                                   ctypes.sizeof(ops), None, None)
        self.assertIn("99", message)
        self.assertIsNone(ca.value)

    def test_backend_carries_the_backends_words(self):
        self.open_store()

        def crl(buffer, user_data):
            lib.idm_ca_backend_error(b"the Python CA has no CRL today")
            return 1

        ops = self._python_ca(crl)
        ca = self.h.new(lib.idm_ca_free)
        lib.idm_ca_new(byref(ca), byref(ops), ctypes.sizeof(ops), None, None)
        buffer = self.h.new(lib.idm_buffer_free)
        lib.idm_buffer_new(byref(buffer))
        message = self.assertFails(idm.BackendError, lib.idm_ca_generate_crl, ca, self.ctx, 24,
                                   buffer)
        self.assertIn("the Python CA has no CRL today", message)

    def test_cancelled_by_a_hook(self):
        self.open_store()
        order = self.h.new(lib.idm_order_free)
        lib.idm_order_new(self.ctx, ACTOR, OrderKind.MASS_PRODUCTION, CardType.EMPLOYEE,
                          CardOption.PHYSICAL, None, byref(order))
        ops = _capi.EncoderOps.init()
        for field, fn_type in _capi.EncoderOps._fields_[2:]:
            setattr(ops, field, fn_type(lambda *args: 0))
        self.keep.append(ops)
        encoder = self.h.new(lib.idm_encoder_free)
        lib.idm_encoder_new(byref(encoder), byref(ops), ctypes.sizeof(ops), None, None)
        station = self.h.new(lib.idm_station_free)
        lib.idm_station_open(byref(station), order, b"python-station", encoder, None)
        asked = []

        def complete_or_more(order, more, user_data):
            asked.append(more[0])
            return 1

        hooks = _capi.ProductionHooks.init()
        hooks.complete_or_more = _capi.HookCompleteOrMoreFn(complete_or_more)
        self.keep.append(hooks)
        message = self.assertFails(idm.CancelledError, lib.idm_production_run, station, ACTOR,
                                   byref(hooks), ctypes.sizeof(hooks), None)
        self.assertIn("complete_or_more", message)
        self.assertEqual(asked, [0])

    def test_a_backends_own_code_reaches_the_caller(self):
        # A producer's status method may fail with any idm_err code; the
        # caller sees it as is, with the producer's words.
        self.open_store()
        for cls in (idm.CardError, idm.IdmTimeoutError, idm.NoMemoryError, idm.InternalError):
            with self.subTest(cls.__name__):
                def status(message_ids, count, report, report_data, user_data, code=cls.CODE):
                    lib.idm_producer_backend_error(f"bureau says {code.name}".encode())
                    return code

                ops = _capi.ProducerOps.init()
                ops.submit = _capi.ProducerSubmitFn(lambda message_id, json, size, user_data: 0)
                ops.status = _capi.ProducerStatusFn(status)
                self.keep.append(ops)
                producer = self.h.new(lib.idm_producer_free)
                lib.idm_producer_new(byref(producer), byref(ops), ctypes.sizeof(ops), None, None)
                desk = self.h.new(lib.idm_external_free)
                lib.idm_external_new(byref(desk), self.ctx, producer, None)
                message = self.assertFails(cls, lib.idm_external_update, desk, ACTOR, None,
                                           None)
                self.assertIn(f"bureau says {cls.CODE.name}", message)


if __name__ == "__main__":
    unittest.main()
