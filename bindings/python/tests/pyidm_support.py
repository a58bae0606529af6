"""Helpers of the backend and workflow tests: a store per test, people and
cards, an in-memory encoder written in Python (after tests/unit/mem_encoder.c)
and a CA written in Python that signs with the openssl tool."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import idm
from idm import CardOption, CardState, CardType, IdentityState, Production

ACTOR = "admin:python-workflow"
HAVE_OPENSSL = shutil.which("openssl") is not None


class StoreTest(unittest.TestCase):
    """A fresh store in a temporary directory for every test."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name
        self.ctx = idm.Context(os.path.join(self.dir, "idm.db"))
        self.addCleanup(self.ctx.close)
        self.addCleanup(self.assertNoPending)

    def assertNoPending(self):
        self.assertFalse(idm._callbacks.has_pending(), "an exception was left behind")

    def person(self, n, active=True):
        identity = self.ctx.create_identity(ACTOR, f"emp-{n}")
        identity.set_attribute(ACTOR, "givenName", "Ada")
        identity.set_attribute(ACTOR, "surname", f"Lovelace{n}")
        identity.set_attribute(ACTOR, "mail", f"ada{n}@example.org")
        if active:
            identity.set_state(ACTOR, IdentityState.ACTIVE)
        return identity

    def approved_card(self, identity, option=CardOption.PHYSICAL):
        card = self.ctx.create_card(ACTOR, CardType.EMPLOYEE, option, Production.LOCAL,
                                    identity_id=identity)
        card.set_state(ACTOR, CardState.REQUESTED)
        card.set_state(ACTOR, CardState.APPROVED)
        return card


def drop_status(spool, message_id, status, **fields):
    """A status file in the spool producer's inbox, as a bureau drops it
    (written in tmp/, then renamed)."""
    name = f"{message_id}.{status}.json"
    tmp = os.path.join(spool, "tmp", name)
    with open(tmp, "w") as f:
        json.dump(dict(message_id=message_id, status=status, **fields), f)
    os.rename(tmp, os.path.join(spool, "inbox", name))


def spool_outbox(spool):
    """The message ids of the orders waiting in the spool producer's outbox."""
    return sorted(n[:-len(".json")] for n in os.listdir(os.path.join(spool, "outbox")))


class MemCard:
    """An encoder written in Python that keeps the card in memory; a
    successful close ejects the card and the next one is blank.  With
    keys=True it generates EC P-256 keys and signs with the openssl tool."""

    def __init__(self, workdir=None, prefix="PY"):
        self.workdir = workdir
        self.prefix = prefix
        self.serial_no = 0
        self.objects = {}
        self.keys = {}
        self.pin = None
        self.puk = None
        self.calls = []
        self.fail = {}  # method name -> exception to raise

    def _called(self, name):
        self.calls.append(name)
        exc = self.fail.get(name)
        if exc is not None:
            raise exc

    def open(self, timeout_ms):
        self._called("open")

    def card_serial(self):
        self._called("card_serial")
        return f"{self.prefix}-{self.serial_no:04d}"

    def generate_key(self, slot, alg):
        self._called("generate_key")
        if alg != idm.CardKeyAlg.EC_P256:
            raise idm.UnsupportedError("only EC P-256 here")
        path = os.path.join(self.workdir, f"{self.prefix}-{self.serial_no}-{int(slot):x}.key")
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", path)
        self.keys[slot] = path
        return openssl("pkey", "-in", path, "-pubout", "-outform", "DER")

    def write_certificate(self, slot, der):
        self._called("write_certificate")
        tags = {idm.PivSlot.AUTHENTICATION: idm.PivObject.CERT_AUTHENTICATION,
                idm.PivSlot.SIGNATURE: idm.PivObject.CERT_SIGNATURE,
                idm.PivSlot.KEY_MANAGEMENT: idm.PivObject.CERT_KEY_MANAGEMENT,
                idm.PivSlot.CARD_AUTHENTICATION: idm.PivObject.CERT_CARD_AUTHENTICATION}
        # 70 82 LL LL <der> 71 01 00 FE 00, as a PIV card keeps it
        self.objects[tags[slot]] = (b"\x70\x82" + len(der).to_bytes(2, "big") + der
                                    + b"\x71\x01\x00\xfe\x00")

    def write_object(self, obj, value):
        self._called("write_object")
        self.objects[obj] = value

    def read_object(self, obj):
        self._called("read_object")
        try:
            return self.objects[obj]
        except KeyError:
            raise idm.NotFoundError("no such object") from None

    def set_pin(self, pin, puk):
        self._called("set_pin")
        self.pin, self.puk = pin, puk

    def verify_pin(self, pin):
        self._called("verify_pin")
        if pin != self.pin:
            raise idm.CardError("wrong PIN")

    def sign(self, slot, alg, data):
        self._called("sign")
        digest = os.path.join(self.workdir, "digest.bin")
        with open(digest, "wb") as f:
            f.write(data)
        return openssl("pkeyutl", "-sign", "-inkey", self.keys[slot], "-in", digest)

    def close(self, success):
        self.calls.append(f"close:{int(success)}")
        if success:
            self.objects = {}
            self.keys = {}
            self.serial_no += 1


def openssl(*args, input=None):
    """Runs the openssl tool; its standard output (bytes)."""
    return subprocess.run(("openssl",) + args, check=True, capture_output=True,
                          input=input).stdout


class OpensslCA:
    """A CA written in Python: a self-signed EC CA made with the openssl
    tool, which certifies the request's public key (x509 -force_pubkey)."""

    def __init__(self, workdir):
        self.dir = workdir
        self.key = os.path.join(workdir, "pyca.key")
        self.cert = os.path.join(workdir, "pyca.crt")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", self.key, "-subj", "/CN=Python CA", "-days", "30",
                "-out", self.cert)
        self.issued = {}     # idempotency key -> DER
        self.requests = []
        self.revoked = []
        self.fail = None     # an exception issue() raises

    def issue(self, request):
        self.requests.append(request)
        if self.fail is not None:
            raise self.fail
        if request.idempotency_key in self.issued:
            return self.issued[request.idempotency_key]
        n = len(self.issued)
        pub = os.path.join(self.dir, f"pub{n}.pem")
        with open(pub, "w") as f:
            f.write("-----BEGIN PUBLIC KEY-----\n"
                    + base64.encodebytes(request.public_key).decode()
                    + "-----END PUBLIC KEY-----\n")
        throwaway = os.path.join(self.dir, f"tmp{n}.key")
        cn = dict(part.split("=", 1) for part in request.subject.split(","))["CN"]
        csr = openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", throwaway, "-subj", f"/CN={cn}")
        der = openssl("x509", "-req", "-CA", self.cert, "-CAkey", self.key,
                      "-CAcreateserial", "-force_pubkey", pub,
                      "-days", "10", "-outform", "DER", input=csr)
        self.issued[request.idempotency_key] = der
        return der

    def revoke(self, serial, reason, time_ms):
        self.revoked.append((serial, reason))
