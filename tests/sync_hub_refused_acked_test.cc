// Commits a hub acknowledged and then refuses (a hub put back from a backup,
// or one that lies about what it lost; docs/PROTOCOL.md, "An acknowledged
// high-water mark"), and cursors a hub could move past what a call carried:
// the laptop is never held back for good, nor made to skip its own work
// (attack review 66, MEDIUM 2, MEDIUM 3, LOW 5).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "change/commit_codec.h"
#include "node/ops/set_aside.h"
#include "support/lying_restored_hub.h"
#include "support/sync_fixture.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"
#include "sync/protocol.h"
#include "sync/report.h"
#include "sync/set_aside.h"

namespace fieldsync::testing {
namespace {

class HubRefusedAckedTest : public SyncTest {
 protected:
  // How many of `rows` the hub holds live.
  size_t AtHub(const std::vector<RowId>& rows) {
    auto hub = OpenHubReplica();
    size_t n = 0;
    for (const RowId& r : rows) {
      auto row = hub->Get("cases", r);
      if (row.ok() && row->has_value() && (*row)->live) ++n;
    }
    return n;
  }

  // `a` deletes `xs` in one commit, syncs twice, and the administrator
  // collects them with every other laptop counted as stale.
  void DeleteAndCollect(harness::LocalNode& a, const std::vector<RowId>& xs) {
    LocalTxn t;
    for (const RowId& x : xs) t.Delete("cases", x);
    ASSERT_TRUE(a.replica().Write(t).ok());
    MustSync(a);
    MustSync(a);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto gc = hub_->Admin({"gc", "--min-age", "0s", "--stale-after", "10ms"});
    ASSERT_EQ(gc.exit_code, 0) << gc.err;
    ASSERT_NE(gc.out.find(absl::StrCat("collected ", xs.size(), " tombstones")), std::string::npos)
        << gc.out;
  }

  static int64_t Cursor(harness::LocalNode& n, const std::string& name) {
    auto c = n.replica().GetCursor(name);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : -1;
  }
};

// Several edits the hub acknowledged, then refuses for good after it was
// put back from a backup (their cases deleted and collected there): all are
// set aside at the third pass, together. Before, the passes were counted for
// one seq at a time: each edit cost three passes of its own (3N passes for
// N edits; at a pass every five minutes, 50 of them held the laptop's later
// work back for half a day).
TEST_F(HubRefusedAckedTest, SeveralEditsRefusedAfterARestoreAreSetAsideAtTheSamePass) {
  auto& a = AddNode("LC");
  auto& n = AddNode("LC");
  std::vector<RowId> xs;
  for (const char* name : {"Nguyễn Thị Hằng", "Lò Thị Mai", "Vàng Thị Sua"}) {
    xs.push_back(NewCase(a.replica(), "LC", name));
  }
  MustSync(a);
  MustSync(n);
  const std::string backup = CopyHubFile("backup.db");
  for (const RowId& x : xs) SetField(n.replica(), "cases", x, "status", Value::Text("assisting"));
  const RowId later = NewCase(n.replica(), "LC", "Giàng Thị Dế");
  ASSERT_EQ(MustSync(n).pushed, xs.size() + 1);
  PutHubFileBack(backup);
  DeleteAndCollect(a, xs);

  for (int pass = 1; pass <= static_cast<int>(sync::kDoubtsBeforeSetAside); ++pass) {
    auto r = n.Sync();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->set_aside, 0u) << "pass " << pass << ": set aside on the hub's word at once";
  }
  auto third = n.Sync();
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->set_aside, xs.size())
      << "refused alike at the same passes, yet not set aside together";
  EXPECT_TRUE(third->push_refused.ok()) << third->push_refused;
  EXPECT_EQ(third->chain.new_evidence, xs.size());
  EXPECT_EQ(AtHub({later}), 1u);
  auto listed = node::ops::ListSetAside(n.replica(), true);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), xs.size());
}

// "In a row" means in a row: a pass at which the hub acknowledges the commit
// again starts the count again. Before, the count never started again: two
// refusals, an acknowledgement, and one more refusal set the commit aside.
TEST_F(HubRefusedAckedTest, TheCountOfRefusalsStartsAgainWhenTheHubAcknowledgesTheCommit) {
  auto& n = AddNode("LC");
  const RowId first = NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  const uint64_t seq = LastSeq(n);
  const RowId second = NewCase(n.replica(), "LC", "Lò Thị Mai");
  MustSync(n);
  LyingRestoredHub hub(n.client().transport(), seq);
  auto pass = [&](const char* what) {
    auto r = sync::RunPass(hub, n.replica(), *n.keys(), n.credential(), {});
    EXPECT_TRUE(r.ok()) << what << ": " << r.status();
    return r.ok() ? *r : node::SyncReport{};
  };
  for (int i = 0; i < static_cast<int>(sync::kDoubtsBeforeSetAside); ++i) {
    EXPECT_EQ(pass("refused").refused_below_acknowledged, 1u);
  }
  hub.set_lying(false);
  node::SyncReport honest = pass("acknowledged");
  EXPECT_EQ(honest.set_aside, 0u);
  EXPECT_EQ(Cursor(n, sync::kPushedCursor), static_cast<int64_t>(LastSeq(n)));
  hub.set_lying(true);
  node::SyncReport again = pass("refused again");
  EXPECT_EQ(again.set_aside, 0u) << "set aside at the first refusal after an acknowledgement";
  EXPECT_EQ(again.refused_below_acknowledged, 1u);
  auto listed = node::ops::ListSetAside(n.replica(), true);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  hub.set_lying(false);
  MustSync(n);
  EXPECT_EQ(AtHub({first, second}), 2u);
}

// The count of refusals in a row is one cursor a seq: deleted, not zeroed,
// once the hub acknowledges the seq again or it is set aside, so that no
// row a seq stays behind for good (attack review 72, LOW 2). Before, both
// stayed: at 0 after the acknowledgement, at 3 after the set-aside.
TEST_F(HubRefusedAckedTest, ACountOfRefusalsIsDeletedOnceTheSeqIsAcknowledgedOrSetAside) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  const uint64_t seq = LastSeq(n);
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  MustSync(n);
  LyingRestoredHub hub(n.client().transport(), seq);
  auto pass = [&](const char* what) {
    auto r = sync::RunPass(hub, n.replica(), *n.keys(), n.credential(), {});
    EXPECT_TRUE(r.ok()) << what << ": " << r.status();
    return r.ok() ? *r : node::SyncReport{};
  };
  auto counts = [&]() {
    auto c = n.replica().CursorsNamed(sync::kRefusedAckedPrefix);
    EXPECT_TRUE(c.ok()) << c.status();
    std::string out;
    if (!c.ok()) return out;
    for (const auto& [name, times] : *c) absl::StrAppend(&out, name, "=", times, " ");
    return out;
  };
  EXPECT_EQ(pass("refused").refused_below_acknowledged, 1u);
  ASSERT_EQ(Cursor(n, sync::RefusedAckedCursor(seq)), 1) << "counted";
  hub.set_lying(false);
  EXPECT_EQ(pass("acknowledged").set_aside, 0u);
  EXPECT_EQ(counts(), "") << "after the hub acknowledged it again";
  hub.set_lying(true);
  for (int i = 0; i < static_cast<int>(sync::kDoubtsBeforeSetAside); ++i) pass("refused");
  EXPECT_EQ(pass("refused a third time").set_aside, 1u);
  EXPECT_EQ(counts(), "") << "after it was set aside";
}

// A hub (or a link rewriting its answers) that acknowledges and accounts
// more of a laptop's commits than a push carried; `downgrade`: it also
// agrees protocol version 2 at hello.
class HubAckingAhead : public sync::ForwardingTransport {
 public:
  HubAckingAhead(sync::Transport& real, bool downgrade)
      : ForwardingTransport(real), downgrade_(downgrade) {}
  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override {
    absl::StatusOr<sync::HelloReply> out = ForwardingTransport::Hello(req);
    if (out.ok() && downgrade_) out->protocol_version = 2;
    return out;
  }
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    absl::StatusOr<sync::PushOutcome> out = ForwardingTransport::Push(req);
    if (out.ok() && !req.commits.empty()) {
      out->acknowledged_seq += 5;
      if (out->accounted_seq > 0) out->accounted_seq += 5;
    }
    return out;
  }

 private:
  const bool downgrade_;
};

// Neither the push cursor nor the headers' accounted cursor moves past what
// the call carried, whatever the version agreed: the laptop's next commits
// are sent. Before, a hub that agreed version 2 moved `hub:pushed` to its
// number (the laptop skipped its next five commits), and at version 3
// `hub:chain_accounted` took the hub's number (the headers of the next
// commits never backfilled) (attack review 66, LOW 5).
TEST_F(HubRefusedAckedTest, AHubAcknowledgingAheadMovesNoCursorPastWhatThePushCarried) {
  for (const bool downgrade : {false, true}) {
    SCOPED_TRACE(downgrade ? "version 2" : "version 3");
    auto& n = AddNode("LC");
    const RowId mine = NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
    HubAckingAhead ahead(n.client().transport(), downgrade);
    auto r = sync::RunPass(ahead, n.replica(), *n.keys(), n.credential(), {});
    ASSERT_TRUE(r.ok()) << r.status();
    const auto last = static_cast<int64_t>(LastSeq(n));
    EXPECT_EQ(Cursor(n, sync::kPushedCursor), last);
    EXPECT_LE(Cursor(n, sync::kChainAccountedCursor), last);
    const RowId next = NewCase(n.replica(), "LC", "Lò Thị Mai");
    auto again = sync::RunPass(ahead, n.replica(), *n.keys(), n.credential(), {});
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(AtHub({mine, next}), 2u) << "the laptop skipped its next commit";
  }
}

}  // namespace
}  // namespace fieldsync::testing
