// store/'s one transaction type (sqlite::Transaction): a COMMIT that fails
// surfaces as an error and leaves no transaction open on the connection, and
// the store's callers that begin transactions (schema creation/migration)
// inherit that.
//
// COMMIT fails for real here: the file is in rollback-journal mode and a
// second connection holds a read lock, so COMMIT cannot take the exclusive
// lock and SQLite answers SQLITE_BUSY -- and keeps the transaction open.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "schema/schema.h"
#include "store/migrations.h"
#include "store/sqlite.h"
#include "support/temp_dir.h"

namespace fieldsync {
namespace {

using sqlite::Transaction;

// A second connection that holds a SHARED lock on `path` while it lives.
class Reader {
 public:
  explicit Reader(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_prepare_v2(db_, "SELECT count(*) FROM sqlite_master", -1, &st_, nullptr),
              SQLITE_OK);
    EXPECT_EQ(sqlite3_step(st_), SQLITE_ROW);
  }
  ~Reader() {
    sqlite3_finalize(st_);
    sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
};

std::unique_ptr<sqlite::Db> OpenJournal(const std::string& path) {
  auto db = sqlite::Db::Open(path, "");
  EXPECT_TRUE(db.ok()) << db.status();
  EXPECT_TRUE((*db)->Exec("PRAGMA journal_mode = DELETE").ok());
  EXPECT_TRUE((*db)->Exec("PRAGMA busy_timeout = 0").ok());
  return std::move(*db);
}

bool InTransaction(sqlite::Db& db) { return sqlite3_get_autocommit(db.raw()) == 0; }

int64_t Count(sqlite::Db& db, const std::string& table) {
  auto st = db.Prepared("SELECT count(*) FROM " + table);
  EXPECT_TRUE(st.ok());
  auto r = (*st)->Step();
  EXPECT_TRUE(r.ok() && *r);
  return (*st)->ColumnInt(0);
}

TEST(SqliteTransactionTest, CommitThatFailsBusyIsAnErrorAndRollsBack) {
  testing::TempDir dir;
  const std::string path = dir.File("t.sqlite");
  auto db = OpenJournal(path);
  ASSERT_TRUE(db->Exec("CREATE TABLE t(x)").ok());
  {
    Reader reader(path);
    auto txn = Transaction::Begin(*db, Transaction::Mode::kWrite);
    ASSERT_TRUE(txn.ok()) << txn.status();
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (1)").ok());
    const absl::Status s = txn->Commit();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_FALSE(txn->open());
    EXPECT_FALSE(InTransaction(*db)) << "a failed COMMIT left the transaction open";
  }
  // The write was not kept, and the connection can begin again.
  EXPECT_EQ(Count(*db, "t"), 0);
  EXPECT_TRUE(sqlite::InTransaction(*db, Transaction::Mode::kWrite, [&](Transaction&) {
                return db->Exec("INSERT INTO t VALUES (2)");
              }).ok());
  EXPECT_EQ(Count(*db, "t"), 1);
}

TEST(SqliteTransactionTest, DroppedWithoutCommitRollsBack) {
  testing::TempDir dir;
  auto db = OpenJournal(dir.File("t.sqlite"));
  ASSERT_TRUE(db->Exec("CREATE TABLE t(x)").ok());
  {
    auto txn = Transaction::Begin(*db, Transaction::Mode::kWrite);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (1)").ok());
    EXPECT_TRUE(InTransaction(*db));
  }
  EXPECT_FALSE(InTransaction(*db));
  EXPECT_EQ(Count(*db, "t"), 0);
  const absl::Status s = sqlite::InTransaction(*db, Transaction::Mode::kWrite, [&](Transaction&) {
    EXPECT_TRUE(db->Exec("INSERT INTO t VALUES (1)").ok());
    return absl::InternalError("body failed");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_FALSE(InTransaction(*db));
  EXPECT_EQ(Count(*db, "t"), 0);
}

// EnsureSchema used to return COMMIT's error with the transaction still
// open: the connection was then stuck ("cannot start a transaction within a
// transaction") and the half-made schema stayed visible to it.
TEST(SqliteTransactionTest, SchemaCreationWhoseCommitFailsLeavesNoTransactionOpen) {
  testing::TempDir dir;
  const std::string path = dir.File("r.sqlite");
  auto db = OpenJournal(path);
  {
    Reader reader(path);
    int from = -1;
    const absl::Status s = EnsureSchema(*db, FieldOfficeSchema(), &from);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_FALSE(InTransaction(*db)) << "EnsureSchema left its transaction open";
  }
  EXPECT_EQ(Count(*db, "sqlite_master"), 0) << "the failed schema creation was kept";
  int from = -1;
  EXPECT_TRUE(EnsureSchema(*db, FieldOfficeSchema(), &from).ok());
  EXPECT_EQ(from, 0);
}

}  // namespace
}  // namespace fieldsync
