#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR, then builds and runs a program
# against it with nothing but `pkg-config --cflags --libs idm`, once linked
# to the shared library and once statically with `pkg-config --static`.
# Also checks that the dependencies appear in idm.pc only as private ones,
# and, given PYTHON, that the Python package was installed into that
# interpreter's site-packages and imports from there with the installed
# library (no IDM_LIBRARY, no build tree).
# Usage: check-install.sh BUILD_DIR CONSUMER_SOURCE CC [PYTHON]
set -euo pipefail
build=$1 consumer=$2 cc=$3 python=${4:-}
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
if [ -n "$python" ]; then
  purelib=$("$python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  capi=$(find "$destdir" -path '*/idm/_capi.py' | head -n 1)
  [ -n "$capi" ] || { echo "FAIL: the Python package idm was not installed"; exit 1; }
  site=$(dirname "$(dirname "$capi")")
  case $site in
    "$destdir"/*) ;;
    *) echo "FAIL: the Python package landed outside DESTDIR: $site"; exit 1 ;;
  esac
  # meson puts it in the interpreter's own site-packages (or its
  # distribution's dist-packages under the install prefix)
  if [ "${site#"$destdir"}" != "$purelib" ] && ! grep -q -- '-packages$' <<< "$site"; then
    echo "FAIL: idm went to ${site#"$destdir"}, not a site-packages directory"; exit 1
  fi
  loaded=$(cd "$destdir" && env -u IDM_LIBRARY PYTHONPATH="$site" LD_LIBRARY_PATH="$libdir" \
           "$python" -X dev -W error -c '
import idm, idm._capi as c
with open("/proc/self/maps") as f:
    maps = [line.split()[-1] for line in f if "libidm.so" in line]
print(idm.library_version(), idm.__file__, c.lib._name, sorted(set(maps))[0])') ||
    { echo "FAIL: the installed package does not import"; exit 1; }
  read -r version file lib mapped <<< "$loaded"
  case $file in
    "$site"/idm/__init__.py) ;;
    *) echo "FAIL: python imported idm from $file, not from $site"; exit 1 ;;
  esac
  [ "$lib" = libidm.so.1 ] ||
    { echo "FAIL: the installed package loaded $lib, not the system's libidm.so.1"; exit 1; }
  case $mapped in
    "$libdir"/libidm.so*) ;;
    *) echo "FAIL: the installed package mapped $mapped, not the library in $libdir"; exit 1 ;;
  esac
  echo "ok: the Python package imports from $site with libidm $version from $libdir"
fi

echo "ok: installed into DESTDIR, consumer built with pkg-config (shared and static) and ran"
