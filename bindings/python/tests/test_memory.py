"""Creating and dropping 100,000 handles, of every class the package has,
keeps memory flat: a dropped handle frees its C object, a Python-written
backend's callbacks are unregistered, and a context forgets its children."""

import ctypes
import gc
import os
import resource
import time
import unittest

import idm
from idm import CardOption, CardType, KeyUsage, ObjectType, OrderKind

from pyidm_support import ACTOR, MemCard, StoreTest, openssl

#: the library runs with AddressSanitizer preloaded (tests/scripts/python-asan.sh)
UNDER_ASAN = "asan" in os.environ.get("LD_PRELOAD", "")
HANDLES = 100_000
WARM_UP = 20_000
#: what the peak resident set may grow by over the 100,000 handles
SLACK_KIB = 4 * 1024
#: what the C heap in use may grow by: a leak of 16 bytes per handle of any
#: one class (5,000 handles each) is more
HEAP_SLACK = 64 * 1024


class PythonCA:
    def issue(self, request):
        raise idm.UnsupportedError("never asked to issue here")

    def revoke(self, serial, reason, time_ms):
        raise idm.UnsupportedError("never asked to revoke here")


class Outbox:
    def submit(self, message_id, order_json):
        pass

    def status(self, message_ids, report):
        pass


class Mailbox:
    def send(self, message_id, kind, to, subject, body):
        pass


class Sink:
    def print(self, job_name, pdf):
        pass


LAYOUT = ('{"format": "libidm-card-layout", "version": 1, "name": "churn", '
          '"card_types": ["employee"], "front": {"elements": [{"type": "text", '
          '"text": "${givenName}", "box": {"x": 5, "y": 5, "width": 70, "height": 10}}]}}')


def peak_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def malloc_in_use():
    """Bytes the C heap (glibc malloc) has handed out and not had back: what
    libidm, SQLite and OpenSSL hold, and Python's own larger blocks."""
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


@unittest.skipIf(UNDER_ASAN, "ASan's quarantine keeps freed memory resident on purpose")
class HandleChurnTest(StoreTest):
    def setUp(self):
        super().setUp()
        ctx = self.ctx
        self.identity = self.person(1)
        self.card = self.approved_card(self.identity, CardOption.DIGITAL)
        self.ca = idm.CA.openssl(ctx, common_name="Churn Test CA")
        self.addCleanup(self.ca.close)
        key = os.path.join(self.dir, "card.key")
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", key)
        spki = openssl("pkey", "-in", key, "-pubout", "-outform", "DER")
        self.cert = self.ca.issue(self.card, ACTOR, KeyUsage.AUTHENTICATION, spki)
        self.order = ctx.create_order(ACTOR, OrderKind.MASS_PRODUCTION, CardType.EMPLOYEE,
                                      CardOption.DIGITAL)
        self.order.add_approved(ACTOR)
        self.encoder = idm.Encoder(MemCard(self.dir))
        self.spool = os.path.join(self.dir, "spool")
        self.maildir = os.path.join(self.dir, "mail")
        os.mkdir(self.spool)
        path = os.path.join(self.dir, "idm.db")
        ident_id, card_id, cert_id, order_id = (self.identity.id, self.card.id, self.cert.id,
                                                self.order.id)
        # one maker per handle class; each returns a new handle
        self.makers = {
            "Context": lambda: idm.Context(path),
            "Identity": lambda: ctx.identity(ident_id),
            "Card": lambda: ctx.card(card_id),
            "Certificate": lambda: ctx.certificate(cert_id),
            "Order": lambda: ctx.order(order_id),
            "identity iterator": lambda: ctx.identities(),
            "card iterator": lambda: ctx.cards(order_id=order_id),
            "certificate iterator": lambda: ctx.certificates(card_id),
            "order iterator": lambda: ctx.orders(),
            "audit iterator": lambda: ctx.audit(object_type=ObjectType.CARD, object_id=card_id),
            "CA (built-in)": lambda: idm.CA.openssl(ctx, common_name="Churn Test CA"),
            "CA (Python)": lambda: idm.CA(PythonCA()),
            "Encoder (PC/SC)": lambda: idm.Encoder.pcsc(ctx),
            "Encoder (Python)": lambda: idm.Encoder(MemCard()),
            "Producer (spool)": lambda: idm.Producer.spool(self.spool),
            "Producer (Python)": lambda: idm.Producer(Outbox()),
            "Notifier (maildir)": lambda: idm.Notifier.maildir(self.maildir, "a@example.org"),
            "Notifier (Python)": lambda: idm.Notifier(Mailbox()),
            "Printer (CUPS)": lambda: idm.Printer.cups("churn"),
            "Printer (Python)": lambda: idm.Printer(Sink()),
            "Layout": lambda: idm.Layout.from_json(LAYOUT),
            "Station": lambda: idm.Station(self.order, "churn", self.encoder, self.ca),
            "External": lambda: idm.External(ctx),
        }

    def churn(self, n):
        """Makes and drops n handles, the classes in turn; half are closed by
        a with-block, half only dropped (their __del__ frees them)."""
        makers = list(self.makers.values())
        for i in range(n):
            handle = makers[i % len(makers)]()
            if i & 1:
                with handle:
                    pass
            del handle

    def test_100000_handles_of_every_class_keep_memory_flat(self):
        gc.collect()  # what earlier tests left to the collector
        registered = len(idm._callbacks._owners)
        children = self.ctx._nchildren
        self.churn(WARM_UP)
        gc.collect()
        before = peak_rss_kib()
        heap_before = malloc_in_use()
        start = time.monotonic()
        self.churn(HANDLES)
        gc.collect()
        grew = peak_rss_kib() - before
        heap_grew = malloc_in_use() - heap_before
        seconds = time.monotonic() - start
        print(f"\n{HANDLES} handles of {len(self.makers)} classes in {seconds:.1f} s: "
              f"peak RSS {before} KiB -> +{grew} KiB; C heap in use {heap_grew:+} bytes",
              flush=True)
        self.assertLess(grew, SLACK_KIB, f"the peak RSS grew by {grew} KiB")
        self.assertLess(heap_grew, HEAP_SLACK, f"the C heap in use grew by {heap_grew} bytes")
        self.assertEqual(self.ctx._nchildren, children)
        self.assertEqual(len(idm._callbacks._owners), registered)


if __name__ == "__main__":
    unittest.main()
