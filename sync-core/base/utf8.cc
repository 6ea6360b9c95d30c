#include "base/utf8.h"

#include <cstdint>
#include <cstring>

namespace fieldsync {

// Follows the table of well-formed byte sequences in the Unicode standard
// (chapter 3, table 3-7): the second byte's range depends on the first byte,
// which excludes overlong forms, surrogates and code points above U+10FFFF.
bool IsValidUtf8(std::string_view s, size_t* bad_offset) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  auto cont = [&](size_t k) { return (p[k] & 0xC0) == 0x80; };
  while (i < n) {
    // Fast path: eight ASCII bytes at a time.
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      if (i + 1 < n && cont(i + 1)) {
        i += 2;
        continue;
      }
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (i + 2 < n && cont(i + 1) && cont(i + 2)) {
        const uint8_t b = p[i + 1];
        if (!(c == 0xE0 && b < 0xA0) && !(c == 0xED && b > 0x9F)) {
          i += 3;
          continue;
        }
      }
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (i + 3 < n && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
        const uint8_t b = p[i + 1];
        if (!(c == 0xF0 && b < 0x90) && !(c == 0xF4 && b > 0x8F)) {
          i += 4;
          continue;
        }
      }
    }
    if (bad_offset) *bad_offset = i;
    return false;
  }
  return true;
}

}  // namespace fieldsync
