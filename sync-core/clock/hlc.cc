#include "clock/hlc.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "base/tuning.h"

namespace fieldsync {

std::string Hlc::ToString() const {
  const absl::Time t = absl::FromUnixMillis(static_cast<int64_t>(wall_millis()));
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()),
                      "+", counter());
}

Hlc HybridClock::Now() {
  const int64_t wall_now = source_->NowMillis();
  const uint64_t wall = wall_now < 0 ? 0 : static_cast<uint64_t>(wall_now);
  absl::MutexLock lock(&mu_);
  Hlc next;
  if (wall > last_.wall_millis()) {
    next = Hlc::FromParts(wall, 0);
  } else if (last_.counter() < Hlc::kMaxCounter) {
    next = Hlc::FromParts(last_.wall_millis(), last_.counter() + 1);
  } else {
    // 65,536 events in one millisecond: borrow the next millisecond.
    next = Hlc::FromParts(last_.wall_millis() + 1, 0);
  }
  if (next >= skip_lo_ && next <= skip_hi_) next = Hlc::FromPacked(skip_hi_.packed() + 1);
  last_ = next;
  return next;
}

void HybridClock::Reset(Hlc to) {
  absl::MutexLock lock(&mu_);
  last_ = to;
}

void HybridClock::SetSkip(Hlc lo, Hlc hi) {
  absl::MutexLock lock(&mu_);
  skip_lo_ = lo;
  skip_hi_ = hi;
}

ClockLead ClockLead::Of(int64_t measured_millis) {
  ClockLead l;
  l.measured = measured_millis;
  l.taken = std::clamp<int64_t>(measured_millis, 0, tuning::kPullLeadTakenMaxMillis);
  return l;
}

namespace {
std::string Days(int64_t millis) {
  constexpr int64_t kDay = 24LL * 3600 * 1000;
  const int64_t d = (millis + kDay / 2) / kDay;
  if (d < 1) return absl::StrFormat("%.1f hours", static_cast<double>(millis) / 3'600'000.0);
  return absl::StrCat(d, d == 1 ? " day" : " days");
}
}  // namespace

absl::Status HybridClock::Check(Hlc remote, const std::string& who, const ClockLead& lead) const {
  const int64_t now = source_->NowMillis();
  const int64_t remote_wall = static_cast<int64_t>(remote.wall_millis());
  if (remote_wall <= now + lead.taken + max_skew_millis_) return absl::OkStatus();
  const double ahead_s = static_cast<double>(remote_wall - now) / 1000.0;
  // This clock behind the hub's, and the remote stamp within the limit of
  // the hub's time: two clocks agree, this one is wrong.
  if (lead.measured > max_skew_millis_ && remote_wall <= now + lead.measured + max_skew_millis_) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "this laptop's clock is %s behind the hub's: set the date and time here. Work from %s "
        "stamped %s (%.1f s ahead of this clock, not of the hub's) waits until then; a clock "
        "behind by up to %s is allowed for",
        Days(lead.measured), who, remote.ToString(), ahead_s,
        Days(tuning::kPullLeadTakenMaxMillis)));
  }
  return absl::FailedPreconditionError(absl::StrFormat(
      "timestamp %s from %s is %.1f s ahead of this machine's clock (limit %.1f s%s); "
      "refused so that one wrong clock cannot move every replica into the future. "
      "Check the date and time on %s and on this machine",
      remote.ToString(), who, ahead_s, static_cast<double>(max_skew_millis_) / 1000.0,
      lead.taken > 0 ? absl::StrFormat(", this clock taken as %s behind the hub's",
                                       Days(lead.taken))
                     : std::string(),
      who));
}

absl::Status HybridClock::Observe(Hlc remote, const std::string& who) {
  absl::Status s = Check(remote, who);
  if (!s.ok()) return s;
  Restore(remote);
  return absl::OkStatus();
}

void HybridClock::Restore(Hlc floor) {
  absl::MutexLock lock(&mu_);
  last_ = std::max(last_, floor);
}

bool HybridClock::Follow(Hlc remote) {
  const int64_t now = source_->NowMillis();
  if (static_cast<int64_t>(remote.wall_millis()) > now + max_skew_millis_) return false;
  Restore(remote);
  return true;
}

Hlc HybridClock::last() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

}  // namespace fieldsync
