#!/usr/bin/python3
"""The helper of scripts/torture.sh: the virtual cards, the bureau and the
final checks, with Debian's python3 and python3-cryptography.

    torture.py blank CARD.json            exit 0 if the card is as it left the factory
    torture.py serial CARD.json           its chip serial, as libidm reads it
    torture.py stow CARD.json TRAY        a card taken out of a reader by hand goes to
                                          the tray (unless blank), named as the hopper
                                          names the cards it ejects
    torture.py latest TRAY SERIAL         the last state of a chip in the tray
    torture.py phase CARD.json STORE      where a kill landed in a personalization,
                                          from the chip in the reader and the store
    torture.py bureau SPOOL LEDGER CHIPS  the bureau's round: takes every order in the
                                          outbox, reports each new one in production
                                          and produced on a chip it makes (CHIPS/);
                                          prints the new orders and the files taken
    torture.py check [options]            the final checks (see check() below); prints
                                          "ok - ..." / "not ok - ..." lines and
                                          "#" details, which the script numbers

The store is read with SQLite, read-only, for what the idm tool does not
print (certificate DER, chip serials, bureau messages), as
tests/reliability/check_store.c does.
"""

import argparse
import email
import email.policy
import glob
import hashlib
import json
import os
import re
import sqlite3
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "vcard"))
import virtual_piv as vp  # noqa: E402

# PIV slot -> the data object that holds its certificate, and the usage
# libidm records for it.
SLOT_OBJECTS = {"9A": "5FC105", "9C": "5FC10A", "9D": "5FC10B", "9E": "5FC101"}
SLOT_USAGE = {"9A": "authentication", "9C": "signature", "9D": "encryption",
              "9E": "card_authentication"}
USAGES = ["authentication", "signature", "encryption", "card_authentication"]
FACTORY_PIN = vp.pad_pin(vp.DEFAULT_PIN).hex()
FACTORY_PUK = vp.DEFAULT_PUK.hex()

# States as the library numbers them (include/idm/card.h, certificate.h).
CARD_STATES = ["registered", "requested", "approved", "rejected", "aborted", "issued", "failed",
               "active", "inactive", "locked", "expired", "processing", "ordered",
               "in_production", "produced", "unassigned", "assigned"]
CERT_STATES = ["valid", "on_hold", "revoked", "expired"]
WENT_THROUGH = {"issued", "active", "inactive"}
LIVE = {"valid", "on_hold"}


# ---- cards ------------------------------------------------------------------

def load_card(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def chip_serial(card):
    cplc = bytes.fromhex(card["cplc"])
    return (cplc[0:2] + cplc[12:18]).hex().upper()


def is_blank(card):
    """As it left the factory: no key, only its CHUID, the factory PIN and PUK
    with every try left."""
    return (not card["keys"] and set(card["objects"]) == {"5FC102"}
            and card["pin"] == FACTORY_PIN and card["puk"] == FACTORY_PUK
            and card["pin_tries"] == vp.PIN_TRIES and card["puk_tries"] == vp.PUK_TRIES)


def chip_certificates(card):
    """{slot: DER} of the certificates on the chip (tag 70 of each object)."""
    out = {}
    for slot, tag in SLOT_OBJECTS.items():
        value = card["objects"].get(tag)
        if value is None:
            continue
        outer = vp.tlv_dict(bytes.fromhex(value))
        inner = vp.tlv_dict(outer[b"\x53"])
        if b"\x70" in inner:
            out[slot] = inner[b"\x70"]
    return out


def chip_public_key(card, slot):
    entry = card["keys"].get(slot)
    if entry is None:
        return None
    key = serialization.load_pem_private_key(entry["pem"].encode(), None)
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def tray_name(tray, serial):
    name, n = serial + ".json", 0
    while os.path.exists(os.path.join(tray, name)):
        n += 1
        name = "%s.%d.json" % (serial, n)
    return os.path.join(tray, name)


def tray_files(tray):
    """{serial: [paths, oldest first]} of the tray."""
    out = {}
    for path in glob.glob(os.path.join(tray, "*.json")):
        m = re.fullmatch(r"([0-9A-F]+)(?:\.(\d+))?\.json", os.path.basename(path))
        if m is None:
            continue
        out.setdefault(m.group(1), []).append((int(m.group(2) or 0), path))
    return {s: [p for _, p in sorted(v)] for s, v in out.items()}


# ---- the store --------------------------------------------------------------

def open_store(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    db.row_factory = sqlite3.Row
    return db


def store_cards(db):
    return {r["id"]: {"id": r["id"], "number": r["number"], "state": CARD_STATES[r["state"]],
                      "chip": r["chip_serial"], "production": r["production"],
                      "type": r["type"], "identity": r["identity_id"]}
            for r in db.execute("SELECT * FROM cards")}


def store_certs(db):
    usage = {}
    for r in db.execute("SELECT card_id, usage, certificate_id FROM issuances"
                        " WHERE certificate_id IS NOT NULL"):
        usage[r["certificate_id"]] = USAGES[r["usage"]] if 0 <= r["usage"] < 4 else "?"
    return {r["serial"]: {"serial": r["serial"], "card": r["card_id"], "der": bytes(r["der"]),
                          "state": CERT_STATES[r["state"]], "usage": usage.get(r["id"])}
            for r in db.execute("SELECT * FROM certificates")}


# ---- subcommands ------------------------------------------------------------

def cmd_blank(a):
    return 0 if is_blank(load_card(a.card)) else 1


def cmd_serial(a):
    print(chip_serial(load_card(a.card)))
    return 0


def cmd_stow(a):
    card = load_card(a.card)
    if is_blank(card):
        return 0
    os.makedirs(a.tray, exist_ok=True)
    path = tray_name(a.tray, chip_serial(card))
    vp.VirtualPivCard._write(path, card)
    print(path)
    return 0


def cmd_latest(a):
    files = tray_files(a.tray).get(a.serial)
    if not files:
        return 1
    print(files[-1])
    return 0


def cmd_phase(a):
    """One word for where a kill landed in the personalization of the chip
    that was in the reader (read from the chip, then the store's record of
    the card the store ties to that chip)."""
    card = load_card(a.card)
    if is_blank(card):
        print("no-write-yet")
        return 0
    db = open_store(a.store)
    row = db.execute("SELECT id, state FROM cards WHERE chip_serial = ?",
                     (chip_serial(card),)).fetchone()
    state = CARD_STATES[row["state"]] if row is not None else None
    live = 0
    if row is not None:
        live = db.execute("SELECT count(*) FROM certificates WHERE card_id = ? AND state IN (0, 1)",
                          (row["id"],)).fetchone()[0]
    if state in WENT_THROUGH:
        print("recorded-before-reset")
    elif card["pin"] != FACTORY_PIN or card["puk"] != FACTORY_PUK:
        print("pin-set-verifying")
    elif chip_certificates(card) or len(card["objects"]) > 1:
        print("writing-objects")
    elif live > 0:
        print("certs-committed")
    else:
        print("keys-generated")
    return 0


def cmd_bureau(a):
    """Takes every order file from the outbox (noting each message id, how
    many files carried it, and the card it names), then reports each new
    order in production and produced, on a blank chip the bureau makes and
    keeps in CHIPS/<serial>.json until the card is activated."""
    ledger = {"messages": {}, "files": 0}
    if os.path.exists(a.ledger):
        with open(a.ledger, encoding="utf-8") as f:
            ledger = json.load(f)
    outbox = os.path.join(a.spool, "outbox")
    inbox = os.path.join(a.spool, "inbox")
    tmp = os.path.join(a.spool, "bureau-tmp")
    os.makedirs(tmp, exist_ok=True)
    os.makedirs(a.chips, exist_ok=True)
    new, taken = [], 0
    for name in sorted(os.listdir(outbox)):
        path = os.path.join(outbox, name)
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        mid = doc["message_id"]
        if name != mid + ".json":
            raise SystemExit("bureau: outbox/%s carries message %s" % (name, mid))
        rec = ledger["messages"].get(mid)
        if rec is None:
            rec = {"card": doc["card"]["number"], "order": doc["order"]["order_id"],
                   "attempt": doc["order"]["attempt"], "files": 0, "status": "received",
                   "chip": None}
            ledger["messages"][mid] = rec
            new.append(mid)
        elif rec["card"] != doc["card"]["number"]:
            rec.setdefault("other_cards", []).append(doc["card"]["number"])
        rec["files"] += 1
        ledger["files"] += 1
        taken += 1
        os.unlink(path)
    seq = ledger.get("seq", 0)
    for mid in new:
        card = vp.VirtualPivCard._blank_state()
        serial = chip_serial(card)
        vp.VirtualPivCard._write(os.path.join(a.chips, serial + ".json"), card)
        ledger["messages"][mid].update(status="produced", chip=serial)
        for doc in ({"message_id": mid, "status": "in_production"},
                    {"message_id": mid, "status": "produced", "chip_serial": serial,
                     "shipment": "DHL " + hashlib.sha256(mid.encode()).hexdigest()[:12]}):
            seq += 1
            name = "%08d-%s-%s.json" % (seq, mid, doc["status"])
            vp.VirtualPivCard._write(os.path.join(tmp, name), doc)
            os.rename(os.path.join(tmp, name), os.path.join(inbox, name))
    ledger["seq"] = seq
    with open(a.ledger + ".tmp", "w", encoding="utf-8") as f:
        json.dump(ledger, f, indent=1, sort_keys=True)
    os.replace(a.ledger + ".tmp", a.ledger)
    print(len(new), taken)
    return 0


# ---- the final checks -------------------------------------------------------

class Report:
    def __init__(self):
        self.failed = 0

    def check(self, name, problems, limit=10):
        if problems:
            self.failed += 1
            print("not ok - %s" % name)
            for p in problems[:limit]:
                print("#   %s" % p)
            if len(problems) > limit:
                print("#   ... and %d more" % (len(problems) - limit))
        else:
            print("ok - %s" % name)


def read_letters(pins):
    """{card number: (path, pin, puk)} of the current letters, and the
    superseded ones (<number>.pin.<n>) as a list."""
    current, superseded = {}, []
    for path in sorted(glob.glob(os.path.join(pins, "*"))):
        base = os.path.basename(path)
        m = re.fullmatch(r"(\d+)\.pin(?:\.(\d+))?", base)
        if m is None:
            current.setdefault("?", []).append(path)
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        pin = re.search(r"^PIN (\d+)$", text, re.M)
        puk = re.search(r"^PUK (\d+)$", text, re.M)
        entry = (path, pin.group(1) if pin else None, puk.group(1) if puk else None)
        if m.group(2) is None:
            current[m.group(1)] = entry
        else:
            superseded.append(entry)
    return current, superseded


def check(a):
    r = Report()
    db = open_store(a.store)
    cards = store_cards(db)
    certs = store_certs(db)
    by_chip = {c["chip"]: c for c in cards.values() if c["chip"] is not None}
    by_der = {c["der"]: c for c in certs.values()}
    with open(a.ca_cert, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(a.crl, "rb") as f:
        crl = x509.load_pem_x509_crl(f.read())
    crl_serials = {"%X" % e.serial_number for e in crl}

    # ---- certificates in the store
    problems = []
    live_by_card = {}
    for c in certs.values():
        cert = x509.load_der_x509_certificate(c["der"])
        if "%X" % cert.serial_number != c["serial"].lstrip("0").upper():
            problems.append("certificate %s: its DER has serial %X" % (c["serial"],
                                                                         cert.serial_number))
        try:
            key = ca.public_key()
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(cert.signature, cert.tbs_certificate_bytes,
                           ec.ECDSA(cert.signature_hash_algorithm))
            else:
                key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                           cert.signature_hash_algorithm)
        except Exception as e:  # any failure is the finding
            problems.append("certificate %s does not verify against the CA: %r" % (c["serial"], e))
        if c["state"] in LIVE:
            live_by_card.setdefault(c["card"], []).append(c)
        if c["state"] == "revoked" and c["serial"].lstrip("0").upper() not in crl_serials:
            problems.append("certificate %s is revoked but not in the CRL" % c["serial"])
    r.check("%d certificates in the store, each signed by the CA, every revoked one in the CRL"
            % len(certs), problems)

    problems = []
    for card_id, live in live_by_card.items():
        card = cards[card_id]
        usages = [c["usage"] for c in live]
        if len(set(usages)) != len(usages):
            problems.append("card %s has two live certificates of one usage: %s"
                            % (card["number"], sorted(usages)))
        if card["state"] not in WENT_THROUGH:
            problems.append("card %s is '%s' and has live certificates %s"
                            % (card["number"], card["state"], [c["serial"] for c in live]))
    for card in cards.values():
        if card["state"] in WENT_THROUGH and len(live_by_card.get(card["id"], [])) != a.slots:
            problems.append("card %s is '%s' with %d live certificates, not %d"
                            % (card["number"], card["state"],
                               len(live_by_card.get(card["id"], [])), a.slots))
    r.check("no duplicate certificate: each card that went through has exactly one live "
            "certificate per slot (%d), the others none" % a.slots, problems)

    # ---- every chip there is: tray, readers, the bureau's warehouse
    chips = {}  # serial -> (where, card state): the last state of each chip
    for serial, paths in tray_files(a.tray).items():
        chips[serial] = (paths[-1], load_card(paths[-1]))
    for path in a.reader + sorted(glob.glob(os.path.join(a.chips, "*.json"))):
        card = load_card(path)
        chips[chip_serial(card)] = (path, card)  # a chip in a reader is newer than its tray copy
    problems, spoiled, good, blank = [], 0, 0, 0
    seen = set()
    for serial, (path, chip) in sorted(chips.items()):
        on_chip = chip_certificates(chip)
        if is_blank(chip):
            blank += 1
        for slot, der in on_chip.items():
            ours = by_der.get(der)
            if ours is None:
                problems.append("chip %s (%s) slot %s holds a certificate the store does not "
                                "know" % (serial, path, slot))
                continue
            cert = x509.load_der_x509_certificate(der)
            spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
            if spki != chip_public_key(chip, slot):
                problems.append("chip %s slot %s: certificate %s is not for the key in the slot"
                                % (serial, slot, ours["serial"]))
            if ours["usage"] != SLOT_USAGE[slot]:
                problems.append("chip %s slot %s holds a %s certificate" % (serial, slot,
                                                                             ours["usage"]))
        owner = by_chip.get(serial)
        if owner is not None and owner["state"] in WENT_THROUGH:
            seen.add(owner["id"])
            good += 1
            want = sorted(c["serial"] for c in live_by_card.get(owner["id"], []))
            have = sorted(by_der[d]["serial"] for d in on_chip.values() if d in by_der)
            if want != have:
                problems.append("chip %s of card %s holds %s; the card's live certificates are %s"
                                % (serial, owner["number"], have, want))
        else:
            if on_chip or chip["keys"]:
                spoiled += 1
            for der in on_chip.values():
                c = by_der.get(der)
                if c is not None and c["state"] != "revoked":
                    problems.append("chip %s (%s), tied to %s, holds certificate %s of card %s, "
                                    "which is '%s'"
                                    % (serial, path, owner["number"] if owner else "no card",
                                       c["serial"], cards[c["card"]]["number"], c["state"]))
    for card in cards.values():
        if card["state"] in WENT_THROUGH and card["id"] not in seen:
            problems.append("card %s is '%s' on chip %s, which is in no tray, reader or "
                            "warehouse" % (card["number"], card["state"], card["chip"]))
    r.check("every chip (%d: %d went through, %d spoiled, %d blank) holds only certificates "
            "the store knows, each for the key in its slot; a chip the store ties to a card "
            "that went through holds exactly that card's live certificates; every other chip "
            "only revoked ones; no card that went through is lost"
            % (len(chips), good, spoiled, blank), problems)

    # ---- PIN letters
    letters, superseded = read_letters(a.pins)
    problems = ["a file that is not a PIN letter: %s" % p for p in letters.pop("?", [])]
    for card in cards.values():
        if card["state"] not in WENT_THROUGH:
            continue
        letter = letters.get(card["number"])
        if letter is None:
            problems.append("card %s has no PIN letter" % card["number"])
            continue
        path, pin, puk = letter
        if os.stat(path).st_mode & 0o777 != 0o600:
            problems.append("%s is mode %o" % (path, os.stat(path).st_mode & 0o777))
        chip = chips.get(card["chip"])
        if pin is None or puk is None:
            problems.append("%s has no PIN or PUK" % path)
        elif chip is not None and (vp.pad_pin(pin.encode()).hex() != chip[1]["pin"]
                                   or puk.encode().hex() != chip[1]["puk"]):
            problems.append("%s does not open chip %s of card %s" % (path, card["chip"],
                                                                      card["number"]))
    numbers = {c["number"] for c in cards.values()}
    for number in letters:
        if number not in numbers:
            problems.append("PIN letter %s.pin is for no card of the store" % number)
    r.check("%d PIN letters, one per card that went through (mode 0600), each with the PIN "
            "and PUK of the card's chip (%d superseded letters kept)"
            % (len(letters), len(superseded)), problems)

    problems = []
    # every run of 6 to 8 digits that is a word of its own (a certificate
    # serial in hex may well start with a PIN's digits), in each file
    numbers_in = {}
    for path in glob.glob(a.store + "*") + ([a.audit] if a.audit else []):
        with open(path, "rb") as f:
            numbers_in[path] = set(re.findall(rb"(?<![0-9A-Za-z])[0-9]{6,8}(?![0-9A-Za-z])",
                                              f.read()))
    for path, pin, puk in list(letters.values()) + superseded:
        for secret in (pin, puk):
            for where, numbers in numbers_in.items():
                if secret and secret.encode() in numbers:
                    problems.append("the secret of %s is in %s" % (path, where))
    r.check("no PIN or PUK of any letter in the store files or the audit export", problems)

    # ---- the bureau
    if a.ledger:
        ledger = {"messages": {}, "files": 0}
        if os.path.exists(a.ledger):
            with open(a.ledger, encoding="utf-8") as f:
                ledger = json.load(f)
        problems = []
        ids_by_card = {}
        for mid, rec in ledger["messages"].items():
            ids_by_card.setdefault(rec["card"], []).append(mid)
            if rec.get("other_cards"):
                problems.append("message %s carried card %s and %s" % (mid, rec["card"],
                                                                       rec["other_cards"]))
        stored = {}
        for row in db.execute("SELECT message_id, card_id, attempt FROM bureau_messages"):
            stored[row["message_id"]] = cards[row["card_id"]]["number"]
        for number, mids in ids_by_card.items():
            if len(mids) != 1:
                problems.append("card %s was ordered under %d message ids: %s"
                                % (number, len(mids), sorted(mids)))
        for mid, rec in ledger["messages"].items():
            if stored.get(mid) != rec["card"]:
                problems.append("the bureau got message %s for card %s; the store has %s"
                                % (mid, rec["card"], stored.get(mid)))
        external = [c for c in cards.values() if c["production"] == 1]
        for card in external:
            mids = ids_by_card.get(card["number"], [])
            if len(mids) != 1:
                problems.append("external card %s ('%s') reached the bureau %d times"
                                % (card["number"], card["state"], len(mids)))
            elif card["state"] not in ("produced", "active"):
                problems.append("external card %s is '%s'; the bureau produced it"
                                % (card["number"], card["state"]))
            elif card["chip"] != ledger["messages"][mids[0]]["chip"]:
                problems.append("external card %s has chip %s; the bureau made it on %s"
                                % (card["number"], card["chip"],
                                   ledger["messages"][mids[0]]["chip"]))
        r.check("no duplicate bureau order: %d external cards, each under one message id "
                "across the %d order files the bureau took, each produced or active on the "
                "bureau's chip" % (len(external), ledger["files"]), problems)
    # ---- the e-mails: each notification of each card under one Message-ID
    # (a kill between the delivery and its record makes a repeat, with the
    # same id, which a receiver drops), and every card told what happened
    if a.maildir:
        problems, files, ids = [], 0, {}
        for path in sorted(glob.glob(os.path.join(a.maildir, "new", "*")) +
                           glob.glob(os.path.join(a.maildir, "cur", "*"))):
            files += 1
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            m = re.search(r"card (\d+)", str(msg["Subject"]))
            kind, mid = str(msg["X-Libidm-Notification"]), str(msg["Message-ID"])
            if m is None or not mid:
                problems.append("%s is not a notification of a card" % path)
                continue
            ids.setdefault((m.group(1), kind), set()).add(mid)
        want = {"ordered": ["card_ordered"], "in_production": ["card_ordered"],
                "produced": ["card_ordered", "card_produced"],
                "active": ["card_ordered", "card_produced", "card_activated"]}
        told = 0
        for card in cards.values():
            if card["production"] != 1:
                continue
            for kind in want.get(card["state"], []):
                got = ids.get((card["number"], kind), set())
                if len(got) != 1:
                    problems.append("card %s ('%s'): %d '%s' e-mails under different ids: %s"
                                    % (card["number"], card["state"], len(got), kind, sorted(got)))
                else:
                    told += 1
        numbers = {c["number"] for c in cards.values()}
        for (number, kind), got in ids.items():
            if number not in numbers:
                problems.append("an e-mail about card %s, which the store does not know" % number)
        r.check("%d e-mails (%d repeats of a notification): every external card told it was "
                "ordered, produced and activated as far as it got, each notification under one "
                "Message-ID" % (files, files - sum(len(v) for v in ids.values())), problems)
    return 1 if r.failed else 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("blank")
    s.add_argument("card")
    s = sub.add_parser("serial")
    s.add_argument("card")
    s = sub.add_parser("stow")
    s.add_argument("card")
    s.add_argument("tray")
    s = sub.add_parser("latest")
    s.add_argument("tray")
    s.add_argument("serial")
    s = sub.add_parser("phase")
    s.add_argument("card")
    s.add_argument("store")
    s = sub.add_parser("bureau")
    s.add_argument("spool")
    s.add_argument("ledger")
    s.add_argument("chips")
    s = sub.add_parser("check")
    s.add_argument("--store", required=True)
    s.add_argument("--ca-cert", required=True)
    s.add_argument("--crl", required=True)
    s.add_argument("--tray", required=True)
    s.add_argument("--reader", action="append", default=[])
    s.add_argument("--chips", required=True)
    s.add_argument("--pins", required=True)
    s.add_argument("--ledger")
    s.add_argument("--audit")
    s.add_argument("--maildir")
    s.add_argument("--slots", type=int, default=4)
    a = p.parse_args(argv)
    return {"blank": cmd_blank, "serial": cmd_serial, "stow": cmd_stow, "latest": cmd_latest,
            "phase": cmd_phase, "bureau": cmd_bureau, "check": check}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
