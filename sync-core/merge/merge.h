// The merge rule: a pure function of a field's current version and an
// incoming write. No SQLite, no I/O. Shared by every node and the hub.
//
// The rule (docs/MERGE.md explains why it converges):
//  * the greater version (hlc, device) wins the field;
//  * the loser is kept as a conflict record unless it was superseded, i.e.
//    the winner's author had seen it: it is the winner's base or one of the
//    versions the winner resolves;
//  * an incoming write removes from the field's conflict records every
//    version it supersedes (its base and its resolves), whether it wins or not.
// With commits delivered causally (a write's base arrives before the write,
// which the replica enforces), the winner is the greatest write of the field
// and the conflict records are exactly the other writes no write supersedes:
// both depend on the set of writes only, never on the order of delivery.
#ifndef FIELDSYNC_MERGE_MERGE_H_
#define FIELDSYNC_MERGE_MERGE_H_

#include <optional>
#include <vector>

#include "change/commit.h"

namespace fieldsync {

// The field as the replica has it.
struct FieldVersion {
  Version version;
  std::optional<Version> base;
};

// The incoming write of that field.
struct IncomingWrite {
  Version version;
  const std::optional<Version>* base;
  const std::vector<Version>* resolves;
};

enum class ConflictAction {
  kNone,          // nothing to keep
  kKeepCurrent,   // the replaced current value becomes a conflict record
  kKeepIncoming,  // the losing incoming value becomes a conflict record
};

struct MergeDecision {
  bool incoming_wins = false;
  ConflictAction conflict = ConflictAction::kNone;
  friend bool operator==(const MergeDecision& a, const MergeDecision& b) {
    return a.incoming_wins == b.incoming_wins && a.conflict == b.conflict;
  }
};

// `current` is empty if the field was never written on this replica. An
// incoming version equal to the current one is a redelivery: no change.
MergeDecision DecideField(const std::optional<FieldVersion>& current, const IncomingWrite& in);

// True if `write` supersedes version `v` (v is its base or among its resolves).
bool Supersedes(const std::optional<Version>& base, const std::vector<Version>& resolves,
                const Version& v);

}  // namespace fieldsync

#endif  // FIELDSYNC_MERGE_MERGE_H_
