// The replica: the field-office tables materialised in one SQLite file (WAL),
// with per-field versions, a commit log, conflict records, sync cursors and a
// schema version. All SQL of sync-core lives in store/; the SQLite connection
// and the _fs_* tables are private to store/ (store/replica_internal.h).
//
// Thread safety: a Replica is used by one thread at a time (the CLI, or the
// sync daemon's worker). Other processes, or other Replica objects, may open
// the same file: writes are serialised by SQLite's locks, and each write
// transaction first reloads what another connection may have changed.
//
// Crash safety: every public method that writes does so in one SQLite
// transaction; a crash at any instant leaves the file at the state before or
// after the call, never between (tests/crash_safety_test.cc).
#ifndef FIELDSYNC_STORE_REPLICA_H_
#define FIELDSYNC_STORE_REPLICA_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/tuning.h"
#include "change/commit.h"
#include "clock/clock_source.h"
#include "clock/hlc.h"
#include "crypto/merkle.h"
#include "merge/commit_merge.h"
#include "merge/merge.h"
#include "schema/schema.h"

namespace fieldsync {

namespace sqlite {
class Db;
class Transaction;
}

struct ReplicaOptions {
  std::string path;                       // the SQLite file; created if absent
  ClockSource* clock = nullptr;           // null: the system clock
  int64_t max_clock_skew_millis = tuning::kDefaultMaxClockSkewMillis;
  // kFull: fsync at every commit (survives power loss; the default).
  // kNormal: WAL without fsync at commit (survives a process crash only).
  enum class Durability { kFull, kNormal } durability = Durability::kFull;
  std::string vfs;                        // SQLite VFS name; empty: default
  const Schema* schema = nullptr;         // null: FieldOfficeSchema()
};

// A local transaction, built before it is written. Ops on one row in one
// transaction fold into one row change (later ops override earlier ones).
class LocalTxn {
 public:
  using Fields = std::vector<std::pair<std::string, Value>>;

  // A new row. ALREADY_EXISTS at Write() if the id is taken.
  LocalTxn& Create(std::string table, RowId row, Fields fields);
  // Sets fields of a live row. NOT_FOUND / FAILED_PRECONDITION (deleted).
  LocalTxn& Set(std::string table, RowId row, Fields fields);
  // Deletes a live row: a tombstone, and every field cleared.
  LocalTxn& Delete(std::string table, RowId row);
  // Brings a deleted row back to life, with `fields` set.
  LocalTxn& Restore(std::string table, RowId row, Fields fields);
  // Writes `value` to a field and supersedes all its open conflict records.
  LocalTxn& Resolve(std::string table, RowId row, std::string column, Value value);

  bool empty() const { return ops_.empty(); }

 private:
  friend class Replica;
  enum class Kind { kCreate, kSet, kDelete, kRestore, kResolve };
  struct Op {
    Kind kind;
    std::string table;
    RowId row;
    Fields fields;
  };
  std::vector<Op> ops_;
};

// ApplyOutcome, ApplyResult and ApplyHooks: merge/commit_merge.h.

// A row as the replica holds it.
struct Row {
  RowId id;
  bool live = false;
  std::vector<Value> values;                       // per declared column
  std::vector<std::optional<FieldVersion>> versions;  // per declared column
  std::optional<FieldVersion> live_version;
};

// A losing concurrent write kept for a person to review.
struct ConflictRecord {
  std::string table;
  RowId row;
  std::string column;  // a declared column or kLiveColumn
  Version version;     // the losing write
  std::optional<Version> base;
  Value value;
};

// One field of a row as a replica holds it: value and version.
struct FieldState {
  std::string column;  // a declared column or kLiveColumn
  Value value;
  FieldVersion version;
};

// A row's whole replicated state: what a hub sends instead of the row's
// history to a node that does not hold the row (a new node, or a case that
// became visible to it through a referral).
struct RowSnapshot {
  std::string table;
  RowId row;
  std::vector<FieldState> fields;          // every field ever written, _live first
  std::vector<ConflictRecord> conflicts;   // open conflict records of the row
};

// A sensitive field of a local write, about to be stored (see
// CommitSecurity::seal).
struct SealRequest {
  const TableDef* table = nullptr;
  const ColumnDef* column = nullptr;
  RowId row;
  Version version;  // of the commit being written
  const Value* value = nullptr;
  // The value a column of the same row will hold once this write is stored
  // (the write's own value if it sets that column). For rules that depend on
  // another field: a contact's restriction, a referral's case.
  std::function<absl::StatusOr<Value>(std::string_view column)> row_value;
};

// What makes commits trustworthy and fields private (crypto/): installed by
// a node whose keystore is unlocked, and by a hub. Unset members do nothing.
struct CommitSecurity {
  // Signs a commit this replica writes, before it is stored and logged; an
  // error (a locked keystore) refuses the write, nothing stored.
  std::function<absl::StatusOr<std::string>(const Commit&)> sign;
  // Signs the encoded header of a commit this replica writes (its chain
  // entry, protocol version 3: crypto/commit_header.h). With it installed
  // every local commit gets its header in the same transaction, and the
  // commits written before it was (an upgraded laptop's) get theirs first.
  std::function<absl::StatusOr<std::string>(std::string_view header)> sign_header;
  // Checks a commit received from elsewhere (Apply, ApplyPulled) before
  // anything of its batch is applied; an error refuses the whole batch.
  // `position` is the commit's position in the hub's log for pulled commits,
  // 0 otherwise. Writes nothing: it may run before the batch's transaction
  // (Apply); what is kept of a commit is written by `taken`.
  std::function<absl::Status(const Commit&, int64_t position)> verify;
  // Called in the transaction that stores a commit, for each commit `sign`
  // or `verify` accepted, before its changes are merged: what the key ring
  // keeps of it (the referrals it ends: KeyRing). Rolled back with the
  // batch or the write: nothing is kept of a commit that is not.
  std::function<absl::Status(sqlite::Transaction&, const Commit&)> taken;
  // Called for every value of a column whose sensitivity is not kClear in a
  // local write (NULL too, except a tombstone's), once the commit's HLC is
  // known. Returns the value to store instead (a sealed envelope), or
  // nullopt to keep it. With it installed, a created or restored row writes
  // every such column, an absent one as NULL. Runs in the write's
  // transaction, which the key records it makes (a new key version) join.
  std::function<absl::StatusOr<std::optional<Value>>(sqlite::Transaction&, const SealRequest&)>
      seal;
};

// Commit chains as a node keeps them (protocol version 3; sync/chain_keeper.h
// decides, the replica stores; tables in docs/FORMATS.md).
// An entry of a tracked author's chain placed here.
struct ChainRow {
  // kAnchor: where a verified checkpoint says the author's chain stood
  // (its seq and link only, no header): the next entry must follow it.
  // kWithdrawal: this device's own withdrawal entry (no commit in the log;
  // crypto/commit_header.h, flag bit 0), passing over its set-aside seqs.
  enum class State { kWithBody = 1, kHeaderOnly = 2, kAnchor = 3, kWithdrawal = 4 };
  DeviceId device;
  uint64_t seq = 0;
  std::string header, signature, link;
  State state = State::kWithBody;
};
// A pulled commit (or header) held back: its author's chain has a gap
// before it, or evidence against it; applied once the gap is filled.
struct HeldEntry {
  DeviceId device;
  uint64_t seq = 0;
  int64_t position = 0;               // in the hub's log
  std::string header, header_signature;
  std::string body, signature;        // empty for a header only
  std::vector<std::pair<uint32_t, std::string>> omitted;
  std::vector<std::string> omitted_tags;
};
// Two signed entries of one author that cannot both stand (sync/chain.h),
// or a hub that agreed a lower protocol version than it once did (device:
// the hub's id; sync/downgrade.h).
struct TrustEvidence {
  int64_t id = 0;  // _fs_trust_evidence.id, set when read back
  DeviceId device;
  uint64_t seq = 0;
  int kind = 0;  // sync::ChainEvidence::Kind
  std::string held_header, held_signature, other_header, other_signature;
  std::string what;
  int64_t found_at_millis = 0;
};
// A laptop's signed statement of what it has seen (crypto/statement.h), the
// newest this laptop holds of its signer, kept once checked
// (sync/statement_keeper.h).
struct StatementRow {
  DeviceId signer;
  std::string province;
  int64_t created_millis = 0;      // by the signer's clock
  int64_t received_at_millis = 0;  // by this laptop's
  std::string bytes;
};
struct ChainWrites {
  std::vector<StatementRow> statements;  // kept unless one as new is held
  std::vector<ChainRow> placed;
  std::vector<HeldEntry> held;                          // added or replaced
  std::vector<std::pair<DeviceId, uint64_t>> released;  // no longer held
  std::vector<TrustEvidence> evidence;
  bool empty() const {
    return placed.empty() && held.empty() && released.empty() && evidence.empty() &&
           statements.empty();
  }
};

// A commit of this device the hub refused for good, set aside here
// (_fs_set_aside; docs/PROTOCOL.md, "Refusals per commit and set-aside
// work"): never pushed again, shown until an officer resolves it.
struct SetAsideRow {
  uint64_t seq = 0;
  int code = 0;             // sync::RefusalCode
  std::string reason;       // the hub's, in plain words
  uint64_t depends_on = 0;  // DEPENDS_ON_REFUSED: the refused commit it needs
  int64_t at_millis = 0;    // when it was set aside
  uint64_t withdrawal = 0;  // the seq of the withdrawal passing over it; 0: not yet
  int64_t discarded_at_millis = 0;  // 0 while an officer has not resolved it
  // kColleagueRefusedCode (since session 27): the colleagues' versions the
  // hub said it will never hold, which resolving the commit passes over.
  std::vector<Version> never_coming;
  // kColleagueRefusedCode (since session 28): a revoked colleague among
  // never_coming's authors and the highest seq of its commits the hub
  // holds: resolving the commit passes over its later versions too, where
  // a field named in never_coming stood on them.
  std::vector<std::pair<DeviceId, uint64_t>> never_after;
};

// SetAsideRow::code of a commit that names a colleague's version the hub
// will never hold (sync::RefusalCode::kColleagueRefused; since session 26):
// resolving it passes over the versions its refusal named too
// (SetAsideRow::never_coming; Replica::DiscardSetAside).
inline constexpr int kColleagueRefusedCode = 10;
// _fs_log's last position when the hub last said its log went back (a hub
// put back from a backup; since session 27): a colleague's version pulled
// after it, the hub has held since, and a COLLEAGUE_REFUSED naming it is not
// believed (Replica::DiscardSetAside passes over it not).
inline constexpr char kWentBackLogPosCursor[] = "hub:went_back_log_pos";

// A commit of this device re-dated (Replica::Restamp): the hub refused it
// as stamped by a clock ahead; the same changes went under a new seq.
struct Redated {
  uint64_t old_seq = 0, new_seq = 0;
  Hlc old_hlc, new_hlc;
};
struct RestampResult {
  uint64_t withdrawal = 0;  // the withdrawal entry's seq; 0: nothing to re-date
  std::vector<Redated> redated;
  // The waiting commits the check passed to Restamp found unsound, as
  // logged when it ran: nothing was re-dated then.
  std::vector<uint64_t> unsound;
  // How far past this laptop's clock the newest refused stamp lies now.
  int64_t ahead_millis = 0;
};
// The clear value of a value this device stored in a commit of version
// `version` (sealed or not): what the key ring opens (KeyRing::Read).
using OpenStored = std::function<absl::StatusOr<Value>(
    const std::string& table, const RowId& row, const std::string& column, const Value& stored,
    const Version& version)>;

// How far a bootstrap from a checkpoint got (_fs_bootstrap): its id, its
// signed statement, the first leaf of the next page (the leaf count once
// done).
struct BootstrapProgress {
  std::string checkpoint;
  std::string statement;
  uint32_t next_index = 0;
  int confirmed = 0;  // 1: its signer is a member here; -1: it is not; 0: not known yet
  // The proof state at next_index (_fs_bootstrap_proof; crypto/merkle.h,
  // KeptProof), written with the page that left it; none: not kept (a
  // bootstrap of an earlier build, or a damaged record).
  std::optional<crypto::KeptProof> proof;
};

// Where an unverified bootstrap (the hub's current rows, no checkpoint) was
// cut (_fs_bootstrap_cut; docs/PROTOCOL.md, "A bootstrap resumed after a
// cut"): the hub's log position its first message was served at, the log
// chain's hash there, the hub's tombstone-collection epoch then, and the
// last row installed (tables in the hub's schema order, rows by id; an
// empty table: none yet). Kept with the rows, in the same transaction,
// until the bootstrap completes or starts over.
struct BootstrapCut {
  int64_t position = 0;
  std::string position_hash;
  uint64_t gc_epoch = 0;
  std::string table;
  RowId row;
};

// Where a pull's list of rows the hub collected (PullChunk.purged) was cut
// (_fs_purged_cut; docs/PROTOCOL.md, "Tombstones"): the collection epoch
// the pull asked from (`asked`, PullParams.gc_epoch), the hub's epoch the
// list was served at, and its last row applied (the list comes ordered by
// table name, then row id). Kept with the rows dropped, in the same
// transaction, until a message says the list is complete or a reset.
struct PurgedCut {
  uint64_t asked = 0;
  uint64_t epoch = 0;
  // The id of the hub's collection at `epoch` (PullChunk.gc_id; 0: none, a
  // hub or a replica of an earlier build): a hub put back from a backup
  // that collected to `epoch` again has another (session 26).
  uint64_t epoch_id = 0;
  std::string table;
  RowId row;
};

// What a laptop bootstrapped before it joined decides about its checkpoint
// once it can judge the signer (sync/checkpoint_keeper.h, Confirm).
struct BootstrapJudgement {
  int confirmed = 0;  // 1 or -1 (BootstrapProgress::confirmed)
  // With 1: the checkpoint's heads placed as anchors (_fs_chain state 3),
  // and evidence from comparing them with the entries received meanwhile;
  // with -1: the evidence against the signer.
  ChainWrites chain;
  // With -1: anchors (device, seq) a build before this one placed at
  // install, removed: a non-member's word never decides what a colleague's
  // next entry must link to.
  std::vector<std::pair<DeviceId, uint64_t>> drop_anchors;
  // Cursors set with it (-1: the bootstrap redone, unverified).
  std::vector<std::pair<std::string, int64_t>> cursors;
};

// One batch of what a node pulls from a hub, applied in one transaction.
// A hash of the hub's log chain at a position of its log, as the hub gave it
// (docs/PROTOCOL.md, "A hub put back from a backup"), kept in _fs_hub_marks
// with the time it came (this laptop's clock, Unix ms).
struct HubLogMark {
  int64_t position = 0;
  std::string hash;
  int64_t at_millis = 0;
};

struct PulledBatch {
  // Discard every replicated row and conflict first (a fresh bootstrap);
  // the log of this device's own commits is kept.
  bool reset = false;
  // The cursor that records how far this device's own commits were
  // acknowledged by the hub. Commits written after it are not in the hub's
  // state: after a reset or an installed row they are merged again on top,
  // so that installing never hides local work.
  std::string pushed_cursor;
  // Rows of a checkpoint (a reset by one, or its pages): they hold this
  // device's own commits up to this seq only (the checkpoint's stated head
  // of this device, 0 if none), and the hub's log after the checkpoint
  // leaves out this device's commits. Those after it are merged again too,
  // sent or not, but for the ones the hub refused (set aside).
  std::optional<uint64_t> own_rows_upto;
  // Deleted rows the hub collected for good: their tombstones (and conflict
  // records) go here too. A row that is live here is left alone. This
  // device's own commits merged again in the same batch (reset, installed
  // rows, own_rows_upto) skip these rows: none comes back.
  std::vector<std::pair<std::string, RowId>> purged;
  // Where the list of collected rows got to (stored with the batch); or,
  // with `purged_done`, forgotten (the list is complete).
  std::optional<PurgedCut> purged_cut;
  bool purged_done = false;
  // Rows installed whole; they reflect the hub's log up to rows_position.
  std::vector<RowSnapshot> rows;
  int64_t rows_position = 0;
  // The rows came in verified pages of a checkpoint signed by a member of
  // this office (sync/checkpoint_keeper.h): recorded as verified, so that
  // what they say decides as a signed commit would (VersionSigned).
  bool rows_verified = false;
  // Rows of `rows` whose every version (fields and conflict records) a
  // commit its author signed showed as the row holds it (a case newly
  // visible through a referral, sync/row_witness.h): recorded as
  // witnessed (_fs_witnessed), so that they decide as signed commits would.
  std::set<std::pair<std::string, RowId>> witnessed;
  // A bootstrap from a checkpoint: its progress, stored with the batch.
  std::optional<BootstrapProgress> bootstrap;
  // An unverified bootstrap: where it got to, stored with the batch (after
  // the reset, if any); or, with `bootstrap_done`, forgotten (complete).
  std::optional<BootstrapCut> bootstrap_cut;
  bool bootstrap_done = false;
  // How far the hub's clock was ahead of this laptop's at the pass's hello:
  // pulled commits and rows are judged against this clock corrected by it
  // (clock/hlc.h ClockLead; docs/PROTOCOL.md, "Clocks behind").
  ClockLead clock_lead;
  // Commits in the hub's log order, with their hub positions. A commit may
  // carry only the row changes the node may see; per-author sequences then
  // have gaps, which is why pulled commits are not held to seq + 1.
  std::vector<std::pair<int64_t, Commit>> commits;
  // Cursors set in the same transaction, unless a commit was deferred.
  std::vector<std::pair<std::string, int64_t>> cursors;
  // The hub's log went back under this node (a hub restored from an older
  // backup): before anything else, and even if a commit is deferred, the
  // cursor named `pulled_cursor` is set to `went_back_to`, the marks after
  // it are dropped, and rows installed at a later position count as
  // installed at it (the positions after it are another log now).
  std::optional<int64_t> went_back_to;
  std::string pulled_cursor;
  // Stored with the cursors (unless a commit was deferred): the log chain's
  // hash at the cursor they set. The newest 16 marks are kept, and of older
  // ones the newest of each day, 32 in all.
  std::optional<HubLogMark> mark;
  // Stored with the rows installed (PullChunk::rows_hash): the log chain's
  // hash at rows_position.
  std::optional<HubLogMark> rows_mark;
  // Chain entries placed, commits held back or released, evidence found:
  // stored in the same transaction.
  ChainWrites chain;
};

struct PullResult {
  size_t rows_installed = 0;
  size_t tombstones_purged = 0;
  size_t applied = 0;
  size_t duplicates = 0;
  size_t deferred = 0;
  size_t changes_skipped = 0;  // row changes already in an installed row
  bool cursor_set = false;
};

struct ReplicaStats {
  DeviceId device;
  uint64_t local_seq = 0;            // last commit this device wrote
  uint64_t log_commits = 0;          // commits held, local and remote
  uint64_t open_conflicts = 0;
  std::vector<std::pair<std::string, uint64_t>> live_rows;  // per table
  int schema_version = 0;
};

class Replica {
 public:
  // Opens the replica at options.path, creating it (with a new device id) or
  // migrating it from an older schema version. FAILED_PRECONDITION if the file
  // was written by a newer schema version than this build knows.
  static absl::StatusOr<std::unique_ptr<Replica>> Open(const ReplicaOptions& options);
  ~Replica();

  const DeviceId& device_id() const;
  const Schema& schema() const;

  // Installs (or, with an empty CommitSecurity, removes) signing,
  // verification and sealing. Not thread-safe against concurrent calls.
  void SetSecurity(CommitSecurity security);
  int schema_version() const;

  // Turns a local transaction into one commit (next sequence number, a fresh
  // HLC, bases from the current versions), applies and logs it atomically.
  // INVALID_ARGUMENT for unknown tables/columns or bad values, NOT_FOUND,
  // ALREADY_EXISTS or FAILED_PRECONDITION for the row's state; nothing is
  // written on error -- except after a disk error while committing, when the
  // change may reappear on the next open (the message says so; the state is
  // then wholly before or wholly after, never between).
  absl::StatusOr<Commit> Write(const LocalTxn& txn);
  // Several local transactions, one commit each, in one SQLite transaction:
  // all or none.
  absl::StatusOr<std::vector<Commit>> WriteMany(const std::vector<LocalTxn>& txns);
  // WriteMany, and in the same SQLite transaction the source key of each row
  // brought in from an outside register (`fieldnode import cases`; this
  // laptop's table _fs_imported, docs/FORMATS.md) with the row written for
  // it. ALREADY_EXISTS, nothing written, if a key is recorded already.
  // `rekeyed` (old key, new key): recorded keys rewritten in the same
  // transaction (a version 1 key found again, keyed now; UPDATE OR REPLACE:
  // a row already under the new key is deleted, and the old key's row, with
  // its case and time, renamed to it: one row under the new key either way).
  absl::StatusOr<std::vector<Commit>> WriteImported(
      const std::vector<LocalTxn>& txns,
      const std::vector<std::pair<std::string, RowId>>& sources, int64_t at_millis,
      const std::vector<std::pair<std::string, std::string>>& rekeyed = {});
  // Which of `keys` are recorded as imported already.
  absl::StatusOr<std::set<std::string>> ImportedKeys(const std::vector<std::string>& keys);

  // Merges remote commits in one SQLite transaction, in dependency order
  // (a commit may come before one it depends on in `commits`). Idempotent.
  // Each commit is validated first; if any is invalid, or has a timestamp too
  // far ahead, nothing at all is applied and the error names it. If `cursor`
  // is given, that sync cursor is set in the same transaction -- unless a
  // commit was deferred (ApplyResult::cursor_set says which), so that a puller
  // never moves past a commit it does not hold.
  absl::StatusOr<ApplyResult> Apply(const std::vector<Commit>& commits,
                                    std::optional<std::pair<std::string, int64_t>> cursor = {},
                                    const ApplyHooks* hooks = nullptr);

  // Runs `body` in one write transaction over this replica's storage as the
  // merge engine needs it (merge/commit_merge.h): what the hub's SQLite
  // storage gives the hub's engine, which merges pushed commits with
  // MergeCommits and writes its own tables in the same transaction. An error
  // from `body` rolls everything back. Hooks and checks are the caller's.
  absl::Status MergeTransaction(const std::function<absl::Status(MergeStore&)>& body);

  // Applies what a node pulled from its hub (see PulledBatch), all in one
  // SQLite transaction: reset, installed rows, commits and cursor together or
  // not at all. Commits are validated first as in Apply().
  absl::StatusOr<PullResult> ApplyPulled(const PulledBatch& batch);

  // The whole state of one row; nullopt if never seen here.
  absl::StatusOr<std::optional<RowSnapshot>> ExportRow(const std::string& table,
                                                       const RowId& row);

  // Runs `read` in one read transaction: every read of this Replica inside
  // it sees the same state of the file (a hub streams a consistent snapshot).
  absl::Status ReadTransaction(const std::function<absl::Status()>& read);

  // The position of the newest log entry; 0 if the log is empty.
  absl::StatusOr<int64_t> LogHead();
  // Log entries with position > after_pos, as stored: (position, author,
  // canonical bytes). A hub relays these without re-encoding.
  struct RawEntry {
    int64_t position;
    DeviceId author;
    std::string body;
    std::string signature;  // empty if the commit was stored unsigned
    uint64_t seq = 0;       // the author's sequence number of the commit
  };
  absl::StatusOr<std::vector<RawEntry>> RawLogAfter(int64_t after_pos, size_t limit);

  // What a hub's storage reads of the replica it relays from
  // (store/replica_relay.cc), instead of the replica's own tables. Each
  // reads in the caller's transaction if one is open.
  //
  // The log entries at `positions` that are held, in position order.
  absl::StatusOr<std::vector<RawEntry>> RawLogAt(const std::vector<int64_t>& positions);
  // The log entry of `author`'s commit `seq`, if held.
  absl::StatusOr<std::optional<RawEntry>> RawLogEntryOf(const DeviceId& author, uint64_t seq);
  // The log entry of the commit that wrote `version` (its author's commit
  // of that HLC), if held.
  absl::StatusOr<std::optional<RawEntry>> RawLogEntryAt(const Version& version);
  // The positions of `author`'s log entries after `after_pos`, in order.
  absl::StatusOr<std::vector<int64_t>> LogPositionsOf(const DeviceId& author, int64_t after_pos);
  // The highest sequence number of `device` this replica has taken (0: none).
  absl::StatusOr<uint64_t> SeqHeld(const DeviceId& device);
  // Forgets a deleted row for good, with its conflict records (a hub
  // collecting tombstones every node has received): false, changing
  // nothing, if `row` of `table` is not a tombstone here. INVALID_ARGUMENT
  // for a table not in the schema. In the caller's transaction, or its own.
  absl::StatusOr<bool> DropTombstone(const std::string& table, const RowId& row);

  // Reads a row (live or tombstoned); nullopt if this replica never saw it.
  absl::StatusOr<std::optional<Row>> Get(const std::string& table, const RowId& row);
  // Ids of a table's rows in id order, live ones only unless asked.
  absl::StatusOr<std::vector<RowId>> ListRows(const std::string& table, bool include_deleted);
  // Where the rows of `table` stand in its file: the highest slot (SQLite
  // rowid) a row of it took, 0 if none; a row added or written here since,
  // by a commit or installed whole, is in a higher slot (RowsAfterSlot):
  // what a front end's cache of the table (the search index of names) reads
  // to bring itself up to date. INVALID_ARGUMENT for an unknown table.
  absl::StatusOr<int64_t> RowSlotHigh(const std::string& table);
  absl::StatusOr<std::vector<RowId>> RowsAfterSlot(const std::string& table, int64_t slot);
  // Rows of `table` whose `column` holds `value` (live ones first, then by
  // id): the cases naming a person, the referrals of a case.
  // INVALID_ARGUMENT for an unknown table or column.
  absl::StatusOr<std::vector<RowId>> RowsWhere(const std::string& table, const std::string& column,
                                               const Value& value, bool include_deleted);
  // Calls `row` with the stored values of `columns` (in that order) for every
  // live row of `table`, in id order; stops at the first error `row` returns.
  // Inside ReadTransaction() several scans see one state of the file.
  // INVALID_ARGUMENT for an unknown table or column. Values are as stored:
  // a sealed column gives its envelope.
  absl::Status ScanLiveRows(
      const std::string& table, const std::vector<std::string>& columns,
      const std::function<absl::Status(const RowId&, const std::vector<Value>&)>& row);
  // The same over every row of `table`, deleted ones too if
  // `include_deleted`, each with whether it is live (store/row_scan.h).
  absl::Status ScanRows(
      const std::string& table, const std::vector<std::string>& columns, bool include_deleted,
      const std::function<absl::Status(const RowId&, bool, const std::vector<Value>&)>& row);
  // What a person types to name a live row of `table`: the rows whose id, in
  // upper-case hex, starts with `id_hex_prefix` (none if it is empty), or
  // whose text column `column` equals `text` in any ASCII letter case (none
  // if `column` is empty). At most `limit`, in no set order.
  // INVALID_ARGUMENT for an unknown table or column.
  absl::StatusOr<std::vector<RowId>> FindLiveRows(const std::string& table,
                                                  const std::string& id_hex_prefix,
                                                  const std::string& column,
                                                  const std::string& text, size_t limit);
  // Open conflict records, optionally of one table / one row, in order.
  absl::StatusOr<std::vector<ConflictRecord>> Conflicts(
      const std::optional<std::string>& table = {}, const std::optional<RowId>& row = {});

  // This device's commits with sequence > after_seq, oldest first (for push).
  absl::StatusOr<std::vector<Commit>> LocalCommitsAfter(uint64_t after_seq, size_t limit);
  // `author`'s commits held with sequence > after_seq, oldest first, with
  // their signature and header where held (a relay to a hub that lost
  // them); none if the author is unknown here.
  absl::StatusOr<std::vector<Commit>> AuthorCommitsAfter(const DeviceId& author,
                                                         uint64_t after_seq, size_t limit);
  // Every commit held, in the order this replica applied them, from log
  // position > after_pos (a hub relays from here). Returns (position, commit).
  absl::StatusOr<std::vector<std::pair<int64_t, Commit>>> LogAfter(int64_t after_pos,
                                                                   size_t limit);

  // Commit chains (protocol version 3; see ChainWrites). The newest placed
  // entry of each author tracked here, this device's own apart.
  absl::StatusOr<std::vector<ChainRow>> ChainHeads();
  // The placed entry of `device` at `seq`, if held.
  absl::StatusOr<std::optional<ChainRow>> ChainEntryAt(const DeviceId& device, uint64_t seq);
  // The placed entry of `device` with the lowest seq at or after `seq`.
  absl::StatusOr<std::optional<ChainRow>> ChainEntryFrom(const DeviceId& device, uint64_t seq);
  // The placed entries of `device` within first..last with their bodies
  // (state kWithBody), oldest first.
  absl::StatusOr<std::vector<ChainRow>> ChainBodiesWithin(const DeviceId& device, uint64_t first,
                                                          uint64_t last);
  // The placed withdrawal entries of `device` (header flag bit 0) after
  // `after_seq`, oldest first: the ranges they pass over are withdrawn.
  absl::StatusOr<std::vector<ChainRow>> ChainWithdrawalsAfter(const DeviceId& device,
                                                              uint64_t after_seq);
  // This device's own newest entry, if it has one.
  absl::StatusOr<std::optional<ChainRow>> OwnChainHead();
  // This device's own entries with seq > after_seq, oldest first.
  absl::StatusOr<std::vector<ChainRow>> OwnChainAfter(uint64_t after_seq, size_t limit);
  // Begins this device's chain if it has not begun (commits written before
  // its build signed headers, none since): signs the header of each logged
  // commit, as its next write would. Returns the last seq signed, 0 if
  // there was nothing to do; FAILED_PRECONDITION with a locked keystore.
  absl::StatusOr<uint64_t> BeginOwnChain();

  // Set-aside work (store/replica_set_aside.cc). Records `rows` (a seq
  // already set aside is left as it is).
  absl::Status SetAside(const std::vector<SetAsideRow>& rows);
  // Every set-aside commit, resolved or not, by seq.
  absl::StatusOr<std::vector<SetAsideRow>> SetAsideList();
  // Writes, in one transaction, a signed withdrawal entry of this device's
  // chain (next seq) passing over its set-aside seqs an officer resolved
  // that no withdrawal passes over yet (contiguous runs, at most 8; the
  // rest in the next one). Its
  // seq, or 0 if there is none to withdraw. FAILED_PRECONDITION if this
  // device's own chain does not reach its last commit (headers not signed
  // yet: a locked keystore).
  absl::StatusOr<uint64_t> WithdrawSetAside();
  // Re-dates the commits set aside with `code` (the hub's CLOCK_AHEAD) that
  // no withdrawal passes over yet, in one transaction
  // (store/replica_restamp.cc): the clock goes back to the newest version
  // held that is not one of them (never a stamp the hub would refuse), and
  // from then on skips their stamps; a signed withdrawal of their seqs;
  // each rewritten under a new seq with the clock, values opened with
  // `open` and sealed again, bases and settled versions naming a refused
  // one remapped to its rewrite; rows and conflict records holding a
  // refused version hold the new one instead. FAILED_PRECONDITION if the
  // keystore is locked (nothing changed). Each waiting commit, as this
  // transaction reads it from the log (with its signature and header), is
  // first put to `sound` (this laptop's own check, sync/own_check.h): if
  // one fails it, nothing is re-dated and RestampResult::unsound names
  // them. In the transaction of the rewrite, so that what is signed anew
  // is what was checked (attack review 89, LOW).
  absl::StatusOr<RestampResult> Restamp(int code, const OpenStored& open,
                                        const std::function<bool(const Commit&)>& sound);
  // The wall clock this replica stamps its commits with (Unix ms).
  int64_t ClockMillis() const;
  // The officer's discard of set-aside commit `seq` (fieldnode set-aside
  // discard): recorded, with its time, and in the same transaction every
  // field a resolved set-aside commit still wins here is put back to the
  // last version not of one (from the log and the conflict records: what
  // the hub holds), so that a later edit of it does not name a version the
  // hub refused (for a kColleagueRefusedCode one, nor the colleague's
  // versions its writes stood on). Returns how many fields could not be put back (their
  // earlier value is not held here). NOT_FOUND if it is not set aside;
  // FAILED_PRECONDITION if resolved already.
  absl::StatusOr<size_t> DiscardSetAside(uint64_t seq, int64_t at_millis);
  // The officer's keep of set-aside commit `seq` (fieldnode set-aside keep):
  // resolved as DiscardSetAside does, and `txn` (what it tried to do, as a
  // new record: node/ops/set_aside.h) written as one local commit, in one
  // transaction. Errors as DiscardSetAside and Write; nothing written on
  // error.
  absl::StatusOr<Commit> KeepSetAside(uint64_t seq, const LocalTxn& txn, int64_t at_millis);
  // The hub holds set-aside commit `seq` stored although withdrawal
  // `withdrawal` of this device, which it kept, passes over it (a hub put
  // back from a backup, then from a newer one; docs/PROTOCOL.md, "A
  // withdrawal over a commit the hub stored"): its colleagues hold the
  // commit, and the officer's resolution must reach them as a write. In one
  // transaction (store/replica_supersede.cc): the commit's changes merged
  // again into its rows, as every replica holding it has them; then one new
  // commit of this device that writes back, over each field that commit
  // wins now, what the officer's resolution had left (values opened with
  // `open`, sealed again; a row it created or restored deleted, a row it
  // deleted restored); recorded in _fs_superseded. Nothing is taken back:
  // the rows show what they showed before. Returns the new commit's seq (0
  // if no field needed writing back), or nullopt if `seq` was superseded
  // already (nothing done). A write-back the rules refuse (a referral's
  // answer or deletion it would undo: the referral rules, as the hub
  // applies them; a row it moved to another office, which only that office
  // moves back) is not written: the office keeps the stored commit, the
  // rows stay merged with it, and `not_written` says why (recorded in
  // _fs_superseded all the same, so the chain goes on past the
  // withdrawal). NOT_FOUND if it is not set aside; FAILED_PRECONDITION if
  // no officer resolved it, `withdrawal` does not pass over it, or the
  // keystore is locked (nothing changed).
  struct Superseded {
    uint64_t written = 0;     // the new commit's seq; 0 if none was written
    std::string not_written;  // why the resolution could not be written back
  };
  absl::StatusOr<std::optional<Superseded>> SupersedeSetAside(uint64_t seq, uint64_t withdrawal,
                                                              const OpenStored& open);
  // What is held back, of one author or of all, by author and seq.
  absl::StatusOr<std::vector<HeldEntry>> Held(const std::optional<DeviceId>& device);
  absl::StatusOr<std::vector<TrustEvidence>> Evidence();
  // Records `e` (outside a pull) and sets `cursors`, in one transaction.
  absl::Status AddEvidence(const TrustEvidence& e,
                           const std::vector<std::pair<std::string, int64_t>>& cursors);
  // Adds evidence found outside a pull batch (a colleague's statement that
  // contradicts what this laptop holds), in one transaction, skipping what
  // is on record already (same device, seq, kind and other header).
  // Returns how many were new.
  absl::StatusOr<size_t> AddNewEvidence(const std::vector<TrustEvidence>& evidence);
  // Whether the current version of `column` of a row came to this replica
  // in a signed commit it holds (its own, or one pulled and verified): true
  // for every row not installed whole; for a row installed whole (a
  // bootstrap, a newly referred case), only if the row is vouched for
  // (RowVouched) or the commit that wrote that version, with that value, is
  // in this replica's log. A hub serves installed rows: what decides trust
  // (a case's owning office, a referral's offices and answer) is taken from
  // them only once a signature shows it. False for a field never written.
  absl::StatusOr<bool> VersionSigned(const std::string& table, const RowId& row,
                                     const std::string& column);
  // Whether what a row holds came with signatures: true for a row not
  // installed whole (every version of it came in a verified commit) and
  // for one installed from a verified checkpoint page whose signer is
  // confirmed a member of this office, or witnessed (commits its authors
  // signed showed every version of it: a case newly referred); false for
  // a row the hub served as it chose, and for one this replica lacks.
  absl::StatusOr<bool> RowVouched(const std::string& table, const RowId& row);
  // Whether the row was installed whole outside a bootstrap (a case newly
  // referred to this office) as the hub served it, vouched for by nothing:
  // an honest hub never serves so a row this office owns, so what it says
  // of its owner decides nothing, even when it names this office.
  absl::StatusOr<bool> RowServedNewlyVisible(const std::string& table, const RowId& row);
  // The statements held, by signer.
  absl::StatusOr<std::vector<StatementRow>> Statements();

  // Checkpoints (store/replica_checkpoint.cc). The leaf hash of every row
  // held, tombstones included: tables in schema order, rows by id, each
  // the hash of its row state (store/row_state.h) -- what this laptop signs
  // the root of, and a hub compares with its own rows.
  absl::StatusOr<std::vector<std::string>> StateLeaves();
  // The bootstrap from a checkpoint under way or done; nullopt if none.
  absl::StatusOr<std::optional<BootstrapProgress>> Bootstrap();
  // Where the unverified bootstrap under way was cut; nullopt if none.
  absl::StatusOr<std::optional<BootstrapCut>> BootstrapCutAt();
  // Where a list of collected rows was cut (PurgedCut), if one was.
  absl::StatusOr<std::optional<PurgedCut>> PurgedCutAt();
  // Records, in one transaction, whether the checkpoint's signer turned
  // out a member of this office (1) or not (-1; rows from it count as
  // signed only with 1), with what follows from it (BootstrapJudgement).
  absl::Status ConfirmBootstrap(const BootstrapJudgement& judgement);
  // How many rows came in verified pages and are still as installed or
  // changed since by commits (status).
  absl::StatusOr<int64_t> VerifiedRows();

  absl::Status SetCursor(const std::string& name, int64_t value);
  // 0 if never set.
  absl::StatusOr<int64_t> GetCursor(const std::string& name);
  // Removes the cursor: read as 0 since (a cursor kept per item, once the
  // item is done with).
  absl::Status DropCursor(const std::string& name);
  // The marks of the hub's log chain kept (PulledBatch::mark), newest first.
  absl::StatusOr<std::vector<HubLogMark>> HubMarks();
  // The cursors whose name begins with `prefix`, by name.
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> CursorsNamed(
      std::string_view prefix);

  // BLAKE2b-256 (hex) of the replicated state: every row (liveness, values,
  // versions) and every conflict record, independent of delivery order and of
  // the local log. Two replicas that hold the same commits have equal digests.
  absl::StatusOr<std::string> StateDigest();

  absl::StatusOr<ReplicaStats> Stats();

  // `PRAGMA integrity_check`: OK, or DATA_LOSS with SQLite's report.
  absl::Status CheckIntegrity();

  class Impl;

 private:
  // The raw connection, for store/ only (store/replica_internal.h).
  friend class ReplicaInternal;
  explicit Replica(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_REPLICA_H_
