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

size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  if (i >= s.size()) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + i;
  const size_t left = s.size() - i;
  const uint8_t c = p[0];
  size_t n = 0;
  char32_t v = 0;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    v = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (left < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((p[k] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (p[k] & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

}  // namespace fieldsync
