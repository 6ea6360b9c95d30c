// The SQL of the checkpoints the hub adopted (protocol version 3;
// hub_checkpoints and hub_checkpoint_rows in docs/FORMATS.md, "Hub file"),
// for the views of sqlite_views.cc.
#ifndef FIELDSYNC_HUB_SQLITE_CHECKPOINTS_H_
#define FIELDSYNC_HUB_SQLITE_CHECKPOINTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hub/storage.h"
#include "store/sqlite.h"

namespace fieldsync::hub::sqlite_checkpoints {

// hub_checkpoints: each adopted checkpoint (its signed statement);
// hub_checkpoint_rows: the province's rows as they were at its position, by
// leaf index, with their leaf hashes (the pages of a verified bootstrap).
inline constexpr const char* kCheckpointsSql =
    "CREATE TABLE IF NOT EXISTS hub_checkpoints(id BLOB PRIMARY KEY NOT NULL, province TEXT "
    "NOT NULL, position INTEGER NOT NULL, leaves INTEGER NOT NULL, adopted_at INTEGER NOT "
    "NULL, gc_epoch INTEGER NOT NULL, seq INTEGER NOT NULL UNIQUE, statement BLOB NOT NULL) "
    "WITHOUT ROWID";
inline constexpr const char* kRowsSql =
    "CREATE TABLE IF NOT EXISTS hub_checkpoint_rows(checkpoint BLOB NOT NULL, idx INTEGER NOT "
    "NULL, tbl TEXT NOT NULL, row BLOB NOT NULL, state BLOB NOT NULL, leaf BLOB NOT NULL, "
    "PRIMARY KEY(checkpoint, idx)) WITHOUT ROWID";

absl::StatusOr<std::optional<StoredCheckpoint>> Newest(sqlite::Db& db,
                                                       const std::string& province);
absl::StatusOr<std::optional<StoredCheckpoint>> ById(sqlite::Db& db, const std::string& id);
absl::StatusOr<std::vector<std::string>> Leaves(sqlite::Db& db, const std::string& id);
absl::StatusOr<std::vector<CheckpointRow>> Rows(sqlite::Db& db, const std::string& id,
                                                uint32_t from, size_t limit);
// Stores `c` and its rows, then drops the province's checkpoints but the
// `keep` newest, with their rows.
absl::Status Adopt(sqlite::Db& db, const StoredCheckpoint& c, const std::vector<CheckpointRow>& rows,
                   size_t keep);

}  // namespace fieldsync::hub::sqlite_checkpoints

#endif  // FIELDSYNC_HUB_SQLITE_CHECKPOINTS_H_
