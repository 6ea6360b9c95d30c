#include "sync/schedule.h"

#include <algorithm>
#include <vector>

#include "base/status_macros.h"
#include "schema/relations.h"
#include "sync/report.h"

namespace fieldsync::sync {

int64_t DaemonSchedule::AfterPass(const absl::Status& result, bool progressed) {
  if (result.ok()) {
    failures_ = 0;
    return options_.every_millis;
  }
  if (progressed && Retryable(result)) {
    failures_ = 0;
    return 0;
  }
  ++failures_;
  if (!Retryable(result)) return options_.every_millis;
  return backoff_.WaitMillis(failures_, rng_);
}

absl::StatusOr<bool> HasUrgentUnpushed(Replica& replica, uint64_t after_seq) {
  FS_ASSIGN_OR_RETURN(int64_t pushed, replica.GetCursor(kPushedCursor));
  uint64_t from = std::max(static_cast<uint64_t>(pushed), after_seq);
  while (true) {
    FS_ASSIGN_OR_RETURN(std::vector<Commit> commits, replica.LocalCommitsAfter(from, 1000));
    if (commits.empty()) return false;
    for (const Commit& c : commits) {
      for (const RowChange& rc : c.changes) {
        for (const FieldWrite& f : rc.fields) {
          // The schema's rule: a sealed exact time (NULL included) says
          // nothing, its clear coarse copy in the same change does.
          if (IsUrgentWrite(replica.schema(), rc.table, f.column, f.value)) return true;
        }
      }
    }
    from = commits.back().seq;
  }
}

}  // namespace fieldsync::sync
