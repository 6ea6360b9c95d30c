// A clock once ahead does not cut a laptop off (issue 13, story 1;
// docs/PROTOCOL.md, "Work stamped by a clock ahead"): the hub refuses the
// commits stamped ahead one by one (CLOCK_AHEAD), the pass still pulls, and
// once the laptop's clock is right its next sync re-dates them (a signed
// withdrawal of the refused seqs, the same changes under new seqs with the
// corrected clock), sends them and says so once; its clock no longer
// stamps new work with the refused time. Colleagues see neither a gap nor a
// fork in its chain.
#include <gtest/gtest.h>

#include <atomic>

#include "support/sync_fixture.h"

namespace fieldsync::testing {
namespace {

constexpr int64_t kDayMillis = 24 * 3600 * 1000;

// The machine's clock, moved by an offset a test sets (a laptop's wrong
// date, then set right).
class OffsetClock final : public ClockSource {
 public:
  int64_t NowMillis() override { return SystemClock::Get()->NowMillis() + offset_.load(); }
  void set_offset(int64_t millis) { offset_.store(millis); }

 private:
  std::atomic<int64_t> offset_{0};
};

class ClockAheadTest : public SyncTest {
 protected:
  // Whether the hub holds `row` of cases.
  bool AtHub(const RowId& row) {
    auto hub = OpenHubReplica();
    auto r = hub->Get("cases", row);
    return r.ok() && r->has_value();
  }
  static std::string Status(harness::LocalNode& n, const RowId& kase) {
    OpenedField f = n.Read("cases", kase, "status");
    return f.value.is_null() ? "" : f.value.str();
  }
};

TEST_F(ClockAheadTest, ALaptopADayAheadRecoversAtItsFirstSyncOnceItsClockIsSetRight) {
  OffsetClock laptop_clock;
  auto& colleague = AddNode("LC");
  auto& laptop = AddNode("LC", "", &laptop_clock);
  const RowId shared = NewCase(colleague.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(colleague);
  MustSync(laptop);
  ASSERT_TRUE(Holds(laptop, "cases", shared));

  // A day ahead: a new case and an edit of the colleague's case. Its sync
  // is refused (right): the hub stores nothing stamped tomorrow.
  laptop_clock.set_offset(kDayMillis);
  const RowId mine = NewCase(laptop.replica(), "LC", "Lò Thị Mai", "bị lừa sang biên giới");
  SetField(laptop.replica(), "cases", shared, "status", Value::Text("assisting"));
  (void)laptop.Sync();
  EXPECT_FALSE(AtHub(mine)) << "the hub stored a commit stamped a day ahead";

  // The clock set right; a colleague works meanwhile.
  laptop_clock.set_offset(0);
  const RowId theirs = NewCase(colleague.replica(), "LC", "Đỗ Thị Lan");
  MustSync(colleague);

  // The first sync after: its work reaches the hub, the colleague's arrives,
  // and it says so once, from the laptop's side.
  auto r = laptop.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->push_refused.ok()) << r->push_refused;
  EXPECT_EQ(r->set_aside, 0u) << r->set_aside_reason;
  EXPECT_EQ(r->redated, 2u);
  EXPECT_NE(r->redate_note.find("this laptop's clock was 1 day ahead; 2 changes were re-dated "
                                "and sent"),
            std::string::npos)
      << r->redate_note;
  EXPECT_TRUE(AtHub(mine));
  EXPECT_TRUE(Holds(laptop, "cases", theirs)) << "the colleague's work did not arrive";

  // New work is stamped with the corrected clock and stored; nothing is
  // said again.
  const int64_t before = SystemClock::Get()->NowMillis();
  LocalTxn t;
  t.Set("cases", mine, {{"status", Value::Text("verifying")}});
  auto c = laptop.replica().Write(t);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_LT(static_cast<int64_t>(c->hlc.wall_millis()), before + 60 * 1000)
      << "the clock still stamps " << c->hlc.ToString();
  auto again = MustSync(laptop);
  EXPECT_EQ(again.pushed, 1u);
  EXPECT_EQ(again.set_aside, 0u) << again.set_aside_reason;
  EXPECT_TRUE(again.redate_note.empty()) << again.redate_note;

  // The colleague receives it all, re-dated, with no gap, fork or held
  // work in the laptop's chain; both hold the same rows.
  auto seen = MustSync(colleague);
  EXPECT_EQ(seen.chain.new_evidence, 0u);
  EXPECT_EQ(seen.chain.held, 0u);
  EXPECT_TRUE(seen.chain.problems.empty()) << seen.chain.problems.front();
  ASSERT_TRUE(Holds(colleague, "cases", mine));
  EXPECT_EQ(Status(colleague, shared), "assisting");
  EXPECT_EQ(Status(colleague, mine), "verifying");
  OpenedField narrative = colleague.Read("cases", mine, "narrative");
  EXPECT_EQ(narrative.state, OpenedField::State::kOpened) << narrative.problem;
  EXPECT_EQ(narrative.value, Value::Text("bị lừa sang biên giới"));
  MustSync(laptop);
  ExpectSameRowEverywhere(mine, {&laptop, &colleague});
  ExpectSameRowEverywhere(shared, {&laptop, &colleague});
  auto a = laptop.replica().StateDigest();
  auto b = colleague.replica().StateDigest();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

}  // namespace
}  // namespace fieldsync::testing
