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
                                          const WriteEntry& entry, const WriteSummary& summary) {
  absl::MutexLock l(&mu_);
  if (!held_.empty() && (now >= held_until_ || now < held_since_)) {
    // A summary that fails is tried again at the next alarm.
    (void)WriteHeld(summary);
  }
  auto it = devices_.find(device);
  if (it == devices_.end()) it = devices_.emplace(std::string(device), Device{}).first;
  Device& d = it->second;
  if (d.audited.has_value() && !Over(*d.audited, now)) {
    ++d.counted;
    return Outcome::kCounted;
  }
  if (!window_.has_value() || Over(*window_, now)) {
    window_ = now;
    entries_ = 0;
  }
  if (entries_ >= kAlarmEntriesPerWindow) {
    ++d.counted;
    if (held_.empty()) held_since_ = now;
    auto [h, added] = held_.try_emplace(std::string(device), 0);
    ++h->second;
    if (added && held_first_.size() < kAlarmSummaryNames) held_first_.push_back(h->first);
    ++held_alarms_;
    held_until_ = *window_ + kAlarmAuditWindow;
    return Outcome::kHeldBack;
  }
  if (!entry(DeviceEntry{.counted = d.counted, .audited_before = d.audited.has_value()}).ok()) {
    ++d.counted;
    return Outcome::kFailed;
  }
  d.audited = now;
  d.counted = 0;
  ++entries_;
  return Outcome::kAudited;
}

absl::Status AlarmLimiter::Flush(const WriteSummary& summary) {
  absl::MutexLock l(&mu_);
  if (held_.empty()) return absl::OkStatus();
  return WriteHeld(summary);
}

absl::Status AlarmLimiter::WriteHeld(const WriteSummary& summary) {
  const Summary s{.devices = static_cast<int64_t>(held_.size()),
                  .alarms = held_alarms_,
                  .first = held_first_,
                  .since = held_since_};
  absl::Status written = summary(s);
  if (!written.ok()) return written;
  held_.clear();
  held_first_.clear();
  held_alarms_ = 0;
  return absl::OkStatus();
}

}  // namespace fieldsync::hub
