// Tombstone collection in hub.db (hub/sqlite_gc.h).
#include "hub/sqlite_gc.h"

#include <utility>

#include "base/json.h"
#include "base/status_macros.h"

namespace fieldsync::hub::sqlite_gc {
namespace {

// `items` as a JSON array, as hub_purged.provinces stores it and
// json_each reads it (["LC","HN"]).
std::string JsonList(const std::vector<std::string>& items) { return JsonStored(Json(items)); }

}  // namespace

absl::StatusOr<GcState> State(sqlite::Db& db) {
  GcState g;
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT key, value FROM hub_meta WHERE key IN "
                                           "('gc_horizon', 'gc_epoch', 'gc_ids')"));
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    if (st->ColumnString(0) == "gc_horizon") g.horizon = st->ColumnInt(1);
    if (st->ColumnString(0) == "gc_epoch") g.epoch = static_cast<uint64_t>(st->ColumnInt(1));
    if (st->ColumnString(0) == "gc_ids") g.ids = st->ColumnString(1);
  }
  return g;
}

absl::StatusOr<bool> IsPurged(sqlite::Db& db, const std::string& table, const RowId& row) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT 1 FROM hub_purged WHERE tbl = ?1 AND row = ?2"));
  st->BindText(1, table);
  st->BindBlob(2, row.view());
  return st->Step();
}

absl::StatusOr<std::vector<PurgedRow>> PurgedSince(sqlite::Db& db, uint64_t epoch,
                                                   const std::string& province) {
  FS_ASSIGN_OR_RETURN(
      auto st, db.Prepared("SELECT tbl, row, position FROM hub_purged p WHERE epoch > ?1 AND "
                           "(shared = 1 OR EXISTS (SELECT 1 FROM json_each(p.provinces) WHERE "
                           "value = ?2)) ORDER BY tbl, row"));
  st->BindInt(1, static_cast<int64_t>(epoch));
  st->BindText(2, province);
  std::vector<PurgedRow> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    PurgedRow p;
    p.table = st->ColumnString(0);
    FS_ASSIGN_OR_RETURN(p.row, Id16::FromBytes(st->ColumnBlob(1), "purged row"));
    p.position = st->ColumnInt(2);
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<std::vector<Tombstone>> TombstonesDeletedBy(sqlite::Db& db, int64_t at_millis) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT tbl, row, deleted_pos FROM hub_row_scope "
                                           "WHERE deleted_pos IS NOT NULL AND deleted_at <= "
                                           "?1 ORDER BY deleted_pos"));
  st->BindInt(1, at_millis);
  std::vector<Tombstone> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    Tombstone t;
    t.table = st->ColumnString(0);
    FS_ASSIGN_OR_RETURN(t.row, Id16::FromBytes(st->ColumnBlob(1), "row"));
    t.deleted_pos = st->ColumnInt(2);
    out.push_back(std::move(t));
  }
  return out;
}

absl::Status RecordPurged(sqlite::Db& db, const Tombstone& t, uint64_t epoch, bool shared,
                          const std::vector<std::string>& provinces) {
  FS_ASSIGN_OR_RETURN(auto rec, db.Prepared("INSERT OR REPLACE INTO hub_purged(tbl, row, "
                                            "position, epoch, shared, provinces) VALUES "
                                            "(?1, ?2, ?3, ?4, ?5, ?6)"));
  rec->BindText(1, t.table);
  rec->BindBlob(2, t.row.view());
  rec->BindInt(3, t.deleted_pos);
  rec->BindInt(4, static_cast<int64_t>(epoch));
  rec->BindInt(5, shared ? 1 : 0);
  rec->BindText(6, JsonList(provinces));
  FS_RETURN_IF_ERROR(rec->Run());
  // Its conflict records went with the row (DropTombstone).
  FS_ASSIGN_OR_RETURN(auto st,
                      db.Prepared("DELETE FROM hub_row_scope WHERE tbl = ?1 AND row = ?2"));
  st->BindText(1, t.table);
  st->BindBlob(2, t.row.view());
  return st->Run();
}

absl::Status Advance(sqlite::Db& db, int64_t horizon) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("INSERT INTO hub_meta(key, value) VALUES "
                                           "('gc_horizon', ?1) ON CONFLICT(key) DO UPDATE "
                                           "SET value = excluded.value"));
  st->BindInt(1, horizon);
  FS_RETURN_IF_ERROR(st->Run());
  FS_RETURN_IF_ERROR(
      db.Exec("INSERT INTO hub_meta(key, value) VALUES ('gc_epoch', 1) ON "
              "CONFLICT(key) DO UPDATE SET value = value + 1"));
  // The new epoch's id, which a hub put back from an older backup does
  // not draw again (GcState::ids).
  FS_ASSIGN_OR_RETURN(const GcState now, State(db));
  FS_ASSIGN_OR_RETURN(auto ids, db.Prepared("INSERT OR REPLACE INTO hub_meta(key, value) "
                                            "VALUES ('gc_ids', ?1)"));
  ids->BindBlob(1, now.WithId(now.epoch, NewGcId()));
  return ids->Run();
}

}  // namespace fieldsync::hub::sqlite_gc
