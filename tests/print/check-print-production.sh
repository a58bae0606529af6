#!/usr/bin/env bash
# A Physical ID mass production that prints every card through a real CUPS
# scheduler and encodes it on the virtual PIV card: run inside
# tests/vcard/with-stack.sh --hopper (the card) and scripts/with-cups.sh (a
# cupsd of its own with a cups-pdf queue).  The holders have the names that
# break layouts: long, accented, right-to-left, without a photo.  Checks
# every printed PDF (two pages at card size, the name and the card number in
# its text), the audit of each print, and that a print failure (a queue that
# aborts its jobs, a queue that does not exist) fails the card and aborts the
# order with CUPS's words.  Prints TAP.
# Usage: check-print-production.sh IDM_BINARY SOURCE_ROOT
set -uo pipefail
idm=$(readlink -f "$1")
root=$(readlink -f "$2")
layout="$root/examples/data/layouts/employee.json"
photos="$root/tests/print/data"
reader=${IDM_TEST_READER0:?run through tests/vcard/with-stack.sh}
server=${IDM_TEST_CUPS_SERVER:?run through scripts/with-cups.sh}
queue=${IDM_TEST_CUPS_QUEUE:?run through scripts/with-cups.sh}
outdir=${IDM_TEST_CUPS_OUT:?run through scripts/with-cups.sh}
broken=${IDM_TEST_CUPS_BROKEN_QUEUE:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export IDM_STORE="$work/idm.db" IDM_ACTOR="test:check-print-production"

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; printf '%s\n' "$@" | sed 's/^/#   /'; }
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
json() { # NAME EXPRESSION over the JSON document d on the last stdout
  if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert $2, d" "$work/out" \
       2>"$work/json-err"; then ok "$1"; else not_ok "$1" "$(cat "$work/json-err")"; fi
}

# ---- holders whose names break layouts ------------------------------------------
# employeeNumber, givenName, surname, department, photo (absolute, or missing)
cat >"$work/people.csv" <<CSV
employeeNumber,givenName,surname,department,photo
P1,Ada,Lovelace,Engineering,$photos/photo-ada.jpg
P2,Zoë,Ångström-Łukasiewicz,Recherche & Développement,$photos/photo-zoe.png
P3,Maximiliane Alexandra,Konstantinopoulou-Wittgenstein von Hohenzollern-Sigmaringen,Legal,$photos/photo-ada.jpg
P4,שרה,כהן,מחקר,$photos/photo-zoe.png
P5,محمد,عبد الله,الهندسة,
P6,Grace,Hopper,Navy,$work/no-such-photo.jpg
CSV
"$idm" init >/dev/null && "$idm" identity import --id-column employeeNumber --state active \
  "$work/people.csv" >/dev/null && ok "a store and six holders" || not_ok "a store and six holders"
run 0 "generated PINs, into PIN letters" option set pin_source generated
for i in 1 2 3 4 5 6; do
  "$idm" card request --identity "P$i" --option physical >/dev/null || not_ok "request P$i"
done
run 0 "approve six Physical ID cards" card approve 1 2 3 4 5 6
run 0 "order create" --json order create --option physical &&
  json "six pending" 'd["cards"]["pending"] == 6'

# ---- the production: print, then encode, every card -----------------------------------
rm -f "$outdir"/*.pdf
mkdir "$work/pins"
run 0 "order produce prints and encodes every card" --json order produce 1 --reader "$reader" \
  --pin-dir "$work/pins" \
  --printer "$queue" --layout "$layout" --cups-server "$server" --print-timeout 120 &&
  json "completed, six produced" \
    'd["order"]["state"] == "completed" and d["order"]["cards"]["produced"] == 6 and d["failed"] == []'
run 0 "the six cards are issued" --json card list --state issued && json "six" 'len(d) == 6'
printed=$(compgen -G "$outdir/*.pdf" | wc -l)
[ "$printed" -eq 6 ] && ok "CUPS printed six PDFs" || not_ok "CUPS printed $printed PDFs, want 6" \
  "$(ls -la "$outdir")"

# Each card's printed PDF (cups-pdf names it after the job,
# idm-<store>-c<card>-a<attempt>): two pages at card size, the card number
# and the name in its text.  The test queue prints through PostScript
# (pdftops, then Ghostscript), which keeps glyph names but loses the Unicode
# of glyphs outside the standard Latin set (Ł, Hebrew, Arabic): of those
# names the printed text keeps the Latin part, and the library's own PDF
# (idm layout preview, the bytes it hands the printer) must have them whole.
"$idm" --json card list >"$work/cards.json"
names=("Ada Lovelace" "Zoë Ångström-Łukasiewicz" "Maximiliane Alexandra"
       "שרה כהן" "محمد عبد الله" "Grace Hopper")
latin=("Ada Lovelace" "Zoë Ångström-" "Maximiliane Alexandra" "" "" "Grace Hopper")
for i in 1 2 3 4 5 6; do
  number=$(python3 -c 'import json,sys; print([c["number"] for c in json.load(open(sys.argv[1])) if c["id"] == int(sys.argv[2])][0])' "$work/cards.json" "$i")
  pdf=$(compgen -G "$outdir/idm-*-c$i-a*.pdf" | head -n 1)
  if [ -z "$pdf" ]; then not_ok "card $number: no printed PDF named after its job" "$(ls "$outdir")"; continue; fi
  info=$(pdfinfo "$pdf" 2>&1)
  pages=$(sed -n 's/^Pages: *//p' <<<"$info")
  size=$(sed -n 's/^Page size: *\([0-9.]*\) x \([0-9.]*\) pts.*/\1 \2/p' <<<"$info")
  if [ "$pages" = 2 ] && python3 -c 'import sys; w,h=map(float,sys.argv[1:3]); sys.exit(0 if abs(w-242.65)<=1 and abs(h-153.01)<=1 else 1)' $size; then
    ok "card $number: printed on two pages of 85.60 x 53.98 mm"
  else
    not_ok "card $number: the printed PDF's pages" "$info"
  fi
  text=$(pdftotext -q "$pdf" - 2>/dev/null)
  [[ $text == *"$number"* ]] && ok "card $number: its number is in the printed text" ||
    not_ok "card $number: its number is not in the printed text" "$text"
  want=${latin[$((i - 1))]}
  if [ -n "$want" ]; then
    [[ $text == *"$want"* ]] && ok "card $number: '$want' is in the printed text" ||
      not_ok "card $number: '$want' is not in the printed text" "$text"
  fi
  name=${names[$((i - 1))]}
  if "$idm" layout preview "$layout" "$i" --out "$work/preview-$i" >/dev/null 2>"$work/err"; then
    own=$(pdftotext -q "$work/preview-$i.pdf" - 2>/dev/null)
    [[ $own == *"$name"* ]] && ok "card $number: the library's PDF has '$name'" ||
      not_ok "card $number: '$name' is not in the library's PDF" "$own"
  else
    not_ok "card $number: layout preview" "$(cat "$work/err")"
  fi
done
run 0 "audit export" --json audit export &&
  json "one print per card, with the layout and the job" \
    'sorted(e["object_id"] for e in d if "printed with layout \u0027employee\u0027 as job idm-" in (e.get("detail") or "")) == [1, 2, 3, 4, 5, 6]'

# ---- a print that fails aborts the order ---------------------------------------------
# one new approved contractor card (their employee cards are issued) in a new
# order; prints "<order id>"
new_order() {
  local card
  card=$("$idm" --json card request --identity "$1" --type contractor --option physical |
         python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') &&
    "$idm" card approve "$card" >/dev/null &&
    "$idm" --json order create --type contractor --option physical |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
if [ -n "$broken" ]; then
  order=$(new_order P1)
  if run 1 "a queue that aborts its jobs fails the card" order produce "$order" \
       --reader "$reader" --pin-dir "$work/pins" --printer "$broken" --layout "$layout" \
       --cups-server "$server" --print-timeout 60; then
    [[ $err == *"printer failed to print idm-"*"aborted"* ]] &&
      ok "the message says the printer failed, with CUPS's words" ||
      not_ok "the message of the broken queue" "$err"
  fi
  run 0 "order show" --json order show "$order" &&
    json "aborted, its card failed with the printer's words" \
      'd["order"]["state"] == "aborted" and len(d["failed"]) == 1 and "printer failed" in d["failed"][0]["reason"]'
  # the card was in the encoder when its print failed: the operator takes
  # the spoiled card out and puts a blank one in
  bash "$root/scripts/pcsc-stack.sh" card 0 --timeout 20 --fresh --hopper >/dev/null 2>&1 ||
    not_ok "a blank card in the reader"
fi
order=$(new_order P6)
if run 1 "a queue that does not exist fails the card" order produce "$order" --reader "$reader" \
     --pin-dir "$work/pins" --printer no-such-queue --layout "$layout" --cups-server "$server"; then
  [[ $err == *"no-such-queue"*"does not exist"* ]] && ok "CUPS's words reach the operator" ||
    not_ok "the message of the missing queue" "$err"
fi
printed=$(compgen -G "$outdir/*.pdf" | wc -l)
[ "$printed" -eq 6 ] && ok "still six PDFs" || not_ok "$printed PDFs after the failures, want 6"

echo "1..$n"
[ "$failed" -eq 0 ]
