#include "base/time_args.h"

#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace fieldsync {
namespace {

constexpr int64_t kMaxDays = 10'000'000'000;

}  // namespace

absl::StatusOr<absl::Time> ParseDate(std::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", AV(text), "\" is not a date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC), e.g. "
        "2026-11-01"));
  };
  // The shape first, digit by digit: absl::ParseTime alone would also take
  // a five-digit year, one-digit months, a sign and spaces around the text.
  constexpr std::string_view kDay = "dddd-dd-dd", kSecond = "dddd-dd-ddTdd:dd:ddZ";
  const std::string_view shape = text.size() == kDay.size()      ? kDay
                                 : text.size() == kSecond.size() ? kSecond
                                                                 : std::string_view();
  if (shape.empty()) return bad();
  for (size_t i = 0; i < text.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (shape[i] == 'd' ? !digit : text[i] != shape[i]) return bad();
  }
  const char* format = shape == kDay ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ";
  absl::Time t;
  std::string error;
  // ParseTime refuses fields out of range, a day past its month's end
  // included ("Out-of-range field").
  if (!absl::ParseTime(format, AV(text), absl::UTCTimeZone(), &t, &error)) return bad();
  if (t < absl::UnixEpoch()) return bad();
  return t;
}

absl::StatusOr<absl::Duration> ParseDuration(std::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", AV(text), "\" is not a duration; write a number and a unit: 90s, 30m, 24h, 7d"));
  };
  // Leading days, which absl::ParseDuration does not know: "7d", "1d12h".
  absl::Duration days;
  std::string_view rest = text;
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits > 0 && digits < text.size() && text[digits] == 'd') {
    if (digits > 11) return bad();  // no overflow below
    int64_t n = 0;
    for (char c : text.substr(0, digits)) n = n * 10 + (c - '0');
    days = absl::Hours(24 * n);
    rest = text.substr(digits + 1);
    // What follows the days is hours and less, without a sign: "1d12h".
    if (!rest.empty() && (rest[0] < '0' || rest[0] > '9')) return bad();
  } else if (text.empty()) {
    return bad();
  }
  absl::Duration more;
  if (!rest.empty() && !absl::ParseDuration(AV(rest), &more)) return bad();
  const absl::Duration total = days + more;
  // The bound of the parser before Abseil's: milliseconds in an int64_t
  // with room to subtract from now.
  if (total < absl::ZeroDuration() || total > kMaxDays * absl::Hours(24)) return bad();
  return total;
}

std::string FormatMillis(int64_t millis) {
  if (millis <= 0) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(millis),
                          absl::UTCTimeZone());
}

}  // namespace fieldsync
