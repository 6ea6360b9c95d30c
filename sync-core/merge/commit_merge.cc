#include "merge/commit_merge.h"

#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "schema/validate_commit.h"

namespace fieldsync {

absl::Status ValidateBatch(
    const Schema& schema, HybridClock& clock, const std::vector<const Commit*>& commits,
    const std::function<absl::Status(const Commit&, int64_t position)>* verify,
    bool check_clock, const ClockLead& lead) {
  for (size_t i = 0; i < commits.size(); ++i) {
    const Commit& c = *commits[i];
    absl::Status s = ValidateCommit(schema, c);
    if (s.ok() && verify != nullptr && *verify) s = (*verify)(c, 0);
    if (s.ok() && check_clock && clock.TooFarAhead(c.hlc, lead)) {
      s = clock.Check(c.hlc, absl::StrCat("device ", c.author.ToString()), lead);
    }
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("batch refused, nothing applied: commit ", i,
                                                 " of ", commits.size(), ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status MergeRowChange(const TableDef& t, const Commit& c, const RowChange& rc,
                            MergeRow& row) {
  const Version incoming = c.version();
  for (const FieldWrite& f : rc.fields) {
    const size_t si =
        f.column == kLiveColumn ? 0 : static_cast<size_t>(t.ColumnIndex(f.column)) + 1;
    // Conflict records this write supersedes are settled, win or lose.
    if (f.base || !f.resolves.empty()) {
      FS_RETURN_IF_ERROR(row.DropConflicts(si, f.base, f.resolves));
    }
    const std::optional<FieldVersion> current = row.Current(si);
    MergeDecision d = DecideField(current, IncomingWrite{incoming, &f.base, &f.resolves});
    // An older write the field's winner or one of its records superseded
    // before it reached here (held inside a row installed whole, its commit
    // pulled later): not concurrent, whatever the winner's own base is.
    if (d.conflict == ConflictAction::kKeepIncoming) {
      FS_ASSIGN_OR_RETURN(const bool superseded, row.SupersededHere(si, incoming));
      if (superseded) d.conflict = ConflictAction::kNone;
    }
    if (d.conflict == ConflictAction::kKeepCurrent) {
      FS_ASSIGN_OR_RETURN(Value replaced, row.CurrentValue(si));
      FS_RETURN_IF_ERROR(row.KeepConflict(si, current->version, current->base, replaced));
    } else if (d.conflict == ConflictAction::kKeepIncoming) {
      FS_RETURN_IF_ERROR(row.KeepConflict(si, incoming, f.base, f.value));
    }
    if (d.incoming_wins) FS_RETURN_IF_ERROR(row.Win(si, incoming, f.base, f.value));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MergeCommit(MergeStore& store, const Commit& c) {
  const Schema& schema = store.schema();
  for (size_t i = 0; i < c.changes.size(); ++i) {
    const RowChange& rc = c.changes[i];
    const auto tidx = static_cast<size_t>(schema.TableIndex(rc.table));
    FS_ASSIGN_OR_RETURN(MergeRow * row, store.OpenRow(c, i, tidx, rc.row));
    FS_RETURN_IF_ERROR(MergeRowChange(schema.tables()[tidx], c, rc, *row));
    FS_RETURN_IF_ERROR(store.StoreRow(*row));
  }
  return store.AppendLog(c);
}

absl::StatusOr<bool> MergeInOrder(MergeStore& store, const std::vector<const Commit*>& commits,
                                  bool allow_gaps, const ApplyHooks* hooks,
                                  std::vector<ApplyOutcome>* outcomes) {
  const Schema& schema = store.schema();
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
    // neither held here nor carried by the batch holds a write back too,
    // unless the row was received whole (installed, or bootstrapped) and
    // the version may be inside it, superseded there (WholeRowHides): the
    // row's state names only the latest versions, so the node never learns
    // that one, and waiting for it left the node stuck for good
    // (docs/MERGE.md). In a row held from the log, the version is one the
    // hub has not sent yet: applying the write before it would show a
    // conflict no replica that receives the log in order has.
    std::set<Version> carried;
    if (allow_gaps) {
      for (size_t i : pending) carried.insert(commits[i]->version());
    }
    for (size_t i : pending) {
      const Commit& c = *commits[i];
      const uint64_t have = store.HeldSeq(c.author);
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
        // Versions neither held nor carried, with the field that names them.
        std::vector<std::pair<const FieldWrite*, Version>> unseen;
        for (const FieldWrite& f : c.changes[k].fields) {
          anchored |= f.column == kLiveColumn;
          auto depends_on = [&](const Version& v) {
            if (store.Knows(v)) {
              anchored = true;
            } else if (!allow_gaps || carried.count(v) > 0) {
              ready = false;
            } else {
              unseen.emplace_back(&f, v);
            }
          };
          if (f.base) depends_on(*f.base);
          for (const Version& r : f.resolves) depends_on(r);
        }
        if (ready && !unseen.empty()) {
          FS_ASSIGN_OR_RETURN(ready, store.WholeRowHides(c.changes[k], unseen));
          anchored |= ready;  // the row is held
        }
        // An edit of fields never written before carries no base: the
        // change waits for the row's creation by looking the row up.
        if (ready && !anchored) {
          FS_ASSIGN_OR_RETURN(bool held,
                              store.RowExists(static_cast<size_t>(schema.TableIndex(
                                                  c.changes[k].table)),
                                              c.changes[k].row));
          ready = held;
        }
      }
      if (!ready && !allow_gaps && c.seq == have + 1 && hooks != nullptr && hooks->refuse) {
        FS_ASSIGN_OR_RETURN(const bool refused, hooks->refuse(c, absl::OkStatus()));
        if (refused) {
          (*outcomes)[i] = ApplyOutcome::kRefused;
          progress = true;
          continue;
        }
      }
      if (!ready) {
        if (allow_gaps) waiting.insert(c.author);
        still.push_back(i);
        continue;
      }
      if (hooks != nullptr && hooks->before) {
        absl::Status why = hooks->before(c);
        if (!why.ok() && hooks->refuse) {
          FS_ASSIGN_OR_RETURN(const bool refused, hooks->refuse(c, why));
          if (refused) {
            (*outcomes)[i] = ApplyOutcome::kRefused;
            progress = true;
            continue;
          }
        }
        FS_RETURN_IF_ERROR(why);
      }
      FS_ASSIGN_OR_RETURN(const int64_t position, MergeCommit(store, c));
      if (hooks != nullptr && hooks->after) FS_RETURN_IF_ERROR(hooks->after(c, position));
      (*outcomes)[i] = ApplyOutcome::kApplied;
      progress = true;
    }
    pending.swap(still);
  }
  return !pending.empty();
}

void CountOutcomes(ApplyResult& result) {
  result.applied = result.duplicates = result.deferred = result.refused = 0;
  for (ApplyOutcome o : result.outcomes) {
    if (o == ApplyOutcome::kRefused) ++result.refused;
    if (o == ApplyOutcome::kApplied) ++result.applied;
    if (o == ApplyOutcome::kDuplicate) ++result.duplicates;
    if (o == ApplyOutcome::kDeferred) ++result.deferred;
  }
}

absl::StatusOr<ApplyResult> MergeCommits(MergeStore& store, const std::vector<Commit>& commits,
                                         const ApplyHooks* hooks) {
  std::vector<const Commit*> ptrs;
  ptrs.reserve(commits.size());
  for (const Commit& c : commits) ptrs.push_back(&c);
  FS_RETURN_IF_ERROR(ValidateBatch(store.schema(), store.clock(), ptrs, nullptr,
                                   hooks == nullptr || !hooks->clock_per_commit));
  ApplyResult result;
  FS_RETURN_IF_ERROR(
      MergeInOrder(store, ptrs, /*allow_gaps=*/false, hooks, &result.outcomes).status());
  if (hooks != nullptr && hooks->at_end) FS_RETURN_IF_ERROR(hooks->at_end());
  CountOutcomes(result);
  return result;
}

}  // namespace fieldsync
