// The JSON fieldhub prints (--json): built as nlohmann::ordered_json (keys in
// the order they are added), written as one line.
#ifndef FIELDSYNC_HUB_COMMANDS_JSON_OUT_H_
#define FIELDSYNC_HUB_COMMANDS_JSON_OUT_H_

#include <string>

#include "nlohmann/json.hpp"

namespace fieldsync::hub {

using Json = nlohmann::ordered_json;

// `value` as one line of JSON and a newline, spaced as fieldhub has always
// printed it ({"code": "LC", "name": "Lào Cai"}), so that scripts reading
// it keep working. UTF-8 is kept; invalid UTF-8 becomes U+FFFD; controls,
// DEL, C1 controls and bidirectional formatting characters (what
// IsUnsafeForTerminal refuses, base/terminal.h) are escaped as \uXXXX, so
// that a reader gets them exactly and a terminal never receives them raw.
std::string JsonLine(const Json& value);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_COMMANDS_JSON_OUT_H_
