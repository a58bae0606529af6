#!/usr/bin/env bash
# Installs every build and test dependency of libidm from Debian's packages.
# Idempotent and non-interactive; run as root (or through sudo) on Debian 12.
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config
  # libraries the library links (private requirements in idm.pc)
  libssl-dev libpcsclite-dev libsqlite3-dev uuid-dev
  # card faces: layouts rendered with cairo and pango (DejaVu fonts), QR
  # codes, JPEG photos, printing through CUPS
  libcairo2-dev libpango1.0-dev libqrencode-dev libjpeg-dev libcups2-dev libfontconfig-dev
  fonts-dejavu-core
  # tests
  check valgrind abigail-tools binutils g++ clang python3 sqlite3 openssl python3-cryptography
  # the docs test formats the man pages (man --warnings)
  man-db
  # the PC/SC stack the card tests run on, and software that reads the cards
  pcscd vsmartcard-vpcd opensc pcsc-tools procps util-linux
  # the print tests: a CUPS scheduler of their own with a cups-pdf queue,
  # poppler's pdfinfo/pdftotext to read what it printed, and zbarimg to read
  # the rendered barcodes back
  cups-daemon cups-client cups-filters ghostscript printer-driver-cups-pdf poppler-utils
  zbar-tools
)

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -E bash "$0" "$@"
  fi
  echo "install-deps.sh: must run as root to install Debian packages" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps.sh: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
