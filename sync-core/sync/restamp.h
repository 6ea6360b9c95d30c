// Work stamped by a clock ahead (docs/PROTOCOL.md, "Work stamped by a clock
// ahead"; issue 13, story 1). The hub refuses, one by one, commits stamped
// more than 5 minutes past its clock (CLOCK_AHEAD); they were never stored
// there. This laptop does not set them aside for its officer: once its clock
// is right again (Hello's skew within the limit) and its keystore unlocked,
// it re-dates them in one transaction (Replica::Restamp: its clock goes back
// and skips the refused stamps for good, a signed withdrawal of the refused
// seqs, the same changes under new seqs, sealed again), pushes them, and
// says so once in plain words from its own side. A hub that kept the
// refused originals cannot pass them off later: the withdrawal contradicts
// them (kWithdrawnDelivered), and the new seqs are not a fork of the old.
#ifndef FIELDSYNC_SYNC_RESTAMP_H_
#define FIELDSYNC_SYNC_RESTAMP_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/pusher.h"
#include "sync/report.h"

namespace fieldsync::sync {

// "1 day", "3 hours", "12 minutes": how far a clock was ahead, rounded.
std::string AheadInWords(int64_t millis);

// How a value this laptop stored is opened with `keys` (KeyRing::Read): the
// clear value, or FAILED_PRECONDITION naming the field if it cannot be.
// For the rewrites that seal values again (Replica::Restamp,
// Replica::SupersedeSetAside).
OpenStored StoredOpener(KeyRing& keys);

// After this pass's push: re-dates the commits the hub refused as stamped
// ahead, if the clock is right now and the keystore unlocked, and pushes
// them with `pusher`. Sets report->redated and report->redate_note (what
// was done, or why they still wait: a clock still ahead, a locked
// keystore). An error only if the hub could not be reached (a refusal of
// the push is report->push_refused): the pass still pulls otherwise.
// `clock` is the pass's, which Hello's skew was measured with: the replica
// stamps with its own, which must be right too (else the rewrites would be
// refused in turn).
absl::Status RedateRefused(Replica& replica, KeyRing& keys, const HelloInfo& hello,
                           ClockSource& clock, Pusher& pusher, const std::atomic<bool>* stop,
                           SyncReport* report);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_RESTAMP_H_
