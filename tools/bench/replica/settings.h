// fieldsync-bench's command line: what it measures and how often.
#ifndef FIELDSYNC_TOOLS_BENCH_REPLICA_SETTINGS_H_
#define FIELDSYNC_TOOLS_BENCH_REPLICA_SETTINGS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "tools/bench/common/case_data.h"

namespace fieldsync::bench_replica {

inline constexpr char kProgram[] = "fieldsync-bench";

struct Settings {
  int64_t cases = 100000;
  int64_t batch = 1000;
  std::string dir;  // empty: a fresh temp dir, removed at exit
  bool quick = false;
  bool sync_full = true;
  bool sync_normal = true;
  int repeat = 1;
  // Also measure local writes with signing and sealing on (--crypto both).
  bool crypto = true;
  // kFull: long narratives and notes, as a case file has after interviews
  // (about 1.1 KB of values). kIntake: the same 15 fields as a hotline call
  // first records them, with short texts (about 0.3 KB).
  bench::CaseProfile profile = bench::CaseProfile::kFull;
};

// Returns nullopt after printing an error; exits for --help.
std::optional<Settings> ParseSettings(int argc, char** argv);

}  // namespace fieldsync::bench_replica

#endif  // FIELDSYNC_TOOLS_BENCH_REPLICA_SETTINGS_H_
