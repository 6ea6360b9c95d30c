#include "store/migrations.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "base/status_macros.h"

namespace fieldsync {
namespace {

// The bookkeeping tables of a replica (format described in docs/FORMATS.md).
const std::vector<const char*> kBookkeeping = {
    // Replica-wide settings: device_id, created_at.
    "CREATE TABLE IF NOT EXISTS _fs_meta(key TEXT PRIMARY KEY NOT NULL, value BLOB) "
    "WITHOUT ROWID",
    // Every device whose commits this replica holds: idx is local only.
    "CREATE TABLE IF NOT EXISTS _fs_devices(idx INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, "
    "max_seq INTEGER NOT NULL, max_hlc INTEGER NOT NULL)",
    // The commit log, local and remote, in the order applied here.
    "CREATE TABLE IF NOT EXISTS _fs_log(pos INTEGER PRIMARY KEY, device INTEGER NOT NULL, "
    "seq INTEGER NOT NULL, hlc INTEGER NOT NULL, body BLOB NOT NULL, UNIQUE(device, seq))",
    // The author's signature of each signed log entry (crypto/commit_signature.h).
    "CREATE TABLE IF NOT EXISTS _fs_signatures(pos INTEGER PRIMARY KEY, sig BLOB NOT NULL)",
    // Losing concurrent writes awaiting a person's decision.
    "CREATE TABLE IF NOT EXISTS _fs_conflicts(tbl TEXT NOT NULL, row BLOB NOT NULL, "
    "col TEXT NOT NULL, hlc INTEGER NOT NULL, device BLOB NOT NULL, base_hlc INTEGER, "
    "base_device BLOB, value BLOB, PRIMARY KEY(tbl, row, col, hlc, device)) WITHOUT ROWID",
    // Rows brought in from an outside register (fieldnode import cases):
    // each source row's key (32 bytes) and the row written for it, on this
    // laptop only (session 24; docs/FORMATS.md, "Imported registers").
    "CREATE TABLE IF NOT EXISTS _fs_imported(source_key BLOB PRIMARY KEY NOT NULL, "
    "row BLOB NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID",
    // Sync cursors: positions in a peer's log, push acknowledgements.
    "CREATE TABLE IF NOT EXISTS _fs_cursors(name TEXT PRIMARY KEY NOT NULL, "
    "value INTEGER NOT NULL) WITHOUT ROWID",
    // Rows installed whole from a hub's current state (a case newly visible
    // through a referral, or a bootstrap at position 0): pulled commits at
    // or before `position` are already in the row and skip it.
    "CREATE TABLE IF NOT EXISTS _fs_installed(tbl TEXT NOT NULL, row BLOB NOT NULL, "
    "position INTEGER NOT NULL, PRIMARY KEY(tbl, row)) WITHOUT ROWID",
    // Commit chains (protocol version 3; store/replica.h, ChainWrites): the
    // entries placed of each tracked author (this device's own from seq 1),
    // what is held back, and evidence against a hub or an author.
    "CREATE TABLE IF NOT EXISTS _fs_chain(device BLOB NOT NULL, seq INTEGER NOT NULL, "
    "header BLOB NOT NULL, sig BLOB NOT NULL, link BLOB NOT NULL, state INTEGER NOT NULL, "
    "PRIMARY KEY(device, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _fs_held(device BLOB NOT NULL, seq INTEGER NOT NULL, "
    "position INTEGER NOT NULL, header BLOB NOT NULL, header_sig BLOB NOT NULL, body BLOB, "
    "sig BLOB, omitted BLOB, PRIMARY KEY(device, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS _fs_trust_evidence(id INTEGER PRIMARY KEY, device BLOB NOT "
    "NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL, held_header BLOB, held_sig BLOB, "
    "other_header BLOB, other_sig BLOB, what TEXT NOT NULL, found_at INTEGER NOT NULL)",
    // The newest signed statement of each colleague and partner laptop
    // (sync/statement_keeper.h).
    "CREATE TABLE IF NOT EXISTS _fs_statements(signer BLOB PRIMARY KEY NOT NULL, province TEXT "
    "NOT NULL, created INTEGER NOT NULL, received_at INTEGER NOT NULL, bytes BLOB NOT NULL) "
    "WITHOUT ROWID",
    // A bootstrap from a checkpoint (docs/PROTOCOL.md, "Checkpoints"): the
    // checkpoint's signed statement and the next page's first leaf (one row;
    // kept once done: the checkpoint this replica was verified from); and
    // the rows installed from its verified pages.
    // `confirmed`: 1 once its signer is a member of this office by this
    // laptop's own records (a new laptop learns who is, once it joined),
    // -1 if it turned out not to be; 0 until then.
    "CREATE TABLE IF NOT EXISTS _fs_bootstrap(one INTEGER PRIMARY KEY CHECK (one = 1), "
    "checkpoint BLOB NOT NULL, statement BLOB NOT NULL, next_index INTEGER NOT NULL, "
    "confirmed INTEGER NOT NULL DEFAULT 0)",
    // With it, the proof state at next_index (crypto/merkle.h, KeptProof:
    // `left` and `right` 32-byte hashes concatenated; from session 17): the
    // hub then sends the next page's proof as a delta. One row, written
    // with each verified page; a row of another next_index is not used.
    "CREATE TABLE IF NOT EXISTS _fs_bootstrap_proof(one INTEGER PRIMARY KEY CHECK (one = 1), "
    "next_index INTEGER NOT NULL, left BLOB NOT NULL, right BLOB NOT NULL)",
    // An unverified bootstrap under way (the hub's current rows): where it
    // was cut, to continue there (store/replica.h, BootstrapCut; one row).
    "CREATE TABLE IF NOT EXISTS _fs_bootstrap_cut(one INTEGER PRIMARY KEY CHECK (one = 1), "
    "position INTEGER NOT NULL, position_hash BLOB NOT NULL, gc_epoch INTEGER NOT NULL, "
    "tbl TEXT NOT NULL, row BLOB NOT NULL)",
    // A pull's list of collected rows cut part way: where, to continue
    // after its last row (store/replica.h, PurgedCut; one row; session 25;
    // epoch_id since session 26, added to an earlier file's: BookkeepingColumns).
    "CREATE TABLE IF NOT EXISTS _fs_purged_cut(one INTEGER PRIMARY KEY CHECK (one = 1), "
    "asked INTEGER NOT NULL, epoch INTEGER NOT NULL, tbl TEXT NOT NULL, row BLOB NOT NULL, "
    "epoch_id INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS _fs_verified(tbl TEXT NOT NULL, row BLOB NOT NULL, "
    "PRIMARY KEY(tbl, row)) WITHOUT ROWID",
    // Rows installed whole whose every version a commit its author signed
    // showed as the row holds it (a case newly referred; sync/row_witness.h).
    "CREATE TABLE IF NOT EXISTS _fs_witnessed(tbl TEXT NOT NULL, row BLOB NOT NULL, "
    "PRIMARY KEY(tbl, row)) WITHOUT ROWID",
    // The commit that wrote a version, by its author and HLC: a hub finds the
    // signed commits behind a row it installs whole on a node; a node checks
    // an installed row's version against its log (Replica::VersionSigned).
    "CREATE INDEX IF NOT EXISTS _fs_log_version ON _fs_log(device, hlc)",
    // Rows of a bootstrap are there at position 0 (nothing to skip): only
    // the others decide whether a pull trims commits, found by this index
    // without reading the whole scope's entries.
    "CREATE INDEX IF NOT EXISTS _fs_installed_positioned ON _fs_installed(position) "
    "WHERE position > 0",
    // This device's commits the hub refused for good, set aside (protocol
    // version 3; store/replica.h, SetAsideRow).
    "CREATE TABLE IF NOT EXISTS _fs_set_aside(seq INTEGER PRIMARY KEY, code INTEGER NOT NULL, "
    "reason TEXT NOT NULL, depends_on INTEGER NOT NULL DEFAULT 0, at INTEGER NOT NULL, "
    "withdrawal INTEGER NOT NULL DEFAULT 0, discarded_at INTEGER NOT NULL DEFAULT 0, "
    "never_coming BLOB, never_after BLOB)",
    // Set-aside commits the hub kept stored under this device's withdrawal,
    // written over by a new commit of this device (session 17;
    // Replica::SupersedeSetAside): that commit's seq, 0 if nothing needed
    // writing back.
    "CREATE TABLE IF NOT EXISTS _fs_superseded(seq INTEGER PRIMARY KEY, written INTEGER NOT "
    "NULL, at INTEGER NOT NULL)",
    // Hashes of the hub's log chain at positions this replica pulled to
    // (protocol version 3; store/replica.h, HubLogMark).
    "CREATE TABLE IF NOT EXISTS _fs_hub_marks(position INTEGER PRIMARY KEY, hash BLOB NOT NULL, "
    "at INTEGER NOT NULL)",
};

// Indexes on replicated tables, made once the tables exist (IF NOT EXISTS:
// a file of the current version gains one added later).
const std::vector<const char*> kIndexes = {
    // Appending to the access log reads the device's last entry.
    "CREATE INDEX IF NOT EXISTS _fs_access_log_by_device ON access_log(device, seq)",
};

absl::Status EnsureIndexes(sqlite::Db& db, const Schema& schema) {
  if (schema.FindTable("access_log") == nullptr) return absl::OkStatus();  // test schemas
  return db.CreateMissing(kIndexes);
}

absl::StatusOr<int> UserVersion(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("PRAGMA user_version"));
  FS_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? static_cast<int>(st->ColumnInt(0)) : 0;
}

absl::StatusOr<bool> HasAnyTable(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto st,
                      db.Prepared("SELECT count(*) FROM sqlite_master WHERE type='table'"));
  FS_ASSIGN_OR_RETURN(bool row, st->Step());
  return row && st->ColumnInt(0) > 0;
}

absl::StatusOr<absl::flat_hash_set<std::string>> ExistingColumns(sqlite::Db& db,
                                                                 std::string_view table) {
  absl::flat_hash_set<std::string> cols;
  FS_ASSIGN_OR_RETURN(auto st,
                      db.Prepared("SELECT name FROM pragma_table_info(?1)"));
  st->BindText(1, table);
  while (true) {
    FS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    cols.insert(st->ColumnString(0));
  }
  return cols;
}

absl::StatusOr<bool> IsWithoutRowid(sqlite::Db& db, std::string_view table) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT sql FROM sqlite_master WHERE type = 'table' "
                                           "AND name = ?1"));
  st->BindText(1, table);
  FS_ASSIGN_OR_RETURN(bool row, st->Step());
  return row && st->ColumnString(0).find("WITHOUT ROWID") != std::string::npos;
}

// Columns added to a bookkeeping table without a schema change, to the
// table of a file made before them: _fs_purged_cut.epoch_id (session 26; 0,
// none, for a cut kept before: the hub compares the epoch's number alone);
// _fs_set_aside.never_coming (session 27; NULL, none named, for a row set
// aside before: its resolution passes over no colleague's version);
// _fs_set_aside.never_after (session 28; NULL, none named: its resolution
// passes over the named versions alone).
absl::Status BookkeepingColumns(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto cut, ExistingColumns(db, "_fs_purged_cut"));
  if (cut.count("epoch_id") == 0) {
    FS_RETURN_IF_ERROR(
        db.Exec("ALTER TABLE _fs_purged_cut ADD COLUMN epoch_id INTEGER NOT NULL DEFAULT 0"));
  }
  FS_ASSIGN_OR_RETURN(auto set_aside, ExistingColumns(db, "_fs_set_aside"));
  if (set_aside.count("never_coming") == 0) {
    FS_RETURN_IF_ERROR(db.Exec("ALTER TABLE _fs_set_aside ADD COLUMN never_coming BLOB"));
  }
  if (set_aside.count("never_after") == 0) {
    FS_RETURN_IF_ERROR(db.Exec("ALTER TABLE _fs_set_aside ADD COLUMN never_after BLOB"));
  }
  return absl::OkStatus();
}

absl::Status Migrate(sqlite::Db& db, const Schema& schema) {
  for (const char* sql : kBookkeeping) FS_RETURN_IF_ERROR(db.Exec(sql));
  FS_RETURN_IF_ERROR(BookkeepingColumns(db));
  for (const TableDef& t : schema.tables()) {
    FS_ASSIGN_OR_RETURN(auto cols, ExistingColumns(db, t.name));
    if (cols.empty()) {
      FS_RETURN_IF_ERROR(db.Exec(CreateTableSql(t)));
      continue;
    }
    FS_ASSIGN_OR_RETURN(bool without_rowid, IsWithoutRowid(db, t.name));
    if (without_rowid) {
      // Version 1 layout: copy into a table of the current layout.
      std::string copied = "id, _live, _ver";
      for (const ColumnDef& c : t.columns) {
        if (cols.contains(std::string(c.name))) absl::StrAppend(&copied, ", \"", AV(c.name), "\"");
      }
      FS_RETURN_IF_ERROR(db.Exec(absl::StrCat("ALTER TABLE \"", AV(t.name),
                                              "\" RENAME TO \"_fs_old_", AV(t.name), "\"")));
      FS_RETURN_IF_ERROR(db.Exec(CreateTableSql(t)));
      FS_RETURN_IF_ERROR(db.Exec(absl::StrCat("INSERT INTO \"", AV(t.name), "\"(", copied,
                                              ") SELECT ", copied, " FROM \"_fs_old_",
                                              AV(t.name), "\" ORDER BY id")));
      FS_RETURN_IF_ERROR(db.Exec(absl::StrCat("DROP TABLE \"_fs_old_", AV(t.name), "\"")));
      continue;
    }
    for (const ColumnDef& c : t.columns) {
      if (cols.contains(std::string(c.name))) continue;
      // Rows written before this column existed read it as NULL, never
      // written (their version blobs are shorter): exactly right.
      FS_RETURN_IF_ERROR(db.Exec(absl::StrCat("ALTER TABLE \"", AV(t.name), "\" ADD COLUMN \"",
                                              AV(c.name), "\"")));
    }
  }
  FS_RETURN_IF_ERROR(EnsureIndexes(db, schema));
  // The first commit this device writes at the new version: the hub takes
  // clear values of newly sealed columns only before it (PushOrigin). A
  // new file has none (absent: from the first).
  FS_RETURN_IF_ERROR(db.Exec(absl::StrCat(
      "INSERT OR REPLACE INTO _fs_cursors(name, value) SELECT '", kSchemaSinceSeqCursor,
      "', 1 + COALESCE((SELECT d.max_seq FROM _fs_devices d WHERE d.id = m.value), 0) "
      "FROM _fs_meta m WHERE m.key = 'device_id'")));
  return db.Exec(absl::StrCat("PRAGMA user_version = ", schema.version()));
}

}  // namespace

std::string CreateTableSql(const TableDef& t) {
  // A rowid table with a unique index on the 16-byte id (schema version 2 on;
  // version 1 used WITHOUT ROWID, whose rows of a kilobyte or more spill into
  // overflow pages that every key comparison then reads). Value columns have
  // no declared type: BLOB affinity, so SQLite stores each value with the
  // storage class it was bound with and never converts.
  std::string sql = absl::StrCat("CREATE TABLE \"", AV(t.name),
                                 "\"(id BLOB NOT NULL UNIQUE, _live INTEGER, "
                                 "_ver BLOB NOT NULL");
  for (const ColumnDef& c : t.columns) absl::StrAppend(&sql, ", \"", AV(c.name), "\"");
  absl::StrAppend(&sql, ")");
  return sql;
}

absl::Status EnsureSchema(sqlite::Db& db, const Schema& schema, int* from) {
  auto run = [&](sqlite::Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(int version, UserVersion(db));
    FS_ASSIGN_OR_RETURN(bool has_tables, HasAnyTable(db));
    *from = version;
    if (version == 0 && has_tables) {
      return absl::FailedPreconditionError(absl::StrCat(
          db.path(), " is a SQLite database but not a fieldsync replica (no schema version); "
                     "choose another data directory"));
    }
    if (version > schema.version()) {
      return absl::FailedPreconditionError(absl::StrCat(
          db.path(), " was written by a newer fieldsync (replica schema version ", version,
          "; this build knows up to ", schema.version(),
          "). Upgrade fieldsync; the file was not changed"));
    }
    if (version == schema.version()) {
      // Bookkeeping tables added without a schema change, if missing.
      FS_RETURN_IF_ERROR(db.CreateMissing(kBookkeeping));
      FS_RETURN_IF_ERROR(BookkeepingColumns(db));
      return EnsureIndexes(db, schema);
    }
    return Migrate(db, schema);
  };
  return sqlite::InTransaction(db, sqlite::Transaction::Mode::kWrite, run);
}

}  // namespace fieldsync
