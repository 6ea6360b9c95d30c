// Rows brought in from an outside register (fieldnode import cases): their
// commits and the source key of each, in one SQLite transaction.
#include "store/replica_impl.h"

namespace fieldsync {

absl::StatusOr<std::vector<Commit>> Replica::WriteImported(
    const std::vector<LocalTxn>& txns,
    const std::vector<std::pair<std::string, RowId>>& sources, int64_t at_millis,
    const std::vector<std::pair<std::string, std::string>>& rekeyed) {
  Impl& m = *impl_;
  std::vector<Commit> out;
  out.reserve(txns.size());
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction& db_txn) -> absl::Status {
    for (const auto& [old_key, new_key] : rekeyed) {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared("UPDATE OR REPLACE _fs_imported SET source_key "
                                                  "= ?2 WHERE source_key = ?1"));
      st->BindBlob(1, old_key);
      st->BindBlob(2, new_key);
      FS_RETURN_IF_ERROR(st->Run());
    }
    for (const auto& [key, row] : sources) {
      FS_ASSIGN_OR_RETURN(auto st, m.db->Prepared(
                                       "INSERT OR IGNORE INTO _fs_imported(source_key, row, at) "
                                       "VALUES (?1, ?2, ?3)"));
      st->BindBlob(1, key);
      st->BindBlob(2, row.view());
      st->BindInt(3, at_millis);
      FS_RETURN_IF_ERROR(st->Run());
      if (m.db->Changes() == 0) {
        return absl::AlreadyExistsError(
            "a row of this register was imported already (its source key is recorded)");
      }
    }
    std::vector<RowState> states;
    for (const LocalTxn& txn : txns) {
      FS_ASSIGN_OR_RETURN(Commit c, m.WriteOne(db_txn, txn, &states));
      out.push_back(std::move(c));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::set<std::string>> Replica::ImportedKeys(const std::vector<std::string>& keys) {
  Impl& m = *impl_;
  std::set<std::string> out;
  for (const std::string& key : keys) {
    FS_ASSIGN_OR_RETURN(auto st,
                        m.db->Prepared("SELECT 1 FROM _fs_imported WHERE source_key = ?1"));
    st->BindBlob(1, key);
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (found) out.insert(key);
  }
  return out;
}

}  // namespace fieldsync
