#include "tools/bench/common/report.h"

#include <sys/statfs.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace fieldsync::bench {

double Sample::Median() const {
  std::vector<double> v = values;
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}
double Sample::Min() const {
  return values.empty() ? 0 : *std::min_element(values.begin(), values.end());
}
double Sample::Max() const {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

std::string Rate(double v) {
  std::string digits = std::to_string(static_cast<long long>(v + 0.5));
  std::string out;
  for (size_t k = 0; k < digits.size(); ++k) {
    if (k > 0 && (digits.size() - k) % 3 == 0) out += ',';
    out += digits[k];
  }
  return out;
}

std::string RateRange(const Sample& s) {
  if (s.values.size() < 2) return Rate(s.Median());
  return absl::StrCat(Rate(s.Median()), " (", Rate(s.Min()), "-", Rate(s.Max()), ")");
}

std::string Percent(double ratio) { return absl::StrCat(Fixed(100 * ratio, 1), "%"); }

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

double MB(int64_t kib) { return static_cast<double>(kib) * 1024 / 1e6; }

std::string ReadFirstLine(const std::string& path, const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "?";
}

std::string FsType(const std::string& dir) {
  struct statfs s;
  if (statfs(dir.c_str(), &s) != 0) return "?";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x01021994:
      return "tmpfs (fsync is free: durability figures are flattered)";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794C7630:
      return "overlayfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "0x%lx", static_cast<unsigned long>(s.f_type));
      return buf;
    }
  }
}

void PrintTable(const std::vector<TableRow>& rows) {
  PrintTable(rows, TableRow{"figure", "fieldsync", "raw SQLite", "ratio", "target", "met"});
}

void PrintTable(const std::vector<TableRow>& rows, const TableRow& head) {
  size_t w[6] = {};
  auto widen = [&](const TableRow& r) {
    const std::string* c[6] = {&r.figure, &r.fieldsync, &r.raw, &r.ratio, &r.target, &r.met};
    for (int k = 0; k < 6; ++k) w[k] = std::max(w[k], c[k]->size());
  };
  widen(head);
  for (const TableRow& r : rows) widen(r);
  auto print = [&](const TableRow& r) {
    std::printf("  %-*s  %*s  %*s  %*s  %*s  %s\n", static_cast<int>(w[0]), r.figure.c_str(),
                static_cast<int>(w[1]), r.fieldsync.c_str(), static_cast<int>(w[2]), r.raw.c_str(),
                static_cast<int>(w[3]), r.ratio.c_str(), static_cast<int>(w[4]), r.target.c_str(),
                r.met.c_str());
  };
  print(head);
  std::printf("  %s\n", std::string(w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + 10, '-').c_str());
  for (const TableRow& r : rows) print(r);
}

}  // namespace fieldsync::bench
