#!/usr/bin/env bash
# Fails if a lower layer includes a higher one (docs/ARCHITECTURE.md,
# "Layers"). Reads the #include lines of every source and header.
#
#   layers_test.sh SOURCE_ROOT
#
# Layers, lowest first; a file may include its own layer and lower ones:
#   sync-core: base < clock < change < crypto < schema < merge < store < report < sync
#     (one CMake target each, fieldsync_NAME: sync-core/CMakeLists.txt)
#   sync-core/text (fieldsync_text, ICU): over base only; no engine layer
#     includes it
#   proto (and the generated fieldsync/ headers) < node, hub (peers: neither
#   includes the other) < tools
# Known violations go in `exceptions` below with the issue that removes them;
# a new one fails, and so does an exception that no longer occurs (so that
# the list shrinks as they are fixed).
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: layers_test.sh SOURCE_ROOT (the repository's top folder)" >&2
  exit 2
fi
root=$1
cd "$root"

rank_of_dir() {  # the layer of a file, by its path, into $rank (no subshell: fast)
  rank=""
  case "$1" in
    sync-core/base/*) rank=0 ;; sync-core/clock/*) rank=1 ;; sync-core/change/*) rank=2 ;;
    sync-core/crypto/*) rank=3 ;; sync-core/schema/*) rank=4 ;; sync-core/merge/*) rank=5 ;;
    sync-core/store/*) rank=6 ;; sync-core/report/*) rank=7 ;; sync-core/sync/*) rank=8 ;;
    sync-core/text/*) rank=9 ;;
    proto/*) rank=10 ;; node/*) rank=11 ;; hub/*) rank=11 ;; tools/*) rank=12 ;;
  esac
}
rank_of_include() {  # the layer of an included header, by its first component, into $rank
  rank=""
  case "$1" in
    base/*) rank=0 ;; clock/*) rank=1 ;; change/*) rank=2 ;; crypto/*) rank=3 ;;
    schema/*) rank=4 ;; merge/*) rank=5 ;; store/*) rank=6 ;; report/*) rank=7 ;;
    sync/*) rank=8 ;; text/*) rank=9 ;; proto/* | fieldsync/*) rank=10 ;;
    node/*) rank=11 ;; hub/*) rank=11 ;; tools/*) rank=12 ;;
  esac
}

# FILE:HEADER, each with the issue that removes it. None today.
exceptions=()

fail=0
seen=()
files=$(find sync-core proto node hub tools \( -name '*.cc' -o -name '*.h' \) -not -path '*/fuzz/*' | sort)
for f in $files; do
  rank_of_dir "$f"; fr=$rank
  [ -z "$fr" ] && continue
  top=${f%%/*}
  while IFS= read -r inc; do
    rank_of_include "$inc"; ir=$rank
    [ -z "$ir" ] && continue
    bad=0
    if [ "$ir" -gt "$fr" ]; then bad=1; fi
    # node and hub are peers: neither includes the other.
    if [ "$ir" = 11 ] && [ "$fr" = 11 ] && [ "${inc%%/*}" != "$top" ]; then bad=1; fi
    # text/ stands over base/ alone: no other layer of the engine.
    if [ "$fr" = 9 ] && [ "$ir" -ge 1 ] && [ "$ir" -le 8 ]; then bad=1; fi
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
# The engine's layers link no Unicode library: ICU's headers are text/'s.
icu=$(grep -rlE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]unicode/' sync-core \
        --include='*.cc' --include='*.h' | grep -v '^sync-core/text/' || true)
for f in $icu; do
  echo "FAIL: $f includes an ICU header: only sync-core/text/ (fieldsync_text) uses ICU"
  fail=1
done
for e in "${exceptions[@]}"; do
  if ! printf '%s\n' "${seen[@]}" | grep -qxF "$e"; then
    echo "FAIL: the listed exception $e no longer occurs: remove it from $0"
    fail=1
  fi
done
[ "$fail" = 0 ] && echo "ok: no layer includes a higher one (${#exceptions[@]} listed exceptions)"
exit "$fail"
