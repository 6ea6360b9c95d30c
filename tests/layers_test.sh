#!/usr/bin/env bash
# Fails if a lower layer includes a higher one (docs/ARCHITECTURE.md,
# "Layers"). Reads the #include lines of every source and header.
#
#   layers_test.sh SOURCE_ROOT
#
# Layers, lowest first; a file may include its own layer and lower ones:
#   sync-core: base < clock < change < crypto < schema < merge < store < report < sync
#   proto (and the generated fieldsync/ headers) < node, hub (peers: neither
#   includes the other) < tools
# The known violations are listed below with the issue that removes them; a
# new one fails, and so does an exception that no longer occurs (so that the
# list shrinks as they are fixed).
set -euo pipefail
root=$1
cd "$root"

rank_of_dir() {  # the layer of a file, by its path
  case "$1" in
    sync-core/base/*) echo 0 ;; sync-core/clock/*) echo 1 ;; sync-core/change/*) echo 2 ;;
    sync-core/crypto/*) echo 3 ;; sync-core/schema/*) echo 4 ;; sync-core/merge/*) echo 5 ;;
    sync-core/store/*) echo 6 ;; sync-core/report/*) echo 7 ;; sync-core/sync/*) echo 8 ;;
    proto/*) echo 10 ;; node/*) echo 11 ;; hub/*) echo 11 ;; tools/*) echo 12 ;;
    *) echo "" ;;
  esac
}
rank_of_include() {  # the layer of an included header, by its first component
  case "$1" in
    base/*) echo 0 ;; clock/*) echo 1 ;; change/*) echo 2 ;; crypto/*) echo 3 ;;
    schema/*) echo 4 ;; merge/*) echo 5 ;; store/*) echo 6 ;; report/*) echo 7 ;;
    sync/*) echo 8 ;; proto/* | fieldsync/*) echo 10 ;; node/*) echo 11 ;; hub/*) echo 11 ;;
    tools/*) echo 12 ;; *) echo "" ;;
  esac
}

# FILE:HEADER, each with why it is still there.
exceptions=(
  # issue 12 point 5: text/ (ICU) as its own library; the hub links node's.
  "hub/commands/command.cc:node/text.h"
  "hub/commands/province.cc:node/text.h"
)

fail=0
seen=()
files=$(find sync-core proto node hub tools \( -name '*.cc' -o -name '*.h' \) -not -path '*/fuzz/*' | sort)
for f in $files; do
  fr=$(rank_of_dir "$f")
  [ -z "$fr" ] && continue
  top=${f%%/*}
  while IFS= read -r inc; do
    ir=$(rank_of_include "$inc")
    [ -z "$ir" ] && continue
    bad=0
    if [ "$ir" -gt "$fr" ]; then bad=1; fi
    # node and hub are peers: neither includes the other.
    if [ "$ir" = 11 ] && [ "$fr" = 11 ] && [ "${inc%%/*}" != "$top" ]; then bad=1; fi
    [ "$bad" = 0 ] && continue
    key="$f:$inc"
    if printf '%s\n' "${exceptions[@]}" | grep -qxF "$key"; then
      seen+=("$key")
      continue
    fi
    echo "FAIL: $f (layer $fr) includes $inc (layer $ir)"
    fail=1
  done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/p' "$f")
done
for e in "${exceptions[@]}"; do
  if ! printf '%s\n' "${seen[@]}" | grep -qxF "$e"; then
    echo "FAIL: the listed exception $e no longer occurs: remove it from $0"
    fail=1
  fi
done
[ "$fail" = 0 ] && echo "ok: no layer includes a higher one (${#exceptions[@]} listed exceptions)"
exit "$fail"
