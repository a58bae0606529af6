#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR, then builds and runs a program
# against it with nothing but `pkg-config --cflags --libs idm`, once linked
# to the shared library and once statically with `pkg-config --static`.
# Also checks that the dependencies appear in idm.pc only as private ones.
# Usage: check-install.sh BUILD_DIR CONSUMER_SOURCE CC
set -euo pipefail
build=$1 consumer=$2 cc=$3
destdir=$(mktemp -d)
trap 'rm -rf "$destdir"' EXIT

meson install -C "$build" --destdir "$destdir" --no-rebuild --quiet

pcfile=$(find "$destdir" -name idm.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pcfile" ] || { echo "FAIL: idm.pc was not installed"; exit 1; }
pcdir=$(dirname "$pcfile")
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$destdir"

for dep in libcrypto libpcsclite sqlite3 uuid; do
  if grep -E '^Requires:' "$pcfile" | grep -qw "$dep"; then
    echo "FAIL: $dep is a public requirement in idm.pc; it must be Requires.private"; exit 1
  fi
  grep -E '^Requires.private:' "$pcfile" | grep -qw "$dep" ||
    { echo "FAIL: $dep missing from Requires.private in idm.pc"; exit 1; }
done
if pkg-config --libs idm | grep -qE -- '-l(crypto|pcsclite|sqlite3|uuid)'; then
  echo "FAIL: pkg-config --libs idm leaks private libraries: $(pkg-config --libs idm)"; exit 1
fi

libdir=$(dirname "$pcdir")
for f in libidm.so.1 libidm.a; do
  [ -e "$libdir/$f" ] || { echo "FAIL: $f not installed in $libdir"; exit 1; }
done

# shellcheck disable=SC2046
$cc -o "$destdir/consumer" "$consumer" $(pkg-config --cflags --libs idm)
LD_LIBRARY_PATH="$libdir" "$destdir/consumer"
# Not `ldd | grep -q`: grep quits at the first match, ldd may then die of
# SIGPIPE, and pipefail calls the pipeline failed (seen in CI).
linked=$(LD_LIBRARY_PATH="$libdir" ldd "$destdir/consumer" 2>&1) || true
if ! grep -q "libidm.so.1 => $libdir/libidm.so.1" <<< "$linked"; then
  echo "FAIL: consumer is not linked to the installed libidm.so.1 in $libdir; ldd says:"
  printf '%s\n' "$linked"; exit 1
fi

# shellcheck disable=SC2046
$cc -o "$destdir/consumer-static" "$consumer" $(pkg-config --cflags idm) \
    -Wl,-Bstatic $(pkg-config --libs-only-L idm) -lidm -Wl,-Bdynamic \
    $(pkg-config --static --libs-only-l idm | sed 's/-lidm//')
"$destdir/consumer-static"
if ldd "$destdir/consumer-static" | grep -q libidm; then
  echo "FAIL: the static consumer still needs libidm.so"; exit 1
fi
echo "ok: installed into DESTDIR, consumer built with pkg-config (shared and static) and ran"
