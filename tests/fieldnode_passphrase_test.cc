// A keystore whose passphrase was chosen before the passphrase rule
// (node/passphrase_rule.h): it still opens, but must be changed at that
// unlock before the keys are used -- asked twice on a terminal, or taken
// from --new-passphrase-file; without either (a daemon with a passphrase
// file) the command stops with one line saying to run `fieldnode
// passphrase`, having changed nothing. Real fieldnode processes against a
// real hub; without a terminal (setsid), and on a real one (a pty).
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/keystore.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

constexpr char kStrong[] = "một câu dài làm mật khẩu";

class PassphraseTest : public SyncProcessTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    dir_node_ = dir_.File("officer");
    ASSERT_EQ(Fieldnode({"init"}, kStrong).exit_code, 0);
    auto token = hub_->Token("LC");
    ASSERT_TRUE(token.ok());
    auto enrolled = Fieldnode(
        {"enroll", "--hub", hub_->address(), "--ca", pki_->ca(), "--token", *token}, kStrong);
    ASSERT_EQ(enrolled.exit_code, 0) << enrolled.err;
  }

  // fieldnode with FIELDSYNC_PASSPHRASE=`pass` (none if empty), no terminal.
  harness::CommandResult Fieldnode(std::vector<std::string> args, const std::string& pass) {
    std::vector<std::string> argv = {"/usr/bin/setsid", "-w", "/usr/bin/env", "-u",
                                     "FIELDSYNC_PASSPHRASE", "-u", "FIELDSYNC_PASSPHRASE_FILE"};
    if (!pass.empty()) argv.push_back("FIELDSYNC_PASSPHRASE=" + pass);
    argv.push_back(harness::BinDir() + "/fieldnode");
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data-dir", dir_node_});
    return harness::Run(argv);
  }

  // Reseals the keystore under `weak`, as a keystore made before the rule
  // (SealKeystore itself has no rule: it is what init used to write).
  void ResealUnder(const std::string& current, const std::string& weak) {
    const std::string path = dir_node_ + "/keystore";
    auto id = crypto::UnlockKeystoreFile(path, current);
    ASSERT_TRUE(id.ok()) << id.status();
    auto bytes = crypto::SealKeystore(*id, weak);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << *bytes;
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  }

  // fieldnode on a terminal of its own (a pty: its controlling terminal and
  // standard input), FIELDSYNC_PASSPHRASE=`pass`; each answer is typed once
  // its prompt has appeared. What the terminal showed, and the exit code.
  struct Screen {
    int exit_code = -1;
    std::string text;
  };
  Screen OnTerminal(std::vector<std::string> args, const std::string& pass,
                    const std::vector<std::pair<std::string, std::string>>& answers) {
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "FIELDSYNC_PASSPHRASE_FILE",
                                     "FIELDSYNC_PASSPHRASE=" + pass,
                                     harness::BinDir() + "/fieldnode"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data-dir", dir_node_});
    int master = -1;
    const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
    if (pid == 0) {
      std::vector<char*> a;
      for (const std::string& x : argv) a.push_back(const_cast<char*>(x.c_str()));
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    Screen out;
    size_t answered = 0, seen = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{master, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[1024];
      const ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) break;  // EIO: the program ended
      out.text.append(buf, static_cast<size_t>(n));
      if (answered < answers.size()) {
        const size_t at = out.text.find(answers[answered].first, seen);
        if (at != std::string::npos) {
          seen = at + answers[answered].first.size();
          const std::string line = answers[answered].second + "\n";
          EXPECT_EQ(write(master, line.data(), line.size()), static_cast<ssize_t>(line.size()));
          ++answered;
        }
      }
    }
    close(master);
    int status = 0;
    waitpid(pid, &status, 0);
    out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    EXPECT_EQ(answered, answers.size()) << "a prompt never came: " << out.text;
    return out;
  }

  std::string Keystore() {
    std::ifstream in(dir_node_ + "/keystore", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string File(const std::string& name, const std::string& line) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << line << "\n";
    return path;
  }

  static std::vector<std::string> Lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  static std::vector<std::string> Warnings(const std::string& err) {
    std::vector<std::string> w;
    for (const std::string& l : Lines(err)) {
      if (l.find("warning") != std::string::npos) w.push_back(l);
    }
    return w;
  }

  std::string dir_node_;
};

constexpr struct {
  const char* passphrase;
  const char* why;
} kOld[] = {
    {"exactly8", "has 8 characters and at least 12 are needed"},
    {"password1234", "is among the easiest to guess"},
};

TEST_F(PassphraseTest, AnOldPassphraseBelowTheRuleStopsACommandWithoutATerminalAndChangesNothing) {
  std::string current = kStrong;
  for (const auto& old : kOld) {
    ResealUnder(current, old.passphrase);
    current = old.passphrase;
    const std::string keystore = Keystore();
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"sync"}, {"case", "new", "--name", "Lò Thị Hoa", "--sex",
                                             "female"},
          {"unlock"}}) {
      auto r = Fieldnode(cmd, old.passphrase);
      EXPECT_EQ(r.exit_code, 1) << cmd[0] << ": " << r.err;
      // One line: what is wrong, that it must be changed, how; never the
      // passphrase itself.
      const std::vector<std::string> lines = Lines(r.out + r.err);
      ASSERT_EQ(lines.size(), 1u) << r.out << r.err;
      EXPECT_EQ(lines[0].rfind("fieldnode: this laptop's passphrase ", 0), 0u) << lines[0];
      EXPECT_NE(lines[0].find(old.why), std::string::npos) << lines[0];
      EXPECT_NE(lines[0].find("must be changed before this laptop's keys are used: run "
                              "`fieldnode passphrase`"),
                std::string::npos)
          << lines[0];
      EXPECT_NE(lines[0].find("Nothing was changed"), std::string::npos) << lines[0];
      EXPECT_EQ(lines[0].find(old.passphrase), std::string::npos) << "the line repeats it";
      EXPECT_EQ(Keystore(), keystore);
    }
    // Nothing was written, nothing pushed, and no agent started.
    auto status = Fieldnode({"status", "--json"}, "");
    EXPECT_NE(status.out.find("\"keystore\": \"locked\""), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("\"local_commits\": 0"), std::string::npos) << status.out;
  }
  // `fieldnode passphrase` changes it (the old one opens the keystore).
  const std::string file = File("new.pass", kStrong);
  auto changed = Fieldnode({"passphrase", "--new-passphrase-file", file}, current);
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  auto sync = Fieldnode({"sync"}, kStrong);
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_TRUE(Warnings(sync.err).empty()) << sync.err;
  EXPECT_EQ(sync.err.find("passphrase"), std::string::npos) << sync.err;
}

TEST_F(PassphraseTest, WithANewPassphraseFileTheOldOneIsReplacedAndTheCommandGoesOn) {
  ResealUnder(kStrong, "exactly8");
  const std::string keystore = Keystore();
  // A new one that breaks the rule too: refused, nothing changed.
  auto weak = Fieldnode({"sync", "--new-passphrase-file", File("weak.pass", "abc123456")},
                        "exactly8");
  EXPECT_EQ(weak.exit_code, 1);
  ASSERT_EQ(Lines(weak.out + weak.err).size(), 1u) << weak.out << weak.err;
  EXPECT_NE(weak.err.find("the new passphrase has 9 characters and at least 12 are needed"),
            std::string::npos)
      << weak.err;
  EXPECT_NE(weak.err.find("nothing was changed"), std::string::npos) << weak.err;
  EXPECT_EQ(Keystore(), keystore);
  // A good one: the keystore is rewritten under it, and the command (a
  // case, signed with the keys) is done.
  const std::string good = "ba con mèo đen ngủ trên mái nhà";
  auto made = Fieldnode({"case", "new", "--name", "Vàng Thị Dế", "--sex", "female",
                         "--new-passphrase-file", File("good.pass", good)},
                        "exactly8");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_NE(made.out.find("opened case"), std::string::npos) << made.out;
  EXPECT_NE(made.err.find("fieldnode: passphrase changed for "), std::string::npos) << made.err;
  EXPECT_NE(Keystore(), keystore);
  auto old = Fieldnode({"sync"}, "exactly8");
  EXPECT_EQ(old.exit_code, 1);
  EXPECT_NE(old.err.find("wrong passphrase"), std::string::npos) << old.err;
  auto sync = Fieldnode({"sync"}, good);
  EXPECT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_EQ(sync.err.find("passphrase"), std::string::npos) << sync.err;
  EXPECT_NE(sync.out.find("synced: pushed"), std::string::npos) << sync.out;
}

TEST_F(PassphraseTest, OnATerminalANewOneIsAskedTwiceAndTheCommandGoesOn) {
  ResealUnder(kStrong, "password1234");
  const std::string keystore = Keystore();
  // Typed twice differently: nothing changed.
  Screen differ = OnTerminal({"unlock", "--for", "10m"}, "password1234",
                             {{"New passphrase", "ba con mèo đen ngủ trên mái nhà"},
                              {"Type it again", "ba con mèo đen ngủ trên mái"}});
  EXPECT_EQ(differ.exit_code, 1) << differ.text;
  EXPECT_NE(differ.text.find("is among the easiest to guess"), std::string::npos) << differ.text;
  EXPECT_NE(differ.text.find("It must be changed now"), std::string::npos) << differ.text;
  EXPECT_NE(differ.text.find("the two passphrases differ; nothing was changed"), std::string::npos)
      << differ.text;
  EXPECT_EQ(Keystore(), keystore);
  // Typed twice the same: changed, and the unlock goes on.
  const std::string good = "ba con mèo đen ngủ trên mái nhà";
  Screen ok = OnTerminal({"unlock", "--for", "10m"}, "password1234",
                         {{"New passphrase", good}, {"Type it again", good}});
  EXPECT_EQ(ok.exit_code, 0) << ok.text;
  EXPECT_NE(ok.text.find("passphrase changed for "), std::string::npos) << ok.text;
  EXPECT_NE(ok.text.find("unlocked until"), std::string::npos) << ok.text;
  EXPECT_EQ(ok.text.find(good), std::string::npos) << "the new passphrase was echoed";
  EXPECT_NE(Keystore(), keystore);
  auto locked = Fieldnode({"lock"}, "");
  EXPECT_EQ(locked.exit_code, 0);
  auto sync = Fieldnode({"sync"}, good);
  EXPECT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_EQ(sync.err.find("passphrase"), std::string::npos) << sync.err;
}

TEST_F(PassphraseTest, APassphraseMeetingTheRuleUnlocksWithoutAWord) {
  auto sync = Fieldnode({"sync"}, kStrong);
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_TRUE(Warnings(sync.err).empty()) << sync.err;
  EXPECT_EQ(sync.err.find("passphrase"), std::string::npos) << sync.err;
}

}  // namespace
}  // namespace fieldsync::testing
