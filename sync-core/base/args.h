// Command-line arguments of the fieldsync programs as their commands take
// them, once CLI11 has read the command line (node/cli.cc, the benchmarks'
// tools/bench/common/run_frame.cc): the command and its operands, the
// options with a value, the switches given.
#ifndef FIELDSYNC_BASE_ARGS_H_
#define FIELDSYNC_BASE_ARGS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fieldsync {

struct Args {
  std::vector<std::string> positional;  // the command and its operands
  std::map<std::string, std::string> flags;
  std::set<std::string> switches;

  bool Has(const std::string& sw) const { return switches.count(sw) > 0; }
  std::string Flag(const std::string& name, const std::string& fallback = "") const;
};

// The data directory: `flag` if given, else $env_var, else
// $XDG_DATA_HOME/fieldsync/<leaf>, else ~/.local/share/fieldsync/<leaf>.
std::string ResolveDataDir(const std::string& flag, const char* env_var, const std::string& leaf);

// "90s", "30m", "24h", "7d" (also "1500ms", "1h30m", "1d12h"): milliseconds,
// read by ParseDuration (base/time_args.h) as fieldhub reads durations.
// INVALID_ARGUMENT with an example otherwise.
absl::StatusOr<int64_t> ParseDurationMillis(const std::string& text);

// "2026-11-28T14:05:00Z" for Unix milliseconds; "never" for 0.
std::string FormatTimeMillis(int64_t millis);

// A JSON string literal of `s` (UTF-8 passes through; controls escaped).
std::string JsonString(const std::string& s);

}  // namespace fieldsync

#endif  // FIELDSYNC_BASE_ARGS_H_
