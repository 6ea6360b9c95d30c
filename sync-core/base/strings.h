// Debian's Abseil has its own absl::string_view (not std::string_view);
// these convert at the boundary, where we call absl::StrCat and friends.
#ifndef FIELDSYNC_BASE_STRINGS_H_
#define FIELDSYNC_BASE_STRINGS_H_

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace fieldsync {

inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// Text written elsewhere (on a node, by the hub) for a terminal, as one
// line: what a terminal must not receive raw (IsUnsafeForTerminal,
// base/terminal.h: C0 and C1 controls, DEL, bidirectional formatting
// characters) is escaped rather than replaced, so that an officer sees what
// was there (an alert shows "lc2\x1b[31m", "\u202e1cl"), and so is every C0
// control, newline and tab included (no value can forge a line of its own: a
// fake audit entry, a fake row of a table), and each byte of invalid UTF-8
// ("\xff"). Everything else, Vietnamese included, is kept. Applying it
// twice gives what applying it once does.
std::string Printable(std::string_view s);

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_STRINGS_H_
