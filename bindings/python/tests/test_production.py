"""Mass production from Python: Station's step API and run_production()
with hooks, with the encoder (and, for Digital ID, the CA) written in
Python; a hook that raises cancels the run and its exception reaches the
caller."""

import traceback
import unittest

import idm
from idm import CardOption, CardState, CardType, OrderCardOutcome, OrderKind, OrderState

from pyidm_support import ACTOR, HAVE_OPENSSL, MemCard, OpensslCA, StoreTest


class ProductionTest(StoreTest):
    option = CardOption.PHYSICAL
    count = 4

    def setUp(self):
        super().setUp()
        self.people = [self.person(i) for i in range(self.count)]
        self.cards = [self.approved_card(p, self.option) for p in self.people]
        self.order = self.ctx.create_order(ACTOR, OrderKind.MASS_PRODUCTION, CardType.EMPLOYEE,
                                           self.option)
        self.assertEqual(self.order.add_approved(ACTOR), self.count)
        self.mem = MemCard(self.dir)
        self.encoder = idm.Encoder(self.mem)
        self.pins = []
        self.encoder.set_pin_callbacks(
            entry=lambda card: "246810",
            delivery=lambda card, pin, puk: self.pins.append(card.id))
        self.ca = None

    def station(self, name="py-1"):
        station = idm.Station(self.order, name, self.encoder, self.ca)
        self.addCleanup(station.close)
        return station

    def states(self):
        for card in self.cards:
            card.refresh()
        return [card.state for card in self.cards]


class PhysicalIdTest(ProductionTest):
    def test_run_with_every_hook(self):
        log = []
        skip = self.cards[2].id
        asked = []

        class Hooks:
            def ready(self, card):
                log.append(("ready", card.id))
                return "no photo" if card.id == skip and not asked else None

            def before_issue(self, card):
                log.append(("before_issue", card.id))

            def after_issue(self, card):
                log.append(("after_issue", card.id))

            def produce(self, card):
                log.append(("produce", card.id))

            def verify(self, card):
                log.append(("verify", card.id))
                self_.assertEqual(card.chip_serial, f"PY-{self_.mem.serial_no:04d}")

            def complete_or_more(self, order):
                log.append(("complete_or_more", order.id))
                self_.assertEqual(order.count_cards(OrderCardOutcome.SKIPPED), len(asked) == 0)
                asked.append(order.id)
                return len(asked) == 1  # "more" once: the skipped card is checked again

            def progress(self, order, card_id, outcome):
                log.append(("progress", card_id, outcome))

        self_ = self
        station = self.station()
        idm.run_production(station, ACTOR, Hooks())
        self.assertEqual(self.states(), [CardState.ISSUED] * 4)
        self.order.refresh()
        self.assertIs(self.order.state, OrderState.COMPLETED)
        self.assertEqual(self.order.count_cards(OrderCardOutcome.PRODUCED), 4)
        # Physical ID has no CA step
        self.assertNotIn("before_issue", [entry[0] for entry in log])
        self.assertNotIn("after_issue", [entry[0] for entry in log])
        first = self.cards[0].id
        self.assertEqual(log[:5], [("ready", first), ("produce", first), ("verify", first),
                                   ("progress", first, OrderCardOutcome.PRODUCED),
                                   ("ready", self.cards[1].id)])
        self.assertIn(("progress", skip, OrderCardOutcome.SKIPPED), log)
        self.assertEqual([e for e in log if e[0] == "complete_or_more"],
                         [("complete_or_more", self.order.id)] * 2)
        self.assertEqual(sorted(self.pins), sorted(c.id for c in self.cards))
        self.assertEqual([c for c in self.mem.calls if c.startswith("close")], ["close:1"] * 4)
        self.assertEqual(sorted({c.chip_serial for c in self.cards}),
                         [f"PY-{i:04d}" for i in range(4)])

    def test_hooks_as_a_dict_and_unknown_hooks(self):
        seen = []
        self.station().run(ACTOR, {"produce": lambda card: seen.append(card.id)})
        self.assertEqual(seen, [c.id for c in self.cards])
        with self.assertRaises(TypeError):
            self.station("py-2").run(ACTOR, {"produse": print})

    def test_a_raising_hook_cancels_and_is_re_raised(self):
        produced = []

        def produce(card):
            if produced:
                raise RuntimeError(f"printer jammed on card {card.id}")
            produced.append(card.id)

        station = self.station()
        try:
            idm.run_production(station, ACTOR, {"produce": produce})
        except RuntimeError as exc:
            self.assertEqual(str(exc), f"printer jammed on card {self.cards[1].id}")
            cause = exc.__cause__
            self.assertIsInstance(cause, idm.CancelledError)
            self.assertEqual(cause.code, idm.ErrorCode.CANCELLED)
            tb = [f.name for f in traceback.extract_tb(exc.__traceback__)]
            self.assertEqual(tb[-1], "produce")  # the hook's own frame
            self.assertIn("test_a_raising_hook_cancels_and_is_re_raised", tb)
        else:
            self.fail("not re-raised")
        # as the library leaves a cancel: the card in hand is let go, still
        # approved and pending; the order runs on
        self.assertEqual(self.states(), [CardState.ISSUED, CardState.APPROVED,
                                         CardState.APPROVED, CardState.APPROVED])
        self.assertEqual(self.order.card_outcome(self.cards[1])[0], OrderCardOutcome.PENDING)
        self.order.refresh()
        self.assertIs(self.order.state, OrderState.RUNNING)
        self.assertEqual(self.mem.calls[-1], "close:0")
        # a second run finishes the order
        idm.run_production(station, ACTOR)
        self.assertEqual(self.states(), [CardState.ISSUED] * 4)

    def test_a_hook_returning_false_cancels_without_an_exception(self):
        with self.assertRaises(idm.CancelledError) as caught:
            idm.run_production(self.station(), ACTOR, {"verify": lambda card: False})
        self.assertIsNone(caught.exception.__cause__)
        self.assertIn(CardState.APPROVED, self.states())

    def test_a_raising_readiness_hook_cancels(self):
        def ready(card):
            raise ValueError("HR system unreachable")
        with self.assertRaises(ValueError) as caught:
            idm.run_production(self.station(), ACTOR, {"ready": ready})
        self.assertIsInstance(caught.exception.__cause__, idm.CancelledError)
        self.assertEqual(self.states(), [CardState.APPROVED] * 4)

    def test_the_step_api(self):
        station = self.station()
        station.set_lease(60_000)
        station.set_group(2)
        station.set_readiness(lambda card: "on leave" if card.id == self.cards[3].id else None)
        done = []
        while True:
            card = station.next(ACTOR)
            if card is None:
                break
            self.assertIs(card.context, self.ctx)
            station.issue(ACTOR)
            station.produce(ACTOR)
            station.verify(ACTOR)
            done.append(card.id)
        self.assertEqual(done, [c.id for c in self.cards[:3]])
        self.assertEqual(self.order.card_outcome(self.cards[3]),
                         (OrderCardOutcome.SKIPPED, 1, "on leave"))
        station.set_readiness(None)
        station.complete(ACTOR, more=True)
        card = station.next(ACTOR)
        self.assertEqual(card.id, self.cards[3].id)
        station.issue(ACTOR)
        station.cancel(ACTOR, "operator went home")
        self.assertEqual(self.order.card_outcome(self.cards[3])[0], OrderCardOutcome.PENDING)
        with self.assertRaises(idm.StateError):
            station.complete(ACTOR)
        with self.assertRaises(idm.StateError):
            station.produce(ACTOR)
        station.set_readiness(lambda card: 1 / 0)
        with self.assertRaises(ZeroDivisionError) as caught:
            station.next(ACTOR)
        self.assertIsInstance(caught.exception.__cause__, idm.CancelledError)

    def test_what_a_station_uses_outlives_it(self):
        station = self.station()
        key = self.encoder._key
        self.encoder.close()
        self.order.close()
        self.assertTrue(self.encoder.closed)
        self.assertTrue(idm._callbacks.registered(key))  # the C encoder lives on
        idm.run_production(station, ACTOR)
        self.assertEqual(self.states(), [CardState.ISSUED] * 4)
        station.close()
        self.assertFalse(idm._callbacks.registered(key))
        self.assertIsNone(self.encoder._deferred)

    def test_closing_the_context_closes_the_station_first(self):
        station = self.station()
        self.ctx.close()
        self.assertTrue(station.closed)
        self.assertFalse(idm._callbacks.registered(station._key))


@unittest.skipUnless(HAVE_OPENSSL, "needs the openssl tool")
class DigitalIdTest(ProductionTest):
    """A CA and an encoder written in Python: the encoder makes EC keys and
    signs with the openssl tool, the CA certifies with it."""

    option = CardOption.DIGITAL
    count = 1  # one card is enough (each costs a few openssl runs)

    def setUp(self):
        super().setUp()
        self.impl = OpensslCA(self.dir)
        self.ca = idm.CA(self.impl)
        self.ctx.set_option(ACTOR, "card_key_slots", "9A")

    def test_run_issues_with_the_python_ca(self):
        log = []
        hooks = {name: (lambda name: lambda card: log.append(name))(name)
                 for name in ("before_issue", "after_issue", "produce", "verify")}
        idm.run_production(self.station(), ACTOR, hooks)
        self.assertEqual(log, ["before_issue", "after_issue", "produce", "verify"])
        self.assertEqual(self.states(), [CardState.ISSUED])
        certs = list(self.cards[0].certificates())
        self.assertEqual([c.der for c in certs], list(self.impl.issued.values()))
        self.assertIn("sign", self.mem.calls)

    def test_a_raising_ca_fails_the_card_and_aborts_the_order(self):
        self.impl.fail = ConnectionError("CA offline")
        with self.assertRaises(ConnectionError) as caught:
            idm.run_production(self.station(), ACTOR)
        cause = caught.exception.__cause__
        self.assertIsInstance(cause, idm.BackendError)
        self.assertIn("ConnectionError: CA offline", cause.message)
        self.assertEqual(self.states(), [CardState.FAILED])
        outcome, attempt, reason = self.order.card_outcome(self.cards[0])
        self.assertIs(outcome, OrderCardOutcome.FAILED)
        self.assertIn("CA offline", reason)
        self.order.refresh()
        self.assertIs(self.order.state, OrderState.ABORTED)


if __name__ == "__main__":
    unittest.main()
