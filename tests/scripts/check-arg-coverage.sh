#!/usr/bin/env bash
# Every exported function must be exercised with bad arguments by
# tests/unit/test_api_args.c; this fails when a new export is missing there.
# Usage: check-arg-coverage.sh MAP TEST_FILE
set -euo pipefail
map=$1 test_file=$2
here=$(dirname "$0")
missing=0 total=0
while read -r sym _; do
  total=$((total + 1))
  if ! grep -qE "\b${sym}\s*\(" "$test_file"; then
    echo "FAIL: $sym is exported but never called in $(basename "$test_file")"
    missing=$((missing + 1))
  fi
done < <(bash "$here/map-symbols.sh" "$map")
[ "$total" -gt 0 ] || { echo "FAIL: no symbols read from $map"; exit 1; }
[ "$missing" -eq 0 ] && echo "ok: all $total exported functions are called in $(basename "$test_file")"
exit $((missing > 0))
