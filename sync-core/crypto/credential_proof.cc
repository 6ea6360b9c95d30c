#include "crypto/credential_proof.h"

#include "crypto/hash.h"

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

}  // namespace fieldsync::crypto
