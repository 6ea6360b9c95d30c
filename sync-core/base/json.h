// The JSON the programs print (--json): documents built with nlohmann-json
// (ordered: keys in the order written), written on one line as fieldnode and
// fieldhub always wrote them ({"key": value, ...}) with strings escaped by
// JsonString (base/args.h): control and bidirectional formatting characters
// escaped, so that a reader gets them exactly and a terminal never receives
// them raw; bytes that are not UTF-8 become U+FFFD.
#ifndef FIELDSYNC_BASE_JSON_H_
#define FIELDSYNC_BASE_JSON_H_

#include <string>

#include <nlohmann/json.hpp>

namespace fieldsync {

using Json = nlohmann::ordered_json;

// `j` on one line, without a newline.
std::string JsonText(const Json& j);

// `j` on one line, followed by a newline.
std::string JsonLine(const Json& j);

// `j` as a program stores it or hands it to SQLite's JSON functions
// (json_each): compact (["LC","HN"]), nlohmann's own escaping, bytes that
// are not UTF-8 replaced by U+FFFD (never an exception). Not for a
// terminal: JsonText/JsonLine are.
std::string JsonStored(const Json& j);

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_JSON_H_
