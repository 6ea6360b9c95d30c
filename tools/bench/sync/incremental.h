// fieldsync-bench-sync's second phase, incremental sync: node A edits one
// field of --edits cases and syncs (its push), node B syncs (its pull),
// each through a byte-counting proxy of its own: the time of the two syncs,
// and the bytes on the wire per edit.
#ifndef FIELDSYNC_TOOLS_BENCH_SYNC_INCREMENTAL_H_
#define FIELDSYNC_TOOLS_BENCH_SYNC_INCREMENTAL_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tools/bench/common/report.h"
#include "tools/bench/sync/hubs_nodes.h"
#include "tools/bench/sync/settings.h"

namespace fieldsync::bench_sync {

using bench::Sample;

// The field the incremental phase edits; each new value has this many bytes.
inline constexpr char kEditColumn[] = "assigned_officer";
inline constexpr size_t kEditValueBytes = 12;

struct IncrementalResults {
  int64_t edits = 0;
  Sample push_s;          // A's sync
  Sample pull_s;          // B's sync
  Sample bytes_per_edit;  // both proxies, both directions
  // The last run's bytes, by node and direction.
  uint64_t a_up = 0, a_down = 0, b_up = 0, b_down = 0;
  int new_connections = 0;  // over all runs
};

absl::StatusOr<IncrementalResults> Incremental(const Settings& s, const std::string& dir,
                                               const Mode& mode, HubProcess& hub);

}  // namespace fieldsync::bench_sync

#endif  // FIELDSYNC_TOOLS_BENCH_SYNC_INCREMENTAL_H_
