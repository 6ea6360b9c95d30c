// Creating and upgrading the replica's SQLite schema. The schema version is
// SQLite's `PRAGMA user_version`; docs/SCHEMA.md lists what each version
// changed. Columns are added from the declaration (schema/field_office.cc):
// a new column is appended to the end of its table's declaration, with its
// `since_version`, and every older replica gains it on open.
#ifndef FIELDSYNC_STORE_MIGRATIONS_H_
#define FIELDSYNC_STORE_MIGRATIONS_H_

#include "absl/status/status.h"
#include "schema/schema.h"
#include "store/sqlite.h"

namespace fieldsync {

// Brings the database to `schema.version()`, in one transaction: creates
// every table on an empty file, or migrates from the version it has.
// FAILED_PRECONDITION if the file is newer than `schema`. Sets `*from` to the
// version found (0 for a new file).
absl::Status EnsureSchema(sqlite::Db& db, const Schema& schema, int* from);

// The cursor (_fs_cursors) holding the sequence number of this device's
// first commit at the replica's current schema version, set when an older
// replica is migrated; absent on a replica created at this version.
inline constexpr char kSchemaSinceSeqCursor[] = "schema:since_seq";

// The SQL creating one replicated table with all its declared columns.
std::string CreateTableSql(const TableDef& table);

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_MIGRATIONS_H_
