// Sealed field values: the envelope a sensitive field's value travels and is
// stored in (format version 1; docs/CRYPTO.md, "Sealed field envelope").
//
//   offset size
//        0    1  magic 0xF5
//        1    1  format version (1)
//        2   16  key ring id: the case (or person, or directory row) whose
//                data key sealed it
//       18    4  data key version, big-endian: a random non-zero number naming
//                one version of the key ring's data key (random, so that two
//                devices offline never make two keys of one number; versions
//                are ordered by when their key records were made)
//       22   24  XChaCha20 nonce (random)
//       46   32  key commitment: BLAKE2b-256 keyed with the field key over
//                "fieldsync key commitment v1" || nonce
//       78    n  XChaCha20-Poly1305 ciphertext of the padded plaintext, with
//                its 16-byte tag
//
// The field key is BLAKE2b-256 keyed with the data key over
// "fieldsync field key v1" 0x00 table 0x00 column, so a field's ciphertext
// opens under no other field's key. The additional data bound to the
// ciphertext is "fieldsync sealed field v1" 0x00, the 78 header bytes, then
// table, row id, column, HLC and author device of the write (lengths first):
// moved to another row, field, case, table or version, or with any header
// byte edited, it does not open. The commitment is checked (in constant
// time) before any decryption is attempted.
//
// The plaintext is one kind byte (the Value kind: 0 NULL, 1 integer, 2
// text, 3 bytes; NULL from schema version 4) then the payload, padded
// with ISO/IEC 7816-4 padding to the next length bucket: 32, 64, 128, 256
// bytes, then multiples of 256, so the length shows only the bucket.
#ifndef FIELDSYNC_CRYPTO_ENVELOPE_H_
#define FIELDSYNC_CRYPTO_ENVELOPE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "change/value.h"
#include "clock/hlc.h"
#include "crypto/secret.h"

namespace fieldsync::crypto {

inline constexpr uint8_t kEnvelopeMagic = 0xF5;
inline constexpr uint8_t kEnvelopeVersion = 1;
inline constexpr size_t kEnvelopeHeaderBytes = 78;
inline constexpr size_t kEnvelopeTagBytes = 16;
inline constexpr size_t kDataKeyBytes = 32;
// Largest sealed plaintext (a narrative of 64 KiB of text, padded).
inline constexpr size_t kMaxSealedPlaintext = 64 * 1024 + 256;
// Largest value that can be sealed: its kind byte and padding must fit.
inline constexpr size_t kMaxSealedValue = kMaxSealedPlaintext - 256 - 1;

// Where a sealed value belongs: every part is bound to its ciphertext.
struct FieldContext {
  std::string_view table;
  RowId row;
  std::string_view column;
  Hlc hlc;           // of the write that stored the value
  DeviceId author;   // device that wrote it
};

struct EnvelopeHeader {
  RowId keyring;
  uint32_t key_version = 0;
  std::string nonce;       // 24 bytes
  std::string commitment;  // 32 bytes
};

// Whether `bytes` starts like a sealed value (magic byte); says nothing of
// its validity.
bool LooksSealed(std::string_view bytes);

// Structure only: magic, version, lengths. INVALID_ARGUMENT "malformed sealed
// value: ..." or FAILED_PRECONDITION for an unknown (newer) format version.
absl::StatusOr<EnvelopeHeader> ParseEnvelope(std::string_view bytes);

// Seals `value` (NULL too: an absent value) under `data_key` (32 bytes) of key ring
// `keyring`, version `key_version`. INVALID_ARGUMENT if the value is too long.
absl::StatusOr<std::string> SealValue(const SecretBytes& data_key, const RowId& keyring,
                                      uint32_t key_version, const FieldContext& where,
                                      const Value& value);

// Opens a sealed value with exactly the data key its header names (the
// caller looked it up by header.keyring and header.key_version).
// UNAUTHENTICATED if the commitment does not match the key (wrong key, or a
// header edited) or the ciphertext does not authenticate in this place
// (moved, tampered); INVALID_ARGUMENT if malformed.
absl::StatusOr<Value> OpenValue(const SecretBytes& data_key, std::string_view sealed,
                                const FieldContext& where);

// Test hook: sealing with a given nonce (24 bytes), for known-answer vectors.
absl::StatusOr<std::string> SealValueWithNonce(const SecretBytes& data_key, const RowId& keyring,
                                               uint32_t key_version, const FieldContext& where,
                                               const Value& value, std::string_view nonce);

// The padded length of a plaintext of n bytes (n + 1 at least).
size_t PaddedLength(size_t n);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_ENVELOPE_H_
