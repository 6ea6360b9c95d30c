#include "base/args.h"

#include <cstdlib>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/terminal.h"
#include "base/time_args.h"
#include "base/utf8.h"

namespace fieldsync {

std::string Args::Flag(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second;
}

std::string ResolveDataDir(const std::string& flag, const char* env_var, const std::string& leaf) {
  if (!flag.empty()) return flag;
  if (const char* v = std::getenv(env_var); v != nullptr && *v != '\0') return v;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x != nullptr && *x != '\0') {
    return absl::StrCat(x, "/fieldsync/", leaf);
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home && *home ? home : ".", "/.local/share/fieldsync/", leaf);
}

absl::StatusOr<int64_t> ParseDurationMillis(const std::string& text) {
  absl::StatusOr<absl::Duration> d = ParseDuration(text);
  if (!d.ok()) return d.status();
  return absl::ToInt64Milliseconds(*d);
}

std::string FormatTimeMillis(int64_t millis) {
  if (millis <= 0) return "never";
  const time_t secs = static_cast<time_t>(millis / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  out.reserve(s.size() + 2);
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) {  // not UTF-8: the JSON stays valid, the next byte is read anew
      out += "\\ufffd";
      ++i;
      continue;
    }
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        // Controls, DEL, C1 controls and bidirectional formatting characters
        // escaped: the output may meet a terminal, and a reader gets them
        // exactly.
        if (IsUnsafeForTerminal(cp)) {
          out += absl::StrFormat("\\u%04x", static_cast<uint32_t>(cp));
        } else {
          out.append(s, i, n);
        }
    }
    i += n;
  }
  return out + "\"";
}

}  // namespace fieldsync
