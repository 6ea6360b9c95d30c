#include "sync/downgrade.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "sync/chain.h"

namespace fieldsync::sync {

std::string DowngradeLine(int from, int to) {
  return absl::StrCat(
      "the hub agreed protocol version ", from, " with this laptop before and says ", to,
      " now: it was upgraded and now claims not to be. At version ", to, " no commit header "
      "travels, so this laptop takes no commit of a colleague whose history it tracks until the "
      "hub speaks ", from, " again (this laptop's own work is still sent). A real version ", from,
      " hub goes back only if restored from an old backup: tell the hub administrator");
}

absl::StatusOr<bool> NoteAgreedVersion(Replica& replica, ClockSource& clock,
                                       const HelloInfo& hello, SyncReport* report) {
  FS_ASSIGN_OR_RETURN(int64_t max_agreed, replica.GetCursor(kMaxAgreedCursor));
  FS_ASSIGN_OR_RETURN(int64_t downgraded, replica.GetCursor(kDowngradedCursor));
  const int agreed = hello.protocol_version;
  if (agreed >= 3) {
    if (agreed > max_agreed) FS_RETURN_IF_ERROR(replica.SetCursor(kMaxAgreedCursor, agreed));
    if (downgraded != 0) FS_RETURN_IF_ERROR(replica.SetCursor(kDowngradedCursor, 0));
    return false;
  }
  // Below 3: quiet unless this laptop tracks chains. One that agreed 3
  // before this cursor existed has the chain heads of other authors.
  int64_t from = max_agreed;
  if (from < 3) {
    FS_ASSIGN_OR_RETURN(std::vector<ChainRow> heads, replica.ChainHeads());
    if (heads.empty()) return false;
    from = 3;
  }
  report->downgraded_from = static_cast<int>(from);
  if (downgraded == 0) {
    // The first pass of this downgrade: kept as evidence, once.
    TrustEvidence ev;
    ev.device = hello.hub_id;
    ev.kind = static_cast<int>(ChainEvidence::Kind::kHubDowngrade);
    ev.seq = static_cast<uint64_t>(agreed);
    ev.what = DowngradeLine(static_cast<int>(from), agreed);
    ev.found_at_millis = clock.NowMillis();
    FS_RETURN_IF_ERROR(replica.AddEvidence(
        ev, {{kMaxAgreedCursor, std::max<int64_t>(from, max_agreed)}, {kDowngradedCursor, agreed}}));
    ++report->chain.new_evidence;
  }
  return true;
}

}  // namespace fieldsync::sync
