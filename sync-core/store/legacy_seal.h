// Values written in clear before their column was sealed (schema version 4,
// ColumnDef::sealed_since): the laptop that wrote each one rewrites it
// sealed, as an ordinary write based on the version it replaces (a
// concurrent edit elsewhere meets it as a conflict, never silently), so
// the hub's rows hold it sealed from then on (docs/CRYPTO.md, "Fields
// sealed in schema version 4").
#ifndef FIELDSYNC_STORE_LEGACY_SEAL_H_
#define FIELDSYNC_STORE_LEGACY_SEAL_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "store/keyring.h"
#include "store/replica.h"

namespace fieldsync {

// Rewrites sealed up to `max_rows` rows whose clear values in columns
// sealed since a later schema version were written by this replica's
// device (a restricted row's only, for a column sealed when restricted),
// in commits of at most 100 rows. Returns the number of values rewritten;
// 0 and nothing done while `keys` is locked. Once a scan finds none left,
// the cursor `legacy:sealed` records it and later calls return at once
// (this device never writes such a value clear again).
absl::StatusOr<int64_t> SealLegacyValues(Replica& replica, KeyRing& keys, size_t max_rows);

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_LEGACY_SEAL_H_
