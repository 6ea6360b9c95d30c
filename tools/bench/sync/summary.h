// The closing tables of fieldsync-bench-sync: the sync issue's figures
// against their targets in the product's mode, and, with both modes run,
// what encryption and signatures cost.
#ifndef FIELDSYNC_TOOLS_BENCH_SYNC_SUMMARY_H_
#define FIELDSYNC_TOOLS_BENCH_SYNC_SUMMARY_H_

#include <cstdint>
#include <vector>

#include "tools/bench/common/report.h"
#include "tools/bench/sync/hubs_nodes.h"
#include "tools/bench/sync/incremental.h"
#include "tools/bench/sync/initial.h"
#include "tools/bench/sync/settings.h"
#include "tools/bench/sync/throughput.h"

namespace fieldsync::bench_sync {

// Every phase's results, one entry per mode measured (the baseline first).
struct Results {
  std::vector<Mode> modes;
  std::vector<InitialResults> inits;
  Sample raw_rate;     // plain SQLite, rows/s
  Sample paired_cost;  // 1 - off/on of the initial sync, paired within each run
  std::vector<IncrementalResults> incs;
  std::vector<int64_t> hub_rss_whole;  // peak RSS over the life of each mode's hub
  std::vector<ThroughputResults> thrs;
};

void PrintSummary(const Settings& s, const Results& r);

}  // namespace fieldsync::bench_sync

#endif  // FIELDSYNC_TOOLS_BENCH_SYNC_SUMMARY_H_
