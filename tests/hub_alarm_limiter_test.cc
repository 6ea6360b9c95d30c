// The two-holders alarm's audit limit (hub/alarm_limiter.h): one entry a
// device an hour, the alarms between counted into the next entry.
#include "hub/alarm_limiter.h"

#include <gtest/gtest.h>

namespace fieldsync::hub {
namespace {

TEST(AlarmLimiterTest, OneEntryADeviceAnHourTheAlarmsBetweenCountedIntoTheNext) {
  AlarmLimiter limiter;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  AlarmLimiter::Decision first = limiter.Admit("dev-a", t0);
  EXPECT_TRUE(first.audit);
  EXPECT_EQ(first.counted, 0);
  int audited = 0;
  for (int i = 1; i <= 5000; ++i) {
    audited += limiter.Admit("dev-a", t0 + absl::Milliseconds(i)).audit;
  }
  EXPECT_EQ(audited, 0);
  // Another device is limited apart.
  EXPECT_TRUE(limiter.Admit("dev-b", t0 + absl::Seconds(1)).audit);
  EXPECT_FALSE(limiter.Admit("dev-a", t0 + kAlarmAuditWindow - absl::Seconds(1)).audit);
  // An hour after the entry: the next alarm is audited with the count.
  AlarmLimiter::Decision next = limiter.Admit("dev-a", t0 + kAlarmAuditWindow);
  EXPECT_TRUE(next.audit);
  EXPECT_EQ(next.counted, 5001);
  // And the count starts again.
  EXPECT_FALSE(limiter.Admit("dev-a", t0 + kAlarmAuditWindow + absl::Seconds(1)).audit);
  AlarmLimiter::Decision third = limiter.Admit("dev-a", t0 + 3 * kAlarmAuditWindow);
  EXPECT_TRUE(third.audit);
  EXPECT_EQ(third.counted, 1);
}

TEST(AlarmLimiterTest, AClockSetBackEndsTheWindow) {
  AlarmLimiter limiter;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  ASSERT_TRUE(limiter.Admit("dev-a", t0).audit);
  EXPECT_FALSE(limiter.Admit("dev-a", t0 + absl::Minutes(1)).audit);
  AlarmLimiter::Decision back = limiter.Admit("dev-a", t0 - absl::Hours(24));
  EXPECT_TRUE(back.audit);
  EXPECT_EQ(back.counted, 1);
}

}  // namespace
}  // namespace fieldsync::hub
