#include "node/ops/resolve.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "node/ops/cases.h"
#include "node/ops/messages.h"
#include "node/ops/values.h"
#include "text/text.h"

namespace fieldsync::node::ops {

absl::StatusOr<RowId> Resolve(const Office& o, std::string_view table, const std::string& ref,
                              std::string_view what) {
  if (ref.empty()) {
    return Coded(IncompleteRequest(absl::StrCat("give the ", AV(what))), Msg::kRefNeeded,
                 {{"what", std::string(what)}});
  }
  const bool is_cases = table == "cases";
  // CODE/XXXXXX: a code two cases hold, told apart by the end of the id
  // (ListCases shows it so: node/ops/cases.h, CaseCodeShown).
  if (const size_t slash = ref.rfind('/'); is_cases && slash != std::string::npos) {
    const std::string code = ref.substr(0, slash);
    FS_ASSIGN_OR_RETURN(std::vector<RowId> held,
                        o.replica.FindLiveRows("cases", "", "case_code", code, 64));
    std::vector<RowId> told;
    for (const RowId& id : held) {
      if (absl::EqualsIgnoreCase(CaseCodeShown(code, id).substr(code.size()), ref.substr(slash))) {
        told.push_back(id);
      }
    }
    if (told.size() == 1) return told.front();
    return Coded(absl::NotFoundError(absl::StrCat("no case \"", ref,
                                                  "\" on this node: `fieldnode "
                                                  "case list` shows the codes")),
                 Msg::kRefNotFound, {{"what", "case"}, {"ref", Printable(ref)}});
  }
  std::string hex;
  for (char ch : absl::AsciiStrToUpper(ref)) {
    if (ch != '-') hex.push_back(ch);
  }
  const bool hexlike = hex.size() >= 4 && hex.size() <= 32 &&
                       hex.find_first_not_of("0123456789ABCDEF") == std::string::npos;
  // Live rows whose id starts with the digits given, or (cases) whose code
  // is the one given, in any letter case.
  FS_ASSIGN_OR_RETURN(std::vector<RowId> matches,
                      o.replica.FindLiveRows(std::string(table), hexlike ? hex : std::string(),
                                             is_cases ? "case_code" : "", ref, 3));
  if (matches.size() == 1) return matches.front();
  if (matches.empty()) {
    return Coded(
        absl::NotFoundError(absl::StrCat(
            "no ", AV(what), " \"", ref, "\" on this node",
            is_cases ? ": give its case code (e.g. LC-2611-K3QX7) or id; `fieldnode case list` "
                       "shows them"
                     : absl::StrCat(": `fieldnode ", AV(what), " list` shows them"))),
        Msg::kRefNotFound, {{"what", std::string(what)}, {"ref", Printable(ref)}});
  }
  if (is_cases) {
    // Two laptops of the office drew one code offline: each told apart.
    FS_ASSIGN_OR_RETURN(std::vector<RowId> held,
                        o.replica.FindLiveRows("cases", "", "case_code", ref, 64));
    if (held.size() > 1) {
      std::vector<std::string> shown;
      for (const RowId& id : held) {
        FS_ASSIGN_OR_RETURN(auto row, o.Get("cases", id));
        if (row) shown.push_back(CaseCodeShown(o.Clear(*row, "cases", "case_code"), id));
      }
      std::sort(shown.begin(), shown.end());
      return Coded(
          absl::InvalidArgumentError(absl::StrCat("\"", ref, "\" is the code of ", held.size(),
                                                  " cases (laptops of the office made it "
                                                  "offline): give one of ",
                                                  absl::StrJoin(shown, ", "))),
          Msg::kRefSharedCode, {{"ref", Printable(ref)}, {"choices", absl::StrJoin(shown, ", ")}});
    }
  }
  return Coded(absl::InvalidArgumentError(absl::StrCat("\"", ref, "\" matches several ", AV(table),
                                                       ": give more of the id")),
               Msg::kRefSeveral, {{"ref", Printable(ref)}});
}

absl::StatusOr<RowId> ResolveByName(const Office& o, const std::string& table,
                                    const std::string& ref, const std::string& noun) {
  auto byid = Resolve(o, table, ref, noun);
  if (byid.ok()) return byid;
  auto name = NormalizeInput(ref, absl::StrCat("the ", noun));
  if (!name.ok()) return name.status();
  FS_ASSIGN_OR_RETURN(auto ids, o.replica.ListRows(table, false));
  std::vector<RowId> exact, partial;
  for (const RowId& id : ids) {
    FS_ASSIGN_OR_RETURN(auto row, o.Get(table, id));
    if (!row) continue;
    // A restricted service's name is sealed (schema version 4): matched
    // where it opens, never by its sealed bytes.
    const OpenedField f = o.Open(*row, table, "name");
    if (f.state != State::kClear && f.state != State::kOpened) continue;
    const std::string n = ShowValue(f.value);
    if (FoldForSearch(n) == FoldForSearch(*name)) exact.push_back(id);
    else if (MatchesFolded(FoldForSearch(n), *name)) partial.push_back(id);
  }
  if (exact.size() == 1) return exact.front();
  if (exact.empty() && partial.size() == 1) return partial.front();
  if (exact.empty() && partial.empty()) {
    return Coded(absl::NotFoundError(
                     absl::StrCat("no ", noun == "org" ? "organisation" : noun, " \"", ref,
                                  "\" in the directory: "
                                  "`fieldnode ",
                                  noun, " list` shows them, `fieldnode ", noun, " add` adds one")),
                 Msg::kRefNotFound, {{"what", noun}, {"ref", Printable(ref)}});
  }
  return Coded(
      absl::InvalidArgumentError(absl::StrCat("\"", ref, "\" names several ", table,
                                              ": give its id (fieldnode ", noun, " list)")),
      Msg::kRefSeveral, {{"ref", Printable(ref)}});
}

absl::StatusOr<RowId> ResolveOrg(const Office& o, const std::string& ref) {
  return ResolveByName(o, "organisations", ref, "org");
}

absl::StatusOr<std::pair<std::string, RowId>> ResolveAnyRow(const Office& o,
                                                            const std::string& ref) {
  if (auto k = Resolve(o, "cases", ref, "case"); k.ok()) {
    return std::make_pair(std::string("cases"), *k);
  }
  for (const TableDef& t : o.replica.schema().tables()) {
    if (t.name == "cases") continue;
    auto id = Resolve(o, t.name, ref, "record");
    if (id.ok()) return std::make_pair(std::string(t.name), *id);
  }
  return Coded(absl::NotFoundError(absl::StrCat("no record \"", ref,
                                                "\" on this node: give a case "
                                                "code or an id from fieldnode conflict list")),
               Msg::kRefNotFound, {{"what", "record"}, {"ref", Printable(ref)}});
}

}  // namespace fieldsync::node::ops
