// The hub's side of commit chains (protocol version 3; docs/PROTOCOL.md,
// "Version 3: commit chains"): each device's signed commit headers are
// checked as they are pushed and stored beside the log (hub_chain), so
// that the hub relays every device's chain as the device signed it and
// accepts no second entry for a sequence number.
//
// - Stateless, before the push's transaction (CheckPushedHeader): the
//   header is well formed, signed by the pushing device's registered key,
//   and covers the commit's body (author, seq, clock, changes, rows).
// - Against the stored chain, inside it (ChainAdmission): a header
//   continues the device's head (its prev link is the head's link); a
//   commit without one is taken only from a device whose chain has not
//   begun (written before it was upgraded); headers of commits stored
//   without one come first (backfill), each against the stored body.
// - A commit refused for good in a version 3 push (hub/commit_refusals.h)
//   keeps its entry, without a log position (RecordRefused), so the
//   device's chain goes on past it; the device may then withdraw it
//   (Withdraw: a signed withdrawal entry passing over refused seqs only).
// A push that breaks a rule stores nothing, as every other refusal.
#ifndef FIELDSYNC_HUB_CHAIN_ADMISSION_H_
#define FIELDSYNC_HUB_CHAIN_ADMISSION_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/commit.h"
#include "hub/storage.h"
#include "hub/store.h"
#include "merge/commit_merge.h"
#include "sync/messages.h"

namespace fieldsync::hub {

// UNAUTHENTICATED unless `c.header` is a well formed commit header signed
// by `node`'s key that covers `c`; INVALID_ARGUMENT if it is malformed.
// A commit without a header passes (ChainAdmission decides).
absl::Status CheckPushedHeader(const NodeInfo& node, const Commit& c);

class ChainAdmission {
 public:
  // Reads `node`'s chain head in `hub` (the push's write transaction).
  static absl::StatusOr<ChainAdmission> Begin(HubWriteTxn& hub, const NodeInfo& node);

  // Headers of `node`'s commits the hub stored without one, oldest first:
  // each continues the head, is signed by the node and covers the stored
  // body. INVALID_ARGUMENT or UNAUTHENTICATED otherwise.
  absl::Status Backfill(HubWriteTxn& hub, const std::vector<sync::ChainEntryBytes>& entries);
  // The same for pushed commits the hub stored without a header at an
  // earlier push whose answer was lost, sent again with their headers (the
  // author's chain begun since): those next after the head, in seq order,
  // while the hub holds their bodies.
  absl::Status BackfillStored(HubWriteTxn& hub, const std::vector<Commit>& commits);

  // Just before `c` (checked by CheckPushedHeader) is merged.
  // FAILED_PRECONDITION if it does not continue the chain.
  absl::Status Check(const Commit& c) const;
  // Just after `c` was merged at `position`: its entry is stored.
  absl::Status Record(HubWriteTxn& hub, const Commit& c, int64_t position);
  // `c` (checked by Check) refused for good with `code`: its entry is
  // stored with position -code (no commit in the log).
  absl::Status RecordRefused(HubWriteTxn& hub, const Commit& c, sync::RefusalCode code);

  // A withdrawal entry of the node (PushRequest.withdrawals): well formed,
  // signed by the node, continuing its chain at the hub, each range before
  // it naming the links the hub holds around it and passing over commits
  // the hub refused and that were not withdrawn already. Then stored
  // (position 0), the refused entries marked withdrawn, and `rows`' held
  // seq of the node moved to it. A commit the hub stored within a range
  // stays stored: one refusal WITHDRAWN_STORED each (depends_on: its seq),
  // the withdrawal stored all the same (held already: the same refusals
  // again). A stored commit without a header in a range: one refusal
  // WITHDRAWN_STORED with depends_on 0, nothing stored (not taken).
  // INVALID_ARGUMENT, UNAUTHENTICATED or FAILED_PRECONDITION for the rest.
  absl::StatusOr<std::vector<sync::CommitRefusal>> Withdraw(HubWriteTxn& hub, MergeStore& rows,
                                                            const sync::ChainEntryBytes& e);

  // A header of the node's the hub refused before it went back, sent again
  // as the hub had it (PushRequest.refused; docs/PROTOCOL.md, "A hub put
  // back from a backup"): well formed, signed by the node, not a
  // withdrawal, continuing its chain at the hub. Stored refused (position
  // -code; REFUSAL_RELAYED for a code that is not a refusal's), never
  // judged as a commit, and `rows`' held seq of the node moved to it. Held
  // already: the same entry only. `relayed`: it must carry the author's
  // signed withdrawal passing over it (the relayer's word alone would let
  // it turn a colleague's stored commit into a refused one).
  absl::Status ResendRefused(HubWriteTxn& hub, MergeStore& rows, const sync::RefusedEntryBytes& e,
                             bool relayed);

  const ChainPoint& head() const { return head_; }

 private:
  ChainAdmission(NodeInfo node, ChainPoint head) : node_(std::move(node)), head_(std::move(head)) {}
  NodeInfo node_;
  ChainPoint head_;
};

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_CHAIN_ADMISSION_H_
