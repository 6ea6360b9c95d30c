// The JSON the fieldnode commands print (node/commands/json.h): documents of
// nlohmann-json written as fieldnode always wrote them, keys in the order
// given, controls and bidirectional marks escaped (terminal_test.cc).
#include <gtest/gtest.h>

#include "node/commands/json.h"

namespace fieldsync::node {
namespace {

TEST(NodeJsonTest, WritesOneLineInTheOrderGiven) {
  Json doc = {{"case_code", "LC-2611-K3QX7"}, {"urgent", true}, {"age", 17}};
  doc["person"] = nullptr;
  doc["history"] = Json::array();
  doc["history"].push_back({{"by", "lc1 (LC)"}, {"what", "cases created"}});
  doc["rows"] = Json::object();
  EXPECT_EQ(JsonLine(doc),
            "{\"case_code\": \"LC-2611-K3QX7\", \"urgent\": true, \"age\": 17, \"person\": null, "
            "\"history\": [{\"by\": \"lc1 (LC)\", \"what\": \"cases created\"}], \"rows\": {}}\n");
  EXPECT_EQ(JsonLine(Json::array()), "[]\n");
}

TEST(NodeJsonTest, EscapesWhatATerminalMustNotReceive) {
  // A name with an escape sequence, a newline and a right-to-left override.
  Json doc = {{"name", "L\xC3\xB2\x1b[31m\nx\xE2\x80\xAE"}, {"vi", "Nguyễn Thị Hằng"}};
  EXPECT_EQ(JsonLine(doc),
            "{\"name\": \"L\xC3\xB2\\u001b[31m\\nx\\u202e\", \"vi\": \"Nguyễn Thị Hằng\"}\n");
}

// `fieldnode show --json` (like every JSON output of fieldnode) writes its
// values through JsonLine: a right-to-left override, DEL or a C1 control is
// escaped so the reader gets the value exactly, not a replacement character
// in its place.
TEST(NodeJsonTest, ShowEscapesDirectionMarksInsteadOfReplacingThem) {
  EXPECT_EQ(JsonLine(Json{{"value", "abc\xE2\x80\xAE" "fed\x7f\xC2\x9B"}}),
            "{\"value\": \"abc\\u202efed\\u007f\\u009b\"}\n");
  EXPECT_EQ(JsonLine(Json{{"value", "Hằng \"x\"\n"}}),
            "{\"value\": \"Hằng \\\"x\\\"\\n\"}\n");
}

// What a program stores or hands to SQLite's json_each (the hub's
// hub_purged.provinces, its lists of positions): compact, as the hub always
// stored it; a stray byte replaced, never an exception.
TEST(NodeJsonTest, StoredJsonIsCompactAndNeverThrows) {
  EXPECT_EQ(JsonStored(Json(std::vector<std::string>{"LC", "HN"})), "[\"LC\",\"HN\"]");
  EXPECT_EQ(JsonStored(Json(std::vector<int64_t>{3, 17})), "[3,17]");
  EXPECT_EQ(JsonStored(Json(std::vector<std::string>{})), "[]");
  EXPECT_EQ(JsonStored(Json(std::vector<std::string>{"a\"b\\", std::string("x\xFFy")})),
            "[\"a\\\"b\\\\\",\"x\xEF\xBF\xBDy\"]");
}

}  // namespace
}  // namespace fieldsync::node
