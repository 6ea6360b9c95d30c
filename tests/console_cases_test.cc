// The Cases page's search and the case file's edit form, over real sockets
// (issue 14, point 4; audit of session 30, rows 4b and 4d): the console is a
// real `fieldnode console` process on a node enrolled with a real fieldhub
// serve, its keys in the key agent (so the search goes through the agent's
// index, as on a social worker's laptop).
//
// - GET /api/search is paged as the case list is (20 a page): a broad query
//   opens, shows and records in the access log only its page's hits (before
//   session 30, every hit at once: a common surname opened and logged
//   thousands of records).
// - GET /api/case offers the edit form every field, set or not, and the
//   values of an enum set (exploitation_types) to tick (before, only the
//   fields holding a value, and an enum set as a word to type).
// - POST /api/setfield of a date while this laptop's clock and the hub's
//   differ carries the library's warning as a key (before, English only).
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/json.h"
#include "store/replica.h"
#include "support/console_client.h"
#include "sync/report.h"

namespace fieldsync::testing {
namespace {

class ConsoleCasesTest : public ConsoleClientTest {
 protected:
  // The node's replica, opened beside the console (SQLite: another
  // connection), or null with the test failed.
  std::unique_ptr<Replica> OpenReplica() {
    ReplicaOptions o;
    o.path = node_ + "/replica.db";
    auto r = Replica::Open(o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : nullptr;
  }
  // Entries of the office's access log (each a case opened, or the index
  // built).
  size_t AccessEntries() {
    auto r = OpenReplica();
    if (!r) return 0;
    auto rows = r->ListRows("access_log", /*include_deleted=*/true);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? rows->size() : size_t{0};
  }
  // A case opened in the console's intake; its code.
  std::string Intake(const std::string& name) {
    auto made = Change("intake", {{"person", {{"full_name", name}, {"sex", "female"}}}});
    EXPECT_TRUE(made);
    if (!made) return "";
    EXPECT_EQ(made->status, 200) << made->body;
    return made->status == 200 ? Body(made)["case_code"].get<std::string>() : "";
  }
  static const Json* Field(Json& record, const std::string& column) {
    for (const Json& f : record["fields"]) {
      if (f["column"] == column) return &f;
    }
    return nullptr;
  }
};

TEST_F(ConsoleCasesTest, SearchIsPagedAndAPageOpensAndLogsOnlyItsOwnHits) {
  StartSignedInAndUnlocked();
  // 25 victims named Nguyễn (more than a page), two who are not.
  std::set<std::string> nguyen;
  const char* given[] = {"Thị Hằng", "Văn An", "Thị Lan", "Văn Bình", "Thị Mai"};
  for (int i = 0; i < 25; ++i) {
    const std::string code =
        Intake("Nguyễn " + std::string(given[i % 5]) + " " + std::to_string(i + 1));
    ASSERT_FALSE(code.empty());
    nguyen.insert(code);
  }
  ASSERT_FALSE(Intake("Lò Thị Mai").empty());
  ASSERT_FALSE(Intake("Vàng Văn Sử").empty());
  const size_t before = AccessEntries();

  std::set<std::string> shown;
  auto page = [&](const std::string& n, size_t want_hits) {
    Json p = Page("search?q=nguyen&page=" + n);
    EXPECT_EQ(p.value("total", size_t{0}), 25u) << p.dump();
    EXPECT_EQ(p.value("page_size", size_t{0}), 20u) << p.dump();
    EXPECT_EQ(p["hits"].size(), want_hits) << p.dump();
    for (const Json& h : p["hits"]) {
      EXPECT_EQ(h["full_name"].get<std::string>().rfind("Nguyễn ", 0), 0u) << h.dump();
      EXPECT_TRUE(nguyen.count(h["case_code"].get<std::string>())) << h.dump();
      shown.insert(h["case_code"].get<std::string>());
    }
  };
  page("1", 20);
  // The index built (one entry), then the page's 20 cases: not all 25.
  EXPECT_EQ(AccessEntries(), before + 1 + 20) << "the first page opened more than its own hits";
  page("2", 5);
  EXPECT_EQ(AccessEntries(), before + 1 + 25);
  EXPECT_EQ(shown, nguyen) << "the two pages are not the 25 hits";
  // Read again: logged once per unlock. Past the end: nothing.
  page("1", 20);
  page("3", 0);
  EXPECT_EQ(AccessEntries(), before + 1 + 25);
  // No page number: the first.
  Json first = Page("search?q=nguyen");
  EXPECT_EQ(first.value("page", size_t{0}), 1u);
  EXPECT_EQ(first["hits"].size(), 20u);
  // A page that is no page: refused, nothing opened.
  for (const char* bad : {"0", "x", "-1", "99999999999999999999"}) {
    auto r = Get(std::string("/api/search?q=nguyen&page=") + bad, session_);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
    EXPECT_EQ(Json::parse(r->body, nullptr, false).value("error", ""), "err.invalid") << r->body;
  }
  EXPECT_EQ(AccessEntries(), before + 1 + 25);
}

TEST_F(ConsoleCasesTest, TheEditFormOffersEveryFieldAndAnEnumSetsValuesToTick) {
  StartSignedInAndUnlocked();
  const std::string code = Intake("Nguyễn Thị Hằng");
  ASSERT_FALSE(code.empty());
  Json file = Page("case?ref=" + code);
  ASSERT_TRUE(file.is_object());
  // Fields no intake set are offered all the same, with their types; links
  // and the replica's derived copies are not.
  std::set<std::string> offered;
  std::string set_type, date_type;
  for (const Json& f : file["editable"]) {
    offered.insert(f["field"].get<std::string>());
    if (f["field"] == "case.exploitation_types") set_type = f["type"];
    if (f["field"] == "person.date_of_birth") date_type = f["type"];
  }
  EXPECT_EQ(set_type, "enum set") << file["editable"].dump();
  EXPECT_EQ(date_type, "date") << file["editable"].dump();
  for (const char* f : {"case.narrative", "case.interview_notes", "person.other_names",
                        "case.status", "person.sex"}) {
    EXPECT_TRUE(offered.count(f)) << f;
  }
  for (const char* f : {"case.person_id", "case.deciding_org", "case.opened_month",
                        "case.crime_reported_hour"}) {
    EXPECT_FALSE(offered.count(f)) << f;
  }
  EXPECT_EQ(Field(file["case"], "exploitation_types"), nullptr) << "not set at intake";
  const Json want = {"sexual", "labour", "forced_marriage", "organ_removal", "child_selling",
                     "surrogacy", "other"};
  EXPECT_EQ(file["choices"]["exploitation_types"], want) << file["choices"].dump();
  EXPECT_EQ(file["choices"]["status"].size(), 5u) << file["choices"].dump();

  // The boxes ticked, sent as the page sends them: kept in the schema's order.
  auto set = Change("setfield",
                    {{"ref", code}, {"field", "case.exploitation_types"}, {"value", "labour,sexual"}});
  ASSERT_TRUE(set);
  ASSERT_EQ(set->status, 200) << set->body;
  Json after = Page("case?ref=" + code);
  const Json* types = Field(after["case"], "exploitation_types");
  ASSERT_NE(types, nullptr);
  EXPECT_EQ((*types)["value"], "sexual,labour");
  // None ticked: cleared.
  set = Change("setfield", {{"ref", code}, {"field", "case.exploitation_types"}, {"value", ""}});
  ASSERT_TRUE(set);
  ASSERT_EQ(set->status, 200) << set->body;
  EXPECT_EQ(Field(Page("case?ref=" + code)["case"], "exploitation_types"), nullptr);
}

TEST_F(ConsoleCasesTest, ADateWrittenWhileTheClocksDifferCarriesTheWarningsKey) {
  // The hub's time last seen three days ahead of this laptop's clock at the
  // last sync, a minute ago (as a sync records them), written before the
  // console starts.
  {
    auto r = OpenReplica();
    ASSERT_NE(r, nullptr);
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    ASSERT_TRUE(r->SetCursor(sync::kHubTimeSeenCursor, now + 3 * 86'400'000LL).ok());
    ASSERT_TRUE(r->SetCursor(sync::kLastSyncCursor, now - 60'000).ok());
  }
  StartSignedInAndUnlocked();
  const std::string code = Intake("Nguyễn Thị Hằng");
  ASSERT_FALSE(code.empty());
  auto set = Change("setfield",
                    {{"ref", code}, {"field", "person.date_of_birth"}, {"value", "2006-05-12"}});
  ASSERT_TRUE(set);
  ASSERT_EQ(set->status, 200) << set->body;
  Json body = Body(set);
  EXPECT_FALSE(body.value("warning", "").empty()) << set->body;
  ASSERT_TRUE(body.contains("warning_message")) << set->body;
  EXPECT_EQ(body["warning_message"]["key"], "lib.clock.hub_ahead") << set->body;
  EXPECT_EQ(body["warning_message"]["params"]["days"], "3") << set->body;
  // Not a date: no warning.
  set = Change("setfield", {{"ref", code}, {"field", "case.narrative"}, {"value", "Bị lừa"}});
  ASSERT_TRUE(set);
  ASSERT_EQ(set->status, 200) << set->body;
  EXPECT_FALSE(Body(set).contains("warning_message")) << set->body;
}

}  // namespace
}  // namespace fieldsync::testing
