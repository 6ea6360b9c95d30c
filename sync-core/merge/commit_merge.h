// Merging commits into a store: the engine both a node's replica
// (store/replica.h) and the hub (hub/engine.cc) run, over the narrow storage
// interface below. The rules are here, once: the per-field rule of merge.h
// applied to every field a row change writes (winner, conflict records kept
// and superseded), idempotency by (author, seq), dependency order (a write
// waits for its base and for its row), the checks of a batch before any of
// it is written. A store implements MergeStore and MergeRow with storage
// primitives only: a row's field registers read and written, conflict
// records, the log with its positions, what each author's commits are held
// up to. The SQLite replica is one (store/replica_merge.cc); a hub on
// another database implements the same and needs no merge of its own.
#ifndef FIELDSYNC_MERGE_COMMIT_MERGE_H_
#define FIELDSYNC_MERGE_COMMIT_MERGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/commit.h"
#include "clock/hlc.h"
#include "merge/merge.h"
#include "schema/schema.h"

namespace fieldsync {

// What became of each commit handed to a merge.
enum class ApplyOutcome {
  kApplied,    // merged now
  kDuplicate,  // already held: acknowledged, not applied again
  kDeferred,   // depends on a commit not yet held; deliver it again later
  kRefused,    // refused alone by ApplyHooks::refuse (a version 3 hub push)
};

struct ApplyResult {
  std::vector<ApplyOutcome> outcomes;  // one per input commit, in input order
  size_t applied = 0;
  size_t duplicates = 0;
  size_t deferred = 0;
  size_t refused = 0;
  // Whether the requested cursor was set: only if nothing was deferred
  // (Replica::Apply; a merge without a cursor leaves it false).
  bool cursor_set = false;
};

// Called inside the merge's transaction, around each commit it merges (not
// for duplicates or deferred commits). An error aborts the whole batch:
// nothing of it is stored. The hub checks scope and records it here.
struct ApplyHooks {
  std::function<absl::Status(const Commit&)> before;
  // `position` is the commit's position in the store's log.
  std::function<absl::Status(const Commit&, int64_t position)> after;
  // Once every commit is merged, still inside the transaction (the hub
  // stores the key records of a push with its commits).
  std::function<absl::Status()> at_end;
  // A store that refuses commits one by one (a version 3 hub push; without
  // this hook every refusal aborts the batch). Called with `why` the error
  // `before` returned for `c`, or with OK for a commit next in its author's
  // sequence that waits for something not held (a version or a row).
  // Returns true if `c` is refused alone: the hook recorded it and moved
  // the store's HeldSeq of its author past it (MergeStore::PassOver), and
  // the merge goes on with the next commits. False: `why` aborts the batch
  // as without the hook (OK: the commit waits, as without the hook).
  std::function<absl::StatusOr<bool>(const Commit& c, const absl::Status& why)> refuse;
  // The hooks judge the clock one commit at a time (a version 3 hub refuses
  // a commit stamped ahead alone, CLOCK_AHEAD): the batch is not refused
  // for it before the merge.
  bool clock_per_commit = false;
};

// One row of a store, opened to merge one row change into it. Fields by
// slot: 0 the liveness register (kLiveColumn), c + 1 the table's column c.
// Nothing is written until MergeStore::StoreRow, except conflict records.
class MergeRow {
 public:
  virtual ~MergeRow() = default;
  // Whether the store holds the row (live or deleted).
  virtual bool exists() const = 0;
  // The winning version of a field; nullopt if it was never written.
  virtual std::optional<FieldVersion> Current(size_t slot) const = 0;
  // The value a field holds (read when a replaced value becomes a conflict
  // record, the only time the merge needs a stored value).
  virtual absl::StatusOr<Value> CurrentValue(size_t slot) = 0;
  // Removes the field's open conflict records of `base` and of `resolves`:
  // the versions an incoming write supersedes.
  virtual absl::Status DropConflicts(size_t slot, const std::optional<Version>& base,
                                     const std::vector<Version>& resolves) = 0;
  // Keeps a losing write as an open conflict record of the field (once per
  // version: a record held already is not added again).
  virtual absl::Status KeepConflict(size_t slot, const Version& version,
                                    const std::optional<Version>& base, const Value& value) = 0;
  // The field's new winner. `value` lives in the commit being merged, which
  // outlives StoreRow.
  virtual absl::Status Win(size_t slot, const Version& version,
                           const std::optional<Version>& base, const Value& value) = 0;
  // Whether the field's winner or one of its open conflict records
  // superseded `older` through earlier writes the store holds (a base, or a
  // resolved record, of a base ... of one of them). A store that merges
  // every write after its bases (a hub: a write waits for its base) meets
  // such a write only as a duplicate.
  virtual absl::StatusOr<bool> SupersededHere(size_t /*slot*/, const Version& /*older*/) {
    return false;
  }
};

// The storage a merge needs, inside one write transaction the caller holds.
class MergeStore {
 public:
  virtual ~MergeStore() = default;

  virtual const Schema& schema() const = 0;
  // The store's clock: a commit too far ahead of it is refused; every
  // commit merged moves it (AppendLog).
  virtual HybridClock& clock() = 0;

  // Idempotency: the highest sequence number of `author`'s commits held
  // (0: none).
  virtual uint64_t HeldSeq(const DeviceId& author) = 0;
  // Whether the write of version `v` is held here: its author's commits
  // are held up to its time (merged, or learnt from an installed row).
  virtual bool Knows(const Version& v) = 0;
  // Whether row `row` of table `table` (an index into schema()) is held,
  // live or deleted.
  virtual absl::StatusOr<bool> RowExists(size_t table, const RowId& row) = 0;
  // In a pull: whether every one of `unseen` (versions a change names that
  // are neither held nor carried by the batch, with the field naming each)
  // may be inside the row as received whole, superseded there
  // (docs/MERGE.md). A store that never takes a pull with gaps (the hub)
  // keeps the default: no.
  virtual absl::StatusOr<bool> WholeRowHides(
      const RowChange& /*change*/,
      const std::vector<std::pair<const FieldWrite*, Version>>& /*unseen*/) {
    return false;
  }

  // Opens the row that change `change` of `commit` writes (an absent row
  // opens empty, exists() false). Valid until StoreRow or the next OpenRow.
  virtual absl::StatusOr<MergeRow*> OpenRow(const Commit& commit, size_t change, size_t table,
                                            const RowId& row) = 0;
  // Stores what was merged into the open row (its winners; a new row
  // inserted).
  virtual absl::Status StoreRow(MergeRow& row) = 0;
  // Appends `commit` to the log once its changes are stored; returns its
  // position. From then on HeldSeq(author) is its seq and its version is
  // known; the clock is at least its HLC.
  virtual absl::StatusOr<int64_t> AppendLog(const Commit& commit) = 0;
  // Moves HeldSeq(author) to `seq` without logging a commit: the commit of
  // that seq was refused for good, or withdrawn, and will never be held
  // (a version 3 hub). Its version is not known by it.
  virtual absl::Status PassOver(const DeviceId& author, uint64_t seq) = 0;
};

// Everything in a batch is checked before anything is written: the schema's
// rules (ValidateCommit), `verify` if given (a node's signature check), and
// the clock skew limit. The error names the commit and says nothing was
// applied.
// With `check_clock` false the clock is the caller's to judge
// (ApplyHooks::clock_per_commit). `lead`: pulled commits are judged against
// this clock corrected by the hub's (clock/hlc.h ClockLead).
absl::Status ValidateBatch(
    const Schema& schema, HybridClock& clock, const std::vector<const Commit*>& commits,
    const std::function<absl::Status(const Commit&, int64_t position)>* verify = nullptr,
    bool check_clock = true, const ClockLead& lead = {});

// The per-field rule (merge.h) for every field that `change` of `commit`
// writes, on `row` of table `table`.
absl::Status MergeRowChange(const TableDef& table, const Commit& commit, const RowChange& change,
                            MergeRow& row);

// One commit: each of its row changes merged into its row and stored, then
// the commit logged. Returns its log position.
absl::StatusOr<int64_t> MergeCommit(MergeStore& store, const Commit& commit);

// Merges `commits` in dependency order inside the caller's transaction;
// outcomes[i] says what became of commits[i]. A commit already held (by
// author and seq) is a duplicate. Without `allow_gaps` a commit follows its
// author's previous sequence number; with it (a node pulling a scoped log)
// it need not. True in the result if anything was deferred.
absl::StatusOr<bool> MergeInOrder(MergeStore& store, const std::vector<const Commit*>& commits,
                                  bool allow_gaps, const ApplyHooks* hooks,
                                  std::vector<ApplyOutcome>* outcomes);

// The counts of `result.outcomes`, filled in.
void CountOutcomes(ApplyResult& result);

// A batch merged as Replica::Apply merges it, inside the caller's
// transaction: validated, merged in dependency order with `hooks`, then
// hooks->at_end. What a hub's write runs over its store.
absl::StatusOr<ApplyResult> MergeCommits(MergeStore& store, const std::vector<Commit>& commits,
                                         const ApplyHooks* hooks);

}  // namespace fieldsync

#endif  // FIELDSYNC_MERGE_COMMIT_MERGE_H_
