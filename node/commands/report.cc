// fieldnode report (node/help/report.txt), over node/ops/report.h.
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "node/commands/command.h"
#include "node/ops/report.h"

namespace fieldsync::node {

int RunReportCommand(OfficeContext& c) {
  if (c.Words() != 1) return Usage("report takes no operands, only options");
  const std::string t = c.args.Flag("threshold", "5");
  char* end = nullptr;
  const long n = std::strtol(t.c_str(), &end, 10);
  if (end == t.c_str() || *end != '\0' || n < 1 || n > 1000) {
    return Usage(absl::StrCat("--threshold wants a whole number from 1 to 1000, not \"", t, "\""));
  }
  auto r = ops::OfficeReport(c.office, {static_cast<int>(n), c.args.Has("codes")});
  if (!r.ok()) return Failed(r.status());
  Print(c.json ? report::RenderJson(*r) : report::RenderText(*r));
  return 0;
}

}  // namespace fieldsync::node
