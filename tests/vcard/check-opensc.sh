#!/usr/bin/env bash
# A card personalized by libidm, read by software nobody here wrote: OpenSC's
# PKCS#11 module lists its certificates and keys, signs with the user PIN,
# and openssl verifies the signatures against the certificates (and the
# certificates against the CA).  Runs inside tests/vcard/with-stack.sh, which
# names the reader in IDM_TEST_READER0.
#
#   check-opensc.sh PERSONALIZE_EXAMPLE [--rsa]
set -uo pipefail
example=$1
shift
module=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
say_fail() { echo "FAIL: $*"; fail=1; }

if ! "$example" --reader "$IDM_TEST_READER0" --secrets "$work/pin-letter" \
        --ca-out "$work/ca.pem" "$@" "$work/store.db" > "$work/personalize.out" 2>&1; then
    cat "$work/personalize.out"
    echo "FAIL: the example could not personalize the card"
    exit 1
fi
cat "$work/personalize.out"
pin=$(sed -n 's/^PIN=//p' "$work/pin-letter")
[[ ${#pin} -eq 6 ]] || say_fail "the PIN letter has no 6-digit PIN"

p11() { pkcs11-tool --module "$module" "$@"; }

# Without login: the four certificates and their public keys.
objects=$(p11 --list-objects 2>&1)
certs=$(grep -c "^Certificate Object" <<<"$objects")
[[ $certs -eq 4 ]] || say_fail "OpenSC lists $certs certificates, expected 4: $objects"
# With the user PIN: the private keys as well.
private=$(p11 --login --pin "$pin" --list-objects 2>&1 | grep -c "^Private Key Object")
[[ $private -eq 4 ]] || say_fail "OpenSC lists $private private keys after login, expected 4"

# PIV key ids in OpenSC: 01 = 9A, 02 = 9C, 03 = 9D, 04 = 9E.
printf 'libidm interop check %s\n' "$(date +%s%N)" > "$work/data"
for id in 01 02 04; do
    if ! p11 --read-object --type cert --id "$id" -o "$work/cert$id.der" > /dev/null 2>&1; then
        say_fail "OpenSC cannot read the certificate with id $id"; continue
    fi
    openssl x509 -inform DER -in "$work/cert$id.der" -pubkey -noout > "$work/pub$id.pem" \
        || { say_fail "openssl cannot read certificate $id"; continue; }
    verify=$(openssl verify -CAfile "$work/ca.pem" <(openssl x509 -inform DER -in "$work/cert$id.der") 2>&1)
    grep -q ": OK" <<<"$verify" || say_fail "certificate $id does not chain to the CA: $verify"
    if openssl x509 -inform DER -in "$work/cert$id.der" -noout -text \
            | grep -q "Public Key Algorithm: rsaEncryption"; then
        mech=SHA256-RSA-PKCS
        format=()
    else
        mech=ECDSA-SHA256
        format=(--signature-format openssl)
    fi
    if ! p11 --login --pin "$pin" --sign --id "$id" --mechanism "$mech" "${format[@]}" \
            -i "$work/data" -o "$work/sig$id" > "$work/sign$id.out" 2>&1; then
        cat "$work/sign$id.out"
        say_fail "OpenSC could not sign with key $id"; continue
    fi
    result=$(openssl dgst -sha256 -verify "$work/pub$id.pem" -signature "$work/sig$id" \
             "$work/data" 2>&1)
    if [[ $result == "Verified OK" ]]; then
        echo "ok: key $id ($mech) signed through OpenSC, verified by openssl"
    else
        say_fail "the signature of key $id does not verify: $result"
    fi
done

# A wrong PIN is refused by the card, through OpenSC as well.
if p11 --login --pin 000000 --list-objects > /dev/null 2>&1; then
    say_fail "OpenSC logged in with a wrong PIN"
fi
[[ $fail -eq 0 ]] && echo "ok: OpenSC reads and uses the card libidm personalized"
exit "$fail"
