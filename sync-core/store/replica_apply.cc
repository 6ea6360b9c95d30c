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
