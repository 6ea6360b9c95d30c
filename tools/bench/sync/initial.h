// fieldsync-bench-sync's first phase, initial sync: a seed node writes and
// pushes the cases; then, run by run and mode by mode, a new node made with
// `fieldnode init` and `enroll` runs `fieldnode sync` as a process and
// bootstraps them (its wall time, peak RSS and CPU, and the hub's), beside
// plain SQLite inserting the same rows; and once, the bytes a bootstrap
// puts on the wire.
#ifndef FIELDSYNC_TOOLS_BENCH_SYNC_INITIAL_H_
#define FIELDSYNC_TOOLS_BENCH_SYNC_INITIAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "change/id.h"
#include "tools/bench/common/report.h"
#include "tools/bench/sync/hubs_nodes.h"
#include "tools/bench/sync/settings.h"

namespace fieldsync::bench_sync {

using bench::Sample;

struct InitialResults {
  int64_t cases = 0;
  double seed_write_s = 0;
  double seed_push_s = 0;
  int64_t hub_rss_after_push_kib = 0;  // VmHWM of the hub up to the end of the seed push
  Sample rate;             // cases/s, `fieldnode sync` process wall time
  Sample rate_in_process;  // cases/s, the sync call as `fieldnode sync` times it
  Sample node_cpu_s;       // CPU seconds of the `fieldnode sync` process
  Sample hub_cpu_s;        // CPU seconds of the hub during it
  int64_t node_rss_kib = 0;  // highest over runs
  int64_t hub_rss_kib = 0;   // highest over runs
  bool hub_rss_reset = true;  // VmHWM was reset before each initial sync
  // What the new node holds after its sync (the last run): the replica's
  // files, the fields of a case stored sealed, the data key records (kind 5)
  // it received.
  int64_t replica_bytes = 0;
  int sealed_per_case = 0;
  int64_t data_key_records = 0;
  // Bytes of one bootstrap on the wire (through a proxy, not timed): from the
  // hub, and to it.
  uint64_t wire_down = 0, wire_up = 0;
  // The seed's cases and state, for the new node's checks.
  std::vector<RowId> ids;
  std::string seed_digest;
};

// Initial sync in every mode, against each mode's own hub: the seeds first,
// then --repeat runs of a new node's sync in each mode (the modes alternate
// which goes first from run to run, so that a drift of the machine's speed
// does not fall on one mode only), and plain SQLite once a run.
absl::Status InitialSync(const Settings& s, const std::string& dir,
                         const std::vector<Mode>& modes, const std::vector<HubProcess*>& hubs,
                         std::vector<InitialResults>& res, Sample& raw_rate,
                         Sample& paired_cost);

}  // namespace fieldsync::bench_sync

#endif  // FIELDSYNC_TOOLS_BENCH_SYNC_INITIAL_H_
