// Which rows installed whole, and which of their field versions, this
// replica can show a signature for (Replica::RowVouched, VersionSigned).
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "store/replica.h"
#include "store/replica_impl.h"

namespace fieldsync {
namespace {

// Whether `sql` (binding table ?1 and row ?2) finds a row.
absl::StatusOr<bool> Found(sqlite::Db& db, const char* sql, std::string_view table,
                           const RowId& row) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared(sql));
  st->BindText(1, table);
  st->BindBlob(2, row.view());
  return st->Step();
}

}  // namespace

// Installed whole, or vouched for although it was: 0 not installed, 1
// installed and vouched for, 2 installed as the hub served it.
absl::StatusOr<int> Replica::Impl::ProvenanceOf(std::string_view table, const RowId& row) {
  FS_ASSIGN_OR_RETURN(bool whole, Found(*db, "SELECT 1 FROM _fs_installed WHERE tbl = ?1 AND "
                                             "row = ?2", table, row));
  if (!whole) return 0;  // every version of it came in a commit applied here
  // From a verified checkpoint page: its versions then are what a member
  // of this office signed it held (later ones came in commits).
  FS_ASSIGN_OR_RETURN(bool vouched, Found(*db, "SELECT 1 FROM _fs_verified v JOIN _fs_bootstrap "
                                               "b ON b.confirmed = 1 WHERE v.tbl = ?1 AND "
                                               "v.row = ?2", table, row));
  if (vouched) return 1;
  // Witnessed: every version of it as a commit its author signed wrote it.
  FS_ASSIGN_OR_RETURN(vouched, Found(*db, "SELECT 1 FROM _fs_witnessed WHERE tbl = ?1 AND "
                                          "row = ?2", table, row));
  return vouched ? 1 : 2;
}

absl::StatusOr<std::optional<FieldWrite>> Replica::Impl::LoggedWrite(const Version& v,
                                                                    std::string_view table,
                                                                    const RowId& row,
                                                                    std::string_view column) {
  FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT l.body FROM _fs_log l JOIN _fs_devices d ON "
                                            "d.idx = l.device WHERE d.id = ?1 AND l.hlc = ?2"));
  st->BindBlob(1, v.device.view());
  st->BindInt(2, static_cast<int64_t>(v.hlc.packed()));
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    absl::StatusOr<Commit> c = DecodeCommit(st->ColumnBlob(0));
    if (!c.ok()) continue;
    for (const RowChange& rc : c->changes) {
      if (rc.table != table || rc.row != row) continue;
      for (const FieldWrite& f : rc.fields) {
        if (f.column == column) return std::optional<FieldWrite>(f);
      }
    }
  }
  return std::optional<FieldWrite>();
}

absl::StatusOr<bool> Replica::RowVouched(const std::string& table, const RowId& row) {
  FS_ASSIGN_OR_RETURN(std::optional<Row> got, Get(table, row));
  if (!got) return false;
  Impl& m = *impl_;
  int from = 2;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(from, m.ProvenanceOf(table, row));
    return absl::OkStatus();
  }));
  return from != 2;
}

absl::StatusOr<bool> Replica::RowServedNewlyVisible(const std::string& table, const RowId& row) {
  Impl& m = *impl_;
  bool served = false;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    // A bootstrap's rows are at position 0, a checkpoint page's verified.
    FS_ASSIGN_OR_RETURN(served, Found(*m.db, "SELECT 1 FROM _fs_installed i WHERE i.tbl = ?1 "
                                             "AND i.row = ?2 AND i.position > 0 AND NOT EXISTS "
                                             "(SELECT 1 FROM _fs_verified v WHERE v.tbl = ?1 AND "
                                             "v.row = ?2) AND NOT EXISTS (SELECT 1 FROM "
                                             "_fs_witnessed w WHERE w.tbl = ?1 AND w.row = ?2)",
                                  table, row));
    return absl::OkStatus();
  }));
  return served;
}

absl::StatusOr<bool> Replica::VersionSigned(const std::string& table, const RowId& row,
                                            const std::string& column) {
  FS_ASSIGN_OR_RETURN(std::optional<Row> got, Get(table, row));
  if (!got) return false;
  const TableDef* t = schema().FindTable(table);
  if (t == nullptr || t->ColumnIndex(column) < 0) return false;
  const auto at = static_cast<size_t>(t->ColumnIndex(column));
  const std::optional<FieldVersion>& v = got->versions[at];
  if (!v) return false;
  const Value& value = got->values[at];
  Impl& m = *impl_;
  bool signed_write = false;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(int from, m.ProvenanceOf(table, row));
    if (from != 2) {
      signed_write = true;
      return absl::OkStatus();
    }
    // Served as the hub chose: a commit of this version in the log must
    // have written this very value (a hub may pair a real version with a
    // value of its own).
    FS_ASSIGN_OR_RETURN(std::optional<FieldWrite> w, m.LoggedWrite(v->version, table, row, column));
    signed_write = w && w->value == value;
    return absl::OkStatus();
  }));
  return signed_write;
}

}  // namespace fieldsync
