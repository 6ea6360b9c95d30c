// A connection the hub lost without the laptop knowing (the hub restarted,
// a router's table cleared) is found dead only when the laptop next writes
// on it: the first call of the next sync fails at once. That call is hello,
// which changes nothing: the laptop tries it again once on a new
// connection, and the sync goes on, instead of failing "broken during
// hello" until the next pass (seen as a flaky MembershipTest after a hub
// restart under load).
#include <gtest/gtest.h>

#include "support/sync_fixture.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::testing {
namespace {

class StaleConnectionTest : public SyncProcessTest {};

TEST_F(StaleConnectionTest, ASyncOverAConnectionTheHubLostGoesOnOverANewOne) {
  auto& writer = AddNode("LC");
  auto& n = AddNode("LC");
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  ASSERT_TRUE(n.Connect(absl::StrCat("localhost:", proxy.port()), 20).ok());
  MustSync(n);
  const int before = proxy.connections_accepted();
  ASSERT_GE(before, 1);
  const RowId kase = NewCase(writer.replica(), "LC", "Lò Thị Mai");
  MustSync(writer);

  proxy.DropOpenOnNextWrite();
  auto r = n.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(Holds(n, "cases", kase));
  EXPECT_GE(proxy.cuts(), 1) << "the old connection must have been used and found dead";
  EXPECT_GT(proxy.connections_accepted(), before);
}

// A hub that is really gone still fails the sync at once: the second try
// is made once, not in a loop.
TEST_F(StaleConnectionTest, AHubThatRefusesEveryConnectionStillFailsTheSync) {
  auto& n = AddNode("LC");
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  ASSERT_TRUE(n.Connect(absl::StrCat("localhost:", proxy.port()), 20).ok());
  MustSync(n);
  proxy.SetRefuseNew(true);
  proxy.DropOpenOnNextWrite();
  const int before = proxy.connections_accepted();
  auto r = n.Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_LE(proxy.connections_accepted() - before, 4) << "tried again and again";
}

}  // namespace
}  // namespace fieldsync::testing
