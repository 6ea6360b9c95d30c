// fieldnode's command line in process (node/cli.h): every command's help
// text is its file of node/help/, by `fieldnode help CMD` and by
// `fieldnode CMD --help`; a wrong command line (an unknown option, an
// option without its value) exits 2 with one line on stderr and nothing on
// stdout, whatever the command. The workflows are in fieldnode_e2e_test.sh,
// the commands' own user errors in node_commands_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "node/cli.h"
#include "support/temp_dir.h"

namespace fieldsync::node {
namespace {

using ::testing::HasSubstr;

struct Result {
  int exit = -1;
  std::string out, err;
};

// fieldnode WORDS..., stdout and stderr captured.
Result Fieldnode(const std::vector<std::string>& words) {
  Result r;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  r.exit = Run(words);
  std::fflush(stdout);
  std::fflush(stderr);
  r.out = ::testing::internal::GetCapturedStdout();
  r.err = ::testing::internal::GetCapturedStderr();
  return r;
}

// node/help/NAME.txt as it is in the source tree.
std::string HelpFile(const std::string& name) {
  std::ifstream f(std::string(FIELDSYNC_NODE_HELP_DIR) + "/" + name + ".txt", std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

const std::vector<std::string> kCommands = {
    "init",    "enroll",  "device", "unlock",   "lock",     "passphrase", "case",
    "consent", "referral", "org",   "contact",  "service",  "conflict",   "report",
    "show",    "erase",   "sync",   "daemon",   "status",   "trust",      "set-aside",
    "version", "console", "help"};

TEST(NodeCliHelpTest, HelpOfEveryCommandIsItsText) {
  for (const std::string& c : kCommands) {
    SCOPED_TRACE(c);
    const std::string text = HelpFile(c);
    ASSERT_FALSE(text.empty()) << "node/help/" << c << ".txt";
    EXPECT_THAT(text, HasSubstr("fieldnode " + c));
    for (const auto& words : {std::vector<std::string>{"help", c},
                              std::vector<std::string>{c, "--help"}}) {
      Result r = Fieldnode(words);
      EXPECT_EQ(r.exit, 0);
      EXPECT_EQ(r.out, text);
      EXPECT_EQ(r.err, "");
    }
  }
}

TEST(NodeCliHelpTest, TheOverviewListsEveryCommand) {
  const std::string overview = HelpFile("overview");
  for (const auto& words : {std::vector<std::string>{}, std::vector<std::string>{"help"},
                            std::vector<std::string>{"--help"}}) {
    Result r = Fieldnode(words);
    EXPECT_EQ(r.exit, 0);
    EXPECT_EQ(r.out, overview);
  }
  for (const std::string& c : kCommands) EXPECT_THAT(overview, HasSubstr("\n  " + c + " "));
  EXPECT_THAT(overview, HasSubstr("2 the command line was wrong"));
}

TEST(NodeCliHelpTest, HelpOfAnUnknownCommandIsAWrongCommandLine) {
  for (const std::string topic : {"frobnicate", "overview"}) {
    Result r = Fieldnode({"help", topic});
    EXPECT_EQ(r.exit, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("unknown command \"" + topic + "\""));
  }
}

class NodeCliUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("FIELDSYNC_PASSPHRASE_FILE");
    unsetenv("FIELDSYNC_PASSPHRASE");
    unsetenv("FIELDSYNC_NODE_DIR");
  }

  // WORDS end in a wrong command line: exit 2, one line on stderr naming
  // `mention`, nothing on stdout, and nothing created in the data directory.
  void ExpectUsage(std::vector<std::string> words, const std::string& mention) {
    SCOPED_TRACE(::testing::PrintToString(words));
    const std::string data = dir_.File("node");
    words.insert(words.begin() + 1, {"--data-dir", data});
    Result r = Fieldnode(words);
    EXPECT_EQ(r.exit, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, ::testing::StartsWith("fieldnode: "));
    EXPECT_THAT(r.err, HasSubstr(mention));
    std::ifstream replica(data + "/replica.db");
    EXPECT_FALSE(replica.good());
  }

  fieldsync::testing::TempDir dir_;
};

TEST_F(NodeCliUsageTest, AnUnknownOptionIsOneLineAndExit2) {
  ExpectUsage({"case", "list", "--bogus"}, "--bogus");
  ExpectUsage({"case", "new", "--name", "X", "--colour", "red"}, "--colour");
  ExpectUsage({"init", "--bogus"}, "--bogus");
  ExpectUsage({"enroll", "--hub", "h:1", "--token", "t", "--bogus"}, "--bogus");
  ExpectUsage({"sync", "--bogus"}, "--bogus");
  ExpectUsage({"daemon", "--bogus"}, "--bogus");
  ExpectUsage({"show", "cases", "x", "--bogus"}, "--bogus");
  ExpectUsage({"erase", "--case", "X", "--bogus"}, "--bogus");
  ExpectUsage({"device", "list", "--bogus"}, "--bogus");
  ExpectUsage({"trust", "--bogus"}, "--bogus");
  ExpectUsage({"set-aside", "list", "--bogus"}, "--bogus");
  ExpectUsage({"status", "--bogus"}, "--bogus");
  ExpectUsage({"version", "--bogus"}, "--bogus");
}

// Options without a command word print the overview only if some command
// has them (it printed the overview, exit 0, for any option).
TEST_F(NodeCliUsageTest, AnUnknownOptionWithoutACommandIsOneLineAndExit2) {
  ExpectUsage({"--bogus"}, "unknown option --bogus");
}

// What was typed comes back escaped: no control or bidirectional character
// reaches the terminal raw.
TEST_F(NodeCliUsageTest, WhatWasTypedComesBackEscaped) {
  ExpectUsage({"case", "list", "--x\x1b[31m"}, "\\x1b[31m");
  ExpectUsage({"l\xe2\x80\xae" "c"}, "\\u202e");
}

TEST_F(NodeCliUsageTest, AnOptionWithoutItsValueIsOneLineAndExit2) {
  ExpectUsage({"case", "new", "--name"}, "--name");
  ExpectUsage({"enroll", "--hub", "h:1", "--token"}, "--token");
  ExpectUsage({"daemon", "--every"}, "--every");
  ExpectUsage({"sync", "--pull-batch"}, "--pull-batch");
  ExpectUsage({"erase", "--case"}, "--case");
  ExpectUsage({"device", "approve", "--code"}, "--code");
  ExpectUsage({"unlock", "--for"}, "--for");
  ExpectUsage({"report", "--threshold"}, "--threshold");
}

TEST_F(NodeCliUsageTest, AnOptionsValueIsTheWordAfterItWhateverItBeginsWith) {
  // As fieldnode always read a command line: "--json" here is the value of
  // --pull-batch (and refused as one), not a switch.
  ExpectUsage({"sync", "--pull-batch", "--json"}, "not \"--json\"");
  ExpectUsage({"sync", "--pull-batch=--json"}, "not \"--json\"");
  // The last of an option given twice counts.
  ExpectUsage({"sync", "--pull-batch", "5", "--pull-batch", "x"}, "not \"x\"");
  // An empty value is a value: the word after it is not taken for it.
  ExpectUsage({"sync", "--pull-batch", "", "--bogus"}, "unknown option --bogus");
  ExpectUsage({"sync", "--pull-batch=", "--bogus"}, "unknown option --bogus");
  ExpectUsage({"sync", "--pull-batch=", "--pull-batch=7", "--pull-batch", "", "--json=1"},
              "--json takes no value");
}

// Process attack 80: `--hub host:PORT+65536` reached the hub at PORT.
TEST_F(NodeCliUsageTest, AHubPortOverTheLastIsAWrongCommandLine) {
  ExpectUsage({"enroll", "--hub", "127.0.0.1:99999", "--token", "t", "--insecure"},
              "over 65535");
  ExpectUsage({"enroll", "--hub", "127.0.0.1:7443x", "--token", "t", "--insecure"},
              "not a number");
}

TEST_F(NodeCliUsageTest, AnUnknownCommandIsOneLineAndExit2) {
  ExpectUsage({"frobnicate"}, "unknown command \"frobnicate\"");
}

}  // namespace
}  // namespace fieldsync::node
