// A thin RAII layer over the SQLite C API, private to store/. Errors become
// absl::Status values whose codes follow the retry policy of DESIGN.md.
#ifndef FIELDSYNC_STORE_SQLITE_H_
#define FIELDSYNC_STORE_SQLITE_H_

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/value.h"

namespace fieldsync::sqlite {

// Maps a SQLite result code to a Status saying what happened and what to do.
absl::Status ErrorStatus(sqlite3* db, int rc, std::string_view doing);

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Clears bindings and resets for reuse. Called by Db::Prepared().
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void BindText(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // Without copying: `v` must outlive the next Step().
  void BindBlobStatic(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void BindNull(int i) { sqlite3_bind_null(stmt_, i); }
  void BindValue(int i, const Value& v);
  // Without copying text or bytes: `v` must outlive the next Step().
  void BindValueStatic(int i, const Value& v);

  // True if a row is ready, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion, expecting no rows.
  absl::Status Run();

  int64_t ColumnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  bool ColumnIsNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::string_view ColumnBlob(int i) const;
  std::string ColumnString(int i) const { return std::string(ColumnBlob(i)); }
  Value ColumnValue(int i) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// Resets its statement when it goes out of scope, so no statement is left
// mid-step holding a read snapshot (which would block COMMIT and checkpoints).
class ScopedStmt {
 public:
  explicit ScopedStmt(Stmt* s) : s_(s) {}
  ~ScopedStmt() {
    if (s_ != nullptr) s_->Reset();
  }
  ScopedStmt(ScopedStmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  ScopedStmt& operator=(ScopedStmt&&) = delete;
  ScopedStmt(const ScopedStmt&) = delete;
  Stmt* operator->() const { return s_; }
  Stmt* get() const { return s_; }

 private:
  Stmt* s_;
};

class Db {
 public:
  // Opens (creating if absent) the database at `path` through `vfs` (empty:
  // the default VFS).
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path, const std::string& vfs);
  ~Db();

  absl::Status Exec(std::string_view sql);
  // A cached prepared statement, reset and ready to bind, reset again when
  // the returned guard dies. Do not hold two uses of one statement at once.
  absl::StatusOr<ScopedStmt> Prepared(const std::string& sql);
  // The same statement without the guard, for statements a caller keeps
  // (valid until the Db is destroyed); the caller resets it after use.
  absl::StatusOr<Stmt*> Statement(const std::string& sql);
  // A statement that is not cached: finalized when the caller drops it.
  absl::StatusOr<std::unique_ptr<Stmt>> PrepareTransient(const std::string& sql);
  // Runs those of `creates` ("CREATE TABLE|INDEX IF NOT EXISTS name ...")
  // whose table or index is not in the file: one read of sqlite_master
  // where running them all parsed each one again at every open (a file of
  // the current version has them all). A statement whose name cannot be
  // read is run as it is.
  absl::Status CreateMissing(const std::vector<const char*>& creates);
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  absl::flat_hash_map<std::string, std::unique_ptr<Stmt>> cache_;
};

// One SQLite transaction: the only way store/ begins and ends one.
// Functions that write inside a caller's transaction take a Transaction& in
// their signature, so a write outside one does not compile.
//
// Rolled back when it goes out of scope unless Commit() succeeded. Commit()
// returns COMMIT's status; when COMMIT fails (SQLITE_BUSY on a rollback-
// journal file, a disk error at sync) SQLite may keep the transaction open,
// so Commit() then rolls it back: the connection is never left inside a
// transaction nobody owns, and the caller always sees the error.
class Transaction {
 public:
  enum class Mode {
    kRead,   // BEGIN (deferred): a consistent snapshot for reads
    kWrite,  // BEGIN IMMEDIATE: takes the write lock now
  };
  static absl::StatusOr<Transaction> Begin(Db& db, Mode mode);

  Transaction(Transaction&& o) noexcept : db_(o.db_), open_(o.open_) { o.open_ = false; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() { Rollback(); }

  // COMMIT. On error the transaction is rolled back and the error returned.
  absl::Status Commit();
  // ROLLBACK, if still open. After an I/O error SQLite may already have
  // rolled back; that is fine.
  void Rollback();
  bool open() const { return open_; }
  Db& db() const { return *db_; }

 private:
  Transaction(Db* db) : db_(db), open_(true) {}
  Db* db_;
  bool open_;
};

// Begin → body(txn) → Commit, or rollback if the body fails.
template <typename F>
absl::Status InTransaction(Db& db, Transaction::Mode mode, F&& body) {
  absl::StatusOr<Transaction> txn = Transaction::Begin(db, mode);
  if (!txn.ok()) return txn.status();
  absl::Status s = body(*txn);
  if (!s.ok()) return s;  // ~Transaction rolls back
  return txn->Commit();
}

}  // namespace fieldsync::sqlite

#endif  // FIELDSYNC_STORE_SQLITE_H_
