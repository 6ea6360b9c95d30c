// The console's Conflicts and Set-aside pages over real sockets
// (docs/CONSOLE.md, "Conflicts and work set aside"): a field changed on two
// laptops of the office while apart shows both values, who wrote each and
// when, masked while locked; it is resolved by the node library's call of
// `fieldnode conflict resolve` (keep one, or write a new one), with its
// checks. A change the laptop set aside (its signature damaged on this
// disk: the laptop's own check before the push) is listed with the hub's
// code and its actions, refused where the library refuses, discarded. A
// locked console and a foreign Origin change nothing. The console is a real
// process on a node enrolled with a real fieldhub serve; the office's second
// laptop is a node of the same office at the same hub.
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "base/json.h"
#include "store/sqlite.h"
#include "support/console_client.h"

namespace fieldsync::testing {
namespace {

constexpr char kTyped[] = "Nguyễn Thị Hằng";
constexpr char kHere[] = "Nguyễn Thị Hằng (tên khai sinh)";
constexpr char kThere[] = "Nguyễn Thị Hăng";

class ConsoleConflictTest : public ConsoleClientTest {
 protected:
  void SetUp() override {
    ConsoleClientTest::SetUp();
    if (HasFatalFailure()) return;
    BecomeFirstDevice();
    if (HasFatalFailure()) return;
    second_ = &JoinedLaptop();
    if (HasFatalFailure()) return;
    StartConsole();
    session_ = SignIn();
    ASSERT_FALSE(session_.empty());
    Unlock();
  }
  std::string Intake(const std::string& name) {
    auto made = Change("intake", {{"person", {{"full_name", name}, {"sex", "female"}}}});
    EXPECT_TRUE(made);
    if (!made) return "";
    EXPECT_EQ(made->status, 200) << made->body;
    return Body(made).value("case_code", "");
  }
  void ConflictOnTheName(const std::string& code) {
    ConsoleTestBase::ConflictOnTheName(*second_, code, kHere, kThere);
  }
  std::string NameOf(const std::string& code) {
    const Json file = Page("case?ref=" + code);
    for (const Json& f : file["person"]["fields"]) {
      if (f["column"] == "full_name") return f.value("value", "");
    }
    return "";
  }

  harness::LocalNode* second_ = nullptr;
};

TEST_F(ConsoleConflictTest, BothValuesAreShownWithWhoAndWhenThenOneIsKept) {
  const std::string code = Intake(kTyped);
  ASSERT_FALSE(code.empty());
  ConflictOnTheName(code);
  if (HasFatalFailure()) return;

  const Json page = Page("conflicts");
  ASSERT_EQ(page["conflicts"].size(), 1u) << page;
  const Json& k = page["conflicts"][0];
  EXPECT_EQ(k["case_code"], code);
  EXPECT_EQ(k["table"], "persons");
  EXPECT_EQ(k["field"], "full_name");
  EXPECT_EQ(k["current"]["value"], kHere) << k;
  EXPECT_EQ(k["other"]["value"], kThere) << k;
  // Each value's writer: this laptop's registered name, the other's.
  EXPECT_NE(k["current"]["by"], k["other"]["by"]) << k;
  EXPECT_FALSE(k["other"]["by"].get<std::string>().empty());
  EXPECT_GT(k["current"]["millis"].get<int64_t>(), 0);
  EXPECT_GT(k["other"]["millis"].get<int64_t>(), 0);
  EXPECT_EQ(Page("case?ref=" + code)["open_conflicts"], 1) << "the case file's badge";
  EXPECT_EQ(Page("today")["open_conflicts"], 1);

  // Locked: the conflict is listed, neither value is.
  ASSERT_EQ(Change("lock", Json::object())->status, 200);
  auto locked = Get("/api/conflicts", session_);
  ASSERT_TRUE(locked);
  ASSERT_EQ(locked->status, 200) << locked->body;
  EXPECT_EQ(locked->body.find("Hằng"), std::string::npos) << locked->body;
  EXPECT_EQ(locked->body.find("Hăng"), std::string::npos) << locked->body;
  const Json masked = Body(locked);
  EXPECT_EQ(masked["masked"], true);
  EXPECT_EQ(masked["conflicts"][0]["current"]["state"], "locked");
  EXPECT_FALSE(masked["conflicts"][0]["current"].contains("value"));
  auto refused = Change("resolve", {{"ref", code}, {"field", "full_name"}, {"keep", "other"}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 423) << refused->body;
  EXPECT_EQ(Body(refused)["error"], "err.locked");
  Unlock();
  EXPECT_EQ(Page("conflicts")["conflicts"].size(), 1u) << "nothing was resolved while locked";

  // The library's checks: what to keep, a field with no conflict.
  auto bad_keep = Change("resolve", {{"ref", code}, {"field", "full_name"}, {"keep", "mine"}});
  ASSERT_TRUE(bad_keep);
  EXPECT_EQ(bad_keep->status, 400) << bad_keep->body;
  EXPECT_EQ(Body(bad_keep)["field"], "keep");
  auto no_conflict = Change("resolve", {{"ref", code}, {"field", "sex"}, {"keep", "other"}});
  ASSERT_TRUE(no_conflict);
  EXPECT_EQ(no_conflict->status, 404) << no_conflict->body;
  EXPECT_EQ(Body(no_conflict)["error"], "err.not_found");
  auto not_text = Change("resolve", {{"ref", code}, {"field", 3}, {"keep", "other"}});
  ASSERT_TRUE(not_text);
  EXPECT_EQ(not_text->status, 400) << not_text->body;
  EXPECT_EQ(Body(not_text)["field"], "field");
  auto foreign = Post("/api/resolve", session_,
                      {{"ref", code}, {"field", "full_name"}, {"keep", "other"}},
                      "http://attacker.example");
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);
  EXPECT_EQ(Page("conflicts")["conflicts"].size(), 1u) << "nothing was resolved";
  EXPECT_EQ(NameOf(code), kHere);

  auto kept = Change("resolve", {{"ref", code}, {"field", "full_name"}, {"keep", "other"}});
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->status, 200) << kept->body;
  EXPECT_TRUE(Page("conflicts")["conflicts"].empty());
  EXPECT_EQ(NameOf(code), kThere) << "the second laptop's value kept";
  EXPECT_EQ(Page("case?ref=" + code)["open_conflicts"], 0);
}

TEST_F(ConsoleConflictTest, ANewValueIsWrittenThroughTheLibrarysParsing) {
  const std::string code = Intake(kTyped);
  ASSERT_FALSE(code.empty());
  ConflictOnTheName(code);
  if (HasFatalFailure()) return;
  // A value that is not text is refused, naming the form's field.
  auto number = Change("resolve", {{"ref", code}, {"field", "full_name"}, {"keep", "value"},
                                   {"value", 7}});
  ASSERT_TRUE(number);
  EXPECT_EQ(number->status, 400) << number->body;
  EXPECT_EQ(Body(number)["field"], "value");
  EXPECT_EQ(Page("conflicts")["conflicts"].size(), 1u);
  // Typed decomposed (NFD): written NFC.
  auto written = Change("resolve", {{"ref", code}, {"field", "full_name"}, {"keep", "value"},
                                    {"value", "Nguye\xcc\x82\xcc\x83n Thi\xcc\xa3 Ha\xcc\x86\xcc\x80ng"}});
  ASSERT_TRUE(written);
  ASSERT_EQ(written->status, 200) << written->body;
  EXPECT_TRUE(Page("conflicts")["conflicts"].empty());
  EXPECT_EQ(NameOf(code), kTyped);
}

TEST_F(ConsoleConflictTest, ADamagedChangeSetAsideIsListedRefusedAKeepAndDiscarded) {
  const std::string code = Intake("Lò Thị Mai");
  ASSERT_FALSE(code.empty());
  // The case's commit damaged on this laptop's disk (its stored signature
  // zeroed): the laptop's own check before the push sets it aside.
  {
    auto db = sqlite::Db::Open(node_ + "/replica.db", "");
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("UPDATE _fs_signatures SET sig = zeroblob(64) WHERE pos = "
                            "(SELECT max(pos) FROM _fs_signatures)").ok());
  }
  auto synced = Fieldnode({"sync"});
  ASSERT_EQ(synced.exit_code, 0) << synced.out << synced.err;

  const Json page = Page("setaside");
  ASSERT_EQ(page["set_aside"].size(), 1u) << page;
  const Json& item = page["set_aside"][0];
  EXPECT_EQ(item["code"], "DAMAGED");
  EXPECT_FALSE(item["reason"].get<std::string>().empty());
  EXPECT_GT(item["at_millis"].get<int64_t>(), 0);
  EXPECT_EQ(item["actions"], Json::array({"discard"})) << "a damaged change is not kept";
  EXPECT_EQ(Page("today")["set_aside"], 1);
  const uint64_t seq = item["seq"];

  // The library refuses a keep of it; a malformed number or action, a
  // locked console, a foreign Origin change nothing.
  auto keep = Change("setaside", {{"seq", seq}, {"action", "keep"}});
  ASSERT_TRUE(keep);
  EXPECT_EQ(keep->status, 409) << keep->body;
  EXPECT_EQ(Body(keep)["error"], "err.refused");
  for (const Json& wrong : {Json(std::to_string(seq)), Json(-1), Json(0), Json(nullptr)}) {
    auto r = Change("setaside", {{"seq", wrong}, {"action", "discard"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << wrong.dump() << ": " << r->body;
    EXPECT_EQ(Body(r)["field"], "seq");
  }
  auto action = Change("setaside", {{"seq", seq}, {"action", "forget"}});
  ASSERT_TRUE(action);
  EXPECT_EQ(action->status, 400) << action->body;
  EXPECT_EQ(Body(action)["field"], "action");
  auto missing = Change("setaside", {{"seq", seq + 1000}, {"action", "discard"}});
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404) << missing->body;
  auto foreign = Post("/api/setaside", session_, {{"seq", seq}, {"action", "discard"}},
                      "http://attacker.example");
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);
  ASSERT_EQ(Change("lock", Json::object())->status, 200);
  auto locked = Change("setaside", {{"seq", seq}, {"action", "discard"}});
  ASSERT_TRUE(locked);
  EXPECT_EQ(locked->status, 423) << locked->body;
  EXPECT_EQ(Body(locked)["error"], "err.locked");
  EXPECT_EQ(Page("setaside")["set_aside"].size(), 1u) << "the list reads the same locked";
  Unlock();
  EXPECT_EQ(Page("setaside")["set_aside"].size(), 1u) << "nothing was discarded";

  auto discarded = Change("setaside", {{"seq", seq}, {"action", "discard"}});
  ASSERT_TRUE(discarded);
  ASSERT_EQ(discarded->status, 200) << discarded->body;
  EXPECT_TRUE(Page("setaside")["set_aside"].empty());
  EXPECT_EQ(Page("today")["set_aside"], 0);
  auto twice = Change("setaside", {{"seq", seq}, {"action", "discard"}});
  ASSERT_TRUE(twice);
  EXPECT_GE(twice->status, 400) << twice->body;
}

}  // namespace
}  // namespace fieldsync::testing
