// The rest of the hub's storage the same on both stores
// (support/hub_stores.h): tombstone collection (Gc, AdvanceGc,
// DropTombstone, RecordPurged, IsPurged, PurgedSince), referrals as merged
// and the statuses recorded (Referral, RecordReferralStatus,
// RecordedReferralStatus), the hub's clock when it opens again, and the
// keying of earlier log entries under a province that comes to see their
// subjects (CaseGrantees, AddLogSubjects, KeyLogOfSubjects, LogScopeFrom).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "support/hub_stores.h"

namespace fieldsync::hub {
namespace {

using fieldsync::testing::HubStore;
using fieldsync::testing::HubStoreName;
using fieldsync::testing::SameBytesId;
using fieldsync::testing::T;

class HubGcStoreTest : public fieldsync::testing::HubStoresTest {};

TEST_P(HubGcStoreTest, EachCollectionMovesTheHorizonAndTheEpochByOne) {
  Read([&](HubReadTxn& r) -> absl::Status {
    auto g = r.Gc();
    EXPECT_TRUE(g.ok() && g->horizon == 0 && g->epoch == 0u);
    return absl::OkStatus();
  });
  Write([&](HubWriteTxn& w) -> absl::Status {
    absl::Status s = w.AdvanceGc(7);
    if (!s.ok()) return s;
    return w.Atomically([&] { return w.AdvanceGc(9); });
  });
  Read([&](HubReadTxn& r) -> absl::Status {
    auto g = r.Gc();
    EXPECT_TRUE(g.ok()) << g.status();
    if (g.ok()) {
      EXPECT_EQ(g->horizon, 9);
      EXPECT_EQ(g->epoch, 2u);
    }
    return absl::OkStatus();
  });
}

// Only a deleted row is dropped, with its conflict records: the hub no
// longer holds it.
TEST_P(HubGcStoreTest, OnlyADeletedRowIsDroppedForGood) {
  const RowId live = HubCase("LC-0001");
  const RowId gone = HubCase("LC-0002");
  // Concurrent edits of `gone` (a conflict), then its deletion.
  ASSERT_TRUE(b_->Apply(CommitsOf(*a_)).ok());
  clock_a_.Advance(10);
  clock_b_.Advance(10);
  ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", gone, {{"status", T("verifying")}})).ok());
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", gone, {{"status", T("closed")}})).ok());
  ASSERT_TRUE(a_->Apply(CommitsOf(*b_)).ok());
  ASSERT_TRUE(a_->Write(LocalTxn().Delete("cases", gone)).ok());
  // As written: a's edit, b's (concurrent), a's delete (after b's).
  const std::vector<Commit> of_a = CommitsOf(*a_, 2);
  const std::vector<Commit> of_b = CommitsOf(*b_);
  ASSERT_EQ(of_a.size(), 2u);
  ASSERT_EQ(of_b.size(), 1u);
  ASSERT_TRUE(HubMerge({of_a[0], of_b[0], of_a[1]}).ok());
  Read([&](HubReadTxn& r) -> absl::Status {
    auto row = r.ExportRow("cases", gone);
    EXPECT_TRUE(row.ok() && row->has_value());
    if (row.ok() && row->has_value()) {
      EXPECT_FALSE((*row)->conflicts.empty());
    }
    return absl::OkStatus();
  });

  Write([&](HubWriteTxn& w) -> absl::Status {
    EXPECT_FALSE(*w.DropTombstone("cases", live)) << "a live row is no tombstone";
    EXPECT_FALSE(*w.DropTombstone("cases", SameBytesId('\x01'))) << "nor one never held";
    EXPECT_EQ(w.DropTombstone("no_such_table", gone).status().code(),
              absl::StatusCode::kInvalidArgument);
    return w.Atomically([&]() -> absl::Status {
      EXPECT_TRUE(*w.DropTombstone("cases", gone));
      EXPECT_FALSE(*w.DropTombstone("cases", gone)) << "dropped already";
      return absl::OkStatus();
    });
  });
  Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_FALSE(r.ExportRow("cases", gone)->has_value());
    EXPECT_FALSE(r.CurrentValues("cases", gone, {"status"})->has_value());
    EXPECT_TRUE(r.ExportRow("cases", live)->has_value());
    return absl::OkStatus();
  });
}

// The liveness register reads as a column (the engine's scope step asks
// it of every row a commit touches, to record a tombstone): 1 while the
// row lives, 0 once deleted; the PostgreSQL store refused the name
// ("table has no column _live"), so no push reached its log.
TEST_P(HubGcStoreTest, CurrentValuesReadTheLivenessRegisterAsAColumn) {
  const RowId kept = HubCase("LC-0001");
  const RowId gone = HubCase("LC-0002");
  ASSERT_TRUE(a_->Write(LocalTxn().Delete("cases", gone)).ok());
  ASSERT_TRUE(HubMerge(CommitsOf(*a_, 2)).ok());
  Read([&](HubReadTxn& r) -> absl::Status {
    const std::vector<std::string> columns = {std::string(kLiveColumn), "case_code"};
    auto live = r.CurrentValues("cases", kept, columns);
    EXPECT_TRUE(live.ok()) << live.status();
    if (live.ok() && live->has_value()) {
      EXPECT_EQ((**live)[0].DebugString(), Value::Int(1).DebugString());
      EXPECT_EQ((**live)[1].DebugString(), T("LC-0001").DebugString());
    } else {
      ADD_FAILURE() << "the live row is not held";
    }
    auto dead = r.CurrentValues("cases", gone, {std::string(kLiveColumn)});
    EXPECT_TRUE(dead.ok()) << dead.status();
    if (dead.ok() && dead->has_value()) {
      EXPECT_EQ((**dead)[0].DebugString(), Value::Int(0).DebugString());
    } else {
      ADD_FAILURE() << "the deleted row is not held";
    }
    return absl::OkStatus();
  });
}

TEST_P(HubGcStoreTest, ACollectedRowIsRememberedForTheProvincesThatSawIt) {
  const RowId x = SameBytesId('\x10'), y = SameBytesId('\x20'), z = SameBytesId('\x30');
  Write([&](HubWriteTxn& w) {
    return w.Atomically([&]() -> absl::Status {
      for (absl::Status s : {w.UpsertRowScope("cases", x, "LC", std::nullopt, false),
                             w.RecordPurged({"cases", x, 5}, 1, false, {"HN", "LC"}),
                             w.RecordPurged({"contacts", y, 6}, 2, true, {}),
                             w.RecordPurged({"cases", z, 7}, 1, false, {})}) {
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    });
  });
  auto text = [](const absl::StatusOr<std::vector<PurgedRow>>& rows) {
    if (!rows.ok()) return rows.status().ToString();
    std::string out;
    for (const PurgedRow& p : *rows) {
      absl::StrAppend(&out, p.table, ":", p.row.ToString().substr(0, 2), "@", p.position, " ");
    }
    return out;
  };
  Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_TRUE(*r.IsPurged("cases", x));
    EXPECT_FALSE(*r.IsPurged("cases", y)) << "by table and row";
    EXPECT_FALSE(r.RowScope("cases", x)->has_value()) << "its scope forgotten";
    EXPECT_EQ(text(r.PurgedSince(0, "HN")), "cases:10@5 contacts:20@6 ");
    EXPECT_EQ(text(r.PurgedSince(1, "HN")), "contacts:20@6 ");
    EXPECT_EQ(text(r.PurgedSince(0, "QN")), "contacts:20@6 ") << "shared: every province";
    EXPECT_EQ(text(r.PurgedSince(2, "LC")), "");
    return absl::OkStatus();
  });
  // Collected again (restored and deleted since): the newer record stands.
  Write([&](HubWriteTxn& w) { return w.RecordPurged({"cases", x, 9}, 3, false, {"LC"}); });
  Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(text(r.PurgedSince(2, "LC")), "cases:10@9 ");
    EXPECT_EQ(text(r.PurgedSince(2, "HN")), "");
    return absl::OkStatus();
  });
}

// The referral as merged (with concurrent statuses), read as a node holds
// it; a status recorded once per version.
TEST_P(HubGcStoreTest, AReferralIsReadAsMergedAndEachVersionsStatusIsRecordedOnce) {
  const RowId kase = HubCase();
  const RowId ref = RowId::NewV7(&clock_a_);
  auto sent = a_->Write(LocalTxn().Create("referrals", ref,
                                          {{"case_id", Value::Bytes(std::string(kase.view()))},
                                           {"from_office", T("LC")},
                                           {"to_office", T("HN")},
                                           {"status", T("sent")}}));
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(b_->Apply(CommitsOf(*a_)).ok());
  clock_a_.Advance(10);
  clock_b_.Advance(10);
  ASSERT_TRUE(a_->Write(LocalTxn().Set("referrals", ref, {{"status", T("accepted")}})).ok());
  ASSERT_TRUE(b_->Write(LocalTxn().Set("referrals", ref, {{"status", T("declined")}})).ok());
  std::vector<Commit> commits = CommitsOf(*a_, 1);
  for (Commit& c : CommitsOf(*b_)) commits.push_back(std::move(c));
  ASSERT_TRUE(HubMerge(commits).ok());
  // The reference: a node that applied the same commits.
  ASSERT_TRUE(a_->Apply(CommitsOf(*b_)).ok());
  auto row = a_->Get("referrals", ref);
  ASSERT_TRUE(row.ok() && row->has_value());
  const TableDef* t = a_->schema().FindTable("referrals");
  const size_t status = static_cast<size_t>(t->ColumnIndex("status"));
  auto conflicts = a_->Conflicts(std::string("referrals"), ref);
  ASSERT_TRUE(conflicts.ok());
  ASSERT_EQ(conflicts->size(), 1u);

  Read([&](HubReadTxn& r) -> absl::Status {
    auto state = r.Referral(ref);
    EXPECT_TRUE(state.ok() && state->has_value()) << state.status();
    if (!state.ok() || !state->has_value()) return absl::OkStatus();
    const ReferralState& s = **state;
    EXPECT_EQ(s.from_office, "LC");
    EXPECT_EQ(s.to_office, "HN");
    EXPECT_EQ(Value::Text(s.status), (*row)->values[status]);
    EXPECT_EQ(s.status_version, std::optional<Version>((*row)->versions[status]->version));
    EXPECT_EQ(s.status_conflicts.size(), 1u);
    if (!s.status_conflicts.empty()) {
      EXPECT_EQ(s.status_conflicts[0].first, (*conflicts)[0].version);
      EXPECT_EQ(Value::Text(s.status_conflicts[0].second), (*conflicts)[0].value);
    }
    EXPECT_FALSE(r.Referral(kase)->has_value()) << "no referral of that id";
    return absl::OkStatus();
  });

  const Version v{sent->hlc, sent->author};
  const Version other{commits.back().hlc, commits.back().author};
  Write([&](HubWriteTxn& w) -> absl::Status {
    absl::Status s = w.RecordReferralStatus(ref, v, "sent");
    if (!s.ok()) return s;
    return w.RecordReferralStatus(ref, v, "accepted");  // kept once: the first
  });
  Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(*r.RecordedReferralStatus(ref, v), std::optional<std::string>("sent"));
    EXPECT_EQ(*r.RecordedReferralStatus(ref, other), std::nullopt);
    EXPECT_EQ(*r.RecordedReferralStatus(kase, v), std::nullopt);
    return absl::OkStatus();
  });
}

// A hub opened again stamps after what it merged, though its machine's
// clock is behind the stamps it holds (as a replica restores its clock).
TEST_P(HubGcStoreTest, TheHubsClockFollowsTheStampsItHoldsWhenItOpensAgain) {
  clock_a_.Set(clock_hub_.NowMillis() + 120'000);  // ahead, within the skew allowed
  HubCase();
  const std::vector<Commit> merged = CommitsOf(*a_);
  ASSERT_EQ(merged.size(), 1u);
  hub_.reset();
  hub_ = OpenHub();
  ASSERT_TRUE(hub_);
  Write([&](HubWriteTxn& w) {
    return w.MergeTransaction([&](MergeStore& rows) -> absl::Status {
      const Hlc now = rows.clock().Now();
      EXPECT_GT(now.packed(), merged[0].hlc.packed())
          << "the hub's clock restarted at its machine's time";
      return absl::OkStatus();
    });
  });
}

// A province that comes to see a case (or a person) reads every earlier
// log entry that touched it; the grantees of a case.
TEST_P(HubGcStoreTest, EarlierEntriesOfASubjectAreKeyedUnderTheProvincesThatComeToSeeIt) {
  HubCase("LC-0001");
  HubCase("LC-0002");
  HubCase("LC-0003");
  const RowId case1 = SameBytesId('\x10'), case2 = SameBytesId('\x20'),
              person = SameBytesId('\x30');
  Write([&](HubWriteTxn& w) {
    return w.Atomically([&]() -> absl::Status {
      for (absl::Status s : {w.AddGrant(case1, "LC", 2), w.AddGrant(case1, "HN", 1),
                             w.AddGrant(case2, "QN", 1), w.AddLogSubjects({case1, person}, 1),
                             w.AddLogSubjects({case1}, 2), w.AddLogSubjects({case2}, 3),
                             w.AddLogSubjects({}, 3)}) {
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    });
  });
  Write([&](HubWriteTxn& w) -> absl::Status {
    for (absl::Status s : {w.KeyLogOfSubjects({case1}, {"HN", "QN"}),
                           w.KeyLogOfSubjects({case1}, {"HN"}),  // once
                           w.KeyLogOfSubjects({person}, {"ZZ"}),
                           w.KeyLogOfSubjects({}, {"DN"}), w.KeyLogOfSubjects({case2}, {})}) {
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
  auto positions = [](HubReadTxn& r, const std::string& key) {
    std::vector<int64_t> out;
    auto e = r.LogEntriesUnder({key}, 0, 10, 10);
    EXPECT_TRUE(e.ok()) << e.status();
    if (e.ok()) {
      for (const LogEntry& x : *e) out.push_back(x.position);
    }
    return out;
  };
  Read([&](HubReadTxn& r) -> absl::Status {
    EXPECT_EQ(*r.CaseGrantees(case1), (std::vector<std::string>{"HN", "LC"}));
    EXPECT_EQ(*r.CaseGrantees(case2), std::vector<std::string>{"QN"});
    EXPECT_TRUE(r.CaseGrantees(person)->empty());
    EXPECT_EQ(*r.LogScopeFrom(), 0) << "a store made now keys every entry by the rule of 7";
    EXPECT_EQ(positions(r, "HN"), (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(positions(r, "QN"), (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(positions(r, "ZZ"), std::vector<int64_t>{1});
    EXPECT_TRUE(positions(r, "DN").empty());
    return absl::OkStatus();
  });
}

INSTANTIATE_TEST_SUITE_P(Stores, HubGcStoreTest,
                         ::testing::Values(HubStore::kSqlite, HubStore::kPostgres), HubStoreName);

}  // namespace
}  // namespace fieldsync::hub
