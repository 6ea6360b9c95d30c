// Plain SQLite, the baseline of the benchmarks: a `cases` table with the
// replica's layout and PRAGMAs but no change tracking, its prepared
// statements, and read-only looks at a database file (page size, where its
// bytes go).
#ifndef FIELDSYNC_TOOLS_BENCH_COMMON_RAW_SQLITE_H_
#define FIELDSYNC_TOOLS_BENCH_COMMON_RAW_SQLITE_H_

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/value.h"

namespace fieldsync::bench {

class RawStmt {
 public:
  RawStmt(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
  ~RawStmt() { sqlite3_finalize(st_); }
  RawStmt(const RawStmt&) = delete;
  RawStmt& operator=(const RawStmt&) = delete;

  // The value is bound without a copy: it must outlive the next Run().
  void Bind(int i, const Value& v);
  void BindBlob(int i, std::string_view b);
  absl::Status Run();
  absl::StatusOr<int64_t> QueryInt();

 private:
  sqlite3* db_;
  sqlite3_stmt* st_;
};

class RawDb {
 public:
  // A fresh file with the PRAGMAs the replica uses (store/replica.cc):
  // WAL, synchronous FULL or NORMAL, the same page cache, and a `cases`
  // table with the same key layout and columns, minus the tracking columns.
  // `page_size` is the replica's, so that a change of page size in
  // sync-core is matched here.
  static absl::StatusOr<std::unique_ptr<RawDb>> Create(const std::string& path, bool sync_full,
                                                       int page_size);
  ~RawDb();

  absl::Status Exec(const std::string& sql);
  // Owned by this RawDb.
  absl::StatusOr<RawStmt*> Prepare(const std::string& sql);
  absl::StatusOr<int64_t> CountCases();

 private:
  explicit RawDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::vector<std::unique_ptr<RawStmt>> stmts_;
};

// "INSERT INTO cases(id, a, b) VALUES (?1, ?2, ?3)" for the first `n` of
// `cols`, with an upsert clause setting every given column if `upsert`.
std::string InsertSql(const char* const* cols, size_t n, bool upsert);

// The page size of a database file (read-only connection), 4096 if unknown.
int PageSize(const std::string& path);

// Where the bytes of a database go (read-only connection): "1,234 B/case;
// cases 98 MB (23,456 overflow pages); _fs_log ...". Overflow pages are row
// payload that did not fit the b-tree page: each costs a page read and
// write of its own.
std::string StorageNote(const std::string& path, int64_t cases);

}  // namespace fieldsync::bench

#endif  // FIELDSYNC_TOOLS_BENCH_COMMON_RAW_SQLITE_H_
