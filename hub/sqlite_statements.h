// The SQL of the laptops' signed statements (protocol version 3;
// hub_statements in docs/FORMATS.md, "Hub file"), for the views of
// sqlite_views.cc; and the referral partners of an office.
#ifndef FIELDSYNC_HUB_SQLITE_STATEMENTS_H_
#define FIELDSYNC_HUB_SQLITE_STATEMENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hub/storage.h"
#include "store/sqlite.h"

namespace fieldsync::hub::sqlite_statements {

// hub_statements: the newest statement of each laptop; `seq` increases with
// every statement kept (the pull's statement cursor).
inline constexpr const char* kTableSql =
    "CREATE TABLE IF NOT EXISTS hub_statements(device BLOB PRIMARY KEY NOT NULL, "
    "province TEXT NOT NULL, created INTEGER NOT NULL, seq INTEGER NOT NULL UNIQUE, "
    "bytes BLOB NOT NULL) WITHOUT ROWID";

absl::StatusOr<std::vector<StoredStatement>> After(sqlite::Db& db, int64_t after,
                                                   const std::vector<std::string>& provinces,
                                                   size_t limit);
absl::StatusOr<bool> Put(sqlite::Db& db, const StoredStatement& s);
absl::StatusOr<std::vector<std::string>> Partners(sqlite::Db& db, const std::string& province);

}  // namespace fieldsync::hub::sqlite_statements

#endif  // FIELDSYNC_HUB_SQLITE_STATEMENTS_H_
