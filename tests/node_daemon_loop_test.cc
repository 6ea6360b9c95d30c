// The daemon's loop in the node library (node/daemon_loop.h), run in
// process against a hub in the test's process: what a pass leaves, how
// long it waits, what wakes the wait, what ends the loop. Nothing sleeps:
// the tests give the loop a waiter that answers at once.
#include "node/daemon_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "support/sync_fixture.h"
#include "sync/forwarding_transport.h"

namespace fieldsync::testing {
namespace {

using node::DaemonOptions;
using node::DaemonPassResult;
using node::DaemonWake;
using node::SyncDaemon;

// A waiter that does not wait: it records what it was asked and asks
// `urgent` once, as the real one would when its time to look came.
class InstantWaiter final : public node::DaemonWaiter {
 public:
  DaemonWake Wait(int64_t millis, const std::atomic<bool>* stop,
                  const std::function<bool()>& urgent) override {
    waits.push_back(millis);
    if (before_looking) before_looking();
    if (stop != nullptr && stop->load()) return DaemonWake::kStop;
    if (urgent && urgent()) return DaemonWake::kUrgent;
    return DaemonWake::kTime;
  }
  std::vector<int64_t> waits;
  std::function<void()> before_looking;  // e.g. the officer writes during the wait
};

// A hub that answers every call with `status` (unreachable, or refusing
// this laptop).
class AnsweringWith final : public sync::ForwardingTransport {
 public:
  explicit AnsweringWith(absl::Status status) : status_(std::move(status)) {}

 protected:
  absl::StatusOr<sync::Transport*> Next() const override { return status_; }

 private:
  absl::Status status_;
};

DaemonOptions Options(uint64_t seed) {
  DaemonOptions o;
  o.schedule.every_millis = 300'000;
  o.schedule.backoff_base_millis = 1'000;
  o.schedule.max_backoff_millis = 600'000;
  o.seed = seed;
  return o;
}

class DaemonLoopTest : public SyncTest {};

TEST_F(DaemonLoopTest, APassThatSucceededWaitsEveryAndKeepsTheTimeOfTheLastSync) {
  auto& lc = AddNode("LC");
  NewCase(lc.replica(), "LC", "Lò Thị Mai");
  FakeClock clock(1'765'000'000'000);
  DaemonOptions o = Options(7);
  o.clock = &clock;
  SyncDaemon daemon(lc.replica(), *lc.keys(), lc.client(), lc.credential(), o, nullptr);
  const DaemonPassResult pass = daemon.Pass();
  ASSERT_TRUE(pass.report.ok()) << pass.report.status();
  EXPECT_TRUE(pass.progressed);
  EXPECT_EQ(pass.report->pushed, 1u);
  EXPECT_EQ(pass.wait_millis, 300'000);
  EXPECT_FALSE(pass.refused());
  EXPECT_FALSE(pass.stopped);
  EXPECT_EQ(Must(lc.replica().GetCursor(node::kLastSyncCursor)), 1'765'000'000'000);
}

TEST_F(DaemonLoopTest, AnUrgentCommitWrittenDuringTheWaitWakesItAndAnOrdinaryOneDoesNot) {
  auto& lc = AddNode("LC");
  SyncDaemon daemon(lc.replica(), *lc.keys(), lc.client(), lc.credential(), Options(7), nullptr);
  const DaemonPassResult pass = daemon.Pass();
  ASSERT_TRUE(pass.report.ok()) << pass.report.status();
  InstantWaiter waiter;
  RowId kase;
  waiter.before_looking = [&] { kase = NewCase(lc.replica(), "LC", "Lò Thị Mai"); };
  EXPECT_EQ(daemon.Wait(pass, waiter), DaemonWake::kTime) << "an ordinary case waits its turn";
  waiter.before_looking = [&] {
    SetField(lc.replica(), "cases", kase, "urgency", Value::Text("urgent"));
  };
  EXPECT_EQ(daemon.Wait(pass, waiter), DaemonWake::kUrgent);
  EXPECT_EQ(waiter.waits, (std::vector<int64_t>{300'000, 300'000}));
}

TEST_F(DaemonLoopTest, TheBackoffWhileTheHubIsUnreachableGrowsAndReplaysFromItsSeed) {
  auto& lc = AddNode("LC");
  auto waits_of = [&](uint64_t seed) {
    auto client = node::SyncClient::Over(
        std::make_unique<AnsweringWith>(absl::UnavailableError("no route to the hub")), {});
    SyncDaemon daemon(lc.replica(), *lc.keys(), *client, lc.credential(), Options(seed), nullptr);
    std::vector<int64_t> waits;
    for (int i = 0; i < 8; ++i) {
      const DaemonPassResult pass = daemon.Pass();
      EXPECT_EQ(pass.report.status().code(), absl::StatusCode::kUnavailable);
      EXPECT_FALSE(pass.refused());
      waits.push_back(pass.wait_millis);
    }
    EXPECT_EQ(daemon.failures(), 8);
    return waits;
  };
  const std::vector<int64_t> first = waits_of(42);
  EXPECT_EQ(waits_of(42), first) << "the same seed, the same waits";
  EXPECT_LT(first.front(), first.back()) << "the wait grows";
  for (int64_t w : first) {
    EXPECT_GT(w, 0);
    EXPECT_LE(w, 600'000);
  }
  EXPECT_NE(waits_of(43), first) << "the jitter comes from the seed";
}

TEST_F(DaemonLoopTest, TheBackoffStopsGrowingAtItsCap) {
  auto& lc = AddNode("LC");
  auto client = node::SyncClient::Over(
      std::make_unique<AnsweringWith>(absl::UnavailableError("no route to the hub")), {});
  DaemonOptions o = Options(42);
  o.schedule.max_backoff_millis = 8'000;
  SyncDaemon daemon(lc.replica(), *lc.keys(), *client, lc.credential(), o, nullptr);
  std::vector<int64_t> waits;
  for (int i = 0; i < 10; ++i) waits.push_back(daemon.Pass().wait_millis);
  // Jittered halves of 2, 4, 8, 8 ... s.
  EXPECT_LE(waits[0], 2'000);
  for (size_t i = 3; i < waits.size(); ++i) {
    EXPECT_GE(waits[i], 4'000) << i;
    EXPECT_LE(waits[i], 8'000) << i;
  }
}

TEST_F(DaemonLoopTest, AHubThatRefusesTheLaptopEndsTheLoopAfterOnePass) {
  auto& lc = AddNode("LC");
  auto client = node::SyncClient::Over(
      std::make_unique<AnsweringWith>(absl::UnauthenticatedError("this device was revoked")), {});
  SyncDaemon daemon(lc.replica(), *lc.keys(), *client, lc.credential(), Options(7), nullptr);
  InstantWaiter waiter;
  int passes = 0;
  EXPECT_EQ(daemon.Run(waiter, [&](const DaemonPassResult& p) {
    ++passes;
    EXPECT_TRUE(p.refused());
  }),
            SyncDaemon::End::kRefused);
  EXPECT_EQ(passes, 1);
  EXPECT_TRUE(waiter.waits.empty());
}

TEST_F(DaemonLoopTest, AStopDuringTheWaitEndsTheLoopWithoutAnotherPass) {
  auto& lc = AddNode("LC");
  std::atomic<bool> stop{false};
  SyncDaemon daemon(lc.replica(), *lc.keys(), lc.client(), lc.credential(), Options(7), &stop);
  InstantWaiter waiter;
  waiter.before_looking = [&] { stop.store(true); };
  int passes = 0;
  EXPECT_EQ(daemon.Run(waiter, [&](const DaemonPassResult& p) {
    ++passes;
    EXPECT_TRUE(p.report.ok()) << p.report.status();
  }),
            SyncDaemon::End::kStopped);
  EXPECT_EQ(passes, 1);
  EXPECT_EQ(waiter.waits.size(), 1u);
}

TEST_F(DaemonLoopTest, AnUrgentWakeIsHeardAndStartsTheNextPassAtOnce) {
  auto& lc = AddNode("LC");
  std::atomic<bool> stop{false};
  SyncDaemon daemon(lc.replica(), *lc.keys(), lc.client(), lc.credential(), Options(7), &stop);
  InstantWaiter waiter;
  waiter.before_looking = [&] {
    RowId kase = NewCase(lc.replica(), "LC", "Lò Thị Mai");
    SetField(lc.replica(), "cases", kase, "urgency", Value::Text("urgent"));
  };
  std::vector<uint64_t> pushed;
  std::vector<DaemonWake> woke;
  daemon.Run(
      waiter,
      [&](const DaemonPassResult& p) {
        ASSERT_TRUE(p.report.ok()) << p.report.status();
        pushed.push_back(p.report->pushed);
        if (pushed.size() == 2) stop.store(true);
      },
      [&](DaemonWake w) { woke.push_back(w); });
  EXPECT_EQ(pushed, (std::vector<uint64_t>{0, 2})) << "the urgent case (written, then marked) went in the next pass";
  EXPECT_EQ(woke, std::vector<DaemonWake>{DaemonWake::kUrgent});
}

}  // namespace
}  // namespace fieldsync::testing
