#include "node/daemon_loop.h"

#include <chrono>
#include <thread>

#include "base/tuning.h"
#include "crypto/identity.h"

namespace fieldsync::node {

DaemonWake SleepingWaiter::Wait(int64_t millis, const std::atomic<bool>* stop,
                                const std::function<bool()>& urgent) {
  using std::chrono::milliseconds;
  using std::chrono::steady_clock;
  const auto until = steady_clock::now() + milliseconds(millis);
  auto next_urgent_check = steady_clock::now() + milliseconds(tuning::kDaemonUrgentPollMillis);
  while (steady_clock::now() < until) {
    if (stop != nullptr && stop->load()) return DaemonWake::kStop;
    std::this_thread::sleep_for(milliseconds(tuning::kDaemonStopPollMillis));
    if (stop != nullptr && stop->load()) return DaemonWake::kStop;
    if (steady_clock::now() >= next_urgent_check) {
      next_urgent_check += milliseconds(tuning::kDaemonUrgentPollMillis);
      if (urgent && urgent()) return DaemonWake::kUrgent;
    }
  }
  return DaemonWake::kTime;
}

bool DaemonPassResult::refused() const {
  return !report.ok() && !stopped &&
         (report.status().code() == absl::StatusCode::kUnauthenticated ||
          report.status().code() == absl::StatusCode::kPermissionDenied);
}

SyncDaemon::SyncDaemon(Replica& replica, KeyRing& keys, SyncClient& client,
                       const Credential& cred, DaemonOptions options,
                       const std::atomic<bool>* stop)
    : replica_(replica),
      keys_(keys),
      client_(client),
      cred_(cred),
      options_(std::move(options)),
      stop_(stop),
      schedule_(options_.schedule, options_.seed) {}

DaemonPassResult SyncDaemon::Pass() {
  DaemonPassResult out;
  const crypto::DeviceIdentity* id = keys_.identity();
  // Keys the agent lent are kept only while the caller says it is open: a
  // caller that gave no way to ask forgets them (fails closed).
  if (id != nullptr && id->delegated() && (!options_.agent_open || !options_.agent_open())) {
    keys_.Lock();
    out.keys_forgotten = true;
  }
  const auto start = std::chrono::steady_clock::now();
  // Urgent commits written after this point wake the wait that follows,
  // even while backing off (the link may be back); those already there do
  // not (one the hub refuses for good must not make the daemon spin).
  auto stats = replica_.Stats();
  seq_at_pass_start_ = stats.ok() ? stats->local_seq : 0;
  out.report = client_.Sync(replica_, keys_, cred_, stop_, options_.progress, &out.progressed);
  out.millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count();
  out.wait_millis = schedule_.AfterPass(out.report.status(), out.progressed);
  out.stopped = !out.report.ok() && Stopped();
  if (out.report.ok() && out.report->push_refused.ok()) {
    ClockSource* clock = options_.clock != nullptr ? options_.clock : SystemClock::Get();
    replica_.SetCursor(kLastSyncCursor, clock->NowMillis()).IgnoreError();
  }
  return out;
}

DaemonWake SyncDaemon::Wait(const DaemonPassResult& pass, DaemonWaiter& waiter) {
  const uint64_t after = seq_at_pass_start_;
  return waiter.Wait(pass.wait_millis, stop_, [this, after] {
    auto urgent = HasUrgentUnpushed(replica_, after);
    return urgent.ok() && *urgent;
  });
}

SyncDaemon::End SyncDaemon::Run(DaemonWaiter& waiter,
                                const std::function<void(const DaemonPassResult&)>& on_pass,
                                const std::function<void(DaemonWake)>& on_wake) {
  while (!Stopped()) {
    DaemonPassResult pass = Pass();
    if (on_pass) on_pass(pass);
    if (pass.stopped) return End::kStopped;
    if (pass.refused()) return End::kRefused;
    const DaemonWake woke = Wait(pass, waiter);
    if (woke == DaemonWake::kUrgent && on_wake) on_wake(woke);
  }
  return End::kStopped;
}

}  // namespace fieldsync::node
