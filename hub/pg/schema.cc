#include "hub/pg/schema.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "change/id.h"
#include "hub/pg/backup_tables.h"
#include "hub/pg/transaction.h"

namespace fieldsync::hub::pg {
namespace {

// Text columns compare byte by byte (COLLATE "C"), as SQLite's do: the
// registry's listings come out in the same order whatever the database's
// locale. Times are milliseconds since the epoch (bigint), ids and hashes
// bytea, as in hub.db (docs/FORMATS.md, "Hub file").
constexpr char kMigration1[] = R"sql(
CREATE TABLE hub_meta(key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE hub_provinces(code text COLLATE "C" PRIMARY KEY, name text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL);
CREATE TABLE hub_tokens(hash bytea PRIMARY KEY, province text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL, expires_at bigint NOT NULL, used_at bigint, used_by bytea);
CREATE TABLE hub_nodes(device bytea PRIMARY KEY, name text COLLATE "C" NOT NULL,
  province text COLLATE "C" NOT NULL, secret_hash bytea NOT NULL, enrolled_at bigint NOT NULL,
  last_seen bigint NOT NULL DEFAULT 0, cursor bigint NOT NULL DEFAULT 0,
  protocol integer NOT NULL DEFAULT 0, clock_skew bigint NOT NULL DEFAULT 0, revoked_at bigint,
  sign_pk bytea, box_pk bytea, revoked_position bigint NOT NULL DEFAULT 0,
  delivered bigint NOT NULL DEFAULT 0);
CREATE INDEX hub_nodes_by_province ON hub_nodes(province);
CREATE TABLE hub_audit(seq bigint PRIMARY KEY, at bigint NOT NULL, actor text NOT NULL,
  action text NOT NULL, detail text NOT NULL, prev_hash text NOT NULL, entry_hash text NOT NULL);
CREATE TABLE hub_audit_head(one boolean PRIMARY KEY DEFAULT true CHECK (one),
  seq bigint NOT NULL, hash text NOT NULL);
INSERT INTO hub_audit_head(seq, hash) VALUES (0, '');
CREATE TABLE hub_keys(seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id bytea NOT NULL UNIQUE, kind integer NOT NULL, province text COLLATE "C", keyring bytea,
  signer bytea NOT NULL, stored_at bigint NOT NULL, bytes bytea NOT NULL);
CREATE INDEX hub_keys_ring ON hub_keys(keyring);
CREATE INDEX hub_keys_office ON hub_keys(kind, province);
CREATE INDEX hub_keys_signer ON hub_keys(signer);
CREATE TABLE hub_keys_erased(seq bigint PRIMARY KEY, id bytea NOT NULL,
  stored_at bigint NOT NULL);
CREATE TABLE hub_log_head(one boolean PRIMARY KEY DEFAULT true CHECK (one),
  position bigint NOT NULL);
INSERT INTO hub_log_head(position) VALUES (0);
CREATE TABLE hub_log(position bigint PRIMARY KEY, author bytea NOT NULL, seq bigint NOT NULL,
  body bytea NOT NULL, signature bytea, UNIQUE(author, seq));
CREATE TABLE hub_log_scope(province text COLLATE "C" NOT NULL, position bigint NOT NULL,
  PRIMARY KEY(province, position));
CREATE TABLE hub_chain(device bytea NOT NULL, seq bigint NOT NULL, position bigint NOT NULL,
  header bytea NOT NULL, sig bytea NOT NULL, link bytea NOT NULL, PRIMARY KEY(device, seq));
)sql";

// Version 2: the hub's rows as the merge keeps them (merge/commit_merge.h,
// MergeStore): one register per field written (slot 0 the liveness
// register, c + 1 column c; its winning version, the base it replaced, its
// value as kind + int + bytes), the open conflict records (by column name,
// as the replica's _fs_conflicts), each author's commits held (the highest
// seq, passed-over ones included, and the highest HLC: what Knows() asks),
// and the HLC of each log entry; the scope tables (hub/scope.h) as in
// hub.db.
constexpr char kMigration2[] = R"sql(
CREATE TABLE hub_rows(tbl text COLLATE "C" NOT NULL, row bytea NOT NULL,
  PRIMARY KEY(tbl, row));
CREATE TABLE hub_fields(tbl text COLLATE "C" NOT NULL, row bytea NOT NULL, slot integer NOT NULL,
  hlc bigint NOT NULL, device bytea NOT NULL, base_hlc bigint, base_device bytea,
  kind smallint NOT NULL, ival bigint NOT NULL DEFAULT 0, sval bytea,
  PRIMARY KEY(tbl, row, slot));
CREATE TABLE hub_conflicts(tbl text COLLATE "C" NOT NULL, row bytea NOT NULL,
  col text COLLATE "C" NOT NULL, hlc bigint NOT NULL, device bytea NOT NULL, base_hlc bigint,
  base_device bytea, kind smallint NOT NULL, ival bigint NOT NULL DEFAULT 0, sval bytea,
  PRIMARY KEY(tbl, row, col, hlc, device));
CREATE TABLE hub_authors(device bytea PRIMARY KEY, held_seq bigint NOT NULL DEFAULT 0,
  max_hlc bigint NOT NULL DEFAULT 0);
ALTER TABLE hub_log ADD COLUMN hlc bigint NOT NULL DEFAULT 0;
CREATE TABLE hub_row_scope(tbl text COLLATE "C" NOT NULL, row bytea NOT NULL,
  owner text COLLATE "C" NOT NULL DEFAULT '', case_id bytea,
  restricted boolean NOT NULL DEFAULT false, deleted_pos bigint, deleted_at bigint,
  ever_public boolean NOT NULL DEFAULT false, PRIMARY KEY(tbl, row));
CREATE INDEX hub_row_scope_by_case ON hub_row_scope(case_id);
CREATE INDEX hub_row_scope_by_owner ON hub_row_scope(tbl, owner);
CREATE TABLE hub_public(tbl text COLLATE "C" NOT NULL, row bytea NOT NULL,
  position bigint NOT NULL, PRIMARY KEY(tbl, row));
CREATE TABLE hub_grants(case_id bytea NOT NULL, province text COLLATE "C" NOT NULL,
  position bigint NOT NULL, PRIMARY KEY(case_id, province));
CREATE INDEX hub_grants_by_province ON hub_grants(province, position);
CREATE TABLE hub_person_case(person bytea NOT NULL, case_id bytea NOT NULL,
  PRIMARY KEY(person, case_id));
CREATE INDEX hub_person_case_by_case ON hub_person_case(case_id);
CREATE TABLE hub_log_subject(subject bytea NOT NULL, position bigint NOT NULL,
  PRIMARY KEY(subject, position));
)sql";

// Version 3: the rest of hub.db's tables (docs/FORMATS.md, "Hub file"),
// for the views' calls built in session 21: erased key rings, the log
// chain's hashes, the laptops' statements, the checkpoints adopted and
// their rows, the referral statuses stored, the rows collected, and the
// collection's horizon and epoch (hub.db: hub_meta gc_horizon, gc_epoch;
// here one row). The chain's index by position, as hub.db's.
constexpr char kMigration3[] = R"sql(
CREATE TABLE hub_erased(keyring bytea PRIMARY KEY, erased_at bigint NOT NULL,
  by_device bytea NOT NULL);
CREATE TABLE hub_log_hash(position bigint PRIMARY KEY, hash bytea NOT NULL);
CREATE INDEX hub_chain_by_position ON hub_chain(position);
CREATE TABLE hub_statements(device bytea PRIMARY KEY, province text COLLATE "C" NOT NULL,
  created bigint NOT NULL, seq bigint NOT NULL UNIQUE, bytes bytea NOT NULL);
CREATE TABLE hub_checkpoints(id bytea PRIMARY KEY, province text COLLATE "C" NOT NULL,
  position bigint NOT NULL, leaves bigint NOT NULL, adopted_at bigint NOT NULL,
  gc_epoch bigint NOT NULL, seq bigint NOT NULL UNIQUE, statement bytea NOT NULL);
CREATE INDEX hub_checkpoints_by_province ON hub_checkpoints(province, seq);
CREATE TABLE hub_checkpoint_rows(checkpoint bytea NOT NULL
  REFERENCES hub_checkpoints(id) ON DELETE CASCADE, idx bigint NOT NULL,
  tbl text COLLATE "C" NOT NULL, row bytea NOT NULL, state bytea NOT NULL, leaf bytea NOT NULL,
  PRIMARY KEY(checkpoint, idx));
CREATE TABLE hub_referral_status(referral bytea NOT NULL, hlc bigint NOT NULL,
  device bytea NOT NULL, status text COLLATE "C" NOT NULL, PRIMARY KEY(referral, hlc, device));
CREATE TABLE hub_purged(tbl text COLLATE "C" NOT NULL, row bytea NOT NULL,
  position bigint NOT NULL, epoch bigint NOT NULL, shared boolean NOT NULL,
  provinces text[] COLLATE "C" NOT NULL, PRIMARY KEY(tbl, row));
CREATE INDEX hub_purged_by_epoch ON hub_purged(epoch);
CREATE TABLE hub_gc(one boolean PRIMARY KEY DEFAULT true CHECK (one), horizon bigint NOT NULL,
  epoch bigint NOT NULL);
INSERT INTO hub_gc(horizon, epoch) VALUES (0, 0);
)sql";

// Version 4 (session 24): each device's link key, whose public half
// verifies its proofs and makes none (docs/PROTOCOL.md, "Credentials").
constexpr char kMigration4[] = R"sql(
ALTER TABLE hub_nodes ADD COLUMN link_pk bytea;
)sql";

// Version 5 (session 24): rows moved to another province at a position (a
// person whose office changed), installed whole at its next pull (hub.db:
// hub_moves, made on open).
constexpr char kMigration5[] = R"sql(
CREATE TABLE hub_moves(province text COLLATE "C" NOT NULL, tbl text COLLATE "C" NOT NULL,
  row bytea NOT NULL, position bigint NOT NULL, PRIMARY KEY(province, tbl, row));
CREATE INDEX hub_moves_by_position ON hub_moves(province, position);
)sql";

// Version 6 (session 28): hub_row_scope by row alone. A push's scope reads
// (PgView::PrefetchScope) and TableOf look rows up by id whatever their
// table; the key (tbl, row) does not serve them, so each read every entry
// (1.45 ms a push of 20 cases on a hub of 10,000). hub.db needs none: its
// reads name the tables, and SQLite looks each (tbl, row) up.
constexpr char kMigration6[] = R"sql(
CREATE INDEX hub_row_scope_by_row ON hub_row_scope(row);
)sql";

struct Migration {
  int64_t version;
  const char* sql;
};
constexpr Migration kMigrations[] = {{1, kMigration1}, {2, kMigration2}, {3, kMigration3},
                                     {4, kMigration4}, {5, kMigration5}, {6, kMigration6}};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kPgSchemaVersion);

absl::StatusOr<int64_t> ReadVersion(Connection& conn) {
  FS_ASSIGN_OR_RETURN(Result exists, conn.Exec("SELECT to_regclass('schema_version') IS NOT NULL"));
  FS_ASSIGN_OR_RETURN(int64_t has, exists.Int(0, 0));
  if (has == 0) return 0;
  FS_ASSIGN_OR_RETURN(Result r, conn.Exec("SELECT coalesce(max(version), 0)::bigint FROM "
                                          "schema_version"));
  return r.Int(0, 0);
}

}  // namespace

absl::StatusOr<int64_t> SchemaVersion(Connection& conn) { return ReadVersion(conn); }

absl::Status Migrate(Connection& conn, int64_t now_millis, int64_t up_to) {
  return InTransaction(conn, Isolation::kReadCommitted, [&](Transaction&) -> absl::Status {
    return MigrateInTransaction(conn, now_millis, up_to);
  });
}

absl::Status MigrateInTransaction(Connection& conn, int64_t now_millis, int64_t up_to) {
  {
    FS_RETURN_IF_ERROR(conn.Exec("SELECT pg_advisory_xact_lock($1)",
                                 {Param::Int(kMigrationLock)}).status());
    FS_ASSIGN_OR_RETURN(const int64_t version, ReadVersion(conn));
    if (version > kPgSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the PostgreSQL database is a hub of schema version ", version,
          ", made by a newer fieldhub; this one knows up to version ", kPgSchemaVersion,
          ": upgrade fieldhub (nothing was changed)"));
    }
    if (version >= up_to) return absl::OkStatus();
    if (version == 0) {
      FS_RETURN_IF_ERROR(conn.Command("CREATE TABLE schema_version(version bigint PRIMARY KEY, "
                                      "applied_at bigint NOT NULL)").status());
    }
    for (const Migration& m : kMigrations) {
      if (m.version <= version || m.version > up_to) continue;
      FS_RETURN_IF_ERROR(conn.Command(m.sql).status());
      FS_RETURN_IF_ERROR(conn.Exec("INSERT INTO schema_version(version, applied_at) VALUES "
                                   "($1, $2)",
                                   {Param::Int(m.version), Param::Int(now_millis)}).status());
    }
    // A new hub's id, made once (a hub process migrating later keeps it).
    return conn.Exec("INSERT INTO hub_meta(key, value) VALUES ('hub_id', $1) ON CONFLICT (key) "
                     "DO NOTHING",
                     {Param::Bytes(Id16::NewRandom().view())}).status();
  }
}

absl::Status AnalyzeHubTables(Connection& conn) {
  FS_ASSIGN_OR_RETURN(const std::vector<std::string> tables, HubTables(conn));
  if (tables.empty()) return absl::OkStatus();
  std::vector<std::string> quoted;
  for (const std::string& t : tables) quoted.push_back(absl::StrCat("\"", t, "\""));
  return conn.Command(absl::StrCat("ANALYZE ", absl::StrJoin(quoted, ", "))).status();
}

}  // namespace fieldsync::hub::pg
