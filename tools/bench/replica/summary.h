// The closing tables of fieldsync-bench: the figures of every durability
// mode against the performance issue's targets, and what encryption,
// signatures and the key agent cost.
#ifndef FIELDSYNC_TOOLS_BENCH_REPLICA_SUMMARY_H_
#define FIELDSYNC_TOOLS_BENCH_REPLICA_SUMMARY_H_

#include <cstdint>
#include <vector>

#include "tools/bench/common/report.h"
#include "tools/bench/replica/settings.h"

namespace fieldsync::bench_replica {

using bench::Sample;

// The figures of one durability mode over every run.
struct ModeResults {
  const char* name = "";  // "full" / "normal"
  bool full = true;
  Sample local_tracked, local_raw;  // cases/s, rows/s
  Sample local_crypto;              // cases/s, signing and sealing on
  Sample local_agent;               // the same, signed through the key agent
  Sample crypto_cost;               // 1 - on/off, paired within each run
  Sample agent_cost;                // 1 - agent/local, paired within each run
  double cpu_off = 0, cpu_on = 0;   // CPU seconds of the local writes, summed over runs
  Sample merge_new, merge_new_all;  // declared field changes/s; with _live
  Sample raw_new;                   // field changes/s
  Sample merge_edit, raw_edit;      // field changes/s
  int64_t new_declared = 0, new_live = 0, edit_fields = 0;
};

void PrintSummary(const Settings& s, const std::vector<ModeResults>& modes);

}  // namespace fieldsync::bench_replica

#endif  // FIELDSYNC_TOOLS_BENCH_REPLICA_SUMMARY_H_
