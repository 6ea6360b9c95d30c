#include "store/replica.h"

#include <sodium.h>

#include <algorithm>
#include <functional>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "clock/hlc.h"
#include "store/migrations.h"
#include "store/row_meta.h"
#include "store/sqlite.h"

namespace fieldsync {

namespace {

std::string Quote(std::string_view ident) { return absl::StrCat("\"", AV(ident), "\""); }

// A row loaded for merging: slot 0 is the liveness register, slot c+1
// column c. Merging needs the versions of every field but the values of
// few (a replaced value only when it becomes a conflict record), so values
// are read on demand and only changed slots are written back.
struct RowState {
  bool exists = false;
  std::vector<Value> values;           // stored values by slot, where loaded
  std::vector<const Value*> written;   // by slot: the value to store, pointing
                                       // into the commit being applied; or null
  std::vector<SlotMeta> slots;
  uint64_t loaded = 0;                 // bit s: values[s] holds the stored value

  const Value& ToStore(size_t s) const { return written[s] ? *written[s] : values[s]; }
};

constexpr uint64_t Bit(size_t slot) { return uint64_t{1} << slot; }

}  // namespace

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

// ---------------------------------------------------------------------------
// Impl

class Replica::Impl {
 public:
  Impl(const ReplicaOptions& o, const Schema* schema, ClockSource* clock)
      : opts(o), schema(schema), hlc(clock, o.max_clock_skew_millis) {}

  absl::Status Init();

  // Transactions. Every write path is Begin → ... → Finish (or Abort).
  // Starts the write transaction. If another connection (another process,
  // or another Replica on the same file) committed since this one last
  // looked, the cached device table and the clock are reloaded first.
  absl::StatusOr<sqlite::Transaction> Begin();
  // Brings the cached device table up to date with the file, if another
  // connection has committed since this one last looked. Inside a
  // transaction (read or write), so the snapshot it checks is the one read.
  absl::Status Refresh();
  // Runs `read` in a read transaction after Refresh(): reads that map
  // device indexes to ids (rows' versions) see a device table that matches.
  absl::Status InReadTxn(const std::function<absl::Status()>& read);
  // Stores the device table's changes and commits; on error rolls back as
  // Abort() does.
  absl::Status Finish(sqlite::Transaction& txn);
  // Rolls back and brings the device table in memory back to the file's.
  void Abort(sqlite::Transaction& txn);
  // Begin → body → Finish, or Abort if the body fails.
  absl::Status InWriteTxn(const std::function<absl::Status(sqlite::Transaction&)>& body);

  absl::Status ReloadDevices();
  absl::StatusOr<int64_t> DataVersion();
  absl::StatusOr<uint32_t> DeviceIndex(const DeviceId& id, bool create);
  bool Knows(const Version& v) const;
  // Raises what this replica knows of v's device to v (an installed row
  // carries versions whose commits never reach this replica).
  absl::Status Learn(const Version& v);

  // Merges `commits` in dependency order inside the open transaction;
  // outcomes[i] says what became of commits[i]. With `allow_gaps` a
  // commit need not follow its author's previous sequence number (a node
  // pulling a scoped log). True in the result if anything was deferred.
  absl::StatusOr<bool> ApplyInTxn(sqlite::Transaction& txn,
                                  const std::vector<const Commit*>& commits, bool allow_gaps,
                                  const ApplyHooks* hooks, std::vector<ApplyOutcome>* outcomes);
  absl::Status SetCursorInTxn(sqlite::Transaction& txn, const std::string& name, int64_t value);
  // `absent`: the row is known not to be here (after a reset).
  absl::Status InstallRow(sqlite::Transaction& txn, const RowSnapshot& snap, int64_t position,
                          bool absent);
  absl::Status ResetReplicated(sqlite::Transaction& txn);
  // Merges this device's commits after cursor `pushed_cursor` again (they
  // are logged already), all of them or only their changes of `only` rows.
  absl::Status ReplayUnpushed(sqlite::Transaction& txn, const std::string& pushed_cursor,
                              const std::set<std::pair<size_t, RowId>>* only);
  absl::StatusOr<std::optional<RowSnapshot>> ExportRowInTxn(size_t tidx, const RowId& row);

  // Loads versions and liveness; with `all_values`, every value too.
  absl::StatusOr<RowState> LoadRow(size_t tidx, const RowId& row, bool all_values);
  // The stored value of one slot (read on demand).
  absl::StatusOr<Value> StoredValue(size_t tidx, const RowId& row, size_t slot, RowState& rs);
  absl::Status StoreRow(size_t tidx, const RowId& row, RowState& st);
  absl::Status MergeRowChange(const Commit& c, uint32_t author, size_t tidx, const RowChange& rc,
                              RowState& st);
  absl::Status ApplyCommit(const Commit& c, std::vector<RowState>* preloaded);
  absl::StatusOr<Commit> BuildLocal(const LocalTxn& txn, std::vector<RowState>* states);
  absl::StatusOr<bool> RowExists(const std::string& table, const RowId& row);
  absl::StatusOr<std::vector<Version>> OpenConflictVersions(std::string_view table,
                                                            const RowId& row,
                                                            std::string_view column);

  std::optional<FieldVersion> ToFieldVersion(const SlotMeta& s) const;
  Version ToVersion(uint64_t hlc, uint32_t device) const {
    return Version{Hlc::FromPacked(hlc), devices[device].id};
  }

  absl::Status Exec(sqlite::Stmt* st) {
    sqlite::ScopedStmt guard(st);
    st->Reset();
    return st->Run();
  }

  ReplicaOptions opts;
  const Schema* schema;
  HybridClock hlc;
  std::unique_ptr<sqlite::Db> db;
  DeviceId self;
  uint32_t self_idx = 0;
  int schema_version = 0;

  struct DeviceEntry {
    DeviceId id;
    uint64_t max_seq = 0;
    uint64_t max_hlc = 0;
    bool dirty = false;
  };
  std::vector<DeviceEntry> devices;  // by idx; [0] unused
  absl::flat_hash_map<DeviceId, uint32_t> device_index;

  struct TableStmts {
    sqlite::Stmt* select_meta = nullptr;  // _live, _ver
    sqlite::Stmt* select_all = nullptr;   // _live, _ver, every column
    sqlite::Stmt* insert = nullptr;       // a new row, every column
    // UPDATE of exactly the changed slots, by bitmask of slots.
    absl::flat_hash_map<uint64_t, sqlite::Stmt*> update;
  };
  std::vector<TableStmts> tables;
  sqlite::Stmt* data_version_ = nullptr;
  int64_t seen_data_version_ = -1;
  // Set when the in-memory state could not be brought back in line with the
  // file after an error: every later write is refused until reopened.
  bool broken_ = false;
  bool in_read_txn = false;
  int64_t last_position = 0;  // log position of the commit ApplyCommit stored last
  sqlite::Stmt* insert_log_ = nullptr;
  sqlite::Stmt* insert_sig_ = nullptr;
  CommitSecurity security;
  sqlite::Stmt* update_device_ = nullptr;
  sqlite::Stmt* insert_device_ = nullptr;
  sqlite::Stmt* insert_conflict_ = nullptr;
  sqlite::Stmt* delete_conflict_ = nullptr;
  std::string meta_buf;
  std::string body_buf;
};

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
    std::string cols;
    std::string params;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      absl::StrAppend(&cols, ", ", Quote(t.columns[i].name));
      absl::StrAppend(&params, ", ?", i + 4);
    }
    TableStmts ts;
    FS_ASSIGN_OR_RETURN(ts.select_meta, db->Statement(absl::StrCat(
                                            "SELECT _live, _ver FROM ", Quote(t.name),
                                            " WHERE id = ?1")));
    FS_ASSIGN_OR_RETURN(ts.select_all, db->Statement(absl::StrCat("SELECT _live, _ver", cols,
                                                                  " FROM ", Quote(t.name),
                                                                  " WHERE id = ?1")));
    FS_ASSIGN_OR_RETURN(ts.insert, db->Statement(absl::StrCat("INSERT INTO ", Quote(t.name),
                                                              "(id, _live, _ver", cols,
                                                              ") VALUES (?1, ?2, ?3", params,
                                                              ")")));
    tables.push_back(std::move(ts));
  }

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
  // machine's clock went backwards since.
  uint64_t max_hlc = 0;
  for (const DeviceEntry& d : devices) max_hlc = std::max(max_hlc, d.max_hlc);
  hlc.Restore(Hlc::FromPacked(max_hlc));
  return absl::OkStatus();
}

absl::Status Replica::Impl::ReloadDevices() {
  // Into temporaries: on a read error the old table stays as it was.
  std::vector<DeviceEntry> loaded(1);
  absl::flat_hash_map<DeviceId, uint32_t> index;
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT idx, id, max_seq, max_hlc FROM "
                                            "_fs_devices ORDER BY idx"));
  uint64_t max_hlc = 0;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    const auto idx = static_cast<uint32_t>(st->ColumnInt(0));
    FS_ASSIGN_OR_RETURN(DeviceId id, Id16::FromBytes(st->ColumnBlob(1), "device id"));
    if (loaded.size() <= idx) loaded.resize(idx + 1);
    loaded[idx] = DeviceEntry{id, static_cast<uint64_t>(st->ColumnInt(2)),
                              static_cast<uint64_t>(st->ColumnInt(3)), false};
    index[id] = idx;
    max_hlc = std::max(max_hlc, loaded[idx].max_hlc);
  }
  devices.swap(loaded);
  device_index.swap(index);
  // Timestamps written by another connection are ours to follow too.
  hlc.Restore(Hlc::FromPacked(max_hlc));
  return absl::OkStatus();
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
    // transaction can reappear when the file is next opened. Say so.
    return absl::Status(
        s.code(), absl::StrCat("the disk failed while saving, so the change may or may not "
                               "have been kept: look at the data again before retrying "
                               "(applying remote commits again is always safe). ",
                               s.message()));
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

std::optional<FieldVersion> Replica::Impl::ToFieldVersion(const SlotMeta& s) const {
  if (!s.set) return std::nullopt;
  FieldVersion fv{ToVersion(s.hlc, s.device), std::nullopt};
  if (s.has_base) fv.base = ToVersion(s.base_hlc, s.base_device);
  return fv;
}

static RowState NewRow(size_t n_slots) {
  RowState rs;
  rs.values.assign(n_slots, Value::Null());
  rs.written.assign(n_slots, nullptr);
  rs.slots.assign(n_slots, SlotMeta{});
  rs.loaded = ~uint64_t{0};  // every stored value of a new row is NULL
  return rs;
}

absl::StatusOr<RowState> Replica::Impl::LoadRow(size_t tidx, const RowId& row,
                                                bool all_values) {
  const TableDef& t = schema->tables()[tidx];
  const size_t n = t.columns.size() + 1;
  sqlite::ScopedStmt st(all_values ? tables[tidx].select_all : tables[tidx].select_meta);
  st->Reset();
  st->BindBlobStatic(1, row.view());
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  RowState rs = NewRow(n);
  if (!found) return rs;
  rs.exists = true;
  rs.values[0] = st->ColumnValue(0);
  rs.loaded = Bit(0);
  FS_RETURN_IF_ERROR(DecodeRowMeta(st->ColumnBlob(1), n, &rs.slots));
  if (all_values) {
    for (size_t i = 1; i < n; ++i) rs.values[i] = st->ColumnValue(static_cast<int>(i + 1));
    rs.loaded = ~uint64_t{0};
  }
  return rs;
}

absl::StatusOr<Value> Replica::Impl::StoredValue(size_t tidx, const RowId& row, size_t slot,
                                                RowState& rs) {
  if (!(rs.loaded & Bit(slot))) {
    const TableDef& t = schema->tables()[tidx];
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared(absl::StrCat(
                                     "SELECT ", Quote(t.columns[slot - 1].name), " FROM ",
                                     Quote(t.name), " WHERE id = ?1")));
    st->BindBlobStatic(1, row.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    rs.values[slot] = found ? st->ColumnValue(0) : Value::Null();
    rs.loaded |= Bit(slot);
  }
  return rs.values[slot];
}

absl::Status Replica::Impl::StoreRow(size_t tidx, const RowId& row, RowState& rs) {
  EncodeRowMeta(rs.slots, &meta_buf);
  if (!rs.exists) {
    sqlite::ScopedStmt st(tables[tidx].insert);
    st->BindBlobStatic(1, row.view());
    st->BindValueStatic(2, rs.ToStore(0));
    st->BindBlobStatic(3, meta_buf);
    for (size_t i = 1; i < rs.values.size(); ++i) {
      st->BindValueStatic(static_cast<int>(i + 3), rs.ToStore(i));
    }
    absl::Status s = st->Run();
    if (s.code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(absl::StrCat(
          AV(schema->tables()[tidx].name), " row ", row.ToString(),
          " already exists (a deleted row is restored, not created again)"));
    }
    FS_RETURN_IF_ERROR(s);
    rs.exists = true;
    return absl::OkStatus();
  }
  // Only the changed slots (and the version blob) are written.
  uint64_t changed = 0;
  for (size_t i = 0; i < rs.written.size(); ++i) {
    if (rs.written[i]) changed |= Bit(i);
  }
  // One cached statement per set of changed columns, up to a bound (a hub
  // meets many combinations); past it, a statement for this call only.
  std::unique_ptr<sqlite::Stmt> transient;
  sqlite::Stmt* stmt = nullptr;
  auto& cache = tables[tidx].update;
  if (auto it = cache.find(changed); it != cache.end()) stmt = it->second;
  if (stmt == nullptr) {
    const TableDef& t = schema->tables()[tidx];
    std::string sql = absl::StrCat("UPDATE ", Quote(t.name), " SET _ver = ?1");
    int param = 2;
    for (size_t s = 0; s < rs.values.size(); ++s) {
      if (!(changed & Bit(s))) continue;
      absl::StrAppend(&sql, ", ", s == 0 ? "_live" : Quote(t.columns[s - 1].name), " = ?",
                      param++);
    }
    absl::StrAppend(&sql, " WHERE id = ?", param);
    if (cache.size() < tuning::kMaxCachedUpdateStatements) {
      FS_ASSIGN_OR_RETURN(stmt, db->Statement(sql));
      cache[changed] = stmt;
    } else {
      FS_ASSIGN_OR_RETURN(transient, db->PrepareTransient(sql));
      stmt = transient.get();
    }
  }
  sqlite::ScopedStmt st(stmt);
  st->BindBlobStatic(1, meta_buf);
  int param = 2;
  for (size_t s = 0; s < rs.values.size(); ++s) {
    if (changed & Bit(s)) st->BindValueStatic(param++, *rs.written[s]);
  }
  st->BindBlobStatic(param, row.view());
  return st->Run();
}

absl::Status Replica::Impl::MergeRowChange(const Commit& c, uint32_t author, size_t tidx,
                                           const RowChange& rc, RowState& rs) {
  const TableDef& t = schema->tables()[tidx];
  const Version incoming = c.version();
  auto record_conflict = [&](const std::string& col, const Version& v,
                             const std::optional<Version>& base, const Value& value,
                             SlotMeta& slot) -> absl::Status {
    sqlite::Stmt* st = insert_conflict_;
    st->Reset();
    st->BindText(1, t.name);
    st->BindBlob(2, rc.row.view());
    st->BindText(3, col);
    st->BindInt(4, static_cast<int64_t>(v.hlc.packed()));
    st->BindBlob(5, v.device.view());
    if (base) {
      st->BindInt(6, static_cast<int64_t>(base->hlc.packed()));
      st->BindBlob(7, base->device.view());
    }
    st->BindValue(8, value);
    FS_RETURN_IF_ERROR(st->Run());
    slot.conflicts += static_cast<uint32_t>(db->Changes());
    return absl::OkStatus();
  };
  for (const FieldWrite& f : rc.fields) {
    const bool live = f.column == kLiveColumn;
    const size_t si = live ? 0 : static_cast<size_t>(t.ColumnIndex(f.column)) + 1;
    SlotMeta& slot = rs.slots[si];
    // Conflict records this write supersedes are settled, win or lose.
    if (slot.conflicts > 0) {
      std::vector<const Version*> superseded;
      if (f.base) superseded.push_back(&*f.base);
      for (const Version& r : f.resolves) superseded.push_back(&r);
      for (const Version* v : superseded) {
        sqlite::Stmt* st = delete_conflict_;
        st->Reset();
        st->BindText(1, t.name);
        st->BindBlob(2, rc.row.view());
        st->BindText(3, f.column);
        st->BindInt(4, static_cast<int64_t>(v->hlc.packed()));
        st->BindBlob(5, v->device.view());
        FS_RETURN_IF_ERROR(st->Run());
        const auto gone = static_cast<uint32_t>(db->Changes());
        slot.conflicts = slot.conflicts > gone ? slot.conflicts - gone : 0;
      }
    }
    const std::optional<FieldVersion> current = ToFieldVersion(slot);
    const MergeDecision d = DecideField(current, IncomingWrite{incoming, &f.base, &f.resolves});
    if (d.conflict == ConflictAction::kKeepCurrent) {
      FS_ASSIGN_OR_RETURN(Value replaced, StoredValue(tidx, rc.row, si, rs));
      FS_RETURN_IF_ERROR(
          record_conflict(f.column, current->version, current->base, replaced, slot));
    } else if (d.conflict == ConflictAction::kKeepIncoming) {
      FS_RETURN_IF_ERROR(record_conflict(f.column, incoming, f.base, f.value, slot));
    }
    if (d.incoming_wins) {
      rs.written[si] = &f.value;
      const uint32_t conflicts = slot.conflicts;
      slot = SlotMeta{};
      slot.set = true;
      slot.hlc = c.hlc.packed();
      slot.device = author;
      slot.conflicts = conflicts;
      if (f.base) {
        FS_ASSIGN_OR_RETURN(uint32_t bdev, DeviceIndex(f.base->device, /*create=*/true));
        slot.has_base = true;
        slot.base_hlc = f.base->hlc.packed();
        slot.base_device = bdev;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Replica::Impl::ApplyCommit(const Commit& c, std::vector<RowState>* preloaded) {
  FS_ASSIGN_OR_RETURN(uint32_t author, DeviceIndex(c.author, /*create=*/true));
  for (size_t i = 0; i < c.changes.size(); ++i) {
    const RowChange& rc = c.changes[i];
    const auto tidx = static_cast<size_t>(schema->TableIndex(rc.table));
    RowState rs;
    if (preloaded != nullptr) {
      rs = std::move((*preloaded)[i]);
    } else {
      FS_ASSIGN_OR_RETURN(rs, LoadRow(tidx, rc.row, /*all_values=*/false));
    }
    FS_RETURN_IF_ERROR(MergeRowChange(c, author, tidx, rc, rs));
    FS_RETURN_IF_ERROR(StoreRow(tidx, rc.row, rs));
  }
  body_buf.clear();
  EncodeCommitTo(c, &body_buf);
  insert_log_->Reset();
  insert_log_->BindInt(1, author);
  insert_log_->BindInt(2, static_cast<int64_t>(c.seq));
  insert_log_->BindInt(3, static_cast<int64_t>(c.hlc.packed()));
  insert_log_->BindBlobStatic(4, body_buf);
  FS_RETURN_IF_ERROR(insert_log_->Run());
  last_position = sqlite3_last_insert_rowid(db->raw());
  if (!c.signature.empty() && c.omitted.empty()) {
    insert_sig_->Reset();
    insert_sig_->BindInt(1, last_position);
    insert_sig_->BindBlobStatic(2, c.signature);
    FS_RETURN_IF_ERROR(insert_sig_->Run());
  }
  DeviceEntry& d = devices[author];
  d.max_seq = c.seq;
  d.max_hlc = std::max(d.max_hlc, c.hlc.packed());
  d.dirty = true;
  hlc.Restore(c.hlc);
  return absl::OkStatus();
}

absl::StatusOr<bool> Replica::Impl::RowExists(const std::string& table, const RowId& row) {
  const auto tidx = static_cast<size_t>(schema->TableIndex(table));
  sqlite::ScopedStmt st(tables[tidx].select_meta);
  st->BindBlobStatic(1, row.view());
  return st->Step();
}

absl::StatusOr<std::vector<Version>> Replica::Impl::OpenConflictVersions(std::string_view table,
                                                                         const RowId& row,
                                                                         std::string_view column) {
  FS_ASSIGN_OR_RETURN(auto st,
                      db->Prepared("SELECT hlc, device FROM _fs_conflicts WHERE tbl = ?1 AND "
                                   "row = ?2 AND col = ?3 ORDER BY hlc, device"));
  st->BindText(1, table);
  st->BindBlob(2, row.view());
  st->BindText(3, column);
  std::vector<Version> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(DeviceId dev, Id16::FromBytes(st->ColumnBlob(1), "conflict device"));
    out.push_back(Version{Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(0))), dev});
  }
  return out;
}

absl::StatusOr<Commit> Replica::Impl::BuildLocal(const LocalTxn& txn,
                                                 std::vector<RowState>* states) {
  if (txn.ops_.empty()) {
    return absl::InvalidArgumentError("an empty transaction writes nothing");
  }
  // The field writes of one row, by slot (a handful: a flat vector).
  struct SlotWrites {
    std::vector<std::pair<size_t, FieldWrite>> v;
    FieldWrite& operator[](size_t slot) {
      for (auto& [s, w] : v) {
        if (s == slot) return w;
      }
      v.emplace_back(slot, FieldWrite{});
      return v.back().second;
    }
    bool count(size_t slot) const {
      for (const auto& [s, w] : v) {
        if (s == slot) return true;
      }
      return false;
    }
    bool empty() const { return v.empty(); }
  };
  struct Pending {
    size_t tidx;
    RowId row;
    bool live;           // liveness after the ops so far
    SlotWrites writes;
  };
  std::vector<Pending> rows;
  std::vector<RowState> loaded;
  auto find_row = [&](size_t tidx, const RowId& id) -> Pending* {
    for (Pending& p : rows) {
      if (p.tidx == tidx && p.row == id) return &p;
    }
    return nullptr;
  };
  for (const LocalTxn::Op& op : txn.ops_) {
    const int ti = schema->TableIndex(op.table);
    if (ti < 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown table \"", op.table, "\""));
    }
    const auto tidx = static_cast<size_t>(ti);
    const TableDef& t = schema->tables()[tidx];
    if (op.row.is_nil()) {
      return absl::InvalidArgumentError(absl::StrCat("the nil id is not a row of ", AV(t.name)));
    }
    auto where = [&]() { return absl::StrCat(AV(t.name), " row ", op.row.ToString()); };
    Pending* p = find_row(tidx, op.row);
    if (p == nullptr) {
      RowState rs;
      if (op.kind == LocalTxn::Kind::kCreate) {
        // A new id (UUIDv7) is not looked up: if it exists after all, the
        // INSERT in StoreRow fails and the whole transaction is refused.
        rs = NewRow(t.columns.size() + 1);
      } else {
        FS_ASSIGN_OR_RETURN(rs, LoadRow(tidx, op.row, /*all_values=*/false));
      }
      const bool live = rs.exists && rs.values[0] == Value::Int(1);
      rows.push_back(Pending{tidx, op.row, live, {}});
      rows.back().writes.v.reserve(t.columns.size() + 1);
      loaded.push_back(std::move(rs));
      p = &rows.back();
    }
    const RowState& rs = loaded[static_cast<size_t>(p - rows.data())];
    const bool exists = rs.exists || !p->writes.empty();
    auto base_of = [&](size_t slot) -> std::optional<Version> {
      const std::optional<FieldVersion> fv = ToFieldVersion(rs.slots[slot]);
      if (!fv) return std::nullopt;
      return fv->version;
    };
    auto write = [&](size_t slot, std::string column, Value v) {
      FieldWrite& w = p->writes[slot];
      w.column = std::move(column);
      w.value = std::move(v);
      w.base = base_of(slot);
    };
    // A column with a coarse clear copy (schema version 4) writes the copy
    // in the same change, from the value before it is sealed.
    auto write_derived = [&](std::string_view source, const Value& value) {
      for (size_t di = 0; di < t.columns.size(); ++di) {
        const ColumnDef& d = t.columns[di];
        if (d.derived_from == source) write(di + 1, std::string(d.name), CoarseValue(d, value));
      }
    };
    auto write_fields = [&]() -> absl::Status {
      for (const auto& [name, value] : op.fields) {
        const int ci = t.ColumnIndex(name);
        if (ci < 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              "unknown column \"", name, "\" in table ", AV(t.name),
              name == kLiveColumn ? " (use delete or restore to change liveness)" : ""));
        }
        const ColumnDef& col = t.columns[static_cast<size_t>(ci)];
        if (!col.derived_from.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              AV(t.name), ".", name, " is written with ", AV(t.name), ".",
              AV(col.derived_from), " (its clear copy); write that instead"));
        }
        FS_RETURN_IF_ERROR(ValidateValue(t, col, value));
        write(static_cast<size_t>(ci) + 1, name, value);
        write_derived(name, value);
      }
      return absl::OkStatus();
    };
    // Where fields are sealed, a new row writes every sealed column, an
    // absent one as a sealed NULL: the hub cannot tell which fields a case
    // has (docs/CRYPTO.md, "Fields sealed in schema version 4"). Not a
    // column whose clear coarse copy shows anyway whether it is set.
    auto write_absent = [&]() {
      if (!security.seal) return;
      for (size_t ci = 0; ci < t.columns.size(); ++ci) {
        const ColumnDef& col = t.columns[ci];
        if (col.sensitivity == Sensitivity::kClear || p->writes.count(ci + 1)) continue;
        bool shown = false;
        for (const ColumnDef& d : t.columns) shown |= d.derived_from == col.name;
        if (!shown) write(ci + 1, std::string(col.name), Value::Null());
      }
    };
    switch (op.kind) {
      case LocalTxn::Kind::kCreate:
        if (exists) {
          return absl::AlreadyExistsError(absl::StrCat(
              where(), " already exists", p->live ? "" : " (deleted: restore it instead)"));
        }
        write(0, std::string(kLiveColumn), Value::Int(1));
        p->live = true;
        FS_RETURN_IF_ERROR(write_fields());
        write_absent();
        break;
      case LocalTxn::Kind::kSet:
        if (!exists) return absl::NotFoundError(absl::StrCat("no ", where()));
        if (!p->live) {
          return absl::FailedPreconditionError(
              absl::StrCat(where(), " is deleted; restore it before editing"));
        }
        if (op.fields.empty()) {
          return absl::InvalidArgumentError(absl::StrCat("no field to set in ", where()));
        }
        FS_RETURN_IF_ERROR(write_fields());
        break;
      case LocalTxn::Kind::kDelete:
        if (!exists) return absl::NotFoundError(absl::StrCat("no ", where()));
        if (!p->live) {
          return absl::FailedPreconditionError(absl::StrCat(where(), " is already deleted"));
        }
        write(0, std::string(kLiveColumn), Value::Int(0));
        p->live = false;
        // A tombstone clears every field that holds a version, so that a
        // concurrent edit of any of them meets this delete in the merge.
        for (size_t ci = 0; ci < t.columns.size(); ++ci) {
          if (rs.slots[ci + 1].set || p->writes.count(ci + 1)) {
            write(ci + 1, std::string(t.columns[ci].name), Value::Null());
          }
        }
        break;
      case LocalTxn::Kind::kRestore:
        if (!exists) return absl::NotFoundError(absl::StrCat("no ", where()));
        if (p->live) return absl::FailedPreconditionError(absl::StrCat(where(), " is not deleted"));
        write(0, std::string(kLiveColumn), Value::Int(1));
        p->live = true;
        FS_RETURN_IF_ERROR(write_fields());
        write_absent();
        break;
      case LocalTxn::Kind::kResolve: {
        if (!exists) return absl::NotFoundError(absl::StrCat("no ", where()));
        if (!p->live && op.fields.front().first != kLiveColumn) {
          return absl::FailedPreconditionError(absl::StrCat(
              where(), " is deleted; restore it (in the same transaction if you like) before "
                       "resolving its fields"));
        }
        const auto& [name, value] = op.fields.front();
        size_t slot;
        if (name == kLiveColumn) {
          FS_RETURN_IF_ERROR(ValidateLiveValue(t, value));
          slot = 0;
          p->live = value.int_value() == 1;
        } else {
          const int ci = t.ColumnIndex(name);
          if (ci < 0) {
            return absl::InvalidArgumentError(
                absl::StrCat("unknown column \"", name, "\" in table ", AV(t.name)));
          }
          FS_RETURN_IF_ERROR(ValidateValue(t, t.columns[static_cast<size_t>(ci)], value));
          slot = static_cast<size_t>(ci) + 1;
          write_derived(name, value);
        }
        FS_ASSIGN_OR_RETURN(std::vector<Version> open, OpenConflictVersions(t.name, op.row, name));
        if (open.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              where(), " has no open conflict on ", name, "; set the field instead"));
        }
        write(slot, name, value);
        p->writes[slot].resolves = std::move(open);
        break;
      }
    }
  }
  Commit c;
  c.author = self;
  c.seq = devices[self_idx].max_seq + 1;
  c.hlc = hlc.Now();
  c.changes.reserve(rows.size());
  for (Pending& p : rows) {
    RowChange rc;
    rc.table = std::string(schema->tables()[p.tidx].name);
    rc.row = p.row;
    // Fields in slot order (declaration order), without moving them twice.
    auto& writes = p.writes.v;
    std::vector<std::pair<size_t, FieldWrite*>> order;
    order.reserve(writes.size());
    for (auto& [slot, w] : writes) order.emplace_back(slot, &w);
    std::sort(order.begin(), order.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    rc.fields.reserve(writes.size());
    for (auto& [slot, w] : order) rc.fields.push_back(std::move(*w));
    c.changes.push_back(std::move(rc));
  }
  if (security.seal) {
    for (size_t i = 0; i < c.changes.size(); ++i) {
      RowChange& rc = c.changes[i];
      const size_t tidx = rows[i].tidx;
      const TableDef& t = schema->tables()[tidx];
      auto row_value = [&](std::string_view column) -> absl::StatusOr<Value> {
        for (const FieldWrite& f : rc.fields) {
          if (f.column == column) return f.value;
        }
        const int ci = t.ColumnIndex(column);
        if (ci < 0) return absl::InternalError(absl::StrCat("no column ", AV(column)));
        return StoredValue(tidx, rc.row, static_cast<size_t>(ci) + 1, loaded[i]);
      };
      // A tombstone's NULLs are not sealed: they clear every field that
      // holds a version, which a live row's sealed NULLs made all of them.
      bool tombstone = false;
      for (const FieldWrite& f : rc.fields) {
        tombstone |= f.column == kLiveColumn && f.value == Value::Int(0);
      }
      for (FieldWrite& f : rc.fields) {
        if (f.column == kLiveColumn || (tombstone && f.value.is_null())) continue;
        const ColumnDef* col = t.FindColumn(f.column);
        if (col == nullptr || col->sensitivity == Sensitivity::kClear) continue;
        SealRequest req;
        req.table = &t;
        req.column = col;
        req.row = rc.row;
        req.version = c.version();
        req.value = &f.value;
        req.row_value = row_value;
        FS_ASSIGN_OR_RETURN(std::optional<Value> sealed, security.seal(req));
        if (sealed) f.value = std::move(*sealed);
      }
    }
  }
  *states = std::move(loaded);
  return c;
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

absl::StatusOr<Commit> Replica::Write(const LocalTxn& txn) {
  FS_ASSIGN_OR_RETURN(std::vector<Commit> commits, WriteMany({txn}));
  return std::move(commits.front());
}

absl::StatusOr<std::vector<Commit>> Replica::WriteMany(const std::vector<LocalTxn>& txns) {
  Impl& m = *impl_;
  std::vector<Commit> out;
  out.reserve(txns.size());
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    std::vector<RowState> states;
    for (const LocalTxn& txn : txns) {
      FS_ASSIGN_OR_RETURN(Commit c, m.BuildLocal(txn, &states));
      if (m.security.sign) {
        FS_ASSIGN_OR_RETURN(c.signature, m.security.sign(c));
      }
      FS_RETURN_IF_ERROR(m.ApplyCommit(c, &states));
      out.push_back(std::move(c));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<bool> Replica::Impl::ApplyInTxn(sqlite::Transaction&,
                                               const std::vector<const Commit*>& commits,
                                               bool allow_gaps, const ApplyHooks* hooks,
                                               std::vector<ApplyOutcome>* outcomes) {
  outcomes->assign(commits.size(), ApplyOutcome::kDeferred);
  std::vector<size_t> pending(commits.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  bool progress = true;
  while (progress && !pending.empty()) {
    progress = false;
    std::vector<size_t> still;
    // With gaps allowed, an author's commits still apply in sequence order:
    // once one of an author's commits waits, its later ones wait too (else
    // the earlier one would afterwards look like a duplicate, and be lost).
    absl::flat_hash_set<DeviceId> waiting;
    for (size_t i : pending) {
      const Commit& c = *commits[i];
      auto it = device_index.find(c.author);
      const uint64_t have = it == device_index.end() ? 0 : devices[it->second].max_seq;
      if (c.seq <= have) {
        (*outcomes)[i] = ApplyOutcome::kDuplicate;
        continue;
      }
      bool ready = allow_gaps ? waiting.count(c.author) == 0 : c.seq == have + 1;
      for (size_t k = 0; ready && k < c.changes.size(); ++k) {
        // True once something of this row change proves the row is (or is
        // being) created here: a write of _live, or a base or resolved
        // version (held, so the row that carries it is held too).
        bool anchored = false;
        for (const FieldWrite& f : c.changes[k].fields) {
          anchored |= f.column == kLiveColumn || f.base || !f.resolves.empty();
          if (f.base && !Knows(*f.base)) ready = false;
          for (const Version& r : f.resolves) {
            if (!Knows(r)) ready = false;
          }
        }
        // An edit of fields never written before carries no base: it waits
        // for the row's creation by looking the row up.
        if (ready && !anchored) {
          FS_ASSIGN_OR_RETURN(bool held, RowExists(c.changes[k].table, c.changes[k].row));
          ready = held;
        }
      }
      if (!ready) {
        if (allow_gaps) waiting.insert(c.author);
        still.push_back(i);
        continue;
      }
      if (hooks != nullptr && hooks->before) FS_RETURN_IF_ERROR(hooks->before(c));
      FS_RETURN_IF_ERROR(ApplyCommit(c, nullptr));
      if (hooks != nullptr && hooks->after) FS_RETURN_IF_ERROR(hooks->after(c, last_position));
      (*outcomes)[i] = ApplyOutcome::kApplied;
      progress = true;
    }
    pending.swap(still);
  }
  return !pending.empty();
}

absl::Status Replica::Impl::SetCursorInTxn(sqlite::Transaction&, const std::string& name,
                                           int64_t value) {
  FS_ASSIGN_OR_RETURN(auto st,
                      db->Prepared("INSERT INTO _fs_cursors(name, value) VALUES (?1, ?2) "
                                   "ON CONFLICT(name) DO UPDATE SET value = excluded.value"));
  st->BindText(1, name);
  st->BindInt(2, value);
  return st->Run();
}

namespace {

// Everything in a batch is checked before anything is written.
absl::Status ValidateBatch(const Schema& schema, HybridClock& hlc,
                           const std::vector<const Commit*>& commits,
                           const CommitSecurity* security = nullptr) {
  for (size_t i = 0; i < commits.size(); ++i) {
    const Commit& c = *commits[i];
    absl::Status s = ValidateCommit(schema, c);
    if (s.ok() && security != nullptr && security->verify) s = security->verify(c, 0);
    if (s.ok() && hlc.TooFarAhead(c.hlc)) {
      s = hlc.Check(c.hlc, absl::StrCat("device ", c.author.ToString()));
    }
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("batch refused, nothing applied: commit ", i,
                                                 " of ", commits.size(), ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ApplyResult> Replica::Apply(
    const std::vector<Commit>& commits, std::optional<std::pair<std::string, int64_t>> cursor,
    const ApplyHooks* hooks) {
  Impl& m = *impl_;
  std::vector<const Commit*> ptrs;
  ptrs.reserve(commits.size());
  for (const Commit& c : commits) ptrs.push_back(&c);
  FS_RETURN_IF_ERROR(ValidateBatch(*m.schema, m.hlc, ptrs, &m.security));
  ApplyResult result;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    FS_ASSIGN_OR_RETURN(bool deferred, m.ApplyInTxn(txn, ptrs, /*allow_gaps=*/false, hooks,
                                                    &result.outcomes));
    // A cursor past a deferred commit would skip it for good: the cursor
    // moves only when every commit of the batch is held.
    if (cursor && !deferred) {
      FS_RETURN_IF_ERROR(m.SetCursorInTxn(txn, cursor->first, cursor->second));
      result.cursor_set = true;
    }
    if (hooks != nullptr && hooks->at_end) FS_RETURN_IF_ERROR(hooks->at_end());
    return absl::OkStatus();
  }));
  for (ApplyOutcome o : result.outcomes) {
    if (o == ApplyOutcome::kApplied) ++result.applied;
    if (o == ApplyOutcome::kDuplicate) ++result.duplicates;
    if (o == ApplyOutcome::kDeferred) ++result.deferred;
  }
  return result;
}

absl::Status Replica::Impl::Learn(const Version& v) {
  FS_ASSIGN_OR_RETURN(uint32_t idx, DeviceIndex(v.device, /*create=*/true));
  DeviceEntry& d = devices[idx];
  if (d.max_hlc < v.hlc.packed()) {
    d.max_hlc = v.hlc.packed();
    d.dirty = true;
  }
  hlc.Restore(v.hlc);
  return absl::OkStatus();
}

absl::Status Replica::Impl::ReplayUnpushed(sqlite::Transaction&, const std::string& pushed_cursor,
                                           const std::set<std::pair<size_t, RowId>>* only) {
  uint64_t pushed = 0;
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT value FROM _fs_cursors WHERE name = ?1"));
    st->BindText(1, pushed_cursor);
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (found) pushed = static_cast<uint64_t>(st->ColumnInt(0));
  }
  if (pushed >= devices[self_idx].max_seq) return absl::OkStatus();
  std::vector<Commit> mine;
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT body FROM _fs_log WHERE device = ?1 AND "
                                              "seq > ?2 ORDER BY seq"));
    st->BindInt(1, self_idx);
    st->BindInt(2, static_cast<int64_t>(pushed));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(st->ColumnBlob(0)));
      mine.push_back(std::move(c));
    }
  }
  for (const Commit& c : mine) {
    for (const RowChange& rc : c.changes) {
      const auto tidx = static_cast<size_t>(schema->TableIndex(rc.table));
      if (only != nullptr && only->count({tidx, rc.row}) == 0) continue;
      FS_ASSIGN_OR_RETURN(RowState rs, LoadRow(tidx, rc.row, /*all_values=*/false));
      // A row the hub's state no longer has (collected, or out of scope)
      // is not brought back by an edit; only a change that creates it is.
      if (!rs.exists) {
        bool creates = false;
        for (const FieldWrite& f : rc.fields) creates |= f.column == kLiveColumn;
        if (!creates) continue;
      }
      FS_RETURN_IF_ERROR(MergeRowChange(c, self_idx, tidx, rc, rs));
      FS_RETURN_IF_ERROR(StoreRow(tidx, rc.row, rs));
    }
  }
  return absl::OkStatus();
}

absl::Status Replica::Impl::ResetReplicated(sqlite::Transaction&) {
  for (const TableDef& t : schema->tables()) {
    FS_RETURN_IF_ERROR(db->Exec(absl::StrCat("DELETE FROM ", Quote(t.name))));
  }
  FS_RETURN_IF_ERROR(db->Exec("DELETE FROM _fs_conflicts"));
  return db->Exec("DELETE FROM _fs_installed");
}

absl::Status Replica::Impl::InstallRow(sqlite::Transaction&, const RowSnapshot& snap,
                                       int64_t position, bool absent) {
  const int ti = schema->TableIndex(snap.table);
  if (ti < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("installed row of unknown table \"", snap.table, "\""));
  }
  const auto tidx = static_cast<size_t>(ti);
  const TableDef& t = schema->tables()[tidx];
  if (snap.row.is_nil()) {
    return absl::InvalidArgumentError(absl::StrCat("installed ", AV(t.name), " row has the nil id"));
  }
  RowState rs = NewRow(t.columns.size() + 1);
  bool has_live = false;
  for (const FieldState& f : snap.fields) {
    size_t slot = 0;
    if (f.column == kLiveColumn) {
      FS_RETURN_IF_ERROR(ValidateLiveValue(t, f.value));
      has_live = true;
    } else {
      const int ci = t.ColumnIndex(f.column);
      if (ci < 0) {
        return absl::InvalidArgumentError(absl::StrCat("installed ", AV(t.name),
                                                       " row has unknown column \"", f.column,
                                                       "\""));
      }
      FS_RETURN_IF_ERROR(ValidateValue(t, t.columns[static_cast<size_t>(ci)], f.value));
      slot = static_cast<size_t>(ci) + 1;
    }
    if (rs.slots[slot].set) {
      return absl::InvalidArgumentError(absl::StrCat("installed ", AV(t.name), " row ",
                                                     snap.row.ToString(), " names field ",
                                                     f.column, " twice"));
    }
    if (hlc.TooFarAhead(f.version.version.hlc)) {
      return hlc.Check(f.version.version.hlc,
                       absl::StrCat("device ", f.version.version.device.ToString()));
    }
    FS_ASSIGN_OR_RETURN(uint32_t dev, DeviceIndex(f.version.version.device, /*create=*/true));
    SlotMeta& m = rs.slots[slot];
    m.set = true;
    m.hlc = f.version.version.hlc.packed();
    m.device = dev;
    if (f.version.base) {
      FS_ASSIGN_OR_RETURN(uint32_t bdev, DeviceIndex(f.version.base->device, /*create=*/true));
      m.has_base = true;
      m.base_hlc = f.version.base->hlc.packed();
      m.base_device = bdev;
      FS_RETURN_IF_ERROR(Learn(*f.version.base));
    }
    FS_RETURN_IF_ERROR(Learn(f.version.version));
    rs.values[slot] = f.value;
  }
  if (!has_live) {
    return absl::InvalidArgumentError(absl::StrCat("installed ", AV(t.name), " row ",
                                                   snap.row.ToString(), " has no _live field"));
  }
  // Replaces whatever this replica had of the row.
  if (!absent) {
    FS_ASSIGN_OR_RETURN(auto del, db->Prepared(absl::StrCat("DELETE FROM ", Quote(t.name),
                                                            " WHERE id = ?1")));
    del->BindBlob(1, snap.row.view());
    FS_RETURN_IF_ERROR(del->Run());
    FS_ASSIGN_OR_RETURN(auto delc,
                        db->Prepared("DELETE FROM _fs_conflicts WHERE tbl = ?1 AND row = ?2"));
    delc->BindText(1, t.name);
    delc->BindBlob(2, snap.row.view());
    FS_RETURN_IF_ERROR(delc->Run());
  }
  for (const ConflictRecord& c : snap.conflicts) {
    size_t slot = 0;
    if (c.table != t.name || c.row != snap.row) {
      return absl::InvalidArgumentError(absl::StrCat("installed ", AV(t.name), " row ",
                                                     snap.row.ToString(),
                                                     " carries a conflict record of another row"));
    }
    if (c.column != kLiveColumn) {
      const int ci = t.ColumnIndex(c.column);
      if (ci < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("conflict record of unknown column \"", c.column, "\""));
      }
      FS_RETURN_IF_ERROR(ValidateValue(t, t.columns[static_cast<size_t>(ci)], c.value));
      slot = static_cast<size_t>(ci) + 1;
    }
    sqlite::Stmt* st = insert_conflict_;
    st->Reset();
    st->BindText(1, t.name);
    st->BindBlob(2, snap.row.view());
    st->BindText(3, c.column);
    st->BindInt(4, static_cast<int64_t>(c.version.hlc.packed()));
    st->BindBlob(5, c.version.device.view());
    if (c.base) {
      st->BindInt(6, static_cast<int64_t>(c.base->hlc.packed()));
      st->BindBlob(7, c.base->device.view());
      FS_RETURN_IF_ERROR(Learn(*c.base));
    }
    st->BindValue(8, c.value);
    FS_RETURN_IF_ERROR(st->Run());
    rs.slots[slot].conflicts += static_cast<uint32_t>(db->Changes());
    FS_RETURN_IF_ERROR(Learn(c.version));
  }
  FS_RETURN_IF_ERROR(StoreRow(tidx, snap.row, rs));
  if (position > 0) {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("INSERT INTO _fs_installed(tbl, row, position) "
                                              "VALUES (?1, ?2, ?3) ON CONFLICT(tbl, row) DO "
                                              "UPDATE SET position = excluded.position"));
    st->BindText(1, t.name);
    st->BindBlob(2, snap.row.view());
    st->BindInt(3, position);
    FS_RETURN_IF_ERROR(st->Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<PullResult> Replica::ApplyPulled(const PulledBatch& batch) {
  Impl& m = *impl_;
  PullResult result;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    if (batch.reset) FS_RETURN_IF_ERROR(m.ResetReplicated(txn));
    for (const auto& [table, row] : batch.purged) {
      const TableDef* t = m.schema->FindTable(table);
      if (t == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("purged row of unknown table \"", table,
                                                       "\""));
      }
      FS_ASSIGN_OR_RETURN(auto del, m.db->Prepared(absl::StrCat(
                                        "DELETE FROM ", Quote(t->name), " WHERE id = ?1 AND "
                                        "_live = 0")));
      del->BindBlob(1, row.view());
      FS_RETURN_IF_ERROR(del->Run());
      if (m.db->Changes() == 0) continue;
      ++result.tombstones_purged;
      for (const char* sql : {"DELETE FROM _fs_conflicts WHERE tbl = ?1 AND row = ?2",
                              "DELETE FROM _fs_installed WHERE tbl = ?1 AND row = ?2"}) {
        FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(sql));
        st->BindText(1, table);
        st->BindBlob(2, row.view());
        FS_RETURN_IF_ERROR(st->Run());
      }
    }
    std::set<std::pair<size_t, RowId>> installed;
    for (const RowSnapshot& r : batch.rows) {
      // After a reset in this transaction the tables hold only rows
      // installed by it, each once: no need to remove an old version.
      FS_RETURN_IF_ERROR(m.InstallRow(txn, r, batch.rows_position, /*absent=*/batch.reset));
      installed.emplace(static_cast<size_t>(m.schema->TableIndex(r.table)), r.row);
      ++result.rows_installed;
    }
    // The hub's state holds every commit of this device it acknowledged, and
    // none written since: those are merged again on top of what was reset or
    // installed, so that installing never hides local work.
    if ((batch.reset || !installed.empty()) && !batch.pushed_cursor.empty()) {
      FS_RETURN_IF_ERROR(
          m.ReplayUnpushed(txn, batch.pushed_cursor, batch.reset ? nullptr : &installed));
    }
    // Row changes already contained in an installed row are dropped.
    if (m.security.verify) {
      for (const auto& [position, c] : batch.commits) {
        absl::Status s = m.security.verify(c, position);
        if (!s.ok()) {
          return absl::Status(s.code(), absl::StrCat("pulled batch refused, nothing applied: ",
                                                     "commit at hub position ", position, ": ",
                                                     s.message()));
        }
      }
    }
    std::vector<Commit> trimmed;
    std::vector<const Commit*> ptrs;
    trimmed.reserve(batch.commits.size());
    {
      FS_ASSIGN_OR_RETURN(auto any, m.db->Prepared("SELECT 1 FROM _fs_installed LIMIT 1"));
      FS_ASSIGN_OR_RETURN(bool have_installed, any->Step());
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT position FROM _fs_installed WHERE "
                                                  "tbl = ?1 AND row = ?2"));
      for (const auto& [position, c] : batch.commits) {
        if (!have_installed) {
          ptrs.push_back(&c);
          continue;
        }
        Commit kept = c;
        kept.changes.clear();
        kept.signature.clear();  // no longer the signed whole
        kept.omitted.clear();
        for (const RowChange& rc : c.changes) {
          st->Reset();
          st->BindText(1, rc.table);
          st->BindBlob(2, rc.row.view());
          FS_ASSIGN_OR_RETURN(bool found, st->Step());
          if (found && st->ColumnInt(0) >= position) {
            ++result.changes_skipped;
            continue;
          }
          kept.changes.push_back(rc);
        }
        if (kept.changes.empty()) {
          // Entirely contained in installed rows: its versions are known.
          FS_RETURN_IF_ERROR(m.Learn(c.version()));
          continue;
        }
        trimmed.push_back(std::move(kept));
      }
      for (const Commit& c : trimmed) ptrs.push_back(&c);
    }
    FS_RETURN_IF_ERROR(ValidateBatch(*m.schema, m.hlc, ptrs));
    std::vector<ApplyOutcome> outcomes;
    FS_ASSIGN_OR_RETURN(bool deferred, m.ApplyInTxn(txn, ptrs, /*allow_gaps=*/true, nullptr, &outcomes));
    for (ApplyOutcome o : outcomes) {
      if (o == ApplyOutcome::kApplied) ++result.applied;
      if (o == ApplyOutcome::kDuplicate) ++result.duplicates;
      if (o == ApplyOutcome::kDeferred) ++result.deferred;
    }
    if (!batch.cursors.empty() && !deferred) {
      for (const auto& [name, value] : batch.cursors) {
        FS_RETURN_IF_ERROR(m.SetCursorInTxn(txn, name, value));
      }
      result.cursor_set = true;
    }
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<std::optional<RowSnapshot>> Replica::Impl::ExportRowInTxn(size_t tidx,
                                                                        const RowId& row) {
  const TableDef& t = schema->tables()[tidx];
  FS_ASSIGN_OR_RETURN(RowState rs, LoadRow(tidx, row, /*all_values=*/true));
  if (!rs.exists) return std::optional<RowSnapshot>();
  RowSnapshot snap;
  snap.table = std::string(t.name);
  snap.row = row;
  bool any_conflicts = false;
  for (size_t i = 0; i < rs.slots.size(); ++i) {
    const std::optional<FieldVersion> fv = ToFieldVersion(rs.slots[i]);
    any_conflicts |= rs.slots[i].conflicts > 0;
    if (!fv) continue;
    snap.fields.push_back(FieldState{i == 0 ? std::string(kLiveColumn)
                                            : std::string(t.columns[i - 1].name),
                                     std::move(rs.values[i]), *fv});
  }
  if (any_conflicts) {
    FS_ASSIGN_OR_RETURN(
        auto st, db->Prepared("SELECT col, hlc, device, base_hlc, base_device, value FROM "
                              "_fs_conflicts WHERE tbl = ?1 AND row = ?2 ORDER BY col, hlc, "
                              "device"));
    st->BindText(1, t.name);
    st->BindBlob(2, row.view());
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      ConflictRecord c;
      c.table = snap.table;
      c.row = row;
      c.column = st->ColumnString(0);
      c.version.hlc = Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(1)));
      FS_ASSIGN_OR_RETURN(c.version.device, Id16::FromBytes(st->ColumnBlob(2), "conflict device"));
      if (!st->ColumnIsNull(3)) {
        Version b;
        b.hlc = Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(3)));
        FS_ASSIGN_OR_RETURN(b.device, Id16::FromBytes(st->ColumnBlob(4), "conflict base device"));
        c.base = b;
      }
      c.value = st->ColumnValue(5);
      snap.conflicts.push_back(std::move(c));
    }
  }
  return std::optional<RowSnapshot>(std::move(snap));
}

absl::StatusOr<std::optional<RowSnapshot>> Replica::ExportRow(const std::string& table,
                                                              const RowId& row) {
  Impl& m = *impl_;
  const int ti = m.schema->TableIndex(table);
  if (ti < 0) return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  std::optional<RowSnapshot> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(out, m.ExportRowInTxn(static_cast<size_t>(ti), row));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status Replica::ReadTransaction(const std::function<absl::Status()>& read) {
  return impl_->InReadTxn(read);
}

absl::StatusOr<int64_t> Replica::LogHead() {
  FS_ASSIGN_OR_RETURN(auto st, impl_->db->Prepared("SELECT coalesce(max(pos), 0) FROM _fs_log"));
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  return r ? st->ColumnInt(0) : int64_t{0};
}

absl::StatusOr<std::vector<Replica::RawEntry>> Replica::RawLogAfter(int64_t after_pos,
                                                                    size_t limit) {
  Impl& m = *impl_;
  std::vector<RawEntry> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st,
                        m.db->Prepared("SELECT l.pos, l.device, l.body, s.sig FROM _fs_log l "
                                       "LEFT JOIN _fs_signatures s ON s.pos = l.pos "
                                       "WHERE l.pos > ?1 ORDER BY l.pos LIMIT ?2"));
    st->BindInt(1, after_pos);
    st->BindInt(2, static_cast<int64_t>(limit));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      const auto idx = static_cast<size_t>(st->ColumnInt(1));
      if (idx == 0 || idx >= m.devices.size()) {
        return absl::DataLossError(absl::StrCat("log entry ", st->ColumnInt(0),
                                                " names an unknown device index ", idx));
      }
      out.push_back(RawEntry{st->ColumnInt(0), m.devices[idx].id, st->ColumnString(2),
                             st->ColumnIsNull(3) ? std::string() : st->ColumnString(3)});
    }
    return absl::OkStatus();
  }));
  return out;
}

sqlite::Db& Replica::db() { return *impl_->db; }

absl::StatusOr<std::optional<Row>> Replica::Get(const std::string& table, const RowId& row) {
  Impl& m = *impl_;
  const int ti = m.schema->TableIndex(table);
  if (ti < 0) return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  std::optional<Row> out;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(RowState rs,
                        m.LoadRow(static_cast<size_t>(ti), row, /*all_values=*/true));
    if (!rs.exists) return absl::OkStatus();
    Row r;
    r.id = row;
    r.live = rs.values[0] == Value::Int(1);
    r.live_version = m.ToFieldVersion(rs.slots[0]);
    for (size_t i = 1; i < rs.values.size(); ++i) {
      r.values.push_back(std::move(rs.values[i]));
      r.versions.push_back(m.ToFieldVersion(rs.slots[i]));
    }
    out = std::move(r);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<RowId>> Replica::ListRows(const std::string& table,
                                                     bool include_deleted) {
  Impl& m = *impl_;
  const TableDef* t = m.schema->FindTable(table);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  FS_ASSIGN_OR_RETURN(auto st,
                      m.db->Prepared(absl::StrCat("SELECT id FROM ", Quote(t->name),
                                                  include_deleted ? "" : " WHERE _live = 1",
                                                  " ORDER BY id")));
  std::vector<RowId> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), "row id"));
    out.push_back(id);
  }
  return out;
}

absl::StatusOr<std::vector<RowId>> Replica::RowsWhere(const std::string& table,
                                                      const std::string& column,
                                                      const Value& value, bool include_deleted) {
  Impl& m = *impl_;
  const TableDef* t = m.schema->FindTable(table);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  if (t->FindColumn(column) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no column \"", column, "\" in ", table));
  }
  FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(absl::StrCat(
                                   "SELECT id FROM ", Quote(t->name), " WHERE ", Quote(column),
                                   " = ?1", include_deleted ? "" : " AND _live = 1",
                                   " ORDER BY _live DESC, id")));
  st->BindValue(1, value);
  std::vector<RowId> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), "row id"));
    out.push_back(id);
  }
  return out;
}

absl::StatusOr<std::vector<ConflictRecord>> Replica::Conflicts(
    const std::optional<std::string>& table, const std::optional<RowId>& row) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(
      auto st,
      m.db->Prepared("SELECT tbl, row, col, hlc, device, base_hlc, base_device, value "
                     "FROM _fs_conflicts WHERE (?1 IS NULL OR tbl = ?1) AND "
                     "(?2 IS NULL OR row = ?2) ORDER BY tbl, row, col, hlc, device"));
  if (table) st->BindText(1, *table);
  if (row) st->BindBlob(2, row->view());
  std::vector<ConflictRecord> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    ConflictRecord c;
    c.table = st->ColumnString(0);
    FS_ASSIGN_OR_RETURN(c.row, Id16::FromBytes(st->ColumnBlob(1), "conflict row"));
    c.column = st->ColumnString(2);
    c.version.hlc = Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(3)));
    FS_ASSIGN_OR_RETURN(c.version.device, Id16::FromBytes(st->ColumnBlob(4), "conflict device"));
    if (!st->ColumnIsNull(5)) {
      Version b;
      b.hlc = Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(5)));
      FS_ASSIGN_OR_RETURN(b.device, Id16::FromBytes(st->ColumnBlob(6), "conflict base device"));
      c.base = b;
    }
    c.value = st->ColumnValue(7);
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::vector<Commit>> Replica::LocalCommitsAfter(uint64_t after_seq,
                                                               size_t limit) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(auto st,
                      m.db->Prepared("SELECT l.body, s.sig FROM _fs_log l LEFT JOIN _fs_signatures s "
                                     "ON s.pos = l.pos WHERE l.device = ?1 AND l.seq > ?2 "
                                     "ORDER BY l.seq LIMIT ?3"));
  st->BindInt(1, m.self_idx);
  st->BindInt(2, static_cast<int64_t>(after_seq));
  st->BindInt(3, static_cast<int64_t>(limit));
  std::vector<Commit> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(st->ColumnBlob(0)));
    if (!st->ColumnIsNull(1)) c.signature = st->ColumnString(1);
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<int64_t, Commit>>> Replica::LogAfter(int64_t after_pos,
                                                                          size_t limit) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(auto st,
                      m.db->Prepared("SELECT l.pos, l.body, s.sig FROM _fs_log l LEFT JOIN _fs_signatures s "
                                     "ON s.pos = l.pos WHERE l.pos > ?1 ORDER BY l.pos LIMIT ?2"));
  st->BindInt(1, after_pos);
  st->BindInt(2, static_cast<int64_t>(limit));
  std::vector<std::pair<int64_t, Commit>> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(st->ColumnBlob(1)));
    if (!st->ColumnIsNull(2)) c.signature = st->ColumnString(2);
    out.emplace_back(st->ColumnInt(0), std::move(c));
  }
  return out;
}

absl::Status Replica::SetCursor(const std::string& name, int64_t value) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(auto st,
                      m.db->Prepared("INSERT INTO _fs_cursors(name, value) VALUES (?1, ?2) "
                                     "ON CONFLICT(name) DO UPDATE SET value = excluded.value"));
  st->BindText(1, name);
  st->BindInt(2, value);
  return st->Run();
}

absl::StatusOr<int64_t> Replica::GetCursor(const std::string& name) {
  Impl& m = *impl_;
  FS_ASSIGN_OR_RETURN(auto st,
                      m.db->Prepared("SELECT value FROM _fs_cursors WHERE name = ?1"));
  st->BindText(1, name);
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  return r ? st->ColumnInt(0) : 0;
}

namespace {

class Hasher {
 public:
  Hasher() { crypto_generichash_init(&st_, nullptr, 0, crypto_generichash_BYTES); }
  void Bytes(std::string_view b) {
    U64(b.size());
    crypto_generichash_update(&st_, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  }
  void U64(uint64_t v) {
    unsigned char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<unsigned char>(v >> (8 * i));
    crypto_generichash_update(&st_, buf, sizeof(buf));
  }
  void Val(const Value& v) {
    U64(static_cast<uint64_t>(v.kind()));
    if (v.kind() == Value::Kind::kInt) U64(static_cast<uint64_t>(v.int_value()));
    if (v.kind() == Value::Kind::kText || v.kind() == Value::Kind::kBytes) Bytes(v.str());
  }
  void Ver(const std::optional<Version>& v) {
    U64(v ? 1 : 0);
    if (v) {
      U64(v->hlc.packed());
      Bytes(v->device.view());
    }
  }
  std::string HexDigest() {
    unsigned char out[crypto_generichash_BYTES];
    crypto_generichash_final(&st_, out, sizeof(out));
    char hex[2 * crypto_generichash_BYTES + 1];
    sodium_bin2hex(hex, sizeof(hex), out, sizeof(out));
    return hex;
  }

 private:
  crypto_generichash_state st_;
};

}  // namespace

absl::StatusOr<std::string> Replica::StateDigest() {
  Impl& m = *impl_;
  Hasher h;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    for (size_t ti = 0; ti < m.schema->tables().size(); ++ti) {
      const TableDef& t = m.schema->tables()[ti];
      h.Bytes(t.name);
      std::string cols;
      for (const ColumnDef& c : t.columns) absl::StrAppend(&cols, ", ", Quote(c.name));
      FS_ASSIGN_OR_RETURN(auto st,
                          m.db->Prepared(absl::StrCat("SELECT id, _live, _ver", cols, " FROM ",
                                                      Quote(t.name), " ORDER BY id")));
      const size_t n = t.columns.size() + 1;
      std::vector<SlotMeta> slots;
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        h.Bytes(st->ColumnBlob(0));
        FS_RETURN_IF_ERROR(DecodeRowMeta(st->ColumnBlob(2), n, &slots));
        for (size_t i = 0; i < n; ++i) {
          h.Val(st->ColumnValue(i == 0 ? 1 : static_cast<int>(i + 2)));
          const std::optional<FieldVersion> fv = m.ToFieldVersion(slots[i]);
          h.Ver(fv ? std::optional<Version>(fv->version) : std::nullopt);
          h.Ver(fv ? fv->base : std::nullopt);
        }
      }
    }
    h.Bytes("_fs_conflicts");
    FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> conflicts, Conflicts());
    for (const ConflictRecord& c : conflicts) {
      h.Bytes(c.table);
      h.Bytes(c.row.view());
      h.Bytes(c.column);
      h.Ver(c.version);
      h.Ver(c.base);
      h.Val(c.value);
    }
    return absl::OkStatus();
  }));
  return h.HexDigest();
}

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
