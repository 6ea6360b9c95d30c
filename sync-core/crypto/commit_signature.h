// Commit signatures (format version 1; docs/CRYPTO.md, "Signed commits").
//
// A commit is signed once, by its author device, with Ed25519 over
//   "fieldsync commit signature v1" 0x00
//   author device id (16) || seq (u64 BE) || HLC (u64 BE) || n (u32 BE)
//   || digest_1 || ... || digest_n
// where digest_i is BLAKE2b-256 of row change i in its canonical encoding
// (change/commit_codec.h). Signing digests rather than the whole body lets a
// hub hand a node only the row changes the node may see: it sends the
// digests of the ones it left out (which reveal nothing), and the node still
// verifies the author's signature over the whole commit.
#ifndef FIELDSYNC_CRYPTO_COMMIT_SIGNATURE_H_
#define FIELDSYNC_CRYPTO_COMMIT_SIGNATURE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/commit.h"
#include "crypto/identity.h"

namespace fieldsync::crypto {

inline constexpr size_t kChangeDigestBytes = 32;

// BLAKE2b-256 of one row change's canonical encoding.
std::string ChangeDigest(const RowChange& change);

// The message a signature covers. `commit.omitted` supplies the digests of
// row changes left out of a trimmed commit (by index in the whole commit).
// INVALID_ARGUMENT if those indexes do not fit together with the changes.
absl::StatusOr<std::string> CommitSignedMessage(const Commit& commit);

// The signature of `commit` by its author (whose identity this must be).
// An error if the commit's omitted digests do not fit, or if a delegated
// identity's agent could not sign (DeviceIdentity::Sign).
absl::StatusOr<std::string> SignCommit(const DeviceIdentity& author, const Commit& commit);

// UNAUTHENTICATED naming the commit unless its signature verifies against
// `author_sign_pk` (the Ed25519 key of commit.author).
absl::Status VerifyCommitSignature(const Commit& commit, std::string_view author_sign_pk);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_COMMIT_SIGNATURE_H_
