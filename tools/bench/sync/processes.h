// The child processes fieldsync-bench-sync measures: a program run to
// completion with its wall time, CPU and peak resident set; and a running
// process's (the hub's) CPU so far and peak resident set, reset on demand.
#ifndef FIELDSYNC_TOOLS_BENCH_SYNC_PROCESSES_H_
#define FIELDSYNC_TOOLS_BENCH_SYNC_PROCESSES_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fieldsync::bench_sync {

// A child process run to completion and measured: wall time from spawn to
// exit, and its peak resident set (ru_maxrss of wait4).
struct MeasuredRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  double wall = 0;
  double cpu = 0;  // user + system seconds
  int64_t max_rss_kib = 0;
};

// Runs argv (argv[0] a path) with stdout and stderr to the files given.
absl::StatusOr<MeasuredRun> RunMeasured(const std::vector<std::string>& argv,
                                        const std::string& out_path,
                                        const std::string& err_path);

// Resets the peak resident set (VmHWM) of a process to its current RSS
// (Linux >= 4.0, /proc/PID/clear_refs). False if the kernel refused.
bool ResetPeakRss(pid_t pid);

// CPU seconds (user + system) a process has used so far, from
// /proc/PID/stat; 0 if unreadable.
double ProcessCpuSeconds(pid_t pid);

// The integer after "key": in a one-line JSON object.
std::optional<int64_t> JsonInt(const std::string& json, const std::string& key);

}  // namespace fieldsync::bench_sync

#endif  // FIELDSYNC_TOOLS_BENCH_SYNC_PROCESSES_H_
