#!/usr/bin/env bash
# The load test of issue 10, long: worker processes of several threads,
# each thread with its own context on one SQLite store, producing and
# ordering through the public API for a bounded time; then no lost update,
# no deadlock, no SQLITE_BUSY reaching a caller, every card produced once,
# the store's invariants and the audit chain (tests/reliability/load/).
#
#   bash scripts/load.sh [--seconds N] [--processes P] [--threads T]
#                        [--stall S] [--seed N] [--keep] [--build DIR]
#
# N defaults to 300 seconds, P to 4 processes, T to 3 threads; S (30) is
# how long a thread may go without progress before the watchdog calls it a
# deadlock.  The build (DIR, default build-load) is made when missing
# (-Dwerror=true, debugoptimized, like the main CI build).  The run's
# folder (store, spools, one log per worker) is DIR/load-tmp/load-XXXXXX;
# it is removed when every check passes, unless --keep.  Prints TAP; the
# figures (operations per kind and per second, refusals, the slowest call
# of each kind, cards through each workflow, the bureau's counts) are TAP
# comments.  The meson test `load` runs the same program for 8 s with 3
# processes of 2 threads.  Installs its Debian packages first
# (scripts/install-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=300
processes=4
threads=3
build=build-load
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --processes) processes=${2:?--processes needs a number}; shift 2 ;;
    --threads) threads=${2:?--threads needs a number}; shift 2 ;;
    --stall) extra+=(--stall "${2:?--stall needs a number}"); shift 2 ;;
    --seed) extra+=(--seed "${2:?--seed needs a number}"); shift 2 ;;
    --keep) extra+=(--keep); shift ;;
    --build) build=${2:?--build needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "load.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for n in "$seconds" "$processes" "$threads"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "load.sh: '$n' is not a number" >&2; exit 2; }
done

bash scripts/install-deps.sh >/dev/null
if [ ! -e "$build/build.ninja" ]; then
  meson setup "$build" -Dwerror=true -Dexamples=false -Dtools=false -Dbench=false \
    -Dpython=false >/dev/null
fi
meson compile -C "$build" load check_store >/dev/null

mkdir -p "$build/load-tmp"
IDM_TEST_TMPDIR=$(cd "$build/load-tmp" && pwd) exec "$build/tests/reliability/load/load" \
  --check-store "$build/tests/check_store" --seconds "$seconds" --processes "$processes" \
  --threads "$threads" "${extra[@]}"
