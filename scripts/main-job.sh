#!/usr/bin/env bash
# libidm's main job, with the `idm` tool alone: a Digital ID mass production
# of a few dozen employee cards on the embedded SQLite store, with the
# built-in CA, on the project's virtual PIV cards through pcscd.
#
#   main-job.sh IDM_BINARY EMPLOYEES_CSV WORK_DIR
#
# Runs inside tests/vcard/with-stack.sh --readers 2 --hopper (scripts/demo.sh
# and the meson test `main_job` do that): IDM_TEST_READER0 and
# IDM_TEST_READER1 name the two readers, PCSC_STACK_DIR is the stack.
#
# HR imports the employees and requests a card for each; security approves
# them; two employees leave before production; the CA is made; one order
# takes the approved cards and two stations (one per reader, two processes)
# produce it together: keys made on the cards, certificates from the CA,
# PIN letters.  Then the report, the cards handed out, every certificate
# verified by openssl against the CA and its CRL, the audit chain checked,
# and the last card of reader 0 put back in the reader and read with OpenSC:
# its certificate is the store's, and its key signs with the PIN of its PIN
# letter.  Each check that fails stops the job with exit status 1.
set -euo pipefail
idm=$(readlink -f "$1")
employees=$(readlink -f "$2")
work=$3
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
reader0=${IDM_TEST_READER0:?run inside tests/vcard/with-stack.sh --readers 2 --hopper}
reader1=${IDM_TEST_READER1:?run inside tests/vcard/with-stack.sh --readers 2 --hopper}
pkcs11=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so

# the folder is the job's own: made anew, but never one with something else in it
if [ -d "$work" ] && [ -n "$(ls -A "$work")" ] && [ ! -e "$work/cards.db" ]; then
  echo "main job: $work has files and no cards.db: not a main job's folder, left alone" >&2
  exit 2
fi
rm -rf "$work"
mkdir -p "$work/pins"
work=$(readlink -f "$work")
chmod 700 "$work" "$work/pins"
export IDM_STORE="$work/cards.db"
unset IDM_ACTOR IDM_CA_PASSPHRASE

heading() { printf '\n== %s\n' "$*"; }
# shows a command as a reader would type it, then runs it
show() {
  local arg line='$'
  for arg in "$@"; do
    [[ $arg == *[[:space:]]* ]] && arg="'$arg'"
    line+=" $arg"
  done
  sed "s|$idm|idm|; s|$work/|demo/|g" <<<"$line"
  "$@"
}
fail() { echo "main job: FAILED: $*" >&2; exit 1; }
field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

heading "1. A new store, the employees from HR's CSV file, and PINs made by the library"
show "$idm" init
show "$idm" --actor hr:clerk identity import --id-column employeeNumber --state active \
  "$employees"
people=$("$idm" --json identity list | field 'len(d)')
show "$idm" --actor security:officer option set pin_source generated

heading "2. HR requests a Digital ID card for each; security approves them"
echo "\$ idm --actor hr:clerk card request --identity <each> --option digital    ($people times)"
for id in $("$idm" --json identity list | field '" ".join(str(i["id"]) for i in d)'); do
  "$idm" --actor hr:clerk card request --identity "$id" --option digital >/dev/null
done
cards=$("$idm" --json card list --state requested | field '" ".join(str(c["id"]) for c in d)')
echo "\$ idm --actor security:officer card approve <the $people cards>"
"$idm" --actor security:officer card approve $cards >/dev/null

heading "3. Two employees leave before their cards are made"
show "$idm" --actor hr:clerk identity set-state inactive E2011 E2027

heading "4. The issuing CA (its key encrypted with a passphrase, mode 0600)"
head -c 24 /dev/urandom | base64 >"$work/ca.passphrase"
chmod 600 "$work/ca.passphrase"
show "$idm" --actor security:officer ca create --dir "$work/ca" --name "Example Corp Issuing CA" \
  --key-type p256 --days 3650 --passphrase-file "$work/ca.passphrase"

heading "5. One production order of the approved Digital ID cards"
show "$idm" --actor operator:alice order create --option digital --external-id "batch-2026-11"

heading "6. Mass production on two stations at once (one per reader)"
produce() { # STATION READER: one station as its own process
  "$idm" --actor "operator:$1" order produce batch-2026-11 --station "$1" --reader "$2" \
    --ca-dir "$work/ca" --passphrase-file "$work/ca.passphrase" --pin-dir "$work/pins"
}
echo "\$ idm order produce batch-2026-11 --station station-2 --reader '$reader1' ... &"
produce station-2 "$reader1" >"$work/station-2.out" 2>&1 &
station2=$!
echo "\$ idm order produce batch-2026-11 --station station-1 --reader '$reader0' ..."
status1=0
produce station-1 "$reader0" || status1=$?
status2=0
wait "$station2" || status2=$?
echo "(station-2 said: $(head -n 1 "$work/station-2.out"))"
[ "$status1" -eq 0 ] && [ "$status2" -eq 0 ] ||
  fail "a station stopped: station-1 exit $status1, station-2 exit $status2: $(cat "$work/station-2.out")"

heading "7. The report"
show "$idm" report
report=$("$idm" --json report)
expected=$((people - 2))
totals=$(field 'd["totals"]' <<<"$report")
[ "$(field 'd["totals"]["produced"]' <<<"$report")" -eq "$expected" ] &&
  [ "$(field 'd["totals"]["skipped"]' <<<"$report")" -eq 2 ] &&
  [ "$(field 'd["totals"]["failed"] + d["totals"]["pending"]' <<<"$report")" -eq 0 ] ||
  fail "the order should have $expected cards produced and 2 skipped: $totals"
letters=$(find "$work/pins" -name '*.pin' -perm 600 | wc -l)
[ "$letters" -eq "$expected" ] || fail "$letters PIN letters of mode 0600, not $expected"

heading "8. The cards are handed out to their holders (issued -> active)"
issued=$("$idm" --json card list --state issued | field '" ".join(str(c["id"]) for c in d)')
echo "\$ idm --actor operator:alice card set-state active <the $expected issued cards>"
"$idm" --actor operator:alice card set-state active $issued >/dev/null

heading "9. Every certificate verified by openssl against the CA and its CRL"
show "$idm" --actor security:officer ca crl --ca-dir "$work/ca" \
  --passphrase-file "$work/ca.passphrase" --pem --out "$work/ca.crl"
mkdir "$work/certs"
certs=$("$idm" --json cert list)
[ "$(field 'sum(c["state"] != "valid" for c in d)' <<<"$certs")" -eq 0 ] ||
  fail "certificates that are not valid: $certs"
serials=$(field '" ".join(c["serial"] for c in d)' <<<"$certs")
verified=0
for serial in $serials; do
  "$idm" cert export --pem --out "$work/certs/$serial.pem" "$serial" >/dev/null
  out=$(openssl verify -crl_check -CAfile "$work/ca/ca.crt" -CRLfile "$work/ca.crl" \
    "$work/certs/$serial.pem" 2>&1) || fail "openssl verify of $serial: $out"
  verified=$((verified + 1))
done
per_card=$((verified / expected))
[ "$verified" -gt 0 ] && [ $((per_card * expected)) -eq "$verified" ] ||
  fail "$verified certificates for $expected cards"
echo "openssl verify -crl_check: $verified certificates of $expected cards ($per_card each): all OK"

heading "10. The audit trail"
show "$idm" audit verify
if [ -n "${IDM_CHECK_STORE:-}" ]; then # the tests: the store's invariants too
  "$IDM_CHECK_STORE" "$IDM_STORE" || fail "the store's invariants (tests/reliability/check_store.c)"
fi

heading "11. The last card of reader 0, back in the reader, read with OpenSC"
bash "$root/scripts/pcsc-stack.sh" card 0 --remove >/dev/null
cp "$PCSC_STACK_DIR/card0.ejected.json" "$PCSC_STACK_DIR/card0.json"
bash "$root/scripts/pcsc-stack.sh" card 0 >/dev/null
slot=$(pkcs11-tool --module "$pkcs11" --list-slots 2>/dev/null |
  sed -n "s/^Slot \([0-9]*\) .*: $reader0.*/\1/p" | head -n 1)
[ -n "$slot" ] || fail "OpenSC sees no slot for '$reader0'"
p11() { pkcs11-tool --module "$pkcs11" --slot-index "$slot" "$@"; }
p11 --read-object --type cert --id 01 -o "$work/chip-auth.der" >/dev/null 2>&1 ||
  fail "OpenSC cannot read the PIV Authentication certificate"
serial=$(openssl x509 -inform DER -in "$work/chip-auth.der" -noout -serial | sed 's/^serial=//')
cert=$("$idm" --json cert show "$serial") || fail "the chip's certificate $serial is not in the store"
card_id=$(field 'd["card_id"]' <<<"$cert")
number=$("$idm" --json card show "$card_id" | field 'd["card"]["number"]')
holder=$(openssl x509 -inform DER -in "$work/chip-auth.der" -noout -subject -nameopt utf8,sep_comma_plus)
"$idm" cert export "$serial" | cmp -s - "$work/chip-auth.der" ||
  fail "the chip's certificate differs from the store's"
echo "card $number in reader 0 holds certificate $serial ($holder), the store's own"
pin=$(sed -n 's/^PIN //p' "$work/pins/$number.pin")
printf 'challenge %s' "$(date +%s%N)" >"$work/challenge"
openssl x509 -inform DER -in "$work/chip-auth.der" -pubkey -noout >"$work/chip-auth.pub"
p11 --login --pin "$pin" --sign --id 01 --mechanism ECDSA-SHA256 --signature-format openssl \
  -i "$work/challenge" -o "$work/challenge.sig" >/dev/null 2>&1 ||
  fail "the card's key does not sign with the PIN of its PIN letter"
openssl dgst -sha256 -verify "$work/chip-auth.pub" -signature "$work/challenge.sig" \
  "$work/challenge" >/dev/null || fail "the card's signature does not verify with its certificate"
echo "its key signs a challenge after the PIN of PIN letter $number.pin, and the signature"
echo "verifies with the certificate: the card works"

heading "Done"
echo "$expected of $people employees have a working Digital ID card; 2 were skipped, with"
echo "the reasons in the report.  Store: $IDM_STORE; PIN letters: $work/pins."
