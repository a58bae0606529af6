#!/usr/bin/env bash
# Runs libidm's fuzz targets (fuzz/fuzz_*.c) with libFuzzer, each for a
# given time, and prints their figures: a table of seconds, executions,
# executions per second, coverage (cov, ft), corpus size and findings.
#
#   bash scripts/fuzz.sh [--seconds N] [--build DIR] [TARGET...]
#
# N defaults to 60 per target; TARGET defaults to every target.  The build
# (DIR, default build-fuzz) is clang with ASan+UBSan and -Dfuzzing=true.
# Each target starts from its seed corpus, fuzz/corpus/<target>/, and grows
# a working corpus of its own in DIR/corpus/<target>/, kept between runs.
# A finding (crash, leak, sanitizer report, a broken property) is written to
# DIR/findings/<target>-crash-... and the script exits 1; to keep it as a
# regression test, minimize it and copy it into fuzz/corpus/<target>/ with
# a name that says what it was (meson test replays those folders):
#   DIR/fuzz/fuzz_<target> -minimize_crash=1 -runs=10000 DIR/findings/<file>
# Installs its Debian packages first (scripts/install-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=60
build=build-fuzz
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --build) build=${2:?--build needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds '$seconds' is not a number" >&2; exit 2; }

bash scripts/install-deps.sh >/dev/null
if [ ! -e "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized -Dtests=false -Dexamples=false -Dtools=false -Dbench=false \
    -Dpython=false >/dev/null
else
  meson setup --reconfigure "$build" >/dev/null
fi
meson compile -C "$build" >/dev/null

if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.c; do
    t=$(basename "$f" .c)
    targets+=("${t#fuzz_}")
  done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# fontconfig's one leak per process (the layout target renders text)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp}
mkdir -p "$build/findings"
printf '%-15s %8s %12s %9s %7s %7s %7s %9s\n' target seconds execs exec/s cov ft corpus findings
found=0
for t in "${targets[@]}"; do
  exe="$build/fuzz/fuzz_$t"
  [ -x "$exe" ] || { echo "fuzz.sh: no target '$t' ($exe)" >&2; exit 2; }
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  log="$build/fuzz-$t.log"
  status=0
  "$exe" -max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048 \
    -artifact_prefix="$build/findings/$t-" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true) # none when it stopped at once
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  findings=$(find "$build/findings" -name "$t-*" | wc -l)
  printf '%-15s %8s %12s %9s %7s %7s %7s %9s\n' "$t" "$seconds" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$findings"
  if [ "$status" -ne 0 ] || [ "$findings" -gt 0 ]; then
    found=1
    echo "fuzz.sh: $t found something (exit $status); the log: $log" >&2
    grep -E "ERROR|SUMMARY|==[0-9]+==|Test unit written" "$log" | head -n 5 >&2 || true
  fi
done
exit "$found"
