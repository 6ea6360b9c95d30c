// A hub that agreed protocol version 3 with this laptop once and now agrees
// less (docs/PROTOCOL.md, "A hub that goes back to version 2"). At version 2
// no header travels: without this, every chain check of the pull would be
// off without a word. The laptop keeps the highest version its hub agreed
// (cursor hub:max_agreed); a laptop that tracks commit chains (that cursor
// at 3, or chain heads of other authors in _fs_chain) and hears less is
// downgraded: the pass reports it (SyncReport::downgraded_from), the first
// pass of each downgrade records trust evidence of kind kHubDowngrade (sync
// exits 5 until an officer marks it read), the push goes on, and the pull
// applies no header-less commit of a tracked author past its chain's head
// (sync/chain_keeper.h). A laptop that never agreed 3 stays quiet.
#ifndef FIELDSYNC_SYNC_DOWNGRADE_H_
#define FIELDSYNC_SYNC_DOWNGRADE_H_

#include <string>

#include "absl/status/statusor.h"
#include "clock/clock_source.h"
#include "store/replica.h"
#include "sync/report.h"

namespace fieldsync::sync {

// Notes the version `hello` agreed; true if the pass is downgraded (then
// `report` says so, and holds the evidence this call recorded, if any).
absl::StatusOr<bool> NoteAgreedVersion(Replica& replica, ClockSource& clock,
                                       const HelloInfo& hello, SyncReport* report);

// The line that says it, for the pass's report and fieldnode status.
std::string DowngradeLine(int from, int to);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_DOWNGRADE_H_
