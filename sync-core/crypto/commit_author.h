// Whether a commit's author may have signed it: the checks of its author a
// laptop makes before it verifies the signature (store/keyring_seal.cc,
// KeyRing::Verify, reads the registry and the office's membership, asks
// this, then checks the signature and the commit's moves). Pure: what it
// needs of the key table comes as facts, the membership asked for only if
// the checks before it pass.
#ifndef FIELDSYNC_CRYPTO_COMMIT_AUTHOR_H_
#define FIELDSYNC_CRYPTO_COMMIT_AUTHOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/commit.h"
#include "crypto/identity.h"
#include "crypto/membership.h"

namespace fieldsync::crypto {

// A commit's author as this laptop holds it.
struct CommitAuthor {
  // The keys this laptop's registry lists for it; null if it does not list it.
  const DevicePublic* registered = nullptr;
  std::string_view name;  // as the registry names it
  bool revoked = false;
  // The hub's log position of its revocation: commits it signed that sit
  // later in the hub's log (or at no known position, 0) are refused.
  int64_t revoked_position = 0;
  // Why it is cut off here (removed or revoked, and this laptop completed a
  // pull since the hub held that: KeyRing::Impl::CutOff); null if it is not.
  const std::string* cut_off = nullptr;
  // The membership of the office the registry lists it in (null: no first
  // device pinned); asked only once the checks above pass.
  std::function<absl::StatusOr<std::shared_ptr<const Membership>>()> office;
};

// OK if commit `c`, at `position` in the hub's log (0: unknown), may be
// its author's: listed in the registry, not signed after its revocation,
// not arriving after this laptop saw it cut off, and, if its office's
// chain approved it, registered with the keys it was approved with (a hub
// that lists other keys for a device cannot have its commits taken).
// Otherwise the refusal, UNAUTHENTICATED or PERMISSION_DENIED, in one line
// (or the error of asking for the membership).
absl::Status CommitAuthorRefusal(const Commit& c, const CommitAuthor& author, int64_t position);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_COMMIT_AUTHOR_H_
