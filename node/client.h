// The node's side of sync as its commands use it: the enrolment it keeps in
// its data directory, and a client that runs the engine's sync pass
// (sync-core/sync/pass.h) over the gRPC transport (node/grpc_transport.h).
#ifndef FIELDSYNC_NODE_CLIENT_H_
#define FIELDSYNC_NODE_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/tuning.h"
#include "crypto/identity.h"
#include "store/keyring.h"
#include "node/grpc_transport.h"
#include "node/hub_links.h"
#include "store/replica.h"
#include "sync/messages.h"
#include "sync/report.h"
#include "sync/retry.h"
#include "sync/schedule.h"

namespace fieldsync::node {

// Where the hub is and how to trust it. Written by `fieldnode enroll` to
// DIR/hub.conf (format in docs/FORMATS.md, "Node enrolment files").
struct HubConfig {
  std::string address;   // host:port
  std::string ca_file;   // PEM of the CA that signed the hub's certificate
  bool insecure = false; // plain text (loopback only)
  std::string province;  // this node's province, as the hub registered it
  std::string hub_id;    // the hub's device id, as text
};

// The node's credential: DIR/credential (mode 0600).
using sync::Credential;

absl::Status SaveEnrolment(const std::string& dir, const HubConfig& hub, const Credential& cred);
// FAILED_PRECONDITION saying how to enrol if the node is not enrolled.
absl::StatusOr<HubConfig> LoadHubConfig(const std::string& dir);
absl::StatusOr<Credential> LoadCredential(const std::string& dir);

using sync::HelloInfo;
using sync::SyncReport;

class SyncClient {
 public:
  // INVALID_ARGUMENT for insecure off loopback; FAILED_PRECONDITION for an
  // unreadable CA file. Connecting is lazy: errors show at the first call.
  static absl::StatusOr<std::unique_ptr<SyncClient>> Create(const ClientOptions& options);
  // A client over another transport (`options` gives only the batch sizes):
  // tests talk to a hub in their own process (sync/transport.h) this way.
  static std::unique_ptr<SyncClient> Over(std::unique_ptr<sync::Transport> transport,
                                          const ClientOptions& options);
  ~SyncClient();

  absl::StatusOr<HelloInfo> Hello(const Credential* cred);
  // Enrols the device of `id` (its keystore's identity): registers its
  // public keys, with a proof signed by it over the hub's challenge (a
  // Hello first) and the token, so that a retry of an enrolment whose
  // answer was lost is taken from it and from no one else
  // (crypto/enrolment_proof.h).
  absl::StatusOr<Credential> Enroll(const std::string& token, const crypto::DeviceIdentity& id,
                                    const std::string& device_name, std::string* province,
                                    std::string* hub_id);

  // One pass. Stops between batches when *stop becomes true (CANCELLED);
  // every batch applied before that is kept. `progress` is called after
  // each pulled message. With `progressed`, whether the pass moved
  // something, failed or not (sync::RunPass).
  // `keys` is the replica's key ring: it receives the registry and key
  // records, verifies pulled commits, and (if unlocked) maintains the
  // office's keys after the pull, whose new records are pushed at once.
  absl::StatusOr<SyncReport> Sync(Replica& replica, KeyRing& keys, const Credential& cred,
                                  const std::atomic<bool>* stop = nullptr,
                                  const std::function<void(const SyncReport&)>& progress = {},
                                  bool* progressed = nullptr);

  // The transport under it (tests call the protocol directly).
  sync::Transport& transport();

  // The least time between two of this laptop's signed statements (protocol
  // version 3; sync/statement_keeper.h). Tests that compare statements set 0:
  // one every pass.
  void set_statement_interval(int64_t millis) { statement_interval_millis_ = millis; }
  // The least time between two checkpoints the hub adopted (tests: 0).
  void set_checkpoint_interval(int64_t millis) { checkpoint_interval_millis_ = millis; }
  // The laptop's clock for the pass (Hello's skew, stamps); null: the
  // system clock. Tests give a laptop a clock ahead.
  void set_clock(ClockSource* clock) { clock_ = clock; }

 private:
  SyncClient(std::unique_ptr<sync::Transport> transport, HubLinks* grpc,
             const ClientOptions& options);
  std::unique_ptr<sync::Transport> transport_;
  HubLinks* grpc_;  // transport_, when it is gRPC's (its hub addresses); else null
  ClientOptions options_;
  int64_t statement_interval_millis_ = tuning::kStatementIntervalMillis;
  int64_t checkpoint_interval_millis_ = tuning::kCheckpointIntervalMillis;
  ClockSource* clock_ = nullptr;
};

using sync::HasUrgentUnpushed;
using sync::PermanentRefusal;
using sync::Retryable;

using sync::kBootstrappedCursor;
using sync::kGcEpochCursor;
using sync::kKeyCursor;
using sync::kLastSyncCursor;
using sync::kPulledCursor;
using sync::kPushedCursor;

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_CLIENT_H_
