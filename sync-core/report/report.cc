#include "report/report.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/args.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace fieldsync::report {
namespace {

// Every column the report reads, and nothing else: the scans below are built
// from this list, and each entry is checked to be clear in the replica's
// schema before anything is read.
struct ReportColumn {
  const char* table;
  const char* alias;
  const char* column;
};
constexpr ReportColumn kReportColumns[] = {
    {"cases", "c", "case_code"},  {"cases", "c", "status"},   {"cases", "c", "intake_channel"},
    {"cases", "c", "province"},   {"cases", "c", "opened_month"}, {"persons", "p", "age_band"},
    {"persons", "p", "sex"},
};
// A case written before schema version 4 has no opened_month until its
// author's laptop rewrites it; its opened_on is then still clear text (a
// sealed one is bytes), and only its month is used.
constexpr ReportColumn kLegacyOpenedOn = {"cases", "c", "opened_on"};
// The join from a case to its person (clear too; checked with the others).
constexpr ReportColumn kPersonLink = {"cases", "c", "person_id"};
enum Field { kCaseCode, kStatus, kChannel, kProvince, kOpenedMonth, kAgeBand, kSex, kLegacy };

constexpr char kUnknown[] = "unknown";

absl::Status CheckClear(const Schema& schema, const ReportColumn& c) {
  const TableDef* t = schema.FindTable(c.table);
  const ColumnDef* col = t == nullptr ? nullptr : t->FindColumn(c.column);
  if (col == nullptr) {
    return absl::InternalError(absl::StrCat("the report reads ", c.table, ".", c.column,
                                            ", which the schema does not declare"));
  }
  if (col->sensitivity != Sensitivity::kClear) {
    return absl::InternalError(absl::StrCat(
        "the report would read ", c.table, ".", c.column, ", which is ",
        AV(SensitivityName(col->sensitivity)),
        ": reports read clear columns only; nothing was read"));
  }
  return absl::OkStatus();
}

// A column that was clear before `sealed_since`: its legacy values may be
// read in clear, never its sealed ones.
absl::Status CheckLegacyClear(const Schema& schema, const ReportColumn& c) {
  const TableDef* t = schema.FindTable(c.table);
  const ColumnDef* col = t == nullptr ? nullptr : t->FindColumn(c.column);
  if (col == nullptr || col->sealed_since == 0) {
    return absl::InternalError(absl::StrCat("the report would read ", c.table, ".", c.column,
                                            ", which was never clear; nothing was read"));
  }
  return absl::OkStatus();
}

// A clear text value, or "unknown" (NULL, empty, or not text: a value that
// is not what the schema says is never shown).
std::string TextOr(const Value& v) {
  if (v.kind() != Value::Kind::kText || v.str().empty()) return kUnknown;
  return v.str();
}

// One of the column's allowed values, or "unknown".
std::string EnumOr(const Value& v, const ColumnDef& col) {
  const std::string s = TextOr(v);
  for (std::string_view a : col.allowed) {
    if (a == s) return s;
  }
  return kUnknown;
}

// "YYYY-MM" (of a "YYYY-MM" month or a "YYYY-MM-DD" date), or "unknown".
std::string MonthOf(const Value& v) {
  if (v.kind() != Value::Kind::kText || v.str().size() < 7) return kUnknown;
  const std::string m = v.str().substr(0, 7);
  for (size_t i = 0; i < m.size(); ++i) {
    const bool ok = i == 4 ? m[i] == '-' : (m[i] >= '0' && m[i] <= '9');
    if (!ok) return kUnknown;
  }
  return m;
}

// Cells in the enum's declared order (zeros included), then "unknown" if any.
Breakdown EnumBreakdown(std::string name, std::string label, const ColumnDef& col,
                        const std::map<std::string, int64_t>& counts) {
  Breakdown b{std::move(name), std::move(label), {}};
  for (std::string_view a : col.allowed) {
    auto it = counts.find(std::string(a));
    b.cells.push_back(Cell{std::string(a), it == counts.end() ? 0 : it->second});
  }
  auto it = counts.find(kUnknown);
  if (it != counts.end()) b.cells.push_back(Cell{kUnknown, it->second});
  return b;
}

// Cells in sorted order, "unknown" last.
Breakdown SortedBreakdown(std::string name, std::string label,
                          const std::map<std::string, int64_t>& counts) {
  Breakdown b{std::move(name), std::move(label), {}};
  for (const auto& [v, n] : counts) {
    if (v != kUnknown) b.cells.push_back(Cell{v, n});
  }
  auto it = counts.find(kUnknown);
  if (it != counts.end()) b.cells.push_back(Cell{kUnknown, it->second});
  return b;
}


// A count's keys, added to `j`: suppressed, the count is null and only
// "<threshold" is shown.
void AddCount(int64_t count, int threshold, Json* j) {
  const bool suppressed = Suppressed(count, threshold);
  (*j)["count"] = suppressed ? Json(nullptr) : Json(count);
  (*j)["shown"] = ShowCount(count, threshold);
  (*j)["suppressed"] = suppressed;
}

}  // namespace

bool Suppressed(int64_t count, int threshold) { return count > 0 && count < threshold; }

std::string ShowCount(int64_t count, int threshold) {
  if (Suppressed(count, threshold)) return absl::StrCat("<", threshold);
  return absl::StrCat(count);
}

absl::StatusOr<Report> BuildReport(RowScan& rows, const ReportOptions& options) {
  if (options.threshold < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a suppression threshold of ", options.threshold,
        " is not usable: give 1 or more (default 5; 1 suppresses nothing)"));
  }
  const Schema& schema = rows.schema();
  FS_RETURN_IF_ERROR(CheckClear(schema, kPersonLink));
  // The columns read of each table, from kReportColumns (cases first, then
  // persons: the order of Field), each checked to be clear.
  std::vector<std::string> case_columns, person_columns;
  for (const ReportColumn& c : kReportColumns) {
    FS_RETURN_IF_ERROR(CheckClear(schema, c));
    (std::string_view(c.table) == "cases" ? case_columns : person_columns).push_back(c.column);
  }
  FS_RETURN_IF_ERROR(CheckLegacyClear(schema, kLegacyOpenedOn));
  const size_t n_case = case_columns.size();
  case_columns.push_back(kLegacyOpenedOn.column);
  case_columns.push_back(kPersonLink.column);
  const TableDef& cases = *schema.FindTable("cases");
  const TableDef& persons = *schema.FindTable("persons");
  const ColumnDef& status_col = *cases.FindColumn("status");
  const ColumnDef& channel_col = *cases.FindColumn("intake_channel");
  const ColumnDef& age_col = *persons.FindColumn("age_band");
  const ColumnDef& sex_col = *persons.FindColumn("sex");

  Report r;
  r.title = options.title;
  r.threshold = options.threshold;
  r.case_codes_included = options.include_case_codes;
  std::map<std::string, int64_t> by_status, by_channel, by_province, by_month, by_age, by_sex;
  {
    // Live persons by id: a case's person is joined by its person_id, as
    // stored (an id is bytes; anything else joins nobody).
    std::map<std::string, std::vector<Value>> person_of;
    FS_RETURN_IF_ERROR(rows.ScanRows(
        "persons", person_columns, /*include_deleted=*/false,
        [&](const RowId& id, bool, const std::vector<Value>& v) {
          person_of[std::string(id.view())] = v;
          return absl::OkStatus();
        }));
    std::vector<Value> field(kLegacy + 1);
    FS_RETURN_IF_ERROR(rows.ScanRows("cases", case_columns, /*include_deleted=*/false,
                                     [&](const RowId&, bool, const std::vector<Value>& v) {
      for (size_t i = 0; i < n_case; ++i) field[i] = v[i];
      const Value& link = v[n_case + 1];
      auto p = link.kind() == Value::Kind::kBytes ? person_of.find(link.str()) : person_of.end();
      for (size_t i = 0; i < person_columns.size(); ++i) {
        field[n_case + i] = p == person_of.end() ? Value::Null() : p->second[i];
      }
      // A legacy opened_on is used only while it is clear text.
      field[kLegacy] = v[n_case].kind() == Value::Kind::kText ? v[n_case] : Value::Null();
      ++r.total;
      const std::string status = EnumOr(field[kStatus], status_col);
      const std::string channel = EnumOr(field[kChannel], channel_col);
      const std::string province = TextOr(field[kProvince]);
      std::string month = MonthOf(field[kOpenedMonth]);
      if (month == kUnknown) month = MonthOf(field[kLegacy]);
      ++by_status[status];
      ++by_channel[channel];
      ++by_province[province];
      ++by_month[month];
      ++by_age[EnumOr(field[kAgeBand], age_col)];
      ++by_sex[EnumOr(field[kSex], sex_col)];
      if (options.include_case_codes) {
        r.cases.push_back(CaseLine{TextOr(field[kCaseCode]), status, channel, province,
                                   month});
      }
      return absl::OkStatus();
    }));
  }
  r.breakdowns.push_back(EnumBreakdown("status", "Status", status_col, by_status));
  r.breakdowns.push_back(
      EnumBreakdown("intake_channel", "Intake channel", channel_col, by_channel));
  r.breakdowns.push_back(SortedBreakdown("province", "Province", by_province));
  r.breakdowns.push_back(SortedBreakdown("month", "Month opened", by_month));
  r.breakdowns.push_back(EnumBreakdown("age_band", "Age band (victim)", age_col, by_age));
  r.breakdowns.push_back(EnumBreakdown("sex", "Sex (victim)", sex_col, by_sex));
  std::sort(r.cases.begin(), r.cases.end(), [](const CaseLine& a, const CaseLine& b) {
    return std::tie(a.province, a.month, a.case_code) < std::tie(b.province, b.month, b.case_code);
  });
  return r;
}

absl::StatusOr<Report> BuildReport(Replica& replica, const ReportOptions& options) {
  ReplicaRowScan rows(replica);
  absl::StatusOr<Report> out = absl::InternalError("no report built");
  FS_RETURN_IF_ERROR(replica.ReadTransaction([&]() -> absl::Status {
    out = BuildReport(rows, options);
    return out.status();
  }));
  return out;
}

std::string RenderText(const Report& r) {
  std::string out = absl::StrCat(Printable(r.title), "\n");
  absl::StrAppend(&out, "Live cases: ", ShowCount(r.total, r.threshold), "\n");
  if (r.threshold > 1) {
    absl::StrAppend(&out, "Counts from 1 to ", r.threshold - 1, " are shown as <", r.threshold,
                    " (suppressed: too few cases to publish without risk of identifying "
                    "someone).\n");
  }
  for (const Breakdown& b : r.breakdowns) {
    size_t width = 8;
    for (const Cell& c : b.cells) width = std::max(width, Printable(c.value).size());
    absl::StrAppend(&out, "\n", b.label, "\n");
    if (b.cells.empty()) absl::StrAppend(&out, "  (no cases)\n");
    for (const Cell& c : b.cells) {
      absl::StrAppend(&out, absl::StrFormat("  %-*s %8s\n", static_cast<int>(width),
                                            Printable(c.value),
                                            ShowCount(c.count, r.threshold)));
    }
  }
  if (r.case_codes_included) {
    absl::StrAppend(&out, "\nCases (pseudonymous case codes; no names)\n");
    if (r.cases.empty()) absl::StrAppend(&out, "  (no cases)\n");
    size_t code_w = 9;
    for (const CaseLine& c : r.cases) code_w = std::max(code_w, Printable(c.case_code).size());
    if (!r.cases.empty()) {
      absl::StrAppend(&out, absl::StrFormat("  %-*s  %-10s  %-12s  %-8s  %s\n",
                                            static_cast<int>(code_w), "CASE CODE", "STATUS",
                                            "CHANNEL", "PROVINCE", "MONTH"));
    }
    for (const CaseLine& c : r.cases) {
      absl::StrAppend(&out, absl::StrFormat("  %-*s  %-10s  %-12s  %-8s  %s\n",
                                            static_cast<int>(code_w), Printable(c.case_code),
                                            c.status, c.intake_channel, Printable(c.province),
                                            c.month));
    }
  }
  return out;
}

std::string RenderJson(const Report& r) {
  Json j;
  j["title"] = r.title;
  j["threshold"] = r.threshold;
  AddCount(r.total, r.threshold, &j["live_cases"]);
  Json& breakdowns = j["breakdowns"] = Json::array();
  for (const Breakdown& b : r.breakdowns) {
    Json one;
    one["name"] = b.name;
    one["label"] = b.label;
    Json& cells = one["cells"] = Json::array();
    for (const Cell& c : b.cells) {
      Json cell;
      cell["value"] = c.value;
      AddCount(c.count, r.threshold, &cell);
      cells.push_back(std::move(cell));
    }
    breakdowns.push_back(std::move(one));
  }
  j["case_codes_included"] = r.case_codes_included;
  if (r.case_codes_included) {
    Json& cases = j["cases"] = Json::array();
    for (const CaseLine& c : r.cases) {
      Json line;
      line["case_code"] = c.case_code;
      line["status"] = c.status;
      line["intake_channel"] = c.intake_channel;
      line["province"] = c.province;
      line["month"] = c.month;
      cases.push_back(std::move(line));
    }
  }
  return JsonLine(j);
}

}  // namespace fieldsync::report
