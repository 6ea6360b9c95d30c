#include "crypto/enrolment_proof.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "crypto/secret.h"

namespace fieldsync::crypto {

std::string EnrolmentMessage(const DeviceId& hub, std::string_view challenge,
                             std::string_view token, const DevicePublic& keys) {
  EnsureSodium();
  unsigned char token_hash[32];
  crypto_generichash(token_hash, sizeof token_hash,
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr,
                     0);
  std::string m;
  m.reserve(16 + challenge.size() + sizeof token_hash + 16 + 64);
  m.append(hub.view());
  m.append(challenge);
  m.append(reinterpret_cast<const char*>(token_hash), sizeof token_hash);
  m.append(keys.device.view());
  m.append(keys.sign_pk);
  m.append(keys.box_pk);
  return m;
}

absl::StatusOr<std::string> SignEnrolment(const DeviceIdentity& id, const DeviceId& hub,
                                          std::string_view challenge, std::string_view token,
                                          std::string_view certificate_digest) {
  if (challenge.size() != kEnrolChallengeBytes) {
    return absl::InvalidArgumentError("the hub's enrolment challenge has the wrong length");
  }
  std::string m = EnrolmentMessage(hub, challenge, token, id.public_keys());
  if (certificate_digest.empty()) return id.Sign(kEnrolmentDomain, m);
  m.append(certificate_digest);
  return id.Sign(kEnrolmentDomainV2, m);
}

absl::Status VerifyEnrolment(const DevicePublic& keys, const DeviceId& hub,
                             std::string_view challenge, std::string_view token,
                             std::string_view proof,
                             const std::vector<std::string>& certificate_digests) {
  if (challenge.size() != kEnrolChallengeBytes) {
    return absl::InvalidArgumentError("an enrolment challenge is 32 bytes");
  }
  const std::string m = EnrolmentMessage(hub, challenge, token, keys);
  for (const std::string& digest : certificate_digests) {
    if (VerifySignature(keys.sign_pk, kEnrolmentDomainV2, absl::StrCat(m, digest), proof,
                        "enrolment proof")
            .ok()) {
      return absl::OkStatus();
    }
  }
  return VerifySignature(keys.sign_pk, kEnrolmentDomain, m, proof, "enrolment proof");
}

}  // namespace fieldsync::crypto
