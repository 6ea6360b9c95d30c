// Refused work never blocks the queue (issue 13, story 5; docs/PROTOCOL.md,
// "Refusals per commit and set-aside work"): a laptop away while the hub
// collected a case it had edited has that one edit refused for good; it is
// set aside with what depends on it, and every other later commit of the
// laptop still reaches the hub and its colleagues, whose chain checks see
// no gap, no fork and no held work.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "crypto/commit_header.h"
#include "fieldsync/v1/sync.grpc.pb.h"
#include "node/ops/set_aside.h"
#include "proto/wire.h"
#include "support/rewriting_hub.h"
#include "support/sync_fixture.h"
#include "sync/pass.h"
#include "sync/report.h"

namespace fieldsync::testing {
namespace {

void Delete(Replica& r, const std::string& table, const RowId& row) {
  LocalTxn t;
  t.Delete(table, row);
  auto c = r.Write(t);
  ASSERT_TRUE(c.ok()) << c.status();
}

class SetAsideTest : public SyncTest {
 protected:
  // `a` deletes `x`, both of its syncs acknowledge the delete, and the
  // administrator collects it with every other laptop counted as stale.
  void DeleteAndCollect(harness::LocalNode& a, const RowId& x) {
    Delete(a.replica(), "cases", x);
    MustSync(a);
    MustSync(a);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto gc = hub_->Admin({"gc", "--min-age", "0s", "--stale-after", "10ms"});
    ASSERT_EQ(gc.exit_code, 0) << gc.err;
    ASSERT_NE(gc.out.find("collected 1 tombstones"), std::string::npos) << gc.out;
  }

  // The hub's answer to `sql` (one integer), read beside the running hub.
  int64_t HubQuery(const std::string& sql) {
    auto db = sqlite::Db::Open(hub_->data_dir() + "/hub.db", "");
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return -1;
    auto st = (*db)->Prepared(sql);
    EXPECT_TRUE(st.ok()) << st.status();
    if (!st.ok()) return -1;
    auto r = (*st)->Step();
    return r.ok() && *r ? (*st)->ColumnInt(0) : -1;
  }

  // The SET ASIDE count fieldhub node list --json gives `n`.
  int64_t HubSetAside(harness::LocalNode& n) {
    auto list = hub_->Admin({"node", "list", "--json"});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    const std::string dev = absl::StrCat("\"device\": \"", n.replica().device_id().ToString());
    const size_t at = list.out.find(dev);
    if (at == std::string::npos) return -1;
    const size_t k = list.out.find("\"set_aside\": ", at);
    if (k == std::string::npos) return -1;
    return std::stoll(list.out.substr(k + 13));
  }

  std::unique_ptr<v1::Sync::Stub> Stub() {
    std::ifstream in(pki_->ca());
    std::stringstream ca;
    ca << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca.str();
    return v1::Sync::NewStub(grpc::CreateChannel(hub_->address(), grpc::SslCredentials(ssl)));
  }

  // As the laptop of `c` authenticates its calls (its proofs).
  void Auth(grpc::ClientContext* ctx, const node::Credential& c) {
    for (const auto& [key, value] : LaptopCallMetadata(c)) ctx->AddMetadata(key, value);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  }

  // How many of `rows` the hub holds.
  size_t AtHub(const std::vector<RowId>& rows) {
    auto hub = OpenHubReplica();
    size_t n = 0;
    for (const RowId& r : rows) {
      auto row = hub->Get("cases", r);
      if (row.ok() && row->has_value()) ++n;
    }
    return n;
  }
};

// SetAsideTest against a `fieldhub serve` process: the tests that call the hub over
// gRPC themselves, start fieldnode, or kill the hub.
class SetAsideProcessTest : public SetAsideTest {
 protected:
  bool NeedsHubProcess() const override { return true; }
};

TEST_F(SetAsideTest, ALaptopBackAfterGcHasItsEditOfTheCollectedCaseSetAsideAndItsLaterWorkArrives) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);
  MustSync(a);
  // Away from the network: the laptop edits x, then opens five cases.
  SetField(away.replica(), "cases", x, "status", Value::Text("assisting"));
  std::vector<RowId> later;
  for (int i = 0; i < 5; ++i) {
    later.push_back(NewCase(away.replica(), "LC", absl::StrCat("Lò Thị Mai ", i)));
  }
  DeleteAndCollect(a, x);

  // Back: the edit of x cannot be stored; the five cases are.
  auto r = away.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->push_refused.ok()) << r->push_refused;
  EXPECT_EQ(AtHub(later), later.size()) << "of the " << later.size()
                                        << " cases opened after the edit";
  // Nothing waits any more: a second pass pushes nothing.
  auto again = away.Sync();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->push_refused.ok()) << again->push_refused;
  EXPECT_EQ(again->pushed, 0u);
  // The colleague receives them, with no gap, fork or held work in the
  // laptop's chain.
  const node::SyncReport ra = MustSync(a);
  for (const RowId& c : later) EXPECT_TRUE(Holds(a, "cases", c));
  EXPECT_FALSE(Holds(a, "cases", x));
  EXPECT_EQ(ra.chain.held, 0u);
  EXPECT_EQ(ra.chain.evidence, 0u);
}

// What each laptop shows of it: the refused edit listed and discarded; the
// hub counts it until then; the withdrawal reaches the colleague, who
// holds nothing back and keeps no evidence.
TEST_F(SetAsideTest, TheRefusedEditIsListedCountedAtTheHubAndDiscardedByAWithdrawal) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);
  MustSync(a);
  SetField(away.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t edit = LastSeq(away);
  const RowId y = NewCase(away.replica(), "LC", "Lò Thị Mai");
  DeleteAndCollect(a, x);

  auto r = away.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->set_aside, 1u);
  EXPECT_NE(r->set_aside_reason.find("collected"), std::string::npos) << r->set_aside_reason;
  auto listed = node::ops::ListSetAside(away.replica(), false);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().seq, edit);
  EXPECT_EQ(listed->front().code, "ROW_COLLECTED");
  EXPECT_EQ(HubSetAside(away), 1);
  // The officer sees it where the laptop says what waits.
  const std::string fieldnode = harness::BinDir() + "/fieldnode";
  harness::CommandResult status = harness::Run({fieldnode, "status", "--data-dir", away.dir()});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("1 change set aside: "), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("run fieldnode set-aside list"), std::string::npos) << status.out;
  harness::CommandResult list =
      harness::Run({fieldnode, "set-aside", "list", "--data-dir", away.dir()});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(absl::StrCat(edit, "  ")), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("ROW_COLLECTED"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(absl::StrCat("writes cases ", x.ToString())), std::string::npos)
      << list.out;
  // The colleague places the refused commit's header alone: no gap.
  const node::SyncReport before = MustSync(a);
  EXPECT_TRUE(Holds(a, "cases", y));
  EXPECT_EQ(before.chain.held, 0u);
  EXPECT_EQ(before.chain.evidence, 0u);

  // An officer discards it; the next sync withdraws it.
  harness::CommandResult discard = harness::Run(
      {fieldnode, "set-aside", "discard", absl::StrCat(edit), "--data-dir", away.dir()});
  EXPECT_EQ(discard.exit_code, 0) << discard.err;
  EXPECT_NE(discard.out.find("discarded"), std::string::npos) << discard.out;
  EXPECT_EQ(node::ops::DiscardSetAside(away.replica(), edit, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(node::ops::DiscardSetAside(away.replica(), 999, 1).status().code(),
            absl::StatusCode::kNotFound);
  const node::SyncReport w = MustSync(away);
  EXPECT_EQ(w.withdrawals_pushed, 1u);
  EXPECT_EQ(w.set_aside_open, 0u);
  EXPECT_EQ(HubSetAside(away), 0);
  EXPECT_EQ(HubQuery("SELECT count(*) FROM hub_chain WHERE position = 0"), 1) << "the withdrawal";
  // Work goes on after it, and reaches the colleague, with the withdrawal.
  const RowId z = NewCase(away.replica(), "LC", "Hà Thị Sáu");
  EXPECT_EQ(LastSeq(away), edit + 3) << "the withdrawal took a seq";
  MustSync(away);
  EXPECT_EQ(AtHub({y, z}), 2u);
  const node::SyncReport after = MustSync(a);
  EXPECT_TRUE(Holds(a, "cases", z));
  EXPECT_EQ(after.chain.held, 0u);
  EXPECT_EQ(after.chain.evidence, 0u);
  auto heads = a.replica().ChainHeads();
  ASSERT_TRUE(heads.ok());
  uint64_t away_head = 0;
  for (const ChainRow& h : *heads) {
    if (h.device == away.replica().device_id()) away_head = h.seq;
  }
  EXPECT_EQ(away_head, LastSeq(away)) << "the colleague's chain of the laptop reaches its head";
  // And the next pull goes on from there.
  const RowId later = NewCase(away.replica(), "LC", "Vàng Thị Dợ");
  MustSync(away);
  const node::SyncReport next = MustSync(a);
  EXPECT_TRUE(Holds(a, "cases", later));
  EXPECT_EQ(next.chain.held, 0u);
  EXPECT_EQ(next.chain.evidence, 0u);
  auto all = node::ops::ListSetAside(away.replica(), true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_TRUE(all->front().discarded);
  EXPECT_TRUE(all->front().withdrawn);
}

// A change that needs the refused one (an edit of a case the refused
// commit created) is set aside with it; an unrelated later one is not.
TEST_F(SetAsideTest, ACommitThatNeedsTheRefusedOneIsSetAsideWithIt) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);
  MustSync(a);
  // One commit edits x and opens case y; the next edits y; the third
  // opens z.
  const RowId person = Id16::NewRandom();
  const RowId y = Id16::NewRandom();
  {
    LocalTxn t;
    t.Set("cases", x, {{"status", Value::Text("assisting")}});
    t.Create("persons", person, {{"full_name", Value::Text("Lò Thị Mai")},
                                 {"province", Value::Text("LC")},
                                 {"sex", Value::Text("female")}});
    t.Create("cases", y, {{"case_code", Value::Text("LC-follow")},
                          {"person_id", Value::Bytes(std::string(person.view()))},
                          {"province", Value::Text("LC")},
                          {"status", Value::Text("intake")},
                          {"narrative", Value::Text("đi theo")}});
    ASSERT_TRUE(away.replica().Write(t).ok());
  }
  const uint64_t parent = LastSeq(away);
  SetField(away.replica(), "cases", y, "status", Value::Text("verifying"));
  const uint64_t child = LastSeq(away);
  const RowId z = NewCase(away.replica(), "LC", "Hà Thị Sáu");
  DeleteAndCollect(a, x);

  auto r = away.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->push_refused.ok()) << r->push_refused;
  EXPECT_EQ(r->set_aside, 2u);
  auto listed = node::ops::ListSetAside(away.replica(), false);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ(listed->at(0).seq, parent);
  EXPECT_EQ(listed->at(0).code, "ROW_COLLECTED");
  EXPECT_EQ(listed->at(1).seq, child);
  EXPECT_EQ(listed->at(1).code, "DEPENDS_ON_REFUSED");
  EXPECT_EQ(listed->at(1).depends_on, parent);
  EXPECT_EQ(AtHub({y}), 0u);
  EXPECT_EQ(AtHub({z}), 1u);
  EXPECT_EQ(HubSetAside(away), 2);
  const node::SyncReport ra = MustSync(a);
  EXPECT_TRUE(Holds(a, "cases", z));
  EXPECT_FALSE(Holds(a, "cases", y));
  EXPECT_EQ(ra.chain.held, 0u);
  EXPECT_EQ(ra.chain.evidence, 0u);
  // Both discarded: one withdrawal passes over both; the colleague, the
  // laptop's later work, and nothing held.
  ASSERT_TRUE(node::ops::DiscardSetAside(away.replica(), parent, 1).ok());
  ASSERT_TRUE(node::ops::DiscardSetAside(away.replica(), child, 1).ok());
  EXPECT_EQ(MustSync(away).withdrawals_pushed, 1u);
  EXPECT_EQ(HubSetAside(away), 0);
  const RowId after = NewCase(away.replica(), "LC", "Vàng Thị Dợ");
  MustSync(away);
  const node::SyncReport rb = MustSync(a);
  EXPECT_TRUE(Holds(a, "cases", after));
  EXPECT_EQ(rb.chain.held, 0u);
  EXPECT_EQ(rb.chain.evidence, 0u);
}

// A version 2 push keeps version 2's rule: the refusal refuses the batch.
TEST_F(SetAsideProcessTest, AVersion2PushIsStillRefusedWhole) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);
  MustSync(a);
  SetField(away.replica(), "cases", x, "status", Value::Text("assisting"));
  NewCase(away.replica(), "LC", "Lò Thị Mai");
  DeleteAndCollect(a, x);
  auto commits = away.replica().LocalCommitsAfter(0, 100);
  ASSERT_TRUE(commits.ok());
  v1::PushRequest req;
  req.set_protocol_version(v1::PROTOCOL_VERSION_2);
  for (const Commit& c : *commits) {
    auto* e = req.add_commits();
    e->set_canonical(EncodeCommit(c));
    e->set_signature(c.signature);
  }
  const int64_t chain = HubQuery("SELECT count(*) FROM hub_chain");
  grpc::ClientContext ctx;
  Auth(&ctx, away.credential());
  v1::PushResponse resp;
  grpc::Status s = Stub()->Push(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("Nothing of the batch was stored"), std::string::npos);
  EXPECT_EQ(HubQuery("SELECT count(*) FROM hub_chain"), chain);
  EXPECT_EQ(HubSetAside(away), 0);
}

// A withdrawal that passes over a commit the hub stored does not withdraw
// it: the commit stays stored, named in a WITHDRAWN_STORED refusal
// (depends_on), and the withdrawal is kept in the device's chain so that its
// later work continues (session 16, attack review 66, MEDIUM 2; before,
// nothing was stored and the author could push nothing after it, for good).
TEST_F(SetAsideProcessTest, TheHubKeepsAWithdrawalOfAStoredCommitButNotAsOne) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  MustSync(n);
  const DeviceId me = n.replica().device_id();
  const uint64_t head = LastSeq(n);
  ASSERT_GE(head, 2u);
  auto last = n.replica().ChainEntryAt(me, head);
  auto before = n.replica().ChainEntryAt(me, head - 1);
  ASSERT_TRUE(last.ok() && last->has_value() && before.ok() && before->has_value());
  crypto::WithdrawnRange range;
  range.first = head;
  range.last = head;
  range.link_before = (*before)->link;
  range.link_last = (*last)->link;
  auto h = crypto::WithdrawalHeader(me, head + 1, NowHlc().packed(), (*last)->link, {range});
  ASSERT_TRUE(h.ok()) << h.status();
  auto bytes = crypto::EncodeCommitHeader(*h);
  ASSERT_TRUE(bytes.ok());
  auto sig = crypto::SignCommitHeader(n.identity(), *bytes);
  ASSERT_TRUE(sig.ok());
  v1::PushRequest req;
  req.set_protocol_version(v1::PROTOCOL_VERSION_3);
  auto* w = req.add_withdrawals();
  w->set_header(*bytes);
  w->set_signature(*sig);
  const int64_t chain = HubQuery("SELECT count(*) FROM hub_chain");
  grpc::ClientContext ctx;
  Auth(&ctx, n.credential());
  v1::PushResponse resp;
  grpc::Status s = Stub()->Push(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.refusals_size(), 1);
  EXPECT_EQ(resp.refusals(0).code(), v1::REFUSAL_WITHDRAWN_STORED);
  EXPECT_EQ(resp.refusals(0).seq(), head + 1);
  EXPECT_EQ(resp.refusals(0).depends_on(), head) << "the stored commit it passes over";
  EXPECT_NE(resp.refusals(0).reason().find("stays stored"), std::string::npos);
  EXPECT_EQ(resp.accounted_seq(), head + 1);
  EXPECT_EQ(HubQuery("SELECT count(*) FROM hub_chain"), chain + 1) << "the withdrawal kept";
  EXPECT_EQ(HubQuery(absl::StrCat("SELECT count(*) FROM hub_chain WHERE seq = ", head,
                                  " AND position > 0")),
            1)
      << "the stored commit withdrawn";
  // Sent again (its answer lost): the same answer.
  grpc::ClientContext again_ctx;
  Auth(&again_ctx, n.credential());
  v1::PushResponse again;
  s = Stub()->Push(&again_ctx, req, &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(again.refusals_size(), 1);
  EXPECT_EQ(again.refusals(0).depends_on(), head);
  EXPECT_EQ(HubQuery("SELECT count(*) FROM hub_chain"), chain + 1);
}

// A laptop whose chain has not begun (its commits written before its build
// signed headers: upgraded after months away, nothing written since) has
// its edit of a collected case refused. The hub keeps no record of a
// refusal without a header, so the reply is the only account of it: when
// that reply is lost and the laptop pushes again, the edit must not be
// acknowledged as delivered (review of session 11, HIGH 2: it was, as a
// duplicate, and the change was lost without a word).
TEST_F(SetAsideTest, ARefusedCommitWithoutAHeaderIsNotAcknowledgedWhenItsPushIsRepeated) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);
  MustSync(a);
  CommitSecurity old = away.keys()->Security();
  old.sign_header = nullptr;  // a build before headers
  away.replica().SetSecurity(old);
  SetField(away.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t edit = LastSeq(away);
  const RowId y = NewCase(away.replica(), "LC", "Lò Thị Mai");
  away.replica().SetSecurity(away.keys()->Security());
  auto chain = away.replica().OwnChainAfter(0, 10);
  ASSERT_TRUE(chain.ok() && chain->empty()) << "the laptop's chain began";
  DeleteAndCollect(a, x);

  // A first push of both commits, whose reply never reaches the laptop.
  auto commits = away.replica().LocalCommitsAfter(0, 100);
  ASSERT_TRUE(commits.ok());
  v1::PushRequest req;
  req.set_protocol_version(v1::PROTOCOL_VERSION_3);
  for (const Commit& c : *commits) {
    ASSERT_TRUE(c.header.empty());
    auto* e = req.add_commits();
    e->set_canonical(EncodeCommit(c));
    e->set_signature(c.signature);
  }
  {
    grpc::ClientContext ctx;
    Auth(&ctx, away.credential());
    v1::PushResponse lost;
    (void)Stub()->Push(&ctx, req, &lost);
  }
  // The laptop pushes again: the edit is refused (or set aside), never
  // taken as stored.
  auto r = away.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  auto listed = node::ops::ListSetAside(away.replica(), false);
  ASSERT_TRUE(listed.ok()) << listed.status();
  auto pushed = away.replica().GetCursor(sync::kPushedCursor);
  ASSERT_TRUE(pushed.ok());
  EXPECT_TRUE(!r->push_refused.ok() || !listed->empty())
      << "the edit " << edit << " was acknowledged as delivered (pushed up to " << *pushed
      << "): the hub never stored it and the laptop will never send it again";

  // The sync began the laptop's chain (headers for its earlier commits,
  // as its next write would): the edit is refused alone and set aside, the
  // case opened after it arrives.
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().seq, edit);
  EXPECT_EQ(AtHub({y}), 1u);
  const RowId z = NewCase(away.replica(), "LC", "Hà Thị Sáu");
  auto again = away.Sync();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->push_refused.ok()) << again->push_refused;
  EXPECT_EQ(again->set_aside, 0u);
  EXPECT_EQ(AtHub({y, z}), 2u);
}

// A hub's push reply is believed only for commits of that push it
// acknowledged: a refusal naming a commit it stored at an earlier push (a
// replayed reply, or a hub that would have the laptop withdraw what it
// relays) or one beyond what it acknowledged sets nothing aside (review of
// session 11, HIGH 1).
TEST_F(SetAsideTest, ARefusalNamingACommitNotOfThePushIsNotBelieved) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(n);
  const uint64_t stored = LastSeq(n);
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  RewritingPushHub lying(n.client().transport(),
                         [&](const sync::PushRequest& req, sync::PushOutcome& out) {
                           if (req.commits.empty()) return;
                           out.refusals.push_back({stored, sync::RefusalCode::kRowCollected,
                                                   "replayed", 0});
                           out.refusals.push_back({out.acknowledged_seq + 3,
                                                   sync::RefusalCode::kRule, "beyond", 0});
                         });
  sync::PassOptions o;
  auto r = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->set_aside, 0u);
  auto listed = node::ops::ListSetAside(n.replica(), true);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty()) << "set aside: seq " << listed->front().seq;
}

// A hub that said it refused a commit it stored has the laptop's
// withdrawal of it refused (WITHDRAWN_STORED naming no stored commit, as a
// hub before session 17 answers; a hub since keeps the withdrawal:
// WithdrawnStoredTest). The laptop cannot push past that withdrawal, but
// the pass still pulls: colleagues' work keeps arriving, and the refusal is
// said (review of session 11, HIGH 1: the pass ended before the pull, at
// every pass, for good).
TEST_F(SetAsideTest, ARefusedWithdrawalStillLetsThePassPull) {
  auto& n = AddNode("LC");
  auto& colleague = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(n);
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  const uint64_t edit = LastSeq(n);
  RewritingPushHub lying(n.client().transport(),
                         [&](const sync::PushRequest& req, sync::PushOutcome& out) {
                           for (const auto& c : req.commits) {
                             auto d = DecodeCommit(c.canonical);
                             if (d.ok() && d->seq == edit) {
                               out.refusals.push_back({edit, sync::RefusalCode::kRowCollected,
                                                       "said refused, stored", 0});
                             }
                           }
                           for (const auto& e : req.withdrawals) {
                             auto h = crypto::DecodeCommitHeader(e.header);
                             if (!h.ok()) continue;
                             out.refusals = {{h->seq, sync::RefusalCode::kWithdrawnStored,
                                              "a stored commit cannot be withdrawn", 0}};
                           }
                         });
  sync::PassOptions o;
  auto r = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->set_aside, 1u);
  ASSERT_TRUE(node::ops::DiscardSetAside(n.replica(), edit, 1).ok());
  const RowId theirs = NewCase(colleague.replica(), "LC", "Hà Thị Sáu");
  MustSync(colleague);
  auto w = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), o);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FALSE(w->push_refused.ok()) << "the refused withdrawal is not said";
  EXPECT_NE(w->push_refused.message().find("withdrawal"), std::string::npos) << w->push_refused;
  EXPECT_TRUE(Holds(n, "cases", theirs)) << "the pass ended before the pull";
}

// Commits stored without headers by a push whose answer was lost; the
// laptop's chain begins before its next push (BeginOwnChain), so they come
// again with headers: the hub takes those as the backfill they are and the
// next commit continues its chain (review helper-46, HIGH: "names a
// previous entry the hub lacks" at every pass, and no pull).
TEST_F(SetAsideProcessTest, CommitsStoredWithoutHeadersAndPushedAgainWithThemAreBackfilled) {
  auto& n = AddNode("LC");
  CommitSecurity old = n.keys()->Security();
  old.sign_header = nullptr;
  n.replica().SetSecurity(old);
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  NewCase(n.replica(), "LC", "Lò Thị Mai");
  n.replica().SetSecurity(n.keys()->Security());
  auto commits = n.replica().LocalCommitsAfter(0, 100);
  ASSERT_TRUE(commits.ok());
  ASSERT_GE(commits->size(), 2u);
  v1::PushRequest req;
  req.set_protocol_version(v1::PROTOCOL_VERSION_3);
  for (size_t i = 0; i + 1 < commits->size(); ++i) {
    const Commit& c = (*commits)[i];
    ASSERT_TRUE(c.header.empty());
    auto* e = req.add_commits();
    e->set_canonical(EncodeCommit(c));
    e->set_signature(c.signature);
  }
  {
    grpc::ClientContext ctx;
    Auth(&ctx, n.credential());
    v1::PushResponse lost;
    grpc::Status s = Stub()->Push(&ctx, req, &lost);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  for (int pass = 0; pass < 2; ++pass) {
    auto r = n.Sync();
    ASSERT_TRUE(r.ok()) << "pass " << pass << ": " << r.status();
    EXPECT_TRUE(r->push_refused.ok()) << "pass " << pass << ": " << r->push_refused;
  }
  EXPECT_EQ(HubQuery("SELECT count(*) FROM hub_chain"), static_cast<int64_t>(LastSeq(n)));
}

// A locked laptop (no header signer) whose edit of a collected case goes
// without a header: refused with its batch, and the pass still pulls.
TEST_F(SetAsideTest, ALockedLaptopsRefusedEditWithoutAHeaderStillLetsThePassPull) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);
  MustSync(a);
  CommitSecurity old = away.keys()->Security();
  old.sign_header = nullptr;
  away.replica().SetSecurity(old);
  SetField(away.replica(), "cases", x, "status", Value::Text("assisting"));
  DeleteAndCollect(a, x);
  const RowId theirs = NewCase(a.replica(), "LC", "Hà Thị Sáu");
  MustSync(a);
  auto r = away.Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->push_refused.ok());
  EXPECT_TRUE(Holds(away, "cases", theirs)) << "the pass ended before the pull";
}


// A push (1 refused of 3) whose answer was lost, repeated with a smaller
// batch (a budget halved by the cut): the refusal is not lost; the laptop's
// cursor moves no further than its request (review helper-46, MEDIUM).
TEST_F(SetAsideProcessTest, ARefusalIsNotLostWhenThePushIsRepeatedSmaller) {
  auto& a = AddNode("LC");
  auto& away = AddNode("LC");
  const RowId x = NewCase(a.replica(), "LC", "Nguyễn Thị Hằng");
  MustSync(a);
  MustSync(away);
  MustSync(a);
  auto pushed0 = away.replica().GetCursor(sync::kPushedCursor);
  ASSERT_TRUE(pushed0.ok());
  const RowId before = NewCase(away.replica(), "LC", "Lò Thị Mai");
  SetField(away.replica(), "cases", x, "status", Value::Text("assisting"));
  const uint64_t edit = LastSeq(away);
  const RowId after = NewCase(away.replica(), "LC", "Hà Thị Sáu");
  DeleteAndCollect(a, x);
  auto commits = away.replica().LocalCommitsAfter(static_cast<uint64_t>(*pushed0), 100);
  ASSERT_TRUE(commits.ok());
  ASSERT_EQ(commits->size(), 3u);
  v1::PushRequest req;
  req.set_protocol_version(v1::PROTOCOL_VERSION_3);
  for (const Commit& c : *commits) {
    ASSERT_FALSE(c.header.empty());
    auto* e = req.add_commits();
    e->set_canonical(EncodeCommit(c));
    e->set_signature(c.signature);
    e->set_header(c.header);
    e->set_header_signature(c.header_signature);
  }
  {
    grpc::ClientContext ctx;
    Auth(&ctx, away.credential());
    v1::PushResponse lost;
    grpc::Status s = Stub()->Push(&ctx, req, &lost);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(lost.refusals_size(), 1);
  }
  EXPECT_EQ(AtHub({before, after}), 2u);
  sync::PassOptions o;
  o.push.max_commits = 1;
  auto r = sync::RunPass(away.client().transport(), away.replica(), *away.keys(),
                         away.credential(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  auto listed = node::ops::ListSetAside(away.replica(), true);
  ASSERT_TRUE(listed.ok());
  auto pushed = away.replica().GetCursor(sync::kPushedCursor);
  EXPECT_EQ(listed->size(), 1u) << "edit " << edit << " neither set aside nor to be sent again "
                                << "(pushed cursor " << *pushed << ")";
}

// A hub that says CLOCK_AHEAD of a commit it stored, stamped by a right
// clock: the laptop does not withdraw and re-date it on that word (the hub
// would relay the withdrawal against the body it delivered, and colleagues
// would hold the laptop's work back); it waits, and the pass says why
// (review helper-47, HIGH).
TEST_F(SetAsideTest, AClockAheadClaimForACommitNotAheadOfThisClockWithdrawsNothing) {
  auto& n = AddNode("LC");
  NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  const uint64_t edit = LastSeq(n);
  RewritingPushHub lying(n.client().transport(),
                         [&](const sync::PushRequest& req, sync::PushOutcome& out) {
                           for (const auto& c : req.commits) {
                             auto d = DecodeCommit(c.canonical);
                             if (d.ok() && d->seq == edit) {
                               out.refusals.push_back({edit, sync::RefusalCode::kClockAhead,
                                                       "stamped ahead", 0});
                             }
                           }
                         });
  sync::PassOptions o;
  auto r = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->redated, 0u) << r->redate_note;
  EXPECT_NE(r->redate_note.find("not ahead of this laptop's clock"), std::string::npos)
      << r->redate_note;
  auto chain = n.replica().OwnChainAfter(0, 100);
  ASSERT_TRUE(chain.ok());
  for (const ChainRow& row : *chain) {
    EXPECT_NE(row.state, ChainRow::State::kWithdrawal) << "withdrawal at seq " << row.seq;
  }
  EXPECT_EQ(LastSeq(n), edit) << "nothing rewritten";
}

// A DEPENDS_ON_REFUSED is the hub's word: believed only if the commit writes
// a record that a refused commit before it wrote, by this laptop's own data.
// A false one (a commit of another case said to need the refused edit) sets
// nothing aside: it is said, and the commit goes again at the next sync
// (review MEDIUM 4: a hub could have any commit set aside for the officer).
TEST_F(SetAsideTest, ADependencyTheLaptopsDataDoesNotBearOutIsNotBelieved) {
  auto& n = AddNode("LC");
  const RowId a = NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  const RowId b = NewCase(n.replica(), "LC", "Lò Thị Mai");
  MustSync(n);
  SetField(n.replica(), "cases", a, "status", Value::Text("assisting"));
  const uint64_t refused = LastSeq(n);
  SetField(n.replica(), "cases", a, "status", Value::Text("verifying"));
  const uint64_t needs_it = LastSeq(n);  // the same case: a real dependency
  SetField(n.replica(), "cases", b, "status", Value::Text("assisting"));
  const uint64_t other = LastSeq(n);  // another case: none
  RewritingPushHub lying(n.client().transport(),
                         [&](const sync::PushRequest& req, sync::PushOutcome& out) {
                           if (req.commits.empty()) return;
                           out.refusals.push_back({refused, sync::RefusalCode::kRowCollected,
                                                   "said collected", 0});
                           out.refusals.push_back({needs_it, sync::RefusalCode::kDependsOnRefused,
                                                   "needs it", refused});
                           out.refusals.push_back({other, sync::RefusalCode::kDependsOnRefused,
                                                   "needs it too", refused});
                         });
  sync::PassOptions o;
  auto r = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->set_aside, 2u);
  EXPECT_NE(r->push_refused.message().find("the hub's claim does not match"), std::string::npos)
      << r->push_refused;
  auto listed = node::ops::ListSetAside(n.replica(), true);
  ASSERT_TRUE(listed.ok());
  std::vector<uint64_t> seqs;
  for (const auto& item : *listed) seqs.push_back(item.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{refused, needs_it}));
  auto pushed = n.replica().GetCursor(sync::kPushedCursor);
  ASSERT_TRUE(pushed.ok());
  EXPECT_EQ(*pushed, static_cast<int64_t>(other) - 1) << "sent again at the next sync";
  auto again = MustSync(n);
  EXPECT_TRUE(again.push_refused.ok()) << again.push_refused;
  EXPECT_EQ(*n.replica().GetCursor(sync::kPushedCursor), static_cast<int64_t>(other));
}

// A claim this laptop cannot bear out, repeated pass after pass (a rule of
// the hub's this laptop does not know), does not hold its work back for
// good: at the third pass in a row the commit is set aside for the officer,
// who sees the hub's words, and the later work is sent.
TEST_F(SetAsideTest, ADependencyDoubtedAtThreePassesIsSetAsideAndLaterWorkGoes) {
  auto& n = AddNode("LC");
  const RowId a = NewCase(n.replica(), "LC", "Nguyễn Thị Hằng");
  const RowId b = NewCase(n.replica(), "LC", "Lò Thị Mai");
  MustSync(n);
  SetField(n.replica(), "cases", a, "status", Value::Text("assisting"));
  const uint64_t refused = LastSeq(n);
  SetField(n.replica(), "cases", b, "status", Value::Text("assisting"));
  const uint64_t other = LastSeq(n);
  SetField(n.replica(), "cases", a, "narrative", Value::Text("lời kể sau"));
  const uint64_t later = LastSeq(n);
  RewritingPushHub lying(n.client().transport(),
                         [&](const sync::PushRequest& req, sync::PushOutcome& out) {
                           for (const sync::PushedCommit& pc : req.commits) {
                             auto c = DecodeCommit(pc.canonical);
                             if (!c.ok()) continue;
                             if (c->seq == refused) {
                               out.refusals.push_back({refused, sync::RefusalCode::kRowCollected,
                                                       "said collected", 0});
                             }
                             if (c->seq == other) {
                               out.refusals.push_back({other,
                                                       sync::RefusalCode::kDependsOnRefused,
                                                       "waits for it", refused});
                             }
                           }
                         });
  sync::PassOptions o;
  for (int pass = 1; pass <= 2; ++pass) {
    auto r = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_NE(r->push_refused.message().find("the hub's claim does not match"), std::string::npos)
        << "pass " << pass << ": " << r->push_refused;
    EXPECT_EQ(*n.replica().GetCursor(sync::kPushedCursor), static_cast<int64_t>(other) - 1)
        << "pass " << pass;
  }
  auto r = sync::RunPass(lying, n.replica(), *n.keys(), n.credential(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->set_aside, 1u);
  EXPECT_GE(*n.replica().GetCursor(sync::kPushedCursor), static_cast<int64_t>(later))
      << "the later work was not sent";
  auto listed = node::ops::ListSetAside(n.replica(), true);
  ASSERT_TRUE(listed.ok());
  std::vector<uint64_t> seqs;
  for (const auto& item : *listed) seqs.push_back(item.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{refused, other}));
}

}  // namespace
}  // namespace fieldsync::testing
