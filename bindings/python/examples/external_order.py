#!/usr/bin/env python3
"""Orders external cards from a production bureau through a spool directory.

    external_order.py STORE SPOOL MAILDIR

Orders a card for one identity, sends the queue to the bureau (the spool
producer writes SPOOL/outbox/<message id>.json), plays the bureau by
dropping a "produced" status file into SPOOL/inbox, applies it, and shows
the e-mails the maildir notifier wrote.
"""

import json
import os
import sys

import idm

ACTOR = "admin:example"


def main(argv=None):
    store, spool, maildir = (argv or sys.argv[1:])[:3]
    os.makedirs(spool, exist_ok=True)
    with idm.Context(store) as ctx:
        ctx.set_option(ACTOR, "external_production_enabled", True)
        ctx.set_option(ACTOR, "queue_orders", True)
        person = ctx.create_identity(ACTOR, "example-ext")
        person.set_attribute(ACTOR, "givenName", "Katherine")
        person.set_attribute(ACTOR, "surname", "Johnson")
        person.set_attribute(ACTOR, "mail", "katherine@example.org")
        person.set_state(ACTOR, idm.IdentityState.ACTIVE)

        producer = idm.Producer.spool(spool)
        notifier = idm.Notifier.maildir(maildir, "cards@example.org")
        with idm.External(ctx, producer, notifier) as desk:
            card = desk.order_card("operator:example", person, idm.CardType.EMPLOYEE,
                                   idm.CardOption.PHYSICAL)
            print(f"card {card.number}: {card.state.name.lower()}")
            sent, failed = desk.sync_queue(ACTOR)
            print(f"sync: {sent} sent, {failed} failed")

            # the bureau's side: a status file, written elsewhere and renamed in
            for name in os.listdir(os.path.join(spool, "outbox")):
                message_id = name[:-len(".json")]
                tmp = os.path.join(spool, "tmp", "status.json")
                with open(tmp, "w") as f:
                    json.dump({"message_id": message_id, "status": "produced",
                               "chip_serial": "EXAMPLE-0001"}, f)
                os.rename(tmp, os.path.join(spool, "inbox", message_id + ".json"))

            applied, refused = desk.update(ACTOR)
            print(f"update: {applied} applied, {refused} refused")
            card.refresh()
            print(f"card {card.number}: {card.state.name.lower()}, chip {card.chip_serial}")
        for name in sorted(os.listdir(os.path.join(maildir, "new"))):
            print(f"mail: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
