#!/usr/bin/env bash
# Makes the card preview the README shows (doc/images/card-front.png and
# card-back.png): one holder with a photo on a scratch store, rendered with
# the example layout by `idm layout preview` at 300 dpi.  The test
# readme_preview runs it into a scratch folder and compares the result with
# the committed images, so the README shows what the code renders.
#
#   scripts/readme-preview.sh IDM_BINARY [OUT_DIR]   (default: doc/images)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
idm=$(readlink -f "$1")
out=$(readlink -f "${2:-$root/doc/images}")
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export IDM_STORE="$work/idm.db" IDM_ACTOR="readme-preview"
cat >"$work/people.csv" <<CSV
employeeNumber,givenName,surname,department,photo
E1001,Zoë,Ångström-Łukasiewicz,Research & Development,$root/tests/print/data/photo-zoe.png
CSV
"$idm" init >/dev/null
"$idm" identity import --id-column employeeNumber --state active "$work/people.csv" >/dev/null
"$idm" card request --identity E1001 >/dev/null
"$idm" layout preview "$root/examples/data/layouts/employee.json" 1 --out "$work/card" >/dev/null
cp "$work/card-front.png" "$out/card-front.png"
cp "$work/card-back.png" "$out/card-back.png"
echo "readme-preview: wrote $out/card-front.png and $out/card-back.png"
