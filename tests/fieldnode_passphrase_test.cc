// A keystore whose passphrase was chosen before the passphrase rule
// (node/passphrase_rule.h): it still unlocks, so that no officer is locked
// out of an urgent case, but every unlock by passphrase says in one line that
// it must be changed and how, until `fieldnode passphrase` changes it. Real
// fieldnode processes against a real hub; no terminal (setsid).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/keystore.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

constexpr char kStrong[] = "một câu dài làm mật khẩu";

class PassphraseTest : public SyncTest {
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

TEST_F(PassphraseTest, AnOldPassphraseBelowTheRuleUnlocksWithOneLineSayingToChangeIt) {
  const struct {
    const char* passphrase;
    const char* why;
  } kOld[] = {
      {"exactly8", "has 8 characters and at least 12 are needed"},
      {"password1234", "is among the easiest to guess"},
  };
  std::string current = kStrong;
  for (const auto& old : kOld) {
    ResealUnder(current, old.passphrase);
    current = old.passphrase;
    // The command works (a sync needs the keys to share and grant)...
    auto sync = Fieldnode({"sync"}, old.passphrase);
    ASSERT_EQ(sync.exit_code, 0) << sync.err;
    // ...and says, once, what is wrong and what to run.
    const std::vector<std::string> w = Warnings(sync.err);
    ASSERT_EQ(w.size(), 1u) << sync.err;
    EXPECT_EQ(w[0].rfind("fieldnode: warning: this laptop's passphrase ", 0), 0u) << w[0];
    EXPECT_NE(w[0].find(old.why), std::string::npos) << w[0];
    EXPECT_NE(w[0].find("change it now with `fieldnode passphrase`"), std::string::npos) << w[0];
    EXPECT_EQ(w[0].find(old.passphrase), std::string::npos) << "the warning repeats it";
    // The same on a command that opens sealed fields.
    auto search = Fieldnode({"case", "search", "hang"}, old.passphrase);
    EXPECT_EQ(search.exit_code, 0) << search.err;
    EXPECT_EQ(Warnings(search.err).size(), 1u) << search.err;
  }
  // Changed to one that meets the rule: no more warning.
  const std::string file = dir_.File("new.pass");
  std::ofstream(file) << kStrong << "\n";
  auto changed = Fieldnode({"passphrase", "--new-passphrase-file", file}, current);
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_TRUE(Warnings(changed.err).empty()) << changed.err;
  auto sync = Fieldnode({"sync"}, kStrong);
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_TRUE(Warnings(sync.err).empty()) << sync.err;
}

TEST_F(PassphraseTest, APassphraseMeetingTheRuleUnlocksWithoutAWord) {
  auto sync = Fieldnode({"sync"}, kStrong);
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_TRUE(Warnings(sync.err).empty()) << sync.err;
}

}  // namespace
}  // namespace fieldsync::testing
