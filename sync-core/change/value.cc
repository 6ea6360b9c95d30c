#include "change/value.h"

#include "absl/strings/str_cat.h"

namespace fieldsync {
namespace {

// At most `max` characters (code points), never cutting one in half.
std::string Abbreviate(const std::string& s, size_t max) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (++chars > max) return s.substr(0, i) + "...";
  }
  return s;
}

}  // namespace

std::string Value::DebugString() const {
  switch (kind_) {
    case Kind::kNull:
      return "null";
    case Kind::kInt:
      return absl::StrCat(i_);
    case Kind::kText:
      return absl::StrCat("\"", Abbreviate(s_, 60), "\"");
    case Kind::kBytes:
      return absl::StrCat("<", s_.size(), " bytes>");
  }
  return "?";
}

std::string_view Value::KindName(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "null";
    case Kind::kInt:
      return "integer";
    case Kind::kText:
      return "text";
    case Kind::kBytes:
      return "bytes";
  }
  return "unknown";
}

}  // namespace fieldsync
