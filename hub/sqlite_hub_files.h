// The embedded storage's hub file, hub.db, handled whole (hub/hub_files.h):
// its facts and revocations read with the raw SQLite API, SQLite's online
// backup, PRAGMA wal_checkpoint, and the -wal, -shm and -journal files
// SQLite keeps beside it.
#ifndef FIELDSYNC_HUB_SQLITE_HUB_FILES_H_
#define FIELDSYNC_HUB_SQLITE_HUB_FILES_H_

#include <memory>
#include <string>
#include <vector>

#include "hub/hub_files.h"

namespace fieldsync::hub {

class SqliteHubFiles final : public HubFiles {
 public:
  // Opens the file without creating anything beside it but SQLite's own
  // -wal and -shm, gone when it is closed.
  absl::StatusOr<HubFileFacts> Read(const std::string& path, bool check) const override;
  absl::StatusOr<std::vector<DeviceId>> RevokedDevices(const std::string& path) const override;
  absl::StatusOr<std::vector<std::pair<DeviceId, std::string>>> LinkKeys(
      const std::string& path) const override;
  absl::Status RefuseNewer(const std::string& path) const override;
  // SQLite's online backup API, every page in one step: one read
  // transaction of `source`.
  absl::Status OnlineCopy(const std::string& source, const std::string& dest) const override;
  // In a write transaction of its own that waits for the server's (busy
  // timeout).
  absl::Status AppendAudit(const std::string& path, const std::string& actor,
                           const std::string& action, const std::string& detail) const override;
  absl::StatusOr<std::unique_ptr<HubStore>> Open(const std::string& path) const override;
  // PRAGMA wal_checkpoint(TRUNCATE), then -wal and -shm removed.
  absl::Status Seal(const std::string& path) const override;
  absl::Status MoveAside(const std::string& from, const std::string& to) const override;
  void Remove(const std::string& path) const override;
  absl::StatusOr<std::shared_ptr<void>> HoldWrites(const std::string& path) const override;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_SQLITE_HUB_FILES_H_
