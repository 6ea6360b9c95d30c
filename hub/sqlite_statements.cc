#include "hub/sqlite_statements.h"

#include <algorithm>

#include "base/status_macros.h"

namespace fieldsync::hub::sqlite_statements {

absl::StatusOr<std::vector<StoredStatement>> After(sqlite::Db& db, int64_t after,
                                                   const std::vector<std::string>& provinces,
                                                   size_t limit) {
  // Few provinces (an office and its partners): one indexed scan by seq,
  // filtered here.
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT seq, device, province, created, bytes FROM "
                                           "hub_statements WHERE seq > ?1 ORDER BY seq"));
  st->BindInt(1, after);
  std::vector<StoredStatement> out;
  while (out.size() < limit) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    std::string province = st->ColumnString(2);
    if (std::find(provinces.begin(), provinces.end(), province) == provinces.end()) continue;
    StoredStatement s;
    s.seq = st->ColumnInt(0);
    FS_ASSIGN_OR_RETURN(s.device, Id16::FromBytes(st->ColumnBlob(1), "statement device"));
    s.province = std::move(province);
    s.created_hlc = static_cast<uint64_t>(st->ColumnInt(3));
    s.bytes = st->ColumnString(4);
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<bool> Put(sqlite::Db& db, const StoredStatement& s) {
  {
    FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT created FROM hub_statements WHERE device = "
                                             "?1"));
    st->BindBlob(1, s.device.view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (found && static_cast<uint64_t>(st->ColumnInt(0)) >= s.created_hlc) return false;
  }
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared(
                                   "INSERT OR REPLACE INTO hub_statements(device, province, "
                                   "created, seq, bytes) VALUES (?1, ?2, ?3, (SELECT "
                                   "coalesce(max(seq), 0) + 1 FROM hub_statements), ?4)"));
  st->BindBlob(1, s.device.view());
  st->BindText(2, s.province);
  st->BindInt(3, static_cast<int64_t>(s.created_hlc));
  st->BindBlob(4, s.bytes);
  FS_RETURN_IF_ERROR(st->Run());
  return true;
}

absl::StatusOr<std::vector<std::string>> Partners(sqlite::Db& db, const std::string& province) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared(
                                   "SELECT s.owner FROM hub_grants g JOIN hub_row_scope s ON "
                                   "s.tbl = 'cases' AND s.row = g.case_id WHERE g.province = ?1 "
                                   "UNION SELECT g.province FROM hub_grants g JOIN "
                                   "hub_row_scope s ON s.tbl = 'cases' AND s.row = g.case_id "
                                   "WHERE s.owner = ?1"));
  st->BindText(1, province);
  std::vector<std::string> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    std::string p = st->ColumnString(0);
    if (p != province && !p.empty()) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace fieldsync::hub::sqlite_statements
