#include "hub/sqlite_storage.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/args.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "hub/audit.h"
#include "hub/referral_check.h"
#include "hub/scope.h"

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
    "NOT NULL DEFAULT 0) WITHOUT ROWID",
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
};

// hub.db schema versions: 1 as the sync, encryption and CLI issues left it
// (no version recorded); 2 adds hub_referral_status (issue 11).
constexpr int64_t kHubSchemaVersion = 2;

std::string Text(const Value& v) {
  return v.kind() == Value::Kind::kText ? v.str() : std::string();
}

// "'a','b'": SQL literals of the names the engine passes (table names).
std::string SqlList(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    std::string quoted;
    for (char ch : n) {
      quoted += ch;
      if (ch == '\'') quoted += ch;
    }
    absl::StrAppend(&out, out.empty() ? "" : ", ", "'", quoted, "'");
  }
  return out;
}

std::string JsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", JsonString(items[i]));
  }
  return out + "]";
}

// What a snapshot and the writer read alike, over one replica's connection.
template <typename Base>
class View : public Base {
 public:
  explicit View(Replica& rep) : rep_(rep), db_(rep.db()), scope_(rep.db()) {}

  const Schema& schema() const override { return rep_.schema(); }
  Scope& scope() override { return scope_; }
  absl::StatusOr<int64_t> LogHead() override { return rep_.LogHead(); }

  absl::StatusOr<GcState> Gc() override {
    GcState g;
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT key, value FROM hub_meta WHERE key IN "
                                              "('gc_horizon', 'gc_epoch')"));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      if (st->ColumnString(0) == "gc_horizon") g.horizon = st->ColumnInt(1);
      if (st->ColumnString(0) == "gc_epoch") g.epoch = static_cast<uint64_t>(st->ColumnInt(1));
    }
    return g;
  }

  absl::StatusOr<std::vector<RegisteredDevice>> Registry() override {
    return sqlite_storage::ReadRegistry(db_);
  }

  absl::StatusOr<std::optional<RowSnapshot>> ExportRow(const std::string& table,
                                                       const RowId& row) override {
    return rep_.ExportRow(table, row);
  }

  absl::StatusOr<std::optional<RowScopeEntry>> RowScope(const std::string& table,
                                                        const RowId& row) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT owner, case_id, restricted FROM "
                                              "hub_row_scope WHERE tbl = ?1 AND row = ?2"));
    st->BindText(1, table);
    st->BindBlob(2, row.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return std::optional<RowScopeEntry>();
    RowScopeEntry e;
    e.owner = st->ColumnString(0);
    if (!st->ColumnIsNull(1)) {
      FS_ASSIGN_OR_RETURN(e.case_id, Id16::FromBytes(st->ColumnBlob(1), "scope case id"));
    }
    e.restricted = st->ColumnInt(2) != 0;
    return std::optional<RowScopeEntry>(std::move(e));
  }

  absl::StatusOr<std::optional<std::string>> TableOf(
      const RowId& row, const std::vector<std::string>& tables) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared(absl::StrCat(
                                     "SELECT tbl FROM hub_row_scope WHERE row = ?1 AND tbl IN (",
                                     SqlList(tables), ")")));
    st->BindBlob(1, row.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return std::optional<std::string>();
    return std::optional<std::string>(st->ColumnString(0));
  }

  absl::StatusOr<bool> IsPurged(const std::string& table, const RowId& row) override {
    FS_ASSIGN_OR_RETURN(auto st,
                        db_.Prepared("SELECT 1 FROM hub_purged WHERE tbl = ?1 AND row = ?2"));
    st->BindText(1, table);
    st->BindBlob(2, row.view());
    return st->Step();
  }

  absl::StatusOr<std::vector<PurgedRow>> PurgedSince(uint64_t epoch,
                                                     const std::string& province) override {
    FS_ASSIGN_OR_RETURN(
        auto st, db_.Prepared("SELECT tbl, row, position FROM hub_purged p WHERE epoch > ?1 AND "
                              "(shared = 1 OR EXISTS (SELECT 1 FROM json_each(p.provinces) WHERE "
                              "value = ?2)) ORDER BY tbl, row"));
    st->BindInt(1, static_cast<int64_t>(epoch));
    st->BindText(2, province);
    std::vector<PurgedRow> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      PurgedRow p;
      p.table = st->ColumnString(0);
      FS_ASSIGN_OR_RETURN(p.row, Id16::FromBytes(st->ColumnBlob(1), "purged row"));
      p.position = st->ColumnInt(2);
      out.push_back(std::move(p));
    }
    return out;
  }

  absl::Status ForEachKeyRecordAfter(
      int64_t seq, const std::function<absl::Status(const StoredKeyRecord&)>& visit) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT seq, kind, province, keyring, signer, "
                                              "stored_at, id, bytes FROM hub_keys WHERE seq > ?1 "
                                              "ORDER BY seq"));
    st->BindInt(1, seq);
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      StoredKeyRecord k;
      k.seq = st->ColumnInt(0);
      k.kind = static_cast<int>(st->ColumnInt(1));
      if (!st->ColumnIsNull(2)) k.province = st->ColumnString(2);
      if (!st->ColumnIsNull(3)) {
        absl::StatusOr<RowId> ring = Id16::FromBytes(st->ColumnBlob(3), "key ring");
        if (ring.ok()) k.keyring = *ring;
      }
      absl::StatusOr<DeviceId> signer = Id16::FromBytes(st->ColumnBlob(4), "signer");
      if (signer.ok()) k.signer = *signer;
      k.stored_at_millis = st->ColumnInt(5);
      k.id = st->ColumnString(6);
      k.bytes = st->ColumnString(7);
      FS_RETURN_IF_ERROR(visit(k));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> KeyRecordsOfRing(const RowId& ring, int kind,
                                                           const std::string& province,
                                                           int64_t seq) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT bytes FROM hub_keys WHERE keyring = ?1 AND "
                                              "kind = ?2 AND province != ?3 AND seq <= ?4 ORDER "
                                              "BY seq"));
    st->BindBlob(1, ring.view());
    st->BindInt(2, kind);
    st->BindText(3, province);
    st->BindInt(4, seq);
    std::vector<std::string> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      out.push_back(st->ColumnString(0));
    }
    return out;
  }

  absl::StatusOr<std::vector<LogEntry>> LogEntriesUnder(const std::vector<std::string>& log_keys,
                                                        int64_t after, int64_t upto,
                                                        size_t limit) override {
    FS_ASSIGN_OR_RETURN(
        auto st,
        db_.Prepared("SELECT l.pos, d.id, l.body, s.sig FROM (SELECT DISTINCT position AS "
                     "p FROM hub_log_scope WHERE province IN (SELECT value FROM "
                     "json_each(?1)) AND position > ?2 AND position <= ?3 ORDER BY "
                     "position LIMIT ?4) c JOIN _fs_log l ON l.pos = c.p JOIN _fs_devices "
                     "d ON d.idx = l.device LEFT JOIN _fs_signatures s ON s.pos = l.pos "
                     "ORDER BY l.pos"));
    st->BindText(1, JsonList(log_keys));
    st->BindInt(2, after);
    st->BindInt(3, upto);
    st->BindInt(4, static_cast<int64_t>(limit));
    std::vector<LogEntry> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      LogEntry e;
      e.position = st->ColumnInt(0);
      FS_ASSIGN_OR_RETURN(e.author, Id16::FromBytes(st->ColumnBlob(1), "author"));
      e.body = st->ColumnString(2);
      if (!st->ColumnIsNull(3)) e.signature = st->ColumnString(3);
      out.push_back(std::move(e));
    }
    return out;
  }

  absl::StatusOr<std::optional<ReferralState>> Referral(const RowId& referral) override {
    FS_ASSIGN_OR_RETURN(std::optional<Row> row, rep_.Get("referrals", referral));
    if (!row) return std::optional<ReferralState>();
    const TableDef* t = rep_.schema().FindTable("referrals");
    auto value = [&](std::string_view column) -> std::string {
      const int i = t->ColumnIndex(column);
      return i < 0 ? std::string() : Text(row->values[static_cast<size_t>(i)]);
    };
    ReferralState s;
    s.from_office = value("from_office");
    s.to_office = value("to_office");
    s.status = value("status");
    if (const int i = t->ColumnIndex("status"); i >= 0 && row->versions[static_cast<size_t>(i)]) {
      s.status_version = row->versions[static_cast<size_t>(i)]->version;
    }
    FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> conflicts,
                        rep_.Conflicts(std::string("referrals"), referral));
    for (const ConflictRecord& k : conflicts) {
      if (k.column == "status") s.status_conflicts.emplace_back(k.version, Text(k.value));
    }
    return std::optional<ReferralState>(std::move(s));
  }

  absl::StatusOr<std::optional<std::string>> RecordedReferralStatus(
      const RowId& referral, const Version& version) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT status FROM hub_referral_status WHERE "
                                              "referral = ?1 AND hlc = ?2 AND device = ?3"));
    st->BindBlob(1, referral.view());
    st->BindInt(2, static_cast<int64_t>(version.hlc.packed()));
    st->BindBlob(3, version.device.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (!found) return std::optional<std::string>();
    return std::optional<std::string>(st->ColumnString(0));
  }

 protected:
  Replica& rep_;
  sqlite::Db& db_;
  Scope scope_;
};

using ReadView = View<HubReadTxn>;

class WriteView : public View<HubWriteTxn> {
 public:
  using View::View;

  absl::StatusOr<ApplyResult> Merge(const std::vector<Commit>& commits,
                                    const ApplyHooks& hooks) override {
    return rep_.Apply(commits, std::nullopt, &hooks);
  }
  absl::Status Atomically(const std::function<absl::Status()>& body) override {
    return sqlite_storage::InTxn(db_, body);
  }

  absl::StatusOr<bool> NodeActive(const DeviceId& device) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT revoked_at FROM hub_nodes WHERE device = "
                                              "?1"));
    st->BindBlob(1, device.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    return found && st->ColumnIsNull(0);
  }
  absl::StatusOr<bool> DeviceOf(const DeviceId& device, const std::string& province,
                                bool active) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared(
                                     active ? "SELECT 1 FROM hub_nodes WHERE device = ?1 AND "
                                              "province = ?2 AND revoked_at IS NULL"
                                            : "SELECT 1 FROM hub_nodes WHERE device = ?1 AND "
                                              "province = ?2"));
    st->BindBlob(1, device.view());
    st->BindText(2, province);
    return st->Step();
  }
  absl::StatusOr<bool> ProvinceExists(const std::string& code) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT 1 FROM hub_provinces WHERE code = ?1"));
    st->BindText(1, code);
    return st->Step();
  }
  absl::StatusOr<std::vector<std::string>> ProvinceCodes() override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT code FROM hub_provinces"));
    std::vector<std::string> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      out.push_back(st->ColumnString(0));
    }
    return out;
  }
  absl::StatusOr<OfficeRecords> OfficeRecordsOf(const std::string& province) override {
    return sqlite_storage::ReadOfficeRecords(db_, province);
  }
  absl::StatusOr<uint64_t> AcknowledgedSeq(const DeviceId& device) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT max_seq FROM _fs_devices WHERE id = ?1"));
    st->BindBlob(1, device.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    return found ? static_cast<uint64_t>(st->ColumnInt(0)) : uint64_t{0};
  }

  absl::StatusOr<bool> RingErased(const RowId& ring) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT 1 FROM hub_erased WHERE keyring = ?1"));
    st->BindBlob(1, ring.view());
    return st->Step();
  }
  absl::Status EraseRing(const RowId& ring, const std::vector<int>& kinds, int64_t at_millis,
                         const DeviceId& by) override {
    std::string list;
    for (int k : kinds) absl::StrAppend(&list, list.empty() ? "" : ", ", k);
    FS_ASSIGN_OR_RETURN(auto del, db_.Prepared(absl::StrCat(
                                      "DELETE FROM hub_keys WHERE keyring = ?1 AND kind IN (",
                                      list, ")")));
    del->BindBlob(1, ring.view());
    FS_RETURN_IF_ERROR(del->Run());
    FS_ASSIGN_OR_RETURN(auto ins, db_.Prepared("INSERT INTO hub_erased(keyring, erased_at, "
                                               "by_device) VALUES (?1, ?2, ?3)"));
    ins->BindBlob(1, ring.view());
    ins->BindInt(2, at_millis);
    ins->BindBlob(3, by.view());
    return ins->Run();
  }
  absl::StatusOr<bool> StoreKeyRecord(const StoredKeyRecord& r) override {
    FS_ASSIGN_OR_RETURN(auto ins, db_.Prepared("INSERT OR IGNORE INTO hub_keys(id, kind, "
                                               "province, keyring, signer, stored_at, bytes) "
                                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    ins->BindBlob(1, r.id);
    ins->BindInt(2, r.kind);
    if (!r.province.empty()) ins->BindText(3, r.province);
    if (r.keyring) ins->BindBlob(4, r.keyring->view());
    ins->BindBlob(5, r.signer.view());
    ins->BindInt(6, r.stored_at_millis);
    ins->BindBlob(7, r.bytes);
    FS_RETURN_IF_ERROR(ins->Run());
    return db_.Changes() > 0;
  }
  absl::Status RecordReferralStatus(const RowId& referral, const Version& version,
                                    const std::string& status) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("INSERT OR IGNORE INTO hub_referral_status("
                                              "referral, hlc, device, status) VALUES "
                                              "(?1, ?2, ?3, ?4)"));
    st->BindBlob(1, referral.view());
    st->BindInt(2, static_cast<int64_t>(version.hlc.packed()));
    st->BindBlob(3, version.device.view());
    st->BindText(4, status);
    return st->Run();
  }

  absl::Status AppendAudit(int64_t at_millis, const std::string& actor,
                           const std::string& action, const std::string& detail) override {
    return AppendHubAudit(db_, at_millis, actor, action, detail);
  }

  absl::StatusOr<std::vector<Tombstone>> TombstonesDeletedBy(int64_t at_millis) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("SELECT tbl, row, deleted_pos FROM hub_row_scope "
                                              "WHERE deleted_pos IS NOT NULL AND deleted_at <= "
                                              "?1 ORDER BY deleted_pos"));
    st->BindInt(1, at_millis);
    std::vector<Tombstone> out;
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      Tombstone t;
      t.table = st->ColumnString(0);
      FS_ASSIGN_OR_RETURN(t.row, Id16::FromBytes(st->ColumnBlob(1), "row"));
      t.deleted_pos = st->ColumnInt(2);
      out.push_back(std::move(t));
    }
    return out;
  }
  absl::StatusOr<bool> DropTombstone(const std::string& table, const RowId& row) override {
    FS_ASSIGN_OR_RETURN(auto del, db_.Prepared(absl::StrCat("DELETE FROM \"", AV(table),
                                                            "\" WHERE id = ?1 AND _live = 0")));
    del->BindBlob(1, row.view());
    FS_RETURN_IF_ERROR(del->Run());
    return db_.Changes() > 0;
  }
  absl::Status RecordPurged(const Tombstone& t, uint64_t epoch, bool shared,
                            const std::vector<std::string>& provinces) override {
    FS_ASSIGN_OR_RETURN(auto rec, db_.Prepared("INSERT OR REPLACE INTO hub_purged(tbl, row, "
                                               "position, epoch, shared, provinces) VALUES "
                                               "(?1, ?2, ?3, ?4, ?5, ?6)"));
    rec->BindText(1, t.table);
    rec->BindBlob(2, t.row.view());
    rec->BindInt(3, t.deleted_pos);
    rec->BindInt(4, static_cast<int64_t>(epoch));
    rec->BindInt(5, shared ? 1 : 0);
    rec->BindText(6, JsonList(provinces));
    FS_RETURN_IF_ERROR(rec->Run());
    for (const char* sql : {"DELETE FROM _fs_conflicts WHERE tbl = ?1 AND row = ?2",
                            "DELETE FROM hub_row_scope WHERE tbl = ?1 AND row = ?2"}) {
      FS_ASSIGN_OR_RETURN(auto st, db_.Prepared(sql));
      st->BindText(1, t.table);
      st->BindBlob(2, t.row.view());
      FS_RETURN_IF_ERROR(st->Run());
    }
    return absl::OkStatus();
  }
  absl::Status AdvanceGc(int64_t horizon) override {
    FS_ASSIGN_OR_RETURN(auto st, db_.Prepared("INSERT INTO hub_meta(key, value) VALUES "
                                              "('gc_horizon', ?1) ON CONFLICT(key) DO UPDATE "
                                              "SET value = excluded.value"));
    st->BindInt(1, horizon);
    FS_RETURN_IF_ERROR(st->Run());
    return db_.Exec("INSERT INTO hub_meta(key, value) VALUES ('gc_epoch', 1) ON "
                    "CONFLICT(key) DO UPDATE SET value = value + 1");
  }
  void Scrub() override { db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError(); }
};

}  // namespace

absl::Status sqlite_storage::InTxn(sqlite::Db& db, const std::function<absl::Status()>& body) {
  FS_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  absl::Status s = body();
  if (!s.ok()) {
    db.Exec("ROLLBACK").IgnoreError();
    return s;
  }
  return db.Exec("COMMIT");
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
    FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT bytes, stored_at FROM hub_keys WHERE kind = "
                                             "6 AND province = ?1 ORDER BY seq"));
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
  ReplicaOptions o;
  o.path = path_;
  o.clock = clock_;
  FS_ASSIGN_OR_RETURN(writer_, Replica::Open(o));
  hub_id_ = writer_->device_id();
  FS_RETURN_IF_ERROR(sqlite_storage::InTxn(writer_->db(), [&]() -> absl::Status {
    // The schema version of hub.db (docs/FORMATS.md, "Hub file"): 1 for a
    // hub made before it was recorded, migrated in place to the current.
    int64_t version = 0;
    {
      FS_RETURN_IF_ERROR(writer_->db().Exec(kRegistry[0]));  // hub_meta
      FS_ASSIGN_OR_RETURN(auto st, writer_->db().Prepared(
                                       "SELECT value FROM hub_meta WHERE key = 'schema_version'"));
      FS_ASSIGN_OR_RETURN(bool found, st->Step());
      if (found) version = st->ColumnInt(0);
    }
    bool existing = false;
    {
      FS_ASSIGN_OR_RETURN(auto any, writer_->db().Prepared(
                                        "SELECT 1 FROM sqlite_master WHERE name = 'hub_nodes'"));
      FS_ASSIGN_OR_RETURN(existing, any->Step());
    }
    if (version == 0) version = existing ? 1 : kHubSchemaVersion;
    if (version > kHubSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          path_, " is a hub database of schema version ", version, ", made by a newer fieldhub; "
          "this one reads up to version ", kHubSchemaVersion, ": upgrade fieldhub (nothing was "
          "changed)"));
    }
    for (const char* sql : kRegistry) FS_RETURN_IF_ERROR(writer_->db().Exec(sql));
  {
    // Added after the sync issue: hubs made before gain the column.
    FS_ASSIGN_OR_RETURN(auto cols, writer_->db().Prepared(
                                       "SELECT 1 FROM pragma_table_info('hub_nodes') WHERE name = "
                                       "'delivered'"));
    FS_ASSIGN_OR_RETURN(bool has, cols->Step());
    if (!has) {
      FS_RETURN_IF_ERROR(writer_->db().Exec(
          "ALTER TABLE hub_nodes ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0"));
    }
  }
    FS_RETURN_IF_ERROR(Scope::CreateTables(writer_->db()));
    if (version < 2) {
      // Version 2 (issue 11): the status versions of the referrals held,
      // so that the next answer to one is judged against its base.
      FS_ASSIGN_OR_RETURN(std::vector<RowId> refs, writer_->ListRows("referrals", true));
      const TableDef* t = writer_->schema().FindTable("referrals");
      const size_t col = static_cast<size_t>(t->ColumnIndex("status"));
      for (const RowId& ref : refs) {
        FS_ASSIGN_OR_RETURN(std::optional<Row> row, writer_->Get("referrals", ref));
        if (!row || !row->versions[col] || row->values[col].kind() != Value::Kind::kText) {
          continue;
        }
        FS_ASSIGN_OR_RETURN(auto ins, writer_->db().Prepared(
                                          "INSERT OR IGNORE INTO hub_referral_status(referral, "
                                          "hlc, device, status) VALUES (?1, ?2, ?3, ?4)"));
        ins->BindBlob(1, ref.view());
        ins->BindInt(2, static_cast<int64_t>(row->versions[col]->version.hlc.packed()));
        ins->BindBlob(3, row->versions[col]->version.device.view());
        ins->BindText(4, row->values[col].str());
        FS_RETURN_IF_ERROR(ins->Run());
      }
    }
    FS_ASSIGN_OR_RETURN(auto set, writer_->db().Prepared(
                                      "INSERT OR REPLACE INTO hub_meta(key, value) VALUES "
                                      "('schema_version', ?1)"));
    set->BindInt(1, kHubSchemaVersion);
    return set->Run();
  }));
  // Deleted key records are overwritten in the file, not merely unlinked.
  FS_RETURN_IF_ERROR(writer_->db().Exec("PRAGMA secure_delete = ON"));
  FS_ASSIGN_OR_RETURN(registry_, sqlite::Db::Open(path_, ""));
  FS_RETURN_IF_ERROR(
      registry_->Exec(absl::StrCat("PRAGMA busy_timeout = ", tuning::kBusyTimeoutMillis)));
  return absl::OkStatus();
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
  WriteView view(*writer_);
  return body(view);
}

absl::Status SqliteHubStorage::Read(const std::function<absl::Status(HubReadTxn&)>& body) {
  FS_ASSIGN_OR_RETURN(std::unique_ptr<Replica> reader, TakeReader());
  absl::Status s = reader->ReadTransaction([&]() -> absl::Status {
    ReadView view(*reader);
    return body(view);
  });
  // A stream cut short (the node went away) does not give its connection back.
  if (s.code() != absl::StatusCode::kCancelled) ReturnReader(std::move(reader));
  return s;
}

}  // namespace fieldsync::hub
