// The SQL of the hub's log chain (hub_log_hash in docs/FORMATS.md, "Hub
// file"; the rule in hub/log_chain.h), for the views of sqlite_views.cc.
#ifndef FIELDSYNC_HUB_SQLITE_LOG_CHAIN_H_
#define FIELDSYNC_HUB_SQLITE_LOG_CHAIN_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "hub/storage.h"
#include "store/sqlite.h"

namespace fieldsync::hub::sqlite_log_chain {

// Schema version 6: the hash of every log position, written with it.
inline constexpr const char* kTableSql =
    "CREATE TABLE IF NOT EXISTS hub_log_hash(position INTEGER PRIMARY KEY, hash BLOB NOT NULL)";

absl::StatusOr<std::optional<std::string>> At(sqlite::Db& db, int64_t position);
// The highest position hashed, and its hash; position 0 and no hash if none.
absl::StatusOr<LogPoint> Head(sqlite::Db& db);
absl::Status Put(sqlite::Db& db, int64_t position, const std::string& hash);
// The highest key record seq this file ever gave (hub_keys is AUTOINCREMENT).
absl::StatusOr<int64_t> KeyHead(sqlite::Db& db);

}  // namespace fieldsync::hub::sqlite_log_chain

#endif  // FIELDSYNC_HUB_SQLITE_LOG_CHAIN_H_
