#include "tools/bench/common/timing.h"

#include <sys/resource.h>

namespace fieldsync::bench {

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double SelfCpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

Stopwatch::Stopwatch(Seconds* into) : into_(into), wall0_(Clock::now()), cpu0_(SelfCpuSeconds()) {}

Stopwatch::~Stopwatch() {
  into_->wall += SecondsSince(wall0_);
  into_->cpu += SelfCpuSeconds() - cpu0_;
}

}  // namespace fieldsync::bench
