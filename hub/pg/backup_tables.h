// The hub's tables on PostgreSQL in the order a backup copies them and a
// restore loads them (a table before those that refer to it), and the
// reads backup and restore share (hub/pg/backup.h).
#ifndef FIELDSYNC_HUB_PG_BACKUP_TABLES_H_
#define FIELDSYNC_HUB_PG_BACKUP_TABLES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hub/pg/connection.h"

namespace fieldsync::hub::pg {

// Every table of the migrations (hub/pg/schema.cc). A migration that adds
// a table adds it here: a backup refuses a database holding a hub table
// it does not list, rather than leave it out.
inline constexpr const char* kHubTables[] = {
    "schema_version", "hub_meta", "hub_provinces", "hub_tokens", "hub_nodes", "hub_audit",
    "hub_audit_head", "hub_keys", "hub_keys_erased", "hub_log_head", "hub_log",
    "hub_log_scope", "hub_chain",
    // schema version 2
    "hub_rows", "hub_fields", "hub_conflicts", "hub_authors", "hub_row_scope", "hub_public",
    "hub_grants", "hub_person_case", "hub_log_subject",
    // schema version 3
    "hub_erased", "hub_log_hash", "hub_statements", "hub_checkpoints", "hub_checkpoint_rows",
    "hub_referral_status", "hub_purged", "hub_gc",
    // schema version 5
    "hub_moves"};

// The hub tables of the connection's current schema, in kHubTables' order;
// FAILED_PRECONDITION naming any it does not list.
absl::StatusOr<std::vector<std::string>> HubTables(Connection& conn);

// The last value of hub_keys' identity sequence (0: never used).
absl::StatusOr<int64_t> KeysSequence(Connection& conn);

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_BACKUP_TABLES_H_
