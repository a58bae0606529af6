#!/usr/bin/env bash
# Crash torture of the `idm` tool (issue 10): mass production and external
# ordering on the real PC/SC stack, the idm process SIGKILLed at random
# moments again and again, resumed each time, then the invariants checked.
#
#   bash scripts/torture.sh [--kills N] [--seed S] [--build DIR] [--work DIR]
#
# Builds the idm tool and check_store in DIR (default build), then runs
# itself inside tests/vcard/with-stack.sh --readers 2 --hopper; N (default
# 40) is the number of kills, 3/5 of them in mass production and the rest
# spread over `idm external order`, `sync`, `update` and `activate`.  The
# work folder (default DIR/torture: store, CA, PIN letters, spool, the tray
# of ejected cards, one log per idm run) is kept for a look afterwards.
# The meson test `torture` runs the short version (12 kills) in the same
# way:  with-stack.sh ROOT --readers 2 --hopper -- \
#         bash scripts/torture.sh --run IDM CHECK_STORE --kills 12 --work DIR
# Prints TAP; the figures (kills survived, where they landed, cards,
# orders, time) are TAP comments at the end.  Where a kill landed in a
# card's personalization (produce, activate) is read from the chip that
# was in the reader and from the store right after it: no-write-yet
# (start-up, claim, card open, chip serial, or between two cards),
# keys-generated (certificates not committed yet), certs-committed (not on
# the chip yet), writing-objects, pin-set-verifying (PIN and PUK set:
# verification, the store's record), recorded-before-reset (recorded
# issued or active, the card not reset yet); a chip put back after an
# earlier kill still shows that kill's writes.  For the queues: how much
# of its work the killed run had done (sync: order files written, cards
# recorded as ordered).
#
# What runs, with the idm tool alone on a fresh store:
#   - the people of examples/data/*.csv imported; a Digital ID card
#     requested and approved for each; a CA; an order; two stations (one per
#     reader, `idm order produce --station station-N --group G`, G random
#     1..3) produce it together, the virtual cards fed by the hopper; one of
#     them is SIGKILLed after a random delay (microseconds, so kills land
#     mid-APDU, mid-commit, mid-start-up), then started again under the
#     same name, again and again; when an order is done while kills are
#     owed, every person gets another card in a new order
#     (allow_multiple_active_cards).  A resume takes the same station name:
#     <idm/production.h> gives a station that opens again under its name
#     the card it was working on, while another name would wait out the
#     claim's lease (ten minutes; the idm tool has no lease option);
#   - external ordering through the spool (queue_orders,
#     allow_multiple_orders, the e-mails in a maildir with
#     send_card_ordered_email): `idm external order` of a contractor card
#     for every person, `idm external sync`, the bureau's answers (played by
#     tests/reliability/torture/torture.py: it takes each order file from
#     the outbox, notes its message id, and reports the card in production
#     and produced on a blank chip it makes), `idm external update`, and
#     `idm external activate` of some of the cards on their bureau chip in
#     reader 1; each of the four is SIGKILLed at random moments and run
#     again until it has done its work.  A bureau chip that a kill got
#     ejected (see below) is put back in the reader by hand, as an operator
#     would: the card must be activated on the chip the bureau reported.
#     A run killed after it recorded the card active is done (a new run
#     would be refused: the card is active).  At the end `idm external
#     flush` delivers the e-mails a kill held back.
#
# The hopper (tests/vcard/virtual_piv.py --hopper --tray) ejects a card
# after a reset that follows writes, and keeps each card it ejects in the
# tray, <chip serial>.json.  pcscd resets the card of a process that dies,
# so a SIGKILL in the middle of a card ejects that card half-made: it is
# spoiled, and the resumed run takes the next blank.
#
# The rule for every chip there is at the end (the tray, the two readers,
# the bureau's chips not activated yet):
#   - each certificate on it is one the store knows (the same DER), for the
#     key in its slot;
#   - a chip the store ties to a card that went through (issued, active)
#     holds exactly that card's live certificates, one per slot, and opens
#     with the PIN and PUK of the card's PIN letter;
#   - any other chip is spoiled (a kill landed in its personalization): the
#     store ties it to no card that went through, and every certificate on
#     it is revoked and in the CRL (the resume revokes an interrupted
#     attempt's certificates as superseded before it starts again);
#   - every card that went through is on a chip found there (no lost card).
# And for the store: check_store (tests/reliability/check_store.c: states,
# certificates following cards, unique serials, order outcomes, bureau
# messages, audit chain); `idm audit verify`; serials unique and each card
# with exactly one live certificate per slot; every order completed with
# every card produced; every external card ordered once, under one message
# id across every order file the bureau took, produced or active on the
# bureau's chip; one PIN letter per card that went through, mode 0600, and
# no PIN or PUK in the store or the audit; every external card told by
# e-mail that it was ordered, produced, activated as far as it got, each
# notification under one Message-ID (a repeat after a kill keeps its id);
# every run that was not killed ended well (exit 0): a resume never fails.
# One exception is a known defect, reported as a TAP TODO: an activation
# killed after the bureau's chip took its new PIN and PUK cannot be
# resumed (the retry changes the PIN from the factory one, which the chip
# no longer has; only the earlier PIN letter knows its secrets).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

kills=40 seed="" build=build work="" idm="" check_store="" inner=0
while [ $# -gt 0 ]; do
  case $1 in
    --kills) kills=${2:?--kills needs a number}; shift 2 ;;
    --seed) seed=${2:?--seed needs a number}; shift 2 ;;
    --build) build=${2:?--build needs a folder}; shift 2 ;;
    --work) work=${2:?--work needs a folder}; shift 2 ;;
    --run) inner=1 idm=${2:?--run IDM CHECK_STORE} check_store=${3:?--run IDM CHECK_STORE}
           shift 3 ;;
    -h|--help) sed -n '2,/^# What runs/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "torture.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $kills =~ ^[1-9][0-9]*$ ]] || { echo "torture.sh: --kills '$kills' is not a number" >&2; exit 2; }
[ -z "$seed" ] && seed=$(( $(date +%s%N) % 1000000007 ))
[[ $seed =~ ^[0-9]+$ ]] || { echo "torture.sh: --seed '$seed' is not a number" >&2; exit 2; }

if [ "$inner" -eq 0 ]; then # build what it needs, then run inside the stack
  cd "$root" || exit 2
  bash scripts/install-deps.sh >/dev/null
  if [ -e "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" >/dev/null
  else
    meson setup "$build" >/dev/null
  fi
  meson compile -C "$build" tools/idm/idm tests/check_store >/dev/null
  [ -n "$work" ] || work="$build/torture"
  exec bash tests/vcard/with-stack.sh "$root" --readers 2 --hopper -- bash "$0" \
    --run "$build/tools/idm/idm" "$build/tests/check_store" --kills "$kills" --seed "$seed" \
    --work "$work"
fi

# ---- inside the stack ----------------------------------------------------------------
reader0=${IDM_TEST_READER0:?run inside tests/vcard/with-stack.sh --readers 2 --hopper}
reader1=${IDM_TEST_READER1:?run inside tests/vcard/with-stack.sh --readers 2 --hopper}
stackdir=${PCSC_STACK_DIR:?run inside tests/vcard/with-stack.sh}
idm=$(readlink -f "$idm")
check_store=$(readlink -f "$check_store")
[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/torture.XXXXXX")
if [ -d "$work" ] && [ -n "$(ls -A "$work")" ] && [ ! -e "$work/cards.db" ]; then
  echo "torture.sh: $work has files and no cards.db: not a torture run's folder, left alone" >&2
  exit 2
fi
rm -rf "$work"
mkdir -p "$work"/{pins,runs,spool,tray,chips,mail}
work=$(readlink -f "$work")
chmod 700 "$work" "$work/pins"
export IDM_STORE="$work/cards.db"
unset IDM_ACTOR IDM_CA_PASSPHRASE
tp() { /usr/bin/python3 "$root/tests/reliability/torture/torture.py" "$@"; }
field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
stack() { bash "$root/scripts/pcsc-stack.sh" "$@" >>"$work/stack.log" 2>&1; }
RANDOM=$seed
started=$(date +%s%N)
readers=("$reader0" "$reader1")
ca=(--ca-dir "$work/ca" --passphrase-file "$work/ca.passphrase")
desk=(--spool "$work/spool" --maildir "$work/mail" --mail-from "cards@torture.example")

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; printf '#   %s\n' "$@"; }
note() { echo "# $*"; }

# Every idm run has its own log; a run that was not killed must exit 0
# (or with the status the caller allows), else it is a finding.
runs=0 problems=()
declare -A kills_by=() phases=() missed=()
new_log() { runs=$((runs + 1)); log="$work/runs/$(printf %05d "$runs")-$1"; }
finding() { problems+=("$1: exit $2: $(tail -n 3 "$3.err" | tr '\n' ' ')"); note "FINDING: ${problems[-1]}"; }

# alive PID: running and not a zombie (a child that exited is one until waited)
alive() {
  local state
  state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}
# a random delay in [0, MAX) microseconds, slept
random_sleep() {
  local us=$(( ((RANDOM << 15) | RANDOM) % $1 ))
  sleep "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
}
card_file() { echo "$stackdir/card$1.json"; }
# the chip serial of the card in reader N, as libidm reads it from the CPLC
# (quick: it is read just before a kill)
reader_chip() {
  local c
  c=$(sed -n 's/^ *"cplc": "\([0-9a-fA-F]*\)".*/\1/p' "$(card_file "$1")")
  c=${c^^}
  echo "${c:0:4}${c:24:12}"
}
# After a kill, the card in reader N, whose chip was BEFORE at the kill:
# pcscd resets it when it cleans up the dead client; a card that was
# written to is then ejected into the tray and a blank takes its place.
# Waits for that, so that the next run meets the card it will work on.
# Prints the state file of the chip that was in the reader at the kill (its
# tray file when it was ejected).
settle_reader() {
  local i=$1 before=$2 file k
  file=$(card_file "$i")
  sleep 0.05
  if [ "$(reader_chip "$i")" = "$before" ]; then
    if tp blank "$file"; then echo "$file"; return; fi
    for ((k = 0; k < 150; k++)); do
      [ "$(reader_chip "$i")" != "$before" ] && break
      sleep 0.02
    done
    # not ejected: the next run meets the same chip again
    if [ "$(reader_chip "$i")" = "$before" ]; then echo "$file"; return; fi
  fi
  tp latest "$work/tray" "$before" || echo "$file"
}
# Puts a chip (a card state file) into reader N, by hand: the card in the
# reader is taken out first (to the tray, unless it is blank).
insert_chip() {
  local i=$1 chip=$2 file
  file=$(card_file "$i")
  stack card "$i" --remove || return 1
  tp stow "$file" "$work/tray" >/dev/null
  cp "$chip" "$file.new" && mv "$file.new" "$file"
  stack card "$i" --hopper --tray "$work/tray"
}
count_json() { "$idm" --json "$@" | field 'len(d)'; }

# ---- the set-up -------------------------------------------------------------------------
note "seed $seed, $kills kills, work folder $work"
for i in 0 1; do # each reader's hopper keeps the cards it ejects in the tray
  stack card "$i" --fresh --hopper --tray "$work/tray" || { echo "Bail out! cannot swap the card in reader $i"; exit 1; }
done
head -c 24 /dev/urandom | base64 >"$work/ca.passphrase"
setup=$(
  "$idm" init &&
  for f in "$root"/examples/data/*.csv; do
    "$idm" --actor hr:clerk identity import --id-column employeeNumber --state active "$f" || exit 1
  done &&
  "$idm" --actor security:officer option set pin_source generated &&
  "$idm" --actor security:officer option set allow_multiple_active_cards true &&
  "$idm" --actor security:officer option set external_production_enabled true &&
  "$idm" --actor security:officer option set queue_orders true &&
  "$idm" --actor security:officer option set allow_multiple_orders true &&
  "$idm" --actor security:officer option set send_card_ordered_email true &&
  "$idm" --actor security:officer ca create --dir "$work/ca" --name "Torture Issuing CA" \
    --key-type p256 --days 3650 --passphrase-file "$work/ca.passphrase" 2>&1) ||
  { echo "Bail out! the set-up failed: $setup"; exit 1; }
mapfile -t people < <("$idm" --json identity list | field '"\n".join(str(i["id"]) for i in d)')
[ "${#people[@]}" -gt 40 ] && ok "a store with ${#people[@]} people from examples/data/*.csv, a CA" ||
  not_ok "the people" "${#people[@]} identities"

mp_kills=$(( (kills * 3 + 4) / 5 ))
ext_kills=$(( kills - mp_kills ))
declare -A budget=([order]=0 [sync]=0 [update]=0 [activate]=0)
for ((k = 0; k < ext_kills; k++)); do
  case $((k % 4)) in 0) c=activate ;; 1) c=sync ;; 2) c=update ;; 3) c=order ;; esac
  budget[$c]=$((budget[$c] + 1))
done

# ---- mass production ----------------------------------------------------------------------
orders=0
new_order() {
  local id cards
  for id in "${people[@]}"; do
    "$idm" --actor hr:clerk card request --identity "$id" --option digital >/dev/null || return 1
  done
  cards=$("$idm" --json card list --state requested | field '" ".join(str(c["id"]) for c in d)')
  # shellcheck disable=SC2086
  "$idm" --actor security:officer card approve $cards >/dev/null || return 1
  orders=$((orders + 1))
  order="batch-$orders"
  "$idm" --actor operator:alice order create --option digital --external-id "$order" >/dev/null
}
order_state() { "$idm" --json order show "$order" | field 'd["order"]["state"]'; }
declare -a spid=("" "") slog=("" "")
start_station() {
  local i=$1 name="station-$(($1 + 1))"
  new_log "$name"
  "$idm" --actor "operator:$name" order produce "$order" --station "$name" \
    --reader "${readers[$i]}" --group $((RANDOM % 3 + 1)) "${ca[@]}" --pin-dir "$work/pins" \
    >"$log.out" 2>"$log.err" &
  spid[$i]=$! slog[$i]=$log
}
# reaps station I if it ended by itself; a failure is a finding
reap_station() {
  local i=$1 status=0
  [ -n "${spid[$i]}" ] && ! alive "${spid[$i]}" || return 0
  wait "${spid[$i]}" 2>/dev/null || status=$?
  [ "$status" -eq 0 ] || finding "idm order produce (station-$((i + 1)))" "$status" "${slog[$i]}"
  spid[$i]=""
}
kill_landed() { # COMMAND PHASE
  kills_by[$1]=$(( ${kills_by[$1]:-0} + 1 ))
  phases[$1/$2]=$(( ${phases[$1/$2]:-0} + 1 ))
}

new_order || { echo "Bail out! cannot make the first order"; exit 1; }
mp_done=0 mp_max=500000 stuck=0
while [ "$mp_done" -lt "$mp_kills" ] && [ "${#problems[@]}" -eq 0 ]; do
  for i in 0 1; do [ -n "${spid[$i]}" ] || start_station "$i"; done
  random_sleep "$mp_max"
  i=$((RANDOM % 2))
  if [ -n "${spid[$i]}" ] && alive "${spid[$i]}"; then
    before=$(reader_chip "$i")
    kill -KILL "${spid[$i]}" 2>/dev/null
    status=0
    wait "${spid[$i]}" 2>/dev/null || status=$?
    spid[$i]=""
    if [ "$status" -eq 137 ]; then
      mp_done=$((mp_done + 1))
      chip=$(settle_reader "$i" "$before")
      kill_landed produce "$(tp phase "$chip" "$IDM_STORE")"
    elif [ "$status" -ne 0 ]; then
      finding "idm order produce (station-$((i + 1)))" "$status" "${slog[$i]}"
    fi
  fi
  for i in 0 1; do reap_station "$i"; done
  if [ "$(order_state)" = completed ]; then
    for i in 0 1; do
      [ -z "${spid[$i]}" ] && continue
      status=0; wait "${spid[$i]}" 2>/dev/null || status=$?
      [ "$status" -eq 0 ] || finding "idm order produce (station-$((i + 1)))" "$status" "${slog[$i]}"
      spid[$i]=""
    done
    note "order $order completed ($mp_done of $mp_kills kills so far)"
    if [ "$mp_done" -lt "$mp_kills" ]; then
      new_order || { finding "a new order" 1 /dev/null; break; }
    fi
    stuck=0
  fi
  stuck=$((stuck + 1))
  [ "$stuck" -gt 200 ] && { finding "order $order makes no progress" 1 "${slog[0]}"; break; }
done
# the last order to its end, without kills
for ((round = 0; round < 10 && ${#problems[@]} == 0; round++)); do
  [ "$(order_state)" = completed ] && break
  for i in 0 1; do [ -n "${spid[$i]}" ] || start_station "$i"; done
  for i in 0 1; do
    status=0; wait "${spid[$i]}" 2>/dev/null || status=$?
    [ "$status" -eq 0 ] || finding "idm order produce (station-$((i + 1)))" "$status" "${slog[$i]}"
    spid[$i]=""
  done
done
mp_seconds=$(( ($(date +%s%N) - started) / 1000000 ))

# ---- external ordering -------------------------------------------------------------------
# run_killable COMMAND STATUS_OK ARGS...: one idm run, SIGKILLed after a
# random delay while the command's kill budget lasts.  Returns 0 when it
# ran to its end, 1 when it was killed, 2 when it failed ($log.err says why).
declare -A max_us=([order]=100000 [sync]=80000 [update]=80000 [activate]=300000)
run_killable() {
  local cmd=$1 allowed=$2 pid status=0
  shift 2
  new_log "$cmd"
  "$idm" "$@" >"$log.out" 2>"$log.err" &
  pid=$!
  if [ "${budget[$cmd]}" -gt 0 ] && [ "${round_left[$cmd]}" -gt 0 ]; then
    random_sleep "${max_us[$cmd]}"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || status=$?
  if [ "$status" -eq 137 ]; then
    budget[$cmd]=$((budget[$cmd] - 1)) round_left[$cmd]=$((round_left[$cmd] - 1))
    return 1
  fi
  if [ "${budget[$cmd]}" -gt 0 ] && [ "${round_left[$cmd]}" -gt 0 ]; then
    missed[$cmd]=$(( ${missed[$cmd]:-0} + 1 )) # it was done before the kill: aim earlier
    max_us[$cmd]=$(( max_us[$cmd] * 7 / 10 + 1000 ))
  fi
  [[ " $allowed " == *" $status "* ]] && return 0
  failed_status=$status
  return 2
}
progress() { # a word for how far a killed run of a queue got: before, during, after
  if [ "$2" -eq "$1" ]; then echo "nothing-done-yet"; elif [ "$2" -eq 0 ]; then echo "all-done"
  else echo "part-done"; fi
}
external_cards() { "$idm" --json card list --type contractor | field "sum(c['production'] == 'external' for c in d)"; }
missing_people() { # who has fewer than ROUND external contractor cards
  "$idm" --json card list --type contractor | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
have = {}
for c in d:
    if c["production"] == "external":
        have[c["identity_id"]] = have.get(c["identity_id"], 0) + 1
print(" ".join(p for p in sys.argv[2:] if have.get(int(p), 0) < int(sys.argv[1])))' "$1" "${people[@]}"
}
inbox_count() { find "$work/spool/inbox" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l; }
# the bureau takes its mail; $files: how many order files it took
bureau() {
  local out
  files=0
  out=$(tp bureau "$work/spool" "$work/bureau.json" "$work/chips" 2>"$work/bureau.err") ||
    { finding "the bureau" 1 "$work/bureau"; return; }
  files=${out#* }
}

stuck_cards=() known=()
ext_round=0 activated=0 ext_started=$(date +%s%N) mp_problems=${#problems[@]}
declare -A round_left=()
while [ "${#problems[@]}" -eq "$mp_problems" ]; do
  left=$((budget[order] + budget[sync] + budget[update] + budget[activate]))
  [ "$ext_round" -gt 0 ] && [ "$left" -eq 0 ] && break
  [ "$ext_round" -ge 40 ] && { finding "external ordering makes no progress" 1 /dev/null; break; }
  ext_round=$((ext_round + 1))
  for c in order sync update activate; do round_left[$c]=3; done

  # every person orders a contractor card from the bureau (queued)
  for ((t = 0; t < 20; t++)); do
    read -r -a who <<<"$(missing_people "$ext_round")"
    [ "${#who[@]}" -eq 0 ] && break
    before=$(external_cards)
    run_killable order "0" --actor operator:bob external order "${desk[@]}" --type contractor \
      --option digital "${who[@]}"
    rc=$?
    [ "$rc" -eq 2 ] && { finding "idm external order" "$failed_status" "$log"; break; }
    [ "$rc" -eq 1 ] && kill_landed order "$(progress "${#who[@]}" $(( ${#who[@]} - ($(external_cards) - before) )))"
  done
  # the queue goes to the bureau; the bureau takes its mail after each run
  for ((t = 0; t < 20; t++)); do
    queued=$(count_json card list --state processing)
    [ "$queued" -eq 0 ] && break
    run_killable sync "0" --actor operator:bob external sync "${desk[@]}"
    rc=$?
    bureau
    [ "$rc" -eq 2 ] && { finding "idm external sync" "$failed_status" "$log"; break; }
    if [ "$rc" -eq 1 ]; then # how far it got: order files written, cards recorded as ordered
      still=$(count_json card list --state processing)
      if [ "$still" -eq "$queued" ] && [ "$files" -eq 0 ]; then where="before-any-file"
      elif [ "$still" -eq "$queued" ]; then where="files-written-none-recorded"
      elif [ "$still" -gt 0 ]; then where="part-recorded"
      else where="all-recorded"; fi
      kill_landed sync "$where"
    fi
  done
  # the bureau's reports: in production, produced on its chip
  for ((t = 0; t < 20; t++)); do
    waiting=$(inbox_count)
    [ "$waiting" -eq 0 ] && break
    run_killable update "0" --actor operator:bob external update "${desk[@]}"
    rc=$?
    [ "$rc" -eq 2 ] && { finding "idm external update" "$failed_status" "$log"; break; }
    [ "$rc" -eq 1 ] && kill_landed update "$(progress "$waiting" "$(inbox_count)")"
  done
  # some produced cards activated on their chip in reader 1: as many as
  # this round's kills want, and at least one that goes through
  want=$(( round_left[activate] < budget[activate] ? round_left[activate] : budget[activate] ))
  activated_before=$activated tried=0
  for card in $("$idm" --json card list --state produced --type contractor |
                field '" ".join(str(c["id"]) for c in d if " %d " % c["id"] not in "'" ${stuck_cards[*]} "'")'); do
    [ "$tried" -ge "$want" ] && [ "$activated" -gt "$activated_before" ] && break
    tried=$((tried + 1))
    chip=$("$idm" --json card show "$card" | field 'd["card"]["chip_serial"]')
    last=""
    for ((t = 0; t < 12; t++)); do
      if [ "$(tp serial "$(card_file 1)")" != "$chip" ]; then # the bureau's chip, or from the tray
        src="$work/chips/$chip.json"
        [ -e "$src" ] || src=$(tp latest "$work/tray" "$chip") ||
          { finding "card $card: chip $chip is nowhere" 1 /dev/null; break; }
        insert_chip 1 "$src" || { finding "cannot put chip $chip into reader 1" 1 /dev/null; break; }
        rm -f "$work/chips/$chip.json"
      fi
      run_killable activate "0" --actor operator:carol external activate "${desk[@]}" \
        --reader "$reader1" "${ca[@]}" --pin-dir "$work/pins" "$card"
      rc=$?
      if [ "$rc" -eq 0 ]; then activated=$((activated + 1)); break; fi
      if [ "$rc" -eq 2 ]; then
        # the known defect: a kill after the card took the new PIN and PUK
        # (letter written, card not yet recorded active) leaves the bureau's
        # chip with secrets the retry does not try, which only the earlier
        # PIN letter knows; every retry spends one of its PIN tries
        if [ "$last" = pin-set-verifying ] && grep -q "CHANGE REFERENCE DATA PIN: 63C" "$log.err"; then
          stuck_cards+=("$card")
          known+=("card $card (chip $chip) cannot be activated after a kill once its PIN was set: $(tail -n 1 "$log.err")")
          note "KNOWN DEFECT: ${known[-1]}"
        else
          finding "idm external activate" "$failed_status" "$log"
        fi
        break
      fi
      last=$(tp phase "$(settle_reader 1 "$chip")" "$IDM_STORE")
      kill_landed activate "$last"
      # killed after it recorded the card active: done (a run again would
      # be refused, the card being active already)
      if [ "$last" = recorded-before-reset ]; then activated=$((activated + 1)); break; fi
    done
    [ "$t" -ge 12 ] && finding "card $card was not activated in 12 runs" 1 "$log"
  done
done
ext_seconds=$(( ($(date +%s%N) - ext_started) / 1000000 ))

# ---- the checks --------------------------------------------------------------------------
survived=0
for c in "${!kills_by[@]}"; do survived=$((survived + kills_by[$c])); done
if [ "${#problems[@]}" -eq 0 ]; then
  ok "$survived kills survived; each of the $runs idm runs that was not killed ended well${known[*]:+, but for the known defect below}"
else
  not_ok "$survived kills; ${#problems[@]} runs that were not killed failed" "${problems[@]}"
fi
for k in "${known[@]}"; do
  n=$((n + 1)); echo "not ok $n - resume of an activation # TODO known defect: $k"
done
[ "$survived" -eq "$kills" ] && ok "all $kills kills landed in a running idm process" ||
  not_ok "$survived of $kills kills landed" "missed (the run ended before its kill): $(declare -p missed)"

report=$("$idm" --json report --kind mass_production)
expect=$((orders * ${#people[@]}))
if /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1]); n = int(sys.argv[2]); cards = int(sys.argv[3])
assert len(d["orders"]) == n and all(o["state"] == "completed" for o in d["orders"]), d["orders"]
assert d["totals"] == {"orders": n, "pending": 0, "produced": cards, "skipped": 0, "failed": 0}, d["totals"]
' "$report" "$orders" "$expect" 2>"$work/report.err"; then
  ok "$orders mass production orders completed: $expect cards produced, none failed, skipped or pending"
else
  not_ok "the mass production orders" "$(tail -n 2 "$work/report.err")"
fi
ext_total=$(external_cards)
[ "$ext_total" -eq $((ext_round * ${#people[@]})) ] &&
  ok "$ext_round external rounds: each person ordered one contractor card a round ($ext_total cards)" ||
  not_ok "$ext_total external cards after $ext_round rounds of ${#people[@]} people"
# the e-mails a kill kept from going out (recorded, not delivered)
if out=$("$idm" --json --actor operator:bob external flush "${desk[@]}" 2>&1) &&
   [ "$(field 'd["pending"]' <<<"$out")" -eq 0 ]; then
  ok "idm external flush: $(field 'd["sent"]' <<<"$out") e-mails a kill held back delivered, none pending"
else
  not_ok "idm external flush" "$out"
fi
[ "$activated" -ge "$ext_round" ] &&
  ok "$activated external cards activated on their bureau chip, at least one a round" ||
  not_ok "$activated external cards activated in $ext_round rounds"
[ -z "$(ls -A "$work/spool/tmp" 2>/dev/null)" ] && [ -z "$(ls -A "$work/spool/quarantine" 2>/dev/null)" ] &&
  [ "$(inbox_count)" -eq 0 ] && [ -z "$(ls -A "$work/spool/outbox" 2>/dev/null)" ] &&
  ok "the spool: every report applied, nothing quarantined, nothing left in tmp/ or the outbox" ||
  not_ok "the spool" "$(cd "$work/spool" && find . -type f ! -path './processed/*' | head -n 5)"

if out=$("$check_store" "$IDM_STORE" 2>&1); then
  ok "check_store: $out"
else
  not_ok "check_store: the store's invariants" "$out"
fi
if out=$("$idm" audit verify 2>&1); then ok "idm audit verify: $out"; else not_ok "idm audit verify" "$out"; fi
"$idm" --json cert list >"$work/certs.json" &&
  dups=$(field '[s for s in set(c["serial"] for c in d) if sum(c["serial"] == s for c in d) > 1][:5] if len(d) != len(set(c["serial"] for c in d)) else ""' <"$work/certs.json") &&
  [ -z "$dups" ] && ok "idm cert list: $(field 'len(d)' <"$work/certs.json") certificates, serials unique" ||
  not_ok "certificate serials" "duplicates: $dups"
"$idm" audit export >"$work/audit.txt" 2>&1
"$idm" ca crl "${ca[@]}" --pem --out "$work/ca.crl" >/dev/null 2>"$work/crl.err" ||
  not_ok "idm ca crl" "$(cat "$work/crl.err")"
while IFS= read -r line; do
  case $line in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - ${line#not ok - }" ;;
    *) echo "$line" ;;
  esac
done < <(tp check --store "$IDM_STORE" --ca-cert "$work/ca/ca.crt" --crl "$work/ca.crl" \
           --tray "$work/tray" --reader "$(card_file 0)" --reader "$(card_file 1)" \
           --chips "$work/chips" --pins "$work/pins" --ledger "$work/bureau.json" \
           --maildir "$work/mail" \
           --audit "$work/audit.txt" 2>&1)

# ---- the figures -------------------------------------------------------------------------
seconds=$(( ($(date +%s%N) - started) / 1000000 ))
note "figures: seed $seed; $survived kills survived in $((seconds / 1000)).$((seconds % 1000 / 100)) s;" \
  "$runs idm runs"
for c in produce order sync update activate; do
  line=""
  for key in $(printf '%s\n' "${!phases[@]}" | grep "^$c/" | sort); do
    line+=" ${key#*/} ${phases[$key]},"
  done
  note "  kills in $c: ${kills_by[$c]:-0}${line:+ (${line%,} )}${missed[$c]:+; ${missed[$c]} runs ended before their kill}"
done
note "  mass production: $orders orders, $expect cards produced in $((mp_seconds / 1000)).$((mp_seconds % 1000 / 100)) s;" \
  "tray: $(find "$work/tray" -name '*.json' | wc -l) cards ejected"
note "  external: $ext_round rounds, $ext_total cards ordered, $(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["files"])' "$work/bureau.json" 2>/dev/null || echo 0) order files taken by the bureau," \
  "$activated activated, in $((ext_seconds / 1000)).$((ext_seconds % 1000 / 100)) s"
echo "1..$n"
[ "$failed" -eq 0 ]
