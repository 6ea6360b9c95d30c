#include "hub/sqlite_storage.h"

#include <sqlite3.h>

#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "crypto/key_record.h"
#include "hub/audit.h"
#include "hub/referral_check.h"
#include "hub/sqlite_chain.h"
#include "hub/sqlite_log_chain.h"
#include "hub/sqlite_log_scope.h"
#include "hub/sqlite_moves.h"
#include "hub/sqlite_checkpoints.h"
#include "hub/sqlite_statements.h"
#include "store/replica_internal.h"

namespace fieldsync::hub {
namespace {

constexpr const char* kRegistry[] = {
    "CREATE TABLE IF NOT EXISTS hub_meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS hub_provinces(code TEXT PRIMARY KEY NOT NULL, name TEXT NOT "
    "NULL, created_at INTEGER NOT NULL) WITHOUT ROWID",
    // Enrolment tokens: only a BLAKE2b hash of each is kept.
    "CREATE TABLE IF NOT EXISTS hub_tokens(hash BLOB PRIMARY KEY NOT NULL, province TEXT NOT "
    "NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER, used_by "
    "BLOB) WITHOUT ROWID",
    // Enrolled nodes: the hash of each credential secret, and sync state.
    "CREATE TABLE IF NOT EXISTS hub_nodes(device BLOB PRIMARY KEY NOT NULL, name TEXT NOT NULL, "
    "province TEXT NOT NULL, secret_hash BLOB NOT NULL, enrolled_at INTEGER NOT NULL, "
    "last_seen INTEGER NOT NULL DEFAULT 0, cursor INTEGER NOT NULL DEFAULT 0, protocol INTEGER "
    "NOT NULL DEFAULT 0, clock_skew INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER, "
    "sign_pk BLOB, box_pk BLOB, revoked_position INTEGER NOT NULL DEFAULT 0, delivered INTEGER "
    "NOT NULL DEFAULT 0, link_pk BLOB) WITHOUT ROWID",
    // Key records (docs/CRYPTO.md): stored and relayed, never opened. seq
    // orders them for pulls; AUTOINCREMENT so that the seq of an erased
    // record is never reused.
    "CREATE TABLE IF NOT EXISTS hub_keys(seq INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB NOT "
    "NULL UNIQUE, kind INTEGER NOT NULL, province TEXT, keyring BLOB, signer BLOB NOT NULL, "
    "stored_at INTEGER NOT NULL, bytes BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS hub_keys_ring ON hub_keys(keyring)",
    // An office's membership records, read when its removals are computed
    // (hub/office_removals.h). Added after schema version 2; an index only.
    "CREATE INDEX IF NOT EXISTS hub_keys_office ON hub_keys(kind, province)",
    // A device's own records, counted at each Hello (HelloResponse.own):
    // added in session 18; an index only.
    "CREATE INDEX IF NOT EXISTS hub_keys_signer ON hub_keys(signer)",
    // What is left of each key record an erasure deleted: its seq, id and
    // the time it was stored, never its bytes -- the hub's mark of it
    // (hub/key_mark.h) still answers a node whose key cursor is there, so
    // that another office's erasure does not send it every key record
    // again. Added in session 20 without a schema version (an older
    // fieldhub leaves it alone; docs/FORMATS.md, "Hub file").
    "CREATE TABLE IF NOT EXISTS hub_keys_erased(seq INTEGER PRIMARY KEY, id BLOB NOT NULL, "
    "stored_at INTEGER NOT NULL)",
    // Key rings erased (crypto-shredded): their data keys are refused.
    "CREATE TABLE IF NOT EXISTS hub_erased(keyring BLOB PRIMARY KEY, erased_at INTEGER NOT "
    "NULL, by_device BLOB NOT NULL) WITHOUT ROWID",
    // Deleted rows collected for good (their tombstones are gone).
    "CREATE TABLE IF NOT EXISTS hub_purged(tbl TEXT NOT NULL, row BLOB NOT NULL, position "
    "INTEGER NOT NULL, epoch INTEGER NOT NULL, shared INTEGER NOT NULL, provinces TEXT NOT "
    "NULL, PRIMARY KEY(tbl, row)) WITHOUT ROWID",
    // The administrators' audit trail, chained by hash (hub/audit.h).
    kAuditTableSql,
    kReferralStatusTableSql,
    // Version 3: the devices' commit chains (hub/chain_admission.h).
    sqlite_chain::kTableSql,
    sqlite_chain::kIndexSql,
    // Version 4: the newest signed statement of each laptop (hub/statements.h).
    sqlite_statements::kTableSql,
    sqlite_checkpoints::kCheckpointsSql,
    sqlite_checkpoints::kRowsSql,
    // Version 6: the hub's log chain (hub/log_chain.h).
    sqlite_log_chain::kTableSql,
};

// hub.db schema versions (docs/FORMATS.md, "Hub file"), each reached from
// the one before by a numbered migration below (MigrateToVersionN):
//   1  as the sync, encryption and CLI issues left it, no version recorded
//      (those made before the sync issue lack hub_nodes.delivered);
//   2  hub_referral_status (issue 11); hub_nodes.delivered in every file;
//   3  hub_chain, the devices' commit chains (protocol version 3), empty
//      until devices push headers;
//   4  hub_statements, the laptops' signed statements of what they have
//      seen (protocol version 3), empty until laptops push one;
//   5  hub_checkpoints and hub_checkpoint_rows, the checkpoints adopted
//      (protocol version 3), empty until a laptop makes one;
//   6  hub_log_hash, the hub's log chain (hub/log_chain.h), filled for the
//      log held when the engine first opens the file.
//   7  hub_log_subject, and entries kept under every province granted a
//      case they touch (hub/scope.h); hub_meta log_scope_from: the head
//      when an older file is first opened, up to which entries are read by
//      the older rule.
//   8  hub_nodes.link_pk, each device's link key (crypto/credential_proof.h,
//      proof version 2), empty (NULL) until its laptop registers one.
// Before bumping it, keep a fixture of the current one (tests/fixtures).
constexpr int64_t kHubSchemaVersion = 8;

// The scope tables (hub/scope.h).
absl::Status CreateScopeTables(sqlite::Db& db) {
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS hub_row_scope(tbl TEXT NOT NULL, row BLOB NOT NULL, "
      "owner TEXT NOT NULL DEFAULT '', case_id BLOB, restricted INTEGER NOT NULL DEFAULT 0, "
      "deleted_pos INTEGER, deleted_at INTEGER, ever_public INTEGER NOT NULL DEFAULT 0, "
      "PRIMARY KEY(tbl, row)) WITHOUT ROWID"));
  // Rows that became visible to every province at `position` (a contact
  // created restricted, made public later): installed whole at the next pull.
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS hub_public(tbl TEXT NOT NULL, row BLOB NOT NULL, position "
      "INTEGER NOT NULL, PRIMARY KEY(tbl, row)) WITHOUT ROWID"));
  // Rows moved to another province at `position` (a person whose office
  // changed): installed whole at that province's next pull. Made on open
  // (session 24), no version change: a file of an older build has no moves
  // recorded, as before.
  FS_RETURN_IF_ERROR(db.Exec(sqlite_moves::kTableSql));
  FS_RETURN_IF_ERROR(db.Exec(sqlite_moves::kIndexSql));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS hub_grants(case_id BLOB NOT NULL, province TEXT NOT NULL, "
      "position INTEGER NOT NULL, PRIMARY KEY(case_id, province)) WITHOUT ROWID"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE INDEX IF NOT EXISTS hub_grants_by_province ON hub_grants(province, position)"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE INDEX IF NOT EXISTS hub_row_scope_by_case ON hub_row_scope(case_id)"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE INDEX IF NOT EXISTS hub_row_scope_by_owner ON hub_row_scope(tbl, owner)"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS hub_log_scope(province TEXT NOT NULL, position INTEGER NOT "
      "NULL, PRIMARY KEY(province, position)) WITHOUT ROWID"));
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS hub_person_case(person BLOB NOT NULL, case_id BLOB NOT NULL, "
      "PRIMARY KEY(person, case_id)) WITHOUT ROWID"));
  // By case too: every pushed case checks its person link (without it each
  // check scanned the table: the push of 30,000 cases went quadratic).
  FS_RETURN_IF_ERROR(db.Exec(
      "CREATE INDEX IF NOT EXISTS hub_person_case_by_case ON hub_person_case(case_id)"));
  // Version 7: the cases and persons each log entry touched, to key its
  // entries under a province granted sight of them later.
  return db.Exec(sqlite_log_scope::kSubjectTableSql);
}

// The schema version of the hub tables in the file of `txn` (hub_meta's
// `schema_version`): 1 for a hub made before it was recorded, the current
// one for a file without hub tables yet. FAILED_PRECONDITION for a newer one.
absl::StatusOr<int64_t> HubSchemaVersion(sqlite::Transaction& txn, const std::string& path) {
  sqlite::Db& db = txn.db();
  FS_RETURN_IF_ERROR(db.Exec(kRegistry[0]));  // hub_meta
  int64_t version = 0;
  {
    FS_ASSIGN_OR_RETURN(auto st,
                        db.Prepared("SELECT value FROM hub_meta WHERE key = 'schema_version'"));
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (found) version = st->ColumnInt(0);
  }
  if (version == 0) {
    FS_ASSIGN_OR_RETURN(auto any,
                        db.Prepared("SELECT 1 FROM sqlite_master WHERE name = 'hub_nodes'"));
    FS_ASSIGN_OR_RETURN(bool existing, any->Step());
    version = existing ? 1 : kHubSchemaVersion;
  }
  if (version > kHubSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is a hub database of schema version ", version, ", made by a newer fieldhub; "
        "this one reads up to version ", kHubSchemaVersion, ": upgrade fieldhub (nothing was "
        "changed)"));
  }
  return version;
}

// Version 1 -> 2, on tables kRegistry has made (those absent from a
// version 1 file are made whole).
absl::Status MigrateToVersion2(sqlite::Transaction& txn, Replica& writer) {
  sqlite::Db& db = txn.db();
  // hub_nodes.delivered (what each node was last sent), added after the sync
  // issue: a version 1 hub made before then lacks it.
  {
    FS_ASSIGN_OR_RETURN(auto cols, db.Prepared("SELECT 1 FROM pragma_table_info('hub_nodes') "
                                               "WHERE name = 'delivered'"));
    FS_ASSIGN_OR_RETURN(bool has, cols->Step());
    if (!has) {
      FS_RETURN_IF_ERROR(
          db.Exec("ALTER TABLE hub_nodes ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0"));
    }
  }
  // hub_referral_status (issue 11): the status versions of the referrals
  // held, so that the next answer to one is judged against its base.
  FS_ASSIGN_OR_RETURN(std::vector<RowId> refs, writer.ListRows("referrals", true));
  const TableDef* t = writer.schema().FindTable("referrals");
  const size_t col = static_cast<size_t>(t->ColumnIndex("status"));
  for (const RowId& ref : refs) {
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, writer.Get("referrals", ref));
    if (!row || !row->versions[col] || row->values[col].kind() != Value::Kind::kText) continue;
    FS_ASSIGN_OR_RETURN(auto ins, db.Prepared("INSERT OR IGNORE INTO hub_referral_status("
                                              "referral, hlc, device, status) VALUES (?1, ?2, "
                                              "?3, ?4)"));
    ins->BindBlob(1, ref.view());
    ins->BindInt(2, static_cast<int64_t>(row->versions[col]->version.hlc.packed()));
    ins->BindBlob(3, row->versions[col]->version.device.view());
    ins->BindText(4, row->values[col].str());
    FS_RETURN_IF_ERROR(ins->Run());
  }
  return absl::OkStatus();
}

// Version 7 -> 8: hub_nodes.link_pk (a file of an older version had its
// hub_nodes made without it).
absl::Status AddLinkKeyColumn(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto cols, db.Prepared("SELECT 1 FROM pragma_table_info('hub_nodes') "
                                             "WHERE name = 'link_pk'"));
  FS_ASSIGN_OR_RETURN(bool has, cols->Step());
  if (has) return absl::OkStatus();
  return db.Exec("ALTER TABLE hub_nodes ADD COLUMN link_pk BLOB");
}

}  // namespace

// Before anything opens the file for writing (the replica's own tables are
// made on open): a hub.db of a newer schema version is refused unchanged.
absl::Status sqlite_storage::RefuseNewerFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return absl::OkStatus();
  FS_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Db> db, sqlite::Db::Open(path, ""));
  FS_ASSIGN_OR_RETURN(auto has, db->Prepared("SELECT 1 FROM sqlite_master WHERE name = "
                                             "'hub_meta'"));
  FS_ASSIGN_OR_RETURN(bool found, has->Step());
  if (!found) return absl::OkStatus();
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT value FROM hub_meta WHERE key = "
                                            "'schema_version'"));
  FS_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row || st->ColumnInt(0) <= kHubSchemaVersion) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      path, " is a hub database of schema version ", st->ColumnInt(0), ", made by a newer "
      "fieldhub; this one reads up to version ", kHubSchemaVersion, ": upgrade fieldhub "
      "(nothing was changed)"));
}

// Every enrolled device with its public keys, as nodes verify against it.
absl::StatusOr<std::vector<RegisteredDevice>> sqlite_storage::ReadRegistry(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared(
                                   "SELECT device, name, province, sign_pk, box_pk, revoked_at, "
                                   "revoked_position FROM hub_nodes WHERE sign_pk IS NOT NULL "
                                   "ORDER BY device"));
  std::vector<RegisteredDevice> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    RegisteredDevice d;
    FS_ASSIGN_OR_RETURN(d.keys.device, Id16::FromBytes(st->ColumnBlob(0), "node device"));
    d.name = st->ColumnString(1);
    d.province = st->ColumnString(2);
    d.keys.sign_pk = st->ColumnString(3);
    d.keys.box_pk = st->ColumnString(4);
    if (!st->ColumnIsNull(5)) {
      d.revoked_at_millis = st->ColumnInt(5);
      d.revoked_position = st->ColumnInt(6);
    }
    out.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<OfficeRecords> sqlite_storage::ReadOfficeRecords(sqlite::Db& db,
                                                               const std::string& province) {
  OfficeRecords out;
  {
    FS_ASSIGN_OR_RETURN(auto st, db.Prepared(absl::StrCat(
                                     "SELECT bytes, stored_at FROM hub_keys WHERE kind = ",
                                     crypto::KindsSql({crypto::KeyRecordKind::kMembership}),
                                     " AND province = ?1 ORDER BY seq")));
    st->BindText(1, province);
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      out.membership.emplace_back(st->ColumnString(0), st->ColumnInt(1));
    }
  }
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT device FROM hub_nodes WHERE province = ?1 "
                                           "AND revoked_at IS NOT NULL"));
  st->BindText(1, province);
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(DeviceId d, Id16::FromBytes(st->ColumnBlob(0), "node device"));
    out.revoked.insert(d);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SqliteHubStorage>> SqliteHubStorage::Open(const std::string& path,
                                                                         ClockSource* clock) {
  std::unique_ptr<SqliteHubStorage> s(new SqliteHubStorage(path, clock));
  FS_RETURN_IF_ERROR(s->Init());
  return s;
}

SqliteHubStorage::~SqliteHubStorage() = default;

const Schema& SqliteHubStorage::schema() const ABSL_NO_THREAD_SAFETY_ANALYSIS {
  return writer_->schema();  // set once by Init, never changed
}

absl::Status SqliteHubStorage::Init() {
  absl::MutexLock w(&write_mu_);
  absl::MutexLock r(&registry_mu_);
  FS_RETURN_IF_ERROR(sqlite_storage::RefuseNewerFile(path_));
  ReplicaOptions o;
  o.path = path_;
  o.clock = clock_;
  FS_ASSIGN_OR_RETURN(writer_, Replica::Open(o));
  hub_id_ = writer_->device_id();
  // The lambda below runs while the lock is held (the analysis does not
  // follow a lock into a lambda).
  Replica& writer = *writer_;
  sqlite::Db& db = ReplicaInternal::HubStorageDb(writer);
  FS_RETURN_IF_ERROR(sqlite::InTransaction(db, sqlite_storage::kWriteTxn,
                                           [&](sqlite::Transaction& txn) -> absl::Status {
    FS_ASSIGN_OR_RETURN(const int64_t version, HubSchemaVersion(txn, path_));
    for (const char* sql : kRegistry) FS_RETURN_IF_ERROR(db.Exec(sql));
    FS_RETURN_IF_ERROR(CreateScopeTables(db));
    // The numbered migrations, oldest first: each brings a file of the
    // version before it to its own (a new file starts at the current one).
    if (version < 2) FS_RETURN_IF_ERROR(MigrateToVersion2(txn, writer));
    // Version 7: entries are also kept under the provinces granted the
    // cases they touch (hub/scope.h); those of an older file stay read by
    // the rule they were kept by, up to its head now.
    int64_t scope_from = 0;
    if (version < 7) {
      FS_ASSIGN_OR_RETURN(scope_from, writer.LogHead());
    }
    FS_RETURN_IF_ERROR(sqlite_log_scope::SetFromOnce(db, scope_from));
    // Version 8: each device's link key, none registered yet.
    if (version < 8) FS_RETURN_IF_ERROR(AddLinkKeyColumn(db));
    FS_ASSIGN_OR_RETURN(auto set, db.Prepared("INSERT OR REPLACE INTO hub_meta(key, value) "
                                              "VALUES ('schema_version', ?1)"));
    set->BindInt(1, kHubSchemaVersion);
    return set->Run();
  }));
  // Deleted key records are overwritten in the file, not merely unlinked.
  FS_RETURN_IF_ERROR(ReplicaInternal::HubStorageDb(*writer_).Exec("PRAGMA secure_delete = ON"));
  FS_ASSIGN_OR_RETURN(registry_, sqlite::Db::Open(path_, ""));
  FS_RETURN_IF_ERROR(
      registry_->Exec(absl::StrCat("PRAGMA busy_timeout = ", tuning::kBusyTimeoutMillis)));
  return absl::OkStatus();
}

absl::Status SqliteHubStorage::QuickCheck() {
  absl::MutexLock l(&registry_mu_);
  FS_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Stmt> st,
                      registry_->PrepareTransient("PRAGMA quick_check"));
  std::string report;
  int problems = 0;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    // A row may hold several lines, the first naming the database
    // ("*** in database main ***"): one problem a line, said on one line.
    const std::string rows = st->ColumnString(0);
    for (absl::string_view line : absl::StrSplit(rows, '\n', absl::SkipEmpty())) {
      if (line == "ok" || absl::StartsWith(line, "*** in database")) continue;
      // The first of what may be thousands, printable.
      if (++problems == 1) report = Printable(SV(line));
    }
  }
  if (problems == 0) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      path_, " is damaged (its integrity check found ",
      problems == 1 ? std::string("one problem: ") : absl::StrCat(problems, " problems, the first: "),
      report, "): stop fieldhub and restore hub.db from the latest backup; nothing was changed"));
}

absl::StatusOr<std::unique_ptr<Replica>> SqliteHubStorage::TakeReader() {
  {
    absl::MutexLock l(&readers_mu_);
    if (!readers_.empty()) {
      auto r = std::move(readers_.back());
      readers_.pop_back();
      return r;
    }
  }
  ReplicaOptions o;
  o.path = path_;
  o.clock = clock_;
  return Replica::Open(o);
}

void SqliteHubStorage::ReturnReader(std::unique_ptr<Replica> r) {
  absl::MutexLock l(&readers_mu_);
  if (readers_.size() < 16) readers_.push_back(std::move(r));
}

absl::StatusOr<int64_t> SqliteHubStorage::LogHead() {
  absl::MutexLock l(&write_mu_);
  return writer_->LogHead();
}

absl::Status SqliteHubStorage::Write(const std::function<absl::Status(HubWriteTxn&)>& body) {
  absl::MutexLock l(&write_mu_);
  std::unique_ptr<HubWriteTxn> view = sqlite_storage::WriterView(*writer_);
  return body(*view);
}

absl::Status SqliteHubStorage::Read(const std::function<absl::Status(HubReadTxn&)>& body) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<Replica> reader, TakeReader());
  absl::Status s = reader->ReadTransaction([&]() -> absl::Status {
    std::unique_ptr<HubReadTxn> view = sqlite_storage::SnapshotView(*reader);
    return body(*view);
  });
  // The read transaction has ended (committed, or rolled back when the body
  // failed or the node went away mid-stream): the connection is as it was
  // taken and goes back to the pool. Dropping it after a cut stream made the
  // next pull open and prepare a new connection of hub.db. Only a connection
  // left inside a transaction (its ROLLBACK failed) is closed.
  if (sqlite3_get_autocommit(ReplicaInternal::HubStorageDb(*reader).raw()) != 0) {
    ReturnReader(std::move(reader));
  }
  return s;
}

}  // namespace fieldsync::hub
