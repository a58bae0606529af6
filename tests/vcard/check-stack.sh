#!/usr/bin/env bash
# The real PC/SC stack end to end: scripts/pcsc-stack.sh starts pcscd with
# the vpcd reader driver and the project's virtual PIV card, OpenSC (which
# nobody here wrote) selects the PIV application through libpcsclite, and
# stop removes exactly what start started.
# Usage: check-stack.sh SOURCE_ROOT
set -uo pipefail
root=$1
stack="$root/scripts/pcsc-stack.sh"
export PCSC_STACK_DIR
PCSC_STACK_DIR=$(mktemp -d)
trap 'bash "$stack" stop >/dev/null 2>&1; rm -rf "$PCSC_STACK_DIR"' EXIT
fail=0

if ! bash "$stack" start --fresh --timeout 20; then
  echo "FAIL: the stack did not start"
  tail -n 20 "$PCSC_STACK_DIR"/*.log 2>/dev/null
  exit 1
fi

readers=$(opensc-tool -l 2>&1)
if ! grep -q "Yes.*Virtual PCD" <<<"$readers"; then
  echo "FAIL: no card in a Virtual PCD reader: $readers"; fail=1
fi
select=$(opensc-tool -s 00A4040009A00000030800001000 2>&1)
if ! grep -q "SW1=0x90, SW2=0x00" <<<"$select" || ! grep -q "4F 06 00 00 10 00 01 00" <<<"$select"; then
  echo "FAIL: SELECT PIV did not answer 9000 with the application identifier: $select"; fail=1
fi
token=$(pkcs11-tool --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so -L 2>&1)
if ! grep -q "PIV_II" <<<"$token"; then
  echo "FAIL: OpenSC's PKCS#11 module does not see a PIV token: $token"; fail=1
fi

pids=$(awk '{print $2}' "$PCSC_STACK_DIR/stack.pids" 2>/dev/null)  # role pid program
bash "$stack" stop || fail=1
for pid in $pids; do
  # An exited process the init of this container has not reaped yet is gone.
  if kill -0 "$pid" 2>/dev/null && ! grep -q "^State:.*Z" "/proc/$pid/status" 2>/dev/null; then
    echo "FAIL: process $pid started by the stack still runs after stop"; fail=1
  fi
done
[ "$fail" -eq 0 ] && echo "ok: pcscd + vpcd + virtual PIV card seen by OpenSC, stopped cleanly"
exit "$fail"
