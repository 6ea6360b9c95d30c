#include "hub/sqlite_checkpoints.h"

#include "base/status_macros.h"

namespace fieldsync::hub::sqlite_checkpoints {
namespace {

constexpr const char* kColumns =
    "SELECT id, province, position, leaves, adopted_at, gc_epoch, statement FROM "
    "hub_checkpoints ";

absl::StatusOr<std::optional<StoredCheckpoint>> One(sqlite::Stmt& st) {
  FS_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::optional<StoredCheckpoint>();
  StoredCheckpoint c;
  c.id = st.ColumnString(0);
  c.province = st.ColumnString(1);
  c.position = st.ColumnInt(2);
  c.leaf_count = static_cast<uint32_t>(st.ColumnInt(3));
  c.adopted_at_millis = st.ColumnInt(4);
  c.gc_epoch = static_cast<uint64_t>(st.ColumnInt(5));
  c.statement = st.ColumnString(6);
  return std::optional<StoredCheckpoint>(std::move(c));
}

}  // namespace

absl::StatusOr<std::optional<StoredCheckpoint>> Newest(sqlite::Db& db,
                                                       const std::string& province) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared(absl::StrCat(kColumns, "WHERE province = ?1 ORDER BY "
                                                                  "seq DESC LIMIT 1")));
  st->BindText(1, province);
  return One(*st.get());
}

absl::StatusOr<std::optional<StoredCheckpoint>> ById(sqlite::Db& db, const std::string& id) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared(absl::StrCat(kColumns, "WHERE id = ?1")));
  st->BindBlob(1, id);
  return One(*st.get());
}

absl::StatusOr<std::vector<std::string>> Leaves(sqlite::Db& db, const std::string& id) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT leaf FROM hub_checkpoint_rows WHERE "
                                           "checkpoint = ?1 ORDER BY idx"));
  st->BindBlob(1, id);
  std::vector<std::string> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    out.push_back(st->ColumnString(0));
  }
  return out;
}

absl::StatusOr<std::vector<CheckpointRow>> Rows(sqlite::Db& db, const std::string& id,
                                                uint32_t from, size_t limit) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT idx, tbl, row, state, leaf FROM "
                                           "hub_checkpoint_rows WHERE checkpoint = ?1 AND idx >= "
                                           "?2 ORDER BY idx LIMIT ?3"));
  st->BindBlob(1, id);
  st->BindInt(2, from);
  st->BindInt(3, static_cast<int64_t>(limit));
  std::vector<CheckpointRow> out;
  while (true) {
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (!r) break;
    CheckpointRow row;
    row.index = static_cast<uint32_t>(st->ColumnInt(0));
    row.table = st->ColumnString(1);
    FS_ASSIGN_OR_RETURN(row.row, Id16::FromBytes(st->ColumnBlob(2), "checkpoint row"));
    row.state = st->ColumnString(3);
    row.leaf = st->ColumnString(4);
    out.push_back(std::move(row));
  }
  return out;
}

absl::Status Adopt(sqlite::Db& db, const StoredCheckpoint& c, const std::vector<CheckpointRow>& rows,
                   size_t keep) {
  {
    FS_ASSIGN_OR_RETURN(auto st, db.Prepared(
                                     "INSERT INTO hub_checkpoints(id, province, position, leaves, "
                                     "adopted_at, gc_epoch, seq, statement) VALUES (?1, ?2, ?3, "
                                     "?4, ?5, ?7, (SELECT coalesce(max(seq), 0) + 1 FROM "
                                     "hub_checkpoints), ?6) ON CONFLICT(id) DO NOTHING"));
    st->BindBlob(1, c.id);
    st->BindText(2, c.province);
    st->BindInt(3, c.position);
    st->BindInt(4, c.leaf_count);
    st->BindInt(5, c.adopted_at_millis);
    st->BindBlob(6, c.statement);
    st->BindInt(7, static_cast<int64_t>(c.gc_epoch));
    FS_RETURN_IF_ERROR(st->Run());
    if (db.Changes() == 0) return absl::OkStatus();  // adopted before
  }
  FS_ASSIGN_OR_RETURN(auto ins, db.Prepared("INSERT INTO hub_checkpoint_rows(checkpoint, idx, "
                                            "tbl, row, state, leaf) VALUES (?1, ?2, ?3, ?4, ?5, "
                                            "?6)"));
  for (const CheckpointRow& r : rows) {
    ins->Reset();
    ins->BindBlob(1, c.id);
    ins->BindInt(2, r.index);
    ins->BindText(3, r.table);
    ins->BindBlob(4, r.row.view());
    ins->BindBlob(5, r.state);
    ins->BindBlob(6, r.leaf);
    FS_RETURN_IF_ERROR(ins->Run());
  }
  // Older ones of the province go, rows first.
  for (const char* sql :
       {"DELETE FROM hub_checkpoint_rows WHERE checkpoint IN (SELECT id FROM hub_checkpoints "
        "WHERE province = ?1 ORDER BY seq DESC LIMIT -1 OFFSET ?2)",
        "DELETE FROM hub_checkpoints WHERE id IN (SELECT id FROM hub_checkpoints WHERE "
        "province = ?1 ORDER BY seq DESC LIMIT -1 OFFSET ?2)"}) {
    FS_ASSIGN_OR_RETURN(auto st, db.Prepared(sql));
    st->BindText(1, c.province);
    st->BindInt(2, static_cast<int64_t>(keep));
    FS_RETURN_IF_ERROR(st->Run());
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::hub::sqlite_checkpoints
