#!/usr/bin/env bash
# Proves that scripts/abi-check.sh guards the ABI: in a scratch copy of the
# tree, it breaks the ABI in the ways a careless change would and expects
# each to fail with the right verdict, while a change to a private struct
# passes and an appended function is accepted only by --update.
# Usage: check-abi-guard.sh SOURCE_ROOT
set -euo pipefail
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree="$work/tree"
mkdir -p "$tree"
cp -r "$src/include" "$src/src" "$src/abi" "$src/scripts" "$src/bindings" "$src/doc" \
      "$src/meson.build" "$src/meson_options.txt" "$src/idm.pc.in" "$tree/"
cp -r "$tree" "$work/pristine"

if ! meson setup "$work/build" "$tree" -Dtests=false -Dexamples=false -Dtools=false \
      -Dpython=false -Dbench=false > "$work/setup.log" 2>&1; then
  echo "FAIL: cannot configure the scratch copy:"
  tail -n 20 "$work/setup.log"
  exit 1
fi
lib="$work/build/src/libidm.so.1"
fail=0

# expect NAME VERDICT_PATTERN [--update]: rebuild, run the check, restore.
expect() {
  local name=$1 pattern=$2
  shift 2
  ninja -C "$work/build" >/dev/null
  local out status=0
  out=$(bash "$tree/scripts/abi-check.sh" "$@" "$lib" 2>&1) || status=$?
  if printf '%s\n' "$out" | grep -qE "$pattern"; then
    echo "ok: $name -> $(printf '%s\n' "$out" | grep -E "$pattern" | head -n 1)"
  else
    echo "FAIL: $name: expected /$pattern/, got (status $status):"
    printf '%s\n' "$out" | tail -n 5
    fail=1
  fi
  rm -rf "$tree/include" "$tree/src" "$tree/abi"
  cp -r "$work/pristine/include" "$work/pristine/src" "$work/pristine/abi" "$tree/"
}

expect "unchanged tree" '^ok: ABI'

sed -i 's/    uint32_t magic;/    uint32_t magic;\n    char added_private_field[64];/' "$tree/src/core/context_impl.h"
expect "private struct grows" '^ok: ABI'

sed -i 's/int idm_ctx_now(idm_ctx_t \*ctx, int64_t \*out_ms)/int idm_ctx_now(idm_ctx_t *ctx, int32_t *out_ms)/' \
    "$tree/include/idm/context.h" "$tree/src/core/context.c"
expect "parameter type changed" '^FAIL: existing functions or types changed'

sed -i 's/IDM_LOG_DEBUG = 3/IDM_LOG_DEBUG = 4/' "$tree/include/idm/context.h"
expect "enumerator renumbered" '^FAIL: existing functions or types changed'

sed -i 's/IDM_LOG_DEBUG = 3/IDM_LOG_DEBUG = 4/' "$tree/include/idm/context.h"
expect "renumbering refused by --update" '^FAIL: existing functions or types changed' --update

sed -i '/^    idm_ctx_now;/d' "$tree/src/libidm.map"
expect "function removed" '^FAIL: incompatible ABI change'

append_function() {
  printf 'IDM_EXPORT int idm_guard_probe(void);\nIDM_EXPORT int idm_guard_probe(void) { return 0; }\n' \
    >> "$tree/src/core/version.c"
  sed -i 's/^    idm_version_string;/    idm_version_string;\n    idm_guard_probe;/' "$tree/src/libidm.map"
  sed -i 's/^const char \*idm_version_string(void);/const char *idm_version_string(void);\nint idm_guard_probe(void);/' \
    "$tree/include/idm/version.h.in"
}
append_function
expect "function appended, baseline stale" '^FAIL: functions were added'
append_function
expect "function appended, --update" '^baseline refreshed: functions appended' --update

exit "$fail"
