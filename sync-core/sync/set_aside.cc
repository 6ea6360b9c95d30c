#include "sync/set_aside.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "clock/clock_source.h"

namespace fieldsync::sync {

absl::Status SetAsideRefused(Replica& replica, const std::vector<CommitRefusal>& refusals,
                             SyncReport* report) {
  std::vector<SetAsideRow> rows;
  const int64_t now = SystemClock::Get()->NowMillis();
  // Stamped by a clock ahead, or needing such a commit: not the officer's
  // to resolve; re-dated by this laptop once its clock is right
  // (sync/restamp.h), recorded as CLOCK_AHEAD.
  std::set<uint64_t> ahead;
  if (!refusals.empty()) {
    FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> held, replica.SetAsideList());
    for (const SetAsideRow& r : held) {
      if (r.code == static_cast<int>(RefusalCode::kClockAhead) && r.withdrawal == 0) {
        ahead.insert(r.seq);
      }
    }
  }
  for (const CommitRefusal& f : refusals) {
    if (f.code == RefusalCode::kWithdrawnStored) continue;
    SetAsideRow r;
    r.seq = f.seq;
    r.code = static_cast<int>(f.code);
    r.reason = f.reason;
    r.depends_on = f.depends_on;
    r.at_millis = now;
    if (f.code == RefusalCode::kClockAhead ||
        (f.code == RefusalCode::kDependsOnRefused && ahead.count(f.depends_on) > 0)) {
      r.code = static_cast<int>(RefusalCode::kClockAhead);
      ahead.insert(f.seq);
      rows.push_back(std::move(r));
      continue;
    }
    rows.push_back(std::move(r));
    ++report->set_aside;
    if (report->set_aside_reason.empty()) {
      report->set_aside_reason = f.reason;
      report->set_aside_code = static_cast<int>(f.code);
    }
  }
  FS_RETURN_IF_ERROR(replica.SetAside(rows));
  return absl::OkStatus();
}

absl::StatusOr<bool> WithdrawSetAside(Replica& replica, SyncReport* report) {
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> all, replica.SetAsideList());
  report->set_aside_open = 0;
  bool due = false;
  for (const SetAsideRow& r : all) {
    if (r.discarded_at_millis == 0 && r.code != static_cast<int>(RefusalCode::kClockAhead)) {
      ++report->set_aside_open;
    }
    due |= r.discarded_at_millis != 0 && r.withdrawal == 0;
  }
  if (!due) return false;  // no write transaction for nothing
  // A withdrawal that cannot be signed now (a locked keystore, a key agent
  // gone) waits for the next pass; everything else of the push is done.
  absl::StatusOr<uint64_t> made = replica.WithdrawSetAside();
  if (!made.ok()) {
    report->withdrawal_note = absl::StrCat(
        "the discarded changes set aside are not withdrawn yet (", made.status().message(),
        "): the next unlocked sync does it");
    return false;
  }
  return *made > 0;
}

}  // namespace fieldsync::sync
