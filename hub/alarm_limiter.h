// The two-holders alarm's audit entries, limited (session 26): a call whose
// version 1 proof verifies against a device's secret hash while its link
// proof fails against the device's link key is refused and audited
// (node.link-key-alarm, hub/audit.h), and changes nothing stored. Anyone
// holding a copy of the hub's store can make such calls for every keyed
// device, as fast as the hub answers; were each one an audit entry, a
// stolen backup would flood the trail the administrator reads. So a device
// gets at most one entry per kAlarmAuditWindow: its first alarm is audited
// at once, the alarms after it in the window are counted, and the count is
// written in the device's next entry (an alarm after the window). Memory: one
// entry a device that raised an alarm (a call that verified against its
// stored secret hash: an enrolled device), so bounded by the enrolled
// devices. Per hub process: counts still pending when it stops are lost
// from the trail (their refusal lines were logged, hub/refusal_log.h), and
// each `fieldhub serve` over one PostgreSQL database keeps its own.
// docs/PROTOCOL.md, "Credentials".
#ifndef FIELDSYNC_HUB_ALARM_LIMITER_H_
#define FIELDSYNC_HUB_ALARM_LIMITER_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fieldsync::hub {

inline constexpr absl::Duration kAlarmAuditWindow = absl::Hours(1);

// Which two-holders alarms to audit. Thread-safe.
class AlarmLimiter {
 public:
  struct Decision {
    bool audit = false;  // write an audit entry for this alarm now
    // With `audit`: the device's alarms counted, not audited, since its
    // previous entry (0 for its first).
    int64_t counted = 0;
  };
  // One alarm of `device` at `now`.
  Decision Admit(std::string_view device, absl::Time now);

 private:
  struct Window {
    absl::Time audited;   // the device's last audited alarm
    int64_t counted = 0;  // its alarms since, not audited
  };
  absl::Mutex mu_;
  std::map<std::string, Window, std::less<>> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_ALARM_LIMITER_H_
