// Loading, merging and storing one row: the core every write path shares
// (local writes, applied commits, replayed local commits after an install).
#include <set>

#include "store/replica_impl.h"

namespace fieldsync {

std::optional<FieldVersion> Replica::Impl::ToFieldVersion(const SlotMeta& s) const {
  if (!s.set) return std::nullopt;
  FieldVersion fv{ToVersion(s.hlc, s.device), std::nullopt};
  if (s.has_base) fv.base = ToVersion(s.base_hlc, s.base_device);
  return fv;
}

absl::StatusOr<RowState> Replica::Impl::LoadRow(size_t tidx, const RowId& row,
                                                bool all_values) {
  const TableDef& t = schema->tables()[tidx];
  const size_t n = t.columns.size() + 1;
  FS_ASSIGN_OR_RETURN(sqlite::Stmt * stmt,
                      TableStatement(tidx, all_values ? TableStmt::kSelectAll
                                                      : TableStmt::kSelectMeta));
  sqlite::ScopedStmt st(stmt);
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
    FS_ASSIGN_OR_RETURN(sqlite::Stmt * insert, TableStatement(tidx, TableStmt::kInsert));
    sqlite::ScopedStmt st(insert);
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

// ---------------------------------------------------------------------------
// The merge engine's storage (merge/commit_merge.h): the same statements,
// in the same order, as when the merge ran here, so that the file's bytes
// (row version blobs, device indexes, conflict records, log) are unchanged.

std::optional<FieldVersion> ReplicaMergeRow::Current(size_t slot) const {
  return m_.ToFieldVersion(rs_->slots[slot]);
}

absl::StatusOr<Value> ReplicaMergeRow::CurrentValue(size_t slot) {
  return m_.StoredValue(tidx_, row_, slot, *rs_);
}

std::string_view ReplicaMergeRow::Column(size_t slot) const {
  if (slot == 0) return kLiveColumn;
  return m_.schema->tables()[tidx_].columns[slot - 1].name;
}

// The field's history walked back through this replica's log, from its
// winner and from each of its open conflict records (their bases known from
// the row and the records, then each logged write's base and resolved
// versions). A base is older than its write, so the walk stops at versions
// older than `older`; bounded besides.
absl::StatusOr<bool> ReplicaMergeRow::SupersededHere(size_t slot, const Version& older) {
  const std::optional<FieldVersion> winner = Current(slot);
  if (!winner || !(older < winner->version)) return false;
  const TableDef& t = m_.schema->tables()[tidx_];
  std::vector<std::pair<Version, std::optional<Version>>> held = {{winner->version, winner->base}};
  if (rs_->slots[slot].conflicts > 0) {
    FS_ASSIGN_OR_RETURN(std::vector<InstalledRecord> records, m_.HeldRecords(t, row_));
    for (const InstalledRecord& r : records) {
      if (r.slot == slot && older < r.version) held.emplace_back(r.version, r.base);
    }
  }
  std::vector<Version> queue;
  std::set<Version> seen;
  auto follow = [&](const Version& e) {
    if (older < e && seen.insert(e).second) queue.push_back(e);
  };
  for (const auto& [v, base] : held) {
    if (base && *base == older) return true;
    if (base) follow(*base);
  }
  constexpr size_t kMaxSteps = 256;
  for (size_t i = 0; i < queue.size() && i < kMaxSteps; ++i) {
    FS_ASSIGN_OR_RETURN(std::optional<FieldWrite> w,
                        m_.LoggedWrite(queue[i], t.name, row_, Column(slot)));
    if (!w) continue;
    std::vector<Version> earlier = w->resolves;
    if (w->base) earlier.push_back(*w->base);
    for (const Version& e : earlier) {
      if (e == older) return true;
      follow(e);
    }
  }
  return false;
}

absl::Status ReplicaMergeRow::DropConflicts(size_t slot, const std::optional<Version>& base,
                                            const std::vector<Version>& resolves) {
  SlotMeta& meta = rs_->slots[slot];
  auto drop = [&](const Version& v) -> absl::Status {
    if (meta.conflicts == 0) return absl::OkStatus();
    sqlite::Stmt* st = m_.delete_conflict_;
    st->Reset();
    st->BindText(1, m_.schema->tables()[tidx_].name);
    st->BindBlob(2, row_.view());
    st->BindText(3, Column(slot));
    st->BindInt(4, static_cast<int64_t>(v.hlc.packed()));
    st->BindBlob(5, v.device.view());
    FS_RETURN_IF_ERROR(st->Run());
    const auto gone = static_cast<uint32_t>(m_.db->Changes());
    meta.conflicts = meta.conflicts > gone ? meta.conflicts - gone : 0;
    return absl::OkStatus();
  };
  if (meta.conflicts == 0) return absl::OkStatus();
  if (base) FS_RETURN_IF_ERROR(drop(*base));
  for (const Version& r : resolves) FS_RETURN_IF_ERROR(drop(r));
  return absl::OkStatus();
}

absl::Status ReplicaMergeRow::KeepConflict(size_t slot, const Version& v,
                                           const std::optional<Version>& base,
                                           const Value& value) {
  sqlite::Stmt* st = m_.insert_conflict_;
  st->Reset();
  st->BindText(1, m_.schema->tables()[tidx_].name);
  st->BindBlob(2, row_.view());
  st->BindText(3, Column(slot));
  st->BindInt(4, static_cast<int64_t>(v.hlc.packed()));
  st->BindBlob(5, v.device.view());
  if (base) {
    st->BindInt(6, static_cast<int64_t>(base->hlc.packed()));
    st->BindBlob(7, base->device.view());
  }
  st->BindValue(8, value);
  FS_RETURN_IF_ERROR(st->Run());
  rs_->slots[slot].conflicts += static_cast<uint32_t>(m_.db->Changes());
  return absl::OkStatus();
}

absl::Status ReplicaMergeRow::Win(size_t slot, const Version& version,
                                  const std::optional<Version>& base, const Value& value) {
  FS_ASSIGN_OR_RETURN(uint32_t device, m_.DeviceIndex(version.device, /*create=*/true));
  SlotMeta& meta = rs_->slots[slot];
  rs_->written[slot] = &value;
  const uint32_t conflicts = meta.conflicts;
  meta = SlotMeta{};
  meta.set = true;
  meta.hlc = version.hlc.packed();
  meta.device = device;
  meta.conflicts = conflicts;
  if (base) {
    FS_ASSIGN_OR_RETURN(uint32_t bdev, m_.DeviceIndex(base->device, /*create=*/true));
    meta.has_base = true;
    meta.base_hlc = base->hlc.packed();
    meta.base_device = bdev;
  }
  return absl::OkStatus();
}

uint64_t ReplicaMergeStore::HeldSeq(const DeviceId& author) {
  auto it = m_.device_index.find(author);
  return it == m_.device_index.end() ? 0 : m_.devices[it->second].max_seq;
}

absl::Status ReplicaMergeStore::PassOver(const DeviceId& author, uint64_t seq) {
  FS_ASSIGN_OR_RETURN(uint32_t idx, m_.DeviceIndex(author, /*create=*/true));
  Replica::Impl::DeviceEntry& d = m_.devices[idx];
  if (seq > d.max_seq) {
    d.max_seq = seq;
    d.dirty = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ReplicaMergeStore::RowExists(size_t table, const RowId& row) {
  FS_ASSIGN_OR_RETURN(sqlite::Stmt * stmt,
                      m_.TableStatement(table, Replica::Impl::TableStmt::kSelectMeta));
  sqlite::ScopedStmt st(stmt);
  st->BindBlobStatic(1, row.view());
  return st->Step();
}

absl::StatusOr<MergeRow*> ReplicaMergeStore::OpenRow(const Commit& commit, size_t change,
                                                     size_t table, const RowId& row) {
  // The author's device index first, before any base's: indexes are given
  // in the order devices are first met, as they always were.
  FS_RETURN_IF_ERROR(m_.DeviceIndex(commit.author, /*create=*/true).status());
  if (preloaded_ != nullptr) {
    state_ = std::move((*preloaded_)[change]);
  } else {
    FS_ASSIGN_OR_RETURN(state_, m_.LoadRow(table, row, /*all_values=*/false));
  }
  open_.emplace(m_, table, row, state_);
  return &*open_;
}

absl::Status ReplicaMergeStore::StoreRow(MergeRow& row) {
  auto& r = static_cast<ReplicaMergeRow&>(row);
  return m_.StoreRow(r.tidx(), r.row(), r.state());
}

absl::StatusOr<int64_t> ReplicaMergeStore::AppendLog(const Commit& c) {
  FS_ASSIGN_OR_RETURN(uint32_t author, m_.DeviceIndex(c.author, /*create=*/true));
  m_.body_buf.clear();
  EncodeCommitTo(c, &m_.body_buf);
  m_.insert_log_->Reset();
  m_.insert_log_->BindInt(1, author);
  m_.insert_log_->BindInt(2, static_cast<int64_t>(c.seq));
  m_.insert_log_->BindInt(3, static_cast<int64_t>(c.hlc.packed()));
  m_.insert_log_->BindBlobStatic(4, m_.body_buf);
  FS_RETURN_IF_ERROR(m_.insert_log_->Run());
  const int64_t position = sqlite3_last_insert_rowid(m_.db->raw());
  if (!c.signature.empty() && c.omitted.empty()) {
    m_.insert_sig_->Reset();
    m_.insert_sig_->BindInt(1, position);
    m_.insert_sig_->BindBlobStatic(2, c.signature);
    FS_RETURN_IF_ERROR(m_.insert_sig_->Run());
  }
  Replica::Impl::DeviceEntry& d = m_.devices[author];
  d.max_seq = c.seq;
  d.max_hlc = std::max(d.max_hlc, c.hlc.packed());
  d.dirty = true;
  // Its own stamps always; another device's only within the skew limit of
  // this clock (one taken on the hub's lead is held, not followed).
  if (c.author == m_.self) {
    m_.hlc.Restore(c.hlc);
  } else {
    m_.hlc.Follow(c.hlc);
  }
  return position;
}

absl::Status Replica::Impl::MergeRowChange(const Commit& c, uint32_t /*author*/, size_t tidx,
                                           const RowChange& rc, RowState& rs) {
  ReplicaMergeRow row(*this, tidx, rc.row, rs);
  return fieldsync::MergeRowChange(schema->tables()[tidx], c, rc, row);
}

absl::Status Replica::MergeTransaction(const std::function<absl::Status(MergeStore&)>& body) {
  Impl& m = *impl_;
  return m.InWriteTxn([&](sqlite::Transaction&) -> absl::Status {
    ReplicaMergeStore store(m);
    return body(store);
  });
}

absl::Status Replica::Impl::ApplyCommit(const Commit& c, std::vector<RowState>* preloaded) {
  ReplicaMergeStore store(*this, preloaded);
  return MergeCommit(store, c).status();
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

absl::Status Replica::Impl::Learn(const Version& v) {
  FS_ASSIGN_OR_RETURN(uint32_t idx, DeviceIndex(v.device, /*create=*/true));
  DeviceEntry& d = devices[idx];
  if (d.max_hlc < v.hlc.packed()) {
    d.max_hlc = v.hlc.packed();
    d.dirty = true;
  }
  if (v.device == self) {
    hlc.Restore(v.hlc);
  } else {
    hlc.Follow(v.hlc);
  }
  return absl::OkStatus();
}

}  // namespace fieldsync
