// Private to store/: the state of a Replica behind its public interface,
// shared by the files that implement it, one concept each:
//   replica.cc          opening, the device table, transactions, stats
//   replica_merge.cc    loading, merging and storing one row (used by all writes)
//   replica_write.cc    local writes (LocalTxn → one commit)
//   replica_apply.cc    applying remote commits (Apply)
//   replica_install.cc  what a node pulls: reset, installed rows, purged
//                       tombstones, pulled commits (ApplyPulled), ExportRow
//   replica_beyond.cc   others' work the hub lost, merged again on a rebuild
//   replica_read.cc     rows and conflict records
//   replica_log.cc      the commit log and sync cursors
//   replica_digest.cc   the state digest
// Nothing outside store/ includes this header.
#ifndef FIELDSYNC_STORE_REPLICA_IMPL_H_
#define FIELDSYNC_STORE_REPLICA_IMPL_H_

#include <algorithm>
#include <functional>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "change/commit_codec.h"
#include "clock/hlc.h"
#include "merge/commit_merge.h"
#include "store/replica.h"
#include "store/row_meta.h"
#include "store/sqlite.h"

namespace fieldsync {


inline std::string Quote(std::string_view ident) { return absl::StrCat("\"", AV(ident), "\""); }

// A row loaded for merging: slot 0 is the liveness register, slot c+1
// column c. Merging needs the versions of every field but the values of
// few (a replaced value only when it becomes a conflict record), so values
// are read on demand and only changed slots are written back.
struct RowState {
  bool exists = false;
  std::vector<Value> values;           // stored values by slot, where loaded
  std::vector<const Value*> written;   // by slot: the value to store, pointing
                                       // into the commit being applied; or null
  std::vector<SlotMeta> slots;
  uint64_t loaded = 0;                 // bit s: values[s] holds the stored value

  const Value& ToStore(size_t s) const { return written[s] ? *written[s] : values[s]; }
};

constexpr uint64_t Bit(size_t slot) { return uint64_t{1} << slot; }


inline RowState NewRow(size_t n_slots) {
  RowState rs;
  rs.values.assign(n_slots, Value::Null());
  rs.written.assign(n_slots, nullptr);
  rs.slots.assign(n_slots, SlotMeta{});
  rs.loaded = ~uint64_t{0};  // every stored value of a new row is NULL
  return rs;
}

// The column of slot `slot` (0: the liveness register).
inline std::string_view SlotColumn(const TableDef& t, size_t slot) {
  return slot == 0 ? std::string_view(kLiveColumn) : std::string_view(t.columns[slot - 1].name);
}

// A conflict record of a row being installed (Replica::Impl::InstallRow).
struct InstalledRecord {
  size_t slot = 0;
  Version version;
  std::optional<Version> base;
  Value value;
  bool winner = false;  // in the merge: the copy's winner of the field, not a record
};

// What a row installed is recorded as: vouched for by a verified page, by
// signed commits (_fs_verified, _fs_witnessed).
struct InstallMarks {
  bool verified = false;
  bool witnessed = false;
};

// The versions a field's history as held accounts for (HistoryOf).
struct FieldHistory {
  std::set<Version> seen;          // the winner, its records, what they supersede
  std::optional<Version> unlogged; // the newest of them not in the log (installed)
  // The winner and its bases back to the first whose own base is not known
  // (a version not in the log, but the winner's): a write based on one of
  // them and not among them branched off the field's line, concurrent.
  std::set<Version> line;
};

// Batches are checked before anything is written by ValidateBatch
// (merge/commit_merge.h), merged by the engine there over ReplicaMergeStore.

// ---------------------------------------------------------------------------
// Impl

class Replica::Impl {
 public:
  Impl(const ReplicaOptions& o, const Schema* schema, ClockSource* clock)
      : opts(o), schema(schema), hlc(clock, o.max_clock_skew_millis) {}

  absl::Status Init();

  // Transactions. Every write path is Begin → ... → Finish (or Abort).
  // Starts the write transaction. If another connection (another process,
  // or another Replica on the same file) committed since this one last
  // looked, the cached device table and the clock are reloaded first.
  absl::StatusOr<sqlite::Transaction> Begin();
  // Brings the cached device table up to date with the file, if another
  // connection has committed since this one last looked. Inside a
  // transaction (read or write), so the snapshot it checks is the one read.
  absl::Status Refresh();
  // Runs `read` in a read transaction after Refresh(): reads that map
  // device indexes to ids (rows' versions) see a device table that matches.
  absl::Status InReadTxn(const std::function<absl::Status()>& read);
  // Stores the device table's changes and commits; on error rolls back as
  // Abort() does.
  absl::Status Finish(sqlite::Transaction& txn);
  // Rolls back and brings the device table in memory back to the file's.
  void Abort(sqlite::Transaction& txn);
  // Begin → body → Finish, or Abort if the body fails.
  absl::Status InWriteTxn(const std::function<absl::Status(sqlite::Transaction&)>& body);

  absl::Status ReloadDevices();
  // Raises the clock past the stamps held: this replica's own always,
  // another device's within the skew limit of the wall clock.
  void FollowStored();
  absl::StatusOr<int64_t> DataVersion();
  absl::StatusOr<uint32_t> DeviceIndex(const DeviceId& id, bool create);
  bool Knows(const Version& v) const;
  // Raises what this replica knows of v's device to v (an installed row
  // carries versions whose commits never reach this replica).
  absl::Status Learn(const Version& v);

  // Merges `commits` in dependency order inside the open transaction;
  // outcomes[i] says what became of commits[i]. With `allow_gaps` a
  // commit need not follow its author's previous sequence number (a node
  // pulling a scoped log). True in the result if anything was deferred.
  absl::StatusOr<bool> ApplyInTxn(sqlite::Transaction& txn,
                                  const std::vector<const Commit*>& commits, bool allow_gaps,
                                  const ApplyHooks* hooks, std::vector<ApplyOutcome>* outcomes);
  // In a pull: whether versions a row change names, neither held nor
  // carried by the batch, may be inside the row as received whole (then
  // they do not hold the change back). False: the change waits.
  absl::StatusOr<bool> WholeRowHides(
      const RowChange& rc, const std::vector<std::pair<const FieldWrite*, Version>>& unseen);
  absl::Status SetCursorInTxn(sqlite::Transaction& txn, const std::string& name, int64_t value);
  // `absent`: the row is known not to be here (after a reset). `verified`:
  // it came in a verified checkpoint page (_fs_verified); `witnessed`:
  // signed commits showed every version of it (_fs_witnessed).
  absl::Status InstallRow(sqlite::Transaction& txn, const RowSnapshot& snap, int64_t position,
                          bool absent, bool verified, bool witnessed,
                          const ClockLead& lead = {});
  // The held row `held` (every value loaded) and the copy being installed
  // (`installed`, its conflict records `records`) merged into `installed`
  // and `records`: each write of the copy not applied here merged by the
  // rule of merge/merge.h; this laptop's own resolved set-aside writes dropped.
  // Returns the marks the row keeps, given the batch's (replica_install_merge.cc).
  absl::StatusOr<InstallMarks> MergeInstalled(size_t tidx, const RowId& row,
                                              const RowState& held, RowState& installed,
                                              std::vector<InstalledRecord>& records,
                                              const InstallMarks& batch);
  absl::StatusOr<std::vector<InstalledRecord>> HeldRecords(const TableDef& t, const RowId& row);
  absl::StatusOr<FieldHistory> HistoryOf(std::string_view table, const RowId& row,
                                         std::string_view column,
                                         const std::optional<FieldVersion>& winner,
                                         const std::vector<InstalledRecord>& records);
  // Whether `v` is a commit of this device set aside and resolved
  // (_fs_set_aside.discarded_at: discarded, kept or re-dated).
  absl::StatusOr<bool> OwnSetAside(const Version& v);
  // The write of `column` of `row` by the logged commit of version `v`, if
  // this replica's log holds one (replica_provenance.cc).
  absl::StatusOr<std::optional<FieldWrite>> LoggedWrite(const Version& v, std::string_view table,
                                                        const RowId& row,
                                                        std::string_view column);
  // 0 never installed whole, 1 installed and vouched for, 2 installed as
  // the hub served it (replica_provenance.cc).
  absl::StatusOr<int> ProvenanceOf(std::string_view table, const RowId& row);
  absl::Status ResetReplicated(sqlite::Transaction& txn);
  // PulledBatch::went_back_to and ::mark (store/replica.h).
  absl::Status GoBack(sqlite::Transaction& txn, const PulledBatch& batch);
  absl::Status KeepMark(const HubLogMark& mark);
  // Merges this device's commits after cursor `pushed_cursor` again (they
  // are logged already), all of them or only their changes of `only` rows;
  // with `own_upto` below that cursor, those after it too, but for the ones
  // set aside (PulledBatch::own_rows_upto). Never a change of a row of
  // `collected` (the batch's `purged`): deleted and collected at the hub.
  absl::Status ReplayUnpushed(sqlite::Transaction& txn, const std::string& pushed_cursor,
                              const std::set<std::pair<size_t, RowId>>* only,
                              std::optional<uint64_t> own_upto,
                              const std::set<std::pair<size_t, RowId>>& collected);
  // Other authors' logged commits after what the hub said it holds of them
  // (the relay cursors), merged again on a reset (all rows) or on rows
  // installed whole (`only`) while that word is current: said in this batch
  // (went_back_to), or the batch's unverified bootstrap served at the
  // collection epoch the word was given at. What the relay would send the
  // hub, never a change of a row of `collected`, nor a row created that a
  // logged write the hub held shows it held (replica_beyond.cc).
  absl::Status ReplayBeyondHub(sqlite::Transaction& txn, const PulledBatch& batch,
                               const std::set<std::pair<size_t, RowId>>* only,
                               const std::set<std::pair<size_t, RowId>>& collected);
  absl::StatusOr<std::optional<RowSnapshot>> ExportRowInTxn(size_t tidx, const RowId& row);

  // Loads versions and liveness; with `all_values`, every value too.
  absl::StatusOr<RowState> LoadRow(size_t tidx, const RowId& row, bool all_values);
  enum class TableStmt { kSelectMeta, kSelectAll, kInsert };
  absl::StatusOr<sqlite::Stmt*> TableStatement(size_t tidx, TableStmt which);
  // The stored value of one slot (read on demand).
  absl::StatusOr<Value> StoredValue(size_t tidx, const RowId& row, size_t slot, RowState& rs);
  absl::Status StoreRow(size_t tidx, const RowId& row, RowState& st);
  // The engine's per-field rule (merge/commit_merge.h) for change `rc` of
  // `c` on the loaded row `st`.
  // (`author` is c.author's device index, resolved again by the store.)
  absl::Status MergeRowChange(const Commit& c, uint32_t author, size_t tidx, const RowChange& rc,
                              RowState& st);
  // One commit merged by the engine and logged (`preloaded`: its rows as
  // BuildLocal loaded them, by change).
  absl::Status ApplyCommit(const Commit& c, std::vector<RowState>* preloaded);
  // Gives `c`, a commit this device writes, its chain entry (signed with
  // security.sign_header) and stores it; the device's earlier commits
  // without one get theirs first (replica_chain.cc).
  absl::Status ChainOwn(Commit& c);
  // The same for the device's logged commits through `through`, then
  // `next` (not logged yet, seq through + 1) if given.
  absl::Status ChainOwnThrough(uint64_t through, Commit* next);
  absl::Status StoreChainWrites(const ChainWrites& w);
  // Writes a signed withdrawal entry of this device's chain (its next seq)
  // passing over `seqs` (ascending; contiguous runs, at most 8: those
  // covered are given in *withdrawn) and marks them withdrawn in
  // _fs_set_aside. Its seq. FAILED_PRECONDITION if headers cannot be
  // signed now (replica_set_aside.cc).
  // The clock's skip of refused stamps, from _fs_cursors
  // (replica_restamp.cc).
  absl::Status LoadClockSkip();
  absl::StatusOr<uint64_t> MakeWithdrawal(const std::vector<uint64_t>& seqs,
                                          std::vector<uint64_t>* withdrawn);
  // Keeps `r` unless a statement of its signer as new is held
  // (replica_statements.cc).
  absl::Status PutStatement(const StatementRow& r);
  // `db_txn`: the open write transaction the seal hook's key records join.
  absl::StatusOr<Commit> BuildLocal(sqlite::Transaction& db_txn, const LocalTxn& txn,
                                    std::vector<RowState>* states);
  // One local transaction built, signed, chained and applied inside the open
  // write transaction `db_txn` (Replica::WriteMany, Replica::KeepSetAside).
  // `amend`, if set, sees the built commit before it is signed
  // (Replica::SupersedeSetAside adds settled versions).
  absl::StatusOr<Commit> WriteOne(sqlite::Transaction& db_txn, const LocalTxn& txn,
                                  std::vector<RowState>* states,
                                  const std::function<void(Commit&)>& amend = nullptr);
  // Marks set-aside commit `seq` resolved by an officer (discarded, or kept
  // as a new record): NOT_FOUND if it is not set aside, FAILED_PRECONDITION
  // if resolved already (replica_set_aside.cc).
  absl::Status MarkSetAsideResolved(uint64_t seq, int64_t at_millis);
  // Puts the fields that resolved set-aside commits still win here back to
  // the last version not theirs, recomputed from the log and the conflict
  // records (replica_forget.cc). Returns how many fields could not be put
  // back (their earlier value is not held here: a row installed whole).
  absl::StatusOr<size_t> ForgetResolvedSetAside();
  // _fs_set_aside.never_coming: each version as its packed HLC (8 bytes,
  // big-endian) and its device (16 bytes). A blob not a whole number of
  // versions names none.
  static std::string EncodeVersions(const std::vector<Version>& versions);
  static std::vector<Version> DecodeVersions(std::string_view blob);
  // _fs_set_aside.never_after: each author's seq (8 bytes, big-endian) and
  // its device (16 bytes), as never_coming's versions.
  static std::string EncodeHeads(const std::vector<std::pair<DeviceId, uint64_t>>& heads);
  static std::vector<std::pair<DeviceId, uint64_t>> DecodeHeads(std::string_view blob);
  absl::StatusOr<std::vector<Version>> OpenConflictVersions(std::string_view table,
                                                            const RowId& row,
                                                            std::string_view column);

  std::optional<FieldVersion> ToFieldVersion(const SlotMeta& s) const;
  Version ToVersion(uint64_t hlc, uint32_t device) const {
    return Version{Hlc::FromPacked(hlc), devices[device].id};
  }

  absl::Status Exec(sqlite::Stmt* st) {
    sqlite::ScopedStmt guard(st);
    st->Reset();
    return st->Run();
  }

  ReplicaOptions opts;
  const Schema* schema;
  HybridClock hlc;
  std::unique_ptr<sqlite::Db> db;
  DeviceId self;
  uint32_t self_idx = 0;
  int schema_version = 0;

  struct DeviceEntry {
    DeviceId id;
    uint64_t max_seq = 0;
    uint64_t max_hlc = 0;
    bool dirty = false;
  };
  std::vector<DeviceEntry> devices;  // by idx; [0] unused
  absl::flat_hash_map<DeviceId, uint32_t> device_index;

  // Prepared at their first use on this connection (TableStatement): a
  // connection that never touches a table, or only reads (the hub's
  // readers), does not pay for its statements at every open.
  struct TableStmts {
    sqlite::Stmt* select_meta = nullptr;  // _live, _ver
    sqlite::Stmt* select_all = nullptr;   // _live, _ver, every column
    sqlite::Stmt* insert = nullptr;       // a new row, every column
    // UPDATE of exactly the changed slots, by bitmask of slots.
    absl::flat_hash_map<uint64_t, sqlite::Stmt*> update;
  };
  std::vector<TableStmts> tables;
  sqlite::Stmt* data_version_ = nullptr;
  int64_t seen_data_version_ = -1;
  // Set when the in-memory state could not be brought back in line with the
  // file after an error: every later write is refused until reopened.
  bool broken_ = false;
  bool in_read_txn = false;
  sqlite::Stmt* insert_log_ = nullptr;
  sqlite::Stmt* insert_sig_ = nullptr;
  CommitSecurity security;
  sqlite::Stmt* update_device_ = nullptr;
  sqlite::Stmt* insert_device_ = nullptr;
  sqlite::Stmt* insert_conflict_ = nullptr;
  sqlite::Stmt* delete_conflict_ = nullptr;
  std::string meta_buf;
  std::string body_buf;

  // What ReplayBeyondHub read of the log, kept for the installing messages
  // after it, read again at each reset or word of the hub (else every
  // message read it again: attack review 29, S2). Entries logged since came
  // from the hub, which holds them: none is missing from it.
  struct BeyondEntry {
    int64_t pos = 0;
    uint32_t author = 0;  // device index
    Commit commit;
  };
  struct BeyondHub {
    std::vector<std::pair<uint32_t, uint64_t>> held;  // (author, seq the hub holds)
    std::vector<BeyondEntry> entries;                 // in log order
    // Rows those entries create that a logged write outside them shows
    // the hub held: absent from its rows, they were deleted and collected
    // there, or left this office's scope; never created again.
    std::set<std::pair<size_t, RowId>> held_rows;
  };
  std::optional<BeyondHub> beyond;
};

// ---------------------------------------------------------------------------
// The replica's storage as the merge engine needs it (merge/commit_merge.h):
// storage primitives over the row tables, _fs_conflicts, _fs_log and the
// device table, no rule (replica_merge.cc).

class ReplicaMergeRow : public MergeRow {
 public:
  ReplicaMergeRow(Replica::Impl& m, size_t tidx, const RowId& row, RowState& rs)
      : m_(m), tidx_(tidx), row_(row), rs_(&rs) {}

  bool exists() const override { return rs_->exists; }
  std::optional<FieldVersion> Current(size_t slot) const override;
  absl::StatusOr<Value> CurrentValue(size_t slot) override;
  absl::Status DropConflicts(size_t slot, const std::optional<Version>& base,
                             const std::vector<Version>& resolves) override;
  absl::Status KeepConflict(size_t slot, const Version& version,
                            const std::optional<Version>& base, const Value& value) override;
  absl::Status Win(size_t slot, const Version& version, const std::optional<Version>& base,
                   const Value& value) override;
  absl::StatusOr<bool> SupersededHere(size_t slot, const Version& older) override;

  size_t tidx() const { return tidx_; }
  const RowId& row() const { return row_; }
  RowState& state() { return *rs_; }

 private:
  std::string_view Column(size_t slot) const;
  Replica::Impl& m_;
  size_t tidx_;
  RowId row_;
  RowState* rs_;
};

class ReplicaMergeStore : public MergeStore {
 public:
  // `preloaded`: the rows of the next commit's changes, loaded already.
  explicit ReplicaMergeStore(Replica::Impl& m, std::vector<RowState>* preloaded = nullptr)
      : m_(m), preloaded_(preloaded) {}

  const Schema& schema() const override { return *m_.schema; }
  HybridClock& clock() override { return m_.hlc; }
  uint64_t HeldSeq(const DeviceId& author) override;
  absl::Status PassOver(const DeviceId& author, uint64_t seq) override;
  bool Knows(const Version& v) override { return m_.Knows(v); }
  absl::StatusOr<bool> RowExists(size_t table, const RowId& row) override;
  absl::StatusOr<bool> WholeRowHides(
      const RowChange& change,
      const std::vector<std::pair<const FieldWrite*, Version>>& unseen) override {
    return m_.WholeRowHides(change, unseen);
  }
  absl::StatusOr<MergeRow*> OpenRow(const Commit& commit, size_t change, size_t table,
                                    const RowId& row) override;
  absl::Status StoreRow(MergeRow& row) override;
  absl::StatusOr<int64_t> AppendLog(const Commit& commit) override;

 private:
  Replica::Impl& m_;
  std::vector<RowState>* preloaded_;
  RowState state_;
  std::optional<ReplicaMergeRow> open_;
};

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_REPLICA_IMPL_H_
