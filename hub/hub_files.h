// The hub's stored data handled whole, as `fieldhub backup` and `fieldhub
// restore` handle it (hub/help/backup.txt, restore.txt; docs/FORMATS.md,
// "Hub backup"): what a stored hub says of itself, a consistent copy taken
// while the hub serves, an entry in its audit trail written from outside
// the server, and the files it keeps beside its own. The commands call
// only this; SqliteHubFiles (hub/sqlite_hub_files.h) implements it for the
// embedded storage, one file hub.db, and a PostgreSQL store implements the
// same with its own tools. A `path` names where a stored hub is (for the
// embedded storage, its file).
#ifndef FIELDSYNC_HUB_HUB_FILES_H_
#define FIELDSYNC_HUB_HUB_FILES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "hub/store.h"

namespace fieldsync::hub {

// What a stored hub says of itself.
struct HubFileFacts {
  DeviceId hub_id;       // the hub's device id (the replica's), the one its laptops know
  int64_t log_head = 0;  // the last position of its log (0: empty)
};

class HubFiles {
 public:
  virtual ~HubFiles() = default;

  // Its facts, read without creating anything or changing the data. With
  // `check`, its integrity is checked first (every page) and the hub's own
  // tables must be there. INVALID_ARGUMENT, one line, for what is not a hub
  // of this kind (damaged, a laptop's replica, of a newer hub schema).
  virtual absl::StatusOr<HubFileFacts> Read(const std::string& path, bool check) const = 0;

  // The devices revoked in it.
  virtual absl::StatusOr<std::vector<DeviceId>> RevokedDevices(const std::string& path) const = 0;

  // The link keys it holds (hub_nodes.link_pk, closed devices' marks
  // included), by device; none in a hub of a schema before them.
  virtual absl::StatusOr<std::vector<std::pair<DeviceId, std::string>>> LinkKeys(
      const std::string& path) const = 0;

  // FAILED_PRECONDITION, saying so in one line, if it was written by a
  // newer hub schema than this build reads; OK if there is none. Reads only.
  virtual absl::Status RefuseNewer(const std::string& path) const = 0;

  // The hub at `source`, which `fieldhub serve` may be writing in another
  // process, copied into `dest` (an existing empty file) as one commit left
  // it.
  virtual absl::Status OnlineCopy(const std::string& source, const std::string& dest) const = 0;

  // Appends one entry to its audit trail (hub/audit.h) from outside the
  // server, waiting for the server's writes.
  virtual absl::Status AppendAudit(const std::string& path, const std::string& actor,
                                   const std::string& action,
                                   const std::string& detail) const = 0;

  // Its store opened (its schema brought up to this build's).
  virtual absl::StatusOr<std::unique_ptr<HubStore>> Open(const std::string& path) const = 0;

  // What it keeps beside `path` folded into it and removed: `path` alone
  // is the hub (no other process may have it open).
  virtual absl::Status Seal(const std::string& path) const = 0;

  // `from` renamed `to` with what it keeps beside it that is not folded in
  // yet (a damaged file's unfolded writes stay beside it under the new
  // name). FAILED_PRECONDITION if the rename fails; nothing moved then.
  virtual absl::Status MoveAside(const std::string& from, const std::string& to) const = 0;

  // `path` and whatever it keeps beside it, removed (a failed copy).
  virtual void Remove(const std::string& path) const = 0;
  // Holds `path`'s write lock until the returned handle is dropped (no
  // other command writes it meanwhile; nothing is written through it).
  // FAILED_PRECONDITION if another holds it for 5 s.
  virtual absl::StatusOr<std::shared_ptr<void>> HoldWrites(const std::string& path) const = 0;
};

// The stored-hub operations of the storage this fieldhub keeps its data in
// (the embedded SQLite storage).
const HubFiles& TheHubFiles();

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_HUB_FILES_H_
