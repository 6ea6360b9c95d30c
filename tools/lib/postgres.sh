#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests (and later the demo): initdb in
# a directory of its own, run by an unprivileged user, listening on a Unix
# socket in that directory only (no TCP), stopped and removed when done.
# Nothing assumes a system service (Debian's postgresql-15 package is used for
# its binaries only). docs/POSTGRES.md, "A private cluster".
#
#   tools/lib/postgres.sh start [DIR] [--watch PID]
#       Makes DIR (a new directory under $TMPDIR if none), initdb, starts the
#       server (pg_ctl start -w) and prints one line: DIR, which is also the
#       socket directory (connect with host=DIR, user fieldsync, database
#       fieldsync). With --watch PID, a watchdog stops the cluster and
#       removes DIR once process PID is gone, however it ended (SIGKILL by a
#       ctest timeout included).
#   tools/lib/postgres.sh stop DIR
#       Stops the cluster (fast shutdown, immediate if that fails) and
#       removes DIR. Safe to call twice, and on a cluster never started.
#
# As root (CI), the server runs as the `postgres` system user the package
# makes, or as `nobody` without it: postgres refuses to run as root. Its
# files are owned by that user; the tests connect over the socket as root,
# and trust authentication is confined to the socket in DIR (mode 0700 for
# everyone but that user and root).

fieldsync_pg_bin() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  echo "error: PostgreSQL server binaries not found: apt-get install postgresql-15 (tools/test installs it)" >&2
  return 1
}

# Runs "$@" as the cluster's user (as ourselves unless we are root).
fieldsync_pg_as() {
  local user=$1; shift
  if [ -z "$user" ]; then "$@"; else runuser -u "$user" -- "$@"; fi
}

fieldsync_pg_user() {
  if [ "$(id -u)" -ne 0 ]; then echo ""; return 0; fi
  if id -u postgres >/dev/null 2>&1; then echo postgres; else echo nobody; fi
}

fieldsync_pg_stop() {
  local dir=$1 bin user
  [ -n "$dir" ] || return 0
  bin=$(fieldsync_pg_bin) || return 1
  user=$(cat "$dir/user" 2>/dev/null || true)
  if [ -f "$dir/data/postmaster.pid" ]; then
    fieldsync_pg_as "$user" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
      fieldsync_pg_as "$user" "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop >/dev/null 2>&1 ||
      true
  fi
  # The watchdog of a cluster stopped by its owner has nothing left to do
  # (unless it is the one stopping it).
  local w
  w=$(cat "$dir/watchdog.pid" 2>/dev/null || true)
  rm -rf -- "$dir"
  if [ -n "$w" ] && [ "$w" != "$$" ] && [ "$w" != "${BASHPID:-}" ]; then kill "$w" 2>/dev/null || true; fi
}

fieldsync_pg_start() {
  local dir=${1:-} watch=${2:-} bin user
  bin=$(fieldsync_pg_bin)
  user=$(fieldsync_pg_user)
  if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-pg.XXXXXX"); else mkdir -p "$dir"; fi
  chmod 0700 "$dir"
  [ -z "$user" ] || chown "$user" "$dir"
  printf '%s' "$user" >"$dir/user"
  # The watchdog first, so that a kill during initdb leaves nothing behind.
  # Its output goes nowhere: whoever reads ours (popen) must see EOF.
  if [ -n "$watch" ]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; bash "$2" stop "$3"' \
      watchdog "$watch" "${BASH_SOURCE[0]}" "$dir" </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watchdog.pid"
  fi
  if ! fieldsync_pg_as "$user" "$bin/initdb" -D "$dir/data" -U fieldsync -A trust --no-sync \
       -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
    echo "error: initdb failed in $dir/data: $(tail -n 1 "$dir/initdb.log")" >&2
    fieldsync_pg_stop "$dir"
    return 1
  fi
  # Socket only (listen_addresses empty), in DIR; no durability needed for
  # tests (fsync off: a crash of the machine loses a test cluster only).
  if ! fieldsync_pg_as "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
       -o "-c listen_addresses='' -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
       start >/dev/null 2>&1; then
    echo "error: the PostgreSQL server did not start: $(tail -n 1 "$dir/server.log" 2>/dev/null)" >&2
    fieldsync_pg_stop "$dir"
    return 1
  fi
  fieldsync_pg_as "$user" "$bin/createdb" -h "$dir" -U fieldsync fieldsync >/dev/null
  echo "$dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start)
      shift
      dir="" watch=""
      while [ $# -gt 0 ]; do
        case "$1" in
          --watch) watch=$2; shift 2 ;;
          *) dir=$1; shift ;;
        esac
      done
      fieldsync_pg_start "$dir" "$watch" ;;
    stop) fieldsync_pg_stop "${2:?usage: postgres.sh stop DIR}" ;;
    *) echo "usage: $0 start [DIR] [--watch PID] | stop DIR" >&2; exit 2 ;;
  esac
fi
