// Work set aside in what a restored hub lost (issue 13, story 6;
// docs/PROTOCOL.md, "A hub put back from a backup"): a laptop had a commit
// refused and set aside, an officer discarded it and the laptop withdrew it,
// and the laptop went on working; then the hub was put back from a backup
// taken before all of it. The hub gets that work again as it had it -- the
// refused header, never the commit judged anew, and the signed withdrawal --
// from the author or relayed by a colleague, so that the author's chain at
// the hub has no hole and every later commit arrives. A hub that claims it
// lost commits it had acknowledged and then refuses them gets none of them
// set aside. Real hub processes and laptops.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "change/commit_codec.h"
#include "node/ops/set_aside.h"
#include "proto/wire.h"
#include "store/sqlite.h"
#include "support/sync_fixture.h"
#include "sync/chain.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"
#include "sync/protocol.h"
#include "sync/relay.h"
#include "sync/set_aside.h"

namespace fieldsync::testing {
namespace {

class HubRestoreSetAsideTest : public SyncTest {
 protected:
  int64_t HubCount(const std::string& sql) {
    auto st = sqlite::Db::Open(hub_->data_dir() + "/hub.db", "");
    EXPECT_TRUE(st.ok());
    auto q = (*st)->Prepared(sql);
    EXPECT_TRUE(q.ok()) << q.status();
    auto r = (*q)->Step();
    EXPECT_TRUE(r.ok() && *r) << sql;
    return (*q)->ColumnInt(0);
  }

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

  // `a` deletes `x`, both of its syncs acknowledge the delete, and the
  // administrator collects it with every other laptop counted as stale.
  void DeleteAndCollect(harness::LocalNode& a, const RowId& x) {
    LocalTxn t;
    t.Delete("cases", x);
    ASSERT_TRUE(a.replica().Write(t).ok());
    MustSync(a);
    MustSync(a);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto gc = hub_->Admin({"gc", "--min-age", "0s", "--stale-after", "10ms"});
    ASSERT_EQ(gc.exit_code, 0) << gc.err;
    ASSERT_NE(gc.out.find("collected 1 tombstones"), std::string::npos) << gc.out;
  }

  // The story: `away` edits x while `a` deletes it and the hub collects
  // it; a backup; away's edit is refused and set aside, discarded and
  // withdrawn; away's work before and after reaches `a`. Then the backup is
  // put back: it holds nothing of away's. Returns away's cases y1..y3 (one before the
  // withdrawal's push, one with it, one after).
  std::vector<RowId> SetAsideThenRestore(harness::LocalNode& a, harness::LocalNode& away,
                                         RowId* x) {
    *x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
    MustSync(a);
    MustSync(away);
    MustSync(a);
    SetField(away.replica(), "cases", *x, "status", Value::Text("assisting"));
    const uint64_t edit = LastSeq(away);
    std::vector<RowId> ys;
    ys.push_back(NewCase(away.replica(), "LC", "Lò Thị Mai"));
    DeleteAndCollect(a, *x);
    const std::string backup = CopyHubFile("backup.db");
    node::SyncReport refused = MustSync(away);
    EXPECT_EQ(refused.set_aside, 1u);
    EXPECT_TRUE(node::ops::DiscardSetAside(away.replica(), edit, 1).ok());
    ys.push_back(NewCase(away.replica(), "LC", "Vàng Thị Sua"));
    node::SyncReport withdrawn = MustSync(away);
    EXPECT_EQ(withdrawn.withdrawals_pushed, 1u);
    ys.push_back(NewCase(away.replica(), "LC", "Giàng Thị Dế"));
    MustSync(away);
    node::SyncReport seen = MustSync(a);
    EXPECT_EQ(seen.chain.held, 0u);
    EXPECT_EQ(seen.chain.evidence, 0u);
    for (const RowId& y : ys) EXPECT_TRUE(Holds(a, "cases", y));
    EXPECT_EQ(AtHub(ys), ys.size());
    PutHubFileBack(backup);
    EXPECT_EQ(AtHub(ys), 0u);
    return ys;
  }

  static bool Live(harness::LocalNode& n, const RowId& row) {
    auto r = n.replica().Get("cases", row);
    return r.ok() && r->has_value() && (*r)->live;
  }

  // `n` holds every case of `ys`, not x live, and nothing held back or
  // against the hub in its chains.
  void ExpectHealed(harness::LocalNode& n, const std::vector<RowId>& ys, const RowId& x) {
    node::SyncReport r = MustSync(n);
    for (const RowId& y : ys) EXPECT_TRUE(Holds(n, "cases", y)) << y.ToString();
    EXPECT_FALSE(Live(n, x));
    EXPECT_EQ(r.chain.held, 0u);
    EXPECT_EQ(r.chain.evidence, 0u);
    for (const std::string& p : r.chain.problems) ADD_FAILURE() << p;
  }

  // The stories run in process and through a `fieldhub serve` process
  // (HubRestoreSetAsideProcessTest: the wire fields they need cross gRPC).
  void AuthorSendsItsWithdrawnWorkAgain();
  void ColleagueRelaysWithdrawnWorkAfterOneFailure();
};

// The same stories with the hub a `fieldhub serve` process: refused
// headers (PushRequest.refused, field 10, RefusedEntry with its
// withdrawal), withdrawals and relayed pushes cross gRPC, not only the
// in-process hub's structs (attack review 59, LOW 8).
class HubRestoreSetAsideProcessTest : public HubRestoreSetAsideTest {
 protected:
  bool NeedsHubProcess() const override { return true; }
};

// The author comes back first: it sends its refused header (not the edit,
// which the hub would judge anew), its cases and its withdrawal, in seq
// order. Before, it said "not sent again automatically",
// sent nothing, and its later work could never continue its chain at the
// hub.
void HubRestoreSetAsideTest::AuthorSendsItsWithdrawnWorkAgain() {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  RowId x;
  std::vector<RowId> ys = SetAsideThenRestore(a, away, &x);

  node::SyncReport r = MustSync(away);
  EXPECT_TRUE(r.own_resent);
  EXPECT_EQ(r.own_refused_resent, 1u);
  EXPECT_EQ(r.withdrawals_pushed, 1u);
  EXPECT_TRUE(r.relay_notes.empty()) << r.relay_notes.front();
  EXPECT_EQ(AtHub(ys), ys.size()) << "of away's cases after the backup";
  // The discarded edit was not judged anew: the hub holds its header,
  // refused with the code it gave, and withdrawn.
  EXPECT_EQ(HubCount(absl::StrCat("SELECT count(*) FROM hub_chain WHERE lower(hex(device)) = "
                                  "replace('", away.replica().device_id().ToString(),
                                  "', '-', '') AND position = -101")),
            1)
      << "away's edit, refused (ROW_COLLECTED) and withdrawn";
  // Work goes on after it.
  ys.push_back(NewCase(away.replica(), "LC", "Hà Thị Sáu"));
  node::SyncReport after = MustSync(away);
  EXPECT_FALSE(after.own_resent);
  EXPECT_EQ(AtHub(ys), ys.size());
  ExpectHealed(a, ys, x);
  auto& fresh = AddNode("LC");
  ExpectHealed(fresh, ys, x);
  EXPECT_EQ(HubCount("SELECT count(*) FROM (SELECT device, seq FROM _fs_log GROUP BY device, "
                     "seq HAVING count(*) > 1)"),
            0);
}

TEST_F(HubRestoreSetAsideTest, TheAuthorSendsItsWithdrawnWorkAgainAsTheHubHadIt) {
  AuthorSendsItsWithdrawnWorkAgain();
}
TEST_F(HubRestoreSetAsideProcessTest, TheAuthorSendsItsWithdrawnWorkAgainAsTheHubHadIt) {
  AuthorSendsItsWithdrawnWorkAgain();
}

// The author does not come back: its colleague relays its cases, its
// refused header (the withdrawal it holds passes over it) and its
// withdrawal. Before, the relay stopped at the refused header: none of the
// author's work after the backup reached the hub or a new laptop, and the
// author's later work could not continue its chain there.
// DISABLED (session 14, helper-54): in this story the colleague holds no
// entry of away's seq 1 at all (the premise check below fails, with or
// without the fix: it began tracking away at its first commit with a body,
// seq 2, after the refused one), so no relay can give the hub that seq; the
// hub then takes neither the withdrawal nor the commits after it. Needs a
// story where the colleague holds the refused header, or the hub taking a
// relayed withdrawal before the entries it passes over (PROTOCOL-v3.md,
// section 2, "out of order", not built).
TEST_F(HubRestoreSetAsideTest, DISABLED_AColleagueRelaysTheRefusedHeaderAndTheWithdrawal) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  RowId x;
  std::vector<RowId> ys = SetAsideThenRestore(a, away, &x);
  // What the colleague holds of away's chain: the refused header alone
  // (placed without a body), and the withdrawal passing over it.
  const DeviceId away_id = away.replica().device_id();
  auto refused = a.replica().ChainEntryAt(away_id, 1);
  ASSERT_TRUE(refused.ok()) << refused.status();
  ASSERT_TRUE(refused->has_value()) << "the colleague holds no entry of away's seq 1";
  EXPECT_EQ((*refused)->state, ChainRow::State::kHeaderOnly);
  auto withdrawals = a.replica().ChainWithdrawalsAfter(away_id, 1);
  ASSERT_TRUE(withdrawals.ok()) << withdrawals.status();
  EXPECT_EQ(withdrawals->size(), 1u);

  node::SyncReport r = MustSync(a);
  EXPECT_TRUE(r.hub_went_back);
  EXPECT_EQ(r.relayed, ys.size()) << (r.relay_notes.empty() ? "" : r.relay_notes.front());
  EXPECT_EQ(r.relayed_withdrawn, 2u) << "the refused header and the withdrawal";
  EXPECT_EQ(AtHub(ys), ys.size());
  EXPECT_EQ(HubCount(absl::StrCat("SELECT count(*) FROM hub_chain WHERE lower(hex(device)) = "
                                  "replace('", away.replica().device_id().ToString(),
                                  "', '-', '') AND position = -108")),
            1)
      << "away's edit, its header relayed (RELAYED) and withdrawn";
  auto& fresh = AddNode("LC");
  ExpectHealed(fresh, ys, x);
  // The author comes back: the hub holds all it sent; its new work goes on.
  ys.push_back(NewCase(away.replica(), "LC", "Hà Thị Sáu"));
  node::SyncReport back = MustSync(away);
  EXPECT_FALSE(back.own_resent);
  EXPECT_EQ(back.own_refused_resent, 0u);
  EXPECT_EQ(back.pushed, 1u);
  EXPECT_EQ(AtHub(ys), ys.size());
  ExpectHealed(a, ys, x);
  ExpectHealed(fresh, ys, x);
}

// A hub (or link) that fails the first push `match` picks with `error`,
// applying nothing of it.
class HubFailingOnePush : public sync::Transport {
 public:
  HubFailingOnePush(sync::Transport& real, std::function<bool(const sync::PushRequest&)> match,
                    absl::Status error)
      : real_(real), match_(std::move(match)), error_(std::move(error)) {}
  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override {
    return real_.Hello(req);
  }
  absl::StatusOr<sync::EnrollReply> Enroll(const sync::EnrollRequest& req) override {
    return real_.Enroll(req);
  }
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    if (!failed_ && match_(req)) {
      failed_ = true;
      return error_;
    }
    return real_.Push(req);
  }
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override {
    return real_.Pull(req, on_chunk);
  }
  void Reset() override { real_.Reset(); }
  bool failed() const { return failed_; }

 private:
  sync::Transport& real_;
  std::function<bool(const sync::PushRequest&)> match_;
  absl::Status error_;
  bool failed_ = false;
};

// The author's withdrawal reached the hub after the backup (its first push
// was cut), with a case after it, and the author does not come back: the
// colleague, which holds both, relays them. The hub fails the first relay
// of the withdrawal with an error of its own (a busy database), not a
// verdict on the entry; the next pass relays it and the case after it, so
// that a new laptop gets every case. Before, that one failure ended the
// relay of the author for good (its cursor -1): the hub never got the
// author's work after the withdrawal unless the author came back (attack
// review 59, MEDIUM 3).
void HubRestoreSetAsideTest::ColleagueRelaysWithdrawnWorkAfterOneFailure() {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);
  MustSync(a);
  SetField(away.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t edit = LastSeq(away);
  std::vector<RowId> ys;
  ys.push_back(NewCase(away.replica(), "LC", "Lò Thị Mai"));
  DeleteAndCollect(a, x);
  ASSERT_EQ(MustSync(away).set_aside, 1u);
  ASSERT_TRUE(node::ops::DiscardSetAside(away.replica(), edit, 1).ok());
  HubFailingOnePush cut(
      away.client().transport(),
      [](const sync::PushRequest& r) { return !r.withdrawals.empty(); },
      absl::UnavailableError("the link dropped the connection"));
  EXPECT_FALSE(sync::RunPass(cut, away.replica(), *away.keys(), away.credential(), {}).ok());
  ASSERT_TRUE(cut.failed());
  const std::string backup = CopyHubFile("backup.db");  // away's chain up to its withdrawal
  const uint64_t withdrawal = LastSeq(away);  // written, not pushed
  ASSERT_EQ(withdrawal, edit + 2);
  ys.push_back(NewCase(away.replica(), "LC", "Vàng Thị Sua"));
  EXPECT_EQ(MustSync(away).withdrawals_pushed, 1u);
  MustSync(a);
  const DeviceId away_id = away.replica().device_id();
  auto held = a.replica().ChainEntryAt(away_id, withdrawal);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_TRUE(held->has_value()) << "the colleague holds no withdrawal of away's";
  PutHubFileBack(backup);
  ASSERT_EQ(AtHub(ys), 1u);

  HubFailingOnePush failing(
      a.client().transport(),
      [](const sync::PushRequest& r) {
        return r.relayed_author && (!r.refused.empty() || !r.withdrawals.empty());
      },
      absl::InternalError("database is locked"));
  auto r = sync::RunPass(failing, a.replica(), *a.keys(), a.credential(), {});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(failing.failed()) << "the relay never reached away's withdrawal";
  EXPECT_TRUE(r->hub_went_back);
  ASSERT_FALSE(r->relay_notes.empty());
  EXPECT_NE(r->relay_notes.front().find("database is locked"), std::string::npos)
      << r->relay_notes.front();
  auto cursor = a.replica().GetCursor(sync::RelayCursor(away_id));
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, static_cast<int64_t>(withdrawal) - 1)
      << "away's relay ended on an error that was not the hub's verdict";

  node::SyncReport again = MustSync(a);
  for (const std::string& n : again.relay_notes) ADD_FAILURE() << n;
  EXPECT_EQ(again.relayed_withdrawn, 1u);
  EXPECT_EQ(again.relayed, 1u);
  EXPECT_EQ(AtHub(ys), ys.size()) << "of away's cases";
  EXPECT_EQ(HubCount(absl::StrCat("SELECT count(*) FROM hub_chain WHERE lower(hex(device)) = "
                                  "replace('", away_id.ToString(),
                                  "', '-', '') AND position = 0")),
            1)
      << "away's withdrawal, relayed";
  auto& fresh = AddNode("LC");
  ExpectHealed(fresh, ys, x);
  // The author comes back: the hub holds all it sent; its new work goes on.
  ys.push_back(NewCase(away.replica(), "LC", "Hà Thị Sáu"));
  node::SyncReport back = MustSync(away);
  EXPECT_FALSE(back.own_resent);
  EXPECT_EQ(back.pushed, 1u);
  EXPECT_EQ(AtHub(ys), ys.size());
  ExpectHealed(a, ys, x);
}

TEST_F(HubRestoreSetAsideTest, AColleagueRelaysWithdrawnWorkAgainAfterTheHubFailedItOnce) {
  ColleagueRelaysWithdrawnWorkAfterOneFailure();
}
TEST_F(HubRestoreSetAsideProcessTest, AColleagueRelaysWithdrawnWorkAgainAfterTheHubFailedItOnce) {
  ColleagueRelaysWithdrawnWorkAfterOneFailure();
}

// The machine's clock, moved by an offset a test sets.
class OffsetClock final : public ClockSource {
 public:
  int64_t NowMillis() override { return SystemClock::Get()->NowMillis() + offset_.load(); }
  void set_offset(int64_t millis) { offset_.store(millis); }

 private:
  std::atomic<int64_t> offset_{0};
};

// Work re-dated after a clock ahead (a withdrawal of the refused seq, the
// same changes under a new one), then the hub put back from before it: the
// laptop sends the refused original's header, the withdrawal and the
// rewrite, and no laptop sees two versions of its chain.
TEST_F(HubRestoreSetAsideTest, ReDatedWorkInTheLostRangeIsSentAgainWithoutAFork) {
  OffsetClock clock;
  auto& colleague = AddNode("LC");
  auto& laptop = AddNode("LC", "", &clock);
  MustSync(colleague);
  MustSync(laptop);
  const std::string backup = CopyHubFile("backup.db");
  clock.set_offset(int64_t{24} * 3600 * 1000);
  const RowId mine = NewCase(laptop.replica(), "LC", "Lò Thị Mai", "bị lừa sang biên giới");
  (void)laptop.Sync();
  clock.set_offset(0);
  node::SyncReport redated = MustSync(laptop);
  ASSERT_EQ(redated.redated, 1u) << redated.redate_note;
  const RowId later = NewCase(laptop.replica(), "LC", "Đỗ Thị Lan");
  MustSync(laptop);
  node::SyncReport seen = MustSync(colleague);
  ASSERT_TRUE(Holds(colleague, "cases", mine));
  ASSERT_EQ(seen.chain.evidence, 0u);
  PutHubFileBack(backup);

  node::SyncReport r = MustSync(laptop);
  EXPECT_TRUE(r.own_resent);
  EXPECT_EQ(r.own_refused_resent, 1u);
  EXPECT_EQ(r.withdrawals_pushed, 1u);
  EXPECT_EQ(AtHub({mine, later}), 2u);
  const RowId after = NewCase(laptop.replica(), "LC", "Hà Thị Sáu");
  MustSync(laptop);
  EXPECT_EQ(AtHub({mine, later, after}), 3u);
  node::SyncReport c = MustSync(colleague);
  EXPECT_TRUE(Holds(colleague, "cases", after));
  EXPECT_EQ(c.chain.evidence, 0u);
  EXPECT_EQ(c.chain.held, 0u);
  auto& fresh = AddNode("LC");
  node::SyncReport f = MustSync(fresh);
  for (const RowId& k : {mine, later, after}) EXPECT_TRUE(Holds(fresh, "cases", k));
  EXPECT_EQ(f.chain.evidence, 0u);
  EXPECT_EQ(f.chain.held, 0u);
  OpenedField narrative = fresh.Read("cases", mine, "narrative");
  EXPECT_EQ(narrative.value, Value::Text("bị lừa sang biên giới")) << narrative.problem;
}

// A hub that claims it lost a laptop's commits (Hello's `own` lower than
// what it acknowledged) and then refuses one of them when it is sent again.
class LyingRestoredHub : public sync::ForwardingTransport {
 public:
  LyingRestoredHub(sync::Transport& real, uint64_t refuse)
      : ForwardingTransport(real), refuse_(refuse) {}
  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override {
    absl::StatusOr<sync::HelloReply> out = ForwardingTransport::Hello(req);
    if (out.ok() && out->own) {
      out->own->acknowledged_seq = 0;
      out->own->accounted_seq = 0;
    }
    return out;
  }
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    absl::StatusOr<sync::PushOutcome> out = ForwardingTransport::Push(req);
    if (!out.ok()) return out;
    for (const sync::PushedCommit& c : req.commits) {
      auto d = DecodeCommit(c.canonical);
      if (d.ok() && d->seq == refuse_) {
        out->refusals.push_back({refuse_, sync::RefusalCode::kRowCollected, "lost, then refused",
                                 0});
      }
    }
    return out;
  }

 private:
  const uint64_t refuse_;
};

// The commit the colleague applied is not set aside on such a hub's word:
// it is said, kept to be sent again, and the next pass with an honest hub
// sends it as a duplicate. Before, it was set aside.
TEST_F(HubRestoreSetAsideTest, ACommitTheHubAcknowledgedIsNotSetAsideWhenItClaimsItLostIt) {
  auto& n = AddNode("LC");
  auto& colleague = AddNode("LC");
  const RowId first = NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  const uint64_t seq = LastSeq(n);
  const RowId second = NewCase(n.replica(), "LC", "Lò Thị Mai");
  MustSync(n);
  MustSync(colleague);
  ASSERT_TRUE(Holds(colleague, "cases", first));

  LyingRestoredHub lying(n.client().transport(), seq);
  sync::PassOptions o;
  auto r = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->own_resent);
  EXPECT_EQ(r->set_aside, 0u);
  EXPECT_EQ(r->refused_below_acknowledged, 1u);
  EXPECT_TRUE(Mentions(*r, "acknowledged stored")) << "the hub's claim is not said";
  auto listed = node::ops::ListSetAside(n.replica(), true);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty()) << "set aside: seq " << listed->front().seq;
  // With the hub as it is: nothing is refused, nothing set aside.
  node::SyncReport honest = MustSync(n);
  EXPECT_EQ(honest.set_aside, 0u);
  ASSERT_TRUE(node::ops::ListSetAside(n.replica(), true).ok());
  EXPECT_TRUE(node::ops::ListSetAside(n.replica(), true)->empty());
  EXPECT_EQ(AtHub({first, second}), 2u);
}

// An honest hub put back from a backup taken before a laptop's edit, which
// it had acknowledged; at the restored hub a colleague deleted the edited
// case and it was collected, so the hub now refuses the edit for good
// (ROW_COLLECTED). Twice it is not believed (a hub may lie about what it
// lost); the third pass in a row sets it aside as any refused commit, with
// the hub's earlier acknowledgement on record (trust evidence, and in the
// item the officer reads), so that the laptop's later work is no longer
// held back and the officer resolves it. Before, it was refused at every
// pass for good: the push cursor never passed it, the laptop's later
// commits went again at every pass, and set-aside work after it was never
// withdrawn (attack review 59, MEDIUM 4).
TEST_F(HubRestoreSetAsideTest, AnEditTheHubAcknowledgedThenRefusesAfterARestoreIsSetAsideAtLast) {
  auto& a = AddNode("LC");
  auto& n = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(n);
  const std::string backup = CopyHubFile("backup.db");
  SetField(n.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t edit = LastSeq(n);
  const RowId later = NewCase(n.replica(), "LC", "Lò Thị Mai");
  node::SyncReport acked = MustSync(n);
  ASSERT_EQ(acked.pushed, 2u);
  PutHubFileBack(backup);
  DeleteAndCollect(a, x);

  for (int pass = 1; pass <= static_cast<int>(sync::kDoubtsBeforeSetAside); ++pass) {
    auto r = n.Sync();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->set_aside, 0u) << "pass " << pass << ": set aside on the hub's word at once";
    EXPECT_EQ(r->refused_below_acknowledged, 1u) << "pass " << pass;
    EXPECT_FALSE(r->push_refused.ok()) << "pass " << pass;
    EXPECT_TRUE(Mentions(*r, "acknowledged stored")) << "pass " << pass;
  }
  auto third = n.Sync();
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->set_aside, 1u) << "still held back after "
                                  << sync::kDoubtsBeforeSetAside + 1 << " passes";
  EXPECT_TRUE(third->push_refused.ok()) << third->push_refused;
  EXPECT_EQ(third->chain.new_evidence, 1u);
  auto listed = node::ops::ListSetAside(n.replica(), true);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().seq, edit);
  EXPECT_NE(listed->front().reason.find("acknowledged"), std::string::npos)
      << "the officer is not told the hub had acknowledged it: " << listed->front().reason;
  auto evidence = n.replica().Evidence();
  ASSERT_TRUE(evidence.ok()) << evidence.status();
  ASSERT_EQ(evidence->size(), 1u);
  EXPECT_EQ(evidence->front().kind,
            static_cast<int>(sync::ChainEvidence::Kind::kHubRefusedAcknowledged));
  EXPECT_EQ(evidence->front().seq, edit);
  EXPECT_FALSE(evidence->front().held_header.empty()) << "the signed entry the hub took";
  EXPECT_EQ(AtHub({later}), 1u);

  // The officer gives it up: the withdrawal is taken, work goes on, and
  // nothing is sent again.
  ASSERT_TRUE(node::ops::DiscardSetAside(n.replica(), edit, 1).ok());
  const RowId after = NewCase(n.replica(), "LC", "Vàng Thị Sua");
  node::SyncReport w = MustSync(n);
  EXPECT_EQ(w.withdrawals_pushed, 1u);
  EXPECT_EQ(w.pushed, 1u);
  EXPECT_EQ(w.push_duplicates, 0u) << "commits after the refused one sent again";
  EXPECT_EQ(AtHub({later, after}), 2u);
  node::SyncReport c = MustSync(a);
  EXPECT_TRUE(Holds(a, "cases", later));
  EXPECT_TRUE(Holds(a, "cases", after));
  EXPECT_EQ(c.chain.held, 0u);
}

// A hub that acknowledges a laptop's withdrawal past the withdrawal (seqs
// the laptop has not sent), and from then on says at hello that it holds
// them.
class HubAckingAheadOfAWithdrawal : public sync::ForwardingTransport {
 public:
  using ForwardingTransport::ForwardingTransport;
  absl::StatusOr<sync::HelloReply> Hello(const sync::HelloRequest& req) override {
    absl::StatusOr<sync::HelloReply> out = ForwardingTransport::Hello(req);
    if (out.ok() && out->own && ahead_) out->own->acknowledged_seq += 5;
    return out;
  }
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    absl::StatusOr<sync::PushOutcome> out = ForwardingTransport::Push(req);
    if (out.ok() && !req.withdrawals.empty()) {
      out->acknowledged_seq += 5;
      ahead_ = true;
    }
    return out;
  }

 private:
  bool ahead_ = false;
};

// Such a hub does not make the laptop skip its commits after the
// withdrawal: its push cursor moves no further than the withdrawal, so the
// next commit is sent (and a hub that then drops it is what colleagues'
// statements catch). Before, the cursor took the hub's number: the laptop
// never sent the commits it skipped (session 14's note).
TEST_F(HubRestoreSetAsideTest, AWithdrawalAcknowledgedPastItselfSkipsNoLaterCommit) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);
  SetField(away.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t edit = LastSeq(away);
  DeleteAndCollect(a, x);
  ASSERT_EQ(MustSync(away).set_aside, 1u);
  ASSERT_TRUE(node::ops::DiscardSetAside(away.replica(), edit, 1).ok());
  HubAckingAheadOfAWithdrawal ahead(away.client().transport());
  auto w = sync::RunPass(ahead, away.replica(), *away.keys(), away.credential(), {});
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->withdrawals_pushed, 1u);
  const RowId later = NewCase(away.replica(), "LC", "Lò Thị Mai");
  auto next = sync::RunPass(ahead, away.replica(), *away.keys(), away.credential(), {});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->pushed, 1u);
  EXPECT_EQ(AtHub({later}), 1u) << "the hub's acknowledgement skipped the laptop's next commit";
}

// The hub's "waits for commits it does not hold" is a mark on the status
// that crosses the wire, not its words.
TEST(WaitsForLostCommitsTest, TheMarkCrossesTheWireWhateverTheWords) {
  const absl::Status marked = sync::WaitsForLostCommitsError("in other words");
  EXPECT_TRUE(sync::WaitsForLostCommits(marked));
  EXPECT_TRUE(sync::WaitsForLostCommits(wire::FromGrpc(wire::ToGrpc(marked))));
  EXPECT_FALSE(sync::WaitsForLostCommits(
      wire::FromGrpc(wire::ToGrpc(absl::FailedPreconditionError("in other words")))));
  // A hub of session 13 said it in words only.
  EXPECT_TRUE(sync::WaitsForLostCommits(absl::FailedPreconditionError(
      "the hub cannot store commit x: it depends on commits the hub does not hold")));
}

}  // namespace
}  // namespace fieldsync::testing
