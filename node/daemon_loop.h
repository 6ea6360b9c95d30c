// The daemon's loop as part of the node library: sync passes on the
// schedule of sync/schedule.h until stopped, each pass's outcome handed to
// the caller, which says it (fieldnode daemon prints log lines; a console
// would show them). Waiting is the caller's too (DaemonWaiter), so a test
// runs the loop without sleeping and the backoff's jitter replays from
// its seed.
#ifndef FIELDSYNC_NODE_DAEMON_LOOP_H_
#define FIELDSYNC_NODE_DAEMON_LOOP_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "clock/clock_source.h"
#include "node/client.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/schedule.h"

namespace fieldsync::node {

// Why a wait between passes ended.
enum class DaemonWake {
  kTime,    // the schedule's time came
  kStop,    // the stop flag was set
  kUrgent,  // an urgent commit was written (sync/schedule.h, HasUrgentUnpushed)
};

// How the daemon waits between passes.
class DaemonWaiter {
 public:
  virtual ~DaemonWaiter() = default;
  // Waits up to `millis`, ending early with kStop once `stop` is set and
  // with kUrgent once `urgent()` is true (asked now and then, not at once:
  // an urgent commit written before the wait began was in the pass, or the
  // hub refused it, and must not make the daemon spin).
  virtual DaemonWake Wait(int64_t millis, const std::atomic<bool>* stop,
                          const std::function<bool()>& urgent) = 0;
};

// The real wait: sleeps in steps of tuning::kDaemonStopPollMillis and asks
// `urgent` every tuning::kDaemonUrgentPollMillis.
class SleepingWaiter final : public DaemonWaiter {
 public:
  DaemonWake Wait(int64_t millis, const std::atomic<bool>* stop,
                  const std::function<bool()>& urgent) override;
};

struct DaemonOptions {
  sync::ScheduleOptions schedule;
  uint64_t seed = 0;  // the backoff's jitter (the program: std::random_device)
  // The time of the last sync (kLastSyncCursor); null: the system clock.
  ClockSource* clock = nullptr;
  // Asked before each pass while the key ring is unlocked by keys a key
  // agent lent (crypto::DeviceIdentity::delegated): false once the agent
  // was locked or its period ended, and the daemon forgets the keys and
  // syncs locked, as a command started then would. Null: keys lent by an
  // agent are forgotten before the first pass (fails closed).
  std::function<bool()> agent_open;
  // Hears the pass's counts after each pulled message (the console's
  // progress); none: not told.
  std::function<void(const SyncReport&)> progress;
};

// What one pass did and what comes next.
struct DaemonPassResult {
  absl::StatusOr<SyncReport> report;
  bool progressed = false;   // the pass moved something, failed or not
  int64_t millis = 0;        // how long it took
  int64_t wait_millis = 0;   // until the next pass, as the schedule says
  bool keys_forgotten = false;  // the key agent was locked before it: now locked
  // The pass failed because the daemon was stopped (what it received is kept).
  bool stopped = false;
  // The hub refused this laptop (UNAUTHENTICATED, PERMISSION_DENIED): the
  // daemon stops rather than knock every pass.
  bool refused() const;
};

class SyncDaemon {
 public:
  // `stop` (may be null) is set to end the loop; a pass under way stops
  // between batches, keeping what it applied.
  SyncDaemon(Replica& replica, KeyRing& keys, SyncClient& client, const Credential& cred,
             DaemonOptions options, const std::atomic<bool>* stop);

  // One pass; after one whose push the hub did not refuse, the time of the
  // last sync is kept (`status` shows it).
  DaemonPassResult Pass();
  // Waits as `pass` says, waking for a stop or an urgent commit written
  // since that pass began.
  DaemonWake Wait(const DaemonPassResult& pass, DaemonWaiter& waiter);

  enum class End { kStopped, kRefused };
  // Passes and waits until stopped (kStopped) or refused by the hub
  // (kRefused); `on_pass` hears every pass, `on_wake` every wait that ended
  // early for an urgent commit.
  End Run(DaemonWaiter& waiter, const std::function<void(const DaemonPassResult&)>& on_pass,
          const std::function<void(DaemonWake)>& on_wake = {});

  int failures() const { return schedule_.failures(); }

 private:
  bool Stopped() const { return stop_ != nullptr && stop_->load(); }

  Replica& replica_;
  KeyRing& keys_;
  SyncClient& client_;
  const Credential& cred_;
  DaemonOptions options_;
  const std::atomic<bool>* stop_;
  sync::DaemonSchedule schedule_;
  uint64_t seq_at_pass_start_ = 0;
};

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_DAEMON_LOOP_H_
