#!/usr/bin/env bash
# Runs COMMAND (test_reader_vanish, TAP) inside with-stack.sh only when the
# stack started pcscd itself: the test kills pcscd, which it must never do to
# a pcscd somebody else runs.  Otherwise it reports the whole plan skipped.
#   check-vanish.sh COMMAND [ARGS...]
set -uo pipefail
if ! grep -q "^pcscd " "${PCSC_STACK_DIR:?run inside tests/vcard/with-stack.sh}/stack.pids"; then
    echo "1..0 # SKIP a pcscd this stack did not start is running; the test would kill it"
    exit 0
fi
exec "$@"
