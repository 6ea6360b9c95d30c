// A person moved between two offices, again and again (attack review 89,
// LOW): each move keys the person's earlier log entries under the office it
// moves to (Scope::Record, hub_log_subject, KeyLogOfSubjects). Does the
// hub's file grow with every move? The engine's merge and Scope::Record
// over the SQLite store, as a push runs them, with the rows counted in the
// file: an entry is kept once per province (hub_log_scope's key), so after
// the first move each move adds its own entry and nothing more.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "hub/scope.h"
#include "hub/sqlite_storage.h"
#include "merge/commit_merge.h"
#include "store/sqlite.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

using fieldsync::testing::kTestEpochMillis;
using fieldsync::testing::OpenReplica;
using fieldsync::testing::T;

class PersonMovesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    office_ = OpenReplica(dir_.File("office.db"), &clock_);
    ASSERT_TRUE(office_);
    auto hub = SqliteHubStorage::Open(dir_.File("hub.db"), &clock_hub_);
    ASSERT_TRUE(hub.ok()) << hub.status();
    hub_ = std::move(hub).value();
  }

  // Writes `txn` on the office's laptop and pushes it: merged by the engine
  // and recorded by the scope rules, as the hub's push does.
  void Push(const LocalTxn& txn) {
    auto c = office_->Write(txn);
    ASSERT_TRUE(c.ok()) << c.status();
    absl::Status s = hub_->Write([&](HubWriteTxn& w) {
      Scope scope(w);
      ApplyHooks hooks;
      hooks.after = [&](const Commit& done, int64_t position) {
        return scope.Record(done, position);
      };
      return w.MergeTransaction([&](MergeStore& rows) -> absl::Status {
        return MergeCommits(rows, {*c}, &hooks).status();
      });
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  // Rows of `table` in the hub's file.
  int64_t Rows(const std::string& table) {
    auto db = sqlite::Db::Open(dir_.File("hub.db"), "");
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return -1;
    auto st = (*db)->Prepared(absl::StrCat("SELECT count(*) FROM ", table));
    EXPECT_TRUE(st.ok()) << st.status();
    if (!st.ok() || !*(*st)->Step()) return -1;
    return (*st)->ColumnInt(0);
  }

  // The log positions a pull of `province` reads (Scope::LogEntries).
  size_t ReadBy(const std::string& province) {
    size_t n = 0;
    absl::Status s = hub_->Read([&](HubReadTxn& r) -> absl::Status {
      FS_ASSIGN_OR_RETURN(const int64_t head, r.LogHead());
      Scope scope(r);
      FS_ASSIGN_OR_RETURN(std::vector<LogEntry> entries,
                          scope.LogEntries(province, 0, head, 10'000));
      n = entries.size();
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  }

  fieldsync::testing::TempDir dir_;
  FakeClock clock_{kTestEpochMillis};
  FakeClock clock_hub_{kTestEpochMillis + 1'000};
  std::unique_ptr<Replica> office_;
  std::unique_ptr<HubStorage> hub_;
};

TEST_F(PersonMovesTest, EachMoveOfAPersonAddsItsOwnEntryAndNoCopyOfTheEarlierOnes) {
  const RowId person = Id16::NewRandom();
  Push(LocalTxn().Create("persons", person,
                         {{"full_name", T("Nguyễn Thị Hằng")}, {"province", T("LC")},
                          {"sex", T("female")}}));
  constexpr int kEdits = 20;
  for (int i = 0; i < kEdits; ++i) {
    Push(LocalTxn().Set("persons", person,
                        {{"full_name", Value::Text(absl::StrCat("Nguyễn Thị Hằng ", i))}}));
  }
  const int64_t entries = 1 + kEdits;
  ASSERT_EQ(Rows("hub_log_subject"), entries);
  ASSERT_EQ(Rows("hub_log_scope"), entries) << "each entry under LC alone";
  ASSERT_EQ(ReadBy("HN"), 0u);

  // Hà Nội, then Lào Cai, then Hà Nội ... : the first move keys every
  // earlier entry under Hà Nội; each later one adds its own entry, under
  // its new owner, and keys under it the one entry it lacks (the move
  // before, kept under the other office).
  constexpr int kMoves = 8;
  int64_t scope_rows = Rows("hub_log_scope"), subject_rows = Rows("hub_log_subject");
  for (int m = 1; m <= kMoves; ++m) {
    const char* to = m % 2 == 1 ? "HN" : "LC";
    Push(LocalTxn().Set("persons", person, {{"province", T(to)}}));
    const int64_t scope_now = Rows("hub_log_scope"), subject_now = Rows("hub_log_subject");
    EXPECT_EQ(subject_now - subject_rows, 1) << "move " << m;
    EXPECT_EQ(scope_now - scope_rows, m == 1 ? entries + 1 : 2)
        << "move " << m << " to " << to << " added " << scope_now - scope_rows
        << " rows to hub_log_scope";
    scope_rows = scope_now;
    subject_rows = subject_now;
  }
  // What the rows are for: Lào Cai, the owner again, reads the person's
  // whole log; Hà Nội all of it up to the last move, which took the person
  // from it. Every entry once under each office, at most.
  const size_t all = static_cast<size_t>(entries + kMoves);
  EXPECT_EQ(ReadBy("LC"), all);
  EXPECT_EQ(ReadBy("HN"), all - 1);
  EXPECT_EQ(Rows("hub_log_scope"), 2 * static_cast<int64_t>(all) - 1);
}

}  // namespace
}  // namespace fieldsync::hub
