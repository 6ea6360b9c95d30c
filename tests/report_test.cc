// The anonymised report (sync-core/report): counts of live cases by clear
// attributes only, small counts suppressed, never a sensitive value.
#include "report/report.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "support/replica_fixture.h"

namespace fieldsync::report {
namespace {

using testing::kTestEpochMillis;
using testing::OpenReplica;
using testing::T;

// Planted in sensitive columns: must appear in no rendering.
constexpr char kCanaryName[] = "Nguyễn Thị Canary 7f3a";
constexpr char kCanaryNarrative[] = "bị đưa qua biên giới canary-narrative-91c2";
constexpr char kCanaryId[] = "ID-CANARY-000123456";

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    replica_ = OpenReplica(dir_.File("r.db"), &clock_);
    ASSERT_TRUE(replica_);
  }

  // A case and (unless `with_person` is false) its person.
  RowId AddCase(const std::string& code, const std::string& province, const std::string& status,
                const std::string& channel, const std::string& opened_on,
                const std::string& age_band, const std::string& sex, bool with_person = true) {
    const RowId person = Id16::NewRandom();
    const RowId kase = Id16::NewRandom();
    LocalTxn t;
    if (with_person) {
      t.Create("persons", person, {{"full_name", T(kCanaryName)},
                                   {"id_number", T(kCanaryId)},
                                   {"province", T(province.c_str())},
                                   {"age_band", T(age_band.c_str())},
                                   {"sex", T(sex.c_str())}});
    }
    t.Create("cases", kase, {{"case_code", T(code.c_str())},
                             {"person_id", Value::Bytes(std::string(person.view()))},
                             {"province", T(province.c_str())},
                             {"status", T(status.c_str())},
                             {"intake_channel", T(channel.c_str())},
                             {"opened_on", T(opened_on.c_str())},
                             {"narrative", T(kCanaryNarrative)}});
    auto c = replica_->Write(t);
    EXPECT_TRUE(c.ok()) << c.status();
    return kase;
  }

  // 7 live cases in LC (5 intake, 2 verifying), 1 in HG, one deleted.
  void Plant() {
    for (int i = 0; i < 5; ++i) {
      AddCase(absl::StrCat("LC-A", i), "LC", "intake", "hotline_call", "2026-03-0" + std::to_string(i + 1),
              "18-24", "female");
    }
    AddCase("LC-B1", "LC", "verifying", "walk_in", "2026-04-10", "12-15", "male");
    AddCase("LC-B2", "LC", "verifying", "walk_in", "2026-04-11", "", "", /*with_person=*/false);
    AddCase("HG-C1", "HG", "intake", "police", "2026-04-12", "25-34", "female");
    const RowId gone = AddCase("LC-GONE", "LC", "closed", "police", "2025-01-01", "50+", "male");
    auto d = replica_->Write(LocalTxn().Delete("cases", gone));
    ASSERT_TRUE(d.ok()) << d.status();
  }

  static const Cell* Find(const Report& r, const std::string& breakdown, const std::string& value) {
    for (const Breakdown& b : r.breakdowns) {
      if (b.name != breakdown) continue;
      for (const Cell& c : b.cells) {
        if (c.value == value) return &c;
      }
    }
    return nullptr;
  }

  testing::TempDir dir_;
  FakeClock clock_{kTestEpochMillis};
  std::unique_ptr<Replica> replica_;
};

TEST_F(ReportTest, CountsLiveCasesByClearAttributes) {
  Plant();
  auto r = BuildReport(*replica_, ReportOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->total, 8);
  EXPECT_EQ(Find(*r, "status", "intake")->count, 6);
  EXPECT_EQ(Find(*r, "status", "verifying")->count, 2);
  EXPECT_EQ(Find(*r, "status", "closed")->count, 0);  // the deleted case is not counted
  EXPECT_EQ(Find(*r, "intake_channel", "hotline_call")->count, 5);
  EXPECT_EQ(Find(*r, "province", "LC")->count, 7);
  EXPECT_EQ(Find(*r, "province", "HG")->count, 1);
  EXPECT_EQ(Find(*r, "month", "2026-03")->count, 5);
  EXPECT_EQ(Find(*r, "month", "2026-04")->count, 3);
  EXPECT_EQ(Find(*r, "month", "2025-01"), nullptr);
  EXPECT_EQ(Find(*r, "age_band", "18-24")->count, 5);
  EXPECT_EQ(Find(*r, "age_band", "unknown")->count, 1);  // no person
  EXPECT_EQ(Find(*r, "sex", "female")->count, 6);
  EXPECT_EQ(Find(*r, "sex", "unknown")->count, 1);
  EXPECT_FALSE(r->case_codes_included);
  EXPECT_TRUE(r->cases.empty());
}

TEST_F(ReportTest, SmallCountsAreSuppressedInBothRenderings) {
  Plant();
  auto r = BuildReport(*replica_, ReportOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string text = RenderText(*r);
  const std::string json = RenderJson(*r);
  // verifying: 2 cases, shown as <5, never as 2.
  for (const std::string& line : {std::string("  verifying"), std::string("  HG")}) {
    const size_t at = text.find(line);
    ASSERT_NE(at, std::string::npos) << text;
    const std::string rest = text.substr(at, text.find('\n', at) - at);
    const size_t shown = rest.find("<5");
    ASSERT_NE(shown, std::string::npos) << rest;
    EXPECT_EQ(rest.find_first_of("0123456789"), shown + 1) << rest;  // only the 5 of "<5"
  }
  EXPECT_NE(text.find("Live cases: 8"), std::string::npos) << text;
  EXPECT_NE(json.find("{\"value\": \"verifying\", \"count\": null, \"shown\": \"<5\", "
                      "\"suppressed\": true}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("{\"value\": \"HG\", \"count\": null, \"shown\": \"<5\""),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("{\"value\": \"intake\", \"count\": 6, \"shown\": \"6\", "
                      "\"suppressed\": false}"),
            std::string::npos)
      << json;
  // Zero is not suppressed: it identifies no one.
  EXPECT_NE(json.find("{\"value\": \"closed\", \"count\": 0,"), std::string::npos) << json;
  EXPECT_EQ(ShowCount(4, 5), "<5");
  EXPECT_EQ(ShowCount(5, 5), "5");
  EXPECT_EQ(ShowCount(0, 5), "0");
  EXPECT_EQ(ShowCount(9, 10), "<10");

  // A higher threshold suppresses more, the total too.
  ReportOptions strict;
  strict.threshold = 10;
  auto s = BuildReport(*replica_, strict);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_NE(RenderText(*s).find("Live cases: <10"), std::string::npos) << RenderText(*s);
  EXPECT_NE(RenderJson(*s).find("\"live_cases\": {\"count\": null, \"shown\": \"<10\""),
            std::string::npos);
  // Threshold 1 suppresses nothing.
  ReportOptions none;
  none.threshold = 1;
  auto n = BuildReport(*replica_, none);
  ASSERT_TRUE(n.ok());
  EXPECT_NE(RenderJson(*n).find("{\"value\": \"verifying\", \"count\": 2,"), std::string::npos);
}

TEST_F(ReportTest, NoSensitiveValueInAnyRendering) {
  Plant();
  ReportOptions o;
  o.include_case_codes = true;
  o.threshold = 1;  // nothing hidden by suppression either
  auto r = BuildReport(*replica_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  for (const std::string& out : {RenderText(*r), RenderJson(*r)}) {
    for (const char* canary : {kCanaryName, kCanaryNarrative, kCanaryId, "Canary", "canary"}) {
      EXPECT_EQ(out.find(canary), std::string::npos) << canary << " in:\n" << out;
    }
  }
}

TEST_F(ReportTest, CaseCodesWithClearAttributesOnlyWhenAsked) {
  Plant();
  ReportOptions o;
  o.include_case_codes = true;
  o.title = "Lào Cai office";
  auto r = BuildReport(*replica_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->cases.size(), 8u);
  EXPECT_EQ(r->cases.front().province, "HG");  // ordered by province, month, code
  EXPECT_EQ(r->cases.front().case_code, "HG-C1");
  EXPECT_EQ(r->cases.front().month, "2026-04");
  EXPECT_EQ(r->cases.front().intake_channel, "police");
  const std::string text = RenderText(*r);
  EXPECT_NE(text.find("Lào Cai office"), std::string::npos);
  EXPECT_NE(text.find("LC-B2"), std::string::npos);
  EXPECT_EQ(text.find("LC-GONE"), std::string::npos);
  const std::string json = RenderJson(*r);
  EXPECT_NE(json.find("{\"case_code\": \"LC-A0\", \"status\": \"intake\", \"intake_channel\": "
                      "\"hotline_call\", \"province\": \"LC\", \"month\": \"2026-03\"}"),
            std::string::npos)
      << json;
  auto plain = BuildReport(*replica_, ReportOptions{});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(RenderText(*plain).find("LC-A0"), std::string::npos);
  EXPECT_EQ(RenderJson(*plain).find("case_code\""), std::string::npos);
}

TEST_F(ReportTest, AValueCannotForgeALineOfTheText) {
  for (int i = 0; i < 5; ++i) {
    AddCase(absl::StrCat("X", i), "LC\nLive cases: 999", "intake", "police", "2026-05-01",
            "18-24", "male");
  }
  auto r = BuildReport(*replica_, ReportOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string text = RenderText(*r);
  EXPECT_EQ(text.find("\nLive cases: 999"), std::string::npos) << text;
  EXPECT_NE(text.find("LC\\x0aLive cases: 999"), std::string::npos) << text;
  EXPECT_NE(RenderJson(*r).find("\"LC\\nLive cases: 999\""), std::string::npos);
}

TEST_F(ReportTest, AnEmptyReplicaReportsZero) {
  auto r = BuildReport(*replica_, ReportOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->total, 0);
  EXPECT_NE(RenderText(*r).find("Live cases: 0"), std::string::npos);
  EXPECT_NE(RenderJson(*r).find("\"live_cases\": {\"count\": 0,"), std::string::npos);
}

TEST_F(ReportTest, RefusesABadThreshold) {
  ReportOptions o;
  o.threshold = 0;
  auto r = BuildReport(*replica_, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReportTest, RefusesToReadAColumnTheSchemaCallsSensitive) {
  // The same schema, except that cases.status is declared sensitive: the
  // report must refuse rather than read it.
  std::vector<TableDef> tables = FieldOfficeSchema().tables();
  for (TableDef& t : tables) {
    if (t.name != "cases") continue;
    for (ColumnDef& c : t.columns) {
      if (c.name == "status") c.sensitivity = Sensitivity::kSensitive;
    }
  }
  Schema strict(FieldOfficeSchema().version(), std::move(tables));
  ReplicaOptions ro;
  ro.path = dir_.File("strict.db");
  ro.clock = &clock_;
  ro.schema = &strict;
  auto rep = Replica::Open(ro);
  ASSERT_TRUE(rep.ok()) << rep.status();
  auto r = BuildReport(**rep, ReportOptions{});
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInternal) << r.status();
  EXPECT_NE(r.status().message().find("cases.status"), absl::string_view::npos) << r.status();
}

// The JSON's exact shape (keys, order, spacing) as scripts read it, and a
// title of every kind of text parsed back exactly by a JSON reader: what a
// terminal must not see arrives escaped, Vietnamese as it is, bytes that are
// not UTF-8 as U+FFFD.
TEST(ReportJsonTest, TheShapeIsKeptAndEveryTextParsesBack) {
  Report r;
  r.title = "B\xC3\xA1o c\xC3\xA1o";  // Báo cáo
  r.threshold = 5;
  r.total = 7;
  r.breakdowns.push_back(Breakdown{"status", "Status", {Cell{"intake", 6}, Cell{"closed", 1}}});
  r.case_codes_included = true;
  r.cases.push_back(CaseLine{"LC-A0", "intake", "police", "LC", "2026-03"});
  EXPECT_EQ(RenderJson(r),
            "{\"title\": \"B\xC3\xA1o c\xC3\xA1o\", \"threshold\": 5, \"live_cases\": "
            "{\"count\": 7, \"shown\": \"7\", \"suppressed\": false}, \"breakdowns\": "
            "[{\"name\": \"status\", "
            "\"label\": \"Status\", \"cells\": [{\"value\": \"intake\", \"count\": 6, \"shown\": "
            "\"6\", \"suppressed\": false}, {\"value\": \"closed\", \"count\": null, \"shown\": "
            "\"<5\", \"suppressed\": true}]}], \"case_codes_included\": true, \"cases\": "
            "[{\"case_code\": \"LC-A0\", \"status\": \"intake\", \"intake_channel\": \"police\", "
            "\"province\": \"LC\", \"month\": \"2026-03\"}]}\n");
  r.case_codes_included = false;
  r.title = "L\xC3\xB2 \x1b[31m\"q\"\\ \xE2\x80\xAE \n\t\x7f \xFF end";
  const std::string out = RenderJson(r);
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find("\xE2\x80\xAE"), std::string::npos) << out;
  EXPECT_EQ(out.find("\"cases\""), std::string::npos) << out;
  const nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["title"], "L\xC3\xB2 \x1b[31m\"q\"\\ \xE2\x80\xAE \n\t\x7f \xEF\xBF\xBD end");
  EXPECT_EQ(j["breakdowns"][0]["cells"][1]["shown"], "<5");
  EXPECT_TRUE(j["live_cases"]["count"].is_number());
}

}  // namespace
}  // namespace fieldsync::report
