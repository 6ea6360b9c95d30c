#include "schema/relations.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "change/referral_rules.h"

namespace fieldsync {
namespace {

bool Matches(const UrgentWhen& rule, const Value& v) {
  if (rule.value.empty()) return !v.is_null();
  return v.kind() == Value::Kind::kText && v.str() == rule.value;
}

bool UrgentOnColumn(const TableDef& t, std::string_view column, const Value& v) {
  return std::any_of(t.urgent_when.begin(), t.urgent_when.end(), [&](const UrgentWhen& rule) {
    return rule.column == column && Matches(rule, v);
  });
}

absl::Status Bad(const TableDef& t, std::string_view what) {
  return absl::InternalError(absl::StrCat("schema: table ", AV(t.name), " ", AV(what)));
}

bool ClearText(const ColumnDef* c) {
  return c != nullptr && c->type == ColumnType::kText && c->sensitivity == Sensitivity::kClear;
}

// The owner and the granting column of `t` as its relation to its case
// allows them.
absl::Status CheckOwner(const TableDef& t) {
  const OwnerRelation& own = t.owner;
  const CaseLink link = t.case_relation.link;
  if (own.link == OwnerLink::kColumn) {
    if (!ClearText(t.FindColumn(own.column))) {
      return Bad(t, absl::StrCat("is owned by the office its ", AV(own.column),
                                 " names, which is not a clear text column"));
    }
  } else if (!own.column.empty()) {
    return Bad(t, "names an owner column it does not use");
  }
  if (own.link == OwnerLink::kCase && link != CaseLink::kColumn) {
    return Bad(t, "is owned by its case's owner, but names no case by a column");
  }
  if (own.listed && (own.link != OwnerLink::kColumn || link != CaseLink::kNone)) {
    return Bad(t, "is listed to every office, but is not an office's table of no case");
  }
  if (!t.grants_case_to.empty() &&
      (link != CaseLink::kColumn || !ClearText(t.FindColumn(t.grants_case_to)))) {
    return Bad(t, absl::StrCat("grants its case to the office its ", AV(t.grants_case_to),
                               " names, which is not a clear text column of a case's row"));
  }
  return absl::OkStatus();
}

}  // namespace

const TableDef* CasesTable(const Schema& schema) {
  for (const TableDef& t : schema.tables()) {
    if (t.case_relation.link == CaseLink::kSelf) return &t;
  }
  return nullptr;
}

absl::StatusOr<CaseRelation> CaseRelationOf(const Schema& schema, std::string_view table) {
  const TableDef* t = schema.FindTable(table);
  if (t == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table \"", AV(table), "\" is not in schema version ", schema.version(),
        ": a row of it belongs to no case this replica knows"));
  }
  return t->case_relation;
}

absl::StatusOr<RowCase> CaseOfRow(const Schema& schema, std::string_view table, const RowId& row,
                                  const ColumnValue& value) {
  FS_ASSIGN_OR_RETURN(const CaseRelation rel, CaseRelationOf(schema, table));
  RowCase out;
  switch (rel.link) {
    case CaseLink::kNone:
      return out;
    case CaseLink::kSelf:
      out.kind = RowCase::Kind::kCase;
      out.case_id = row;
      return out;
    case CaseLink::kNamedBy:
      out.kind = RowCase::Kind::kNamedBy;
      out.naming_column = rel.column;
      return out;
    case CaseLink::kColumn:
      break;
  }
  const Value* v = value(rel.column);
  if (v == nullptr || v->is_null()) return out;
  if (v->kind() != Value::Kind::kBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        AV(table), " row ", row.ToString(), ": its case (", AV(rel.column),
        ") is not an id"));
  }
  FS_ASSIGN_OR_RETURN(out.case_id, Id16::FromBytes(v->str(), "case id"));
  out.kind = RowCase::Kind::kCase;
  return out;
}

absl::StatusOr<OwnerRelation> OwnerOf(const Schema& schema, std::string_view table) {
  const TableDef* t = schema.FindTable(table);
  if (t == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table \"", AV(table), "\" is not in schema version ", schema.version(),
        ": a row of it belongs to no office this replica knows"));
  }
  return t->owner;
}

bool IsShared(const Schema& schema, std::string_view table) {
  const TableDef* t = schema.FindTable(table);
  return t != nullptr && t->owner.link == OwnerLink::kShared;
}

std::vector<std::string> KeyRingTables(const Schema& schema) {
  std::vector<std::string> out;
  for (const TableDef& t : schema.tables()) {
    if (std::any_of(t.columns.begin(), t.columns.end(), [](const ColumnDef& c) {
          return c.sensitivity != Sensitivity::kClear;
        })) {
      out.emplace_back(t.name);
    }
  }
  return out;
}

bool IsUrgentWrite(const Schema& schema, std::string_view table, std::string_view column,
                   const Value& value) {
  const TableDef* t = schema.FindTable(table);
  if (t == nullptr || t->urgent_when.empty()) return false;
  if (UrgentOnColumn(*t, column, value)) return true;
  // A column the urgent sign is derived from: its coarse copy decides.
  for (const ColumnDef& derived : t->columns) {
    if (!derived.derived_from.empty() && derived.derived_from == column &&
        UrgentOnColumn(*t, derived.name, CoarseValue(derived, value))) {
      return true;
    }
  }
  return false;
}

bool IsRestricted(const Value& value) {
  return value.kind() == Value::Kind::kText && value.str() == kRestrictedValue;
}

absl::Status CheckRelations(const Schema& schema) {
  const TableDef* cases = CasesTable(schema);
  int selves = 0;
  for (const TableDef& t : schema.tables()) selves += t.case_relation.link == CaseLink::kSelf;
  if (selves > 1) return absl::InternalError("schema: more than one table is the cases'");
  for (const TableDef& t : schema.tables()) {
    const CaseRelation& rel = t.case_relation;
    switch (rel.link) {
      case CaseLink::kNone:
      case CaseLink::kSelf:
        if (!rel.column.empty()) return Bad(t, "names a case column it does not use");
        break;
      case CaseLink::kColumn: {
        const ColumnDef* c = t.FindColumn(rel.column);
        if (c == nullptr || c->type != ColumnType::kId || c->sensitivity != Sensitivity::kClear) {
          return Bad(t, absl::StrCat("names its case by ", AV(rel.column),
                                     ", which is not a clear id column"));
        }
        if (cases == nullptr) return Bad(t, "names a case, but no table is the cases'");
        break;
      }
      case CaseLink::kNamedBy: {
        const ColumnDef* c = cases == nullptr ? nullptr : cases->FindColumn(rel.column);
        if (c == nullptr || c->type != ColumnType::kId || c->sensitivity != Sensitivity::kClear) {
          return Bad(t, absl::StrCat("is named by cases.", AV(rel.column),
                                     ", which is not a clear id column of the cases' table"));
        }
        break;
      }
    }
    FS_RETURN_IF_ERROR(CheckOwner(t));
    for (const UrgentWhen& rule : t.urgent_when) {
      const ColumnDef* c = t.FindColumn(rule.column);
      if (c == nullptr || c->sensitivity != Sensitivity::kClear) {
        return Bad(t, absl::StrCat("is urgent on ", AV(rule.column),
                                   ", which is not a clear column"));
      }
      if (!rule.value.empty() &&
          std::find(c->allowed.begin(), c->allowed.end(), rule.value) == c->allowed.end()) {
        return Bad(t, absl::StrCat("is urgent on ", AV(rule.column), " = ", AV(rule.value),
                                   ", which the column does not allow"));
      }
    }
    if (!t.restriction.empty()) {
      const ColumnDef* c = t.FindColumn(t.restriction);
      if (c == nullptr || c->type != ColumnType::kEnum || c->sensitivity != Sensitivity::kClear ||
          std::find(c->allowed.begin(), c->allowed.end(), kRestrictedValue) == c->allowed.end()) {
        return Bad(t, absl::StrCat("is restricted by ", AV(t.restriction),
                                   ", which is not a clear enum allowing \"",
                                   AV(kRestrictedValue), "\""));
      }
    }
    for (const ColumnDef& c : t.columns) {
      if (c.sensitivity == Sensitivity::kSensitiveWhenRestricted && t.restriction.empty()) {
        return Bad(t, absl::StrCat("seals ", AV(c.name),
                                   " when restricted, but declares no restriction column"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RowId> KeyRingOfField(
    const Schema& schema, std::string_view table, const RowId& row, std::string_view column,
    const std::function<absl::StatusOr<Value>(std::string_view column)>& row_value) {
  if (table == "referrals" && referral::SealedUnderReferral(column)) return row;
  FS_ASSIGN_OR_RETURN(const CaseRelation rel, CaseRelationOf(schema, table));
  if (rel.link == CaseLink::kColumn) {
    FS_ASSIGN_OR_RETURN(Value c, row_value(rel.column));
    if (c.kind() != Value::Kind::kBytes || c.str().size() != RowId::kSize) {
      return absl::FailedPreconditionError(absl::StrCat(
          AV(table), " row ", row.ToString(),
          " names no case, so its sensitive fields have no key to be sealed under; set case_id "
          "in the same write"));
    }
    std::array<uint8_t, RowId::kSize> b{};
    std::copy(c.str().begin(), c.str().end(), b.begin());
    return RowId(b);
  }
  return row;
}

}  // namespace fieldsync
