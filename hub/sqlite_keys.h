// The SQL of the key records the hub stores (hub_keys, hub_keys_erased,
// hub_erased in docs/FORMATS.md, "Hub file"), for the views of
// sqlite_views.cc. The same answers as hub/pg/views_keys.cc.
#ifndef FIELDSYNC_HUB_SQLITE_KEYS_H_
#define FIELDSYNC_HUB_SQLITE_KEYS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "hub/storage.h"
#include "store/sqlite.h"

namespace fieldsync::hub::sqlite_keys {

// The record stored at `seq` (its time and id only), held or erased.
absl::StatusOr<std::optional<StoredKeyRecord>> At(sqlite::Db& db, int64_t seq);
// Every record held after `seq`, in order.
absl::Status ForEachAfter(sqlite::Db& db, int64_t seq,
                          const std::function<absl::Status(const StoredKeyRecord&)>& visit);
// The bytes of `ring`'s records of `kind` from offices but `province`, up
// to `seq`, in order.
absl::StatusOr<std::vector<std::string>> OfRing(sqlite::Db& db, const RowId& ring, int kind,
                                                const std::string& province, int64_t seq);
absl::StatusOr<bool> RingErased(sqlite::Db& db, const RowId& ring);
// `ring`'s records of `kinds` erased (their seq, id and time kept), the
// erasure recorded.
absl::Status EraseRing(sqlite::Db& db, const RowId& ring, const std::vector<int>& kinds,
                       int64_t at_millis, const DeviceId& by);
// Whether `r` was stored now (not held already).
absl::StatusOr<bool> Store(sqlite::Db& db, const StoredKeyRecord& r);

}  // namespace fieldsync::hub::sqlite_keys

#endif  // FIELDSYNC_HUB_SQLITE_KEYS_H_
