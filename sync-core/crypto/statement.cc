#include "crypto/statement.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crypto/bytes.h"
#include "crypto/hash.h"

namespace fieldsync::crypto {
namespace {

constexpr size_t kMaxProvinceBytes = 16;

// Every rule of a well-formed statement but the byte layout.
template <typename Fail>
bool Consistent(const Statement& s, Fail&& fail) {
  if (s.kind != StatementKind::kSeen && s.kind != StatementKind::kSeenAndCheckpoint) {
    return fail("an unknown kind"), false;
  }
  if (s.province.empty() || s.province.size() > kMaxProvinceBytes) {
    return fail(absl::StrCat("a province of ", s.province.size(), " bytes (1 to 16)")), false;
  }
  if (s.position_hash.size() != kHashBytes || s.key_hash.size() != kHashBytes) {
    return fail("a position hash that is not 32 bytes"), false;
  }
  if (s.heads.size() > kMaxStatedHeads) {
    return fail(absl::StrCat(s.heads.size(), " heads (at most ", kMaxStatedHeads, ")")), false;
  }
  for (size_t i = 0; i < s.heads.size(); ++i) {
    const StatedHead& h = s.heads[i];
    if (h.seq == 0) return fail("a head of seq 0"), false;
    if (h.link.size() != kHashBytes) return fail("a head link that is not 32 bytes"), false;
    if (i > 0 && !(s.heads[i - 1].author < h.author)) {
      return fail("heads not in ascending author order, or repeated"), false;
    }
  }
  if (s.refused.size() > kMaxStatedRefusedRanges) {
    return fail(absl::StrCat(s.refused.size(), " refused ranges (at most ",
                             kMaxStatedRefusedRanges, ")")),
           false;
  }
  uint64_t after = 0;
  for (const StatedRange& r : s.refused) {
    if (r.first == 0 || r.first > r.last || r.first <= after) {
      return fail("refused ranges out of order or overlapping"), false;
    }
    after = r.last;
  }
  if (s.kind == StatementKind::kSeenAndCheckpoint) {
    if (s.root.size() != kHashBytes) return fail("a checkpoint root that is not 32 bytes"), false;
  } else if (s.leaf_count != 0 || !s.root.empty()) {
    return fail("a checkpoint in a statement of kind 1"), false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> SignStatement(const DeviceIdentity& signer, const Statement& s) {
  if (signer.device() != s.signer) {
    return absl::InvalidArgumentError("a statement is signed by the device it names");
  }
  std::string problem;
  if (!Consistent(s, [&](std::string p) { problem = std::move(p); })) {
    return absl::InvalidArgumentError(absl::StrCat("cannot encode statement: ", problem));
  }
  std::string out;
  ByteWriter w(&out);
  w.U8(kStatementMagic);
  w.U8(kStatementFormat);
  w.U8(static_cast<uint8_t>(s.kind));
  w.Raw(s.signer.view());
  w.U64(s.created_hlc);
  w.Short(s.province);
  w.Raw(s.hub_id.view());
  w.U64(s.position);
  w.Raw(s.position_hash);
  w.U64(s.key_cursor);
  w.Raw(s.key_hash);
  w.U8(static_cast<uint8_t>(s.heads.size() >> 8));
  w.U8(static_cast<uint8_t>(s.heads.size()));
  for (const StatedHead& h : s.heads) {
    w.Raw(h.author.view());
    w.U64(h.seq);
    w.Raw(h.link);
  }
  w.U8(static_cast<uint8_t>(s.refused.size()));
  for (const StatedRange& r : s.refused) {
    w.U64(r.first);
    w.U64(r.last);
  }
  if (s.kind == StatementKind::kSeenAndCheckpoint) {
    w.U32(s.leaf_count);
    w.Raw(s.root);
  }
  if (out.size() + kSignatureBytes > kMaxStatementBytes) {
    return absl::InvalidArgumentError("cannot encode statement: over 8 KB");
  }
  absl::StatusOr<std::string> sig = signer.Sign(kStatementSignDomain, out);
  if (!sig.ok()) return sig.status();
  out += *sig;
  return out;
}

absl::StatusOr<Statement> DecodeStatement(std::string_view bytes) {
  if (bytes.size() > kMaxStatementBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed statement: ", bytes.size(), " bytes (at most 8 KB)"));
  }
  if (bytes.size() < kSignatureBytes) {
    return absl::InvalidArgumentError("malformed statement: shorter than its signature");
  }
  ByteReader r(bytes.substr(0, bytes.size() - kSignatureBytes), "statement");
  Statement s;
  if (r.U8() != kStatementMagic && r.ok()) r.Fail("not a statement (magic)");
  const uint8_t format = r.U8();
  if (r.ok() && format != kStatementFormat) {
    r.Fail(absl::StrCat("format version ", format, " (this build reads 1)"));
  }
  const uint8_t kind = r.U8();
  if (r.ok() && kind != 1 && kind != 2) r.Fail(absl::StrCat("unknown kind ", kind));
  s.kind = static_cast<StatementKind>(kind);
  std::string_view signer = r.Raw(DeviceId::kSize, "signer");
  s.created_hlc = r.U64();
  s.province = std::string(r.Short("province"));
  std::string_view hub = r.Raw(DeviceId::kSize, "hub id");
  s.position = r.U64();
  s.position_hash = std::string(r.Raw(kHashBytes, "position hash"));
  s.key_cursor = r.U64();
  s.key_hash = std::string(r.Raw(kHashBytes, "key cursor hash"));
  const uint32_t heads = (static_cast<uint32_t>(r.U8()) << 8) | r.U8();
  if (r.ok() && heads > kMaxStatedHeads) r.Fail(absl::StrCat(heads, " heads (at most 128)"));
  for (uint32_t i = 0; r.ok() && i < heads; ++i) {
    std::string_view author = r.Raw(DeviceId::kSize, "head author");
    StatedHead h;
    h.seq = r.U64();
    h.link = std::string(r.Raw(kHashBytes, "head link"));
    if (!r.ok()) break;
    h.author = *DeviceId::FromBytes(author, "head author");  // 16 bytes: always a device id
    s.heads.push_back(std::move(h));
  }
  const uint8_t ranges = r.U8();
  if (r.ok() && ranges > kMaxStatedRefusedRanges) r.Fail("more than 16 refused ranges");
  for (uint8_t i = 0; r.ok() && i < ranges; ++i) {
    StatedRange range;
    range.first = r.U64();
    range.last = r.U64();
    s.refused.push_back(range);
  }
  if (r.ok() && s.kind == StatementKind::kSeenAndCheckpoint) {
    s.leaf_count = r.U32();
    s.root = std::string(r.Raw(kHashBytes, "checkpoint root"));
  }
  r.ExpectEnd();
  if (!r.ok()) return r.status();
  auto signer_id = DeviceId::FromBytes(signer, "statement signer");
  auto hub_id = DeviceId::FromBytes(hub, "statement hub id");
  if (!signer_id.ok() || !hub_id.ok()) {
    return absl::InvalidArgumentError("malformed statement: a device id");
  }
  s.signer = *signer_id;
  s.hub_id = *hub_id;
  std::string problem;
  if (!Consistent(s, [&](std::string p) { problem = std::move(p); })) {
    return absl::InvalidArgumentError(absl::StrCat("malformed statement: ", problem));
  }
  return s;
}

absl::Status VerifyStatement(std::string_view bytes, std::string_view sign_pk) {
  if (bytes.size() < kSignatureBytes) {
    return absl::UnauthenticatedError("a statement shorter than its signature");
  }
  const size_t body = bytes.size() - kSignatureBytes;
  return VerifySignature(sign_pk, kStatementSignDomain, bytes.substr(0, body),
                         bytes.substr(body), "statement");
}

std::string StatementId(std::string_view bytes) {
  std::string id = Blake2b256(bytes);
  id.resize(kStatementIdBytes);
  return id;
}

}  // namespace fieldsync::crypto
