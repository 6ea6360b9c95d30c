// BLAKE2b-256, the one hash of the formats (docs/CRYPTO.md): of plain bytes,
// and of a domain-separated message ("<domain>" 0x00 followed by the parts,
// concatenated as given: fixed-size parts, or parts whose lengths the format
// encodes itself).
#ifndef FIELDSYNC_CRYPTO_HASH_H_
#define FIELDSYNC_CRYPTO_HASH_H_

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace fieldsync::crypto {

inline constexpr size_t kHashBytes = 32;

// BLAKE2b-256 of `data` (32 raw bytes).
std::string Blake2b256(std::string_view data);

// BLAKE2b-256 of `domain` 0x00 part_1 ... part_n, computed incrementally.
std::string DomainHash(std::string_view domain, std::initializer_list<std::string_view> parts);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_HASH_H_
