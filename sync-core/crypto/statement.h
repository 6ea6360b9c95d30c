// Signed statements of what a laptop has seen, format version 1
// (docs/PROTOCOL-v3.md section 6; issue 11 point 3): a laptop signs the head
// of every commit chain it holds, so that colleagues and partner offices,
// given the statement through the hub, can tell whether the hub showed them
// the same history (fork consistency, as in SUNDR).
//
//   offset size content
//   0      1    magic 0xF8
//   1      1    format version 1
//   2      1    kind: 1 seen; 2 seen and checkpoint (not made yet)
//   3      16   signer device
//   19     8    created HLC, u64 BE (Hlc::packed())
//   27     1+k  province (length byte, UTF-8, 1..16 bytes)
//   .      16   hub id
//   .      8+32 hub log position p (the signer's cursor), hash(p): zeros until
//               the hub's log chain (section 5) exists; not checked then
//   .      8+32 key cursor and its hash (zeros likewise)
//   .      2    h, heads, at most 128, u16 BE
//   .      56*h author 16, seq u64 BE, link 32; ascending by author, one each
//   .      1    r, the signer's own seqs refused by the hub, as ranges (<= 16)
//   .      16*r first seq u64, last seq u64; ascending, apart
//   .      4+32 kind 2 only: leaf count u32, root
//   end-64 64   Ed25519 by the signer over "fieldsync statement v1" 0x00 ||
//               every byte before
//
// At most 8 KB whole. A head (X, s, L) says: the signer holds X's chain
// entry s and its link is L (crypto/commit_header.h), every entry before it
// placed. The signer's own chain is among the heads.
#ifndef FIELDSYNC_CRYPTO_STATEMENT_H_
#define FIELDSYNC_CRYPTO_STATEMENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "crypto/identity.h"

namespace fieldsync::crypto {

inline constexpr uint8_t kStatementMagic = 0xF8;
inline constexpr uint8_t kStatementFormat = 1;
inline constexpr size_t kMaxStatementBytes = 8 * 1024;
inline constexpr size_t kMaxStatedHeads = 128;
inline constexpr size_t kMaxStatedRefusedRanges = 16;
inline constexpr size_t kStatementIdBytes = 16;
inline constexpr std::string_view kStatementSignDomain = "fieldsync statement v1";

enum class StatementKind : uint8_t { kSeen = 1, kSeenAndCheckpoint = 2 };

struct StatedHead {
  DeviceId author;
  uint64_t seq = 0;
  std::string link;  // 32 bytes

  friend bool operator==(const StatedHead& a, const StatedHead& b) {
    return a.author == b.author && a.seq == b.seq && a.link == b.link;
  }
};

struct StatedRange {
  uint64_t first = 0;
  uint64_t last = 0;
  friend bool operator==(const StatedRange& a, const StatedRange& b) {
    return a.first == b.first && a.last == b.last;
  }
};

struct Statement {
  StatementKind kind = StatementKind::kSeen;
  DeviceId signer;
  uint64_t created_hlc = 0;
  std::string province;
  DeviceId hub_id;
  uint64_t position = 0;
  std::string position_hash = std::string(32, '\0');
  uint64_t key_cursor = 0;
  std::string key_hash = std::string(32, '\0');
  std::vector<StatedHead> heads;
  std::vector<StatedRange> refused;
  uint32_t leaf_count = 0;  // kind 2 only
  std::string root;         // kind 2 only: 32 bytes

  friend bool operator==(const Statement& a, const Statement& b) {
    return a.kind == b.kind && a.signer == b.signer && a.created_hlc == b.created_hlc &&
           a.province == b.province && a.hub_id == b.hub_id && a.position == b.position &&
           a.position_hash == b.position_hash && a.key_cursor == b.key_cursor &&
           a.key_hash == b.key_hash && a.heads == b.heads && a.refused == b.refused &&
           a.leaf_count == b.leaf_count && a.root == b.root;
  }
};

// The statement signed by `signer` (its device must be statement.signer):
// the bytes above, signature included. INVALID_ARGUMENT if the statement
// breaks a rule DecodeStatement checks (heads unsorted, too many, ...), so
// nothing undecodable is ever signed.
absl::StatusOr<std::string> SignStatement(const DeviceIdentity& signer, const Statement& s);

// Strict: INVALID_ARGUMENT ("malformed statement: ...") for a wrong magic,
// format or kind, a length that does not fit, over 8 KB, heads unsorted or
// repeated or with seq 0, ranges out of order. Does not verify the signature.
absl::StatusOr<Statement> DecodeStatement(std::string_view bytes);

// UNAUTHENTICATED unless the statement's last 64 bytes are `sign_pk`'s
// Ed25519 signature over what precedes them.
absl::Status VerifyStatement(std::string_view bytes, std::string_view sign_pk);

// The first 16 bytes of BLAKE2b-256 of the whole statement.
std::string StatementId(std::string_view bytes);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_STATEMENT_H_
