#include "node/ops/records.h"

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "node/ops/resolve.h"
#include "node/ops/values.h"
#include "store/row_case.h"

namespace fieldsync::node::ops {

absl::StatusOr<const TableDef*> RecordTable(const Office& o, const std::string& table) {
  const TableDef* t = o.replica.schema().FindTable(table);
  if (t == nullptr) {
    return MalformedValue(
        absl::StrCat("no table \"", table, "\"; the tables are listed in docs/SCHEMA.md"));
  }
  return t;
}

absl::StatusOr<Record> ReadRecord(const Office& o, const std::string& table, const RowId& id,
                                  Access access) {
  FS_ASSIGN_OR_RETURN(const TableDef* t, RecordTable(o, table));
  FS_ASSIGN_OR_RETURN(std::optional<Row> row, o.Get(table, id));
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("no ", table, " record ", id.ToString(), " on this node"));
  }
  Record out;
  out.table = table;
  out.id = id;
  out.live = row->live;
  std::vector<std::string> opened;
  for (size_t i = 0; i < t->columns.size(); ++i) {
    const Value& stored = row->values[i];
    if (stored.is_null()) continue;
    std::optional<Version> v;
    if (row->versions[i]) v = row->versions[i]->version;
    const std::string col(t->columns[i].name);
    OpenedField f = o.keys.Read(table, id, col, stored, v);
    // A sealed absent value (schema version 4) is shown as absent.
    if (f.state == State::kOpened && f.value.is_null()) continue;
    out.masked |= f.state == State::kLocked;
    if (f.state == State::kOpened) opened.push_back(absl::StrCat(table, ".", col));
    out.fields.push_back({col, std::move(f)});
  }
  // Opening a case's sealed fields is recorded before they are shown.
  if (!opened.empty()) {
    FS_ASSIGN_OR_RETURN(std::optional<RowId> case_id, CaseOfRecord(o.replica, table, *row));
    if (case_id) {
      FS_RETURN_IF_ERROR(o.AuditMany({{*case_id, opened}}, std::string(AccessAction(access))));
    }
  }
  return out;
}

namespace {

// The case `ref` names, for an erasure, which cannot be undone: its whole
// id or its exact code -- never the start of an id, which the other
// commands take.
absl::StatusOr<RowId> CaseToErase(const Office& o, const std::string& ref) {
  if (absl::StatusOr<RowId> id = Id16::Parse(ref, "case id"); id.ok()) return *id;
  FS_ASSIGN_OR_RETURN(std::vector<RowId> by_code,
                      o.replica.RowsWhere("cases", "case_code",
                                          Value::Text(absl::AsciiStrToUpper(ref)),
                                          /*include_deleted=*/true));
  if (by_code.size() == 1) return by_code.front();
  return absl::NotFoundError(absl::StrCat(
      "no case ", ref, " on this node (give the case code as `fieldnode case list` shows it, "
      "or the case id); nothing was changed"));
}

}  // namespace

absl::StatusOr<Erasure> EraseCase(const Office& o, const std::string& ref) {
  FS_ASSIGN_OR_RETURN(RowId id, CaseToErase(o, ref));
  FS_RETURN_IF_ERROR(o.RequireUnlocked("erasure"));
  FS_ASSIGN_OR_RETURN(std::optional<Row> row, o.Get("cases", id));
  if (!row) {
    return absl::NotFoundError(absl::StrCat("no case ", id.ToString(), " on this node"));
  }
  const Value& owner = o.Stored(*row, "cases", "province");
  if (owner != Value::Text(o.keys.province())) {
    return absl::PermissionDeniedError(absl::StrCat(
        "case ", id.ToString(), " belongs to office ", ShowValue(owner),
        "; only the owning office may erase it. Nothing was changed"));
  }
  std::vector<RowId> rings{id};
  // Each referral's letter (reason, decline reason) has its own key ring
  // (schema version 4): erased with the case.
  {
    FS_ASSIGN_OR_RETURN(std::vector<RowId> refs,
                        o.replica.ListRows("referrals", /*include_deleted=*/true));
    const TableDef& rt = o.Table("referrals");
    const size_t case_col = static_cast<size_t>(rt.ColumnIndex(rt.case_relation.column));
    for (const RowId& r : refs) {
      FS_ASSIGN_OR_RETURN(std::optional<Row> rr, o.Get("referrals", r));
      if (rr && rr->values[case_col] == Value::Bytes(std::string(id.view()))) rings.push_back(r);
    }
  }
  Erasure out;
  out.case_id = id;
  const Value& person = o.Stored(*row, "cases", "person_id");
  if (person.kind() == Value::Kind::kBytes && person.str().size() == 16) {
    out.has_person = true;
    const RowId pid = *Id16::FromBytes(person.str(), "person id");
    // The person's identity goes too, unless another live case names them.
    FS_ASSIGN_OR_RETURN(out.person_other_cases, o.keys.OtherLiveCasesOf(pid, id));
    if (out.person_other_cases == 0) {
      rings.push_back(pid);
      out.person_erased = true;
    }
  }
  FS_RETURN_IF_ERROR(o.keys.Erase(rings));
  return out;
}

}  // namespace fieldsync::node::ops
