// The node's side of sync: a gRPC client of the hub's fieldsync.v1.Sync
// service, the enrolment it keeps in its data directory, and one sync pass
// (push everything unacknowledged, then pull until caught up).
#ifndef FIELDSYNC_NODE_CLIENT_H_
#define FIELDSYNC_NODE_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/identity.h"
#include "store/keyring.h"
#include "store/replica.h"

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
struct Credential {
  DeviceId device;
  std::string secret;  // 32 bytes
};

absl::Status SaveEnrolment(const std::string& dir, const HubConfig& hub, const Credential& cred);
// FAILED_PRECONDITION saying how to enrol if the node is not enrolled.
absl::StatusOr<HubConfig> LoadHubConfig(const std::string& dir);
absl::StatusOr<Credential> LoadCredential(const std::string& dir);

struct HelloInfo {
  DeviceId hub_id;
  int64_t hub_time_millis = 0;
  int64_t skew_millis = 0;  // this node's clock minus the hub's
  std::string province;
  int64_t log_head = 0;
  std::string enrol_challenge;  // for an enrolment proof; empty from an older hub
};

struct SyncReport {
  uint64_t pushed = 0;          // commits the hub newly stored
  uint64_t push_duplicates = 0; // commits it already held
  uint64_t pulled = 0;          // commits applied here
  uint64_t rows_installed = 0;  // rows installed whole (bootstrap, referrals)
  uint64_t tombstones_purged = 0;  // deleted rows the hub collected, dropped here
  uint64_t pull_messages = 0;
  int64_t cursor = 0;           // position in the hub's log now held
  int64_t log_head = 0;
  int64_t skew_millis = 0;
  bool bootstrapped = false;
  std::string notice;           // from the hub, for the user
  // Set when the hub refused one of this node's commits for good (outside
  // the node's scope, a record it collected, ...): that commit and the ones
  // after it stay unpushed, and say why; the pull still ran, so the node
  // receives everyone else's work meanwhile.
  absl::Status push_refused;
  // Key records: sent to the hub, received from it, and received but
  // refused (forged, from an unknown device, ...; the first reason kept).
  uint64_t key_records_pushed = 0;
  uint64_t key_records_received = 0;
  uint64_t key_records_refused = 0;
  std::string key_refusal;
  // Key records of this node the hub refused for good: set aside, reported.
  uint64_t key_records_refused_by_hub = 0;
  std::string key_push_refusal;
  // What the key ring did after the pull (office keys, shares, grants).
  std::vector<std::string> key_notes;
};

struct ClientOptions {
  std::string address;
  std::string ca_file;
  bool insecure = false;
  int64_t call_timeout_millis = 30'000;
  int64_t pull_timeout_millis = 30 * 60'000;
  uint32_t pull_batch = 0;  // 0: the hub's default
  uint32_t push_batch = 500;
  // gzip on requests (off: tests that read what goes over the wire).
  bool compress = true;
};

class SyncClient {
 public:
  // INVALID_ARGUMENT for insecure off loopback; FAILED_PRECONDITION for an
  // unreadable CA file. Connecting is lazy: errors show at the first call.
  static absl::StatusOr<std::unique_ptr<SyncClient>> Create(const ClientOptions& options);
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
  // each pulled message.
  // `keys` is the replica's key ring: it receives the registry and key
  // records, verifies pulled commits, and (if unlocked) maintains the
  // office's keys after the pull, whose new records are pushed at once.
  absl::StatusOr<SyncReport> Sync(Replica& replica, KeyRing& keys, const Credential& cred,
                                  const std::atomic<bool>* stop = nullptr,
                                  const std::function<void(const SyncReport&)>& progress = {});

  class Impl;

 private:
  explicit SyncClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether an error is worth retrying soon (the hub unreachable, a cut
// link, a deadline): UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED,
// RESOURCE_EXHAUSTED, CANCELLED by the link.
bool Retryable(const absl::Status& s);

// Whether the hub refused a commit for good (PERMISSION_DENIED: outside the
// scope, a collected record; INVALID_ARGUMENT: malformed): sending it again
// as it is cannot succeed.
bool PermanentRefusal(const absl::Status& s);

// Whether unpushed local commits (those after `after_seq` too, if given)
// include urgent ones (a case marked urgent, a crime reported): the daemon
// syncs at once for those.
absl::StatusOr<bool> HasUrgentUnpushed(Replica& replica, uint64_t after_seq = 0);

// Cursor names in the replica's _fs_cursors.
inline constexpr char kPushedCursor[] = "hub:pushed";
// Wall time (Unix ms) of the last sync pass that completed (fieldnode status).
inline constexpr char kLastSyncCursor[] = "hub:last_sync_millis";
inline constexpr char kPulledCursor[] = "hub:pulled";
// 1 once a bootstrap (the hub's current state) has been installed whole.
inline constexpr char kBootstrappedCursor[] = "hub:bootstrapped";
// The hub's tombstone-collection epoch at the last pull.
inline constexpr char kGcEpochCursor[] = "hub:gc_epoch";
// How far the node holds the hub's key records.
inline constexpr char kKeyCursor[] = "hub:keys";

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_CLIENT_H_
