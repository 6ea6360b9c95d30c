// The views of the hub's PostgreSQL store (hub/storage.h): one class for
// the writer's view (HubWriteTxn, over the writer's connection) and a
// pull's snapshot (HubReadTxn, inside the REPEATABLE READ, READ ONLY
// transaction Read() holds). docs/POSTGRES.md, "Writes and reads".
//
// The writer's MergeTransaction() and Atomically() are each one READ
// COMMITTED transaction; MergeTransaction() first takes the log head's row
// lock (SELECT ... FROM hub_log_head FOR UPDATE), so that the writers of
// every hub process on the database take turns and positions are assigned
// at commit, dense and in order. The writer's other calls outside them run
// on their own (autocommit), as the SQLite writer's do outside its
// transactions. A serialization failure or deadlock (40001, 40P01) of
// either ends it UNAVAILABLE: nothing was stored, the node retries its push.
// Atomically() takes the same lock: every write transaction of every
// process is the only writer, as SQLite's is. The writes that derive what
// they store from what they read take it on their own when called outside
// both (Locked).
//
// The calls by concept: views.cc (log, rows, referrals, transactions,
// registry), views_scope.cc, views_keys.cc, views_chain.cc (log chain,
// commit chains, statements), views_checkpoints.cc, views_gc.cc.
#ifndef FIELDSYNC_HUB_PG_VIEWS_H_
#define FIELDSYNC_HUB_PG_VIEWS_H_

#include <string>
#include <string_view>

#include "clock/hlc.h"
#include "hub/pg/connection.h"
#include "hub/pg/merge_store.h"
#include "hub/pg/scope_cache.h"
#include "hub/storage.h"

namespace fieldsync::hub::pg {

class PgView final : public HubWriteTxn {
 public:
  // `clock` and `self` (the hub's id) for the writer's merges; a snapshot
  // (`writer` false) refuses the writer's calls. `log_scope_from`: the
  // hub's hub_meta 'log_scope_from' (ReadLogScopeFrom).
  PgView(Connection& conn, const Schema& schema, HybridClock& clock, const DeviceId& self,
         bool writer, int64_t log_scope_from = 0)
      : conn_(conn), schema_(schema), clock_(clock), self_(self), writer_(writer),
        log_scope_from_(log_scope_from) {}

  const Schema& schema() const override;
  absl::StatusOr<int64_t> LogHead() override;
  absl::StatusOr<GcState> Gc() override;
  absl::StatusOr<std::optional<std::string>> LogHash(int64_t position) override;
  absl::StatusOr<LogPoint> LogHashHead() override;
  absl::StatusOr<std::vector<LogEntry>> LogEntriesAfter(int64_t after, size_t limit) override;
  absl::StatusOr<int64_t> KeyHead() override;
  absl::StatusOr<uint64_t> KeyRecordsSignedBy(const DeviceId& signer) override;
  absl::StatusOr<uint64_t> AcknowledgedSeq(const DeviceId& device) override;
  absl::StatusOr<std::vector<RegisteredDevice>> Registry() override;
  absl::StatusOr<std::optional<RowSnapshot>> ExportRow(const std::string& table,
                                                       const RowId& row) override;
  absl::StatusOr<std::vector<std::optional<RowSnapshot>>> ExportRows(
      const std::string& table, const std::vector<RowId>& rows) override;
  absl::Status ScanRows(const std::string& table, const std::vector<std::string>& columns,
                        bool include_deleted, const Visit& visit) override;
  absl::StatusOr<std::optional<RowScopeEntry>> RowScope(const std::string& table,
                                                        const RowId& row) override;
  absl::StatusOr<std::optional<std::string>> TableOf(
      const RowId& row, const std::vector<std::string>& tables) override;
  absl::StatusOr<bool> IsPurged(const std::string& table, const RowId& row) override;
  absl::StatusOr<std::vector<PurgedRow>> PurgedSince(uint64_t epoch,
                                                     const std::string& province) override;
  absl::StatusOr<ChainPoint> ChainHead(const DeviceId& device) override;
  absl::StatusOr<std::vector<StoredChainEntry>> ChainEntries(const DeviceId& device, uint64_t first,
                                                             uint64_t last, size_t limit) override;
  absl::StatusOr<std::vector<StoredChainEntry>> RefusedChainEntries(
      const DeviceId& device) override;
  absl::StatusOr<std::vector<StoredStatement>> StatementsAfter(
      int64_t after, const std::vector<std::string>& provinces, size_t limit) override;
  absl::StatusOr<std::vector<std::string>> PartnerProvinces(const std::string& province) override;
  absl::StatusOr<std::optional<StoredCheckpoint>> NewestCheckpoint(
      const std::string& province) override;
  absl::StatusOr<std::optional<StoredCheckpoint>> CheckpointById(const std::string& id) override;
  absl::StatusOr<std::vector<std::string>> CheckpointLeaves(const std::string& id) override;
  absl::StatusOr<std::vector<CheckpointRow>> CheckpointRows(const std::string& id, uint32_t from,
                                                            size_t limit) override;
  absl::StatusOr<std::optional<StoredKeyRecord>> KeyRecordAt(int64_t seq) override;
  absl::Status ForEachKeyRecordAfter(
      int64_t seq, const std::function<absl::Status(const StoredKeyRecord&)>& visit) override;
  absl::StatusOr<std::vector<std::string>> KeyRecordsOfRing(const RowId& ring, int kind,
                                                            const std::string& province,
                                                            int64_t seq) override;
  absl::StatusOr<std::vector<LogEntry>> LogEntriesUnder(const std::vector<std::string>& log_keys,
                                                        int64_t after, int64_t upto,
                                                        size_t limit) override;
  absl::StatusOr<std::optional<LogEntry>> CommitOfVersion(const Version& version) override;
  absl::StatusOr<std::optional<std::vector<Value>>> CurrentValues(
      const std::string& table, const RowId& row, const std::vector<std::string>& columns) override;
  absl::StatusOr<bool> CaseGranted(const RowId& case_id, const std::string& province) override;
  absl::StatusOr<std::vector<RowId>> CasesGrantedTo(const std::string& province) override;
  absl::StatusOr<std::vector<RowId>> GrantsBetween(const std::string& province, int64_t after,
                                                   int64_t upto) override;
  absl::StatusOr<std::vector<std::string>> CaseGrantees(const RowId& case_id) override;
  // 0: every entry of a PostgreSQL hub made by `fieldhub init` is keyed as
  // hub schema 7 keys them (docs/FORMATS.md, hub_log_scope). A hub moved
  // from a hub.db that kept older entries by the rule before (`fieldhub
  // migrate --to`) keeps that file's last such position in hub_meta.
  absl::StatusOr<int64_t> LogScopeFrom() override { return log_scope_from_; }
  absl::StatusOr<std::vector<std::string>> GrantedCaseProvinces(
      const std::string& province) override;
  absl::StatusOr<std::vector<RowId>> CasesNaming(const RowId& person) override;
  absl::StatusOr<std::optional<RowId>> PersonOfCase(const RowId& case_id) override;
  absl::StatusOr<std::vector<std::pair<RowId, std::optional<std::string>>>> PersonsOfCase(
      const RowId& case_id) override;
  absl::StatusOr<std::vector<std::pair<RowId, RowId>>> PersonLinks() override;
  absl::StatusOr<std::vector<ScopedRow>> ScopeRows(const std::string& table) override;
  absl::StatusOr<std::vector<ScopedRow>> ScopeRowsOf(const std::string& table,
                                                     const std::vector<RowId>& rows) override;
  absl::StatusOr<std::vector<RowId>> ScopeRowsOwnedBy(const std::string& table,
                                                      const std::string& owner) override;
  absl::StatusOr<std::vector<std::pair<std::string, RowId>>> RowsOfCase(
      const RowId& case_id) override;
  absl::StatusOr<std::vector<ScopedRow>> MadePublicBetween(int64_t after, int64_t upto) override;
  absl::StatusOr<std::vector<std::pair<std::string, RowId>>> MovedBetween(
      const std::string& province, int64_t after, int64_t upto) override;
  absl::StatusOr<std::optional<ReferralState>> Referral(const RowId& referral) override;
  absl::StatusOr<std::optional<std::string>> RecordedReferralStatus(
      const RowId& referral, const Version& version) override;
  absl::Status MergeTransaction(const std::function<absl::Status(MergeStore&)>& body) override;
  absl::Status Atomically(const std::function<absl::Status()>& body) override;
  // The push's rows' registers into the merge's store, and the scope
  // entries, grants, person links, erasures and key records held of its
  // ids into the transaction's scope cache (views_scope.cc).
  absl::Status Prefetch(const PushReads& reads) override;
  absl::Status PutLogHash(int64_t position, const std::string& hash) override;
  absl::Status AddChainEntry(const DeviceId& device, const StoredChainEntry& e) override;
  absl::Status SetChainPosition(const DeviceId& device, uint64_t seq, int64_t position) override;
  absl::StatusOr<bool> PutStatement(const StoredStatement& s) override;
  absl::Status AdoptCheckpoint(const StoredCheckpoint& c, const std::vector<CheckpointRow>& rows,
                               size_t keep) override;
  absl::StatusOr<std::optional<LogEntry>> LoggedCommit(const DeviceId& device,
                                                       uint64_t seq) override;
  absl::StatusOr<bool> NodeActive(const DeviceId& device) override;
  absl::StatusOr<bool> NodeRevoked(const DeviceId& device) override;
  absl::StatusOr<bool> DeviceOf(const DeviceId& device, const std::string& province,
                                bool active) override;
  absl::StatusOr<bool> ProvinceExists(const std::string& code) override;
  absl::StatusOr<std::vector<std::string>> ProvinceCodes() override;
  absl::StatusOr<OfficeRecords> OfficeRecordsOf(const std::string& province) override;
  absl::StatusOr<bool> RingErased(const RowId& ring) override;
  absl::Status EraseRing(const RowId& ring, const std::vector<int>& kinds, int64_t at_millis,
                         const DeviceId& by) override;
  absl::StatusOr<bool> StoreKeyRecord(const StoredKeyRecord& record) override;
  absl::Status AddGrant(const RowId& case_id, const std::string& province,
                        int64_t position) override;
  absl::Status AddLogScope(const std::set<std::string>& keys, int64_t position) override;
  absl::Status AddLogSubjects(const std::set<RowId>& subjects, int64_t position) override;
  absl::Status KeyLogOfSubjects(const std::set<RowId>& subjects,
                                const std::set<std::string>& provinces) override;
  absl::Status LinkPerson(const RowId& person, const RowId& case_id) override;
  absl::Status UpsertRowScope(const std::string& table, const RowId& row, const std::string& owner,
                              const std::optional<RowId>& case_id,
                              std::optional<bool> restricted) override;
  absl::StatusOr<bool> MarkEverPublic(const std::string& table, const RowId& row) override;
  absl::Status AddPublic(const std::string& table, const RowId& row, int64_t position) override;
  absl::Status AddMove(const std::string& table, const RowId& row, const std::string& province,
                       int64_t position) override;
  absl::Status SetDeleted(const std::string& table, const RowId& row, bool deleted,
                          int64_t position, int64_t at_millis) override;
  absl::Status RecordReferralStatus(const RowId& referral, const Version& version,
                                    const std::string& status) override;
  absl::Status AppendAudit(int64_t at_millis, const std::string& actor, const std::string& action,
                           const std::string& detail) override;
  absl::StatusOr<std::vector<Tombstone>> TombstonesDeletedBy(int64_t at_millis) override;
  absl::StatusOr<bool> DropTombstone(const std::string& table, const RowId& row) override;
  absl::Status RecordPurged(const Tombstone& t, uint64_t epoch, bool shared,
                            const std::vector<std::string>& provinces) override;
  absl::Status AdvanceGc(int64_t horizon) override;
  void Scrub() override;

 private:
  // Runs `body` under the log head's row lock: in the writer's open
  // transaction (MergeTransaction and Atomically take the lock first), or
  // in a transaction of its own that takes it. For the writes that derive
  // what they store from what they read (docs/POSTGRES.md).
  absl::Status Locked(const std::function<absl::Status()>& body);
  // FAILED_PRECONDITION in a snapshot.
  absl::Status MustWrite(std::string_view call) const;
  // `body` with the scope cache on (hub/pg/scope_cache.h): called in a
  // transaction that holds the log head's row lock; emptied after it.
  absl::Status Cached(const std::function<absl::Status()>& body);
  // The scope cache if a locked write transaction is open, else null.
  ScopeCache* cache() { return cache_ ? &*cache_ : nullptr; }
  // Prefetch's part for the scope cache.
  absl::Status PrefetchScope(const std::set<RowId>& ids, const std::set<std::string>& key_ids);

  Connection& conn_;
  const Schema& schema_;
  HybridClock& clock_;
  const DeviceId self_;
  const bool writer_;
  const int64_t log_scope_from_;
  std::optional<ScopeCache> cache_;
  // MergeTransaction's store while its body runs: the rows it read or
  // wrote answer CurrentValues (PgMergeStore::Held).
  PgMergeStore* merging_ = nullptr;
};

// hub_meta 'log_scope_from' (8 bytes, big-endian), 0 if absent: the last
// log position kept by the rule before hub schema 7, in a hub moved from a
// hub.db that had one (docs/POSTGRES.md, "Moving a hub.db to PostgreSQL").
absl::StatusOr<int64_t> ReadLogScopeFrom(Connection& conn);

// The ids (16 bytes) in column `col` of every row; `what` names them in an
// error.
absl::StatusOr<std::vector<RowId>> Ids(const Result& r, const char* what, int col = 0);
// A list of names as one text parameter, split by the server
// (`string_to_array($n, chr(31))`): never SQL built from a value.
// INVALID_ARGUMENT if a name holds the separator 0x1f.
absl::StatusOr<Param> NameList(const std::vector<std::string>& names);

// Takes the log head's row lock (SELECT ... FOR UPDATE) in the connection's
// transaction; the head.
absl::StatusOr<int64_t> LockLogHead(Connection& conn);

// A failure of the database a retry may cure (40001, 40P01) as UNAVAILABLE
// (the push is retried by the node, nothing was stored); the rest as is.
absl::Status RetryLater(absl::Status s);

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_VIEWS_H_
