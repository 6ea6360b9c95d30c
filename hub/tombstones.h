// Tombstone collection: which deleted rows the hub may forget for good
// (docs/PROTOCOL.md, "Tombstone collection"), written once over the
// storage's writer view (hub/storage.h). A tombstone goes once it is old
// enough and every node able to see it acknowledged its delete; nodes
// revoked, removed by their office, or not seen for `stale_after_millis`
// do not hold it back (they re-bootstrap if they return). What went is
// remembered with the provinces that could see it, so that their nodes drop
// it too, or are rebuilt if they never received the delete.
#ifndef FIELDSYNC_HUB_TOMBSTONES_H_
#define FIELDSYNC_HUB_TOMBSTONES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hub/storage.h"
#include "hub/store.h"

namespace fieldsync::hub {

// Collects in one transaction of `hub` and audits it under `actor`.
// `nodes`: every enrolled node, as HubStore::Nodes() lists them. The report
// names the nodes the collection will cause to be rebuilt: away past the
// stale limit, able to see a row collected now whose delete they never
// pulled. `dry_run`: the same transaction rolled back (nothing changed,
// nothing audited), for `fieldhub gc --dry-run`.
absl::StatusOr<GcReport> CollectTombstonesIn(HubWriteTxn& hub, const std::vector<NodeInfo>& nodes,
                                             int64_t now_millis, int64_t min_age_millis,
                                             int64_t stale_after_millis, const std::string& actor,
                                             bool dry_run = false);

}  // namespace fieldsync::hub

#endif  // FIELDSYNC_HUB_TOMBSTONES_H_
