// Tombstone collection (hub/tombstones.h) in the PostgreSQL store's views:
// the horizon and epoch (hub_gc), the rows collected for good (hub_purged),
// and the drop of a deleted row with its registers and conflicts. The same
// answers as hub/sqlite_gc.cc.
//
// Two hub processes: a collection runs in Atomically(), which holds the log
// head's row lock (PgView::Locked): no push stores or revives a row between
// the collection's reads and its drops, and epochs go up by one each.
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "hub/pg/views.h"

namespace fieldsync::hub::pg {

absl::StatusOr<GcState> PgView::Gc() {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT horizon, epoch, (SELECT value FROM hub_meta "
                                           "WHERE key = 'gc_ids') FROM hub_gc"));
  GcState g;
  if (r.rows() != 1) {
    return absl::DataLossError("the PostgreSQL hub database has lost its collection state "
                               "(hub_gc): restore it from a backup");
  }
  FS_ASSIGN_OR_RETURN(g.horizon, r.Int(0, 0));
  FS_ASSIGN_OR_RETURN(int64_t epoch, r.Int(0, 1));
  g.epoch = static_cast<uint64_t>(epoch);
  if (!r.IsNull(0, 2)) g.ids = r.Bytes(0, 2);
  return g;
}

absl::Status PgView::AdvanceGc(int64_t horizon) {
  FS_RETURN_IF_ERROR(MustWrite("AdvanceGc"));
  return Locked([&]() -> absl::Status {
    FS_RETURN_IF_ERROR(conn_.Exec("UPDATE hub_gc SET horizon = $1, epoch = epoch + 1",
                                  {Param::Int(horizon)})
                           .status());
    // The new epoch's id, which a hub put back from an older backup does
    // not draw again (GcState::ids; hub_meta `gc_ids`, as hub.db's).
    FS_ASSIGN_OR_RETURN(const GcState now, Gc());
    return conn_.Exec("INSERT INTO hub_meta(key, value) VALUES ('gc_ids', $1) ON CONFLICT (key) "
                      "DO UPDATE SET value = excluded.value",
                      {Param::Bytes(now.WithId(now.epoch, NewGcId()))})
        .status();
  });
}

absl::StatusOr<bool> PgView::IsPurged(const std::string& table, const RowId& row) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT 1 FROM hub_purged WHERE tbl = $1 AND row = $2",
                                           {Param::Text(table), Param::Bytes(row.view())}));
  return r.rows() == 1;
}

absl::StatusOr<std::vector<PurgedRow>> PgView::PurgedSince(uint64_t epoch,
                                                           const std::string& province) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT tbl, row, position FROM hub_purged WHERE "
                                           "epoch > $1 AND (shared OR $2 = ANY(provinces)) "
                                           "ORDER BY tbl, row",
                                           {Param::Int(static_cast<int64_t>(epoch)),
                                            Param::Text(province)}));
  std::vector<PurgedRow> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    PurgedRow p;
    p.table = r.Bytes(i, 0);
    FS_ASSIGN_OR_RETURN(p.row, Id16::FromBytes(r.Bytes(i, 1), "purged row"));
    FS_ASSIGN_OR_RETURN(p.position, r.Int(i, 2));
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<bool> PgView::DropTombstone(const std::string& table, const RowId& row) {
  FS_RETURN_IF_ERROR(MustWrite("DropTombstone"));
  if (schema_.FindTable(table) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table \"", table, "\" is not in schema version ", schema_.version(),
        ": no row of it to drop"));
  }
  bool dropped = false;
  FS_RETURN_IF_ERROR(Locked([&]() -> absl::Status {
    // Only a deleted row (its liveness register holds 0), with its
    // registers and conflict records, in one statement.
    FS_ASSIGN_OR_RETURN(
        Result r,
        conn_.Exec("WITH d AS (DELETE FROM hub_rows WHERE tbl = $1 AND row = $2 AND EXISTS "
                   "(SELECT 1 FROM hub_fields f WHERE f.tbl = $1 AND f.row = $2 AND f.slot = 0 "
                   "AND f.kind = 1 AND f.ival = 0) RETURNING 1), f AS (DELETE FROM hub_fields "
                   "WHERE tbl = $1 AND row = $2 AND EXISTS (SELECT 1 FROM d)), c AS (DELETE "
                   "FROM hub_conflicts WHERE tbl = $1 AND row = $2 AND EXISTS (SELECT 1 FROM "
                   "d)) SELECT count(*) FROM d",
                   {Param::Text(table), Param::Bytes(row.view())}));
    FS_ASSIGN_OR_RETURN(int64_t n, r.Int(0, 0));
    dropped = n > 0;
    return absl::OkStatus();
  }));
  return dropped;
}

absl::Status PgView::RecordPurged(const Tombstone& t, uint64_t epoch, bool shared,
                                  const std::vector<std::string>& provinces) {
  FS_RETURN_IF_ERROR(MustWrite("RecordPurged"));
  if (ScopeCache* c = cache()) c->DropRow(t.table, t.row);
  FS_ASSIGN_OR_RETURN(Param list, NameList(provinces));
  // Remembered (replacing an older record of it), its scope forgotten.
  return conn_.Exec("WITH s AS (DELETE FROM hub_row_scope WHERE tbl = $1 AND row = $2) INSERT "
                    "INTO hub_purged(tbl, row, position, epoch, shared, provinces) VALUES ($1, "
                    "$2, $3, $4, $5, string_to_array($6, chr(31))) ON CONFLICT (tbl, row) DO "
                    "UPDATE SET position = EXCLUDED.position, epoch = EXCLUDED.epoch, shared = "
                    "EXCLUDED.shared, provinces = EXCLUDED.provinces",
                    {Param::Text(t.table), Param::Bytes(t.row.view()), Param::Int(t.deleted_pos),
                     Param::Int(static_cast<int64_t>(epoch)), Param::Bool(shared), list})
      .status();
}

}  // namespace fieldsync::hub::pg
