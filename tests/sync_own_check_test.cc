// A laptop checks its own commits against its own key before it pushes them
// (sync/own_check.h; docs/PROTOCOL.md, "A commit damaged on this laptop's
// disk"; process attack 80): a commit damaged on its disk is set aside here
// and its signed header alone sent, so its later work goes and the pull
// runs; a hub that says a signature this laptop's own key verifies fails
// holds another key for it: said so, nothing set aside, re-signed or
// re-keyed, and the pull runs.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "change/commit_codec.h"
#include "node/ops/set_aside.h"
#include "support/raw_db.h"
#include "support/rewriting_hub.h"
#include "support/sync_fixture.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"
#include "sync/report.h"

namespace fieldsync::testing {
namespace {

// The machine's clock, moved by an offset a test sets (a laptop's wrong
// date, then set right).
class OffsetClock final : public ClockSource {
 public:
  int64_t NowMillis() override { return SystemClock::Get()->NowMillis() + offset_.load(); }
  void set_offset(int64_t millis) { offset_.store(millis); }

 private:
  std::atomic<int64_t> offset_{0};
};

class OwnCheckTest : public SyncTest {
 protected:
  // Flips one byte of the body of `n`'s commit `seq` in its log, as a
  // failing disk would: the first byte from the end whose flip still
  // decodes (so the damage is found by the signature alone).
  static void DamageBody(harness::LocalNode& n, uint64_t seq) {
    sqlite::Db& db = RawDb(n.replica());
    int64_t pos = 0;
    std::string body;
    {
      auto get = db.Prepared("SELECT pos, body FROM _fs_log WHERE seq = ?1 AND device = "
                             "(SELECT idx FROM _fs_devices WHERE id = ?2)");
      ASSERT_TRUE(get.ok()) << get.status();
      (*get)->BindInt(1, static_cast<int64_t>(seq));
      (*get)->BindBlob(2, n.replica().device_id().view());
      auto found = (*get)->Step();
      ASSERT_TRUE(found.ok() && *found) << "commit " << seq << " is not in the log";
      pos = (*get)->ColumnInt(0);
      body = (*get)->ColumnString(1);
    }
    for (size_t i = body.size(); i-- > 0;) {
      std::string damaged = body;
      damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
      if (!DecodeCommit(damaged).ok()) continue;
      auto put = db.Prepared("UPDATE _fs_log SET body = ?1 WHERE pos = ?2");
      ASSERT_TRUE(put.ok()) << put.status();
      (*put)->BindBlob(1, damaged);
      (*put)->BindInt(2, pos);
      ASSERT_TRUE((*put)->Run().ok());
      return;
    }
    FAIL() << "no byte of commit " << seq << " flips into a body that still decodes";
  }
  static void ExpectKeepRefusedAsAltered(harness::LocalNode& a, uint64_t seq);
};

// A hub running other code: every push of commits refused as not signed by
// the laptop (what it says of a commit it would rather not hold).
class ClaimsForgedHub : public sync::ForwardingTransport {
 public:
  using ForwardingTransport::ForwardingTransport;
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    if (!req.commits.empty()) {
      return absl::UnauthenticatedError(
          "commit 0 of 1: signature does not verify against its author's key (forged or "
          "altered); nothing of the batch was stored");
    }
    return ForwardingTransport::Push(req);
  }
};

// Process attack 80, HIGH 1: one byte of the body of the laptop's newest
// commit flipped. Before, every sync ended "the hub refused the push: ...
// (forged or altered)" with no pull, and its later writes queued behind.
TEST_F(OwnCheckTest, ACommitDamagedOnDiskIsSetAsideHereAndLaterWorkAndThePullGoOn) {
  auto& a = AddNode("LC");
  auto& colleague = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(colleague);
  SetField(a.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t bad = LastSeq(a);
  DamageBody(a, bad);
  const RowId later = NewCase(a.replica(), "LC", "Lò Thị Mai");
  const RowId theirs = NewCase(colleague.replica(), "LC", "Hà Thị Sáu");
  MustSync(colleague);

  auto r = a.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->push_refused.ok()) << r->push_refused;
  EXPECT_TRUE(Mentions(*r, absl::StrCat("commit ", bad, " of this laptop is damaged on its disk")))
      << "the damaged commit is named";
  EXPECT_TRUE(Holds(a, "cases", theirs)) << "the pass ended before the pull";
  auto listed = node::ops::ListSetAside(a.replica(), false);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().seq, bad);
  EXPECT_EQ(listed->front().code, "DAMAGED");
  // Its later work reaches the colleague, whose chain check places the
  // damaged commit's header alone: no gap, no evidence.
  const node::SyncReport got = MustSync(colleague);
  EXPECT_TRUE(Holds(colleague, "cases", later));
  EXPECT_EQ(got.chain.held, 0u);
  EXPECT_EQ(got.chain.evidence, 0u);
  // The officer discards it: withdrawn at the next sync, work goes on.
  ASSERT_TRUE(node::ops::DiscardSetAside(a.replica(), bad, 1).ok());
  const node::SyncReport w = MustSync(a);
  EXPECT_EQ(w.withdrawals_pushed, 1u);
  EXPECT_EQ(w.set_aside_open, 0u);
  const RowId after = NewCase(a.replica(), "LC", "Vàng Thị Dợ");
  MustSync(a);
  const node::SyncReport next = MustSync(colleague);
  EXPECT_TRUE(Holds(colleague, "cases", after));
  EXPECT_EQ(next.chain.held, 0u);
  EXPECT_EQ(next.chain.evidence, 0u);
}

// Attack review 84, LOW: keep of a DAMAGED item wrote what the damaged
// body held again, in a new commit signed by this laptop (the tampered
// value laundered). It is refused in one line that says what to do
// instead; nothing is written, the item stays open, discard still works.
TEST_F(OwnCheckTest, KeepOfADamagedCommitIsRefusedAndChangesNothing) {
  auto& a = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  SetField(a.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t bad = LastSeq(a);
  DamageBody(a, bad);
  MustSync(a);
  auto listed = node::ops::ListSetAside(a.replica(), false);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  ASSERT_EQ(listed->front().code, "DAMAGED");

  const node::ops::Office o{a.replica(), *a.keys(), "LC", "Lò Thị Mai", "unlock it"};
  const uint64_t before = LastSeq(a);
  auto kept = node::ops::KeepSetAside(o, bad);
  ASSERT_FALSE(kept.ok()) << "keep re-signed a damaged body";
  EXPECT_EQ(kept.status().code(), absl::StatusCode::kFailedPrecondition) << kept.status();
  const std::string said(kept.status().message());
  EXPECT_NE(said.find("damaged on this laptop's disk"), std::string::npos) << said;
  EXPECT_NE(said.find(absl::StrCat("fieldnode set-aside discard ", bad)), std::string::npos)
      << said;
  EXPECT_NE(said.find("Nothing was changed"), std::string::npos) << said;
  EXPECT_EQ(said.find('\n'), std::string::npos) << said;
  EXPECT_EQ(LastSeq(a), before) << "something was written";
  auto still = node::ops::ListSetAside(a.replica(), false);
  ASSERT_TRUE(still.ok()) << still.status();
  ASSERT_EQ(still->size(), 1u) << "the item was resolved";
  EXPECT_TRUE(node::ops::DiscardSetAside(a.replica(), bad, 1).ok());
}

// Attack review 86, LOW 4: keep looked at the stored refusal code only.
// Someone able to write this laptop's database alters an item set aside
// for another reason, or flips the code of a damaged one, and the
// officer's keep signed the altered values anew. Keep now checks the
// laptop's own signature over the stored commit whatever its code: refused
// in one line, nothing written, the item open, discard still works.
void OwnCheckTest::ExpectKeepRefusedAsAltered(harness::LocalNode& a, uint64_t seq) {
  const node::ops::Office o{a.replica(), *a.keys(), "LC", "Lò Thị Mai", "unlock it"};
  const uint64_t before = LastSeq(a);
  auto kept = node::ops::KeepSetAside(o, seq);
  ASSERT_FALSE(kept.ok()) << "keep signed an altered commit anew";
  EXPECT_EQ(kept.status().code(), absl::StatusCode::kFailedPrecondition) << kept.status();
  const std::string said(kept.status().message());
  EXPECT_NE(said.find("no longer matches this laptop's signature"), std::string::npos) << said;
  EXPECT_NE(said.find(absl::StrCat("fieldnode set-aside discard ", seq)), std::string::npos)
      << said;
  EXPECT_NE(said.find("Nothing was changed"), std::string::npos) << said;
  EXPECT_EQ(said.find('\n'), std::string::npos) << said;
  EXPECT_EQ(LastSeq(a), before) << "something was written";
  auto still = node::ops::ListSetAside(a.replica(), false);
  ASSERT_TRUE(still.ok()) << still.status();
  ASSERT_EQ(still->size(), 1u) << "the item was resolved";
  EXPECT_TRUE(node::ops::DiscardSetAside(a.replica(), seq, 1).ok());
}

TEST_F(OwnCheckTest, KeepOfAnItemAlteredAfterItWasSetAsideIsRefusedWhateverItsCode) {
  auto& a = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  SetField(a.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t seq = LastSeq(a);
  // Set aside by a hub that says the row was collected (it stored it).
  RewritingPushHub saying(a.client().transport(),
                          [&](const sync::PushRequest& req, sync::PushOutcome& out) {
                            for (const auto& c : req.commits) {
                              auto d = DecodeCommit(c.canonical);
                              if (d.ok() && d->seq == seq) {
                                out.refusals.push_back(
                                    {seq, sync::RefusalCode::kRowCollected, "said collected", 0});
                              }
                            }
                          });
  auto r = sync::RunPass(saying, a.replica(), *a.keys(), a.credential(), {});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->set_aside, 1u);
  DamageBody(a, seq);  // altered afterwards, its code left as it is
  auto listed = node::ops::ListSetAside(a.replica(), false);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  ASSERT_EQ(listed->front().code, "ROW_COLLECTED");
  ExpectKeepRefusedAsAltered(a, seq);
}

TEST_F(OwnCheckTest, KeepOfADamagedCommitWhoseCodeWasFlippedIsRefused) {
  auto& a = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  SetField(a.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t bad = LastSeq(a);
  DamageBody(a, bad);
  MustSync(a);  // set aside DAMAGED
  auto flip = RawDb(a.replica()).Prepared("UPDATE _fs_set_aside SET code = ?1 WHERE seq = ?2");
  ASSERT_TRUE(flip.ok()) << flip.status();
  (*flip)->BindInt(1, static_cast<int64_t>(sync::RefusalCode::kRowCollected));
  (*flip)->BindInt(2, static_cast<int64_t>(bad));
  ASSERT_TRUE((*flip)->Run().ok());
  auto listed = node::ops::ListSetAside(a.replica(), false);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  ASSERT_EQ(listed->front().code, "ROW_COLLECTED");
  ExpectKeepRefusedAsAltered(a, bad);
}

// The same for re-dating (attack review 86, LOW 4): a commit the hub
// refused as stamped ahead is re-dated at the first sync with the clock
// right, its changes signed anew with no officer looking. Altered on the
// disk meanwhile, it was signed anew and sent; now nothing is re-dated
// while a waiting commit fails the laptop's own check, said in one line,
// and the altered change never leaves. The officer's discard ends it.
TEST_F(OwnCheckTest, ACommitRefusedAsStampedAheadAndAlteredSinceIsNotReDated) {
  OffsetClock clock;
  auto& a = AddNode("LC", "", &clock);
  auto& colleague = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  clock.set_offset(24 * 3600 * 1000);
  SetField(a.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t ahead = LastSeq(a);
  (void)a.Sync();  // refused CLOCK_AHEAD
  auto listed = node::ops::ListSetAside(a.replica(), false);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  ASSERT_EQ(listed->front().code, "CLOCK_AHEAD");
  DamageBody(a, ahead);
  clock.set_offset(0);

  auto r = a.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->redated, 0u) << "an altered commit was signed anew";
  EXPECT_NE(r->redate_note.find("no longer matches this laptop's signature"), std::string::npos)
      << r->redate_note;
  EXPECT_NE(r->redate_note.find(absl::StrCat("fieldnode set-aside discard ", ahead)),
            std::string::npos)
      << r->redate_note;
  EXPECT_EQ(r->redate_note.find('\n'), std::string::npos) << r->redate_note;
  MustSync(colleague);
  EXPECT_EQ(colleague.Read("cases", x, "status").value, Value::Text("intake"))
      << "the altered change reached a colleague";

  ASSERT_TRUE(node::ops::DiscardSetAside(a.replica(), ahead, 1).ok());
  const node::SyncReport w = MustSync(a);
  EXPECT_EQ(w.redated, 0u);
  EXPECT_TRUE(w.redate_note.empty()) << w.redate_note;
  const RowId after = NewCase(a.replica(), "LC", "Lò Thị Mai");
  MustSync(a);
  const node::SyncReport seen = MustSync(colleague);
  EXPECT_TRUE(Holds(colleague, "cases", after));
  EXPECT_EQ(seen.chain.held, 0u);
  EXPECT_EQ(colleague.Read("cases", x, "status").value, Value::Text("intake"));
}

// A hub that says a sound commit's signature fails makes the laptop set
// aside nothing: it says the hub holds another key for it, pulls, and
// pushes it all to an honest hub later, unchanged.
TEST_F(OwnCheckTest, AHubClaimingASoundCommitForgedGetsNothingSetAsideAndThePullRuns) {
  auto& a = AddNode("LC");
  auto& colleague = AddNode("LC");
  NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(colleague);
  const RowId mine = NewCase(a.replica(), "LC", "Lò Thị Mai");
  const RowId theirs = NewCase(colleague.replica(), "LC", "Hà Thị Sáu");
  MustSync(colleague);

  ClaimsForgedHub lying(a.client().transport());
  sync::PassOptions o;
  auto r = sync::RunPass(lying, a.replica(), *a.keys(), a.credential(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->push_refused.code(), absl::StatusCode::kPermissionDenied) << r->push_refused;
  EXPECT_NE(r->push_refused.message().find(
                "the hub holds another key for this laptop: tell the hub administrator"),
            std::string::npos)
      << r->push_refused;
  EXPECT_TRUE(Holds(a, "cases", theirs)) << "the pass ended before the pull";
  auto listed = node::ops::ListSetAside(a.replica(), true);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->empty()) << "set aside on the hub's word";

  MustSync(a);
  MustSync(colleague);
  EXPECT_TRUE(Holds(colleague, "cases", mine));
}

// Process attack 80, MEDIUM 2: the hub's record of the laptop's keys made
// another device's. Before: "(forged or altered)" about its own commit at
// every sync, no pull, and an alert that never said "this laptop".
TEST_F(OwnCheckTest, AHubHoldingAnotherKeyForThisLaptopIsNamedAndThePullRuns) {
  auto& lc1 = AddNode("LC");
  auto& lc2 = AddNode("LC");
  auto& hn = AddNode("HN");
  NewCase(lc1.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(lc1);
  MustSync(lc2);
  MustSync(hn);
  const crypto::DevicePublic own = lc1.identity().public_keys();
  const crypto::DevicePublic other = hn.identity().public_keys();
  auto set_keys = [&](const crypto::DevicePublic& k) {
    TamperWithHub("UPDATE hub_nodes SET sign_pk = ?1, box_pk = ?2 WHERE device = ?3",
                  {Value::Bytes(k.sign_pk), Value::Bytes(k.box_pk),
                   Value::Bytes(std::string(own.device.view()))});
  };
  set_keys(other);
  const RowId mine = NewCase(lc1.replica(), "LC", "Lò Thị Mai");
  const RowId theirs = NewCase(lc2.replica(), "LC", "Hà Thị Sáu");
  MustSync(lc2);

  auto r = lc1.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->push_refused.message().find(
                "the hub holds another key for this laptop: tell the hub administrator"),
            std::string::npos)
      << r->push_refused;
  EXPECT_TRUE(Holds(lc1, "cases", theirs)) << "the pass ended before the pull";
  auto listed = node::ops::ListSetAside(lc1.replica(), true);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->empty()) << "set aside on the hub's word";
  auto alerts = lc1.keys()->TrustAlerts();
  ASSERT_TRUE(alerts.ok()) << alerts.status();
  bool said = false;
  for (const std::string& t : *alerts) {
    said |= t.find("the hub holds another key for this laptop") != std::string::npos;
  }
  EXPECT_TRUE(said) << "the laptop's alert does not say it is about this laptop";
  EXPECT_EQ(lc1.identity().public_keys().sign_pk, own.sign_pk) << "re-keyed on the hub's word";

  // The hub's record put right: the same commit goes, as it was signed.
  set_keys(own);
  MustSync(lc1);
  MustSync(lc2);
  EXPECT_TRUE(Holds(lc2, "cases", mine));
}

}  // namespace
}  // namespace fieldsync::testing
