// A hub.db made by the build before issue 11 (tests/fixtures/hub-v1, schema
// version 1: no version recorded) opens in place with today's fieldhub: it
// is migrated to version 2 (the status versions of the referrals it holds),
// keeps its provinces, nodes and log, and laptops of today sync with it,
// answering a referral made before the upgrade. A hub.db of a newer version
// is refused in one line, unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "store/sqlite.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

class HubMigrationTest : public SyncTest {
 protected:
  void SetUp() override {
    const char* fixtures = std::getenv("FIELDSYNC_FIXTURES");
    ASSERT_NE(fixtures, nullptr);
    std::filesystem::create_directories(dir_.File("hub"));
    std::filesystem::copy_file(std::string(fixtures) + "/hub-v1/hub.db", dir_.File("hub/hub.db"));
    hub_ = std::make_unique<harness::HubProcess>(dir_.File("hub"), *pki_);
  }

  static int64_t Query(const std::string& db_path, const std::string& sql) {
    auto db = sqlite::Db::Open(db_path, "");
    EXPECT_TRUE(db.ok());
    auto st = (*db)->Prepared(sql);
    EXPECT_TRUE(st.ok()) << st.status();
    auto r = (*st)->Step();
    EXPECT_TRUE(r.ok() && *r) << sql;
    return (*st)->ColumnInt(0);
  }
};

// tests/fixtures/hub-v2: the demo's hub (LC and HN, three laptops, a case
// referred and accepted), written by the build of schema version 2.
TEST_F(HubMigrationTest, AVersion2HubGainsCommitChainsAndItsLaptopsChainFromTheirNextCommit) {
  const char* fixtures = std::getenv("FIELDSYNC_FIXTURES");
  ASSERT_NE(fixtures, nullptr);
  const std::string db = dir_.File("hub/hub.db");
  std::filesystem::copy_file(std::string(fixtures) + "/hub-v2/hub.db", db,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 2);
  const int64_t logged = Query(db, "SELECT count(*) FROM _fs_log");
  ASSERT_TRUE(hub_->Start().ok());
  EXPECT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 8);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_chain"), 0) << "no header before version 3";
  EXPECT_EQ(Query(db, "SELECT count(*) FROM _fs_log"), logged);
  // A laptop of today joins Lào Cai, receives the office's history (its
  // commits have no headers: applied unchecked, counted), and writes.
  hub_->AddProvince("DN", "Đà Nẵng").IgnoreError();
  auto& dn = AddNode("DN");
  node::SyncReport r = MustSync(dn);
  EXPECT_EQ(r.protocol_version, 3);
  NewCase(dn.replica(), "DN", "Lê Thị Thu");
  MustSync(dn);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_chain"), 1);
}

// tests/fixtures/hub-v3: the demo's hub written by the build of schema
// version 3 (commit chains, no statements).
TEST_F(HubMigrationTest, AVersion3HubGainsStatementsAndItsLaptopsStateWhatTheySee) {
  const char* fixtures = std::getenv("FIELDSYNC_FIXTURES");
  ASSERT_NE(fixtures, nullptr);
  const std::string db = dir_.File("hub/hub.db");
  std::filesystem::copy_file(std::string(fixtures) + "/hub-v3/hub.db", db,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 3);
  const int64_t chained = Query(db, "SELECT count(*) FROM hub_chain");
  ASSERT_GT(chained, 0) << "the demo's laptops wrote with headers";
  ASSERT_TRUE(hub_->Start().ok());
  EXPECT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 8);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_statements"), 0);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_chain"), chained);
  // A laptop of today in a new office receives what it may see, and states
  // what it has seen at the end of its pass.
  hub_->AddProvince("DN", "Đà Nẵng").IgnoreError();
  auto& dn = AddNode("DN");
  node::SyncReport r = MustSync(dn);
  EXPECT_EQ(r.protocol_version, 3);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_statements"), 1);
}

TEST_F(HubMigrationTest, AVersion4HubGainsCheckpointsAndANewOfficesLaptopMakesOne) {
  const char* fixtures = std::getenv("FIELDSYNC_FIXTURES");
  ASSERT_NE(fixtures, nullptr);
  const std::string db = dir_.File("hub/hub.db");
  std::filesystem::copy_file(std::string(fixtures) + "/hub-v4/hub.db", db,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 4);
  const int64_t stated = Query(db, "SELECT count(*) FROM hub_statements");
  ASSERT_GT(stated, 0) << "the demo's laptops stated what they saw";
  ASSERT_TRUE(hub_->Start().ok());
  EXPECT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 8);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_checkpoints"), 0);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_statements"), stated);
  // A laptop of today in a new office signs the root of what it holds at
  // its first pass, and the hub adopts it.
  hub_->AddProvince("DN", "Đà Nẵng").IgnoreError();
  auto& dn = AddNode("DN");
  node::SyncReport r = MustSync(dn);
  EXPECT_EQ(r.protocol_version, 3);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_checkpoints WHERE province = 'DN'"), 1);
}

// tests/fixtures/hub-v5: the demo's hub written by the build of schema
// version 5 (checkpoints, no log chain).
TEST_F(HubMigrationTest, AVersion5HubGainsItsLogChainOverTheLogItHolds) {
  const char* fixtures = std::getenv("FIELDSYNC_FIXTURES");
  ASSERT_NE(fixtures, nullptr);
  const std::string db = dir_.File("hub/hub.db");
  std::filesystem::copy_file(std::string(fixtures) + "/hub-v5/hub.db", db,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 5);
  const int64_t logged = Query(db, "SELECT count(*) FROM _fs_log");
  ASSERT_GT(logged, 0);
  ASSERT_TRUE(hub_->Start().ok());
  EXPECT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 8);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_log_hash"), logged);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM _fs_log"), logged);
  // Version 7: the entries it held stay read by the rule they were kept by
  // (hub/scope.h, hub_log_scope), up to its head then.
  EXPECT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'log_scope_from'"),
            Query(db, "SELECT max(pos) FROM _fs_log"));
  // A laptop of today in a new office pulls, keeps the hash at its cursor,
  // writes; the chain goes on with the log.
  hub_->AddProvince("DN", "Đà Nẵng").IgnoreError();
  auto& dn = AddNode("DN");
  node::SyncReport r = MustSync(dn);
  EXPECT_EQ(r.protocol_version, 3);
  NewCase(dn.replica(), "DN", "Lê Thị Thu");
  MustSync(dn);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_log_hash"), logged + 1);
  auto marks = dn.replica().HubMarks();
  ASSERT_TRUE(marks.ok()) << marks.status();
  EXPECT_FALSE(marks->empty()) << "the laptop kept no hash of the hub's log";
  EXPECT_FALSE(MustSync(dn).hub_went_back);
}

// tests/fixtures/hub-v6: the demo's hub written by the build of schema
// version 6 (each entry kept under the owners of what it touched alone).
// Its entries stay read by that rule, up to its head then; a case referred
// after the upgrade is kept under the office it was referred to too.
TEST_F(HubMigrationTest, AVersion6HubKeepsItsEntriesReadByTheRuleTheyWereKeptBy) {
  const char* fixtures = std::getenv("FIELDSYNC_FIXTURES");
  ASSERT_NE(fixtures, nullptr);
  const std::string db = dir_.File("hub/hub.db");
  std::filesystem::copy_file(std::string(fixtures) + "/hub-v6/hub.db", db,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 6);
  const int64_t head = Query(db, "SELECT max(pos) FROM _fs_log");
  ASSERT_GT(head, 0);
  ASSERT_TRUE(hub_->Start().ok());
  EXPECT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 8);
  EXPECT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'log_scope_from'"), head);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_log_subject"), 0) << "nothing is rewritten";
  // A laptop of today in a new office refers a case to Hà Nội: the case's
  // entry and the referral's are Hà Nội's to read.
  hub_->AddProvince("DN", "Đà Nẵng").IgnoreError();
  auto& dn = AddNode("DN");
  MustSync(dn);
  const RowId kase = NewCase(dn.replica(), "DN", "Lê Thị Thu");
  MustSync(dn);
  Refer(dn.replica(), kase, "DN", "HN");
  MustSync(dn);
  EXPECT_EQ(Query(db, absl::StrCat("SELECT count(*) FROM hub_log_scope WHERE province = 'HN' "
                                   "AND position > ", head)),
            2);
  EXPECT_EQ(Query(db, absl::StrCat("SELECT count(*) FROM hub_log_scope WHERE province = 'LC' "
                                   "AND position > ", head)),
            0);
}

// tests/fixtures/hub-v7: the demo's hub written by the build of schema
// version 7 (main at 1e7a14b, session 23: no link keys). It gains
// hub_nodes.link_pk, empty for the laptops it holds; a laptop of today
// registers its link key when it enrols, and only its link proofs are
// taken from then on.
TEST_F(HubMigrationTest, AVersion7HubGainsLinkKeysEmptyAndANewLaptopRegistersOne) {
  const char* fixtures = std::getenv("FIELDSYNC_FIXTURES");
  ASSERT_NE(fixtures, nullptr);
  const std::string db = dir_.File("hub/hub.db");
  std::filesystem::copy_file(std::string(fixtures) + "/hub-v7/hub.db", db,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 7);
  const int64_t nodes = Query(db, "SELECT count(*) FROM hub_nodes");
  ASSERT_GT(nodes, 0);
  ASSERT_TRUE(hub_->Start().ok());
  EXPECT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 8);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_nodes WHERE link_pk IS NULL"), nodes);
  hub_->AddProvince("DN", "Đà Nẵng").IgnoreError();
  auto& dn = AddNode("DN");
  MustSync(dn);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_nodes WHERE link_pk IS NOT NULL"), 1);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_nodes"), nodes + 1);
}

TEST_F(HubMigrationTest, AVersion1HubIsMigratedInPlaceAndTodaysLaptopsSyncWithIt) {
  const std::string db = dir_.File("hub/hub.db");
  ASSERT_EQ(Query(db, "SELECT count(*) FROM sqlite_master WHERE name = 'hub_referral_status'"), 0);
  ASSERT_EQ(Query(db, "SELECT count(*) FROM referrals"), 1);
  ASSERT_TRUE(hub_->Start().ok());
  EXPECT_EQ(Query(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 8);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_referral_status WHERE status = 'sent'"), 1);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_nodes"), 2) << "the enrolled nodes are kept";
  harness::CommandResult status = hub_->Admin({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("LC"), std::string::npos) << status.out;
  // A laptop of today in Hà Nội receives the referral made before the
  // upgrade and answers it: judged against the version the hub migrated.
  auto& hn = AddNode("HN");
  MustSync(hn);
  auto refs = hn.replica().ListRows("referrals", false);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  SetField(hn.replica(), "referrals", refs->front(), "status", Value::Text("accepted"));
  MustSync(hn);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM hub_referral_status WHERE status = 'accepted'"), 1);
}

TEST_F(HubMigrationTest, AHubOfANewerSchemaVersionIsRefusedInOneLineAndUnchanged) {
  const std::string db = dir_.File("hub/hub.db");
  {
    auto d = sqlite::Db::Open(db, "");
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE((*d)->Exec("INSERT INTO hub_meta(key, value) VALUES ('schema_version', 99)").ok());
  }
  const auto before = std::filesystem::file_size(db);
  harness::CommandResult status = hub_->Admin({"status"});
  EXPECT_EQ(status.exit_code, 1);
  EXPECT_NE(status.err.find("schema version 99, made by a newer fieldhub"), std::string::npos)
      << status.err;
  EXPECT_EQ(std::count(status.err.begin(), status.err.end(), '\n'), 1) << status.err;
  EXPECT_EQ(Query(db, "SELECT count(*) FROM sqlite_master WHERE name = 'hub_referral_status'"), 0);
  EXPECT_EQ(std::filesystem::file_size(db), before);
}

}  // namespace
}  // namespace fieldsync::testing
