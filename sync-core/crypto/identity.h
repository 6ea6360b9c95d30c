// A device's identity: an Ed25519 signing key and an X25519 key, and the
// signatures a device puts on its commits (docs/CRYPTO.md, "Device identity"
// and "Signed commits").
#ifndef FIELDSYNC_CRYPTO_IDENTITY_H_
#define FIELDSYNC_CRYPTO_IDENTITY_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "crypto/secret.h"

namespace fieldsync::crypto {

inline constexpr size_t kSignPublicBytes = 32;
inline constexpr size_t kSignSecretBytes = 64;
inline constexpr size_t kBoxPublicBytes = 32;
inline constexpr size_t kBoxSecretBytes = 32;
inline constexpr size_t kSignatureBytes = 64;

// What everyone may know of a device: its id and its two public keys.
struct DevicePublic {
  DeviceId device;
  std::string sign_pk;  // Ed25519, 32 bytes
  std::string box_pk;   // X25519, 32 bytes
};

// INVALID_ARGUMENT unless both keys have the right length (and the X25519
// key is not all zero).
absl::Status CheckDevicePublic(const DevicePublic& pub);

class DeviceIdentity {
 public:
  // New random keys for `device`.
  static DeviceIdentity Generate(const DeviceId& device);
  // From the secret halves (as a keystore holds them); INVALID_ARGUMENT if a
  // length is wrong or the Ed25519 key is inconsistent. The public halves
  // are recomputed from the secrets.
  static absl::StatusOr<DeviceIdentity> FromSecrets(const DeviceId& device,
                                                    std::string_view sign_sk,
                                                    std::string_view box_sk);

  const DeviceId& device() const { return pub_.device; }
  const DevicePublic& public_keys() const { return pub_; }
  const SecretBytes& sign_secret() const { return sign_sk_; }
  const SecretBytes& box_secret() const { return box_sk_; }

  // Ed25519 over `domain` || 0x00 || `message` (the domain separates what
  // is signed: a commit can never be taken for a key record).
  std::string Sign(std::string_view domain, std::string_view message) const;

  DeviceIdentity Clone() const;

 private:
  DeviceIdentity() = default;
  DevicePublic pub_;
  SecretBytes sign_sk_;
  SecretBytes box_sk_;
};

// UNAUTHENTICATED naming `what` unless `signature` is `sign_pk`'s Ed25519
// signature of `domain` || 0x00 || `message`.
absl::Status VerifySignature(std::string_view sign_pk, std::string_view domain,
                             std::string_view message, std::string_view signature,
                             std::string_view what);

// The domain of commit signatures (over the canonical commit bytes).
inline constexpr std::string_view kCommitSignDomain = "fieldsync commit signature v1";

// A fingerprint of a device's public keys for people to compare out of band:
// BLAKE2b-160 of both keys, as five groups of eight hex digits.
std::string Fingerprint(const DevicePublic& pub);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_IDENTITY_H_
