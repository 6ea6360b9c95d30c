// Gaps of commits refused here (protocol version 3; docs/PROTOCOL.md,
// "Version 3: commit chains"): a commit whose header its author signed
// (and which covers its body) but whose body this laptop does not verify
// now -- a move it cannot check yet (A->B->C in one message), an author
// it takes for removed, a commit signature damaged on the way. The commit
// is not applied and its seq is a gap of its author (sync/chain_keeper.h);
// this laptop asks the hub for it again (PullParams.chain_wants) with a
// backoff, so that a one-off fault heals without its author writing again
// (a retired laptop's commit arrives in the end).
//
// Kept as cursors, one pair an author (docs/FORMATS.md, `_fs_cursors`):
//   chain:refused:<author>         the highest seq refused here
//   chain:refused_passes:<author>  passes since it was refused
// The ask is made at the pass the gap is found (then the chain keeper
// has applied what the same message held before it), and after 1, 2, 4,
// ... 32 passes, then every 64th; both cursors are dropped once the
// author's chain passed the seq.
#ifndef FIELDSYNC_SYNC_REFUSED_GAPS_H_
#define FIELDSYNC_SYNC_REFUSED_GAPS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "store/replica.h"

namespace fieldsync::sync {

inline constexpr char kRefusedGapPrefix[] = "chain:refused:";
inline constexpr char kRefusedGapPassesPrefix[] = "chain:refused_passes:";
// Where the next cut window of chain wants starts (an index, wrapped).
inline constexpr char kChainWantsFromCursor[] = "chain:wants_from";
// After this many passes, one ask every this many.
inline constexpr int64_t kRefusedGapAskEvery = 64;

std::string RefusedGapCursor(const DeviceId& author);

// Author -> the highest seq refused here.
using RefusedGapMap = std::map<DeviceId, uint64_t>;

// The gaps on record: author -> the highest seq refused here.
absl::StatusOr<RefusedGapMap> RefusedGaps(Replica& replica);

// Whether the ask is due at a pass `passes` passes after the gap was found.
bool RefusedGapAskDue(int64_t passes);

// The gaps to ask for at this pass (author, up to seq), counting the pass
// for every gap still open; gaps the author's chain passed are dropped.
absl::StatusOr<std::vector<std::pair<DeviceId, uint64_t>>> RefusedGapsToAsk(Replica& replica);

// The chain wants of this pass (PullParams.chain_wants): the refused gaps
// due now (RefusedGapsToAsk) merged with `statement_wants`, at most `max`.
// With more than `max`, a window of `max` in DeviceId order that starts
// where the last cut one ended (cursor kChainWantsFromCursor), wrapping:
// every author is asked within ceil(n / max) such passes.
absl::StatusOr<std::vector<std::pair<DeviceId, uint64_t>>> ChainWantsThisPass(
    Replica& replica, const std::vector<std::pair<DeviceId, uint64_t>>& statement_wants,
    size_t max);

// Drops the gaps the author's chain passed (after the ask's pull).
absl::Status ForgetClosedRefusedGaps(Replica& replica);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_REFUSED_GAPS_H_
