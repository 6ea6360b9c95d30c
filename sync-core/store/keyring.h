// The node's keys: the device registry relayed by the hub, the key records
// of its office and of the cases it may read, and the keys opened from them
// while the keystore is unlocked (docs/CRYPTO.md, "Key hierarchy").
//
// Tables in the replica file (docs/FORMATS.md): _fs_registry (devices and
// their public keys, revocations), _fs_keys (key records, whether pushed),
// _fs_key_refusals (why the hub refused some), _fs_erased (key rings
// destroyed), _fs_roots, _fs_trust_alerts, _fs_trust. Secret keys are never stored here: an
// office key or a data key is opened from its record when needed and held
// in guarded memory until Lock().
//
// Thread safety: like Replica, one thread at a time.
#ifndef FIELDSYNC_STORE_KEYRING_H_
#define FIELDSYNC_STORE_KEYRING_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clock/clock_source.h"
#include "crypto/identity.h"
#include "crypto/key_record.h"
#include "crypto/membership.h"
#include "store/replica.h"

namespace fieldsync {

// One device as the hub's registry lists it.
struct RegisteredDevice {
  crypto::DevicePublic keys;
  std::string province;
  std::string name;
  // The hub's log position and wall time when the device was revoked; 0 if
  // it is not. Commits it signed that sit later in the hub's log are refused.
  int64_t revoked_position = 0;
  int64_t revoked_at_millis = 0;
  bool revoked() const { return revoked_at_millis != 0; }
};

// BLAKE2b-256 (hex) of a registry, independent of order: what a node sends
// so that the hub resends the registry only when it changed.
std::string RegistryDigest(std::vector<RegisteredDevice> devices);

struct KeyRecordsReport {
  size_t added = 0;
  size_t duplicates = 0;
  size_t refused = 0;      // not stored: forged, malformed, from an unknown signer, ...
  size_t erased = 0;       // key rings destroyed by erasure records among them
  std::string first_refusal;
};

struct MaintainReport {
  size_t office_keys_created = 0;
  size_t shares_created = 0;
  size_t grants_created = 0;
  size_t relays_created = 0;  // versions other offices made, passed on (purpose 3)
  std::vector<std::string> notes;  // for the log: what was done and why
};

// What a reader gets for one field.
struct OpenedField {
  enum class State {
    kClear,     // never sealed: the value as stored
    kOpened,    // sealed, and opened here
    kLocked,    // sealed; the keystore is locked
    kNoKey,     // sealed; no key for it has reached this device
    kErased,    // sealed; its case's keys were destroyed
    kFailed,    // sealed; it did not open (tampered, moved, malformed)
  };
  State state = State::kClear;
  Value value;          // kClear, kOpened
  std::string problem;  // otherwise: what happened and what to do
};
std::string_view OpenedStateName(OpenedField::State s);

class KeyRing {
 public:
  // `province`: this node's office. Creates the tables if absent.
  // `clock`: where "now" comes from (null: the system clock).
  static absl::StatusOr<std::unique_ptr<KeyRing>> Open(Replica* replica, std::string province,
                                                       ClockSource* clock = nullptr);
  ~KeyRing();

  const std::string& province() const { return province_; }
  // The clock the key ring stamps records and refusals with.
  ClockSource& clock() const;

  // Holds `identity` (its device must be the replica's) until Lock().
  absl::Status Unlock(crypto::DeviceIdentity identity);
  // Wipes every secret held: identity, office keys, data keys.
  void Lock();
  bool unlocked() const { return identity_ != nullptr; }
  const crypto::DeviceIdentity* identity() const { return identity_.get(); }

  // Replaces the registry with the hub's. The replica's own device must be
  // in it with the public keys of the unlocked identity, if unlocked.
  absl::Status SetRegistry(const std::vector<RegisteredDevice>& devices);
  std::vector<RegisteredDevice> Registry() const;
  // BLAKE2b-256 (hex) of the registry held, for the hub to skip resending it.
  std::string RegistryDigest() const;
  const RegisteredDevice* FindDevice(const DeviceId& device) const;

  // Key records from the hub (or handed over directly). Each is checked
  // alone: structure, signer in the registry, signature, the signer's
  // office; refused ones are counted, not stored. Erasure records destroy
  // what is held of their key ring.
  absl::StatusOr<KeyRecordsReport> AddRecords(const std::vector<std::string>& records);
  // Records made here that the hub has not acknowledged, oldest first.
  absl::StatusOr<std::vector<std::string>> UnpushedRecords(size_t limit);
  // Records ResendOwn put back, oldest first: sent after those never
  // acknowledged, a few a pass (sync/pusher.h PushKeys).
  absl::StatusOr<std::vector<std::string>> RecordsToSendAgain(size_t limit);
  absl::Status MarkPushed(const std::vector<std::string>& records);
  // Records `self` signed that the hub had acknowledged, marked to be sent
  // again (pushed = 3; a hub that went back lost them: docs/PROTOCOL.md, "A
  // hub put back from a backup"); the hub keeps one copy of each. How many.
  absl::StatusOr<size_t> ResendOwn(const DeviceId& self);
  // How many records `self` signed the hub acknowledged (pushed, or
  // received from it; those marked to be sent again included), erasures
  // left out: what a hub that lost none holds of them at least
  // (HelloResponse.own.key_records).
  absl::StatusOr<uint64_t> OwnRecordsAcknowledged(const DeviceId& self);
  // Records `signer` signed held here, after local order `after` (0: from
  // the first), at most `limit`, with their local order: relayed to a hub
  // that lost them (sync/relay.h).
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> RecordsSignedBy(
      const DeviceId& signer, int64_t after, size_t limit);
  // Records the hub refused for good (PERMISSION_DENIED, INVALID_ARGUMENT):
  // set aside (pushed = 2), with the hub's reason, so that they hold up no
  // other record. No refusal of a record this laptop made itself is known
  // to be final: each depends on the hub's registry, scope or version (a
  // subject or recipient it does not list in the office, a record it does
  // not hold yet, a format it does not know), so they are sent again.
  absl::Status MarkRefused(const std::vector<std::string>& records, std::string_view reason = "");
  // Puts up to `limit` records set aside, refused before
  // `refused_before_millis`, back among those to push: membership records
  // first, then those refused longest ago. Never one no hub may take, as
  // this laptop can tell itself (signed by another device, or a key, share
  // or membership record of another office than its own: a modified
  // program's), nor a share of an office key to a device that is no member
  // any more (not needed). How many. Each sync pass calls it after its
  // pushes, for records refused before the pass, with
  // tuning::kKeyRecordsResentPerPass; `fieldnode device resend` with no
  // limit.
  absl::StatusOr<size_t> ResendRefused(size_t limit,
                                       int64_t refused_before_millis = INT64_MAX);
  // A record of this laptop's the hub refused, set aside.
  struct RefusedRecord {
    crypto::KeyRecord record;
    std::string reason;  // the hub's words, made printable
    int64_t at_millis = 0;
    int64_t refusals = 0;  // how many times the hub refused it
  };
  // The records set aside, oldest first.
  absl::StatusOr<std::vector<RefusedRecord>> RefusedRecords();
  // Counts of held records by kind, for status and tests.
  absl::StatusOr<std::map<crypto::KeyRecordKind, int64_t>> CountRecords();

  // --- What a removed or revoked device can still send ------------------
  // A device's commits and key records are refused once this laptop has
  // completed a pull from the hub (caught up) that began after the hub held
  // that device's removal from its office, or its revocation; what arrives
  // up to the end of that pull is taken (an honest hub takes nothing from
  // the device once it holds the removal, so all of its work is in that
  // pull). A cut-off that neither the device nor the hub chooses: a signer
  // back-dates a record at will, and a hub can only withhold the removal.
  // (docs/CRYPTO.md, "What a removed or revoked device can still send".)
  // Around every pull: BeginPull before the request; EndPull once caught
  // up (records cut-offs), AbandonPull otherwise (records none).
  absl::Status BeginPull();
  absl::Status EndPull();
  void AbandonPull();

  // Keeps the office's keys right; needs the keystore unlocked (else does
  // nothing and says so). Creates the office key if the office has none this
  // device holds; shares every office key held with every active device of
  // the office that lacks it; starts a new generation when one at the newest
  // generation was shared with a device since revoked; grants the keys of
  // cases referred to other offices (and their persons') to those offices.
  absl::StatusOr<MaintainReport> Maintain();

  // --- Office membership (docs/CRYPTO.md, "Office membership") ---------
  // One device of this laptop's office as this laptop sees it.
  struct OfficeDevice {
    enum class State { kMember, kPending, kRemoved, kRevoked };
    RegisteredDevice device;
    State state = State::kPending;
    bool first = false;  // the office's first device (its root)
    bool me = false;
    std::optional<DeviceId> approved_by;
    // The pairing code of another device of the office, against this
    // laptop's root: the one its own screen must show (for a device waiting
    // to be approved, or to join).
    std::string code;
    // A membership record about this device that this laptop signed and the
    // hub refused (set aside, sent again at each sync): the hub's reason.
    std::string refused;
  };
  // A first device of this laptop's office the hub showed, not pinned here.
  struct FirstDeviceSeen {
    crypto::DevicePublic keys;
    std::string name;  // as this laptop's registry holds it ("" if absent)
    // This laptop's pairing code against it: what a member laptop whose
    // first device it is shows for this one.
    std::string my_code;
  };
  struct OfficeView {
    // The office's first device as pinned here; none until an officer
    // confirmed it (device join, or approve --first on the first laptop).
    std::optional<crypto::DevicePublic> root;
    // Not pinned yet: the first devices of the office this laptop has seen
    // (signed by themselves), less this laptop and those revoked in its
    // registry; `first_device_seen` when there is exactly one.
    std::vector<FirstDeviceSeen> first_devices_seen;
    std::optional<crypto::DevicePublic> first_device_seen;
    bool member = false;                       // this laptop may hold the office's keys
    bool removed = false;                      // this laptop was removed or revoked
    // This laptop's pairing code, to be compared with the approving
    // laptop's screen: against the pinned root, else the one first device
    // seen, else itself (the office's first laptop); "" when several first
    // devices were seen (each has its own, above).
    std::string my_code;
    std::vector<OfficeDevice> devices;
    std::vector<std::string> problems;  // membership records not taken
  };
  absl::StatusOr<OfficeView> Office();
  // This laptop becomes its office's first device. `code` is this device's
  // own code as the hub administrator reads it from `fieldhub node list`
  // (it proves the hub registered this laptop's keys). Refused if the
  // office already has a first device. Needs the keystore unlocked.
  absl::Status ApproveFirst(std::string_view code);
  // A laptop waiting to join confirms its office: `code` is the code a
  // member laptop shows for it (the same as its own, when the hub showed
  // both laptops the same first device). Pins that first device. Needs the
  // keystore unlocked. Until then this laptop trusts no other device's
  // office keys, whatever the hub relays. When this laptop has seen more
  // than one first device of its office (OfficeView::first_devices_seen),
  // the officer names the one the member laptop shows (`first_device`);
  // without it, FAILED_PRECONDITION naming them and nothing pinned.
  absl::Status Join(std::string_view code, std::optional<DeviceId> first_device = std::nullopt);
  // A member approves `device` of its office, after the officer compared
  // `code` with the new device's screen. Needs the keystore unlocked.
  absl::Status Approve(const DeviceId& device, std::string_view code);
  // A member removes `device` from the office for good; the office's keys
  // move to a new generation at the next sync. Needs the keystore unlocked.
  // The approvals `device` signed for today's members are kept (listed in
  // the removal, at most crypto::kMaxKeptApprovals a record: several
  // records when more, the one approving this laptop in the first), so
  // that those members stay; the report says which.
  struct Removal {
    bool done_already = false;            // removed before: nothing written
    std::vector<DeviceId> kept;           // members whose approval by it is kept
    size_t records = 0;                   // removal records written
  };
  absl::StatusOr<Removal> Remove(const DeviceId& device);
  // Whether `device` is a member of `province` now, by that office's chain
  // as this laptop holds it.
  absl::StatusOr<bool> IsMember(const std::string& province, const DeviceId& device);
  // Whether `device` was approved by the chain of the office the registry
  // lists it in, with the keys registered here (a member then, if not now):
  // a device the hub's administrator enrolled and no office approved is
  // not. Its signature on a row installed whole counts only then.
  absl::StatusOr<bool> Approved(const DeviceId& device);
  // What the hub served that this laptop refused (changed keys, a name
  // changed, a revocation undone, a second first device). One alert a
  // subject (a device and what about it): seen again, it is counted, not
  // repeated; seen again with other words (another name), its text is
  // replaced and it is shown again even if acknowledged. Text that came
  // from the hub is stored made printable (base/strings.h).
  struct TrustAlert {
    int64_t id = 0;  // what `fieldnode device alerts --ack ID` names
    std::string text;
    int64_t first_at_millis = 0;
    int64_t last_at_millis = 0;
    int64_t seen = 0;  // times the hub served it
    int64_t acknowledged_at_millis = 0;  // 0 while not acknowledged
  };
  // Oldest first; acknowledged ones only if `acknowledged`.
  absl::StatusOr<std::vector<TrustAlert>> Alerts(bool acknowledged);
  // The texts of the alerts not acknowledged, oldest first (status).
  absl::StatusOr<std::vector<std::string>> TrustAlerts();
  // Acknowledges alert `id`, or every alert if none given: an officer read
  // it; status no longer shows it. How many were newly acknowledged;
  // NOT_FOUND if there is no alert `id`.
  absl::StatusOr<size_t> AcknowledgeAlerts(std::optional<int64_t> id);

  // Hooks for Replica::SetSecurity: verify always; sign and seal when
  // unlocked (a write of a sensitive field while locked is refused with
  // FAILED_PRECONDITION saying how to unlock).
  CommitSecurity Security();
  // What the hub would refuse of a referral write this laptop makes
  // (change/referral_rules.h), refused here first, nothing stored: a change
  // of its fixed columns, a resolution of its status this office may not
  // make. Called when a commit is signed.
  absl::Status CheckReferralWrites(const Commit& c);
  // A pulled commit that moves a row (its `province`) away from the office
  // that owns it here, by a device not of that office: refused (Verify).
  absl::Status CheckOwnerMoves(const Commit& c, const RegisteredDevice& author);

  // Opens one field as the replica stores it. Never fails: the state says
  // what became of it.
  OpenedField Read(std::string_view table, const RowId& row, std::string_view column,
                   const Value& stored, const std::optional<Version>& version);

  // Crypto-shredding: destroys every key of `keyring` held here and writes
  // an erasure record (pushed to the hub, which destroys its copies and
  // relays the order). Needs the keystore unlocked.
  absl::Status Erase(const std::vector<RowId>& keyrings);
  absl::StatusOr<bool> IsErased(const RowId& keyring);
  // Live cases other than `except` that name `person` (erasing a case
  // erases its person's keys only when there are none).
  absl::StatusOr<int64_t> OtherLiveCasesOf(const RowId& person, const RowId& except);

  // The key ring a sealed field uses is a relation the schema declares:
  // KeyRingOfField (schema/relations.h).

  class Impl;

 private:
  // Records in push state `pushed` (_fs_keys.pushed), oldest first.
  absl::StatusOr<std::vector<std::string>> RecordsIn(int pushed, size_t limit);
  // FAILED_PRECONDITION, saying why nothing was written, unless `row` of
  // `table` holds what signatures vouch for (Replica::RowVouched): the
  // office it names (`office`, the owner or a referral's) is then not one
  // this laptop seals for.
  absl::Status Vouched(const std::string& table, const RowId& row, std::string_view what,
                       const std::string& office);
  explicit KeyRing(Replica* replica, std::string province);
  absl::StatusOr<std::optional<Value>> Seal(sqlite::Transaction& txn, const SealRequest& req);
  // The office's membership if this laptop, unlocked, is a member of it
  // (what approving and removing need); FAILED_PRECONDITION saying so else.
  absl::StatusOr<std::shared_ptr<crypto::Membership>> SigningMember(std::string_view doing,
                                                                    std::string_view act);
  absl::StatusOr<uint32_t> NewestTrustedVersion(const RowId& ring, const std::string& owner);
  // Checks a commit received from elsewhere; writes nothing (it runs
  // before the replica's transaction: CommitSecurity::verify).
  absl::Status Verify(const Commit& c, int64_t position);
  // The devices to cut off now (EndPull), and why.
  absl::StatusOr<std::map<DeviceId, std::string>> CutOffsDue();

  Replica* replica_;
  std::string province_;
  std::unique_ptr<crypto::DeviceIdentity> identity_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_KEYRING_H_
