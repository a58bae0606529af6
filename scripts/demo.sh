#!/usr/bin/env bash
# Sets up this machine and runs libidm's main job.  First the card model on
# a real SQLite store (build/demo-store.db): imports the identities of
# examples/data/people.csv, requests and approves a Digital ID card for
# each, issues a logon certificate from the built-in CA for one card, takes
# it through issue and activation, and verifies the hash-chained audit
# trail.  Then mass production on the PC/SC stack (pcscd, vsmartcard-vpcd,
# two readers of the project's virtual PIV cards, each with a feeder that
# puts a blank card in after every card that went through): a new store
# (build/demo-production.db) with the same people, one mass production
# order of their Digital ID cards, and one station per reader, in threads,
# producing the order together (keys generated on the cards, certificates
# from the built-in CA, CHUID, CCC, Printed Information, generated PIN and
# PUK printed as PIN letters, everything verified), then the order, the
# cards and the audit check.  The feeders took the produced cards away, so
# reader 0 then gets a plain blank card, one more card is personalized on
# it, and OpenSC shows what it reads there.  The stack is stopped at the end.
# Usage: bash scripts/demo.sh   (as root, or with sudo available)
# The PC/SC stack listens on fixed ports: do not run this while a card test
# runs (tests/vcard/with-stack.sh holds /tmp/libidm-pcsc-stack-$UID.lock).
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

# The cards: a stack of our own, stopped again however the script ends.
export PCSC_STACK_DIR="$root/build/demo-pcsc"
trap 'bash scripts/pcsc-stack.sh stop >/dev/null 2>&1 || true' EXIT
bash scripts/pcsc-stack.sh start --readers 2 --hopper --fresh --timeout 20 >/dev/null
echo
./build/examples/idm-example-mass-production build/demo-production.db examples/data/people.csv

# A hopper replaces each finished card by a blank one, so no produced card
# is left to look at: reader 0 gets a card without a feeder, and one more
# card is personalized there for OpenSC to read.
bash scripts/pcsc-stack.sh card 0 --fresh >/dev/null
echo
./build/examples/idm-example-personalize-card --name "Grace Hopper" build/demo-card.db
echo
echo "OpenSC's view of the card:"
pkcs11-tool --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so --list-objects 2>/dev/null \
  | grep -E "^Certificate Object|^  label: +Certificate|^  subject:" || true
