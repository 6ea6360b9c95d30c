// The hub's store as the hub's side of the protocol (hub/sync_handler.h)
// and its command line see it: its log, the registry of provinces and
// nodes, per-node sync state, push, pull and tombstone collection. One
// implementation holds every rule: HubEngine (hub/engine.h), over a
// HubStorage (hub/storage.h) that keeps the data -- SqliteHubStore
// (hub/sqlite_store.h) is the engine over the embedded SQLite storage; a
// PostgreSQL store for several hub processes is another HubStorage, with no
// rule of its own and nothing to change in the service. Implementations are
// thread-safe.
#ifndef FIELDSYNC_HUB_STORE_H_
#define FIELDSYNC_HUB_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "crypto/identity.h"
#include "hub/audit.h"
#include "hub/credential_check.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/messages.h"

namespace fieldsync::hub {

struct Province {
  std::string code;  // e.g. "LC"
  std::string name;  // e.g. "Lào Cai"
  int64_t created_at_millis = 0;
};

struct NodeInfo {
  DeviceId device;
  std::string name;
  std::string province;
  int64_t enrolled_at_millis = 0;
  int64_t last_seen_millis = 0;       // 0: never called after enrolling
  int64_t cursor = 0;                 // position it acknowledged in its last pull
  int64_t delivered = 0;              // position its last completed pull reached
  uint64_t pending = 0;               // log entries of its scope after that cursor
  uint64_t acknowledged_seq = 0;      // its commits the hub holds
  // Its commits the hub refused for good that it has not withdrawn yet:
  // work set aside on the laptop (version 3; Nodes() only).
  uint64_t set_aside = 0;
  int protocol_version = 0;           // spoken at its last call
  int64_t clock_skew_millis = 0;      // its clock minus the hub's, at its last Hello
  bool revoked = false;
  int64_t revoked_at_millis = 0;
  int64_t revoked_position = 0;       // the log head when it was revoked
  crypto::DevicePublic keys;          // registered at enrolment
  // Removed by its office's signed records (refused as if revoked): when
  // the hub stored the removal; 0 if it was not removed (Nodes() only).
  int64_t removed_by_office_at_millis = 0;
  // Whether the hub holds its link key, or closed it after a two-holders
  // alarm (Nodes() only): `serve --refuse-bearer` refuses nothing a fleet
  // needs once every device holds one.
  LinkKeyState link_key = LinkKeyState::kNone;
};

struct EnrollToken {
  std::string token;   // handed to the node's officer; the store keeps a hash
  std::string province;
  int64_t expires_at_millis = 0;
};

struct Enrolment {
  std::string secret;  // 32 bytes: the node's credential, returned once
  std::string province;
};

// The protocol's messages (sync-core/sync/messages.h): what a push carries
// and returns, and what a pull asks and streams.
using sync::PulledEntry;
using sync::PullChunk;
using sync::PullParams;
using sync::PushedCommit;
using sync::PushOrigin;
using sync::PushOutcome;

struct GcReport {
  uint64_t epoch = 0;         // collections so far; nodes of older epochs re-bootstrap
  int64_t horizon = 0;        // log position below which history was collected
  uint64_t tombstones = 0;    // deleted rows removed for good
  std::vector<std::string> waiting_for;  // nodes that kept a tombstone alive
  // Nodes away past the stale limit that missed a delete collected now:
  // rebuilt from the current state at their next pull (docs/PROTOCOL.md,
  // "Tombstones"), each as "name (device, province), last seen DATE".
  std::vector<std::string> rebuilt;
  bool dry_run = false;  // nothing was changed: what a collection would do now
};

// What became of a statement a node pushed and the hub kept.
struct StatementKept {
  bool checkpoint = false;           // it carried a checkpoint (kind 2)
  bool checkpoint_adopted = false;   // ... which the hub adopted
  std::string checkpoint_note;       // why not, in one line
};

class HubStore {
 public:
  virtual ~HubStore() = default;

  virtual const DeviceId& hub_id() const = 0;
  virtual absl::StatusOr<int64_t> LogHead() = 0;
  // OK while the store is still as this process opened it; else one line
  // saying why it may serve no more (a PostgreSQL hub's schema changed by
  // another fieldhub: docs/POSTGRES.md, "Who changes the schema"), and the
  // store then refuses its writes for good. `fieldhub serve` asks at each
  // health tick (hub/store_health.h). A store that cannot change under
  // its process has nothing to say.
  virtual absl::Status CheckSchema() { return absl::OkStatus(); }

  // Registry (administrators). Each change is recorded in the audit trail
  // (hub/audit.h) in the same transaction, under `actor`: the administrator
  // who asked for it.
  virtual absl::Status AddProvince(const std::string& code, const std::string& name,
                                   const std::string& actor) = 0;
  virtual absl::StatusOr<std::vector<Province>> Provinces() = 0;
  // NOT_FOUND for an unknown province.
  virtual absl::StatusOr<EnrollToken> MakeEnrollToken(const std::string& province,
                                                      int64_t valid_for_millis,
                                                      const std::string& actor) = 0;
  virtual absl::StatusOr<std::vector<NodeInfo>> Nodes() = 0;
  // One node as the registry holds it (revoked or not), nullopt if it was
  // never enrolled here; without the counts only Nodes() fills.
  virtual absl::StatusOr<std::optional<NodeInfo>> NodeOf(const DeviceId& device) = 0;
  // NOT_FOUND if no such node; FAILED_PRECONDITION if it is revoked already
  // (nothing changes).
  virtual absl::Status RevokeNode(const DeviceId& device, const std::string& actor) = 0;
  // The administrators' audit trail as stored (verify with VerifyHubAudit).
  virtual absl::StatusOr<HubAuditTrail> AuditTrail() = 0;

  // Enrolment (nodes), recorded in the audit trail under the device's id:
  // PERMISSION_DENIED for an unknown, used or expired token, a revoked
  // device, or a device enrolled with other public keys (keys are
  // registered once and never replaced). The device that used a token may
  // use it again until it expires, with the same keys (a lost answer), and
  // only with `proven` (else PERMISSION_DENIED): a new secret, the old one
  // stops working. ALREADY_EXISTS for an enrolled device with another token;
  // FAILED_PRECONDITION for a token of another province than the device's.
  // Nothing changes on a refusal.
  // `keys` are the device's public keys (INVALID_ARGUMENT if malformed);
  // its commits and key records are verified against them. `proven`: the
  // request was signed with them over a fresh challenge of this hub and the
  // token (crypto/enrolment_proof.h), checked by the caller: a device id and
  // its public keys are public, so without it anyone holding the used token
  // could replace the credential and lock the device out.
  virtual absl::StatusOr<Enrolment> Enroll(const std::string& token, const DeviceId& device,
                                           const std::string& name,
                                           const crypto::DevicePublic& keys, bool proven) = 0;
  // Every enrolled device with its public keys and revocation, for nodes.
  virtual absl::StatusOr<std::vector<RegisteredDevice>> Registry() = 0;
  // UNAUTHENTICATED for an unknown node or a credential that does not
  // match (`check`: its secret or a proof, hub/credential_check.h),
  // PERMISSION_DENIED for a revoked node.
  virtual absl::StatusOr<NodeInfo> Authenticate(const DeviceId& device,
                                                const CredentialCheck& check) = 0;
  // Keeps the device's link key unless it has one (HubStorage::
  // SwapLinkKey), audited (kAuditLinkKey) with `detail` by `actor`; the
  // caller has checked the Hello that sent it (or the store it restores
  // held it). Whether it was stored now.
  virtual absl::StatusOr<bool> RegisterLinkKey(const DeviceId& device,
                                               std::string_view link_public_key,
                                               const std::string& actor,
                                               const std::string& detail) = 0;
  // Marks the device whose link key is `link_public_key` closed
  // (kLinkKeyClosed), audited (kAuditLinkKeyClosed); whether it was
  // closed now. Only `fieldhub restore` calls it, to keep a closing of
  // session 25 the replaced store held (a two-holders alarm closes
  // nothing since session 26).
  virtual absl::StatusOr<bool> CloseLinkKey(const DeviceId& device,
                                            std::string_view link_public_key,
                                            const std::string& actor,
                                            const std::string& detail) = 0;
  // A two-holders alarm (hub/credential_check.h, hub/alarm_limiter.h):
  // an audit entry kAuditLinkKeyAlarm by `actor` with `detail`, in the
  // registry's write transaction; nothing else of the device changes.
  virtual absl::Status AuditLinkKeyAlarm(const std::string& actor,
                                         const std::string& detail) = 0;
  // Bookkeeping of a call (last seen, protocol, skew, acknowledged cursor).
  // A pull stream that ended well took the node to `position`. What it
  // acknowledged is what it asks from at its next pull (`cursor`, which
  // garbage collection trusts); this is what lag and pending are shown from.
  virtual absl::Status RecordDelivered(const DeviceId& device, int64_t position) = 0;
  virtual absl::Status RecordCall(const DeviceId& device, int protocol_version,
                                  std::optional<int64_t> clock_skew_millis,
                                  std::optional<int64_t> cursor) = 0;

  // Sync. Push stores all of `commits` and `key_records` or nothing. Each
  // commit's signature is verified against the node's registered key
  // (UNAUTHENTICATED otherwise), sensitive fields must be sealed
  // (INVALID_ARGUMENT), key records must be the node's own and fit its
  // office (PERMISSION_DENIED). Each grant of a case's data key to another
  // office (kind 3) and each erasure (kind 4) newly stored is recorded in
  // the audit trail, under the pushing device's id, in the same transaction.
  virtual absl::StatusOr<PushOutcome> Push(const NodeInfo& node, const PushOrigin& origin,
                                           const std::vector<PushedCommit>& commits,
                                           const std::vector<std::string>& key_records) = 0;
  // Streams the node's view from `cursor`; `emit` returns false when the
  // node has gone (the pull stops, CANCELLED).
  // A node that is not `bootstrapped`, or last pulled in an older
  // tombstone-collection epoch, receives the current state first.
  // The first message carries the registry if the node's digest differs,
  // and the key records after the node's key cursor that it may hold.
  virtual absl::Status Pull(const NodeInfo& node, const PullParams& params,
                            const std::function<bool(PullChunk&)>& emit) = 0;
  // What the hub holds of `device`'s own commits (its acknowledged and
  // accounted seqs), told at hello: less than the node sent means the hub
  // went back (docs/PROTOCOL.md, "A hub put back from a backup").
  virtual absl::StatusOr<sync::OwnCommitsHeld> OwnCommitsHeld(const DeviceId& device) = 0;

  // Keeps `bytes`, a signed statement of what `node` has seen (protocol
  // version 3, hub/statements.h), as its newest unless it holds a newer one,
  // and adopts the checkpoint a statement of kind 2 carries if its rows
  // agree (hub/checkpoints.h). INVALID_ARGUMENT (one line) if it is not
  // `node`'s own statement of this hub; the push it came with is not
  // concerned.
  virtual absl::StatusOr<StatementKept> PutStatement(const NodeInfo& node,
                                                     const std::string& bytes) = 0;

  // Removes tombstones deleted at least `min_age_millis` ago that every node
  // able to see them has acknowledged (nodes not seen for `stale_after_millis`
  // do not hold collection back; they re-bootstrap when they return).
  // `dry_run`: the same report, nothing changed (nor audited).
  virtual absl::StatusOr<GcReport> CollectTombstones(int64_t min_age_millis,
                                                     int64_t stale_after_millis,
                                                     const std::string& actor,
                                                     bool dry_run = false) = 0;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_STORE_H_
