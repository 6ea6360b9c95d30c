#include "clock/hlc.h"

#include <gtest/gtest.h>

#include "clock/clock_source.h"

namespace fieldsync {
namespace {

constexpr int64_t kT0 = 1'764'000'000'000;  // 2025-11-24, milliseconds
constexpr int64_t kSkew = 60'000;

TEST(HlcTest, PackingRoundTripsAndOrders) {
  const Hlc a = Hlc::FromParts(kT0, 7);
  EXPECT_EQ(a.wall_millis(), static_cast<uint64_t>(kT0));
  EXPECT_EQ(a.counter(), 7u);
  EXPECT_EQ(Hlc::FromPacked(a.packed()), a);
  EXPECT_LT(Hlc::FromParts(kT0, 65535), Hlc::FromParts(kT0 + 1, 0));
  EXPECT_LT(Hlc::FromParts(kT0, 1), Hlc::FromParts(kT0, 2));
}

TEST(HlcTest, ToStringShowsUtcTimeAndCounter) {
  EXPECT_EQ(Hlc::FromParts(0, 3).ToString(), "1970-01-01T00:00:00.000Z+3");
}

TEST(HlcTest, NowIsStrictlyMonotonicWhenTheWallClockStandsStill) {
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  Hlc prev = hlc.Now();
  for (int i = 0; i < 1000; ++i) {
    const Hlc next = hlc.Now();
    ASSERT_GT(next, prev);
    prev = next;
  }
  EXPECT_EQ(prev.wall_millis(), static_cast<uint64_t>(kT0));
  EXPECT_EQ(prev.counter(), 1000u);
}

TEST(HlcTest, NowIsMonotonicWhenTheWallClockStepsBack) {
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  const Hlc before = hlc.Now();
  clock.Set(kT0 - 3'600'000);  // an hour back (NTP correction, battery swap)
  const Hlc after = hlc.Now();
  EXPECT_GT(after, before);
  EXPECT_EQ(after.wall_millis(), before.wall_millis());
}

TEST(HlcTest, NowFollowsTheWallClockForward) {
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  hlc.Now();
  hlc.Now();
  clock.Advance(5);
  const Hlc h = hlc.Now();
  EXPECT_EQ(h, Hlc::FromParts(kT0 + 5, 0));
}

TEST(HlcTest, CounterOverflowBorrowsTheNextMillisecond) {
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  hlc.Restore(Hlc::FromParts(kT0, Hlc::kMaxCounter));
  const Hlc h = hlc.Now();
  EXPECT_EQ(h, Hlc::FromParts(kT0 + 1, 0));
}

TEST(HlcTest, ObserveMovesTheClockPastARemoteTimestamp) {
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  const Hlc remote = Hlc::FromParts(kT0 + 30'000, 4);  // 30 s ahead: within the limit
  ASSERT_TRUE(hlc.Observe(remote, "device R").ok());
  const Hlc next = hlc.Now();
  EXPECT_GT(next, remote);
  EXPECT_EQ(next, Hlc::FromParts(kT0 + 30'000, 5));
}

TEST(HlcTest, ObserveRefusesATimestampTooFarAheadAndLeavesTheClockAlone) {
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  const Hlc before = hlc.Now();
  const Hlc remote = Hlc::FromParts(kT0 + kSkew + 1, 0);
  const absl::Status s = hlc.Observe(remote, "device R");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("ahead"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("device R"), absl::string_view::npos) << s;
  EXPECT_EQ(hlc.last(), before);
  EXPECT_EQ(hlc.Now(), Hlc::FromParts(kT0, 1));
}

TEST(HlcTest, ObserveAcceptsExactlyTheSkewLimit) {
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  EXPECT_TRUE(hlc.Observe(Hlc::FromParts(kT0 + kSkew, 0), "r").ok());
}

TEST(HlcTest, ARemoteTimestampBecomesAcceptableOnceLocalTimeCatchesUp) {
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  const Hlc remote = Hlc::FromParts(kT0 + 2 * kSkew, 0);
  EXPECT_FALSE(hlc.Check(remote, "r").ok());
  clock.Advance(kSkew);
  EXPECT_TRUE(hlc.Check(remote, "r").ok());
}

// A pull's limit counts from this clock plus how far the hub's was ahead,
// up to a bound (ClockLead); a hub behind changes nothing; the refusal of a
// stamp the hub's time agrees with names this clock (attack review 80, MED 6).
TEST(HlcTest, TheHubsLeadIsTakenUpToItsBoundAndTheRefusalNamesTheRightClock) {
  constexpr int64_t kDay = 24LL * 3600 * 1000;
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  const Hlc colleague = Hlc::FromParts(kT0 + 3 * kDay, 0);
  EXPECT_FALSE(hlc.Check(colleague, "device C").ok());
  EXPECT_TRUE(hlc.Check(colleague, "device C", ClockLead::Of(3 * kDay)).ok());
  EXPECT_FALSE(hlc.TooFarAhead(colleague, ClockLead::Of(3 * kDay)));
  // Ahead of the hub's time too: the author's clock.
  const Hlc ahead = Hlc::FromParts(kT0 + 3 * kDay + 2 * kSkew, 0);
  absl::Status s = hlc.Check(ahead, "device C", ClockLead::Of(3 * kDay));
  EXPECT_NE(s.message().find("Check the date and time on device C"), absl::string_view::npos)
      << s;
  // A hub behind: nothing tighter than this clock.
  EXPECT_EQ(ClockLead::Of(-kDay).taken, 0);
  EXPECT_TRUE(hlc.Check(Hlc::FromParts(kT0 + kSkew, 0), "r", ClockLead::Of(-kDay)).ok());
  // Forty days behind the hub's: past the bound, and this clock is named.
  EXPECT_EQ(ClockLead::Of(365 * kDay).taken, 31 * kDay);
  s = hlc.Check(Hlc::FromParts(kT0 + 40 * kDay, 0), "device C", ClockLead::Of(40 * kDay));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("this laptop's clock is 40 days behind the hub's: set the date"),
            absl::string_view::npos)
      << s;
  EXPECT_EQ(s.message().find("Check the date and time on device C"), absl::string_view::npos)
      << s;
}

// Another device's stamp taken on the hub's lead is held, not followed:
// the clock follows one only up to its own wall clock plus the skew limit
// (attack review 84, MED 4); its own stamps (Restore) always.
TEST(HlcTest, FollowAdoptsAnotherDevicesStampOnlyWithinTheSkewLimit) {
  constexpr int64_t kDay = 24LL * 3600 * 1000;
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  const Hlc near = Hlc::FromParts(kT0 + kSkew, 4);
  EXPECT_TRUE(hlc.Follow(near));
  EXPECT_EQ(hlc.last(), near);
  EXPECT_FALSE(hlc.Follow(Hlc::FromParts(kT0 + 31 * kDay, 0)));
  EXPECT_EQ(hlc.last(), near);
  EXPECT_GT(hlc.Now(), near);
  EXPECT_LT(hlc.Now().wall_millis(), static_cast<uint64_t>(kT0 + 2 * kSkew));
  const Hlc own = Hlc::FromParts(kT0 + kDay, 0);
  hlc.Restore(own);
  EXPECT_GT(hlc.Now(), own);
}

TEST(HlcTest, OldRemoteTimestampsDoNotMoveTheClockBack) {
  FakeClock clock(kT0);
  HybridClock hlc(&clock, kSkew);
  const Hlc now = hlc.Now();
  ASSERT_TRUE(hlc.Observe(Hlc::FromParts(kT0 - 10'000, 0), "r").ok());
  EXPECT_EQ(hlc.last(), now);
}

// A replica whose stamps the hub refused as ahead (sync/restamp.h): the clock
// goes back, stamps from the wall clock again, and never issues a stamp of
// the refused range once the wall clock reaches it.
TEST(HlcTest, AClockResetBelowRefusedStampsSkipsThemWhenTheWallClockGetsThere) {
  constexpr int64_t kDay = 86'400'000;
  FakeClock clock(kT0 + kDay);
  HybridClock hlc(&clock, kSkew);
  const Hlc lo = hlc.Now();  // stamped a day ahead
  const Hlc hi = hlc.Now();
  EXPECT_EQ(hi, Hlc::FromParts(kT0 + kDay, 1));
  clock.Set(kT0);  // set right: the clock still stamps tomorrow
  EXPECT_GT(hlc.Now(), hi);
  hlc.Reset(Hlc::FromParts(kT0 - 1, 0));
  hlc.SetSkip(lo, hi);
  EXPECT_EQ(hlc.Now(), Hlc::FromParts(kT0, 0));
  clock.Set(kT0 + kDay);  // the wall clock reaches the refused stamps
  EXPECT_EQ(hlc.Now(), Hlc::FromPacked(hi.packed() + 1));
  EXPECT_EQ(hlc.Now(), Hlc::FromPacked(hi.packed() + 2));
}

}  // namespace
}  // namespace fieldsync
