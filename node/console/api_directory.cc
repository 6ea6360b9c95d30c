// The route of the Directories page (docs/CONSOLE.md, "The Directories
// page"):
//   GET /api/directory?kind=organisations|contacts|services&q=TEXT
// Over the node library's calls of `fieldnode org list`, `contact list` and
// `service list` / `search` (ops::ListOrgs, ops::ListEntries): the same
// columns, the same rule for restricted entries. A restricted entry's
// private fields are sealed for the office that wrote it: while locked they
// answer {"column", "state": "locked"} with no value; another office's
// answer {"column", "state": "restricted"}, never a value, locked or not.
// The page reads, and writes nothing (directory entries are no victim's
// data: no access-log entry, as the CLI's lists).
#include <string>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "node/console/api.h"
#include "node/ops/directory.h"
#include "text/text.h"

namespace fieldsync::node::console {
namespace {

using State = OpenedField::State;

Json FieldJson(const std::string& column, const std::string& text, State state) {
  Json one = {{"column", column}};
  if (state == State::kClear || state == State::kOpened) {
    one["value"] = Printable(text);  // text from other offices, as the CLI prints it
  } else {
    one["state"] = state == State::kLocked ? "locked" : "restricted";
  }
  return one;
}

ApiReply Organisations(ConsoleOffice& o, const std::string& q) {
  auto orgs = ops::ListOrgs(*o.office);
  if (!orgs.ok()) return ErrorReply(orgs.status(), !o.keys->unlocked());
  Json entries = Json::array();
  for (const ops::OrgLine& org : *orgs) {
    if (!q.empty() &&
        !MatchesFolded(FoldForSearch(org.name + " " + org.kind + " " + org.province), q)) {
      continue;
    }
    entries.push_back({{"id", org.id},
                       {"fields", Json::array({FieldJson("name", org.name, State::kClear),
                                               FieldJson("kind", org.kind, State::kClear),
                                               FieldJson("province", org.province,
                                                         State::kClear)})}});
  }
  ApiReply out;
  out.body = {{"kind", "organisations"},
              {"columns", Json::array({"name", "kind", "province"})},
              {"entries", entries},
              {"masked", false}};
  return out;
}

}  // namespace

ApiReply Api::DirectoryPage(ConsoleOffice& o, const ApiRequest& r) {
  const std::string kind = r.Param("kind");
  std::string q;
  if (!r.Param("q").empty()) {
    auto typed = NormalizeInput(r.Param("q"), "the search text");
    if (!typed.ok()) {
      ApiReply e = ErrorKey(400, "err.invalid", typed.status());
      e.body["field"] = "q";
      return e;
    }
    q = *typed;
  }
  if (kind == "organisations") return Organisations(o, q);
  if (kind != "contacts" && kind != "services") {
    ApiReply e = ErrorKey(400, "err.invalid", "kind: organisations, contacts or services");
    e.body["field"] = "kind";
    return e;
  }
  const ops::Directory& d = kind == "contacts" ? ops::Contacts() : ops::Services();
  auto list = ops::ListEntries(*o.office, d, q);
  if (!list.ok()) return ErrorReply(list.status(), !o.keys->unlocked());
  Json entries = Json::array();
  for (const ops::EntryLine& e : list->entries) {
    Json fields = Json::array();
    for (const ops::ShownField& f : e.shown) fields.push_back(FieldJson(f.column, f.text, f.state));
    entries.push_back({{"id", e.id.ToString()},
                       {"org_id", e.org.empty() ? "" : e.org_id.ToString()},
                       {"org", Printable(e.org)},
                       {"fields", std::move(fields)}});
  }
  ApiReply out;
  out.body = {{"kind", kind}, {"columns", d.list_columns}, {"entries", entries},
              {"masked", list->masked}};
  return out;
}

}  // namespace fieldsync::node::console
