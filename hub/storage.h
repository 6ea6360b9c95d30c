// What the hub keeps, as data, with no rule of the protocol in it: the
// storage a hub store implements (SqliteHubStorage, hub/sqlite_storage.h,
// is the embedded default; a PostgreSQL store implements the same). The
// rules -- who may push what (hub/admission.h), what a node may see and is
// sent (hub/scope.h, hub/pull_plan.h), when a tombstone may go
// (hub/tombstones.h), who an office removed (hub/office_removals.h) -- are
// engine code over this interface (hub/engine.h), written once.
//
// Three ways in: the registry calls below (each its own transaction);
// Write(), the one writer at a time, whose HubWriteTxn merges commits and
// stores what the rules decided; Read(), one consistent snapshot for a
// pull. Implementations are thread-safe.
#ifndef FIELDSYNC_HUB_STORAGE_H_
#define FIELDSYNC_HUB_STORAGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/commit.h"
#include "change/id.h"
#include "crypto/identity.h"
#include "hub/audit.h"
#include "hub/store.h"
#include "store/replica.h"

namespace fieldsync::hub {

class Scope;

// A key record as stored (docs/CRYPTO.md): relayed, never opened.
struct StoredKeyRecord {
  int64_t seq = 0;           // storage order; never reused
  int kind = 0;              // crypto::KeyRecordKind
  std::string province;      // "" if the record names none
  std::optional<RowId> keyring;
  DeviceId signer;
  int64_t stored_at_millis = 0;
  std::string id;            // crypto::KeyRecord::Id()
  std::string bytes;
};

// What the hub keeps of an office's membership (key records of kind 6, in
// the order stored) and of its revoked devices: what its removals are
// computed from (hub/office_removals.h).
struct OfficeRecords {
  std::vector<std::pair<std::string, int64_t>> membership;  // bytes, stored_at
  std::set<DeviceId> revoked;
};

// The hub's scope entry of a row (hub/scope.h, hub_row_scope).
struct RowScopeEntry {
  std::string owner;          // "" if none recorded
  std::optional<RowId> case_id;
  bool restricted = false;    // as last written (ever_public aside)
};

// A referral row as merged, for the referral rules (hub/referral_check.h).
struct ReferralState {
  std::string from_office, to_office, status;  // "" when not text
  std::optional<Version> status_version;
  std::vector<std::pair<Version, std::string>> status_conflicts;  // concurrent statuses
};

// A deleted row (tombstone) and where the log deleted it.
struct Tombstone {
  std::string table;
  RowId row;
  int64_t deleted_pos = 0;
};

// A collected row as remembered for the nodes that held it.
struct PurgedRow {
  std::string table;
  RowId row;
  int64_t position = 0;  // where it was deleted
};

// A log entry as stored, by position.
struct LogEntry {
  int64_t position = 0;
  DeviceId author;
  std::string body;       // canonical commit
  std::string signature;  // "" if none
};

// Tombstone collection so far: nodes of an older epoch drop what was
// collected since, or re-bootstrap.
struct GcState {
  int64_t horizon = 0;
  uint64_t epoch = 0;
};

// One consistent view of the hub's data (a pull's snapshot, or the writer's).
class HubReadTxn {
 public:
  virtual ~HubReadTxn() = default;

  virtual const Schema& schema() const = 0;
  // The scope tables (hub/scope.h), read and written through this view.
  virtual Scope& scope() = 0;

  virtual absl::StatusOr<int64_t> LogHead() = 0;
  virtual absl::StatusOr<GcState> Gc() = 0;
  // Every enrolled device with its public keys, as nodes verify against it.
  virtual absl::StatusOr<std::vector<RegisteredDevice>> Registry() = 0;

  // The current state of a row (nullopt if the hub holds none).
  virtual absl::StatusOr<std::optional<RowSnapshot>> ExportRow(const std::string& table,
                                                               const RowId& row) = 0;
  // The scope entry of a row; nullopt if the hub recorded none.
  virtual absl::StatusOr<std::optional<RowScopeEntry>> RowScope(const std::string& table,
                                                                const RowId& row) = 0;
  // Which of `tables` holds a row of id `row` in the scope tables, if any.
  virtual absl::StatusOr<std::optional<std::string>> TableOf(
      const RowId& row, const std::vector<std::string>& tables) = 0;

  // Whether the row was collected (its tombstone removed for good).
  virtual absl::StatusOr<bool> IsPurged(const std::string& table, const RowId& row) = 0;
  // Rows collected in epochs after `epoch` that `province` (or every
  // province) could see when they were, in (table, row) order.
  virtual absl::StatusOr<std::vector<PurgedRow>> PurgedSince(uint64_t epoch,
                                                             const std::string& province) = 0;

  // Key records after `seq`, in order, to `visit` (stops at its first error).
  virtual absl::Status ForEachKeyRecordAfter(
      int64_t seq, const std::function<absl::Status(const StoredKeyRecord&)>& visit) = 0;
  // The bytes of the key records of `kind` for `ring` stored up to `seq`
  // that name another province than `province`, in order.
  virtual absl::StatusOr<std::vector<std::string>> KeyRecordsOfRing(const RowId& ring, int kind,
                                                                   const std::string& province,
                                                                   int64_t seq) = 0;

  // Up to `limit` log entries in (after, upto] recorded under one of
  // `log_keys` (hub/scope.h, hub_log_scope), in position order.
  virtual absl::StatusOr<std::vector<LogEntry>> LogEntriesUnder(
      const std::vector<std::string>& log_keys, int64_t after, int64_t upto, size_t limit) = 0;

  // Referrals (hub/referral_check.h): the merged row; nullopt if none.
  virtual absl::StatusOr<std::optional<ReferralState>> Referral(const RowId& referral) = 0;
  // The status a version of the referral wrote, as recorded when stored.
  virtual absl::StatusOr<std::optional<std::string>> RecordedReferralStatus(
      const RowId& referral, const Version& version) = 0;
};

// The writer's view. Nothing is written by the view until Merge() or
// Atomically(), each one transaction.
class HubWriteTxn : public HubReadTxn {
 public:
  // Merges `commits` as the replica's merge does (store/replica.h), with
  // `hooks` called inside the transaction: anything a hook writes through
  // this view is stored with the commits, or nothing is.
  virtual absl::StatusOr<ApplyResult> Merge(const std::vector<Commit>& commits,
                                            const ApplyHooks& hooks) = 0;
  // Runs `body` in one write transaction (nothing stays of it on an error).
  virtual absl::Status Atomically(const std::function<absl::Status()>& body) = 0;

  // The registry as the writer sees it.
  // Enrolled and not revoked by the administrator.
  virtual absl::StatusOr<bool> NodeActive(const DeviceId& device) = 0;
  // Enrolled for `province` (and not revoked, if `active`).
  virtual absl::StatusOr<bool> DeviceOf(const DeviceId& device, const std::string& province,
                                        bool active) = 0;
  virtual absl::StatusOr<bool> ProvinceExists(const std::string& code) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ProvinceCodes() = 0;
  virtual absl::StatusOr<OfficeRecords> OfficeRecordsOf(const std::string& province) = 0;
  // The highest sequence number of `device`'s commits held (0: none).
  virtual absl::StatusOr<uint64_t> AcknowledgedSeq(const DeviceId& device) = 0;

  // Key records.
  virtual absl::StatusOr<bool> RingErased(const RowId& ring) = 0;
  // Deletes the ring's records of `kinds` and remembers it erased.
  virtual absl::Status EraseRing(const RowId& ring, const std::vector<int>& kinds,
                                 int64_t at_millis, const DeviceId& by) = 0;
  // Stores the record unless one of its id is held; true if stored.
  virtual absl::StatusOr<bool> StoreKeyRecord(const StoredKeyRecord& record) = 0;
  // Referrals: the status a version wrote (kept once).
  virtual absl::Status RecordReferralStatus(const RowId& referral, const Version& version,
                                            const std::string& status) = 0;

  virtual absl::Status AppendAudit(int64_t at_millis, const std::string& actor,
                                   const std::string& action, const std::string& detail) = 0;

  // Tombstone collection.
  // Rows deleted at or before `at_millis` (by the commits' clocks), by
  // deleting position.
  virtual absl::StatusOr<std::vector<Tombstone>> TombstonesDeletedBy(int64_t at_millis) = 0;
  // Removes the deleted row for good; false if it is not (or no longer) deleted.
  virtual absl::StatusOr<bool> DropTombstone(const std::string& table, const RowId& row) = 0;
  // Remembers a dropped row for the nodes that held it (`shared`: every
  // province; else `provinces`) and forgets its scope and conflicts.
  virtual absl::Status RecordPurged(const Tombstone& t, uint64_t epoch, bool shared,
                                    const std::vector<std::string>& provinces) = 0;
  // A collection happened: the horizon moves to `horizon`, the epoch by one.
  virtual absl::Status AdvanceGc(int64_t horizon) = 0;
  // Makes erased key records unrecoverable from the storage's files now.
  virtual void Scrub() = 0;
};

// The storage behind a hub: its registry, and the two views above.
class HubStorage {
 public:
  virtual ~HubStorage() = default;

  virtual const DeviceId& hub_id() const = 0;
  virtual const Schema& schema() const = 0;
  virtual absl::StatusOr<int64_t> LogHead() = 0;

  // The registry, as HubStore (hub/store.h) describes each call.
  virtual absl::Status AddProvince(const std::string& code, const std::string& name,
                                   const std::string& actor) = 0;
  virtual absl::StatusOr<std::vector<Province>> Provinces() = 0;
  virtual absl::StatusOr<EnrollToken> MakeEnrollToken(const std::string& province,
                                                      int64_t valid_for_millis,
                                                      const std::string& actor) = 0;
  // Without removed_by_office_at_millis (the engine's to fill).
  virtual absl::StatusOr<std::vector<NodeInfo>> Nodes() = 0;
  virtual absl::Status RevokeNode(const DeviceId& device, const std::string& actor) = 0;
  virtual absl::StatusOr<HubAuditTrail> AuditTrail() = 0;
  virtual absl::StatusOr<Enrolment> Enroll(const std::string& token, const DeviceId& device,
                                           const std::string& name,
                                           const crypto::DevicePublic& keys, bool proven) = 0;
  virtual absl::StatusOr<std::vector<RegisteredDevice>> Registry() = 0;
  // The node if `secret` is its credential (UNAUTHENTICATED otherwise),
  // revoked or not.
  virtual absl::StatusOr<NodeInfo> CheckCredential(const DeviceId& device,
                                                   const std::string& secret) = 0;
  virtual absl::Status RecordDelivered(const DeviceId& device, int64_t position) = 0;
  virtual absl::Status RecordCall(const DeviceId& device, int protocol_version,
                                  std::optional<int64_t> clock_skew_millis,
                                  std::optional<int64_t> cursor) = 0;
  virtual absl::StatusOr<OfficeRecords> OfficeRecordsOf(const std::string& province) = 0;

  // Runs `body` as the only writer (writes serialise; reads go on).
  virtual absl::Status Write(const std::function<absl::Status(HubWriteTxn&)>& body) = 0;
  // Runs `body` over one consistent snapshot. A body that ends CANCELLED
  // (the node went away mid-stream) leaves the snapshot's connection unused.
  virtual absl::Status Read(const std::function<absl::Status(HubReadTxn&)>& body) = 0;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_STORAGE_H_
