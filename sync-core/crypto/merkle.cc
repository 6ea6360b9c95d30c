#include "crypto/merkle.h"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/hash.h"

namespace fieldsync::crypto {
namespace {

using NodeList = std::vector<std::pair<uint64_t, uint64_t>>;  // (start, size)

constexpr std::string_view kLeafPrefix("\x00", 1);
constexpr std::string_view kNodePrefix("\x01", 1);

bool IsPowerOfTwo(uint64_t m) { return m != 0 && (m & (m - 1)) == 0; }

// The largest power of two < m (m >= 2): RFC 6962's split.
uint64_t Split(uint64_t m) {
  uint64_t k = 1;
  while ((k << 1) < m) k <<= 1;
  return k;
}

std::string LeafNode(std::string_view leaf_hash) {
  Blake2bHasher h;
  h.Update(kLeafPrefix).Update(leaf_hash);
  return h.Final();
}

std::string Interior(std::string_view left, std::string_view right) {
  Blake2bHasher h;
  h.Update(kNodePrefix).Update(left).Update(right);
  return h.Final();
}

// MTH of leaves[0..count), without recursion: perfect subtrees are merged as
// they complete (a stack of at most 33), then folded right to left, which is
// RFC 6962's split at the largest power of two, applied at every level.
std::string SubtreeHash(const std::string* leaves, uint64_t count) {
  if (count == 0) return Blake2b256("");
  std::vector<std::pair<std::string, uint64_t>> stack;  // (hash, leaves)
  for (uint64_t i = 0; i < count; ++i) {
    std::string h = LeafNode(leaves[i]);
    uint64_t size = 1;
    while (!stack.empty() && stack.back().second == size) {
      h = Interior(stack.back().first, h);
      size *= 2;
      stack.pop_back();
    }
    stack.emplace_back(std::move(h), size);
  }
  std::string h = std::move(stack.back().first);
  stack.pop_back();
  while (!stack.empty()) {
    h = Interior(stack.back().first, h);
    stack.pop_back();
  }
  return h;
}

// The nodes of the tree over [s, s + m) wholly outside the page [b, e) whose
// parent is not, left to right. Recursion only into nodes that straddle an
// edge of the page; depth at most ceil(log2 n) <= 32.
void OutsideNodes(uint64_t s, uint64_t m, uint64_t b, uint64_t e, NodeList* out) {
  if (s + m <= b || s >= e) {
    out->emplace_back(s, m);
    return;
  }
  if (b <= s && s + m <= e) return;
  const uint64_t k = Split(m);
  OutsideNodes(s, k, b, e, out);
  OutsideNodes(s + k, m - k, b, e, out);
}

NodeList ProofNodes(uint64_t n, uint64_t b, uint64_t e) {
  NodeList nodes;
  if (n > 0) OutsideNodes(0, n, b, e, &nodes);
  return nodes;
}

absl::Status CheckLeaves(const std::vector<std::string>& leaf_hashes) {
  if (leaf_hashes.size() > kMaxMerkleLeaves) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint tree: ", leaf_hashes.size(), " leaves (at most ", kMaxMerkleLeaves, ")"));
  }
  for (size_t i = 0; i < leaf_hashes.size(); ++i) {
    if (leaf_hashes[i].size() != kHashBytes) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint tree: leaf ", i, " is ",
                                                     leaf_hashes[i].size(), " bytes, not 32"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckPage(uint64_t n, uint64_t begin, uint64_t end) {
  const bool empty_tree_page = n == 0 && begin == 0 && end == 0;
  if (!empty_tree_page && !(begin < end && end <= n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("range proof: no page [", begin, ", ", end, ") in a tree of ", n, " leaves"));
  }
  return absl::OkStatus();
}

// Rebuilds a node's hash from the page's leaves and the proof, consuming the
// proof's hashes in order (their number checked before).
class Rebuild {
 public:
  Rebuild(uint64_t begin, const std::vector<std::string>& page,
          const std::vector<std::string>& proof)
      : b_(begin), e_(begin + page.size()), page_(page), proof_(proof) {}

  std::string Node(uint64_t s, uint64_t m) {
    if (s + m <= b_ || s >= e_) return proof_[next_++];
    if (b_ <= s && s + m <= e_) return SubtreeHash(&page_[s - b_], m);
    const uint64_t k = Split(m);
    const std::string left = Node(s, k);
    return Interior(left, Node(s + k, m - k));
  }

 private:
  const uint64_t b_, e_;
  const std::vector<std::string>& page_;
  const std::vector<std::string>& proof_;
  size_t next_ = 0;
};

absl::Status Malformed(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed range proof: ", what));
}

size_t PopCount(uint64_t x) {
  size_t c = 0;
  for (; x != 0; x &= x - 1) ++c;
  return c;
}

// The right part of the proof of any page ending at `x` (a pure function of
// (n, x): the nodes wholly in [x, n) whose parent holds leaf x - 1); none for
// x = 0 or x >= n.
NodeList RightNodes(uint64_t n, uint64_t x) {
  NodeList out;
  if (x == 0 || x >= n) return out;
  for (const auto& node : ProofNodes(n, x - 1, x)) {
    if (node.first >= x) out.push_back(node);
  }
  return out;
}

absl::Status MalformedDelta(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed proof delta: ", what));
}

}  // namespace

std::string RowLeafHash(std::string_view state_bytes) {
  return DomainHash(kRowLeafDomain, {state_bytes});
}

std::string MerkleRoot(const std::vector<std::string>& leaf_hashes) {
  return SubtreeHash(leaf_hashes.data(), leaf_hashes.size());
}

absl::StatusOr<std::vector<std::string>> RangeProof(const std::vector<std::string>& leaf_hashes,
                                                    uint64_t begin, uint64_t end) {
  if (absl::Status s = CheckLeaves(leaf_hashes); !s.ok()) return s;
  if (absl::Status s = CheckPage(leaf_hashes.size(), begin, end); !s.ok()) return s;
  std::vector<std::string> proof;
  for (const auto& [start, size] : ProofNodes(leaf_hashes.size(), begin, end)) {
    proof.push_back(SubtreeHash(&leaf_hashes[start], size));
  }
  return proof;
}

absl::StatusOr<MerkleTree> MerkleTree::Build(const std::vector<std::string>& leaf_hashes) {
  if (absl::Status s = CheckLeaves(leaf_hashes); !s.ok()) return s;
  MerkleTree t;
  t.n_ = leaf_hashes.size();
  if (t.n_ == 0) return t;
  std::string level;
  level.reserve(t.n_ * kHashBytes);
  for (const std::string& leaf : leaf_hashes) level += LeafNode(leaf);
  t.levels_.push_back(std::move(level));
  for (uint64_t count = t.n_ / 2; count >= 1; count /= 2) {
    const std::string& below = t.levels_.back();
    std::string up;
    up.reserve(count * kHashBytes);
    for (uint64_t i = 0; i < count; ++i) {
      up += Interior(std::string_view(below).substr(2 * i * kHashBytes, kHashBytes),
                     std::string_view(below).substr((2 * i + 1) * kHashBytes, kHashBytes));
    }
    t.levels_.push_back(std::move(up));
  }
  // The right edge, root first, down to its first perfect node; hashed
  // bottom up, each from its perfect left child and its right child.
  uint64_t s = 0, m = t.n_;
  while (!IsPowerOfTwo(m)) {
    t.ragged_.emplace_back(s, std::string());
    const uint64_t k = Split(m);
    s += k;
    m -= k;
  }
  for (size_t i = t.ragged_.size(); i-- > 0;) {
    const uint64_t start = t.ragged_[i].first;
    const uint64_t size = t.n_ - start;
    const uint64_t k = Split(size);
    t.ragged_[i].second = Interior(t.Node(start, k), t.Node(start + k, size - k));
  }
  return t;
}

std::string MerkleTree::Node(uint64_t start, uint64_t size) const {
  if (IsPowerOfTwo(size)) {
    // Every node of 2^j leaves starts at a multiple of 2^j.
    size_t j = 0;
    while ((uint64_t{1} << j) < size) ++j;
    return levels_[j].substr((start >> j) * kHashBytes, kHashBytes);
  }
  for (const auto& [s, hash] : ragged_) {
    if (s == start) return hash;
  }
  return std::string();  // not a node of this tree: unreachable from the callers
}

std::string MerkleTree::Root() const { return n_ == 0 ? Blake2b256("") : Node(0, n_); }

absl::StatusOr<std::vector<std::string>> MerkleTree::RangeProof(uint64_t begin,
                                                                uint64_t end) const {
  if (absl::Status s = CheckPage(n_, begin, end); !s.ok()) return s;
  std::vector<std::string> proof;
  for (const auto& [start, size] : ProofNodes(n_, begin, end)) proof.push_back(Node(start, size));
  return proof;
}

absl::StatusOr<std::string> RootFromRange(uint64_t n, uint64_t begin,
                                          const std::vector<std::string>& page_leaf_hashes,
                                          const std::vector<std::string>& proof) {
  const uint64_t count = page_leaf_hashes.size();
  if (n > kMaxMerkleLeaves) {
    return Malformed(absl::StrCat(n, " leaves (at most ", kMaxMerkleLeaves, ")"));
  }
  if (count > n || begin > n - count) {
    return Malformed(absl::StrCat("a page of ", count, " leaves at ", begin, " in a tree of ", n));
  }
  if (count == 0 && n > 0) return Malformed("an empty page");
  for (const std::string& h : page_leaf_hashes) {
    if (h.size() != kHashBytes) {
      return Malformed(absl::StrCat("a leaf hash of ", h.size(), " bytes, not 32"));
    }
  }
  for (const std::string& h : proof) {
    if (h.size() != kHashBytes) {
      return Malformed(absl::StrCat("a proof hash of ", h.size(), " bytes, not 32"));
    }
  }
  const size_t expected = ProofNodes(n, begin, begin + count).size();
  if (proof.size() != expected) {
    return Malformed(absl::StrCat(proof.size(), " hashes, ", expected, " expected for [", begin,
                                  ", ", begin + count, ") of ", n, " leaves"));
  }
  if (n == 0) return Blake2b256("");
  return Rebuild(begin, page_leaf_hashes, proof).Node(0, n);
}

absl::Status VerifyRange(uint64_t n, uint64_t begin,
                         const std::vector<std::string>& page_leaf_hashes,
                         const std::vector<std::string>& proof, std::string_view root) {
  if (root.size() != kHashBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("range proof: a root of ", root.size(), " bytes, not 32"));
  }
  absl::StatusOr<std::string> rebuilt = RootFromRange(n, begin, page_leaf_hashes, proof);
  if (!rebuilt.ok()) return rebuilt.status();
  if (*rebuilt != root) {
    return absl::UnauthenticatedError(absl::StrCat(
        "range proof: the page [", begin, ", ", begin + page_leaf_hashes.size(), ") of ", n,
        " leaves does not rebuild the signed root"));
  }
  return absl::OkStatus();
}

absl::StatusOr<KeptProof> KeptProofAfter(uint64_t n, uint64_t begin,
                                         const std::vector<std::string>& page_leaf_hashes,
                                         const std::vector<std::string>& proof) {
  const uint64_t end = begin + page_leaf_hashes.size();
  if (absl::Status s = CheckPage(n, begin, end); !s.ok()) return s;
  const size_t left = PopCount(begin);
  if (proof.size() != ProofNodes(n, begin, end).size() || proof.size() < left) {
    return Malformed(absl::StrCat(proof.size(), " hashes for [", begin, ", ", end, ") of ", n));
  }
  // The compact range of [0, begin), then each leaf of the page appended:
  // perfect subtrees merged as they complete (sizes stay the bits of the
  // count, largest first), giving [0, end)'s.
  std::vector<std::pair<std::string, uint64_t>> stack;  // (hash, leaves)
  int bit = 63;
  for (size_t i = 0; i < left; ++i) {
    while (((begin >> bit) & 1) == 0) --bit;
    stack.emplace_back(proof[i], uint64_t{1} << bit);
    --bit;
  }
  for (const std::string& leaf : page_leaf_hashes) {
    std::string h = LeafNode(leaf);
    uint64_t size = 1;
    while (!stack.empty() && stack.back().second == size) {
      h = Interior(stack.back().first, h);
      size *= 2;
      stack.pop_back();
    }
    stack.emplace_back(std::move(h), size);
  }
  KeptProof out;
  out.next = end;
  for (auto& [hash, size] : stack) out.left.push_back(std::move(hash));
  out.right.assign(proof.begin() + static_cast<long>(left), proof.end());
  return out;
}

absl::Status CheckKeptProof(uint64_t n, const KeptProof& kept) {
  if (n > kMaxMerkleLeaves || kept.next > n) {
    return MalformedDelta(absl::StrCat("a state at ", kept.next, " of ", n, " leaves"));
  }
  const size_t left = PopCount(kept.next), right = RightNodes(n, kept.next).size();
  if (kept.left.size() != left || kept.right.size() != right) {
    return MalformedDelta(absl::StrCat("a state at ", kept.next, " of ", n, " leaves with ",
                                       kept.left.size(), " + ", kept.right.size(),
                                       " hashes, not ", left, " + ", right));
  }
  for (const std::vector<std::string>* part : {&kept.left, &kept.right}) {
    for (const std::string& h : *part) {
      if (h.size() != kHashBytes) {
        return MalformedDelta(absl::StrCat("a kept hash of ", h.size(), " bytes, not 32"));
      }
    }
  }
  return absl::OkStatus();
}

std::vector<size_t> ProofDeltaPositions(uint64_t n, uint64_t begin, uint64_t end) {
  std::vector<size_t> out;
  if (!CheckPage(n, begin, end).ok() || n == 0) return out;
  const NodeList kept = RightNodes(n, begin);
  const NodeList nodes = ProofNodes(n, begin, end);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].first < begin) continue;  // the left part: kept
    if (std::find(kept.begin(), kept.end(), nodes[i]) == kept.end()) out.push_back(i);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ProofFromDelta(uint64_t n, const KeptProof& kept,
                                                        uint64_t end,
                                                        const std::vector<std::string>& delta) {
  const uint64_t begin = kept.next;
  if (n > kMaxMerkleLeaves || n == 0 || !(begin < end && end <= n)) {
    return MalformedDelta(absl::StrCat("no page [", begin, ", ", end, ") in a tree of ", n));
  }
  if (absl::Status s = CheckKeptProof(n, kept); !s.ok()) return s;
  for (const std::string& h : delta) {
    if (h.size() != kHashBytes) {
      return MalformedDelta(absl::StrCat("a hash of ", h.size(), " bytes, not 32"));
    }
  }
  const size_t expected = ProofDeltaPositions(n, begin, end).size();
  if (delta.size() != expected) {
    return MalformedDelta(absl::StrCat(delta.size(), " hashes, ", expected, " expected for [",
                                       begin, ", ", end, ") of ", n, " leaves"));
  }
  const NodeList held = RightNodes(n, begin);
  std::vector<std::string> proof = kept.left;
  size_t next_delta = 0;
  for (const auto& node : ProofNodes(n, begin, end)) {
    if (node.first < begin) continue;  // the left part: taken above, in order
    auto it = std::find(held.begin(), held.end(), node);
    proof.push_back(it != held.end() ? kept.right[static_cast<size_t>(it - held.begin())]
                                     : delta[next_delta++]);
  }
  return proof;
}

}  // namespace fieldsync::crypto
