// A commit that names (as its base) a colleague's version the hub does not
// hold waits for it (a hub put back from a backup gets it relayed, see
// HubRestoreTest.AnEditWaitingForAColleaguesLostCaseIsNotBlamedOnRefusedWork).
// When that version will never come -- the colleague's commit was refused for
// good at this hub, or the colleague was revoked -- the commit is refused
// COLLEAGUE_REFUSED instead (attack review 24, L2; docs/PROTOCOL.md,
// "Refusals per commit and set-aside work"): set aside for the officer, and
// the laptop's later work lands. Before, it waited for ever and every later
// commit of the laptop waited behind it. Real hub and laptops; the hub is put
// back from a copy of hub.db (SQLite: skipped on PostgreSQL, whose store's
// NodeRevoked and RefusedChainEntries HubWriteStoreTest covers).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "change/commit_codec.h"
#include "node/ops/set_aside.h"
#include "support/answer_lost_once.h"
#include "support/sync_fixture.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"
#include "sync/protocol.h"

namespace fieldsync::testing {
namespace {

// A hub that keeps commit `refuse` of the pushing laptop from the real hub
// and answers it COLLEAGUE_REFUSED, naming `named` as never coming, while
// the real hub holds `named`.
class HubCallingAHeldVersionLost : public sync::ForwardingTransport {
 public:
  HubCallingAHeldVersionLost(sync::Transport& real, uint64_t refuse, Version named,
                             std::vector<Version> also_named = {},
                             std::vector<std::pair<DeviceId, uint64_t>> never_after = {})
      : ForwardingTransport(real),
        refuse_(refuse),
        named_(named),
        also_named_(std::move(also_named)),
        never_after_(std::move(never_after)) {}
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    sync::PushRequest kept = req;
    bool dropped = false;
    std::erase_if(kept.commits, [&](const sync::PushedCommit& c) {
      auto d = DecodeCommit(c.canonical);
      dropped |= d.ok() && d->seq == refuse_;
      return d.ok() && d->seq == refuse_;
    });
    absl::StatusOr<sync::PushOutcome> out = ForwardingTransport::Push(kept);
    if (!dropped || !out.ok()) return out;
    out->acknowledged_seq = std::max(out->acknowledged_seq, refuse_);
    sync::CommitRefusal r;
    r.seq = refuse_;
    r.code = sync::RefusalCode::kColleagueRefused;
    r.reason = "edits over a version the hub will never hold";
    r.never_coming = {named_};
    r.never_coming.insert(r.never_coming.end(), also_named_.begin(), also_named_.end());
    r.never_after = never_after_;
    out->refusals.push_back(std::move(r));
    return out;
  }

 private:
  const uint64_t refuse_;
  const Version named_;
  const std::vector<Version> also_named_;
  const std::vector<std::pair<DeviceId, uint64_t>> never_after_;
};

class SyncRefusalsTest : public SyncTest {
 protected:
  // New laptops lc1 and lc2 of LC: lc1 opens cases `b` and `c`; lc2 edits
  // b's status, which lc1 pulls and edits over (its commit names lc2's
  // version as its base) before editing c (later work); the hub is then
  // put back from a copy taken before lc2's edit. `also` (if set) is
  // written in lc2's commit too.
  struct Story {
    harness::LocalNode* lc1 = nullptr;
    harness::LocalNode* lc2 = nullptr;
    RowId b, c;
  };
  Story EditOverAColleaguesVersionTheHubLoses(const RowId* also) {
    harness::LocalNode& lc1 = AddNode("LC");
    harness::LocalNode& lc2 = AddNode("LC");
    Story s{&lc1, &lc2, NewCase(lc1.replica(), "LC", "Lò Thị Mai"),
            NewCase(lc1.replica(), "LC", "Vàng Thị Sua")};
    MustSync(lc1);
    MustSync(lc2);
    const std::string backup = CopyHubFile("backup.db");
    {
      LocalTxn t;
      if (also != nullptr) t.Set("cases", *also, {{"status", Value::Text("verifying")}});
      t.Set("cases", s.b, {{"status", Value::Text("assisting")}});
      EXPECT_TRUE(lc2.replica().Write(t).ok());
    }
    MustSync(lc2);
    MustSync(lc1);
    SetField(lc1.replica(), "cases", s.b, "status", Value::Text("closed"));
    SetField(lc1.replica(), "cases", s.c, "status", Value::Text("assisting"));
    PutHubFileBack(backup);
    return s;
  }

  // The same, lc2 then revoked at the restored hub: its commits are
  // relayed no more.
  Story EditOverARevokedColleaguesVersion() {
    Story s = EditOverAColleaguesVersionTheHubLoses(nullptr);
    auto revoke = hub_->Admin({"node", "revoke", s.lc2->replica().device_id().ToString()});
    EXPECT_EQ(revoke.exit_code, 0) << revoke.err;
    return s;
  }

  // New laptops lc1 and lc2 of LC, both holding lc1's case `b`; lc2 writes
  // b's status, lc1 pulls it and writes over it: `named` is lc2's version
  // lc1's edit names as its base, `seq` the edit's commit (not pushed yet).
  struct HeldStory {
    harness::LocalNode* lc1 = nullptr;
    harness::LocalNode* lc2 = nullptr;
    RowId b;
    Version named;
    uint64_t seq = 0;
  };
  HeldStory EditOverAColleaguesHeldVersion() {
    harness::LocalNode& lc1 = AddNode("LC");
    harness::LocalNode& lc2 = AddNode("LC");
    HeldStory s{&lc1, &lc2, NewCase(lc1.replica(), "LC", "Lò Thị Mai"), {}, 0};
    MustSync(lc1);
    MustSync(lc2);
    SetField(lc2.replica(), "cases", s.b, "status", Value::Text("assisting"));
    MustSync(lc2);
    MustSync(lc1);
    const std::optional<Row> row = Must(lc1.replica().Get("cases", s.b));
    EXPECT_TRUE(row.has_value());
    if (!row) return s;
    const int status = lc1.replica().schema().FindTable("cases")->ColumnIndex("status");
    const std::optional<FieldVersion>& held = row->versions.at(static_cast<size_t>(status));
    EXPECT_TRUE(held && held->version.device == lc2.replica().device_id());
    if (!held) return s;
    s.named = held->version;
    SetField(lc1.replica(), "cases", s.b, "status", Value::Text("closed"));
    s.seq = Must(lc1.replica().LocalCommitsAfter(0, 1000)).back().seq;
    return s;
  }

  // lc1's pass: the edit over lc2's version set aside COLLEAGUE_REFUSED
  // with `says` in its reason, and the edit of c reaching a new laptop.
  void ExpectSetAsideAndLaterWorkLands(const Story& s, const std::string& says) {
    auto r = s.lc1->Sync();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->push_refused.ok()) << r->push_refused;
    EXPECT_EQ(r->set_aside, 1u) << r->set_aside_reason;
    EXPECT_EQ(r->set_aside_code, static_cast<int>(sync::RefusalCode::kColleagueRefused))
        << r->set_aside_reason;
    auto listed = node::ops::ListSetAside(s.lc1->replica(), false);
    ASSERT_TRUE(listed.ok()) << listed.status();
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ(listed->at(0).code, "COLLEAGUE_REFUSED");
    EXPECT_NE(listed->at(0).reason.find(s.lc2->replica().device_id().ToString()),
              std::string::npos)
        << "the colleague is not named: " << listed->at(0).reason;
    EXPECT_NE(listed->at(0).reason.find(says), std::string::npos) << listed->at(0).reason;
    auto& lc3 = AddNode("LC");
    MustSync(lc3);
    auto got = lc3.replica().Get("cases", s.c);
    ASSERT_TRUE(got.ok() && got->has_value()) << "lc1's later work did not land";
    EXPECT_EQ(lc3.Read("cases", s.c, "status").value, Value::Text("assisting"))
        << "lc1's later work did not land";
    // The next pass sends nothing again and sets nothing more aside.
    node::SyncReport again = MustSync(*s.lc1);
    EXPECT_EQ(again.set_aside, 0u) << again.set_aside_reason;
  }

  // Three laptops of LC, lc1 opening case b, all synced.
  struct Office3 {
    harness::LocalNode* lc1;
    harness::LocalNode* lc2;
    harness::LocalNode* lc4;
    RowId b;
  };
  Office3 ThreeLaptopsAndACase() {
    Office3 o{&AddNode("LC"), &AddNode("LC"), &AddNode("LC"), {}};
    o.b = NewCase(o.lc1->replica(), "LC", "Lò Thị Mai");
    MustSync(*o.lc1);
    MustSync(*o.lc2);
    MustSync(*o.lc4);
    return o;
  }

  // The hub put back from `backup`, and `revoked` revoked there.
  void PutBackAndRevoke(const std::string& backup, harness::LocalNode& revoked) {
    PutHubFileBack(backup);
    auto revoke = hub_->Admin({"node", "revoke", revoked.replica().device_id().ToString()});
    EXPECT_EQ(revoke.exit_code, 0) << revoke.err;
  }

  // A pass of `n` that sets one commit aside COLLEAGUE_REFUSED: its row
  // (seq 0 if not).
  static SetAsideRow OneColleagueRefused(harness::LocalNode& n) {
    auto r = n.Sync();
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    EXPECT_EQ(r->set_aside, 1u) << r->set_aside_reason;
    EXPECT_EQ(r->set_aside_code, static_cast<int>(sync::RefusalCode::kColleagueRefused))
        << r->set_aside_reason;
    std::vector<SetAsideRow> rows = Must(n.replica().SetAsideList());
    EXPECT_EQ(rows.size(), 1u);
    return rows.size() == 1 ? rows[0] : SetAsideRow{};
  }

  // A pass of `n` that may first find the office's checkpoint signed by
  // the revoked colleague (not used: it asks for another pass). A laptop
  // new to the office would be refused that checkpoint (AddNode's first
  // pass), so the tests compare with a colleague laptop already there.
  static node::SyncReport SyncPastARevokedCheckpoint(harness::LocalNode& n) {
    if (auto r = n.Sync(); r.ok()) return *r;
    return MustSync(n);
  }
};

// lc2's commit also writes case `a`, which a colleague deletes at the
// restored hub and the hub collects: lc2's commit is refused ROW_COLLECTED
// for good, so lc2's version of b never reaches the hub.
TEST_F(SyncRefusalsTest, AnEditOverAColleaguesVersionRefusedForGoodIsRefusedNotLeftWaiting) {
  FS_SKIP_ON_POSTGRES("puts hub.db back from a copy");
  auto& lc4 = AddNode("LC");
  const RowId a = NewCase(lc4.replica(), "LC", "Hà Thị Sáu");
  MustSync(lc4);
  Story s = EditOverAColleaguesVersionTheHubLoses(&a);
  {
    LocalTxn t;
    t.Delete("cases", a);
    ASSERT_TRUE(lc4.replica().Write(t).ok());
  }
  MustSync(lc4);
  MustSync(lc4);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto gc = hub_->Admin({"gc", "--min-age", "0s", "--stale-after", "10ms"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  ASSERT_NE(gc.out.find("collected 1 tombstones"), std::string::npos) << gc.out;
  // lc2 sends its commit again: refused for good at this hub.
  auto r2 = s.lc2->Sync();
  ASSERT_TRUE(r2.ok()) << r2.status();
  ExpectSetAsideAndLaterWorkLands(s, "ROW_COLLECTED");
}

// lc2 is revoked at the restored hub.
TEST_F(SyncRefusalsTest, AnEditOverARevokedColleaguesVersionIsRefusedNotLeftWaiting) {
  FS_SKIP_ON_POSTGRES("puts hub.db back from a copy");
  ExpectSetAsideAndLaterWorkLands(EditOverARevokedColleaguesVersion(), "revoked");
}

// The officer redoes the edit set aside (fieldnode set-aside keep): written
// anew over what the hub holds, it is stored and reaches colleagues.
TEST_F(SyncRefusalsTest, AnEditOverARevokedColleaguesVersionKeptByTheOfficerLands) {
  FS_SKIP_ON_POSTGRES("puts hub.db back from a copy");
  const Story s = EditOverARevokedColleaguesVersion();
  harness::LocalNode& lc1 = *s.lc1;
  auto r = lc1.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->set_aside, 1u) << r->set_aside_reason;
  auto listed = node::ops::ListSetAside(lc1.replica(), false);
  ASSERT_TRUE(listed.ok() && listed->size() == 1u);
  auto kept = node::ops::KeepSetAside(
      node::ops::Office{lc1.replica(), *lc1.keys(), "LC", "Lò Thị Mai", "unlock it"},
      listed->at(0).seq);
  ASSERT_TRUE(kept.ok()) << kept.status();
  node::SyncReport w = MustSync(lc1);
  EXPECT_EQ(w.set_aside, 0u) << "the kept edit was refused again: " << w.set_aside_reason;
  auto& lc3 = AddNode("LC");
  MustSync(lc3);
  EXPECT_EQ(lc3.Read("cases", s.b, "status").value, Value::Text("closed"));
}

// lc1's one save writes b's status over revoked lc2's version and b's
// assigned officer over lc4's, which the restored hub holds. The refusal
// names lc2's version alone (never_coming); discarding the save puts status
// back past it but leaves lc4's officer: before, every colleague's version
// the save stood on was passed over, and lc4's write was undone at lc1 alone,
// silently and for good (attack review 26, H-MED 1).
TEST_F(SyncRefusalsTest, ADiscardOverARevokedColleaguesVersionKeepsAnotherColleaguesFieldItStoodOn) {
  FS_SKIP_ON_POSTGRES("puts hub.db back from a copy");
  const Office3 o = ThreeLaptopsAndACase();
  harness::LocalNode &lc1 = *o.lc1, &lc2 = *o.lc2, &lc4 = *o.lc4;
  const RowId b = o.b;
  SetField(lc4.replica(), "cases", b, "assigned_officer", Value::Text("Giàng A Páo"));
  MustSync(lc4);
  MustSync(lc2);
  MustSync(lc1);
  const std::string backup = CopyHubFile("backup.db");
  SetField(lc2.replica(), "cases", b, "status", Value::Text("assisting"));
  MustSync(lc2);
  MustSync(lc1);
  {
    LocalTxn t;
    t.Set("cases", b, {{"status", Value::Text("closed")},
                       {"assigned_officer", Value::Text("Lò Văn Minh")}});
    ASSERT_TRUE(lc1.replica().Write(t).ok());
  }
  PutBackAndRevoke(backup, lc2);
  const SetAsideRow aside = OneColleagueRefused(lc1);
  ASSERT_EQ(aside.never_coming.size(), 1u) << "the refusal names lc2's version alone";
  EXPECT_EQ(aside.never_coming[0].device, lc2.replica().device_id());
  ASSERT_TRUE(node::ops::DiscardSetAside(lc1.replica(), aside.seq, 1).ok());
  EXPECT_EQ(lc1.Read("cases", b, "assigned_officer").value, Value::Text("Giàng A Páo"))
      << "lc4's write, which the hub holds, was undone at lc1";
  EXPECT_EQ(lc1.Read("cases", b, "status").value, Value::Text("intake"));
  SyncPastARevokedCheckpoint(lc1);
  SyncPastARevokedCheckpoint(lc4);
  EXPECT_EQ(Must(lc1.replica().StateDigest()), Must(lc4.replica().StateDigest()));
}

// lc1 holds revoked lc2's losing status write as a conflict record and
// settles it; the hub will never hold lc2's version, so the settling is
// refused, and the officer keeps it (written again as a plain edit). The
// record goes with it: before, it stayed shown at lc1 alone for good, and
// any later settling named it and was refused again (attack review 26,
// H-LOW 1).
TEST_F(SyncRefusalsTest, AResolutionOfARevokedColleaguesRecordKeptByTheOfficerLeavesNoRecord) {
  FS_SKIP_ON_POSTGRES("puts hub.db back from a copy");
  const Office3 o = ThreeLaptopsAndACase();
  harness::LocalNode &lc1 = *o.lc1, &lc2 = *o.lc2, &lc4 = *o.lc4;
  const RowId b = o.b;
  const std::string backup = CopyHubFile("backup.db");
  SetField(lc2.replica(), "cases", b, "status", Value::Text("assisting"));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  SetField(lc4.replica(), "cases", b, "status", Value::Text("verifying"));
  MustSync(lc4);  // before lc2's losing write reaches the hub: lc4 never holds it
  MustSync(lc2);
  MustSync(lc1);
  ASSERT_EQ(Must(lc1.replica().Conflicts("cases", b)).size(), 1u) << "lc1 holds no record";
  PutBackAndRevoke(backup, lc2);
  MustSync(lc4);  // sends its commit again to the restored hub
  {
    LocalTxn t;
    t.Resolve("cases", b, "status", Value::Text("closed"));
    ASSERT_TRUE(lc1.replica().Write(t).ok());
  }
  const SetAsideRow aside = OneColleagueRefused(lc1);
  ASSERT_NE(aside.seq, 0u);
  auto kept = node::ops::KeepSetAside(
      node::ops::Office{lc1.replica(), *lc1.keys(), "LC", "Lò Thị Mai", "unlock it"}, aside.seq);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(Must(lc1.replica().Conflicts("cases", b)).empty())
      << "lc2's record, which no one can settle, is still shown at lc1";
  node::SyncReport w = SyncPastARevokedCheckpoint(lc1);
  EXPECT_EQ(w.set_aside, 0u) << "the kept edit was refused again: " << w.set_aside_reason;
  SyncPastARevokedCheckpoint(lc4);
  EXPECT_EQ(lc4.Read("cases", b, "status").value, Value::Text("closed"));
  EXPECT_EQ(Must(lc1.replica().StateDigest()), Must(lc4.replica().StateDigest()));
}

// A hub (lying) refuses lc1's edit COLLEAGUE_REFUSED naming lc2's version,
// which lc1 pulled from it with no word since that its log went back: a hub
// that stored a version keeps it, so the refusal is not borne out here, and
// discarding the edit puts the field back to lc2's version, not past it.
// Before, lc1 dropped lc2's write on the hub's word alone (attack review 26,
// H-LOW 2).
TEST_F(SyncRefusalsTest, AColleagueRefusedNamingAVersionPulledSinceTheHubLastWentBackMovesNothingBack) {
  const HeldStory s = EditOverAColleaguesHeldVersion();
  ASSERT_NE(s.seq, 0u);
  harness::LocalNode& lc1 = *s.lc1;
  const RowId b = s.b;
  const uint64_t seq = s.seq;
  HubCallingAHeldVersionLost hub(lc1.client().transport(), seq, s.named);
  auto r = sync::RunPass(hub, lc1.replica(), *lc1.keys(), lc1.credential(), {});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->set_aside, 1u) << r->set_aside_reason;
  ASSERT_TRUE(node::ops::DiscardSetAside(lc1.replica(), seq, 1).ok());
  EXPECT_EQ(lc1.Read("cases", b, "status").value, Value::Text("assisting"))
      << "lc2's write, which the hub holds, was dropped on the hub's word";
}

// lc1's push of its edit over revoked lc2's version is refused, but the
// answer is lost (the link cut after the hub answered); the next pass sends
// the commit again and the hub names its earlier refusal: that answer names
// the version too, so a discard puts the field back past it. Before, the
// answer named again named none, and the discard left lc2's lost value at
// lc1 alone (attack review 27, MED 2).
TEST_F(SyncRefusalsTest, AColleagueRefusedWhoseAnswerWasLostNamesTheVersionWhenPushedAgain) {
  FS_SKIP_ON_POSTGRES("puts hub.db back from a copy");
  const Story s = EditOverARevokedColleaguesVersion();
  harness::LocalNode& lc1 = *s.lc1;
  AnswerLostOnce cut(lc1.client().transport());
  (void)sync::RunPass(cut, lc1.replica(), *lc1.keys(), lc1.credential(), {});
  ASSERT_TRUE(cut.lost()) << "no push answer was lost";
  ASSERT_TRUE(Must(lc1.replica().SetAsideList()).empty()) << "set aside from a lost answer";
  const SetAsideRow aside = OneColleagueRefused(lc1);
  ASSERT_EQ(aside.never_coming.size(), 1u) << "the refusal named again names no version";
  EXPECT_EQ(aside.never_coming[0].device, s.lc2->replica().device_id());
  ASSERT_TRUE(node::ops::DiscardSetAside(lc1.replica(), aside.seq, 1).ok());
  EXPECT_EQ(lc1.Read("cases", s.b, "status").value, Value::Text("intake"))
      << "lc2's lost value is still shown at lc1";
}

// The same for DEPENDS_ON_REFUSED: away's edit of a case collected meanwhile
// is refused (ROW_COLLECTED), its next edit over it DEPENDS_ON_REFUSED, and
// the answer is lost; pushed again, the refusal named again names the commit
// it needs. Before, it named none (depends_on 0): a laptop keeps a commit
// that needs one stamped by a clock ahead waiting, to be re-dated with it,
// only by that name, and set it aside for its officer instead, whose discard
// took it back for good (the simulation, every condition on, seeds
// 5968627282967065902 and 62188250464392446: a delete, the case live again).
TEST_F(SyncRefusalsTest, ADependsOnRefusedWhoseAnswerWasLostNamesTheCommitItNeedsWhenPushedAgain) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);
  MustSync(a);
  // The parent edits x (collected meanwhile: refused ROW_COLLECTED) and
  // creates a person; the child edits only that person, so it is refused
  // DEPENDS_ON_REFUSED, not for x itself.
  const RowId person = Id16::NewRandom();
  {
    LocalTxn t;
    t.Set("cases", x, {{"status", Value::Text("assisting")}});
    t.Create("persons", person, {{"full_name", Value::Text("Lò Thị Mai")},
                                 {"province", Value::Text("LC")},
                                 {"sex", Value::Text("female")}});
    ASSERT_TRUE(away.replica().Write(t).ok());
  }
  const uint64_t parent = LastSeq(away);
  SetField(away.replica(), "persons", person, "full_name", Value::Text("Lò Thị Mây"));
  const uint64_t child = LastSeq(away);
  {
    LocalTxn t;
    t.Delete("cases", x);
    ASSERT_TRUE(a.replica().Write(t).ok());
  }
  MustSync(a);
  MustSync(a);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto gc = hub_->Admin({"gc", "--min-age", "0s", "--stale-after", "10ms"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  ASSERT_NE(gc.out.find("collected 1 tombstones"), std::string::npos) << gc.out;
  AnswerLostOnce cut(away.client().transport());
  (void)sync::RunPass(cut, away.replica(), *away.keys(), away.credential(), {});
  ASSERT_TRUE(cut.lost()) << "no push answer was lost";
  ASSERT_TRUE(Must(away.replica().SetAsideList()).empty()) << "set aside from a lost answer";
  (void)away.Sync();  // pushed again: the hub names its refusals again
  const std::vector<SetAsideRow> aside = Must(away.replica().SetAsideList());
  ASSERT_EQ(aside.size(), 2u);
  EXPECT_EQ(aside[0].seq, parent);
  EXPECT_EQ(aside[0].code, static_cast<int>(sync::RefusalCode::kRowCollected));
  EXPECT_EQ(aside[1].seq, child);
  EXPECT_EQ(aside[1].code, static_cast<int>(sync::RefusalCode::kDependsOnRefused));
  EXPECT_EQ(aside[1].depends_on, parent) << "the refusal named again names no commit it needs";
}

// Revoked lc2's two writes of b's status, "verifying" then "assisting" over
// it, both lost by the hub put back from a backup; lc1 edits over the
// second. The refusal names that one (the commit names it) and says what the
// hub holds of lc2 (never_after): discarding the edit puts the field back
// past both, to what the hub holds. Before, the walk stopped at the first,
// and lc1 alone showed "verifying", a value the hub never holds, until its
// next edit of the field, which was refused again (attack review 27, MED 1).
TEST_F(SyncRefusalsTest, ADiscardOverTwoLostVersionsOfARevokedColleaguePutsTheFieldBackToWhatTheHubHolds) {
  FS_SKIP_ON_POSTGRES("puts hub.db back from a copy");
  const Office3 o = ThreeLaptopsAndACase();
  harness::LocalNode &lc1 = *o.lc1, &lc2 = *o.lc2, &lc4 = *o.lc4;
  const RowId b = o.b;
  const std::string backup = CopyHubFile("backup.db");
  const std::vector<Commit> before = Must(lc2.replica().LocalCommitsAfter(0, 1000));
  const uint64_t held = before.empty() ? 0 : before.back().seq;
  SetField(lc2.replica(), "cases", b, "status", Value::Text("verifying"));
  MustSync(lc2);
  SetField(lc2.replica(), "cases", b, "status", Value::Text("assisting"));
  MustSync(lc2);
  MustSync(lc1);
  ASSERT_EQ(lc1.Read("cases", b, "status").value, Value::Text("assisting"));
  SetField(lc1.replica(), "cases", b, "status", Value::Text("closed"));
  PutBackAndRevoke(backup, lc2);
  const SetAsideRow aside = OneColleagueRefused(lc1);
  ASSERT_EQ(aside.never_coming.size(), 1u) << "the refusal names the version lc1's edit names";
  ASSERT_EQ(aside.never_after.size(), 1u) << "the refusal says nothing of what the hub holds";
  EXPECT_EQ(aside.never_after[0].first, lc2.replica().device_id());
  EXPECT_EQ(aside.never_after[0].second, held);
  ASSERT_TRUE(node::ops::DiscardSetAside(lc1.replica(), aside.seq, 1).ok());
  EXPECT_EQ(lc1.Read("cases", b, "status").value, Value::Text("intake"))
      << "a lost value of lc2 is still shown at lc1";
  SyncPastARevokedCheckpoint(lc1);
  SyncPastARevokedCheckpoint(lc4);
  EXPECT_EQ(lc4.Read("cases", b, "status").value, Value::Text("intake"));
  EXPECT_EQ(Must(lc1.replica().StateDigest()), Must(lc4.replica().StateDigest()));
}

// A hub's COLLEAGUE_REFUSED lists more than lc1's edit names: a version of
// no commit here, an author of none of the named versions, an author twice.
// The set-aside row keeps what the edit names alone (attack review 27, LOW 4).
TEST_F(SyncRefusalsTest, AColleagueRefusedKeepsOnlyWhatTheRefusedCommitNames) {
  const HeldStory s = EditOverAColleaguesHeldVersion();
  ASSERT_NE(s.seq, 0u);
  harness::LocalNode& lc1 = *s.lc1;
  harness::LocalNode& lc2 = *s.lc2;
  const uint64_t seq = s.seq;
  const DeviceId stranger = Must(DeviceId::FromBytes(std::string(16, '\x5a'), "device"));
  HubCallingAHeldVersionLost hub(
      lc1.client().transport(), seq, s.named,
      {Version{Hlc::FromPacked(12345), stranger}, s.named},
      {{stranger, 0}, {lc2.replica().device_id(), 3}, {lc2.replica().device_id(), 0}});
  auto r = sync::RunPass(hub, lc1.replica(), *lc1.keys(), lc1.credential(), {});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->set_aside, 1u) << r->set_aside_reason;
  const std::vector<SetAsideRow> rows = Must(lc1.replica().SetAsideList());
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(rows[0].never_coming.size(), 1u) << "a version the edit does not name was kept";
  EXPECT_EQ(rows[0].never_coming[0], s.named);
  ASSERT_EQ(rows[0].never_after.size(), 1u) << "an author of no named version was kept";
  EXPECT_EQ(rows[0].never_after[0].first, lc2.replica().device_id());
  EXPECT_EQ(rows[0].never_after[0].second, 3u);
}

}  // namespace
}  // namespace fieldsync::testing
