#!/usr/bin/python3
"""A virtual PIV card (NIST SP 800-73-4 card edge) for Debian's vsmartcard-vpcd.

pcscd loads the vpcd reader driver (/etc/reader.conf.d/vpcd), which listens on
TCP 127.0.0.1:35963 (first slot) and 35964 (second slot).  This program is the
card: it connects to that port as a client and answers what pcscd sends.  A
connected client is a card in the reader; closing the connection removes it.

Two classes do the work:
  VirtualPivCard  - the card's state machine: APDU bytes in, APDU bytes out.
                    No I/O, so the unit tests drive it directly.
  VpcdTransport   - the vpcd wire protocol and the reconnect loop.

Only the standard library and python3-cryptography are used, so it runs with
Debian's /usr/bin/python3 without a virtualenv.
"""

import argparse
import json
import os
import secrets
import signal
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:  # cryptography >= 43 moved 3DES out of the main namespace
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # Debian 12 ships 38.x
    TripleDES = algorithms.TripleDES

# --------------------------------------------------------------------------
# Constants from SP 800-73-4 part 2 and ISO 7816-4

PIV_AID = bytes.fromhex("A000000308000010000100")
PIV_AID_PREFIX_MIN = 5          # "A0 00 00 03 08" (the RID) is enough to select

DEFAULT_PIN = b"123456"
DEFAULT_PUK = b"12345678"
DEFAULT_MGMT_KEY = bytes.fromhex("0102030405060708" * 3)
PIN_TRIES = 3
PUK_TRIES = 3

# Key references
REF_PIN = 0x80
REF_PUK = 0x81
REF_MGMT = 0x9B
KEY_SLOTS = (0x9A, 0x9C, 0x9D, 0x9E)
SLOTS_NEEDING_PIN = (0x9A, 0x9C, 0x9D)
SLOT_PIN_ALWAYS = 0x9C          # digital signature key: PIN right before use

# Algorithm identifiers: management key (symmetric)
ALG_3DES, ALG_AES128, ALG_AES192, ALG_AES256 = 0x03, 0x08, 0x0A, 0x0C
MGMT_ALGS = {  # alg id -> (key length, block length, cipher factory)
    ALG_3DES: (24, 8, TripleDES),
    ALG_AES128: (16, 16, algorithms.AES),
    ALG_AES192: (24, 16, algorithms.AES),
    ALG_AES256: (32, 16, algorithms.AES),
}
MGMT_ALG_NAMES = {"3des": ALG_3DES, "aes128": ALG_AES128,
                  "aes192": ALG_AES192, "aes256": ALG_AES256}

# Algorithm identifiers: asymmetric
ALG_RSA2048, ALG_P256, ALG_P384 = 0x07, 0x11, 0x14
EC_CURVES = {ALG_P256: (ec.SECP256R1, hashes.SHA256, 32),
             ALG_P384: (ec.SECP384R1, hashes.SHA384, 48)}

# Data objects that hold certificates (--full refuses to store them)
CERT_TAGS = {bytes.fromhex(t) for t in ("5FC105", "5FC10A", "5FC10B", "5FC101")} | {
    bytes([0x5F, 0xC1, n]) for n in range(0x0D, 0x21)}   # retired key certs
TAG_CHUID = bytes.fromhex("5FC102")
TAG_PRINTED_INFO = bytes.fromhex("5FC109")
TAG_DISCOVERY = bytes.fromhex("7E")

# GlobalPlatform card production life cycle data (GP 2.3, GET DATA 9F7F):
# the card manager's, not PIV's.  42 bytes; the fields hosts read as the chip
# serial are the IC fabricator, the IC serial number and the IC batch id.
TAG_CPLC = 0x9F7F
CPLC_IC_FABRICATOR = 0x4790
CPLC_IC_TYPE = 0x5040


def make_cplc(ic_serial, ic_batch):
    """The 42-byte CPLC record of a card whose chip has these serial (4
    bytes) and batch (2 bytes); the other fields are fixed, plausible values."""
    assert len(ic_serial) == 4 and len(ic_batch) == 2
    return (CPLC_IC_FABRICATOR.to_bytes(2, "big")
            + CPLC_IC_TYPE.to_bytes(2, "big")
            + bytes.fromhex("4791"          # operating system identifier
                            "3152"          # OS release date (YDDD)
                            "0400"          # OS release level
                            "3140")         # IC fabrication date
            + ic_serial + ic_batch
            + bytes.fromhex("4812"          # IC module fabricator
                            "3160"          # IC module packaging date
                            "0000"          # ICC manufacturer
                            "3161"          # IC embedding date
                            "0000"          # IC pre-personalizer
                            "0000"          # IC pre-perso. equipment date
                            "00000000"      # IC pre-perso. equipment id
                            "0000"          # IC personalizer
                            "0000"          # IC personalization date
                            "00000000"))    # IC perso. equipment id


def new_cplc():
    return make_cplc(secrets.token_bytes(4), secrets.token_bytes(2))


# Status words
SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY = 0x6982
SW_BLOCKED = 0x6983
SW_CONDITIONS = 0x6985
SW_WRONG_DATA = 0x6A80
SW_FUNC_NOT_SUPPORTED = 0x6A81
SW_NOT_FOUND = 0x6A82
SW_NO_MEMORY = 0x6A84
SW_WRONG_P1P2 = 0x6A86
SW_REF_NOT_FOUND = 0x6A88
SW_CHAIN_LAST_EXPECTED = 0x6883
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

# ATR: T=0 and T=1 offered; historical bytes carry card capabilities
# (73 C0 21 C0: command chaining and extended Lc/Le supported), so host
# stacks may use extended APDUs.  TCK is computed below.
def _with_tck(body):
    tck = 0
    for b in body[1:]:
        tck ^= b
    return body + bytes([tck])


DEFAULT_ATR = _with_tck(bytes.fromhex("3B858001" "80" "73C021C0"))


class CardError(Exception):
    """Ends a command with a status word and no data."""

    def __init__(self, sw):
        super().__init__("SW %04X" % sw)
        self.sw = sw


# --------------------------------------------------------------------------
# BER-TLV helpers (PIV uses definite lengths up to 3 length bytes)

def tlv(tag, value):
    """Encode one TLV; tag is an int (1..3 bytes) or bytes."""
    if isinstance(tag, int):
        tag = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82]) + n.to_bytes(2, "big")
    return tag + length + value


def parse_tlvs(data):
    """Decode a flat sequence of TLVs into a list of (tag bytes, value)."""
    out = []
    i = 0
    while i < len(data):
        start = i
        if data[i] & 0x1F == 0x1F:              # multi-byte tag
            i += 1
            while i < len(data) and data[i] & 0x80:
                i += 1
        i += 1
        tag = data[start:i]
        if i >= len(data):
            raise CardError(SW_WRONG_DATA)
        n = data[i]
        i += 1
        if n & 0x80:
            width = n & 0x7F
            if width not in (1, 2, 3) or i + width > len(data):
                raise CardError(SW_WRONG_DATA)
            n = int.from_bytes(data[i:i + width], "big")
            i += width
        if i + n > len(data):
            raise CardError(SW_WRONG_DATA)
        out.append((tag, data[i:i + n]))
        i += n
    return out


def tlv_dict(data):
    return {tag: value for tag, value in parse_tlvs(data)}


def pad_pin(pin):
    return pin + b"\xFF" * (8 - len(pin))


def is_valid_pin_block(block):
    """6 to 8 ASCII digits padded with FF to 8 bytes (SP 800-73-4 part 2 2.4.3)."""
    if len(block) != 8:
        return False
    digits = block.rstrip(b"\xFF")
    return 6 <= len(digits) <= 8 and digits.isdigit()


# --------------------------------------------------------------------------
# APDU parsing

class Apdu:
    """A parsed command APDU.  ne is the expected response length, or None."""

    def __init__(self, raw):
        if len(raw) < 4:
            raise CardError(SW_WRONG_LENGTH)
        self.cla, self.ins, self.p1, self.p2 = raw[:4]
        body = raw[4:]
        self.data = b""
        self.ne = None
        self.extended = False
        if not body:                                    # case 1
            return
        if len(body) == 1:                              # case 2 short
            self.ne = body[0] or 256
        elif body[0] == 0:                              # extended (Lc=0 is invalid in short form)
            self.extended = True
            if len(body) < 3:
                raise CardError(SW_WRONG_LENGTH)
            if len(body) == 3:                          # case 2 extended
                self.ne = int.from_bytes(body[1:3], "big") or 65536
                return
            lc = int.from_bytes(body[1:3], "big")
            self.data = body[3:3 + lc]
            rest = body[3 + lc:]
            if lc == 0 or len(self.data) != lc or len(rest) not in (0, 2):
                raise CardError(SW_WRONG_LENGTH)
            if rest:
                self.ne = int.from_bytes(rest, "big") or 65536
        else:                                           # case 3/4 short
            lc = body[0]
            self.data = body[1:1 + lc]
            rest = body[1 + lc:]
            if len(self.data) != lc or len(rest) > 1:
                raise CardError(SW_WRONG_LENGTH)
            if rest:
                self.ne = rest[0] or 256


# --------------------------------------------------------------------------
# The card

class VirtualPivCard:
    """The PIV card application as a state machine.

    process(apdu_bytes) returns the response APDU bytes, or None when the card
    'vanishes' (--vanish-after): the transport then sends an empty answer and
    drops the connection, like a card pulled out mid-command.

    Persistent state (PINs, counters, keys, data objects) lives in self.state,
    a JSON-friendly dict saved to state_path after every change; volatile
    state (PIN verified, management key authenticated, chaining buffers) is
    cleared on power off/on/reset like on a real card.
    """

    def __init__(self, state_path=None, mgmt_alg=None, mgmt_key=None,
                 no_piv=False, full=False, vanish_after=None, atr=DEFAULT_ATR,
                 hopper=False, no_cplc=False, tray=None):
        self.state_path = state_path
        self.tray = tray                # folder that keeps every card the hopper ejects
        self.no_piv = no_piv
        self.full = full
        self.hopper = hopper
        self.no_cplc = no_cplc          # no GlobalPlatform card manager (like a PIV token)
        self.changed = False            # written since the last power-on (hopper)
        self.vanish_after = vanish_after
        self.atr = atr
        self.apdu_count = 0
        self.state = self._load_or_create_state()
        # Explicit flags win over the stored state so a test can reconfigure
        # a stored card; both are checked so the card never holds a key of
        # the wrong length for its algorithm.
        if mgmt_alg is not None or mgmt_key is not None:
            alg = mgmt_alg if mgmt_alg is not None else self.state["mgmt_alg"]
            if alg not in MGMT_ALGS:
                raise ValueError("management key algorithm %02X is not one of 03, 08, 0A, 0C" % alg)
            key = mgmt_key
            if key is None:
                key = DEFAULT_MGMT_KEY if alg == ALG_3DES else bytes.fromhex(self.state["mgmt_key"])
            if len(key) != MGMT_ALGS[alg][0]:
                raise ValueError("management key is %d bytes; algorithm %02X needs %d"
                                 % (len(key), alg, MGMT_ALGS[alg][0]))
            self.state["mgmt_alg"] = alg
            self.state["mgmt_key"] = key.hex()
            self._save()
        self._keys = {}                 # slot -> private key object (cache)
        self.changed = False            # loading is not writing
        self.reset()

    # ---- persistent state ------------------------------------------------

    def _load_or_create_state(self):
        if self.state_path and os.path.exists(self.state_path):
            with open(self.state_path, "r", encoding="utf-8") as f:
                state = json.load(f)
            if "cplc" not in state:     # a state file from before the CPLC
                state["cplc"] = new_cplc().hex()
                self.state = state
                self._save()
            return state
        self.state = self._blank_state()
        self._save()
        return self.state

    @staticmethod
    def _blank_state():
        """A card as it leaves the factory: default PIN, PUK and management
        key, a chip serial and a CHUID of its own, nothing else."""
        state = {
            "pin": pad_pin(DEFAULT_PIN).hex(),
            "puk": DEFAULT_PUK.hex(),
            "pin_tries": PIN_TRIES,
            "puk_tries": PUK_TRIES,
            "mgmt_alg": ALG_3DES,
            "mgmt_key": DEFAULT_MGMT_KEY.hex(),
            "keys": {},                 # "9A" -> {"alg": 17, "pem": "..."}
            "objects": {},              # "5FC102" -> hex of the 53 TLV
            "cplc": new_cplc().hex(),   # the chip's serial: fixed for its life
        }
        # A CHUID with a random GUID gives every card its own identity, which
        # OpenSC uses as the token serial number.
        chuid = (tlv(0x30, bytes.fromhex("D4E739DA739CED39CE739D836858210842108421C84210C3EB"))
                 + tlv(0x34, secrets.token_bytes(16))
                 + tlv(0x35, b"20991231")
                 + tlv(0x3E, b"") + tlv(0xFE, b""))
        state["objects"][TAG_CHUID.hex().upper()] = tlv(0x53, chuid).hex()
        return state

    def _save(self):
        self.changed = True
        if self.state_path:
            self._write(self.state_path, self.state)

    @staticmethod
    def _write(path, state):
        # Write then rename, so a SIGTERM mid-write never leaves half a card.
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=1, sort_keys=True)
        os.replace(tmp, path)

    def ejected_path(self):
        """Where the hopper puts the last card that went through."""
        base = self.state_path[:-len(".json")] if self.state_path.endswith(".json") \
            else self.state_path
        return base + ".ejected.json"

    def chip_serial(self):
        """The chip serial as libidm reads it from the CPLC: IC fabricator,
        IC serial number and IC batch id, in upper-case hex."""
        cplc = bytes.fromhex(self.state["cplc"])
        return (cplc[0:2] + cplc[12:16] + cplc[16:18]).hex().upper()

    def _to_tray(self):
        """Keeps the card that leaves in the tray folder, as its own file
        named by its chip serial: <serial>.json, or <serial>.<n>.json when
        the same chip went through before (put back in the feeder)."""
        os.makedirs(self.tray, exist_ok=True)
        serial = self.chip_serial()
        name, n = serial + ".json", 0
        while os.path.exists(os.path.join(self.tray, name)):
            n += 1
            name = "%s.%d.json" % (serial, n)
        self._write(os.path.join(self.tray, name), self.state)

    def _private_key(self, slot):
        entry = self.state["keys"].get("%02X" % slot)
        if entry is None:
            return None, None
        if slot not in self._keys:
            self._keys[slot] = serialization.load_pem_private_key(entry["pem"].encode(), None)
        return entry["alg"], self._keys[slot]

    # ---- power and volatile state ----------------------------------------

    def reset(self):
        """Power on / off / warm reset: forget everything not persisted.

        In hopper mode a card that was written since the last reset is
        ejected and the next blank card of the stack takes its place (same
        management key, new chip serial), like a printer-encoder's feeder:
        the encoder resets the card after a personalization that went
        through, so a benchmark can personalize card after card.  The card
        that leaves goes to the output tray: with a state file, its last
        state is kept in ejected_path() (cardN.ejected.json), replacing the
        one before, so that a test can look at a card that went through;
        with a tray folder, every card that leaves is kept there too."""
        if self.hopper and self.changed:
            if self.state_path:
                self._write(self.ejected_path(), self.state)
            if self.tray:
                self._to_tray()
            alg, key = self.state["mgmt_alg"], self.state["mgmt_key"]
            self.state = self._blank_state()
            self.state["mgmt_alg"], self.state["mgmt_key"] = alg, key
            self._keys = {}
            self._save()
        self.changed = False
        self.pin_verified = False
        self.pin_always_ok = False      # VERIFY was the previous command (slot 9C)
        self.mgmt_authenticated = False
        self.mgmt_challenge = None      # (kind, expected bytes) between GA steps
        self.chain = None               # (ins, p1, p2, data) of an open command chain
        self.pending = b""              # response bytes not yet fetched (61xx)

    # ---- APDU dispatch ---------------------------------------------------

    def process(self, raw):
        self.apdu_count += 1
        if self.vanish_after is not None and self.apdu_count > self.vanish_after:
            return None
        try:
            apdu = Apdu(raw)
            return self._dispatch(apdu)
        except CardError as e:
            self.chain = None
            return e.sw.to_bytes(2, "big")

    def _dispatch(self, apdu):
        # GlobalPlatform GET DATA (CLA 80) belongs to the card manager: it
        # answers before SELECT and on a card without PIV, and like any other
        # command it ends an open chain and the PIN-always window.
        if apdu.cla == 0x80 and apdu.ins == 0xCA and not self.no_cplc:
            self.pending = b""
            self.chain = None
            self.pin_always_ok = False
            return self._respond(self._get_data_gp(apdu), apdu)
        if apdu.cla & ~0x10 != 0x00:
            raise CardError(SW_CLA_NOT_SUPPORTED)

        if apdu.ins == 0xC0:                       # GET RESPONSE
            return self._next_chunk(apdu.ne or 256)
        self.pending = b""                         # any other command drops it

        # Command chaining: collect the parts, answer 9000, run the last one.
        if apdu.cla & 0x10:
            if self.chain and self.chain[0] != apdu.ins:
                self.chain = None
                raise CardError(SW_CHAIN_LAST_EXPECTED)
            previous = self.chain[3] if self.chain else b""
            self.chain = (apdu.ins, apdu.p1, apdu.p2, previous + apdu.data)
            return SW_OK.to_bytes(2, "big")
        if self.chain:
            if self.chain[0] != apdu.ins:
                self.chain = None
                raise CardError(SW_CHAIN_LAST_EXPECTED)
            apdu.data = self.chain[3] + apdu.data
            self.chain = None

        # 9C's "PIN always" only holds for the command right after VERIFY.
        pin_always_ok = self.pin_always_ok
        self.pin_always_ok = False

        handler = self._handlers().get(apdu.ins)
        if handler is None:
            raise CardError(SW_INS_NOT_SUPPORTED)
        if self.no_piv and apdu.ins != 0xA4:
            raise CardError(SW_INS_NOT_SUPPORTED)
        data = handler(apdu, pin_always_ok) or b""
        return self._respond(data, apdu)

    def _handlers(self):
        return {
            0xA4: self._select,
            0xCB: self._get_data,
            0xDB: self._put_data,
            0x87: self._general_authenticate,
            0x47: self._generate_key,
            0x20: self._verify,
            0x24: self._change_reference_data,
            0x2C: self._reset_retry_counter,
        }

    def _respond(self, data, apdu):
        """Send what fits in Ne; keep the rest for GET RESPONSE (61xx)."""
        if apdu.ne is not None:
            limit = apdu.ne
        else:
            limit = 65536 if apdu.extended else 256
        self.pending = data
        return self._next_chunk(limit)

    def _next_chunk(self, limit):
        chunk, self.pending = self.pending[:limit], self.pending[limit:]
        if self.pending:
            remaining = min(len(self.pending), 256) & 0xFF   # 00 means 256 or more
            return chunk + bytes([0x61, remaining])
        return chunk + SW_OK.to_bytes(2, "big")

    # ---- GlobalPlatform GET DATA -----------------------------------------

    def _get_data_gp(self, apdu):
        if (apdu.p1 << 8 | apdu.p2) != TAG_CPLC:
            raise CardError(SW_REF_NOT_FOUND)
        if apdu.data:
            raise CardError(SW_WRONG_LENGTH)
        return tlv(TAG_CPLC, bytes.fromhex(self.state["cplc"]))

    # ---- SELECT ----------------------------------------------------------

    def _select(self, apdu, _pin_always_ok):
        if apdu.p1 != 0x04:
            raise CardError(SW_WRONG_P1P2)
        aid = apdu.data
        if self.no_piv or len(aid) < PIV_AID_PREFIX_MIN or not PIV_AID.startswith(aid):
            raise CardError(SW_NOT_FOUND)
        algs = b"".join(tlv(0x80, bytes([a])) for a in
                        (ALG_3DES, ALG_AES128, ALG_AES192, ALG_AES256,
                         ALG_RSA2048, ALG_P256, ALG_P384))
        return tlv(0x61, tlv(0x4F, PIV_AID[5:11])
                   + tlv(0x79, tlv(0x4F, PIV_AID))
                   + tlv(0x50, b"libidm virtual PIV")
                   + tlv(0xAC, algs + tlv(0x06, b"")))

    # ---- GET DATA / PUT DATA ---------------------------------------------

    @staticmethod
    def _object_tag(data):
        fields = parse_tlvs(data)
        if not fields or fields[0][0] != b"\x5C" or not 1 <= len(fields[0][1]) <= 3:
            raise CardError(SW_WRONG_DATA)
        return fields[0][1], fields[1:]

    def _get_data(self, apdu, _pin_always_ok):
        if (apdu.p1, apdu.p2) != (0x3F, 0xFF):
            raise CardError(SW_WRONG_P1P2)
        tag, _ = self._object_tag(apdu.data)
        # Printed Information is readable only after the PIN (part 1, table 9).
        if tag == TAG_PRINTED_INFO and not self.pin_verified:
            raise CardError(SW_SECURITY)
        stored = self.state["objects"].get(tag.hex().upper())
        if stored is not None:
            return bytes.fromhex(stored)
        if tag == TAG_DISCOVERY:
            # PIN usage policy 40 00: the PIV PIN is the only PIN.
            return tlv(0x7E, tlv(0x4F, PIV_AID) + tlv(0x5F2F, b"\x40\x00"))
        raise CardError(SW_NOT_FOUND)

    def _put_data(self, apdu, _pin_always_ok):
        if (apdu.p1, apdu.p2) != (0x3F, 0xFF):
            raise CardError(SW_WRONG_P1P2)
        if not self.mgmt_authenticated:
            raise CardError(SW_SECURITY)
        tag, rest = self._object_tag(apdu.data)
        if tag == TAG_DISCOVERY:
            # The discovery object is written whole (7E ...), not wrapped in 53.
            value = apdu.data[len(tlv(0x5C, tag)):]
        else:
            if len(rest) != 1 or rest[0][0] != b"\x53":
                raise CardError(SW_WRONG_DATA)
            value = tlv(0x53, rest[0][1])
            if not rest[0][1]:                  # an empty 53 deletes the object
                self.state["objects"].pop(tag.hex().upper(), None)
                self._save()
                return b""
        if self.full and tag in CERT_TAGS:
            raise CardError(SW_NO_MEMORY)
        self.state["objects"][tag.hex().upper()] = value.hex()
        self._save()
        return b""

    # ---- GENERAL AUTHENTICATE --------------------------------------------

    def _general_authenticate(self, apdu, pin_always_ok):
        fields = parse_tlvs(apdu.data)
        if len(fields) != 1 or fields[0][0] != b"\x7C":
            raise CardError(SW_WRONG_DATA)
        template = tlv_dict(fields[0][1])
        if apdu.p2 == REF_MGMT:
            return self._mgmt_authenticate(apdu.p1, template)
        if apdu.p2 in KEY_SLOTS:
            return self._private_key_operation(apdu.p1, apdu.p2, template, pin_always_ok)
        raise CardError(SW_REF_NOT_FOUND)

    def _mgmt_cipher(self, alg):
        if alg != self.state["mgmt_alg"]:
            raise CardError(SW_WRONG_P1P2)
        _, block, factory = MGMT_ALGS[alg]
        # ECB on exactly one block is what SP 800-73-4 specifies here.
        return Cipher(factory(bytes.fromhex(self.state["mgmt_key"])), modes.ECB()), block

    def _mgmt_authenticate(self, alg, t):
        """Management key: external (81 -> 82) or mutual (80 -> 80+81 -> 82)."""
        cipher, block = self._mgmt_cipher(alg)
        step = self.mgmt_challenge
        self.mgmt_challenge = None
        self.mgmt_authenticated = False

        # Step 1 of external authentication: the host asks for a challenge.
        if t.get(b"\x81") == b"" and b"\x80" not in t:
            challenge = secrets.token_bytes(block)
            self.mgmt_challenge = ("external", challenge)
            return tlv(0x7C, tlv(0x81, challenge))
        # Step 2 of external authentication: the host proves the key.
        if b"\x82" in t and t[b"\x82"] and step and step[0] == "external":
            encryptor = cipher.encryptor()
            expected = encryptor.update(step[1]) + encryptor.finalize()
            if not secrets.compare_digest(expected, t[b"\x82"]):
                raise CardError(SW_SECURITY)
            self.mgmt_authenticated = True
            return b""
        # Step 1 of mutual authentication: the card sends an encrypted witness.
        if t.get(b"\x80") == b"":
            witness = secrets.token_bytes(block)
            encryptor = cipher.encryptor()
            self.mgmt_challenge = ("mutual", witness)
            return tlv(0x7C, tlv(0x80, encryptor.update(witness) + encryptor.finalize()))
        # Step 2 of mutual: the host returns the decrypted witness and its own
        # challenge, which the card encrypts to prove it holds the key too.
        if t.get(b"\x80") and t.get(b"\x81") and step and step[0] == "mutual":
            if not secrets.compare_digest(step[1], t[b"\x80"]) or len(t[b"\x81"]) != block:
                raise CardError(SW_SECURITY)
            encryptor = cipher.encryptor()
            self.mgmt_authenticated = True
            return tlv(0x7C, tlv(0x82, encryptor.update(t[b"\x81"]) + encryptor.finalize()))
        raise CardError(SW_WRONG_DATA)

    def _private_key_operation(self, alg, slot, t, pin_always_ok):
        key_alg, key = self._private_key(slot)
        if key is None:
            raise CardError(SW_REF_NOT_FOUND)
        if alg != key_alg:
            raise CardError(SW_WRONG_P1P2)
        if slot in SLOTS_NEEDING_PIN and not self.pin_verified:
            raise CardError(SW_SECURITY)
        if slot == SLOT_PIN_ALWAYS and not pin_always_ok:
            raise CardError(SW_SECURITY)
        if t.get(b"\x82") != b"":
            raise CardError(SW_WRONG_DATA)

        if b"\x81" in t:                        # sign (or RSA decrypt: same math)
            data = t[b"\x81"]
            if alg == ALG_RSA2048:
                result = self._raw_rsa(key, data)
            else:
                _, hash_cls, size = EC_CURVES[alg]
                # The host sends the hash, left-truncated or zero-padded to the
                # curve size; Prehashed signs exactly those bytes.
                digest = data[:size].rjust(size, b"\x00")
                result = key.sign(digest, ec.ECDSA(utils.Prehashed(hash_cls())))
        elif b"\x85" in t and alg in EC_CURVES:     # ECDH key agreement
            try:
                peer = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, t[b"\x85"])
            except ValueError:
                raise CardError(SW_WRONG_DATA)
            result = key.exchange(ec.ECDH(), peer)
        else:
            raise CardError(SW_WRONG_DATA)
        return tlv(0x7C, tlv(0x82, result))

    @staticmethod
    def _raw_rsa(key, block):
        n = key.public_key().public_numbers().n
        size = (n.bit_length() + 7) // 8
        if len(block) != size:
            raise CardError(SW_WRONG_LENGTH)
        m = int.from_bytes(block, "big")
        if m >= n:
            raise CardError(SW_WRONG_DATA)
        return pow(m, key.private_numbers().d, n).to_bytes(size, "big")

    # ---- GENERATE ASYMMETRIC KEY PAIR ------------------------------------

    def _generate_key(self, apdu, _pin_always_ok):
        if apdu.p1 != 0x00 or apdu.p2 not in KEY_SLOTS:
            raise CardError(SW_WRONG_P1P2)
        if not self.mgmt_authenticated:
            raise CardError(SW_SECURITY)
        fields = parse_tlvs(apdu.data)
        if len(fields) != 1 or fields[0][0] != b"\xAC":
            raise CardError(SW_WRONG_DATA)
        alg = tlv_dict(fields[0][1]).get(b"\x80", b"")
        if len(alg) != 1:
            raise CardError(SW_WRONG_DATA)
        alg = alg[0]
        if alg == ALG_RSA2048:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            numbers = key.public_key().public_numbers()
            public = (tlv(0x81, numbers.n.to_bytes(256, "big"))
                      + tlv(0x82, numbers.e.to_bytes(3, "big")))
        elif alg in EC_CURVES:
            key = ec.generate_private_key(EC_CURVES[alg][0]())
            public = tlv(0x86, key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        else:
            raise CardError(SW_WRONG_DATA)
        pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        self.state["keys"]["%02X" % apdu.p2] = {"alg": alg, "pem": pem}
        self._keys[apdu.p2] = key
        self._save()
        return tlv(0x7F49, public)

    # ---- PIN and PUK -----------------------------------------------------

    def _tries_status(self, counter):
        return 0x63C0 | min(self.state[counter], 15)

    def _check_reference(self, reference, secret, counter):
        """Compare a PIN/PUK, counting down on a mismatch and blocking at 0."""
        if self.state[counter] == 0:
            raise CardError(SW_BLOCKED)
        if not secrets.compare_digest(bytes.fromhex(self.state[reference]), secret):
            self.state[counter] -= 1
            self._save()
            if reference == "pin":
                self.pin_verified = False
            raise CardError(self._tries_status(counter))
        max_tries = PIN_TRIES if counter == "pin_tries" else PUK_TRIES
        if self.state[counter] != max_tries:
            self.state[counter] = max_tries
            self._save()

    def _verify(self, apdu, _pin_always_ok):
        if apdu.p2 != REF_PIN:               # no global PIN, and the PUK is
            raise CardError(SW_REF_NOT_FOUND)  # only used by RESET RETRY COUNTER
        if apdu.p1 == 0xFF:                  # "log out": reset the PIN status
            if apdu.data:
                raise CardError(SW_WRONG_DATA)
            self.pin_verified = False
            return b""
        if apdu.p1 != 0x00:
            raise CardError(SW_WRONG_P1P2)
        if not apdu.data:                    # status query, counts nothing
            if self.state["pin_tries"] == 0:
                raise CardError(SW_BLOCKED)
            if self.pin_verified:
                return b""
            raise CardError(self._tries_status("pin_tries"))
        if len(apdu.data) != 8:
            raise CardError(SW_WRONG_DATA)
        self._check_reference("pin", apdu.data, "pin_tries")
        self.pin_verified = True
        self.pin_always_ok = True
        return b""

    def _change_reference_data(self, apdu, _pin_always_ok):
        if apdu.p1 != 0x00 or apdu.p2 not in (REF_PIN, REF_PUK):
            raise CardError(SW_REF_NOT_FOUND if apdu.p1 == 0 else SW_WRONG_P1P2)
        if len(apdu.data) != 16:
            raise CardError(SW_WRONG_DATA)
        old, new = apdu.data[:8], apdu.data[8:]
        if apdu.p2 == REF_PIN:
            if not is_valid_pin_block(new):
                raise CardError(SW_WRONG_DATA)
            self._check_reference("pin", old, "pin_tries")
            self.state["pin"] = new.hex()
        else:
            self._check_reference("puk", old, "puk_tries")
            self.state["puk"] = new.hex()
        self._save()
        return b""

    def _reset_retry_counter(self, apdu, _pin_always_ok):
        if apdu.p1 != 0x00 or apdu.p2 != REF_PIN:
            raise CardError(SW_WRONG_P1P2)
        if len(apdu.data) != 16:
            raise CardError(SW_WRONG_DATA)
        puk, new_pin = apdu.data[:8], apdu.data[8:]
        if not is_valid_pin_block(new_pin):
            raise CardError(SW_WRONG_DATA)
        self._check_reference("puk", puk, "puk_tries")
        self.state["pin"] = new_pin.hex()
        self.state["pin_tries"] = PIN_TRIES
        self.pin_verified = False
        self._save()
        return b""


# --------------------------------------------------------------------------
# The vpcd transport

VPCD_POWER_OFF, VPCD_POWER_ON, VPCD_RESET, VPCD_GET_ATR = 0, 1, 2, 4


class Stop(Exception):
    """Raised from the SIGTERM handler to leave a blocking recv()."""


class VpcdTransport:
    """Connects the card to vpcd and relays messages until stopped.

    vpcd is the server (it lives inside pcscd), so the card has to keep
    trying: pcscd may start after us, and it drops us when it restarts.
    """

    def __init__(self, card, host="127.0.0.1", port=35963, log=None):
        self.card = card
        self.host = host
        self.port = port
        self.log = log or (lambda msg: None)

    def run(self):
        backoff = 0.1
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
            except OSError as e:
                self.log("vpcd %s:%d not reachable (%s); retrying" % (self.host, self.port, e))
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            backoff = 0.1
            self.log("connected to vpcd %s:%d" % (self.host, self.port))
            try:
                if not self._serve(sock):
                    return      # the card vanished on purpose: stay removed
            except OSError as e:
                self.log("connection lost (%s); reconnecting" % e)
            finally:
                sock.close()
            self.card.reset()   # a re-inserted card starts powered down

    def _serve(self, sock):
        sock.settimeout(None)
        # Without NODELAY and QUICKACK, Nagle and delayed ACKs cost ~40 ms on
        # every APDU exchange, which makes a certificate read take seconds.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            message = self._recv_message(sock)
            if message is None:
                self.log("vpcd closed the connection")
                return True
            if len(message) == 1:
                answer = self._control(message[0])
            else:
                answer = self.card.process(message)
                if answer is None:
                    self.log("vanishing after %d APDUs" % self.card.vanish_after)
                    sock.sendall(b"\x00\x00")
                    return False
                self.log("APDU %s -> %s" % (message.hex(), answer.hex()))
            if answer is not None:
                sock.sendall(struct.pack(">H", len(answer)) + answer)

    def _control(self, code):
        if code in (VPCD_POWER_OFF, VPCD_POWER_ON, VPCD_RESET):
            self.card.reset()
            return None
        if code == VPCD_GET_ATR:
            return self.card.atr
        self.log("unknown vpcd control code %d ignored" % code)
        return None

    @staticmethod
    def _recv_exact(sock, n):
        buf = b""
        while len(buf) < n:
            if hasattr(socket, "TCP_QUICKACK"):
                # Linux clears QUICKACK after a while; re-arm it on every read.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            part = sock.recv(n - len(buf))
            if not part:
                return None
            buf += part
        return buf

    def _recv_message(self, sock):
        header = self._recv_exact(sock, 2)
        if header is None:
            return None
        length = struct.unpack(">H", header)[0]
        if length == 0:
            return b""
        return self._recv_exact(sock, length)


# --------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description="Virtual PIV card for vsmartcard-vpcd")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=35963,
                   help="vpcd port: 35963 for the first reader slot, 35964 for the second")
    p.add_argument("--state", metavar="FILE",
                   help="JSON file holding the card content across runs")
    p.add_argument("--mgmt-alg", choices=sorted(MGMT_ALG_NAMES),
                   help="management key algorithm (default 3des)")
    p.add_argument("--mgmt-key", metavar="HEX", help="management key (default 0102..08 x3)")
    p.add_argument("--no-piv", action="store_true", help="card without a PIV application")
    p.add_argument("--full", action="store_true", help="PUT DATA of certificates answers 6A84")
    p.add_argument("--vanish-after", type=int, metavar="N",
                   help="after N APDUs, answer nothing, drop the connection and exit")
    p.add_argument("--no-cplc", action="store_true",
                   help="no GlobalPlatform CPLC (chip serial): CLA 80 answers 6E00")
    p.add_argument("--hopper", action="store_true",
                   help="after a reset that follows writes, become a new blank card")
    p.add_argument("--tray", metavar="DIR",
                   help="with --hopper: keep every ejected card in DIR, as <chip serial>.json")
    p.add_argument("--verbose", "-v", action="store_true", help="log every APDU to stderr")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    log = (lambda msg: print("virtual_piv[%d]: %s" % (args.port, msg), file=sys.stderr, flush=True)) \
        if args.verbose else None

    def on_sigterm(_signum, _frame):
        raise Stop()
    signal.signal(signal.SIGTERM, on_sigterm)

    try:
        card = VirtualPivCard(
            state_path=args.state,
            mgmt_alg=MGMT_ALG_NAMES[args.mgmt_alg] if args.mgmt_alg else None,
            mgmt_key=bytes.fromhex(args.mgmt_key) if args.mgmt_key else None,
            no_piv=args.no_piv, full=args.full, vanish_after=args.vanish_after,
            hopper=args.hopper, no_cplc=args.no_cplc, tray=args.tray)
    except (ValueError, OSError) as e:
        print("virtual_piv: %s" % e, file=sys.stderr)
        return 2
    try:
        VpcdTransport(card, args.host, args.port, log).run()
    except (Stop, KeyboardInterrupt):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
