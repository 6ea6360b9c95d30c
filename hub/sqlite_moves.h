// The SQL of the rows moved to another province (hub_moves in
// docs/FORMATS.md, "Hub file"; the rule in hub/scope.h: a person whose
// office changed is installed whole at that office's next pull), for the
// views of sqlite_views.cc.
#ifndef FIELDSYNC_HUB_SQLITE_MOVES_H_
#define FIELDSYNC_HUB_SQLITE_MOVES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "store/sqlite.h"

namespace fieldsync::hub::sqlite_moves {

// Made on open (session 24), no version change: a file of an older build
// has no moves recorded, as before.
inline constexpr const char* kTableSql =
    "CREATE TABLE IF NOT EXISTS hub_moves(province TEXT NOT NULL, tbl TEXT NOT NULL, row BLOB "
    "NOT NULL, position INTEGER NOT NULL, PRIMARY KEY(province, tbl, row)) WITHOUT ROWID";
inline constexpr const char* kIndexSql =
    "CREATE INDEX IF NOT EXISTS hub_moves_by_position ON hub_moves(province, position)";

// The row moved to `province` at `position` (the latest move kept).
absl::Status Add(sqlite::Db& db, const std::string& table, const RowId& row,
                 const std::string& province, int64_t position);
// Rows moved to `province` at positions in (after, upto], by position.
absl::StatusOr<std::vector<std::pair<std::string, RowId>>> Between(sqlite::Db& db,
                                                                   const std::string& province,
                                                                   int64_t after, int64_t upto);

// The (tbl, row) of every row `st` gives in its columns 0 and 1.
absl::StatusOr<std::vector<std::pair<std::string, RowId>>> TableRows(sqlite::Stmt& st);

}  // namespace fieldsync::hub::sqlite_moves

#endif  // FIELDSYNC_HUB_SQLITE_MOVES_H_
