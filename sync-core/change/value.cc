#include "change/value.h"

#include "absl/strings/str_cat.h"

namespace fieldsync {

std::string Value::DebugString() const {
  switch (kind_) {
    case Kind::kNull:
      return "null";
    case Kind::kInt:
      return absl::StrCat(i_);
    case Kind::kText:
      return absl::StrCat("\"", s_.size() > 60 ? s_.substr(0, 57) + "..." : s_, "\"");
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
