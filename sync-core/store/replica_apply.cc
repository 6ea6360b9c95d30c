// Applying remote commits in dependency order (Apply), and the checks every
// batch passes before anything of it is written.
#include "store/replica_impl.h"

#include "schema/validate_commit.h"

namespace fieldsync {

absl::StatusOr<bool> Replica::Impl::ApplyInTxn(sqlite::Transaction&,
                                               const std::vector<const Commit*>& commits,
                                               bool allow_gaps, const ApplyHooks* hooks,
                                               std::vector<ApplyOutcome>* outcomes) {
  outcomes->assign(commits.size(), ApplyOutcome::kDeferred);
  std::vector<size_t> pending(commits.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  bool progress = true;
  while (progress && !pending.empty()) {
    progress = false;
    std::vector<size_t> still;
    // With gaps allowed, an author's commits still apply in sequence order:
    // once one of an author's commits waits, its later ones wait too (else
    // the earlier one would afterwards look like a duplicate, and be lost).
    absl::flat_hash_set<DeviceId> waiting;
    // With gaps allowed (a pull), the versions the waiting commits carry: a
    // write based on one of them waits for it. A base or resolved version
    // neither held here nor carried by the batch does not hold a write
    // back: the hub's log is in dependency order and reaches a node in that
    // order, so that version is at an earlier position, in a row the node
    // received whole (installed, or bootstrapped) where a later write
    // superseded it and no longer names it. It is never sent again: waiting
    // for it left the node stuck for good (docs/MERGE.md). The row itself
    // must be held (below). A hub that withheld that version gains nothing
    // it lacked: the write is verified as any, and this node is as if the
    // hub had withheld that one commit, which it can do anyway.
    std::set<Version> carried;
    if (allow_gaps) {
      for (size_t i : pending) carried.insert(commits[i]->version());
    }
    for (size_t i : pending) {
      const Commit& c = *commits[i];
      auto it = device_index.find(c.author);
      const uint64_t have = it == device_index.end() ? 0 : devices[it->second].max_seq;
      if (c.seq <= have) {
        (*outcomes)[i] = ApplyOutcome::kDuplicate;
        continue;
      }
      bool ready = allow_gaps ? waiting.count(c.author) == 0 : c.seq == have + 1;
      for (size_t k = 0; ready && k < c.changes.size(); ++k) {
        // True once something of this row change proves the row is (or is
        // being) created here: a write of _live, or a base or resolved
        // version (held, so the row that carries it is held too).
        bool anchored = false;
        auto depends_on = [&](const Version& v) {
          if (Knows(v)) {
            anchored = true;
          } else if (!allow_gaps || carried.count(v) > 0) {
            ready = false;
          }
        };
        for (const FieldWrite& f : c.changes[k].fields) {
          anchored |= f.column == kLiveColumn;
          if (f.base) depends_on(*f.base);
          for (const Version& r : f.resolves) depends_on(r);
        }
        // An edit of fields never written before carries no base, and a
        // base neither held nor carried (above) proves nothing: the change
        // waits for the row's creation by looking the row up.
        if (ready && !anchored) {
          FS_ASSIGN_OR_RETURN(bool held, RowExists(c.changes[k].table, c.changes[k].row));
          ready = held;
        }
      }
      if (!ready) {
        if (allow_gaps) waiting.insert(c.author);
        still.push_back(i);
        continue;
      }
      if (hooks != nullptr && hooks->before) FS_RETURN_IF_ERROR(hooks->before(c));
      FS_RETURN_IF_ERROR(ApplyCommit(c, nullptr));
      if (hooks != nullptr && hooks->after) FS_RETURN_IF_ERROR(hooks->after(c, last_position));
      (*outcomes)[i] = ApplyOutcome::kApplied;
      progress = true;
    }
    pending.swap(still);
  }
  return !pending.empty();
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

// Everything in a batch is checked before anything is written.
absl::Status ValidateBatch(const Schema& schema, HybridClock& hlc,
                           const std::vector<const Commit*>& commits,
                           const CommitSecurity* security) {
  for (size_t i = 0; i < commits.size(); ++i) {
    const Commit& c = *commits[i];
    absl::Status s = ValidateCommit(schema, c);
    if (s.ok() && security != nullptr && security->verify) s = security->verify(c, 0);
    if (s.ok() && hlc.TooFarAhead(c.hlc)) {
      s = hlc.Check(c.hlc, absl::StrCat("device ", c.author.ToString()));
    }
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("batch refused, nothing applied: commit ", i,
                                                 " of ", commits.size(), ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ApplyResult> Replica::Apply(
    const std::vector<Commit>& commits, std::optional<std::pair<std::string, int64_t>> cursor,
    const ApplyHooks* hooks) {
  Impl& m = *impl_;
  std::vector<const Commit*> ptrs;
  ptrs.reserve(commits.size());
  for (const Commit& c : commits) ptrs.push_back(&c);
  FS_RETURN_IF_ERROR(ValidateBatch(*m.schema, m.hlc, ptrs, &m.security));
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
  for (ApplyOutcome o : result.outcomes) {
    if (o == ApplyOutcome::kApplied) ++result.applied;
    if (o == ApplyOutcome::kDuplicate) ++result.duplicates;
    if (o == ApplyOutcome::kDeferred) ++result.deferred;
  }
  return result;
}

}  // namespace fieldsync
