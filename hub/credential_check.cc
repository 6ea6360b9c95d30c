#include "hub/credential_check.h"

#include <sodium.h>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "crypto/credential_proof.h"
#include "crypto/hash.h"

namespace fieldsync::hub {
namespace {

bool SameBytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

// The words of a wrong secret, whatever did not match.
absl::Status CredentialRefused(std::string_view why) {
  absl::Status s = absl::UnauthenticatedError(
      "the node's credential was not accepted by the hub: its credential file is damaged or "
      "belongs to another hub; enrol again with a new token");
  if (!why.empty()) s.SetPayload(AV(kCredentialRefusalWhy), absl::Cord(AV(why)));
  return s;
}

std::optional<std::string> CredentialRefusalWhy(const absl::Status& s) {
  auto why = s.GetPayload(AV(kCredentialRefusalWhy));
  if (!why) return std::nullopt;
  return std::string(*why);
}

LinkKeyState LinkKeyStateOf(std::string_view link_pk) {
  if (link_pk.empty()) return LinkKeyState::kNone;
  return link_pk == kLinkKeyClosed ? LinkKeyState::kClosed : LinkKeyState::kHeld;
}

std::optional<std::string> TwoHoldersAlarmKey(const absl::Status& s) {
  auto key = s.GetPayload(AV(kTwoHoldersAlarm));
  if (!key) return std::nullopt;
  return std::string(*key);
}

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

CredentialCheck& CredentialCheck::WithLinkProof(std::string link_proof,
                                                std::string certificate_digest) {
  link_proof_ = std::move(link_proof);
  link_digest_ = std::move(certificate_digest);
  return *this;
}

bool CredentialCheck::ServesLinkDigest() const {
  for (const std::string& d : digests_) {
    if (d == link_digest_) return true;
  }
  return false;
}

bool CredentialCheck::LinkProofVerifies(std::string_view link_public_key) const {
  return !link_proof_.empty() && ServesLinkDigest() &&
         crypto::VerifyLinkProof(link_public_key, hub_, device_, link_digest_, link_proof_);
}

bool CredentialCheck::V1ProofVerifies(std::string_view secret_hash) const {
  if (proof_.empty()) return false;
  // Every digest is tried, whichever matches: the time taken does not
  // say which certificate a proof was made over.
  bool ok = false;
  for (const std::string& d : digests_) {
    ok |= SameBytes(proof_, crypto::CredentialProof(secret_hash, hub_, device_, d));
  }
  return ok;
}

absl::Status CredentialCheck::Verify(std::string_view secret_hash,
                                     std::string_view link_public_key) const {
  // An unknown device's hash is empty: no key, nothing matches.
  if (secret_hash.size() != crypto::kHashBytes) return CredentialRefused("");
  const std::string unknown_certificate =
      absl::StrCat("a proof over an unknown certificate (SHA-256 ",
                   crypto::HashHex(link_digest_).substr(0, 16),
                   "…): not this hub's, nor one given to serve --proof-cert (a TLS proxy in front "
                   "of the hub without it, or a party under the same CA)");
  if (LinkKeyStateOf(link_public_key) == LinkKeyState::kClosed) {
    return CredentialRefused(
        "a device closed after a two-holders alarm: it is refused until the laptop is "
        "enrolled again (fieldhub enroll-token, then fieldnode enroll on the real laptop)");
  }
  if (!link_public_key.empty()) {
    // The device proves with its link key: nothing made from its secret or
    // from the hub's copy of it is taken any more.
    if (!link_proof_.empty()) {
      if (!ServesLinkDigest()) return CredentialRefused(unknown_certificate);
      if (crypto::VerifyLinkProof(link_public_key, hub_, device_, link_digest_, link_proof_)) {
        return absl::OkStatus();
      }
      // Beside it, a version 1 proof made from the device's secret: the
      // caller holds the secret (or the store's copy of its hash) and yet
      // not the key registered for it. Two parties hold material of one
      // device. This call is refused and nothing else: either can make it
      // (the holder of a store copy for any keyed device), so closing the
      // device would hand a copy of the store the power to close them all.
      if (V1ProofVerifies(secret_hash)) {
        absl::Status s = CredentialRefused(
            "a version 1 proof that verifies against the device's secret hash with a link proof "
            "that does not verify against its link key: two holders of this device's "
            "credential, a link key registered by someone else from a copy of the hub's store, "
            "or such a copy or a stolen secret in other hands (two-holders alarm); this call is "
            "refused, the device's link key kept");
        s.SetPayload(AV(kTwoHoldersAlarm), absl::Cord(AV(link_public_key)));
        return s;
      }
      return CredentialRefused("a link proof that does not verify against the device's link key");
    }
    if (!secret_.empty()) {
      return CredentialRefused(
          "a bearer (the secret itself) for a device that proves with its link key: the secret "
          "was taken from the laptop or from what it sent before (stolen-secret alarm)");
    }
    return CredentialRefused(
        "a version 1 proof for a device that proves with its link key: made from the hub's "
        "stored secret hash (a copy of the hub's store) or from a stolen secret (stolen-secret "
        "alarm)");
  }
  if (!proof_.empty()) {
    if (V1ProofVerifies(secret_hash)) return absl::OkStatus();
    // A laptop of session 24 names the certificate it saw.
    if (!link_digest_.empty() && !ServesLinkDigest()) return CredentialRefused(unknown_certificate);
    return CredentialRefused("a proof that does not verify against the device's secret hash");
  }
  if (!secret_.empty()) {
    if (SameBytes(secret_hash, crypto::SecretHash(secret_))) return absl::OkStatus();
    return CredentialRefused("a bearer that is not the device's secret");
  }
  return CredentialRefused("no proof the hub can check (a link proof for a device without a link key)");
}

}  // namespace fieldsync::hub
