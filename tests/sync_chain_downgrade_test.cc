// A hub that agreed protocol version 3 with a laptop and later answers its
// Hello with version 2 (attack review of session 8, point 1; docs/PROTOCOL.md,
// "A hub that goes back to version 2"): at version 2 no header travels, so
// every chain check would be off without a word. The laptop remembers the
// highest version the hub agreed (cursor hub:max_agreed); when it agrees
// less, the pass says so, records evidence of kind "downgrade" once (sync
// exits 5 until an officer marks it read), pushes as version 2 does, and
// applies no header-less commit of an author whose chain it tracks past its
// head; the hub sends those again with their headers once it speaks 3.
// A laptop that never agreed 3 with its hub stays quiet at version 2.
//
// The version 2 hub is the real hub behind a transport that rewrites its
// Hello answer to 2: every later call of the pass then carries version 2,
// which a version 3 hub answers exactly as a version 2 hub does.
#include <gtest/gtest.h>

#include <string>

#include "sync/forwarding_transport.h"
#include "sync/chain.h"
#include "sync/pass.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

// The hub as a version 2 hub answers: its Hello says 2.
class Version2Hub : public sync::ForwardingTransport {
 public:
  explicit Version2Hub(sync::Transport& real) : ForwardingTransport(real) {}
  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override {
    absl::StatusOr<sync::HelloReply> r = ForwardingTransport::Hello(req);
    if (r.ok()) r->protocol_version = 2;
    return r;
  }
};

class ChainDowngradeTest : public SyncTest {
 protected:
  // One sync pass of `n` with a hub that answers version 2.
  static node::SyncReport SyncWithVersion2Hub(harness::LocalNode& n) {
    Version2Hub v2(n.client().transport());
    absl::StatusOr<node::SyncReport> r =
        sync::RunPass(v2, n.replica(), *n.keys(), n.credential(), sync::PassOptions{});
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(!r.ok() || r->push_refused.ok()) << r->push_refused;
    EXPECT_TRUE(!r.ok() || r->protocol_version == 2);
    return r.ok() ? *r : node::SyncReport{};
  }

  static size_t DowngradeEvidence(harness::LocalNode& n) {
    auto ev = n.replica().Evidence();
    EXPECT_TRUE(ev.ok()) << ev.status();
    size_t count = 0;
    for (const TrustEvidence& e : ev.ok() ? *ev : std::vector<TrustEvidence>{}) {
      if (e.kind == static_cast<int>(sync::ChainEvidence::Kind::kHubDowngrade)) ++count;
    }
    return count;
  }
};

TEST_F(ChainDowngradeTest, AHubBackAtVersion2IsReportedAndAppliesNoTrackedColleaguesWorkUnchecked) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  MustSync(lc1);
  node::SyncReport at3 = MustSync(lc2);  // lc2 tracks lc1's chain from here
  ASSERT_EQ(at3.protocol_version, 3);
  EXPECT_EQ(at3.downgraded_from, 0);

  const RowId b = NewCase(lc1.replica(), "LC", "Vàng Thị Dợ");
  MustSync(lc1);
  auto& hn = AddNode("HN");  // an author lc2 does not track yet
  const RowId org = NewOrg(hn.replica(), "Trung tâm Công tác xã hội Hà Nội");
  MustSync(hn);
  NewOrg(lc2.replica(), "Hội Liên hiệp Phụ nữ Lào Cai");  // lc2's own work still goes up

  node::SyncReport down = SyncWithVersion2Hub(lc2);
  EXPECT_EQ(down.downgraded_from, 3) << "the hub agreed 3 before and 2 now: not reported";
  EXPECT_FALSE(Holds(lc2, "cases", b))
      << "lc1's commit came without its header although lc2 tracks lc1's chain";
  EXPECT_TRUE(Holds(lc2, "organisations", org)) << "the rest of the pull went on";
  EXPECT_EQ(down.pushed, 1u) << "the push goes on";
  EXPECT_TRUE(Mentions(down, absl::StrCat("commit ", LastSeq(lc1), " of laptop ",
                                          lc1.replica().device_id().ToString().substr(0, 8))))
      << (down.chain.problems.empty() ? "" : down.chain.problems.front());
  EXPECT_TRUE(Mentions(down, "came without a header although that laptop's history is tracked"));
  EXPECT_EQ(down.chain.new_evidence, 1u);
  EXPECT_EQ(down.chain.unacknowledged, 1u);
  EXPECT_EQ(DowngradeEvidence(lc2), 1u);

  // Still version 2 at the next pass: said again, recorded once.
  node::SyncReport again = SyncWithVersion2Hub(lc2);
  EXPECT_EQ(again.downgraded_from, 3);
  EXPECT_EQ(again.chain.new_evidence, 0u);
  EXPECT_EQ(again.chain.unacknowledged, 1u) << "not marked read: sync still exits 5";
  EXPECT_EQ(DowngradeEvidence(lc2), 1u);

  // Version 3 again: no downgrade now; lc1's next commit makes the hub
  // bridge lc2's chain, with b and its header.
  node::SyncReport back = MustSync(lc2);
  EXPECT_EQ(back.downgraded_from, 0);
  EXPECT_EQ(*lc2.replica().GetCursor(sync::kDowngradedCursor), 0);
  const RowId c = NewCase(lc1.replica(), "LC", "Đỗ Thị Hoa");
  MustSync(lc1);
  node::SyncReport healed = MustSync(lc2);
  EXPECT_TRUE(Holds(lc2, "cases", b));
  EXPECT_TRUE(Holds(lc2, "cases", c));
  EXPECT_EQ(healed.chain.held, 0u);
  EXPECT_EQ(DowngradeEvidence(lc2), 1u) << "the evidence stays as history";
}

TEST_F(ChainDowngradeTest, AVersion2HubWithLaptopsThatNeverAgreed3StaysQuiet) {
  join_offices_ = false;  // becoming a member syncs (at version 3)
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  const RowId org = NewOrg(lc1.replica(), "Hội Liên hiệp Phụ nữ Lào Cai");
  SyncWithVersion2Hub(lc1);
  node::SyncReport r = SyncWithVersion2Hub(lc2);
  EXPECT_TRUE(Holds(lc2, "organisations", org));
  EXPECT_EQ(r.downgraded_from, 0);
  EXPECT_TRUE(r.chain.problems.empty()) << r.chain.problems.front();
  EXPECT_EQ(r.chain.new_evidence, 0u);
  EXPECT_EQ(r.chain.unacknowledged, 0u);
  EXPECT_EQ(DowngradeEvidence(lc2), 0u);
  node::SyncReport r1 = SyncWithVersion2Hub(lc1);
  EXPECT_EQ(r1.downgraded_from, 0);
}

}  // namespace
}  // namespace fieldsync::testing
