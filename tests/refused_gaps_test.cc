#include "sync/refused_gaps.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "support/replica_fixture.h"

namespace fieldsync::sync {
namespace {

using testing::kTestEpochMillis;
using testing::OpenReplica;

// Attack review 84 LOW 8, item 3: with more refused gaps than a pull may
// name, the wants were cut in DeviceId order -- the same authors asked at
// every pass, the others never. They rotate now: every gap is asked.
TEST(RefusedGapsTest, WantsPastTheCapRotateSoEveryGapIsAsked) {
  testing::TempDir dir;
  FakeClock clock{kTestEpochMillis};
  std::unique_ptr<Replica> r = OpenReplica(dir.File("a.db"), &clock);
  ASSERT_TRUE(r);
  std::set<DeviceId> gaps;
  for (int i = 0; i < 5; ++i) {
    DeviceId author = Id16::NewRandom();
    gaps.insert(author);
    ASSERT_TRUE(r->SetCursor(RefusedGapCursor(author), 7).ok());
  }
  // Passes 0, 1, 2 are all due (asked at 0, 1, 2); 3 asks at most each.
  std::set<DeviceId> asked;
  for (int pass = 0; pass < 3; ++pass) {
    auto wants = ChainWantsThisPass(*r, {}, 3);
    ASSERT_TRUE(wants.ok()) << wants.status();
    EXPECT_EQ(wants->size(), 3u) << "pass " << pass;
    for (const auto& [author, seq] : *wants) {
      EXPECT_EQ(seq, 7u);
      asked.insert(author);
    }
  }
  EXPECT_EQ(asked, gaps) << "gaps never asked past the cap: " << gaps.size() - asked.size();
}

// The statements' wants merge with the gaps (the higher seq for one author).
TEST(RefusedGapsTest, StatementWantsMergeWithGaps) {
  testing::TempDir dir;
  FakeClock clock{kTestEpochMillis};
  std::unique_ptr<Replica> r = OpenReplica(dir.File("a.db"), &clock);
  ASSERT_TRUE(r);
  DeviceId a = Id16::NewRandom();
  DeviceId b = Id16::NewRandom();
  ASSERT_TRUE(r->SetCursor(RefusedGapCursor(a), 4).ok());
  auto wants = ChainWantsThisPass(*r, {{a, 9}, {b, 2}}, 10);
  ASSERT_TRUE(wants.ok()) << wants.status();
  std::map<DeviceId, uint64_t> got(wants->begin(), wants->end());
  EXPECT_EQ(got, (std::map<DeviceId, uint64_t>{{a, 9}, {b, 2}}));
}

}  // namespace
}  // namespace fieldsync::sync
