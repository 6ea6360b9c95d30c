// Reads of the registry shared by the PostgreSQL store's registry calls
// (hub/pg/registry.cc, each in its own transaction) and its views
// (hub/pg/views.h, in the writer's transaction or a pull's snapshot): on
// the caller's connection, inside whatever transaction it holds.
#ifndef FIELDSYNC_HUB_PG_REGISTRY_READS_H_
#define FIELDSYNC_HUB_PG_REGISTRY_READS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hub/pg/connection.h"
#include "hub/storage.h"

namespace fieldsync::hub::pg {

// Every enrolled device with its public keys, by device id.
absl::StatusOr<std::vector<RegisteredDevice>> ReadRegistry(Connection& conn);
// An office's membership records (in storage order) and revoked devices.
absl::StatusOr<OfficeRecords> ReadOfficeRecords(Connection& conn, const std::string& province);

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_REGISTRY_READS_H_
