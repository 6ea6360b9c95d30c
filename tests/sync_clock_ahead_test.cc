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

#include "support/rewriting_hub.h"
#include "support/sync_fixture.h"
#include "sync/chain.h"
#include "sync/pass.h"

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

// A hub that kept the refused originals (it has every pushed byte) and
// delivers them whole beside the author's signed withdrawal of them:
// evidence against the hub, recorded once a seq, the originals never
// applied, and the author's work (the re-dated rewrites and what it writes
// after) taken by its colleagues as before. Delivered in the message that
// carries the withdrawal, or in a pass after it, or again (issue 13;
// before, kWithdrawnDelivered stopped the author on every colleague until
// an officer ran `fieldnode trust`: a hub could cut an honest laptop off).
TEST_F(ClockAheadTest, AHubDeliveringARefusedOriginalDoesNotCutItsAuthorOff) {
  OffsetClock laptop_clock;
  auto& with_it = AddNode("LC");  // the originals beside the withdrawal
  auto& after = AddNode("LC");    // the originals in later passes, twice
  auto& laptop = AddNode("LC", "", &laptop_clock);
  const RowId shared = NewCase(with_it.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(with_it);
  // The colleagues track the laptop's chain (its first commit).
  NewCase(laptop.replica(), "LC", "Hà Thị Sáu");
  MustSync(laptop);
  MustSync(with_it);
  MustSync(after);
  const uint64_t before = LastSeq(laptop);

  laptop_clock.set_offset(kDayMillis);
  const RowId mine = NewCase(laptop.replica(), "LC", "Lò Thị Mai", "bị lừa sang biên giới");
  SetField(laptop.replica(), "cases", shared, "status", Value::Text("assisting"));
  (void)laptop.Sync();  // refused, CLOCK_AHEAD; the hub "keeps" the bytes
  auto originals = laptop.replica().LocalCommitsAfter(before, 10);
  ASSERT_TRUE(originals.ok()) << originals.status();
  ASSERT_EQ(originals->size(), 2u);
  std::vector<sync::PulledEntry> kept;
  for (const Commit& c : *originals) {
    sync::PulledEntry e;
    e.position = 1;
    e.canonical = EncodeCommit(c);
    e.signature = c.signature;
    e.header = c.header;
    e.header_signature = c.header_signature;
    e.omitted_tags = c.omitted_tags;
    ASSERT_FALSE(e.header.empty());
    kept.push_back(std::move(e));
  }
  laptop_clock.set_offset(0);
  auto redated = laptop.Sync();
  ASSERT_TRUE(redated.ok()) << redated.status();
  ASSERT_EQ(redated->redated, 2u) << redated->redate_note;

  // Beside the withdrawal: prepended to the first message with commits,
  // the pull asked without a budget so that one message holds it all (with
  // one, the hub's first messages are of 1 KiB and up, hub/pull_plan.h, and
  // the first with commits need not hold the withdrawal).
  struct NoBudget : sync::ForwardingTransport {
    using ForwardingTransport::ForwardingTransport;
    absl::Status Pull(const sync::PullRequest& req,
                      const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override {
      sync::PullRequest whole = req;
      whole.params.max_message_bytes = 0;
      return ForwardingTransport::Pull(whole, on_chunk);
    }
  } whole(with_it.client().transport());
  bool served = false;
  RewritingHub beside(whole, [&](sync::PullChunk& c) {
    if (!served && !c.commits.empty()) {
      c.commits.insert(c.commits.begin(), kept.begin(), kept.end());
      served = true;
    }
    return true;
  });
  sync::PassOptions o;
  auto r = sync::RunPass(beside, with_it.replica(), *with_it.keys(), with_it.credential(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(served);
  EXPECT_EQ(r->chain.new_evidence, 2u);

  // After it: the withdrawal placed by a normal pass, then the originals
  // in every message of two passes.
  MustSync(after);
  RewritingHub later(after.client().transport(), [&](sync::PullChunk& c) {
    c.commits.insert(c.commits.begin(), kept.begin(), kept.end());
    return true;
  });
  for (int pass = 0; pass < 2; ++pass) {
    auto a = sync::RunPass(later, after.replica(), *after.keys(), after.credential(), o);
    EXPECT_TRUE(a.ok()) << "pass " << pass << ": " << a.status();
    if (!a.ok()) break;
    EXPECT_EQ(a->chain.new_evidence, pass == 0 ? 2u : 0u) << "pass " << pass;
  }

  // The laptop's later work reaches both; rows are the laptop's (the
  // re-dated versions, nothing of the originals), nothing held back.
  LocalTxn t;
  t.Set("cases", mine, {{"status", Value::Text("verifying")}});
  ASSERT_TRUE(laptop.replica().Write(t).ok());
  MustSync(laptop);
  for (harness::LocalNode* n : {&with_it, &after}) {
    auto seen = n->Sync();
    EXPECT_TRUE(seen.ok()) << seen.status();
    if (seen.ok()) {
      EXPECT_EQ(seen->chain.held, 0u);
    }
    ASSERT_TRUE(Holds(*n, "cases", mine)) << "the colleague receives nothing after";
    EXPECT_EQ(Status(*n, mine), "verifying");
    EXPECT_EQ(Status(*n, shared), "assisting");
    auto ev = n->replica().Evidence();
    ASSERT_TRUE(ev.ok());
    ASSERT_EQ(ev->size(), 2u) << "recorded once a seq";
    for (const TrustEvidence& e : *ev) {
      EXPECT_EQ(e.kind, static_cast<int>(sync::ChainEvidence::Kind::kWithdrawnDelivered));
      EXPECT_EQ(e.device, laptop.replica().device_id());
      EXPECT_NE(e.what.find("Not applied"), std::string::npos) << e.what;
    }
  }
  MustSync(laptop);
  ExpectSameRowEverywhere(mine, {&laptop, &with_it, &after});
  ExpectSameRowEverywhere(shared, {&laptop, &with_it, &after});
  auto a = laptop.replica().StateDigest();
  auto b = with_it.replica().StateDigest();
  auto c = after.replica().StateDigest();
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
}

// Before its withdrawal, nothing tells a colleague that a commit the hub
// delivers whole was refused to its author: one stamped past the hub's
// limit but within the colleague's own (its clock a little ahead too) is
// applied. The withdrawal, when it comes, names it as evidence against the
// hub ("applied here before the withdrawal came"), once, and the author's
// re-dated work still arrives. (Not undone: docs/PROTOCOL.md, "Work stamped
// by a clock ahead".)
TEST_F(ClockAheadTest, ARefusedOriginalAppliedBeforeItsWithdrawalIsNamedAndStopsNobody) {
  constexpr int64_t kMinute = 60 * 1000;
  OffsetClock laptop_clock, colleague_clock;
  colleague_clock.set_offset(3 * kMinute);
  auto& colleague = AddNode("LC", "", &colleague_clock);
  auto& laptop = AddNode("LC", "", &laptop_clock);
  NewCase(laptop.replica(), "LC", "Hà Thị Sáu");  // the colleague tracks its chain
  MustSync(laptop);
  MustSync(colleague);
  const uint64_t before = LastSeq(laptop);
  laptop_clock.set_offset(7 * kMinute);  // past the hub's 5 minutes, within the colleague's 8
  const RowId mine = NewCase(laptop.replica(), "LC", "Lò Thị Mai");
  (void)laptop.Sync();  // refused, CLOCK_AHEAD
  auto original = laptop.replica().LocalCommitsAfter(before, 1);
  ASSERT_TRUE(original.ok() && original->size() == 1u);
  sync::PulledEntry e;
  e.position = 1;
  e.canonical = EncodeCommit(original->front());
  e.signature = original->front().signature;
  e.header = original->front().header;
  e.header_signature = original->front().header_signature;
  e.omitted_tags = original->front().omitted_tags;
  bool served = false;
  RewritingHub kept(colleague.client().transport(), [&](sync::PullChunk& c) {
    if (!served) {
      c.commits.insert(c.commits.begin(), e);
      served = true;
    }
    return true;
  });
  sync::PassOptions o;
  auto first = sync::RunPass(kept, colleague.replica(), *colleague.keys(),
                             colleague.credential(), o);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(served);
  EXPECT_EQ(first->chain.new_evidence, 0u) << "nothing could tell yet";
  ASSERT_TRUE(Holds(colleague, "cases", mine)) << "the original was not applied";

  laptop_clock.set_offset(0);
  auto redated = laptop.Sync();
  ASSERT_TRUE(redated.ok()) << redated.status();
  ASSERT_EQ(redated->redated, 1u) << redated->redate_note;
  const RowId later = NewCase(laptop.replica(), "LC", "Đỗ Thị Lan");
  MustSync(laptop);
  for (int pass = 0; pass < 2; ++pass) {
    auto seen = colleague.Sync();
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_EQ(seen->chain.new_evidence, pass == 0 ? 1u : 0u) << "pass " << pass;
    EXPECT_EQ(seen->chain.held, 0u) << "pass " << pass;
  }
  EXPECT_TRUE(Holds(colleague, "cases", later)) << "the colleague receives nothing after";
  auto ev = colleague.replica().Evidence();
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 1u);
  EXPECT_EQ(ev->front().kind, static_cast<int>(sync::ChainEvidence::Kind::kWithdrawnDelivered));
  EXPECT_EQ(ev->front().seq, before + 1);
  EXPECT_NE(ev->front().what.find("applied here before the withdrawal came"), std::string::npos)
      << ev->front().what;
}

}  // namespace
}  // namespace fieldsync::testing
