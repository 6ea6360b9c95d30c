// The hub's audit trail (hub/audit.h): each administrative act appends one
// entry in its own transaction; the chain reveals edits, deletions (in the
// middle and at the end), insertions and replacements.
#include "hub/audit.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "hub/sqlite_store.h"
#include "support/raw_db.h"
#include "support/replica_fixture.h"

namespace fieldsync::hub {
namespace {

using fieldsync::testing::kTestEpochMillis;

class HubAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteHubStore::Open(dir_.File("hub.db"), &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }

  HubAuditTrail Trail() {
    auto t = store_->AuditTrail();
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : HubAuditTrail{};
  }

  // Problems found after `sql` is run on the file behind the store's back.
  std::vector<HubAuditProblem> After(const std::string& sql) {
    EXPECT_TRUE(testing::RawDb(store_->replica()).Exec(sql).ok()) << sql;
    return VerifyHubAudit(Trail());
  }

  static std::string All(const std::vector<HubAuditProblem>& ps) {
    std::string out;
    for (const auto& p : ps) absl::StrAppend(&out, p.seq, ": ", p.problem, "\n");
    return out;
  }

  // Four entries: two provinces, a token, a gc.
  void FourActs() {
    ASSERT_TRUE(store_->AddProvince("LC", "Lào Cai", "alice").ok());
    clock_.Advance(1000);
    ASSERT_TRUE(store_->AddProvince("HG", "Hà Giang", "bob").ok());
    clock_.Advance(1000);
    auto t = store_->MakeEnrollToken("LC", 3'600'000, "alice");
    ASSERT_TRUE(t.ok()) << t.status();
    token_ = t->token;
    clock_.Advance(1000);
    ASSERT_TRUE(store_->CollectTombstones(30 * 86'400'000LL, 90 * 86'400'000LL, "carol").ok());
  }

  fieldsync::testing::TempDir dir_;
  FakeClock clock_{kTestEpochMillis};
  std::unique_ptr<SqliteHubStore> store_;
  std::string token_;
};

TEST_F(HubAuditTest, EachActAppendsOneChainedEntry) {
  FourActs();
  HubAuditTrail t = Trail();
  ASSERT_EQ(t.entries.size(), 4u);
  EXPECT_EQ(t.entries[0].action, kAuditProvinceAdd);
  EXPECT_EQ(t.entries[0].actor, "alice");
  EXPECT_EQ(t.entries[0].detail, "province LC \"Lào Cai\"");
  EXPECT_EQ(t.entries[0].at_millis, kTestEpochMillis);
  EXPECT_EQ(t.entries[0].prev_hash, "");
  EXPECT_EQ(t.entries[1].actor, "bob");
  EXPECT_EQ(t.entries[2].action, kAuditTokenIssue);
  EXPECT_EQ(t.entries[2].detail.find(token_), std::string::npos) << "the token is in the trail";
  EXPECT_NE(t.entries[2].detail.find("province LC, valid for 1h until "), std::string::npos);
  EXPECT_EQ(t.entries[3].action, kAuditGc);
  EXPECT_EQ(t.entries[3].actor, "carol");
  for (size_t i = 0; i < t.entries.size(); ++i) {
    EXPECT_EQ(t.entries[i].seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(t.entries[i].entry_hash, HubAuditHash(t.entries[i]));
    EXPECT_EQ(t.entries[i].entry_hash.size(), 64u);
    if (i > 0) {
      EXPECT_EQ(t.entries[i].prev_hash, t.entries[i - 1].entry_hash);
    }
  }
  EXPECT_EQ(t.head_seq, 4);
  EXPECT_EQ(t.head_hash, t.entries[3].entry_hash);
  EXPECT_TRUE(VerifyHubAudit(t).empty()) << All(VerifyHubAudit(t));
}

TEST_F(HubAuditTest, TheHashCoversEveryFieldAndIsFrozen) {
  HubAuditEntry e{1, kTestEpochMillis, "alice", "province.add", "province LC \"Lào Cai\"", "", ""};
  const std::string h = HubAuditHash(e);
  // Known answer (computed independently from docs/FORMATS.md with Python's
  // hashlib.blake2b): format version 1 must not change.
  EXPECT_EQ(h, "a6a9fba205ce764c1d4293a79741456fc36efb193d1a486aa3b83e8c93de2e9e");
  for (int f = 0; f < 6; ++f) {
    HubAuditEntry x = e;
    switch (f) {
      case 0: x.seq = 2; break;
      case 1: x.at_millis += 1; break;
      case 2: x.actor = "alicf"; break;
      case 3: x.action = "province.adc"; break;
      case 4: x.detail += " "; break;
      case 5: x.prev_hash = "00"; break;
    }
    EXPECT_NE(HubAuditHash(x), h) << "field " << f;
  }
  // Length prefixes: moving a byte from one field to the next changes it.
  HubAuditEntry y = e;
  y.actor = "alic";
  y.action = "eprovince.add";
  EXPECT_NE(HubAuditHash(y), h);
}

TEST_F(HubAuditTest, AFailedActLeavesNoEntry) {
  FourActs();
  EXPECT_EQ(store_->AddProvince("LC", "Lào Cai", "alice").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->MakeEnrollToken("ZZ", 3'600'000, "alice").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->RevokeNode(Id16::NewRandom(), "alice").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Trail().entries.size(), 4u);
}

TEST_F(HubAuditTest, AnActWhoseEntryCannotBeWrittenDoesNotHappen) {
  FourActs();
  // A forged entry where the next one belongs: the append fails, and so
  // does the act it would have recorded (one transaction).
  ASSERT_TRUE(testing::RawDb(store_->replica())
                  .Exec("INSERT INTO hub_audit(seq, at, actor, action, detail, prev_hash, "
                        "entry_hash) VALUES (5, 0, 'x', 'x', 'x', '', '')")
                  .ok());
  absl::Status s = store_->AddProvince("QT", "Quảng Trị", "alice");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  auto provinces = store_->Provinces();
  ASSERT_TRUE(provinces.ok());
  for (const Province& p : *provinces) EXPECT_NE(p.code, "QT");
  EXPECT_FALSE(VerifyHubAudit(Trail()).empty());
}

TEST_F(HubAuditTest, AnEditIsReported) {
  FourActs();
  auto ps = After("UPDATE hub_audit SET detail = 'province LC \"Lạng Sơn\"' WHERE seq = 1");
  ASSERT_EQ(ps.size(), 1u) << All(ps);
  EXPECT_EQ(ps[0].seq, 1);
  EXPECT_NE(ps[0].problem.find("entry 1 (province.add) was edited"), std::string::npos);
}

TEST_F(HubAuditTest, AnEditOfTheActorOrTimeIsReported) {
  FourActs();
  auto ps = After("UPDATE hub_audit SET actor = 'mallory', at = at + 1 WHERE seq = 2");
  ASSERT_EQ(ps.size(), 1u) << All(ps);
  EXPECT_NE(ps[0].problem.find("entry 2 (province.add) was edited"), std::string::npos);
}

TEST_F(HubAuditTest, ADeletionInTheMiddleIsReportedEvenAfterMoreActs) {
  FourActs();
  auto ps = After("DELETE FROM hub_audit WHERE seq = 2");
  ASSERT_EQ(ps.size(), 1u) << All(ps);
  EXPECT_EQ(ps[0].problem, "entry 2 is missing: deleted from the trail");
  ASSERT_TRUE(store_->AddProvince("QT", "Quảng Trị", "alice").ok());
  ps = VerifyHubAudit(Trail());
  ASSERT_EQ(ps.size(), 1u) << All(ps);
  EXPECT_EQ(ps[0].problem, "entry 2 is missing: deleted from the trail");
}

TEST_F(HubAuditTest, ADeletionAtTheEndIsReportedAndItsSeqNotReused) {
  FourActs();
  auto ps = After("DELETE FROM hub_audit WHERE seq >= 3");
  ASSERT_EQ(ps.size(), 1u) << All(ps);
  EXPECT_EQ(ps[0].problem, "entries 3 to 4 are missing at the end: deleted from the trail");
  ASSERT_TRUE(store_->AddProvince("QT", "Quảng Trị", "alice").ok());
  HubAuditTrail t = Trail();
  EXPECT_EQ(t.entries.back().seq, 5);
  ps = VerifyHubAudit(t);
  ASSERT_EQ(ps.size(), 1u) << All(ps);
  EXPECT_EQ(ps[0].problem, "entries 3 to 4 are missing: deleted from the trail");
}

TEST_F(HubAuditTest, AReplacedEntryIsReported) {
  FourActs();
  // Entry 2 rewritten with a hash of its own that verifies: entry 3 no
  // longer follows it.
  HubAuditTrail t = Trail();
  HubAuditEntry forged = t.entries[1];
  forged.detail = "province HG \"Hà Nội\"";
  forged.entry_hash = HubAuditHash(forged);
  auto ps = After(absl::StrCat("UPDATE hub_audit SET detail = 'province HG \"Hà Nội\"', "
                               "entry_hash = '", forged.entry_hash, "' WHERE seq = 2"));
  ASSERT_EQ(ps.size(), 1u) << All(ps);
  EXPECT_EQ(ps[0].seq, 3);
  EXPECT_NE(ps[0].problem.find("entry 3 does not follow entry 2"), std::string::npos);
}

TEST_F(HubAuditTest, AnInsertedEntryIsReported) {
  FourActs();
  HubAuditTrail t = Trail();
  HubAuditEntry extra{5, kTestEpochMillis + 9000, "mallory", "province.add", "province XX \"X\"",
                      t.entries[3].entry_hash, ""};
  extra.entry_hash = HubAuditHash(extra);
  auto ps = After(absl::StrCat("INSERT INTO hub_audit VALUES (5, ", extra.at_millis,
                               ", 'mallory', 'province.add', 'province XX \"X\"', '",
                               extra.prev_hash, "', '", extra.entry_hash, "')"));
  ASSERT_EQ(ps.size(), 1u) << All(ps);
  EXPECT_NE(ps[0].problem.find("entry 5 is past the recorded head: added outside fieldhub"),
            std::string::npos)
      << ps[0].problem;
}

TEST(FormatDurationTest, LargestUnitThatDivides) {
  EXPECT_EQ(FormatDurationMillis(30 * 86'400'000LL), "30d");
  EXPECT_EQ(FormatDurationMillis(36 * 3'600'000LL), "36h");
  EXPECT_EQ(FormatDurationMillis(90 * 60'000LL), "90m");
  EXPECT_EQ(FormatDurationMillis(1500), "1500ms");
}

}  // namespace
}  // namespace fieldsync::hub
