// Tests only: the raw SQLite connection under a Replica, to look at tables
// that are private to store/ (_fs_*, the key ring's) or to damage the file on
// purpose. Production code outside store/ has no such access
// (store/replica_internal.h, tests/store_private_test.sh).
#ifndef FIELDSYNC_TESTS_SUPPORT_RAW_DB_H_
#define FIELDSYNC_TESTS_SUPPORT_RAW_DB_H_

#include "store/replica_internal.h"

namespace fieldsync::testing {

inline sqlite::Db& RawDb(Replica& replica) { return ReplicaInternal::Db(replica); }

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_RAW_DB_H_
