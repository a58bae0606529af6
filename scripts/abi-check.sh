#!/usr/bin/env bash
# Compares the ABI of a built libidm.so.1 with the committed baseline
# abi/libidm.so.1.abi (abidw XML) using abidiff.
#
#   abi-check.sh LIBRARY                      check; fails on any difference
#   abi-check.sh --update LIBRARY             refresh the baseline when the only
#                                             change is appended functions
#   abi-check.sh --update --reviewed LIBRARY  also accept changes abidiff does
#                                             not call incompatible (e.g. an
#                                             enumerator appended), after review
#
# Removed functions and anything abidiff calls incompatible always fail and
# are never written into the baseline.  Policy: doc/ABI.md.
set -euo pipefail

update=0 reviewed=0
while [ $# -gt 1 ]; do
  case $1 in
    --update) update=1 ;;
    --reviewed) reviewed=1 ;;
    *) echo "usage: $0 [--update [--reviewed]] path/to/libidm.so.1" >&2; exit 2 ;;
  esac
  shift
done
[ $# -eq 1 ] || { echo "usage: $0 [--update [--reviewed]] path/to/libidm.so.1" >&2; exit 2; }
lib=$1
root=$(cd "$(dirname "$0")/.." && pwd)
baseline="$root/abi/libidm.so.1.abi"
headers="$root/include/idm"

for tool in abidw abidiff; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (package abigail-tools)"; exit 1; }
done
[ -e "$lib" ] || { echo "FAIL: $lib does not exist; build first"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Only the public headers' view of the library is the ABI.  libabigail tells
# public from private types by header file name, so no header under src/ may
# share a name with one in include/idm/ (tests/scripts/check-headers.sh).
# Source paths are dropped so the baseline does not depend on the checkout.
abidw --headers-dir "$headers" --no-corpus-path --no-comp-dir-path \
      --out-file "$tmp/current.abi" "$lib"

if [ ! -e "$baseline" ]; then
  if [ "$update" -eq 1 ]; then
    mkdir -p "$(dirname "$baseline")"
    cp "$tmp/current.abi" "$baseline"
    echo "created baseline $baseline"
    exit 0
  fi
  echo "FAIL: no baseline at $baseline; create it with: $0 --update $lib"
  exit 1
fi

set +e
abidiff --headers-dir1 "$headers" --headers-dir2 "$headers" \
        "$baseline" "$tmp/current.abi" > "$tmp/report"
status=$?
set -e

# abidiff's status is a bit field: 1 error, 2 usage, 4 ABI change,
# 8 incompatible ABI change.
if [ $((status & 3)) -ne 0 ]; then
  echo "FAIL: abidiff could not compare (status $status):"
  cat "$tmp/report"
  exit 1
fi
if [ "$status" -eq 0 ]; then
  echo "ok: ABI of $(basename "$lib") equals the baseline $(basename "$baseline")"
  exit 0
fi

# abidiff only calls a few changes incompatible (a removed symbol, say); a
# changed parameter type or enumerator value is merely "changed".  So the
# summary lines decide: anything removed or changed is not an append.
summary=$(grep -E '^(Functions|Variables) changes summary:' "$tmp/report" || true)
removed_or_changed=$(printf '%s\n' "$summary" |
  grep -oE '[0-9]+ (Removed|Changed)' | awk '{ n += $1 } END { print n + 0 }')

if [ $((status & 8)) -ne 0 ]; then
  verdict=incompatible
elif [ "$removed_or_changed" -gt 0 ]; then
  verdict=changed
else
  verdict=appended
fi

cat "$tmp/report"
case $verdict in
  incompatible)
    echo "FAIL: incompatible ABI change against $baseline."
    echo "The 1.x ABI only grows: add a new function instead of changing one (doc/ABI.md)."
    exit 1 ;;
  changed)
    if [ "$update" -eq 1 ] && [ "$reviewed" -eq 1 ]; then
      cp "$tmp/current.abi" "$baseline"
      echo "baseline refreshed after a reviewed change (see doc/ABI.md)"
      exit 0
    fi
    echo "FAIL: existing functions or types changed against $baseline."
    echo "Changing a signature, a parameter type or an enumerator's value breaks callers."
    echo "Appending an enumerator is the one such change allowed; after review run:"
    echo "  $0 --update --reviewed $lib"
    exit 1 ;;
  appended)
    if [ "$update" -eq 1 ]; then
      cp "$tmp/current.abi" "$baseline"
      echo "baseline refreshed: functions appended"
      exit 0
    fi
    echo "FAIL: functions were added but the baseline was not refreshed."
    echo "If they are deliberate, run: $0 --update $lib"
    echo "and commit abi/libidm.so.1.abi with the change."
    exit 1 ;;
esac
