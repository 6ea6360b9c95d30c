#include "tools/bench/sync/summary.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"

namespace fieldsync::bench_sync {
namespace {

using bench::Fixed;
using bench::MB;
using bench::Percent;
using bench::PrintTable;
using bench::Rate;
using bench::RateRange;
using bench::TableRow;

// Targets of the sync issue (MB = 10^6 bytes).
constexpr double kTargetCasesPerSec = 50000;
constexpr double kTargetNodeRssMB = 150;
constexpr double kTargetHubRssMB = 250;
constexpr double kTargetBytesBeyondValue = 200;
// The encryption issue's: encryption and signatures cost at most this share
// of initial-sync throughput.
constexpr double kTargetCryptoCost = 0.15;
// The reference: PouchDB replicating the same documents over
// loopback HTTP on this machine.
constexpr double kPouchDocsPerSec = 4300;
constexpr double kPouchBytesPerEdit = 1300;

}  // namespace

void PrintSummary(const Settings& s, const Results& r) {
  const std::vector<Mode>& modes = r.modes;
  const std::vector<InitialResults>& inits = r.inits;
  const Sample& raw_rate = r.raw_rate;
  const Sample& paired_cost = r.paired_cost;
  const std::vector<IncrementalResults>& incs = r.incs;
  const std::vector<int64_t>& hub_rss_whole = r.hub_rss_whole;
  const std::vector<ThroughputResults>& thrs = r.thrs;
  // Summary of the figures of the sync issue, in the product's mode (crypto
  // on) unless only the baseline was run.
  const size_t p = modes.size() - 1;
  const InitialResults& init = inits[p];
  const IncrementalResults& inc = incs[p];
  const ThroughputResults& thr = thrs[p];
  std::printf("Summary, %s (%d run%s%s; MB = 10^6 bytes)\n", modes[p].name(), s.repeat,
              s.repeat > 1 ? "s" : "",
              s.repeat > 1 ? ", median; min-max in brackets; peaks are the highest" : "");
  std::vector<TableRow> rows;
  auto yes = [](bool met) { return met ? "yes" : "NO"; };
  const double rate = init.rate.Median();
  rows.push_back(TableRow{absl::StrCat("initial sync of ", Rate(static_cast<double>(init.cases)),
                                       " cases, cases/s"),
                          RateRange(init.rate), RateRange(raw_rate),
                          Percent(rate / raw_rate.Median()),
                          absl::StrCat(">= ", Rate(kTargetCasesPerSec)),
                          yes(rate >= kTargetCasesPerSec)});
  rows.push_back(TableRow{"  node peak RSS (fieldnode sync)",
                          absl::StrCat(Fixed(MB(init.node_rss_kib), 1), " MB"), "", "",
                          absl::StrCat("< ", Rate(kTargetNodeRssMB), " MB"),
                          yes(MB(init.node_rss_kib) < kTargetNodeRssMB)});
  rows.push_back(TableRow{absl::StrCat("  hub peak RSS during it",
                                       init.hub_rss_reset ? "" : " (whole life)"),
                          absl::StrCat(Fixed(MB(init.hub_rss_kib), 1), " MB"), "", "",
                          absl::StrCat("< ", Rate(kTargetHubRssMB), " MB"),
                          yes(MB(init.hub_rss_kib) < kTargetHubRssMB)});
  const double per_edit = inc.bytes_per_edit.Median();
  const double beyond = per_edit - static_cast<double>(kEditValueBytes);
  rows.push_back(TableRow{absl::StrCat("incremental, ", Rate(static_cast<double>(inc.edits)),
                                       " edits: wire bytes/edit"),
                          Fixed(per_edit, 1), "", "", "-", "-"});
  rows.push_back(TableRow{absl::StrCat("  beyond the ", kEditValueBytes, "-byte new value"),
                          Fixed(beyond, 1), "", "",
                          absl::StrCat("< ", Rate(kTargetBytesBeyondValue)),
                          yes(beyond < kTargetBytesBeyondValue)});
  rows.push_back(TableRow{"  push (A's sync) + pull (B's sync), s",
                          absl::StrCat(Fixed(inc.push_s.Median(), 3), " + ",
                                       Fixed(inc.pull_s.Median(), 3)),
                          "", "", "-", "-"});
  rows.push_back(TableRow{absl::StrCat("hub, ", thr.nodes, " nodes at once: commits accepted/s"),
                          Rate(static_cast<double>(thr.commits) / thr.accepted_s.Median()), "",
                          "", "-", "-"});
  rows.push_back(TableRow{"  commits/s until every sync returned",
                          Rate(static_cast<double>(thr.commits) / thr.all_s.Median()), "", "",
                          "-", "-"});
  rows.push_back(TableRow{"  hub peak RSS (that hub's whole life)",
                          absl::StrCat(Fixed(MB(thr.hub_rss_kib), 1), " MB"), "", "", "-", "-"});
  PrintTable(rows);
  std::printf(
      "\nTargets (sync issue): initial sync >= %s cases/s, node peak RSS < %s MB, hub < %s MB;\n"
      "incremental < %s bytes per edit beyond the new value. Ratio = fieldsync / plain SQLite\n"
      "inserting the same rows in one transaction. Reference from the issue: PouchDB over\n"
      "loopback HTTP here, about %s documents/s initial and %s bytes per one-field edit.\n",
      Rate(kTargetCasesPerSec).c_str(), Rate(kTargetNodeRssMB).c_str(),
      Rate(kTargetHubRssMB).c_str(), Rate(kTargetBytesBeyondValue).c_str(),
      Rate(kPouchDocsPerSec).c_str(), Rate(kPouchBytesPerEdit).c_str());
  std::printf(
      "Side figures: seed node local writes %s cases/s, its push %s commits/s (hub peak RSS\n"
      "%s MB by then, %s MB over the hub's life); wire bytes of the last incremental run: A up\n"
      "%s down %s, B up %s down %s.\n",
      Rate(static_cast<double>(init.cases) / init.seed_write_s).c_str(),
      Rate(static_cast<double>(init.cases) / init.seed_push_s).c_str(),
      Fixed(MB(init.hub_rss_after_push_kib), 1).c_str(), Fixed(MB(hub_rss_whole[p]), 1).c_str(),
      Rate(static_cast<double>(inc.a_up)).c_str(), Rate(static_cast<double>(inc.a_down)).c_str(),
      Rate(static_cast<double>(inc.b_up)).c_str(), Rate(static_cast<double>(inc.b_down)).c_str());
  if (!init.hub_rss_reset) {
    std::printf("(The kernel refused to reset the hub's VmHWM: its peak RSS covers the seed's "
                "push too.)\n");
  }
  if (modes.size() < 2) return;

  // Both modes side by side: what encryption and signatures cost.
  const InitialResults& i0 = inits[0];
  const InitialResults& i1 = inits[1];
  const double n = static_cast<double>(i0.cases);
  auto cost = [](double off, double on) { return Percent(1 - on / off); };
  auto more = [](double off, double on, int decimals) {
    return absl::StrCat(on >= off ? "+" : "", Fixed(on - off, decimals));
  };
  std::printf("\nEncryption and signatures (issue 4): the same phases with crypto off (a hub "
              "serving\n--benchmark-without-crypto, nodes that neither sign nor seal) and on, in "
              "this run\n");
  std::vector<TableRow> c;
  const double init_cost = 1 - i1.rate.Median() / i0.rate.Median();
  c.push_back(TableRow{absl::StrCat("initial sync of ", Rate(n), " cases, cases/s"),
                       RateRange(i0.rate), RateRange(i1.rate), Percent(init_cost),
                       absl::StrCat("<= ", Percent(kTargetCryptoCost)),
                       yes(init_cost <= kTargetCryptoCost)});
  if (paired_cost.values.size() > 1) {
    c.push_back(TableRow{"  cost paired within each run", "", "",
                         absl::StrCat(Percent(paired_cost.Median()), " (",
                                      Percent(paired_cost.Min()), "-",
                                      Percent(paired_cost.Max()), ")"),
                         "", ""});
  }
  c.push_back(TableRow{"  as fieldnode times its sync, cases/s", Rate(i0.rate_in_process.Median()),
                       Rate(i1.rate_in_process.Median()),
                       cost(i0.rate_in_process.Median(), i1.rate_in_process.Median()), "", ""});
  c.push_back(TableRow{"  node CPU per case, us", Fixed(1e6 * i0.node_cpu_s.Median() / n, 1),
                       Fixed(1e6 * i1.node_cpu_s.Median() / n, 1),
                       more(1e6 * i0.node_cpu_s.Median() / n, 1e6 * i1.node_cpu_s.Median() / n, 1),
                       "", ""});
  c.push_back(TableRow{"  hub CPU per case, us", Fixed(1e6 * i0.hub_cpu_s.Median() / n, 1),
                       Fixed(1e6 * i1.hub_cpu_s.Median() / n, 1),
                       more(1e6 * i0.hub_cpu_s.Median() / n, 1e6 * i1.hub_cpu_s.Median() / n, 1),
                       "", ""});
  c.push_back(TableRow{"  node peak RSS, MB", Fixed(MB(i0.node_rss_kib), 1),
                       Fixed(MB(i1.node_rss_kib), 1),
                       more(MB(i0.node_rss_kib), MB(i1.node_rss_kib), 1), "", ""});
  c.push_back(TableRow{"  hub peak RSS during it, MB", Fixed(MB(i0.hub_rss_kib), 1),
                       Fixed(MB(i1.hub_rss_kib), 1),
                       more(MB(i0.hub_rss_kib), MB(i1.hub_rss_kib), 1), "", ""});
  c.push_back(TableRow{"  new node's replica, bytes per case",
                       Rate(static_cast<double>(i0.replica_bytes) / n),
                       Rate(static_cast<double>(i1.replica_bytes) / n),
                       more(static_cast<double>(i0.replica_bytes) / n,
                            static_cast<double>(i1.replica_bytes) / n, 0),
                       "", ""});
  c.push_back(TableRow{"  bootstrap on the wire, bytes per case",
                       Rate(static_cast<double>(i0.wire_down + i0.wire_up) / n),
                       Rate(static_cast<double>(i1.wire_down + i1.wire_up) / n),
                       more(static_cast<double>(i0.wire_down + i0.wire_up) / n,
                            static_cast<double>(i1.wire_down + i1.wire_up) / n, 0),
                       "", ""});
  c.push_back(TableRow{"  data key records received (kind 5)",
                       Rate(static_cast<double>(i0.data_key_records)),
                       Rate(static_cast<double>(i1.data_key_records)), "", "", ""});
  c.push_back(TableRow{"seed node local writes, cases/s", Rate(n / i0.seed_write_s),
                       Rate(n / i1.seed_write_s), cost(n / i0.seed_write_s, n / i1.seed_write_s),
                       "", ""});
  c.push_back(TableRow{"seed node push, commits/s", Rate(n / i0.seed_push_s),
                       Rate(n / i1.seed_push_s), cost(n / i0.seed_push_s, n / i1.seed_push_s), "",
                       ""});
  const double e0 = incs[0].bytes_per_edit.Median(), e1 = incs[1].bytes_per_edit.Median();
  c.push_back(TableRow{"incremental: wire bytes per edit", Fixed(e0, 1), Fixed(e1, 1),
                       more(e0, e1, 1), "", ""});
  c.push_back(TableRow{"  push + pull, s",
                       absl::StrCat(Fixed(incs[0].push_s.Median(), 3), " + ",
                                    Fixed(incs[0].pull_s.Median(), 3)),
                       absl::StrCat(Fixed(incs[1].push_s.Median(), 3), " + ",
                                    Fixed(incs[1].pull_s.Median(), 3)),
                       "", "", ""});
  const double t0 = static_cast<double>(thrs[0].commits) / thrs[0].accepted_s.Median();
  const double t1 = static_cast<double>(thrs[1].commits) / thrs[1].accepted_s.Median();
  c.push_back(TableRow{"hub, nodes at once: commits accepted/s", Rate(t0), Rate(t1), cost(t0, t1),
                       "", ""});
  c.push_back(TableRow{"  hub CPU per commit, us",
                       Fixed(1e6 * thrs[0].hub_cpu_s.Median() /
                                 static_cast<double>(thrs[0].commits), 1),
                       Fixed(1e6 * thrs[1].hub_cpu_s.Median() /
                                 static_cast<double>(thrs[1].commits), 1),
                       "", "", ""});
  PrintTable(c, TableRow{"figure", "crypto off", "crypto on", "cost", "target", "met"});
  std::printf("Cost = (off - on) / off of the medians (for rates); for CPU, memory and bytes, "
              "what\ncrypto adds. Target (encryption issue): at most %s of initial-sync "
              "throughput.\n",
              Percent(kTargetCryptoCost).c_str());
}

}  // namespace fieldsync::bench_sync
