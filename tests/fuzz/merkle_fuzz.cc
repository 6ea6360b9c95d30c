// libFuzzer target: range proofs of checkpoint trees (sync-core/crypto/
// merkle.h), which a hub sends with every bootstrap page and a laptop checks
// before installing a row. The input, after a mode byte:
//
//   offset size content
//   0      1    mode: even fuzzes RootFromRange as given; odd builds a real tree
//   1      4    n, u32 BE (odd: 1 + n % 64 leaves)
//   5      4    begin, u32 BE (odd: begin % n)
//   9      1    page leaves (odd: the page is [begin, begin + 1 + this % (n - begin)))
//   10     1    proof hashes (even only)
//   11     .    32-byte hashes: the page's then the proof's (even), the leaves
//               (odd), taken in turn from these bytes, cycled, zero-padded
//
// Properties checked (trap if broken):
//   - even: RootFromRange never crashes; when it answers, the root is 32
//     bytes, the page lies within n and is empty only for n = 0, the proof
//     holds at most 2 * ceil(log2 n) hashes, and VerifyRange accepts that root;
//   - odd: the free RangeProof and MerkleTree's agree, the page and its proof
//     rebuild MerkleRoot (equal to MerkleTree::Root), and the page with one
//     leaf changed, or at begin + 1, does not verify.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/hash.h"
#include "crypto/merkle.h"

namespace {

using fieldsync::crypto::kHashBytes;

uint32_t U32(std::string_view in, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    v = (v << 8) | (at + i < in.size() ? static_cast<uint8_t>(in[at + i]) : 0);
  }
  return v;
}

uint8_t Byte(std::string_view in, size_t at) {
  return at < in.size() ? static_cast<uint8_t>(in[at]) : 0;
}

// Hashes drawn in turn from `bytes`, cycled; zeros when there are none.
class Hashes {
 public:
  explicit Hashes(std::string_view bytes) : bytes_(bytes) {}
  std::string Next() {
    std::string h(kHashBytes, '\0');
    if (bytes_.empty()) return h;
    for (char& c : h) c = bytes_[at_++ % bytes_.size()];
    return h;
  }
  std::vector<std::string> Take(size_t count) {
    std::vector<std::string> out;
    for (size_t i = 0; i < count; ++i) out.push_back(Next());
    return out;
  }

 private:
  std::string_view bytes_;
  size_t at_ = 0;
};

size_t CeilLog2(uint64_t n) {
  size_t bits = 0;
  while ((uint64_t{1} << bits) < n) ++bits;
  return bits;
}

void Raw(std::string_view in) {
  using namespace fieldsync::crypto;
  const uint64_t n = U32(in, 1), begin = U32(in, 5);
  Hashes source(in.size() > 11 ? in.substr(11) : std::string_view());
  const std::vector<std::string> page = source.Take(Byte(in, 9));
  const std::vector<std::string> proof = source.Take(Byte(in, 10));
  absl::StatusOr<std::string> root = RootFromRange(n, begin, page, proof);
  if (!root.ok()) return;
  if (root->size() != kHashBytes) __builtin_trap();
  if (begin + page.size() > n || (page.empty() && n != 0)) __builtin_trap();
  if (proof.size() > 2 * CeilLog2(n)) __builtin_trap();
  if (!VerifyRange(n, begin, page, proof, *root).ok()) __builtin_trap();
}

void Honest(std::string_view in) {
  using namespace fieldsync::crypto;
  const uint64_t n = 1 + U32(in, 1) % 64;
  const uint64_t begin = U32(in, 5) % n;
  const uint64_t end = begin + 1 + Byte(in, 9) % (n - begin);
  Hashes source(in.size() > 11 ? in.substr(11) : std::string_view());
  const std::vector<std::string> leaves = source.Take(n);
  absl::StatusOr<MerkleTree> tree = MerkleTree::Build(leaves);
  absl::StatusOr<std::vector<std::string>> proof = RangeProof(leaves, begin, end);
  if (!tree.ok() || !proof.ok()) __builtin_trap();
  absl::StatusOr<std::vector<std::string>> from_tree = tree->RangeProof(begin, end);
  if (!from_tree.ok() || *from_tree != *proof) __builtin_trap();
  const std::string root = MerkleRoot(leaves);
  if (tree->Root() != root) __builtin_trap();
  std::vector<std::string> page(leaves.begin() + begin, leaves.begin() + end);
  if (!VerifyRange(n, begin, page, *proof, root).ok()) __builtin_trap();
  // Shifted: unless the leaves there are the same (the input may repeat).
  if (end < n && VerifyRange(n, begin + 1, page, *proof, root).ok()) {
    const std::vector<std::string> there(leaves.begin() + begin + 1, leaves.begin() + end + 1);
    if (there != page) __builtin_trap();
  }
  page[0][0] ^= 1;
  if (VerifyRange(n, begin, page, *proof, root).ok()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (Byte(in, 0) % 2 == 0) {
    Raw(in);
  } else {
    Honest(in);
  }
  return 0;
}
