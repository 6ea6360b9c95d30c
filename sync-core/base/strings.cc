#include "base/strings.h"

#include <cstdio>

#include "base/terminal.h"
#include "base/utf8.h"

namespace fieldsync {

namespace {

void Escape(const char* format, unsigned value, std::string* out) {
  char buf[8];
  std::snprintf(buf, sizeof buf, format, value);
  out->append(buf);
}

// The length of the UTF-8 sequence a byte leads, 0 if it leads none.
size_t LeadLength(unsigned char c) {
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

}  // namespace

std::string Printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      // Every C0 control, newline and tab too: the text stays one line.
      if (c < 0x20 || c == 0x7f) {
        Escape("\\x%02x", c, &out);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const size_t n = LeadLength(c);
    if (n == 0 || i + n > s.size() || !IsValidUtf8(s.substr(i, n))) {
      Escape("\\x%02x", c, &out);
      ++i;
      continue;
    }
    char32_t cp = c & (n == 2 ? 0x1Fu : n == 3 ? 0x0Fu : 0x07u);
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    if (IsUnsafeForTerminal(cp)) {
      Escape("\\u%04x", static_cast<unsigned>(cp), &out);
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace fieldsync
