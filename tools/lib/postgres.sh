#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests (and later the demo): initdb in
# a directory of its own, run by an unprivileged user, listening on a Unix
# socket in that directory only (no TCP), stopped and removed when done.
# Nothing assumes a system service (Debian's postgresql-15 package is used for
# its binaries only). docs/POSTGRES.md, "A private cluster".
#
#   tools/lib/postgres.sh start [DIR] [--watch PID]
#       Makes DIR (a new directory under $TMPDIR if none), initdb, starts the
#       server (pg_ctl start -w) and prints one line: DIR. The server's
#       socket is in DIR/cluster (connect with host=DIR/cluster, user
#       fieldsync, database fieldsync). With --watch PID, a watchdog stops
#       the cluster and removes DIR once process PID is gone, however it
#       ended (SIGKILL by a ctest timeout included).
#   tools/lib/postgres.sh stop DIR
#       Stops the cluster (fast shutdown, immediate if that fails) and
#       removes DIR. Safe to call twice, and on a cluster never started.
#   tools/lib/postgres.sh user
#       As root: makes the cluster's system user if missing (tools/test's
#       install step runs it). Prints its name.
#
# As root (CI), the server runs as the system user `fieldsync-pg`, made for
# it and for nothing else: postgres refuses to run as root, and whoever
# runs as the cluster's user holds its trust superuser (COPY ... TO PROGRAM
# runs commands as that user), so no shared account (never `nobody`).
# DIR stays root's (mode 0711): what this script reads back to stop the
# cluster (`user`, `watchdog.pid`) is in DIR, out of that user's reach; the
# user owns DIR/cluster only (mode 0700: data directory, socket, logs).
# The tests connect over the socket as root; trust authentication is
# confined to that socket.

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

FIELDSYNC_PG_USER=fieldsync-pg

# The cluster's user: ourselves ("") unless we are root, then
# $FIELDSYNC_PG_USER, made now if missing (a system account: no login, no
# home). Fails in one line if it cannot be made.
fieldsync_pg_user() {
  if [ "$(id -u)" -ne 0 ]; then echo ""; return 0; fi
  if ! id -u "$FIELDSYNC_PG_USER" >/dev/null 2>&1; then
    if ! useradd --system --user-group --no-create-home --home-dir /nonexistent \
         --shell /usr/sbin/nologin "$FIELDSYNC_PG_USER" >/dev/null 2>&1 &&
       ! id -u "$FIELDSYNC_PG_USER" >/dev/null 2>&1; then  # made meanwhile by another start
      echo "error: could not make the system user $FIELDSYNC_PG_USER the private PostgreSQL runs as (useradd failed; PostgreSQL refuses root)" >&2
      return 1
    fi
  fi
  echo "$FIELDSYNC_PG_USER"
}

# As root, DIR and its control files must be root's: never act on what the
# cluster's user could have written.
fieldsync_pg_check_owner() {
  local path=$1
  [ "$(id -u)" -ne 0 ] || [ ! -e "$path" ] || [ "$(stat -c %u "$path")" = 0 ] || {
    echo "error: $path is not owned by root; not trusting it (tools/lib/postgres.sh)" >&2
    return 1
  }
}

fieldsync_pg_stop() {
  local dir=$1 bin user=""
  [ -n "$dir" ] || return 0
  [ -d "$dir" ] || return 0
  bin=$(fieldsync_pg_bin) || return 1
  fieldsync_pg_check_owner "$dir" || return 1
  fieldsync_pg_check_owner "$dir/user" || return 1
  fieldsync_pg_check_owner "$dir/watchdog.pid" || return 1
  user=$(cat "$dir/user" 2>/dev/null || true)
  if [ "$(id -u)" -eq 0 ] && [ "$user" != "$FIELDSYNC_PG_USER" ]; then
    echo "error: $dir/user names '$user', not $FIELDSYNC_PG_USER; not trusting it" >&2
    return 1
  fi
  if [ -f "$dir/cluster/data/postmaster.pid" ]; then
    fieldsync_pg_as "$user" "$bin/pg_ctl" -D "$dir/cluster/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
      fieldsync_pg_as "$user" "$bin/pg_ctl" -D "$dir/cluster/data" -m immediate -w -t 20 stop >/dev/null 2>&1 ||
      true
  fi
  # The watchdog of a cluster stopped by its owner has nothing left to do
  # (unless it is the one stopping it).
  local w
  w=$(cat "$dir/watchdog.pid" 2>/dev/null || true)
  rm -rf -- "$dir"
  if [[ "$w" =~ ^[0-9]+$ ]] && [ "$w" != "$$" ] && [ "$w" != "${BASHPID:-}" ]; then
    kill "$w" 2>/dev/null || true
  fi
}

fieldsync_pg_start() {
  local dir=${1:-} watch=${2:-} bin user
  bin=$(fieldsync_pg_bin)
  user=$(fieldsync_pg_user)
  if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-pg.XXXXXX"); else mkdir -p "$dir"; fi
  fieldsync_pg_check_owner "$dir"
  # DIR: ours, read by no one else; the cluster's user may only pass
  # through it to DIR/cluster, its own.
  if [ -n "$user" ]; then chmod 0711 "$dir"; else chmod 0700 "$dir"; fi
  rm -rf -- "$dir/cluster" "$dir/user" "$dir/watchdog.pid"
  mkdir -m 0700 "$dir/cluster"
  [ -z "$user" ] || chown "$user:" "$dir/cluster"
  printf '%s' "$user" >"$dir/user"
  # The watchdog first, so that a kill during initdb leaves nothing behind.
  # Its output goes nowhere: whoever reads ours (popen) must see EOF.
  if [ -n "$watch" ]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; bash "$2" stop "$3"' \
      watchdog "$watch" "${BASH_SOURCE[0]}" "$dir" </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watchdog.pid"
  fi
  local run=$dir/cluster
  if ! fieldsync_pg_as "$user" "$bin/initdb" -D "$run/data" -U fieldsync -A trust --no-sync \
       -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
    echo "error: initdb failed in $run/data: $(tail -n 1 "$dir/initdb.log")" >&2
    fieldsync_pg_stop "$dir"
    return 1
  fi
  # No durability needed for tests (fsync off: a crash of the machine
  # loses a test cluster only), set in the cluster's postgresql.conf (by its
  # user: the file is its), not on the command line, so that ALTER SYSTEM
  # can turn it on again (fieldsync-bench-hubstore's --pg-fsync on: a
  # setting given on the command line outranks postgresql.auto.conf, and
  # the benchmark's figures were taken without fsync until session 28).
  if ! printf '%s\n' "# tools/lib/postgres.sh: a test cluster (ALTER SYSTEM may override these)" \
       "fsync = off" "synchronous_commit = off" "full_page_writes = off" |
       fieldsync_pg_as "$user" tee -a "$run/data/postgresql.conf" >/dev/null; then
    echo "error: could not write the test settings into $run/data/postgresql.conf" >&2
    fieldsync_pg_stop "$dir"
    return 1
  fi
  # Socket only (listen_addresses empty), in DIR/cluster. The server's log
  # is the cluster user's, in DIR/cluster.
  if ! fieldsync_pg_as "$user" "$bin/pg_ctl" -D "$run/data" -l "$run/server.log" -w -t 60 \
       -o "-c listen_addresses='' -k $run" \
       start >/dev/null 2>&1; then
    echo "error: the PostgreSQL server did not start: $(tail -n 1 "$run/server.log" 2>/dev/null)" >&2
    fieldsync_pg_stop "$dir"
    return 1
  fi
  fieldsync_pg_as "$user" "$bin/createdb" -h "$run" -U fieldsync fieldsync >/dev/null
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
    user) fieldsync_pg_user ;;
    *) echo "usage: $0 start [DIR] [--watch PID] | stop DIR | user" >&2; exit 2 ;;
  esac
fi
