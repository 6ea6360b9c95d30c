// A node's revocation on the PostgreSQL store inside the caller's
// transaction: what PostgresHubStorage::RevokeNode commits, and what
// `fieldhub restore --store` carries over into the restored tables in the
// transaction that puts them in place (hub/pg/backup.h).
#ifndef FIELDSYNC_HUB_PG_REVOKE_H_
#define FIELDSYNC_HUB_PG_REVOKE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "change/id.h"
#include "hub/pg/connection.h"

namespace fieldsync::hub::pg {

// Marks `device` revoked at the log head (its row locked until the
// caller commits) and appends the audit entry. NOT_FOUND if it is not
// enrolled, FAILED_PRECONDITION if it was revoked already.
absl::Status RevokeInTransaction(Connection& conn, const DeviceId& device,
                                 const std::string& actor, int64_t now);

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_REVOKE_H_
