#include "store/sqlite.h"

#include <mutex>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/message.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "store/store_messages.h"

namespace fieldsync::sqlite {

absl::Status ErrorStatus(sqlite3* db, int rc, std::string_view doing) {
  const std::string detail =
      absl::StrCat(AV(doing), ": ", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), " (SQLite code ",
                   rc, ")");
  // Each kind keyed (store/store_messages.h): a front end says it in its
  // own words, never as a program error.
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return WithMessage(
          absl::UnavailableError(absl::StrCat(
              detail, "; another process holds the database -- retry, or stop the other "
                      "fieldsync process using this data directory")),
          kMsgStoreBusy);
    case SQLITE_FULL:
      return WithMessage(absl::ResourceExhaustedError(absl::StrCat(
                             detail, "; the disk is full: free space and retry (nothing was "
                                     "written)")),
                         kMsgStoreDiskFull);
    case SQLITE_IOERR:
      return WithMessage(absl::UnavailableError(absl::StrCat(
                             detail, "; a disk I/O error: retry once the disk is healthy")),
                         kMsgStoreIo);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return WithMessage(
          absl::DataLossError(absl::StrCat(
              detail, "; the database file is damaged or not a fieldsync database: restore it "
                      "from a backup or re-bootstrap this replica from the hub")),
          kMsgStoreDamaged);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return WithMessage(absl::FailedPreconditionError(absl::StrCat(
                             detail, "; check that the data directory exists and is writable")),
                         kMsgStoreReadOnly);
    case SQLITE_CONSTRAINT:
      return WithMessage(
          absl::AlreadyExistsError(absl::StrCat(
              detail, "; something this write adds is already there -- nothing was written; "
                      "look at the data again before retrying")),
          kMsgStoreExists);
    default:
      return absl::InternalError(detail);
  }
}

void Stmt::BindValue(int i, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      BindNull(i);
      break;
    case Value::Kind::kInt:
      BindInt(i, v.int_value());
      break;
    case Value::Kind::kText:
      BindText(i, v.str());
      break;
    case Value::Kind::kBytes:
      BindBlob(i, v.str());
      break;
  }
}

void Stmt::BindValueStatic(int i, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kText:
      sqlite3_bind_text(stmt_, i, v.str().data(), static_cast<int>(v.str().size()), SQLITE_STATIC);
      break;
    case Value::Kind::kBytes:
      BindBlobStatic(i, v.str());
      break;
    default:
      BindValue(i, v);
  }
}

absl::StatusOr<bool> Stmt::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ErrorStatus(db_, rc, absl::StrCat("running \"", sqlite3_sql(stmt_), "\""));
}

absl::Status Stmt::Run() {
  absl::StatusOr<bool> r = Step();
  if (!r.ok()) return r.status();
  return absl::OkStatus();
}

std::string_view Stmt::ColumnBlob(int i) const {
  const void* p = sqlite3_column_blob(stmt_, i);
  const int n = sqlite3_column_bytes(stmt_, i);
  if (p == nullptr) return {};
  return std::string_view(static_cast<const char*>(p), static_cast<size_t>(n));
}

Value Stmt::ColumnValue(int i) const {
  switch (sqlite3_column_type(stmt_, i)) {
    case SQLITE_INTEGER:
      return Value::Int(sqlite3_column_int64(stmt_, i));
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
      return Value::Text(std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))));
    }
    case SQLITE_BLOB:
      return Value::Bytes(ColumnString(i));
    default:
      return Value::Null();
  }
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path, const std::string& vfs) {
  // Each connection is used by one thread at a time (NOMUTEX below); the
  // process-wide memory statistics would still take a global mutex on every
  // allocation, which a hub serving many nodes on many threads feels. Only
  // possible before SQLite initialises; if something initialised it first,
  // the statistics simply stay on.
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 vfs.empty() ? nullptr : vfs.c_str());
  if (rc != SQLITE_OK) {
    absl::Status s = ErrorStatus(db, rc, absl::StrCat("opening ", path));
    sqlite3_close(db);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Db>(new Db(db, path));
}

Db::~Db() {
  cache_.clear();  // finalize statements before closing
  sqlite3_close(db_);
}

absl::Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) {
    return ErrorStatus(db_, rc, absl::StrCat("running \"", s.substr(0, 80), "\" on ", path_));
  }
  return absl::OkStatus();
}

namespace {

// The object a "CREATE ... IF NOT EXISTS name(" statement makes, or empty.
std::string_view CreatedName(std::string_view sql) {
  constexpr std::string_view kMarker = "IF NOT EXISTS ";
  const size_t at = sql.find(kMarker);
  if (at == std::string_view::npos) return {};
  sql.remove_prefix(at + kMarker.size());
  const size_t end = sql.find_first_of("( ");
  return end == std::string_view::npos ? std::string_view() : sql.substr(0, end);
}

}  // namespace

absl::Status Db::CreateMissing(const std::vector<const char*>& creates) {
  absl::flat_hash_set<std::string> present;
  {
    FS_ASSIGN_OR_RETURN(ScopedStmt st, Prepared("SELECT name FROM sqlite_master WHERE type IN "
                                                "('table', 'index')"));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      present.insert(st->ColumnString(0));
    }
  }
  for (const char* sql : creates) {
    const std::string_view name = CreatedName(sql);
    if (!name.empty() && present.contains(std::string(name))) continue;
    FS_RETURN_IF_ERROR(Exec(sql));
  }
  return absl::OkStatus();
}

absl::StatusOr<ScopedStmt> Db::Prepared(const std::string& sql) {
  absl::StatusOr<Stmt*> st = Statement(sql);
  if (!st.ok()) return st.status();
  return ScopedStmt(*st);
}

absl::StatusOr<std::unique_ptr<Stmt>> Db::PrepareTransient(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc =
      sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return ErrorStatus(db_, rc, absl::StrCat("preparing \"", sql, "\""));
  return std::make_unique<Stmt>(db_, stmt);
}

absl::StatusOr<Stmt*> Db::Statement(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return ErrorStatus(db_, rc, absl::StrCat("preparing \"", sql, "\""));
  }
  auto owned = std::make_unique<Stmt>(db_, stmt);
  Stmt* raw = owned.get();
  cache_.emplace(sql, std::move(owned));
  return raw;
}

absl::StatusOr<Transaction> Transaction::Begin(Db& db, Mode mode) {
  FS_ASSIGN_OR_RETURN(Stmt * begin,
                      db.Statement(mode == Mode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN"));
  begin->Reset();
  absl::Status s = begin->Run();
  begin->Reset();
  if (!s.ok()) return s;
  return Transaction(&db);
}

absl::Status Transaction::Commit() {
  if (!open_) return absl::FailedPreconditionError("COMMIT of a transaction that is not open");
  absl::StatusOr<Stmt*> commit = db_->Statement("COMMIT");
  absl::Status s = commit.status();
  if (s.ok()) {
    (*commit)->Reset();
    s = (*commit)->Run();
    (*commit)->Reset();
  }
  if (!s.ok()) {
    Rollback();
    return s;
  }
  open_ = false;
  return absl::OkStatus();
}

void Transaction::Rollback() {
  if (!open_) return;
  open_ = false;
  if (sqlite3_get_autocommit(db_->raw()) == 0) db_->Exec("ROLLBACK").IgnoreError();
}

}  // namespace fieldsync::sqlite
