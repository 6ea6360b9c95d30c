// The key agent of `fieldnode unlock` (node/agent.h, protocol version 3):
// it signs and opens itself and never hands out the device's secret keys;
// it serves signing, opening and the public keys only to the fieldnode
// program that started it; a command that loses it mid-way stops with one
// line and changes nothing. Real processes, a real Unix socket, libsodium:
// the agent is the one `fieldnode unlock` leaves running. The protocol
// itself, against an agent this program starts: agent_protocol_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/commit_signature.h"
#include "crypto/identity.h"
#include "crypto/keystore.h"
#include "node/agent.h"
#include "node/agent_index.h"
#include "store/data_dir.h"
#include "support/agent_peer.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

using namespace agent_peer;  // NOLINT: the peer the tests play

constexpr char kPass[] = "một câu dài làm mật khẩu";

std::string ReadAllFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The first UUID in `s` (a record id in a command's output); "" if none.
std::string FirstUuid(const std::string& s) {
  for (size_t i = 0; i + 36 <= s.size(); ++i) {
    const std::string c = s.substr(i, 36);
    if (c[8] == '-' && c[13] == '-' && c[18] == '-' && c[23] == '-' &&
        Id16::Parse(c, "id").ok()) {
      return c;
    }
  }
  return "";
}

// ---------------------------------------------------------------------------
// The agent of `fieldnode unlock`, and fieldnode commands against a real hub.

class AgentTest : public SyncProcessTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    node_ = dir_.File("officer");
    ASSERT_EQ(Fieldnode({"init"}, kPass).exit_code, 0);
  }
  void TearDown() override {
    Fieldnode({"lock"}, "");
    SyncTest::TearDown();
  }

  void Enroll() {
    auto token = hub_->Token("LC");
    ASSERT_TRUE(token.ok());
    auto enrolled = Fieldnode(
        {"enroll", "--hub", hub_->address(), "--ca", pki_->ca(), "--token", *token}, kPass);
    ASSERT_EQ(enrolled.exit_code, 0) << enrolled.err;
  }

  // fieldnode (`bin`, else the built one) with FIELDSYNC_PASSPHRASE=`pass`
  // (none if empty), no terminal.
  harness::CommandResult Fieldnode(std::vector<std::string> args, const std::string& pass,
                                   const std::string& bin = "") {
    std::vector<std::string> argv = Argv(args, pass, bin);
    return harness::Run(argv);
  }
  std::vector<std::string> Argv(std::vector<std::string> args, const std::string& pass,
                                const std::string& bin = "") {
    std::vector<std::string> argv = {"/usr/bin/setsid", "-w", "/usr/bin/env", "-u",
                                     "FIELDSYNC_PASSPHRASE", "-u", "FIELDSYNC_PASSPHRASE_FILE"};
    if (!pass.empty()) argv.push_back(std::string("FIELDSYNC_PASSPHRASE=") + pass);
    argv.push_back(bin.empty() ? harness::BinDir() + "/fieldnode" : bin);
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data-dir", node_});
    return argv;
  }

  Secrets KeystoreSecrets() {
    auto id = crypto::UnlockKeystoreFile(node_ + "/keystore", kPass);
    EXPECT_TRUE(id.ok()) << id.status();
    return SecretsOf(*id);
  }

  int64_t LocalCommits() {
    DataDir d{node_, "replica.db", "fieldnode init", "FIELDSYNC_NODE_DIR"};
    auto r = OpenReplicaIn(d);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return -1;
    auto c = (*r)->LocalCommitsAfter(0, 100000);
    EXPECT_TRUE(c.ok());
    return c.ok() ? static_cast<int64_t>(c->size()) : -1;
  }

  // Opens a case with sealed fields; its id.
  std::string NewCase(const std::string& name) {
    auto made = Fieldnode({"case", "new", "--name", name, "--sex", "female", "--narrative",
                           "Bị lừa sang biên giới"},
                          "");
    EXPECT_EQ(made.exit_code, 0) << made.err;
    std::string id = FirstUuid(made.out);
    EXPECT_FALSE(id.empty()) << "no case id in: " << made.out;
    return id;
  }

  std::string node_;
};

TEST_F(AgentTest, NoRequestToTheUnlockAgentAnswersTheSecretKeys) {
  // This test fails on the agent of protocol version 1, whose K answered
  // the secret keys to any process of the user.
  const Secrets s = KeystoreSecrets();
  auto unlocked = Fieldnode({"unlock", "--for", "10m"}, kPass);
  ASSERT_EQ(unlocked.exit_code, 0) << unlocked.err;
  std::vector<Answer> a;
  ProbeEveryCommand(node_, s, &a);
  // This program is not fieldnode: S is answered, P, G and O refused (1)
  // and the connection closed.
  ASSERT_EQ(a['S'].bytes.size(), 10u);
  for (char c : {'P', 'G', 'O'}) {
    EXPECT_EQ(a[static_cast<size_t>(c)].bytes, std::string(1, '\1')) << c;
    EXPECT_TRUE(a[static_cast<size_t>(c)].closed) << c;
  }
  EXPECT_EQ(a['L'].bytes.substr(0, 1), std::string(1, '\0'));
  EXPECT_TRUE(WaitGone(node::AgentSocketPath(node_), 3000));
  auto status = Fieldnode({"status"}, "");
  EXPECT_NE(status.out.find("locked"), std::string::npos) << status.out;
}

TEST_F(AgentTest, OnlyFieldnodeSignsThroughTheAgentAndWhatItSignsVerifies) {
  Enroll();
  ASSERT_EQ(Fieldnode({"unlock", "--for", "10m"}, kPass).exit_code, 0);
  // The fieldnode program signs through the agent: cases are written, the
  // hub takes the commits (it verifies every signature), and each verifies.
  NewCase("Lò Thị Hoa");
  NewCase("Vàng Thị Dế");
  auto sync = Fieldnode({"sync"}, "");
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_NE(sync.out.find("synced: pushed"), std::string::npos) << sync.out;
  {
    DataDir d{node_, "replica.db", "fieldnode init", "FIELDSYNC_NODE_DIR"};
    auto r = OpenReplicaIn(d);
    ASSERT_TRUE(r.ok()) << r.status();
    auto commits = (*r)->LocalCommitsAfter(0, 1000);
    ASSERT_TRUE(commits.ok());
    ASSERT_GE(commits->size(), 2u);
    const Secrets s = KeystoreSecrets();
    for (const Commit& c : *commits) {
      EXPECT_TRUE(crypto::VerifyCommitSignature(c, s.pub.sign_pk).ok()) << c.Name();
    }
  }
  // Sealed fields open through the agent (O): the name reads.
  auto list = Fieldnode({"case", "search", "hoa"}, "");
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("Lò Thị Hoa"), std::string::npos) << list.out;

  // Another program (this one) may ask the status, and nothing else.
  int fd = RawConnect(node_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Exchange(fd, "S").bytes.size(), 10u);
  Answer p = Exchange(fd, "P");
  EXPECT_EQ(p.bytes, std::string(1, '\1'));
  EXPECT_TRUE(p.closed);
  close(fd);

  // The fieldnode program replaced (an upgrade): the new one is refused
  // with one line saying what to do; status and lock still work.
  const std::string bin_dir = dir_.File("bin");
  ASSERT_EQ(mkdir(bin_dir.c_str(), 0755), 0);
  const std::string bin = bin_dir + "/fieldnode";
  std::filesystem::copy_file(harness::BinDir() + "/fieldnode", bin);
  ASSERT_EQ(Fieldnode({"lock"}, "", bin).exit_code, 0);
  ASSERT_EQ(Fieldnode({"unlock", "--for", "10m"}, kPass, bin).exit_code, 0);
  ASSERT_EQ(Fieldnode({"case", "list"}, "", bin).exit_code, 0);
  std::filesystem::copy_file(harness::BinDir() + "/fieldnode", bin + ".new");
  std::filesystem::rename(bin + ".new", bin);
  const int64_t before = LocalCommits();
  auto refused = Fieldnode({"case", "new", "--name", "Giàng Thị Mai", "--sex", "female"}, "", bin);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(Lines(refused.out + refused.err).size(), 1u) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("fieldnode: the fieldnode program changed since unlock"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("run fieldnode lock and fieldnode unlock"), std::string::npos)
      << refused.err;
  EXPECT_EQ(LocalCommits(), before);
  auto status = Fieldnode({"status"}, "", bin);
  EXPECT_NE(status.out.find("unlocked until"), std::string::npos) << status.out;
  auto lock = Fieldnode({"lock"}, "", bin);
  EXPECT_EQ(lock.exit_code, 0);
  EXPECT_NE(lock.out.find("locked: the keys are forgotten"), std::string::npos) << lock.out;
  EXPECT_TRUE(WaitGone(node::AgentSocketPath(node_), 3000));
}

// A fieldnode process started in the background, its output in files.
struct Background {
  pid_t pid = -1;
  std::string out, err;
  int Wait(harness::CommandResult* r) {
    int status = 0;
    waitpid(pid, &status, 0);
    r->out = ReadAllFile(out);
    r->err = ReadAllFile(err);
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r->exit_code;
  }
};

Background Start(const std::vector<std::string>& argv, const std::string& dir) {
  Background b;
  b.out = dir + "/bg.out";
  b.err = dir + "/bg.err";
  b.pid = fork();
  if (b.pid == 0) {
    const int o = open(b.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = open(b.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return b;
}

// Whether some process waits for a flock on the file with inode `ino`
// (/proc/locks lists a waiter as "N: -> FLOCK ... MAJ:MIN:INODE ...").
bool SomeoneWaitsForLock(ino_t ino) {
  std::ifstream in("/proc/locks");
  const std::string tail = absl::StrCat(":", ino, " ");
  for (std::string line; std::getline(in, line);) {
    if (line.find("-> FLOCK") != std::string::npos && line.find(tail) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Holds the access log's lock, so that a command that opened a case's
// sealed fields (through the agent) stops just before it records that
// (a signed commit) and shows them.
class AccessLogHeld {
 public:
  explicit AccessLogHeld(const std::string& node) {
    path_ = node + "/replica.db-access.lock";
    fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(flock(fd_, LOCK_EX), 0);
  }
  ~AccessLogHeld() { Release(); }
  bool WaitForWaiter() {
    struct stat st {};
    if (fstat(fd_, &st) != 0) return false;
    for (int i = 0; i < 500; ++i) {
      if (SomeoneWaitsForLock(st.st_ino)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  void Release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST_F(AgentTest, LockingWhileACommandRunsStopsItWithOneLineAndChangesNothing) {
  Enroll();
  ASSERT_EQ(Fieldnode({"unlock", "--for", "10m"}, kPass).exit_code, 0);
  const std::string id = NewCase("Sùng Thị Pà");
  ASSERT_FALSE(id.empty());
  const int64_t before = LocalCommits();
  // `show` connects to the agent, opens the case's sealed fields through it
  // (O), then waits for the access log...
  AccessLogHeld held(node_);
  Background show = Start(Argv({"show", "cases", id}, ""), dir_.path());
  ASSERT_TRUE(held.WaitForWaiter()) << "show never reached the access log";
  // ...while the officer locks.
  auto lock = Fieldnode({"lock"}, "");
  ASSERT_EQ(lock.exit_code, 0) << lock.err;
  held.Release();
  harness::CommandResult r;
  show.Wait(&r);
  // The access-log entry cannot be signed: one line, exit 1, nothing shown,
  // nothing written.
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "") << "the sealed fields were shown without being recorded";
  ASSERT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("fieldnode: the key agent stopped answering while this command ran"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("run fieldnode unlock, then the command again"), std::string::npos)
      << r.err;
  EXPECT_EQ(LocalCommits(), before);
  // Unlocked again, the same command works.
  ASSERT_EQ(Fieldnode({"unlock", "--for", "10m"}, kPass).exit_code, 0);
  auto again = Fieldnode({"show", "cases", id}, "");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("narrative: Bị lừa sang biên giới"), std::string::npos) << again.out;
  EXPECT_EQ(LocalCommits(), before + 1);
}

// The pid of the agent serving `node` (its command line is the unlock's).
pid_t AgentPid(const std::string& node) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = ReadAllFile(e.path().string() + "/cmdline");
    for (char& c : cmd) {
      if (c == '\0') c = ' ';
    }
    if (cmd.find(" unlock ") != std::string::npos && cmd.find(node + " ") != std::string::npos &&
        cmd.find("setsid") == std::string::npos) {
      return static_cast<pid_t>(std::stol(name));
    }
  }
  return -1;
}

// As root, the agent could read /proc/PID/exe of any process. An ordinary
// user's agent can only read it for a dumpable peer: this runs the whole
// path as an unprivileged user, and checks that the agent and a fieldnode
// command holding keys cannot be read by the user's other processes.
TEST_F(AgentTest, AnUnprivilegedUsersCommandsSignThroughTheAgentAndAreNotReadable) {
  if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
    GTEST_SKIP() << "needs root (to become nobody) and setpriv";
  }
  // A directory of its own for nobody, with the program and the CA in it.
  char tmpl[] = "/tmp/fieldsync-agent-nobody-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string home = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{home};
  ASSERT_EQ(chmod(home.c_str(), 0755), 0);
  ASSERT_EQ(chown(home.c_str(), 65534, 65534), 0);
  const std::string bin = home + "/fieldnode";
  std::filesystem::copy_file(harness::BinDir() + "/fieldnode", bin);
  std::filesystem::copy_file(pki_->ca(), home + "/ca.crt");
  const std::string node = home + "/node";
  auto as_nobody = [&](std::vector<std::string> args, bool with_dir = true) {
    std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                     "--clear-groups", "/usr/bin/env", "-u",
                                     "FIELDSYNC_PASSPHRASE_FILE", "HOME=" + home,
                                     std::string("FIELDSYNC_PASSPHRASE=") + kPass};
    argv.insert(argv.end(), args.begin(), args.end());
    if (with_dir) argv.insert(argv.end(), {"--data-dir", node});
    return argv;
  };
  auto run = [&](std::vector<std::string> args) { return harness::Run(as_nobody(args)); };
  ASSERT_EQ(run({bin, "init"}).exit_code, 0);
  auto token = hub_->Token("LC");
  ASSERT_TRUE(token.ok());
  auto enrolled = run({bin, "enroll", "--hub", hub_->address(), "--ca", home + "/ca.crt",
                       "--token", *token});
  ASSERT_EQ(enrolled.exit_code, 0) << enrolled.err;
  ASSERT_EQ(run({bin, "unlock", "--for", "10m"}).exit_code, 0);
  struct Locker {
    std::function<void()> f;
    ~Locker() { f(); }
  } locker{[&] { run({bin, "lock"}); }};
  // Signing and opening through the agent, as nobody (no passphrase given:
  // FIELDSYNC_PASSPHRASE is only read when no agent runs, and an agent
  // runs; a wrong one would make no difference).
  auto made = harness::Run(as_nobody({"/usr/bin/env", "-u", "FIELDSYNC_PASSPHRASE", bin, "case",
                                      "new", "--name", "Thào Thị Say", "--sex", "female",
                                      "--narrative", "Bị bán"}));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto sync = harness::Run(as_nobody({"/usr/bin/env", "-u", "FIELDSYNC_PASSPHRASE", bin, "sync"}));
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_NE(sync.out.find("synced: pushed"), std::string::npos) << sync.out;

  // The agent: not readable by the user's other processes.
  const pid_t agent = AgentPid(node);
  ASSERT_GT(agent, 0);
  auto peek = harness::Run(as_nobody({"/bin/cat", absl::StrCat("/proc/", agent, "/environ")},
                                     false));
  EXPECT_NE(peek.exit_code, 0) << "the agent's memory is readable by the user's processes";
  // A command holding the keys (stopped on the access log's lock after
  // opening a case): not readable either; and it finishes once let go.
  const std::string id = FirstUuid(made.out);
  ASSERT_FALSE(id.empty()) << made.out;
  AccessLogHeld held(node);
  ASSERT_EQ(chown((node + "/replica.db-access.lock").c_str(), 65534, 65534), 0);
  Background show = Start(as_nobody({"/usr/bin/env", "-u", "FIELDSYNC_PASSPHRASE", bin, "show",
                                     "cases", id}),
                          home);
  ASSERT_TRUE(held.WaitForWaiter());
  // The fieldnode process is the setpriv's, then env's, exec'd in place.
  auto peek_cmd = harness::Run(as_nobody({"/bin/cat", absl::StrCat("/proc/", show.pid,
                                                                    "/environ")},
                                         false));
  EXPECT_NE(peek_cmd.exit_code, 0) << "a fieldnode command holding keys is readable";
  auto peek_own = harness::Run(as_nobody({"/bin/sh", "-c", "cat /proc/$$/environ >/dev/null"},
                                         false));
  EXPECT_EQ(peek_own.exit_code, 0) << "the check itself does not work: " << peek_own.err;
  held.Release();
  harness::CommandResult r;
  show.Wait(&r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("narrative: Bị bán"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fieldsync::testing
