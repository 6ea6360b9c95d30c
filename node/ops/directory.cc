#include "node/ops/directory.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "node/ops/resolve.h"
#include "node/ops/values.h"
#include "text/text.h"

namespace fieldsync::node::ops {
namespace {

const std::string* Typed(const TypedColumns& columns, std::string_view column) {
  for (const auto& [col, text] : columns) {
    if (col == column) return &text;
  }
  return nullptr;
}

bool Given(const TypedColumns& columns, std::string_view column) {
  const std::string* t = Typed(columns, column);
  return t != nullptr && !t->empty();
}

}  // namespace

absl::StatusOr<AddedOrg> AddOrg(const Office& o, const NewOrg& in) {
  if (in.name.empty()) return IncompleteRequest("org add needs the NAME");
  if (!Given(in.columns, "kind")) return IncompleteRequest("org add needs --kind KIND");
  const TableDef& t = o.Table("organisations");
  FS_ASSIGN_OR_RETURN(Value name, ParseColumnValue(o, t, *t.FindColumn("name"), in.name));
  Fields f = {{"name", name}};
  FS_RETURN_IF_ERROR(ParseTypedColumns(o, t, in.columns, &f));
  if (auto same = ResolveOrg(o, ShowValue(name)); same.ok()) {
    auto row = o.Get("organisations", *same);
    if (row.ok() && *row &&
        FoldForSearch(o.Clear(**row, "organisations", "name")) == FoldForSearch(ShowValue(name))) {
      return absl::AlreadyExistsError(absl::StrCat(
          "organisation \"", ShowValue(name), "\" is already in the directory (id ",
          same->ToString(), "). Nothing was changed"));
    }
  }
  const RowId id = Id16::NewV7(o.clock);
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn().Create("organisations", id, f)));
  return AddedOrg{id, ShowValue(name)};
}

absl::StatusOr<std::vector<OrgLine>> ListOrgs(const Office& o) {
  FS_ASSIGN_OR_RETURN(std::vector<RowId> ids, o.replica.ListRows("organisations", false));
  std::vector<OrgLine> out;
  for (const RowId& id : ids) {
    FS_ASSIGN_OR_RETURN(auto row, o.Get("organisations", id));
    if (!row) continue;
    out.push_back({id.ToString(), o.Clear(*row, "organisations", "name"),
                   o.Clear(*row, "organisations", "kind"),
                   o.Clear(*row, "organisations", "province")});
  }
  return out;
}

const Directory& Contacts() {
  static const Directory* d = new Directory{
      "contacts", "contact",
      {"name", "position", "desk_phone", "mobile", "on_call_hours", "restriction"},
      {"name", "position", "email", "focal_point_provinces", "focal_point_case_kinds",
       "other_channels"}};
  return *d;
}

const Directory& Services() {
  static const Directory* d = new Directory{
      "services", "service",
      {"name", "kind", "provinces_covered", "phone", "hours", "address"},
      {"name", "kind", "provinces_covered", "eligibility", "procedure", "governing_documents",
       "address"}};
  return *d;
}

absl::StatusOr<RowId> AddEntry(const Office& o, const Directory& d, const NewEntry& in) {
  if (in.org_ref.empty() || !Given(in.columns, "name")) {
    return IncompleteRequest(absl::StrCat(d.noun, " add needs --org ORG and --name NAME"));
  }
  if (d.table == "contacts" && !Given(in.columns, "listing_consent_on")) {
    return IncompleteRequest("contact add needs --consent-on YYYY-MM-DD: a person is listed only "
                             "with their prior consent (plan II.1.2)");
  }
  if (d.table == "services" && !Given(in.columns, "kind")) {
    return IncompleteRequest("service add needs --kind KIND (shelter, medical, legal, "
                             "psychosocial, repatriation, vocational, other)");
  }
  FS_ASSIGN_OR_RETURN(RowId org, ResolveOrg(o, in.org_ref));
  Fields f = {{"organisation_id", IdValue(org)}};
  FS_RETURN_IF_ERROR(ParseTypedColumns(o, o.Table(d.table), in.columns, &f));
  if (d.table == "contacts") f.emplace_back("province", Value::Text(o.province));
  const RowId id = Id16::NewV7(o.clock);
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn().Create(d.table, id, f)));
  return id;
}

absl::StatusOr<EditedEntry> EditEntry(const Office& o, const Directory& d, const EntryEdit& in) {
  FS_ASSIGN_OR_RETURN(RowId id, Resolve(o, d.table, in.ref, d.noun));
  const TableDef& t = o.Table(d.table);
  const ColumnDef* col = t.FindColumn(in.field);
  if (col == nullptr || col->name == "province") {
    std::vector<std::string> names;
    for (const ColumnDef& cd : t.columns) {
      if (cd.name != "province") names.emplace_back(cd.name);
    }
    return MalformedValue(absl::StrCat(
        "no field \"", in.field, "\" in a ", d.noun, " that can be edited; the fields are: ",
        absl::StrJoin(names, ", ")));
  }
  FS_ASSIGN_OR_RETURN(Value v, ParseColumnValue(o, t, *col, in.value));
  const std::string column(col->name);
  FS_RETURN_IF_ERROR(o.Commit(LocalTxn().Set(d.table, id, {{column, v}})));
  return EditedEntry{id, column};
}

absl::StatusOr<EntryList> ListEntries(const Office& o, const Directory& d,
                                      const std::string& query) {
  std::string q;
  if (!query.empty()) {
    FS_ASSIGN_OR_RETURN(q, NormalizeInput(query, "the search text"));
  }
  FS_ASSIGN_OR_RETURN(std::vector<RowId> ids, o.replica.ListRows(d.table, false));
  EntryList out;
  for (const RowId& id : ids) {
    FS_ASSIGN_OR_RETURN(auto row, o.Get(d.table, id));
    if (!row) continue;
    EntryLine line{id, {}, {}, ""};
    for (const std::string& col : d.list_columns) {
      OpenedField f = o.Open(*row, d.table, col);
      out.masked |= f.state == State::kLocked;
      line.shown.push_back({col,
                            f.state == State::kClear || f.state == State::kOpened
                                ? ShowValue(f.value)
                            : f.state == State::kLocked ? "•••••• (sealed)"
                                                        : "(restricted)",
                            f.state});
    }
    if (auto org = IdOf(o.Stored(*row, d.table, "organisation_id"))) {
      line.org_id = *org;
      auto r = o.Get("organisations", *org);
      if (r.ok() && *r) line.org = o.Clear(**r, "organisations", "name");
    }
    if (!q.empty()) {
      std::string haystack;
      for (const std::string& col : d.search_columns) {
        OpenedField f = o.Open(*row, d.table, col);
        if (f.state == State::kClear || f.state == State::kOpened) {
          absl::StrAppend(&haystack, " ", FoldForSearch(ShowValue(f.value)));
        }
      }
      if (!line.org.empty()) absl::StrAppend(&haystack, " ", FoldForSearch(line.org));
      if (!MatchesFolded(haystack, q)) continue;
    }
    out.entries.push_back(std::move(line));
  }
  return out;
}

}  // namespace fieldsync::node::ops
