#include "sync/compact_header.h"

#include "absl/strings/str_cat.h"
#include "change/commit_codec.h"
#include "crypto/commit_header.h"

namespace fieldsync::sync {

std::optional<std::string> MessageLinks::Before(const DeviceId& author, uint64_t seq) const {
  auto it = last_.find(author);
  if (it == last_.end() || seq == 0 || it->second.first != seq - 1) return std::nullopt;
  return it->second.second;
}

void MessageLinks::Saw(const DeviceId& author, uint64_t seq, std::string link) {
  last_[author] = {seq, std::move(link)};
}

void MessageLinks::SawWhole(std::string_view header, std::string_view signature) {
  if (header.empty()) return;
  absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(header);
  if (h.ok()) Saw(h->author, h->seq, crypto::CommitLink(header, signature));
}

void HeaderCompactor::Offer(const Commit* body, const std::vector<std::string>& omitted_tags,
                            std::string* header, const std::string& signature,
                            std::string* prev_link) {
  prev_link->clear();
  if (header->empty()) return;  // a commit without a header
  absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(*header);
  if (!h.ok()) return;  // sent as it is; the receiver says what is wrong
  std::string link = crypto::CommitLink(*header, signature);
  if (body != nullptr && !h->withdrawal && !signature.empty()) {
    // Compact only if the receiver rebuilds these very bytes: a stored
    // header that does not cover its body travels whole, so that the
    // receiver holds the body back against it as it always did.
    absl::StatusOr<crypto::CommitHeader> rebuilt =
        crypto::HeaderOfBody(*body, omitted_tags, h->prev_link);
    absl::StatusOr<std::string> bytes =
        rebuilt.ok() ? crypto::EncodeCommitHeader(*rebuilt) : rebuilt.status();
    if (bytes.ok() && *bytes == *header) {
      const std::optional<std::string> before = links_.Before(h->author, h->seq);
      if (h->seq > 1 && before != h->prev_link) *prev_link = h->prev_link;
      header->clear();
    }
  }
  links_.Saw(h->author, h->seq, std::move(link));
}

absl::Status HeaderExpander::Take(const Commit* body, const std::vector<std::string>& omitted_tags,
                                  std::string* header, const std::string& signature,
                                  std::string* prev_link) {
  if (!IsCompactHeader(*header, signature)) {
    if (!prev_link->empty()) {
      return absl::InvalidArgumentError("a prev link beside a whole header or no header");
    }
    links_.SawWhole(*header, signature);
    return absl::OkStatus();
  }
  if (body == nullptr) return absl::InvalidArgumentError("a compact header without its commit");
  std::string prev;
  if (!prev_link->empty()) {
    if (prev_link->size() != crypto::kLinkBytes) {
      return absl::InvalidArgumentError(absl::StrCat("commit ", body->Name(),
                                                     ": a compact header's prev link of ",
                                                     prev_link->size(), " bytes (32)"));
    }
    prev = std::move(*prev_link);
  } else if (body->seq == 1) {
    prev = crypto::NoLink();
  } else if (std::optional<std::string> before = links_.Before(body->author, body->seq)) {
    prev = *std::move(before);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "commit ", body->Name(), ": a compact header without its prev link, and its author's "
        "entry before it is not earlier in the message"));
  }
  prev_link->clear();
  absl::StatusOr<crypto::CommitHeader> h = crypto::HeaderOfBody(*body, omitted_tags, prev);
  if (!h.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a compact header that cannot be rebuilt: ", h.status().message()));
  }
  absl::StatusOr<std::string> bytes = crypto::EncodeCommitHeader(*h);
  if (!bytes.ok()) return absl::InvalidArgumentError(bytes.status().message());
  *header = *std::move(bytes);
  links_.Saw(h->author, h->seq, crypto::CommitLink(*header, signature));
  return absl::OkStatus();
}

void CompactPulled(std::vector<PulledEntry>& entries) {
  HeaderCompactor compactor;
  for (PulledEntry& e : entries) {
    std::optional<Commit> body;
    if (!e.canonical.empty() && !e.header.empty()) {
      absl::StatusOr<Commit> c = DecodeCommit(e.canonical);
      if (c.ok()) {
        c->omitted = e.omitted;
        body = *std::move(c);
      }
    }
    compactor.Offer(body ? &*body : nullptr, e.omitted_tags, &e.header, e.header_signature,
                    &e.header_prev_link);
  }
}

absl::Status ExpandPushed(std::vector<PushedCommit>& commits) {
  HeaderExpander expander;
  for (size_t i = 0; i < commits.size(); ++i) {
    PushedCommit& c = commits[i];
    std::optional<Commit> body;
    if (IsCompactHeader(c.header, c.header_signature)) {
      absl::StatusOr<Commit> decoded = DecodeCommit(c.canonical);
      if (!decoded.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "commit ", i, " of ", commits.size(), " is malformed, nothing of the batch was "
            "stored: ", decoded.status().message()));
      }
      body = *std::move(decoded);
    }
    if (absl::Status s = expander.Take(body ? &*body : nullptr, {}, &c.header, c.header_signature,
                                       &c.header_prev_link);
        !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("commit ", i, " of ", commits.size(), ": ",
                                                     s.message(),
                                                     "; nothing of the push was stored"));
    }
  }
  return absl::OkStatus();
}

absl::Status ExpandPulled(std::vector<PulledEntry>& entries) {
  HeaderExpander expander;
  for (PulledEntry& e : entries) {
    std::optional<Commit> body;
    if (IsCompactHeader(e.header, e.header_signature) && !e.canonical.empty()) {
      absl::StatusOr<Commit> decoded = DecodeCommit(e.canonical);
      if (!decoded.ok()) return decoded.status();
      decoded->omitted = e.omitted;
      body = *std::move(decoded);
    }
    if (absl::Status s = expander.Take(body ? &*body : nullptr, e.omitted_tags, &e.header,
                                       e.header_signature, &e.header_prev_link);
        !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the entry at log position ", e.position, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

bool AnyCompact(const std::vector<PushedCommit>& commits) {
  for (const PushedCommit& c : commits) {
    if (IsCompactHeader(c.header, c.header_signature) || !c.header_prev_link.empty()) return true;
  }
  return false;
}

}  // namespace fieldsync::sync
