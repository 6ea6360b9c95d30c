// Hybrid logical clock (Kulkarni et al., 2014), packed in 64 bits:
//
//   bits 63..16  wall-clock milliseconds since the Unix epoch (48 bits: until year 10889)
//   bits 15..0   logical counter within that millisecond
//
// Comparing two packed values as unsigned integers orders them as HLCs.
// This layout is part of the commit format (docs/FORMATS.md) and is frozen.
#ifndef FIELDSYNC_CLOCK_HLC_H_
#define FIELDSYNC_CLOCK_HLC_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "clock/clock_source.h"

namespace fieldsync {

class Hlc {
 public:
  static constexpr int kCounterBits = 16;
  static constexpr uint64_t kMaxCounter = (uint64_t{1} << kCounterBits) - 1;
  static constexpr uint64_t kMaxWall = (uint64_t{1} << (64 - kCounterBits)) - 1;

  constexpr Hlc() = default;
  static constexpr Hlc FromPacked(uint64_t packed) { return Hlc(packed); }
  static constexpr Hlc FromParts(uint64_t wall_millis, uint64_t counter) {
    return Hlc((wall_millis << kCounterBits) | (counter & kMaxCounter));
  }

  constexpr uint64_t packed() const { return v_; }
  constexpr uint64_t wall_millis() const { return v_ >> kCounterBits; }
  constexpr uint64_t counter() const { return v_ & kMaxCounter; }
  constexpr bool is_zero() const { return v_ == 0; }

  // "2026-11-28T12:00:00.123Z+5" (UTC wall time, then the counter).
  std::string ToString() const;

  friend constexpr bool operator==(Hlc a, Hlc b) { return a.v_ == b.v_; }
  friend constexpr bool operator!=(Hlc a, Hlc b) { return a.v_ != b.v_; }
  friend constexpr bool operator<(Hlc a, Hlc b) { return a.v_ < b.v_; }
  friend constexpr bool operator>(Hlc a, Hlc b) { return a.v_ > b.v_; }
  friend constexpr bool operator<=(Hlc a, Hlc b) { return a.v_ <= b.v_; }
  friend constexpr bool operator>=(Hlc a, Hlc b) { return a.v_ >= b.v_; }

 private:
  constexpr explicit Hlc(uint64_t v) : v_(v) {}
  uint64_t v_ = 0;
};

// How far the hub's clock was ahead of this one at a sync's hello, for
// judging what that sync pulls (docs/PROTOCOL.md, "Clocks behind"):
// `measured` as found (negative: the hub's is behind), `taken` what of it
// counts, 0 .. tuning::kPullLeadTakenMaxMillis. A laptop whose clock is
// behind still takes colleagues' work stamped by the hub's time; a hub's
// word never makes it stricter than its own clock, nor moves it further.
// The lead widens what is accepted only: the hybrid clock never follows a
// stamp past this wall clock plus the skew limit (HybridClock::Follow).
struct ClockLead {
  int64_t measured = 0;
  int64_t taken = 0;
  // From the hub's time against this clock, in Unix ms at one moment.
  static ClockLead Of(int64_t measured_millis);
};

// The clock of one replica. Thread-safe.
//
// Now() returns strictly increasing HLCs, even if the wall clock steps back.
// Observe() folds a remote HLC in, so that local events after it sort after
// it -- unless the remote time is more than `max_skew_millis` ahead of our
// wall clock, in which case it is refused and the clock is left unchanged:
// one laptop with a wrong date must not drag every replica into its future.
class HybridClock {
 public:
  HybridClock(ClockSource* source, int64_t max_skew_millis)
      : source_(source), max_skew_millis_(max_skew_millis) {}

  // A fresh timestamp for a local event, greater than every timestamp this
  // clock has returned or observed.
  Hlc Now();

  // Checks a remote timestamp against the skew limit without changing the
  // clock, the limit counted from this clock plus `lead.taken`.
  // FAILED_PRECONDITION, saying by how much and what to do, if it is too
  // far ahead. `who` names the origin in the message (a device id); the
  // message names this clock instead when the hub's time (`lead.measured`)
  // agrees with the remote one and this clock is behind both.
  absl::Status Check(Hlc remote, const std::string& who, const ClockLead& lead = {}) const;
  // The same test without the message: true if Check() would refuse.
  bool TooFarAhead(Hlc remote, const ClockLead& lead = {}) const {
    return static_cast<int64_t>(remote.wall_millis()) >
           source_->NowMillis() + lead.taken + max_skew_millis_;
  }

  // Check(), then advance the clock past `remote`.
  absl::Status Observe(Hlc remote, const std::string& who);

  // Raises the clock to at least `floor` without any skew check. Used for
  // this replica's own stamps (when it reopens, the greatest it issued).
  void Restore(Hlc floor);

  // Raises the clock to `remote`, another device's stamp held here, only if
  // it is at most the skew limit past this wall clock. A stamp further
  // ahead (taken on the hub's lead, ClockLead: its unauthenticated time) is
  // held but not adopted, so that this replica's own stamps stay near its
  // own time (docs/PROTOCOL.md, "Clocks behind"). Whether it was adopted.
  bool Follow(Hlc remote);

  // Lowers (or raises) the clock to `to`, without any check: a replica
  // whose stamps the hub refused as ahead stops adopting that time
  // (sync/restamp.h). The caller keeps what ordering needs: `to` is past
  // every version it still holds.
  void Reset(Hlc to);
  // Now() never returns a stamp in [lo, hi] (a refused, withdrawn range of
  // this replica's own stamps: no version is issued twice); past it, it
  // jumps to hi + 1. An empty range (lo > hi, the default) skips nothing.
  void SetSkip(Hlc lo, Hlc hi);

  Hlc last() const;
  int64_t max_skew_millis() const { return max_skew_millis_; }
  // The wall clock it reads, in Unix milliseconds.
  int64_t WallMillis() const { return source_->NowMillis(); }

 private:
  ClockSource* const source_;
  const int64_t max_skew_millis_;
  mutable absl::Mutex mu_;
  Hlc last_ ABSL_GUARDED_BY(mu_);
  Hlc skip_lo_ ABSL_GUARDED_BY(mu_) = Hlc::FromPacked(1);
  Hlc skip_hi_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fieldsync

#endif  // FIELDSYNC_CLOCK_HLC_H_
