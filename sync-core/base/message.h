// A message a front end can say in its own words: a stable key ("lib.…")
// and its parameters (a field's name, a limit, a line), carried by an
// absl::Status beside its English words. The command line prints the
// English words as ever; the console renders the key from its catalogue
// (node/console/assets/messages_library.js), Vietnamese first. Parameters
// never hold a sealed value: the code that attaches them leaves a value out
// unless its column is clear, and passes text from elsewhere as Printable.
#ifndef FIELDSYNC_BASE_MESSAGE_H_
#define FIELDSYNC_BASE_MESSAGE_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace fieldsync {

// Name and value of each parameter, in order ("field" a column, "table.col"
// or the form's field; the other names as each key's catalogue entry uses them).
using MessageParams = std::vector<std::pair<std::string, std::string>>;

struct Message {
  std::string key;
  MessageParams params;
};

// `s` with `key` and `params` attached (replacing any message attached
// before); an OK status is returned unchanged.
absl::Status WithMessage(absl::Status s, std::string_view key, const MessageParams& params = {});

// The message attached to `s`, if any.
std::optional<Message> MessageOf(const absl::Status& s);

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_MESSAGE_H_
