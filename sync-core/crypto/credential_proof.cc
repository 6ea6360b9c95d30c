#include "crypto/credential_proof.h"

#include <sodium.h>

#include "crypto/hash.h"
#include "crypto/identity.h"

namespace fieldsync::crypto {

std::string SecretHash(std::string_view secret) { return Blake2b256(secret); }

std::string NoCertificateDigest() { return std::string(kCertificateDigestBytes, '\0'); }

std::string CredentialProof(std::string_view secret_hash, const DeviceId& hub,
                            const DeviceId& device, std::string_view certificate_digest) {
  std::string message(kCredentialProofDomain);
  message.push_back('\0');
  message.append(hub.view());
  message.append(device.view());
  message.append(certificate_digest);
  return KeyedBlake2b(secret_hash, message);
}

namespace {

std::string LinkProofMessage(const DeviceId& hub, const DeviceId& device,
                             std::string_view certificate_digest) {
  std::string m(hub.view());
  m.append(device.view());
  m.append(certificate_digest);
  return m;
}

}  // namespace

LinkKey::LinkKey(std::string_view secret)
    : public_key_(kLinkPublicKeyBytes, '\0'), secret_key_(crypto_sign_SECRETKEYBYTES) {
  EnsureSodium();
  std::string plain = DomainHash(kLinkKeyDomain, {secret});
  SecretBytes seed = SecretBytes::Copy(plain);
  sodium_memzero(plain.data(), plain.size());
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(public_key_.data()),
                           secret_key_.data(), seed.data());
}

std::string LinkKey::Proof(const DeviceId& hub, const DeviceId& device,
                           std::string_view certificate_digest) const {
  // The key is 64 bytes: SignWithSecret cannot refuse it.
  absl::StatusOr<std::string> sig = SignWithSecret(
      secret_key_.view(), kLinkProofDomain, LinkProofMessage(hub, device, certificate_digest));
  return sig.ok() ? *std::move(sig) : std::string();
}

bool VerifyLinkProof(std::string_view link_public_key, const DeviceId& hub,
                     const DeviceId& device, std::string_view certificate_digest,
                     std::string_view proof) {
  return link_public_key.size() == kLinkPublicKeyBytes &&
         VerifySignature(link_public_key, kLinkProofDomain,
                         LinkProofMessage(hub, device, certificate_digest), proof, "link proof")
             .ok();
}

}  // namespace fieldsync::crypto
