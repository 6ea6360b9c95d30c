#!/usr/bin/env bash
# The hub administrator's commands as a person runs them: --help and a few
# user errors through the program (each kind is checked in process by
# tests/hub_cli_test.cc: one line, non-zero, nothing changed), province,
# enroll-token, node list (key fingerprints) and revoke, gc, status (per
# province, "behind"), report (suppression, no sensitive value), audit (the
# administrators' trail and the nodes' access logs) and its tamper checks
# on the hub's file, and that every --json output parses.
#   hub_admin_test.sh BIN_DIR TOOLS_DIR
set -uo pipefail
# python3 resolved once to the interpreter itself: a version manager's shim
# (pyenv) costs ~0.4 s a start, the interpreter ~0.05 s.
FIELDSYNC_PYTHON3=$(python3 -c 'import sys; print(sys.executable)') && [ -x "$FIELDSYNC_PYTHON3" ] || {
  echo "python3 is needed (Debian package python3)" >&2; exit 1; }
python3() { "$FIELDSYNC_PYTHON3" "$@"; }
bin=$1
dir=$(mktemp -d)
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill -KILL "$serve_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
failures=0
printf 'một câu dài làm mật khẩu\n' >"$dir/pass"
export FIELDSYNC_PASSPHRASE_FILE=$dir/pass
unset FIELDSYNC_PASSPHRASE FIELDSYNC_ADMIN FIELDSYNC_HUB_DIR
export USER=unix-user
hub=$dir/hub

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
check() {  # check NAME EXPECTED_EXIT PATTERN -- COMMAND...
  local name=$1 want=$2 pattern=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    fail "$name: exit $rc (want $want), output:"; echo "$out" | head -20
  else
    ok "$name"
  fi
}
# A user error: the exit code, ONE line on stderr matching PATTERN, nothing
# on stdout.
check_error() {  # check_error NAME EXPECTED_EXIT PATTERN -- COMMAND...
  local name=$1 want=$2 pattern=$3; shift 4
  local out err rc
  out=$("$@" 2>"$dir/err"); rc=$?
  err=$(cat "$dir/err")
  if [ "$rc" != "$want" ] || ! grep -qE -- "$pattern" <<<"$err" || [ "$(wc -l <"$dir/err")" != 1 ] ||
     [ -n "$out" ]; then
    fail "$name: exit $rc (want $want), stdout: $out, stderr:"; echo "$err" | head -10
  else
    ok "$name"
  fi
}
# The command's stdout parses as JSON (and matches PATTERN).
check_json() {  # check_json NAME EXPECTED_EXIT PATTERN -- COMMAND...
  local name=$1 want=$2 pattern=$3; shift 4
  local rc
  "$@" >"$dir/json" 2>/dev/null; rc=$?
  if [ "$rc" != "$want" ] || ! python3 -m json.tool "$dir/json" >/dev/null 2>&1 ||
     ! grep -qE -- "$pattern" "$dir/json"; then
    fail "$name: exit $rc (want $want), JSON:"; head -c 2000 "$dir/json"; echo
  else
    ok "$name"
  fi
}
H() { "$bin/fieldhub" "$@" --data-dir "$hub"; }
# What an error must leave unchanged: the registry, the audit trail, the tokens.
snapshot() {
  sqlite3 "$hub/hub.db" "SELECT * FROM hub_provinces; SELECT * FROM hub_audit;
    SELECT hex(hash), expires_at, used_at FROM hub_tokens; SELECT hex(device), revoked_at FROM hub_nodes;
    SELECT * FROM hub_meta;" | sha256sum
}

# --- Help. Every command's usage and example, and the user errors, are
# checked in process (tests/hub_cli_test.cc); here, that the program answers
# the same way.
for c in audit province; do
  check "$c --help" 0 "^Usage: fieldhub $c" -- "$bin/fieldhub" "$c" --help
  check "help $c" 0 "^Usage: fieldhub $c" -- "$bin/fieldhub" help "$c"
done
check "help is the overview" 0 "^Commands:" -- "$bin/fieldhub" help
check "--help alone is the overview" 0 "^Commands:" -- "$bin/fieldhub" --help
check "audit --help documents exit code 4" 0 "4 at least one chain is broken" -- "$bin/fieldhub" audit --help
check_error "help of an unknown command" 2 "no command \"frob\"" -- "$bin/fieldhub" help frob
check_error "no crypto-off hub in production" 2 "unknown option --benchmark-without-crypto" -- "$bin/fieldhub" serve --benchmark-without-crypto

# --- A hub, its provinces, tokens: who did it goes into the audit trail.
"$bin/fieldhub" init --data-dir "$hub" >/dev/null
check "province add --as" 0 "province LC \(Lào Cai\) registered" -- H province add LC "Lào Cai" --as "Trần Văn Quản"
check "province add as \$FIELDSYNC_ADMIN" 0 "registered" -- env FIELDSYNC_ADMIN=env-admin "$bin/fieldhub" province add HG "Hà Giang" --data-dir "$hub"
token1=$(H enroll-token --province LC --valid-for 2h 2>/dev/null)
token2=$(env -u USER "$bin/fieldhub" enroll-token --province HG --json --data-dir "$hub" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
[ -n "$token1" ] && [ -n "$token2" ] && ok "tokens made" || fail "tokens: '$token1' '$token2'"
check_json "province list --json" 0 '"code": "HG"' -- H province list --json

# --- User errors: one line saying what is wrong and what to do, non-zero,
# nothing changed (each kind is checked in tests/hub_cli_test.cc).
before=$(snapshot)
check_error "province add without a name" 2 "province add needs CODE and NAME.*fieldhub province --help" -- H province add XX
check_error "province add twice" 1 "already registered" -- H province add LC "Lào Cai"
check_error "an option of another command" 2 "unknown option --threshold; see .fieldhub province --help." -- H province list --threshold 5
check_error "token with a bad duration" 2 "\"soon\" is not a duration" -- H enroll-token --province LC --valid-for soon
check_error "token valid for years" 2 "give at most 30d" -- H enroll-token --province LC --valid-for 999d
check_error "audit with a day that does not exist" 2 "\"2026-02-30\" is not a date" -- H audit --since 2026-02-30
check_error "an unknown command" 2 "unknown command \"frobnicate\"" -- H frobnicate
check_error "audit before init" 1 "nothing initialised in .*fieldhub init" -- "$bin/fieldhub" audit --data-dir "$dir/none"
[ "$before" = "$(snapshot)" ] && ok "the errors changed nothing" || fail "an error changed the hub's file"
[ ! -e "$dir/none" ] && ok "audit before init created nothing" || fail "audit before init created $dir/none"

# --- A node enrolled and synced with the real programs.
"$bin/fieldhub" serve --data-dir "$hub" --insecure --listen 127.0.0.1:0 --port-file "$dir/port" 2>"$dir/serve.log" &
serve_pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(cat "$dir/port")
node=$dir/lc
"$bin/fieldnode" init --data-dir "$node" >/dev/null
enrolled=$("$bin/fieldnode" enroll --data-dir "$node" --hub "127.0.0.1:$port" --insecure --token "$token1" --name "laptop-lc-1")
fingerprint=$(sed -n 's/^key fingerprint \([0-9a-f-]*\).*/\1/p' <<<"$enrolled")
device=$(sed -n 's/^enrolled device \([0-9a-f-]*\) .*/\1/p' <<<"$enrolled")
[ ${#fingerprint} = 44 ] && [ ${#device} = 36 ] && ok "fieldnode enrolled" || fail "enrol: $enrolled"
check "node sync" 0 "synced" -- "$bin/fieldnode" sync --data-dir "$node"
kill -TERM "$serve_pid"; wait "$serve_pid"; serve_pid=

# --- Cases, a referral (grant), an erasure and access-log entries, through
# two more nodes (tests/hub_admin_seed.cc); its tokens come from
# `fieldhub enroll-token` run as "seed-admin".
if ! FIELDSYNC_ADMIN=seed-admin "$bin/hub_admin_seed" "$hub" "$dir" >"$dir/canaries" 2>"$dir/seed.err"; then
  fail "hub_admin_seed:"; cat "$dir/seed.err"
fi
[ "$(wc -l <"$dir/canaries")" -ge 30 ] && ok "seeded" || fail "seed printed $(wc -l <"$dir/canaries") canaries"

# --- node list: the key fingerprint the node showed at enrolment, and its link key (registered at enrolment).
check "node list shows the key fingerprint and the link key" 0 "^$device +LC .* $fingerprint +held +\"laptop-lc-1\"" -- H node list
check "node list header" 0 "KEY FINGERPRINT" -- H node list
check_json "node list --json" 0 "\"device\": \"$device\".*\"key_fingerprint\": \"$fingerprint\"" -- H node list --json

# --- status: what it printed before, then each province; LC's enrolled
# laptop has not pulled the seeded cases: LC is behind.
check "status keeps the replica's lines" 0 "schema version +4" -- H status
check "status counts provinces" 0 "^provinces +2 registered, 3 nodes enrolled, 0 revoked" -- H status
check "status: LC behind" 0 "^LC +Lào Cai +2 +0 +20[0-9T:Z-]+ +[0-9]+ +[1-9][0-9]* +BEHIND" -- H status
check "status: HG has a node" 0 "^HG +Hà Giang +1 +0 +20" -- H status
check_json "status --json" 0 '"code": "LC", "name": "Lào Cai", "nodes_enrolled": 2, "nodes_revoked": 0, "last_sync": "20[^"]*", "lag": [0-9]+, "pending": [1-9][0-9]*, "behind": true, "state": "BEHIND"' -- H status --json
check_json "status --json keeps the replica's fields" 0 '^\{"data_dir": ".*", "device": "[0-9a-f-]{36}", "schema_version": 4, .*"live_rows": \{' -- H status --json
check_json "node list: the laptop's own backlog" 0 "\"device\": \"$device\"[^}]*\"pending\": [1-9]" -- H node list --json

# --- report: national figures, small counts suppressed, no sensitive value.
H report >"$dir/report.txt" 2>&1; rc=$?
[ "$rc" = 0 ] && ok "report" || fail "report exit $rc"
grep -qE "^Live cases: 11$" "$dir/report.txt" && ok "report: 11 live cases" || { fail "report total"; cat "$dir/report.txt"; }
grep -qE "^  verifying +<5$" "$dir/report.txt" && ok "report: 2 verifying shown as <5" || fail "report: verifying not suppressed"
grep -qE "^  HG +<5$" "$dir/report.txt" && ok "report: HG's one case shown as <5" || fail "report: HG not suppressed"
grep -qE "^  LC +10$" "$dir/report.txt" && ok "report: LC 10" || fail "report: LC count"
grep -qE "^  2026-03 +8$" "$dir/report.txt" && ok "report: by month" || fail "report: month"
grep -qE "^  18-24 +8$" "$dir/report.txt" && ok "report: by age band" || fail "report: age band"
check_json "report --json" 0 '\{"value": "verifying", "count": null, "shown": "<5", "suppressed": true\}' -- H report --json
H report --json >"$dir/report.json" 2>/dev/null
check "report --threshold 1 shows every count" 0 "^  verifying +2$" -- H report --threshold 1
check "report --threshold 20 hides the total" 0 "^Live cases: <20$" -- H report --threshold 20
leaks=0
while IFS= read -r canary; do
  for f in "$dir/report.txt" "$dir/report.json"; do
    if grep -qF -- "$canary" "$f"; then leaks=$((leaks + 1)); echo "leak of \"$canary\" in $f"; fi
  done
done <"$dir/canaries"
grep -qiE "canary|seedname|seedstory" "$dir/report.txt" "$dir/report.json" && leaks=$((leaks + 1))
[ "$leaks" = 0 ] && ok "no sensitive value in the report" || fail "$leaks sensitive values in the report"

# --- Revocation and gc, by a named administrator.
check "node revoke --as" 0 "node $device revoked" -- H node revoke "$device" --as "Trần Văn Quản"
check_error "revoke twice" 1 "already revoked on 20.*nothing changed" -- H node revoke "$device"
check "node list marks it" 0 "\"laptop-lc-1\"  \[REVOKED\]" -- H node list
check "status counts it" 0 "^LC +Lào Cai +1 +1 " -- H status
check "gc --dry-run" 0 "dry run, nothing changed: gc now would collect 0 tombstones" -- H gc --dry-run --as "Dry Runner"
check "gc --as" 0 "collected 0 tombstones" -- H gc --as "Lê Thị Vận Hành"

# --- audit: the administrators' acts and the nodes' access logs, in order.
H audit >"$dir/audit.txt" 2>&1; rc=$?
[ "$rc" = 0 ] && ok "audit of a whole trail exits 0" || { fail "audit exit $rc"; cat "$dir/audit.txt"; }
expect_audit() {  # expect_audit NAME PATTERN
  grep -qE -- "$2" "$dir/audit.txt" && ok "audit: $1" || fail "audit lacks $1 ($2)"
}
expect_audit "province add by --as" "admin +Trần Văn Quản +province.add: province LC \"Lào Cai\""
expect_audit "province add by \$FIELDSYNC_ADMIN" "admin +env-admin +province.add: province HG \"Hà Giang\""
expect_audit "token by \$USER, no token" "admin +unix-user +enroll-token.issue: token for province LC, valid for 2h until 20"
expect_audit "token by nobody named" "admin +administrator +enroll-token.issue: token for province HG, valid for 1d"
expect_audit "tokens of the seed" "admin +seed-admin +enroll-token.issue: token for province HG, valid for 1h"
expect_audit "enrolment with fingerprint" "admin +$device +node.enrol: device $device \"laptop-lc-1\" for province LC, key fingerprint $fingerprint"
expect_audit "grant" "key.grant: data key of cases row [0-9a-f-]{36} version [0-9]+ granted from office LC to office HG \(referral\)"
expect_audit "grant of the person's key" "key.grant: data key of persons row [0-9a-f-]{36} .* from office LC to office HG"
expect_audit "erasure" "key.erase: every key of cases row [0-9a-f-]{36} of office LC erased"
expect_audit "revocation" "admin +Trần Văn Quản +node.revoke: device $device \"laptop-lc-1\" of province LC revoked at log position [0-9]+"
expect_audit "gc" "admin +Lê Thị Vận Hành +gc: collected 0 tombstones \(min-age 30d, stale-after 90d"
grep -qF "Dry Runner" "$dir/audit.txt" && fail "gc --dry-run was audited" || ok "gc --dry-run is not audited"
expect_audit "access entries of LC" "access +Lò Văn Officer \(LC\) +show case [0-9a-f-]{36} \(cases.narrative,persons.full_name\) on device"
expect_audit "access entry of HG" "access +Giàng Thị Cán Bộ \(HG\) +export case"
expect_audit "chains listed" "access log of device [0-9a-f-]{36} \(\"test node\", LC\): 3 entries"
expect_audit "all whole" "^every chain is whole$"
grep -qF -- "$token1" "$dir/audit.txt" || grep -qF -- "$token2" "$dir/audit.txt" && fail "a token is in the audit" || ok "no token in the audit"
sqlite3 "$hub/hub.db" "SELECT * FROM hub_audit" | grep -qF -e "$token1" -e "$token2" && fail "a token is in hub_audit" || ok "no token in hub_audit"
# Time order.
sed -n 's/^\(20[0-9T:Z-]*\) .*/\1/p' "$dir/audit.txt" >"$dir/times"
sort -c "$dir/times" && ok "audit in time order" || fail "audit not in time order"
check_json "audit --json" 0 '"kind": "access", .*"officer": "Lò Văn Officer".*"whole": true\}$' -- H audit --json
check_json "audit --json has the head" 0 '"chain": "hub audit trail", "entries": [0-9]+, "head_seq": [0-9]+, "head_hash": "[0-9a-f]{64}"' -- H audit --json
check "audit --since the future shows nothing, still verifies" 0 "no entries since 2999-01-01.*every chain is whole" -- bash -c "'$bin/fieldhub' audit --since 2999-01-01 --data-dir '$hub' | tr '\n' ' '"
check "audit --since a time" 0 "province.add" -- H audit --since 2000-01-01T00:00:00Z

# --- Tampering with the hub's file directly: each change is reported, exit 4.
tamper() {  # tamper NAME SQL PATTERN
  local copy=$dir/tamper-$1
  cp -r "$hub" "$copy"
  sqlite3 "$copy/hub.db" "$2"
  check "tamper $1: reported" 4 "$3" -- "$bin/fieldhub" audit --data-dir "$copy"
  check_json "tamper $1: --json" 4 '"whole": false' -- "$bin/fieldhub" audit --json --data-dir "$copy"
  check "tamper $1: one line says what to do" 4 "changed outside fieldsync; keep this output" -- "$bin/fieldhub" audit --data-dir "$copy"
}
tamper edit "UPDATE hub_audit SET detail = 'province LC \"Lạng Sơn\"' WHERE seq = 1" \
  "^BROKEN: hub audit trail: entry 1 \(province.add\) was edited after it was written"
tamper delete "DELETE FROM hub_audit WHERE seq = 3" "^BROKEN: hub audit trail: entry 3 is missing: deleted"
tamper delete-last "DELETE FROM hub_audit WHERE seq = (SELECT max(seq) FROM hub_audit)" \
  "^BROKEN: hub audit trail: entry [0-9]+ is missing at the end"
tamper officer "UPDATE access_log SET officer = 'Người Khác' WHERE seq = 2 AND province = 'LC'" \
  "^BROKEN: access log of device [0-9a-f-]{36} \(\"test node\", LC\): entry 2 was edited after it was written"
tamper access-delete "DELETE FROM access_log WHERE seq = 2 AND province = 'LC'" \
  "^BROKEN: access log of device [0-9a-f-]{36} \(\"test node\", LC\): entry 2 is missing \(a gap\)"
# A deleted middle entry is named, and a later administrative act does not
# hide the gap.
"$bin/fieldhub" province add QT "Quảng Trị" --data-dir "$dir/tamper-delete" >/dev/null 2>&1
check "tamper delete: still reported after a new act" 4 "entry 3 is missing" -- "$bin/fieldhub" audit --data-dir "$dir/tamper-delete"
check "the original is still whole" 0 "every chain is whole" -- H audit
# Names come from the nodes: a control character cannot forge a line.
cp -r "$hub" "$dir/evil"
sqlite3 "$dir/evil/hub.db" "UPDATE hub_nodes SET name = 'x' || char(10) || 'every chain is whole'"
sqlite3 "$dir/evil/hub.db" "DELETE FROM hub_audit WHERE seq = 2"
"$bin/fieldhub" audit --data-dir "$dir/evil" >"$dir/evil.txt" 2>/dev/null
[ "$(grep -c "^every chain is whole$" "$dir/evil.txt")" = 0 ] && grep -qF 'x\x0aevery chain is whole' "$dir/evil.txt" &&
  ok "a name cannot forge an audit line" || { fail "a name forged a line"; cat "$dir/evil.txt"; }

# ... nor reach a terminal raw through --json: escaped, and exact for a reader.
sqlite3 "$dir/evil/hub.db" "UPDATE hub_nodes SET name = 'lc' || char(27) || '[31m' || char(8238) || 'x'"
"$bin/fieldhub" node list --json --data-dir "$dir/evil" >"$dir/evil.json" 2>/dev/null
grep -qF 'lc\u001b[31m\u202ex' "$dir/evil.json" && ! grep -q $'\e' "$dir/evil.json" &&
  python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[0]["name"] == "lc\x1b[31m\u202ex"' "$dir/evil.json" &&
  ok "node list --json escapes control and direction characters" ||
  { fail "node list --json let a control character through"; cat -v "$dir/evil.json"; }

echo "$failures failed"
[ "$failures" -eq 0 ]
