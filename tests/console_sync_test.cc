// The console's Sync page over real sockets (docs/CONSOLE.md, "The Sync
// page"): "Đồng bộ ngay" runs one pass of the node library in the
// background against a real `fieldhub serve`; its progress is polled; a
// locked console sends nothing; the poll is not activity for the idle
// lock; a hub that is down or silent is said in the CLI's words.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/json.h"
#include "node/agent.h"
#include "support/console_client.h"

extern char** environ;

namespace fieldsync::testing {
namespace {

// `fieldnode daemon --every 1h` on a data directory, stopped (SIGTERM,
// waited for) when it goes out of scope, on every path.
class DaemonProcess {
 public:
  explicit DaemonProcess(const std::string& data_dir) {
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "FIELDSYNC_PASSPHRASE", "-u",
                                     "FIELDSYNC_PASSPHRASE_FILE", harness::BinDir() + "/fieldnode",
                                     "daemon", "--every", "1h", "--data-dir", data_dir};
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, c[0], &fa, nullptr, c.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~DaemonProcess() { Stop(); }
  bool started() const { return pid_ > 0; }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

class ConsoleSyncTest : public ConsoleClientTest {
 protected:
  void Unlock(const std::string& session) {
    auto unlocked = Post("/api/unlock", session, {{"passphrase", kConsolePass}}, Origin());
    ASSERT_TRUE(unlocked);
    ASSERT_EQ(unlocked->status, 200) << unlocked->body;
  }
  // A case written through the console's intake; its code.
  std::string Intake(const std::string& session, const std::string& name) {
    auto made = Post("/api/intake", session,
                     {{"person", {{"full_name", name}, {"sex", "female"}}}}, Origin());
    EXPECT_TRUE(made);
    if (!made) return "";
    EXPECT_EQ(made->status, 200) << made->body;
    return made->status == 200 ? Body(made)["case_code"].get<std::string>() : "";
  }
  Json SyncState(const std::string& session) {
    auto s = Get("/api/sync", session);
    EXPECT_TRUE(s);
    if (!s) return Json();
    EXPECT_EQ(s->status, 200) << s->body;
    return Body(s);
  }
  // Polls GET /api/sync until no pass runs (60 s at most); the last state.
  Json WaitForPass(const std::string& session) {
    Json s;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    do {
      s = SyncState(session);
      if (s.is_object() && s["running"] == false) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (std::chrono::steady_clock::now() < deadline);
    ADD_FAILURE() << "the pass still runs after 60 s: " << JsonStored(s);
    return s;
  }
  // A hub that accepts connections and never answers: a listening socket
  // on 127.0.0.1 (closing it resets the connection waiting in its queue),
  // the node's enrolment pointed at it.
  void PointHubAtSilentListener(int* silent) {
    *silent = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(*silent, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(*silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(listen(*silent, 8), 0);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(getsockname(*silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    PointHubAt(ntohs(addr.sin_port));
  }
  // Points the node's enrolment (hub.conf) at 127.0.0.1:PORT.
  void PointHubAt(int port) {
    const std::string path = node_ + "/hub.conf";
    std::ifstream in(path);
    std::stringstream out;
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("hub ", 0) == 0 || line.rfind("hub=", 0) == 0) {
        line = "hub = 127.0.0.1:" + std::to_string(port);
      }
      out << line << "\n";
    }
    in.close();
    std::ofstream(path, std::ios::trunc) << out.str();
  }
};

TEST_F(ConsoleSyncTest, ACaseWrittenInTheConsoleIsOnTheHubAfterThePass) {
  StartConsole();
  const std::string session = SignIn();
  Unlock(session);
  ASSERT_FALSE(Intake(session, "Nguyễn Thị Hằng").empty());
  const Json before = SyncState(session);
  EXPECT_GE(before["commits_waiting"].get<int64_t>(), 1) << JsonStored(before);
  EXPECT_TRUE(before["last"].is_null());
  auto hub_head = OpenHubReplica()->LogHead();
  ASSERT_TRUE(hub_head.ok());

  auto started = Post("/api/sync", session, Json::object(), Origin());
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 202) << started->body;
  EXPECT_EQ(Body(started)["running"], true);
  const Json after = WaitForPass(session);
  ASSERT_TRUE(after["last"].is_object()) << JsonStored(after);
  EXPECT_EQ(after["last"]["ok"], true) << JsonStored(after);
  EXPECT_EQ(after["last"]["key"], "sync.ok");
  // Each line keyed for the page's catalogue, with the CLI's words: the
  // counts among them.
  const Json& lines = after["last"]["lines"];
  ASSERT_TRUE(lines.is_array() && !lines.empty()) << JsonStored(after);
  Json counts;
  for (const Json& l : lines) {
    ASSERT_TRUE(l.is_object() && l.contains("key") && l.contains("params") && l.contains("text"))
        << JsonStored(lines);
    if (l["key"] == "sync.line.synced") counts = l;
  }
  ASSERT_TRUE(counts.is_object()) << "no line of counts: " << JsonStored(lines);
  ASSERT_TRUE(counts["params"].contains("pushed")) << JsonStored(counts);
  EXPECT_GE(std::stoll(counts["params"]["pushed"].get<std::string>()), 1) << JsonStored(lines);
  EXPECT_EQ(counts["text"].get<std::string>().rfind("synced: pushed ", 0), 0u) << JsonStored(lines);
  EXPECT_EQ(after["commits_waiting"], 0) << JsonStored(after);
  EXPECT_GT(after["last_sync_millis"].get<int64_t>(), 0);
  EXPECT_EQ(after["unlocked"], true) << "the pass locked the console";
  EXPECT_TRUE(node::AgentExpiry(node_).has_value());
  auto now_head = OpenHubReplica()->LogHead();
  ASSERT_TRUE(now_head.ok());
  EXPECT_GT(*now_head, *hub_head) << "the hub's log did not grow";
}

TEST_F(ConsoleSyncTest, ALockedConsoleSendsNothing) {
  StartConsole();
  const std::string session = SignIn();
  Unlock(session);
  ASSERT_FALSE(Intake(session, "Lò Thị Mai").empty());
  ASSERT_TRUE(Post("/api/lock", session, Json::object(), Origin()));
  auto hub_head = OpenHubReplica()->LogHead();
  ASSERT_TRUE(hub_head.ok());
  auto refused = Post("/api/sync", session, Json::object(), Origin());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 423) << refused->body;
  EXPECT_EQ(Body(refused)["error"], "err.sync_locked");
  EXPECT_NE(refused->body.find("unlock to sync"), std::string::npos) << refused->body;
  EXPECT_EQ(Body(refused)["message"]["key"], "sync.why.signs") << refused->body;
  const Json state = SyncState(session);
  EXPECT_EQ(state["running"], false);
  EXPECT_TRUE(state["last"].is_null()) << "a pass ran";
  EXPECT_GE(state["commits_waiting"].get<int64_t>(), 1);
  EXPECT_EQ(*OpenHubReplica()->LogHead(), *hub_head);
}

// A hub that accepts the connection and never answers: the pass runs
// until the socket goes. Meanwhile the progress answers, and a second
// click starts no second pass; then the failure in the CLI's words.
TEST_F(ConsoleSyncTest, ProgressAnswersDuringThePassAndASecondClickStartsNone) {
  int silent = -1;
  ASSERT_NO_FATAL_FAILURE(PointHubAtSilentListener(&silent));
  StartConsole();
  const std::string session = SignIn();
  Unlock(session);
  auto first = Post("/api/sync", session, Json::object(), Origin());
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202) << first->body;
  const Json during = SyncState(session);
  EXPECT_EQ(during["running"], true) << JsonStored(during);
  EXPECT_EQ(during["phase"], "connecting") << JsonStored(during);
  auto second = Post("/api/sync", session, Json::object(), Origin());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 409) << second->body;
  EXPECT_EQ(Body(second)["error"], "err.sync_running");
  close(silent);  // the connection waiting in its queue is reset
  const Json after = WaitForPass(session);
  ASSERT_TRUE(after["last"].is_object()) << JsonStored(after);
  EXPECT_EQ(after["last"]["ok"], false);
  EXPECT_EQ(after["last"]["key"], "sync.err.unreachable") << JsonStored(after);
}

TEST_F(ConsoleSyncTest, AHubThatIsDownIsSaidInPlainWords) {
  StartConsole();
  const std::string session = SignIn();
  Unlock(session);
  hub_->Stop();
  auto started = Post("/api/sync", session, Json::object(), Origin());
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 202) << started->body;
  const Json after = WaitForPass(session);
  ASSERT_TRUE(after["last"].is_object()) << JsonStored(after);
  EXPECT_EQ(after["last"]["ok"], false);
  EXPECT_EQ(after["last"]["key"], "sync.err.unreachable") << JsonStored(after);
  ASSERT_FALSE(after["last"]["lines"].empty());
  const Json& first = after["last"]["lines"][0];
  EXPECT_EQ(first["key"], "sync.line.failure") << JsonStored(first);
  const std::string line = first["text"];
  EXPECT_NE(line.find("cannot reach the hub at "), std::string::npos) << line;
  EXPECT_EQ(first["params"]["reason"], line);
}

// The page polls GET /api/sync while a pass runs; were the poll activity,
// an open tab would never lock. Polled all along, the console still locks
// after its idle time. (Before the route was exempt, every API request,
// the poll among them, held the idle lock off.)
TEST_F(ConsoleSyncTest, PollingTheProgressDoesNotKeepTheConsoleUnlocked) {
  StartConsole({"--idle-lock", "2s"});
  const std::string session = SignIn();
  Unlock(session);
  const auto started = std::chrono::steady_clock::now();
  while (node::AgentExpiry(node_).has_value() &&
         std::chrono::steady_clock::now() - started < std::chrono::seconds(30)) {
    SyncState(session);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_FALSE(node::AgentExpiry(node_).has_value()) << "still unlocked after 30 s of polling";
  EXPECT_EQ(SyncState(session)["unlocked"], false);
}

// Attack review 88: a pass held the idle lock off until it ended, and one
// pull may wait 30 minutes on a slow link; the officer who walked away left
// the keys open that long. A pass that waits on a silent hub no longer
// keeps the console unlocked past its idle time.
TEST_F(ConsoleSyncTest, APassWaitingOnASilentHubDoesNotKeepTheConsoleUnlocked) {
  int silent = -1;
  ASSERT_NO_FATAL_FAILURE(PointHubAtSilentListener(&silent));
  StartConsole({"--idle-lock", "2s"});
  const std::string session = SignIn();
  Unlock(session);
  auto started = Post("/api/sync", session, Json::object(), Origin());
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 202) << started->body;
  // Until the keys lock or the pass ends (it gives up on the silent hub
  // after its call deadline, some 20 s): the keys must lock first.
  const auto since = std::chrono::steady_clock::now();
  bool running = true;
  while (node::AgentExpiry(node_).has_value() && running &&
         std::chrono::steady_clock::now() - since < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    running = SyncState(session)["running"] == true;
  }
  EXPECT_FALSE(node::AgentExpiry(node_).has_value() && running) << "still unlocked after 60 s";
  EXPECT_TRUE(running) << "the keys stayed open as long as the pass waited on the hub";
  close(silent);  // the pass ends (the connection waiting in its queue is reset)
  const Json after = WaitForPass(session);
  EXPECT_TRUE(after["last"].is_object()) << JsonStored(after);
}

// The daemon's state: a running `fieldnode daemon` holds DIR/daemon.lock
// (node/daemon_mark.h); the page says whether one runs.
TEST_F(ConsoleSyncTest, ThePageSaysWhetherADaemonRuns) {
  StartConsole();
  const std::string session = SignIn();
  EXPECT_EQ(SyncState(session)["daemon"], false);
  DaemonProcess daemon(node_);
  ASSERT_TRUE(daemon.started());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (SyncState(session)["daemon"] != true && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(SyncState(session)["daemon"], true) << "the daemon is not seen";
  daemon.Stop();  // waited for: its lock is gone with it
  EXPECT_EQ(SyncState(session)["daemon"], false);
}

}  // namespace
}  // namespace fieldsync::testing
