// The two-holders alarm's audit limit (hub/alarm_limiter.h): one entry a
// device an hour, the alarms between counted into the next entry; nothing
// taken by a write that failed.
#include "hub/alarm_limiter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fieldsync::hub {
namespace {

using Outcome = AlarmLimiter::Outcome;

// The limiter and what it wrote. `fail_entries`: the writes answer an
// error (a store that refuses the audit write), and are not recorded.
struct Trail {
  AlarmLimiter limiter;
  std::vector<std::pair<std::string, AlarmLimiter::DeviceEntry>> entries;
  bool fail_entries = false;

  Outcome Raise(const std::string& device, absl::Time now) {
    return limiter.Raise(
        device, now,
        [&](const AlarmLimiter::DeviceEntry& e) {
          if (fail_entries) return absl::UnavailableError("the store refuses the write");
          entries.emplace_back(device, e);
          return absl::OkStatus();
        });
  }
};

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TEST(AlarmLimiterTest, OneEntryADeviceAnHourTheAlarmsBetweenCountedIntoTheNext) {
  Trail t;
  EXPECT_EQ(t.Raise("dev-a", kT0), Outcome::kAudited);
  ASSERT_EQ(t.entries.size(), 1u);
  EXPECT_EQ(t.entries[0].second.counted, 0);
  EXPECT_FALSE(t.entries[0].second.audited_before);
  for (int i = 1; i <= 5000; ++i) {
    EXPECT_EQ(t.Raise("dev-a", kT0 + absl::Milliseconds(i)), Outcome::kCounted);
  }
  EXPECT_EQ(t.entries.size(), 1u);
  // Another device is limited apart.
  EXPECT_EQ(t.Raise("dev-b", kT0 + absl::Seconds(1)), Outcome::kAudited);
  EXPECT_EQ(t.Raise("dev-a", kT0 + kAlarmAuditWindow - absl::Seconds(1)), Outcome::kCounted);
  // An hour after the entry: the next alarm is audited with the count.
  EXPECT_EQ(t.Raise("dev-a", kT0 + kAlarmAuditWindow), Outcome::kAudited);
  ASSERT_EQ(t.entries.size(), 3u);
  EXPECT_EQ(t.entries[2].first, "dev-a");
  EXPECT_EQ(t.entries[2].second.counted, 5001);
  EXPECT_TRUE(t.entries[2].second.audited_before);
  // And the count starts again.
  EXPECT_EQ(t.Raise("dev-a", kT0 + kAlarmAuditWindow + absl::Seconds(1)), Outcome::kCounted);
  EXPECT_EQ(t.Raise("dev-a", kT0 + 3 * kAlarmAuditWindow), Outcome::kAudited);
  ASSERT_EQ(t.entries.size(), 4u);
  EXPECT_EQ(t.entries[3].second.counted, 1);
}

TEST(AlarmLimiterTest, AClockSetBackEndsTheWindow) {
  Trail t;
  ASSERT_EQ(t.Raise("dev-a", kT0), Outcome::kAudited);
  EXPECT_EQ(t.Raise("dev-a", kT0 + absl::Minutes(1)), Outcome::kCounted);
  EXPECT_EQ(t.Raise("dev-a", kT0 - absl::Hours(24)), Outcome::kAudited);
  ASSERT_EQ(t.entries.size(), 2u);
  EXPECT_EQ(t.entries[1].second.counted, 1);
}

// Attack review 26, LOW 3: the window was taken before the audit write. A
// write that failed (the store busy or gone) lost the entry and the alarms
// it carried, and the device's next alarms were only counted, for an hour.
// Now nothing is taken by a failed write: the next alarm writes the entry,
// with the failed one counted. Red before: the next alarm was counted.
TEST(AlarmLimiterTest, AnAuditThatFailedDoesNotStartTheWindow) {
  Trail t;
  ASSERT_EQ(t.Raise("dev-a", kT0), Outcome::kAudited);
  EXPECT_EQ(t.Raise("dev-a", kT0 + absl::Minutes(1)), Outcome::kCounted);
  t.fail_entries = true;
  EXPECT_EQ(t.Raise("dev-a", kT0 + kAlarmAuditWindow), Outcome::kFailed);
  EXPECT_EQ(t.Raise("dev-b", kT0 + kAlarmAuditWindow), Outcome::kFailed);
  t.fail_entries = false;
  EXPECT_EQ(t.Raise("dev-a", kT0 + kAlarmAuditWindow + absl::Seconds(1)), Outcome::kAudited);
  EXPECT_EQ(t.Raise("dev-b", kT0 + kAlarmAuditWindow + absl::Seconds(2)), Outcome::kAudited);
  ASSERT_EQ(t.entries.size(), 3u);
  EXPECT_EQ(t.entries[1].first, "dev-a");
  EXPECT_EQ(t.entries[1].second.counted, 2);  // the counted one and the failed one
  EXPECT_TRUE(t.entries[1].second.audited_before);
  EXPECT_EQ(t.entries[2].first, "dev-b");
  EXPECT_EQ(t.entries[2].second.counted, 1);
  EXPECT_FALSE(t.entries[2].second.audited_before);
}

}  // namespace
}  // namespace fieldsync::hub
