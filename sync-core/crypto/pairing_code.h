// The short code two officers compare on two screens before a laptop of an
// office approves a new one (docs/CRYPTO.md, "Office membership"), as
// Signal's safety numbers: it binds the office's first device (the root
// both laptops trust) and the new device's public keys, so a hub that
// substituted either shows a different code.
//
//   code = 16 decimal digits of BLAKE2b-256("fieldsync pairing code v1" 0x00
//          || root device 16 || root Ed25519 32 || root X25519 32
//          || subject device 16 || subject Ed25519 32 || subject X25519 32),
//          taken as four big-endian 40-bit numbers, each modulo 10^4,
//          written "1234 5678 9012 3456".
//
// The office's first device has the code of itself as root and subject,
// which the hub administrator can read from `fieldhub node list` over the
// phone. 16 digits are 53 bits: a hub that wanted keys of its own with the
// same code would need about 2^53 hash computations (it may choose the
// device id): costly, not out of reach; docs/CRYPTO.md says so.
#ifndef FIELDSYNC_CRYPTO_PAIRING_CODE_H_
#define FIELDSYNC_CRYPTO_PAIRING_CODE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crypto/identity.h"

namespace fieldsync::crypto {

inline constexpr std::string_view kPairingCodeDomain = "fieldsync pairing code v1";
inline constexpr size_t kPairingCodeDigits = 16;

// "1234 5678 9012 3456".
std::string PairingCode(const DevicePublic& root, const DevicePublic& subject);

// The 16 digits of a code as typed (spaces and dashes allowed between
// digits); INVALID_ARGUMENT naming the problem otherwise.
absl::StatusOr<std::string> ParsePairingCode(std::string_view typed);

// Whether `typed` is the code of (root, subject), compared in constant time.
// INVALID_ARGUMENT if it is not a code at all.
absl::StatusOr<bool> PairingCodeMatches(std::string_view typed, const DevicePublic& root,
                                        const DevicePublic& subject);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_PAIRING_CODE_H_
