#!/usr/bin/env bash
# The programs as a person runs them: fieldnode and fieldhub (init, status,
# version, help, and their errors), the engine demo, and the README's hub and
# node walk-through (serve, province, enroll-token, enroll, sync, node list).
#   programs_test.sh BIN_DIR
set -uo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
# The node's keystore passphrase, as the daemon's service unit gives it.
printf 'một câu dài làm mật khẩu\n' >"$dir/pass"
export FIELDSYNC_PASSPHRASE_FILE=$dir/pass
unset FIELDSYNC_PASSPHRASE
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
  check "$prog status" 0 "schema version +4" -- "$bin/$prog" status --data-dir "$d"
  check "$prog status --json" 0 '^\{"data_dir": ".*", "device": "[0-9a-f-]{36}"' -- "$bin/$prog" status --json --data-dir "$d"
  check "$prog data dir from the environment" 0 "device" -- env "FIELDSYNC_$( [ $prog = fieldnode ] && echo NODE || echo HUB )_DIR=$d" "$bin/$prog" status
  check "$prog version" 0 "schema version 4, commit format 1, protocol version 3" -- "$bin/$prog" version
  check "$prog unknown command" 2 "unknown command" -- "$bin/$prog" frobnicate
  check "$prog unknown option" 2 "unknown option --colour" -- "$bin/$prog" status --colour
  check "$prog option without value" 2 "--data-dir needs a value" -- "$bin/$prog" status --data-dir
done
# The benchmarks' command lines (CLI11, tools/bench/common/run_frame.cc):
# one line and exit 2 for each mistake, before anything is measured.
for prog in fieldsync-bench fieldsync-bench-sync; do
  check "$prog help" 0 "^usage: $prog " -- "$bin/$prog" --help
  check "$prog unknown option" 2 "^$prog: .*--colour.*see --help$" -- "$bin/$prog" --colour
  check "$prog option without value" 2 "^$prog: --cases needs a value; see --help$" -- "$bin/$prog" --cases
  check "$prog switch with a value" 2 "^$prog: --quick takes no value; see --help$" -- "$bin/$prog" --quick=1
  check "$prog operand" 2 "^$prog: .*extra.*see --help$" -- "$bin/$prog" extra
  check "$prog bad number" 2 "^$prog: --cases takes " -- "$bin/$prog" --cases=-5
done
mode=$(stat -c %a "$dir/fieldnode")
[ "$mode" = 700 ] && echo "ok: data directory is private" || { echo "FAIL: data directory mode $mode"; failures=$((failures + 1)); }

 # The keystore: private, opened only with its passphrase, which can change.
kdir=$dir/fieldnode
kmode=$(stat -c %a "$kdir/keystore")
[ "$kmode" = 600 ] && echo "ok: keystore is private" || { echo "FAIL: keystore mode $kmode"; failures=$((failures + 1)); }
printf 'short\n' >"$dir/short"
check "init with a short passphrase is refused" 1 "has 5 characters and at least 12 are needed.*Nothing was created" -- env FIELDSYNC_PASSPHRASE_FILE="$dir/short" "$bin/fieldnode" init --data-dir "$dir/short-node"
check "init --json" 0 '^\{"data_dir": ".*", "device": "[0-9a-f-]{36}", "fingerprint": "[0-9a-f-]+", "keystore": ' -- "$bin/fieldnode" init --json --data-dir "$dir/json-node"
[ ! -e "$dir/short-node/replica.db" ] && echo "ok: nothing left by a refused init" || { echo "FAIL: a refused init left a replica"; failures=$((failures + 1)); }
printf 'not the passphrase\n' >"$dir/wrong"
printf 'a new passphrase for the laptop\n' >"$dir/new"
before=$(sha256sum "$kdir/keystore")
check "passphrase change with a wrong passphrase" 1 "wrong passphrase.*nothing was changed" -- "$bin/fieldnode" passphrase --data-dir "$kdir" --passphrase-file "$dir/wrong" --new-passphrase-file "$dir/new"
[ "$before" = "$(sha256sum "$kdir/keystore")" ] && echo "ok: a wrong passphrase changes nothing" || { echo "FAIL: keystore changed"; failures=$((failures + 1)); }
check "passphrase change" 0 "passphrase changed" -- "$bin/fieldnode" passphrase --data-dir "$kdir" --new-passphrase-file "$dir/new"
check "the old passphrase no longer opens it" 1 "wrong passphrase" -- "$bin/fieldnode" passphrase --data-dir "$kdir" --new-passphrase-file "$dir/new"
check "the new one does" 0 "passphrase changed" -- "$bin/fieldnode" passphrase --data-dir "$kdir" --passphrase-file "$dir/new" --new-passphrase-file "$dir/pass"

# The passphrase rule (node/passphrase_rule.h, docs/CRYPTO.md): at least 12
# characters (code points after NFC) and not among the easiest to guess
# (zxcvbn, 10^10 guesses). init and passphrase refuse the others in one line
# and change nothing.
refused() {  # refused NAME PATTERN -- COMMAND...: exit 1 and one line matching PATTERN
  local name=$1 pattern=$2; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != 1 ] || [ "$(printf '%s\n' "$out" | wc -l)" != 1 ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $name: exit $rc (want 1 and one line), output:"; echo "$out" | head -20
    failures=$((failures + 1))
  else
    echo "ok: $name"
  fi
}
nfd() { python3 -c 'import sys, unicodedata; print(unicodedata.normalize("NFD", sys.argv[1]))' "$1"; }
printf 'exactly8\n' >"$dir/p-eight"
printf 'password1234\n' >"$dir/p-common"      # 12 characters, among the first guessed
printf 'qwertyuiop12\n' >"$dir/p-keyboard"
printf 'matkhau12345\n' >"$dir/p-matkhau"     # "mật khẩu" is "password"
nfd "Gió mùa thu" >"$dir/p-vi11"               # 11 code points NFC; 13 in NFD, 13 bytes NFC
nfd "Gió mùa Đông" >"$dir/p-vi12"              # 12 code points NFC, typed NFD: accepted
declare -A why=(
  [eight]="has 8 characters and at least 12 are needed"
  [vi11]="has 11 characters and at least 12 are needed"
  [common]="is among the easiest to guess \(about 10\^[0-9]+ guesses, at least 10\^10"
  [keyboard]="is among the easiest to guess"
  [matkhau]="is among the easiest to guess"
)
before=$(sha256sum "$kdir/keystore")
for p in eight vi11 common keyboard matkhau; do
  refused "init refuses the $p passphrase" "^fieldnode: the passphrase ${why[$p]}.*Nothing was created$" -- \
    env FIELDSYNC_PASSPHRASE_FILE="$dir/p-$p" "$bin/fieldnode" init --data-dir "$dir/refused-$p"
  [ ! -e "$dir/refused-$p/keystore" ] && [ ! -e "$dir/refused-$p/replica.db" ] && echo "ok: nothing left by init refusing $p" || { echo "FAIL: init refusing $p left files"; failures=$((failures + 1)); }
  refused "passphrase refuses the $p passphrase" "^fieldnode: the new passphrase ${why[$p]}.*; nothing was changed$" -- \
    "$bin/fieldnode" passphrase --data-dir "$kdir" --new-passphrase-file "$dir/p-$p"
done
[ "$before" = "$(sha256sum "$kdir/keystore")" ] && echo "ok: refused new passphrases change nothing" || { echo "FAIL: keystore changed"; failures=$((failures + 1)); }
check "init accepts 12 Vietnamese characters typed NFD" 0 "initialised" -- env FIELDSYNC_PASSPHRASE_FILE="$dir/p-vi12" "$bin/fieldnode" init --data-dir "$dir/vi-node"
check "passphrase accepts them" 0 "passphrase changed" -- "$bin/fieldnode" passphrase --data-dir "$kdir" --new-passphrase-file "$dir/p-vi12"
check "and they open the keystore" 0 "passphrase changed" -- "$bin/fieldnode" passphrase --data-dir "$kdir" --passphrase-file "$dir/p-vi12" --new-passphrase-file "$dir/pass"
check "show needs a table and an id" 2 "show needs TABLE and ID" -- "$bin/fieldnode" show --data-dir "$kdir"
check "show an unknown table (a wrong command line)" 2 "no table \"victims\"" -- "$bin/fieldnode" show victims 0190f5d2-7c3e-7a1b-9c2d-3e4f5a6b7c8d --data-dir "$kdir"

check "engine demo converges" 0 "identical" -- "$bin/fieldsync-engine-demo"

# The README's hub and node walk-through, on loopback with a throwaway CA.
hub=$dir/hub; node=$dir/lc; tls=$dir/tls
tools=$(cd "$(dirname "$0")/../tools" && pwd)
"$tools/make-certs" "$tls" >/dev/null
"$bin/fieldhub" init --data-dir "$hub" >/dev/null
check "province add" 0 "province LC \(Lào Cai\) registered" -- "$bin/fieldhub" province add LC "Lào Cai" --data-dir "$hub"
check "province add twice" 1 "already registered" -- "$bin/fieldhub" province add LC "Lào Cai" --data-dir "$hub"
check "province list --json" 0 '^\[\{"code": "LC", "name": "Lào Cai"\}\]' -- "$bin/fieldhub" province list --json --data-dir "$hub"
# Typed in decomposed form (NFD, as some keyboards send it): stored NFC.
nfd=$(python3 -c 'import unicodedata; print(unicodedata.normalize("NFD", "Hà Giang"))')
nfc=$(python3 -c 'import unicodedata; print(unicodedata.normalize("NFC", "Hà Giang"))')
[ "$nfd" != "$nfc" ] || { echo "FAIL: the NFD form should differ"; failures=$((failures + 1)); }
check "province add with a decomposed name" 0 "province HG \($nfc\) registered" -- "$bin/fieldhub" province add HG "$nfd" --data-dir "$hub"
if "$bin/fieldhub" province list --json --data-dir "$hub" | grep -qF "\"$nfc\""; then echo "ok: the province name is stored NFC"; else echo "FAIL: the province name is not stored NFC"; failures=$((failures + 1)); fi
check "token for an unknown province" 1 "unknown province \"XX\"; add it first" -- "$bin/fieldhub" enroll-token --province XX --data-dir "$hub"
check "token with a bad duration" 2 "not a duration" -- "$bin/fieldhub" enroll-token --province LC --valid-for soon --data-dir "$hub"
check "serve without a certificate" 1 "cannot read the hub's TLS certificate" -- "$bin/fieldhub" serve --data-dir "$hub" --listen 127.0.0.1:0
"$bin/fieldhub" serve --data-dir "$hub" --listen 127.0.0.1:0 --tls-cert "$tls/hub.crt" --tls-key "$tls/hub.key" --port-file "$dir/port" 2>"$dir/serve.log" &
serve_pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(cat "$dir/port")
token=$("$bin/fieldhub" enroll-token --province LC --data-dir "$hub" 2>/dev/null)
"$bin/fieldnode" init --data-dir "$node" >/dev/null
check "sync before enrolling says how to enrol" 1 "not enrolled with a hub" -- "$bin/fieldnode" sync --data-dir "$node"
check "enroll without --ca" 2 "enroll needs --ca" -- "$bin/fieldnode" enroll --data-dir "$node" --hub "localhost:$port" --token "$token"
check "enroll with a wrong token" 1 "not known to the hub" -- "$bin/fieldnode" enroll --data-dir "$node" --hub "localhost:$port" --ca "$tls/ca.crt" --token fsenroll-0000
check "enroll" 0 "enrolled device .* for province LC" -- "$bin/fieldnode" enroll --data-dir "$node" --hub "localhost:$port" --ca "$tls/ca.crt" --token "$token"
mode=$(stat -c %a "$node/credential")
[ "$mode" = 600 ] && echo "ok: credential file is private" || { echo "FAIL: credential mode $mode"; failures=$((failures + 1)); }
check "sync" 0 "synced: pushed 0, pulled 0 commits" -- "$bin/fieldnode" sync --data-dir "$node"
check "sync --json" 0 '^\{"pushed": 0, .*"bootstrapped": false' -- "$bin/fieldnode" sync --json --data-dir "$node"
check "node list" 0 "LC .* \"$(hostname)\"" -- "$bin/fieldhub" node list --data-dir "$hub"
check "node list --json" 0 '"province": "LC", "last_seen": "20' -- "$bin/fieldhub" node list --json --data-dir "$hub"
check "revoke an unknown node" 1 "no enrolled node" -- "$bin/fieldhub" node revoke 00000000-0000-0000-0000-000000000001 --data-dir "$hub"
kill -TERM "$serve_pid"; wait "$serve_pid"; rc=$?
[ "$rc" = 0 ] && grep -q "stopped" "$dir/serve.log" && echo "ok: serve stops on SIGTERM" || { echo "FAIL: serve exit $rc"; cat "$dir/serve.log"; failures=$((failures + 1)); }
check "sync with the hub down exits 3" 3 "cannot reach the hub" -- "$bin/fieldnode" sync --data-dir "$node"
check "daemon needs a sane interval" 2 "not a duration" -- "$bin/fieldnode" daemon --every often --data-dir "$node"

echo "$failures failed"
[ "$failures" -eq 0 ]
