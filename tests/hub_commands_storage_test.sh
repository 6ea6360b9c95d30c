#!/usr/bin/env bash
# Fails if the hub's command line (hub/commands/) does storage work of its
# own: SQL, the SQLite API or the storage's SQLite code, SQLite's files
# beside hub.db. The commands call the store (hub/store.h) and the stored
# hub handled whole (hub/hub_files.h); a PostgreSQL store (issue 15)
# implements those, so nothing in hub/commands/ may know the embedded one.
# Comments are not read.
#
#   hub_commands_storage_test.sh SOURCE_ROOT
#
# Known exceptions in `exceptions` below (FILE:CODE, with the issue that
# removes them); a new finding fails, and so does an exception that no
# longer occurs.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: hub_commands_storage_test.sh SOURCE_ROOT (the repository's top folder)" >&2
  exit 2
fi
cd "$1"

# The SQLite API and the embedded storage's code; SQL in a string literal;
# SQLite's files beside a database.
pattern='sqlite3|sqlite_|Sqlite[A-Z]|store/sqlite\.h|"[^"]*\b(SELECT|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|PRAGMA|CREATE TABLE|ALTER TABLE)\b|"-(wal|shm|journal)"'

# Issue 15: OpenStore hands the commands the SQLite store, because
# `status`, `audit` and `report` read the hub's replica (replica()) and
# `serve` checks its file (CheckFile). OpenHubStore chooses it or the
# PostgreSQL one (hub/pg/store.h); status counts hub.db's rows only when
# the store is the SQLite one.
exceptions=(
  'hub/commands/command.h:#include "hub/sqlite_store.h"'
  'hub/commands/command.h:absl::StatusOr<std::unique_ptr<SqliteHubStore>> OpenStore(const DataDir& dir,'
  'hub/commands/command.cc:absl::StatusOr<std::unique_ptr<SqliteHubStore>> OpenStore(const DataDir& dir, FileCheck check) {'
  'hub/commands/command.cc:FS_ASSIGN_OR_RETURN(std::unique_ptr<SqliteHubStore> store,'
  'hub/commands/command.cc:SqliteHubStore::Open(dir.ReplicaPath()));'
  'hub/commands/command.cc:FS_ASSIGN_OR_RETURN(std::unique_ptr<SqliteHubStore> store, OpenStore(dir, check));'
  'hub/commands/status.cc:if (auto* sqlite = dynamic_cast<SqliteHubStore*>(store->get()); sqlite != nullptr) {'
)

found=$(for f in $(find hub/commands -name '*.cc' -o -name '*.h' | sort); do
  # Code only: // comments dropped (not inside a string: none of ours has //).
  sed -E 's://.*$::' "$f" | grep -nE "$pattern" | sed -E "s|^([0-9]+):[[:space:]]*|$f:|" || true
done)

fail=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  file=${line%%:*}
  code=${line#*:}
  known=0
  for e in "${exceptions[@]}"; do
    [ "$e" = "$file:$code" ] && known=1
  done
  if [ $known -eq 0 ]; then
    echo "FAIL: storage work in the command line: $line"
    fail=1
  fi
done <<< "$found"

for e in "${exceptions[@]}"; do
  file=${e%%:*}
  code=${e#*:}
  if ! echo "$found" | grep -qxF -- "$file:$code"; then
    echo "FAIL: the exception '$e' no longer occurs: remove it from $0"
    fail=1
  fi
done

if [ $fail -ne 0 ]; then
  echo "(the commands call hub/store.h and hub/hub_files.h; storage code goes behind them)"
  exit 1
fi
echo "ok: hub/commands/ does no storage work of its own (${#exceptions[@]} known exceptions, issue 15)"
