// A PostgreSQL hub put back from its backup in one transaction, and the
// serve lock that keeps it from happening under a serving hub process
// (hub/pg/backup.h).
#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "hub/audit.h"
#include "hub/credential_check.h"
#include "hub/pg/audit.h"
#include "hub/pg/backup.h"
#include "hub/pg/backup_file.h"
#include "hub/pg/backup_tables.h"
#include "hub/pg/revoke.h"
#include "hub/pg/schema.h"
#include "hub/pg/transaction.h"

namespace fieldsync::hub::pg {
namespace {

// "fsserve!": held shared by every serving hub process, exclusively by a
// restore (in its transaction).
constexpr int64_t kServeLock = 0x6673736572766521;

std::string Quoted(const std::string& ident) { return absl::StrCat("\"", ident, "\""); }

// The replaced hub's tables moved into a new schema, whose name it returns.
absl::StatusOr<std::string> MoveAside(Connection& conn, const std::string& stamp,
                                      const std::vector<std::string>& tables) {
  std::string kept = absl::StrCat("fieldhub_before_restore_", absl::AsciiStrToLower(stamp));
  for (int n = 2;; ++n) {
    FS_ASSIGN_OR_RETURN(Result r, conn.Exec("SELECT count(*) FROM pg_namespace WHERE nspname = $1",
                                            {Param::Text(kept)}));
    FS_ASSIGN_OR_RETURN(const int64_t there, r.Int(0, 0));
    if (there == 0) break;
    kept = absl::StrCat("fieldhub_before_restore_", absl::AsciiStrToLower(stamp), "_", n);
  }
  FS_RETURN_IF_ERROR(conn.Command(absl::StrCat("CREATE SCHEMA ", Quoted(kept))).status());
  for (const std::string& t : tables) {
    FS_RETURN_IF_ERROR(
        conn.Command(absl::StrCat("ALTER TABLE ", Quoted(t), " SET SCHEMA ", Quoted(kept)))
            .status());
  }
  return kept;
}

// The backup's table sections copied into the (empty) tables of its
// schema version; the file read again, its hash checked again.
absl::Status Load(Connection& conn, const std::string& path) {
  FS_ASSIGN_OR_RETURN(BackupReader r, BackupReader::Open(path));
  FS_ASSIGN_OR_RETURN(std::string meta, r.NextSection());
  std::string piece;
  for (;;) {
    FS_ASSIGN_OR_RETURN(bool more, r.NextChunk(&piece));
    if (!more) break;
  }
  for (;;) {
    FS_ASSIGN_OR_RETURN(std::string table, r.NextSection());
    if (table == "end") return absl::OkStatus();
    FS_RETURN_IF_ERROR(conn.CopyIn(
        absl::StrCat("COPY ", Quoted(table), " FROM STDIN (FORMAT binary)"),
        [&](std::string* out) { return r.NextChunk(out); }));
  }
}

}  // namespace

absl::StatusOr<PgRestoreOutcome> RestoreBackup(Connection& conn, const std::string& path,
                                               const std::string& label,
                                               const std::string& actor, int64_t now_millis,
                                               const std::string& stamp) {
  FS_ASSIGN_OR_RETURN(const PgBackupFacts facts, CheckBackup(path));
  if (facts.schema_version > kPgSchemaVersion || facts.schema_version < 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "it is a hub of schema version ", facts.schema_version,
        "; this fieldhub knows versions 1 to ", kPgSchemaVersion));
  }
  PgRestoreOutcome out;
  out.restored = facts;
  absl::Status s = InTransaction(conn, Isolation::kReadCommitted,
                                 [&](Transaction&) -> absl::Status {
    out = PgRestoreOutcome{};
    out.restored = facts;
    FS_ASSIGN_OR_RETURN(Result lock, conn.Exec("SELECT pg_try_advisory_xact_lock($1)::int",
                                               {Param::Int(kServeLock)}));
    FS_ASSIGN_OR_RETURN(const int64_t locked, lock.Int(0, 0));
    if (locked == 0) {
      return absl::FailedPreconditionError(
          "a fieldhub serve is running on this database: stop every hub process on it first");
    }
    FS_ASSIGN_OR_RETURN(const int64_t version, SchemaVersion(conn));
    if (version > kPgSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the database is a hub of schema version ", version,
          ", made by a newer fieldhub: restore with that one"));
    }
    std::vector<DeviceId> revoked;
    std::vector<std::pair<DeviceId, std::string>> link_keys;
    int64_t keys_seq = facts.keys_seq;
    if (version > 0) {
      out.had_hub = true;
      FS_ASSIGN_OR_RETURN(Result id, conn.Exec("SELECT value FROM hub_meta WHERE key = 'hub_id'"));
      if (id.rows() == 1 && id.Bytes(0, 0) != facts.hub_id.view()) {
        FS_ASSIGN_OR_RETURN(DeviceId current, DeviceId::FromBytes(id.Bytes(0, 0), "hub id"));
        return absl::FailedPreconditionError(absl::StrCat(
            "it is a backup of another hub (device ", facts.hub_id.ToString(),
            "), not of this one (device ", current.ToString(), "): its laptops would refuse it"));
      }
      FS_ASSIGN_OR_RETURN(Result head, conn.Exec("SELECT position FROM hub_log_head"));
      FS_ASSIGN_OR_RETURN(out.log_head_before, head.Int(0, 0));
      FS_ASSIGN_OR_RETURN(Result r, conn.Exec("SELECT device FROM hub_nodes WHERE revoked_at IS "
                                              "NOT NULL ORDER BY device"));
      for (int i = 0; i < r.rows(); ++i) {
        FS_ASSIGN_OR_RETURN(DeviceId d, DeviceId::FromBytes(r.Bytes(i, 0), "device"));
        revoked.push_back(d);
      }
      // Schema version 4 brought link keys.
      if (version >= 4) {
        FS_ASSIGN_OR_RETURN(Result k, conn.Exec("SELECT device, link_pk FROM hub_nodes WHERE "
                                                "link_pk IS NOT NULL ORDER BY device"));
        for (int i = 0; i < k.rows(); ++i) {
          FS_ASSIGN_OR_RETURN(DeviceId d, DeviceId::FromBytes(k.Bytes(i, 0), "device"));
          link_keys.emplace_back(d, k.Bytes(i, 1));
        }
      }
      // Key records' numbers are never given twice: the sequence goes on
      // from the higher of the two hubs'.
      FS_ASSIGN_OR_RETURN(const int64_t current_seq, KeysSequence(conn));
      keys_seq = std::max(keys_seq, current_seq);
      FS_ASSIGN_OR_RETURN(std::vector<std::string> tables, HubTables(conn));
      FS_ASSIGN_OR_RETURN(out.kept_schema, MoveAside(conn, stamp, tables));
    }
    // The backup's tables as its schema version made them, emptied of
    // what the migrations put in, then loaded.
    FS_RETURN_IF_ERROR(MigrateInTransaction(conn, now_millis, facts.schema_version));
    FS_ASSIGN_OR_RETURN(std::vector<std::string> made, HubTables(conn));
    if (std::set<std::string>(made.begin(), made.end()) !=
        std::set<std::string>(facts.tables.begin(), facts.tables.end())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "its tables are not those of schema version ", facts.schema_version,
          ": it was changed"));
    }
    std::vector<std::string> quoted;
    for (const std::string& t : made) quoted.push_back(Quoted(t));
    FS_RETURN_IF_ERROR(conn.Command(absl::StrCat("TRUNCATE ", absl::StrJoin(quoted, ", ")))
                           .status());
    if (absl::Status loaded = Load(conn, path); !loaded.ok()) {
      return absl::Status(loaded.code() == absl::StatusCode::kInternal
                              ? absl::StatusCode::kInvalidArgument
                              : loaded.code(),
                          absl::StrCat("its rows do not load: ", loaded.message()));
    }
    if (keys_seq > 0) {
      FS_RETURN_IF_ERROR(conn.Exec("SELECT setval(pg_get_serial_sequence('hub_keys', 'seq'), "
                                   "greatest($1, (SELECT coalesce(max(seq), 0) FROM hub_keys)))",
                                   {Param::Int(keys_seq)})
                             .status());
    }
    FS_RETURN_IF_ERROR(MigrateInTransaction(conn, now_millis, kPgSchemaVersion));
    // The planner's statistics of the rows just loaded, committed with them
    // (the tables are new: until autovacuum comes round the planner would
    // take them for empty; docs/POSTGRES.md, "Statistics").
    FS_RETURN_IF_ERROR(AnalyzeHubTables(conn));
    FS_ASSIGN_OR_RETURN(Result id, conn.Exec("SELECT value FROM hub_meta WHERE key = 'hub_id'"));
    if (id.rows() != 1 || id.Bytes(0, 0) != facts.hub_id.view()) {
      return absl::InvalidArgumentError("its rows are of another hub than its header says: "
                                        "it was changed");
    }
    for (const DeviceId& d : revoked) {
      absl::Status carried = RevokeInTransaction(conn, d, actor, now_millis);
      if (carried.ok()) {
        out.carried.push_back(d.ToString());
      } else if (carried.code() == absl::StatusCode::kNotFound) {
        ++out.unknown;  // enrolled after the backup
      } else if (carried.code() != absl::StatusCode::kFailedPrecondition) {
        return carried;  // (revoked in the backup too: nothing to carry)
      }
    }
    // The link keys the replaced hub held and the backup does not: kept,
    // not reopened to whoever registers first. A key is public; the laptop
    // still holds it.
    for (const auto& [d, key] : link_keys) {
      // A device closed since (a two-holders alarm) is closed again
      // whatever key the backup holds for it.
      FS_ASSIGN_OR_RETURN(Result k, conn.Exec("UPDATE hub_nodes SET link_pk = $2 WHERE device = "
                                              "$1 AND (link_pk IS NULL OR ($3 AND link_pk <> $2))",
                                              {Param::Bytes(d.view()), Param::Bytes(key),
                                               Param::Bool(LinkKeyStateOf(key) ==
                                                           LinkKeyState::kClosed)}));
      if (k.Affected() == 0) continue;
      out.kept_link_keys.push_back(d.ToString());
      FS_RETURN_IF_ERROR(AppendAudit(conn, now_millis, actor, kAuditLinkKey,
                                     LinkKeyKeptDetail(d.ToString(), key, "database")));
    }
    std::string detail = absl::StrCat(
        "from ", label, ": ",
        out.had_hub ? absl::StrCat("the log goes back from position ", out.log_head_before,
                                   " to ", facts.log_head)
                    : absl::StrCat("there was no hub; the log is at position ", facts.log_head),
        "; ", out.carried.size(), " revocations carried over");
    if (!out.carried.empty()) absl::StrAppend(&detail, " (", absl::StrJoin(out.carried, ", "), ")");
    if (out.unknown > 0) {
      absl::StrAppend(&detail, "; ", out.unknown, " more of nodes enrolled after the backup");
    }
    if (!out.kept_link_keys.empty()) {
      absl::StrAppend(&detail, "; ", out.kept_link_keys.size(),
                      " link keys kept from the replaced database");
    }
    if (!out.kept_schema.empty()) {
      absl::StrAppend(&detail, "; the replaced tables kept in schema ", out.kept_schema);
    }
    return AppendAudit(conn, now_millis, actor, kAuditRestore, detail);
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::unique_ptr<Connection>> HoldServeLock(const std::string& target,
                                                          const std::string& label) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(target));
  FS_ASSIGN_OR_RETURN(Result r, conn->Exec("SELECT pg_try_advisory_lock_shared($1)::int",
                                           {Param::Int(kServeLock)}));
  FS_ASSIGN_OR_RETURN(const int64_t held, r.Int(0, 0));
  if (held == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a fieldhub restore is running on the PostgreSQL database ", label,
        "; nothing was started"));
  }
  return conn;
}

}  // namespace fieldsync::hub::pg
