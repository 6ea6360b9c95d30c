#include "crypto/commit_signature.h"

#include <sodium.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "change/commit_codec.h"
#include "crypto/bytes.h"

namespace fieldsync::crypto {

std::string ChangeDigest(const RowChange& change) {
  EnsureSodium();
  std::string enc;
  EncodeRowChangeTo(change, &enc);
  std::string d(kChangeDigestBytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(d.data()), d.size(),
                     reinterpret_cast<const unsigned char*>(enc.data()), enc.size(), nullptr, 0);
  return d;
}

absl::StatusOr<std::string> CommitSignedMessage(const Commit& c) {
  const size_t total = c.changes.size() + c.omitted.size();
  std::string m;
  m.reserve(36 + total * kChangeDigestBytes);
  ByteWriter w(&m);
  w.Raw(c.author.view());
  w.U64(c.seq);
  w.U64(c.hlc.packed());
  w.U32(static_cast<uint32_t>(total));
  size_t next_change = 0;
  size_t next_omitted = 0;
  for (size_t i = 0; i < total; ++i) {
    if (next_omitted < c.omitted.size() && c.omitted[next_omitted].first == i) {
      const std::string& d = c.omitted[next_omitted++].second;
      if (d.size() != kChangeDigestBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("commit ", c.Name(), ": omitted change digest of ", d.size(), " bytes"));
      }
      w.Raw(d);
    } else if (next_change < c.changes.size()) {
      w.Raw(ChangeDigest(c.changes[next_change++]));
    } else {
      break;
    }
  }
  if (next_change != c.changes.size() || next_omitted != c.omitted.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "commit ", c.Name(), ": omitted change indexes do not fit its ", c.changes.size(),
        " changes (out of order or out of range)"));
  }
  return m;
}

absl::StatusOr<std::string> SignCommit(const DeviceIdentity& author, const Commit& commit) {
  if (!commit.omitted.empty()) {
    Commit whole = commit;
    whole.omitted.clear();
    return SignCommit(author, whole);
  }
  absl::StatusOr<std::string> m = CommitSignedMessage(commit);
  if (!m.ok()) return m.status();
  return author.Sign(kCommitSignDomain, *m);
}

absl::Status VerifyCommitSignature(const Commit& commit, std::string_view author_sign_pk) {
  absl::StatusOr<std::string> m = CommitSignedMessage(commit);
  if (!m.ok()) return absl::UnauthenticatedError(m.status().message());
  return VerifySignature(author_sign_pk, kCommitSignDomain, *m, commit.signature,
                         absl::StrCat("commit ", commit.Name()));
}

}  // namespace fieldsync::crypto
