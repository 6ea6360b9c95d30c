// The route of the Report page (docs/CONSOLE.md, "The Report page"):
//   GET /api/report?threshold=N     the office's anonymised figures
// Over the node library's call of `fieldnode report` (ops::OfficeReport,
// report::BuildReport): clear columns only, counts from 1 to threshold-1
// suppressed ("<5") by the report itself, never by the page; no case codes
// (the page is for showing, not for a list of cases). The answer is the
// report's own JSON (docs/FORMATS.md, "Report", version 1). No sealed field
// is read: the page reads the same locked or unlocked, and writes nothing.
#include <string>

#include "absl/strings/numbers.h"
#include "node/console/api.h"
#include "node/ops/report.h"

namespace fieldsync::node::console {

ApiReply Api::Report(ConsoleOffice& o, const ApiRequest& r) {
  int threshold = report::kDefaultThreshold;
  const std::string t = r.Param("threshold");
  if (!t.empty() && (!absl::SimpleAtoi(t, &threshold) || threshold < 1 || threshold > 1000)) {
    ApiReply e = ErrorKey(400, "err.invalid", "threshold: a whole number from 1 to 1000");
    e.body["field"] = "threshold";
    return e;
  }
  auto figures = ops::OfficeReport(*o.office, {threshold, /*case_codes=*/false});
  if (!figures.ok()) return ErrorReply(figures.status(), !o.keys->unlocked());
  ApiReply out;
  out.body = Json::parse(report::RenderJson(*figures), nullptr, /*allow_exceptions=*/false);
  if (!out.body.is_object()) return ErrorKey(500, "err.internal", "the report's JSON");
  return out;
}

}  // namespace fieldsync::node::console
