#include "tools/bench/common/raw_sqlite.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "schema/schema.h"
#include "tools/bench/common/report.h"

namespace fieldsync::bench {
namespace {

absl::Status SqliteError(sqlite3* db, std::string_view doing) {
  return absl::InternalError(absl::StrCat(AV(doing), ": ", sqlite3_errmsg(db)));
}

}  // namespace

void RawStmt::Bind(int i, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      sqlite3_bind_null(st_, i);
      break;
    case Value::Kind::kInt:
      sqlite3_bind_int64(st_, i, v.int_value());
      break;
    case Value::Kind::kText:
      sqlite3_bind_text(st_, i, v.str().data(), static_cast<int>(v.str().size()), SQLITE_STATIC);
      break;
    case Value::Kind::kBytes:
      sqlite3_bind_blob(st_, i, v.str().data(), static_cast<int>(v.str().size()), SQLITE_STATIC);
      break;
  }
}

void RawStmt::BindBlob(int i, std::string_view b) {
  sqlite3_bind_blob(st_, i, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
}

absl::Status RawStmt::Run() {
  const int rc = sqlite3_step(st_);
  sqlite3_reset(st_);
  if (rc != SQLITE_DONE) return SqliteError(db_, "step");
  return absl::OkStatus();
}

absl::StatusOr<int64_t> RawStmt::QueryInt() {
  const int rc = sqlite3_step(st_);
  const int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st_, 0) : 0;
  sqlite3_reset(st_);
  if (rc != SQLITE_ROW) return SqliteError(db_, "query");
  return v;
}

absl::StatusOr<std::unique_ptr<RawDb>> RawDb::Create(const std::string& path, bool sync_full,
                                                     int page_size) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<RawDb> out(new RawDb(db));
  if (rc != SQLITE_OK) return SqliteError(db, absl::StrCat("open ", path));
  FS_RETURN_IF_ERROR(out->Exec(absl::StrCat("PRAGMA page_size = ", page_size)));
  FS_RETURN_IF_ERROR(out->Exec(absl::StrCat("PRAGMA busy_timeout = ", tuning::kBusyTimeoutMillis)));
  FS_RETURN_IF_ERROR(out->Exec("PRAGMA journal_mode = WAL"));
  FS_RETURN_IF_ERROR(
      out->Exec(sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL"));
  FS_RETURN_IF_ERROR(out->Exec(absl::StrCat("PRAGMA cache_size = -", tuning::kCacheSizeKiB)));
  const TableDef& t = *FieldOfficeSchema().FindTable("cases");
  // The replica's layout (store/migrations.cc, CreateTableSql) without its
  // two tracking columns: a rowid table with a unique 16-byte id.
  std::string sql = "CREATE TABLE cases(id BLOB NOT NULL UNIQUE";
  for (const ColumnDef& c : t.columns) absl::StrAppend(&sql, ", \"", AV(c.name), "\"");
  absl::StrAppend(&sql, ")");
  FS_RETURN_IF_ERROR(out->Exec(sql));
  return out;
}

RawDb::~RawDb() {
  stmts_.clear();
  sqlite3_close_v2(db_);
}

absl::Status RawDb::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    absl::Status s = absl::InternalError(absl::StrCat(sql, ": ", err ? err : "?"));
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<RawStmt*> RawDb::Prepare(const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) !=
      SQLITE_OK) {
    return SqliteError(db_, absl::StrCat("prepare ", sql));
  }
  stmts_.push_back(std::make_unique<RawStmt>(db_, st));
  return stmts_.back().get();
}

absl::StatusOr<int64_t> RawDb::CountCases() {
  FS_ASSIGN_OR_RETURN(RawStmt * st, Prepare("SELECT count(*) FROM cases"));
  return st->QueryInt();
}

std::string InsertSql(const char* const* cols, size_t n, bool upsert) {
  std::string names, params, updates;
  for (size_t k = 0; k < n; ++k) {
    absl::StrAppend(&names, ", \"", cols[k], "\"");
    absl::StrAppend(&params, ", ?", k + 2);
    absl::StrAppend(&updates, k ? ", " : "", "\"", cols[k], "\" = excluded.\"", cols[k], "\"");
  }
  std::string sql = absl::StrCat("INSERT INTO cases(id", names, ") VALUES (?1", params, ")");
  if (upsert) absl::StrAppend(&sql, " ON CONFLICT(id) DO UPDATE SET ", updates);
  return sql;
}

int PageSize(const std::string& path) {
  sqlite3* db = nullptr;
  int size = 4096;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      size = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close_v2(db);
  return size;
}

std::string StorageNote(const std::string& path, int64_t cases) {
  sqlite3* db = nullptr;
  std::string note;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    const char* sql =
        "SELECT name, sum(pgsize), sum(pagetype = 'overflow') FROM dbstat "
        "GROUP BY name ORDER BY 2 DESC LIMIT 3";
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK) {
      double total = 0;
      std::string parts;
      while (sqlite3_step(st) == SQLITE_ROW) {
        const double bytes = static_cast<double>(sqlite3_column_int64(st, 1));
        total += bytes;
        char buf[160];
        std::snprintf(buf, sizeof(buf), "; %s %.0f MB (%s overflow pages)",
                      reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), bytes / 1e6,
                      Rate(static_cast<double>(sqlite3_column_int64(st, 2))).c_str());
        parts += buf;
      }
      note = absl::StrCat(Rate(total / static_cast<double>(cases)), " B/case", parts);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close_v2(db);
  return note.empty() ? "size unknown" : note;
}

}  // namespace fieldsync::bench
