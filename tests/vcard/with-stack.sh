#!/usr/bin/env bash
# Runs one command against a PC/SC stack of its own: pcscd + vsmartcard-vpcd
# + the virtual PIV card(s), started fresh in a temporary state directory and
# stopped afterwards, also when the command fails or this script is killed.
#
#   with-stack.sh SOURCE_ROOT [STACK_START_OPTIONS... --] COMMAND [ARGS...]
#
# STACK_START_OPTIONS go to `scripts/pcsc-stack.sh start --fresh`
# (--readers 2, --no-piv, --vanish-after N, ...); when the first argument
# after SOURCE_ROOT starts with '-', the options run up to the first '--'.
# The command sees IDM_TEST_READER0 (and IDM_TEST_READER1 with two readers)
# set to the names pcscd gives the readers, e.g. "Virtual PCD 00 00".
# Its stdout and stderr pass through untouched (TAP stays parseable); the
# stack's own chatter goes to stderr.  Exit status: the command's; 99 when
# the stack did not start (meson's "error", not "failure").
#
# The vpcd readers listen on fixed ports, so two stacks cannot run at once:
# runs wait for each other on a lock file (up to IDM_STACK_LOCK_WAIT s).
set -uo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: with-stack.sh SOURCE_ROOT [STACK_START_OPTIONS... --] COMMAND [ARGS...]" >&2
    exit 2
fi
root=$1
shift
stack="$root/scripts/pcsc-stack.sh"

options=()
if [[ $1 == -* ]]; then
    while [[ $# -gt 0 && $1 != -- ]]; do
        options+=("$1")
        shift
    done
    if [[ $# -eq 0 ]]; then
        echo "with-stack: the stack options must end with '--' before the command" >&2
        exit 2
    fi
    shift # the --
fi
if [[ $# -eq 0 ]]; then
    echo "with-stack: no command to run" >&2
    exit 2
fi

# One stack at a time on this machine.  fd 9 is closed for everything we
# start, so a daemon never inherits (and keeps) the lock.
lock="${TMPDIR:-/tmp}/libidm-pcsc-stack-$(id -u).lock"
exec 9>>"$lock"
if ! flock -w "${IDM_STACK_LOCK_WAIT:-300}" 9; then
    echo "with-stack: another PC/SC stack held $lock for ${IDM_STACK_LOCK_WAIT:-300} s" >&2
    exit 99
fi

export PCSC_STACK_DIR
PCSC_STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/libidm-with-stack.XXXXXX")
child=""

cleanup() {
    if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    bash "$stack" stop 9>&- >&2
    rm -rf "$PCSC_STACK_DIR"
}
trap cleanup EXIT
# Killed (meson's timeout, Ctrl-C): stop the command, then the stack (EXIT).
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

start_log="$PCSC_STACK_DIR/start.out"
if ! bash "$stack" start --fresh --timeout 20 "${options[@]}" 9>&- > "$start_log" 2>&1; then
    cat "$start_log" >&2
    echo "with-stack: the PC/SC stack did not start; logs:" >&2
    tail -n 20 "$PCSC_STACK_DIR"/*.log >&2 2>/dev/null
    exit 99
fi
cat "$start_log" >&2

# pcsc_wait.py (run by start) prints "<reader name>: card present, ATR ..."
# for each reader, in order: the names as pcscd spells them.
mapfile -t readers < <(sed -n 's/^\(.*\): card present, ATR .*$/\1/p' "$start_log")
if [[ ${#readers[@]} -eq 0 ]]; then
    echo "with-stack: the stack started but named no reader with a card:" >&2
    cat "$start_log" >&2
    exit 99
fi
unset IDM_TEST_READER0 IDM_TEST_READER1
export IDM_TEST_READER0="${readers[0]}"
if [[ ${#readers[@]} -ge 2 ]]; then
    export IDM_TEST_READER1="${readers[1]}"
fi

# In the background, so that a TERM to this script is acted on at once
# rather than after the command ends; stdin is handed over explicitly.
"$@" 9>&- <&0 &
child=$!
wait "$child"
status=$?
child=""
exit "$status"
