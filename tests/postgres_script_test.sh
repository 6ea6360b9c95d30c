#!/usr/bin/env bash
# tools/lib/postgres.sh run as root (docs/POSTGRES.md, "A private cluster";
# attack review 86, LOW 7): the server runs as its own system user
# (fieldsync-pg, never nobody nor a package's account); what the script
# reads back to stop it (DIR, DIR/user, DIR/watchdog.pid) is root's, out of
# that user's reach; the user owns DIR/cluster only; a control file that
# user could have written is refused, the cluster left as it was.
set -euo pipefail
script="${1:?usage: postgres_script_test.sh REPO}/tools/lib/postgres.sh"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (what runs as another user)"; exit 77; fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-pgscript.XXXXXX")
cleanup() { bash "$script" stop "$dir" >/dev/null 2>&1 || { chown -R root: "$dir" 2>/dev/null; bash "$script" stop "$dir"; } || true; rm -rf -- "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
owner() { stat -c %U "$1"; }
mode() { stat -c %a "$1"; }
# Running (a zombie left for a slow reaper is not).
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; [[ "$st" != Z* ]]; }

out=$(bash "$script" start "$dir" --watch $$)
[ "$out" = "$dir" ] || fail "start printed '$out', not $dir"

[ "$(owner "$dir")" = root ] || fail "$dir is $(owner "$dir")'s"
[ "$(mode "$dir")" = 711 ] || fail "$dir has mode $(mode "$dir")"
for f in user watchdog.pid; do
  [ "$(owner "$dir/$f")" = root ] || fail "$dir/$f is $(owner "$dir/$f")'s"
done
[ "$(cat "$dir/user")" = fieldsync-pg ] || fail "the cluster runs as '$(cat "$dir/user")'"
[ -S "$dir/cluster/.s.PGSQL.5432" ] || fail "no socket in $dir/cluster"
[ "$(owner "$dir/cluster")" = fieldsync-pg ] || fail "$dir/cluster is $(owner "$dir/cluster")'s"
[ "$(mode "$dir/cluster")" = 700 ] || fail "$dir/cluster has mode $(mode "$dir/cluster")"
[ "$(owner "$dir/cluster/data")" = fieldsync-pg ] || fail "the data directory is $(owner "$dir/cluster/data")'s"
pid=$(head -n 1 "$dir/cluster/data/postmaster.pid")
[ "$(ps -o user= -p "$pid")" = fieldsync-pg ] || fail "the server runs as $(ps -o user= -p "$pid")"
# The system account: no login shell.
case "$(getent passwd fieldsync-pg | cut -d: -f7)" in
  */nologin|*/false) ;;
  *) fail "fieldsync-pg has a login shell" ;;
esac

# A test cluster runs without fsync, but ALTER SYSTEM can turn it on again
# (fieldsync-bench-hubstore --pg-fsync on): the settings are in its
# postgresql.conf, not on the server's command line, which would outrank
# postgresql.auto.conf and keep them off whatever was asked (session 28).
pgsettings() {
  psql -X -At -h "$dir/cluster" -U fieldsync fieldsync -c \
    "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')"
}
[ "$(pgsettings)" = "fsync=off full_page_writes=off synchronous_commit=off" ] ||
  fail "a test cluster runs with $(pgsettings)"
for s in fsync synchronous_commit full_page_writes; do
  psql -X -q -h "$dir/cluster" -U fieldsync fieldsync -c "ALTER SYSTEM SET $s = on" >/dev/null
done
psql -X -q -h "$dir/cluster" -U fieldsync fieldsync -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do
  [ "$(pgsettings)" = "fsync=on full_page_writes=on synchronous_commit=on" ] && break
  sleep 0.1
done
[ "$(pgsettings)" = "fsync=on full_page_writes=on synchronous_commit=on" ] ||
  fail "ALTER SYSTEM did not turn fsync on: $(pgsettings)"

# The cluster's user cannot touch the control files.
if runuser -u fieldsync-pg -- bash -c "echo root >'$dir/user'" 2>/dev/null; then
  fail "fieldsync-pg could rewrite $dir/user"
fi
if runuser -u fieldsync-pg -- bash -c "mv '$dir/watchdog.pid' '$dir/w' " 2>/dev/null; then
  fail "fieldsync-pg could replace $dir/watchdog.pid"
fi

# A control file the cluster's user owns (as the old layout had) is not
# trusted: stop refuses in one line and leaves the server running.
chown fieldsync-pg "$dir/watchdog.pid"
if err=$(bash "$script" stop "$dir" 2>&1); then fail "stop trusted a watchdog.pid of fieldsync-pg"; fi
[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "not one line: $err"
[[ "$err" == *"not owned by root"* ]] || fail "unclear: $err"
alive "$pid" || fail "the refused stop stopped the server"
chown root "$dir/watchdog.pid"

bash "$script" stop "$dir"
[ ! -e "$dir" ] || fail "stop left $dir"
if alive "$pid"; then fail "the server $pid still runs after stop"; fi
echo "ok: postgres.sh as root keeps its control files out of fieldsync-pg's reach"
