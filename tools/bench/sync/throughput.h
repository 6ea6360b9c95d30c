// fieldsync-bench-sync's third phase, hub throughput: --nodes nodes, each
// of its own province, have written --node-commits commits each; all sync
// at once, one thread each. Commits accepted per second = all commits /
// time until the hub's log holds them all; also the time until every sync
// (push, then pull) has returned.
#ifndef FIELDSYNC_TOOLS_BENCH_SYNC_THROUGHPUT_H_
#define FIELDSYNC_TOOLS_BENCH_SYNC_THROUGHPUT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tools/bench/common/report.h"
#include "tools/bench/sync/hubs_nodes.h"
#include "tools/bench/sync/settings.h"

namespace fieldsync::bench_sync {

using bench::Sample;

struct ThroughputResults {
  int64_t nodes = 0;
  int64_t commits = 0;  // per run, all nodes
  Sample accepted_s;    // until the hub's log holds every commit
  Sample all_s;         // until every sync has returned
  Sample hub_cpu_s;     // CPU seconds of the hub, from the release to the last return
  int64_t hub_rss_kib = 0;
};

// Against a new hub of `mode` of its own, with the TLS material `pki`.
absl::StatusOr<ThroughputResults> Throughput(const Settings& s, const std::string& dir,
                                             const Mode& mode, const harness::Pki& pki);

}  // namespace fieldsync::bench_sync

#endif  // FIELDSYNC_TOOLS_BENCH_SYNC_THROUGHPUT_H_
