// fieldnode import cases FILE (node/help/import.txt): an office's register
// brought in, over node/ops/import_cases.h; this file reads the file,
// parses the flags and prints.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/import_cases.h"
#include "node/ops/import_json.h"
#include "node/ops/import_map.h"

namespace fieldsync::node {
namespace {

constexpr size_t kMaxFileBytes = 256u << 20;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return absl::NotFoundError(absl::StrCat("cannot read ", Printable(path), ": ",
                                            std::strerror(errno)));
  }
  std::ostringstream s;
  s << f.rdbuf();
  if (s.str().size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(Printable(path), " is larger than ",
                                                   kMaxFileBytes >> 20, " MiB: split it"));
  }
  return s.str();
}

std::string ReportText(const std::string& file, const ops::ImportReport& r) {
  std::string out = absl::StrCat(
      Printable(file), ": ", std::string(ops::EncodingName(r.encoding)), r.bom ? " (byte-order mark)" : "",
      ", separated by ", r.separator == '\t' ? "tabs" : absl::StrCat("\"", std::string(1, r.separator), "\""),
      ", ", r.rows, " rows\n");
  for (const ops::ImportColumn& c : r.columns) {
    absl::StrAppend(&out, "  column \"", Printable(c.header), "\" -> ",
                    c.field.empty() ? "(left out)" : c.field, "\n");
  }
  if (!r.rejected.empty()) {
    absl::StrAppend(&out, r.rejected.size(), " row(s) refused:\n");
    for (const ops::RejectedRow& x : r.rejected) {
      absl::StrAppend(&out, "  line ", x.line, ": ", Printable(x.reason), "\n");
    }
  }
  if (!r.already_known) {
    absl::StrAppend(&out, "which rows were imported before is not known while the keystore is "
                          "locked (unlock it to see)\n");
  }
  if (!r.already.empty()) {
    absl::StrAppend(&out, r.already.size(), " row(s) imported before (left out): line ",
                    r.already.front(), r.already.size() > 1 ? " and others" : "", "\n");
  }
  for (const auto& [line, of] : r.repeated) {
    absl::StrAppend(&out, "line ", line, " repeats line ", of, " (left out)\n");
  }
  return out;
}

}  // namespace

int RunImportCommand(const Args& args) {
  if (args.positional.size() != 3 || args.positional[1] != "cases") {
    return Usage("import takes: import cases FILE.csv [--dry-run] [--encoding E] [--map "
                 "'HEADER=FIELD,...'] [--key-column HEADER]");
  }
  const std::string path = args.positional[2];
  ops::ImportRequest in;
  in.dry_run = args.Has("dry-run");
  in.key_column = args.Flag("key-column");
  auto encoding = ops::ParseEncoding(args.Flag("encoding"));
  if (!encoding.ok()) return Usage(std::string(encoding.status().message()));
  in.encoding = *encoding;
  auto map = ops::ParseImportMap(args.Flag("map"));
  if (!map.ok()) return Usage(std::string(map.status().message()));
  in.map = *map;
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return Fail(bytes.status());
  in.bytes = *bytes;
  // A dry run writes nothing and opens nothing sealed: no passphrase asked.
  auto context = OpenOfficeContext(args, /*ask=*/!in.dry_run);
  if (!context.ok()) return Fail(context.status());
  OfficeContext& c = **context;
  auto report = ops::ImportCases(c.office, in);
  if (!report.ok()) {
    const int code = Failed(report.status());
    if (ops::IsNotUtf8(report.status())) {
      std::fprintf(stderr, "  as windows-1258 its first lines read:\n");
      std::string preview = ops::PreviewAs(*bytes, ops::Encoding::kWindows1258, 3);
      size_t at = 0;
      while (at < preview.size()) {
        size_t nl = preview.find('\n', at);
        if (nl == std::string::npos) nl = preview.size();
        std::fprintf(stderr, "    %s\n", Printable(preview.substr(at, nl - at)).c_str());
        at = nl + 1;
      }
    }
    return code;
  }
  const ops::ImportReport& r = *report;
  const bool refused = !in.dry_run && !r.rejected.empty();
  if (c.json) {
    Json out = ops::ImportReportJson(r);
    out["dry_run"] = in.dry_run;
    Print(JsonLine(out));
  } else {
    std::string tail;
    if (in.dry_run) {
      tail = absl::StrCat("dry run: ", r.new_rows, " row(s) would become cases",
                          r.rejected.empty() ? "" : " once the refused rows are corrected",
                          "; nothing was written\n");
    } else if (refused) {
      tail = "nothing was imported: correct the refused rows (or delete them) and import again\n";
    } else {
      tail = absl::StrCat("imported ", r.imported, " case(s) in one transaction",
                          r.codes.empty() ? "" : absl::StrCat(" (", r.codes.front(),
                                                               r.codes.size() > 1 ? " ..." : "",
                                                               ")"),
                          "; they reach the hub at the next sync (fieldnode sync)\n");
    }
    Print(ReportText(path, r) + tail);
  }
  return refused ? 1 : 0;
}

}  // namespace fieldsync::node
