#include "hub/commands/json_out.h"

#include "absl/strings/str_format.h"
#include "base/terminal.h"

namespace fieldsync::hub {

std::string JsonLine(const Json& value) {
  // Compact, with nlohmann's escaping: quotes, backslashes, C0 controls.
  const std::string compact =
      value.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(compact.size() + compact.size() / 8 + 1);
  bool in_string = false;
  for (size_t i = 0; i < compact.size(); ++i) {
    const char c = compact[i];
    if (!in_string) {
      // Outside strings there are only JSON's own ASCII characters.
      out += c;
      if (c == '"') in_string = true;
      if (c == ',' || c == ':') out += ' ';
      continue;
    }
    if (c == '\\') {  // an escape nlohmann wrote: copied whole
      out += c;
      if (i + 1 < compact.size()) out += compact[++i];
      continue;
    }
    if (c == '"') in_string = false;
    // One code point (valid UTF-8: nlohmann replaced what was not).
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(compact[i + k]); };
    const unsigned char b0 = byte(0);
    const size_t len = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    if (i + len > compact.size()) {  // cannot happen; copy what is there
      out.append(compact, i, std::string::npos);
      break;
    }
    char32_t cp = b0;
    if (len == 2) cp = ((b0 & 0x1F) << 6) | (byte(1) & 0x3F);
    if (len == 3) cp = ((b0 & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
    if (len == 4) {
      cp = ((b0 & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) |
           (byte(3) & 0x3F);
    }
    if (IsUnsafeForTerminal(cp) && cp <= 0xFFFF) {
      out += absl::StrFormat("\\u%04x", static_cast<uint32_t>(cp));
    } else {
      out.append(compact, i, len);
    }
    i += len - 1;
  }
  out += '\n';
  return out;
}

}  // namespace fieldsync::hub
