// JSON output of the fieldnode commands: documents built with nlohmann-json
// (ordered: keys in the order written), written on one line as fieldnode
// always wrote them ({"key": value, ...}) with strings escaped by
// JsonString: control and bidirectional formatting characters escaped, so
// a reader gets them exactly and a terminal never receives them raw.
#ifndef FIELDSYNC_NODE_COMMANDS_JSON_H_
#define FIELDSYNC_NODE_COMMANDS_JSON_H_

#include <string>

#include <nlohmann/json.hpp>

namespace fieldsync::node {

using Json = nlohmann::ordered_json;

// `j` on one line, followed by a newline.
std::string JsonLine(const Json& j);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_COMMANDS_JSON_H_
