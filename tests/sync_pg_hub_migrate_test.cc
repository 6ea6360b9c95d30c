// `fieldhub migrate` on PostgreSQL (hub/help/migrate.txt; docs/POSTGRES.md,
// "Moving a hub.db to PostgreSQL" and "Who changes the schema"), with real
// hub processes and laptops over gRPC and TLS:
// - --to: a hub.db with several offices, enrolled and revoked laptops, a
//   referral, a conflict, audit entries and a collected tombstone moved into
//   an empty database: both stores answer every read alike, no table of
//   hub.db that holds rows is left without its PostgreSQL counterpart,
//   hub.db is not changed, and the hub served from PostgreSQL goes on with
//   the same laptops (the revoked one still refused);
// - a `fieldhub serve --store` whose schema another fieldhub changes goes
//   NOT_SERVING and stores no push.
#include <gtest/gtest.h>

#include <filesystem>

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "crypto/hash.h"
#include "hub/audit.h"
#include "hub/pg/connection.h"
#include "hub/pg/schema.h"
#include "hub/pg/store.h"
#include "hub/sqlite_store.h"
#include "hub/store_digest.h"
#include "store/sqlite.h"
#include "support/pg_cluster.h"
#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

std::string FileHash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(none)";
  std::stringstream s;
  s << in.rdbuf();
  return crypto::Blake2b256(s.str());
}

void Delete(Replica& r, const std::string& table, const RowId& row) {
  LocalTxn t;
  t.Delete(table, row);
  auto c = r.Write(t);
  ASSERT_TRUE(c.ok()) << c.status();
}

class PgHubMigrateTest : public SyncProcessTest {
 protected:
  void SetUp() override {
    absl::Status made = db_.Create();
    ASSERT_TRUE(made.ok()) << made;
    SyncProcessTest::SetUp();
  }

  void TearDown() override {
    SyncProcessTest::TearDown();
    if (hub_ && hub_->running()) hub_->Stop();  // before its database is dropped
    ::unsetenv("FIELDSYNC_HUB_STORE");
  }

  int64_t PgCount(const std::string& sql) {
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

  std::string HubDb() const { return hub_->data_dir() + "/hub.db"; }

  PgDatabase db_;
};

// Each table of hub.db, and the PostgreSQL table that holds what it held
// (docs/POSTGRES.md, "Moving a hub.db to PostgreSQL"): a replica table's
// rows are hub_rows of that tbl.
std::string CounterpartCount(const std::string& sqlite_table, const Schema& schema) {
  static const std::map<std::string, std::string> kMoved = {
      {"_fs_meta", "SELECT count(*) FROM hub_meta WHERE key = 'hub_id'"},
      {"_fs_devices", "SELECT count(*) FROM hub_authors"},
      {"_fs_log", "SELECT count(*) FROM hub_log"},
      {"_fs_signatures", "SELECT count(*) FROM hub_log WHERE signature IS NOT NULL"},
      {"_fs_conflicts", "SELECT count(*) FROM hub_conflicts"},
      {"hub_meta", "SELECT count(*) FROM hub_gc WHERE epoch > 0"},
  };
  if (auto it = kMoved.find(sqlite_table); it != kMoved.end()) return it->second;
  if (schema.FindTable(sqlite_table) != nullptr) {
    return absl::StrCat("SELECT count(*) FROM hub_rows WHERE tbl = '", sqlite_table, "'");
  }
  if (sqlite_table.rfind("hub_", 0) == 0) return absl::StrCat("SELECT count(*) FROM ", sqlite_table);
  return "";  // a laptop's bookkeeping: a hub keeps nothing there
}

TEST_F(PgHubMigrateTest, AHubDbMovedToPostgresAnswersAlikeAndServesTheSameLaptops) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& hn = AddNode("HN");
  auto& stolen = AddNode("LC");
  const RowId kase = NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  const RowId gone = NewCase(lc2.replica(), "LC", "Vàng Thị Sua");
  NewCase(hn.replica(), "HN", "Đỗ Thị Hạnh");
  for (auto* n : {&lc1, &lc2, &hn, &stolen, &lc1, &lc2}) MustSync(*n);
  // A referral to Hà Nội, accepted: grants, a key grant, a referral status.
  const RowId ref = Refer(lc1.replica(), kase, "LC", "HN");
  AcceptReferral(lc1, hn, ref);
  // Two Lào Cai laptops change one field apart: a conflict record.
  SetField(lc1.replica(), "cases", kase, "urgency", Value::Text("urgent"));
  SetField(lc2.replica(), "cases", kase, "urgency", Value::Text("normal"));
  MustSync(lc1);
  MustSync(lc2);
  // A case deleted and its tombstone collected once every laptop has it.
  Delete(lc2.replica(), "cases", gone);
  for (auto* n : {&lc2, &lc1, &stolen, &hn, &lc1, &lc2, &stolen}) MustSync(*n);
  harness::CommandResult gc = hub_->Admin({"gc", "--min-age", "0s"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  ASSERT_NE(gc.out.find("collected 1 tombstones"), std::string::npos) << gc.out;
  harness::CommandResult revoked =
      hub_->Admin({"node", "revoke", stolen.replica().device_id().ToString()});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  for (auto* n : {&lc1, &lc2, &hn}) MustSync(*n);

  // Refused while serve holds hub.db: nothing made in the database.
  harness::CommandResult busy = hub_->Admin({"migrate", "--to", db_.uri()});
  EXPECT_EQ(busy.exit_code, 1) << busy.out;
  EXPECT_NE(busy.err.find("stop it first"), std::string::npos) << busy.err;
  EXPECT_EQ(PgCount("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);

  hub_->Stop();
  // Refused while another command holds hub.db's write lock (attack
  // review 23, MED 4: a revocation made on hub.db during the move would
  // be missing in PostgreSQL): the move holds it itself from before its
  // copy, so no such command runs during it.
  {
    auto other = sqlite::Db::Open(HubDb(), "");
    ASSERT_TRUE(other.ok()) << other.status();
    ASSERT_TRUE((*other)->Exec("BEGIN IMMEDIATE").ok());
    harness::CommandResult writing = hub_->Admin({"migrate", "--to", db_.uri()});
    EXPECT_EQ(writing.exit_code, 1) << writing.out;
    EXPECT_NE(writing.err.find("another command is writing"), std::string::npos) << writing.err;
    EXPECT_EQ(PgCount("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);
    ASSERT_TRUE((*other)->Exec("ROLLBACK").ok());
  }
  const std::string before = FileHash(HubDb()) + FileHash(HubDb() + "-wal");
  harness::CommandResult moved = hub_->Admin({"migrate", "--to", db_.uri(), "--as", "Trần Văn Quản"});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_NE(moved.out.find("hub.db is unchanged"), std::string::npos) << moved.out;
  // The rows arrived at once: their statistics were taken with them, not
  // left to autovacuum's next round (docs/POSTGRES.md, "Statistics").
  {
    std::unique_ptr<hub::pg::Connection> conn = db_.Connect();
    ASSERT_NE(conn, nullptr);
    auto unanalyzed = conn->Exec(kUnanalyzedHubTablesSql);
    ASSERT_TRUE(unanalyzed.ok()) << unanalyzed.status();
    EXPECT_EQ(unanalyzed->Bytes(0, 0), "") << "hub tables holding rows without statistics";
  }
  // Each laptop's link key moved with it (hub schema 8, PostgreSQL 4): the
  // hub on PostgreSQL takes only their link proofs, as hub.db did.
  EXPECT_EQ(PgCount("SELECT count(*) FROM hub_nodes WHERE link_pk IS NOT NULL AND "
                    "length(link_pk) = 32"),
            4);
  EXPECT_EQ(FileHash(HubDb()) + FileHash(HubDb() + "-wal"), before) << "hub.db was changed";
  // hub.db is opened by no command now (attack review 23, MED 4: a serve
  // or a revocation on it would part from the hub on PostgreSQL), a move
  // again included; the mark removed, hub.db opens again.
  const int64_t audit = PgCount("SELECT count(*) FROM hub_audit");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status"}, {"node", "list"}, {"migrate", "--to", db_.uri()}}) {
    harness::CommandResult refused = hub_->Admin(args);
    EXPECT_EQ(refused.exit_code, 1) << args[0] << ": " << refused.out;
    EXPECT_NE(refused.err.find("was moved to PostgreSQL"), std::string::npos) << refused.err;
  }
  EXPECT_EQ(PgCount("SELECT count(*) FROM hub_audit"), audit);
  const std::string mark = hub_->data_dir() + "/hub.db.moved";
  ASSERT_TRUE(std::filesystem::exists(mark));
  std::filesystem::rename(mark, mark + ".aside");
  // Into a database that is not empty (this one, now): refused, unchanged.
  harness::CommandResult twice = hub_->Admin({"migrate", "--to", db_.uri()});
  EXPECT_EQ(twice.exit_code, 1) << twice.out;
  EXPECT_NE(twice.err.find("not empty"), std::string::npos) << twice.err;
  EXPECT_EQ(PgCount("SELECT count(*) FROM hub_audit"), audit);
  EXPECT_EQ(hub_->Admin({"status"}).exit_code, 0);
  std::filesystem::rename(mark + ".aside", mark);

  {
    // Both stores, read through the same interface.
    auto sqlite = hub::SqliteHubStore::Open(HubDb());
    ASSERT_TRUE(sqlite.ok()) << sqlite.status();
    auto pg = hub::PostgresHubStore::Open(db_.uri(), hub::PostgresHubStore::Expect::kCurrent);
    ASSERT_TRUE(pg.ok()) << pg.status();
    hub::HubEngine& a = **sqlite;
    hub::HubEngine& b = **pg;
    EXPECT_EQ(a.hub_id(), b.hub_id());
    EXPECT_EQ(*a.LogHead(), *b.LogHead());
    auto pa = a.Provinces();
    auto pb = b.Provinces();
    ASSERT_TRUE(pa.ok() && pb.ok());
    ASSERT_EQ(pa->size(), pb->size());
    hub::HubDigestKeys keys;
    for (size_t i = 0; i < pa->size(); ++i) {
      EXPECT_EQ((*pa)[i].code, (*pb)[i].code);
      EXPECT_EQ((*pa)[i].name, (*pb)[i].name);
      EXPECT_EQ((*pa)[i].created_at_millis, (*pb)[i].created_at_millis);
      keys.provinces.push_back((*pa)[i].code);
      auto oa = a.storage().OfficeRecordsOf((*pa)[i].code);
      auto ob = b.storage().OfficeRecordsOf((*pa)[i].code);
      ASSERT_TRUE(oa.ok() && ob.ok());
      EXPECT_EQ(oa->membership, ob->membership);
      EXPECT_EQ(oa->revoked, ob->revoked);
    }
    auto na = a.Nodes();
    auto nb = b.Nodes();
    ASSERT_TRUE(na.ok() && nb.ok());
    ASSERT_EQ(na->size(), nb->size());
    for (size_t i = 0; i < na->size(); ++i) {
      const hub::NodeInfo& x = (*na)[i];
      const hub::NodeInfo& y = (*nb)[i];
      SCOPED_TRACE(x.name);
      EXPECT_EQ(x.device, y.device);
      EXPECT_EQ(x.name, y.name);
      EXPECT_EQ(x.province, y.province);
      EXPECT_EQ(x.enrolled_at_millis, y.enrolled_at_millis);
      EXPECT_EQ(x.last_seen_millis, y.last_seen_millis);
      EXPECT_EQ(x.cursor, y.cursor);
      EXPECT_EQ(x.delivered, y.delivered);
      EXPECT_EQ(x.pending, y.pending);
      EXPECT_EQ(x.acknowledged_seq, y.acknowledged_seq);
      EXPECT_EQ(x.set_aside, y.set_aside);
      EXPECT_EQ(x.protocol_version, y.protocol_version);
      EXPECT_EQ(x.clock_skew_millis, y.clock_skew_millis);
      EXPECT_EQ(x.revoked, y.revoked);
      EXPECT_EQ(x.revoked_at_millis, y.revoked_at_millis);
      EXPECT_EQ(x.revoked_position, y.revoked_position);
      EXPECT_EQ(x.keys.sign_pk, y.keys.sign_pk);
      EXPECT_EQ(x.keys.box_pk, y.keys.box_pk);
      EXPECT_EQ(x.removed_by_office_at_millis, y.removed_by_office_at_millis);
    }
    // The audit trail goes on: hub.db's entries, then the move's.
    auto ta = a.AuditTrail();
    auto tb = b.AuditTrail();
    ASSERT_TRUE(ta.ok() && tb.ok());
    ASSERT_EQ(tb->entries.size(), ta->entries.size() + 1);
    for (size_t i = 0; i < ta->entries.size(); ++i) {
      EXPECT_EQ(ta->entries[i].entry_hash, tb->entries[i].entry_hash);
      EXPECT_EQ(ta->entries[i].detail, tb->entries[i].detail);
    }
    EXPECT_EQ(tb->entries.back().action, "hub.migrate");
    EXPECT_EQ(tb->entries.back().actor, "Trần Văn Quản");
    EXPECT_EQ(tb->entries.back().prev_hash, ta->head_hash);
    EXPECT_TRUE(hub::VerifyHubAudit(*tb).empty());

    // Every read of the hub's storage, for every row and province.
    for (const TableDef& t : a.storage().schema().tables()) {
      auto ids = (*sqlite)->replica().ListRows(std::string(t.name), true);
      ASSERT_TRUE(ids.ok()) << ids.status();
      for (const RowId& id : *ids) keys.rows.emplace_back(std::string(t.name), id);
    }
    std::vector<hub::HubDigestPart> da, db;
    ASSERT_TRUE(a.storage().Read([&](hub::HubReadTxn& h) -> absl::Status {
      FS_ASSIGN_OR_RETURN(da, hub::DigestHub(h, keys));
      return absl::OkStatus();
    }).ok());
    ASSERT_TRUE(b.storage().Read([&](hub::HubReadTxn& h) -> absl::Status {
      FS_ASSIGN_OR_RETURN(db, hub::DigestHub(h, keys));
      return absl::OkStatus();
    }).ok());
    EXPECT_EQ(hub::DifferingParts(da, db), "");

    // Nothing left behind: each table of hub.db that holds rows has its
    // counterpart filled.
    auto raw = sqlite::Db::Open(HubDb(), "");
    ASSERT_TRUE(raw.ok()) << raw.status();
    auto tables = (*raw)->Prepared(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name");
    ASSERT_TRUE(tables.ok()) << tables.status();
    std::vector<std::string> names;
    while (*(*tables)->Step()) names.push_back((*tables)->ColumnString(0));
    int filled = 0;
    for (const std::string& name : names) {
      auto count = (*raw)->Prepared(absl::StrCat("SELECT count(*) FROM \"", name, "\""));
      ASSERT_TRUE(count.ok()) << count.status();
      ASSERT_TRUE(*(*count)->Step());
      if ((*count)->ColumnInt(0) == 0) continue;
      ++filled;
      const std::string counterpart = CounterpartCount(name, a.storage().schema());
      EXPECT_NE(counterpart, "") << "hub.db's " << name << " holds rows nothing moved";
      if (!counterpart.empty()) {
        EXPECT_GT(PgCount(counterpart), 0) << "hub.db's " << name << " left behind";
      }
    }
    EXPECT_GE(filled, 20) << "the hub moved holds too little to prove anything";
    for (const char* must : {"hub_conflicts", "hub_purged", "hub_grants", "hub_keys",
                             "hub_statements", "hub_chain", "hub_referral_status"}) {
      EXPECT_GT(PgCount(absl::StrCat("SELECT count(*) FROM ", must)), 0) << must;
    }
    EXPECT_EQ(PgCount("SELECT epoch FROM hub_gc"), 1);
  }

  // Served from PostgreSQL: the same laptops sync on with their credentials.
  ::setenv("FIELDSYNC_HUB_STORE", db_.uri().c_str(), 1);
  ASSERT_TRUE(hub_->Start().ok());
  const RowId after = NewCase(lc1.replica(), "LC", "Hoàng Thị Lan");
  MustSync(lc1);
  MustSync(lc2);
  MustSync(hn);
  EXPECT_TRUE(Holds(lc2, "cases", after));
  EXPECT_EQ(Cases(lc1), Cases(lc2));
  EXPECT_EQ(PgCount("SELECT count(*) FROM hub_log"), PgCount("SELECT position FROM hub_log_head"));
  EXPECT_EQ(PgCount("SELECT count(*) FROM hub_log_hash"),
            PgCount("SELECT position FROM hub_log_head"));
  auto refused = stolen.Sync();
  ASSERT_FALSE(refused.ok()) << "the revoked laptop synced with the moved hub";
  EXPECT_NE(std::string(refused.status().message()).find("revoked"), std::string::npos)
      << refused.status();
  // A laptop enrolled after the move gets every case of its office.
  auto& lc3 = AddNode("LC");
  MustSync(lc3);
  EXPECT_EQ(Cases(lc3), Cases(lc1));
}

// Attack review 22, MED 5: serve re-reads the schema version at each health
// tick; once another fieldhub changed it, the process says NOT_SERVING and
// stores nothing (a push is UNAVAILABLE, nothing acknowledged).
TEST_F(PgHubMigrateTest, AServeWhoseSchemaIsChangedUnderItStoresNoPush) {
  // A hub served from PostgreSQL from the start: made with init --store.
  hub_->Stop();
  ::setenv("FIELDSYNC_HUB_STORE", db_.uri().c_str(), 1);
  harness::CommandResult init = hub_->Admin({"init"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  ASSERT_TRUE(hub_->AddProvince("LC", "Lào Cai").ok());
  ASSERT_TRUE(hub_->Start().ok());
  auto& lc = AddNode("LC");
  NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc);
  const int64_t head = PgCount("SELECT position FROM hub_log_head");
  const int64_t held = PgCount("SELECT coalesce(max(held_seq), 0) FROM hub_authors");
  ASSERT_GT(head, 0);

  // A newer fieldhub's migration, as it would leave the database.
  ASSERT_EQ(PgCount(absl::StrCat("WITH v AS (INSERT INTO schema_version(version, applied_at) "
                                 "VALUES (", hub::pg::kPgSchemaVersion + 1,
                                 ", 0) RETURNING 1) SELECT count(*) FROM v")),
            1);
  bool said = false;
  for (int i = 0; i < 100 && !said; ++i) {
    std::ifstream log(hub_->log_path());
    std::stringstream s;
    s << log.rdbuf();
    said = s.str().find("schema is now version") != std::string::npos &&
           s.str().find("NOT_SERVING") != std::string::npos;
    if (!said) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(said) << "serve did not say that its schema changed (health: NOT_SERVING)";

  NewCase(lc.replica(), "LC", "Lò Thị Mai");
  auto pushed = lc.Sync();
  EXPECT_FALSE(pushed.ok() && pushed->push_refused.ok())
      << "the push was taken by a hub process whose schema changed";
  EXPECT_EQ(PgCount("SELECT position FROM hub_log_head"), head);
  EXPECT_EQ(PgCount("SELECT coalesce(max(held_seq), 0) FROM hub_authors"), held);
}

}  // namespace
}  // namespace fieldsync::testing
