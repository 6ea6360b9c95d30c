// A device's identity: an Ed25519 signing key and an X25519 key, and the
// signatures a device puts on its commits (docs/CRYPTO.md, "Device identity"
// and "Signed commits").
#ifndef FIELDSYNC_CRYPTO_IDENTITY_H_
#define FIELDSYNC_CRYPTO_IDENTITY_H_

#include <memory>
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

// The keys cannot be reached right now: the key agent was locked, ended
// or replaced, or the keystore is locked. FAILED_PRECONDITION with
// `message` (saying what to do), marked so that a caller tells it apart
// from a rule's refusal, which is FAILED_PRECONDITION too: work it cut is
// done again once the keys are back, never given up as refused.
absl::Status KeysUnreachableError(std::string_view message);
bool IsKeysUnreachable(const absl::Status& status);

// What a device's secret keys do, wherever they are kept. A local
// DeviceIdentity does it in this process; the key agent of `fieldnode
// unlock` (node/agent.h) does it in its own process and never hands the
// keys out. Implementations are safe to call from several threads.
class KeyOperations {
 public:
  virtual ~KeyOperations() = default;
  // The Ed25519 signature of `domain` || 0x00 || `message` (`domain` holds
  // no NUL byte). When the keys cannot be reached (the agent was locked or
  // ended): KeysUnreachableError saying what to do -- never a wrong
  // signature.
  virtual absl::StatusOr<std::string> Sign(std::string_view domain,
                                           std::string_view message) = 0;
  // crypto_box_seal_open of `sealed` with the device's X25519 key pair.
  // UNAUTHENTICATED if it does not open (altered, or sealed to another
  // key); KeysUnreachableError as above if the keys cannot be reached.
  virtual absl::StatusOr<SecretBytes> OpenSealed(std::string_view sealed) = 0;
};

// A device's identity: its public keys, and either its secret keys held
// here (the local form: made, or opened from the keystore) or operations
// that use them elsewhere (the delegated form: the key agent's).
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
  // The delegated form: `ops` signs and opens for the device `pub` (whose
  // keys the caller checked, e.g. CheckDevicePublic).
  static DeviceIdentity Delegated(DevicePublic pub, std::shared_ptr<KeyOperations> ops);

  const DeviceId& device() const { return pub_.device; }
  const DevicePublic& public_keys() const { return pub_; }
  bool delegated() const { return ops_ != nullptr; }
  // The operations of a delegated identity (nullptr for a local one): a
  // front end asks its agent for more than keys (node/agent_index.h).
  KeyOperations* operations() const { return ops_.get(); }

  // The secret halves of a local identity, for writing a keystore and
  // starting the key agent. FAILED_PRECONDITION on a delegated identity: its
  // keys are not in this process.
  absl::StatusOr<std::string_view> sign_secret() const;
  absl::StatusOr<std::string_view> box_secret() const;

  // Ed25519 over `domain` || 0x00 || `message` (the domain separates what
  // is signed: a commit can never be taken for a key record). Always OK on
  // a local identity; on a delegated one, an error if the agent could not
  // sign (KeyOperations::Sign).
  absl::StatusOr<std::string> Sign(std::string_view domain, std::string_view message) const;
  // Opens a box sealed (crypto_box_seal) to this device's X25519 key.
  // UNAUTHENTICATED if it does not open; on a delegated identity, other
  // errors if the agent could not be asked (KeyOperations::OpenSealed).
  absl::StatusOr<SecretBytes> OpenSealed(std::string_view sealed) const;

  // A copy: the secrets copied (local), or the same operations (delegated).
  DeviceIdentity Clone() const;

 private:
  DeviceIdentity() = default;
  DevicePublic pub_;
  SecretBytes sign_sk_;  // local form only
  SecretBytes box_sk_;   // local form only
  std::shared_ptr<KeyOperations> ops_;  // delegated form only
};

// What a local identity's Sign and OpenSealed do, for a holder that keeps
// the secret keys in memory of its own (the key agent). `sign_sk`: 64
// bytes; `box_pk`, `box_sk`: 32 each (checked: INVALID_ARGUMENT).
absl::StatusOr<std::string> SignWithSecret(std::string_view sign_sk, std::string_view domain,
                           std::string_view message);
absl::StatusOr<SecretBytes> OpenSealedWithSecret(std::string_view box_pk, std::string_view box_sk,
                                                 std::string_view sealed);

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
