// A withdrawal over a commit the hub holds stored (docs/PROTOCOL.md, "A
// withdrawal over a commit the hub stored"; issue 13, M2): the hub keeps the
// withdrawal in the author's chain and the commit stays stored; the author
// undoes nothing of its officer's decision on the hub's word, and writes
// that decision over the stored commit as a new commit of its own, which
// every laptop of the office then shows. Nothing of it grants a key.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "change/commit_codec.h"
#include "crypto/commit_header.h"
#include "node/ops/set_aside.h"
#include "support/lying_restored_hub.h"
#include "support/referred_fixture.h"
#include "support/rewriting_hub.h"
#include "sync/pass.h"
#include "sync/set_aside.h"

namespace fieldsync::testing {
namespace {

class WithdrawnStoredTest : public ReferredFixture {
 protected:
  // How many of `rows` the hub holds live.
  size_t AtHub(const std::vector<RowId>& rows) {
    auto hub = OpenHubReplica();
    size_t n = 0;
    for (const RowId& r : rows) {
      auto row = hub->Get("cases", r);
      if (row.ok() && row->has_value() && (*row)->live) ++n;
    }
    return n;
  }
  static bool Live(harness::LocalNode& n, const std::string& table, const RowId& row) {
    auto r = n.replica().Get(table, row);
    return r.ok() && r->has_value() && (*r)->live;
  }
  static std::string Digest(harness::LocalNode& n) {
    auto d = n.replica().StateDigest();
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : std::string();
  }
};

// A laptop's edit the hub acknowledged, then refused at three passes after
// it said it lost it (set aside, kHubRefusedAcknowledged evidence); the
// officer discards it; the hub holds the edit stored (a hub put back from a
// backup, then from a newer one; here it never lost it and a link lied).
// Before (main at session 17): the hub refused the withdrawal
// (WITHDRAWN_STORED) at every pass, nothing after it was pushed, for good,
// and the colleague showed the discarded edit. Now the hub keeps the
// withdrawal, the laptop writes the officer's decision over the stored edit
// (said once), its later work is pushed, and the colleague shows the
// decision: both replicas' states equal.
TEST_F(WithdrawnStoredTest, AWithdrawalOverAStoredEditLetsWorkGoOnAndTheOfficeShowsTheDiscard) {
  auto& a = AddNode("LC");
  auto& n = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(n);
  SetField(n.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t edit = LastSeq(n);
  const RowId later = NewCase(n.replica(), "LC", "Lò Thị Mai");
  MustSync(n);
  MustSync(a);
  ASSERT_EQ(a.Read("cases", x, "status").value, Value::Text("assisting"));

  LyingRestoredHub lying(n.client().transport(), edit);
  for (int pass = 1; pass <= static_cast<int>(sync::kDoubtsBeforeSetAside) + 1; ++pass) {
    auto r = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), {});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  auto listed = node::ops::ListSetAside(n.replica(), true);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u) << "the premise: the edit set aside at the third pass";
  ASSERT_TRUE(node::ops::DiscardSetAside(n.replica(), edit, 1).ok());
  ASSERT_EQ(n.Read("cases", x, "status").value, Value::Text("intake"))
      << "the premise: the discard put the status back";
  const RowId after = NewCase(n.replica(), "LC", "Vàng Thị Sua");

  auto w = n.Sync();
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->push_refused.ok()) << w->push_refused;
  EXPECT_EQ(w->withdrawals_pushed, 1u);
  EXPECT_EQ(w->withdrawals_superseded, 1u);
  EXPECT_TRUE(Mentions(*w, "the hub keeps change")) << "not said";
  EXPECT_EQ(AtHub({later, after}), 2u) << "the laptop's work after the withdrawal never pushed";
  EXPECT_EQ(n.Read("cases", x, "status").value, Value::Text("intake"))
      << "the officer's discard undone on the hub's word";
  listed = node::ops::ListSetAside(n.replica(), true);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u) << "the officer's record of the set-aside edit is gone";

  // Said once; work goes on; the office shows the officer's decision.
  const RowId more = NewCase(n.replica(), "LC", "Hà Thị Sáu");
  node::SyncReport again = MustSync(n);
  EXPECT_EQ(again.withdrawals_superseded, 0u);
  EXPECT_FALSE(Mentions(again, "the hub keeps change"));
  EXPECT_EQ(AtHub({later, after, more}), 3u);
  auto pulled = a.Sync();
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  for (const RowId& k : {later, after, more}) EXPECT_TRUE(Holds(a, "cases", k));
  EXPECT_EQ(a.Read("cases", x, "status").value, Value::Text("intake"))
      << "the colleague still shows the edit the officer discarded";
  EXPECT_EQ(Digest(a), Digest(n)) << "the laptop and its colleague hold different states";
}

// Attack review 72, MEDIUM 1: a colleague that received the stored edit
// header only (as while the hub was put back: the hub bridged it as
// refused) never applies it; the write over it, based on the edit, settles
// the value the colleague holds, so that the colleague ends as the rest of
// the office (no conflict record of its own), states equal. Before (main at
// session 17) the author never pushed past its withdrawal.
TEST_F(WithdrawnStoredTest, AColleagueThatGotTheStoredEditHeaderOnlyEndsAsTheOffice) {
  auto& a = AddNode("LC");
  auto& n = AddNode("LC");
  auto& c = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  for (auto* each : {&a, &n, &c}) MustSync(*each);
  SetField(n.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t edit = LastSeq(n);
  const RowId later = NewCase(n.replica(), "LC", "Lò Thị Mai");
  MustSync(n);
  MustSync(a);
  // The colleague receives the edit header only.
  const DeviceId author = n.replica().device_id();
  RewritingHub header_only(c.client().transport(), [&](sync::PullChunk& chunk) {
    for (sync::PulledEntry& e : chunk.commits) {
      auto d = DecodeCommit(e.canonical);
      if (!d.ok() || d->author != author || d->seq != edit) continue;
      e.canonical.clear();
      e.signature.clear();
      e.omitted.clear();
      e.omitted_tags.clear();
    }
    return true;
  });
  sync::PassOptions plain;
  plain.compact_headers = false;  // the header whole, whatever the body
  auto got = sync::RunPass(header_only, c.replica(), *c.keys(), c.credential(), plain);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(Holds(c, "cases", later)) << "the premise: the colleague pulled past the edit";
  ASSERT_EQ(c.Read("cases", x, "status").value, Value::Text("intake"))
      << "the premise: the colleague never applied the edit";

  LyingRestoredHub lying(n.client().transport(), edit);
  for (int pass = 1; pass <= static_cast<int>(sync::kDoubtsBeforeSetAside) + 1; ++pass) {
    auto r = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), {});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  ASSERT_TRUE(node::ops::DiscardSetAside(n.replica(), edit, 1).ok());
  const RowId after = NewCase(n.replica(), "LC", "Vàng Thị Sua");
  auto w = n.Sync();
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->push_refused.ok()) << w->push_refused;
  for (auto* each : {&a, &c}) {
    auto r = each->Sync();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(Holds(*each, "cases", after));
    EXPECT_EQ(each->Read("cases", x, "status").value, Value::Text("intake"));
  }
  auto conflicts = c.replica().Conflicts(std::string("cases"), x);
  ASSERT_TRUE(conflicts.ok()) << conflicts.status();
  EXPECT_TRUE(conflicts->empty()) << "a conflict record only the colleague holds";
  EXPECT_EQ(Digest(c), Digest(n)) << "the colleague and the author hold different states";
  EXPECT_EQ(Digest(a), Digest(n)) << "the two colleagues hold different states";
}

// Attack review 72, HIGH 1: a hub that keeps a referral it answered
// refused, and then names it stored under the withdrawal of the officer's
// discard, and serves the other office's acceptance, makes the referring
// laptop grant nothing: not the case's key ring, not its person's, not the
// referral letter's. The officer's discard stands (the referral is deleted
// by the laptop's own write, final here), and the laptop's later work goes
// on. A referral answered as usual beside it is the control: its keys go.
TEST_F(WithdrawnStoredTest, ADiscardedReferralTheHubKeepsAndHasAcceptedGrantsNoKey) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  for (auto* n : {&lc, &hn, &lc}) MustSync(*n);
  const RowId shown = NewCase(lc.replica(), "LC", "Lò Thị Mai");
  const RowId shown_ref = Refer(lc.replica(), shown, "LC", "HN");
  MustSync(lc);
  AcceptReferral(lc, hn, shown_ref);
  ASSERT_GT(GrantsTo(lc, shown, "HN"), 0) << "the premise: an accepted referral's key goes";

  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc);
  auto person_id = Id16::FromBytes(lc.Read("cases", kase, "person_id").value.str(), "person");
  ASSERT_TRUE(person_id.ok()) << person_id.status();
  const RowId person = *person_id;
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  const uint64_t made = LastSeq(lc);
  // The letter's key ring goes with the write of the referral itself (its
  // reason sealed under it, for the receiving office): before any hub.
  const int64_t letter_at_write = GrantsTo(lc, ref, "HN");
  // The hub stores the referral and answers it refused; it keeps the
  // withdrawal over it and names the referral stored.
  RewritingPushHub hub(lc.client().transport(), [&](const sync::PushRequest& req,
                                                   sync::PushOutcome& out) {
    for (const sync::PushedCommit& c : req.commits) {
      auto d = DecodeCommit(c.canonical);
      if (d.ok() && d->seq == made) {
        out.refusals.push_back({made, sync::RefusalCode::kRule, "refused (kept all the same)", 0});
      }
    }
    for (const sync::ChainEntryBytes& e : req.withdrawals) {
      auto h = crypto::DecodeCommitHeader(e.header);
      if (!h.ok()) continue;
      for (const crypto::WithdrawnRange& r : h->withdrawn) {
        if (r.first <= made && made <= r.last) {
          out.refusals.clear();
          out.refusals.push_back(
              {h->seq, sync::RefusalCode::kWithdrawnStored, "it stays stored", made});
        }
      }
    }
  });
  auto first = SyncThrough(lc, hub);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->set_aside, 1u) << "the premise: the referral set aside";
  MustSync(hn);
  ASSERT_TRUE(Live(hn, "referrals", ref)) << "the premise: the hub served the referral";
  SetField(hn.replica(), "referrals", ref, "status", Value::Text("accepted"));
  MustSync(hn);

  ASSERT_TRUE(node::ops::DiscardSetAside(lc.replica(), made, 1).ok());
  ASSERT_FALSE(Live(lc, "referrals", ref)) << "the premise: the discard removed the referral";
  const RowId after = NewCase(lc.replica(), "LC", "Vàng Thị Sua");
  for (int pass = 1; pass <= 3; ++pass) {
    auto r = SyncThrough(lc, hub);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->push_refused.ok()) << "pass " << pass << ": " << r->push_refused;
  }
  EXPECT_FALSE(Live(lc, "referrals", ref)) << "the officer's discard undone on the hub's word";
  EXPECT_EQ(GrantsTo(lc, kase, "HN"), 0) << "the case's key ring granted";
  EXPECT_EQ(GrantsTo(lc, person, "HN"), 0) << "the person's key ring granted";
  EXPECT_EQ(GrantsTo(lc, ref, "HN"), letter_at_write)
      << "the referral letter's key ring granted again (Maintain)";
  EXPECT_EQ(AtHub({after}), 1u) << "the laptop's work after the withdrawal never pushed";
  // The receiving office sees the referral withdrawn by the sender.
  MustSync(hn);
  EXPECT_FALSE(Live(hn, "referrals", ref));
  MustSync(lc);
  EXPECT_EQ(GrantsTo(lc, kase, "HN") + GrantsTo(lc, person, "HN"), 0);
  EXPECT_EQ(GrantsTo(lc, ref, "HN"), letter_at_write);
}

}  // namespace
}  // namespace fieldsync::testing
