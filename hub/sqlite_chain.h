// The SQL of the hub's commit chains (protocol version 3; hub_chain in
// docs/FORMATS.md, "Hub file"), for the views of sqlite_views.cc.
#ifndef FIELDSYNC_HUB_SQLITE_CHAIN_H_
#define FIELDSYNC_HUB_SQLITE_CHAIN_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "hub/storage.h"
#include "store/replica.h"
#include "store/sqlite.h"

namespace fieldsync::hub::sqlite_chain {

// hub_chain: one row per entry, by (device, seq); `position` is the log
// position of the entry's commit.
inline constexpr const char* kTableSql =
    "CREATE TABLE IF NOT EXISTS hub_chain(device BLOB NOT NULL, seq INTEGER NOT NULL, "
    "position INTEGER NOT NULL, header BLOB NOT NULL, sig BLOB NOT NULL, link BLOB NOT NULL, "
    "PRIMARY KEY(device, seq)) WITHOUT ROWID";
inline constexpr const char* kIndexSql =
    "CREATE INDEX IF NOT EXISTS hub_chain_by_position ON hub_chain(position)";

absl::StatusOr<ChainPoint> Head(sqlite::Db& db, const DeviceId& device);
absl::StatusOr<std::vector<StoredChainEntry>> Entries(sqlite::Db& db, const DeviceId& device,
                                                      uint64_t first, uint64_t last,
                                                      size_t limit);
absl::Status Add(sqlite::Db& db, const DeviceId& device, const StoredChainEntry& e);
// Entries of `device` whose commit was refused (position < 0), by seq.
absl::StatusOr<std::vector<StoredChainEntry>> Refused(sqlite::Db& db, const DeviceId& device);
absl::Status SetPosition(sqlite::Db& db, const DeviceId& device, uint64_t seq, int64_t position);
// How many refused commits each device has not withdrawn (set aside on it).
absl::StatusOr<uint64_t> SetAside(sqlite::Db& db, const DeviceId& device);
// The log entry of `device`'s commit `seq` (with its chain entry if held),
// from the replica's log (read through store/replica.h, never its tables).
absl::StatusOr<std::optional<LogEntry>> Logged(sqlite::Db& db, Replica& replica,
                                               const DeviceId& device, uint64_t seq);
// A log entry as the hub relays it: the replica's entry with its chain
// entry (header and signature) if the hub holds one.
absl::StatusOr<LogEntry> WithChainEntry(sqlite::Db& db, Replica::RawEntry raw);

}  // namespace fieldsync::hub::sqlite_chain

#endif  // FIELDSYNC_HUB_SQLITE_CHAIN_H_
