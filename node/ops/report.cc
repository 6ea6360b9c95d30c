#include "node/ops/report.h"

#include "absl/strings/str_cat.h"

namespace fieldsync::node::ops {

absl::StatusOr<report::Report> OfficeReport(const Office& o, const ReportRequest& in) {
  if (in.threshold < 1 || in.threshold > 1000) {
    return IncompleteRequest(absl::StrCat("--threshold wants a whole number from 1 to 1000, not \"",
                                          in.threshold, "\""));
  }
  report::ReportOptions options;
  options.threshold = in.threshold;
  options.include_case_codes = in.case_codes;
  options.title = absl::StrCat("Cases seen by office ", o.province, " on ", o.Today());
  return report::BuildReport(o.replica, options);
}

}  // namespace fieldsync::node::ops
