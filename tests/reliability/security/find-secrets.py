#!/usr/bin/python3
"""Looks for secrets in every file under some folders, in every encoding a
leak would likely take: the text itself, hexadecimal (lower and upper case)
and base64 at each of the three alignments it can have inside a longer
stream; binary secrets (keys) also as raw bytes.  A secret made of digits
(a PIN, a PUK) counts in text only where it is not part of a longer run of
hex digits, so that a time or a serial number that happens to contain it
is not a leak.

  find-secrets.py SECRETS [--allow FILE=LABEL]... ROOT...
  find-secrets.py --self-test SECRETS

SECRETS has one secret a line, "LABEL TEXT" or "LABEL hex:HEX" (bytes).
--allow lets one file hold the secrets whose label starts with LABEL (the
one mail that is meant to carry a PIN).  Prints each finding as "LABEL
ENCODING FILE OFFSET" and exits 1 when there is any, 0 when there is none.
--self-test plants every secret, in every encoding, into random bytes and
into the text of a log line, in a scratch folder, and checks each one is
found, and that digits inside a longer run of digits are not.
"""
import base64
import os
import re
import sys
import tempfile


def load(path):
    secrets = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            label, _, text = line.partition(" ")
            value = bytes.fromhex(text[4:]) if text.startswith("hex:") else text.encode()
            if len(value) < 4:
                raise SystemExit("find-secrets: %s is too short to look for" % label)
            secrets.append((label, value, text.startswith("hex:")))
    return secrets


def b64_fragments(value):
    """The base64 characters that depend on value alone, for value at byte
    offset 0, 1 and 2 of a longer stream."""
    out = []
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + value + b"\0\0").decode()
        first = -(-8 * k // 6)            # ceil: first character inside value
        last = 8 * (k + len(value)) // 6  # first character past it
        out.append(("base64+%d" % k, enc[first:last].encode()))
    return out


def patterns(value, binary):
    """(encoding, compiled bytes regex) pairs for one secret."""
    forms = [("hex", value.hex().encode()), ("HEX", value.hex().upper().encode())]
    forms += b64_fragments(value)
    if binary:
        forms.append(("raw", value))
    out = [(name, re.compile(re.escape(form))) for name, form in forms]
    if not binary:
        text = re.escape(value)
        if value.isdigit():
            text = rb"(?<![0-9A-Fa-f])" + text + rb"(?![0-9A-Fa-f])"
        out.insert(0, ("text", re.compile(text)))
    return out


def scan(secrets, roots, allow):
    found = []
    compiled = [(label, patterns(value, binary)) for label, value, binary in secrets]
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in sorted(names):
                path = os.path.join(folder, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                for label, pats in compiled:
                    if any(os.path.samefile(path, a) and label.startswith(l)
                           for a, l in allow if os.path.exists(a)):
                        continue
                    for encoding, pat in pats:
                        m = pat.search(data)
                        if m:
                            found.append((label, encoding, path, m.start()))
    return found


def self_test(secrets):
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        planted = []
        for i, (label, value, binary) in enumerate(secrets):
            for j, (encoding, pat) in enumerate(patterns(value, binary)):
                if encoding.startswith("base64"):
                    k = int(encoding[-1])
                    form = base64.b64encode(os.urandom(30 + k) + value + os.urandom(7))
                elif encoding == "text":
                    form = b"[info] core: opened with " + value + b" as its PIN\n"
                elif encoding == "raw":
                    form = os.urandom(100) + value + os.urandom(100)
                else:
                    form = b"data " + (value.hex().upper() if encoding == "HEX"
                                       else value.hex()).encode() + b" end"
                name = os.path.join(tmp, "%03d-%02d" % (i, j))
                with open(name, "wb") as f:
                    f.write(form)
                planted.append((label, encoding, name))
        found = {(label, path) for label, _, path, _ in scan(secrets, [tmp], [])}
        for label, encoding, path in planted:
            if (label, path) not in found:
                failures += 1
                print("self-test: %s planted as %s was not found" % (label, encoding))
        print("# self-test: %d plantings of %d secrets, %d found" %
              (len(planted), len(secrets), len(planted) - failures))
        # digits inside longer numbers (times, serials) are not the secret
        quiet = os.path.join(tmp, "quiet")
        os.mkdir(quiet)
        with open(os.path.join(quiet, "times"), "wb") as f:
            for label, value, binary in secrets:
                if not binary and value.isdigit():
                    f.write(b"at 17" + value + b"042 and 9" + value + b" and " + value + b"a1\n")
        noise = scan(secrets, [quiet], [])
        for label, encoding, path, offset in noise:
            failures += 1
            print("self-test: %s reported inside a longer number (%s)" % (label, encoding))
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        return self_test(load(argv[2]))
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    secrets = load(argv[1])
    allow, roots, args = [], [], argv[2:]
    while args:
        if args[0] == "--allow":
            path, _, label = args[1].rpartition("=")
            allow.append((path, label))
            args = args[2:]
        else:
            roots.append(args[0])
            args = args[1:]
    found = scan(secrets, roots, allow)
    for label, encoding, path, offset in found:
        print("%s %s %s %d" % (label, encoding, path, offset))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
