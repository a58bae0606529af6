#!/usr/bin/env bash
# Prints the symbols that src/libidm.map exports, one per line, as
# "name VERSION_NODE" (e.g. "idm_ctx_new IDM_1.0"), sorted by name.
# Usage: map-symbols.sh MAP
set -euo pipefail
map=$1
# Drop comments, then walk the nodes: "IDM_1.0 {" opens one, "global:" and
# "local:" switch sections, "}" closes it.
sed -e 's:/\*.*\*/::g' -e '/\/\*/,/\*\//d' "$map" | awk '
  /^[[:space:]]*IDM_[0-9.]+[[:space:]]*\{/ { node = $1; sub(/\{.*/, "", node); section = ""; next }
  /global:/ { section = "global"; next }
  /local:/  { section = "local"; next }
  /\}/      { node = ""; next }
  section == "global" && node != "" {
    gsub(/[[:space:];]/, "")
    if ($0 != "") print $0, node
  }' | sort
