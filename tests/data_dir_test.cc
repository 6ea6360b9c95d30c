// Opening a data directory that is not what it should be: one clear line,
// nothing changed (issue 12's defects found by trying the programs as a new
// user would).
#include <gtest/gtest.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "store/data_dir.h"
#include "support/temp_dir.h"

namespace fieldsync {
namespace {

DataDir NodeDir(const std::string& path) {
  return DataDir{path, "replica.db", "fieldnode init", "FIELDSYNC_NODE_DIR"};
}

TEST(DataDirTest, AnEmptiedReplicaFileIsRefusedAndNotRecreated) {
  testing::TempDir tmp;
  const DataDir dir = NodeDir(tmp.File("node"));
  {
    auto r = CreateReplicaIn(dir);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  std::filesystem::resize_file(dir.ReplicaPath(), 0);
  auto r = OpenReplicaIn(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("is empty"), std::string::npos) << r.status();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << "one line";
  EXPECT_EQ(std::filesystem::file_size(dir.ReplicaPath()), 0u) << "nothing was recreated";
}

// A directory this user cannot enter (made by root, mode 0700): when the
// test runs as root, the opening is tried by a child that has dropped to
// "nobody", since root enters anything.
TEST(DataDirTest, ADirectoryTheUserCannotEnterIsOneClearLine) {
  testing::TempDir tmp;
  const DataDir dir = NodeDir(tmp.File("node"));
  {
    auto r = CreateReplicaIn(dir);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir.path.c_str(), 0700), 0);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 &&
        (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
         ::setresuid(65534, 65534, 65534) != 0)) {
      _exit(3);
    }
    if (::geteuid() != 0) ::chmod(dir.path.c_str(), 0);  // a user's own unreadable directory
    auto r = OpenReplicaIn(dir);
    const std::string out = r.ok() ? std::string("opened")
                                   : absl::StrCat(static_cast<int>(r.status().code()), " ",
                                                  r.status().message());
    if (::write(fds[1], out.data(), out.size()) < 0) _exit(4);
    _exit(0);
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::chmod(dir.path.c_str(), 0700);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died: an uncaught exception";
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(got.rfind(absl::StrCat(static_cast<int>(absl::StatusCode::kFailedPrecondition), " "), 0),
            0u)
      << got;
  EXPECT_NE(got.find("cannot read the data directory"), std::string::npos) << got;
  EXPECT_NE(got.find("Permission denied"), std::string::npos) << got;
  EXPECT_EQ(got.find('\n'), std::string::npos) << got;
}

// `status --json` of the replica programs: the keys as scripts read them,
// and a data directory's path of any text parsed back exactly.
TEST(DataDirTest, StatusJsonKeepsItsKeysAndParsesBack) {
  DataDir dir = NodeDir("/srv/L\xC3\xA0o Cai \"1\"\\\n\x1b[2J");
  ReplicaStats s;
  s.schema_version = 4;
  s.local_seq = 3;
  s.log_commits = 9;
  s.open_conflicts = 1;
  s.live_rows = {{"cases", 2}, {"persons", 5}};
  const std::string out = FormatStatus(dir, s, /*json=*/true);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(out);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"data_dir", "device", "schema_version",
                                            "local_commits", "commits_held", "open_conflicts",
                                            "live_rows"}));
  EXPECT_EQ(j["data_dir"], dir.path);
  EXPECT_EQ(j["device"], s.device.ToString());
  EXPECT_EQ(j["commits_held"], 9);
  EXPECT_EQ(j["live_rows"]["persons"], 5);
  EXPECT_EQ(out.substr(0, 12), "{\"data_dir\":");
  EXPECT_NE(out.find("\"live_rows\": {\"cases\": 2, \"persons\": 5}}"), std::string::npos) << out;
}

}  // namespace
}  // namespace fieldsync
