#include "hub/alarm_limiter.h"

namespace fieldsync::hub {

AlarmLimiter::Decision AlarmLimiter::Admit(std::string_view device, absl::Time now) {
  absl::MutexLock l(&mu_);
  auto it = windows_.find(device);
  if (it == windows_.end()) {
    windows_.emplace(std::string(device), Window{now, 0});
    return {.audit = true, .counted = 0};
  }
  Window& w = it->second;
  // A clock set back is a window over too: an entry now, never none for
  // as long as the clock was moved.
  if (now >= w.audited + kAlarmAuditWindow || now < w.audited) {
    Decision d{.audit = true, .counted = w.counted};
    w = Window{now, 0};
    return d;
  }
  ++w.counted;
  return {.audit = false, .counted = 0};
}

}  // namespace fieldsync::hub
