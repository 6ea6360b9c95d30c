// How the benchmarks time what they measure: wall-clock seconds on the
// steady clock, and CPU seconds (user + system) of this process.
#ifndef FIELDSYNC_TOOLS_BENCH_COMMON_TIMING_H_
#define FIELDSYNC_TOOLS_BENCH_COMMON_TIMING_H_

#include <chrono>

namespace fieldsync::bench {

using Clock = std::chrono::steady_clock;

// Wall seconds since `t0`.
double SecondsSince(Clock::time_point t0);

// CPU seconds (user + system) of this process so far.
double SelfCpuSeconds();

// Wall-clock seconds, and CPU seconds of this process, spent inside the
// timed calls. Wall minus CPU is mostly waiting for the disk.
struct Seconds {
  double wall = 0;
  double cpu = 0;
};

// Adds the wall and CPU seconds of its own lifetime to `*into`.
class Stopwatch {
 public:
  explicit Stopwatch(Seconds* into);
  ~Stopwatch();
  Stopwatch(const Stopwatch&) = delete;
  Stopwatch& operator=(const Stopwatch&) = delete;

 private:
  Seconds* into_;
  Clock::time_point wall0_;
  double cpu0_;
};

}  // namespace fieldsync::bench

#endif  // FIELDSYNC_TOOLS_BENCH_COMMON_TIMING_H_
