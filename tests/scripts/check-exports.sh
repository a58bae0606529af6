#!/usr/bin/env bash
# Proves that the shared library exports exactly the symbols of the linker
# map, each under the version node the map gives it, that all of them are
# idm_ names, and that each is declared in the public headers.
# Usage: check-exports.sh LIBRARY MAP CC INCLUDE_DIR...
set -euo pipefail
lib=$1 map=$2 cc=$3
shift 3
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# nm prints "name@@VERSION" for a default-versioned symbol.  The version
# definition itself (IDM_1.0, an absolute symbol) is not a function.
nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | sort > "$tmp/exported"
bash "$here/map-symbols.sh" "$map" | awk '{ print $1 "@@" $2 }' | sort > "$tmp/expected"

if [ ! -s "$tmp/exported" ]; then
  echo "FAIL: $lib exports no symbols"
  exit 1
fi
if ! diff -u "$tmp/expected" "$tmp/exported" > "$tmp/diff"; then
  echo "FAIL: exports of $lib differ from $map ('-' only in map, '+' only in library):"
  grep -E '^[-+][^-+]' "$tmp/diff" || true
  fail=1
fi
if grep -v '^idm_' "$tmp/exported" > "$tmp/foreign"; then
  echo "FAIL: symbols outside the idm_ namespace are exported:"
  cat "$tmp/foreign"
  fail=1
fi
if grep -v '@@IDM_[0-9]' "$tmp/exported" > "$tmp/unversioned"; then
  echo "FAIL: symbols without an IDM_x.y version:"
  cat "$tmp/unversioned"
  fail=1
fi

# Declared in a public header: taking the address of an undeclared name is a
# compile error, so one translation unit checks every symbol at once.
{
  echo '#include <idm/idm.h>'
  echo 'void idm_export_check(void);'
  echo 'void idm_export_check(void) {'
  sed 's/@@.*//' "$tmp/exported" | while read -r sym; do echo "    (void)&$sym;"; done
  echo '}'
} > "$tmp/declared.c"
incs=()
for d in "$@"; do incs+=("-I$d"); done
if ! $cc -std=c99 -Werror -Wall -fsyntax-only "${incs[@]}" "$tmp/declared.c" 2> "$tmp/cc.err"; then
  echo "FAIL: exported symbols not declared by <idm/idm.h>:"
  grep -E "undeclared|error" "$tmp/cc.err" || cat "$tmp/cc.err"
  fail=1
fi

count=$(wc -l < "$tmp/exported")
if [ "$fail" -eq 0 ]; then
  echo "ok: $count symbols exported, all idm_, all versioned, equal to the map, all declared"
fi
exit "$fail"
