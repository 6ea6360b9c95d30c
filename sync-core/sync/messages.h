// The sync protocol's messages as the engine sees them, whatever carries
// them: the gRPC transport converts them to and from fieldsync.v1
// (proto/fieldsync/v1/sync.proto documents every field, its units and
// limits); the in-process loopback hands them over as they are. The hub's
// side answers them (hub/sync_handler.h), the node's side asks them
// (sync/pusher.h, sync/puller.h, sync/pass.h).
#ifndef FIELDSYNC_SYNC_MESSAGES_H_
#define FIELDSYNC_SYNC_MESSAGES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "change/id.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/protocol.h"

namespace fieldsync::sync {

// A node's credential (DIR/credential, from Enroll): its device id and a
// 32-byte secret the hub keeps a hash of. Over gRPC the secret itself never
// leaves the laptop: each call carries a proof made from it, bound to the
// hub's certificate (crypto/credential_proof.h); the hub's service puts it
// in `proof`, and `secret` is set only from an older laptop's bearer (or
// by a transport in the same process).
struct Credential {
  DeviceId device;
  std::string secret;
  std::string proof{};
  // Version 2 (session 24): the link key's proof and the digest of the
  // certificate it was made over, as the node says (crypto/
  // credential_proof.h); sent with the version 1 proof.
  std::string link_proof{};
  std::string link_digest{};
};

struct HelloRequest {
  int protocol_version = kProtocolVersion;
  int max_protocol_version = kMaxProtocolVersion;  // 0: protocol_version only
  int64_t node_time_millis = 0;  // the node's clock; 0: not sent
  // Optional: if sent it must be valid, and the reply names the province.
  std::optional<Credential> credential;
  // With a credential, from a node of session 24: its link key's public
  // half (32 bytes), kept by the hub for a device that has none if the
  // credential's link proof verifies under it.
  std::string link_public_key{};
};

// The calling node's own commits as the hub holds them (version 3, with a
// credential): a hub restored from an older backup holds fewer than the
// node sent, and the node sends them again (docs/PROTOCOL.md, "A hub put
// back from a backup").
struct OwnCommitsHeld {
  uint64_t acknowledged_seq = 0;
  uint64_t accounted_seq = 0;
  // The key records the caller signed that the hub holds, erasures left
  // out (none from an older hub): fewer than the node sent means the hub
  // lost some, and the node sends its own again.
  std::optional<uint64_t> key_records;
};

struct HelloReply {
  int protocol_version = kProtocolVersion;
  DeviceId hub_id;
  int64_t hub_time_millis = 0;
  std::string province;  // with a credential: the node's province
  int64_t log_head = 0;
  std::string enrol_challenge;  // 32 bytes; empty from an older hub
  // Version 3: the compact header form this hub reads in pushes and sends
  // to a pull that asks for it (sync/compact_header.h); 0: none (an older
  // hub), and then no compact header is sent to it.
  int compact_headers = 0;
  // Version 3, to a call with a credential, from a hub of the log chain:
  // what it holds of the caller's commits (absent from an older hub).
  std::optional<OwnCommitsHeld> own;
  // The credential proof version the hub checks (0: none, an older hub; 2:
  // it also checks link proofs).
  int credential_proof = 0;
  // With a credential: the hub holds the caller's link key (after this
  // Hello registered it, or before); false from an older hub. The hub's
  // word, which the laptop acts on in no way that matters: it sends both
  // proofs whatever it says (docs/PROTOCOL.md, "Credentials").
  bool link_key = false;
  // Not on the wire: the digest of the server certificate this Hello's
  // connection showed (crypto/credential_proof.h), set by a transport over
  // TLS (32 zero bytes over plain-text loopback); empty in process.
  std::string certificate_digest;
};

struct EnrollRequest {
  int protocol_version = kProtocolVersion;
  std::string token;
  DeviceId device;
  std::string device_name;
  std::string sign_public_key;  // Ed25519, 32 bytes
  std::string box_public_key;   // X25519, 32 bytes
  std::string challenge;        // HelloReply.enrol_challenge (optional)
  std::string proof;            // crypto/enrolment_proof.h (optional)
};

struct EnrollReply {
  std::string secret;  // 32 bytes
  std::string province;
  DeviceId hub_id;
};

// A commit as a node pushes it.
struct PushedCommit {
  std::string canonical;
  std::string signature;
  // Version 3 (crypto/commit_header.h): empty for a commit without one.
  // Compact (sync/compact_header.h): `header` empty, `header_signature`
  // set, and `header_prev_link` the header's prev link unless the receiver
  // takes it from the author's entry before it in the message.
  std::string header;
  std::string header_signature;
  std::string header_prev_link;
};

// An entry of a device's commit chain: a header and its author's signature.
struct ChainEntryBytes {
  std::string header;
  std::string signature;
};

enum class RefusalCode;  // below
// A refused commit's header sent again (PushRequest.refused): the code the
// hub gave, the author's withdrawal passing over it (empty if none yet).
struct RefusedEntryBytes {
  ChainEntryBytes entry;
  RefusalCode code{};
  ChainEntryBytes withdrawn_by;
};

// What a pushing node says of its build. A clear value of a column sealed
// from a later schema version (ColumnDef::sealed_since) is taken only in a
// commit written before the node reached that version.
struct PushOrigin {
  int schema_version = 3;         // 0 on the wire (a build before 4) reads 3
  uint64_t schema_since_seq = 0;  // the node's first commit at that version; 0: all
  // Version 3: headers of the node's commits the hub holds without one,
  // sent beside the commits (PushRequest.backfill_headers).
  std::vector<ChainEntryBytes> backfill_headers;
  // Version 3: a commit refused for good is refused alone (its header
  // kept, acknowledged), the rest of the push stored; version 2 refuses the
  // whole push.
  bool per_commit = false;
  // Version 3: withdrawal entries (PushRequest.withdrawals).
  std::vector<ChainEntryBytes> withdrawals;
  // Version 3: refused headers sent again to a hub that lost them
  // (PushRequest.refused).
  std::vector<RefusedEntryBytes> refused;
  // Version 3: another device's commits relayed by the caller (a hub that
  // went back): a commit waiting for one the hub does not hold waits (the
  // relayer, or its author, sends that one later); it is never refused for it.
  bool relayed = false;
};

struct PushRequest {
  int protocol_version = kProtocolVersion;
  Credential credential;
  std::vector<PushedCommit> commits;
  std::vector<std::string> key_records;
  uint32_t schema_version = 0;  // as sent: 0 is a build before schema version 4
  uint64_t schema_since_seq = 0;
  // Version 3: headers of this node's commits the hub holds without one.
  std::vector<ChainEntryBytes> backfill_headers;
  // Version 3: this node's signed statement of what it has seen
  // (crypto/statement.h), at most one a push.
  std::vector<std::string> statements;
  // Version 3: signed withdrawals of this node's seqs the hub refused
  // (crypto/commit_header.h, flag bit 0), at most kMaxPushWithdrawals.
  std::vector<ChainEntryBytes> withdrawals;
  // Version 3: the commits are this author's, relayed by the calling node
  // to a hub that lost them; checked as a push by their author.
  std::optional<DeviceId> relayed_author;
  // Version 3: headers of commits the hub refused before it went back,
  // sent again header only (docs/PROTOCOL.md, "A hub put back from a
  // backup"); in a call of their own.
  std::vector<RefusedEntryBytes> refused;
};

// Why the hub refused one commit for good (PushResponse.refusals; the
// numbers are RefusalCode's on the wire).
enum class RefusalCode {
  kUnspecified = 0,
  kRowCollected = 1,      // writes a row deleted and collected by gc
  kOutOfScope = 2,        // outside the node's scope
  kRule = 3,              // an illegal referral transition
  kSealing = 4,           // a field sealed when restricted, in clear
  kDependsOnRefused = 5,  // needs a refused commit (depends_on)
  kWithdrawnStored = 6,   // a withdrawal of a stored commit: not taken
  kClockAhead = 7,        // stamped past the hub's clock + the skew limit:
                          // re-dated by the node (sync/restamp.h)
  kRelayed = 8,           // refused before the hub went back, its header
                          // relayed by a colleague who does not know why
  kDamaged = 9,           // never from a hub: its author's own check found
                          // the body damaged on its disk (sync/own_check.h);
                          // set aside by it, its header alone sent
  kColleagueRefused = 10, // names a colleague's version the hub will never
                          // hold (its commit refused for good, or its
                          // author revoked); since session 26
};
// Its name as the wire and the docs spell it ("ROW_COLLECTED", ...).
const char* RefusalCodeName(RefusalCode code);

struct CommitRefusal {
  uint64_t seq = 0;
  RefusalCode code = RefusalCode::kUnspecified;
  std::string reason;       // plain words, no value of the commit
  uint64_t depends_on = 0;  // kDependsOnRefused: the refused commit needed
  // kColleagueRefused (since session 27): the colleagues' versions the
  // commit names that the hub will never hold.
  std::vector<Version> never_coming{};  // (a default: brace-initialised refusals need not name it)
  // kColleagueRefused (since session 28): for each revoked colleague among
  // never_coming's authors, the highest seq of its commits the hub holds:
  // it will never hold a later one (a restore may have lost several of them
  // in a row; attack review 27, MED 1).
  std::vector<std::pair<DeviceId, uint64_t>> never_after{};
};

struct PushOutcome {
  uint64_t acknowledged_seq = 0;
  uint32_t applied = 0;
  uint32_t duplicates = 0;
  int64_t log_head = 0;
  // Version 3: the last entry of the node's chain the hub holds (0: none).
  uint64_t accounted_seq = 0;
  std::string accounted_link;
  // Version 3: why the hub did not keep the statement pushed (empty: kept,
  // or none sent). The commits and key records are not concerned.
  std::string statement_refusal;
  // Version 3: whether the hub adopted the checkpoint the statement carried
  // (kind 2), and if not, why, in one line.
  bool checkpoint_adopted = false;
  std::string checkpoint_note;
  // Version 3: the commits of the push refused one by one (acknowledged
  // all the same: never sent again), in seq order; a withdrawal not taken.
  std::vector<CommitRefusal> refusals;
};

// A position of the hub's log and its hash as the hub's log chain gave it
// (docs/PROTOCOL.md, "A hub put back from a backup"), 32 bytes.
struct LogMark {
  int64_t position = 0;
  std::string hash;
};

// The hub's log went back under a node: from the node's cursor to the
// newest of its marks the hub still holds (0: none), where the pull goes on.
struct LogWentBack {
  int64_t from = 0;
  int64_t to = 0;
};

// What a node asks of a pull.
struct PullParams {
  int64_t cursor = 0;
  bool bootstrapped = false;
  uint64_t gc_epoch = 0;
  // The id of the collection that made gc_epoch (PullChunk.gc_id; 0: none):
  // a hub whose collection at that number has another id, or none (it went
  // back past it), lists every row collected (docs/PROTOCOL.md, "A
  // collection a restore cannot give again").
  uint64_t gc_id = 0;
  size_t max_batch = 0;  // 0: the hub's default
  // The node's byte budget for one message (sync/budget.h): the hub cuts
  // each message at it as well as at max_batch items. 0: not sent (a node
  // before budgets), the hub's own size.
  size_t max_message_bytes = 0;
  int64_t key_cursor = 0;
  // The hub's mark of the record at key_cursor (PullChunk.key_mark; 0:
  // none): a hub whose record there has another mark went back and reused
  // that seq (a restore), and sends its key records from the start.
  uint64_t key_mark = 0;
  std::string registry_digest;
  // Version 3: headers travel with commits, and before a commit of an
  // author in `chain_heads` the headers of its entries after that head.
  bool chains = false;
  std::vector<std::pair<DeviceId, uint64_t>> chain_heads;
  // Version 3: entries of tracked authors the node asks for up to a seq
  // (a colleague's statement names them): the hub sends each author's
  // entries after its head in chain_heads up to that seq, header only
  // where the node may not see the commit.
  std::vector<std::pair<DeviceId, uint64_t>> chain_wants;
  // Version 3: how far the node holds the statements the hub relays.
  int64_t statement_cursor = 0;
  // Version 3: the node takes a bootstrap in verified pages of a
  // checkpoint; and where one was cut (an empty id: none under way).
  bool checkpoint_pages = false;
  std::string resume_checkpoint;
  uint32_t resume_index = 0;
  // The node takes pages whose proof is a delta (CheckpointPage::proof_delta)
  // and, with a resume, holds the proof state at resume_index (proof_kept).
  bool proof_deltas = false;
  bool proof_kept = false;
  // Version 3: the compact header form the node reads (sync/compact_header.h);
  // 0: send every header whole.
  int compact_headers = 0;
  // The node follows the hub's log chain: it sends `marks` (the hashes it
  // was given, newest first, at most kMaxLogMarks; the first at its cursor
  // when it has one) and takes a pull that goes back (PullChunk.went_back).
  bool log_chain = false;
  std::vector<LogMark> marks;
  // An unverified bootstrap this node was cut in (docs/PROTOCOL.md, "A
  // bootstrap resumed after a cut"): where, so that the hub continues
  // after its last row rather than start over. With `bootstrapped` false.
  std::optional<BootstrapCut> bootstrap_cut;
  // Where the node's last list of collected rows was cut (docs/PROTOCOL.md,
  // "Tombstones"): the hub lists only the rows after it when it was asked
  // with this gc_epoch and served at the hub's current epoch (the same
  // collection: PurgedCut.epoch_id, when the node kept one). None: from
  // the first row (a node of an earlier build).
  std::optional<PurgedCut> purged_after;
  // A fresh id of this call, echoed by the hub in every message of its
  // answer (PullChunk.call_id): an earlier call's answer replayed is told
  // from this one's. Empty: none (a node of an earlier build).
  std::string call_id;
};

struct PullRequest {
  int protocol_version = kProtocolVersion;
  Credential credential;
  PullParams params;
  uint32_t schema_version = 0;  // as sent: 0 is a build before schema version 4
};

// A commit of the hub's log as one node may see it.
struct PulledEntry {
  int64_t position = 0;
  std::string canonical;  // whole, or trimmed to the node's scope
  std::string signature;  // the author's, over the whole commit
  std::vector<std::pair<uint32_t, std::string>> omitted;  // digests of what was trimmed
  // Version 3: the header and its signature (empty if the commit has none);
  // with an empty `canonical`, an entry sent header only. The row tags of
  // the changes left out, in the order of `omitted`.
  // Compact (sync/compact_header.h), to a pull that asked for it: `header`
  // empty, `header_signature` set, `header_prev_link` as in PushedCommit.
  std::string header;
  std::string header_signature;
  std::vector<std::string> omitted_tags;
  std::string header_prev_link;
};

// One message of a pull stream.
// Rows of a checkpoint (hub/checkpoints.h): row states of leaves
// [first, first + states.size()), and the proof that places them under the
// signed root (crypto/merkle.h).
struct CheckpointPage {
  std::string checkpoint;  // its id, 16 bytes
  uint32_t first = 0;
  std::vector<std::string> states;
  std::vector<std::string> proof;
  // `proof` holds only the hashes the node lacks (crypto/merkle.h,
  // ProofDeltaPositions), to a pull with PullParams::proof_deltas.
  bool proof_delta = false;
};

struct PullChunk {
  bool reset = false;
  std::vector<RowSnapshot> rows;
  int64_t rows_position = 0;
  std::vector<PulledEntry> commits;
  int64_t cursor = 0;   // 0: keep the node's cursor
  bool caught_up = false;
  int64_t log_head = 0;
  uint64_t gc_epoch = 0;
  // The random id the hub drew when it made gc_epoch (0: none), kept by
  // the node with it (PullParams.gc_id).
  uint64_t gc_id = 0;
  // Tombstones collected since the node's gc_epoch: from a hub of this
  // build ordered by table name, then row id, in messages within the
  // node's budget; `purged_done` in the message with the list's last row
  // (or, the list empty, in the first message after where it would be).
  std::vector<std::pair<std::string, RowId>> purged;
  bool purged_done = false;
  std::string notice;
  bool registry_included = false;
  std::vector<RegisteredDevice> registry;
  std::vector<std::string> key_records;
  int64_t key_cursor = 0;  // 0: keep the node's key cursor
  // With key_cursor: the hub's mark of the record there (hub/key_mark.h),
  // kept with it and sent back as PullParams.key_mark. 0: none (an
  // earlier hub).
  uint64_t key_mark = 0;
  // Version 3: statements of the node's colleagues and referral partners
  // after its statement cursor, and the cursor to store with this message.
  std::vector<std::string> statements;
  int64_t statement_cursor = 0;  // 0: keep the node's
  // Version 3, a verified bootstrap: the checkpoint's signed statement
  // (first message of the stream), then its pages.
  std::string checkpoint;
  std::optional<CheckpointPage> page;
  // Version 3, with rows newly visible (not a bootstrap): the commit behind
  // each version they hold, trimmed to them (sync/row_witness.h).
  std::vector<PulledEntry> witnesses;
  // To a node that follows the log chain: the chain's hash at `cursor`
  // (with a cursor), and, in the first message, that the hub's log went
  // back under the node's cursor: the pull goes on from `to`.
  std::string cursor_hash;
  // To a node that follows the log chain, with rows newly visible: the
  // chain's hash at `rows_position`, which the node keeps as a mark too. A
  // pull cut after the rows leaves the node's cursor below the position
  // the rows hold every write up to; a hub put back from a backup and
  // grown again differs there, not at the cursor (docs/PROTOCOL.md, "Rows
  // installed above the cursor").
  std::string rows_hash;
  std::optional<LogWentBack> went_back;
  // With went_back: authors of whom the hub holds less than the node's
  // chain head, and what it holds (their acknowledged seq).
  std::vector<std::pair<DeviceId, uint64_t>> held_heads;
  // In every message of an unverified bootstrap (the hub's current rows,
  // at rows_position 0), from the one with `reset` on, and of one
  // continued after a cut: where it began (position, position_hash,
  // gc_epoch; `table` and `row` unused). Its rows are the bootstrap's, in
  // order (tables in the hub's schema order, rows by id).
  std::optional<BootstrapCut> bootstrap;
  // The call's PullParams.call_id, echoed (empty from a hub of an earlier
  // build).
  std::string call_id;
  // Not on the wire: the message's size as it came over the wire (its
  // serialized bytes), for the pull budget (sync/budget.h); 0: not known.
  uint64_t wire_bytes = 0;
};

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_MESSAGES_H_
