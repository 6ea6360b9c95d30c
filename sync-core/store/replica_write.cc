// Local writes: a LocalTxn becomes one signed, sealed commit, applied and
// logged in one transaction.
#include "store/replica_impl.h"

namespace fieldsync {

absl::StatusOr<Commit> Replica::Impl::BuildLocal(sqlite::Transaction& db_txn, const LocalTxn& txn,
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
  // A commit is newer than every version it names (schema/validate_commit):
  // one its write supersedes, stamped past what the clock follows (taken on
  // the hub's lead: HybridClock::Follow), moves the clock past it now.
  for (const Pending& p : rows) {
    for (const auto& [slot, w] : p.writes.v) {
      if (w.base) hlc.Restore(w.base->hlc);
      for (const Version& r : w.resolves) hlc.Restore(r.hlc);
    }
  }
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
        FS_ASSIGN_OR_RETURN(std::optional<Value> sealed, security.seal(db_txn, req));
        if (sealed) f.value = std::move(*sealed);
      }
    }
  }
  *states = std::move(loaded);
  return c;
}

absl::StatusOr<Commit> Replica::Write(const LocalTxn& txn) {
  FS_ASSIGN_OR_RETURN(std::vector<Commit> commits, WriteMany({txn}));
  return std::move(commits.front());
}

absl::StatusOr<std::vector<Commit>> Replica::WriteMany(const std::vector<LocalTxn>& txns) {
  // WriteImported with no source key: the commits alone (replica_import.cc).
  return WriteImported(txns, {}, 0);
}

absl::StatusOr<Commit> Replica::Impl::WriteOne(sqlite::Transaction& db_txn, const LocalTxn& txn,
                                               std::vector<RowState>* states,
                                               const std::function<void(Commit&)>& amend) {
  FS_ASSIGN_OR_RETURN(Commit c, BuildLocal(db_txn, txn, states));
  if (amend) amend(c);
  if (security.sign) {
    FS_ASSIGN_OR_RETURN(c.signature, security.sign(c));
  }
  if (security.taken) FS_RETURN_IF_ERROR(security.taken(db_txn, c));
  if (security.sign_header) FS_RETURN_IF_ERROR(ChainOwn(c));
  FS_RETURN_IF_ERROR(ApplyCommit(c, states));
  return c;
}

}  // namespace fieldsync
