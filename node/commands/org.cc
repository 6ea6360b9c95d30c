// fieldnode org: add, list (node/help/org.txt), over node/ops/directory.h.
#include <string>

#include "absl/strings/str_cat.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/directory.h"
#include "text/text.h"

namespace fieldsync::node {
namespace {

int Add(OfficeContext& c) {
  if (c.Words() != 3) return Usage("org add needs the NAME");
  if (c.args.Flag("kind").empty()) return Usage("org add needs --kind KIND");
  ops::NewOrg in{c.args.positional[2], {}};
  for (const auto& [flag, column] : {std::pair<const char*, const char*>{"kind", "kind"},
                                     {"province", "province"},
                                     {"phone", "public_phone"}}) {
    if (c.args.flags.count(flag) > 0) in.columns.emplace_back(column, c.args.Flag(flag));
  }
  auto added = ops::AddOrg(c.office, in);
  if (!added.ok()) return Failed(added.status());
  Print(absl::StrCat("added organisation ", added->name, " (id ", added->id.ToString(), ")\n"));
  return 0;
}

int List(OfficeContext& c) {
  auto orgs = ops::ListOrgs(c.office);
  if (!orgs.ok()) return Failed(orgs.status());
  if (c.json) {
    Json out = Json::array();
    for (const ops::OrgLine& l : *orgs) {
      out.push_back({{"id", l.id}, {"name", l.name}, {"kind", l.kind}, {"province", l.province}});
    }
    Print(JsonLine(out));
    return 0;
  }
  if (orgs->empty()) {
    Print("no organisations yet: fieldnode org add NAME --kind KIND\n");
    return 0;
  }
  std::string out;
  for (const ops::OrgLine& l : *orgs) {
    absl::StrAppend(&out, l.id.substr(0, 13), "  ", PadTo(l.kind, 18), " ", PadTo(l.province, 4),
                    " ", l.name, "\n");
  }
  Print(out);
  return 0;
}

}  // namespace

int RunOrgCommand(OfficeContext& c) {
  const std::string sub = c.Sub();
  if (sub == "add") return Add(c);
  if (sub == "list") return List(c);
  return Usage(sub.empty() ? "org needs add or list"
                           : absl::StrCat("unknown org subcommand \"", sub, "\""));
}

}  // namespace fieldsync::node
