#!/usr/bin/env python3
"""Plugs a CA written in Python into the library.

    python_ca.py STORE

The CA here signs with the openssl tool, standing in for a host CA
(EJBCA, AD CS, step-ca, ...) reached over its API: a Python object with
issue(request) -> DER and revoke(serial, reason, time_ms) becomes an
idm.CA.  Every certificate it issues is recorded in the store
with its audit event; an exception it raises fails the issue with the
exception's words and reaches the caller.

It issues for a public key the openssl tool makes (so the tool must be
installed): a card's key would come from the card.
"""

import os
import subprocess
import sys
import tempfile

import idm

ACTOR = "admin:example"


class ForwardingCA:
    """A host CA: logs each request and signs with the openssl tool."""

    def __init__(self, workdir):
        self.dir = workdir
        self.key = os.path.join(workdir, "ca.key")
        self.cert = os.path.join(workdir, "ca.crt")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", self.key, "-subj", "/CN=Example Python CA",
                      "-days", "30", "-out", self.cert)

    def _openssl(self, *args, input=None):
        return subprocess.run(("openssl",) + args, check=True, capture_output=True,
                              input=input).stdout

    def issue(self, request):
        print(f"  CA: {request.usage.name.lower()} certificate for {request.subject}"
              f" ({request.idempotency_key})")
        pub = os.path.join(self.dir, "request.pub")
        with open(pub, "wb") as f:
            f.write(self._openssl("pkey", "-pubin", "-inform", "DER",
                                  input=request.public_key))
        throwaway = os.path.join(self.dir, "throwaway.key")
        csr = self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", throwaway,
                            "-subj", "/" + request.subject.split(",")[0])
        return self._openssl("x509", "-req", "-CA", self.cert, "-CAkey", self.key,
                             "-CAcreateserial", "-force_pubkey", pub, "-days", "30",
                             "-outform", "DER", input=csr)

    def revoke(self, serial, reason, time_ms):
        print(f"  CA: revoke {serial} ({reason.name.lower()})")


def main(argv=None):
    store = (argv or sys.argv[1:])[0]
    with tempfile.TemporaryDirectory() as workdir, idm.Context(store) as ctx:
        person = ctx.create_identity(ACTOR, "example-ca")
        person.set_attribute(ACTOR, "givenName", "Alan")
        person.set_attribute(ACTOR, "surname", "Turing")
        person.set_state(ACTOR, idm.IdentityState.ACTIVE)
        card = ctx.create_card(ACTOR, idm.CardType.EMPLOYEE, idm.CardOption.DIGITAL,
                               idm.Production.LOCAL, identity_id=person)
        card.set_state(ACTOR, idm.CardState.REQUESTED)
        card.set_state(ACTOR, idm.CardState.APPROVED)

        key = os.path.join(workdir, "card.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", key], check=True)
        spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                              check=True, capture_output=True).stdout

        with idm.CA(ForwardingCA(workdir)) as ca:
            cert = ca.issue(card, ACTOR, idm.KeyUsage.AUTHENTICATION, spki)
            print(f"certificate {cert.serial}: {len(cert.der)} bytes, "
                  f"{cert.state.name.lower()}")
            ca.revoke(cert, ACTOR, idm.RevocationReason.SUPERSEDED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
