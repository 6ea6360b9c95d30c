// Defects of issue 12 (point 7) seen by running the programs as a user
// would, each checked on the real programs: one line saying what is wrong,
// a documented exit code, no gRPC log line, no abort.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "support/temp_dir.h"
#include "sync/protocol.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kPass[] = "một câu dài làm mật khẩu";

std::string Fieldhub() { return harness::BinDir() + "/fieldhub"; }
std::string Fieldnode() { return harness::BinDir() + "/fieldnode"; }

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// A program that should fail at once is given a bound: a regression that
// serves instead fails the test rather than hanging it.
std::vector<std::string> Bounded(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"/usr/bin/timeout", "60"});
  return argv;
}

// One line, "PROGRAM: ...", nothing of gRPC's own logging.
void ExpectOneLine(const harness::CommandResult& r, const std::string& program) {
  EXPECT_EQ(Lines(r.err), 1) << r.err;
  EXPECT_THAT(r.err, StartsWith(program + ": "));
  EXPECT_THAT(r.err, Not(HasSubstr(".cc:"))) << "a gRPC log line";
}

TEST(ProgramDefectsTest, ServeOnABusyPortSaysSoInOneLine) {
  testing::TempDir tmp;
  const std::string hub = tmp.File("hub");
  ASSERT_EQ(harness::Run({Fieldhub(), "init", "--data-dir", hub}).exit_code, 0);
  // The port, taken by this test.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string listen = absl::StrCat("127.0.0.1:", ntohs(a.sin_port));
  harness::CommandResult r = harness::Run(
      Bounded({Fieldhub(), "serve", "--data-dir", hub, "--listen", listen, "--insecure"}));
  ::close(fd);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ExpectOneLine(r, "fieldhub");
  EXPECT_THAT(r.err, HasSubstr("could not listen on " + listen)) << r.err;
}

TEST(ProgramDefectsTest, UnlockWithoutATerminalOrAPassphraseSaysHowToGiveIt) {
  testing::TempDir tmp;
  const std::string node = tmp.File("node");
  ASSERT_EQ(harness::Run({"/usr/bin/env", std::string("FIELDSYNC_PASSPHRASE=") + kPass,
                          Fieldnode(), "init", "--data-dir", node})
                .exit_code,
            0);
  // No controlling terminal (setsid), stdin not a terminal, no passphrase
  // in the environment.
  harness::CommandResult r = harness::Run(Bounded(
      {"/usr/bin/setsid", "--wait", "/usr/bin/env", "-u", "FIELDSYNC_PASSPHRASE", "-u",
       "FIELDSYNC_PASSPHRASE_FILE", "/bin/sh", "-c", "exec \"$0\" \"$@\" </dev/null",
       Fieldnode(), "unlock", "--data-dir", node}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  ExpectOneLine(r, "fieldnode");
  EXPECT_THAT(r.err, HasSubstr("unlocking needs the passphrase: give --passphrase-file FILE, or "
                               "set FIELDSYNC_PASSPHRASE_FILE, or run fieldnode unlock on a "
                               "terminal to be asked"));
  EXPECT_THAT(r.err, Not(HasSubstr("run fieldnode unlock\n")));
  EXPECT_EQ(r.out, "");
}

// A data directory the user cannot enter: root enters anything, so as root
// the programs run as "nobody" (setpriv); as another user, the directory is
// made the user's own and unreadable.
TEST(ProgramDefectsTest, ADataDirectoryTheUserCannotEnterIsOneLineForServeAndTheNode) {
  const bool root = ::geteuid() == 0;
  if (root && ::access("/usr/bin/setpriv", X_OK) != 0) {
    GTEST_SKIP() << "running as root without /usr/bin/setpriv: cannot become a user that a "
                    "directory keeps out";
  }
  testing::TempDir tmp;
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0755), 0);
  const std::string hub = tmp.File("hub");
  const std::string node = tmp.File("node");
  ASSERT_EQ(harness::Run({Fieldhub(), "init", "--data-dir", hub}).exit_code, 0);
  ASSERT_EQ(harness::Run({"/usr/bin/env", std::string("FIELDSYNC_PASSPHRASE=") + kPass,
                          Fieldnode(), "init", "--data-dir", node})
                .exit_code,
            0);
  for (const std::string& d : {hub, node}) ASSERT_EQ(::chmod(d.c_str(), root ? 0700 : 0), 0);
  auto as_user = [&](std::vector<std::string> argv) {
    if (root) {
      argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                 "--clear-groups"});
    }
    return harness::Run(Bounded(argv));
  };
  struct Case {
    std::vector<std::string> argv;
    std::string program;
    std::string dir;
  };
  for (const Case& c : std::vector<Case>{
           {{Fieldhub(), "serve", "--data-dir", hub, "--listen", "127.0.0.1:0", "--insecure"},
            "fieldhub", hub},
           {{Fieldhub(), "status", "--data-dir", hub}, "fieldhub", hub},
           {{Fieldnode(), "status", "--data-dir", node}, "fieldnode", node},
           {{Fieldnode(), "case", "list", "--data-dir", node}, "fieldnode", node}}) {
    SCOPED_TRACE(c.argv[1]);
    harness::CommandResult r = as_user(c.argv);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    ExpectOneLine(r, c.program);
    EXPECT_THAT(r.err, HasSubstr(c.dir));
    EXPECT_NE(r.exit_code, 134) << "aborted";
  }
  for (const std::string& d : {hub, node}) ::chmod(d.c_str(), 0700);
}

// `version --json` names the highest protocol version the programs speak.
TEST(ProgramDefectsTest, VersionSaysTheProtocolVersionSpoken) {
  for (const std::string& program : {Fieldnode(), Fieldhub()}) {
    harness::CommandResult r = harness::Run({program, "version", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["protocol_version"], sync::kMaxProtocolVersion) << program << ": " << r.out;
    EXPECT_TRUE(j["schema_version"].is_number());
    EXPECT_TRUE(j["commit_format"].is_number());
    harness::CommandResult text = harness::Run({program, "version"});
    EXPECT_THAT(text.out, HasSubstr(absl::StrCat("protocol version ", sync::kMaxProtocolVersion)));
  }
}

}  // namespace
}  // namespace fieldsync
