// What both benchmark programs print with: medians of repeated runs, rates
// with thousands separators, the machine they ran on, and the closing table
// of figures against their targets.
#ifndef FIELDSYNC_TOOLS_BENCH_COMMON_REPORT_H_
#define FIELDSYNC_TOOLS_BENCH_COMMON_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace fieldsync::bench {

// The figures of one measurement over --repeat runs.
struct Sample {
  std::vector<double> values;
  void Add(double v) { values.push_back(v); }
  double Median() const;
  double Min() const;
  double Max() const;
};

// 12345678.4 -> "12,345,678"
std::string Rate(double v);
// The median's Rate, and with two runs or more its range: "1,234 (1,200-1,260)".
std::string RateRange(const Sample& s);
// 0.1234 -> "12.3%"
std::string Percent(double ratio);
// `v` with `decimals` digits after the point.
std::string Fixed(double v, int decimals);
// KiB (as the kernel counts resident sets) in MB of 10^6 bytes.
double MB(int64_t kib);
// The first line of `path` starting with `prefix`, after its "key: ".
std::string ReadFirstLine(const std::string& path, const std::string& prefix);
// The filesystem of `dir`, by name ("ext4"); tmpfs says that fsync is free there.
std::string FsType(const std::string& dir);

struct TableRow {
  std::string figure;
  std::string fieldsync;
  std::string raw;
  std::string ratio;
  std::string target;
  std::string met;
};
// Aligned columns (widths count bytes: every cell is ASCII), under the
// heading "figure, fieldsync, raw SQLite, ratio, target, met".
void PrintTable(const std::vector<TableRow>& rows);
// The same under another heading (a comparison of two configurations: the
// columns then mean what `head` says).
void PrintTable(const std::vector<TableRow>& rows, const TableRow& head);

}  // namespace fieldsync::bench

#endif  // FIELDSYNC_TOOLS_BENCH_COMMON_REPORT_H_
