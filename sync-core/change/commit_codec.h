// The canonical binary encoding of a commit (format version 1). It is what
// the replica stores in its log, what travels inside the wire messages, and
// (from the encryption issue on) what is signed; docs/FORMATS.md describes it
// byte by byte. Encoding is deterministic, and the decoder accepts only the
// canonical form: minimal varints, known tags, no trailing bytes, so
// Encode(Decode(b)) == b for every b it accepts.
#ifndef FIELDSYNC_CHANGE_COMMIT_CODEC_H_
#define FIELDSYNC_CHANGE_COMMIT_CODEC_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "change/commit.h"

namespace fieldsync {

inline constexpr uint8_t kCommitFormatVersion = 1;

std::string EncodeCommit(const Commit& commit);
void EncodeCommitTo(const Commit& commit, std::string* out);
// One row change as it appears inside an encoded commit (what a commit
// signature hashes, change by change).
void EncodeRowChangeTo(const RowChange& change, std::string* out);

// INVALID_ARGUMENT "malformed commit: ... at byte N" for anything that is not
// a canonical version-1 commit, including an unknown format version.
// Structure only: call ValidateCommit for the schema rules.
absl::StatusOr<Commit> DecodeCommit(std::string_view bytes);

}  // namespace fieldsync

#endif  // FIELDSYNC_CHANGE_COMMIT_CODEC_H_
