// Attacks on signed checkpoints and verified bootstraps (docs/PROTOCOL.md,
// "Checkpoints"), each with its severity. Real hub processes and laptops;
// where the attacker is the hub, either its disk is edited while it is
// stopped or (for what a modified hub would send) a transport between the
// laptop and the real hub rewrites the pull's messages, as a hub running
// other code would. The "rogue" device is one the hub's administrator
// enrolled in the office with `fieldhub enroll-token` (registered, never
// approved by the office): before a new laptop joined, it cannot tell such a
// device from a member.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "crypto/merkle.h"
#include "crypto/statement.h"
#include "node/ops/trust.h"
#include "store/row_state.h"
#include "store/sqlite.h"
#include "support/must.h"
#include "support/statement_fixture.h"
#include "sync/forwarding_transport.h"
#include "sync/chain.h"
#include "sync/checkpoint_keeper.h"
#include "base/tuning.h"
#include "sync/pass.h"
#include "sync/transport.h"
#include "support/rewriting_hub.h"

namespace fieldsync::testing {
namespace {


// The real hub, refusing for good every push that carries commits (the
// pass goes on: the node's commits stay unpushed).
class RefusingCommits : public sync::ForwardingTransport {
 public:
  explicit RefusingCommits(sync::Transport& real) : ForwardingTransport(real) {}
  absl::StatusOr<sync::PushOutcome> Push(const sync::PushRequest& req) override {
    if (!req.commits.empty()) return absl::PermissionDeniedError("commits refused (test)");
    return ForwardingTransport::Push(req);
  }
};

class CheckpointAttackTest : public StatementFixture {
 protected:
  // The hub's newest adopted checkpoint of `province`: statement bytes.
  std::string AdoptedStatement(const std::string& province) {
    std::vector<std::string> got = HubQueryStrings(
        "SELECT statement FROM hub_checkpoints WHERE province = ?1 ORDER BY seq DESC LIMIT 1",
        {Value::Text(province)});
    return got.empty() ? "" : got[0];
  }

  // The row states of the hub's only checkpoint, by leaf index.
  std::vector<std::string> CheckpointStates() {
    return HubQueryStrings("SELECT state FROM hub_checkpoint_rows ORDER BY idx");
  }

  static std::string CaseStatus(harness::LocalNode& n, const RowId& kase) {
    auto row = n.replica().Get("cases", kase);
    if (!row.ok() || !row->has_value()) return "(none)";
    const TableDef* t = n.replica().schema().FindTable("cases");
    return (*row)->values[static_cast<size_t>(t->ColumnIndex("status"))].str();
  }

  static std::string BootstrapLine(harness::LocalNode& n) {
    auto st = node::ops::ReadChainStatus(n.replica(), n.keys());
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? st->bootstrap : "";
  }

  // The state of one `table` row of the hub's newest checkpoint.
  std::string OneCheckpointRow(const std::string& table) {
    std::vector<std::string> got = HubQueryStrings(
        "SELECT state FROM hub_checkpoint_rows WHERE tbl = ?1 ORDER BY checkpoint, idx LIMIT 1",
        {Value::Text(table)});
    return got.empty() ? "" : got[0];
  }
};

// HIGH (malicious hub + a device its administrator enrolled). A laptop
// resuming a bootstrap takes a checkpoint other than the one it resumes,
// without the message saying "reset", as if it continued it: the rows of
// the first (here signed by the rogue device, and never refuted since the
// laptop ends up bootstrapped from the genuine one) stay installed and
// recorded verified, and once the genuine checkpoint's signer is confirmed a
// member they count as signed (VersionSigned: grants, referral answers).
TEST_F(CheckpointAttackTest, AnotherCheckpointWithoutResetLeavesForgedRowsCountedAsSigned) {
  auto& first = CheckpointingLaptop("LC");
  for (int i = 0; i < 3; ++i) NewCase(first.replica(), "LC", absl::StrCat("Lò Thị Mai ", i));
  ASSERT_TRUE(MustSync(first).chain.checkpoint_adopted);
  const crypto::Statement genuine = Must(crypto::DecodeStatement(AdoptedStatement("LC")));

  join_offices_ = false;
  auto& rogue = Laptop("LC");  // enrolled by the hub's administrator
  auto& fresh = Laptop("LC");

  // A case the office never wrote, in a checkpoint the rogue device signs.
  RowSnapshot forged = Must(DecodeRowState(OneCheckpointRow("cases")));
  forged.row = Id16::NewRandom();
  const std::string forged_state = Must(EncodeRowState(forged));
  const std::vector<std::string> leaves = {crypto::RowLeafHash(forged_state),
                                           std::string(32, 'z')};
  crypto::Statement x = genuine;
  x.signer = rogue.replica().device_id();
  x.created_hlc = NowHlc().packed();
  x.heads.clear();
  x.leaf_count = 2;
  x.root = crypto::MerkleRoot(leaves);
  const std::string x_bytes = Must(crypto::SignStatement(rogue.identity(), x));
  sync::CheckpointPage page;
  page.checkpoint = crypto::StatementId(x_bytes);
  page.first = 0;
  page.states = {forged_state};
  page.proof = Must(crypto::RangeProof(leaves, 0, 1));

  // Pass 1: its first page, then the connection is cut.
  RewritingHub serve_x(fresh.client().transport(), [&](sync::PullChunk& c) {
    c.checkpoint = x_bytes;
    c.reset = true;
    c.page = page;
    c.rows.clear();
    c.commits.clear();
    c.cursor = 0;
    c.caught_up = false;
    return false;
  });
  ASSERT_FALSE(SyncThrough(fresh, serve_x).ok());
  ASSERT_TRUE(Holds(fresh, "cases", forged.row));

  // Pass 2: the genuine checkpoint, from its first row, without "reset".
  RewritingHub no_reset(fresh.client().transport(), [&](sync::PullChunk& c) {
    c.reset = false;
    return true;
  });
  auto second = SyncThrough(fresh, no_reset);
  std::cerr << "pass 2: " << (second.ok() ? "ok" : second.status().ToString()) << "\n";

  ASSERT_TRUE(fresh.JoinOffice(first).ok());
  MustSync(fresh);
  auto boot = fresh.replica().Bootstrap();
  ASSERT_TRUE(boot.ok());
  const auto counted = fresh.replica().VersionSigned("cases", forged.row, "status");
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_FALSE(*counted) << "a case only the rogue device signed counts as signed (bootstrap "
                         << (boot->has_value() ? (*boot)->confirmed : 9) << ")";
}

// MEDIUM (malicious hub + a device its administrator enrolled). The heads a
// checkpoint states become chain anchors on the new laptop when its last
// page is installed, before the laptop can tell whether the signer is a
// member. Once it joined and found the signer is not (Confirm: -1,
// evidence), the anchors stay: a forged link for a genuine colleague's
// head makes that colleague's next genuine entry a "fork" (evidence
// against an honest member) and holds its work back on the new laptop.
TEST_F(CheckpointAttackTest, ForgedAnchorsOfARefutedCheckpointFrameAGenuineColleague) {
  auto& first = CheckpointingLaptop("LC");
  for (int i = 0; i < 3; ++i) NewCase(first.replica(), "LC", absl::StrCat("Hà Thị Lan ", i));
  ASSERT_TRUE(MustSync(first).chain.checkpoint_adopted);
  const std::string y_bytes = AdoptedStatement("LC");
  const crypto::Statement genuine = Must(crypto::DecodeStatement(y_bytes));

  join_offices_ = false;
  auto& rogue = Laptop("LC");
  auto& fresh = Laptop("LC");

  // The same rows, signed by the rogue device, with a forged head for first.
  crypto::Statement x = genuine;
  x.signer = rogue.replica().device_id();
  x.created_hlc = NowHlc().packed();
  x.heads = {crypto::StatedHead{first.replica().device_id(), LastSeq(first),
                                std::string(32, 'x')}};
  const std::string x_bytes = Must(crypto::SignStatement(rogue.identity(), x));
  const std::string x_id = crypto::StatementId(x_bytes);
  RewritingHub serve_x(fresh.client().transport(), [&](sync::PullChunk& c) {
    if (c.checkpoint == y_bytes) c.checkpoint = x_bytes;
    if (c.page) c.page->checkpoint = x_id;
    return true;
  });
  auto boot_pass = SyncThrough(fresh, serve_x);
  ASSERT_TRUE(boot_pass.ok()) << boot_pass.status();

  ASSERT_TRUE(fresh.JoinOffice(first).ok());
  auto boot = fresh.replica().Bootstrap();
  ASSERT_TRUE(boot.ok() && boot->has_value());
  ASSERT_EQ((*boot)->confirmed, -1) << "refuted once joined";
  ASSERT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kForgedCheckpointPage).size(), 1u);
  MustSync(fresh);  // bootstrapped again, unverified

  // first, an honest member, goes on writing.
  const RowId later = NewCase(first.replica(), "LC", "Vàng Thị Dợ");
  MustSync(first);
  node::SyncReport r = MustSync(fresh);
  EXPECT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kFork).size(), 0u)
      << "evidence against an honest member, from anchors the refuted checkpoint placed: "
      << (r.chain.problems.empty() ? "" : r.chain.problems.front());
  EXPECT_TRUE(Holds(fresh, "cases", later)) << "the honest member's work held back";
}

// MEDIUM (malicious office: a member laptop). The hub adopts a member's
// checkpoint once its root matches the hub's rows, whatever heads it
// states; every laptop of the office bootstrapped from it later anchors an
// honest colleague's chain at a forged link, and its next genuine entry is
// a fork there. The hub holds every entry's link: it can check them.
TEST_F(CheckpointAttackTest, TheHubDoesNotAdoptACheckpointWhoseHeadsItDoesNotHold) {
  auto& first = Laptop("LC");
  auto& liar = Laptop("LC");
  NewCase(first.replica(), "LC", "Lò Thị Mai");
  MustSync(first);
  MustSync(liar);
  MustSync(liar);
  sync::CheckpointKeeper keeper(liar.replica(), *liar.keys(), *SystemClock::Get());
  auto root = keeper.Root();
  ASSERT_TRUE(root.ok()) << root.status();
  auto stats = liar.replica().GetCursor(sync::kPulledCursor);
  ASSERT_TRUE(stats.ok());
  crypto::Statement s;
  s.kind = crypto::StatementKind::kSeenAndCheckpoint;
  s.signer = liar.replica().device_id();
  s.created_hlc = NowHlc().packed();
  s.province = "LC";
  s.hub_id = HubId(liar);
  s.position = static_cast<uint64_t>(*stats);
  s.heads = {crypto::StatedHead{first.replica().device_id(), LastSeq(first),
                                std::string(32, 'x')}};
  s.leaf_count = root->first;
  s.root = root->second;
  sync::PushRequest req;
  req.protocol_version = 3;
  req.credential = liar.credential();
  req.statements.push_back(Must(crypto::SignStatement(liar.identity(), s)));
  auto r = liar.client().transport().Push(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->checkpoint_adopted) << "a checkpoint naming a link of " << LastSeq(first)
                                      << " the hub never held for that device";
}

// LOW (malicious hub + a device its administrator enrolled). A laptop
// bootstrapped before it joined, from a checkpoint whose signer turns out
// not to be a member, kept the rows the hub served under it: refuted, they
// no longer counted as signed, but they were still the hub's choice (here
// a case shown closed), never taken again. Refuted, the bootstrap is redone
// once, unverified, as after any refused checkpoint, and the laptop's own
// work not yet pushed is merged again on top.
TEST_F(CheckpointAttackTest, ARefutedBootstrapIsRedoneOnceFromTheHubsCurrentRows) {
  auto& first = CheckpointingLaptop("LC");
  const RowId kase = NewCase(first.replica(), "LC", "Vàng Thị Dợ");
  NewCase(first.replica(), "LC", "Lò Thị Mai");
  ASSERT_TRUE(MustSync(first).chain.checkpoint_adopted);
  const std::string y_bytes = AdoptedStatement("LC");
  const crypto::Statement genuine = Must(crypto::DecodeStatement(y_bytes));

  // The rogue's checkpoint: the office's rows, with the case closed.
  std::vector<std::string> states = CheckpointStates();
  std::vector<std::string> leaves;
  bool altered = false;
  for (std::string& st : states) {
    RowSnapshot r = Must(DecodeRowState(st));
    if (r.table == "cases" && r.row == kase) {
      for (FieldState& f : r.fields) {
        if (f.column != "status") continue;
        f.value = Value::Text("closed");
        altered = true;
      }
      st = Must(EncodeRowState(r));
    }
    leaves.push_back(crypto::RowLeafHash(st));
  }
  ASSERT_TRUE(altered);
  join_offices_ = false;
  auto& rogue = Laptop("LC");
  auto& fresh = Laptop("LC");
  crypto::Statement x = genuine;
  x.signer = rogue.replica().device_id();
  x.created_hlc = NowHlc().packed();
  x.root = crypto::MerkleRoot(leaves);
  const std::string x_bytes = Must(crypto::SignStatement(rogue.identity(), x));
  const std::string x_id = crypto::StatementId(x_bytes);
  RewritingHub serve_x(fresh.client().transport(), [&](sync::PullChunk& c) {
    if (c.checkpoint == y_bytes) c.checkpoint = x_bytes;
    if (c.page) {
      c.page->checkpoint = x_id;
      for (size_t i = 0; i < c.page->states.size(); ++i) {
        c.page->states[i] = states[c.page->first + i];
      }
      c.page->proof_delta = false;  // whole proofs, as a hub of an earlier build sends
      c.page->proof =
          Must(crypto::RangeProof(leaves, c.page->first, c.page->first + c.page->states.size()));
    }
    return true;
  });
  auto boot_pass = SyncThrough(fresh, serve_x);
  ASSERT_TRUE(boot_pass.ok()) << boot_pass.status();
  ASSERT_EQ(CaseStatus(fresh, kase), "closed") << "installed as the rogue signed it";

  ASSERT_TRUE(fresh.JoinOffice(first).ok());  // its last pass refutes the signer
  auto boot = fresh.replica().Bootstrap();
  ASSERT_TRUE(boot.ok());
  ASSERT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kForgedCheckpointPage).size(), 1u);

  // Its own work, not pushed at the next pass (the hub refuses commits).
  const RowId mine = NewCase(fresh.replica(), "LC", "Đỗ Thị Hoa");
  RefusingCommits no_commits(fresh.client().transport());
  auto redo = SyncThrough(fresh, no_commits);
  ASSERT_TRUE(redo.ok()) << redo.status();
  EXPECT_TRUE(redo->bootstrapped) << "the refuted bootstrap is taken again";
  EXPECT_EQ(CaseStatus(fresh, kase), "intake")
      << "the case as the rogue's checkpoint showed it, never taken again from the hub";
  EXPECT_TRUE(Holds(fresh, "cases", mine)) << "this laptop's unpushed work lost in the redo";
  EXPECT_NE(BootstrapLine(fresh).find("unverified"), std::string::npos) << BootstrapLine(fresh);

  node::SyncReport after = MustSync(fresh);
  EXPECT_FALSE(after.bootstrapped) << "redone once, not at every pass";
  MustSync(first);
  EXPECT_TRUE(Holds(first, "cases", mine)) << "pushed once the hub takes commits";
  EXPECT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kForgedCheckpointPage).size(), 1u);
}

// MEDIUM (malicious hub + a device its administrator enrolled). The anchors
// a checkpoint states were placed at install, before the laptop could judge
// its signer: an honest colleague's commit pulled between the bootstrap and
// the join was judged against a rogue's forged link there, held back, and
// taken as evidence of a fork by that colleague.
TEST_F(CheckpointAttackTest, ARoguesForgedAnchorHoldsNoCommitPulledBeforeTheJoin) {
  auto& first = CheckpointingLaptop("LC");
  for (int i = 0; i < 3; ++i) NewCase(first.replica(), "LC", absl::StrCat("Hà Thị Lan ", i));
  ASSERT_TRUE(MustSync(first).chain.checkpoint_adopted);
  first.client().set_checkpoint_interval(tuning::kCheckpointIntervalMillis);
  const std::string y_bytes = AdoptedStatement("LC");
  const crypto::Statement genuine = Must(crypto::DecodeStatement(y_bytes));

  join_offices_ = false;
  auto& rogue = Laptop("LC");
  auto& fresh = Laptop("LC");
  crypto::Statement x = genuine;
  x.signer = rogue.replica().device_id();
  x.created_hlc = NowHlc().packed();
  x.heads = {crypto::StatedHead{first.replica().device_id(), LastSeq(first),
                                std::string(32, 'x')}};
  const std::string x_bytes = Must(crypto::SignStatement(rogue.identity(), x));
  const std::string x_id = crypto::StatementId(x_bytes);
  RewritingHub serve_x(fresh.client().transport(), [&](sync::PullChunk& c) {
    if (c.checkpoint == y_bytes) c.checkpoint = x_bytes;
    if (c.page) c.page->checkpoint = x_id;
    return true;
  });
  auto boot_pass = SyncThrough(fresh, serve_x);
  ASSERT_TRUE(boot_pass.ok()) << boot_pass.status();

  // first, an honest member, writes; fresh pulls it before it joined.
  const RowId later = NewCase(first.replica(), "LC", "Vàng Thị Dợ");
  MustSync(first);
  node::SyncReport before = MustSync(fresh);
  EXPECT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kFork).size(), 0u)
      << "evidence against an honest member from the rogue's anchor: "
      << (before.chain.problems.empty() ? "" : before.chain.problems.front());
  EXPECT_TRUE(Holds(fresh, "cases", later)) << "the honest member's work held back";
  EXPECT_EQ(before.chain.held, 0u);

  ASSERT_TRUE(fresh.JoinOffice(first).ok());  // refuted here
  MustSync(fresh);                            // and bootstrapped again
  EXPECT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kFork).size(), 0u);
  EXPECT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kForgedCheckpointPage).size(), 1u);
  const RowId after = NewCase(first.replica(), "LC", "Đỗ Thị Hoa");
  MustSync(first);
  MustSync(fresh);
  EXPECT_TRUE(Holds(fresh, "cases", later));
  EXPECT_TRUE(Holds(fresh, "cases", after));
  EXPECT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kFork).size(), 0u);
}

// Kept: the heads of a checkpoint whose signer is a member still catch a
// hub that drops a colleague's commit made after it. A laptop bootstraps
// before it joins (its first pass is the bootstrap, the log after the
// checkpoint in the same stream): once it judged the signer a member, the
// commits it received meanwhile are compared with the checkpoint's heads,
// and one the hub never sent is evidence against the hub.
TEST_F(CheckpointAttackTest, AMembersCheckpointStillCatchesAHubThatDropsACommitAfterIt) {
  auto& first = CheckpointingLaptop("LC");
  for (int i = 0; i < 3; ++i) NewCase(first.replica(), "LC", absl::StrCat("Lò Thị Mai ", i));
  ASSERT_TRUE(MustSync(first).chain.checkpoint_adopted);
  first.client().set_checkpoint_interval(tuning::kCheckpointIntervalMillis);
  const RowId b = NewCase(first.replica(), "LC", "Vàng Thị Dợ");
  const uint64_t b_seq = LastSeq(first);
  const RowId c = NewCase(first.replica(), "LC", "Đỗ Thị Hoa");
  node::SyncReport pushed = MustSync(first);
  ASSERT_FALSE(pushed.chain.checkpoint_adopted) << "the checkpoint served is the one before b";
  DropAtHub(first, b_seq);

  auto& fresh = Laptop("LC");  // bootstraps, then joins
  EXPECT_FALSE(Holds(fresh, "cases", b));
  auto boot = fresh.replica().Bootstrap();
  ASSERT_TRUE(boot.ok() && boot->has_value());
  ASSERT_EQ(crypto::StatementId((*boot)->statement), crypto::StatementId(AdoptedStatement("LC")));
  ASSERT_EQ((*boot)->confirmed, 1);
  std::vector<TrustEvidence> withheld =
      EvidenceOf(fresh, sync::ChainEvidence::Kind::kWithheld);
  ASSERT_EQ(withheld.size(), 1u) << "the hub dropped commit " << b_seq
                                 << " after the checkpoint's head and nothing said so (c "
                                 << (Holds(fresh, "cases", c) ? "taken" : "waits") << ")";
  EXPECT_EQ(withheld[0].device, first.replica().device_id());
  EXPECT_EQ(withheld[0].seq, b_seq);
  EXPECT_NE(withheld[0].what.find("checkpoint of"), std::string::npos) << withheld[0].what;
  EXPECT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kFork).size(), 0u);

  // The anchor is placed: the hub sending b now (an entry the laptop's
  // chain passed) changes nothing, and first's next commit is taken.
  const RowId d = NewCase(first.replica(), "LC", "Hoàng Thị Lan");
  MustSync(first);
  MustSync(fresh);
  EXPECT_TRUE(Holds(fresh, "cases", d));
  EXPECT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kWithheld).size(), 1u);
}

}  // namespace
}  // namespace fieldsync::testing
