// Debian's Abseil has its own absl::string_view (not std::string_view);
// these convert at the boundary, where we call absl::StrCat and friends.
#ifndef FIELDSYNC_BASE_STRINGS_H_
#define FIELDSYNC_BASE_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace fieldsync {

inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_STRINGS_H_
