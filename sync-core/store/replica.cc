// Opening a replica, its device table and transactions; LocalTxn; stats.
#include "store/replica_impl.h"

#include <sodium.h>

#include "base/message.h"
#include "store/migrations.h"
#include "store/replica_internal.h"
#include "store/store_messages.h"

namespace fieldsync {

// ---------------------------------------------------------------------------
// LocalTxn

LocalTxn& LocalTxn::Create(std::string table, RowId row, Fields fields) {
  ops_.push_back({Kind::kCreate, std::move(table), row, std::move(fields)});
  return *this;
}
LocalTxn& LocalTxn::Set(std::string table, RowId row, Fields fields) {
  ops_.push_back({Kind::kSet, std::move(table), row, std::move(fields)});
  return *this;
}
LocalTxn& LocalTxn::Delete(std::string table, RowId row) {
  ops_.push_back({Kind::kDelete, std::move(table), row, {}});
  return *this;
}
LocalTxn& LocalTxn::Restore(std::string table, RowId row, Fields fields) {
  ops_.push_back({Kind::kRestore, std::move(table), row, std::move(fields)});
  return *this;
}
LocalTxn& LocalTxn::Resolve(std::string table, RowId row, std::string column, Value value) {
  Fields f;
  f.emplace_back(std::move(column), std::move(value));
  ops_.push_back({Kind::kResolve, std::move(table), row, std::move(f)});
  return *this;
}

absl::Status Replica::Impl::Init() {
  FS_ASSIGN_OR_RETURN(db, sqlite::Db::Open(opts.path, opts.vfs));
  FS_RETURN_IF_ERROR(db->Exec(absl::StrCat("PRAGMA busy_timeout = ", tuning::kBusyTimeoutMillis)));
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("PRAGMA journal_mode = WAL"));
    FS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row || st->ColumnString(0) != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "could not put ", opts.path, " in WAL mode; is the data directory on a local disk?"));
    }
  }
  FS_RETURN_IF_ERROR(db->Exec(opts.durability == ReplicaOptions::Durability::kFull
                                  ? "PRAGMA synchronous = FULL"
                                  : "PRAGMA synchronous = NORMAL"));
  FS_RETURN_IF_ERROR(db->Exec(absl::StrCat("PRAGMA cache_size = -", tuning::kCacheSizeKiB)));
  FS_RETURN_IF_ERROR(EnsureSchema(*db, *schema, &schema_version));
  schema_version = schema->version();

  // The device id is made once, when the replica is created.
  auto ensure_device = [&](sqlite::Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto get,
                        db->Prepared("SELECT value FROM _fs_meta WHERE key = 'device_id'"));
    FS_ASSIGN_OR_RETURN(bool row, get->Step());
    if (row) {
      FS_ASSIGN_OR_RETURN(self, Id16::FromBytes(get->ColumnBlob(0), "device id in _fs_meta"));
      return absl::OkStatus();
    }
    self = Id16::NewRandom();
    FS_ASSIGN_OR_RETURN(auto put,
                        db->Prepared("INSERT INTO _fs_meta(key, value) VALUES "
                                     "('device_id', ?1), ('created_at', ?2)"));
    put->BindBlob(1, self.view());
    put->BindInt(2, (opts.clock ? opts.clock : SystemClock::Get())->NowMillis());
    return put->Run();
  };
  FS_RETURN_IF_ERROR(
      sqlite::InTransaction(*db, sqlite::Transaction::Mode::kWrite, ensure_device));

  // Statements used on every write are prepared once.
  FS_ASSIGN_OR_RETURN(data_version_, db->Statement("PRAGMA data_version"));
  FS_ASSIGN_OR_RETURN(insert_log_,
                      db->Statement("INSERT INTO _fs_log(device, seq, hlc, body) "
                                   "VALUES (?1, ?2, ?3, ?4)"));
  FS_ASSIGN_OR_RETURN(insert_sig_,
                      db->Statement("INSERT INTO _fs_signatures(pos, sig) VALUES (?1, ?2)"));
  FS_ASSIGN_OR_RETURN(update_device_,
                      db->Statement("UPDATE _fs_devices SET max_seq = ?2, max_hlc = ?3 "
                                   "WHERE idx = ?1"));
  FS_ASSIGN_OR_RETURN(insert_device_,
                      db->Statement("INSERT INTO _fs_devices(id, max_seq, max_hlc) "
                                   "VALUES (?1, 0, 0)"));
  FS_ASSIGN_OR_RETURN(insert_conflict_,
                      db->Statement("INSERT OR IGNORE INTO _fs_conflicts(tbl, row, col, hlc, "
                                   "device, base_hlc, base_device, value) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  FS_ASSIGN_OR_RETURN(delete_conflict_,
                      db->Statement("DELETE FROM _fs_conflicts WHERE tbl = ?1 AND row = ?2 AND "
                                   "col = ?3 AND hlc = ?4 AND device = ?5"));
  for (const TableDef& t : schema->tables()) {
    if (t.columns.size() + 1 > 64) {
      return absl::InternalError(absl::StrCat("table ", AV(t.name), " has more than 63 columns"));
    }
  }
  tables.resize(schema->tables().size());

  FS_RETURN_IF_ERROR(ReloadDevices());
  auto it = device_index.find(self);
  if (it == device_index.end()) {
    FS_ASSIGN_OR_RETURN(sqlite::Transaction txn, Begin());
    absl::StatusOr<uint32_t> idx = DeviceIndex(self, /*create=*/true);
    if (!idx.ok()) {
      Abort(txn);
      return idx.status();
    }
    FS_RETURN_IF_ERROR(Finish(txn));
    self_idx = *idx;
  } else {
    self_idx = it->second;
  }
  // The clock resumes past everything this replica has stored, even if the
  // machine's clock went backwards since; past others' stamps only within
  // the skew limit of this clock (HybridClock::Follow).
  FollowStored();
  // Stamps the hub refused as ahead, withdrawn: never issued again.
  return LoadClockSkip();
}

absl::StatusOr<sqlite::Stmt*> Replica::Impl::TableStatement(size_t tidx, TableStmt which) {
  TableStmts& ts = tables[tidx];
  sqlite::Stmt*& st = which == TableStmt::kSelectMeta  ? ts.select_meta
                      : which == TableStmt::kSelectAll ? ts.select_all
                                                       : ts.insert;
  if (st != nullptr) return st;
  const TableDef& t = schema->tables()[tidx];
  std::string cols;
  std::string params;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    absl::StrAppend(&cols, ", ", Quote(t.columns[i].name));
    absl::StrAppend(&params, ", ?", i + 4);
  }
  std::string sql;
  switch (which) {
    case TableStmt::kSelectMeta:
      sql = absl::StrCat("SELECT _live, _ver FROM ", Quote(t.name), " WHERE id = ?1");
      break;
    case TableStmt::kSelectAll:
      sql = absl::StrCat("SELECT _live, _ver", cols, " FROM ", Quote(t.name), " WHERE id = ?1");
      break;
    case TableStmt::kInsert:
      sql = absl::StrCat("INSERT INTO ", Quote(t.name), "(id, _live, _ver", cols,
                         ") VALUES (?1, ?2, ?3", params, ")");
      break;
  }
  FS_ASSIGN_OR_RETURN(st, db->Statement(sql));
  return st;
}

absl::Status Replica::Impl::ReloadDevices() {
  // Into temporaries: on a read error the old table stays as it was.
  std::vector<DeviceEntry> loaded(1);
  absl::flat_hash_map<DeviceId, uint32_t> index;
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT idx, id, max_seq, max_hlc FROM "
                                            "_fs_devices ORDER BY idx"));
  while (true) {
    FS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    const auto idx = static_cast<uint32_t>(st->ColumnInt(0));
    FS_ASSIGN_OR_RETURN(DeviceId id, Id16::FromBytes(st->ColumnBlob(1), "device id"));
    if (loaded.size() <= idx) loaded.resize(idx + 1);
    loaded[idx] = DeviceEntry{id, static_cast<uint64_t>(st->ColumnInt(2)),
                              static_cast<uint64_t>(st->ColumnInt(3)), false};
    index[id] = idx;
  }
  devices.swap(loaded);
  device_index.swap(index);
  // Timestamps written by another connection are ours to follow too.
  FollowStored();
  return absl::OkStatus();
}

void Replica::Impl::FollowStored() {
  for (const DeviceEntry& d : devices) {
    if (d.id == self) {
      hlc.Restore(Hlc::FromPacked(d.max_hlc));
    } else {
      hlc.Follow(Hlc::FromPacked(d.max_hlc));
    }
  }
}

absl::StatusOr<int64_t> Replica::Impl::DataVersion() {
  sqlite::ScopedStmt st(data_version_);
  FS_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? st->ColumnInt(0) : int64_t{-1};
}

absl::Status Replica::Impl::Refresh() {
  FS_ASSIGN_OR_RETURN(int64_t v, DataVersion());
  if (v == seen_data_version_) return absl::OkStatus();
  FS_RETURN_IF_ERROR(ReloadDevices());
  seen_data_version_ = v;
  return absl::OkStatus();
}

absl::StatusOr<sqlite::Transaction> Replica::Impl::Begin() {
  if (broken_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "after an earlier storage error this replica's state in memory may not match ",
        opts.path, "; close and reopen it (restart the program)"));
  }
  FS_ASSIGN_OR_RETURN(sqlite::Transaction txn,
                      sqlite::Transaction::Begin(*db, sqlite::Transaction::Mode::kWrite));
  FS_RETURN_IF_ERROR(Refresh());  // on error, txn rolls back
  return txn;
}

absl::Status Replica::Impl::InReadTxn(const std::function<absl::Status()>& read) {
  // Inside ReadTransaction(), or inside a write transaction (a hook of
  // Apply, a key ring's transaction on the same file): the outer
  // transaction is the snapshot, and sees its own writes.
  if (in_read_txn || sqlite3_get_autocommit(db->raw()) == 0) return read();
  FS_ASSIGN_OR_RETURN(sqlite::Transaction txn,
                      sqlite::Transaction::Begin(*db, sqlite::Transaction::Mode::kRead));
  in_read_txn = true;
  absl::Status s = Refresh();
  if (s.ok()) s = read();
  in_read_txn = false;
  if (!s.ok()) return s;  // txn rolls back
  return txn.Commit();
}

absl::StatusOr<uint32_t> Replica::Impl::DeviceIndex(const DeviceId& id, bool create) {
  auto it = device_index.find(id);
  if (it != device_index.end()) return it->second;
  if (!create) return absl::NotFoundError(absl::StrCat("unknown device ", id.ToString()));
  insert_device_->Reset();
  insert_device_->BindBlob(1, id.view());
  FS_RETURN_IF_ERROR(insert_device_->Run());
  const auto idx = static_cast<uint32_t>(sqlite3_last_insert_rowid(db->raw()));
  if (devices.size() <= idx) devices.resize(idx + 1);
  devices[idx] = DeviceEntry{id, 0, 0, false};
  device_index[id] = idx;
  return idx;
}

bool Replica::Impl::Knows(const Version& v) const {
  auto it = device_index.find(v.device);
  return it != device_index.end() && devices[it->second].max_hlc >= v.hlc.packed();
}

absl::Status Replica::Impl::Finish(sqlite::Transaction& txn) {
  for (uint32_t idx = 1; idx < devices.size(); ++idx) {
    DeviceEntry& d = devices[idx];
    if (!d.dirty) continue;
    update_device_->Reset();
    update_device_->BindInt(1, idx);
    update_device_->BindInt(2, static_cast<int64_t>(d.max_seq));
    update_device_->BindInt(3, static_cast<int64_t>(d.max_hlc));
    absl::Status s = update_device_->Run();
    if (!s.ok()) {
      Abort(txn);
      return s;
    }
  }
  absl::Status s = txn.Commit();
  if (!s.ok()) {
    Abort(txn);
    // SQLite may have written the commit frame before the failing sync: the
    // transaction can reappear when the file is next opened. Say so (keyed:
    // in WAL mode a full disk or a disk error mostly shows here, at COMMIT).
    return WithMessage(
        absl::Status(s.code(),
                     absl::StrCat("the disk failed while saving, so the change may or may not "
                                  "have been kept: look at the data again before retrying "
                                  "(applying remote commits again is always safe). ",
                                  s.message())),
        kMsgStoreCommitUnsure);
  }
  for (DeviceEntry& d : devices) d.dirty = false;
  return absl::OkStatus();
}

absl::Status Replica::Impl::InWriteTxn(
    const std::function<absl::Status(sqlite::Transaction&)>& body) {
  FS_ASSIGN_OR_RETURN(sqlite::Transaction txn, Begin());
  absl::Status s = body(txn);
  if (!s.ok()) {
    Abort(txn);
    return s;
  }
  return Finish(txn);
}

void Replica::Impl::Abort(sqlite::Transaction& txn) {
  txn.Rollback();
  // The in-memory device table must match the database again.
  if (!ReloadDevices().ok()) broken_ = true;
}


// ---------------------------------------------------------------------------
// Replica

Replica::Replica(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Replica::~Replica() = default;

absl::StatusOr<std::unique_ptr<Replica>> Replica::Open(const ReplicaOptions& options) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  if (options.path.empty()) return absl::InvalidArgumentError("no replica path given");
  const Schema* schema = options.schema ? options.schema : &FieldOfficeSchema();
  ClockSource* clock = options.clock ? options.clock : SystemClock::Get();
  auto impl = std::make_unique<Impl>(options, schema, clock);
  FS_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Replica>(new Replica(std::move(impl)));
}

const DeviceId& Replica::device_id() const { return impl_->self; }
void Replica::SetSecurity(CommitSecurity security) { impl_->security = std::move(security); }
const Schema& Replica::schema() const { return *impl_->schema; }
int Replica::schema_version() const { return impl_->schema_version; }

absl::Status Replica::ReadTransaction(const std::function<absl::Status()>& read) {
  return impl_->InReadTxn(read);
}

sqlite::Db& ReplicaInternal::Db(Replica& replica) { return *replica.impl_->db; }
sqlite::Db& ReplicaInternal::HubStorageDb(Replica& replica) { return *replica.impl_->db; }

absl::StatusOr<ReplicaStats> Replica::Stats() {
  Impl& m = *impl_;
  ReplicaStats s;
  s.device = m.self;
  s.local_seq = m.devices[m.self_idx].max_seq;
  s.schema_version = m.schema_version;
  {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT count(*) FROM _fs_log"));
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    s.log_commits = r ? static_cast<uint64_t>(st->ColumnInt(0)) : 0;
  }
  {
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT count(*) FROM _fs_conflicts"));
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    s.open_conflicts = r ? static_cast<uint64_t>(st->ColumnInt(0)) : 0;
  }
  for (const TableDef& t : m.schema->tables()) {
    FS_ASSIGN_OR_RETURN(auto st,
                        m.db->Prepared(absl::StrCat("SELECT count(*) FROM ", Quote(t.name),
                                                    " WHERE _live = 1")));
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    s.live_rows.emplace_back(std::string(t.name), r ? static_cast<uint64_t>(st->ColumnInt(0)) : 0);
  }
  return s;
}

absl::Status Replica::CheckIntegrity() {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("PRAGMA integrity_check"));
  std::string report;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    absl::StrAppend(&report, report.empty() ? "" : "; ", st->ColumnString(0));
  }
  if (report == "ok") return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("integrity check of ", impl_->db->path(),
                                          " failed: ", report));
}

}  // namespace fieldsync
