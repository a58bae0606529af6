#!/usr/bin/env python3
"""Plays a card production bureau against a libidm spool directory.

    bureau.py SPOOL_DIR --rounds N --seed S --fail-every K --ledger LEDGER.json

Each round the bureau takes its mail and answers it, as a bureau on the
other side of the spool producer of <idm/producer.h> would:

  * every outbox/*.json order is read and removed; a message id the ledger
    already knows is the same order again (counted in "seen", never produced
    a second time); outbox/*.cancel.json requests are read and removed, and
    mark their message cancelled;
  * every order received in an earlier round or this one goes
    in_production, and in the round after that produced (with a chip serial
    "BUR" + 8 hex digits and a shipment derived from the message id), or
    failed with a reason when it is the K-th, 2K-th, ... first attempt the
    bureau received (later attempts are always produced; K = 0: none fail);
  * the bad files are sprinkled once each, as soon as what they need is
    there: a malformed file, one with an unknown member, a status for an
    unknown message id, a copy of a status file (same content, new name),
    two names a spool must refuse ("..evil.json", "a b.json"), a 70 KiB
    file, and "in_production" for a card already reported produced.

Status files are written to SPOOL_DIR/bureau-tmp/ and renamed into
inbox/, named "<sequence>-<message id>-<status>.json" so that the
library, which reads the inbox in name order, sees them in the order they
were written.  The ledger (JSON, one order or file per line, so that a C
test can read it without a JSON library) keeps every order and every file
with what the library should do with it: "processed" or "quarantine", and
for a bad file its "problem".  Standard library only; exits 0, or 2 with a
message on stderr when the library's mail is not what a bureau accepts.
"""

import argparse
import hashlib
import json
import os
import random
import sys

FORMAT = "libidm-card-order/1"
LEDGER_FORMAT = "libidm-test-bureau-ledger/1"
UNKNOWN_ID = "idm-000000000000-o999-c999-a1"
OVERSIZED = 70 * 1024


class BadMail(Exception):
    """The library wrote something a bureau cannot accept."""


def new_ledger(seed):
    return {"format": LEDGER_FORMAT, "seed": seed, "rounds": 0, "next_file": 1,
            "first_attempts": 0, "sprinkled": [], "cancels": [], "orders": [], "files": []}


def load_ledger(path, seed):
    if not os.path.exists(path):
        return new_ledger(seed)
    with open(path, encoding="utf-8") as f:
        ledger = json.load(f)
    if ledger.get("format") != LEDGER_FORMAT:
        raise BadMail("%s is not a bureau ledger" % path)
    return ledger


def write_atomic(tmp_dir, final_path, data):
    """Writes data (bytes) to final_path through tmp_dir (same filesystem),
    so the reader sees the whole file or none."""
    tmp = os.path.join(tmp_dir, "w-%d-%s" % (os.getpid(), os.path.basename(final_path)))
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, final_path)


def save_ledger(path, ledger):
    scalars = [k for k in ledger if k not in ("orders", "files")]
    lines = ["{"]
    for k in scalars:
        lines.append(" %s: %s," % (json.dumps(k), json.dumps(ledger[k], sort_keys=True)))
    for section in ("orders", "files"):
        lines.append(" %s: [" % json.dumps(section))
        records = [json.dumps(r, sort_keys=True) for r in ledger[section]]
        lines.append(",\n".join("  " + r for r in records))
        lines.append(" ]%s" % ("," if section == "orders" else ""))
    lines.append("}")
    tmp_dir = os.path.dirname(os.path.abspath(path))
    write_atomic(tmp_dir, path, ("\n".join(lines) + "\n").encode("utf-8"))


def chip_serial(message_id):
    return "BUR" + hashlib.sha256(message_id.encode("ascii")).hexdigest()[:8].upper()


def shipment(message_id):
    digest = hashlib.sha256(("ship:" + message_id).encode("ascii")).hexdigest()
    return "DHL 00340434%012d" % (int(digest[:15], 16) % 10 ** 12)


def check_order(name, doc):
    """The order message as <idm/producer.h> and doc/backends.md describe it."""
    mid = name[:-len(".json")]
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BadMail("%s: format is not %s" % (name, FORMAT))
    if doc.get("message_id") != mid:
        raise BadMail("%s: message_id %r is not the file's name" % (name, doc.get("message_id")))
    order, card = doc.get("order"), doc.get("card")
    if not isinstance(order, dict) or not isinstance(card, dict):
        raise BadMail("%s: no order or card object" % name)
    attempt = order.get("attempt")
    if not isinstance(attempt, int) or not mid.endswith("-a%d" % attempt):
        raise BadMail("%s: attempt %r does not match the message id" % (name, attempt))
    if not mid.startswith("idm-") or ("-o%s-" % order.get("order_id")) not in mid:
        raise BadMail("%s: order_id %r does not match the message id"
                      % (name, order.get("order_id")))
    number = card.get("number")
    if not isinstance(number, str) or not number:
        raise BadMail("%s: card number %r" % (name, number))
    if "holder" not in doc or "requested_by" not in doc:
        raise BadMail("%s: no holder or requested_by" % name)
    return mid, number, order.get("order_id"), attempt


def take_mail(spool, ledger, rnd, fail_every):
    """Reads and removes everything in outbox/; returns the new orders."""
    outbox = os.path.join(spool, "outbox")
    by_id = {o["message_id"]: o for o in ledger["orders"]}
    new = []
    for name in sorted(os.listdir(outbox)):
        path = os.path.join(outbox, name)
        if not name.endswith(".json") or name.startswith("."):
            raise BadMail("outbox/%s is not a message file" % name)
        with open(path, "rb") as f:
            raw = f.read()
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise BadMail("outbox/%s is not JSON: %s" % (name, e)) from e
        if name.endswith(".cancel.json"):
            mid = doc.get("cancel") if isinstance(doc, dict) else None
            if mid != name[:-len(".cancel.json")]:
                raise BadMail("outbox/%s: cancel %r is not the file's id" % (name, mid))
            if mid not in ledger["cancels"]:
                ledger["cancels"].append(mid)
            if mid in by_id and by_id[mid]["status"] not in ("produced", "failed"):
                by_id[mid]["status"] = "cancelled"
        else:
            mid, number, order_id, attempt = check_order(name, doc)
            if mid in by_id:
                by_id[mid]["seen"] += 1  # the same order again: never produced twice
            else:
                rec = {"message_id": mid, "card": number, "order_id": order_id,
                       "attempt": attempt, "seen": 1, "received_round": rnd,
                       "status": "received", "status_round": rnd, "produced": 0,
                       "chip_serial": None, "shipment": None, "reason": None, "fail": False}
                if mid in ledger["cancels"]:
                    rec["status"] = "cancelled"
                if attempt == 1:
                    ledger["first_attempts"] += 1
                    rec["fail"] = fail_every > 0 and ledger["first_attempts"] % fail_every == 0
                ledger["orders"].append(rec)
                by_id[mid] = rec
                new.append(rec)
        os.unlink(path)
    return new


class Writer:
    """Drops status files into the inbox and notes them in the ledger."""

    def __init__(self, spool, ledger):
        self.inbox = os.path.join(spool, "inbox")
        self.tmp = os.path.join(spool, "bureau-tmp")
        os.makedirs(self.tmp, exist_ok=True)
        self.ledger = ledger
        self.contents = {}  # file name -> bytes, this round

    def name(self, label):
        seq = self.ledger["next_file"]
        self.ledger["next_file"] += 1
        return "%06d-%s.json" % (seq, label)

    def put(self, name, data, expect, message_id=None, status=None, problem=None):
        write_atomic(self.tmp, os.path.join(self.inbox, name), data)
        self.contents[name] = data
        self.ledger["files"].append({"name": name, "message_id": message_id, "status": status,
                                     "expect": expect, "problem": problem, "bytes": len(data),
                                     "round": self.ledger["rounds"]})

    def status(self, rec, word, **extra):
        doc = {"message_id": rec["message_id"], "status": word}
        doc.update(extra)
        name = self.name("%s-%s" % (rec["message_id"], word))
        self.put(name, json.dumps(doc).encode("utf-8"), "processed", rec["message_id"], word)
        return name


def produce(ledger, writer, rnd, rng):
    """Moves every live order one step: received -> in_production (this
    round), in_production of an earlier round -> produced | failed."""
    written = []
    for rec in ledger["orders"]:
        if rec["status"] == "in_production" and rec["status_round"] < rnd:
            if rec["fail"]:
                rec["reason"] = "%s on line %d" % (rng.choice(
                    ["printer jam", "chip did not answer", "lamination flaw"]), rng.randint(1, 9))
                written.append((rec, writer.status(rec, "failed", reason=rec["reason"])))
                rec["status"] = "failed"
            else:
                if rec["produced"] > 0:
                    raise AssertionError("bureau would produce %s twice" % rec["message_id"])
                rec["chip_serial"] = chip_serial(rec["message_id"])
                rec["shipment"] = shipment(rec["message_id"])
                rec["produced"] += 1
                written.append((rec, writer.status(rec, "produced",
                                                   chip_serial=rec["chip_serial"],
                                                   shipment=rec["shipment"])))
                rec["status"] = "produced"
            rec["status_round"] = rnd
        elif rec["status"] == "received":
            written.append((rec, writer.status(rec, "in_production")))
            rec["status"] = "in_production"
            rec["status_round"] = rnd
    return written


def sprinkle(ledger, writer, rnd, written):
    """The bad files, each kind once, as soon as it can be made."""
    done = ledger["sprinkled"]
    some = written[0][0] if written else (ledger["orders"][0] if ledger["orders"] else None)
    some_id = some["message_id"] if some is not None else UNKNOWN_ID

    def bad(kind, name, data, expect="quarantine", message_id=None, status=None):
        writer.put(name, data, expect, message_id, status, kind)

    if "malformed" not in done:
        bad("malformed", writer.name("malformed"),
            ('{"message_id": "%s", "status": "in_produ' % some_id).encode("ascii"))
        done.append("malformed")
    if "unknown_member" not in done and some is not None:
        doc = {"message_id": some_id, "status": "in_production", "priority": "high"}
        bad("unknown_member", writer.name("unknown-member"), json.dumps(doc).encode("ascii"),
            message_id=some_id, status="in_production")
        done.append("unknown_member")
    if "unknown_card" not in done:
        doc = {"message_id": UNKNOWN_ID, "status": "in_production"}
        bad("unknown_card", writer.name("%s-in_production" % UNKNOWN_ID),
            json.dumps(doc).encode("ascii"), message_id=UNKNOWN_ID, status="in_production")
        done.append("unknown_card")
    if "path_trick" not in done and some is not None:
        doc = json.dumps({"message_id": some_id, "status": "in_production"}).encode("ascii")
        for name in ("..evil.json", "a b.json"):
            bad("path_trick", name, doc, message_id=some_id, status="in_production")
        done.append("path_trick")
    if "oversized" not in done:
        doc = {"message_id": UNKNOWN_ID, "status": "failed", "reason": ""}
        pad = OVERSIZED - len(json.dumps(doc))
        doc["reason"] = "x" * pad
        data = json.dumps(doc).encode("ascii")
        assert len(data) == OVERSIZED
        bad("oversized", writer.name("oversized"), data, message_id=UNKNOWN_ID, status="failed")
        done.append("oversized")
    # A copy of a file written this round: the library applies the original
    # first (name order), so the copy repeats a report it has: processed.
    if "duplicate" not in done and written:
        rec, original = written[-1]
        bad("duplicate", writer.name("%s-%s-again" % (rec["message_id"], rec["status"])),
            writer.contents[original], expect="processed", message_id=rec["message_id"],
            status=rec["status"])
        done.append("duplicate")
    # For a card whose "produced" the library has, or reads just before
    # these files: "failed" contradicts it (quarantined); "in_production" is
    # an old report delivered again, as bureaus that deliver at least once
    # do (processed, no change).
    produced = [r for r in ledger["orders"] if r["status"] == "produced"]
    if "contradicts" not in done and produced:
        earlier = [r for r in produced if r["status_round"] < rnd]
        rec = (earlier or produced)[0]
        doc = {"message_id": rec["message_id"], "status": "failed", "reason": "late news"}
        bad("contradicts", writer.name("%s-failed-contradicts" % rec["message_id"]),
            json.dumps(doc).encode("ascii"), message_id=rec["message_id"], status="failed")
        doc = {"message_id": rec["message_id"], "status": "in_production"}
        bad("late_repeat", writer.name("%s-in_production-late" % rec["message_id"]),
            json.dumps(doc).encode("ascii"), expect="processed", message_id=rec["message_id"],
            status="in_production")
        done.append("contradicts")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("spool")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fail-every", type=int, default=0)
    p.add_argument("--ledger", required=True)
    a = p.parse_args(argv)
    try:
        ledger = load_ledger(a.ledger, a.seed)
        for _ in range(a.rounds):
            ledger["rounds"] += 1
            rnd = ledger["rounds"]
            rng = random.Random("%d/%d" % (ledger["seed"], rnd))
            new = take_mail(a.spool, ledger, rnd, a.fail_every)
            writer = Writer(a.spool, ledger)
            written = produce(ledger, writer, rnd, rng)
            sprinkle(ledger, writer, rnd, written)
            print("bureau round %d: %d new orders, %d status files" %
                  (rnd, len(new), len(writer.contents)), file=sys.stderr)
        save_ledger(a.ledger, ledger)
    except BadMail as e:
        print("bureau: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
