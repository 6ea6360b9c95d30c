// Which field versions of rows installed whole this replica can show a
// signed commit for (Replica::VersionSigned).
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "store/replica.h"
#include "store/replica_impl.h"

namespace fieldsync {

absl::StatusOr<bool> Replica::VersionSigned(const std::string& table, const RowId& row,
                                            const std::string& column) {
  FS_ASSIGN_OR_RETURN(std::optional<Row> got, Get(table, row));
  if (!got) return false;
  const TableDef* t = schema().FindTable(table);
  if (t == nullptr || t->ColumnIndex(column) < 0) return false;
  const std::optional<FieldVersion>& v = got->versions[static_cast<size_t>(t->ColumnIndex(column))];
  if (!v) return false;
  Impl& m = *impl_;
  bool signed_write = false;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto installed, m.db->Prepared("SELECT 1 FROM _fs_installed WHERE tbl = "
                                                       "?1 AND row = ?2"));
    installed->BindText(1, table);
    installed->BindBlob(2, row.view());
    FS_ASSIGN_OR_RETURN(bool whole, installed->Step());
    if (!whole) {
      signed_write = true;  // every version of it came in a commit applied here
      return absl::OkStatus();
    }
    // Installed from a verified checkpoint page: its versions then are what
    // a member of this office signed it held (later ones came in commits).
    FS_ASSIGN_OR_RETURN(auto verified, m.db->Prepared("SELECT 1 FROM _fs_verified v JOIN "
                                                      "_fs_bootstrap b ON b.confirmed = 1 "
                                                      "WHERE v.tbl = ?1 AND v.row = ?2"));
    verified->BindText(1, table);
    verified->BindBlob(2, row.view());
    FS_ASSIGN_OR_RETURN(bool vouched, verified->Step());
    if (vouched) {
      signed_write = true;
      return absl::OkStatus();
    }
    FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("SELECT l.body FROM _fs_log l JOIN _fs_devices d "
                                                "ON d.idx = l.device WHERE d.id = ?1 AND "
                                                "l.hlc = ?2"));
    st->BindBlob(1, v->version.device.view());
    st->BindInt(2, static_cast<int64_t>(v->version.hlc.packed()));
    while (!signed_write) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      absl::StatusOr<Commit> c = DecodeCommit(st->ColumnBlob(0));
      if (!c.ok()) continue;
      for (const RowChange& rc : c->changes) {
        if (rc.table != table || rc.row != row) continue;
        for (const FieldWrite& f : rc.fields) signed_write |= f.column == column;
      }
    }
    return absl::OkStatus();
  }));
  return signed_write;
}

}  // namespace fieldsync
