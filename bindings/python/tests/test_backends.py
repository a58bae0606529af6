"""Backends written in Python (CA, Encoder, Producer, Notifier) and the
built-in ones, and the callback rules of idm._callbacks: kept alive while C
can call them, exceptions re-raised to the caller with their traceback."""

import ctypes
import gc
import os
import subprocess
import sys
import textwrap
import traceback
import unittest
import weakref

import idm
from idm import CardOption, CardState, KeyUsage, PivSlot

from pyidm_support import ACTOR, HAVE_OPENSSL, MemCard, OpensslCA, StoreTest


def frames(exc):
    return [f.name for f in traceback.extract_tb(exc.__traceback__)]


class PythonCATest(StoreTest):
    def setUp(self):
        if not HAVE_OPENSSL:
            self.skipTest("needs the openssl tool")
        super().setUp()
        self.impl = OpensslCA(self.dir)
        self.ca = idm.CA(self.ctx, self.impl)
        self.addCleanup(self.ca.close)
        self.mem = MemCard(self.dir)
        self.card = self.approved_card(self.person(1), CardOption.DIGITAL)

    def spki(self, slot=PivSlot.AUTHENTICATION):
        return self.mem.generate_key(slot, idm.CardKeyAlg.EC_P256)

    def test_issue_through_idm_card_issue_certificate(self):
        spki = self.spki()
        cert = self.ca.issue(self.card, ACTOR, KeyUsage.AUTHENTICATION, spki)
        self.assertIsInstance(cert, idm.Certificate)
        self.assertEqual(cert.card_id, self.card.id)
        self.assertIs(cert.usage, KeyUsage.AUTHENTICATION)
        request, = self.impl.requests
        self.assertIsInstance(request, idm.CertRequest)
        self.assertEqual(request.public_key, spki)
        self.assertEqual(request.subject, "CN=Ada Lovelace1")
        self.assertIs(request.usage, KeyUsage.AUTHENTICATION)
        self.assertIs(request.card_type, idm.CardType.EMPLOYEE)
        self.assertLess(request.not_before, request.not_after)
        self.assertTrue(request.idempotency_key.endswith("-a1-authentication"))
        self.assertEqual(cert.der, self.impl.issued[request.idempotency_key])
        # the same key again: the recorded certificate, the CA is not asked
        again = self.ca.issue(self.card, ACTOR, KeyUsage.AUTHENTICATION, spki)
        self.assertEqual(again.id, cert.id)
        self.assertEqual(len(self.impl.requests), 1)
        self.ca.revoke(again, ACTOR, idm.RevocationReason.KEY_COMPROMISE)
        self.assertEqual(self.impl.revoked,
                         [(cert.serial, idm.RevocationReason.KEY_COMPROMISE)])

    def test_an_exception_in_issue_fails_the_call_and_is_re_raised(self):
        self.impl.fail = LookupError("EJBCA: end entity not found")
        try:
            self.ca.issue(self.card, ACTOR, KeyUsage.AUTHENTICATION, self.spki())
        except LookupError as exc:
            self.assertIs(exc, self.impl.fail)
            cause = exc.__cause__
            self.assertIsInstance(cause, idm.BackendError)
            self.assertIn("LookupError: EJBCA: end entity not found", cause.message)
            self.assertEqual(frames(exc)[-1], "issue")  # raised in the CA
        else:
            self.fail("not re-raised")
        self.assertEqual(list(self.card.certificates()), [])
        events = [e.detail for e in self.ctx.audit(idm.ObjectType.CARD, self.card)]
        self.assertTrue(any("EJBCA: end entity not found" in (d or "") for d in events))

    def test_optional_methods_missing(self):
        cert = self.ca.issue(self.card, ACTOR, KeyUsage.AUTHENTICATION, self.spki())
        with self.assertRaises(idm.UnsupportedError):
            self.ca.generate_crl(self.ctx)
        with self.assertRaises(idm.UnsupportedError):
            self.ca.certificate
        self.assertIsNotNone(cert)

    def test_a_wrong_return_type_is_a_backend_failure(self):
        class Bad:
            def issue(self, request):
                return "not bytes"

            def revoke(self, serial, reason, time_ms):
                pass
        with idm.CA(Bad()) as ca:
            with self.assertRaises(TypeError) as caught:
                ca.issue(self.card, ACTOR, KeyUsage.AUTHENTICATION, self.spki())
        self.assertIsInstance(caught.exception.__cause__, idm.BackendError)


class BuiltinCATest(StoreTest):
    def test_openssl_ca_issues_and_exports(self):
        ca = idm.CA.openssl(self.ctx, idm.KeyType.EC_P256, "Test CA", 30)
        der = ca.certificate
        self.assertEqual(der[0], 0x30)
        pem = ca.export_key("a passphrase")
        self.assertIn("ENCRYPTED PRIVATE KEY", pem)
        self.assertIn("built-in", repr(ca))
        self.assertIsNone(ca.impl)
        # closing the context closes the CA it outlives
        self.ctx.close()
        self.assertTrue(ca.closed)

    @unittest.skipUnless(HAVE_OPENSSL, "needs the openssl tool")
    def test_from_pem_with_a_passphrase_callback(self):
        with idm.CA.openssl(self.ctx, idm.KeyType.EC_P256, "Test CA", 30) as ca:
            cert = ca.certificate
            key = ca.export_key("correct horse")
        from pyidm_support import openssl
        cert_pem = openssl("x509", "-inform", "DER", input=cert)
        with idm.CA.from_pem(self.ctx, cert_pem, key, passphrase=lambda: "correct horse") as ca:
            self.assertEqual(ca.certificate, cert)
        with self.assertRaises(idm.ParseError):
            idm.CA.from_pem(self.ctx, cert_pem, key, passphrase="wrong horse")

        def refuse():
            raise PermissionError("no passphrase for you")
        with self.assertRaises(PermissionError) as caught:
            idm.CA.from_pem(self.ctx, cert_pem, key, passphrase=refuse)
        self.assertIsInstance(caught.exception.__cause__, idm.ParseError)


class PythonEncoderTest(StoreTest):
    def setUp(self):
        super().setUp()
        self.mem = MemCard(self.dir)
        self.encoder = idm.Encoder(self.mem)
        self.addCleanup(self.encoder.close)
        self.delivered = []
        self.encoder.set_pin_callbacks(
            entry=lambda card: "123456",
            delivery=lambda card, pin, puk: self.delivered.append((card.id, pin, puk)))

    def test_personalize_a_physical_id_card(self):
        card = self.approved_card(self.person(1))
        self.encoder.personalize(card, ACTOR)
        card.refresh()
        self.assertIs(card.state, CardState.ISSUED)
        self.assertEqual(card.chip_serial, "PY-0000")
        self.assertEqual(self.mem.calls[0], "open")
        self.assertEqual(self.mem.calls[-1], "close:1")
        (card_id, pin, puk), = self.delivered
        self.assertEqual((card_id, pin), (card.id, None))  # the holder chose the PIN
        self.assertEqual(self.mem.pin, "123456")
        self.assertEqual(self.mem.puk, puk)
        self.assertEqual(self.encoder.stats[0], 0)  # no APDUs for a host encoder

    def test_an_idm_error_keeps_its_code(self):
        card = self.approved_card(self.person(1))
        self.mem.fail["verify_pin"] = idm.CardError("PIN blocked")
        with self.assertRaises(idm.CardError) as caught:
            self.encoder.personalize(card, ACTOR)
        self.assertIs(caught.exception, self.mem.fail["verify_pin"])
        cause = caught.exception.__cause__
        self.assertIsInstance(cause, idm.CardError)
        self.assertIn("PIN blocked", cause.message)
        card.refresh()
        self.assertIs(card.state, CardState.FAILED)

    def test_idm_errors_raised_by_python_code(self):
        err = idm.CardError("PIN blocked")
        self.assertEqual((err.code, err.name, err.message),
                         (idm.ErrorCode.CARD, "IDM_ERR_CARD", "PIN blocked"))
        self.assertEqual(str(err), "IDM_ERR_CARD: PIN blocked")
        self.assertEqual(idm._callbacks.failure_code(err), idm.ErrorCode.CARD)
        self.assertEqual(idm._callbacks.failure_code(RuntimeError()), 1)
        with self.assertRaises(TypeError):
            idm.Error("no code")

    def test_an_exception_in_a_method_fails_the_card(self):
        card = self.approved_card(self.person(1))
        self.mem.fail["write_object"] = OSError("ribbon empty")
        try:
            self.encoder.personalize(card, ACTOR)
        except OSError as exc:
            self.assertIsInstance(exc.__cause__, idm.BackendError)
            self.assertIn("OSError: ribbon empty", exc.__cause__.message)
            self.assertIn("_called", frames(exc))
        else:
            self.fail("not re-raised")
        card.refresh()
        self.assertIs(card.state, CardState.FAILED)
        self.assertEqual(self.mem.calls[-1], "close:0")

    def test_a_raising_pin_callback_cancels(self):
        card = self.approved_card(self.person(1))

        def deliver(card, pin, puk):
            self.assertIsInstance(card, idm.Card)
            self.assertEqual(card.state, CardState.APPROVED)
            raise KeyError("no PIN letter printer")
        self.encoder.set_pin_callbacks(entry=lambda card: "123456", delivery=deliver)
        with self.assertRaises(KeyError) as caught:
            self.encoder.personalize(card, ACTOR)
        self.assertIsInstance(caught.exception.__cause__, idm.CancelledError)

    def test_a_borrowed_card_is_unusable_after_the_callback(self):
        kept = []
        self.encoder.set_pin_callbacks(entry=lambda card: kept.append(card) or "123456",
                                       delivery=lambda card, pin, puk: None)
        card = self.approved_card(self.person(1))
        self.encoder.personalize(card, ACTOR)
        with self.assertRaisesRegex(ValueError, "closed"):
            kept[0].state

    def test_missing_required_method(self):
        class Half:
            def open(self, timeout_ms):
                pass
        before = len(idm._callbacks._owners)
        with self.assertRaises(idm.InvalidArgumentError) as caught:
            idm.Encoder(Half())
        self.assertIn("card_serial", caught.exception.message)
        self.assertEqual(len(idm._callbacks._owners), before)  # the key was given back

    def test_pcsc_setters_without_a_pcsc_stack(self):
        # constructing it does not connect; the setters only check arguments
        with idm.Encoder.pcsc(self.ctx, reader="Virtual PCD 00 00", factory_pin="123456",
                              factory_puk="12345678", timeout_ms=0,
                              management_key=(idm.MgmtKeyAlg.AES128, bytes(16))) as enc:
            with self.assertRaises(idm.InvalidArgumentError):
                enc.set_management_key(idm.MgmtKeyAlg.AES128, bytes(5))
            enc.set_pin_callbacks(delivery=lambda card, pin, puk: None)
            key = enc._key
            self.assertTrue(idm._callbacks.registered(key))
        self.assertFalse(idm._callbacks.registered(key))
        with self.assertRaises(idm.UnsupportedError):
            self.encoder.set_reader("x")


class AdoptedEncoderTest(StoreTest):
    """Encoder.adopt(): an encoder made by C code, as a host's C plug-in
    loaded with ctypes makes it (here the library's own PC/SC encoder,
    which connects to nothing until a card is personalized)."""

    def made_by_c(self):
        out = ctypes.c_void_p()
        idm._lib.idm_encoder_new_pcsc(ctypes.byref(out), self.ctx._handle())
        return out

    def test_adopted_encoder_is_usable_and_freed_on_close(self):
        out = self.made_by_c()
        encoder = idm.Encoder.adopt(out.value, context=self.ctx)
        self.assertIsNone(encoder.impl)
        self.assertIs(encoder.context, self.ctx)
        encoder.set_timeout(0)
        encoder.set_reader("Virtual PCD 00 00")
        encoder.set_pin_callbacks(delivery=lambda card, pin, puk: None)
        self.assertEqual(encoder.stats, (0, 0, 0))
        with self.assertRaises(idm.InvalidArgumentError):
            encoder.set_timeout(-1)  # the C function answers: it is a live encoder
        key = encoder._key
        self.assertTrue(idm._callbacks.registered(key))
        encoder.close()
        encoder.close()  # closing twice does nothing
        self.assertTrue(encoder.closed)
        self.assertFalse(idm._callbacks.registered(key))
        self.assertIsNotNone(out.value)  # the caller's variable is left alone
        with self.assertRaisesRegex(ValueError, "closed"):
            encoder.set_timeout(0)

    def test_adopt_takes_a_c_void_p(self):
        with idm.Encoder.adopt(self.made_by_c(), context=self.ctx) as encoder:
            encoder.set_timeout(1000)

    def test_closing_the_context_closes_an_adopted_encoder(self):
        encoder = idm.Encoder.adopt(self.made_by_c(), context=self.ctx)
        self.ctx.close()
        self.assertTrue(encoder.closed)

    def test_adopting_null_or_a_non_address_is_refused(self):
        for null in (None, 0, ctypes.c_void_p()):
            with self.assertRaisesRegex(ValueError, "NULL"):
                idm.Encoder.adopt(null)
        for wrong in ("0x1234", 1.5, True):
            with self.assertRaises(TypeError):
                idm.Encoder.adopt(wrong)


class LifetimeTest(StoreTest):
    def test_impl_and_trampolines_live_with_the_handle(self):
        impl = MemCard(self.dir)
        encoder = idm.Encoder(impl)
        key = encoder._key
        self.assertTrue(idm._callbacks.registered(key))
        alive = weakref.ref(impl)
        del impl
        gc.collect()
        self.assertIsNotNone(alive())
        self.assertIs(encoder.impl, alive())
        encoder.close()
        self.assertFalse(idm._callbacks.registered(key))
        self.assertIsNone(encoder._trampolines)
        del encoder
        gc.collect()
        self.assertIsNone(alive())

    def test_an_impl_referring_to_its_handle_is_collected(self):
        class Loop:
            def send(self, *args):
                pass
        impl = Loop()
        notifier = idm.Notifier(impl)
        impl.handle = notifier
        key = notifier._key
        alive = weakref.ref(notifier)
        del impl, notifier
        gc.collect()
        self.assertIsNone(alive())
        self.assertFalse(idm._callbacks.registered(key))

    def test_backends_and_workflows_left_at_interpreter_exit(self):
        script = textwrap.dedent(f"""
            import idm
            ctx = idm.Context({os.path.join(self.dir, "exit.db")!r})
            ctx.set_log_callback(lambda *args: None)
            ctx.set_option("admin:exit", "external_production_enabled", True)
            class Impl:
                def __getattr__(self, name):
                    return lambda *args: None
            encoder = idm.Encoder(Impl())
            encoder.set_pin_callbacks(delivery=lambda *args: None)
            order = ctx.create_order("admin:exit", idm.OrderKind.MASS_PRODUCTION,
                                     idm.CardType.EMPLOYEE, idm.CardOption.PHYSICAL)
            station = idm.Station(order, "exit", encoder)
            station.set_readiness(lambda card: None)
            desk = idm.External(ctx, idm.Producer(Impl()), idm.Notifier(Impl()))
            cycle = [ctx, encoder, station, desk, order]
            cycle.append(cycle)
            del ctx
        """)
        result = subprocess.run([sys.executable, "-X", "dev", "-W", "error", "-c", script],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual((result.returncode, result.stderr), (0, ""))

    def test_builtin_producer_and_notifier(self):
        os.mkdir(os.path.join(self.dir, "spool"))
        with idm.Producer.spool(os.path.join(self.dir, "spool")) as producer:
            self.assertIsNone(producer.impl)
        with self.assertRaises(idm.IoError):
            idm.Producer.spool(os.path.join(self.dir, "missing"))
        with idm.Notifier.maildir(os.path.join(self.dir, "mail"), "cards@example.org"):
            pass
        self.assertTrue(os.path.isdir(os.path.join(self.dir, "mail", "new")))
        with self.assertRaises(idm.InvalidArgumentError):
            idm.Notifier.maildir(os.path.join(self.dir, "mail"), "not an address")


if __name__ == "__main__":
    unittest.main()
