// Tombstone collection: the hub removes a deleted row for good only once
// every node that can see it has acknowledged the delete (pulled past it and
// said so with its next cursor). Nodes that hold the delete drop the
// tombstone at their next pull; a node that never received the delete (away
// past the stale limit) is told, rebuilt from the current state, and never
// brings the deleted row back.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

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
    auto hub = OpenHubReplica();
    auto row = hub->Get("cases", x);
    ASSERT_TRUE(row.ok());
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
  auto hub = OpenHubReplica();
  auto hub_row = hub->Get("cases", x);
  ASSERT_TRUE(hub_row.ok());
  EXPECT_FALSE(hub_row->has_value());
}

}  // namespace
}  // namespace fieldsync::testing
