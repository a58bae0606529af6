#!/usr/bin/env bash
# PINs, PUKs, management keys and the CA key's passphrase never leak (issue
# 10, the security review of inputs).  A real run on the PC/SC stack's
# virtual PIV card (inside tests/vcard/with-stack.sh --hopper):
#
#   1. the idm tool: a Digital ID mass production with generated PINs and
#      PIN letters, the CA made and loaded with a passphrase (from a file and
#      from $IDM_CA_PASSPHRASE), then external production through the spool
#      and the maildir: a card ordered, reported produced, activated in the
#      reader with its PIN sent by e-mail (pin_delivery email);
#      PIN letters stay in --pin-dir: a card number with "/../" in it
#      (card_number_format allows it) is refused, a link planted under a
#      letter's name is not followed;
#   2. a host of the library at its most verbose log level (IDM_LOG_DEBUG;
#      the idm tool installs no log callback): a card with a management key
#      of its own, a generated PIN, a PIN the holder chooses, and a station
#      with a wrong management key that the card refuses
#      (secrets_host.c).
#
# Every secret of the run (each PIN and PUK of the PIN letters, the PIN the
# holder chose, the factory PIN and PUK, both management keys, the wrong
# one, both passphrases) is then looked for (find-secrets.py: as text,
# hex, base64 at every alignment, raw bytes for keys) in everything the run
# left: the stdout and stderr of every command, the host's log, the stores
# (with a copy of the host's write-ahead log taken while it was open), the
# audit exports, the spool's folders, the maildir.  Any finding fails, except the one PIN the activation mail
# is meant to carry, which must be in that mail (and its PUK must not).
# The search is proven first: every secret planted in every encoding in a
# scratch folder and in a copy of the store is found.  Prints TAP.
#
# Usage: check-secrets.sh IDM SECRETS_HOST CHECK_STORE SOURCE_ROOT
set -uo pipefail
idm=$(readlink -f "$1")
host=$(readlink -f "$2")
check_store=$(readlink -f "$3")
root=$(readlink -f "$4")
here=$root/tests/reliability/security
python=/usr/bin/python3
reader=${IDM_TEST_READER0:?run through tests/vcard/with-stack.sh --hopper}
stack_dir=${PCSC_STACK_DIR:?run through tests/vcard/with-stack.sh --hopper}
work=$(mktemp -d)
keep=$(mktemp -d) # what is not looked in: the letters and the secrets' own files
# IDM_SECRETS_KEEP=DIR keeps what the run left in DIR, to look at by hand
trap '[ -n "${IDM_SECRETS_KEEP:-}" ] && cp -r "$work" "$IDM_SECRETS_KEEP"; rm -rf "$work" "$keep"' EXIT
cd "$work" || exit 1
mkdir logs pins spool mail
chmod 700 "$keep" pins

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { # every line of the details as a TAP comment
  n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift
  [ $# -eq 0 ] || printf '%s\n' "$@" | sed 's/^/#   /'
}
step=0
# run NAME WANT_STATUS ARGS...: the idm tool, its stdout and stderr kept in logs/
run() {
  local name=$1 want=$2 status
  shift 2
  step=$((step + 1))
  "$idm" "$@" >"logs/$step.out" 2>"logs/$step.err"
  status=$?
  if [ "$status" -eq "$want" ]; then
    ok "idm $name (exit $status)"
  else
    not_ok "idm $name: exit $status, want $want" "$(cat "logs/$step.err")"
  fi
  return $((status != want))
}
field() { "$python" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "logs/$step.out"; }

export IDM_STORE="$work/idm.db" IDM_ACTOR="test:secrets"
unset IDM_CA_PASSPHRASE
head -c 24 /dev/urandom | base64 | tr -d '\n' >"$keep/ca.passphrase"
passphrase=$(cat "$keep/ca.passphrase")
desk=(--spool "$work/spool" --maildir "$work/mail" --mail-from cards@corp.example)

# ---- 1. the idm tool ---------------------------------------------------------------
cat >people.csv <<'EOF'
employeeNumber,givenName,surname,mail
E1,Ada,Lovelace,ada@corp.example
E2,Alan,Turing,alan@corp.example
E3,Grace,Hopper,grace@corp.example
EOF
run init 0 init
run "identity import" 0 identity import --id-column employeeNumber --state active people.csv
run "option set pin_source generated" 0 option set pin_source generated
run "option set card_key_slots" 0 option set card_key_slots 9A,9C
run "card request 1" 0 card request --identity E1 --option digital
run "card request 2" 0 card request --identity E2 --option digital
run "card approve" 0 card approve 1 2
run "ca create" 0 ca create --dir "$work/ca" --name "Secrets Test CA" --key-type p256 --days 30 \
  --passphrase-file "$keep/ca.passphrase"
run "order create" 0 order create --option digital
run "order produce" 0 --json order produce 1 --reader "$reader" --ca-dir "$work/ca" \
  --passphrase-file "$keep/ca.passphrase" --pin-dir "$work/pins" &&
  [ "$(field 'd["order"]["cards"]["produced"]')" = 2 ] && ok "two cards produced" ||
  not_ok "the order" "$(cat "logs/$step.out")"
IDM_CA_PASSPHRASE=$passphrase run "ca crl (passphrase from the environment)" 0 ca crl \
  --ca-dir "$work/ca" --pem --out "$work/ca.crl"
IDM_CA_PASSPHRASE="not-$passphrase" run "a wrong passphrase is refused" 1 ca crl \
  --ca-dir "$work/ca" --pem --out "$work/ca2.crl"

# external production: ordered, produced by the bureau, activated, PIN by e-mail
run "option set external_production_enabled" 0 option set external_production_enabled true
run "option set send_card_ordered_email" 0 option set send_card_ordered_email true
run "option set pin_delivery email" 0 option set pin_delivery email
run "external order" 0 --json external order "${desk[@]}" --type contractor --option digital E3
card=$(field 'd[0]["card_id"]')
message=$(basename "$(ls spool/outbox/*.json | head -n 1)" .json)
chip=$("$python" -c 'import json,sys; c=json.load(open(sys.argv[1]))["cplc"].upper(); print(c[0:4]+c[24:32]+c[32:36])' \
  "$stack_dir/card0.json")
printf '{"message_id":"%s","status":"produced","chip_serial":"%s"}' "$message" "$chip" \
  >"spool/tmp/$message.produced.json"
mv "spool/tmp/$message.produced.json" spool/inbox/
run "external update" 0 --json external update "${desk[@]}"
run "external activate" 0 --json external activate "${desk[@]}" --reader "$reader" \
  --ca-dir "$work/ca" --passphrase-file "$keep/ca.passphrase" --pin-dir "$work/pins" "$card" &&
  [ "$(field 'd["state"]')" = active ] && ok "card $card active" ||
  not_ok "activation" "$(cat "logs/$step.out")"
run "audit verify" 0 audit verify
run "audit export" 0 audit export
run "audit export --json" 0 --json audit export
run "report" 0 --json report
run "card list" 0 --json card list
run "external flush" 0 external flush "${desk[@]}"

# ---- PIN letters stay in --pin-dir: a card number with a path in it, a link ---------
# card_number_format allows any printable ASCII without spaces; a number
# with "/../" must not name a letter outside the folder.  A link planted
# under the next letter's name must not be followed.
mkdir outside
run "a card number format with a path in it" 0 option set card_number_format "/../escape-{seq:4}"
run "card request (its number has a path)" 0 card request --identity E1 --type contractor --option digital
run "card number format back" 0 option set card_number_format "{seq:8}"
run "card request (a link waits under its letter's name)" 0 card request --identity E2 --type contractor --option digital
ln -s "$work/outside/planted.pin" "$work/pins/00000005.pin"
for c in 4 5; do
  # a blank card for each: the one card 4 spoiled stays recorded as card 4's
  [ "$c" = 4 ] || bash "$root/scripts/pcsc-stack.sh" card 0 --fresh --hopper \
    >>logs/stack-card.out 2>&1 || not_ok "a blank card for card $c" "$(cat logs/stack-card.out)"
  run "approve card $c" 0 card approve "$c"
  run "an order of card $c" 0 --json order create --type contractor --option digital
  order=$(field 'd["id"]')
  "$idm" --json order produce "$order" --reader "$reader" --ca-dir "$work/ca" \
    --passphrase-file "$keep/ca.passphrase" --pin-dir "$work/pins" >"logs/letter-$c.out" \
    2>"logs/letter-$c.err"
  status=$?
  echo "# card $c: exit $status: $(tr '\n' ' ' <"logs/letter-$c.err")"
  # card 4 stops the run (exit 1); card 5 is made, or stops on the link (1)
  if [ "$status" -eq 1 ] || { [ "$c" = 5 ] && [ "$status" -eq 0 ]; }; then
    ok "order produce of card $c ends cleanly (exit $status)"
  else
    not_ok "order produce of card $c: exit $status" "$(cat "logs/letter-$c.err")"
  fi
done
escaped=$(find "$work" "$(dirname "$work")" -maxdepth 2 -name 'escape-*' 2>/dev/null)
[ -z "$escaped" ] && ok "no PIN letter outside --pin-dir for a number with '/../'" ||
  not_ok "a PIN letter left --pin-dir" "$escaped"
grep -q "escape-0004" logs/letter-4.err && ok "the refusal names the card number" ||
  not_ok "the refusal does not name the card number" "$(cat logs/letter-4.err)"
[ -z "$(ls -A outside)" ] && ok "nothing written through the link planted in --pin-dir" ||
  not_ok "the planted link was followed" "$(ls -l outside)"
find "$work/pins" -type l -delete # the planted link, wherever the tool set it aside
run "audit verify after the refused letters" 0 audit verify

# ---- 2. a host at the most verbose log level, on a card with a key of its own --------
mgmt_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
wrong_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
user_pin=$(printf '%06d' $((($(od -An -tu4 -N4 /dev/urandom) % 900000) + 100000)))
if bash "$root/scripts/pcsc-stack.sh" card 0 --fresh --hopper --mgmt-alg aes128 \
     --mgmt-key "$mgmt_key" >logs/stack-card.out 2>&1; then
  ok "a blank card with an AES-128 management key of its own in the reader"
else
  not_ok "swapping the card" "$(cat logs/stack-card.out)"
fi
SECRETS_CA_PASSPHRASE=$passphrase SECRETS_USER_PIN=$user_pin \
  "$host" "$work/host.db" "$work/logs/host.log" "$keep/host-letters" "$reader" "$work/ca" \
  "$mgmt_key" "$wrong_key" >logs/host.out 2>logs/host.err &&
  ok "the host: $(tail -n 1 logs/host.out)" ||
  not_ok "the host" "$(cat logs/host.out logs/host.err)"
[ -s host.db-wal.copy ] && ok "the host's write-ahead log, copied while the store was open" ||
  not_ok "no copy of the host's write-ahead log"
[ -s logs/host.log ] && ok "the host's log at debug level has $(wc -l <logs/host.log) lines" ||
  not_ok "the host's log is empty"
"$idm" --store "$work/host.db" audit export >logs/host-audit.txt 2>&1 &&
  "$idm" --store "$work/host.db" --json audit export >logs/host-audit.json 2>&1 &&
  ok "the host's audit exported" || not_ok "the host's audit export" "$(cat logs/host-audit.txt)"

# ---- the secrets of the run ---------------------------------------------------------
secrets=$keep/secrets
: >"$secrets"
letters=0
for letter in pins/*.pin; do
  number=$(basename "$letter" .pin)
  pin=$(sed -n 's/^PIN //p' "$letter") puk=$(sed -n 's/^PUK //p' "$letter")
  [[ $pin =~ ^[0-9]{4,8}$ && $puk =~ ^[0-9]{8}$ ]] || not_ok "PIN letter $letter" "$(cat "$letter")"
  echo "pin:$number $pin" >>"$secrets"
  echo "puk:$number $puk" >>"$secrets"
  letters=$((letters + 1))
done
mv pins "$keep/pins"
# two of mass production, one of the activation, and card 5's unless the
# planted link made the tool refuse to write it
[ "$letters" -ge 3 ] && ok "$letters PIN letters of the idm tool" || not_ok "$letters PIN letters, want 3 or 4"
while read -r kind number value; do
  echo "host-$kind:$number $value" >>"$secrets"
done <"$keep/host-letters"
# order A's PIN and PUK, order B's PUK (its PIN is the holder's); order C
# stopped before its card took any
[ "$(grep -c '^host-pin' "$secrets")" -eq 1 ] && [ "$(grep -c '^host-puk' "$secrets")" -eq 2 ] &&
  ok "the host's letters: a generated PIN, two PUKs" ||
  not_ok "the host's letters" "$(cat "$keep/host-letters")"
{
  echo "user-pin $user_pin"
  echo "factory-pin 123456"
  echo "factory-puk 12345678"
  echo "ca-passphrase $passphrase"
  echo "wrong-passphrase not-$passphrase"
  echo "default-management-key hex:010203040506070801020304050607080102030405060708"
  echo "management-key hex:$mgmt_key"
  echo "wrong-management-key hex:$wrong_key"
} >>"$secrets"
echo "# $(wc -l <"$secrets") secrets"

# ---- the search, proven first ---------------------------------------------------------
if out=$("$python" "$here/find-secrets.py" --self-test "$secrets" 2>&1); then
  ok "the search finds every secret planted in every encoding, and no digits inside numbers"
  echo "$out" | grep '^#'
else
  not_ok "the search's self-test" "$out"
fi
mkdir "$keep/control"
cp idm.db "$keep/control/idm.db"
printf 'x%sx' "$(sed -n 's/^puk:[^ ]* //p' "$secrets" | head -n 1)" >>"$keep/control/idm.db"
if out=$("$python" "$here/find-secrets.py" "$secrets" "$keep/control"); then
  not_ok "a PUK appended to a copy of the store is not found"
else
  [[ $out == puk:* ]] && ok "a PUK appended to a copy of the store is found ($out)" ||
    not_ok "the control finds something else" "$out"
fi

# ---- where a secret may be: the activation mail, its PIN and nothing else ------------
activated=$(grep -l '^X-Libidm-Notification: card_activated' mail/new/* 2>/dev/null | head -n 1)
number=$(printf '%08d' "$card")
mailed_pin=$(sed -n "s/^pin:$number //p" "$secrets")
if [ -n "$activated" ] && grep -q "Your PIN: $mailed_pin" "$activated"; then
  ok "the activation mail carries card $number's PIN, as pin_delivery email says"
else
  not_ok "no activation mail with card $number's PIN" "$(ls mail/new 2>&1)"
fi
echo "# $(find "$work" -type f | wc -l) files looked at, $(du -sk "$work" | cut -f1) kB"
if out=$("$python" "$here/find-secrets.py" "$secrets" --allow "$activated=pin:$number" "$work"); then
  ok "no secret in the logs, stores, audit exports, spool or maildir"
else
  not_ok "secrets found where they must not be" "$out"
fi

# ---- the stores --------------------------------------------------------------------
for db in idm.db host.db; do
  if out=$("$check_store" "$work/$db" 2>&1); then ok "$db: the store's invariants hold ($out)"
  else not_ok "$db: the store's invariants" "$out"; fi
done

echo "1..$n"
[ "$failed" -eq 0 ]
