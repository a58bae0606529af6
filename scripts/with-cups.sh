#!/usr/bin/env bash
# Runs one command against a CUPS scheduler of its own (scripts/cups-stack.sh),
# started fresh in a temporary state directory and stopped afterwards, also
# when the command fails or this script is killed.
#
#   with-cups.sh SOURCE_ROOT [START_OPTIONS... --] COMMAND [ARGS...]
#
# START_OPTIONS go to `scripts/cups-stack.sh start` (--port N, --queue NAME,
# --broken, --paused, --rejecting); when the first argument after SOURCE_ROOT starts
# with '-', the options run up to the first '--'.  The command sees
#   IDM_TEST_CUPS_SERVER        127.0.0.1:PORT
#   IDM_TEST_CUPS_SOCKET        the same scheduler's domain socket (a path)
#   IDM_TEST_CUPS_QUEUE         the first cups-pdf queue (default "card")
#   IDM_TEST_CUPS_OUT           the folder where that queue's jobs appear,
#                               as "<job name>.pdf"
#   IDM_TEST_CUPS_BROKEN_QUEUE  "broken", with --broken: every job aborts
#   IDM_TEST_CUPS_PAUSED_QUEUE  "paused", with --paused: jobs stay pending
#   IDM_TEST_CUPS_REJECTING_QUEUE "rejecting", with --rejecting: refuses jobs
#   IDM_TEST_CUPS_STACK         this stack's cups-stack.sh, CUPS_STACK_DIR set
# Its stdout and stderr pass through untouched (TAP stays parseable); the
# stack's own chatter goes to stderr.  Exit status: the command's; 99 when
# the stack did not start (meson's "error", not "failure").
#
# Runs wait for each other on a lock file (up to IDM_CUPS_LOCK_WAIT s,
# default 300), as they would share the port.
set -uo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: with-cups.sh SOURCE_ROOT [START_OPTIONS... --] COMMAND [ARGS...]" >&2
    exit 2
fi
root=$1
shift
stack="$root/scripts/cups-stack.sh"

options=()
if [[ $1 == -* ]]; then
    while [[ $# -gt 0 && $1 != -- ]]; do
        options+=("$1")
        shift
    done
    if [[ $# -eq 0 ]]; then
        echo "with-cups: the stack options must end with '--' before the command" >&2
        exit 2
    fi
    shift # the --
fi
if [[ $# -eq 0 ]]; then
    echo "with-cups: no command to run" >&2
    exit 2
fi

# One stack at a time on this machine.  fd 9 is closed for everything we
# start, so cupsd never inherits (and keeps) the lock.
lock="${TMPDIR:-/tmp}/libidm-cups-stack-$(id -u).lock"
exec 9>>"$lock"
if ! flock -w "${IDM_CUPS_LOCK_WAIT:-300}" 9; then
    echo "with-cups: another CUPS stack held $lock for ${IDM_CUPS_LOCK_WAIT:-300} s" >&2
    exit 99
fi

export CUPS_STACK_DIR
CUPS_STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/libidm-with-cups.XXXXXX")
child=""

cleanup() {
    if [[ -n $child ]] && kill -0 "$child" 2> /dev/null; then
        kill -TERM "$child" 2> /dev/null
        wait "$child" 2> /dev/null
    fi
    bash "$stack" stop 9>&- >&2
    rm -rf "$CUPS_STACK_DIR"
}
trap cleanup EXIT
# Killed (meson's timeout, Ctrl-C): stop the command, then the stack (EXIT).
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

start_log="$CUPS_STACK_DIR.start.out"
if ! bash "$stack" start "${options[@]}" 9>&- > "$start_log" 2>&1; then
    cat "$start_log" >&2
    rm -f "$start_log"
    echo "with-cups: the CUPS stack did not start; its log:" >&2
    tail -n 20 "$CUPS_STACK_DIR/log/error_log" >&2 2> /dev/null
    exit 99
fi
cat "$start_log" >&2
rm -f "$start_log"

unset IDM_TEST_CUPS_SERVER IDM_TEST_CUPS_SOCKET IDM_TEST_CUPS_QUEUE IDM_TEST_CUPS_OUT \
    IDM_TEST_CUPS_BROKEN_QUEUE IDM_TEST_CUPS_PAUSED_QUEUE IDM_TEST_CUPS_REJECTING_QUEUE
if ! assignments=$(bash "$stack" env 9>&-); then
    echo "with-cups: the stack started but cannot say its queues" >&2
    exit 99
fi
while IFS='=' read -r name value; do
    [[ $name == IDM_TEST_CUPS_* ]] && export "$name=$value"
done <<< "$assignments"
export IDM_TEST_CUPS_STACK="$stack"
if [[ -z ${IDM_TEST_CUPS_QUEUE:-} ]]; then
    echo "with-cups: the stack has no cups-pdf queue:" >&2
    echo "$assignments" >&2
    exit 99
fi

# In the background, so that a TERM to this script is acted on at once
# rather than after the command ends; stdin is handed over explicitly.
"$@" 9>&- <&0 &
child=$!
wait "$child"
status=$?
child=""
exit "$status"
