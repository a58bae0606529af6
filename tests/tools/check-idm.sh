#!/usr/bin/env bash
# The idm tool's subcommands end to end on a real store: each one working,
# with --json output that parses, each with --help, bad arguments, a missing
# store and a corrupted store file (a clear error, exit code 1, the file
# byte for byte as it was).  Prints TAP.
# Also: the man page idm(1) renders without warnings and names every
# command and subcommand that `idm --help` lists.
# Usage: check-idm.sh IDM_BINARY PEOPLE_CSV IDM_MAN_PAGE
set -uo pipefail
idm=$(readlink -f "$1")
people=$(readlink -f "$2")
manpage=$(readlink -f "$3")
layouts=$(dirname "$people")/layouts # the example layouts beside the example people
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export IDM_STORE="$work/idm.db" IDM_ACTOR="test:check-idm"
python=$(command -v python3)

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; printf '#   %s\n' "$@"; }

# run STATUS NAME ARGS...: runs idm ARGS, expects STATUS; keeps out/err.
run() {
  local want=$1 name=$2
  shift 2
  "$idm" "$@" >"$work/out" 2>"$work/err"
  local status=$?
  out=$(cat "$work/out") err=$(cat "$work/err")
  if [ "$status" -eq "$want" ]; then
    ok "$name (exit $status)"
    return 0
  fi
  not_ok "$name: exit $status, want $want" "idm $*" "stdout: $out" "stderr: $err"
  return 1
}
# expect NAME HAYSTACK NEEDLE
expect() {
  if [[ $2 == *"$3"* ]]; then ok "$1"; else not_ok "$1" "wanted: $3" "got: $2"; fi
}
# json NAME EXPRESSION: the last stdout parses as JSON and EXPRESSION (Python,
# over the document d) holds.
json() {
  if "$python" -c "import json,sys; d=json.load(open(sys.argv[1])); assert $2, d" "$work/out" \
       2>"$work/json-err"; then
    ok "$1"
  else
    not_ok "$1" "$(cat "$work/json-err")" "stdout: $out"
  fi
}

# ---- every subcommand that works on a store, with arguments of the right shape -----
# (a CA, a spool and a maildir to name; the CA is made without a store)
export IDM_CA_PASSPHRASE="a passphrase for the test CA"
"$idm" ca create --dir "$work/ca0" --name "Shape CA" --days 1 >/dev/null && mkdir spool0 mail0 ||
  not_ok "a CA, a spool and a maildir for the argument shapes"
desk0=(--spool "$work/spool0" --maildir "$work/mail0" --mail-from idm@corp.example)
store_commands=(
  "option list" "option set queue_orders true"
  "identity import $people" "identity list" "identity show 1" "identity set-state active 1"
  "card request --identity 1" "card approve 1" "card set-state active 1" "card list" "card show 1"
  "ca crl --ca-dir $work/ca0"
  "cert list" "cert show 0A" "cert export 0A" "cert revoke --ca-dir $work/ca0 0A"
  "order create" "order list" "order show 1" "order produce 1"
  "layout preview $layouts/employee.json 1"
  "external order ${desk0[*]} E1001" "external approve ${desk0[*]} 1"
  "external reject ${desk0[*]} 1" "external abort ${desk0[*]} 1" "external sync ${desk0[*]}"
  "external update ${desk0[*]}" "external activate ${desk0[*]} 1"
  "external temporary ${desk0[*]} --count 1 --name Lobby" "external initialize ${desk0[*]} 1"
  "external assign ${desk0[*]} 1 1" "external withdraw ${desk0[*]} 1" "external flush ${desk0[*]}"
  "report" "audit verify" "audit export"
)
# the table names every subcommand of idm --help but those that make a store
# or need none
listed=" init version ca create layout check "
for cmd in "${store_commands[@]}"; do
  read -r group sub _ <<<"$cmd"
  [[ $sub == -* || -z $sub ]] && listed+=" $group " || listed+=" $group $sub "
done
missing=()
for group in $("$idm" --help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p'); do
  subs=$("$idm" "$group" --help 2>/dev/null | sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
  if [ -z "$subs" ]; then
    [[ $listed == *" $group "* ]] || missing+=("$group")
  fi
  for sub in $subs; do
    [[ $listed == *" $group $sub "* ]] || missing+=("$group $sub")
  done
done
[ ${#missing[@]} -eq 0 ] && ok "the store tests cover every subcommand" ||
  not_ok "subcommands without a missing-store and corrupted-store test" "${missing[@]}"

# ---- a missing store: every command that needs one says so, exit 3 --------
for cmd in "${store_commands[@]}"; do
  # shellcheck disable=SC2086
  run 3 "no store: idm $cmd" $cmd && expect "no store: idm $cmd names the path" "$err" \
    "no store at '$work/idm.db'"
done
# ---- bad arguments: every subcommand refuses an unknown option, before the store ---------
for cmd in "${store_commands[@]}" "init" "version" "ca create --dir $work/ca1 --name X"; do
  # shellcheck disable=SC2086
  if run 2 "bad argument: idm $cmd --no-such-option" $cmd --no-such-option; then
    [[ $err == "idm ${cmd%% *}"[:\ ]*"'--no-such-option'"* ]] && ok "bad argument: idm $cmd names it" ||
      not_ok "bad argument: idm $cmd names it" "got: $err"
  fi
done
[ ! -e idm.db ] && ok "no command made a store by accident" ||
  not_ok "a store appeared without idm init"

# ---- init ---------------------------------------------------------------------
run 0 "init creates the store" init && expect "init says where" "$out" "created the store"
before=$(sha256sum idm.db)
run 1 "init refuses an existing store" init &&
  expect "init names the file" "$err" "already exists; a store is never overwritten"
[ "$before" = "$(sha256sum idm.db)" ] && ok "init left the existing store alone" ||
  not_ok "init changed an existing store"
run 0 "init --json elsewhere" --json --store "$work/other.db" init &&
  json "init --json" 'd["created"] is True and d["store"].endswith("other.db")'

# ---- identities ------------------------------------------------------------------
printf 'employeeNumber,givenName,surname\nX1,Ann,Berg\nX2,Bo\n' >"$work/bad.csv"
run 1 "a CSV with a short row is refused" identity import --id-column employeeNumber \
  "$work/bad.csv" && expect "the error names the line" "$err" "line 3: 2 fields, but the header has 3"
run 0 "and nothing was imported" --json identity list && json "empty list" 'd == []'
run 1 "a missing CSV file" identity import "$work/nowhere.csv" &&
  expect "names the file" "$err" "nowhere.csv"
run 2 "import wants one file" identity import
run 2 "a bad --state" identity import --state retired "$people" &&
  expect "names the states" "$err" "'retired' is not one of registered, active"
run 0 "import the people, active" identity import --id-column employeeNumber --state active \
  "$people" && expect "says how many" "$out" "imported 8 identities (active)"
run 0 "list" identity list && expect "lists Ada" "$out" "Ada Lovelace"
run 0 "list --json --state active" --json identity list --state active &&
  json "eight active identities" 'len(d) == 8 and all(i["state"] == "active" for i in d)'
run 0 "list --state registered is empty" --json identity list --state registered &&
  json "no registered identity" 'd == []'
run 0 "show by id" identity show 1 && expect "shows attributes" "$out" "givenName"
run 0 "show by external id, JSON" --json identity show E1002 &&
  json "Alan Turing" 'd["common_name"] == "Alan Turing" and d["attributes"]["surname"] == "Turing"'
run 0 "set-state inactive" --json identity set-state inactive E1008 &&
  json "inactive" 'd == [{"id": 8, "state": "inactive"}]'
run 0 "set-state active again" identity set-state active 8 && expect "says so" "$out" "identity 8: active"
run 1 "a move the graph forbids" identity set-state registered 8 && expect "names it" "$err" "identity '8'"
run 2 "set-state with a bad state" identity set-state retired 8
run 2 "set-state without identities" identity set-state active
run 1 "show an unknown identity" identity show E9999 && expect "names it" "$err" "E9999"
run 2 "show wants one identity" identity show 1 2

# ---- cards ------------------------------------------------------------------------
run 0 "request a Digital ID card" --json card request --identity E1001 --option digital &&
  json "requested" 'd["state"] == "requested" and d["option"] == "digital" and d["identity_id"] == 1'
run 0 "request a Physical ID card by id" card request --identity 2 &&
  expect "printed" "$out" "requested"
run 2 "request without --identity" card request
run 2 "a bad --option" card request --identity 1 --option digitl &&
  expect "names the options" "$err" "'digitl' is not one of physical, digital"
run 2 "a bad --type" card request --identity 1 --type boss
run 1 "request for an unknown identity" card request --identity E9999 &&
  expect "names it" "$err" "no identity 'E9999'"
run 0 "approve both" --json card approve 1 2 &&
  json "approved" '[c["state"] for c in d] == ["approved", "approved"]'
run 1 "approve again is refused" card approve 1 &&
  expect "says why" "$err" "cannot move card '1' to approved"
run 1 "approve an unknown card" card approve 99 && expect "names it" "$err" "no card '99'"
run 0 "list --state approved" --json card list --state approved && json "two" 'len(d) == 2'
run 0 "list --identity 2" --json card list --identity 2 &&
  json "one of identity 2" 'len(d) == 1 and d[0]["identity_id"] == 2'
run 2 "list --order x" card list --order x
run 0 "show by number" --json card show 00000001 &&
  json "card and certificates" 'd["card"]["id"] == 1 and d["certificates"] == []'
run 0 "show as text" card show 2 && expect "lists certificates" "$out" "certificates"
run 0 "cert list of a store without certificates" --json cert list && json "empty" 'd == []'
run 2 "cert list with a bad --state" cert list --state kaput &&
  expect "lists the states" "$err" "'kaput' is not one of valid, on_hold, revoked, expired"
run 1 "cert list of an unknown card" cert list --card 99 && expect "names it" "$err" "no card '99'"

# ---- options, CA and orders (production itself: check-idm-produce.sh) ----------------
run 0 "option list" --json option list && json "every option" '"pin_source" in d and "queue_orders" in d'
run 0 "option set" option set queue_orders true && expect "reads back" "$out" "true"
run 2 "option set of an unknown option" option set no_such_option 1 &&
  expect "names it" "$err" "no option 'no_such_option'"
run 2 "option set wants KEY and VALUE" option set pin_source
run 1 "option set with a value the option refuses" option set pin_source sometimes
run 2 "ca create without --name" ca create --dir "$work/ca"
run 2 "ca create with a bad --key-type" ca create --dir "$work/ca" --name X --key-type dsa
run 2 "ca create with a bad --days" ca create --dir "$work/ca" --name X --days 0
IDM_CA_PASSPHRASE= run 2 "ca create without a passphrase" ca create --dir "$work/ca" --name X
run 0 "order create" --json order create --option digital &&
  json "one pending Digital ID card" 'd["cards"]["pending"] == 1 and d["card_option"] == "digital"'
run 0 "order create with nothing approved" --json order create --type visitor &&
  json "an empty order" 'd["cards"]["pending"] == 0' && expect "says so" "$err" "the order is empty"
run 0 "order list" --json order list && json "two orders" 'len(d) == 2'
run 0 "order show" --json order show 1 &&
  json "the report" 'd["order"]["id"] == 1 and d["skipped"] == [] and d["failed"] == []'
run 1 "order show of an unknown order" order show 42 && expect "names it" "$err" "no order '42'"
run 0 "report" --json report &&
  json "two orders, one card pending, none produced" \
    'len(d["orders"]) == 2 and d["totals"]["orders"] == 2 and d["totals"]["pending"] == 1 and d["totals"]["produced"] == 0 and d["not_produced"] == [] and "certificates" in d'
run 0 "report --type visitor" report --type visitor &&
  expect "only the visitor order" "$out" "total: 1 order, pending 0"
run 0 "report --state completed" report --state completed &&
  expect "no order" "$out" "total: 0 orders"
run 2 "report with an operand" report 1 && expect "names it" "$err" "unexpected argument '1'"
run 2 "report with an unknown option value" report --option holographic &&
  expect "lists the options" "$err" "--option: 'holographic' is not one of"
run 2 "order produce wants an order" order produce
run 2 "order produce with both readers" order produce 1 --reader x --reader-index 0
run 2 "order produce with a bad --group" order produce 1 --group 0
run 2 "order produce with a missing --pin-dir" order produce 1 --pin-dir "$work/nowhere"
run 2 "order produce with --printer alone" order produce 1 --printer cards &&
  expect "says they go together" "$err" "--printer and --layout go together"
run 2 "order produce with --cups-server alone" order produce 1 --cups-server 127.0.0.1:1 &&
  expect "says it needs --printer" "$err" "--cups-server needs --printer"
run 2 "order produce with a bad --print-timeout" order produce 1 --printer q \
  --layout "$layouts/employee.json" --print-timeout 0

# ---- card layouts: check and preview ----------------------------------------------------
run 0 "layout check of the example layout" layout check "$layouts/employee.json" &&
  expect "says what it serves" "$out" "layout employee: valid; serves employee" "faces front back"
run 0 "layout check --json" --json layout check "$layouts/employee.json" &&
  json "name, types, faces" 'd["name"] == "employee" and "employee" in d["card_types"] and d["faces"] == ["front", "back"]'
sed 's/"size": *[0-9.]*/"size": 200/' "$layouts/employee.json" >"$work/big-font.json"
cp "$layouts"/*.png "$work/" 2>/dev/null
run 1 "layout check of a layout with a 200 pt font" layout check "$work/big-font.json" &&
  expect "names the member and the reason" "$err" "font.size" "200"
run 2 "layout check wants one file" layout check
run 1 "layout check of a missing file" layout check "$work/nowhere.json" &&
  expect "names the file" "$err" "nowhere.json"
run 0 "layout preview of a card" layout preview "$layouts/employee.json" 1 --out "$work/card1" --dpi 150 &&
  expect "lists the files" "$out" "$work/card1-front.png" "$work/card1-back.png" "$work/card1.pdf"
[ "$(head -c 8 "$work/card1-front.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] &&
  ok "the front is a PNG" || not_ok "the front is not a PNG"
[ "$(head -c 5 "$work/card1.pdf")" = "%PDF-" ] && ok "the PDF is a PDF" || not_ok "no PDF"
run 1 "layout preview keeps existing files" layout preview "$layouts/employee.json" 1 --out "$work/card1"
run 0 "layout preview --force replaces them" layout preview "$layouts/employee.json" 1 --out "$work/card1" --force
run 1 "layout preview of a card that does not exist" layout preview "$layouts/employee.json" 999 &&
  expect "names the card" "$err" "no card '999'"
run 2 "layout preview with a bad --dpi" layout preview "$layouts/employee.json" 1 --dpi 71

# ---- external production through the spool and the maildir ------------------------------
desk=(--spool "$work/spool" --maildir "$work/mail" --mail-from cards@example.org)
mkdir "$work/spool"
run 1 "external order while external production is off" external order "${desk[@]}" E1003 &&
  expect "names the option" "$err" "external_production_enabled"
run 0 "enable external production" option set external_production_enabled true
run 0 "no queue: orders go to the bureau at once" option set queue_orders false
run 0 "external order, sent at once" --json external order "${desk[@]}" --option digital E1003 &&
  json "ordered" 'len(d) == 1 and d[0]["state"] == "ordered" and d[0]["error"] is None'
message=$(basename "$(ls "$work"/spool/outbox/*.json | head -n 1)" .json)
[ -n "$message" ] && ok "the order is in the spool's outbox" || not_ok "no order in the outbox"
# the bureau answers: a status file, written then renamed into the inbox
printf '{"message_id":"%s","status":"produced","chip_serial":"CHIP-0001","shipment":"courier 7"}' \
  "$message" >"$work/spool/tmp/$message.produced.json"
mv "$work/spool/tmp/$message.produced.json" "$work/spool/inbox/"
run 0 "external update applies the report" --json external update "${desk[@]}" &&
  json "one applied" 'd == {"applied": 1, "refused": 0, "quarantined": 0}'
printf 'not json' >"$work/spool/inbox/bogus.produced.json"
run 0 "external update with a malformed report" --json external update "${desk[@]}" &&
  json "nothing applied, one quarantined" 'd["applied"] == 0 and d["quarantined"] == 1' &&
  expect "the operator is told where" "$err" "1 status file quarantined in $work/spool/quarantine"
ls "$work"/spool/quarantine/bogus.produced.json.reason >/dev/null 2>&1 &&
  ok "the bad report is quarantined with its reason" || not_ok "no quarantine for the bad report"
card=$("$idm" --json card list --identity 3 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
run 0 "the card is produced on the bureau's chip" --json card show "$card" &&
  json "produced" 'd["card"]["state"] == "produced" and d["card"]["chip_serial"] == "CHIP-0001"'
ls "$work"/mail/new/*.eml >/dev/null 2>&1 && ok "the produced mail was delivered" ||
  not_ok "no mail in the maildir"
run 1 "a batch with an unknown identity stops before ordering" external order "${desk[@]}" E1004 E9999 &&
  expect "names it" "$err" "no identity 'E9999'"
run 1 "a batch with a refused identity" --json external order "${desk[@]}" E1004 E1003 &&
  json "one ordered, one refused with a reason" 'd[0]["state"] == "ordered" and d[1]["error"] is not None and d[1]["reason"]'
run 0 "queue the orders" option set queue_orders true
run 0 "external order, queued" --json external order "${desk[@]}" E1005 E1006 &&
  json "processing" '[c["state"] for c in d] == ["processing", "processing"]'
queued=$("$idm" --json card list --state processing | python3 -c 'import json,sys; print(" ".join(str(c["id"]) for c in json.load(sys.stdin)))')
first=${queued%% *}
run 0 "external abort while queued" --json external abort "${desk[@]}" --reason "left" "$first" &&
  json "aborted" 'd[0]["state"] == "aborted"'
run 1 "abort again is refused" external abort "${desk[@]}" "$first" && expect "says why" "$err" "card '$first'"
run 0 "external sync sends the rest" --json external sync "${desk[@]}" &&
  json "one sent" 'd == {"sent": 1, "failed": 0}'
run 2 "external sync with an extra argument" external sync "${desk[@]}" now
run 1 "external sync without a spool" external sync && expect "says why" "$err" "stopped"
run 0 "the approval step" option set external_approval_step true
run 0 "external order waits for approval" --json external order "${desk[@]}" E1007 &&
  json "requested" 'd[0]["state"] == "requested"'
waiting=$("$idm" --json card list --identity 7 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
run 1 "the requester cannot approve" external approve "${desk[@]}" "$waiting"
run 0 "another actor approves" --json --actor "test:approver" external approve "${desk[@]}" "$waiting" &&
  json "on to the queue" 'd[0]["state"] == "processing"'
run 0 "external reject" --json --actor "test:approver" external order "${desk[@]}" E1008
run 0 "temporary cards allowed" option set temporary_cards_per_order 2
run 0 "external temporary" --json --actor "test:approver" external temporary "${desk[@]}" --count 2 --name Visitor &&
  json "two temporary cards" 'len(d) == 2 and all(c["state"] == "processing" for c in d)'
run 2 "external temporary without --name" external temporary --count 1
run 2 "external temporary with --count 10" external temporary --count 10 --name X
run 0 "external flush" --json external flush "${desk[@]}" && json "nothing pending" 'd["pending"] == 0'
run 2 "--maildir without --mail-from" external flush --maildir "$work/mail"
run 2 "external assign wants CARD and IDENTITY" external assign 1
run 2 "external activate wants one card" external activate

# ---- certificates, CRL and audit export: the parts that need no card ----------------
run 1 "cert show of an unknown serial" cert show 0BAD && expect "names it" "$err" "no certificate '0BAD'"
run 2 "cert revoke without --ca-dir" cert revoke 0BAD
run 2 "cert revoke with a hold as reason" cert revoke --ca-dir x --reason certificate_hold 0BAD
run 2 "ca crl without --ca-dir" ca crl
IDM_CA_PASSPHRASE=x run 1 "ca crl with a missing CA" ca crl --ca-dir "$work/no-ca" && expect "names the file" "$err" "ca.crt"
run 0 "audit export" --json audit export &&
  json "events in sequence" 'd and [e["seq"] for e in d] == sorted(e["seq"] for e in d)'
run 0 "audit export of one card" --json audit export --object card:1 &&
  json "only card 1" 'all(e["object"] == "card" and e["object_id"] == 1 for e in d)'
run 0 "audit export of a time range in the past" --json audit export --since 0 --until 1 &&
  json "nothing" 'd == []'
run 2 "audit export with a bad --object" audit export --object person:1
run 2 "audit export with a bad --since" audit export --since yesterday

# ---- card set-state -------------------------------------------------------------------
spare=$("$idm" --json card request --identity 3 | "$python" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
run 0 "set-state with a reason" --json card set-state --reason "duplicate request" rejected "$spare" &&
  json "rejected" '[c["state"] for c in d] == ["rejected"]'
run 0 "the reason is in the audit" --json audit export --object "card:$spare" &&
  json "the rejection with its reason" 'd[-1]["to"] == "rejected" and d[-1]["detail"] == "duplicate request"'
run 1 "set-state outside the card's graph" card set-state active 1 &&
  expect "names the card and the states" "$err" "cannot move card '1' to active"
run 2 "set-state to an unknown state" card set-state happy 1 &&
  expect "lists the states" "$err" "'happy' is not one of registered, requested"
run 2 "set-state without cards" card set-state active
run 1 "set-state of an unknown card" card set-state active 99 && expect "names it" "$err" "no card '99'"

# ---- audit -----------------------------------------------------------------------
run 0 "audit verify" audit verify && expect "intact" "$out" "the audit trail is intact"
run 0 "audit verify --json" --json audit verify && json "intact" 'd["intact"] is True'

# ---- --help everywhere -------------------------------------------------------------
for cmd in "" "init" "option" "option list" "option set" "identity" "identity import" \
           "identity list" "identity show" "identity set-state" "card" "card request" \
           "card approve" "card set-state" "card list" \
           "card show" "ca" "ca create" "order" "order create" "order list" "order show" \
           "order produce" "external" "external order" "external approve" "external reject" \
           "external abort" "external sync" "external update" "external activate" \
           "external temporary" "external initialize" "external assign" "external withdraw" \
           "external flush" "cert" "cert list" "cert show" "cert export" "cert revoke" "ca crl" "audit" \
           "audit verify" "audit export" "report" "version"; do
  # shellcheck disable=SC2086
  run 0 "idm $cmd --help" $cmd --help && expect "idm $cmd --help prints usage" "$out" "usage: idm"
done
run 2 "an unknown subcommand" card frobnicate && expect "named" "$err" "unknown command 'frobnicate'"
run 2 "an unknown option" card list --bogus && expect "named" "$err" "unrecognized option '--bogus'"
run 2 "an empty --actor" --actor "" card list

# ---- a corrupted store: a clear error, nothing changed ---------------------------------
cp idm.db damaged.db
# overwrite the SQLite header and a page in the middle with garbage
printf 'this is not a database' | dd of=damaged.db conv=notrunc status=none
dd if=/dev/urandom of=damaged.db bs=1024 seek=8 count=4 conv=notrunc status=none
before=$(sha256sum damaged.db)
for cmd in "${store_commands[@]}"; do
  # shellcheck disable=SC2086
  run 1 "corrupted store: idm $cmd" --store "$work/damaged.db" $cmd &&
    expect "corrupted store: idm $cmd says what" "$err" "cannot open the store"
done
[ "$before" = "$(sha256sum damaged.db)" ] && ok "the corrupted store is byte for byte as it was" ||
  not_ok "the corrupted store was changed"
ls damaged.db-* >/dev/null 2>&1 && not_ok "side files were left beside the corrupted store" ||
  ok "no side files beside the corrupted store"
echo garbage >text.db
run 1 "a text file as store" --store "$work/text.db" card list
mkdir dir.db
run 1 "a directory as store" --store "$work/dir.db" card list && expect "says so" "$err" "is not a file"

# ---- idm(1) says what --help says --------------------------------------------------
warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$manpage" 2>&1 >/dev/null)
[ -z "$warnings" ] && ok "idm.1 renders without warnings" || not_ok "man --warnings" "$warnings"
page=$(sed 's/\\-/-/g; s/\\f[BIR]//g' "$manpage")
for group in $("$idm" --help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p'); do
  subs=$("$idm" "$group" --help 2>/dev/null | sed -n '/^commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
  if [ -z "$subs" ]; then
    [[ $page == *"idm $group"* ]] && ok "idm.1 names idm $group" || not_ok "idm.1 lacks idm $group"
  fi
  for sub in $subs; do
    [[ $page == *"idm $group $sub"* ]] && ok "idm.1 names idm $group $sub" ||
      not_ok "idm.1 lacks idm $group $sub"
  done
done

echo "1..$n"
[ "$failed" -eq 0 ]
