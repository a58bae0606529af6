"""The Pythonic classes of idm.model: Context, Identity, Card, Certificate,
Order and AuditEvent, their iterators, and the handle rules of idm._handle
(close, with, __del__, children keep their context alive)."""

import contextlib
import copy
import dataclasses
import gc
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import traceback
import unittest
import weakref
from unittest import mock

import idm
from idm import (CardOption, CardState, CardType, CertState, IdentityState, KeyUsage, LogLevel,
                 ObjectType, OrderCardOutcome, OrderKind, OrderState, Production)

ACTOR = "admin:python-model"
EMPLOYEE = (CardType.EMPLOYEE, CardOption.PHYSICAL, Production.LOCAL)


class StoreTest(unittest.TestCase):
    """A fresh store in a temporary directory for every test."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.path = os.path.join(self.tmp.name, "idm.db")
        self.ctx = idm.Context(self.path)
        self.addCleanup(self.ctx.close)

    def person(self, external_id=None, given="Ada", surname="Lovelace"):
        identity = self.ctx.create_identity(ACTOR, external_id)
        identity.set_attribute(ACTOR, "givenName", given)
        identity.set_attribute(ACTOR, "surname", surname)
        return identity

    def approved_card(self, identity):
        card = self.ctx.create_card(ACTOR, *EMPLOYEE, identity_id=identity)
        card.set_state(ACTOR, CardState.REQUESTED)
        card.set_state(ACTOR, CardState.APPROVED)
        return card


class ContextTest(StoreTest):
    def test_open_store_later_and_twice(self):
        with idm.Context() as ctx:
            ctx.open_store(os.path.join(self.tmp.name, "other.db"))
            with self.assertRaises(idm.StateError):
                ctx.open_store(":memory:")
        self.assertTrue(ctx.closed)

    def test_a_bad_store_path_closes_the_new_context(self):
        with self.assertRaises(idm.StoreError):
            idm.Context(os.path.join(self.tmp.name, "no", "such", "dir", "idm.db"))

    def test_now_and_random_bytes(self):
        self.assertGreater(self.ctx.now(), 1_600_000_000_000)
        data = self.ctx.random_bytes(32)
        self.assertIsInstance(data, bytes)
        self.assertEqual(len(data), 32)
        self.assertNotEqual(data, self.ctx.random_bytes(32))
        self.assertEqual(self.ctx.random_bytes(0), b"")
        with self.assertRaises(ValueError):
            self.ctx.random_bytes(-1)

    def test_log_level_and_callback(self):
        self.assertIs(self.ctx.log_level, LogLevel.INFO)
        messages = []
        self.ctx.set_log_callback(lambda *args: messages.append(args))
        self.ctx.log_level = LogLevel.DEBUG
        self.assertIs(self.ctx.log_level, LogLevel.DEBUG)
        self.ctx.create_card(ACTOR, CardType.NON_PERSONAL, CardOption.PHYSICAL,
                             Production.LOCAL, name="Room 1").close()
        self.assertTrue(messages)
        level, component, message = messages[-1]
        self.assertIsInstance(level, LogLevel)
        self.assertIsInstance(component, str)
        self.assertIsInstance(message, str)
        self.assertTrue(idm._callbacks.registered(self.ctx._log_key))
        count = len(messages)
        self.ctx.set_log_callback(None)
        self.ctx.create_card(ACTOR, CardType.NON_PERSONAL, CardOption.PHYSICAL,
                             Production.LOCAL, name="Room 2").close()
        self.assertEqual(len(messages), count)
        with self.assertRaises(idm.InvalidArgumentError):
            self.ctx.log_level = 99
        with self.assertRaises(TypeError):
            self.ctx.set_log_callback(42)

    def test_an_exception_in_the_log_callback_is_raised_after_the_call(self):
        def callback(level, component, message):
            raise RuntimeError("boom")
        self.ctx.set_log_callback(callback)
        try:
            self.ctx.create_card(ACTOR, CardType.NON_PERSONAL, CardOption.PHYSICAL,
                                 Production.LOCAL, name="Room 1")
        except RuntimeError as exc:
            self.assertIsNone(exc.__cause__)  # the call itself succeeded
            # the traceback reaches into the callback
            self.assertEqual(traceback.extract_tb(exc.__traceback__)[-1].name, "callback")
        else:
            self.fail("the exception was not re-raised")
        self.ctx.set_log_callback(None)
        cards = list(self.ctx.cards())
        self.assertEqual([c.name for c in cards], ["Room 1"])  # the card was made

    def test_an_exception_in_the_log_callback_while_freeing_is_unraisable(self):
        ctx = idm.Context(":memory:")
        ctx.log_level = LogLevel.DEBUG

        def callback(level, component, message):
            raise RuntimeError("late")
        card = ctx.create_card(ACTOR, CardType.NON_PERSONAL, CardOption.PHYSICAL,
                               Production.LOCAL, name="Room 1")
        ctx.set_log_callback(callback)
        with mock.patch.object(sys, "unraisablehook") as hook:
            card.close()
            ctx.close()
        for call in hook.call_args_list:
            self.assertIsInstance(call[0][0].exc_value, RuntimeError)
        self.assertFalse(idm._callbacks.has_pending())

    def test_close_forgets_the_log_callback(self):
        ctx = idm.Context(":memory:")
        ctx.set_log_callback(print)
        key = ctx._log_key
        ctx.close()
        self.assertFalse(idm._callbacks.registered(key))

    def test_a_callback_referring_to_its_context_is_collected(self):
        ctx = idm.Context(":memory:")
        ctx.set_log_callback(lambda *args, ctx=ctx: None)
        key = ctx._log_key
        alive = weakref.ref(ctx)
        del ctx
        gc.collect()
        self.assertIsNone(alive())
        self.assertFalse(idm._callbacks.registered(key))


class OptionsTest(StoreTest):
    def test_typed_get(self):
        options = self.ctx.options
        self.assertIs(options["request_approval"], True)
        self.assertIs(options["queue_orders"], False)
        self.assertEqual(options["pin_length"], 6)
        self.assertIs(type(options["pin_length"]), int)
        self.assertEqual(options["pin_source"], "user")
        self.assertEqual(options.type("pin_delivery"), idm.OptionType.STRING)
        self.assertIn("card_key_slots", options)
        self.assertEqual(len(options), len(list(options)))
        self.assertEqual(dict(options)["cert_validity_days"], 1095)
        with self.assertRaises(KeyError):
            options["no_such_option"]

    def test_set_and_reset(self):
        self.assertEqual(self.ctx.options_version, 0)
        self.ctx.set_option(ACTOR, "queue_orders", True)
        self.ctx.set_option(ACTOR, "pin_length", 4)
        self.ctx.set_option(ACTOR, "pin_delivery", "email")
        self.assertIs(self.ctx.options["queue_orders"], True)
        self.assertEqual(self.ctx.options["pin_length"], 4)
        self.assertEqual(self.ctx.options["pin_delivery"], "email")
        self.assertEqual(self.ctx.options_version, 3)
        self.ctx.reset_option(ACTOR, "pin_length")
        self.assertEqual(self.ctx.options["pin_length"], 6)

    def test_bad_values(self):
        with self.assertRaises(idm.InvalidArgumentError) as caught:
            self.ctx.set_option(ACTOR, "pin_length", 5)
        self.assertIn("pin_length", caught.exception.message)
        with self.assertRaises(TypeError):
            self.ctx.set_option(ACTOR, "pin_length", "4")
        with self.assertRaises(TypeError):
            self.ctx.set_option(ACTOR, "pin_length", True)
        with self.assertRaises(TypeError):
            self.ctx.set_option(ACTOR, "pin_source", 1)
        with self.assertRaises(KeyError):
            self.ctx.set_option(ACTOR, "no_such_option", 1)
        with self.assertRaises(KeyError):
            self.ctx.reset_option(ACTOR, "no_such_option")


class IdentityTest(StoreTest):
    def test_create_and_load(self):
        identity = self.person("emp-1")
        self.assertGreater(identity.id, 0)
        self.assertEqual(identity.external_id, "emp-1")
        self.assertIs(identity.state, IdentityState.REGISTERED)
        self.assertEqual(identity.common_name, "Ada Lovelace")
        self.assertIsNone(identity.upn)
        self.assertIs(identity.context, self.ctx)
        with self.ctx.identity(identity.id) as again:
            self.assertEqual(again.external_id, "emp-1")
        with self.ctx.identity_by_external_id("emp-1") as again:
            self.assertEqual(again.id, identity.id)
        anonymous = self.ctx.create_identity(ACTOR)
        self.assertIsNone(anonymous.external_id)
        self.assertIsNone(anonymous.common_name)
        with self.assertRaises(idm.NotFoundError):
            self.ctx.identity(9999)
        with self.assertRaises(idm.NotFoundError):
            self.ctx.identity_by_external_id("nobody")
        with self.assertRaises(idm.ExistsError):
            self.ctx.create_identity(ACTOR, "emp-1")

    def test_attributes(self):
        identity = self.person()
        identity.set_attribute(ACTOR, "mail", "ada@example.org")
        identity.set_attribute(ACTOR, "city", "Zürich")
        attributes = identity.attributes
        self.assertEqual(attributes["city"], "Zürich")
        self.assertEqual(attributes.get("missing", "-"), "-")
        self.assertNotIn("missing", attributes)
        self.assertEqual(len(attributes), 4)
        self.assertEqual(list(attributes), ["city", "givenName", "mail", "surname"])
        self.assertEqual(attributes.items(), [("city", "Zürich"), ("givenName", "Ada"),
                                              ("mail", "ada@example.org"),
                                              ("surname", "Lovelace")])
        identity.set_attribute(ACTOR, "mail", None)
        self.assertNotIn("mail", attributes)  # the view is live
        with self.assertRaises(KeyError):
            attributes["mail"]
        with self.assertRaises(idm.InvalidArgumentError):
            identity.set_attribute(ACTOR, "not a key", "x")
        identity.set_common_name(ACTOR, "Countess")
        identity.set_upn(ACTOR, "ada@corp.example")
        self.assertEqual(identity.common_name, "Countess")
        self.assertEqual(identity.upn, "ada@corp.example")

    def test_state_moves_and_refresh(self):
        identity = self.person()
        with self.ctx.identity(identity.id) as other:
            identity.set_state(ACTOR, IdentityState.ACTIVE)
            self.assertIs(identity.state, IdentityState.ACTIVE)
            self.assertIs(other.state, IdentityState.REGISTERED)
            other.refresh()
            self.assertIs(other.state, IdentityState.ACTIVE)
        with self.assertRaises(idm.StateError) as caught:
            identity.set_state(ACTOR, IdentityState.REGISTERED)
        self.assertIn("'active'", caught.exception.message)
        self.assertIn("'registered'", caught.exception.message)

    def test_iteration(self):
        first = self.person("a")
        self.person("b").set_state(ACTOR, IdentityState.ACTIVE)
        self.person("c")
        self.assertEqual([i.external_id for i in self.ctx.identities()], ["a", "b", "c"])
        self.assertEqual([i.external_id for i in self.ctx.identities(IdentityState.ACTIVE)],
                         ["b"])
        self.assertEqual([i.external_id for i in self.ctx.identities(IdentityState.TERMINATED)],
                         [])
        it = self.ctx.identities()
        self.assertEqual(next(it).id, first.id)
        it.close()
        self.assertTrue(it.closed)
        self.assertEqual(list(it), [])
        with self.ctx.identities() as it:
            next(it)
        self.assertTrue(it.closed)

    def test_exhausted_iterator_frees_its_c_iterator(self):
        self.person("a")
        it = self.ctx.identities()
        self.assertEqual(len(list(it)), 1)
        self.assertTrue(it.closed)

    def test_import_csv_text_and_file(self):
        text = "employeeNumber,givenName,surname\n1,Grace,Hopper\n2,\"Alan\",Turing\n"
        self.assertEqual(self.ctx.import_csv(ACTOR, text, id_column="employeeNumber",
                                             initial_state=IdentityState.ACTIVE), 2)
        with self.ctx.identity_by_external_id("2") as alan:
            self.assertEqual(alan.common_name, "Alan Turing")
            self.assertIs(alan.state, IdentityState.ACTIVE)
        path = os.path.join(self.tmp.name, "people.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("givenName,surname\nEmmy,Noether\n")
        self.assertEqual(self.ctx.import_csv(ACTOR, path), 1)
        self.assertEqual(self.ctx.import_csv(ACTOR, b"givenName\nKurt\n"), 1)
        self.assertEqual(len(list(self.ctx.identities())), 4)
        with self.assertRaises(idm.IoError):
            self.ctx.import_csv(ACTOR, os.path.join(self.tmp.name, "missing.csv"))

    def test_import_csv_bad_line(self):
        text = "givenName,surname\nGrace,Hopper\nAlan,Turing,extra\n"
        with self.assertRaises(idm.ParseError) as caught:
            self.ctx.import_csv(ACTOR, text)
        self.assertIn("line 3", caught.exception.message)
        self.assertEqual(list(self.ctx.identities()), [])  # all or none


class CardTest(StoreTest):
    def test_create_load_and_properties(self):
        ada = self.person()
        card = self.ctx.create_card(ACTOR, *EMPLOYEE, identity_id=ada)
        self.assertIs(card.type, CardType.EMPLOYEE)
        self.assertIs(card.option, CardOption.PHYSICAL)
        self.assertIs(card.production, Production.LOCAL)
        self.assertIs(card.state, CardState.REGISTERED)
        self.assertEqual(card.identity_id, ada.id)
        self.assertIsNone(card.name)
        self.assertIsNone(card.chip_serial)
        self.assertEqual(card.order_id, 0)
        self.assertIsNone(card.shipment)
        self.assertIsInstance(card.number, str)
        with card.identity() as holder:
            self.assertEqual(holder.id, ada.id)
        with self.ctx.card(card.id) as again:
            self.assertEqual(again.number, card.number)
        with self.ctx.card_by_number(card.number) as again:
            self.assertEqual(again.id, card.id)
        room = self.ctx.create_card(ACTOR, CardType.NON_PERSONAL, CardOption.DIGITAL,
                                    Production.LOCAL, name="Lab 3")
        self.assertEqual(room.name, "Lab 3")
        self.assertEqual(room.identity_id, 0)
        self.assertIsNone(room.identity())
        with self.assertRaises(idm.InvalidArgumentError):
            self.ctx.create_card(ACTOR, *EMPLOYEE)  # a personal card needs a holder
        with self.assertRaises(idm.NotFoundError):
            self.ctx.card_by_number("nope")

    def test_state_moves(self):
        card = self.approved_card(self.person())
        self.assertIs(card.state, CardState.APPROVED)
        card.set_state(ACTOR, CardState.ISSUED, detail="printed")
        with self.assertRaises(idm.StateError) as caught:
            card.set_state(ACTOR, CardState.REQUESTED)
        self.assertIn("'issued'", caught.exception.message)
        self.assertIn("'requested'", caught.exception.message)
        events = list(self.ctx.audit(ObjectType.CARD, card))
        self.assertEqual([(e.from_state, e.to_state) for e in events],
                         [(None, "registered"), ("registered", "requested"),
                          ("requested", "approved"), ("approved", "issued")])
        self.assertIn("printed", events[-1].detail)

    def test_chip_serial(self):
        card = self.approved_card(self.person())
        card.set_chip_serial(ACTOR, "04A1B2C3")
        self.assertEqual(card.chip_serial, "04A1B2C3")
        with self.assertRaises(idm.StateError):
            card.set_chip_serial(ACTOR, "FFFF")

    def test_iteration_filters(self):
        ada, alan = self.person("ada"), self.person("alan")
        a1 = self.approved_card(ada)
        self.ctx.create_card(ACTOR, *EMPLOYEE, identity_id=ada)
        self.ctx.create_card(ACTOR, CardType.CONTRACTOR, CardOption.PHYSICAL,
                             Production.LOCAL, identity_id=alan)
        self.assertEqual(len(list(self.ctx.cards())), 3)
        self.assertEqual([c.id for c in self.ctx.cards(state=CardState.APPROVED)], [a1.id])
        self.assertEqual(len(list(self.ctx.cards(type=CardType.CONTRACTOR))), 1)
        self.assertEqual(len(list(self.ctx.cards(identity_id=ada))), 2)
        self.assertEqual(len(list(ada.cards(type=CardType.EMPLOYEE,
                                            state=CardState.REGISTERED))), 1)
        with self.assertRaises(ValueError):
            self.ctx.cards(outcome=OrderCardOutcome.PENDING)


def _self_signed_der(directory, name):
    """A throw-away self-signed certificate, DER, made by the openssl tool."""
    der = os.path.join(directory, name + ".der")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", os.path.join(directory, name + ".key"),
                    "-subj", "/CN=" + name, "-days", "2", "-outform", "DER", "-out", der],
                   check=True, capture_output=True)
    with open(der, "rb") as f:
        return f.read()


@unittest.skipUnless(shutil.which("openssl"), "needs the openssl tool")
class CertificateTest(StoreTest):
    def test_add_load_and_iterate(self):
        card = self.approved_card(self.person())
        ders = [_self_signed_der(self.tmp.name, f"c{i}") for i in range(2)]
        with card.add_certificate(ACTOR, ders[0]) as cert:
            self.assertEqual(cert.der, ders[0])
            self.assertEqual(cert.card_id, card.id)
            self.assertIs(cert.usage, KeyUsage.AUTHENTICATION)
            self.assertIs(cert.state, CertState.ON_HOLD)  # the card is not active yet
            before, after = cert.validity
            self.assertEqual((cert.not_before, cert.not_after), (before, after))
            self.assertEqual(after - before, 2 * 86_400_000)
            self.assertRegex(cert.serial, "^([0-9A-F]{2})+$")
            with self.ctx.certificate(cert.id) as again:
                self.assertEqual(again.serial, cert.serial)
            with self.ctx.certificate(cert.serial) as again:
                self.assertEqual(again.id, cert.id)
        card.add_certificate(ACTOR, bytearray(ders[1])).close()
        self.assertEqual([c.der for c in self.ctx.certificates(card)], ders)
        self.assertEqual([c.der for c in card.certificates()], ders)
        with self.assertRaises(idm.ExistsError):
            card.add_certificate(ACTOR, ders[0])
        with self.assertRaises(idm.ParseError):
            card.add_certificate(ACTOR, b"not a certificate")
        with self.assertRaises(idm.NotFoundError):
            self.ctx.certificate("00")

    def test_state_follows_the_card(self):
        card = self.approved_card(self.person())
        cert = card.add_certificate(ACTOR, _self_signed_der(self.tmp.name, "held"))
        card.set_state(ACTOR, CardState.ISSUED)
        card.set_state(ACTOR, CardState.ACTIVE)
        with self.ctx.certificate(cert.id) as again:
            self.assertIs(again.state, CertState.VALID)
            self.assertIsNone(again.revocation)
        card.set_state(ACTOR, CardState.INACTIVE)
        with self.ctx.certificate(cert.id) as again:
            self.assertIs(again.state, CertState.ON_HOLD)
            reason, when = again.revocation
            self.assertIs(reason, idm.RevocationReason.CERTIFICATE_HOLD)
            self.assertGreaterEqual(when, again.not_before)
        self.assertIs(cert.state, CertState.ON_HOLD)  # a snapshot from before


class OrderTest(StoreTest):
    def new_order(self, external_id=None):
        return self.ctx.create_order(ACTOR, OrderKind.MASS_PRODUCTION, CardType.EMPLOYEE,
                                     CardOption.PHYSICAL, external_id)

    def test_create_and_load(self):
        self.ctx.set_option(ACTOR, "pin_length", 4)
        order = self.new_order("batch-1")
        self.ctx.set_option(ACTOR, "pin_length", 6)
        self.assertIs(order.kind, OrderKind.MASS_PRODUCTION)
        self.assertIs(order.card_type, CardType.EMPLOYEE)
        self.assertIs(order.card_option, CardOption.PHYSICAL)
        self.assertIs(order.state, OrderState.OPEN)
        self.assertEqual(order.external_id, "batch-1")
        self.assertEqual(order.options_version, 1)
        self.assertEqual(order.option("pin_length"), 4)  # the snapshot
        self.assertIs(order.option("request_approval"), True)
        self.assertEqual(order.option("pin_source"), "user")
        with self.ctx.order(order.id) as again:
            self.assertEqual(again.external_id, "batch-1")
        with self.ctx.order_by_external_id("batch-1") as again:
            self.assertEqual(again.id, order.id)
        with self.assertRaises(idm.NotFoundError):
            self.ctx.order(999)

    def test_cards_outcomes_and_states(self):
        people = [self.person(f"p{i}") for i in range(4)]
        cards = [self.approved_card(p) for p in people]
        order = self.new_order()
        order.add_card(ACTOR, cards[0])
        order.add_cards(ACTOR, [cards[1].id, cards[2]])
        self.assertEqual(order.add_approved(ACTOR), 1)
        self.assertEqual(order.add_approved(ACTOR), 0)
        self.assertEqual(order.count_cards(OrderCardOutcome.PENDING), 4)
        self.assertEqual(order.count_cards(OrderCardOutcome.PRODUCED), 0)
        self.assertEqual(order.card_outcome(cards[3]), (OrderCardOutcome.PENDING, 0, ""))
        self.assertEqual([c.id for c in order.cards()], [c.id for c in cards])
        self.assertEqual(len(list(order.cards(OrderCardOutcome.PENDING))), 4)
        with self.ctx.card(cards[0].id) as again:
            self.assertEqual(again.order_id, order.id)
        with self.assertRaises(idm.NotFoundError):
            order.card_outcome(999)
        order.set_state(ACTOR, OrderState.RUNNING)
        order.set_state(ACTOR, OrderState.ABORTED, detail="test")
        with self.assertRaises(idm.StateError) as caught:
            order.set_state(ACTOR, OrderState.OPEN)
        self.assertIn("'aborted'", caught.exception.message)
        with self.assertRaises(idm.StateError):
            order.add_card(ACTOR, cards[0])

    def test_iteration(self):
        first = self.new_order()
        second = self.ctx.create_order(ACTOR, OrderKind.MASS_PRODUCTION, CardType.VISITOR,
                                       CardOption.DIGITAL)
        second.set_state(ACTOR, OrderState.RUNNING)
        self.assertEqual([o.id for o in self.ctx.orders()], [first.id, second.id])
        self.assertEqual([o.id for o in self.ctx.orders(state=OrderState.RUNNING)],
                         [second.id])
        self.assertEqual([o.id for o in self.ctx.orders(type=CardType.EMPLOYEE)], [first.id])
        with self.ctx.order(second.id) as stale:
            first.refresh()
            stale.set_state(ACTOR, OrderState.OPEN)
            second.refresh()
            self.assertIs(second.state, OrderState.OPEN)


class AuditTest(StoreTest):
    def test_events_and_filters(self):
        start = self.ctx.now()
        ada = self.person("ada")
        self.ctx.set_option(ACTOR, "queue_orders", True)
        events = list(self.ctx.audit())
        self.assertEqual([e.seq for e in events], list(range(1, len(events) + 1)))
        first = events[0]
        self.assertIsInstance(first, idm.AuditEvent)
        self.assertEqual(first.actor, ACTOR)
        self.assertIs(first.object_type, ObjectType.IDENTITY)
        self.assertEqual(first.object_id, ada.id)
        self.assertEqual(first.to_state, "registered")
        self.assertGreaterEqual(first.time_ms, start)
        with self.assertRaises(dataclasses.FrozenInstanceError):
            first.seq = 7
        option_events = list(self.ctx.audit(ObjectType.OPTION))
        self.assertEqual(len(option_events), 1)
        self.assertIn("queue_orders", option_events[0].detail)
        self.assertEqual(len(list(self.ctx.audit(ObjectType.IDENTITY, ada))), 3)
        self.assertEqual(list(self.ctx.audit(until_ms=start - 1)), [])
        self.assertEqual(len(list(self.ctx.audit(since_ms=start))), len(events))
        with self.assertRaises(ValueError):
            self.ctx.audit(object_id=1)
        with self.assertRaises(idm.InvalidArgumentError):
            self.ctx.audit(since_ms=10, until_ms=5)

    def test_verify(self):
        self.person()
        self.assertIsNone(self.ctx.verify_audit())
        with contextlib.closing(sqlite3.connect(self.path)) as db, db:
            db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
        with self.assertRaises(idm.IntegrityError) as caught:
            self.ctx.verify_audit()
        self.assertEqual(caught.exception.first_broken, 2)


class HandleTest(StoreTest):
    def test_close_twice_and_use_after_close(self):
        card = self.approved_card(self.person())
        card.close()
        card.close()
        self.assertTrue(card.closed)
        self.assertEqual(repr(card), "<idm.Card closed>")
        for use in (lambda: card.state, lambda: card.refresh(), card.certificates,
                    lambda: card.set_state(ACTOR, CardState.ISSUED)):
            with self.assertRaisesRegex(ValueError, "closed Card"):
                use()
        with self.assertRaisesRegex(ValueError, "closed Card"):
            with card:
                pass

    def test_with_closes(self):
        with self.ctx.create_identity(ACTOR) as identity:
            self.assertFalse(identity.closed)
            self.assertIn("Identity id=", repr(identity))
        self.assertTrue(identity.closed)
        with self.assertRaises(ValueError):
            identity.attributes

    def test_not_constructible_nor_copyable(self):
        for cls in (idm.Identity, idm.Card, idm.Certificate, idm.Order):
            with self.assertRaises(TypeError):
                cls()
        identity = self.ctx.create_identity(ACTOR)
        for duplicate in (copy.copy, copy.deepcopy, pickle.dumps):
            with self.assertRaises(TypeError):
                duplicate(identity)
            with self.assertRaises(TypeError):
                duplicate(self.ctx)

    def test_dropping_the_last_reference_frees_at_once(self):
        ctx = idm.Context(self.path)
        ctx.options["pin_length"]
        ctx.create_identity(ACTOR).attributes.items()
        ctx.identities().close()
        alive = weakref.ref(ctx)
        del ctx
        self.assertIsNone(alive())  # no reference cycle held it

    def test_a_child_keeps_its_context_alive(self):
        ctx = idm.Context(self.path)
        card = self.approved_card_in(ctx)
        del ctx
        gc.collect()
        card.set_state(ACTOR, CardState.ISSUED)
        card.refresh()
        self.assertIs(card.state, CardState.ISSUED)
        parent = card.context
        card.close()
        self.assertFalse(parent.closed)
        parent.close()

    def approved_card_in(self, ctx):
        identity = ctx.create_identity(ACTOR)
        card = ctx.create_card(ACTOR, *EMPLOYEE, identity_id=identity.id)
        card.set_state(ACTOR, CardState.REQUESTED)
        card.set_state(ACTOR, CardState.APPROVED)
        return card

    def test_closing_the_context_closes_its_children(self):
        ctx = idm.Context(self.path)
        card = self.approved_card_in(ctx)
        it = ctx.cards()
        ctx.close()
        self.assertTrue(card.closed)
        self.assertTrue(it.closed)
        with self.assertRaisesRegex(ValueError, "closed Context"):
            ctx.create_identity(ACTOR)
        with self.assertRaisesRegex(ValueError, "closed Context"):
            ctx.options

    def test_a_context_finalized_before_a_child_waits_for_it(self):
        # as when the garbage collector finalizes a cycle: the context no
        # longer sees the child, which still holds it
        ctx = idm.Context(self.path)
        card = self.approved_card_in(ctx)
        ctx._children.discard(card)
        ctx.close()
        self.assertIsNotNone(ctx._pending)
        self.assertEqual(card.state, CardState.APPROVED)  # the C context lives on
        card.close()
        self.assertIsNone(ctx._pending)

    def test_cycles_are_collected(self):
        ctx = idm.Context(self.path)
        holder = {"ctx": ctx, "card": self.approved_card_in(ctx),
                  "it": ctx.identities()}
        holder["self"] = holder
        del ctx, holder
        gc.collect()

    def test_handles_left_at_interpreter_exit(self):
        script = textwrap.dedent(f"""
            import idm
            ctx = idm.Context({self.path!r})
            ctx.set_log_callback(lambda *args: None)
            ctx.log_level = idm.LogLevel.DEBUG
            person = ctx.create_identity("admin:exit")
            card = ctx.create_card("admin:exit", idm.CardType.EMPLOYEE, idm.CardOption.PHYSICAL,
                                   idm.Production.LOCAL, person.id)
            it = ctx.identities()
            next(it)
            cycle = [ctx, card, it]
            cycle.append(cycle)
            del ctx
        """)
        result = subprocess.run([sys.executable, "-X", "dev", "-W", "error", "-c", script],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual((result.returncode, result.stderr), (0, ""))


if __name__ == "__main__":
    unittest.main()
