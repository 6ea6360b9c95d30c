// One sync pass of a node, whatever the transport: Hello, push its commits
// and key records, pull until caught up, seal what it wrote clear before
// schema version 4, maintain the office's keys and push what that made.
#ifndef FIELDSYNC_SYNC_PASS_H_
#define FIELDSYNC_SYNC_PASS_H_

#include <atomic>
#include <functional>

#include "absl/status/statusor.h"
#include "base/tuning.h"
#include "clock/clock_source.h"
#include "crypto/identity.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/messages.h"
#include "sync/pusher.h"
#include "sync/puller.h"
#include "sync/report.h"
#include "sync/transport.h"

namespace fieldsync::sync {

struct PassOptions {
  PushOptions push;
  PullOptions pull;
  ClockSource* clock = nullptr;  // for the skew and the resend horizon; null: the system's
  // Version 3: the least time between two statements of what this laptop
  // has seen (sync/statement_keeper.h); 0 makes one every pass.
  int64_t statement_interval_millis = tuning::kStatementIntervalMillis;
  // Version 3: the least time between two checkpoints the hub adopted
  // (sync/checkpoint_keeper.h); 0 tries one at every pass that may make one.
  int64_t checkpoint_interval_millis = tuning::kCheckpointIntervalMillis;
  // Version 3: use compact headers with a hub that says it reads them
  // (sync/compact_header.h). False: as a build before them (tests of the
  // negotiation).
  bool compact_headers = true;
};

// Hello: who the hub is and the clock skew, from this node's clock at
// sending and receiving. With `cred`, the node's province as the hub has it.
absl::StatusOr<HelloInfo> SayHello(Transport& transport, const Credential* cred,
                                   ClockSource& clock);

// Enrols the device of `id` (its keystore's identity) with a proof signed
// by it over the hub's challenge and the token (a Hello first), so that a
// retry of an enrolment whose answer was lost is taken from it and from no
// one else (crypto/enrolment_proof.h).
absl::StatusOr<EnrollReply> Enrol(Transport& transport, const std::string& token,
                                  const crypto::DeviceIdentity& id,
                                  const std::string& device_name, ClockSource& clock);

// One pass. Stops between calls when *stop becomes true (CANCELLED); every
// batch applied before that is kept. On a retryable failure the transport
// is reset (its next call dials anew). With `progressed`, whether a call of
// the pass moved something (commits, key records or headers to the hub,
// anything pulled), failed or not: the daemon tries again at once after a
// failed pass that did (sync/schedule.h).
absl::StatusOr<SyncReport> RunPass(Transport& transport, Replica& replica, KeyRing& keys,
                                   const Credential& cred, const PassOptions& options,
                                   const std::atomic<bool>* stop = nullptr,
                                   const std::function<void(const SyncReport&)>& progress = {},
                                   bool* progressed = nullptr);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_PASS_H_
