// A `fieldhub serve` whose hub.db is moved or replaced under it refuses
// every sync call until the file it opened is back, and stops after a
// while so that a restart serves the file now at the path (hub/store_gate.h,
// hub/commands/serve.cc; attack review 22, MED 3). Before, NOT_SERVING only
// told health checks: a laptop reaching the hub directly went on pushing
// into the old file, and a device revoked in the file at the path went on
// syncing against the one the process held.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "store/sqlite.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

class StoreGateTest : public SyncProcessTest {
 protected:
  std::string Db() const { return hub_->data_dir() + "/hub.db"; }

  // Moves the hub's file aside (`aside`, with its -wal and -shm, as
  // `mv hub.db* DIR` would) and puts `replacement` at its path.
  void ReplaceHubFile(const std::string& aside, const std::string& replacement) {
    MoveHubFile(Db(), aside);
    std::filesystem::copy_file(replacement, Db());
  }
  static void MoveHubFile(const std::string& from, const std::string& to) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      const std::string f = from + suffix;
      if (std::filesystem::exists(f)) {
        ASSERT_EQ(std::rename(f.c_str(), (to + suffix).c_str()), 0) << f;
      }
    }
  }

  // Syncs `n` until a pass fails (the hub's health tick noticed), at most
  // `seconds`; the last status.
  static absl::Status SyncUntilRefused(harness::LocalNode& n, int seconds) {
    absl::Status last;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < until) {
      absl::StatusOr<node::SyncReport> r = n.Sync();
      last = r.status();
      if (!r.ok()) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return last;
  }

  // Whether the hub process ended by itself within `seconds`.
  bool AwaitHubExit(int seconds) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < until) {
      std::ifstream stat(absl::StrCat("/proc/", hub_->pid(), "/stat"));
      std::string pid, comm, state;
      if (!(stat >> pid >> comm >> state) || state == "Z") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  static int64_t LogCount(const std::string& db) {
    auto d = sqlite::Db::Open(db, "");
    EXPECT_TRUE(d.ok()) << d.status();
    if (!d.ok()) return -1;
    auto st = (*d)->Prepared("SELECT count(*) FROM _fs_log");
    EXPECT_TRUE(st.ok()) << st.status();
    if (!st.ok() || !(*st)->Step().value_or(false)) return -1;
    return (*st)->ColumnInt(0);
  }
};

TEST_F(StoreGateTest, APushWhileTheHubsFileIsReplacedIsRefusedAndNothingIsAcknowledged) {
  auto& lc1 = AddNode("LC");
  NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  const std::string backup = CopyHubFile("backup.db");
  const std::string aside = dir_.File("hub.db.aside");
  ReplaceHubFile(aside, backup);
  const int64_t held = LogCount(aside);
  ASSERT_GT(held, 0);

  absl::Status refused = SyncUntilRefused(lc1, 15);
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  absl::StatusOr<node::SyncReport> r = lc1.Sync();
  ASSERT_FALSE(r.ok()) << "the hub took a push into the file it no longer serves";
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_EQ(r.status().message().find(hub_->data_dir()), std::string::npos)
      << "the laptop was told a path of the hub machine: " << r.status();
  EXPECT_EQ(LogCount(aside), held) << "a commit went into the file moved aside";

  // The file put back: served again, and the case goes in.
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(Db() + suffix);
  MoveHubFile(aside, Db());
  absl::StatusOr<node::SyncReport> again;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!(again = lc1.Sync()).ok() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(hub_->Stop(), 0);
  EXPECT_EQ(LogCount(Db()), held + 1);
}

TEST_F(StoreGateTest, AHubWhoseFileWasReplacedStopsAndTheRevocationInTheFileAtThePathHolds) {
  auto& lc1 = AddNode("LC");
  auto& stolen = AddNode("LC");
  NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  MustSync(stolen);
  const std::string copy = CopyHubFile("copy.db");
  ReplaceHubFile(dir_.File("hub.db.aside"), copy);
  // The administrator revokes the stolen laptop in the file at the path.
  harness::CommandResult revoke =
      hub_->Admin({"node", "revoke", stolen.credential().device.ToString(), "--as", "Trần Văn Quản"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;

  // The process still holds the old file, in which the laptop is not
  // revoked: it must not serve it.
  absl::Status refused = SyncUntilRefused(stolen, 15);
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_FALSE(stolen.Sync().ok());

  ASSERT_TRUE(AwaitHubExit(40)) << "the hub went on holding a file nobody will open again";
  EXPECT_EQ(hub_->Stop(), 1);
  bool said = false;
  std::ifstream log(hub_->log_path());
  for (std::string l; std::getline(log, l);) {
    said |= l.find("stopping, so that a restart serves the file now at the path") !=
            std::string::npos;
  }
  EXPECT_TRUE(said);

  // Restarted, as systemd does: the file at the path, the revocation in it.
  ASSERT_TRUE(hub_->Start().ok());
  absl::StatusOr<node::SyncReport> r = stolen.Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(r.status()) || absl::IsUnauthenticated(r.status()))
      << r.status();
  MustSync(lc1);
}

}  // namespace
}  // namespace fieldsync::testing
