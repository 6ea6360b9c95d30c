// Proof deltas in a verified bootstrap (docs/CRYPTO.md, "Proof deltas";
// PullRequest.proof_deltas, BootstrapPage.proof_delta): pages of one row,
// each proof carrying only the hashes the laptop lacks.
//  - A bootstrap in one-row pages takes deltas and verifies every page; cut
//    mid-way, the proof state is kept with the resume record and the next
//    pass resumes with a delta from it; the rows are the signer's.
//  - A hub that changes one hash of a delta gets the page refused: nothing
//    of it installed, the resume record (and its proof state) unchanged.
//  - A pull without the field (a laptop of an earlier build, or a hub of an
//    earlier build that drops it) gets, and takes, whole proofs; a laptop
//    that lost its proof state gets the first page whole, then deltas.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "crypto/merkle.h"
#include "store/sqlite.h"
#include "support/must.h"
#include "support/rewriting_hub.h"
#include "support/statement_fixture.h"
#include "sync/checkpoint_keeper.h"
#include "sync/forwarding_transport.h"
#include "sync/pass.h"

namespace fieldsync::testing {
namespace {

// The real hub, each pull request passed through `edit` first (a laptop or a
// hub of another build), each page seen by `seen`.
class EditingRequests : public sync::ForwardingTransport {
 public:
  EditingRequests(sync::Transport& real, std::function<void(sync::PullRequest&)> edit,
                  std::function<void(const sync::CheckpointPage&)> seen)
      : ForwardingTransport(real), edit_(std::move(edit)), seen_(std::move(seen)) {}
  absl::Status Pull(const sync::PullRequest& req,
                    const std::function<absl::Status(sync::PullChunk&)>& on_chunk) override {
    sync::PullRequest mine = req;
    edit_(mine);
    return ForwardingTransport::Pull(mine, [&](sync::PullChunk& c) -> absl::Status {
      if (c.page) seen_(*c.page);
      return on_chunk(c);
    });
  }

 private:
  std::function<void(sync::PullRequest&)> edit_;
  std::function<void(const sync::CheckpointPage&)> seen_;
};

class CheckpointDeltaTest : public StatementFixture {
 protected:
  // A member's checkpoint of `cases` cases (2 rows each), then a laptop of
  // the office that has not joined yet: its first sync is the bootstrap.
  harness::LocalNode& Fresh(int cases) {
    auto& first = Laptop("LC");
    first.client().set_checkpoint_interval(0);
    for (int i = 0; i < cases; ++i) NewCase(first.replica(), "LC", absl::StrCat("Hà Thị Lan ", i));
    EXPECT_TRUE(MustSync(first).chain.checkpoint_adopted);
    first_ = &first;
    join_offices_ = false;
    return Laptop("LC");
  }

  // One pass in pages of one row through `hub`.
  static absl::StatusOr<node::SyncReport> OneRowPages(harness::LocalNode& n,
                                                      sync::Transport& hub) {
    sync::PassOptions o;
    o.pull.max_batch = 1;
    return sync::RunPass(hub, n.replica(), *n.keys(), n.credential(), o);
  }

  static BootstrapProgress Progress(harness::LocalNode& n) {
    auto b = n.replica().Bootstrap();
    EXPECT_TRUE(b.ok() && b->has_value());
    return b.ok() && b->has_value() ? **b : BootstrapProgress{};
  }

  static std::string Digest(harness::LocalNode& n) { return Must(n.replica().StateDigest()); }

  harness::LocalNode* first_ = nullptr;
};

TEST_F(CheckpointDeltaTest, OneRowPagesTakeDeltasAndACutResumesFromTheKeptState) {
  auto& fresh = Fresh(20);  // 40 leaves
  int pages = 0;
  size_t hashes = 0, whole = 0;
  RewritingHub cut_at_13(fresh.client().transport(), [&](sync::PullChunk& c) {
    if (!c.page) return true;
    EXPECT_TRUE(c.page->proof_delta) << "page at " << c.page->first;
    hashes += c.page->proof.size();
    return ++pages < 13;
  });
  ASSERT_FALSE(OneRowPages(fresh, cut_at_13).ok()) << "cut after the 13th page";
  BootstrapProgress at = Progress(fresh);
  ASSERT_EQ(at.next_index, 13u);
  ASSERT_TRUE(at.proof.has_value()) << "the proof state kept with the resume record";
  EXPECT_EQ(at.proof->next, 13u);
  EXPECT_EQ(at.proof->left.size(), 3u) << "13 = 8 + 4 + 1";

  // The rest, from the state read back from the replica's file.
  bool first_page = true;
  EditingRequests resume(
      fresh.client().transport(),
      [](sync::PullRequest& req) {
        EXPECT_TRUE(req.params.proof_deltas);
        EXPECT_TRUE(req.params.proof_kept);
        EXPECT_EQ(req.params.resume_index, 13u);
      },
      [&](const sync::CheckpointPage& p) {
        if (first_page) {
          EXPECT_EQ(p.first, 13u);
        }
        first_page = false;
        EXPECT_TRUE(p.proof_delta) << "page at " << p.first;
        hashes += p.proof.size();
      });
  auto rest = OneRowPages(fresh, resume);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->rows_installed, 27u);
  EXPECT_EQ(Progress(fresh).next_index, 40u);
  EXPECT_EQ(Must(fresh.replica().VerifiedRows()), 40);
  for (uint64_t b = 0; b < 40; ++b) {
    whole += Must(crypto::RangeProof(std::vector<std::string>(40, std::string(32, 'x')), b, b + 1))
                 .size();
  }
  std::printf("40 one-row pages: %zu proof hashes as deltas, %zu whole\n", hashes, whole);
  EXPECT_LT(hashes * 4, whole) << "deltas carry a fraction of the whole proofs";
  MustSync(*first_);
  ASSERT_TRUE(fresh.JoinOffice(*first_).ok());
  MustSync(*first_);
  MustSync(fresh);
  EXPECT_EQ(Digest(fresh), Digest(*first_));
}

TEST_F(CheckpointDeltaTest, AHubThatChangesOneHashOfADeltaGetsThePageRefused) {
  auto& fresh = Fresh(20);
  // Cut after 10 pages: a state at 10 to tamper against.
  int pages = 0;
  RewritingHub cut_at_10(fresh.client().transport(), [&](sync::PullChunk& c) {
    return !c.page || ++pages < 10;
  });
  ASSERT_FALSE(OneRowPages(fresh, cut_at_10).ok());
  const BootstrapProgress before = Progress(fresh);
  ASSERT_EQ(before.next_index, 10u);
  ASSERT_TRUE(before.proof.has_value());
  ASSERT_EQ(Must(fresh.replica().VerifiedRows()), 10);

  // Page [10, 11): its delta is the one node of its proof the state at 10
  // lacks (leaf 11, its sibling), changed.
  bool tampered = false;
  RewritingHub tamper(fresh.client().transport(), [&](sync::PullChunk& c) {
    if (c.page && c.page->first == 10 && c.page->proof.size() == 1) {
      c.page->proof.back()[7] ^= 0x01;
      tampered = true;
    }
    return true;
  });
  auto r = OneRowPages(fresh, tamper);
  ASSERT_TRUE(tampered) << "page 10's delta is one hash";
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("refused"), std::string::npos) << r.status();
  EXPECT_EQ(Must(fresh.replica().VerifiedRows()), 10) << "nothing of the page installed";
  const BootstrapProgress after = Progress(fresh);
  EXPECT_EQ(after.next_index, 10u);
  ASSERT_TRUE(after.proof.has_value());
  EXPECT_EQ(after.proof->left, before.proof->left);
  EXPECT_EQ(after.proof->right, before.proof->right);
  EXPECT_EQ(EvidenceOf(fresh, sync::ChainEvidence::Kind::kForgedCheckpointPage).size(), 1u);
}

TEST_F(CheckpointDeltaTest, WithoutTheFieldProofsComeWholeAndAreTaken) {
  auto& fresh = Fresh(10);  // 20 leaves
  // A laptop of an earlier build (or a hub that drops the field): whole proofs.
  int pages = 0;
  EditingRequests old_build(
      fresh.client().transport(),
      [](sync::PullRequest& req) {
        req.params.proof_deltas = false;
        req.params.proof_kept = false;
      },
      [&](const sync::CheckpointPage& p) {
        EXPECT_FALSE(p.proof_delta);
        ++pages;
      });
  RewritingHub cut_at_7(old_build, [&](sync::PullChunk& c) { return !c.page || pages < 7; });
  ASSERT_FALSE(OneRowPages(fresh, cut_at_7).ok());
  BootstrapProgress at = Progress(fresh);
  ASSERT_EQ(at.next_index, 7u);
  ASSERT_TRUE(at.proof.has_value()) << "kept from whole proofs too";

  // This laptop lost its proof state (a record of an earlier build): the
  // hub sends the first page whole, then deltas.
  {
    auto d = sqlite::Db::Open(fresh.dir() + "/replica.db", "");
    ASSERT_TRUE(d.ok()) << d.status();
    ASSERT_TRUE((*d)->Exec("DELETE FROM _fs_bootstrap_proof").ok());
  }
  ASSERT_FALSE(Progress(fresh).proof.has_value());
  std::vector<bool> delta;
  EditingRequests watch(
      fresh.client().transport(),
      [](sync::PullRequest& req) { EXPECT_FALSE(req.params.proof_kept); },
      [&](const sync::CheckpointPage& p) { delta.push_back(p.proof_delta); });
  auto rest = OneRowPages(fresh, watch);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(delta.size(), 13u);
  EXPECT_FALSE(delta.front()) << "the first page whole";
  for (size_t i = 1; i < delta.size(); ++i) EXPECT_TRUE(delta[i]) << i;
  EXPECT_EQ(Must(fresh.replica().VerifiedRows()), 20);
  MustSync(*first_);
  ASSERT_TRUE(fresh.JoinOffice(*first_).ok());
  MustSync(*first_);
  MustSync(fresh);
  EXPECT_EQ(Digest(fresh), Digest(*first_));
}

}  // namespace
}  // namespace fieldsync::testing
