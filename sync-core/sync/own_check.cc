#include "sync/own_check.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/commit_header.h"
#include "crypto/commit_signature.h"

namespace fieldsync::sync {

namespace {

// Whether the commit's header is sound alone: decodes, is a commit's (not a
// withdrawal's) of this author at this seq, signed by `own_sign_pk`.
absl::Status HeaderSound(const Commit& c, std::string_view own_sign_pk,
                         crypto::CommitHeader* out) {
  if (c.header.empty() && c.header_signature.empty()) {
    return absl::NotFoundError("it has no signed header (this laptop's chain had not begun)");
  }
  absl::StatusOr<crypto::CommitHeader> h = crypto::DecodeCommitHeader(c.header);
  if (!h.ok()) return absl::DataLossError(absl::StrCat("its header: ", h.status().message()));
  if (h->withdrawal || h->author != c.author || h->seq != c.seq) {
    return absl::DataLossError("its header names another entry");
  }
  if (absl::Status v = crypto::VerifyCommitHeader(c.header, c.header_signature, own_sign_pk);
      !v.ok()) {
    return absl::DataLossError(absl::StrCat("its header: ", v.message()));
  }
  *out = *std::move(h);
  return absl::OkStatus();
}

}  // namespace

OwnCheck CheckOwnCommit(const Commit& c, std::string_view own_sign_pk) {
  OwnCheck out;
  crypto::CommitHeader h;
  const absl::Status header = HeaderSound(c, own_sign_pk, &h);
  absl::Status body = crypto::VerifyCommitSignature(c, own_sign_pk);
  if (body.ok() && header.ok()) body = crypto::CheckHeaderCoversCommit(h, c, {});
  if (body.ok() && (header.ok() || header.code() == absl::StatusCode::kNotFound)) return out;
  if (header.ok()) {
    out.kind = OwnCheck::Kind::kBodyDamaged;
    out.why = std::string(body.message());
    return out;
  }
  out.kind = OwnCheck::Kind::kHeaderDamaged;
  out.why = body.ok() ? std::string(header.message())
                      : absl::StrCat(body.message(), "; ", header.message());
  return out;
}

}  // namespace fieldsync::sync
