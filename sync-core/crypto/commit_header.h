// Commit headers, format version 1 (docs/PROTOCOL-v3.md section 1; issue 11
// point 3): the signed entry of a device's commit chain, beside the commit
// body (whose format does not change).
//
//   offset size content
//   0      1    magic 0xF7
//   1      1    format version 1
//   2      1    flags: bit 0 = withdrawal entry; other bits zero
//   3      16   author device
//   19     8    seq, u64 BE (1, 2, 3, ... per author, never reused)
//   27     8    HLC, u64 BE
//   35     32   prev link: the link of the author's entry seq-1; zeros for seq 1
//   67     4    n, the commit's row changes, u32 BE (0 for a withdrawal)
//   71     32   changes root = BLAKE2b-256("fieldsync changes v1" 0x00 || digest_1 .. digest_n)
//   103    32   tags root    = BLAKE2b-256("fieldsync row tags v1" 0x00 || tag_1 .. tag_n)
//   135    1    w, withdrawn ranges (0 unless a withdrawal; 1 to 8 if one)
//   136    80*w each: first seq u64, last seq u64, link of first-1 (32), link of last (32)
//
// digest_i is ChangeDigest (crypto/commit_signature.h) of row change i;
// tag_i = the first 16 bytes of BLAKE2b-256("fieldsync row tag v1" 0x00 ||
// len(table) u8 || table || row id): whether a change touches a row, without
// its content.
// Signature: Ed25519 by the author over "fieldsync commit header v1" 0x00 ||
// header. Link = BLAKE2b-256("fieldsync commit link v1" 0x00 || header ||
// signature): what the author's next entry names as its prev link, so the
// entries of one author form a hash chain the hub cannot reorder, drop from
// or fork without a laptop seeing it.
#ifndef FIELDSYNC_CRYPTO_COMMIT_HEADER_H_
#define FIELDSYNC_CRYPTO_COMMIT_HEADER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/commit.h"
#include "change/id.h"
#include "crypto/identity.h"

namespace fieldsync::crypto {

inline constexpr uint8_t kCommitHeaderMagic = 0xF7;
inline constexpr uint8_t kCommitHeaderFormat = 1;
inline constexpr size_t kCommitHeaderFixedBytes = 136;
inline constexpr size_t kWithdrawnRangeBytes = 80;
inline constexpr size_t kMaxWithdrawnRanges = 8;
inline constexpr size_t kLinkBytes = 32;
inline constexpr size_t kRowTagBytes = 16;
inline constexpr std::string_view kCommitHeaderSignDomain = "fieldsync commit header v1";

// Seqs first..last of the author that will never be delivered, with the
// links on both sides, so a reader can pass over the range without its
// headers.
struct WithdrawnRange {
  uint64_t first = 0;
  uint64_t last = 0;
  std::string link_before;  // the link of entry first-1 (zeros if first is 1)
  std::string link_last;    // the link of entry last

  friend bool operator==(const WithdrawnRange& a, const WithdrawnRange& b) {
    return a.first == b.first && a.last == b.last && a.link_before == b.link_before &&
           a.link_last == b.link_last;
  }
};

struct CommitHeader {
  bool withdrawal = false;
  DeviceId author;
  uint64_t seq = 0;
  uint64_t hlc = 0;        // Hlc::packed()
  std::string prev_link;   // kLinkBytes
  uint32_t changes = 0;
  std::string changes_root;
  std::string tags_root;
  std::vector<WithdrawnRange> withdrawn;

  friend bool operator==(const CommitHeader& a, const CommitHeader& b) {
    return a.withdrawal == b.withdrawal && a.author == b.author && a.seq == b.seq &&
           a.hlc == b.hlc && a.prev_link == b.prev_link && a.changes == b.changes &&
           a.changes_root == b.changes_root && a.tags_root == b.tags_root &&
           a.withdrawn == b.withdrawn;
  }
};

// The 32 zero bytes a first entry names as its prev link.
const std::string& NoLink();

// The row tag of (table, row). INVALID_ARGUMENT for a table name over 255
// bytes.
absl::StatusOr<std::string> RowTag(std::string_view table, const RowId& row);
std::string ChangesRoot(const std::vector<std::string>& digests);
std::string TagsRoot(const std::vector<std::string>& tags);

// The header's bytes. INVALID_ARGUMENT if the header breaks a rule that
// DecodeCommitHeader checks (so nothing undecodable is ever signed).
absl::StatusOr<std::string> EncodeCommitHeader(const CommitHeader& header);

// Strict: INVALID_ARGUMENT ("malformed commit header: ... at byte N") for a
// wrong magic, format or flag, a length that does not fit, seq 0, a first
// entry naming a prev link or a later one naming none, a withdrawal with
// changes or without ranges, ranges out of order, overlapping or not before
// the withdrawal's own seq, a commit entry with ranges.
absl::StatusOr<CommitHeader> DecodeCommitHeader(std::string_view bytes);

// The header of a whole commit (no omitted changes) whose author's previous
// entry has link `prev_link` (NoLink() for seq 1).
absl::StatusOr<CommitHeader> HeaderOfCommit(const Commit& whole, std::string_view prev_link);

// The commit entry (no flags, no ranges) of `commit`, whole or trimmed to
// a node's scope (its `omitted` digests, with `omitted_tags` the row tags of
// those left out, in the same order), naming `prev_link`: every field but
// the prev link is computed from the body. What a compact header rebuilds
// (docs/CRYPTO.md, "Compact headers on the wire"): the author's signature
// then says whether the body and the prev link were the ones it signed.
// INVALID_ARGUMENT naming the commit if the body cannot make a header.
absl::StatusOr<CommitHeader> HeaderOfBody(const Commit& commit,
                                          const std::vector<std::string>& omitted_tags,
                                          std::string_view prev_link);

// A withdrawal entry of `author` at `seq`, of `ranges`.
absl::StatusOr<CommitHeader> WithdrawalHeader(const DeviceId& author, uint64_t seq, uint64_t hlc,
                                              std::string_view prev_link,
                                              std::vector<WithdrawnRange> ranges);

// The author's signature of an encoded header (identity of header.author).
absl::StatusOr<std::string> SignCommitHeader(const DeviceIdentity& author,
                                             std::string_view encoded_header);
// UNAUTHENTICATED unless `signature` is `author_sign_pk`'s over the header.
absl::Status VerifyCommitHeader(std::string_view encoded_header, std::string_view signature,
                                std::string_view author_sign_pk);

// The entry's link: BLAKE2b-256 of the link domain, the header and its
// signature.
std::string CommitLink(std::string_view encoded_header, std::string_view signature);

// Whether `commit` (whole, or trimmed to a node's scope: its `omitted`
// digests, with `omitted_tags` the row tags of those left out, in the same
// order) is the body `header` names: author, seq, HLC, change count and both
// roots. UNAUTHENTICATED naming the commit and what differs otherwise; a
// withdrawal has no body.
absl::Status CheckHeaderCoversCommit(const CommitHeader& header, const Commit& commit,
                                     const std::vector<std::string>& omitted_tags);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_COMMIT_HEADER_H_
