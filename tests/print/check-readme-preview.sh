#!/usr/bin/env bash
# The card preview the README shows (doc/images/) is what the code renders
# now: scripts/readme-preview.sh makes it again in a scratch folder, and
# compare-png.py finds each face alike within its tolerance.  After a
# change to the renderer or the example layout, run
# `scripts/readme-preview.sh build/tools/idm/idm` and commit the images.
# Prints TAP.  Usage: check-readme-preview.sh IDM_BINARY SOURCE_ROOT
set -uo pipefail
idm=$1 root=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=0 failed=0
if bash "$root/scripts/readme-preview.sh" "$idm" "$out" >/dev/null 2>"$out/err"; then
  n=$((n + 1)); echo "ok $n - readme-preview.sh renders the card"
  for face in front back; do
    n=$((n + 1))
    if result=$(python3 "$root/tests/print/compare-png.py" "$root/doc/images/card-$face.png" \
                  "$out/card-$face.png" 2>&1); then
      echo "ok $n - the README's $face is current: $result"
    else
      failed=$((failed + 1))
      echo "not ok $n - the README's $face is not what the code renders"
      sed 's/^/#   /' <<<"$result"
    fi
  done
else
  n=$((n + 1)); failed=1; echo "not ok $n - readme-preview.sh failed"; sed 's/^/#   /' "$out/err"
fi
echo "1..$n"
[ "$failed" -eq 0 ]
