#!/usr/bin/python3
"""Unit tests for the virtual PIV card, driven in-process (no pcscd, no network).

Run: /usr/bin/python3 -m unittest discover -s tests/vcard -v
"""

import json
import os
import sys
import tempfile
import unittest

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import virtual_piv as vp  # noqa: E402

SELECT_PIV = bytes.fromhex("00A4040009A00000030800001000")
DEFAULT_KEY = bytes.fromhex("0102030405060708" * 3)
AES128_KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AES256_KEY = bytes(range(32))


def pin_block(pin):
    return pin + b"\xFF" * (8 - len(pin))


def short_apdu(cla, ins, p1, p2, data=b"", le=None):
    apdu = bytes([cla, ins, p1, p2])
    if data:
        apdu += bytes([len(data)]) + data
    if le is not None:
        apdu += bytes([le & 0xFF])
    return apdu


class Host:
    """What a host stack does on top of raw APDUs: command chaining for long
    data, GET RESPONSE for 61xx.  Returns (data, sw)."""

    def __init__(self, card):
        self.card = card
        self.exchanges = 0

    def raw(self, apdu):
        self.exchanges += 1
        resp = self.card.process(apdu)
        return resp[:-2], int.from_bytes(resp[-2:], "big")

    def send(self, ins, p1, p2, data=b"", le=0):
        while len(data) > 255:                          # command chaining
            part, data = data[:255], data[255:]
            _, sw = self.raw(short_apdu(0x10, ins, p1, p2, part))
            if sw != 0x9000:
                return b"", sw
        out, sw = self.raw(short_apdu(0x00, ins, p1, p2, data, le))
        while sw >> 8 == 0x61:                          # response chaining
            more, sw = self.raw(short_apdu(0x00, 0xC0, 0, 0, le=sw & 0xFF))
            out += more
        return out, sw

    def select(self):
        return self.raw(SELECT_PIV)

    def verify(self, pin=b"123456"):
        return self.send(0x20, 0x00, 0x80, pin_block(pin) if pin is not None else b"")[1]

    def mgmt_auth_mutual(self, alg=0x03, key=DEFAULT_KEY):
        cipher_cls = vp.TripleDES if alg == 0x03 else algorithms.AES
        cipher = Cipher(cipher_cls(key), modes.ECB())
        out, sw = self.send(0x87, alg, 0x9B, bytes.fromhex("7C028000"))
        if sw != 0x9000:
            return sw
        witness = vp.tlv_dict(vp.tlv_dict(out)[b"\x7C"])[b"\x80"]
        dec = cipher.decryptor()
        plain = dec.update(witness) + dec.finalize()
        challenge = os.urandom(len(witness))
        body = vp.tlv(0x80, plain) + vp.tlv(0x81, challenge) + vp.tlv(0x82, b"")
        out, sw = self.send(0x87, alg, 0x9B, vp.tlv(0x7C, body))
        if sw != 0x9000:
            return sw
        enc = cipher.encryptor()
        response = vp.tlv_dict(vp.tlv_dict(out)[b"\x7C"])[b"\x82"]
        assert response == enc.update(challenge) + enc.finalize(), "card did not prove the key"
        return sw

    def mgmt_auth_external(self, alg=0x03, key=DEFAULT_KEY):
        cipher_cls = vp.TripleDES if alg == 0x03 else algorithms.AES
        out, sw = self.send(0x87, alg, 0x9B, bytes.fromhex("7C028100"))
        if sw != 0x9000:
            return sw
        challenge = vp.tlv_dict(vp.tlv_dict(out)[b"\x7C"])[b"\x81"]
        enc = Cipher(cipher_cls(key), modes.ECB()).encryptor()
        answer = enc.update(challenge) + enc.finalize()
        return self.send(0x87, alg, 0x9B, vp.tlv(0x7C, vp.tlv(0x82, answer)))[1]

    def generate(self, slot, alg):
        out, sw = self.send(0x47, 0x00, slot, bytes.fromhex("AC038001") + bytes([alg]))
        if sw != 0x9000:
            return None, sw
        return vp.tlv_dict(vp.tlv_dict(out)[b"\x7F\x49"]), sw

    def sign(self, slot, alg, data):
        body = vp.tlv(0x82, b"") + vp.tlv(0x81, data)
        out, sw = self.send(0x87, alg, slot, vp.tlv(0x7C, body))
        if sw != 0x9000:
            return None, sw
        return vp.tlv_dict(vp.tlv_dict(out)[b"\x7C"])[b"\x82"], sw

    def put_data(self, tag, value):
        return self.send(0xDB, 0x3F, 0xFF, vp.tlv(0x5C, tag) + vp.tlv(0x53, value))[1]

    def get_data(self, tag):
        return self.send(0xCB, 0x3F, 0xFF, vp.tlv(0x5C, tag))


def fake_certificate(size):
    """A certificate-shaped object of a given size (the card does not parse it)."""
    return vp.tlv(0x70, os.urandom(size)) + vp.tlv(0x71, b"\x00") + vp.tlv(0xFE, b"")


class CardTestCase(unittest.TestCase):
    def make_card(self, **kwargs):
        card = vp.VirtualPivCard(**kwargs)
        host = Host(card)
        return card, host


class TestSelect(CardTestCase):
    def test_select_full_aid_returns_property_template(self):
        _, host = self.make_card()
        out, sw = host.raw(bytes.fromhex("00A404000BA000000308000010000100"))
        self.assertEqual(sw, 0x9000)
        apt = vp.tlv_dict(vp.tlv_dict(out)[b"\x61"])
        self.assertEqual(apt[b"\x4F"], bytes.fromhex("000010000100"))
        self.assertIn(b"\x80\x01\x11", apt[b"\xAC"])

    def test_select_truncated_aid_is_accepted(self):
        _, host = self.make_card()
        self.assertEqual(host.raw(bytes.fromhex("00A4040005A000000308"))[1], 0x9000)
        self.assertEqual(host.select()[1], 0x9000)

    def test_select_other_aid_is_not_found(self):
        _, host = self.make_card()
        self.assertEqual(host.raw(bytes.fromhex("00A4040007A0000000031010"))[1], 0x6A82)
        self.assertEqual(host.raw(bytes.fromhex("00A4040004A0000003"))[1], 0x6A82)

    def test_unknown_instruction_and_class(self):
        _, host = self.make_card()
        self.assertEqual(host.raw(bytes.fromhex("00FD000000"))[1], 0x6D00)
        self.assertEqual(host.raw(bytes.fromhex("80A4040000"))[1], 0x6E00)
        self.assertEqual(host.raw(bytes.fromhex("00A4"))[1], 0x6700)

    def test_extended_length_select(self):
        _, host = self.make_card()
        out, sw = host.raw(bytes.fromhex("00A404000000" "09" "A00000030800001000" "0000"))
        self.assertEqual(sw, 0x9000)
        self.assertEqual(out[0], 0x61)


class TestManagementKey(CardTestCase):
    def test_mutual_auth_with_default_3des_key(self):
        _, host = self.make_card()
        self.assertEqual(host.mgmt_auth_mutual(), 0x9000)

    def test_external_auth_with_default_3des_key(self):
        _, host = self.make_card()
        self.assertEqual(host.mgmt_auth_external(), 0x9000)

    def test_wrong_key_is_refused_and_put_data_stays_locked(self):
        _, host = self.make_card()
        self.assertEqual(host.mgmt_auth_external(key=bytes(24)), 0x6982)
        self.assertEqual(host.put_data(bytes.fromhex("5FC105"), b"x"), 0x6982)

    def test_aes128_and_aes256_keys(self):
        for alg, key in ((0x08, AES128_KEY), (0x0C, AES256_KEY)):
            with self.subTest(alg=alg):
                _, host = self.make_card(mgmt_alg=alg, mgmt_key=key)
                self.assertEqual(host.mgmt_auth_mutual(alg, key), 0x9000)
                _, host = self.make_card(mgmt_alg=alg, mgmt_key=key)
                self.assertEqual(host.mgmt_auth_external(alg, key), 0x9000)

    def test_aes192_external(self):
        key = bytes(range(24))
        _, host = self.make_card(mgmt_alg=0x0A, mgmt_key=key)
        self.assertEqual(host.mgmt_auth_external(0x0A, key), 0x9000)

    def test_wrong_algorithm_is_refused(self):
        _, host = self.make_card(mgmt_alg=0x08, mgmt_key=AES128_KEY)
        self.assertEqual(host.mgmt_auth_mutual(), 0x6A86)

    def test_key_of_wrong_length_is_a_configuration_error(self):
        with self.assertRaises(ValueError):
            vp.VirtualPivCard(mgmt_alg=0x0C, mgmt_key=AES128_KEY)

    def test_reset_forgets_authentication(self):
        card, host = self.make_card()
        host.mgmt_auth_mutual()
        card.reset()
        self.assertEqual(host.generate(0x9A, 0x11)[1], 0x6982)


class TestKeysAndSignatures(CardTestCase):
    def test_generate_requires_management_key(self):
        _, host = self.make_card()
        self.assertEqual(host.generate(0x9A, 0x11)[1], 0x6982)

    def test_ec_p256_sign_verifies_with_returned_public_key(self):
        _, host = self.make_card()
        host.mgmt_auth_mutual()
        public, sw = host.generate(0x9A, 0x11)
        self.assertEqual(sw, 0x9000)
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public[b"\x86"])
        digest = hashes.Hash(hashes.SHA256())
        digest.update(b"hello card")
        digest = digest.finalize()
        self.assertEqual(host.sign(0x9A, 0x11, digest)[1], 0x6982)   # PIN first
        self.assertEqual(host.verify(), 0x9000)
        signature, sw = host.sign(0x9A, 0x11, digest)
        self.assertEqual(sw, 0x9000)
        key.verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))

    def test_rsa2048_raw_signature_is_pkcs1_when_host_pads(self):
        _, host = self.make_card()
        host.mgmt_auth_mutual()
        public, sw = host.generate(0x9C, 0x07)
        self.assertEqual(sw, 0x9000)
        self.assertGreater(host.exchanges, 2, "7F49 of RSA-2048 needs response chaining")
        key = rsa.RSAPublicNumbers(int.from_bytes(public[b"\x82"], "big"),
                                   int.from_bytes(public[b"\x81"], "big")).public_key()
        message = b"sign me"
        digest = hashes.Hash(hashes.SHA256())
        digest.update(message)
        # EMSA-PKCS1-v1_5 with the SHA-256 DigestInfo prefix, built by the host.
        info = bytes.fromhex("3031300d060960864801650304020105000420") + digest.finalize()
        block = b"\x00\x01" + b"\xFF" * (256 - 3 - len(info)) + b"\x00" + info
        self.assertEqual(host.verify(), 0x9000)
        signature, sw = host.sign(0x9C, 0x07, block)
        self.assertEqual(sw, 0x9000)
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())

    def test_slot_9c_needs_pin_right_before_each_signature(self):
        _, host = self.make_card()
        host.mgmt_auth_mutual()
        host.generate(0x9C, 0x11)
        self.assertEqual(host.verify(), 0x9000)
        self.assertEqual(host.sign(0x9C, 0x11, bytes(32))[1], 0x9000)
        self.assertEqual(host.sign(0x9C, 0x11, bytes(32))[1], 0x6982)

    def test_slot_9e_signs_without_pin(self):
        _, host = self.make_card()
        host.mgmt_auth_mutual()
        host.generate(0x9E, 0x11)
        self.assertEqual(host.sign(0x9E, 0x11, bytes(32))[1], 0x9000)

    def test_sign_with_empty_slot_or_wrong_algorithm(self):
        _, host = self.make_card()
        self.assertEqual(host.sign(0x9E, 0x11, bytes(32))[1], 0x6A88)
        host.mgmt_auth_mutual()
        host.generate(0x9E, 0x11)
        self.assertEqual(host.sign(0x9E, 0x07, bytes(256))[1], 0x6A86)

    def test_unknown_algorithm_in_generate(self):
        _, host = self.make_card()
        host.mgmt_auth_mutual()
        self.assertEqual(host.generate(0x9A, 0x42)[1], 0x6A80)


class TestPin(CardTestCase):
    def test_empty_verify_reports_tries_then_status(self):
        _, host = self.make_card()
        self.assertEqual(host.verify(None), 0x63C3)
        self.assertEqual(host.verify(), 0x9000)
        self.assertEqual(host.verify(None), 0x9000)

    def test_wrong_pins_count_down_and_block(self):
        _, host = self.make_card()
        self.assertEqual(host.verify(b"000000"), 0x63C2)
        self.assertEqual(host.verify(b"000000"), 0x63C1)
        self.assertEqual(host.verify(b"000000"), 0x63C0)
        self.assertEqual(host.verify(b"123456"), 0x6983)
        self.assertEqual(host.verify(None), 0x6983)

    def test_correct_pin_restores_the_counter(self):
        _, host = self.make_card()
        host.verify(b"000000")
        self.assertEqual(host.verify(), 0x9000)
        self.assertEqual(host.verify(b"000000"), 0x63C2)

    def test_puk_unblocks_and_sets_new_pin(self):
        _, host = self.make_card()
        for _ in range(3):
            host.verify(b"000000")
        data = b"12345678" + pin_block(b"654321")
        self.assertEqual(host.send(0x2C, 0x00, 0x80, data)[1], 0x9000)
        self.assertEqual(host.verify(None), 0x63C3)
        self.assertEqual(host.verify(b"123456"), 0x63C2)
        self.assertEqual(host.verify(b"654321"), 0x9000)

    def test_wrong_puk_blocks_the_puk(self):
        _, host = self.make_card()
        data = b"00000000" + pin_block(b"654321")
        self.assertEqual(host.send(0x2C, 0x00, 0x80, data)[1], 0x63C2)
        self.assertEqual(host.send(0x2C, 0x00, 0x80, data)[1], 0x63C1)
        self.assertEqual(host.send(0x2C, 0x00, 0x80, data)[1], 0x63C0)
        good = b"12345678" + pin_block(b"654321")
        self.assertEqual(host.send(0x2C, 0x00, 0x80, good)[1], 0x6983)

    def test_change_pin_and_puk(self):
        _, host = self.make_card()
        ok = host.send(0x24, 0x00, 0x80, pin_block(b"123456") + pin_block(b"11112222"))[1]
        self.assertEqual(ok, 0x9000)
        self.assertEqual(host.verify(b"11112222"), 0x9000)
        bad = host.send(0x24, 0x00, 0x80, pin_block(b"11112222") + pin_block(b"12a"))[1]
        self.assertEqual(bad, 0x6A80)
        ok = host.send(0x24, 0x00, 0x81, b"12345678" + b"87654321")[1]
        self.assertEqual(ok, 0x9000)
        wrong = host.send(0x24, 0x00, 0x81, b"12345678" + b"00000000")[1]
        self.assertEqual(wrong, 0x63C2)

    def test_verify_with_puk_reference_is_refused(self):
        _, host = self.make_card()
        self.assertEqual(host.send(0x20, 0x00, 0x81, b"12345678")[1], 0x6A88)

    def test_verify_ff_logs_out(self):
        _, host = self.make_card()
        host.verify()
        self.assertEqual(host.raw(bytes.fromhex("0020FF80"))[1], 0x9000)
        self.assertEqual(host.verify(None), 0x63C3)


class TestData(CardTestCase):
    def test_missing_object_is_not_found(self):
        _, host = self.make_card()
        self.assertEqual(host.get_data(bytes.fromhex("5FC105"))[1], 0x6A82)

    def test_default_chuid_and_discovery_objects(self):
        _, host = self.make_card()
        chuid, sw = host.get_data(bytes.fromhex("5FC102"))
        self.assertEqual(sw, 0x9000)
        self.assertEqual(len(vp.tlv_dict(vp.tlv_dict(chuid)[b"\x53"])[b"\x34"]), 16)
        disc, sw = host.get_data(b"\x7E")
        self.assertEqual(sw, 0x9000)
        self.assertEqual(disc[0], 0x7E)

    def test_put_get_certificate_with_chaining(self):
        _, host = self.make_card()
        host.mgmt_auth_mutual()
        cert = fake_certificate(1200)
        self.assertEqual(host.put_data(bytes.fromhex("5FC105"), cert), 0x9000)
        before = host.exchanges
        out, sw = host.get_data(bytes.fromhex("5FC105"))
        self.assertEqual(sw, 0x9000)
        self.assertEqual(out, vp.tlv(0x53, cert))
        self.assertGreater(host.exchanges - before, 4, "expected several GET RESPONSEs")

    def test_extended_get_data_returns_everything_at_once(self):
        _, host = self.make_card()
        host.mgmt_auth_mutual()
        cert = fake_certificate(1000)
        host.put_data(bytes.fromhex("5FC105"), cert)
        out, sw = host.raw(bytes.fromhex("00CB3FFF000005" "5C035FC105" "0000"))
        self.assertEqual(sw, 0x9000)
        self.assertEqual(out, vp.tlv(0x53, cert))

    def test_short_le_splits_response(self):
        _, host = self.make_card()
        out, sw = host.raw(bytes.fromhex("00CB3FFF055C035FC10208"))
        self.assertEqual(len(out), 8)
        self.assertEqual(sw >> 8, 0x61)

    def test_empty_53_deletes_object(self):
        _, host = self.make_card()
        host.mgmt_auth_mutual()
        host.put_data(bytes.fromhex("5FC10A"), b"abc")
        self.assertEqual(host.put_data(bytes.fromhex("5FC10A"), b""), 0x9000)
        self.assertEqual(host.get_data(bytes.fromhex("5FC10A"))[1], 0x6A82)

    def test_chain_interrupted_by_other_instruction(self):
        _, host = self.make_card()
        host.mgmt_auth_mutual()
        self.assertEqual(host.raw(short_apdu(0x10, 0xDB, 0x3F, 0xFF, b"\x5C"))[1], 0x9000)
        self.assertEqual(host.raw(short_apdu(0x00, 0xCB, 0x3F, 0xFF, b"\x5C\x01\x7E"))[1], 0x6883)

    def test_get_response_without_pending_data(self):
        _, host = self.make_card()
        out, sw = host.raw(bytes.fromhex("00C0000000"))
        self.assertEqual((out, sw), (b"", 0x9000))


class TestPersistence(CardTestCase):
    def test_state_survives_removal_and_reinsertion(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "card.json")
            _, host = self.make_card(state_path=path)
            host.mgmt_auth_mutual()
            public, _ = host.generate(0x9E, 0x11)
            cert = fake_certificate(600)
            host.put_data(bytes.fromhex("5FC10B"), cert)
            host.verify(b"000000")

            _, host = self.make_card(state_path=path)   # reinserted
            self.assertEqual(host.get_data(bytes.fromhex("5FC10B"))[0], vp.tlv(0x53, cert))
            self.assertEqual(host.verify(None), 0x63C2)
            signature, sw = host.sign(0x9E, 0x11, bytes(32))
            self.assertEqual(sw, 0x9000)
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public[b"\x86"])
            key.verify(signature, bytes(32), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            with open(path, encoding="utf-8") as f:
                self.assertIn("9E", json.load(f)["keys"])

    def test_stored_aes_key_is_kept_without_flags(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "card.json")
            self.make_card(state_path=path, mgmt_alg=0x08, mgmt_key=AES128_KEY)
            _, host = self.make_card(state_path=path)
            self.assertEqual(host.mgmt_auth_mutual(0x08, AES128_KEY), 0x9000)


class TestCplc(CardTestCase):
    """GlobalPlatform GET DATA CPLC (80 CA 9F 7F): the chip serial."""

    GET_CPLC = bytes.fromhex("80CA9F7F00")

    def cplc(self, host, apdu=GET_CPLC):
        out, sw = host.raw(apdu)
        self.assertEqual(sw, 0x9000)
        self.assertEqual(out[:3], bytes.fromhex("9F7F2A"))
        self.assertEqual(len(out), 3 + 42)
        return out[3:]

    def test_cplc_before_select_names_fabricator_and_type(self):
        _, host = self.make_card()
        cplc = self.cplc(host)
        self.assertEqual(cplc[0:2], bytes.fromhex("4790"))
        self.assertEqual(cplc[2:4], bytes.fromhex("5040"))
        self.assertEqual(host.select()[1], 0x9000)
        self.assertEqual(self.cplc(host), cplc)

    def test_any_le_or_none_gives_the_whole_record(self):
        _, host = self.make_card()
        whole = self.cplc(host)
        self.assertEqual(self.cplc(host, bytes.fromhex("80CA9F7F2D")), whole)
        self.assertEqual(self.cplc(host, bytes.fromhex("80CA9F7F")), whole)
        self.assertEqual(self.cplc(host, bytes.fromhex("80CA9F7F000000")), whole)  # extended

    def test_short_le_leaves_the_rest_for_get_response(self):
        _, host = self.make_card()
        whole = self.cplc(host)
        out, sw = host.raw(bytes.fromhex("80CA9F7F10"))
        self.assertEqual((len(out), sw), (16, 0x611D))
        more, sw = host.raw(bytes.fromhex("00C000001D"))
        self.assertEqual((out + more, sw), (bytes.fromhex("9F7F2A") + whole, 0x9000))

    def test_cards_have_their_own_serial(self):
        _, one = self.make_card()
        _, two = self.make_card()
        a, b = self.cplc(one), self.cplc(two)
        self.assertNotEqual(a[12:18], b[12:18])       # IC serial number and batch id
        self.assertEqual(a[:12], b[:12])              # the same chip model

    def test_card_without_piv_still_has_cplc(self):
        _, host = self.make_card(no_piv=True)
        self.assertEqual(host.select()[1], 0x6A82)
        self.assertEqual(self.cplc(host)[0:2], bytes.fromhex("4790"))

    def test_other_global_platform_data_and_commands(self):
        _, host = self.make_card()
        self.assertEqual(host.raw(bytes.fromhex("80CA006600"))[1], 0x6A88)
        self.assertEqual(host.raw(bytes.fromhex("80CB3FFF055C035FC102"))[1], 0x6E00)
        self.assertEqual(host.raw(bytes.fromhex("84CA9F7F00"))[1], 0x6E00)

    def test_cplc_ends_the_pin_always_window(self):
        _, host = self.make_card()
        host.mgmt_auth_mutual()
        host.generate(0x9C, 0x11)
        self.assertEqual(host.verify(), 0x9000)
        self.cplc(host)
        self.assertEqual(host.sign(0x9C, 0x11, bytes(32))[1], 0x6982)

    def test_cplc_is_persisted_and_added_to_an_older_state(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "card.json")
            _, host = self.make_card(state_path=path)
            first = self.cplc(host)
            _, host = self.make_card(state_path=path)   # reinserted
            self.assertEqual(self.cplc(host), first)
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
            self.assertEqual(state["cplc"], first.hex())

            del state["cplc"]                           # as written before the CPLC
            with open(path, "w", encoding="utf-8") as f:
                json.dump(state, f)
            _, host = self.make_card(state_path=path)
            added = self.cplc(host)
            self.assertEqual(added[0:2], bytes.fromhex("4790"))
            with open(path, encoding="utf-8") as f:
                self.assertEqual(json.load(f)["cplc"], added.hex())
            _, host = self.make_card(state_path=path)
            self.assertEqual(self.cplc(host), added)


class TestBrokenCards(CardTestCase):
    def test_no_piv_card(self):
        _, host = self.make_card(no_piv=True)
        self.assertEqual(host.select()[1], 0x6A82)
        self.assertEqual(host.get_data(b"\x7E")[1], 0x6D00)

    def test_full_card_refuses_certificates_only(self):
        _, host = self.make_card(full=True)
        host.mgmt_auth_mutual()
        self.assertEqual(host.put_data(bytes.fromhex("5FC105"), fake_certificate(300)), 0x6A84)
        self.assertEqual(host.put_data(bytes.fromhex("5FC102"), b"\x30\x00"), 0x9000)

    def test_vanishing_card_answers_nothing_after_n_apdus(self):
        card, host = self.make_card(vanish_after=2)
        self.assertEqual(host.select()[1], 0x9000)
        self.assertEqual(host.verify(None), 0x63C3)
        self.assertIsNone(card.process(SELECT_PIV))


class TestTransport(unittest.TestCase):
    """The vpcd framing and reconnect loop, against a fake vpcd on loopback."""

    def test_waits_for_vpcd_then_frames_control_codes_and_apdus(self):
        import socket
        import struct
        import threading
        import time
        server = socket.socket()
        server.bind(("127.0.0.1", 0))              # bound but not listening yet:
        port = server.getsockname()[1]             # the card must retry
        card = vp.VirtualPivCard(vanish_after=1)
        thread = threading.Thread(target=vp.VpcdTransport(card, port=port).run, daemon=True)
        thread.start()
        time.sleep(0.3)
        server.listen(1)
        server.settimeout(5)
        conn, _ = server.accept()
        conn.settimeout(5)

        def send(payload):
            conn.sendall(struct.pack(">H", len(payload)) + payload)

        def recv():
            n = struct.unpack(">H", conn.recv(2))[0]
            return conn.recv(n) if n else b""

        send(b"\x01")                                  # power on: no answer
        send(b"\x04")
        self.assertEqual(recv(), vp.DEFAULT_ATR)
        send(SELECT_PIV)
        self.assertEqual(recv()[-2:], b"\x90\x00")
        send(SELECT_PIV)                                # the card vanishes
        self.assertEqual(recv(), b"")
        self.assertEqual(conn.recv(1), b"")             # ... and hangs up
        thread.join(5)
        self.assertFalse(thread.is_alive(), "a vanished card stays removed")
        conn.close()
        server.close()


class TestPrintedInformation(CardTestCase):
    def test_printed_information_needs_the_pin(self):
        _, host = self.make_card()
        host.select()
        self.assertEqual(host.mgmt_auth_mutual(0x03, vp.DEFAULT_MGMT_KEY), 0x9000)
        self.assertEqual(host.put_data(bytes.fromhex("5FC109"), b"\x01\x03Ada"), 0x9000)
        self.assertEqual(host.get_data(bytes.fromhex("5FC109"))[1], 0x6982)
        self.assertEqual(host.verify(b"123456"), 0x9000)
        self.assertEqual(host.get_data(bytes.fromhex("5FC109"))[1], 0x9000)


class TestNoCplc(CardTestCase):
    def test_card_without_card_manager_refuses_cla_80(self):
        _, host = self.make_card(no_cplc=True)
        self.assertEqual(host.raw(bytes.fromhex("80CA9F7F00"))[1], 0x6E00)
        self.assertEqual(host.select()[1], 0x9000)


class TestHopper(CardTestCase):
    """--hopper: a reset after writes feeds the next blank card."""

    GET_CPLC = bytes.fromhex("80CA9F7F00")

    def serial(self, host):
        out, sw = host.raw(self.GET_CPLC)
        self.assertEqual(sw, 0x9000)
        return out[3:][12:18]

    def test_reset_after_writes_gives_a_blank_card_with_the_same_management_key(self):
        card, host = self.make_card(hopper=True, mgmt_alg=0x08, mgmt_key=AES128_KEY)
        first = self.serial(host)
        host.select()
        self.assertEqual(host.mgmt_auth_mutual(0x08, AES128_KEY), 0x9000)
        self.assertEqual(host.put_data(bytes.fromhex("5FC107"), b"\x01\x03Ada"), 0x9000)
        card.reset()
        self.assertNotEqual(self.serial(host), first)
        host.select()
        self.assertEqual(host.get_data(bytes.fromhex("5FC107"))[1], 0x6A82)
        self.assertEqual(host.mgmt_auth_mutual(0x08, AES128_KEY), 0x9000)

    def test_the_card_that_went_through_lands_in_the_output_tray(self):
        with tempfile.TemporaryDirectory() as d:
            state = os.path.join(d, "card0.json")
            card, host = self.make_card(hopper=True, state_path=state)
            first = self.serial(host)
            host.select()
            self.assertEqual(host.mgmt_auth_mutual(0x03, vp.DEFAULT_MGMT_KEY), 0x9000)
            self.assertEqual(host.put_data(bytes.fromhex("5FC107"), b"\x01\x03Ada"), 0x9000)
            card.reset()
            self.assertEqual(card.ejected_path(), os.path.join(d, "card0.ejected.json"))
            with open(card.ejected_path(), encoding="utf-8") as f:
                ejected = json.load(f)
            self.assertEqual(bytes.fromhex(ejected["cplc"])[12:18], first)
            self.assertIn("5FC107", ejected["objects"])
            with open(state, encoding="utf-8") as f:
                self.assertNotIn("5FC107", json.load(f)["objects"])

    def test_a_tray_keeps_every_card_that_went_through(self):
        with tempfile.TemporaryDirectory() as d:
            tray = os.path.join(d, "tray")
            card, host = self.make_card(hopper=True, state_path=os.path.join(d, "card0.json"),
                                        tray=tray)
            serials = []
            for name in (b"Ada", b"Alan"):
                serials.append(card.chip_serial())
                host.select()
                self.assertEqual(host.mgmt_auth_mutual(0x03, vp.DEFAULT_MGMT_KEY), 0x9000)
                self.assertEqual(host.put_data(bytes.fromhex("5FC107"), b"\x01\x03" + name),
                                 0x9000)
                card.reset()
            card.reset()        # nothing written since: nothing leaves
            self.assertNotEqual(serials[0], serials[1])
            self.assertEqual(sorted(os.listdir(tray)), sorted(s + ".json" for s in serials))
            for serial, name in zip(serials, (b"Ada", b"Alan")):
                with open(os.path.join(tray, serial + ".json"), encoding="utf-8") as f:
                    kept = json.load(f)
                cplc = bytes.fromhex(kept["cplc"])
                self.assertEqual((cplc[0:2] + cplc[12:18]).hex().upper(), serial)
                self.assertIn(name.hex().upper(), kept["objects"]["5FC107"].upper())
            # the same chip back in the feeder and out again: a second file
            with open(os.path.join(tray, serials[0] + ".json"), encoding="utf-8") as f:
                again = json.load(f)
            with open(os.path.join(d, "card0.json"), "w", encoding="utf-8") as f:
                json.dump(again, f)
            card, host = self.make_card(hopper=True, state_path=os.path.join(d, "card0.json"),
                                        tray=tray)
            self.assertEqual(card.chip_serial(), serials[0])
            host.select()
            self.assertEqual(host.mgmt_auth_mutual(0x03, vp.DEFAULT_MGMT_KEY), 0x9000)
            self.assertEqual(host.put_data(bytes.fromhex("5FC107"), b"\x01\x03Bob"), 0x9000)
            card.reset()
            self.assertIn(serials[0] + ".1.json", os.listdir(tray))

    def test_reset_without_writes_keeps_the_card(self):
        card, host = self.make_card(hopper=True)
        first = self.serial(host)
        host.select()
        card.reset()
        self.assertEqual(self.serial(host), first)

    def test_without_hopper_a_reset_keeps_what_was_written(self):
        card, host = self.make_card()
        first = self.serial(host)
        host.select()
        self.assertEqual(host.mgmt_auth_mutual(0x03, vp.DEFAULT_MGMT_KEY), 0x9000)
        self.assertEqual(host.put_data(bytes.fromhex("5FC107"), b"\x01\x03Ada"), 0x9000)
        card.reset()
        self.assertEqual(self.serial(host), first)


if __name__ == "__main__":
    unittest.main()
