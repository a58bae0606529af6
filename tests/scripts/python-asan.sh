#!/usr/bin/env bash
# Runs a Python command against the ASan+UBSan build of libidm and fails on
# any memory error, and on any leak attributable to libidm.
# Usage: python-asan.sh LIBIDM_SO -- PYTHON ARGS...
#   e.g. python-asan.sh build-asan/src/libidm.so -- python3 -m unittest discover \
#          -s bindings/python/tests      (with PYTHONPATH=bindings/python)
#
# PYTHON runs as "PYTHON -X dev ARGS" with IDM_LIBRARY=LIBIDM_SO and the
# compiler's libasan preloaded (Python itself is not instrumented), Python's
# allocator on malloc with the debug hooks of -X dev kept (PYTHONMALLOC=
# malloc_debug), so ASan sees Python's heap as well as the library's.  Every
# process of the run writes its ASan report to a file of its own in a
# temporary folder (log_path; ASan appends the program name and the pid), the
# child Pythons the tests start included; stderr is kept too, for UBSan (GCC's
# libubsan writes to stderr whatever log_path says).
#
# The criterion (tests/scripts/asan-report.py reads the reports):
#   - any memory error or UBSan runtime error, in any process, fails;
#   - a leak fails when its allocation stack has a frame in LIBIDM_SO: a
#     handle the bindings never freed, or an OpenSSL or SQLite object libidm
#     allocated and never freed; these are printed in full;
#   - what CPython (and tools the tests run, like openssl) leak of their own
#     at exit is not ours: counted in one summary line only.
# The command's own exit status counts as well.  A memory error aborts its
# process (abort_on_error=1); leaks never change an exit status (exitcode=0),
# so a test that starts a child Python need not turn leak checking off.
# On failure the reports stay in the folder the script names.
# Environment: CC (default cc) gives the compiler whose libasan is preloaded;
# ASAN_OPTIONS / UBSAN_OPTIONS of the caller are added to the script's own.
set -euo pipefail

usage() {
  echo "usage: python-asan.sh LIBIDM_SO -- PYTHON ARGS..." >&2
  exit 2
}
die() {
  echo "python-asan.sh: $*" >&2
  exit 1
}
if [ $# -lt 3 ] || [ "$2" != "--" ]; then
  usage
fi
lib=$1
shift 2
python=$1
shift
here=$(cd "$(dirname "$0")" && pwd)

[ -f "$lib" ] || die "$lib: no such library"
lib=$(readlink -f "$lib")
# (no grep -q: nm would die of SIGPIPE and pipefail fail the test)
nm -D --undefined-only "$lib" | grep ' __asan_' >/dev/null ||
  die "$lib is not built with AddressSanitizer (configure with -Db_sanitize=address,undefined)"

# The ASan runtime must come first in the process: preload the compiler's.
# GCC's libidm needs libasan.so; clang's links no runtime and takes its
# shared one, libclang_rt.asan-ARCH.so.
read -r -a cc <<<"${CC:-cc}"  # may be several words ("ccache cc")
runtimes=(libasan.so "libclang_rt.asan-$(uname -m).so")
if ! readelf -d "$lib" | grep 'NEEDED.*\[libasan\.so' >/dev/null; then
  runtimes=("${runtimes[1]}" "${runtimes[0]}")
fi
asan=
for name in "${runtimes[@]}"; do
  candidate=$("${cc[@]}" -print-file-name="$name" 2>/dev/null) || continue
  if [ "${candidate#/}" != "$candidate" ] && [ -e "$candidate" ]; then
    asan=$(readlink -f "$candidate")
    break
  fi
done
[ -n "$asan" ] || die "${cc[*]} has no ASan runtime ('${cc[*]} -print-file-name=libasan.so' finds none; install gcc's libasan)"

# Run the interpreter itself, not a wrapper script (pyenv shims, venvs):
# a wrapper would run under ASan too and add its own exit reports.
python=$(command -v "$python") || die "$python: command not found"
real_python=$("$python" -c 'import sys; print(sys.executable)') ||
  die "$python does not run"

logs=$(mktemp -d "${TMPDIR:-/tmp}/python-asan.XXXXXX")
asan_options="detect_leaks=1:abort_on_error=1:halt_on_error=1:exitcode=0"
# Slow (DWARF) unwinding: OpenSSL, SQLite and libffi keep no frame pointers,
# so the fast unwinder stops inside them and an OpenSSL object libidm leaked
# would look like CPython's.  A leak counts as libidm's only if its stack
# reaches a libidm frame; 30 frames (ASan's default) reach it from the
# deepest OpenSSL allocation seen (frame 18, key generation).  This is what
# makes the run slow: every malloc and free of Python is unwound too.
asan_options+=":fast_unwind_on_malloc=0:malloc_context_size=30"
asan_options+=":detect_stack_use_after_return=1:print_cmdline=1"
# Every frame names its module, symbolized or not (the report reads it).
asan_options+=":stack_trace_format='    #%n %p %F %L <%m+%o>'"
asan_options+="${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
asan_options+=":log_path=$logs/asan:log_exe_name=1"
ubsan_options="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
symbolizer=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer || true)}

echo "python-asan: $real_python -X dev $* (libidm $lib, preloading $asan, reports in $logs)"
set +e
{
  env IDM_LIBRARY="$lib" LD_PRELOAD="$asan${LD_PRELOAD:+:$LD_PRELOAD}" \
    PYTHONMALLOC=malloc_debug ASAN_OPTIONS="$asan_options" UBSAN_OPTIONS="$ubsan_options" \
    ${symbolizer:+ASAN_SYMBOLIZER_PATH="$symbolizer"} \
    "$real_python" -X dev "$@" 2>&1 1>&3 3>&- | tee "$logs/stderr" >&2
  rc=${PIPESTATUS[0]}
} 3>&1
"$real_python" "$here/asan-report.py" --library "$lib" "$logs"
report=$?
set -e

if [ "$rc" -ne 0 ]; then
  echo "python-asan: FAIL: the command exited with status $rc" >&2
fi
if [ "$rc" -ne 0 ] || [ "$report" -ne 0 ]; then
  echo "python-asan: reports kept in $logs" >&2
  exit 1
fi
rm -rf "$logs"
