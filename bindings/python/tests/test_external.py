"""External production from Python: the spool producer and maildir
notifier end to end, and a producer and notifier written in Python."""

import glob
import json
import os
import unittest

import idm
from idm import BureauStatus, CardOption, CardState, CardType, NotificationKind

from pyidm_support import ACTOR, MemCard, StoreTest, drop_status, spool_outbox

OPERATOR = "operator:python"


class ExternalTest(StoreTest):
    def setUp(self):
        super().setUp()
        self.ctx.set_option(ACTOR, "external_production_enabled", True)
        self.spool = os.path.join(self.dir, "spool")
        os.mkdir(self.spool)
        self.maildir = os.path.join(self.dir, "mail")

    def desk(self, producer=None, notifier=None):
        desk = idm.External(self.ctx, producer, notifier)
        self.addCleanup(desk.close)
        return desk

    def drop_status(self, message_id, status, **fields):
        drop_status(self.spool, message_id, status, **fields)

    def outbox(self):
        return spool_outbox(self.spool)


class SpoolAndMaildirTest(ExternalTest):
    def test_order_sync_update_activate(self):
        self.ctx.set_option(ACTOR, "queue_orders", True)
        producer = idm.Producer.spool(self.spool)
        notifier = idm.Notifier.maildir(self.maildir, "cards@example.org")
        desk = self.desk(producer, notifier)
        self.assertIs(desk.producer, producer)
        ada = self.person(1)
        card = desk.order_card(OPERATOR, ada, CardType.EMPLOYEE, CardOption.PHYSICAL)
        self.assertIs(card.state, CardState.PROCESSING)
        self.assertEqual(card.requester, OPERATOR)
        self.assertEqual(desk.sync_queue(ACTOR, 10), (1, 0))
        card.refresh()
        self.assertIs(card.state, CardState.ORDERED)
        message_id, = self.outbox()
        with open(os.path.join(self.spool, "outbox", message_id + ".json")) as f:
            self.assertEqual(json.load(f)["format"], "libidm-card-order/1")
        self.drop_status(message_id, "produced", chip_serial="PY-0000",
                         shipment="DHL 123")
        self.assertEqual(desk.update(ACTOR), (1, 0))
        card.refresh()
        self.assertIs(card.state, CardState.PRODUCED)
        self.assertEqual((card.chip_serial, card.shipment), ("PY-0000", "DHL 123"))
        mails = glob.glob(os.path.join(self.maildir, "new", "*.eml"))
        self.assertEqual(len(mails), 1)  # card produced
        with open(mails[0], encoding="utf-8") as f:
            self.assertIn("To: ada1@example.org", f.read())
        # activation encodes the card with an encoder written in Python
        mem = MemCard(self.dir)
        encoder = idm.Encoder(mem)
        encoder.set_pin_callbacks(entry=lambda card: "135790",
                                  delivery=lambda card, pin, puk: None)
        desk.activate(ACTOR, card, encoder)
        self.assertIs(card.state, CardState.ACTIVE)
        self.assertEqual(len(glob.glob(os.path.join(self.maildir, "new", "*.eml"))), 2)
        self.assertEqual(desk.flush_notifications(ACTOR), (0, 0))

    def test_approval_rejection_abort_and_batch(self):
        self.ctx.set_option(ACTOR, "external_approval_step", True)
        desk = self.desk(idm.Producer.spool(self.spool))
        people = [self.person(i) for i in range(3)]
        results = desk.order_batch(OPERATOR, people + [people[0]], CardType.EMPLOYEE,
                                   CardOption.PHYSICAL)
        self.assertIsInstance(results.order, idm.Order)
        self.assertEqual([r.index for r in results], [0, 1, 2, 3])
        self.assertEqual([r.ok for r in results], [True, True, True, False])
        self.assertEqual([r.state for r in results[:3]], [CardState.REQUESTED] * 3)
        refused = results[3]
        self.assertEqual((refused.identity_id, refused.card_id), (people[0].id, 0))
        self.assertIsInstance(refused.error, idm.StateError)
        self.assertTrue(refused.reason)
        cards = [self.ctx.card(r.card_id) for r in results[:3]]
        with self.assertRaises(idm.InvalidArgumentError):
            desk.approve(OPERATOR, cards[0])  # not by the requester
        desk.approve(ACTOR, cards[0])
        self.assertIs(cards[0].state, CardState.ORDERED)
        desk.reject(ACTOR, cards[1], "no budget")
        self.assertIs(cards[1].state, CardState.REJECTED)
        self.ctx.set_option(ACTOR, "queue_orders", True)
        desk.approve(ACTOR, cards[2])
        self.assertIs(cards[2].state, CardState.ORDERED)  # the order's snapshot
        with self.assertRaises(idm.StateError):
            desk.abort(ACTOR, cards[2], "too late")

    def test_temporary_cards(self):
        self.ctx.set_option(ACTOR, "temporary_cards_per_order", 2)
        desk = self.desk(idm.Producer.spool(self.spool))
        order = desk.order_temporary(OPERATOR, CardOption.PHYSICAL, 2, "Temporary card")
        cards = list(order.cards())
        self.assertEqual([c.name for c in cards], ["Temporary card 1", "Temporary card 2"])
        self.assertEqual([c.state for c in cards], [CardState.ORDERED] * 2)
        message_id = self.outbox()[0]
        self.drop_status(message_id, "produced", chip_serial="PY-0000")
        self.assertEqual(desk.update(ACTOR), (1, 0))
        card = self.ctx.card(cards[0].id)
        encoder = idm.Encoder(MemCard(self.dir))
        encoder.set_pin_callbacks(entry=lambda card: "135790",
                                  delivery=lambda card, pin, puk: None)
        desk.initialize_temporary(ACTOR, card, encoder)
        self.assertIs(card.state, CardState.UNASSIGNED)
        visitor = self.person(9)
        desk.assign(OPERATOR, card, visitor)
        self.assertIs(card.state, CardState.ASSIGNED)
        desk.withdraw(OPERATOR, card, "returned")
        self.assertIs(card.state, CardState.UNASSIGNED)

    def test_no_producer(self):
        desk = self.desk()
        with self.assertRaises(idm.StateError):
            desk.sync_queue(ACTOR)
        with self.assertRaises(idm.StateError):
            desk.flush_notifications(ACTOR)


class Bureau:
    """A producer written in Python: keeps the orders and answers status."""

    def __init__(self):
        self.orders = {}
        self.reports = []     # what the bureau will report: (id, status, chip)
        self.verdicts = []
        self.cancelled = []
        self.fail_submit = None

    def submit(self, message_id, order_json):
        if self.fail_submit is not None:
            raise self.fail_submit
        self.orders[message_id] = json.loads(order_json)

    def status(self, message_ids, report):
        for message_id, status, chip in self.reports:
            self.verdicts.append(report(message_id, status, chip_serial=chip))
        self.reports = []

    def cancel(self, message_id):
        self.cancelled.append(message_id)


class Mailer:
    def __init__(self):
        self.sent = []
        self.fail = None

    def send(self, message_id, kind, to, subject, body):
        if self.fail is not None:
            raise self.fail
        self.sent.append((message_id, kind, to, subject, body))


class PythonBackendsTest(ExternalTest):
    def setUp(self):
        super().setUp()
        self.ctx.set_option(ACTOR, "send_card_ordered_email", True)
        self.bureau = Bureau()
        self.mailer = Mailer()
        self.desk_ = self.desk(idm.Producer(self.bureau), idm.Notifier(self.mailer))

    def test_order_and_update_through_python(self):
        card = self.desk_.order_card(OPERATOR, self.person(1), CardType.EMPLOYEE,
                                     CardOption.PHYSICAL)
        self.assertIs(card.state, CardState.ORDERED)
        (message_id, order), = self.bureau.orders.items()
        self.assertEqual(order["format"], "libidm-card-order/1")
        (_, kind, to, subject, body), = self.mailer.sent
        self.assertIs(kind, NotificationKind.CARD_ORDERED)
        self.assertEqual(to, "ada1@example.org")
        self.bureau.reports = [(message_id, BureauStatus.IN_PRODUCTION, None),
                               (message_id, BureauStatus.PRODUCED, "PY-0007"),
                               ("idm-unknown-o1-c1-a1", BureauStatus.PRODUCED, "X")]
        self.assertEqual(self.desk_.update(ACTOR), (2, 1))
        self.assertEqual(self.bureau.verdicts[:2], [0, 0])
        self.assertEqual(self.bureau.verdicts[2], idm.ErrorCode.NOT_FOUND)
        card.refresh()
        self.assertEqual((card.state, card.chip_serial), (CardState.PRODUCED, "PY-0007"))
        self.assertEqual([m[1] for m in self.mailer.sent],
                         [NotificationKind.CARD_ORDERED, NotificationKind.CARD_PRODUCED])

    def test_a_raising_submit_fails_the_card_and_is_re_raised(self):
        self.bureau.fail_submit = ConnectionRefusedError("bureau HTTP 503")
        ada = self.person(1)
        try:
            self.desk_.order_card(OPERATOR, ada, CardType.EMPLOYEE, CardOption.PHYSICAL)
        except ConnectionRefusedError as exc:
            self.assertIs(exc, self.bureau.fail_submit)
            # the call itself succeeded (the card is recorded as failed)
            self.assertIsNone(exc.__cause__)
        else:
            self.fail("not re-raised")
        card, = self.ctx.cards(identity_id=ada)
        self.assertIs(card.state, CardState.FAILED)
        details = [e.detail or "" for e in self.ctx.audit(idm.ObjectType.CARD, card)]
        self.assertTrue(any("ConnectionRefusedError: bureau HTTP 503" in d for d in details),
                        details)

    def test_a_raising_status_fails_the_update(self):
        self.desk_.order_card(OPERATOR, self.person(1), CardType.EMPLOYEE, CardOption.PHYSICAL)

        def status(message_ids, report):
            raise TimeoutError("bureau did not answer")
        self.bureau.status = status
        with self.assertRaises(TimeoutError) as caught:
            self.desk_.update(ACTOR)
        cause = caught.exception.__cause__
        self.assertIsInstance(cause, idm.BackendError)
        self.assertIn("bureau did not answer", cause.message)

    def test_a_raising_notifier_leaves_the_notification_pending(self):
        self.mailer.fail = OSError("SMTP 451 try later")
        with self.assertRaises(OSError):
            self.desk_.order_card(OPERATOR, self.person(1), CardType.EMPLOYEE,
                                  CardOption.PHYSICAL)
        card, = self.ctx.cards()
        self.assertIs(card.state, CardState.ORDERED)  # the step itself went through
        self.mailer.fail = None
        self.assertEqual(self.desk_.flush_notifications(ACTOR), (1, 0))
        self.assertEqual(len(self.mailer.sent), 1)
        # an undeliverable message: InvalidArgumentError keeps its code
        self.mailer.fail = idm.InvalidArgumentError("bad address")
        with self.assertRaises(idm.InvalidArgumentError):
            self.desk_.order_card(OPERATOR, self.person(2), CardType.EMPLOYEE,
                                  CardOption.PHYSICAL)
        self.mailer.fail = None
        self.assertEqual(self.desk_.flush_notifications(ACTOR), (0, 0))

    def test_a_raising_batch_report_is_re_raised_after_the_batch(self):
        people = [self.person(i) for i in range(2)]
        self.bureau.fail_submit = RuntimeError("down")
        with self.assertRaises(RuntimeError):
            self.desk_.order_batch(OPERATOR, people, CardType.EMPLOYEE, CardOption.PHYSICAL)
        self.assertEqual([c.state for c in self.ctx.cards()], [CardState.FAILED] * 2)

    def test_the_desk_keeps_its_backends(self):
        producer, notifier = self.desk_.producer, self.desk_.notifier
        producer.close()
        notifier.close()
        card = self.desk_.order_card(OPERATOR, self.person(1), CardType.EMPLOYEE,
                                     CardOption.PHYSICAL)
        self.assertIs(card.state, CardState.ORDERED)
        self.assertEqual(len(self.mailer.sent), 1)
        self.desk_.close()
        self.assertIsNone(producer._deferred)
        self.assertFalse(idm._callbacks.registered(producer._key))

    def test_abort_cancels_with_the_python_producer(self):
        self.ctx.set_option(ACTOR, "queue_orders", True)
        card = self.desk_.order_card(OPERATOR, self.person(1), CardType.EMPLOYEE,
                                     CardOption.PHYSICAL)
        self.assertIs(card.state, CardState.PROCESSING)
        self.desk_.abort(OPERATOR, card, "changed my mind")
        self.assertIs(card.state, CardState.ABORTED)


if __name__ == "__main__":
    unittest.main()
