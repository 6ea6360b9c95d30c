#include "hub/sqlite_moves.h"

#include "base/status_macros.h"

namespace fieldsync::hub::sqlite_moves {

absl::Status Add(sqlite::Db& db, const std::string& table, const RowId& row,
                 const std::string& province, int64_t position) {
  FS_ASSIGN_OR_RETURN(auto mv, db.Prepared("INSERT INTO hub_moves(province, tbl, row, position) "
                                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(province, tbl, "
                                           "row) DO UPDATE SET position = excluded.position"));
  mv->BindText(1, province);
  mv->BindText(2, table);
  mv->BindBlob(3, row.view());
  mv->BindInt(4, position);
  return mv->Run();
}

absl::StatusOr<std::vector<std::pair<std::string, RowId>>> Between(sqlite::Db& db,
                                                                   const std::string& province,
                                                                   int64_t after, int64_t upto) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT tbl, row FROM hub_moves WHERE province = ?1 "
                                           "AND position > ?2 AND position <= ?3 ORDER BY "
                                           "position, tbl, row"));
  st->BindText(1, province);
  st->BindInt(2, after);
  st->BindInt(3, upto);
  return TableRows(*st.get());
}

absl::StatusOr<std::vector<std::pair<std::string, RowId>>> TableRows(sqlite::Stmt& st) {
  std::vector<std::pair<std::string, RowId>> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st.Step());
    if (!r) break;
    FS_ASSIGN_OR_RETURN(RowId id, Id16::FromBytes(st.ColumnBlob(1), "row"));
    out.emplace_back(st.ColumnString(0), id);
  }
  return out;
}

}  // namespace fieldsync::hub::sqlite_moves
