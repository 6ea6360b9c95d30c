#include "sync/budget.h"

#include <algorithm>

#include "base/status_macros.h"
#include "base/tuning.h"

namespace fieldsync::sync {

int64_t ClampBudget(int64_t bytes) {
  if (bytes <= 0) return static_cast<int64_t>(tuning::kCallBudgetStartBytes);
  return std::clamp<int64_t>(bytes, static_cast<int64_t>(tuning::kCallBudgetMinBytes),
                             static_cast<int64_t>(tuning::kCallBudgetMaxBytes));
}

BudgetState NextBudget(BudgetState s, CallOutcome outcome, uint64_t carried) {
  s.bytes = ClampBudget(s.bytes);
  switch (outcome) {
    case CallOutcome::kSucceeded:
      if (++s.streak >= tuning::kCallBudgetGrowAfter) {
        s.bytes = ClampBudget(s.bytes * 2);
        s.streak = 0;
      }
      break;
    case CallOutcome::kFailedWithProgress:
      s.streak = 0;
      if (carried > 0) {
        const int64_t share = std::max<int64_t>(
            static_cast<int64_t>(std::min<uint64_t>(carried, tuning::kCallBudgetMaxBytes)) /
                tuning::kCallBudgetCutShare,
            1);
        s.bytes = ClampBudget(std::min(s.bytes, share));
      }
      break;
    case CallOutcome::kFailedEmpty:
      s.bytes = ClampBudget(s.bytes / 2);
      s.streak = 0;
      break;
  }
  return s;
}

namespace {

const char* BytesCursor(CallBudget::Kind kind) {
  return kind == CallBudget::Kind::kPush ? kPushBudgetCursor : kPullBudgetCursor;
}
const char* StreakCursor(CallBudget::Kind kind) {
  return kind == CallBudget::Kind::kPush ? kPushBudgetStreakCursor : kPullBudgetStreakCursor;
}

}  // namespace

absl::StatusOr<CallBudget> CallBudget::Load(Replica& replica, Kind kind) {
  BudgetState s;
  FS_ASSIGN_OR_RETURN(s.bytes, replica.GetCursor(BytesCursor(kind)));
  FS_ASSIGN_OR_RETURN(s.streak, replica.GetCursor(StreakCursor(kind)));
  s.bytes = ClampBudget(s.bytes);
  s.streak = std::clamp<int64_t>(s.streak, 0, tuning::kCallBudgetGrowAfter);
  return CallBudget(replica, kind, s);
}

absl::Status CallBudget::Record(CallOutcome outcome, uint64_t carried) {
  const BudgetState next = NextBudget(state_, outcome, carried);
  if (next.bytes != state_.bytes) {
    FS_RETURN_IF_ERROR(replica_->SetCursor(BytesCursor(kind_), next.bytes));
  }
  if (next.streak != state_.streak) {
    FS_RETURN_IF_ERROR(replica_->SetCursor(StreakCursor(kind_), next.streak));
  }
  state_ = next;
  return absl::OkStatus();
}

}  // namespace fieldsync::sync
