#!/usr/bin/env bash
# A laptop whose clock is days off, against a real hub over TLS (issue 13,
# story 2): the hub's certificate is "not yet valid" (or expired) by the
# laptop's date, and fieldnode says so in clock words instead of blaming the
# CA file. The clock is moved with faketime (Debian's faketime, installed by
# tools/test), as a laptop's wrong date would be.
#   clock_tls_test.sh BIN_DIR TOOLS_DIR
set -uo pipefail
bin=$1
tools=$2
if ! command -v faketime >/dev/null; then
  echo "faketime is not installed (apt-get install faketime): skipped"
  exit 77
fi
dir=$(mktemp -d)
serve_pid=""
trap '[ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
failures=0
printf 'một câu dài làm mật khẩu\n' >"$dir/pass"
export FIELDSYNC_PASSPHRASE_FILE=$dir/pass
unset FIELDSYNC_PASSPHRASE
check() {  # check NAME EXPECTED_EXIT PATTERN ANTI_PATTERN -- COMMAND...
  local name=$1 want=$2 pattern=$3 anti=$4; shift 5
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qE -- "$pattern" <<<"$out" ||
     { [ -n "$anti" ] && grep -qE -- "$anti" <<<"$out"; }; then
    echo "FAIL: $name: exit $rc (want $want), output:"; echo "$out" | head -20
    failures=$((failures + 1))
  else
    echo "ok: $name"
  fi
}

"$tools/make-certs" "$dir/tls" >/dev/null || { echo "FAIL: make-certs"; exit 1; }
hub=$dir/hub
node=$dir/node
"$bin/fieldhub" init --data-dir "$hub" >/dev/null
"$bin/fieldhub" province add LC "Lào Cai" --data-dir "$hub" >/dev/null
"$bin/fieldhub" serve --data-dir "$hub" --listen 127.0.0.1:0 --tls-cert "$dir/tls/hub.crt" \
  --tls-key "$dir/tls/hub.key" --port-file "$dir/port" 2>"$dir/serve.log" &
serve_pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(cat "$dir/port")
token=$("$bin/fieldhub" enroll-token --province LC --data-dir "$hub" 2>/dev/null)
"$bin/fieldnode" init --data-dir "$node" >/dev/null
"$bin/fieldnode" enroll --data-dir "$node" --hub "localhost:$port" --ca "$dir/tls/ca.crt" \
  --token "$token" >/dev/null || { echo "FAIL: enroll"; exit 1; }

check "sync with the right date" 0 "synced" "" -- "$bin/fieldnode" sync --data-dir "$node"
check "a clock five days behind is named, not the CA file" 3 \
  "this laptop's clock reads .*before the hub's certificates became valid.*Set them right" \
  "names the authority" -- faketime -f '-5d' "$bin/fieldnode" sync --data-dir "$node"
check "a clock past the certificates' end says they expired" 3 \
  "the hub's certificates expired on .*renew them" "names the authority" \
  -- faketime -f '+4000d' "$bin/fieldnode" sync --data-dir "$node"
check "the date set right again, the laptop syncs" 0 "synced" "" -- "$bin/fieldnode" sync --data-dir "$node"
# Another authority's CA file (the one kept at enrolment replaced), the
# date right: the CA file is named.
"$tools/make-certs" "$dir/other" >/dev/null
cp "$node/hub-ca.crt" "$dir/kept-ca.crt"
cp "$dir/other/ca.crt" "$node/hub-ca.crt"
check "a CA file of another authority is named" 3 "check that the CA file .* is the hub's ca.crt" \
  "clock reads" -- "$bin/fieldnode" sync --data-dir "$node"
cp "$dir/kept-ca.crt" "$node/hub-ca.crt"
kill -TERM "$serve_pid"; wait "$serve_pid"; serve_pid=""
check "a hub that is down is said so, not the certificates" 3 \
  "cannot reach the hub at .*Check the network and that the hub is running" "certificate" \
  -- "$bin/fieldnode" sync --data-dir "$node"
[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all clock and TLS checks passed"
