// Reading rows and open conflict records.
#include "store/replica_impl.h"

namespace fieldsync {
namespace {

// The row ids a statement selecting `id` first yields, in its order.
absl::StatusOr<std::vector<RowId>> RowIds(sqlite::Stmt* st) {
  std::vector<RowId> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), "row id"));
    out.push_back(id);
  }
  return out;
}

}  // namespace

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
  return RowIds(st.get());
}

absl::StatusOr<int64_t> Replica::RowSlotHigh(const std::string& table) {
  Impl& m = *impl_;
  const TableDef* t = m.schema->FindTable(table);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(absl::StrCat("SELECT coalesce(max(rowid), 0) FROM ",
                                                           Quote(t->name))));
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  return r ? st->ColumnInt(0) : 0;
}

absl::StatusOr<std::vector<RowId>> Replica::RowsAfterSlot(const std::string& table,
                                                          int64_t slot) {
  Impl& m = *impl_;
  const TableDef* t = m.schema->FindTable(table);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(absl::StrCat("SELECT id FROM ", Quote(t->name),
                                                           " WHERE rowid > ?1 ORDER BY rowid")));
  st->BindInt(1, slot);
  return RowIds(st.get());
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
  return RowIds(st.get());
}

absl::Status Replica::ScanLiveRows(
    const std::string& table, const std::vector<std::string>& columns,
    const std::function<absl::Status(const RowId&, const std::vector<Value>&)>& row) {
  return ScanRows(table, columns, /*include_deleted=*/false,
                  [&](const RowId& id, bool, const std::vector<Value>& values) {
                    return row(id, values);
                  });
}

absl::Status Replica::ScanRows(
    const std::string& table, const std::vector<std::string>& columns, bool include_deleted,
    const std::function<absl::Status(const RowId&, bool, const std::vector<Value>&)>& row) {
  Impl& m = *impl_;
  const TableDef* t = m.schema->FindTable(table);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  std::string select = "SELECT id, _live";
  for (const std::string& c : columns) {
    if (t->FindColumn(c) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("no column \"", c, "\" in ", table));
    }
    absl::StrAppend(&select, ", ", Quote(c));
  }
  // Not cached: `row` may read this replica while the scan is under way.
  FS_ASSIGN_OR_RETURN(auto st, m.db->PrepareTransient(absl::StrCat(
                                   select, " FROM ", Quote(t->name),
                                   include_deleted ? "" : " WHERE _live = 1", " ORDER BY id")));
  std::vector<Value> values(columns.size());
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st->ColumnBlob(0), "row id"));
    const bool live = st->ColumnValue(1) == Value::Int(1);
    for (size_t i = 0; i < columns.size(); ++i) values[i] = st->ColumnValue(static_cast<int>(i + 2));
    FS_RETURN_IF_ERROR(row(id, live, values));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RowId>> Replica::FindLiveRows(const std::string& table,
                                                         const std::string& id_hex_prefix,
                                                         const std::string& column,
                                                         const std::string& text, size_t limit) {
  Impl& m = *impl_;
  const TableDef* t = m.schema->FindTable(table);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown table \"", table, "\""));
  if (!column.empty() && t->FindColumn(column) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no column \"", column, "\" in ", table));
  }
  FS_ASSIGN_OR_RETURN(
      auto st,
      m.db->Prepared(absl::StrCat(
          "SELECT id FROM ", Quote(t->name), " WHERE _live = 1 AND (",
          id_hex_prefix.empty() ? "0" : "substr(hex(id), 1, length(?1)) = ?1",
          column.empty() ? "" : absl::StrCat(" OR upper(", Quote(column), ") = upper(?2)"),
          ") LIMIT ?3")));
  st->BindText(1, id_hex_prefix);
  st->BindText(2, text);
  st->BindInt(3, static_cast<int64_t>(limit));
  return RowIds(st.get());
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

}  // namespace fieldsync
