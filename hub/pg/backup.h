// `fieldhub backup --store` and `fieldhub restore --store` (hub/help/
// backup.txt, restore.txt; docs/POSTGRES.md, "Backup and restore"): the
// hub's own logical copy of its PostgreSQL tables, a file of format
// kPgBackupFormat (docs/FORMATS.md, "PostgreSQL hub backup"): every hub
// table's rows as COPY's binary form, from one snapshot, with a BLAKE2b
// hash that tells a damaged or cut file.
//
// Why not pg_dump: the restore must check the file is of this hub, carry
// over the revocations in force and record itself in the audit trail in
// the one transaction that puts the tables in place, and the copy must
// not depend on a pg_dump binary of the server's major version on the
// hub's machine.
#ifndef FIELDSYNC_HUB_PG_BACKUP_H_
#define FIELDSYNC_HUB_PG_BACKUP_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "hub/pg/connection.h"

namespace fieldsync::hub::pg {

inline constexpr int64_t kPgBackupFormat = 1;

// What a backup holds, from its header (the "meta" section).
struct PgBackupFacts {
  int64_t schema_version = 0;
  DeviceId hub_id;
  int64_t log_head = 0;
  int64_t keys_seq = 0;  // the last value of hub_keys' identity (0: none yet)
  int64_t made_at = 0;   // milliseconds since the epoch
  std::vector<std::string> tables;  // in the file's order
};

// Writes a backup of the hub in `conn`'s database to `out`, from one
// REPEATABLE READ, READ ONLY snapshot: hub processes go on serving, and a
// push is either wholly in it or not at all. FAILED_PRECONDITION if the
// database holds no hub, or one of a newer schema, or a hub table this
// fieldhub does not know (nothing is left out silently).
absl::StatusOr<PgBackupFacts> WriteBackup(Connection& conn, int64_t now_millis, std::FILE* out);

// Reads the backup at `path` through: its structure, its hash and its
// header. INVALID_ARGUMENT, one line, for a file that is not one (a
// hub.db, a cut or changed file).
absl::StatusOr<PgBackupFacts> CheckBackup(const std::string& path);

// What a restore did.
struct PgRestoreOutcome {
  PgBackupFacts restored;
  bool had_hub = false;         // the database held a hub before
  int64_t log_head_before = 0;  // its log head then
  std::vector<std::string> carried;  // devices whose revocation was carried over
  int unknown = 0;              // revoked devices the backup does not know
  // Devices whose link key (or closing) the replaced hub held and the
  // backup did not: kept (attack review 24, MED 3).
  std::vector<std::string> kept_link_keys;
  std::string kept_schema;      // where the replaced tables are kept ("" if none)
};

// Puts the backup at `path` (checked by CheckBackup) in place of the hub
// in `conn`'s database, in one transaction: nothing changes on any
// failure. Refused (FAILED_PRECONDITION) while a `fieldhub serve` holds
// the serve lock (HoldServeLock), for a backup of another hub or of a
// newer schema. The replaced tables are moved, not dropped, to a schema
// fieldhub_before_restore_<stamp>; the restored ones are brought to this
// build's schema, the revocations in force in the replaced hub are
// carried over (as `fieldhub node revoke` does, each with its audit
// entry), and the restore is recorded in the audit trail. `label` names
// the file in that entry.
absl::StatusOr<PgRestoreOutcome> RestoreBackup(Connection& conn, const std::string& path,
                                               const std::string& label,
                                               const std::string& actor, int64_t now_millis,
                                               const std::string& stamp);

// The serve lock (a session advisory lock, shared, "fsserve!"): each
// `fieldhub serve --store` holds it on a connection of its own for as long
// as it serves; `fieldhub restore --store` takes it exclusively, so it
// refuses while any hub process serves the database, and a hub process
// does not start while a restore runs (FAILED_PRECONDITION, one line).
absl::StatusOr<std::unique_ptr<Connection>> HoldServeLock(const std::string& target,
                                                          const std::string& label);

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_BACKUP_H_
