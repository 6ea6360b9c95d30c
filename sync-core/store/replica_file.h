// What a replica file says of itself, read without opening it as a Replica
// (which would migrate or create it): for the hub's commands that check a
// backup before putting it in place (hub/commands/hub_file.h).
#ifndef FIELDSYNC_STORE_REPLICA_FILE_H_
#define FIELDSYNC_STORE_REPLICA_FILE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "change/id.h"

namespace fieldsync {

struct ReplicaFileFacts {
  bool has_log = false;               // the replica's tables are there
  std::optional<DeviceId> device_id;  // none if the file names none
  int64_t log_head = 0;               // the newest log position; 0 if none
};

// The facts of the SQLite file at `path` (which must exist); an error from
// SQLite if it cannot be read.
absl::StatusOr<ReplicaFileFacts> ReadReplicaFile(const std::string& path);

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_REPLICA_FILE_H_
