#!/usr/bin/env bash
# Sets up this machine and runs libidm's main job.  For now the library's
# foundation: build, then run the version example, which prints the library
# version and shows the clean error a bad argument gets.
# Usage: bash scripts/demo.sh   (as root, or with sudo available)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh
if [ -e build/build.ninja ]; then
  meson setup --reconfigure build >/dev/null
else
  meson setup build >/dev/null
fi
meson compile -C build >/dev/null
./build/examples/idm-example-version
