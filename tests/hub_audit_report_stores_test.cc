// `fieldhub audit` and `fieldhub report` on both hub stores (issue 15): the
// same history -- provinces added, laptops enrolled, cases with their
// victims, access-log entries (one laptop's chain tampered with: an entry
// edited, one deleted), all at the same clock times -- is stored in a
// hub.db and in a PostgreSQL database, and each command gives the same
// output, byte for byte, from both (docs/POSTGRES.md, "audit and report").
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/json.h"
#include "clock/clock_source.h"
#include "crypto/identity.h"
#include "hub/enrolment.h"
#include "hub/pg/storage.h"
#include "hub/sqlite_storage.h"
#include "merge/commit_merge.h"
#include "store/access_log.h"
#include "support/fieldhub_in_process.h"
#include "support/pg_cluster.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::testing {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kDay = 24 * 3600 * 1000;

class AuditReportStoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.Create().ok());
    lc_ = OpenReplica(dir_.File("lc.db"), &clock_lc_);
    hn_ = OpenReplica(dir_.File("hn.db"), &clock_hn_);
    ASSERT_TRUE(lc_ && hn_);
  }

  // Both stores, each given `step` at the same clock time.
  void OnBoth(const std::function<void(hub::HubStorage&)>& step) {
    for (hub::HubStorage* s : {sqlite_.get(), pg_.get()}) step(*s);
  }

  void OpenStores() {
    std::filesystem::create_directories(dir_.File("hub"));
    auto s = hub::SqliteHubStorage::Open(dir_.File("hub/hub.db"), &clock_hub_);
    ASSERT_TRUE(s.ok()) << s.status();
    sqlite_ = *std::move(s);
    auto p = hub::PostgresHubStorage::Open(db_.uri(), &clock_hub_);
    ASSERT_TRUE(p.ok()) << p.status();
    pg_ = *std::move(p);
  }

  // The same keys enrolled at both stores.
  void Enrol(hub::HubStorage& s, const std::string& province, const crypto::DeviceIdentity& id,
             const std::string& name) {
    auto token = s.MakeEnrollToken(province, kDay, "Nguyễn Văn An");
    ASSERT_TRUE(token.ok()) << token.status();
    absl::Status e = s.EnrolTransaction([&](hub::HubEnrolTxn& txn) -> absl::Status {
      return hub::EnrolNode(txn, token->token, id.device(), name, id.public_keys(),
                            /*proven=*/false, clock_hub_.NowMillis())
          .status();
    });
    ASSERT_TRUE(e.ok()) << e;
  }

  // Every commit of `laptop` merged by `s` (the hub's merge, no admission
  // rules: what is stored is what the audit must read back).
  void Merge(hub::HubStorage& s, Replica& laptop) {
    auto commits = laptop.LocalCommitsAfter(0, 1000);
    ASSERT_TRUE(commits.ok()) << commits.status();
    absl::Status w = s.Write([&](hub::HubWriteTxn& txn) {
      return txn.MergeTransaction([&](MergeStore& rows) {
        return MergeCommits(rows, *commits, nullptr).status();
      });
    });
    ASSERT_TRUE(w.ok()) << w;
  }

  // A case and its victim, clear columns only.
  RowId NewCase(Replica& r, const std::string& province, const std::string& code,
                const char* status, const char* channel, const char* age, const char* sex) {
    const RowId person = Id16::NewRandom();
    const RowId kase = Id16::NewRandom();
    LocalTxn t;
    t.Create("persons", person, {{"age_band", T(age)}, {"sex", T(sex)},
                                 {"province", Value::Text(province)}});
    t.Create("cases", kase, {{"case_code", Value::Text(code)},
                             {"person_id", Value::Bytes(std::string(person.view()))},
                             {"province", Value::Text(province)},
                             {"status", T(status)},
                             {"intake_channel", T(channel)}});
    auto w = r.Write(t);
    EXPECT_TRUE(w.ok()) << w.status();
    return kase;
  }

  void Access(Replica& r, const std::string& province, const RowId& kase, const char* action) {
    clock_lc_.Advance(1000);
    clock_hn_.Advance(1000);
    auto e = AppendAccess(r, province, "Lò Thị Mai", kase, action, "persons.full_name",
                          clock_lc_.NowMillis());
    ASSERT_TRUE(e.ok()) << e.status();
  }

  // The history, stored in both.
  void History() {
    OpenStores();
    ASSERT_TRUE(sqlite_ && pg_);
    OnBoth([](hub::HubStorage& s) {
      ASSERT_TRUE(s.AddProvince("LC", "Lào Cai", "Nguyễn Văn An").ok());
      ASSERT_TRUE(s.AddProvince("HN", "Hà Nội", "Trần Thị Bình").ok());
    });
    const crypto::DeviceIdentity lc_id = crypto::DeviceIdentity::Generate(lc_->device_id());
    const crypto::DeviceIdentity hn_id = crypto::DeviceIdentity::Generate(hn_->device_id());
    clock_hub_.Advance(60'000);
    OnBoth([&](hub::HubStorage& s) { Enrol(s, "LC", lc_id, "Máy Lào Cai 1"); });
    clock_hub_.Advance(60'000);
    OnBoth([&](hub::HubStorage& s) { Enrol(s, "HN", hn_id, "Máy Hà Nội"); });

    std::vector<RowId> lc_cases;
    const char* statuses[] = {"intake", "verifying", "assisting", "intake", "closed", "intake"};
    for (int i = 0; i < 6; ++i) {
      lc_cases.push_back(NewCase(*lc_, "LC", "LC-000" + std::to_string(i + 1), statuses[i],
                                 i % 2 ? "walk_in" : "hotline_call", i < 4 ? "16-17" : "18-24",
                                 "female"));
    }
    const RowId hn_case = NewCase(*hn_, "HN", "HN-0001", "referred", "police", "25-34", "male");
    for (const RowId& c : lc_cases) Access(*lc_, "LC", c, "show");
    Access(*lc_, "LC", lc_cases[0], "export");
    Access(*hn_, "HN", hn_case, "show");
    Access(*hn_, "HN", hn_case, "search");
    Access(*hn_, "HN", hn_case, "show");
    // Hà Nội's chain tampered with: its second entry edited, its third
    // deleted (what `fieldhub audit` exists to find).
    auto at_hn = ReadAccessLog(*hn_);
    ASSERT_TRUE(at_hn.ok()) << at_hn.status();
    ASSERT_EQ(at_hn->size(), 3u);
    ASSERT_TRUE(hn_->Write(LocalTxn().Set("access_log", (*at_hn)[1].id,
                                          {{"officer", Value::Text("ai đó khác")}}))
                    .ok());
    ASSERT_TRUE(hn_->Write(LocalTxn().Delete("access_log", (*at_hn)[2].id)).ok());
    // One case of Lào Cai deleted: not counted.
    ASSERT_TRUE(lc_->Write(LocalTxn().Delete("cases", lc_cases[5])).ok());

    // The hub's clock where the laptops' are (a commit ahead is refused).
    clock_hub_.Advance(3'600'000);
    OnBoth([&](hub::HubStorage& s) {
      Merge(s, *lc_);
      Merge(s, *hn_);
    });
    sqlite_.reset();
    pg_.reset();
  }

  hub::CliResult OnSqlite(std::vector<std::string> args) {
    args.insert(args.end(), {"--data-dir", dir_.File("hub")});
    return hub::RunFieldhub(args);
  }
  hub::CliResult OnPostgres(std::vector<std::string> args) {
    args.insert(args.end(), {"--store", db_.uri()});
    return hub::RunFieldhub(args);
  }

  TempDir dir_;
  PgDatabase db_;
  FakeClock clock_hub_{kTestEpochMillis};
  FakeClock clock_lc_{kTestEpochMillis + 3'600'000};
  FakeClock clock_hn_{kTestEpochMillis + 3'600'000};
  std::unique_ptr<Replica> lc_, hn_;
  std::unique_ptr<hub::HubStorage> sqlite_, pg_;
};

TEST_F(AuditReportStoresTest, AuditGivesTheSameTimelineChainsAndProblemsOnBothStores) {
  History();
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"audit", "--json"}, {"audit"}}) {
    const hub::CliResult lite = OnSqlite(args);
    const hub::CliResult pg = OnPostgres(args);
    EXPECT_EQ(lite.exit, 4) << lite.err;  // Hà Nội's chain was changed
    EXPECT_EQ(pg.exit, lite.exit) << pg.err;
    EXPECT_EQ(pg.out, lite.out);
  }
  const hub::CliResult pg = OnPostgres({"audit", "--json"});
  Json j = Json::parse(pg.out);
  // 2 provinces, 2 tokens, 2 enrolments; 7 entries of Lào Cai and 2 of Hà
  // Nội's 3 live.
  EXPECT_EQ(j["entries"].size(), 6u + 7u + 2u) << pg.out;
  EXPECT_EQ(j["chains"].size(), 3u) << pg.out;
  EXPECT_FALSE(j["whole"].get<bool>());
  std::string problems;
  for (const Json& p : j["problems"]) problems += p["problem"].get<std::string>() + "\n";
  EXPECT_THAT(problems, HasSubstr("was deleted (the access log is append-only)"));
  EXPECT_THAT(problems, HasSubstr("entry 2 was edited after it was written"));
  EXPECT_THAT(pg.err, HasSubstr("compare the hub's database with a backup (exit 4)"));
  // Since a time: the same lines left out on both.
  const std::vector<std::string> since = {"audit", "--json", "--since", "2025-11-24T17:00:05Z"};
  const hub::CliResult later = OnPostgres(since);
  EXPECT_EQ(later.out, OnSqlite(since).out);
  EXPECT_EQ(Json::parse(later.out)["entries"].size(), 7u + 2u - 4u) << later.out;
}

TEST_F(AuditReportStoresTest, ReportGivesTheSameFiguresOnBothStores) {
  History();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"report", "--json"}, {"report"}, {"report", "--json", "--threshold", "1"}}) {
    const hub::CliResult lite = OnSqlite(args);
    const hub::CliResult pg = OnPostgres(args);
    EXPECT_EQ(lite.exit, 0) << lite.err;
    EXPECT_EQ(pg.exit, 0) << pg.err;
    EXPECT_EQ(pg.out, lite.out);
  }
  Json j = Json::parse(OnPostgres({"report", "--json", "--threshold", "1"}).out);
  EXPECT_EQ(j["live_cases"]["count"].get<int64_t>(), 6) << j.dump();  // 5 of Lào Cai, 1 of Hà Nội
}

}  // namespace
}  // namespace fieldsync::testing
