#!/usr/bin/env bash
# `idm order produce` on the real PC/SC stack (run inside tests/vcard/with-stack.sh
# --hopper): a Digital ID order made with the CLI alone, produced with the
# CA of `idm ca create`, PIN letters written, the summary right; Ctrl-C in
# the middle stops between two cards (exit 130) and the same command resumes;
# the PINs are nowhere in the store.  Prints TAP.
# Usage: check-idm-produce.sh IDM_BINARY PEOPLE_CSV
set -uo pipefail
idm=$(readlink -f "$1")
people=$(readlink -f "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export IDM_STORE="$work/idm.db" IDM_ACTOR="test:check-idm-produce"
export IDM_CA_PASSPHRASE="a passphrase for the test CA"
reader=${IDM_TEST_READER0:?run through tests/vcard/with-stack.sh}

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; printf '#   %s\n' "$@"; }
run() { # STATUS NAME ARGS...
  local want=$1 name=$2
  shift 2
  "$idm" "$@" >"$work/out" 2>"$work/err"
  local status=$?
  out=$(tr -d '\0' <"$work/out") err=$(cat "$work/err")
  if [ "$status" -eq "$want" ]; then ok "$name (exit $status)"; return 0; fi
  not_ok "$name: exit $status, want $want" "idm $*" "stdout: $out" "stderr: $err"
  return 1
}
expect() { # NAME TEXT NEEDLE...: every needle is in the text
  local name=$1 text=$2 needle
  shift 2
  for needle in "$@"; do
    [[ $text == *"$needle"* ]] || { not_ok "$name" "missing: $needle" "in: $text"; return 1; }
  done
  ok "$name"
}
json() { # NAME EXPRESSION over the JSON document d on the last stdout
  if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert $2, d" "$work/out" \
       2>"$work/json-err"; then ok "$1"; else not_ok "$1" "$(cat "$work/json-err")"; fi
}

# ---- a store, people, cards, a CA, an order: the CLI alone --------------------
"$idm" init >/dev/null && "$idm" identity import --id-column employeeNumber --state active \
  "$people" >/dev/null && ok "store and people" || not_ok "store and people"
run 0 "option set pin_source generated" option set pin_source generated
run 0 "option set card_key_slots 9A,9C" --json option set card_key_slots 9A,9C &&
  json "the option reads back" 'd["card_key_slots"] == "9A,9C"'
run 2 "option set of an unknown option" option set no_such_option 1
run 2 "a yes-no option wants true or false" option set queue_orders maybe
for i in 1 2 3 4 5 6 7 8; do
  "$idm" card request --identity "$i" --option digital >/dev/null || not_ok "request $i"
done
run 0 "approve eight cards" card approve 1 2 3 4 5 6 7 8
run 0 "ca create" ca create --dir "$work/ca" --name "CLI Test CA" --key-type p256 --days 30
[ "$(stat -c %a "$work/ca/ca.key")" = 600 ] && ok "the CA key is mode 0600" ||
  not_ok "the CA key's mode is $(stat -c %a "$work/ca/ca.key")"
grep -q "ENCRYPTED PRIVATE KEY" "$work/ca/ca.key" && ok "the CA key is encrypted" ||
  not_ok "the CA key is not encrypted PKCS#8"
run 1 "ca create never overwrites" ca create --dir "$work/ca" --name "Other CA"
IDM_CA_PASSPHRASE="" run 2 "ca create wants a passphrase" ca create --dir "$work/ca2" --name X
run 0 "order create" --json order create --option digital &&
  json "eight pending" 'd["cards"]["pending"] == 8 and d["state"] == "open"'
run 2 "produce without --ca-dir" order produce 1 --reader "$reader"
if IDM_CA_PASSPHRASE="wrong" run 1 "produce with the wrong passphrase" order produce 1 \
     --reader "$reader" --ca-dir "$work/ca"; then
  [[ $err == *"cannot load the CA"* ]] && ok "names the CA" || not_ok "the message" "$err"
fi
run 1 "produce on a reader that does not exist" order produce 1 --reader "No Such Reader" \
  --ca-dir "$work/ca" --pin-dir "$work" --timeout 2

# ---- Ctrl-C between two cards, then resume ----------------------------------------
mkdir "$work/pins"
"$idm" order produce 1 --reader "$reader" --ca-dir "$work/ca" --pin-dir "$work/pins" \
  >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 2000); do # until the first card is through (at most 20 s)
  compgen -G "$work/pins/*.pin" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
status=$?
if [ "$status" -eq 130 ]; then
  ok "Ctrl-C stops the run with exit 130"
  [[ $(cat "$work/err") == *"run the same command again to resume"* ]] &&
    ok "and says how to resume" || not_ok "no resume hint" "$(cat "$work/err")"
else
  not_ok "Ctrl-C: exit $status, want 130" "$(cat "$work/err")"
fi
run 0 "show the order after Ctrl-C" --json order show 1 &&
  json "some produced, the rest pending, nothing failed" \
    'd["order"]["cards"]["produced"] >= 1 and d["order"]["cards"]["pending"] >= 1 and d["order"]["cards"]["produced"] + d["order"]["cards"]["pending"] == 8 and d["failed"] == []'
# A letter a killed attempt left for a card (written, then the process died
# before the card was recorded) is set aside, not in the way of the new one
# (the crash torture found resumes cancelled by it, their cards failed).
printf 'card 00000008\nPIN 000000\nPUK 00000000\n' >"$work/pins/00000008.pin"
chmod 600 "$work/pins/00000008.pin"
run 0 "the same command resumes" --json order produce 1 --reader "$reader" --ca-dir "$work/ca" \
  --pin-dir "$work/pins" &&
  json "completed, eight produced" \
    'd["order"]["state"] == "completed" and d["order"]["cards"]["produced"] == 8 and d["skipped"] == [] and d["failed"] == []'
run 0 "cards list" --json card list --state issued && json "eight issued" 'len(d) == 8'
run 0 "card show" --json card show 1 &&
  json "two certificates on hold" 'len(d["certificates"]) == 2 and all(c["state"] == "on_hold" for c in d["certificates"])'

# ---- certificates: exported, verified by openssl, revoked, in the CRL -----------------
serial=$("$idm" --json card show 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["serial"])')
run 0 "cert show" --json cert show "$serial" &&
  json "on hold, on card 1" 'd["card_id"] == 1 and d["state"] == "on_hold"'
run 0 "cert export --pem" cert export --pem --out "$work/card1.pem" "$serial"
verified=$(openssl verify -CAfile "$work/ca/ca.crt" "$work/card1.pem" 2>&1)
[[ $verified == *": OK" ]] && ok "openssl verifies the card's certificate against the CA" ||
  not_ok "openssl verify" "$verified"
run 1 "cert export never overwrites" cert export --out "$work/card1.pem" "$serial"
if run 0 "cert export DER to stdout" cert export "$serial"; then
  der_serial=$(openssl x509 -inform DER -in "$work/out" -noout -serial 2>&1)
  [ "$der_serial" = "serial=$serial" ] && ok "the DER is the certificate" ||
    not_ok "the DER on stdout" "$der_serial"
fi
run 0 "cert revoke" cert revoke --ca-dir "$work/ca" --reason key_compromise "$serial"
run 0 "cert show after revoke" --json cert show "$serial" &&
  json "revoked, key compromise" 'd["state"] == "revoked" and d["revocation_reason"] == "key_compromise"'
run 1 "revoke again is refused" cert revoke --ca-dir "$work/ca" "$serial"
run 0 "ca crl" ca crl --ca-dir "$work/ca" --pem --out "$work/ca.crl"
crl=$(openssl crl -in "$work/ca.crl" -noout -text -CAfile "$work/ca/ca.crt" 2>&1)
[[ $crl == *"Serial Number: $serial"* && $crl == *"Key Compromise"* ]] &&
  ok "the CRL lists the certificate with its reason" || not_ok "the CRL" "$crl"
[[ $crl == *"verify OK"* ]] && ok "the CRL's signature verifies" || not_ok "CRL signature" "$crl"
run 0 "cert list" --json cert list &&
  json "16 records, two per card, on hold but card 1's revoked one" \
    'len(d) == 16 and sum(c["state"] == "revoked" for c in d) == 1 and all(c["state"] in ("on_hold", "revoked") for c in d)'
run 0 "cert list --state revoked" --json cert list --state revoked &&
  json "card 1's" "[(c['card_id'], c['serial']) for c in d] == [(1, '$serial')]"
run 0 "cert list --card" cert list --card 00000002 &&
  expect "card 2's two certificates, as text" "$out" "     2  " "on_hold"
run 0 "card set-state active: card 2 is handed out" --json card set-state active 2 &&
  json "active" '[c["state"] for c in d] == ["active"]'
run 0 "card 2's certificates are valid now" --json card show 2 &&
  json "valid" 'len(d["certificates"]) == 2 and all(c["state"] == "valid" for c in d["certificates"])'
serial2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificates"][0]["serial"])' "$work/out")
"$idm" cert export --pem --out "$work/card2.pem" "$serial2" >/dev/null &&
  "$idm" ca crl --ca-dir "$work/ca" --pem --out "$work/ca2.crl" >/dev/null
verified=$(openssl verify -crl_check -CAfile "$work/ca/ca.crt" -CRLfile "$work/ca2.crl" "$work/card2.pem" 2>&1)
[[ $verified == *": OK" ]] && ok "openssl verifies card 2's certificate with the CRL" ||
  not_ok "openssl verify -crl_check of card 2" "$verified"
verified=$(openssl verify -crl_check -CAfile "$work/ca/ca.crt" -CRLfile "$work/ca2.crl" "$work/card1.pem" 2>&1)
[[ $verified == *"certificate revoked"* ]] && ok "and refuses the revoked one of card 1" ||
  not_ok "openssl verify -crl_check of the revoked certificate" "$verified"
run 0 "audit export of card 1" --json audit export --object card:1 &&
  json "its events" 'd and all(e["object"] == "card" and e["object_id"] == 1 for e in d)'
"$idm" audit export >"$work/audit.txt" 2>&1

# ---- PIN letters: one per card, 0600, and the PINs nowhere in the store --------------
letters=$(compgen -G "$work/pins/*.pin" | wc -l)
[ "$letters" -eq 8 ] && ok "eight PIN letters" || not_ok "$letters PIN letters, want 8"
if [[ $(cat "$work/pins/00000008.pin.1" 2>/dev/null) == *"PIN 000000"* ]] &&
  ! grep -q "PIN 000000$" "$work/pins/00000008.pin"; then
  ok "the killed attempt's letter is kept aside as 00000008.pin.1, the new one in its place"
else
  not_ok "the letter of a killed attempt" "$(ls "$work/pins")"
fi
bad_mode=$(find "$work/pins" -type f ! -perm 600 | wc -l)
[ "$bad_mode" -eq 0 ] && ok "every PIN letter is mode 0600" || not_ok "$bad_mode letters not 0600"
leaked=0
for letter in "$work"/pins/*.pin; do
  pin=$(sed -n 's/^PIN //p' "$letter") puk=$(sed -n 's/^PUK //p' "$letter")
  [ -n "$pin" ] && [ -n "$puk" ] || { leaked=1; echo "# no PIN or PUK in $letter"; }
  for f in "$work"/idm.db* "$work/audit.txt"; do
    # as a number of its own (not inside a longer run of digits, such as a time)
    if grep -a -q -P "(?<![0-9])($pin|$puk)(?![0-9])" "$f"; then
      leaked=1; echo "# $letter's secret in $f"
    fi
  done
done
[ "$leaked" -eq 0 ] && ok "no PIN or PUK in the store or the audit export" ||
  not_ok "a PIN or PUK reached the store or the audit"
# ---- on a terminal: the progress line (script(1) gives the run a pseudo-terminal) -----
"$idm" card request --identity 1 --type contractor --option digital >/dev/null &&
  "$idm" card request --identity 2 --type contractor --option digital >/dev/null &&
  "$idm" card approve 9 10 >/dev/null && ok "two contractor cards approved" ||
  not_ok "two contractor cards"
order=$("$idm" --json order create --type contractor --option digital |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
script -qefc "'$idm' order produce $order --reader '$reader' --ca-dir '$work/ca' --pin-dir '$work/pins'" \
  /dev/null >"$work/tty" 2>&1
status=$?
tty_out=$(tr '\r' '\n' <"$work/tty")
[ "$status" -eq 0 ] && ok "produce on a terminal" || not_ok "produce on a terminal: exit $status" "$tty_out"
[[ $tty_out == *"2/2 cards"*"cards/s"*"ETA"*"skipped 0"*"failed 0"* ]] &&
  ok "the progress line shows done/total, rate, ETA, skipped and failed" ||
  not_ok "no progress line on the terminal" "$tty_out"
"$idm" order produce 1 --reader "$reader" --ca-dir "$work/ca" --pin-dir "$work/pins" \
  >"$work/out" 2>"$work/err"
[[ $(cat "$work/err") != *"cards/s"* ]] && ok "no progress line when stderr is not a terminal" ||
  not_ok "a progress line went to a file" "$(cat "$work/err")"

# ---- external production: a card the bureau made, activated in the reader ---------------
desk=(--spool "$work/spool")
mkdir "$work/spool"
run 0 "external production on" option set external_production_enabled true
run 0 "external order" --json external order "${desk[@]}" --type contractor --option digital E1008 &&
  json "ordered" 'd[0]["state"] == "ordered"'
card=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["card_id"])' "$work/out")
message=$(basename "$(ls "$work"/spool/outbox/*.json | head -n 1)" .json)
# the bureau made it on the chip now in the reader (as libidm names a chip:
# IC fabricator, IC serial, IC batch of the card's CPLC)
chip=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["cplc"].upper(); print(c[0:4]+c[24:32]+c[32:36])' \
  "$PCSC_STACK_DIR/card0.json")
printf '{"message_id":"%s","status":"produced","chip_serial":"%s"}' "$message" "$chip" \
  >"$work/spool/tmp/$message.produced.json"
mv "$work/spool/tmp/$message.produced.json" "$work/spool/inbox/"
run 0 "external update" --json external update "${desk[@]}" && json "applied" 'd["applied"] == 1'
run 1 "activate without the CA" external activate "${desk[@]}" --reader "$reader" "$card"
run 0 "external activate" --json external activate "${desk[@]}" --reader "$reader" \
  --ca-dir "$work/ca" --pin-dir "$work/pins" "$card" &&
  json "active on the reported chip" "d[\"state\"] == \"active\" and d[\"chip_serial\"] == \"$chip\""
run 0 "its certificates are valid now" --json card show "$card" &&
  json "valid" 'd["certificates"] and all(c["state"] == "valid" for c in d["certificates"])'
[ -e "$work/pins/$(printf '%08d' "$card").pin" ] && ok "a PIN letter for the activated card" ||
  not_ok "no PIN letter for card $card"

# ---- cards that are not ready are skipped, with the reason; the report ------------------
# identity 1 has contractor card 9 in use already; identity 3's holder is made
# inactive once the card is approved
"$idm" card request --identity 1 --type contractor --option digital >/dev/null &&
  "$idm" card request --identity 3 --type contractor --option digital >/dev/null &&
  "$idm" card approve 12 13 >/dev/null && "$idm" identity set-state inactive 3 >/dev/null &&
  ok "two contractor cards that are not ready" || not_ok "two contractor cards not ready"
order=$("$idm" --json order create --type contractor --option digital |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
if run 0 "produce an order of cards that are not ready" order produce "$order" \
     --reader "$reader" --ca-dir "$work/ca" --pin-dir "$work/pins"; then
  expect "the summary names each skipped card with its reason" "$out" \
    "skipped  card 12" "already has contractor card" "skipped  card 13" "only active holders"
fi
run 0 "report" report && sed 's/^/# /' <<<"$out" &&
  expect "the report has the orders, the totals, the reasons and the states" "$out" \
    "orders:" "total: 4 orders, pending 0 produced 11 skipped 2 failed 0" \
    "skipped and failed cards:" "card 12" "already has contractor card" "card 13" \
    "only active holders" "cards:" "issued 9" "active 2" "certificates:" "revoked 1"
run 0 "report --json" --json report &&
  json "4 orders, 11 produced, 2 skipped with reasons, 1 revoked certificate" \
    'len(d["orders"]) == 4 and d["totals"] == {"orders": 4, "pending": 0, "produced": 11, "skipped": 2, "failed": 0} and [(p["card_id"], p["outcome"]) for p in d["not_produced"]] == [(12, "skipped"), (13, "skipped")] and "only active holders" in d["not_produced"][1]["reason"] and d["cards"]["issued"] == 9 and d["cards"]["active"] == 2 and d["certificates"]["revoked"] == 1'
run 0 "report of external orders" --json report --kind external &&
  json "one external order, one card produced" \
    'len(d["orders"]) == 1 and d["orders"][0]["kind"] == "external" and d["totals"]["produced"] == 1 and d["not_produced"] == []'
run 0 "report of the contractor orders" --json report --type contractor --kind mass_production &&
  json "two" 'len(d["orders"]) == 2 and d["totals"]["produced"] == 2 and d["totals"]["skipped"] == 2'
run 2 "report with an unknown kind" report --kind bespoke &&
  expect "lists the kinds" "$err" "--kind: 'bespoke' is not one of" "mass_production"

run 0 "audit verify" audit verify
if out=$("${IDM_CHECK_STORE:?the test sets it}" "$IDM_STORE"); then
  ok "the store's invariants hold ($out)"
else
  not_ok "the store's invariants" "$out"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
