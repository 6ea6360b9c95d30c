// A hub on PostgreSQL put back from an older backup (issue 15, point 4;
// hub/help/backup.txt, restore.txt; docs/POSTGRES.md, "Backup and
// restore"): `fieldhub backup --store` taken while `fieldhub serve --store`
// serves, laptops push more, the hub processes stopped, `fieldhub restore
// --store` from the older file, the processes started again: every laptop
// notices the hub went back, sends again what it lost, and converges;
// nothing is lost, nothing applied twice, a node revoked after the backup
// stays revoked. Real hub processes, real PostgreSQL (the private cluster),
// laptops over gRPC and TLS.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "hub/pg/connection.h"
#include "support/pg_cluster.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

class PgHubRestoreTest : public SyncProcessTest {
 protected:
  void SetUp() override {
    absl::Status made = db_.Create();
    ASSERT_TRUE(made.ok()) << made;
    // Every fieldhub the harness runs (serve, the administrator's
    // commands) takes the store from the environment.
    ::setenv("FIELDSYNC_HUB_STORE", db_.uri().c_str(), 1);
    const std::string hub_dir = dir_.File("hub");
    ASSERT_EQ(::mkdir(hub_dir.c_str(), 0700), 0);
    harness::CommandResult init =
        harness::Run({harness::BinDir() + "/fieldhub", "init", "--data-dir", hub_dir});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    // The harness runs `fieldhub init` before serving a directory without
    // hub.db; the hub is in PostgreSQL, made above: an empty file stands
    // in for it (fieldhub --store never opens it).
    std::ofstream(hub_dir + "/hub.db").close();
    SyncProcessTest::SetUp();
  }

  void TearDown() override {
    SyncProcessTest::TearDown();
    if (hub_ && hub_->running()) hub_->Stop();  // before its database is dropped
    ::unsetenv("FIELDSYNC_HUB_STORE");
  }

  int64_t HubCount(const std::string& sql) {
    auto conn = hub::pg::Connection::Open(db_.uri());
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) return -1;
    auto r = (*conn)->Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status() << ": " << sql;
    if (!r.ok()) return -1;
    auto n = r->Int(0, 0);
    return n.ok() ? *n : -1;
  }

  static size_t Cases(harness::LocalNode& n) {
    auto ids = n.replica().ListRows("cases", /*include_deleted=*/false);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? ids->size() : 0;
  }

  PgDatabase db_;
};

// The story of the SQLite hub's restore test (sync_hub_restore_test), on
// PostgreSQL, the backup taken with the hub serving.
TEST_F(PgHubRestoreTest, ARestoredPostgresHubIsHealedByItsLaptopsAndNothingIsLost) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& hn = AddNode("HN");
  auto& stolen = AddNode("LC");  // revoked after the backup
  NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  NewCase(lc2.replica(), "LC", "Vàng Thị Sua");
  NewCase(hn.replica(), "HN", "Đỗ Thị Hạnh");
  MustSync(lc1);
  MustSync(lc2);
  MustSync(hn);
  MustSync(stolen);
  MustSync(lc1);
  const std::string backup = dir_.File("hub-before.fsbak");
  harness::CommandResult saved = hub_->Admin({"backup", backup});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_NE(saved.out.find("saved the hub at log position"), std::string::npos) << saved.out;
  struct stat st;
  ASSERT_EQ(::stat(backup.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const int64_t head_at_backup = HubCount("SELECT position FROM hub_log_head");

  // After the backup: more work on every laptop, and a laptop (enrolled
  // before it) revoked.
  NewCase(lc1.replica(), "LC", "Hoàng Thị Lan");
  NewCase(lc1.replica(), "LC", "Sùng Thị Chư");
  NewCase(lc2.replica(), "LC", "Lý Thị Mỷ");
  NewCase(hn.replica(), "HN", "Phạm Thị Nguyệt");
  MustSync(lc1);
  MustSync(lc2);
  MustSync(hn);
  MustSync(lc1);
  ASSERT_EQ(Cases(lc1), 6u);
  ASSERT_EQ(HubCount("SELECT count(*) FROM hub_rows WHERE tbl = 'cases'"), 8);
  harness::CommandResult revoked =
      hub_->Admin({"node", "revoke", stolen.replica().device_id().ToString()});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  MustSync(lc1);  // the office moves to new keys
  MustSync(lc2);

  // Refused while a hub process serves the database; nothing changed.
  harness::CommandResult busy = hub_->Admin({"restore", backup});
  EXPECT_EQ(busy.exit_code, 1) << busy.out;
  EXPECT_NE(busy.err.find("stop every hub process"), std::string::npos) << busy.err;
  EXPECT_EQ(HubCount("SELECT count(*) FROM hub_rows WHERE tbl = 'cases'"), 8);

  hub_->Stop();
  harness::CommandResult restored = hub_->Admin({"restore", backup});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_NE(restored.out.find(absl::StrCat(" to ", head_at_backup, ";")), std::string::npos)
      << restored.out;
  EXPECT_NE(restored.out.find("1 revocations carried over"), std::string::npos) << restored.out;
  ASSERT_TRUE(hub_->Start().ok());
  EXPECT_EQ(HubCount("SELECT count(*) FROM hub_rows WHERE tbl = 'cases'"), 4);
  EXPECT_EQ(HubCount("SELECT position FROM hub_log_head"), head_at_backup);
  EXPECT_EQ(HubCount("SELECT count(*) FROM hub_audit WHERE action = 'hub.restore'"), 1);

  // The revoked laptop comes back first, before any other laptop has
  // sent the hub its office's signed removal again: refused all the same.
  auto first = stolen.Sync();
  ASSERT_FALSE(first.ok()) << "the node revoked after the backup synced with the restored hub";
  EXPECT_NE(std::string(first.status().message()).find("was revoked by the hub administrator"),
            std::string::npos)
      << first.status();
  // lc1 sends again what the backup lacks, among it the office key it had
  // shared with `stolen` before the revocation: the restored hub, where
  // `stolen` is revoked again, refuses that one share (the only refusal),
  // as the SQLite hub does (sync_hub_restore_test).
  auto r1 = lc1.Sync();
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_TRUE(r1->hub_went_back) << "lc1 did not notice that the hub's log went back";
  EXPECT_TRUE(r1->own_resent) << "lc1 did not send again what the hub lost";
  EXPECT_TRUE(r1->push_refused.ok()) << r1->push_refused;
  EXPECT_LE(r1->key_records_refused_by_hub, 1);
  if (r1->key_records_refused_by_hub > 0) {
    EXPECT_NE(r1->key_push_refusal.find("shared with device " +
                                        stolen.replica().device_id().ToString()),
              std::string::npos)
        << r1->key_push_refusal;
  }
  MustSync(lc2);
  MustSync(hn);
  MustSync(lc1);
  MustSync(lc2);
  MustSync(hn);
  EXPECT_EQ(HubCount("SELECT count(*) FROM hub_rows WHERE tbl = 'cases'"), 8);
  EXPECT_EQ(Cases(lc1), 6u);
  EXPECT_EQ(Cases(lc2), 6u);
  EXPECT_EQ(Cases(hn), 2u);  // Hà Nội's own: Lào Cai's are shared with no one
  // The chain goes on over the healed log: every position hashed once.
  EXPECT_EQ(HubCount("SELECT count(*) FROM hub_log_hash"),
            HubCount("SELECT max(position) FROM hub_log"));
  EXPECT_EQ(HubCount("SELECT count(*) FROM hub_log"),
            HubCount("SELECT max(position) FROM hub_log"));
  // ... and after the others healed the hub.
  auto again = stolen.Sync();
  ASSERT_FALSE(again.ok()) << "the node revoked after the backup synced with the restored hub";
  EXPECT_NE(std::string(again.status().message()).find("revoked"), std::string::npos)
      << again.status();
  // A new laptop gets every case of its province.
  auto& lc3 = AddNode("LC");
  MustSync(lc3);
  EXPECT_EQ(Cases(lc3), 6u);
  node::SyncReport quiet = MustSync(lc1);
  EXPECT_FALSE(quiet.hub_went_back);
  EXPECT_FALSE(quiet.own_resent);
}

}  // namespace
}  // namespace fieldsync::testing
