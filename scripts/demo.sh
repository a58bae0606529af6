#!/usr/bin/env bash
# Sets up this machine and runs libidm's main job on a real SQLite store
# (build/demo-store.db): imports the identities of examples/data/people.csv,
# requests and approves a Digital ID card for each, issues a logon
# certificate from the built-in CA for one card and takes it through issue
# and activation, and verifies the hash-chained audit trail.  Then it starts
# the PC/SC stack (pcscd, vsmartcard-vpcd, the project's virtual PIV card),
# personalizes a Digital ID card on it with the built-in PC/SC encoder (keys
# generated on the card, certificates from the built-in CA, CHUID, Printed
# Information, PIN and PUK, all verified), shows OpenSC reading the card,
# and stops the stack.  Mass production replaces it as that workflow lands.
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

# The card: a stack of our own, stopped again however the script ends.
export PCSC_STACK_DIR="$root/build/demo-pcsc"
trap 'bash scripts/pcsc-stack.sh stop >/dev/null 2>&1 || true' EXIT
bash scripts/pcsc-stack.sh start --fresh --timeout 20 >/dev/null
echo
./build/examples/idm-example-personalize-card --name "Grace Hopper" build/demo-card.db
echo
echo "OpenSC's view of the card:"
pkcs11-tool --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so --list-objects 2>/dev/null \
  | grep -E "^Certificate Object|^  label: +Certificate|^  subject:" || true
