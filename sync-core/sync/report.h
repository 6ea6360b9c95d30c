// What one sync pass did, for the user and the daemon's log; and the
// cursors a node keeps of its sync with the hub.
#ifndef FIELDSYNC_SYNC_REPORT_H_
#define FIELDSYNC_SYNC_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "change/id.h"

namespace fieldsync::sync {

// The hub's answer to Hello, as the node reads it.
struct HelloInfo {
  DeviceId hub_id;
  int64_t hub_time_millis = 0;
  int64_t skew_millis = 0;  // this node's clock minus the hub's
  std::string province;
  int64_t log_head = 0;
  std::string enrol_challenge;  // for an enrolment proof; empty from an older hub
  int protocol_version = 2;     // agreed: the highest both speak
  int compact_headers = 0;      // the compact header form the hub reads (0: none)
  // Version 3, from a hub of the log chain: what it holds of this laptop's
  // own commits, acknowledged and accounted (set: held_known).
  bool held_known = false;
  uint64_t held_acknowledged = 0;
  uint64_t held_accounted = 0;
  // From a hub of session 18 on: how many key records this laptop signed
  // it holds, erasures left out (HelloResponse.own.key_records).
  std::optional<uint64_t> held_key_records;
  // HelloReply's: the proof version the hub checks, and the digest of the
  // certificate the Hello's connection showed (empty in process).
  int credential_proof = 0;
  std::string certificate_digest;
};

// What a pull found of the authors' commit chains (protocol version 3;
// sync/chain_keeper.h).
struct ChainReport {
  uint64_t placed = 0;       // entries placed on their author's chain
  uint64_t header_only = 0;  // of those, headers of commits outside this office's view
  uint64_t unchecked = 0;    // commits applied without a header (version 2 authors)
  uint64_t held = 0;         // entries waiting here after the pull
  uint64_t released = 0;     // held entries placed by this pull
  uint64_t new_evidence = 0; // evidence found by this pull (sync exits 5)
  uint64_t evidence = 0;     // evidence on record here after the pull
  uint64_t unacknowledged = 0;  // of it, not yet marked read (fieldnode trust ack; sync exits 5)
  uint64_t statements_received = 0;  // colleagues' and partners' statements kept
  bool statement_made = false;       // this laptop's own statement handed to the hub
  bool checkpoint_adopted = false;   // ... with a checkpoint the hub adopted
  // Rows newly visible (a case referred to this office) installed as the
  // hub served them: no signed commit showed every version they hold, or
  // one contradicted them (sync/row_witness.h). They decide no key.
  uint64_t rows_unvouched = 0;
  std::vector<std::string> problems;  // one line each, for the user and the log
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
  // Version 3: commits of this laptop the hub refused for good in this
  // pass, set aside (sync/set_aside.h), the first one's reason; work set
  // aside on this laptop not resolved yet, after the pass; withdrawal
  // entries pushed; why set-aside work could not be withdrawn yet.
  uint64_t set_aside = 0;
  int set_aside_code = 0;  // the first one's RefusalCode (sync/messages.h)
  std::string set_aside_reason;
  uint64_t set_aside_open = 0;
  uint64_t withdrawals_pushed = 0;
  std::string withdrawal_note;
  // Version 3, session 17: set-aside commits of this laptop the hub kept
  // stored under its withdrawal, written over by a new commit of this
  // laptop (Replica::SupersedeSetAside), in this pass.
  uint64_t withdrawals_superseded = 0;
  // Version 3: commits the hub refused as stamped by a clock ahead
  // (CLOCK_AHEAD), re-dated in this pass (sync/restamp.h) and sent; what is
  // said of it once, from this laptop's side, or why they still wait.
  uint64_t redated = 0;
  std::string redate_note;
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
  int protocol_version = 2;  // agreed with the hub at Hello
  // Set when the hub agreed a lower version than it once did with this
  // laptop (cursor hub:max_agreed), on a laptop that tracks commit chains:
  // the version it agreed before (sync/downgrade.h). 0: no downgrade.
  int downgraded_from = 0;
  // Version 3, the hub's log chain (docs/PROTOCOL.md, "A hub put back from
  // a backup"): the hub's log went back under this laptop's cursor, from
  // `went_back_from` to `went_back_to`, where this pass pulled again from;
  // and the hub held this laptop's own commits only up to `own_held_seq`
  // of the `own_sent_seq` it had acknowledged: the rest sent again.
  bool hub_went_back = false;
  int64_t went_back_from = 0;
  int64_t went_back_to = 0;
  bool own_resent = false;
  uint64_t own_held_seq = 0;
  uint64_t own_sent_seq = 0;
  // Headers of this laptop's commits the hub had refused, sent again as
  // the hub had them (never judged anew; sync/pusher.h).
  uint64_t own_refused_resent = 0;
  // Commits the hub once acknowledged stored, then, sent again, said it
  // refused (kHubAckedHighCursor): not set aside, said, sent again later.
  uint64_t refused_below_acknowledged = 0;
  // Other laptops' commits relayed to the hub that lost them (sync/relay.h),
  // and why a relay stopped (the hub's words).
  uint64_t relayed = 0;
  uint64_t relayed_key_records = 0;
  // Of those authors, refused headers and withdrawal entries relayed.
  uint64_t relayed_withdrawn = 0;
  std::vector<std::string> relay_notes;
  ChainReport chain;         // version 3
};

// Cursor names in the replica's _fs_cursors (docs/FORMATS.md).
inline constexpr char kPushedCursor[] = "hub:pushed";
// The highest seq of this laptop the hub ever acknowledged (kept when a hub
// that went back moves hub:pushed back): a commit at or under it the hub
// now refuses is not set aside on its word (docs/PROTOCOL.md, "A hub put
// back from a backup").
inline constexpr char kHubAckedHighCursor[] = "hub:acked_high";
// Wall time (Unix ms) of the last sync pass that completed (fieldnode status).
inline constexpr char kLastSyncCursor[] = "hub:last_sync_millis";
// The newest time the hub gave at a hello (Unix ms): a lower bound on
// today's date for a laptop whose clock is behind (node/ops/office.cc).
inline constexpr char kHubTimeSeenCursor[] = "hub:time_seen_millis";
inline constexpr char kPulledCursor[] = "hub:pulled";
// 1 once a bootstrap (the hub's current state) has been installed whole.
inline constexpr char kBootstrappedCursor[] = "hub:bootstrapped";
// The hub's tombstone-collection epoch at the last pull.
inline constexpr char kGcEpochCursor[] = "hub:gc_epoch";
// The id of the hub's collection that made that epoch (PullChunk.gc_id, its
// 64 bits as a signed integer; 0 or absent: none), set with it (session 26;
// docs/PROTOCOL.md, "A collection a restore cannot give again").
inline constexpr char kGcIdCursor[] = "hub:gc_id";
// 1 from the install of a checkpoint (which merges this laptop's own work
// after it again, deleted rows the hub collected included) until a pull
// asked with gc_epoch 0 caught up: until then every pull asks with 0, so
// that the hub lists every collected row of the office (attack review 23,
// LOW 2: a cut after the checkpoint lost the hub's one-time 0).
inline constexpr char kOwesPurgedCursor[] = "hub:owes_purged";
// How far the node holds the hub's key records.
inline constexpr char kKeyCursor[] = "hub:keys";
// The hub's mark of the record at the key cursor (hub/key_mark.h), its 64
// bits as a signed cursor; absent or 0: none. Set with the key cursor.
inline constexpr char kKeyMarkCursor[] = "hub:keys_mark";
// While a hub says it holds fewer of this laptop's key records than it
// acknowledged: 1 + the passes since they were first marked to be sent
// again (absent: none); they are marked again with a backoff
// (docs/PROTOCOL.md, "Key records lost alone").
inline constexpr char kKeysResentCursor[] = "hub:keys_resent_passes";
// The last of this node's chain entries the hub holds (protocol version 3):
// headers after it are sent as backfill.
inline constexpr char kChainAccountedCursor[] = "hub:chain_accounted";
// The highest protocol version the hub ever agreed at Hello (absent: never
// more than 2 recorded), and, while it agrees less than that, the version it
// agrees (0 otherwise): a downgrade (sync/downgrade.h).
inline constexpr char kMaxAgreedCursor[] = "hub:max_agreed";
inline constexpr char kDowngradedCursor[] = "hub:downgraded";
// The highest _fs_trust_evidence id an officer marked read (fieldnode trust
// ack): evidence after it makes fieldnode sync exit 5.
inline constexpr char kEvidenceReadCursor[] = "trust:read";

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_REPORT_H_
