// What the hub keeps, as data, with no rule of the protocol in it: the
// storage a hub store implements (SqliteHubStorage, hub/sqlite_storage.h,
// is the embedded default; a PostgreSQL store implements the same). The
// rules -- who may push what (hub/admission.h), who may enrol
// (hub/enrolment.h), what a node may see and is sent (hub/scope.h,
// hub/pull_plan.h), when a tombstone may go
// (hub/tombstones.h), who an office removed (hub/office_removals.h) -- are
// engine code over this interface (hub/engine.h), written once.
//
// The row-version merge of pushed commits is engine code too: the node's
// own (merge/commit_merge.h: the per-field rule, idempotency by author and
// seq, dependency order), run by the engine over the MergeStore a storage
// hands out in MergeTransaction(). A store implements the storage
// primitives of MergeStore and MergeRow (a row's field registers, conflict
// records, the log with its positions, each author's highest seq held),
// never a merge of its own.
//
// Three ways in: the registry calls below (each its own transaction);
// Write(), the one writer at a time, whose HubWriteTxn runs the merge's
// transaction and stores what the rules decided; Read(), one consistent
// snapshot for a pull. Implementations are thread-safe.
#ifndef FIELDSYNC_HUB_STORAGE_H_
#define FIELDSYNC_HUB_STORAGE_H_

#include <algorithm>
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
#include "merge/commit_merge.h"
#include "store/replica.h"
#include "store/row_scan.h"

namespace fieldsync::hub {

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
  bool ever_public = false;   // a contact that was public once
};

// A row of the scope tables with its entry.
struct ScopedRow {
  std::string table;
  RowId row;
  RowScopeEntry entry;
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
  // Its chain entry (protocol version 3), "" if the hub holds none.
  std::string header;
  std::string header_signature;
  uint64_t seq = 0;  // the author's seq (set by LogEntriesAfter only)
};

// An entry of a device's commit chain as the hub holds it (hub_chain;
// hub/chain_admission.h), at the log position of its commit. An entry
// without a commit in the log (docs/FORMATS.md, "Hub file") has position
// 0 if it is a withdrawal, -code if its commit was refused for good with
// RefusalCode `code` (ROW_COLLECTED ...), -(100 + code) once the device
// withdrew that refused commit.
inline constexpr int64_t kWithdrawnRefusalOffset = 100;
struct StoredChainEntry {
  uint64_t seq = 0;
  int64_t position = 0;
  std::string header;
  std::string signature;
  std::string link;
};

// A laptop's signed statement of what it has seen (protocol version 3;
// crypto/statement.h), the newest the hub holds of that laptop. `seq` orders
// them for the statement cursor of pulls: a newer statement of a laptop
// replaces its older one under a new seq.
struct StoredStatement {
  int64_t seq = 0;
  DeviceId device;
  std::string province;
  uint64_t created_hlc = 0;
  std::string bytes;
};

// A checkpoint the hub adopted (protocol version 3; hub/checkpoints.h): a
// member laptop's signed statement of kind 2 whose root the hub found equal
// to its own rows of the province at the statement's position.
struct StoredCheckpoint {
  std::string id;          // crypto::StatementId of the statement
  std::string province;
  int64_t position = 0;
  uint32_t leaf_count = 0;
  int64_t adopted_at_millis = 0;
  uint64_t gc_epoch = 0;   // the hub's tombstone-collection epoch then
  std::string statement;   // the signed bytes
};

// One row of an adopted checkpoint as it was at its position, by leaf
// index: its state (store/row_state.h) and leaf hash.
struct CheckpointRow {
  uint32_t index = 0;
  std::string table;
  RowId row;
  std::string state;
  std::string leaf;
};

// The last entry of a device's chain the hub holds: seq 0 (and no link)
// if none.
struct ChainPoint {
  uint64_t seq = 0;
  std::string link;
};

// A position of the hub's log and its hash in the log chain
// (hub/log_chain.h): position 0 and no hash for none.
struct LogPoint {
  int64_t position = 0;
  std::string hash;
};

// Tombstone collection so far: nodes of an older epoch drop what was
// collected since, or re-bootstrap.
struct GcState {
  int64_t horizon = 0;
  uint64_t epoch = 0;
  // The ids of the collections that made the newest epochs (session 26;
  // hub_meta `gc_ids`, docs/FORMATS.md): 16 bytes each, the epoch then a
  // random id drawn when it was made, both big-endian, oldest first, at
  // most kGcIdsKept. A hub put back from an older backup that collects to
  // a number again draws another id for it, so that a laptop's list of
  // collected rows is known as another (docs/PROTOCOL.md, "A collection a
  // restore cannot give again"). Empty for epochs an earlier build made.
  std::string ids;
  static constexpr size_t kGcIdsKept = 4096;
  // The id of `e` (nullopt: none kept; never for 0).
  std::optional<uint64_t> IdOf(uint64_t e) const {
    for (size_t at = 0; at + 16 <= ids.size(); at += 16) {
      if (BigEndian(at) == e) return BigEndian(at + 8);
    }
    return std::nullopt;
  }
  // The id of the current epoch (0: none kept).
  uint64_t id() const { return IdOf(epoch).value_or(0); }
  // `ids` with `e`'s new id appended (the oldest dropped past the bound).
  std::string WithId(uint64_t e, uint64_t id) const {
    std::string out = ids.size() / 16 >= kGcIdsKept ? ids.substr(ids.size() - (kGcIdsKept - 1) * 16)
                                                    : ids;
    for (const uint64_t v : {e, id}) {
      for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
    }
    return out;
  }

 private:
  uint64_t BigEndian(size_t at) const {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(ids[at + i]);
    return v;
  }
};

// A fresh collection id (GcState::ids): random, never 0.
uint64_t NewGcId();

// An enrolment token as the registry keeps it.
struct StoredToken {
  std::string province;
  int64_t expires_at_millis = 0;
  bool used = false;
  std::string used_by;  // the device id's bytes that used it ("" if none)
};

// An enrolled device as the enrolment rules need it.
struct StoredNode {
  bool revoked = false;
  std::string province;
  std::optional<std::string> sign_pk, box_pk;  // absent: enrolled before protocol 2
};

// One enrolment's transaction over the registry: storage only, the rules
// are hub/enrolment.h's. Nothing stays of it on an error.
class HubEnrolTxn {
 public:
  virtual ~HubEnrolTxn() = default;
  // The token (looked up as the storage keeps tokens); nullopt if unknown.
  virtual absl::StatusOr<std::optional<StoredToken>> Token(const std::string& token) = 0;
  // The device's entry; nullopt if it is not enrolled.
  virtual absl::StatusOr<std::optional<StoredNode>> Node(const DeviceId& device) = 0;
  // Enrols `device` with credential `secret` (kept as the storage keeps
  // credentials): a new node with its name, province, keys and enrolment
  // time; an enrolled one gets the new credential and name only.
  virtual absl::Status StoreNode(const DeviceId& device, const std::string& name,
                                 const std::string& province, const std::string& secret,
                                 const crypto::DevicePublic& keys, int64_t at_millis) = 0;
  // The token was used by `device` at `at_millis`.
  virtual absl::Status UseToken(const std::string& token, const DeviceId& device,
                                int64_t at_millis) = 0;
  virtual absl::Status AppendAudit(int64_t at_millis, const std::string& actor,
                                   const std::string& action, const std::string& detail) = 0;
};

// One consistent view of the hub's data (a pull's snapshot, or the writer's).
// Its rows are read as a replica's are (store/row_scan.h: ScanRows, the
// rows of a table with some of their values), so that what reads them for
// people -- `fieldhub audit`'s access logs, `fieldhub report` -- is written
// once for both stores.
class HubReadTxn : public RowScan {
 public:
  ~HubReadTxn() override = default;

  const Schema& schema() const override = 0;

  virtual absl::StatusOr<int64_t> LogHead() = 0;
  virtual absl::StatusOr<GcState> Gc() = 0;
  // The log chain (hub/log_chain.h): the hash stored for `position` (none
  // for 0, nor past the last position hashed), and the last one hashed.
  virtual absl::StatusOr<std::optional<std::string>> LogHash(int64_t position) = 0;
  virtual absl::StatusOr<LogPoint> LogHashHead() = 0;
  // Every log entry after `after`, by position, at most `limit`; without
  // their chain entries.
  virtual absl::StatusOr<std::vector<LogEntry>> LogEntriesAfter(int64_t after, size_t limit) = 0;
  // The highest key record seq the store ever gave (those of records erased
  // since included): a node's key cursor past it was given by a store that
  // went back (a hub restored from a backup).
  virtual absl::StatusOr<int64_t> KeyHead() = 0;
  // How many key records `signer` signed the store holds, erasures left
  // out (one of a ring erased already is acknowledged and not stored):
  // HelloResponse.own.key_records.
  virtual absl::StatusOr<uint64_t> KeyRecordsSignedBy(const DeviceId& signer) = 0;
  // The highest sequence number of `device`'s commits held (0: none).
  virtual absl::StatusOr<uint64_t> AcknowledgedSeq(const DeviceId& device) = 0;
  // Every enrolled device with its public keys, as nodes verify against it.
  virtual absl::StatusOr<std::vector<RegisteredDevice>> Registry() = 0;

  // The current state of a row (nullopt if the hub holds none).
  virtual absl::StatusOr<std::optional<RowSnapshot>> ExportRow(const std::string& table,
                                                               const RowId& row) = 0;
  // ExportRow of each of `rows` of `table`, in their order: a store a round
  // trip away reads a page of them in a few queries (a bootstrap's rows).
  virtual absl::StatusOr<std::vector<std::optional<RowSnapshot>>> ExportRows(
      const std::string& table, const std::vector<RowId>& rows) {
    std::vector<std::optional<RowSnapshot>> out;
    out.reserve(rows.size());
    for (const RowId& row : rows) {
      absl::StatusOr<std::optional<RowSnapshot>> one = ExportRow(table, row);
      if (!one.ok()) return one.status();
      out.push_back(*std::move(one));
    }
    return out;
  }
  // The scope entry of a row; nullopt if the hub recorded none.
  virtual absl::StatusOr<std::optional<RowScopeEntry>> RowScope(const std::string& table,
                                                                const RowId& row) = 0;
  // The scope entries of those of `rows` of `table` the hub recorded one
  // of, in row order, each once: RowScope of each; a store a round trip
  // away reads them in a few queries (Scope::VisibleRows: the persons named
  // by an office's cases, not every office's persons).
  virtual absl::StatusOr<std::vector<ScopedRow>> ScopeRowsOf(const std::string& table,
                                                             const std::vector<RowId>& rows) {
    std::vector<RowId> ids(rows);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<ScopedRow> out;
    for (const RowId& row : ids) {
      absl::StatusOr<std::optional<RowScopeEntry>> e = RowScope(table, row);
      if (!e.ok()) return e.status();
      if (e->has_value()) out.push_back(ScopedRow{table, row, **e});
    }
    return out;
  }
  // Which of `tables` holds a row of id `row` in the scope tables, if any.
  virtual absl::StatusOr<std::optional<std::string>> TableOf(
      const RowId& row, const std::vector<std::string>& tables) = 0;

  // Whether the row was collected (its tombstone removed for good).
  virtual absl::StatusOr<bool> IsPurged(const std::string& table, const RowId& row) = 0;
  // Rows collected in epochs after `epoch` that `province` (or every
  // province) could see when they were, in (table, row) order.
  virtual absl::StatusOr<std::vector<PurgedRow>> PurgedSince(uint64_t epoch,
                                                             const std::string& province) = 0;

  // Commit chains (version 3): the head of `device`'s, and its entries
  // first..last, by seq, at most `limit`.
  virtual absl::StatusOr<ChainPoint> ChainHead(const DeviceId& device) = 0;
  virtual absl::StatusOr<std::vector<StoredChainEntry>> ChainEntries(const DeviceId& device,
                                                                     uint64_t first,
                                                                     uint64_t last,
                                                                     size_t limit) = 0;
  // The entries of `device`'s chain whose commit the hub refused (negative
  // positions, withdrawn or not), by seq.
  virtual absl::StatusOr<std::vector<StoredChainEntry>> RefusedChainEntries(
      const DeviceId& device) = 0;

  // Statements (version 3): the newest of each laptop of `provinces` with
  // seq > `after`, by seq, at most `limit`; and the offices `province`
  // shares a case with (cases it owns granted to them, or theirs granted to
  // it), its referral partners.
  virtual absl::StatusOr<std::vector<StoredStatement>> StatementsAfter(
      int64_t after, const std::vector<std::string>& provinces, size_t limit) = 0;
  virtual absl::StatusOr<std::vector<std::string>> PartnerProvinces(
      const std::string& province) = 0;

  // Checkpoints (version 3): the newest adopted for `province`; one by id;
  // the leaf hashes of one, by index; its rows from index `from`, at most
  // `limit`.
  virtual absl::StatusOr<std::optional<StoredCheckpoint>> NewestCheckpoint(
      const std::string& province) = 0;
  virtual absl::StatusOr<std::optional<StoredCheckpoint>> CheckpointById(
      const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<std::string>> CheckpointLeaves(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<CheckpointRow>> CheckpointRows(const std::string& id,
                                                                    uint32_t from,
                                                                    size_t limit) = 0;

  // The key record stored at `seq`, or what an erasure left of it (seq,
  // id, time stored: no bytes); none if none was ever stored there in
  // this file (never given, or erased by a build before session 20).
  virtual absl::StatusOr<std::optional<StoredKeyRecord>> KeyRecordAt(int64_t seq) = 0;
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
  // The log entry of the commit that wrote `version` (its author's commit
  // of that HLC), if the hub holds it: the witness of a row it installs
  // whole on a node (hub/pull_plan.cc).
  virtual absl::StatusOr<std::optional<LogEntry>> CommitOfVersion(const Version& version) = 0;

  // The merged values of `columns` of a row (NULL for an absent value);
  // nullopt if the hub holds no such row.
  virtual absl::StatusOr<std::optional<std::vector<Value>>> CurrentValues(
      const std::string& table, const RowId& row, const std::vector<std::string>& columns) = 0;

  // The scope tables' data (hub/scope.h holds their rules).
  // Whether `province` was granted sight of case `case_id`.
  virtual absl::StatusOr<bool> CaseGranted(const RowId& case_id, const std::string& province) = 0;
  // Every case granted to `province`; those granted at positions in
  // (after, upto], by position.
  virtual absl::StatusOr<std::vector<RowId>> CasesGrantedTo(const std::string& province) = 0;
  virtual absl::StatusOr<std::vector<RowId>> GrantsBetween(const std::string& province,
                                                           int64_t after, int64_t upto) = 0;
  // The provinces whose log entries may touch the cases granted to
  // `province` (Scope::LogKeys): the owners of those cases now, and every
  // province granted any of them -- which names each office a case moved
  // from or to (a move grants both), whose entries were kept under it while
  // it owned the case. Distinct.
  virtual absl::StatusOr<std::vector<std::string>> GrantedCaseProvinces(
      const std::string& province) = 0;
  // The provinces granted sight of `case_id` (hub_grants), distinct.
  virtual absl::StatusOr<std::vector<std::string>> CaseGrantees(const RowId& case_id) = 0;
  // The last log position kept by the rule before hub schema version 7
  // (hub_meta `log_scope_from`; 0 for a file made at 7 or later): an entry
  // at or before it is under the provinces owning what it touched then, and
  // a pull reads it by that rule (Scope::LogKeys); an entry after it is
  // also under every province granted a case it touched, when written or
  // later (Scope::Record), and a pull reads its own province's and '*'.
  virtual absl::StatusOr<int64_t> LogScopeFrom() = 0;
  // The person-case links: the cases naming a person; the first person
  // linked to a case; every person linked to a case with the person's
  // owner (nullopt if it has no scope entry); every link (person, case).
  virtual absl::StatusOr<std::vector<RowId>> CasesNaming(const RowId& person) = 0;
  virtual absl::StatusOr<std::optional<RowId>> PersonOfCase(const RowId& case_id) = 0;
  virtual absl::StatusOr<std::vector<std::pair<RowId, std::optional<std::string>>>>
  PersonsOfCase(const RowId& case_id) = 0;
  virtual absl::StatusOr<std::vector<std::pair<RowId, RowId>>> PersonLinks() = 0;
  // Scope entries: of every row of `table`, in row order; the rows of
  // `table` owned by `owner`, in row order; the rows whose case is
  // `case_id`, by table and row; rows made public at positions in
  // (after, upto] that have an entry, by position.
  virtual absl::StatusOr<std::vector<ScopedRow>> ScopeRows(const std::string& table) = 0;
  virtual absl::StatusOr<std::vector<RowId>> ScopeRowsOwnedBy(const std::string& table,
                                                              const std::string& owner) = 0;
  virtual absl::StatusOr<std::vector<std::pair<std::string, RowId>>> RowsOfCase(
      const RowId& case_id) = 0;
  virtual absl::StatusOr<std::vector<ScopedRow>> MadePublicBetween(int64_t after,
                                                                   int64_t upto) = 0;
  // Rows moved to `province` (a person whose office changed) at positions
  // in (after, upto], by position: installed whole at its next pull.
  virtual absl::StatusOr<std::vector<std::pair<std::string, RowId>>> MovedBetween(
      const std::string& province, int64_t after, int64_t upto) = 0;

  // Referrals (hub/referral_check.h): the merged row; nullopt if none.
  virtual absl::StatusOr<std::optional<ReferralState>> Referral(const RowId& referral) = 0;
  // The status a version of the referral wrote, as recorded when stored.
  virtual absl::StatusOr<std::optional<std::string>> RecordedReferralStatus(
      const RowId& referral, const Version& version) = 0;
};

// The writer's view. Nothing is written by the view until
// MergeTransaction() or Atomically(), each one transaction.
// What a push will read, for HubWriteTxn::Prefetch: the rows its commits
// write (table, row), every id they name (those rows, the ids their values
// hold: a case, a person ..., the rings its key records are for) and the
// ids of its key records (StoredKeyRecord::id).
struct PushReads {
  std::set<std::pair<std::string, RowId>> rows;
  std::set<RowId> ids;
  std::set<std::string> key_ids;
};

class HubWriteTxn : public HubReadTxn {
 public:
  // Runs `body` in one write transaction with the hub's row storage as the
  // merge engine needs it (merge/commit_merge.h; the engine calls
  // MergeCommits over it): anything `body` or a merge hook writes through
  // this view is stored with the commits, or nothing is. The store's log
  // positions are the hub's log positions (LogHead, LogEntriesUnder).
  virtual absl::Status MergeTransaction(
      const std::function<absl::Status(MergeStore&)>& body) = 0;
  // Runs `body` in one write transaction (nothing stays of it on an error).
  virtual absl::Status Atomically(const std::function<absl::Status()>& body) = 0;
  // Inside MergeTransaction's body, before the merge: what the push's merge
  // and its scope bookkeeping will read (PushReads). A store a round trip
  // away reads it now, a few queries for the whole push instead of some a
  // commit, and answers those reads from it until the transaction ends;
  // hub.db has nothing to gain (nothing done).
  virtual absl::Status Prefetch(const PushReads& reads) {
    (void)reads;
    return absl::OkStatus();
  }
  // Stores the log chain's hash of `position` (the next one to hash).
  virtual absl::Status PutLogHash(int64_t position, const std::string& hash) = 0;

  // Stores an entry of `device`'s chain (its seq not held yet).
  virtual absl::Status AddChainEntry(const DeviceId& device, const StoredChainEntry& e) = 0;
  // Sets the position of `device`'s entry `seq` (a refused commit withdrawn).
  virtual absl::Status SetChainPosition(const DeviceId& device, uint64_t seq,
                                        int64_t position) = 0;
  // Keeps `s` as its device's statement unless the one held is as new or
  // newer (by created HLC); false then. A kept one gets the next seq.
  virtual absl::StatusOr<bool> PutStatement(const StoredStatement& s) = 0;
  // Keeps an adopted checkpoint with its rows (nothing if its id is held)
  // and drops the province's older ones but the `keep` newest.
  virtual absl::Status AdoptCheckpoint(const StoredCheckpoint& c,
                                       const std::vector<CheckpointRow>& rows, size_t keep) = 0;
  // The log entry of `device`'s commit `seq`, if the hub holds it.
  virtual absl::StatusOr<std::optional<LogEntry>> LoggedCommit(const DeviceId& device,
                                                               uint64_t seq) = 0;

  // The registry as the writer sees it.
  // Enrolled and not revoked by the administrator.
  virtual absl::StatusOr<bool> NodeActive(const DeviceId& device) = 0;
  // Enrolled and revoked by the administrator: its commits never land again,
  // relayed or not. A device not enrolled is not (it may enrol after a hub
  // was put back from a backup).
  virtual absl::StatusOr<bool> NodeRevoked(const DeviceId& device) = 0;
  // Enrolled for `province` (and not revoked, if `active`).
  virtual absl::StatusOr<bool> DeviceOf(const DeviceId& device, const std::string& province,
                                        bool active) = 0;
  virtual absl::StatusOr<bool> ProvinceExists(const std::string& code) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ProvinceCodes() = 0;
  virtual absl::StatusOr<OfficeRecords> OfficeRecordsOf(const std::string& province) = 0;

  // Key records.
  virtual absl::StatusOr<bool> RingErased(const RowId& ring) = 0;
  // Deletes the ring's records of `kinds` (keeping of each its seq, id and
  // time stored, for KeyRecordAt) and remembers it erased.
  virtual absl::Status EraseRing(const RowId& ring, const std::vector<int>& kinds,
                                 int64_t at_millis, const DeviceId& by) = 0;
  // Stores the record unless one of its id is held; true if stored.
  virtual absl::StatusOr<bool> StoreKeyRecord(const StoredKeyRecord& record) = 0;
  // Scope tables (hub/scope.h).
  // Grants `province` sight of `case_id` from `position` (kept if it had).
  virtual absl::Status AddGrant(const RowId& case_id, const std::string& province,
                                int64_t position) = 0;
  // The log entry at `position` is read by the pulls of `keys`.
  virtual absl::Status AddLogScope(const std::set<std::string>& keys, int64_t position) = 0;
  // The log entry at `position` touched `subjects` (cases, and persons, by
  // id: hub_log_subject), for KeyLogOfSubjects.
  virtual absl::Status AddLogSubjects(const std::set<RowId>& subjects, int64_t position) = 0;
  // Every log entry that touched one of `subjects` is read by the pulls of
  // `provinces` too (a province newly granted a case, or a case newly
  // naming a person: what a pull read of them before version 7, it reads).
  virtual absl::Status KeyLogOfSubjects(const std::set<RowId>& subjects,
                                        const std::set<std::string>& provinces) = 0;
  virtual absl::Status LinkPerson(const RowId& person, const RowId& case_id) = 0;
  // Creates or updates a row's entry: an empty `owner`, an absent
  // `case_id` or `restricted` keep what the entry had.
  virtual absl::Status UpsertRowScope(const std::string& table, const RowId& row,
                                      const std::string& owner,
                                      const std::optional<RowId>& case_id,
                                      std::optional<bool> restricted) = 0;
  // Marks the row public for good; true if it was not already.
  virtual absl::StatusOr<bool> MarkEverPublic(const std::string& table, const RowId& row) = 0;
  // The row became visible to every province at `position` (kept once).
  virtual absl::Status AddPublic(const std::string& table, const RowId& row,
                                 int64_t position) = 0;
  // The row moved to `province` at `position` (the latest move kept).
  virtual absl::Status AddMove(const std::string& table, const RowId& row,
                               const std::string& province, int64_t position) = 0;
  // Where and when the row was deleted (the first time, kept), or that it
  // is not deleted (`deleted` false clears both).
  virtual absl::Status SetDeleted(const std::string& table, const RowId& row, bool deleted,
                                  int64_t position, int64_t at_millis) = 0;

  // Referrals: the status a version wrote (kept once).
  virtual absl::Status RecordReferralStatus(const RowId& referral, const Version& version,
                                            const std::string& status) = 0;

  virtual absl::Status AppendAudit(int64_t at_millis, const std::string& actor,
                                   const std::string& action, const std::string& detail) = 0;

  // Tombstone collection.
  // Rows deleted at or before `at_millis` (by the commits' clocks), by
  // deleting position.
  virtual absl::StatusOr<std::vector<Tombstone>> TombstonesDeletedBy(int64_t at_millis) = 0;
  // Removes the deleted row for good, with its conflicts; false if it is not
  // (or no longer) deleted.
  virtual absl::StatusOr<bool> DropTombstone(const std::string& table, const RowId& row) = 0;
  // Remembers a dropped row for the nodes that held it (`shared`: every
  // province; else `provinces`) and forgets its scope.
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
  // One node (HubStore::NodeOf). By default looked up among Nodes().
  virtual absl::StatusOr<std::optional<NodeInfo>> NodeOf(const DeviceId& device) {
    absl::StatusOr<std::vector<NodeInfo>> all = Nodes();
    if (!all.ok()) return all.status();
    for (NodeInfo& n : *all) {
      if (n.device == device) return std::optional<NodeInfo>(std::move(n));
    }
    return std::optional<NodeInfo>();
  }
  // `then` runs once the revocation is stored (or refused), before any
  // Write() may begin: the engine drops what it derived from the registry,
  // so that no push is judged on what it knew before.
  virtual absl::Status RevokeNode(const DeviceId& device, const std::string& actor,
                                  const std::function<void()>& then) = 0;
  virtual absl::StatusOr<HubAuditTrail> AuditTrail() = 0;
  // Runs `body` in one registry write transaction (the engine's enrolment,
  // hub/enrolment.h); nothing stays of it on an error.
  virtual absl::Status EnrolTransaction(const std::function<absl::Status(HubEnrolTxn&)>& body) = 0;
  virtual absl::StatusOr<std::vector<RegisteredDevice>> Registry() = 0;
  // The node if `check` matches its stored secret_hash (UNAUTHENTICATED
  // otherwise, and for an unknown device), revoked or not. The comparison
  // is CredentialCheck::Verify's, the same for every store.
  virtual absl::StatusOr<NodeInfo> CheckCredential(const DeviceId& device,
                                                   const CredentialCheck& check) = 0;
  // Sets the device's link key (hub_nodes.link_pk) to `to` if it is
  // `from` now ("" for NULL), with the audit entry (`actor`, `action`,
  // `detail`, hub/audit.h) in the same transaction; whether it changed.
  // A registration takes it from NULL (a key once registered is never
  // replaced: an enrolment's retry, which gives a new secret, clears it);
  // a restore keeping a session 25 closing from the key to kLinkKeyClosed.
  virtual absl::StatusOr<bool> SwapLinkKey(const DeviceId& device, std::string_view from,
                                           std::string_view to, const std::string& actor,
                                           const std::string& action,
                                           const std::string& detail) = 0;
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
