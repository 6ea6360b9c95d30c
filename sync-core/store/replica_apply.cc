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
        // Versions neither held nor carried, with the field that names them.
        std::vector<std::pair<const FieldWrite*, Version>> unseen;
        for (const FieldWrite& f : c.changes[k].fields) {
          anchored |= f.column == kLiveColumn;
          auto depends_on = [&](const Version& v) {
            if (Knows(v)) {
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
          FS_ASSIGN_OR_RETURN(ready, WholeRowHides(c.changes[k], unseen));
          anchored |= ready;  // the row is held
        }
        // An edit of fields never written before carries no base: the
        // change waits for the row's creation by looking the row up.
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
