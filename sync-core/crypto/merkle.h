// Checkpoint trees, format version 1 (docs/CRYPTO.md, "Checkpoint trees,
// format version 1"; docs/PROTOCOL-v3.md section 4): the Merkle tree hash of
// RFC 6962 section 2.1 over the leaves of a checkpoint, with BLAKE2b-256 in
// place of SHA-256, and range proofs of pages of leaves. Pure functions: no
// I/O, no SQLite; every hash through crypto/hash.h.
//
//   row leaf  L = BLAKE2b-256("fieldsync row state v1" 0x00 || row state)
//   MTH({})          = BLAKE2b-256("")          (the empty input: our choice)
//   MTH({L})         = BLAKE2b-256(0x00 || L)
//   MTH(L[0..n)), n>1 = BLAKE2b-256(0x01 || MTH(L[0..k)) || MTH(L[k..n)))
//                      k the largest power of two < n
//
// The tree is over the 32-byte leaf hashes L (RowLeafHash), in checkpoint
// order. A root alone does not fix the leaf count (the tree of n leaves and a
// page proved with another n can hash alike): the statement signs the count
// next to the root, and the verifier must be given that signed count.
//
// Range proof of the page [begin, end) of n leaves: the hashes of the tree's
// nodes that lie wholly outside the page and whose parent holds a leaf of it
// (the fewest from which the page's leaves rebuild the root), ordered by the
// position of their leaves: first those covering [0, begin) -- perfect
// subtrees, largest first, as the bits of begin -- then those covering
// [end, n) -- the right siblings of the path from leaf end - 1 as it rises:
// perfect subtrees of growing size, the last possibly a node of the right
// edge (the MTH of a tail [m, n) of any size). At most 2 * ceil(log2 n)
// hashes; their number is fixed by (n, begin, end), and the verifier
// consumes them in that order.
#ifndef FIELDSYNC_CRYPTO_MERKLE_H_
#define FIELDSYNC_CRYPTO_MERKLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fieldsync::crypto {

inline constexpr uint8_t kCheckpointTreeFormat = 1;
inline constexpr std::string_view kRowLeafDomain = "fieldsync row state v1";
// The statement's leaf count is a u32.
inline constexpr uint64_t kMaxMerkleLeaves = 0xFFFFFFFFu;

// The leaf of a row state (bytes as docs/PROTOCOL-v3.md section 4 lists).
std::string RowLeafHash(std::string_view state_bytes);

// MTH of `leaf_hashes` (each expected 32 bytes; not checked here, the
// verifier checks what it receives). O(n) time, O(log n) memory.
std::string MerkleRoot(const std::vector<std::string>& leaf_hashes);

// The range proof of the page [begin, end) of `leaf_hashes`. O(n) time
// (MerkleTree, below, for many pages of one tree). INVALID_ARGUMENT for an
// empty or out-of-range page (n = 0 takes only [0, 0), proof empty), a leaf
// hash not 32 bytes, or more than kMaxMerkleLeaves leaves.
absl::StatusOr<std::vector<std::string>> RangeProof(const std::vector<std::string>& leaf_hashes,
                                                    uint64_t begin, uint64_t end);

// A tree built once, for many proofs: keeps every perfect subtree's hash
// (about 2n hashes, 64 bytes a leaf) and those of the ragged right edge.
// Immutable once built: safe to share between threads.
class MerkleTree {
 public:
  // INVALID_ARGUMENT for a leaf hash not 32 bytes or too many leaves.
  static absl::StatusOr<MerkleTree> Build(const std::vector<std::string>& leaf_hashes);

  uint64_t size() const { return n_; }
  std::string Root() const;
  // As the free RangeProof, in O(log n).
  absl::StatusOr<std::vector<std::string>> RangeProof(uint64_t begin, uint64_t end) const;

 private:
  MerkleTree() = default;
  // The hash of the tree's node over [start, start + size).
  std::string Node(uint64_t start, uint64_t size) const;

  uint64_t n_ = 0;
  // levels_[j]: the perfect subtrees of 2^j leaves at 0, 2^j, ..., 32 bytes
  // each, concatenated.
  std::vector<std::string> levels_;
  // The nodes of the right edge whose size is not a power of two: (start, hash).
  std::vector<std::pair<uint64_t, std::string>> ragged_;
};

// The root the page rebuilds: `page_leaf_hashes` are the leaves
// [begin, begin + page size) of a tree of n leaves, `proof` its range proof.
// INVALID_ARGUMENT ("malformed range proof: ...") for n over
// kMaxMerkleLeaves, a page past n, an empty page when n > 0 (for n = 0: only
// begin 0, no leaves, no proof, giving MTH({})), a hash not 32 bytes, or a
// proof of the wrong number of hashes. The caller compares the result with
// the signed root -- or calls VerifyRange. O(page + log n) hashes.
absl::StatusOr<std::string> RootFromRange(uint64_t n, uint64_t begin,
                                          const std::vector<std::string>& page_leaf_hashes,
                                          const std::vector<std::string>& proof);

// OK when the page and proof rebuild `root` for (n, begin); UNAUTHENTICATED
// when they rebuild another root; INVALID_ARGUMENT as RootFromRange, or for
// a root not 32 bytes.
absl::Status VerifyRange(uint64_t n, uint64_t begin,
                         const std::vector<std::string>& page_leaf_hashes,
                         const std::vector<std::string>& proof, std::string_view root);

// --- Proof deltas (docs/CRYPTO.md, "Proof deltas") ----------------------------
//
// A laptop taking a checkpoint's pages in order keeps, after each page it
// verified, what the next page's proof would repeat: the left part of the
// proof of a page starting at `next` (the perfect subtrees covering
// [0, next), as the bits of next: the compact range of [0, next)) and the
// right part of the last page's proof (the nodes covering [next, n)). The
// hub then sends of a page [begin, end) only the hashes of its proof's right
// part that are not nodes of [begin, n)'s right part (the same node: same
// first leaf and size), and none of its left part. A page of one row costs
// about one hash instead of 2 log2 n.

// The proof state at leaf `next` of a tree of n leaves: `left` the
// popcount(next) hashes of [0, next)'s perfect subtrees (largest first),
// `right` the hashes of the right part of the proof of a page ending at
// `next` (none when next is 0, or n).
struct KeptProof {
  uint64_t next = 0;
  std::vector<std::string> left;
  std::vector<std::string> right;
};

// The state after the page [begin, begin + page size) of n leaves, verified
// with `proof` (its whole range proof): pure, the caller verified first.
// INVALID_ARGUMENT if the proof has the wrong number of hashes.
absl::StatusOr<KeptProof> KeptProofAfter(uint64_t n, uint64_t begin,
                                         const std::vector<std::string>& page_leaf_hashes,
                                         const std::vector<std::string>& proof);

// OK when `kept` has the number of hashes the state at kept.next of n leaves
// holds (each 32 bytes); INVALID_ARGUMENT otherwise (a damaged record).
absl::Status CheckKeptProof(uint64_t n, const KeptProof& kept);

// The positions in the range proof of [begin, end) of n leaves of the
// hashes a laptop holding the state at `begin` lacks, ascending: none of the
// left part, and of the right part the nodes not in [begin, n)'s right part
// (all of it when begin is 0). Empty for a page that is not one.
std::vector<size_t> ProofDeltaPositions(uint64_t n, uint64_t begin, uint64_t end);

// The whole range proof of [kept.next, end) rebuilt from `kept` (the state at
// its first leaf) and `delta` (the hashes at ProofDeltaPositions, in order).
// INVALID_ARGUMENT ("malformed proof delta: ...") for a page that is not
// one, a state of the wrong size, or a delta of the wrong number of hashes or
// a hash not 32 bytes. Nothing is verified here: the caller verifies the
// result against the signed root as any proof (RootFromRange, VerifyRange).
absl::StatusOr<std::vector<std::string>> ProofFromDelta(uint64_t n, const KeptProof& kept,
                                                        uint64_t end,
                                                        const std::vector<std::string>& delta);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_MERKLE_H_
