// The SQLite connection under a Replica, and with it the _fs_* tables: both
// private to store/. Outside store/ a Replica is used through its public
// interface (store/replica.h) only, with two exceptions, each listed here and
// held to by tests/store_private_test.sh:
//
//  - HubStorageDb(): for the hub's storage only (hub/sqlite_storage.cc,
//    hub/sqlite_views.cc). The hub keeps its hub_* tables in its replica's
//    file and writes them inside the replica's transactions. It names none
//    of the replica's _fs_* tables: what it needs of them (log entries, the
//    sequence held of a device, collected tombstones dropped) is Replica's
//    (store/replica_relay.cc). Goes when the hub's tables move to a store
//    of their own.
//  - tests, through tests/support/raw_db.h, to look at or damage the file.
//
// store/ files that keep their own tables in the replica's file (the key
// ring, the access log, the legacy-seal pass) use Db().
#ifndef FIELDSYNC_STORE_REPLICA_INTERNAL_H_
#define FIELDSYNC_STORE_REPLICA_INTERNAL_H_

#include "store/replica.h"
#include "store/sqlite.h"

namespace fieldsync {

class ReplicaInternal {
 public:
  // For store/ only.
  static sqlite::Db& Db(Replica& replica);
  // For the hub's storage only; goes when issue 12's hub storage lands.
  static sqlite::Db& HubStorageDb(Replica& replica);
};

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_REPLICA_INTERNAL_H_
