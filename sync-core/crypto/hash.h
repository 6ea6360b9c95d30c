// BLAKE2b-256, the one hash of the formats (docs/CRYPTO.md): of plain bytes,
// and of a domain-separated message ("<domain>" 0x00 followed by the parts,
// concatenated as given: fixed-size parts, or parts whose lengths the format
// encodes itself). Also keyed BLAKE2b (a MAC under a secret key), BLAKE2b
// fed piece by piece, and the hex a hash is shown or stored in: every
// BLAKE2b of the project goes through here (libsodium's crypto_generichash).
#ifndef FIELDSYNC_CRYPTO_HASH_H_
#define FIELDSYNC_CRYPTO_HASH_H_

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace fieldsync::crypto {

inline constexpr size_t kHashBytes = 32;
// The key of keyed BLAKE2b as this project makes them (libsodium's
// crypto_generichash_KEYBYTES).
inline constexpr size_t kHashKeyBytes = 32;

// BLAKE2b-256 of `data` (32 raw bytes).
std::string Blake2b256(std::string_view data);

// BLAKE2b-256 of `domain` 0x00 part_1 ... part_n, computed incrementally.
std::string DomainHash(std::string_view domain, std::initializer_list<std::string_view> parts);

// Keyed BLAKE2b of `data`, `out_bytes` long (16 to 64), under `key` (16 to
// 64 bytes).
std::string KeyedBlake2b(std::string_view key, std::string_view data,
                         size_t out_bytes = kHashBytes);

// BLAKE2b of everything given to Update, in order: equal to Blake2b256 (or
// KeyedBlake2b) of the concatenation. Final once, then drop it.
class Blake2bHasher {
 public:
  // `out_bytes` 16 to 64; `key` empty (plain BLAKE2b) or 16 to 64 bytes.
  explicit Blake2bHasher(size_t out_bytes = kHashBytes, std::string_view key = {});
  Blake2bHasher(const Blake2bHasher&) = delete;
  Blake2bHasher& operator=(const Blake2bHasher&) = delete;

  Blake2bHasher& Update(std::string_view bytes);
  std::string Final();

 private:
  // libsodium's crypto_generichash_state, kept opaque so that this header
  // does not bring in sodium.h (hash.cc checks the size and alignment).
  alignas(64) unsigned char state_[384];
  size_t out_bytes_;
};

// Lowercase hex of `bytes`: how hashes are shown and stored as text.
std::string HashHex(std::string_view bytes);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_HASH_H_
