#!/usr/bin/env bash
# Fails if what is private to sync-core/store/ is used elsewhere: the raw
# SQLite connection under a Replica (store/replica_internal.h) and the
# replica's _fs_* tables. ARCHITECTURE.md, "The store behind its interface".
#
#   store_private_test.sh SOURCE_ROOT
#
# Exceptions:
#   - hub/sqlite_storage.cc and hub/sqlite_views.cc (the hub's storage) use
#     ReplicaInternal::HubStorageDb for the hub's own hub_* tables, kept in
#     the replica's file and written in its transactions (to go when the
#     hub's tables move to a store of their own). What they need of the
#     replica's tables is read through store/replica.h
#     (store/replica_relay.cc): no file outside store/ names an _fs_* table.
#   - tests reach the connection through tests/support/raw_db.h.
#   - hub/pg/move.cc (`fieldhub migrate --to`, session 23) reads the log,
#     signatures and authors of the *copy* of a hub.db being moved into
#     PostgreSQL by SQL on its _fs_log, _fs_signatures and _fs_devices: to
#     go when store/ has a reader of a replica's log with its signatures
#     (session 23's notes, next session).
set -euo pipefail
root=$1
cd "$root"
fail=0
sources() { find sync-core node hub tools proto -name '*.cc' -o -name '*.h' 2>/dev/null; }

# 1. Who includes store/replica_internal.h.
allowed_include='^(sync-core/store/[^/]+|hub/sqlite_storage\.cc|hub/sqlite_views\.cc|tests/support/raw_db\.h)$'
for f in $(grep -rlE '#[[:space:]]*include[[:space:]]*"store/replica_internal\.h"' \
             sync-core node hub tools tests 2>/dev/null); do
  if ! [[ $f =~ $allowed_include ]]; then
    echo "FAIL: $f includes store/replica_internal.h (private to store/; use the Replica API)"
    fail=1
  fi
done

# 2. Who uses the hub's escape hatch.
for f in $(grep -rl --include='*.cc' --include='*.h' 'HubStorageDb' sync-core node hub tools tests 2>/dev/null); do
  if ! [[ $f =~ ^(sync-core/store/replica(_internal\.h|\.cc)|hub/sqlite_storage\.cc|hub/sqlite_views\.cc)$ ]]; then
    echo "FAIL: $f uses ReplicaInternal::HubStorageDb, which is for the hub's storage only"
    fail=1
  fi
done

# 3. Who names an _fs_* table outside comments.
allowed_fs='^(sync-core/store/.*|hub/pg/move\.cc)$'
for f in $(sources | sort); do
  [[ $f =~ $allowed_fs ]] && continue
  hits=$(grep -nE '_fs_[a-z]' "$f" | grep -vE '^[0-9]+:[[:space:]]*//' || true)
  if [ -n "$hits" ]; then
    echo "FAIL: $f names tables private to store/:"
    echo "$hits" | head -5
    fail=1
  fi
done

# 4. Replica has no public accessor of its connection any more.
if grep -nE 'sqlite::Db&[[:space:]]+db\(\)' sync-core/store/replica.h; then
  echo "FAIL: store/replica.h hands out its connection"
  fail=1
fi

[ "$fail" = 0 ] && echo "ok: the replica's connection and _fs_* tables are used by store/ only (and the listed exceptions)"
exit "$fail"
