// Where wall-clock time comes from. Everything in sync-core that needs "now"
// takes a ClockSource, so tests control time (FakeClock) and nothing reads the
// system clock behind their back.
#ifndef FIELDSYNC_CLOCK_CLOCK_SOURCE_H_
#define FIELDSYNC_CLOCK_CLOCK_SOURCE_H_

#include <atomic>
#include <cstdint>

namespace fieldsync {

class ClockSource {
 public:
  virtual ~ClockSource() = default;
  // Milliseconds since the Unix epoch. Need not be monotonic: the hybrid
  // clock copes with a wall clock that steps backwards.
  virtual int64_t NowMillis() = 0;
};

// The machine's real-time clock.
class SystemClock final : public ClockSource {
 public:
  int64_t NowMillis() override;
  // A process-wide instance; never destroyed.
  static SystemClock* Get();
};

// A clock tests set by hand. Thread-safe.
class FakeClock final : public ClockSource {
 public:
  explicit FakeClock(int64_t start_millis) : now_(start_millis) {}
  int64_t NowMillis() override { return now_.load(); }
  void Set(int64_t millis) { now_.store(millis); }
  void Advance(int64_t millis) { now_.fetch_add(millis); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace fieldsync

#endif  // FIELDSYNC_CLOCK_CLOCK_SOURCE_H_
