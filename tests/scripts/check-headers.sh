#!/usr/bin/env bash
# Every public header compiles on its own as strict C99 and as C++, the
# umbrella header includes them all, and none shows a struct body or a type
# of OpenSSL, PC/SC or SQLite.
# Also: no private header under src/ shares a file name with a public one,
# because libabigail tells public from private types by header file name.
# Usage: check-headers.sh CC CXX SOURCE_INCLUDE_DIR BUILD_INCLUDE_DIR SRC_DIR
set -euo pipefail
cc=$1 cxx=$2 src_inc=$3 build_inc=$4 src_dir=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
headers=()
for h in "$src_inc"/idm/*.h "$build_inc"/idm/*.h; do
  [ -e "$h" ] && headers+=("idm/$(basename "$h")")
done
if [ "${#headers[@]}" -lt 2 ]; then
  echo "FAIL: no public headers found under $src_inc/idm and $build_inc/idm"
  exit 1
fi

for h in "${headers[@]}"; do
  printf '#include <%s>\n' "$h" > "$tmp/t.c"
  # Included twice: the include guard must hold.
  printf '#include <%s>\n' "$h" >> "$tmp/t.c"
  if ! $cc -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only \
       -I"$src_inc" -I"$build_inc" -x c "$tmp/t.c" 2> "$tmp/err"; then
    echo "FAIL: $h alone is not strict C99:"; cat "$tmp/err"; fail=1
  fi
  if ! $cxx -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only \
       -I"$src_inc" -I"$build_inc" -x c++ "$tmp/t.c" 2> "$tmp/err"; then
    echo "FAIL: $h alone does not compile as C++:"; cat "$tmp/err"; fail=1
  fi
  path="$src_inc/$h"; [ -e "$path" ] || path="$build_inc/$h"
  if [ "$h" != idm/idm.h ] && ! grep -q "#include <$h>" "$src_inc/idm/idm.h"; then
    echo "FAIL: idm/idm.h does not include $h"; fail=1
  fi
  # A struct body would fix the layout in the ABI; only opaque typedefs.
  # The one exception is a table of methods: a backend's ops (idm_*_ops) or
  # a workflow's host hooks (idm_*_hooks), versioned and size-tagged so that
  # it can grow (doc/ABI.md); it must start with them.
  if grep -nE '^\s*(typedef\s+)?(struct|union)\s+\w*\s*\{' "$path" |
     grep -vE 'typedef struct idm_[a-z]+_(ops|hooks) \{'; then
    echo "FAIL: $h shows a struct or union body"; fail=1
  fi
  while read -r lineno; do
    next=$(sed -n "$((lineno + 1)),$((lineno + 2))p" "$path" | tr -s ' ' | sed 's/^ //')
    if ! printf '%s\n' "$next" | head -n 1 | grep -q '^uint32_t version;' ||
       ! printf '%s\n' "$next" | sed -n 2p | grep -q '^uint32_t size;'; then
      echo "FAIL: $h line $lineno: an ops table must begin with uint32_t version; uint32_t size;"
      fail=1
    fi
  done < <(grep -nE 'typedef struct idm_[a-z]+_(ops|hooks) \{' "$path" | cut -d: -f1)
  if grep -nE '#include\s*<(openssl/|winscard|pcsclite|reader\.h|sqlite3|uuid/)' "$path" ||
     grep -nwE 'SCARDHANDLE|SCARDCONTEXT|EVP_PKEY|X509|sqlite3|uuid_t' "$path"; then
    echo "FAIL: $h exposes a dependency's type or header"; fail=1
  fi
done

while read -r private; do
  if [ -e "$src_inc/idm/$(basename "$private")" ]; then
    echo "FAIL: $private has the name of public header idm/$(basename "$private");"
    echo "      rename it (e.g. *_impl.h) so the ABI check can tell private types apart"
    fail=1
  fi
done < <(find "$src_dir" -name '*.h')

[ "$fail" -eq 0 ] && echo "ok: ${#headers[@]} public headers: C99 -pedantic, C++, self-contained, opaque"
exit "$fail"
