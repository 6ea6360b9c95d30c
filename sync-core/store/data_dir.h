// A replica inside a program's data directory (the node's, the hub's), and
// the status report both programs print of it.
#ifndef FIELDSYNC_STORE_DATA_DIR_H_
#define FIELDSYNC_STORE_DATA_DIR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "store/replica.h"

namespace fieldsync {

struct DataDir {
  std::string path;          // the directory
  std::string file;          // the replica file name in it, e.g. "replica.db"
  std::string init_command;  // what creates it, for messages: "fieldnode init"
  std::string env_var;       // the variable that names it, for messages

  std::string ReplicaPath() const { return path + "/" + file; }
};

// Creates the directory (mode 0700: victim data lives there) and a new
// replica in it. ALREADY_EXISTS if one is there.
absl::StatusOr<std::unique_ptr<Replica>> CreateReplicaIn(const DataDir& dir);

// Opens the existing replica. FAILED_PRECONDITION saying how to create one
// or where to point if there is none.
absl::StatusOr<std::unique_ptr<Replica>> OpenReplicaIn(const DataDir& dir);

// The status of a replica for people (aligned lines) or for scripts (one
// JSON object).
std::string FormatStatus(const DataDir& dir, const ReplicaStats& stats, bool json);

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_DATA_DIR_H_
