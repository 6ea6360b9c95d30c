#include "tools/bench/replica/summary.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"

namespace fieldsync::bench_replica {
namespace {

using bench::Fixed;
using bench::Percent;
using bench::PrintTable;
using bench::Rate;
using bench::RateRange;
using bench::TableRow;

// Targets of the performance issue.
constexpr double kTargetCasesPerSec = 50000;
constexpr double kTargetFieldsPerSec = 200000;
// The encryption issue's: signing and sealing cost at most this share of
// local-write throughput.
constexpr double kTargetCryptoCost = 0.30;

}  // namespace

void PrintSummary(const Settings& s, const std::vector<ModeResults>& modes) {
  const double n = static_cast<double>(s.cases);
  std::printf("\nSummary (median of %d run%s%s)\n", s.repeat, s.repeat > 1 ? "s" : "",
              s.repeat > 1 ? "; min-max in brackets" : "");
  std::vector<TableRow> rows;
  auto yes = [](double v, double target) { return v >= target ? "yes" : "NO"; };
  for (const ModeResults& m : modes) {
    const std::string sync = absl::StrCat(" [sync ", m.name, "]");
    rows.push_back(
        TableRow{absl::StrCat("local writes, cases/s", sync), RateRange(m.local_tracked),
                 RateRange(m.local_raw), Percent(m.local_tracked.Median() / m.local_raw.Median()),
                 Rate(kTargetCasesPerSec), yes(m.local_tracked.Median(), kTargetCasesPerSec)});
    rows.push_back(
        TableRow{absl::StrCat("merge new rows, field changes/s", sync), RateRange(m.merge_new),
                 RateRange(m.raw_new), Percent(m.merge_new.Median() / m.raw_new.Median()),
                 Rate(kTargetFieldsPerSec), yes(m.merge_new.Median(), kTargetFieldsPerSec)});
    rows.push_back(TableRow{absl::StrCat("  same, counting _live writes", sync),
                            RateRange(m.merge_new_all), "", "", Rate(kTargetFieldsPerSec),
                            yes(m.merge_new_all.Median(), kTargetFieldsPerSec)});
    rows.push_back(
        TableRow{absl::StrCat("merge edits, field changes/s", sync), RateRange(m.merge_edit),
                 RateRange(m.raw_edit), Percent(m.merge_edit.Median() / m.raw_edit.Median()),
                 Rate(kTargetFieldsPerSec), yes(m.merge_edit.Median(), kTargetFieldsPerSec)});
  }
  PrintTable(rows);
  if (s.crypto) {
    std::printf("\nEncryption and signatures (issue 4): local writes with every commit signed "
                "and\nthe 4 sensitive fields of each case sealed, beside the same writes "
                "without\n");
    std::vector<TableRow> crows;
    for (const ModeResults& m : modes) {
      const double cost = 1 - m.local_crypto.Median() / m.local_tracked.Median();
      const auto runs = static_cast<double>(m.local_crypto.values.size());
      crows.push_back(TableRow{absl::StrCat("local writes, cases/s [sync ", m.name, "]"),
                               RateRange(m.local_tracked), RateRange(m.local_crypto),
                               Percent(cost), absl::StrCat("<= ", Percent(kTargetCryptoCost)),
                               cost <= kTargetCryptoCost ? "yes" : "NO"});
      if (m.crypto_cost.values.size() > 1) {
        crows.push_back(TableRow{"  cost paired within each run", "", "",
                                 absl::StrCat(Percent(m.crypto_cost.Median()), " (",
                                              Percent(m.crypto_cost.Min()), "-",
                                              Percent(m.crypto_cost.Max()), ")"),
                                 "", ""});
      }
      crows.push_back(TableRow{"  CPU per case, us",
                               Fixed(1e6 * m.cpu_off / (n * runs), 1),
                               Fixed(1e6 * m.cpu_on / (n * runs), 1),
                               absl::StrCat("+", Fixed(1e6 * (m.cpu_on - m.cpu_off) / (n * runs), 1)),
                               "", ""});
    }
    for (const ModeResults& m : modes) {
      const double cost = 1 - m.local_agent.Median() / m.local_crypto.Median();
      crows.push_back(TableRow{absl::StrCat("  signed by the key agent [sync ", m.name, "]"),
                               RateRange(m.local_crypto), RateRange(m.local_agent),
                               Percent(cost), "", ""});
    }
    bench::PrintTable(crows, TableRow{"figure", "crypto off", "crypto on", "cost", "target", "met"});
    std::printf("The key agent rows: crypto on, signed locally (left) and through the key agent "
                "(right).\n");
    std::printf("Cost = (off - on) / off of the medians. Target (encryption issue): at most %s "
                "of\nlocal-write throughput.\n",
                Percent(kTargetCryptoCost).c_str());
  }
  if (!modes.empty()) {
    const ModeResults& m = modes.front();
    std::printf(
        "\nField changes per run: merge new rows %s declared fields (+%s _live writes), "
        "merge edits %s (3-5 per commit).\n",
        Rate(static_cast<double>(m.new_declared)).c_str(),
        Rate(static_cast<double>(m.new_live)).c_str(),
        Rate(static_cast<double>(m.edit_fields)).c_str());
  }
  std::printf(
      "Targets: local writes >= %s cases/s, merge >= %s field changes/s (declared "
      "columns). Ratio = fieldsync / raw SQLite.\n",
      Rate(kTargetCasesPerSec).c_str(), Rate(kTargetFieldsPerSec).c_str());
}

}  // namespace fieldsync::bench_replica
