#!/usr/bin/python3
"""Second, independent reading of the certificates libidm's built-in CA issued.

Usage: check_certs.py DIR

DIR holds manifest.json (written by tests/unit/test_ca.c), the DER of every
issued certificate and of every CA certificate.  Each certificate is parsed
with python3-cryptography and checked against the profile documented in
<idm/ca.h>; the expectations (key usage, EKU, names, validity) are derived
here from the card type and usage, and only the values the test chose
(names, URLs, the moment of issue) come from the manifest.  One line per
failure is printed; the exit status is 1 if there was any.
"""

import hashlib
import json
import os
import sys
from datetime import timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SMART_CARD_LOGON = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.2")
UPN = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
PERSONAL = {"employee", "contractor", "visitor"}
VISITOR_LIKE = {"visitor", "visitor_non_personal", "temporary"}
CARD_TYPES = PERSONAL | {"visitor_non_personal", "non_personal", "temporary"}
USAGES = {"authentication", "signature", "encryption", "card_authentication"}
PIV_CARD_AUTH = x509.ObjectIdentifier("2.16.840.1.101.3.6.8")
DEFAULT_DAYS = 1095
DEFAULT_VISITOR_DAYS = 30
KEY_USAGE_BITS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


class Report:
    def __init__(self):
        self.failures = 0

    def fail(self, where, text):
        self.failures += 1
        print(f"FAIL {where}: {text}")


def der_tlv(data, pos=0):
    """One DER TLV at pos: (tag, value bytes, position after it)."""
    if pos + 2 > len(data):
        raise ValueError("truncated TLV")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("DER value runs past the end")
    return tag, data[pos:pos + length], pos + length


def spki_key_bits(spki_der):
    """The subjectPublicKey BIT STRING contents (without the unused-bits byte)."""
    tag, body, end = der_tlv(spki_der)
    if tag != 0x30 or end != len(spki_der):
        raise ValueError("SubjectPublicKeyInfo is not one SEQUENCE")
    tag, _, pos = der_tlv(body)  # AlgorithmIdentifier
    if tag != 0x30:
        raise ValueError("no AlgorithmIdentifier")
    tag, bits, pos = der_tlv(body, pos)
    if tag != 0x03 or pos != len(body) or not bits or bits[0] != 0:
        raise ValueError("subjectPublicKey is not a whole-byte BIT STRING")
    return bits[1:]


def key_kind(public_key):
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"rsa{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "p256", "secp384r1": "p384"}.get(public_key.curve.name,
                                                             public_key.curve.name)
    return type(public_key).__name__


def timestamp(cert, which):
    aware = getattr(cert, f"not_valid_{which}_utc", None)  # cryptography >= 42
    if aware is None:
        aware = getattr(cert, f"not_valid_{which}").replace(tzinfo=timezone.utc)
    return int(aware.timestamp())


def extension(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None


def set_key_usage_bits(ku):
    bits = {name for name in KEY_USAGE_BITS if getattr(ku, name)}
    if ku.key_agreement:
        if ku.encipher_only:
            bits.add("encipher_only")
        if ku.decipher_only:
            bits.add("decipher_only")
    return bits


def verify_signature(cert, issuer_key):
    if isinstance(issuer_key, rsa.RSAPublicKey):
        issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                          cert.signature_hash_algorithm)
    elif isinstance(issuer_key, ec.EllipticCurvePublicKey):
        issuer_key.verify(cert.signature, cert.tbs_certificate_bytes,
                          ec.ECDSA(cert.signature_hash_algorithm))
    else:
        raise InvalidSignature(f"unexpected CA key {type(issuer_key).__name__}")


def check_names(r, where, cert, entry, personal):
    subject = [(attr.oid, attr.value) for attr in cert.subject]
    want = [(NameOID.COUNTRY_NAME, entry["subject_c"]),
            (NameOID.ORGANIZATION_NAME, entry["subject_o"]),
            (NameOID.COMMON_NAME, entry["common_name"])]
    if subject != want:
        r.fail(where, f"subject is {cert.subject.rfc4514_string()!r}; expected "
                      f"C={entry['subject_c']}, O={entry['subject_o']}, "
                      f"CN={entry['common_name']} in that order")
    if len(cert.subject.rdns) != 3:
        r.fail(where, f"subject has {len(cert.subject.rdns)} RDNs; expected 3")

    san = extension(cert, x509.SubjectAlternativeName)
    if not personal:
        if entry.get("upn") is not None or entry.get("email") is not None:
            r.fail(where, "manifest gives names for a non-personal card")
        if san is not None:
            r.fail(where, f"non-personal card has a subjectAltName: {list(san.value)}")
        return
    if entry.get("email") is None:
        r.fail(where, "manifest has no e-mail for a personal card")
        return
    if san is None:
        r.fail(where, "personal card certificate has no subjectAltName")
        return
    emails = [n.value for n in san.value if isinstance(n, x509.RFC822Name)]
    others = [n for n in san.value if isinstance(n, x509.OtherName)]
    rest = [n for n in san.value if not isinstance(n, (x509.RFC822Name, x509.OtherName))]
    if emails != [entry["email"]]:
        r.fail(where, f"rfc822Name is {emails}; expected [{entry['email']!r}]")
    if rest:
        r.fail(where, f"unexpected subjectAltName entries {rest}")
    if entry["usage"] != "authentication":
        if others:
            r.fail(where, f"{entry['usage']} certificate has otherName entries {others}")
        if entry.get("upn") is not None:
            r.fail(where, "manifest gives a UPN for a non-authentication certificate")
        return
    if entry.get("upn") is None:
        r.fail(where, "manifest has no UPN for a personal authentication certificate")
        return
    if len(others) != 1 or others[0].type_id != UPN:
        r.fail(where, f"otherName entries are {others}; expected one UPN ({UPN.dotted_string})")
        return
    try:
        tag, value, end = der_tlv(others[0].value)
    except ValueError as e:
        r.fail(where, f"UPN otherName value is not DER: {e}")
        return
    if tag != 0x0C or end != len(others[0].value):
        r.fail(where, f"UPN otherName value has tag 0x{tag:02x}; expected one UTF8String (0x0c)")
    elif value.decode("utf-8", "replace") != entry["upn"]:
        r.fail(where, f"UPN is {value.decode('utf-8', 'replace')!r}; expected {entry['upn']!r}")


def check_profile(r, where, cert, entry, kind):
    usage = entry["usage"]
    bc = extension(cert, x509.BasicConstraints)
    if bc is None:
        r.fail(where, "no basicConstraints")
    else:
        if not bc.critical:
            r.fail(where, "basicConstraints is not critical")
        if bc.value.ca:
            r.fail(where, "basicConstraints says CA:TRUE")

    ku = extension(cert, x509.KeyUsage)
    if usage in ("authentication", "card_authentication"):
        want_ku = {"digital_signature"}
    elif usage == "signature":
        want_ku = {"digital_signature", "content_commitment"}
    else:
        want_ku = {"key_encipherment"} if kind.startswith("rsa") else {"key_agreement"}
    if ku is None:
        r.fail(where, "no keyUsage")
    else:
        if not ku.critical:
            r.fail(where, "keyUsage is not critical")
        got = set_key_usage_bits(ku.value)
        if got != want_ku:
            r.fail(where, f"keyUsage is {sorted(got)}; expected {sorted(want_ku)} "
                          f"for {usage} with a {kind} key")

    eku = extension(cert, x509.ExtendedKeyUsage)
    if usage == "authentication":
        want_eku = {ExtendedKeyUsageOID.CLIENT_AUTH, SMART_CARD_LOGON}
    elif usage == "card_authentication":
        want_eku = {PIV_CARD_AUTH}
    else:
        want_eku = {ExtendedKeyUsageOID.EMAIL_PROTECTION}
    if eku is None:
        r.fail(where, "no extendedKeyUsage")
    elif set(eku.value) != want_eku or len(list(eku.value)) != len(want_eku):
        r.fail(where, f"extendedKeyUsage is {[o.dotted_string for o in eku.value]}; expected "
                      f"{sorted(o.dotted_string for o in want_eku)}")


def check_identifiers(r, where, cert, ca):
    ski = extension(cert, x509.SubjectKeyIdentifier)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    want_ski = hashlib.sha1(spki_key_bits(spki)).digest()
    if ski is None:
        r.fail(where, "no subjectKeyIdentifier")
    elif ski.value.digest != want_ski:
        r.fail(where, f"subjectKeyIdentifier {ski.value.digest.hex()} is not SHA-1 of the key "
                      f"bits ({want_ski.hex()})")

    aki = extension(cert, x509.AuthorityKeyIdentifier)
    ca_ski = extension(ca, x509.SubjectKeyIdentifier)
    if aki is None or aki.value.key_identifier is None:
        r.fail(where, "no authorityKeyIdentifier keyIdentifier")
    elif ca_ski is None:
        r.fail(where, "the CA certificate has no subjectKeyIdentifier")
    elif aki.value.key_identifier != ca_ski.value.digest:
        r.fail(where, f"authorityKeyIdentifier {aki.value.key_identifier.hex()} is not the "
                      f"CA's subjectKeyIdentifier {ca_ski.value.digest.hex()}")


def check_urls(r, where, cert, entry):
    cdp = extension(cert, x509.CRLDistributionPoints)
    if cdp is None:
        r.fail(where, "no CRL distribution point")
    else:
        uris = [n.value for dp in cdp.value for n in (dp.full_name or [])
                if isinstance(n, x509.UniformResourceIdentifier)]
        if uris != [entry["crl_url"]]:
            r.fail(where, f"CRL distribution points are {uris}; expected [{entry['crl_url']!r}]")
    aia = extension(cert, x509.AuthorityInformationAccess)
    if aia is None:
        r.fail(where, "no authorityInfoAccess")
    else:
        issuers = [d.access_location.value for d in aia.value
                   if d.access_method == x509.AuthorityInformationAccessOID.CA_ISSUERS]
        if issuers != [entry["aia_url"]] or len(list(aia.value)) != 1:
            got = [(d.access_method.dotted_string, d.access_location.value) for d in aia.value]
            r.fail(where, f"AIA is {got}; expected caIssuers {entry['aia_url']!r} only")


def check_validity(r, where, cert, entry):
    card_type = entry["card_type"]
    days = DEFAULT_VISITOR_DAYS if card_type in VISITOR_LIKE else DEFAULT_DAYS
    if entry["validity_days"] != days:
        r.fail(where, f"manifest says {entry['validity_days']} days; a {card_type} card gets "
                      f"{days}")
    nb, na = timestamp(cert, "before"), timestamp(cert, "after")
    if nb != entry["not_before"]:
        r.fail(where, f"notBefore is {nb}; expected {entry['not_before']}")
    if na != entry["not_after"]:
        r.fail(where, f"notAfter is {na}; expected {entry['not_after']}")
    if na - nb != days * 86400:
        r.fail(where, f"validity is {na - nb} s; expected {days} days ({days * 86400} s)")


def check_one(r, where, cert, entry, ca, seen_serials):
    if entry["card_type"] not in CARD_TYPES or entry["usage"] not in USAGES:
        r.fail(where, f"manifest has an unknown profile {entry['card_type']}/{entry['usage']}")
        return
    if cert.version != x509.Version.v3:
        r.fail(where, f"version is {cert.version}; expected v3")
    serial = cert.serial_number
    if serial <= 0 or not 121 <= serial.bit_length() <= 128:
        r.fail(where, f"serial {serial:x} has {serial.bit_length()} bits; expected a positive "
                      "128-bit random serial")
    if serial in seen_serials:
        r.fail(where, f"serial {serial:X} is also the serial of {seen_serials[serial]}")
    seen_serials[serial] = entry["file"]
    if cert.issuer != ca.subject:
        r.fail(where, f"issuer {cert.issuer.rfc4514_string()} is not the CA's subject "
                      f"{ca.subject.rfc4514_string()}")

    kind = key_kind(cert.public_key())
    if kind != entry["subject_key"]:
        r.fail(where, f"public key is {kind}; the manifest says {entry['subject_key']}")
    check_validity(r, where, cert, entry)
    check_profile(r, where, cert, entry, kind)
    check_names(r, where, cert, entry, entry["card_type"] in PERSONAL)
    check_identifiers(r, where, cert, ca)
    check_urls(r, where, cert, entry)
    try:
        verify_signature(cert, ca.public_key())
    except InvalidSignature:
        r.fail(where, "signature does not verify with the CA's public key")


def main(argv):
    if len(argv) != 2:
        print("usage: check_certs.py DIR", file=sys.stderr)
        return 2
    directory = argv[1]
    with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    r = Report()
    cas = {}
    for name in manifest["cas"]:
        with open(os.path.join(directory, name), "rb") as f:
            cas[name] = x509.load_der_x509_certificate(f.read())
    seen_serials = {}
    for entry in manifest["certs"]:
        where = f"{entry['file']} ({entry['card_type']}/{entry['usage']}/{entry['subject_key']})"
        try:
            with open(os.path.join(directory, entry["file"]), "rb") as f:
                cert = x509.load_der_x509_certificate(f.read())
            check_one(r, where, cert, entry, cas[entry["ca"]], seen_serials)
        except (ValueError, KeyError, OSError) as e:
            r.fail(where, f"cannot check: {e!r}")
    if not manifest["certs"]:
        r.fail(directory, "the manifest lists no certificates")
    print(f"checked {len(manifest['certs'])} certificates of {len(cas)} CAs: "
          f"{r.failures} failure(s)")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
