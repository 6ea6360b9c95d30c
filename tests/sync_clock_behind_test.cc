// A laptop whose clock is behind still takes its colleagues' work (attack
// review 80, MED 6; docs/PROTOCOL.md, "Clocks behind"): what it pulls is
// judged against its clock corrected by how far the hub's was ahead at the
// hello, up to a bound. Behind by more, the refusal names this laptop's
// clock, not the colleague's. A hub's time behind the laptop's, or far
// ahead, neither makes the laptop refuse work stamped by its own clock nor
// lets in work far ahead of its own clock plus that bound.
#include <gtest/gtest.h>

#include <atomic>

#include "base/tuning.h"
#include "support/raw_db.h"
#include "support/sync_fixture.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"

namespace fieldsync::testing {
namespace {

constexpr int64_t kDayMillis = 24 * 3600 * 1000;

// The machine's clock, moved by an offset a test sets.
class OffsetClock final : public ClockSource {
 public:
  int64_t NowMillis() override { return SystemClock::Get()->NowMillis() + offset_.load(); }
  void set_offset(int64_t millis) { offset_.store(millis); }

 private:
  std::atomic<int64_t> offset_{0};
};

// A hub that says at Hello that its time is `shift` off its own.
class LyingTimeHub : public sync::ForwardingTransport {
 public:
  LyingTimeHub(sync::Transport& real, int64_t shift) : ForwardingTransport(real), shift_(shift) {}
  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override {
    absl::StatusOr<sync::HelloReply> r = ForwardingTransport::Hello(req);
    if (r.ok()) r->hub_time_millis += shift_;
    return r;
  }

 private:
  const int64_t shift_;
};

using ClockBehindTest = SyncTest;

TEST_F(ClockBehindTest, ALaptopThreeDaysBehindPullsItsColleaguesWork) {
  OffsetClock laptop_clock;
  auto& colleague = AddNode("LC");
  auto& laptop = AddNode("LC", "", &laptop_clock);
  MustSync(colleague);
  MustSync(laptop);
  laptop_clock.set_offset(-3 * kDayMillis);
  const RowId mine = NewCase(laptop.replica(), "LC", "Lò Thị Mai");
  const RowId theirs = NewCase(colleague.replica(), "LC", "Đỗ Thị Lan");
  MustSync(colleague);
  auto r = laptop.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->pushed, 1u);
  EXPECT_GE(r->pulled, 1u);
  EXPECT_TRUE(Holds(laptop, "cases", theirs));
  // Nor are the colleague's statements refused as made in the future.
  EXPECT_GE(r->chain.statements_received, 1u);
  for (const std::string& p : r->chain.problems) {
    EXPECT_EQ(p.find("in the future"), std::string::npos) << p;
  }
  MustSync(colleague);
  EXPECT_TRUE(Holds(colleague, "cases", mine));
  // Its work after the pull (stamped by its own clock: the hub's lead is
  // not adopted, see below) still reaches the hub and the colleague.
  const RowId later = NewCase(laptop.replica(), "LC", "Vàng Thị Dợ");
  MustSync(laptop);
  MustSync(colleague);
  EXPECT_TRUE(Holds(colleague, "cases", later));
}

TEST_F(ClockBehindTest, ALaptopBehindByMoreThanTheBoundIsToldItsOwnClockIsWrong) {
  OffsetClock laptop_clock;
  auto& colleague = AddNode("LC");
  auto& laptop = AddNode("LC", "", &laptop_clock);
  MustSync(colleague);
  MustSync(laptop);
  laptop_clock.set_offset(-40 * kDayMillis);
  const RowId theirs = NewCase(colleague.replica(), "LC", "Đỗ Thị Lan");
  MustSync(colleague);
  auto r = laptop.Sync();
  ASSERT_FALSE(r.ok());
  const std::string said(r.status().message());
  EXPECT_NE(said.find("this laptop's clock is 40 days behind the hub's: set the date and time "
                      "here"),
            std::string::npos)
      << said;
  EXPECT_EQ(said.find("Check the date and time on device"), std::string::npos) << said;
  EXPECT_FALSE(Holds(laptop, "cases", theirs));
  laptop_clock.set_offset(0);
  MustSync(laptop);
  EXPECT_TRUE(Holds(laptop, "cases", theirs));
}

// A hostile hub that says its time is far behind cannot make a laptop
// refuse work stamped by the laptop's own time; one that says it is a
// year ahead lets in nothing past the bound of the laptop's clock.
TEST_F(ClockBehindTest, AHubsTimeNeitherTightensNorLoosensThePullPastTheBound) {
  OffsetClock laptop_clock;
  OffsetClock colleague_clock;
  auto& colleague = AddNode("LC", "", &colleague_clock);
  auto& laptop = AddNode("LC", "", &laptop_clock);
  MustSync(colleague);
  MustSync(laptop);
  const RowId theirs = NewCase(colleague.replica(), "LC", "Đỗ Thị Lan");
  MustSync(colleague);
  {
    LyingTimeHub behind(laptop.client().transport(), -10 * kDayMillis);
    sync::PassOptions opts;
    opts.clock = &laptop_clock;
    auto r = sync::RunPass(behind, laptop.replica(), *laptop.keys(), laptop.credential(), opts);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(Holds(laptop, "cases", theirs));
  }
  // The laptop 50 days behind (past the bound), a hub saying a year ahead:
  // the colleague's work (stamped 50 days past this clock) is not taken.
  laptop_clock.set_offset(-50 * kDayMillis);
  const RowId next = NewCase(colleague.replica(), "LC", "Vàng Thị Dợ");
  MustSync(colleague);
  {
    LyingTimeHub ahead(laptop.client().transport(), 365 * kDayMillis);
    sync::PassOptions opts;
    opts.clock = &laptop_clock;
    auto r = sync::RunPass(ahead, laptop.replica(), *laptop.keys(), laptop.credential(), opts);
    ASSERT_FALSE(r.ok());
    EXPECT_FALSE(Holds(laptop, "cases", next));
  }
}

// Attack review 84, MED: the lead is the hub's word (its unauthenticated
// time), and what was taken inside it moved this laptop's hybrid clock, so
// its own later stamps went into that future. From the laptop's side a
// hub 30 days ahead with a device as far ahead (the hub lying, or its clock
// as wrong as the device's) is the same as this laptop 30 days behind: the
// colleague's work is taken, but the next local commit is stamped by this
// laptop's own time, also after the replica is opened again.
TEST_F(ClockBehindTest, AHubsLeadWidensWhatIsTakenButNeverMovesThisLaptopsStamps) {
  OffsetClock laptop_clock;
  auto& colleague = AddNode("LC");
  auto& laptop = AddNode("LC", "", &laptop_clock);
  MustSync(colleague);
  MustSync(laptop);
  laptop_clock.set_offset(-30 * kDayMillis);
  const RowId theirs = NewCase(colleague.replica(), "LC", "Đỗ Thị Lan");
  const uint64_t their_seq = LastSeq(colleague);
  auto their_commit = colleague.replica().LocalCommitsAfter(their_seq - 1, 1);
  ASSERT_TRUE(their_commit.ok() && !their_commit->empty());
  const Hlc their_stamp = their_commit->front().hlc;
  MustSync(colleague);
  MustSync(laptop);
  ASSERT_TRUE(Holds(laptop, "cases", theirs)) << "the lead no longer widens what is taken";

  auto stamp_of_next = [&](Replica& r) -> Hlc {
    NewOrg(r, "Hội Phụ nữ");
    auto c = r.LocalCommitsAfter(r.Stats()->local_seq - 1, 1);
    EXPECT_TRUE(c.ok() && !c->empty());
    return c.ok() && !c->empty() ? c->front().hlc : Hlc();
  };
  const int64_t limit = tuning::kDefaultMaxClockSkewMillis;
  const Hlc mine = stamp_of_next(laptop.replica());
  EXPECT_LE(static_cast<int64_t>(mine.wall_millis()), laptop_clock.NowMillis() + limit)
      << "stamped " << mine.ToString() << ", the colleague's " << their_stamp.ToString()
      << ": this laptop's clock followed the hub's lead";
  EXPECT_LT(mine, their_stamp);
  // Opened again (a copy of its file, as the next process would open it):
  // the colleague's stamp held is not followed either.
  const std::string copy = laptop.dir() + "/copy.db";
  ASSERT_TRUE(RawDb(laptop.replica()).Exec("VACUUM INTO '" + copy + "'").ok());
  {
    ReplicaOptions o;
    o.path = copy;
    o.clock = &laptop_clock;
    auto again = Replica::Open(o);
    ASSERT_TRUE(again.ok()) << again.status();
    const Hlc reopened = stamp_of_next(**again);
    EXPECT_LE(static_cast<int64_t>(reopened.wall_millis()), laptop_clock.NowMillis() + limit)
        << "stamped " << reopened.ToString() << " once the replica was opened again";
    EXPECT_GT(reopened, mine);
  }
  // Its work still reaches the hub and the colleague.
  const RowId later = NewCase(laptop.replica(), "LC", "Lò Thị Mai");
  MustSync(laptop);
  MustSync(colleague);
  EXPECT_TRUE(Holds(colleague, "cases", later));
  // An edit of the colleague's case names its version as base: the commit
  // is stamped after it (a commit is newer than what it names: the hub
  // refused "its base version is not older than the commit" otherwise), is
  // taken, and wins on both laptops.
  SetField(laptop.replica(), "cases", theirs, "status", Value::Text("assisting"));
  MustSync(laptop);
  MustSync(colleague);
  for (harness::LocalNode* n : {&laptop, &colleague}) {
    OpenedField f = n->Read("cases", theirs, "status");
    EXPECT_EQ(f.value, Value::Text("assisting")) << f.problem;
  }
}

}  // namespace
}  // namespace fieldsync::testing
