// A withdrawal over a commit the hub holds stored, when the officer's
// decision cannot be written back (attack review 77, M1; docs/PROTOCOL.md,
// "A withdrawal over a commit the hub stored"): the write-back the referral
// rules refuse (an answer or a deletion it would undo) is not written, the
// laptop shows the stored commit as its office's other laptops do, says so
// once, and its later work goes on. Before (main at session 17) the write
// was refused at every pass and nothing after the withdrawal was pushed,
// for good.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "change/commit_codec.h"
#include "crypto/commit_header.h"
#include "crypto/identity.h"
#include "node/ops/set_aside.h"
#include "support/referred_fixture.h"
#include "support/rewriting_hub.h"

namespace fieldsync::testing {
namespace {

class WithdrawnStoredRefusedTest : public ReferredFixture {
 protected:
  // A hub that stores commit `seq` of `author` and answers it refused by
  // its rules; then keeps the withdrawal over it and names it stored.
  static std::unique_ptr<RewritingPushHub> KeepsWhatItRefuses(harness::LocalNode& n,
                                                             uint64_t seq) {
    const DeviceId author = n.replica().device_id();
    return std::make_unique<RewritingPushHub>(
        n.client().transport(), [author, seq](const sync::PushRequest& req,
                                              sync::PushOutcome& out) {
          for (const sync::PushedCommit& c : req.commits) {
            auto d = DecodeCommit(c.canonical);
            if (d.ok() && d->author == author && d->seq == seq) {
              out.refusals.push_back({seq, sync::RefusalCode::kRule, "refused (kept all the same)",
                                      0});
            }
          }
          for (const sync::ChainEntryBytes& e : req.withdrawals) {
            auto h = crypto::DecodeCommitHeader(e.header);
            if (!h.ok()) continue;
            for (const crypto::WithdrawnRange& r : h->withdrawn) {
              if (r.first <= seq && seq <= r.last) {
                out.refusals.clear();
                out.refusals.push_back(
                    {h->seq, sync::RefusalCode::kWithdrawnStored, "it stays stored", seq});
              }
            }
          }
        });
  }
  bool AtHub(const std::string& table, const RowId& row) {
    auto hub = OpenHubReplica();
    auto r = hub->Get(table, row);
    return r.ok() && r->has_value() && (*r)->live;
  }
  static bool Live(harness::LocalNode& n, const std::string& table, const RowId& row) {
    auto r = n.replica().Get(table, row);
    return r.ok() && r->has_value() && (*r)->live;
  }
  // The discard of set-aside `seq`, then a new case, then passes through
  // `hub`: each pass's push goes on, the first says why the decision was
  // not written back, and the new case reaches the hub.
  void DiscardAndGoOn(harness::LocalNode& n, sync::Transport& hub, uint64_t seq,
                      const std::string& province) {
    ASSERT_TRUE(node::ops::DiscardSetAside(n.replica(), seq, 1).ok());
    const RowId after = NewCase(n.replica(), province, "Vàng Thị Sua");
    auto w = SyncThrough(n, hub);
    ASSERT_TRUE(w.ok()) << w.status();
    EXPECT_TRUE(w->push_refused.ok()) << w->push_refused;
    EXPECT_EQ(w->withdrawals_superseded, 1u);
    EXPECT_TRUE(Mentions(*w, "cannot be written back")) << "not said";
    EXPECT_TRUE(AtHub("cases", after)) << "the laptop's work after the withdrawal never pushed";
    auto again = SyncThrough(n, hub);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->push_refused.ok()) << again->push_refused;
    EXPECT_EQ(again->withdrawals_superseded, 0u);
    EXPECT_FALSE(Mentions(*again, "cannot be written back")) << "said at every pass";
  }
};

// The referring office's deletion of its referral, set aside and discarded
// by its officer, stored by the hub: the write-back would restore the
// referral's fixed columns. The laptop shows the referral deleted, as the
// hub does.
TEST_F(WithdrawnStoredRefusedTest, ADiscardedReferralDeletionTheRulesCannotUndoLetsWorkGoOn) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  for (auto* n : {&lc, &hn, &lc}) MustSync(*n);
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  const RowId ref = Refer(lc.replica(), kase, "LC", "HN");
  MustSync(lc);
  LocalTxn t;
  t.Delete("referrals", ref);
  ASSERT_TRUE(lc.replica().Write(t).ok());
  const uint64_t deleted = LastSeq(lc);
  auto hub = KeepsWhatItRefuses(lc, deleted);
  auto first = SyncThrough(lc, *hub);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->set_aside, 1u) << "the premise: the deletion set aside";
  ASSERT_FALSE(AtHub("referrals", ref)) << "the premise: the hub stored the deletion";
  DiscardAndGoOn(lc, *hub, deleted, "LC");
  EXPECT_FALSE(Live(lc, "referrals", ref))
      << "the laptop shows a referral neither its office nor the hub holds";
}

// The owning office's move of a case to another office, set aside and
// discarded by its officer, stored by the hub: only the office it moved to
// moves it back (the hub refuses this laptop's move, and would set it
// aside again, the office showing the move and this laptop not). The
// laptop shows the case moved, as the hub does.
TEST_F(WithdrawnStoredRefusedTest, ADiscardedMoveToAnotherOfficeIsNotMovedBackByThisLaptop) {
  auto& lc = AddNode("LC");
  auto& hn = AddNode("HN");
  for (auto* n : {&lc, &hn, &lc}) MustSync(*n);
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc);
  SetField(lc.replica(), "cases", kase, "province", Value::Text("HN"));
  const uint64_t moved = LastSeq(lc);
  auto hub = KeepsWhatItRefuses(lc, moved);
  auto first = SyncThrough(lc, *hub);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->set_aside, 1u) << "the premise: the move set aside";
  DiscardAndGoOn(lc, *hub, moved, "LC");
  EXPECT_EQ(lc.Read("cases", kase, "province").value, Value::Text("HN"))
      << "the laptop shows the case where neither the hub nor its office has it";
  auto hub_file = OpenHubReplica();
  auto at_hub = hub_file->Get("cases", kase);
  ASSERT_TRUE(at_hub.ok() && at_hub->has_value()) << "the premise: the hub holds the case";
  const TableDef* cases = hub_file->schema().FindTable("cases");
  EXPECT_EQ((*at_hub)->values[static_cast<size_t>(cases->ColumnIndex("province"))],
            Value::Text("HN"))
      << "the hub holds the case moved back by a laptop of the office it left";
  auto listed = node::ops::ListSetAside(lc.replica(), true);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 1u) << "a write back set aside beside the discarded move";
}

// This laptop's keys, held elsewhere as the key agent holds them, that stop
// answering commit signatures while `gone` (the agent locked, or its period
// over, while a pass writes): what the agent answers then.
class KeysThatGoAway : public crypto::KeyOperations {
 public:
  explicit KeysThatGoAway(crypto::DeviceIdentity local) : local_(std::move(local)) {}
  absl::StatusOr<std::string> Sign(std::string_view domain, std::string_view message) override {
    if (gone && domain == crypto::kCommitSignDomain) {
      return crypto::KeysUnreachableError("the key agent stopped answering");
    }
    return local_.Sign(domain, message);
  }
  absl::StatusOr<crypto::SecretBytes> OpenSealed(std::string_view sealed) override {
    return local_.OpenSealed(sealed);
  }
  std::atomic<bool> gone{false};

 private:
  crypto::DeviceIdentity local_;
};

// Attack review 84, MED 5: the keys went away while the officer's decision
// was written back (a lock, the end of the unlock period, the console's
// idle lock). That is no refusal by the rules: nothing is recorded, the pass
// says the write waits, and the next pass with the keys back writes the
// decision. Before, the write-back was recorded as one the rules refuse
// ("cannot be written back"), never tried again: the laptop and its office
// showed the discarded edit for good.
TEST_F(WithdrawnStoredRefusedTest, AWriteBackTheKeysWentAwayDuringIsWrittenAtTheNextPass) {
  auto& lc = AddNode("LC");
  MustSync(lc);
  const RowId kase = NewCase(lc.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc);
  SetField(lc.replica(), "cases", kase, "status", Value::Text("assisting"));
  const uint64_t edit = LastSeq(lc);
  auto hub = KeepsWhatItRefuses(lc, edit);
  auto first = SyncThrough(lc, *hub);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->set_aside, 1u) << "the premise: the edit set aside";
  ASSERT_TRUE(node::ops::DiscardSetAside(lc.replica(), edit, 1).ok());
  ASSERT_EQ(lc.Read("cases", kase, "status").value, Value::Text("intake"));

  auto keys = std::make_shared<KeysThatGoAway>(lc.identity().Clone());
  lc.keys()->Lock();
  ASSERT_TRUE(lc.keys()
                  ->Unlock(crypto::DeviceIdentity::Delegated(lc.identity().public_keys(), keys))
                  .ok());
  keys->gone = true;
  auto cut = SyncThrough(lc, *hub);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_FALSE(cut->push_refused.ok()) << "a write-back that could not be signed said done";
  EXPECT_EQ(cut->withdrawals_superseded, 0u);
  EXPECT_FALSE(Mentions(*cut, "cannot be written back"))
      << "the officer's decision given up for keys that went away";

  keys->gone = false;
  auto back = SyncThrough(lc, *hub);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->push_refused.ok()) << back->push_refused;
  EXPECT_EQ(back->withdrawals_superseded, 1u) << "the decision never written back";
  EXPECT_TRUE(Mentions(*back, "putting back what the officer's decision left")) << "not said";
  EXPECT_EQ(lc.Read("cases", kase, "status").value, Value::Text("intake"));
  auto hub_file = OpenHubReplica();
  auto at_hub = hub_file->Get("cases", kase);
  ASSERT_TRUE(at_hub.ok() && at_hub->has_value());
  const TableDef* cases = hub_file->schema().FindTable("cases");
  EXPECT_EQ((*at_hub)->values[static_cast<size_t>(cases->ColumnIndex("status"))],
            Value::Text("intake"))
      << "the hub (and so the office) shows the edit the officer discarded";
}

}  // namespace
}  // namespace fieldsync::testing
