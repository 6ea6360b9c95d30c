// Loading, merging and storing one row: the core every write path shares
// (local writes, applied commits, replayed local commits after an install).
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

}  // namespace fieldsync
