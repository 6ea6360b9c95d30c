#include "hub/commands/moved_mark.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/strings.h"

namespace fieldsync::hub {

std::string MovedMarkPath(const DataDir& dir) { return dir.path + "/hub.db.moved"; }

absl::Status RefuseIfMoved(const DataDir& dir) {
  const std::string mark = MovedMarkPath(dir);
  std::error_code ec;
  if (!std::filesystem::exists(mark, ec)) return absl::OkStatus();
  std::ifstream in(mark);
  std::string said;
  std::getline(in, said);
  if (said.size() > 300) said.resize(300);
  return absl::FailedPreconditionError(absl::StrCat(
      dir.ReplicaPath(), " was moved to PostgreSQL (", Printable(said),
      "): give the command --store with that database (or set $FIELDSYNC_HUB_STORE); hub.db "
      "is kept only as a backup. To go back to serving hub.db, remove ", mark,
      " (what was done on PostgreSQL since is not in hub.db)"));
}

absl::Status MarkMoved(const DataDir& dir, const std::string& where) {
  const std::string mark = MovedMarkPath(dir);
  const int fd = ::open(mark.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write ", mark, ": ", std::strerror(errno)));
  }
  const std::string line = absl::StrCat(
      "moved into ", where, " on ",
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(), absl::UTCTimeZone()), "\n");
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    return absl::FailedPreconditionError(absl::StrCat("cannot write ", mark));
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::hub
