#!/usr/bin/env python3
"""Mass-produces a small batch of Physical ID employee cards from Python.

    mass_production.py STORE [--cards N] [--pcsc READER]

Without --pcsc the cards go into an encoder written in Python that keeps
each card in memory (a stand-in for a printer/encoder SDK); with --pcsc
READER the built-in PC/SC encoder personalizes real PIV cards.  The hooks
print the progress; Ctrl-C in a hook cancels the run cleanly (the card in
hand stays approved and pending) and the KeyboardInterrupt reaches here.
"""

import argparse
import sys

import idm

ACTOR = "admin:example"


class MemoryEncoder:
    """The methods of idm_encoder_ops, keeping the card in memory."""

    def __init__(self):
        self.serial = 0
        self.objects = {}
        self.pin = None

    def open(self, timeout_ms):
        pass

    def card_serial(self):
        return f"MEM-{self.serial:04d}"

    def write_certificate(self, slot, der):
        raise idm.UnsupportedError("Physical ID only")

    def write_object(self, obj, value):
        self.objects[obj] = value

    def read_object(self, obj):
        return self.objects[obj]

    def set_pin(self, pin, puk):
        self.pin = pin

    def verify_pin(self, pin):
        if pin != self.pin:
            raise idm.CardError("wrong PIN")

    def close(self, success):
        if success:
            self.objects = {}
            self.serial += 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--cards", type=int, default=3)
    parser.add_argument("--pcsc", metavar="READER")
    args = parser.parse_args(argv)

    with idm.Context(args.store) as ctx:
        ctx.set_option(ACTOR, "pin_source", "generated")
        for i in range(args.cards):
            person = ctx.create_identity(ACTOR, f"example-{i}")
            person.set_attribute(ACTOR, "givenName", "Grace")
            person.set_attribute(ACTOR, "surname", f"Hopper {i}")
            person.set_state(ACTOR, idm.IdentityState.ACTIVE)
            card = ctx.create_card(ACTOR, idm.CardType.EMPLOYEE, idm.CardOption.PHYSICAL,
                                   idm.Production.LOCAL, identity_id=person)
            card.set_state(ACTOR, idm.CardState.REQUESTED)
            card.set_state(ACTOR, idm.CardState.APPROVED)
        order = ctx.create_order(ACTOR, idm.OrderKind.MASS_PRODUCTION, idm.CardType.EMPLOYEE,
                                 idm.CardOption.PHYSICAL)
        print(f"order {order.id}: {order.add_approved(ACTOR)} cards")

        if args.pcsc:
            encoder = idm.Encoder.pcsc(ctx, reader=args.pcsc)
        else:
            encoder = idm.Encoder(MemoryEncoder())
        # the PIN letters: a real station prints them
        encoder.set_pin_callbacks(
            delivery=lambda card, pin, puk: print(f"  PIN letter for card {card.number}"))

        def progress(order, card_id, outcome):
            produced = order.count_cards(idm.OrderCardOutcome.PRODUCED)
            print(f"  card {card_id}: {outcome.name.lower()} ({produced} produced)")

        with idm.Station(order, "example-station", encoder) as station:
            idm.run_production(station, ACTOR, {"progress": progress})
        order.refresh()
        print(f"order {order.id}: {order.state.name.lower()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
