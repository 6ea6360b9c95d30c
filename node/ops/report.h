// The office's anonymised figures for a meeting (sync-core/report): clear
// columns only, small counts suppressed.
#ifndef FIELDSYNC_NODE_OPS_REPORT_H_
#define FIELDSYNC_NODE_OPS_REPORT_H_

#include "absl/status/statusor.h"
#include "node/ops/office.h"
#include "report/report.h"

namespace fieldsync::node::ops {

struct ReportRequest {
  int threshold = report::kDefaultThreshold;  // 1 to 1000
  bool case_codes = false;                    // list the pseudonymous codes too
};
// Titled "Cases seen by office LC on YYYY-MM-DD".
absl::StatusOr<report::Report> OfficeReport(const Office& o, const ReportRequest& in);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_REPORT_H_
