// fieldnode conflict: list, resolve (node/help/conflict.txt), over
// node/ops/conflicts.h.
#include <string>

#include "absl/strings/str_cat.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/conflicts.h"

namespace fieldsync::node {
namespace {

int List(OfficeContext& c) {
  auto list = ops::ListConflicts(c.office, c.json ? ops::Access::kExport : ops::Access::kShow);
  if (!list.ok()) return Failed(list.status());
  if (c.json) {
    Json out = Json::array();
    for (const ops::ConflictLine& k : list->conflicts) {
      out.push_back({{"table", k.table}, {"row", k.row.ToString()}, {"case_code", k.case_code},
                     {"field", k.field}, {"current", k.current}, {"current_by", k.current_by},
                     {"other", k.other}, {"other_by", k.other_by}});
    }
    Print(JsonLine(out));
    return 0;
  }
  if (list->conflicts.empty()) {
    Print("no conflicts: every field has one value\n");
    return 0;
  }
  std::string out;
  for (const ops::ConflictLine& k : list->conflicts) {
    const std::string ref = k.case_code.empty() ? k.row.ToString() : k.case_code;
    absl::StrAppend(&out, k.table, " ", ref, "  field ", k.field, "\n    current: ", k.current,
                    "   (", k.current_by, ")\n    other:   ", k.other, "   (", k.other_by,
                    ")\n    resolve: fieldnode conflict resolve ", ref, " ", k.field,
                    " --keep current|other  (or --value TEXT)\n");
  }
  absl::StrAppend(&out, list->conflicts.size(), " field(s) in conflict\n");
  if (list->masked) absl::StrAppend(&out, "Sealed values are masked: ", UnlockHint(), ".\n");
  Print(out);
  return 0;
}

int Resolve(OfficeContext& c) {
  if (c.Words() != 4) {
    return Usage("conflict resolve needs ROW FIELD and --keep current|other or --value TEXT");
  }
  const std::string keep = c.args.Flag("keep");
  const bool has_value = c.args.flags.count("value") > 0;
  if (keep.empty() == !has_value || (!keep.empty() && keep != "current" && keep != "other")) {
    return Usage("conflict resolve needs one of --keep current, --keep other, --value TEXT");
  }
  ops::ConflictResolution in{c.args.positional[2], c.args.positional[3],
                             has_value         ? ops::Keep::kValue
                             : keep == "other" ? ops::Keep::kOther
                                               : ops::Keep::kCurrent,
                             c.args.Flag("value")};
  auto done = ops::ResolveConflict(c.office, in);
  if (!done.ok()) return Failed(done.status());
  Print(absl::StrCat("resolved ", done->table, " ", done->row.ToString(), " field ", done->field,
                     ": ", has_value ? "new value written" : absl::StrCat("kept the ", keep, " value"),
                     "; the choice reaches the other devices at the next sync\n"));
  return 0;
}

}  // namespace

int RunConflictCommand(OfficeContext& c) {
  const std::string sub = c.Sub();
  if (sub == "list") return List(c);
  if (sub == "resolve") return Resolve(c);
  return Usage(sub.empty() ? "conflict needs list or resolve"
                           : absl::StrCat("unknown conflict subcommand \"", sub, "\""));
}

}  // namespace fieldsync::node
