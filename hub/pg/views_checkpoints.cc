// The checkpoints the hub adopted (hub/checkpoints.h: hub_checkpoints and
// hub_checkpoint_rows) in the PostgreSQL store's views. The same answers as
// hub/sqlite_checkpoints.cc.
//
// Two hub processes: an adoption takes the next seq from the highest held
// and drops the office's older ones, so it runs under the log head's row
// lock (PgView::Locked), one at a time, as on SQLite.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "hub/pg/views.h"

namespace fieldsync::hub::pg {
namespace {

constexpr const char* kColumns =
    "SELECT id, province, position, leaves, adopted_at, gc_epoch, statement FROM "
    "hub_checkpoints ";

// Rows of a checkpoint stored a statement (5 parameters each, well under
// PostgreSQL's 65,535).
constexpr size_t kRowsAStatement = 1000;

absl::StatusOr<std::optional<StoredCheckpoint>> One(const Result& r) {
  if (r.rows() == 0) return std::optional<StoredCheckpoint>();
  StoredCheckpoint c;
  c.id = r.Bytes(0, 0);
  c.province = r.Bytes(0, 1);
  FS_ASSIGN_OR_RETURN(c.position, r.Int(0, 2));
  FS_ASSIGN_OR_RETURN(int64_t leaves, r.Int(0, 3));
  c.leaf_count = static_cast<uint32_t>(leaves);
  FS_ASSIGN_OR_RETURN(c.adopted_at_millis, r.Int(0, 4));
  FS_ASSIGN_OR_RETURN(int64_t epoch, r.Int(0, 5));
  c.gc_epoch = static_cast<uint64_t>(epoch);
  c.statement = r.Bytes(0, 6);
  return std::optional<StoredCheckpoint>(std::move(c));
}

}  // namespace

absl::StatusOr<std::optional<StoredCheckpoint>> PgView::NewestCheckpoint(
    const std::string& province) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec(absl::StrCat(kColumns, "WHERE province = $1 ORDER BY "
                                                                  "seq DESC LIMIT 1"),
                                           {Param::Text(province)}));
  return One(r);
}

absl::StatusOr<std::optional<StoredCheckpoint>> PgView::CheckpointById(const std::string& id) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec(absl::StrCat(kColumns, "WHERE id = $1"),
                                           {Param::Bytes(id)}));
  return One(r);
}

absl::StatusOr<std::vector<std::string>> PgView::CheckpointLeaves(const std::string& id) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT leaf FROM hub_checkpoint_rows WHERE "
                                           "checkpoint = $1 ORDER BY idx",
                                           {Param::Bytes(id)}));
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.Bytes(i, 0));
  return out;
}

absl::StatusOr<std::vector<CheckpointRow>> PgView::CheckpointRows(const std::string& id,
                                                                  uint32_t from, size_t limit) {
  FS_ASSIGN_OR_RETURN(Result r, conn_.Exec("SELECT idx, tbl, row, state, leaf FROM "
                                           "hub_checkpoint_rows WHERE checkpoint = $1 AND idx "
                                           ">= $2 ORDER BY idx LIMIT $3",
                                           {Param::Bytes(id), Param::Int(from),
                                            Param::Int(static_cast<int64_t>(limit))}));
  std::vector<CheckpointRow> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    CheckpointRow row;
    FS_ASSIGN_OR_RETURN(int64_t idx, r.Int(i, 0));
    row.index = static_cast<uint32_t>(idx);
    row.table = r.Bytes(i, 1);
    FS_ASSIGN_OR_RETURN(row.row, Id16::FromBytes(r.Bytes(i, 2), "checkpoint row"));
    row.state = r.Bytes(i, 3);
    row.leaf = r.Bytes(i, 4);
    out.push_back(std::move(row));
  }
  return out;
}

absl::Status PgView::AdoptCheckpoint(const StoredCheckpoint& c,
                                     const std::vector<CheckpointRow>& rows, size_t keep) {
  FS_RETURN_IF_ERROR(MustWrite("AdoptCheckpoint"));
  return Locked([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(
        Result adopted,
        conn_.Exec("INSERT INTO hub_checkpoints(id, province, position, leaves, adopted_at, "
                   "gc_epoch, seq, statement) VALUES ($1, $2, $3, $4, $5, $6, (SELECT "
                   "coalesce(max(seq), 0) + 1 FROM hub_checkpoints), $7) ON CONFLICT (id) DO "
                   "NOTHING",
                   {Param::Bytes(c.id), Param::Text(c.province), Param::Int(c.position),
                    Param::Int(c.leaf_count), Param::Int(c.adopted_at_millis),
                    Param::Int(static_cast<int64_t>(c.gc_epoch)), Param::Bytes(c.statement)}));
    if (adopted.Affected() == 0) return absl::OkStatus();  // adopted before
    // Its rows, many a statement: one round trip per kRowsAStatement rows.
    for (size_t first = 0; first < rows.size(); first += kRowsAStatement) {
      const size_t end = std::min(rows.size(), first + kRowsAStatement);
      std::string sql = "INSERT INTO hub_checkpoint_rows(checkpoint, idx, tbl, row, state, leaf) "
                        "VALUES ";
      std::vector<Param> params = {Param::Bytes(c.id)};
      params.reserve(1 + 5 * (end - first));
      for (size_t i = first; i < end; ++i) {
        const size_t p = params.size() + 1;  // the row's first parameter
        absl::StrAppend(&sql, i == first ? "" : ", ", "($1, $", p, ", $", p + 1, ", $", p + 2,
                        ", $", p + 3, ", $", p + 4, ")");
        params.push_back(Param::Int(rows[i].index));
        params.push_back(Param::Text(rows[i].table));
        params.push_back(Param::Bytes(rows[i].row.view()));
        params.push_back(Param::Bytes(rows[i].state));
        params.push_back(Param::Bytes(rows[i].leaf));
      }
      FS_RETURN_IF_ERROR(conn_.Exec(sql, params).status());
    }
    // The office's older ones go, their rows with them (ON DELETE CASCADE).
    return conn_.Exec("DELETE FROM hub_checkpoints WHERE id IN (SELECT id FROM hub_checkpoints "
                      "WHERE province = $1 ORDER BY seq DESC OFFSET $2)",
                      {Param::Text(c.province), Param::Int(static_cast<int64_t>(keep))})
        .status();
  });
}

}  // namespace fieldsync::hub::pg
