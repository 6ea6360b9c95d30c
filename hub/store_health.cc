#include "hub/store_health.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fieldsync::hub {

StoreHealth::StoreHealth(HubStore* store, std::string path)
    : store_(store), path_(std::move(path)) {
  struct stat st {};
  if (!path_.empty() && ::stat(path_.c_str(), &st) == 0) {
    have_file_ = true;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
}

absl::Status StoreHealth::Check() {
  if (have_file_) {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        return absl::FailedPreconditionError(
            absl::StrCat("the hub's file ", path_, " is gone (deleted or moved)"));
      }
      return absl::UnavailableError(
          absl::StrCat("the hub's file ", path_, " cannot be looked at: ", std::strerror(errno)));
    }
    if (st.st_dev != dev_ || st.st_ino != ino_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the hub's file ", path_, " is not the file this hub opened (moved or replaced)"));
    }
  }
  if (absl::StatusOr<int64_t> head = store_->LogHead(); !head.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the hub's store cannot be read: ", head.status().message()));
  }
  // A schema changed by another fieldhub (attack review 22, MED 5): the
  // store refuses writes from now on, and the hub says so.
  if (absl::Status s = store_->CheckSchema(); !s.ok()) return s;
  return absl::OkStatus();
}

}  // namespace fieldsync::hub
