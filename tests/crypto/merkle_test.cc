// crypto/merkle.h, checkpoint trees: roots and range proofs against a naive
// recursive MTH written from RFC 6962 section 2.1 (every n up to 70, every
// page), random larger trees, tampered pages and proofs, malformed input,
// the largest leaf count, and frozen known-answer vectors computed with
// Python's hashlib.blake2b. Randomized: the seed is printed and can be
// replayed with FIELDSYNC_SEED=N.
#include "crypto/merkle.h"

#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "crypto/hash.h"
#include "gtest/gtest.h"

namespace fieldsync::crypto {
namespace {

using Hashes = std::vector<std::string>;

// --- the definition, written out --------------------------------------------

std::string H(const std::string& bytes) { return Blake2b256(bytes); }
std::string LeafH(const std::string& l) { return H(std::string(1, '\x00') + l); }
std::string NodeH(const std::string& a, const std::string& b) { return H("\x01" + a + b); }

// RFC 6962 2.1, recursively, over leaves[s, s+m).
std::string NaiveMth(const Hashes& leaves, uint64_t s, uint64_t m) {
  if (m == 0) return H("");
  if (m == 1) return LeafH(leaves[s]);
  uint64_t k = 1;
  while (k * 2 < m) k *= 2;
  return NodeH(NaiveMth(leaves, s, k), NaiveMth(leaves, s + k, m - k));
}
std::string NaiveMth(const Hashes& leaves) { return NaiveMth(leaves, 0, leaves.size()); }

std::string Hex(const std::string& bytes) { return HashHex(bytes); }

uint32_t Seed() {
  const char* env = std::getenv("FIELDSYNC_SEED");
  const uint32_t seed = env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10))
                            : std::random_device{}();
  std::printf("merkle_test seed %u (replay: FIELDSYNC_SEED=%u)\n", seed, seed);
  return seed;
}

std::string RandomHash(std::mt19937& rng) {
  std::string s(kHashBytes, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Distinct leaves: the leaf of the row state "row i".
Hashes Leaves(uint64_t n, const std::string& tag = "row ") {
  Hashes out;
  for (uint64_t i = 0; i < n; ++i) out.push_back(RowLeafHash(tag + std::to_string(i)));
  return out;
}

Hashes Slice(const Hashes& v, uint64_t b, uint64_t e) {
  return Hashes(v.begin() + static_cast<long>(b), v.begin() + static_cast<long>(e));
}

size_t CeilLog2(uint64_t n) {
  size_t bits = 0;
  while ((uint64_t{1} << bits) < n) ++bits;
  return bits;
}

class MerkleTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
};

// --- known answers ----------------------------------------------------------

TEST_F(MerkleTest, KnownAnswerVectorsForOneTwoAndThreeLeaves) {
  const Hashes l = Leaves(3);
  EXPECT_EQ(Hex(l[0]), "76557392a2c8f6d432c02c19999384956c8cdc0df3291d57153c54247b0e68d8");
  EXPECT_EQ(Hex(l[1]), "c753b6d9b9d93a4482cfd80d391626440821d97ebd568979a596edf01c48ad16");
  EXPECT_EQ(Hex(l[2]), "feefa41755aa808446ff90216914943b8b7ea812275078794288f1b1aada427c");
  EXPECT_EQ(l[0], H(std::string("fieldsync row state v1") + '\x00' + "row 0"));

  EXPECT_EQ(Hex(MerkleRoot({})),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  const std::string r1 = H(std::string(1, '\x00') + l[0]);
  const std::string r2 = H("\x01" + H(std::string(1, '\x00') + l[0]) +
                           H(std::string(1, '\x00') + l[1]));
  const std::string r3 = H("\x01" + r2 + H(std::string(1, '\x00') + l[2]));
  EXPECT_EQ(Hex(r1), "7b58ec4176c47c2d1fc6d6be39c89e573f4676eb7b04ee79cae81e9240fa7044");
  EXPECT_EQ(Hex(r2), "b1515391e7df5ac31f06ffb66e351216888e4f7b796304e0a814bf471e388d91");
  EXPECT_EQ(Hex(r3), "7c56771714b4d536b28dd0f96981654b4fc7e8bf0076644174ca2230e7a4a795");
  EXPECT_EQ(MerkleRoot(Slice(l, 0, 1)), r1);
  EXPECT_EQ(MerkleRoot(Slice(l, 0, 2)), r2);
  EXPECT_EQ(MerkleRoot(l), r3);
  absl::StatusOr<MerkleTree> t = MerkleTree::Build(l);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->Root(), r3);

  // The proofs of n = 3, hash by hash: left of the page first, then right.
  const std::string n0 = LeafH(l[0]), n1 = LeafH(l[1]), n2 = LeafH(l[2]);
  const std::vector<std::pair<std::pair<uint64_t, uint64_t>, Hashes>> proofs = {
      {{0, 1}, {n1, n2}},           {{1, 2}, {n0, n2}}, {{2, 3}, {NodeH(n0, n1)}},
      {{0, 2}, {n2}},               {{1, 3}, {n0}},     {{0, 3}, {}},
  };
  for (const auto& [page, want] : proofs) {
    SCOPED_TRACE(testing::Message() << "page [" << page.first << ", " << page.second << ")");
    absl::StatusOr<Hashes> p = RangeProof(l, page.first, page.second);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(*p, want);
    EXPECT_EQ(*t->RangeProof(page.first, page.second), want);
    EXPECT_TRUE(VerifyRange(3, page.first, Slice(l, page.first, page.second), want, r3).ok());
  }
}

// --- against the naive definition --------------------------------------------

// Every page of every tree: the proof the free function and the built tree
// give, its size bound, and the root it rebuilds.
void CheckEveryPage(const Hashes& leaves) {
  const uint64_t n = leaves.size();
  const std::string root = NaiveMth(leaves);
  ASSERT_EQ(MerkleRoot(leaves), root) << "n=" << n;
  absl::StatusOr<MerkleTree> tree = MerkleTree::Build(leaves);
  ASSERT_TRUE(tree.ok()) << tree.status();
  ASSERT_EQ(tree->size(), n);
  ASSERT_EQ(tree->Root(), root) << "n=" << n;
  for (uint64_t b = 0; b < n; ++b) {
    for (uint64_t e = b + 1; e <= n; ++e) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " page [" << b << ", " << e << ")");
      absl::StatusOr<Hashes> proof = RangeProof(leaves, b, e);
      ASSERT_TRUE(proof.ok()) << proof.status();
      absl::StatusOr<Hashes> from_tree = tree->RangeProof(b, e);
      ASSERT_TRUE(from_tree.ok()) << from_tree.status();
      ASSERT_EQ(*from_tree, *proof);
      ASSERT_LE(proof->size(), 2 * CeilLog2(n));
      const Hashes page = Slice(leaves, b, e);
      absl::StatusOr<std::string> rebuilt = RootFromRange(n, b, page, *proof);
      ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
      ASSERT_EQ(*rebuilt, root);
      ASSERT_TRUE(VerifyRange(n, b, page, *proof, root).ok());
    }
  }
}

TEST_F(MerkleTest, EveryPageOfEveryTreeUpTo70LeavesMatchesTheNaiveDefinition) {
  for (uint64_t n = 0; n <= 70; ++n) CheckEveryPage(Leaves(n));
  // The empty tree: only [0, 0), no proof, MTH({}).
  EXPECT_EQ(*RangeProof({}, 0, 0), Hashes());
  EXPECT_EQ(*RootFromRange(0, 0, {}, {}), H(""));
  EXPECT_TRUE(VerifyRange(0, 0, {}, {}, H("")).ok());
  absl::StatusOr<MerkleTree> empty = MerkleTree::Build({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->Root(), H(""));
}

TEST_F(MerkleTest, RandomLargerTreesMatchTheNaiveDefinition) {
  std::mt19937 rng(Seed());
  std::vector<uint64_t> sizes = {127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 4097};
  for (int i = 0; i < 6; ++i) sizes.push_back(71 + rng() % 20000);
  for (uint64_t n : sizes) {
    Hashes leaves;
    for (uint64_t i = 0; i < n; ++i) leaves.push_back(RandomHash(rng));
    const std::string root = NaiveMth(leaves);
    ASSERT_EQ(MerkleRoot(leaves), root) << "n=" << n;
    absl::StatusOr<MerkleTree> tree = MerkleTree::Build(leaves);
    ASSERT_TRUE(tree.ok()) << tree.status();
    ASSERT_EQ(tree->Root(), root) << "n=" << n;
    std::vector<std::pair<uint64_t, uint64_t>> pages = {{0, 1}, {n - 1, n}, {0, n}, {1, n - 1}};
    for (int p = 0; p < 40; ++p) {
      const uint64_t b = rng() % n;
      const uint64_t len = 1 + rng() % std::min<uint64_t>(n - b, p % 2 ? 3 : 600);
      pages.emplace_back(b, b + len);
    }
    for (const auto& [b, e] : pages) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " page [" << b << ", " << e << ")");
      absl::StatusOr<Hashes> proof = tree->RangeProof(b, e);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_LE(proof->size(), 2 * CeilLog2(n));
      ASSERT_EQ(*RangeProof(leaves, b, e), *proof);
      ASSERT_TRUE(VerifyRange(n, b, Slice(leaves, b, e), *proof, root).ok());
    }
  }
}

// --- tampering ---------------------------------------------------------------

// A page or proof changed in any one way does not verify against the root.
TEST_F(MerkleTest, AShiftedChangedOrReorderedPageOrProofDoesNotVerify) {
  std::mt19937 rng(Seed());
  size_t tried = 0;
  for (uint64_t n = 1; n <= 24; ++n) {
    const Hashes leaves = Leaves(n);
    const Hashes longer = [&] { Hashes l = leaves; l.push_back(RowLeafHash("one more")); return l; }();
    const Hashes shorter = Slice(leaves, 0, n - 1);
    const std::string root = MerkleRoot(leaves);
    for (uint64_t b = 0; b < n; ++b) {
      for (uint64_t e = b + 1; e <= n; ++e) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " page [" << b << ", " << e << ")");
        const Hashes proof = *RangeProof(leaves, b, e);
        const Hashes page = Slice(leaves, b, e);
        ASSERT_TRUE(VerifyRange(n, b, page, proof, root).ok());
        auto rejected = [&](uint64_t at, const Hashes& pg, const Hashes& pf, const char* what,
                            uint64_t count = 0, const std::string* against = nullptr) {
          ++tried;
          const uint64_t nn = count ? count : n;
          EXPECT_FALSE(VerifyRange(nn, at, pg, pf, against ? *against : root).ok()) << what;
        };
        // Shifted.
        if (b > 0) rejected(b - 1, page, proof, "shifted left");
        if (e < n) rejected(b + 1, page, proof, "shifted right");
        // A leaf dropped, added, changed; two swapped.
        if (page.size() >= 2) {
          rejected(b, Slice(page, 1, page.size()), proof, "first dropped");
          rejected(b + 1, Slice(page, 1, page.size()), proof, "first dropped, begin moved");
          rejected(b, Slice(page, 0, page.size() - 1), proof, "last dropped");
          for (size_t i = 0; i + 1 < page.size(); ++i) {
            Hashes swapped = page;
            std::swap(swapped[i], swapped[i + 1]);
            rejected(b, swapped, proof, "two leaves swapped");
          }
        }
        if (e < n) {
          Hashes added = page;
          added.push_back(leaves[e]);
          rejected(b, added, proof, "next leaf added");
        }
        if (b > 0) {
          Hashes added = page;
          added.insert(added.begin(), leaves[b - 1]);
          rejected(b - 1, added, proof, "previous leaf added");
        }
        {
          Hashes changed = page;
          changed[rng() % changed.size()] = RandomHash(rng);
          rejected(b, changed, proof, "a leaf changed");
        }
        // A proof hash changed, dropped, added; two swapped.
        for (size_t i = 0; i < proof.size(); ++i) {
          Hashes changed = proof;
          changed[i][rng() % kHashBytes] ^= static_cast<char>(1 << (rng() % 8));
          rejected(b, page, changed, "a proof hash changed");
          Hashes dropped = proof;
          dropped.erase(dropped.begin() + static_cast<long>(i));
          rejected(b, page, dropped, "a proof hash dropped");
          if (i + 1 < proof.size()) {
            Hashes swapped = proof;
            std::swap(swapped[i], swapped[i + 1]);
            rejected(b, page, swapped, "two proof hashes swapped");
          }
        }
        {
          Hashes added = proof;
          added.push_back(RandomHash(rng));
          rejected(b, page, added, "a proof hash added");
        }
        // The proof of this tree against the root of a tree of one leaf more
        // or less (the same leaves otherwise).
        const std::string longer_root = MerkleRoot(longer);
        rejected(b, page, proof, "against n + 1", n + 1, &longer_root);
        if (n > 1 && e <= n - 1) {
          const std::string shorter_root = MerkleRoot(shorter);
          rejected(b, page, proof, "against n - 1", n - 1, &shorter_root);
        }
      }
    }
  }
  std::printf("%zu tampered pages and proofs refused\n", tried);
}

// Why the statement signs the leaf count next to the root, and the verifier
// must be given that count: the root alone does not fix it. The page [0, 2)
// of a tree of 4 leaves, with its proof H(1 || H(0||c) || H(0||d)), rebuilds
// the same root when said to be of a tree of 3 (whose third node would be
// that hash). Not a forgery of any leaf, but n is only as good as its source.
TEST_F(MerkleTest, TheRootAloneDoesNotFixTheLeafCount) {
  const Hashes leaves = Leaves(4);
  const std::string root = MerkleRoot(leaves);
  const Hashes proof = *RangeProof(leaves, 0, 2);
  ASSERT_EQ(proof, Hashes({NodeH(LeafH(leaves[2]), LeafH(leaves[3]))}));
  EXPECT_TRUE(VerifyRange(4, 0, Slice(leaves, 0, 2), proof, root).ok());
  EXPECT_TRUE(VerifyRange(3, 0, Slice(leaves, 0, 2), proof, root).ok());
}

// --- bad input ----------------------------------------------------------------

TEST_F(MerkleTest, MalformedInputIsRefusedInOneLine) {
  const Hashes leaves = Leaves(10);
  const std::string root = MerkleRoot(leaves);
  const Hashes page = Slice(leaves, 3, 6);
  const Hashes proof = *RangeProof(leaves, 3, 6);
  auto malformed = [](const absl::StatusOr<std::string>& r, const char* what) {
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << what;
    const std::string m(r.status().message());
    EXPECT_EQ(m.rfind("malformed range proof: ", 0), 0u) << what << ": " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  };
  Hashes more = proof, fewer = proof;
  more.push_back(proof[0]);
  fewer.pop_back();
  malformed(RootFromRange(10, 3, page, more), "one hash more");
  malformed(RootFromRange(10, 3, page, fewer), "one hash fewer");
  malformed(RootFromRange(10, 8, page, proof), "past n");
  malformed(RootFromRange(10, 11, {}, proof), "begin past n");
  malformed(RootFromRange(10, UINT64_MAX, page, proof), "begin + page overflows");
  malformed(RootFromRange(2, 0, page, proof), "page larger than n");
  malformed(RootFromRange(10, 3, {}, proof), "empty page");
  malformed(RootFromRange(0, 0, {}, {root}), "proof for the empty tree");
  malformed(RootFromRange(0, 1, {}, {}), "begin in the empty tree");
  malformed(RootFromRange(uint64_t{1} << 32, 0, page, proof), "2^32 leaves");
  for (size_t bad : {0, 31, 33}) {
    Hashes bad_page = page, bad_proof = proof;
    bad_page[1] = std::string(bad, 'x');
    bad_proof[0] = std::string(bad, 'x');
    malformed(RootFromRange(10, 3, bad_page, proof), "leaf hash size");
    malformed(RootFromRange(10, 3, page, bad_proof), "proof hash size");
  }
  EXPECT_EQ(VerifyRange(10, 3, page, proof, root.substr(1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyRange(10, 3, page, proof, MerkleRoot(Leaves(10, "other "))).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyRange(10, 3, page, more, root).code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<MerkleTree> tree = MerkleTree::Build(leaves);
  ASSERT_TRUE(tree.ok());
  for (auto [b, e] : std::vector<std::pair<uint64_t, uint64_t>>{{3, 3}, {4, 3}, {0, 11}, {10, 11}}) {
    EXPECT_EQ(RangeProof(leaves, b, e).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(tree->RangeProof(b, e).status().code(), absl::StatusCode::kInvalidArgument);
  }
  Hashes short_leaf = leaves;
  short_leaf[7].pop_back();
  EXPECT_EQ(RangeProof(short_leaf, 0, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MerkleTree::Build(short_leaf).status().code(), absl::StatusCode::kInvalidArgument);
}

// --- the largest tree -----------------------------------------------------------

// n = 2^32 - 1, the largest count a statement holds: a one-leaf page at
// either end, with an arbitrary proof of the right length, rebuilds the root
// the definition gives for those hashes (no tree built; O(log n)).
TEST_F(MerkleTest, TheLargestLeafCountRebuildsFromItsEdges) {
  std::mt19937 rng(Seed());
  const uint64_t n = kMaxMerkleLeaves;
  const std::string leaf = RandomHash(rng);
  // The last leaf: left of it, the perfect subtrees of 2^31, ..., 2^1 leaves.
  Hashes left;
  for (int i = 0; i < 31; ++i) left.push_back(RandomHash(rng));
  std::string want = LeafH(leaf);
  for (size_t i = left.size(); i-- > 0;) want = NodeH(left[i], want);
  absl::StatusOr<std::string> got = RootFromRange(n, n - 1, {leaf}, left);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, want);
  // The first leaf: right of it, the perfect subtrees of 1, 2, ..., 2^30
  // leaves, then the ragged right half [2^31, n).
  Hashes right;
  for (int i = 0; i < 32; ++i) right.push_back(RandomHash(rng));
  want = LeafH(leaf);
  for (size_t i = 0; i < 31; ++i) want = NodeH(want, right[i]);
  want = NodeH(want, right[31]);
  got = RootFromRange(n, 0, {leaf}, right);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, want);
  EXPECT_EQ(RootFromRange(n, 0, {leaf}, left).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fieldsync::crypto
