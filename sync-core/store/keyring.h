// The node's keys: the device registry relayed by the hub, the key records
// of its office and of the cases it may read, and the keys opened from them
// while the keystore is unlocked (docs/CRYPTO.md, "Key hierarchy").
//
// Tables in the replica file (docs/FORMATS.md): _fs_registry (devices and
// their public keys, revocations), _fs_keys (key records, whether pushed),
// _fs_erased (key rings destroyed). Secret keys are never stored here: an
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
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
  static absl::StatusOr<std::unique_ptr<KeyRing>> Open(Replica* replica, std::string province);
  ~KeyRing();

  const std::string& province() const { return province_; }

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
  absl::Status MarkPushed(const std::vector<std::string>& records);
  // Records the hub refused for good: kept (pushed = 2), never sent again.
  absl::Status MarkRefused(const std::vector<std::string>& records);
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
  };
  struct OfficeView {
    // The office's first device as pinned here; none until an officer
    // confirmed it (device join, or approve --first on the first laptop).
    std::optional<crypto::DevicePublic> root;
    // Not pinned yet: the one first device of the office this laptop has
    // seen (what its code is computed against), and how many it has seen.
    std::optional<crypto::DevicePublic> first_device_seen;
    size_t first_devices_seen = 0;
    bool member = false;                       // this laptop may hold the office's keys
    bool removed = false;                      // this laptop was removed or revoked
    // This laptop's pairing code (against the pinned root, or itself if
    // none), to be compared with the approving laptop's screen.
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
  // office keys, whatever the hub relays.
  absl::Status Join(std::string_view code);
  // A member approves `device` of its office, after the officer compared
  // `code` with the new device's screen. Needs the keystore unlocked.
  absl::Status Approve(const DeviceId& device, std::string_view code);
  // A member removes `device` from the office for good; the office's keys
  // move to a new generation at the next sync. Needs the keystore unlocked.
  absl::Status Remove(const DeviceId& device);
  // Whether `device` is a member of `province` now, by that office's chain
  // as this laptop holds it.
  absl::StatusOr<bool> IsMember(const std::string& province, const DeviceId& device);
  // What the hub served that this laptop refused (changed keys, a
  // revocation undone, a second first device), oldest first.
  absl::StatusOr<std::vector<std::string>> TrustAlerts();

  // Hooks for Replica::SetSecurity: verify always; sign and seal when
  // unlocked (a write of a sensitive field while locked is refused with
  // FAILED_PRECONDITION saying how to unlock).
  CommitSecurity Security();

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

  // The key ring a sealed field uses: the row itself for cases, persons,
  // contacts and services, and for a referral's letter (reason,
  // decline_reason); the case for the other fields of referrals and
  // consents.
  static absl::StatusOr<RowId> KeyRingOf(std::string_view table, const RowId& row,
                                         std::string_view column,
                                         const std::function<absl::StatusOr<Value>(
                                             std::string_view)>& row_value);

  class Impl;

 private:
  explicit KeyRing(Replica* replica, std::string province);
  absl::StatusOr<std::optional<Value>> Seal(const SealRequest& req);
  // The office's membership if this laptop, unlocked, is a member of it
  // (what approving and removing need); FAILED_PRECONDITION saying so else.
  absl::StatusOr<std::shared_ptr<crypto::Membership>> SigningMember(std::string_view doing,
                                                                    std::string_view act);
  absl::StatusOr<uint32_t> NewestTrustedVersion(const RowId& ring, const std::string& owner);
  absl::Status Verify(const Commit& c, int64_t position);

  Replica* replica_;
  std::string province_;
  std::unique_ptr<crypto::DeviceIdentity> identity_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_KEYRING_H_
