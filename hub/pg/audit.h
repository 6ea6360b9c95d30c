// The administrators' audit trail (hub/audit.h) in the PostgreSQL store:
// the same entries and hash chain (HubAuditHash, format version 1), in
// tables hub_audit and hub_audit_head (docs/POSTGRES.md). The head row is
// locked by each append (SELECT ... FOR UPDATE), so appends of several hub
// processes queue in commit order and the chain never forks.
#ifndef FIELDSYNC_HUB_PG_AUDIT_H_
#define FIELDSYNC_HUB_PG_AUDIT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hub/audit.h"
#include "hub/pg/connection.h"

namespace fieldsync::hub::pg {

// Appends one entry inside the caller's transaction, the one that makes
// the change it records.
absl::Status AppendAudit(Connection& conn, int64_t at_millis, const std::string& actor,
                         const std::string& action, const std::string& detail);

// Every entry and the recorded head, in one snapshot (its own transaction).
absl::StatusOr<HubAuditTrail> ReadAudit(Connection& conn);

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_AUDIT_H_
