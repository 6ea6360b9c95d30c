// `fieldnode console` as a process for the console's tests: a node
// initialised and enrolled against a real `fieldhub serve` (SyncProcessTest),
// the console started on it with --port 0 --no-browser, its one-time
// address read from its output, SIGTERM at the end.
#ifndef FIELDSYNC_TESTS_SUPPORT_CONSOLE_PROCESS_H_
#define FIELDSYNC_TESTS_SUPPORT_CONSOLE_PROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/json.h"
#include "node/ops/cases.h"
#include "support/sync_fixture.h"

extern char** environ;

namespace fieldsync::testing {

inline constexpr char kConsolePass[] = "một câu dài làm mật khẩu";

class ConsoleProcess {
 public:
  ~ConsoleProcess() { Stop(); }
  // Starts fieldnode console ARGS --data-dir DIR (no passphrase in its
  // environment), after `prefix` if any (e.g. setpriv to another user), and
  // waits (10 s at most) for its address; "" on failure.
  std::string Start(const std::string& data_dir, std::vector<std::string> args,
                    std::vector<std::string> prefix = {}) {
    int out[2];
    if (pipe(out) != 0) return "";
    std::vector<std::string> argv = std::move(prefix);
    argv.insert(argv.end(), {"/usr/bin/env", "-u", "FIELDSYNC_PASSPHRASE", "-u",
                                     "FIELDSYNC_PASSPHRASE_FILE",
                                     harness::BinDir() + "/fieldnode", "console",
                                     "--data-dir", data_dir});
    if (!open_browser) argv.push_back("--no-browser");
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    const int rc = posix_spawn(&pid_, c[0], &fa, nullptr, c.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
      close(out[0]);
      return "";
    }
    fd_ = out[0];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      const size_t at = output_.find("http://");
      if (at != std::string::npos) {
        const size_t end = output_.find_first_of(" \n", at);
        if (end != std::string::npos) return output_.substr(at, end - at);
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[512];
      const ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) break;
      output_.append(buf, static_cast<size_t>(n));
    }
    return "";
  }
  // SIGTERM and wait; the exit code (-1 if not running).
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& output() const { return output_; }
  // Without --no-browser (the opener: FIELDSYNC_BROWSER in `prefix`).
  bool open_browser = false;

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string output_;
};

// A node `officer` in the test's directory, initialised and enrolled for LC.
class ConsoleTestBase : public SyncProcessTest {
 protected:
  void SetUp() override {
    SyncProcessTest::SetUp();
    node_ = dir_.File("officer");
    ASSERT_EQ(Fieldnode({"init"}).exit_code, 0);
    auto token = hub_->Token("LC");
    ASSERT_TRUE(token.ok());
    auto enrolled =
        Fieldnode({"enroll", "--hub", hub_->address(), "--ca", pki_->ca(), "--token", *token});
    ASSERT_EQ(enrolled.exit_code, 0) << enrolled.err;
  }
  void TearDown() override {
    console_.Stop();
    harness::Run({harness::BinDir() + "/fieldnode", "lock", "--data-dir", node_});
    SyncProcessTest::TearDown();
  }
  harness::CommandResult Fieldnode(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/setsid", "-w", "/usr/bin/env",
                                     std::string("FIELDSYNC_PASSPHRASE=") + kConsolePass,
                                     harness::BinDir() + "/fieldnode"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data-dir", node_});
    return harness::Run(argv);
  }

  // This node made its office's first device with the code the hub
  // administrator reads out (the one it computes for itself), as `fieldnode
  // device approve --first` does, and synced: a member of its office, as an
  // office's laptops are (a laptop that is not one seals no referral's
  // letter).
  void BecomeFirstDevice() {
    EXPECT_EQ(Fieldnode({"sync"}).exit_code, 0);
    auto list = Fieldnode({"device", "list", "--json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    const std::string code = Json::parse(list.out)["code"];
    auto first = Fieldnode({"device", "approve", "--first", "--code", code});
    EXPECT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(Fieldnode({"sync"}).exit_code, 0);
  }
  // The office as a day of the Devices page finds it: this node its
  // office's first device (BecomeFirstDevice); a second laptop of the
  // office enrolled at the same hub and synced; this node synced, so that
  // it sees that laptop waiting. The
  // second laptop's id in `device`, and the code its own screen shows.
  std::string FirstDeviceWithALaptopWaiting(std::string* device) {
    BecomeFirstDevice();
    join_offices_ = false;
    harness::LocalNode& second = AddNode("LC");
    EXPECT_TRUE(second.Sync().ok());
    *device = second.replica().device_id().ToString();
    auto view = second.keys()->Office();
    EXPECT_TRUE(view.ok()) << view.status();
    auto synced = Fieldnode({"sync"});
    EXPECT_EQ(synced.exit_code, 0) << synced.err;
    return view.ok() ? view->my_code : "";
  }

  // A second laptop of the office, enrolled at the same hub, approved by
  // this node with the code it shows (`device approve ID --code`), joined
  // with the same code, and synced both ways: a member, as an office's
  // laptop is once approved (LocalNode::JoinOffice, for two in-process
  // nodes). This node must be a member (BecomeFirstDevice).
  harness::LocalNode& JoinedLaptop() {
    join_offices_ = false;
    harness::LocalNode& n = AddNode("LC");
    EXPECT_TRUE(n.Sync().ok());
    EXPECT_EQ(Fieldnode({"sync"}).exit_code, 0);
    auto view = n.keys()->Office();
    EXPECT_TRUE(view.ok()) << view.status();
    if (!view.ok()) return n;
    auto approved = Fieldnode({"device", "approve", n.replica().device_id().ToString(), "--code",
                               view->my_code});
    EXPECT_EQ(approved.exit_code, 0) << approved.err;
    const absl::Status joined = n.keys()->Join(view->my_code);
    EXPECT_TRUE(joined.ok()) << joined;
    EXPECT_EQ(Fieldnode({"sync"}).exit_code, 0);
    EXPECT_TRUE(n.Sync().ok());
    return n;
  }
  // The victim's name of case `code` changed on `there` (to `theirs`) and
  // on this node by `fieldnode case set` (to `ours`) while neither had the
  // other's, then both synced: a conflict on this node. `there` writes
  // first: this node's value is the later one, kept in place ("current").
  void ConflictOnTheName(harness::LocalNode& there, const std::string& code,
                         const std::string& ours, const std::string& theirs) {
    ASSERT_EQ(Fieldnode({"sync"}).exit_code, 0);
    ASSERT_TRUE(there.Sync().ok());
    node::ops::Office office{there.replica(), *there.keys(), "LC", "Lò Văn Minh", ""};
    auto changed = node::ops::SetCaseField(office, {code, "person.full_name", theirs});
    ASSERT_TRUE(changed.ok()) << changed.status();
    ASSERT_TRUE(there.Sync().ok());
    auto here = Fieldnode({"case", "set", code, "person.full_name", ours});
    ASSERT_EQ(here.exit_code, 0) << here.err;
    auto synced = Fieldnode({"sync"});
    ASSERT_EQ(synced.exit_code, 0) << synced.err;
  }

  std::string node_;
  ConsoleProcess console_;
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_CONSOLE_PROCESS_H_
