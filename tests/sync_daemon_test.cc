// `fieldnode daemon` as a process: one log line per pass that moved
// something (none for a pass that moved nothing and says nothing new),
// failures said while the hub is unreachable, the next pass
// at once after one that made progress, an urgent case synced at once, and
// a clean stop on SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "support/sync_fixture.h"
#include "tools/lib/cutting_proxy.h"

namespace fieldsync::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DaemonTest : public SyncProcessTest {
 protected:
  pid_t StartDaemon(const std::string& dir, const std::vector<std::string>& extra) {
    log_ = dir + "/daemon.log";
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 2);
      std::vector<std::string> argv = {harness::BinDir() + "/fieldnode", "daemon", "--data-dir",
                                       dir};
      argv.insert(argv.end(), extra.begin(), extra.end());
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    return pid;
  }

  // Waits up to `seconds` for `pattern` to appear in the daemon's log.
  bool WaitForLog(const std::string& pattern, int count, double seconds) {
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    while (std::chrono::steady_clock::now() < until) {
      if (Count(pattern) >= count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  int Count(const std::string& pattern) {
    const std::string log = ReadAll(log_);
    int n = 0;
    for (size_t p = log.find(pattern); p != std::string::npos; p = log.find(pattern, p + 1)) ++n;
    return n;
  }

  static int Stop(pid_t pid, int* seconds_taken) {
    const auto start = std::chrono::steady_clock::now();
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    *seconds_taken = static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::steady_clock::now() - start)
                                          .count());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string log_;
};

TEST_F(DaemonTest, LogsEachPassThatMovesSomethingAndStopsCleanlyOnSigterm) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  const pid_t pid = StartDaemon(n.dir(), {"--every", "1s"});
  ASSERT_TRUE(WaitForLog("sync ok:", 1, 20)) << ReadAll(log_);
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  ASSERT_TRUE(WaitForLog("sync ok:", 2, 20)) << ReadAll(log_);
  int taken = 0;
  EXPECT_EQ(Stop(pid, &taken), 0) << ReadAll(log_);
  EXPECT_LE(taken, 5);
  const std::string log = ReadAll(log_);
  EXPECT_NE(log.find("pushed 1"), std::string::npos) << log;
  EXPECT_NE(log.find("daemon: stopped"), std::string::npos) << log;
  // One line per pass.
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("sync ok:") != std::string::npos) {
      EXPECT_NE(line.find(" ms"), std::string::npos) << line;
    }
  }
}

// A daemon syncing every second with nothing to do once logged a line a
// pass (407 in 34 minutes): a pass that moves nothing and says nothing new
// is not logged (an hourly line says the daemon is alive: PassLogTest).
TEST_F(DaemonTest, PassesThatMoveNothingAreNotLogged) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(n);
  const pid_t pid = StartDaemon(n.dir(), {"--every", "1s"});
  ASSERT_TRUE(WaitForLog("sync ok:", 1, 20)) << ReadAll(log_);
  // Passes go on (each stamps the time of the last sync that completed).
  auto last_sync = [&] {
    auto v = n.replica().GetCursor(sync::kLastSyncCursor);
    return v.ok() ? *v : int64_t{0};
  };
  int64_t seen = last_sync();
  int passes = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (passes < 3 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (const int64_t now = last_sync(); now != seen) {
      seen = now;
      ++passes;
    }
  }
  ASSERT_EQ(passes, 3) << ReadAll(log_);
  EXPECT_EQ(Count("sync ok:"), 1) << ReadAll(log_);
  // Something to move: logged, saying how many passes moved nothing.
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  ASSERT_TRUE(WaitForLog("pushed 1", 1, 20)) << ReadAll(log_);
  EXPECT_NE(ReadAll(log_).find("passes since the last line moved nothing"), std::string::npos)
      << ReadAll(log_);
  int taken = 0;
  EXPECT_EQ(Stop(pid, &taken), 0);
}

// The backoff's growth, cap and jitter are tested in process, without
// waiting for them (DaemonLoopTest, tests/node_daemon_loop_test.cc); here
// the program: it says a failed pass and when it tries next, and syncs by
// itself once the hub is back.
TEST_F(DaemonTest, SaysEachFailureWhileTheHubIsDownAndRecoversByItself) {
  auto& n = AddNode("LC");
  hub_->Stop();
  const pid_t pid = StartDaemon(n.dir(), {"--every", "1s", "--max-backoff", "2s"});
  ASSERT_TRUE(WaitForLog("sync failed", 2, 30)) << ReadAll(log_);
  const std::string log = ReadAll(log_);
  std::regex wait_re("next try in ([0-9]+) s");
  std::vector<int> waits;
  for (std::sregex_iterator it(log.begin(), log.end(), wait_re), end; it != end; ++it) {
    waits.push_back(std::stoi((*it)[1]));
  }
  ASSERT_GE(waits.size(), 1u) << log;
  for (int w : waits) EXPECT_LE(w, 2) << "--max-backoff 2s\n" << log;
  EXPECT_NE(log.find("UNAVAILABLE"), std::string::npos) << log;
  // The hub comes back: the daemon syncs again by itself.
  ASSERT_TRUE(hub_->Start().ok());
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  ASSERT_TRUE(WaitForLog("sync ok:", 1, 30)) << ReadAll(log_);
  int taken = 0;
  EXPECT_EQ(Stop(pid, &taken), 0);
}

// A link that drops every connection after 20 KB: each pass is cut, but
// each moves some cases (docs/PROTOCOL.md, "Message budgets"); the next
// starts at once rather than after a growing backoff, which is for passes
// that moved nothing.
TEST_F(DaemonTest, AfterAPassThatMadeProgressTheNextStartsAtOnce) {
  auto& n = AddNode("LC");
  MustSync(n);
  constexpr int kCases = 500;
  std::vector<LocalTxn> batch;
  for (int i = 0; i < kCases; ++i) {
    LocalTxn t;
    std::string noise;  // does not compress
    while (noise.size() < 120) noise += Id16::NewRandom().ToString();
    t.Create("cases", Id16::NewRandom(),
             {{"case_code", Value::Text(absl::StrCat("LC-", i))},
              {"province", Value::Text("LC")},
              {"status", Value::Text("intake")},
              {"narrative", Value::Text(noise)}});
    batch.push_back(std::move(t));
  }
  ASSERT_TRUE(n.replica().WriteMany(batch).ok());
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetConnectionLimit(20000);
  auto hub = node::LoadHubConfig(n.dir());
  ASSERT_TRUE(hub.ok()) << hub.status();
  hub->address = absl::StrCat("localhost:", proxy.port());
  ASSERT_TRUE(node::SaveEnrolment(n.dir(), *hub, n.credential()).ok());
  // Backoff capped at 1 s: the passes cut before the hub acknowledged
  // anything (some 10 of 60) wait their backoff, which this test is not
  // about (at 4 s they took 20 of its 30 s; before the cap, 2-4 s each).
  const pid_t pid = StartDaemon(n.dir(), {"--every", "1h", "--max-backoff", "1s"});
  const bool done = WaitForLog("sync ok:", 1, 60);
  auto pushed = n.replica().GetCursor(node::kPushedCursor);
  ASSERT_TRUE(pushed.ok());
  // The recovery says how many passes failed before it; the same cut
  // again is counted, not logged each pass (PassLog).
  const std::string log = ReadAll(log_);
  std::smatch m;
  const int failed = std::regex_search(log, m, std::regex("after ([0-9]+) failed passes in a row"))
                         ? std::stoi(m[1])
                         : 0;
  std::cout << (done ? "completed" : "not completed") << " after " << failed
            << " cut passes, " << Count("sync failed") << " failure lines logged ("
            << Count("next try at once") << " followed at once); "
            << *pushed - (LastSeq(n) - kCases) << " of " << kCases << " cases pushed\n";
  int taken = 0;
  EXPECT_EQ(Stop(pid, &taken), 0);
  EXPECT_TRUE(done) << "the daemon did not finish within 60 s";
  EXPECT_GE(failed, 10) << log;
  EXPECT_GE(Count("next try at once"), 1) << log;
  // One line for each run of the same failure, then at the 2nd, 4th, 8th
  // ... in a row (a run in the push, one in the pull: 10 lines for 60 cuts;
  // before, 60).
  int bound = 3;
  for (int n = failed; n > 1; n /= 2) bound += 3;
  EXPECT_LE(Count("sync failed"), bound) << "a line for each cut pass:\n" << log;
  EXPECT_GE(proxy.cuts(), 10);
  EXPECT_EQ(*pushed, static_cast<int64_t>(LastSeq(n)));
}

TEST_F(DaemonTest, AnUrgentCaseIsSyncedAtOnce) {
  auto& n = AddNode("LC");
  auto& other = AddNode("LC");
  const pid_t pid = StartDaemon(n.dir(), {"--every", "1h"});
  ASSERT_TRUE(WaitForLog("sync ok:", 1, 20)) << ReadAll(log_);
  // An ordinary case waits for the next pass, an hour away (that it does
  // not wake the daemon is NodeOpsTest.OnlyAnUrgentWriteWakesTheDaemon's,
  // without a sleep); an urgent one goes now.
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  const RowId urgent = NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  SetField(n.replica(), "cases", urgent, "urgency", Value::Text("urgent"));
  ASSERT_TRUE(WaitForLog("sync ok:", 2, 10)) << ReadAll(log_);
  EXPECT_NE(ReadAll(log_).find("urgent"), std::string::npos);
  MustSync(other);
  auto row = other.replica().Get("cases", urgent);
  ASSERT_TRUE(row.ok());
  EXPECT_TRUE(row->has_value());
  int taken = 0;
  EXPECT_EQ(Stop(pid, &taken), 0);
}

TEST_F(DaemonTest, ARevokedNodesDaemonStopsAndSaysWhy) {
  auto& n = AddNode("LC");
  ASSERT_EQ(hub_->Admin({"node", "revoke", n.replica().device_id().ToString()}).exit_code, 0);
  const pid_t pid = StartDaemon(n.dir(), {"--every", "1s"});
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(ReadAll(log_).find("revoked"), std::string::npos) << ReadAll(log_);
}

}  // namespace
}  // namespace fieldsync::testing

namespace fieldsync::testing {
namespace {

TEST_F(DaemonTest, SigtermDuringAPullStopsBetweenBatchesAndLosesNothing) {
  auto& writer = AddNode("LC");
  auto& n = AddNode("LC");
  MustSync(n);  // bootstrapped: what follows streams as commits
  std::vector<LocalTxn> txns;
  for (int i = 0; i < 3000; ++i) {
    LocalTxn t;
    t.Create("cases", Id16::NewRandom(),
             {{"case_code", Value::Text(absl::StrCat("LC-", i))},
              {"province", Value::Text("LC")},
              {"narrative", Value::Text(std::string(300, 'x'))}});
    txns.push_back(std::move(t));
  }
  ASSERT_TRUE(writer.replica().WriteMany(txns).ok());
  MustSync(writer);
  const pid_t pid = StartDaemon(n.dir(), {"--every", "1h", "--pull-batch", "20"});
  // Stop it while the pull is under way: the first pass has started, not ended.
  for (int i = 0; i < 200; ++i) {
    auto cursor = n.replica().GetCursor(node::kPulledCursor);
    ASSERT_TRUE(cursor.ok());
    if (*cursor > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int taken = 0;
  EXPECT_EQ(Stop(pid, &taken), 0) << ReadAll(log_);
  EXPECT_LE(taken, 5);
  auto cursor = n.replica().GetCursor(node::kPulledCursor);
  ASSERT_TRUE(cursor.ok());
  std::cout << "stopped at cursor " << *cursor << " of 3000\n";
  EXPECT_LT(*cursor, 3000) << "the stop must land inside the pull for this test to mean anything";
  EXPECT_NE(ReadAll(log_).find("daemon: stopped"), std::string::npos) << ReadAll(log_);
  EXPECT_TRUE(n.replica().CheckIntegrity().ok());
  // What was applied stays; the rest comes with the next pass.
  MustSync(n);
  EXPECT_EQ(Digest(n.replica()), Digest(writer.replica()));
}

}  // namespace
}  // namespace fieldsync::testing

namespace fieldsync::testing {
namespace {

// SIGTERM while a push call crawls over a slow link (each call of a few
// hundred KB takes seconds at 20 KB/s): the daemon cancels the call under
// way and exits within 2 s, rather than at the end of the call (or at its
// 30-s deadline). What the hub acknowledged before stays acknowledged.
TEST_F(DaemonTest, SigtermMidPushOverASlowLinkStopsWithinTwoSeconds) {
  auto& n = AddNode("LC");
  MustSync(n);
  std::vector<LocalTxn> txns;
  for (int i = 0; i < 1000; ++i) {
    std::string noise;  // does not compress
    while (noise.size() < 600) noise += Id16::NewRandom().ToString();
    LocalTxn t;
    t.Create("cases", Id16::NewRandom(),
             {{"case_code", Value::Text(absl::StrCat("LC-", i))},
              {"province", Value::Text("LC")},
              {"narrative", Value::Text(noise)}});
    txns.push_back(std::move(t));
  }
  ASSERT_TRUE(n.replica().WriteMany(txns).ok());
  CuttingProxy proxy("127.0.0.1", hub_->port());
  ASSERT_TRUE(proxy.Start().ok());
  proxy.SetRate(20'000);
  auto hub = node::LoadHubConfig(n.dir());
  ASSERT_TRUE(hub.ok()) << hub.status();
  hub->address = absl::StrCat("localhost:", proxy.port());
  ASSERT_TRUE(node::SaveEnrolment(n.dir(), *hub, n.credential()).ok());
  const pid_t pid = StartDaemon(n.dir(), {"--every", "1h"});
  // Inside the first push: past the TLS handshake and Hello (a few KB),
  // short of the first call's end (the push budget starts at 256 KiB).
  for (int i = 0; i < 600 && proxy.bytes(Direction::kUpstream) < 40'000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(proxy.bytes(Direction::kUpstream), 40'000u) << ReadAll(log_);
  const auto start = std::chrono::steady_clock::now();
  kill(pid, SIGTERM);
  // Bounded: a daemon that does not stop is killed after 60 s.
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  auto pushed = n.replica().GetCursor(node::kPushedCursor);
  ASSERT_TRUE(pushed.ok());
  std::cout << "stopped " << seconds << " s after SIGTERM, " << proxy.bytes(Direction::kUpstream)
            << " bytes sent up, " << *pushed - (LastSeq(n) - 1000) << " of 1000 pushed\n";
  EXPECT_NE(done, 0) << "still running 60 s after SIGTERM";
  EXPECT_LT(seconds, 2.0) << ReadAll(log_);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(log_);
  EXPECT_NE(ReadAll(log_).find("daemon: stopped"), std::string::npos) << ReadAll(log_);
  EXPECT_LT(*pushed, static_cast<int64_t>(LastSeq(n))) << "the stop must land inside the push";
  // Nothing lost: the next sync, over a sound link, pushes the rest.
  ASSERT_TRUE(n.Connect(hub_->address()).ok());
  MustSync(n);
  pushed = n.replica().GetCursor(node::kPushedCursor);
  ASSERT_TRUE(pushed.ok());
  EXPECT_EQ(*pushed, static_cast<int64_t>(LastSeq(n)));
}

}  // namespace
}  // namespace fieldsync::testing
