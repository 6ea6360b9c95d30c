// fieldnode contact and fieldnode service: add, edit, list, search
// (node/help/contact.txt, service.txt), over node/ops/directory.h.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "node/commands/command.h"
#include "node/commands/json.h"
#include "node/ops/directory.h"
#include "text/text.h"
#include "schema/schema.h"

namespace fieldsync::node {
namespace {

using FlagColumns = std::vector<std::pair<std::string, std::string>>;  // flag → column

const FlagColumns& ContactFlags() {
  static const FlagColumns* f = new FlagColumns{
      {"name", "name"}, {"position", "position"}, {"desk-phone", "desk_phone"},
      {"mobile", "mobile"}, {"email", "email"}, {"other-channels", "other_channels"},
      {"on-call", "on_call_hours"}, {"consent-on", "listing_consent_on"},
      {"restriction", "restriction"}, {"focal-provinces", "focal_point_provinces"},
      {"focal-kinds", "focal_point_case_kinds"}, {"verified-on", "verified_on"}};
  return *f;
}

const FlagColumns& ServiceFlags() {
  static const FlagColumns* f = new FlagColumns{
      {"name", "name"}, {"kind", "kind"}, {"provinces", "provinces_covered"},
      {"eligibility", "eligibility"}, {"procedure", "procedure"},
      {"documents", "governing_documents"}, {"phone", "phone"}, {"hours", "hours"},
      {"address", "address"}, {"restriction", "restriction"}};
  return *f;
}

int Add(OfficeContext& c, const ops::Directory& d, const FlagColumns& flags) {
  if (c.Words() != 2) {
    return Usage(absl::StrCat(d.noun, " add takes flags only (--org, --name, ...)"));
  }
  ops::NewEntry in{c.args.Flag("org"), {}};
  for (const auto& [flag, column] : flags) {
    if (c.args.flags.count(flag) > 0) in.columns.emplace_back(column, c.args.Flag(flag));
  }
  auto id = ops::AddEntry(c.office, d, in);
  if (!id.ok()) return Failed(id.status());
  const bool restricted = c.args.Flag("restriction") == kRestrictedValue;
  Print(absl::StrCat("added ", d.noun, " ", id->ToString(),
                     restricted ? " (restricted: its private fields are sealed for this office)"
                                : "",
                     "\n"));
  return 0;
}

int Edit(OfficeContext& c, const ops::Directory& d) {
  if (c.Words() != 5) {
    return Usage(absl::StrCat(d.noun, " edit needs ", absl::AsciiStrToUpper(d.noun),
                              " FIELD VALUE"));
  }
  auto edited = ops::EditEntry(c.office, d, {c.args.positional[2], c.args.positional[3],
                                              c.args.positional[4]});
  if (!edited.ok()) return Failed(edited.status());
  Print(absl::StrCat(d.noun, " ", edited->id.ToString(), ": ", edited->column, " set\n"));
  return 0;
}

int List(OfficeContext& c, const ops::Directory& d, const std::string& query) {
  auto list = ops::ListEntries(c.office, d, query);
  if (!list.ok()) return Failed(list.status());
  if (c.json) {
    Json out = Json::array();
    for (const ops::EntryLine& e : list->entries) {
      Json entry = {{"id", e.id.ToString()}};
      for (const ops::ShownField& f : e.shown) entry[f.column] = f.text;
      out.push_back(std::move(entry));
    }
    Print(JsonLine(out));
    return 0;
  }
  std::string out;
  for (const ops::EntryLine& e : list->entries) {
    absl::StrAppend(&out, e.id.ToString().substr(0, 13));
    for (const ops::ShownField& f : e.shown) {
      absl::StrAppend(&out, "  ", PadTo(f.text, f.column == "name" ? 28 : 14));
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, list->entries.size(), " ", d.noun, "(s)\n");
  if (list->masked) absl::StrAppend(&out, "Restricted fields are masked: ", UnlockHint(), ".\n");
  Print(out);
  return 0;
}

int Run(OfficeContext& c, const ops::Directory& d, const FlagColumns& flags) {
  const std::string sub = c.Sub();
  if (sub == "add") return Add(c, d, flags);
  if (sub == "edit") return Edit(c, d);
  if (sub == "list") return List(c, d, "");
  if (sub == "search") {
    if (c.Words() != 3) return Usage(absl::StrCat(d.noun, " search needs TEXT"));
    auto q = NormalizeInput(c.args.positional[2], "the search text");
    if (!q.ok()) return Fail(q.status());
    return List(c, d, *q);
  }
  return Usage(sub.empty() ? absl::StrCat(d.noun, " needs add, edit, list or search")
                           : absl::StrCat("unknown ", d.noun, " subcommand \"", sub, "\""));
}

}  // namespace

int RunContactCommand(OfficeContext& c) { return Run(c, ops::Contacts(), ContactFlags()); }
int RunServiceCommand(OfficeContext& c) { return Run(c, ops::Services(), ServiceFlags()); }

}  // namespace fieldsync::node
