// The two-holders alarm's audit entries, limited (session 26; session 27,
// attack review 26 LOW 3): a call whose version 1 proof verifies against a
// device's secret hash while its link proof fails against the device's
// link key is refused and audited (node.link-key-alarm, hub/audit.h), and
// changes nothing stored. Anyone holding a copy of the hub's store can
// make such calls for every keyed device, as fast as the hub answers; were
// each one an audit entry, a stolen backup would flood the trail the
// administrator reads. So a device gets at most one entry per
// kAlarmAuditWindow: its first alarm is audited at once, the alarms after
// it in the window are counted, and the count is written in the device's
// next entry (an alarm after the window). An entry is taken (the window
// started, the count cleared) only once its write succeeded: a write that
// fails leaves everything counted for the next alarm. Memory: one entry a
// device that raised an alarm (a call that verified against its stored
// secret hash: an enrolled device), so bounded by the enrolled devices.
// Per hub process: counts still pending when it stops are lost from the
// trail (their refusal lines were logged, hub/refusal_log.h), and each
// `fieldhub serve` over one PostgreSQL database keeps its own.
// docs/PROTOCOL.md, "Credentials".
#ifndef FIELDSYNC_HUB_ALARM_LIMITER_H_
#define FIELDSYNC_HUB_ALARM_LIMITER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fieldsync::hub {

inline constexpr absl::Duration kAlarmAuditWindow = absl::Hours(1);

// Which two-holders alarms to audit, and the writing of their entries.
// Thread-safe: the writes are made under the limiter's lock, so that what
// an entry carries is taken only when it is written.
class AlarmLimiter {
 public:
  // A device's entry.
  struct DeviceEntry {
    // The device's alarms counted, not audited, since its previous entry
    // (`audited_before`) or, for a device with none, before this one (whose
    // entry could not be written).
    int64_t counted = 0;
    bool audited_before = false;
  };
  using WriteEntry = std::function<absl::Status(const DeviceEntry&)>;

  enum class Outcome {
    kAudited,  // the device's entry was written
    kCounted,  // counted into the device's next entry (its window is open)
    kFailed,   // its entry could not be written: counted into the next
  };

  // One alarm of `device` at `now`: the device's entry if it is due one
  // (`entry`), otherwise the alarm is counted. A write that returns an
  // error takes nothing: what it would have carried is carried by the next.
  Outcome Raise(std::string_view device, absl::Time now, const WriteEntry& entry);

 private:
  struct Device {
    std::optional<absl::Time> audited;  // the device's last entry written
    int64_t counted = 0;                // its alarms since, not audited
  };
  absl::Mutex mu_;
  std::map<std::string, Device, std::less<>> devices_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_ALARM_LIMITER_H_
