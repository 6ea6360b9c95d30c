#!/usr/bin/env bash
# The README's first command as a test: `tools/demo --no-build --keep` runs
# every step and exits 0; the console address it ends with answers over
# HTTP (its page, once); the stop line it prints stops the hub and the
# console it left running and removes its directory. (Without --keep, the
# demo stopping everything itself is the test demo_postgres.)
#   demo_test.sh SOURCE_ROOT
set -euo pipefail
root=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$root/tools/demo" --no-build --keep | tee "$out"
address=$(grep -o 'http://127\.0\.0\.1:[0-9]*/?token=[^ ]*' "$out" | tail -1)
stop=$(grep -o '/[^ ]*/stop$' "$out" | tail -1)
pids=$(sed -n 's/.*the hub (pid \([0-9]*\)), lc1.s console (pid \([0-9]*\)).*/\1 \2/p' "$out")
[ -n "$address" ] || { echo "FAILED: the demo printed no console address" >&2; exit 1; }
[ -n "$stop" ] && [ -x "$stop" ] || { echo "FAILED: no stop line, or no script at it" >&2; exit 1; }
[ -n "$pids" ] || { echo "FAILED: the demo did not say what it left running" >&2; exit 1; }
work=$(dirname "$stop")
status=$(python3 - "$address" <<'PY'
import sys, urllib.request, urllib.error
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
try:
    r = urllib.request.build_opener(NoRedirect).open(sys.argv[1], timeout=10)
    print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
PY
)
case "$status" in
  2*|3*) echo "the console answered $address: HTTP $status" ;;
  *) "$stop"; echo "FAILED: the console at $address answered HTTP $status" >&2; exit 1 ;;
esac
"$stop"
for pid in $pids; do
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "FAILED: pid $pid still runs after $stop" >&2; exit 1; fi
done
[ ! -e "$work" ] || { echo "FAILED: $work still there after $stop" >&2; exit 1; }
echo "demo with --keep: console answered, everything stopped and removed by its stop line"
