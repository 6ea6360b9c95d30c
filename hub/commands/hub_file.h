// The files of the hub's data directory, for `fieldhub serve`, `backup`
// and `restore`: fsync, and the lock that keeps a restore from replacing
// the hub's data under `fieldhub serve`. What the stored hub is and how it
// is copied is the storage's (hub/hub_files.h).
#ifndef FIELDSYNC_HUB_COMMANDS_HUB_FILE_H_
#define FIELDSYNC_HUB_COMMANDS_HUB_FILE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fieldsync::hub {

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
