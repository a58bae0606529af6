#!/usr/bin/env bash
# The idm tool answers a wrong command line with exit code 2 and names the
# offending word on stderr, printing nothing on stdout.
# Usage: check-idm-usage.sh IDM_BINARY
set -uo pipefail
idm=$1
fail=0
check() { # expected-status expected-stderr-substring args...
  local want=$1 needle=$2
  shift 2
  local out err status
  out=$("$idm" "$@" 2>/tmp/idm-usage-err.$$); status=$?
  err=$(cat /tmp/idm-usage-err.$$); rm -f /tmp/idm-usage-err.$$
  if [ "$status" -ne "$want" ] || [[ $err != *"$needle"* ]] || [ -n "$out" ]; then
    echo "FAIL: idm $*: status $status (want $want), stderr '$err', stdout '$out'"
    fail=1
  else
    echo "ok: idm $* -> $status: $err"
  fi
}
check 2 "unknown command 'frobnicate'" frobnicate
check 2 "unexpected argument 'extra'" version extra
check 2 "usage: idm"
exit "$fail"
