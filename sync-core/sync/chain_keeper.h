// The node's side of commit chains in a pull (protocol version 3;
// docs/PROTOCOL.md, "Version 3: commit chains"; issue 11 point 3). Each
// message's entries are checked per author against the chain this laptop
// holds (sync/chain.h, AuthorChain): what continues it is applied, what
// follows a gap waits here (_fs_held, store/replica.h) while the rest of
// the pull goes on, and two entries that cannot both stand are kept as
// evidence and stop that author's entries only. What could not be checked
// (a commit without a header, from a laptop not upgraded yet) is counted.
// A body that does not verify here (KeyRing's verify: its signature, its
// author, a move of a record) is never applied nor offered to the chain,
// and every other author's entries go on (issue 13: no laptop stuck on one
// commit the hub relays). Its header's signature decides the rest: one its
// author did not make is the hub's (ChainEvidence::kRelayedUnverified, at
// most one unread an author; no gap, nothing released); one it made is a
// gap of that author, its later entries waiting here, asked for again
// (sync/refused_gaps.h) -- evidence against the hub only if the commit's
// own signature is not the author's.
#ifndef FIELDSYNC_SYNC_CHAIN_KEEPER_H_
#define FIELDSYNC_SYNC_CHAIN_KEEPER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clock/clock_source.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/messages.h"
#include "sync/report.h"

namespace fieldsync::sync {

class ChainKeeper {
 public:
  ChainKeeper(Replica& replica, KeyRing& keys, ClockSource& clock)
      : replica_(replica), keys_(keys), clock_(clock) {}

  // The head of every author tracked here, for PullRequest.chain_heads.
  absl::StatusOr<std::vector<std::pair<DeviceId, uint64_t>>> Heads();

  // Sorts one pull message's entries into `batch`: commits to apply (in
  // log order, with held ones the message releases) and its chain writes.
  // DATA_LOSS for an entry that cannot be read at all (the message is then
  // refused whole, as a malformed one always was).
  absl::Status Sort(std::vector<PulledEntry>& entries, PulledBatch* batch, ChainReport* report);

 private:
  Replica& replica_;
  KeyRing& keys_;
  ClockSource& clock_;
};

// Sets report->evidence (on record here) and report->unacknowledged (not
// yet marked read: fieldnode sync exits 5 while there is any).
absl::Status CountEvidence(Replica& replica, ChainReport* report);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_CHAIN_KEEPER_H_
