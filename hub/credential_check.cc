#include "hub/credential_check.h"

#include <sodium.h>

#include "crypto/credential_proof.h"
#include "crypto/hash.h"

namespace fieldsync::hub {
namespace {

bool SameBytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

CredentialCheck CredentialCheck::Secret(std::string secret) {
  CredentialCheck c;
  c.secret_ = std::move(secret);
  return c;
}

CredentialCheck CredentialCheck::Proof(const DeviceId& hub, const DeviceId& device,
                                       std::string proof,
                                       std::vector<std::string> certificate_digests) {
  CredentialCheck c;
  c.hub_ = hub;
  c.device_ = device;
  c.proof_ = std::move(proof);
  c.digests_ = std::move(certificate_digests);
  return c;
}

absl::Status CredentialCheck::Verify(std::string_view secret_hash) const {
  bool ok = false;
  // An unknown device's hash is empty: no key, nothing matches.
  if (secret_hash.size() == crypto::kHashBytes) {
    if (!proof_.empty()) {
      // Every digest is tried, whichever matches: the time taken does not
      // say which certificate a proof was made over.
      for (const std::string& d : digests_) {
        ok |= SameBytes(proof_, crypto::CredentialProof(secret_hash, hub_, device_, d));
      }
    } else if (!secret_.empty()) {
      ok = SameBytes(secret_hash, crypto::SecretHash(secret_));
    }
  }
  if (ok) return absl::OkStatus();
  return absl::UnauthenticatedError(
      "the node's credential was not accepted by the hub: its credential file is damaged or "
      "belongs to another hub; enrol again with a new token");
}

}  // namespace fieldsync::hub
