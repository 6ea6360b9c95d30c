// Dates and durations as people type them on the command lines of fieldhub
// and fieldnode, and times as fieldhub prints them, over Abseil's time
// library (absl::ParseTime, absl::ParseDuration; the day unit kept).
#ifndef FIELDSYNC_BASE_TIME_ARGS_H_
#define FIELDSYNC_BASE_TIME_ARGS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fieldsync {

// "YYYY-MM-DD" (midnight) or "YYYY-MM-DDTHH:MM:SSZ", UTC, from 1970 to 9999;
// a day that does not exist (2026-02-30) is refused. INVALID_ARGUMENT
// "\"TEXT\" is not a date; write ..." otherwise.
absl::StatusOr<absl::Time> ParseDate(std::string_view text);

// A length of time: what absl::ParseDuration reads ("90s", "30m", "48h",
// "1h30m", "1500ms"), after an optional whole number of days ("7d",
// "1d12h"; Abseil has no day unit). Not negative, at most 10^10 days.
// INVALID_ARGUMENT "\"TEXT\" is not a duration; ..." otherwise.
absl::StatusOr<absl::Duration> ParseDuration(std::string_view text);

// "2026-11-28T14:05:00Z" for Unix milliseconds; "never" for 0 (or less):
// how every fieldhub command prints a time.
std::string FormatMillis(int64_t millis);

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_TIME_ARGS_H_
