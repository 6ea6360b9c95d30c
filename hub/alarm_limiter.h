// The two-holders alarm's audit entries, limited (session 26; session 27,
// attack review 26 LOW 2 and LOW 3): a call whose version 1 proof verifies
// against a device's secret hash while its link proof fails against the
// device's link key is refused and audited (node.link-key-alarm,
// hub/audit.h), and changes nothing stored. Anyone holding a copy of the
// hub's store can make such calls for every keyed device, as fast as the
// hub answers; were each one an audit entry, a stolen backup would flood
// the trail the administrator reads. So:
//  - a device gets at most one entry per kAlarmAuditWindow: its first alarm
//    is audited at once, the alarms after it in the window are counted, and
//    the count is written in the device's next entry;
//  - all devices together get at most kAlarmEntriesPerWindow entries per
//    window of the hub process (a copy holds every device's hash): a
//    device due an entry past that is held back, its alarm counted into
//    its own next entry (written at its first alarm the limit lets
//    through), and once the window is over one summary entry says how many
//    devices and alarms were held back, naming the first
//    kAlarmSummaryNames. At most kAlarmEntriesPerWindow + 1 entries an
//    hour, however many devices;
//  - an entry is taken (the window started, the count cleared) only once
//    its write succeeded: a write that fails leaves everything counted for
//    the next alarm.
// Memory: one entry a device that raised an alarm (a call that verified
// against its stored secret hash: an enrolled device), so bounded by the
// enrolled devices. Per hub process: a device's count still pending when
// it stops is lost from the trail (its refusal lines were logged,
// hub/refusal_log.h), the alarms held back are summarised as it stops
// (Flush), and each `fieldhub serve` over one PostgreSQL database keeps
// its own limits. docs/PROTOCOL.md, "Credentials".
#ifndef FIELDSYNC_HUB_ALARM_LIMITER_H_
#define FIELDSYNC_HUB_ALARM_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fieldsync::hub {

inline constexpr absl::Duration kAlarmAuditWindow = absl::Hours(1);
// Device entries a hub process writes in one window, all devices together.
inline constexpr int kAlarmEntriesPerWindow = 16;
// The devices a summary of held-back alarms names.
inline constexpr size_t kAlarmSummaryNames = 8;

// Which two-holders alarms to audit, and the writing of their entries.
// Thread-safe: the writes are made under the limiter's lock, so that what
// an entry carries is taken only when it is written.
class AlarmLimiter {
 public:
  // A device's entry.
  struct DeviceEntry {
    // The device's alarms counted, not audited, since its previous entry
    // (`audited_before`) or, for a device with none, before this one (held
    // back by the hub-wide limit, or whose entry could not be written).
    int64_t counted = 0;
    bool audited_before = false;
  };
  // The alarms held back by the hub-wide limit since the previous summary.
  struct Summary {
    int64_t devices = 0;
    int64_t alarms = 0;
    std::vector<std::string> first;  // the first devices held back, at most kAlarmSummaryNames
    absl::Time since;                // the first alarm held back
  };
  using WriteEntry = std::function<absl::Status(const DeviceEntry&)>;
  using WriteSummary = std::function<absl::Status(const Summary&)>;

  enum class Outcome {
    kAudited,   // the device's entry was written
    kCounted,   // counted into the device's next entry (its window is open)
    kHeldBack,  // counted, the hub-wide limit reached: into its next entry and a summary
    kFailed,    // its entry could not be written: counted into the next
  };

  // One alarm of `device` at `now`: first the summary of the alarms held
  // back, if their window is over (`summary`); then the device's entry if
  // it is due one and the hub-wide limit allows (`entry`), otherwise the
  // alarm is counted. A write that returns an error takes nothing: what it
  // would have carried is carried by the next.
  Outcome Raise(std::string_view device, absl::Time now, const WriteEntry& entry,
                const WriteSummary& summary);
  // The summary of the alarms held back, whatever the time (the hub
  // stopping); none if none were. The write's status.
  absl::Status Flush(const WriteSummary& summary);

 private:
  struct Device {
    std::optional<absl::Time> audited;  // the device's last entry written
    int64_t counted = 0;                // its alarms since, not audited
  };
  absl::Status WriteHeld(const WriteSummary& summary) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, Device, std::less<>> devices_ ABSL_GUARDED_BY(mu_);
  // The hub-wide window: since when, and the device entries written in it.
  std::optional<absl::Time> window_ ABSL_GUARDED_BY(mu_);
  int entries_ ABSL_GUARDED_BY(mu_) = 0;
  // Held back since the last summary: alarms a device, the first devices,
  // the total, the first one's time, and the end of the window of the last
  // (the summary is written at the first alarm from then on).
  std::map<std::string, int64_t, std::less<>> held_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> held_first_ ABSL_GUARDED_BY(mu_);
  int64_t held_alarms_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time held_since_ ABSL_GUARDED_BY(mu_);
  absl::Time held_until_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_ALARM_LIMITER_H_
