// The two-holders alarm's audit limit (hub/alarm_limiter.h): one entry a
// device an hour, the alarms between counted into the next entry; at most
// kAlarmEntriesPerWindow devices' entries an hour, the rest held back into
// one summary; nothing taken by a write that failed.
#include "hub/alarm_limiter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace fieldsync::hub {
namespace {

using Outcome = AlarmLimiter::Outcome;

// The limiter and what it wrote. `fail_entries` / `fail_summaries`: the
// writes answer an error (a store that refuses the audit write), and are
// not recorded.
struct Trail {
  AlarmLimiter limiter;
  std::vector<std::pair<std::string, AlarmLimiter::DeviceEntry>> entries;
  std::vector<AlarmLimiter::Summary> summaries;
  bool fail_entries = false;
  bool fail_summaries = false;

  Outcome Raise(const std::string& device, absl::Time now) {
    return limiter.Raise(
        device, now,
        [&](const AlarmLimiter::DeviceEntry& e) {
          if (fail_entries) return absl::UnavailableError("the store refuses the write");
          entries.emplace_back(device, e);
          return absl::OkStatus();
        },
        [&](const AlarmLimiter::Summary& s) { return Summarise(s); });
  }
  absl::Status Flush() {
    return limiter.Flush([&](const AlarmLimiter::Summary& s) { return Summarise(s); });
  }
  absl::Status Summarise(const AlarmLimiter::Summary& s) {
    if (fail_summaries) return absl::UnavailableError("the store refuses the write");
    summaries.push_back(s);
    return absl::OkStatus();
  }
};

std::string Dev(int i) { return absl::StrCat("dev-", 100 + i); }

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
  EXPECT_TRUE(t.summaries.empty());
}

TEST(AlarmLimiterTest, AClockSetBackEndsTheWindow) {
  Trail t;
  ASSERT_EQ(t.Raise("dev-a", kT0), Outcome::kAudited);
  EXPECT_EQ(t.Raise("dev-a", kT0 + absl::Minutes(1)), Outcome::kCounted);
  EXPECT_EQ(t.Raise("dev-a", kT0 - absl::Hours(24)), Outcome::kAudited);
  ASSERT_EQ(t.entries.size(), 2u);
  EXPECT_EQ(t.entries[1].second.counted, 1);
}

// Attack review 26, LOW 2: a copy of the store holds every device's hash,
// so the per-device limit alone let it write an entry an hour for each.
// All devices together get kAlarmEntriesPerWindow entries an hour; past
// that each device's alarms are counted, and once the hour is over one
// summary says how many devices and alarms were held back, naming the
// first. A device held back is audited, with its count, at its first
// alarm the limit lets through. Red before: an entry a device.
TEST(AlarmLimiterTest, AtMostTheHubWideLimitOfDevicesAnHourTheRestHeldBackIntoOneSummary) {
  Trail t;
  const int devices = 3 * kAlarmEntriesPerWindow;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < devices; ++i) {
      const Outcome o = t.Raise(Dev(i), kT0 + absl::Seconds(round * devices + i));
      if (i < kAlarmEntriesPerWindow) {
        EXPECT_EQ(o, round == 0 ? Outcome::kAudited : Outcome::kCounted) << round << " " << i;
      } else {
        EXPECT_EQ(o, Outcome::kHeldBack) << round << " " << i;
      }
    }
  }
  ASSERT_EQ(t.entries.size(), static_cast<size_t>(kAlarmEntriesPerWindow));
  EXPECT_TRUE(t.summaries.empty()) << "a summary before its hour was over";
  // The hour over: the next alarm, whichever device's, writes the summary
  // first, then the device's own entry with its count.
  const absl::Time later = kT0 + kAlarmAuditWindow;
  EXPECT_EQ(t.Raise(Dev(devices - 1), later), Outcome::kAudited);
  ASSERT_EQ(t.summaries.size(), 1u);
  const AlarmLimiter::Summary& s = t.summaries[0];
  EXPECT_EQ(s.devices, devices - kAlarmEntriesPerWindow);
  EXPECT_EQ(s.alarms, 3 * (devices - kAlarmEntriesPerWindow));
  EXPECT_EQ(s.since, kT0 + absl::Seconds(kAlarmEntriesPerWindow));
  ASSERT_EQ(s.first.size(), kAlarmSummaryNames);
  for (size_t i = 0; i < kAlarmSummaryNames; ++i) {
    EXPECT_EQ(s.first[i], Dev(kAlarmEntriesPerWindow + static_cast<int>(i)));
  }
  ASSERT_EQ(t.entries.size(), static_cast<size_t>(kAlarmEntriesPerWindow) + 1);
  EXPECT_EQ(t.entries.back().first, Dev(devices - 1));
  EXPECT_EQ(t.entries.back().second.counted, 3);
  EXPECT_FALSE(t.entries.back().second.audited_before);
  // A new hour: a new allowance, and no second summary for the first.
  for (int i = kAlarmEntriesPerWindow; i < 2 * kAlarmEntriesPerWindow - 1; ++i) {
    EXPECT_EQ(t.Raise(Dev(i), later + absl::Seconds(i)), Outcome::kAudited) << i;
  }
  EXPECT_EQ(t.Raise(Dev(2 * kAlarmEntriesPerWindow), later + absl::Minutes(30)),
            Outcome::kHeldBack);
  EXPECT_EQ(t.summaries.size(), 1u);
  // The hub stopping writes the summary of what is held back now.
  ASSERT_TRUE(t.Flush().ok());
  ASSERT_EQ(t.summaries.size(), 2u);
  EXPECT_EQ(t.summaries[1].devices, 1);
  EXPECT_EQ(t.summaries[1].alarms, 1);
  ASSERT_TRUE(t.Flush().ok());
  EXPECT_EQ(t.summaries.size(), 2u) << "a summary of nothing";
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
  // Failed writes took none of the hub-wide allowance either: the hour's
  // entries are the limit's, whatever failed.
  t.fail_entries = true;
  for (int i = 0; i < 2 * kAlarmEntriesPerWindow; ++i) {
    EXPECT_EQ(t.Raise(Dev(i), kT0 + kAlarmAuditWindow + absl::Seconds(10 + i)), Outcome::kFailed);
  }
  t.fail_entries = false;
  for (int i = 0; i < kAlarmEntriesPerWindow - 2; ++i) {
    EXPECT_EQ(t.Raise(Dev(i), kT0 + kAlarmAuditWindow + absl::Minutes(5)), Outcome::kAudited) << i;
  }
  EXPECT_EQ(t.Raise(Dev(kAlarmEntriesPerWindow), kT0 + kAlarmAuditWindow + absl::Minutes(6)),
            Outcome::kHeldBack);
}

// A summary whose write failed is kept, with what is held back after, for
// the next alarm; written, it is not written again.
TEST(AlarmLimiterTest, ASummaryThatFailedIsWrittenAtTheNextAlarm) {
  Trail t;
  for (int i = 0; i <= kAlarmEntriesPerWindow; ++i) t.Raise(Dev(i), kT0);
  ASSERT_EQ(t.entries.size(), static_cast<size_t>(kAlarmEntriesPerWindow));
  t.fail_summaries = true;
  EXPECT_EQ(t.Raise(Dev(0), kT0 + kAlarmAuditWindow), Outcome::kAudited);
  EXPECT_TRUE(t.summaries.empty());
  t.fail_summaries = false;
  EXPECT_EQ(t.Raise(Dev(1), kT0 + kAlarmAuditWindow + absl::Seconds(1)), Outcome::kAudited);
  ASSERT_EQ(t.summaries.size(), 1u);
  EXPECT_EQ(t.summaries[0].devices, 1);
  EXPECT_EQ(t.summaries[0].alarms, 1);
  EXPECT_EQ(t.summaries[0].first, std::vector<std::string>{Dev(kAlarmEntriesPerWindow)});
  EXPECT_EQ(t.Raise(Dev(2), kT0 + kAlarmAuditWindow + absl::Seconds(2)), Outcome::kAudited);
  EXPECT_EQ(t.summaries.size(), 1u);
}

}  // namespace
}  // namespace fieldsync::hub
