#include "hub/sqlite_log_chain.h"

#include "base/status_macros.h"

namespace fieldsync::hub::sqlite_log_chain {

absl::StatusOr<std::optional<std::string>> At(sqlite::Db& db, int64_t position) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT hash FROM hub_log_hash WHERE position = ?1"));
  st->BindInt(1, position);
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (!found) return std::nullopt;
  return st->ColumnString(0);
}

absl::StatusOr<LogPoint> Head(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT position, hash FROM hub_log_hash ORDER BY "
                                           "position DESC LIMIT 1"));
  LogPoint p;
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  if (found) {
    p.position = st->ColumnInt(0);
    p.hash = st->ColumnString(1);
  }
  return p;
}

absl::Status Put(sqlite::Db& db, int64_t position, const std::string& hash) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("INSERT INTO hub_log_hash(position, hash) VALUES "
                                           "(?1, ?2)"));
  st->BindInt(1, position);
  st->BindBlob(2, hash);
  return st->Run();
}

absl::StatusOr<int64_t> KeyHead(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT coalesce((SELECT seq FROM sqlite_sequence "
                                           "WHERE name = 'hub_keys'), 0)"));
  FS_ASSIGN_OR_RETURN(bool found, st->Step());
  return found ? st->ColumnInt(0) : int64_t{0};
}

}  // namespace fieldsync::hub::sqlite_log_chain
