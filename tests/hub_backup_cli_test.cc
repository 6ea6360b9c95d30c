// fieldhub backup and fieldhub restore in process (hub/commands/backup.cc,
// restore.cc): a wrong command line or a file that cannot be used is one
// line and changes nothing; a backup of another hub is refused; a restore
// waits for no server and refuses while one holds serve.lock; a revocation
// made after the backup stays in force; an older schema's file is brought
// up to date. Against real servers and laptops: sync_hub_restore_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/credential_proof.h"
#include "crypto/hash.h"
#include "crypto/identity.h"
#include "hub/cli.h"
#include "support/fieldhub_in_process.h"
#include "hub/commands/hub_file.h"
#include "hub/hub_files.h"
#include "hub/sqlite_store.h"
#include "store/sqlite.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using Result = CliResult;

Result Fieldhub(const std::vector<std::string>& args) { return RunFieldhub(args); }

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// The names in `dir`, sorted.
std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

int64_t Count(const std::string& db, const std::string& sql) {
  auto d = sqlite::Db::Open(db, "");
  EXPECT_TRUE(d.ok());
  auto q = (*d)->Prepared(sql);
  EXPECT_TRUE(q.ok()) << q.status();
  auto r = (*q)->Step();
  EXPECT_TRUE(r.ok() && *r) << sql;
  return (*q)->ColumnInt(0);
}

class HubCliBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("FIELDSYNC_HUB_DIR");
    unsetenv("FIELDSYNC_ADMIN");
    setenv("USER", "test-admin", 1);
    hub_ = dir_.File("hub");
    ASSERT_EQ(Fieldhub({"init", "--data-dir", hub_}).exit, 0);
    ASSERT_EQ(Hub({"province", "add", "LC", "Lào Cai"}).exit, 0);
  }

  Result Hub(std::vector<std::string> args) {
    args.push_back("--data-dir");
    args.push_back(hub_);
    return Fieldhub(args);
  }
  std::string Db() const { return hub_ + "/hub.db"; }

  // A node of LC enrolled on the hub (the hub's side only); its device id.
  std::string Enrol(const std::string& name) {
    auto store = SqliteHubStore::Open(Db());
    EXPECT_TRUE(store.ok()) << store.status();
    auto token = (*store)->MakeEnrollToken("LC", 3'600'000, "test-admin");
    EXPECT_TRUE(token.ok()) << token.status();
    const crypto::DeviceIdentity id = crypto::DeviceIdentity::Generate(Id16::NewRandom());
    auto e = (*store)->Enroll(token->token, id.public_keys().device, name, id.public_keys(),
                              /*proven=*/false);
    EXPECT_TRUE(e.ok()) << e.status();
    return id.public_keys().device.ToString();
  }

  // The command refused in one line with exit `code`, nothing on stdout,
  // the hub's directory as it was (names and hub.db's bytes).
  void ExpectRefused(const std::vector<std::string>& args, int code, const std::string& what) {
    SCOPED_TRACE(::testing::PrintToString(args));
    const std::vector<std::string> names = Names(hub_);
    const std::string bytes = ReadFile(Db()) + "|" + ReadFile(Db() + "-wal");
    Result r = Hub(args);
    EXPECT_EQ(r.exit, code) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, StartsWith("fieldhub: "));
    EXPECT_THAT(r.err, HasSubstr(what));
    std::vector<std::string> after = Names(hub_);
    after.erase(std::remove(after.begin(), after.end(), "serve.lock"), after.end());
    std::vector<std::string> before = names;
    before.erase(std::remove(before.begin(), before.end(), "serve.lock"), before.end());
    EXPECT_EQ(after, before);
    EXPECT_TRUE(ReadFile(Db()) + "|" + ReadFile(Db() + "-wal") == bytes)
        << "the hub's file changed";
  }

  testing::TempDir dir_;
  std::string hub_;
};

TEST_F(HubCliBackupTest, WrongCommandLinesAndUnusableFilesAreOneLineAndChangeNothing) {
  ExpectRefused({"backup"}, 2, "backup needs the FILE to write");
  ExpectRefused({"backup", "a.db", "b.db"}, 2, "backup needs the FILE to write");
  ExpectRefused({"backup", ""}, 2, "backup needs the FILE to write");
  ExpectRefused({"restore"}, 2, "restore needs the backup FILE");
  ExpectRefused({"backup", dir_.File("x.db"), "--as", ""}, 2, "--as needs a name");

  // backup: never over a file, a directory, nor where it cannot write.
  const std::string taken = dir_.File("taken.db");
  std::ofstream(taken) << "the administrator's notes";
  ExpectRefused({"backup", taken}, 1, taken + " exists: a backup never replaces a file");
  EXPECT_EQ(ReadFile(taken), "the administrator's notes");
  ExpectRefused({"backup", dir_.path()}, 1, "exists: a backup never replaces a file");
  ExpectRefused({"backup", dir_.File("no/such/dir/b.db")}, 1, "cannot write");
  EXPECT_FALSE(fs::exists(dir_.File("no")));
  fs::create_directory(dir_.File("ro"));
  fs::permissions(dir_.File("ro"), fs::perms::owner_read | fs::perms::owner_exec);
  if (::access(dir_.File("ro").c_str(), W_OK) != 0) {  // (root writes anywhere)
    ExpectRefused({"backup", dir_.File("ro/b.db")}, 1, "cannot write");
    EXPECT_TRUE(fs::is_empty(dir_.File("ro")));
  }
  std::ofstream(dir_.File("busy.db.part")) << "";
  ExpectRefused({"backup", dir_.File("busy.db")}, 1, "busy.db.part exists");
  EXPECT_FALSE(fs::exists(dir_.File("busy.db")));

  // restore: only a hub database of this hub, whole.
  ExpectRefused({"restore", dir_.File("none.db")}, 1,
                "none.db: no such file; nothing was changed");
  ExpectRefused({"restore", dir_.path()}, 1, "is not a file");
  ExpectRefused({"restore", taken}, 1, "is not a hub database this fieldhub restores");
  testing::TempDir laptop;
  ASSERT_EQ(Fieldhub({"init", "--data-dir", laptop.File("h")}).exit, 0);
  {
    auto d = sqlite::Db::Open(laptop.File("h/hub.db"), "");
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE((*d)->Exec("DROP TABLE IF EXISTS hub_nodes").ok());
  }
  ExpectRefused({"restore", laptop.File("h/hub.db")}, 1, "it has no hub tables");
  // A backup with a page overwritten.
  ASSERT_EQ(Hub({"backup", dir_.File("good.db")}).exit, 0);
  std::string bytes = ReadFile(dir_.File("good.db"));
  ASSERT_GT(bytes.size(), 8192u);
  for (size_t i = 4096 + 100; i < 8192; ++i) bytes[i] = '\x5a';
  std::ofstream(dir_.File("bad.db"), std::ios::binary) << bytes;
  ExpectRefused({"restore", dir_.File("bad.db")}, 1, "is not a hub database this fieldhub restores");
}

TEST_F(HubCliBackupTest, ABackupIsThisHubsFileAndIsRecorded) {
  const std::string b = dir_.File("hub-2026-12-05.db");
  Result r = Hub({"backup", b, "--as", "Trần Văn Quản"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Lines(r.out), 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("saved the hub at log position 0 to " + b));
  EXPECT_THAT(r.out, HasSubstr("keep it as carefully as hub.db"));
  EXPECT_FALSE(fs::exists(b + ".part"));
  EXPECT_FALSE(fs::exists(b + "-wal"));
  EXPECT_EQ(fs::status(b).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto saved = TheHubFiles().Read(b, /*check=*/true);
  auto live = TheHubFiles().Read(Db(), /*check=*/true);
  ASSERT_TRUE(saved.ok()) << saved.status();
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(saved->hub_id, live->hub_id);
  EXPECT_EQ(Count(b, "SELECT count(*) FROM hub_provinces WHERE code = 'LC'"), 1);
  Result audit = Hub({"audit"});
  EXPECT_EQ(audit.exit, 0) << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("hub.backup"));
  EXPECT_THAT(audit.out, HasSubstr(b + ": log position 0, " +
                                   std::to_string(fs::file_size(b)) + " bytes"));
  // A second backup to the same name is refused; to another name it works.
  ExpectRefused({"backup", b}, 1, "exists");
  EXPECT_EQ(Hub({"backup", dir_.File("second.db")}).exit, 0);
}

TEST_F(HubCliBackupTest, ABackupOfAnotherHubIsRefused) {
  testing::TempDir other;
  ASSERT_EQ(Fieldhub({"init", "--data-dir", other.File("h")}).exit, 0);
  ASSERT_EQ(Fieldhub({"backup", other.File("b.db"), "--data-dir", other.File("h")}).exit, 0);
  ExpectRefused({"restore", other.File("b.db")}, 1,
                "is a backup of another hub (device ");
  ExpectRefused({"restore", other.File("b.db")}, 1, "its laptops would refuse it");
}

TEST_F(HubCliBackupTest, ARestoreIsRefusedWhileServeHoldsItsLock) {
  ASSERT_EQ(Hub({"backup", dir_.File("b.db")}).exit, 0);
  {
    // What `fieldhub serve` takes for its lifetime.
    auto lock = ServeLock::Take(hub_, "held by the test");
    ASSERT_TRUE(lock.ok()) << lock.status();
    ExpectRefused({"restore", dir_.File("b.db")}, 1,
                  "fieldhub serve is running on " + hub_ + ": stop fieldhub serve first");
    // ... and a second server is refused the same way.
    ExpectRefused({"serve", "--insecure", "--listen", "127.0.0.1:0"}, 1,
                  "another fieldhub serve or a fieldhub restore is running on " + hub_);
  }
  Result r = Hub({"restore", dir_.File("b.db")});
  EXPECT_EQ(r.exit, 0) << r.err;
}

TEST_F(HubCliBackupTest, ARevocationMadeAfterTheBackupStaysInForce) {
  const std::string kept = Enrol("máy Lào Cai 1");
  const std::string lost = Enrol("máy Lào Cai 2");
  const std::string b = dir_.File("b.db");
  ASSERT_EQ(Hub({"backup", b}).exit, 0);
  ASSERT_EQ(Hub({"node", "revoke", lost, "--as", "Trần Văn Quản"}).exit, 0);
  ASSERT_EQ(Hub({"province", "add", "HN", "Hà Nội"}).exit, 0);  // lost with the backup

  Result r = Hub({"restore", b, "--as", "Trần Văn Quản"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Lines(r.out), 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("restored " + b + ": the log goes back from position 0 to 0"));
  EXPECT_THAT(r.out, HasSubstr("laptops send again what they hold at their next sync"));
  EXPECT_THAT(r.out, HasSubstr("1 revocations carried over"));
  // The restored file: the backup's, with the revocation.
  EXPECT_EQ(Count(Db(), "SELECT count(*) FROM hub_provinces WHERE code = 'HN'"), 0);
  EXPECT_EQ(Count(Db(), "SELECT count(*) FROM hub_nodes WHERE revoked_at IS NOT NULL"), 1);
  Result nodes = Hub({"node", "list"});
  ASSERT_EQ(nodes.exit, 0) << nodes.err;
  std::istringstream lines(nodes.out);
  int revoked_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("[REVOKED]") == std::string::npos) continue;
    ++revoked_lines;
    EXPECT_THAT(line, HasSubstr("máy Lào Cai 2"));
  }
  EXPECT_EQ(revoked_lines, 1) << nodes.out;
  {
    auto store = SqliteHubStore::Open(Db());
    ASSERT_TRUE(store.ok()) << store.status();
    auto nodes = (*store)->Nodes();
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    ASSERT_EQ(nodes->size(), 2u);
    for (const NodeInfo& n : *nodes) {
      EXPECT_EQ(n.revoked, n.device.ToString() == lost) << n.device.ToString();
      EXPECT_TRUE(n.device.ToString() == lost || n.device.ToString() == kept);
    }
  }
  // Recorded in the restored file, after the revocation carried over.
  Result audit = Hub({"audit", "--json"});
  ASSERT_EQ(audit.exit, 0) << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("\"hub.restore\""));
  EXPECT_THAT(audit.out, HasSubstr("1 revocations carried over (" + lost + ")"));
  // The file replaced, kept whole beside it, its log folded in; nothing of
  // SQLite's left of the file put in place.
  std::string before;
  for (const std::string& n : Names(hub_)) {
    if (n.rfind("hub.db.before-restore-", 0) == 0) before = n;
  }
  ASSERT_FALSE(before.empty());
  EXPECT_THAT(before, ::testing::MatchesRegex("hub\\.db\\.before-restore-[0-9]{8}T[0-9]{6}Z"));
  EXPECT_FALSE(fs::exists(hub_ + "/" + before + "-wal"));
  EXPECT_FALSE(fs::exists(Db() + ".restoring"));
  EXPECT_EQ(Count(hub_ + "/" + before, "SELECT count(*) FROM hub_provinces WHERE code = 'HN'"),
            1);
  // A second restore keeps the first one's file too.
  ASSERT_EQ(Hub({"restore", b}).exit, 0);
  int befores = 0;
  for (const std::string& n : Names(hub_)) befores += n.rfind("hub.db.before-restore-", 0) == 0;
  EXPECT_EQ(befores, 2);
}

// Attack review 24, MED 3: a backup taken before a laptop registered its
// link key held none for it, and a restore reopened the registration to
// whoever came first with a copy of the store. The replaced file's link
// keys (and closed devices) are kept: a line a device, an audit entry.
// Red before: the restored file held no key for the device.
TEST_F(HubCliBackupTest, ARestoreKeepsTheLinkKeysOfTheReplacedHubAndNamesTheirDevices) {
  const std::string laptop = Enrol("máy Lào Cai 1");
  const std::string away = Enrol("máy Lào Cai 2");
  const std::string b = dir_.File("b.db");
  ASSERT_EQ(Hub({"backup", b}).exit, 0);
  const crypto::LinkKey key("the laptop's secret");
  {
    auto store = SqliteHubStore::Open(Db());
    ASSERT_TRUE(store.ok()) << store.status();
    auto id = Id16::Parse(laptop, "device");
    ASSERT_TRUE(id.ok()) << id.status();
    auto reg = (*store)->RegisterLinkKey(*id, key.public_key(), laptop, "registered");
    ASSERT_TRUE(reg.ok() && *reg) << reg.status();
  }
  Result r = Hub({"restore", b, "--as", "Trần Văn Quản"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Lines(r.out), 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("1 link keys kept from the replaced hub.db"));
  EXPECT_THAT(r.out, HasSubstr("\nfieldhub: device " + laptop +
                               ": its link key kept from the replaced hub.db"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr(away)));
  EXPECT_EQ(Count(Db(), "SELECT count(*) FROM hub_nodes WHERE link_pk IS NOT NULL"), 1);
  EXPECT_EQ(Count(Db(), "SELECT count(*) FROM hub_nodes WHERE link_pk = x'" +
                            crypto::HashHex(key.public_key()) + "'"),
            1);
  Result nodes = Hub({"node", "list", "--json"});
  ASSERT_EQ(nodes.exit, 0) << nodes.err;
  EXPECT_THAT(nodes.out, HasSubstr("\"link_key\": \"held\""));
  EXPECT_THAT(nodes.out, HasSubstr("\"link_key\": \"none\""));
  Result audit = Hub({"audit"});
  ASSERT_EQ(audit.exit, 0) << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("node.link-key: link key " +
                                   crypto::HashHex(key.public_key()) + " of device " + laptop +
                                   " kept by fieldhub restore"));
  EXPECT_THAT(audit.out, HasSubstr("every chain is whole"));
}

// A backup of an older schema's hub, put back where there is no hub.db
// (a new machine): brought up to this build's schema when opened.
TEST_F(HubCliBackupTest, ABackupOfAnOlderSchemaIsRestoredAndMigrated) {
  const char* fixtures = std::getenv("FIELDSYNC_FIXTURES");
  ASSERT_NE(fixtures, nullptr);
  const std::string fresh = dir_.File("new-machine");
  Result r = Fieldhub({"restore", std::string(fixtures) + "/hub-v6/hub.db", "--data-dir", fresh});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("there was no hub.db"));
  EXPECT_THAT(r.out, HasSubstr("0 revocations carried over"));
  EXPECT_EQ(Count(fresh + "/hub.db", "SELECT value FROM hub_meta WHERE key = 'schema_version'"),
            8);
  // Version 8: no laptop of the backup has a link key yet (each registers
  // its own at its next pass).
  EXPECT_EQ(Count(fresh + "/hub.db", "SELECT count(*) FROM hub_nodes WHERE link_pk IS NOT NULL"),
            0);
  // Its entries stay read by the rule they were kept by (hub/scope.h).
  EXPECT_EQ(Count(fresh + "/hub.db", "SELECT value FROM hub_meta WHERE key = 'log_scope_from'"),
            Count(fresh + "/hub.db", "SELECT max(pos) FROM _fs_log"));
  EXPECT_EQ(Fieldhub({"status", "--data-dir", fresh}).exit, 0);
  EXPECT_EQ(Fieldhub({"audit", "--data-dir", fresh}).exit, 0);
}

}  // namespace
}  // namespace fieldsync::hub
