// The SQL of which log entries a pull reads (hub_log_scope and
// hub_log_subject in docs/FORMATS.md, "Hub file"; the rule in hub/scope.h),
// for the views of sqlite_views.cc.
#ifndef FIELDSYNC_HUB_SQLITE_LOG_SCOPE_H_
#define FIELDSYNC_HUB_SQLITE_LOG_SCOPE_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "store/sqlite.h"

namespace fieldsync::hub::sqlite_log_scope {

// Schema version 7: the cases and persons each log entry touched, by id.
inline constexpr const char* kSubjectTableSql =
    "CREATE TABLE IF NOT EXISTS hub_log_subject(subject BLOB NOT NULL, position INTEGER NOT "
    "NULL, PRIMARY KEY(subject, position)) WITHOUT ROWID";

// Up to `limit` positions in (after, upto] under one of `keys`, in order.
absl::StatusOr<std::vector<int64_t>> PositionsUnder(sqlite::Db& db,
                                                    const std::vector<std::string>& keys,
                                                    int64_t after, int64_t upto, size_t limit);
absl::Status Add(sqlite::Db& db, const std::set<std::string>& keys, int64_t position);
absl::Status AddSubjects(sqlite::Db& db, const std::set<RowId>& subjects, int64_t position);
// Every position of `subjects` under each of `provinces` too.
absl::Status KeySubjects(sqlite::Db& db, const std::set<RowId>& subjects,
                         const std::set<std::string>& provinces);
// hub_meta `log_scope_from` (0 if absent).
absl::StatusOr<int64_t> From(sqlite::Db& db);
// Sets it, unless the file has one: to `head` for a file made before
// version 7 (its entries were kept by the older rule), else 0.
absl::Status SetFromOnce(sqlite::Db& db, int64_t head);

}  // namespace fieldsync::hub::sqlite_log_scope

#endif  // FIELDSYNC_HUB_SQLITE_LOG_SCOPE_H_
