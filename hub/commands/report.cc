// fieldhub report: national case figures, anonymised (hub/help/report.txt).
#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "hub/commands/command.h"
#include "report/report.h"

namespace fieldsync::hub {
namespace {

class ReportCmd final : public Command {
 public:
  ReportCmd() : Command("report") {}
  void Declare(CLI::App& app) override {
    DeclareDataDir(app);
    DeclareStore(app);
    DeclareJson(app);
    app.add_option("--threshold", threshold_);
  }

  int Run(const std::vector<std::string>& operands, const Io& io) override {
    if (!operands.empty()) return Usage(io, "report takes no operands");
    report::ReportOptions o;
    o.title = "National figures: live cases of every province (fieldhub report)";
    if (threshold_.has_value()) {
      auto t = ParseThreshold(*threshold_);
      if (!t.ok()) return Usage(io, t.status());
      o.threshold = *t;
    }
    // The hub's rows, the same way from hub.db and from PostgreSQL.
    auto store = OpenHubStore(FileCheck::kOpened);
    if (!store.ok()) return Fail(io, store.status());
    absl::StatusOr<report::Report> r = absl::InternalError("not read");
    absl::Status read = (*store)->ReadRows([&](RowScan& rows) {
      r = report::BuildReport(rows, o);
      return r.status();
    });
    if (!read.ok()) return Fail(io, read);
    // The report's own renderings (docs/FORMATS.md, "Report"), shared with
    // fieldnode report.
    Put(io.out, json() ? report::RenderJson(*r) : report::RenderText(*r));
    return kExitOk;
  }

 private:
  // A whole number from 1 to 1,000,000, digits only.
  static absl::StatusOr<int> ParseThreshold(const std::string& t) {
    int v = 0;
    size_t i = 0;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9' && v < 1'000'000; ++i) {
      v = v * 10 + (t[i] - '0');
    }
    if (t.empty() || i != t.size() || v < 1 || v > 1'000'000) {
      return absl::InvalidArgumentError(
          absl::StrCat("--threshold \"", t,
                       "\" is not usable: give a whole number from 1 (no suppression) up, e.g. 5"));
    }
    return v;
  }

  std::optional<std::string> threshold_;
};

}  // namespace

std::unique_ptr<Command> MakeReportCommand() { return std::make_unique<ReportCmd>(); }

}  // namespace fieldsync::hub
