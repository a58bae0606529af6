"""The workflows from Python on the real PC/SC stack: libpcsclite, pcscd, the
vsmartcard-vpcd reader driver and the project's virtual PIV card, started by
tests/vcard/with-stack.sh with a hopper (a card that went through leaves the
reader and a blank one takes its place).

What a card holds is read independently of libidm, from the virtual card's
own state file ($PCSC_STACK_DIR/card0.json), and the certificates are checked
with the openssl tool: the certificate on the chip is the one the store
recorded, it chains to the CA that issued it, and the PIN that was delivered
is the PIN the chip now has."""

import base64
import json
import os
import subprocess
import tempfile
import unittest

import idm
from idm import (CardOption, CardState, CertState, CardType, OrderCardOutcome, OrderKind,
                 OrderState)

from pyidm_support import ACTOR, OpensslCA, StoreTest, drop_status, openssl, spool_outbox

STACK_DIR = os.environ.get("PCSC_STACK_DIR")
READER = os.environ.get("IDM_TEST_READER0")
STACK = os.environ.get("IDM_TEST_STACK")
OPERATOR = "operator:python-pcsc"

# The PIV data objects a certificate lives in (SP 800-73-4), as the virtual
# card names them in its state file.
CERTIFICATE_OBJECTS = ("5FC105", "5FC10A", "5FC10B", "5FC101")


def setUpModule():
    if not (STACK_DIR and READER and STACK):
        raise RuntimeError("PCSC_STACK_DIR, IDM_TEST_READER0 and IDM_TEST_STACK are not set: "
                           "run through tests/vcard/with-stack.sh (meson test python_pcsc)")


def tlv_items(data):
    """The (tag, value) pairs of a BER-TLV string with one-byte tags."""
    i = 0
    while i < len(data):
        tag, length = data[i], data[i + 1]
        i += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(data[i:i + n], "big")
            i += n
        yield tag, data[i:i + length]
        i += length


class CardInReader:
    """What the virtual card in reader 0 holds now, from its state file; or,
    with ejected=True, the last card that went through (the hopper's output
    tray)."""

    def __init__(self, ejected=False):
        name = "card0.ejected.json" if ejected else "card0.json"
        with open(os.path.join(STACK_DIR, name), encoding="utf-8") as f:
            state = json.load(f)
        cplc = state["cplc"].upper()
        # as libidm builds a chip serial: IC fabricator, IC serial, IC batch
        self.chip_serial = cplc[0:4] + cplc[24:32] + cplc[32:36]
        self.pin = bytes.fromhex(state["pin"]).rstrip(b"\xff").decode("ascii")
        self.objects = sorted(state["objects"])
        self.certificates = []
        for tag in CERTIFICATE_OBJECTS:
            if tag in state["objects"]:
                (outer, value), = tlv_items(bytes.fromhex(state["objects"][tag]))
                self.certificates += [v for t, v in tlv_items(value) if t == 0x70]
        self.key_slots = sorted(state["keys"])

    @property
    def blank(self):
        return self.pin == "123456" and self.objects == ["5FC102"] and not self.key_slots


def ensure_blank_card():
    """A test that failed half-way leaves a written card in the reader, which
    the hopper only replaces after a card that went through."""
    if not CardInReader().blank:
        subprocess.run(["bash", STACK, "card", "0", "--timeout", "20", "--fresh", "--hopper"],
                       check=True, stdout=subprocess.DEVNULL)


def pem(der, kind="CERTIFICATE"):
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN {kind}-----\n{body}-----END {kind}-----\n"


class PcscTest(StoreTest):
    def setUp(self):
        super().setUp()
        ensure_blank_card()
        self.encoder = idm.Encoder.pcsc(self.ctx, reader=READER, timeout_ms=20_000)
        self.addCleanup(self.encoder.close)
        self.delivered = {}   # card id -> (PIN, PUK)
        self.encoder.set_pin_callbacks(delivery=self.deliver)
        self.ctx.set_option(ACTOR, "pin_source", "generated")

    def deliver(self, card, pin, puk):
        self.delivered[card.id] = (pin, puk)

    def assertChainsTo(self, ca_der, cert_der):
        """openssl verify: cert_der is signed by the CA whose certificate is ca_der."""
        with tempfile.TemporaryDirectory() as d:
            ca, leaf = os.path.join(d, "ca.pem"), os.path.join(d, "leaf.pem")
            with open(ca, "w") as f:
                f.write(pem(ca_der))
            with open(leaf, "w") as f:
                f.write(pem(cert_der))
            result = subprocess.run(["openssl", "verify", "-CAfile", ca, leaf],
                                    capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def assertOnTheChip(self, card, chip, pin=None):
        """The chip holds exactly the card's certificates that are not revoked
        (on hold until the card is active, valid then), its serial is the
        card's, and its PIN the one delivered for the card (or pin, which the
        holder chose: a user PIN is not delivered)."""
        card.refresh()
        self.assertEqual(card.chip_serial, chip.chip_serial)
        live = sorted(cert.der for cert in card.certificates()
                      if cert.state is not CertState.REVOKED)
        self.assertTrue(live, f"card {card.id} has no certificate")
        self.assertEqual(sorted(chip.certificates), live)
        delivered_pin, puk = self.delivered[card.id]
        self.assertEqual(chip.pin, pin if pin is not None else delivered_pin)
        self.assertTrue(puk)


class MassProductionTest(PcscTest):
    count = 3

    def order_of(self, option, count):
        people = [self.person(i) for i in range(count)]
        cards = [self.approved_card(p, option) for p in people]
        order = self.ctx.create_order(ACTOR, OrderKind.MASS_PRODUCTION, CardType.EMPLOYEE,
                                      option)
        self.assertEqual(order.add_approved(ACTOR), count)
        self.addCleanup(order.close)
        return order, cards

    def test_digital_id_with_the_built_in_ca(self):
        ca = idm.CA.openssl(self.ctx, common_name="Python PC/SC Test CA")
        self.addCleanup(ca.close)
        order, cards = self.order_of(CardOption.DIGITAL, self.count)
        on_chip = {}
        outcomes = []

        def verify(card):  # the card is still in the reader: look at it
            on_chip[card.id] = CardInReader()

        with idm.Station(order, "py-pcsc", self.encoder, ca) as station:
            idm.run_production(station, ACTOR, {
                "verify": verify,
                "progress": lambda order, card_id, outcome: outcomes.append(outcome)})
        order.refresh()
        self.assertIs(order.state, OrderState.COMPLETED)
        self.assertEqual(outcomes, [OrderCardOutcome.PRODUCED] * self.count)
        serials = set()
        for card in cards:
            chip = on_chip[card.id]
            card.refresh()
            self.assertIs(card.state, CardState.ISSUED)
            self.assertOnTheChip(card, chip)
            for der in chip.certificates:
                self.assertChainsTo(ca.certificate, der)
            serials.add(chip.chip_serial)
        self.assertEqual(len(serials), self.count, "every card went onto its own chip")
        self.assertTrue(CardInReader().blank, "the hopper did not replace the last card")

    def test_digital_id_with_a_ca_written_in_python(self):
        impl = OpensslCA(self.dir)
        ca = idm.CA(impl)
        self.addCleanup(ca.close)
        self.ctx.set_option(ACTOR, "pin_source", "user")  # before the order snapshots it
        order, (card,) = self.order_of(CardOption.DIGITAL, 1)
        self.encoder.set_pin_callbacks(entry=lambda card: "271828", delivery=self.deliver)
        with idm.Station(order, "py-pcsc", self.encoder, ca) as station:
            idm.run_production(station, ACTOR, {
                "verify": lambda c: self.assertEqual(CardInReader().certificates,
                                                     list(impl.issued.values()))})
        card.refresh()
        self.assertIs(card.state, CardState.ISSUED)
        self.assertEqual([c.der for c in card.certificates()], list(impl.issued.values()))
        self.assertOnTheChip(card, CardInReader(ejected=True), pin="271828")
        with open(impl.cert, "rb") as f:
            ca_der = openssl("x509", "-outform", "DER", input=f.read())
        self.assertChainsTo(ca_der, list(impl.issued.values())[0])

    def test_an_exception_in_a_hook_cancels_on_the_real_card(self):
        ca = idm.CA.openssl(self.ctx, common_name="Python PC/SC Test CA")
        self.addCleanup(ca.close)
        order, (card,) = self.order_of(CardOption.DIGITAL, 1)
        chip = CardInReader().chip_serial

        def produce(c):
            raise OSError(f"the printer jammed on card {c.id}")

        station = idm.Station(order, "py-pcsc", self.encoder, ca)
        self.addCleanup(station.close)
        with self.assertRaises(OSError) as caught:
            idm.run_production(station, ACTOR, {"produce": produce})
        self.assertEqual(str(caught.exception), f"the printer jammed on card {card.id}")
        self.assertIsInstance(caught.exception.__cause__, idm.CancelledError)
        card.refresh()
        self.assertIs(card.state, CardState.APPROVED)
        self.assertEqual(order.card_outcome(card)[0], OrderCardOutcome.PENDING)
        # the card did not go through, so it is still in the reader
        self.assertEqual(CardInReader().chip_serial, chip)
        # a second run takes the same chip through
        on_chip = []
        idm.run_production(station, ACTOR, {"verify": lambda c: on_chip.append(CardInReader())})
        card.refresh()
        self.assertIs(card.state, CardState.ISSUED)
        self.assertEqual(on_chip[0].chip_serial, chip)
        self.assertOnTheChip(card, on_chip[0])
        # the first attempt's certificates were revoked when it was let go
        states = [cert.state for cert in card.certificates()]
        self.assertEqual(states.count(CertState.ON_HOLD), len(on_chip[0].certificates))
        self.assertEqual(states.count(CertState.REVOKED), len(on_chip[0].certificates))

    def test_physical_id(self):
        order, cards = self.order_of(CardOption.PHYSICAL, 2)
        with idm.Station(order, "py-pcsc", self.encoder) as station:
            idm.run_production(station, ACTOR)
        for card in cards:
            card.refresh()
            self.assertIs(card.state, CardState.ISSUED)
            self.assertEqual(len(card.chip_serial), 16)
            self.assertEqual(list(card.certificates()), [])
        self.assertNotEqual(cards[0].chip_serial, cards[1].chip_serial)


class ExternalProductionTest(PcscTest):
    """A bureau produces the card; it is activated (keys, certificates, PIN)
    on the real stack when it reaches the holder."""

    def setUp(self):
        super().setUp()
        self.ctx.set_option(ACTOR, "external_production_enabled", True)
        self.spool = os.path.join(self.dir, "spool")
        os.mkdir(self.spool)
        self.maildir = os.path.join(self.dir, "mail")
        self.producer = idm.Producer.spool(self.spool)
        self.notifier = idm.Notifier.maildir(self.maildir, "cards@example.org")
        self.desk = idm.External(self.ctx, self.producer, self.notifier)
        for handle in (self.desk, self.notifier, self.producer):
            self.addCleanup(handle.close)
        self.ca = idm.CA.openssl(self.ctx, common_name="Python Bureau Test CA")
        self.addCleanup(self.ca.close)

    def bureau_produces(self, chip_serial):
        """The bureau answers every order in the outbox: produced, on this chip."""
        answered = spool_outbox(self.spool)
        for message_id in answered:
            drop_status(self.spool, message_id, "produced", chip_serial=chip_serial,
                        shipment="courier 42")
            os.rename(os.path.join(self.spool, "outbox", message_id + ".json"),
                      os.path.join(self.dir, message_id + ".json"))  # taken in
        self.assertEqual(self.desk.update(ACTOR), (len(answered), 0))

    def test_order_sync_update_activate(self):
        self.ctx.set_option(ACTOR, "queue_orders", True)
        ada = self.person(1)
        card = self.desk.order_card(OPERATOR, ada, CardType.EMPLOYEE, CardOption.DIGITAL)
        self.assertEqual(self.desk.sync_queue(ACTOR), (1, 0))
        chip = CardInReader()
        self.bureau_produces(chip.chip_serial)
        card.refresh()
        self.assertIs(card.state, CardState.PRODUCED)
        self.assertEqual(card.chip_serial, chip.chip_serial)

        self.desk.activate(ACTOR, card, self.encoder, self.ca)
        self.assertIs(card.state, CardState.ACTIVE)
        self.assertOnTheChip(card, CardInReader(ejected=True))
        pin = self.delivered[card.id][0]
        for cert in card.certificates():
            self.assertChainsTo(self.ca.certificate, cert.der)
        mails = os.listdir(os.path.join(self.maildir, "new"))
        self.assertEqual(len(mails), 2)  # produced, activated
        for name in mails:
            with open(os.path.join(self.maildir, "new", name), encoding="utf-8") as f:
                text = f.read()
            self.assertIn("To: ada1@example.org", text)
            self.assertNotIn(pin, text)  # pin_delivery is not "email"

    def test_another_chip_is_refused_and_the_card_stays_produced(self):
        ada = self.person(2)
        card = self.desk.order_card(OPERATOR, ada, CardType.EMPLOYEE, CardOption.DIGITAL)
        self.desk.sync_queue(ACTOR)
        self.bureau_produces("4790DEADBEEF0001")  # not the chip in the reader
        with self.assertRaises(idm.Error) as caught:
            self.desk.activate(ACTOR, card, self.encoder, self.ca)
        self.assertIn("4790DEADBEEF0001", caught.exception.message)
        card.refresh()
        self.assertIs(card.state, CardState.PRODUCED)
        self.assertTrue(CardInReader().blank, "the wrong card was written")

    def test_temporary_card_initialized_on_the_chip(self):
        self.ctx.set_option(ACTOR, "temporary_cards_per_order", 1)
        order = self.desk.order_temporary(OPERATOR, CardOption.DIGITAL, 1, "Visitor card")
        self.addCleanup(order.close)
        card, = order.cards()
        self.addCleanup(card.close)
        self.assertIs(card.state, CardState.ORDERED)
        chip = CardInReader()
        self.bureau_produces(chip.chip_serial)
        self.desk.initialize_temporary(ACTOR, card, self.encoder, self.ca)
        card.refresh()
        self.assertIs(card.state, CardState.UNASSIGNED)
        self.assertOnTheChip(card, CardInReader(ejected=True))
        visitor = self.person(9)
        self.desk.assign(OPERATOR, card, visitor)
        self.assertIs(card.state, CardState.ASSIGNED)


if __name__ == "__main__":
    unittest.main()
