#include "hub/alarm_limiter.h"

namespace fieldsync::hub {
namespace {

// Whether the window opened at `start` is over at `now`. A clock set back
// is a window over too: an entry now, never none for as long as the clock
// was moved.
bool Over(absl::Time start, absl::Time now) {
  return now >= start + kAlarmAuditWindow || now < start;
}

}  // namespace

AlarmLimiter::Outcome AlarmLimiter::Raise(std::string_view device, absl::Time now,
                                          const WriteEntry& entry) {
  absl::MutexLock l(&mu_);
  auto it = devices_.find(device);
  if (it == devices_.end()) it = devices_.emplace(std::string(device), Device{}).first;
  Device& d = it->second;
  if (d.audited.has_value() && !Over(*d.audited, now)) {
    ++d.counted;
    return Outcome::kCounted;
  }
  if (!entry(DeviceEntry{.counted = d.counted, .audited_before = d.audited.has_value()}).ok()) {
    ++d.counted;
    return Outcome::kFailed;
  }
  d.audited = now;
  d.counted = 0;
  return Outcome::kAudited;
}

}  // namespace fieldsync::hub
