// The hub's tables on PostgreSQL and their numbered migrations
// (docs/POSTGRES.md, "Schema"): table schema_version holds one row per
// migration applied. Migrate() brings a database to kPgSchemaVersion,
// several hub processes at once included (they wait on one advisory lock),
// and refuses, changing nothing, a database of a newer version.
#ifndef FIELDSYNC_HUB_PG_SCHEMA_H_
#define FIELDSYNC_HUB_PG_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hub/pg/connection.h"

namespace fieldsync::hub::pg {

// 1: the registry (provinces, tokens, nodes, audit trail and its head),
//    hub_meta, key records, and the log's head, entries, scope and chains
//    as far as the registry reads them.
// 2: the merged rows (hub_rows, hub_fields, hub_conflicts), each author's
//    commits held (hub_authors), the log entries' HLC.
// 3: erased rings, the log chain's hashes, statements, checkpoints,
//    referral statuses, collected rows, the collection's horizon and epoch.
// 4: hub_nodes.link_pk, each device's link key (crypto/credential_proof.h,
//    proof version 2), NULL until its laptop registers one.
// 5: rows moved to another province (hub_moves).
// 6: hub_row_scope's index by row (the scope reads of a push by id).
inline constexpr int64_t kPgSchemaVersion = 6;

// Every hub process migrating the same database takes this transaction
// advisory lock first (an arbitrary constant, "fsmigrat"); so does `fieldhub
// migrate --to` before it looks whether the database is empty.
inline constexpr int64_t kMigrationLock = 0x66736d6967726174;

// The database's schema version (0: no hub tables yet).
absl::StatusOr<int64_t> SchemaVersion(Connection& conn);

// Applies the migrations the database lacks, each in the one transaction
// that records it, and gives a new hub its id (hub_meta 'hub_id').
// FAILED_PRECONDITION (one line, nothing changed) for a newer database.
// `up_to` below kPgSchemaVersion stops there (tests make older databases).
absl::Status Migrate(Connection& conn, int64_t now_millis,
                     int64_t up_to = kPgSchemaVersion);

// The same inside the caller's transaction (`fieldhub restore`, which
// makes a backup's tables and brings them up to date in the one
// transaction that puts them in place).
absl::Status MigrateInTransaction(Connection& conn, int64_t now_millis,
                                  int64_t up_to = kPgSchemaVersion);

// ANALYZE of every hub table of the connection's schema, in the caller's
// transaction if it is in one (the statistics then commit with the rows).
// Run where a hub's rows arrive at once (`fieldhub migrate --to`,
// `fieldhub restore`): until autovacuum's next round (a minute or more)
// the planner would take freshly filled tables for the empty ones they
// were, and read a push's ids by filtering whole tables (docs/POSTGRES.md,
// "Statistics").
absl::Status AnalyzeHubTables(Connection& conn);

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_SCHEMA_H_
