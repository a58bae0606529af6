#!/usr/bin/env bash
# Sets up this machine and runs every test of libidm: installs the Debian
# packages, builds with warnings as errors, then runs
#   1. every test in build/        (unit, tools, examples, Python, exports,
#                                   headers, install, ABI)
#   2. the unit tests with ASan+UBSan in build-asan/, the card tests on
#      the real PC/SC stack with the ASan build, and the Python tests with
#      that build's libidm and libasan preloaded (suite python-asan)
#   3. the unit tests under valgrind memcheck in build/
# and prints one closing line "Tests: N passed, N failed, N skipped".
# Usage: bash scripts/test.sh   (as root, or with sudo available)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh

# meson setup, or reconfigure an existing build dir with the same options.
configure() {
  local dir=$1
  shift
  if [ -e "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

status=0
started=$SECONDS
run() { # each phase with its time, so that the suite's long poles show
  local t0=$SECONDS
  echo "== $*"
  "$@" || status=1
  echo "== $(( SECONDS - t0 )) s: $*"
}

configure build -Dwerror=true -Dbuildtype=debugoptimized
run meson compile -C build
run meson test -C build --print-errorlogs

configure build-asan -Dwerror=true -Dbuildtype=debug \
  -Db_sanitize=address,undefined -Db_lundef=false
run meson compile -C build-asan
run meson test -C build-asan --setup asan --print-errorlogs
# The card tests run the ASan build inside their own wrapper (with-stack.sh),
# and the idm tool's tests run its ASan build from a script: the asan setup
# leaves both out; run them plainly here.
run meson test -C build-asan --suite vcard --suite tools --print-errorlogs
# The Python suite with libasan preloaded (tests/scripts/python-asan.sh), and
# its negative control; a log of its own, as the run above wrote testlog.json.
run meson test -C build-asan --suite python-asan --print-errorlogs \
  --logbase testlog-python-asan

run meson test -C build --setup valgrind --print-errorlogs

/usr/bin/python3 scripts/test-summary.py \
  build/meson-logs/testlog.json \
  build-asan/meson-logs/testlog-asan.json \
  build-asan/meson-logs/testlog.json \
  build-asan/meson-logs/testlog-python-asan.json \
  build/meson-logs/testlog-valgrind.json || status=1
echo "== the whole suite: $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
exit "$status"
