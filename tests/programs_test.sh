#!/usr/bin/env bash
# The programs as a person runs them: fieldnode and fieldhub (init, status,
# version, help, and their errors), and the engine demo.
#   programs_test.sh BIN_DIR
set -uo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
check() {  # check NAME EXPECTED_EXIT PATTERN -- COMMAND...
  local name=$1 want=$2 pattern=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $name: exit $rc (want $want), output:"; echo "$out" | head -20
    failures=$((failures + 1))
  else
    echo "ok: $name"
  fi
}

for prog in fieldnode fieldhub; do
  d=$dir/$prog
  check "$prog help" 0 "Usage: $prog COMMAND" -- "$bin/$prog" --help
  check "$prog status before init says to init" 1 "run \`$prog init --data-dir $d\`" -- "$bin/$prog" status --data-dir "$d"
  check "$prog init" 0 "initialised" -- "$bin/$prog" init --data-dir "$d"
  check "$prog init twice is refused" 1 "already initialised" -- "$bin/$prog" init --data-dir "$d"
  check "$prog status" 0 "schema version +2" -- "$bin/$prog" status --data-dir "$d"
  check "$prog status --json" 0 '^\{"data_dir": ".*", "device": "[0-9a-f-]{36}"' -- "$bin/$prog" status --json --data-dir "$d"
  check "$prog data dir from the environment" 0 "device" -- env "FIELDSYNC_$( [ $prog = fieldnode ] && echo NODE || echo HUB )_DIR=$d" "$bin/$prog" status
  check "$prog version" 0 "schema version 2, commit format 1, protocol version 1" -- "$bin/$prog" version
  check "$prog unknown command" 2 "unknown command" -- "$bin/$prog" frobnicate
  check "$prog unknown option" 2 "unknown option --colour" -- "$bin/$prog" status --colour
  check "$prog option without value" 2 "--data-dir needs a value" -- "$bin/$prog" status --data-dir
done
mode=$(stat -c %a "$dir/fieldnode")
[ "$mode" = 700 ] && echo "ok: data directory is private" || { echo "FAIL: data directory mode $mode"; failures=$((failures + 1)); }

check "engine demo converges" 0 "identical" -- "$bin/fieldsync-engine-demo"

echo "$failures failed"
[ "$failures" -eq 0 ]
