#!/usr/bin/env bash
# Runs the fault sweep (tests/reliability/fault/fault_sweep.c) over every
# call, or a sample of them, under ASan+UBSan (LeakSanitizer checks each
# run), on a PC/SC test stack of its own, and prints its TAP with the
# figures: for each workflow and kind of fault, the calls, the faults
# swept, how many surfaced as errors and how many were absorbed, the time.
#
#   bash scripts/fault-sweep.sh [--budget N | --full] [--build DIR]
#                               [FAULT_SWEEP_OPTIONS...]
#
# --full (the default) fails every call once: tens of thousands of runs,
# about an hour.  --budget N fails N calls per workflow and kind, evenly
# spread (CI's test fault_sweep runs --budget 12).  The build (DIR, default
# build-asan, shared with scripts/test.sh) is made when missing.  Other
# options go to fault_sweep: --kind alloc|openssl|sqlite_io|sqlite_mem|pcsc,
# --workflow mass_production|external, --at N (one fault), --seed S, --keep.
# Installs its Debian packages first (scripts/install-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

build=build-asan
args=()
sample=(--full)
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?--build needs a folder}; shift 2 ;;
    --budget) sample=(--budget "${2:?--budget needs a number}"); shift 2 ;;
    --full) sample=(--full); shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

bash scripts/install-deps.sh >/dev/null
if [ ! -e "$build/build.ninja" ]; then
  meson setup "$build" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized >/dev/null
fi
meson compile -C "$build" tests/reliability/fault/fault_sweep tests/check_store >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export IDM_TEST_STACK="$root/scripts/pcsc-stack.sh"
export IDM_TEST_TMPDIR="${TMPDIR:-/tmp}"
start=$(date +%s)
status=0
bash tests/vcard/with-stack.sh "$root" --hopper -- "$build/tests/reliability/fault/fault_sweep" \
  --check-store "$build/tests/check_store" "${sample[@]}" "${args[@]}" || status=$?
echo "# fault-sweep.sh: $(( $(date +%s) - start )) s, exit $status"
exit $status
