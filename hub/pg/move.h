// Moving a hub.db into an empty PostgreSQL database (`fieldhub migrate
// --to`; docs/POSTGRES.md, "Moving a hub.db to PostgreSQL"): the registry,
// the audit trail, the log at the same positions with its chain, key
// records and their marks, commit chains, statements, checkpoints, the
// scope and collection tables, and the merged rows, in one transaction on
// PostgreSQL, checked before it commits: each table's count, the log
// chain's head, and the digest of every read of the hub's storage
// (hub/store_digest.h) equal on both sides, else nothing stays.
#ifndef FIELDSYNC_HUB_PG_MOVE_H_
#define FIELDSYNC_HUB_PG_MOVE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "clock/clock_source.h"

namespace fieldsync::hub::pg {

struct MoveOutcome {
  DeviceId hub_id;
  int64_t log_head = 0;
  std::string chain_head;  // the log chain's hash at log_head (32 bytes; "" for an empty log)
  // Each PostgreSQL table filled and the rows it holds, in load order.
  std::vector<std::pair<std::string, int64_t>> tables;
};

// Copies the hub in `hub_db` (a hub.db no process writes: the caller's
// copy of it, opened and brought up to this build's hub schema) into the
// database `target` names, which must hold no table (FAILED_PRECONDITION
// otherwise, nothing changed). `source` names hub.db in the audit entry
// (`hub.migrate`) appended last, by `actor`. Any failure, a check that
// finds a difference included, leaves the database as it was.
absl::StatusOr<MoveOutcome> MoveHubDb(const std::string& hub_db, const std::string& target,
                                      const std::string& source, const std::string& actor,
                                      ClockSource* clock);

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_MOVE_H_
