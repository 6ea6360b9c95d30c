// The daemon's log of its passes (node/sync_lines.h, PassLog): a pass that
// moved nothing and says what the last printed one said is not printed,
// but for one line an hour.
#include <gtest/gtest.h>

#include "node/sync_lines.h"

namespace fieldsync::node {
namespace {

constexpr int64_t kHour = 60 * 60 * 1000;

TEST(PassLogTest, AQuietPassIsPrintedOnlyWhenItSaysSomethingNewOrAnHourPassed) {
  PassLog log(kHour);
  EXPECT_TRUE(log.Take(false, "", 0)) << "the first pass is always printed";
  EXPECT_FALSE(log.Take(false, "", 5'000));
  EXPECT_FALSE(log.Take(false, "", 10'000));
  EXPECT_EQ(log.unlogged(), 2u);
  EXPECT_TRUE(log.Take(true, "", 15'000)) << "a pass that moved something";
  EXPECT_EQ(log.unlogged(), 0u);
  EXPECT_FALSE(log.Take(false, "", 20'000));
  EXPECT_TRUE(log.Take(false, "history: a colleague is silent\n", 25'000)) << "a new line";
  EXPECT_FALSE(log.Take(false, "history: a colleague is silent\n", 30'000)) << "said already";
  EXPECT_TRUE(log.Take(false, "", 35'000)) << "no longer said";
  EXPECT_FALSE(log.Take(false, "", 35'000 + kHour - 1));
  EXPECT_TRUE(log.Take(false, "", 35'000 + kHour)) << "an hour: the daemon says it is alive";
}

}  // namespace
}  // namespace fieldsync::node
