// Tombstone collection: the hub removes a deleted row for good only once
// every node that can see it has acknowledged the delete (pulled past it and
// said so with its next cursor). Nodes that hold the delete drop the
// tombstone at their next pull; a node that never received the delete (away
// past the stale limit) is told, rebuilt from the current state, and never
// brings the deleted row back.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

void Delete(Replica& r, const std::string& table, const RowId& row) {
  LocalTxn t;
  t.Delete(table, row);
  auto c = r.Write(t);
  ASSERT_TRUE(c.ok()) << c.status();
}

TEST_F(SyncTest, ATombstoneIsCollectedOnlyAfterEveryNodeThatSeesItAcknowledged) {
  auto& a = AddNode("LC");
  auto& b = AddNode("LC");
  auto& hn = AddNode("HN");  // cannot see Lào Cai's cases: does not hold collection back
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  const RowId keep = NewCase(a.replica(), "LC", "Lò Thị Mai");
  MustSync(a);
  MustSync(b);
  MustSync(hn);
  Delete(a.replica(), "cases", x);
  MustSync(a);

  // b has not pulled the delete: nothing is collected.
  auto gc = hub_->Admin({"gc", "--min-age", "0s"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_NE(gc.out.find("collected 0 tombstones"), std::string::npos) << gc.out;
  EXPECT_NE(gc.out.find("not yet acknowledged"), std::string::npos) << gc.out;
  EXPECT_NE(gc.out.find(b.replica().device_id().ToString()), std::string::npos) << gc.out;
  EXPECT_EQ(gc.out.find(hn.replica().device_id().ToString()), std::string::npos) << gc.out;

  // b pulls the delete, and acknowledges it with its next pull.
  MustSync(b);
  MustSync(b);
  MustSync(a);
  gc = hub_->Admin({"gc", "--min-age", "0s"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_NE(gc.out.find("collected 1 tombstones"), std::string::npos) << gc.out;
  {
    auto row = HubRowLive("cases", x);
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_FALSE(row->has_value()) << "the hub still holds the tombstone";
  }

  // Nodes that hold the delete drop the tombstone at their next pull -- no
  // rebuild needed -- and nothing else changes.
  const auto rb = MustSync(b);
  EXPECT_FALSE(rb.bootstrapped);
  EXPECT_EQ(rb.tombstones_purged, 1u);
  const auto ra = MustSync(a);
  EXPECT_FALSE(ra.bootstrapped);
  EXPECT_EQ(ra.tombstones_purged, 1u);
  auto row = b.replica().Get("cases", x);
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(row->has_value());
  EXPECT_EQ(Rows(b.replica(), "cases"), std::set<RowId>{keep});
  EXPECT_EQ(Digest(a.replica()), Digest(b.replica()));
  // Hà Nội never saw the case: told nothing, rebuilt from nothing.
  const auto rh = MustSync(hn);
  EXPECT_FALSE(rh.bootstrapped);
  EXPECT_EQ(rh.tombstones_purged, 0u);
  // Work goes on from the log, for everyone.
  const RowId later = NewCase(a.replica(), "LC", "Hà Thị Sáu");
  MustSync(a);
  MustSync(b);
  EXPECT_EQ(Rows(b.replica(), "cases").count(later), 1u);
  EXPECT_EQ(Digest(a.replica()), Digest(b.replica()));
  // A node enrolled afterwards never sees the collected row either.
  auto& c = AddNode("LC");
  MustSync(c);
  EXPECT_EQ(Digest(c.replica()), Digest(a.replica()));
}

TEST_F(SyncTest, ANodeAwayPastTheStaleLimitIsRebootstrappedAndResurrectsNothing) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);  // holds x, live
  Delete(a.replica(), "cases", x);
  MustSync(a);
  MustSync(a);
  // The laptop stays away; the administrator collects anyway, counting
  // nodes unseen for more than a moment as stale.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto gc = hub_->Admin({"gc", "--min-age", "0s", "--stale-after", "10ms"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_NE(gc.out.find("collected 1 tombstones"), std::string::npos) << gc.out;
  // Back online: re-bootstrapped, told why; x does not come back to life.
  const auto r = MustSync(away);
  EXPECT_TRUE(r.bootstrapped);
  EXPECT_NE(r.notice.find("rebuilt"), std::string::npos) << r.notice;
  auto row = away.replica().Get("cases", x);
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(row->has_value());
  MustSync(a);
  EXPECT_EQ(Digest(a.replica()), Digest(away.replica()));
  auto hub_row = HubRowLive("cases", x);
  ASSERT_TRUE(hub_row.ok()) << hub_row.status();
  EXPECT_FALSE(hub_row->has_value());
}

// Three Lào Cai laptops and one of Hà Nội, all then away past the stale
// limit: `away` never pulled the delete of a case collected now, `caught`
// did (and acknowledged it), `a` wrote it, Hà Nội cannot see the case.
class GcRebuildTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    a_ = &AddNode("LC");
    away_ = &AddNode("LC");
    caught_ = &AddNode("LC");
    hn_ = &AddNode("HN");
    const RowId x = NewCase(a_->replica(), "LC", "Nguyễn Thị Hằng");
    for (auto* n : {a_, away_, caught_, hn_}) MustSync(*n);  // all hold x (but hn)
    Delete(a_->replica(), "cases", x);
    MustSync(*a_);
    MustSync(*a_);
    MustSync(*caught_);
    MustSync(*caught_);  // its cursor, acknowledged: past the delete
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // all stale at 10ms
  }
  static std::string Device(harness::LocalNode& n) { return n.replica().device_id().ToString(); }
  // The lines of `out` that start with `prefix`.
  static std::string Lines(const std::string& out, const std::string& prefix) {
    std::string got;
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (absl::StartsWith(line, prefix)) absl::StrAppend(&got, line, "\n");
    }
    return got;
  }
  harness::LocalNode* a_ = nullptr;
  harness::LocalNode* away_ = nullptr;
  harness::LocalNode* caught_ = nullptr;
  harness::LocalNode* hn_ = nullptr;
};

// `fieldhub gc` used to say only "a node that never received one of those
// deletes is rebuilt", naming none.
TEST_F(GcRebuildTest, GcNamesTheLaptopsItCausesToBeRebuilt) {
  auto gc = hub_->Admin({"gc", "--min-age", "0s", "--stale-after", "10ms"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  std::cout << gc.out;
  EXPECT_NE(gc.out.find("collected 1 tombstones"), std::string::npos) << gc.out;
  const std::string rebuilt = Lines(gc.out, "will be rebuilt at its next sync: ");
  EXPECT_NE(rebuilt.find(Device(*away_)), std::string::npos) << gc.out;
  EXPECT_NE(rebuilt.find("LC), last seen 20"), std::string::npos) << gc.out;
  for (auto* n : {a_, caught_, hn_}) {
    EXPECT_EQ(gc.out.find(Device(*n)), std::string::npos) << Device(*n) << "\n" << gc.out;
  }
  {  // fieldhub audit, on either store
    auto audit = hub_->Admin({"audit"});
    EXPECT_NE(audit.out.find("1 node(s) away past the stale limit will be rebuilt"),
              std::string::npos) << audit.out;
  }
  // As named: `away` is rebuilt, `caught` goes on from the log.
  EXPECT_TRUE(MustSync(*away_).bootstrapped);
  EXPECT_FALSE(MustSync(*caught_).bootstrapped);
}

TEST_F(GcRebuildTest, ADryRunNamesThemAndChangesNothing) {
  for (int run = 0; run < 2; ++run) {  // nothing collected by the first
    auto dry = hub_->Admin({"gc", "--dry-run", "--min-age", "0s", "--stale-after", "10ms"});
    ASSERT_EQ(dry.exit_code, 0) << dry.err;
    std::cout << dry.out;
    EXPECT_NE(dry.out.find("dry run, nothing changed: gc now would collect 1 tombstones"),
              std::string::npos) << dry.out;
    EXPECT_NE(Lines(dry.out, "would be rebuilt: ").find(Device(*away_)), std::string::npos)
        << dry.out;
    EXPECT_EQ(dry.out.find(Device(*caught_)), std::string::npos) << dry.out;
  }
  {  // fieldhub audit, on either store
    auto audit = hub_->Admin({"audit"});
    EXPECT_EQ(audit.out.find("gc:"), std::string::npos) << audit.out;
  }
  // Nothing was collected: `away` pulls the delete from the log.
  EXPECT_FALSE(MustSync(*away_).bootstrapped);
}

}  // namespace
}  // namespace fieldsync::testing
