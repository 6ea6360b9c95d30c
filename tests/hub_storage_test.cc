// The hub's SQLite storage (hub/sqlite_storage.h) on real files: its writes
// take the one transaction type (a COMMIT that fails is rolled back, the
// writer keeps working), and hub.db's numbered migrations bring every older
// file to the current schema version.
#include "hub/sqlite_storage.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/raw_db.h"
#include "support/replica_fixture.h"
#include "support/temp_dir.h"

namespace fieldsync::hub {
namespace {

using fieldsync::testing::kTestEpochMillis;
using fieldsync::testing::RawDb;

int64_t Count(sqlite::Db& db, const std::string& sql) {
  auto st = db.Prepared(sql);
  EXPECT_TRUE(st.ok()) << st.status();
  if (!st.ok()) return -1;
  auto r = (*st)->Step();
  EXPECT_TRUE(r.ok() && *r) << sql;
  return (*st)->ColumnInt(0);
}

// COMMIT fails for real: a deferred foreign key is checked at COMMIT, which
// then answers SQLITE_CONSTRAINT and leaves the transaction open. The hub's
// writer must not stay inside it (every later write would then fail with
// "cannot start a transaction within a transaction").
TEST(HubStorageTransactionTest, ACommitThatFailsIsRolledBackAndTheWriterKeepsWriting) {
  fieldsync::testing::TempDir dir;
  FakeClock clock(kTestEpochMillis);
  auto storage = SqliteHubStorage::Open(dir.File("hub.db"), &clock);
  ASSERT_TRUE(storage.ok()) << storage.status();
  sqlite::Db& db = RawDb((*storage)->replica());
  ASSERT_TRUE(db.Exec("PRAGMA foreign_keys = ON").ok());
  ASSERT_TRUE(db.Exec("CREATE TEMP TABLE parent(id INTEGER PRIMARY KEY)").ok());
  ASSERT_TRUE(db.Exec("CREATE TEMP TABLE child(p INTEGER REFERENCES parent(id) DEFERRABLE "
                      "INITIALLY DEFERRED)")
                  .ok());
  auto write = [&](const std::string& sql) {
    return (*storage)->Write(
        [&](HubWriteTxn& w) { return w.Atomically([&] { return db.Exec(sql); }); });
  };

  absl::Status s = write("INSERT INTO child(p) VALUES (7)");  // no parent 7: COMMIT fails
  EXPECT_FALSE(s.ok());
  EXPECT_NE(sqlite3_get_autocommit(db.raw()), 0)
      << "the failed COMMIT left the writer's transaction open";
  EXPECT_EQ(Count(db, "SELECT count(*) FROM child"), 0) << "the failed write was kept";

  s = write("INSERT INTO parent(id) VALUES (7); INSERT INTO child(p) VALUES (7)");
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Count(db, "SELECT count(*) FROM child"), 1);
}

// A hub made before the sync issue: version 1 (no version recorded) and no
// hub_nodes.delivered. The numbered migrations (to version 2: the column
// and the referral status versions; to 3: hub_chain; to 4: hub_statements) bring it to the
// current version; the nodes are kept and readable.
TEST(HubMigrationStepsTest, AVersion1HubWithoutTheDeliveredColumnReachesTheCurrentVersion) {
  const char* fixtures = std::getenv("FIELDSYNC_FIXTURES");
  ASSERT_NE(fixtures, nullptr);
  fieldsync::testing::TempDir dir;
  const std::string path = dir.File("hub.db");
  std::filesystem::copy_file(std::string(fixtures) + "/hub-v1/hub.db", path);
  {
    auto raw = sqlite::Db::Open(path, "");
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE((*raw)->Exec("ALTER TABLE hub_nodes DROP COLUMN delivered").ok());
    ASSERT_EQ(Count(**raw, "SELECT count(*) FROM pragma_table_info('hub_nodes') WHERE name = "
                           "'delivered'"),
              0);
  }
  FakeClock clock(kTestEpochMillis);
  auto storage = SqliteHubStorage::Open(path, &clock);
  ASSERT_TRUE(storage.ok()) << storage.status();
  sqlite::Db& db = RawDb((*storage)->replica());
  EXPECT_EQ(Count(db, "SELECT value FROM hub_meta WHERE key = 'schema_version'"), 8);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'hub_chain'"), 1);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'hub_statements'"), 1);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'hub_checkpoints'"), 1);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM pragma_table_info('hub_nodes') WHERE name = "
                      "'delivered'"),
            1);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM hub_referral_status WHERE status = 'sent'"), 1);
  auto nodes = (*storage)->Nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  EXPECT_EQ(nodes->size(), 2u);
}

// A file at the current version is opened without any change to its schema
// (no ad-hoc statement runs outside the numbered migrations).
TEST(HubMigrationStepsTest, ACurrentHubOpensWithItsSchemaUnchanged) {
  fieldsync::testing::TempDir dir;
  const std::string path = dir.File("hub.db");
  FakeClock clock(kTestEpochMillis);
  { ASSERT_TRUE(SqliteHubStorage::Open(path, &clock).ok()); }
  auto schema = [&] {
    auto raw = sqlite::Db::Open(path, "");
    EXPECT_TRUE(raw.ok());
    return Count(**raw, "PRAGMA schema_version");
  };
  const int64_t before = schema();
  { ASSERT_TRUE(SqliteHubStorage::Open(path, &clock).ok()); }
  EXPECT_EQ(schema(), before);
}

}  // namespace
}  // namespace fieldsync::hub
