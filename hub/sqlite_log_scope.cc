#include "hub/sqlite_log_scope.h"

#include "base/json.h"
#include "base/status_macros.h"

namespace fieldsync::hub::sqlite_log_scope {

absl::StatusOr<std::vector<int64_t>> PositionsUnder(sqlite::Db& db,
                                                    const std::vector<std::string>& keys,
                                                    int64_t after, int64_t upto, size_t limit) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT DISTINCT position FROM hub_log_scope "
                                           "WHERE province IN (SELECT value FROM "
                                           "json_each(?1)) AND position > ?2 AND position "
                                           "<= ?3 ORDER BY position LIMIT ?4"));
  st->BindText(1, JsonStored(Json(keys)));
  st->BindInt(2, after);
  st->BindInt(3, upto);
  st->BindInt(4, static_cast<int64_t>(limit));
  std::vector<int64_t> positions;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    positions.push_back(st->ColumnInt(0));
  }
  return positions;
}

absl::Status Add(sqlite::Db& db, const std::set<std::string>& keys, int64_t position) {
  FS_ASSIGN_OR_RETURN(auto ins, db.Prepared("INSERT OR IGNORE INTO hub_log_scope(province, "
                                            "position) VALUES (?1, ?2)"));
  for (const std::string& k : keys) {
    ins->Reset();
    ins->BindText(1, k);
    ins->BindInt(2, position);
    FS_RETURN_IF_ERROR(ins->Run());
  }
  return absl::OkStatus();
}

absl::Status AddSubjects(sqlite::Db& db, const std::set<RowId>& subjects, int64_t position) {
  FS_ASSIGN_OR_RETURN(auto ins, db.Prepared("INSERT OR IGNORE INTO hub_log_subject(subject, "
                                            "position) VALUES (?1, ?2)"));
  for (const RowId& s : subjects) {
    ins->Reset();
    ins->BindBlob(1, s.view());
    ins->BindInt(2, position);
    FS_RETURN_IF_ERROR(ins->Run());
  }
  return absl::OkStatus();
}

absl::Status KeySubjects(sqlite::Db& db, const std::set<RowId>& subjects,
                         const std::set<std::string>& provinces) {
  FS_ASSIGN_OR_RETURN(auto ins, db.Prepared("INSERT OR IGNORE INTO hub_log_scope(province, "
                                            "position) SELECT ?1, position FROM "
                                            "hub_log_subject WHERE subject = ?2"));
  for (const std::string& p : provinces) {
    for (const RowId& s : subjects) {
      ins->Reset();
      ins->BindText(1, p);
      ins->BindBlob(2, s.view());
      FS_RETURN_IF_ERROR(ins->Run());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> From(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto st,
                      db.Prepared("SELECT value FROM hub_meta WHERE key = 'log_scope_from'"));
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  return found ? st->ColumnInt(0) : 0;
}

absl::Status SetFromOnce(sqlite::Db& db, int64_t head) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("INSERT OR IGNORE INTO hub_meta(key, value) VALUES "
                                           "('log_scope_from', ?1)"));
  st->BindInt(1, head);
  return st->Run();
}

}  // namespace fieldsync::hub::sqlite_log_scope
