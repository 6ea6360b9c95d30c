// Set-aside work on the node (protocol version 3; docs/PROTOCOL.md,
// "Refusals per commit and set-aside work"; issue 13, story 5). A commit the
// hub refuses for good (PushOutcome.refusals) is acknowledged all the same:
// the pusher never sends it again, and every later commit still goes. It is
// recorded here (_fs_set_aside) with why, so that the officer sees it and
// resolves it (fieldnode set-aside list | discard). Until then the hub
// relays its header alone (a refused commit's, which colleagues' chain
// checks place without its body: no gap, no evidence) and counts it in
// fieldhub node list; once resolved, a signed withdrawal entry of this
// laptop's chain passes over it for good (docs/PROTOCOL-v3.md, section 2).
#ifndef FIELDSYNC_SYNC_SET_ASIDE_H_
#define FIELDSYNC_SYNC_SET_ASIDE_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/replica.h"
#include "sync/messages.h"
#include "sync/report.h"

namespace fieldsync::sync {

// A DEPENDS_ON_REFUSED claim doubted at this many passes in a row, for the
// same seq, is set aside all the same (cursors: the seq, how many times).
inline constexpr int64_t kDoubtsBeforeSetAside = 2;
inline constexpr char kDoubtedSeqCursor[] = "hub:doubted_seq";
inline constexpr char kDoubtedTimesCursor[] = "hub:doubted_times";

// A DEPENDS_ON_REFUSED is the hub's word: a hub could name a false
// dependency so that a commit it stored (or would store) is set aside and
// waits for the officer. Believed only if this laptop's own data makes it
// real: the commit writes or names (a reference) a row that a refused
// commit before it wrote (one
// of `refusals` believed so far, or work set aside earlier and not
// re-dated). `sent`: the commits of the push (at least those `refusals`
// name), `refusals` in seq order. The refusals from the first one not
// believed on are dropped (the pusher sends that commit again: the hub names
// the later ones again); its seq is returned with why in `doubt` (0: all
// believed). The same seq doubted a third pass in a row is believed: the
// officer then sees the hub's words, and the laptop's later work goes on.
absl::StatusOr<uint64_t> CheckDependencies(Replica& replica, const std::vector<Commit>& sent,
                                           std::vector<CommitRefusal>* refusals,
                                           std::string* doubt);

// A refusal of a commit the hub had acknowledged stored before it said it
// lost this laptop's commits (at or under `hub:acked_high`,
// kHubAckedHighCursor): at how many passes in a row, one cursor a seq
// (kRefusedAckedPrefix + seq; since session 16). Session 15 kept one pair
// (the last such seq, how many times), read still for that seq.
inline constexpr char kRefusedAckedPrefix[] = "hub:refused_acked:";
inline constexpr char kRefusedAckedSeqCursor[] = "hub:refused_acked_seq";
inline constexpr char kRefusedAckedTimesCursor[] = "hub:refused_acked_times";
std::string RefusedAckedCursor(uint64_t seq);

// Whether the hub's refusal `f` of this laptop's commit `c`, which the hub
// had acknowledged stored (its seq at or under `acked_high`), is believed
// now. A hub that lies about what it lost must not get work set aside on
// its word: not at the first kDoubtsBeforeSetAside passes that refuse that
// seq in a row (the commit and those after it go again). But an honest hub
// put back from a backup may refuse it for good (its record collected
// since): at the next pass it is believed, so that the laptop is never held
// back for good. Then `f->reason` says the hub had acknowledged it (what
// the officer reads before resolving it: it may have reached colleagues),
// and trust evidence is kept once (ChainEvidence::kHubRefusedAcknowledged:
// `hub`, the seq, the commit's signed header). Call it once a pass a seq;
// every such seq one push names is counted, each on its own (attack review
// 66, MEDIUM 3: one count for one seq at a time cost three passes a commit).
absl::StatusOr<bool> BelieveRefusalOfAcknowledged(Replica& replica, const DeviceId& hub,
                                                  const Commit& c, int64_t acked_high,
                                                  CommitRefusal* f, SyncReport* report);

// The hub acknowledged this laptop's commits `first`..`last` but `refused`:
// their counts of refusals in a row (BelieveRefusalOfAcknowledged) start
// again (their cursors deleted, as every count at 0; SetAsideRefused deletes
// the counts of the seqs it sets aside).
absl::Status ForgetRefusalsOfAcknowledged(Replica& replica, uint64_t first, uint64_t last,
                                          const std::set<uint64_t>& refused);

// A COLLEAGUE_REFUSED refusal of `c` keeps only what `c` names: the
// colleagues' versions it names as a base or as resolved (never_coming),
// and the authors of those (never_after); the rest of a hub's list is
// dropped, never kept with the set-aside row (attack review 27, LOW 4).
void KeepWhatTheCommitNames(const Commit& c, CommitRefusal* f);

// Records the commits among `refusals` as set aside (a withdrawal not
// taken is not one: the pusher reports it), counted in `report`.
absl::Status SetAsideRefused(Replica& replica, const std::vector<CommitRefusal>& refusals,
                             SyncReport* report);

// Writes a withdrawal of the resolved set-aside seqs none passes over yet (the
// pusher then pushes it). True if one was written; false if there was
// nothing to withdraw, or it cannot be signed now (a locked keystore: said
// in report->withdrawal_note, the next unlocked pass writes it). Counts the
// work still set aside in report->set_aside_open.
absl::StatusOr<bool> WithdrawSetAside(Replica& replica, SyncReport* report);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_SET_ASIDE_H_
