#!/usr/bin/env bash
# Sets up this machine and runs libidm's main job on a real SQLite store
# (build/demo-store.db): imports the identities of examples/data/people.csv,
# requests and approves a Digital ID card for each, issues a logon
# certificate from the built-in CA for one card and takes it through issue
# and activation, and verifies the hash-chained audit trail.  Mass
# production with a CA and a card encoder replaces it as those land.
# Usage: bash scripts/demo.sh   (as root, or with sudo available)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh
if [ -e build/build.ninja ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build >/dev/null
fi
meson compile -C build >/dev/null
./build/examples/idm-example-version
./build/examples/idm-example-card-lifecycle --new build/demo-store.db examples/data/people.csv
