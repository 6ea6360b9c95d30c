// hub.db as a file, for `fieldhub backup` and `fieldhub restore`
// (hub/help/backup.txt, restore.txt; docs/FORMATS.md, "Hub backup"): a
// consistent copy of a file another process is serving, what a hub file
// says of itself (whose it is, how far its log goes), fsync, and the lock
// that keeps a restore from replacing the file under `fieldhub serve`.
#ifndef FIELDSYNC_HUB_COMMANDS_HUB_FILE_H_
#define FIELDSYNC_HUB_COMMANDS_HUB_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"

namespace fieldsync::hub {

// What a hub file says of itself.
struct HubFileFacts {
  DeviceId hub_id;       // the hub's device id (the replica's), the one its laptops know
  int64_t log_head = 0;  // the last position of its log (0: empty)
};

// Reads them from the hub file at `path` (an existing regular file; opened
// without creating anything beside it but SQLite's own -wal and -shm, gone
// when it is closed). With `check`, PRAGMA quick_check must say ok first,
// and the hub's own tables must be there.
// INVALID_ARGUMENT, one line, for a file that is not a hub database (not
// SQLite, damaged, a laptop's replica, of a newer hub schema).
absl::StatusOr<HubFileFacts> ReadHubFile(const std::string& path, bool check);

// The devices revoked in the hub file at `path` (hub_nodes.revoked_at set).
absl::StatusOr<std::vector<DeviceId>> RevokedDevices(const std::string& path);

// Copies the hub file `source`, which `fieldhub serve` may be writing in
// another process, into `dest` (an existing empty file) with SQLite's
// online backup API, in one read transaction of `source`: the copy is the
// file as one commit left it.
absl::Status OnlineCopy(const std::string& source, const std::string& dest);

// PRAGMA wal_checkpoint(TRUNCATE) of the file at `path`: its write-ahead
// log folded into it (no other process may have it open).
absl::Status Checkpoint(const std::string& path);

// Appends one entry to the audit trail of the hub file at `path`
// (hub/audit.h), in a write transaction of its own that waits for the
// server's (busy timeout).
absl::Status AppendAuditTo(const std::string& path, const std::string& actor,
                           const std::string& action, const std::string& detail);

// fsync of the file at `path`, and of the directory that holds it.
absl::Status SyncFile(const std::string& path);
absl::Status SyncDirectoryOf(const std::string& path);

// The lock of DIR/serve.lock (flock, exclusive, not waiting): `serve` holds
// it while it runs, `restore` while it replaces hub.db. Released when
// destroyed (or when the process ends, however it ends).
class ServeLock {
 public:
  // FAILED_PRECONDITION if another process holds it; `holder_says` is
  // what the message says then.
  static absl::StatusOr<std::unique_ptr<ServeLock>> Take(const std::string& dir,
                                                         const std::string& holder_says);
  ~ServeLock();
  ServeLock(const ServeLock&) = delete;
  ServeLock& operator=(const ServeLock&) = delete;

 private:
  explicit ServeLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_COMMANDS_HUB_FILE_H_
