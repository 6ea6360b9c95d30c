// Applying remote commits (Apply): the merge engine of merge/commit_merge.h
// (checks, dependency order, the per-field rule) over this replica's storage.
#include "store/replica_impl.h"

namespace fieldsync {

// The merge engine (merge/commit_merge.h) over this replica's storage.
absl::StatusOr<bool> Replica::Impl::ApplyInTxn(sqlite::Transaction&,
                                               const std::vector<const Commit*>& commits,
                                               bool allow_gaps, const ApplyHooks* hooks,
                                               std::vector<ApplyOutcome>* outcomes) {
  ReplicaMergeStore store(*this);
  return MergeInOrder(store, commits, allow_gaps, hooks, outcomes);
}

// A pulled row change names `unseen` versions this replica neither holds
// nor receives in the batch. They do not hold it back only if each may be
// inside the row as received whole, superseded there: the row is recorded
// in _fs_installed (installed, or bootstrapped), and the field holds a
// version newer than it. A write superseded before the row was exported is
// older than what superseded it, and the field's version is the newest of
// its writes (docs/MERGE.md): an unseen version not older than the field's
// is not inside the row, whatever the hub says.
absl::StatusOr<bool> Replica::Impl::WholeRowHides(
    const RowChange& rc, const std::vector<std::pair<const FieldWrite*, Version>>& unseen) {
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT 1 FROM _fs_installed WHERE tbl = ?1 AND "
                                              "row = ?2"));
    st->BindText(1, rc.table);
    st->BindBlob(2, rc.row.view());
    FS_ASSIGN_OR_RETURN(bool whole, st->Step());
    if (!whole) return false;
  }
  const int ti = schema->TableIndex(rc.table);
  if (ti < 0) return false;  // refused by ValidateBatch before
  const auto tidx = static_cast<size_t>(ti);
  FS_ASSIGN_OR_RETURN(RowState rs, LoadRow(tidx, rc.row, /*all_values=*/false));
  if (!rs.exists) return false;
  const TableDef& t = schema->tables()[tidx];
  for (const auto& [f, v] : unseen) {
    size_t slot = 0;
    if (f->column != kLiveColumn) {
      const int ci = t.ColumnIndex(f->column);
      if (ci < 0) return false;
      slot = static_cast<size_t>(ci) + 1;
    }
    const SlotMeta& held = rs.slots[slot];
    if (!held.set || held.hlc <= v.hlc.packed()) return false;
  }
  return true;
}

absl::Status Replica::Impl::SetCursorInTxn(sqlite::Transaction&, const std::string& name,
                                           int64_t value) {
  FS_ASSIGN_OR_RETURN(auto st,
                      db->Prepared("INSERT INTO _fs_cursors(name, value) VALUES (?1, ?2) "
                                   "ON CONFLICT(name) DO UPDATE SET value = excluded.value"));
  st->BindText(1, name);
  st->BindInt(2, value);
  return st->Run();
}

absl::StatusOr<ApplyResult> Replica::Apply(
    const std::vector<Commit>& commits, std::optional<std::pair<std::string, int64_t>> cursor,
    const ApplyHooks* hooks) {
  Impl& m = *impl_;
  std::vector<const Commit*> ptrs;
  ptrs.reserve(commits.size());
  for (const Commit& c : commits) ptrs.push_back(&c);
  FS_RETURN_IF_ERROR(ValidateBatch(*m.schema, m.hlc, ptrs, &m.security.verify));
  ApplyResult result;
  FS_RETURN_IF_ERROR(m.InWriteTxn([&](sqlite::Transaction& txn) -> absl::Status {
    // What the key ring keeps of the commits verified above, in this
    // transaction: nothing of a batch that is refused.
    if (m.security.taken) {
      for (const Commit* c : ptrs) FS_RETURN_IF_ERROR(m.security.taken(txn, *c));
    }
    FS_ASSIGN_OR_RETURN(bool deferred, m.ApplyInTxn(txn, ptrs, /*allow_gaps=*/false, hooks,
                                                    &result.outcomes));
    // A cursor past a deferred commit would skip it for good: the cursor
    // moves only when every commit of the batch is held.
    if (cursor && !deferred) {
      FS_RETURN_IF_ERROR(m.SetCursorInTxn(txn, cursor->first, cursor->second));
      result.cursor_set = true;
    }
    if (hooks != nullptr && hooks->at_end) FS_RETURN_IF_ERROR(hooks->at_end());
    return absl::OkStatus();
  }));
  CountOutcomes(result);
  return result;
}

}  // namespace fieldsync
