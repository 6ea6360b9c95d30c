// Anonymised aggregate figures of a replica's live cases, for a province
// office's meeting (fieldnode report) or the national picture (fieldhub
// report). docs/FORMATS.md, "Report", describes both renderings.
//
// Privacy rules, enforced here rather than left to callers:
//   - Only clear columns are read (schema sensitivity kClear). The columns
//     the report uses are listed once (kReportColumns in report.cc) and
//     checked against the rows' schema before any row is read: a column
//     that is, or becomes, sensitive makes BuildReport fail (INTERNAL) rather
//     than read it. Sealed values therefore never leave the store.
//   - A count with 0 < count < threshold is suppressed: both renderings show
//     "<threshold" (e.g. "<5"), never the number. Zero is shown as 0.
//   - Case codes (pseudonymous) are listed only when asked, with clear
//     attributes only (status, channel, province, month): never names.
//
// Not done: secondary suppression. A suppressed cell can sometimes be worked
// out from the total and the other cells of its breakdown (total 12, intake
// 10, closed "<5": closed is 2). Publish with that in mind.
#ifndef FIELDSYNC_REPORT_REPORT_H_
#define FIELDSYNC_REPORT_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/replica.h"
#include "store/row_scan.h"

namespace fieldsync::report {

inline constexpr int kDefaultThreshold = 5;

struct ReportOptions {
  // Cells with 0 < count < threshold are suppressed. 1 suppresses nothing.
  int threshold = kDefaultThreshold;
  // Also list every live case's pseudonymous case_code with its clear
  // attributes (for an office's own meeting; never names).
  bool include_case_codes = false;
  // The heading, e.g. "National figures" or "Lào Cai office".
  std::string title = "Case figures";
};

// One value of a breakdown and how many live cases have it.
struct Cell {
  std::string value;  // e.g. "intake", "2026-03", "unknown"
  int64_t count = 0;
};

// Live cases counted by one attribute.
struct Breakdown {
  std::string name;   // "status", "intake_channel", "province", "month", "age_band", "sex"
  std::string label;  // for people: "Status", "Month opened", ...
  std::vector<Cell> cells;
};

// One case as listed with include_case_codes.
struct CaseLine {
  std::string case_code;
  std::string status;
  std::string intake_channel;
  std::string province;
  std::string month;
};

struct Report {
  std::string title;
  int threshold = kDefaultThreshold;
  int64_t total = 0;  // live cases
  std::vector<Breakdown> breakdowns;
  bool case_codes_included = false;
  std::vector<CaseLine> cases;  // ordered by province, month, case code
};

// The figures of `replica`'s live cases. INVALID_ARGUMENT for a threshold
// below 1; INTERNAL if a column the report reads is not clear in the schema.
// `rows` are a replica's or the hub's (either store): the same rows give
// the same report.
absl::StatusOr<Report> BuildReport(RowScan& rows, const ReportOptions& options);
// The same of a replica, in one read transaction.
absl::StatusOr<Report> BuildReport(Replica& replica, const ReportOptions& options);

// How a count is shown: the number, or "<threshold" when suppressed.
std::string ShowCount(int64_t count, int threshold);
bool Suppressed(int64_t count, int threshold);

// An aligned text table per breakdown, for people.
std::string RenderText(const Report& report);
// One JSON object (docs/FORMATS.md, "Report"); each count is a number, or
// null with "suppressed": true and "shown": "<5".
std::string RenderJson(const Report& report);

}  // namespace fieldsync::report

#endif  // FIELDSYNC_REPORT_REPORT_H_
