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

// While the clock is still ahead nothing of its work is taken, but the pass
// pulls: colleagues' work keeps arriving, and the laptop says why its own
// waits, in clock words.
TEST_F(ClockAheadTest, WhileItsClockIsAheadALaptopStillReceivesItsColleaguesWork) {
  OffsetClock laptop_clock;
  auto& colleague = AddNode("LC");
  auto& laptop = AddNode("LC", "", &laptop_clock);
  MustSync(colleague);
  MustSync(laptop);
  laptop_clock.set_offset(kDayMillis);
  const RowId mine = NewCase(laptop.replica(), "LC", "Lò Thị Mai");
  const RowId theirs = NewCase(colleague.replica(), "LC", "Đỗ Thị Lan");
  MustSync(colleague);
  for (int pass = 0; pass < 2; ++pass) {
    auto r = laptop.Sync();
    ASSERT_TRUE(r.ok()) << "pass " << pass << ": " << r.status();
    EXPECT_TRUE(r->push_refused.ok()) << r->push_refused;
    EXPECT_EQ(r->set_aside, 0u) << "not the officer's: " << r->set_aside_reason;
    EXPECT_EQ(r->redated, 0u);
    EXPECT_NE(r->redate_note.find("this laptop's clock is 1 day ahead of the hub's"),
              std::string::npos)
        << r->redate_note;
    EXPECT_NE(r->redate_note.find("1 change waits"), std::string::npos) << r->redate_note;
  }
  EXPECT_TRUE(Holds(laptop, "cases", theirs)) << "the pass ended before its pull";
  EXPECT_FALSE(AtHub(mine));
  laptop_clock.set_offset(0);
  auto r = laptop.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->redated, 1u) << r->redate_note;
  EXPECT_TRUE(AtHub(mine));
}

// Re-dating re-seals, which needs the keystore: a locked laptop says the
// next unlock finishes it, and it does.
TEST_F(ClockAheadTest, ALockedLaptopReDatesItsWorkAtTheNextUnlock) {
  OffsetClock laptop_clock;
  auto& laptop = AddNode("LC", "", &laptop_clock);
  MustSync(laptop);
  laptop_clock.set_offset(kDayMillis);
  const RowId mine = NewCase(laptop.replica(), "LC", "Lò Thị Mai", "bị lừa sang biên giới");
  (void)laptop.Sync();
  laptop_clock.set_offset(0);
  laptop.keys()->Lock();
  laptop.replica().SetSecurity(CommitSecurity{});
  auto locked = laptop.Sync();
  ASSERT_TRUE(locked.ok()) << locked.status();
  EXPECT_EQ(locked->redated, 0u);
  EXPECT_NE(locked->redate_note.find("1 change written while this laptop's clock was ahead "
                                     "waits to be re-dated and sent: the next unlock finishes it"),
            std::string::npos)
      << locked->redate_note;
  EXPECT_FALSE(AtHub(mine));
  ASSERT_TRUE(laptop.keys()->Unlock(laptop.identity().Clone()).ok());
  laptop.replica().SetSecurity(laptop.keys()->Security());
  auto r = laptop.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->redated, 1u) << r->redate_note;
  EXPECT_TRUE(AtHub(mine));
  OpenedField narrative = laptop.Read("cases", mine, "narrative");
  EXPECT_EQ(narrative.state, OpenedField::State::kOpened) << narrative.problem;
  EXPECT_EQ(narrative.value, Value::Text("bị lừa sang biên giới"));
}

}  // namespace
}  // namespace fieldsync::testing
