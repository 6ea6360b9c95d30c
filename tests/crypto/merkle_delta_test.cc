// crypto/merkle.h, proof deltas: for every tree up to 40 leaves and every
// pair of consecutive pages [a, b), [b, e), the state kept after [a, b) and
// the delta of [b, e) rebuild exactly the whole range proof of [b, e); the
// state's left part is the compact range of [0, b); a tampered delta or state
// rebuilds a proof that no longer verifies; malformed input is refused; a
// bootstrap in one-leaf pages carries n - 1 hashes, whole proofs about n log2 n.
#include <sodium.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "crypto/hash.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"

namespace fieldsync::crypto {
namespace {

using Hashes = std::vector<std::string>;

Hashes Leaves(uint64_t n) {
  Hashes out;
  for (uint64_t i = 0; i < n; ++i) out.push_back(RowLeafHash("row " + std::to_string(i)));
  return out;
}

Hashes Slice(const Hashes& v, uint64_t b, uint64_t e) {
  return Hashes(v.begin() + static_cast<long>(b), v.begin() + static_cast<long>(e));
}

Hashes Pick(const Hashes& proof, const std::vector<size_t>& at) {
  Hashes out;
  for (size_t i : at) out.push_back(proof.at(i));
  return out;
}

// The state at `b`: after the page [a, b) (a < b), or the empty one at 0.
KeptProof StateAt(const Hashes& leaves, uint64_t a, uint64_t b) {
  KeptProof kept;
  if (b == 0) return kept;
  const absl::StatusOr<Hashes> proof = RangeProof(leaves, a, b);
  EXPECT_TRUE(proof.ok()) << proof.status();
  absl::StatusOr<KeptProof> after = KeptProofAfter(leaves.size(), a, Slice(leaves, a, b), *proof);
  EXPECT_TRUE(after.ok()) << after.status();
  return *after;
}

class MerkleDeltaTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
};

TEST_F(MerkleDeltaTest, EveryDeltaAndKeptStateRebuildTheWholeProof) {
  for (uint64_t n = 1; n <= 40; ++n) {
    const Hashes leaves = Leaves(n);
    const std::string root = MerkleRoot(leaves);
    for (uint64_t b = 0; b < n; ++b) {
      // Every page [a, b) before (for b = 0: the empty state).
      for (uint64_t a = 0; a < b || (b == 0 && a == 0); ++a) {
        const KeptProof kept = StateAt(leaves, a, b);
        ASSERT_EQ(kept.next, b);
        ASSERT_TRUE(CheckKeptProof(n, kept).ok()) << n << " " << a << " " << b;
        for (uint64_t e = b + 1; e <= n; ++e) {
          const Hashes full = *RangeProof(leaves, b, e);
          const Hashes delta = Pick(full, ProofDeltaPositions(n, b, e));
          absl::StatusOr<Hashes> rebuilt = ProofFromDelta(n, kept, e, delta);
          ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
          ASSERT_EQ(*rebuilt, full) << "n " << n << " after [" << a << ", " << b << ") page ["
                                    << b << ", " << e << ")";
          ASSERT_TRUE(VerifyRange(n, b, Slice(leaves, b, e), *rebuilt, root).ok());
        }
      }
    }
  }
}

TEST_F(MerkleDeltaTest, TheKeptLeftPartIsTheNextPagesLeftPart) {
  for (uint64_t n = 2; n <= 40; ++n) {
    const Hashes leaves = Leaves(n);
    for (uint64_t a = 0; a + 1 < n; ++a) {
      for (uint64_t b = a + 1; b < n; ++b) {
        const KeptProof kept = StateAt(leaves, a, b);
        const Hashes next = *RangeProof(leaves, b, b + 1);
        ASSERT_LE(kept.left.size(), next.size());
        EXPECT_EQ(kept.left, Slice(next, 0, kept.left.size())) << n << " " << a << " " << b;
        EXPECT_EQ(kept.left.size(), static_cast<size_t>(__builtin_popcountll(b)));
      }
    }
  }
}

TEST_F(MerkleDeltaTest, ATamperedDeltaOrStateDoesNotVerify) {
  const uint64_t n = 37;
  const Hashes leaves = Leaves(n);
  const std::string root = MerkleRoot(leaves);
  for (uint64_t b = 1; b + 1 < n; ++b) {
    const KeptProof kept = StateAt(leaves, b - 1, b);
    for (uint64_t e : {b + 1, n}) {
      const Hashes full = *RangeProof(leaves, b, e);
      const Hashes delta = Pick(full, ProofDeltaPositions(n, b, e));
      for (size_t i = 0; i < delta.size(); ++i) {
        Hashes bad = delta;
        bad[i][0] ^= 1;
        const Hashes proof = *ProofFromDelta(n, kept, e, bad);
        EXPECT_EQ(VerifyRange(n, b, Slice(leaves, b, e), proof, root).code(),
                  absl::StatusCode::kUnauthenticated);
      }
      for (size_t part = 0; part < 2; ++part) {
        KeptProof bad = kept;
        Hashes& hashes = part == 0 ? bad.left : bad.right;
        if (hashes.empty()) continue;
        hashes.back()[5] ^= 0x40;
        absl::StatusOr<Hashes> proof = ProofFromDelta(n, bad, e, delta);
        ASSERT_TRUE(proof.ok());
        // A kept hash the page's proof does not use changes nothing; one it
        // uses fails.
        if (*proof != full) {
          EXPECT_EQ(VerifyRange(n, b, Slice(leaves, b, e), *proof, root).code(),
                    absl::StatusCode::kUnauthenticated);
        }
      }
    }
  }
}

TEST_F(MerkleDeltaTest, MalformedInputIsRefused) {
  const uint64_t n = 10;
  const Hashes leaves = Leaves(n);
  const KeptProof kept = StateAt(leaves, 3, 5);
  const Hashes full = *RangeProof(leaves, 5, 6);
  const Hashes delta = Pick(full, ProofDeltaPositions(n, 5, 6));
  ASSERT_TRUE(ProofFromDelta(n, kept, 6, delta).ok());
  Hashes more = delta;
  more.push_back(std::string(kHashBytes, 'x'));
  EXPECT_EQ(ProofFromDelta(n, kept, 6, more).status().code(), absl::StatusCode::kInvalidArgument);
  if (!delta.empty()) {
    Hashes fewer(delta.begin(), delta.end() - 1);
    EXPECT_EQ(ProofFromDelta(n, kept, 6, fewer).status().code(),
              absl::StatusCode::kInvalidArgument);
    Hashes short_hash = delta;
    short_hash[0].pop_back();
    EXPECT_EQ(ProofFromDelta(n, kept, 6, short_hash).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(ProofFromDelta(n, kept, 5, delta).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProofFromDelta(n, kept, 11, delta).status().code(),
            absl::StatusCode::kInvalidArgument);
  KeptProof wrong = kept;
  wrong.right.pop_back();
  EXPECT_EQ(CheckKeptProof(n, wrong).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProofFromDelta(n, wrong, 6, delta).status().code(),
            absl::StatusCode::kInvalidArgument);
  wrong = kept;
  wrong.next = 4;  // another leaf: the sizes no longer fit (popcount 1, not 2)
  EXPECT_EQ(CheckKeptProof(n, wrong).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ProofDeltaPositions(n, 5, 5).empty());
  EXPECT_TRUE(ProofDeltaPositions(n, 5, 11).empty());
  EXPECT_EQ(KeptProofAfter(n, 5, Slice(leaves, 5, 6), delta).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// What the deltas are for: one-leaf pages over a cut link.
TEST_F(MerkleDeltaTest, OneLeafPagesCarryAboutOneHashEach) {
  for (uint64_t n : {1000u, 1024u, 4097u}) {
    size_t full = 0, delta = 0;
    for (uint64_t b = 0; b < n; ++b) delta += ProofDeltaPositions(n, b, b + 1).size();
    const Hashes leaves = Leaves(n);
    const absl::StatusOr<MerkleTree> tree = MerkleTree::Build(leaves);
    ASSERT_TRUE(tree.ok());
    for (uint64_t b = 0; b < n; ++b) full += tree->RangeProof(b, b + 1)->size();
    std::printf("n %llu: one-leaf pages carry %zu proof hashes whole, %zu as deltas\n",
                static_cast<unsigned long long>(n), full, delta);
    EXPECT_EQ(delta, n - 1) << "every node but the root, once";
    EXPECT_GE(full, 8 * n);
  }
}

}  // namespace
}  // namespace fieldsync::crypto
