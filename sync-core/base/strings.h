// Debian's Abseil has its own absl::string_view (not std::string_view);
// these convert at the boundary, where we call absl::StrCat and friends.
#ifndef FIELDSYNC_BASE_STRINGS_H_
#define FIELDSYNC_BASE_STRINGS_H_

#include <cstdio>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace fieldsync {

inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// Text written elsewhere (on a node) for a terminal: control characters
// escaped as \xNN, so that no value can forge a line of its own (a fake
// audit entry, a fake row of a table).
inline std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_STRINGS_H_
