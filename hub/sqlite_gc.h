// The SQL of tombstone collection (hub/tombstones.h) in hub.db: the
// horizon, epoch and ids (hub_meta gc_*), the rows collected for good
// (hub_purged), and the tombstones due, for the views of sqlite_views.cc.
// The same answers as hub/pg/views_gc.cc.
#ifndef FIELDSYNC_HUB_SQLITE_GC_H_
#define FIELDSYNC_HUB_SQLITE_GC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "hub/storage.h"
#include "store/sqlite.h"

namespace fieldsync::hub::sqlite_gc {

// hub_meta gc_horizon, gc_epoch, gc_ids (zero and empty if absent).
absl::StatusOr<GcState> State(sqlite::Db& db);
// Whether `row` of `table` was collected for good.
absl::StatusOr<bool> IsPurged(sqlite::Db& db, const std::string& table, const RowId& row);
// The rows collected after `epoch` that `province` held (or every office).
absl::StatusOr<std::vector<PurgedRow>> PurgedSince(sqlite::Db& db, uint64_t epoch,
                                                   const std::string& province);
// The tombstones deleted at or before `at_millis`, in log order.
absl::StatusOr<std::vector<Tombstone>> TombstonesDeletedBy(sqlite::Db& db, int64_t at_millis);
// `t` collected in `epoch`, for every office (`shared`) or `provinces`;
// its scope entry dropped.
absl::Status RecordPurged(sqlite::Db& db, const Tombstone& t, uint64_t epoch, bool shared,
                          const std::vector<std::string>& provinces);
// The horizon set, the epoch up by one with a new id.
absl::Status Advance(sqlite::Db& db, int64_t horizon);

}  // namespace fieldsync::hub::sqlite_gc

#endif  // FIELDSYNC_HUB_SQLITE_GC_H_
