#include "crypto/commit_header.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/commit_signature.h"
#include "crypto/hash.h"

namespace fieldsync::crypto {
namespace {

constexpr std::string_view kChangesDomain = "fieldsync changes v1";
constexpr std::string_view kTagsDomain = "fieldsync row tags v1";
constexpr std::string_view kTagDomain = "fieldsync row tag v1";
constexpr std::string_view kLinkDomain = "fieldsync commit link v1";
constexpr uint8_t kFlagWithdrawal = 0x01;

// Every rule of a well-formed header but the byte layout; `fail` receives
// the problem.
template <typename Fail>
bool Consistent(const CommitHeader& h, Fail&& fail) {
  if (h.seq == 0) return fail("seq 0 (seqs start at 1)"), false;
  if (h.prev_link.size() != kLinkBytes) return fail("a prev link that is not 32 bytes"), false;
  if (h.seq == 1 && h.prev_link != NoLink()) return fail("seq 1 naming a prev link"), false;
  if (h.seq > 1 && h.prev_link == NoLink()) return fail("no prev link after seq 1"), false;
  if (h.changes_root.size() != kHashBytes || h.tags_root.size() != kHashBytes) {
    return fail("a root that is not 32 bytes"), false;
  }
  if (!h.withdrawal) {
    if (!h.withdrawn.empty()) return fail("withdrawn ranges in a commit entry"), false;
    return true;
  }
  if (h.changes != 0 || h.changes_root != ChangesRoot({}) || h.tags_root != TagsRoot({})) {
    return fail("a withdrawal with changes"), false;
  }
  if (h.withdrawn.empty() || h.withdrawn.size() > kMaxWithdrawnRanges) {
    return fail(absl::StrCat("a withdrawal of ", h.withdrawn.size(), " ranges (1 to ",
                             kMaxWithdrawnRanges, ")")),
           false;
  }
  uint64_t after = 0;  // ranges ascending and apart
  for (const WithdrawnRange& r : h.withdrawn) {
    if (r.first == 0 || r.first > r.last || r.first <= after) {
      return fail("withdrawn ranges out of order or overlapping"), false;
    }
    if (r.last >= h.seq) return fail("a withdrawn range not before the withdrawal"), false;
    if (r.link_before.size() != kLinkBytes || r.link_last.size() != kLinkBytes) {
      return fail("a range link that is not 32 bytes"), false;
    }
    if ((r.first == 1) != (r.link_before == NoLink())) {
      return fail("a range whose link before does not fit its first seq"), false;
    }
    after = r.last;
  }
  return true;
}

}  // namespace

const std::string& NoLink() {
  static const std::string* zeros = new std::string(kLinkBytes, '\0');
  return *zeros;
}

absl::StatusOr<std::string> RowTag(std::string_view table, const RowId& row) {
  if (table.size() > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("row tag: a table name of ", table.size(), " bytes"));
  }
  const char len = static_cast<char>(table.size());
  std::string tag = DomainHash(kTagDomain, {std::string_view(&len, 1), table, row.view()});
  tag.resize(kRowTagBytes);
  return tag;
}

namespace {
std::string RootOf(std::string_view domain, const std::vector<std::string>& items) {
  std::string all;
  for (const std::string& i : items) all += i;
  return DomainHash(domain, {all});
}
}  // namespace

std::string ChangesRoot(const std::vector<std::string>& digests) {
  return RootOf(kChangesDomain, digests);
}

std::string TagsRoot(const std::vector<std::string>& tags) { return RootOf(kTagsDomain, tags); }

absl::StatusOr<std::string> EncodeCommitHeader(const CommitHeader& h) {
  std::string problem;
  if (!Consistent(h, [&](std::string p) { problem = std::move(p); })) {
    return absl::InvalidArgumentError(absl::StrCat("cannot encode commit header: ", problem));
  }
  std::string out;
  out.reserve(kCommitHeaderFixedBytes + kWithdrawnRangeBytes * h.withdrawn.size());
  ByteWriter w(&out);
  w.U8(kCommitHeaderMagic);
  w.U8(kCommitHeaderFormat);
  w.U8(h.withdrawal ? kFlagWithdrawal : 0);
  w.Raw(h.author.view());
  w.U64(h.seq);
  w.U64(h.hlc);
  w.Raw(h.prev_link);
  w.U32(h.changes);
  w.Raw(h.changes_root);
  w.Raw(h.tags_root);
  w.U8(static_cast<uint8_t>(h.withdrawn.size()));
  for (const WithdrawnRange& r : h.withdrawn) {
    w.U64(r.first);
    w.U64(r.last);
    w.Raw(r.link_before);
    w.Raw(r.link_last);
  }
  return out;
}

absl::StatusOr<CommitHeader> DecodeCommitHeader(std::string_view bytes) {
  ByteReader r(bytes, "commit header");
  CommitHeader h;
  if (r.U8() != kCommitHeaderMagic && r.ok()) r.Fail("not a commit header (magic)");
  const uint8_t format = r.U8();
  if (r.ok() && format != kCommitHeaderFormat) {
    r.Fail(absl::StrCat("format version ", format, " (this build reads 1)"));
  }
  const uint8_t flags = r.U8();
  if (r.ok() && (flags & ~kFlagWithdrawal) != 0) r.Fail("unknown flags");
  h.withdrawal = (flags & kFlagWithdrawal) != 0;
  std::string_view author = r.Raw(DeviceId::kSize, "author");
  h.seq = r.U64();
  h.hlc = r.U64();
  h.prev_link = std::string(r.Raw(kLinkBytes, "prev link"));
  h.changes = r.U32();
  h.changes_root = std::string(r.Raw(kHashBytes, "changes root"));
  h.tags_root = std::string(r.Raw(kHashBytes, "tags root"));
  const uint8_t ranges = r.U8();
  if (r.ok() && ranges > kMaxWithdrawnRanges) r.Fail("more than 8 withdrawn ranges");
  for (uint8_t i = 0; r.ok() && i < ranges; ++i) {
    WithdrawnRange wr;
    wr.first = r.U64();
    wr.last = r.U64();
    wr.link_before = std::string(r.Raw(kLinkBytes, "range link before"));
    wr.link_last = std::string(r.Raw(kLinkBytes, "range link last"));
    h.withdrawn.push_back(std::move(wr));
  }
  r.ExpectEnd();
  if (!r.ok()) return r.status();
  auto id = DeviceId::FromBytes(author, "commit header author");
  if (!id.ok()) return absl::InvalidArgumentError(id.status().message());
  h.author = *id;
  std::string problem;
  if (!Consistent(h, [&](std::string p) { problem = std::move(p); })) {
    return absl::InvalidArgumentError(absl::StrCat("malformed commit header: ", problem));
  }
  return h;
}

namespace {

// The number of changes and both roots of `commit` (whole, or trimmed with
// the row tags of what it left out): what its header names. Fills
// `problem` (without the commit's name) and returns false if the body
// cannot be read so.
bool BodyRoots(const Commit& commit, const std::vector<std::string>& omitted_tags,
               CommitHeader* h, std::string* problem) {
  if (omitted_tags.size() != commit.omitted.size()) {
    *problem = "tags of omitted changes";
    return false;
  }
  const size_t total = commit.changes.size() + commit.omitted.size();
  std::vector<std::string> digests, tags;
  digests.reserve(total);
  tags.reserve(total);
  size_t next_change = 0, next_omitted = 0;
  for (size_t i = 0; i < total; ++i) {
    if (next_omitted < commit.omitted.size() && commit.omitted[next_omitted].first == i) {
      const std::string& tag = omitted_tags[next_omitted];
      if (tag.size() != kRowTagBytes) return *problem = "a row tag that is not 16 bytes", false;
      if (commit.omitted[next_omitted].second.size() != kChangeDigestBytes) {
        return *problem = "a change digest that is not 32 bytes", false;
      }
      digests.push_back(commit.omitted[next_omitted].second);
      tags.push_back(tag);
      ++next_omitted;
    } else if (next_change < commit.changes.size()) {
      const RowChange& c = commit.changes[next_change++];
      digests.push_back(ChangeDigest(c));
      absl::StatusOr<std::string> tag = RowTag(c.table, c.row);
      if (!tag.ok()) return *problem = std::string(tag.status().message()), false;
      tags.push_back(*std::move(tag));
    } else {
      return *problem = "omitted change indexes", false;
    }
  }
  if (next_change != commit.changes.size() || next_omitted != commit.omitted.size()) {
    return *problem = "omitted change indexes", false;
  }
  if (total > UINT32_MAX) return *problem = "number of changes", false;
  h->changes = static_cast<uint32_t>(total);
  h->changes_root = ChangesRoot(digests);
  h->tags_root = TagsRoot(tags);
  return true;
}

}  // namespace

absl::StatusOr<CommitHeader> HeaderOfCommit(const Commit& whole, std::string_view prev_link) {
  if (!whole.omitted.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit ", whole.Name(), ": a header is made from the whole commit"));
  }
  return HeaderOfBody(whole, {}, prev_link);
}

absl::StatusOr<CommitHeader> HeaderOfBody(const Commit& commit,
                                          const std::vector<std::string>& omitted_tags,
                                          std::string_view prev_link) {
  CommitHeader h;
  h.author = commit.author;
  h.seq = commit.seq;
  h.hlc = commit.hlc.packed();
  h.prev_link = std::string(prev_link);
  std::string problem;
  if (!BodyRoots(commit, omitted_tags, &h, &problem) ||
      !Consistent(h, [&](std::string p) { problem = std::move(p); })) {
    return absl::InvalidArgumentError(absl::StrCat("commit ", commit.Name(), ": ", problem));
  }
  return h;
}

absl::StatusOr<CommitHeader> WithdrawalHeader(const DeviceId& author, uint64_t seq, uint64_t hlc,
                                              std::string_view prev_link,
                                              std::vector<WithdrawnRange> ranges) {
  CommitHeader h;
  h.withdrawal = true;
  h.author = author;
  h.seq = seq;
  h.hlc = hlc;
  h.prev_link = std::string(prev_link);
  h.changes_root = ChangesRoot({});
  h.tags_root = TagsRoot({});
  h.withdrawn = std::move(ranges);
  std::string problem;
  if (!Consistent(h, [&](std::string p) { problem = std::move(p); })) {
    return absl::InvalidArgumentError(absl::StrCat("withdrawal: ", problem));
  }
  return h;
}

absl::StatusOr<std::string> SignCommitHeader(const DeviceIdentity& author,
                                             std::string_view encoded_header) {
  return author.Sign(kCommitHeaderSignDomain, encoded_header);
}

absl::Status VerifyCommitHeader(std::string_view encoded_header, std::string_view signature,
                                std::string_view author_sign_pk) {
  return VerifySignature(author_sign_pk, kCommitHeaderSignDomain, encoded_header, signature,
                         "commit header");
}

std::string CommitLink(std::string_view encoded_header, std::string_view signature) {
  return DomainHash(kLinkDomain, {encoded_header, signature});
}

absl::Status CheckHeaderCoversCommit(const CommitHeader& header, const Commit& commit,
                                     const std::vector<std::string>& omitted_tags) {
  const auto refuse = [&](std::string_view what) {
    return absl::UnauthenticatedError(
        absl::StrCat("commit ", commit.Name(), " does not match its signed header: ", AV(what)));
  };
  if (header.withdrawal) return refuse("the header is a withdrawal, which has no body");
  if (header.author != commit.author || header.seq != commit.seq) return refuse("author or seq");
  if (header.hlc != commit.hlc.packed()) return refuse("clock");
  CommitHeader body;
  std::string problem;
  if (!BodyRoots(commit, omitted_tags, &body, &problem)) return refuse(problem);
  if (body.changes != header.changes) return refuse("number of changes");
  if (body.changes_root != header.changes_root) return refuse("changes");
  if (body.tags_root != header.tags_root) return refuse("rows touched");
  return absl::OkStatus();
}

}  // namespace fieldsync::crypto
