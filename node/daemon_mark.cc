#include "node/daemon_mark.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace fieldsync::node {
namespace {
std::string MarkPath(const std::string& data_dir) { return data_dir + "/daemon.lock"; }
}  // namespace

DaemonMark::DaemonMark(const std::string& data_dir) {
  fd_ = open(MarkPath(data_dir).c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ >= 0 && flock(fd_, LOCK_SH) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

DaemonMark::~DaemonMark() {
  if (fd_ >= 0) close(fd_);
}

bool DaemonRunning(const std::string& data_dir) {
  const int fd = open(MarkPath(data_dir).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  const bool held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);  // releases it if taken
  return held;
}

}  // namespace fieldsync::node
