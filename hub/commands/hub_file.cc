#include "hub/commands/hub_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace fieldsync::hub {
namespace {

absl::Status Errno(const std::string& doing) {
  return absl::FailedPreconditionError(absl::StrCat(doing, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("cannot open ", path));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno(absl::StrCat("cannot write ", path, " to disk"));
  return absl::OkStatus();
}

absl::Status SyncDirectoryOf(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return SyncFile(parent.empty() ? std::filesystem::path(".") : parent);
}

absl::StatusOr<std::unique_ptr<ServeLock>> ServeLock::Take(const std::string& dir,
                                                           const std::string& holder_says) {
  const std::string path = dir + "/serve.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("cannot open ", path));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const bool held = errno == EWOULDBLOCK;
    absl::Status s = held ? absl::FailedPreconditionError(holder_says)
                          : Errno(absl::StrCat("cannot lock ", path));
    ::close(fd);
    return s;
  }
  return std::unique_ptr<ServeLock>(new ServeLock(fd));
}

ServeLock::~ServeLock() { ::close(fd_); }

}  // namespace fieldsync::hub
