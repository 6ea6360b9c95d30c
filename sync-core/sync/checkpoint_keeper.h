// The node's side of signed checkpoints (protocol version 3;
// docs/PROTOCOL.md, "Checkpoints"; issue 11 point 3): rows installed whole
// are verified against a root that a member laptop of this office signed,
// not taken as the hub serves them.
//
// - Accept: a checkpoint the hub serves for this laptop's bootstrap is used
//   only if it is a statement of kind 2 of this laptop's office, signed with
//   the key pinned here for its signer, a member of the office by this
//   laptop's own membership records, and not made in the future.
// - VerifyPage: a page's rows are taken only if they are the next leaves
//   and the page's proof places them under the signed root.
// - Root: the root of this laptop's own rows, for its own checkpoint.
#ifndef FIELDSYNC_SYNC_CHECKPOINT_KEEPER_H_
#define FIELDSYNC_SYNC_CHECKPOINT_KEEPER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "clock/clock_source.h"
#include "crypto/merkle.h"
#include "crypto/statement.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/messages.h"
#include "sync/report.h"

namespace fieldsync::sync {

class CheckpointKeeper {
 public:
  CheckpointKeeper(Replica& replica, KeyRing& keys, ClockSource& clock)
      : replica_(replica), keys_(keys), clock_(clock) {}

  // A checkpoint this laptop may install from: `member` says whether its
  // signer is a member of the office by this laptop's records now (a new
  // laptop knows who is only once it joined: Confirm, later). PERMISSION_
  // DENIED (one line saying why) for one it must not install from at all;
  // INVALID_ARGUMENT for one it cannot read.
  struct Accepted {
    crypto::Statement statement;
    bool member = false;
  };
  // `lead`: this clock corrected by the hub's, as for pulled commits.
  absl::StatusOr<Accepted> Accept(std::string_view bytes, const ClockLead& lead = {});

  // For a replica bootstrapped from a checkpoint whose signer was not known
  // a member then: once this laptop knows its office's members, records
  // whether it is or not, in one transaction with what follows:
  // - a member: its rows count as signed (VersionSigned), and its heads
  //   become anchors. Entries received since the bootstrap were taken
  //   without them; each head is compared with them: one the hub skipped
  //   after a head is evidence of a withheld commit, one whose link
  //   contradicts a head evidence against the hub (or the signer), and
  //   nobody's signed work is held back for it;
  // - not a member: evidence, its rows are taken again from the hub at the
  //   next sync, unverified (hub:bootstrapped 0, hub:checkpoint_refused 1).
  // Lines for `problems` for each.
  absl::Status Confirm(std::vector<std::string>* problems);

  // The rows of `page`, if it belongs to checkpoint `id` (whose statement
  // is `ck`), starts at leaf `next`, stays within the leaf count, and its
  // proof places its rows under the signed root. DATA_LOSS otherwise (the
  // hub sent rows the checkpoint does not vouch for). A page whose proof is
  // a delta (page.proof_delta) is rebuilt whole from `kept`, the proof state
  // at `next` (none: refused), and verified the same way. With the rows,
  // the proof state after the page (crypto/merkle.h, KeptProofAfter), to
  // keep with them.
  struct VerifiedPage {
    std::vector<RowSnapshot> rows;
    crypto::KeptProof kept;
  };
  static absl::StatusOr<VerifiedPage> VerifyPage(const crypto::Statement& ck, std::string_view id,
                                                 uint32_t next, const CheckpointPage& page,
                                                 const std::optional<crypto::KeptProof>& kept);

  // The leaf count and root of this laptop's rows as they are.
  absl::StatusOr<std::pair<uint32_t, std::string>> Root();

 private:
  // The heads of `s` (a member's checkpoint, `statement_bytes`) as anchors,
  // judged against what this laptop's chains received meanwhile (Confirm).
  absl::Status PlaceAnchors(const crypto::Statement& s, const std::string& statement_bytes,
                            ChainWrites* chain, std::vector<std::string>* lines);

  Replica& replica_;
  KeyRing& keys_;
  ClockSource& clock_;
};

// Whether this pass may end with a checkpoint: it ended caught up at the
// hub's head (`report`), bootstrapped, with nothing of this laptop's own
// unpushed and nothing held, and the hub adopted none of this laptop's in
// `interval_millis` (or the log moved tuning::kCheckpointPositions past the
// last adopted), nor was one tried within tuning::kCheckpointRetryMillis
// (or the interval, if shorter).
//
// Never from a laptop that is not (yet) a member of its office by its own
// records (a new laptop judges a checkpoint's signer against them once it
// joined), nor at the pass that bootstrapped it (its rows came from the
// office's checkpoint and the log after it).
absl::StatusOr<bool> CheckpointDue(Replica& replica, KeyRing& keys, const SyncReport& report,
                                   int64_t now_millis, int64_t interval_millis);

// Cursor names (docs/FORMATS.md): when this laptop's last checkpoint was
// adopted by the hub, and last tried (Unix ms); 1 once a checkpoint or page
// the hub served failed verification (later bootstraps take the current
// state unverified, which decides no key).
inline constexpr char kCheckpointMadeCursor[] = "hub:checkpoint_made";
inline constexpr char kCheckpointTriedCursor[] = "hub:checkpoint_tried";
inline constexpr char kCheckpointPositionCursor[] = "hub:checkpoint_position";
inline constexpr char kCheckpointRefusedCursor[] = "hub:checkpoint_refused";

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_CHECKPOINT_KEEPER_H_
