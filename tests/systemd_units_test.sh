#!/usr/bin/env bash
# The systemd units of tools/systemd/ (README: "Running the hub under
# systemd"): systemd-analyze verify finds nothing to say about them, with
# ExecStart pointed at the programs just built; they keep the hardening the
# project requires (a dedicated user, NoNewPrivileges, ProtectSystem=strict,
# a StateDirectory, Restart=on-failure) and systemd-analyze security rates
# their exposure 2.5 or lower; their users' sysusers.d file is valid.
# Without systemd-analyze the checks are skipped, said so, and pass.
#   systemd_units_test.sh BIN_DIR SOURCE_DIR
set -uo pipefail
bin=$1
units=$2/tools/systemd
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIPPED: systemd-analyze is not installed here (Debian: apt-get install systemd);" \
       "tools/systemd/*.service were not verified"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
ok() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

# systemd-analyze verify UNIT: its output, empty when the unit is sound
# (unknown keys, bad values and a missing program are said, not failed).
verify() { (cd "$dir" && systemd-analyze verify "./$1" 2>&1); }

for program in fieldhub fieldnode; do
  unit=$program.service
  [ -x "$bin/$program" ] || { fail "$bin/$program is not built"; continue; }
  grep -q "^ExecStart=/usr/local/bin/$program " "$units/$unit" \
    && ok "$unit runs /usr/local/bin/$program" || fail "$unit: ExecStart is not /usr/local/bin/$program"
  # As installed, with the program where the unit says it is.
  sed "s#/usr/local/bin/$program#$bin/$program#" "$units/$unit" > "$dir/$unit"
  out=$(verify "$unit")
  [ -z "$out" ] && ok "systemd-analyze verify $unit says nothing" || fail "verify $unit: $out"
  for setting in "User=$program" "Group=$program" "NoNewPrivileges=yes" "ProtectSystem=strict" \
                 "StateDirectory=$program" "Restart=on-failure" "ProtectHome=yes" \
                 "CapabilityBoundingSet=" "Environment=FIELDSYNC_$( [ $program = fieldhub ] && echo HUB || echo NODE )_DIR=/var/lib/$program"; do
    grep -qx "$setting" "$units/$unit" && ok "$unit: $setting" || fail "$unit lacks $setting"
  done
  score=$(cd "$dir" && systemd-analyze security --offline=yes "./$unit" 2>&1 | grep "Overall exposure")
  (cd "$dir" && systemd-analyze security --offline=yes --threshold=25 "./$unit" >/dev/null 2>&1) \
    && ok "$unit: ${score#→ }" || fail "$unit exposed above 2.5: $score"
done

# The check itself can fail: a unit with a misspelt setting is reported.
sed 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' "$dir/fieldhub.service" > "$dir/typo.service"
out=$(verify typo.service)
[ -n "$out" ] && ok "a misspelt setting is reported" || fail "verify missed a misspelt setting"

# The users the units run as.
mkdir -p "$dir/root/etc"
out=$(systemd-sysusers --dry-run --root="$dir/root" - < "$units/fieldsync.sysusers.conf" 2>&1)
grep -q "Creating user 'fieldhub'" <<<"$out" && grep -q "Creating user 'fieldnode'" <<<"$out" \
  && ok "fieldsync.sysusers.conf makes fieldhub and fieldnode" || fail "sysusers: $out"

[ "$failures" -eq 0 ] && { echo "all passed"; exit 0; }
echo "$failures failed"
exit 1
