#!/usr/bin/env bash
# The negative control of tests/scripts/python-asan.sh: the Python ASan run
# must fail, naming the culprit, on each fault it exists to catch, and pass
# on what is not libidm's.  Each case is a small Python program run through
# python-asan.sh against the ASan build of libidm (the library through
# ctypes directly: importing the idm package under slow unwinding costs ~10 s).
#   - a context never freed                       -> fails: leak from libidm
#   - an OpenSSL object libidm allocated, leaked  -> fails: the leak's stack
#     runs through libcrypto back to libidm (slow unwinding works)
#   - a leak in a child Python the program runs   -> fails, though the child
#     exits 0 (every process writes its own report)
#   - idm_ctx_free twice on a copied pointer      -> fails: heap-use-after-free
#   - a misaligned handle                         -> fails: UBSan runtime error
#   - a clean run, plus memory Python leaks by
#     itself (libc malloc through ctypes)         -> passes, counted apart
# Usage: check-python-asan.sh LIBIDM_SO PYTHON
set -euo pipefail
lib=$1 python=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# python-asan.sh keeps the reports of a failed run: here, in $tmp.
export TMPDIR=$tmp
fail=0

# Every program starts with this: the library as the script loads it.
prelude='
import ctypes, os, subprocess, sys
lib = ctypes.CDLL(os.environ["IDM_LIBRARY"])
P = ctypes.POINTER(ctypes.c_void_p)
lib.idm_ctx_new.argtypes = [P]
lib.idm_ctx_free.argtypes = [P]
lib.idm_ctx_set_log_level.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.idm_ca_new_openssl.argtypes = [P, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p,
                                   ctypes.c_int]
lib.idm_ca_free.argtypes = [P]
def new_ctx():
    ctx = ctypes.c_void_p()
    assert lib.idm_ctx_new(ctypes.byref(ctx)) == 0
    return ctx
'

# case NAME EXPECT(pass|fail) PROGRAM PATTERN...: each PATTERN (grep -E) must
# be in the output; a pattern starting with ! must not.
case_() {
  local name=$1 expect=$2 program=$3
  shift 3
  local out="$tmp/$name.out" rc=0
  bash "$here/python-asan.sh" "$lib" -- "$python" -c "$prelude$program" >"$out" 2>&1 || rc=$?
  local ok=1
  if [ "$expect" = pass ] && [ "$rc" -ne 0 ]; then ok=0; fi
  if [ "$expect" = fail ] && [ "$rc" -eq 0 ]; then ok=0; fi
  local pattern
  for pattern in "$@"; do
    if [ "${pattern#!}" != "$pattern" ]; then
      if grep -Eq -- "${pattern#!}" "$out"; then
        echo "  output has /${pattern#!}/"
        ok=0
      fi
    elif ! grep -Eq -- "$pattern" "$out"; then
      echo "  output lacks /$pattern/"
      ok=0
    fi
  done
  if [ "$ok" -eq 1 ]; then
    echo "ok: $name ($expect, status $rc): $(grep '^python_asan: [0-9]' "$out" || true)"
  else
    echo "FAIL: $name: expected the run to $expect, it exited $rc; its output:"
    sed 's/^/  | /' "$out"
    fail=1
  fi
}

case_ leaked_context fail '
ctx = new_ctx()
' 'LEAK FROM LIBIDM' 'in idm_ctx_new ' '^python_asan: 0 errors, 1 leaks from libidm'

# The CA's key and certificate are allocated inside libcrypto: frame #1 of
# such a leak is an OpenSSL allocator, and it still counts as libidm's (with
# fast unwinding the stack would stop in libcrypto, and it would not).
case_ leaked_openssl_objects fail '
ctx = new_ctx()
ca = ctypes.c_void_p()
assert lib.idm_ca_new_openssl(ctypes.byref(ca), ctx, 0, b"Leaked CA", 30) == 0
lib.idm_ctx_free(ctypes.byref(ctx))
' 'LEAK FROM LIBIDM' 'in idm_ca_new_openssl ' '#1 0x[0-9a-f]+ in CRYPTO_(malloc|zalloc)'

case_ leak_in_child fail '
child = subprocess.run([sys.executable, "-c", """
import ctypes, os
lib = ctypes.CDLL(os.environ["IDM_LIBRARY"])
ctx = ctypes.c_void_p()
lib.idm_ctx_new(ctypes.byref(ctx))
"""], capture_output=True, text=True)
sys.exit(0 if (child.returncode, child.stderr) == (0, "") else f"child: {child}")
' 'LEAK FROM LIBIDM' 'in idm_ctx_new ' '!the command exited'

case_ double_free fail '
ctx = new_ctx()
copy = ctypes.c_void_p(ctx.value)
lib.idm_ctx_free(ctypes.byref(ctx))
lib.idm_ctx_free(ctypes.byref(copy))
' 'MEMORY ERROR' 'AddressSanitizer: heap-use-after-free' 'in idm_ctx_free ' \
  'the command exited with status'

case_ misaligned_handle fail '
ctx = new_ctx()
lib.idm_ctx_set_log_level(ctypes.c_void_p(ctx.value + 1), 1)
lib.idm_ctx_free(ctypes.byref(ctx))
' 'MEMORY ERROR' 'runtime error: member access within misaligned address' \
  'in idm_ctx_set_log_level '

case_ clean_and_python_leak pass '
ctx = new_ctx()
lib.idm_ctx_free(ctypes.byref(ctx))
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
for _ in range(8):
    libc.malloc(1000)
' '^python_asan: 0 errors, 0 leaks from libidm; [1-9][0-9]* bytes in [1-9][0-9]* allocations' \
  '!LEAK FROM LIBIDM'

if [ "$fail" -ne 0 ]; then
  echo "FAIL: python-asan.sh missed what it must catch, or failed what it must pass"
  exit 1
fi
echo "python-asan.sh catches every fault of the control"
