// Sync under faults: the link cut in the middle of a push and of a pull
// (through a proxy that cuts at an exact byte count), the hub killed with
// SIGKILL and restarted, a `fieldnode sync` process killed with SIGKILL
// while it applies. Afterwards everything converges, no commit is lost or
// applied twice, and every database passes PRAGMA integrity_check.
//
// Randomized cut points and kill times: the seed is printed;
// FIELDSYNC_SEED=<n> replays a run.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "support/sync_fixture.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::testing {
namespace {

uint64_t Seed() {
  if (const char* s = std::getenv("FIELDSYNC_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

class FaultTest : public SyncProcessTest {
 protected:
  // Text that does not compress (the wire is gzip'ed): cut points then
  // fall where the test means them to.
  static std::string Noise(size_t n) {
    std::string out;
    while (out.size() < n) out += Id16::NewRandom().ToString();
    out.resize(n);
    return out;
  }

  // `n` cases written by `node`, 100 commits per SQLite transaction.
  static void WriteCases(harness::LocalNode& node, int n, const std::string& tag) {
    std::vector<LocalTxn> batch;
    for (int i = 0; i < n; ++i) {
      LocalTxn t;
      t.Create("cases", Id16::NewRandom(),
               {{"case_code", Value::Text(absl::StrCat(tag, "-", i))},
                {"province", Value::Text(node.province())},
                {"status", Value::Text("intake")},
                {"narrative", Value::Text(Noise(400))},
                {"interview_notes", Value::Text(Noise(300))}});
      batch.push_back(std::move(t));
      if (batch.size() == 100 || i + 1 == n) {
        auto w = node.replica().WriteMany(batch);
        ASSERT_TRUE(w.ok()) << w.status();
        batch.clear();
      }
    }
  }

  struct HubCounts {
    uint64_t log_commits = 0;
  };
  HubCounts Counts() {
    auto hub = OpenHubReplica();
    auto s = hub->Stats();
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE(hub->CheckIntegrity().ok());
    return HubCounts{s.ok() ? s->log_commits : 0};
  }

  static uint64_t LogCommits(Replica& r) {
    auto s = r.Stats();
    EXPECT_TRUE(s.ok());
    return s.ok() ? s->log_commits : 0;
  }

  // Syncs until it succeeds (the link has healed, the hub is back), for up
  // to about 20 s, as the daemon would with its backoff.
  static void SyncUntilOk(harness::LocalNode& n) {
    absl::Status last;
    for (int i = 0; i < 40; ++i) {
      auto r = n.Sync();
      if (r.ok()) return;
      last = r.status();
      EXPECT_TRUE(node::Retryable(last)) << last;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    ADD_FAILURE() << "sync never succeeded: " << last;
  }
};

TEST_F(FaultTest, ALinkCutInTheMiddleOfAPushLosesNothingAndStoresNothingTwice) {
  const uint64_t seed = Seed();
  std::cout << "FIELDSYNC_SEED=" << seed << "\n";
  std::mt19937_64 rng(seed);
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  auto& n = AddNode("LC");
  ASSERT_TRUE(n.Connect(absl::StrCat("localhost:", proxy.port()), 0, 200).ok());
  WriteCases(n, 1000, "push");
  // Cut the request half-way through a batch, then a response on its way
  // back (the hub stored the batch; the node never heard): both are safe.
  int cut = 0;
  for (int round = 0; round < 4; ++round) {
    const bool upstream = round % 2 == 0;
    const uint64_t at = upstream ? 2000 + rng() % 150000 : 200 + rng() % 800;
    proxy.CutAfterBytes(upstream ? Direction::kUpstream : Direction::kDownstream, at);
    auto r = n.Sync();
    std::cout << "round " << round << (upstream ? " upstream" : " downstream") << " cut at "
              << at << ": " << (r.ok() ? "completed before the cut" : r.status().ToString())
              << "\n";
    if (!r.ok()) {
      ++cut;
      EXPECT_TRUE(node::Retryable(r.status())) << r.status();
    }
    WriteCases(n, 100, absl::StrCat("more", round));
  }
  EXPECT_GE(cut, 2) << "the cuts must interrupt pushes for this test to mean anything";
  proxy.CutAfterBytes(Direction::kUpstream, uint64_t{1} << 40);  // no more cuts
  SyncUntilOk(n);
  auto pushed = n.replica().GetCursor(node::kPushedCursor);
  ASSERT_TRUE(pushed.ok());
  EXPECT_EQ(*pushed, 1400);
  // Exactly once: the hub's log holds each of the 1,400 commits once.
  EXPECT_EQ(Counts().log_commits, 1400u);
  auto hub = OpenHubReplica();
  EXPECT_EQ(Digest(*hub), Digest(n.replica()));
  EXPECT_TRUE(n.replica().CheckIntegrity().ok());
}

TEST_F(FaultTest, ALinkCutInTheMiddleOfAPullResumesAndAppliesNothingTwice) {
  const uint64_t seed = Seed();
  std::cout << "FIELDSYNC_SEED=" << seed << "\n";
  std::mt19937_64 rng(seed);
  auto& writer = AddNode("LC");
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  join_offices_ = false;  // its first sync must be the bootstrap below
  auto& reader = AddNode("LC");
  ASSERT_TRUE(reader.Connect(absl::StrCat("localhost:", proxy.port()), 100).ok());
  // A bootstrap cut half-way, then commits streamed from a cursor.
  WriteCases(writer, 600, "boot");
  MustSync(writer);
  proxy.CutAfterBytes(Direction::kDownstream, 20000 + rng() % 200000);
  auto first = reader.Sync();
  std::cout << "bootstrap: " << (first.ok() ? "completed before the cut" : first.status().ToString())
            << "\n";
  SyncUntilOk(reader);
  int cut = first.ok() ? 0 : 1;
  for (int round = 0; round < 3; ++round) {
    WriteCases(writer, 700, absl::StrCat("log", round));
    MustSync(writer);
    const uint64_t at = 5000 + rng() % 300000;
    proxy.CutAfterBytes(Direction::kDownstream, at);
    auto r = reader.Sync();
    std::cout << "round " << round << " cut at " << at << ": "
              << (r.ok() ? "completed before the cut" : r.status().ToString()) << "\n";
    if (!r.ok()) ++cut;
    auto cursor = reader.replica().GetCursor(node::kPulledCursor);
    ASSERT_TRUE(cursor.ok());
    std::cout << "  cursor after the cut: " << *cursor << "\n";
  }
  EXPECT_GE(cut, 3) << "the cuts must interrupt pulls for this test to mean anything";
  proxy.CutAfterBytes(Direction::kDownstream, uint64_t{1} << 40);
  SyncUntilOk(reader);
  EXPECT_EQ(Digest(reader.replica()), Digest(writer.replica()));
  // Each commit applied once: the reader's log holds those it pulled
  // through the log (the bootstrap installs rows, not commits) once each.
  EXPECT_EQ(LogCommits(reader.replica()), 2100u);
  EXPECT_TRUE(reader.replica().CheckIntegrity().ok());
}

TEST_F(FaultTest, TheHubKilledAndRestartedLosesNothing) {
  const uint64_t seed = Seed();
  std::cout << "FIELDSYNC_SEED=" << seed << "\n";
  std::mt19937_64 rng(seed);
  std::vector<harness::LocalNode*> nodes = {&AddNode("LC"), &AddNode("LC"), &AddNode("HN")};
  std::vector<std::thread> threads;
  std::vector<int> failures(nodes.size(), 0);
  std::vector<int> rounds(nodes.size(), 0);
  std::atomic<bool> kills_done{false};
  for (size_t i = 0; i < nodes.size(); ++i) {
    threads.emplace_back([&, i] {
      // Writing and syncing until both kills are over (at least 8 rounds),
      // so that the kills land in the traffic however fast this machine is.
      for (int round = 0; round < 400 && (round < 8 || !kills_done.load()); ++round) {
        WriteCases(*nodes[i], 150, absl::StrCat("n", i, "r", round));
        auto r = nodes[i]->Sync();
        if (!r.ok()) ++failures[i];
        rounds[i] = round + 1;
      }
    });
  }
  // Kill the hub twice at random moments while the nodes push and pull.
  for (int kill = 0; kill < 2; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    hub_->Kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(hub_->Start().ok());
  }
  kills_done = true;
  for (auto& t : threads) t.join();
  for (int pass = 0; pass < 2; ++pass) {
    for (auto* n : nodes) SyncUntilOk(*n);
  }
  std::cout << "rounds: " << rounds[0] << ", " << rounds[1] << ", " << rounds[2]
            << "; failed passes while the hub was down: " << failures[0] << ", " << failures[1]
            << ", " << failures[2] << "\n";
  // The kills landed while the nodes were syncing, or the test means nothing.
  EXPECT_GE(failures[0] + failures[1] + failures[2], 1);
  EXPECT_EQ(Digest(nodes[0]->replica()), Digest(nodes[1]->replica()));
  // Every commit written is at the hub, once.
  EXPECT_EQ(Counts().log_commits,
            static_cast<uint64_t>(rounds[0] + rounds[1] + rounds[2]) * 150);
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto pushed = nodes[i]->replica().GetCursor(node::kPushedCursor);
    ASSERT_TRUE(pushed.ok());
    EXPECT_EQ(*pushed, rounds[i] * 150);
    EXPECT_TRUE(nodes[i]->replica().CheckIntegrity().ok());
  }
  auto live = nodes[2]->replica().ListRows("cases", false);
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->size(), static_cast<size_t>(rounds[2]) * 150);  // Hà Nội: its own cases only
}

// SIGTERM to a hub with laptops connected but no call in progress: the hub
// stops at once instead of waiting out its grace period for connections
// that will never close by themselves (gRPC's shutdown waits for clients to
// hang up), and a laptop syncs with it again once it is back.
TEST_F(FaultTest, AHubStopsPromptlyOnSigtermWhileLaptopsStayConnected) {
  auto& a = AddNode("LC");
  auto& b = AddNode("LC");
  WriteCases(a, 5, "before");
  MustSync(a);
  MustSync(b);  // both keep their channels open to the hub
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(hub_->Stop(), 0);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start).count();
  std::cout << "the hub stopped " << took << " ms after SIGTERM\n";
  // Its grace period for calls in progress is 5 s; none was in progress.
  EXPECT_LT(took, 2000);
  ASSERT_TRUE(hub_->Start().ok());
  WriteCases(a, 5, "after");
  SyncUntilOk(a);
  SyncUntilOk(b);
  EXPECT_EQ(Digest(a.replica()), Digest(b.replica()));
  EXPECT_EQ(Counts().log_commits, 10u);
}

TEST_F(FaultTest, ANodeKilledWhileApplyingConvergesWhenItSyncsAgain) {
  const uint64_t seed = Seed();
  std::cout << "FIELDSYNC_SEED=" << seed << "\n";
  std::mt19937_64 rng(seed);
  auto& writer = AddNode("LC");
  auto& victim = AddNode("LC");
  MustSync(victim);  // bootstrapped (empty): what follows comes as commits
  const std::string fieldnode = harness::BinDir() + "/fieldnode";
  // Runs `fieldnode sync` and, once it has applied at least one pull
  // message (its cursor moved) and a few random milliseconds more, kills it
  // with SIGKILL: the kill lands in the middle of the pull, inside or
  // between the transactions of its messages, however fast this machine is.
  auto sync_and_kill = [&](int64_t before) {
    const pid_t pid = fork();
    if (pid == 0) {
      // Small pull messages: 30 transactions for 1,500 commits.
      execl(fieldnode.c_str(), fieldnode.c_str(), "sync", "--data-dir", victim.dir().c_str(),
            "--pull-batch", "50", static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    for (int i = 0; i < 3000; ++i) {
      if (waitpid(pid, &status, WNOHANG) == pid) return false;  // finished first
      auto cursor = victim.replica().GetCursor(node::kPulledCursor);
      if (cursor.ok() && *cursor > before) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status);
  };
  int killed = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    WriteCases(writer, 1500, absl::StrCat("big", attempt));
    MustSync(writer);
    auto before = victim.replica().GetCursor(node::kPulledCursor);
    ASSERT_TRUE(before.ok());
    const bool was_killed = sync_and_kill(*before);
    killed += was_killed;
    auto after = victim.replica().GetCursor(node::kPulledCursor);
    ASSERT_TRUE(after.ok());
    std::cout << "attempt " << attempt << ": " << (was_killed ? "killed" : "finished first")
              << ", cursor " << *before << " -> " << *after << "\n";
    ASSERT_TRUE(victim.replica().CheckIntegrity().ok());
  }
  std::cout << killed << " of 5 runs killed mid-sync\n";
  EXPECT_GE(killed, 3);
  auto done = harness::Run({fieldnode, "sync", "--data-dir", victim.dir()});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(Digest(victim.replica()), Digest(writer.replica()));
  EXPECT_EQ(LogCommits(victim.replica()), 5u * 1500);
  EXPECT_TRUE(victim.replica().CheckIntegrity().ok());
  EXPECT_EQ(Counts().log_commits, 5u * 1500);  // and the hub's file is sound
}

}  // namespace
}  // namespace fieldsync::testing
