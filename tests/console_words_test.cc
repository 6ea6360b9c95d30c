// The console's data in keys, not in the library's English words (issue 14,
// requirement 3; audit 14, section 2): a case file's History sent in parts
// the page says with its labels, a sealed field this laptop has no key for
// sent as the key of what became of it, and the replica held by another
// writer answered as busy (503 err.busy, lib.store.busy), not as a program
// error. Over real sockets: a real `fieldnode console` on a node enrolled
// with a real fieldhub serve, a colleague's laptop in process, the replica's
// SQLite file held by a real second connection.
#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>

#include "base/json.h"
#include "node/ops/cases.h"
#include "node/ops/office.h"
#include "store/sqlite.h"
#include "support/console_client.h"

namespace fieldsync::testing {
namespace {

class ConsoleWordsTest : public ConsoleClientTest {
 protected:
  // The words of the page's catalogue files, as the console serves them.
  std::string Asset(const std::string& path) {
    auto r = Client().Get(path.c_str());
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 200) << path;
    return r->body;
  }
};

// English words the library says for the command line that the page's data
// must not carry (the key ring's problem, the History's words).
constexpr const char* kEnglish[] = {"has not been granted", "no key: version", "not opened",
                                    "last written", "received whole", "persons created",
                                    "cases created", "cases: "};

// A colleague's laptop (the office's first device) opens Hằng's case; this
// laptop is enrolled in the office but not yet approved, so it receives the
// file and no key for it. Its console sends each sealed field's state with
// the key lib.sealed.no_key (never the English problem), and the History in
// parts (table, change, columns) that the page's catalogue has words for.
TEST_F(ConsoleWordsTest, ASealedFieldWithoutItsKeyAndTheHistoryCarryKeysNotEnglishWords) {
  harness::LocalNode& colleague = AddNode("LC");
  ASSERT_TRUE(colleague.Sync().ok());
  node::ops::Office office{colleague.replica(), *colleague.keys(), "LC", "Lò Văn Minh", ""};
  node::ops::NewCase nc;
  nc.person = {{"full_name", "Nguyễn Thị Hằng"}, {"sex", "female"}, {"birth_year", "2006"}};
  nc.kase = {{"narrative", "Bị đưa sang biên giới, được công an giải cứu"},
             {"exploitation_types", "labour,forced_marriage"}};
  auto opened = node::ops::OpenCase(office, nc);
  ASSERT_TRUE(opened.ok()) << opened.status();
  ASSERT_TRUE(colleague.Sync().ok());
  auto synced = Fieldnode({"sync"});
  ASSERT_EQ(synced.exit_code, 0) << synced.err;
  StartSignedInAndUnlocked();
  if (HasFatalFailure()) return;

  const Json file = Page("case?ref=" + opened->code);
  ASSERT_TRUE(file.contains("person") && file["person"].is_object()) << file;
  const std::string data = file.dump();
  for (const char* english : kEnglish) {
    EXPECT_EQ(data.find(english), std::string::npos) << "\"" << english << "\" in " << data;
  }
  bool saw_name = false;
  for (const Json* record : {&file["person"], &file["case"]}) {
    for (const Json& f : (*record)["fields"]) {
      EXPECT_FALSE(f.contains("problem")) << f;
      if (!f.contains("state")) continue;
      EXPECT_EQ(f["state"], "no key") << f;
      ASSERT_TRUE(f.contains("message")) << f;
      EXPECT_EQ(f["message"]["key"], "lib.sealed.no_key") << f;
      EXPECT_FALSE(f.contains("value")) << f;
      if (f["column"] == "full_name") saw_name = true;
    }
  }
  EXPECT_TRUE(saw_name) << "the victim's name is sealed and has no key here: " << file;

  // The History: the case and its person created, by the colleague's
  // laptop, each column a label of the page's catalogue.
  const std::string words = Asset("/messages.js");
  const std::string library = Asset("/messages_library.js");
  EXPECT_NE(library.find("\"lib.sealed.no_key\""), std::string::npos);
  // The file came whole (this laptop's first pull installs rows, not the
  // colleague's commits): its lines are the fields' last writes.
  bool person_written = false, case_written = false;
  ASSERT_FALSE(file["history"].empty()) << file;
  for (const Json& h : file["history"]) {
    EXPECT_FALSE(h.contains("what")) << h;
    ASSERT_TRUE(h["table"].is_string() && h["change"].is_string() && h["columns"].is_array())
        << h;
    const std::string change = h["change"];
    EXPECT_TRUE(change == "created" || change == "changed" || change == "deleted") << h;
    const std::string key = "\"history." + change + (h["columns"].empty() ? "_only\"" : "\"");
    EXPECT_NE(words.find(key), std::string::npos) << key << " is not in the catalogue";
    for (const Json& column : h["columns"]) {
      const std::string label = "\"field." + column.get<std::string>() + "\"";
      EXPECT_NE(words.find(label), std::string::npos) << label << " is not in the catalogue";
    }
    // Written there: the colleague's laptop by its name.
    EXPECT_EQ(h["this_laptop"], false) << h;
    EXPECT_FALSE(h["who"].get<std::string>().empty()) << h;
    const auto wrote = [&h](const std::string& column) {
      for (const Json& c : h["columns"]) {
        if (c == column) return true;
      }
      return false;
    };
    if (h["table"] == "persons" && wrote("full_name")) person_written = true;
    if (h["table"] == "cases" && wrote("exploitation_types")) case_written = true;
  }
  EXPECT_TRUE(person_written) << file["history"];
  EXPECT_TRUE(case_written) << file["history"];
  for (const char* value : {"\"value.labour\"", "\"value.forced_marriage\""}) {
    EXPECT_NE(words.find(value), std::string::npos) << value << " is not in the catalogue";
  }
}

// Another process holds the replica's write lock (as the sync daemon does
// during a long pull): a change through the console waits the busy time,
// then is refused as busy -- 503 err.busy with lib.store.busy, nothing
// changed -- not as "a program error"; once the lock is let go, the same
// change is made once.
TEST_F(ConsoleWordsTest, ADatabaseHeldByAnotherWriterIsSaidBusyNotAProgramError) {
  StartSignedInAndUnlocked();
  if (HasFatalFailure()) return;
  auto made = Change("intake", {{"person", {{"full_name", "Lò Thị Mai"}, {"sex", "female"}}}});
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 200) << made->body;
  const std::string code = Body(made)["case_code"];

  auto other = sqlite::Db::Open(node_ + "/replica.db", "");
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE((*other)->Exec("BEGIN IMMEDIATE").ok());
  const Json edit = {{"ref", code}, {"field", "case.narrative"}, {"value", "Gặp lại gia đình"}};
  auto busy = Change("setfield", edit);
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 503) << busy->body;
  const Json refused = Body(busy);
  EXPECT_EQ(refused["error"], "err.busy") << refused;
  ASSERT_TRUE(refused.contains("message")) << refused;
  EXPECT_EQ(refused["message"]["key"], "lib.store.busy") << refused;
  ASSERT_TRUE((*other)->Exec("ROLLBACK").ok());

  auto done = Change("setfield", edit);
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, 200) << done->body;
  const Json file = Page("case?ref=" + code);
  size_t narratives = 0;
  for (const Json& f : file["case"]["fields"]) {
    if (f["column"] == "narrative") {
      EXPECT_EQ(f["value"], "Gặp lại gia đình");
      ++narratives;
    }
  }
  EXPECT_EQ(narratives, 1u) << file;
  // One change of the narrative after the intake (whose line writes every
  // column), by this laptop: said so, not by the library's "this laptop".
  size_t edits = 0;
  for (const Json& h : file["history"]) {
    EXPECT_EQ(h["this_laptop"], true) << h;
    EXPECT_EQ(h["who"], "") << h;
    if (h["change"] != "changed") continue;
    for (const Json& c : h["columns"]) edits += c == "narrative" ? 1 : 0;
  }
  EXPECT_EQ(edits, 1u) << "the refused change wrote nothing: " << file["history"];
}

}  // namespace
}  // namespace fieldsync::testing
