#!/usr/bin/env bash
# Proves tests/reliability/check_store: a store made with the idm tool
# (identities, local cards in an order, external cards through a spool)
# passes, and each kind of broken invariant, made in a copy with sqlite3,
# is reported by name.  Prints TAP.
# Usage: check-store.sh IDM CHECK_STORE PEOPLE_CSV
set -uo pipefail
idm=$(readlink -f "$1")
check=$(readlink -f "$2")
people=$(readlink -f "$3")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export IDM_STORE="$work/good.db" IDM_ACTOR="test:check-store"

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; printf '#   %s\n' "$@"; }

{
  "$idm" init && "$idm" identity import --id-column employeeNumber --state active "$people" &&
    for i in 1 2 3 4; do "$idm" card request --identity "$i" --option digital; done &&
    "$idm" card approve 1 2 3 4 && "$idm" order create --option digital &&
    "$idm" option set external_production_enabled true && mkdir spool &&
    "$idm" external order --spool "$work/spool" E1005 E1006
} >"$work/setup.log" 2>&1 || not_ok "a store made with the idm tool" "$(cat "$work/setup.log")"

if out=$("$check" good.db); then
  ok "a store made with the idm tool passes ($out)"
else
  not_ok "a good store is reported broken" "$out"
fi

# breaks a copy with SQL and expects the checker to name it
breaks() { # NAME SQL NEEDLE
  cp good.db bad.db
  rm -f bad.db-wal bad.db-shm
  sqlite3 bad.db "$2" 2>"$work/sql-err" || { not_ok "$1: the SQL failed" "$(cat "$work/sql-err")"; return; }
  local out status=0
  out=$("$check" bad.db) || status=$?
  if [ "$status" -eq 1 ] && [[ $out == *"$3"* ]]; then
    ok "$1 is reported"
  else
    not_ok "$1: exit $status" "wanted: $3" "got: $out"
  fi
}
breaks "a card state outside its graph" "UPDATE cards SET state = 15 WHERE id = 1" \
  "card 1 is in state 15 ('unassigned'), not a state of the local graph"
breaks "an identity state out of range" "UPDATE identities SET state = 9 WHERE id = 2" \
  "identity 2 is in state 9"
breaks "an order state out of range" "UPDATE orders SET state = 7 WHERE id = 1" \
  "order 1 is in state 7"
breaks "a valid certificate on a card that is not active" \
  "INSERT INTO certificates (card_id, serial, der, not_before_ms, not_after_ms, state, created_ms) VALUES (1, 'AB12', x'30', 0, 1, 0, 0)" \
  "certificate AB12 is valid on a card in state 'approved'"
breaks "a held certificate on a failed card" \
  "UPDATE cards SET state = 6 WHERE id = 2; INSERT INTO certificates (card_id, serial, der, not_before_ms, not_after_ms, state, created_ms) VALUES (2, 'CD34', x'30', 0, 1, 1, 0)" \
  "certificate CD34 is on_hold on a card in state 'failed'"
breaks "a produced outcome for a card that did not go through" \
  "UPDATE order_cards SET outcome = 2 WHERE card_id = 3" \
  "card 3 is produced in order 1 but in state 2"
breaks "a claim without a station" "UPDATE order_cards SET outcome = 1 WHERE card_id = 4" \
  "a claim without a station: card 4 of order 1"
breaks "a completed order with a pending card" "UPDATE orders SET state = 2 WHERE id = 1" \
  "order 1 is completed with card 1 pending or claimed"
breaks "a card pending in two open orders" \
  "INSERT INTO orders (kind, card_type, card_option, state, options_version, options_snapshot, created_ms, updated_ms) VALUES (0, 0, 1, 0, 0, '{}', 0, 0); INSERT INTO order_cards (order_id, card_id, position, updated_ms) VALUES (last_insert_rowid(), 1, 0, 0)" \
  "a card pending in two open orders: card 1 in orders"
breaks "two live bureau messages for one card" \
  "INSERT INTO bureau_messages (message_id, card_id, order_id, attempt, state, created_ms, updated_ms) SELECT message_id || 'x', card_id, order_id, attempt + 1, 2, 0, 0 FROM bureau_messages LIMIT 1" \
  "a card with two live bureau messages"
breaks "a bureau message for a local card" \
  "INSERT INTO bureau_messages (message_id, card_id, order_id, attempt, state, created_ms, updated_ms) VALUES ('m-local', 1, 1, 1, 4, 0, 0)" \
  "a bureau message for a card made here: card 1: m-local"
breaks "a changed audit event" "UPDATE audit SET actor = 'mallory' WHERE seq = 3" \
  "the audit chain breaks at event 3"
breaks "a row that names a missing parent" \
  "PRAGMA foreign_keys = OFF; INSERT INTO identity_attributes (identity_id, key, value) VALUES (999, 'k', 'v')" \
  "foreign key: a row of identity_attributes"

# A store whose creation failed before its schema committed (the fault
# sweep makes them) is an empty database: it passes; half a schema does not.
sqlite3 empty.db "PRAGMA user_version = 0; VACUUM" && out=$("$check" empty.db) &&
  [[ $out == "ok: an empty store"* ]] && ok "an empty database passes as an empty store" ||
  not_ok "an empty database" "$out"
if sqlite3 half.db "CREATE TABLE identities (id INTEGER PRIMARY KEY, state INTEGER)" &&
  out=$("$check" half.db); then
  not_ok "half a schema passes" "$out"
else
  ok "half a schema is reported"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
