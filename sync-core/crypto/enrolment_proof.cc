#include "crypto/enrolment_proof.h"

#include <sodium.h>

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
                                          std::string_view challenge, std::string_view token) {
  if (challenge.size() != kEnrolChallengeBytes) {
    return absl::InvalidArgumentError("the hub's enrolment challenge has the wrong length");
  }
  return id.Sign(kEnrolmentDomain, EnrolmentMessage(hub, challenge, token, id.public_keys()));
}

absl::Status VerifyEnrolment(const DevicePublic& keys, const DeviceId& hub,
                             std::string_view challenge, std::string_view token,
                             std::string_view proof) {
  if (challenge.size() != kEnrolChallengeBytes) {
    return absl::InvalidArgumentError("an enrolment challenge is 32 bytes");
  }
  return VerifySignature(keys.sign_pk, kEnrolmentDomain,
                         EnrolmentMessage(hub, challenge, token, keys), proof,
                         "enrolment proof");
}

}  // namespace fieldsync::crypto
