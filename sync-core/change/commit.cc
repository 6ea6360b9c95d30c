#include "change/commit.h"

#include "absl/strings/str_cat.h"

namespace fieldsync {

std::string Version::ToString() const {
  return absl::StrCat(hlc.ToString(), "@", device.ToString());
}

std::string Commit::Name() const { return absl::StrCat(author.ToString(), "#", seq); }

}  // namespace fieldsync
