#!/usr/bin/env bash
# Sets up this machine and runs libidm's main job with the `idm` tool: a
# Digital ID mass production of the 36 employees of
# examples/data/employees.csv on the embedded SQLite store (build/demo/),
# with the built-in CA, on the project's virtual PIV cards through pcscd, two
# stations producing one order together, ending with the report, every
# certificate verified by openssl against the CA and its CRL, and one card
# read back with OpenSC (scripts/main-job.sh tells the steps).
# Usage: bash scripts/demo.sh   (as root, or with sudo available)
# The PC/SC stack is started for the job and stopped after it, however it
# ends; a pcscd that was already running is used and left running.
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
./build/tools/idm/idm version
exec bash tests/vcard/with-stack.sh "$root" --readers 2 --hopper -- \
  bash scripts/main-job.sh build/tools/idm/idm examples/data/employees.csv build/demo
