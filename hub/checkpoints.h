// The hub's side of signed checkpoints (protocol version 3; docs/PROTOCOL.md,
// "Checkpoints"; issue 11 point 3): a member laptop of office P, caught up
// with nothing of its own unpushed or held, signs the Merkle root of every
// row it holds (a statement of kind 2, crypto/statement.h). If the hub's own
// rows of P's scope, at the statement's position, give the same root, the
// hub adopts it and keeps those rows as they are then; a new laptop of P is
// bootstrapped from them in pages, each with a proof it checks against the
// signed root (hub/pull_plan.cc), then from the log after that position.
//
// Nothing here is trusted by a laptop: it verifies the signature, that the
// signer is a member of its office by its own records, and every page. The
// hub's checks only keep it from adopting what would fail them.
#ifndef FIELDSYNC_HUB_CHECKPOINTS_H_
#define FIELDSYNC_HUB_CHECKPOINTS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/statement.h"
#include "hub/storage.h"
#include "hub/store.h"

namespace fieldsync::hub {

// The adopted checkpoints of a province the hub keeps (and their rows).
inline constexpr size_t kCheckpointsKept = 2;
// Adopting one scans the office's rows: not when the office's newest
// checkpoint is still current and has the same root (nothing changed since:
// taken as adopted), and not again within tuning::kCheckpointFailedRetryMillis
// of a laptop's last attempt that failed (the engine's count, hub/engine.h).

// Every row of `province`'s scope as the hub holds it now, in checkpoint
// order (tables in schema order, rows by id), with its state and leaf.
absl::StatusOr<std::vector<CheckpointRow>> ScopeState(HubReadTxn& hub, const std::string& province);

// Tries to adopt the checkpoint of `s` (kind 2, already checked as a
// statement of `node`, hub/statements.h), in the writer's transaction.
// `note` is "" once adopted (or adopted before, or the office's newest is
// current with the same root), else the one line why not: entries of the
// province's scope came after its position (the laptop tries again at a
// later pass), or the hub's rows differ from the laptop's (`scanned`: the
// office's rows were read for nothing).
struct AdoptAnswer {
  std::string note;
  bool scanned = false;
};
absl::StatusOr<AdoptAnswer> TryAdoptCheckpoint(HubWriteTxn& hub, const NodeInfo& node,
                                               const crypto::Statement& s,
                                               const std::string& bytes, int64_t now_millis);

// What a bootstrap from a checkpoint left the pull at: the checkpoint's
// position (the log continues after it) and the heads it states (the chains
// the node anchors there).
struct CheckpointServed {
  int64_t position = 0;
  std::vector<crypto::StatedHead> heads;
};

// Sends `node` its office's newest checkpoint, or continues the one
// `params` resumes while the hub holds it, in pages of at most
// params.max_batch rows and `limit()` bytes (StreamPull's size for the
// message under way, hub/pull_plan.h): the checkpoint's
// statement in the first message (with `reset` if it starts at the first
// row), then each page with its proof; the last page carries the
// checkpoint's position as the cursor. nullopt (nothing sent) if the
// province has no checkpoint usable now: none adopted, or tombstones
// collected since (epoch `gc_epoch` now).
absl::StatusOr<std::optional<CheckpointServed>> SendCheckpoint(
    HubReadTxn& hub, const NodeInfo& node, const PullParams& params, uint64_t gc_epoch,
    PullChunk& chunk, const std::function<absl::Status(PullChunk&)>& send,
    const std::function<size_t()>& limit);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_CHECKPOINTS_H_
