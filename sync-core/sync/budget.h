// The byte budget of one kind of call (push, pull): how many bytes one call
// may carry, so that a link that drops every connection after a few KB
// still moves something at every try (docs/PROTOCOL.md, "Message budgets").
// It starts at tuning::kCallBudgetStartBytes, halves after a call that
// failed having applied nothing (down to kCallBudgetMinBytes: a call still
// carries one commit, a message one row), shrinks to a share of what a call
// cut after some progress carried (kCallBudgetCutShare), and doubles after
// kCallBudgetGrowAfter successes in a row (up to kCallBudgetMaxBytes). Kept
// in the replica's cursors, so that the next `fieldnode sync` starts where
// the last one ended.
#ifndef FIELDSYNC_SYNC_BUDGET_H_
#define FIELDSYNC_SYNC_BUDGET_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/replica.h"

namespace fieldsync::sync {

// Cursor names in the replica's _fs_cursors (docs/FORMATS.md): the budget
// in bytes (absent: the start), and the successes in a row since it last
// changed.
inline constexpr char kPushBudgetCursor[] = "hub:budget_push";
inline constexpr char kPushBudgetStreakCursor[] = "hub:budget_push_ok";
inline constexpr char kPullBudgetCursor[] = "hub:budget_pull";
inline constexpr char kPullBudgetStreakCursor[] = "hub:budget_pull_ok";

enum class CallOutcome {
  kSucceeded,
  kFailedWithProgress,  // cut after applying something: see NextBudget
  kFailedEmpty,         // failed having applied nothing: halved
};

struct BudgetState {
  int64_t bytes = 0;   // 0 or out of bounds: read as the start, clamped
  int64_t streak = 0;  // successes in a row since the last change
};

// The rule alone: the state after a call that ended with `outcome`, having
// received `carried` bytes of messages before it ended (a pull's messages
// as they came over the wire; 0: not known). A call cut after progress
// keeps the budget, or lowers it to carried / kCallBudgetCutShare: the
// link's cut then loses at most that share of what a connection carries
// (the message under way), instead of up to a whole budget.
BudgetState NextBudget(BudgetState s, CallOutcome outcome, uint64_t carried = 0);
// `bytes` as a budget: the start for 0, else within the floor and the cap.
int64_t ClampBudget(int64_t bytes);

class CallBudget {
 public:
  enum class Kind { kPush, kPull };

  // Reads the budget of `kind` from the replica's cursors.
  static absl::StatusOr<CallBudget> Load(Replica& replica, Kind kind);

  size_t bytes() const { return static_cast<size_t>(state_.bytes); }
  // Records how a call ended (`carried`: see NextBudget), in the
  // replica's cursors.
  absl::Status Record(CallOutcome outcome, uint64_t carried = 0);

 private:
  CallBudget(Replica& replica, Kind kind, BudgetState state)
      : replica_(&replica), kind_(kind), state_(state) {}

  Replica* replica_;
  Kind kind_;
  BudgetState state_;
};

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_BUDGET_H_
