// The daemon's schedule: when the next sync pass runs. Randomness (the
// backoff's jitter) is seeded by the caller, so a test replays it; the
// daemon waits for the time this returns, waking early for a stop or for
// an urgent commit (HasUrgentUnpushed).
#ifndef FIELDSYNC_SYNC_SCHEDULE_H_
#define FIELDSYNC_SYNC_SCHEDULE_H_

#include <cstdint>
#include <random>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/tuning.h"
#include "store/replica.h"
#include "sync/retry.h"

namespace fieldsync::sync {

struct ScheduleOptions {
  int64_t every_millis = tuning::kSyncEveryMillis;  // between passes that succeeded
  int64_t max_backoff_millis = tuning::kSyncMaxBackoffMillis;
  int64_t backoff_base_millis = tuning::kSyncBackoffBaseMillis;
};

class DaemonSchedule {
 public:
  DaemonSchedule(ScheduleOptions options, uint64_t seed)
      : options_(options), backoff_(options.backoff_base_millis, options.max_backoff_millis),
        rng_(seed) {}

  // How long to wait after a pass that ended with `result`: `every` after
  // a success or a failure not worth retrying soon; 0 (at once) after a
  // retryable failure of a pass that `progressed` (a link that drops each
  // connection after a few KB: docs/PROTOCOL.md, "Message budgets"), which
  // also starts the backoff over; a growing backoff with jitter after
  // retryable failures in a row that moved nothing.
  int64_t AfterPass(const absl::Status& result, bool progressed = false);
  int failures() const { return failures_; }

 private:
  ScheduleOptions options_;
  Backoff backoff_;
  std::mt19937_64 rng_;
  int failures_ = 0;
};

// Whether unpushed local commits (those after `after_seq` too, if given)
// include urgent ones (a case marked urgent, a crime reported): the daemon
// syncs at once for those.
absl::StatusOr<bool> HasUrgentUnpushed(Replica& replica, uint64_t after_seq = 0);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_SCHEDULE_H_
