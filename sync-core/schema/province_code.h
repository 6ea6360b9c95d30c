// Province codes: how an office is named in the hub's registry, in scope,
// and in the columns that hold one (persons.province_of_origin,
// organisations.province, the lists of provinces covered). One rule, read by
// the hub's `province add` (hub/engine.cc) and by the laptop where a code is
// typed (node/ops/values.cc), so that the hub registers no office a laptop
// could not name.
#ifndef FIELDSYNC_SCHEMA_PROVINCE_CODE_H_
#define FIELDSYNC_SCHEMA_PROVINCE_CODE_H_

#include <string_view>

namespace fieldsync {

// The rule in words, for messages.
inline constexpr std::string_view kProvinceCodeRule =
    "2 or 3 capital letters A to Z, e.g. LC, HN, HCM";

// Whether `code` is a province code: 2 or 3 ASCII capital letters. (Laptops
// upper-case what is typed before asking.)
constexpr bool IsProvinceCode(std::string_view code) {
  if (code.size() < 2 || code.size() > 3) return false;
  for (const char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

}  // namespace fieldsync

#endif  // FIELDSYNC_SCHEMA_PROVINCE_CODE_H_
