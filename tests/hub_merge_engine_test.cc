// The hub's row-version merge as engine code (merge/commit_merge.h) run over
// the narrow storage interface a hub store hands out
// (HubWriteTxn::MergeTransaction, hub/storage.h), in process, on a real
// hub.db: the same rules as a node's replica, with the same result and the
// same bytes stored.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hub/sqlite_storage.h"
#include "merge/commit_merge.h"
#include "support/raw_db.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

using fieldsync::testing::kTestEpochMillis;
using fieldsync::testing::OpenReplica;
using fieldsync::testing::RawDb;
using fieldsync::testing::T;

class HubMergeEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = OpenReplica(dir_.File("a.db"), &clock_a_);
    b_ = OpenReplica(dir_.File("b.db"), &clock_b_);
    node_ = OpenReplica(dir_.File("node.db"), &clock_hub_);
    auto hub = SqliteHubStorage::Open(dir_.File("hub.db"), &clock_hub_);
    ASSERT_TRUE(hub.ok()) << hub.status();
    hub_ = std::move(hub).value();
    ASSERT_TRUE(a_ && b_ && node_);
  }

  // Every commit `r` wrote after its sequence number `after`.
  std::vector<Commit> CommitsOf(Replica& r, uint64_t after = 0) {
    auto c = r.LocalCommitsAfter(after, 1000);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::vector<Commit>{};
  }

  // `commits` merged by the engine over the hub storage, with `hooks`.
  absl::StatusOr<ApplyResult> HubMerge(const std::vector<Commit>& commits,
                                       const ApplyHooks* hooks = nullptr) {
    ApplyResult out;
    absl::Status s = hub_->Write([&](HubWriteTxn& w) {
      return w.MergeTransaction([&](MergeStore& rows) -> absl::Status {
        auto r = MergeCommits(rows, commits, hooks);
        if (!r.ok()) return r.status();
        out = *r;
        return absl::OkStatus();
      });
    });
    if (!s.ok()) return s;
    return out;
  }

  // A case created on `a_` and delivered to `b_`; returns its commit.
  RowId NewCase() {
    const RowId id = RowId::NewV7(&clock_a_);
    auto c = a_->Write(LocalTxn().Create("cases", id, {{"case_code", T("LC-0001")},
                                                       {"province", T("lao-cai")},
                                                       {"status", T("intake")}}));
    EXPECT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(b_->Apply({*c}).ok());
    return id;
  }

  // The stored bytes of what a merge writes, as a SQL result, row by row.
  static std::vector<std::string> Rows(Replica& r, const std::string& sql) {
    std::vector<std::string> out;
    auto st = RawDb(r).Prepared(sql);
    EXPECT_TRUE(st.ok()) << st.status();
    if (!st.ok()) return out;
    while (true) {
      auto more = (*st)->Step();
      EXPECT_TRUE(more.ok()) << more.status();
      if (!more.ok() || !*more) break;
      out.push_back((*st)->ColumnString(0));
    }
    return out;
  }

  fieldsync::testing::TempDir dir_;
  FakeClock clock_a_{kTestEpochMillis};
  FakeClock clock_b_{kTestEpochMillis + 5};
  FakeClock clock_hub_{kTestEpochMillis + 60'000};
  std::unique_ptr<Replica> a_, b_, node_;
  std::unique_ptr<SqliteHubStorage> hub_;
};

TEST_F(HubMergeEngineTest, TwoConcurrentEditsOfOneFieldMakeTheSameConflictAsOnANode) {
  const RowId id = NewCase();
  clock_a_.Advance(10);
  clock_b_.Advance(10);
  ASSERT_TRUE(a_->Write(LocalTxn().Set("cases", id, {{"status", T("verifying")}})).ok());
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"status", T("closed")}})).ok());
  std::vector<Commit> commits = CommitsOf(*a_);
  for (Commit& c : CommitsOf(*b_)) commits.push_back(std::move(c));
  ASSERT_EQ(commits.size(), 3u);

  auto merged = HubMerge(commits);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->applied, 3u);
  auto on_node = node_->Apply(commits);
  ASSERT_TRUE(on_node.ok()) << on_node.status();
  EXPECT_EQ(on_node->applied, 3u);

  // One winner, the other edit kept as a conflict record: on both.
  Replica& hub_rows = hub_->replica();
  auto hub_conflicts = hub_rows.Conflicts(std::string("cases"), id);
  auto node_conflicts = node_->Conflicts(std::string("cases"), id);
  ASSERT_TRUE(hub_conflicts.ok() && node_conflicts.ok());
  ASSERT_EQ(hub_conflicts->size(), 1u);
  ASSERT_EQ(node_conflicts->size(), 1u);
  EXPECT_EQ((*hub_conflicts)[0].column, "status");
  EXPECT_EQ((*hub_conflicts)[0].version, (*node_conflicts)[0].version);
  EXPECT_EQ((*hub_conflicts)[0].value, (*node_conflicts)[0].value);
  auto hub_row = hub_rows.Get("cases", id);
  auto node_row = node_->Get("cases", id);
  ASSERT_TRUE(hub_row.ok() && hub_row->has_value() && node_row.ok() && node_row->has_value());
  EXPECT_EQ((*hub_row)->values, (*node_row)->values);
  EXPECT_EQ(fieldsync::testing::Digest(hub_rows), fieldsync::testing::Digest(*node_));

  // Stored the same way, byte for byte: the row's version blob (device
  // indexes in the order devices were met: each file's own device first),
  // the conflict records and the log.
  EXPECT_EQ(Rows(hub_rows, "SELECT count(*) FROM _fs_log"), std::vector<std::string>{"3"});
  EXPECT_EQ(Rows(hub_rows, "SELECT count(*) FROM _fs_conflicts"), std::vector<std::string>{"1"});
  EXPECT_EQ(Rows(hub_rows, "SELECT hex(_ver) || hex(status) FROM cases"),
            Rows(*node_, "SELECT hex(_ver) || hex(status) FROM cases"));
  EXPECT_EQ(Rows(hub_rows, "SELECT hex(row) || col || hlc || hex(device) || hex(value) FROM "
                           "_fs_conflicts ORDER BY hlc"),
            Rows(*node_, "SELECT hex(row) || col || hlc || hex(device) || hex(value) FROM "
                         "_fs_conflicts ORDER BY hlc"));
  EXPECT_EQ(Rows(hub_rows, "SELECT pos || ':' || device || ':' || seq || ':' || hex(body) FROM "
                           "_fs_log ORDER BY pos"),
            Rows(*node_, "SELECT pos || ':' || device || ':' || seq || ':' || hex(body) FROM "
                         "_fs_log ORDER BY pos"));
}

TEST_F(HubMergeEngineTest, ACommitHeldIsADuplicateAndOneWithoutItsBaseWaits) {
  const RowId id = NewCase();
  clock_b_.Advance(10);
  ASSERT_TRUE(b_->Write(LocalTxn().Set("cases", id, {{"status", T("closed")}})).ok());
  const std::vector<Commit> create = CommitsOf(*a_);
  const std::vector<Commit> edit = CommitsOf(*b_);
  ASSERT_EQ(create.size(), 1u);
  ASSERT_EQ(edit.size(), 1u);

  // The edit's base (the creation) is not held: it waits, nothing stored.
  auto r = HubMerge(edit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->deferred, 1u);
  EXPECT_EQ(r->applied, 0u);
  EXPECT_EQ(*hub_->LogHead(), 0);

  // Both, the edit first: merged in dependency order, each given its log
  // position as it is stored.
  std::vector<int64_t> positions;
  ApplyHooks hooks;
  hooks.after = [&](const Commit&, int64_t position) {
    positions.push_back(position);
    return absl::OkStatus();
  };
  r = HubMerge({edit[0], create[0]}, &hooks);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->applied, 2u);
  EXPECT_EQ(r->outcomes, (std::vector<ApplyOutcome>{ApplyOutcome::kApplied,
                                                     ApplyOutcome::kApplied}));
  EXPECT_EQ(positions, (std::vector<int64_t>{1, 2}));

  // Held by (author, seq): acknowledged again, not merged again.
  positions.clear();
  r = HubMerge({create[0], edit[0]}, &hooks);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->duplicates, 2u);
  EXPECT_TRUE(positions.empty());
  EXPECT_EQ(*hub_->LogHead(), 2);
}

TEST_F(HubMergeEngineTest, AHookErrorOrABadCommitStoresNothingOfTheBatch) {
  NewCase();
  const std::vector<Commit> create = CommitsOf(*a_);
  ApplyHooks hooks;
  hooks.at_end = [] { return absl::PermissionDeniedError("refused by the rules"); };
  auto r = HubMerge(create, &hooks);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(*hub_->LogHead(), 0);

  // A commit far ahead of the hub's clock: the batch is refused whole.
  Commit ahead = create[0];
  ahead.hlc = Hlc::FromParts(static_cast<uint64_t>(kTestEpochMillis) + 86'400'000ull * 30, 0);
  r = HubMerge({ahead});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nothing applied"), std::string::npos) << r.status();
  EXPECT_EQ(*hub_->LogHead(), 0);
}

}  // namespace
}  // namespace fieldsync::hub
