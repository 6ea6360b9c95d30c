// The hubs and nodes of fieldsync-bench-sync: the two modes it measures
// (crypto on, and off with fieldsync-bench-hub), starting a hub in a mode,
// enrolling and syncing nodes with the hub's log quoted on failure, and what
// the nodes write.
#ifndef FIELDSYNC_TOOLS_BENCH_SYNC_HUBS_NODES_H_
#define FIELDSYNC_TOOLS_BENCH_SYNC_HUBS_NODES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "change/id.h"
#include "node/client.h"
#include "store/replica.h"
#include "tools/lib/sync_harness.h"

namespace fieldsync::bench_sync {

using harness::HubProcess;
using harness::LocalNode;

// Provinces: the initial-sync cases, the incremental phase (another province,
// so that its nodes do not bootstrap the initial-sync cases too), and the
// hub-throughput nodes (AAA, AAB, ...).
inline constexpr char kSeedProvince[] = "LC";
inline constexpr char kEditProvince[] = "HG";

// Commits per Replica::WriteMany when the nodes write their cases.
inline constexpr size_t kWriteBatch = 1000;


// A configuration the benchmark runs in: with encryption and signatures (the
// product: a normal hub, nodes that sign every commit and seal every
// sensitive field), or without them (the baseline of their cost: a hub
// serving --benchmark-without-crypto, which accepts unsigned commits and
// sensitive fields in clear, and nodes that neither sign nor seal).
struct Mode {
  bool crypto = true;
  const char* name() const { return crypto ? "crypto on" : "crypto off"; }
  // Suffix of the directories of this mode's hubs and nodes.
  const char* tag() const { return crypto ? "" : "-nocrypto"; }
};

// Starts `hub` as `mode` wants it: fieldhub, or fieldsync-bench-hub serving
// --benchmark-without-crypto. `doing` names it in an error.
absl::Status StartHub(HubProcess& hub, const Mode& mode, std::string_view doing);

// `s` with what was being done in front of its message (the harness's
// errors from administrator commands carry only their stderr, which may be
// empty).
absl::Status Context(const absl::Status& s, std::string_view doing);

// The last lines of the hub's log, to explain a failed sync (the directory
// is usually removed at exit).
std::string HubLogNote(const HubProcess& hub);

// n.Sync(), its error prefixed by `what` and followed by HubLogNote.
absl::StatusOr<node::SyncReport> SyncNode(LocalNode& n, const HubProcess& hub,
                                          std::string_view what);

// A new node in `node_dir`, made and enrolled (with the hub at `address`,
// for kSeedProvince) as a person would: `fieldnode init`, `fieldnode enroll`.
absl::Status MakeFreshNode(const std::string& node_dir, const HubProcess& hub,
                           const std::string& address);

// Creates the cases ids[k] (case number first + k, the full profile) in
// `r`, one commit each, kWriteBatch commits per WriteMany. Returns the wall
// seconds, building the input included (a side figure; fieldsync-bench
// measures local writes).
absl::StatusOr<double> WriteCases(Replica& r, const std::vector<RowId>& ids, int64_t first,
                                  const std::string& province);

// One shared directory entry, so that the hub's log is not empty when the
// nodes first sync: each first sync then leaves the node's pull cursor past
// 0, and the measured syncs never bootstrap again.
absl::Status WriteOrganisation(Replica& r, const std::string& name);

}  // namespace fieldsync::bench_sync

#endif  // FIELDSYNC_TOOLS_BENCH_SYNC_HUBS_NODES_H_
