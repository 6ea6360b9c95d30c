// The keystore: a device's identity (Ed25519 and X25519 secret keys), sealed
// under a key derived from the officer's passphrase (format version 1;
// docs/CRYPTO.md, "Keystore file").
//
//   offset size
//        0    8  magic "FSKEYST\0"
//        8    1  format version (1)
//        9    1  algorithm: 2 = Argon2id v1.3 (crypto_pwhash_ALG_ARGON2ID13)
//       10    8  opslimit, big-endian
//       18    8  memlimit in bytes, big-endian
//       26   16  salt
//       42   24  XChaCha20 nonce
//       66   16  device id (clear, so a keystore can be matched to its replica)
//       82  144  XChaCha20-Poly1305 ciphertext of device id 16 || Ed25519
//                secret key 64 || X25519 secret key 32 (112 bytes), tag 16
//
// The 82 header bytes are the additional data: parameters lowered in the
// header make the file fail to open; below libsodium's MODERATE limits they
// are refused before any key is derived.
#ifndef FIELDSYNC_CRYPTO_KEYSTORE_H_
#define FIELDSYNC_CRYPTO_KEYSTORE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/identity.h"

namespace fieldsync::crypto {

inline constexpr uint8_t kKeystoreVersion = 1;
inline constexpr size_t kKeystoreBytes = 82 + 112 + 16;
// Shortest passphrase accepted for a new keystore, in bytes: a floor for
// every caller. fieldnode applies the whole rule before (12 code points
// after NFC, which are at least 12 bytes, and a strength estimate:
// node/passphrase_rule.h); sync-core links no Unicode library.
inline constexpr size_t kMinPassphraseBytes = 12;

struct KdfParams {
  uint64_t opslimit = 0;
  uint64_t memlimit = 0;
  // libsodium's MODERATE limits: the least a keystore may use.
  static KdfParams Moderate();
};

struct KeystoreHeader {
  KdfParams params;
  DeviceId device;
};

// Structure and parameters only. INVALID_ARGUMENT for a malformed or
// truncated file, FAILED_PRECONDITION for an unknown version or algorithm,
// or parameters below the minimum (a downgraded file).
absl::StatusOr<KeystoreHeader> ParseKeystore(std::string_view bytes);

// The keystore bytes of `identity` under `passphrase`.
absl::StatusOr<std::string> SealKeystore(const DeviceIdentity& identity,
                                         std::string_view passphrase,
                                         const KdfParams& params = KdfParams::Moderate());
// UNAUTHENTICATED "wrong passphrase" if it does not open.
absl::StatusOr<DeviceIdentity> OpenKeystore(std::string_view bytes, std::string_view passphrase);

// Files: written to a temporary file, fsynced and renamed into place (mode
// 0600), so a crash leaves the old file or the new one. Create refuses an
// existing file.
absl::Status CreateKeystoreFile(const std::string& path, const DeviceIdentity& identity,
                                std::string_view passphrase);
absl::StatusOr<DeviceIdentity> UnlockKeystoreFile(const std::string& path,
                                                  std::string_view passphrase);
// Opens with `old_passphrase` and reseals under `new_passphrase` (new salt
// and nonce). Nothing changes if the old passphrase is wrong.
absl::Status ChangeKeystorePassphrase(const std::string& path, std::string_view old_passphrase,
                                      std::string_view new_passphrase);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_KEYSTORE_H_
